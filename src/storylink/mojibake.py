"""Repair mojibake: UTF-8 text that a scraper decoded with a legacy code page.

A whole text misread as cp1252 ("bestÃ¤tigte"), cp1256 (Arabic "ط§ظ„ظˆ", outside ftfy's set)
or cp1251 ("РџСЂРёРІРµС‚") is undone by a checked round trip, kept only when its bytes decode as
UTF-8 strictly and the result reads better: far fewer tell-tale characters, none of a rare
script. What that leaves (Latin-1, runs of mojibake within clean text) goes to ftfy's encoding
fixer alone, none of its other normalisations, and its result must read better too. Clean
text in any script stays byte-identical.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, replace

from .article import Article

log = logging.getLogger(__name__)

# Code pages undone by a checked round trip before ftfy is asked: ftfy does not know cp1256,
# and on mixed mojibake it repairs only the parts it recognises ("â€“" in cp1256 mojibake);
# ftfy then repairs what no whole-text round trip does (Latin-1, a lost byte, runs).
# Text that is cp1252 and cp1256 mojibake alike ("â€“" of a dash) is named cp1252, the usual.
ROUND_TRIP_CODECS = {
    "sloppy-windows-1252": "cp1252",
    "cp1256": "cp1256",
    "sloppy-windows-1251": "cp1251",
}
# ftfy's names for the code pages it undoes → the name recorded on the article.
FTFY_CODECS = {
    "latin-1": "latin-1",
    "sloppy-windows-1252": "cp1252",
    "sloppy-windows-1251": "cp1251",
    "sloppy-windows-1250": "cp1250",
    "sloppy-windows-1253": "cp1253",
    "sloppy-windows-1254": "cp1254",
    "sloppy-windows-1257": "cp1257",
    "iso-8859-2": "iso-8859-2",
    "macroman": "macroman",
    "cp437": "cp437",
}
# Where the symbols of legacy code pages live: Latin-1's upper half, spacing modifiers
# ("ˆ"), general punctuation ("„", "‰") and letterlike symbols ("™", "№").
MOJIBAKE_SYMBOLS = re.compile(r"[\u0080-\u02ff\u2000-\u214f]")
# Scripts written without spaces mix within one "word" in clean text.
EAST_ASIAN = {"CJK", "HIRAGANA", "KATAKANA", "HANGUL", "IDEOGRAPHIC", "FULLWIDTH", "HALFWIDTH"}
RARE_SCRIPTS = {"NKO", "SYRIAC", "THAANA", "SAMARITAN", "MANDAIC", "COPTIC"}
WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Repaired:
    """A text after repair, and which code page it had been misread as (None: unchanged)."""

    text: str
    misread_as: str | None = None


def _script(char: str) -> str:
    """The script of a letter, by the first word of its Unicode name ("CYRILLIC", "ARABIC")."""
    script = unicodedata.name(char, "").split(" ", 1)[0]
    return "CJK" if script in EAST_ASIAN else script


def tell_tales(text: str) -> int:
    """Characters that mark mojibake, within a word after a letter: a code-page symbol
    ("ط§ظ„"), a letter of another script ("deؤںil"), an upper-case letter right after a
    non-ASCII lower-case one ("РџСЂРёРІ"). Clean text has few: its quotes and dashes stand
    between words."""
    count = 0
    for word in WORD.findall(text):
        previous = ""
        for char in word:
            category = unicodedata.category(char)
            if (char.isascii() and not char.isalpha()) or category == "Nd" or category[0] == "M":
                previous = ""
                continue
            if not char.isalpha():  # symbols after a letter ("ط§", "â€™"): the letter stays
                count += bool(previous) and bool(MOJIBAKE_SYMBOLS.match(char))
                continue
            if previous and (
                _script(previous) != _script(char)
                or (previous.islower() and char.isupper() and not previous.isascii())
            ):
                count += 1
            previous = char
    return count


def _implausible(char: str) -> bool:
    """Characters no news text is written in: controls, unassigned and private code points,
    and the rare scripts that short runs of letters decode to by chance ("ßŹ" → N'Ko "ߏ")."""
    category = unicodedata.category(char)
    if category in ("Cn", "Co", "Cs") or (category == "Cc" and char not in "\t\n\r"):
        return True
    return _script(char) in RARE_SCRIPTS


def reads_better(before: str, after: str, ratio: int, least: int) -> bool:
    """Whether `after` is a repair of `before`: `before` shows mojibake (at least `least`
    tell-tales), `after` has `ratio` times fewer and no implausible character `before` lacked."""
    tales = tell_tales(before)
    if tales < least or tell_tales(after) * ratio >= tales:
        return False
    had = set(before)
    return not any(_implausible(char) for char in set(after) - had)


def _round_trip(text: str, codec: str) -> str | None:
    """`text` re-encoded with `codec` and decoded as UTF-8, if both steps succeed strictly
    and the result has far fewer tell-tales; else None."""
    import ftfy.bad_codecs  # noqa: F401  registers the "sloppy-" code pages browsers use

    try:
        candidate = text.encode(codec).decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return None
    if candidate == text or not reads_better(text, candidate, ratio=4, least=2):
        return None
    return candidate


def _ftfy(text: str) -> Repaired:
    import ftfy

    config = ftfy.TextFixerConfig(
        unescape_html=False,
        remove_terminal_escapes=False,
        replace_lossy_sequences=False,
        fix_c1_controls=False,
        fix_latin_ligatures=False,
        fix_character_width=False,
        uncurl_quotes=False,
        fix_line_breaks=False,
        fix_surrogates=False,
        remove_control_chars=False,
        normalization=None,
    )
    fixed = ftfy.fix_encoding_and_explain(text, config)
    # ftfy's own heuristics judged this mojibake, so any drop in tell-tales confirms it; a
    # round trip has no other evidence and needs two, and four times fewer after
    if fixed.text == text or not reads_better(text, fixed.text, ratio=1, least=1):
        return Repaired(text)
    codecs = [
        FTFY_CODECS.get(name, name) for step, name in fixed.explanation or [] if step == "encode"
    ]
    # no encode step: ftfy decoded runs of UTF-8 read as a code page amid clean text
    return Repaired(fixed.text, "+".join(codecs) or "mixed")


def _round_trip_any(text: str) -> Repaired:
    """`text` undone by the first code page whose checked round trip accepts it."""
    for codec, name in ROUND_TRIP_CODECS.items():
        candidate = _round_trip(text, codec)
        if candidate is not None:
            return Repaired(candidate, name)
    return Repaired(text)


def repair(text: str) -> Repaired:
    """`text` with UTF-8 mojibake undone, and the code page(s) it had been misread as.

    A text whose whole round trip fails (a garbled paragraph beside a clean one, a character
    no code page holds) is tried line by line, each line checked as a whole text is, and
    what is left goes to ftfy."""
    if text.isascii():
        return Repaired(text)
    whole = _round_trip_any(text)
    if whole.misread_as:
        return whole
    # "\n" only: Latin-1 mojibake holds U+0085, which str.splitlines takes for a line end
    lines = [_round_trip_any(line) for line in text.split("\n")]
    rest = _ftfy("\n".join(line.text for line in lines))  # runs within lines, Latin-1
    kinds = {line.misread_as for line in [*lines, rest] if line.misread_as}
    return Repaired(rest.text, ",".join(sorted(kinds)) or None)


def repaired_article(article: Article) -> Article:
    """`article` with the mojibake of its title and text undone, `repaired` naming the code
    page(s) they had been misread as, and its id taken from the repaired content (so it
    matches its clean twin's); the article itself when both were clean."""
    title, text = repair(article.title), repair(article.text)
    sides = [side.misread_as for side in (title, text) if side.misread_as]
    kinds = sorted({kind for side in sides for kind in side.split(",")})
    if not kinds:
        return article
    log.info("%s: repaired mojibake (%s)", article.origin, ", ".join(kinds))
    return replace(article, title=title.text, text=text.text, repaired=",".join(kinds), id="")
