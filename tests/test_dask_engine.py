"""The Dask engine on a real LocalCluster (2 worker processes, 1 thread each, 127.0.0.1 only):
the same stories as in-process, a worker killed mid-run costs a retry and no article, the
command line and the batch jobs."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from distributed import Client, LocalCluster

from storylink.batch import embed, score_pairs_table
from storylink.compare import Comparer
from storylink.dask_engine import local_cluster
from storylink.demo import examples_path
from storylink.evaluate import load_pairs
from storylink.executor import Engine, make_executor
from storylink.read import read_many
from storylink.scorer import DIMENSIONS
from storylink.stories import StoryStore

from .conftest import SHARED, need
from .test_cli import storylink


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with local_cluster(2) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def dask(cluster: LocalCluster) -> Engine:
    return Engine("dask", scheduler=cluster.scheduler_address)


def ingested(path: Path, sources: list[Path], engine: Engine) -> dict[str, int]:
    """Article id → story id after ingesting `sources` into a new store at `path`."""
    with StoryStore(path, engine=engine) as stories:
        report = stories.ingest(sources)
        assert report.skipped == []
        ids = [a.id for a in read_many(sources).articles]
        assert report.added == len(set(ids))
        return stories.story_of(ids)


@pytest.fixture(scope="module")
def in_process(tmp_path_factory: pytest.TempPathFactory) -> dict[str, int]:
    return ingested(tmp_path_factory.mktemp("local") / "news.db", [examples_path()], Engine())


def test_dask_engine_gives_the_same_stories_as_in_process(
    in_process: dict[str, int], dask: Engine, tmp_path: Path
) -> None:
    found = ingested(tmp_path / "news.db", [examples_path()], dask)
    assert found == in_process
    assert len(set(found.values())) == 5  # the examples' five stories


def test_dask_engine_same_stories_with_the_shared_seeds(dask: Engine, tmp_path: Path) -> None:
    sources = [examples_path(), need(SHARED / "seeds")]
    assert ingested(tmp_path / "dask.db", sources, dask) == ingested(
        tmp_path / "local.db", sources, Engine()
    )


def test_a_worker_killed_mid_run_costs_a_retry_not_an_article(
    cluster: LocalCluster, dask: Engine, in_process: dict[str, int], tmp_path: Path
) -> None:
    """SIGKILL one worker process while tasks are outstanding: its tasks run again on the
    other worker (and on the one the nanny starts instead), every article is stored in the
    story it gets in-process."""
    with Client(cluster, set_as_default=False) as client:
        before = client.run(os.getpid)
        killed: list[tuple[int, int, int]] = []  # (tasks it was running, done, total)

        def kill_once(done: int, total: int) -> None:
            if killed:
                return
            address, running = max(client.processing().items(), key=lambda w: len(w[1]))
            if running:  # the busiest worker, while it has tasks
                os.kill(before[address], signal.SIGKILL)
                killed.append((len(running), done, total))

        path = tmp_path / "news.db"
        with StoryStore(path, engine=dask, batch_size=2) as stories:
            report = stories.ingest([examples_path()], on_progress=kill_once)
            found = stories.story_of(list(in_process))
        running, done, total = killed[0]  # a real loss: tasks on it, the run not done
        assert running >= 1 and done < total
        assert report.added == total == 22 and report.skipped == []
        assert found == in_process
        client.wait_for_workers(2, timeout=120)
        assert set(client.run(os.getpid).values()) != set(before.values())  # really replaced


def test_ingest_engine_dask_on_the_command_line(in_process: dict[str, int], tmp_path: Path) -> None:
    """`storylink ingest … --engine dask` starts its own LocalCluster (no --scheduler)."""
    db = tmp_path / "news.db"
    args = ["ingest", str(examples_path()), "--db", str(db), "--engine", "dask", "--workers", "2"]
    done = storylink(*args, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["added"] == 22
    with StoryStore(db) as stories:
        assert stories.story_of(list(in_process)) == in_process


def test_an_unreachable_scheduler_is_one_clear_line(tmp_path: Path) -> None:
    db = tmp_path / "news.db"
    done = storylink(
        "ingest", str(examples_path()), "--db", str(db), "--scheduler", "tcp://127.0.0.1:9"
    )
    assert done.returncode == 2
    [line] = [line for line in done.stderr.splitlines() if "error" in line.lower()]
    assert line.startswith("error: cannot reach the Dask scheduler at tcp://127.0.0.1:9: ")
    assert "Traceback" not in done.stderr


def test_the_local_cluster_listens_on_loopback_only(cluster: LocalCluster) -> None:
    with Client(cluster, set_as_default=False) as client:
        addresses = [cluster.scheduler_address, *client.scheduler_info()["workers"]]
    assert len(addresses) == 3
    assert all(address.startswith("tcp://127.0.0.1:") for address in addresses), addresses
    here = psutil.Process()  # the scheduler runs in this process, nannies and workers below it
    listening = [
        connection.laddr
        for process in (here, *here.children(recursive=True))
        for connection in process.net_connections(kind="inet")
        if connection.status == psutil.CONN_LISTEN
    ]
    assert len(listening) >= 3 and all(a.ip == "127.0.0.1" for a in listening), listening


def test_results_come_back_in_input_order(dask: Engine) -> None:
    executor = make_executor(dask)
    try:
        assert list(executor.map(abs, range(-300, 0))) == list(range(300, 0, -1))
    finally:
        executor.close()


# ------------------------------------------------------------------ batch jobs


@pytest.fixture(scope="module")
def pairs_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Unlabelled pairs of example articles in the layout `storylink eval` reads, and one
    pair whose first side has no language to tell."""
    rows = [json.loads(line) for line in examples_path().read_text("utf-8").splitlines() if line]
    lines = []
    for a, b in [(0, 2), (0, 4), (1, 5), (3, 9), (10, 13), (17, 20)]:
        pair: dict[str, object] = {"pair_id": f"{a}-{b}"}
        for n, row in ((1, rows[a]), (2, rows[b])):
            pair |= {f"title{n}": row["title"], f"text{n}": row["text"], f"lang{n}": row["lang"]}
        lines.append(json.dumps(pair))
    digits = {"pair_id": "digits", "text1": "12345 678 90", "text2": rows[0]["text"]}
    lines.append(json.dumps(digits))
    path = tmp_path_factory.mktemp("pairs") / "pairs.jsonl"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def stacked(table: pa.Table, column: str) -> np.ndarray:
    """The non-null vectors of a column, one row each."""
    return np.array([v for v in table.column(column).to_pylist() if v is not None])


def test_embed_gives_the_same_vectors_on_both_engines(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    local, remote = tmp_path / "local.parquet", tmp_path / "dask.parquet"
    report = embed([examples_path(), examples_path()], local)
    assert (report.read, report.written, report.duplicates, report.skipped) == (44, 22, 22, [])
    scheduler = cluster.scheduler_address
    done = storylink("embed", str(examples_path()), "--out", str(remote), "--scheduler", scheduler)
    assert done.returncode == 0, done.stderr
    assert "22 written" in done.stdout
    a, b = pq.read_table(local), pq.read_table(remote)
    assert a.schema == b.schema
    assert a.select(["id", "origin", "language"]) == b.select(["id", "origin", "language"])
    for encoder in ("use-m3", "e5-small"):
        assert a.column(encoder).is_null() == b.column(encoder).is_null()
        np.testing.assert_allclose(stacked(a, encoder), stacked(b, encoder), atol=1e-5)
    assert a.column("e5-small").null_count == 19  # Greek, Persian, Hebrew: read by e5 only
    norms = np.linalg.norm(stacked(a, "use-m3"), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-4)


def test_score_pairs_gives_the_same_scores_on_both_engines(
    cluster: LocalCluster, dask: Engine, pairs_file: Path, tmp_path: Path
) -> None:
    pairs = load_pairs(pairs_file, gold=False)
    local = score_pairs_table(pairs, Comparer(), Engine())
    out = tmp_path / "scores.parquet"
    scheduler = cluster.scheduler_address
    done = storylink("score-pairs", str(pairs_file), "--out", str(out), "--scheduler", scheduler)
    assert done.returncode == 1, done.stderr  # one pair could not be scored
    assert "7 pairs, 6 scored" in done.stdout
    assert "not scored digits: " in done.stderr and "cannot tell its language" in done.stderr
    remote = pq.read_table(out)
    assert remote.column_names == [
        *("pair_id", "id_a", "id_b", "language_a", "language_b", *DIMENSIONS),
        *("probability", "same_story", "error"),
    ]
    for name in ("pair_id", "id_a", "id_b", "language_a", "language_b", "same_story", "error"):
        assert local.column(name) == remote.column(name), name
    for name in (*DIMENSIONS, "probability"):
        mine, theirs = local.column(name).to_pylist(), remote.column(name).to_pylist()
        assert mine[-1] is None and theirs[-1] is None
        np.testing.assert_allclose(mine[:-1], theirs[:-1], atol=1e-6)
    assert local.column("same_story").to_pylist()[:3] == [True, True, True]  # one story each


def test_eval_gives_the_same_figures_on_both_engines(
    cluster: LocalCluster, pairs_file: Path, tmp_path: Path
) -> None:
    """Pair scores and clustering of `storylink eval`, in-process and on the cluster."""
    rows = [json.loads(line) for line in pairs_file.read_text("utf-8").splitlines()][:-1]
    for row in rows:  # the first three pairs are one story each, the others not
        row["scores"] = {"overall": 1.0 if row["pair_id"] in ("0-2", "0-4", "1-5") else 4.0}
    labelled = tmp_path / "labelled.jsonl"
    labelled.write_text("".join(json.dumps(row) + "\n" for row in rows), "utf-8")
    local = storylink("eval", str(labelled), "--json")
    remote = storylink("eval", str(labelled), "--json", "--scheduler", cluster.scheduler_address)
    assert local.returncode == 0 and remote.returncode == 0, local.stderr + remote.stderr
    figures = json.loads(remote.stdout)
    assert figures == json.loads(local.stdout)
    assert figures["n_scored"] == 6 and figures["clustering"]["n_pairs"] == 6


def test_batch_jobs_say_what_is_wrong_with_their_input(tmp_path: Path) -> None:
    missing = storylink("score-pairs", str(tmp_path / "none.jsonl"), "--out", "x.parquet")
    assert missing.returncode == 2 and "none.jsonl" in missing.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"pair_id": "1", "text1": "a"}\n', "utf-8")
    malformed = storylink("score-pairs", str(bad), "--out", str(tmp_path / "s.parquet"))
    assert malformed.returncode == 2 and "bad.jsonl line 1: no text2 column" in malformed.stderr
    nowhere = storylink("embed", str(examples_path()), "--out", str(tmp_path / "no" / "v.parquet"))
    assert nowhere.returncode == 2 and "no such directory" in nowhere.stderr
    nothing = storylink("embed", str(tmp_path / "none.txt"), "--out", str(tmp_path / "v.parquet"))
    assert nothing.returncode == 2 and "no such file" in nothing.stderr
    assert not (tmp_path / "v.parquet").exists() and not (tmp_path / "s.parquet").exists()
