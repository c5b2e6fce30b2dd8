"""The story store on a PostgreSQL server with pgvector: one store shared by many machines.

`PostgresStore` implements the same `Store` and `FeedStore` calls as `SQLiteStore`. The SQL
both dialects read alike is `SQLiteStore`'s own, run through `_Connection` ("?" placeholders,
a `with` block is a transaction); what differs is written here: the schema and its migrations
(`MIGRATIONS`, version in `storylink_schema`), upserts, vectors and the writer lock. Columns
keep SQLite's names and order (`entities.rowid` is a real column here), and entity labels sort
bytewise (COLLATE "C", as SQLite's BINARY), so both stores list the same things in the same
order. Vectors live in pgvector columns: document and title vectors as `vector` (the compact
values of `encode.ArticleVectors.compact`, exact in float32), sentence vectors packed as in
SQLite (int4 in `bytea`: nothing searches them).

**The vector index is the database** (`PgVectorIndex`): HNSW (cosine) indexes, one per
encoder and view, partial on `encoder = … AND home` with the encoder's dimension cast in the
expression. pgvector 0.6 filters after the HNSW scan (no iterative scans), so a time-filtered
HNSW search loses recall. Clustering asks for ±window days, so a search first counts the rows
in its time window (bounded, along a b-tree on (encoder, published_ts)): up to `EXACT_ROWS`
rows it ranks them exactly (every distance, no HNSW); beyond, it over-fetches
`ef_search` HNSW candidates and keeps those in the window (falling back to exact ranking when
fewer than k are left). Every candidate is then re-scored exactly as `ShardedIndex` scores it
(`index.index_scores`, int8), and the exact path fetches until the k-th score is beyond what
any row left out could score, so on the exact path the neighbours, and the stories, are the
ones a SQLite store finds. Recall of the HNSW path: `benchmarks/pg_scale.py`.

**Many writers.** Analysis (names, dates, vectors: nearly all the CPU) runs in every writer
at once; story assignment and the commit are serialised by a session-level advisory lock
(`hold_writer`), taken per ingest batch. Under the lock the writer re-reads what others
committed since its state was loaded (`StoryStore._live_clusterer` restarts from the store
when the next ingestion number moved; the batch's articles are checked against the stored
ids again), assigns in input order and commits the batch in one transaction. So no article is
stored twice (also a UNIQUE constraint on the content hash), every article is in exactly one
story, and no assignment is made on stale state and lost. Why one lock per store and not per
time window: a new article may join a story of any window (undated articles, stories across
encoder spaces), and story ids and ingestion numbers are store-wide, so per-window locks
would need a second protocol for all of these. The price: the locked part (clustering +
commit, 18 ms an article at 10k stored, 42 ms at 100k on a busy machine: RESULTS.md) bounds
the store's rate whatever the number of writers; the ~36 ms of analysis an article does not.
A writer killed mid-batch loses its connection, the server rolls back its transaction and
drops its lock: the next run adds what is missing.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import socket
import struct
from collections.abc import Iterator, Sequence
from dataclasses import astuple
from typing import Any, cast

import numpy as np

from .encode import ArticleVectors, pack_sentences
from .features import PreparedArticle
from .index import SEED, UNDATED, index_scores
from .lock import lock_wait
from .store import (
    ARTICLE_COLUMNS,
    FEED_COLUMNS,
    Batch,
    EntryRow,
    FeedRow,
    SQLiteStore,
    StoreError,
    _member_article,
    _prepared_from,
    _timestamp,
    article_row,
    entity_terms,
    redacted,
    refuse_newer,
    stored_vectors,
)

log = logging.getLogger(__name__)

SCHEMA = """
    CREATE TABLE articles (
        seq BIGINT PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        title TEXT NOT NULL,
        text TEXT NOT NULL,
        language TEXT NOT NULL,
        url TEXT,
        source TEXT,
        published TEXT,
        published_ts DOUBLE PRECISION,
        origin TEXT NOT NULL,
        ingested_at TEXT NOT NULL,
        encoder TEXT NOT NULL,
        analysis BYTEA NOT NULL
    );
    CREATE INDEX articles_published ON articles(published_ts);
    CREATE INDEX articles_url ON articles(url);
    CREATE INDEX articles_origin ON articles(origin);
    CREATE INDEX articles_language ON articles(language);
    CREATE INDEX articles_encoder_time ON articles(encoder, published_ts);
    CREATE TABLE vectors (
        seq BIGINT NOT NULL REFERENCES articles(seq),
        encoder TEXT NOT NULL,
        home BOOLEAN NOT NULL,            -- the article's home encoder: what its index holds
        published_ts DOUBLE PRECISION,    -- the article's, for the index's time window
        document vector NOT NULL,
        title vector,
        sentences BYTEA NOT NULL,
        PRIMARY KEY (seq, encoder)
    );
    -- kept in the row, not TOASTed beside it: an exact window scan reads them 2x faster
    ALTER TABLE vectors ALTER COLUMN document SET STORAGE MAIN,
        ALTER COLUMN title SET STORAGE MAIN;
    CREATE INDEX vectors_window ON vectors(encoder, published_ts) WHERE home;
    CREATE TABLE entities (
        rowid BIGSERIAL PRIMARY KEY,      -- SQLite's implicit row id, so shared SQL reads it
        seq BIGINT NOT NULL REFERENCES articles(seq),
        kind TEXT NOT NULL,
        label TEXT COLLATE "C" NOT NULL   -- sorted bytewise, as SQLite does
    );
    CREATE INDEX entities_seq ON entities(seq);
    CREATE TABLE entity_words (
        word TEXT NOT NULL,
        entity BIGINT NOT NULL,
        PRIMARY KEY (word, entity)
    );
    CREATE TABLE stories (
        id BIGINT PRIMARY KEY,
        headline_seq BIGINT NOT NULL REFERENCES articles(seq),
        size INTEGER NOT NULL,
        first_ts DOUBLE PRECISION,
        last_ts DOUBLE PRECISION,
        sole_space TEXT
    );
    CREATE INDEX stories_newest ON stories(last_ts DESC NULLS LAST, id);
    CREATE INDEX stories_largest ON stories(size DESC, last_ts DESC NULLS LAST, id);
    CREATE INDEX stories_space ON stories(sole_space, last_ts);
    CREATE TABLE memberships (
        seq BIGINT PRIMARY KEY REFERENCES articles(seq),
        story_id BIGINT NOT NULL REFERENCES stories(id),
        centrality DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX memberships_story ON memberships(story_id);
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE feeds (
        id BIGSERIAL PRIMARY KEY,
        url TEXT NOT NULL UNIQUE,
        title TEXT,
        category TEXT,
        added_at DOUBLE PRECISION NOT NULL,
        etag TEXT,
        last_modified TEXT,
        interval DOUBLE PRECISION NOT NULL,
        next_poll DOUBLE PRECISION NOT NULL,
        last_poll DOUBLE PRECISION,
        last_success DOUBLE PRECISION,
        last_error TEXT,
        failures INTEGER NOT NULL DEFAULT 0,
        disabled TEXT
    );
    CREATE TABLE entries (
        feed_id BIGINT NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        url TEXT,
        hash TEXT NOT NULL,
        seen_at DOUBLE PRECISION NOT NULL,
        published_ts DOUBLE PRECISION,
        article_id TEXT,
        text_source TEXT NOT NULL,
        note TEXT,
        PRIMARY KEY (feed_id, key)
    );
    CREATE INDEX entries_url ON entries(url);
    CREATE INDEX entries_article ON entries(article_id);
    CREATE TABLE story_growth (
        story_id BIGINT PRIMARY KEY,
        grown_at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX story_growth_at ON story_growth(grown_at);
    CREATE FUNCTION storylink_story_grows() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO story_growth
        SELECT NEW.story_id, extract(epoch FROM ingested_at::timestamptz) FROM articles
        WHERE seq = NEW.seq
        ON CONFLICT (story_id) DO UPDATE
        SET grown_at = GREATEST(story_growth.grown_at, excluded.grown_at);
        RETURN NULL;
    END $$;
    CREATE TRIGGER story_grows AFTER INSERT OR UPDATE ON memberships
    FOR EACH ROW EXECUTE FUNCTION storylink_story_grows();
    CREATE FUNCTION storylink_story_gone() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM story_growth WHERE story_id = OLD.id;
        RETURN NULL;
    END $$;
    CREATE TRIGGER story_gone AFTER DELETE ON stories
    FOR EACH ROW EXECUTE FUNCTION storylink_story_gone();
"""
# Each entry upgrades the schema by one version, in one transaction. Never edit a released
# entry, append one.
MIGRATIONS: tuple[str, ...] = (SCHEMA,)
SCHEMA_VERSION = len(MIGRATIONS)
MIGRATION_LOCK = 0x5354_4C4D  # advisory lock keys of a storylink database: "STLM"
WRITER_LOCK = 0x5354_4C57  # "STLW"
EXACT_ROWS = 10_000  # a time window of up to this many rows is ranked exactly
MAX_EF_SEARCH = 1_000  # pgvector's limit


def _placeholders(sql: str) -> str:
    """SQLite's SQL as PostgreSQL reads it: "?" placeholders as psycopg's "%s" (a literal "%"
    doubled), and `a IS NOT b` of two values as IS DISTINCT FROM."""
    sql = re.sub(r"\bIS NOT (?!NULL\b)", "IS DISTINCT FROM ", sql)
    return sql.replace("%", "%%").replace("?", "%s")


class _Connection:
    """A psycopg connection used as `SQLiteStore` uses a sqlite3 one: "?" placeholders, and a
    `with` block is one transaction (nested: a savepoint)."""

    def __init__(self, connection: Any) -> None:
        self.pg = connection
        self._open: list[Any] = []

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.pg.execute(_placeholders(sql), params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.pg.cursor() as cursor:
            cursor.executemany(_placeholders(sql), rows)

    def __enter__(self) -> _Connection:
        transaction = self.pg.transaction()
        transaction.__enter__()
        self._open.append(transaction)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._open.pop().__exit__(*exc)

    def close(self) -> None:
        self.pg.close()


def _connect(uri: str) -> Any:
    """A connection with pgvector's `vector` type read and written as float32 arrays; a
    server that cannot be reached or lacks pgvector is a `StoreError` of one line."""
    import psycopg
    from psycopg.adapt import Dumper, Loader
    from psycopg.pq import Format
    from psycopg.types import TypeInfo

    name = redacted(uri)
    try:
        connection = psycopg.connect(
            uri,
            autocommit=True,
            application_name=f"storylink {os.getpid()}@{socket.gethostname()}"[:63],
            connect_timeout=int(max(1.0, lock_wait())),
        )
    except psycopg.Error as error:
        detail = " ".join(str(error).split())
        raise StoreError(f"{name}: cannot connect to PostgreSQL ({detail})") from None
    try:
        with connection.transaction():
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            connection.execute("CREATE EXTENSION IF NOT EXISTS vector")
    except psycopg.Error as error:
        connection.close()
        detail = " ".join(str(error).split())
        raise StoreError(
            f"{name}: the server cannot give this database pgvector's `vector` type ({detail}); "
            "install pgvector (0.5 or newer) on the server or ask its administrator to run "
            "CREATE EXTENSION vector in it"
        ) from None
    info = TypeInfo.fetch(connection, "vector")
    assert info is not None
    vector_oid = info.oid

    class VectorDumper(Dumper):
        format = Format.BINARY
        oid = vector_oid

        def dump(self, obj: Any) -> bytes:
            values = np.asarray(obj, dtype=">f4")
            return struct.pack(">HH", len(values), 0) + values.tobytes()

    class VectorLoader(Loader):
        format = Format.BINARY

        def load(self, data: Any) -> np.ndarray:
            count = struct.unpack_from(">H", data)[0]
            return np.frombuffer(data, ">f4", count, 4).astype(np.float32)

    connection.adapters.register_dumper(np.ndarray, VectorDumper)
    connection.adapters.register_loader(vector_oid, VectorLoader)
    return connection


class PostgresStore(SQLiteStore):
    """The store in a PostgreSQL database (with pgvector), shared by many processes."""

    def __init__(self, uri: str) -> None:
        """Connect to the server and create or upgrade the schema (`uri`: any libpq URI,
        e.g. ``postgresql://user@host/db`` or ``postgresql:///db?host=/socket/dir``)."""
        self.uri = uri
        self.name = redacted(uri)
        self.pg = _connect(uri)
        self._db = cast(Any, _Connection(self.pg))
        self._indexed: set[str] = set()  # HNSW indexes known to exist
        self._migrate()

    def __repr__(self) -> str:
        return f"PostgresStore({self.name!r})"

    def _migrate(self) -> None:
        """Apply the missing migrations, one transaction each, one process at a time."""
        with self._db:
            self.pg.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            self.pg.execute("CREATE TABLE IF NOT EXISTS storylink_schema (version INTEGER)")
            version = self.schema_version
            if (
                version == 0
                and self.pg.execute(
                    "SELECT 1 FROM pg_tables WHERE schemaname = current_schema() "
                    "AND tablename = 'articles'"
                ).fetchone()
            ):
                raise StoreError(f"{self.name}: holds an articles table not made by storylink")
            refuse_newer(self.name, version, SCHEMA_VERSION)
            for number in range(version, SCHEMA_VERSION):
                self.pg.execute(MIGRATIONS[number])
            self.pg.execute("DELETE FROM storylink_schema")
            self.pg.execute("INSERT INTO storylink_schema VALUES (%s)", (SCHEMA_VERSION,))

    @property
    def schema_version(self) -> int:
        row = self.pg.execute("SELECT MAX(version) FROM storylink_schema").fetchone()
        return int(row[0] or 0)

    # ------------------------------------------------------------------ writing

    def commit(self, batch: Batch) -> None:
        """`SQLiteStore.commit`, and in the same transaction the HNSW indexes of an encoder's
        first articles."""
        with self._db:
            super().commit(batch)
            for _, home, prepared in batch.articles:
                dimension = len(prepared.vectors[home].document_vector)
                for view in ("document", "title"):
                    self._ensure_hnsw(home, view, dimension)

    def _ensure_hnsw(self, encoder: str, view: str, dimension: int) -> None:
        """The HNSW index of an encoder's home vectors, made with its first article."""
        name = hnsw_name(encoder, view)
        if name in self._indexed:
            return
        from psycopg import sql

        self.pg.execute(
            sql.SQL(
                "CREATE INDEX IF NOT EXISTS {} ON vectors USING hnsw (({}::vector({})) "
                "vector_cosine_ops) WHERE encoder = {} AND home"
            ).format(
                sql.Identifier(name), sql.SQL(VIEW_COLUMNS[view]), dimension, sql.Literal(encoder)
            )
        )
        self._indexed.add(name)

    def _put_article(
        self, seq: int, home: str, prepared: PreparedArticle, now: str, revision: bool = False
    ) -> None:
        if revision:
            self._drop_names_and_vectors(seq)
        row = article_row(seq, home, prepared, now)
        published_ts = _timestamp(prepared.article.published)
        columns = "id, title, text, language, url, source, published, published_ts, origin, "
        columns += "ingested_at, encoder, analysis"
        update = ", ".join(f"{c} = excluded.{c}" for c in columns.split(", "))
        self._db.execute(
            f"INSERT INTO articles VALUES ({','.join('?' * len(row))}) "
            + (f"ON CONFLICT (seq) DO UPDATE SET {update}" if revision else ""),
            row,
        )
        for m in prepared.names.mentions:
            if m.proper:
                self._put_entity(seq, m.kind, m.label)
        for vectors in prepared.vectors.values():
            self._put_vectors(seq, vectors, vectors.encoder == home, published_ts)

    def _put_entity(self, seq: int, kind: str, label: str) -> None:
        entity = self._db.execute(
            "INSERT INTO entities (seq, kind, label) VALUES (?,?,?) RETURNING rowid",
            (seq, kind, label),
        ).fetchone()[0]
        self._db.executemany(
            "INSERT INTO entity_words VALUES (?,?) ON CONFLICT DO NOTHING",
            [(word, entity) for word in dict.fromkeys(entity_terms(kind, label))],
        )

    def _put_vectors(
        self,
        seq: int,
        vectors: ArticleVectors,
        home: bool = False,
        published_ts: float | None = None,
    ) -> None:
        title = vectors.title_vector
        self._db.execute(
            "INSERT INTO vectors VALUES (?,?,?,?,?,?,?) ON CONFLICT (seq, encoder) DO UPDATE SET "
            "home = excluded.home OR vectors.home, document = excluded.document, "
            "title = excluded.title, sentences = excluded.sentences",
            (
                seq,
                vectors.encoder,
                home,
                published_ts,
                np.asarray(vectors.document_vector, np.float32),
                None if title is None else np.asarray(title, np.float32),
                pack_sentences(vectors.sentence_vectors),
            ),
        )

    def set_setting(self, key: str, value: Any) -> None:
        self._db.execute(
            "INSERT INTO settings VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = "
            "excluded.value",
            (key, json.dumps(value)),
        )

    def save_feed(self, feed: FeedRow) -> None:
        """Write a feed's state; a URL another subscription already has is not taken over."""
        from psycopg.errors import UniqueViolation

        names = FEED_COLUMNS.split(", ")[1:]
        values = [getattr(feed, name) for name in names]
        assignments = ", ".join(f"{name} = ?" for name in names)
        try:
            with self._db:
                self._db.execute(f"UPDATE feeds SET {assignments} WHERE id = ?", [*values, feed.id])
        except UniqueViolation:
            with self._db:
                values[0] = self._db.execute(
                    "SELECT url FROM feeds WHERE id = ?", (feed.id,)
                ).fetchone()[0]
                self._db.execute(f"UPDATE feeds SET {assignments} WHERE id = ?", [*values, feed.id])

    def record_entries(self, entries: Sequence[EntryRow]) -> None:
        names = list(EntryRow.__dataclass_fields__)
        update = ", ".join(f"{n} = excluded.{n}" for n in names[2:])
        with self._db:
            self._db.executemany(
                f"INSERT INTO entries VALUES (?,?,?,?,?,?,?,?,?) "
                f"ON CONFLICT (feed_id, key) DO UPDATE SET {update}",
                [astuple(e) for e in entries],
            )

    # ------------------------------------------------------------------ reading vectors

    def prepared(self, seqs: Sequence[int]) -> dict[int, PreparedArticle]:
        found: dict[int, PreparedArticle] = {}
        if not seqs:
            return found
        rows = self.pg.execute(
            f"SELECT {ARTICLE_COLUMNS}, a.analysis FROM articles a "
            "LEFT JOIN memberships m ON m.seq = a.seq WHERE a.seq = ANY(%s)",
            (list(seqs),),
        )
        for row in rows:
            member, article = _member_article(row)
            found[member.seq] = _prepared_from(member.seq, article, row[-1])
        rows = self.pg.execute(
            "SELECT seq, encoder, document, title, sentences FROM vectors WHERE seq = ANY(%s)",
            (list(seqs),),
            binary=True,
        )
        for seq, encoder, document, title, sentence_blob in rows:
            found[seq].vectors[encoder] = stored_vectors(
                found[seq].article, encoder, document, title, sentence_blob
            )
        return found

    def home_documents(self, seqs: Sequence[int]) -> dict[int, np.ndarray]:
        rows = self.pg.execute(
            "SELECT seq, document FROM vectors WHERE home AND seq = ANY(%s)",
            (list(seqs),),
            binary=True,
        )
        return {int(seq): vector for seq, vector in rows}

    def indexed_vectors(
        self, encoder: str, view: str, after_seq: int = 0
    ) -> Iterator[tuple[int, float | None, np.ndarray]]:
        column = VIEW_COLUMNS[view]
        with self.pg.cursor(binary=True) as cursor:
            cursor.execute(
                f"SELECT seq, published_ts, {column} FROM vectors "
                "WHERE home AND encoder = %s AND seq > %s ORDER BY seq",
                (encoder, after_seq),
            )
            for seq, ts, vector in cursor:
                yield int(seq), ts, vector

    def dimension(self, encoder: str) -> int | None:
        row = self.pg.execute(
            "SELECT vector_dims(document) FROM vectors WHERE home AND encoder = %s LIMIT 1",
            (encoder,),
        ).fetchone()
        return None if row is None else int(row[0])

    # ------------------------------------------------------------------ index and lock

    def own_index(self, encoder: str, view: str) -> PgVectorIndex:
        return PgVectorIndex(self, encoder, view)

    def hold_writer(self) -> Any:
        """The store's writer lock (a session advisory lock: the server drops it when this
        connection ends, even by SIGKILL), waiting up to `lock.lock_wait()` seconds; then a
        StoreError saying who holds it."""
        from psycopg.errors import LockNotAvailable

        wait = lock_wait()
        try:
            with self._db:
                self.pg.execute(f"SET LOCAL lock_timeout = {int(wait * 1000) or 1}")
                self.pg.execute("SELECT pg_advisory_lock(%s)", (WRITER_LOCK,))
        except LockNotAvailable:
            holder = self.pg.execute(
                "SELECT a.application_name, a.client_addr, a.backend_start FROM pg_locks l "
                "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' "
                "AND l.granted AND l.objid = %s AND l.database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database())",
                (WRITER_LOCK,),
            ).fetchone()
            who = f"{holder[0]} from {holder[1] or 'a local socket'}" if holder else "a process"
            raise StoreError(
                f"{self.name}: {who} kept the writer lock for over {wait:g} s "
                "(STORYLINK_LOCK_WAIT sets the wait)"
            ) from None
        return WRITER_LOCK

    def release_writer(self, handle: Any) -> None:
        self.pg.execute("SELECT pg_advisory_unlock(%s)", (handle,))


VIEW_COLUMNS = {"document": "document", "title": "COALESCE(title, document)"}


def hnsw_name(encoder: str, view: str) -> str:
    return f"vectors_{re.sub(r'[^a-z0-9]+', '_', encoder.lower())}_{view}_hnsw"


class PgVectorIndex:
    """One encoder's document or title vectors in a PostgreSQL store (`VectorIndex`); see the
    module docstring. Rows added before their batch is committed are held here (`pending`) and
    searched with the stored ones, until `flush` (called once the store committed them)."""

    def __init__(self, store: PostgresStore, encoder: str, view: str) -> None:
        self.store = store
        self.encoder = encoder
        self.view = view
        self.generation = ""
        self.pending: list[tuple[int, float | None, np.ndarray]] = []
        self._sample: tuple[int, np.ndarray] | None = None  # (rows when drawn, vectors)

    def _where(self, since: float | None, until: float | None, before: int | None) -> Any:
        from psycopg import sql

        clauses = [sql.SQL("home AND encoder = {}").format(sql.Literal(self.encoder))]
        if since is not None or until is not None:
            low = -math.inf if since is None else since
            high = math.inf if until is None else until
            clauses.append(
                sql.SQL("(published_ts IS NULL OR published_ts BETWEEN {} AND {})").format(
                    sql.Literal(low), sql.Literal(high)
                )
            )
        if before is not None:
            clauses.append(sql.SQL("seq < {}").format(sql.Literal(before)))
        return sql.SQL(" AND ").join(clauses)

    def _stored_count(self) -> int:
        row = self.store.pg.execute(
            "SELECT COUNT(*) FROM vectors WHERE home AND encoder = %s",
            (self.encoder,),
        ).fetchone()
        return int(row[0])

    def __len__(self) -> int:
        return self._stored_count() + len(self.pending)

    @property
    def max_label(self) -> int:
        row = self.store.pg.execute(
            "SELECT COALESCE(MAX(seq), 0) FROM vectors WHERE home AND encoder = %s",
            (self.encoder,),
        ).fetchone()
        return max([int(row[0]), *(seq for seq, _, _ in self.pending)])

    def add(
        self, labels: Sequence[int], vectors: np.ndarray, times: Sequence[float | None]
    ) -> None:
        rows = np.asarray(vectors, np.float32).reshape(len(labels), -1)
        self.pending.extend(zip(labels, times, rows, strict=True))

    def flush(self) -> None:
        self.pending.clear()

    def remove(self, label: int) -> bool:
        """A revision replaces the row in the store itself (`PostgresStore.revise`)."""
        self.pending = [row for row in self.pending if row[0] != label]
        return True

    def catch_up(self, stored: Any) -> int:
        return 0  # the database is the index: nothing to catch up

    def saved_generation(self) -> str:
        return ""

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
        """The k best rows (best first, ties by label) published in [since, until] or
        undated and labelled below `before`, scored as `ShardedIndex` scores them. A window
        of more than `exact_rows` (default `EXACT_ROWS`) rows is searched in the HNSW index;
        `probes` and `max_rows` are ShardedIndex's and mean nothing here (HNSW's
        `ef_search` bounds the work of a large window)."""
        if k <= 0:
            return []
        query = np.asarray(vector, np.float32)
        where = self._where(since, until, before)
        limit = EXACT_ROWS if exact_rows is None else exact_rows
        labels, vectors = self._candidates(query, k, where, limit)
        low = -math.inf if since is None else since
        high = math.inf if until is None else until
        for label, ts, row in self.pending:
            in_window = ts is None or math.isnan(ts) or low <= ts <= high
            if in_window and (before is None or label < before):
                labels.append(label)
                vectors.append(row)
        if not labels:
            return []
        scores = index_scores(np.vstack(vectors), query)
        order = np.lexsort((np.asarray(labels), -scores))[:k]
        return [(int(labels[i]), float(scores[i])) for i in order]

    def _candidates(
        self, query: np.ndarray, k: int, where: Any, limit: int
    ) -> tuple[list[int], list[np.ndarray]]:
        """Stored rows that hold the k best of the window (exactly, for a window of up to
        `limit` rows; else as many as the HNSW index finds in `MAX_EF_SEARCH` candidates)."""
        from psycopg import sql

        pg = self.store.pg
        column = sql.SQL(VIEW_COLUMNS[self.view])
        in_window = pg.execute(
            sql.SQL("SELECT COUNT(*) FROM (SELECT 1 FROM vectors WHERE {} LIMIT {}) AS w").format(
                where, limit + 1
            )
        ).fetchone()[0]
        if not in_window:
            return [], []
        if in_window > limit:
            found = self._approximate(query, k, where)
            if len(found[0]) >= k:
                return found
        pool = 2 * k + 16
        while True:  # exact: until no row left out could beat the k-th best
            rows = pg.execute(
                # OFFSET 0 keeps the planner off the HNSW index (the ranking is exact) and
                # each distance is computed once
                sql.SQL(
                    "SELECT seq, v, d FROM (SELECT seq, {c} AS v, {c} <=> %s AS d FROM vectors "
                    "WHERE {w} OFFSET 0) AS w ORDER BY d, seq LIMIT %s"
                ).format(c=column, w=where),
                (query, pool),
                binary=True,
            ).fetchall()
            labels = [int(r[0]) for r in rows]
            vectors = [r[1] for r in rows]
            if len(rows) < pool or len(rows) < k:
                return labels, vectors
            scores = np.sort(index_scores(np.vstack(vectors), query))[::-1]
            left_out_best = 1.0 - float(rows[-1][2])  # cosine of the last row fetched
            if scores[k - 1] > left_out_best + _rounding(query):
                return labels, vectors
            pool *= 4

    def _approximate(
        self, query: np.ndarray, k: int, where: Any
    ) -> tuple[list[int], list[np.ndarray]]:
        """Up to `MAX_EF_SEARCH` nearest rows from the HNSW index, those in the window."""
        from psycopg import sql

        pg = self.store.pg
        dimension = len(query)
        expression = sql.SQL("({}::vector({}))").format(sql.SQL(VIEW_COLUMNS[self.view]), dimension)
        ef = min(MAX_EF_SEARCH, max(100, 16 * k))
        with self.store._db:
            pg.execute(f"SET LOCAL hnsw.ef_search = {ef}")
            rows = pg.execute(
                sql.SQL(
                    "SELECT seq, v FROM (SELECT seq, {e} AS v, published_ts, home, encoder "
                    "FROM vectors WHERE home AND encoder = {enc} "
                    "ORDER BY {e} <=> %s::vector({d}) LIMIT {ef}) AS vectors WHERE {w}"
                ).format(
                    e=expression,
                    enc=sql.Literal(self.encoder),
                    d=dimension,
                    ef=ef,
                    w=where,
                ),
                (query,),
                binary=True,
            ).fetchall()
        return [int(r[0]) for r in rows], [r[1] for r in rows]

    def background(self, vector: np.ndarray, sample: int = 256) -> tuple[float, float]:
        """As `ShardedIndex.background`: the same fixed sample of rows (drawn by position in
        month order, then label order), so both stores rank search hits alike."""
        total = self._stored_count()
        if not total:
            return 0.0, 1.0
        if self._sample is None or self._sample[0] != total:
            picks = np.arange(total)
            if total > sample:
                picks = np.sort(np.random.default_rng(SEED).choice(picks, sample, replace=False))
            self._sample = (total, self._rows_at(picks))
        scores = index_scores(self._sample[1], np.asarray(vector, np.float32))
        centre = float(np.median(scores))
        return centre, float(max(1.4826 * np.median(np.abs(scores - centre)), 1e-3))

    def _rows_at(self, positions: np.ndarray) -> np.ndarray:
        """Vectors at these positions in (month, label) order, as ShardedIndex lays them out
        (its undated shard last)."""
        rows = self.store.pg.execute(
            f"SELECT v FROM (SELECT {VIEW_COLUMNS[self.view]} AS v, row_number() OVER (ORDER BY "
            "COALESCE(to_char(to_timestamp(published_ts) AT TIME ZONE 'UTC', 'YYYY-MM'), "
            f"'{UNDATED}') COLLATE \"C\", seq) - 1 AS position FROM vectors "
            "WHERE home AND encoder = %s) AS ordered WHERE position = ANY(%s) ORDER BY position",
            (self.encoder, positions.tolist()),
            binary=True,
        ).fetchall()
        return np.vstack([r[0] for r in rows])


def _rounding(query: np.ndarray) -> float:
    """How far an int8 score (`index_scores`) may lie from the float cosine: the query's
    rounding error (half its int8 step per component) against a unit row, plus float slack."""
    step = float(np.abs(query).max()) / 127.0
    return math.sqrt(len(query)) * step / 2 + 1e-5
