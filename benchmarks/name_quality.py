"""Precision and recall of the names storylink finds, against names the project annotated itself.

    PYTHONPATH=src .venv/bin/python benchmarks/name_quality.py [--json] [--errors] [--all]
        [--gold benchmarks/data/names_gold.json] [--pairs ../shared/data/semeval8]

The gold set (`benchmarks/data/names_gold.json`, guidelines in `benchmarks/data/README.md`) lists
the people, places and organisations of 40 dev articles and 16 articles of more_pairs.jsonl in 8
languages and of the shipped quake example articles: ids and names only, the texts are read from
the pairs files in `--pairs` and from the examples.
Each article is analysed as the pipeline analyses it (`Comparer.prepare`), and its names are
compared with the gold names of the same kind:

* the names measured are those a story page lists and `stories --entity` searches (the
  mentions marked `proper`); `--all` measures every mention, as the pair scorer sees them;
* a found name matches a gold entity of its kind when its text or its label (for places the
  gazetteer's English name) equals one of the entity's names after normalising (letters in
  Latin script, lower case, no punctuation, no leading article: "El Gobierno"), word by word,
  where two words are equal when one is the other plus an ending of at most two letters (case
  endings: "Польше" ~ "Польша", "Hills" ~ "Hill") and at least four letters agree; for people
  and organisations one may also hold all the words of the other ("President Ramnath Kovind"
  ~ "Ramnath Kovind");
* precision: found names matching a gold entity / found names; recall: gold entities matched
  by at least one found name / gold entities. Both per kind, per language and per split
  ("develop": articles whose errors the filtering rules were written from; "check": annotated
  at the same time, their errors seen in listings during that work; "holdout": annotated after
  the rules were written, their errors not looked at before the figures were recorded).

`--cross-script` measures the entity filter's keys on the gold people: every name of every
gold person (aliases too) is typed as a filter (`entities.entity_keys`) against every gold
person filed under the name as the article writes it (`store.entity_terms`); a match of the
same person in another script is found, a match of another person is false. "today" files
and looks up only the Latin-letter words (`search_key`), as before name terms.

`--store DB` builds (once) a store of the dev articles and counts the stories the filter finds
for well-known names typed in several scripts.
"""

from __future__ import annotations

import argparse
import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from storylink.article import Article
from storylink.compare import Comparer
from storylink.demo import example_articles, examples_path
from storylink.entities import Mention, search_key
from storylink.evaluate import load_pairs
from storylink.store import entity_words

KINDS = {"people": "person", "places": "place", "organisations": "organisation"}
ROOT = Path(__file__).resolve().parent
DEFAULT_GOLD = ROOT / "data" / "names_gold.json"
DEFAULT_PAIRS = ROOT.parent.parent / "shared" / "data" / "semeval8"
ARTICLES = {"the", "el", "la", "los", "las", "le", "les", "il", "lo", "der", "die", "das"}
MAX_ENDING = 2  # letters an inflected word may add to its stem ("Польш|е", "Hill|s")
MIN_STEM = 4


@dataclass(frozen=True)
class GoldArticle:
    key: str  # "pair_id/side" or the example's id
    language: str
    split: str
    entities: dict[str, list[list[str]]]  # kind → entities, each its names (first as written)


@dataclass
class Tally:
    found: int = 0
    correct: int = 0
    gold: int = 0
    recalled: int = 0

    def add(self, other: Tally) -> None:
        self.found += other.found
        self.correct += other.correct
        self.gold += other.gold
        self.recalled += other.recalled

    @property
    def precision(self) -> float:
        return self.correct / self.found if self.found else float("nan")

    @property
    def recall(self) -> float:
        return self.recalled / self.gold if self.gold else float("nan")


@dataclass
class ArticleResult:
    article: GoldArticle
    tallies: dict[str, Tally] = field(default_factory=dict)
    wrong: list[tuple[str, str]] = field(default_factory=list)  # (kind, found name)
    missed: list[tuple[str, str]] = field(default_factory=list)  # (kind, gold name)


def load_gold(path: Path) -> list[GoldArticle]:
    data = json.loads(path.read_text("utf-8"))
    articles = []
    for row in data["articles"]:
        key = row["example"] if "example" in row else f"{row['pair_id']}/{row['side']}"
        entities = {kind: row[kind] for kind in KINDS}
        articles.append(GoldArticle(key, row["language"], row["split"], entities))
    return articles


def texts(pairs: Path) -> dict[str, Article]:
    """The articles of the pairs files in a folder by "pair_id/side", and the example articles
    by id."""
    found: dict[str, Article] = {}
    for path in sorted(pairs.glob("*.jsonl")) if pairs.is_dir() else []:
        for pair in load_pairs(path):
            found[f"{pair.pair_id}/1"], found[f"{pair.pair_id}/2"] = pair.a, pair.b
    path = examples_path()
    ids = [json.loads(line)["id"] for line in path.read_text("utf-8").splitlines() if line]
    for key, (_, article) in zip(ids, example_articles(), strict=True):
        found[key] = article
    return found


def words(name: str) -> tuple[str, ...]:
    found = re.findall(r"[^\W_]+", search_key(name))
    return tuple(found[1:] if len(found) > 1 and found[0] in ARTICLES else found)


def same_word(a: str, b: str) -> bool:
    if a == b:
        return True
    short, long = sorted((a, b), key=len)
    stem_agrees = long[: len(short)] == short
    return len(short) >= MIN_STEM and len(long) - len(short) <= MAX_ENDING and stem_agrees


def same_words(a: Sequence[str], b: Sequence[str]) -> bool:
    return len(a) == len(b) and all(map(same_word, a, b))


def holds(longer: Sequence[str], shorter: Sequence[str]) -> bool:
    """All words of `shorter` appear in `longer`, in order."""
    rest = iter(longer)
    return bool(shorter) and all(any(same_word(w, x) for x in rest) for w in shorter)


def matches(found: Iterable[str], names: Iterable[str], kind: str) -> bool:
    found_words = [w for w in map(words, found) if w]
    for name in map(words, names):
        for candidate in found_words:
            if same_words(candidate, name):
                return True
            if kind != "place" and (holds(candidate, name) or holds(name, candidate)):
                return True
    return False


def score_article(gold: GoldArticle, mentions: Sequence[Mention]) -> ArticleResult:
    result = ArticleResult(gold)
    for plural, kind in KINDS.items():
        entities = gold.entities[plural]
        found = [m for m in mentions if m.kind == kind]
        tally = Tally(found=len(found), gold=len(entities))
        hit = [False] * len(entities)
        for mention in found:
            names = (mention.text, mention.label)
            matched = [i for i, entity in enumerate(entities) if matches(names, entity, kind)]
            for i in matched:
                hit[i] = True
            if matched:
                tally.correct += 1
            else:
                result.wrong.append((kind, mention.text))
        tally.recalled = sum(hit)
        result.missed += [(kind, e[0]) for e, was in zip(entities, hit, strict=True) if not was]
        result.tallies[kind] = tally
    return result


def run(gold_path: Path, pairs: Path, every_mention: bool) -> list[ArticleResult]:
    comparer = Comparer()
    articles = texts(pairs)
    results = []
    for gold in load_gold(gold_path):
        article = articles.get(gold.key)
        if article is None:
            continue  # dev pairs absent (../shared not here): only the examples are measured
        mentions = comparer.prepare(article).names.mentions
        shown = [m for m in mentions if every_mention or m.proper]
        results.append(score_article(gold, shown))
    return results


def summary(results: Sequence[ArticleResult]) -> dict[str, dict[str, dict[str, float]]]:
    """{group: {kind: {precision, recall, found, gold}}} for all, per split and per language."""
    groups: dict[str, dict[str, Tally]] = defaultdict(lambda: defaultdict(Tally))
    for result in results:
        for group in ("all", f"split:{result.article.split}", f"lang:{result.article.language}"):
            for kind, tally in result.tallies.items():
                groups[group][kind].add(tally)
                groups[group]["any"].add(tally)
    return {
        group: {
            kind: {
                "precision": round(t.precision, 3),
                "recall": round(t.recall, 3),
                "found": t.found,
                "gold": t.gold,
            }
            for kind, t in sorted(kinds.items())
        }
        for group, kinds in sorted(groups.items(), key=lambda g: (g[0] != "all", g[0]))
    }


def print_table(table: dict[str, dict[str, dict[str, float]]]) -> None:
    kinds = ["person", "place", "organisation", "any"]
    print("| group | " + " | ".join(f"{k} P | {k} R" for k in kinds) + " |")
    print("|---|" + "---:|" * (2 * len(kinds)))
    for group, row in table.items():
        cells = []
        for kind in kinds:
            t = row.get(kind, {})
            cells += [f"{t.get(measure, float('nan')):.2f}" for measure in ("precision", "recall")]
        print(f"| {group} | " + " | ".join(cells) + " |")
    print("\n(P: precision of the found names; R: recall of the gold entities; nan: none)")


def _script(name: str) -> str:
    letter = next((c for c in name if c.isalpha()), "")
    return unicodedata.name(letter, "?").split()[0] if letter else "?"


def _found(query: str, label: str, terms: bool) -> bool:
    """Whether the entity filter, typed `query`, finds a person filed as `label`."""
    # here, not at the top: the name tables run on code from before name terms too
    from storylink.entities import default_gazetteer, entity_keys
    from storylink.store import entity_terms

    gazetteer = default_gazetteer()
    if terms:
        keys, filed = entity_keys(query, gazetteer), set(entity_terms("person", label))
    else:
        keys, filed = (search_key(query),), set(entity_words(search_key(label)))
    return any(set(entity_words(key) or [key]) <= filed for key in keys)


def cross_script(gold_path: Path) -> dict[str, dict[str, int]]:
    """Filter matches between gold people: same person across scripts found / possible, and
    matches of different people, with name terms and as today."""
    people = [e for a in load_gold(gold_path) for e in a.entities["people"]]
    # the same person: entities sharing a name in Latin letters ("Erdogan" ~ "Erdoğan")
    keys = [{search_key(n) for n in names} for names in people]
    same = [[bool(keys[i] & keys[j]) for j in range(len(people))] for i in range(len(people))]
    out: dict[str, dict[str, int]] = {}
    for mode, terms in (("today", False), ("name terms", True)):
        tally = dict.fromkeys(("same person, other script", "found"), 0)
        tally |= dict.fromkeys(("other person, same script", "other person, other script"), 0)
        for i, names in enumerate(people):
            for j, other in enumerate(people):
                label = other[0]
                for query in names:
                    cross = _script(query) != _script(label)
                    if same[i][j] and cross:
                        tally["same person, other script"] += 1
                        tally["found"] += _found(query, label, terms)
                    elif not same[i][j] and _found(query, label, terms):
                        tally[f"other person, {'other' if cross else 'same'} script"] += 1
        out[mode] = tally
    return out


WELL_KNOWN = [
    ("Trump", "ترامب", "Трамп", "特朗普"),
    ("Putin", "بوتين", "Путин", "普京"),
    ("Erdogan", "أردوغان", "Эрдоган", "埃尔多安"),
    ("Macron", "ماكرون", "Макрон", "马克龙"),
    ("Merkel", "ميركل", "Меркель", "默克尔"),
    ("Johnson", "جونسون", "Джонсон", "约翰逊"),
    ("Soleimani", "سليماني", "Сулеймани", "苏莱曼尼"),
]


def store_counts(db: Path, pairs: Path) -> list[tuple[str, ...]]:
    """Stories the entity filter finds in a store of the dev articles, per name and script."""
    from storylink.stories import StoryStore

    with StoryStore(db) as stories:
        if stories.store.count("articles") == 0:
            articles = [
                a for pair in load_pairs(pairs / "dev_pairs.jsonl") for a in (pair.a, pair.b)
            ]
            stories.add(articles)
        return [
            tuple(f"{name} {len(stories.stories(entity=name, limit=1000))}" for name in names)
            for names in WELL_KNOWN
        ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--gold", type=Path, default=DEFAULT_GOLD)
    parser.add_argument("--pairs", type=Path, default=DEFAULT_PAIRS, help="folder of pairs files")
    parser.add_argument("--all", action="store_true", help="every mention, not only proper ones")
    parser.add_argument("--json", action="store_true", help="the table as JSON")
    parser.add_argument("--errors", action="store_true", help="list wrong and missed names")
    parser.add_argument("--cross-script", action="store_true", help="filter keys across scripts")
    parser.add_argument("--store", type=Path, help="a store of the dev articles (built once)")
    args = parser.parse_args()
    if args.cross_script:
        print(json.dumps(cross_script(args.gold), indent=1))
        return
    if args.store:
        for row in store_counts(args.store, args.pairs):
            print(" | ".join(row))
        return
    results = run(args.gold, args.pairs, args.all)
    table = summary(results)
    if args.json:
        print(json.dumps({"articles": len(results), "table": table}, ensure_ascii=False, indent=1))
    else:
        print(f"{len(results)} articles\n")
        print_table(table)
    if args.errors:
        for result in results:
            a = result.article
            print(f"\n{a.key} ({a.language}, {a.split})")
            print("  wrong: " + "; ".join(f"{k}: {n}" for k, n in result.wrong))
            print("  missed: " + "; ".join(f"{k}: {n}" for k, n in result.missed))


if __name__ == "__main__":
    main()
