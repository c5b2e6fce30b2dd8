"""The story store on PostgreSQL + pgvector against SQLite (issue 15): ingest cost per new
article, search latency, and the recall of the pgvector candidate path against exact search.

    PYTHONPATH=src .venv/bin/python benchmarks/pg_scale.py --sizes 10000
    PYTHONPATH=src .venv/bin/python benchmarks/pg_scale.py --sizes 10000,100000 --json

Both stores are filled with the same synthetic articles and stories (`store_scale.py`: real
analyses of the dev pairs' articles copied under new titles with perturbed vectors, over two
years), through each store's own `commit`; then `store_scale.py`'s probes run on each, every
one in a fresh process: 5 batches of 100 new articles through `StoryStore.add` (analysis
replaced by ready analyses, so clustering + index + commit are timed), then 10 warm searches.
The PostgreSQL server is a private pgserver one (PostgreSQL 16.2, pgvector 0.6.2) in
`/work/scale-data/pgserver`, on a Unix socket; stores go to `/work/scale-data`, never into the
repository.

Recall: 50 stored articles as queries, their 30 nearest neighbours within ±90 days (what
clustering asks), from `PgVectorIndex` on its default path (exact ranking up to
`pgstore.EXACT_ROWS` rows in the window, else HNSW over-fetch) and forced onto HNSW
(`exact_rows=0`), against exact search (`ShardedIndex` with every month searched exactly).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import store_scale
from store_scale import DATA, END, merge, plan, run_probe, story_batch, templates
from storylink.index import ShardedIndex
from storylink.pgstore import PgVectorIndex, PostgresStore

DAY = 86_400.0
QUERIES, K, WINDOW_DAYS = 50, 30, 90
EVERY_ROW = 10**9


def server() -> str:
    """The URI of the private benchmark server (started if it is not running)."""
    import pgserver

    directory = DATA / "pgserver"
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o755)  # run as root, pgserver runs the server as its own user
    uri: str = pgserver.get_server(directory, cleanup_mode=None).get_uri()
    return uri


def fresh_database(uri: str, name: str) -> str:
    import psycopg

    with psycopg.connect(uri, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name}")
        connection.execute(f"CREATE DATABASE {name}")
    return uri.replace("/postgres?", f"/{name}?", 1)


def fill_postgres(db: str, total: int, seed: int) -> dict[str, Any]:
    """`store_scale.fill`'s articles and stories, written through `PostgresStore.commit`."""
    pool = templates()
    rng = np.random.default_rng(seed)
    stories = plan(total, len(pool), rng)
    store = PostgresStore(db)
    seq, pending, written = 1, [], 0
    started = time.perf_counter()
    for story in stories:
        pending.append(story_batch(story, seq, pool, rng))
        seq += len(story.members)
        if seq - written - 1 >= store_scale.COMMIT_ARTICLES or story is stories[-1]:
            batch = merge(pending)
            store.commit(batch)
            written += len(batch.articles)
            pending = []
    fill_s = time.perf_counter() - started
    store.pg.execute("ANALYZE")
    size = store.pg.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    store.close()
    return {"fill_s": round(fill_s, 1), "db_gb": round(size / 2**30, 3)}


def recall(db: str, seed: int) -> dict[str, Any]:
    """Recall@K and latency of the pgvector paths against exact search (module docstring)."""
    store = PostgresStore(db)
    encoder = "use-m3"
    exact = ShardedIndex(store.dimension(encoder) or 0)
    exact.catch_up(lambda after: store.indexed_vectors(encoder, "document", after))
    index = PgVectorIndex(store, encoder, "document")
    rows = list(store.indexed_vectors(encoder, "document"))
    rng = np.random.default_rng(seed)
    found: dict[str, list[float]] = {"default": [], "hnsw": []}
    ms: dict[str, list[float]] = {"default": [], "hnsw": [], "exact": []}
    windows = []
    for position in rng.choice(len(rows), QUERIES, replace=False).tolist():
        _, ts, vector = rows[position]
        since = (ts or END.timestamp()) - WINDOW_DAYS * DAY
        until = (ts or END.timestamp()) + WINDOW_DAYS * DAY
        started = time.perf_counter()
        truth = {s for s, _ in exact.search(vector, K, since, until, exact_rows=EVERY_ROW)}
        ms["exact"].append(1000 * (time.perf_counter() - started))
        windows.append(sum(1 for _, t, _ in rows if t is None or since <= t <= until))
        for path, limit in (("default", None), ("hnsw", 0)):
            started = time.perf_counter()
            hits = index.search(vector, K, since, until, exact_rows=limit)
            ms[path].append(1000 * (time.perf_counter() - started))
            found[path].append(len({s for s, _ in hits} & truth) / len(truth))
    store.close()
    return {
        "indexed": len(rows),
        "window_rows_median": int(statistics.median(windows)),
        "recall_default": round(float(np.mean(found["default"])), 4),
        "recall_hnsw": round(float(np.mean(found["hnsw"])), 4),
        "recall_hnsw_min": round(float(np.min(found["hnsw"])), 4),
        "search_ms_default": round(statistics.median(ms["default"]), 2),
        "search_ms_hnsw": round(statistics.median(ms["hnsw"]), 2),
        "search_ms_exact_sharded": round(statistics.median(ms["exact"]), 2),
    }


def measure(size: int, seed: int) -> dict[str, Any]:
    sqlite_db = DATA / f"pgcmp-sqlite-{size}.db"
    started = time.perf_counter()
    sqlite_fill = store_scale.fill(sqlite_db, size, seed)
    sqlite = {"fill_s": round(time.perf_counter() - started, 1), "db_gb": sqlite_fill["db_gb"]}
    sqlite |= run_probe("ingest", sqlite_db, seed) | run_probe("search", sqlite_db, seed)
    postgres_db = fresh_database(server(), f"scale_{size}")
    postgres = fill_postgres(postgres_db, size, seed)
    postgres |= run_probe("ingest", postgres_db, seed)  # type: ignore[arg-type]
    postgres |= run_probe("search", postgres_db, seed)  # type: ignore[arg-type]
    return {"size": size, "sqlite": sqlite, "postgres": postgres} | {
        "recall": recall(postgres_db, seed)
    }


def lines(result: dict[str, Any]) -> list[str]:
    found = []
    for name in ("sqlite", "postgres"):
        r = result[name]
        found.append(
            f"| {result['size']:,} | {name} | {r['fill_s']:.0f} | {r['db_gb']:.2f} "
            f"| {r['ms_per_article']:.1f} ({r['cpu_ms_per_article']:.1f}) "
            f"| {r['first_batch_s']:.2f} | {r['search_warm_ms']:.1f} / {r['search_first_s']:.2f} |"
        )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--sizes", default="10000", help="stored articles, e.g. 10000,100000")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--json", action="store_true", help="also print the JSON results")
    args = parser.parse_args()
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        result = measure(size, args.seed)
        results.append(result)
        print(json.dumps(result), file=sys.stderr)
    print(
        "| stored | store | fill s | db GB | ms per new article (CPU) | first batch s "
        "| search warm ms / first s |"
    )
    print("|---|---|---|---|---|---|---|")
    for result in results:
        print("\n".join(lines(result)))
    print()
    print(
        "| stored | window rows (median) | recall@30 default path | recall@30 HNSW path (min) "
        "| ms default / HNSW / exact ShardedIndex |"
    )
    print("|---|---|---|---|---|")
    for result in results:
        r = result["recall"]
        print(
            f"| {result['size']:,} | {r['window_rows_median']:,} | {r['recall_default']:.3f} "
            f"| {r['recall_hnsw']:.3f} ({r['recall_hnsw_min']:.2f}) "
            f"| {r['search_ms_default']:.1f} / {r['search_ms_hnsw']:.1f} "
            f"/ {r['search_ms_exact_sharded']:.1f} |"
        )
    if args.json:
        print(json.dumps(results, indent=1))


if __name__ == "__main__":
    Path(DATA).mkdir(parents=True, exist_ok=True)
    main()
