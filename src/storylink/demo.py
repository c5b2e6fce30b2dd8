"""The shipped example articles and the demo that compares them all."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .article import Article
from .compare import Comparer, PairScore
from .read import read_file


def examples_path() -> Path:
    return Path(str(resources.files("storylink").joinpath("examples/articles.jsonl")))


def example_articles() -> list[tuple[str, Article]]:
    """(story key, article) for every example article, in file order."""
    path = examples_path()
    stories = [json.loads(line)["story"] for line in path.read_text("utf-8").splitlines() if line]
    articles = read_file(path).articles
    return list(zip(stories, articles, strict=True))


@dataclass(frozen=True)
class DemoPair:
    story_a: str
    story_b: str
    a: Article
    b: Article
    score: PairScore

    @property
    def same_story_gold(self) -> bool:
        return self.story_a == self.story_b


def run_demo(
    comparer: Comparer | None = None,
    on_pair: Callable[[], None] | None = None,
    items: list[tuple[str, Article]] | None = None,
) -> list[DemoPair]:
    """Score every pair of example articles (231 pairs for the 22 shipped articles)."""
    comparer = comparer or Comparer()
    items = items if items is not None else example_articles()
    results: list[DemoPair] = []
    for i, (story_a, a) in enumerate(items):
        for story_b, b in items[i + 1 :]:
            results.append(DemoPair(story_a, story_b, a, b, comparer.compare(a, b)))
            if on_pair:
                on_pair()
    return results
