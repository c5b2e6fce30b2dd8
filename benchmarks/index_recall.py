"""Recall and speed of the sharded index's inverted lists against exact search, on a real store.

    .venv/bin/python benchmarks/index_recall.py /work/scale-data/new-1000000.db [--queries 300]

Queries are stored articles' own document vectors (as clustering asks: the k = 30 nearest
within ±90 days of the article's date) and, for all-time search, their title vectors (k = 40,
no window). For each query the index answers as `StoryStore` would (inverted lists in dense
months) and exactly (every row of the same months); printed: recall@k of the neighbours, the
share of queries whose best neighbour is the same, recall of the neighbours' stories (what
clustering uses them for), and the median milliseconds per query of each path.
"""

from __future__ import annotations

import argparse
import statistics
import time
from functools import partial
from pathlib import Path

import numpy as np

from storylink import index as index_module
from storylink.index import ShardedIndex
from storylink.store import SQLiteStore

DAY = 86_400.0
WINDOW = 90 * DAY


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("db", type=Path)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--encoder", default="use-m3")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    store = SQLiteStore(args.db)
    for view, k, windowed in (("document", 30, True), ("title", 40, False)):
        key = args.encoder if view == "document" else f"{args.encoder}.{view}"
        dimension = store.dimension(args.encoder)
        assert dimension is not None, f"no {args.encoder} article in {args.db}"
        started = time.perf_counter()
        index = ShardedIndex.open(
            args.db.with_name(f"{args.db.name}.{key}.index"),
            dimension,
            partial(store.indexed_vectors, args.encoder, view),
        )
        print(f"{view}: opened {len(index):,} rows in {time.perf_counter() - started:.2f} s")
        last = index.max_label
        rng = np.random.default_rng(args.seed)
        labels = sorted(int(x) for x in rng.integers(1, last + 1, args.queries))
        queries = _vectors(store, args.encoder, view, labels)
        recall, same_first, story_recall, fast, slow = [], [], [], [], []
        for _, ts, vector in queries:
            since, until = (ts - WINDOW, ts + WINDOW) if windowed and ts else (None, None)
            started = time.perf_counter()
            approximate = index.search(vector, k, since, until)
            fast.append(time.perf_counter() - started)
            exact_rows = index_module.EXACT_ROWS
            index_module.EXACT_ROWS = 1 << 40  # every month exactly
            started = time.perf_counter()
            truth = index.search(vector, k, since, until)
            slow.append(time.perf_counter() - started)
            index_module.EXACT_ROWS = exact_rows
            found = {label for label, _ in approximate}
            wanted = [label for label, _ in truth]
            recall.append(len(found & set(wanted)) / max(1, len(wanted)))
            same_first.append(bool(approximate) and approximate[0][0] == wanted[0])
            members = {m.seq: m.story_id for m in store.members_of(list(found | set(wanted)))}
            true_stories = {members.get(label) for label in wanted}
            found_stories = {members.get(label) for label in found}
            story_recall.append(len(true_stories & found_stories) / max(1, len(true_stories)))
        print(
            f"  {view} k={k} {'±90 days' if windowed else 'all time'}: "
            f"recall@{k} {np.mean(recall):.3f}, same best {np.mean(same_first):.3f}, "
            f"stories {np.mean(story_recall):.3f}; "
            f"ms per query {1e3 * statistics.median(fast):.2f} (lists) vs "
            f"{1e3 * statistics.median(slow):.2f} (exact)"
        )


def _vectors(
    store: SQLiteStore, encoder: str, view: str, seqs: list[int]
) -> list[tuple[int, float | None, np.ndarray]]:
    wanted = set(seqs)
    found = []
    for seq in seqs:
        for row in store.indexed_vectors(encoder, view, seq - 1):
            if row[0] in wanted:
                found.append(row)
            break
    return found


if __name__ == "__main__":
    main()
