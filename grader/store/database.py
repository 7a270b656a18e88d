"""One gradebook database: engines, schema migration on open, and short read and write transactions.

:class:`GradebookDatabase` is the base of every part of
:class:`~grader.store.gradebook.Gradebook`: the parts only ever touch the
database through :meth:`~GradebookDatabase._read` and
:meth:`~GradebookDatabase._write`, each one short transaction.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any, Self, TypeVar

from sqlalchemy import text
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from grader.core.terminal import printable
from grader.store.engine import LOCK_RETRIES, WRITE_OPTION, is_locked, is_memory_url, make_engine
from grader.store.errors import GradebookError

T = TypeVar("T")

_PG_MIGRATION_LOCK = 7_301_164_911  # any constant; serialises concurrent upgrades on PostgreSQL


# What to do about a gradebook file the database library cannot read.
RESTORE_ADVICE = "restore a backup (made by 'grader db backup') or move the file away and grade again"
DAMAGED_ADVICE = f"check it with 'grader db check'; if it is damaged, {RESTORE_ADVICE}"


def database_reason(exc: BaseException) -> str:
    """The first line of a database error, without the SQL or the library's boilerplate."""
    origin = getattr(exc, "orig", None) or exc
    return (str(origin).strip().splitlines() or [type(exc).__name__])[0][:200]


def _unused_backup_path(folder: Path, reason: str, stamp: str) -> Path:
    """``folder/grader-<reason>-<stamp>.db``, with ``-2``, ``-3`` ... added until no file has the name."""
    target = folder / f"grader-{reason}-{stamp}.db"
    serial = 1
    while target.exists():
        serial += 1
        target = folder / f"grader-{reason}-{stamp}-{serial}.db"
    return target


class GradebookDatabase:
    """The database behind one URL, upgraded to the newest migration when opened (unless ``migrate=False``)."""

    def __init__(self, url: str, *, echo: bool = False, migrate: bool = True) -> None:
        self.url = url
        self._engine = make_engine(url, echo=echo)
        self._write_engine = self._engine.execution_options(**{WRITE_OPTION: True})
        self._reader = sessionmaker(self._engine, expire_on_commit=False)
        self._writer = sessionmaker(self._write_engine, expire_on_commit=False)
        # One shared connection (in-memory SQLite) must not carry two transactions at once.
        self._serial: AbstractContextManager[Any] = (threading.RLock() if is_memory_url(url)
                                                     else nullcontext())
        try:
            if migrate:
                self._migrate()
        except DatabaseError as exc:      # OperationalError, and "file is not a database" too
            self._engine.dispose()
            raise GradebookError(f"cannot open gradebook {self._shown_url()}: {database_reason(exc)}; "
                                 f"{DAMAGED_ADVICE}") from None
        except Exception:
            self._engine.dispose()
            raise

    # -- lifecycle

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._shown_url()!r})"

    @property
    def shown_url(self) -> str:
        """The URL as messages show it: the password hidden."""
        return self._shown_url()

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

    def integrity_problems(self, limit: int = 10) -> list[str]:
        """What SQLite's ``PRAGMA integrity_check`` finds wrong (empty when sound); other backends
        check their own pages, so for them this only proves a connection works."""
        try:
            with self._serial, self._engine.connect() as conn:
                if self.dialect != "sqlite":
                    conn.execute(text("SELECT 1"))
                    return []
                rows = [str(row[0]) for row in conn.exec_driver_sql(f"PRAGMA integrity_check({int(limit)})")]
        except DatabaseError as exc:
            return [database_reason(exc)]
        return [] if rows == ["ok"] else rows

    @property
    def _is_sqlite_file(self) -> bool:
        """Whether the gradebook is a SQLite file: the only kind the backups below copy."""
        return self.dialect == "sqlite" and not is_memory_url(self.url)

    def backup(self, target: Path) -> None:
        """Copy a SQLite gradebook to the new file ``target`` with SQLite's online backup API (safe while
        in use); raise :class:`GradebookError` for any other gradebook, or when ``target`` exists."""
        import sqlite3

        if not self._is_sqlite_file:
            raise GradebookError(f"grader db backup copies SQLite files; back up {self._shown_url()} with "
                                 "its own tools (pg_dump for PostgreSQL)")
        try:
            taken = target.exists()
        except OSError as exc:      # a name too long, a loop of symbolic links
            raise GradebookError(f"cannot write the backup {printable(target)}: {exc.strerror or exc}") from None
        if taken:
            raise GradebookError(f"{printable(target)} already exists; choose a new file name for the backup")
        try:
            with self._serial, self._engine.connect() as conn:
                source = conn.connection.driver_connection
                with sqlite3.connect(target) as copy:
                    source.backup(copy)
                copy.close()
        except (DatabaseError, sqlite3.DatabaseError) as exc:
            target.unlink(missing_ok=True)
            raise GradebookError(f"cannot back up {self._shown_url()}: {database_reason(exc)}; "
                                 f"{DAMAGED_ADVICE}") from None

    def backup_into(self, folder: Path, reason: str) -> Path | None:
        """:meth:`backup` to a new file named for ``reason`` and the time in ``folder``
        (``grader-<reason>-<time>.db``), returned; None, copying nothing, when the gradebook is
        not a SQLite file (an in-memory one has nothing to keep, other backends have their own tools)."""
        if not self._is_sqlite_file:
            return None
        folder.mkdir(parents=True, exist_ok=True)
        target = _unused_backup_path(folder, reason, time.strftime("%Y%m%d-%H%M%S"))
        self.backup(target)
        return target

    def schema_problems(self) -> list[str]:
        """Tables and columns of the current schema that the database lacks (empty when none is missing)."""
        from sqlalchemy import inspect

        from grader.store.schema import Base

        try:
            with self._serial, self._engine.connect() as conn:
                inspector = inspect(conn)
                present = set(inspector.get_table_names())
                problems = []
                for table in Base.metadata.sorted_tables:
                    if table.name not in present:
                        problems.append(f"table {table.name!r} is missing")
                        continue
                    columns = {column["name"] for column in inspector.get_columns(table.name)}
                    problems.extend(f"column {table.name}.{column.name} is missing"
                                    for column in table.columns if column.name not in columns)
        except DatabaseError as exc:
            return [database_reason(exc)]
        return problems

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
                if attempt == LOCK_RETRIES or not is_locked(exc):
                    raise
                time.sleep(0.05 * 2 ** attempt + random.uniform(0, 0.05))
        raise AssertionError("unreachable")
