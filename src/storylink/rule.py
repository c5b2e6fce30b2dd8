"""The first scoring rule: ridge regression for Overall, logistic regression for same-story.

Features are standardised, so each weight reads as "how much one standard deviation of this
feature moves the score". One rule per encoder, because cosine scales differ between encoders.
Pure numpy: fitting 200 pairs takes milliseconds and needs no extra dependency.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

FEATURES = (
    "document_cosine",
    "sentence_mean_cosine",
    "title_cosine",
    "best_match_mean",
    "coverage",
    "shared_names",
    "shared_dates",
    "shared_numbers",
    "publication_gap",
    "same_language",
)
SAME_STORY_MAX_OVERALL = 2.0


@dataclass(frozen=True)
class EncoderRule:
    """Fitted coefficients for one encoder's feature scale."""

    overall_weights: dict[str, float]
    overall_bias: float
    same_story_weights: dict[str, float]
    same_story_bias: float
    align_threshold: float
    feature_means: dict[str, float]
    feature_scales: dict[str, float]

    @classmethod
    def untrained(cls, align_threshold: float) -> EncoderRule:
        """A neutral rule (every pair scores 2.5, p = 0.5), used while fitting."""
        zeros = dict.fromkeys(FEATURES, 0.0)
        return cls(zeros, 2.5, zeros, 0.0, align_threshold, zeros, dict.fromkeys(FEATURES, 1.0))

    def _standardised(self, features: dict[str, float]) -> np.ndarray:
        return np.array(
            [(features[k] - self.feature_means[k]) / self.feature_scales[k] for k in FEATURES]
        )

    def overall(self, features: dict[str, float]) -> float:
        weights = [self.overall_weights[k] for k in FEATURES]
        raw = self.overall_bias + float(np.dot(weights, self._standardised(features)))
        return float(min(4.0, max(1.0, raw)))

    def probability(self, features: dict[str, float]) -> float:
        weights = [self.same_story_weights[k] for k in FEATURES]
        logit = self.same_story_bias + float(np.dot(weights, self._standardised(features)))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, logit))))


@dataclass(frozen=True)
class ScoringRule:
    """One `EncoderRule` per encoder, as fitted by benchmarks/fit_rule.py."""

    encoders: dict[str, EncoderRule]
    fitted_on: str = ""

    @classmethod
    def load(cls, path: str | Path | None = None) -> ScoringRule:
        if path is None:
            text = resources.files("storylink").joinpath("data/rule.json").read_text("utf-8")
        else:
            text = Path(path).read_text("utf-8")
        data = json.loads(text)
        return cls(
            {k: EncoderRule(**v) for k, v in data["encoders"].items()}, data.get("fitted_on", "")
        )

    def save(self, path: str | Path) -> None:
        data = {
            "fitted_on": self.fitted_on,
            "encoders": {k: asdict(v) for k, v in self.encoders.items()},
        }
        Path(path).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", "utf-8")


@lru_cache(maxsize=1)
def default_rule() -> ScoringRule:
    """The rule shipped inside the package."""
    return ScoringRule.load()


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


def fit_encoder_rule(
    rows: Sequence[dict[str, float]],
    overall: Sequence[float],
    align_threshold: float,
    l2: float = 1.0,
) -> EncoderRule:
    """Fit one encoder's rule on feature rows and gold Overall scores."""
    matrix = np.array([[row[k] for k in FEATURES] for row in rows], dtype=np.float64)
    gold = np.asarray(overall, dtype=np.float64)
    means = matrix.mean(axis=0)
    scales = matrix.std(axis=0)
    scales[scales < 1e-9] = 1.0
    x = np.hstack([np.ones((len(matrix), 1)), (matrix - means) / scales])
    penalty = l2 * np.eye(x.shape[1])
    penalty[0, 0] = 0.0
    ridge = np.linalg.solve(x.T @ x + penalty, x.T @ gold)
    logistic = _logistic(x, (gold <= SAME_STORY_MAX_OVERALL).astype(np.float64), l2)
    return EncoderRule(
        overall_weights={k: float(w) for k, w in zip(FEATURES, ridge[1:], strict=True)},
        overall_bias=float(ridge[0]),
        same_story_weights={k: float(w) for k, w in zip(FEATURES, logistic[1:], strict=True)},
        same_story_bias=float(logistic[0]),
        align_threshold=float(align_threshold),
        feature_means={k: float(m) for k, m in zip(FEATURES, means, strict=True)},
        feature_scales={k: float(s) for k, s in zip(FEATURES, scales, strict=True)},
    )
