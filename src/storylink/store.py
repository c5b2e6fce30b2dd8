"""Where ingested articles, their analyses and vectors, stories and memberships live.

`Store` is the narrow interface the story layer (`stories.py`) uses; `SQLiteStore` is the
embedded default: one file in WAL mode, schema versioned by `MIGRATIONS`. Every ingest batch
is written in one transaction, so a killed process leaves whole batches or nothing.

Vectors are kept compact (`encode.ArticleVectors.compact`: int8 document and title vectors,
int4 sentence vectors, each with its own scale), and the live pipeline uses the same rounded
values, so a re-cluster from the store equals the first run. An article's analysis keeps its
names, dates and numbers; the name lookup tables are derived from the text when it is loaded.
7.6 KB per dev article beyond its text, 21.5 KB in v1 (benchmarks/RESULTS.md, "Compact storage").
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import astuple, dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from . import lock
from .article import Article
from .dates import DateMention, NumberMention
from .encode import (
    ArticleVectors,
    pack_sentences,
    pack_vector,
    unit,
    unpack_sentences,
    unpack_vector,
)
from .entities import EntityProfile, Mention, name_tables, name_terms, search_key
from .features import PreparedArticle
from .index import VectorIndex
from .lock import lock_wait
from .text import SentencesOf

log = logging.getLogger(__name__)

V1_SCHEMA = """
    CREATE TABLE articles (
        seq INTEGER PRIMARY KEY,          -- ingestion order, also the vector index label
        id TEXT NOT NULL UNIQUE,          -- content hash of title and text
        title TEXT NOT NULL,
        text TEXT NOT NULL,
        language TEXT NOT NULL,
        url TEXT,
        source TEXT,
        published TEXT,                   -- ISO 8601 with offset, as read
        published_ts REAL,                -- the same as a UTC timestamp, for windows and sorting
        origin TEXT NOT NULL,
        ingested_at TEXT NOT NULL,
        encoder TEXT NOT NULL,            -- the article's home encoder
        analysis BLOB NOT NULL            -- zlib JSON: names, dates, numbers
    );
    CREATE INDEX articles_published ON articles(published_ts);
    CREATE INDEX articles_url ON articles(url);
    CREATE TABLE vectors (
        seq INTEGER NOT NULL REFERENCES articles(seq),
        encoder TEXT NOT NULL,
        document BLOB NOT NULL,
        title BLOB,
        sentences BLOB NOT NULL,
        PRIMARY KEY (seq, encoder)
    );
    CREATE TABLE entities (
        seq INTEGER NOT NULL REFERENCES articles(seq),
        kind TEXT NOT NULL,
        label TEXT NOT NULL,
        key TEXT NOT NULL                 -- entities.search_key(label), for filtering
    );
    CREATE INDEX entities_seq ON entities(seq);
    CREATE INDEX entities_key ON entities(key);
    CREATE TABLE stories (
        id INTEGER PRIMARY KEY,
        headline_seq INTEGER NOT NULL REFERENCES articles(seq),
        size INTEGER NOT NULL,
        first_ts REAL,                    -- earliest / latest publication time of a member
        last_ts REAL
    );
    CREATE INDEX stories_last ON stories(last_ts);
    CREATE TABLE memberships (
        seq INTEGER PRIMARY KEY REFERENCES articles(seq),
        story_id INTEGER NOT NULL REFERENCES stories(id),
        centrality REAL NOT NULL          -- cosine to the story centroid in its encoder space
    );
    CREATE INDEX memberships_story ON memberships(story_id);
    CREATE TABLE settings (
        key TEXT PRIMARY KEY,             -- e.g. "cluster_params"
        value TEXT NOT NULL               -- JSON
    );
"""

# 3: feeds followed by `storylink watch`, their entries, and when each story last grew
FEEDS_SCHEMA = """
    CREATE TABLE feeds (
        id INTEGER PRIMARY KEY,
        url TEXT NOT NULL UNIQUE,         -- rewritten by permanent redirects (301, 308)
        title TEXT,                       -- OPML outline title, else the feed's own
        category TEXT,                    -- OPML category or parent outline
        added_at REAL NOT NULL,           -- UTC timestamps, as every time below
        etag TEXT,                        -- validators exactly as received, sent back
        last_modified TEXT,
        interval REAL NOT NULL,           -- seconds between polls while healthy (adaptive)
        next_poll REAL NOT NULL,
        last_poll REAL,
        last_success REAL,
        last_error TEXT,
        failures INTEGER NOT NULL DEFAULT 0,  -- consecutive, for the exponential back-off
        disabled TEXT                     -- why polling stopped (410 Gone), else NULL
    );
    CREATE TABLE entries (
        feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
        key TEXT NOT NULL,                -- the entry's guid, else its link
        url TEXT,
        hash TEXT NOT NULL,               -- of the entry's title and text: a change is a revision
        seen_at REAL NOT NULL,
        published_ts REAL,
        article_id TEXT,                  -- the article it gave (content hash), if any
        text_source TEXT NOT NULL,        -- "page", or "feed" when the page was not usable
        note TEXT,                        -- why the feed's own text was used
        PRIMARY KEY (feed_id, key)
    );
    CREATE INDEX entries_url ON entries(url);
    CREATE INDEX entries_article ON entries(article_id);
    CREATE TABLE story_growth (
        story_id INTEGER PRIMARY KEY,     -- no foreign key: stories rows are replaced in place
        grown_at REAL NOT NULL            -- when the story last gained an article
    );
    CREATE INDEX story_growth_at ON story_growth(grown_at);
    CREATE TRIGGER story_grows AFTER INSERT ON memberships BEGIN
        INSERT INTO story_growth
        SELECT NEW.story_id, CAST(strftime('%s', ingested_at) AS REAL) FROM articles
        WHERE seq = NEW.seq
        ON CONFLICT (story_id) DO UPDATE SET grown_at = MAX(grown_at, excluded.grown_at);
    END;
    CREATE TRIGGER story_gone AFTER DELETE ON stories BEGIN
        DELETE FROM story_growth WHERE story_id = OLD.id;
    END;
    INSERT INTO story_growth
    SELECT m.story_id, MAX(CAST(strftime('%s', a.ingested_at) AS REAL))
    FROM memberships m JOIN articles a ON a.seq = m.seq GROUP BY m.story_id;
    """


class StoreError(RuntimeError):
    """The database cannot be used (newer schema, not a storylink database, …)."""


@dataclass(frozen=True)
class StoryRow:
    """A story as stored; everything else about it is derived from its members."""

    id: int
    headline_seq: int
    size: int
    first_ts: float | None
    last_ts: float | None
    sole_space: str | None = None  # the encoder of every member; None if they span several


@dataclass(frozen=True)
class Member:
    """An article's place in the store: ingestion order, home encoder, time, story."""

    seq: int
    encoder: str
    language: str
    published_ts: float | None
    story_id: int | None
    centrality: float = 0.0


@dataclass
class Batch:
    """Everything one ingest step writes, committed together or not at all."""

    articles: list[tuple[int, str, PreparedArticle]] = field(default_factory=list)  # seq, home
    extra_vectors: list[tuple[int, ArticleVectors]] = field(default_factory=list)
    memberships: dict[int, tuple[int, float]] = field(default_factory=dict)  # seq → story, cent.
    stories: dict[int, StoryRow] = field(default_factory=dict)
    replace_stories: bool = False  # drop every story first (re-clustering), same transaction


@dataclass(frozen=True)
class StoryFilter:
    """Which stories to list: by member language, time, named entity; newest or largest first."""

    language: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    entities: tuple[str, ...] = ()  # search keys (`entities.search_key`); any may match, and
    # a key matches an entity having all its words (`entity_words`): "putin", "vladimir putin"
    order: str = "newest"  # newest | largest | grown (latest to gain an article)
    limit: int = 20
    offset: int = 0


@dataclass
class FeedRow:
    """A subscribed feed: where it is, how to ask it again, and how healthy it is."""

    id: int
    url: str
    title: str | None
    category: str | None
    added_at: float
    etag: str | None = None
    last_modified: str | None = None
    interval: float = 900.0
    next_poll: float = 0.0
    last_poll: float | None = None
    last_success: float | None = None
    last_error: str | None = None
    failures: int = 0
    disabled: str | None = None


@dataclass(frozen=True)
class EntryRow:
    """A feed entry seen by `storylink watch`, and the article it gave."""

    feed_id: int
    key: str
    url: str | None
    hash: str
    seen_at: float
    published_ts: float | None
    article_id: str | None
    text_source: str  # "page" | "feed"
    note: str | None = None


class Store(Protocol):
    """What the story layer needs from a database; SQLite here, others behind the same calls."""

    def known_ids(self, ids: Sequence[str]) -> set[str]: ...
    def next_seq(self) -> int: ...
    def commit(self, batch: Batch) -> None: ...
    def members(self) -> list[Member]: ...
    def story_rows(self, ids: Sequence[int] | None = None) -> list[StoryRow]: ...
    def prepared(self, seqs: Sequence[int]) -> dict[int, PreparedArticle]: ...
    def find_stories(self, where: StoryFilter) -> list[StoryRow]: ...
    def story_members(self, story_id: int) -> list[tuple[Member, Article]]: ...
    def story_entities(self, story_id: int, limit: int) -> list[tuple[str, str, int]]: ...
    def article_entities(self, seqs: Sequence[int]) -> dict[int, list[tuple[str, str]]]: ...
    def find_article(self, key: str) -> tuple[Member, Article] | None: ...
    def articles(self, seqs: Sequence[int]) -> list[tuple[Member, Article]]: ...
    def story_of(self, ids: Sequence[str]) -> dict[str, int]: ...
    def count(self, table: str) -> int: ...
    def setting(self, key: str) -> Any: ...
    def set_setting(self, key: str, value: Any) -> None: ...
    def close(self) -> None: ...
    # clustering state, looked up on demand (see `SQLiteStore`)
    def members_of(self, seqs: Sequence[int]) -> list[Member]: ...
    def story_member_rows(self, story_id: int) -> list[Member]: ...
    def home_documents(self, seqs: Sequence[int]) -> dict[int, np.ndarray]: ...
    def indexed_vectors(
        self, encoder: str, view: str, after_seq: int = 0
    ) -> Iterator[tuple[int, float | None, np.ndarray]]: ...
    def dimension(self, encoder: str) -> int | None: ...
    def max_story_id(self) -> int: ...
    def recent_sole_space(
        self, spaces: Sequence[str], since: float | None, until: float | None, limit: int
    ) -> list[tuple[int, int, float | None]]: ...
    def revise(self, seq: int, home: str, prepared: PreparedArticle) -> None: ...
    def stored_urls(self, urls: Sequence[str]) -> dict[str, tuple[int, str]]: ...
    def story_grown(self, ids: Sequence[int]) -> dict[int, float]: ...
    # the vector index the database keeps itself (PostgreSQL), None: files beside it (SQLite)
    def own_index(self, encoder: str, view: str) -> VectorIndex | None: ...
    def hold_writer(self) -> Any: ...  # one writer at a time: wait for the others
    def release_writer(self, handle: Any) -> None: ...


@runtime_checkable
class FeedStore(Protocol):
    """What `storylink watch` keeps beside the stories: subscriptions and the entries seen."""

    def known_ids(self, ids: Sequence[str]) -> set[str]: ...
    def subscribe(
        self, url: str, title: str | None, category: str | None, interval: float
    ) -> bool: ...
    def unsubscribe(self, url: str) -> bool: ...
    def feeds(self) -> list[FeedRow]: ...
    def save_feed(self, feed: FeedRow) -> None: ...
    def entry_hashes(self, feed_id: int, keys: Sequence[str]) -> dict[str, str]: ...
    def record_entries(self, entries: Sequence[EntryRow]) -> None: ...
    def entry_times(self, feed_id: int, limit: int) -> list[float]: ...
    def entry_counts(self, since: float) -> dict[int, tuple[int, int, int]]: ...
    def entries_of(self, article_ids: Sequence[str]) -> dict[str, EntryRow]: ...
    def fetched_pages(self, urls: Sequence[str]) -> dict[str, EntryRow]: ...


def is_server_uri(db: object) -> bool:
    """Whether `--db` names a PostgreSQL server (a libpq URI) rather than a SQLite file."""
    return str(db).startswith(("postgresql://", "postgres://"))


def redacted(db: str | Path) -> str:
    """The store's name to show: a path, or a URI without its password."""
    parts = urlsplit(str(db))
    if not is_server_uri(db) or not parts.password:
        return str(db)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def open_store(db: str | Path) -> Store:
    """The store `--db` names: a PostgreSQL server by a libpq URI (``postgresql://…`` or
    ``postgres://…``, `pgstore.py`), else a SQLite file."""
    if is_server_uri(db):
        from .pgstore import PostgresStore

        return PostgresStore(str(db))
    return SQLiteStore(db)


def _in_chunks(values: Sequence[Any], size: int = 500) -> Iterator[tuple[list[Any], str]]:
    """Values in chunks with their "?,?,…" placeholders: SQLite caps parameters per query."""
    for start in range(0, len(values), size):
        chunk = list(values[start : start + size])
        yield chunk, ",".join("?" * len(chunk))


def _timestamp(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment else None


def _vector(blob: bytes) -> np.ndarray:
    """A stored document or title vector (`encode.pack_vector`)."""
    return unpack_vector(blob)


def _analysis_blob(
    language: str,
    mentions: Sequence[Mention],
    dates: Sequence[DateMention],
    numbers: Sequence[NumberMention],
) -> bytes:
    """zlib JSON of each mention, date and number as its fields in order (no names): what
    `profile()` found with NER and the gazetteer, and nothing the text gives back cheaply."""
    rows = [language, *([astuple(x) for x in group] for group in (mentions, dates, numbers))]
    return zlib.compress(json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode(), 9)


def article_row(seq: int, home: str, prepared: PreparedArticle, now: str) -> tuple[Any, ...]:
    """An article's row of the `articles` table, in column order (both stores' schema)."""
    a = prepared.article
    analysis = _analysis_blob(
        prepared.names.language, prepared.names.mentions, prepared.dates, prepared.numbers
    )
    published = a.published.isoformat() if a.published else None
    return (
        *(seq, a.id, a.title, a.text, prepared.language, a.url, a.source, published),
        *(_timestamp(a.published), a.origin, now, home, analysis),
    )


def stored_vectors(
    article: Article,
    encoder: str,
    document: np.ndarray,
    title: np.ndarray | None,
    sentence_blob: bytes,
) -> ArticleVectors:
    """An article's vectors as a store keeps them (document and title decoded, sentences
    packed), with what they imply: the sentence texts and the mean of the sentence vectors."""
    sentence_vectors = unpack_sentences(sentence_blob, len(document))
    mean = unit(sentence_vectors.mean(axis=0)) if len(sentence_vectors) else document
    return ArticleVectors(
        encoder, SentencesOf(article.text), sentence_vectors, title, document, mean
    )


def refuse_newer(name: str, version: int, supported: int) -> None:
    """A store written by a newer storylink is not opened: its schema may mean other things."""
    if version > supported:
        raise StoreError(
            f"{name}: schema version {version} is newer than this storylink ({supported}); "
            "upgrade storylink"
        )


class AnalysisError(ValueError):
    """A stored analysis that cannot be decoded (a damaged row)."""


Analysis = tuple[str, list[Mention], list[DateMention], list[NumberMention]]


def read_analysis(blob: bytes) -> Analysis:
    """Language, mentions, dates and numbers as `_analysis_blob` stored them."""
    try:
        language, mentions, dates, numbers = json.loads(zlib.decompress(blob))
        return (
            str(language),
            [Mention(*m) for m in mentions],
            [DateMention(*d) for d in dates],
            [NumberMention(*n) for n in numbers],
        )
    except (zlib.error, ValueError, TypeError) as error:
        raise AnalysisError(f"its stored analysis cannot be decoded ({error})") from None


def _prepared_from(seq: int, article: Article, blob: bytes) -> PreparedArticle:
    """The stored article ready to compare; a damaged analysis is reported and left out
    (the article is compared by its text and vectors) rather than failing the command."""
    try:
        language, mentions, dates, numbers = read_analysis(blob)
    except AnalysisError as error:
        log.warning(
            "article %d: %s; comparing it without its names, dates and numbers "
            "(`storylink doctor --repair` analyses it again)",
            seq,
            error,
        )
        language, mentions, dates, numbers = article.language or "und", [], [], []
    profile = EntityProfile(language, mentions, partial(name_tables, article))
    return PreparedArticle(article, profile, dates, numbers)


def entity_words(key: str) -> list[str]:
    """The words of a search key (`entities.search_key`) as the entity filter indexes them:
    an entity matches a key when it has all the key's words ("putin" finds "vladimir putin")."""
    return sorted(set(re.findall(r"[^\W_]+", key)))


def entity_terms(kind: str, label: str) -> list[str]:
    """What the entity filter indexes an entity under: the words of its search key and, for a
    person or an organisation, its name terms, which match the name in other scripts
    (`entities.name_terms`; a place's label is the same in every script already)."""
    return entity_words(search_key(label)) + (name_terms(label) if kind != "place" else [])


V2_SCHEMA = """
    ALTER TABLE stories ADD COLUMN sole_space TEXT;  -- the encoder of every member, else NULL
    UPDATE stories SET sole_space = (
        SELECT CASE WHEN COUNT(DISTINCT a.encoder) = 1 THEN MIN(a.encoder) END
        FROM memberships m JOIN articles a ON a.seq = m.seq WHERE m.story_id = stories.id);
    DROP INDEX stories_last;
    CREATE INDEX stories_newest ON stories(last_ts DESC, id);
    CREATE INDEX stories_largest ON stories(size DESC, last_ts DESC, id);
    CREATE INDEX stories_space ON stories(sole_space, last_ts);
    CREATE INDEX articles_encoder_time ON articles(encoder, published_ts);
    CREATE INDEX articles_language ON articles(language);
    DROP INDEX entities_key;
    ALTER TABLE entities DROP COLUMN key;
    CREATE TABLE entity_words (
        word TEXT NOT NULL,               -- a word of entities.search_key(label): `entity_words`
        entity INTEGER NOT NULL,          -- rowid in entities
        PRIMARY KEY (word, entity)
    ) WITHOUT ROWID
"""
# A filter matching more rows than this checks the stories in listing order until a page is
# full; one matching fewer lists its matches and sorts them (RESULTS.md "Compact storage").
COMMON_MATCHES = 10_000
MIGRATION_BATCH = 2_000  # articles per transaction of the v2 conversion
MIGRATION_CURSOR = "migration_v2_after_seq"  # setting: the last article converted


def _to_v2(db: sqlite3.Connection) -> None:
    """Schema v2: compact vectors and analyses, entity word keys, stories' sole encoder.

    The schema changes come first, in one transaction; then the rows are converted in batches
    of `MIGRATION_BATCH` articles, one transaction each, recording the last article converted,
    so that an interrupted migration goes on from there when the store is next opened. No text
    is encoded again: float16 vectors are re-packed (RESULTS.md "Compact storage": 74 s per
    100k articles on a busy machine)."""
    with db:
        db.execute("BEGIN IMMEDIATE")
        if not db.execute("SELECT 1 FROM settings WHERE key = ?", (MIGRATION_CURSOR,)).fetchone():
            for statement in V2_SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute("INSERT INTO settings VALUES (?, '0')", (MIGRATION_CURSOR,))
    total = int(db.execute("SELECT COUNT(*) FROM articles").fetchone()[0])
    started, done = time.perf_counter(), 0
    while True:
        with db:
            db.execute("BEGIN IMMEDIATE")
            after = int(
                db.execute(
                    "SELECT value FROM settings WHERE key = ?", (MIGRATION_CURSOR,)
                ).fetchone()[0]
            )
            seqs = [
                r[0]
                for r in db.execute(
                    "SELECT seq FROM articles WHERE seq > ? ORDER BY seq LIMIT ?",
                    (after, MIGRATION_BATCH),
                )
            ]
            if not seqs:
                db.execute("DELETE FROM settings WHERE key = ?", (MIGRATION_CURSOR,))
                return
            _convert_v1_rows(db, after, seqs[-1])
            db.execute("UPDATE settings SET value = ? WHERE key = ?", (seqs[-1], MIGRATION_CURSOR))
        done += len(seqs)
        log.info(
            "store schema v2: %d of %d articles converted (%.0f s)",
            done,
            total,
            time.perf_counter() - started,
        )


def _convert_v1_rows(db: sqlite3.Connection, after: int, last: int) -> None:
    """The v1 analyses, vectors and entities of articles `after` < seq ≤ `last` in v2 form."""
    span = (after, last)
    analyses = []
    for seq, blob in db.execute(
        "SELECT seq, analysis FROM articles WHERE seq > ? AND seq <= ?", span
    ).fetchall():
        data = json.loads(zlib.decompress(blob))
        mentions = [Mention(**m) for m in data["names"]["mentions"]]
        dates = [DateMention(**d) for d in data["dates"]]
        numbers = [NumberMention(**n) for n in data["numbers"]]
        analyses.append((_analysis_blob(data["names"]["language"], mentions, dates, numbers), seq))
    db.executemany("UPDATE articles SET analysis = ? WHERE seq = ?", analyses)

    def old(blob: bytes) -> np.ndarray:  # v1: float16
        return np.frombuffer(blob, dtype=np.float16).astype(np.float32)

    vectors = []
    for seq, encoder, document, title, sentence_blob in db.execute(
        "SELECT seq, encoder, document, title, sentences FROM vectors WHERE seq > ? AND seq <= ?",
        span,
    ).fetchall():
        doc = old(document)
        sentence_vectors = old(sentence_blob).reshape(-1, len(doc))
        packed_title = None if title is None else pack_vector(old(title))
        row = (pack_vector(doc), packed_title, pack_sentences(sentence_vectors), seq, encoder)
        vectors.append(row)
    db.executemany(
        "UPDATE vectors SET document = ?, title = ?, sentences = ? WHERE seq = ? AND encoder = ?",
        vectors,
    )
    db.executemany(
        "INSERT OR IGNORE INTO entity_words VALUES (?,?)",
        [
            (word, entity)
            for entity, label in db.execute(
                "SELECT rowid, label FROM entities WHERE seq > ? AND seq <= ?", span
            ).fetchall()
            for word in entity_words(search_key(label))
        ],
    )


def _add_name_terms(db: sqlite3.Connection) -> None:
    """Schema v4: people and organisations filed under their name terms too (`entity_terms`),
    so that `stories --entity ترامب` finds a story naming Donald Trump. Run again after an
    interruption it adds the rest (INSERT OR IGNORE)."""
    with db:
        db.executemany(
            "INSERT OR IGNORE INTO entity_words VALUES (?,?)",
            [
                (term, rowid)
                for rowid, label in db.execute(
                    "SELECT rowid, label FROM entities WHERE kind != 'place'"
                ).fetchall()
                for term in name_terms(label)
            ],
        )


# Each entry upgrades the schema by one version: SQL, or a function given the connection that
# commits its own work and may be run again after an interruption (it goes on where it was).
# Never edit a released entry, append one.
Migration = str | Callable[[sqlite3.Connection], None]
MIGRATIONS: tuple[Migration, ...] = (V1_SCHEMA, _to_v2, FEEDS_SCHEMA, _add_name_terms)
SCHEMA_VERSION = len(MIGRATIONS)


MEMBER_COLUMNS = "a.seq, a.encoder, a.language, a.published_ts, m.story_id, m.centrality"


def _member(row: sqlite3.Row) -> Member:
    return Member(row[0], row[1], row[2], row[3], row[4], row[5] or 0.0)


ORDERS = {  # the order of the indexes stories_newest and stories_largest (NULL is last; said
    # for PostgreSQL, whose default for DESC is first)
    "newest": "s.last_ts DESC NULLS LAST, s.id",
    "largest": "s.size DESC, s.last_ts DESC NULLS LAST, s.id",
    "grown": "(SELECT grown_at FROM story_growth g WHERE g.story_id = s.id) DESC NULLS LAST, "
    "s.last_ts DESC NULLS LAST, s.id",
}

ARTICLE_COLUMNS = "a.seq, a.encoder, a.language, a.published_ts, m.story_id, m.centrality, "
ARTICLE_COLUMNS += "a.id, a.title, a.text, a.url, a.source, a.published, a.origin"


def _member_article(row: sqlite3.Row) -> tuple[Member, Article]:
    member = _member(row)
    published = datetime.fromisoformat(row[11]) if row[11] else None
    article = Article(row[7], row[8], row[2], row[9], row[10], published, row[12], row[6])
    return member, article


PAGE_SIZE = 16_384
CACHE_KIB = 65_536  # page cache (filled as used): the B-trees an ingest touches at 1M articles


def read_only_connection(path: Path) -> sqlite3.Connection:
    """The database opened for reading only. Where SQLite may not create the WAL's shared
    memory file beside it (a read-only directory or file system) and no write is pending in a
    WAL file, it is opened as immutable, which needs no such file."""
    uri = path.resolve().as_uri()
    try:
        db = sqlite3.connect(f"{uri}?mode=ro", uri=True, check_same_thread=False)
        db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return db
    except sqlite3.OperationalError:
        wal = path.with_name(path.name + "-wal")
        if os.access(path.parent, os.W_OK) or (wal.exists() and wal.stat().st_size):
            raise
    return sqlite3.connect(f"{uri}?immutable=1", uri=True, check_same_thread=False)


class SQLiteStore:
    """The embedded default store: one SQLite file (WAL), no server."""

    def __init__(self, path: str | Path, read_only: bool = False) -> None:
        """Open (or create) the store and upgrade its schema; `read_only` opens an existing
        store of the current schema without writing anything (`storylink doctor`)."""
        self.path = Path(path)
        if read_only:
            self._db = read_only_connection(self.path)
            if self.schema_version != SCHEMA_VERSION:
                raise StoreError(f"{self.path}: schema {self.schema_version}, not {SCHEMA_VERSION}")
            return
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=lock_wait(), check_same_thread=False)
            # a new file only (an existing one keeps its size): an article's vectors (~4 KB)
            # overflow 4 KB pages, which wastes ~0.9 KB an article (RESULTS.md, "page size")
            self._db.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            self._db.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as error:
            if not self.path.is_file() or os.access(self.path.parent, os.W_OK):
                raise StoreError(f"{self.path}: cannot be opened ({error})") from error
            log.info("%s: in a read-only directory or file system; opened for reading", path)
            self._db = read_only_connection(self.path)
        except sqlite3.DatabaseError as error:
            raise StoreError(f"{self.path}: not a SQLite database ({error})") from error
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        self._migrate()

    def _migrate(self) -> None:
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master")}
        if version == 0 and tables:
            raise StoreError(f"{self.path}: a SQLite database, but not one made by storylink")
        refuse_newer(str(self.path), version, SCHEMA_VERSION)
        for number in range(version, SCHEMA_VERSION):
            step = MIGRATIONS[number]
            if callable(step):
                step(self._db)
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                for statement in _statements(step) if isinstance(step, str) else ():
                    self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {number + 1}")

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def own_index(self, encoder: str, view: str) -> VectorIndex | None:
        return None  # `StoryStore` keeps `ShardedIndex` files beside the database

    def hold_writer(self) -> Any:
        """The lock file beside the database (`lock.hold`)."""
        return lock.hold(self.path)

    def release_writer(self, handle: Any) -> None:
        lock.release(handle)

    def known_ids(self, ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        unique = list(dict.fromkeys(ids))
        for chunk, marks in _in_chunks(unique):
            rows = self._db.execute(f"SELECT id FROM articles WHERE id IN ({marks})", chunk)
            found.update(r[0] for r in rows)
        return found

    def next_seq(self) -> int:
        return int(self._db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM articles").fetchone()[0])

    def commit(self, batch: Batch) -> None:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._db:
            for seq, home, prepared in batch.articles:
                self._put_article(seq, home, prepared, now)
            for seq, vectors in batch.extra_vectors:
                self._put_vectors(seq, vectors)
            if batch.replace_stories:
                self._db.execute("DELETE FROM memberships")
                self._db.execute("DELETE FROM stories")
            # upserts both SQLite and PostgreSQL read alike (`pgstore.py` runs this code)
            self._db.executemany(
                "INSERT INTO stories (id, headline_seq, size, first_ts, last_ts, sole_space) "
                "VALUES (?,?,?,?,?,?) ON CONFLICT (id) DO UPDATE SET "
                "headline_seq = excluded.headline_seq, size = excluded.size, "
                "first_ts = excluded.first_ts, last_ts = excluded.last_ts, "
                "sole_space = excluded.sole_space",
                [astuple(s) for s in batch.stories.values()],
            )
            self._db.executemany(
                "INSERT INTO memberships VALUES (?,?,?) ON CONFLICT (seq) DO UPDATE SET "
                "story_id = excluded.story_id, centrality = excluded.centrality",
                [
                    (seq, story, centrality)
                    for seq, (story, centrality) in batch.memberships.items()
                ],
            )

    def _put_entity(self, seq: int, kind: str, label: str) -> None:
        entity = self._db.execute("INSERT INTO entities VALUES (?,?,?)", (seq, kind, label))
        self._db.executemany(
            "INSERT OR IGNORE INTO entity_words VALUES (?,?)",
            [(word, entity.lastrowid) for word in entity_terms(kind, label)],
        )

    def _put_article(
        self, seq: int, home: str, prepared: PreparedArticle, now: str, revision: bool = False
    ) -> None:
        """Write an article with its names and vectors; a revision replaces all three."""
        if revision:
            self._drop_names_and_vectors(seq)
        self._db.execute(
            "INSERT OR REPLACE INTO articles VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            article_row(seq, home, prepared, now),
        )
        for m in prepared.names.mentions:
            if m.proper:
                self._put_entity(seq, m.kind, m.label)
        for vectors in prepared.vectors.values():
            self._put_vectors(seq, vectors)

    def _drop_names_and_vectors(self, seq: int) -> None:
        """Before a revision: the article's entities, their filter words (deleted by their
        key, which the words table is ordered by: no scan) and its vectors."""
        entities = self._db.execute("SELECT rowid, kind, label FROM entities WHERE seq = ?", (seq,))
        self._db.executemany(
            "DELETE FROM entity_words WHERE word = ? AND entity = ?",
            [
                (word, rowid)
                for rowid, kind, label in entities.fetchall()
                for word in entity_terms(kind, label)
            ],
        )
        self._db.execute("DELETE FROM entities WHERE seq = ?", (seq,))
        self._db.execute("DELETE FROM vectors WHERE seq = ?", (seq,))

    def _put_vectors(self, seq: int, vectors: ArticleVectors) -> None:
        title = vectors.title_vector
        self._db.execute(
            "INSERT OR REPLACE INTO vectors VALUES (?,?,?,?,?)",
            (
                seq,
                vectors.encoder,
                pack_vector(vectors.document_vector),
                None if title is None else pack_vector(title),
                pack_sentences(vectors.sentence_vectors),
            ),
        )

    def members(self) -> list[Member]:
        rows = self._db.execute(
            f"SELECT {MEMBER_COLUMNS} FROM articles a "
            "LEFT JOIN memberships m ON m.seq = a.seq ORDER BY a.seq"
        )
        return [_member(r) for r in rows]

    def story_rows(self, ids: Sequence[int] | None = None) -> list[StoryRow]:
        if ids is None:
            rows = self._db.execute("SELECT * FROM stories ORDER BY id").fetchall()
        else:
            marks = ",".join("?" * len(ids))
            rows = self._db.execute(
                f"SELECT * FROM stories WHERE id IN ({marks}) ORDER BY id", list(ids)
            ).fetchall()
        return [StoryRow(*r) for r in rows]

    def prepared(self, seqs: Sequence[int]) -> dict[int, PreparedArticle]:
        found: dict[int, PreparedArticle] = {}
        for chunk, marks in _in_chunks(seqs):
            for row in self._article_rows(chunk, marks, ", a.analysis"):
                member, article = _member_article(row)
                found[member.seq] = _prepared_from(member.seq, article, row[-1])
            vector_rows = self._db.execute(
                f"SELECT seq, encoder, document, title, sentences FROM vectors "
                f"WHERE seq IN ({marks})",
                chunk,
            )
            for seq, encoder, document, title, sentence_blob in vector_rows:
                found[seq].vectors[encoder] = stored_vectors(
                    found[seq].article,
                    encoder,
                    _vector(document),
                    _vector(title) if title else None,
                    sentence_blob,
                )
        return found

    def find_stories(self, where: StoryFilter) -> list[StoryRow]:
        """Stories in the filter's order, read along the index of that order; a language or
        entity filter lists its few matching stories and sorts them, or, when it matches
        many (`COMMON_MATCHES`), checks the stories in order until the page is full."""
        clauses: list[str] = []
        params: list[Any] = []
        member_filters: list[tuple[str, str, list[Any], int]] = []
        if where.language:
            member_filters.append(
                (
                    "SELECT seq FROM articles WHERE language = ?",
                    "EXISTS (SELECT 1 FROM articles a WHERE a.seq = m.seq AND a.language = ?)",
                    [where.language],
                    self._matches("articles", "language", where.language),
                )
            )
        if where.entities:
            member_filters.append(self._entity_filter(where.entities))
        for matching_seqs, member_check, values, matches in member_filters:
            if matches < COMMON_MATCHES:
                clauses.append(
                    "s.id IN (SELECT m.story_id FROM memberships m "
                    f"WHERE m.seq IN ({matching_seqs}))"
                )
            else:
                clauses.append(
                    "EXISTS (SELECT 1 FROM memberships m "
                    f"WHERE m.story_id = s.id AND ({member_check}))"
                )
            params.extend(values)
        if where.since:
            clauses.append("s.last_ts >= ?")
            params.append(where.since.timestamp())
        if where.until:
            clauses.append("s.first_ts <= ?")
            params.append(where.until.timestamp())
        order = ORDERS.get(where.order, ORDERS["newest"])
        sql = "SELECT s.* FROM stories s"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += f" ORDER BY {order}"
        sql += " LIMIT ? OFFSET ?"
        rows = self._db.execute(sql, [*params, where.limit, where.offset])
        return [StoryRow(*r) for r in rows]

    def _entity_filter(self, keys: Sequence[str]) -> tuple[str, str, list[Any], int]:
        """The articles naming an entity with all the words of one of the keys, as a query of
        their seqs and as a check of article m; its parameters; the matches to expect (at
        most, from each key's rarest word)."""
        seqs: list[str] = []
        checks: list[str] = []
        values: list[Any] = []
        matches = 0
        for key in keys:
            words = entity_words(key) or [key]  # no word: nothing matches
            others = "".join(f" CROSS JOIN entity_words w{i}" for i in range(1, len(words)))
            same = "".join(f" AND w{i}.entity = w0.entity" for i in range(1, len(words)))
            where = " AND ".join(f"w{i}.word = ?" for i in range(len(words)))
            seqs.append(
                f"SELECT e.seq FROM entity_words w0{others} "
                f"JOIN entities e ON e.rowid = w0.entity WHERE {where}{same}"
            )
            checks.append(
                f"EXISTS (SELECT 1 FROM entities e CROSS JOIN entity_words w0{others} "
                f"WHERE e.seq = m.seq AND w0.entity = e.rowid{same} AND {where})"
            )
            values.extend(words)
            matches += min(self._matches("entity_words", "word", word) for word in words)
        return " UNION ".join(seqs), " OR ".join(checks), values, matches

    def _matches(self, table: str, column: str, value: str) -> int:
        """Rows of the table with this value in an indexed column, counted up to
        `COMMON_MATCHES` (a bounded walk along the index)."""
        row = self._db.execute(
            f"SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE {column} = ? LIMIT ?)",
            (value, COMMON_MATCHES),
        ).fetchone()
        return int(row[0])

    def story_members(self, story_id: int) -> list[tuple[Member, Article]]:
        rows = self._db.execute(
            f"SELECT {ARTICLE_COLUMNS} FROM memberships m JOIN articles a ON a.seq = m.seq "
            "WHERE m.story_id = ? ORDER BY a.published_ts NULLS LAST, a.seq",
            (story_id,),
        )
        return [_member_article(r) for r in rows]

    def story_entities(self, story_id: int, limit: int) -> list[tuple[str, str, int]]:
        rows = self._db.execute(
            "SELECT e.kind, e.label, COUNT(DISTINCT e.seq) AS n FROM memberships m "
            "JOIN entities e ON e.seq = m.seq WHERE m.story_id = ? "
            "GROUP BY e.kind, e.label ORDER BY n DESC, e.label LIMIT ?",
            (story_id, limit),
        )
        return [(r[0], r[1], int(r[2])) for r in rows]

    def article_entities(self, seqs: Sequence[int]) -> dict[int, list[tuple[str, str]]]:
        """Each article's names as (kind, label), in the order they were found."""
        found: dict[int, list[tuple[str, str]]] = {seq: [] for seq in seqs}
        for chunk, marks in _in_chunks(seqs):
            rows = self._db.execute(
                f"SELECT seq, kind, label FROM entities WHERE seq IN ({marks}) ORDER BY rowid",
                chunk,
            )
            for seq, kind, label in rows:
                found[seq].append((kind, label))
        return found

    def find_article(self, key: str) -> tuple[Member, Article] | None:
        """An article by id, seq, URL or origin (``file.jsonl#3``)."""
        sql = (
            f"SELECT {ARTICLE_COLUMNS} FROM articles a LEFT JOIN memberships m ON m.seq = a.seq "
            "WHERE a.id = ? OR a.url = ? OR a.origin = ? OR a.seq = ? ORDER BY a.seq LIMIT 1"
        )
        seq = int(key) if key.isdigit() else -1
        row = self._db.execute(sql, (key, key, key, seq)).fetchone()
        return _member_article(row) if row else None

    def articles(self, seqs: Sequence[int]) -> list[tuple[Member, Article]]:
        found: dict[int, tuple[Member, Article]] = {}
        for chunk, marks in _in_chunks(seqs):
            for row in self._article_rows(chunk, marks):
                found[row[0]] = _member_article(row)
        return [found[s] for s in seqs if s in found]

    def _article_rows(self, chunk: list[int], marks: str, extra: str = "") -> Any:
        return self._db.execute(
            f"SELECT {ARTICLE_COLUMNS}{extra} FROM articles a "
            f"LEFT JOIN memberships m ON m.seq = a.seq WHERE a.seq IN ({marks})",
            chunk,
        )

    def story_of(self, ids: Sequence[str]) -> dict[str, int]:
        """Article id → story id, for the given articles that are in a story."""
        found: dict[str, int] = {}
        for chunk, marks in _in_chunks(ids):
            rows = self._db.execute(
                "SELECT a.id, m.story_id FROM articles a JOIN memberships m ON m.seq = a.seq "
                f"WHERE a.id IN ({marks})",
                chunk,
            )
            found.update((r[0], int(r[1])) for r in rows)
        return found

    def count(self, table: str) -> int:
        if table not in {"articles", "stories", "memberships", "vectors", "entities"}:
            raise ValueError(f"unknown table {table!r}")
        return int(self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

    def setting(self, key: str) -> Any:
        row = self._db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def set_setting(self, key: str, value: Any) -> None:
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO settings VALUES (?, ?)", (key, json.dumps(value))
            )

    def close(self) -> None:
        self._db.close()

    # -------------------------------------------------- clustering state, looked up on demand

    def members_of(self, seqs: Sequence[int]) -> list[Member]:
        """The given articles' place in the store (without their texts)."""
        found: list[Member] = []
        for chunk, marks in _in_chunks(seqs):
            rows = self._db.execute(
                f"SELECT {MEMBER_COLUMNS} FROM articles a "
                f"LEFT JOIN memberships m ON m.seq = a.seq WHERE a.seq IN ({marks})",
                chunk,
            )
            found.extend(_member(r) for r in rows)
        return found

    def story_member_rows(self, story_id: int) -> list[Member]:
        """A story's members in ingestion order (without their texts)."""
        rows = self._db.execute(
            f"SELECT {MEMBER_COLUMNS} FROM memberships m JOIN articles a ON a.seq = m.seq "
            "WHERE m.story_id = ? ORDER BY m.seq",
            (story_id,),
        )
        return [_member(r) for r in rows]

    def home_documents(self, seqs: Sequence[int]) -> dict[int, np.ndarray]:
        """Document vectors of the given articles in their home encoder's space."""
        found: dict[int, np.ndarray] = {}
        for chunk, marks in _in_chunks(seqs):
            rows = self._db.execute(
                "SELECT v.seq, v.document FROM vectors v JOIN articles a "
                f"ON a.seq = v.seq AND v.encoder = a.encoder WHERE v.seq IN ({marks})",
                chunk,
            )
            found.update((seq, _vector(blob)) for seq, blob in rows)
        return found

    def indexed_vectors(
        self, encoder: str, view: str, after_seq: int = 0
    ) -> Iterator[tuple[int, float | None, np.ndarray]]:
        """(seq, publication time, vector) of the articles whose home encoder this is, in
        ingestion order: what a vector index of that view holds."""
        column = "v.document" if view == "document" else "COALESCE(v.title, v.document)"
        rows = self._db.execute(
            # CROSS JOIN keeps SQLite on the vectors key (seq > after_seq): it would otherwise
            # walk every article of the encoder, 0.25 s at 1M for the few rows a catch-up wants
            f"SELECT v.seq, a.published_ts, {column} FROM vectors v CROSS JOIN articles a "
            "ON a.seq = v.seq WHERE v.seq > ? AND v.encoder = ? AND a.encoder = v.encoder "
            "ORDER BY v.seq",
            (after_seq, encoder),
        )
        for seq, ts, blob in rows:
            yield seq, ts, _vector(blob)

    def dimension(self, encoder: str) -> int | None:
        """The length of the vectors of articles at home in `encoder`, None if none is stored."""
        row = self._db.execute(
            "SELECT v.document FROM articles a JOIN vectors v "
            "ON v.seq = a.seq AND v.encoder = a.encoder WHERE a.encoder = ? LIMIT 1",
            (encoder,),
        ).fetchone()
        return None if row is None else len(_vector(row[0]))

    def max_story_id(self) -> int:
        return int(self._db.execute("SELECT COALESCE(MAX(id), 0) FROM stories").fetchone()[0])

    def recent_sole_space(
        self, spaces: Sequence[str], since: float | None, until: float | None, limit: int
    ) -> list[tuple[int, int, float | None]]:
        """(id, headline seq, last time) of the stories told only in one of `spaces` whose
        span meets [since, until], most recent first (undated stories last)."""
        found: list[tuple[int, int, float | None]] = []
        for space in spaces:
            clauses = ["sole_space = ?", "last_ts IS NOT NULL"]
            params: list[Any] = [space]
            if since is not None:
                clauses.append("last_ts >= ?")
                params.append(since)
            if until is not None:
                clauses.append("first_ts <= ?")
                params.append(until)
            for where in (" AND ".join(clauses), "sole_space = ? AND last_ts IS NULL"):
                rows = self._db.execute(
                    f"SELECT id, headline_seq, last_ts FROM stories WHERE {where} "
                    "ORDER BY last_ts DESC, id DESC LIMIT ?",
                    [*(params if "NOT NULL" in where else [space]), limit],
                )
                found.extend((r[0], r[1], r[2]) for r in rows)
        found.sort(key=lambda r: (r[2] is None, -(r[2] or 0.0), -r[0]))
        return found[:limit]

    # ------------------------------------------------------------- revisions, growth, feeds

    def revise(self, seq: int, home: str, prepared: PreparedArticle) -> None:
        """Replace a stored article's text, names and vectors in place; it keeps its number,
        its story and when it was first ingested. Readers notice through the `revisions`
        setting (`StoryStore.catch_up`)."""
        with self._db:
            row = self._db.execute("SELECT ingested_at FROM articles WHERE seq = ?", (seq,))
            self._put_article(seq, home, prepared, row.fetchone()[0], revision=True)
            self._db.execute(
                "UPDATE stories SET first_ts = span.first, last_ts = span.last FROM ("
                "SELECT MIN(a.published_ts) AS first, MAX(a.published_ts) AS last "
                "FROM memberships m JOIN articles a ON a.seq = m.seq WHERE m.story_id = "
                "(SELECT story_id FROM memberships WHERE seq = ?)) AS span "
                "WHERE id = (SELECT story_id FROM memberships WHERE seq = ?)",
                (seq, seq),
            )
            self._db.execute(
                "INSERT INTO settings VALUES ('revisions', '1') ON CONFLICT (key) "
                "DO UPDATE SET value = CAST(settings.value AS INTEGER) + 1"
            )

    def stored_urls(self, urls: Sequence[str]) -> dict[str, tuple[int, str]]:
        """URL → (seq, id) of the latest stored article with that URL."""
        found: dict[str, tuple[int, str]] = {}
        for chunk, marks in _in_chunks(list(dict.fromkeys(urls))):
            rows = self._db.execute(
                f"SELECT url, seq, id FROM articles WHERE url IN ({marks}) ORDER BY seq", chunk
            )
            found.update((r[0], (int(r[1]), r[2])) for r in rows)
        return found

    def story_grown(self, ids: Sequence[int]) -> dict[int, float]:
        """Story id → when it last gained an article (UTC timestamp)."""
        found: dict[int, float] = {}
        for chunk, marks in _in_chunks(ids):
            rows = self._db.execute(
                f"SELECT story_id, grown_at FROM story_growth WHERE story_id IN ({marks})", chunk
            )
            found.update((int(r[0]), float(r[1])) for r in rows)
        return found

    def subscribe(self, url: str, title: str | None, category: str | None, interval: float) -> bool:
        """Add a feed, due at once; False when it is already subscribed (nothing changes)."""
        now = datetime.now(UTC).timestamp()
        with self._db:
            cursor = self._db.execute(
                "INSERT INTO feeds (url, title, category, added_at, interval, next_poll) "
                "VALUES (?,?,?,?,?,?) ON CONFLICT (url) DO NOTHING",
                (url, title, category, now, interval, now),
            )
        return cursor.rowcount > 0

    def unsubscribe(self, url: str) -> bool:
        with self._db:  # its entries go with it (ON DELETE CASCADE)
            cursor = self._db.execute("DELETE FROM feeds WHERE url = ?", (url,))
        return cursor.rowcount > 0

    def feeds(self) -> list[FeedRow]:
        rows = self._db.execute(f"SELECT {FEED_COLUMNS} FROM feeds ORDER BY id")
        return [FeedRow(*r) for r in rows]

    def save_feed(self, feed: FeedRow) -> None:
        """Write a feed's state; a URL another subscription already has is not taken over."""
        values = [getattr(feed, name) for name in FEED_COLUMNS.split(", ")[1:]]
        assignments = ", ".join(f"{name} = ?" for name in FEED_COLUMNS.split(", ")[1:])
        with self._db:
            try:
                self._db.execute(f"UPDATE feeds SET {assignments} WHERE id = ?", [*values, feed.id])
            except sqlite3.IntegrityError:
                values[0] = self._db.execute(
                    "SELECT url FROM feeds WHERE id = ?", (feed.id,)
                ).fetchone()[0]
                self._db.execute(f"UPDATE feeds SET {assignments} WHERE id = ?", [*values, feed.id])

    def entry_hashes(self, feed_id: int, keys: Sequence[str]) -> dict[str, str]:
        """Key → content hash of the given entries this feed has already given."""
        found: dict[str, str] = {}
        for chunk, marks in _in_chunks(keys):
            rows = self._db.execute(
                f"SELECT key, hash FROM entries WHERE feed_id = ? AND key IN ({marks})",
                [feed_id, *chunk],
            )
            found.update((r[0], r[1]) for r in rows)
        return found

    def record_entries(self, entries: Sequence[EntryRow]) -> None:
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO entries VALUES (?,?,?,?,?,?,?,?,?)",
                [astuple(e) for e in entries],
            )

    def entry_times(self, feed_id: int, limit: int) -> list[float]:
        """When the feed's latest entries were published (else first seen), newest first."""
        rows = self._db.execute(
            "SELECT COALESCE(published_ts, seen_at) AS t FROM entries WHERE feed_id = ? "
            "ORDER BY t DESC LIMIT ?",
            (feed_id, limit),
        )
        return [float(r[0]) for r in rows]

    def entry_counts(self, since: float) -> dict[int, tuple[int, int, int]]:
        """Feed id → (entries, entries that gave an article, of which from the feed's own
        text) first seen since a time."""
        rows = self._db.execute(
            "SELECT feed_id, COUNT(*), COUNT(article_id), "
            "COUNT(article_id) FILTER (WHERE text_source = 'feed') FROM entries "
            "WHERE seen_at >= ? GROUP BY feed_id",
            (since,),
        )
        return {int(r[0]): (int(r[1]), int(r[2]), int(r[3])) for r in rows}

    def entries_of(self, article_ids: Sequence[str]) -> dict[str, EntryRow]:
        """Article id → the (first) feed entry that gave it."""
        found: dict[str, EntryRow] = {}
        for chunk, marks in _in_chunks(article_ids):
            rows = self._db.execute(
                f"SELECT * FROM entries WHERE article_id IN ({marks}) ORDER BY seen_at DESC", chunk
            )
            found.update((r[6], EntryRow(*r)) for r in rows)
        return found

    def fetched_pages(self, urls: Sequence[str]) -> dict[str, EntryRow]:
        """URL → an entry of any feed that already gave an article from that page."""
        found: dict[str, EntryRow] = {}
        for chunk, marks in _in_chunks(list(dict.fromkeys(urls))):
            rows = self._db.execute(
                f"SELECT * FROM entries WHERE url IN ({marks}) AND article_id IS NOT NULL "
                "ORDER BY seen_at",
                chunk,
            )
            found.update((r[2], EntryRow(*r)) for r in rows)
        return found


FEED_COLUMNS = (
    "id, url, title, category, added_at, etag, last_modified, interval, next_poll, last_poll, "
    "last_success, last_error, failures, disabled"
)


def _statements(script: str) -> Iterator[str]:
    """The statements of a migration script; trigger bodies hold semicolons of their own."""
    pending = ""
    for part in script.split(";"):
        pending += part + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                yield pending
            pending = ""
