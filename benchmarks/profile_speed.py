"""Speed of the per-article analysis outside the encoder: names, dates and numbers, old vs new.

    .venv/bin/python benchmarks/profile_speed.py ../shared/data/semeval8/dev_pairs.jsonl

Times `entities.profile()`, `dates.find_dates()` and `dates.find_numbers()` per article, as
`Comparer.prepare` calls them, on the distinct articles of the labelled pairs plus the example
articles. The "old" code is `src/storylink/{text,dates,entities}.py` at `--base` (read with
`git show`), loaded beside the working tree's modules as `storylink._base_*`; both share the
working tree's `Article` and one gazetteer index (the index rules are unchanged). Before any
timing, every output is compared old vs new: the EntityProfile (mentions, and the surfaces,
skeletons and short-name tables with their insertion order) and the date and number mentions.

Rounds interleave old and new (alternating which goes first); the best round of each counts,
since other jobs on the shared machine only ever slow a run down. Before every round the
per-word caches (lru_caches larger than 64 entries) of both versions are emptied, so a round
sees the articles as a fresh stream would; `--warm` keeps them. spaCy NER is part of
`profile()` in both; its share is timed apart. `shared_names` is timed too, once per labelled
pair per round (cold: the new code's per-profile skeleton index is rebuilt every round, so
each is built for about one use; in a stream a profile is scored against several stories).
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import storylink.dates as new_dates
import storylink.entities as new_entities
from storylink.article import Article
from storylink.demo import examples_path
from storylink.evaluate import load_pairs
from storylink.language import with_language
from storylink.read import read_file
from storylink.stories import pair_articles

BASE = "1829367"  # the commit before this work
REPO = Path(__file__).resolve().parents[1]


def load_base(commit: str) -> tuple[ModuleType, ModuleType]:
    """text, dates and entities at `commit` as storylink._base_*; returns (dates, entities)."""
    folder = Path(tempfile.mkdtemp(prefix="storylink-base-"))
    loaded: dict[str, ModuleType] = {}
    for name in ("text", "dates", "entities"):
        source = subprocess.run(
            ["git", "show", f"{commit}:src/storylink/{name}.py"],
            cwd=REPO,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        for dependency in ("text", "dates"):
            source = source.replace(
                f"from .{dependency} import", f"from ._base_{dependency} import"
            )
        path = folder / f"_base_{name}.py"
        path.write_text(source, "utf-8")
        spec = importlib.util.spec_from_file_location(f"storylink._base_{name}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        loaded[name] = module
    return loaded["dates"], loaded["entities"]


class TimedNlp:
    """A spaCy pipeline that adds the seconds spent in it to `spent["ner"]`."""

    def __init__(self, nlp: Any, spent: dict[str, float]) -> None:
        self.nlp, self.spent = nlp, spent

    def __call__(self, text: str) -> Any:
        start = time.perf_counter()
        doc = self.nlp(text)
        self.spent["ner"] += time.perf_counter() - start
        return doc


def time_ner(module: ModuleType, spent: dict[str, float]) -> None:
    """Make `module.profile()` find its spaCy pipelines through `TimedNlp`."""
    load = module._spacy

    def timed(language: str) -> Any:
        nlp = load(language)
        return None if nlp is None else TimedNlp(nlp, spent)

    module._spacy = timed


@dataclass
class Version:
    name: str
    dates: ModuleType
    entities: ModuleType
    gazetteer: Any
    spent: dict[str, float] = field(default_factory=lambda: {"ner": 0.0})  # seconds per call

    def analyse(self, article: Article) -> tuple[Any, Any, Any]:
        text = article.full_text
        found = self.dates.find_dates(text, article.language or "und", article.published)
        return (
            self.entities.profile(article, self.gazetteer),
            found,
            self.dates.find_numbers(text, found),
        )

    def clear_word_caches(self) -> None:
        """Empty the per-word memo caches (not the models, stopwords or regex tables)."""
        for module in (self.dates, self.entities, sys.modules[self.dates.__name__[:-5] + "text"]):
            for value in vars(module).values():
                info = getattr(value, "cache_info", None)
                if info is not None and (info().maxsize or 0) > 64:
                    value.cache_clear()


def profile_rows(profile: Any) -> tuple[Any, ...]:
    """Everything in an EntityProfile, dict order included (`_find` scans the tables in it)."""
    return (
        profile.language,
        [tuple(vars(m).values()) for m in profile.mentions],
        list(profile.surfaces.items()),
        list(profile.skeletons.items()),
        list(profile.short_names.items()),
    )


def values(mentions: Sequence[Any]) -> list[tuple[Any, ...]]:
    return [tuple(vars(m).values()) for m in mentions]


def check_equal(old: Version, new: Version, articles: Sequence[Article]) -> int:
    """Number of articles whose outputs differ (each one is printed)."""
    differ = 0
    for article in articles:
        a, b = old.analyse(article), new.analyse(article)
        parts = {
            "profile": (profile_rows(a[0]), profile_rows(b[0])),
            "dates": (values(a[1]), values(b[1])),
            "numbers": (values(a[2]), values(b[2])),
        }
        bad = [name for name, (x, y) in parts.items() if x != y]
        if bad:
            differ += 1
            print(f"  DIFFERS {article.id} ({article.language}): {', '.join(bad)}", flush=True)
    return differ


def timed_round(version: Version, articles: Sequence[Article]) -> dict[str, float]:
    """Seconds spent in each of the three calls over all articles, and in NER."""
    spent = version.spent
    spent.update({"profile": 0.0, "ner": 0.0, "find_dates": 0.0, "find_numbers": 0.0})
    clock = time.perf_counter
    for article in articles:
        text = article.full_text
        start = clock()
        found = version.dates.find_dates(text, article.language or "und", article.published)
        middle = clock()
        version.dates.find_numbers(text, found)
        end = clock()
        version.entities.profile(article, version.gazetteer)
        spent["profile"] += clock() - end
        spent["find_dates"] += middle - start
        spent["find_numbers"] += end - middle
    return dict(spent)


def timed_shared(version: Version, pairs: Sequence[tuple[Any, Any]]) -> float:
    """Seconds for shared_names over all pairs (profiles computed beforehand)."""
    start = time.perf_counter()
    for a, b in pairs:
        version.entities.shared_names(a, b)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("pairs", type=Path, help="labelled pairs (JSONL), e.g. dev_pairs.jsonl")
    parser.add_argument("--base", default=BASE, help=f"commit of the old code (default {BASE})")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per version")
    parser.add_argument("--limit", type=int, help="only the first N pairs (a quick check)")
    parser.add_argument("--warm", action="store_true", help="keep per-word caches across rounds")
    args = parser.parse_args()

    pairs = load_pairs(args.pairs)[: args.limit]
    dev = pair_articles(pairs)
    examples = read_file(examples_path()).articles
    articles = [with_language(a) for a in dev + examples]
    print(f"{len(dev)} dev articles + {len(examples)} examples; {os.cpu_count()} cores")

    old_dates, old_entities = load_base(args.base)
    gazetteer = new_entities.default_gazetteer()
    old_gazetteer = old_entities.Gazetteer()
    old_gazetteer._index = gazetteer.index  # same rules, one copy in memory
    old = Version(f"old ({args.base})", old_dates, old_entities, old_gazetteer)
    new = Version("new (working tree)", new_dates, new_entities, gazetteer)

    started = time.perf_counter()
    differ = check_equal(old, new, articles)
    print(
        f"equality: {len(articles) - differ}/{len(articles)} articles identical "
        f"(profile, dates, numbers) in {time.perf_counter() - started:.0f} s",
        flush=True,
    )

    for version in (old, new):
        time_ner(version.entities, version.spent)
    profiles = {
        v.name: {a.id: v.entities.profile(a, v.gazetteer) for a in articles} for v in (old, new)
    }
    duos = {
        v.name: [(profiles[v.name][p.a.id], profiles[v.name][p.b.id]) for p in pairs]
        for v in (old, new)
    }
    same_shared = all(
        [tuple(vars(s).values()) for s in old.entities.shared_names(*x)]
        == [tuple(vars(s).values()) for s in new.entities.shared_names(*y)]
        for x, y in zip(duos[old.name], duos[new.name], strict=True)
    )
    print(f"shared_names identical on all {len(pairs)} pairs: {same_shared}")

    best: dict[str, dict[str, float]] = {old.name: {}, new.name: {}}
    for index in range(args.rounds):
        order = [old, new] if index % 2 == 0 else [new, old]
        for version in order:
            if not args.warm:
                version.clear_word_caches()
            gc.collect()
            load = os.getloadavg()[0]
            spent = timed_round(version, articles)
            if not args.warm:  # the new code's per-profile index of skeletons, built on use
                for profile in profiles[version.name].values():
                    if getattr(profile, "_initials", None) is not None:
                        profile._initials = None
            spent["shared_names"] = timed_shared(version, duos[version.name])
            spent["rest"] = spent["profile"] - spent["ner"]
            for part, seconds in spent.items():
                best[version.name][part] = min(best[version.name].get(part, 1e9), seconds)
            total = spent["profile"] + spent["find_dates"] + spent["find_numbers"]
            print(
                f"  round {index + 1} {version.name}: {len(articles) / total:.1f} articles/s, "
                f"without NER {len(articles) / (total - spent['ner']):.1f} (load {load:.1f})",
                flush=True,
            )

    print(f"\nbest of {args.rounds} rounds, {len(articles)} articles", end="")
    print(f" ({'warm' if args.warm else 'cold'} per-word caches); shared_names per pair\n")
    print("| call | old ms | new ms | × |")
    print("|---|---:|---:|---:|")
    rows: list[tuple[str, Callable[[dict[str, float]], float], int]] = [
        ("profile()", lambda b: b["profile"], len(articles)),
        ("  of which spaCy NER", lambda b: b["ner"], len(articles)),
        ("  of which the rest", lambda b: b["rest"], len(articles)),
        ("find_dates()", lambda b: b["find_dates"], len(articles)),
        ("find_numbers()", lambda b: b["find_numbers"], len(articles)),
        (
            "all three",
            lambda b: b["profile"] + b["find_dates"] + b["find_numbers"],
            len(articles),
        ),
        (
            "all three without NER",
            lambda b: b["rest"] + b["find_dates"] + b["find_numbers"],
            len(articles),
        ),
        ("shared_names() per pair", lambda b: b["shared_names"], len(pairs)),
    ]
    for label, pick, count in rows:
        before, after = pick(best[old.name]) * 1000 / count, pick(best[new.name]) * 1000 / count
        print(f"| {label} | {before:.2f} | {after:.2f} | {before / after:.2f} |")
    for version in (old, new):
        b = best[version.name]
        rate = len(articles) / (b["profile"] + b["find_dates"] + b["find_numbers"])
        print(f"\n{version.name}: {rate:.1f} articles/s (the three calls, best rounds)", end="")
    print()
    if differ or not same_shared:
        sys.exit(1)


if __name__ == "__main__":
    main()
