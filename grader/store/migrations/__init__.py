"""Schema migrations of the gradebook, shipped inside the package.

The migrations are Alembic revisions configured from code: no ``alembic.ini``
is needed at run time. :class:`grader.store.gradebook.Gradebook` calls
:func:`upgrade` whenever it opens a database that is behind :func:`head_revision`.

Revisions (``versions/``):

* ``0001`` -- the first schema: students, submissions, grading runs, results
  (with history), overrides.
* ``0002`` -- review flags and evidence on results, ``overrides.active`` (a newer
  override deactivates the older one), and the ``gradings`` table recording
  what each submission was last graded against.

Making a new revision (developers)::

    python -c "from alembic import command; from grader.store.migrations import alembic_config; \\
    command.revision(alembic_config(url='sqlite:///dev.db'), 'add x', rev_id='0003', autogenerate=True)"

then edit the generated file: each revision must spell out its tables and
columns itself and never import the ORM models, which describe only the newest
schema.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection

MIGRATIONS_DIR = Path(__file__).resolve().parent


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    """An Alembic config pointing at the shipped migrations.

    Give ``connection`` to migrate inside a transaction the caller controls, or
    ``url`` for Alembic's own commands (``revision``, offline ``--sql`` output).
    """
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def known_revisions() -> list[str]:
    """Every revision id the shipped migrations define, oldest first."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(alembic_config())
    return [script.revision for script in reversed(list(scripts.walk_revisions()))]


def head_revision() -> str:
    """The newest revision id (the schema the ORM models describe)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at, or None for a database never migrated."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def upgrade(connection: Connection, revision: str = "head", **attributes: Any) -> None:
    """Upgrade the database behind ``connection`` to ``revision`` in its open transaction."""
    from alembic import command

    cfg = alembic_config(connection=connection)
    cfg.attributes.update(attributes)
    command.upgrade(cfg, revision)
