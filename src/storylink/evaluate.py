"""Measure storylink against gold labels: labelled pairs in, correlations out."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from .article import Article
from .compare import (
    CompareError,
    Comparer,
    PairScore,
    WorkerSetup,
    analyse_chunk,
    load_worker_models,
)
from .executor import TASK_ARTICLES, Engine, InProcess, make_executor
from .features import PreparedArticle
from .read import FieldNames, ReadError, record_article
from .scorer import DIMENSIONS, SAME_STORY_MAX_OVERALL


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
    """Article n (1 or 2) of a pair row: text1, title1, lang1 (CSV: url1_lang), date1, url1."""
    row = dict(row)
    row.setdefault(f"lang{n}", row.get(f"url{n}_lang"))
    row.setdefault(f"date{n}", row.get(f"publish_date{n}"))
    if f"text{n}" not in row:
        raise ReadError(f"{origin}: no text{n} column")
    if not str(row[f"text{n}"] or "").strip():
        raise ReadError(f"{origin}: text{n} is empty")
    fields = FieldNames(f"title{n}", f"text{n}", f"url{n}", f"date{n}", f"lang{n}", f"source{n}")
    return record_article(row, fields, f"{origin}/{n}")


def _scores(row: dict[str, Any], origin: str, required: bool = True) -> dict[str, float]:
    """Gold scores from a nested "scores" object (JSONL) or per-dimension columns (CSV)."""
    given = row.get("scores")
    if not isinstance(given, dict):
        given = {k.lower(): v for k, v in row.items() if k.lower() in DIMENSIONS}
    if not given and not required:
        return {}
    if "overall" not in given:
        raise ReadError(f"{origin}: no overall score")
    scores: dict[str, float] = {}
    for name, value in given.items():
        # Overall is 1–4; the official data has a few 4.5 and 5 in geography and time
        top = 4.0 if name == "overall" else 5.0
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ReadError(f"{origin}: score {name} = {value!r} is not a number") from None
        if not 1.0 <= number <= top:
            raise ReadError(f"{origin}: score {name} = {value!r} is outside 1–{top:g}")
        scores[name] = number
    return scores


def _rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(origin, row) of a JSONL or CSV pairs file."""
    text = path.read_text("utf-8")
    if path.suffix.lower() == ".csv":
        for number, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
            yield f"{path} row {number}", dict(row)
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        origin = f"{path} line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise ReadError(f"{origin}: malformed JSON ({error.msg})") from error
        if not isinstance(row, dict):
            raise ReadError(f"{origin}: expected a JSON object")
        yield origin, row


def load_pairs(path: str | Path, gold: bool = True) -> list[LabelledPair]:
    """Labelled pairs from JSONL (the shared layout: pair_id, lang1, text1, …, scores{…}) or
    CSV (the official SemEval layout: pair_id, url1_lang, …, Overall, … plus text1/text2).
    With `gold=False` a pair may come without scores (pairs to score, not to evaluate on).

    Raises `ReadError` naming the first bad row: missing columns, empty texts, scores outside
    the scale.
    """
    pairs: list[LabelledPair] = []
    for origin, row in _rows(Path(path)):
        scores = _scores(row, origin, gold)
        pair_id = str(row.get("pair_id") or len(pairs) + 1)
        pairs.append(LabelledPair(pair_id, _side(row, 1, origin), _side(row, 2, origin), scores))
    if not pairs:
        raise ReadError(f"{path}: no pairs")
    return pairs


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    """Pearson correlation; NaN when either side is constant or there are < 2 values."""
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(a) < 2 or a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, tied values sharing their mean rank ([5, 7, 7, 9] → [1, 2.5, 2.5, 4])."""
    array = np.asarray(values, dtype=np.float64)
    order = np.argsort(array, kind="mergesort")
    position = np.empty(len(array), dtype=np.int64)
    position[order] = np.arange(len(array))
    ordered = array[order]
    starts = np.r_[True, ordered[1:] != ordered[:-1]]
    group = starts.cumsum()[position]  # 1-based tie group of each value
    bounds = np.r_[np.nonzero(starts)[0], len(array)]
    mean_ranks: list[float] = (0.5 * (bounds[group - 1] + bounds[group] + 1)).tolist()
    return mean_ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman rank correlation: Pearson of the ranks."""
    return pearson(ranks(x), ranks(y))


@dataclass(frozen=True)
class PairMetrics:
    """How predicted pair scores agree with gold: what `storylink eval` reports."""

    n_pairs: int
    pearson: dict[str, float]
    spearman: dict[str, float]
    by_language_pair: dict[str, dict[str, Any]]
    same_story: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _correlations(
    gold: Sequence[Mapping[str, float]], predicted: Sequence[Mapping[str, float]]
) -> tuple[dict[str, float], dict[str, float]]:
    dimensions = [
        d
        for d in DIMENSIONS
        if all(d in g and d in p for g, p in zip(gold, predicted, strict=True))
    ]
    by = {d: ([g[d] for g in gold], [p[d] for p in predicted]) for d in dimensions}
    return (
        {d: _rounded(pearson(*by[d])) for d in dimensions},
        {d: _rounded(spearman(*by[d])) for d in dimensions},
    )


def _rounded(value: float) -> float:
    return round(value, 4) if value == value else value  # NaN stays NaN


def pair_metrics(
    pairs: Sequence[LabelledPair],
    predicted: Sequence[Mapping[str, float]],
    same_story: Sequence[bool],
) -> PairMetrics:
    """Pearson and Spearman per dimension, overall and per language pair, and precision, recall
    and F1 of the same-story verdict against gold Overall ≤ 2."""
    gold = [p.scores for p in pairs]
    pearsons, spearmans = _correlations(gold, predicted)
    groups: dict[str, list[int]] = {}
    for i, pair in enumerate(pairs):
        groups.setdefault(pair.language_pair, []).append(i)
    by_language_pair = {}
    for name, members in sorted(groups.items()):
        r, rho = _correlations([gold[i] for i in members], [predicted[i] for i in members])
        by_language_pair[name] = {"n_pairs": len(members), "pearson": r, "spearman": rho}
    truth = [g["overall"] <= SAME_STORY_MAX_OVERALL for g in gold]
    hits = sum(t and p for t, p in zip(truth, same_story, strict=True))
    precision = hits / sum(same_story) if any(same_story) else 0.0
    recall = hits / sum(truth) if any(truth) else 0.0
    verdict = {
        "precision": _rounded(precision),
        "recall": _rounded(recall),
        "f1": _rounded(_f1(precision, recall)),
    }
    return PairMetrics(len(pairs), pearsons, spearmans, by_language_pair, verdict)


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


def score_pairs(
    pairs: Sequence[LabelledPair],
    comparer: Comparer | None = None,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
    engine: Engine | None = None,
) -> list[PairScore | str]:
    """Score every pair as `storylink compare` would; a pair that cannot be scored becomes a
    message saying why. With `workers` > 1 (or a Dask `engine`) the articles are analysed in
    worker processes (the slow part: encoders and names), the pairs are then scored here."""
    comparer = comparer or Comparer()
    articles = list({a.id: a for pair in pairs for a in (pair.a, pair.b)}.values())
    engine = engine or Engine(workers=workers)
    # small chunks balance local processes (an article only e5 reads costs seconds); a Dask
    # task carries more to keep its overhead per article small
    size = TASK_ARTICLES if engine.name == "dask" else 4
    chunks = [articles[i : i + size] for i in range(0, len(articles), size)]
    cache = comparer.encoders.cache.path if comparer.encoders.cache else None
    setup = WorkerSetup(comparer.glance, comparer.compact_vectors, str(cache) if cache else None)
    executor = make_executor(engine, partial(load_worker_models, setup))
    local = isinstance(executor, InProcess)
    analysed: dict[str, PreparedArticle | str] = {}
    try:
        work = partial(analyse_chunk, comparer=comparer if local else None, setup=setup)
        for chunk, results in zip(chunks, executor.map(work, chunks), strict=True):
            analysed.update((a.id, r) for a, r in zip(chunk, results, strict=True))
            if progress:
                progress(len(analysed), len(articles))
    finally:
        executor.close()
    scored: list[PairScore | str] = []
    for pair in pairs:
        pa, pb = analysed[pair.a.id], analysed[pair.b.id]
        if isinstance(pa, str) or isinstance(pb, str):
            scored.append(pa if isinstance(pa, str) else str(pb))
            continue
        try:
            scored.append(comparer.score(pa, pb))
        except CompareError as error:
            scored.append(str(error))
    return scored
