"""Manual scores: what an instructor may set, checked against the bank before the gradebook records it."""

from __future__ import annotations

from typing import Any

from grader.core.bank import Bank
from grader.core.errors import GraderError


class OverrideError(GraderError):
    """The override names an unknown task or check, or a score outside its range."""


def set_override(gradebook: Any, bank: Bank, student: str, task_or_question: str, score: float, comment: str,
                 who: str, check: str | None = None) -> tuple[str, Any]:
    """Record a manual score for ``student``; returns (task id, the gradebook's override record).

    ``task_or_question`` is a task id, a prose task or a question id (``Q3``: its prose part).
    The score must lie between 0 and the task's (or, with ``check``, the check's) points.
    """
    task_id = bank.resolve_task(task_or_question)
    limit = bank.task_points()[task_id]
    if check is not None:
        checks = _check_points(bank, task_id)
        if check not in checks:
            raise OverrideError(f"task {task_id} has no check {check!r} (checks: {', '.join(checks)})")
        limit = checks[check]
    if not 0 <= score <= limit:
        raise OverrideError(f"the score must be between 0 and {limit:g} for {task_id}{':' + check if check else ''}")
    return task_id, gradebook.set_override(student, task_id, score, comment, who, check=check)


def _check_points(bank: Bank, task_id: str) -> dict[str, float]:
    """Check name -> points of a task; a prose task has its one ``rubric`` check."""
    for task in bank.tasks:
        if task.id == task_id:
            return dict(task.checks)
    return {"rubric": bank.task_points()[task_id]}
