"""Follow feeds live (`storylink watch`): poll each subscribed feed on its own schedule, read
the pages of new entries, and add them to the story store as they come.

A cycle polls the feeds that are due (conditional GETs: the ETag and Last-Modified a feed last
sent go back to it; 304 means nothing new), fetches the linked pages of new or changed entries
concurrently over hosts (the `Fetcher` keeps one request in flight per host), reads each page
with the HTML reader, and ingests the articles in batches. An entry is known by its guid, else
its link, and is never ingested twice; when its page cannot be fetched or read as an article,
its own text in the feed is stored instead, and the entry says so (`text_source = "feed"`).

Crash safety: an entry is recorded only after its article is committed, and a feed's new
validators only after all its entries are: a killed watcher re-reads what it had not finished,
and the store's content hashes (and revisions by URL) keep every article once.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from .article import Article
from .feeds import (
    DEFAULT_INTERVAL,
    HISTORY,
    FeedEntry,
    FeedSource,
    ParsedFeed,
    adaptive_interval,
    backoff,
    feed_store,
    host_of,
    parse_entries,
    subscribe,
)
from .fetch import Fetcher, FetchError, Response
from .mojibake import repaired_article
from .read import ReadError, decode, domain, parse_html
from .store import EntryRow, FeedRow
from .stories import BATCH_SIZE, StoryStore

log = logging.getLogger(__name__)

PERMANENT_MOVES = frozenset({301, 308})
MAX_DEFERRALS = 3  # cycles an entry waits for a host that asked for time, then the feed's text
T = TypeVar("T")
R = TypeVar("R")


@dataclass
class CycleReport:
    """What one poll cycle did; `line()` is the log line."""

    feeds: int = 0
    not_modified: int = 0
    failed: int = 0
    new_entries: int = 0
    changed_entries: int = 0
    pages: int = 0  # entries read from their page
    from_feed: int = 0  # entries stored with the feed's own text
    deferred: int = 0  # entries left for a later cycle: their host asked for time
    added: int = 0
    revised: int = 0
    duplicates: int = 0
    new_stories: int = 0
    grown_stories: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"{self.feeds} feeds polled ({self.not_modified} not modified, {self.failed} failed); "
            f"{self.new_entries} new entries, {self.changed_entries} changed "
            f"({self.pages} from pages, {self.from_feed} from feed text, {self.deferred} "
            f"deferred); {self.added} articles added, {self.revised} revised; "
            f"{self.new_stories} stories created, {self.grown_stories} grown; {self.seconds:.1f} s"
        )


@dataclass
class _Poll:
    """A feed's answer in this cycle."""

    feed: FeedRow
    response: Response | None = None
    parsed: ParsedFeed | None = None
    error: FetchError | ReadError | None = None


@dataclass(frozen=True)
class _Item:
    """An entry to turn into an article."""

    feed: FeedRow
    entry: FeedEntry
    source: str | None  # the feed's title
    changed: bool  # seen before with another text: read again, a revision


@dataclass(frozen=True)
class _Read:
    """An entry's article (None: no text anywhere) and where its text came from."""

    item: _Item
    article: Article | None
    text_source: str  # page | feed | deferred
    note: str | None = None


class Watcher:
    """Polls the feeds subscribed in a story store and ingests their new entries.

    `interval` fixes every feed's polling interval (seconds) instead of the adaptive one (5 min
    to a day, from how often the feed publishes); back-off still doubles it per failure.
    `clock` gives UTC timestamps (tests pass their own).
    """

    def __init__(
        self,
        stories: StoryStore,
        fetcher: Fetcher,
        interval: float | None = None,
        batch_size: int = BATCH_SIZE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.stories = stories
        self.store = feed_store(stories.store)
        self.fetcher = fetcher
        self.interval = interval
        self.batch_size = batch_size
        self.clock = clock
        self._stop = threading.Event()
        self._deferrals: Counter[tuple[int, str]] = Counter()

    # ---------------------------------------------------------------- subscriptions

    def subscribe(self, sources: Iterable[FeedSource]) -> int:
        """Add feeds to the store's subscriptions; returns how many were new. Feeds named
        again are due at once, back-off or not: the user asked for them (e.g. again with
        `--allow-private` after a refusal)."""
        interval = DEFAULT_INTERVAL if self.interval is None else self.interval
        sources = list(sources)
        added = subscribe(self.store, sources, interval)
        named, now = {s.url for s in sources}, self.clock()
        for feed in self.store.feeds():
            if feed.url in named and feed.next_poll > now and not feed.disabled:
                feed.next_poll = now
                self.store.save_feed(feed)
        return added

    def stop(self) -> None:
        """Finish the batch in flight, then return from `run` (signal handlers call this)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def next_due(self) -> float | None:
        """When the next active feed is due (UTC timestamp), None without active feeds."""
        due = [f.next_poll for f in self.store.feeds() if not f.disabled]
        return min(due) if due else None

    # ---------------------------------------------------------------- running

    def run(
        self,
        cycles: int | None = None,
        on_cycle: Callable[[CycleReport], None] | None = None,
    ) -> list[CycleReport]:
        """Poll `cycles` times (forever if None), sleeping until a feed is due in between.

        The first cycle polls every healthy feed at once (a start should show what is new);
        failing feeds keep their back-off. Returns early after `stop()`.
        """
        reports: list[CycleReport] = []
        while not self.stopping and (cycles is None or len(reports) < cycles):
            if reports:
                due = self.next_due()
                if due is None:
                    break
                self._stop.wait(max(0.0, due - self.clock()))
                if self.stopping:
                    break
            report = self.run_cycle(every=not reports)
            reports.append(report)
            log.info("%s", report.line())
            if on_cycle:
                on_cycle(report)
        return reports

    def run_cycle(self, now: float | None = None, every: bool = False) -> CycleReport:
        """Poll the feeds due at `now` (all healthy ones if `every`) and ingest what is new."""
        started = time.perf_counter()
        now = self.clock() if now is None else now
        report = CycleReport()
        due = [
            f
            for f in self.store.feeds()
            if not f.disabled and (f.next_poll <= now or (every and not f.failures))
        ]
        polls = self._over_hosts(due, lambda f: f.url, self._poll)
        report.feeds = len(polls)
        items: list[_Item] = []
        finished: list[_Poll] = []
        for poll in polls:
            feed = poll.feed
            feed.last_poll = now
            if poll.response is not None:
                _follow_moves(feed, poll.response)
            if poll.error is not None:
                self._failed(feed, poll.error, now, report)
            elif poll.parsed is None:  # 304
                report.not_modified += 1
                self._healthy(feed, now)
                self.store.save_feed(feed)
            else:
                found = self._new_entries(feed, poll.parsed, report)
                items.extend(found)
                finished.append(poll)
        pending = self._ingest(items, now, report)
        for poll in finished:
            self._polled(poll, now, pending[poll.feed.id])
        report.seconds = time.perf_counter() - started
        return report

    # ---------------------------------------------------------------- feeds

    def _poll(self, feed: FeedRow) -> _Poll:
        headers = {}
        if feed.etag:
            headers["If-None-Match"] = feed.etag
        if feed.last_modified:
            headers["If-Modified-Since"] = feed.last_modified
        try:
            response = self.fetcher.get(feed.url, headers=headers)
        except FetchError as error:
            return _Poll(feed, error=error)
        if response.status == 304:
            return _Poll(feed, response)
        try:
            return _Poll(feed, response, parse_entries(response.body, feed.url))
        except ReadError as error:
            return _Poll(feed, response, error=error)

    def _failed(
        self, feed: FeedRow, error: FetchError | ReadError, now: float, report: CycleReport
    ) -> None:
        report.failed += 1
        report.errors.append(str(error))
        feed.last_error = str(error)
        if isinstance(error, FetchError) and error.status == 410:
            feed.disabled = "the feed is gone (HTTP 410); remove it or subscribe to its new URL"
        else:
            feed.failures += 1
            retry_after = error.retry_after if isinstance(error, FetchError) else None
            feed.next_poll = now + backoff(self._interval(feed), feed.failures, retry_after)
        self.store.save_feed(feed)

    def _interval(self, feed: FeedRow) -> float:
        return feed.interval if self.interval is None else self.interval

    def _healthy(self, feed: FeedRow, now: float) -> None:
        feed.last_success, feed.failures, feed.last_error = now, 0, None
        if self.interval is None:
            feed.interval = adaptive_interval(self.store.entry_times(feed.id, HISTORY), now)
        else:
            feed.interval = self.interval
        feed.next_poll = now + feed.interval

    def _polled(self, poll: _Poll, now: float, pending: int) -> None:
        """Save a feed that answered with entries, and its validators once every entry is in
        (else the next poll reads the whole feed again)."""
        feed, response = poll.feed, poll.response
        assert response is not None and poll.parsed is not None
        if pending == 0:
            feed.etag, feed.last_modified = response.etag, response.last_modified
        feed.title = feed.title or poll.parsed.title
        self._healthy(feed, now)
        self.store.save_feed(feed)

    def _new_entries(self, feed: FeedRow, parsed: ParsedFeed, report: CycleReport) -> list[_Item]:
        """The entries not seen before, or seen with another text (revisions)."""
        entries = list({e.key: e for e in parsed.entries}.values())
        known = self.store.entry_hashes(feed.id, [e.key for e in entries])
        fresh = [e for e in entries if e.key not in known]
        changed = [e for e in entries if e.key in known and known[e.key] != e.hash]
        report.new_entries += len(fresh)
        report.changed_entries += len(changed)
        source = feed.title or parsed.title
        return [_Item(feed, e, source, False) for e in fresh] + [
            _Item(feed, e, source, True) for e in changed
        ]

    # ---------------------------------------------------------------- pages

    def _over_hosts(
        self, things: Sequence[T], url_of: Callable[[T], str], work: Callable[[T], R]
    ) -> list[R]:
        """`work` on every thing, one host's things in turn, hosts side by side (at most the
        fetcher's `max_hosts` threads); results in input order. Stops early after `stop()`."""
        by_host: dict[str, list[int]] = defaultdict(list)
        for number, thing in enumerate(things):
            by_host[host_of(url_of(thing))].append(number)
        results: dict[int, R] = {}

        def one_host(numbers: list[int]) -> None:
            for number in numbers:
                if self.stopping:
                    return
                results[number] = work(things[number])

        workers = max(1, min(self.fetcher.policy.max_hosts, len(by_host)))
        with ThreadPoolExecutor(workers, thread_name_prefix="watch") as pool:
            for done in [pool.submit(one_host, numbers) for numbers in by_host.values()]:
                done.result()
        return [results[n] for n in range(len(things)) if n in results]

    def _read(self, item: _Item) -> _Read:
        """The entry's article from its page, else from the feed's own text."""
        entry = item.entry
        if not entry.url:
            return self._from_feed(item, "the entry has no link")
        try:
            response = self.fetcher.get(entry.url, robots=True)
            page = parse_html(decode(response.body, entry.url), entry.url, url=response.url)
        except FetchError as error:
            key = (item.feed.id, entry.key)
            if error.retry_after is not None and self._deferrals[key] < MAX_DEFERRALS:
                self._deferrals[key] += 1
                return _Read(item, None, "deferred", str(error))
            return self._from_feed(item, str(error))
        except ReadError as error:
            return self._from_feed(item, str(error))
        if len(page.text) < len(entry.text):
            return self._from_feed(item, f"{entry.url}: the page holds less text than the feed")
        article = repaired_article(  # the feed's title is not read by parse_html
            Article(
                title=entry.title or page.title,
                text=page.text,
                language=page.language,
                url=entry.url,
                source=item.source or page.source or domain(entry.url),
                published=entry.published or page.published,
                origin=entry.url,
                repaired=page.repaired,
            )
        )
        return _Read(item, article, "page")

    def _from_feed(self, item: _Item, why: str) -> _Read:
        entry = item.entry
        if not entry.text:
            return _Read(item, None, "feed", f"{why}; the feed has no text for it either")
        article = repaired_article(
            Article(
                title=entry.title,
                text=entry.text,
                url=entry.url,
                source=item.source or domain(entry.url),
                published=entry.published,
                origin=entry.url or f"{item.feed.url}#{entry.key}",
            )
        )
        return _Read(item, article, "feed", why)

    # ---------------------------------------------------------------- ingest

    def _ingest(self, items: list[_Item], now: float, report: CycleReport) -> Counter[int]:
        """Read the items' pages and add their articles in batches, recording each entry once
        its article is committed; returns, per feed, the entries left for a later cycle.

        A page is read once: a new entry linking to a page another entry already gave (in an
        earlier cycle or this one) takes that entry's article."""
        pending: Counter[int] = Counter(item.feed.id for item in items)
        earlier = self.store.fetched_pages([i.entry.url for i in items if i.entry.url])
        followers: dict[str, list[_Item]] = defaultdict(list)
        to_read: list[_Item] = []
        recorded: list[tuple[_Item, str, str | None, str | None]] = []
        for item in items:
            url = item.entry.url
            if url and not item.changed and url in earlier:
                row = earlier[url]
                recorded.append((item, row.text_source, row.note, row.article_id))
            elif url and url in followers:
                followers[url].append(item)
            else:
                followers[url or ""] = []
                to_read.append(item)
        self._record(recorded, now)
        pending.subtract(item.feed.id for item, *_ in recorded)
        to_read = _round_robin(to_read, lambda i: host_of(i.entry.url or i.feed.url))
        for start in range(0, len(to_read), self.batch_size):
            if self.stopping:
                break
            batch = self._over_hosts(
                to_read[start : start + self.batch_size],
                lambda i: i.entry.url or i.feed.url,
                self._read,
            )
            stored = self._add(batch, report)
            recorded = []
            for read in batch:
                if read.text_source == "deferred":
                    continue
                article = read.article
                article_id = article.id if article and article.id in stored else None
                for item in (read.item, *followers.get(read.item.entry.url or "", [])):
                    recorded.append((item, read.text_source, read.note, article_id))
            self._record(recorded, now)
            pending.subtract(item.feed.id for item, *_ in recorded)
        return pending

    def _add(self, batch: list[_Read], report: CycleReport) -> set[str]:
        """Ingest a batch's articles; the ids of those now stored (added, known or revised)."""
        articles = [r.article for r in batch if r.article is not None]
        result = self.stories.add_or_revise(articles)
        report.errors.extend(result.skipped)
        report.added += result.added
        report.revised += result.revised
        report.duplicates += result.duplicates
        report.new_stories += result.new_stories
        touched = set(self.stories.story_of([a.id for a in articles]).values())
        report.grown_stories += max(0, len(touched) - result.new_stories)
        report.pages += sum(r.text_source == "page" for r in batch)
        report.from_feed += sum(r.text_source == "feed" for r in batch)
        report.deferred += sum(r.text_source == "deferred" for r in batch)
        return self.store.known_ids([a.id for a in articles])

    def _record(
        self, recorded: list[tuple[_Item, str, str | None, str | None]], now: float
    ) -> None:
        """Remember entries as seen, with the article each gave (None: none could be made)."""
        self.store.record_entries(
            [
                EntryRow(
                    item.feed.id,
                    item.entry.key,
                    item.entry.url,
                    item.entry.hash,
                    now,
                    item.entry.published.timestamp() if item.entry.published else None,
                    article_id,
                    text_source,
                    note,
                )
                for item, text_source, note, article_id in recorded
            ]
        )


def _follow_moves(feed: FeedRow, response: Response) -> None:
    """A feed that moved for good (301, 308 from the start of the chain) takes its new URL."""
    for status, target in response.redirects:
        if status not in PERMANENT_MOVES:
            return
        feed.url = target


def _round_robin(things: list[T], key: Callable[[T], str]) -> list[T]:
    """One thing of each group in turn (in order within a group): every batch of pages then
    spans as many hosts as it can, which the fetcher may ask side by side."""
    groups: dict[str, list[T]] = defaultdict(list)
    for thing in things:
        groups[key(thing)].append(thing)
    rounds = itertools.zip_longest(*groups.values())
    return [thing for round_ in rounds for thing in round_ if thing is not None]
