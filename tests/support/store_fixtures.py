"""Store fixtures (a pytest plugin registered in tests/conftest.py): migrated databases on the configured
backend (PostgreSQL or SQLite) for the storage and indexer tests.

``migrated_engine`` is one migrated database per test module; the function-scoped ``engine`` empties
every table before each test, which is ~100x cheaper than migrating a schema per test and gives the
same isolation; ``store`` is a ``LifecycleStore`` over it with a stepping clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from storage.store import LifecycleStore
from tests.support.database import empty_all_tables, migrated_database
from tests.support.indexer_factory import T0, StepClock


@pytest.fixture(scope="module")
def migrated_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with migrated_database(tmp_path_factory.mktemp("indexer-db")) as engine:
        yield engine


@pytest.fixture
def engine(migrated_engine: Engine) -> Engine:
    """The module's migrated database, emptied for this test."""
    empty_all_tables(migrated_engine)
    return migrated_engine


@pytest.fixture
def store(engine: Engine) -> LifecycleStore:
    return LifecycleStore(engine, clock=StepClock(T0 + timedelta(days=1)))
