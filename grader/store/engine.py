"""Connecting to a gradebook database: engine settings, in-memory URLs, lock detection.

On SQLite a writer takes the write lock up front (``BEGIN IMMEDIATE``) and
waits for it under a busy timeout, so two batch processes queue instead of
failing with "database is locked"; :func:`is_locked` tells the rare error
that still gets through, which callers retry with backoff.
"""

from __future__ import annotations

import re

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.pool import StaticPool

from grader.store.errors import GradebookError

SQLITE_BUSY_SECONDS = 30
LOCK_RETRIES = 5
WRITE_OPTION = "grader_write"


def hide_password(url: str) -> str:
    """``url`` with any password replaced by ``***`` (also for URLs SQLAlchemy cannot parse)."""
    return re.sub(r"(://[^:/@\s]*:)[^@\s]*@", r"\1***@", url)


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
    :class:`~grader.store.gradebook.Gradebook` serialises its calls on such an engine.
    """
    url = canonical_url(url)
    options: dict[str, Any] = {}
    if is_memory_url(url):
        options = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    try:
        engine = create_engine(url, echo=echo, **options)
    except (ArgumentError, ValueError) as exc:      # ValueError: a port that is not a number
        raise GradebookError(f"not a database URL: {hide_password(url)!r} (expected e.g. sqlite:///grader.db or "
                             "postgresql+psycopg://user:password@host/dbname)") from None
    except ImportError as exc:
        raise GradebookError(f"the database driver for {url.split(':', 1)[0]!r} is not installed "
                             f"(missing module {exc.name!r}); for PostgreSQL run pip install 'rnn-grader[postgres]' "
                             "and use a postgresql+psycopg://user:password@host/dbname URL") from None
    if engine.dialect.name == "sqlite":
        _require_sqlite_folder(engine)

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
            immediate = conn.get_execution_options().get(WRITE_OPTION)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
    return engine.execution_options(**{WRITE_OPTION: True}) if write else engine


# Spellings people copy from Heroku, libpq or psql that SQLAlchemy does not take as they are.
POSTGRES_ALIASES = ("postgres://", "postgresql://")
POSTGRES_DRIVER_URL = "postgresql+psycopg://"


def canonical_url(url: str) -> str:
    """``url`` with ``postgres://`` and a driverless ``postgresql://`` read as psycopg 3 (the [postgres] extra)."""
    for alias in POSTGRES_ALIASES:
        if url.startswith(alias):
            return POSTGRES_DRIVER_URL + url[len(alias):]
    return url


def _require_sqlite_folder(engine: Engine) -> None:
    """A SQLite file whose folder does not exist: say so, rather than SQLite's "unable to open database file"."""
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    folder = Path(database).expanduser().resolve().parent
    if not folder.is_dir():
        raise GradebookError(f"the gradebook's folder {folder} does not exist; create it, or give --db a "
                             "sqlite:///path/grader.db inside an existing folder")


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names, or None (another backend, in-memory, or not a URL)."""
    try:
        parsed = make_url(canonical_url(url))
    except (ArgumentError, ValueError):
        return None
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:" \
            or database.startswith("file:"):
        return None
    return Path(database).expanduser()


def is_memory_url(url: str) -> bool:
    """True for an in-memory SQLite URL (``sqlite://``, ``sqlite:///:memory:``)."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return False
    return parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")


def is_locked(exc: OperationalError) -> bool:
    """True when ``exc`` is the database reporting a lock held by another writer (worth a retry)."""
    message = str(exc.orig).lower()
    return "database is locked" in message or "database table is locked" in message or "busy" in message
