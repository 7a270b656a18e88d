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

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["passed", "failed", "error"]
Visibility = Literal["visible", "hidden"]

PASSED: Status = "passed"
FAILED: Status = "failed"
ERROR: Status = "error"


SCORE_DIGITS = 4
# Details only an instructor may see (the q6 cases' seed): dropped from what a student is shown.
PRIVATE_DETAILS = frozenset({"cases_seed"})


def status_for(score: float, max_score: float, *, error: bool = False) -> Status:
    """The one rule for a result's status: ``passed`` if and only if it earned full marks.

    Scores and maxima are compared after the rounding every stored score gets, so a
    forecast a hair behind the reference that rounds to full marks is ``passed``, and a
    result short of full marks is never ``passed``. ``error`` (the check could not be
    run) is kept as it is.
    """
    if error:
        return ERROR
    return PASSED if round(score, SCORE_DIGITS) >= round(max_score, SCORE_DIGITS) else FAILED


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
    needs_review: bool = False

    @classmethod
    def ok(cls, message: str, **details: Any) -> "Outcome":
        return cls(PASSED, message, 1.0, details)

    @classmethod
    def fail(cls, message: str, **details: Any) -> "Outcome":
        return cls(FAILED, message, 0.0, details)

    @classmethod
    def error(cls, message: str, *, needs_review: bool = False, **details: Any) -> "Outcome":
        """The check could not be run; ``needs_review`` when the cause is the grader's, not the student's."""
        return cls(ERROR, message, 0.0, details, needs_review)


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
    needs_review: bool = False
    evidence: Any = None        # what a reviewer reads beside the result (JSON), e.g. the answer text

    def __post_init__(self) -> None:
        # Status follows the score (see status_for); only "error" is taken as given.
        object.__setattr__(self, "status", status_for(self.score, self.max_score, error=self.status == ERROR))

    @property
    def name(self) -> str:
        return f"{self.task}: {self.check}"

    @classmethod
    def from_outcome(
        cls, task: str, check: str, outcome: Outcome, max_score: float,
        visibility: Visibility = "visible",
    ) -> "CheckResult":
        fraction = min(max(outcome.fraction, 0.0), 1.0)
        return cls(task, check, outcome.status, round(max_score * fraction, SCORE_DIGITS), max_score,
                   outcome.message, visibility, dict(outcome.details), outcome.needs_review)

    def to_dict(self, *, public: bool = False) -> dict[str, Any]:
        """The JSON shape; ``public`` drops :data:`PRIVATE_DETAILS` (for anything a student sees)."""
        data = asdict(self)
        data["name"] = self.name
        if public:
            data["details"] = {k: v for k, v in data["details"].items() if k not in PRIVATE_DETAILS}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CheckResult":
        return cls(
            task=data["task"], check=data["check"], status=data["status"],
            score=float(data["score"]), max_score=float(data["max_score"]),
            output=data.get("output", ""), visibility=data.get("visibility", "visible"),
            details=dict(data.get("details") or {}), needs_review=bool(data.get("needs_review", False)),
            evidence=data.get("evidence"),
        )


def total(results: list[CheckResult]) -> tuple[float, float]:
    """(score, max_score) summed over ``results``."""
    return (round(sum(r.score for r in results), 4), round(sum(r.max_score for r in results), 4))
