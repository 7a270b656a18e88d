"""``grader db check`` and ``grader db backup``: the gradebook's health and a safe copy of it."""

from __future__ import annotations

from pathlib import Path

import click

from grader.cli.app import _open, cli, course_option, db_option


@cli.group()
def db() -> None:
    """Check the gradebook, or back it up."""


@db.command("check")
@course_option
@db_option
def db_check(course_dir: str | None, db_url: str | None) -> None:
    """Check the gradebook's integrity and schema revision (reads only; changes nothing)."""
    from grader.store import migrations
    from grader.store.database import RESTORE_ADVICE, GradebookDatabase

    course = _open(course_dir, db_url)
    database = GradebookDatabase(course.db_url, migrate=False)
    try:
        problems = database.integrity_problems()
        if problems:
            raise click.ClickException(f"gradebook {database.shown_url}: {'; '.join(problems[:3])}; {RESTORE_ADVICE}")
        revision = database.schema_revision()
        head = migrations.head_revision()
        missing = database.schema_problems() if revision == head else []
    finally:
        database.close()
    shown = database.shown_url
    if missing:
        raise click.ClickException(f"gradebook {shown}: schema revision {revision} but {'; '.join(missing[:3])}; "
                                   f"{RESTORE_ADVICE}")
    if revision is not None and revision != head and revision not in migrations.known_revisions():
        raise click.ClickException(f"gradebook {shown} is at schema revision {revision!r}, newer than this "
                                   f"grader knows (head {head!r}): upgrade rnn-grader")
    state = "current" if revision == head else (
        "empty (no gradebook yet)" if revision is None else f"behind: the next grading upgrades it to {head}")
    click.echo(f"gradebook {shown}: integrity ok; schema revision {revision or 'none'} ({state})")


@db.command("backup")
@click.argument("out", type=click.Path(dir_okay=False))
@course_option
@db_option
def db_backup(out: str, course_dir: str | None, db_url: str | None) -> None:
    """Copy the gradebook to OUT with SQLite's online backup API (safe while grading runs)."""
    from grader.store.database import GradebookDatabase

    course = _open(course_dir, db_url)
    database = GradebookDatabase(course.db_url, migrate=False)
    try:
        database.backup(Path(out))
    finally:
        database.close()
    click.echo(f"backed up {database.shown_url} to {out}")
