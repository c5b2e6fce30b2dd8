"""The trained pair scorer: seven SemEval-2022 Task 8 dimensions and a same-story probability.

One ridge regression per dimension and one logistic regression for "same story" (gold Overall
≤ 2) over standardised features (`features.py`), so each weight reads as "how much one standard
deviation of this feature moves the score". Ridge won on measurements against gradient
boosting, random forests and SVR on the dev pairs (benchmarks/RESULTS.md).

A *variant* is a feature set for the vectors a pair has: ``use+e5`` (USE-m vectors plus e5
vectors of the title and lead), ``use`` (USE only: what story ingest uses, for speed) and
``e5`` (languages outside USE's 16). The artifact ships inside the package (`data/scorer.json`
and the language centroids in `data/scorer-background.npz`) and loads on first use.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .features import Background

FORMAT_VERSION = 1
DIMENSIONS = ("overall", "geography", "entities", "time", "narrative", "style", "tone")
SAME_STORY_MAX_OVERALL = 2.0
COMMON = (
    "shared_people",
    "shared_names",
    "shared_numbers",
    "shared_dates",
    "publication_gap",
    "gap_over_week",
    "same_language",
    "length_ratio",
    "short_text",
)
USE = (
    "use_document",
    "use_document_centred",
    "use_title",
    "use_title_document",
    "use_best_match",
    "boilerplate",
)
GLANCE = ("glance_document", "glance_document_centred", "glance_title", "glance_title_centred")
E5 = (
    "e5_document",
    "e5_document_centred",
    "e5_title",
    "e5_title_centred",
    "e5_title_document",
    "e5_best_match",
)
VARIANTS: dict[str, tuple[str, ...]] = {
    "use+e5": USE + GLANCE + COMMON,
    # without the e5 title, USE's centred title cosine helps story clustering (RESULTS.md)
    "use": (*USE, "use_title_centred", *COMMON),
    "e5": E5 + COMMON,
}
RIDGE_ALPHA = 10.0  # chosen on grouped CV (1, 3, 10, 30, 50 measured; RESULTS.md)
LOGISTIC_L2 = 10.0  # grouped-CV same-story F1: 0.1 → 0.76, 1 → 0.79, 10 → 0.81, 30 → 0.81
# the "use" variant decides story clustering: grouped-CV clustering F1 over 16 seeds 0.815
# (L2 10) → 0.827 (L2 30) → 0.831 (L2 30 + centred title); 3, 100, 300 lose (RESULTS.md)
VARIANT_L2 = {"use": 30.0}


@dataclass(frozen=True)
class Variant:
    """One feature set's standardisation and fitted weights."""

    features: tuple[str, ...]
    means: tuple[float, ...]
    scales: tuple[float, ...]
    weights: dict[str, tuple[float, ...]]  # per dimension, bias first
    same_story: tuple[float, ...]  # logistic weights, bias first

    def _row(self, features: Mapping[str, float]) -> np.ndarray:
        values = np.array([features[k] for k in self.features], dtype=np.float64)
        return np.concatenate([[1.0], (values - self.means) / self.scales])

    def scores(self, features: Mapping[str, float]) -> dict[str, float]:
        row = self._row(features)
        return {
            dimension: float(min(4.0, max(1.0, row @ np.asarray(weights))))
            for dimension, weights in self.weights.items()
        }

    def probability(self, features: Mapping[str, float]) -> float:
        logit = float(self._row(features) @ np.asarray(self.same_story))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, logit))))


@dataclass(frozen=True)
class Scorer:
    """Variants by name, the language background for centred cosines, and provenance."""

    variants: dict[str, Variant]
    background: Background
    align_thresholds: dict[str, float]  # per encoder: sentence pairs above it "say the same"
    fitted_on: str = ""

    def variant_for(self, features: Mapping[str, float]) -> str:
        """The first variant (most informative first) whose features are all present."""
        for name, variant in self.variants.items():
            if all(k in features for k in variant.features):
                return name
        raise KeyError(f"no scorer variant fits features {sorted(features)}")

    def save(self, directory: str | Path) -> None:
        """Write `scorer.json` and `scorer-background.npz` into `directory`."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        data = {
            "format": FORMAT_VERSION,
            "fitted_on": self.fitted_on,
            "align_thresholds": self.align_thresholds,
            "variants": {name: asdict(v) for name, v in self.variants.items()},
        }
        text = json.dumps(data, indent=1) + "\n"
        (directory / "scorer.json").write_text(text, "utf-8")
        # an .npz written member by member with a fixed date, so the file is reproducible
        with zipfile.ZipFile(directory / "scorer-background.npz", "w") as archive:
            for view, by_language in self.background.centroids.items():
                for language, vector in by_language.items():
                    buffer = io.BytesIO()
                    np.save(buffer, vector.astype(np.float16))
                    info = zipfile.ZipInfo(
                        f"{view}|{language}.npy", date_time=(1980, 1, 1, 0, 0, 0)
                    )
                    info.compress_type = zipfile.ZIP_DEFLATED
                    archive.writestr(info, buffer.getvalue())

    @classmethod
    def load(cls, directory: str | Path | None = None) -> Scorer:
        """From a directory written by `save` (default: the one shipped in the package)."""
        base: Any = (
            resources.files("storylink").joinpath("data") if directory is None else Path(directory)
        )
        data = json.loads(base.joinpath("scorer.json").read_text("utf-8"))
        if data.get("format") != FORMAT_VERSION:
            raise ValueError(f"scorer format {data.get('format')} is not {FORMAT_VERSION}")
        centroids: dict[str, dict[str, np.ndarray]] = {}
        with base.joinpath("scorer-background.npz").open("rb") as handle, np.load(handle) as npz:
            for key in npz.files:
                view, language = key.split("|")
                centroids.setdefault(view, {})[language] = npz[key].astype(np.float32)
        variants = {
            name: Variant(
                tuple(v["features"]),
                tuple(v["means"]),
                tuple(v["scales"]),
                {d: tuple(w) for d, w in v["weights"].items()},
                tuple(v["same_story"]),
            )
            for name, v in data["variants"].items()
        }
        return cls(variants, Background(centroids), data["align_thresholds"], data["fitted_on"])


@lru_cache(maxsize=1)
def default_scorer() -> Scorer:
    """The scorer shipped inside the package, loaded on first use."""
    return Scorer.load()


def _logistic(x: np.ndarray, y: np.ndarray, l2: float, iterations: int = 50) -> np.ndarray:
    """L2-regularised logistic regression by Newton's method; first column is the bias."""
    weights = np.zeros(x.shape[1])
    penalty = l2 * np.eye(x.shape[1])
    penalty[0, 0] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ weights, -30, 30)))
        gradient = x.T @ (p - y) + penalty @ weights
        hessian = (x * (p * (1 - p))[:, None]).T @ x + penalty + 1e-9 * np.eye(x.shape[1])
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if np.abs(step).max() < 1e-8:
            break
    return weights


def fit_variant(
    features: tuple[str, ...],
    rows: Sequence[Mapping[str, float]],
    gold: Sequence[Mapping[str, float]],
    alpha: float = RIDGE_ALPHA,
    l2: float = LOGISTIC_L2,
) -> Variant:
    """Fit one variant on feature rows and gold scores (closed form: deterministic); `alpha`
    is the ridge penalty, `l2` the same-story logistic's."""
    matrix = np.array([[row[k] for k in features] for row in rows], dtype=np.float64)
    means = matrix.mean(axis=0)
    scales = matrix.std(axis=0)
    scales[scales < 1e-9] = 1.0
    x = np.hstack([np.ones((len(matrix), 1)), (matrix - means) / scales])
    penalty = alpha * np.eye(x.shape[1])
    penalty[0, 0] = 0.0
    weights = {}
    for dimension in [d for d in DIMENSIONS if all(d in g for g in gold)]:  # overall always
        y = np.array([g[dimension] for g in gold], dtype=np.float64)
        weights[dimension] = tuple(float(w) for w in np.linalg.solve(x.T @ x + penalty, x.T @ y))
    same = np.array([g["overall"] <= SAME_STORY_MAX_OVERALL for g in gold], dtype=np.float64)
    logistic = _logistic(x, same, l2)
    return Variant(
        features,
        tuple(float(m) for m in means),
        tuple(float(s) for s in scales),
        weights,
        tuple(float(w) for w in logistic),
    )
