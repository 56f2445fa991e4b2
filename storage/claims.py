"""Claiming work-queue rows: N processes share one queue, and no row is worked by two at once.

One generic mechanism for every job table (``relay_job``, ``payout_job`` and any job table added
later): a table takes part by having the two columns ``claimed_by`` (a holder id) and
``claimed_until`` (the database clock's time at which the claim lapses).

Invariants:

- :func:`claim` selects due, unclaimed rows with ``FOR UPDATE SKIP LOCKED`` and stamps them in the
  same transaction: two workers claiming at once get disjoint rows (each skips the rows the other has
  locked, and after the other's commit sees them claimed).
- A claim is a lease on the row: a worker that dies leaves its rows to others once ``claimed_until``
  passes on the database's clock. Its owner may re-claim its own rows before then.
- A claim is an efficiency device, not the safety net: every stage write stays compare-and-set on
  the stage the writer read (``relayer.pipeline.jobs``), so a worker whose claim lapsed mid-work and
  was taken over loses its write (``StageMovedError``) instead of doubling an effect.
- SQLite: ``FOR UPDATE SKIP LOCKED`` is not rendered there; the UPDATE, serialised by SQLite's write
  lock, re-checks that the rows are still claimable, so two connections still never share a row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, Table, or_, select, update


def claimable(table: Table, holder: str, now: datetime) -> ColumnElement[bool]:
    """Rows nobody else holds a live claim on."""
    return or_(
        table.c.claimed_until.is_(None),
        table.c.claimed_until <= now,
        table.c.claimed_by == holder,
    )


def claim(
    conn: Connection,
    table: Table,
    *,
    key: str,
    due: ColumnElement[bool],
    order_by: Sequence[ColumnElement[Any]],
    limit: int,
    holder: str,
    ttl_s: float,
    now: datetime,
) -> list[Row[Any]]:
    """Claim up to ``limit`` rows of ``table`` matching ``due`` for ``holder`` until ``now + ttl_s``;
    the claimed rows in ``order_by`` order. Commit soon: the row locks last until the transaction ends."""
    key_col = table.c[key]
    keys = list(
        conn.execute(
            select(key_col)
            .where(due, claimable(table, holder, now))
            .order_by(*order_by)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars()
    )
    if not keys:
        return []
    # The claimable test again in the UPDATE: on PostgreSQL the rows are locked and it holds anyway;
    # on SQLite (no row locks, and the driver opens the transaction only at the first write) another
    # connection may have claimed them since the SELECT, and the UPDATE, which runs under the
    # database's write lock, is what decides.
    conn.execute(
        update(table)
        .where(key_col.in_(keys), claimable(table, holder, now))
        .values(claimed_by=holder, claimed_until=now + timedelta(seconds=ttl_s))
    )
    return list(
        conn.execute(select(table).where(key_col.in_(keys), table.c.claimed_by == holder).order_by(*order_by))
    )


def release(conn: Connection, table: Table, *, key: str, keys: Sequence[Any], holder: str) -> int:
    """Drop ``holder``'s claims on ``keys`` (work done or given back); rows claimed by someone else
    meanwhile are left alone. The number released."""
    if not keys:
        return 0
    result = conn.execute(
        update(table)
        .where(table.c[key].in_(list(keys)), table.c.claimed_by == holder)
        .values(claimed_by=None, claimed_until=None)
    )
    return int(result.rowcount)
