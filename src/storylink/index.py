"""Nearest-neighbour search over article vectors (cosine), one index per encoder and view.

`VectorIndex` is the narrow interface clustering and search use: `add` labelled vectors with
their publication times, `search` the k best within a time range. `ShardedIndex` is the
embedded implementation, built so that the work per query follows the time window, not the
archive:

- **Monthly shards.** Rows are kept per calendar month (UTC) of publication, plus one shard of
  undated articles (an undated article rules nothing out, so it is always searched).
  Clustering asks for ±90 days, which touches at most seven months of a years-long archive.
- **int8 rows.** Each unit vector is stored as int8 with its own scale: 4x smaller than
  float32, and converting a gathered block to float32 is ~8x faster than from float16
  (RESULTS.md). Ranking changes only where cosines differ by less than the rounding (~0.004).
- **Append-only files.** Each shard is two files (`<month>.vec`: int8 rows, `<month>.rows`:
  label, time, scale, list per row) that only grow; `manifest.json` (written atomically after
  the store committed) says how many rows of each are real. A crash leaves rows past the
  manifest, which the next writer truncates, and articles the store has beyond `max_label`
  are added back from the store (`catch_up`). A missing or unreadable manifest rebuilds the
  index from the store. Readers memory-map the files, so a new process searches at once.
- **Inverted lists when shards are dense.** Once the index holds `TRAIN_AT` vectors it fits
  `LISTS` centroids on the first `TRAIN_AT` of them (by label, so a resumed ingest fits the
  same ones), and a shard holding more than `EXACT_ROWS` rows is searched in the `PROBES`
  lists nearest the query only (IVF, as pgvector's ivfflat or faiss do), or in fewer when a
  row budget is given (`max_rows`, faiss's `max_codes`: clustering's lookups stop at the
  nearest lists holding that many rows, so their work stops growing with the window's
  density). Smaller shards are searched exactly. Which path a query takes depends only on
  what was added before it, so "same input order, same stories" holds; recall against exact
  search is measured in `benchmarks/index_recall.py`.

Exact search was chosen over HNSW graphs (hnswlib, usearch, faiss) earlier because none gives
the same neighbours after a save and reload midway (`benchmarks/vector_index.py`); inverted
lists with fixed centroids do, and appending to them never rewrites a file.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)

ROW = np.dtype([("label", "<i8"), ("time", "<f8"), ("scale", "<f4"), ("list", "<i4")])
UNDATED = "undated"
TRAIN_AT = 16_384  # vectors after which inverted lists are fitted
LISTS = 512
PROBES = 64  # 1/8 of the lists: on real sentence vectors 90 % of neighbours at cosine >= 0.5
EXACT_ROWS = 8_192  # shards up to this size are searched exactly
KMEANS_ROUNDS = 8
CHUNK_ROWS = 1024  # rows scored at a time
SEED = 7
FORMAT = 1

Stored = Callable[[int], Iterable[tuple[int, float | None, np.ndarray]]]


class VectorIndex(Protocol):
    """What clustering and search need of a vector index (one encoder, one view)."""

    def __len__(self) -> int: ...

    @property
    def max_label(self) -> int: ...

    def add(
        self, labels: Sequence[int], vectors: np.ndarray, times: Sequence[float | None]
    ) -> None: ...

    def search(
        self,
        vector: np.ndarray,
        k: int,
        since: float | None = None,
        until: float | None = None,
        before: int | None = None,
        exact_rows: int | None = None,
        probes: int | None = None,
        max_rows: int | None = None,
    ) -> list[tuple[int, float]]: ...

    def background(self, vector: np.ndarray, sample: int = 256) -> tuple[float, float]: ...

    # kept in step with the store: rows added before a commit are saved by `flush` after it
    generation: str

    def flush(self) -> None: ...
    def remove(self, label: int) -> bool: ...
    def catch_up(self, stored: Stored) -> int: ...
    def saved_generation(self) -> str: ...


def quantise(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8 rows and each row's scale: `row ≈ int8 · scale`."""
    vectors = np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1)
    peak = np.abs(vectors).max(axis=1)
    scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    return np.rint(vectors / scale[:, None]).astype(np.int8), scale


def month_of(ts: float | None) -> str:
    """The shard of a publication time: its UTC month, or the undated shard."""
    if ts is None or math.isnan(ts):
        return UNDATED
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m")


def _month_span(key: str) -> tuple[float, float]:
    """First and last instant (exclusive end) of a monthly shard."""
    year, month = int(key[:4]), int(key[5:7])
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return start.timestamp(), end.timestamp()


class _Query:
    """A query vector, quantised like the rows: the int8 products then sum exactly in
    float32 (|sum| ≤ d·127² < 2²⁴ for d ≤ 1040), so a row scores the same bits in any
    block or order, and a resumed ingest decides exactly as an uninterrupted one."""

    def __init__(self, vector: np.ndarray) -> None:
        self.vector = np.asarray(vector, dtype=np.float32)
        values, scales = quantise(self.vector[None, :])
        self.values = values[0].astype(np.float32)
        self.scale = float(scales[0])


def _cosines(vectors: np.ndarray, rows: np.ndarray, query: _Query) -> np.ndarray:
    products: np.ndarray = (vectors.astype(np.float32) @ query.values) * rows["scale"]
    return products * np.float32(query.scale)


def index_scores(vectors: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Cosines of float rows with a query exactly as `ShardedIndex` scores them (both as
    int8): another index re-scores its candidates with it and finds what this one finds."""
    values, scales = quantise(vectors)
    rows = np.zeros(len(scales), ROW)
    rows["scale"] = scales
    return _cosines(values, rows, _Query(query))


def _gathered_cosines(
    vectors: np.ndarray, positions: np.ndarray | None, rows: np.ndarray, query: _Query
) -> np.ndarray:
    """`_cosines` of the rows at `positions` (None: the first `len(rows)`), gathered and
    converted `CHUNK_ROWS` at a time: each chunk stays in the CPU cache, 1.7x faster than one
    large float32 copy (RESULTS.md); the sums are exact, so the scores are the same bits."""
    found = np.empty(len(rows), np.float32)
    for start in range(0, len(rows), CHUNK_ROWS):
        end = min(start + CHUNK_ROWS, len(rows))
        block = vectors[start:end] if positions is None else vectors[positions[start:end]]
        found[start:end] = _cosines(block, rows[start:end], query)
    return found


class _Block:
    """Rows held together: a shard's committed part (memory-mapped) or its tail (in memory)."""

    def __init__(
        self, dimension: int, vectors: np.ndarray, rows: np.ndarray, mapped: bool = False
    ) -> None:
        self.dimension = dimension
        # plain views of a file's map: slicing a np.memmap costs ~10 µs of Python each time
        self.vectors = np.asarray(vectors)
        self.rows = np.asarray(rows)
        self.mapped = mapped  # `rows` is the rows file's map (else memory)
        self.count = len(rows)
        self._by_list: tuple[np.ndarray, np.ndarray] | None = None
        self._running_label: np.ndarray | None = None

    @classmethod
    def empty(cls, dimension: int) -> _Block:
        block = cls(dimension, np.empty((64, dimension), np.int8), np.empty(64, ROW))
        block.count = 0
        return block

    def append(self, vectors: np.ndarray, rows: np.ndarray) -> None:
        needed = self.count + len(rows)
        if needed > len(self.rows):  # grow by doubling: amortised O(1) per row
            capacity = max(needed, 2 * len(self.rows))
            grown = np.empty((capacity, self.dimension), np.int8)
            grown[: self.count] = self.vectors[: self.count]
            grown_rows = np.empty(capacity, ROW)
            grown_rows[: self.count] = self.rows[: self.count]
            self.vectors, self.rows = grown, grown_rows
        self.vectors[self.count : needed] = vectors
        self.rows[self.count : needed] = rows
        self.count = needed
        self._by_list = self._running_label = None

    def by_list(self) -> tuple[np.ndarray, np.ndarray]:
        """Row positions ordered by inverted list, and where each list starts in them (those
        of no list, -1, first): a probe then slices out its lists instead of testing every
        row. Kept until the rows change (a memory-mapped block's never do)."""
        if self._by_list is None:
            lists = self.live_rows()["list"] + 1
            order = np.argsort(lists, kind="stable")
            starts = np.zeros(LISTS + 2, np.int64)
            starts[1:] = np.cumsum(np.bincount(lists, minlength=LISTS + 1))
            self._by_list = order, starts
        return self._by_list

    def held_before(self, before: int | None) -> int:
        """How many rows were added before label `before` (all if None): rows come in label
        order, so they are a prefix (a removed row, label -1, keeps its place)."""
        if before is None:
            return self.count
        if self._running_label is None:
            self._running_label = np.maximum.accumulate(self.live_rows()["label"])
        return int(np.searchsorted(self._running_label, before))

    def list_sizes(self, before: int | None = None) -> np.ndarray:
        """Rows per inverted list (those of no list first); only those added before label
        `before` if given: the rows a re-clustered article met when it was ingested."""
        if before is None:
            return np.diff(self.by_list()[1])
        lists = self.live_rows()["list"][: self.held_before(before)]
        return np.bincount(lists + 1, minlength=LISTS + 1)

    def live_rows(self) -> np.ndarray:
        return self.rows[: self.count]

    def set_lists(self, lists: np.ndarray) -> None:
        """Every row's inverted list, as fitted lists assign them (rows held in memory)."""
        if self.mapped:  # a read-only map: hold the new lists in memory
            self.rows = np.array(self.live_rows())
            self.mapped = False
        self.live_rows()["list"] = lists
        self._by_list = None

    def select(self, probes: np.ndarray | None) -> np.ndarray | None:
        """Row positions in the probed lists (None: every row)."""
        if probes is None:
            return None
        order, starts = self.by_list()
        # rows of no list (-1) first, always; then the probed lists' (shifted by that one)
        slices = [order[starts[0] : starts[1]]]
        slices += [order[starts[p + 1] : starts[p + 2]] for p in probes.tolist()]
        return np.sort(np.concatenate(slices))

    def scores(
        self,
        query: _Query,
        positions: np.ndarray | None,
        since: float,
        until: float,
        before: int | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(labels, cosines) of the rows at `positions` whose time is in [since, until] or
        unknown (and whose label is below `before`)."""
        rows = self.live_rows() if positions is None else self.live_rows()[positions]
        times = rows["time"]
        keep = np.isnan(times) | ((times >= since) & (times <= until))
        keep &= rows["label"] >= 0  # not a removed row
        if before is not None:
            keep &= rows["label"] < before
        if not keep.all():
            positions = np.flatnonzero(keep) if positions is None else positions[keep]
            rows = rows[keep]
        return rows["label"], _gathered_cosines(self.vectors, positions, rows, query)


class _Shard:
    """One month's rows: what is in its files (`disk`) and what was added since (`tail`)."""

    def __init__(self, key: str, dimension: int, disk: _Block | None = None) -> None:
        self.key = key
        self.disk = disk
        self.tail = _Block.empty(dimension)
        self.span = (-math.inf, math.inf) if key == UNDATED else _month_span(key)

    def __len__(self) -> int:
        return (self.disk.count if self.disk else 0) + self.tail.count

    def held_before(self, before: int | None) -> int:
        """Rows held when the article labelled `before` was added (all if None)."""
        return sum(block.held_before(before) for block in self.blocks())

    def blocks(self) -> Iterator[_Block]:
        if self.disk is not None and self.disk.count:
            yield self.disk
        if self.tail.count:
            yield self.tail

    def overlaps(self, since: float, until: float) -> bool:
        return self.key == UNDATED or (self.span[0] <= until and self.span[1] > since)


class ShardedIndex:
    """Monthly shards of int8 rows, append-only on disk; see the module docstring."""

    def __init__(self, dimension: int, directory: str | Path | None = None) -> None:
        self.dimension = dimension
        self.directory = Path(directory) if directory else None
        self.generation = ""
        self._shards: dict[str, _Shard] = {}
        self._count = 0
        self._max_label = 0
        self._centroids: np.ndarray | None = None
        self._retrained = False  # lists of rows on disk changed: rewrite their files

    # ---------------------------------------------------------------- size

    def __len__(self) -> int:
        return self._count

    @property
    def max_label(self) -> int:
        return self._max_label

    @property
    def changed(self) -> bool:
        """Holds rows its files do not: `flush` has work to do."""
        return self._retrained or any(s.tail.count for s in self._shards.values())

    # ---------------------------------------------------------------- adding

    def add(
        self, labels: Sequence[int], vectors: np.ndarray, times: Sequence[float | None]
    ) -> None:
        """Add rows in label order (labels above every label already held)."""
        if not len(labels):
            return
        quantised, scales = quantise(vectors)
        rows = np.empty(len(labels), ROW)
        rows["label"] = labels
        rows["time"] = [math.nan if t is None else t for t in times]
        rows["scale"] = scales
        rows["list"] = self._lists_of(quantised, scales)
        keys = [month_of(t) for t in times]
        for key in dict.fromkeys(keys):
            chosen = np.array([k == key for k in keys])
            shard = self._shards.get(key)
            if shard is None:
                shard = self._shards[key] = _Shard(key, self.dimension)
            shard.tail.append(quantised[chosen], rows[chosen])
        before = self._count
        self._count += len(labels)
        self._max_label = max(self._max_label, int(max(labels)))
        if self._centroids is None and before < TRAIN_AT <= self._count:
            self._fit_lists()

    def remove(self, label: int) -> bool:
        """Take a row out of every search (a revised article's old vector): its label becomes
        -1, in memory and, for rows already in the files, in the files at once."""
        found = False
        for key, shard in self._shards.items():
            for block in shard.blocks():
                for position in np.flatnonzero(block.live_rows()["label"] == label).tolist():
                    found = True
                    if not block.mapped:
                        block.rows[position]["label"] = -1
                    if block is shard.disk and self.directory is not None:
                        with self._paths(key)[1].open("r+b") as rows:  # seen by the map too
                            rows.seek(position * ROW.itemsize)
                            rows.write(np.array([-1], "<i8").tobytes())
        return found

    def _lists_of(self, quantised: np.ndarray, scales: np.ndarray) -> np.ndarray:
        if self._centroids is None:
            return np.full(len(scales), -1, np.int32)
        vectors = quantised.astype(np.float32) * scales[:, None]
        return np.asarray(np.argmax(vectors @ self._centroids.T, axis=1), np.int32)

    def _fit_lists(self) -> None:
        """k-means on the first TRAIN_AT vectors by label (deterministic), then every row
        gets its list."""
        labels, vectors = [], []
        for shard in self._shards.values():
            for block in shard.blocks():
                labels.append(block.live_rows()["label"])
                vectors.append(block.vectors[: block.count].astype(np.float32))
        order = np.argsort(np.concatenate(labels), kind="stable")[:TRAIN_AT]
        sample = np.concatenate(vectors)[order]
        sample /= np.maximum(np.linalg.norm(sample, axis=1, keepdims=True), 1e-12)
        centroids = sample[np.linspace(0, len(sample) - 1, LISTS).astype(int)].copy()
        for _ in range(KMEANS_ROUNDS):
            nearest = np.argmax(sample @ centroids.T, axis=1)
            sums = np.zeros_like(centroids)
            np.add.at(sums, nearest, sample)
            filled = np.linalg.norm(sums, axis=1) > 0
            centroids[filled] = sums[filled] / np.linalg.norm(sums[filled], axis=1, keepdims=True)
        self._centroids = centroids.astype(np.float32)
        for shard in self._shards.values():
            for block in shard.blocks():
                scales = block.live_rows()["scale"]
                block.set_lists(self._lists_of(block.vectors[: block.count], scales))
        self._retrained = True
        log.info("vector index: %d inverted lists fitted on %d vectors", LISTS, TRAIN_AT)

    # ---------------------------------------------------------------- searching

    def search(
        self,
        vector: np.ndarray,
        k: int,
        since: float | None = None,
        until: float | None = None,
        before: int | None = None,
        exact_rows: int | None = None,
        probes: int | None = None,
        max_rows: int | None = None,
    ) -> list[tuple[int, float]]:
        """The k rows most similar to `vector` (best first, ties by label) among those
        published in [since, until] or undated, and labelled below `before` if given.
        Months of more than `exact_rows` rows (default `EXACT_ROWS`) are searched in the
        `probes` (default `PROBES`) inverted lists nearest the query, once they exist, and
        in fewer if those would hold more than `max_rows` rows of such months (the nearest
        lists that reach `max_rows`, as faiss's `max_codes`): the work of a query then stops
        growing with the window's density."""
        if k <= 0 or not self._count:
            return []
        low = -math.inf if since is None else since
        high = math.inf if until is None else until
        query = _Query(vector)
        limit = EXACT_ROWS if exact_rows is None else exact_rows
        shards = [s for s in self._shards.values() if s.overlaps(low, high)]
        # re-clustering (`before`): search as the index was when that article was added
        held = {key: shard.held_before(before) for key, shard in self._shards.items()}
        dense = {s.key for s in shards if held[s.key] > limit}
        lists = None
        if self._centroids is not None and sum(held.values()) >= TRAIN_AT:
            nearest = np.argsort(-(self._centroids @ query.vector), kind="stable")
            probed = PROBES if probes is None else probes
            if max_rows is not None:
                sizes = [
                    b.list_sizes(before)[1:] for s in shards if s.key in dense for b in s.blocks()
                ]
                if sizes:
                    reached = np.cumsum(np.sum(sizes, axis=0)[nearest]) >= max_rows
                    probed = min(probed, int(np.argmax(reached)) + 1 if reached.any() else probed)
            lists = np.sort(nearest[:probed])
        found_labels, found_scores = [], []
        for shard in shards:
            inverted = lists if shard.key in dense else None
            for block in shard.blocks():
                labels, scores = block.scores(query, block.select(inverted), low, high, before)
                found_labels.append(labels)
                found_scores.append(scores)
        if not found_labels:
            return []
        labels = np.concatenate(found_labels)
        scores = np.concatenate(found_scores)
        k = min(k, len(labels))
        if k <= 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k] if k < len(labels) else np.arange(k)
        order = np.lexsort((labels[top], -scores[top]))  # best first, ties by label
        return [(int(labels[top][i]), float(scores[top][i])) for i in order]

    def background(self, vector: np.ndarray, sample: int = 256) -> tuple[float, float]:
        """Centre and spread of the vector's cosine to a fixed sample of indexed vectors: what
        "unrelated" looks like in this space, to compare cosines across spaces. Median and
        scaled median absolute deviation, so that a story holding a large share of a small
        store does not pass for the background (RESULTS.md "Search that finds")."""
        blocks = [b for key in sorted(self._shards) for b in self._shards[key].blocks()]
        sizes = np.array([b.count for b in blocks])
        if not sizes.sum():
            return 0.0, 1.0
        picks = np.arange(sizes.sum())
        if len(picks) > sample:
            picks = np.sort(np.random.default_rng(SEED).choice(picks, sample, replace=False))
        starts = np.concatenate([[0], np.cumsum(sizes)])
        query = _Query(vector)
        values = []
        for block, start, end in zip(blocks, starts[:-1], starts[1:], strict=True):
            mine = picks[(picks >= start) & (picks < end)] - start
            if len(mine):
                values.append(_cosines(block.vectors[mine], block.live_rows()[mine], query))
        found = np.concatenate(values)
        centre = float(np.median(found))
        return centre, float(max(1.4826 * np.median(np.abs(found - centre)), 1e-3))

    # ---------------------------------------------------------------- files

    def flush(self) -> None:
        """Append the rows added since the last flush to the shard files, then the manifest
        (the commit point). Only the process that writes the store calls this."""
        if self.directory is None or not self.changed:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        if self._retrained:
            assert self._centroids is not None
            _atomic_write(self.directory / "centroids.npy", _npy_bytes(self._centroids))
        for key, shard in self._shards.items():
            vec_path, rows_path = self._paths(key)
            if self._retrained and shard.disk is not None and shard.disk.count:
                _atomic_write(rows_path, shard.disk.live_rows().tobytes())
            if not shard.tail.count:
                continue
            with vec_path.open("ab") as out:
                out.write(shard.tail.vectors[: shard.tail.count].tobytes())
            with rows_path.open("ab") as out:
                out.write(shard.tail.live_rows().tobytes())
        remap = [k for k, shard in self._shards.items() if shard.tail.count or self._retrained]
        self._retrained = False
        self._write_manifest()
        for key in remap:  # the files now hold everything: map them again
            self._shards[key] = self._mapped_shard(key, len(self._shards[key]))

    def _write_manifest(self) -> None:
        assert self.directory is not None
        self.generation = self.generation or os.urandom(8).hex()
        manifest = {
            "format": FORMAT,
            "dimension": self.dimension,
            "generation": self.generation,
            "count": self._count,
            "max_label": self._max_label,
            "lists": self._centroids is not None,
            "shards": {key: len(shard) for key, shard in sorted(self._shards.items())},
        }
        _atomic_write(self.directory / "manifest.json", json.dumps(manifest).encode())

    def _paths(self, key: str) -> tuple[Path, Path]:
        assert self.directory is not None
        return self.directory / f"{key}.vec", self.directory / f"{key}.rows"

    def _mapped_shard(self, key: str, count: int) -> _Shard:
        vec_path, rows_path = self._paths(key)
        vectors = np.memmap(vec_path, np.int8, "r", shape=(count, self.dimension))
        rows = np.memmap(rows_path, ROW, "r", shape=(count,))
        return _Shard(key, self.dimension, _Block(self.dimension, vectors, rows, mapped=True))

    @classmethod
    def open(
        cls, directory: str | Path, dimension: int, stored: Stored, writer: bool = False
    ) -> ShardedIndex:
        """The saved index, caught up with the store (`stored(after)` yields the store's
        (label, time, vector) with label > after, in order); rebuilt from the store when
        missing or unreadable. A `writer` also cuts rows a crash left past the manifest."""
        directory = Path(directory)
        index = cls(dimension, directory)
        problem = ""
        try:
            index._load(writer)
        except (OSError, ValueError, KeyError, TypeError) as error:
            problem = "missing" if isinstance(error, FileNotFoundError) else f"unreadable ({error})"
            if writer:  # files a partial index left would be appended to
                shutil.rmtree(directory, ignore_errors=True)
            index = cls(dimension, directory)
        added = index.catch_up(stored)
        if problem and added:
            log.warning(
                "vector index %s is %s: rebuilt from the database (%d articles)%s",
                directory,
                problem,
                added,
                "" if writer else "; `storylink doctor --repair` rewrites its files",
            )
        elif added and writer:  # a reader may be behind a live writer; a writer is not
            log.warning(
                "vector index %s was %d articles behind the database (an interrupted write): "
                "brought up to date",
                directory,
                added,
            )
        return index

    @classmethod
    def saved(cls, directory: str | Path, dimension: int) -> ShardedIndex:
        """The index exactly as its files hold it, not caught up (for `storylink doctor`);
        OSError, ValueError, KeyError or TypeError when they cannot be read."""
        index = cls(dimension, directory)
        index._load(writer=False)
        return index

    def contents(self) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        """(shard, rows, int8 vectors) of each block held, removed rows (label -1) included."""
        for key, shard in self._shards.items():
            for block in shard.blocks():
                yield key, block.live_rows(), block.vectors[: block.count]

    def _load(self, writer: bool) -> None:
        assert self.directory is not None
        manifest = json.loads((self.directory / "manifest.json").read_text())
        if manifest["format"] != FORMAT or manifest["dimension"] != self.dimension:
            raise ValueError(f"format {manifest['format']}, {manifest['dimension']}-d vectors")
        self.generation = str(manifest["generation"])
        for key, count in manifest["shards"].items():
            vec_path, rows_path = self._paths(key)
            sizes = (count * self.dimension, count * ROW.itemsize)
            for path, size in zip((vec_path, rows_path), sizes, strict=True):
                actual = path.stat().st_size
                if actual < size:
                    raise ValueError(f"{path.name} holds {actual} bytes, expected {size}")
                if writer and actual > size:
                    os.truncate(path, size)  # rows a crash left past the manifest
            if count:
                self._shards[key] = self._mapped_shard(key, count)
        if writer:  # a month first written by a flush that did not finish: its rows come back
            for path in self.directory.iterdir():  # from the store, not appended to these
                if path.suffix in (".vec", ".rows") and path.stem not in manifest["shards"]:
                    path.unlink()
        self._count = int(manifest["count"])
        self._max_label = int(manifest["max_label"])
        if manifest["lists"]:
            self._centroids = np.load(self.directory / "centroids.npy")

    def catch_up(self, stored: Stored) -> int:
        """Add what the store holds beyond `max_label`; returns how many rows were added."""
        added = 0
        batch: list[tuple[int, float | None, np.ndarray]] = []
        for item in stored(self._max_label):
            batch.append(item)
            if len(batch) == 4096:
                added += self._add_batch(batch)
                batch = []
        return added + self._add_batch(batch)

    def _add_batch(self, batch: list[tuple[int, float | None, np.ndarray]]) -> int:
        if batch:
            labels, times, vectors = zip(*batch, strict=True)
            self.add(labels, np.vstack(vectors), times)
        return len(batch)

    def saved_generation(self) -> str:
        """The generation the files on disk hold now (another process may have rebuilt them)."""
        if self.directory is None:
            return ""
        try:
            return str(json.loads((self.directory / "manifest.json").read_text())["generation"])
        except (OSError, ValueError, KeyError):
            return ""


def _npy_bytes(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _atomic_write(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    os.replace(partial, path)
