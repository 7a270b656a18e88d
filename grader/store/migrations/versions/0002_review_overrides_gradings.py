"""Review flags and evidence on results, active overrides, and the gradings table.

* ``results.needs_review`` (prose waiting for a person) and ``results.evidence``
  (the sentences a prose score rests on);
* ``overrides.active``: a newer override of the same student, task and check
  deactivates the older one, which is kept as history. Existing rows: the
  newest of each key stays active;
* ``gradings``: what each submission was graded against (content hash,
  question and reference versions), so an unchanged submission is not graded
  twice. Backfilled from each submission's current results and their run.

Revision ID: 0002
Revises: 0001
Create Date: 2024-06-15
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import context, op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _fingerprint(content_hash: str, question_versions: dict, reference_versions: dict) -> str:
    # Frozen copy of grader.core.records.grading_fingerprint as of this revision.
    payload = json.dumps({"content": content_hash, "questions": question_versions,
                          "references": reference_versions}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def upgrade() -> None:
    with op.batch_alter_table("results") as batch:
        batch.add_column(sa.Column("needs_review", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("evidence", sa.JSON(none_as_null=True), nullable=True))
    op.create_index("ix_results_task", "results", ["task"])
    with op.batch_alter_table("overrides") as batch:
        batch.add_column(sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False))
    op.create_index("ix_overrides_student_task_active", "overrides", ["student_id", "task", "active"])
    op.drop_index("ix_overrides_student_task", table_name="overrides")

    op.create_table(
        "gradings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("question_versions", sa.JSON(), nullable=False),
        sa.Column("reference_versions", sa.JSON(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("graded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_gradings"),
        sa.ForeignKeyConstraint(["submission_id"], ["submissions.id"], ondelete="CASCADE",
                                name="fk_gradings_submission_id_submissions"),
        sa.ForeignKeyConstraint(["run_id"], ["grading_runs.id"], ondelete="SET NULL",
                                name="fk_gradings_run_id_grading_runs"),
    )
    op.create_index("ix_gradings_submission", "gradings", ["submission_id", "id"])

    if context.is_offline_mode():
        return
    _deactivate_older_overrides()
    _backfill_gradings()


def _deactivate_older_overrides() -> None:
    overrides = sa.table("overrides", sa.column("id", sa.Integer), sa.column("student_id", sa.String),
                         sa.column("task", sa.String), sa.column("check_name", sa.String),
                         sa.column("active", sa.Boolean))
    newest = (sa.select(sa.func.max(overrides.c.id))
              .group_by(overrides.c.student_id, overrides.c.task, overrides.c.check_name))
    op.execute(sa.update(overrides).where(overrides.c.id.not_in(newest)).values(active=False))


def _backfill_gradings() -> None:
    bind = op.get_bind()
    results = sa.table("results", sa.column("submission_id", sa.Integer), sa.column("run_id", sa.Integer),
                       sa.column("superseded", sa.Boolean))
    submissions = sa.table("submissions", sa.column("id", sa.Integer), sa.column("content_hash", sa.String))
    runs = sa.table("grading_runs", sa.column("id", sa.Integer), sa.column("question_versions", sa.JSON),
                    sa.column("reference_versions", sa.JSON))
    gradings = sa.table("gradings", sa.column("submission_id", sa.Integer), sa.column("run_id", sa.Integer),
                        sa.column("content_hash", sa.String), sa.column("question_versions", sa.JSON),
                        sa.column("reference_versions", sa.JSON), sa.column("fingerprint", sa.String),
                        sa.column("graded_at", sa.DateTime(timezone=True)))
    last_run = (sa.select(results.c.submission_id, sa.func.max(results.c.run_id).label("run_id"))
                .where(results.c.superseded == sa.false())
                .group_by(results.c.submission_id).subquery())
    rows = bind.execute(
        sa.select(submissions.c.id, submissions.c.content_hash, runs.c.id,
                  runs.c.question_versions, runs.c.reference_versions)
        .join(last_run, last_run.c.submission_id == submissions.c.id)
        .join(runs, runs.c.id == last_run.c.run_id)
    ).all()
    now = datetime.now(timezone.utc)
    if bind.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)
    values = [
        {"submission_id": sub_id, "run_id": run_id, "content_hash": content,
         "question_versions": qv or {}, "reference_versions": rv or {},
         "fingerprint": _fingerprint(content, qv or {}, rv or {}), "graded_at": now}
        for sub_id, content, run_id, qv, rv in rows
    ]
    if values:
        op.bulk_insert(gradings, values)


def downgrade() -> None:
    op.drop_index("ix_gradings_submission", table_name="gradings")
    op.drop_table("gradings")
    op.create_index("ix_overrides_student_task", "overrides", ["student_id", "task"])
    op.drop_index("ix_overrides_student_task_active", table_name="overrides")
    with op.batch_alter_table("overrides") as batch:
        batch.drop_column("active")
    op.drop_index("ix_results_task", table_name="results")
    with op.batch_alter_table("results") as batch:
        batch.drop_column("evidence")
        batch.drop_column("needs_review")
