"""Ingest throughput and memory from 2k to 20k articles, end to end from JSONL.

    .venv/bin/python benchmarks/ingest_scale.py ../shared/data/semeval8/dev_pairs.jsonl

The stream: the project's example articles plus the dev pairs' articles, repeated. Each
repetition shifts every date 120 days earlier (past the default story window, so each repetition is
a fresh period of news; earlier, not later: dates after the ingest are doubtful and clustered
as undated) and tags the title with the repetition, so every copy is a new article (ids are
content hashes). Each size runs `storylink ingest` in a fresh process on a fresh store,
so its peak memory is its own. The baseline, measured in the same run: the encoder alone on the
same number of articles (the part of the pipeline no clustering or storage can avoid).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from storylink.demo import examples_path
from storylink.encode import EncoderSet
from storylink.evaluate import load_pairs
from storylink.read import read_file
from storylink.stories import pair_articles

SHIFT = timedelta(days=120)
BASE = datetime(2020, 1, 1, tzinfo=UTC)


def stream(pairs_path: Path, size: int, examples: bool = True) -> list[dict[str, str]]:
    """`size` article records: examples and dev articles, repeated with shifted dates."""
    articles = read_file(examples_path()).articles if examples else []
    articles += pair_articles(load_pairs(pairs_path))
    records: list[dict[str, str]] = []
    repetition = 0
    while len(records) < size:
        for article in articles[: size - len(records)]:
            published = (article.published or BASE) - repetition * SHIFT
            records.append(
                {
                    "title": f"{article.title} [{repetition}]" if repetition else article.title,
                    "text": article.text,
                    "lang": article.language or "",
                    "date": published.isoformat(),
                    "source": article.source or "",
                }
            )
        repetition += 1
    return records


def encode_only(records: list[dict[str, str]]) -> float:
    """Articles/s of the encoder alone (whole text, sentences, title: what ingest encodes)."""
    from storylink.article import Article

    encoders = EncoderSet(None)
    encoder = encoders.encoder("use-m3")
    encoder.encode(["warm up"])
    started = time.perf_counter()
    for record in records:
        encoders.vectors(Article(record["title"], record["text"]), encoder)
    return len(records) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("pairs", type=Path)
    parser.add_argument("--sizes", default="2000,5000,10000,20000")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--no-examples",
        action="store_true",
        help="dev articles only: all in USE languages (the examples add Greek, Hebrew and "
        "Persian, which only the ~17x slower e5 encoder reads)",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    baseline = encode_only(stream(args.pairs, 300))
    print(f"baseline: encoder alone {baseline:.1f} articles/s (300 articles)")
    print(
        f"{'articles':>8} {'seconds':>8} {'articles/s':>10} {'vs encoder':>10} "
        f"{'peak RSS MB':>11} {'stories':>7} {'db MB':>6}"
    )
    first: tuple[float, float] | None = None
    for size in sizes:
        with tempfile.TemporaryDirectory() as scratch:
            source = Path(scratch) / "stream.jsonl"
            with source.open("w", encoding="utf-8") as out:
                for record in stream(args.pairs, size, not args.no_examples):
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")
            db = Path(scratch) / "scale.db"
            command = [
                sys.executable, "-m", "storylink", "ingest", str(source), "--db", str(db),
                "--workers", str(args.workers), "--json",
            ]  # fmt: skip
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            started = time.perf_counter()
            run = subprocess.run(command, capture_output=True, text=True, check=False)
            seconds = time.perf_counter() - started
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            if run.returncode not in (0, 1):
                sys.exit(f"ingest failed: {run.stderr[-2000:]}")
            report = json.loads(run.stdout)
            peak_mb = max(peak, before) / 1024
            rate = report["added"] / seconds
            first = first or (rate, peak_mb)
            print(
                f"{size:>8} {seconds:>8.0f} {rate:>10.1f} {rate / baseline:>9.2f}x "
                f"{peak_mb:>11.0f} {report['new_stories']:>7} {db.stat().st_size / 2**20:>6.0f}"
                f"   (rate {rate / first[0]:.2f}x, memory {peak_mb / first[1]:.2f}x of the first)"
            )


if __name__ == "__main__":
    main()
