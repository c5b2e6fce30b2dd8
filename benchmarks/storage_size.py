"""Bytes per stored article by component, and what the store's compact formats cost.

    .venv/bin/python benchmarks/storage_size.py ../shared/data/semeval8/dev_pairs.jsonl [--cv]

Ingests the pairs' articles into a scratch store as story ingest does (compact vectors), then
prints, all measured in one run:

* bytes per article beyond its title and text, per table and index (SQLite's `dbstat`: whole
  pages, as on disk), with the payload of the vector and analysis blobs;
* `prepared()` of one stored article at a time (as clustering loads them), ms per article;
* Pearson of the `use_best_match` feature over the pairs, stored against full float32 vectors;
* clustering F1 at the default parameters in-sample and, with `--cv`, with scorers refitted
  without each grouped fold (`cluster_quality.py`; 3 seeds × 5 folds).

Runs against whichever `storylink` is imported: `PYTHONPATH=<old checkout>/src` gives the
figures of an older format in the same conditions.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from cluster_quality import cross_validated, fold_scorers
from storylink.cluster import ClusterParams
from storylink.compare import Comparer
from storylink.encode import EncoderSet, UseEncoder
from storylink.evaluate import load_pairs
from storylink.features import PreparedArticle
from storylink.paths import cache_dir
from storylink.store import SQLiteStore
from storylink.stories import StoryStore, evaluate_clustering
from storylink.train import prepare_articles


def component_bytes(path: Path) -> dict[str, float]:
    """Bytes on disk per table and index (whole pages), with blob payloads split out."""
    db = sqlite3.connect(path)
    pages: dict[str, float] = defaultdict(float)
    for name, size in db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
        pages[name] += size
    text, analysis = db.execute(
        "SELECT SUM(LENGTH(CAST(title AS BLOB)) + LENGTH(CAST(text AS BLOB))), "
        "SUM(LENGTH(analysis)) FROM articles"
    ).fetchone()
    vectors = db.execute(
        "SELECT SUM(LENGTH(document)), SUM(COALESCE(LENGTH(title), 0)), SUM(LENGTH(sentences)) "
        "FROM vectors"
    ).fetchone()
    db.close()
    pages["articles (without title, text, analysis)"] = pages.pop("articles") - text - analysis
    pages["  analysis blob payload"] = analysis
    for name, size in zip(("document", "title", "sentences"), vectors, strict=True):
        pages[f"  vectors payload: {name}"] = size
    return pages


def best_match(a: PreparedArticle, b: PreparedArticle) -> float:
    """The `use_best_match` feature: mean best sentence cosine, both ways."""
    va, vb = a.vectors[UseEncoder.name], b.vectors[UseEncoder.name]
    similarity = va.sentence_vectors @ vb.sentence_vectors.T
    return float((similarity.max(axis=1).mean() + similarity.max(axis=0).mean()) / 2)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("pairs", type=Path)
    parser.add_argument("--cv", action="store_true", help="clustering F1 under grouped CV too")
    args = parser.parse_args()
    pairs = load_pairs(args.pairs)
    encoders = EncoderSet(cache_dir() / "embeddings.sqlite", threads=1)
    full = Comparer(encoders=encoders, compact_vectors=False, glance=False)
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "size.db"
        comparer = Comparer(encoders=encoders, compact_vectors=True, glance=False)
        with StoryStore(path, comparer=comparer) as stories:
            scores = evaluate_clustering(pairs, stories)
            count = stories.store.count("articles")
            print(f"{count} articles, clustering F1 in-sample {scores.f1:.3f}")
            if args.cv:
                trainer = Comparer(encoders=encoders)
                scorers = fold_scorers(pairs, (prepare_articles(pairs, trainer), trainer))
                runs = cross_validated(stories, pairs, ClusterParams(), scorers)
                f1 = [r.f1 for r in runs]
                print(f"clustering F1 CV {np.mean(f1):.3f} ({min(f1):.3f}–{max(f1):.3f})")
        components = component_bytes(path)
        print(f"\nbytes per article beyond title and text (file {path.stat().st_size / count:.0f})")
        for name, size in sorted(components.items(), key=lambda item: item[0]):
            print(f"  {name:44s} {size / count:8.0f}")
        total = sum(size for name, size in components.items() if not name.startswith("  "))
        print(f"  {'total':44s} {total / count:8.0f}")

        store = SQLiteStore(path)
        seqs = [m.seq for m in store.members()]
        store.prepared(seqs[:20])  # warm the per-word caches, as a running ingest has them
        started = time.perf_counter()
        stored = {seq: store.prepared([seq])[seq] for seq in seqs}
        took = (time.perf_counter() - started) / len(seqs) * 1000
        print(f"\nprepared() one article at a time: {took:.3f} ms per article")
        store.close()

    by_id = {p.article.id: p for p in stored.values()}
    kept, exact = [], []
    for pair in pairs:
        a, b = full.prepare(pair.a), full.prepare(pair.b)
        for side in (a, b):
            full.vectors(side, encoders.encoder(UseEncoder.name))
        kept.append(best_match(by_id[pair.a.id], by_id[pair.b.id]))
        exact.append(best_match(a, b))
    difference = np.abs(np.array(kept) - np.array(exact))
    print(
        f"use_best_match, stored vs full vectors over {len(pairs)} pairs: Pearson "
        f"{np.corrcoef(kept, exact)[0, 1]:.5f}, max |diff| {difference.max():.4f}"
    )


if __name__ == "__main__":
    main()
