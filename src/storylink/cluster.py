"""Group a stream of articles into stories, online and across languages.

Each new article is compared with a few candidate stories: those whose articles are its nearest
neighbours in its encoder's space (`Neighbours`), plus, across encoder spaces (e.g. a Greek
article, encoded by e5, against stories told in USE languages), recent stories that share a
name with it. The pair scorer decides against each candidate's representative articles: its
latest article, and the new article's nearest neighbour in the story it belongs to (so an
article follows its closest earlier article even into a large story whose latest article is
about something else); optionally more neighbours or the story's most central articles. Each
probability fades with the time between the two articles compared (stories go cold; an undated
article rules nothing out), and articles outside the time window are neither compared nor make
their story a candidate.
The article joins the best story if its faded probability reaches the threshold, else it
starts a new one. Same input order, same stories.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from .compare import CompareError, Comparer
from .encode import unit
from .entities import shared_names
from .features import PreparedArticle

DAY = 86_400.0


@dataclass(frozen=True)
class ClusterParams:
    """How eagerly articles join stories; every field is a measured default (RESULTS.md)."""

    threshold: float = 0.4  # faded same-story probability needed to join a story
    window_days: float = 90.0  # articles further apart than this are not compared
    half_life_days: float = 180.0  # the probability halves per this many days between articles
    neighbours: int = 30  # nearest articles looked up per new article
    candidates: int = 8  # stories scored per new article
    central: int = 0  # most central articles compared with, besides the story's latest one
    nearest: int = 1  # the article's nearest earlier articles, also compared with directly
    nearest_per_story: int = 0  # each candidate story's members nearest the article, also compared
    combine: str = "max"  # a story's probability from its compared articles': "max" or "mean"
    member_time: bool = True  # time to the article compared, not to the story's span (False)
    min_cosine: float = 0.35  # neighbours less similar than this do not make a story a candidate
    scan_stories: int = 200  # recent stories checked for shared names across encoder spaces
    across_spaces: int = 2  # of those, stories scored (each may need an e5 encoding: slow)
    across_min_names: int = 2  # names a story must share to be scored across spaces

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
        if min(self.central, self.nearest, self.nearest_per_story) < 0:
            raise ValueError("central, nearest and nearest_per_story must be at least 0")
        if self.combine not in ("max", "mean"):
            raise ValueError(f"combine must be 'max' or 'mean', not {self.combine!r}")


@dataclass
class StoryState:
    """What clustering needs to know of a story while it runs."""

    id: int
    members: list[int] = field(default_factory=list)  # article seqs in joining order
    first_ts: float | None = None
    last_ts: float | None = None
    centrality: dict[int, float] = field(default_factory=dict)
    headline: int = 0

    def gap_days(self, ts: float | None) -> float:
        """Days between a time and this story's span (0 inside it or when either is unknown)."""
        if ts is None or self.first_ts is None or self.last_ts is None:
            return 0.0
        if ts < self.first_ts:
            return (self.first_ts - ts) / DAY
        return max(0.0, ts - self.last_ts) / DAY


@dataclass(frozen=True)
class Decision:
    """Where an article went: its story, whether it started it, and the deciding probability."""

    seq: int
    story_id: int
    new_story: bool
    probability: float
    compared: int


Neighbours = Callable[[str, np.ndarray, int], list[tuple[int, float]]]
Loader = Callable[[int], PreparedArticle]


class OnlineClusterer:
    """Assigns articles to stories one at a time; `assign` is the whole algorithm.

    `neighbours(encoder, vector, k)` gives the (seq, cosine) of earlier articles with that home
    encoder; `load(seq)` gives an earlier article's analysis. Both are the caller's (the story
    store keeps an index and a cache), so this module needs no database.
    """

    def __init__(
        self,
        comparer: Comparer,
        neighbours: Neighbours,
        load: Loader,
        params: ClusterParams | None = None,
        next_story_id: int = 1,
    ) -> None:
        self.comparer = comparer
        self.neighbours = neighbours
        self.load = load
        self.params = params or ClusterParams()
        self.stories: dict[int, StoryState] = {}
        self.story_of: dict[int, int] = {}
        self.encoder_of: dict[int, str] = {}
        self.time_of: dict[int, float | None] = {}
        self.document: dict[int, np.ndarray] = {}
        self.lacking: dict[str, set[int]] = {}  # encoder → stories with no member encoded by it
        self.next_story_id = next_story_id

    def restore(
        self, seq: int, encoder: str, document: np.ndarray, ts: float | None, story_id: int
    ) -> None:
        """Re-enter an already assigned article (when resuming from a store)."""
        story = self.stories.get(story_id) or self._new_story(story_id)
        self._join(story, seq, encoder, document, ts, update_centrality=False)

    def finish_restore(self) -> None:
        for story in self.stories.values():
            self._update_centrality(story)

    def assign(self, seq: int, encoder: str, prepared: PreparedArticle) -> Decision:
        """Put one article into the best story, or a new one; returns the decision."""
        ts = prepared.article.published.timestamp() if prepared.article.published else None
        document = prepared.vectors[encoder].document_vector
        params = self.params
        best_story, best_probability, compared = None, 0.0, 0
        for story, near in self._candidates(encoder, document, ts, prepared):
            probabilities = []
            for rep in self._representatives(story, encoder, near):
                gap = self._gap_days(rep, ts) if params.member_time else 0.0
                if gap > params.window_days:
                    continue
                try:
                    probability = self.comparer.probability(prepared, self.load(rep))
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
        new_story = best_story is None or best_probability < self.params.threshold
        if new_story:
            best_story = self._new_story(self.next_story_id)
        assert best_story is not None
        self._join(best_story, seq, encoder, document, ts)
        return Decision(seq, best_story.id, new_story, best_probability, compared)

    def _fade(self, gap_days: float) -> float:
        return float(0.5 ** (gap_days / self.params.half_life_days))

    def _gap_days(self, seq: int, ts: float | None) -> float:
        """Days between a time and an earlier article's (0 when either is unknown)."""
        other = self.time_of.get(seq)
        return 0.0 if ts is None or other is None else abs(ts - other) / DAY

    def _candidates(
        self, encoder: str, document: np.ndarray, ts: float | None, prepared: PreparedArticle
    ) -> list[tuple[StoryState, list[int]]]:
        """Stories worth scoring, each with its members among the neighbours (nearest first):
        near neighbours' stories, then name-sharing ones elsewhere (no neighbours)."""
        params = self.params
        best: dict[int, float] = {}
        near: dict[int, list[int]] = {}  # per story, its neighbours to compare with
        taken = 0
        found = self.neighbours(encoder, document, params.neighbours)
        for seq, cosine in sorted(found, key=lambda item: (-item[1], item[0])):
            story_id = self.story_of.get(seq)
            if cosine < params.min_cosine or story_id is None:
                continue
            if params.member_time:
                if self._gap_days(seq, ts) > params.window_days:
                    continue
            elif self.stories[story_id].gap_days(ts) > params.window_days:
                continue
            best[story_id] = max(best.get(story_id, -1.0), cosine)
            members = near.setdefault(story_id, [])
            if taken < params.nearest or len(members) < params.nearest_per_story:
                members.append(seq)
            taken += 1
        ranked = sorted(best, key=lambda s: (-best[s], s))[: params.candidates]
        chosen = [(self.stories[s], near[s]) for s in ranked]
        # stories with no member in this encoder's space are invisible to its index
        unseen = self.lacking.setdefault(encoder, set(self.stories))
        recent = sorted((self.stories[s] for s in unseen), key=_recency)[: params.scan_stories]
        elsewhere = [story for story in recent if story.gap_days(ts) <= params.window_days]
        shared = []
        for story in elsewhere:
            count = len(shared_names(prepared.names, self.load(story.headline).names))
            if count >= params.across_min_names:
                shared.append((count, story))
        shared.sort(key=lambda item: (-item[0], item[1].id))
        return chosen + [(story, []) for _, story in shared[: params.across_spaces]]

    def _new_story(self, story_id: int) -> StoryState:
        story = self.stories[story_id] = StoryState(story_id)
        self.next_story_id = max(self.next_story_id, story_id + 1)
        for unseen in self.lacking.values():
            unseen.add(story_id)
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
        same_space = (m for m in reversed(story.members) if self.encoder_of[m] == encoder)
        latest = next(same_space, story.members[-1])
        return list(dict.fromkeys([*near, *central, latest]))

    def _join(
        self,
        story: StoryState,
        seq: int,
        encoder: str,
        document: np.ndarray,
        ts: float | None,
        update_centrality: bool = True,
    ) -> None:
        story.members.append(seq)
        self.lacking.setdefault(encoder, set(self.stories)).discard(story.id)
        if ts is not None:
            story.first_ts = ts if story.first_ts is None else min(story.first_ts, ts)
            story.last_ts = ts if story.last_ts is None else max(story.last_ts, ts)
        self.story_of[seq] = story.id
        self.encoder_of[seq] = encoder
        self.time_of[seq] = ts
        self.document[seq] = document
        if update_centrality:
            self._update_centrality(story)

    def _update_centrality(self, story: StoryState) -> None:
        """Cosine of each member to its encoder space's centroid; the headline is the top one
        in the space holding most members."""
        by_space: dict[str, list[int]] = {}
        for seq in story.members:
            by_space.setdefault(self.encoder_of[seq], []).append(seq)
        for members in by_space.values():
            matrix = np.vstack([self.document[m] for m in members])
            values = matrix @ unit(matrix.mean(axis=0))
            story.centrality.update(zip(members, values.tolist(), strict=True))
        main = max(by_space.values(), key=lambda members: (len(members), -members[0]))
        story.headline = max(main, key=lambda m: (story.centrality[m], -m))


def _recency(story: StoryState) -> tuple[float, int]:
    last = story.last_ts if story.last_ts is not None else -math.inf
    return (-last, -story.id)
