"""Shared fixtures. Tests use their own cache directory, never the user's."""

from __future__ import annotations

import os
import tempfile
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
