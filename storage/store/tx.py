"""The facade: :class:`StoreTx` (one write transaction over every state model) and
:class:`LifecycleStore` (opens them). Each state model's SQL lives in its own module of this package.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, Engine, insert, select, update

from storage.errors import IndexerError, InvariantViolationError, SkipBlockError
from storage.lifecycle import Chain, EdgeKind, EntityKind
from storage.models import cursor_table, poisoned_block_table
from storage.normalize import storable_text
from storage.records import (
    AvsRegistered,
    ChainRef,
    ClaimAccrued,
    ClaimRejected,
    ClaimSubmitted,
    ClaimVerified,
    CommitteeElected,
    CumulativeLeaves,
    DistributionCreated,
    DistributionLeaves,
    ExocoreEvent,
    OperatorRegistered,
    PacketAttested,
    PacketCreated,
    SlashExecutedOnExocore,
    SlashRejected,
    SlashSubmitted,
    SlashVerified,
    ValsetCreated,
    WithdrawalApprovalCreated,
)
from storage.store.avs import AvsStore
from storage.store.base import NO_BLOCK_HEIGHT, utc_now
from storage.store.cursors import (
    POISON_HALT_PREFIX,
    Cursor,
    CursorStore,
    PoisonedBlock,
    _poisoned,
    read_cursor,
)
from storage.store.l1 import L1Store


class LifecycleStore:
    """Entry point: ``with store.begin() as tx: tx.apply_exocore_event(...)``."""

    def __init__(
        self,
        engine: Engine,
        clock: Callable[[], datetime] = utc_now,
        *,
        fence: Callable[[Connection], None] | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.fence = fence
        """Run first in every transaction :meth:`begin` opens; raises to refuse the write. An ingestion
        stream's store is fenced by the stream's lease (``relayer.leases``), so a process paused past
        its lease cannot commit a batch the new holder has already committed."""

    @contextmanager
    def begin(self) -> Iterator[StoreTx]:
        with self.engine.begin() as conn:
            if self.fence is not None:
                self.fence(conn)
            yield StoreTx(conn, self.clock)

    # Convenience wrappers for one-off writes (relayer, operator commands).

    def transition(
        self,
        kind: EntityKind,
        entity_id: str,
        to_state: str,
        ref: ChainRef,
        *,
        edge: EdgeKind = EdgeKind.FORWARD,
        reason: str | None = None,
    ) -> bool:
        with self.begin() as tx:
            return tx.transition(kind, entity_id, to_state, ref, edge=edge, reason=reason)

    def cursor(self, stream: str) -> Cursor | None:
        with self.engine.connect() as conn:
            return read_cursor(conn, stream)

    def halt(
        self, stream: str, chain: str, reason: str, violation: InvariantViolationError | None = None
    ) -> None:
        """Stop a stream in its own transaction (the failed batch itself was rolled back)."""
        with self.begin() as tx:
            tx.halt(stream, chain, reason, violation)

    def poison(
        self,
        stream: str,
        height: int,
        *,
        chain: str,
        block_hash: str,
        error_class: str,
        error: str,
        violation: InvariantViolationError | None = None,
    ) -> PoisonedBlock:
        """Record that block ``height`` of ``stream`` cannot be stored and halt the stream there, in
        one transaction (the failed block itself was rolled back). Poisoned again after a resume: the
        record is updated with the new error. ``violation``: the invariant the block breaks, recorded
        in the same transaction."""
        p = poisoned_block_table
        now = self.clock()
        error = storable_text(error)
        values = {"block_hash": block_hash, "error_class": error_class[:128], "error": error}
        with self.begin() as tx:
            changed = tx.conn.execute(
                update(p)
                .where(p.c.stream == stream, p.c.height == height, p.c.skipped_at.is_(None))
                .values(detected_at=now, **values)
            ).rowcount
            if not changed:
                tx.conn.execute(insert(p).values(stream=stream, height=height, detected_at=now, **values))
            first_line = error.splitlines()[0] if error else ""
            tx.halt(
                stream, chain, f"{POISON_HALT_PREFIX} {height}: {error_class}: {first_line[:300]}", violation
            )
            row = tx.conn.execute(select(p).where(p.c.stream == stream, p.c.height == height)).one()
        return _poisoned(row)

    def skip_block(self, stream: str, height: int, *, reason: str, by: str) -> PoisonedBlock:
        """An operator's decision to leave poisoned block ``height`` out: recorded (who, why, when),
        the cursor moved onto it and the halt cleared, in one transaction. Only the poisoned block the
        stream halts at can be skipped (:class:`SkipBlockError` otherwise)."""
        p = poisoned_block_table
        now = self.clock()
        with self.begin() as tx:
            row = tx.conn.execute(
                select(p).where(p.c.stream == stream, p.c.height == height).with_for_update()
            ).first()
            if row is None:
                raise SkipBlockError(f"{stream}: block {height} is not recorded as poisoned")
            if row.skipped_at is not None:
                raise SkipBlockError(
                    f"{stream}: block {height} was already skipped by {row.skipped_by} at {row.skipped_at}"
                )
            cursor = tx.cursor(stream)
            at = NO_BLOCK_HEIGHT if cursor is None else cursor.height
            if cursor is None or not cursor.halted or (at != NO_BLOCK_HEIGHT and at != height - 1):
                raise SkipBlockError(
                    f"{stream}: block {height} is not where the stream halts (cursor at {at}, "
                    f"halted: {cursor is not None and cursor.halted})"
                )
            tx.conn.execute(
                update(p)
                .where(p.c.id == row.id)
                .values(skipped_at=now, skipped_by=by[:128], skip_reason=storable_text(reason))
            )
            # Exocore blocks are final when committed; an L1 block is final only at its depth, so
            # skipping one must not finalize what the stream ingested below it early.
            instant_finality = cursor.chain == Chain.EXOCORE.value
            tx.set_cursor(
                stream,
                cursor.chain,
                height,
                row.block_hash,
                head_height=cursor.head_height,
                finalized_height=height if instant_finality else cursor.finalized_height,
            )
            tx.remember_blocks(stream, [(height, row.block_hash, None)])
            tx.conn.execute(
                update(cursor_table)
                .where(cursor_table.c.stream == stream)
                .values(halted=False, halt_reason=None, updated_at=now)
            )
            done = tx.conn.execute(select(p).where(p.c.id == row.id)).one()
        return _poisoned(done)

    def resume(self, stream: str) -> None:
        """Clear a halt after an operator fixed the cause (the stream retries its next batch)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(cursor_table)
                .where(cursor_table.c.stream == stream)
                .values(halted=False, halt_reason=None, updated_at=self.clock())
            )


class StoreTx(L1Store, AvsStore, CursorStore):
    """One write transaction on the lifecycle store."""

    def apply_exocore_event(self, event: ExocoreEvent, ref: ChainRef) -> None:
        handler = _EXOCORE_HANDLERS.get(type(event))
        if handler is None:
            raise IndexerError(f"no handler for Exocore record {type(event).__name__}")
        handler(self, event, ref)


_EXOCORE_HANDLERS: Final[Mapping[type, Callable[[StoreTx, Any, ChainRef], None]]] = {
    AvsRegistered: StoreTx._avs,
    OperatorRegistered: StoreTx._operator_registered,
    CommitteeElected: StoreTx._committee,
    ClaimSubmitted: StoreTx._claim_submitted,
    ClaimVerified: StoreTx._claim_verified,
    ClaimRejected: StoreTx._claim_rejected,
    ClaimAccrued: StoreTx._claim_accrued,
    DistributionCreated: StoreTx._distribution_created,
    DistributionLeaves: StoreTx._distribution_leaves,
    CumulativeLeaves: StoreTx._cumulative_leaves,
    WithdrawalApprovalCreated: StoreTx._approval_created,
    PacketCreated: StoreTx._packet_created,
    PacketAttested: StoreTx._packet_attested,
    ValsetCreated: StoreTx._valset_created,
    SlashSubmitted: StoreTx._slash_submitted,
    SlashVerified: StoreTx._slash_verified,
    SlashRejected: StoreTx._slash_rejected,
    SlashExecutedOnExocore: StoreTx._slash_executed,
}
