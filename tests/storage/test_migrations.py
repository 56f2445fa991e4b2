"""Alembic migrations on the configured database: from empty, from every revision, down and up again."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, insert, inspect
from sqlalchemy.exc import IntegrityError

from storage import migrate
from storage.job_tables import relay_job_table
from storage.models import payout_table
from storage.schema import metadata
from tests.support.database import fresh_database

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def schema_diff(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def user_tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def test_revisions_are_numbered_in_order() -> None:
    revisions = migrate.revisions()
    assert revisions[0] == "0001"
    assert revisions == [f"{i:04d}" for i in range(1, len(revisions) + 1)]
    assert migrate.head_revision() == revisions[-1]
    files = sorted(p.name for p in (migrate.MIGRATIONS_DIR / "versions").glob("*.py"))
    assert [f[:4] for f in files] == revisions


def test_upgrade_from_empty_matches_the_models_exactly(tmp_path: Path) -> None:
    with fresh_database(tmp_path) as engine:
        assert migrate.current_revision(engine) is None
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.head_revision()
        assert user_tables(engine) == set(metadata.tables)
        assert schema_diff(engine) == []
        migrate.upgrade(engine)  # already at head: nothing to do
        assert migrate.current_revision(engine) == migrate.head_revision()


@pytest.mark.parametrize("start", migrate.revisions())
def test_upgrade_from_every_previous_revision(tmp_path: Path, start: str) -> None:
    with fresh_database(tmp_path) as engine:
        migrate.upgrade(engine, start)
        assert migrate.current_revision(engine) == start
        migrate.upgrade(engine)
        assert schema_diff(engine) == []


def test_downgrade_to_each_revision_and_base_then_up_again(tmp_path: Path) -> None:
    with fresh_database(tmp_path) as engine:
        migrate.upgrade(engine)
        for revision in reversed(migrate.revisions()[:-1]):
            migrate.migrate_to(engine, revision)
            assert migrate.current_revision(engine) == revision
        migrate.migrate_to(engine, migrate.BASE)
        assert migrate.current_revision(engine) is None
        assert user_tables(engine) == set()
        migrate.migrate_to(engine, migrate.HEAD)
        assert schema_diff(engine) == []


def test_migrated_schema_enforces_states_and_natural_keys(tmp_path: Path) -> None:
    row = {
        "distribution_id": "0x" + "11" * 32,
        "leaf_index": 0,
        "staker": "0x" + "22" * 20,
        "token": "0x" + "33" * 20,
        "amount": 2**256 - 1,
        "state": "pending",
        "origin": "exocore",
        "created_at": NOW,
        "updated_at": NOW,
    }
    with fresh_database(tmp_path) as engine:
        migrate.upgrade(engine)
        with engine.begin() as conn:
            conn.execute(insert(payout_table).values(**row))
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(insert(payout_table).values(**row))  # one payout per leaf
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(insert(payout_table).values(**{**row, "leaf_index": 1, "state": "paid"}))


def test_packet_kind_4_is_accepted_and_unknown_kinds_refused(tmp_path: Path) -> None:
    """Migration 0006: a WITHDRAWAL_APPROVAL relay job and packet row fit; an unknown kind does not."""
    job = {
        "packet_nonce": 7,
        "kind": 4,
        "valset_nonce": 1,
        "exocore_height": 3,
        "stage": "discovered",
        "attempts": 0,
        "discovered_at": NOW,
        "updated_at": NOW,
    }
    with fresh_database(tmp_path) as engine:
        migrate.upgrade(engine, "0003")
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(insert(relay_job_table).values(**job))
        migrate.upgrade(engine)
        with engine.begin() as conn:
            conn.execute(insert(relay_job_table).values(**job))
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(insert(relay_job_table).values(**{**job, "packet_nonce": 8, "kind": 6}))
        assert schema_diff(engine) == []
