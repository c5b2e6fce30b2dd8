"""Search that finds: queries written for the project against a store of the dev articles.

    .venv/bin/python benchmarks/search_queries.py --db /tmp/dev.db [--pairs PAIRS.jsonl]

`benchmarks/data/search_queries.json` holds short queries in several languages, each with the
dev articles of the story it should find (README there). The store is built from the pairs'
articles when `--db` does not exist yet, else reused. A query finds its story at rank r when
the r-th story of the search results holds one of its articles. Prints MRR (over the first 10
stories) and recall at 1, 3 and 5 for today's search and for ranking variants, all on the same
evidence in the same run; the variant list ends with the shipped default. Then the rank of
every query under today's and the shipped ranking, and the logistic fits of the match strength
(`search.match_strength`): P(hit is a story sought | score) over the shipped ranking's hits,
and for `related`, P(same story | score) over the dev pairs (gold Overall <= 2 vs >= 3).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from storylink.evaluate import LabelledPair, load_pairs
from storylink.search import TODAY, Evidence, SearchParams, rank_stories
from storylink.stories import StoryStore, pair_articles

HERE = Path(__file__).resolve().parent
DEFAULT_PAIRS = HERE.parents[1] / "shared/data/semeval8/dev_pairs.jsonl"
QUERIES = HERE / "data/search_queries.json"
DEPTH = 10  # stories looked at per query
SHIPPED = SearchParams()
VARIANTS = {
    "today: max(text, title), pool 4×limit": TODAY,
    "max(text, title), pool 40": replace(TODAY, pool=SHIPPED.pool),
    "mean(text, title)": replace(TODAY, pool=SHIPPED.pool, views="mean"),
    "mean + names 0.25": replace(SHIPPED, names=0.25),
    "mean + names 1": replace(SHIPPED, names=1.0),
    "mean + names 1, places 1": replace(SHIPPED, names=1.0, places=1.0),
    "mean + names 1, places 0": replace(SHIPPED, names=1.0, places=0.0),
    "mean + names 2": replace(SHIPPED, names=2.0),
    "max + names 0.5": replace(SHIPPED, views="max"),
    "mean + names 0.5, places 0": replace(SHIPPED, names=0.5, places=0.0),
    "mean + names 0.75, places 0.25": replace(SHIPPED, names=0.75, places=0.25),
    "mean + names 1, places 0.25": replace(SHIPPED, names=1.0, places=0.25),
    "mean + names 0.5": replace(SHIPPED, names=0.5),
    "mean + names 0.5, places 1": replace(SHIPPED, names=0.5, places=1.0),
    "shipped, pool 100": replace(SHIPPED, pool=100),
    "shipped, pool 30": replace(SHIPPED, pool=30),
    "shipped + story bonus 0.1": replace(SHIPPED, story_bonus=0.1),
    "shipped + story bonus 0.3": replace(SHIPPED, story_bonus=0.3),
    "shipped, pool 50": replace(SHIPPED, pool=50),
    "shipped, no title names (before 2026-12-07 night)": replace(SHIPPED, in_title=0.0),
    "shipped + title names 1": replace(SHIPPED, in_title=1.0),
    "shipped + title names 2": replace(SHIPPED, in_title=2.0),
    "shipped: mean + names 0.75, places 0.5, pool 40, title names 0.5": SHIPPED,
}


def query_rank(evidence: Evidence, params: SearchParams, wanted: set[int]) -> int | None:
    ranked = rank_stories(evidence, params)[:DEPTH]
    return next((i + 1 for i, (story, _, _) in enumerate(ranked) if story in wanted), None)


def summary(ranks: list[int | None]) -> str:
    r = np.array([x or np.inf for x in ranks], dtype=float)
    return " | ".join(
        f"{v:.3f}" for v in (np.mean(1 / r), np.mean(r <= 1), np.mean(r <= 3), np.mean(r <= 5))
    )


def logistic_fit(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Midpoint and slope of P(label | score) = 1 / (1 + exp(-slope (score - midpoint)))."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1e4).fit(scores[:, None], labels)
    slope = float(model.coef_[0][0])
    return -float(model.intercept_[0]) / slope, slope


def related_scores(
    stories: StoryStore, pairs: list[LabelledPair]
) -> tuple[list[float], list[bool]]:
    """`related`'s score (z-score of the document cosine) of each dev pair with a clear gold
    label whose articles share a home encoder, and whether it is a same-story pair."""
    scores, labels = [], []
    for pair in pairs:
        overall = pair.scores["overall"]
        found = [stories.store.find_article(a.id) for a in (pair.a, pair.b)]
        if 2 < overall < 3 or None in found or found[0][0].encoder != found[1][0].encoder:
            continue
        (a, _), (b, _) = found  # type: ignore[misc]
        vectors = stories._load([a.seq, b.seq])
        va, vb = (vectors[m.seq].vectors[m.encoder].document_vector for m in (a, b))
        index = stories._index(a.encoder)
        assert index is not None
        mean, spread = index.background(va)
        scores.append((float(va @ vb) - mean) / spread)
        labels.append(overall <= 2)
    return scores, labels


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--db", type=Path, required=True, help="store of the dev articles")
    parser.add_argument("--pairs", type=Path, default=DEFAULT_PAIRS)
    parser.add_argument("--queries", type=Path, default=QUERIES)
    args = parser.parse_args()
    pairs = {p.pair_id: p for p in load_pairs(args.pairs)}
    queries = json.loads(args.queries.read_text(encoding="utf-8"))["queries"]
    built = not args.db.exists()
    with StoryStore(args.db) as stories:
        if built:
            stories.add(pair_articles(list(pairs.values())))
        results, articles = [], []
        started = time.perf_counter()
        for query in queries:
            ids = [
                (pairs[e["pair_id"]].a if e["side"] == 1 else pairs[e["pair_id"]].b).id
                for e in query["expected"]
            ]
            wanted = set(stories.story_of(ids).values())
            evidence = {
                pool: stories.search_evidence(query["query"], pool or 4 * DEPTH)
                for pool in {p.pool for p in VARIANTS.values()}
            }
            results.append((query, wanted, evidence))
            # the same, each article its own story: the ranking without the clustering's help
            found = [stories.store.find_article(i) for i in ids]
            seqs = {f[0].seq for f in found if f is not None}
            alone = {
                pool: replace(e, story_of={c.seq: c.seq for c in e.candidates})
                for pool, e in evidence.items()
            }
            articles.append((query, seqs, alone))
        seconds = (time.perf_counter() - started) / len(queries)
        related = related_scores(stories, list(pairs.values()))
    languages = sorted({q["language"] for q, _, _ in results})
    print(f"{len(results)} queries ({', '.join(languages)}), store {args.db} (built: {built}),")
    print(f"evidence gathered in {seconds:.2f} s per query for all pools\n")
    print("| ranking | MRR | recall@1 | recall@3 | recall@5 |\n|---|---:|---:|---:|---:|")
    ranks = {}
    for name, params in VARIANTS.items():
        ranks[name] = [query_rank(e[params.pool], params, w) for _, w, e in results]
        print(f"| {name} | {summary(ranks[name])} |")
    print("\nThe same, each article its own story (the ranking without the clustering's help):\n")
    print("| ranking | MRR | recall@1 | recall@3 | recall@5 |\n|---|---:|---:|---:|---:|")
    for name, params in VARIANTS.items():
        found = [query_rank(e[params.pool], params, w) for _, w, e in articles]
        print(f"| {name} | {summary(found)} |")
    today, shipped = next(iter(VARIANTS)), list(VARIANTS)[-1]
    print("\n| query | lang | today | shipped |\n|---|---|---:|---:|")
    for (query, _, _), old, new in zip(results, ranks[today], ranks[shipped], strict=True):
        print(f"| {query['query']} | {query['language']} | {old or '>10'} | {new or '>10'} |")
    scores, labels = [], []
    for _, wanted, evidence in results:
        for story, _, score in rank_stories(evidence[SHIPPED.pool], SHIPPED)[:DEPTH]:
            scores.append(score)
            labels.append(story in wanted)
    midpoint, slope = logistic_fit(np.array(scores), np.array(labels))
    fit = f"midpoint {midpoint:.2f}, slope {slope:.2f}"
    print(f"\nsearch strength fit on {len(scores)} hits: {fit}")
    midpoint, slope = logistic_fit(np.array(related[0]), np.array(related[1]))
    print(
        f"related strength fit on {len(related[0])} dev pairs (same story {sum(related[1])}): "
        f"midpoint {midpoint:.2f}, slope {slope:.2f}"
    )


if __name__ == "__main__":
    main()
