"""What the gradebook records, as plain data: records, effective scores, summaries, the class snapshot.

Both sides of the store share this module: :mod:`grader.store` turns its rows
into these records and computes effective scores and summaries with these
functions, and :mod:`grader.report` reads a :class:`ClassSnapshot` and never
sees the store. Nothing here touches a database.

A *result dict* (one current result of a submission) has the
:class:`~grader.core.results.CheckResult` keys (``score`` is the effective
score) plus ``id``, ``submission_id``, ``run_id``, ``student_id``,
``auto_score``, ``overridden``, ``override_id``, ``needs_review``,
``pending_review`` (needs review and not overridden), ``evidence``,
``superseded`` and ``created_at`` (ISO 8601).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from grader.core.results import status_for

if TYPE_CHECKING:
    from grader.core.bank import Bank


# --------------------------------------------------------------------------- records

def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class _Record:
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; datetimes as ISO 8601 strings (UTC)."""
        return _plain(asdict(self))  # type: ignore[call-overload]


@dataclass(frozen=True)
class Student(_Record):
    id: str
    name: str | None
    created_at: datetime


@dataclass(frozen=True)
class Submission(_Record):
    id: int
    student_id: str
    received_at: datetime
    content_hash: str
    files: dict[str, str]
    store_path: str
    source: str


@dataclass(frozen=True)
class Run(_Record):
    id: int
    kind: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    grader_version: str
    question_versions: dict[str, Any]
    reference_versions: dict[str, Any]
    host: str | None
    pid: int | None
    notes: str | None
    isolation: dict[str, Any] | None = None   # the sandbox's level and what it applied (see grader.sandbox.levels)


@dataclass(frozen=True)
class Override(_Record):
    id: int
    student_id: str
    task: str
    check: str | None
    manual_score: float
    comment: str
    who: str
    created_at: datetime
    active: bool


# --------------------------------------------------------------------------- pure helpers

def grading_fingerprint(content_hash: str, question_versions: Mapping[str, Any],
                        reference_versions: Mapping[str, Any]) -> str:
    """sha256 of what a grading depends on: the files and the question and reference versions."""
    payload = json.dumps({"content": content_hash, "questions": dict(question_versions),
                          "references": dict(reference_versions)},
                         sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def question_of(task: str, task_questions: Mapping[str, str] | None = None) -> str:
    """The question a task belongs to: from ``task_questions``, else its prefix (``q3_prose`` -> ``Q3``)."""
    if task_questions and task in task_questions:
        return task_questions[task]
    match = re.match(r"[qQ](\d+)(?:_|$)", task)
    return f"Q{int(match.group(1))}" if match else task.split("_", 1)[0].upper()


def task_questions(bank: Bank) -> dict[str, str]:
    """Task id -> question id for every task of ``bank``, prose tasks (``q3_prose``) included."""
    mapping = {task.id: task.question for task in bank.tasks}
    mapping.update({question.prose_task: question.id for question in bank.questions})
    return mapping


def apply_overrides(rows: list[dict[str, Any]], overrides: Iterable[Override]) -> list[dict[str, Any]]:
    """Set each result row's effective ``score`` from the active overrides of its student.

    A check-level override replaces that row's score. A task-level override
    (``check is None``) decides the task's total: it is spread over the task's
    rows in proportion to their points, so sums stay exact. Newest active wins.
    """
    by_key: dict[tuple[str, str | None], Override] = {}
    for item in sorted((o for o in overrides if o.active), key=lambda o: o.id):
        by_key[(item.task, item.check)] = item
    by_task: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_task[row["task"]].append(row)
    for task, task_rows in by_task.items():
        whole = by_key.get((task, None))
        if whole is not None:
            weights = [max(r["max_score"], 0.0) for r in task_rows]
            if sum(weights) <= 0:
                weights = [1.0] + [0.0] * (len(task_rows) - 1)
            shares = _spread(whole.manual_score, weights)
            for row, share in zip(task_rows, shares):
                row.update(score=share, overridden=True, override_id=whole.id, pending_review=False,
                           status=status_for(share, row["max_score"]))
            continue
        for row in task_rows:
            item = by_key.get((task, row["check"]))
            if item is not None:
                row.update(score=item.manual_score, overridden=True, override_id=item.id, pending_review=False,
                           status=status_for(item.manual_score, row["max_score"]))
    return rows


def _spread(amount: float, weights: list[float]) -> list[float]:
    total = sum(weights)
    shares = [round(amount * w / total, 4) for w in weights]
    shares[-1] = round(amount - sum(shares[:-1]), 4)
    return shares


# --------------------------------------------------------------------------- summaries

def summarise(student: Student, latest: tuple[int, datetime] | None, rows: list[dict[str, Any]],
              overrides: list[Override], task_questions: Mapping[str, str] | None) -> dict[str, Any]:
    """Per-question and per-task totals from a student's current result rows (effective scores).

    ``latest`` is the id and arrival time of the submission ``rows`` belong to.
    Shape::

        {"student_id", "name", "submission_id", "received_at", "graded",
         "score", "max_score", "overridden", "pending_review",
         "questions": {"Q3": {"score", "max_score", "tasks": {
             "q3_deep_seq2seq": {"score", "auto_score", "max_score",
                                 "overridden", "pending_review", "checks"}}}}}
    """
    tasks: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = tasks.setdefault(row["task"], {"score": 0.0, "auto_score": 0.0, "max_score": 0.0,
                                               "overridden": False, "pending_review": False, "checks": 0})
        entry["score"] += row["score"]
        entry["auto_score"] += row["auto_score"]
        entry["max_score"] += row["max_score"]
        entry["overridden"] |= row["overridden"]
        entry["pending_review"] |= row["pending_review"]
        entry["checks"] += 1
    # A task-level override of a task with no results still counts (e.g. a file graded by hand).
    newest_whole = {o.task: o for o in sorted(overrides, key=lambda o: o.id) if o.active and o.check is None}
    for task, item in newest_whole.items():
        entry = tasks.setdefault(task, {"score": 0.0, "auto_score": 0.0, "max_score": 0.0,
                                        "overridden": True, "pending_review": False, "checks": 0})
        entry["score"], entry["overridden"] = item.manual_score, True
    questions: dict[str, dict[str, Any]] = {}
    for task in sorted(tasks):
        entry = tasks[task]
        for key in ("score", "auto_score", "max_score"):
            entry[key] = round(entry[key], 4)
        question = questions.setdefault(question_of(task, task_questions),
                                        {"score": 0.0, "max_score": 0.0, "tasks": {}})
        question["tasks"][task] = entry
        question["score"] = round(question["score"] + entry["score"], 4)
        question["max_score"] = round(question["max_score"] + entry["max_score"], 4)
    ordered = dict(sorted(questions.items(), key=lambda kv: _question_key(kv[0])))
    return {
        "student_id": student.id, "name": student.name,
        "submission_id": latest[0] if latest else None,
        "received_at": latest[1].isoformat() if latest else None,
        "graded": bool(rows),
        "score": round(sum(q["score"] for q in ordered.values()), 4),
        "max_score": round(sum(q["max_score"] for q in ordered.values()), 4),
        "overridden": any(t["overridden"] for t in tasks.values()),
        "pending_review": sum(1 for row in rows if row["pending_review"]),
        "questions": ordered,
    }


def _question_key(question: str) -> tuple[int, str]:
    match = re.fullmatch(r"Q(\d+)", question)
    return (int(match.group(1)), "") if match else (1 << 30, question)


# --------------------------------------------------------------------------- the read model

@dataclass(frozen=True)
class ClassSnapshot:
    """The whole class as reports and exports read it, taken from the gradebook in one transaction.

    ``summaries``: one :func:`summarise` dict per student, by id (students
    without submissions included). ``results``: student id -> the result dicts
    of their latest submission, oldest first (an empty list for a submission
    not graded yet; students without submissions are absent). ``overrides``:
    student id -> their active overrides as ``Override.to_dict()``, oldest
    first. ``runs``: every grading run as ``Run.to_dict()``, oldest first.
    ``similarity``: the findings of the last ``grader similarity``, strongest first.
    """

    summaries: list[dict[str, Any]]
    results: dict[str, list[dict[str, Any]]]
    overrides: dict[str, list[dict[str, Any]]]
    runs: list[dict[str, Any]]
    similarity: list[dict[str, Any]] = field(default_factory=list)
    _index: dict[str, dict[tuple[str, str], dict[str, Any]]] = field(default_factory=dict, repr=False,
                                                                     compare=False)

    @property
    def graded(self) -> list[dict[str, Any]]:
        """The summaries of students whose latest submission has results."""
        return [row for row in self.summaries if row["graded"]]

    def summary(self, student_id: str) -> dict[str, Any] | None:
        """The student's summary, or None for a student not in the gradebook."""
        for row in self.summaries:
            if row["student_id"] == student_id:
                return row
        return None

    def result(self, student_id: str, task: str, check: str) -> dict[str, Any] | None:
        """The student's current result of one check, or None."""
        index = self._index.get(student_id)
        if index is None:
            rows = self.results.get(student_id, [])
            # Built once per student on first use; the dataclass is frozen, its cache is not.
            index = self._index[student_id] = {(r["task"], r["check"]): r for r in rows}
        return index.get((task, check))
