"""Where storylink keeps derived data that is cheap to rebuild (gazetteer index, embeddings)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """`$STORYLINK_CACHE`, else `$XDG_CACHE_HOME/storylink`, else `~/.cache/storylink`."""
    explicit = os.environ.get("STORYLINK_CACHE")
    base = (
        Path(explicit)
        if explicit
        else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "storylink"
    )
    base.mkdir(parents=True, exist_ok=True)
    return base
