"""The gradebook's students and their submissions (a submission creates its student if new)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.core import identity
from grader.core.records import Student, Submission
from grader.store.database import GradebookDatabase
from grader.store.errors import GradebookError
from grader.store.rows import get_student, get_submission, to_student, to_submission
from grader.store.schema import StudentRow, SubmissionRow, utcnow


class StudentsMixin(GradebookDatabase):
    """Adding and finding students and submissions."""

    # -- students

    def add_student(self, student_id: str, name: str | None = None) -> Student:
        """Add a student, or update the name of an existing one when ``name`` is given."""
        student_id = _check_student_id(student_id)

        def work(session: Session) -> Student:
            return to_student(_ensure_student(session, student_id, name))
        return self._write(work)

    def find_student(self, student_id: str) -> Student:
        """The student with ``student_id``; :class:`~grader.store.errors.NoStudent` if absent."""
        student_id = unicodedata.normalize("NFC", student_id)

        def work(session: Session) -> Student:
            return to_student(get_student(session, student_id))
        return self._read(work)

    def students(self) -> list[Student]:
        """Every student, by id."""
        return self._read(lambda s: [to_student(r) for r in s.scalars(select(StudentRow).order_by(StudentRow.id))])

    # -- submissions

    def add_submission(self, student_id: str, files: Mapping[str, str], content_hash: str,
                       store_path: str, source: str, *, received_at: datetime | None = None) -> int:
        """Record a received submission (``files``: relative path -> sha256); returns its id.

        The student is created if new.
        """
        student_id = _check_student_id(student_id)
        if not re.fullmatch(r"[0-9a-f]{64}", content_hash or ""):
            raise GradebookError(f"content hash must be 64 lowercase hex digits, got {content_hash!r}")

        def work(session: Session) -> int:
            _ensure_student(session, student_id, None)
            row = SubmissionRow(student_id=student_id, content_hash=content_hash, files=dict(files),
                                store_path=str(store_path), source=str(source),
                                received_at=received_at or utcnow())
            session.add(row)
            session.flush()
            return row.id
        return self._write(work)

    def find_submission(self, submission_id: int) -> Submission:
        """The submission with ``submission_id``; :class:`~grader.store.errors.NoSubmission` if absent."""
        return self._read(lambda s: to_submission(get_submission(s, submission_id)))

    def latest_submission(self, student_id: str) -> Submission | None:
        """The student's newest submission, or None if they have none."""
        student_id = unicodedata.normalize("NFC", student_id)

        def work(session: Session) -> Submission | None:
            get_student(session, student_id)
            row = session.scalars(
                select(SubmissionRow).where(SubmissionRow.student_id == student_id)
                .order_by(SubmissionRow.received_at.desc(), SubmissionRow.id.desc()).limit(1)
            ).first()
            return to_submission(row) if row else None
        return self._read(work)

    def submissions(self, student_id: str | None = None) -> list[Submission]:
        """Submissions of one student (or everyone), oldest first."""
        query = select(SubmissionRow).order_by(SubmissionRow.received_at, SubmissionRow.id)
        if student_id is not None:
            query = query.where(SubmissionRow.student_id == student_id)
        return self._read(lambda s: [to_submission(r) for r in s.scalars(query)])


def _ensure_student(session: Session, student_id: str, name: str | None) -> StudentRow:
    row = session.get(StudentRow, student_id)
    if row is None:
        row = StudentRow(id=student_id, name=name)
        session.add(row)
        session.flush()
    elif name is not None and row.name != name:
        row.name = name
    return row


def _check_student_id(student_id: str) -> str:
    """``student_id`` under the one rule of :mod:`grader.core.identity` (NFC-normalised)."""
    return identity.student_id(student_id)
