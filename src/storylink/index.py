"""Nearest-neighbour search over article document vectors (cosine), one index per encoder.

Exact search: one float32 matrix, a matrix-vector product per query. Measured against hnswlib,
usearch and faiss HNSW graphs (`benchmarks/vector_index.py`, RESULTS.md): at 20k articles a
query costs ~0.3 ms either way, the graphs miss ~2 % of stories at 100k, and none of them gives
the same neighbours after a save and reload midway (the graph's random state is not saved),
which would break "same input order, same stories" whenever an ingest is resumed. Exact search
is deterministic (ties broken by label) and needs no dependency.

Labels are the articles' ingestion numbers (`seq`). The index is saved beside the database
(`.npz`) and only ever holds articles the store has committed, so after a crash it is caught up
from the store (`VectorIndex.open`); a missing or unreadable file is rebuilt from the store.
"""

from __future__ import annotations

import logging
import os
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

INITIAL_CAPACITY = 1024
SEED = 7


class VectorIndex:
    """Exact cosine search over unit vectors; `search` returns (label, cosine), best first."""

    def __init__(self, dimension: int, capacity: int = INITIAL_CAPACITY) -> None:
        self.dimension = dimension
        self._vectors = np.empty((capacity, dimension), dtype=np.float32)
        self._labels = np.empty(capacity, dtype=np.int64)
        self._count = 0
        self.changed = False  # holds vectors its file does not: `save` has work to do

    def __len__(self) -> int:
        return self._count

    @property
    def max_label(self) -> int:
        return int(self._labels[: self._count].max()) if self._count else 0

    def add(self, labels: Iterable[int], vectors: np.ndarray) -> None:
        labels = np.asarray(list(labels), dtype=np.int64)
        needed = self._count + len(labels)
        if needed > len(self._labels):  # grow by doubling: amortised O(1) per add
            capacity = max(needed, 2 * len(self._labels))
            grown = np.empty((capacity, self.dimension), dtype=np.float32)
            grown[: self._count] = self._vectors[: self._count]
            grown_labels = np.empty(capacity, dtype=np.int64)
            grown_labels[: self._count] = self._labels[: self._count]
            self._vectors, self._labels = grown, grown_labels
        self._vectors[self._count : needed] = vectors
        self._labels[self._count : needed] = labels
        self._count = needed
        self.changed = self.changed or len(labels) > 0

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        k = min(k, self._count)
        if k <= 0:
            return []
        scores = self._vectors[: self._count] @ np.asarray(vector, dtype=np.float32)
        top = np.argpartition(-scores, k - 1)[:k] if k < self._count else np.arange(k)
        labels = self._labels[top]
        order = np.lexsort((labels, -scores[top]))  # best first, ties by label
        return [(int(labels[i]), float(scores[top][i])) for i in order]

    def background(self, vector: np.ndarray, sample: int = 256) -> tuple[float, float]:
        """Mean and spread of the vector's cosine to a fixed sample of indexed vectors: what
        "unrelated" looks like in this space, to compare cosines across spaces."""
        rows = np.arange(self._count)
        if self._count > sample:
            rows = np.random.default_rng(SEED).choice(rows, sample, replace=False)
        values = self._vectors[rows] @ np.asarray(vector, dtype=np.float32)
        return float(values.mean()), float(max(values.std(), 1e-3))

    def save(self, path: str | Path) -> None:
        """Write atomically: a crash mid-save leaves the previous file."""
        path = Path(path)
        partial = path.with_name(path.name + ".partial")
        with partial.open("wb") as out:
            np.savez(
                out,
                labels=self._labels[: self._count],
                vectors=self._vectors[: self._count].astype(np.float16),  # stored as float16
            )
        os.replace(partial, path)
        self.changed = False

    @classmethod
    def open(
        cls,
        path: str | Path,
        dimension: int,
        stored: Callable[[int], Iterable[tuple[int, np.ndarray]]],
    ) -> VectorIndex:
        """Load the saved index and add what the store has beyond it, or rebuild from the store.

        `stored(after)` yields the store's (label, vector) pairs with label > after, in order.
        """
        index = cls(dimension)
        path = Path(path)
        if path.exists():
            try:
                with np.load(path) as saved:
                    labels, vectors = saved["labels"], saved["vectors"]
                if vectors.ndim != 2 or vectors.shape[1] != dimension:
                    raise ValueError(f"vectors of shape {vectors.shape}, expected {dimension}-d")
                index = cls(dimension, max(INITIAL_CAPACITY, len(labels)))
                index.add(labels, vectors.astype(np.float32))
                index.changed = False  # as in the file
            except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
                log.warning("%s: unreadable (%s); rebuilding it from the store", path, error)
                index = cls(dimension)
        batch_labels: list[int] = []
        batch_vectors: list[np.ndarray] = []
        for label, vector in stored(index.max_label):
            batch_labels.append(label)
            batch_vectors.append(vector)
            if len(batch_labels) == 1024:
                index.add(batch_labels, np.vstack(batch_vectors))
                batch_labels, batch_vectors = [], []
        if batch_labels:
            index.add(batch_labels, np.vstack(batch_vectors))
        return index
