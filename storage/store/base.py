"""The store's common ground: the generic lifecycle operations every state model uses (read a state,
append a history row, graph-checked transition, create), the bulk-statement helpers and shared constants.

Invariant: every state change goes through :meth:`StoreBase.transition` (or writes a history row built by
:meth:`StoreBase.transition_row` in the same statement batch), so the history is complete.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import ARRAY, Connection, Table, and_, any_, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.elements import ColumnElement

from storage.errors import IllegalTransitionError, UnknownEntityError
from storage.lifecycle import ClaimState, EdgeKind, EntityKind, PayoutState, lifecycle
from storage.models import claim_table, l1_tx_table, packet_table, payout_table, slash_table, transition_table
from storage.records import ChainRef

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


def set_based(conn: Connection) -> bool:
    """Whether the L1 payout hot path runs set-based: the one place the dialect picks it.

    On PostgreSQL a batch's payouts are staged with one COPY and moved, historied, finalized and
    checked by statements over the whole batch (:meth:`PayoutStore._reward_paid`,
    :meth:`L1Store.finalize_l1`, :mod:`storage.invariants`); anything unusual in a batch (a new,
    replayed, mismatched or doubly paid leaf; a broken invariant) falls back to the portable
    row-by-row path, which every dialect runs and which raises the precise error. SQLite always
    runs the portable path."""
    return conn.dialect.name == "postgresql"


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
    cumulative_keys: set[tuple[str, str]] = field(default_factory=set)
    """(earner, token) pairs a ``CumulativePaid`` of the batch paid."""
    cumulative_tx_hashes: set[str] = field(default_factory=set)
    """Transactions of the batch with a ``CumulativePaid``."""


class StoreBase:
    """One write transaction: the connection, the clock and the generic lifecycle operations."""

    def __init__(self, conn: Connection, clock: Callable[[], datetime] = utc_now) -> None:
        self.conn = conn
        self.clock = clock

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

    def _require(self, kind: EntityKind, entity_id: str) -> None:
        if self.state_of(kind, entity_id) is None:
            raise UnknownEntityError(f"{kind} {entity_id} is not recorded")

    def next_transition_id(self) -> int:
        last = self.conn.execute(select(func.max(transition_table.c.id))).scalar_one_or_none()
        return int(last or 0) + 1
