"""The gradebook: students, submissions, grading runs, results with history, overrides.

SQLAlchemy over SQLite by default (``grader.db`` in the course folder); any
SQLAlchemy URL works (PostgreSQL is tested through the same code). Use it as a
context manager::

    with Gradebook(course.db_url) as gb:
        sub = gb.add_submission("alice", manifest, content_hash, store_path, "alice.zip")
        run = gb.start_run("batch", __version__, bank.versions, reference_versions)
        if not gb.already_graded(sub, content_hash, bank.versions, reference_versions):
            gb.record_results(sub, run, results, needs_review={"q3_prose": True})
        gb.finish_run(run)
        gb.set_override("alice", "q3_prose", 3.5, "good argument", "ta-bob")
        gb.class_summary(task_questions(bank))

What it promises:

* Nothing is ever deleted by grading. Regrading a submission marks its earlier
  results ``superseded`` (okpy style) and inserts the new set in the same
  transaction, so a batch killed half way leaves the previous set current.
* A manual score is an override keyed by student, task and (optionally) check,
  not by result row, so it survives every regrade; the newest override of a key
  deactivates the older ones, which stay as history. A task-level override
  (``check=None``) decides the whole task's score and wins over check-level ones.
* Methods return frozen dataclasses (:class:`Student`, :class:`Submission`,
  :class:`Run`, :class:`Override`, each with ``to_dict()``) or plain dicts for
  computed views; ORM rows and sessions never leave this module.
* Every call is its own short transaction. On SQLite: WAL journal, a 30 s busy
  timeout, foreign keys on, and write transactions opened with
  ``BEGIN IMMEDIATE`` so two batch processes queue for the write lock instead of
  failing with "database is locked"; a locked error is retried with backoff as a
  last resort.
* The schema is migrated on open with the Alembic revisions in
  :mod:`grader.store.migrations`.

"The latest submission" of a student is the one with the greatest
``received_at`` (then id); summaries and the review queue look at it only.
Result rows name their check ``check`` in Python; the column is ``check_name``
because CHECK is an SQL keyword.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import re
import socket
import threading
import time
from contextlib import AbstractContextManager, nullcontext
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import (JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, MetaData,
                        String, Text, create_engine, event, false, func, select, text, true,
                        update)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

from grader.core.results import CheckResult, status_for

if TYPE_CHECKING:
    from grader.core.bank import Bank

T = TypeVar("T")

RUN_KINDS = ("grade", "batch", "check")
RUN_STATUSES = ("running", "finished", "interrupted")
RESULT_STATUSES = ("passed", "failed", "error")
SQLITE_BUSY_SECONDS = 30
LOCK_RETRIES = 5
_WRITE_OPTION = "grader_write"
_PG_MIGRATION_LOCK = 7_301_164_911  # any constant; serialises concurrent upgrades on PostgreSQL


class GradebookError(ValueError):
    """A gradebook request cannot be met; the message is one line naming the object."""


class NoStudent(GradebookError):
    """The student id is not in the gradebook."""


class NoSubmission(GradebookError):
    """The submission id is not in the gradebook."""


class NoRun(GradebookError):
    """The grading run id is not in the gradebook."""


# --------------------------------------------------------------------------- schema

def _utcnow() -> datetime:
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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_utcnow)


class SubmissionRow(Base):
    __tablename__ = "submissions"
    __table_args__ = (
        Index("ix_submissions_student_received", "student_id", "received_at"),
        Index("ix_submissions_content_hash", "content_hash"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    student_id: Mapped[str] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_utcnow)
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
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    grader_version: Mapped[str] = mapped_column(String(64))
    question_versions: Mapped[dict[str, Any]] = mapped_column(JSON)
    reference_versions: Mapped[dict[str, Any]] = mapped_column(JSON)
    host: Mapped[str | None] = mapped_column(String(256))
    pid: Mapped[int | None] = mapped_column(Integer)
    notes: Mapped[str | None] = mapped_column(Text)


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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_utcnow)
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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_utcnow)
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
    graded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_utcnow)


# --------------------------------------------------------------------------- records

def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class _Record:
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; datetimes as ISO 8601 strings (UTC)."""
        return _plain(asdict(self))  # type: ignore[call-overload]


@dataclass(frozen=True)
class Student(_Record):
    id: str
    name: str | None
    created_at: datetime


@dataclass(frozen=True)
class Submission(_Record):
    id: int
    student_id: str
    received_at: datetime
    content_hash: str
    files: dict[str, str]
    store_path: str
    source: str


@dataclass(frozen=True)
class Run(_Record):
    id: int
    kind: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    grader_version: str
    question_versions: dict[str, Any]
    reference_versions: dict[str, Any]
    host: str | None
    pid: int | None
    notes: str | None


@dataclass(frozen=True)
class Override(_Record):
    id: int
    student_id: str
    task: str
    check: str | None
    manual_score: float
    comment: str
    who: str
    created_at: datetime
    active: bool


def _student(row: StudentRow) -> Student:
    return Student(row.id, row.name, row.created_at)


def _submission(row: SubmissionRow) -> Submission:
    return Submission(row.id, row.student_id, row.received_at, row.content_hash, dict(row.files),
                      row.store_path, row.source)


def _run(row: RunRow) -> Run:
    return Run(row.id, row.kind, row.status, row.started_at, row.finished_at, row.grader_version,
               dict(row.question_versions), dict(row.reference_versions), row.host, row.pid, row.notes)


def _override(row: OverrideRow) -> Override:
    return Override(row.id, row.student_id, row.task, row.check, row.manual_score, row.comment,
                    row.who, row.created_at, row.active)


def _result_dict(row: ResultRow, student_id: str) -> dict[str, Any]:
    return {
        "id": row.id, "submission_id": row.submission_id, "run_id": row.run_id,
        "student_id": student_id, "task": row.task, "check": row.check,
        "name": f"{row.task}: {row.check}", "status": row.status,
        "auto_score": row.auto_score, "max_score": row.max_score, "score": row.auto_score,
        "overridden": False, "override_id": None, "needs_review": row.needs_review,
        "pending_review": row.needs_review, "output": row.output, "visibility": row.visibility,
        "details": dict(row.details or {}), "evidence": row.evidence,
        "superseded": row.superseded, "created_at": row.created_at.isoformat(),
    }


# --------------------------------------------------------------------------- pure helpers

def grading_fingerprint(content_hash: str, question_versions: Mapping[str, Any],
                        reference_versions: Mapping[str, Any]) -> str:
    """sha256 of what a grading depends on: the files and the question and reference versions."""
    payload = json.dumps({"content": content_hash, "questions": dict(question_versions),
                          "references": dict(reference_versions)},
                         sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def question_of(task: str, task_questions: Mapping[str, str] | None = None) -> str:
    """The question a task belongs to: from ``task_questions``, else its prefix (``q3_prose`` -> ``Q3``)."""
    if task_questions and task in task_questions:
        return task_questions[task]
    match = re.match(r"[qQ](\d+)(?:_|$)", task)
    return f"Q{int(match.group(1))}" if match else task.split("_", 1)[0].upper()


def task_questions(bank: Bank) -> dict[str, str]:
    """Task id -> question id for every task of ``bank``, prose tasks (``q3_prose``) included."""
    mapping = {task.id: task.question for task in bank.tasks}
    mapping.update({question.prose_task: question.id for question in bank.questions})
    return mapping


def apply_overrides(rows: list[dict[str, Any]], overrides: Iterable[Override]) -> list[dict[str, Any]]:
    """Set each result row's effective ``score`` from the active overrides of its student.

    A check-level override replaces that row's score. A task-level override
    (``check is None``) decides the task's total: it is spread over the task's
    rows in proportion to their points, so sums stay exact. Newest active wins.
    """
    by_key: dict[tuple[str, str | None], Override] = {}
    for item in sorted((o for o in overrides if o.active), key=lambda o: o.id):
        by_key[(item.task, item.check)] = item
    by_task: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_task[row["task"]].append(row)
    for task, task_rows in by_task.items():
        whole = by_key.get((task, None))
        if whole is not None:
            weights = [max(r["max_score"], 0.0) for r in task_rows]
            if sum(weights) <= 0:
                weights = [1.0] + [0.0] * (len(task_rows) - 1)
            shares = _spread(whole.manual_score, weights)
            for row, share in zip(task_rows, shares):
                row.update(score=share, overridden=True, override_id=whole.id, pending_review=False,
                           status=status_for(share, row["max_score"]))
            continue
        for row in task_rows:
            item = by_key.get((task, row["check"]))
            if item is not None:
                row.update(score=item.manual_score, overridden=True, override_id=item.id, pending_review=False,
                           status=status_for(item.manual_score, row["max_score"]))
    return rows


def _spread(amount: float, weights: list[float]) -> list[float]:
    total = sum(weights)
    shares = [round(amount * w / total, 4) for w in weights]
    shares[-1] = round(amount - sum(shares[:-1]), 4)
    return shares


def _is_locked(exc: OperationalError) -> bool:
    message = str(exc.orig).lower()
    return "database is locked" in message or "database table is locked" in message or "busy" in message


# --------------------------------------------------------------------------- engine

def make_engine(url: str, *, write: bool = False, echo: bool = False) -> Engine:
    """An engine with the gradebook's connection settings.

    SQLite: WAL, busy timeout, foreign keys; the driver's own transaction
    handling is switched off and BEGIN is emitted here (the recipe from the
    SQLAlchemy SQLite docs), as ``BEGIN IMMEDIATE`` on connections whose
    execution options carry ``grader_write`` (``write=True`` sets it on the
    returned engine), so a writer takes the write lock up front and waits for
    it under the busy timeout instead of failing half way.

    An in-memory SQLite URL (``sqlite://``, for tests) gets one connection
    shared by all threads, so every thread sees the same database;
    :class:`Gradebook` serialises its calls on such an engine.
    """
    options: dict[str, Any] = {}
    if is_memory_url(url):
        options = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    try:
        engine = create_engine(url, echo=echo, **options)
    except ArgumentError as exc:
        raise GradebookError(f"not a database URL: {url!r} ({exc})") from None
    except ImportError as exc:
        raise GradebookError(f"the database driver for {url.split(':', 1)[0]!r} is not installed "
                             f"(missing module {exc.name!r}); install it or use another URL") from None
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection, _record) -> None:  # noqa: ANN001
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_SECONDS * 1000}")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            immediate = conn.get_execution_options().get(_WRITE_OPTION)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
    return engine.execution_options(**{_WRITE_OPTION: True}) if write else engine


def is_memory_url(url: str) -> bool:
    """True for an in-memory SQLite URL (``sqlite://``, ``sqlite:///:memory:``)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return False
    return parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")


# --------------------------------------------------------------------------- the facade

class Gradebook:
    """The gradebook behind one database URL; open it with ``with Gradebook(url) as gb``.

    Opening upgrades the schema to the newest migration.
    """

    def __init__(self, url: str, *, echo: bool = False, migrate: bool = True) -> None:
        self.url = url
        self._engine = make_engine(url, echo=echo)
        self._write_engine = self._engine.execution_options(**{_WRITE_OPTION: True})
        self._reader = sessionmaker(self._engine, expire_on_commit=False)
        self._writer = sessionmaker(self._write_engine, expire_on_commit=False)
        # One shared connection (in-memory SQLite) must not carry two transactions at once.
        self._serial: AbstractContextManager[Any] = (threading.RLock() if is_memory_url(url)
                                                     else nullcontext())
        try:
            if migrate:
                self._migrate()
        except OperationalError as exc:
            self._engine.dispose()
            reason = (str(exc.orig).strip().splitlines() or ["unknown error"])[0]
            raise GradebookError(f"cannot open gradebook {self._shown_url()}: {reason}") from None
        except Exception:
            self._engine.dispose()
            raise

    # -- lifecycle

    def __enter__(self) -> Gradebook:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()

    def __repr__(self) -> str:
        return f"Gradebook({self._shown_url()!r})"

    def _shown_url(self) -> str:
        return self._engine.url.render_as_string(hide_password=True)

    @property
    def dialect(self) -> str:
        """The backend's dialect name (``sqlite``, ``postgresql``, ...)."""
        return self._engine.dialect.name

    def schema_revision(self) -> str | None:
        """The migration revision the database is at."""
        from grader.store import migrations

        with self._serial, self._engine.connect() as conn:
            return migrations.current_revision(conn)

    def _migrate(self) -> None:
        with self._serial:
            self._migrate_serial()

    def _migrate_serial(self) -> None:
        from grader.store import migrations

        head = migrations.head_revision()
        with self._engine.connect() as conn:
            current = migrations.current_revision(conn)
        if current == head:
            return
        if current is not None and current not in migrations.known_revisions():
            raise GradebookError(f"gradebook {self._shown_url()} is at schema revision {current!r}, "
                                 f"newer than this grader knows (head {head!r}); upgrade rnn-grader")
        sqlite = self.dialect == "sqlite"
        with self._write_engine.connect() as conn:
            if sqlite:
                # Table-rebuilding migrations must not cascade deletes; SQLite can only
                # toggle this outside a transaction, so before BEGIN.
                conn.connection.driver_connection.execute("PRAGMA foreign_keys = OFF")
            try:
                with conn.begin():
                    if self.dialect == "postgresql":
                        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
                    if migrations.current_revision(conn) != head:  # another process may have done it
                        migrations.upgrade(conn, "head")
                    if sqlite:
                        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                        if broken:
                            raise GradebookError(f"migration left {len(broken)} broken foreign key(s) "
                                                 f"in {self._shown_url()}; nothing was changed")
            finally:
                if sqlite:
                    conn.connection.driver_connection.execute("PRAGMA foreign_keys = ON")

    # -- transactions

    def _read(self, work: Callable[[Session], T]) -> T:
        with self._serial, self._reader() as session:
            return work(session)

    def _write(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in one write transaction; retry a few times if SQLite reports a lock."""
        for attempt in range(LOCK_RETRIES + 1):
            try:
                with self._serial, self._writer.begin() as session:
                    return work(session)
            except OperationalError as exc:
                if attempt == LOCK_RETRIES or not _is_locked(exc):
                    raise
                time.sleep(0.05 * 2 ** attempt + random.uniform(0, 0.05))
        raise AssertionError("unreachable")

    # -- students

    def add_student(self, student_id: str, name: str | None = None) -> Student:
        """Add a student, or update the name of an existing one when ``name`` is given."""
        _check_student_id(student_id)

        def work(session: Session) -> Student:
            return _student(self._ensure_student(session, student_id, name))
        return self._write(work)

    @staticmethod
    def _ensure_student(session: Session, student_id: str, name: str | None) -> StudentRow:
        row = session.get(StudentRow, student_id)
        if row is None:
            row = StudentRow(id=student_id, name=name)
            session.add(row)
            session.flush()
        elif name is not None and row.name != name:
            row.name = name
        return row

    def find_student(self, student_id: str) -> Student:
        """The student with ``student_id``; :class:`NoStudent` if absent."""
        def work(session: Session) -> Student:
            return _student(self._get_student(session, student_id))
        return self._read(work)

    @staticmethod
    def _get_student(session: Session, student_id: str) -> StudentRow:
        row = session.get(StudentRow, student_id)
        if row is None:
            raise NoStudent(f"no student {student_id!r} in the gradebook")
        return row

    def students(self) -> list[Student]:
        """Every student, by id."""
        return self._read(lambda s: [_student(r) for r in s.scalars(select(StudentRow).order_by(StudentRow.id))])

    # -- submissions

    def add_submission(self, student_id: str, files: Mapping[str, str], content_hash: str,
                       store_path: str, source: str, *, received_at: datetime | None = None) -> int:
        """Record a received submission (``files``: relative path -> sha256); returns its id.

        The student is created if new.
        """
        _check_student_id(student_id)
        if not re.fullmatch(r"[0-9a-f]{64}", content_hash or ""):
            raise GradebookError(f"content hash must be 64 lowercase hex digits, got {content_hash!r}")

        def work(session: Session) -> int:
            self._ensure_student(session, student_id, None)
            row = SubmissionRow(student_id=student_id, content_hash=content_hash, files=dict(files),
                                store_path=str(store_path), source=str(source),
                                received_at=received_at or _utcnow())
            session.add(row)
            session.flush()
            return row.id
        return self._write(work)

    def find_submission(self, submission_id: int) -> Submission:
        """The submission with ``submission_id``; :class:`NoSubmission` if absent."""
        return self._read(lambda s: _submission(self._get_submission(s, submission_id)))

    @staticmethod
    def _get_submission(session: Session, submission_id: int, *, lock: bool = False) -> SubmissionRow:
        query = select(SubmissionRow).where(SubmissionRow.id == submission_id)
        row = session.scalars(query.with_for_update() if lock else query).first()
        if row is None:
            raise NoSubmission(f"no submission {submission_id} in the gradebook")
        return row

    def latest_submission(self, student_id: str) -> Submission | None:
        """The student's newest submission, or None if they have none."""
        def work(session: Session) -> Submission | None:
            self._get_student(session, student_id)
            row = session.scalars(
                select(SubmissionRow).where(SubmissionRow.student_id == student_id)
                .order_by(SubmissionRow.received_at.desc(), SubmissionRow.id.desc()).limit(1)
            ).first()
            return _submission(row) if row else None
        return self._read(work)

    def submissions(self, student_id: str | None = None) -> list[Submission]:
        """Submissions of one student (or everyone), oldest first."""
        query = select(SubmissionRow).order_by(SubmissionRow.received_at, SubmissionRow.id)
        if student_id is not None:
            query = query.where(SubmissionRow.student_id == student_id)
        return self._read(lambda s: [_submission(r) for r in s.scalars(query)])

    # -- runs

    def start_run(self, kind: str, grader_version: str, question_versions: Mapping[str, Any],
                  reference_versions: Mapping[str, Any], *, notes: str | None = None) -> int:
        """Open a grading run (``kind``: grade, batch or check); returns its id."""
        if kind not in RUN_KINDS:
            raise GradebookError(f"run kind must be one of {', '.join(RUN_KINDS)}, got {kind!r}")

        def work(session: Session) -> int:
            row = RunRow(kind=kind, status="running", grader_version=str(grader_version),
                         question_versions=dict(question_versions),
                         reference_versions=dict(reference_versions),
                         host=socket.gethostname(), pid=os.getpid(), notes=notes)
            session.add(row)
            session.flush()
            return row.id
        return self._write(work)

    def finish_run(self, run_id: int, status: str = "finished", *, notes: str | None = None) -> Run:
        """Close a run as ``finished`` or ``interrupted``."""
        if status not in ("finished", "interrupted"):
            raise GradebookError(f"a run finishes as 'finished' or 'interrupted', got {status!r}")

        def work(session: Session) -> Run:
            row = self._get_run(session, run_id)
            row.status = status
            row.finished_at = _utcnow()
            if notes is not None:
                row.notes = notes
            session.flush()
            return _run(row)
        return self._write(work)

    @staticmethod
    def _get_run(session: Session, run_id: int) -> RunRow:
        row = session.get(RunRow, run_id)
        if row is None:
            raise NoRun(f"no grading run {run_id} in the gradebook")
        return row

    def runs(self, status: str | None = None) -> list[Run]:
        """Grading runs, oldest first; only those with ``status`` if given."""
        query = select(RunRow).order_by(RunRow.id)
        if status is not None:
            query = query.where(RunRow.status == status)
        return self._read(lambda s: [_run(r) for r in s.scalars(query)])

    def interrupt_stale_runs(self) -> list[int]:
        """Mark ``running`` runs of this host whose process is gone as ``interrupted``; their ids."""
        host = socket.gethostname()

        def work(session: Session) -> list[int]:
            stale = [row for row in session.scalars(
                select(RunRow).where(RunRow.status == "running", RunRow.host == host))
                if row.pid is not None and not _process_alive(row.pid)]
            for row in stale:
                row.status, row.finished_at = "interrupted", _utcnow()
            return [row.id for row in stale]
        return self._write(work)

    # -- results

    def record_results(self, submission_id: int, run_id: int, results: Iterable[CheckResult], *,
                       needs_review: Mapping[str, bool] | None = None,
                       evidence: Mapping[str, Any] | None = None) -> list[int]:
        """Make ``results`` the submission's current result set; returns the new row ids.

        In one transaction: the previous current results are marked superseded,
        the new ones inserted (``needs_review``/``evidence`` keyed by task apply
        to every row of that task) and the grading fingerprint (content hash,
        the run's question and reference versions) recorded.
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
        review = dict(needs_review or {})
        proof = dict(evidence or {})
        for task, value in proof.items():
            _check_json(value, f"evidence of {task!r}")

        def work(session: Session) -> list[int]:
            submission = self._get_submission(session, submission_id, lock=True)
            run = self._get_run(session, run_id)
            if run.status != "running":
                raise GradebookError(f"grading run {run_id} is {run.status}; start a new run to record results")
            session.execute(update(ResultRow)
                            .where(ResultRow.submission_id == submission_id, ResultRow.superseded == false())
                            .values(superseded=True))
            now = _utcnow()
            rows = [ResultRow(submission_id=submission_id, run_id=run_id, task=item.task, check=item.check,
                              status=item.status, auto_score=float(item.score),
                              max_score=float(item.max_score), output=item.output,
                              visibility=item.visibility, details=dict(item.details), superseded=False,
                              created_at=now, needs_review=bool(review.get(item.task, False) or item.needs_review),
                              evidence=proof.get(item.task))
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
            submission = self._get_submission(session, submission_id)
            rows = session.scalars(select(ResultRow)
                                   .where(ResultRow.submission_id == submission_id,
                                          ResultRow.superseded == false())
                                   .order_by(ResultRow.id)).all()
            dicts = [_result_dict(row, submission.student_id) for row in rows]
            return apply_overrides(dicts, self._active_overrides(session, [submission.student_id]))
        return self._read(work)

    # -- overrides

    @staticmethod
    def _active_overrides(session: Session, student_ids: list[str] | None) -> list[Override]:
        query = select(OverrideRow).where(OverrideRow.active == true()).order_by(OverrideRow.id)
        if student_ids is not None:
            query = query.where(OverrideRow.student_id.in_(student_ids))
        return [_override(row) for row in session.scalars(query)]

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
            self._deactivate(session, student_id, task, check)
            row = OverrideRow(student_id=student_id, task=task, check=check, manual_score=float(score),
                              comment=comment or "", who=who, active=True)
            session.add(row)
            session.flush()
            return _override(row)
        return self._write(work)

    def clear_override(self, student_id: str, task: str, check: str | None = None) -> int:
        """Deactivate the student's override of a task (or check); returns how many were active."""
        return self._write(lambda s: self._deactivate(s, student_id, task, check))

    @staticmethod
    def _deactivate(session: Session, student_id: str, task: str, check: str | None) -> int:
        same_check = OverrideRow.check.is_(None) if check is None else OverrideRow.check == check
        result = session.execute(update(OverrideRow)
                                 .where(OverrideRow.student_id == student_id, OverrideRow.task == task,
                                        same_check, OverrideRow.active == true())
                                 .values(active=False))
        return int(result.rowcount or 0)

    def overrides(self, student_id: str | None = None, *, include_inactive: bool = False) -> list[Override]:
        """Overrides (active ones unless ``include_inactive``), oldest first."""
        query = select(OverrideRow).order_by(OverrideRow.id)
        if student_id is not None:
            query = query.where(OverrideRow.student_id == student_id)
        if not include_inactive:
            query = query.where(OverrideRow.active == true())
        return self._read(lambda s: [_override(r) for r in s.scalars(query)])

    # -- views

    def _latest_results(self, session: Session, student_ids: list[str] | None
                        ) -> tuple[dict[str, tuple[int, datetime]], dict[str, list[dict[str, Any]]]]:
        """Latest submission per student, and its current results with effective scores."""
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
            by_student[student].append(_result_dict(row, student))
        overrides: dict[str, list[Override]] = defaultdict(list)
        for item in self._active_overrides(session, student_ids):
            overrides[item.student_id].append(item)
        for student, dicts in by_student.items():
            apply_overrides(dicts, overrides.get(student, []))
        return latest, by_student

    def review_queue(self) -> list[dict[str, Any]]:
        """Current results of each student's latest submission that need review and have no override."""
        def work(session: Session) -> list[dict[str, Any]]:
            _, by_student = self._latest_results(session, None)
            return [row for student in sorted(by_student) for row in by_student[student]
                    if row["pending_review"]]
        return self._read(work)

    def student_summary(self, student_id: str,
                        task_questions: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Per-question and per-task totals of the student's latest submission (effective scores).

        Shape::

            {"student_id", "name", "submission_id", "received_at", "graded",
             "score", "max_score", "overridden", "pending_review",
             "questions": {"Q3": {"score", "max_score", "tasks": {
                 "q3_deep_seq2seq": {"score", "auto_score", "max_score",
                                     "overridden", "pending_review", "checks"}}}}}
        """
        def work(session: Session) -> dict[str, Any]:
            student = self._get_student(session, student_id)
            latest, by_student = self._latest_results(session, [student_id])
            overrides = self._active_overrides(session, [student_id])
            return summarise(_student(student), latest.get(student_id), by_student.get(student_id, []),
                              overrides, task_questions)
        return self._read(work)

    def class_summary(self, task_questions: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        """:meth:`student_summary` for every student, by id (students without submissions included)."""
        def work(session: Session) -> list[dict[str, Any]]:
            students = session.scalars(select(StudentRow).order_by(StudentRow.id)).all()
            latest, by_student = self._latest_results(session, None)
            overrides: dict[str, list[Override]] = defaultdict(list)
            for item in self._active_overrides(session, None):
                overrides[item.student_id].append(item)
            return [summarise(_student(s), latest.get(s.id), by_student.get(s.id, []),
                               overrides.get(s.id, []), task_questions) for s in students]
        return self._read(work)

    def history(self, student_id: str) -> dict[str, Any]:
        """Everything recorded about a student, superseded results and inactive overrides included.

        ``{"student": {...}, "submissions": [...], "results": [...], "overrides": [...],
        "gradings": [...]}``; results and overrides oldest first, results carry
        ``superseded`` and ``run_id``; scores there are the auto scores.
        """
        def work(session: Session) -> dict[str, Any]:
            student = self._get_student(session, student_id)
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
                "student": _student(student).to_dict(),
                "submissions": [_submission(s).to_dict() for s in subs],
                "results": [_result_dict(r, student_id) for r in results],
                "overrides": [_override(o).to_dict() for o in overrides],
                "gradings": [{"id": g.id, "submission_id": g.submission_id, "run_id": g.run_id,
                              "content_hash": g.content_hash, "question_versions": g.question_versions,
                              "reference_versions": g.reference_versions,
                              "graded_at": g.graded_at.isoformat()} for g in gradings],
            }
        return self._read(work)


# --------------------------------------------------------------------------- summaries

def summarise(student: Student, latest: tuple[int, datetime] | None, rows: list[dict[str, Any]],
               overrides: list[Override], task_questions: Mapping[str, str] | None) -> dict[str, Any]:
    """Per-question and per-task totals from a student's current result rows (effective scores)."""
    tasks: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = tasks.setdefault(row["task"], {"score": 0.0, "auto_score": 0.0, "max_score": 0.0,
                                               "overridden": False, "pending_review": False, "checks": 0})
        entry["score"] += row["score"]
        entry["auto_score"] += row["auto_score"]
        entry["max_score"] += row["max_score"]
        entry["overridden"] |= row["overridden"]
        entry["pending_review"] |= row["pending_review"]
        entry["checks"] += 1
    # A task-level override of a task with no results still counts (e.g. a file graded by hand).
    newest_whole = {o.task: o for o in sorted(overrides, key=lambda o: o.id) if o.active and o.check is None}
    for task, item in newest_whole.items():
        entry = tasks.setdefault(task, {"score": 0.0, "auto_score": 0.0, "max_score": 0.0,
                                        "overridden": True, "pending_review": False, "checks": 0})
        entry["score"], entry["overridden"] = item.manual_score, True
    questions: dict[str, dict[str, Any]] = {}
    for task in sorted(tasks):
        entry = tasks[task]
        for key in ("score", "auto_score", "max_score"):
            entry[key] = round(entry[key], 4)
        question = questions.setdefault(question_of(task, task_questions),
                                        {"score": 0.0, "max_score": 0.0, "tasks": {}})
        question["tasks"][task] = entry
        question["score"] = round(question["score"] + entry["score"], 4)
        question["max_score"] = round(question["max_score"] + entry["max_score"], 4)
    ordered = dict(sorted(questions.items(), key=lambda kv: _question_key(kv[0])))
    return {
        "student_id": student.id, "name": student.name,
        "submission_id": latest[0] if latest else None,
        "received_at": latest[1].isoformat() if latest else None,
        "graded": bool(rows),
        "score": round(sum(q["score"] for q in ordered.values()), 4),
        "max_score": round(sum(q["max_score"] for q in ordered.values()), 4),
        "overridden": any(t["overridden"] for t in tasks.values()),
        "pending_review": sum(1 for row in rows if row["pending_review"]),
        "questions": ordered,
    }


def _question_key(question: str) -> tuple[int, str]:
    match = re.fullmatch(r"Q(\d+)", question)
    return (int(match.group(1)), "") if match else (1 << 30, question)


def _check_student_id(student_id: str) -> None:
    if not isinstance(student_id, str) or not student_id.strip() or len(student_id) > 128:
        raise GradebookError(f"a student id must be a non-empty string of at most 128 characters, "
                             f"got {student_id!r}")


def _check_json(value: Any, what: str) -> None:
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise GradebookError(f"{what} is not JSON-serialisable: {exc}") from None


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
