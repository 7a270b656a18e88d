"""The gradebook's results: each recorded set supersedes the last, and what it was graded against is kept."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import false, select, update
from sqlalchemy.orm import Session

from grader.core.records import apply_overrides, grading_fingerprint
from grader.core.results import CheckResult
from grader.store.database import GradebookDatabase
from grader.store.errors import GradebookError
from grader.store.rows import active_overrides, get_run, get_submission, to_result_dict
from grader.store.schema import GradingRow, ResultRow, utcnow

RESULT_STATUSES = ("passed", "failed", "error")


class ResultsMixin(GradebookDatabase):
    """Recording result sets and reading a submission's current results."""

    def record_results(self, submission_id: int, run_id: int, results: Iterable[CheckResult], *,
                       needs_review: Mapping[str, bool] | None = None,
                       evidence: Mapping[str, Any] | None = None) -> list[int]:
        """Make ``results`` the submission's current result set; returns the new row ids.

        In one transaction: the previous current results are marked superseded,
        the new ones inserted and the grading fingerprint (content hash, the run's
        question and reference versions) recorded. Each row keeps its result's
        ``needs_review`` and ``evidence``; ``needs_review``/``evidence`` keyed by task
        add to them for every row of that task (for results recorded from outside a
        grading run, such as an import).
        """
        items = [r if isinstance(r, CheckResult) else CheckResult.from_dict(r) for r in results]
        seen: set[tuple[str, str]] = set()
        for item in items:
            if item.status not in RESULT_STATUSES:
                raise GradebookError(f"result {item.name!r}: status must be one of "
                                     f"{', '.join(RESULT_STATUSES)}, got {item.status!r}")
            if (item.task, item.check) in seen:
                raise GradebookError(f"result {item.name!r} appears twice in one result set")
            seen.add((item.task, item.check))
            _check_json(item.details, f"details of {item.name!r}")
            _check_json(item.evidence, f"evidence of {item.name!r}")
        review = dict(needs_review or {})
        proof = dict(evidence or {})
        for task, value in proof.items():
            _check_json(value, f"evidence of {task!r}")

        def work(session: Session) -> list[int]:
            submission = get_submission(session, submission_id, lock=True)
            run = get_run(session, run_id)
            if run.status != "running":
                raise GradebookError(f"grading run {run_id} is {run.status}; start a new run to record results")
            session.execute(update(ResultRow)
                            .where(ResultRow.submission_id == submission_id, ResultRow.superseded == false())
                            .values(superseded=True))
            now = utcnow()
            rows = [ResultRow(submission_id=submission_id, run_id=run_id, task=item.task, check=item.check,
                              status=item.status, auto_score=float(item.score),
                              max_score=float(item.max_score), output=item.output,
                              visibility=item.visibility, details=dict(item.details), superseded=False,
                              created_at=now, needs_review=bool(review.get(item.task, False) or item.needs_review),
                              evidence=proof.get(item.task, item.evidence))
                    for item in items]
            session.add_all(rows)
            session.add(GradingRow(
                submission_id=submission_id, run_id=run_id, content_hash=submission.content_hash,
                question_versions=dict(run.question_versions),
                reference_versions=dict(run.reference_versions),
                fingerprint=grading_fingerprint(submission.content_hash, run.question_versions,
                                                run.reference_versions),
                graded_at=now))
            session.flush()
            return [row.id for row in rows]
        return self._write(work)

    def already_graded(self, submission_id: int, content_hash: str, question_versions: Mapping[str, Any],
                       reference_versions: Mapping[str, Any]) -> bool:
        """True when the submission's latest grading used these files and versions exactly."""
        wanted = grading_fingerprint(content_hash, question_versions, reference_versions)

        def work(session: Session) -> bool:
            latest = session.scalars(select(GradingRow.fingerprint)
                                     .where(GradingRow.submission_id == submission_id)
                                     .order_by(GradingRow.id.desc()).limit(1)).first()
            return latest == wanted
        return self._read(work)

    def current_results(self, submission_id: int) -> list[dict[str, Any]]:
        """The submission's current results with effective scores.

        Each dict has the :class:`~grader.core.results.CheckResult` keys (``score`` is
        the effective score, so ``CheckResult.from_dict`` accepts it) plus
        ``auto_score``, ``overridden``, ``override_id``, ``needs_review``,
        ``pending_review`` (needs review and not overridden), ``evidence``,
        ``id``, ``run_id``, ``student_id``, ``created_at``.
        """
        def work(session: Session) -> list[dict[str, Any]]:
            submission = get_submission(session, submission_id)
            rows = session.scalars(select(ResultRow)
                                   .where(ResultRow.submission_id == submission_id,
                                          ResultRow.superseded == false())
                                   .order_by(ResultRow.id)).all()
            dicts = [to_result_dict(row, submission.student_id) for row in rows]
            return apply_overrides(dicts, active_overrides(session, [submission.student_id]))
        return self._read(work)


def _check_json(value: Any, what: str) -> None:
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise GradebookError(f"{what} is not JSON-serialisable: {exc}") from None
