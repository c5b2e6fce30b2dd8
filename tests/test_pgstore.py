"""The PostgreSQL store (pgvector) on a real server (pgserver): the same stories as SQLite,
every command on `--db postgresql://…`, many writers at once, and the recall of its index."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import psycopg
import pytest

from storylink.demo import example_articles, examples_path
from storylink.doctor import check_server
from storylink.index import ShardedIndex
from storylink.pgstore import PgVectorIndex, PostgresStore
from storylink.stories import StoryStore

from .conftest import SHARED, serving
from .test_cli import storylink

DAY = 86_400.0
EVERY_ROW = 10**9  # ShardedIndex: search every month exactly


def inputs() -> list[str]:
    """The issue's inputs: the shipped examples' directory, and the shared seeds when
    ../shared is there."""
    seeds = SHARED / "seeds"
    return [str(examples_path().parent), *([str(seeds)] if seeds.is_dir() else [])]


def exported(db: str, out: Path) -> list[dict[str, object]]:
    result = storylink("export", str(out), "--db", db)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in out.read_text("utf-8").splitlines()]


def grouping(stories: list[dict[str, object]]) -> list[tuple[str, list[str]]]:
    """Each story as its headline article and its members' ids in timeline order."""
    return [
        (str(s["headline_article"]), [str(a["id"]) for a in s["timeline"]])  # type: ignore[attr-defined]
        for s in stories
    ]


def test_sqlite_and_postgres_give_the_same_stories(postgres_db: str, tmp_path: Path) -> None:
    sqlite_db = str(tmp_path / "s.db")
    for db in (sqlite_db, postgres_db):
        result = storylink("ingest", *inputs(), "--db", db, "--batch-size", "8")
        assert result.returncode == 0, result.stderr
    on_sqlite = exported(sqlite_db, tmp_path / "s.jsonl")
    on_postgres = exported(postgres_db, tmp_path / "p.jsonl")
    assert grouping(on_postgres) == grouping(on_sqlite)
    ids = [i for _, members in grouping(on_postgres) for i in members]
    assert len(ids) == len(set(ids)) >= 22  # every article once
    for a, b in zip(on_sqlite, on_postgres, strict=True):  # the same figures and names
        for key in ("id", "headline", "size", "languages", "sources", "entities", "places"):
            assert a[key] == b[key], key

    def read(*args: str) -> object:
        found = [storylink(*args, "--json", "--db", db) for db in (sqlite_db, postgres_db)]
        assert [r.returncode for r in found] == [0, 0], found[1].stderr
        return [json.loads(r.stdout) for r in found]

    listed = read("stories", "--largest", "--entity", "Izmir")
    assert [[s["id"] for s in found] for found in listed] == [[1], [1]]  # type: ignore[index, attr-defined]
    stories = read("story", "1")
    assert [s["timeline"] for s in stories] == [stories[0]["timeline"]] * 2  # type: ignore[index]
    hits = read("search", "earthquake in Turkey")
    assert hits[0] == hits[1] and hits[0][0]["story_id"] == 1  # type: ignore[index]
    related = read("related", "1")
    assert related[0] == related[1]  # type: ignore[index]
    with serving(postgres_db) as base:  # type: ignore[arg-type]
        served = httpx.get(f"{base}/stories", params={"order": "largest", "limit": 100}).json()
        health = httpx.get(f"{base}/health").json()
    assert [s["id"] for s in served["stories"]] == [s["id"] for s in on_postgres]
    assert health["articles"] == len(ids)
    doctor = storylink("doctor", "--db", postgres_db, "--json")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    report = json.loads(doctor.stdout)
    assert report["healthy"] and report["articles"] == len(ids) and "***" not in report["db"]


def test_a_recluster_on_postgres_gives_the_stories_of_the_ingest(postgres_db: str) -> None:
    assert storylink("ingest", str(examples_path()), "--db", postgres_db).returncode == 0
    before = PostgresStore(postgres_db)
    members = [(m.seq, m.story_id) for m in before.members()]
    before.close()
    result = storylink("recluster", "--db", postgres_db)
    assert result.returncode == 0, result.stderr
    after = PostgresStore(postgres_db)
    assert [(m.seq, m.story_id) for m in after.members()] == members
    after.close()


def test_a_postgres_store_writes_no_index_files(
    postgres_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database is the index, from an encoder's first article on."""
    monkeypatch.chdir(tmp_path)
    with StoryStore(postgres_db) as stories:
        stories.add([article for _, article in example_articles()[:4]])
        assert stories._indexes
        assert all(isinstance(i, PgVectorIndex) for i in stories._indexes.values())
    assert list(tmp_path.iterdir()) == []


def test_an_unreachable_server_or_one_without_pgvector_is_one_line(
    postgres_server: str, postgres_db: str
) -> None:
    gone = storylink("stories", "--db", "postgresql://nobody:secret@/storylink?host=/nonexistent")
    assert gone.returncode == 2
    assert "cannot connect to PostgreSQL" in gone.stderr and "Traceback" not in gone.stderr
    assert "secret" not in gone.stderr  # the password is not shown
    # a role that may not create extensions, in a database that has none yet: no pgvector
    with psycopg.connect(postgres_server, autocommit=True) as connection:
        connection.execute("DROP ROLE IF EXISTS plain")
        connection.execute("CREATE ROLE plain LOGIN")
    plain = postgres_db.replace("postgres:@", "plain:@", 1)
    missing = storylink("stories", "--db", plain)
    assert missing.returncode == 2, missing.stdout
    assert "pgvector" in missing.stderr and "Traceback" not in missing.stderr
    assert len(missing.stderr.strip().splitlines()) <= 3  # one line, wrapped by the terminal


def settled(db: str) -> tuple[int, int]:
    """(articles, stories) of a store that the doctor finds healthy: every article in exactly
    one story, story figures matching their members, no orphan rows."""
    report = check_server(db)
    assert report.error is None and not report.findings, report.to_dict()
    return report.articles, report.stories


def unique_articles() -> int:
    from storylink.read import read_many

    return len({a.id for a in read_many(inputs()).articles})


@pytest.mark.slow
def test_two_writers_at_once_lose_and_duplicate_nothing(postgres_db: str) -> None:
    """Two ingests started together on overlapping inputs (the examples in both)."""
    command = [sys.executable, "-m", "storylink.cli", "ingest", "--batch-size", "4"]
    writers = [
        subprocess.Popen(
            [*command, *sources, "--db", postgres_db, "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for sources in (inputs(), [str(examples_path())])
    ]
    reports = []
    for writer in writers:
        out, err = writer.communicate(timeout=900)
        assert writer.returncode == 0, err
        reports.append(json.loads(out))
    articles, _ = settled(postgres_db)
    assert articles == unique_articles()
    added = sum(r["added"] for r in reports)
    assert added == articles  # what one added the other counted as already there
    assert sum(r["duplicates"] for r in reports) == sum(r["read"] for r in reports) - added


@pytest.mark.slow
def test_a_writer_killed_mid_run_then_run_again_completes_the_set(postgres_db: str) -> None:
    command = [sys.executable, "-m", "storylink.cli", "ingest", *inputs(), "--db", postgres_db]
    writer = subprocess.Popen([*command, "--batch-size", "2"], stderr=subprocess.DEVNULL)
    store = PostgresStore(postgres_db)
    deadline = time.monotonic() + 600
    while store.count("articles") < 4 and writer.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    killed_at = store.count("articles")
    store.close()
    assert 4 <= killed_at < unique_articles()
    settled(postgres_db)  # whole batches or nothing
    again = storylink(*command[3:], "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["added"] == unique_articles() - killed_at
    assert settled(postgres_db)[0] == unique_articles()


def fill(store: PostgresStore, count: int, dimension: int = 64) -> ShardedIndex:
    """`count` rows of clustered unit vectors over two years straight into the store's
    vectors (articles of no story), and the same rows in a `ShardedIndex`."""
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(count // 20, dimension))
    vectors = centres[rng.integers(0, len(centres), count)] + 0.6 * rng.normal(
        size=(count, dimension)
    )
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    times = [1.7e9 + float(t) for t in rng.uniform(0, 730 * DAY, count)]
    index = ShardedIndex(dimension)
    with store._db:
        store.pg.cursor().executemany(
            "INSERT INTO articles VALUES (%s, %s, '', '', 'en', NULL, NULL, NULL, %s, '', "
            "'2026-01-01T00:00:00+00:00', 'use-m3', '')",
            [(seq, f"a{seq}", ts) for seq, ts in enumerate(times, 1)],
        )
        store.pg.cursor().executemany(
            "INSERT INTO vectors VALUES (%s, 'use-m3', true, %s, %s, NULL, '')",
            [(seq, ts, v) for seq, (ts, v) in enumerate(zip(times, vectors, strict=True), 1)],
        )
        for view in ("document", "title"):
            store._ensure_hnsw("use-m3", view, dimension)
    index.add(list(range(1, count + 1)), vectors, times)
    return index


def test_the_pgvector_index_finds_what_exact_search_finds(postgres_db: str) -> None:
    store = PostgresStore(postgres_db)
    exact = fill(store, 4_000)
    index = PgVectorIndex(store, "use-m3", "document")
    assert len(index) == 4_000 and index.max_label == 4_000
    rng = np.random.default_rng(5)
    recalls = []
    for seq in rng.integers(1, 4_001, 40).tolist():
        row = store.pg.execute(
            "SELECT document, published_ts FROM vectors WHERE seq = %s", (seq,), binary=True
        ).fetchone()
        vector, ts = row[0], row[1]
        window = (ts - 90 * DAY, ts + 90 * DAY)
        truth = exact.search(vector, 30, *window, exact_rows=EVERY_ROW)
        # up to 10k rows in the window: exact, the same neighbours and scores as ShardedIndex
        assert index.search(vector, 30, *window) == truth
        # forced onto HNSW (over-fetch, then the window): most of them
        approximate = index.search(vector, 30, *window, exact_rows=0)
        recalls.append(len({s for s, _ in approximate} & {s for s, _ in truth}) / len(truth))
        assert index.search(vector, 5, *window, before=seq) == exact.search(
            vector, 5, *window, before=seq, exact_rows=EVERY_ROW
        )
    assert float(np.mean(recalls)) >= 0.9, recalls
    # the background sample is ShardedIndex's too (search ranks hits against it)
    assert index.background(vector) == exact.background(vector)
    store.close()


@pytest.mark.slow
def test_postgres_with_the_dask_engine_gives_the_stories_of_sqlite_in_process(
    postgres_db: str, tmp_path: Path
) -> None:
    """The issue's `storylink ingest … --db postgresql://… --engine dask`: both scale-out
    pieces at once group the articles as one process on a SQLite file does."""
    sqlite_db = str(tmp_path / "s.db")
    local = storylink("ingest", *inputs(), "--db", sqlite_db)
    assert local.returncode == 0, local.stderr
    spread = storylink(
        "ingest", *inputs(), "--db", postgres_db, "--engine", "dask", "--workers", "2"
    )
    assert spread.returncode == 0, spread.stderr
    on_sqlite = exported(sqlite_db, tmp_path / "s.jsonl")
    on_postgres = exported(postgres_db, tmp_path / "p.jsonl")
    assert grouping(on_postgres) == grouping(on_sqlite)
    ids = [i for _, members in grouping(on_postgres) for i in members]
    assert len(ids) == len(set(ids)) >= 22
