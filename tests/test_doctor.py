"""`storylink doctor` on deliberately damaged real stores: each damage is found, `--repair`
fixes it, and the store is healthy afterwards with its articles and stories intact."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from storylink.compare import Comparer
from storylink.doctor import check, repair
from storylink.encode import unpack_vector
from storylink.index import ROW
from storylink.store import SCHEMA_VERSION
from storylink.stories import StoryStore

Damage = Callable[[Path], None]


def copy_store(db: Path, folder: Path) -> Path:
    """The database and everything beside it (WAL, indexes) under `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in db.parent.glob(db.name + "*"):
        target = folder / path.name
        if path.is_dir():
            shutil.copytree(path, target)
        else:
            shutil.copy2(path, target)
    return folder / db.name


def sql(db: Path, *statements: str) -> None:
    with sqlite3.connect(db) as conn:  # foreign keys off, as any other program may write
        for statement in statements:
            conn.execute(statement)


def rows(db: Path, query: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(query).fetchall()


def snapshot(db: Path) -> dict[str, list[tuple[object, ...]]]:
    """What must survive a damage and its repair: articles, stories, memberships, names."""
    return {
        "articles": rows(db, "SELECT seq, id, title, text, published_ts FROM articles"),
        "stories": rows(db, "SELECT * FROM stories ORDER BY id"),
        "memberships": rows(db, "SELECT * FROM memberships ORDER BY seq"),
        "entities": rows(db, "SELECT seq, kind, label FROM entities ORDER BY seq, kind, label"),
        "words": rows(  # by what they point at: a re-analysed article's names get new rowids
            db,
            "SELECT w.word, e.seq, e.label FROM entity_words w "
            "JOIN entities e ON e.rowid = w.entity ORDER BY 1, 2, 3",
        ),
    }


def member_of(db: Path, size: int) -> int:
    """An article of a story of `size` that is not its headline."""
    found = rows(
        db,
        "SELECT m.seq FROM memberships m JOIN stories s ON s.id = m.story_id "
        f"WHERE s.size = {size} AND m.seq != s.headline_seq ORDER BY m.seq LIMIT 1",
    )
    return int(found[0][0])  # type: ignore[call-overload]


def index_dir(db: Path, key: str) -> Path:
    return db.with_name(f"{db.name}.{key}.index")


def first_shard(directory: Path, suffix: str) -> Path:
    return sorted(directory.glob(f"*{suffix}"))[0]


def relabel_a_row(db: Path) -> None:
    path = first_shard(index_dir(db, "use-m3"), ".rows")
    labels = np.fromfile(path, ROW)
    labels[0]["label"] = 9_999
    labels.tofile(path)


def flip_a_vector(db: Path) -> None:
    path = first_shard(index_dir(db, "use-m3.title"), ".vec")
    data = bytearray(path.read_bytes())
    data[:16] = bytes(127 - (b if b < 128 else b - 256) & 0xFF for b in data[:16])
    path.write_bytes(bytes(data))


def entries_of_nothing(db: Path) -> None:
    sql(
        db,
        "INSERT INTO feeds (id, url, added_at, interval, next_poll) "
        "VALUES (1, 'https://feed.example/rss', 0, 900, 0)",
        "INSERT INTO entries VALUES (1, 'gone', 'https://feed.example/a', 'h', 0, NULL, "
        "'0123456789abcdef', 'page', NULL)",
        "INSERT INTO entries VALUES (42, 'lost', 'https://other.example/b', 'h', 0, NULL, "
        "NULL, 'page', NULL)",
    )


DAMAGES: dict[str, tuple[Damage, set[str]]] = {
    "article in no story": (
        lambda db: sql(db, f"DELETE FROM memberships WHERE seq = {member_of(db, 6)}"),
        {"unassigned", "story-figures"},
    ),
    "membership of a missing story": (
        lambda db: sql(db, f"UPDATE memberships SET story_id = 999 WHERE seq = {member_of(db, 6)}"),
        {"member-without-story", "story-figures"},
    ),
    "story figures wrong": (
        lambda db: sql(
            db,
            "UPDATE stories SET size = size + 3, first_ts = 0, last_ts = NULL, "
            "sole_space = 'nobody', headline_seq = 9999 WHERE id = 1",
        ),
        {"story-figures"},
    ),
    "empty story": (
        lambda db: sql(db, "INSERT INTO stories VALUES (500, 1, 2, 0, 0, NULL)"),
        {"empty-story"},
    ),
    "orphan rows": (
        lambda db: (
            sql(
                db,
                "INSERT INTO memberships VALUES (9999, 1, 0.5)",
                "INSERT INTO vectors SELECT 9999, encoder, document, title, sentences "
                "FROM vectors WHERE seq = 1",
                "INSERT INTO entities VALUES (9999, 'person', 'Nobody Atall')",
                "INSERT INTO entity_words VALUES ('ghost', 987654)",
                "INSERT INTO story_growth VALUES (777, 0)",
            ),
            entries_of_nothing(db),
        ),
        {
            "member-without-article",
            "vectors-without-article",
            "names-without-article",
            "words-without-name",
            "growth-without-story",
            "entry-without-feed",
            "entry-without-article",
        },
    ),
    "index file truncated": (
        lambda db: first_shard(index_dir(db, "use-m3"), ".vec").write_bytes(b"\0" * 10),
        {"index"},
    ),
    "index directory missing": (
        lambda db: shutil.rmtree(index_dir(db, "e5-small.title")),
        {"index"},
    ),
    "index manifest garbage": (
        lambda db: (index_dir(db, "e5-small") / "manifest.json").write_text("{not json"),
        {"index"},
    ),
    "index row relabelled": (relabel_a_row, {"index"}),
    "index vector changed": (flip_a_vector, {"index"}),
    "stray index and stale mark": (
        lambda db: (
            index_dir(db, "retired-encoder").mkdir(),
            sql(db, "INSERT OR REPLACE INTO settings VALUES ('indexes_stale', 'true')"),
        ),
        {"index-stray", "index-stale"},
    ),
}


def test_a_healthy_store_is_healthy(pristine: Path) -> None:
    report = check(pristine)
    assert (report.exit_code, report.findings, report.error) == (0, [], None)
    assert (report.schema_version, report.articles, report.stories) == (SCHEMA_VERSION, 22, 5)


@pytest.mark.parametrize("name", list(DAMAGES))
def test_each_damage_is_found_and_repaired(name: str, pristine: Path, tmp_path: Path) -> None:
    damage, kinds = DAMAGES[name]
    db = copy_store(pristine, tmp_path)
    before = snapshot(db)
    damage(db)
    found = check(db)
    assert found.exit_code == 1
    assert {f.kind for f in found.findings} == kinds, [f.problem for f in found.findings]
    assert all(f.repair for f in found.findings)

    repaired = repair(db)
    assert repaired.exit_code == 0, [f.problem for f in repaired.findings]
    assert {f.kind for f in repaired.repaired} == kinds
    assert check(db).exit_code == 0
    after = snapshot(db)
    assert after["articles"] == before["articles"]  # never an article lost
    if name in ("article in no story", "membership of a missing story"):
        (alone,) = (m for m in after["memberships"] if m not in before["memberships"])
        assert next(r for r in after["stories"] if r[0] == alone[1])[1:3] == (alone[0], 1)
    else:  # the repair restored exactly what was there
        assert after == before


def test_unreadable_analyses_and_vectors_are_analysed_again(
    pristine: Path, tmp_path: Path, doctor_comparer: Comparer
) -> None:
    db = copy_store(pristine, tmp_path)
    before = snapshot(db)
    analysis = rows(db, "SELECT analysis FROM articles WHERE seq = 5")
    vector = rows(
        db,
        "SELECT v.document FROM vectors v JOIN articles a ON a.seq = v.seq "
        "AND a.encoder = v.encoder WHERE v.seq = 6",
    )
    sql(
        db,
        "UPDATE articles SET analysis = x'789c00' WHERE seq = 5",
        "DELETE FROM vectors WHERE seq = 6",
    )
    found = check(db)
    kinds = {f.kind: f for f in found.findings}
    assert set(kinds) == {"unreadable-article", "index"}
    assert kinds["unreadable-article"].subjects == ("5", "6")
    assert "cannot be decoded" in kinds["unreadable-article"].problem
    assert "vector is missing" in kinds["unreadable-article"].problem

    report = repair(db, stories=lambda path: StoryStore(path, comparer=doctor_comparer))
    assert report.exit_code == 0, [f.problem for f in report.findings]
    assert rows(db, "SELECT analysis FROM articles WHERE seq = 5") == analysis
    (restored,) = rows(
        db,
        "SELECT v.document FROM vectors v JOIN articles a ON a.seq = v.seq "
        "AND a.encoder = v.encoder WHERE v.seq = 6",
    )
    cosine = float(unpack_vector(restored[0]) @ unpack_vector(vector[0][0]))  # type: ignore[arg-type]
    assert cosine > 0.999
    assert snapshot(db) == before


def test_a_damaged_file_is_reported_not_repaired(pristine: Path, tmp_path: Path) -> None:
    db = copy_store(pristine, tmp_path)
    data = bytearray(db.read_bytes())
    page = 4096
    data[3 * page : 6 * page] = b"\xa5" * (3 * page)  # three pages of b-tree garbage
    db.write_bytes(bytes(data))
    report = check(db)
    assert report.exit_code in (1, 2)
    if report.exit_code == 1:
        (finding,) = report.findings
        assert finding.kind == "integrity" and not finding.repair
        assert ".recover" in finding.problem
    assert repair(db).exit_code == report.exit_code  # nothing written to a damaged file


def test_stores_that_cannot_be_checked(pristine: Path, tmp_path: Path) -> None:
    assert "no such database" in str(check(tmp_path / "missing.db").error)
    foreign = tmp_path / "foreign.db"
    sql(foreign, "CREATE TABLE t (x)")
    assert "not a database made by storylink" in str(check(foreign).error)
    newer = copy_store(pristine, tmp_path)
    sql(newer, f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    report = check(newer)
    assert report.exit_code == 2 and "newer" in str(report.error)
    assert repair(newer).exit_code == 2


def storylink(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "storylink", *args], capture_output=True, text=True, timeout=300
    )


def test_doctor_command_finds_repairs_and_exits_by_health(pristine: Path, tmp_path: Path) -> None:
    db = copy_store(pristine, tmp_path)
    DAMAGES["article in no story"][0](db)
    DAMAGES["index directory missing"][0](db)
    checked = storylink("doctor", "--db", str(db))
    assert checked.returncode == 1, checked.stderr
    assert "1 article is in no story" in checked.stdout and "--repair" in checked.stdout
    as_json = json.loads(storylink("doctor", "--db", str(db), "--json").stdout)
    assert as_json["healthy"] is False
    assert {f["kind"] for f in as_json["findings"]} == {"unassigned", "story-figures", "index"}
    repaired = storylink("doctor", "--db", str(db), "--repair")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "repaired: 1 article is in no story" in repaired.stdout
    again = storylink("doctor", "--db", str(db))
    assert again.returncode == 0 and "healthy" in again.stdout
    missing = storylink("doctor", "--db", str(tmp_path / "nothing.db"))
    assert missing.returncode == 2 and "no such database" in missing.stderr
    assert not (tmp_path / "nothing.db").exists()
    helped = storylink("doctor", "--help").stdout
    assert "Exit codes" in helped and "0 healthy" in helped
