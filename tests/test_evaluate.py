import json
import math
from pathlib import Path

import numpy as np
import pytest

from storylink.evaluate import (
    bcubed,
    grouped_folds,
    labelled_story_pairs,
    load_pairs,
    pairwise_clustering,
    pearson,
)
from storylink.read import ReadError
from storylink.rule import FEATURES, fit_encoder_rule

from .conftest import DEV_PAIRS, need


def test_pearson_hand_computed() -> None:
    # x = 1,2,3 ; y = 1,3,2: cov = 0.5, var x = var y = 1 (sample) → r = 0.5
    assert pearson([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert math.isnan(pearson([1, 1, 1], [1, 2, 3]))


def row(pair_id: str, text1: str, text2: str, overall: float = 2.0, **extra: object) -> str:
    data = {
        "pair_id": pair_id,
        "lang1": "en",
        "lang2": "de",
        "title1": "",
        "title2": "",
        "text1": text1,
        "text2": text2,
        "date1": "2020-01-01",
        "date2": "",
        "scores": {"overall": overall, "geography": 1.0},
    }
    data.update(extra)
    return json.dumps(data)


def test_load_pairs(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(row("1_2", "Alpha text.", "Beta Text.", 1.5) + "\n", "utf-8")
    (pair,) = load_pairs(path)
    assert pair.pair_id == "1_2" and pair.language_pair == "en-de"
    assert (
        pair.scores["overall"] == 1.5 and pair.a.published is not None and pair.b.published is None
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (row("x", "Alpha.", "Beta.", 4.5), r"p\.jsonl#2: scores\.overall = 4\.5 is outside 1–4"),
        (row("x", "Alpha.", "  "), r"p\.jsonl#2/2: article has no text"),
        (row("x", "Alpha.", "Beta.", scores={"geography": 1}), r"p\.jsonl#2: no scores\.overall"),
        ("{not json", r"p\.jsonl#2: malformed JSON"),
    ],
)
def test_malformed_pairs_name_the_row(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(row("ok", "Fine.", "Also fine.") + "\n" + line + "\n", "utf-8")
    with pytest.raises(ReadError, match=message):
        load_pairs(path)


def test_grouped_folds_keep_shared_articles_together(tmp_path: Path) -> None:
    lines = [row(str(i), f"Article {i}.", f"Article {i + 1}.") for i in range(0, 10, 2)]
    lines += [row("chain", "Article 0.", "Article 4.")]  # joins pairs 0 and 2 into one group
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join(lines), "utf-8")
    pairs = load_pairs(path)
    folds = grouped_folds(pairs, k=3, seed=1)
    assert sorted(i for fold in folds for i in fold) == list(range(len(pairs)))
    home = {i: n for n, fold in enumerate(folds) for i in fold}
    assert home[0] == home[2] == home[5]
    assert folds == grouped_folds(pairs, k=3, seed=1)


def test_rule_fit_is_deterministic_and_recovers_a_trend() -> None:
    rng = np.random.default_rng(0)
    rows = [{k: float(rng.normal()) for k in FEATURES} for _ in range(80)]
    gold = [min(4.0, max(1.0, 2.5 - 0.8 * r["document_cosine"])) for r in rows]
    first, second = fit_encoder_rule(rows, gold, 0.5), fit_encoder_rule(rows, gold, 0.5)
    assert first == second
    predicted = [first.overall(r) for r in rows]
    assert pearson(predicted, gold) > 0.95
    assert first.overall_weights["document_cosine"] < -0.5
    high = first.probability({**rows[0], "document_cosine": 3.0})
    low = first.probability({**rows[0], "document_cosine": -3.0})
    assert high > 0.9 > 0.1 > low


def test_dev_pairs_load() -> None:
    pairs = load_pairs(need(DEV_PAIRS))
    assert len(pairs) >= 100
    assert len({p.language_pair for p in pairs}) >= 10


def test_pairwise_clustering_hand_computed() -> None:
    story_of = {"a": 1, "b": 1, "c": 2, "d": 2, "e": 3}
    pairs = [
        ("a", "b", True),  # joined, gold same: true positive
        ("c", "d", False),  # joined, gold different: false positive
        ("a", "c", True),  # apart, gold same: false negative
        ("b", "e", False),  # apart, gold different: true negative
        ("x", "y", True),  # both skipped at ingest: singletons, a miss
    ]
    scores = pairwise_clustering(pairs, story_of)
    assert (scores.true_positives, scores.false_positives, scores.false_negatives) == (1, 1, 2)
    assert scores.precision == pytest.approx(1 / 2)
    assert scores.recall == pytest.approx(1 / 3)
    assert scores.f1 == pytest.approx(2 * (1 / 2) * (1 / 3) / (1 / 2 + 1 / 3))
    assert scores.n_pairs == 5


def test_bcubed_hand_computed() -> None:
    gold = {"a": "x", "b": "x", "c": "y"}
    # predicted: {a, b, c} together → precision per item 2/3, 2/3, 1/3; recall 1, 1, 1
    precision, recall, f1 = bcubed(gold, {"a": 1, "b": 1, "c": 1})
    assert precision == pytest.approx(5 / 9)
    assert recall == pytest.approx(1.0)
    assert f1 == pytest.approx(2 * (5 / 9) / (5 / 9 + 1))
    assert bcubed(gold, {"a": 1, "b": 1, "c": 2}) == pytest.approx((1.0, 1.0, 1.0))


def test_labelled_story_pairs_leave_out_undecided(tmp_path: Path) -> None:
    path = tmp_path / "pairs.jsonl"
    rows = [row("1", "Alpha text.", "Beta text.", 1.5), row("2", "Gamma.", "Delta.", 2.5)]
    path.write_text("\n".join([*rows, row("3", "Eps.", "Zeta.", 3.0)]) + "\n", "utf-8")
    gold = labelled_story_pairs(load_pairs(path))
    assert [same for _, _, same in gold] == [True, False]
