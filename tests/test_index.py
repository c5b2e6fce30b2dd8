"""The exact vector index: right neighbours, deterministic, persisted, caught up, rebuilt."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from storylink.index import VectorIndex


def unit_rows(n: int, dimension: int = 16, seed: int = 0) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(n, dimension)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_search_is_exact_best_first_and_grows() -> None:
    vectors = unit_rows(3000)
    index = VectorIndex(16, capacity=4)  # forces many doublings
    index.add(range(1, 3001), vectors)
    query = unit_rows(1, seed=9)[0]
    found = index.search(query, 5)
    truth = np.argsort(-(vectors @ query))[:5] + 1
    assert [label for label, _ in found] == truth.tolist()
    assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)
    assert index.search(vectors[41], 1)[0][0] == 42  # a stored vector finds itself
    assert len(index.search(query, 10_000)) == 3000
    assert VectorIndex(16).search(query, 3) == []


def test_ties_break_by_label() -> None:
    index = VectorIndex(2)
    same = np.array([[1.0, 0.0]] * 3, dtype=np.float32)
    index.add([30, 10, 20], same)
    assert [label for label, _ in index.search(np.array([1.0, 0.0]), 3)] == [10, 20, 30]


def test_save_open_catches_up_and_rebuilds(tmp_path: Path) -> None:
    vectors = unit_rows(100).astype(np.float16).astype(np.float32)  # as the store keeps them
    stored = list(zip(range(1, 101), vectors, strict=True))

    def store(after: int) -> list[tuple[int, np.ndarray]]:
        return [(label, v) for label, v in stored if label > after]

    partial = VectorIndex(16)
    partial.add(range(1, 61), vectors[:60])
    path = tmp_path / "index.npz"
    partial.save(path)
    resumed = VectorIndex.open(path, 16, store)  # file has 60; the store has 40 more
    assert len(resumed) == 100 and resumed.max_label == 100
    full = VectorIndex(16)
    full.add(range(1, 101), vectors)
    query = unit_rows(1, seed=3)[0]
    assert resumed.search(query, 10) == full.search(query, 10)
    path.write_bytes(b"not an index")
    rebuilt = VectorIndex.open(path, 16, store)
    assert rebuilt.search(query, 10) == full.search(query, 10)
    assert VectorIndex.open(tmp_path / "missing.npz", 16, store).max_label == 100


def test_only_a_changed_index_needs_saving(tmp_path: Path) -> None:
    path = tmp_path / "index.npz"
    index = VectorIndex(16)
    assert not index.changed
    index.add([1, 2], unit_rows(2).astype(np.float16).astype(np.float32))
    assert index.changed
    index.save(path)
    assert not index.changed
    reopened = VectorIndex.open(path, 16, lambda after: [])
    assert not reopened.changed and len(reopened) == 2
    caught_up = VectorIndex.open(path, 16, lambda after: [(3, unit_rows(1, seed=5)[0])])
    assert caught_up.changed and len(caught_up) == 3
