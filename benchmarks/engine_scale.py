"""Batch embedding throughput per engine, in one run: in-process, a local process pool of 2,
Dask LocalClusters of 1 and 2 workers (1 thread each), ratios against in-process.

    PYTHONPATH=src .venv/bin/python benchmarks/engine_scale.py \
        ../shared/data/semeval8/dev_pairs.jsonl --size 2000 --rounds 2

The articles: the dev pairs' articles repeated (each copy a new article, `ingest_scale.stream`),
read once. Each engine runs what `storylink embed` runs (`batch.embed_chunk` over tasks of 64
articles: language, the home encoder's sentence, title and document vectors) on the same
articles; start (cluster and worker start, models loaded in every worker) is timed apart from
the run. Rounds alternate the engines, so that load from other jobs on the machine falls on
all of them; the best round of each is compared. The load average is printed before and after.

`--ingest`: also `StoryStore.ingest` of the same articles on a Dask LocalCluster of 2 workers,
with the CPU time of the calling process per article: what stays there (reading, clustering,
the store, Dask's client and scheduler) bounds what more workers can add.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from ingest_scale import stream
from storylink.article import Article
from storylink.batch import TASK_ARTICLES, embed_chunk
from storylink.compare import WorkerSetup, load_worker_models
from storylink.executor import Engine, make_executor
from storylink.read import read_file
from storylink.stories import StoryStore

ENGINES = {
    "in-process": Engine(),
    "local, 2 processes": Engine(workers=2),
    "dask, 1 worker": Engine("dask", workers=1),
    "dask, 2 workers": Engine("dask", workers=2),
}


@dataclass
class Run:
    """One engine's run: seconds to start (models loaded), seconds to embed, CPU seconds in
    the tasks and in the calling process, articles embedded."""

    start: float
    seconds: float
    task_cpu: float
    caller_cpu: float
    embedded: int


def timed_embed(chunk: list[Article], setup: WorkerSetup) -> tuple[int, float]:
    """`embed_chunk`, and the CPU seconds its process spent on it (wherever it runs)."""
    cpu = time.process_time()
    embedded = sum(not isinstance(row, str) for row in embed_chunk(chunk, setup))
    return embedded, time.process_time() - cpu


def run(engine: Engine, chunks: list[list[Article]], setup: WorkerSetup) -> Run:
    started = time.perf_counter()
    warm = partial(load_worker_models, setup)
    executor = make_executor(engine, warm)
    if engine.name == "local" and (engine.workers or 1) == 1:
        warm()  # in-process: the models load here, as the workers' do at start
    list(executor.map(abs, range(4 * executor.workers)))  # a process pool starts on demand
    ready, caller = time.perf_counter(), time.process_time()
    try:
        results = list(executor.map(partial(timed_embed, setup=setup), chunks))
    finally:
        caller = time.process_time() - caller
        seconds = time.perf_counter() - ready
        executor.close()
    task_cpu = sum(cpu for _, cpu in results)
    if engine.name == "local" and (engine.workers or 1) == 1:
        caller -= task_cpu  # in-process, the tasks ran in the calling process
    embedded = sum(n for n, _ in results)
    return Run(ready - started, seconds, task_cpu, caller, embedded)


def caller_cost(source: Path, engine: Engine) -> tuple[float, float, int]:
    """Ingest `source` into a fresh store on `engine`: articles/s, CPU ms of this process per
    article (all its threads: clustering, store, Dask client and scheduler), articles added."""
    with (
        tempfile.TemporaryDirectory() as scratch,
        StoryStore(Path(scratch) / "news.db", engine=engine) as stories,
    ):
        stories.start_engine()
        cpu, wall = time.process_time(), time.perf_counter()
        report = stories.ingest([source])
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return report.added / wall, 1000 * cpu / report.added, report.added


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("pairs", type=Path)
    parser.add_argument("--size", type=int, default=2000, help="articles")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--ingest", action="store_true", help="also the calling process's cost")
    parser.add_argument(
        "--examples",
        action="store_true",
        help="add the example articles (Greek, Hebrew and Persian: read by the slower e5)",
    )
    args = parser.parse_args()
    scratch = tempfile.TemporaryDirectory()
    source = Path(scratch.name) / "stream.jsonl"
    with source.open("w", encoding="utf-8") as out:
        for record in stream(args.pairs, args.size, args.examples):
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    articles = read_file(source).articles
    chunks = [articles[i : i + TASK_ARTICLES] for i in range(0, len(articles), TASK_ARTICLES)]
    setup = WorkerSetup()
    print(
        f"{len(articles)} articles, {len(chunks)} tasks of {TASK_ARTICLES}; cores: {os.cpu_count()}"
    )
    print("load average before: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    runs: dict[str, list[Run]] = {name: [] for name in ENGINES}
    for round_number in range(args.rounds):
        for name, engine in ENGINES.items():
            done = run(engine, chunks, setup)
            assert done.embedded == len(articles), (name, done.embedded)
            runs[name].append(done)
            figures = f"start {done.start:5.1f} s  {done.embedded / done.seconds:6.1f} articles/s"
            cpu = f"task CPU {1000 * done.task_cpu / done.embedded:5.1f} ms/article"
            print(f"round {round_number + 1}  {name:<20} {figures}  {cpu}", flush=True)
    print("load average after: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    baseline = max(r.embedded / r.seconds for r in runs["in-process"])
    print(
        "\n| engine | start (s) | articles/s, best round | vs in-process "
        "| task CPU ms/article | calling process CPU ms/article |\n|---|---:|---:|---:|---:|---:|"
    )
    for name, done in runs.items():
        best = max(done, key=lambda r: r.embedded / r.seconds)
        rate = best.embedded / best.seconds
        task = 1000 * sum(r.task_cpu for r in done) / sum(r.embedded for r in done)
        caller = 1000 * sum(r.caller_cpu for r in done) / sum(r.embedded for r in done)
        start = done[0].start  # the first round: nothing loaded yet
        print(
            f"| {name} | {start:.1f} | {rate:.1f} | {rate / baseline:.2f}x | {task:.1f} "
            f"| {caller:.2f} |"
        )
    if args.ingest:
        rate, cpu_ms, added = caller_cost(source, ENGINES["dask, 2 workers"])
        print(
            f"\ningest on dask, 2 workers: {added} articles, {rate:.1f} articles/s; calling "
            f"process {cpu_ms:.1f} ms CPU per article"
        )
        print("load average after: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    scratch.cleanup()


if __name__ == "__main__":
    main()
