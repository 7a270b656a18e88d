"""The isolation each grading run's sandbox had.

``grading_runs.isolation`` (JSON, nullable): the level ("bubblewrap" or "process") and what
was applied (uid per worker, seccomp, cgroup limits), so a grade can be defended later by
showing how the code behind it was run. Runs recorded before this revision have none.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN: a batch (copy-and-move) rebuild would drop a table that results reference.
    op.add_column("grading_runs", sa.Column("isolation", sa.JSON(), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE grading_runs DROP COLUMN isolation")   # SQLite >= 3.35, no rebuild
    else:
        op.drop_column("grading_runs", "isolation")
