"""Where batch grading runs: this machine's worker pool, or a Dask cluster.

An executor takes :class:`GradingJob` s and hands back futures of :class:`GradedJob` s;
:func:`grader.grading.grader.run_batch` does intake before and records results after,
in the client alone. Both executors grade with a :class:`Station` (a sandboxed worker
pool), so the sandbox rules are the same wherever a job runs.

``[executor]`` in course.toml chooses one (``kind = "local"`` or ``"dask"``, with
``scheduler`` the address of a running Dask scheduler); ``grader batch --executor``
and ``--scheduler`` override it.
"""

from __future__ import annotations

import concurrent.futures
from typing import Any, Iterable, Protocol

from grader.core.bank import Bank
from grader.core.course import Course
from grader.core.errors import GraderError
from grader.grading.station import GradedJob, GradingJob, Station

KINDS = ("local", "dask")


class DaskUnavailable(GraderError):
    """Dask cannot be used: not installed, or the scheduler cannot be reached; the message says the fix."""


class Executor(Protocol):
    """Grades jobs somewhere; a context manager that releases its workers on exit."""

    capacity: int                 # jobs it grades at once
    dashboard: str | None         # a page that shows the work, if it has one

    def submit(self, job: GradingJob) -> Any: ...      # a future whose result() is a GradedJob

    def wait_any(self, futures: Iterable[Any]) -> tuple[set[Any], set[Any]]: ...   # (done, not done)

    def lost_worker(self, exc: BaseException) -> bool: ...   # the job's worker died (retries are used up)

    def __enter__(self) -> Executor: ...

    def __exit__(self, *exc_info: object) -> None: ...


class LocalExecutor:
    """``workers`` sandboxed workers on this machine, each fed by a thread of this process."""

    dashboard = None

    def __init__(self, course: Course, bank: Bank, *, workers: int, isolation: str = "full",
                 isolate: bool = False) -> None:
        self.capacity = workers
        self.station = Station(course, bank, workers=workers, isolation=isolation, isolate=isolate)
        self._threads = concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grade")

    def submit(self, job: GradingJob) -> concurrent.futures.Future[GradedJob]:
        return self._threads.submit(self.station.grade, job)

    def wait_any(self, futures: Iterable[Any]) -> tuple[set[Any], set[Any]]:
        done, pending = concurrent.futures.wait(list(futures), return_when=concurrent.futures.FIRST_COMPLETED)
        return set(done), set(pending)

    def lost_worker(self, exc: BaseException) -> bool:
        return False    # a sandboxed worker that dies fails its tasks inside the job, with the reason

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._threads.shutdown(wait=True, cancel_futures=True)
        self.station.close()


def make_executor(kind: str, course: Course, bank: Bank, *, workers: int, isolation: str = "full",
                  isolate: bool = False, scheduler: str | None = None) -> Executor:
    """The executor ``kind`` ("local" or "dask"); for Dask without ``scheduler``, a local cluster of ``workers``."""
    if kind == "local":
        return LocalExecutor(course, bank, workers=workers, isolation=isolation, isolate=isolate)
    if kind == "dask":
        try:
            from grader.grading.dask_executor import DaskExecutor
        except ImportError:
            raise DaskUnavailable("the Dask executor needs the 'distributed' package: "
                                  "pip install 'rnn-grader[dask]'") from None

        return DaskExecutor(course, bank, scheduler=scheduler, workers=workers, isolation=isolation, isolate=isolate)
    raise ValueError(f"unknown executor {kind!r} (known: {', '.join(KINDS)})")
