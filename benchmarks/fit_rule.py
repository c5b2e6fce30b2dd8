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
    """90th percentile of best sentence matches in different-story pairs: above it is rare by chance."""
    best: list[float] = []
    for pair in pairs:
        if pair.scores["overall"] < DIFFERENT:
            continue
        pa, pb = comparer.prepare(pair.a), comparer.prepare(pair.b)
        encoder = comparer.encoders.choose([pa.language, pb.language])
        va, vb = comparer.vectors(pa, encoder), comparer.vectors(pb, encoder)
        best.extend((va.sentence_vectors @ vb.sentence_vectors.T).max(axis=1).tolist())
    print(f"  {encoder_name}: {len(best)} sentences of different-story pairs", file=sys.stderr)
    return float(np.percentile(best, 90))


def cross_validate(rows: list[dict[str, float]], gold: np.ndarray, pairs: list[LabelledPair],
                   threshold: float, seeds: int = 3) -> list[float]:
    scores = []
    for seed in range(seeds):
        predicted = np.zeros(len(rows))
        for fold in grouped_folds(pairs, 5, seed):
            test = set(fold)
            train = [i for i in range(len(rows)) if i not in test]
            rule = fit_encoder_rule([rows[i] for i in train], gold[train], threshold)
            for i in fold:
                predicted[i] = rule.overall(rows[i])
        scores.append(pearson(predicted, gold))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("pairs", type=Path)
    parser.add_argument("--out", type=Path, default=RULE_PATH)
    args = parser.parse_args()
    pairs = load_pairs(args.pairs)
    gold = np.array([p.scores["overall"] for p in pairs])
    fitted: dict[str, EncoderRule] = {}
    print(f"{len(pairs)} pairs from {args.pairs.name}; Pearson with gold Overall (higher is better)")
    for name in ENCODERS:
        encoders = EncoderSet(cache_dir() / "embeddings.sqlite", only=name)
        comparer = Comparer(encoders=encoders, rule=ScoringRule({name: EncoderRule.untrained(1.01)}))
        threshold = align_threshold(comparer, pairs, name)
        comparer.rule = ScoringRule({name: EncoderRule.untrained(threshold)})
        rows = [comparer.features(p.a, p.b) for p in pairs]
        raw = -pearson([r["document_cosine"] for r in rows], gold)
        cv = cross_validate(rows, gold, pairs, threshold)
        print(f"{name:9s} raw document cosine {raw:.3f} | rule, grouped 5-fold CV x3 seeds: "
              f"{np.mean(cv):.3f} (min {min(cv):.3f}, max {max(cv):.3f}) | align threshold {threshold:.3f}")
        for feature in rows[0]:
            value = pearson([r[feature] for r in rows], gold)
            print(f"    {feature:18s} alone: {-value:+.3f}")
        fitted[name] = fit_encoder_rule(rows, gold, threshold)
    ScoringRule(fitted, fitted_on=f"{args.pairs.name} ({len(pairs)} pairs)").save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
