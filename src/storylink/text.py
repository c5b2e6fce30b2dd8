"""Script-aware text helpers shared by the stages: digits, folding, sentences, tokens."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import overload

# Arabic-Indic, Extended Arabic-Indic (Persian/Urdu), Devanagari and fullwidth digits → ASCII;
# the Arabic decimal and thousands separators → "." and ",".
_DIGIT_BLOCKS = (0x0660, 0x06F0, 0x0966, 0xFF10)
DIGITS = str.maketrans(
    {chr(start + i): str(i) for start in _DIGIT_BLOCKS for i in range(10)} | {"٫": ".", "٬": ","}
)
_ARABIC_MARKS = re.compile(r"[\u0610-\u061a\u064b-\u065f\u0670\u0640\u06d6-\u06ed]")
_HEBREW_MARKS = re.compile(r"[\u0591-\u05c7]")
_ARABIC_LETTERS = str.maketrans(
    {"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ة": "ه", "ى": "ي", "ی": "ي", "ک": "ك", "ۀ": "ه"}
)
TOKEN = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*", re.UNICODE)
# kana, han, Thai (no spaces between words) and Hangul (spaces, but particles glued to nouns)
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\u0e00-\u0e7f]")
# Languages whose script marks proper nouns with capitals.
CASED_SCRIPTS = re.compile(r"[A-Za-zÀ-ɏͰ-ϿЀ-ӿԱ-֏]")


def normalize_digits(text: str) -> str:
    return text.translate(DIGITS)


def fold(text: str) -> str:
    """Comparison key: NFKC, casefolded, Arabic/Hebrew marks removed, letter variants unified."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _HEBREW_MARKS.sub("", _ARABIC_MARKS.sub("", text))
    return " ".join(text.translate(_ARABIC_LETTERS).split())


def is_unspaced(text: str) -> bool:
    """True for scripts whose words are found by character n-grams, not between spaces:
    Chinese, Japanese and Thai, and Korean, whose particles stick to the names ("도쿄에서")."""
    sample = text[:500]
    return len(_UNSPACED.findall(sample)) > len(sample) * 0.3


def tokens(text: str) -> list[str]:
    """Words, keeping inner hyphens and apostrophes ("Nagorno-Karabakh", "Sputnik’s")."""
    return TOKEN.findall(text)


def sentences(text: str, max_sentences: int = 200) -> list[str]:
    """Sentences of a text: paragraphs first, then blingfire's multilingual splitter."""
    import blingfire

    found: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = " ".join(paragraph.split())
        if not paragraph:
            continue
        for sentence in blingfire.text_to_sentences(paragraph).split("\n"):
            if len(TOKEN.findall(sentence)) >= 3 or (is_unspaced(sentence) and len(sentence) >= 6):
                found.append(sentence.strip())
        if len(found) >= max_sentences:
            break
    return found[:max_sentences]


def encoded_sentences(text: str) -> list[str]:
    """The units an article's sentence vectors are of: its sentences, or the whole text when
    it has none (the encoder writes them, a stored article's loader reads them back)."""
    return sentences(text) or [text.strip()]


class SentencesOf(Sequence[str]):
    """`encoded_sentences(text)`, split when first read: a stored article loaded only to score
    a pair needs its sentence vectors, not their texts."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._found: list[str] | None = None

    def _split(self) -> list[str]:
        if self._found is None:
            self._found = encoded_sentences(self._text)
        return self._found

    def __len__(self) -> int:
        return len(self._split())

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> list[str]: ...
    def __getitem__(self, index: int | slice) -> str | list[str]:
        return self._split()[index]
