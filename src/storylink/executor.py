"""Where per-article work runs: in this process (default) or in worker processes.

An executor is anything with an ordered `map(function, items)`; results come back in input
order, so clustering (which runs in the calling process) sees the same order either way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")


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


def make_executor(workers: int) -> Executor:
    """In-process for 1 worker, else a process pool."""
    return InProcess() if workers <= 1 else ProcessPool(workers)
