"""Where ingested articles, their analyses and vectors, stories and memberships live.

`Store` is the narrow interface the story layer (`stories.py`) uses; `SQLiteStore` is the
embedded default: one file in WAL mode, schema versioned by `MIGRATIONS`. Every ingest batch
is written in one transaction, so a killed process leaves whole batches or nothing.

Vectors are kept as float16 (`encode.ArticleVectors.compact`): half the disk, and the live
pipeline uses the same rounded values, so a re-cluster from the store equals the first run.
"""

from __future__ import annotations

import json
import sqlite3
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import astuple, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .article import Article
from .dates import DateMention, NumberMention
from .encode import ArticleVectors, unit
from .entities import EntityProfile, Mention, search_key
from .features import PreparedArticle
from .text import sentences

# Each entry upgrades the schema by one version; never edit a released entry, append one.
MIGRATIONS: tuple[str, ...] = (
    """
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
    """,
    """
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
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


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
    entities: tuple[str, ...] = ()  # search keys (`entities.search_key`); any may match
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
    def document_vectors(self, encoder: str, after_seq: int = 0) -> Iterator[tuple[int, Any]]: ...
    def title_vectors(self, encoder: str, after_seq: int = 0) -> Iterator[tuple[int, Any]]: ...
    def find_stories(self, where: StoryFilter) -> list[StoryRow]: ...
    def story_members(self, story_id: int) -> list[tuple[Member, Article]]: ...
    def story_entities(self, story_id: int, limit: int) -> list[tuple[str, str, int]]: ...
    def find_article(self, key: str) -> tuple[Member, Article] | None: ...
    def articles(self, seqs: Sequence[int]) -> list[tuple[Member, Article]]: ...
    def story_of(self, ids: Sequence[str]) -> dict[str, int]: ...
    def count(self, table: str) -> int: ...
    def setting(self, key: str) -> Any: ...
    def set_setting(self, key: str, value: Any) -> None: ...
    def close(self) -> None: ...
    def revise(self, seq: int, home: str, prepared: PreparedArticle) -> None: ...
    def stored_urls(self, urls: Sequence[str]) -> dict[str, tuple[int, str]]: ...
    def story_grown(self, ids: Sequence[int]) -> dict[int, float]: ...
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


def _in_chunks(values: Sequence[Any], size: int = 500) -> Iterator[tuple[list[Any], str]]:
    """Values in chunks with their "?,?,…" placeholders: SQLite caps parameters per query."""
    for start in range(0, len(values), size):
        chunk = list(values[start : start + size])
        yield chunk, ",".join("?" * len(chunk))


def _timestamp(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment else None


def _blob(matrix: np.ndarray | None) -> bytes | None:
    return None if matrix is None else np.asarray(matrix, dtype=np.float16).tobytes()


def _vector(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.float16).astype(np.float32)


def _matrix(blob: bytes, dimension: int) -> np.ndarray:
    return _vector(blob).reshape(-1, dimension)


def _analysis_blob(prepared: PreparedArticle) -> bytes:
    names = prepared.names
    data = {
        "names": {
            "language": names.language,
            "mentions": [vars(m) for m in names.mentions],  # flat dataclasses: vars = asdict
            "surfaces": names.surfaces,
            "skeletons": names.skeletons,
            "short_names": names.short_names,
        },
        "dates": [vars(d) for d in prepared.dates],
        "numbers": [vars(n) for n in prepared.numbers],
    }
    return zlib.compress(json.dumps(data, ensure_ascii=False).encode("utf-8"), 1)


def _prepared_from(article: Article, blob: bytes) -> PreparedArticle:
    data = json.loads(zlib.decompress(blob))
    names = data["names"]
    profile = EntityProfile(
        names["language"],
        [Mention(**m) for m in names["mentions"]],
        names["surfaces"],
        names["skeletons"],
        names["short_names"],
    )
    return PreparedArticle(
        article,
        profile,
        [DateMention(**d) for d in data["dates"]],
        [NumberMention(**n) for n in data["numbers"]],
    )


ORDERS = {
    "newest": "s.last_ts DESC",
    "largest": "s.size DESC, s.last_ts DESC",
    "grown": "(SELECT grown_at FROM story_growth g WHERE g.story_id = s.id) DESC, s.last_ts DESC",
}

ARTICLE_COLUMNS = "a.seq, a.encoder, a.language, a.published_ts, m.story_id, m.centrality, "
ARTICLE_COLUMNS += "a.id, a.title, a.text, a.url, a.source, a.published, a.origin"


def _member_article(row: sqlite3.Row) -> tuple[Member, Article]:
    member = Member(row[0], row[1], row[2], row[3], row[4], row[5] or 0.0)
    published = datetime.fromisoformat(row[11]) if row[11] else None
    article = Article(row[7], row[8], row[2], row[9], row[10], published, row[12], row[6])
    return member, article


class SQLiteStore:
    """The embedded default store: one SQLite file (WAL), no server."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
        except sqlite3.DatabaseError as error:
            raise StoreError(f"{self.path}: not a SQLite database ({error})") from error
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    def _migrate(self) -> None:
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master")}
        if version == 0 and tables:
            raise StoreError(f"{self.path}: a SQLite database, but not one made by storylink")
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: schema version {version} is newer than this storylink "
                f"({SCHEMA_VERSION}); upgrade storylink"
            )
        for number in range(version, SCHEMA_VERSION):
            with self._db:
                for statement in _statements(MIGRATIONS[number]):
                    self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {number + 1}")

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

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
            self._db.executemany(
                "INSERT OR REPLACE INTO stories VALUES (?,?,?,?,?)",
                [
                    (s.id, s.headline_seq, s.size, s.first_ts, s.last_ts)
                    for s in batch.stories.values()
                ],
            )
            self._db.executemany(
                "INSERT OR REPLACE INTO memberships VALUES (?,?,?)",
                [
                    (seq, story, centrality)
                    for seq, (story, centrality) in batch.memberships.items()
                ],
            )

    def _put_article(self, seq: int, home: str, prepared: PreparedArticle, now: str) -> None:
        """Write an article with its names and vectors; a revision replaces all three."""
        a = prepared.article
        self._db.execute(
            "INSERT OR REPLACE INTO articles VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                seq,
                a.id,
                a.title,
                a.text,
                prepared.language,
                a.url,
                a.source,
                a.published.isoformat() if a.published else None,
                _timestamp(a.published),
                a.origin,
                now,
                home,
                _analysis_blob(prepared),
            ),
        )
        self._db.execute("DELETE FROM entities WHERE seq = ?", (seq,))
        self._db.executemany(
            "INSERT INTO entities VALUES (?,?,?,?)",
            [
                (seq, m.kind, m.label, search_key(m.label))
                for m in prepared.names.mentions
                if m.proper
            ],
        )
        self._db.execute("DELETE FROM vectors WHERE seq = ?", (seq,))
        for vectors in prepared.vectors.values():
            self._put_vectors(seq, vectors)

    def _put_vectors(self, seq: int, vectors: ArticleVectors) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO vectors VALUES (?,?,?,?,?)",
            (
                seq,
                vectors.encoder,
                _blob(vectors.document_vector),
                _blob(vectors.title_vector),
                _blob(vectors.sentence_vectors),
            ),
        )

    def members(self) -> list[Member]:
        rows = self._db.execute(
            "SELECT a.seq, a.encoder, a.language, a.published_ts, m.story_id, m.centrality "
            "FROM articles a LEFT JOIN memberships m ON m.seq = a.seq ORDER BY a.seq"
        )
        return [Member(r[0], r[1], r[2], r[3], r[4], r[5] or 0.0) for r in rows]

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
                found[member.seq] = _prepared_from(article, row[-1])
            vector_rows = self._db.execute(
                f"SELECT seq, encoder, document, title, sentences FROM vectors "
                f"WHERE seq IN ({marks})",
                chunk,
            )
            for seq, encoder, document, title, sentence_blob in vector_rows:
                doc = _vector(document)
                sentence_vectors = _matrix(sentence_blob, len(doc))
                prepared = found[seq]
                texts = sentences(prepared.article.text) or [prepared.article.text.strip()]
                prepared.vectors[encoder] = ArticleVectors(
                    encoder,
                    texts,
                    sentence_vectors,
                    _vector(title) if title else None,
                    doc,
                    unit(sentence_vectors.mean(axis=0)) if len(sentence_vectors) else doc,
                )
        return found

    def document_vectors(self, encoder: str, after_seq: int = 0) -> Iterator[tuple[int, Any]]:
        """Document vectors of the articles whose home encoder this is, in ingestion order."""
        return self._home_vectors("v.document", encoder, after_seq)

    def title_vectors(self, encoder: str, after_seq: int = 0) -> Iterator[tuple[int, Any]]:
        """Title vectors (the document's for an untitled article), as `document_vectors`."""
        return self._home_vectors("COALESCE(v.title, v.document)", encoder, after_seq)

    def _home_vectors(self, column: str, encoder: str, after_seq: int) -> Iterator[tuple[int, Any]]:
        rows = self._db.execute(
            f"SELECT v.seq, {column} FROM vectors v JOIN articles a ON a.seq = v.seq "
            "WHERE a.encoder = ? AND v.encoder = a.encoder AND v.seq > ? ORDER BY v.seq",
            (encoder, after_seq),
        )
        for seq, blob in rows:
            yield seq, _vector(blob)

    def find_stories(self, where: StoryFilter) -> list[StoryRow]:
        clauses: list[str] = []
        params: list[Any] = []
        if where.language:
            clauses.append(
                "s.id IN (SELECT m.story_id FROM memberships m JOIN articles a ON a.seq = m.seq "
                "WHERE a.language = ?)"
            )
            params.append(where.language)
        if where.since:
            clauses.append("s.last_ts >= ?")
            params.append(where.since.timestamp())
        if where.until:
            clauses.append("s.first_ts <= ?")
            params.append(where.until.timestamp())
        if where.entities:
            alternatives = " OR ".join("e.key LIKE ?" for _ in where.entities)
            clauses.append(
                "s.id IN (SELECT m.story_id FROM memberships m JOIN entities e ON e.seq = m.seq "
                f"WHERE {alternatives})"
            )
            params.extend(f"%{key}%" for key in where.entities)
        order = ORDERS.get(where.order, ORDERS["newest"])
        sql = "SELECT s.* FROM stories s"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += f" ORDER BY {order} NULLS LAST, s.id LIMIT ? OFFSET ?"
        rows = self._db.execute(sql, [*params, where.limit, where.offset])
        return [StoryRow(*r) for r in rows]

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

    # ------------------------------------------------------------- revisions, growth, feeds

    def revise(self, seq: int, home: str, prepared: PreparedArticle) -> None:
        """Replace a stored article's text, names and vectors in place; it keeps its number,
        its story and when it was first ingested. Readers notice through the `revisions`
        setting (`StoryStore.catch_up`)."""
        with self._db:
            row = self._db.execute("SELECT ingested_at FROM articles WHERE seq = ?", (seq,))
            self._put_article(seq, home, prepared, row.fetchone()[0])
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
                "DO UPDATE SET value = CAST(value AS INTEGER) + 1"
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
