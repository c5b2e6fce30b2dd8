"""Training and evaluating the pair scorer through the command line, as a user runs them."""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

from storylink.demo import examples_path
from storylink.scorer import VARIANT_L2, VARIANTS, Scorer, fit_variant

from .conftest import DEV_PAIRS, need
from .test_cli import storylink

# three stories in six languages and four scripts (Greek and Persian take the e5 variant)
CHOSEN = [
    "izmir-quake-en",
    "izmir-quake-ar",
    "izmir-quake-el",
    "izmir-quake-ru",
    "marseille-strike-fr",
    "marseille-strike-en",
    "marseille-record-fr",
    "marseille-record-en",
    "nile-summit-en",
    "nile-summit-fa",
]


def example_pairs(path: Path) -> Path:
    """Pairs of example articles labelled by their story: 1 same, 4 different, all dimensions."""
    rows = {
        row["id"]: row
        for row in map(json.loads, examples_path().read_text("utf-8").splitlines())
        if row["id"] in CHOSEN
    }
    with path.open("w", encoding="utf-8") as out:
        for a, b in combinations(CHOSEN, 2):
            ra, rb = rows[a], rows[b]
            score = 1.0 if ra["story"] == rb["story"] else 4.0
            line = {"pair_id": f"{a}_{b}", "scores": {"overall": score, "narrative": score}}
            for n, row in ((1, ra), (2, rb)):
                for field in ("title", "text", "lang", "date"):
                    line[f"{field}{n}"] = row[field]
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
    return path


def test_training_is_deterministic_and_eval_uses_the_result(tmp_path: Path) -> None:
    pairs = example_pairs(tmp_path / "pairs.jsonl")
    for out in ("first", "second"):
        result = storylink("train", "--pairs", str(pairs), "--out", str(tmp_path / out))
        # every pair shares an article with another: one grouped fold, nothing to train on
        assert result.returncode == 2 and "--folds 0" in result.stderr
        result = storylink(
            "train", "--pairs", str(pairs), "--out", str(tmp_path / out), "--folds", "0"
        )
        assert result.returncode == 0, result.stderr
    for name in ("scorer.json", "scorer-background.npz"):
        assert (tmp_path / "first" / name).read_bytes() == (tmp_path / "second" / name).read_bytes()
    first = json.loads((tmp_path / "first" / "scorer.json").read_text("utf-8"))
    assert set(first["variants"]) == {"use+e5", "use", "e5"}
    # the same pairs in two files (as dev_pairs + more_pairs): the same scorer
    lines = pairs.read_text("utf-8").splitlines(keepends=True)
    halves = [tmp_path / "half1.jsonl", tmp_path / "half2.jsonl"]
    halves[0].write_text("".join(lines[:20]), "utf-8")
    halves[1].write_text("".join(lines[20:]), "utf-8")
    split = ["--pairs", str(halves[0]), "--pairs", str(halves[1])]
    result = storylink("train", *split, "--out", str(tmp_path / "split"), "--folds", "0")
    assert result.returncode == 0, result.stderr
    both = json.loads((tmp_path / "split" / "scorer.json").read_text("utf-8"))
    assert both["variants"] == first["variants"]
    assert both["fitted_on"] == "half1.jsonl + half2.jsonl (45 pairs)"

    predictions = tmp_path / "predictions.jsonl"
    args = ["--scorer", str(tmp_path / "first"), "--out", str(predictions), "--json"]
    result = storylink("eval", str(pairs), "--no-clustering", *args)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["n_pairs"] == report["n_scored"] == 45
    assert report["pearson"]["overall"] > 0.9  # in-sample on clear-cut labels
    assert set(report["pearson"]) == {"overall", "narrative"}  # the dimensions the gold has
    assert {"en-ar", "fr-en", "en-fa"} <= set(report["by_language_pair"])
    assert report["same_story"]["f1"] > 0.9
    rows = [json.loads(line) for line in predictions.read_text("utf-8").splitlines()]
    assert len(rows) == 45
    # the dimensions it was trained on, plus the verdict
    assert set(rows[0]) == {"pair_id", "overall", "narrative", "same_story", "probability"}


def test_eval_rejects_a_malformed_pairs_file_naming_the_row(tmp_path: Path) -> None:
    pairs = example_pairs(tmp_path / "pairs.jsonl")
    lines = pairs.read_text("utf-8").splitlines()
    broken = json.loads(lines[2])
    broken["scores"]["overall"] = 7
    pairs.write_text("\n".join([*lines[:2], json.dumps(broken), *lines[3:]]) + "\n", "utf-8")
    result = storylink("eval", str(pairs))
    assert result.returncode == 2
    assert "line 3: score overall = 7 is outside 1–4" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_eval_on_dev_pairs_in_parallel(tmp_path: Path) -> None:
    out = tmp_path / "dev.jsonl"
    args = ["--workers", "2", "--no-clustering", "--json", "--out", str(out)]
    result = storylink("eval", str(need(DEV_PAIRS)), *args)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["n_scored"] == report["n_pairs"] >= 100
    assert report["pearson"]["overall"] >= 0.72  # in-sample for the shipped scorer
    assert set(report["pearson"]) == {
        "overall",
        "geography",
        "entities",
        "time",
        "narrative",
        "style",
        "tone",
    }
    assert all(len(lp.split("-")) == 2 for lp in report["by_language_pair"])
    assert len(out.read_text("utf-8").splitlines()) == report["n_scored"]


def test_shipped_scorer_matches_the_variants_and_their_penalties() -> None:
    """A feature set changed in `scorer.py` needs `storylink train` rerun: the shipped artifact
    must have exactly those features; the "use" variant (story ingest) has its own L2."""
    shipped = Scorer.load()
    assert {name: v.features for name, v in shipped.variants.items()} == VARIANTS
    assert "use_title_centred" in VARIANTS["use"] and VARIANT_L2["use"] > 10
    rng = np.random.default_rng(0)
    rows = [{"x": float(v), "y": float(w)} for v, w in rng.normal(size=(60, 2))]
    gold = [{"overall": 1.0 if r["x"] + 0.3 * r["y"] > 0 else 4.0} for r in rows]
    loose, tight = (fit_variant(("x", "y"), rows, gold, l2=l2).same_story for l2 in (1.0, 30.0))
    assert abs(tight[1]) < abs(loose[1])  # a stronger penalty: a less certain verdict
