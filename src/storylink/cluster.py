"""Group a stream of articles into stories, online and across languages.

Each new article is compared with a few candidate stories: those whose articles are its nearest
neighbours in its encoder's space (`Neighbours`), plus, across encoder spaces (e.g. a Greek
article, encoded by e5, against stories told in USE languages), recent stories that share a
name with it. The pair scorer decides against each candidate's representative articles: its
latest article, and the new article's nearest neighbour in the story it belongs to (it helps
an article follow its closest earlier article into a story whose latest article is about
something else); optionally more neighbours or the story's most central articles. Each
probability fades with the time between the two articles compared (stories go cold; an undated
article rules nothing out), and articles outside the time window are neither compared nor make
their story a candidate.
The article joins the best story if its faded probability (the mean over the compared
articles) reaches the threshold, else it starts a new one; candidates are scored nearest first,
and one that is sure (`sure`) is joined without scoring the rest. Same input order, same
stories.

Blob resistance (RESULTS.md, issue 17): a story's probability is the mean over its compared
articles, so one near member cannot carry the article into a story whose latest article
disagrees; a date before web news or after the ingest is doubtful and taken as unknown; a date
far from the story the article joins is doubtful too and does not stretch the story's span,
which is bounded (an article that would stretch it further starts a new story).

Memory follows the time window, not the archive: the clusterer holds the stories and articles
it has touched recently and asks `StoredStories` (the store) for the rest, so opening a store
of any size restores nothing, and `trim` lets cold stories go. Every lookup gives the same
answer from memory or from the store, so what was evicted never changes a decision.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np

from .compare import CompareError, Comparer
from .encode import E5Encoder, unit
from .entities import may_share_names, shared_names
from .features import PreparedArticle

DAY = 86_400.0
WEB_NEWS_SINCE = datetime(1990, 1, 1, tzinfo=UTC).timestamp()  # no news site before it
FUTURE_SLACK = DAY  # time zones and clocks: a day after the ingest is not yet the future


@dataclass(frozen=True)
class ClusterParams:
    """How eagerly articles join stories; every field is a measured default (RESULTS.md)."""

    threshold: float = 0.4  # faded same-story probability needed to join a story
    window_days: float = 90.0  # articles further apart than this are not compared
    half_life_days: float = 180.0  # the probability halves per this many days between articles
    neighbours: int = 30  # nearest articles looked up per new article
    scan_rows: int | None = 4096  # dense months: probe lists until they hold this many rows
    # (the last list probed may overshoot it; None: no budget, `index.PROBES` lists)
    candidates: int = 8  # stories scored per new article
    central: int = 0  # most central articles compared with, besides the story's latest one
    nearest: int = 1  # the article's nearest earlier articles, also compared with directly
    nearest_per_story: int = 0  # each candidate story's members nearest the article, also compared
    combine: str = "mean"  # a story's probability from its compared articles': "max" or "mean"
    member_time: bool = True  # time to the article compared, not to the story's span (False)
    min_cosine: float = 0.35  # neighbours less similar than this do not make a story a candidate
    scan_stories: int = 200  # recent stories checked for shared names across encoder spaces
    across_spaces: int = 2  # of those, stories scored (each may need an e5 encoding: slow)
    across_min_names: int = 2  # names a story must share to be scored across spaces
    across_min_glance: float = 0.8  # e5 cosine of title + lead to the story's headline, too
    sure: float = 0.8  # a candidate reaching this faded probability is joined, the rest unscored
    far_days: float = 365.0  # a date this far outside the span it joins is doubtful (0: never)
    max_span_days: float = 365.0  # no story spans longer (0: unbounded): a new one starts

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClusterParams:
        """Parameters saved by this or another storylink version: unknown names are dropped."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must be strictly between 0 and 1, not {self.threshold}")
        if self.window_days <= 0 or self.half_life_days <= 0:
            raise ValueError("window_days and half_life_days must be positive")
        if min(self.neighbours, self.candidates) < 1:
            raise ValueError("neighbours and candidates must be at least 1")
        if not 0.0 < self.sure <= 1.0:
            raise ValueError(f"sure must be in (0, 1], not {self.sure}")
        if self.scan_rows is not None and self.scan_rows < 1:
            raise ValueError(f"scan_rows must be at least 1 (or None), not {self.scan_rows}")
        if min(self.central, self.nearest, self.nearest_per_story) < 0:
            raise ValueError("central, nearest and nearest_per_story must be at least 0")
        if min(self.far_days, self.max_span_days) < 0:
            raise ValueError("far_days and max_span_days must be at least 0")
        if self.combine not in ("max", "mean"):
            raise ValueError(f"combine must be 'max' or 'mean', not {self.combine!r}")


@dataclass
class ArticleState:
    """What clustering needs to know of an assigned article."""

    story_id: int
    encoder: str
    ts: float | None


@dataclass
class StoryState:
    """What clustering needs to know of a story while it runs."""

    id: int
    members: list[int] = field(default_factory=list)  # article seqs in joining order
    first_ts: float | None = None
    last_ts: float | None = None
    centrality: dict[int, float] = field(default_factory=dict)
    headline: int = 0
    latest: dict[str, int] = field(default_factory=dict)  # encoder space → its latest member

    @property
    def sole_space(self) -> str | None:
        """The encoder space of all members, or None when they span several."""
        return next(iter(self.latest)) if len(self.latest) == 1 else None

    def gap_days(self, ts: float | None) -> float:
        """Days between a time and this story's span (0 inside it or when either is unknown)."""
        if ts is None or self.first_ts is None or self.last_ts is None:
            return 0.0
        if ts < self.first_ts:
            return (self.first_ts - ts) / DAY
        return max(0.0, ts - self.last_ts) / DAY

    def span_days(self, ts: float | None = None) -> float:
        """Days the story spans, or would span with an article at `ts` (0 when undated)."""
        times = [t for t in (self.first_ts, self.last_ts, ts) if t is not None]
        return (max(times) - min(times)) / DAY if times else 0.0

    def overlaps(self, since: float | None, until: float | None) -> bool:
        """Whether the story's span meets [since, until] (an undated story meets anything)."""
        if self.first_ts is None or self.last_ts is None:
            return True
        return (since is None or self.last_ts >= since) and (
            until is None or self.first_ts <= until
        )


@dataclass(frozen=True)
class Decision:
    """Where an article went: its story, whether it started it, the deciding probability, and
    why its date was not trusted (`DOUBTS`), if it was not."""

    seq: int
    story_id: int
    new_story: bool
    probability: float
    compared: int
    date_doubt: str | None = None


DOUBTS = ("before web news", "after the ingest", "far from its story")


def date_doubt(ts: float | None, now: float) -> str | None:
    """Why a publication time cannot be right whatever the story: before 1990 (no web news
    then: a scraper's default or a misread field) or later than the ingest (`now`)."""
    if ts is None:
        return None
    if ts < WEB_NEWS_SINCE:
        return DOUBTS[0]
    return DOUBTS[1] if ts > now + FUTURE_SLACK else None


Neighbours = Callable[[str, np.ndarray, int, float | None, float | None], list[tuple[int, float]]]
Loader = Callable[[Sequence[int]], dict[int, PreparedArticle]]


class StoredStories(Protocol):
    """The assigned articles and stories a clusterer does not hold in memory (the store)."""

    def article_states(self, seqs: Sequence[int]) -> dict[int, ArticleState]: ...
    def story_state(self, story_id: int) -> StoryState | None: ...
    def documents(self, seqs: Sequence[int]) -> dict[int, np.ndarray]: ...
    def recent_sole_space(
        self, other_than: str, since: float | None, until: float | None, limit: int
    ) -> list[tuple[int, int, float | None]]:
        """(id, headline seq, last time) of stories told only in an encoder space other than
        `other_than` whose span meets [since, until], most recent first."""
        ...


class OnlineClusterer:
    """Assigns articles to stories one at a time; `assign` is the whole algorithm.

    `neighbours(encoder, vector, k, since, until)` gives the (seq, cosine) of earlier articles
    with that home encoder published in [since, until] or undated; `load(seqs)` gives earlier
    articles' analyses (a new article's all at once: one store query, not one each); `stored`
    (optional) gives what was assigned before this clusterer started. All three are the
    caller's (the story store keeps the index, a cache and the database), so this module needs
    no database. Without `stored` everything stays in memory.
    """

    def __init__(
        self,
        comparer: Comparer,
        neighbours: Neighbours,
        load: Loader,
        params: ClusterParams | None = None,
        next_story_id: int = 1,
        stored: StoredStories | None = None,
    ) -> None:
        self.comparer = comparer
        self.neighbours = neighbours
        self.load = load
        self.params = params or ClusterParams()
        self.stored = stored
        self.stories: OrderedDict[int, StoryState] = OrderedDict()  # least recently used first
        self.articles: dict[int, ArticleState] = {}
        self.document: dict[int, np.ndarray] = {}
        self.sole: dict[str, set[int]] = {}  # encoder → stories in memory all in its space
        self.dirty: set[int] = set()  # stories changed since `committed`
        self.next_story_id = next_story_id

    def assign(
        self, seq: int, encoder: str, prepared: PreparedArticle, now: float | None = None
    ) -> Decision:
        """Put one article into the best story, or a new one; returns the decision. `now`:
        when the article was ingested (default: now), for dates in the future."""
        published = prepared.article.published.timestamp() if prepared.article.published else None
        doubt = date_doubt(published, time.time() if now is None else now)
        ts = None if doubt else published  # a doubtful date rules nothing in or out
        document = prepared.vectors[encoder].document_vector
        params = self.params
        best_story, best_probability, compared = None, 0.0, 0
        for story, gaps, loaded in self._planned(encoder, document, ts, prepared):
            if self._too_long(story, ts):
                continue
            probabilities = []
            for rep, gap in gaps.items():
                try:
                    probability = self.comparer.probability(prepared, loaded[rep])
                except CompareError:
                    continue
                compared += 1
                probabilities.append(probability * self._fade(gap))
            if not probabilities:
                continue
            combined = (
                max(probabilities) if params.combine == "max" else float(np.mean(probabilities))
            )
            probability = (
                combined if params.member_time else combined * self._fade(story.gap_days(ts))
            )
            if probability > best_probability:
                best_story, best_probability = story, probability
            if best_probability >= params.sure:
                break
        new_story = best_story is None or best_probability < self.params.threshold
        if new_story:
            best_story = self._new_story(self.next_story_id)
        assert best_story is not None
        if doubt is None and self._far(best_story, ts):
            doubt = DOUBTS[2]
        self._join(best_story, seq, encoder, document, published, span=doubt is None)
        return Decision(seq, best_story.id, new_story, best_probability, compared, doubt)

    def _planned(
        self, encoder: str, document: np.ndarray, ts: float | None, prepared: PreparedArticle
    ) -> Iterator[tuple[StoryState, dict[int, float], dict[int, PreparedArticle]]]:
        """Each candidate story in scoring order with its representatives' gaps and the
        loaded analyses of its group (one store query a group). Lazy: a caller that stops
        (a sure join) never looks for, or loads, the groups after."""
        for group in self._candidate_groups(encoder, document, ts, prepared):
            planned = [self._plan(story_id, near, encoder, ts) for story_id, near in group]
            loaded = self.load(list(dict.fromkeys(r for _, g in planned for r in g)))
            for story, gaps in planned:
                yield story, gaps, loaded

    def _plan(
        self, story_id: int, near: list[int], encoder: str, ts: float | None
    ) -> tuple[StoryState, dict[int, float]]:
        """A candidate story and its representatives in the window, with their gaps in days:
        made only when the story's group is reached (`_planned`)."""
        story = self._story(story_id)
        gaps = {
            rep: self._gap_days(rep, ts) if self.params.member_time else 0.0
            for rep in self._representatives(story, encoder, near)
        }
        return story, {rep: gap for rep, gap in gaps.items() if gap <= self.params.window_days}

    def _far(self, story: StoryState, ts: float | None) -> bool:
        """Whether a date lies so far outside the story's span that it must be wrong."""
        return 0 < self.params.far_days < story.gap_days(ts)

    def _too_long(self, story: StoryState, ts: float | None) -> bool:
        """Whether joining would stretch the story beyond the longest span allowed (an article
        inside the span, undated or dated far from the story does not stretch it: `_far`)."""
        limit = self.params.max_span_days
        stretches = story.gap_days(ts) > 0 and not self._far(story, ts)
        return stretches and 0 < limit < story.span_days(ts)

    # ---------------------------------------------------------------- memory

    def committed(self) -> None:
        """What is in memory is now in the store too: any of it may be evicted."""
        self.dirty.clear()

    def trim(self, max_articles: int) -> None:
        """Let the least recently used stored stories go until their members fit
        `max_articles` (only with `stored`: without it memory is the only copy)."""
        if self.stored is None:
            return
        for story_id in list(self.stories):
            if len(self.articles) <= max_articles:
                break
            if story_id in self.dirty:
                continue
            story = self.stories.pop(story_id)
            for members in self.sole.values():
                members.discard(story_id)
            for seq in story.members:
                self.articles.pop(seq, None)
                self.document.pop(seq, None)
        if len(self.articles) > max_articles:  # neighbours looked up whose stories never were
            held = {seq for story in self.stories.values() for seq in story.members}
            for seq in [s for s in self.articles if s not in held]:
                del self.articles[seq]

    def _article_states(self, seqs: Iterable[int]) -> dict[int, ArticleState]:
        wanted = list(seqs)
        missing = [seq for seq in wanted if seq not in self.articles]
        if missing and self.stored is not None:
            self.articles.update(self.stored.article_states(missing))
        return {seq: self.articles[seq] for seq in wanted if seq in self.articles}

    def _story(self, story_id: int) -> StoryState:
        story = self.stories.get(story_id)
        if story is None:
            assert self.stored is not None, f"story {story_id} is neither in memory nor stored"
            loaded = self.stored.story_state(story_id)
            assert loaded is not None, f"story {story_id} is not stored"
            story = self.stories[story_id] = loaded
            if story.sole_space:
                self.sole.setdefault(story.sole_space, set()).add(story.id)
        self.stories.move_to_end(story_id)
        return story

    def _documents(self, seqs: Sequence[int]) -> list[np.ndarray]:
        missing = [seq for seq in seqs if seq not in self.document]
        if missing and self.stored is not None:
            self.document.update(self.stored.documents(missing))
        return [self.document[seq] for seq in seqs]

    # ---------------------------------------------------------------- the algorithm

    def _fade(self, gap_days: float) -> float:
        return float(0.5 ** (gap_days / self.params.half_life_days))

    def _window(self, ts: float | None) -> tuple[float | None, float | None]:
        """The publication times an article at `ts` is compared with (any, when undated)."""
        if ts is None:
            return None, None
        window = self.params.window_days * DAY
        return ts - window, ts + window

    def _gap_days(self, seq: int, ts: float | None) -> float:
        """Days between a time and an earlier article's (0 when either is unknown)."""
        state = self._article_states([seq]).get(seq)
        other = state.ts if state else None
        return 0.0 if ts is None or other is None else abs(ts - other) / DAY

    def _candidate_groups(
        self, encoder: str, document: np.ndarray, ts: float | None, prepared: PreparedArticle
    ) -> Iterator[list[tuple[int, list[int]]]]:
        """Stories worth scoring (ids, each with its members among the neighbours), in the
        order they are scored and in groups whose analyses are loaded together: the nearest
        story, the other near neighbours' stories, then name-sharing ones across encoder
        spaces. A group is looked for only if the ones before did not settle the article
        (`ClusterParams.sure`), so a sure join skips the scan across spaces."""
        near = self._near_stories(encoder, document, ts)
        yield near[:1]
        yield near[1:]
        yield self._across_spaces(encoder, ts, prepared)

    def _near_stories(
        self, encoder: str, document: np.ndarray, ts: float | None
    ) -> list[tuple[int, list[int]]]:
        """The stories of the article's near neighbours, nearest first, each with its members
        among the neighbours to compare with."""
        params = self.params
        since, until = self._window(ts)
        if not params.member_time:
            since, until = None, None  # the story's span decides, below
        found = self.neighbours(encoder, document, params.neighbours, since, until)
        states = self._article_states(seq for seq, _ in found)
        best: dict[int, float] = {}
        near: dict[int, list[int]] = {}  # per story, its neighbours to compare with
        taken = 0
        for seq, cosine in sorted(found, key=lambda item: (-item[1], item[0])):
            state = states.get(seq)
            if cosine < params.min_cosine or state is None:
                continue
            if params.member_time:
                if self._gap_days(seq, ts) > params.window_days:
                    continue
            elif self._story(state.story_id).gap_days(ts) > params.window_days:
                continue
            best[state.story_id] = max(best.get(state.story_id, -1.0), cosine)
            members = near.setdefault(state.story_id, [])
            if taken < params.nearest or len(members) < params.nearest_per_story:
                members.append(seq)
            taken += 1
        ranked = sorted(best, key=lambda s: (-best[s], s))[: params.candidates]
        return [(s, near[s]) for s in ranked]

    def _across_spaces(
        self, encoder: str, ts: float | None, prepared: PreparedArticle
    ) -> list[tuple[int, list[int]]]:
        """Recent stories told only in other encoder spaces that share enough names with the
        article (and pass the e5 glance), most names first; no neighbours to compare with."""
        params = self.params
        shared = []
        elsewhere = self._elsewhere(encoder, ts)
        headlines = self.load([headline for _, headline in elsewhere])
        for story_id, headline in elsewhere:
            names = headlines[headline].names
            if not may_share_names(prepared.names, names):
                continue
            count = len(shared_names(prepared.names, names))
            if count < params.across_min_names:
                continue
            if self._glanced(prepared, encoder, headlines[headline]):
                shared.append((count, story_id))
        shared.sort(key=lambda item: (-item[0], item[1]))
        return [(story_id, []) for _, story_id in shared[: params.across_spaces]]

    def _elsewhere(self, encoder: str, ts: float | None) -> list[tuple[int, int]]:
        """(id, headline) of the most recent stories within the window told only in other
        encoder spaces, which this encoder's index cannot see."""
        params = self.params
        since, until = self._window(ts)
        found: dict[int, tuple[int, float | None]] = {}  # id → headline, last time
        if self.stored is not None:
            for story_id, headline, last in self.stored.recent_sole_space(
                encoder, since, until, params.scan_stories
            ):
                found[story_id] = (headline, last)
        for space, ids in self.sole.items():
            if space != encoder:
                for story_id in ids if self.stored is None else ids & self.dirty:
                    found[story_id] = (0, None)  # memory is newer than the store: see below
        for story_id in list(found):
            story = self.stories.get(story_id)
            if story is None:
                continue
            if story.sole_space in (None, encoder) or not story.overlaps(since, until):
                del found[story_id]  # changed in memory since the store last saw it
            else:
                found[story_id] = (story.headline, story.last_ts)
        ranked = sorted(found, key=lambda s: (found[s][1] is None, -(found[s][1] or 0.0), -s))
        return [(story_id, found[story_id][0]) for story_id in ranked[: params.scan_stories]]

    def _glanced(self, prepared: PreparedArticle, encoder: str, headline: PreparedArticle) -> bool:
        """Whether an article's e5 title + lead (two short texts) is close enough to an e5
        story headline's document to be worth encoding the article whole with e5 (~1 s of CPU)
        and scoring it: every same-story dev pair sharing two names passes 0.8 (lowest 0.817),
        and most unrelated ones do not (RESULTS.md "Per-article cost in dense windows")."""
        other = headline.vectors.get(E5Encoder.name)
        # the home encoder, not the vectors the article holds: those depend on what it was
        # compared with before (a story scored first, a reload with saved extra vectors)
        if other is None or encoder == E5Encoder.name:  # nothing to encode
            return True
        glance = self.comparer.glance_vectors(prepared).document_vector
        return float(glance @ other.document_vector) >= self.params.across_min_glance

    def _new_story(self, story_id: int) -> StoryState:
        story = self.stories[story_id] = StoryState(story_id)
        self.next_story_id = max(self.next_story_id, story_id + 1)
        return story

    def _representatives(self, story: StoryState, encoder: str, near: list[int]) -> list[int]:
        """The story's members that are among the new article's nearest neighbours (`near`),
        its latest article (in the new article's encoder space when it has one, so no second
        encoder must run) and, if asked, its most central ones."""
        # per candidate of every new article: no sort or full scan of a large story unless asked
        central = []
        if self.params.central:
            ranked = sorted(story.members, key=lambda m: (-story.centrality.get(m, 0.0), m))
            central = ranked[: self.params.central]
        latest = story.latest.get(encoder, story.members[-1])
        return list(dict.fromkeys([*near, *central, latest]))

    def _join(
        self,
        story: StoryState,
        seq: int,
        encoder: str,
        document: np.ndarray,
        ts: float | None,
        span: bool = True,
    ) -> None:
        """Add an article to a story; its time stretches the story's span only if `span` (it
        is kept as read for the article, as the store and the index keep it)."""
        before = story.sole_space
        story.members.append(seq)
        story.latest[encoder] = seq
        if ts is not None and span:
            story.first_ts = ts if story.first_ts is None else min(story.first_ts, ts)
            story.last_ts = ts if story.last_ts is None else max(story.last_ts, ts)
        if before != story.sole_space:
            if before is not None:
                self.sole[before].discard(story.id)
            if story.sole_space is not None:
                self.sole.setdefault(story.sole_space, set()).add(story.id)
        self.articles[seq] = ArticleState(story.id, encoder, ts)
        self.document[seq] = document
        self.dirty.add(story.id)
        self.stories.move_to_end(story.id)
        self._update_centrality(story)

    def _update_centrality(self, story: StoryState) -> None:
        """Cosine of each member to its encoder space's centroid; the headline is the top one
        in the space holding most members."""
        by_space: dict[str, list[int]] = {}
        states = self._article_states(story.members)
        for seq in story.members:
            by_space.setdefault(states[seq].encoder, []).append(seq)
        for members in by_space.values():
            matrix = np.vstack(self._documents(members))
            values = matrix @ unit(matrix.mean(axis=0))
            story.centrality.update(zip(members, values.tolist(), strict=True))
        story.headline = headline_of(by_space, story.centrality)


def headline_of(by_space: dict[str, list[int]], centrality: dict[int, float]) -> int:
    """A story's headline: its most central member in the encoder space holding most members
    (`by_space`: members in ingestion order per encoder)."""
    main = max(by_space.values(), key=lambda members: (len(members), -members[0]))
    return max(main, key=lambda m: (centrality[m], -m))
