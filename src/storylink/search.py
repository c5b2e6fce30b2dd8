"""Ranking stories for a short query in any language, and a match strength a reader understands.

`StoryStore.search` gathers the evidence (`Candidate`: the query's z-scored cosine with an
article's whole text and with its title, in the article's home encoder space, and the names
of the query the article also names, matched across scripts); this module weighs it and
ranks stories. Why each piece, measured on the project's query benchmark
(`benchmarks/search_queries.py`, RESULTS.md "Search that finds"):

- text and title: a short query reads like a title, but some titles are empty or generic;
- names: "Soleimani" finds "سليماني" by its consonant skeleton (`entities.shared_names`), and
  a name counts by how rare it is among the candidates, so "Turkey" in "earthquake in Turkey"
  adds little when every candidate names Turkey;
- a name in the title counts half again: the article is about it (as search engines weigh a
  title field);
- a story: its best article (crediting its further matching articles too let large mixed
  stories win every query: `story_bonus`, off).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from .article import Article
from .entities import EntityProfile, Gazetteer, Mention, name_tables, shared_names
from .features import PreparedArticle
from .text import CASED_SCRIPTS, fold, is_unspaced, tokens

VIEWS = ("document", "title")
MIN_WORD = 4  # letters of a query word tried as a name: shorter ones are mostly function words


@dataclass(frozen=True)
class SearchParams:
    """How a search weighs its evidence; the defaults are the measured best (RESULTS.md)."""

    pool: int = 40  # candidate articles per index view and encoder space (0: 4 × limit)
    views: str = "mean"  # combine text and title z-scores: "max" or "mean"
    names: float = 0.75  # weight of the query's names an article names (rarity-weighted)
    places: float = 0.5  # a place name's weight relative to a person's or organisation's
    story_bonus: float = 0.0  # share of a story's further matching articles' scores added
    in_title: float = 0.5  # a name the title names counts this much more (the article is about it)


# before issue 17
TODAY = SearchParams(pool=0, views="max", names=0.0, places=0.0, story_bonus=0.0, in_title=0.0)


@dataclass(frozen=True)
class Candidate:
    """An article's evidence for a query."""

    seq: int
    document: float  # z-score of the query's cosine with the whole text
    title: float  # … with the title (the whole text's for an untitled article)
    names: frozenset[int]  # which of the query's names it names (indexes into the query's)
    in_title: frozenset[int] = frozenset()  # … of them its title names


@dataclass(frozen=True)
class Evidence:
    """What a search found for a query, before weighing: the candidate articles, the kind of
    each of the query's names, and each candidate's story."""

    candidates: list[Candidate]
    kinds: list[str]
    story_of: dict[int, int]


def query_names(text: str, language: str, gazetteer: Gazetteer) -> list[EntityProfile]:
    """Each name in a query on its own, to test one at a time against an article: the places
    the gazetteer knows (the longest run of up to three words first; in Chinese, Japanese and
    Korean, runs of two to four characters), then each other word that may be a name ("Soleimani",
    "ترامب"): a capitalised word in a cased script, any word in another, of four letters or more.
    A query is too short for the evidence `entities.profile` asks of a name, and loading its
    models would cost a one-off search seconds."""
    words = [_APOSTROPHE_ENDING.sub("", word) for word in tokens(text)]
    spans = [(i, size) for size in (3, 2, 1) for i in range(len(words) - size + 1)]
    if is_unspaced(text):
        words = list(text)
        spans = [(i, size) for size in (4, 3, 2) for i in range(len(words) - size + 1)]
    mentions: list[Mention] = []
    used: set[int] = set()
    for i, size in spans:
        span = words[i : i + size]
        if used.intersection(range(i, i + size)) or not all(map(_may_name, span)):
            continue
        phrase = "".join(span) if is_unspaced(text) else " ".join(span)
        place = gazetteer.lookup(phrase, cased=bool(CASED_SCRIPTS.match(phrase)))
        if place is not None:
            mentions.append(Mention(phrase, "place", place.name, place.key))
            used.update(range(i, i + size))
    if not is_unspaced(text):
        mentions += [
            Mention(word, "person", word)
            for i, word in enumerate(words)
            if i not in used and _may_name(word) and len(fold(word)) >= MIN_WORD
        ]
    return [EntityProfile(language, [mention]) for mention in mentions]


_APOSTROPHE_ENDING = re.compile(r"['’].*$")  # Turkish case endings: "Trump'ın" is Trump


def _may_name(word: str) -> bool:
    """A capitalised word in a cased script, any word in another (a CJK character too)."""
    return word[:1].isupper() or not CASED_SCRIPTS.match(word)


def one_word_tables(article: PreparedArticle) -> EntityProfile:
    """An article's names for testing a query's: its lookup tables of single words only, as a
    query's names are one word each (or places, matched by key), ~4x cheaper to derive than
    the full tables (~0.9 ms) that a stored article loads without; the full ones if at hand."""
    names = article.names
    if names.has_tables:
        return names
    return EntityProfile(names.language, names.mentions, name_tables(article.article, longest=1))


def title_names(article: PreparedArticle) -> EntityProfile:
    """The names of an article's title alone: the mentions it carries, and lookup tables of
    its words."""
    title = article.article.title
    mentions = [m for m in article.names.mentions if m.text in title]
    tables = name_tables(Article(title, ""), longest=1)
    return EntityProfile(article.names.language, mentions, tables)


def names_in(names: Sequence[EntityProfile], article: EntityProfile) -> frozenset[int]:
    """Which of the query's names the article names too, in any script."""
    return frozenset(i for i, name in enumerate(names) if shared_names(name, article))


def article_scores(evidence: Evidence, params: SearchParams) -> dict[int, float]:
    """Each candidate's score: its text/title evidence plus its names, each name weighted by
    its rarity among the candidates (ln(candidates / candidates naming it)), a place's by
    `places` of that."""
    candidates = evidence.candidates
    naming = Counter(name for candidate in candidates for name in candidate.names)
    weight = {
        name: math.log(len(candidates) / count)
        * params.names
        * (params.places if evidence.kinds[name] == "place" else 1.0)
        for name, count in naming.items()
    }
    scores = {}
    for candidate in candidates:
        pair = (candidate.document, candidate.title)
        text = max(pair) if params.views == "max" else sum(pair) / 2
        named = sum(weight[n] for n in candidate.names)
        in_title = sum(weight[n] for n in candidate.in_title)
        scores[candidate.seq] = text + named + params.in_title * in_title
    return scores


def rank_stories(evidence: Evidence, params: SearchParams) -> list[tuple[int, int, float]]:
    """(story, its best article, story score), best first: the best article's score plus
    `story_bonus` times the positive scores of the story's other candidates."""
    by_story: dict[int, list[tuple[float, int]]] = {}
    for seq, score in article_scores(evidence, params).items():
        if seq in evidence.story_of:
            by_story.setdefault(evidence.story_of[seq], []).append((score, -seq))
    ranked = []
    for story_id, found in by_story.items():
        found.sort(reverse=True)
        (best, seq), rest = found[0], found[1:]
        bonus = params.story_bonus * sum(max(score, 0.0) for score, _ in rest)
        ranked.append((story_id, -seq, best + bonus))
    ranked.sort(key=lambda hit: (-hit[2], hit[1]))
    return ranked


@dataclass(frozen=True)
class StrengthFit:
    """A logistic fit of P(the hit is what was looked for | score)."""

    midpoint: float  # the score of an even chance
    slope: float


# fitted by benchmarks/search_queries.py: a search hit is a story its query sought (49 queries
# of the dev store); a related article is of the same story (dev pairs, gold Overall ≤ 2 vs ≥ 3)
SEARCH_FIT = StrengthFit(5.31, 1.37)
RELATED_FIT = StrengthFit(3.89, 0.66)


STRENGTH_NOTE = (
    "match: 0 to 1, the chance that a hit is what was looked for (1: it is; 0.5: as likely as "
    "not; 0: it is not), as measured on the project's dev data"
)


def match_strength(score: float, fit: StrengthFit = SEARCH_FIT) -> float:
    """A score as a match strength from 0 to 1: the chance that a hit scoring this much is what
    was looked for (the story a query asks for; for `related`, an article of the same story),
    as measured on the project's dev data. 1: it is; 0: it is not; 0.5: as likely as not."""
    return 0.5 * (1.0 + math.tanh(fit.slope * (score - fit.midpoint) / 2))  # the logistic
