"""Story clustering quality on labelled pairs: storylink against a TF-IDF-only baseline.

    .venv/bin/python benchmarks/cluster_quality.py ../shared/data/semeval8/dev_pairs.jsonl
    .venv/bin/python benchmarks/cluster_quality.py ../shared/data/semeval8/{dev,more}_pairs.jsonl

Ingests the pairs' articles once into a scratch store (as `storylink eval` does), then
re-clusters it (no re-encoding) for each setting and prints pairwise precision/recall/F1 on the
pairs with a clear gold label (Overall ≤ 2 same story, ≥ 3 different), all in one run
(several pair files are read as one set, articles in file order):

* TF-IDF baseline: the same single pass, joining the story of the most similar earlier
  article when the word TF-IDF cosine reaches a threshold (best threshold shown: optimistic).
* storylink with the shipped scorer (trained on these same pairs: in-sample) at the default and
  other parameters, as ingest runs it (USE only) and with the e5 title/lead glance, with the
  pair scores clustering paid per article.
* storylink with the scorer re-trained without each test fold (grouped 5-fold × 3 seeds), so
  the pairs scored were never seen by it: the honest figure.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from storylink.cluster import ClusterParams
from storylink.compare import Comparer
from storylink.encode import EncoderSet
from storylink.evaluate import (
    ClusteringScores,
    LabelledPair,
    grouped_folds,
    labelled_story_pairs,
    load_pairs,
    pairwise_clustering,
)
from storylink.features import PreparedArticle
from storylink.paths import cache_dir
from storylink.scorer import Scorer
from storylink.stories import StoryStore, evaluate_clustering, pair_articles
from storylink.train import fit_scorer, prepare_articles


def tfidf_clustering(pairs: Sequence[LabelledPair], threshold: float) -> dict[str, int]:
    """Single-pass clustering on word TF-IDF cosine (best earlier article), in file order."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    articles = pair_articles(pairs)
    matrix = TfidfVectorizer(sublinear_tf=True).fit_transform([a.full_text for a in articles])
    similarity = (matrix @ matrix.T).toarray()
    story_of: dict[str, int] = {}
    for i, article in enumerate(articles):
        best = int(np.argmax(similarity[i, :i])) if i else -1
        if i and similarity[i, best] >= threshold:
            story_of[article.id] = story_of[articles[best].id]
        else:
            story_of[article.id] = len(set(story_of.values()))
    return story_of


def line(name: str, scores: ClusteringScores, extra: str = "") -> str:
    return (
        f"{name:32s} P {scores.precision:.3f}  R {scores.recall:.3f}  F1 {scores.f1:.3f}"
        f"  (tp {scores.true_positives}, fp {scores.false_positives}, "
        f"fn {scores.false_negatives}){extra}"
    )


def fold_scorers(
    pairs: list[LabelledPair], training: tuple[dict[str, PreparedArticle], Comparer], seeds: int = 3
) -> list[list[tuple[list[int], Scorer]]]:
    """Per seed, each grouped fold with a scorer fitted without it (its language background
    and weights too); fitted once, shared by every setting."""
    return [
        [
            (fold, fit_scorer([p for i, p in enumerate(pairs) if i not in set(fold)], *training))
            for fold in grouped_folds(pairs, 5, seed)
        ]
        for seed in range(seeds)
    ]


def cross_validated(
    stories: StoryStore,
    pairs: list[LabelledPair],
    params: ClusterParams,
    scorers: list[list[tuple[list[int], Scorer]]],
) -> list[ClusteringScores]:
    """Per seed: each fold's pairs scored on stories clustered by a scorer fitted without them."""
    gold = labelled_story_pairs(pairs)
    comparer = stories.comparer
    results = []
    for folds in scorers:
        story_of: dict[str, int] = {}
        tested: list[tuple[str, str, bool]] = []
        for fold, scorer in folds:
            stories.comparer = Comparer(
                comparer.encoders,
                comparer.gazetteer,
                scorer,
                compact_vectors=True,
                glance=comparer.glance,
            )
            stories.recluster(params)
            fold_gold = labelled_story_pairs([pairs[i] for i in fold])
            ids = [i for a, b, _ in fold_gold for i in (a, b)]
            story_of.update(
                {k: v + 100_000 * len(tested) for k, v in stories.story_of(ids).items()}
            )
            tested += fold_gold
        results.append(pairwise_clustering(tested, story_of))
    stories.comparer = comparer
    assert len(tested) == len(gold)
    return results


class CountingComparer(Comparer):
    """Counts pair scores: what clustering pays per article (~1 ms each)."""

    scored = 0

    def probability(self, pa: PreparedArticle, pb: PreparedArticle) -> float:
        self.scored += 1
        return super().probability(pa, pb)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("pairs", type=Path, nargs="+")
    parser.add_argument("--seeds", type=int, default=3, help="CV seeds (grouped 5-fold each)")
    parser.add_argument(
        "--blobs", action="store_true", help="only issue 17's settings (blob resistance), USE"
    )
    args = parser.parse_args()
    pairs = [pair for path in args.pairs for pair in load_pairs(path)]
    gold = labelled_story_pairs(pairs)
    ids = sorted({i for a, b, _ in gold for i in (a, b)})
    print(f"{len(pairs)} pairs, {len(gold)} with a clear label ({sum(g for *_, g in gold)} same)")

    for threshold in (0.1, 0.2, 0.3, 0.4):
        scores = pairwise_clustering(gold, tfidf_clustering(pairs, threshold))
        print(line(f"TF-IDF baseline, cosine ≥ {threshold}", scores))

    encoders = EncoderSet(cache_dir() / "embeddings.sqlite", threads=1)
    trainer = Comparer(encoders=encoders)
    training = prepare_articles(pairs, trainer), trainer
    scorers = fold_scorers(pairs, training, args.seeds)
    default = ClusterParams()
    previous = replace(default, nearest=0, member_time=False)
    settings = [
        ("storylink defaults", default),
        ("  before 2026-12: latest only, span time", previous),
        ("  latest + nearest, span time", replace(default, member_time=False)),
        ("  latest only, member time", replace(default, nearest=0)),
        ("  latest + 2 nearest", replace(default, nearest=2)),
        ("  latest + 3 nearest", replace(default, nearest=3)),
        ("  latest + nearest, max", replace(default, combine="max")),
        ("  latest + each story's nearest", replace(default, nearest=0, nearest_per_story=1)),
        ("  latest + each story's 3 nearest", replace(default, nearest=0, nearest_per_story=3)),
        (
            "  same, max",
            replace(default, nearest=0, nearest_per_story=3, combine="max"),
        ),
        ("  latest + most central article", replace(default, central=1)),
        ("  4 candidate stories", replace(default, candidates=4)),
        ("  threshold 0.5", replace(default, threshold=0.5)),
        ("  threshold 0.3", replace(default, threshold=0.3)),
        ("  half-life 365 d", replace(default, half_life_days=365)),
        ("  window and half-life 30 d", replace(default, window_days=30, half_life_days=30)),
    ]
    before_17 = replace(default, combine="max", far_days=0, max_span_days=0)
    blob_settings = [
        ("storylink defaults", default),
        ("  before issue 17: max, no date rules", before_17),
        ("  mean, no date rules", replace(default, far_days=0, max_span_days=0)),
        ("  max, date rules", replace(default, combine="max")),
        ("  mean, threshold 0.35", replace(default, threshold=0.35)),
        ("  span at most 180 d", replace(default, max_span_days=180)),
    ]
    settings = blob_settings if args.blobs else [settings[0], blob_settings[1], *settings[1:]]
    glance_settings = [settings[0], settings[1], settings[-4]]
    for glance in (False,) if args.blobs else (False, True):
        label = "USE + e5 title/lead (use+e5 variant)" if glance else "USE only (ingest default)"
        with tempfile.TemporaryDirectory() as scratch:
            comparer = CountingComparer(encoders=encoders, compact_vectors=True, glance=glance)
            with StoryStore(Path(scratch) / "cluster.db", comparer=comparer) as stories:
                started = time.perf_counter()
                evaluate_clustering(pairs, stories)
                count = stories.store.count("articles")
                print(
                    f"\n{label}: ingested {count} articles in {time.perf_counter() - started:.0f} s"
                )
                print("setting: in-sample (shipped scorer) | scorer refitted without the fold")
                print(
                    "pairs scored per article (in-sample) | "
                    f"CV F1 mean (min–max of {args.seeds} seeds)"
                )
                for name, params in glance_settings if glance else settings:
                    comparer.scored = 0
                    stories.recluster(params)
                    per_article = comparer.scored / count
                    scores = pairwise_clustering(gold, stories.story_of(ids))
                    runs = cross_validated(stories, pairs, params, scorers)
                    f1 = [r.f1 for r in runs]
                    print(
                        line(name, scores)
                        + f" | {per_article:.2f} scored/article"
                        + f" | CV F1 {np.mean(f1):.3f} ({min(f1):.3f}–{max(f1):.3f}), "
                        f"P {np.mean([r.precision for r in runs]):.3f} "
                        f"R {np.mean([r.recall for r in runs]):.3f}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
