"""The gradebook's grading runs: opened by every grade or batch, closed as finished or interrupted."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.core.records import Run
from grader.store.database import GradebookDatabase
from grader.store.errors import GradebookError
from grader.store.rows import get_run, to_run
from grader.store.schema import RunRow, utcnow

RUN_KINDS = ("grade", "batch", "check")


class RunsMixin(GradebookDatabase):
    """Starting, finishing and listing grading runs."""

    def start_run(self, kind: str, grader_version: str, question_versions: Mapping[str, Any],
                  reference_versions: Mapping[str, Any], *, notes: str | None = None,
                  isolation: Mapping[str, Any] | None = None) -> int:
        """Open a grading run (``kind``: grade, batch or check); returns its id. ``isolation``
        records how the run's sandbox isolated student code."""
        if kind not in RUN_KINDS:
            raise GradebookError(f"run kind must be one of {', '.join(RUN_KINDS)}, got {kind!r}")

        def work(session: Session) -> int:
            row = RunRow(kind=kind, status="running", grader_version=str(grader_version),
                         question_versions=dict(question_versions),
                         reference_versions=dict(reference_versions),
                         host=socket.gethostname(), pid=os.getpid(), notes=notes,
                         isolation=dict(isolation) if isolation is not None else None)
            session.add(row)
            session.flush()
            return row.id
        return self._write(work)

    def finish_run(self, run_id: int, status: str = "finished", *, notes: str | None = None,
                   isolation: Mapping[str, Any] | None = None) -> Run:
        """Close a run as ``finished`` or ``interrupted``; ``isolation`` replaces the recorded one
        (what the workers actually got, known once they started)."""
        if status not in ("finished", "interrupted"):
            raise GradebookError(f"a run finishes as 'finished' or 'interrupted', got {status!r}")

        def work(session: Session) -> Run:
            row = get_run(session, run_id)
            row.status = status
            row.finished_at = utcnow()
            if notes is not None:
                row.notes = notes
            if isolation is not None:
                row.isolation = dict(isolation)
            session.flush()
            return to_run(row)
        return self._write(work)

    def runs(self, status: str | None = None) -> list[Run]:
        """Grading runs, oldest first; only those with ``status`` if given."""
        query = select(RunRow).order_by(RunRow.id)
        if status is not None:
            query = query.where(RunRow.status == status)
        return self._read(lambda s: [to_run(r) for r in s.scalars(query)])

    def interrupt_stale_runs(self) -> list[int]:
        """Mark ``running`` runs of this host whose process is gone as ``interrupted``; their ids."""
        host = socket.gethostname()

        def work(session: Session) -> list[int]:
            stale = [row for row in session.scalars(
                select(RunRow).where(RunRow.status == "running", RunRow.host == host))
                if row.pid is not None and not _process_alive(row.pid)]
            for row in stale:
                row.status, row.finished_at = "interrupted", utcnow()
            return [row.id for row in stale]
        return self._write(work)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
