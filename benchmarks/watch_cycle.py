"""One full `storylink watch` cycle over many feeds served on 127.0.0.1.

    .venv/bin/python benchmarks/watch_cycle.py [--feeds 200] [--entries 20] [--hosts 8]
        [--workers 1] [--all-languages]

Serves FEEDS RSS feeds of ENTRIES teaser-only entries each, spread over HOSTS local sites (one
port each: a host to the fetcher), every entry linking to a full article page made from the
project's example texts in USE's languages (varied, so that every page is a new article;
`--all-languages` adds the Greek, Persian and Hebrew ones, which only the slower e5 encoder
reads: ~2 s each on this machine). Runs the Watcher with
no politeness delay (`host_interval=0`: the figure is storylink's own speed) and prints the
first cycle's time, articles per second end to end (poll, fetch, read, analyse, cluster,
commit), the most requests any host saw in flight at once, and a second cycle's time (every
feed answers 304).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the test site lives in tests/newssite.py

from tests.newssite import NewsSite, example_records, running  # noqa: E402

from storylink.article import Article  # noqa: E402
from storylink.feeds import FeedSource  # noqa: E402
from storylink.fetch import Fetcher, FetchPolicy  # noqa: E402
from storylink.stories import StoryStore  # noqa: E402
from storylink.watch import Watcher  # noqa: E402

E5_ONLY = {"el", "fa", "he"}


def build_sites(feeds: int, entries: int, hosts: int, all_languages: bool) -> list[NewsSite]:
    """Sites with `feeds` feeds over `hosts` hosts; entry n of the whole run is example n (of
    those chosen, in turn) with its title and first paragraph marked by n (so no two pages
    are the same article)."""
    records = [r for r in example_records().values() if all_languages or r["lang"] not in E5_ONLY]
    sites = [NewsSite(f"Wire {h}") for h in range(hosts)]
    for f in range(feeds):
        site = sites[f % hosts]
        path = f"/feeds/{f}.xml"
        site.feeds[path] = ("rss", f"Wire {f % hosts} desk {f}", [])
        for e in range(entries):
            n = f * entries + e
            record = dict(records[n % len(records)])
            record["title"] = f"{record['title']} ({n})"
            record["text"] = f"Update {n} from desk {f}.\n{record['text']}"
            site.add_article(path, f"a{n}", record)
    return sites


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--entries", type=int, default=20)
    parser.add_argument("--hosts", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1, help="analysis processes")
    parser.add_argument("--all-languages", action="store_true")
    args = parser.parse_args()
    sites = build_sites(args.feeds, args.entries, args.hosts, args.all_languages)
    policy = FetchPolicy(allow_private=True, host_interval=0.0, max_hosts=args.hosts)
    with (
        tempfile.TemporaryDirectory() as scratch,
        running(*sites),
        StoryStore(Path(scratch) / "news.db", workers=args.workers) as stories,
    ):
        watcher = Watcher(stories, Fetcher(policy), interval=0.0)
        watcher.subscribe(
            FeedSource(sites[f % args.hosts].url(f"/feeds/{f}.xml")) for f in range(args.feeds)
        )
        stories.comparer.analyse(Article("Warm-up", "Loads the models before the clock."))
        started = time.perf_counter()
        first = watcher.run_cycle()
        seconds = time.perf_counter() - started
        second = watcher.run_cycle()
    requests = sum(len(site.requests) for site in sites)
    command = f"--feeds {args.feeds} --entries {args.entries} --hosts {args.hosts}"
    command += f" --workers {args.workers}" + (" --all-languages" if args.all_languages else "")
    print(f"command: python benchmarks/watch_cycle.py {command}")
    print(f"first cycle: {first.line()}")
    print(
        f"  {seconds:.1f} s for {first.added} articles: {first.added / seconds:.1f} articles/s "
        f"end to end; {requests} requests, at most "
        f"{max(site.max_in_flight for site in sites)} in flight per host"
    )
    print(f"second cycle: {second.line()}")
    if first.errors:
        print(f"  {len(first.errors)} problems, first: {first.errors[0]}")


if __name__ == "__main__":
    main()
