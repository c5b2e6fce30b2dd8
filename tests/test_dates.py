from datetime import UTC, datetime

import pytest

from storylink.dates import find_dates, find_numbers, shared_dates, shared_numbers

PUBLISHED = datetime(2020, 10, 10, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("en", "talks on October 10, 2020 in Moscow"),
        ("en", "from noon on 10 October"),
        ("ar", "في 10 أكتوبر 2020"),
        ("ar", "في ١٠ أكتوبر"),
        ("fa", "در ۱۰ اکتبر ۲۰۲۰"),
        ("ru", "10 октября 2020 года"),
        ("zh", "2020年10月10日"),
        ("ja", "10月10日に"),
        ("ko", "2020년 10월 10일"),
        ("de", "am 10. Oktober 2020"),
        ("es", "el 10 de octubre de 2020"),
        ("el", "στις 10 Οκτωβρίου 2020"),
        ("tr", "10 Ekim 2020 tarihinde"),
        ("he", "ב-10 באוקטובר 2020"),
    ],
)
def test_tenth_of_october_in_any_language(language: str, text: str) -> None:
    (mention,) = [m for m in find_dates(text, language, PUBLISHED) if m.day]
    assert (mention.year, mention.month, mention.day) == (2020, 10, 10)
    assert mention.label == "10 Oct 2020 (Saturday)"


def test_weekday_and_missing_year_resolved_against_publication() -> None:
    saturday, sept = find_dates("on Saturday; clashes broke out on September 27", "en", PUBLISHED)
    assert (saturday.year, saturday.month, saturday.day) == (2020, 10, 10)
    assert (sept.year, sept.month, sept.day) == (2020, 9, 27)
    (unresolved,) = find_dates("on Saturday", "en", None)
    assert unresolved.label == "Saturday" and unresolved.day is None


def test_shared_dates_across_scripts() -> None:
    english = find_dates("ceasefire from noon on October 10", "en", None)
    arabic = find_dates("وقف إطلاق النار في 10 أكتوبر", "ar", None)
    (shared,) = shared_dates(english, arabic)
    assert shared.label == "10 Oct" and shared.b == "10 أكتوبر"
    assert not shared_dates(english, find_dates("في 11 أكتوبر", "ar", None))
    weekdays = shared_dates(
        find_dates("on Saturday", "en", None), find_dates("اليوم السبت", "ar", None)
    )
    assert [d.label for d in weekdays] == ["Saturday"]


def test_invalid_dates_are_ignored() -> None:
    assert not [m for m in find_dates("on 31 February 2021", "en") if m.day]


def test_numbers_in_arabic_indic_and_persian_digits() -> None:
    western = find_numbers("7 dead, 212 injured, 1,800 jobs, EUR 4.2 billion at 03:12")
    arabic = find_numbers("٧ قتلى و٢١٢ جريحا و١٬٨٠٠ وظيفة و٤٫٢ مليار")
    persian = find_numbers("۲۱۲ زخمی")
    assert [n.value for n in western] == [7, 212, 1800, 4.2e9]  # 03:12 is a time, not numbers
    assert [n.value for n in arabic] == [7, 212, 1800, 4.2e9]
    assert [n.value for n in persian] == [212]
    shared = {s.label for s in shared_numbers(western, arabic)}
    assert shared == {"7", "212", "1800", "4.2 billion"}


def test_european_decimal_comma_and_thousands_dot() -> None:
    found = find_numbers("1.800 Arbeitsplätze und 4,2 Milliarden")
    assert [n.value for n in found] == [1800, 4.2e9]


@pytest.mark.parametrize(
    ("text", "value", "written"),
    [
        ("42億ユーロの基金", 4.2e9, "42億"),  # 億 is 10^8
        ("קרן של 4.2 מיליארד יורו", 4.2e9, "4.2 מיליארד"),
        ("4,2 миллиарда евро", 4.2e9, "4,2 миллиарда"),
        ("4 mil millones de euros", 4e9, "4 mil millones"),
        ("5 mil personas", 5000, "5 mil"),
        ("3 Billionen Euro", 3e12, "3 Billionen"),  # German Billion is 10^12
        ("20 mln zł", 2e7, "20 mln"),
        ("about 12 bins and 5 miles", 12, "12"),  # not "bin" (Turkish 1,000) or "mil"
    ],
)
def test_scale_words_multiply(text: str, value: float, written: str) -> None:
    first = find_numbers(text)[0]
    assert (first.value, first.text) == (value, written)


def test_years_inside_dates_are_not_numbers() -> None:
    text = "on 14 March 2026, 40 buildings"
    assert [n.value for n in find_numbers(text, find_dates(text, "en"))] == [40]


def test_declined_slavic_weekdays() -> None:
    labels = [m.label for m in find_dates("В пятницу и в среду, среди прочего", "ru")]
    assert labels == ["Friday", "Wednesday"]
    assert [m.label for m in find_dates("w sobotę", "pl")] == ["Saturday"]


def test_huge_texts_take_linear_time() -> None:
    import time

    text = "On 10 October 2020 the 212 delegates met; on Saturday, 1,800 more came. " * 8000
    started = time.perf_counter()
    dates = find_dates(text, "en", PUBLISHED)
    numbers = find_numbers(text, dates)
    assert len(dates) == 16000 and len(numbers) == 16000
    assert time.perf_counter() - started < 5  # the quadratic overlap check took minutes


def test_calendar_words_are_months_and_weekdays() -> None:
    from storylink.dates import is_calendar_word

    assert is_calendar_word("March", "en") and is_calendar_word("mar.", "fr")  # mardi
    assert not is_calendar_word("May", "en")  # a word too: only dates count it as a month
    assert is_calendar_word("دوشنبه", "fa") and is_calendar_word("Octobre", "fr")
    assert not is_calendar_word("Marseille", "fr") and not is_calendar_word("Cairo", "en")
