"""Dates, numbers and names in any script and case, and compare on any pair of articles:
a result, or `CompareError` saying why, never another exception."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import strategies as st

from storylink.article import Article
from storylink.compare import CompareError, Comparer, PairScore, analyse_chunk
from storylink.dates import find_dates, find_numbers, shared_dates, shared_numbers
from storylink.entities import default_gazetteer, profile, search_key, shared_names, skeleton

from .hostile import any_text, examples, news_text

LANGUAGES = ["en", "ar", "ru", "zh", "tr", "de", "fa", "he", "ja", "pl", "el", "und", "xx", ""]
# Pieces that dates, numbers and names are made of, in many scripts, to be glued at random
FRAGMENTS = [
    "10 October 2020",
    "October 10",
    "10 أكتوبر",
    "١٠ أكتوبر ٢٠٢٠",
    "10 октября",
    "в пятницу",
    "2020年10月10日",
    "10月10日",
    "2020년 10월 10일",
    "السبت",
    "Cumartesi",
    "MART",
    "Mayıs",
    "31.02.2020",
    "29/02/2021",
    "00-00-0000",
    "9999-99-99",
    "1,800",
    "1.800,5",
    "4,2 миллиарда",
    "42億",
    "٣٫٥ مليار",
    "12:30",
    "1 800 000",
    "9" * 40,
    "0.0.0",
    "İSTANBUL",
    "Vladimir Putin",
    "فلاديمير بوتين",
    "Владимир Путин",
    "بالقاهرة",
    "Москве",
    "Nagorno-Karabakh",
    "New York",
    "東京",
    "ß",
    "ﬀ",
    "\u0130",
    "\u200f",
    "\u0640",
    ".",
    ",",
    " ",
    "\n\n",
]
case = st.sampled_from([str, str.upper, str.lower, str.title, str.swapcase, str.casefold])
fragment = st.builds(lambda f, s: f(s), case, st.sampled_from(FRAGMENTS)) | news_text
glued = st.lists(fragment, max_size=12).map(" ".join) | any_text
aware = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)
) | st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from([timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))]),
)
EXTREMES = [datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, tzinfo=UTC)]
published = st.none() | st.sampled_from(EXTREMES) | aware


@examples(600, glued, st.sampled_from(LANGUAGES), published)
def test_dates_and_numbers(text: str, language: str, when: datetime | None) -> None:
    """Any text in any language, any publication date: mentions with valid spans and values."""
    dates = find_dates(text, language, when)
    numbers = find_numbers(text, dates)
    for mention in [*dates, *numbers]:
        assert text[mention.start : mention.end] == mention.text
        assert mention.label
    for number in numbers:
        assert number.value > 1
    assert len(shared_dates(dates, dates)) <= len(dates)
    assert len(shared_numbers(numbers, numbers)) == len({n.value for n in numbers})


@examples(
    300,
    glued,
    glued,
    st.sampled_from(LANGUAGES),
    st.sampled_from(LANGUAGES),
)
def test_name_matching(text_a: str, text_b: str, language_a: str, language_b: str) -> None:
    """Names found and matched in any two texts; a text shares every one of its names with
    itself, and matching is symmetric in what it finds."""
    gazetteer = default_gazetteer()
    a = profile(Article("", text_a or ".", language=language_a or None), gazetteer)
    b = profile(Article("", text_b or ".", language=language_b or None), gazetteer)
    ab, ba = shared_names(a, b), shared_names(b, a)
    assert bool(ab) == bool(ba)
    for name in [*ab, *ba]:
        assert name.kind in ("person", "place", "organisation")


@examples(300, glued)
def test_search_key_and_skeleton(name: str) -> None:
    """The matching keys of any name are strings, and stable when applied twice."""
    key = search_key(name)
    assert search_key(key) == key
    assert isinstance(skeleton(name), str) and isinstance(skeleton(name, long_vowels=True), str)


@examples(
    40,
    glued,
    glued,
    st.sampled_from([None, *LANGUAGES, "EN_us", "zh-Hant", "iw", "123", "\x00"]),
    published,
    deadline=None,  # the first example loads the encoders
)
def test_compare_any_pair(
    comparer: Comparer, text_a: str, text_b: str, language: str | None, when: datetime | None
) -> None:
    """Any two articles (one with a declared language, any date): a score or CompareError."""
    a = Article("", text_a or ".", language=language, published=when, origin="a")
    b = Article("Title", text_b or ".", origin="b")
    try:
        score = comparer.compare(a, b)
    except CompareError as error:
        assert str(error)
        return
    assert isinstance(score, PairScore) and 1.0 <= score.overall <= 4.0


def test_weekday_at_the_edge_of_the_calendar() -> None:
    """Found by test_dates_and_numbers: "Sunday" in a text dated 1 January of year 1 overflowed."""
    (mention,) = find_dates("on Sunday", "en", datetime(1, 1, 1, tzinfo=UTC))
    assert mention.weekday == 6 and mention.year is None


DIGIT_SCRIPTS = {"latin": "0123456789", "arabic": "٠١٢٣٤٥٦٧٨٩", "persian": "۰۱۲۳۴۵۶۷۸۹"}


@examples(
    300,
    st.integers(min_value=2, max_value=10**12),
    st.sampled_from(["", ",", ".", " ", "٬"]),
    st.sampled_from(sorted(DIGIT_SCRIPTS)),
    st.sampled_from(["", "Les ", "قتل ", "погибли ", "共有"]),
)
def test_numbers_across_scripts(value: int, separator: str, script: str, before: str) -> None:
    """A whole number written with any thousands separator in any digit script is read as
    itself, wherever it stands in a sentence."""
    grouped = f"{value:,}".replace(",", separator) if separator else str(value)
    written = grouped.translate(str.maketrans("0123456789", DIGIT_SCRIPTS[script]))
    text = f"{before}{written} people."
    (number,) = find_numbers(text)
    assert number.value == value and number.text == written


@examples(
    15,
    st.lists(st.tuples(glued, st.sampled_from([None, *LANGUAGES, "\x00", "123"])), max_size=4),
    deadline=None,  # e5 loads on the first article USE does not cover
)
def test_analysis_batch_reports_each_bad_article(
    comparer: Comparer, items: list[tuple[str, str | None]]
) -> None:
    """A batch of any articles: one result per article, an analysis or a message saying why
    not, and never "analysis failed" (the safety net that marks a crash)."""
    articles = [
        Article("", text or ".", language=language, origin=f"batch#{n}")
        for n, (text, language) in enumerate(items, 1)
    ]
    results = analyse_chunk(articles, comparer)
    assert len(results) == len(articles)
    for article, result in zip(articles, results, strict=True):
        if isinstance(result, str):
            assert result.startswith(article.origin) and "analysis failed" not in result
