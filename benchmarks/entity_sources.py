"""What each source of shared names, dates and numbers finds, and whether it tells stories apart.

    .venv/bin/python benchmarks/entity_sources.py [../shared/data/semeval8/dev_pairs.jsonl]

For every pair (the shipped example articles, and the dev pairs when given) it counts shared
items per kind and per matching method ("gazetteer", "transliteration", "same spelling",
date/number values). A source is useful when it fires on same-story pairs and stays quiet on
different-story pairs; the table shows the mean count per pair for both, and the ratio.
Gold "same story": the example articles' story key, or Overall ≤ 2 for dev pairs.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from storylink.compare import Comparer, PairScore
from storylink.demo import run_demo
from storylink.evaluate import load_pairs
from storylink.scorer import SAME_STORY_MAX_OVERALL


def sources(score: PairScore) -> Counter[str]:
    """Shared items of one pair, keyed "kind / method"."""
    ex = score.explanation
    found: Counter[str] = Counter()
    for kind in ("people", "places", "organisations"):
        for name in getattr(ex, kind):
            found[f"{kind} / {name.how}"] += 1
    found["dates / value"] += len(ex.dates)
    found["numbers / value"] += len(ex.numbers)
    return found


def table(title: str, labelled: Iterable[tuple[bool, PairScore]]) -> None:
    same: Counter[str] = Counter()
    different: Counter[str] = Counter()
    n_same = n_different = 0
    for is_same, score in labelled:
        if is_same:
            same += sources(score)
            n_same += 1
        else:
            different += sources(score)
            n_different += 1
    print(f"\n{title}: {n_same} same-story pairs, {n_different} different-story pairs")
    print("| source | mean per same-story pair | mean per different-story pair | ratio |")
    print("|---|---:|---:|---:|")
    for key in sorted(set(same) | set(different)):
        s, d = same[key] / max(1, n_same), different[key] / max(1, n_different)
        ratio = f"{s / d:.1f}" if d else "∞"
        print(f"| {key} | {s:.2f} | {d:.2f} | {ratio} |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("pairs", nargs="?", type=Path, help="labelled pairs (JSONL), optional")
    args = parser.parse_args()
    comparer = Comparer()
    started = time.perf_counter()
    examples = [(pair.same_story_gold, pair.score) for pair in run_demo(comparer)]
    table("Example articles (all pairs)", examples)
    if args.pairs:
        dev: list[tuple[bool, PairScore]] = []
        cross: list[tuple[bool, PairScore]] = []
        for pair in load_pairs(args.pairs):
            labelled = (
                pair.scores["overall"] <= SAME_STORY_MAX_OVERALL,
                comparer.compare(pair.a, pair.b),
            )
            (cross if pair.a.language != pair.b.language else dev).append(labelled)
        table(f"{args.pairs.name}, same-language pairs", dev)
        table(f"{args.pairs.name}, cross-language pairs", cross)
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
