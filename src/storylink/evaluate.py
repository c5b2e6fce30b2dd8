"""Measure storylink against gold labels: labelled pairs in, correlations out."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .article import Article
from .read import FieldNames, ReadError, record_article


@dataclass(frozen=True)
class LabelledPair:
    """Two articles and their gold SemEval-2022 Task 8 scores (1 = very similar … 4)."""

    pair_id: str
    a: Article
    b: Article
    scores: dict[str, float]

    @property
    def language_pair(self) -> str:
        return f"{self.a.language}-{self.b.language}"


def _side(row: dict[str, Any], n: int, origin: str) -> Article:
    """Article n (1 or 2) of a pair row: fields text1, title1, lang1, date1, url1."""
    fields = FieldNames(f"title{n}", f"text{n}", f"url{n}", f"date{n}", f"lang{n}", f"source{n}")
    return record_article(row, fields, f"{origin}/{n}")


def load_pairs(path: str | Path) -> list[LabelledPair]:
    """Pairs in the shared JSONL layout (pair_id, lang1, text1, …, scores{…})."""
    pairs: list[LabelledPair] = []
    for number, line in enumerate(Path(path).read_text("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        origin = f"{path}#{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise ReadError(f"{origin}: malformed JSON ({error.msg})") from error
        scores = row.get("scores") or {}
        if "overall" not in scores:
            raise ReadError(f"{origin}: no scores.overall")
        for name, value in scores.items():
            # Overall is 1–4; the official data has a few 4.5 and 5 in geography and time
            top = 4.0 if name == "overall" else 5.0
            if not isinstance(value, int | float) or not 1.0 <= float(value) <= top:
                raise ReadError(f"{origin}: scores.{name} = {value!r} is outside 1–{top:g}")
        pair_id = str(row.get("pair_id") or number)
        pairs.append(
            LabelledPair(pair_id, _side(row, 1, origin), _side(row, 2, origin), dict(scores))
        )
    return pairs


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    """Pearson correlation; NaN when either side is constant or there are < 2 values."""
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(a) < 2 or a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def grouped_folds(pairs: Sequence[LabelledPair], k: int = 5, seed: int = 0) -> list[list[int]]:
    """k folds of pair indices where pairs sharing an article stay in one fold."""
    parent = list(range(len(pairs)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for index, pair in enumerate(pairs):
        for article in (pair.a, pair.b):
            if article.id in owner:
                parent[find(index)] = find(owner[article.id])
            else:
                owner[article.id] = index
    groups: dict[int, list[int]] = {}
    for index in range(len(pairs)):
        groups.setdefault(find(index), []).append(index)
    order = list(groups.values())
    np.random.default_rng(seed).shuffle(order)
    folds: list[list[int]] = [[] for _ in range(k)]
    for group in sorted(order, key=len, reverse=True):
        min(folds, key=len).extend(group)
    return folds


@dataclass(frozen=True)
class ClusteringScores:
    """Pairwise precision/recall/F1 of "same story" decisions on labelled article pairs."""

    precision: float
    recall: float
    f1: float
    n_pairs: int
    true_positives: int
    false_positives: int
    false_negatives: int


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def pairwise_clustering(
    pairs: Sequence[tuple[str, str, bool]], story_of: Mapping[str, int]
) -> ClusteringScores:
    """Score a clustering on (article a, article b, gold same story) pairs.

    A pair counts as predicted "same" when both articles are in one story; an article missing
    from `story_of` (skipped at ingest) is a story of its own.
    """
    tp = fp = fn = 0
    for a, b, gold in pairs:
        same = a in story_of and story_of.get(a) == story_of.get(b)
        tp += same and gold
        fp += same and not gold
        fn += gold and not same
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return ClusteringScores(precision, recall, _f1(precision, recall), len(pairs), tp, fp, fn)


def labelled_story_pairs(
    pairs: Sequence[LabelledPair], same: float = 2.0, different: float = 3.0
) -> list[tuple[str, str, bool]]:
    """Gold same-story pairs: Overall ≤ `same` is one story, ≥ `different` two; the rest
    (annotators undecided) is left out."""
    gold = []
    for pair in pairs:
        overall = pair.scores["overall"]
        if overall <= same or overall >= different:
            gold.append((pair.a.id, pair.b.id, overall <= same))
    return gold


def bcubed(gold: Mapping[str, str], story_of: Mapping[str, int]) -> tuple[float, float, float]:
    """BCubed precision, recall and F1 of a clustering against gold clusters (article id →
    gold story label), over the articles that have a gold label."""
    ids = list(gold)
    predicted = {i: story_of.get(i, -1 - n) for n, i in enumerate(ids)}  # missing: singleton
    by_gold: dict[str, set[str]] = {}
    by_predicted: dict[int, set[str]] = {}
    for i in ids:
        by_gold.setdefault(gold[i], set()).add(i)
        by_predicted.setdefault(predicted[i], set()).add(i)
    precision = recall = 0.0
    for i in ids:
        mine, truth = by_predicted[predicted[i]], by_gold[gold[i]]
        overlap = len(mine & truth)
        precision += overlap / len(mine)
        recall += overlap / len(truth)
    if not ids:
        return 0.0, 0.0, 0.0
    precision, recall = precision / len(ids), recall / len(ids)
    return precision, recall, _f1(precision, recall)
