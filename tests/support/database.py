"""Test databases on the configured backend: PostgreSQL (EXORELAY_TEST_DATABASE_URL, a throw-away schema each)
or a SQLite file; `fresh_database`, `migrated_database`, `ops_database` (a migrated one as a URL),
`empty_all_tables`.
Invariant: every database handed out is private to its caller and dropped afterwards.

A migrated SQLite database is a byte copy of one template the process migrated to head once
(``migrated_sqlite_file``): a copy costs ~1 ms where running the migrations costs ~0.4 CPU-s and
~2 s of fsyncs, and dozens of test modules each want one. On PostgreSQL every database is migrated.
The migrations themselves are tested on fresh databases (``fresh_database``, tests/storage).
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Final

import pytest
from sqlalchemy import Engine, create_engine, text

from storage import migrate
from storage.db import create_db_engine
from storage.schema import metadata

DATABASE_URL_ENV = "EXORELAY_TEST_DATABASE_URL"


REQUIRE_POSTGRES_ENV = "EXORELAY_TEST_REQUIRE_POSTGRES"


def backend() -> str:
    return "postgresql" if os.environ.get(DATABASE_URL_ENV) else "sqlite"


@contextmanager
def fresh_database(directory: Path) -> Iterator[Engine]:
    """An empty database nobody else uses, dropped afterwards."""
    url = os.environ.get(DATABASE_URL_ENV)
    if not url:
        if os.environ.get(REQUIRE_POSTGRES_ENV) == "1":
            pytest.fail(f"{REQUIRE_POSTGRES_ENV}=1 but {DATABASE_URL_ENV} is not set")
        engine = create_db_engine(f"sqlite:///{directory / f'idx-{secrets.token_hex(4)}.sqlite'}")
        try:
            yield engine
        finally:
            engine.dispose()
        return
    schema = f"exorelay_idx_{secrets.token_hex(5)}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_db_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@cache
def _sqlite_template() -> Path:
    """This process' SQLite database migrated to head, with no connection left open (the engine is
    disposed, so its WAL is checkpointed into the file); removed at exit."""
    directory = Path(tempfile.mkdtemp(prefix="exorelay-migrated-"))
    atexit.register(shutil.rmtree, directory, True)
    template = directory / "head.sqlite"
    engine = create_db_engine(f"sqlite:///{template}")
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    return template


def migrated_sqlite_file(target: Path) -> None:
    """Write at ``target`` a SQLite database at the head revision, exactly what migrating it would
    leave: a copy of the process' template."""
    shutil.copyfile(_sqlite_template(), target)


@contextmanager
def migrated_database(directory: Path) -> Iterator[Engine]:
    """A database at the head revision nobody else uses, dropped afterwards (SQLite: a template copy)."""
    if os.environ.get(DATABASE_URL_ENV):
        with fresh_database(directory) as engine:
            migrate.upgrade(engine)
            yield engine
        return
    if os.environ.get(REQUIRE_POSTGRES_ENV) == "1":
        pytest.fail(f"{REQUIRE_POSTGRES_ENV}=1 but {DATABASE_URL_ENV} is not set")
    path = directory / f"migrated-{secrets.token_hex(4)}.sqlite"
    migrated_sqlite_file(path)
    engine = create_db_engine(f"sqlite:///{path}")
    try:
        yield engine
    finally:
        engine.dispose()


USED_SEQUENCES_SQL: Final = (
    "SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema() AND last_value IS NOT NULL"
)
"""Sequences of the engine's schema that handed out a value since they were created or restarted."""


def empty_all_tables(engine: Engine) -> None:
    """Every table of the schema empty and every id sequence restarted, as after a fresh migration.

    PostgreSQL: one probe finds the tables that hold rows and the sequences that moved; only those
    are truncated and restarted. A TRUNCATE of all ~35 tables costs ~1 s (a new file per table) even
    when they are empty, which was most of a storage test's time; the probe costs ~10 ms.
    """
    tables = [t.name for t in reversed(metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            probe = " UNION ALL ".join(
                f"SELECT '{t}' FROM (SELECT 1 FROM \"{t}\" LIMIT 1) AS any_row" for t in tables
            )
            filled = conn.execute(text(probe)).scalars().all()
            if filled:
                conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in filled) + " CASCADE"))
            for sequence in conn.execute(text(USED_SEQUENCES_SQL)).scalars().all():
                conn.execute(text(f'ALTER SEQUENCE "{sequence}" RESTART'))
        else:
            for table in tables:
                conn.execute(text(f'DELETE FROM "{table}"'))


@contextmanager
def ops_database(directory: Path) -> Iterator[str]:
    """A migrated database of its own, as a URL the CLI can be given (PostgreSQL schema or SQLite file)."""
    base = os.environ.get(DATABASE_URL_ENV)
    if not base:
        if os.environ.get(REQUIRE_POSTGRES_ENV) == "1":
            pytest.fail(f"{REQUIRE_POSTGRES_ENV}=1 but {DATABASE_URL_ENV} is not set")
        path = directory / f"ops-{secrets.token_hex(4)}.sqlite"
        migrated_sqlite_file(path)
        yield f"sqlite:///{path}"
        return
    schema = f"exorelay_ops_{secrets.token_hex(5)}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base else "?"
    url = f"{base}{separator}options=-csearch_path%3D{schema}"
    engine = create_db_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def cli_url(engine: Engine) -> str:
    """The URL a child process (``exorelay ...``) is given to reach the same database as ``engine``,
    the engine's PostgreSQL schema included (the search path it connects with)."""
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name != "postgresql":
        return url
    with engine.connect() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{schema}"


@contextmanager
def refusing_transitions_to(engine: Engine, state: str) -> Iterator[None]:
    """A database that refuses to store a move to ``state`` (a trigger), as it refuses any value it
    cannot hold: a data error, raised by the database itself, on both backends."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(
                text(
                    "CREATE FUNCTION refuse_rejection() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                    f"IF NEW.to_state = '{state}' THEN RAISE EXCEPTION 'value refused by the database' "
                    "USING ERRCODE = '22023'; END IF; RETURN NEW; END $$"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_rejection BEFORE INSERT ON transition "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_rejection()"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_rejection BEFORE INSERT ON transition "
                    f"WHEN NEW.to_state = '{state}' BEGIN "
                    "SELECT RAISE(ABORT, 'value refused by the database'); END"
                )
            )
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "DROP TRIGGER refuse_rejection"
                    + (" ON transition" if engine.dialect.name == "postgresql" else "")
                )
            )
            if engine.dialect.name == "postgresql":
                conn.execute(text("DROP FUNCTION refuse_rejection()"))
