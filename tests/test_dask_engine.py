"""The Dask engine on a real LocalCluster (2 worker processes, 1 thread each, 127.0.0.1 only):
the same stories as in-process, a worker killed mid-run costs a retry and no article, the
command line and the batch jobs."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed import Client, LocalCluster

from storylink.demo import examples_path
from storylink.executor import Engine, make_executor
from storylink.read import read_many
from storylink.stories import StoryStore

from .conftest import SHARED, need
from .test_cli import storylink


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
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
        killed: list[tuple[int, int]] = []

        def kill_once(done: int, total: int) -> None:
            if not killed:
                pid = next(iter(before.values()))
                os.kill(pid, signal.SIGKILL)
                killed.append((done, total))

        path = tmp_path / "news.db"
        with StoryStore(path, engine=dask, batch_size=2) as stories:
            report = stories.ingest([examples_path()], on_progress=kill_once)
            found = stories.story_of(list(in_process))
        done, total = killed[0]
        assert done < total  # killed with most of the run outstanding
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


def test_results_come_back_in_input_order(dask: Engine) -> None:
    executor = make_executor(dask)
    try:
        assert list(executor.map(abs, range(-300, 0))) == list(range(300, 0, -1))
    finally:
        executor.close()
