from __future__ import annotations

import json
from statistics import mean

import pytest

from storylink.article import Article
from storylink.compare import CompareError, Comparer
from storylink.read import read

from .conftest import SEED_AR, SEED_EN, need


def test_english_arabic_same_story_with_reasons(
    comparer: Comparer, examples: dict[str, Article]
) -> None:
    score = comparer.compare(examples["izmir-quake-en"], examples["izmir-quake-ar"])
    assert score.same_story and score.probability > 0.8 and score.overall <= 2
    ex = score.explanation
    assert "Kemal Arslan" in {p.label for p in ex.people}
    assert {"İzmir", "Athens"} <= {p.label for p in ex.places}
    assert "14 Mar 2026 (Saturday)" in {d.label for d in ex.dates}
    assert {"6.1", "212"} <= {n.label for n in ex.numbers}
    assert ex.aligned_sentences and all(s.similarity >= 0.4 for s in ex.aligned_sentences)
    assert "same people: Kemal Arslan" in ex.summary()


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("nile-summit-ar", "nile-summit-zh"),
        ("nile-summit-en", "nile-summit-fa"),  # Persian: scored with the e5 fallback encoder
        ("izmir-quake-ru", "izmir-quake-el"),
    ],
)
def test_same_story_across_scripts(
    comparer: Comparer, examples: dict[str, Article], a: str, b: str
) -> None:
    assert comparer.compare(examples[a], examples[b]).same_story


def test_a_pair_in_two_unseen_languages_scores_closer_than_another_story(
    comparer: Comparer, examples: dict[str, Article]
) -> None:
    """Japanese and Hebrew reports of the chip deal: neither language is in the 320 training
    pairs, and the scorer calls them borderline (p 0.46, RESULTS.md "Judgement on 320
    pairs"); still clearly closer than the Hebrew report and another story's Persian one."""
    same = comparer.compare(examples["chip-deal-ja"], examples["chip-deal-he"])
    other = comparer.compare(examples["nile-summit-fa"], examples["chip-deal-he"])
    assert same.probability > other.probability and same.overall + 0.5 < other.overall


def test_same_story_pairs_score_better_than_different(
    comparer: Comparer, examples: dict[str, Article]
) -> None:
    keys = sorted(examples)
    same, different = [], []
    for i, a in enumerate(keys):
        for b in keys[i + 1 :: 3]:  # a third of all pairs keeps the test fast
            story_a, story_b = a.rsplit("-", 1)[0], b.rsplit("-", 1)[0]
            score = comparer.compare(examples[a], examples[b]).overall
            (same if story_a == story_b else different).append(score)
    assert max(same) < min(different) or mean(same) + 1.5 < mean(different)


def test_shared_words_are_not_one_story(comparer: Comparer, examples: dict[str, Article]) -> None:
    score = comparer.compare(examples["marseille-strike-en"], examples["marseille-record-en"])
    assert not score.same_story
    assert (
        score.overall
        > comparer.compare(examples["marseille-strike-en"], examples["marseille-strike-fr"]).overall
    )


def test_seed_pair_is_one_story(comparer: Comparer) -> None:
    (english,) = read(need(SEED_EN))
    (arabic,) = read(need(SEED_AR))
    score = comparer.compare(english, arabic)
    assert score.same_story and score.overall < 2
    ex = score.explanation
    assert {"Hassan Rouhani", "Vladimir Putin"} <= {p.label for p in ex.people}
    assert {"Tehran", "Russia", "Armenia", "Azerbaijan"} <= {p.label for p in ex.places}
    assert "Saturday" in {d.label for d in ex.dates}


def test_seed_against_unrelated_arabic(comparer: Comparer, examples: dict[str, Article]) -> None:
    (english,) = read(need(SEED_EN))
    score = comparer.compare(english, examples["nile-summit-ar"])
    assert not score.same_story and score.overall > 3


def test_json_shape(comparer: Comparer, examples: dict[str, Article]) -> None:
    data = comparer.compare(examples["chip-deal-en"], examples["chip-deal-de"]).to_dict()
    json.dumps(data)
    assert {"overall", "same_story", "probability", "shared", "aligned_sentences"} <= set(data)
    assert set(data["shared"]) == {"people", "places", "organisations", "dates", "numbers"}
    assert {"a", "b", "similarity"} == set(data["aligned_sentences"][0])


def test_language_no_encoder_knows(comparer: Comparer) -> None:
    tibetan = Article(
        "", "བོད་ཀྱི་སྐད་ཡིག་ནི་བོད་རིགས་ཀྱི་སྐད་ཡིག་ཡིན། ང་ཚོས་དེ་རིང་གསར་འགྱུར་ཀློག་གི་ཡོད།", origin="tibet.txt"
    )
    english = Article("", "The president spoke with his counterpart by telephone.")
    with pytest.raises(CompareError, match=r"tibet\.txt.*no packaged encoder knows language 'bo'"):
        comparer.compare(tibetan, english)
    with pytest.raises(CompareError, match="cannot tell its language"):
        comparer.compare(Article("", "12 345 678", origin="digits.txt"), english)


def test_same_text_with_other_dates_is_prepared_apart(comparer: Comparer) -> None:
    from dataclasses import replace
    from datetime import UTC, datetime

    a = Article("Rail terminal", "The port of Valencia opened a rail terminal.", language="en")
    early = replace(a, published=datetime(2026, 1, 1, tzinfo=UTC))
    late = replace(a, published=datetime(2026, 6, 1, tzinfo=UTC))
    assert comparer.compare(early, late).features["publication_gap"] > 4
    assert comparer.compare(early, early).features["publication_gap"] == 0
