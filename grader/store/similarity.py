"""The gradebook's record of shared work: the findings of the last 'grader similarity'."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from grader.store.database import GradebookDatabase
from grader.store.schema import SimilarityRow, utcnow

FIELDS = ("student_a", "student_b", "source", "artifact", "task", "kind", "strength", "evidence")


class SimilarityMixin(GradebookDatabase):
    """Replacing and reading the similarity findings. They never touch a score."""

    def replace_similarity(self, findings: Iterable[Mapping[str, Any]]) -> int:
        """Make ``findings`` (dicts with :data:`FIELDS`) the current ones, in one transaction; returns how many."""
        rows = [dict(finding) for finding in findings]

        def work(session: Session) -> int:
            session.execute(delete(SimilarityRow))
            now = utcnow()
            session.add_all(SimilarityRow(checked_at=now, **{key: row.get(key) for key in FIELDS}) for row in rows)
            return len(rows)

        return self._write(work)

    def similarity_findings(self) -> list[dict[str, Any]]:
        """The current findings, strongest first."""
        return self._read(findings)


def findings(session: Session) -> list[dict[str, Any]]:
    """The current findings as plain dicts (``checked_at`` and :data:`FIELDS`), strongest first."""
    rows = session.scalars(select(SimilarityRow).order_by(SimilarityRow.strength.desc(), SimilarityRow.id))
    return [{"checked_at": row.checked_at.isoformat(), **{key: getattr(row, key) for key in FIELDS}} for row in rows]
