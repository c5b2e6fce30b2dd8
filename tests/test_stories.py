"""Stories: ingest into a real SQLite store, cluster across languages, query, export."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import numpy as np
import pytest

from storylink.article import Article
from storylink.cluster import ClusterParams, OnlineClusterer
from storylink.compare import Comparer
from storylink.demo import example_articles, examples_path
from storylink.encode import EncoderSet
from storylink.entities import search_key
from storylink.store import SCHEMA_VERSION, SQLiteStore, StoreError
from storylink.stories import StoryStore


@pytest.fixture(scope="module")
def story_comparer() -> Comparer:
    return Comparer(encoders=EncoderSet(None), compact_vectors=True)


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory, story_comparer: Comparer) -> Path:
    """A store holding the 22 example articles (5 stories, 13 languages)."""
    path = tmp_path_factory.mktemp("stories") / "examples.db"
    with StoryStore(path, comparer=story_comparer) as stories:
        report = stories.ingest([examples_path()])
    assert (report.read, report.added, report.skipped) == (22, 22, [])
    return path


def gold_groups() -> set[frozenset[str]]:
    groups: dict[str, set[str]] = defaultdict(set)
    for story, article in example_articles():
        groups[story].add(article.id)
    return {frozenset(g) for g in groups.values()}


def stored_groups(stories: StoryStore) -> set[frozenset[str]]:
    return {frozenset(a.id for a in s.timeline) for s in stories.stories(limit=100)}


def test_examples_group_into_their_stories_across_languages_and_scripts(
    ingested: Path, story_comparer: Comparer
) -> None:
    with StoryStore(ingested, comparer=story_comparer) as stories:
        assert stored_groups(stories) == gold_groups()
        quake = next(
            s for s in stories.stories(limit=10) if "ar" in s.languages and "el" in s.languages
        )
        assert set(quake.languages) == {"en", "tr", "ar", "ru", "el", "fr"}
        assert "izmir" in [search_key(p.label) for p in quake.places]
        assert quake.first_seen is not None and quake.last_seen is not None
        assert quake.first_seen <= quake.last_seen
        assert len(quake.sources) == 6
        assert [a.published for a in quake.timeline] == sorted(a.published for a in quake.timeline)
        arabic = stories.story(quake.id, language="ar")
        assert arabic.headline.startswith("زلزال")
        by_language = arabic.by_language()
        assert list(by_language) == arabic.languages and len(by_language["el"]) == 1


def test_reingest_adds_nothing(ingested: Path, story_comparer: Comparer) -> None:
    with StoryStore(ingested, comparer=story_comparer) as stories:
        before = stories.store.count("stories")
        report = stories.ingest([examples_path()])
        assert (report.added, report.duplicates) == (0, 22)
        assert stories.store.count("articles") == 22
        assert stories.store.count("stories") == before


@pytest.mark.parametrize(
    "query",
    [
        "earthquake in Izmir, Turkey",  # English → finds the story, told also in Arabic, Greek
        "زلزال قوي في تركيا",  # Arabic
        "Землетрясение в Турции",  # Russian, Cyrillic
    ],
)
def test_search_finds_the_story_in_any_script(
    ingested: Path, story_comparer: Comparer, query: str
) -> None:
    with StoryStore(ingested, comparer=story_comparer) as stories:
        hits = stories.search(query, limit=3)
        quake = stories.story(hits[0].story_id)
        assert "izmir" in [search_key(p.label) for p in quake.places]
        assert len({h.story_id for h in hits}) == len(hits)  # one hit per story


def test_search_for_the_chip_pact_in_japanese(ingested: Path, story_comparer: Comparer) -> None:
    with StoryStore(ingested, comparer=story_comparer) as stories:
        top = stories.story(stories.search("半導体の供給網に関する協定", limit=1)[0].story_id)
        assert {"en", "ja", "he"} <= set(top.languages)


@pytest.mark.parametrize(
    ("query", "language"),
    [
        ("سد النهضة", "fa"),  # "Renaissance Dam": two words, the Nile story (told in Persian too)
        ("dockers strike", "fr"),  # the strike, not the other Marseille port story
        ("Hafen Marseille Rekord", "fr"),  # German words for the record-traffic story
    ],
)
def test_short_queries_find_their_story_through_titles(
    ingested: Path, story_comparer: Comparer, query: str, language: str
) -> None:
    """Two or three words read like a title: documents alone put the quake report first for
    "سد النهضة" (cosine 0.137 against 0.126 for the dam report); titles rank it right."""
    with StoryStore(ingested, comparer=story_comparer) as stories:
        hits = stories.search(query, limit=2)
        top = stories.story(hits[0].story_id)
        assert language in top.languages
        assert hits[0].similarity > hits[1].similarity + 0.5  # a clear first, not a coin toss
        if query == "dockers strike":
            assert "grève" in top.headline or "strike" in top.headline


def test_lost_or_damaged_indexes_are_rebuilt_from_the_store(
    ingested: Path, story_comparer: Comparer, tmp_path: Path
) -> None:
    import shutil

    copy = tmp_path / "copy.db"
    with StoryStore(ingested, comparer=story_comparer) as stories:
        first = stories.search("سد النهضة", limit=3)
    for suffix in ("", "-wal", "-shm"):
        source = ingested.with_name(ingested.name + suffix)
        if source.exists():
            copy.with_name(copy.name + suffix).write_bytes(source.read_bytes())
    document = ingested.with_name(ingested.name + ".use-m3.index")
    shutil.copytree(document, copy.with_name("copy.db.use-m3.index"))
    (copy.with_name("copy.db.use-m3.index") / "manifest.json").write_text("damaged")
    title = copy.with_name("copy.db.use-m3.title.index")
    assert not title.exists()
    with StoryStore(copy, comparer=story_comparer) as stories:
        assert stories.search("سد النهضة", limit=3) == first  # rebuilt in memory
        assert not title.exists()  # a reader writes no index files
        stories.add([Article("Port strike ends", "Dockers in the port returned to work today.")])
        after = stories.search("سد النهضة", limit=3)
    assert (title / "manifest.json").exists()  # the writer keeps them
    with StoryStore(copy, comparer=story_comparer) as stories:
        assert stories.search("سد النهضة", limit=3) == after  # the files hold what memory did
    shutil.rmtree(title)
    with StoryStore(copy, comparer=story_comparer) as stories:
        stories.save_indexes()  # what a bulk-loaded store needs once
    manifest = json.loads((title / "manifest.json").read_text())
    with StoryStore(copy, comparer=story_comparer) as stories:
        at_home = [m for m in stories.store.members() if m.encoder == "use-m3"]
        assert manifest["count"] == len(at_home) > 0
        assert stories.search("سد النهضة", limit=3) == after


def test_filters_related_and_unknown_ids(ingested: Path, story_comparer: Comparer) -> None:
    with StoryStore(ingested, comparer=story_comparer) as stories:
        assert {s.size for s in stories.stories(language="he")} == {6}
        assert len(stories.stories(entity="Marseille")) == 2
        assert stories.stories(entity="Atlantis") == []
        # a place typed in another script finds the story: Arabic "Izmir", Cyrillic "Cairo"
        assert [s.size for s in stories.stories(entity="إزمير")] == [6]
        (nile,) = stories.stories(entity="Каир")
        assert "fa" in nile.languages
        assert [s.size for s in stories.stories(order="largest", limit=3)] == [6, 6, 6]
        assert len(stories.stories(limit=2)) == 2
        quake_en = next(a for _, a in example_articles() if a.title.startswith("Magnitude 6.1"))
        item, hits = stories.related(quake_en.id, limit=3)
        assert item.id == quake_en.id and hits
        own = stories.story_of([quake_en.id])[quake_en.id]
        assert all(h.story_id != own for h in hits)
        with pytest.raises(KeyError):
            stories.story(9999)
        with pytest.raises(KeyError):
            stories.related("no-such-article")
        with pytest.raises(ValueError, match="empty query"):
            stories.search("  ")


def test_recluster_reproduces_the_same_stories(ingested: Path, story_comparer: Comparer) -> None:
    with StoryStore(ingested, comparer=story_comparer) as stories:
        before = {s.id: [a.id for a in s.timeline] for s in stories.stories(limit=100)}
        assert stories.recluster() == len(before)
        after = {s.id: [a.id for a in s.timeline] for s in stories.stories(limit=100)}
        assert after == before
        # a strict threshold splits stories; the default brings them back
        assert stories.recluster(ClusterParams(threshold=0.99)) > len(before)
        assert stories.recluster(ClusterParams()) == len(before)


def test_parameters_are_remembered_by_the_database(
    tmp_path: Path, story_comparer: Comparer
) -> None:
    path = tmp_path / "p.db"
    articles = [a for _, a in example_articles()][:2]
    with StoryStore(path, params=ClusterParams(threshold=0.7), comparer=story_comparer) as s:
        s.add(articles)
    with StoryStore(path, comparer=story_comparer) as s:
        assert s.params.threshold == 0.7


def test_export_jsonl_and_parquet(ingested: Path, story_comparer: Comparer, tmp_path: Path) -> None:
    import pandas as pd

    with StoryStore(ingested, comparer=story_comparer) as stories:
        assert stories.export(tmp_path / "s.jsonl") == 5
        assert stories.export(tmp_path / "a.parquet") == 22
        frame = stories.to_pandas()
    lines = [json.loads(line) for line in (tmp_path / "s.jsonl").read_text("utf-8").splitlines()]
    assert sum(len(story["timeline"]) for story in lines) == 22
    table = pd.read_parquet(tmp_path / "a.parquet")
    assert len(table) == 22 and table["story_id"].nunique() == 5
    assert set(table["language"]) == set(frame["language"])
    for published in (table["published"], frame["published"]):  # one zone, however sources wrote
        assert str(published.dtype) == "datetime64[us, UTC]"
    assert table["text"].str.len().min() > 100
    izmir = table[table["origin"].str.endswith("#1")].iloc[0]
    assert {"Kemal Arslan"} <= set(izmir["people"]) and "Athens" in set(izmir["places"])


def test_bad_inputs_in_a_batch_are_reported_and_the_rest_kept(
    tmp_path: Path, story_comparer: Comparer
) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    good = [a for _, a in example_articles()][:3]
    lines = [json.dumps({"title": a.title, "text": a.text, "date": "2026-03-14"}) for a in good]
    lines.insert(1, "{not json")
    lines.append(json.dumps({"title": "Numbers", "text": "12345 67890 +++ 42 ### 7 ..."}))
    (inputs / "feed.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    (inputs / "empty.txt").write_bytes(b"")
    (inputs / "blob.html").write_bytes(bytes(range(256)) * 8)
    with StoryStore(tmp_path / "bad.db", comparer=story_comparer) as stories:
        report = stories.ingest([inputs])
        assert report.added == 3
        assert stories.store.count("memberships") == 3
    problems = "\n".join(report.skipped)
    assert "feed.jsonl#2" in problems  # malformed line, named by its line number
    assert "empty.txt" in problems and "blob.html" in problems
    assert "language" in problems  # the article no encoder can read
    assert len(report.skipped) == 4


def test_store_refuses_foreign_and_newer_databases(tmp_path: Path) -> None:
    foreign = tmp_path / "other.db"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE t (x)")
    with pytest.raises(StoreError, match="not one made by storylink"):
        SQLiteStore(foreign)
    newer = tmp_path / "newer.db"
    SQLiteStore(newer).close()
    with sqlite3.connect(newer) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer"):
        SQLiteStore(newer)
    (tmp_path / "text.db").write_text("hello, not a database" * 100)
    with pytest.raises(StoreError):
        SQLiteStore(tmp_path / "text.db")


def test_a_second_writer_is_refused(
    tmp_path: Path, story_comparer: Comparer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STORYLINK_LOCK_WAIT", "0.5")  # waits that long, then says who holds it
    path = tmp_path / "lock.db"
    with StoryStore(path, comparer=story_comparer) as first:
        held = first._lock()
        try:
            with pytest.raises(StoreError, match="another storylink process"):
                first.add([Article("Title", "Some text about the weather in Paris today.")])
        finally:
            held.close()


def test_killed_ingest_resumes_without_loss_or_duplicates(tmp_path: Path) -> None:
    """SIGKILL a real `storylink ingest` midway, run it again: every article once, one story."""
    db = tmp_path / "killed.db"
    command = [
        sys.executable,
        "-m",
        "storylink",
        "ingest",
        str(examples_path()),
        "--db",
        str(db),
        "--batch-size",
        "2",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 300
    stored = 0
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if db.exists():
                try:
                    with sqlite3.connect(db, timeout=5) as conn:
                        stored = conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
                except sqlite3.OperationalError:
                    stored = 0
            if stored >= 6:
                break
            time.sleep(0.05)
        assert process.poll() is None, "ingest finished before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
    assert 6 <= stored < 22
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr
    with sqlite3.connect(db) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM articles")]
        members = conn.execute("SELECT seq, story_id FROM memberships").fetchall()
        sizes = conn.execute("SELECT SUM(size) FROM stories").fetchone()[0]
        orphans = conn.execute(
            "SELECT COUNT(*) FROM articles a LEFT JOIN memberships m ON m.seq = a.seq "
            "WHERE m.story_id IS NULL"
        ).fetchone()[0]
    assert len(ids) == len(set(ids)) == 22
    assert len(members) == 22 and orphans == 0 and sizes == 22
    with StoryStore(db) as stories:
        assert stored_groups(stories) == gold_groups()


def test_cluster_params_validate_and_load_from_other_versions() -> None:
    with pytest.raises(ValueError, match="threshold"):
        ClusterParams(threshold=1.5)
    with pytest.raises(ValueError):
        ClusterParams(window_days=0)
    with pytest.raises(ValueError, match="combine"):
        ClusterParams(combine="median")
    with pytest.raises(ValueError, match="nearest"):
        ClusterParams(nearest=-1)
    with pytest.raises(ValueError, match="sure"):
        ClusterParams(sure=0.0)  # would stop before any story was scored
    with pytest.raises(ValueError, match="scan_rows"):
        ClusterParams(scan_rows=0)
    saved = {"threshold": 0.6, "representatives": 3}  # a name this version does not have
    assert ClusterParams.from_dict(saved) == ClusterParams(threshold=0.6)


def _toy_clusterer(
    params: ClusterParams, dates: dict[int, datetime | None], cosine: dict[int, float]
) -> tuple[OnlineClusterer, dict[int, Any]]:
    """A clusterer over toy articles 1, 2 (one story) and 3 (the newcomer): article 3 is the
    same story as 1, its nearest neighbour, and scores low with 2, the story's latest."""
    probability = {(2, 1): 0.9, (3, 1): 0.9, (3, 2): 0.1}
    articles = {
        seq: SimpleNamespace(
            seq=seq,
            article=SimpleNamespace(published=dates[seq]),
            vectors={"use-m3": SimpleNamespace(document_vector=np.eye(3)[seq - 1])},
        )
        for seq in (1, 2, 3)
    }
    comparer = SimpleNamespace(probability=lambda a, b: probability[a.seq, b.seq])
    clusterer = OnlineClusterer(
        cast(Any, comparer),
        lambda encoder, vector, k, since, until: [
            (s, c) for s, c in cosine.items() if s in clusterer.articles
        ],
        lambda seqs: {seq: articles[seq] for seq in seqs},
        params,
    )
    for seq in (1, 2):
        clusterer.assign(seq, "use-m3", articles[seq])
    return clusterer, articles


@pytest.mark.parametrize(
    ("dated", "params", "joins"),
    [
        (False, ClusterParams(combine="max"), True),  # compared with its nearest neighbour, 1
        (False, ClusterParams(nearest=0, member_time=False), False),  # only the latest, 2
        (True, ClusterParams(), True),  # 1 is undated: its time cannot rule it out
        (True, ClusterParams(member_time=False), False),  # the story's span is 152 days away
        (True, ClusterParams(nearest=0), False),  # 2 is 152 days away: not compared
    ],
)
def test_an_article_follows_its_nearest_neighbour_into_its_story(
    dated: bool, params: ClusterParams, joins: bool
) -> None:
    dates = {1: None, 2: None, 3: None}
    if dated:
        dates = {1: None, 2: datetime(2020, 1, 1, tzinfo=UTC), 3: datetime(2020, 6, 1, tzinfo=UTC)}
    clusterer, articles = _toy_clusterer(params, dates, {1: 0.8, 2: 0.5})
    assert clusterer.articles[1].story_id == clusterer.articles[2].story_id
    decision = clusterer.assign(3, "use-m3", articles[3])
    assert (decision.story_id == clusterer.articles[1].story_id) is joins
    assert decision.probability == (0.9 if joins else 0.1 if decision.compared else 0.0)


def test_adding_in_several_calls_gives_the_same_stories(
    tmp_path: Path, ingested: Path, story_comparer: Comparer
) -> None:
    articles = [a for _, a in example_articles()]
    with StoryStore(tmp_path / "calls.db", comparer=story_comparer, batch_size=5) as stories:
        stories.add(articles[:9])
        stories.add(articles[9:])  # kept state, not re-read from the database
        in_calls = {s.id: [a.id for a in s.timeline] for s in stories.stories(limit=100)}
    with StoryStore(ingested, comparer=story_comparer) as stories:
        at_once = {s.id: [a.id for a in s.timeline] for s in stories.stories(limit=100)}
    assert in_calls == at_once


def test_an_unrelated_article_naming_the_same_countries_is_not_encoded_whole_for_another_space(
    tmp_path: Path, story_comparer: Comparer
) -> None:
    """A story told only in Hebrew (an e5 language) and an English article about a storm that
    names the same three countries: the English one's e5 title + lead is too far from the
    story's headline (cosine 0.78 < 0.8) to be worth encoding whole with e5 (~1 s) and scored;
    its real English twin passes (0.85), is scored and joins."""
    example = {(key, a.language): a for key, a in example_articles()}
    hebrew, english = example[("chip-deal", "he")], example[("chip-deal", "en")]
    storm = Article(
        title="Storm grounds flights between Germany and Japan",
        text="A winter storm over northern Europe grounded dozens of flights between Germany "
        "and Japan on Tuesday, stranding thousands of travellers at Frankfurt airport. Snow and "
        "ice closed two runways for most of the day. Airlines said they expected to clear the "
        "backlog by Thursday.",
        language="en",
        published=hebrew.published,
    )
    with StoryStore(tmp_path / "spaces.db", comparer=story_comparer) as stories:
        stories.add([hebrew])
        stories.add([storm, english])
        placed = stories.story_of([hebrew.id, storm.id, english.id])
        encoded = {seq: set(p.vectors) for seq, p in stories.store.prepared([2, 3]).items()}
    assert placed[english.id] == placed[hebrew.id] != placed[storm.id]
    assert "e5-small" not in encoded[2]  # the storm: a glance only
    assert "e5-small" in encoded[3]  # the twin: encoded whole, to be scored against Hebrew
