"""A small news site on 127.0.0.1 for the watch tests and benchmark: real HTTP, no mocks.

`NewsSite` serves RSS 2.0 and Atom feeds whose entries carry only teasers, full article
pages (`<html lang=…>`, `og:site_name`), a robots.txt, ETag/Last-Modified with 304s, and
whatever special answers a test adds (`site.routes[path] = handler`). Every request is
recorded with its headers and how many requests were in flight at the site when it arrived.
"""

from __future__ import annotations

import hashlib
import html
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from storylink.demo import examples_path

ROBOTS = "User-agent: *\nDisallow: /private/\n"


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Seen:
    """One request as the site saw it."""

    path: str
    headers: dict[str, str]
    started: float
    in_flight: int  # requests being answered at the site when this one arrived, itself included


@dataclass
class Entry:
    slug: str
    title: str
    teaser: str
    published: datetime
    link: str | None = None  # a path or URL; default: the site's page for the slug


@dataclass
class Page:
    title: str
    text: str
    language: str
    published: datetime


Handler = Callable[["NewsSite", BaseHTTPRequestHandler], Reply | None]  # None: it answered


def example_records(*stories: str) -> dict[str, dict[str, Any]]:
    """The project's example articles of some stories, by id ("izmir-quake-ar")."""
    records = [json.loads(line) for line in examples_path().read_text("utf-8").splitlines()]
    return {r["id"]: r for r in records if not stories or r["story"] in stories}


def teaser(text: str) -> str:
    """The first sentence-ish of a text: what a feed that hides its articles carries."""
    first = text.split("\n")[0]
    return first[:140].rsplit(" ", 1)[0] + " …" if len(first) > 140 else first


class NewsSite:
    """One host: feeds (`feeds[path] = (kind, title, entries)`), pages and special routes."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.feeds: dict[str, tuple[str, str, list[Entry]]] = {}
        self.pages: dict[str, Page] = {}
        self.routes: dict[str, Handler] = {}
        self.requests: list[Seen] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # ---------------------------------------------------------------- content

    @property
    def base(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def page_path(self, slug: str) -> str:
        return f"/news/{slug}.html"

    def add_article(self, feed: str, slug: str, record: dict[str, Any], link: str = "") -> None:
        """A page for an example article and a teaser entry for it in a feed."""
        published = datetime.fromisoformat(record["date"])
        self.pages[self.page_path(slug)] = Page(
            record["title"], record["text"], record["lang"], published
        )
        entry = Entry(slug, record["title"], teaser(record["text"]), published, link or None)
        self.feeds[feed][2].append(entry)

    def requested(self, path: str) -> list[Seen]:
        return [r for r in self.requests if r.path == path]

    # ---------------------------------------------------------------- rendering

    def render_page(self, page: Page) -> bytes:
        paragraphs = "\n".join(f"<p>{html.escape(p)}</p>" for p in page.text.split("\n") if p)
        return (
            f'<!doctype html><html lang="{page.language}"><head><meta charset="utf-8">'
            f"<title>{html.escape(page.title)} | {html.escape(self.name)}</title>"
            f'<meta property="og:site_name" content="{html.escape(self.name)}">'
            f'<meta property="article:published_time" content="{page.published.isoformat()}">'
            f"</head><body><nav><a href='/'>Home</a> <a href='/world'>World</a></nav>"
            f"<article><h1>{html.escape(page.title)}</h1>{paragraphs}</article>"
            f"<footer>© {html.escape(self.name)}</footer></body></html>"
        ).encode()

    def render_feed(self, kind: str, title: str, entries: list[Entry]) -> bytes:
        items = []
        for e in entries:
            link = (
                self.url(e.link or self.page_path(e.slug))
                if not (e.link or "").startswith("http")
                else str(e.link)
            )
            if kind == "rss":
                items.append(
                    f"<item><title>{html.escape(e.title)}</title><link>{html.escape(link)}</link>"
                    f"<guid isPermaLink='false'>{e.slug}</guid>"
                    f"<pubDate>{format_datetime(e.published)}</pubDate>"
                    f"<description>{html.escape(e.teaser)}</description></item>"
                )
            else:
                items.append(
                    f"<entry><title>{html.escape(e.title)}</title>"
                    f"<link href='{html.escape(link)}'/><id>urn:{e.slug}</id>"
                    f"<updated>{e.published.isoformat()}</updated>"
                    f"<summary>{html.escape(e.teaser)}</summary></entry>"
                )
        if kind == "rss":
            return (
                f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
                f"<title>{html.escape(title)}</title><link>{self.base}/</link>"
                f"{''.join(items)}</channel></rss>"
            ).encode()
        return (
            f"<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
            f"<title>{html.escape(title)}</title><id>{self.base}/</id>"
            f"<updated>2026-04-21T00:00:00Z</updated>{''.join(items)}</feed>"
        ).encode()

    def answer(self, request: BaseHTTPRequestHandler) -> Reply | None:
        path = request.path.split("?")[0]
        if path in self.routes:
            return self.routes[path](self, request)
        if path == "/robots.txt":
            return Reply(200, ROBOTS.encode(), {"Content-Type": "text/plain"})
        if path in self.pages:
            body = self.render_page(self.pages[path])
            return Reply(200, body, {"Content-Type": "text/html; charset=utf-8"})
        if path in self.feeds:
            body = self.render_feed(*self.feeds[path])
            return conditional(request, body, "application/xml")
        return Reply(404, b"not found", {"Content-Type": "text/plain"})

    # ---------------------------------------------------------------- serving

    def done(self) -> None:
        """A request is answered (its response is about to be sent)."""
        with self._lock:
            self._in_flight -= 1

    def start(self) -> NewsSite:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                with site._lock:
                    site._in_flight += 1
                    site.max_in_flight = max(site.max_in_flight, site._in_flight)
                    seen = Seen(
                        self.path, dict(self.headers.items()), time.monotonic(), site._in_flight
                    )
                    site.requests.append(seen)
                reply: Reply | None = None
                try:
                    reply = site.answer(self)
                    if reply is not None:
                        # done before the client can have the answer, so that its next
                        # request never finds this one still counted
                        site.done()
                        self.send_response(reply.status)
                        for name, value in reply.headers.items():
                            self.send_header(name, value)
                        self.send_header("Content-Length", str(len(reply.body)))
                        self.end_headers()
                        self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)
                finally:
                    if reply is None:  # a handler that answered itself, or failed
                        site.done()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@contextmanager
def running(*sites: NewsSite) -> Iterator[tuple[NewsSite, ...]]:
    for site in sites:
        site.start()
    try:
        yield sites
    finally:
        for site in sites:
            site.stop()


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:16] + '"'


def conditional(request: BaseHTTPRequestHandler, body: bytes, content_type: str) -> Reply:
    """200 with validators, or 304 when the client already has this body."""
    etag = etag_of(body)
    modified = format_datetime(datetime(2026, 4, 21, tzinfo=UTC), usegmt=True)
    headers = {"ETag": etag, "Last-Modified": modified}
    if request.headers.get("If-None-Match") == etag:
        return Reply(304, b"", headers)
    return Reply(200, body, headers | {"Content-Type": content_type})
