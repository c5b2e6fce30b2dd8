"""Compare two articles in any languages: a SemEval-2022 Task 8 score with its reasons.

The score is a linear rule over a few interpretable features (document cosine, sentence
alignment, shared names, dates and numbers), fitted on labelled pairs by
`benchmarks/fit_rule.py` and shipped as `data/rule.json` (see `rule.py`).
Scale: 1 = very similar … 4 = very dissimilar, as annotated in SemEval-2022 Task 8;
"same story" means Overall ≤ 2.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from .article import Article
from .dates import (
    DateMention,
    NumberMention,
    SharedValue,
    find_dates,
    find_numbers,
    shared_dates,
    shared_numbers,
)
from .encode import ArticleVectors, Encoder, EncoderSet, default_encoders
from .entities import EntityProfile, Gazetteer, SharedName, default_gazetteer, profile, shared_names
from .language import UNDETERMINED, with_language
from .rule import ScoringRule, default_rule

MAX_ALIGNED = 6


class CompareError(ValueError):
    """Two articles cannot be compared (e.g. a language no encoder knows)."""


@dataclass(frozen=True)
class AlignedSentence:
    """Two sentences, one from each article, that say the same thing."""

    a: str
    b: str
    similarity: float


@dataclass(frozen=True)
class Explanation:
    """Why two articles are (or are not) one story: what they share."""

    people: list[SharedName] = field(default_factory=list)
    places: list[SharedName] = field(default_factory=list)
    organisations: list[SharedName] = field(default_factory=list)
    dates: list[SharedValue] = field(default_factory=list)
    numbers: list[SharedValue] = field(default_factory=list)
    aligned_sentences: list[AlignedSentence] = field(default_factory=list)
    sentences_a: int = 0
    sentences_b: int = 0
    sentences_with_counterpart: int = 0

    def summary(self) -> str:
        """The explanation in a few plain words."""
        parts = []
        for title, items in (
            ("same people", self.people),
            ("same places", self.places),
            ("same organisations", self.organisations),
            ("dates agree", self.dates),
            ("same numbers", self.numbers),
        ):
            if items:
                parts.append(f"{title}: {', '.join(i.label for i in items[:6])}")
        if self.sentences_with_counterpart:
            parts.append(self.alignment_summary())
        return "; ".join(parts) or "nothing in common found"

    def alignment_summary(self) -> str:
        """How much of the two articles says the same thing."""
        return (
            f"{self.sentences_with_counterpart} sentence pairs say the same thing "
            f"(A has {self.sentences_a} sentences, B {self.sentences_b})"
        )


@dataclass(frozen=True)
class PairScore:
    """How alike two articles are on the SemEval scale, with the verdict and its reasons."""

    overall: float
    same_story: bool
    probability: float
    language_a: str
    language_b: str
    encoder: str
    explanation: Explanation
    features: dict[str, float]
    article_a: str = ""
    article_b: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of `storylink compare --json`."""
        ex = self.explanation
        return {
            "overall": round(self.overall, 3),
            "same_story": self.same_story,
            "probability": round(self.probability, 3),
            "languages": [self.language_a, self.language_b],
            "articles": [self.article_a, self.article_b],
            "encoder": self.encoder,
            "summary": ex.summary(),
            "shared": {
                kind: [asdict(item) for item in getattr(ex, kind)]
                for kind in ("people", "places", "organisations", "dates", "numbers")
            },
            "aligned_sentences": [
                {"a": s.a, "b": s.b, "similarity": round(s.similarity, 3)}
                for s in ex.aligned_sentences
            ],
            "sentences": {
                "a": ex.sentences_a,
                "b": ex.sentences_b,
                "with_counterpart": ex.sentences_with_counterpart,
            },
            "features": {k: round(v, 4) for k, v in self.features.items()},
        }


@dataclass
class PreparedArticle:
    """An article with everything comparison needs, computed once per article."""

    article: Article
    names: EntityProfile
    dates: list[DateMention]
    numbers: list[NumberMention]
    vectors: dict[str, ArticleVectors] = field(default_factory=dict)

    @property
    def language(self) -> str:
        return self.article.language or UNDETERMINED


SAME_STORY_THRESHOLD = 0.5


def _cosine(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.dot(x, y))


def align(
    similarity: np.ndarray, sentences_a: list[str], sentences_b: list[str], threshold: float
) -> list[AlignedSentence]:
    """One-to-one sentence pairs whose similarity is at least `threshold`, best first."""
    order = np.dstack(np.unravel_index(np.argsort(-similarity, axis=None), similarity.shape))[0]
    used_a: set[int] = set()
    used_b: set[int] = set()
    pairs: list[AlignedSentence] = []
    for i, j in order:
        value = float(similarity[i, j])
        if value < threshold:
            break
        if i in used_a or j in used_b:
            continue
        used_a.add(int(i))
        used_b.add(int(j))
        pairs.append(AlignedSentence(sentences_a[i], sentences_b[j], value))
    return pairs


def pair_features(
    a: PreparedArticle,
    b: PreparedArticle,
    va: ArticleVectors,
    vb: ArticleVectors,
    similarity: np.ndarray,
    names: list[SharedName],
    dates: list[SharedValue],
    numbers: list[SharedValue],
    aligned: int,
) -> dict[str, float]:
    """The numbers the scoring rule reads; each is meaningful on its own."""
    best_a = similarity.max(axis=1).mean() if similarity.size else 0.0
    best_b = similarity.max(axis=0).mean() if similarity.size else 0.0
    document = _cosine(va.document_vector, vb.document_vector)
    title = (
        _cosine(va.title_vector, vb.title_vector)
        if va.title_vector is not None and vb.title_vector is not None
        else document
    )
    fewer_names = max(1, min(len(a.names.mentions), len(b.names.mentions)))
    fewer_numbers = max(1, min(len(a.numbers), len(b.numbers)))
    gap = 0.0
    pa, pb = a.article.published, b.article.published
    if pa is not None and pb is not None:
        gap = math.log1p(abs((pa - pb).total_seconds()) / 86400.0)
    return {
        "document_cosine": document,
        "sentence_mean_cosine": _cosine(va.sentence_mean_vector, vb.sentence_mean_vector),
        "title_cosine": title,
        "best_match_mean": float((best_a + best_b) / 2),
        "coverage": aligned / max(1, min(len(va.sentences), len(vb.sentences))),
        "shared_names": min(1.0, len(names) / fewer_names),
        "shared_dates": min(3.0, float(len(dates))),
        "shared_numbers": min(1.0, len(numbers) / fewer_numbers),
        "publication_gap": gap,
        "same_language": float(a.language == b.language),
    }


class Comparer:
    """Scores article pairs; keeps each article's analysis so a batch of pairs is cheap.

    >>> comparer = Comparer()
    >>> score = comparer.compare(article_a, article_b)  # doctest: +SKIP
    """

    def __init__(
        self,
        encoders: EncoderSet | None = None,
        gazetteer: Gazetteer | None = None,
        rule: ScoringRule | None = None,
        compact_vectors: bool = False,
    ) -> None:
        self.encoders = encoders or default_encoders()
        self.gazetteer = gazetteer or default_gazetteer()
        self.rule = rule or default_rule()
        self.compact_vectors = compact_vectors  # float16-rounded, as a store keeps them
        self._prepared: dict[tuple[str, datetime | None, str | None], PreparedArticle] = {}

    def prepare(self, article: Article) -> PreparedArticle:
        """Language, names, dates and numbers of an article (vectors come per encoder).

        Kept per article, so that scoring many pairs analyses each article once.
        """
        key = (article.id, article.published, article.language)  # id hashes title and text
        cached = self._prepared.get(key)
        if cached is None:
            cached = self._prepared[key] = self._analysed(article)
        return cached

    def _analysed(self, article: Article) -> PreparedArticle:
        article = with_language(article)
        text = article.full_text
        dates = find_dates(text, article.language or UNDETERMINED, article.published)
        return PreparedArticle(
            article, profile(article, self.gazetteer), dates, find_numbers(text, dates)
        )

    def vectors(self, prepared: PreparedArticle, encoder: Encoder) -> ArticleVectors:
        """An article's vectors from one encoder, computed once."""
        if encoder.name not in prepared.vectors:
            vectors = self.encoders.vectors(prepared.article, encoder)
            prepared.vectors[encoder.name] = vectors.compact() if self.compact_vectors else vectors
        return prepared.vectors[encoder.name]

    def choose_encoder(self, a: PreparedArticle, b: PreparedArticle) -> Encoder:
        """The encoder for this pair; the error names the article whose language is the problem."""
        for side in (a, b):
            origin = side.article.origin or side.article.id
            if side.language == UNDETERMINED:
                raise CompareError(f"{origin}: cannot tell its language")
            try:
                self.encoders.encoder_name([side.language])
            except ValueError as error:
                raise CompareError(f"{origin}: {error}") from error
        return self.encoders.choose([a.language, b.language])

    def home_encoder(self, prepared: PreparedArticle) -> Encoder:
        """The encoder for this article alone (USE for its 16 languages, else e5)."""
        return self.choose_encoder(prepared, prepared)

    def analyse(self, article: Article) -> PreparedArticle:
        """Names, dates, numbers and home-encoder vectors: what a store keeps of an article.

        Not kept by the comparer (a stream of articles would fill memory); raises
        `CompareError` for an article whose language no encoder knows.
        """
        prepared = self._analysed(article)
        self.vectors(prepared, self.home_encoder(prepared))
        return prepared

    def features(self, a: Article, b: Article) -> dict[str, float]:
        """Only the rule's input features (used to fit the rule)."""
        return self.compare(a, b).features

    def compare(self, a: Article, b: Article) -> PairScore:
        """Score two articles; raises `CompareError` if they cannot be compared."""
        return self.score(self.prepare(a), self.prepare(b))

    def score(self, pa: PreparedArticle, pb: PreparedArticle) -> PairScore:
        """Score two prepared articles (vectors a pair's encoder lacks are computed here)."""
        encoder = self.choose_encoder(pa, pb)
        rule = self.rule.encoders.get(encoder.name)
        if rule is None:
            raise CompareError(f"the scoring rule has no calibration for encoder {encoder.name}")
        va, vb = self.vectors(pa, encoder), self.vectors(pb, encoder)
        names = shared_names(pa.names, pb.names)
        dates = shared_dates(pa.dates, pb.dates)
        numbers = shared_numbers(pa.numbers, pb.numbers)
        similarity = va.sentence_vectors @ vb.sentence_vectors.T
        aligned = align(similarity, va.sentences, vb.sentences, rule.align_threshold)
        features = pair_features(pa, pb, va, vb, similarity, names, dates, numbers, len(aligned))
        explanation = Explanation(
            people=[n for n in names if n.kind == "person"],
            places=[n for n in names if n.kind == "place"],
            organisations=[n for n in names if n.kind == "organisation"],
            dates=dates,
            numbers=numbers,
            aligned_sentences=aligned[:MAX_ALIGNED],
            sentences_a=len(va.sentences),
            sentences_b=len(vb.sentences),
            sentences_with_counterpart=len(aligned),
        )
        probability = rule.probability(features)
        return PairScore(
            overall=rule.overall(features),
            same_story=probability >= SAME_STORY_THRESHOLD,
            probability=probability,
            language_a=pa.language,
            language_b=pb.language,
            encoder=encoder.name,
            explanation=explanation,
            features=features,
            article_a=pa.article.origin or pa.article.id,
            article_b=pb.article.origin or pb.article.id,
        )


def compare(a: Article, b: Article, comparer: Comparer | None = None) -> PairScore:
    """Score two articles on the SemEval-2022 Task 8 scale and explain the score."""
    return (comparer or Comparer()).compare(a, b)
