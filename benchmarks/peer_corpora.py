"""Read other projects' test material file by file and count what happens.

    .venv/bin/python benchmarks/peer_corpora.py [DIR ...]   (default: ../shared/data/peer/*)

For each corpus (feedparser's 2,106 test feeds, trafilatura's 110 cached web pages): files,
articles read, inputs and rows skipped by reason, tracebacks (any exception other than
storylink's `ReadError`, counted per file so that one does not hide the next), third-party log
records that a default run would have printed, and the time taken.
"""

from __future__ import annotations

import argparse
import logging
import re
import time
import traceback
from collections import Counter
from pathlib import Path

from storylink.language import with_language
from storylink.read import ReadError, expand, read_source

PEER = Path(__file__).resolve().parents[2] / "shared" / "data" / "peer"


class Tally(logging.Handler):
    """Counts log records of other libraries (what the terminal showed before issue 16)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith("storylink"):
            self.records[f"{record.name}: {record.getMessage()}"] += 1


def reason(error: ReadError) -> str:
    """The kind of a skip: its message without the input's name and details in brackets."""
    text = str(error).split(": ", 1)[-1]
    return re.sub(r"\s*\(.*", "", text)


def run(directory: Path) -> None:
    tally = Tally()
    logging.getLogger().addHandler(tally)
    files = expand(directory)
    reasons: Counter[str] = Counter()
    languages: Counter[str] = Counter()
    crashes: list[str] = []
    read = 0
    start = time.perf_counter()
    for name in files:
        try:
            report = read_source(name)
        except ReadError as error:
            reasons[reason(error)] += 1
            continue
        except Exception:  # what this benchmark exists to find
            crashes.append(f"{name}\n{traceback.format_exc()}")
            continue
        read += len(report.articles)
        reasons.update(reason(error) for error in report.errors)
        languages.update(with_language(a).language or "und" for a in report.articles)
    seconds = time.perf_counter() - start
    logging.getLogger().removeHandler(tally)
    print(f"## {directory.name}: {len(files)} files in {seconds:.1f} s")
    print(f"articles read: {read}; skipped: {sum(reasons.values())}; tracebacks: {len(crashes)}")
    for text, count in reasons.most_common():
        print(f"  skipped {count:5d}  {text}")
    print(f"languages: {', '.join(f'{k} {v}' for k, v in languages.most_common(12))}")
    print(f"third-party log records at WARNING or above: {sum(tally.records.values())}")
    for text, count in tally.records.most_common(5):
        print(f"  {count:5d}  {text[:100]}")
    for crash in crashes[:5]:
        print(crash)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directories", nargs="*", type=Path)
    args = parser.parse_args()
    logging.getLogger().setLevel(logging.WARNING)  # counted by Tally, not printed
    for directory in args.directories or sorted(p for p in PEER.iterdir() if p.is_dir()):
        run(directory)


if __name__ == "__main__":
    main()
