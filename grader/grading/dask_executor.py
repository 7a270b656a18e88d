"""Batch grading on a Dask distributed cluster (``grader batch --executor dask``).

Each Dask worker hosts its own :class:`Station`: a sandboxed worker pool with one
sandboxed worker per Dask thread. The course (config, references, series: the same
files as the Gradescope bundle, :mod:`grader.grading.bundle`) reaches each worker
once, through the :class:`CourseStation` worker plugin, and is checked there by its
SHA-256. A submission travels as a :class:`GradingJob`: its bytes and its content
hash, checked again before grading. Results come back to the client, which alone
writes the gradebook; Dask workers never hold a database handle.

A worker that dies loses only the jobs it was grading. The scheduler gives each of
them to another worker; ``distributed.scheduler.allowed-failures`` = 1 (set for the
local cluster this module starts; set it in the scheduler's config for your own
cluster) makes that one retry, and a second death is reported as ``KilledWorker``,
which :func:`run_batch` records as an error for that submission.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any, Iterable

import dask
import distributed
from distributed.diagnostics.plugin import WorkerPlugin

from grader import __version__
from grader.core.bank import Bank
from grader.core.course import Course
from grader.core.errors import GraderError
from grader.grading.bundle import CourseArchive
from grader.grading.executors import DaskUnavailable
from grader.grading.station import GradedJob, GradingJob, Station

PLUGIN = "rnn-grader-course"
ALLOWED_FAILURES = 1     # a job whose worker died is retried once, on another worker


class CourseStation(WorkerPlugin):
    """Worker plugin: unpack the course once per worker (checked by hash) and open a :class:`Station` on it.

    Registered once by the client; Dask runs ``setup`` on every worker, including those that
    join later or replace one that died.
    """

    name = PLUGIN

    def __init__(self, archive: CourseArchive, bank: Bank, *, isolation: str, isolate: bool) -> None:
        self.archive = archive
        self.bank = bank
        self.isolation = isolation
        self.isolate = isolate
        self.version = __version__
        self.station: Station | None = None

    def setup(self, worker: Any) -> None:
        from grader.sandbox.levels import choose_level

        choose_level(self.isolation)   # SandboxUnavailable, raised on the client, if this machine cannot sandbox
        if self.version != __version__:
            raise GraderError(f"this Dask worker runs rnn-grader {__version__}, the client {self.version}: "
                              "install the same version on every worker")
        folder = Path(worker.local_directory) / f"course-{self.archive.sha256[:16]}"
        course = self.archive.unpack(folder)
        self.station = Station(course, self.bank, workers=max(1, worker.state.nthreads), isolation=self.isolation,
                               isolate=self.isolate)

    def teardown(self, worker: Any) -> None:
        if self.station is not None:
            self.station.close()


def grade_on_worker(job: GradingJob) -> GradedJob:
    """The Dask task: grade ``job`` with this worker's station."""
    plugin = distributed.get_worker().plugins.get(PLUGIN)
    if plugin is None or plugin.station is None:
        raise GraderError("this Dask worker has no course: its plugin did not start (see the worker's log)")
    return plugin.station.grade(job)


class DaskExecutor:
    """Jobs graded on a Dask cluster: the one at ``scheduler``, or a local one of ``workers`` processes."""

    def __init__(self, course: Course, bank: Bank, *, scheduler: str | None, workers: int,
                 isolation: str = "full", isolate: bool = False) -> None:
        self.cluster = None
        try:
            if scheduler:
                self.client = distributed.Client(scheduler, timeout="10s")
            else:
                with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
                    self.cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                            dashboard_address=":0", silence_logs=logging.ERROR)
                self.client = distributed.Client(self.cluster)
        except OSError as exc:
            self._close_cluster()
            raise DaskUnavailable(f"cannot reach the Dask scheduler at {scheduler}: {exc}; start it with "
                                  "'dask scheduler' (see the README) or leave out --scheduler") from None
        try:
            archive = CourseArchive.of(course)
            self.client.register_plugin(CourseStation(archive, bank, isolation=isolation, isolate=isolate),
                                        name=PLUGIN)
            self.capacity = max(1, sum(self.client.nthreads().values()))
        except BaseException:
            self.close()
            raise
        self.dashboard: str | None = self.client.dashboard_link

    def submit(self, job: GradingJob) -> Any:
        # A fresh key: a job is never answered from an earlier one's result, even with the same content.
        return self.client.submit(grade_on_worker, job, key=f"grade-{job.submission_id}-{uuid.uuid4().hex[:12]}")

    def wait_any(self, futures: Iterable[Any]) -> tuple[set[Any], set[Any]]:
        done, pending = distributed.wait(list(futures), return_when="FIRST_COMPLETED")
        return set(done), set(pending)

    def lost_worker(self, exc: BaseException) -> bool:
        return isinstance(exc, distributed.KilledWorker)

    def close(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            client.close()
        self._close_cluster()

    def _close_cluster(self) -> None:
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
