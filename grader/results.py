"""The one structured shape every check, probe and grading step reports in.

A result is a plain frozen dataclass; ``to_dict()`` gives the JSON shape used by
``grader check --json``, the gradebook, the exports and the reports::

    {"name": "q3_deep_seq2seq: seq2seq_return_sequences", "task": "q3_deep_seq2seq",
     "check": "seq2seq_return_sequences", "status": "failed", "score": 0.0,
     "max_score": 1.5, "output": "layer 3 'lstm_2' (LSTM) has ...",
     "visibility": "visible"}

Decisions are taken from these results only, never from anything a worker
process prints.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

Status = Literal["passed", "failed", "error"]
Visibility = Literal["visible", "hidden"]

PASSED: Status = "passed"
FAILED: Status = "failed"
ERROR: Status = "error"


@dataclass(frozen=True)
class Outcome:
    """What a check function decides, before points are attached.

    ``fraction`` is the share of the check's points earned (1.0 for a pass, 0.0
    for a fail; partial credit for graded checks such as forecast accuracy).
    ``details`` carries numbers for reports (metrics, shapes) and must be
    JSON-serialisable.
    """

    status: Status
    message: str
    fraction: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def ok(cls, message: str, **details: Any) -> "Outcome":
        return cls(PASSED, message, 1.0, details)

    @classmethod
    def fail(cls, message: str, **details: Any) -> "Outcome":
        return cls(FAILED, message, 0.0, details)

    @classmethod
    def error(cls, message: str, **details: Any) -> "Outcome":
        return cls(ERROR, message, 0.0, details)


@dataclass(frozen=True)
class CheckResult:
    """One graded check of one task, in the shape every later stage shares."""

    task: str
    check: str
    status: Status
    score: float
    max_score: float
    output: str
    visibility: Visibility = "visible"
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.task}: {self.check}"

    @classmethod
    def from_outcome(
        cls, task: str, check: str, outcome: Outcome, max_score: float,
        visibility: Visibility = "visible",
    ) -> "CheckResult":
        fraction = min(max(outcome.fraction, 0.0), 1.0)
        return cls(task, check, outcome.status, round(max_score * fraction, 4), max_score,
                   outcome.message, visibility, dict(outcome.details))

    def with_output(self, output: str) -> "CheckResult":
        return replace(self, output=output)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["name"] = self.name
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CheckResult":
        return cls(
            task=data["task"], check=data["check"], status=data["status"],
            score=float(data["score"]), max_score=float(data["max_score"]),
            output=data.get("output", ""), visibility=data.get("visibility", "visible"),
            details=dict(data.get("details") or {}),
        )


def total(results: list[CheckResult]) -> tuple[float, float]:
    """(score, max_score) summed over ``results``."""
    return (round(sum(r.score for r in results), 4), round(sum(r.max_score for r in results), 4))
