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
    pair_metrics,
    pairwise_clustering,
    pearson,
    ranks,
    spearman,
)
from storylink.read import ReadError
from storylink.scorer import DIMENSIONS, fit_variant

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
        (row("x", "Alpha.", "Beta.", 4.5), r"p\.jsonl line 2: score overall = 4\.5 is outside 1–4"),
        (row("x", "Alpha.", "  "), r"p\.jsonl line 2: text2 is empty"),
        (row("x", "Alpha.", "Beta.", scores={"geography": 1}), r"p\.jsonl line 2: no overall"),
        (
            row("x", "Alpha.", "Beta.", scores={"overall": 2, "tone": 0.5}),
            r"line 2: score tone = 0\.5 is outside 1–5",
        ),
        (
            row("x", "Alpha.", "Beta.", scores={"overall": "high"}),
            r"line 2: score overall = 'high' is not a number",
        ),
        ('{"pair_id": "x", "text1": "A.", "scores": {"overall": 2}}', r"line 2: no text2 column"),
        ("{not json", r"p\.jsonl line 2: malformed JSON"),
        ("[1, 2]", r"p\.jsonl line 2: expected a JSON object"),
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


def test_scorer_fit_is_deterministic_and_recovers_a_trend() -> None:
    rng = np.random.default_rng(0)
    features = ("signal", "noise")
    rows = [{k: float(rng.normal()) for k in features} for _ in range(80)]
    gold = [{d: min(4.0, max(1.0, 2.5 - 0.8 * r["signal"])) for d in DIMENSIONS} for r in rows]
    first, second = fit_variant(features, rows, gold), fit_variant(features, rows, gold)
    assert first == second
    predicted = [first.scores(r)["overall"] for r in rows]
    assert pearson(predicted, [g["overall"] for g in gold]) > 0.95
    assert all(1.0 <= first.scores(r)["tone"] <= 4.0 for r in rows)
    high = first.probability({**rows[0], "signal": 3.0})
    low = first.probability({**rows[0], "signal": -3.0})
    assert low < 0.2 < 0.8 < high  # high signal → low Overall → same story


def test_ranks_share_ties() -> None:
    assert ranks([5, 7, 7, 9]) == [1, 2.5, 2.5, 4]
    assert ranks([3, 1, 2, 1]) == [4, 1.5, 3, 1.5]


def test_spearman_hand_computed() -> None:
    # ranks x = 1,2,3,4 ; y = 1,3,2,4 → Pearson of ranks = 1 - 6·2/(4·15) = 0.8
    assert spearman([10, 20, 30, 40], [1, 30, 20, 400]) == pytest.approx(0.8)
    # ties get the mean rank: y = 1,2,2,3 → ranks 1, 2.5, 2.5, 4
    assert spearman([1, 2, 3, 4], [5, 7, 7, 9]) == pytest.approx(
        pearson([1, 2, 3, 4], [1, 2.5, 2.5, 4])
    )


def test_pair_metrics_hand_computed(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    lines = [
        row(str(i), f"Text {i}.", f"Other {i}.", overall) for i, overall in enumerate([1, 2, 3, 4])
    ]
    lines.append(row("4", "Texte.", "Autre.", 1.0, lang1="fr", lang2="fr"))
    path.write_text("\n".join(lines) + "\n", "utf-8")
    pairs = load_pairs(path)
    predicted = [{"overall": v, "geography": 1.0 + (i == 0)} for i, v in enumerate([1, 3, 2, 4, 1])]
    verdict = [True, False, True, False, True]
    metrics = pair_metrics(pairs, predicted, verdict)
    assert metrics.n_pairs == 5
    assert metrics.pearson["overall"] == pytest.approx(
        pearson([1, 3, 2, 4, 1], [1, 2, 3, 4, 1]), abs=1e-4
    )
    assert set(metrics.pearson) == {"overall", "geography"}  # only dimensions with both sides
    assert metrics.by_language_pair["en-de"]["n_pairs"] == 4
    assert metrics.by_language_pair["en-de"]["pearson"]["overall"] == pytest.approx(0.8, abs=1e-4)
    assert math.isnan(metrics.by_language_pair["fr-fr"]["pearson"]["overall"])  # one pair
    # gold same story: pairs 0, 1, 4; predicted: 0, 2, 4 → tp 2, precision 2/3, recall 2/3
    assert metrics.same_story["precision"] == pytest.approx(0.6667, abs=1e-4)
    assert metrics.same_story["recall"] == pytest.approx(0.6667, abs=1e-4)
    assert metrics.same_story["f1"] == pytest.approx(0.6667, abs=1e-4)


def test_load_pairs_official_csv_layout(tmp_path: Path) -> None:
    path = tmp_path / "pairs.csv"
    path.write_text(
        "pair_id,url1_lang,url2_lang,title1,text1,title2,text2,Geography,Entities,Time,"
        "Narrative,Overall,Style,Tone\n"
        '1_2,en,ar,Quake,"An earthquake, felt widely.",زلزال,ضرب زلزال المدينة.,'
        "1,1.5,1,2,1.5,2,2\n",
        "utf-8",
    )
    (pair,) = load_pairs(path)
    assert pair.language_pair == "en-ar"
    assert pair.scores == {
        "geography": 1.0,
        "entities": 1.5,
        "time": 1.0,
        "narrative": 2.0,
        "overall": 1.5,
        "style": 2.0,
        "tone": 2.0,
    }
    assert pair.a.text == "An earthquake, felt widely."
    path.write_text("pair_id,url1_lang,url2_lang,text1,Overall\n1_2,en,ar,Text.,2\n", "utf-8")
    with pytest.raises(ReadError, match=r"pairs\.csv row 2: no text2 column"):
        load_pairs(path)


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
