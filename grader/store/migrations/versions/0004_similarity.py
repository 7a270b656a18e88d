"""The findings of 'grader similarity'.

``similarity_findings``: one row per pair of students sharing a model, q6 code or a prose
answer (``student_b`` set), or per student whose artifact comes from a public source
(``source`` set); with its kind, strength (0..1) and evidence (JSON). Student ids are not
foreign keys: a finding outlives nothing, it is replaced by the next check.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "similarity_findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("student_a", sa.String(length=128), nullable=False),
        sa.Column("student_b", sa.String(length=128), nullable=True),
        sa.Column("source", sa.String(length=256), nullable=True),
        sa.Column("artifact", sa.String(length=16), nullable=False),
        sa.Column("task", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("strength", sa.Float(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_similarity_findings")),
    )


def downgrade() -> None:
    op.drop_table("similarity_findings")
