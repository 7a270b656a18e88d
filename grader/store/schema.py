"""The gradebook's tables as SQLAlchemy models: the schema at the newest migration revision.

Only :mod:`grader.store` reads these rows; they become the plain records of
:mod:`grader.core.records` before leaving it. Result and override rows name
their check ``check`` in Python; the column is ``check_name`` because CHECK is
an SQL keyword. Changing a model needs a new revision in
:mod:`grader.store.migrations`.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, MetaData, String, Text, false, true
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    """Now, timezone-aware, in UTC."""
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive, in UTC).

    A naive datetime handed in is taken to be UTC already.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of the gradebook tables (the schema at the head revision)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class StudentRow(Base):
    __tablename__ = "students"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SubmissionRow(Base):
    __tablename__ = "submissions"
    __table_args__ = (
        Index("ix_submissions_student_received", "student_id", "received_at"),
        Index("ix_submissions_content_hash", "content_hash"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    student_id: Mapped[str] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    content_hash: Mapped[str] = mapped_column(String(64))
    files: Mapped[dict[str, str]] = mapped_column(JSON)
    store_path: Mapped[str] = mapped_column(String(1024))
    source: Mapped[str] = mapped_column(String(1024))


class RunRow(Base):
    __tablename__ = "grading_runs"
    __table_args__ = (Index("ix_grading_runs_status", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="running")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    grader_version: Mapped[str] = mapped_column(String(64))
    question_versions: Mapped[dict[str, Any]] = mapped_column(JSON)
    reference_versions: Mapped[dict[str, Any]] = mapped_column(JSON)
    host: Mapped[str | None] = mapped_column(String(256))
    pid: Mapped[int | None] = mapped_column(Integer)
    notes: Mapped[str | None] = mapped_column(Text)
    isolation: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class ResultRow(Base):
    __tablename__ = "results"
    __table_args__ = (
        Index("ix_results_submission_current", "submission_id", "superseded"),
        Index("ix_results_run", "run_id"),
        Index("ix_results_task", "task"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    run_id: Mapped[int] = mapped_column(ForeignKey("grading_runs.id"))
    task: Mapped[str] = mapped_column(String(128))
    check: Mapped[str] = mapped_column("check_name", String(128))
    status: Mapped[str] = mapped_column(String(16))
    auto_score: Mapped[float] = mapped_column(Float)
    max_score: Mapped[float] = mapped_column(Float)
    output: Mapped[str] = mapped_column(Text)
    visibility: Mapped[str] = mapped_column(String(16))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    superseded: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    evidence: Mapped[Any | None] = mapped_column(JSON(none_as_null=True))


class OverrideRow(Base):
    __tablename__ = "overrides"
    __table_args__ = (Index("ix_overrides_student_task_active", "student_id", "task", "active"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    student_id: Mapped[str] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"))
    task: Mapped[str] = mapped_column(String(128))
    check: Mapped[str | None] = mapped_column("check_name", String(128))
    manual_score: Mapped[float] = mapped_column(Float)
    comment: Mapped[str] = mapped_column(Text)
    who: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class GradingRow(Base):
    """What a submission was graded against: one row per recorded result set."""

    __tablename__ = "gradings"
    __table_args__ = (Index("ix_gradings_submission", "submission_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("grading_runs.id", ondelete="SET NULL"))
    content_hash: Mapped[str] = mapped_column(String(64))
    question_versions: Mapped[dict[str, Any]] = mapped_column(JSON)
    reference_versions: Mapped[dict[str, Any]] = mapped_column(JSON)
    fingerprint: Mapped[str] = mapped_column(String(64))
    graded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SimilarityRow(Base):
    """One finding of 'grader similarity': two students sharing an artifact (``b`` a student), or one
    student's artifact from a public source (``source`` set, ``b`` empty). A new check replaces them all."""

    __tablename__ = "similarity_findings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    student_a: Mapped[str] = mapped_column(String(128))
    student_b: Mapped[str | None] = mapped_column(String(128))
    source: Mapped[str | None] = mapped_column(String(256))
    artifact: Mapped[str] = mapped_column(String(16))
    task: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    strength: Mapped[float] = mapped_column(Float)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
