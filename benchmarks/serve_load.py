"""Bounded load check of `storylink serve`: concurrent clients on 127.0.0.1.

    .venv/bin/python benchmarks/serve_load.py [--clients 20] [--seconds 30]

Builds a store of the project's example articles, starts the real server in a subprocess and,
for each of /stories, /search and POST /compare, runs N client threads for S seconds; prints
requests/s, p50/p99 latency and the count of 5xx (and other non-2xx) answers.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from storylink.demo import examples_path
from storylink.stories import StoryStore


def start(db: Path) -> tuple[subprocess.Popen[str], str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "storylink.cli", "serve", "--db", str(db)]
    server = subprocess.Popen([*command, "--port", str(port)], text=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(360):
        try:
            if httpx.get(f"{base}/health", timeout=5).status_code == 200:
                return server, base
        except httpx.HTTPError:
            time.sleep(0.5)
    raise RuntimeError("server did not start")


def hammer(base: str, request: dict[str, Any], clients: int, seconds: float) -> list[Any]:
    latencies: list[float] = []
    statuses: list[int] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client() -> None:
        with httpx.Client(base_url=base, timeout=120) as session:
            while time.monotonic() < stop:
                started = time.perf_counter()
                status = session.request(**request).status_code
                with lock:
                    latencies.append(time.perf_counter() - started)
                    statuses.append(status)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    ms = np.array(latencies) * 1000
    return [
        len(ms),
        f"{len(ms) / elapsed:.1f}",
        f"{np.percentile(ms, 50):.0f}",
        f"{np.percentile(ms, 99):.0f}",
        sum(s >= 500 for s in statuses),
        sum(not 200 <= s < 300 for s in statuses),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    rows = [json.loads(line) for line in examples_path().read_text("utf-8").splitlines()]
    side = {r["id"]: {"title": r["title"], "text": r["text"]} for r in rows}
    requests = {
        "GET /stories": {"method": "GET", "url": "/stories"},
        "GET /search?q=زلزال في تركيا": {"method": "GET", "url": "/search?q=زلزال في تركيا"},
        "POST /compare (stored ids)": {
            "method": "POST",
            "url": "/compare",
            "json": {"a": {"id": "1"}, "b": {"id": "3"}},
        },
        "POST /compare (texts en/ar, cached after the first)": {
            "method": "POST",
            "url": "/compare",
            "json": {"a": side["izmir-quake-en"], "b": side["izmir-quake-ar"]},
        },
    }
    with tempfile.TemporaryDirectory() as scratch:
        db = Path(scratch) / "load.db"
        with StoryStore(db) as stories:
            stories.ingest([str(examples_path())])
        server, base = start(db)
        try:
            httpx.post(f"{base}/compare", json=requests["POST /compare (stored ids)"]["json"])
            print(
                f"{args.clients} clients × {args.seconds:g} s per endpoint, {os.cpu_count()} cores"
            )
            print("| endpoint | requests | req/s | p50 ms | p99 ms | 5xx | non-2xx |")
            print("|---|---:|---:|---:|---:|---:|---:|")
            for name, request in requests.items():
                cells = hammer(base, request, args.clients, args.seconds)
                print("| " + " | ".join(map(str, [name, *cells])) + " |", flush=True)
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
