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
from typing import Any, Self, TypeVar

from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from grader.store.engine import LOCK_RETRIES, WRITE_OPTION, is_locked, is_memory_url, make_engine
from grader.store.errors import GradebookError

T = TypeVar("T")

_PG_MIGRATION_LOCK = 7_301_164_911  # any constant; serialises concurrent upgrades on PostgreSQL


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
        except OperationalError as exc:
            self._engine.dispose()
            reason = (str(exc.orig).strip().splitlines() or ["unknown error"])[0]
            raise GradebookError(f"cannot open gradebook {self._shown_url()}: {reason}") from None
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
                if attempt == LOCK_RETRIES or not is_locked(exc):
                    raise
                time.sleep(0.05 * 2 ** attempt + random.uniform(0, 0.05))
        raise AssertionError("unreachable")
