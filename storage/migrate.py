"""Run the Alembic migrations of ``storage/migrations/`` (package data) from code (``exorelay
migrate``, tests, the bench).

The Alembic configuration is built here rather than read from ``alembic.ini`` so that the command
works from any working directory. Migrations run on a connection the caller's engine gives, so a
PostgreSQL ``search_path`` set on the engine (a schema per test, a tenant) is respected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS_DIR: Final = Path(__file__).resolve().parent / "migrations"
"""The revisions, shipped inside the package so a wheel-only install can ``exorelay migrate``."""

HEAD: Final = "head"
BASE: Final = "base"


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


def upgrade(engine: Engine, revision: str = HEAD) -> None:
    """Upgrade the database behind ``engine`` to ``revision`` (default: the newest)."""
    _run(engine, "upgrade", revision)


def downgrade(engine: Engine, revision: str) -> None:
    _run(engine, "downgrade", revision)


def migrate_to(engine: Engine, revision: str) -> None:
    """Move to ``revision`` whichever direction it is (``exorelay migrate --revision``)."""
    order = revisions()
    current = current_revision(engine)
    if revision in (HEAD, current) or current is None:
        upgrade(engine, revision)
        return
    if revision == BASE:
        downgrade(engine, BASE)
        return
    target_position = order.index(revision) if revision in order else None
    if target_position is None:
        upgrade(engine, revision)  # lets Alembic report the unknown revision
        return
    if target_position < order.index(current):
        downgrade(engine, revision)
    else:
        upgrade(engine, revision)


def _run(engine: Engine, action: str, revision: str) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        if action == "upgrade":
            command.upgrade(config, revision)
        else:
            command.downgrade(config, revision)
