"""The Dask engine: per-article work spread over a Dask cluster, results in input order.

`DaskExecutor` is an `executor.Executor`, so the pipeline hands it chunks of articles exactly
as it would a process pool. Its Client connects to the scheduler given (tcp://HOST:PORT) or
to a LocalCluster of worker processes started here (127.0.0.1 only, no dashboard). A worker
plugin runs the pipeline's initializer (loading the models) once in every worker, also in
workers that join later. About two tasks per worker thread are outstanding (one more while
a result is collected), so a long stream is not read ahead into memory. A task whose worker
dies is run again on another one (Dask reschedules the lost worker's tasks; `retries` reruns
one that raised), so a lost worker costs time, not articles.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import CancelledError
from typing import Any, TypeVar

import dask
from dask.base import tokenize
from distributed import Client, Future, LocalCluster
from distributed.diagnostics.plugin import WorkerPlugin
from distributed.scheduler import KilledWorker

from .executor import EngineError

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger(__name__)

RETRIES = 2  # reruns of a task that raised (a lost worker's tasks are rerun by the scheduler)
CONNECT_SECONDS = 10  # to reach a scheduler
WORKER_WAIT_SECONDS = 60  # for a scheduler without workers to get one
TASKS_PER_THREAD = 2  # outstanding tasks per worker thread


class ModelLoader(WorkerPlugin):
    """Runs an initializer (the pipeline's model loading) once in each worker as it joins."""

    idempotent = True  # registered again by a later run: workers keep what they loaded

    def __init__(self, initializer: Callable[[], Any]) -> None:
        self.initializer = initializer

    def setup(self, worker: Any) -> None:
        self.initializer()


def local_cluster(workers: int) -> LocalCluster:
    """Worker processes of one thread each on this machine, everything on 127.0.0.1: the
    scheduler, the workers and the scheduler's HTTP routes (health, metrics; no dashboard),
    the latter on a free port. The workers' statistical profiler is off: it feeds only the
    dashboard and cost ~1 ms of CPU per article embedded (benchmarks/RESULTS.md)."""
    with dask.config.set({"distributed.worker.profile.enabled": False}):
        return LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
            scheduler_kwargs={"dashboard": False},
        )


class DaskExecutor:
    """Runs a function over items as Dask tasks and yields the results in input order."""

    def __init__(
        self,
        scheduler: str | None = None,
        workers: int | None = None,
        initializer: Callable[[], Any] | None = None,
    ) -> None:
        self._cluster: LocalCluster | None = None
        if scheduler is None:
            self._cluster = local_cluster(workers or 1)
            self._client = Client(self._cluster, set_as_default=False)
        else:
            try:
                self._client = Client(scheduler, timeout=CONNECT_SECONDS, set_as_default=False)
            except (OSError, ValueError, TypeError) as error:
                raise EngineError(
                    f"cannot reach the Dask scheduler at {scheduler}: {error}"
                ) from None
        try:
            self._client.wait_for_workers(1, timeout=WORKER_WAIT_SECONDS)
            if initializer is not None:
                name = f"storylink-models-{tokenize(initializer)}"
                log.info("loading the models in every Dask worker")
                self._client.register_plugin(ModelLoader(initializer), name=name)
        except TimeoutError:
            self.close()
            raise EngineError(
                f"no Dask worker joined the scheduler at {scheduler} in {WORKER_WAIT_SECONDS} s"
            ) from None
        except Exception as error:
            self.close()
            raise EngineError(f"the Dask workers could not load the models: {error}") from None
        threads = self._client.nthreads()
        if any(n > 1 for n in threads.values()):
            log.warning(
                "Dask workers with more than one thread share one set of models, which are "
                "not made for concurrent use: start them with `dask worker --nthreads 1` "
                "(one worker per core)"
            )
        self.workers = sum(threads.values())

    def _threads(self) -> int:
        return sum(self._client.nthreads().values())

    def map(self, function: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        outstanding: deque[Future[Any]] = deque()
        limit = TASKS_PER_THREAD * max(1, self._threads())
        try:
            for item in items:
                outstanding.append(self._client.submit(function, item, pure=False, retries=RETRIES))
                if len(outstanding) > limit:
                    yield self._result(outstanding.popleft())
            while outstanding:
                yield self._result(outstanding.popleft())
        finally:
            for future in outstanding:  # a run that stops early leaves nothing running
                future.cancel()

    def _result(self, future: Future[Any]) -> Any:
        try:
            return future.result()
        except (KilledWorker, CancelledError) as error:  # workers kept dying, or cluster gone
            raise EngineError(f"the Dask cluster lost a task ({error})") from None

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()
