"""The numbers the scorer reads about a pair of articles, each meaningful on its own.

Cosines of encoder vectors come raw and *centred*: cross-lingual cosines sit lower than
same-language ones and some articles are close to everything (hubness), so each side's cosine
with the centroid of the other side's language is subtracted (CSLS with the whole language as
neighbourhood: `2·cos(a, b) − cos(a, c_lang(b)) − cos(b, c_lang(a))`). On the dev pairs this
lifts e5's document cosine from Pearson 0.49 to 0.70 (benchmarks/RESULTS.md).

Three groups of vectors exist per article (`PreparedArticle.vectors`, keyed by name):
``use-m3`` and ``e5-small`` (whole text, title, sentences) and ``e5-glance`` (e5 vectors of the
title and of the lead, cheap enough for every article of a USE language).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from .article import Article
from .dates import DateMention, NumberMention, SharedValue
from .encode import ArticleVectors
from .entities import EntityProfile, SharedName
from .language import UNDETERMINED

GLANCE = "e5-glance"
SHORT_TEXT_CHARS = 400  # shorter "articles" are mostly teasers, landing pages, cookie walls
BOILERPLATE_SIMILARITY = 0.6
# Written for the project: what scraped pages say instead of news (USE matches them across
# languages, so English prototypes find "Wir verwenden Cookies" too).
BOILERPLATE = (
    "We use cookies to improve your experience on our website.",
    "By continuing to browse the site you agree to our use of cookies.",
    "Subscribe to our newsletter.",
    "Please enable JavaScript in your browser.",
    "Sign in or create an account to continue reading.",
    "All rights reserved.",
    "Read more:",
    "Follow us on Twitter and Facebook.",
    "Share this article",
    "Advertisement",
    "This content is available to subscribers only.",
    "Download our app for the latest news.",
    "Privacy policy and terms of use.",
    "Click here to accept.",
    "Your browser is out of date.",
    "The page you requested could not be found.",
)
ANY_LANGUAGE = "*"


@dataclass
class PreparedArticle:
    """An article with everything comparison needs, computed once per article."""

    article: Article
    names: EntityProfile
    dates: list[DateMention]
    numbers: list[NumberMention]
    vectors: dict[str, ArticleVectors] = field(default_factory=dict)
    boilerplate: float | None = None  # share of page-furniture sentences (USE), once computed

    @property
    def language(self) -> str:
        return self.article.language or UNDETERMINED


@dataclass(frozen=True)
class Background:
    """Mean vector per (view, language) of the training articles, for centring cosines.

    A view is "<vectors name>/<field>", e.g. "use-m3/document" or "e5-glance/title". Languages
    without a centroid use the mean over all languages (`ANY_LANGUAGE`).
    """

    centroids: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    @classmethod
    def fit(cls, vectors: Iterable[tuple[str, str, np.ndarray]]) -> Background:
        """From (view, language, vector) triples."""
        grouped: dict[str, dict[str, list[np.ndarray]]] = {}
        for view, language, vector in vectors:
            grouped.setdefault(view, {}).setdefault(language, []).append(vector)
        centroids: dict[str, dict[str, np.ndarray]] = {}
        for view, by_language in sorted(grouped.items()):
            means = {lang: np.mean(v, axis=0) for lang, v in sorted(by_language.items())}
            means[ANY_LANGUAGE] = np.mean(list(means.values()), axis=0)
            centroids[view] = {k: v.astype(np.float32) for k, v in means.items()}
        return cls(centroids)

    def centroid(self, view: str, language: str) -> np.ndarray | None:
        by_language = self.centroids.get(view)
        if not by_language:
            return None
        found: np.ndarray = by_language.get(language, by_language[ANY_LANGUAGE])
        return found

    def centred(
        self, view: str, x: np.ndarray, y: np.ndarray, language_x: str, language_y: str
    ) -> float:
        """Cosine of x and y minus each one's cosine with the other language's centroid."""
        cx, cy = self.centroid(view, language_y), self.centroid(view, language_x)
        value = 2.0 * float(x @ y)
        if cx is not None and cy is not None:
            value -= float(x @ cx) + float(y @ cy)
        return value


def article_views(name: str, vectors: ArticleVectors) -> dict[str, np.ndarray]:
    """The vectors of one article that the background centres, by view name."""
    views = {f"{name}/document": vectors.document_vector}
    views[f"{name}/title"] = title_vector(vectors)
    return views


def title_vector(vectors: ArticleVectors) -> np.ndarray:
    """The title's vector, or the document's for an untitled article."""
    return vectors.document_vector if vectors.title_vector is None else vectors.title_vector


def encoder_features(
    prefix: str,
    name: str,
    va: ArticleVectors,
    vb: ArticleVectors,
    language_a: str,
    language_b: str,
    background: Background,
    similarity: np.ndarray | None = None,
) -> dict[str, float]:
    """Cosines of one group of vectors: document, title (raw and centred), title↔document and,
    with a sentence similarity matrix, the mean best match of each sentence."""
    ta, tb = title_vector(va), title_vector(vb)
    found = {
        f"{prefix}_document": float(va.document_vector @ vb.document_vector),
        f"{prefix}_document_centred": background.centred(
            f"{name}/document", va.document_vector, vb.document_vector, language_a, language_b
        ),
        f"{prefix}_title": float(ta @ tb),
        f"{prefix}_title_centred": background.centred(
            f"{name}/title", ta, tb, language_a, language_b
        ),
        f"{prefix}_title_document": float(ta @ vb.document_vector + tb @ va.document_vector) / 2,
    }
    if similarity is not None and similarity.size:
        best = (similarity.max(axis=1).mean() + similarity.max(axis=0).mean()) / 2
        found[f"{prefix}_best_match"] = float(best)
    return found


def boilerplate_share(vectors: ArticleVectors, prototypes: np.ndarray) -> float:
    """Share of an article's sentences that look like page furniture (cookies, sign-in)."""
    if not len(vectors.sentence_vectors):
        return 0.0
    best = (vectors.sentence_vectors @ prototypes.T).max(axis=1)
    return float((best > BOILERPLATE_SIMILARITY).mean())


def common_features(
    a: PreparedArticle,
    b: PreparedArticle,
    names: list[SharedName],
    dates: list[SharedValue],
    numbers: list[SharedValue],
) -> dict[str, float]:
    """What the pair shares beyond vectors: names, dates, numbers, time, length, language."""
    shorter, longer = sorted((len(a.article.text), len(b.article.text)))
    gap = 0.0
    if a.article.published is not None and b.article.published is not None:
        gap = abs((a.article.published - b.article.published).total_seconds()) / 86400.0
    fewer_numbers = max(1, min(len(a.numbers), len(b.numbers)))
    return {
        "shared_people": math.log1p(sum(n.kind == "person" for n in names)),
        "shared_names": math.log1p(len(names)),
        "shared_numbers": min(1.0, len(numbers) / fewer_numbers),
        "shared_dates": min(3.0, float(len(dates))),
        "publication_gap": math.log1p(gap),
        "gap_over_week": float(gap > 7),
        "same_language": float(a.language == b.language),
        "length_ratio": math.log((1 + shorter) / (1 + longer)),
        "short_text": float(shorter < SHORT_TEXT_CHARS),
    }
