"""Run the Alembic migrations of ``storage/migrations/`` (package data) from code (``exorelay
migrate``, tests, the bench).

The Alembic configuration is built here rather than read from ``alembic.ini`` so that the command
works from any working directory. Migrations run on a connection the caller's engine gives, so a
PostgreSQL ``search_path`` set on the engine (a schema per test, a tenant) is respected.

Invariant: on PostgreSQL at most one process migrates a schema at a time. Every migration runs in
one transaction that first takes a transaction-scoped advisory lock keyed by the schema
(:func:`lock_migrations`), and decides what to run (the current revision) only once it holds it: a
second ``exorelay migrate`` started alongside (several hosts deploying at once) waits, then finds
the schema at its target and does nothing. Other schemas migrate in parallel.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

MIGRATIONS_DIR: Final = Path(__file__).resolve().parent / "migrations"
"""The revisions, shipped inside the package so a wheel-only install can ``exorelay migrate``."""

HEAD: Final = "head"
BASE: Final = "base"

MIGRATION_LOCK_CLASS: Final = 0x65786F72
"""First key of the migrations' PostgreSQL advisory lock ("exor" in ASCII: a number no other user
of advisory locks in the database is likely to pick); the second is the schema's ``hashtext``."""


def alembic_config(engine: Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def revisions() -> list[str]:
    """Every revision id, oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations in {MIGRATIONS_DIR}")
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def lock_migrations(connection: Connection) -> None:
    """Take the migrations' lock for the connection's schema until its transaction ends (PostgreSQL;
    a no-op elsewhere: SQLite is one file on one host)."""
    if connection.dialect.name == "postgresql":
        connection.execute(
            text("SELECT pg_advisory_xact_lock(:lock_class, hashtext(current_schema()))"),
            {"lock_class": MIGRATION_LOCK_CLASS},
        )


@contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    with engine.begin() as connection:
        lock_migrations(connection)
        yield connection


def upgrade(engine: Engine, revision: str = HEAD) -> None:
    """Upgrade the database behind ``engine`` to ``revision`` (default: the newest)."""
    with _locked(engine) as connection:
        _run(connection, "upgrade", revision)


def downgrade(engine: Engine, revision: str) -> None:
    with _locked(engine) as connection:
        _run(connection, "downgrade", revision)


def migrate_to(engine: Engine, revision: str) -> None:
    """Move to ``revision`` whichever direction it is (``exorelay migrate --revision``), deciding
    the direction under the migrations' lock."""
    with _locked(engine) as connection:
        _run(connection, _direction(connection, revision), revision)


def _direction(connection: Connection, revision: str) -> str:
    order = revisions()
    current = MigrationContext.configure(connection).get_current_revision()
    if revision in (HEAD, current) or current is None:
        return "upgrade"
    if revision == BASE:
        return "downgrade"
    if revision not in order:
        return "upgrade"  # lets Alembic report the unknown revision
    return "downgrade" if order.index(revision) < order.index(current) else "upgrade"


def _run(connection: Connection, action: str, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    if action == "upgrade":
        command.upgrade(config, revision)
    else:
        command.downgrade(config, revision)
