"""Shared fixtures. Tests use their own cache directory, never the user's."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

os.environ.setdefault("STORYLINK_CACHE", tempfile.mkdtemp(prefix="storylink-test-cache-"))

from storylink.article import Article
from storylink.compare import Comparer
from storylink.demo import example_articles

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SEED_EN = SHARED / "seeds" / "000_a81d3d7f15119f6f.txt"
SEED_AR = SHARED / "seeds" / "002_a83c2042202123ac.txt"
DEV_PAIRS = SHARED / "data" / "semeval8" / "dev_pairs.jsonl"


def need(path: Path) -> Path:
    """Skip (not fail) when ../shared is not beside the checkout."""
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return path


@pytest.fixture(scope="session")
def comparer() -> Comparer:
    return Comparer()


@pytest.fixture(scope="session")
def examples() -> dict[str, Article]:
    """Example articles by their JSONL id, e.g. "izmir-quake-ar"."""
    import json

    from storylink.demo import examples_path

    ids = [
        json.loads(line)["id"] for line in examples_path().read_text("utf-8").splitlines() if line
    ]
    return {key: article for key, (_, article) in zip(ids, example_articles(), strict=True)}


TOKEN = "test-token-7f3a"


@contextmanager
def serving(db: Path, *options: str, log: Path | None = None) -> Iterator[str]:
    """`storylink serve` over `db` in a subprocess on 127.0.0.1: its base URL while it runs.
    Its output goes to `log` when given."""
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "storylink.cli", "serve", "--db", str(db)]
    command += ["--port", str(port), *options]
    output = log.open("w") if log else subprocess.PIPE
    server = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                said = server.stdout.read() if server.stdout else log.read_text() if log else ""
                raise RuntimeError(f"server did not start: {said}")
            time.sleep(0.5)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)
        if log:
            output.close()


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`storylink serve` on 127.0.0.1 over a store of the example articles: its base URL."""
    from storylink.demo import examples_path
    from storylink.stories import StoryStore

    db = tmp_path_factory.mktemp("served") / "examples.db"
    with StoryStore(db) as stories:
        stories.ingest([str(examples_path())])
    with serving(db, "--token", TOKEN, "--max-body", "200000") as base:
        yield base


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How many examples each property-based test ran, and what the peer corpora gave (see
    tests/hostile.py)."""
    from .hostile import EXAMPLES_RUN, PEER_COUNTS

    if EXAMPLES_RUN:
        terminalreporter.section("hypothesis examples run")
        for name, count in sorted(EXAMPLES_RUN.items()):
            terminalreporter.write_line(f"{count:6d}  {name}")
        terminalreporter.write_line(f"{sum(EXAMPLES_RUN.values()):6d}  in all")
    if PEER_COUNTS:
        terminalreporter.section("peer corpora: storylink read")
        for corpus, (read, skipped) in sorted(PEER_COUNTS.items()):
            terminalreporter.write_line(f"{corpus}: {read} read, {skipped} skipped, 0 tracebacks")


@pytest.fixture(scope="session")
def doctor_comparer() -> Comparer:
    """The comparer the story tests use (compact vectors, as a store keeps them)."""
    from storylink.encode import EncoderSet

    return Comparer(encoders=EncoderSet(None), compact_vectors=True)


@pytest.fixture(scope="session")
def pristine(tmp_path_factory: pytest.TempPathFactory, doctor_comparer: Comparer) -> Path:
    """The 22 example articles ingested with the real pipeline (5 stories, both encoders);
    copy it before changing it (`tests.test_doctor.copy_store`)."""
    from storylink.demo import examples_path
    from storylink.stories import StoryStore

    db = tmp_path_factory.mktemp("pristine") / "examples.db"
    with StoryStore(db, comparer=doctor_comparer) as stories:
        assert stories.ingest([examples_path()]).added == 22
    return db


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A private PostgreSQL server with pgvector (pgserver, started once): its URI. Its
    directory is one others may enter: run as root, pgserver runs the server as its own user."""
    import shutil

    import pgserver

    data = Path(tempfile.mkdtemp(prefix="storylink-postgres-"))
    data.chmod(0o755)
    server = pgserver.get_server(data, cleanup_mode="stop")
    yield server.get_uri()
    server.cleanup()
    import psutil  # pgserver's own dependency

    # seen once after the whole suite: the server outlived its last handle; stop it by its data
    for process in psutil.process_iter(["cmdline"]):
        if str(data) in (process.info["cmdline"] or []):
            process.terminate()
    shutil.rmtree(data, ignore_errors=True)


@pytest.fixture
def postgres_db(postgres_server: str) -> str:
    """The URI of a new, empty database on the test server."""
    import uuid

    import psycopg

    name = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    return postgres_server.replace("/postgres?", f"/{name}?", 1)


@pytest.fixture(params=["sqlite", "postgres"])
def any_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new store's `--db`: a SQLite file, then a PostgreSQL database (a test runs on both)."""
    if request.param == "sqlite":
        return str(tmp_path / "news.db")
    return str(request.getfixturevalue("postgres_db"))
