"""Following feeds live: a real news site on 127.0.0.1, the Watcher, `storylink watch`."""

from __future__ import annotations

import itertools
import os
import select
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest

from storylink.compare import Comparer
from storylink.encode import EncoderSet
from storylink.feeds import (
    DEFAULT_INTERVAL,
    MAX_INTERVAL,
    MIN_INTERVAL,
    FeedError,
    FeedSource,
    adaptive_interval,
    backoff,
    feed_health,
    feed_sources,
)
from storylink.fetch import Fetcher, FetchPolicy
from storylink.read import read
from storylink.store import EntryRow, FeedRow, SQLiteStore
from storylink.stories import StoryStore
from storylink.watch import CycleReport, Watcher

from .conftest import serving
from .newssite import Entry, NewsSite, Reply, conditional, etag_of, example_records, running

RECORDS = example_records("izmir-quake", "nile-summit", "chip-deal")
INTERVAL = 1.0  # seconds between polls in these tests (the real schedule is 5 min – 24 h)
# texts only the feeds carry: their pages are private, slow, too big or lost in redirects
FEED_ONLY = {
    "memo": "Staff memo: the Levant Wire newsroom moves to its new offices on the harbour front "
    "on 4 May; desks will be packed on the evening of 3 May.",
    "weather": "Weather: a late cold spell is expected across the northern coast on Thursday, "
    "with snow above 800 metres and strong north winds through the weekend.",
    "cup": "Basketball: Alexandria Sporting Club won the regional cup final 81-77 after "
    "overtime on Sunday evening in front of 6,000 fans.",
    "markets": "Markets: the Casablanca stock exchange closed 0.8 percent higher on Tuesday, "
    "led by banking and telecom shares.",
}
POLICY = FetchPolicy(
    allow_private=True,
    host_interval=0.3,  # longer than a dripping page takes to notice its client left
    connect_timeout=1.0,
    read_timeout=0.5,  # the whole response: 1 + 2 × 0.5 = 2 s
    max_bytes=200_000,
    max_redirects=3,
    backoff_without_retry_after=5.0,
)


def normal(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def story_comparer() -> Comparer:
    return Comparer(encoders=EncoderSet(None, threads=1), compact_vectors=True, glance=False)


# ---------------------------------------------------------------- the sites


def drip(site: NewsSite, request: BaseHTTPRequestHandler) -> None:
    """A page slower than any timeout: one byte every 0.2 s, until the client leaves."""
    request.send_response(200)
    request.send_header("Content-Type", "text/html")
    request.send_header("Content-Length", "100")
    request.end_headers()
    for tick in range(400):
        ready, _, _ = select.select([request.connection], [], [], 0)
        if ready and not request.connection.recv(1, socket.MSG_PEEK):
            return  # the client gave up: so does the page (the site counts it done)
        if tick % 4 == 0:
            request.wfile.write(b" ")
            request.wfile.flush()
        time.sleep(0.05)


def huge(site: NewsSite, request: BaseHTTPRequestHandler) -> Reply:
    body = b"<html><body><article>" + b"<p>filler text</p>" * 20_000 + b"</article></body></html>"
    return Reply(200, body, {"Content-Type": "text/html"})


def redirect_to(target: str) -> Any:
    return lambda site, request: Reply(302, b"", {"Location": target})


class Flaky:
    """A feed that fails its first `failures` requests (HTTP 500), then works."""

    def __init__(self, path: str, failures: int) -> None:
        self.path, self.left = path, failures

    def __call__(self, site: NewsSite, request: BaseHTTPRequestHandler) -> Reply:
        if self.left:
            self.left -= 1
            return Reply(500, b"oops", {"Content-Type": "text/plain"})
        return conditional(request, site.render_feed(*site.feeds[self.path]), "application/xml")


class Busy:
    """A page that first answers 429 with Retry-After: 1, then the page."""

    def __init__(self, path: str) -> None:
        self.path, self.asked = path, False

    def __call__(self, site: NewsSite, request: BaseHTTPRequestHandler) -> Reply:
        if not self.asked:
            self.asked = True
            return Reply(429, b"slow down", {"Retry-After": "1"})
        body = site.render_page(site.pages[self.path])
        return Reply(200, body, {"Content-Type": "text/html; charset=utf-8"})


def feed_only_entry(key: str, path: str, hour: int) -> Entry:
    published = datetime(2026, 4, 21, hour, tzinfo=UTC)
    return Entry(key, FEED_ONLY[key].split(":")[0], FEED_ONLY[key], published, path)


def make_sites() -> tuple[NewsSite, NewsSite, NewsSite]:
    """Levant Wire (RSS, English and Arabic, and every kind of trouble), Horizon Presse (Atom
    in French, a moved Spanish feed behind a page that asks for time) and a slow host (its
    page drips until the client gives up: on a host of its own, so that the sites' count of
    requests in flight stays exact)."""
    levant, horizon, slow = NewsSite("Levant Wire"), NewsSite("Horizon Presse"), NewsSite("Slow")
    slow.routes["/news/weather.html"] = drip
    levant.feeds["/rss.xml"] = ("rss", "Levant Wire", [])
    for key in ("izmir-quake-en", "izmir-quake-ar", "nile-summit-ar"):
        levant.add_article("/rss.xml", key, RECORDS[key])
    entries = levant.feeds["/rss.xml"][2]
    entries.append(feed_only_entry("memo", "/private/memo.html", 6))
    entries.append(feed_only_entry("weather", "/news/weather.html", 7))
    entries.append(feed_only_entry("cup", "/news/cup.html", 8))
    entries.append(feed_only_entry("markets", "/r/1", 9))
    levant.routes["/news/cup.html"] = huge
    for hop in range(1, 7):
        levant.routes[f"/r/{hop}"] = redirect_to(f"/r/{hop + 1}")
    levant.feeds["/flash.xml"] = ("rss", "Levant Flash", [])
    levant.add_article("/flash.xml", "izmir-quake-tr", RECORDS["izmir-quake-tr"])
    levant.routes["/flash.xml"] = Flaky("/flash.xml", failures=1)
    levant.routes["/gone.xml"] = lambda site, request: Reply(410, b"gone")

    horizon.feeds["/atom.xml"] = ("atom", "Horizon Presse", [])
    for key in ("izmir-quake-fr", "nile-summit-fr"):
        horizon.add_article("/atom.xml", key, RECORDS[key])
    horizon.feeds["/es.xml"] = ("rss", "Mundo Sur", [])
    horizon.add_article("/es.xml", "nile-summit-es", RECORDS["nile-summit-es"])
    horizon.routes["/old-es.xml"] = lambda site, request: Reply(301, b"", {"Location": "/es.xml"})
    horizon.routes[horizon.page_path("nile-summit-es")] = Busy(horizon.page_path("nile-summit-es"))
    return levant, horizon, slow


@dataclass
class Watched:
    levant: NewsSite
    horizon: NewsSite
    db: Path
    reports: list[CycleReport]
    feeds_after_first: dict[str, FeedRow]


@pytest.fixture(scope="module")
def watched(
    tmp_path_factory: pytest.TempPathFactory, story_comparer: Comparer
) -> Iterator[Watched]:
    """Three cycles over both sites; Levant publishes the English Nile report after the first."""
    db = tmp_path_factory.mktemp("watch") / "news.db"
    levant, horizon, slow = make_sites()
    snapshot: dict[str, FeedRow] = {}
    with running(levant, horizon, slow), StoryStore(db, comparer=story_comparer) as stories:
        weather = next(e for e in levant.feeds["/rss.xml"][2] if e.slug == "weather")
        weather.link = slow.url("/news/weather.html")
        watcher = Watcher(stories, Fetcher(POLICY), interval=INTERVAL)
        feeds = ["/rss.xml", "/flash.xml", "/gone.xml"]
        watcher.subscribe(FeedSource(levant.url(path)) for path in feeds)
        watcher.subscribe(FeedSource(horizon.url(path)) for path in ("/atom.xml", "/old-es.xml"))

        def after(report: CycleReport) -> None:
            if not snapshot:
                snapshot.update((f.url, f) for f in stories.store.feeds())
                levant.add_article("/rss.xml", "nile-summit-en", RECORDS["nile-summit-en"])

        reports = watcher.run(cycles=3, on_cycle=after)
        yield Watched(levant, horizon, db, reports, snapshot)


def stored(db: Path) -> list[sqlite3.Row]:
    with sqlite3.connect(db) as connection:
        connection.row_factory = sqlite3.Row
        return connection.execute(
            "SELECT a.*, m.story_id, e.text_source, e.note FROM articles a "
            "LEFT JOIN memberships m ON m.seq = a.seq "
            "LEFT JOIN entries e ON e.article_id = a.id ORDER BY a.seq"
        ).fetchall()


# ---------------------------------------------------------------- the Watcher, three cycles


def test_exactly_the_expected_articles_with_their_full_page_text(watched: Watched) -> None:
    rows = stored(watched.db)
    by_title = {r["title"]: r for r in rows}
    assert len(rows) == len(by_title) == 12, [r["title"] for r in rows]
    pages = [
        "izmir-quake-en",
        "izmir-quake-ar",
        "nile-summit-ar",
        "izmir-quake-tr",
        "nile-summit-en",
        "izmir-quake-fr",
        "nile-summit-fr",
        "nile-summit-es",
    ]
    for key in pages:
        row = by_title[RECORDS[key]["title"]]
        assert normal(row["text"]) == normal(RECORDS[key]["text"]), key
        assert (row["text_source"], row["note"]) == ("page", None)
        assert row["language"] == RECORDS[key]["lang"]
    for text in FEED_ONLY.values():  # teasers only: private, slow, too big, redirect loop
        row = by_title[text.split(":")[0]]
        assert (row["text"], row["text_source"]) == (text, "feed")
    notes = {r["title"]: r["note"] for r in rows if r["text_source"] == "feed"}
    assert "robots.txt disallows" in notes["Staff memo"]
    assert "within 2 s" in notes["Weather"]
    assert "over the" in notes["Basketball"]
    assert "redirects" in notes["Markets"]
    sources = {r["source"] for r in rows}
    assert sources == {"Levant Wire", "Levant Flash", "Horizon Presse", "Mundo Sur"}


def test_cross_language_reports_of_one_event_share_one_story(watched: Watched) -> None:
    story_of = {r["title"]: r["story_id"] for r in stored(watched.db)}
    events = {
        "izmir-quake": ("en", "ar", "tr", "fr"),
        "nile-summit": ("ar", "en", "fr", "es"),
    }
    found = []
    for event, languages in events.items():
        ids = {story_of[RECORDS[f"{event}-{lang}"]["title"]] for lang in languages}
        assert len(ids) == 1, event
        found.append(ids.pop())
        members = [t for t, story in story_of.items() if story == found[-1]]
        assert len(members) == len(languages), members
    assert found[0] != found[1]


def test_rss_dates_keep_their_offset(watched: Watched) -> None:
    rows = {r["title"]: r for r in stored(watched.db)}
    arabic = rows[RECORDS["izmir-quake-ar"]["title"]]  # pubDate "Sat, 14 Mar 2026 11:05:00 +0300"
    assert arabic["published_ts"] == datetime(2026, 3, 14, 8, 5, tzinfo=UTC).timestamp()
    atom = rows[RECORDS["nile-summit-fr"]["title"]]  # 20:45+02:00
    assert atom["published_ts"] == datetime(2026, 4, 20, 18, 45, tzinfo=UTC).timestamp()


def test_politeness_robots_one_request_per_host_conditional_gets(watched: Watched) -> None:
    levant, horizon = watched.levant, watched.horizon
    assert not levant.requested("/private/memo.html")
    assert len(levant.requested("/robots.txt")) == 1
    assert levant.max_in_flight == 1 and horizon.max_in_flight == 1
    for site in (levant, horizon):
        starts = sorted(r.started for r in site.requests)
        assert min(b - a for a, b in itertools.pairwise(starts)) >= 0.25
    polls = levant.requested("/rss.xml")
    assert len(polls) == 3 and "If-None-Match" not in polls[0].headers
    etag = etag_of(levant.render_feed(*levant.feeds["/rss.xml"]))
    assert polls[2].headers["If-None-Match"] == etag  # exactly as the site sent it
    assert polls[2].headers["If-Modified-Since"] == "Tue, 21 Apr 2026 00:00:00 GMT"
    assert watched.reports[2].not_modified >= 3
    assert all(len(levant.requested(levant.page_path(k))) == 1 for k in ("izmir-quake-en",))
    assert len(levant.requested("/r/4")) == 1 and not levant.requested("/r/5")


def test_retry_after_is_honoured(watched: Watched) -> None:
    asked = watched.horizon.requested(watched.horizon.page_path("nile-summit-es"))
    assert len(asked) == 2
    assert asked[1].started - asked[0].started >= 1.0
    assert watched.reports[0].deferred == 1


def test_failing_feed_backs_off_and_recovers_gone_feed_stops_moved_feed_moves(
    watched: Watched,
) -> None:
    levant, horizon = watched.levant, watched.horizon
    flash = watched.feeds_after_first[levant.url("/flash.xml")]
    assert flash.failures == 1 and "HTTP 500" in (flash.last_error or "")
    assert flash.last_poll is not None
    assert flash.next_poll - flash.last_poll == pytest.approx(backoff(INTERVAL, 1)) == 2.0
    with StoryStore(watched.db) as stories:
        health = {h.url: h for h in feed_health(stories.store)}
    assert health[levant.url("/flash.xml")].status == "ok"
    assert health[levant.url("/flash.xml")].failures == 0
    gone = health[levant.url("/gone.xml")]
    assert gone.status == "disabled" and gone.next_poll is None
    assert len(levant.requested("/gone.xml")) == 1
    assert horizon.url("/es.xml") in health and horizon.url("/old-es.xml") not in health
    assert len(horizon.requested("/old-es.xml")) == 1
    rss = health[levant.url("/rss.xml")]
    assert (rss.entries_per_day, rss.articles_per_day, rss.feed_text_per_day) == (8, 8, 4)


def test_stories_know_when_they_grew(watched: Watched) -> None:
    with StoryStore(watched.db) as stories:
        grown = stories.stories(order="grown", limit=100)
        assert all(s.grown_at is not None for s in grown)
        times = [s.grown_at for s in grown]
        assert times == sorted(times, reverse=True)
        nile = next(
            s for s in grown if RECORDS["nile-summit-en"]["title"] in [a.title for a in s.timeline]
        )
        assert nile.grown_at == max(times)  # the last article to arrive joined it


# ---------------------------------------------------------------- revisions


def test_a_revised_entry_updates_its_article_in_place(
    any_db: str, story_comparer: Comparer
) -> None:
    site = NewsSite("Levant Wire")
    site.feeds["/rss.xml"] = ("rss", "Levant Wire", [])
    for key in ("izmir-quake-en", "izmir-quake-fr"):
        site.add_article("/rss.xml", key, RECORDS[key])
    page = site.pages[site.page_path("izmir-quake-en")]
    policy = FetchPolicy(allow_private=True, host_interval=0.0)
    with running(site), StoryStore(any_db, comparer=story_comparer) as stories:
        watcher = Watcher(stories, Fetcher(policy), interval=0.0)
        watcher.subscribe([FeedSource(site.url("/rss.xml"))])
        watcher.run_cycle()
        before = stories.store.find_article(site.url(site.page_path("izmir-quake-en")))
        assert before is not None
        page.text = page.text.replace("killing seven people", "killing nine people")
        page.title = page.title.replace("seven", "nine")
        site.feeds["/rss.xml"][2][0].title = page.title
        report = watcher.run_cycle()
        after = stories.store.find_article(site.url(site.page_path("izmir-quake-en")))
    assert (report.changed_entries, report.revised, report.added) == (1, 1, 0)
    assert after is not None
    assert (after[0].seq, after[0].story_id) == (before[0].seq, before[0].story_id)
    assert "killing nine people" in after[1].text and after[1].id != before[1].id
    # the index (files, or pgvector's) holds the new vector, once (a new process reads it)
    with StoryStore(any_db, comparer=story_comparer) as reopened:
        assert reopened.store.count("articles") == 2
        seq = after[0].seq
        vector = reopened.store.prepared([seq])[seq].vectors["use-m3"].document_vector
        index = reopened._index("use-m3")
        assert index is not None
        hits = index.search(vector, 5)
    assert hits[0][0] == seq and hits[0][1] > 0.99
    assert len(hits) == 2 and len({label for label, _ in hits}) == 2


# ---------------------------------------------------------------- no network needed


def test_feed_arguments_urls_lists_and_opml(tmp_path: Path) -> None:
    assert feed_sources("https://example.org/rss") == [FeedSource("https://example.org/rss")]
    listed = tmp_path / "feeds.txt"
    listed.write_text("# my feeds\nhttps://a.example/rss  # world\n\nhttp://b.example/atom\n")
    assert [s.url for s in feed_sources(str(listed))] == [
        "https://a.example/rss",
        "http://b.example/atom",
    ]
    opml = tmp_path / "feeds.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><head><title>x</title></head><body>'
        '<outline text="World"><outline text="Levant Wire" type="rss" '
        'xmlUrl="https://levant.example/rss.xml"/></outline>'
        '<outline title="Horizon" xmlUrl="https://horizon.example/atom.xml" category="fr"/>'
        "</body></opml>"
    )
    assert feed_sources(str(opml)) == [
        FeedSource("https://levant.example/rss.xml", "Levant Wire", "World"),
        FeedSource("https://horizon.example/atom.xml", "Horizon", "fr"),
    ]
    (tmp_path / "bad.txt").write_text("not a url\n")
    for bad in ("bad.txt", "missing.txt"):
        with pytest.raises(FeedError):
            feed_sources(str(tmp_path / bad))


def test_subscribing_twice_changes_nothing_and_removing_drops_the_entries(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "news.db")
    assert store.subscribe("https://a.example/rss", "A", "World", DEFAULT_INTERVAL)
    assert not store.subscribe("https://a.example/rss", "Other", None, 60.0)
    (feed,) = store.feeds()
    assert (feed.title, feed.category, feed.interval) == ("A", "World", DEFAULT_INTERVAL)
    store.record_entries(
        [EntryRow(feed.id, "g1", "https://a.example/1", "h", 0.0, None, None, "feed")]
    )
    assert store.entry_hashes(feed.id, ["g1", "g2"]) == {"g1": "h"}
    assert store.unsubscribe("https://a.example/rss") and not store.unsubscribe(
        "https://a.example/rss"
    )
    assert store.feeds() == [] and store.entry_counts(0.0) == {}
    store.close()


def test_a_feed_named_again_is_polled_at_once(tmp_path: Path) -> None:
    """Refused without --allow-private, then named again with it: no half-hour back-off."""
    now = 1_800_000_000.0
    with StoryStore(tmp_path / "news.db") as stories:
        watcher = Watcher(stories, Fetcher(), clock=lambda: now)
        assert watcher.subscribe([FeedSource("https://a.example/rss")]) == 1
        (feed,) = stories.store.feeds()
        feed.next_poll, feed.failures = now + 1800, 1
        stories.store.save_feed(feed)
        assert watcher.next_due() == now + 1800
        assert watcher.subscribe([FeedSource("https://a.example/rss")]) == 0
        assert watcher.next_due() == now


def test_schedule_adapts_to_how_often_a_feed_publishes() -> None:
    now = 1_800_000_000.0
    assert adaptive_interval([], now) == DEFAULT_INTERVAL
    hourly = [now - 3600 * i for i in range(10)]
    assert adaptive_interval(hourly, now) == 1800
    assert adaptive_interval([now - 60 * i for i in range(10)], now) == MIN_INTERVAL
    assert adaptive_interval([now - 30 * 86400], now) == MAX_INTERVAL
    assert [backoff(900, n) for n in (1, 2, 3)] == [1800, 3600, 7200]
    assert backoff(900, 30) == MAX_INTERVAL
    assert backoff(60, 1, retry_after=600) == 600


# ---------------------------------------------------------------- real processes


def watch_command(db: Path, *args: str) -> list[str]:
    command = [sys.executable, "-m", "storylink.cli", "watch", *args, "--db", str(db)]
    return [*command, "--host-interval", "0.05"]


def test_cli_watch_polls_then_asks_conditionally_and_refuses_private_addresses(
    tmp_path: Path,
) -> None:
    site = NewsSite("Levant Wire")
    site.feeds["/feed.xml"] = ("rss", "Levant Wire", [])
    for key in ("izmir-quake-en", "izmir-quake-ar", "izmir-quake-fr"):
        site.add_article("/feed.xml", key, RECORDS[key])
    db = tmp_path / "news.db"
    with running(site):
        url = site.url("/feed.xml")
        first = subprocess.run(
            watch_command(db, url, "--cycles", "1", "--allow-private"),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert first.returncode == 0, first.stderr
        assert "3 articles added" in first.stdout
        pages = [r.path for r in site.requests if r.path.startswith("/news/")]
        assert len(pages) == 3
        again = subprocess.run(
            watch_command(db, url, "--cycles", "1", "--allow-private"),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert again.returncode == 0, again.stderr
        assert "1 not modified" in again.stdout
        second = site.requests[len(pages) + 2 :]  # after feed, robots.txt and pages
        assert [r.path for r in second] == ["/feed.xml"]
        assert "If-None-Match" in second[0].headers
        seen = len(site.requests)
        refused = subprocess.run(
            watch_command(db, url, "--cycles", "1"), capture_output=True, text=True, timeout=300
        )
        assert refused.returncode == 1
        assert "127.0.0.1" in refused.stderr and "loopback" in refused.stderr
        assert len(site.requests) == seen
    listed = storylink("feeds", "--db", str(db), "--json")
    assert '"failures": 1' in listed.stdout and "loopback" in listed.stdout
    assert "removed 1 feed" in storylink("feeds", "remove", url, "--db", str(db)).stdout
    assert storylink("feeds", "--db", str(db), "--json").stdout.strip() == "[]"


def storylink(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "storylink.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


def test_sigkill_mid_cycle_loses_and_doubles_nothing(tmp_path: Path) -> None:
    site = NewsSite("Levant Wire")
    site.feeds["/feed.xml"] = ("rss", "Levant Wire", [])
    for key in RECORDS:
        site.add_article("/feed.xml", key, RECORDS[key])
    db = tmp_path / "news.db"
    with running(site):
        url = site.url("/feed.xml")
        command = watch_command(db, url, "--allow-private", "--batch-size", "2")
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 240
            while stored_count(db) < 3:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        finally:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
        killed_at = stored_count(db)
        assert killed_at < len(RECORDS)
        resumed = subprocess.run(
            watch_command(db, url, "--cycles", "1", "--allow-private"),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert resumed.returncode == 0, resumed.stderr
    with sqlite3.connect(db) as connection:
        urls = [r[0] for r in connection.execute("SELECT url FROM articles")]
        members = connection.execute("SELECT COUNT(*), COUNT(DISTINCT seq) FROM memberships")
        entries = connection.execute("SELECT COUNT(*) FROM entries WHERE article_id IS NOT NULL")
        assert sorted(urls) == sorted({site.url(site.page_path(k)) for k in RECORDS})
        assert members.fetchone() == (len(RECORDS), len(RECORDS))
        assert entries.fetchone()[0] == len(RECORDS)


def stored_count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as connection:
            return int(connection.execute("SELECT COUNT(*) FROM articles").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0


def test_a_running_server_sees_what_watch_adds(tmp_path: Path, story_comparer: Comparer) -> None:
    site = NewsSite("Levant Wire")
    site.feeds["/feed.xml"] = ("rss", "Levant Wire", [])
    for key in ("chip-deal-en", "chip-deal-de"):
        site.add_article("/feed.xml", key, RECORDS[key])
    db = tmp_path / "news.db"
    StoryStore(db, comparer=story_comparer).close()  # an empty store the server can open
    with running(site), serving(db) as base, StoryStore(db, comparer=story_comparer) as stories:
        assert httpx.get(f"{base}/search", params={"q": "semiconductor pact"}).json()["hits"] == []
        watcher = Watcher(stories, Fetcher(FetchPolicy(allow_private=True, host_interval=0)))
        watcher.subscribe([FeedSource(site.url("/feed.xml"))])
        watcher.run_cycle(every=True)
        hits = httpx.get(f"{base}/search", params={"q": "EU Japan chip supply-chain pact"})
        found = hits.json()["hits"]
        titles = {RECORDS[k]["title"] for k in ("chip-deal-en", "chip-deal-de")}
        assert found and found[0]["article"]["title"] in titles
        story = httpx.get(f"{base}/stories/{found[0]['story_id']}").json()
        assert {a["language"] for a in story["timeline"]} == {"en", "de"}
        assert story["grown_at"] is not None
        page = httpx.get(f"{base}/story/{found[0]['story_id']}")
        assert RECORDS["chip-deal-de"]["title"] in page.text
        article = httpx.get(f"{base}/articles/{found[0]['article']['id']}").json()
        assert article["text_source"] == "page" and article["source"] == "Levant Wire"
        feeds = httpx.get(f"{base}/feeds").json()
        assert [(f["url"], f["status"]) for f in feeds] == [(site.url("/feed.xml"), "ok")]


def test_read_keeps_feed_offsets_and_names_a_source(tmp_path: Path) -> None:
    feed = tmp_path / "wire.rss"
    feed.write_text(
        "<?xml version='1.0'?><rss version='2.0'><channel><title></title>"
        "<item><title>Quake</title><link>https://www.levant.example/quake</link>"
        "<pubDate>Mon, 06 Apr 2020 23:30:00 -0500</pubDate>"
        "<description>A strong earthquake shook the coast overnight.</description></item>"
        "</channel></rss>"
    )
    (article,) = read(feed)
    assert article.published == datetime(2020, 4, 7, 4, 30, tzinfo=UTC)
    assert article.source == "levant.example"
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"text": "Body.", "url": "https://horizon.example/a/1"}\n')
    assert read(rows)[0].source == "horizon.example"
