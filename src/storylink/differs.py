"""What one article reports that another does not: its sentences without a counterpart.

Alignment (`compare.align`) shows where two articles agree; this shows where coverage
diverges. A sentence has no counterpart when no sentence of the other article reaches the
encoder's alignment threshold — read off the similarity matrix the pair was scored with,
so nothing is encoded again. The sentences shown are those furthest from the other side and
central to their own article (see `unmatched`), kept in the order the article tells them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .encode import ArticleVectors

if TYPE_CHECKING:
    from .stories import Story, StoryStore

MAX_UNMATCHED = 5  # sentences shown per side; the total says how many there are
MAX_PER_LANGUAGE = 3  # sentences a story page shows per language
MAX_STORY_ARTICLES = 200  # articles a story page reads vectors of (the earliest first)


@dataclass(frozen=True)
class UnmatchedSentence:
    """A sentence with no counterpart on the other side."""

    text: str
    position: int  # its index among the article's sentences
    closest: float  # its highest similarity to any sentence of the other side


@dataclass(frozen=True)
class Unmatched:
    """One side's sentences without a counterpart: the most distinct few, and how many in all."""

    language: str = ""
    sentences: list[UnmatchedSentence] = field(default_factory=list)
    total: int = 0

    def caption(self) -> str:
        """E.g. "7 sentences without a counterpart on the other side, 5 shown"."""
        noun = "sentence" if self.total == 1 else "sentences"
        shown = len(self.sentences)
        tail = "" if shown == self.total else f", {shown} shown"
        return f"{self.total} {noun} without a counterpart on the other side{tail}"

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape used by `storylink compare --json` and the API."""
        return {
            "language": self.language,
            "total": self.total,
            "sentences": [
                {"text": s.text, "position": s.position, "closest": round(s.closest, 3)}
                for s in self.sentences
            ],
        }


def unmatched(
    similarity: np.ndarray,
    sentences: Sequence[str],
    threshold: float,
    language: str = "",
    limit: int = MAX_UNMATCHED,
    centrality: np.ndarray | None = None,
) -> Unmatched:
    """Sentences of the rows of `similarity` (rows: `sentences`; columns: the other side's
    sentences) whose best similarity stays below `threshold`; `limit` of them, in order: those
    farthest from the other side, less how central each is to its own article (`centrality`,
    its cosine with the article's document vector) so that credits and captions — far from
    everything — do not crowd out what the article reports."""
    # nothing on the other side (no sentences): every sentence is its own
    empty = similarity.shape[1] == 0
    closest = np.full(len(sentences), -1.0) if empty else similarity.max(axis=1)
    lonely = np.flatnonzero(closest < threshold)
    rank = closest if centrality is None else closest - centrality
    telling = lonely[np.argsort(rank[lonely], kind="stable")[:limit]]
    shown = [UnmatchedSentence(sentences[i], int(i), float(closest[i])) for i in sorted(telling)]
    return Unmatched(language, shown, len(lonely))


def centrality(vectors: ArticleVectors) -> np.ndarray:
    """Each sentence's cosine with its article's document vector: how central it is there."""
    central: np.ndarray = vectors.sentence_vectors @ vectors.document_vector
    return central


def both_sides(
    similarity: np.ndarray,
    a: ArticleVectors,
    b: ArticleVectors,
    threshold: float,
    languages: tuple[str, str] = ("", ""),
) -> tuple[Unmatched, Unmatched]:
    """What only A reports and what only B reports, from one A×B similarity matrix."""
    return (
        unmatched(similarity, a.sentences, threshold, languages[0], centrality=centrality(a)),
        unmatched(similarity.T, b.sentences, threshold, languages[1], centrality=centrality(b)),
    )


@dataclass(frozen=True)
class StorySentence:
    """A sentence of one of a story's articles that its headline article does not report."""

    text: str
    article: str  # the article's id
    title: str
    closest: float  # highest similarity to any sentence of the headline article


@dataclass(frozen=True)
class LanguageDivergence:
    """What a story's articles in one language report beyond its headline article."""

    language: str
    articles: int  # articles of this language compared with the headline article
    total: int  # their sentences without a counterpart there
    sentences: list[StorySentence]  # the most telling few (see `unmatched`), none repeated


def beyond_headline(
    vectors: Mapping[str, ArticleVectors],
    headline: str,
    languages: Mapping[str, str],
    titles: Mapping[str, str],
    threshold: float,
    limit: int = MAX_PER_LANGUAGE,
) -> list[LanguageDivergence]:
    """Per language, the sentences of a story's articles (`vectors` by article id, all from the
    headline article's encoder) with no counterpart in the `headline` article."""
    home = vectors[headline].sentence_vectors

    def closest(article: str, position: int) -> float:
        return float((home @ vectors[article].sentence_vectors[position]).max(initial=-1.0))

    found: dict[str, list[tuple[float, str, int]]] = {}
    counts: dict[str, int] = {}
    for article, article_vectors in vectors.items():
        if article == headline:
            continue
        language = languages[article]
        counts[language] = counts.get(language, 0) + 1
        central = centrality(article_vectors)
        side = unmatched(
            article_vectors.sentence_vectors @ home.T,
            article_vectors.sentences,
            threshold,
            limit=len(article_vectors.sentences),
        )
        found.setdefault(language, []).extend(
            (s.closest - central[s.position], article, s.position) for s in side.sentences
        )
    divergences = []
    for language, candidates in found.items():
        shown: list[tuple[str, int]] = []
        for _, article, position in sorted(candidates):
            if len(shown) == limit:
                break
            vector = vectors[article].sentence_vectors[position]
            if all(vectors[a].sentence_vectors[p] @ vector < threshold for a, p in shown):
                shown.append((article, position))  # not a repeat of a sentence already shown
        sentences = [
            StorySentence(vectors[a].sentences[p], a, titles[a], float(closest(a, p)))
            for a, p in shown
        ]
        divergences.append(
            LanguageDivergence(language, counts[language], len(candidates), sentences)
        )
    return divergences


@dataclass(frozen=True)
class StoryDivergence:
    """What a story's articles report beyond its headline article, by language."""

    languages: list[LanguageDivergence] = field(default_factory=list)
    left_out: int = 0  # articles whose vectors come from another encoder than the headline's


def story_divergence(stories: StoryStore, story: Story) -> StoryDivergence:
    """What a story's articles report that its headline article does not, per language, from
    the sentence vectors the store keeps (no encoding). Articles whose vectors come from
    another encoder than the headline article's cannot be compared and are left out."""
    members = story.timeline[:MAX_STORY_ARTICLES]
    if not any(a.id == story.headline_article for a in members):
        members = [*members[:-1], *(a for a in story.timeline if a.id == story.headline_article)]
    prepared = stories.store.prepared([a.seq for a in members])
    by_id = {a.id: prepared[a.seq] for a in members if a.seq in prepared}
    thresholds = stories.comparer.scorer.align_thresholds
    head = by_id.get(story.headline_article)
    encoder = next((e for e in head.vectors if e in thresholds), None) if head else None
    if head is None or encoder is None:
        return StoryDivergence()
    vectors = {i: p.vectors[encoder] for i, p in by_id.items() if encoder in p.vectors}
    languages = {a.id: a.language for a in members}
    titles = {a.id: a.title or a.origin for a in members}
    found = beyond_headline(vectors, story.headline_article, languages, titles, thresholds[encoder])
    by_language = {d.language: d for d in found}
    in_order = [by_language[lang] for lang in story.languages if lang in by_language]
    return StoryDivergence(in_order, len(members) - len(vectors))
