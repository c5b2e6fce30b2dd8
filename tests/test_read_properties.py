"""Every reader, on any input: articles, or `ReadError` saying why, never another exception.

In a batch (JSONL lines, CSV rows, feed entries, files of a directory) bad items are reported
and the good ones kept.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape

from hypothesis import strategies as st

from storylink.demo import examples_path
from storylink.language import with_language
from storylink.read import (
    SUPPORTED_SUFFIXES,
    FieldNames,
    ReadError,
    ReadReport,
    parse_bytes,
    parse_date,
    read_many,
    read_one,
)

from .hostile import NEWS_ALPHABET, any_text, examples, news_text

FIELDS = FieldNames()
SUFFIXES = sorted(SUPPORTED_SUFFIXES)
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "latin-1", "cp1251"]
BOMS = [b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\xff\xfe\x00\x00", b""]
LEGACY = ["koi8-r", "shift_jis", "euc-kr", "cp1256", "iso-8859-7", "gb2312", "cp1252"]


def read_or_refuse(data: bytes, suffix: str) -> ReadReport | ReadError:
    """The reader's answer: a report whose articles all have text, or its own error."""
    try:
        report = parse_bytes(data, suffix, f"input{suffix}", FIELDS)
    except ReadError as error:
        assert str(error).startswith(f"input{suffix}"), "the error names the input"
        return error
    for article in report.articles:
        assert article.text.strip() and article.origin.startswith(f"input{suffix}")
        assert article.published is None or article.published.astimezone(UTC)
    return report


@examples(300, st.binary(max_size=2048), st.sampled_from(SUFFIXES))
def test_any_bytes(data: bytes, suffix: str) -> None:
    read_or_refuse(data, suffix)


@examples(
    200,
    news_text,
    st.sampled_from(ENCODINGS),
    st.integers(min_value=0, max_value=2000),
    st.sampled_from(SUFFIXES),
)
def test_truncated_encodings(text: str, encoding: str, cut: int, suffix: str) -> None:
    """Text cut in the middle of a character (UTF-8 and UTF-16 too)."""
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        return
    read_or_refuse(data[:cut], suffix)


@examples(150, st.sampled_from(BOMS), news_text, st.sampled_from(SUFFIXES))
def test_byte_order_marks(bom: bytes, text: str, suffix: str) -> None:
    """Any BOM before UTF-8 text, whether or not it matches the encoding."""
    read_or_refuse(bom + text.encode("utf-8"), suffix)


def test_utf8_bom_text_is_read() -> None:
    report = read_or_refuse(b"\xef\xbb\xbfTitle\nA body of text.", ".txt")
    assert isinstance(report, ReadReport) and report.articles[0].title == "Title"


# ------------------------------------------------------------------ HTML

TAGS = ["div", "p", "article", "span", "table", "td", "b", "script", "style", "h1", "ul", "li"]


def _html_tree() -> st.SearchStrategy[str]:
    leaf = news_text.map(escape) | st.sampled_from(["<", "&", "&nbsp;", "&#0;", "&bogus;", "]]>"])

    def nest(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.builds(
            lambda tag, inner, closed: f"<{tag}>{''.join(inner)}" + (f"</{tag}>" if closed else ""),
            st.sampled_from(TAGS),
            st.lists(children, max_size=4),
            st.booleans(),  # unclosed tags: malformed HTML
        )

    return st.recursive(leaf, nest, max_leaves=30)


@examples(
    80,
    _html_tree(),
    st.sampled_from(["", "<html><body>", "<!DOCTYPE html><html lang='xx'>", "<?xml?>"]),
    st.sampled_from([*LEGACY, "utf-8", "no-such-charset"]),
    st.sampled_from([*LEGACY, "utf-8"]),
)
def test_malformed_html(body: str, head: str, declared: str, actual: str) -> None:
    """Nested and unclosed tags, stray entities, a charset declared that the bytes are not in."""
    page = f'{head}<meta charset="{declared}"><title>t</title>{body}'
    read_or_refuse(page.encode(actual, errors="replace"), ".html")


# ------------------------------------------------------------------ feeds

maybe = st.none() | news_text
bad_dates = (
    st.none()
    | st.sampled_from(
        [
            "Mon, 04 May 2026 08:30:00 GMT",
            "Mon, 31 Feb 2026 25:61:00 +9999",
            "2026-13-45T99:99:99Z",
            "yesterday",
            "0000-00-00",
            "9999-12-31T23:59:59-14:00",
            "0001-01-01T00:00:00+14:00",
            "0001-01-01",
            "Sun, 00 Jan 0000 00:00:00 ZZZ",
            "",
        ]
    )
    | news_text
)


def _rss_item(title: str | None, link: str | None, body: str | None, date: str | None) -> str:
    parts = [
        f"<title>{escape(title)}</title>" if title is not None else "",
        f"<link>{escape(link)}</link>" if link is not None else "",
        f"<description>{escape(body)}</description>" if body is not None else "",
        f"<pubDate>{escape(date)}</pubDate>" if date is not None else "",
    ]
    return f"<item>{''.join(parts)}</item>"


@examples(
    100,
    st.lists(st.tuples(maybe, maybe, maybe, bad_dates), max_size=6),
    st.sampled_from([*LEGACY, "utf-8", "utf-16"]),
    st.sampled_from([*LEGACY, "utf-8", "bogus"]),
    st.integers(min_value=0, max_value=5000),
)
def test_feeds(items: list[tuple[str | None, ...]], actual: str, declared: str, cut: int) -> None:
    """Entries missing fields, bad dates, a wrong declared encoding, the document cut short."""
    body = "".join(_rss_item(*item) for item in items)
    feed = f'<?xml version="1.0" encoding="{declared}"?><rss><channel>{body}</channel></rss>'
    data = feed.encode(actual, errors="replace")
    report = read_or_refuse(data, ".rss")
    if cut >= len(data) and isinstance(report, ReadReport):
        with_text = [i for i in items if i[2] and i[2].strip()]
        assert len(report.articles) <= len(with_text)


# ------------------------------------------------------------------ CSV and JSONL

# cells with the characters that break naive CSV: newlines, quotes, every delimiter
cell = news_text | st.text(st.sampled_from("ab \n\r\",;\t|\\'") | NEWS_ALPHABET, max_size=60)
row = st.fixed_dictionaries({"title": cell, "text": cell, "date": bad_dates})


@examples(
    100,
    st.lists(row, min_size=1, max_size=6),
    st.sampled_from([",", ";", "\t", "|", " "]),
    st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONE]),
    st.booleans(),
)
def test_csv(rows: list[dict[str, str | None]], delimiter: str, quoting: int, crlf: bool) -> None:
    """Any delimiter, quoting or none, newlines and delimiters inside cells."""
    out = io.StringIO()
    writer = csv.DictWriter(
        out,
        ["title", "text", "date"],
        delimiter=delimiter,
        quoting=quoting,
        escapechar="\\",
        lineterminator="\r\n" if crlf else "\n",
    )
    writer.writeheader()
    writer.writerows(rows)
    report = read_or_refuse(out.getvalue().encode("utf-8"), ".csv")
    if isinstance(report, ReadReport):
        assert len(report.articles) + len(report.errors) >= 1


good_line = st.builds(
    lambda title, text, date: json.dumps({"title": title, "text": text, "date": date}),
    news_text,
    news_text.filter(lambda t: bool(t.strip())),
    bad_dates,
)
bad_line = any_text.filter(lambda t: "\n" not in t and "\r" not in t) | st.sampled_from(
    ['{"title": "x"}', "[1, 2]", '"text"', '{"text": ', "null", '{"text": null}', "{}"]
)


@examples(150, st.lists(st.tuples(st.booleans(), good_line, bad_line), min_size=1, max_size=8))
def test_jsonl_keeps_good_lines(lines: list[tuple[bool, str, str]]) -> None:
    """Every good line is read, in order; every bad one is reported with its line number."""
    chosen = [good if keep else bad for keep, good, bad in lines]
    data = "\n".join(chosen).encode("utf-8")
    goods = [n for n, (keep, _, _) in enumerate(lines, 1) if keep]
    report = read_or_refuse(data, ".jsonl")
    if isinstance(report, ReadError):
        assert not goods
        return
    kept = [int(a.origin.rpartition("#")[2]) for a in report.articles]
    assert set(goods) <= set(kept)
    for error in report.errors:
        assert str(error).startswith("input.jsonl#")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | any_text,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)
FIELD_KEYS = ["title", "text", "url", "date", "lang", "source"]


@examples(200, st.lists(st.dictionaries(st.sampled_from(FIELD_KEYS), json_values), max_size=5))
def test_jsonl_fields_of_any_type(records: list[dict[str, object]]) -> None:
    """Numbers, lists, objects, NaN where strings belong: each article read can be analysed
    and printed as the CLI does (language, JSON)."""
    data = "\n".join(json.dumps(r) for r in records).encode("utf-8")
    report = read_or_refuse(data, ".jsonl") if records else None
    for article in report.articles if isinstance(report, ReadReport) else []:
        assert all(isinstance(v, str | None) for v in (article.url, article.source))
        json.dumps(with_language(article).to_dict())


@examples(300, any_text | bad_dates)
def test_parse_date(value: str | None) -> None:
    """Any date string: an aware datetime or None."""
    parsed = parse_date(value)
    assert parsed is None or (isinstance(parsed, datetime) and parsed.astimezone(UTC))


def test_batch_of_files_keeps_the_good(tmp_path: Path) -> None:
    """A directory of good, empty, binary and broken files: good articles kept, bad reported."""
    (tmp_path / "good.txt").write_text("Title\nA body.", "utf-8")
    (tmp_path / "empty.html").write_bytes(b"")
    (tmp_path / "binary.txt").write_bytes(bytes(range(256)))
    (tmp_path / "broken.jsonl").write_text('{"text": "kept"}\n{bad\n', "utf-8")
    (tmp_path / "cut.rss").write_bytes(b"<?xml version='1.0'?><rss><channel><item><title>")
    report = read_many([tmp_path])
    assert sorted(a.text for a in report.articles) == ["A body.", "kept"]
    assert len(report.errors) == 4


def test_jsonl_raw_line_separators_stay_inside_strings() -> None:
    """U+2028 and form feeds written raw inside a JSON string (ensure_ascii=False) do not split
    the line: found by test_jsonl_keeps_good_lines (the record was lost, the numbers shifted)."""
    lines = [json.dumps({"text": f"one{sep}two"}, ensure_ascii=False) for sep in "\u2028\x0c\x1e"]
    report = read_or_refuse("\n".join(lines).encode("utf-8"), ".jsonl")
    assert isinstance(report, ReadReport) and not report.errors
    assert [a.origin for a in report.articles] == [f"input.jsonl#{n}" for n in (1, 2, 3)]


def test_stray_nul_spoils_one_row_not_the_collection() -> None:
    """Found by test_jsonl_keeps_good_lines: a NUL in one line refused the whole file as binary."""
    report = read_or_refuse(b'{"text": "kept"}\n\x00\n{"text": "also kept"}\n', ".jsonl")
    assert isinstance(report, ReadReport)
    assert [a.text for a in report.articles] == ["kept", "also kept"]
    assert [str(e).split(":")[0] for e in report.errors] == ["input.jsonl#2"]


def test_dates_without_a_utc_time_are_dropped() -> None:
    """Found by test_parse_date: year 1 at +14:00 has no UTC time (storing it overflowed)."""
    assert parse_date("0001-01-01T00:00:00+14:00") is None
    assert parse_date("9999-12-31T23:59:59-14:00") is None
    assert parse_date("2026-05-04T10:30:00+02:00") == datetime(2026, 5, 4, 8, 30, tzinfo=UTC)


def test_metadata_that_is_not_text_is_left_out() -> None:
    """Found by test_jsonl_fields_of_any_type: a number as language crashed language detection,
    a list as URL reached the store."""
    rows = [
        {"text": "The port of Valencia opened a rail terminal.", "lang": 7, "url": ["x"]},
        {"text": 2026, "title": 1.5, "date": {"y": 1}},
        {"text": ["not", "text"]},
    ]
    report = read_or_refuse("\n".join(map(json.dumps, rows)).encode("utf-8"), ".jsonl")
    assert isinstance(report, ReadReport)
    first, second = report.articles
    assert (first.language, first.url, with_language(first).language) == (None, None, "en")
    assert (second.title, second.text, second.published) == ("1.5", "2026", None)
    assert [str(e) for e in report.errors] == ["input.jsonl#3: field 'text' holds list, not text"]


@examples(200, any_text)
def test_field_renames_and_entry_specs(text: str) -> None:
    """Any --field value: field names or the CLI's ValueError; any SOURCE#N: an article or
    ReadError."""
    try:
        FieldNames.parse([text])
    except ValueError as error:
        assert "--field" in str(error)
    try:
        read_one(f"{examples_path()}#{text}")
    except ReadError as error:
        assert str(error)
