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
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import (
    ARRAY,
    Connection,
    Engine,
    Row,
    Table,
    and_,
    any_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.elements import ColumnElement

from storage.errors import (
    IllegalTransitionError,
    IndexerError,
    InvariantViolationError,
    SkipBlockError,
    StreamHaltedError,
    UnknownEntityError,
)
from storage.lifecycle import (
    CLAIM,
    Chain,
    ClaimState,
    EdgeKind,
    EntityKind,
    L1TxState,
    PacketState,
    PayoutState,
    SlashState,
    lifecycle,
)
from storage.models import (
    attestation_table,
    avs_table,
    block_table,
    claim_signer_table,
    claim_table,
    committee_member_table,
    committee_table,
    cursor_table,
    distribution_table,
    l1_tx_table,
    leaf_table,
    packet_table,
    payout_table,
    poisoned_block_table,
    slash_asset_table,
    slash_signer_table,
    slash_table,
    transfer_table,
    transition_table,
    valset_table,
    violation_table,
)
from storage.normalize import payout_entity_id, storable_text
from storage.records import (
    AvsRegistered,
    ChainRef,
    ClaimRejected,
    ClaimSubmitted,
    ClaimVerified,
    CommitteeElected,
    DistributionCreated,
    DistributionLeaves,
    DistributionSubmittedLog,
    ExocoreEvent,
    L1Log,
    L1Position,
    PacketAttested,
    PacketCreated,
    PacketKindCode,
    RewardPaidLog,
    SlashExecutedLog,
    SlashExecutedOnExocore,
    SlashRejected,
    SlashSubmitted,
    SlashVerified,
    TokenTransferLog,
    ValsetCreated,
    ValsetUpdatedLog,
)

BULK_CHUNK_ROWS: Final = 5000
"""Rows per multi-row statement / IN list: large enough to amortise round trips over a whole
ingestion batch, small enough to stay far below SQLite's 32,766 bound parameters."""

ENTITY_TABLES: Final[Mapping[EntityKind, Table]] = {
    EntityKind.CLAIM: claim_table,
    EntityKind.SLASH: slash_table,
    EntityKind.PACKET: packet_table,
    EntityKind.PAYOUT: payout_table,
    EntityKind.L1_TX: l1_tx_table,
}

COPY_MIN_ROWS: Final = 100
"""From this many rows on, PostgreSQL inserts go through COPY (below it, one INSERT is as fast)."""

NO_BLOCK_HEIGHT: Final = -1
"""Cursor height of a stream that has not ingested a block yet (it was halted before its first)."""
NO_BLOCK_HASH: Final = "0x" + "00" * 32

RELAYER_TERMINAL_STATES: Final = frozenset({ClaimState.FAILED.value, ClaimState.EXCLUDED.value})
"""Terminal states decided off-chain (same names in the claim and slash graphs)."""

PAID_STATES: Final = (PayoutState.INCLUDED.value, PayoutState.FINALIZED.value)


def utc_now() -> datetime:
    return datetime.now(UTC)


def chunks(items: Sequence[Any], size: int = BULK_CHUNK_ROWS) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def bulk_insert(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert many new rows: COPY on PostgreSQL (~5x a multi-row INSERT), executemany elsewhere.

    Values go through each column type's bind processing (range checks, exact amounts, UTC) just as
    with an INSERT. Every row has the keys of the first. Rows must be new: COPY has no ON CONFLICT.
    """
    if not rows:
        return
    if conn.dialect.name != "postgresql" or len(rows) < COPY_MIN_ROWS:
        for part in chunks(rows):
            conn.execute(insert(table), list(part))
        return
    columns = [c for c in table.columns if c.key in rows[0]]
    keys = [c.key for c in columns]
    processed = [
        (position, processor)
        for position, c in enumerate(columns)
        if (processor := c.type._cached_bind_processor(conn.dialect)) is not None
    ]
    names = ", ".join(f'"{c.name}"' for c in columns)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
        for row in rows:
            values = [row.get(key) for key in keys]
            for position, processor in processed:
                values[position] = processor(values[position])
            copy.write_row(values)


def insert_ignore(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Multi-row INSERT that skips rows whose unique key already exists (both dialects)."""
    if not rows:
        return
    maker = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    for part in chunks(rows):
        conn.execute(maker(table).on_conflict_do_nothing(), list(part))


def member_of(conn: Connection, column: ColumnElement[Any], values: Sequence[Any]) -> ColumnElement[bool]:
    """``column IN values`` for a long list. On PostgreSQL ``= ANY(array)``: one bound parameter
    instead of one per value, so the driver neither parses nor prepares a new statement text for
    every list length (a 1,000-value IN list costs ~5 ms of client time per execution)."""
    if len(values) > 1 and conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(list(values))


def _entity_key(kind: EntityKind, entity_id: str) -> ColumnElement[bool]:
    table = ENTITY_TABLES[kind]
    if kind is EntityKind.PAYOUT:
        distribution_id, _, index = entity_id.rpartition(":")
        return and_(table.c.distribution_id == distribution_id, table.c.leaf_index == int(index))
    if kind is EntityKind.PACKET:
        return table.c.nonce == int(entity_id)
    column = {EntityKind.CLAIM: "claim_id", EntityKind.SLASH: "slash_id", EntityKind.L1_TX: "tx_hash"}[kind]
    return table.c[column] == entity_id


def uint256_sums(
    conn: Connection, table: Table, group_column: str, amount_column: str, where: ColumnElement[bool]
) -> dict[str, int]:
    """Exact SUM(amount) GROUP BY a column. PostgreSQL sums NUMERIC exactly; SQLite would sum the
    zero-padded text as floats, so there the rows are summed in Python."""
    group, amount = table.c[group_column], table.c[amount_column]
    if conn.dialect.name == "postgresql":
        rows = conn.execute(select(group, func.sum(amount)).where(where).group_by(group)).all()
        return {str(key): int(total) for key, total in rows}
    sums: dict[str, int] = defaultdict(int)
    for key, value in conn.execute(select(group, amount).where(where)):
        sums[str(key)] += int(value)
    return dict(sums)


@dataclass(frozen=True, slots=True)
class Cursor:
    stream: str
    chain: str
    height: int
    block_hash: str
    head_height: int | None
    finalized_height: int | None
    halted: bool
    halt_reason: str | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class PoisonedBlock:
    stream: str
    height: int
    block_hash: str
    error_class: str
    error: str
    detected_at: datetime
    skipped_at: datetime | None
    skipped_by: str | None
    skip_reason: str | None


POISON_HALT_PREFIX: Final = "poisoned block"
"""``halt_reason`` of a stream halted at a poisoned block starts with this (then the height)."""


@dataclass
class L1BatchEffects:
    """What one batch of L1 logs touched (the invariant checks look exactly there)."""

    distribution_ids: set[str] = field(default_factory=set)
    paid_tx_hashes: set[str] = field(default_factory=set)
    first_transition_id: int | None = None
    payouts_included: int = 0
    payouts_finalized: int = 0
    """Of those, written straight to ``finalized`` (their block was already final)."""
    finalized_distribution_ids: set[str] = field(default_factory=set)


class LifecycleStore:
    """Entry point: ``with store.begin() as tx: tx.apply_exocore_event(...)``."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = utc_now) -> None:
        self.engine = engine
        self.clock = clock

    @contextmanager
    def begin(self) -> Iterator[StoreTx]:
        with self.engine.begin() as conn:
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
        self, stream: str, height: int, *, chain: str, block_hash: str, error_class: str, error: str
    ) -> PoisonedBlock:
        """Record that block ``height`` of ``stream`` cannot be stored and halt the stream there, in
        one transaction (the failed block itself was rolled back). Poisoned again after a resume: the
        record is updated with the new error."""
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
            tx.halt(stream, chain, f"{POISON_HALT_PREFIX} {height}: {error_class}: {first_line[:300]}")
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
            tx.set_cursor(
                stream,
                cursor.chain,
                height,
                row.block_hash,
                head_height=cursor.head_height,
                finalized_height=height,
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


def _poisoned(row: Row[Any]) -> PoisonedBlock:
    return PoisonedBlock(
        stream=row.stream,
        height=int(row.height),
        block_hash=row.block_hash,
        error_class=row.error_class,
        error=row.error,
        detected_at=row.detected_at,
        skipped_at=row.skipped_at,
        skipped_by=row.skipped_by,
        skip_reason=row.skip_reason,
    )


def open_poisoned_blocks(conn: Connection) -> list[PoisonedBlock]:
    """Poisoned blocks neither skipped nor since stored (a resume that succeeded moved the cursor past
    them): what halts a stream now, oldest first."""
    p, c = poisoned_block_table, cursor_table
    rows = conn.execute(
        select(p)
        .outerjoin(c, c.c.stream == p.c.stream)
        .where(p.c.skipped_at.is_(None), or_(c.c.height.is_(None), c.c.height < p.c.height))
        .order_by(p.c.stream, p.c.height)
    ).all()
    return [_poisoned(row) for row in rows]


def read_cursor(conn: Connection, stream: str) -> Cursor | None:
    row = conn.execute(select(cursor_table).where(cursor_table.c.stream == stream)).first()
    if row is None:
        return None
    return Cursor(
        stream=row.stream,
        chain=row.chain,
        height=row.height,
        block_hash=row.block_hash,
        head_height=row.head_height,
        finalized_height=row.finalized_height,
        halted=row.halted,
        halt_reason=row.halt_reason,
        updated_at=row.updated_at,
    )


class StoreTx:
    """One write transaction on the lifecycle store."""

    def __init__(self, conn: Connection, clock: Callable[[], datetime] = utc_now) -> None:
        self.conn = conn
        self.clock = clock

    # ------------------------------------------------------------------ generic lifecycle

    def state_of(self, kind: EntityKind, entity_id: str) -> str | None:
        table = ENTITY_TABLES[kind]
        state: str | None = self.conn.execute(
            select(table.c.state).where(_entity_key(kind, entity_id))
        ).scalar_one_or_none()
        return state

    def _history_has(self, kind: EntityKind, entity_id: str, state: str) -> bool:
        """True if ``state`` was entered and never undone by a reversal."""
        t = transition_table
        undone = select(t.c.reverses_id).where(t.c.reverses_id.is_not(None)).scalar_subquery()
        hit = self.conn.execute(
            select(t.c.id)
            .where(
                t.c.entity_kind == kind.value,
                t.c.entity_id == entity_id,
                t.c.to_state == state,
                t.c.edge != EdgeKind.REVERSAL.value,
                t.c.id.not_in(undone),
            )
            .limit(1)
        ).first()
        return hit is not None

    def transition_row(
        self,
        kind: EntityKind,
        entity_id: str,
        from_state: str | None,
        to_state: str | None,
        ref: ChainRef,
        *,
        edge: EdgeKind = EdgeKind.FORWARD,
        reason: str | None = None,
        reverses_id: int | None = None,
    ) -> dict[str, Any]:
        return {
            "entity_kind": kind.value,
            "entity_id": entity_id,
            "from_state": from_state,
            "to_state": to_state,
            "edge": edge.value,
            "chain": ref.chain.value,
            "height": ref.height,
            "block_hash": ref.block_hash,
            "tx_hash": ref.tx_hash,
            "log_index": ref.log_index,
            "reason": reason,
            "reverses_id": reverses_id,
            "at": ref.at,
            "recorded_at": self.clock(),
        }

    def append_transitions(self, rows: Sequence[Mapping[str, Any]]) -> None:
        bulk_insert(self.conn, transition_table, rows)

    def transition(
        self,
        kind: EntityKind,
        entity_id: str,
        to_state: str,
        ref: ChainRef,
        *,
        edge: EdgeKind = EdgeKind.FORWARD,
        reason: str | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> bool:
        """Move an object to ``to_state``; False (and nothing written) if it is already there or past.

        ``values`` are column updates made together with the move (reason, L1 position ...).
        """
        machine = lifecycle(kind)
        current = self.state_of(kind, entity_id)
        if current is None:
            raise UnknownEntityError(f"{kind} {entity_id} is not recorded")
        if current == to_state:
            return False
        actual = machine.edge(current, to_state)
        if actual is None or actual is not edge:
            if edge is not EdgeKind.RETRY and (
                machine.is_at_or_past(current, to_state) or self._history_has(kind, entity_id, to_state)
            ):
                return False  # a replayed or late report of a state already reached
            raise IllegalTransitionError(kind.value, entity_id, current, to_state)
        table = ENTITY_TABLES[kind]
        changes: dict[str, Any] = {"state": to_state, "updated_at": ref.at}
        changes.update(values or {})
        self.conn.execute(update(table).where(_entity_key(kind, entity_id)).values(**changes))
        self.append_transitions(
            [self.transition_row(kind, entity_id, current, to_state, ref, edge=edge, reason=reason)]
        )
        return True

    def _create(
        self,
        kind: EntityKind,
        entity_id: str,
        state: str,
        values: Mapping[str, Any],
        ref: ChainRef,
        *,
        reason: str | None = None,
    ) -> bool:
        """Insert an object first seen in ``state`` (with its first transition); False if it exists."""
        if self.state_of(kind, entity_id) is not None:
            return False
        lifecycle(kind).check(entity_id, None, state, EdgeKind.FORWARD)
        row = {**values, "state": state, "created_at": ref.at, "updated_at": ref.at}
        self.conn.execute(insert(ENTITY_TABLES[kind]).values(**row))
        self.append_transitions([self.transition_row(kind, entity_id, None, state, ref, reason=reason)])
        return True

    def advance(self, kind: EntityKind, entity_id: str, target: str, ref: ChainRef) -> None:
        """Let a related object follow a chain fact (a packet's claim, a root's claim) if it is recorded.

        Skipped states are not invented. An object a human or the relayer gave up on (``failed``,
        ``excluded``) stays there: the chain may still progress without us (anyone can relay).
        """
        current = self.state_of(kind, entity_id)
        if current is None or current in RELAYER_TERMINAL_STATES:
            return
        self.transition(kind, entity_id, target, ref)

    # ------------------------------------------------------------------ Exocore events

    def apply_exocore_event(self, event: ExocoreEvent, ref: ChainRef) -> None:
        handler = _EXOCORE_HANDLERS.get(type(event))
        if handler is None:
            raise IndexerError(f"no handler for Exocore record {type(event).__name__}")
        handler(self, event, ref)

    def _avs(self, event: AvsRegistered, ref: ChainRef) -> None:
        values = {
            "name": event.name,
            "epoch_identifier": event.epoch_identifier,
            "starting_epoch": event.starting_epoch,
            "threshold_numerator": event.threshold_numerator,
            "threshold_denominator": event.threshold_denominator,
            "asset_ids": list(event.asset_ids),
            "reward_tokens": [
                {"token": t.token, "funding": t.funding, "decimals": t.decimals} for t in event.reward_tokens
            ],
            "updated_height": ref.height or 0,
            "updated_at": ref.at,
        }
        existing = self.conn.execute(
            select(avs_table.c.updated_height).where(avs_table.c.avs_address == event.avs)
        ).first()
        if existing is None:
            self.conn.execute(insert(avs_table).values(avs_address=event.avs, created_at=ref.at, **values))
        elif existing.updated_height <= (ref.height or 0):
            self.conn.execute(update(avs_table).where(avs_table.c.avs_address == event.avs).values(**values))

    def _committee(self, event: CommitteeElected, ref: ChainRef) -> None:
        c = committee_table
        exists = self.conn.execute(
            select(c.c.id).where(c.c.avs_address == event.avs, c.c.epoch == event.epoch)
        ).first()
        if exists is not None:
            return
        committee_id = self.conn.execute(
            insert(c)
            .values(
                avs_address=event.avs,
                epoch=event.epoch,
                total_power=event.total_power,
                threshold_numerator=event.threshold_numerator,
                threshold_denominator=event.threshold_denominator,
                elected_height=ref.height or 0,
                block_hash=ref.block_hash,
                elected_at=ref.at,
            )
            .returning(c.c.id)
        ).scalar_one()
        rows = [
            {
                "committee_id": committee_id,
                "member_index": m.index,
                "operator": m.operator,
                "bls_pubkey": m.bls_pubkey,
                "power": m.power,
            }
            for m in event.members
        ]
        insert_ignore(self.conn, committee_member_table, rows)

    def _claim_submitted(self, event: ClaimSubmitted, ref: ChainRef) -> None:
        values = {
            "claim_id": event.claim_id,
            "avs_address": event.avs,
            "epoch": event.epoch,
            "token": event.token,
            "funding": event.funding,
            "total_amount": event.total_amount,
            "signer_bitmap": event.signer_bitmap,
            "signed_power": event.signed_power,
            "total_power": event.total_power,
            "threshold_numerator": event.threshold_numerator,
            "threshold_denominator": event.threshold_denominator,
            "submitted_height": ref.height,
            "submit_tx_hash": ref.tx_hash,
            "origin": "exocore",
        }
        if self._create(EntityKind.CLAIM, event.claim_id, ClaimState.SUBMITTED, values, ref):
            insert_ignore(
                self.conn,
                claim_signer_table,
                [
                    {
                        "claim_id": event.claim_id,
                        "member_index": s.index,
                        "operator": s.operator,
                        "power": s.power,
                    }
                    for s in event.signers
                ],
            )

    def _claim_verified(self, event: ClaimVerified, ref: ChainRef) -> None:
        values: dict[str, Any] = {}
        if event.signed_power is not None:
            values["signed_power"] = event.signed_power
        if event.total_power is not None:
            values["total_power"] = event.total_power
        self._require(EntityKind.CLAIM, event.claim_id)
        self.transition(EntityKind.CLAIM, event.claim_id, ClaimState.VERIFIED, ref, values=values)

    def _claim_rejected(self, event: ClaimRejected, ref: ChainRef) -> None:
        self._require(EntityKind.CLAIM, event.claim_id)
        self.transition(
            EntityKind.CLAIM,
            event.claim_id,
            ClaimState.REJECTED,
            ref,
            reason=event.reason_code,
            values={"reason_code": event.reason_code, "reason": event.reason},
        )

    def _require(self, kind: EntityKind, entity_id: str) -> None:
        if self.state_of(kind, entity_id) is None:
            raise UnknownEntityError(f"{kind} {entity_id} is not recorded")

    def _distribution_created(self, event: DistributionCreated, ref: ChainRef) -> None:
        d = distribution_table
        existing = self.conn.execute(
            select(d.c.origin).where(d.c.distribution_id == event.distribution_id)
        ).first()
        values = {
            "nonce": event.nonce,
            "claim_id": event.claim_id,
            "avs_address": event.avs,
            "epoch": event.epoch,
            "token": event.token,
            "funding": event.funding,
            "total": event.total,
            "leaf_count": event.leaf_count,
            "merkle_root": event.merkle_root,
            "community_tax": event.community_tax,
            "created_height": ref.height,
            "updated_at": ref.at,
        }
        if existing is None:
            self.conn.execute(
                insert(d).values(
                    distribution_id=event.distribution_id, origin="exocore", created_at=ref.at, **values
                )
            )
        elif existing.origin == "l1":
            # L1 saw the root first (the indexer started late on Exocore): Exocore's record is the
            # authority for the fields L1 does not carry, and the row no longer vanishes on a reorg.
            self.conn.execute(
                update(d)
                .where(d.c.distribution_id == event.distribution_id)
                .values(origin="exocore", **values)
            )
        if self.state_of(EntityKind.CLAIM, event.claim_id) is not None:
            self.transition(
                EntityKind.CLAIM,
                event.claim_id,
                ClaimState.DISTRIBUTED,
                ref,
                values={"distribution_id": event.distribution_id},
            )

    def _distribution_leaves(self, event: DistributionLeaves, ref: ChainRef) -> None:
        self.record_leaves(event.distribution_id, event, ref)

    def record_leaves(self, distribution_id: str, event: DistributionLeaves, ref: ChainRef) -> int:
        """Store leaves and give each a ``pending`` payout; returns the number of new payouts."""
        d = distribution_table
        dist = self.conn.execute(
            select(d.c.token, d.c.avs_address, d.c.epoch).where(d.c.distribution_id == distribution_id)
        ).first()
        if dist is None:
            raise UnknownEntityError(f"distribution {distribution_id} is not recorded")
        leaves = event.leaves
        insert_ignore(
            self.conn,
            leaf_table,
            [
                {
                    "distribution_id": distribution_id,
                    "leaf_index": leaf.index,
                    "staker": leaf.staker,
                    "amount": leaf.amount,
                    "kind": leaf.kind,
                    "operator": leaf.operator,
                }
                for leaf in leaves
            ],
        )
        existing = self._existing_payout_indices(distribution_id, [leaf.index for leaf in leaves])
        fresh = [leaf for leaf in leaves if leaf.index not in existing]
        rows = [
            {
                "distribution_id": distribution_id,
                "leaf_index": leaf.index,
                "staker": leaf.staker,
                "token": dist.token,
                "amount": leaf.amount,
                "avs_address": dist.avs_address,
                "epoch": dist.epoch,
                "state": PayoutState.PENDING.value,
                "origin": "exocore",
                "created_at": ref.at,
                "updated_at": ref.at,
            }
            for leaf in fresh
        ]
        bulk_insert(self.conn, payout_table, rows)
        self.append_transitions(
            [
                self.transition_row(
                    EntityKind.PAYOUT,
                    payout_entity_id(distribution_id, leaf.index),
                    None,
                    PayoutState.PENDING,
                    ref,
                )
                for leaf in fresh
            ]
        )
        return len(fresh)

    def _existing_payout_indices(self, distribution_id: str, indices: Sequence[int]) -> set[int]:
        p = payout_table
        found: set[int] = set()
        for part in chunks(indices):
            found.update(
                self.conn.execute(
                    select(p.c.leaf_index).where(
                        p.c.distribution_id == distribution_id, member_of(self.conn, p.c.leaf_index, part)
                    )
                ).scalars()
            )
        return found

    def _packet_created(self, event: PacketCreated, ref: ChainRef) -> None:
        values = {
            "nonce": event.nonce,
            "kind": event.kind,
            "valset_nonce": event.valset_nonce,
            "payload": event.payload,
            "payload_hash": event.payload_hash,
            "digest": event.digest,
            "subject_id": event.subject_id,
            "distribution_id": event.distribution_id,
            "avs_address": event.avs,
            "exocore_height": ref.height or 0,
        }
        self._create(EntityKind.PACKET, str(event.nonce), PacketState.CREATED, values, ref)
        subject = self._packet_subject(event.kind, event.subject_id)
        if subject is not None:
            self.advance(subject[0], subject[1], "packet_created", ref)  # same name in both graphs

    @staticmethod
    def _packet_subject(kind: int, subject_id: str | None) -> tuple[EntityKind, str] | None:
        if subject_id is None:
            return None
        if kind == PacketKindCode.REWARD_DISTRIBUTION:
            return (EntityKind.CLAIM, subject_id)
        if kind == PacketKindCode.SLASH:
            return (EntityKind.SLASH, subject_id)
        return None

    def _packet_attested(self, event: PacketAttested, ref: ChainRef) -> None:
        packet_id = str(event.nonce)
        self._require(EntityKind.PACKET, packet_id)
        insert_ignore(
            self.conn,
            attestation_table,
            [
                {
                    "packet_nonce": event.nonce,
                    "validator_index": s.index,
                    "bls_pubkey": s.bls_pubkey,
                    "power": s.power,
                    "signed": s.signed,
                    "signature": s.signature,
                }
                for s in event.signatures
            ],
        )
        if not event.quorum:
            return
        self.transition(
            EntityKind.PACKET,
            packet_id,
            PacketState.ATTESTED,
            ref,
            values={"signed_power": event.signed_power, "total_power": event.total_power},
        )
        packet = self.conn.execute(
            select(packet_table.c.kind, packet_table.c.subject_id).where(packet_table.c.nonce == event.nonce)
        ).one()
        subject = self._packet_subject(packet.kind, packet.subject_id)
        if subject is not None:
            self.advance(subject[0], subject[1], "attested", ref)  # same name in both graphs

    def _valset_created(self, event: ValsetCreated, ref: ChainRef) -> None:
        v = valset_table
        members = [
            {"index": m.index, "bls_pubkey": m.bls_pubkey, "power": str(m.power)} for m in event.members
        ]
        existing = self.conn.execute(select(v.c.origin).where(v.c.valset_nonce == event.valset_nonce)).first()
        if existing is None:
            self.conn.execute(
                insert(v).values(
                    valset_nonce=event.valset_nonce,
                    total_power=event.total_power,
                    members=members,
                    created_height=ref.height,
                    origin="exocore",
                    created_at=ref.at,
                    updated_at=ref.at,
                )
            )
        elif existing.origin == "l1":
            self.conn.execute(
                update(v)
                .where(v.c.valset_nonce == event.valset_nonce)
                .values(members=members, created_height=ref.height, origin="exocore", updated_at=ref.at)
            )

    def _slash_submitted(self, event: SlashSubmitted, ref: ChainRef) -> None:
        values = {
            "slash_id": event.slash_id,
            "operator": event.operator,
            "operator_address": event.operator_address,
            "avs_address": event.avs,
            "evidence_kind": event.evidence_kind.label,
            "freeze": event.freeze,
            "slash_proportion": event.slash_proportion,
            "submitted_height": ref.height,
            "origin": "exocore",
        }
        if self._create(EntityKind.SLASH, event.slash_id, SlashState.SUBMITTED, values, ref):
            insert_ignore(
                self.conn,
                slash_signer_table,
                [
                    {"slash_id": event.slash_id, "member_index": s.index, "operator": s.operator}
                    for s in event.signers
                ],
            )

    def _slash_verified(self, event: SlashVerified, ref: ChainRef) -> None:
        self._require(EntityKind.SLASH, event.slash_id)
        self.transition(EntityKind.SLASH, event.slash_id, SlashState.VERIFIED, ref)

    def _slash_rejected(self, event: SlashRejected, ref: ChainRef) -> None:
        self._require(EntityKind.SLASH, event.slash_id)
        self.transition(
            EntityKind.SLASH,
            event.slash_id,
            SlashState.REJECTED,
            ref,
            reason=event.reason_code,
            values={"reason_code": event.reason_code, "reason": event.reason},
        )

    def _slash_executed(self, event: SlashExecutedOnExocore, ref: ChainRef) -> None:
        self._require(EntityKind.SLASH, event.slash_id)
        insert_ignore(
            self.conn,
            slash_asset_table,
            [
                {"slash_id": event.slash_id, "token": a.token, "asset_id": a.asset_id, "amount": a.amount}
                for a in event.assets
            ],
        )
        self.transition(
            EntityKind.SLASH,
            event.slash_id,
            SlashState.EXECUTED_ON_EXOCORE,
            ref,
            values={"packet_nonce": event.packet_nonce, "executed_height": ref.height},
        )

    # ------------------------------------------------------------------ relayer / operator

    def record_l1_tx(
        self,
        tx_hash: str,
        *,
        chain_id: int,
        purpose: str,
        state: str,
        ref: ChainRef,
        sender: str | None = None,
        tx_nonce: int | None = None,
        packet_nonce: int | None = None,
        distribution_id: str | None = None,
        replaces_tx_hash: str | None = None,
        max_fee_per_gas: int | None = None,
        max_priority_fee_per_gas: int | None = None,
    ) -> bool:
        """Record a transaction the relayer signed/broadcast; a replacement moves its predecessor to
        ``replaced``. Returns False if the hash is already recorded."""
        created = self._create(
            EntityKind.L1_TX,
            tx_hash,
            state,
            {
                "tx_hash": tx_hash,
                "chain_id": chain_id,
                "sender": sender,
                "tx_nonce": tx_nonce,
                "purpose": purpose,
                "packet_nonce": packet_nonce,
                "distribution_id": distribution_id,
                "replaces_tx_hash": replaces_tx_hash,
                "max_fee_per_gas": max_fee_per_gas,
                "max_priority_fee_per_gas": max_priority_fee_per_gas,
                "origin": "relayer",
            },
            ref,
        )
        if created and replaces_tx_hash is not None and self.state_of(EntityKind.L1_TX, replaces_tx_hash):
            self.transition(EntityKind.L1_TX, replaces_tx_hash, L1TxState.REPLACED, ref, reason=tx_hash)
        return created

    def mark_payouts_submitted(
        self, distribution_id: str, indices: Iterable[int], tx_hash: str, ref: ChainRef
    ) -> int:
        """The relayer put these leaves in a payout transaction: ``pending -> submitted``.

        In bulk (one select, one update, one history insert per chunk): a 250-leaf batch is signed
        several times a second while a large distribution pays, and per-row statements made this
        bookkeeping, not L1 gas, the limit on payout throughput (bench/relayer_pipeline.py).
        """
        p = payout_table
        moved = 0
        for chunk in chunks(sorted(set(indices))):
            pending = [
                int(index)
                for (index,) in self.conn.execute(
                    select(p.c.leaf_index).where(
                        p.c.distribution_id == distribution_id,
                        member_of(self.conn, p.c.leaf_index, chunk),
                        p.c.state == PayoutState.PENDING.value,
                    )
                )
            ]
            if not pending:
                continue
            self.conn.execute(
                update(p)
                .where(
                    p.c.distribution_id == distribution_id,
                    member_of(self.conn, p.c.leaf_index, pending),
                    p.c.state == PayoutState.PENDING.value,
                )
                .values(state=PayoutState.SUBMITTED.value, l1_tx_hash=tx_hash, updated_at=ref.at)
            )
            self.append_transitions(
                [
                    self.transition_row(
                        EntityKind.PAYOUT,
                        payout_entity_id(distribution_id, index),
                        PayoutState.PENDING.value,
                        PayoutState.SUBMITTED.value,
                        ref,
                    )
                    for index in pending
                ]
            )
            moved += len(pending)
        return moved

    def return_payouts_to_queue(self, tx_hash: str, ref: ChainRef, reason: str) -> int:
        """The payout transaction was dropped or reverted: its submitted leaves are owed again."""
        p = payout_table
        rows = self.conn.execute(
            select(p.c.distribution_id, p.c.leaf_index).where(
                p.c.l1_tx_hash == tx_hash, p.c.state == PayoutState.SUBMITTED.value
            )
        ).all()
        for row in rows:
            self.transition(
                EntityKind.PAYOUT,
                payout_entity_id(row.distribution_id, row.leaf_index),
                PayoutState.PENDING,
                ref,
                edge=EdgeKind.RETRY,
                reason=reason,
                values={"l1_tx_hash": None},
            )
        return len(rows)

    # ------------------------------------------------------------------ L1 logs

    def apply_l1_logs(
        self,
        logs: Sequence[L1Log],
        *,
        chain_id: int,
        finalized_height: int | None = None,
        finalized_at: datetime | None = None,
    ) -> L1BatchEffects:
        """Record one batch of decoded L1 logs (block order). Idempotent per log position.

        With ``finalized_height`` (and ``finalized_at``, the time :meth:`finalize_l1` will be given),
        a payout whose ``RewardPaid`` is already final is written once, straight to ``finalized``
        with both its moves in the history, instead of ``included`` now and again by
        :meth:`finalize_l1` a moment later: the same rows and history, one write of the payout row
        (7 indexes) instead of two. (A claim whose first payouts arrive final moves to ``paying``
        with their finalization time, the ``updated_at`` of its first paid payout, as ever.)
        """
        effects = L1BatchEffects(first_transition_id=self.next_transition_id())
        tx_purposes: dict[str, tuple[str, L1Position, int | None, str | None]] = {}
        paid: list[RewardPaidLog] = []
        transfers: list[TokenTransferLog] = []
        for log in logs:
            if isinstance(log, RewardPaidLog):
                paid.append(log)
                tx_purposes.setdefault(
                    log.position.tx_hash, ("payout", log.position, None, log.distribution_id)
                )
            elif isinstance(log, TokenTransferLog):
                transfers.append(log)
            elif isinstance(log, DistributionSubmittedLog):
                self._distribution_submitted(log, effects)
                tx_purposes.setdefault(
                    log.position.tx_hash, ("distribution", log.position, log.nonce, log.distribution_id)
                )
            elif isinstance(log, SlashExecutedLog):
                self._slash_on_l1(log)
                tx_purposes.setdefault(log.position.tx_hash, ("slash", log.position, log.nonce, None))
            else:
                self._valset_on_l1(log)
                tx_purposes.setdefault(log.position.tx_hash, ("valset_update", log.position, None, None))
        if paid:
            final = None
            if finalized_height is not None and finalized_height >= 0:
                final = (finalized_height, finalized_at or self.clock())
            self._reward_paid(paid, effects, final)
        if transfers:
            self._record_transfers(transfers)
        for tx_hash, (purpose, position, packet_nonce, distribution_id) in tx_purposes.items():
            self._l1_tx_included(
                tx_hash,
                purpose=purpose,
                pos=position,
                chain_id=chain_id,
                packet_nonce=packet_nonce,
                distribution_id=distribution_id,
            )
        self.advance_claims(effects.distribution_ids, finalized_in=effects.finalized_distribution_ids)
        return effects

    def _record_transfers(self, transfers: Sequence[TokenTransferLog]) -> None:
        """Store token transfers once each: (tx hash, log index) already stored are skipped, the
        rest are bulk-inserted (a replayed block must not fail on the unique key)."""
        x = transfer_table
        tx_hashes = sorted({t.position.tx_hash for t in transfers})
        known = {
            (row.tx_hash, row.log_index)
            for part in chunks(tx_hashes)
            for row in self.conn.execute(
                select(x.c.tx_hash, x.c.log_index).where(member_of(self.conn, x.c.tx_hash, part))
            )
        }
        fresh: dict[tuple[str, int], dict[str, Any]] = {}
        for t in transfers:
            key = (t.position.tx_hash, t.position.log_index)
            if key not in known:
                fresh[key] = {
                    "token": t.token,
                    "sender": t.sender,
                    "recipient": t.recipient,
                    "amount": t.amount,
                    "tx_hash": t.position.tx_hash,
                    "log_index": t.position.log_index,
                    "block_number": t.position.block_number,
                    "block_hash": t.position.block_hash,
                }
        bulk_insert(self.conn, x, list(fresh.values()))

    def next_transition_id(self) -> int:
        last = self.conn.execute(select(func.max(transition_table.c.id))).scalar_one_or_none()
        return int(last or 0) + 1

    def _distribution_submitted(self, log: DistributionSubmittedLog, effects: L1BatchEffects) -> None:
        d = distribution_table
        pos = log.position
        row = self.conn.execute(select(d).where(d.c.distribution_id == log.distribution_id)).first()
        l1_values = {
            "l1_block_number": pos.block_number,
            "l1_block_hash": pos.block_hash,
            "l1_tx_hash": pos.tx_hash,
            "l1_log_index": pos.log_index,
            "updated_at": pos.at,
        }
        if row is None:
            self.conn.execute(
                insert(d).values(
                    distribution_id=log.distribution_id,
                    nonce=log.nonce,
                    claim_id=log.claim_id,
                    avs_address=log.avs,
                    epoch=log.epoch,
                    token=log.token,
                    total=log.total,
                    merkle_root=log.root,
                    origin="l1",
                    created_at=pos.at,
                    **l1_values,
                )
            )
        else:
            expected = {
                "claim_id": log.claim_id,
                "avs_address": log.avs,
                "epoch": log.epoch,
                "token": log.token,
                "total": log.total,
                "merkle_root": log.root,
                "nonce": log.nonce,
            }
            differing = {k: (row._mapping[k], v) for k, v in expected.items() if row._mapping[k] != v}
            if differing:
                raise InvariantViolationError(
                    "l1",
                    "distribution_matches_exocore",
                    f"DistributionSubmitted {log.distribution_id} differs from Exocore's record",
                    {
                        "distribution_id": log.distribution_id,
                        "fields": {k: [str(a), str(b)] for k, (a, b) in differing.items()},
                    },
                )
            if row.l1_block_hash is None:
                self.conn.execute(
                    update(d).where(d.c.distribution_id == log.distribution_id).values(**l1_values)
                )
            elif (row.l1_block_hash, row.l1_log_index) != (pos.block_hash, pos.log_index):
                raise InvariantViolationError(
                    "l1",
                    "distribution_submitted_once",
                    f"distribution {log.distribution_id} submitted twice on L1",
                    {
                        "distribution_id": log.distribution_id,
                        "first_tx": row.l1_tx_hash,
                        "second_tx": pos.tx_hash,
                    },
                )
        effects.distribution_ids.add(log.distribution_id)
        ref = pos.ref()
        self.advance(EntityKind.CLAIM, log.claim_id, ClaimState.RELAYED, ref)
        self._packet_relayed(log.nonce, pos)

    def _packet_relayed(self, nonce: int, pos: L1Position) -> None:
        if self.state_of(EntityKind.PACKET, str(nonce)) is None:
            return
        self.transition(
            EntityKind.PACKET,
            str(nonce),
            PacketState.RELAYED,
            pos.ref(),
            values={
                "l1_tx_hash": pos.tx_hash,
                "l1_block_number": pos.block_number,
                "l1_block_hash": pos.block_hash,
                "l1_log_index": pos.log_index,
            },
        )

    def _slash_on_l1(self, log: SlashExecutedLog) -> None:
        pos = log.position
        l1_values = {
            "l1_tx_hash": pos.tx_hash,
            "l1_block_number": pos.block_number,
            "l1_block_hash": pos.block_hash,
            "l1_log_index": pos.log_index,
        }
        created = self._create(
            EntityKind.SLASH,
            log.slash_id,
            SlashState.RELAYED,
            {
                "slash_id": log.slash_id,
                "operator_address": log.operator_address,
                "avs_address": log.avs,
                "freeze": log.freeze,
                "packet_nonce": log.nonce,
                "origin": "l1",
                **l1_values,
            },
            pos.ref(),
        )
        if created:
            insert_ignore(
                self.conn,
                slash_asset_table,
                [
                    {"slash_id": log.slash_id, "token": token, "amount": amount}
                    for token, amount in zip(log.tokens, log.amounts, strict=True)
                ],
            )
        else:
            self.transition(EntityKind.SLASH, log.slash_id, SlashState.RELAYED, pos.ref(), values=l1_values)
        self._packet_relayed(log.nonce, pos)

    def _valset_on_l1(self, log: ValsetUpdatedLog) -> None:
        v = valset_table
        pos = log.position
        l1_values = {
            "l1_commitment": log.commitment,
            "l1_block_number": pos.block_number,
            "l1_block_hash": pos.block_hash,
            "l1_tx_hash": pos.tx_hash,
            "l1_log_index": pos.log_index,
            "updated_at": pos.at,
        }
        exists = self.conn.execute(
            select(v.c.valset_nonce).where(v.c.valset_nonce == log.valset_nonce)
        ).first()
        if exists is None:
            self.conn.execute(
                insert(v).values(
                    valset_nonce=log.valset_nonce,
                    total_power=log.total_power,
                    members=[],
                    origin="l1",
                    created_at=pos.at,
                    **l1_values,
                )
            )
        else:
            self.conn.execute(update(v).where(v.c.valset_nonce == log.valset_nonce).values(**l1_values))
        # ValsetUpdated names the set it installs, not the packet that carried it: the VALSET_UPDATE
        # packet is the one whose subject is that valset nonce.
        packet = self.conn.execute(
            select(packet_table.c.nonce).where(
                packet_table.c.kind == PacketKindCode.VALSET_UPDATE,
                packet_table.c.subject_id == str(log.valset_nonce),
            )
        ).first()
        if packet is not None:
            self._packet_relayed(int(packet.nonce), pos)

    def _reward_paid(
        self, logs: Sequence[RewardPaidLog], effects: L1BatchEffects, final: tuple[int, datetime] | None
    ) -> None:
        p = payout_table
        final_height, final_at = final if final is not None else (-1, None)
        finalizations: list[dict[str, Any]] = []
        by_distribution: dict[str, list[RewardPaidLog]] = defaultdict(list)
        for log in logs:
            by_distribution[log.distribution_id].append(log)
        dists = {
            row.distribution_id: row
            for part in chunks(list(by_distribution))
            for row in self.conn.execute(
                select(
                    distribution_table.c.distribution_id,
                    distribution_table.c.token,
                    distribution_table.c.avs_address,
                    distribution_table.c.epoch,
                ).where(member_of(self.conn, distribution_table.c.distribution_id, part))
            )
        }
        new_rows: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        transitions: list[dict[str, Any]] = []
        for distribution_id, group in by_distribution.items():
            dist = dists.get(distribution_id)
            if dist is None:
                raise InvariantViolationError(
                    "l1",
                    "payout_has_distribution",
                    f"RewardPaid for unknown distribution {distribution_id}",
                    {"distribution_id": distribution_id, "tx_hash": group[0].position.tx_hash},
                )
            existing = {
                row.leaf_index: row
                for part in chunks([log.index for log in group])
                for row in self.conn.execute(
                    select(
                        p.c.id,
                        p.c.leaf_index,
                        p.c.state,
                        p.c.staker,
                        p.c.amount,
                        p.c.l1_block_hash,
                        p.c.l1_log_index,
                        p.c.l1_tx_hash,
                    ).where(
                        p.c.distribution_id == distribution_id, member_of(self.conn, p.c.leaf_index, part)
                    )
                )
            }
            seen_in_batch: dict[int, L1Position] = {}
            finalized_before = len(finalizations)
            for log in group:
                pos = log.position
                entity = payout_entity_id(distribution_id, log.index)
                if log.index in seen_in_batch:
                    raise _double_payment(entity, seen_in_batch[log.index], pos)
                seen_in_batch[log.index] = pos
                l1_values = {
                    "l1_tx_hash": pos.tx_hash,
                    "l1_block_number": pos.block_number,
                    "l1_block_hash": pos.block_hash,
                    "l1_log_index": pos.log_index,
                }
                row = existing.get(log.index)
                state, updated_at = PayoutState.INCLUDED.value, pos.at
                if final_at is not None and pos.block_number <= final_height:
                    state, updated_at = PayoutState.FINALIZED.value, final_at
                    finalizations.append(self._finalized_row(entity, pos, final_at))
                if row is None:
                    new_rows.append(
                        {
                            "distribution_id": distribution_id,
                            "leaf_index": log.index,
                            "staker": log.staker,
                            "token": dist.token,
                            "amount": log.amount,
                            "avs_address": dist.avs_address,
                            "epoch": dist.epoch,
                            "state": state,
                            "origin": "l1",
                            "created_at": pos.at,
                            "updated_at": updated_at,
                            **l1_values,
                        }
                    )
                    transitions.append(
                        self.transition_row(EntityKind.PAYOUT, entity, None, PayoutState.INCLUDED, pos.ref())
                    )
                    effects.payouts_included += 1
                    continue
                if (row.staker, row.amount) != (log.staker, log.amount):
                    raise InvariantViolationError(
                        "l1",
                        "payout_matches_leaf",
                        f"RewardPaid {entity} pays {log.amount} to {log.staker}, the leaf says "
                        f"{row.amount} to {row.staker}",
                        {"payout": entity, "tx_hash": pos.tx_hash},
                    )
                if row.state in PAID_STATES:
                    if state == PayoutState.FINALIZED.value:
                        finalizations.pop()
                    if (row.l1_block_hash, row.l1_log_index) == (pos.block_hash, pos.log_index):
                        continue  # the same log again
                    raise _double_payment(entity, None, pos, first_tx=row.l1_tx_hash)
                updates.append(
                    {
                        "b_id": row.id,
                        "b_state": state,
                        "b_updated_at": updated_at,
                        **_b(l1_values),
                    }
                )
                transitions.append(
                    self.transition_row(EntityKind.PAYOUT, entity, row.state, PayoutState.INCLUDED, pos.ref())
                )
                effects.payouts_included += 1
            effects.distribution_ids.add(distribution_id)
            if len(finalizations) > finalized_before:
                effects.finalized_distribution_ids.add(distribution_id)
            effects.paid_tx_hashes.update(log.position.tx_hash for log in group)
        bulk_insert(self.conn, p, new_rows)
        if updates and self.conn.dialect.name == "postgresql":
            self._update_payouts_pg(updates)
        elif updates:
            statement = (
                update(p)
                .where(p.c.id == bindparam("b_id"))
                .values(
                    state=bindparam("b_state"),
                    updated_at=bindparam("b_updated_at"),
                    l1_tx_hash=bindparam("b_l1_tx_hash"),
                    l1_block_number=bindparam("b_l1_block_number"),
                    l1_block_hash=bindparam("b_l1_block_hash"),
                    l1_log_index=bindparam("b_l1_log_index"),
                )
            )
            for part in chunks(updates):
                self.conn.execute(statement, list(part))
        # After every inclusion, as finalize_l1 would have appended them.
        self.append_transitions(transitions + finalizations)
        effects.payouts_finalized += len(finalizations)

    def _finalized_row(self, entity: str, pos: L1Position, at: datetime) -> dict[str, Any]:
        return self.transition_row(
            EntityKind.PAYOUT,
            entity,
            PayoutState.INCLUDED,
            PayoutState.FINALIZED,
            ChainRef.trusted(
                Chain.L1,
                at,
                height=pos.block_number,
                block_hash=pos.block_hash,
                tx_hash=pos.tx_hash,
                log_index=pos.log_index,
            ),
        )

    def _update_payouts_pg(self, updates: Sequence[Mapping[str, Any]]) -> None:
        """One UPDATE ... FROM unnest(arrays) per chunk instead of one statement per row."""
        statement = text(
            "UPDATE payout SET state = v.state, updated_at = v.updated_at, l1_tx_hash = v.tx_hash,"
            " l1_block_number = v.block_number, l1_block_hash = v.block_hash, l1_log_index = v.log_index"
            " FROM unnest(CAST(:ids AS bigint[]), CAST(:states AS varchar[]), CAST(:times AS timestamptz[]),"
            " CAST(:txs AS varchar[]), CAST(:blocks AS bigint[]), CAST(:hashes AS varchar[]),"
            " CAST(:logs AS integer[]))"
            " AS v(id, state, updated_at, tx_hash, block_number, block_hash, log_index)"
            " WHERE payout.id = v.id"
        )
        for part in chunks(updates):
            self.conn.execute(
                statement,
                {
                    "ids": [u["b_id"] for u in part],
                    "states": [u["b_state"] for u in part],
                    "times": [u["b_updated_at"] for u in part],
                    "txs": [u["b_l1_tx_hash"] for u in part],
                    "blocks": [u["b_l1_block_number"] for u in part],
                    "hashes": [u["b_l1_block_hash"] for u in part],
                    "logs": [u["b_l1_log_index"] for u in part],
                },
            )

    def _l1_tx_included(
        self,
        tx_hash: str,
        *,
        purpose: str,
        pos: L1Position,
        chain_id: int,
        packet_nonce: int | None,
        distribution_id: str | None,
    ) -> None:
        state = self.state_of(EntityKind.L1_TX, tx_hash)
        location = {"block_number": pos.block_number, "block_hash": pos.block_hash}
        ref = ChainRef(Chain.L1, pos.at, pos.block_number, pos.block_hash, pos.tx_hash)
        if state is None:
            self._create(
                EntityKind.L1_TX,
                tx_hash,
                L1TxState.INCLUDED,
                {
                    "tx_hash": tx_hash,
                    "chain_id": chain_id,
                    "purpose": purpose,
                    "packet_nonce": packet_nonce,
                    "distribution_id": distribution_id,
                    "origin": "l1",
                    **location,
                },
                ref,
            )
        elif state != L1TxState.INCLUDED:
            self.transition(EntityKind.L1_TX, tx_hash, L1TxState.INCLUDED, ref, values=location)

    # ------------------------------------------------------------------ claims follow L1

    def advance_claims(
        self,
        distribution_ids: Iterable[str],
        at: datetime | None = None,
        *,
        finalized_in: Iterable[str] | None = None,
    ) -> None:
        """Move each distribution's claim to what L1 shows: relayed, finalized, paying, paid.

        ``finalized_in``: the distributions some of whose payouts just became final (None: any may
        have). A claim already ``paying`` can only become ``paid`` through one of those, so the
        others skip counting their payouts (a scan of the whole distribution, per batch).
        """
        d = distribution_table
        ids = sorted(set(distribution_ids))
        finalizing = None if finalized_in is None else set(finalized_in)
        for part in chunks(ids):
            rows = self.conn.execute(
                select(d).where(member_of(self.conn, d.c.distribution_id, part), d.c.claim_id.is_not(None))
            ).all()
            for dist in rows:
                self._advance_claim(
                    dist, at, finalizing=finalizing is None or dist.distribution_id in finalizing
                )

    def _advance_claim(self, dist: Row[Any], at: datetime | None, *, finalizing: bool = True) -> None:
        claim_id = dist.claim_id
        current = self.state_of(EntityKind.CLAIM, claim_id)
        if current is None or current in CLAIM.terminal or dist.l1_block_hash is None:
            return
        root_ref = ChainRef(
            Chain.L1,
            dist.updated_at,
            dist.l1_block_number,
            dist.l1_block_hash,
            dist.l1_tx_hash,
            dist.l1_log_index,
        )
        # A move the claim has already made is a no-op for transition(); skipping it saves its read.
        if not CLAIM.is_at_or_past(current, ClaimState.RELAYED):
            self.transition(EntityKind.CLAIM, claim_id, ClaimState.RELAYED, root_ref)
        if not dist.l1_finalized:
            return
        if not CLAIM.is_at_or_past(current, ClaimState.FINALIZED):
            final_ref = (
                root_ref
                if at is None
                else ChainRef(
                    Chain.L1, at, dist.l1_block_number, dist.l1_block_hash, dist.l1_tx_hash, dist.l1_log_index
                )
            )
            self.transition(EntityKind.CLAIM, claim_id, ClaimState.FINALIZED, final_ref)
        paying = CLAIM.is_at_or_past(current, ClaimState.PAYING)
        if paying and not finalizing:
            return
        counts = self._payout_counts(dist.distribution_id)
        if counts[PayoutState.INCLUDED] + counts[PayoutState.FINALIZED] == 0:
            return
        if not paying:
            now = self.state_of(EntityKind.CLAIM, claim_id)
            if now is not None and not CLAIM.is_at_or_past(now, ClaimState.PAYING):
                first = self._payout_edge(dist.distribution_id, newest=False)
                self.transition(EntityKind.CLAIM, claim_id, ClaimState.PAYING, first)
        if dist.leaf_count and counts[PayoutState.FINALIZED] == dist.leaf_count:
            self.transition(
                EntityKind.CLAIM,
                claim_id,
                ClaimState.PAID,
                self._payout_edge(dist.distribution_id, newest=True),
            )

    def _payout_counts(self, distribution_id: str) -> Counter[str]:
        p = payout_table
        rows = self.conn.execute(
            select(p.c.state, func.count()).where(p.c.distribution_id == distribution_id).group_by(p.c.state)
        ).all()
        return Counter({str(state): int(count) for state, count in rows})

    def _payout_edge(self, distribution_id: str, *, newest: bool) -> ChainRef:
        """Where the first (or last) L1 payment of a distribution happened."""
        p = payout_table
        order = (
            (p.c.l1_block_number.desc(), p.c.l1_log_index.desc())
            if newest
            else (p.c.l1_block_number.asc(), p.c.l1_log_index.asc())
        )
        row = self.conn.execute(
            select(p.c.l1_block_number, p.c.l1_block_hash, p.c.l1_tx_hash, p.c.l1_log_index, p.c.updated_at)
            .where(p.c.distribution_id == distribution_id, p.c.state.in_(PAID_STATES))
            .order_by(*order)
            .limit(1)
        ).one()
        return ChainRef(
            Chain.L1, row.updated_at, row.l1_block_number, row.l1_block_hash, row.l1_tx_hash, row.l1_log_index
        )

    # ------------------------------------------------------------------ L1 finality and reorgs

    def finalize_l1(self, finalized_height: int, at: datetime) -> int:
        """Everything included at or below ``finalized_height`` becomes final. Returns moves made."""
        moved = 0
        p = payout_table
        rows = self.conn.execute(
            select(
                p.c.id,
                p.c.distribution_id,
                p.c.leaf_index,
                p.c.l1_block_number,
                p.c.l1_block_hash,
                p.c.l1_tx_hash,
                p.c.l1_log_index,
            ).where(p.c.state == PayoutState.INCLUDED.value, p.c.l1_block_number <= finalized_height)
        ).all()
        if rows:
            for part in chunks(rows):
                self.conn.execute(
                    update(p)
                    .where(member_of(self.conn, p.c.id, [r.id for r in part]))
                    .values(state=PayoutState.FINALIZED.value, updated_at=at)
                )
            self.append_transitions(
                [
                    self.transition_row(
                        EntityKind.PAYOUT,
                        payout_entity_id(r.distribution_id, r.leaf_index),
                        PayoutState.INCLUDED,
                        PayoutState.FINALIZED,
                        ChainRef.trusted(  # values read back from the database: already normalised
                            Chain.L1,
                            at,
                            height=r.l1_block_number,
                            block_hash=r.l1_block_hash,
                            tx_hash=r.l1_tx_hash,
                            log_index=r.l1_log_index,
                        ),
                    )
                    for r in rows
                ]
            )
            moved += len(rows)
        touched = {r.distribution_id for r in rows}
        for kind, included, final in (
            (EntityKind.L1_TX, L1TxState.INCLUDED, L1TxState.FINALIZED),
            (EntityKind.PACKET, PacketState.RELAYED, PacketState.FINALIZED),
            (EntityKind.SLASH, SlashState.RELAYED, SlashState.FINALIZED),
        ):
            moved += self._finalize_simple(kind, included, final, finalized_height, at)
        d = distribution_table
        roots = (
            self.conn.execute(
                select(d.c.distribution_id).where(
                    d.c.l1_finalized.is_(False), d.c.l1_block_number <= finalized_height
                )
            )
            .scalars()
            .all()
        )
        for part in chunks(roots):
            self.conn.execute(
                update(d).where(member_of(self.conn, d.c.distribution_id, part)).values(l1_finalized=True)
            )
        touched.update(roots)
        self.advance_claims(touched, at, finalized_in=touched)
        return moved

    def _finalize_simple(
        self, kind: EntityKind, from_state: str, to_state: str, finalized_height: int, at: datetime
    ) -> int:
        table = ENTITY_TABLES[kind]
        prefix = "" if kind is EntityKind.L1_TX else "l1_"
        block_column, hash_column = f"{prefix}block_number", f"{prefix}block_hash"
        key = {EntityKind.L1_TX: "tx_hash", EntityKind.PACKET: "nonce", EntityKind.SLASH: "slash_id"}[kind]
        tx_column = "tx_hash" if kind is EntityKind.L1_TX else "l1_tx_hash"
        rows = self.conn.execute(
            select(table.c[key], table.c[block_column], table.c[hash_column], table.c[tx_column]).where(
                table.c.state == from_state, table.c[block_column] <= finalized_height
            )
        ).all()
        for row in rows:
            entity_id = str(row[0])
            self.transition(kind, entity_id, to_state, ChainRef(Chain.L1, at, row[1], row[2], row[3]))
        return len(rows)

    def reverse_l1_above(self, ancestor: int, at: datetime, *, reason: str = "l1 reorg") -> int:
        """Undo every L1 observation from blocks above ``ancestor`` (the common ancestor of a reorg).

        State changes are undone newest first by appending ``reversal`` transitions (objects first
        seen in an orphaned block are deleted); L1 positions, token transfers and block hashes above
        the ancestor are cleared. Returns the number of transitions reversed.
        """
        t = transition_table
        undone = select(t.c.reverses_id).where(t.c.reverses_id.is_not(None))
        rows = self.conn.execute(
            select(t)
            .where(
                t.c.chain == Chain.L1.value,
                t.c.height > ancestor,
                t.c.edge != EdgeKind.REVERSAL.value,
                t.c.id.not_in(undone),
            )
            .order_by(t.c.id.desc())
        ).all()
        reversals: list[dict[str, Any]] = []
        for row in rows:
            kind = EntityKind(row.entity_kind)
            current = self.state_of(kind, row.entity_id)
            if current != row.to_state:
                raise IndexerError(
                    f"cannot reverse {kind} {row.entity_id}: it is {current}, "
                    f"the orphaned move was to {row.to_state}"
                )
            lifecycle(kind).check(row.entity_id, row.to_state, row.from_state, EdgeKind.REVERSAL)
            table = ENTITY_TABLES[kind]
            key = _entity_key(kind, row.entity_id)
            if row.from_state is None:
                if kind is EntityKind.SLASH:
                    for child in (slash_asset_table, slash_signer_table):
                        self.conn.execute(delete(child).where(child.c.slash_id == row.entity_id))
                self.conn.execute(delete(table).where(key))
            else:
                self.conn.execute(update(table).where(key).values(state=row.from_state, updated_at=at))
            ref = ChainRef(Chain.L1, at, row.height, row.block_hash, row.tx_hash, row.log_index)
            reversals.append(
                self.transition_row(
                    kind,
                    row.entity_id,
                    row.to_state,
                    row.from_state,
                    ref,
                    edge=EdgeKind.REVERSAL,
                    reason=reason,
                    reverses_id=row.id,
                )
            )
        self.append_transitions(reversals)
        self._clear_l1_positions(ancestor)
        return len(rows)

    def _clear_l1_positions(self, ancestor: int) -> None:
        above = ancestor
        d, v, p = distribution_table, valset_table, payout_table
        self.conn.execute(delete(d).where(d.c.origin == "l1", d.c.l1_block_number > above))
        self.conn.execute(
            update(d)
            .where(d.c.l1_block_number > above)
            .values(
                l1_block_number=None,
                l1_block_hash=None,
                l1_tx_hash=None,
                l1_log_index=None,
                l1_finalized=False,
            )
        )
        self.conn.execute(delete(v).where(v.c.origin == "l1", v.c.l1_block_number > above))
        self.conn.execute(
            update(v)
            .where(v.c.l1_block_number > above)
            .values(
                l1_commitment=None,
                l1_block_number=None,
                l1_block_hash=None,
                l1_tx_hash=None,
                l1_log_index=None,
            )
        )
        # Payouts whose inclusion was just reversed are back in pending/submitted but still carry
        # their L1 position (the state index finds them; the position itself is not indexed).
        # One back in ``submitted`` keeps the hash of the relayer's transaction (it may be mined
        # again on the new branch); one back in ``pending`` has no transaction any more.
        self.conn.execute(
            update(p)
            .where(
                p.c.state.in_([PayoutState.PENDING.value, PayoutState.SUBMITTED.value]),
                p.c.l1_block_number > above,
            )
            .values(l1_block_number=None, l1_block_hash=None, l1_log_index=None)
        )
        self.conn.execute(
            update(p)
            .where(
                p.c.state == PayoutState.PENDING.value,
                p.c.l1_tx_hash.is_not(None),
                p.c.l1_block_number.is_(None),
            )
            .values(l1_tx_hash=None)
        )
        for table in (packet_table, slash_table):
            self.conn.execute(
                update(table)
                .where(table.c.l1_block_number > above)
                .values(l1_block_number=None, l1_block_hash=None, l1_tx_hash=None, l1_log_index=None)
            )
        x = l1_tx_table
        self.conn.execute(
            update(x).where(x.c.block_number > above).values(block_number=None, block_hash=None)
        )
        self.conn.execute(delete(transfer_table).where(transfer_table.c.block_number > above))

    # ------------------------------------------------------------------ cursors

    def cursor(self, stream: str) -> Cursor | None:
        return read_cursor(self.conn, stream)

    def check_not_halted(self, stream: str) -> None:
        cursor = self.cursor(stream)
        if cursor is not None and cursor.halted:
            raise StreamHaltedError(stream, cursor.halt_reason or "halted")

    def set_cursor(
        self,
        stream: str,
        chain: str,
        height: int,
        block_hash: str,
        *,
        head_height: int | None = None,
        finalized_height: int | None = None,
    ) -> None:
        c = cursor_table
        values = {
            "chain": chain,
            "height": height,
            "block_hash": block_hash,
            "head_height": head_height,
            "finalized_height": finalized_height,
            "updated_at": self.clock(),
        }
        changed = self.conn.execute(update(c).where(c.c.stream == stream).values(**values)).rowcount
        if not changed:
            self.conn.execute(insert(c).values(stream=stream, halted=False, **values))

    def remember_blocks(self, stream: str, blocks: Iterable[tuple[int, str, datetime | None]]) -> None:
        insert_ignore(
            self.conn,
            block_table,
            [{"stream": stream, "height": h, "block_hash": bh, "at": at} for h, bh, at in blocks],
        )

    def remembered_blocks(self, stream: str, above: int) -> list[tuple[int, str]]:
        """Stored (height, hash) of the stream above ``above``, newest first."""
        b = block_table
        rows = self.conn.execute(
            select(b.c.height, b.c.block_hash)
            .where(b.c.stream == stream, b.c.height > above)
            .order_by(b.c.height.desc())
        ).all()
        return [(int(h), str(bh)) for h, bh in rows]

    def block_hash_at(self, stream: str, height: int) -> str | None:
        b = block_table
        found: str | None = self.conn.execute(
            select(b.c.block_hash).where(b.c.stream == stream, b.c.height == height)
        ).scalar_one_or_none()
        return found

    def forget_blocks(self, stream: str, *, above: int | None = None, below: int | None = None) -> None:
        b = block_table
        conditions: list[ColumnElement[bool]] = [b.c.stream == stream]
        if above is not None:
            conditions.append(b.c.height > above)
        if below is not None:
            conditions.append(b.c.height < below)
        self.conn.execute(delete(b).where(*conditions))

    def halt(
        self, stream: str, chain: str, reason: str, violation: InvariantViolationError | None = None
    ) -> None:
        c = cursor_table
        now = self.clock()
        changed = self.conn.execute(
            update(c).where(c.c.stream == stream).values(halted=True, halt_reason=reason, updated_at=now)
        ).rowcount
        if not changed:
            self.conn.execute(
                insert(c).values(
                    stream=stream,
                    chain=chain,
                    height=NO_BLOCK_HEIGHT,
                    block_hash=NO_BLOCK_HASH,
                    halted=True,
                    halt_reason=reason,
                    updated_at=now,
                )
            )
        if violation is not None:
            self.conn.execute(
                insert(violation_table).values(
                    stream=stream,
                    invariant=violation.invariant,
                    message=str(violation),
                    details=_jsonable(violation.details),
                    detected_at=now,
                )
            )


def _b(values: Mapping[str, Any]) -> dict[str, Any]:
    return {f"b_{k}": v for k, v in values.items()}


def _double_payment(
    entity: str, first: L1Position | None, second: L1Position, *, first_tx: str | None = None
) -> InvariantViolationError:
    return InvariantViolationError(
        "l1",
        "leaf_paid_once",
        f"leaf {entity} paid twice",
        {
            "payout": entity,
            "first_tx": first.tx_hash if first is not None else first_tx,
            "second_tx": second.tx_hash,
        },
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
        return str(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


_EXOCORE_HANDLERS: Final[Mapping[type, Callable[[StoreTx, Any, ChainRef], None]]] = {
    AvsRegistered: StoreTx._avs,
    CommitteeElected: StoreTx._committee,
    ClaimSubmitted: StoreTx._claim_submitted,
    ClaimVerified: StoreTx._claim_verified,
    ClaimRejected: StoreTx._claim_rejected,
    DistributionCreated: StoreTx._distribution_created,
    DistributionLeaves: StoreTx._distribution_leaves,
    PacketCreated: StoreTx._packet_created,
    PacketAttested: StoreTx._packet_attested,
    ValsetCreated: StoreTx._valset_created,
    SlashSubmitted: StoreTx._slash_submitted,
    SlashVerified: StoreTx._slash_verified,
    SlashRejected: StoreTx._slash_rejected,
    SlashExecutedOnExocore: StoreTx._slash_executed,
}

__all__ = [
    "ENTITY_TABLES",
    "Cursor",
    "L1BatchEffects",
    "LifecycleStore",
    "PoisonedBlock",
    "StoreTx",
    "insert_ignore",
    "open_poisoned_blocks",
    "read_cursor",
    "uint256_sums",
    "utc_now",
]
