"""`storylink doctor`: check a story store for damage, and repair what can be repaired.

A store is one SQLite file and, beside it, a vector index per encoder and view (`stories.py`).
`check` opens the database read-only and changes nothing. It looks at, in order:

- the schema version, and SQLite's own integrity check;
- every article in exactly one story; every story with members, and its size, time span,
  headline and sole encoder as its members say;
- orphan rows: memberships, vectors, names and their filter words of no article, growth
  records of no story, feed entries of no feed or naming an article the store lacks;
- every article's stored analysis and home-encoder vector readable;
- every index holding exactly the store's articles of its encoder, with the store's vectors
  and times, and no index directory of an encoder no article is at home in.

`repair` fixes what it found: under the writer lock (`lock.py`), one transaction drops orphans
and recomputes story figures from the members (an article in no story gets a story of its
own: `storylink recluster` places it among the others); damaged indexes are built again from
the database; articles whose analysis or vector cannot be read are analysed again from their
text (this loads the models) and keep their story. Then it checks again: what is still found
could not be repaired, and the report says why.
"""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from . import lock
from .cluster import headline_of
from .encode import unpack_vector
from .index import ROW, ShardedIndex, month_of, quantise
from .store import (
    SCHEMA_VERSION,
    AnalysisError,
    SQLiteStore,
    StoreError,
    read_analysis,
    read_only_connection,
    redacted,
)
from .stories import STALE_SETTING, StoryStore, index_directory

VIEWS = ("document", "title")
SHOWN = 10  # subjects listed per finding


@dataclass(frozen=True)
class Finding:
    """One kind of damage: what is wrong, how much of it, and what `repair` does about it."""

    kind: str  # stable name, e.g. "unassigned", "story-figures", "index"
    problem: str  # what is wrong, in a sentence
    count: int  # rows, stories, articles or directories concerned
    repair: str  # what `repair` does; "" when it cannot be repaired here
    subjects: tuple[str, ...] = ()  # article numbers, story ids or index directories

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "problem": self.problem,
            "count": self.count,
            "repair": self.repair or None,
            "subjects": list(self.subjects[:SHOWN]),
        }


@dataclass
class Report:
    """What `check` (or `repair`) found in a store: exit code 0 healthy, 1 problems, 2 not
    checked."""

    db: str
    schema_version: int | None = None
    articles: int = 0
    stories: int = 0
    findings: list[Finding] = field(default_factory=list)  # after a repair: what is left
    repaired: list[Finding] = field(default_factory=list)
    error: str | None = None  # why the store could not be checked
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        return 2 if self.error else 1 if self.findings else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "db": self.db,
            "healthy": self.exit_code == 0,
            "error": self.error,
            "schema_version": self.schema_version,
            "articles": self.articles,
            "stories": self.stories,
            "findings": [f.to_dict() for f in self.findings],
            "repaired": [f.to_dict() for f in self.repaired],
            "seconds": round(self.seconds, 3),
        }


def _n(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _rows(db: sqlite3.Connection, sql: str, *params: Any) -> list[Any]:
    return [r[0] for r in db.execute(sql, params)]


# Orphan rows: kind, what they are, the query finding them, the statement removing them.
ORPHANS = (
    (
        "member-without-article",
        "memberships of no article",
        "SELECT seq FROM memberships WHERE seq NOT IN (SELECT seq FROM articles)",
        "DELETE FROM memberships WHERE seq NOT IN (SELECT seq FROM articles)",
    ),
    (
        "member-without-story",
        "articles belong to a story that does not exist",
        "SELECT seq FROM memberships WHERE story_id NOT IN (SELECT id FROM stories)",
        "DELETE FROM memberships WHERE story_id NOT IN (SELECT id FROM stories)",
    ),
    (
        "vectors-without-article",
        "vector rows of no article",
        "SELECT DISTINCT seq FROM vectors WHERE seq NOT IN (SELECT seq FROM articles)",
        "DELETE FROM vectors WHERE seq NOT IN (SELECT seq FROM articles)",
    ),
    (
        "names-without-article",
        "name rows of no article",
        "SELECT rowid FROM entities WHERE seq NOT IN (SELECT seq FROM articles)",
        "DELETE FROM entities WHERE seq NOT IN (SELECT seq FROM articles)",
    ),
    (
        "words-without-name",
        "name filter words of no name",
        "SELECT entity FROM entity_words WHERE entity NOT IN (SELECT rowid FROM entities)",
        "DELETE FROM entity_words WHERE entity NOT IN (SELECT rowid FROM entities)",
    ),
    (
        "growth-without-story",
        "story growth records of no story",
        "SELECT story_id FROM story_growth WHERE story_id NOT IN (SELECT id FROM stories)",
        "DELETE FROM story_growth WHERE story_id NOT IN (SELECT id FROM stories)",
    ),
    (
        "entry-without-feed",
        "feed entries of no subscribed feed",
        "SELECT key FROM entries WHERE feed_id NOT IN (SELECT id FROM feeds)",
        "DELETE FROM entries WHERE feed_id NOT IN (SELECT id FROM feeds)",
    ),
    (
        "entry-without-article",
        "feed entries name an article the database does not hold",
        "SELECT key FROM entries WHERE article_id IS NOT NULL "
        "AND article_id NOT IN (SELECT id FROM articles)",
        "DELETE FROM entries WHERE article_id IS NOT NULL "
        "AND article_id NOT IN (SELECT id FROM articles)",
    ),
)
ORPHAN_REPAIRS = {
    "member-without-story": "drops the memberships; the articles then get stories of their own",
    "entry-without-article": "forgets them, so the next `storylink watch` fetches them again",
}

# The figures a story row keeps about its members, as the members say they are.
MEMBER_FIGURES = """
    SELECT m.story_id AS id, COUNT(*) AS size, MIN(a.published_ts) AS first_ts,
        MAX(a.published_ts) AS last_ts,
        CASE WHEN COUNT(DISTINCT a.encoder) = 1 THEN MIN(a.encoder) END AS sole_space
    FROM memberships m JOIN articles a ON a.seq = m.seq GROUP BY m.story_id
"""
HEADLINE_OUTSIDE = (
    "headline_seq NOT IN (SELECT seq FROM memberships m WHERE m.story_id = stories.id)"
)


def _story_findings(db: sqlite3.Connection) -> list[Finding]:
    found: list[Finding] = []
    unassigned = _rows(
        db,
        "SELECT a.seq FROM articles a LEFT JOIN memberships m ON m.seq = a.seq "
        "WHERE m.seq IS NULL ORDER BY a.seq",
    )
    if unassigned:
        found.append(
            Finding(
                "unassigned",
                _n(len(unassigned), "article is", "articles are") + " in no story",
                len(unassigned),
                "gives each a story of its own (`storylink recluster` then places them)",
                tuple(map(str, unassigned)),
            )
        )
    empty = _rows(db, "SELECT id FROM stories WHERE id NOT IN (SELECT story_id FROM memberships)")
    if empty:
        found.append(
            Finding(
                "empty-story",
                _n(len(empty), "story has", "stories have") + " no article",
                len(empty),
                "deletes them",
                tuple(map(str, empty)),
            )
        )
    wrong = _rows(
        db,
        f"SELECT s.id FROM stories s JOIN ({MEMBER_FIGURES}) f ON f.id = s.id "
        "WHERE s.size != f.size OR s.first_ts IS NOT f.first_ts OR s.last_ts IS NOT f.last_ts "
        "OR s.sole_space IS NOT f.sole_space "
        f"OR s.{HEADLINE_OUTSIDE.replace('stories.id', 's.id')} ORDER BY s.id",
    )
    if wrong:
        found.append(
            Finding(
                "story-figures",
                _n(len(wrong), "story disagrees with its", "stories disagree with their")
                + " members (size, first or last publication time, headline or encoder)",
                len(wrong),
                "recomputes them from the members",
                tuple(map(str, wrong)),
            )
        )
    return found


def _orphan_findings(db: sqlite3.Connection) -> list[Finding]:
    found = []
    for kind, what, query, _ in ORPHANS:
        subjects = _rows(db, query)
        if subjects:
            found.append(
                Finding(
                    kind,
                    f"{len(subjects)} {what}",
                    len(subjects),
                    ORPHAN_REPAIRS.get(kind, "deletes them"),
                    tuple(map(str, subjects)),
                )
            )
    return found


def _article_findings(db: sqlite3.Connection) -> list[Finding]:
    """Articles whose analysis or home vector cannot be read (each decoded once)."""
    dimensions: dict[str, int] = {}
    damaged: list[tuple[int, str]] = []
    rows = db.execute(
        "SELECT a.seq, a.encoder, a.analysis, v.document FROM articles a "
        "LEFT JOIN vectors v ON v.seq = a.seq AND v.encoder = a.encoder ORDER BY a.seq"
    )
    for seq, encoder, analysis, document in rows:
        try:
            read_analysis(analysis)
        except AnalysisError as error:
            damaged.append((seq, str(error)))
            continue
        if document is None:
            damaged.append((seq, "its home-encoder vector is missing"))
            continue
        try:
            vector = unpack_vector(document)
            size = dimensions.setdefault(encoder, len(vector))
            if len(vector) != size or not np.isfinite(vector).all():
                raise ValueError(f"{len(vector)} values, expected {size}")
        except (ValueError, TypeError) as error:
            damaged.append((seq, f"its home-encoder vector cannot be read ({error})"))
    if not damaged:
        return []
    reasons = sorted({why.split(" (")[0] for _, why in damaged})
    return [
        Finding(
            "unreadable-article",
            _n(len(damaged), "article", "articles")
            + f" cannot be used as stored: {'; '.join(reasons)}",
            len(damaged),
            "analyses them again from their text (loads the models); they keep their story",
            tuple(str(seq) for seq, _ in damaged),
        )
    ]


def _index_problem(store: SQLiteStore, directory: Path, encoder: str, view: str) -> str:
    """Why the index in `directory` is out of step with the store; "" when it is not."""
    dimension = store.dimension(encoder)
    if dimension is None:
        return ""
    if not directory.exists():
        return "missing"
    try:
        saved = ShardedIndex.saved(directory, dimension)
    except (OSError, ValueError, KeyError, TypeError) as error:
        return f"unreadable ({error})"
    blocks = list(saved.contents())
    rows = np.concatenate([r for _, r, _ in blocks]) if blocks else np.empty(0, ROW)
    vectors = np.concatenate([v for _, _, v in blocks]) if blocks else np.empty((0, dimension))
    shards = np.concatenate([np.full(len(r), key) for key, r, _ in blocks] or [np.empty(0)])
    live = rows["label"] >= 0  # removed rows (a revision's old vector) are not held
    rows, vectors, shards = rows[live], vectors[live], shards[live]
    order = np.argsort(rows["label"], kind="stable")
    labels = rows["label"][order]
    held = len(np.unique(labels))
    missing = differing = matched = 0
    for batch in _batches(store.indexed_vectors(encoder, view)):
        seqs = np.array([seq for seq, _, _ in batch])
        times = np.array([math.nan if ts is None else ts for _, ts, _ in batch])
        at = np.minimum(np.searchsorted(labels, seqs), max(len(labels) - 1, 0))
        found = labels[at] == seqs if len(labels) else np.zeros(len(seqs), bool)
        missing += int((~found).sum())
        matched += int(found.sum())
        if not found.any():
            continue
        where = order[at[found]]
        values, scales = quantise(np.vstack([v for _, _, v in batch])[found])
        same = (vectors[where] == values).all(axis=1) & (rows["scale"][where] == scales)
        stored_times, times = rows["time"][where], times[found]
        same &= (stored_times == times) | (np.isnan(stored_times) & np.isnan(times))
        same &= shards[where] == np.array([month_of(t) for t in times.tolist()])
        differing += int((~same).sum())
    extra = held - matched
    duplicated = len(labels) - held
    parts = [
        f"{n} {what}"
        for n, what in (
            (missing, "articles missing"),
            (extra, "rows of no article at home here"),
            (duplicated, "articles held twice"),
            (differing, "rows differing from the database"),
        )
        if n
    ]
    return f"out of step: {', '.join(parts)}" if parts else ""


def _batches(
    items: Iterator[tuple[int, float | None, np.ndarray]], size: int = 4096
) -> Iterator[list[tuple[int, float | None, np.ndarray]]]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _index_findings(db_path: Path, db: sqlite3.Connection) -> list[Finding]:
    encoders = _rows(db, "SELECT DISTINCT encoder FROM articles ORDER BY encoder")
    problems: list[tuple[Path, str]] = []
    with closing(SQLiteStore(db_path, read_only=True)) as store:
        for encoder in encoders:
            for view in VIEWS:
                directory = index_directory(db_path, encoder, view)
                problem = _index_problem(store, directory, encoder, view)
                if problem:
                    problems.append((directory, problem))
    found = []
    stale = _rows(db, "SELECT value FROM settings WHERE key = ?", STALE_SETTING)
    if stale and json.loads(stale[0]):
        found.append(
            Finding(
                "index-stale",
                "an update of the indexes was interrupted (the database marks them stale)",
                1,
                "builds every index again from the database",
            )
        )
    if problems:
        found.append(
            Finding(
                "index",
                _n(len(problems), "vector index does", "vector indexes do")
                + " not match the database: "
                + "; ".join(f"{d.name} {why}" for d, why in problems),
                len(problems),
                "builds them again from the database",
                tuple(str(d) for d, _ in problems),
            )
        )
    wanted = {index_directory(db_path, e, v) for e in encoders for v in VIEWS}
    strays = sorted(p for p in db_path.parent.glob(f"{db_path.name}.*.index") if p not in wanted)
    if strays:
        found.append(
            Finding(
                "index-stray",
                _n(len(strays), "index directory", "index directories")
                + " of an encoder no article is at home in",
                len(strays),
                "deletes them",
                tuple(map(str, strays)),
            )
        )
    return found


def check(db: str | Path) -> Report:
    """What is wrong with the store at `db`, changing nothing."""
    started = time.perf_counter()
    path = Path(db)
    report = Report(str(path))
    try:
        _check_into(report, path)
    except (sqlite3.Error, StoreError, OSError) as error:
        report.error = f"{path}: cannot be checked ({error})"
    report.seconds = time.perf_counter() - started
    return report


def check_server(db: str) -> Report:
    """What `check` can tell of a PostgreSQL store (`pgstore.py`): its schema, stories and
    memberships, and orphan rows. SQLite's integrity check, the decoding of every row and the
    index files do not apply (the server keeps pgvector's indexes); opening it upgrades it."""
    from .pgstore import PostgresStore

    started = time.perf_counter()
    report = Report(redacted(db))
    try:
        with closing(PostgresStore(db)) as store:
            report.schema_version = store.schema_version
            report.articles = store.count("articles")
            report.stories = store.count("stories")
            # this module's SQLite SQL, read by PostgreSQL (`pgstore._Connection`)
            report.findings += _story_findings(store._db)
            report.findings += _orphan_findings(store._db)
    except StoreError as error:
        report.error = str(error)
    report.seconds = time.perf_counter() - started
    return report


def _check_into(report: Report, path: Path) -> None:
    if not path.is_file():
        report.error = f"{path}: no such database"
        return
    with closing(read_only_connection(path)) as db:
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        report.schema_version = version
        if version == 0:
            report.error = f"{path}: not a database made by storylink"
            return
        if version > SCHEMA_VERSION:
            report.error = (
                f"{path}: schema {version} is newer than this storylink ({SCHEMA_VERSION}); "
                "upgrade storylink"
            )
            return
        if version < SCHEMA_VERSION:
            report.findings.append(
                Finding(
                    "schema",
                    f"schema {version} is older than this storylink's ({SCHEMA_VERSION}); the "
                    "rest is checked once it is upgraded",
                    1,
                    "upgrades it in place (as any storylink command does when it opens it)",
                )
            )
            return
        integrity = _rows(db, "PRAGMA quick_check(20)")
        if integrity != ["ok"]:
            report.findings.append(
                Finding(
                    "integrity",
                    f"SQLite finds the file damaged: {'; '.join(integrity[:3])}. Restore a "
                    f"backup, or save what can be read (sqlite3 {path} .recover | sqlite3 "
                    "NEW.db) and check NEW.db",
                    len(integrity),
                    "",  # writing to a damaged file can lose more
                )
            )
            return
        report.articles = int(db.execute("SELECT COUNT(*) FROM articles").fetchone()[0])
        report.stories = int(db.execute("SELECT COUNT(*) FROM stories").fetchone()[0])
        report.findings += _story_findings(db)
        report.findings += _orphan_findings(db)
        report.findings += _article_findings(db)
        report.findings += _index_findings(path, db)


# ------------------------------------------------------------------------------ repair


@contextmanager
def _writing(path: Path) -> Iterator[sqlite3.Connection]:
    """The database for repairs: writer lock held, one immediate transaction."""
    held = lock.hold(path)
    try:
        with closing(sqlite3.connect(path, timeout=lock.lock_wait())) as db:
            db.execute("PRAGMA foreign_keys=ON")
            with db:
                db.execute("BEGIN IMMEDIATE")
                yield db
    finally:
        lock.release(held)


def _own_stories(db: sqlite3.Connection) -> None:
    """Each article in no story becomes a story of one (headline itself, centrality 1)."""
    next_id = int(db.execute("SELECT COALESCE(MAX(id), 0) FROM stories").fetchone()[0]) + 1
    rows = db.execute(
        "SELECT a.seq, a.published_ts, a.encoder FROM articles a "
        "LEFT JOIN memberships m ON m.seq = a.seq WHERE m.seq IS NULL ORDER BY a.seq"
    ).fetchall()
    for story_id, (seq, ts, encoder) in enumerate(rows, next_id):
        db.execute("INSERT INTO stories VALUES (?,?,?,?,?,?)", (story_id, seq, 1, ts, ts, encoder))
        db.execute("INSERT INTO memberships VALUES (?,?,?)", (seq, story_id, 1.0))


def _story_figures(db: sqlite3.Connection) -> None:
    db.execute(
        "UPDATE stories SET size = f.size, first_ts = f.first_ts, last_ts = f.last_ts, "
        f"sole_space = f.sole_space FROM ({MEMBER_FIGURES}) AS f WHERE stories.id = f.id"
    )
    for (story_id,) in db.execute(f"SELECT id FROM stories WHERE {HEADLINE_OUTSIDE}").fetchall():
        by_space: dict[str, list[int]] = {}
        centrality: dict[int, float] = {}
        for seq, encoder, value in db.execute(
            "SELECT m.seq, a.encoder, m.centrality FROM memberships m "
            "JOIN articles a ON a.seq = m.seq WHERE m.story_id = ? ORDER BY m.seq",
            (story_id,),
        ):
            by_space.setdefault(encoder, []).append(seq)
            centrality[seq] = value
        headline = headline_of(by_space, centrality)  # as the clusterer chooses it
        db.execute("UPDATE stories SET headline_seq = ? WHERE id = ?", (headline, story_id))


def _repair_rows(path: Path, kinds: set[str]) -> None:
    """Orphans, stories and memberships, in one transaction. Order matters: a membership of
    no story is dropped before its article gets a story of its own, and story figures are
    recomputed last, after whatever changed their members."""
    with _writing(path) as db:
        for kind, _, _, statement in ORPHANS:
            if kind in kinds:
                db.execute(statement)
        db.execute("DELETE FROM stories WHERE id NOT IN (SELECT story_id FROM memberships)")
        _own_stories(db)
        _story_figures(db)


def _rebuild_indexes(path: Path, findings: list[Finding]) -> None:
    """Build the damaged indexes (all of them when the store marks them stale) again from
    the database, and delete stray ones, under the writer lock."""
    kinds = {f.kind for f in findings}
    held = lock.hold(path)
    try:
        with closing(SQLiteStore(path)) as store:
            encoders = sorted({member.encoder for member in store.members()})
            homes = {index_directory(path, e, v): (e, v) for e in encoders for v in VIEWS}
            targets = {
                Path(s) for f in findings if f.kind in ("index", "index-stray") for s in f.subjects
            }
            if "index-stale" in kinds:
                targets |= set(homes)
            for directory in sorted(targets):
                shutil.rmtree(directory, ignore_errors=True)
                encoder, view = homes.get(directory, ("", ""))
                dimension = store.dimension(encoder) if encoder else None
                if dimension is not None:
                    index = ShardedIndex(dimension, directory)
                    index.catch_up(partial(store.indexed_vectors, encoder, view))
                    index.flush()
            if "index-stale" in kinds:
                store.set_setting(STALE_SETTING, False)
    finally:
        lock.release(held)


def _reanalyse(path: Path, seqs: list[int], stories: Callable[[Path], StoryStore]) -> None:
    """Analyse articles again from their stored text; they keep their number and story."""
    with stories(path) as store:
        articles = {member.seq: article for member, article in store.store.articles(seqs)}
        store.revise(articles)


def repair(db: str | Path, stories: Callable[[Path], StoryStore] = StoryStore) -> Report:
    """Fix what `check` finds, then check again: `Report.repaired` is what was fixed,
    `Report.findings` what is still wrong (with why it could not be repaired)."""
    started = time.perf_counter()
    path = Path(db)
    before = check(path)
    if before.error:
        return before
    if any(f.kind == "schema" for f in before.findings):
        SQLiteStore(path).close()  # opening upgrades it
        before = check(path)
    if before.error or any(f.kind == "integrity" for f in before.findings):
        return before
    kinds = {f.kind for f in before.findings}
    if kinds - {"unreadable-article", "index", "index-stale", "index-stray"}:
        _repair_rows(path, kinds)
    if kinds & {"index", "index-stale", "index-stray"}:
        _rebuild_indexes(path, before.findings)
    damaged = [
        int(seq) for f in before.findings if f.kind == "unreadable-article" for seq in f.subjects
    ]
    if damaged:
        _reanalyse(path, damaged, stories)
    after = check(path)
    left = {f.kind for f in after.findings}
    after.repaired = [f for f in before.findings if f.kind not in left]
    after.seconds = time.perf_counter() - started
    return after
