"""Feature and calibration variants for the pair scorer on same-language pairs (issue 17).

    PYTHONPATH=src .venv/bin/python benchmarks/judgement_variants.py \
        ../shared/data/semeval8/dev_pairs.jsonl ../shared/data/semeval8/more_pairs.jsonl [--seeds 3]

Every variant is a ridge fit (as shipped, α=10) on grouped 5-fold CV over the same folds per
seed, with the language background refitted per fold; Pearson with gold Overall, mean (min–max)
over seeds, for all pairs and the weak same-language pairs. "today" is the scorer's features
with template text kept (`Comparer(templates=False)`), the others are net of template.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from statistics import mean

import numpy as np

from storylink.compare import Comparer
from storylink.encode import E5Encoder, EncoderSet, UseEncoder
from storylink.evaluate import LabelledPair, grouped_folds, load_pairs, pearson
from storylink.features import PreparedArticle
from storylink.paths import cache_dir
from storylink.scorer import VARIANTS, fit_variant
from storylink.train import fit_background, prepare_articles

Rows = list[dict[str, float]]
Fit = Callable[[Sequence[str], Rows, list[int], list[int], "Study"], np.ndarray]
LANGUAGES = ("de-de", "ar-ar", "tr-tr", "ru-ru", "pl-pl", "fr-fr")
WORD = re.compile(r"\w{4,}")


class Study:
    """Cached per-fold feature rows of both encoders, with and without template text."""

    def __init__(self, pairs: list[LabelledPair], seeds: int) -> None:
        self.pairs = pairs
        encoders = EncoderSet(cache_dir() / "embeddings.sqlite")
        self.comparers = {
            True: Comparer(encoders=encoders),
            False: Comparer(encoders=encoders, templates=False),
        }
        self.prepared: dict[str, PreparedArticle] = prepare_articles(pairs, self.comparers[True])
        self.gold = np.array([p.scores["overall"] for p in pairs])
        self.language_pair = np.array([p.language_pair for p in pairs])
        self.folds = {seed: grouped_folds(pairs, 5, seed) for seed in range(seeds)}
        self._rows: dict[tuple[int, int, bool], Rows] = {}

    def rows(self, seed: int, k: int, net: bool) -> Rows:
        """USE (+ glance) and full-e5 features of every pair, background of the training folds."""
        key = (seed, k, net)
        if key not in self._rows:
            held = set(self.folds[seed][k])
            train = [i for i in range(len(self.pairs)) if i not in held]
            background = fit_background(
                self.prepared[a.id] for i in train for a in (self.pairs[i].a, self.pairs[i].b)
            )
            comparer = self.comparers[net]
            rows = []
            for pair in self.pairs:
                pa, pb = self.prepared[pair.a.id], self.prepared[pair.b.id]
                row = {}
                for name in (E5Encoder.name, UseEncoder.name):  # USE's common features win
                    encoder = comparer.encoders.encoder(name)
                    row |= comparer.pair_features(pa, pb, encoder, background)
                rows.append(row)
            self._rows[key] = rows
        return self._rows[key]

    def run(
        self,
        name: str,
        features: Sequence[str],
        extra: Callable[[int, dict[str, float]], dict[str, float]] | None = None,
        fit: Fit | None = None,
        net: bool = True,
    ) -> None:
        predictions = []
        for seed, folds in self.folds.items():
            predicted = np.zeros(len(self.pairs))
            for k, fold in enumerate(folds):
                held = set(fold)
                train = [i for i in range(len(self.pairs)) if i not in held]
                rows = self.rows(seed, k, net)
                if extra:
                    rows = [row | extra(i, row) for i, row in enumerate(rows)]
                predicted[fold] = (fit or ridge)(features, rows, train, fold, self)
            predictions.append(predicted)
        cells = [self.spread(predictions, np.ones(len(self.pairs), dtype=bool))]
        cells += [self.spread(predictions, self.language_pair == lp) for lp in LANGUAGES]
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)

    def spread(self, predictions: list[np.ndarray], mask: np.ndarray) -> str:
        values = [pearson(p[mask], self.gold[mask]) for p in predictions]
        return f"{mean(values):.3f} ({min(values):.3f}–{max(values):.3f})"


def ridge(
    features: Sequence[str], rows: Rows, train: list[int], fold: list[int], study: Study
) -> np.ndarray:
    gold = [study.pairs[i].scores for i in train]
    variant = fit_variant(tuple(features), [rows[i] for i in train], gold)
    return np.array([variant.scores(rows[i])["overall"] for i in fold])


def calibrated(shrink: float) -> Fit:
    """Per same-language pair: offset and slope on the global prediction, ridge-shrunk to 0."""

    def fit(
        features: Sequence[str], rows: Rows, train: list[int], fold: list[int], study: Study
    ) -> np.ndarray:
        everything = ridge(features, rows, train, list(range(len(rows))), study)
        out = everything[fold].copy()
        for language_pair in set(study.language_pair[fold]):
            first, second = language_pair.split("-")
            known = [i for i in train if study.language_pair[i] == language_pair]
            if first != second or len(known) < 5:
                continue
            x, y = everything[known], study.gold[known]
            design = np.c_[np.ones(len(x)), x - x.mean()]
            w = np.linalg.solve(design.T @ design + shrink * np.eye(2), design.T @ (y - x))
            mask = study.language_pair[fold] == language_pair
            out[mask] = np.clip(out[mask] + w[0] + w[1] * (out[mask] - x.mean()), 1, 4)
        return out

    return fit


def blended(make: Callable[[], object]) -> Fit:
    """Half ridge, half a tree ensemble."""

    def fit(
        features: Sequence[str], rows: Rows, train: list[int], fold: list[int], study: Study
    ) -> np.ndarray:
        x = np.array([[r[k] for k in features] for r in rows])
        model = make().fit(x[train], study.gold[train])  # type: ignore[attr-defined]
        trees = np.clip(model.predict(x[fold]), 1, 4)
        return 0.5 * ridge(features, rows, train, fold, study) + 0.5 * trees

    return fit


def lexical(study: Study) -> dict[int, dict[str, float]]:
    """Word overlap features of each pair (document frequency over all the pairs' articles)."""

    def words(text: str, language: str) -> set[str]:
        if language in ("zh", "ja"):
            text = re.sub(r"\s", "", text)
            return {text[i : i + 2] for i in range(len(text) - 1)}
        return {w.casefold() for w in WORD.findall(text)}

    articles = {a.id: a for p in study.pairs for a in (p.a, p.b)}
    tokens = {k: words(a.full_text, a.language or "") for k, a in articles.items()}
    df = Counter(t for found in tokens.values() for t in found)
    found: dict[int, dict[str, float]] = {}
    for i, pair in enumerate(study.pairs):
        a, b = tokens[pair.a.id], tokens[pair.b.id]
        shared = a & b
        idf = {t: np.log(len(articles) / df[t]) for t in a | b}
        weight = min(sum(idf[t] for t in a) or 1.0, sum(idf[t] for t in b) or 1.0)
        pa, pb = study.prepared[pair.a.id], study.prepared[pair.b.id]
        va, vb = pa.vectors[UseEncoder.name], pb.vectors[UseEncoder.name]
        similarity = va.sentence_vectors @ vb.sentence_vectors.T
        best_a, best_b = similarity.max(axis=1), similarity.max(axis=0)
        found[i] = {
            "idf_overlap": sum(idf[t] for t in shared) / weight,
            "rare_shared": float(np.log1p(sum(1 for t in shared if df[t] <= 3))),
            "jaccard": len(shared) / max(1, len(a | b)),
            "best_top3": float(np.sort(similarity.ravel())[-3:].mean()),
            **{
                f"aligned_{t}": float(((best_a > t).mean() + (best_b > t).mean()) / 2)
                for t in (0.6, 0.7, 0.8)
            },
        }
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("pairs", nargs="+", type=Path)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor

    pairs = [pair for path in args.pairs for pair in load_pairs(path)]
    study = Study(pairs, args.seeds)
    shipped = VARIANTS["use+e5"]
    use = shipped[:6]
    glance = shipped[6:10]
    common = shipped[10:]
    e5 = VARIANTS["e5"][:6]
    words = lexical(study)
    squares = ("use_document_centred", "use_best_match", "glance_document_centred", "use_title")

    def more(i: int, row: dict[str, float]) -> dict[str, float]:
        same = row["same_language"]
        found = dict(words[i])
        found |= {f"{k}^2": row[k] ** 2 for k in squares}
        found |= {
            f"same×{k}": same * row[k]
            for k in (
                "use_document_centred",
                "use_best_match",
                "glance_document_centred",
                "shared_names",
            )
        }
        found["doc×names"] = row["use_document_centred"] * row["shared_names"]
        found["doc×gap"] = row["use_document_centred"] * row["publication_gap"]
        return found

    print(
        f"# {' + '.join(p.name for p in args.pairs)}: {len(pairs)} pairs, "
        f"grouped 5-fold × {args.seeds} seeds\n"
    )
    print("| variant | all | " + " | ".join(LANGUAGES) + " |")
    print("|---" + "|---:" * (1 + len(LANGUAGES)) + "|")
    study.run("today: template text kept", shipped, net=False)
    study.run("**net of template (shipped)**", shipped)
    for name in (
        "aligned_0.6",
        "aligned_0.7",
        "aligned_0.8",
        "best_top3",
        "idf_overlap",
        "rare_shared",
        "jaccard",
    ):
        study.run(f"+ {name}", (*shipped, name), more)
    study.run(
        "+ same_language × (doc, best, glance, names)",
        (*shipped, *(k for k in more(0, study.rows(0, 0, True)[0]) if k.startswith("same×"))),
        more,
    )
    study.run("+ squares of doc/best/glance/title", (*shipped, *(f"{k}^2" for k in squares)), more)
    study.run("+ doc × names, doc × gap", (*shipped, "doc×names", "doc×gap"), more)
    for shrink in (3.0, 10.0, 30.0):
        study.run(f"per-language calibration, shrink {shrink:g}", shipped, fit=calibrated(shrink))
    study.run(
        "½ ridge + ½ gradient boosting",
        shipped,
        fit=blended(
            lambda: GradientBoostingRegressor(
                n_estimators=150, max_depth=2, learning_rate=0.05, subsample=0.8, random_state=0
            )
        ),
    )
    study.run(
        "½ ridge + ½ random forest",
        shipped,
        fit=blended(
            lambda: RandomForestRegressor(300, min_samples_leaf=5, random_state=0, n_jobs=1)
        ),
    )
    study.run("e5 variant alone, template kept", VARIANTS["e5"], net=False)
    study.run("e5 variant alone", VARIANTS["e5"])
    study.run("full e5 + USE + glance", (*e5, *use, *glance, *common))
    study.run("full e5 + USE, no glance", (*e5, *use, *common))


if __name__ == "__main__":
    main()
