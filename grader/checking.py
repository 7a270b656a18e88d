"""Checking one submission folder: static inspection first, sandboxed probes second.

``check_submission`` is the single place where a task's evidence is gathered
and its checks are run. Static inspection and static checks happen in this
process without TensorFlow; anything that loads a model or runs student code
goes through a :class:`Prober`, whose real implementation
(:class:`SandboxProber`) talks to sandboxed worker processes.

A problem with one task's file (missing, corrupt, hostile, slow, too large)
turns that task into one ``error`` result worth 0 with a one-line message;
every other task is still checked.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

from grader.bank import Bank, Task
from grader.checks import CHECKS, Evidence
from grader.description import ModelDescription
from grader.inspection import InspectionError, InspectionLimits, inspect_model_file, inspect_python_file
from grader.results import ERROR, CheckResult, Outcome

MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")
LSTM_TOLERANCE = 1e-5


class ProbeFailed(Exception):
    """The sandbox could not finish a task (timeout, memory, crash, unloadable file); one line."""


class PredictFailed(ValueError):
    """The model loaded but raised while forecasting the windows; one line."""


class Prober(Protocol):
    """The dynamic half of checking; every method runs untrusted files out of process."""

    def probe_model(self, task: Task, path: Path, declared: list | None) -> dict[str, Any]: ...

    def lstm_step_cases(self, path: Path) -> dict[str, Any]: ...

    def predict(self, path: Path, inputs: Any) -> Any: ...


ForecastEvaluator = Callable[[Task, Path, ModelDescription, Prober], dict[str, Any]]


def locate(folder: Path, task: Task) -> Path | None:
    """The file submitted for ``task``: ``<id>.keras`` (or a legacy ``.h5``), ``<id>.py``."""
    if task.is_model:
        for suffix in MODEL_SUFFIXES:
            candidate = folder / f"{task.id}{suffix}"
            if candidate.exists() or candidate.is_symlink():
                return candidate
        return None
    candidate = folder / task.file
    return candidate if candidate.exists() or candidate.is_symlink() else None


def _task_error(task: Task, message: str, check: str = "file") -> list[CheckResult]:
    return [CheckResult(task.id, check, ERROR, 0.0, task.points, message, "visible")]


@dataclass
class SubmissionCheck:
    """What checking one submission produced: results plus per-task static descriptions."""

    results: list[CheckResult]
    descriptions: dict[str, ModelDescription]

    def for_task(self, task_id: str) -> list[CheckResult]:
        return [r for r in self.results if r.task == task_id]


def check_task(task: Task, folder: Path, *, prober: Prober | None = None,
               forecast: ForecastEvaluator | None = None, include_hidden: bool = False,
               limits: InspectionLimits | None = None) -> tuple[list[CheckResult], ModelDescription | None]:
    """Check one task's file; never raises for a bad file."""
    path = locate(folder, task)
    if path is None:
        expected = task.file if not task.is_model else f"{task.id}.keras"
        return _task_error(task, f"{expected} is missing: the submission must contain it for task {task.id}"), None
    description = None
    source = None
    try:
        if task.is_model:
            description = inspect_model_file(path, limits) if limits else inspect_model_file(path)
        else:
            source = inspect_python_file(path)
    except InspectionError as exc:
        return _task_error(task, str(exc)), None
    except Exception as exc:  # a bug or an unforeseen file must not stop the rest of the submission
        return _task_error(task, f"{path.name} could not be inspected ({type(exc).__name__}: {str(exc)[:120]})"), None

    evidence = Evidence(description=description, source={"error": None, **source} if source else None)
    needs = {CHECKS[name].needs for name, _ in task.checks}
    try:
        if include_hidden and forecast is not None and prober is not None and "forecast" in needs and description:
            evidence = _with(evidence, forecast=forecast(task, path, description, prober))
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
    except ProbeFailed as exc:
        return _task_error(task, f"{path.name}: {exc}", check="run"), description

    results = []
    for name, points in task.checks:
        spec = CHECKS[name]
        if spec.needs == "probe" and prober is None:
            continue
        if spec.needs == "forecast" and not (include_hidden and forecast is not None and prober is not None):
            continue
        try:
            outcome = spec.run(evidence, task)
        except Exception as exc:  # a check bug is reported, never fatal
            outcome = Outcome.error(f"check {name} failed internally ({type(exc).__name__}: {str(exc)[:120]})")
        results.append(CheckResult.from_outcome(task.id, name, outcome, points, spec.visibility))
    return results, description


def _with(evidence: Evidence, **changes: Any) -> Evidence:
    from dataclasses import replace

    return replace(evidence, **changes)


def check_submission(folder: str | Path, bank: Bank, *, prober: Prober | None = None,
                     forecast: ForecastEvaluator | None = None, include_hidden: bool = False,
                     tasks: list[str] | None = None) -> SubmissionCheck:
    """Check every model task of ``bank`` against the files in ``folder``."""
    folder = Path(folder)
    results: list[CheckResult] = []
    descriptions: dict[str, ModelDescription] = {}
    for task in bank.tasks:
        if tasks is not None and task.id not in tasks:
            continue
        task_results, description = check_task(task, folder, prober=prober, forecast=forecast,
                                                include_hidden=include_hidden)
        results.extend(task_results)
        if description is not None:
            descriptions[task.id] = description
    return SubmissionCheck(results, descriptions)


# --------------------------------------------------------------------------- the sandboxed prober

class SandboxProber:
    """Runs probes in a long-lived sandboxed Keras worker and student Python in fresh plain workers."""

    def __init__(self, limits_cfg: dict[str, Any] | None = None, worker: Any = None):
        from grader.sandbox import Limits

        limits_cfg = limits_cfg or {}
        self.keras_limits = Limits.from_course(limits_cfg, "keras")
        self.plain_limits = Limits.from_course(limits_cfg, "plain")
        self._worker = worker
        self._owns_worker = worker is None

    @property
    def worker(self):
        if self._worker is None:
            from grader.sandbox import Worker

            self._worker = Worker("keras", self.keras_limits)
        return self._worker

    def close(self) -> None:
        if self._owns_worker and self._worker is not None:
            self._worker.close()
            self._worker = None

    def __enter__(self) -> "SandboxProber":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, op: str, payload: dict, files: dict[str, Path]) -> dict:
        from grader.sandbox import SandboxError, TaskFailed

        try:
            return self.worker.run(op, payload, files)
        except TaskFailed as exc:
            raise ProbeFailed(str(exc)) from None
        except SandboxError as exc:
            raise ProbeFailed(str(exc)) from None

    def probe_model(self, task: Task, path: Path, declared: list | None) -> dict[str, Any]:
        name = f"model{path.suffix.lower()}"
        return self._run("probe_model", {"file": name, "kind": task.kind, "declared": declared, "task": task.id},
                         {name: path})

    def predict(self, path: Path, inputs: Any) -> Any:
        import numpy as np

        from grader.sandbox import SandboxError, TaskFailed

        name = f"model{path.suffix.lower()}"
        with tempfile.TemporaryDirectory(prefix="grader-predict-") as tmp:
            source = Path(tmp) / "inputs.npy"
            np.save(source, np.asarray(inputs, dtype="float32"), allow_pickle=False)
            try:
                return self.worker.run_with_output(
                    "predict", {"file": name, "inputs": "inputs.npy", "out": "pred.npy"},
                    {name: path, "inputs.npy": source}, "pred.npy")
            except TaskFailed as exc:
                raise PredictFailed(str(exc)) from None
            except SandboxError as exc:
                raise ProbeFailed(str(exc)) from None

    def lstm_step_cases(self, path: Path) -> dict[str, Any]:
        """Keras's LSTMCell on random cases (keras worker), the student's lstm_step on the same (fresh plain worker)."""
        import numpy as np

        from grader.sandbox import SandboxError, TaskFailed, run_once

        with tempfile.TemporaryDirectory(prefix="grader-lstm-") as tmp:
            tmp_path = Path(tmp)
            try:
                self.worker.run_with_output("keras_lstm_cases", {"seed": 7}, {}, "cases.npz",
                                            dest=tmp_path / "cases.npz")
            except SandboxError as exc:
                raise ProbeFailed(f"the reference LSTM cell could not run: {exc}") from None
            try:
                reply = run_once("plain", "run_lstm_step", {"file": "student.py"},
                                 {"student.py": path, "cases.npz": tmp_path / "cases.npz"},
                                 self.plain_limits, output="outputs.npz", dest=tmp_path / "outputs.npz")
            except TaskFailed as exc:
                return {"error": f"running lstm_step: {exc}"}
            except SandboxError as exc:
                # A hang, a crash or a memory blow-up: the whole task scores 0.
                raise ProbeFailed(f"running lstm_step {exc}") from None
            with np.load(tmp_path / "cases.npz", allow_pickle=False) as data:
                cases = {key: data[key] for key in data.files}
            outputs: dict[str, Any] = {}
            if (tmp_path / "outputs.npz").exists():
                with np.load(tmp_path / "outputs.npz", allow_pickle=False) as data:
                    outputs = {key: data[key] for key in data.files}
        return {"cases": compare_lstm_cases(cases, outputs, reply.get("errors", {})), "tolerance": LSTM_TOLERANCE}


def compare_lstm_cases(cases: dict[str, Any], outputs: dict[str, Any], errors: dict[str, str]) -> list[dict]:
    """Per case: the largest deviation of the student's (h, c) from Keras's, with a hint for common mistakes."""
    import numpy as np

    from reference_models.lstm_cell import lstm_step as reference

    results = []
    n_cases = len({key.split("_", 1)[0] for key in cases})
    for n in range(n_cases):
        x = cases[f"{n}_x"]
        batch, input_dim = x.shape
        units = cases[f"{n}_h"].shape[1]
        entry: dict[str, Any] = {"batch": int(batch), "input_dim": int(input_dim), "units": int(units)}
        if str(n) in errors:
            entry["error"] = errors[str(n)]
            results.append(entry)
            continue
        h, c = outputs.get(f"{n}_h"), outputs.get(f"{n}_c")
        expected_h, expected_c = cases[f"{n}_h_expected"], cases[f"{n}_c_expected"]
        if h is None or c is None or h.shape != expected_h.shape or c.shape != expected_c.shape:
            got = f"{getattr(h, 'shape', None)} and {getattr(c, 'shape', None)}"
            entry["error"] = f"lstm_step must return (h, c) each of shape {expected_h.shape}; got {got}"
            results.append(entry)
            continue
        with np.errstate(invalid="ignore"):
            entry["h_error"] = float(np.nan_to_num(np.abs(h - expected_h), nan=np.inf).max())
            entry["c_error"] = float(np.nan_to_num(np.abs(c - expected_c), nan=np.inf).max())
        if max(entry["h_error"], entry["c_error"]) > LSTM_TOLERANCE:
            entry["hint"] = _lstm_hint(cases, n, h, c, reference)
        results.append(entry)
    return results


def _lstm_hint(cases: dict[str, Any], n: int, h: Any, c: Any, reference: Any) -> str:
    """Name the classic mistake the student's output matches, if any."""
    import numpy as np

    args = [cases[f"{n}_{k}"] for k in ("x", "h", "c", "kernel", "recurrent_kernel", "bias")]
    units = args[1].shape[1]

    def reorder(order: tuple[int, int, int, int]) -> tuple[Any, Any]:
        def perm(w):
            blocks = np.split(w, 4, axis=-1)
            return np.concatenate([blocks[i] for i in order], axis=-1)
        return reference(args[0], args[1], args[2], perm(args[3]), perm(args[4]), perm(args[5]))

    guesses = {
        "the gates look ordered i, f, o, c: Keras stores them as i, f, c, o": reorder((0, 1, 3, 2)),
        "the gates look ordered f, i, c, o: Keras stores them as i, f, c, o": reorder((1, 0, 2, 3)),
    }
    z = args[0] @ args[3] + args[1] @ args[4] + args[5]
    i, f, g, o = np.split(z, 4, axis=-1)
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    c_new = sig(f) * args[2] + sig(i) * np.tanh(g)
    guesses["h looks like o * c: the hidden state is o * tanh(c)"] = (sig(o) * c_new, c_new)
    for hint, (gh, gc) in guesses.items():
        if np.allclose(h, gh, atol=1e-4) and np.allclose(c, gc, atol=1e-4):
            return hint
    del units
    return "check the gate order (i, f, c, o), the sigmoid gates, the tanh candidate, and h = o * tanh(c)"


def copy_into(files: dict[str, Path], dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for name, source in files.items():
        shutil.copyfile(source, dest / name)
