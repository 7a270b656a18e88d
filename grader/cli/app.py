"""The root command group, the options and helpers every command shares, and ``main``.

Every expected problem the library raises derives from :class:`grader.core.errors.GraderError`;
:class:`GraderGroup` turns it, in this one place, into one ``Error: ...`` line and exit status 1.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Callable

import click

from grader import __version__


def course_option(fn: Callable) -> Callable:
    """``--course DIR`` (or $GRADER_COURSE; default: the current directory)."""
    return click.option("--course", "course_dir", envvar="GRADER_COURSE", type=click.Path(file_okay=False),
                        default=None, help="Course folder (default: $GRADER_COURSE or the current directory).")(fn)


def db_option(fn: Callable) -> Callable:
    """``--db URL`` (or $GRADER_DB; default: sqlite grader.db in the course folder)."""
    return click.option("--db", "db_url", envvar="GRADER_DB", default=None,
                        help="SQLAlchemy URL of the gradebook (default: sqlite:///<course>/grader.db).")(fn)


class StudentId(click.ParamType):
    """A student id under the one rule of :mod:`grader.core.identity`, NFC-normalised."""

    name = "student"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        # A refused id raises StudentIdError, a GraderError: one line and exit status 1, like
        # every other refusal, rather than click's usage block.
        from grader.core.identity import student_id

        return student_id(value)


STUDENT = StudentId()


def no_wait_option(fn: Callable) -> Callable:
    """``--no-wait``: fail at once when another command is writing to the course, instead of queueing."""
    return click.option("--no-wait", is_flag=True,
                        help="Fail at once if another grader command is writing to this course.")(fn)


def _locked(course, command: str, no_wait: bool):
    """The course's write lock (:mod:`grader.core.locking`); a wait is announced on stderr."""
    from grader.core.locking import course_lock

    return course_lock(course.root, command, wait=not no_wait,
                       on_wait=lambda message: click.echo(message, err=True))


def _open(course_dir: str | None, db_url: str | None = None, *, must_exist: bool = True):
    from grader.core.course import open_course

    return open_course(course_dir, db_url, must_exist=must_exist)


def _bank():
    from grader.core.bank import BankError, default_bank

    try:
        return default_bank()
    except BankError as exc:
        raise click.ClickException(f"the question bank is invalid: {exc}") from None


class GraderGroup(click.Group):
    """The root group: a GraderError from any command becomes one line and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        from grader.core.errors import GraderError

        try:
            return super().invoke(ctx)
        except GraderError as exc:
            raise click.ClickException(str(exc)) from None
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:  # never a traceback on the terminal: one line, the rest in a log file
            raise click.ClickException(_unexpected(exc)) from None


def _unexpected(exc: Exception) -> str:
    """One line for an exception no command expected; the full traceback goes to a log file it names."""
    import tempfile
    import time
    import traceback
    from pathlib import Path

    if _is_database_error(exc):
        from grader.store.database import DAMAGED_ADVICE, database_reason

        return f"the gradebook could not be read or written: {database_reason(exc)}; {DAMAGED_ADVICE}"
    folder = Path(tempfile.gettempdir()) / "rnn-grader"
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / f"error-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    log.write_text("".join(traceback.format_exception(exc)), encoding="utf-8")
    first = (str(exc).strip().splitlines() or [""])[0][:160]
    return (f"unexpected {type(exc).__name__}{': ' + first if first else ''} (a grader bug; the full traceback "
            f"is in {log}; please report it)")


def _is_database_error(exc: Exception) -> bool:
    import sys

    sqlalchemy_exc = sys.modules.get("sqlalchemy.exc")     # only loaded if a command opened a database
    return sqlalchemy_exc is not None and isinstance(exc, sqlalchemy_exc.DatabaseError)


@click.group(cls=GraderGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="grader")
def cli() -> None:
    """Grade the recurrent-network assignment: Keras models, forecasts and prose.

    \b
    Start a course, build the references, check and grade submissions:
        grader init mycourse
        grader reference build --course mycourse
        grader check alice/             # a student's self-check
    """


def _gradebook(course, *, read_only: bool = False):
    """The course's gradebook; a command that only reads refuses a SQLite file that does not exist
    (a typo in --db or --course would otherwise create an empty gradebook and report nothing)."""
    from grader.store.engine import sqlite_file
    from grader.store.gradebook import Gradebook

    path = sqlite_file(course.db_url)
    try:
        absent = read_only and path is not None and not path.exists()
    except OSError as exc:                 # a name too long for the file system, say
        raise click.ClickException(f"cannot use the gradebook file {path}: {exc.strerror or exc}") from None
    if absent:
        raise click.ClickException(f"no gradebook at {path}: nothing has been graded in this course yet, or "
                                   "--course / --db names another place")
    return Gradebook(course.db_url)


def main() -> None:
    # Commands that train or load reference models import TensorFlow in this
    # process; keep its C++ and Python logging off the user's terminal.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    try:
        cli(prog_name="grader")
    except BrokenPipeError:        # 'grader check ... | head': the reader left; nothing more to say
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        raise SystemExit(141) from None
