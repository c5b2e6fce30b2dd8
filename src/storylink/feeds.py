"""Feed subscriptions: what to follow (URLs, URL lists, OPML), what a feed says, how healthy
each subscription is, and when to poll it next.

The polling itself is `watch.py`; this module holds the pieces that need no network, so that
the CLI, the server's `/feeds` and the watcher read and schedule feeds the same way.
"""

from __future__ import annotations

import urllib.parse
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .article import hash_text
from .read import ReadError, entry_date, entry_text, feed_bytes, is_url
from .store import FeedRow, FeedStore, Store, StoreError

DEFAULT_INTERVAL = 15 * 60.0  # a new feed, or one that does not date its entries
MIN_INTERVAL = 5 * 60.0
MAX_INTERVAL = 24 * 3600.0  # also the longest back-off of a failing feed
HISTORY = 10  # latest entries whose spacing sets the adaptive interval
WEEK = 7 * 24 * 3600.0


class FeedError(ValueError):
    """A FEED argument that names no feeds (missing file, no URLs, unreadable OPML)."""


@dataclass(frozen=True)
class FeedSource:
    """A feed to subscribe to, with the title and category an OPML file gave it."""

    url: str
    title: str | None = None
    category: str | None = None


def feed_sources(spec: str) -> list[FeedSource]:
    """The feeds one FEED argument names: a feed URL, a text file of URLs (one a line, `#`
    comments) or an OPML file (outline titles and categories kept)."""
    if is_url(spec):
        return [FeedSource(spec)]
    path = Path(spec)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise FeedError(f"{spec}: not a URL, and cannot read it ({error.strerror})") from None
    if b"<opml" in data[:4096].lower():
        return _opml(data, spec)
    found = []
    for number, line in enumerate(data.decode("utf-8-sig", "replace").splitlines(), start=1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        url = words[0]  # anything after the URL is a comment
        if not is_url(url):
            raise FeedError(f"{spec}, line {number}: {url!r} is not an http(s) URL")
        found.append(FeedSource(url))
    if not found:
        raise FeedError(f"{spec}: holds no feed URLs")
    return found


def _opml(data: bytes, origin: str) -> list[FeedSource]:
    """Every outline with an `xmlUrl`; its category is its own attribute, else the titles of
    the outlines it sits in ("News/World")."""
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as error:
        raise FeedError(f"{origin}: not a readable OPML file ({error})") from None
    found: list[FeedSource] = []

    def walk(node: ElementTree.Element, parents: tuple[str, ...]) -> None:
        for outline in node.findall("outline"):
            title = outline.get("title") or outline.get("text")
            url = (outline.get("xmlUrl") or "").strip()
            if url:
                category = outline.get("category") or "/".join(parents) or None
                found.append(FeedSource(url, title, category))
            walk(outline, (*parents, title) if title and not url else parents)

    body = root.find("body")
    walk(root if body is None else body, ())
    if not found:
        raise FeedError(f"{origin}: OPML file has no outlines with an xmlUrl")
    return found


@dataclass(frozen=True)
class FeedEntry:
    """One entry as the feed gives it: the key it is known by, its link and its own text."""

    key: str  # guid, else link
    url: str | None
    title: str
    text: str  # the feed's content or summary, plain text (often only a teaser)
    published: datetime | None
    hash: str  # of title and text: a republished entry with a changed text has a new one


@dataclass(frozen=True)
class ParsedFeed:
    """A feed's title (the default source of its articles) and its entries."""

    title: str | None
    entries: list[FeedEntry]


def parse_entries(content: bytes, origin: str) -> ParsedFeed:
    """The entries of an RSS or Atom document; `ReadError` if it is not a feed."""
    import feedparser

    feed = feedparser.parse(feed_bytes(content))  # in the encoding the evidence favours
    if not feed.entries and (feed.bozo or not feed.feed):
        reason = getattr(feed, "bozo_exception", None) or "no entries"
        raise ReadError(f"{origin}: not a readable RSS/Atom feed ({reason})")
    entries = []
    for entry in feed.entries:
        link = entry.get("link") or None
        key = entry.get("id") or link
        if not key:
            continue  # nothing to know it by next time
        title, text = str(entry.get("title", "")).strip(), entry_text(entry).strip()
        entries.append(
            FeedEntry(
                key=str(key),
                url=link,
                title=title,
                text=text,
                published=entry_date(entry),
                hash=hash_text(f"{title}\n{text}"),
            )
        )
    return ParsedFeed(feed.feed.get("title") or None, entries)


def host_of(url: str) -> str:
    """What a fetcher serialises requests by: scheme, host and port."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2].lower()}"


# ---------------------------------------------------------------- schedule


def adaptive_interval(times: list[float], now: float) -> float:
    """Seconds until the next poll of a healthy feed: half the mean spacing of its latest
    entries in the past week, between 5 minutes and a day (15 minutes while there is no
    history; a day when nothing was published for a week)."""
    if not times:
        return DEFAULT_INTERVAL
    recent = sorted(t for t in times if now - WEEK <= t <= now)
    if len(recent) < 2:
        return DEFAULT_INTERVAL if recent else MAX_INTERVAL
    spacing = (recent[-1] - recent[0]) / (len(recent) - 1)
    return min(MAX_INTERVAL, max(MIN_INTERVAL, spacing / 2))


def backoff(interval: float, failures: int, retry_after: float | None = None) -> float:
    """Seconds until a failing feed is asked again: its interval doubled per consecutive
    failure, at most a day, and never sooner than the server's Retry-After."""
    delay = min(MAX_INTERVAL, interval * 2.0 ** min(failures, 20))
    return max(delay, retry_after or 0.0)


# ---------------------------------------------------------------- health


@dataclass(frozen=True)
class FeedHealth:
    """A subscription as `storylink feeds` and `GET /feeds` show it."""

    url: str
    title: str | None
    category: str | None
    status: str  # new | ok | failing | disabled
    last_poll: datetime | None
    last_success: datetime | None
    last_error: str | None
    failures: int
    next_poll: datetime | None
    interval_minutes: float
    entries_per_day: float
    articles_per_day: float
    feed_text_per_day: float  # articles stored with the feed's text: their pages failed

    def to_dict(self) -> dict[str, Any]:
        data = dict(vars(self))
        for name in ("last_poll", "last_success", "next_poll"):
            moment = data[name]
            data[name] = moment.isoformat(timespec="seconds") if moment else None
        return data


def _moment(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, UTC) if ts is not None else None


def _status(feed: FeedRow) -> str:
    if feed.disabled:
        return "disabled"
    if feed.failures:
        return "failing"
    return "ok" if feed.last_success else "new"


def subscribe(
    store: FeedStore, sources: Iterable[FeedSource], interval: float = DEFAULT_INTERVAL
) -> int:
    """Add feeds to a store's subscriptions (a feed already there is left as it is); returns
    how many were new."""
    return sum(store.subscribe(s.url, s.title, s.category, interval) for s in sources)


def feed_store(store: Store) -> FeedStore:
    """The side of a store that keeps subscriptions: `storylink watch` needs a backend that
    has one (SQLite does)."""
    if not isinstance(store, FeedStore):
        raise StoreError(f"{type(store).__name__} keeps no feed subscriptions")
    return store


def feed_health(store: FeedStore, now: float | None = None) -> list[FeedHealth]:
    """Every subscription's health; rates count the entries first seen in the past week (or
    since the feed was added, if later; at least a day)."""
    now = datetime.now(UTC).timestamp() if now is None else now
    counts = store.entry_counts(now - WEEK)
    found = []
    for feed in store.feeds():
        days = max(1.0, (now - max(feed.added_at, now - WEEK)) / 86400)
        entries, articles, feed_text = counts.get(feed.id, (0, 0, 0))
        found.append(
            FeedHealth(
                url=feed.url,
                title=feed.title,
                category=feed.category,
                status=_status(feed),
                last_poll=_moment(feed.last_poll),
                last_success=_moment(feed.last_success),
                last_error=feed.last_error,
                failures=feed.failures,
                next_poll=None if feed.disabled else _moment(feed.next_poll),
                interval_minutes=round(feed.interval / 60, 2),
                entries_per_day=round(entries / days, 2),
                articles_per_day=round(articles / days, 2),
                feed_text_per_day=round(feed_text / days, 2),
            )
        )
    return found
