"""Where per-article work runs: in this process (default), in worker processes, or on a Dask
cluster (`dask_engine.py`).

An executor is anything with an ordered `map(function, items)`; results come back in input
order, so clustering (which runs in the calling process) sees the same order either way.
`make_executor(engine)` builds the one an `Engine` names: pipeline code hands it chunks of
articles and never knows which it got.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, TypeVar

TASK_ARTICLES = 64  # articles per task sent to a Dask cluster: overhead and memory bounded

T = TypeVar("T")
R = TypeVar("R")


class EngineName(StrEnum):
    """The engines `--engine` offers."""

    LOCAL = "local"
    DASK = "dask"


class EngineError(RuntimeError):
    """An engine cannot run: its scheduler cannot be reached, or its workers are gone."""


@dataclass(frozen=True)
class Engine:
    """Which executor runs per-article work.

    `local`: this process (`workers` 1) or that many worker processes on this machine.
    `dask`: the Dask cluster whose scheduler is at `scheduler` (tcp://HOST:PORT), else a Dask
    LocalCluster of `workers` processes (default: one per core).
    """

    name: str = "local"
    workers: int | None = None
    scheduler: str | None = None

    def __post_init__(self) -> None:
        if self.name not in set(EngineName):
            raise ValueError(f"unknown engine {self.name!r}; choose local or dask")
        if self.workers is not None and self.workers < 1:
            raise ValueError("workers must be at least 1")
        if self.scheduler is not None and self.name != "dask":
            raise ValueError("a scheduler address needs the dask engine")
        if self.scheduler is not None and self.workers is not None:
            raise ValueError("workers are the Dask cluster's own when a scheduler is given")


class Executor(Protocol):
    """Runs a function over items and yields the results in input order."""

    workers: int

    def map(self, function: Callable[[T], R], items: Iterable[T]) -> Iterator[R]: ...

    def close(self) -> None: ...


class InProcess:
    """Runs everything in the calling process; the encoder uses both cores through BLAS."""

    workers = 1

    def map(self, function: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        return map(function, items)

    def close(self) -> None:
        pass


class ProcessPool:
    """Worker processes, each with its own models (one BLAS thread each).

    The parent keeps at most `2 × workers` items in flight, so a long stream is not read
    ahead into memory.
    """

    def __init__(self, workers: int = 2, initializer: Callable[..., Any] | None = None) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers = workers
        self._pool = ProcessPoolExecutor(max_workers=workers, initializer=initializer)

    def map(self, function: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        pending = []
        for item in items:
            pending.append(self._pool.submit(function, item))
            if len(pending) > 2 * self.workers:
                yield pending.pop(0).result()
        for future in pending:
            yield future.result()

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)


def make_executor(engine: Engine, initializer: Callable[[], Any] | None = None) -> Executor:
    """The executor an engine names. `initializer` runs once in every worker process before
    its first task (loads the models); not in-process, where models load on first use."""
    if engine.name == "dask":
        try:
            from .dask_engine import DaskExecutor
        except ModuleNotFoundError as error:
            if error.name not in ("dask", "distributed"):
                raise
            raise EngineError("the dask engine needs Dask: pip install 'storylink[dask]'") from None
        workers = engine.workers or os.cpu_count() or 1
        return DaskExecutor(engine.scheduler, None if engine.scheduler else workers, initializer)
    workers = engine.workers or 1
    return InProcess() if workers <= 1 else ProcessPool(workers, initializer)
