"""Faults, met by real `storylink` processes on real files: a full disk, a read-only database,
another writer holding the store, SIGKILL during `recluster`, damaged index files, a damaged
analysis row. Each ends in a clear message, and after a rerun nothing is lost or doubled."""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from storylink.compare import Comparer
from storylink.demo import examples_path
from storylink.doctor import check
from storylink.stories import StoryStore
from tests.test_doctor import copy_store, rows, snapshot, sql

FIRST = 8  # example articles in the store before a fault


def storylink(
    *args: str, env: dict[str, str] | None = None, **options: object
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "storylink", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
        **options,  # type: ignore[call-overload]
    )


def timed(what: str, *args: str, **options: object) -> subprocess.CompletedProcess[str]:
    """`storylink` run and timed: the figures in benchmarks/RESULTS.md ("Faults and doctor")."""
    started = time.monotonic()
    result = storylink(*args, **options)  # type: ignore[arg-type]
    print(f"[fault] {what}: {time.monotonic() - started:.1f} s, exit {result.returncode}")
    return result


@pytest.fixture(scope="module")
def partial_store(tmp_path_factory: pytest.TempPathFactory, doctor_comparer: Comparer) -> Path:
    """The first 8 example articles, ingested with the real pipeline."""
    folder = tmp_path_factory.mktemp("partial")
    first = folder / "first.jsonl"
    first.write_text("".join(examples_path().read_text("utf-8").splitlines(True)[:FIRST]))
    db = folder / "store" / "partial.db"
    db.parent.mkdir()
    with StoryStore(db, comparer=doctor_comparer) as stories:
        assert stories.ingest([first]).added == FIRST
    return db


@pytest.fixture
def new_article(tmp_path: Path) -> Path:
    path = tmp_path / "new.jsonl"
    text = (
        "Dockers in the port of Marseille returned to work on Monday after the strike ended, "
        "and the cranes of the container terminal moved boxes again."
    )
    path.write_text(json.dumps({"title": "Marseille dockers back at work", "text": text}) + "\n")
    return path


def groups(db: Path) -> set[frozenset[str]]:
    found: dict[int, set[str]] = {}
    for story, article in rows(
        db, "SELECT m.story_id, a.id FROM memberships m JOIN articles a ON a.seq = m.seq"
    ):
        found.setdefault(int(story), set()).add(str(article))  # type: ignore[call-overload]
    return {frozenset(g) for g in found.values()}


def assert_whole(db: Path, articles: int) -> None:
    """Every article once, each in exactly one story, and doctor finds nothing wrong."""
    ids = [r[0] for r in rows(db, "SELECT id FROM articles")]
    assert len(ids) == len(set(ids)) == articles
    assert rows(db, "SELECT COUNT(*) FROM memberships")[0][0] == articles
    report = check(db)
    assert report.exit_code == 0, [f.problem for f in report.findings]


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr, result.stderr


# ------------------------------------------------------------------------------ disk full


def unshare_works() -> bool:
    try:
        probe = subprocess.run(
            ["unshare", "--user", "--map-root-user", "--mount", "true"],
            capture_output=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


NEEDS_UNSHARE = pytest.mark.skipif(
    not unshare_works(),
    reason="needs `unshare --user --mount` (user namespaces) to mount a small or read-only "
    "file system without privileges",
)


def test_disk_full_during_ingest_by_file_size_limit(
    partial_store: Path, pristine: Path, tmp_path: Path
) -> None:
    """RLIMIT_FSIZE: the WAL may not grow past 150 kB, so a batch of the ingest fails."""
    db = copy_store(partial_store, tmp_path)
    command = ("ingest", str(examples_path()), "--db", str(db), "--batch-size", "2")

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (150_000, 150_000))

    failed = timed("ingest until the file size limit", *command, preexec_fn=small_files)
    assert failed.returncode == 2, failed.stdout + failed.stderr
    no_traceback(failed)
    assert "could not write" in failed.stderr and "ulimit -f" in failed.stderr
    assert "run the same command again; it adds only what is missing" in failed.stderr
    saved = rows(db, "SELECT COUNT(*) FROM articles")[0][0]
    assert FIRST <= saved < 22  # type: ignore[operator]

    rerun = timed("ingest rerun after the file size limit", *command)
    assert rerun.returncode == 0, rerun.stderr
    assert_whole(db, 22)
    assert groups(db) == groups(pristine)


@NEEDS_UNSHARE
def test_disk_full_during_ingest_on_a_small_file_system(
    partial_store: Path, pristine: Path, tmp_path: Path
) -> None:
    """A 640 kB tmpfs (ENOSPC); then the file system grows and the same command is rerun."""
    mount = tmp_path / "small"
    mount.mkdir()
    out = tmp_path / "after"
    db = mount / partial_store.name
    python = f"{sys.executable} -m storylink ingest {examples_path()} --db {db} --batch-size 2"
    script = f"""
        set -u
        mount -t tmpfs -o size=640k storylink-test {mount}
        cp -r {partial_store.parent}/. {mount}/
        {python} > {tmp_path}/full.out 2> {tmp_path}/full.err; echo $? > {tmp_path}/full.rc
        mkdir {tmp_path}/at-fault && cp -r {mount}/. {tmp_path}/at-fault/
        mount -o remount,size=64m {mount}
        date +%s.%N > {tmp_path}/rerun.start
        {python} > {tmp_path}/rerun.out 2> {tmp_path}/rerun.err; echo $? > {tmp_path}/rerun.rc
        date +%s.%N > {tmp_path}/rerun.end
        mkdir {out} && cp -r {mount}/. {out}/
    """
    done = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr
    failed = (tmp_path / "full.err").read_text()
    assert (tmp_path / "full.rc").read_text().strip() == "2", failed
    assert "Traceback" not in failed
    assert "could not write" in failed and "MB free" in failed
    saved = rows(tmp_path / "at-fault" / db.name, "SELECT COUNT(*) FROM articles")[0][0]
    assert FIRST <= saved < 22  # type: ignore[operator]
    assert (tmp_path / "rerun.rc").read_text().strip() == "0", (tmp_path / "rerun.err").read_text()
    took = float((tmp_path / "rerun.end").read_text()) - float(
        (tmp_path / "rerun.start").read_text()
    )
    print(f"[fault] ingest rerun after ENOSPC on tmpfs: {took:.1f} s")
    assert_whole(out / db.name, 22)
    assert groups(out / db.name) == groups(pristine)


# ------------------------------------------------------------------------------ read-only


@NEEDS_UNSHARE
def test_a_read_only_database_is_read_and_never_written(
    pristine: Path, tmp_path: Path, new_article: Path
) -> None:
    """The store's directory bind-mounted read-only (binds for root too, unlike file modes)."""
    db = copy_store(pristine, tmp_path / "store")
    before = snapshot(db)
    listed = storylink("stories", "--db", str(db), "--json")
    assert listed.returncode == 0, listed.stderr
    python = f"{sys.executable} -m storylink"
    script = f"""
        mount --bind {db.parent} {db.parent} && mount -o remount,bind,ro {db.parent} || exit 9
        {python} ingest {new_article} --db {db} > {tmp_path}/ingest.out 2> {tmp_path}/ingest.err
        echo $? > {tmp_path}/ingest.rc
        {python} stories --db {db} --json > {tmp_path}/stories.out 2> {tmp_path}/stories.err
        echo $? > {tmp_path}/stories.rc
    """
    done = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    refused = (tmp_path / "ingest.err").read_text()
    assert (tmp_path / "ingest.rc").read_text().strip() == "2", refused
    assert "Traceback" not in refused
    assert "may not write here" in refused and "read-only" in refused
    assert (tmp_path / "stories.rc").read_text().strip() == "0"
    assert json.loads((tmp_path / "stories.out").read_text()) == json.loads(listed.stdout)
    assert snapshot(db) == before  # nothing written, nothing lost
    again = storylink("ingest", str(new_article), "--db", str(db))  # writable again
    assert again.returncode == 0, again.stderr
    assert_whole(db, 23)


# ------------------------------------------------------------------------------ another writer


@contextmanager
def holding(code: str) -> Iterator[subprocess.Popen[str]]:
    """A process running `code` that prints "held" once it holds what it holds."""
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=os.environ.copy()
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "held"
        yield process
    finally:
        process.kill()
        process.wait(30)


def hold_writer_lock(db: Path, seconds: float) -> str:
    return (
        "import sys, time; from pathlib import Path; from storylink import lock; "
        f"handle = lock.hold(Path({str(db)!r})); print('held', flush=True); "
        f"time.sleep({seconds}); lock.release(handle)"
    )


def test_a_second_writer_waits_then_names_the_holder(
    partial_store: Path, tmp_path: Path, new_article: Path
) -> None:
    db = copy_store(partial_store, tmp_path)
    command = ("ingest", str(new_article), "--db", str(db))
    with holding(hold_writer_lock(db, 120)) as holder:
        started = time.monotonic()
        refused = timed(
            "ingest refused after a 2 s wait", *command, env={"STORYLINK_LOCK_WAIT": "2"}
        )
        assert time.monotonic() - started >= 2
        assert refused.returncode == 2, refused.stderr
        no_traceback(refused)
        assert f"pid {holder.pid}" in refused.stderr and "waited 2 s" in refused.stderr
        assert "STORYLINK_LOCK_WAIT" in refused.stderr
    assert rows(db, "SELECT COUNT(*) FROM articles")[0][0] == FIRST
    with holding(hold_writer_lock(db, 3)):  # lets go after 3 s: the ingest waits for it
        waited = timed("ingest waiting for a writer that lets go after 3 s", *command)
        assert waited.returncode == 0, waited.stderr
    assert_whole(db, FIRST + 1)


def test_a_program_holding_the_sqlite_lock_is_named(
    partial_store: Path, tmp_path: Path, new_article: Path
) -> None:
    """Not storylink: a `sqlite3`-like program keeps a write transaction open."""
    db = copy_store(partial_store, tmp_path)
    code = (
        "import sqlite3, time; "
        f"db = sqlite3.connect({str(db)!r}, isolation_level=None); "
        "db.execute('BEGIN IMMEDIATE'); print('held', flush=True); time.sleep(120)"
    )
    command = ("ingest", str(new_article), "--db", str(db))
    with holding(code) as holder:
        refused = timed(
            "ingest refused by a held SQLite lock", *command, env={"STORYLINK_LOCK_WAIT": "2"}
        )
        assert refused.returncode == 2, refused.stderr
        no_traceback(refused)
        assert "stayed locked by another program" in refused.stderr
        assert f"pid {holder.pid}" in refused.stderr
    rerun = timed("ingest rerun once the SQLite lock is gone", *command)
    assert rerun.returncode == 0, rerun.stderr
    assert_whole(db, FIRST + 1)


def test_doctor_repair_waits_for_the_writer_lock_too(partial_store: Path, tmp_path: Path) -> None:
    db = copy_store(partial_store, tmp_path)
    sql(db, "INSERT INTO story_growth VALUES (777, 0)")
    with holding(hold_writer_lock(db, 120)) as holder:
        refused = storylink("doctor", "--db", str(db), "--repair", env={"STORYLINK_LOCK_WAIT": "1"})
        assert refused.returncode == 2 and f"pid {holder.pid}" in refused.stderr
    assert storylink("doctor", "--db", str(db), "--repair").returncode == 0


# ------------------------------------------------------------------------------ SIGKILL


def test_sigkill_during_recluster_then_rerun_gives_the_uninterrupted_stories(
    pristine: Path, tmp_path: Path
) -> None:
    """`--threshold 0.99` puts every article in a story of its own: every story changes."""
    reference = copy_store(pristine, tmp_path / "reference")
    uninterrupted = storylink("recluster", "--db", str(reference), "--threshold", "0.99")
    assert uninterrupted.returncode == 0, uninterrupted.stderr
    db = copy_store(pristine, tmp_path)
    old = groups(db)
    command = [sys.executable, "-m", "storylink", "-v", "recluster", "--db", str(db)]
    command += ["--threshold", "0.99"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    try:
        for line in process.stderr:  # the models load as the first articles are placed
            if "loading encoder e5-small" in line:
                break
        assert process.poll() is None, "recluster finished before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL
    assert groups(db) in (old, groups(reference))  # all old stories or all new ones
    assert_whole(db, 22)
    rerun = timed(
        "recluster rerun after SIGKILL", "recluster", "--db", str(db), "--threshold", "0.99"
    )
    assert rerun.returncode == 0, rerun.stderr
    assert_whole(db, 22)
    assert snapshot(db) == snapshot(reference)


# ------------------------------------------------------------------------------ index files


def test_damaged_index_files_are_rebuilt_with_a_warning(
    pristine: Path, partial_store: Path, tmp_path: Path, new_article: Path
) -> None:
    db = copy_store(pristine, tmp_path)
    query = ("search", "earthquake off the Turkish coast", "--db", str(db), "--json")
    expected = storylink(*query)
    assert expected.returncode == 0, expected.stderr

    def index(key: str, store: Path = db) -> Path:
        return store.with_name(f"{store.name}.{key}.index")

    shutil.rmtree(index("use-m3.title"))  # missing
    vec = sorted(index("e5-small").glob("*.vec"))[-1]
    vec.write_bytes(vec.read_bytes()[:100])  # truncated
    shutil.rmtree(index("use-m3"))  # stale: as it was 14 articles ago (12 at home in USE)
    shutil.copytree(index("use-m3", partial_store), index("use-m3"))

    searched = timed("search over damaged indexes", *query)
    assert searched.returncode == 0, searched.stderr
    assert json.loads(searched.stdout) == json.loads(expected.stdout)  # same answers
    warnings = [line for line in searched.stderr.splitlines() if "vector index" in line]
    assert len(warnings) == 2, searched.stderr  # a reader is quiet about a stale index:
    assert any("use-m3.title.index is missing" in w for w in warnings)  # a writer may be
    assert any("e5-small.index is unreadable" in w and "expected" in w for w in warnings)
    assert all("rebuilt from the database" in w and "doctor --repair" in w for w in warnings)
    assert check(db).exit_code == 1  # a reader writes no index files …

    written = timed("ingest over damaged indexes", "ingest", str(new_article), "--db", str(db))
    assert written.returncode == 0, written.stderr
    assert re.search(r"use-m3\.index was 1\d articles behind the database", written.stderr)
    repaired = timed("doctor --repair of the indexes", "doctor", "--db", str(db), "--repair")
    assert repaired.returncode == 0, repaired.stdout
    assert_whole(db, 23)


# ------------------------------------------------------------------------------ analysis rows


def test_a_damaged_analysis_row_is_reported_and_repaired(
    pristine: Path, tmp_path: Path, new_article: Path
) -> None:
    db = copy_store(pristine, tmp_path)
    before = snapshot(db)
    analyses = "SELECT seq, analysis FROM articles WHERE seq IN (3, 9) ORDER BY seq"
    original = rows(db, analyses)
    wrong_shape = zlib.compress(json.dumps({"not": "a list"}).encode())
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE articles SET analysis = ? WHERE seq = 3", (b"\x00garbage",))
        conn.execute("UPDATE articles SET analysis = ? WHERE seq = 9", (wrong_shape,))

    reclustered = timed("recluster over damaged analyses", "recluster", "--db", str(db))
    assert reclustered.returncode == 0, reclustered.stderr
    no_traceback(reclustered)
    for seq in (3, 9):
        assert f"article {seq}: its stored analysis cannot be decoded" in reclustered.stderr
    assert "doctor --repair" in reclustered.stderr
    added = storylink("ingest", str(new_article), "--db", str(db))
    assert added.returncode == 0, added.stderr
    related = storylink("related", "3", "--db", str(db), "--json")
    assert related.returncode == 0, related.stderr

    doctor = storylink("doctor", "--db", str(db))
    assert doctor.returncode == 1 and "cannot be decoded" in doctor.stdout
    repaired = timed("doctor --repair of the analyses", "doctor", "--db", str(db), "--repair")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert rows(db, analyses) == original
    assert snapshot(db)["articles"][:22] == before["articles"]
    assert_whole(db, 23)
