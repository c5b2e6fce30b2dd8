"""The SQLite store: compact formats, the v1 → v2 migration, entity filter and listings."""

from __future__ import annotations

import json
import sqlite3
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from storylink import store as store_module
from storylink.article import Article
from storylink.dates import find_dates, find_numbers
from storylink.encode import ArticleVectors, pack_sentences, unit, unpack_sentences
from storylink.entities import EntityProfile, Mention, profile, search_key
from storylink.features import PreparedArticle
from storylink.store import MIGRATIONS, SCHEMA_VERSION, Batch, SQLiteStore, StoryFilter, StoryRow
from storylink.text import sentences

START = datetime(2026, 3, 1, tzinfo=UTC)


def random_vectors(
    article: Article, seed: int, encoder: str = "use-m3", dimension: int = 512
) -> ArticleVectors:
    """Made-up float32 vectors of an article's sentences: unit rows, as encoders give."""
    texts = sentences(article.text) or [article.text.strip()]  # as the store splits them
    rng = np.random.default_rng(seed)
    rows = rng.standard_normal((len(texts), dimension)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    document = unit(rng.standard_normal(dimension).astype(np.float32))
    title = None if seed % 3 == 0 else unit(rng.standard_normal(dimension).astype(np.float32))
    return ArticleVectors(encoder, texts, rows, title, document, unit(rows.mean(axis=0)))


def analysed(article: Article, seed: int, encoder: str = "use-m3") -> PreparedArticle:
    """Names, dates and numbers as ingest finds them; vectors made up (no encoder runs)."""
    text = article.full_text
    dates = find_dates(text, article.language or "und", article.published)
    prepared = PreparedArticle(article, profile(article), dates, find_numbers(text, dates))
    vectors = random_vectors(article, seed, encoder, 512 if encoder == "use-m3" else 384)
    prepared.vectors[encoder] = vectors
    return prepared


# ------------------------------------------------------------------ the v1 formats, as they were


def v1_blob(matrix: np.ndarray | None) -> bytes | None:
    return None if matrix is None else np.asarray(matrix, dtype=np.float16).tobytes()


def v1_values(matrix: np.ndarray) -> np.ndarray:
    """What a v1 store gave back: the float16 values."""
    values: np.ndarray = matrix.astype(np.float16).astype(np.float32)
    return values


def v1_analysis_blob(prepared: PreparedArticle) -> bytes:
    names = prepared.names
    data = {
        "names": {
            "language": names.language,
            "mentions": [vars(m) for m in names.mentions],
            "surfaces": names.surfaces,
            "skeletons": names.skeletons,
            "short_names": names.short_names,
        },
        "dates": [vars(d) for d in prepared.dates],
        "numbers": [vars(n) for n in prepared.numbers],
    }
    return zlib.compress(json.dumps(data, ensure_ascii=False).encode("utf-8"), 1)


def write_v1_store(path: Path, items: list[PreparedArticle], stories: dict[int, list[int]]) -> None:
    """A store as storylink wrote it before schema v2: `MIGRATIONS[0]`, float16, zlib JSON."""
    db = sqlite3.connect(path)
    db.executescript(str(MIGRATIONS[0]))
    for seq, prepared in enumerate(items, start=1):
        a = prepared.article
        (encoder,) = prepared.vectors
        published = START + timedelta(hours=seq)
        db.execute(
            "INSERT INTO articles VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (seq, a.id, a.title, a.text, prepared.language, a.url, a.source,
             published.isoformat(), published.timestamp(), a.origin, "2026-03-01T00:00:00+00:00",
             encoder, v1_analysis_blob(prepared)),
        )  # fmt: skip
        db.executemany(
            "INSERT INTO entities VALUES (?,?,?,?)",
            [(seq, m.kind, m.label, search_key(m.label)) for m in prepared.names.mentions],
        )
        v = prepared.vectors[encoder]
        db.execute(
            "INSERT INTO vectors VALUES (?,?,?,?,?)",
            (seq, encoder, v1_blob(v.document_vector), v1_blob(v.title_vector),
             v1_blob(v.sentence_vectors)),
        )  # fmt: skip
    for story_id, seqs in stories.items():
        times = [(START + timedelta(hours=s)).timestamp() for s in seqs]
        db.execute(
            "INSERT INTO stories VALUES (?,?,?,?,?)",
            (story_id, seqs[0], len(seqs), min(times), max(times)),
        )
        db.executemany("INSERT INTO memberships VALUES (?,?,?)", [(s, story_id, 0.5) for s in seqs])
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()


@pytest.fixture(scope="module")
def v1_items(examples: dict[str, Article]) -> list[PreparedArticle]:
    keys = ["izmir-quake-en", "izmir-quake-tr", "izmir-quake-ru", "nile-summit-zh", "chip-deal-de"]
    items = [analysed(examples[key], seed) for seed, key in enumerate(keys)]
    items.append(analysed(examples["nile-summit-fa"], 9, "e5-small"))  # not a USE language
    return items


def test_a_v1_store_migrates_in_place(tmp_path: Path, v1_items: list[PreparedArticle]) -> None:
    path = tmp_path / "v1.db"
    write_v1_store(path, v1_items, {1: [1, 2, 3], 2: [4, 6], 3: [5]})
    store = SQLiteStore(path)
    assert store.schema_version == SCHEMA_VERSION
    assert store.setting(store_module.MIGRATION_CURSOR) is None  # finished
    loaded = store.prepared(range(1, len(v1_items) + 1))
    for seq, before in enumerate(v1_items, start=1):
        after = loaded[seq]
        assert after.article.id == before.article.id and after.article.text == before.article.text
        assert after.names == before.names  # mentions kept, lookup tables derived again
        assert after.dates == before.dates and after.numbers == before.numbers
        (encoder,) = before.vectors
        old, new = before.vectors[encoder], after.vectors[encoder]
        assert list(new.sentences) == old.sentences
        title = None if old.title_vector is None else v1_values(old.title_vector)
        v1 = ArticleVectors(
            encoder,
            old.sentences,
            v1_values(old.sentence_vectors),
            title,
            v1_values(old.document_vector),
            old.sentence_mean_vector,
        )
        assert_same_vectors(new, v1.compact())  # the float16 values, packed as new ones are
        assert np.abs(new.sentence_vectors - old.sentence_vectors).max() < 0.02
        assert np.abs(new.document_vector - old.document_vector).max() < 0.001
        assert (new.title_vector is None) == (old.title_vector is None)
    rows = store.story_rows()
    assert [(r.id, r.headline_seq, r.size) for r in rows] == [(1, 1, 3), (2, 4, 2), (3, 5, 1)]
    assert [r.sole_space for r in rows] == [None if r.id == 2 else "use-m3" for r in rows]
    assert rows[0].last_ts == (START + timedelta(hours=3)).timestamp()
    izmir = store.find_stories(StoryFilter(entities=(search_key("İzmir"),)))
    assert [r.id for r in izmir] == [1]
    store.close()


def assert_same_vectors(a: ArticleVectors, b: ArticleVectors) -> None:
    assert a.encoder == b.encoder and list(a.sentences) == list(b.sentences)
    assert np.array_equal(a.sentence_vectors, b.sentence_vectors)
    assert np.array_equal(a.document_vector, b.document_vector)
    assert np.array_equal(a.sentence_mean_vector, b.sentence_mean_vector)
    if a.title_vector is None or b.title_vector is None:
        assert a.title_vector is None and b.title_vector is None
    else:
        assert np.array_equal(a.title_vector, b.title_vector)


def test_a_story_store_of_the_previous_version_opens_and_rebuilds_its_indexes(
    tmp_path: Path, v1_items: list[PreparedArticle]
) -> None:
    """What the shipped code left: a v1 database and whole-file `.npz` indexes beside it."""
    from storylink.stories import StoryStore

    path = tmp_path / "v1.db"
    write_v1_store(path, v1_items, {1: [1, 2, 3], 2: [4, 6], 3: [5]})
    legacy = [path.with_name(f"v1.db.{key}.npz") for key in ("use-m3", "use-m3.title")]
    for file in legacy:
        file.write_bytes(b"an index of the previous version")
    with StoryStore(path) as stories:
        assert {s.size for s in stories.stories()} == {3, 2, 1}
        index = stories._index("use-m3")
        assert index is not None and len(index) == 5  # rebuilt from the migrated vectors
        stories.recluster()  # a writer: keeps the new indexes, drops the old files
    assert not any(file.exists() for file in legacy)
    assert (path.with_name("v1.db.use-m3.index") / "manifest.json").exists()


def test_an_interrupted_migration_goes_on_where_it_stopped(
    tmp_path: Path, v1_items: list[PreparedArticle], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "v1.db"
    write_v1_store(path, v1_items, {1: [1, 2, 3, 4, 5, 6]})
    good = sqlite3.connect(path).execute("SELECT analysis FROM articles WHERE seq = 5").fetchone()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE articles SET analysis = x'00' WHERE seq = 5")  # breaks batch 3
    monkeypatch.setattr(store_module, "MIGRATION_BATCH", 2)
    with pytest.raises(zlib.error):
        SQLiteStore(path)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    cursor = db.execute(
        "SELECT value FROM settings WHERE key = ?", (store_module.MIGRATION_CURSOR,)
    )
    assert cursor.fetchone()[0] == "4"  # batches 1–2 converted and committed
    with db:
        db.execute("UPDATE articles SET analysis = ? WHERE seq = 5", good)
    db.close()
    store = SQLiteStore(path)
    assert store.schema_version == SCHEMA_VERSION
    loaded = store.prepared(range(1, 7))
    assert all(loaded[s].names == v1_items[s - 1].names for s in range(1, 7))
    assert [r.sole_space for r in store.story_rows()] == [None]
    store.close()


# ------------------------------------------------------------------ compact vectors


@pytest.mark.parametrize("dimension", [512, 384])
def test_compact_is_idempotent_and_what_the_store_returns(tmp_path: Path, dimension: int) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    batch = Batch()
    expected = {}
    for seq in range(1, 7):
        encoder = "use-m3" if dimension == 512 else "e5-small"
        article = Article(f"title {seq}", " ".join(f"Sentence {i}." for i in range(seq)), "en")
        vectors = random_vectors(article, seq, encoder, dimension)
        compact = vectors.compact()
        assert_same_vectors(compact.compact(), compact)
        assert np.abs(compact.sentence_vectors - vectors.sentence_vectors).max() < 0.02
        cosines = (compact.sentence_vectors * vectors.sentence_vectors).sum(axis=1)
        assert cosines.min() > 0.99
        prepared = PreparedArticle(article, EntityProfile("en", []), [], [])
        prepared.vectors[encoder] = vectors  # full vectors given: the store keeps them compact
        batch.articles.append((seq, encoder, prepared))
        expected[seq] = compact
    store.commit(batch)
    loaded = store.prepared(list(expected))
    for seq, compact in expected.items():
        (stored,) = loaded[seq].vectors.values()
        assert_same_vectors(stored, compact)
    encoder = next(iter(expected.values())).encoder
    documents = {seq: v for seq, _, v in store.indexed_vectors(encoder, "document")}
    assert all(np.array_equal(documents[s], c.document_vector) for s, c in expected.items())
    store.close()


def test_sentence_packing_sizes() -> None:
    rows = random_vectors(Article("", "One. Two. Three."), 1).sentence_vectors
    assert len(pack_sentences(rows)) == len(rows) * (2 + 256)
    assert unpack_sentences(pack_sentences(rows[:0]), 512).shape == (0, 512)


# ------------------------------------------------------------------ entity filter and listings


def entity_store(path: Path) -> SQLiteStore:
    """Five one-article stories naming people and places in several scripts."""
    named = [
        ([("person", "Vladimir Putin"), ("place", "Moscow")], "en", 5, 1),
        ([("person", "Volodymyr Zelensky"), ("person", "Vladimir Kara-Murza")], "en", 2, 2),
        ([("place", "İzmir"), ("person", "Recep Tayyip Erdoğan")], "tr", 5, 3),
        ([("place", "Москва"), ("person", "Путин")], "ru", 1, 4),
        ([("organisation", "Rasputin Ltd")], "en", 3, None),  # undated
    ]
    store = SQLiteStore(path)
    batch = Batch()
    for seq, (names, language, size, hours) in enumerate(named, start=1):
        published = None if hours is None else START + timedelta(hours=hours)
        article = Article(f"story {seq}", "Some text.", language, published=published)
        mentions = [Mention(label, kind, label) for kind, label in names]
        mentions.append(Mention("Washington", "place", "Washington", proper=False))
        prepared = PreparedArticle(article, EntityProfile(language, mentions), [], [])
        prepared.vectors["use-m3"] = random_vectors(article, seq)
        batch.articles.append((seq, "use-m3", prepared))
        ts = None if published is None else published.timestamp()
        batch.stories[seq] = StoryRow(seq, seq, size, ts, ts, "use-m3")
        batch.memberships[seq] = (seq, 1.0)
    store.commit(batch)
    return store


def found(store: SQLiteStore, *names: str, **where: object) -> list[int]:
    keys = tuple(search_key(n) for n in names)
    return [r.id for r in store.find_stories(StoryFilter(entities=keys, **where))]  # type: ignore[arg-type]


@pytest.fixture(params=["few matches", "many matches"])
def matches(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways to filter: list the matches and sort them, or check stories in order."""
    if request.param == "many matches":
        monkeypatch.setattr(store_module, "COMMON_MATCHES", 1)
    return str(request.param)


def test_entity_filter_matches_whole_words_of_one_entity(tmp_path: Path, matches: str) -> None:
    store = entity_store(tmp_path / "s.db")
    assert found(store, "Putin") == [4, 1]  # "Путин" is "putin" in Latin letters
    assert found(store, "Vladimir Putin") == [1]
    assert found(store, "putin vladimir") == [1]  # words in any order
    assert found(store, "Vladimir") == [2, 1]  # Kara-Murza too
    assert found(store, "Putin Zelensky") == []  # two entities, not one
    assert found(store, "Puti") == []  # whole words, not parts of them
    assert found(store, "Izmir") == found(store, "İzmir") == [3]
    assert found(store, "Erdogan") == [3]
    assert found(store, "Moscow", "Москва") == [4, 1]  # any of the keys
    assert found(store, "Kara-Murza") == found(store, "kara murza") == [2]
    assert found(store, "Washington") == []  # not surely a name: not indexed
    assert found(store, "Rasputin") == [5]
    assert found(store, "Putin", language="ru") == [4]
    assert found(store, "Putin", since=START + timedelta(hours=2)) == [4]
    store.close()


def test_listings_and_filters_use_indexes(tmp_path: Path, matches: str) -> None:
    store = entity_store(tmp_path / "s.db")
    assert found(store) == [4, 3, 2, 1, 5]  # newest first, undated last
    assert found(store, order="largest") == [3, 1, 5, 2, 4]  # size, then newest
    assert found(store, order="largest", limit=2, offset=1) == [1, 5]
    statements: list[str] = []
    store._db.set_trace_callback(statements.append)
    for order in ("newest", "largest"):
        store.find_stories(StoryFilter(order=order))
        store.find_stories(StoryFilter(entities=("vladimir putin", "moscow"), order=order))
        store.find_stories(StoryFilter(language="en", order=order))
    store._db.set_trace_callback(None)
    listings = [sql for sql in statements if sql.startswith("SELECT s.*")]
    assert len(listings) == 6
    for sql in listings:
        assert "LIKE" not in sql
        plan = [row[3] for row in store._db.execute(f"EXPLAIN QUERY PLAN {sql}")]
        scans = [step for step in plan if step.startswith("SCAN")]
        if "WHERE" in sql and matches == "few matches":
            assert not scans, plan  # the matches are few: sorting them is cheap
        else:  # read in the listing's order, as far as the page goes
            assert scans in (
                ["SCAN s USING INDEX stories_newest"],
                ["SCAN s USING INDEX stories_largest"],
            )
            assert not any("TEMP B-TREE" in step for step in plan), plan
    store.close()


def test_story_rows_keep_their_sole_space(tmp_path: Path) -> None:
    store = entity_store(tmp_path / "s.db")
    store.commit(Batch(stories={2: StoryRow(2, 2, 2, None, None, None)}))
    assert [r.sole_space for r in store.story_rows([1, 2])] == ["use-m3", None]
    assert {r.sole_space for r in store.find_stories(StoryFilter())} == {"use-m3", None}
    store.close()


def test_a_revision_replaces_the_names_the_entity_filter_finds(tmp_path: Path) -> None:
    store = entity_store(tmp_path / "s.db")
    assert [r.id for r in store.find_stories(StoryFilter(entities=("vladimir putin",)))] == [1]
    article = Article("story 1, revised", "Other text.", "en", published=START)
    mentions = [Mention("Angela Merkel", "person", "Angela Merkel")]
    revised = PreparedArticle(article, EntityProfile("en", mentions), [], [])
    revised.vectors["use-m3"] = random_vectors(article, 11)
    store.revise(1, "use-m3", revised)
    assert store.find_stories(StoryFilter(entities=("vladimir putin",))) == []  # no stale words
    assert [r.id for r in store.find_stories(StoryFilter(entities=("merkel",)))] == [1]
    words = store._db.execute("SELECT COUNT(*) FROM entity_words").fetchone()[0]
    fresh = entity_store(tmp_path / "fresh.db")
    before = fresh._db.execute("SELECT COUNT(*) FROM entity_words").fetchone()[0]
    assert words == before - 3 + 2  # "vladimir putin", "moscow" out; "angela merkel" in
    store.close()
    fresh.close()
