"""The fetcher against real HTTP servers on 127.0.0.1; an audit hook proves nothing leaves.

Refused addresses (10.0.0.1, 169.254.169.254 …) are only ever named, by redirects or by an
injected resolver: the fetcher must refuse them before connecting, and the hook checks that
no connection and no name lookup beyond loopback was even attempted.
"""

from __future__ import annotations

import gzip
import http.server
import ipaddress
import itertools
import os
import pickle
import re
import shutil
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from storylink.fetch import (
    Fetcher,
    FetchError,
    FetchPolicy,
    RobotsDisallowedError,
    UnsafeAddressError,
    address_problem,
    retry_after_seconds,
)
from storylink.read import ReadError, read_url

OUTSIDE: list[str] = []  # every connection or name lookup that would leave this machine


def _is_loopback(host: object) -> bool:
    if host in (None, "localhost", b"localhost"):
        return True
    text = host.decode() if isinstance(host, bytes) else str(host)
    try:
        address = ipaddress.ip_address(text.partition("%")[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool((mapped or address).is_loopback)


def _watch(event: str, args: tuple[object, ...]) -> None:
    """Audit hook: note any connect or lookup that is not for loopback."""
    if event == "socket.connect" and isinstance(args[1], tuple) and not _is_loopback(args[1][0]):
        OUTSIDE.append(f"connect {args[1]}")
    elif event == "socket.getaddrinfo" and not _is_loopback(args[0]):
        OUTSIDE.append(f"lookup {args[0]!r}")


sys.addaudithook(_watch)  # once per process: audit hooks cannot be removed


@pytest.fixture(autouse=True)
def nothing_leaves_the_machine() -> Iterator[None]:
    OUTSIDE.clear()
    yield
    assert OUTSIDE == []


@dataclass(frozen=True)
class Seen:
    path: str
    headers: dict[str, str]
    at: float  # time.monotonic() when the request arrived


class Handler(http.server.BaseHTTPRequestHandler):
    server: SiteServer

    def do_GET(self) -> None:
        site = self.server.site
        path = self.path.partition("?")[0]
        site.begin(Seen(self.path, dict(self.headers.items()), time.monotonic()))
        try:
            site.routes.get(path, lambda h: h.reply(404, b"not here"))(self)
        except (BrokenPipeError, ConnectionResetError):  # the fetcher gave up first
            pass
        finally:
            site.end()

    def reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


Route = Callable[[Handler], None]


class SiteServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    site: Site


class Site:
    """A web site on 127.0.0.1 (https with `tls`): routes by path, a record of requests and
    of concurrency."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, Route] = {}
        self.seen: list[Seen] = []
        self.in_flight = self.peak = 0
        self._lock = threading.Lock()
        self.httpd = SiteServer(("127.0.0.1", 0), Handler)
        self.httpd.site = self
        if tls:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        serve = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        serve.start()  # polls for shutdown every 0.05 s: quick teardown

    def begin(self, seen: Seen) -> None:
        with self._lock:
            self.seen.append(seen)
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)

    def end(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def paths(self) -> list[str]:
        return [seen.path for seen in self.seen]

    def page(self, path: str, body: bytes = b"Title\nA body.", **headers: str) -> None:
        self.routes[path] = lambda h: h.reply(200, body, {"Content-Type": "text/plain", **headers})

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        self.routes[path] = lambda h: h.reply(status, headers={"Location": location})


@pytest.fixture
def make_site() -> Iterator[Callable[..., Site]]:
    sites: list[Site] = []

    def make(tls: ssl.SSLContext | None = None) -> Site:
        sites.append(Site(tls))
        return sites[-1]

    yield make
    for site in sites:
        site.httpd.shutdown()
        site.httpd.server_close()


@pytest.fixture
def site(make_site: Callable[[], Site]) -> Site:
    return make_site()


LOCAL = FetchPolicy(
    allowed_networks=("127.0.0.0/8",), host_interval=0, connect_timeout=2, read_timeout=2
)


def local(**changes: object) -> Fetcher:
    """A fetcher that may reach loopback (only), fast, with `changes` to its policy."""
    return Fetcher(replace(LOCAL, **changes))  # type: ignore[arg-type]


# --- safety -----------------------------------------------------------------------------------


def test_loopback_is_refused_by_default_without_connecting(site: Site) -> None:
    site.page("/a.html")
    with pytest.raises(UnsafeAddressError, match=r"127\.0\.0\.1 is a loopback address") as caught:
        Fetcher().get(f"{site.url}/a.html")
    assert caught.value.permanent and caught.value.url == f"{site.url}/a.html"
    assert site.seen == []


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", r"private address \(RFC 1918\)"),
        ("172.16.5.4", r"private address \(RFC 1918\)"),
        ("192.168.1.1", r"private address \(RFC 1918\)"),
        ("fd12:3456::1", r"private address \(unique local"),
        ("169.254.169.254", "cloud metadata"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("192.0.2.7", "not a globally routable"),  # documentation range
        ("::ffff:127.0.0.1", r"loopback address \(wrapping IPv4 127\.0\.0\.1\)"),
        ("::ffff:10.0.0.1", "RFC 1918"),
        ("2002:a9fe:a9fe::1", "cloud metadata"),  # 6to4 wrapping 169.254.169.254
        ("64:ff9b::a00:1", "RFC 1918"),  # NAT64 wrapping 10.0.0.1
    ],
)
def test_address_problem_names_why(address: str, kind: str) -> None:
    problem = address_problem(ipaddress.ip_address(address))
    assert problem is not None
    assert re.search(kind, problem), problem


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) is None


def test_a_name_resolving_to_a_private_address_is_refused() -> None:
    fetcher = Fetcher(resolve=lambda host, port: ["10.0.0.5"])
    with pytest.raises(
        UnsafeAddressError, match=r"news\.example resolves to 10\.0\.0\.5"
    ) as caught:
        fetcher.get("https://news.example/story.html")
    assert "private address (RFC 1918)" in str(caught.value)
    # every address counts: one public address among them does not let the name through
    mixed = Fetcher(resolve=lambda host, port: ["93.184.216.34", "192.168.0.9"])
    with pytest.raises(UnsafeAddressError, match=r"192\.168\.0\.9"):
        mixed.get("http://news.example/")


def test_ipv4_mapped_ipv6_is_refused(site: Site) -> None:
    site.page("/a")
    port = site.url.rpartition(":")[2]
    fetcher = Fetcher(resolve=lambda host, port: ["::ffff:127.0.0.1"])
    with pytest.raises(
        UnsafeAddressError,
        match=r"::ffff:127\.0\.0\.1, and that is a loopback address \(wrapping IPv4",
    ):
        fetcher.get(f"http://sneaky.example:{port}/a")
    with pytest.raises(UnsafeAddressError, match="loopback"):
        Fetcher().get(f"http://[::ffff:127.0.0.1]:{port}/a")
    assert site.seen == []


def test_redirects_to_private_and_metadata_addresses_are_refused_before_connecting(
    site: Site,
) -> None:
    site.redirect("/to-lan", "http://10.0.0.1/")
    site.redirect("/to-metadata", "http://169.254.169.254/latest/meta-data/", 301)
    with pytest.raises(UnsafeAddressError, match=r"10\.0\.0\.1 is a private address") as caught:
        local().get(f"{site.url}/to-lan")
    assert str(caught.value).startswith(f"{site.url}/to-lan: redirected to http://10.0.0.1/")
    with pytest.raises(UnsafeAddressError, match=r"169\.254\.169\.254 is the cloud metadata"):
        local().get(f"{site.url}/to-metadata")
    # allow_private is for local setups: the metadata service stays out of reach
    with pytest.raises(UnsafeAddressError, match=r"cloud metadata.*allow_private does not lift"):
        Fetcher(FetchPolicy(allow_private=True, host_interval=0)).get(f"{site.url}/to-metadata")
    assert site.paths() == ["/to-lan", "/to-metadata", "/to-metadata"]


def test_https_goes_to_the_checked_address_and_checks_the_name(
    make_site: Callable[..., Site], tmp_path: Path
) -> None:
    """A certificate for news.example, served on 127.0.0.1: the fetcher connects to the address
    it checked, and TLS still verifies the certificate against the name in the URL."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    request = "req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=news.example"
    request += " -addext subjectAltName=DNS:news.example"
    command = [openssl, *request.split(), "-keyout", str(key), "-out", str(cert)]
    subprocess.run(command, check=True, capture_output=True)
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    site = make_site(server_tls)
    site.page("/a.txt", b"Secure")
    client_tls = ssl.create_default_context(cafile=str(cert))
    fetcher = Fetcher(LOCAL, resolve=lambda host, port: ["127.0.0.1"], tls=client_tls)
    response = fetcher.get(f"https://news.example:{site.port}/a.txt")
    assert (
        response.body == b"Secure" and site.seen[0].headers["Host"] == f"news.example:{site.port}"
    )
    with pytest.raises(FetchError, match=r"cannot connect .*Hostname mismatch.*other\.example"):
        fetcher.get(f"https://other.example:{site.port}/a.txt")
    assert len(site.seen) == 1


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "file:///etc/passwd", "gopher://h/", "x"])
def test_only_http_and_https(url: str) -> None:
    with pytest.raises(FetchError, match="only http and https URLs are fetched") as caught:
        Fetcher(FetchPolicy(allow_private=True)).get(url)
    assert caught.value.permanent


def test_a_redirect_to_a_file_url_is_refused(site: Site) -> None:
    site.redirect("/sneaky", "file:///etc/passwd")
    with pytest.raises(FetchError, match="redirected to file:///etc/passwd: only http"):
        local().get(f"{site.url}/sneaky")


def test_allow_private_reaches_loopback_and_names_storylink(site: Site) -> None:
    site.page("/a.txt", b"Hello")
    response = Fetcher(FetchPolicy(allow_private=True, host_interval=0)).get(f"{site.url}/a.txt")
    assert (response.status, response.body, response.url) == (200, b"Hello", f"{site.url}/a.txt")
    assert (
        response.content_type == "text/plain" and response.headers["content-type"] == "text/plain"
    )
    agent = site.seen[0].headers["User-Agent"]
    assert agent.startswith("storylink/0.1.0 (+https://") and "storylink" in agent


# --- politeness -------------------------------------------------------------------------------


def test_one_request_at_a_time_per_host_interval_kept_other_hosts_proceed(
    make_site: Callable[[], Site],
) -> None:
    busy, other = make_site(), make_site()

    def slow(handler: Handler) -> None:
        time.sleep(0.1)
        handler.reply(200, b"done")

    busy.routes["/slow"] = slow
    other.page("/quick")
    fetcher = local(host_interval=0.5)
    threads = [threading.Thread(target=fetcher.get, args=(f"{busy.url}/slow",)) for _ in range(3)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while not busy.seen and time.monotonic() < deadline:
        time.sleep(0.01)
    assert 0 < fetcher.host_ready_in(f"{busy.url}/anything") <= 0.5
    assert fetcher.host_ready_in(f"{other.url}/quick") == 0
    fetcher.get(f"{other.url}/quick")  # not held up by the busy host's queue
    for thread in threads:
        thread.join()
    starts = [seen.at for seen in busy.seen]
    assert len(starts) == 3 and busy.peak == 1
    assert all(b - a >= 0.45 for a, b in itertools.pairwise(starts)), starts
    assert other.seen[0].at < starts[1]


def test_429_retry_after_is_honoured_without_asking_again(site: Site) -> None:
    site.routes["/busy"] = lambda h: h.reply(429, headers={"Retry-After": "120"})
    site.page("/other")
    fetcher = local()
    with pytest.raises(FetchError, match="HTTP 429") as first:
        fetcher.get(f"{site.url}/busy")
    assert first.value.status == 429 and first.value.retry_after == 120
    with pytest.raises(FetchError, match="not asking") as second:
        fetcher.get(f"{site.url}/other")
    assert second.value.retry_after is not None and 110 < second.value.retry_after <= 120
    assert 110 < fetcher.host_ready_in(f"{site.url}/other") <= 120
    assert site.paths() == ["/busy"]


def test_503_without_retry_after_backs_off_for_long(site: Site) -> None:
    site.routes["/down"] = lambda h: h.reply(503)
    fetcher = local(backoff_without_retry_after=7200.0)
    with pytest.raises(FetchError, match="HTTP 503") as caught:
        fetcher.get(f"{site.url}/down")
    assert caught.value.retry_after == 7200 and not caught.value.permanent
    with pytest.raises(FetchError, match="not asking"):
        fetcher.get(f"{site.url}/down")
    assert site.paths() == ["/down"]


def test_retry_after_reads_seconds_and_dates() -> None:
    assert retry_after_seconds("120") == 120
    in_a_minute = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)
    assert 55 < (retry_after_seconds(in_a_minute) or 0) <= 60
    assert retry_after_seconds("Mon, 04 May 2020 08:30:00 GMT") == 0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_robots_txt_disallows_and_slows_down(site: Site) -> None:
    site.page("/robots.txt", b"User-agent: storylink\nDisallow: /private\nCrawl-delay: 1\n")
    site.page("/private/story.html")
    site.page("/news/1.html")
    site.page("/news/2.html")
    fetcher = local()
    with pytest.raises(RobotsDisallowedError, match=r"robots\.txt disallows it") as caught:
        fetcher.get(f"{site.url}/private/story.html", robots=True)
    assert caught.value.permanent
    fetcher.get(f"{site.url}/news/1.html", robots=True)
    fetcher.get(f"{site.url}/news/2.html", robots=True)
    assert site.paths() == ["/robots.txt", "/news/1.html", "/news/2.html"]  # robots.txt once
    gaps = [b.at - a.at for a, b in itertools.pairwise(site.seen)]
    assert min(gaps) >= 0.95, gaps  # Crawl-delay 1 (whole seconds) although host_interval is 0
    # without robots=True (feeds), robots.txt is not consulted
    assert local().get(f"{site.url}/private/story.html").status == 200


def test_missing_or_broken_robots_txt_allows_all(make_site: Callable[[], Site]) -> None:
    missing, broken = make_site(), make_site()
    broken.routes["/robots.txt"] = lambda h: h.reply(500)
    for site in (missing, broken):
        site.page("/a.html")
        assert local().get(f"{site.url}/a.html", robots=True).status == 200
        assert site.paths() == ["/robots.txt", "/a.html"]


def test_conditional_get_returns_304_with_validators_as_sent(site: Site) -> None:
    etag, modified = '"v1-abc"', "Mon, 04 May 2026 08:30:00 GMT"

    def feed(handler: Handler) -> None:
        validators = {"ETag": etag, "Last-Modified": modified}
        if handler.headers.get("If-None-Match") == etag:
            handler.reply(304, headers=validators)
        else:
            handler.reply(200, b"<rss/>", validators)

    site.routes["/feed.xml"] = feed
    fetcher = local()
    first = fetcher.get(f"{site.url}/feed.xml")
    assert (first.status, first.etag, first.last_modified) == (200, etag, modified)
    again = fetcher.get(
        f"{site.url}/feed.xml",
        headers={"If-None-Match": first.etag or "", "If-Modified-Since": modified},
    )
    assert (again.status, again.body, again.etag, again.last_modified) == (304, b"", etag, modified)
    assert site.seen[1].headers["If-Modified-Since"] == modified


# --- limits -----------------------------------------------------------------------------------


def test_a_slow_server_times_out(site: Site) -> None:
    def slow(handler: Handler) -> None:
        time.sleep(1.5)
        handler.reply(200, b"late")

    site.routes["/slow"] = slow
    started = time.monotonic()
    with pytest.raises(FetchError, match="timed out"):
        local(read_timeout=0.3).get(f"{site.url}/slow")
    assert time.monotonic() - started < 1.0


def test_a_dripping_server_hits_the_response_deadline(site: Site) -> None:
    def drip(handler: Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "100")
        handler.end_headers()
        for _ in range(100):  # each byte well inside the read timeout, the whole far beyond
            handler.wfile.write(b"x")
            handler.wfile.flush()
            time.sleep(0.05)

    site.routes["/drip"] = drip
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"no complete response within 0\.9 s"):
        local(connect_timeout=0.3, read_timeout=0.3).get(f"{site.url}/drip")
    assert time.monotonic() - started < 1.5


def test_bodies_over_the_cap_are_refused(site: Site) -> None:
    site.page("/big", b"x" * 5000)
    site.routes["/big-unannounced"] = lambda h: h.reply(200, b"x" * 5000, {"Content-Length": ""})
    bomb = gzip.compress(b"\0" * 1_000_000)
    site.page("/bomb", bomb, **{"Content-Encoding": "gzip"})
    site.page("/small.gz", gzip.compress(b"Title\nBody"), **{"Content-Encoding": "gzip"})
    fetcher = local(max_bytes=4000)
    for path in ("/big", "/big-unannounced", "/bomb"):
        with pytest.raises(FetchError, match="over the 4000 bytes limit"):
            fetcher.get(f"{site.url}{path}")
    assert len(bomb) < 4000  # the compressed size passes; the decoded size does not
    assert fetcher.get(f"{site.url}/small.gz").body == b"Title\nBody"
    assert site.seen[0].headers["Accept-Encoding"] == "gzip"


def test_redirects_are_followed_and_reported_up_to_the_limit(site: Site) -> None:
    site.redirect("/old", "/moved", 301)
    site.redirect("/moved", f"{site.url}/final#top", 308)
    site.page("/final")
    response = local().get(f"{site.url}/old")
    assert response.url == f"{site.url}/final" and response.status == 200
    assert response.redirects == ((301, f"{site.url}/moved"), (308, f"{site.url}/final"))
    for n in range(10):
        site.redirect(f"/loop/{n}", f"/loop/{n + 1}")
    with pytest.raises(FetchError, match="more than 3 redirects") as caught:
        local(max_redirects=3).get(f"{site.url}/loop/0")
    assert caught.value.url == f"{site.url}/loop/0"
    assert site.paths()[-4:] == ["/loop/0", "/loop/1", "/loop/2", "/loop/3"]


def test_http_errors_carry_status_and_permanence(site: Site) -> None:
    site.routes["/gone"] = lambda h: h.reply(410)
    site.routes["/broken"] = lambda h: h.reply(500)
    fetcher = local()
    with pytest.raises(FetchError, match="HTTP 404 Not Found") as missing:
        fetcher.get(f"{site.url}/missing")
    with pytest.raises(FetchError, match="HTTP 410 Gone") as gone:
        fetcher.get(f"{site.url}/gone")
    with pytest.raises(FetchError, match="HTTP 500") as broken:
        fetcher.get(f"{site.url}/broken")
    assert (missing.value.status, missing.value.permanent) == (404, True)
    copy = pickle.loads(pickle.dumps(missing.value))  # crosses process boundaries intact
    assert (str(copy), copy.status, copy.permanent) == (str(missing.value), 404, True)
    assert gone.value.permanent and not broken.value.permanent and broken.value.retry_after is None


# --- storylink reads through it ---------------------------------------------------------------


def test_read_url_refuses_loopback_naming_the_address(site: Site) -> None:
    site.page("/a.txt")
    with pytest.raises(
        ReadError, match=r"a\.txt: cannot fetch \(refused: 127\.0\.0\.1 is a loopback"
    ):
        read_url(f"{site.url}/a.txt")
    assert site.seen == []
    (article,) = read_url(f"{site.url}/a.txt", fetcher=local()).articles
    assert article.title == "Title"


def _storylink(*args: str) -> subprocess.CompletedProcess[str]:
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = os.environ | {"PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "storylink.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


def test_cli_refuses_loopback_unless_allowed(site: Site, tmp_path: Path) -> None:
    site.page("/a.txt", b"Harbour opens\nThe port opened a new rail terminal on Monday.")
    other = tmp_path / "b.txt"
    other.write_text("Port news\nA rail terminal opened at the port.", "utf-8")
    refused = _storylink("compare", f"{site.url}/a.txt", str(other))
    assert refused.returncode != 0
    assert "127.0.0.1 is a loopback address" in refused.stderr + refused.stdout
    assert site.seen == []
    allowed = _storylink("read", "--allow-private", "--json", f"{site.url}/a.txt")
    assert allowed.returncode == 0, allowed.stderr
    assert '"title": "Harbour opens"' in allowed.stdout
    assert site.paths() == ["/a.txt"]
