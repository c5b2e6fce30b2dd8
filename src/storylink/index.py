"""Nearest-neighbour search over article document vectors (cosine), one index per encoder.

HNSW graphs from hnswlib, labelled by the article's ingestion number (`seq`) and saved beside
the database. An index only ever holds articles the store has committed, so after a crash it is
caught up from the store (`VectorIndex.open`); a missing or unreadable file is rebuilt.
Inserts are single-threaded so the same insertion order gives the same graph.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

INITIAL_CAPACITY = 1024
EF_CONSTRUCTION = 200
CONNECTIONS = 16  # HNSW "M"
EF_SEARCH = 96
SEED = 7


class VectorIndex:
    """An HNSW index of unit vectors; `search` returns (label, cosine) pairs, best first."""

    def __init__(self, dimension: int, capacity: int = INITIAL_CAPACITY) -> None:
        import hnswlib

        self.dimension = dimension
        self._index = hnswlib.Index(space="ip", dim=dimension)
        self._index.init_index(
            max_elements=capacity, ef_construction=EF_CONSTRUCTION, M=CONNECTIONS, random_seed=SEED
        )
        self._index.set_ef(EF_SEARCH)
        self._index.set_num_threads(1)
        self.max_label = 0

    def __len__(self) -> int:
        return int(self._index.get_current_count())

    def add(self, labels: Iterable[int], vectors: np.ndarray) -> None:
        labels = np.asarray(list(labels), dtype=np.int64)
        if not len(labels):
            return
        needed = len(self) + len(labels)
        capacity = int(self._index.get_max_elements())
        if needed > capacity:
            self._index.resize_index(max(needed, capacity * 2))
        self._index.add_items(np.asarray(vectors, dtype=np.float32), labels, num_threads=1)
        self.max_label = max(self.max_label, int(labels.max()))

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        k = min(k, len(self))
        if k == 0:
            return []
        self._index.set_ef(max(EF_SEARCH, k))
        labels, distances = self._index.knn_query(
            np.asarray(vector, dtype=np.float32)[None, :], k=k, num_threads=1
        )
        return [
            (int(label), 1.0 - float(d)) for label, d in zip(labels[0], distances[0], strict=True)
        ]

    def background(self, vector: np.ndarray, sample: int = 256) -> tuple[float, float]:
        """Mean and spread of the vector's cosine to a fixed sample of indexed vectors: what
        "unrelated" looks like in this space, to compare cosines across spaces."""
        labels = np.asarray(self._index.get_ids_list(), dtype=np.int64)
        if len(labels) > sample:
            labels = np.random.default_rng(SEED).choice(np.sort(labels), sample, replace=False)
        values = np.asarray(self._index.get_items(labels), dtype=np.float32) @ vector
        return float(values.mean()), float(max(values.std(), 1e-3))

    def save(self, path: str | Path) -> None:
        """Write atomically: a crash mid-save leaves the previous file."""
        path = Path(path)
        partial = path.with_name(path.name + ".partial")
        self._index.save_index(str(partial))
        os.replace(partial, path)

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
        import hnswlib

        index = cls(dimension)
        path = Path(path)
        if path.exists():
            try:
                loaded = hnswlib.Index(space="ip", dim=dimension)
                loaded.load_index(str(path))
                loaded.set_ef(EF_SEARCH)
                loaded.set_num_threads(1)
                index._index = loaded
                labels = loaded.get_ids_list()
                index.max_label = int(max(labels)) if labels else 0
            except (RuntimeError, ValueError) as error:
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
