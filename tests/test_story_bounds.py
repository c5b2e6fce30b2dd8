"""Blob resistance: doubtful dates do not stretch a story, spans are bounded, and a large
story is not joined through one member (real example articles, a real store)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from storylink.article import Article
from storylink.cluster import DOUBTS, ClusterParams, date_doubt
from storylink.compare import Comparer
from storylink.demo import example_articles
from storylink.encode import EncoderSet
from storylink.stories import Story, StoryStore

EXAMPLES = {(story, a.language): a for story, a in example_articles()}
QUAKE_DAY = datetime(2026, 3, 14, tzinfo=UTC)


@pytest.fixture(scope="module")
def story_comparer() -> Comparer:
    return Comparer(encoders=EncoderSet(None), compact_vectors=True)


def rewritten(article: Article, published: datetime | None, note: str) -> Article:
    """Another outlet's copy of an article (one sentence more: another id), dated `published`."""
    return Article(
        title=article.title,
        text=f"{article.text}\n\n{note}",
        language=article.language,
        source="another-outlet",
        published=published,
    )


def story_holding(stories: StoryStore, article_id: str) -> Story:
    return next(s for s in stories.stories(limit=100) if article_id in {a.id for a in s.timeline})


def test_date_doubts_need_no_story() -> None:
    now = datetime(2026, 12, 7, tzinfo=UTC).timestamp()
    assert date_doubt(datetime(1970, 1, 1, tzinfo=UTC).timestamp(), now) == DOUBTS[0]
    assert date_doubt(datetime(2031, 5, 1, tzinfo=UTC).timestamp(), now) == DOUBTS[1]
    assert date_doubt(now + 3600, now) is None  # a later time zone, not the future
    assert date_doubt(datetime(1995, 8, 9, tzinfo=UTC).timestamp(), now) is None
    assert date_doubt(None, now) is None


@pytest.mark.parametrize("params", [ClusterParams(), ClusterParams(far_days=0, max_span_days=0)])
def test_one_misdated_article_does_not_stretch_a_story_over_years(
    tmp_path: Path, story_comparer: Comparer, params: ClusterParams
) -> None:
    """The quake story, some of its articles undated (as scraped news often is), then copies
    dated 20 years early (a wrong year), at the Unix epoch (a scraper's default) and years
    ahead: each joins the story it belongs to, none stretches its span (without the far-date
    rule and the span bound, as before issue 17, the wrong year does)."""
    quake = [a for (story, _), a in EXAMPLES.items() if story == "izmir-quake"]
    undated = [replace(a, published=None) if a.language in ("en", "tr") else a for a in quake]
    misdated = {
        "wrong year": rewritten(quake[0], QUAKE_DAY - timedelta(days=365 * 20), "Updated."),
        "epoch": rewritten(quake[0], datetime(1970, 1, 1, tzinfo=UTC), "Corrected."),
        "future": rewritten(quake[0], datetime(2036, 3, 14, tzinfo=UTC), "Edited."),
    }
    with StoryStore(tmp_path / "misdated.db", comparer=story_comparer, params=params) as stories:
        stories.add(undated)
        report = stories.add(misdated.values())
        assert report.joined == 3 and report.new_stories == 0
        story = story_holding(stories, quake[0].id)
        assert {a.id for a in misdated.values()} <= {a.id for a in story.timeline}
        assert story.first_seen is not None and story.last_seen is not None
        if params.far_days:
            assert report.doubtful_dates == 3
            assert story.first_seen > QUAKE_DAY - timedelta(days=1)
            assert story.last_seen < QUAKE_DAY + timedelta(days=1)
        else:  # the epoch and the future are doubtful whatever the story: the wrong year is not
            assert report.doubtful_dates == 2
            assert story.first_seen.year == 2006 and story.last_seen.year == 2026
        # the articles keep their dates as read: nothing is lost, only not trusted
        published = {a.id: a.published for a in story.timeline}
        assert published[misdated["epoch"].id] == datetime(1970, 1, 1, tzinfo=UTC)


def test_a_story_span_is_bounded(tmp_path: Path, story_comparer: Comparer) -> None:
    """A copy of the quake coverage 200 days later (plausible: within a year of the story)
    starts a new story when the story may span at most 100 days, and joins without a bound."""
    quake = [a for (story, _), a in EXAMPLES.items() if story == "izmir-quake"]
    undated = [replace(a, published=None) if a.language == "en" else a for a in quake]
    later = rewritten(quake[0], QUAKE_DAY + timedelta(days=200), "Months on.")
    for bound, joins in ((100.0, False), (0.0, True)):
        params = ClusterParams(max_span_days=bound)
        path = tmp_path / f"span{bound:.0f}.db"
        with StoryStore(path, comparer=story_comparer, params=params) as stories:
            stories.add([*undated, later])
            story = story_holding(stories, quake[0].id)
            assert (later.id in {a.id for a in story.timeline}) is joins
            assert story.first_seen is not None and story.last_seen is not None
            assert (story.last_seen - story.first_seen <= timedelta(days=bound)) is not joins


def test_a_large_story_is_not_joined_through_one_member(
    tmp_path: Path, story_comparer: Comparer
) -> None:
    """The Nile-dam story (6 articles) holds a wire roundup that also carries the Marseille
    dockers' strike. The strike report's nearest article is that roundup, which it matches;
    the story's latest article does not: it starts its own story instead of being swallowed
    (as it is when one member is enough: `combine="max"`, the rule before issue 17)."""
    # the last one in the strike report's encoder space (Arabic, not Persian: e5) is the latest
    nile = [EXAMPLES["nile-summit", language] for language in ("en", "fr", "fa", "es", "ar")]
    strike = EXAMPLES["marseille-strike", "en"]
    roundup = Article(
        title="Wire roundup: Nile dam data deal; Marseille dockers strike",
        text=f"{nile[0].text}\n\n{strike.text}",
        language="en",
        source="wire",
        published=nile[0].published,
    )
    for params, swallowed in ((ClusterParams(), False), (ClusterParams(combine="max"), True)):
        path = tmp_path / f"{params.combine}.db"
        with StoryStore(path, comparer=story_comparer, params=params) as stories:
            stories.add([*nile[:4], roundup, nile[4]])
            assert story_holding(stories, roundup.id).size == 6
            stories.add([strike, EXAMPLES["marseille-strike", "fr"]])
            dam = story_holding(stories, nile[0].id)
            assert (strike.id in {a.id for a in dam.timeline}) is swallowed
            if not swallowed:  # the strike's own coverage stays together
                assert story_holding(stories, strike.id).size == 2


def test_a_story_longer_than_the_bound_still_takes_articles_inside_its_span(
    tmp_path: Path, story_comparer: Comparer
) -> None:
    """A store clustered before the bound holds a story spanning 2006–2026 (a wrong year let
    in); with the bound, an undated copy and a copy dated inside that span still join it (they
    do not stretch it), and the span stays as it was."""
    quake = [a for (story, _), a in EXAMPLES.items() if story == "izmir-quake"]
    undated = [replace(a, published=None) if a.language in ("en", "tr") else a for a in quake]
    wrong_year = rewritten(quake[0], QUAKE_DAY - timedelta(days=365 * 20), "Updated.")
    path = tmp_path / "legacy.db"
    unbounded = ClusterParams(far_days=0, max_span_days=0)
    with StoryStore(path, comparer=story_comparer, params=unbounded) as stories:
        stories.add([*undated, wrong_year])
        assert story_holding(stories, quake[0].id).size == len(quake) + 1
    inside = [
        rewritten(quake[0], None, "Edited."),
        rewritten(quake[0], QUAKE_DAY - timedelta(days=2), "Corrected."),
    ]
    with StoryStore(path, comparer=story_comparer, params=ClusterParams()) as stories:
        report = stories.add(inside)
        story = story_holding(stories, quake[0].id)
        assert report.joined == 2 and {a.id for a in inside} <= {a.id for a in story.timeline}
        assert story.first_seen is not None and story.first_seen.year == 2006
