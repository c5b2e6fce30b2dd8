from pathlib import Path

import numpy as np
import pytest

from storylink.article import Article
from storylink.encode import (
    CachedEncoder,
    EmbeddingCache,
    Encoder,
    EncoderSet,
    UnsupportedLanguageError,
    UseEncoder,
)


@pytest.fixture(scope="module")
def use() -> UseEncoder:
    return UseEncoder()


def test_vectors_are_normalised_and_cross_lingual(use: UseEncoder) -> None:
    vectors = use.encode(
        [
            "The president spoke with his Russian counterpart by phone.",
            "تحدث الرئيس مع نظيره الروسي عبر الهاتف.",
            "Heavy rain flooded the football stadium.",
        ]
    )
    assert isinstance(use, Encoder)
    assert vectors.shape == (3, 512) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2
    assert use.encode([]).shape == (0, 512)


def test_cache_stores_each_text_once(use: UseEncoder, tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "e.sqlite")
    cached = CachedEncoder(use, cache)
    first = cached.encode(["one sentence here", "another sentence", "one sentence here"])
    rows = cache._db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
    assert rows == 2
    assert np.allclose(first[0], first[2])
    again = CachedEncoder(use, EmbeddingCache(tmp_path / "e.sqlite")).encode(["another sentence"])
    assert np.array_equal(again[0], first[1])


def test_encoder_choice_by_language() -> None:
    encoders = EncoderSet()
    assert encoders.choose(["en", "ar"]).name == "use-m3"
    assert encoders.choose(["en", "fa"]).name == "e5-small"  # USE does not know Persian
    with pytest.raises(UnsupportedLanguageError, match="'bo'"):
        encoders.choose(["en", "bo"])
    with pytest.raises(ValueError, match="unknown encoder"):
        EncoderSet(only="bert")


def test_long_article_is_covered_whole() -> None:
    encoders = EncoderSet()
    body = "\n\n".join(
        f"Paragraph {i} tells about harbour number {i} and its cranes." for i in range(300)
    )
    vectors = encoders.vectors(Article("Ports", body), encoders.choose(["en"]))
    assert len(vectors.sentences) == 200  # every sentence up to the cap, not the first 512 tokens
    assert vectors.sentence_vectors.shape == (200, 512)
    assert vectors.title_vector is not None and vectors.document_vector.shape == (512,)
