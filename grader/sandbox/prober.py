"""The sandbox's face to the rest of the grader: probes, forecasts and student Python run in workers.

:class:`SandboxProber` is the real :class:`grader.grading.checking.Prober`: it loads models
in a long-lived sandboxed Keras worker, runs student Python in a fresh plain worker each
time, and checks every reply before handing it on. A task the sandbox cannot finish raises
:exc:`ProbeFailed` (:exc:`PredictFailed` when a loaded model fails on the windows), with one
line a student can read. Every method takes ``timeout``: at most that many seconds for this call
(None: the task limit, ``[limits] task_seconds``); the grader passes what is left of the
submission's time budget when that is less.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from grader.core.bank import Task
from grader.core.config import LimitsConfig
from grader.core.errors import GraderError

__all__ = ["ProbeFailed", "PredictFailed", "SandboxProber"]


class ProbeFailed(GraderError):
    """The sandbox could not finish a task (timeout, memory, crash, unloadable file); one line."""


class PredictFailed(GraderError, ValueError):
    """The model loaded but raised while forecasting the windows; one line."""


class SandboxProber:
    """Runs probes in a long-lived sandboxed Keras worker, student Python in fresh plain workers,
    and HDF5 header walks in a plain header worker (:meth:`read_headers`).

    ``isolation`` is what the caller requires of every worker (:mod:`grader.sandbox.levels`).
    A batch passes its pool's ``worker`` and one shared ``headers`` reader.
    """

    def __init__(self, limits_cfg: LimitsConfig | dict[str, Any] | None = None, worker: Any = None,
                 isolation: str = "auto", headers: Any = None):
        from grader.sandbox.limits import Limits

        limits_cfg = limits_cfg or {}
        self.keras_limits = Limits.from_course(limits_cfg, "keras", isolation=isolation)
        self.plain_limits = Limits.from_course(limits_cfg, "plain", isolation=isolation)
        self._worker = worker
        self._owns_worker = worker is None
        self._headers = headers
        self._owns_headers = headers is None

    @property
    def headers(self):
        """The HDF5 header reader (a sandboxed plain worker), started on first use."""
        if self._headers is None:
            from grader.sandbox.headers import SandboxHeaderReader

            self._headers = SandboxHeaderReader(self.plain_limits)
        return self._headers

    def read_headers(self, path: Path, label: str, limits: Any, weights_only: bool) -> dict[str, str]:
        """A :data:`grader.static.hdf5.HeaderReader` that walks the file in the sandbox."""
        return self.headers(path, label, limits, weights_only)

    @property
    def isolation(self) -> dict[str, Any]:
        """What the Keras worker got, once it has started (else {})."""
        return self._worker.isolation if self._worker is not None else {}

    @property
    def worker(self):
        if self._worker is None:
            from grader.sandbox.process import Worker

            self._worker = Worker("keras", self.keras_limits)
        return self._worker

    def close(self) -> None:
        if self._owns_worker and self._worker is not None:
            self._worker.close()
            self._worker = None
        if self._owns_headers and self._headers is not None:
            self._headers.close()
            self._headers = None

    def __enter__(self) -> "SandboxProber":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, op: str, payload: dict, files: dict[str, Path], reply_limit: int,
             timeout: float | None = None) -> dict:
        from grader.sandbox.errors import SandboxError, TaskFailed

        try:
            return self.worker.run(op, payload, files, timeout=timeout, reply_limit=reply_limit)
        except TaskFailed as exc:
            raise ProbeFailed(str(exc)) from None
        except SandboxError as exc:
            raise ProbeFailed(str(exc)) from None

    def probe_model(self, task: Task, path: Path, declared: list | None, *,
                    timeout: float | None = None) -> dict[str, Any]:
        from grader.sandbox.untrusted import (
            PROBE_REPLY_LIMIT,
            UntrustedOutput,
            validate_probe,
        )

        name = f"model{path.suffix.lower()}"
        reply = self._run("probe_model", {"file": name, "kind": task.kind, "declared": declared, "task": task.id},
                          {name: path}, PROBE_REPLY_LIMIT, timeout)
        try:
            return validate_probe(reply)
        except UntrustedOutput as exc:
            raise ProbeFailed(f"the sandbox returned a malformed result ({exc})") from None

    def predict(self, path: Path, inputs: Any, *, groups: list[list[int]] | None = None,
                timeout: float | None = None) -> Any:
        """The model's output on ``inputs``, read from the worker's .npy only after its header is checked.

        ``groups``: which rows may share a forward pass (None: all); see ``ops.predict``.
        """
        import numpy as np

        from grader.sandbox.errors import SandboxError, TaskFailed
        from grader.sandbox.ops import MAX_PREDICT_BYTES
        from grader.sandbox.untrusted import (
            NPY_HEADER_LIMIT,
            PREDICT_REPLY_LIMIT,
            UntrustedOutput,
            read_npy,
        )

        name = f"model{path.suffix.lower()}"
        with tempfile.TemporaryDirectory(prefix="grader-predict-") as tmp:
            source = Path(tmp) / "inputs.npy"
            np.save(source, np.asarray(inputs, dtype="float32"), allow_pickle=False)
            try:
                _, data = self.worker.run_with_output(
                    "predict", {"file": name, "inputs": "inputs.npy", "out": "pred.npy", "groups": groups},
                    {name: path, "inputs.npy": source}, "pred.npy",
                    max_bytes=MAX_PREDICT_BYTES + NPY_HEADER_LIMIT + 16, timeout=timeout,
                    reply_limit=PREDICT_REPLY_LIMIT)
            except TaskFailed as exc:
                raise PredictFailed(str(exc)) from None
            except SandboxError as exc:
                raise ProbeFailed(str(exc)) from None
        try:
            return read_npy(data, dtype="float32", max_bytes=MAX_PREDICT_BYTES, name="the forecasts")
        except UntrustedOutput as exc:
            raise PredictFailed(str(exc)) from None

    def lstm_step_cases(self, path: Path, *, timeout: float | None = None) -> dict[str, Any]:
        """The student's lstm_step on fresh random inputs (a fresh plain worker); compared here, in the grader.

        The sandbox gets the inputs only; the expected values and the seed stay in this process.
        """
        from grader.checks import lstm_cell as lstm_cases
        from grader.sandbox.errors import SandboxError, TaskFailed
        from grader.sandbox.pool import run_once

        cases = lstm_cases.draw_cases()
        try:
            reply = run_once("plain", "run_lstm_step", {"file": "student.py", "cases": cases.payload()},
                             {"student.py": path}, self.plain_limits, timeout=timeout,
                             reply_limit=lstm_cases.REPLY_LIMIT)
        except TaskFailed:
            # The op's own error text may carry whatever the student's code put there.
            return {"error": f"{path.name} stopped the grader's runner before lstm_step returned (for example "
                             "with sys.exit or by replacing built-in functions); define lstm_step and nothing else "
                             "at import time"}
        except SandboxError as exc:
            # A hang, a crash or a memory blow-up: the whole task scores 0.
            raise ProbeFailed(f"while lstm_step ran, {exc}") from None
        source_lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        try:
            outputs = lstm_cases.read_reply(reply, cases, len(source_lines))
        except (lstm_cases.MalformedReply, RecursionError, MemoryError):
            return {"error": f"running {path.name} produced a reply that lstm_step cannot have returned: the "
                             "grader's runner was tampered with"}
        return lstm_cases.compare(cases, outputs, source_lines, path.name)
