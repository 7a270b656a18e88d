"""A submission's time budget: its sandboxed calls together may take ``[limits] submission_seconds``.

Each sandboxed call already has its own limit (``task_seconds``), but a hostile submission could
make every model task hang until that limit, and cost a worker restart each time. So grading
one submission starts a :class:`Budget` (a monotonic clock), and a :class:`BudgetedProber`
gives each call ``min(task_seconds, what is left)``. Once too little is left,
:class:`BudgetExhausted` is raised instead of starting a call, and
:func:`grader.grading.checking.check_submission` scores every task not yet checked as one
``error`` worth 0 that says why (:meth:`Budget.exhausted_message`). Prose runs no student code
and is not charged.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from grader.core.bank import Task
from grader.core.config import LimitsConfig
from grader.core.errors import GraderError
from grader.sandbox.prober import ProbeFailed

__all__ = ["BUDGET_CHECK", "Budget", "BudgetExhausted", "BudgetedProber", "MIN_CALL_SECONDS"]

# The check name of a task's result when it was not checked for lack of time.
BUDGET_CHECK = "budget"
# A call given less than this would only time out and cost the worker a restart.
MIN_CALL_SECONDS = 1.0


class BudgetExhausted(GraderError):
    """Too little of the submission's time budget is left to start another sandboxed call."""


@dataclass(frozen=True)
class Budget:
    """``seconds`` for all of one submission's sandboxed calls, on a clock started at ``started``."""

    seconds: float
    task_seconds: float
    started: float
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)

    @classmethod
    def start(cls, limits: LimitsConfig | Mapping[str, Any], clock: Callable[[], float] = time.monotonic) -> Budget:
        """A budget of ``limits.submission_seconds`` that starts now."""
        cfg = LimitsConfig.from_table(limits)
        return cls(float(cfg.submission_seconds), float(cfg.task_seconds), clock(), clock)

    def spent(self) -> float:
        return max(0.0, self.clock() - self.started)

    def remaining(self) -> float:
        return max(0.0, self.seconds - self.spent())

    @property
    def exhausted(self) -> bool:
        """Whether too little is left to start another sandboxed call (:data:`MIN_CALL_SECONDS`)."""
        return self.remaining() < MIN_CALL_SECONDS

    def timeout(self) -> float:
        """Seconds the next sandboxed call may take: the task limit, or what is left when less.

        Raises :exc:`BudgetExhausted` when too little is left to start one.
        """
        if self.exhausted:
            raise BudgetExhausted(f"the submission's time budget ({self.seconds:g} s) is used up")
        # Rounded down to a tenth, so the call never outlasts the budget and "timed out after 2.3 s" reads well.
        return min(self.task_seconds, math.floor(self.remaining() * 10) / 10)

    def exhausted_message(self, slowest: tuple[Task, float] | None = None) -> str:
        """What a task not checked for lack of time says; names the slowest task checked, if any."""
        text = (f"not checked: this submission used its whole time budget ({self.seconds:g} s, "
                f"[limits] submission_seconds)")
        if slowest is None:
            return text
        task, seconds = slowest
        fix = "make that model smaller or faster" if task.is_model else "make that code faster"
        return f"{text}; the slowest task was {task.id} ({_seconds(seconds)} s): {fix}"


def _seconds(value: float) -> str:
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


class BudgetedProber:
    """A :class:`grader.grading.checking.Prober` whose every call is capped by a :class:`Budget`.

    Each call gets ``budget.timeout()``; when none is left, :exc:`BudgetExhausted` is raised
    before anything reaches the sandbox.
    """

    def __init__(self, prober: Any, budget: Budget):
        self.prober = prober
        self.budget = budget

    def probe_model(self, task: Task, path: Path, declared: list | None, *,
                    timeout: float | None = None) -> dict[str, Any]:
        return self._call(self.prober.probe_model, task, path, declared, timeout=timeout)

    def lstm_step_cases(self, path: Path, *, timeout: float | None = None) -> dict[str, Any]:
        return self._call(self.prober.lstm_step_cases, path, timeout=timeout)

    def predict(self, path: Path, inputs: Any, *, groups: list[list[int]] | None = None,
                timeout: float | None = None) -> Any:
        return self._call(self.prober.predict, path, inputs, groups=groups, timeout=timeout)

    def _call(self, method: Callable[..., Any], *args: Any, timeout: float | None, **kwargs: Any) -> Any:
        seconds = self.budget.timeout()
        if timeout is not None:
            seconds = min(seconds, timeout)
        try:
            return method(*args, timeout=seconds, **kwargs)
        except ProbeFailed as exc:
            if seconds < self.budget.task_seconds and self.budget.exhausted:
                # The call was cut short by the budget, not by the task limit: say so.
                raise type(exc)(f"{exc} (all that was left of this submission's time budget, "
                                f"{self.budget.seconds:g} s, [limits] submission_seconds)") from None
            raise
