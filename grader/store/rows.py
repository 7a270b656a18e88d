"""From ORM rows to plain records, and the single-row lookups every part of the gradebook shares.

The ``to_*`` functions are the only place rows become
:mod:`grader.core.records` records or result dicts; ``get_*`` raise the
:mod:`grader.store.errors` exception that names the missing object.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, true
from sqlalchemy.orm import Session

from grader.core.records import Override, Run, Student, Submission
from grader.store.errors import NoRun, NoStudent, NoSubmission
from grader.store.schema import OverrideRow, ResultRow, RunRow, StudentRow, SubmissionRow


def to_student(row: StudentRow) -> Student:
    return Student(row.id, row.name, row.created_at)


def to_submission(row: SubmissionRow) -> Submission:
    return Submission(row.id, row.student_id, row.received_at, row.content_hash, dict(row.files),
                      row.store_path, row.source)


def to_run(row: RunRow) -> Run:
    return Run(row.id, row.kind, row.status, row.started_at, row.finished_at, row.grader_version,
               dict(row.question_versions), dict(row.reference_versions), row.host, row.pid, row.notes,
               dict(row.isolation) if row.isolation else None)


def to_override(row: OverrideRow) -> Override:
    return Override(row.id, row.student_id, row.task, row.check, row.manual_score, row.comment,
                    row.who, row.created_at, row.active)


def to_result_dict(row: ResultRow, student_id: str) -> dict[str, Any]:
    """The result dict of :mod:`grader.core.records` with the auto score as ``score`` (no overrides yet)."""
    return {
        "id": row.id, "submission_id": row.submission_id, "run_id": row.run_id,
        "student_id": student_id, "task": row.task, "check": row.check,
        "name": f"{row.task}: {row.check}", "status": row.status,
        "auto_score": row.auto_score, "max_score": row.max_score, "score": row.auto_score,
        "overridden": False, "override_id": None, "needs_review": row.needs_review,
        "pending_review": row.needs_review, "output": row.output, "visibility": row.visibility,
        "details": dict(row.details or {}), "evidence": row.evidence,
        "superseded": row.superseded, "created_at": row.created_at.isoformat(),
    }


def get_student(session: Session, student_id: str) -> StudentRow:
    """The student's row; :class:`NoStudent` if absent."""
    row = session.get(StudentRow, student_id)
    if row is None:
        raise NoStudent(f"no student {student_id!r} in the gradebook")
    return row


def get_submission(session: Session, submission_id: int, *, lock: bool = False) -> SubmissionRow:
    """The submission's row (locked for update if ``lock``); :class:`NoSubmission` if absent."""
    query = select(SubmissionRow).where(SubmissionRow.id == submission_id)
    row = session.scalars(query.with_for_update() if lock else query).first()
    if row is None:
        raise NoSubmission(f"no submission {submission_id} in the gradebook")
    return row


def get_run(session: Session, run_id: int) -> RunRow:
    """The grading run's row; :class:`NoRun` if absent."""
    row = session.get(RunRow, run_id)
    if row is None:
        raise NoRun(f"no grading run {run_id} in the gradebook")
    return row


def active_overrides(session: Session, student_ids: list[str] | None) -> list[Override]:
    """Active overrides of ``student_ids`` (everyone's if None), oldest first."""
    query = select(OverrideRow).where(OverrideRow.active == true()).order_by(OverrideRow.id)
    if student_ids is not None:
        query = query.where(OverrideRow.student_id.in_(student_ids))
    return [to_override(row) for row in session.scalars(query)]
