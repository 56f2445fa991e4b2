"""Migration 0005: relay jobs accept CUMULATIVE_ROOT packets (kind 5) and still refuse unknown kinds;
a downgrade drops the kind-5 jobs the old constraint would refuse."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from storage import migrate
from storage.job_tables import JobStage, RelayJob
from tests.support.database import fresh_database

NOW = datetime(2026, 1, 1, tzinfo=UTC)
jobs = RelayJob.__table__  # type: ignore[attr-defined]


def job(nonce: int, kind: int) -> dict[str, object]:
    return {
        "packet_nonce": nonce,
        "kind": kind,
        "valset_nonce": 1,
        "exocore_height": 10,
        "stage": JobStage.DISCOVERED.value,
        "attempts": 0,
        "discovered_at": NOW,
        "updated_at": NOW,
    }


def test_kind_5_jobs_are_accepted_from_0005_and_dropped_by_its_downgrade(tmp_path: Path) -> None:
    with fresh_database(tmp_path) as engine:
        migrate.upgrade(engine, "0003")
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(insert(jobs).values(**job(7, 5)))
        migrate.upgrade(engine)
        with engine.begin() as conn:
            conn.execute(insert(jobs).values(**job(7, 5)))
            conn.execute(insert(jobs).values(**job(8, 2)))
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(insert(jobs).values(**job(9, 9)))  # a kind nobody delivers
        migrate.migrate_to(engine, "0003")
        with engine.begin() as conn:
            kinds = list(conn.execute(select(jobs.c.kind, func.count()).group_by(jobs.c.kind)))
        assert [(int(k), int(n)) for k, n in kinds] == [(2, 1)]
