"""Alembic environment of the indexer schema (PostgreSQL and SQLite).

The database comes from, in order: a connection handed over in ``config.attributes["connection"]``
(``storage.migrate`` and the tests do this, so a PostgreSQL ``search_path`` chosen by the caller
applies), ``sqlalchemy.url`` in the Alembic config, ``EXORELAY_DATABASE__URL``, the exorelay default.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection, pool

from relayer.config import DEFAULT_DATABASE_URL, env_var_for
from storage.db import create_db_engine
from storage.schema import metadata

config = context.config


def _url() -> str:
    return (
        config.get_main_option("sqlalchemy.url")
        or os.environ.get(env_var_for("database.url"))
        or DEFAULT_DATABASE_URL
    )


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things; batch mode recreates the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=metadata,
        literal_binds=True,
        render_as_batch=_url().startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    handed_over = config.attributes.get("connection")
    if isinstance(handed_over, Connection):
        _configure(handed_over)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_db_engine(_url(), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            _configure(connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
