"""Names people can trust: what `profile` keeps as people, places and organisations, and the
entity filter finding a person across scripts in a real store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from storylink.article import Article
from storylink.compare import Comparer
from storylink.encode import EncoderSet
from storylink.entities import (
    Mention,
    default_gazetteer,
    entity_keys,
    name_terms,
    profile,
    search_key,
)
from storylink.language import with_language
from storylink.store import SCHEMA_VERSION
from storylink.stories import StoryStore

from .conftest import SEED_AR, SEED_EN, need


def kinds(mentions: list[Mention]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {"person": set(), "place": set(), "organisation": set()}
    for mention in mentions:
        found[mention.kind].add(
            search_key(mention.label) if mention.kind == "place" else mention.text
        )
    return found


def test_the_example_quake_reports_name_what_they_name(examples: dict[str, Article]) -> None:
    """The names the issue saw on the quake story's page, and the ones it must keep."""
    english = kinds(profile(with_language(examples["izmir-quake-en"])).mentions)
    assert "Meridian" not in english["place"]  # "(Meridian)": the agency that wrote it
    assert "Meridian" in english["organisation"]
    assert "GMT" not in english["organisation"]
    assert {"izmir", "seferihisar", "athens", "greece", "turkey"} <= english["place"]
    assert {"Ayşe Yılmaz", "Kemal Arslan"} <= english["person"]
    assert "AFAD" in english["organisation"]

    turkish = kinds(profile(with_language(examples["izmir-quake-tr"])).mentions)
    assert "kaya" not in turkish["place"]  # Mehmet Kaya's surname
    assert "Mehmet Kaya" in turkish["person"]
    assert not any("Mart" in name or "Cumartesi" in name for name in turkish["person"])
    assert {"izmir", "seferihisar", "karsiyaka", "athens", "greece"} <= turkish["place"]


def test_diseases_months_and_words_opening_sentences_are_not_people() -> None:
    text = (
        "Coronavirus Tiger Salgını yayılıyor. Mart Cumartesi günü Ankara'da toplantı yapıldı. "
        "Genelde Japonlar maske takıyor. Bakan Fahrettin Koca açıklama yaptı. "
        "Fahrettin Koca, Ankara'da konuştu."
    )
    found = kinds(profile(Article("", text, language="tr")).mentions)
    assert "Fahrettin Koca" in found["person"]
    assert "ankara" in found["place"]
    for wrong in ("Coronavirus", "Mart", "Japonlar"):
        assert not any(wrong in name for name in found["person"]), found["person"]


def test_a_place_inside_a_longer_name_is_not_the_place() -> None:
    text = (
        "The Washington Post reported that Denzel Washington visited Kuala Lumpur. "
        "Officials in Kuala Lumpur welcomed him."
    )
    found = kinds(profile(Article("", text, language="en")).mentions)
    assert "washington" not in found["place"]  # a newspaper's and an actor's name
    assert "kuala lumpur" in found["place"]
    country = kinds(profile(Article("", "Flights on Oman Air resumed.", language="en")).mentions)
    assert "oman" not in country["place"]  # an airline's name


def test_name_terms_match_a_name_across_scripts_and_not_a_place() -> None:
    trump = {"Trump", "ترامب", "Трамп", "特朗普", "トランプ"}
    assert all("TRMB" in name_terms(name) for name in trump)
    assert set(name_terms("Johnson")) & set(name_terms("جونسون"))  # silent h in Latin
    assert set(name_terms("Rouhani")) & set(name_terms("روحاني"))  # h written in Arabic
    assert name_terms("Xi") == []  # two consonants match too many names
    assert name_terms("唐纳德·特朗普") == ["TRMB", "ATRMB"]  # the known part only
    assert name_terms("金慧") == []  # Chinese syllables match names only by chance ("Jonah")
    gazetteer = default_gazetteer()
    assert entity_keys("Paris", gazetteer) == ("paris",)  # a place: no person terms ("Boris")
    assert "BTN" in entity_keys("بوتين", gazetteer)
    # typed in Latin letters, terms of names in other scripts only: Johnson is not Johansson
    assert "JNSN" in name_terms("Johansson") and "AJNSN" not in name_terms("Johansson")
    assert "AJNSN" in entity_keys("Johnson", gazetteer) and "AJNSN" in name_terms("Джонсон")


@pytest.fixture(scope="module")
def seeds_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of the two real seed reports: Iran Press in English, Mehr News in Arabic."""
    english, arabic = need(SEED_EN), need(SEED_AR)
    path = tmp_path_factory.mktemp("names") / "seeds.db"
    comparer = Comparer(encoders=EncoderSet(None), compact_vectors=True)
    with StoryStore(path, comparer=comparer) as stories:
        report = stories.ingest([english, arabic])
        assert report.added == 2
    return path


@pytest.mark.parametrize("query", ["Putin", "بوتين", "Путин", "Rouhani", "روحاني"])
def test_entity_filter_finds_a_person_in_either_script(seeds_store: Path, query: str) -> None:
    with StoryStore(seeds_store) as stories:
        everything = stories.stories()
        assert len(everything) == 1 and set(everything[0].languages) == {"en", "ar"}
        assert [s.id for s in stories.stories(entity=query)] == [everything[0].id]


def test_entity_filter_finds_nobody_who_is_not_named(seeds_store: Path) -> None:
    with StoryStore(seeds_store) as stories:
        assert stories.stories(entity="ترامب") == []
        assert stories.stories(entity="Boris") == []


def test_a_store_from_before_name_terms_gets_them_when_opened(
    seeds_store: Path, tmp_path: Path
) -> None:
    old = tmp_path / "old.db"
    old.write_bytes(seeds_store.read_bytes())
    with sqlite3.connect(old) as db:  # as the previous schema left it: no name terms
        db.execute("DELETE FROM entity_words WHERE word != lower(word)")
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
    with StoryStore(old) as stories:
        assert stories.store.schema_version == SCHEMA_VERSION
        assert len(stories.stories(entity="بوتين")) == 1
