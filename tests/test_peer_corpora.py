"""Other projects' test material through `storylink read`, as a user runs it: feedparser's
2,106 test feeds and trafilatura's 110 cached web pages (../shared/data/peer; skipped when
absent). No traceback, no third-party log line, every skip in storylink's words."""

from __future__ import annotations

import json

import pytest

from .conftest import SHARED, need
from .hostile import PEER_COUNTS
from .test_cli import storylink

PEER = SHARED / "data" / "peer"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("corpus", "min_read"), [("feedparser-tests", 353), ("trafilatura-pages", 110)]
)
def test_peer_corpus_reads_without_a_traceback(corpus: str, min_read: int) -> None:
    result = storylink("read", str(need(PEER / corpus)), "--json")
    assert result.returncode in (0, 1), result.stderr[-2000:]
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    problems = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr
    assert all(line.startswith("skipped: ") for line in problems), [
        line for line in problems if not line.startswith("skipped: ")
    ][:5]
    PEER_COUNTS[corpus] = (len(rows), len(problems))
    assert len(rows) >= min_read
    languages = {row["origin"].rpartition("/")[2]: row["language"] for row in rows}
    if corpus == "feedparser-tests":  # they declare no encoding; were read as Latin-1, und/es
        for name, language in [("koi8r", "ru"), ("shiftjis", "ja"), ("euckr", "ko")]:
            assert languages[f"{name}.xml#1"] == language
