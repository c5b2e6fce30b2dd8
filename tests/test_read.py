from __future__ import annotations

import functools
import http.server
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import pytest

from storylink.fetch import Fetcher, FetchPolicy
from storylink.language import with_language
from storylink.read import (
    FieldNames,
    ReadError,
    not_an_article,
    read,
    read_many,
    read_one,
    read_url,
)

LOCAL = FetchPolicy(allowed_networks=("127.0.0.0/8",), host_interval=0)  # the test server only

HTML_PAGE = """<!DOCTYPE html>
<html lang="en"><head>
<title>Port of Valencia opens new rail terminal | Harbour Courier</title>
<meta property="og:title" content="Port of Valencia opens new rail terminal">
<meta property="article:published_time" content="2026-05-04T10:30:00+02:00">
</head><body>
<nav><a href="/">Home</a> <a href="/world">World</a> <a href="/sport">Sport</a></nav>
<article>
<h1>Port of Valencia opens new rail terminal</h1>
<p>The port of Valencia opened a new rail terminal on Monday that its operators say will move
up to 40 freight trains a week between the Mediterranean coast and Madrid.</p>
<p>The terminal cost 120 million euros and was financed partly by the European Union, the port
authority said in a statement, adding that it would cut lorry traffic on the A-3 motorway.</p>
<p>Dock workers' unions welcomed the investment but asked for guarantees that no jobs would be
lost as more containers are moved by rail.</p>
</article>
<footer>Cookie settings · Privacy · Contact</footer>
</body></html>"""

ARABIC_PAGE = """<html lang="ar" dir="rtl"><head>
<title>افتتاح محطة قطارات جديدة في ميناء فالنسيا</title>
<meta name="date" content="2026-05-04"></head><body><article>
<h1>افتتاح محطة قطارات جديدة في ميناء فالنسيا</h1>
<p>افتتح ميناء فالنسيا الإسباني يوم الاثنين محطة جديدة للسكك الحديدية
قال مشغلوها إنها ستنقل ما يصل إلى أربعين قطار شحن أسبوعيا بين ساحل البحر المتوسط ومدريد.</p>
<p>وبلغت تكلفة المحطة 120 مليون يورو، وموّل الاتحاد الأوروبي جزءا منها بحسب هيئة الميناء.</p>
</article></body></html>"""

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Harbour Courier</title><link>https://courier.example/</link>
<item><title>Valencia opens rail terminal</title><link>https://courier.example/a</link>
<pubDate>Mon, 04 May 2026 08:30:00 GMT</pubDate>
<description>The port of Valencia opened a new rail terminal on Monday.</description></item>
<item><title>Empty item</title><link>https://courier.example/b</link><description></description></item>
<item><title>Genoa cranes</title><link>https://courier.example/c</link>
<description>&lt;p&gt;Genoa's port installed six new cranes.&lt;/p&gt;</description></item>
</channel></rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Courier</title>
<entry><title>Один</title><link href="https://courier.example/ru/1"/><updated>2026-05-04T08:30:00Z</updated>
<content type="text">В порту Валенсии открыли новый железнодорожный терминал.</content></entry>
</feed>"""


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def test_text_file_first_line_is_title(tmp_path: Path) -> None:
    path = write(
        tmp_path, "a.txt", "Valencia opens rail terminal\n\nThe port opened a terminal.\nMore text."
    )
    (article,) = read(path)
    assert article.title == "Valencia opens rail terminal"
    assert article.text == "The port opened a terminal.\nMore text."
    assert article.origin == str(path)
    assert len(article.id) == 16


def test_same_content_same_id(tmp_path: Path) -> None:
    a = read(write(tmp_path, "a.txt", "Title\nSome   body text here."))[0]
    b = read(write(tmp_path, "b.txt", "Title\nSome body text here.\n"))[0]
    assert a.id == b.id


def test_encoding_is_detected_not_assumed(tmp_path: Path) -> None:
    text = (
        "Новости дня\nВ порту Валенсии открыли новый железнодорожный терминал для грузовых поездов."
    )
    (article,) = read(write(tmp_path, "cp1251.txt", text.encode("cp1251")))
    assert article.title == "Новости дня"
    assert "железнодорожный" in article.text
    (utf16,) = read(write(tmp_path, "utf16.txt", text.encode("utf-16")))
    assert utf16.text == article.text


def test_html_main_text_title_and_date(tmp_path: Path) -> None:
    (article,) = read(write(tmp_path, "page.html", HTML_PAGE))
    assert article.title == "Port of Valencia opens new rail terminal"
    assert "40 freight trains" in article.text
    assert "Cookie settings" not in article.text and "Sport" not in article.text
    assert article.published is not None
    assert article.published.isoformat() == "2026-05-04T10:30:00+02:00"


def test_html_arabic_page(tmp_path: Path) -> None:
    (article,) = read(write(tmp_path, "ar.html", ARABIC_PAGE))
    assert "فالنسيا" in article.title
    assert "120 مليون يورو" in article.text


def test_jsonl_with_custom_field_names(tmp_path: Path) -> None:
    rows = '{"headline": "H1", "body": "First body.", "when": "2026-01-02", "language": "en"}\n\n'
    rows += '{"headline": "H2", "body": "Second body.", "when": "Wed Jan  1 14:51:31 2020"}\n'
    fields = FieldNames(title="headline", text="body", date="when", language="language")
    first, second = read(write(tmp_path, "a.jsonl", rows), fields)
    assert (first.title, first.language) == ("H1", "en")
    assert first.published == datetime(2026, 1, 2, tzinfo=UTC)
    assert second.published == datetime(2020, 1, 1, 14, 51, 31, tzinfo=UTC)
    assert second.origin.endswith("a.jsonl#3")


def test_csv_semicolon_delimiter_sniffed(tmp_path: Path) -> None:
    content = (
        "title;text;url\nValencia;The port opened a terminal.;https://x.example/1\n"
        "Genoa;Six cranes.;\n"
    )
    articles = read(write(tmp_path, "a.csv", content))
    assert [a.title for a in articles] == ["Valencia", "Genoa"]
    assert articles[0].url == "https://x.example/1" and articles[1].url is None


def test_rss_and_atom(tmp_path: Path) -> None:
    report = read_many([write(tmp_path, "feed.rss", RSS)])
    assert [a.title for a in report.articles] == ["Valencia opens rail terminal", "Genoa cranes"]
    assert report.articles[0].source == "Harbour Courier"
    assert report.articles[0].published == datetime(2026, 5, 4, 8, 30, tzinfo=UTC)
    assert report.articles[1].text == "Genoa's port installed six new cranes."
    assert len(report.errors) == 1 and "feed.rss#2" in str(report.errors[0])
    (atom,) = read(write(tmp_path, "feed.atom", ATOM))
    assert atom.url == "https://courier.example/ru/1" and "Валенсии" in atom.text


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.txt", "", "file is empty"),
        ("blank.txt", "  \n\n ", "file is empty"),
        ("binary.txt", bytes(range(256)) * 20, "binary"),
        ("photo.jpg", b"\xff\xd8\xff\xe0 not really", "unknown file type '.jpg'"),
        ("rows.jsonl", '{"title": "a", "text": \n[1, 2]\n', "no readable rows"),
        ("rows.csv", "headline,body\nx,y\n", "no 'text' column"),
        ("feed.rss", "<rss><channel><item>", "not a readable RSS/Atom feed"),
        ("page.html", "<html><body></body></html>", "no article text"),
    ],
)
def test_bad_input_names_the_file(
    tmp_path: Path, name: str, content: str | bytes, message: str
) -> None:
    path = write(tmp_path, name, content)
    with pytest.raises(ReadError) as error:
        read(path)
    assert str(path) in str(error.value)
    assert message in str(error.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ReadError, match="no such file"):
        read(tmp_path / "nope.txt")


def test_batch_reports_bad_files_and_rows_and_keeps_the_rest(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    (folder / "deep").mkdir(parents=True)
    write(folder, "good.txt", "Title\nBody text of a good article.")
    write(
        folder / "deep",
        "rows.jsonl",
        '{"title": "A", "text": "Body A."}\nnot json\n{"title": "C"}\n',
    )
    write(folder, "empty.html", "")
    write(folder, "ignored.png", b"\x89PNG")
    report = read_many([folder, tmp_path / "missing.txt"])
    assert sorted(a.title for a in report.articles) == ["A", "Title"]
    messages = [str(e) for e in report.errors]
    assert any("rows.jsonl#2: malformed JSON" in m for m in messages)
    assert any("rows.jsonl#3: no 'text' field" in m for m in messages)
    assert any("empty.html: file is empty" in m for m in messages)
    assert any("missing.txt: no such file" in m for m in messages)
    assert not any("ignored.png" in m for m in messages)  # directories yield supported files only


def test_glob(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", "A\nBody a.")
    write(tmp_path, "b.txt", "B\nBody b.")
    seen: list[str] = []
    report = read_many([str(tmp_path / "*.txt")], on_input=seen.append)
    assert [a.title for a in report.articles] == ["A", "B"]
    assert seen == [str(tmp_path / "a.txt"), str(tmp_path / "b.txt")]  # progress per input


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, tuple[int, str, bytes]]] = {
        "/page": (200, "text/html; charset=utf-8", HTML_PAGE.encode()),
        "/feed": (200, "application/rss+xml", RSS.encode()),
        "/huge": (200, "text/plain", b"word " * 50_000),
        "/gone": (404, "text/plain", b"not here"),
        "/rows.jsonl": (200, "text/plain", b'{"title": "A", "text": "Body A."}\n{"text": "B."}\n'),
    }

    def do_GET(self) -> None:
        if self.path == "/slow":
            time.sleep(2)
        status, kind, body = self.routes.get(self.path, (200, "text/plain", b"Title\nSlow body."))
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_url_html_and_feed(server: str) -> None:
    (article,) = read(f"{server}/page", fetcher=Fetcher(LOCAL))
    assert article.title == "Port of Valencia opens new rail terminal"
    assert article.url == f"{server}/page" and article.origin == f"{server}/page"
    report = read_many([f"{server}/feed"], fetcher=Fetcher(LOCAL))
    assert len(report.articles) == 2 and len(report.errors) == 1


def test_url_collections_are_read_by_their_extension(server: str) -> None:
    fetcher = Fetcher(LOCAL)
    first, second = read(f"{server}/rows.jsonl", fetcher=fetcher)
    assert (first.title, second.text) == ("A", "B.")
    assert read_one(f"{server}/rows.jsonl#2", fetcher=fetcher).text == "B."
    assert read_one(f"{server}/feed#3", fetcher=fetcher).title == "Genoa cranes"


def test_url_errors(server: str) -> None:
    with pytest.raises(ReadError, match="HTTP 404 Not Found"):
        read(f"{server}/gone", fetcher=Fetcher(LOCAL))
    with pytest.raises(ReadError, match="over the 10000 bytes limit"):
        read_url(f"{server}/huge", fetcher=Fetcher(replace(LOCAL, max_bytes=10_000)))
    with pytest.raises(ReadError, match="cannot fetch"):
        read_url(f"{server}/slow", fetcher=Fetcher(replace(LOCAL, read_timeout=0.5)))
    with pytest.raises(ReadError, match="not a valid URL"):
        read("http://[::1")


def test_field_names_from_command_line() -> None:
    fields = FieldNames.parse(["text=body", "date=published_at"])
    assert (fields.text, fields.date, fields.title) == ("body", "published_at", "title")
    with pytest.raises(ValueError, match="expected NAME=KEY"):
        FieldNames.parse(["body"])
    with pytest.raises(ValueError, match="expected NAME=KEY"):
        FieldNames.parse(["colour=red"])


def test_paragraph_first_line_stays_in_the_body(tmp_path: Path) -> None:
    lede = "Tehran (IP) - The president, on Saturday, in a telephone call, welcomed the ceasefire."
    (article,) = read(write(tmp_path, "lede.txt", lede + "\n\nSecond paragraph."))
    assert article.title == "" and article.text.startswith(lede)


def test_read_one_picks_an_entry_despite_other_bad_rows(tmp_path: Path) -> None:
    path = write(
        tmp_path, "rows.jsonl", '{"title": "A", "text": "Body A."}\n{broken\n{"text": "C."}\n'
    )
    assert read_one(f"{path}#3").text == "C."
    with pytest.raises(ReadError, match=r"rows\.jsonl#2: malformed JSON"):
        read_one(f"{path}#2")
    with pytest.raises(ReadError, match=r"rows\.jsonl#7: no such entry; .* has entries 1, 3"):
        read_one(f"{path}#7")
    with pytest.raises(ReadError, match=r"rows\.jsonl#2: malformed JSON"):
        read_one(str(path))  # without #N every row counts
    clean = write(tmp_path, "clean.jsonl", '{"text": "A."}\n{"text": "B."}\n')
    with pytest.raises(ReadError, match=r"holds 2 articles; pick one as SOURCE#N, e\.g\. .*#1"):
        read_one(str(clean))


def test_directories_and_globs_that_hold_nothing(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    report = read_many([tmp_path / "empty", str(tmp_path / "nothing" / "*.html")])
    assert not report.articles
    assert [str(e).split(": ", 1)[1] for e in report.errors] == [
        "directory holds no supported files",
        "no files match",
    ]
    with pytest.raises(ReadError, match="is a directory; read it with read_many"):
        read(tmp_path / "empty")


def test_missing_text_field_suggests_renaming(tmp_path: Path) -> None:
    path = write(tmp_path, "rows.jsonl", '{"headline": "A", "body": "Body A."}\n')
    with pytest.raises(
        ReadError, match=r"no 'text' field \(fields: headline, body\).*--field text="
    ):
        read(path)


def test_header_only_csv_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "empty.csv", "title,text\n")
    with pytest.raises(ReadError, match="no readable rows"):
        read_one(str(path))


def test_oversized_page(tmp_path: Path) -> None:
    huge = write(tmp_path, "huge.html", b"<p>" + b"word " * 3_500_000 + b"</p>")  # 16.7 MiB
    with pytest.raises(ReadError, match=r"huge\.html: file is 17 MB, over the 16 MB limit"):
        read(huge)


@pytest.mark.parametrize(
    ("encoding", "title", "body"),
    [
        ("latin-1", "Café crème", "Le maire a inauguré la fête à Besançon, où l'été fut chaud."),
        ("cp1252", "Grüße aus Köln", "Müller und Söhne grüßen aus Köln, wo es heute schön ist."),
        ("cp1250", "Wieści z Łodzi", "Zażółć gęślą jaźń – powiedział burmistrz Łodzi w środę."),
        ("cp1256", "أخبار اليوم", "قال الرئيس إن المحادثات مستمرة في العاصمة."),
    ],
)
def test_legacy_encodings(tmp_path: Path, encoding: str, title: str, body: str) -> None:
    (article,) = read(write(tmp_path, "legacy.txt", f"{title}\n{body}".encode(encoding)))
    assert (article.title, article.text) == (title, body)


def test_directory_listings_and_index_pages_are_skipped_with_a_reason(tmp_path: Path) -> None:
    """A web server's listing of German file names was read as a German article; a section
    page of linked headlines as one more article."""
    served = tmp_path / "nachrichten"
    served.mkdir()
    for name in ("bundestag-haushalt.html", "wetter-muenchen.txt", "archiv-maerz.jsonl"):
        (served / name).write_text("x", "utf-8")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/nachrichten/"
        with pytest.raises(ReadError, match="directory listing, not an article"):
            read(url, fetcher=Fetcher(LOCAL))
    finally:
        httpd.shutdown()
    headlines = [
        "Bundestag beschließt den Haushalt für das kommende Jahr",
        "Unwetter in Bayern: Feuerwehr im Dauereinsatz",
        "Bahnstreik legt den Fernverkehr in ganz Deutschland lahm",
    ]
    section = "<html><head><title>Politik</title></head><body><main>" + "".join(
        f'<article><h2><a href="/{n}.html">{h}</a></h2></article>' for n, h in enumerate(headlines)
    )
    with pytest.raises(ReadError, match=r"index or listing page \(100% of its text is links\)"):
        read(write(tmp_path, "politik.html", section + "</main></body></html>"))
    (article,) = read(write(tmp_path, "page.html", HTML_PAGE))  # an article with links stays
    assert "40 freight trains" in article.text


FEED_TEXTS = {
    "ru": (
        "Как пережить новогоднюю ночь",
        "Наверное, единственное, во что сегодня можно верить "
        "безоговорочно, так это в то, что Новый год обязательно наступит.",
    ),
    "ja": (
        "ゲーム三昧な正月",
        "色々調べてたら、新しいバージョンがこの形式をサポートしていないことが判明した。",
    ),
    "ko": (
        "한글 닉네임 표시하기",
        "시스템이 다른 인코딩으로 돌아가는데, 거기서 한글로 된 닉네임을 정할 경우에 "
        "전송되어 오는 닉네임이 깨져 나타난다.",
    ),
    "fr": (
        "La crème du port",
        "Le port de Marseille a battu son record : la crème des armateurs "
        "était présente à la cérémonie d'été.",
    ),
}


@pytest.mark.parametrize(
    ("language", "actual", "declared"),
    [
        ("ru", "koi8-r", None),  # feedparser's test feeds: no declaration, so UTF-8 by rule
        ("ja", "shift_jis", None),
        ("ko", "euc-kr", None),
        ("ru", "cp1251", "iso-8859-1"),  # a wrong declared code page
        ("ja", "euc-jp", "windows-1252"),
        ("ko", "euc-kr", "euc-kr"),  # right declarations are kept
        ("fr", "iso-8859-1", "iso-8859-1"),
        ("ru", "koi8-r", "koi8-r"),
    ],
)
def test_feed_encoding_conflicts_are_resolved_by_evidence(
    tmp_path: Path, language: str, actual: str, declared: str | None
) -> None:
    """Feeds whose bytes are not in the encoding they declare came out garbled, tagged und/es."""
    title, text = FEED_TEXTS[language]
    head = f'<?xml version="1.0" encoding="{declared}"?>' if declared else ""
    feed = f"{head}<rss><channel><item><title>{title}</title><description>{text}</description>"
    path = write(tmp_path, "feed.xml", (feed + "</item></channel></rss>").encode(actual))
    (article,) = read_many([path]).articles
    assert (article.title, article.text) == (title, text)
    assert with_language(article).language == language


@pytest.mark.parametrize(
    ("language", "actual", "declared"),
    [("ru", "cp1251", "utf-8"), ("ru", "koi8-r", "windows-1251"), ("ja", "shift_jis", "latin-1")],
)
def test_html_read_in_its_real_encoding_not_the_declared_one(
    tmp_path: Path, language: str, actual: str, declared: str
) -> None:
    title, text = FEED_TEXTS[language]
    page = f'<html><head><meta charset="{declared}"><title>{title}</title></head><body>'
    page += f"<article><h1>{title}</h1><p>{text}</p><p>{text}</p></article></body></html>"
    (article,) = read(write(tmp_path, "page.html", page.encode(actual)))
    assert article.title == title and text in article.text


def test_an_article_about_an_index_is_an_article() -> None:
    assert (
        not_an_article("<p>x</p>", "Index of consumer prices rose", "Index of prices rose.") is None
    )
    assert not_an_article("<p>x</p>", "Index of /news/2024", "Name\nLast modified") is not None
