"""Grading stored submissions into the gradebook: one at a time or a whole folder in parallel.

A grading of one submission gathers every result in the structured shape of
:mod:`grader.core.results` (static checks, sandboxed probes, forecast accuracy,
prose) and records them in one gradebook transaction, so a batch killed at
any moment leaves each submission either fully graded or not graded at all.
A submission already graded with the same content, question versions and
reference versions is skipped unless forced.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping

from grader import __version__
from grader.core.bank import Bank
from grader.core.near_miss import missing_hint
from grader.grading.budget import BUDGET_CHECK, Budget
from grader.grading.checking import check_submission, inspection_limits
from grader.grading.refusals import Refusal, refusal_for, refused_note
from grader.grading.station import GradingJob, grade_job
from grader.core.course import Course
from grader.store.gradebook import Gradebook
from grader.grading.intake import IntakeError, IntakeLimits, SubmissionStore, read_submission, student_id_from_path
from grader.core.results import ERROR, CheckResult, total


@dataclass(frozen=True)
class Versions:
    """What a grading depends on besides the files: recorded with every run."""

    grader: str
    questions: dict[str, int]
    references: dict[str, str]


def require_ready(course: Course) -> None:
    """Refuse to grade a course whose held-out data is exposed or whose references are not built.

    Raises :class:`grader.core.course.CourseError` (its subclasses ``SecrecyError`` and
    ``ReferencesMissing``) with one line that says the fix.
    """
    from grader.forecast.manifest import require_built
    from grader.grading.secrecy import require_secret_heldout

    require_secret_heldout(course)
    require_built(course)


def build_course_references(course: Course, **options: Any) -> dict[str, Any]:
    """Build the course's reference models (see ``build_references`` for ``options``), after
    refusing a course whose held-out data is not private (``SecrecyError``)."""
    from grader.forecast.references import build_references
    from grader.grading.secrecy import require_secret_heldout

    require_secret_heldout(course)
    return build_references(course, **options)


def grade_student(course: Course, bank: Bank, gradebook: Gradebook, student: str, *, force: bool = False,
                  isolation: str = "full") -> int:
    """Grade ``student``'s latest submission unless it is already graded with the same files and versions.

    Returns the submission id. Raises ``CourseError`` (see :func:`require_ready`),
    ``GradebookError`` when the student has no submission, or ``SandboxUnavailable`` when
    ``isolation`` is "full" and this machine cannot give student code the full sandbox.
    """
    from grader.sandbox.prober import SandboxProber
    from grader.store.errors import GradebookError

    require_ready(course)
    try:
        submission = gradebook.latest_submission(student)
    except GradebookError as exc:
        raise GradebookError(f"{exc}; submit first with 'grader submit --student {student} PATH'") from None
    if submission is None:
        raise GradebookError(f"student '{student}' has no submission; use 'grader submit --student {student} PATH'")
    grader = Grader(course, bank, gradebook, isolation=isolation)
    if force or not grader.is_current(submission.id):
        run_id = grader.start_run("grade")
        observed: dict[str, Any] = {}
        try:
            with SandboxProber(course.limits, isolation=isolation) as prober:
                try:
                    grader.grade(submission.id, run_id, prober)
                finally:
                    observed = prober.isolation
        finally:
            gradebook.finish_run(run_id, isolation=grader.isolation_record(observed))
    return submission.id


def current_versions(course: Course, bank: Bank) -> Versions:
    from grader.forecast.manifest import reference_versions

    return Versions(__version__, bank.versions, reference_versions(course))


@dataclass(frozen=True)
class Receipt:
    """What storing one submission did: whose it is, its id, whether it is new, and the files intake refused."""

    student: str
    submission_id: int
    new: bool
    refused: tuple[Refusal, ...] = ()
    note: str = ""          # e.g. none of the expected files is in it, and what it holds instead


@dataclass
class SubmissionOutcome:
    """What happened to one submission in a batch."""

    student: str
    status: str                 # graded, skipped, failed
    score: float = 0.0
    max_score: float = 0.0
    message: str = ""
    seconds: float = 0.0


@dataclass
class BatchSummary:
    outcomes: list[SubmissionOutcome] = field(default_factory=list)
    run_id: int | None = None
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def mean_score(self) -> float | None:
        graded = [o.score for o in self.outcomes if o.status == "graded"]
        return sum(graded) / len(graded) if graded else None


def answers_results(bank: Bank, folder: Path, refused: tuple[Refusal, ...] = ()) -> list[CheckResult]:
    """Prose results for every question with prose points, from ``folder/answers.md``.

    An answers.md intake refused says so, with the reason (``refused``), not "missing". One that
    was submitted but cannot be read (not text in any encoding, refused at intake) is an error
    a person must review, never a silent 0; one read by a guessed encoding says so in ``details``.
    """
    from grader.prose import scoring as prose
    from grader.prose.answers import read_answers

    path = folder / "answers.md"
    parsed = None
    problem = None
    sent = True      # answers.md was submitted: if it cannot be read, a person looks at it
    if path.exists():
        try:
            parsed = read_answers(path)
        except ValueError as exc:
            problem = str(exc)
        else:
            if not parsed.found and parsed.has_text:
                # Text without one recognised heading: the answers are there, in a form we cannot split.
                problem = ("answers.md has no heading '## Q1' ... '## Q8', so its answers could not be told "
                           "apart; a person will read it (put each answer under its own '## Q<n>' line)")
                parsed = None
    elif (refusal := refusal_for(refused, ["answers.md"])) is not None:
        problem = f"{refusal.message}; the prose answers could not be graded"
    else:
        problem = f"answers.md is missing: the prose answers could not be graded{missing_hint(folder, 'answers.md')}"
        sent = False
    results: list[CheckResult] = []
    for question in bank.questions:
        if question.prose_points <= 0:
            continue
        if parsed is None:
            results.append(CheckResult(question.prose_task, "rubric", ERROR, 0.0, question.prose_points,
                                       problem or "answers.md could not be read", needs_review=sent))
            continue
        result = prose.prose_results(question, parsed.answer(question.id))
        if parsed.encoding_note:
            result = replace(result, details={**result.details, "encoding_note": parsed.encoding_note})
        results.append(result)
    return results


def grade_folder(folder: Path, course: Course, bank: Bank, prober: Any, forecast: Any,
                 refused: tuple[Refusal, ...] = ()) -> list[CheckResult]:
    """Every result for the submission files in ``folder``: models, forecasts and prose.

    The sandboxed checks share one time budget (``[limits] submission_seconds``), which starts
    here; prose runs no student code and is scored whatever is left. ``refused`` is what intake
    refused of the submission: those files' results say so, with the reason.
    """
    budget = Budget.start(course.limits)
    checked = check_submission(folder, bank, prober=prober, forecast=forecast, include_hidden=True, budget=budget,
                               limits=inspection_limits(course.limits), refused=refused)
    return checked.results + answers_results(bank, folder, refused)


class Grader:
    """Grades submissions of one course into its gradebook.

    ``isolation`` is what student code must get (:mod:`grader.sandbox.levels`): "full" refuses
    to run it without bubblewrap (``SandboxUnavailable``, raised by :meth:`start_run`).
    """

    def __init__(self, course: Course, bank: Bank, gradebook: Gradebook, isolation: str = "full"):
        self.isolation = isolation
        self.course = course
        self.bank = bank
        self.gradebook = gradebook
        self.store = SubmissionStore(course.submissions_dir)
        self.versions = current_versions(course, bank)
        self._forecast = None
        self._forecast_lock = threading.Lock()

    @property
    def forecast(self):
        with self._forecast_lock:
            if self._forecast is None:
                from grader.forecast.evaluation import ForecastEvaluator

                self._forecast = ForecastEvaluator(self.course)
            return self._forecast

    # -- intake

    def _latest(self, student: str):
        """The student's latest submission, None for a student the gradebook does not know yet.

        Only an unknown student means "no previous submission": any other gradebook error
        (a locked database, a broken schema) propagates, so it can never record a duplicate.
        """
        from grader.store.errors import NoStudent

        try:
            return self.gradebook.latest_submission(student)
        except NoStudent:
            return None

    def submit(self, path: Path, student: str | None = None) -> Receipt:
        """Store ``path`` (folder or zip) for ``student`` under the course's ``[limits]``.

        Resubmitting identical files (and identical refusals) reuses the latest submission
        instead of adding a copy. Files intake refused are in the receipt, and stored with the
        submission so that grading says why they were not graded.
        """
        student = student or student_id_from_path(path)
        files = read_submission(path, limits=IntakeLimits.from_course(self.course.limits))
        content = files.content_hash
        note = self._nothing_expected(files.files, files.refused)
        latest = self._latest(student)
        if latest is not None and latest.content_hash == content:
            return Receipt(student, latest.id, False, files.refused, note)
        manifest = self.store.store(files)
        submission_id = self.gradebook.add_submission(student, manifest, content,
                                                      str(self.store.manifest_path(content)), str(path))
        return Receipt(student, submission_id, True, files.refused, note)

    def _nothing_expected(self, files: Mapping[str, bytes], refused: tuple[Refusal, ...]) -> str:
        """A note when the submission holds none of the files the tasks name: what it holds instead."""
        expected = {task.file for task in self.bank.tasks} | {"answers.md"}
        if set(files) & expected or any(r.name in expected for r in refused):
            return ""
        if not files:
            return "the submission is empty: it holds no file the tasks name"
        held = sorted(files)
        inner = [name for name in held if name.lower().endswith(".zip")]
        hint = (f"; it holds another zip ({inner[0]}): submit the unzipped files" if inner else
                "; name the files as 'grader contract' lists them, at the top of the submission")
        return f"none of the expected files is in the submission (it holds {', '.join(held[:4])}" \
               f"{', …' if len(held) > 4 else ''}){hint}"

    # -- grading

    def start_run(self, kind: str, *, student_code_here: bool = True) -> int:
        """Open a run, recording the isolation level student code will get; raises SandboxUnavailable first if it cannot.

        With ``student_code_here`` False (a Dask cluster grades), each worker checks its own
        level when it joins (:class:`grader.grading.dask_executor.CourseStation`), and the
        run records what the workers reported when it finishes.
        """
        from grader.sandbox.levels import choose_level

        level = choose_level(self.isolation) if student_code_here else "checked by each grading machine"
        return self.gradebook.start_run(kind, self.versions.grader, self.versions.questions, self.versions.references,
                                        isolation={"level": level, "required": self.isolation})

    def isolation_record(self, observed: dict[str, Any]) -> dict[str, Any] | None:
        """What to keep of a started worker's isolation report (None when no worker started)."""
        from grader.sandbox.levels import isolation_summary

        return dict(isolation_summary(observed), required=self.isolation) if observed else None

    def is_current(self, submission_id: int) -> bool:
        submission = self.gradebook.find_submission(submission_id)
        return self.gradebook.already_graded(submission_id, submission.content_hash, self.versions.questions,
                                             self.versions.references)

    def job(self, submission_id: int) -> GradingJob:
        """The stored submission as a job to grade: its files' bytes (checked against their hashes) and refusals."""
        submission = self.gradebook.find_submission(submission_id)
        manifest = self.store.load_manifest(submission.content_hash)
        return GradingJob(submission.student_id, submission_id, submission.content_hash, self.store.read(manifest),
                          self.store.load_refusals(submission.content_hash))

    def grade(self, submission_id: int, run_id: int, prober: Any) -> list[CheckResult]:
        """Grade one stored submission with ``prober`` and record its results (one transaction)."""
        results = grade_job(self.job(submission_id), self.course, self.bank, prober, self.forecast)
        self.gradebook.record_results(submission_id, run_id, results)
        return results

    def record_failure(self, student: str, source: Path, message: str, run_id: int) -> None:
        """Record a submission that could not even be read, so the batch report shows it."""
        import hashlib

        digest = hashlib.sha256(f"unreadable:{message}".encode())
        if source.is_file():
            with open(source, "rb") as handle:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
        content = digest.hexdigest()
        latest = self._latest(student)
        if latest is not None and latest.content_hash == content and self.gradebook.current_results(latest.id):
            return   # already recorded by an earlier run: a rerun adds nothing
        submission_id = latest.id if latest is not None and latest.content_hash == content else \
            self.gradebook.add_submission(student, {}, content, "", str(source))
        result = CheckResult("submission", "intake", ERROR, 0.0, self.bank.points, message)
        self.gradebook.record_results(submission_id, run_id, [result])


def budget_note(results: list[CheckResult]) -> str:
    """One line for the batch's progress when the submission's time budget ran out, else ''."""
    skipped = [r.task for r in results if r.check == BUDGET_CHECK]
    return f"time budget used up: {len(skipped)} task(s) not checked ({', '.join(skipped)})" if skipped else ""


def run_batch(course: Course, bank: Bank, gradebook: Gradebook, paths: list[Path], *, workers: int | None = None,
              isolate: bool = False, force: bool = False, isolation: str = "full",
              progress: Callable[[SubmissionOutcome], None] | None = None,
              names: Mapping[Path, str] | None = None, executor: str = "local",
              scheduler: str | None = None, on_start: Callable[[Any], None] | None = None) -> BatchSummary:
    """Submit and grade every path; one bad submission never stops the others.

    A path's student id comes from its name, or from ``names[path]`` (a zip inside a
    student's folder is named by the folder: :mod:`grader.grading.discovery`).

    This process does intake and records every result; the grading itself runs on
    ``executor`` (:mod:`grader.grading.executors`): "local", ``workers`` sandboxed workers
    here, or "dask", the cluster at ``scheduler`` (a local one of ``workers`` processes
    without). ``on_start`` receives the executor once it runs (its ``dashboard`` link).
    At most twice as many submissions as the executor grades at once are in flight, so
    memory stays bounded however many paths there are.

    Refuses the whole batch up front: ``CourseError`` when :func:`require_ready` does,
    ``SandboxUnavailable`` when ``isolation`` is "full" and bubblewrap cannot run here.
    """
    from grader.grading.executors import make_executor

    require_ready(course)
    workers = max(1, workers or os.cpu_count() or 1)
    grader = Grader(course, bank, gradebook, isolation=isolation)
    gradebook.interrupt_stale_runs()
    run_id = grader.start_run("batch", student_code_here=executor == "local")
    summary = BatchSummary(run_id=run_id)
    started = time.perf_counter()
    observed: dict[str, Any] = {}

    def report(outcome: SubmissionOutcome) -> None:
        summary.outcomes.append(outcome)
        if progress:
            progress(outcome)

    interrupted = False
    try:
        with make_executor(executor, course, bank, workers=min(workers, max(1, len(paths))), isolation=isolation,
                           isolate=isolate, scheduler=scheduler) as runner:
            if on_start:
                on_start(runner)
            in_flight: dict[Any, tuple[GradingJob, str, float]] = {}

            def collect(block: bool) -> None:
                done, _ = runner.wait_any(in_flight) if block else (set(), set())
                for future in done:
                    job, note, t0 = in_flight.pop(future)
                    report(_record(grader, runner, future, job, note, run_id, observed, time.perf_counter() - t0))

            try:
                for path in paths:
                    t0 = time.perf_counter()
                    taken = _take_in(grader, path, names, run_id, force)
                    if isinstance(taken, SubmissionOutcome):
                        report(taken)
                        continue
                    while len(in_flight) >= 2 * runner.capacity:
                        collect(block=True)
                    job, note = taken
                    in_flight[runner.submit(job)] = (job, note, t0)
                while in_flight:
                    collect(block=True)
            except KeyboardInterrupt:
                interrupted = True
                for future in in_flight:
                    future.cancel()
                raise
    finally:
        summary.seconds = time.perf_counter() - started
        gradebook.finish_run(run_id, "interrupted" if interrupted else "finished",
                             notes=f"{summary.count('graded')} graded, {summary.count('skipped')} skipped, "
                                   f"{summary.count('failed')} failed",
                             isolation=grader.isolation_record(observed))
    return summary


def _take_in(grader: Grader, path: Path, names: Mapping[Path, str] | None, run_id: int,
             force: bool) -> SubmissionOutcome | tuple[GradingJob, str]:
    """Store ``path`` as its student's submission: the job to grade and the intake note, or
    the outcome when there is nothing to grade (unreadable, or already graded)."""
    try:
        student = student_id_from_path((names or {}).get(path, path.name))
    except IntakeError as exc:
        return SubmissionOutcome(path.name, "failed", message=str(exc))
    try:
        receipt = grader.submit(path, student)
    except IntakeError as exc:
        grader.record_failure(student, path, str(exc), run_id)
        return SubmissionOutcome(student, "failed", 0.0, grader.bank.points, str(exc))
    note = "; ".join(filter(None, [receipt.note, refused_note(receipt.refused)]))
    if not force and grader.is_current(receipt.submission_id):
        return SubmissionOutcome(receipt.student, "skipped", message="; ".join(
            filter(None, ["already graded with these files and versions", note])))
    return grader.job(receipt.submission_id), note


LOST_WORKER = ("the grading worker died twice while grading this submission (not a problem found in the "
               "files); regrade it with 'grader grade {student} --force'")


def _record(grader: Grader, runner: Any, future: Any, job: GradingJob, note: str, run_id: int,
            observed: dict[str, Any], seconds: float) -> SubmissionOutcome:
    """Record a finished job's results in the gradebook (this process alone writes it); its outcome."""
    try:
        graded = future.result()
    except Exception as exc:
        if not runner.lost_worker(exc):   # a grader bug: reported, never fatal, nothing recorded
            return SubmissionOutcome(job.student, "failed", message=f"{type(exc).__name__}: {str(exc)[:200]}")
        message = LOST_WORKER.format(student=job.student)
        grader.gradebook.record_results(job.submission_id, run_id, [
            CheckResult("submission", "run", ERROR, 0.0, grader.bank.points, message, needs_review=True)])
        return SubmissionOutcome(job.student, "failed", 0.0, grader.bank.points, message, seconds)
    grader.gradebook.record_results(job.submission_id, run_id, graded.results)
    observed.update(graded.isolation)
    score, max_score = total(graded.results)
    return SubmissionOutcome(job.student, "graded", score, max_score,
                             message="; ".join(filter(None, [note, budget_note(graded.results)])), seconds=seconds)
