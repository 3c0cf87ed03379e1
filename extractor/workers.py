"""Where the per-document stages run: inline, in a process pool, or as Ray tasks.

Every executor has one method, :meth:`Executor.map`: the results of a stage over an
iterable of inputs, **in input order**, with at most ``window`` inputs taken ahead of the
result being returned. The order is what makes a run's stored rows (and its export) the
same for any number of workers; the window is what bounds memory: inputs are drawn
lazily (a document is loaded from the database only when a worker is about to need it)
and results are handed to the one writer as soon as they are next in line, so peak
memory depends on the window, not on how many documents a batch holds.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol, TypeVar

from extractor.core.errors import ConfigError

In = TypeVar("In")
Out = TypeVar("Out")


def default_workers() -> int:
    """The cores this process may use (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


class Executor(Protocol):
    workers: int

    def map(self, fn: Callable[[In], Out], items: Iterable[In],
            on_crash: Callable[[In, str], Out] | None = None) -> Iterator[Out]:
        """``fn`` over ``items``, results in input order, a bounded window ahead."""
        ...

    def close(self) -> None:
        ...


class Inline:
    """The stages in this process, one document after the other (``--workers 1``)."""

    workers = 1

    def map(self, fn: Callable[[In], Out], items: Iterable[In],
            on_crash: Callable[[In, str], Out] | None = None) -> Iterator[Out]:
        return (fn(item) for item in items)

    def close(self) -> None:
        return None


def _ordered(submit: Callable[[In], Any], wait: Callable[[Any], Out], items: Iterable[In],
             window: int) -> Iterator[Out]:
    """Submit up to ``window`` items ahead; yield results in submission order."""
    pending: deque[Any] = deque()
    source = iter(items)
    for item in source:
        pending.append(submit(item))
        if len(pending) >= window:
            yield wait(pending.popleft())
    while pending:
        yield wait(pending.popleft())


def _exit_with_parent(parent: int) -> None:
    """A worker ends when the process that started it is gone (killed, even by SIGKILL).

    Otherwise an orphaned worker would wait on its task queue forever, holding the pipes
    of whoever ran the killed command (a test, a shell pipeline) open.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def one_ocr_thread() -> None:
    """A worker's OCR engine runs on one thread: the workers are the parallelism, and an
    engine with a thread per core in each of them would oversubscribe the cores."""
    from extractor.ocr import limit_threads

    limit_threads(1)


def _start_worker(parent: int) -> None:
    """A pool worker's set-up: end with the parent, one OCR thread."""
    _exit_with_parent(parent)
    one_ocr_thread()


class Pool:
    """A process pool over documents; the parent stays the only database writer."""

    def __init__(self, workers: int, window: int | None = None) -> None:
        if workers < 1:
            raise ConfigError(f"--workers must be at least 1 (got {workers})")
        self.workers = workers
        self.window = window or 2 * workers
        self._forked = False
        """Whether this pool's workers exist: before they are forked, the parent's objects
        are moved out of the garbage collector's reach (``gc.freeze``), so a worker's
        collections neither walk them nor copy the memory pages they sit on."""
        self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.workers, initializer=_start_worker,
                                   initargs=(os.getpid(),))

    def map(self, fn: Callable[[In], Out], items: Iterable[In],
            on_crash: Callable[[In, str], Out] | None = None) -> Iterator[Out]:
        """As :meth:`Executor.map`; with ``on_crash``, a worker that dies (a segfault in a PDF or
        OCR library, the OOM killer) costs only the item it was working on: the batch goes on."""
        pending: deque[tuple[In, Future[Out]]] = deque()
        for item in items:
            if not self._forked:  # the workers are forked at the first submit
                gc.freeze()
                self._forked = True
            pending.append((item, self._pool.submit(fn, item)))
            if len(pending) >= self.window:
                yield from self._settle(fn, pending, on_crash)
        while pending:
            yield from self._settle(fn, pending, on_crash)

    def _settle(self, fn: Callable[[In], Out], pending: deque[tuple[In, Future[Out]]],
                on_crash: Callable[[In, str], Out] | None) -> list[Out]:
        item, future = pending.popleft()
        try:
            return [future.result()]
        except BrokenProcessPool:
            if on_crash is None:
                raise
        # The pool went down with every task in it. Start another and run the unsettled
        # items one at a time, so the one that kills its worker is known and only it fails.
        again = [item, *(i for i, _ in pending)]
        pending.clear()
        out: list[Out] = []
        self._restart()
        for one in again:
            try:
                out.append(self._pool.submit(fn, one).result())
            except BrokenProcessPool:
                out.append(on_crash(one, "the worker process died on it (a crash in a PDF or OCR "
                                         "library, or out of memory); the batch went on"))
                self._restart()
        return out

    def _restart(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._start()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class RayExecutor:
    """The same stage functions as Ray tasks, local Ray by default or a cluster by address.

    Only the results travel back; the parent writes them, so workers on other machines
    need no database access (inputs are shipped with each task).
    """

    def __init__(self, address: str | None, window: int | None = None,
                 num_cpus: int | None = None) -> None:
        try:
            import ray
        except ImportError:
            raise ConfigError("--ray needs Ray: pip install 'extractor[ray]'") from None
        self._ray: Any = ray
        self._started = not self._ray.is_initialized()
        if self._started:
            kwargs: dict[str, Any] = {"address": address, "include_dashboard": False,
                                      "log_to_driver": False, "logging_level": "ERROR",
                                      "runtime_env": {"worker_process_setup_hook":
                                                      "extractor.workers.one_ocr_thread"}}
            if address is None and num_cpus is not None:
                kwargs["num_cpus"] = num_cpus
            self._ray.init(**kwargs)
        self.workers = max(1, int(self._ray.cluster_resources().get("CPU", 1)))
        self.window = window or 2 * self.workers
        self._remote: dict[Callable[..., Any], Any] = {}

    def map(self, fn: Callable[[In], Out], items: Iterable[In],
            on_crash: Callable[[In, str], Out] | None = None) -> Iterator[Out]:
        remote = self._remote.setdefault(fn, self._ray.remote(fn))
        return _ordered(remote.remote, self._ray.get, items, self.window)

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()


def make_executor(workers: int | None = None, ray_address: str | None = None,
                  use_ray: bool = False) -> Executor:
    """``--workers N`` (default: every core this process may use) or ``--ray [ADDRESS]``."""
    if use_ray:
        return RayExecutor(ray_address or None, num_cpus=workers)
    count = default_workers() if workers is None else workers
    if count < 1:
        raise ConfigError(f"--workers must be at least 1 (got {count})")
    return Inline() if count == 1 else Pool(count)
