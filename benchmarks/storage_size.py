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

With `--options`, it only compares candidate formats of the sentence vectors on the pairs:
bytes per sentence and per article, and the `use_best_match` feature from each against full
vectors (Pearson, largest difference) and against gold Overall (sign flipped).

Runs against whichever `storylink` is imported: `PYTHONPATH=<old checkout>/src` gives the
figures of an older format in the same conditions (`--keep` saves that store).

    .venv/bin/python benchmarks/storage_size.py --scale STORE.db --articles 100000 [--no-vectors]

copies a store's rows (any schema version: the blobs are copied as they are) until it holds
`--articles` articles, opens it with this storylink (a v1 store is migrated: timed), then times
the story listings and entity filters at that size (median of 5, after one warm run).
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sqlite3
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from cluster_quality import cross_validated, fold_scorers
from storylink.cluster import ClusterParams
from storylink.compare import Comparer
from storylink.demo import example_articles
from storylink.encode import EncoderSet, UseEncoder, pack_vector, unpack_vector
from storylink.entities import search_key
from storylink.evaluate import LabelledPair, load_pairs
from storylink.features import BOILERPLATE, PreparedArticle
from storylink.paths import cache_dir
from storylink.store import SQLiteStore, StoryFilter
from storylink.stories import StoryStore, evaluate_clustering, pair_articles
from storylink.text import sentences
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
    pages["analysis blob"] = analysis
    for name, size in zip(("document", "title", "sentences"), vectors, strict=True):
        pages[f"  vectors payload: {name}"] = size or 0
    return pages


def print_components(path: Path, count: int) -> None:
    components = component_bytes(path)
    print(f"\nbytes per article beyond title and text (file {path.stat().st_size / count:.0f})")
    for name, size in sorted(components.items(), key=lambda item: item[0]):
        print(f"  {name:44s} {size / count:8.0f}")
    total = sum(size for name, size in components.items() if not name.startswith("  "))
    print(f"  {'total':44s} {total / count:8.0f}")


def best_match(a: PreparedArticle, b: PreparedArticle) -> float:
    """The `use_best_match` feature: mean best sentence cosine, both ways."""
    return matrix_best_match(
        a.vectors[UseEncoder.name].sentence_vectors, b.vectors[UseEncoder.name].sentence_vectors
    )


def matrix_best_match(a: np.ndarray, b: np.ndarray) -> float:
    similarity = a @ b.T
    return float((similarity.max(axis=1).mean() + similarity.max(axis=0).mean()) / 2)


def quantised(levels: int) -> Callable[[np.ndarray], np.ndarray]:
    """Rows rounded to integers in [-levels, levels] times each row's largest / levels."""

    def rounded(rows: np.ndarray) -> np.ndarray:
        scale = np.maximum(np.abs(rows).max(axis=1, keepdims=True), 1e-12) / levels
        values: np.ndarray = np.rint(rows / scale).clip(-levels, levels) * scale
        return values

    return rounded


def projected(
    basis: np.ndarray, dimensions: int, levels: int
) -> Callable[[np.ndarray], np.ndarray]:
    """Rows projected on the first `dimensions` of an orthonormal basis, quantised, and back."""
    kept = basis[:dimensions]

    def rounded(rows: np.ndarray) -> np.ndarray:
        back = quantised(levels)(rows @ kept.T) @ kept
        unit_rows: np.ndarray = back / np.maximum(
            np.linalg.norm(back, axis=1, keepdims=True), 1e-12
        )
        return unit_rows

    return rounded


def sentence_options(pairs: list[LabelledPair], encoders: EncoderSet) -> None:
    """Candidate formats of sentence vectors: size and the `use_best_match` feature."""
    use = encoders.encoder(UseEncoder.name)
    full = Comparer(encoders=encoders, compact_vectors=False, glance=False)
    rows, documents = {}, {}
    for article in pair_articles(pairs):
        vectors = full.vectors(full.prepare(article), use)
        rows[article.id] = vectors.sentence_vectors
        documents[article.id] = vectors.document_vector
    # a basis of USE sentence space from the project's own texts (never the pairs measured)
    texts = list(BOILERPLATE)
    for _, article in example_articles():
        texts += [article.title, *sentences(article.text)]
    basis = np.linalg.svd(use.encode(texts), full_matrices=False)[2]
    random_basis = np.linalg.qr(np.random.default_rng(0).standard_normal((512, 512)))[0].T
    first = quantised(127)
    options: dict[str, tuple[Callable[[np.ndarray], np.ndarray], int]] = {
        "float16 (v1)": (lambda m: m.astype(np.float16).astype(np.float32), 1024),
        "int8, 512-d": (quantised(127), 514),
        "int4, 512-d (v2)": (quantised(7), 258),
        "int3, 512-d": (quantised(3), 194),
        f"PCA of {len(texts)} project sentences, 256-d int8": (projected(basis, 256, 127), 258),
        "  same, 256-d int4": (projected(basis, 256, 7), 130),
        "  same, 128-d int8": (projected(basis, 128, 127), 130),
        "  same, 64-d int8": (projected(basis, 64, 127), 66),
        "random rotation, 256-d int8": (projected(random_basis, 256, 127), 258),
        "random rotation, 128-d int8": (projected(random_basis, 128, 127), 130),
        "int8, 512-d, first 16 sentences": (lambda m: first(m[:16]), 514),
        "int8, 512-d, first 8 sentences": (lambda m: first(m[:8]), 514),
    }
    exact = [matrix_best_match(rows[p.a.id], rows[p.b.id]) for p in pairs]
    gold = [-p.scores["overall"] for p in pairs]
    print(f"{len(rows)} articles, {np.mean([len(r) for r in rows.values()]):.1f} sentences each")
    print(f"use_best_match, full float32: Pearson with gold {np.corrcoef(exact, gold)[0, 1]:.4f}")
    print(f"{'format':48s} B/sentence B/article  r(full)  max|diff|  r(gold)")
    for name, (rounded, size) in options.items():
        kept = {key: rounded(matrix) for key, matrix in rows.items()}
        values = [matrix_best_match(kept[p.a.id], kept[p.b.id]) for p in pairs]
        per_article = np.mean([len(m) for m in kept.values()]) * size
        worst = np.abs(np.subtract(values, exact)).max()
        print(
            f"{name:48s} {size:10d} {per_article:9.0f}  {np.corrcoef(values, exact)[0, 1]:.5f}  "
            f"{worst:9.4f}  {np.corrcoef(values, gold)[0, 1]:.4f}"
        )
    print("document vectors: largest change of a pair's document cosine")
    formats: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "float16 (v1)": lambda v: v.astype(np.float16).astype(np.float32),
        "int8 (v2)": lambda v: unpack_vector(pack_vector(v)),
    }
    for name, rounded in formats.items():
        kept = {key: rounded(v) for key, v in documents.items()}
        change = max(
            abs(float(kept[p.a.id] @ kept[p.b.id] - documents[p.a.id] @ documents[p.b.id]))
            for p in pairs
        )
        print(f"  {name:16s} {change:.5f}")


# per table: its original rows, and how a copy differs (keys moved past the originals)
COPIED = {
    "articles": ("seq <= :articles", {"seq": "seq + :articles * :copy", "id": "id || :copy"}),
    "vectors": ("seq <= :articles", {"seq": "seq + :articles * :copy"}),
    "entities": (
        "rowid <= :entities",
        {"rowid": "rowid + :entities * :copy", "seq": "seq + :articles * :copy"},
    ),
    "entity_words": ("entity <= :entities", {"entity": "entity + :entities * :copy"}),
    "stories": (
        "id <= :stories",
        {"id": "id + :stories * :copy", "headline_seq": "headline_seq + :articles * :copy"},
    ),
    "memberships": (
        "seq <= :articles",
        {"seq": "seq + :articles * :copy", "story_id": "story_id + :stories * :copy"},
    ),
}


def replicate(source: Path, target: Path, articles: int, vectors: bool) -> int:
    """Whole copies of the source store's rows until the target holds at least `articles`
    articles; returns how many it holds."""
    shutil.copy(source, target)
    db = sqlite3.connect(target)
    db.execute("PRAGMA cache_size = -1000000")  # 1 GB: the indexes grow at random places
    if not vectors:
        with db:
            db.execute("DELETE FROM vectors")
    sizes = {
        table: db.execute(f"SELECT MAX({key}) FROM {table}").fetchone()[0] or 0
        for table, key in (("articles", "seq"), ("stories", "id"), ("entities", "rowid"))
    }
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    copies = -(-articles // sizes["articles"])
    for copy in range(1, copies):
        with db:
            for table in (t for t in COPIED if t in tables):
                original, shifted = COPIED[table]
                columns = [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
                columns = ["rowid", *columns] if table == "entities" else columns
                values = ", ".join(shifted.get(c, c) for c in columns)
                db.execute(
                    f"INSERT INTO {table} ({', '.join(columns)}) "
                    f"SELECT {values} FROM {table} WHERE {original}",
                    sizes | {"copy": copy},
                )
    db.close()
    return copies * sizes["articles"]


def timed_queries(store: SQLiteStore) -> None:
    """Median ms of the listings and entity filters (5 runs after a warm one)."""
    common = store._db.execute(
        "SELECT word FROM entity_words GROUP BY word ORDER BY COUNT(*) DESC LIMIT 1"
    ).fetchone()[0]
    filters = {
        "newest, 20": StoryFilter(),
        "largest, 20": StoryFilter(order="largest"),
        "newest, page 50": StoryFilter(offset=1000),
        f"entity {common!r} (most frequent word), newest": StoryFilter(entities=(common,)),
        f"entity {common!r}, largest": StoryFilter(entities=(common,), order="largest"),
        "entity 'Putin', newest": StoryFilter(entities=(search_key("Putin"),)),
        "entity 'Vladimir Putin' or 'Moscow'": StoryFilter(
            entities=(search_key("Vladimir Putin"), search_key("Moscow"))
        ),
        "language 'de', newest": StoryFilter(language="de"),
    }
    for name, where in filters.items():
        store.find_stories(where)
        runs = []
        for _ in range(5):
            started = time.perf_counter()
            found = store.find_stories(where)
            runs.append(time.perf_counter() - started)
        print(f"  {name:48s} {np.median(runs) * 1000:8.2f} ms  ({len(found)} stories)")


def scale(source: Path, articles: int, vectors: bool) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")  # migration
    with tempfile.TemporaryDirectory(dir=source.parent) as scratch:
        path = Path(scratch) / "scaled.db"
        started = time.perf_counter()
        articles = replicate(source, path, articles, vectors)
        print(f"copied to {articles} articles in {time.perf_counter() - started:.0f} s")
        version = sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0]
        started = time.perf_counter()
        store = SQLiteStore(path)
        took = time.perf_counter() - started
        if version != store.schema_version:
            print(
                f"migrated v{version} → v{store.schema_version} in {took:.0f} s "
                f"({took / articles * 100_000:.0f} s per 100k articles)"
            )
        count = store.count("stories")
        print(f"{store.count('articles')} articles, {count} stories: find_stories")
        timed_queries(store)
        store.close()
        print_components(path, articles)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("pairs", type=Path, nargs="?")
    parser.add_argument("--cv", action="store_true", help="clustering F1 under grouped CV too")
    parser.add_argument("--keep", type=Path, help="save the scratch store here")
    parser.add_argument("--scale", type=Path, help="a store to copy up to --articles")
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--no-vectors", action="store_true", help="--scale without vectors")
    parser.add_argument("--options", action="store_true", help="sentence vector formats")
    args = parser.parse_args()
    if args.scale:
        scale(args.scale, args.articles, not args.no_vectors)
        return
    pairs = load_pairs(args.pairs)
    encoders = EncoderSet(cache_dir() / "embeddings.sqlite", threads=1)
    if args.options:
        sentence_options(pairs, encoders)
        return
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
        if args.keep:
            shutil.copy(path, args.keep)
        print_components(path, count)

        store = SQLiteStore(path)
        seqs = [m.seq for m in store.members()]
        rounds = []
        for _ in range(6):  # the first round warms the per-word caches, as an ingest has them
            started = time.perf_counter()
            stored = {seq: store.prepared([seq])[seq] for seq in seqs}
            rounds.append((time.perf_counter() - started) / len(seqs) * 1000)
        print(
            f"\nprepared() one article at a time: {min(rounds[1:]):.3f} ms per article (best of "
            f"5 warm rounds; first round {rounds[0]:.3f})"
        )
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
