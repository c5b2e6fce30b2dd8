"""Recall and speed of the sharded index's inverted lists against exact search.

    .venv/bin/python benchmarks/index_recall.py /work/scale-data/new-1000000.db [--queries 300]
    .venv/bin/python benchmarks/index_recall.py --sentences ../shared/data/semeval8/dev_pairs.jsonl

On a store (e.g. one filled by `store_scale.py`): see below. The synthetic store's vectors are
copies of a few hundred articles plus noise, which inverted lists find easily; `--sentences`
checks them on real, varied vectors instead: every sentence of the dev articles (USE), dated
over 180 days, with the index's constants scaled down in proportion (lists fitted on 2,048
vectors, 64 lists, the nearest 4 probed: the same 1/16 of the rows as 32 of 512).

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


def sentences_recall(pairs: Path, queries: int, seed: int) -> None:
    """Inverted lists against exact search on the dev articles' sentence vectors."""
    from storylink.encode import UseEncoder
    from storylink.evaluate import load_pairs
    from storylink.stories import pair_articles
    from storylink.text import sentences

    texts = [s for a in pair_articles(load_pairs(pairs)) for s in sentences(a.text)]
    vectors = UseEncoder().encode(texts)
    rng = np.random.default_rng(seed)
    times = (1_700_000_000 + rng.uniform(0, 180 * DAY, len(texts))).tolist()
    index_module.TRAIN_AT, index_module.LISTS, index_module.PROBES = 2048, 64, 4
    index_module.EXACT_ROWS = 256
    index = ShardedIndex(vectors.shape[1])
    index.add(range(1, len(texts) + 1), vectors, times)
    rows = rng.choice(len(texts), queries, replace=False)
    for probes in (2, 4, 8, 16):
        index_module.PROBES = probes
        recall, close, same_first = [], [], []
        for row in rows:
            since, until = times[row] - WINDOW, times[row] + WINDOW
            found = index.search(vectors[row], 31, since, until)
            approximate = {label for label, _ in found if label != row + 1}
            index_module.EXACT_ROWS = 1 << 40
            truth = [(label, c) for label, c in index.search(vectors[row], 31, since, until)]
            index_module.EXACT_ROWS = 256
            truth = [(label, c) for label, c in truth if label != row + 1][:30]
            recall.append(len(approximate & {label for label, _ in truth}) / len(truth))
            near = {label for label, c in truth if c >= 0.5}  # what clustering acts on
            if near:
                close.append(len(approximate & near) / len(near))
            same_first.append(bool(truth) and truth[0][0] in approximate)
        print(
            f"{len(texts):,} dev sentences, {queries} queries, k=30 ±90 days, {probes}/64 lists: "
            f"recall@30 {np.mean(recall):.3f}, of neighbours at cosine >= 0.5 "
            f"{np.mean(close):.3f} ({len(close)} queries have some), "
            f"nearest found {np.mean(same_first):.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("db", type=Path, nargs="?")
    parser.add_argument("--sentences", type=Path, metavar="PAIRS", help="real vectors instead")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--encoder", default="use-m3")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument(
        "--max-rows",
        default="",
        help="comma-separated row budgets of the windowed queries (the clustering's "
        "`max_rows`), each measured beside the default",
    )
    args = parser.parse_args()
    if args.sentences:
        sentences_recall(args.sentences, args.queries, args.seed)
        return
    if args.db is None:
        parser.error("give a store, or --sentences PAIRS")
    store = SQLiteStore(args.db)
    budgets: list[int | None] = [None] + [int(b) for b in args.max_rows.split(",") if b]
    variants = [("document", 30, True, b) for b in budgets] + [("title", 40, False, None)]
    for view, k, windowed, budget in variants:
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
            approximate = index.search(vector, k, since, until, max_rows=budget)
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
            f"  {view} k={k} {'±90 days' if windowed else 'all time'}"
            f"{'' if budget is None else f', at most {budget:,} rows'}: "
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
