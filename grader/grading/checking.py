"""Checking one submission folder: static inspection first, sandboxed probes second.

``check_submission`` is the single place where a task's evidence is gathered
and its checks are run. Static inspection and static checks happen in this
process without TensorFlow; anything that loads a model or runs student code
goes through a :class:`Prober`, whose real implementation
(:class:`SandboxProber`) talks to sandboxed worker processes.

A problem with one task's file (missing, refused at intake, corrupt, hostile,
slow, too large) turns that task into one ``error`` result worth 0 with a one-line
message; every other task is still checked, as long as the submission's time budget
lasts (:mod:`grader.grading.budget`). A file intake refused is told as refused, with
its reason (:mod:`grader.grading.refusals`), never as missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Protocol

from grader.core.bank import Bank, Task
from grader.checks.evidence import Evidence
from grader.checks.registry import CHECKS
from grader.core.config import LimitsConfig
from grader.grading.budget import BUDGET_CHECK, Budget, BudgetedProber, BudgetExhausted
from grader.grading.refusals import Refusal, refusal_for
from grader.sandbox.headers import shared_header_reader
from grader.sandbox.prober import ProbeFailed
from grader.static.description import ModelDescription
from grader.static.errors import InspectionError
from grader.static.hdf5 import HeaderReader
from grader.static.limits import DEFAULT_INSPECTION_LIMITS, InspectionLimits
from grader.static.model_file import inspect_model_file
from grader.static.python_source import inspect_python_file
from grader.core.results import ERROR, CheckResult, Outcome

MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")


class Prober(Protocol):
    """The dynamic half of checking; every method runs untrusted files out of process.

    ``timeout`` caps one call in seconds (None: the prober's own per-task limit).
    """

    def probe_model(self, task: Task, path: Path, declared: list | None, *,
                    timeout: float | None = None) -> dict[str, Any]: ...

    def lstm_step_cases(self, path: Path, *, timeout: float | None = None) -> dict[str, Any]: ...

    def predict(self, path: Path, inputs: Any, *, groups: list[list[int]] | None = None,
                timeout: float | None = None) -> Any: ...


EvaluateForecast = Callable[[Task, Path, ModelDescription, Prober], dict[str, Any]]


def inspection_limits(limits: LimitsConfig | Mapping[str, Any]) -> InspectionLimits:
    """Static inspection's bounds under a course's ``[limits]``: files up to ``file_mb``, as intake takes them."""
    return replace(DEFAULT_INSPECTION_LIMITS, file_mb=LimitsConfig.from_table(limits).file_mb)


def file_names(task: Task) -> list[str]:
    """The names a file for ``task`` may have, in the order they are looked for."""
    return [f"{task.id}{suffix}" for suffix in MODEL_SUFFIXES] if task.is_model else [task.file]


def locate(folder: Path, task: Task) -> Path | None:
    """The file submitted for ``task``: ``<id>.keras`` (or a legacy ``.h5``), ``<id>.py``."""
    for name in file_names(task):
        candidate = folder / name
        if candidate.exists() or candidate.is_symlink():
            return candidate
    return None


def missing_message(task: Task) -> str:
    """What a task whose file is not in the submission at all says (a refused file says why instead)."""
    expected = task.file if not task.is_model else f"{task.id}.keras"
    return f"{expected} is missing: the submission must contain it for task {task.id}"


def _task_error(task: Task, message: str, check: str = "file", **details: Any) -> list[CheckResult]:
    return [CheckResult(task.id, check, ERROR, 0.0, task.points, message, "visible", details)]


@dataclass
class SubmissionCheck:
    """What checking one submission produced: results plus per-task static descriptions."""

    results: list[CheckResult]
    descriptions: dict[str, ModelDescription]

    def for_task(self, task_id: str) -> list[CheckResult]:
        return [r for r in self.results if r.task == task_id]


def check_task(task: Task, folder: Path, *, prober: Prober | None = None,
               forecast: EvaluateForecast | None = None, include_hidden: bool = False,
               limits: InspectionLimits | None = None, read_headers: HeaderReader | None = None,
               refused: Iterable[Refusal] = ()) -> tuple[list[CheckResult], ModelDescription | None]:
    """Check one task's file; never raises for a bad file.

    ``refused`` is what intake refused of the submission: a task whose file it refused gets
    the refusal as its result (details ``{"refused": ...}``), not "missing".

    Raises :exc:`BudgetExhausted` when ``prober`` is a :class:`BudgetedProber` whose budget
    is used up before a sandboxed call (:func:`check_submission` turns it into the task's result).
    """
    path = locate(folder, task)
    if path is None:
        refusal = refusal_for(refused, file_names(task))
        if refusal is not None:
            return _task_error(task, refusal.message, refused=refusal.to_dict()), None
        return _task_error(task, missing_message(task)), None
    description = None
    source = None
    try:
        if task.is_model:
            # libhdf5 never parses a student's file in this process: the walk runs in a sandboxed worker.
            description = inspect_model_file(path, limits or DEFAULT_INSPECTION_LIMITS,
                                             read_headers or shared_header_reader())
        else:
            source = inspect_python_file(path)
    except InspectionError as exc:
        return _task_error(task, str(exc)), None
    except Exception as exc:  # a bug or an unforeseen file must not stop the rest of the submission
        return _task_error(task, f"{path.name} could not be inspected ({type(exc).__name__}: {str(exc)[:120]})"), None

    evidence = Evidence(description=description, source={"error": None, **source} if source else None)
    needs = {CHECKS[name].needs for name, _ in task.checks}
    try:
        if include_hidden and prober is not None and "forecast" in needs and description:
            evidence = _with(evidence, forecast=_forecast_evidence(forecast, task, path, description, prober))
        if prober is not None and "probe" in needs:
            if task.is_model:
                # The forecast's forward pass over every held-out window already shows the output shape.
                probe = (evidence.forecast or {}).get("probe")
                if probe is None:
                    declared = list(description.input_shape) if description and description.input_shape else None
                    probe = prober.probe_model(task, path, declared)
                evidence = _with(evidence, probe=probe)
            elif source and "lstm_step" in source.get("functions", {}):
                evidence = _with(evidence, probe=prober.lstm_step_cases(path))
            else:
                evidence = _with(evidence, probe={"error": f"{path.name} defines no function lstm_step, so it cannot be run"})
    except BudgetExhausted:
        raise
    except ProbeFailed as exc:
        return _task_error(task, f"{path.name}: {exc}", check="run"), description
    except Exception as exc:  # a reply that broke the grader's reading must cost this task only
        return _task_error(task, f"{path.name}: the sandbox's result could not be read ({type(exc).__name__})",
                           check="run"), description

    results = []
    for name, points in task.checks:
        spec = CHECKS[name]
        if spec.needs == "probe" and prober is None:
            continue
        if spec.needs == "forecast" and not (include_hidden and prober is not None):
            continue
        try:
            outcome = spec.run(evidence, task)
        except Exception as exc:  # a check bug is reported, never fatal
            outcome = Outcome.error(f"check {name} failed internally ({type(exc).__name__}: {str(exc)[:120]})")
        results.append(CheckResult.from_outcome(task.id, name, outcome, points, spec.visibility))
    return results, description


def _forecast_evidence(forecast: EvaluateForecast | None, task: Task, path: Path, description: ModelDescription,
                       prober: Prober) -> dict[str, Any]:
    """The evaluator's evidence; its own failures become a grader error (reviewed), never a silent fail."""
    if forecast is None:
        return {"grader_error": "no forecast evaluator was configured for this grading"}
    try:
        return forecast(task, path, description, prober)
    except (ProbeFailed, BudgetExhausted):
        raise
    except Exception as exc:  # a grader bug or a broken course must not cost the student points silently
        return {"grader_error": f"the evaluator failed ({type(exc).__name__})"}


def _with(evidence: Evidence, **changes: Any) -> Evidence:
    from dataclasses import replace

    return replace(evidence, **changes)


def check_submission(folder: str | Path, bank: Bank, *, prober: Prober | None = None,
                     forecast: EvaluateForecast | None = None, include_hidden: bool = False,
                     tasks: list[str] | None = None, budget: Budget | None = None,
                     limits: InspectionLimits | None = None, refused: Iterable[Refusal] = ()) -> SubmissionCheck:
    """Check every model task of ``bank`` against the files in ``folder``.

    ``limits`` bound static inspection (:func:`inspection_limits` gives a course's);
    ``refused`` is what intake refused, so those tasks say so instead of "missing".

    With a ``budget``, every sandboxed call gets at most what is left of it; once it is used
    up, each task not checked yet whose file would run in the sandbox is one ``error`` worth 0
    (:meth:`Budget.exhausted_message`, naming the slowest task checked).
    """
    folder = Path(folder)
    refused = tuple(refused)
    read_headers = getattr(prober, "read_headers", None)
    if budget is not None and prober is not None:
        prober = BudgetedProber(prober, budget)
    results: list[CheckResult] = []
    descriptions: dict[str, ModelDescription] = {}
    slowest: tuple[Task, float] | None = None
    for task in bank.tasks:
        if tasks is not None and task.id not in tasks:
            continue
        if budget is not None and prober is not None and budget.exhausted and _sandboxed(task, include_hidden) \
                and locate(folder, task) is not None:   # a missing or refused file says so: no time
            results.extend(_task_error(task, budget.exhausted_message(slowest), check=BUDGET_CHECK))
            continue
        began = budget.spent() if budget is not None else 0.0
        try:
            task_results, description = check_task(task, folder, prober=prober, forecast=forecast,
                                                    include_hidden=include_hidden, limits=limits,
                                                    read_headers=read_headers, refused=refused)
        except BudgetExhausted:
            assert budget is not None   # only a BudgetedProber raises it
            results.extend(_task_error(task, budget.exhausted_message(slowest), check=BUDGET_CHECK))
            continue
        if budget is not None:
            took = budget.spent() - began
            if slowest is None or took > slowest[1]:
                slowest = (task, took)
        results.extend(task_results)
        if description is not None:
            descriptions[task.id] = description
    return SubmissionCheck(results, descriptions)


def _sandboxed(task: Task, include_hidden: bool) -> bool:
    """Whether checking ``task`` may run something in the sandbox."""
    needs = {CHECKS[name].needs for name, _ in task.checks}
    return "probe" in needs or ("forecast" in needs and include_hidden)
