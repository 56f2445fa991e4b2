"""Indexer fixtures: migrated databases on the configured backend (PostgreSQL or SQLite).

``fresh_database()`` gives an empty database of its own (a new PostgreSQL schema, or a new SQLite
file) for migration tests. ``migrated_engine`` is one migrated database per test module; the
function-scoped ``engine`` empties every table before each test, which is ~100x cheaper than
migrating a schema per test and gives the same isolation.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from indexer import migrate
from indexer.db import create_db_engine
from indexer.schema import metadata
from indexer.store import LifecycleStore
from tests.conftest import DATABASE_URL_ENV, REQUIRE_POSTGRES_ENV

T0 = datetime(2026, 1, 1, tzinfo=UTC)


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


@pytest.fixture(scope="module")
def migrated_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with fresh_database(tmp_path_factory.mktemp("indexer-db")) as engine:
        migrate.upgrade(engine)
        yield engine


def empty_all_tables(engine: Engine) -> None:
    tables = [t.name for t in reversed(metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(
                text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
            )
        else:
            for table in tables:
                conn.execute(text(f'DELETE FROM "{table}"'))


@pytest.fixture
def engine(migrated_engine: Engine) -> Engine:
    """The module's migrated database, emptied for this test."""
    empty_all_tables(migrated_engine)
    return migrated_engine


class StepClock:
    """A deterministic clock: each reading is one second after the previous."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def store(engine: Engine) -> LifecycleStore:
    return LifecycleStore(engine, clock=StepClock(T0 + timedelta(days=1)))
