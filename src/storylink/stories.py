"""The story store: ingest article streams, group them into stories, query them.

    >>> from storylink import StoryStore
    >>> with StoryStore("stories.db") as stories:                  # doctest: +SKIP
    ...     stories.ingest(["feeds/", "wires.jsonl"])
    ...     for story in stories.stories(limit=5):
    ...         print(story.headline, story.languages)
    ...     hits = stories.search("earthquake in Izmir")           # any language finds any

Pipeline per batch: read → analyse (language, names, dates, numbers, home-encoder vectors; in
worker processes with `workers > 1`, or on a Dask cluster: `engine`) → assign each article to
a story (`cluster.py`, in input order) → one transaction in the store. Nearest-neighbour
indexes (`index.py`) sit beside the database file, one per encoder; a PostgreSQL store keeps
its own (pgvector, `pgstore.py`).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from . import lock as writer_lock
from .article import Article
from .cluster import ArticleState, ClusterParams, Decision, OnlineClusterer, StoryState
from .compare import Comparer, WorkerSetup, analyse_chunk, load_worker_models
from .encode import E5Encoder, EncoderSet, UseEncoder
from .entities import entity_keys
from .evaluate import (
    ClusteringScores,
    LabelledPair,
    labelled_story_pairs,
    pairwise_clustering,
)
from .executor import Engine, Executor, InProcess, make_executor
from .features import PreparedArticle, title_vector
from .fetch import Fetcher
from .index import ShardedIndex, VectorIndex
from .language import detect_language
from .read import FieldNames, read_many
from .search import (
    RELATED_FIT,
    VIEWS,
    Candidate,
    Evidence,
    SearchParams,
    match_strength,
    names_in,
    one_word_tables,
    query_names,
    rank_stories,
    title_names,
)
from .store import Batch, Member, Store, StoreError, StoryFilter, StoryRow, open_store

log = logging.getLogger(__name__)

DEFAULT_DB = "stories.db"
BATCH_SIZE = 64
PREPARED_CACHE = 4096  # analysed articles kept in memory for comparisons
KEY_ENTITIES = 12
PARAMS_SETTING = "cluster_params"
MIN_BACKGROUND = 30  # indexed articles needed to search a second encoder space
SEARCH_EXACT_ROWS = 2_048  # a query searches larger months in their inverted lists…
SEARCH_PROBES = 32  # …the 32 nearest of 512 (clustering probes 64: it acts on what it finds)
CLUSTER_MEMORY = 50_000  # assigned articles whose clustering state stays in memory
SPACES = (UseEncoder.name, E5Encoder.name)  # the encoder spaces articles are at home in
ORDERS = ("newest", "largest", "grown")
NAME_COLUMNS = {"person": "people", "place": "places", "organisation": "organisations"}
REVISIONS_SETTING = "revisions"  # counts revised articles: other readers re-read indexes
STALE_SETTING = "indexes_stale"  # set while a revision updates the indexes


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
    similarity: float  # the ranking's own score: search: z-scores plus names; related: a z-score
    strength: float  # 0–1 match strength (`search.match_strength`): what a reader is shown

    def to_dict(self) -> dict[str, Any]:
        return {
            "story_id": self.story_id,
            "strength": round(self.strength, 3),
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
    doubtful_dates: int = 0  # added articles whose date was not trusted (`cluster.DOUBTS`)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"seconds": round(self.seconds, 3)}


class StoryStore:
    """Stories in a database: `ingest`, `stories`, `story`, `search`, `related`, `export`.

    Parameters are fixed at construction (scikit-learn style); `recluster(params)` rebuilds
    every story with new ones. One process writes at a time (the store's writer lock, taken per
    batch: several ingests into one PostgreSQL store analyse at once and take turns to commit).
    """

    def __init__(
        self,
        path: str | Path = DEFAULT_DB,
        params: ClusterParams | None = None,
        comparer: Comparer | None = None,
        store: Store | None = None,
        workers: int = 1,
        batch_size: int = BATCH_SIZE,
        engine: Engine | None = None,
    ) -> None:
        self.path = Path(path)
        # one BLAS thread: two threads are 1.4x faster on an idle machine but several times
        # slower when another job holds a core (RESULTS.md); `workers=2` uses both cores
        self.comparer = comparer or Comparer(
            encoders=EncoderSet(None, threads=1), compact_vectors=True, glance=False
        )
        self.store: Store = store or open_store(path)
        saved = self.store.setting(PARAMS_SETTING)
        # the parameters a database was clustered with stay its parameters until changed
        self.params = params or (ClusterParams.from_dict(saved) if saved else ClusterParams())
        self.engine = engine or Engine(workers=workers)  # `workers`: local processes
        self._executor: Executor | None = None
        self.batch_size = batch_size
        self._indexes: dict[str, VectorIndex] = {}
        self._writing = False  # holds the writer lock: may append to the index files
        self._indexes_writable = False  # the open indexes were opened by the writer
        self._ceiling: int | None = None  # while re-clustering: the article being placed
        self._cache: OrderedDict[int, PreparedArticle] = OrderedDict()
        self._saved: set[tuple[int, str]] = set()  # of cached articles: (seq, encoder) stored
        self._live: tuple[OnlineClusterer, int] | None = None  # state, next seq it expects
        self._seen: tuple[int, Any] | None = None  # what `catch_up` last saw of the store

    def __enter__(self) -> StoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._executor is not None:
            self._executor.close()
            self._executor = None
        self.store.close()

    def start_engine(self) -> Executor:
        """The executor that analyses articles: started on first use and kept until `close`,
        so worker processes or a Dask cluster load their models once, not per batch. Start
        it early and an engine that cannot run fails before any input is read."""
        if self._executor is None:
            warm = partial(load_worker_models, WorkerSetup())  # `analyse_chunk`'s setup
            self._executor = make_executor(self.engine, warm)
        return self._executor

    # ---------------------------------------------------------------- indexes and cache

    def _index_path(self, key: str) -> Path:
        return index_directory(self.path, *key.split(".", 1))

    def _index(self, encoder: str, view: str = "document") -> VectorIndex | None:
        """The index of an encoder's document (or title) vectors, opened and caught up with the
        store on first use; kept as `<db>.<encoder>.index/` (titles: `<db>.<encoder>.title.index/`).
        None while the store holds no article at home in that encoder."""
        key = encoder if view == "document" else f"{encoder}.{view}"
        if key not in self._indexes:
            dimension = self.store.dimension(encoder)
            if dimension is None:
                return None
            own = self.store.own_index(encoder, view)  # the database's (PostgreSQL)
            if own is not None:
                self._indexes[key] = own
                return own
            stored = partial(self.store.indexed_vectors, encoder, view)
            if self._writing and self.store.setting(STALE_SETTING):
                shutil.rmtree(self._index_path(key), ignore_errors=True)  # a revision was cut
            self._indexes[key] = ShardedIndex.open(
                self._index_path(key), dimension, stored, writer=self._writing
            )
            self._indexes_writable &= self._writing
        return self._indexes[key]

    def _writable_index(self, encoder: str, view: str, dimension: int) -> VectorIndex:
        """The index to add an article to: open, or new for an encoder's first article."""
        key = encoder if view == "document" else f"{encoder}.{view}"
        index = self._index(encoder, view)
        if index is None:  # the first article at home in this encoder: nothing to catch up
            own = self.store.own_index(encoder, view)  # (an empty one has no length: falsy)
            index = own if own is not None else ShardedIndex(dimension, self._index_path(key))
            self._indexes[key] = index
        return index

    def _add_to_indexes(self, seq: int, home: str, prepared: PreparedArticle) -> None:
        """Add an article's document and title vectors to its home encoder's indexes."""
        vectors = prepared.vectors[home]
        ts = prepared.article.published.timestamp() if prepared.article.published else None
        for view, vector in (
            ("document", vectors.document_vector),
            ("title", title_vector(vectors)),
        ):
            self._writable_index(home, view, len(vector)).add([seq], vector[None, :], [ts])

    def _neighbours(
        self, encoder: str, vector: np.ndarray, k: int, since: float | None, until: float | None
    ) -> list[tuple[int, float]]:
        index = self._index(encoder)
        if index is None:
            return []
        # re-clustering: only the articles already placed again, as when they were ingested
        return index.search(
            vector, k, since, until, before=self._ceiling, max_rows=self.params.scan_rows
        )

    def _load(self, seqs: Sequence[int]) -> dict[int, PreparedArticle]:
        """Stored articles' analyses, from the cache or else in one store query."""
        found = {seq: self._cache[seq] for seq in seqs if seq in self._cache}
        for seq in found:
            self._cache.move_to_end(seq)
        missing = [seq for seq in seqs if seq not in found]
        for seq, prepared in self.store.prepared(missing).items() if missing else ():
            self._saved.update((seq, e) for e in prepared.vectors)
            self._remember(seq, prepared)
            found[seq] = prepared
        return found

    def _remember(self, seq: int, prepared: PreparedArticle) -> None:
        self._cache[seq] = prepared
        while len(self._cache) > PREPARED_CACHE:
            gone, analysis = self._cache.popitem(last=False)
            self._saved.difference_update((gone, e) for e in analysis.vectors)

    def _live_clusterer(self) -> OnlineClusterer:
        """The clustering state, kept between `add` calls while nobody else writes (checked
        by the next ingestion number); started afresh otherwise. Nothing is restored: the
        clusterer asks the store for what it has not seen."""
        next_seq = self.store.next_seq()
        if self._live is None or self._live[1] != next_seq or self._live[0].params != self.params:
            self._indexes.clear()  # another writer may have added articles: catch up too
            clusterer = OnlineClusterer(
                self.comparer,
                self._neighbours,
                self._load,
                self.params,
                next_story_id=self.store.max_story_id() + 1,
                stored=_StoredStories(self.store),
            )
            self._live = (clusterer, next_seq)
        return self._live[0]

    # ---------------------------------------------------------------- writing

    def _lock(self) -> Any:
        """Hold the writer lock: a second writer waits for it (`lock.hold`), then fails
        saying who holds it."""
        try:
            handle = self.store.hold_writer()
        except writer_lock.LockError as error:
            raise StoreError(str(error)) from None
        if not self._writing:
            self._writing = True
            live = self._live is not None and self._live[1] == self.store.next_seq()
            if not live or not self._indexes_writable:
                self._indexes.clear()  # reopened as the writer: it appends to their files
            self._indexes_writable = True
            for legacy in self.path.parent.glob(f"{self.path.name}.*.npz"):  # before schema 2
                legacy.unlink()
        return handle

    def _unlock(self, handle: Any) -> None:
        """Release the writer lock; the indexes stay open (flushed, and still the writer's
        while nobody else writes: the next `add` goes on with them instead of reopening)."""
        self._writing = False
        self.store.release_writer(handle)

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
        executor = self.start_engine()
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
                # analysis runs in every writer at once; assignment and commit one at a time
                lock = self._lock()
                try:
                    stored = self.store.known_ids([p.article.id for p in analysed])
                    report.duplicates += len(stored)  # another writer stored them meanwhile
                    analysed = [p for p in analysed if p.article.id not in stored]
                    clusterer = self._live_clusterer()  # afresh if another writer committed
                    self.store.set_setting(PARAMS_SETTING, asdict(self.params))
                    seq = self.store.next_seq()
                    items = [
                        (seq + i, self.comparer.home_encoder(p).name, p)
                        for i, p in enumerate(analysed)
                    ]
                    self._live = None  # until this batch is committed, memory is ahead
                    decisions, batch = self._assign(clusterer, items, new=True)
                    self._committed(batch)
                    clusterer.committed()
                    clusterer.trim(CLUSTER_MEMORY)
                    self._flush_indexes()
                    self._live = (clusterer, seq + len(items))
                finally:
                    self._unlock(lock)
                report.added += len(decisions)
                report.new_stories += sum(d.new_story for d in decisions)
                report.joined += sum(not d.new_story for d in decisions)
                report.doubtful_dates += sum(d.date_doubt is not None for d in decisions)
                done += len(chunk)
                if on_progress:
                    on_progress(done, len(fresh))
        except BaseException:
            self._indexes.clear()  # may hold vectors of a batch that was not committed
            executor.close()  # nothing of this run keeps running; the next starts afresh
            self._executor = None
            raise
        report.seconds = time.perf_counter() - started
        return report

    def _flush_indexes(self) -> None:
        """Append what the indexes gained to their files, after the store committed it."""
        for index in self._indexes.values():
            index.flush()

    def _assign(
        self,
        clusterer: OnlineClusterer,
        items: Sequence[tuple[int, str, PreparedArticle]],
        new: bool,
    ) -> tuple[list[Decision], Batch]:
        """Cluster articles in order (adding each new one to its indexes); the batch to
        commit for them."""
        batch = Batch()
        decisions: list[Decision] = []
        for seq, home, prepared in items:
            self._ceiling = seq if not new else None
            decisions.append(clusterer.assign(seq, home, prepared))
            self._remember(seq, prepared)
            if new:
                batch.articles.append((seq, home, prepared))
                self._add_to_indexes(seq, home, prepared)
        self._ceiling = None
        for story_id in sorted({d.story_id for d in decisions}):
            story = clusterer.stories[story_id]
            batch.stories[story_id] = StoryRow(
                story_id,
                story.headline,
                len(story.members),
                story.first_ts,
                story.last_ts,
                story.sole_space,
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
        and replace the old ones in one transaction; returns the number of stories.

        Each article is compared only with articles before it, as when it was ingested. The
        new stories are held in memory until the transaction (the store has the old ones)."""
        lock = self._lock()
        try:
            if params is not None:
                self.params = params
            members = self.store.members()
            clusterer = OnlineClusterer(self.comparer, self._neighbours, self._load, self.params)
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
            self._flush_indexes()
            self._live = None
            return len(clusterer.stories)
        finally:
            self._ceiling = None
            self._unlock(lock)

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
        of the name, in any script: `entities.entity_keys`)."""
        if order not in ORDERS:
            raise ValueError(f"order must be one of {', '.join(ORDERS)}, not {order!r}")
        keys: tuple[str, ...] = ()
        if entity and entity.strip():  # as typed, the place it names, the person in any script
            keys = entity_keys(entity.strip(), self.comparer.gazetteer)
        rows = self.store.find_stories(
            StoryFilter(language, since, until, keys, order, limit, offset)
        )
        return [self._story(row) for row in rows]

    def story(self, story_id: int, language: str | None = None) -> Story:
        """One story with its whole timeline; the headline is in `language` when it has one."""
        rows = self.store.story_rows([story_id])
        if not rows:
            raise KeyError(f"no story {story_id}")
        return self._story(rows[0], language)

    def _story(
        self,
        row: StoryRow,
        language: str | None = None,
        members: list[tuple[Member, Article]] | None = None,
    ) -> Story:
        """A stored story; `members`: its members as `story_members` gives them, if read."""
        members = self.store.story_members(row.id) if members is None else members
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

    def search(
        self, text: str, limit: int = 10, params: SearchParams | None = None
    ) -> list[SearchHit]:
        """Stories closest to a text in any language, each with its best-matching article.

        An article's evidence (`search_evidence`) is weighed by `search.rank_stories`;
        `SearchHit.similarity` is the story's score, `SearchHit.strength` its 0–1 match
        strength (`search.match_strength`).
        """
        params = params or SearchParams()
        evidence = self.search_evidence(text, params.pool or 4 * limit)
        ranked = rank_stories(evidence, params)
        return self._hits([(seq, score) for _, seq, score in ranked], limit)

    def search_evidence(self, text: str, pool: int) -> Evidence:
        """The articles nearest a text (`pool` per index view and encoder space), each with
        the query's cosine with its whole text and with its title, each a z-score against
        what unrelated articles score in the same encoder space (so hits from USE and e5
        spaces rank together), and the query's names it names in any script."""
        if not text.strip():
            raise ValueError("empty query")
        language, _ = detect_language(text)
        try:
            home = self.comparer.encoders.encoder_name([language])
        except ValueError:
            home = self.comparer.encoders.encoder_name(["en"])
        found: dict[int, tuple[str, np.ndarray, dict[str, tuple[float, float]]]] = {}
        for encoder in (home, *(e for e in SPACES if e != home)):
            index = self._index(encoder)
            if index is None or (encoder != home and len(index) < MIN_BACKGROUND):
                continue  # too few articles to tell what a high cosine is in that space
            vector = self.comparer.encoders.encoder(encoder).encode([text])[0]
            backgrounds = {}
            for view in VIEWS:
                view_index = self._index(encoder, view=view)
                if view_index is None:
                    continue
                backgrounds[view] = view_index.background(vector)
                hits = view_index.search(
                    vector, pool, exact_rows=SEARCH_EXACT_ROWS, probes=SEARCH_PROBES
                )
                found.update((seq, (encoder, vector, backgrounds)) for seq, _ in hits)
        prepared = self._load(sorted(found))
        names = query_names(text, language, self.comparer.gazetteer)
        candidates = []
        for seq, (encoder, vector, backgrounds) in found.items():
            vectors = prepared[seq].vectors[encoder]
            views = {"document": vectors.document_vector, "title": title_vector(vectors)}
            z = {  # a view without a background (no title index yet): the other view's
                view: (float(views[view] @ vector) - mean) / spread
                for view, (mean, spread) in backgrounds.items()
            }
            document, title = z.get("document", z.get("title")), z.get("title", z.get("document"))
            assert document is not None and title is not None
            named = names_in(names, one_word_tables(prepared[seq]))
            in_title = names_in(names, title_names(prepared[seq])) if named else frozenset()
            candidates.append(Candidate(seq, document, title, named, in_title))
        members = self.store.members_of(sorted(found))
        story_of = {m.seq: m.story_id for m in members if m.story_id is not None}
        return Evidence(candidates, [n.mentions[0].kind for n in names], story_of)

    def related(self, key: str, limit: int = 10) -> tuple[StoryArticle, list[SearchHit]]:
        """An article (by id, URL, origin or number) and the closest articles of other stories;
        a hit's similarity is the z-score of its text's cosine against unrelated articles."""
        found = self.store.find_article(key)
        if found is None:
            raise KeyError(f"no article {key!r} in {self.path}")
        member, article = found
        document = self._load([member.seq])[member.seq].vectors[member.encoder].document_vector
        index = self._index(member.encoder)
        neighbours = index.search(document, 4 * limit + 1) if index else []
        mean, spread = index.background(document) if index else (0.0, 1.0)
        ranked = [(seq, (cosine - mean) / spread) for seq, cosine in neighbours]
        strength = partial(match_strength, fit=RELATED_FIT)
        hits = [
            hit
            for hit in self._hits(ranked, 4 * limit, strength)
            if hit.story_id != member.story_id and hit.article.seq != member.seq
        ]
        return _story_article(member, article), hits[:limit]

    def _hits(
        self,
        ranked: Sequence[tuple[int, float]],
        limit: int,
        strength: Callable[[float], float] = match_strength,
    ) -> list[SearchHit]:
        """The best-ranked article of each story, up to `limit` stories (texts are read for
        those only), with the match strength of its score."""
        story = {m.seq: m.story_id for m in self.store.members_of([seq for seq, _ in ranked])}
        best: dict[int, tuple[int, float]] = {}  # story → its best article and value
        for seq, value in ranked:
            story_id = story.get(seq)
            if story_id is not None and story_id not in best:
                best[story_id] = (seq, value)
                if len(best) == limit:
                    break
        found = {m.seq: (m, a) for m, a in self.store.articles([s for s, _ in best.values()])}
        return [
            SearchHit(_story_article(*found[seq]), story_id, value, strength(value))
            for story_id, (seq, value) in best.items()
        ]

    def story_of(self, ids: Sequence[str]) -> dict[str, int]:
        """Article id → story id for those of the given articles that are stored."""
        return self.store.story_of(ids)

    # ---------------------------------------------------------------- export

    def iter_stories(self, batch: int = 200) -> Iterator[Story]:
        """Every story, largest first."""
        for row in self._story_rows(batch):
            yield self._story(row)

    def _story_rows(self, batch: int = 200) -> Iterator[StoryRow]:
        """Every story's row, largest first, read a page at a time."""
        offset = 0
        while True:
            page = self.store.find_stories(StoryFilter(order="largest", limit=batch, offset=offset))
            yield from page
            if len(page) < batch:
                return
            offset += batch

    def article_rows(self) -> list[dict[str, Any]]:
        """One row per article with its story, text and names: the flat table of the whole
        store. `published` is in UTC (sources write many offsets; one column needs one)."""
        rows = []
        for row in self._story_rows():
            members = self.store.story_members(row.id)  # read once: timeline and texts
            story = self._story(row, members=members)
            names = self.store.article_entities([m.seq for m, _ in members])
            texts = {m.seq: a.text for m, a in members}
            for item in story.timeline:
                found = names.get(item.seq, [])
                rows.append(
                    {"story_id": story.id, "story_headline": story.headline}
                    | asdict(item)
                    | {
                        "published": item.published.astimezone(UTC) if item.published else None,
                        "text": texts[item.seq],
                    }
                    | {
                        plural: [label for kind, label in found if kind == singular]
                        for singular, plural in NAME_COLUMNS.items()
                    }
                )
        return rows

    def to_pandas(self) -> Any:
        """`article_rows()` as a pandas DataFrame (needs pandas)."""
        import pandas as pd

        frame = pd.DataFrame(self.article_rows())
        if not frame.empty:
            frame["published"] = pd.to_datetime(frame["published"], utc=True)
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

    def save_indexes(self) -> None:
        """Open every index as the writer, building what is missing from the database, and
        save it: a store filled by other means (a bulk load, an older storylink) then opens
        without a rebuild in every process that searches it."""
        lock = self._lock()
        try:
            for encoder in SPACES:
                for view in ("document", "title"):
                    self._index(encoder, view)
            self._flush_indexes()
        finally:
            self._unlock(lock)

    def catch_up(self) -> bool:
        """See what other processes committed since the last call (a cheap check): open
        indexes add the new articles (and are reopened if another writer rebuilt them);
        after a revision, cached indexes, analyses and clustering state are dropped and
        re-read from the store on next use. True when something changed."""
        seen = (self.store.next_seq(), self.store.setting(REVISIONS_SETTING))
        if seen == self._seen:
            return False
        revised = self._seen is not None and seen[1] != self._seen[1]
        self._seen = seen
        if revised:
            self._indexes.clear()
            self._cache.clear()
            self._saved.clear()
            self._live = None
        for key, index in list(self._indexes.items()):
            if index.saved_generation() not in ("", index.generation):
                del self._indexes[key]
            else:
                encoder, _, view = key.partition(".")
                index.catch_up(partial(self.store.indexed_vectors, encoder, view or "document"))
        return True

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

        In the indexes the old vectors are removed and the new ones added. Until that is
        done the store says the indexes are stale, so a crash in between has them rebuilt."""
        lock = self._lock()
        try:
            seqs = list(revisions)
            results = analyse_chunk([revisions[seq] for seq in seqs], comparer=self.comparer)
            problems = [r for r in results if isinstance(r, str)]
            revised = [
                (seq, self.comparer.home_encoder(result).name, result)
                for seq, result in zip(seqs, results, strict=True)
                if not isinstance(result, str)
            ]
            was_home = {m.seq: m.encoder for m in self.store.members_of([s for s, _, _ in revised])}
            holding = []  # opened before the store says they are stale: then they'd be rebuilt
            for seq, home, prepared in revised:
                dimension = len(prepared.vectors[home].document_vector)
                for encoder in {was_home[seq], home}:  # old and new home: each index once
                    for view in ("document", "title"):
                        holding.append((seq, self._writable_index(encoder, view, dimension)))
            self.store.set_setting(STALE_SETTING, True)
            for seq, index in holding:
                index.remove(seq)
            for seq, home, prepared in revised:
                self.store.revise(seq, home, prepared)
                self._cache.pop(seq, None)
                self._add_to_indexes(seq, home, prepared)
            self._flush_indexes()
            self.store.set_setting(STALE_SETTING, False)
            self._live = None
            return problems
        finally:
            self._unlock(lock)


class _StoredStories:
    """The clustering state of what the store holds (`cluster.StoredStories`)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def article_states(self, seqs: Sequence[int]) -> dict[int, ArticleState]:
        return {
            m.seq: ArticleState(m.story_id, m.encoder, m.published_ts)
            for m in self.store.members_of(seqs)
            if m.story_id is not None
        }

    def story_state(self, story_id: int) -> StoryState | None:
        rows = self.store.story_rows([story_id])
        if not rows:
            return None
        row, members = rows[0], self.store.story_member_rows(story_id)
        return StoryState(
            story_id,
            members=[m.seq for m in members],
            first_ts=row.first_ts,
            last_ts=row.last_ts,
            centrality={m.seq: m.centrality for m in members},
            headline=row.headline_seq,
            latest={m.encoder: m.seq for m in members},  # ascending: the latest wins
        )

    def documents(self, seqs: Sequence[int]) -> dict[int, np.ndarray]:
        return self.store.home_documents(seqs)

    def recent_sole_space(
        self, other_than: str, since: float | None, until: float | None, limit: int
    ) -> list[tuple[int, int, float | None]]:
        spaces = [space for space in SPACES if space != other_than]
        return self.store.recent_sole_space(spaces, since, until, limit)


def index_directory(db: Path, encoder: str, view: str = "document") -> Path:
    """Where the index of an encoder's document (or title) vectors lives beside `db`."""
    key = encoder if view == "document" else f"{encoder}.{view}"
    return db.with_name(f"{db.name}.{key}.index")


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
