"""Alembic environment of the gradebook migrations, configured from code (no alembic.ini).

Online: run on ``config.attributes["connection"]`` when the caller passes one
(``grader.store.migrations.upgrade``); otherwise open the ``sqlalchemy.url`` with the
gradebook's own engine settings. Offline (``--sql``): print the SQL.
"""

from __future__ import annotations

from alembic import context

config = context.config


def _target_metadata():
    # Only autogenerate compares against it; revisions never use the models.
    from grader.store.schema import Base

    return Base.metadata


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=_target_metadata(),
                      render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"),
                      target_metadata=_target_metadata(), literal_binds=True,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from grader.store.engine import make_engine

    engine = make_engine(config.get_main_option("sqlalchemy.url"), write=True)
    try:
        with engine.begin() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
