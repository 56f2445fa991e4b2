"""Lease operations over the ``lease`` table: acquire, renew, release, list, and the fencing check a
fenced write runs inside its own transaction.

Invariants (the table's are in ``storage.lease_tables``):

- Every decision reads the time from the clock it is given *inside the same transaction* as the row
  it judges; the production clock is the database's (:func:`database_now`: ``clock_timestamp()`` on
  PostgreSQL), so no host clock takes part and skew between hosts cannot make two holders.
- :func:`acquire` locks the row (``SELECT ... FOR UPDATE``): two contenders serialise on it and exactly
  one of them sees it free.
- :func:`check_fence` takes a share lock on the row (``FOR SHARE``) and keeps it until the caller's
  transaction ends: a takeover (which needs the row lock) waits for that transaction, so a fenced write
  either commits before the new holder starts or is refused; never both holders' writes interleaved.
- No lease statement waits indefinitely for a row lock: :func:`acquire` waits at most
  ``LEASE_LOCK_TIMEOUT_MS`` (PostgreSQL ``SET LOCAL lock_timeout``) and then raises
  :class:`LeaseBusyError`, so one locked row (a paused process inside a fenced write) cannot stall a
  keeper that renews several leases on one thread. The lock itself is bounded by the writer sessions'
  ``idle_in_transaction_session_timeout`` (``storage.db.create_db_engine``).
- SQLite (one process, the demo): row locks do not exist there, but SQLite serialises writers, and with
  one process every lease has one holder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import Connection, Engine, Row, select, text, update
from sqlalchemy.exc import OperationalError

from storage.errors import LeaseBusyError, StaleLeaseError
from storage.lease_tables import lease_table
from storage.store.base import insert_ignore

LeaseClock = Callable[[Connection], datetime]
"""The time, read on the connection of the transaction that decides (so it is the database's own)."""

LEASE_LOCK_TIMEOUT_MS: Final = 1000
"""How long :func:`acquire` waits for a lease row another session holds locked, in milliseconds. A
fenced write holds the row's share lock for one short transaction (milliseconds); waiting a second
rides out a slow one, and a keeper renewing a handful of leases on one tick still renews the others
well within the TTL (>= 3 s) when one row stays locked (its holder paused inside that transaction)."""

LOCK_NOT_AVAILABLE: Final = "55P03"
"""PostgreSQL's SQLSTATE for ``lock_timeout`` expiring (``lock_not_available``)."""

NEVER: Final = datetime(1970, 1, 1, tzinfo=UTC)
"""``expires_at`` of a lease row nobody has held yet: already expired on any clock."""


def database_now(conn: Connection) -> datetime:
    """The database server's wall clock. ``clock_timestamp()``, not ``now()``: ``now()`` is frozen at
    the start of the transaction, and a transaction that waited for a row lock would judge expiry with
    the time it started waiting. SQLite is one process on one host: its clock is the only one."""
    if conn.dialect.name == "postgresql":
        value = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
        if not isinstance(value, datetime):
            raise TypeError(f"clock_timestamp() returned {value!r}")
        return value.astimezone(UTC)
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class LeaseRow:
    """A lease as stored (``holder`` None: released or never held)."""

    name: str
    holder: str | None
    token: int
    acquired_at: datetime | None
    renewed_at: datetime | None
    expires_at: datetime

    def live(self, now: datetime) -> bool:
        return self.holder is not None and self.expires_at > now

    @classmethod
    def of(cls, row: Row[Any]) -> LeaseRow:
        return cls(
            name=row.name,
            holder=row.holder,
            token=int(row.token),
            acquired_at=row.acquired_at,
            renewed_at=row.renewed_at,
            expires_at=row.expires_at,
        )


@dataclass(frozen=True, slots=True)
class Grant:
    """What :func:`acquire` gave: the lease is ``holder``'s with ``token`` until ``expires_at``."""

    name: str
    holder: str
    token: int
    expires_at: datetime
    renewed: bool
    """True: the holder already held it live (same token); False: newly acquired (token + 1)."""
    previous_holder: str | None
    """Newly acquired from another holder whose lease had expired (a takeover), else None."""


def _locked(conn: Connection, name: str, *, share: bool = False) -> LeaseRow | None:
    row = conn.execute(
        select(lease_table).where(lease_table.c.name == name).with_for_update(read=share)
    ).first()
    return None if row is None else LeaseRow.of(row)


def acquire(
    engine: Engine,
    name: str,
    holder: str,
    ttl_s: float,
    *,
    clock: LeaseClock = database_now,
    force: bool = False,
) -> Grant | None:
    """Take or renew ``name`` for ``holder`` for ``ttl_s`` seconds; None if another holder's lease is
    live. A live lease of ``holder`` is renewed with its token; a free or expired one is taken with the
    next token (also when ``holder`` itself let it expire: it may have been paused past the expiry).
    ``force`` takes another holder's live lease too (next token, so its writes are fenced off): only
    for a database one process uses by design (SQLite), where a live lease at start-up can only be a
    dead predecessor's. Raises :class:`LeaseBusyError` if the row stays locked by another transaction
    longer than ``LEASE_LOCK_TIMEOUT_MS`` (nothing written; try again next time)."""
    if ttl_s <= 0:
        raise ValueError("ttl_s must be > 0")
    try:
        return _acquire(engine, name, holder, ttl_s, clock=clock, force=force)
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE:
            raise LeaseBusyError(name) from exc
        raise


def _acquire(
    engine: Engine, name: str, holder: str, ttl_s: float, *, clock: LeaseClock, force: bool
) -> Grant | None:
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = {LEASE_LOCK_TIMEOUT_MS}")
        insert_ignore(conn, lease_table, [{"name": name, "holder": None, "token": 0, "expires_at": NEVER}])
        row = _locked(conn, name)
        if row is None:  # pragma: no cover (inserted above in this transaction)
            raise RuntimeError(f"lease {name!r} vanished")
        now = clock(conn)
        expires = now + timedelta(seconds=ttl_s)
        if row.holder == holder and row.live(now):
            conn.execute(
                update(lease_table)
                .where(lease_table.c.name == name)
                .values(renewed_at=now, expires_at=expires)
            )
            return Grant(name, holder, row.token, expires, renewed=True, previous_holder=None)
        if row.live(now) and not force:
            return None
        token = row.token + 1
        conn.execute(
            update(lease_table)
            .where(lease_table.c.name == name)
            .values(holder=holder, token=token, acquired_at=now, renewed_at=now, expires_at=expires)
        )
        previous = row.holder if row.holder is not None and row.holder != holder else None
        return Grant(name, holder, token, expires, renewed=False, previous_holder=previous)


def release(engine: Engine, name: str, holder: str, token: int, *, clock: LeaseClock = database_now) -> bool:
    """Give the lease up at once (a clean shutdown: the next holder need not wait for the expiry). The
    token stays, so the next holder's is higher. False if it was not ours any more."""
    with engine.begin() as conn:
        now = clock(conn)
        result = conn.execute(
            update(lease_table)
            .where(lease_table.c.name == name, lease_table.c.holder == holder, lease_table.c.token == token)
            .values(holder=None, expires_at=now)
        )
        return result.rowcount == 1


def check_fence(
    conn: Connection, name: str, holder: str, token: int, *, clock: LeaseClock = database_now
) -> None:
    """Raise :class:`StaleLeaseError` unless ``holder`` holds ``name`` live with ``token``, judged in the
    caller's transaction ``conn``; the share lock taken here holds off any takeover until it ends."""
    row = _locked(conn, name, share=True)
    if row is None:
        raise StaleLeaseError(name, holder, token, "no such lease")
    if row.token != token or row.holder != holder:
        raise StaleLeaseError(name, holder, token, f"now held by {row.holder} with token {row.token}")
    now = clock(conn)
    if row.expires_at <= now:
        raise StaleLeaseError(name, holder, token, f"expired at {row.expires_at.isoformat()}")


def leases(conn: Connection) -> list[LeaseRow]:
    """Every lease row, by name (``exorelay status``)."""
    return [LeaseRow.of(row) for row in conn.execute(select(lease_table).order_by(lease_table.c.name))]
