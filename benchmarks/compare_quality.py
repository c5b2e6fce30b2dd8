"""Quality and speed of `storylink compare` against a TF-IDF baseline and raw encoder cosines.

    .venv/bin/python benchmarks/compare_quality.py [PAIRS.jsonl]

Quality is Pearson with gold Overall (sign flipped so higher is better) on the labelled pairs.
The shipped rule was fitted on the dev pairs, so its figures are in-sample; the out-of-sample
figures refit the rule on the train folds only (grouped 5-fold CV, as fit_rule.py does).
Speed is measured on the unique articles of the pairs, with no embedding cache. Everything is
measured in one run; texts and vectors live in a temporary directory that is deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from statistics import mean

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from fit_rule import ENCODERS, encoder_features, out_of_fold
from storylink.article import Article
from storylink.compare import SAME_STORY_THRESHOLD, Comparer
from storylink.encode import EncoderSet, UseEncoder
from storylink.evaluate import LabelledPair, load_pairs, pearson
from storylink.language import detect_language, normalize_code, with_language
from storylink.read import read_file
from storylink.rule import SAME_STORY_MAX_OVERALL

DEFAULT_PAIRS = "../shared/data/semeval8/dev_pairs.jsonl"  # relative to the repository root
REPO = Path(__file__).resolve().parents[1]
TFIDF, COMPARE = "word TF-IDF cosine", "compare, shipped rule (in-sample)"
CV = "compare, rule refitted per train fold (CV)"
Mask = np.ndarray


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A markdown table, ready to paste into RESULTS.md."""
    print("| " + " | ".join(header) + " |")
    print("|---" + "|---:" * (len(header) - 1) + "|")
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")
    print()


def spread(values: Sequence[float]) -> str:
    return f"{mean(values):.3f} ({min(values):.3f}–{max(values):.3f})"


def unique_articles(pairs: Sequence[LabelledPair]) -> list[Article]:
    found: dict[str, Article] = {}
    for pair in pairs:
        for article in (pair.a, pair.b):
            found.setdefault(article.id, article)
    return list(found.values())


def tfidf_cosines(pairs: Sequence[LabelledPair]) -> np.ndarray:
    """Cosine of word TF-IDF vectors (rows are L2-normalised), fitted on all dev texts."""
    articles = unique_articles(pairs)
    row = {article.id: i for i, article in enumerate(articles)}
    matrix = TfidfVectorizer().fit_transform([a.full_text for a in articles])
    return np.array([matrix[row[p.a.id]].multiply(matrix[row[p.b.id]]).sum() for p in pairs])


def verdict(predicted: np.ndarray, gold: np.ndarray) -> list[float]:
    """Precision, recall and F1 of a boolean verdict."""
    hits = float((predicted & gold).sum())
    precision, recall = hits / max(1, predicted.sum()), hits / max(1, gold.sum())
    return [precision, recall, 2 * precision * recall / max(1e-12, precision + recall)]


def groups_of(pairs: Sequence[LabelledPair]) -> dict[str, Mask]:
    """All pairs, cross-lingual, same-language, then each language pair (cross-lingual first)."""
    cross = np.array([p.a.language != p.b.language for p in pairs])
    groups = {"all pairs": np.ones(len(pairs), dtype=bool), "cross-lingual": cross}
    groups["same-language"] = ~cross
    for name in sorted({p.language_pair for p in pairs}, key=lambda n: (len(set(n.split("-"))), n)):
        groups[name] = np.array([p.language_pair == name for p in pairs])
    return groups


def quality(pairs: list[LabelledPair], cache: Path, seeds: int) -> None:
    gold = np.array([p.scores["overall"] for p in pairs])
    similar = {TFIDF: tfidf_cosines(pairs)}  # every method as "higher = more alike"
    oof: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    for name in ENCODERS:
        rows, threshold = encoder_features(pairs, EncoderSet(cache, only=name), name)
        similar[f"{name} document cosine"] = np.array([r["document_cosine"] for r in rows])
        oof[name] = [out_of_fold(rows, gold, pairs, threshold, seed) for seed in range(seeds)]
    scores = [Comparer(encoders=EncoderSet(cache)).compare(p.a, p.b) for p in pairs]
    similar[COMPARE] = -np.array([s.overall for s in scores])
    # Out of sample: each pair is scored by the rule of the encoder compare() chose for it,
    # fitted on the folds that do not contain it
    chosen = [[oof[s.encoder][seed] for s in scores] for seed in range(seeds)]
    cv_overall = [np.array([o[0][i] for i, o in enumerate(c)]) for c in chosen]
    cv_same = [np.array([o[1][i] >= SAME_STORY_THRESHOLD for i, o in enumerate(c)]) for c in chosen]

    def r(values: np.ndarray, mask: Mask) -> float:
        return -pearson(values[mask], gold[mask])

    def cv(mask: Mask) -> list[float]:
        return [pearson(predicted[mask], gold[mask]) for predicted in cv_overall]

    groups = groups_of(pairs)
    top = list(groups)[:3]
    print(f"## Quality: Pearson with gold Overall on {len(pairs)} pairs (higher is better)\n")
    used = ", ".join(sorted({s.encoder for s in scores}))
    print(f"compare() used {used}. CV: grouped 5-fold x {seeds} seeds, mean (min–max).\n")
    rows = [[name, *(f"{r(v, groups[g]):.3f}" for g in top)] for name, v in similar.items()]
    table(
        ["method", *(f"{g} (n={groups[g].sum()})" for g in top)],
        [*rows, [CV, *(spread(cv(groups[g])) for g in top)]],
    )

    print("### Per language pair (Pearson; encoders: raw document cosine; small n, noisy)\n")
    header = ["pair", "n", "TF-IDF", *ENCODERS, "compare in-sample", "compare CV"]
    cells = [[f"{r(v, mask):.3f}" for v in similar.values()] for mask in groups.values()]
    table(
        header,
        [
            [g, mask.sum(), *cell, f"{mean(cv(mask)):.3f}"]
            for (g, mask), cell in list(zip(groups.items(), cells, strict=True))[3:]
        ],
    )

    same = gold <= SAME_STORY_MAX_OVERALL
    print(
        f"### Same-story verdict vs gold Overall ≤ {SAME_STORY_MAX_OVERALL:g} "
        f"({same.sum()} of {len(pairs)} pairs are same-story)\n"
    )
    in_sample = verdict(np.array([s.same_story for s in scores]), same)
    out = np.mean([verdict(v, same) for v in cv_same], axis=0)
    table(
        ["verdict", "precision", "recall", "F1"],
        [
            ["compare().same_story, shipped rule (in-sample)", *(f"{x:.3f}" for x in in_sample)],
            ["rule refitted per train fold (CV, mean over seeds)", *(f"{x:.3f}" for x in out)],
        ],
    )
    everything = groups["all pairs"]
    base = r(similar[TFIDF], everything)
    ratio_in, ratio_cv = r(similar[COMPARE], everything) / base, mean(cv(everything)) / base
    print(f"compare Pearson / TF-IDF Pearson: {ratio_in:.2f}x in-sample, {ratio_cv:.2f}x CV\n")


@contextmanager
def timed(label: str, into: list[tuple[str, float]]) -> Iterator[None]:
    """Append (label, seconds) of the block to `into`."""
    start = time.perf_counter()
    yield
    into.append((label, time.perf_counter() - start))


def record(article: Article) -> dict[str, str | None]:
    """A JSONL row without the language, so that language id has work to do."""
    date = article.published.isoformat() if article.published else None  # ISO: no dateparser
    return {"title": article.title, "text": article.text, "url": article.url, "date": date}


def speed(pairs: list[LabelledPair]) -> None:
    articles = unique_articles(pairs)
    n = len(articles)
    stages: list[tuple[str, float]] = []
    loads: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "articles.jsonl"
        path.write_text("".join(json.dumps(record(a)) + "\n" for a in articles), "utf-8")
        with timed("read_file (JSONL)", stages):
            read = read_file(path).articles
    assert len(read) == n, "every article should read back"

    with timed("language id model", loads):
        detect_language("warm-up: load the language id model")
    with timed("language id (with_language)", stages):
        identified = [with_language(a) for a in read]
    agree = sum(
        normalize_code(a.language or "") == b.language
        for a, b in zip(articles, identified, strict=True)
    )

    with timed(f"{UseEncoder.name} model", loads):
        encoders = EncoderSet(cache_path=None, only=UseEncoder.name)
        encoder = encoders.choose([])
        encoder.encode(["warm-up: load the encoder"])
    with timed(f"encode ({encoder.name}, no cache)", stages):
        vectors = [encoders.vectors(a, encoder) for a in identified]
    seconds = stages[-1][1]
    texts = sum(len(v.sentences) + 1 + (v.title_vector is not None) for v in vectors)

    print(f"## Speed on {n} unique articles ({os.cpu_count()} cores)\n")
    print(
        f"Language id agrees with the dataset's language on {agree} of {n} articles; "
        f"encoding ran {texts} texts (sentences, titles, whole texts): {texts / seconds:.0f}/s\n"
    )
    total = sum(s for _, s in stages)
    loaded = total + sum(s for _, s in loads)
    table(
        ["stage", "seconds", "articles/s"],
        [
            *([name, f"{s:.2f}", f"{n / s:.0f}"] for name, s in stages),
            ["**end-to-end, models loaded**", f"{total:.2f}", f"**{n / total:.1f}**"],
            [
                "end-to-end incl. loading " + " + ".join(f"{k} {s:.1f} s" for k, s in loads),
                f"{loaded:.2f}",
                f"{n / loaded:.1f}",
            ],
        ],
    )

    comparer = Comparer(encoders=encoders)  # the loaded model, no embedding cache
    passes: list[tuple[str, float]] = []
    for label in ("uncached: fresh Comparer, no embedding cache", "cached: second pass"):
        with timed(label, passes):
            for pair in pairs:
                comparer.compare(pair.a, pair.b)
    rows = [[label, f"{s:.2f}", f"{len(pairs) / s:.1f}"] for label, s in passes]
    table([f"Comparer.compare, {len(pairs)} pairs", "seconds", "pairs/s"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "pairs",
        nargs="?",
        type=Path,
        help=f"labelled pairs JSONL (default: {DEFAULT_PAIRS} from the repo root)",
    )
    parser.add_argument("--seeds", type=int, default=3, help="cross-validation seeds (default: 3)")
    args = parser.parse_args()
    path: Path = args.pairs or (REPO / DEFAULT_PAIRS).resolve()
    if not path.is_file():
        sys.exit(f"compare_quality: no labelled pairs at {path}; pass the path to dev_pairs.jsonl")
    pairs = load_pairs(path)
    git = ["git", "-C", str(REPO), "describe", "--always", "--dirty"]
    commit = subprocess.run(git, capture_output=True, text=True).stdout.strip() or "unknown"
    python = f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores"
    print(f"# {path.name}: {len(pairs)} pairs; {datetime.now():%Y-%m-%d %H:%M}; commit {commit}")
    print(f"# {python}\n")
    with tempfile.TemporaryDirectory() as tmp:
        quality(pairs, Path(tmp) / "embeddings.sqlite", args.seeds)
    speed(pairs)


if __name__ == "__main__":
    main()
