"""Train the pair scorer on labelled pairs (`storylink train --pairs PATH`).

Every unique article is analysed and encoded once (USE for its languages, e5 for all, plus the
e5 title/lead glance), the language background is the training articles' centroids, and each
scorer variant is fitted on the pairs it can score. Closed-form fits over a fixed article order:
the same pairs give the same artifact, byte for byte. `cross_validate` refits everything
(background included) without each grouped fold, which is how RESULTS.md's figures are made.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np

from .compare import Comparer, PairScore
from .encode import E5_LANGUAGES, USE_LANGUAGES, E5Encoder, UseEncoder
from .evaluate import LabelledPair, grouped_folds
from .features import Background, PreparedArticle, article_views
from .scorer import LOGISTIC_L2, RIDGE_ALPHA, VARIANT_L2, VARIANTS, Scorer, fit_variant

Progress = Callable[[int, int], None]
DIFFERENT_STORY = 3.0  # gold Overall from which a pair counts as two stories
ALIGN_PERCENTILE = 90  # sentence matches above this share of chance matches "say the same"


def prepare_articles(
    pairs: Sequence[LabelledPair], comparer: Comparer, progress: Progress | None = None
) -> dict[str, PreparedArticle]:
    """Each unique article analysed, with every vector group a variant may need."""
    articles = {a.id: a for pair in pairs for a in (pair.a, pair.b)}
    prepared: dict[str, PreparedArticle] = {}
    for done, (key, article) in enumerate(articles.items(), start=1):
        item = prepared[key] = comparer.prepare(article)
        if item.language in USE_LANGUAGES:
            comparer.vectors(item, comparer.encoders.encoder(UseEncoder.name))
            comparer.glance_vectors(item)
        if item.language in E5_LANGUAGES:
            comparer.vectors(item, comparer.encoders.encoder(E5Encoder.name))
        if progress:
            progress(done, len(articles))
    return prepared


def fit_background(prepared: Iterable[PreparedArticle]) -> Background:
    """Language centroids of every vector view of these articles."""
    return Background.fit(
        (view, item.language, vector)
        for item in prepared
        for name, vectors in item.vectors.items()
        for view, vector in article_views(name, vectors).items()
    )


def _encoders_for(pair: LabelledPair, prepared: dict[str, PreparedArticle]) -> list[str]:
    languages = {prepared[pair.a.id].language, prepared[pair.b.id].language}
    return [
        name
        for name, known in ((UseEncoder.name, USE_LANGUAGES), (E5Encoder.name, E5_LANGUAGES))
        if languages <= known
    ]


def align_thresholds(
    pairs: Sequence[LabelledPair], prepared: dict[str, PreparedArticle]
) -> dict[str, float]:
    """Per encoder: the 90th percentile of each sentence's best match in different-story pairs,
    so that a sentence pair above it is rarely a chance match."""
    best: dict[str, list[float]] = {UseEncoder.name: [], E5Encoder.name: []}
    for pair in pairs:
        if pair.scores["overall"] < DIFFERENT_STORY:
            continue
        for name in _encoders_for(pair, prepared):
            va, vb = prepared[pair.a.id].vectors[name], prepared[pair.b.id].vectors[name]
            best[name].extend((va.sentence_vectors @ vb.sentence_vectors.T).max(axis=1).tolist())
    return {
        name: float(np.percentile(values, ALIGN_PERCENTILE))
        for name, values in best.items()
        if values
    }


def fit_scorer(
    pairs: Sequence[LabelledPair],
    prepared: dict[str, PreparedArticle],
    comparer: Comparer,
    alpha: float = RIDGE_ALPHA,
    fitted_on: str = "",
) -> Scorer:
    """Fit every variant on the pairs whose articles have its vectors."""
    ids = dict.fromkeys(a.id for pair in pairs for a in (pair.a, pair.b))  # each article once
    background = fit_background(prepared[i] for i in ids)
    rows: dict[str, list[tuple[dict[str, float], dict[str, float]]]] = {v: [] for v in VARIANTS}
    for pair in pairs:
        pa, pb = prepared[pair.a.id], prepared[pair.b.id]
        for name in _encoders_for(pair, prepared):
            encoder = comparer.encoders.encoder(name)
            features = comparer.pair_features(pa, pb, encoder, background)
            for variant, wanted in VARIANTS.items():
                if all(k in features for k in wanted):
                    rows[variant].append((features, pair.scores))
    variants = {}
    for variant, wanted in VARIANTS.items():
        if rows[variant]:  # e.g. no USE variants from pairs only in languages USE lacks
            found, gold = zip(*rows[variant], strict=True)
            l2 = VARIANT_L2.get(variant, LOGISTIC_L2)
            variants[variant] = fit_variant(wanted, found, gold, alpha, l2)
    if not variants:
        raise ValueError("no pair could be scored: are the languages right?")
    return Scorer(variants, background, align_thresholds(pairs, prepared), fitted_on)


def cross_validate(
    pairs: Sequence[LabelledPair],
    prepared: dict[str, PreparedArticle],
    comparer: Comparer,
    folds: int = 5,
    seed: int = 0,
    alpha: float = RIDGE_ALPHA,
) -> list[PairScore]:
    """Each pair scored by a scorer fitted without its grouped fold (pairs sharing an article
    stay in one fold), as `compare` would score it."""
    scored: dict[int, PairScore] = {}
    for fold in grouped_folds(pairs, folds, seed):
        held_out = set(fold)
        train = [p for i, p in enumerate(pairs) if i not in held_out]
        if not train:
            raise ValueError(
                f"cannot cross-validate: pairs sharing articles chain {len(fold)} of "
                f"{len(pairs)} pairs into one fold, leaving nothing to train on"
            )
        scorer = fit_scorer(train, prepared, comparer, alpha)
        judge = Comparer(
            comparer.encoders,
            comparer.gazetteer,
            scorer,
            glance=comparer.glance,
            templates=comparer.templates,
        )
        for i in fold:
            scored[i] = judge.score(prepared[pairs[i].a.id], prepared[pairs[i].b.id])
    return [scored[i] for i in range(len(pairs))]
