"""What one side reports that the other does not: sentences without a counterpart."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from storylink.article import Article
from storylink.compare import Comparer
from storylink.demo import examples_path
from storylink.differs import story_divergence, unmatched
from storylink.read import read
from storylink.stories import Story, StoryStore

from .conftest import SEED_AR, SEED_EN, need

# written for the project: a fact the Izmir quake reports do not contain
EXTRA = (
    "Separately, the city's football club said its new stadium would open in August "
    "after a sponsorship deal with a local bakery chain."
)


def test_only_the_sentences_below_the_threshold_farthest_first_then_in_order() -> None:
    similarity = np.array([[0.9, 0.1], [0.2, 0.3], [0.05, 0.0], [0.6, 0.7], [0.39, 0.1]])
    sentences = ["s0", "s1", "s2", "s3", "s4"]
    side = unmatched(similarity, sentences, threshold=0.4, language="en", limit=2)
    assert side.total == 3  # s1, s2, s4: no column reaches 0.4
    assert [s.text for s in side.sentences] == ["s1", "s2"]  # the two farthest, in article order
    assert [s.position for s in side.sentences] == [1, 2]
    assert side.sentences[0].closest == 0.3
    assert "3 sentences without a counterpart" in side.caption()
    assert side.caption().endswith(", 2 shown")
    nothing_opposite = unmatched(np.zeros((2, 0)), ["a", "b"], threshold=0.4)
    assert nothing_opposite.total == 2


def test_a_caption_far_from_everything_yields_to_what_the_article_reports() -> None:
    similarity = np.array([[0.05], [0.2], [0.9]])  # a photo credit, a new fact, a shared one
    sentences = ["Photo: AFP", "The mayor resigned on Friday.", "shared"]
    central_to_own_article = np.array([0.1, 0.7, 0.8])
    side = unmatched(similarity, sentences, 0.4, limit=1, centrality=central_to_own_article)
    assert side.total == 2 and [s.text for s in side.sentences] == [sentences[1]]
    assert [s.text for s in unmatched(similarity, sentences, 0.4, limit=1).sentences] == [
        sentences[0]  # without centrality the farthest wins: the credit
    ]


def test_a_sentence_one_side_adds_is_only_in_that_side(
    comparer: Comparer, examples: dict[str, Article]
) -> None:
    report = examples["izmir-quake-en"]
    longer = replace(report, id="", text=f"{report.text}\n\n{EXTRA}")  # id: from the text
    ex = comparer.compare(report, longer).explanation
    assert ex.only_in_a.total == 0 and ex.only_in_a.sentences == []
    assert ex.only_in_b.total == 1 and ex.only_in_b.language == "en"
    assert [s.text for s in ex.only_in_b.sentences] == [EXTRA]


def test_identical_texts_have_nothing_of_their_own(
    comparer: Comparer, examples: dict[str, Article]
) -> None:
    article = examples["izmir-quake-ar"]
    data = comparer.compare(article, article).to_dict()
    assert data["only_in"] == {
        "a": {"language": "ar", "total": 0, "sentences": []},
        "b": {"language": "ar", "total": 0, "sentences": []},
    }


def test_seed_reports_diverge_where_they_should(comparer: Comparer) -> None:
    (english,) = read(need(SEED_EN))
    (arabic,) = read(need(SEED_AR))
    ex = comparer.compare(english, arabic).explanation
    only_english = " ".join(s.text for s in ex.only_in_a.sentences)
    only_arabic = " ".join(s.text for s in ex.only_in_b.sentences)
    assert "military war in 1992" in only_english  # the English report's background
    assert "تويتر" in only_arabic  # the ambassador's tweet, reported in Arabic only
    aligned_english = {pair.a for pair in ex.aligned_sentences}
    assert not aligned_english & {s.text for s in ex.only_in_a.sentences}
    assert ex.only_in_a.total <= ex.sentences_a - ex.sentences_with_counterpart


@pytest.fixture(scope="module")
def examples_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoryStore]:
    db: Path = tmp_path_factory.mktemp("differs") / "examples.db"
    with StoryStore(db) as stories:
        stories.ingest([str(examples_path())])
        yield stories


def story_with(stories: StoryStore, article: Article) -> Story:
    return stories.story(stories.store.story_of([article.id])[article.id])


def test_story_shows_per_language_what_the_headline_article_lacks(
    examples_store: StoryStore, examples: dict[str, Article]
) -> None:
    story = story_with(examples_store, examples["izmir-quake-ar"])
    divergence = story_divergence(examples_store, story)
    assert divergence.left_out == 1  # Greek: read with e5, the others (and the headline) with USE
    by_language = {item.language: item for item in divergence.languages}
    headline = next(a for a in story.timeline if a.id == story.headline_article)
    assert set(by_language) == set(story.languages) - {headline.language, "el"}
    arabic = by_language["ar"]
    assert arabic.articles == 1 and arabic.total >= len(arabic.sentences) > 0
    assert any("حسن دمير" in s.text for s in arabic.sentences)  # a café owner only Arabic quotes
    threshold = examples_store.comparer.scorer.align_thresholds["use-m3"]
    for item in divergence.languages:
        assert all(s.article != story.headline_article for s in item.sentences)
        assert all(s.closest < threshold for s in item.sentences)  # none has a counterpart
