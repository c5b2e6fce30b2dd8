"""The story store: ingest article streams, group them into stories, query them.

    >>> from storylink import StoryStore
    >>> with StoryStore("stories.db") as stories:                  # doctest: +SKIP
    ...     stories.ingest(["feeds/", "wires.jsonl"])
    ...     for story in stories.stories(limit=5):
    ...         print(story.headline, story.languages)
    ...     hits = stories.search("earthquake in Izmir")           # any language finds any

Pipeline per batch: read → analyse (language, names, dates, numbers, home-encoder vectors; in
worker processes with `workers > 1`) → assign each article to a story (`cluster.py`, in input
order) → one transaction in the store. Nearest-neighbour indexes (`index.py`) sit beside the
database file, one per encoder.
"""

from __future__ import annotations

import fcntl
import json
import logging
import math
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from .article import Article
from .cluster import ClusterParams, Decision, OnlineClusterer
from .compare import Comparer, analyse_chunk
from .encode import EncoderSet
from .entities import search_key
from .evaluate import (
    ClusteringScores,
    LabelledPair,
    labelled_story_pairs,
    pairwise_clustering,
)
from .executor import InProcess, make_executor
from .features import PreparedArticle, title_vector
from .fetch import Fetcher
from .index import VectorIndex
from .language import detect_language
from .read import FieldNames, read_many
from .store import Batch, Member, SQLiteStore, Store, StoreError, StoryFilter, StoryRow

log = logging.getLogger(__name__)

DEFAULT_DB = "stories.db"
BATCH_SIZE = 64
PREPARED_CACHE = 4096  # analysed articles kept in memory for comparisons
KEY_ENTITIES = 12
PARAMS_SETTING = "cluster_params"
MIN_BACKGROUND = 30  # indexed articles needed to search a second encoder space
ORDERS = ("newest", "largest", "grown")
REVISIONS_SETTING = "revisions"  # counts revised articles: other readers re-read indexes


@dataclass(frozen=True)
class StoryArticle:
    """One article of a story, as a timeline entry."""

    id: str
    seq: int
    title: str
    language: str
    source: str | None
    url: str | None
    published: datetime | None
    origin: str
    centrality: float

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["published"] = self.published.isoformat() if self.published else None
        data["centrality"] = round(self.centrality, 4)
        return data


@dataclass(frozen=True)
class EntityCount:
    """A name the story's articles mention, and in how many of them."""

    kind: str
    label: str
    articles: int


@dataclass(frozen=True)
class Story:
    """A story: articles about one event, in any languages, with its headline and key names."""

    id: int
    headline: str
    headline_article: str
    size: int
    languages: list[str]  # most articles first
    sources: list[str]
    first_seen: datetime | None
    last_seen: datetime | None
    timeline: list[StoryArticle]  # by publication time
    entities: list[EntityCount]  # people and organisations
    places: list[EntityCount]
    grown_at: datetime | None = None  # when it last gained an article

    def by_language(self) -> dict[str, list[StoryArticle]]:
        """The timeline grouped by language, in the order of `languages`."""
        groups: dict[str, list[StoryArticle]] = {lang: [] for lang in self.languages}
        for item in self.timeline:
            groups[item.language].append(item)
        return groups

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "headline": self.headline,
            "headline_article": self.headline_article,
            "size": self.size,
            "languages": self.languages,
            "sources": self.sources,
            "first_seen": self.first_seen.isoformat() if self.first_seen else None,
            "last_seen": self.last_seen.isoformat() if self.last_seen else None,
            "entities": [asdict(e) for e in self.entities],
            "places": [asdict(p) for p in self.places],
            "grown_at": self.grown_at.isoformat() if self.grown_at else None,
            "timeline": [a.to_dict() for a in self.timeline],
        }


@dataclass(frozen=True)
class SearchHit:
    """An article that matches a query or another article, with its story."""

    article: StoryArticle
    story_id: int
    similarity: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "story_id": self.story_id,
            "similarity": round(self.similarity, 4),
            "article": self.article.to_dict(),
        }


@dataclass
class IngestReport:
    """What an ingest did: counts, and every input or article it had to skip, with why."""

    read: int = 0
    added: int = 0
    duplicates: int = 0
    new_stories: int = 0
    joined: int = 0
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0
    revised: int = 0  # stored articles replaced by a new text under the same URL

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"seconds": round(self.seconds, 3)}


class StoryStore:
    """Stories in a database: `ingest`, `stories`, `story`, `search`, `related`, `export`.

    Parameters are fixed at construction (scikit-learn style); `recluster(params)` rebuilds
    every story with new ones. One process writes at a time (a lock file beside the database).
    """

    def __init__(
        self,
        path: str | Path = DEFAULT_DB,
        params: ClusterParams | None = None,
        comparer: Comparer | None = None,
        store: Store | None = None,
        workers: int = 1,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.path = Path(path)
        # one BLAS thread: two threads are 1.4x faster on an idle machine but several times
        # slower when another job holds a core (RESULTS.md); `workers=2` uses both cores
        self.comparer = comparer or Comparer(
            encoders=EncoderSet(None, threads=1), compact_vectors=True, glance=False
        )
        self.store: Store = store or SQLiteStore(self.path)
        saved = self.store.setting(PARAMS_SETTING)
        # the parameters a database was clustered with stay its parameters until changed
        self.params = params or (ClusterParams.from_dict(saved) if saved else ClusterParams())
        self.workers = workers
        self.batch_size = batch_size
        self._indexes: dict[str, VectorIndex] = {}
        self._rebuilding = False
        self._cache: OrderedDict[int, PreparedArticle] = OrderedDict()
        self._saved: set[tuple[int, str]] = set()  # (seq, encoder) of vectors in the store
        self._live: tuple[OnlineClusterer, int] | None = None  # state, next seq it expects
        self._seen: tuple[int, Any] | None = None  # what `catch_up` last saw of the store

    def __enter__(self) -> StoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.save_indexes()
        self.store.close()

    # ---------------------------------------------------------------- indexes and cache

    def _index_path(self, key: str) -> Path:
        return self.path.with_name(f"{self.path.name}.{key}.npz")

    def _index(
        self, encoder: str, dimension: int | None = None, view: str = "document"
    ) -> VectorIndex | None:
        """The index of an encoder's document (or title) vectors, opened and caught up with the
        store on first use; saved as `<db>.<encoder>.npz` (titles: `<db>.<encoder>.title.npz`)."""
        key = encoder if view == "document" else f"{encoder}.{view}"
        if key not in self._indexes:
            if self._rebuilding:
                if dimension is None:
                    return None
                self._indexes[key] = VectorIndex(dimension)
                return self._indexes[key]
            stored = self.store.document_vectors if view == "document" else self.store.title_vectors
            if dimension is None:
                first = next(stored(encoder), None)
                if first is None:
                    return None
                dimension = len(first[1])
            self._indexes[key] = VectorIndex.open(
                self._index_path(key), dimension, partial(stored, encoder)
            )
        return self._indexes[key]

    def save_indexes(self) -> None:
        """Write the indexes that gained vectors since they were read or written."""
        if self._seen is not None and self.store.setting(REVISIONS_SETTING) != self._seen[1]:
            return  # a reader (`catch_up`) whose vectors another process has since revised
        for key, index in self._indexes.items():
            if index.changed:
                index.save(self._index_path(key))

    def _neighbours(self, encoder: str, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        index = self._index(encoder)
        return index.search(vector, k) if index is not None else []

    def _load(self, seq: int) -> PreparedArticle:
        prepared = self._cache.get(seq)
        if prepared is None:
            prepared = self.store.prepared([seq])[seq]
            self._saved.update((seq, e) for e in prepared.vectors)
            self._remember(seq, prepared)
        else:
            self._cache.move_to_end(seq)
        return prepared

    def _remember(self, seq: int, prepared: PreparedArticle) -> None:
        self._cache[seq] = prepared
        while len(self._cache) > PREPARED_CACHE:
            self._cache.popitem(last=False)

    def _resumed(self) -> OnlineClusterer:
        """The clustering state of the store, kept between `add` calls while nobody else
        writes (checked by the next ingestion number); rebuilt from the store otherwise."""
        next_seq = self.store.next_seq()
        if self._live is None or self._live[1] != next_seq or self._live[0].params != self.params:
            self._indexes.clear()  # another writer may have added articles: catch up too
            self._live = (self._clusterer(self.params, restore=True), next_seq)
        return self._live[0]

    def _clusterer(self, params: ClusterParams, restore: bool) -> OnlineClusterer:
        clusterer = OnlineClusterer(self.comparer, self._neighbours, self._load, params)
        if restore:
            members = [m for m in self.store.members() if m.story_id is not None]
            documents: dict[int, np.ndarray] = {}
            for encoder in sorted({m.encoder for m in members}):
                documents.update(self.store.document_vectors(encoder))
            for m in members:
                assert m.story_id is not None
                clusterer.restore(m.seq, m.encoder, documents[m.seq], m.published_ts, m.story_id)
            clusterer.finish_restore()
        return clusterer

    # ---------------------------------------------------------------- writing

    def _lock(self) -> Any:
        """Hold the writer lock: a second ingest into the same database fails clearly."""
        handle = open(self.path.with_name(self.path.name + ".lock"), "w")  # noqa: SIM115
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise StoreError(f"{self.path}: another storylink process is writing to it") from None
        return handle

    def ingest(
        self,
        sources: Sequence[str | Path],
        fields: FieldNames | None = None,
        on_progress: Callable[[int, int], None] | None = None,
        *,
        fetcher: Fetcher | None = None,
    ) -> IngestReport:
        """Read files, directories, globs or URLs (fetched through `fetcher`: by default public
        addresses only) and add their articles; bad inputs are reported in
        `IngestReport.skipped`, the rest is kept."""
        report = read_many(sources, fields, fetcher=fetcher)
        result = self.add(report.articles, on_progress)
        result.skipped[:0] = [str(error) for error in report.errors]
        return result

    def add(
        self,
        articles: Iterable[Article],
        on_progress: Callable[[int, int], None] | None = None,
    ) -> IngestReport:
        """Add articles (already read) and assign each new one to a story, in input order.

        Articles already in the store (same title and text) are counted as duplicates and
        left alone, so ingesting the same input twice adds nothing.
        """
        started = time.perf_counter()
        lock = self._lock()
        try:
            articles = list(articles)
            report = IngestReport(read=len(articles))
            known = self.store.known_ids([a.id for a in articles])
            fresh: list[Article] = []
            for article in articles:
                if article.id in known:
                    report.duplicates += 1
                else:
                    known.add(article.id)
                    fresh.append(article)
            clusterer = self._resumed()
            self.store.set_setting(PARAMS_SETTING, asdict(self.params))
            executor = make_executor(self.workers)
            function = (
                partial(analyse_chunk, comparer=self.comparer)
                if isinstance(executor, InProcess)
                else analyse_chunk
            )
            chunks = [fresh[i : i + self.batch_size] for i in range(len(fresh))[:: self.batch_size]]
            done = 0
            try:
                for chunk, results in zip(chunks, executor.map(function, chunks), strict=True):
                    analysed = []
                    for result in results:
                        if isinstance(result, str):
                            report.skipped.append(result)
                        else:
                            analysed.append(result)
                    seq = self.store.next_seq()
                    items = [
                        (seq + i, self.comparer.home_encoder(p).name, p)
                        for i, p in enumerate(analysed)
                    ]
                    self._live = None  # until this batch is committed, memory is ahead
                    decisions, batch = self._assign(clusterer, items, new=True)
                    self._committed(batch)
                    self._live = (clusterer, seq + len(items))
                    report.added += len(decisions)
                    report.new_stories += sum(d.new_story for d in decisions)
                    report.joined += sum(not d.new_story for d in decisions)
                    done += len(chunk)
                    if on_progress:
                        on_progress(done, len(fresh))
            except BaseException:
                self._indexes.clear()  # may hold vectors of a batch that was not committed
                raise
            finally:
                executor.close()
            self.save_indexes()
        finally:
            lock.close()
        report.seconds = time.perf_counter() - started
        return report

    def _assign(
        self,
        clusterer: OnlineClusterer,
        items: Sequence[tuple[int, str, PreparedArticle]],
        new: bool,
    ) -> tuple[list[Decision], Batch]:
        """Cluster articles in order, adding each to its index; the batch to commit for them."""
        batch = Batch()
        decisions: list[Decision] = []
        for seq, home, prepared in items:
            decisions.append(clusterer.assign(seq, home, prepared))
            if new:
                batch.articles.append((seq, home, prepared))
            self._remember(seq, prepared)
            vectors = prepared.vectors[home]
            for view, vector in (
                ("document", vectors.document_vector),
                ("title", title_vector(vectors)),
            ):
                index = self._index(home, len(vector), view)
                assert index is not None
                index.add([seq], vector[None, :])
        for story_id in sorted({d.story_id for d in decisions}):
            story = clusterer.stories[story_id]
            batch.stories[story_id] = StoryRow(
                story_id, story.headline, len(story.members), story.first_ts, story.last_ts
            )
            for member in story.members:
                batch.memberships[member] = (story_id, story.centrality.get(member, 0.0))
        # vectors computed for earlier articles while comparing across encoder spaces
        fresh = {seq for seq, _, _ in batch.articles}
        for seq, prepared in self._cache.items():
            if seq not in fresh:
                batch.extra_vectors.extend(
                    (seq, v) for e, v in prepared.vectors.items() if (seq, e) not in self._saved
                )
        return decisions, batch

    def _committed(self, batch: Batch) -> None:
        self.store.commit(batch)
        for seq, _, prepared in batch.articles:
            self._saved.update((seq, e) for e in prepared.vectors)
        self._saved.update((seq, v.encoder) for seq, v in batch.extra_vectors)

    def recluster(
        self,
        params: ClusterParams | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> int:
        """Rebuild every story from the stored articles (no re-encoding), in ingestion order,
        and replace the old ones in one transaction; returns the number of stories."""
        lock = self._lock()
        try:
            if params is not None:
                self.params = params
            members = self.store.members()
            self._indexes.clear()
            self._rebuilding = True  # indexes restart empty and grow in ingestion order
            clusterer = self._clusterer(self.params, restore=False)
            batch = Batch(replace_stories=True)
            for start in range(0, len(members), self.batch_size):
                chunk = members[start : start + self.batch_size]
                loaded = self.store.prepared([m.seq for m in chunk])
                for m in chunk:
                    self._saved.update((m.seq, e) for e in loaded[m.seq].vectors)
                items = [(m.seq, m.encoder, loaded[m.seq]) for m in chunk]
                _, step = self._assign(clusterer, items, new=False)
                batch.stories.update(step.stories)
                batch.memberships.update(step.memberships)
                batch.extra_vectors.extend(step.extra_vectors)
                if on_progress:
                    on_progress(start + len(chunk), len(members))
            self._committed(batch)
            self.store.set_setting(PARAMS_SETTING, asdict(self.params))
            self.save_indexes()
            self._live = None
            return len(clusterer.stories)
        except BaseException:
            self._indexes.clear()  # half-rebuilt: the saved files still match the store
            raise
        finally:
            self._rebuilding = False
            lock.close()

    # ---------------------------------------------------------------- reading

    def stories(
        self,
        language: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        entity: str | None = None,
        order: str = "newest",
        limit: int = 20,
        offset: int = 0,
    ) -> list[Story]:
        """Stories, newest (by last article), largest or most recently grown first, optionally
        filtered by a member language, a time range or a named person/place/organisation (part
        of the name, in Latin letters or, for places, in any script)."""
        if order not in ORDERS:
            raise ValueError(f"order must be one of {', '.join(ORDERS)}, not {order!r}")
        keys: tuple[str, ...] = ()
        if entity and entity.strip():
            # the name as typed, and the place it names in any script ("موسكو" → Moscow)
            place = self.comparer.gazetteer.lookup(entity.strip())
            keys = tuple({search_key(entity), *([search_key(place.name)] if place else [])})
        rows = self.store.find_stories(
            StoryFilter(language, since, until, tuple(sorted(keys)), order, limit, offset)
        )
        return [self._story(row) for row in rows]

    def story(self, story_id: int, language: str | None = None) -> Story:
        """One story with its whole timeline; the headline is in `language` when it has one."""
        rows = self.store.story_rows([story_id])
        if not rows:
            raise KeyError(f"no story {story_id}")
        return self._story(rows[0], language)

    def _story(self, row: StoryRow, language: str | None = None) -> Story:
        members = self.store.story_members(row.id)
        timeline = [_story_article(m, a) for m, a in members]
        headline = next((a for a in timeline if a.seq == row.headline_seq), timeline[0])
        if language:
            in_language = [a for a in timeline if a.language == language]
            if in_language:
                headline = max(in_language, key=lambda a: (a.centrality, -a.seq))
        languages = Counter(a.language for a in timeline)
        sources = Counter(a.source for a in timeline if a.source)
        names = self.store.story_entities(row.id, 3 * KEY_ENTITIES)
        return Story(
            id=row.id,
            headline=headline.title or headline.origin,
            headline_article=headline.id,
            size=row.size,
            languages=[lang for lang, _ in languages.most_common()],
            sources=[source for source, _ in sources.most_common()],
            first_seen=_moment(row.first_ts),
            last_seen=_moment(row.last_ts),
            timeline=timeline,
            entities=[EntityCount(*n) for n in names if n[0] != "place"][:KEY_ENTITIES],
            places=[EntityCount(*n) for n in names if n[0] == "place"][:KEY_ENTITIES],
            grown_at=_moment(self.store.story_grown([row.id]).get(row.id)),
        )

    def search(self, text: str, limit: int = 10) -> list[SearchHit]:
        """Articles closest in meaning to a text in any language, best per story.

        Similarity is a z-score: the cosine against what unrelated articles score in the same
        encoder space, so hits from USE and e5 spaces rank together; an article counts with the
        better of its title's and its whole text's (short queries read like titles: RESULTS.md).
        """
        if not text.strip():
            raise ValueError("empty query")
        language, _ = detect_language(text)
        try:
            home = self.comparer.encoders.encoder_name([language])
        except ValueError:
            home = self.comparer.encoders.encoder_name(["en"])
        best: dict[int, float] = {}
        for encoder in (home, *(e for e in ("use-m3", "e5-small") if e != home)):
            index = self._index(encoder)
            if index is None or (encoder != home and len(index) < MIN_BACKGROUND):
                continue  # too few articles to tell what a high cosine is in that space
            vector = self.comparer.encoders.encoder(encoder).encode([text])[0]
            for view in ("document", "title"):
                found = self._index(encoder, view=view)
                if found is None:
                    continue
                mean, spread = found.background(vector)
                for seq, cosine in found.search(vector, 4 * limit):
                    best[seq] = max(best.get(seq, -math.inf), (cosine - mean) / spread)
        ranked = sorted(best.items(), key=lambda hit: (-hit[1], hit[0]))
        return self._hits(ranked, limit)

    def related(self, key: str, limit: int = 10) -> tuple[StoryArticle, list[SearchHit]]:
        """An article (by id, URL, origin or number) and the closest articles of other stories."""
        found = self.store.find_article(key)
        if found is None:
            raise KeyError(f"no article {key!r} in {self.path}")
        member, article = found
        document = self._load(member.seq).vectors[member.encoder].document_vector
        index = self._index(member.encoder)
        neighbours = index.search(document, 4 * limit + 1) if index else []
        hits = [
            hit
            for hit in self._hits(neighbours, 4 * limit)
            if hit.story_id != member.story_id and hit.article.seq != member.seq
        ]
        return _story_article(member, article), hits[:limit]

    def _hits(self, ranked: Sequence[tuple[int, float]], limit: int) -> list[SearchHit]:
        """The best-ranked article of each story, up to `limit` stories."""
        found = {m.seq: (m, a) for m, a in self.store.articles([seq for seq, _ in ranked])}
        hits: list[SearchHit] = []
        seen: set[int] = set()
        for seq, value in ranked:
            member, article = found[seq]
            if member.story_id is None or member.story_id in seen:
                continue
            seen.add(member.story_id)
            hits.append(SearchHit(_story_article(member, article), member.story_id, value))
            if len(hits) == limit:
                break
        return hits

    def story_of(self, ids: Sequence[str]) -> dict[str, int]:
        """Article id → story id for those of the given articles that are stored."""
        return self.store.story_of(ids)

    # ---------------------------------------------------------------- export

    def iter_stories(self, batch: int = 200) -> Iterator[Story]:
        """Every story, largest first."""
        offset = 0
        while True:
            page = self.stories(order="largest", limit=batch, offset=offset)
            yield from page
            if len(page) < batch:
                return
            offset += batch

    def article_rows(self) -> list[dict[str, Any]]:
        """One row per article with its story: the flat table of the whole store."""
        rows = []
        for story in self.iter_stories():
            for item in story.timeline:
                rows.append(
                    {"story_id": story.id, "story_headline": story.headline, **item.to_dict()}
                )
        return rows

    def to_pandas(self) -> Any:
        """`article_rows()` as a pandas DataFrame (needs pandas)."""
        import pandas as pd

        frame = pd.DataFrame(self.article_rows())
        if not frame.empty:
            frame["published"] = pd.to_datetime(frame["published"], utc=True, format="ISO8601")
        return frame

    def export(self, path: str | Path, format: str | None = None) -> int:
        """Write the store: JSONL = one story per line with its timeline; Parquet = one row
        per article (`article_rows`). The format follows the suffix unless given; returns the
        number of rows written."""
        path = Path(path)
        suffixes = {".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}
        format = format or suffixes.get(path.suffix.lower())
        if format is None:
            raise ValueError(f"{path}: say --format jsonl or parquet (or name it .jsonl/.parquet)")
        if format == "jsonl":
            count = 0
            with path.open("w", encoding="utf-8") as out:
                for story in self.iter_stories():
                    out.write(json.dumps(story.to_dict(), ensure_ascii=False) + "\n")
                    count += 1
            return count
        if format == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            rows = self.article_rows()
            pq.write_table(pa.Table.from_pylist(rows), path)
            return len(rows)
        raise ValueError(f"unknown export format {format!r}; choose jsonl or parquet")

    # ---------------------------------------------------------------- live stores

    def catch_up(self) -> bool:
        """See what other processes committed since the last call (a cheap check): when
        articles were added or revised, drop the cached indexes, analyses and clustering
        state, which are re-read from the store on next use. True when something changed."""
        seen = (self.store.next_seq(), self.store.setting(REVISIONS_SETTING))
        changed = seen != self._seen
        if changed and self._seen is not None:
            self._indexes.clear()
            self._cache.clear()
            self._saved.clear()
            self._live = None
        self._seen = seen
        return changed

    def add_or_revise(
        self,
        articles: Iterable[Article],
        on_progress: Callable[[int, int], None] | None = None,
    ) -> IngestReport:
        """`add`, except that an article whose URL is stored with another text is a revision:
        the stored article takes the new title, text and analysis and keeps its story."""
        articles = list(articles)
        stored = self.store.stored_urls([a.url for a in articles if a.url])
        known = self.store.known_ids([a.id for a in articles])
        revisions: dict[int, Article] = {}
        fresh: list[Article] = []
        for article in articles:
            seq, stored_id = stored.get(article.url or "", (0, ""))
            if seq and article.id not in known and stored_id != article.id:
                revisions[seq] = article  # the latest version of a page wins
            else:
                fresh.append(article)
        report = self.add(fresh, on_progress)
        report.read = len(articles)
        if revisions:
            started = time.perf_counter()
            problems = self.revise(revisions)
            report.skipped.extend(problems)
            report.revised = len(revisions) - len(problems)
            report.seconds += time.perf_counter() - started
        return report

    def revise(self, revisions: dict[int, Article]) -> list[str]:
        """Replace stored articles (by ingestion number) with new versions of them, each
        analysed again and kept in its story; returns why any could not be analysed.

        The index files are dropped (rebuilt from the store when next opened): an index only
        ever grows, and a revised article's vectors change in place."""
        lock = self._lock()
        try:
            seqs = list(revisions)
            results = analyse_chunk([revisions[seq] for seq in seqs], comparer=self.comparer)
            problems = [r for r in results if isinstance(r, str)]
            for seq, result in zip(seqs, results, strict=True):
                if not isinstance(result, str):
                    self.store.revise(seq, self.comparer.home_encoder(result).name, result)
                    self._cache.pop(seq, None)
            self._indexes.clear()
            self._live = None
            for path in self.path.parent.glob(f"{self.path.name}.*.npz"):
                path.unlink(missing_ok=True)
            return problems
        finally:
            lock.close()


def _moment(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, UTC) if ts is not None else None


def _story_article(member: Member, article: Article) -> StoryArticle:
    return StoryArticle(
        article.id,
        member.seq,
        article.title,
        member.language,
        article.source,
        article.url,
        article.published,
        article.origin,
        member.centrality,
    )


def pair_articles(pairs: Sequence[LabelledPair]) -> list[Article]:
    """The articles of labelled pairs, each once, in file order (a1, b1, a2, b2 …)."""
    unique: dict[str, Article] = {}
    for pair in pairs:
        for article in (pair.a, pair.b):
            unique.setdefault(article.id, article)
    return list(unique.values())


def evaluate_clustering(
    pairs: Sequence[LabelledPair],
    stories: StoryStore,
    on_progress: Callable[[int, int], None] | None = None,
) -> ClusteringScores:
    """Ingest the pairs' articles into `stories` (best a fresh store) and score the clustering
    on the pairs with a clear gold label (Overall ≤ 2 same story, ≥ 3 different)."""
    stories.add(pair_articles(pairs), on_progress)
    gold = labelled_story_pairs(pairs)
    ids = sorted({i for a, b, _ in gold for i in (a, b)})
    return pairwise_clustering(gold, stories.story_of(ids))
