"""What the cumulative push stage reads and remembers, in the database.

Everything is per client chain (``l1_chain_id``): each chain's pipeline pushes its own chain's roots
against its own vault's payouts, with its own clocks.

- :func:`indexed_claimed`: per (earner, token), what the chain's RewardVault has paid so far, from the
  indexed ``CumulativePaid`` records (the vault sets ``claimed = cumulative`` on each payment, so the
  largest ``cumulative`` paid is ``claimed``). One grouped query, however many earners: the push
  stage never asks L1 per leaf. It lags L1 by the ingestion's distance from the head; a push based
  on a stale figure is skipped by the vault for the leaves already paid (never paid twice).
- The push state (``cumulative_push_state``): when each unpaid balance was first seen and what a
  queued push pays, shared by every relayer process so the maximum delay survives restarts and
  lease take-overs.

Invariants: a balance's ``unpaid_since_s`` is written once (the first sighting wins, including
against a concurrent writer) and only removed with the row, once the index shows it paid.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from sqlalchemy import Connection, delete, func, select, tuple_, update

from storage.job_tables import cumulative_push_state_table
from storage.models import cumulative_payout_table
from storage.store.base import chunks, insert_ignore

PairKey = tuple[str, str]
"""(earner, token), lower-case 0x addresses as the indexer stores them."""

DELETE_CHUNK_ROWS: Final = 500
"""Pairs per DELETE ... WHERE (earner, token) IN (...): well under SQLite's bound-parameter limit."""


@dataclass(frozen=True, slots=True)
class PushState:
    unpaid_since_s: int
    pushed_cumulative: int | None


def indexed_claimed(conn: Connection, l1_chain_id: int | None = None) -> dict[PairKey, int]:
    """Per (earner, token), the cumulative total chain ``l1_chain_id``'s vault has paid up to
    (indexed L1 state); None: over every chain's rows (a one-chain reader's figure)."""
    c = cumulative_payout_table
    top = func.max(c.c.cumulative)
    on_chain = [] if l1_chain_id is None else [c.c.l1_chain_id == l1_chain_id]
    rows = conn.execute(select(c.c.earner, c.c.token, top).where(*on_chain).group_by(c.c.earner, c.c.token))
    return {(str(earner), str(token)): int(paid) for earner, token, paid in rows}


def load_push_state(conn: Connection, l1_chain_id: int) -> dict[PairKey, PushState]:
    s = cumulative_push_state_table
    return {
        (row.earner, row.token): PushState(
            int(row.unpaid_since_s), None if row.pushed_cumulative is None else int(row.pushed_cumulative)
        )
        for row in conn.execute(select(s).where(s.c.l1_chain_id == l1_chain_id))
    }


def record_unpaid(conn: Connection, l1_chain_id: int, first_seen: Mapping[PairKey, int]) -> None:
    """Start the delay clock of balances seen unpaid for the first time (an existing clock is kept)."""
    insert_ignore(
        conn,
        cumulative_push_state_table,
        [
            {"l1_chain_id": l1_chain_id, "earner": e, "token": t, "unpaid_since_s": since}
            for (e, t), since in first_seen.items()
        ],
    )


def mark_pushed(conn: Connection, l1_chain_id: int, pushed: Mapping[PairKey, int]) -> None:
    """Remember the cumulative amount a queued push pays each pair."""
    s = cumulative_push_state_table
    for (earner, token), cumulative in pushed.items():
        conn.execute(
            update(s)
            .where(s.c.l1_chain_id == l1_chain_id, s.c.earner == earner, s.c.token == token)
            .values(pushed_cumulative=cumulative)
        )


def forget_paid(conn: Connection, l1_chain_id: int, paid: Iterable[PairKey]) -> None:
    """Drop the state of balances the index shows paid in full (their clock stops)."""
    s = cumulative_push_state_table
    for part in chunks(sorted(paid), DELETE_CHUNK_ROWS):
        conn.execute(
            delete(s).where(s.c.l1_chain_id == l1_chain_id, tuple_(s.c.earner, s.c.token).in_(list(part)))
        )
