"""Search with short queries: rank articles by document, title, or the better of the two.

    .venv/bin/python benchmarks/search_quality.py [PAIRS.jsonl]

No labelled queries exist for the dev articles, so headlines stand in for what users type: for
each same-story dev pair (gold Overall <= 2), the title of one article is the query and the
other article is the one to find among all the other articles (both directions; many pairs
are cross-lingual). Each way of ranking z-scores its cosines over all articles first, as
`StoryStore.search` does against its index background, so document and title cosines are on
one scale. Prints mean reciprocal rank and recall at 1 and 5 of the partner.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from storylink.encode import UseEncoder
from storylink.evaluate import load_pairs
from storylink.stories import pair_articles

DEFAULT_PAIRS = Path(__file__).resolve().parents[2] / "shared/data/semeval8/dev_pairs.jsonl"


def zscores(cosines: np.ndarray) -> np.ndarray:
    scaled: np.ndarray = (cosines - cosines.mean()) / cosines.std()
    return scaled


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("pairs", nargs="?", type=Path, default=DEFAULT_PAIRS)
    args = parser.parse_args()
    pairs = load_pairs(args.pairs)
    articles = pair_articles(pairs)
    row = {a.id: i for i, a in enumerate(articles)}
    encoder = UseEncoder(2)
    documents = encoder.encode([a.full_text for a in articles])
    titles = encoder.encode([a.title or a.full_text for a in articles])
    ranks: dict[str, list[int]] = {"document": [], "title": [], "max (shipped)": [], "mean": []}
    for pair in pairs:
        if pair.scores["overall"] > 2:
            continue
        for query, wanted in ((pair.a, pair.b), (pair.b, pair.a)):
            if not query.title:
                continue
            vector = encoder.encode([query.title])[0]
            by_document, by_title = zscores(documents @ vector), zscores(titles @ vector)
            ways = {
                "document": by_document,
                "title": by_title,
                "max (shipped)": np.maximum(by_document, by_title),
                "mean": (by_document + by_title) / 2,
            }
            for name, scores in ways.items():
                scores = scores.copy()
                scores[row[query.id]] = -np.inf  # the query's own article is not a hit
                ranks[name].append(int((scores > scores[row[wanted.id]]).sum()) + 1)
    count = len(ranks["document"])
    print(f"{count} title queries, each for its same-story partner among {len(articles) - 1}")
    print("| ranking | MRR | recall@1 | recall@5 |\n|---|---:|---:|---:|")
    for name, found in ranks.items():
        r = np.array(found)
        print(f"| {name} | {np.mean(1 / r):.3f} | {np.mean(r == 1):.3f} | {np.mean(r <= 5):.3f} |")


if __name__ == "__main__":
    main()
