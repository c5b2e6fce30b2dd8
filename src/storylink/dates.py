"""Dates and numbers mentioned in a text, comparable across languages and scripts.

Month and weekday names for every language come from babel's CLDR data, so "10 October",
"10 أكتوبر", "10 октября" and "10月10日" all become month 10, day 10. Dates without a year and
weekdays ("on Saturday", "السبت") are resolved against the publication date when it is known.
Digits in Arabic-Indic and Persian script are read as numbers like any others.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from .text import fold, normalize_digits

_EXTRA_LOCALES = {"ar": ("ar_SY", "ar_MA")}  # Levantine and Maghreb month names
_B = r"(?<![^\W\d_])"  # no letter before
_E = r"(?![^\W\d_])"  # no letter after
_FEMININE_ENDINGS = ("у", "ы", "е", "ę", "y", "e")
_DECLINED_WEEKDAYS = {"ru", "uk", "be", "bg", "pl", "cs", "sk", "sl", "hr", "sr", "bs"}
_MONTH_ABBREVIATIONS = {"may", "mar", "ma", "mai"}  # collide with words; only full forms count


@dataclass(frozen=True)
class DateMention:
    """A date as written; unknown parts are None. `weekday` is 0 = Monday … 6 = Sunday."""

    text: str
    start: int
    end: int
    year: int | None = None
    month: int | None = None
    day: int | None = None
    weekday: int | None = None

    @property
    def label(self) -> str:
        from calendar import day_name, month_abbr

        if self.month and self.day:
            core = f"{self.day} {month_abbr[self.month]}"
            core = f"{core} {self.year}" if self.year else core
            return f"{core} ({day_name[self.weekday]})" if self.weekday is not None else core
        if self.weekday is not None:
            return day_name[self.weekday]
        if self.month:
            return f"{month_abbr[self.month]} {self.year}" if self.year else month_abbr[self.month]
        return str(self.year)


@dataclass(frozen=True)
class NumberMention:
    text: str
    start: int
    end: int
    value: float

    @property
    def label(self) -> str:
        for power, word in ((12, "trillion"), (9, "billion"), (6, "million")):
            if self.value >= 10**power and self.value < 1e15:
                return f"{self.value / 10**power:g} {word}"
        return f"{self.value:g}" if self.value < 1e15 else self.text


@dataclass(frozen=True)
class SharedValue:
    """A date or number both articles mention, with how each wrote it."""

    kind: str  # date | number
    label: str
    a: str
    b: str


def is_calendar_word(phrase: str, language: str) -> bool:
    """True for a month or weekday name of the language ("March", "دوشنبه" Monday), which
    must not be read as a place (March, Cambridgeshire; Dushanbe)."""
    return fold(phrase).rstrip(".") in _calendar_keys(language)


@lru_cache(maxsize=64)
def _calendar_keys(language: str) -> frozenset[str]:
    months, weekdays = _calendar_words(language)
    return frozenset(months) | frozenset(weekdays)


@lru_cache(maxsize=64)  # babel's tables are slow to read; callers must not change the dicts
def _calendar_words(language: str) -> tuple[dict[str, int], dict[str, int]]:
    """Month and weekday names (as written and folded) → month number and weekday."""
    from babel import Locale, UnknownLocaleError

    months: dict[str, int] = {}
    weekdays: dict[str, int] = {}
    for name in (language, *_EXTRA_LOCALES.get(language, ())):
        try:
            locale = Locale.parse(name)
        except (UnknownLocaleError, ValueError):
            continue
        for width in ("wide", "abbreviated"):
            for number, word in locale.months["format"][width].items():
                key = fold(word).rstrip(".")
                if len(key) >= 3 and not key[0].isdigit() and key not in _MONTH_ABBREVIATIONS:
                    months.setdefault(key, number)
                    months.setdefault(word.lower().rstrip("."), number)
            for number, word in locale.days["format"][width].items():
                key = fold(word).rstrip(".")
                if len(key) >= 3:
                    weekdays.setdefault(key, number)
                    weekdays.setdefault(word.lower().rstrip("."), number)
                if language in _DECLINED_WEEKDAYS and key[-1:] in ("а", "a"):
                    # "в пятницу", "до пятницы", "w sobotę": the feminine weekdays decline
                    for ending in _FEMININE_ENDINGS:
                        weekdays.setdefault(key[:-1] + ending, number)
    return months, weekdays


@lru_cache(maxsize=64)
def _any_months(language: str) -> dict[str, int]:
    """Month names of the language, then English ones, which agency copy mixes in."""
    return _calendar_words(language)[0] | _calendar_words("en")[0]


def _alternation(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


@lru_cache(maxsize=64)
def _patterns(language: str) -> list[tuple[re.Pattern[str], str]]:
    months, weekdays = _calendar_words(language)
    # the English month names are understood everywhere: agency copy mixes them in
    english_months, _ = _calendar_words("en")
    # Hebrew and Arabic attach "in"/"and" to the month: "באוקטובر", "وأكتوبر"
    clitic = "(?:[\u05d1\u05dc\u05d5\u0648\u0628\u0644]-?)?"
    month = f"{clitic}(?P<month>{_alternation(set(months) | set(english_months))})"
    day = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th|er|º|\.)?"
    year = r"(?P<year>(?:1[89]|20)\d\d)"
    patterns = [
        (
            r"(?:(?P<year>\d{4})\s*[年년]\s*)?(?P<month>1[0-2]|0?[1-9])\s*[月월]\s*"
            r"(?P<day>[0-3]?\d)\s*[日일]",
            "numeric",
        ),
        (rf"{_B}(?P<year>\d{{4}})-(?P<month>[01]\d)-(?P<day>[0-3]\d)(?!\d)", "numeric"),
        (rf"(?<![\d.])(?P<day>[0-3]?\d)[./](?P<month>[01]?\d)[./]{year}(?!\d)", "numeric"),
        (rf"{_B}{day}\s+(?:de\s+|of\s+)?{month}{_E}(?:,?\s+(?:de\s+)?{year})?", "named"),
        (rf"{_B}{month}\s+{day}(?!\d)(?:,?\s+{year})?", "named"),
        (rf"{_B}{month}\s+(?:de\s+)?{year}", "named"),
    ]
    if weekdays:
        patterns.append((rf"{_B}(?P<weekday>{_alternation(weekdays)}){_E}", "weekday"))
    patterns.append((r"(?<![\d.,])(?P<year>(?:19|20)\d\d)(?![\d.,]\d)", "year"))
    return [(re.compile(p, re.IGNORECASE), kind) for p, kind in patterns]


def _resolve(mention: DateMention, published: datetime | None) -> DateMention:
    """Fill in the year of "10 October" and the date of "Saturday" from the publication date."""
    if published is None:
        return mention
    base = published.date()
    if mention.month and mention.day and mention.year is None:
        candidates = []
        for year in (base.year - 1, base.year, base.year + 1):
            try:
                candidates.append(date(year, mention.month, mention.day))
            except ValueError:
                continue
        if candidates:
            best = min(candidates, key=lambda d: abs((d - base).days))
            return DateMention(
                mention.text,
                mention.start,
                mention.end,
                best.year,
                best.month,
                best.day,
                best.weekday(),
            )
    if mention.weekday is not None and mention.month is None:
        try:
            resolved = base - timedelta(days=(base.weekday() - mention.weekday) % 7)
        except OverflowError:  # "Saturday" in a text dated 1 January of year 1
            return mention
        return DateMention(
            mention.text,
            mention.start,
            mention.end,
            resolved.year,
            resolved.month,
            resolved.day,
            mention.weekday,
        )
    return mention


def find_dates(text: str, language: str, published: datetime | None = None) -> list[DateMention]:
    """Dates mentioned in a text, most specific first where spans overlap."""
    digits = normalize_digits(text)  # same length as text, so spans stay valid
    months, weekdays = _any_months(language), _calendar_words(language)[1]
    taken = bytearray(len(digits))  # 1 where a date was found: linear, even for huge texts
    found: list[DateMention] = []
    for pattern, kind in _patterns(language):
        for match in pattern.finditer(digits):
            start, end = match.span()
            if any(taken[start:end]):
                continue
            groups = match.groupdict()
            try:
                mention = _mention_from(groups, kind, months, weekdays, text, start, end)
            except ValueError:
                continue
            taken[start:end] = b"\x01" * (end - start)
            found.append(_resolve(mention, published))
    return sorted(found, key=lambda m: m.start)


def _mention_from(
    groups: dict[str, str | None],
    kind: str,
    months: dict[str, int],
    weekdays: dict[str, int],
    text: str,
    start: int,
    end: int,
) -> DateMention:
    raw = text[start:end]
    if kind == "weekday":
        return DateMention(raw, start, end, weekday=weekdays[fold(groups["weekday"] or "")])
    year_text, month_text, day_text = groups.get("year"), groups.get("month"), groups.get("day")
    year = int(year_text) if year_text else None
    month = None
    if month_text:
        month = int(month_text) if month_text.isdigit() else months[fold(month_text).rstrip(".")]
    day = int(day_text) if day_text else None
    if month is not None and not 1 <= month <= 12:
        raise ValueError(raw)
    if day is not None:
        date(year or 2000, month or 1, day)  # raises ValueError for 31 February and such
    weekday = date(year, month, day).weekday() if year and month and day else None
    return DateMention(raw, start, end, year, month, day, weekday)


# Latin letters or digits before a number make it a code ("F16"); Arabic "و٢١٢" (and 212) is fine.
_NUMBER = re.compile(
    r"(?<![\dA-Za-z.,])\d{1,3}(?:[,.\s]\d{3})+(?:[.,]\d+)?(?!\d)|(?<![\dA-Za-z.,])\d+(?:[.,]\d+)?"
)
# Scale words after a number, by the power of ten they stand for. Stems of four or more
# letters take any ending ("миллиарда", "milioni", "Milliarden"); shorter ones ("mil", "bn",
# "тыс") must stand alone; CJK ones stand right after the digits ("42億").
_SCALES = {
    3: "thousand tausend mille mil tysi tys тысяч тыс χιλιάδ ألف آلاف الف אלף אלפי هزار bin 千 천",
    4: "万 萬 만",
    6: "million millón millones milion milhão milhões mln mio миллион млн εκατομμύρι مليون ملايين "
    "מיליון milyon میلیون 百万",
    8: "億 亿 억",
    9: "billion bn milliard mrd miliard bilhão bilhões миллиард млрд δισεκατομμύρι مليار مليارات "
    "מיליארד milyar میلیارد",
    12: "trillion bilion трлн триллион تريليون טריליון trilyon 兆 조",
}
_SCALE_POWER = {word: power for power, words in _SCALES.items() for word in words.split()}
_SCALE_POWER["mil millones"] = 9  # Spanish for 10^9
_SCALE_STEMS = sorted(_SCALE_POWER, key=len, reverse=True)
_UNSPACED_SCALES = {w for w in _SCALE_POWER if len(w) == 1}
_SCALE = re.compile(
    r"[ \u00a0]?("
    + "|".join(
        re.escape(w) + ("" if w in _UNSPACED_SCALES else r"[^\W\d_]*" if len(w) >= 4 else r"\b")
        for w in _SCALE_STEMS
    )
    + ")",
    re.IGNORECASE,
)


_STEM_PATTERNS = [(re.compile(re.escape(w), re.IGNORECASE), _SCALE_POWER[w]) for w in _SCALE_STEMS]


def _scale_power(word: str) -> int:
    """10^power of a matched scale word (matched as the regex did: "MİLYON" is "milyon");
    German "Billion" (capitalised) is 10^12."""
    if word.startswith("Billion"):
        return 12
    return next(power for pattern, power in _STEM_PATTERNS if pattern.match(word))


_CLOCK_TIME = re.compile(r"(?<!\d)[0-2]?\d\s?[:h]\s?[0-5]\d(?!\d)")


def find_numbers(text: str, dates: Iterable[DateMention] = ()) -> list[NumberMention]:
    """Numbers in any digit script, not counting those inside dates; 0 and 1 are skipped."""
    normal = normalize_digits(text)
    taken = bytearray(len(normal))  # 1 inside dates and clock times
    for start, end in [(d.start, d.end) for d in dates] + [
        m.span() for m in _CLOCK_TIME.finditer(normal)
    ]:
        taken[start:end] = b"\x01" * (end - start)
    found: list[NumberMention] = []
    for match in _NUMBER.finditer(normal):
        start, end = match.span()
        if all(taken[start:end]):
            continue
        raw = match.group()
        value = _number_value(raw)
        scale = _SCALE.match(normal, end)
        if value is not None and scale:
            value = float(f"{value * 10.0 ** _scale_power(scale.group(1)):.9g}")  # 4.2e9 == 42e8
            end = scale.end()
        if value is not None and value > 1:
            found.append(NumberMention(text[start:end], start, end, value))
    return found


def _number_value(raw: str) -> float | None:
    """ "1,800" and "1.800" and "1 800" are eighteen hundred; "4,2" and "4.2" are 4.2."""
    if re.fullmatch(r"\d{1,3}(?:([,.\s])\d{3})(?:\1\d{3})*", raw):
        return float(re.sub(r"[,.\s]", "", raw))
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+\.\d+", raw):
        return float(raw.replace(",", ""))
    if re.fullmatch(r"\d{1,3}(?:\.\d{3})+,\d+", raw):
        return float(raw.replace(".", "").replace(",", "."))
    try:
        return float(raw.replace(",", "."))
    except ValueError:
        return None


def _dates_agree(a: DateMention, b: DateMention) -> bool:
    """Same date at the finest level both give, with nothing contradicting."""
    for part in ("year", "month", "day", "weekday"):
        x, y = getattr(a, part), getattr(b, part)
        if x is not None and y is not None and x != y:
            return False
    if a.month and a.day and b.month and b.day:
        return True
    if a.weekday is not None and b.weekday is not None:
        return True
    if a.day is None and b.day is None and a.weekday is None and b.weekday is None:
        return a.year is not None and b.year is not None and (a.month is None) == (b.month is None)
    return False


def shared_dates(a: list[DateMention], b: list[DateMention]) -> list[SharedValue]:
    shared: dict[str, SharedValue] = {}
    for x in a:
        for y in b:
            if _dates_agree(x, y):
                finer = x if len(x.label) >= len(y.label) else y
                shared.setdefault(finer.label, SharedValue("date", finer.label, x.text, y.text))
    return list(shared.values())


def shared_numbers(a: list[NumberMention], b: list[NumberMention]) -> list[SharedValue]:
    by_value = {n.value: n for n in b}
    shared: dict[float, SharedValue] = {}
    for x in a:
        if x.value in by_value and x.value not in shared:
            shared[x.value] = SharedValue("number", x.label, x.text, by_value[x.value].text)
    return list(shared.values())
