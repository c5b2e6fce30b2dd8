"""Template text: what one source prints on many of its articles — a press office's contact
footer, an agency's copyright line, a byline, a title prefix like "POL-MS: Münster -" —
kept out of the evidence that two articles tell the same story.

Two releases of one police office about different incidents share these lines verbatim, and
their names (the office), numbers (its phone) and vectors made them look like one story
(benchmarks/RESULTS.md, "Judgement on 320 pairs"). In a pair, a line both articles carry
verbatim is template when the two may come from one source (same source or host, or either
unknown), and so is the title prefix they share up to a separator; between two different
outlets a verbatim line is copied agency reporting, which is evidence, and stays.
"""

from __future__ import annotations

import re
from dataclasses import replace
from urllib.parse import urlparse

from .article import Article

MIN_LINE_CHARS = 4  # shorter lines ("-", "©") say nothing either way
# shared lines beyond this share of either text are a copy or an update, not template: on the
# 320 pairs template is at most 34% of a text, the one pair above (77%) shares its reporting
MAX_TEMPLATE_SHARE = 0.5
_SPACE = re.compile(r"\s+")
_TITLE_SEPARATOR = re.compile(r"\s[/|:–—-]\s|:\s")


def normalised(text: str) -> str:
    """Case and runs of white space do not make two lines different."""
    return _SPACE.sub(" ", text).strip().casefold()


def article_lines(article: Article) -> set[str]:
    """The article's distinct lines (title excluded), normalised."""
    found = (normalised(line) for line in article.text.splitlines())
    return {line for line in found if len(line) >= MIN_LINE_CHARS}


def source_of(article: Article) -> str | None:
    """The article's source name, else its URL's host without "www.", else None."""
    if article.source:
        return normalised(article.source)
    host = urlparse(article.url or "").hostname
    return host.removeprefix("www.") if host else None


def may_share_source(a: Article, b: Article) -> bool:
    """True unless both sources are known and differ."""
    source_a, source_b = source_of(a), source_of(b)
    return source_a is None or source_b is None or source_a == source_b


def template_lines(a: Article, b: Article) -> frozenset[str]:
    """Normalised lines that both articles carry verbatim when they may share a source."""
    if not may_share_source(a, b):
        return frozenset()
    return frozenset(article_lines(a) & article_lines(b))


def title_prefix(a: str, b: str) -> int:
    """Length of the prefix two titles share up to and including its last separator
    ("Polizei Lippe / ", "POL-LIP: Detmold - "), 0 when they share none."""
    shared = next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )
    common = a[:shared]
    ends = [m.end() for m in _TITLE_SEPARATOR.finditer(common)]
    if not ends or ends[-1] >= min(len(a.rstrip()), len(b.rstrip())):
        return 0
    return ends[-1]


def without_template(a: Article, b: Article) -> tuple[Article, Article] | None:
    """Both articles without their shared template lines and title prefix; None when they
    share none, or when the shared lines are most of a side (a copy is evidence, not template)."""
    if not may_share_source(a, b):
        return None
    lines = template_lines(a, b)
    cut = title_prefix(a.title, b.title)
    if not lines and not cut:
        return None
    net = []
    for article in (a, b):
        kept = [line for line in article.text.splitlines() if normalised(line) not in lines]
        text = "\n".join(kept).strip()
        if len(text) < (1 - MAX_TEMPLATE_SHARE) * len(article.text.strip()):
            return None
        net.append(replace(article, title=article.title[cut:].strip(), text=text, id=""))
    return net[0], net[1]
