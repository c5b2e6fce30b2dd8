"""Fit the shipped scoring rule (src/storylink/data/rule.json) on labelled pairs.

    .venv/bin/python benchmarks/fit_rule.py ../shared/data/semeval8/dev_pairs.jsonl

Prints grouped 5-fold cross-validated Pearson (3 seeds) of the rule against the raw document
cosine of the same encoder, measured in the same run, then fits on all pairs and writes the rule.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from storylink.compare import Comparer
from storylink.encode import EncoderSet
from storylink.evaluate import LabelledPair, grouped_folds, load_pairs, pearson
from storylink.paths import cache_dir
from storylink.rule import EncoderRule, ScoringRule, fit_encoder_rule

RULE_PATH = Path(__file__).resolve().parents[1] / "src" / "storylink" / "data" / "rule.json"
ENCODERS = ("use-m3", "e5-small")
DIFFERENT = 3.0  # gold Overall from which a pair counts as different stories


def align_threshold(comparer: Comparer, pairs: list[LabelledPair], encoder_name: str) -> float:
    """90th percentile of best sentence matches in different-story pairs (rare by chance above)."""
    best: list[float] = []
    for pair in pairs:
        if pair.scores["overall"] < DIFFERENT:
            continue
        pa, pb = comparer.prepare(pair.a), comparer.prepare(pair.b)
        encoder = comparer.choose_encoder(pa, pb)
        va, vb = comparer.vectors(pa, encoder), comparer.vectors(pb, encoder)
        best.extend((va.sentence_vectors @ vb.sentence_vectors.T).max(axis=1).tolist())
    print(f"  {encoder_name}: {len(best)} sentences of different-story pairs", file=sys.stderr)
    return float(np.percentile(best, 90))


def out_of_fold(
    rows: list[dict[str, float]],
    gold: np.ndarray,
    pairs: list[LabelledPair],
    threshold: float,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Overall and same-story probability of each pair from a rule fitted without its fold."""
    overall, probability = np.zeros(len(rows)), np.zeros(len(rows))
    for fold in grouped_folds(pairs, 5, seed):
        test = set(fold)
        train = [i for i in range(len(rows)) if i not in test]
        rule = fit_encoder_rule([rows[i] for i in train], gold[train], threshold)
        for i in fold:
            overall[i], probability[i] = rule.overall(rows[i]), rule.probability(rows[i])
    return overall, probability


def cross_validate(
    rows: list[dict[str, float]],
    gold: np.ndarray,
    pairs: list[LabelledPair],
    threshold: float,
    seeds: int = 3,
) -> list[float]:
    """Pearson of out-of-fold Overall with gold, one per seed of the grouped 5-fold split."""
    return [
        pearson(out_of_fold(rows, gold, pairs, threshold, seed)[0], gold) for seed in range(seeds)
    ]


def encoder_features(
    pairs: list[LabelledPair], encoders: EncoderSet, name: str
) -> tuple[list[dict[str, float]], float]:
    """Every pair's rule features from one encoder, with that encoder's align threshold."""
    comparer = Comparer(encoders=encoders, rule=ScoringRule({name: EncoderRule.untrained(1.01)}))
    threshold = align_threshold(comparer, pairs, name)
    comparer.rule = ScoringRule({name: EncoderRule.untrained(threshold)})
    return [comparer.features(p.a, p.b) for p in pairs], threshold


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("pairs", type=Path)
    parser.add_argument("--out", type=Path, default=RULE_PATH)
    args = parser.parse_args()
    pairs = load_pairs(args.pairs)
    gold = np.array([p.scores["overall"] for p in pairs])
    fitted: dict[str, EncoderRule] = {}
    print(
        f"{len(pairs)} pairs from {args.pairs.name}; Pearson with gold Overall (higher is better)"
    )
    for name in ENCODERS:
        encoders = EncoderSet(cache_dir() / "embeddings.sqlite", only=name)
        rows, threshold = encoder_features(pairs, encoders, name)
        raw = -pearson([r["document_cosine"] for r in rows], gold)
        cv = cross_validate(rows, gold, pairs, threshold)
        print(
            f"{name:9s} raw document cosine {raw:.3f} | rule, grouped 5-fold CV x3 seeds: "
            f"{np.mean(cv):.3f} (min {min(cv):.3f}, max {max(cv):.3f}) "
            f"| align threshold {threshold:.3f}"
        )
        for feature in rows[0]:
            value = pearson([r[feature] for r in rows], gold)
            print(f"    {feature:18s} alone: {-value:+.3f}")
        fitted[name] = fit_encoder_rule(rows, gold, threshold)
    ScoringRule(fitted, fitted_on=f"{args.pairs.name} ({len(pairs)} pairs)").save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
