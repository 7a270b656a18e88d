"""Many workers at once: a pool of long-lived ones for batch grading, and one-off ones for student Python."""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from typing import Any, Iterator, Mapping, Sequence

from grader.sandbox.errors import SandboxError
from grader.sandbox.isolation import Files
from grader.sandbox.limits import Limits, check_kind
from grader.sandbox.process import Worker
from grader.sandbox.worker import REPLY_LIMIT

__all__ = ["WorkerPool", "run_once"]


class WorkerPool:
    """Long-lived workers for batch grading: each imports TensorFlow once, not per submission.

    ``acquire()`` hands a free worker to one thread at a time; ``reset_op`` (e.g. "forget") runs
    on every worker given back, so the next holder finds nothing the last one loaded. A
    pooled worker is one process for many submissions: code that took it over (which the
    static allowlist exists to prevent) would outlive its submission. With ``isolate=True``
    every acquire gets a brand-new worker that is closed on release (``size`` then bounds how
    many run at once); use it when a task must not share a process with any other.
    """

    def __init__(self, size: int, kind: str = "keras", limits: Limits | None = None, ops: str = "grader.sandbox.ops",
                 isolate: bool = False, extra_pythonpath: Sequence[str | os.PathLike] = (),
                 reset_op: str | None = None) -> None:
        if size < 1:
            raise ValueError(f"pool size must be at least 1, got {size}")
        check_kind(kind)
        self.size = size
        self.kind = kind
        self.limits = limits if limits is not None else Limits.from_course({}, kind)
        self.ops = ops
        self.isolate = isolate
        self.extra_pythonpath = tuple(extra_pythonpath)
        self.reset_op = reset_op
        self._closed = False
        self._slots = threading.BoundedSemaphore(size)
        self._workers = [] if isolate else [self._new_worker() for _ in range(size)]
        self._free: queue.Queue[Worker] = queue.Queue()
        for worker in self._workers:
            self._free.put(worker)

    @property
    def workers(self) -> list[Worker]:
        """The long-lived workers (empty with ``isolate=True``)."""
        return list(self._workers)

    def _new_worker(self) -> Worker:
        return Worker(self.kind, self.limits, self.ops, self.extra_pythonpath)

    def start(self) -> None:
        """Start every long-lived worker now, in parallel, instead of on first use."""
        errors: list[BaseException] = []

        def start(worker: Worker) -> None:
            try:
                worker.start()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=start, args=(worker,)) for worker in self._workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]

    @contextlib.contextmanager
    def acquire(self) -> Iterator[Worker]:
        """A worker for this thread alone until the block ends; blocks until one is free."""
        if self._closed:
            raise SandboxError("the worker pool is closed")
        if self.isolate:
            with self._slots:
                worker = self._new_worker()
                try:
                    yield worker
                finally:
                    worker.close()
            return
        worker = self._free.get()
        try:
            if self._closed:
                raise SandboxError("the worker pool is closed")
            yield worker
        finally:
            self._reset(worker)
            self._free.put(worker)

    def _reset(self, worker: Worker) -> None:
        """Run ``reset_op`` on a worker coming back (it drops what the last holder loaded); a
        worker that cannot is stopped, and the next holder gets a fresh process."""
        if self.reset_op is None or not worker.alive:
            return
        try:
            worker.run(self.reset_op, {}, timeout=min(30.0, self.limits.seconds))
        except SandboxError:
            worker.stop()

    def close(self) -> None:
        """Close every worker; later ``acquire()`` calls raise SandboxError."""
        self._closed = True
        for worker in self._workers:
            worker.close()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def run_once(kind: str, op: str, payload: Mapping[str, Any] | None = None, files: Files | None = None,
             limits: Limits | None = None, ops: str = "grader.sandbox.ops", timeout: float | None = None,
             extra_pythonpath: Sequence[str | os.PathLike] = (), reply_limit: int = REPLY_LIMIT) -> dict[str, Any]:
    """Run one op in a brand-new worker that is closed afterwards (for student Python); returns its result dict."""
    worker = Worker(kind, limits, ops, extra_pythonpath)
    try:
        return worker.run(op, payload, files, timeout, reply_limit=reply_limit)
    finally:
        worker.close()
