"""Search that finds: ranking with names across scripts, and a 0–1 match strength, on real
stores (the example articles; the dev articles when ../shared is there)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from storylink.article import Article
from storylink.demo import examples_path
from storylink.entities import default_gazetteer, profile
from storylink.evaluate import load_pairs
from storylink.search import (
    RELATED_FIT,
    SEARCH_FIT,
    TODAY,
    match_strength,
    names_in,
    query_names,
)
from storylink.stories import StoryStore, pair_articles

from .conftest import DEV_PAIRS, need


@pytest.fixture(scope="module")
def examples_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("search") / "examples.db"
    with StoryStore(path) as stories:
        stories.ingest([examples_path()])
    return path


@pytest.fixture(scope="module")
def dev_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoryStore]:
    """A store of the dev pairs' 364 articles, as the issue's searches were tried on."""
    pairs = load_pairs(need(DEV_PAIRS))
    with StoryStore(tmp_path_factory.mktemp("search") / "dev.db") as stories:
        stories.add(pair_articles(pairs))
        yield stories


def test_match_strength_is_a_chance_from_0_to_1() -> None:
    for fit in (SEARCH_FIT, RELATED_FIT):
        assert match_strength(fit.midpoint, fit) == pytest.approx(0.5)
        values = [match_strength(score, fit) for score in range(-5, 20)]
        assert values == sorted(values) and 0 < values[0] < 0.01 and 0.99 < values[-1] < 1
    assert match_strength(-1e6) == 0.0 and match_strength(1e6) == 1.0  # no overflow


def test_a_query_name_is_found_in_another_script() -> None:
    """ "Soleimani" is no name to `profile` in a seven-word query; the search still looks for
    it, and finds its Arabic spelling by its consonants."""
    gazetteer = default_gazetteer()
    names = query_names("Soleimani killed in US drone strike in Baghdad", "en", gazetteer)
    written = [n.mentions[0].text for n in names]
    assert "Soleimani" in written and "Baghdad" in written and "killed" not in written
    arabic = Article("", "اغتيال قاسم سليماني قرب مطار بغداد", language="ar")
    found = names_in(names, profile(arabic, gazetteer))
    assert {written[i] for i in found} == {"Soleimani", "Baghdad"}
    russian = Article("", "Погода в Москве на выходные", language="ru")
    assert names_in(names, profile(russian, gazetteer)) == frozenset()


def test_search_ranks_the_story_and_says_how_strong_the_match_is(examples_db: Path) -> None:
    with StoryStore(examples_db) as stories:
        hits = stories.search("earthquake in Turkey", limit=5)
        quake = stories.story(hits[0].story_id)
        assert {"tr", "ar", "el"} <= set(quake.languages)
        strengths = [hit.strength for hit in hits]
        assert all(0 <= s <= 1 for s in strengths) and strengths == sorted(strengths)[::-1]
        assert strengths[0] > 0.5 > strengths[1]  # the quake; then nothing like it
        _, related = stories.related(quake.timeline[0].id, limit=3)
        assert related and all(0 <= hit.strength <= 1 for hit in related)


def test_the_issue_searches_find_their_stories(dev_store: StoryStore) -> None:
    """Issue 17: "earthquake in Turkey" put the Turkish earthquake story 6th (today's ranking
    6th here): now in the top 3. The Soleimani query did not find the Arabic story in the top 8
    (today's ranking: not in the top 10): now in the top 3, with the title weighing the query's
    names again (RESULTS.md "a query name in the article's title")."""
    pairs = {p.pair_id: p for p in load_pairs(DEV_PAIRS)}
    quake = pairs["1508826526_1505333110"].b  # Elazığ earthquake aid campaign (tr)
    soleimani = pairs["1488488113_1486229808"].a  # Soleimani's killing (ar)
    for query, article, depth in (
        ("earthquake in Turkey", quake, 3),
        ("Soleimani killed in US drone strike in Baghdad", soleimani, 3),
    ):
        story = dev_store.story_of([article.id])[article.id]
        top = [hit.story_id for hit in dev_store.search(query, limit=depth)]
        before = [hit.story_id for hit in dev_store.search(query, limit=depth, params=TODAY)]
        assert story in top and story not in before, (query, top, before)


def test_entity_filter_finds_people_across_scripts(dev_store: StoryStore) -> None:
    """`stories --entity`: "Trump" and "ترامب" find the same stories, as places do; an
    organisation typed in Arabic letters, which write the final s of "Siemens" as z, too."""
    found = {
        name: {s.id for s in dev_store.stories(entity=name, limit=100)}
        for name in ("Trump", "ترامب", "Трамп", "Bagdad", "بغداد", "Siemens", "سيمنز")
    }
    assert len(found["Trump"]) >= 10
    assert found["Trump"] == found["ترامب"] == found["Трамп"]
    assert found["Bagdad"] == found["بغداد"] and found["Bagdad"]
    assert found["Siemens"] == found["سيمنز"] and found["Siemens"]


def test_api_cli_and_page_show_the_same_strength(examples_db: Path, served: str) -> None:
    query = "earthquake in Turkey"
    found = httpx.get(f"{served}/search", params={"q": query, "limit": 3}, timeout=120)
    hits = found.json()["hits"]
    assert all(0 <= hit["strength"] <= 1 for hit in hits)
    listed = httpx.get(f"{served}/stories", params={"text": query, "limit": 3}).json()["stories"]
    assert [s["strength"] for s in listed] == [hit["strength"] for hit in hits]
    unsearched = httpx.get(f"{served}/stories", params={"limit": 1}).json()["stories"]
    assert unsearched[0]["strength"] is None
    page = httpx.get(f"{served}/", params={"q": query}).text
    shown = re.findall(r"match (\d\.\d\d)</span>", page)
    assert shown[:3] == [f"{hit['strength']:.2f}" for hit in hits]
    command = [sys.executable, "-m", "storylink.cli", "search", query, "--db", str(examples_db)]
    as_json = json.loads(subprocess.run([*command, "--json"], capture_output=True).stdout)
    table = subprocess.run(command, capture_output=True, text=True).stdout
    assert "match" in table and f"{as_json[0]['strength']:.2f}" in table
    assert as_json[0]["strength"] == pytest.approx(hits[0]["strength"], abs=0.001)
