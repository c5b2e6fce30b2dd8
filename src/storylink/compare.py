"""Compare two articles in any languages: a SemEval-2022 Task 8 score with its reasons.

The seven scores and the same-story probability come from the trained scorer (`scorer.py`,
trained by `storylink train`) over the pair's features (`features.py`): cosines of two
encoders, raw and centred on each language, sentence alignment, shared names, dates and
numbers. Scale: 1 = very similar … 4 = very dissimilar, as annotated in SemEval-2022 Task 8;
"same story" means Overall ≤ 2.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, TypeVar

import numpy as np

from .article import Article
from .dates import SharedValue, find_dates, find_numbers, shared_dates, shared_numbers
from .differs import Unmatched, both_sides
from .encode import ArticleVectors, E5Encoder, Encoder, EncoderSet, UseEncoder, default_encoders
from .entities import (
    SPACY_MODELS,
    Gazetteer,
    SharedName,
    default_gazetteer,
    profile,
    shared_names,
)
from .features import (
    BOILERPLATE,
    GLANCE,
    Background,
    PreparedArticle,
    boilerplate_share,
    common_features,
    encoder_features,
)
from .language import UNDETERMINED, with_language
from .scorer import Scorer, Variant, default_scorer
from .template import without_template

R = TypeVar("R")
MAX_ALIGNED = 6
MAX_PREPARED = 4096  # analysed articles a comparer keeps (~0.1 MB each), least recent dropped
log = logging.getLogger(__name__)
GLANCE_LEAD_CHARS = 800  # e5 reads the title and this much of the text (measured: RESULTS.md)


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
    only_in_a: Unmatched = field(default_factory=Unmatched)  # what B does not report
    only_in_b: Unmatched = field(default_factory=Unmatched)  # what A does not report

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
        fewer = min(self.sentences_a, self.sentences_b)
        return f"{self.sentences_with_counterpart} of {fewer} sentences have a counterpart"


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
    scores: dict[str, float] = field(default_factory=dict)  # the scorer's dimensions (7 shipped)
    variant: str = ""  # which of the scorer's feature sets judged the pair
    article_a: str = ""
    article_b: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of `storylink compare --json`."""
        ex = self.explanation
        return {
            "overall": round(self.overall, 3),
            "scores": {k: round(v, 3) for k, v in self.scores.items()},
            "same_story": self.same_story,
            "probability": round(self.probability, 3),
            "languages": [self.language_a, self.language_b],
            "articles": [self.article_a, self.article_b],
            "encoder": self.encoder,
            "variant": self.variant,
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
            "only_in": {"a": ex.only_in_a.to_dict(), "b": ex.only_in_b.to_dict()},
            "features": {k: round(v, 4) for k, v in self.features.items()},
        }


SAME_STORY_THRESHOLD = 0.5


def align(
    similarity: np.ndarray, sentences_a: Sequence[str], sentences_b: Sequence[str], threshold: float
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


class Comparer:
    """Scores article pairs; keeps each article's analysis so a batch of pairs is cheap.

    `glance=True` adds e5 vectors of each article's title and lead to USE-language pairs
    (the ``use+e5`` scorer variant: Pearson 0.74 instead of 0.70 on the dev pairs, at
    ~0.13 s per article on two threads); story ingest turns it off for speed.

    >>> comparer = Comparer()
    >>> score = comparer.compare(article_a, article_b)  # doctest: +SKIP
    """

    def __init__(
        self,
        encoders: EncoderSet | None = None,
        gazetteer: Gazetteer | None = None,
        scorer: Scorer | None = None,
        compact_vectors: bool = False,
        glance: bool = True,
        templates: bool = True,
    ) -> None:
        self.encoders = encoders or default_encoders()
        self.gazetteer = gazetteer or default_gazetteer()
        self._scorer = scorer
        self.compact_vectors = compact_vectors  # float16-rounded, as a store keeps them
        self.glance = glance
        self.templates = templates  # judge a pair net of the template text its source repeats
        self._prepared: OrderedDict[tuple[str, datetime | None, str | None], PreparedArticle] = (
            OrderedDict()
        )
        self._boilerplate: np.ndarray | None = None

    @property
    def scorer(self) -> Scorer:
        """The scorer given, else the shipped one (loaded on first use: training needs none)."""
        if self._scorer is None:
            self._scorer = default_scorer()
        return self._scorer

    def prepare(self, article: Article) -> PreparedArticle:
        """Language, names, dates and numbers of an article (vectors come per encoder).

        Kept per article, so that scoring many pairs analyses each article once.
        """
        key = (article.id, article.published, article.language)  # id hashes title and text
        cached = self._prepared.get(key)
        if cached is None:
            cached = self._prepared[key] = self._analysed(article)
            if len(self._prepared) > MAX_PREPARED:  # a long-running server sees endless texts
                self._prepared.popitem(last=False)
        else:
            self._prepared.move_to_end(key)
        return cached

    def _analysed(self, article: Article) -> PreparedArticle:
        article = with_language(article)
        text = article.full_text
        dates = find_dates(text, article.language or UNDETERMINED, article.published)
        return PreparedArticle(
            article, profile(article, self.gazetteer), dates, find_numbers(text, dates)
        )

    def _kept(self, prepared: PreparedArticle, vectors: ArticleVectors) -> ArticleVectors:
        kept = vectors.compact() if self.compact_vectors else vectors
        prepared.vectors[vectors.encoder] = kept
        return kept

    def vectors(self, prepared: PreparedArticle, encoder: Encoder) -> ArticleVectors:
        """An article's vectors from one encoder, computed once."""
        if encoder.name not in prepared.vectors:
            self._kept(prepared, self.encoders.vectors(prepared.article, encoder))
        return prepared.vectors[encoder.name]

    def glance_vectors(self, prepared: PreparedArticle) -> ArticleVectors:
        """e5 vectors of the title (`title_vector`) and of title + lead (`document_vector`)."""
        if GLANCE not in prepared.vectors:
            article = prepared.article
            lead = article.full_text[: len(article.title) + 1 + GLANCE_LEAD_CHARS]
            texts = [lead, *([article.title] if article.title else [])]
            encoded = self.encoders.encoder(E5Encoder.name).encode(texts)
            title = encoded[1] if article.title else None
            empty = np.zeros((0, encoded.shape[1]), dtype=np.float32)
            self._kept(prepared, ArticleVectors(GLANCE, [], empty, title, encoded[0], encoded[0]))
        return prepared.vectors[GLANCE]

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
        encoder = self.home_encoder(prepared)
        self.vectors(prepared, encoder)
        if encoder.name == UseEncoder.name:
            self._boilerplate_share(prepared)  # here, in a worker process, not per pair later
            if self.glance:
                self.glance_vectors(prepared)
        return prepared

    def _boilerplate_share(self, prepared: PreparedArticle) -> float:
        """Share of the article's sentences that are page furniture, computed once."""
        if prepared.boilerplate is None:
            if self._boilerplate is None:
                prototypes = list(BOILERPLATE)
                self._boilerplate = self.encoders.encoder(UseEncoder.name).encode(prototypes)
            vectors = prepared.vectors[UseEncoder.name]
            prepared.boilerplate = boilerplate_share(vectors, self._boilerplate)
        return prepared.boilerplate

    def net_of_template(
        self, pa: PreparedArticle, pb: PreparedArticle
    ) -> tuple[PreparedArticle, PreparedArticle]:
        """The pair without the template lines and title prefix its source repeats
        (`template.py`), each analysed like any article; the pair itself when there are none."""
        net = without_template(pa.article, pb.article) if self.templates else None
        if net is None:
            return pa, pb
        return self.prepare(net[0]), self.prepare(net[1])

    def pair_features(
        self,
        pa: PreparedArticle,
        pb: PreparedArticle,
        encoder: Encoder | None = None,
        background: Background | None = None,
    ) -> dict[str, float]:
        """Every feature this pair has (which depends on the encoder and `glance`)."""
        return self._features(pa, pb, encoder, background)[0]

    def _features(
        self,
        pa: PreparedArticle,
        pb: PreparedArticle,
        encoder: Encoder | None = None,
        background: Background | None = None,
    ) -> tuple[
        dict[str, float],
        np.ndarray,
        list[SharedName],
        list[SharedValue],
        list[SharedValue],
        tuple[ArticleVectors, ArticleVectors],
    ]:
        """Features, the sentence similarity matrix, shared names, dates and numbers, and the
        vectors they are of (net of template text)."""
        encoder = encoder or self.choose_encoder(pa, pb)
        background = background or self.scorer.background
        pa, pb = self.net_of_template(pa, pb)
        va, vb = self.vectors(pa, encoder), self.vectors(pb, encoder)
        similarity = va.sentence_vectors @ vb.sentence_vectors.T
        names = shared_names(pa.names, pb.names)
        dates = shared_dates(pa.dates, pb.dates)
        numbers = shared_numbers(pa.numbers, pb.numbers)
        languages = (pa.language, pb.language)
        use = encoder.name == UseEncoder.name
        prefix = "use" if use else "e5"
        features = encoder_features(
            prefix, encoder.name, va, vb, *languages, background, similarity
        )
        if use:
            features["boilerplate"] = max(self._boilerplate_share(pa), self._boilerplate_share(pb))
            if self.glance:
                ga, gb = self.glance_vectors(pa), self.glance_vectors(pb)
                features.update(encoder_features("glance", GLANCE, ga, gb, *languages, background))
        features.update(common_features(pa, pb, names, dates, numbers))
        return features, similarity, names, dates, numbers, (va, vb)

    def probability(self, pa: PreparedArticle, pb: PreparedArticle) -> float:
        """Only the same-story probability of two prepared articles: what clustering needs,
        without the seven scores and the explanation (sentence alignment)."""
        features = self._features(pa, pb)[0]
        return self._variant(features, pa, pb)[1].probability(features)

    def _variant(
        self, features: dict[str, float], pa: PreparedArticle, pb: PreparedArticle
    ) -> tuple[str, Variant]:
        """The name and weights of the scorer variant for these features."""
        try:
            name = self.scorer.variant_for(features)
        except KeyError:
            raise CompareError(
                f"the scorer was not trained for {pa.language}-{pb.language} pairs "
                f"({', '.join(sorted(pa.vectors))} features)"
            ) from None
        return name, self.scorer.variants[name]

    def compare(self, a: Article, b: Article) -> PairScore:
        """Score two articles; raises `CompareError` if they cannot be compared."""
        return self.score(self.prepare(a), self.prepare(b))

    def score(self, pa: PreparedArticle, pb: PreparedArticle) -> PairScore:
        """Score two prepared articles (vectors a pair's encoder lacks are computed here)."""
        encoder = self.choose_encoder(pa, pb)
        features, similarity, names, dates, numbers, (va, vb) = self._features(pa, pb, encoder)
        # no threshold when training saw no different-story pair of this encoder: align nothing
        threshold = self.scorer.align_thresholds.get(encoder.name, 1.0)
        aligned = align(similarity, va.sentences, vb.sentences, threshold)
        only_in_a, only_in_b = both_sides(similarity, va, vb, threshold, (pa.language, pb.language))
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
            only_in_a=only_in_a,
            only_in_b=only_in_b,
        )
        variant_name, variant = self._variant(features, pa, pb)
        scores = variant.scores(features)
        probability = variant.probability(features)
        return PairScore(
            overall=scores["overall"],
            same_story=probability >= SAME_STORY_THRESHOLD,
            probability=probability,
            language_a=pa.language,
            language_b=pb.language,
            encoder=encoder.name,
            explanation=explanation,
            features={k: features[k] for k in variant.features},
            scores=scores,
            variant=variant_name,
            article_a=pa.article.origin or pa.article.id,
            article_b=pb.article.origin or pb.article.id,
        )


@dataclass(frozen=True)
class WorkerSetup:
    """How a worker process builds its comparer: story ingest's defaults (no glance, vectors
    rounded as the store keeps them, no embedding cache)."""

    glance: bool = False
    compact_vectors: bool = True
    cache: str | None = None  # embedding cache file
    only: str | None = None  # one encoder for every language it knows (`EncoderSet.only`)


@lru_cache(maxsize=2)
def worker_comparer(setup: WorkerSetup) -> Comparer:
    """The comparer of a worker process (each loads its own models, one BLAS thread)."""
    encoders = EncoderSet(setup.cache, threads=1, only=setup.only)
    return Comparer(encoders, compact_vectors=setup.compact_vectors, glance=setup.glance)


def load_worker_models(setup: WorkerSetup = WorkerSetup()) -> None:
    """Load a worker's models (both encoders, the NER models, the gazetteer) before its first
    task: run by the process pool's initializer and by the Dask engine's worker plugin."""
    comparer = worker_comparer(setup)
    for name in [setup.only] if setup.only else [UseEncoder.name, E5Encoder.name]:
        comparer.encoders.encoder(name)
    for language in SPACY_MODELS:  # NER pipelines load on the first text of their language
        profile(Article(title="", text="Loading.", language=language), comparer.gazetteer)


def analyse_chunk(
    articles: list[Article], comparer: Comparer | None = None, setup: WorkerSetup = WorkerSetup()
) -> list[PreparedArticle | str]:
    """Analyse articles; an article that cannot be analysed becomes a message saying why."""
    return each_article((comparer or worker_comparer(setup)).analyse, articles)


def each_article(work: Callable[[Article], R], articles: list[Article]) -> list[R | str]:
    """`work` on each article; one that fails becomes a message saying why (one bad article
    must not stop a batch)."""
    results: list[R | str] = []
    for article in articles:
        name = article.origin or article.id
        try:
            results.append(work(article))
        except CompareError as error:
            results.append(str(error))
        except Exception as error:
            log.exception("%s: analysis failed", name)
            results.append(f"{name}: analysis failed ({type(error).__name__}: {error})")
    return results


def compare(a: Article, b: Article, comparer: Comparer | None = None) -> PairScore:
    """Score two articles on the SemEval-2022 Task 8 scale and explain the score."""
    return (comparer or Comparer()).compare(a, b)
