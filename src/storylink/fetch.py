"""One safe, polite HTTP(S) fetcher for every URL storylink touches (`Fetcher`).

Safety. Only http and https are fetched. Every address a host name resolves to must be globally
routable: loopback, private (RFC 1918, fc00::/7), link-local (169.254/16, fe80::/10),
carrier-grade NAT (100.64/10), multicast, reserved and unspecified addresses are refused, also
when wrapped in IPv6 (::ffff:127.0.0.1, 6to4, NAT64), because a URL from a feed or an API
request must not reach the machine's own services or its network (SSRF). The connection then
goes to the checked address itself, never to a second lookup of the name (no DNS-rebinding
gap), with the Host header, TLS SNI and certificate check for the name. Every redirect hop is
checked the same way before connecting. Proxy variables are ignored (http.client never reads
them), so no proxy can stand between the check and the connection.

`allow_private` lifts the check, for local setups and tests, except for the cloud metadata
addresses (169.254.169.254, fd00:ec2::254): no local setup needs them and on a cloud machine
they hand out credentials, so a page redirecting there stays refused. `allowed_networks` lifts
the check for the networks it names (naming a metadata address's network is the only way to
reach one).

Politeness. One request in flight per host (scheme, name, port) and `host_interval` seconds
between the starts of two (more if robots.txt asks with Crawl-delay); at most `max_hosts`
requests in flight over all hosts; a User-Agent naming storylink and its version. A 429 or 503
makes the fetcher leave the host alone for its Retry-After, else `backoff_without_retry_after`;
until then `get` raises at once, without a request.

Limits. Connect and per-read timeouts; the whole response must arrive within
`connect_timeout + 2 × read_timeout` (a server dripping bytes cannot hold a thread);
`max_bytes` of body, counted before and after gzip decoding; `max_redirects` hops.
"""

from __future__ import annotations

import contextlib
import email.utils
import http.client
import ipaddress
import logging
import socket
import ssl
import threading
import time
import urllib.parse
import urllib.robotparser
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _version() -> str:
    try:
        return metadata.version("storylink")
    except metadata.PackageNotFoundError:  # a source checkout that was never installed
        from . import __version__

        return __version__


USER_AGENT = f"storylink/{_version()} (+https://github.com/storylink/storylink)"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
BACKOFF_STATUSES = frozenset({429, 503})
PERMANENT_STATUSES = frozenset({404, 410})
ROBOTS_TTL_S = 24 * 3600.0  # re-read a host's robots.txt once a day, as the big crawlers do
CHUNK_BYTES = 64 * 1024
METADATA_ADDRESSES = frozenset(map(ipaddress.ip_address, ("169.254.169.254", "fd00:ec2::254")))
RFC1918 = tuple(map(ipaddress.ip_network, ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")))
UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
CARRIER_GRADE_NAT = ipaddress.ip_network("100.64.0.0/10")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
# request targets: printable ASCII is sent as is, anything else %-encoded
_TARGET_SAFE = "".join(map(chr, range(33, 127)))


@dataclass(frozen=True)
class FetchPolicy:
    """Limits and manners of a `Fetcher`; the defaults suit fetching from the open web."""

    user_agent: str = USER_AGENT
    connect_timeout: float = 20.0
    read_timeout: float = 20.0  # per socket read; the whole response gets connect + 2 × this
    max_bytes: int = 15 * 2**20
    max_redirects: int = 5
    allow_private: bool = False  # lift the address check (local setups, tests)
    allowed_networks: tuple[str, ...] = ()  # e.g. ("127.0.0.0/8",): just these, nothing else
    host_interval: float = 5.0  # seconds between the starts of two requests to one host
    max_hosts: int = 8  # requests in flight at once, over all hosts
    obey_robots: bool = True
    backoff_without_retry_after: float = 3600.0  # 429/503 without Retry-After: hours, not seconds

    @property
    def deadline(self) -> float:
        """Seconds the whole exchange (connect, headers, body) may take."""
        return self.connect_timeout + 2 * self.read_timeout


class Headers(Mapping[str, str]):
    """Response headers, looked up in any case; repeated headers are joined with ", "."""

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        self._items: dict[str, tuple[str, str]] = {}
        for name, value in items:
            known = self._items.get(name.lower())
            self._items[name.lower()] = (name, f"{known[1]}, {value}" if known else value)

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({dict(self._items.values())!r})"


@dataclass(frozen=True)
class Response:
    """A successful (2xx) or not-modified (304) response, after any redirects."""

    url: str  # final URL after redirects
    status: int
    headers: Mapping[str, str]
    body: bytes  # decoded from gzip; b"" for 304
    redirects: tuple[tuple[int, str], ...] = ()  # (status, next URL) per hop: 301/308 are moves

    @property
    def content_type(self) -> str | None:
        return self.headers.get("Content-Type")

    @property
    def etag(self) -> str | None:
        return self.headers.get("ETag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("Last-Modified")


class FetchError(Exception):
    """A URL that could not be fetched; the message names the URL and says why.

    `status` is the HTTP status if one came; `retry_after` (seconds from now) is set when the
    host asked to be left alone; `permanent` when asking again will not help (404, 410, a
    refused address or scheme, robots.txt).
    """

    def __init__(
        self,
        url: str,
        reason: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        permanent: bool = False,
    ) -> None:
        super().__init__(f"{url}: {reason}")
        self.url, self.reason, self.status = url, reason, status
        self.retry_after, self.permanent = retry_after, permanent

    def __reduce__(self) -> tuple[Any, ...]:  # picklable despite the keyword-only arguments
        return (type(self), (self.url, self.reason), self.__dict__)

    def at_redirect_of(self, url: str) -> FetchError:
        """The same error reported for `url`, which redirected to where it happened."""
        return type(self)(
            url,
            f"redirected to {self.url}: {self.reason}",
            status=self.status,
            retry_after=self.retry_after,
            permanent=self.permanent,
        )


class UnsafeAddressError(FetchError):
    """The URL's host is (or resolves to) an address storylink must not reach."""


class RobotsDisallowedError(FetchError):
    """The host's robots.txt disallows the page for storylink."""


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one reaches (IPv4-mapped, 6to4, NAT64), if any."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.ipv4_mapped or address.sixtofour


def _kind(address: IPAddress) -> str | None:
    if address in METADATA_ADDRESSES:
        return "the cloud metadata address (link-local)"
    checks: tuple[tuple[bool, str], ...] = (
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (any(address in network for network in RFC1918), "a private address (RFC 1918)"),
        (address in UNIQUE_LOCAL, "a private address (unique local, fc00::/7)"),
        (address in CARRIER_GRADE_NAT, "a carrier-grade NAT address (RFC 6598)"),
        (address.is_multicast, "a multicast address"),
        (address.is_unspecified, "the unspecified address"),
        (address.is_reserved, "a reserved address"),
        (not address.is_global, "not a globally routable address"),
    )
    return next((kind for refused, kind in checks if refused), None)


def address_problem(address: IPAddress) -> str | None:
    """Why `address` must not be fetched from ("a loopback address"), or None if it is public."""
    inner = _embedded_ipv4(address)
    if inner is None:
        return _kind(address)
    kind = _kind(inner)
    return kind and f"{kind} (wrapping IPv4 {inner})"


def resolve_host(host: str, port: int) -> list[str]:
    """The addresses of `host` from the system resolver; an IP literal comes back as it is."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds a Retry-After asks for (a delay or an HTTP date); None if unreadable."""
    value = (value or "").strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


@dataclass(frozen=True)
class _Target:
    """A URL taken apart for one request."""

    url: str
    scheme: str
    host: str  # ASCII (IDNA), no brackets
    port: int
    netloc: str  # host[:port] as written, without user info
    path: str  # path and query, as sent

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.scheme, self.host.lower(), self.port)

    @property
    def robots_url(self) -> str:
        return f"{self.scheme}://{self.netloc}/robots.txt"

    @classmethod
    def parse(cls, url: str) -> _Target:
        try:
            parts = urllib.parse.urlsplit(url)
            port = parts.port
            hostname = parts.hostname or ""
            host = hostname if hostname.isascii() else hostname.encode("idna").decode("ascii")
        except (ValueError, UnicodeError) as error:
            raise FetchError(url, f"not a valid URL ({error})", permanent=True) from None
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            what = f"{scheme}:" if scheme else "a URL without a scheme"
            raise FetchError(
                url, f"only http and https URLs are fetched, not {what}", permanent=True
            )
        if not host:
            raise FetchError(url, "not a valid URL (no host)", permanent=True)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return cls(
            url=url,
            scheme=scheme,
            host=host,
            port=port or (443 if scheme == "https" else 80),
            netloc=parts.netloc.rpartition("@")[2],
            path=urllib.parse.quote(path, safe=_TARGET_SAFE),
        )


class _PinnedConnection(http.client.HTTPConnection):
    """An HTTP(S) connection to addresses already checked, never to a fresh lookup of the name.

    `host` still gives the Host header and, with TLS, the SNI name and certificate check.
    A watchdog may `abort` it from another thread once the response deadline has passed.
    """

    def __init__(
        self,
        target: _Target,
        addresses: list[str],
        policy: FetchPolicy,
        tls: ssl.SSLContext | None,
    ) -> None:
        super().__init__(target.host, target.port, timeout=policy.connect_timeout)
        self.default_port = 443 if tls else 80  # Host header without the default port
        self.addresses, self.read_timeout, self.tls = addresses, policy.read_timeout, tls
        self.aborted = False
        self.held: socket.socket | None = None

    def connect(self) -> None:
        failure: OSError = OSError("no address")
        for address in self.addresses:
            try:
                sock = socket.create_connection((address, self.port), self.timeout)
                break
            except OSError as error:
                failure = error
        else:
            raise failure
        sock.settimeout(self.read_timeout)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host) if self.tls else sock
        self.held = self.sock  # http.client drops `sock` once the response owns the socket

    def abort(self) -> None:
        self.aborted = True
        if self.held is not None:
            with contextlib.suppress(OSError):  # the plain socket's shutdown, also under TLS:
                socket.socket.shutdown(self.held, socket.SHUT_RDWR)  # wakes a blocked read now


class _Body:
    """A response body being read: gunzipped if need be, refused past `cap` bytes either way."""

    def __init__(self, encoding: str, cap: int, url: str) -> None:
        encoding = encoding.strip().lower()
        if encoding not in ("", "identity", "gzip", "x-gzip", "deflate"):
            raise FetchError(url, f"unsupported Content-Encoding {encoding!r}")
        # MAX_WBITS | 32 reads gzip and zlib ("deflate") streams alike
        gzipped = encoding not in ("", "identity")
        self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 32) if gzipped else None
        self._parts: list[bytes] = []
        self._raw = self._size = 0
        self._cap, self._url = cap, url

    def _too_big(self) -> FetchError:
        return FetchError(self._url, f"response is over the {_bytes(self._cap)} limit")

    def expect(self, length: str | None) -> None:
        """Refuse at once a body whose Content-Length is over the cap."""
        if length and length.isdigit() and int(length) > self._cap:
            raise self._too_big()

    def _keep(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self._cap:
            raise self._too_big()
        self._parts.append(data)

    def add(self, chunk: bytes) -> None:
        self._raw += len(chunk)
        if self._raw > self._cap:
            raise self._too_big()
        if self._zlib is None:
            self._keep(chunk)
            return
        try:
            while chunk:  # at most cap + 1 decoded bytes at a time: a gzip bomb stops at the cap
                self._keep(self._zlib.decompress(chunk, self._cap + 1 - self._size))
                chunk = self._zlib.unconsumed_tail
        except zlib.error as error:
            raise FetchError(self._url, f"cannot decode the gzip body ({error})") from None

    def bytes(self) -> bytes:
        if self._zlib is not None:
            self._keep(self._zlib.flush())
        return b"".join(self._parts)


def _bytes(n: int) -> str:
    return f"{n / 2**20:.0f} MB" if n >= 2**20 else f"{n} bytes"


@dataclass
class _Host:
    """What the fetcher remembers of one host (scheme, name, port)."""

    slot: threading.Lock = field(default_factory=threading.Lock)  # one request in flight
    next_start: float = 0.0  # time.monotonic() before which no request may start
    not_before: float = 0.0  # ... after a 429/503
    backoff_reason: str = ""
    crawl_delay: float = 0.0
    robots_lock: threading.Lock = field(default_factory=threading.Lock)
    robots: urllib.robotparser.RobotFileParser | None = None
    robots_until: float = 0.0


@dataclass(frozen=True)
class _Answer:
    status: int
    reason: str
    headers: Headers
    body: bytes


class Fetcher:
    """Fetches http(s) URLs safely and politely (module docstring); one per process is plenty.

    `resolve(host, port)` gives the IP addresses of a host (default: the system resolver);
    tests inject one to make a name resolve to, say, 10.0.0.5 without DNS. `tls` verifies
    https servers (default: the system's trusted certificate authorities).
    """

    def __init__(
        self,
        policy: FetchPolicy = FetchPolicy(),  # frozen: one shared default is fine
        resolve: Callable[[str, int], list[str]] | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.policy = policy
        self._resolve = resolve or resolve_host
        self._allowed = tuple(
            ipaddress.ip_network(n, strict=False) for n in policy.allowed_networks
        )
        self._tls = tls or ssl.create_default_context()
        self._in_flight = threading.BoundedSemaphore(policy.max_hosts)
        self._hosts: dict[tuple[str, str, int], _Host] = {}
        self._lock = threading.Lock()

    def get(
        self, url: str, *, headers: Mapping[str, str] | None = None, robots: bool = False
    ) -> Response:
        """GET `url`, following redirects; a 2xx or 304 `Response`, else `FetchError`.

        Pass If-None-Match / If-Modified-Since in `headers` for a conditional GET (304 comes
        back with an empty body). `robots=True` (article pages) first checks the host's
        robots.txt (when the policy obeys it). Thread-safe.
        """
        hops: list[tuple[int, str]] = []
        current = url
        try:
            while True:
                target = _Target.parse(current)
                answer = self._exchange(target, headers or {}, robots and self.policy.obey_robots)
                status = answer.status
                if status in REDIRECT_STATUSES:
                    current = self._next_hop(target, answer, len(hops))
                    hops.append((status, current))
                    continue
                if 200 <= status < 300 or status == 304:
                    return Response(current, status, answer.headers, answer.body, tuple(hops))
                if status in BACKOFF_STATUSES:
                    self._back_off(target, answer)
                raise FetchError(
                    current,
                    f"HTTP {status} {answer.reason}".rstrip(),
                    status=status,
                    permanent=status in PERMANENT_STATUSES,
                )
        except FetchError as error:
            raise (error if current == url else error.at_redirect_of(url)) from None

    def host_ready_in(self, url: str) -> float:
        """Seconds until `url`'s host may be asked again (0: now): a scheduler can go elsewhere."""
        with self._lock:
            host = self._hosts.get(_Target.parse(url).origin)
        if host is None:
            return 0.0
        return max(0.0, max(host.next_start, host.not_before) - time.monotonic())

    def _host(self, target: _Target) -> _Host:
        with self._lock:
            return self._hosts.setdefault(target.origin, _Host())

    def _next_hop(self, target: _Target, answer: _Answer, done: int) -> str:
        location = answer.headers.get("Location")
        if not location:
            raise FetchError(target.url, f"HTTP {answer.status} redirect without a Location")
        following = urllib.parse.urljoin(target.url, location.strip()).partition("#")[0]
        if done == self.policy.max_redirects:
            raise FetchError(
                target.url, f"more than {done} redirects (the next to {following})", permanent=True
            )
        return following

    def _back_off(self, target: _Target, answer: _Answer) -> None:
        asked = retry_after_seconds(answer.headers.get("Retry-After"))
        delay = self.policy.backoff_without_retry_after if asked is None else asked
        host = self._host(target)
        host.not_before = max(host.not_before, time.monotonic() + delay)
        host.backoff_reason = f"it answered HTTP {answer.status}"
        log.warning(
            "%s: HTTP %d, leaving %s alone for %.0f s",
            target.url,
            answer.status,
            target.netloc,
            delay,
        )
        raise FetchError(
            target.url,
            f"HTTP {answer.status} {answer.reason}; retry in {delay:.0f} s",
            status=answer.status,
            retry_after=delay,
        )

    def _refuse_while_backing_off(self, target: _Target, host: _Host) -> None:
        wait = host.not_before - time.monotonic()
        if wait > 0:
            raise FetchError(
                target.url,
                f"not asking {target.netloc} for {wait:.0f} s more ({host.backoff_reason})",
                retry_after=wait,
            )

    def _vet(self, target: _Target) -> list[str]:
        """The host's addresses, each one checked; `UnsafeAddressError` if any is refused."""
        addresses = self._addresses(target)
        if not addresses:
            raise FetchError(target.url, f"cannot resolve {target.host} (no addresses)")
        for text in addresses:
            address = ipaddress.ip_address(text)
            problem = address_problem(address)
            if problem is None or self._allows(address):
                continue
            named = text if text == target.host else f"{target.host} resolves to {text}, and that"
            lift = (
                "allow_private does not lift this"
                if self.policy.allow_private
                else "storylink fetches only public addresses unless private ones are allowed "
                "(allow_private, --allow-private)"
            )
            raise UnsafeAddressError(
                target.url, f"refused: {named} is {problem}; {lift}", permanent=True
            )
        return addresses

    def _addresses(self, target: _Target) -> list[str]:
        with contextlib.suppress(ValueError):
            ipaddress.ip_address(target.host)
            return [target.host]  # an IP literal needs no lookup
        try:
            return self._resolve(target.host, target.port)
        except OSError as error:
            raise FetchError(target.url, f"cannot resolve {target.host} ({error})") from None

    def _allows(self, address: IPAddress) -> bool:
        inner = _embedded_ipv4(address)
        if any(a in network for a in (address, inner) if a for network in self._allowed):
            return True
        return self.policy.allow_private and not any(
            a in METADATA_ADDRESSES for a in (address, inner)
        )

    def _robots(self, target: _Target, host: _Host) -> urllib.robotparser.RobotFileParser:
        """The host's robots.txt, fetched once a day through this fetcher."""
        with host.robots_lock:
            if host.robots is None or time.monotonic() >= host.robots_until:
                parser = urllib.robotparser.RobotFileParser(target.robots_url)
                parser.parse(self._robots_lines(target))
                delay = parser.crawl_delay(self.policy.user_agent)
                host.robots, host.crawl_delay = parser, float(delay or 0)
                host.next_start = max(host.next_start, time.monotonic() + host.crawl_delay)
                host.robots_until = time.monotonic() + ROBOTS_TTL_S
            return host.robots

    def _robots_lines(self, target: _Target) -> list[str]:
        try:
            return self.get(target.robots_url).body.decode("utf-8", "replace").splitlines()
        except FetchError as error:
            if error.retry_after is not None:  # the host asked to wait: so does the page
                raise
            if error.status is None or error.status >= 500:  # a 4xx means no robots.txt
                log.warning("%s; fetching from %s as if it allowed all", error, target.netloc)
            return []

    def _exchange(self, target: _Target, headers: Mapping[str, str], robots: bool) -> _Answer:
        """One request and its response, once the address, robots.txt and manners allow."""
        addresses = self._vet(target)
        host = self._host(target)
        self._refuse_while_backing_off(target, host)
        if robots and not self._robots(target, host).can_fetch(self.policy.user_agent, target.url):
            raise RobotsDisallowedError(
                target.url, f"{target.robots_url} disallows it for storylink", permanent=True
            )
        with host.slot:
            time.sleep(max(0.0, host.next_start - time.monotonic()))
            self._refuse_while_backing_off(target, host)
            with self._in_flight:
                interval = max(self.policy.host_interval, host.crawl_delay)
                host.next_start = time.monotonic() + interval
                return self._request(target, addresses, headers)

    def _request(
        self, target: _Target, addresses: list[str], headers: Mapping[str, str]
    ) -> _Answer:
        sent = {"User-Agent": self.policy.user_agent, "Accept-Encoding": "gzip"} | dict(headers)
        tls = self._tls if target.scheme == "https" else None
        connection = _PinnedConnection(target, addresses, self.policy, tls)
        watchdog = threading.Timer(self.policy.deadline, connection.abort)
        watchdog.start()
        doing = f"cannot connect to {target.netloc}"
        try:
            connection.connect()
            doing = "no complete response"
            connection.request("GET", target.path, headers=sent)
            response = connection.getresponse()
            answer_headers = Headers(response.getheaders())
            body = b""
            if 200 <= response.status < 300:  # redirects and errors: their bodies are not needed
                body = self._read_body(response, answer_headers, target)
            if connection.aborted:
                raise TimeoutError("deadline passed")
            return _Answer(response.status, response.reason, answer_headers, body)
        except (OSError, http.client.HTTPException) as error:
            if connection.aborted:
                reason = f"no complete response within {self.policy.deadline:g} s"
            else:
                reason = f"{doing} ({str(error) or type(error).__name__})"
            raise FetchError(target.url, reason) from None
        finally:
            watchdog.cancel()
            connection.close()

    def _read_body(
        self, response: http.client.HTTPResponse, headers: Headers, target: _Target
    ) -> bytes:
        body = _Body(headers.get("Content-Encoding", ""), self.policy.max_bytes, target.url)
        body.expect(headers.get("Content-Length"))
        while chunk := response.read1(
            CHUNK_BYTES
        ):  # read1: one socket read, so the watchdog can stop it
            body.add(chunk)
        return body.bytes()
