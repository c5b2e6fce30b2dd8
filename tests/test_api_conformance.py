"""Conformance fuzzing: schemathesis against the real `storylink serve` on 127.0.0.1.

All four phases (examples from the schema, coverage of each parameter's edges, random
fuzzing, stateful sequences that follow links such as POST /articles → GET /jobs/{id}) and
every check (no 5xx, documented statuses, headers and content types, response schemas, valid
input accepted, invalid input refused, auth enforced), with a fixed seed. The write endpoint
gets the bearer token; the rate limit is low so that fuzzed ingests stay few.

Longer runs: STORYLINK_FUZZ_EXAMPLES=1000 (examples per operation; default 50) and
STORYLINK_FUZZ_SEED to try other inputs. The test's output names each failure and a curl
command that reproduces it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import TOKEN, serving

EXAMPLES = int(os.environ.get("STORYLINK_FUZZ_EXAMPLES", "50"))
SEED = int(os.environ.get("STORYLINK_FUZZ_SEED", "1"))
CONFIG = Path(__file__).with_name("schemathesis.toml")
SCHEMATHESIS = [sys.executable, "-c", "from schemathesis.cli import schemathesis; schemathesis()"]


@pytest.mark.slow
def test_the_api_passes_conformance_fuzzing(tmp_path: Path) -> None:
    from storylink.demo import examples_path
    from storylink.stories import StoryStore

    db = tmp_path / "examples.db"
    with StoryStore(db) as stories:
        stories.ingest([str(examples_path())])
    log = tmp_path / "server.log"
    with serving(db, "--token", TOKEN, "--writes-per-minute", "10", log=log) as base:
        command = [
            *SCHEMATHESIS,
            "--config-file",
            str(CONFIG),
            "--no-color",
            "run",
            f"{base}/openapi.json",
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--checks",
            "all",
            "--seed",
            str(SEED),
            "--max-examples",
            str(EXAMPLES),
            "--header",
            f"Authorization: Bearer {TOKEN}",
            "--request-timeout",
            "120",
            "--max-response-time",  # the first compare loads the NER models: seconds on CI
            "120",
            "--workers",
            "1",
        ]
        run = subprocess.run(command, capture_output=True, text=True, timeout=1800, cwd=tmp_path)
    report = f"{run.stdout}{run.stderr}\n--- server output:\n{log.read_text()[-20_000:]}"
    print(report)  # shown with -s or on failure: counts, and each failure with its curl
    assert run.returncode == 0, report
    assert "Tested: 11" in report, report  # every operation of the schema
    generated = re.search(r"(\d+) generated", report)
    assert generated and int(generated.group(1)) >= 10 * EXAMPLES, report
