"""A grading station: what one machine needs to grade submissions, and the jobs it grades.

A :class:`GradingJob` is one stored submission as it travels to be graded: its files
as bytes, what intake refused, and the content hash both must still give. A
:class:`Station` holds the course (config, references, series), a pool of sandboxed
workers, the sandboxed header reader and the forecast evaluator, and turns a job into
a :class:`GradedJob`. It never touches the gradebook: whoever sent the job records the
results (:func:`grader.grading.grader.run_batch`), so a station can live in another
process or on another machine (:mod:`grader.grading.dask_executor`).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from grader.core.bank import Bank
from grader.core.course import Course
from grader.core.results import CheckResult
from grader.grading.intake import IntakeError, content_hash, write_files
from grader.grading.refusals import Refusal


@dataclass(frozen=True)
class GradingJob:
    """One stored submission to grade: ``files`` and ``refused`` must give ``content_hash``."""

    student: str
    submission_id: int
    content_hash: str
    files: Mapping[str, bytes]
    refused: tuple[Refusal, ...] = ()

    def verify(self) -> None:
        """IntakeError unless the files and refusals are still the ones the hash was taken of."""
        if content_hash(self.files, self.refused) != self.content_hash:
            raise IntakeError(f"the files of submission {self.submission_id} changed on the way to grading "
                              f"(content hash is not {self.content_hash[:12]}…)")


@dataclass(frozen=True)
class GradedJob:
    """A job's results, and what the sandbox reported of its isolation (empty if no worker started)."""

    submission_id: int
    results: list[CheckResult]
    isolation: dict[str, Any] = field(default_factory=dict)


def grade_job(job: GradingJob, course: Course, bank: Bank, prober: Any, forecast: Any) -> list[CheckResult]:
    """Every result for ``job``: its files written to a private temporary folder, then graded there."""
    from grader.grading.grader import grade_folder

    job.verify()
    with tempfile.TemporaryDirectory(prefix="grader-grade-") as tmp:
        folder = write_files(job.files, Path(tmp) / "submission")
        return grade_folder(folder, course, bank, prober, forecast, job.refused)


class Station:
    """Grades jobs of one course with ``workers`` sandboxed workers (see :class:`WorkerPool`).

    ``isolation`` is what student code must get (:mod:`grader.sandbox.levels`);
    ``isolate`` gives every job a fresh worker process. Safe to call :meth:`grade`
    from up to ``workers`` threads at once.
    """

    def __init__(self, course: Course, bank: Bank, *, workers: int, isolation: str = "full",
                 isolate: bool = False) -> None:
        from grader.forecast.evaluation import ForecastEvaluator
        from grader.sandbox.headers import SandboxHeaderReader
        from grader.sandbox.limits import Limits
        from grader.sandbox.pool import WorkerPool

        self.course = course
        self.bank = bank
        self.isolation = isolation
        self.pool = WorkerPool(workers, kind="keras", isolate=isolate, reset_op="forget",
                               limits=Limits.from_course(course.limits, "keras", isolation=isolation))
        self.headers = SandboxHeaderReader(Limits.from_course(course.limits, "plain", isolation=isolation))
        self.forecast = ForecastEvaluator(course)

    def grade(self, job: GradingJob) -> GradedJob:
        from grader.sandbox.errors import SandboxError
        from grader.sandbox.prober import SandboxProber

        with self.pool.acquire() as worker:
            # Started before this submission's budget does: a worker the previous submission
            # left killed (a timeout) is restarted at no cost to this one.
            try:
                worker.start()
            except SandboxError:
                pass    # a worker that cannot start fails each task, with its reason
            prober = SandboxProber(self.course.limits, worker=worker, isolation=self.isolation, headers=self.headers)
            results = grade_job(job, self.course, self.bank, prober, self.forecast)
            return GradedJob(job.submission_id, results, dict(prober.isolation))

    def close(self) -> None:
        self.pool.close()
        self.headers.close()

    def __enter__(self) -> Station:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
