"""The gradebook's manual scores: overrides keyed by student, task and (optionally) check.

Keyed so, not by result row, an override survives every regrade; a newer
override of the same key deactivates the older one, which stays as history.
"""

from __future__ import annotations

import math

from sqlalchemy import select, true, update
from sqlalchemy.orm import Session

from grader.core.records import Override
from grader.store.database import GradebookDatabase
from grader.store.errors import GradebookError, NoStudent
from grader.store.rows import to_override
from grader.store.schema import OverrideRow, StudentRow


class OverridesMixin(GradebookDatabase):
    """Setting, clearing and listing overrides."""

    def set_override(self, student_id: str, task: str, score: float, comment: str, who: str,
                     check: str | None = None) -> Override:
        """Give ``student_id`` a manual score for a task (or one check of it).

        It wins over the auto score in every later regrade; an earlier override
        of the same student, task and check is deactivated and kept as history.
        """
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score) or score < 0:
            raise GradebookError(f"an override score must be a finite number >= 0, got {score!r}")
        if not task:
            raise GradebookError("an override needs a task id")
        if not who:
            raise GradebookError("an override must say who set it")

        def work(session: Session) -> Override:
            student = session.scalars(select(StudentRow).where(StudentRow.id == student_id)
                                      .with_for_update()).first()
            if student is None:
                raise NoStudent(f"no student {student_id!r} in the gradebook")
            _deactivate(session, student_id, task, check)
            row = OverrideRow(student_id=student_id, task=task, check=check, manual_score=float(score),
                              comment=comment or "", who=who, active=True)
            session.add(row)
            session.flush()
            return to_override(row)
        return self._write(work)

    def clear_override(self, student_id: str, task: str, check: str | None = None) -> int:
        """Deactivate the student's override of a task (or check); returns how many were active."""
        return self._write(lambda s: _deactivate(s, student_id, task, check))

    def overrides(self, student_id: str | None = None, *, include_inactive: bool = False) -> list[Override]:
        """Overrides (active ones unless ``include_inactive``), oldest first."""
        query = select(OverrideRow).order_by(OverrideRow.id)
        if student_id is not None:
            query = query.where(OverrideRow.student_id == student_id)
        if not include_inactive:
            query = query.where(OverrideRow.active == true())
        return self._read(lambda s: [to_override(r) for r in s.scalars(query)])


def _deactivate(session: Session, student_id: str, task: str, check: str | None) -> int:
    same_check = OverrideRow.check.is_(None) if check is None else OverrideRow.check == check
    result = session.execute(update(OverrideRow)
                             .where(OverrideRow.student_id == student_id, OverrideRow.task == task,
                                    same_check, OverrideRow.active == true())
                             .values(active=False))
    return int(result.rowcount or 0)
