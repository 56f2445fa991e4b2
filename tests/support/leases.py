"""Lease-test helpers: a lease clock the test moves (expiry without sleeping), and a wait on
PostgreSQL's own lock table (to know, without timing, that a transaction is blocked on a row lock)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, text

T0 = datetime(2026, 6, 1, tzinfo=UTC)


class StepLeaseClock:
    """A ``storage.leases.LeaseClock`` whose time only moves when the test says so."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self, _conn: Connection) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class FrozenMonotonic:
    """A monotonic clock that does not move: a keeper using it keeps believing it holds its leases
    (a paused process that has not noticed it was paused)."""

    def __init__(self, value: float = 1_000.0) -> None:
        self.value = value

    def __call__(self) -> float:
        return self.value


def wait_until_blocked_on_lock(engine: Engine, application_name: str, *, give_up_s: float = 60.0) -> None:
    """Return once the PostgreSQL session named ``application_name`` waits on a lock (pg_stat_activity).
    Polls the server's own state: the test asserts an order of events, never a duration."""
    deadline = time.monotonic() + give_up_s
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE application_name = :name AND wait_event_type = 'Lock'"
                ),
                {"name": application_name},
            ).scalar_one()
            conn.rollback()
            if waiting:
                return
            time.sleep(0.01)
    raise AssertionError(f"{application_name} never waited on a lock")
