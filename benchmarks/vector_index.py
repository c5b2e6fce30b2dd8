"""Persistent nearest-neighbour index candidates for article document vectors.

    .venv/bin/python benchmarks/vector_index.py [--sizes 2000 20000 100000] [--dim 512]

Compares exact numpy brute force (a float32 matrix that doubles when full, argpartition) with
hnswlib, usearch and faiss-cpu (IndexIDMap over IndexHNSWFlat). The three libraries are optional
(`.venv/bin/pip install hnswlib usearch faiss-cpu`); a missing one is skipped.

Data: synthetic, L2-normalised float32 vectors made like news embeddings: 2,000 story centres
(each a mix of a shared direction, one of 40 topic directions and its own direction, so that
unrelated articles have cosine ~0.2, same topic ~0.4, same story ~0.75); each article is a
centre plus Gaussian noise, normalised. Story sizes are skewed and articles arrive in time
order (each story starts at a random time and its articles follow within a short span), so
one batch holds related articles, as a real feed does. Labels are sparse integers (like SQLite
rowids), increasing with arrival.

What storylink does is replayed: articles arrive in batches of 64; each batch first queries its
top-30 cosine neighbours among all earlier articles, then is added (single-threaded, so that
the graph is deterministic). Queries use 1 thread by default (`--threads 2` for two; numpy's
BLAS follows it): on a shared 2-core machine a second thread mostly waits for a busy core.
HNSW settings are the same for all three: M=16, ef_construction=100, ef_search=100 (options).
Each size and candidate runs in its own process, so peak RSS is the candidate's own:

- build s: the whole incremental replay (query + add of every batch); two runs, except brute
  force above --restart-max (exact, and O(n^2): one run);
- batch ms: mean time of one batch (query 64 + add 64) over the last 10% of the replay;
- recall@30 of the replay's queries against brute force; in brackets, only of the true
  neighbours with cosine >= 0.6 (the same-story range here), the ones clustering needs;
- lost %: share of the replay's queries that have a true neighbour at cosine >= 0.6 but whose
  best found neighbour is more than 0.1 below it, i.e. the query missed its story entirely
  (HNSW on tightly clustered data can get stuck in the wrong cluster);
- qps / recall: 1,024 held-out queries in calls of 64, k=30, against the full index (best of
  two); window: the same restricted to the newest 20% of labels (the recent time window; numpy
  slices, faiss IDSelectorRange, hnswlib a Python filter, usearch has no filter);
- file MB, save / load s (best of two), peak RSS and, in brackets, the RSS with the data alone;
- same result / file: two replays in the same order gave identical neighbours and scores /
  byte-identical saved files; restart: a replay that saves, reloads and goes on at the midpoint
  gives the same neighbours / file as an uninterrupted one (sizes up to --restart-max only);
- grow: the index starts small (capacity 1,024 where the library has one) and grows while
  adding (resizes counted); after loading from its file it takes 1,024 new vectors; in
  brackets the share of them that a k=1 query for the vector itself finds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from scorer_quality import table  # a benchmark beside this one: markdown tables

BATCH = 64
K = 30
M = 16  # HNSW graph degree (hnswlib M, usearch connectivity, faiss M)
EF_CONSTRUCTION = 100
EF_SEARCH = 100
INITIAL_CAPACITY = 1024
SEED = 100
STORIES, TOPICS = 2000, 40
HELD_OUT = 1024
NEAR = 0.6  # "same story" range of the synthetic data (same story ~0.75, same topic ~0.4)
WINDOW = 0.2  # newest share of the labels that a window query may return
QUERY_THREADS, ADD_THREADS = 1, 1  # --threads sets QUERY_THREADS (and numpy's BLAS threads)
CANDIDATES = ("numpy", "hnswlib", "usearch", "faiss")
PACKAGES = {"numpy": "numpy", "hnswlib": "hnswlib", "usearch": "usearch", "faiss": "faiss-cpu"}


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def make_data(n: int, dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectors in arrival order, their labels, and held-out query vectors."""
    rng = np.random.default_rng(seed)
    shared = unit(rng.standard_normal(dim))
    topics = unit(rng.standard_normal((TOPICS, dim)))
    own = unit(rng.standard_normal((STORIES, dim)))
    topic_of = rng.integers(0, TOPICS, STORIES)
    # squared weights: shared 0.2, topic 0.2, story 0.35, noise 0.25 (cosines ~0.2/0.4/0.75)
    centres = unit(0.2**0.5 * shared + 0.2**0.5 * topics[topic_of] + 0.35**0.5 * own)
    weight = rng.lognormal(0.0, 1.0, STORIES)
    start = rng.random(STORIES)
    total = n + HELD_OUT
    story = rng.choice(STORIES, total, p=weight / weight.sum())
    when = start[story] + rng.exponential(0.01, total)
    held_out = rng.choice(total, HELD_OUT, replace=False)
    kept = np.setdiff1d(np.arange(total), held_out)
    rows = np.concatenate([kept[np.argsort(when[kept], kind="stable")], held_out])
    out = np.empty((total, dim), dtype=np.float32)  # filled in chunks to keep peak RSS low
    for lo in range(0, total, 8192):
        chunk = centres[story[rows[lo : lo + 8192]]] * np.float32(0.75**0.5)
        chunk += rng.standard_normal(chunk.shape, dtype=np.float32) * np.float32(0.5 / dim**0.5)
        out[lo : lo + len(chunk)] = unit(chunk)
    labels = 1 + 3 * np.arange(n, dtype=np.int64)  # sparse, increasing, like rowids
    return out[:n], labels, out[n:]


class Candidate(Protocol):
    resizes: int

    def __len__(self) -> int: ...
    def add(self, labels: np.ndarray, vectors: np.ndarray) -> None: ...
    def query(
        self, q: np.ndarray, k: int, low: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]: ...
    def save(self, path: Path) -> None: ...


def padded(labels: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels (int64, -1 = none) and cosine scores (float32, -inf = none), k columns."""
    out_l = np.full((labels.shape[0], k), -1, dtype=np.int64)
    out_s = np.full((labels.shape[0], k), -np.inf, dtype=np.float32)
    out_l[:, : labels.shape[1]] = labels
    out_s[:, : labels.shape[1]] = scores
    return out_l, out_s


class Exact:
    """Brute force: a float32 matrix that doubles when full, and argpartition."""

    def __init__(self, dim: int, vectors: np.ndarray | None = None, labels: Any = None) -> None:
        self.resizes = 0
        if vectors is None:
            self.vectors = np.empty((INITIAL_CAPACITY, dim), dtype=np.float32)
            self.labels = np.empty(INITIAL_CAPACITY, dtype=np.int64)
            self.n = 0
        else:
            self.vectors, self.labels, self.n = vectors, labels, len(labels)

    def __len__(self) -> int:
        return self.n

    def add(self, labels: np.ndarray, vectors: np.ndarray) -> None:
        need = self.n + len(labels)
        if need > len(self.labels):
            size = max(need, 2 * len(self.labels))
            grown = np.empty((size, self.vectors.shape[1]), dtype=np.float32)
            grown[: self.n] = self.vectors[: self.n]
            self.vectors = grown
            self.labels = np.concatenate([self.labels[: self.n], np.empty(size - self.n, np.int64)])
            self.resizes += 1
        self.vectors[self.n : need] = vectors
        self.labels[self.n : need] = labels
        self.n = need

    def query(self, q: np.ndarray, k: int, low: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        if len(q) > BATCH:  # bound the score matrix
            parts = [self.query(q[i : i + BATCH], k, low) for i in range(0, len(q), BATCH)]
            return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
        first = 0 if low is None else int(np.searchsorted(self.labels[: self.n], low))
        kk = min(k, self.n - first)
        if kk <= 0:
            return padded(np.empty((len(q), 0), np.int64), np.empty((len(q), 0), np.float32), k)
        scores = q @ self.vectors[first : self.n].T
        top = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
        top_scores = np.take_along_axis(scores, top, axis=1)
        order = np.argsort(-top_scores, axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        return padded(self.labels[first + top], np.take_along_axis(top_scores, order, axis=1), k)

    def save(self, path: Path) -> None:
        with open(path, "wb") as f:
            np.savez(f, labels=self.labels[: self.n], vectors=self.vectors[: self.n])

    @classmethod
    def load(cls, path: Path, dim: int) -> Exact:
        with np.load(path) as data:
            return cls(dim, data["vectors"], data["labels"])


class Hnswlib:
    """hnswlib, space 'ip' on normalised vectors (distance = 1 - cosine)."""

    def __init__(self, dim: int, path: Path | None = None) -> None:
        import hnswlib

        self.resizes = 0
        self.index = hnswlib.Index(space="ip", dim=dim)
        if path is None:
            self.index.init_index(
                max_elements=INITIAL_CAPACITY,
                M=M,
                ef_construction=EF_CONSTRUCTION,
                random_seed=SEED,
            )
        else:
            self.index.load_index(str(path))  # max_elements as saved; add() resizes
        self.index.set_ef(EF_SEARCH)  # not saved in the file: load resets ef to 10

    def __len__(self) -> int:
        return int(self.index.get_current_count())

    def add(self, labels: np.ndarray, vectors: np.ndarray) -> None:
        need = len(self) + len(labels)
        if need > self.index.get_max_elements():
            self.index.resize_index(max(need, 2 * self.index.get_max_elements()))
            self.resizes += 1
        self.index.add_items(vectors, labels, num_threads=ADD_THREADS)

    def query(self, q: np.ndarray, k: int, low: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        kk = min(k, len(self))  # k > count raises; so does a filter that leaves < k
        if low is not None:
            kk = min(kk, len(self) - int(np.searchsorted(self._labels(), low)))
        if kk <= 0:
            return padded(np.empty((len(q), 0), np.int64), np.empty((len(q), 0), np.float32), k)
        keep: Callable[[int], bool] | None = None if low is None else (lambda x: x >= low)
        # a Python filter with 2 threads fights over the GIL (~30x slower): use 1
        threads = QUERY_THREADS if keep is None else 1
        labels, dist = self.index.knn_query(q, k=kk, num_threads=threads, filter=keep)
        return padded(labels.astype(np.int64), 1.0 - dist, k)

    def _labels(self) -> np.ndarray:
        if getattr(self, "_sorted", None) is None or len(self._sorted) != len(self):
            self._sorted = np.sort(np.asarray(self.index.get_ids_list(), dtype=np.int64))
        return self._sorted

    def save(self, path: Path) -> None:
        self.index.save_index(str(path))

    @classmethod
    def load(cls, path: Path, dim: int) -> Hnswlib:
        return cls(dim, path)


class Usearch:
    """usearch, metric 'ip', dtype f32 (the default dtype would be bf16 here)."""

    def __init__(self, dim: int, path: Path | None = None) -> None:
        from usearch.index import Index

        self.resizes = 0
        if path is None:
            self.index = Index(
                ndim=dim,
                metric="ip",
                dtype="f32",
                connectivity=M,
                expansion_add=EF_CONSTRUCTION,
                expansion_search=EF_SEARCH,
            )
        else:
            loaded = Index.restore(str(path))
            assert loaded is not None
            self.index = loaded
            # expansion_add/expansion_search are not in the file: set them again
            self.index.expansion_add = EF_CONSTRUCTION
            self.index.expansion_search = EF_SEARCH

    def __len__(self) -> int:
        return len(self.index)

    def add(self, labels: np.ndarray, vectors: np.ndarray) -> None:
        before = self.index.capacity
        self.index.add(labels.astype(np.uint64), vectors, threads=ADD_THREADS)  # 0 = all cores
        self.resizes += self.index.capacity != before

    def query(self, q: np.ndarray, k: int, low: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        if low is not None:
            raise NotImplementedError("no search filter in usearch's Python API")
        kk = min(k, len(self))
        if kk <= 0:
            return padded(np.empty((len(q), 0), np.int64), np.empty((len(q), 0), np.float32), k)
        found = self.index.search(q, kk, threads=QUERY_THREADS)
        labels = found.keys.astype(np.int64)
        scores = (1.0 - found.distances).astype(np.float32)
        missing = np.arange(kk)[None, :] >= found.counts[:, None]  # padded with key 0, dist nan
        labels[missing], scores[missing] = -1, -np.inf
        return padded(labels, scores, k)

    def save(self, path: Path) -> None:
        self.index.save(str(path))

    @classmethod
    def load(cls, path: Path, dim: int) -> Usearch:
        return cls(dim, path)


class Faiss:
    """faiss IndexIDMap(IndexHNSWFlat(METRIC_INNER_PRODUCT)): grows by itself."""

    def __init__(self, dim: int, path: Path | None = None) -> None:
        import faiss

        self.faiss, self.resizes = faiss, 0
        if path is None:
            hnsw = faiss.IndexHNSWFlat(dim, M, faiss.METRIC_INNER_PRODUCT)
            hnsw.hnsw.efConstruction = EF_CONSTRUCTION
            hnsw.hnsw.efSearch = EF_SEARCH  # saved in the file
            self.index = faiss.IndexIDMap(hnsw)
            self.hnsw = hnsw  # keep the inner index alive alongside the wrapper
        else:
            self.index = faiss.read_index(str(path))
            self.hnsw = faiss.downcast_index(self.index.index)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def add(self, labels: np.ndarray, vectors: np.ndarray) -> None:
        self.faiss.omp_set_num_threads(ADD_THREADS)
        self.index.add_with_ids(vectors, labels.astype(np.int64))

    def query(self, q: np.ndarray, k: int, low: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        if len(self) == 0:
            return padded(np.empty((len(q), 0), np.int64), np.empty((len(q), 0), np.float32), k)
        self.faiss.omp_set_num_threads(QUERY_THREADS)
        if low is None:
            scores, labels = self.index.search(q, k)
        else:
            selector = self.faiss.IDSelectorRange(low, 2**62)  # must outlive the search
            params = self.faiss.SearchParametersHNSW(efSearch=EF_SEARCH, sel=selector)
            scores, labels = self.index.search(q, k, params=params)
        scores[labels < 0] = -np.inf
        return labels.astype(np.int64), scores.astype(np.float32)

    def save(self, path: Path) -> None:
        self.faiss.write_index(self.index, str(path))

    @classmethod
    def load(cls, path: Path, dim: int) -> Faiss:
        return cls(dim, path)


FACTORIES: dict[str, Any] = {
    "numpy": Exact,
    "hnswlib": Hnswlib,
    "usearch": Usearch,
    "faiss": Faiss,
}


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def replay(
    make: Callable[[], Candidate],
    vectors: np.ndarray,
    labels: np.ndarray,
    restart_at: int | None = None,
    restart: Callable[[Candidate], Candidate] | None = None,
) -> tuple[Candidate, np.ndarray, np.ndarray, float, float]:
    """Query each batch among the earlier ones, then add it. Returns the index, the neighbours,
    their scores, the total seconds and the mean seconds per batch over the last 10%."""
    index = make()
    n = len(labels)
    found = np.full((n, K), -1, dtype=np.int64)
    scores = np.full((n, K), -np.inf, dtype=np.float32)
    tail_from = int(0.9 * n) // BATCH * BATCH
    spent = tail = 0.0
    for start in range(0, n, BATCH):
        if restart is not None and start == restart_at:
            index = restart(index)  # not timed
        t = time.perf_counter()
        stop = min(start + BATCH, n)
        if start:
            found[start:stop], scores[start:stop] = index.query(vectors[start:stop], K)
        index.add(labels[start:stop], vectors[start:stop])
        took = time.perf_counter() - t
        spent += took
        if start >= tail_from:
            tail += took
    batches = max(1, (n - tail_from + BATCH - 1) // BATCH)
    return index, found, scores, spent, tail / batches


def recall(found: np.ndarray, truth: np.ndarray, scores: np.ndarray | None = None) -> float:
    """Share of the true neighbours (label >= 0) that were found; with the true scores, only
    of those with cosine >= NEAR."""
    hits = wanted = 0
    for lo in range(0, len(found), 4096):
        f, t = found[lo : lo + 4096], truth[lo : lo + 4096]
        want = t >= 0
        if scores is not None:
            want &= scores[lo : lo + 4096] >= NEAR
        match = (f[:, :, None] == t[:, None, :]) & want[:, None, :]
        hits += int(match.any(axis=1).sum())
        wanted += int(want.sum())
    return hits / max(1, wanted)


def lost(scores: np.ndarray, truth_scores: np.ndarray) -> float:
    """Share of the queries with a true neighbour at cosine >= NEAR whose best found neighbour
    is more than 0.1 below it: the query missed its story altogether."""
    has = truth_scores[:, 0] >= NEAR
    return float(np.mean(scores[has, 0] < truth_scores[has, 0] - 0.1)) if has.any() else 0.0


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def batched_query(
    index: Candidate, q: np.ndarray, low: int | None = None
) -> tuple[np.ndarray, np.ndarray, float]:
    """Held-out queries in calls of BATCH; best time of two."""
    best = float("inf")
    for _ in range(2):
        t = time.perf_counter()
        parts = [index.query(q[i : i + BATCH], K, low) for i in range(0, len(q), BATCH)]
        best = min(best, time.perf_counter() - t)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), best


def worker(name: str, n: int, dim: int, truth_path: Path, restart_max: int) -> dict[str, Any]:
    factory = FACTORIES[name]
    vectors, labels, held_out = make_data(n, dim)
    out: dict[str, Any] = {"rss_data": rss_mb()}
    tmp = Path(tempfile.mkdtemp(prefix=f"vi-{name}-"))
    try:
        runs = []
        # brute force's replay is O(n^2) and exact: run it once above --restart-max
        reps = 1 if name == "numpy" and n > restart_max else 2
        for rep in range(reps):
            index, found, scores, spent, per_batch = replay(lambda: factory(dim), vectors, labels)
            index.save(tmp / f"run{rep}")
            runs.append((found, scores, spent, per_batch, digest(tmp / f"run{rep}")))
            if rep < reps - 1:
                del index  # keep only one index alive at a time
        out["build"] = [r[2] for r in runs]
        out["batch_ms"] = min(r[3] for r in runs) * 1000
        out["resizes"] = index.resizes
        out["same"] = out["same_file"] = None
        if len(runs) == 2:
            same = np.array_equal(runs[0][0], runs[1][0]) and np.array_equal(runs[0][1], runs[1][1])
            out["same"] = bool(same)
            out["same_file"] = runs[0][4] == runs[1][4]
        found = runs[0][0]
        if name == "numpy":
            with open(truth_path, "wb") as f:
                np.savez(f, labels=found, scores=runs[0][1])
        with np.load(truth_path) as saved:
            truth, truth_scores = saved["labels"], saved["scores"]
        out["recall"] = recall(found, truth)
        out["recall_near"] = recall(found, truth, truth_scores)
        out["lost"] = lost(runs[0][1], truth_scores)

        exact = Exact(dim, vectors, labels)
        true_q, _ = exact.query(held_out, K)
        found_q, _, took = batched_query(index, held_out)
        out["qps"], out["recall_q"] = HELD_OUT / took, recall(found_q, true_q)
        low = int(labels[int((1 - WINDOW) * n)])
        true_w, _ = exact.query(held_out, K, low)
        try:
            found_w, _, took = batched_query(index, held_out, low)
            out["qps_w"], out["recall_w"] = HELD_OUT / took, recall(found_w, true_w)
        except NotImplementedError:
            out["qps_w"] = out["recall_w"] = None

        path = tmp / "index"
        saves = []
        for _ in range(2):
            t = time.perf_counter()
            index.save(path)
            saves.append(time.perf_counter() - t)
        out["save"] = min(saves)
        out["file_mb"] = path.stat().st_size / 2**20
        del index
        loads = []
        for _ in range(2):
            t = time.perf_counter()
            loaded = factory.load(path, dim)
            loads.append(time.perf_counter() - t)
            if len(loads) == 1:
                del loaded
        out["load"] = min(loads)
        again, _ = loaded.query(held_out, K)
        out["load_same"] = bool(np.array_equal(again, found_q))
        extra = 1 + 3 * n + 3 * np.arange(HELD_OUT, dtype=np.int64)
        loaded.add(extra, held_out)  # grows past the saved size
        top, _ = loaded.query(held_out, 1)
        out["grow"] = len(loaded) == n + HELD_OUT
        out["self_found"] = float(np.mean(top[:, 0] == extra))
        del loaded

        out["restart"] = None
        if n <= restart_max:
            middle = n // 2 // BATCH * BATCH

            def restart(index: Candidate) -> Candidate:
                index.save(tmp / "middle")
                return factory.load(tmp / "middle", dim)

            index, found_r, _, _, _ = replay(lambda: factory(dim), vectors, labels, middle, restart)
            index.save(tmp / "restarted")
            out["restart"] = bool(np.array_equal(found_r, runs[0][0]))
            out["restart_file"] = digest(tmp / "restarted") == runs[0][4]
            del index
            out["restart_recall"] = recall(found_r, truth)
            out["restart_near"] = recall(found_r, truth, truth_scores)
        out["rss_peak"] = rss_mb()
    finally:
        for p in tmp.iterdir():
            p.unlink()
        tmp.rmdir()
    return out


def installed(name: str) -> str | None:
    try:
        return version(PACKAGES[name])
    except PackageNotFoundError:
        return None


def yes_no(value: bool | None) -> str:
    return "n/a" if value is None else ("yes" if value else "NO")


def data_summary(dim: int) -> str:
    vectors, _, _ = make_data(4000, dim, seed=1)
    cos = vectors[:2000] @ vectors[2000:].T
    nearest = np.sort(vectors[:500] @ vectors.T, axis=1)[:, -2 - K : -1]
    return (
        f"median cosine of two articles {np.median(cos):.2f}; at 4k articles the 1st/30th "
        f"neighbour has mean cosine {nearest[:, -1].mean():.2f}/{nearest[:, 0].mean():.2f}"
    )


def main(argv: Sequence[str] | None = None) -> None:
    global QUERY_THREADS, M, EF_CONSTRUCTION, EF_SEARCH
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000, 100000])
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--only", nargs="+", choices=CANDIDATES, default=list(CANDIDATES))
    parser.add_argument("--restart-max", type=int, default=20000, help="largest size to restart")
    parser.add_argument("--threads", type=int, choices=(1, 2), default=1, help="query threads")
    parser.add_argument("--m", type=int, default=M, help="HNSW M")
    parser.add_argument("--ef-construction", type=int, default=EF_CONSTRUCTION)
    parser.add_argument("--ef-search", type=int, default=EF_SEARCH)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--truth", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    QUERY_THREADS, M = args.threads, args.m
    EF_CONSTRUCTION, EF_SEARCH = args.ef_construction, args.ef_search
    if args.worker:
        result = worker(args.worker, args.sizes[0], args.dim, args.truth, args.restart_max)
        print(json.dumps(result))
        return

    began = time.perf_counter()
    names = [name for name in args.only if installed(name)]
    if "numpy" not in names:
        names.insert(0, "numpy")  # the ground truth comes from brute force
    for name in args.only:
        if not installed(name):
            print(f"skipped {name}: `.venv/bin/pip install {PACKAGES[name]}`")
    versions = ", ".join(f"{PACKAGES[n]} {installed(n)}" for n in names)
    print(f"Python {platform.python_version()}, {os.cpu_count()} cores; {versions}")
    print(
        f"dim {args.dim}, batches of {BATCH}, k={K}; HNSW M={M}, ef_construction="
        f"{EF_CONSTRUCTION}, ef_search={EF_SEARCH}; add {ADD_THREADS} thread, "
        f"query {QUERY_THREADS} threads"
    )
    print(f"data: {data_summary(args.dim)}\n")
    # PASSIVE: idle OpenMP threads sleep instead of spinning; with faiss's default (spin) a
    # 2-thread search of 64 queries on a busy 2-core machine made a batch ~4x slower
    blas = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    threads = {v: str(args.threads) for v in blas}
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", **threads)
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    rows = []
    with tempfile.TemporaryDirectory(prefix="vector-index-") as tmp:
        for n in args.sizes:
            truth = Path(tmp) / f"truth-{n}.npz"
            for name in names:
                command = [sys.executable, __file__, "--worker", name, "--sizes", str(n)]
                command += ["--dim", str(args.dim), "--truth", str(truth)]
                command += ["--restart-max", str(args.restart_max), "--threads", str(args.threads)]
                command += ["--m", str(M), "--ef-construction", str(EF_CONSTRUCTION)]
                command += ["--ef-search", str(EF_SEARCH)]
                t = time.perf_counter()
                done = subprocess.run(command, env=env, capture_output=True, text=True)
                if done.returncode:
                    print(f"{name} at {n} failed:\n{done.stderr[-3000:]}")
                    if name == "numpy":
                        break  # no ground truth for the others
                    continue
                r = json.loads(done.stdout.strip().splitlines()[-1])
                took = time.perf_counter() - t
                print(f"  {n:>6} {name:<8} done in {took:5.1f} s", file=sys.stderr)
                window = "n/a" if r["qps_w"] is None else f"{r['qps_w']:,.0f} / {r['recall_w']:.3f}"
                restart = yes_no(r["restart"])
                if r["restart"] is not None:
                    restart += f" / {yes_no(r['restart_file'])} ({r['restart_recall']:.3f})"
                rows.append(
                    [
                        f"{n:,}",
                        name,
                        " / ".join(f"{b:.1f}" for b in r["build"]),
                        f"{r['batch_ms']:.1f}",
                        f"{r['recall']:.3f} ({r['recall_near']:.3f})",
                        f"{100 * r['lost']:.1f}",
                        f"{r['qps']:,.0f} / {r['recall_q']:.3f}",
                        window,
                        f"{r['file_mb']:.1f}",
                        f"{r['save']:.3f} / {r['load']:.3f}",
                        f"{r['rss_peak']:.0f} ({r['rss_data']:.0f})",
                        yes_no(r["same"]) + " / " + yes_no(r["same_file"]),
                        restart,
                        f"{yes_no(r['grow'])} ({r['resizes']}, {100 * r['self_found']:.1f}%)",
                    ]
                )
    print()
    table(
        [
            "n",
            "index",
            "build s (runs)",
            "batch ms",
            f"recall@30 (cos>={NEAR})",
            "lost %",
            "qps / recall",
            "window qps / recall",
            "file MB",
            "save / load s",
            "peak RSS MB (data)",
            "same result / file",
            "restart same result / file (recall)",
            "grow (resizes, self found)",
        ],
        rows,
    )
    print("load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    print(f"total {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
