"""Batch jobs for data teams: document vectors (`embed`) and pair scores (`score_pairs_table`)
of many articles, written to Parquet, on any engine (`executor.Engine`).

`embed`: one row per article (id, origin, language) and one vector column per encoder, null
where that encoder did not read the article: each article is read by its home encoder (USE
for its 16 languages, e5 for the rest, as in the story store), or with `only` by one encoder
for every language it knows. Rows are written a task at a time to a temporary file that
becomes the output when the run completes (and writes something), so memory stays bounded
and a broken run leaves no half-written file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .article import Article
from .compare import (
    CompareError,
    Comparer,
    PairScore,
    WorkerSetup,
    each_article,
    load_worker_models,
    worker_comparer,
)
from .encode import E5Encoder, UseEncoder
from .evaluate import LabelledPair, score_pairs
from .executor import TASK_ARTICLES, Engine, make_executor
from .fetch import Fetcher
from .language import UNDETERMINED, with_language
from .read import FieldNames, read_many
from .scorer import DIMENSIONS

ENCODERS = {UseEncoder.name: UseEncoder.dimension, E5Encoder.name: E5Encoder.dimension}

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Embedding:
    """An article's document vector from the encoder that read it (unit length)."""

    id: str
    origin: str
    language: str
    encoder: str
    vector: np.ndarray


@dataclass
class EmbedReport:
    """What `embed` read and wrote, and what it skipped (with the reason)."""

    read: int = 0
    written: int = 0
    duplicates: int = 0  # the same article (title and text) again: written once
    skipped: list[str] = field(default_factory=list)


def embed_article(article: Article, setup: WorkerSetup) -> Embedding:
    """The document vector of an article from its encoder; `CompareError` when no encoder
    knows its language."""
    encoders = worker_comparer(setup).encoders
    article = with_language(article)
    language = article.language or UNDETERMINED
    name = article.origin or article.id
    if language == UNDETERMINED:
        raise CompareError(f"{name}: cannot tell its language")
    try:
        encoder = encoders.choose([language])
    except ValueError as error:
        raise CompareError(f"{name}: {error}") from None
    vector = encoders.vectors(article, encoder).document_vector
    return Embedding(article.id, article.origin, language, encoder.name, vector)


def embed_chunk(articles: list[Article], setup: WorkerSetup) -> list[Embedding | str]:
    """Embed a task's articles; one that cannot be embedded becomes a message saying why."""
    return each_article(partial(embed_article, setup=setup), articles)


def _schema(encoders: Sequence[str]) -> pa.Schema:
    vectors = [pa.field(e, pa.list_(pa.float32(), ENCODERS[e])) for e in encoders]
    text = [pa.field(name, pa.string()) for name in ("id", "origin", "language")]
    return pa.schema([*text, *vectors])


def _table(rows: Sequence[Embedding], schema: pa.Schema, encoders: Sequence[str]) -> pa.Table:
    columns: list[pa.Array] = [
        pa.array([getattr(row, name) for row in rows], pa.string())
        for name in ("id", "origin", "language")
    ]
    for encoder in encoders:
        vectors = [row.vector if row.encoder == encoder else None for row in rows]
        columns.append(pa.array(vectors, schema.field(encoder).type))
    return pa.Table.from_arrays(columns, schema=schema)


def embed(
    sources: Sequence[str | Path],
    out: Path,
    fields: FieldNames | None = None,
    engine: Engine | None = None,
    only: str | None = None,
    progress: Progress | None = None,
    *,
    fetcher: Fetcher | None = None,
) -> EmbedReport:
    """Read `sources` (as `storylink ingest` does) and write the document vector of each
    article (each once) to the Parquet file `out`. The engine starts first: one that cannot
    run fails before any input is read."""
    if only is not None and only not in ENCODERS:
        raise ValueError(f"unknown encoder {only!r}; choose {' or '.join(ENCODERS)}")
    setup = WorkerSetup(only=only)
    encoders = [only] if only else list(ENCODERS)
    schema = _schema(encoders)
    executor = make_executor(engine or Engine(), partial(load_worker_models, setup))
    partial_out = out.with_name(out.name + ".part")
    try:
        read = read_many(sources, fields, fetcher=fetcher)
        report = EmbedReport(read=len(read.articles), skipped=[str(e) for e in read.errors])
        unique: dict[str, Article] = {}
        for article in read.articles:
            unique.setdefault(article.id, article)
        fresh = list(unique.values())
        report.duplicates = len(read.articles) - len(fresh)
        chunks = [fresh[i : i + TASK_ARTICLES] for i in range(0, len(fresh), TASK_ARTICLES)]
        done = 0
        with pq.ParquetWriter(partial_out, schema) as writer:
            for chunk, results in zip(
                chunks, executor.map(partial(embed_chunk, setup=setup), chunks), strict=True
            ):
                rows = [r for r in results if isinstance(r, Embedding)]
                report.skipped += [r for r in results if isinstance(r, str)]
                if rows:
                    writer.write_table(_table(rows, schema, encoders))
                report.written += len(rows)
                done += len(chunk)
                if progress:
                    progress(done, len(fresh))
        if report.written:  # else no file: nothing to read is not an empty table
            os.replace(partial_out, out)
    finally:
        executor.close()
        partial_out.unlink(missing_ok=True)
    return report


def score_pairs_table(
    pairs: Sequence[LabelledPair],
    comparer: Comparer | None = None,
    engine: Engine | None = None,
    progress: Progress | None = None,
) -> pa.Table:
    """Every pair's seven scores and same-story probability (`storylink compare`'s), one row
    per pair in input order; a pair that cannot be scored keeps its row, with the reason in
    `error` and no scores."""
    scored = score_pairs(pairs, comparer, progress=progress, engine=engine)
    ok = [s if isinstance(s, PairScore) else None for s in scored]
    columns: dict[str, pa.Array] = {
        "pair_id": pa.array([p.pair_id for p in pairs], pa.string()),
        "id_a": pa.array([p.a.id for p in pairs], pa.string()),
        "id_b": pa.array([p.b.id for p in pairs], pa.string()),
        "language_a": pa.array([s.language_a if s else None for s in ok], pa.string()),
        "language_b": pa.array([s.language_b if s else None for s in ok], pa.string()),
    }
    for dimension in DIMENSIONS:
        values = [s.scores[dimension] if s else None for s in ok]
        columns[dimension] = pa.array(values, pa.float64())
    columns["probability"] = pa.array([s.probability if s else None for s in ok], pa.float64())
    columns["same_story"] = pa.array([s.same_story if s else None for s in ok], pa.bool_())
    columns["error"] = pa.array([s if isinstance(s, str) else None for s in scored], pa.string())
    return pa.table(columns)


def write_table(table: pa.Table, out: Path) -> None:
    """Write a table to Parquet through a temporary file: `out` is whole or absent."""
    partial_out = out.with_name(out.name + ".part")
    try:
        pq.write_table(table, partial_out)
        os.replace(partial_out, out)
    finally:
        partial_out.unlink(missing_ok=True)
