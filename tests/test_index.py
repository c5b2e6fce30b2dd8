"""The sharded vector index: right neighbours within a time window, deterministic, appended to
its files, caught up from the store, rebuilt when damaged, inverted lists when dense."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from storylink import index as index_module
from storylink.index import ShardedIndex, month_of, quantise

DAY = 86_400.0
START = datetime(2024, 1, 1, tzinfo=UTC).timestamp()


def unit_rows(n: int, dimension: int = 16, seed: int = 0) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(n, dimension)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def times_for(n: int, days: float = 400.0, seed: int = 1) -> list[float | None]:
    """Times spread over `days`, every tenth undated."""
    spread = np.random.default_rng(seed).uniform(0, days * DAY, n)
    return [None if i % 10 == 0 else START + float(t) for i, t in enumerate(spread)]


def dequantised(vectors: np.ndarray) -> np.ndarray:
    """As the index holds rows and queries: int8 with a scale (in float64 here)."""
    values, scales = quantise(np.atleast_2d(vectors))
    result: np.ndarray = values.astype(np.float64) * scales[:, None].astype(np.float64)
    return result


def exact(
    vectors: np.ndarray,
    times: list[float | None],
    query: np.ndarray,
    k: int,
    since: float | None = None,
    until: float | None = None,
) -> list[int]:
    """Labels (1-based) of the k best rows in the window, by brute force."""
    scores = dequantised(vectors) @ dequantised(query)[0]
    allowed = [
        i
        for i, t in enumerate(times)
        if t is None or ((since is None or t >= since) and (until is None or t <= until))
    ]
    ranked = sorted(allowed, key=lambda i: (-scores[i], i))[:k]
    return [i + 1 for i in ranked]


def test_search_is_exact_within_the_window_best_first() -> None:
    vectors, times = unit_rows(3000), times_for(3000)
    index = ShardedIndex(16)
    index.add(range(1, 3001), vectors, times)
    query = unit_rows(1, seed=9)[0]
    assert [label for label, _ in index.search(query, 5)] == exact(vectors, times, query, 5)
    since, until = START + 100 * DAY, START + 190 * DAY
    found = index.search(query, 30, since, until)
    assert [label for label, _ in found] == exact(vectors, times, query, 30, since, until)
    assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)
    for label, _ in found:  # in the window or undated
        t = times[label - 1]
        assert t is None or since <= t <= until
    assert index.search(vectors[41], 1)[0][0] == 42  # a stored vector finds itself
    assert len(index.search(query, 10_000)) == 3000
    assert [label for label, _ in index.search(query, 3000, before=101)] == exact(
        vectors[:100], times[:100], query, 3000
    )
    assert ShardedIndex(16).search(query, 3) == []


def test_ties_break_by_label() -> None:
    index = ShardedIndex(2)
    same = np.array([[1.0, 0.0]] * 3, dtype=np.float32)
    index.add([10, 20, 30], same, [START, None, START + 40 * DAY])
    assert [label for label, _ in index.search(np.array([1.0, 0.0]), 3)] == [10, 20, 30]


def test_months_and_undated_shards() -> None:
    assert month_of(START) == "2024-01"
    assert month_of(None) == "undated"
    assert month_of(datetime(2025, 12, 31, 23, 59, tzinfo=UTC).timestamp()) == "2025-12"


def test_flush_open_catches_up_and_rebuilds(tmp_path: Path) -> None:
    vectors, times = unit_rows(200), times_for(200)
    stored = [(label, times[label - 1], vectors[label - 1]) for label in range(1, 201)]

    def store(after: int) -> list[tuple[int, float | None, np.ndarray]]:
        return [row for row in stored if row[0] > after]

    directory = tmp_path / "db.use-m3.index"
    partial = ShardedIndex(16, directory)
    partial.add(range(1, 121), vectors[:120], times[:120])
    partial.flush()
    assert not partial.changed
    resumed = ShardedIndex.open(directory, 16, store, writer=True)  # files: 120; store: 80 more
    assert len(resumed) == 200 and resumed.max_label == 200 and resumed.changed
    full = ShardedIndex(16)
    full.add(range(1, 201), vectors, times)
    query = unit_rows(1, seed=3)[0]
    window = (START + 30 * DAY, START + 210 * DAY)
    assert resumed.search(query, 10, *window) == full.search(query, 10, *window)
    resumed.flush()
    files = sorted(p.name for p in directory.iterdir())
    assert "manifest.json" in files and "undated.vec" in files and "2024-01.rows" in files
    # rows a crash appended past the manifest are cut by the next writer
    with (directory / "2024-02.vec").open("ab") as damaged:
        damaged.write(b"\x01" * 16 * 3)
    reopened = ShardedIndex.open(directory, 16, store, writer=True)
    assert len(reopened) == 200 and not reopened.changed
    assert reopened.search(query, 10, *window) == full.search(query, 10, *window)
    (directory / "manifest.json").write_text("{not json")
    rebuilt = ShardedIndex.open(directory, 16, store, writer=True)
    assert rebuilt.search(query, 10, *window) == full.search(query, 10, *window)
    missing = ShardedIndex.open(tmp_path / "missing.index", 16, store)
    assert missing.max_label == 200


def test_flushing_appends_instead_of_rewriting(tmp_path: Path) -> None:
    directory = tmp_path / "db.index"
    index = ShardedIndex(16, directory)
    index.add(range(1, 101), unit_rows(100), [START] * 100)
    index.flush()
    before = (directory / "2024-01.vec").stat()
    index.add(range(101, 111), unit_rows(10, seed=4), [START] * 10)
    index.flush()
    after = (directory / "2024-01.vec").stat()
    assert after.st_ino == before.st_ino and after.st_size == before.st_size + 10 * 16


def topical(
    monkeypatch: pytest.MonkeyPatch, probes: int
) -> tuple[np.ndarray, list[float | None], np.ndarray]:
    """Inverted lists scaled down (32, fitted at 2,000 rows, months over 500 searched
    through them) and clustered data, as news is: 6,000 vectors about 64 topics over 60
    days; and 40 queries near the first 40 topics."""
    monkeypatch.setattr(index_module, "TRAIN_AT", 2000)
    monkeypatch.setattr(index_module, "LISTS", 32)
    monkeypatch.setattr(index_module, "PROBES", probes)
    monkeypatch.setattr(index_module, "EXACT_ROWS", 500)
    rng = np.random.default_rng(5)
    topics = unit_rows(64, dimension=32, seed=6)
    vectors = topics[rng.integers(0, 64, 6000)] + 0.35 * unit_rows(6000, dimension=32, seed=7)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = unit_rows(40, dimension=32, seed=8) * 0.3 + topics[:40]
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    return vectors, times_for(6000, days=60), queries


def test_dense_shards_use_inverted_lists_with_high_recall(monkeypatch: pytest.MonkeyPatch) -> None:
    vectors, times, queries = topical(monkeypatch, probes=8)
    index = ShardedIndex(32)
    for start in range(0, 6000, 500):  # in batches, as ingest adds
        index.add(
            range(start + 1, start + 501), vectors[start : start + 500], times[start : start + 500]
        )
    assert index._centroids is not None
    recall = []
    for query in queries:
        truth = set(exact(vectors, times, query, 10))
        found = {label for label, _ in index.search(query, 10)}
        recall.append(len(truth & found) / 10)
    assert np.mean(recall) >= 0.9
    # the same vectors added in another batching fit the same lists: same answers
    again = ShardedIndex(32)
    again.add(range(1, 6001), vectors, times)
    assert all(again.search(q, 10) == index.search(q, 10) for q in queries)


def test_row_budget_bounds_the_work_and_survives_a_reload(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`max_rows` stops probing at the nearest lists that hold that many rows: fewer rows
    scored, the nearest neighbours still found, and the same answers after a flush and a
    reopen as from an index that never left memory (a resumed ingest decides the same)."""
    vectors, times, queries = topical(monkeypatch, probes=16)
    memory, saved = ShardedIndex(32), ShardedIndex(32, tmp_path / "index")
    for start in range(0, 6000, 500):
        batch = (
            range(start + 1, start + 501),
            vectors[start : start + 500],
            times[start : start + 500],
        )
        memory.add(*batch)
        saved.add(*batch)
        saved.flush()
        # searched between adds: the in-memory tail's list order is renewed, not stale
        for query in queries[:5]:
            assert memory.search(query, 10, max_rows=600) == saved.search(query, 10, max_rows=600)
    reopened = ShardedIndex.open(tmp_path / "index", 32, lambda after: iter(()))
    scored: list[int] = []
    gathered = index_module._gathered_cosines

    def counting(vectors: np.ndarray, positions: object, rows: np.ndarray, query: object) -> object:
        scored.append(len(rows))
        return gathered(vectors, positions, rows, query)  # type: ignore[arg-type]

    monkeypatch.setattr(index_module, "_gathered_cosines", counting)
    # re-clustering (`before`): the budget counts only the rows the article met at ingest,
    # so the same lists are probed and the same rows scored
    earlier = ShardedIndex(32)
    earlier.add(range(1, 4001), vectors[:4000], times[:4000])
    for query in queries:
        scored.clear()
        ingested = earlier.search(query, 10, max_rows=600)
        rows_then = sum(scored)
        scored.clear()
        assert memory.search(query, 10, before=4001, max_rows=600) == ingested
        assert sum(scored) == rows_then
    full, budgeted, nearest = [], [], []
    for query in queries:
        scored.clear()
        memory.search(query, 10)
        full.append(sum(scored))
        scored.clear()
        found = memory.search(query, 10, max_rows=600)
        budgeted.append(sum(scored))
        nearest.append(found[0][0] == exact(vectors, times, query, 1)[0])
        assert reopened.search(query, 10, max_rows=600) == found
        assert memory.search(query, 10, max_rows=10**9) == memory.search(query, 10)
    assert np.mean(budgeted) < 0.3 * np.mean(full)
    assert max(budgeted) < 600 + 3 * 6000 // 32  # the budget and the rest of the last list
    assert np.mean(nearest) >= 0.9
