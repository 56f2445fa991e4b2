"""Work-queue rows for the operator-action, health and metrics tests: `add_job`, `add_payout_job`,
the fixed clock `NOW`, `empty_tables`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert

from storage.job_tables import JobStage, PayoutStage, payout_job_table, relay_job_table
from storage.schema import metadata

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def clock() -> datetime:
    return NOW


def empty_tables(engine: Engine) -> None:
    """Delete every row (the tests hold a few dozen: DELETE is ~30x faster than PostgreSQL's TRUNCATE)."""
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


def add_job(engine: Engine, nonce: int, stage: JobStage, *, kind: int = 2, **values: Any) -> None:
    row: dict[str, Any] = {
        "packet_nonce": nonce,
        "kind": kind,
        "valset_nonce": 1,
        "exocore_height": 10 + nonce,
        "stage": stage.value,
        "discovered_at": NOW - timedelta(minutes=nonce),
        "updated_at": NOW - timedelta(minutes=nonce),
    }
    row.update(values)
    with engine.begin() as conn:
        conn.execute(insert(relay_job_table).values(**row))


def add_payout_job(
    engine: Engine, distribution_id: str, nonce: int, stage: PayoutStage, **values: Any
) -> None:
    row: dict[str, Any] = {
        "distribution_id": distribution_id,
        "packet_nonce": nonce,
        "leaf_count": 4,
        "stage": stage.value,
        "created_at": NOW - timedelta(minutes=nonce),
        "updated_at": NOW - timedelta(minutes=nonce),
    }
    row.update(values)
    with engine.begin() as conn:
        conn.execute(insert(payout_job_table).values(**row))
