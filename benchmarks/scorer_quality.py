"""Quality and speed of the trained pair scorer, against baselines measured in the same run.

    .venv/bin/python benchmarks/scorer_quality.py [PAIRS.jsonl ...] [--seeds 5] [--no-speed]

Several files are read as one set of pairs (e.g. dev_pairs.jsonl more_pairs.jsonl: 320 pairs).

Quality is Pearson with gold scores on the labelled pairs (raw similarities have their sign
flipped so that higher is better). The scorer figures are grouped 5-fold cross-validation
(pairs sharing an article stay in one fold) repeated over several seeds: everything learnt —
the language background of the centred cosines, the align thresholds, the weights — is refitted
without the held-out fold. Then the losing variants: other learners and feature sets on the
same folds. Speed: pairs/s with nothing cached, with analysed articles cached, and the latency
of comparing two cached articles.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from statistics import mean, median
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from storylink.compare import Comparer, PairScore
from storylink.encode import E5Encoder, EncoderSet, UseEncoder
from storylink.evaluate import LabelledPair, grouped_folds, load_pairs, pair_metrics, pearson
from storylink.features import PreparedArticle
from storylink.paths import cache_dir
from storylink.scorer import DIMENSIONS, VARIANTS, fit_variant
from storylink.train import cross_validate, fit_background, prepare_articles

DEFAULT_PAIRS = "../shared/data/semeval8/dev_pairs.jsonl"  # relative to the repository root
REPO = Path(__file__).resolve().parents[1]
Rows = list[dict[str, float]]


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A markdown table, ready to paste into RESULTS.md."""
    print("| " + " | ".join(header) + " |")
    print("|---" + "|---:" * (len(header) - 1) + "|")
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")
    print()


def spread(values: Sequence[float]) -> str:
    return f"{mean(values):.3f} ({min(values):.3f}–{max(values):.3f})"


def tfidf_cosines(pairs: Sequence[LabelledPair]) -> np.ndarray:
    """Cosine of word TF-IDF vectors fitted on all texts of the pairs."""
    articles = list({a.id: a for p in pairs for a in (p.a, p.b)}.values())
    row = {article.id: i for i, article in enumerate(articles)}
    matrix = TfidfVectorizer().fit_transform([a.full_text for a in articles])
    return np.array([matrix[row[p.a.id]].multiply(matrix[row[p.b.id]]).sum() for p in pairs])


def groups_of(pairs: Sequence[LabelledPair]) -> dict[str, np.ndarray]:
    """All pairs, cross-lingual, same-language, then each language pair (cross-lingual first)."""
    cross = np.array([p.a.language != p.b.language for p in pairs])
    groups = {"all pairs": np.ones(len(pairs), dtype=bool), "cross-lingual": cross}
    groups["same-language"] = ~cross
    for name in sorted({p.language_pair for p in pairs}, key=lambda n: (len(set(n.split("-"))), n)):
        groups[name] = np.array([p.language_pair == name for p in pairs])
    return groups


def fold_rows(
    pairs: Sequence[LabelledPair],
    prepared: dict[str, PreparedArticle],
    comparer: Comparer,
    train: Sequence[int],
    encoder: str,
) -> Rows:
    """Every pair's features with the language background of the training pairs only."""
    background = fit_background(prepared[a.id] for i in train for a in (pairs[i].a, pairs[i].b))
    chosen = comparer.encoders.encoder(encoder)
    return [
        comparer.pair_features(prepared[p.a.id], prepared[p.b.id], chosen, background)
        for p in pairs
    ]


def ridge_variant(alpha: float) -> Callable[[Sequence[str], Rows, Rows, Any], np.ndarray]:
    def run(features: Sequence[str], train: Rows, test: Rows, gold: Any) -> np.ndarray:
        variant = fit_variant(tuple(features), train, gold, alpha)
        return np.array([variant.scores(r)["overall"] for r in test])

    return run


def sklearn_learner(
    make: Callable[[], Any],
) -> Callable[[Sequence[str], Rows, Rows, Any], np.ndarray]:
    def run(features: Sequence[str], train: Rows, test: Rows, gold: Any) -> np.ndarray:
        x = np.array([[r[k] for k in features] for r in train])
        z = np.array([[r[k] for k in features] for r in test])
        mu, sd = x.mean(axis=0), x.std(axis=0) + 1e-9
        model = make().fit((x - mu) / sd, [g["overall"] for g in gold])
        return np.clip(model.predict((z - mu) / sd), 1, 4)

    return run


def variants_study(
    pairs: list[LabelledPair],
    prepared: dict[str, PreparedArticle],
    comparer: Comparer,
    seeds: int,
) -> None:
    """Learners and feature sets on the same grouped folds (USE + e5 features)."""
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
    from sklearn.neural_network import MLPRegressor
    from sklearn.svm import SVR

    gold = np.array([p.scores["overall"] for p in pairs])
    full = VARIANTS["use+e5"]
    centred = [f for f in full if "centred" not in f]
    learners = {
        "ridge α=10 (shipped)": (ridge_variant(10.0), full),
        "ridge α=1": (ridge_variant(1.0), full),
        "ridge α=30": (ridge_variant(30.0), full),
        "gradient boosting (150 trees, depth 2)": (
            sklearn_learner(
                lambda: GradientBoostingRegressor(
                    n_estimators=150, max_depth=2, learning_rate=0.05, subsample=0.8, random_state=0
                )
            ),
            full,
        ),
        "random forest (300 trees, leaf 5)": (
            sklearn_learner(
                lambda: RandomForestRegressor(300, min_samples_leaf=5, random_state=0, n_jobs=1)
            ),
            full,
        ),
        "SVR (RBF, C=1)": (sklearn_learner(lambda: SVR(C=1.0, epsilon=0.2)), full),
        "MLP (16 hidden, α=1)": (
            sklearn_learner(
                lambda: MLPRegressor(
                    hidden_layer_sizes=(16,), alpha=1.0, max_iter=3000, random_state=0
                )
            ),
            full,
        ),
        "ridge, USE only (what ingest uses)": (ridge_variant(10.0), VARIANTS["use"]),
        "ridge, without centred cosines": (ridge_variant(10.0), centred),
        "ridge, without e5 lead (title only)": (
            ridge_variant(10.0),
            [f for f in full if not f.startswith("glance_document")],
        ),
        "ridge, without names/dates/numbers": (
            ridge_variant(10.0),
            [f for f in full if not f.startswith("shared_")],
        ),
        "ridge, without length/boilerplate": (
            ridge_variant(10.0),
            [f for f in full if f not in ("length_ratio", "short_text", "boilerplate")],
        ),
    }
    results: dict[str, list[float]] = {name: [] for name in learners}
    results["ridge, e5 only (variant for non-USE languages)"] = []
    for seed in range(seeds):
        predicted = {name: np.zeros(len(pairs)) for name in results}
        for fold in grouped_folds(pairs, 5, seed):
            held = set(fold)
            train = [i for i in range(len(pairs)) if i not in held]
            use_rows = fold_rows(pairs, prepared, comparer, train, UseEncoder.name)
            e5_rows = fold_rows(pairs, prepared, comparer, train, E5Encoder.name)
            train_gold = [pairs[i].scores for i in train]
            for name, (learn, features) in learners.items():
                out = learn(
                    features, [use_rows[i] for i in train], [use_rows[i] for i in fold], train_gold
                )
                predicted[name][fold] = out
            e5 = ridge_variant(10.0)(
                VARIANTS["e5"], [e5_rows[i] for i in train], [e5_rows[i] for i in fold], train_gold
            )
            predicted["ridge, e5 only (variant for non-USE languages)"][fold] = e5
        for name, values in predicted.items():
            results[name].append(pearson(values, gold))
    print(f"### Learners and feature sets (Overall, grouped 5-fold × {seeds} seeds)\n")
    table(["variant", "Pearson, mean (min–max)"], [[k, spread(v)] for k, v in results.items()])


def quality(pairs: list[LabelledPair], seeds: int) -> None:
    gold = np.array([p.scores["overall"] for p in pairs])
    comparer = Comparer(encoders=EncoderSet(cache_dir() / "embeddings.sqlite"))
    prepared = prepare_articles(pairs, comparer)
    raw: dict[str, np.ndarray] = {"word TF-IDF cosine": tfidf_cosines(pairs)}
    alone: dict[str, float] = {}
    for encoder in (UseEncoder.name, E5Encoder.name):
        rows = fold_rows(pairs, prepared, comparer, range(len(pairs)), encoder)
        short = "use" if encoder == UseEncoder.name else "e5"
        raw[f"{encoder} raw document cosine"] = np.array([r[f"{short}_document"] for r in rows])
        raw[f"{encoder} centred cosine (no training)"] = np.array(
            [r[f"{short}_document_centred"] for r in rows]
        )
        alone |= {k: -pearson([r[k] for r in rows], gold) for k in rows[0] if k not in alone}
    folds = [cross_validate(pairs, prepared, comparer, 5, seed) for seed in range(seeds)]
    # the same model judging pairs with their source's template text (issue 17's baseline)
    with_template = Comparer(comparer.encoders, comparer.gazetteer, templates=False)
    baseline = [cross_validate(pairs, prepared, with_template, 5, seed) for seed in range(seeds)]
    metrics = [
        pair_metrics(pairs, [s.scores for s in scored], [s.same_story for s in scored])
        for scored in folds
    ]
    groups = groups_of(pairs)
    top = list(groups)[:3]

    def r(values: np.ndarray, mask: np.ndarray) -> float:
        return -pearson(values[mask], gold[mask])

    def cv(
        mask: np.ndarray, dimension: str = "overall", runs: list[list[PairScore]] = folds
    ) -> list[float]:
        truth = np.array([p.scores[dimension] for p in pairs])
        return [
            pearson(np.array([s.scores[dimension] for s in scored])[mask], truth[mask])
            for scored in runs
        ]

    print(f"## Pearson with gold Overall, {len(pairs)} pairs (higher is better)\n")
    print(
        "Centred cosines use the language centroids of all pairs' articles (no labels); the "
        f"scorer is grouped 5-fold CV × {seeds} seeds, mean (min–max), everything refitted "
        "per fold.\n"
    )
    rows = [[name, *(f"{r(v, groups[g]):.3f}" for g in top)] for name, v in raw.items()]
    rows.append(
        [
            "trained scorer, template text kept (CV)",
            *(spread(cv(groups[g], runs=baseline)) for g in top),
        ]
    )
    rows.append(["**trained scorer (CV)**", *(spread(cv(groups[g])) for g in top)])
    table(["method", *(f"{g} (n={groups[g].sum()})" for g in top)], rows)
    best_raw = max(r(v, groups["all pairs"]) for k, v in raw.items() if "raw" in k)
    gain = mean(cv(groups["all pairs"])) - best_raw
    print(f"Scorer CV minus best raw encoder cosine ({best_raw:.3f}): **{gain:+.3f}**\n")

    print("### Every dimension (trained scorer, CV)\n")
    table(
        ["dimension", "Pearson", "Spearman"],
        [
            [d, spread(cv(groups["all pairs"], d)), spread([m.spearman[d] for m in metrics])]
            for d in DIMENSIONS
        ],
    )
    print("### Overall per language pair (small n, noisy)\n")
    header = ["pair", "n", *raw, "scorer CV, template kept", "scorer CV"]
    table(
        header,
        [
            [
                g,
                mask.sum(),
                *(f"{r(v, mask):.3f}" for v in raw.values()),
                spread(cv(mask, runs=baseline)),
                spread(cv(mask)),
            ]
            for g, mask in list(groups.items())[3:]
        ],
    )
    verdict = {k: mean(m.same_story[k] for m in metrics) for k in ("precision", "recall", "f1")}
    print(
        "Same-story verdict (gold Overall ≤ 2), CV mean: "
        + ", ".join(f"{k} {v:.3f}" for k, v in verdict.items())
        + "\n"
    )
    print("### Each feature alone (Pearson with gold Overall, sign flipped)\n")
    table(["feature", "Pearson"], [[k, f"{v:+.3f}"] for k, v in alone.items()])
    variants_study(pairs, prepared, comparer, seeds)


def speed(pairs: list[LabelledPair]) -> None:
    """Pairs/s with nothing cached (analysis and encoding included), then with analysed
    articles cached, and the latency of one compare of two cached articles."""
    comparer = Comparer(encoders=EncoderSet(None))  # no embedding cache: everything computed
    comparer.compare(pairs[0].a, pairs[0].b)  # load the models
    comparer = Comparer(encoders=comparer.encoders)
    start = time.perf_counter()
    for pair in pairs:
        comparer.compare(pair.a, pair.b)
    uncached = time.perf_counter() - start
    latencies = []
    for pair in pairs:
        start = time.perf_counter()
        comparer.compare(pair.a, pair.b)
        latencies.append(time.perf_counter() - start)
    print(f"## Speed, {len(pairs)} pairs ({os.cpu_count()} cores, models loaded)\n")
    table(
        ["measure", "value"],
        [
            ["pairs/s, uncached (analyse + encode both articles)", f"{len(pairs) / uncached:.1f}"],
            ["pairs/s, cached articles", f"{len(pairs) / sum(latencies):.0f}"],
            ["compare of two cached articles, p50", f"{median(latencies) * 1000:.1f} ms"],
            [
                "compare of two cached articles, p99",
                f"{np.percentile(latencies, 99) * 1000:.1f} ms",
            ],
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("pairs", nargs="*", type=Path, help=f"default: {DEFAULT_PAIRS}")
    parser.add_argument("--seeds", type=int, default=5, help="cross-validation seeds (default 5)")
    parser.add_argument("--no-speed", action="store_true", help="skip the speed measurement")
    args = parser.parse_args()
    paths: list[Path] = args.pairs or [(REPO / DEFAULT_PAIRS).resolve()]
    for path in paths:
        if not path.is_file():
            sys.exit(
                f"scorer_quality: no labelled pairs at {path}; pass the path to dev_pairs.jsonl"
            )
    pairs = [pair for path in paths for pair in load_pairs(path)]
    git = ["git", "-C", str(REPO), "describe", "--always", "--dirty"]
    commit = subprocess.run(git, capture_output=True, text=True).stdout.strip() or "unknown"
    python = f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores"
    names = " + ".join(path.name for path in paths)
    print(f"# {names}: {len(pairs)} pairs; {datetime.now():%Y-%m-%d %H:%M}; commit {commit}")
    print(f"# {python}\n")
    quality(pairs, args.seeds)
    if not args.no_speed:
        speed(pairs)


if __name__ == "__main__":
    main()
