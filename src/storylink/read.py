"""Read articles from text, HTML, JSONL, CSV, RSS/Atom files, directories, globs and URLs.

Every reader raises `ReadError` naming the input for bad data; `read_many` turns those into a
list of skipped inputs so that one bad file never stops a batch.
"""

from __future__ import annotations

import codecs
import csv
import email.utils
import glob
import io
import json
import logging
import re
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .article import Article
from .fetch import Fetcher, FetchError, FetchPolicy
from .mojibake import repaired_article

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 256 * 1024 * 1024  # JSONL/CSV collections may be big; single pages may not
MAX_PAGE_BYTES = 16 * 1024 * 1024
MAX_TITLE_CHARS = 160
DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
ENCODING_CANDIDATES = 6

BYTE_ORDER_MARKS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
XML_ENCODING = re.compile(rb"\s*<\?xml[^>]*?\bencoding\s*=\s*[\"']([A-Za-z0-9._:-]+)[\"']")
XML_ENCODING_ATTRIBUTE = re.compile(r"(<\?xml[^>]*?)\s+encoding\s*=\s*[\"'][^\"']*[\"']")
MARKUP = re.compile(r"<[^>]*>|&#?\w+;")
DECLARED_ADVANTAGE = 0.1  # language-detection confidence a declared encoding is granted

TEXT_SUFFIXES = {".txt", ".text"}
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
CSV_SUFFIXES = {".csv", ".tsv"}
FEED_SUFFIXES = {".rss", ".atom", ".xml"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | JSONL_SUFFIXES | CSV_SUFFIXES | FEED_SUFFIXES


class ReadError(Exception):
    """An input that cannot be read as articles; the message names the input and the reason."""


@dataclass(frozen=True)
class FieldNames:
    """Which JSONL keys / CSV columns hold each article field."""

    title: str = "title"
    text: str = "text"
    url: str = "url"
    date: str = "date"
    language: str = "lang"
    source: str = "source"

    @classmethod
    def parse(cls, renames: Iterable[str]) -> FieldNames:
        """From ``["text=body", "date=published_at"]``, as given on the command line."""
        known = set(cls.__dataclass_fields__)
        values: dict[str, str] = {}
        for rename in renames:
            name, sep, key = rename.partition("=")
            if not sep or name not in known or not key:
                raise ValueError(
                    f"--field {rename!r}: expected NAME=KEY, NAME one of {sorted(known)}"
                )
            values[name] = key
        return cls(**values)


@dataclass
class ReadReport:
    """What a batch read produced: the articles, and every input or row that was skipped."""

    articles: list[Article] = field(default_factory=list)
    errors: list[ReadError] = field(default_factory=list)


def refuse_empty_or_binary(data: bytes, origin: str, collection: bool = False) -> None:
    """Refuse empty input, and binary input unless it is a collection (JSONL, CSV), where a
    stray NUL spoils one row, which is reported while the others are kept."""
    if not data.strip():
        raise ReadError(f"{origin}: file is empty")
    utf16 = data.startswith((b"\xff\xfe", b"\xfe\xff"))
    if not collection and not utf16 and b"\x00" in data[:8192]:
        raise ReadError(f"{origin}: looks like a binary file, not text")


def decode(data: bytes, origin: str, collection: bool = False) -> str:
    """Bytes to text with the encoding detected, not assumed; binary data is refused."""
    refuse_empty_or_binary(data, origin, collection)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    candidates = _detected_texts(data)
    if not candidates:
        raise ReadError(f"{origin}: cannot detect the text encoding (binary file?)")
    return max(candidates, key=plausibility)


def _detected_texts(data: bytes) -> list[str]:
    """The data decoded in each encoding charset-normalizer finds likely, best first; what the
    data declares (a page's meta charset) is left out: it is the claim under test."""
    from charset_normalizer import from_bytes

    found = from_bytes(data, preemptive_behaviour=False)
    return [str(match) for match in list(found)[:ENCODING_CANDIDATES]]


def plausibility(text: str) -> float:
    """How much a decoded text reads like a language, markup left out: the evidence between
    encodings. charset-normalizer often ties legacy code pages (French Latin-1 read as cp1250
    or cp1257 gives "crčme"; KOI8-R read as Latin-1 gives "ëÁË ÐÅÒÅÖÉÔØ")."""
    from .language import detect_language

    return detect_language(MARKUP.sub(" ", text))[1]


def feed_bytes(data: bytes) -> bytes:
    """A feed's bytes as feedparser should read them: as they are when the encoding they
    declare (UTF-8 if none) fits them, else re-encoded as UTF-8 from the encoding the evidence
    favours. Feeds in KOI8-R, Shift-JIS or EUC-KR that declare nothing (so UTF-8) or the wrong
    code page came out garbled; a declared code page wins unless another reads clearly better."""
    if data.startswith(BYTE_ORDER_MARKS):
        return data
    match = XML_ENCODING.match(data)
    declared = match.group(1).decode("ascii") if match else "utf-8"
    try:
        as_declared: str | None = data.decode(declared)
    except (UnicodeDecodeError, LookupError):
        as_declared = None
    if as_declared is not None and codecs.lookup(declared).name == "utf-8":
        return data  # bytes that are valid UTF-8 are UTF-8
    best = max(_detected_texts(data), key=plausibility, default=None)
    if best is None or (
        as_declared is not None
        and plausibility(as_declared) + DECLARED_ADVANTAGE >= plausibility(best)
    ):
        return data
    return XML_ENCODING_ATTRIBUTE.sub(r"\1", best, count=1).encode("utf-8")


def parse_date(value: Any) -> datetime | None:
    """A publication date from any common format, always timezone-aware (UTC if unstated)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed: datetime | None = value
    else:
        text = str(value).strip()
        try:  # RFC 822 dates of RSS and e-mail keep their offset ("-0500")
            parsed = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            try:
                parsed = datetime.fromisoformat(text)
            except ValueError:
                import dateparser

                parsed = dateparser.parse(text, settings={"RETURN_AS_TIMEZONE_AWARE": False})
    if parsed is None:
        return None
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    try:
        parsed.astimezone(UTC)
    except OverflowError:  # "0001-01-01T00:00+14:00" has no UTC time: no usable date
        return None
    return parsed


def _article(title: str, text: str, origin: str, **meta: Any) -> Article:
    title, text = (title or "").strip(), (text or "").strip()
    if not text:
        raise ReadError(f"{origin}: article has no text")
    return repaired_article(Article(title=title, text=text, origin=origin, **meta))


def parse_text(content: str, origin: str) -> Article:
    """Plain text: the first non-empty line is the title, the rest is the body.

    A first line that reads like a paragraph (long, or a full sentence) is kept in the body.
    """
    lines = content.strip().splitlines()
    first = lines[0].strip() if lines else ""
    paragraph = len(first) > MAX_TITLE_CHARS or (len(first) > 80 and first.endswith((".", "。")))
    if len(lines) == 1 or paragraph:
        return _article("", "\n".join(lines), origin)
    return _article(first, "\n".join(lines[1:]), origin)


def parse_html(content: str | bytes, origin: str, url: str | None = None) -> Article:
    """Main text, title, date and language of a web page via trafilatura and htmldate."""
    import trafilatura
    from htmldate import find_date

    doc = trafilatura.bare_extraction(content, url=url, with_metadata=True, include_comments=False)
    text = getattr(doc, "text", None)
    if not text:
        raise ReadError(f"{origin}: no article text found in the HTML page")
    # htmldate keeps the time and zone of e.g. article:published_time; trafilatura only the day
    date = find_date(content, url=url, extensive_search=False, outputformat=DATETIME_FORMAT)
    date = date or getattr(doc, "date", None)
    title = getattr(doc, "title", None) or ""
    body = str(text)
    if title and body.startswith(title):  # the page's <h1> repeats the title
        body = body[len(title) :]
    reason = not_an_article(content, title, body)
    if reason:
        raise ReadError(f"{origin}: {reason}, not an article")
    return _article(
        title,
        body,
        origin,
        url=url or getattr(doc, "url", None),
        source=getattr(doc, "sitename", None) or getattr(doc, "hostname", None),
        published=parse_date(date),
        language=getattr(doc, "language", None),
    )


# "Index of /news/2024" (Apache, nginx), "Directory listing for /news/" (Python's http.server)
LISTING_TITLE = re.compile(r"^\s*(index of|directory listing for|listing of)\s+/", re.I)
MAX_LINKED_SHARE = 0.5  # of the text's lines (by characters) that are the text of a link
MIN_LISTING_LINES = 3


def not_an_article(page: str | bytes, title: str, body: str) -> str | None:
    """Why the text found in a page is not an article, or None: a web server's directory
    listing, or an index page (a portal's front page, a section or tag page) whose text is
    mostly the titles of links to other pages."""
    if LISTING_TITLE.match(title) or LISTING_TITLE.match(body.lstrip()):
        return "a web server's directory listing"
    lines = [" ".join(line.split()) for line in body.splitlines()]
    lines = [line for line in lines if line]
    if len(lines) < MIN_LISTING_LINES:
        return None
    from trafilatura import load_html

    tree = load_html(page)
    if tree is None:
        return None
    link_texts = {" ".join(a.text_content().split()) for a in tree.iter("a")}
    linked = sum(len(line) for line in lines if line in link_texts)
    share = linked / sum(map(len, lines))
    if share > MAX_LINKED_SHARE:
        return f"an index or listing page ({share:.0%} of its text is links)"
    return None


def record_article(record: dict[str, Any], fields: FieldNames, origin: str) -> Article:
    """An article from a JSONL object or CSV row. Title and text must be text (numbers are
    written out); metadata that is not text (a list as URL, a number as language) is left
    out, so the article is kept and its language detected."""

    def text(name: str) -> str:
        value = record.get(name)
        if value is None or isinstance(value, str):
            return value or ""
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise ReadError(f"{origin}: field '{name}' holds {type(value).__name__}, not text")

    def meta(name: str) -> str | None:
        value = record.get(name)
        return value.strip() or None if isinstance(value, str) else None

    if fields.text not in record:
        raise ReadError(
            f"{origin}: no '{fields.text}' field (fields: {', '.join(map(str, record))}); "
            "name the text field with --field text=NAME"
        )
    url = meta(fields.url)
    date = record.get(fields.date)
    return _article(
        text(fields.title),
        text(fields.text),
        origin,
        url=url,
        source=meta(fields.source) or domain(url),
        published=parse_date(date if isinstance(date, str | int | float) else None),
        language=meta(fields.language),
    )


def parse_jsonl(content: str, origin: str, fields: FieldNames, report: ReadReport) -> None:
    """One JSON object per line; a bad line is reported with its number and skipped.

    Lines end at "\n" only (JSON strings may hold U+2028 or a form feed raw), so the numbers
    are those an editor shows.
    """
    for number, line in enumerate(content.split("\n"), start=1):
        if not line.strip():
            continue
        row_origin = f"{origin}#{number}"
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ReadError(
                    f"{row_origin}: expected a JSON object, got {type(record).__name__}"
                )
            report.articles.append(record_article(record, fields, row_origin))
        except json.JSONDecodeError as error:
            report.errors.append(ReadError(f"{row_origin}: malformed JSON ({error.msg})"))
        except ReadError as error:
            report.errors.append(error)


def parse_csv(content: str, origin: str, fields: FieldNames, report: ReadReport) -> None:
    """CSV/TSV with a header row; the delimiter is sniffed. Bad rows are reported and skipped."""
    try:
        dialect: Any = csv.Sniffer().sniff(content[:8192], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(content), dialect=dialect)
    if not reader.fieldnames or fields.text not in reader.fieldnames:
        raise ReadError(
            f"{origin}: CSV has no '{fields.text}' column (columns: {reader.fieldnames}); "
            "name the text column with --field text=COLUMN"
        )
    try:
        for number, row in enumerate(reader, start=1):
            row_origin = f"{origin}#{number}"
            if None in row:  # more cells than header names
                report.errors.append(ReadError(f"{row_origin}: row has more cells than columns"))
                continue
            try:
                report.articles.append(record_article(row, fields, row_origin))
            except ReadError as error:
                report.errors.append(error)
    except csv.Error as error:
        raise ReadError(f"{origin}, line {reader.line_num}: malformed CSV ({error})") from error


def parse_feed(content: str | bytes, origin: str, report: ReadReport) -> None:
    """RSS or Atom: one article per entry, full content where the feed carries it."""
    import feedparser

    feed = feedparser.parse(content)
    reason = getattr(feed, "bozo_exception", None)
    if not feed.entries:
        raise ReadError(f"{origin}: not a readable RSS/Atom feed ({reason or 'no entries'})")
    read_before = len(report.articles)
    source = feed.feed.get("title")
    for number, entry in enumerate(feed.entries, start=1):
        try:
            report.articles.append(
                _article(
                    entry.get("title", ""),
                    entry_text(entry),
                    f"{origin}#{number}",
                    url=entry.get("link"),
                    source=source or domain(entry.get("link")),
                    published=entry_date(entry),
                    language=entry.get("language") or feed.feed.get("language"),
                )
            )
        except ReadError as error:
            report.errors.append(error)
    if reason and len(report.articles) == read_before:
        raise ReadError(f"{origin}: not a readable RSS/Atom feed ({reason})")


def entry_date(entry: Any) -> datetime | None:
    """A feedparser entry's publication date, else its update date (read as stored: asking
    feedparser for a missing "updated" warns of a deprecated fallback)."""
    return parse_date(dict.get(entry, "published") or dict.get(entry, "updated"))


def entry_text(entry: Any) -> str:
    """A feedparser entry's full content, else its summary, as plain text."""
    contents = entry.get("content") or []
    body = str(contents[0].get("value", "") if contents else entry.get("summary", ""))
    if "<" in body:
        import trafilatura

        body = trafilatura.extract(f"<html><body>{body}</body></html>") or ""
    return body


def _read_bytes(path: Path, limit: int) -> bytes:
    try:
        size = path.stat().st_size
        if size > limit:
            raise ReadError(
                f"{path}: file is {size / 2**20:.0f} MB, over the {limit / 2**20:.0f} MB limit"
            )
        return path.read_bytes()
    except OSError as error:
        raise ReadError(f"{path}: cannot read ({error.strerror or error})") from error


def parse_bytes(
    data: bytes, suffix: str, origin: str, fields: FieldNames, url: str | None = None
) -> ReadReport:
    """Articles from the bytes of one input whose type `suffix` names (".jsonl", ".html", …)."""
    report = ReadReport()
    if suffix in FEED_SUFFIXES:
        refuse_empty_or_binary(data, origin)
        parse_feed(feed_bytes(data), origin, report)
        return report
    content = decode(data, origin, collection=suffix in JSONL_SUFFIXES | CSV_SUFFIXES)
    if suffix in TEXT_SUFFIXES:
        report.articles.append(parse_text(content, origin))
    elif suffix in HTML_SUFFIXES:
        report.articles.append(parse_html(content, origin, url=url))
    else:
        (parse_jsonl if suffix in JSONL_SUFFIXES else parse_csv)(content, origin, fields, report)
        if not report.articles:
            first = f"; first problem: {report.errors[0]}" if report.errors else ""
            raise ReadError(f"{origin}: no readable rows{first}")
    return report


def read_file(path: str | Path, fields: FieldNames | None = None) -> ReadReport:
    """All articles in one file, chosen by extension; bad rows land in `report.errors`."""
    path = Path(path)
    suffix = path.suffix.lower()
    if path.is_dir():
        raise ReadError(f"{path}: is a directory; read it with read_many() or `storylink read`")
    if suffix not in SUPPORTED_SUFFIXES:
        raise ReadError(
            f"{path}: unknown file type '{suffix or '(none)'}'; "
            f"supported: {', '.join(sorted(SUPPORTED_SUFFIXES))}"
        )
    limit = MAX_FILE_BYTES if suffix in JSONL_SUFFIXES | CSV_SUFFIXES else MAX_PAGE_BYTES
    return parse_bytes(_read_bytes(path, limit), suffix, str(path), fields or FieldNames())


def _url_suffix(url: str, content_type: str, data: bytes) -> str:
    """The input type of a fetched URL: its path's extension, else what the server says."""
    suffix = Path(urllib.parse.urlsplit(url).path).suffix.lower()
    if suffix in SUPPORTED_SUFFIXES:
        return suffix
    head = data[:512].lstrip().lower()
    if "xml" in content_type or head.startswith((b"<?xml", b"<rss", b"<feed")):
        return ".xml"
    if "html" in content_type or head.startswith((b"<!doctype html", b"<html")):
        return ".html"
    return ".txt"


ONE_OFF_POLICY = FetchPolicy(host_interval=0)  # URLs a person named: no wait between them
_ONE_OFF = Fetcher(ONE_OFF_POLICY)


def url_fetcher(allow_private: bool = False) -> Fetcher:
    """The fetcher for URLs named by a command or request; public addresses only unless
    `allow_private` (local setups and tests: loopback and private networks too)."""
    return Fetcher(replace(ONE_OFF_POLICY, allow_private=True)) if allow_private else _ONE_OFF


def read_url(
    url: str, fields: FieldNames | None = None, *, fetcher: Fetcher | None = None
) -> ReadReport:
    """Fetch a page, feed or collection over HTTP(S) through `fetcher` (default: public
    addresses only, with the timeouts and size limit of `FetchPolicy`)."""
    try:
        response = (fetcher or _ONE_OFF).get(url)
    except FetchError as error:
        reason = error.reason if error.status else f"cannot fetch ({error.reason})"
        raise ReadError(f"{url}: {reason}") from error
    suffix = _url_suffix(response.url, response.content_type or "", response.body)
    return parse_bytes(response.body, suffix, url, fields or FieldNames(), url=response.url)


def domain(url: Any) -> str | None:
    """The host an article's URL names, without "www.": its source when nothing says more."""
    if not isinstance(url, str) or not is_url(url):
        return None
    host = urllib.parse.urlsplit(url).hostname or ""
    return host.removeprefix("www.") or None


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def expand(source: str | Path) -> list[str]:
    """The inputs one source names: a URL or file as is, a directory or glob to its files."""
    text = str(source)
    if is_url(text):
        return [text]
    path = Path(text)
    if path.is_dir():
        found = [
            str(child)
            for child in sorted(path.rglob("*"))
            if child.is_file() and child.suffix.lower() in SUPPORTED_SUFFIXES
        ]
        if not found:
            raise ReadError(f"{text}: directory holds no supported files")
        return found
    if glob.has_magic(text):
        found = [m for m in sorted(glob.glob(text, recursive=True)) if Path(m).is_file()]
        if not found:
            raise ReadError(f"{text}: no files match")
        return found
    return [text]


def read_source(
    source: str | Path, fields: FieldNames | None = None, *, fetcher: Fetcher | None = None
) -> ReadReport:
    """Articles from one file or URL (fetched through `fetcher`), with bad rows in `errors`."""
    text = str(source)
    if is_url(text):
        return read_url(text, fields, fetcher=fetcher)
    if not Path(text).exists():
        raise ReadError(f"{text}: no such file")
    return read_file(text, fields)


def read(
    source: str | Path, fields: FieldNames | None = None, *, fetcher: Fetcher | None = None
) -> list[Article]:
    """Articles from one file or URL; raises `ReadError` if it (or any of its rows) is bad."""
    report = read_source(source, fields, fetcher=fetcher)
    if report.errors:
        raise report.errors[0]
    return report.articles


def read_many(
    sources: Iterable[str | Path],
    fields: FieldNames | None = None,
    on_input: Callable[[str], None] | None = None,
    *,
    fetcher: Fetcher | None = None,
) -> ReadReport:
    """Articles from many inputs; bad files and rows are reported in `errors` and skipped.

    `on_input` is called with each file or URL once it is read (for progress bars); URLs are
    fetched through `fetcher` (default: public addresses only).
    """
    total = ReadReport()
    for source in sources:
        try:
            inputs = expand(source)
        except ReadError as error:
            total.errors.append(error)
            continue
        for single in inputs:
            try:
                report = read_source(single, fields, fetcher=fetcher)
                total.articles.extend(report.articles)
                total.errors.extend(report.errors)
            except ReadError as error:
                total.errors.append(error)
            if on_input:
                on_input(single)
    log.info("read %d articles; skipped %d inputs or rows", len(total.articles), len(total.errors))
    return total


def read_one(
    spec: str, fields: FieldNames | None = None, *, fetcher: Fetcher | None = None
) -> Article:
    """One article: a file or URL holding one, or ``SOURCE#N`` for entry N of a collection.

    N is the JSONL line, the CSV data row or the feed entry, as shown in each article's
    `origin`; other bad rows of the collection do not matter.
    """
    source, hash_sign, number = spec.rpartition("#")
    if not hash_sign or not number.isdigit():
        articles = read(spec, fields, fetcher=fetcher)
        if len(articles) > 1:
            first = articles[0].origin
            raise ReadError(
                f"{spec}: holds {len(articles)} articles; pick one as SOURCE#N, e.g. {first}"
            )
        return articles[0]
    report = read_source(source, fields, fetcher=fetcher)
    for article in report.articles:
        if article.origin == spec:
            return article
    problems = [e for e in report.errors if str(e).startswith(f"{spec}:")]
    if problems:
        raise problems[0]
    names = ", ".join(a.origin.rpartition("#")[2] for a in report.articles[:10])
    raise ReadError(
        f"{spec}: no such entry; {source} has entries {names}"
        + (", …" if len(report.articles) > 10 else "")
    )
