"""What differs: sentences without a counterpart on labelled pairs, and the story page's cost.

    .venv/bin/python benchmarks/divergence.py [PAIRS.jsonl ...]

For every labelled pair (gold Overall: 1 = very similar … 4) the comparer's explanation gives
each side's sentences without a counterpart (`differs.unmatched`, on the pair's own similarity
matrix). Printed: the share of sentences without a counterpart by gold Overall band and
encoder, its Pearson correlation with gold Overall (the share should rise as stories part),
how often identical sides get none, and the time `unmatched` adds per pair. Then the time
`beyond_headline` takes for a story of 200 articles of 25 sentences (USE's 512 dimensions,
int4-rounded as a store keeps them) — what a story page adds besides reading the vectors —
and the whole `story_divergence` (vectors read from SQLite) for the 5 largest stories of a
store of the pairs' articles.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from storylink.compare import Comparer
from storylink.differs import beyond_headline, both_sides, story_divergence
from storylink.encode import ArticleVectors, pack_sentences, unpack_sentences
from storylink.evaluate import load_pairs
from storylink.stories import StoryStore, pair_articles

SEMEVAL = Path(__file__).resolve().parents[2] / "shared/data/semeval8"
DEFAULT_PAIRS = [SEMEVAL / "dev_pairs.jsonl", SEMEVAL / "more_pairs.jsonl"]


def band(overall: float) -> str:
    return "1-2 (same story)" if overall <= 2 else "2-3" if overall <= 3 else "3-4 (unrelated)"


def pair_shares(paths: list[Path]) -> None:
    comparer = Comparer(glance=False)
    shares: dict[tuple[str, str], list[float]] = defaultdict(list)
    gold: list[float] = []
    share_all: list[float] = []
    seconds = 0.0
    for path in paths:
        for pair in load_pairs(path):
            score = comparer.compare(pair.a, pair.b)
            ex = score.explanation
            total = ex.sentences_a + ex.sentences_b
            share = (ex.only_in_a.total + ex.only_in_b.total) / total
            shares[band(pair.scores["overall"]), score.encoder].append(share)
            gold.append(pair.scores["overall"])
            share_all.append(share)
            pa, pb = comparer.prepare(pair.a), comparer.prepare(pair.b)
            va, vb = pa.vectors[score.encoder], pb.vectors[score.encoder]
            similarity = va.sentence_vectors @ vb.sentence_vectors.T
            threshold = comparer.scorer.align_thresholds[score.encoder]
            start = time.perf_counter()
            both_sides(similarity, va, vb, threshold)
            seconds += time.perf_counter() - start
            same = comparer.compare(pair.a, pair.a).explanation
            assert same.only_in_a.total == same.only_in_b.total == 0, pair.pair_id
    print(f"{len(gold)} pairs; identical sides: no sentence without a counterpart in all")
    pearson = np.corrcoef(share_all, gold)[0, 1]
    print(f"Pearson(share without counterpart, gold Overall) = {pearson:.3f}")
    print("| gold Overall | encoder | pairs | mean share of sentences without a counterpart |")
    print("|---|---|---|---|")
    for (name, encoder), values in sorted(shares.items()):
        print(f"| {name} | {encoder} | {len(values)} | {np.mean(values):.2f} |")
    print(f"unmatched sentences of both sides: {1e6 * seconds / len(gold):.0f} µs per pair")


def story_cost(articles: int = 200, sentences: int = 25, dimension: int = 512) -> None:
    rng = np.random.default_rng(0)
    vectors = {}
    for i in range(articles):
        raw = rng.normal(size=(sentences, dimension)).astype(np.float32)
        raw /= np.linalg.norm(raw, axis=1, keepdims=True)
        rounded = unpack_sentences(pack_sentences(raw), dimension)
        texts = [f"sentence {j} of article {i}" for j in range(sentences)]
        vectors[str(i)] = ArticleVectors("use-m3", texts, rounded, None, raw[0], raw[0])
    languages = {str(i): ("en", "ar", "de", "tr")[i % 4] for i in range(articles)}
    start = time.perf_counter()
    found = beyond_headline(vectors, "0", languages, dict.fromkeys(vectors, ""), 0.438)
    seconds = time.perf_counter() - start
    print(
        f"beyond_headline: {articles} articles x {sentences} sentences: {1e3 * seconds:.1f} ms "
        f"({len(found)} languages)"
    )


def story_pages(paths: list[Path]) -> None:
    articles = pair_articles([pair for path in paths for pair in load_pairs(path)])
    with tempfile.TemporaryDirectory() as folder, StoryStore(Path(folder) / "s.db") as stories:
        stories.add(articles)
        print(f"story_divergence on a store of {len(articles)} articles (best of 3 runs):")
        for row in stories.stories(order="largest", limit=5):
            story = stories.story(row.id)
            runs = []
            for _ in range(3):
                start = time.perf_counter()
                found = story_divergence(stories, story)
                runs.append(time.perf_counter() - start)
            print(
                f"  {story.size} articles, {len(story.languages)} languages: "
                f"{1e3 * min(runs):.1f} ms ({found.left_out} left out)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("pairs", nargs="*", type=Path, default=DEFAULT_PAIRS)
    args = parser.parse_args()
    story_cost()
    story_pages(args.pairs)
    pair_shares(args.pairs)


if __name__ == "__main__":
    main()
