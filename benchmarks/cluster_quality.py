"""Story clustering quality on labelled pairs: storylink against a TF-IDF-only baseline.

    .venv/bin/python benchmarks/cluster_quality.py ../shared/data/semeval8/dev_pairs.jsonl

Ingests the pairs' articles once into a scratch store (as `storylink eval` does), then
re-clusters it (no re-encoding) for each setting and prints pairwise precision/recall/F1 on the
pairs with a clear gold label (Overall ≤ 2 same story, ≥ 3 different), all in one run:

* TF-IDF baseline: the same single pass, joining the story of the most similar earlier
  article when the word TF-IDF cosine reaches a threshold (best threshold shown: optimistic).
* storylink with the shipped rule (fitted on these same pairs: in-sample) at the default and
  other parameters.
* storylink with the rule re-fitted without each test fold (grouped 5-fold × 3 seeds), so the
  pairs scored were never seen by the rule: the honest figure.
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
from storylink.rule import ScoringRule, default_rule, fit_encoder_rule
from storylink.stories import StoryStore, evaluate_clustering, pair_articles


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


def cross_validated(
    stories: StoryStore, pairs: list[LabelledPair], params: ClusterParams, seeds: int = 3
) -> list[ClusteringScores]:
    """Per seed: each fold's pairs scored on stories clustered by a rule fitted without them."""
    shipped = default_rule()
    gold = labelled_story_pairs(pairs)
    found = [stories.store.find_article(a.id) for a in pair_articles(pairs)]
    seqs = {article.id: member.seq for member, article in filter(None, found)}
    prepared = stories.store.prepared(sorted(seqs.values()))
    comparer = stories.comparer
    features = []
    for pair in pairs:
        score = comparer.score(prepared[seqs[pair.a.id]], prepared[seqs[pair.b.id]])
        features.append((score.encoder, score.features))
    overall = np.array([p.scores["overall"] for p in pairs])
    results = []
    for seed in range(seeds):
        story_of: dict[str, int] = {}
        tested: list[tuple[str, str, bool]] = []
        for fold in grouped_folds(pairs, 5, seed):
            test = set(fold)
            rules = {}
            for name, rule in shipped.encoders.items():
                train = [i for i, (enc, _) in enumerate(features) if enc == name and i not in test]
                if len(train) < 10:
                    rules[name] = rule
                    continue
                rows = [features[i][1] for i in train]
                rules[name] = fit_encoder_rule(rows, overall[train], rule.align_threshold)
            stories.comparer = Comparer(
                comparer.encoders, comparer.gazetteer, ScoringRule(rules), compact_vectors=True
            )
            stories.recluster(params)
            fold_pairs = [pairs[i] for i in fold]
            fold_gold = labelled_story_pairs(fold_pairs)
            ids = [i for a, b, _ in fold_gold for i in (a, b)]
            story_of.update(
                {k: v + 100_000 * len(tested) for k, v in stories.story_of(ids).items()}
            )
            tested += fold_gold
        results.append(pairwise_clustering(tested, story_of))
    stories.comparer = comparer
    assert len(tested) == len(gold)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("pairs", type=Path)
    parser.add_argument("--db", type=Path, help="keep the scratch store here")
    args = parser.parse_args()
    pairs = load_pairs(args.pairs)
    gold = labelled_story_pairs(pairs)
    ids = sorted({i for a, b, _ in gold for i in (a, b)})
    print(f"{len(pairs)} pairs, {len(gold)} with a clear label ({sum(g for *_, g in gold)} same)")

    for threshold in (0.1, 0.2, 0.3, 0.4):
        scores = pairwise_clustering(gold, tfidf_clustering(pairs, threshold))
        print(line(f"TF-IDF baseline, cosine ≥ {threshold}", scores))

    with tempfile.TemporaryDirectory() as scratch:
        path = args.db or Path(scratch) / "cluster.db"
        comparer = Comparer(encoders=EncoderSet(None), compact_vectors=True)
        with StoryStore(path, comparer=comparer) as stories:
            started = time.perf_counter()
            if stories.store.count("articles") == 0:
                scores = evaluate_clustering(pairs, stories)
                count = stories.store.count("articles")
                print(f"ingested {count} articles in {time.perf_counter() - started:.0f} s")
            default = ClusterParams()
            print(
                "setting: in-sample rule (fitted on these pairs) | rule refitted without the fold"
            )
            for name, params in (
                ("storylink defaults", default),
                ("  threshold 0.5", replace(default, threshold=0.5)),
                ("  threshold 0.35", replace(default, threshold=0.35)),
                ("  window and half-life 7 d", replace(default, window_days=7, half_life_days=7)),
                (
                    "  window and half-life 30 d",
                    replace(default, window_days=30, half_life_days=30),
                ),
                ("  half-life 90 d", replace(default, half_life_days=90)),
                ("  half-life 365 d", replace(default, half_life_days=365)),
                ("  candidates 4", replace(default, candidates=4)),
                ("  latest + most central article", replace(default, central=1)),
                ("  latest + 2 most central", replace(default, central=2)),
            ):
                stories.recluster(params)
                scores = pairwise_clustering(gold, stories.story_of(ids))
                runs = cross_validated(stories, pairs, params)
                f1 = [r.f1 for r in runs]
                print(
                    line(name, scores)
                    + f" | CV F1 {np.mean(f1):.3f} ({min(f1):.3f}–{max(f1):.3f}), "
                    f"P {np.mean([r.precision for r in runs]):.3f} "
                    f"R {np.mean([r.recall for r in runs]):.3f}"
                )


if __name__ == "__main__":
    main()
