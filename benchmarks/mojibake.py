"""How many titles and texts of the real pairs the mojibake repair changes, and of which kind.

    PYTHONPATH=src .venv/bin/python benchmarks/mojibake.py [--pairs ../shared/data/semeval8]
        [--show]

Every distinct title and text of dev_pairs.jsonl and more_pairs.jsonl goes through
`mojibake.repair`, as the readers do; the counts are per file, field and code page the text had
been misread as. `--show` prints each repaired text's first characters before and after, for a
spot-check that no repair is wrong (the texts themselves are never written to the repository).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

from storylink.mojibake import repair, tell_tales

FILES = ("dev_pairs.jsonl", "more_pairs.jsonl")
FIELDS = ("title", "text")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=Path, default=Path("../shared/data/semeval8"))
    parser.add_argument("--show", action="store_true", help="print each repair, before/after")
    args = parser.parse_args()
    for name in FILES:
        path = args.pairs / name
        if not path.exists():
            print(f"{path}: missing, skipped")
            continue
        seen: set[str] = set()
        repaired: Counter[tuple[str, str]] = Counter()
        total: Counter[str] = Counter()
        seconds = 0.0
        for line in path.open(encoding="utf-8"):
            pair = json.loads(line)
            for side in ("1", "2"):
                for field in FIELDS:
                    value = pair.get(f"{field}{side}") or ""
                    if not value or value in seen:
                        continue
                    seen.add(value)
                    total[field] += 1
                    started = time.perf_counter()
                    fixed = repair(value)
                    seconds += time.perf_counter() - started
                    if fixed.misread_as:
                        repaired[field, fixed.misread_as] += 1
                        if args.show:
                            print(
                                f"--- {name} {pair['pair_id']} {field}{side} "
                                f"{fixed.misread_as} (tell-tales {tell_tales(value)} → "
                                f"{tell_tales(fixed.text)})\n  before: {value[:90]!r}\n"
                                f"  after:  {fixed.text[:90]!r}"
                            )
        counts = ", ".join(f"{field} {kind}: {n}" for (field, kind), n in sorted(repaired.items()))
        print(
            f"{name}: {total['title']} titles, {total['text']} texts; repaired "
            f"{sum(repaired.values())} ({counts or 'none'}); "
            f"{seconds * 1000 / max(1, sum(total.values())):.2f} ms per title or text"
        )


if __name__ == "__main__":
    main()
