"""Repair mojibake: UTF-8 text that a scraper decoded with a legacy code page.

Two kinds are seen in scraped news. UTF-8 read as Latin-1/cp1252 ("bestÃ¤tigte") or as
cp1251 ("РџСЂРёРІРµС‚") is repaired by ftfy's encoding fixer alone (none of its other
normalisations, so clean text stays byte-identical). UTF-8 read as windows-1256 (Arabic
"ط§ظ„ظˆ") is outside ftfy's set: it is undone by a checked round trip, kept only when the bytes
decode as UTF-8 strictly and the result reads better (far fewer tell-tale characters).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, replace

from .article import Article

log = logging.getLogger(__name__)

# Code pages undone by a checked round trip before ftfy is asked: ftfy does not know cp1256,
# and on mixed mojibake it repairs only the parts it recognises ("â€“" in cp1256 mojibake).
ROUND_TRIP_CODECS = {"cp1256": "cp1256", "sloppy-windows-1251": "cp1251"}
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
WORD = re.compile(r"\S+")
MIN_TELL_TALES = 2  # one odd character is no evidence: clean text has the odd "™"


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
    """Characters that mark mojibake, within a word after a non-ASCII letter: a code-page
    symbol ("ط§ظ„"), a letter of another script ("deؤںil"), an upper-case letter right after a
    lower-case one ("РџСЂРёРІ"). Clean text has few: quotes and dashes stand between words."""
    count = 0
    for word in WORD.findall(text):
        previous = ""
        for char in word:
            category = unicodedata.category(char)
            if (char.isascii() and not char.isalpha()) or category == "Nd" or category[0] == "M":
                previous = ""
                continue
            if not char.isalpha():
                count += bool(previous) and bool(MOJIBAKE_SYMBOLS.match(char))
                previous = ""
                continue
            if previous and (
                _script(previous) != _script(char) or (previous.islower() and char.isupper())
            ):
                count += 1
            previous = char
    return count


def _round_trip(text: str, codec: str) -> str | None:
    """`text` re-encoded with `codec` and decoded as UTF-8, if both steps succeed strictly
    and the result has far fewer tell-tales; else None."""
    import ftfy.bad_codecs  # noqa: F401  registers the "sloppy-" code pages browsers use

    try:
        candidate = text.encode(codec).decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return None
    before = tell_tales(text)
    if candidate == text or before < MIN_TELL_TALES or tell_tales(candidate) * 4 > before:
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
    if fixed.text == text or not fixed.explanation:
        return Repaired(text)
    codecs = [FTFY_CODECS.get(name, name) for step, name in fixed.explanation if step == "encode"]
    return Repaired(fixed.text, "+".join(codecs) or "utf-8")


def repair(text: str) -> Repaired:
    """`text` with UTF-8 mojibake undone, and the code page it had been misread as."""
    if text.isascii():
        return Repaired(text)
    for codec, name in ROUND_TRIP_CODECS.items():
        candidate = _round_trip(text, codec)
        if candidate is not None:
            return Repaired(candidate, name)
    return _ftfy(text)


def repaired_article(article: Article) -> Article:
    """`article` with the mojibake of its title and text undone, `repaired` naming the code
    page(s) they had been misread as, and its id taken from the repaired content (so it
    matches its clean twin's); the article itself when both were clean."""
    title, text = repair(article.title), repair(article.text)
    kinds = sorted({kind for kind in (title.misread_as, text.misread_as) if kind})
    if not kinds:
        return article
    log.info("%s: repaired mojibake (%s)", article.origin, ", ".join(kinds))
    return replace(article, title=title.text, text=text.text, repaired=",".join(kinds), id="")
