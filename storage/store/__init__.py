"""The lifecycle store: records objects, moves them through their state graphs, keeps the history.

Everything goes through one write transaction at a time (:meth:`LifecycleStore.begin`, a
:class:`StoreTx`). Rules every method keeps:

- **Idempotent.** Rows are keyed by natural keys (claim id, ``(distribution id, leaf index)``, tx
  hash, packet nonce ...); recording what is already recorded changes nothing, and a transition to
  a state the object is already in (or has already passed) is a no-op. Replaying a block is free.
- **Graph-checked.** Every state change is checked against :mod:`storage.lifecycle`; an illegal one
  raises :class:`~storage.errors.IllegalTransitionError` and the caller's transaction rolls back.
- **History.** Every state change appends a :class:`~storage.models.Transition` row with where
  (chain, height, block hash, tx hash, log index) and when; rows are never updated or deleted.
  An L1 reorg appends ``reversal`` rows that name the row they undo.

Bulk paths (payouts, their finalisation, leaves) use multi-row statements: a payout costs a few
index lookups and two row writes, which is what lets ingestion run at thousands of events a second.

One module per state model, each holding that model's SQL: :mod:`.claims`, :mod:`.distributions`,
:mod:`.packets` (packets and valsets), :mod:`.slashes`, :mod:`.payouts` (and token transfers),
:mod:`.l1` (L1 transactions, log batches, finality, reorgs), :mod:`.cursors` (stream cursors, halts,
poisoned blocks) and :mod:`.avs` (AVS registrations, committees), over :mod:`.base` (the generic
lifecycle operations). :class:`StoreTx` (:mod:`.tx`) combines them into the one transaction object
callers hold.
"""

from __future__ import annotations

from storage.store.base import (
    ENTITY_TABLES,
    NO_BLOCK_HASH,
    PAID_STATES,
    L1BatchEffects,
    chunks,
    insert_ignore,
    member_of,
    set_based,
    uint256_sums,
    utc_now,
)
from storage.store.cursors import Cursor, PoisonedBlock, open_poisoned_blocks, read_cursor
from storage.store.tx import LifecycleStore, StoreTx

__all__ = [
    "ENTITY_TABLES",
    "NO_BLOCK_HASH",
    "PAID_STATES",
    "Cursor",
    "L1BatchEffects",
    "LifecycleStore",
    "PoisonedBlock",
    "StoreTx",
    "chunks",
    "insert_ignore",
    "member_of",
    "open_poisoned_blocks",
    "read_cursor",
    "set_based",
    "uint256_sums",
    "utc_now",
]
