"""Computed views of the gradebook: the review queue, summaries, a student's history, the class snapshot.

Every view looks at each student's latest submission (greatest
``received_at``, then id) and its current results with effective scores.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import false, func, select
from sqlalchemy.orm import Session

from grader.core.records import ClassSnapshot, Override, apply_overrides, summarise, task_questions
from grader.store.database import GradebookDatabase
from grader.store.rows import (active_overrides, get_student, to_override, to_result_dict, to_run, to_student,
                               to_submission)
from grader.store.similarity import findings as similarity_findings
from grader.store.schema import GradingRow, OverrideRow, ResultRow, RunRow, StudentRow, SubmissionRow

if TYPE_CHECKING:
    from grader.core.bank import Bank

# Latest submission per student: (submission id, received_at).
Latest = dict[str, tuple[int, datetime]]


class ViewsMixin(GradebookDatabase):
    """Read-only views computed from several tables in one transaction."""

    def review_queue(self) -> list[dict[str, Any]]:
        """Current results of each student's latest submission that need review and have no override."""
        def work(session: Session) -> list[dict[str, Any]]:
            _, by_student, _ = _latest_results(session, None)
            return [row for student in sorted(by_student) for row in by_student[student]
                    if row["pending_review"]]
        return self._read(work)

    def student_summary(self, student_id: str,
                        task_questions: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Per-question and per-task totals of the student's latest submission (effective scores).

        The shape is :func:`grader.core.records.summarise`'s.
        """
        def work(session: Session) -> dict[str, Any]:
            student = get_student(session, student_id)
            latest, by_student, overrides = _latest_results(session, [student_id])
            return summarise(to_student(student), latest.get(student_id), by_student.get(student_id, []),
                             overrides.get(student_id, []), task_questions)
        return self._read(work)

    def class_summary(self, task_questions: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        """:meth:`student_summary` for every student, by id (students without submissions included)."""
        return self._read(lambda session: _class_view(session, task_questions)[0])

    def snapshot(self, bank: Bank) -> ClassSnapshot:
        """Everything reports and exports read, in one transaction (see :class:`ClassSnapshot`).

        Its summaries equal :meth:`class_summary` of the bank's task questions and
        its results :meth:`current_results` of each student's latest submission.
        """
        def work(session: Session) -> ClassSnapshot:
            summaries, latest, by_student, overrides = _class_view(session, task_questions(bank))
            runs = [to_run(row).to_dict() for row in session.scalars(select(RunRow).order_by(RunRow.id))]
            return ClassSnapshot(summaries=summaries,
                                 results={student: by_student.get(student, []) for student in sorted(latest)},
                                 overrides={student: [item.to_dict() for item in items]
                                            for student, items in overrides.items()},
                                 runs=runs, similarity=similarity_findings(session))
        return self._read(work)

    def history(self, student_id: str) -> dict[str, Any]:
        """Everything recorded about a student, superseded results and inactive overrides included.

        ``{"student": {...}, "submissions": [...], "results": [...], "overrides": [...],
        "gradings": [...]}``; results and overrides oldest first, results carry
        ``superseded`` and ``run_id``; scores there are the auto scores.
        """
        def work(session: Session) -> dict[str, Any]:
            student = get_student(session, student_id)
            subs = session.scalars(select(SubmissionRow).where(SubmissionRow.student_id == student_id)
                                   .order_by(SubmissionRow.received_at, SubmissionRow.id)).all()
            ids = [s.id for s in subs]
            results = session.scalars(select(ResultRow).where(ResultRow.submission_id.in_(ids))
                                      .order_by(ResultRow.id)).all() if ids else []
            gradings = session.scalars(select(GradingRow).where(GradingRow.submission_id.in_(ids))
                                       .order_by(GradingRow.id)).all() if ids else []
            overrides = session.scalars(select(OverrideRow).where(OverrideRow.student_id == student_id)
                                        .order_by(OverrideRow.id)).all()
            return {
                "student": to_student(student).to_dict(),
                "submissions": [to_submission(s).to_dict() for s in subs],
                "results": [to_result_dict(r, student_id) for r in results],
                "overrides": [to_override(o).to_dict() for o in overrides],
                "gradings": [{"id": g.id, "submission_id": g.submission_id, "run_id": g.run_id,
                              "content_hash": g.content_hash, "question_versions": g.question_versions,
                              "reference_versions": g.reference_versions,
                              "graded_at": g.graded_at.isoformat()} for g in gradings],
            }
        return self._read(work)


def _latest_results(session: Session, student_ids: list[str] | None
                    ) -> tuple[Latest, dict[str, list[dict[str, Any]]], dict[str, list[Override]]]:
    """Latest submission per student, its current results with effective scores, and active overrides."""
    ranked = select(
        SubmissionRow.id, SubmissionRow.student_id, SubmissionRow.received_at,
        func.row_number().over(partition_by=SubmissionRow.student_id,
                               order_by=(SubmissionRow.received_at.desc(), SubmissionRow.id.desc()))
        .label("rank"),
    )
    if student_ids is not None:
        ranked = ranked.where(SubmissionRow.student_id.in_(student_ids))
    ranked_sq = ranked.subquery()
    latest_sq = select(ranked_sq.c.id, ranked_sq.c.student_id).where(ranked_sq.c.rank == 1).subquery()
    latest = {student: (sub_id, received) for sub_id, student, received, rank
              in session.execute(select(ranked_sq).where(ranked_sq.c.rank == 1))}
    rows = session.execute(
        select(ResultRow, latest_sq.c.student_id)
        .join(latest_sq, ResultRow.submission_id == latest_sq.c.id)
        .where(ResultRow.superseded == false())
        .order_by(latest_sq.c.student_id, ResultRow.id)
    ).all()
    by_student: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row, student in rows:
        by_student[student].append(to_result_dict(row, student))
    overrides: dict[str, list[Override]] = defaultdict(list)
    for item in active_overrides(session, student_ids):
        overrides[item.student_id].append(item)
    for student, dicts in by_student.items():
        apply_overrides(dicts, overrides.get(student, []))
    return latest, dict(by_student), dict(overrides)


def _class_view(session: Session, task_questions: Mapping[str, str] | None
                ) -> tuple[list[dict[str, Any]], Latest, dict[str, list[dict[str, Any]]], dict[str, list[Override]]]:
    """Every student's summary, by id, with the latest submissions, results and overrides they came from."""
    students = session.scalars(select(StudentRow).order_by(StudentRow.id)).all()
    latest, by_student, overrides = _latest_results(session, None)
    summaries = [summarise(to_student(s), latest.get(s.id), by_student.get(s.id, []),
                           overrides.get(s.id, []), task_questions) for s in students]
    return summaries, latest, by_student, overrides
