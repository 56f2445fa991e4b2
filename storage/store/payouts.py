"""Payouts (one per distribution leaf): queued, submitted in a payout transaction, paid on L1
(``RewardPaid``), finalised; and the token transfers that pay them.

Invariant: a leaf is paid once; a second ``RewardPaid`` for it raises
:class:`~storage.errors.InvariantViolationError` (``leaf_paid_once``).

Two paths record a batch's ``RewardPaid`` logs, chosen in one place (:func:`~storage.store.base.set_based`):
the portable one (every dialect) reads the leaves' rows and decides row by row; the PostgreSQL one
stages the batch with one COPY, checks on the server that every log pays a stored, unpaid leaf
exactly as the leaf says, and then moves the rows and writes their history in two statements. A
batch the check does not pass (a new leaf, a replay, a mismatch, a double payment) goes the portable
way, which raises the same errors as ever: both paths write the same rows and history.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import bindparam, select, text, update

from storage.errors import InvariantViolationError
from storage.lifecycle import Chain, EdgeKind, EntityKind, PayoutState
from storage.models import (
    cumulative_leaf_table,
    cumulative_payout_table,
    cumulative_root_table,
    distribution_table,
    payout_table,
    transfer_table,
)
from storage.normalize import payout_entity_id, payout_entity_id_sql
from storage.records import (
    ChainRef,
    CumulativeLeaves,
    CumulativePaidLog,
    CumulativeRootLog,
    L1Position,
    RewardPaidLog,
    TokenTransferLog,
)
from storage.store.base import (
    PAID_STATES,
    L1BatchEffects,
    StoreBase,
    bulk_insert,
    chunks,
    insert_ignore,
    member_of,
    set_based,
)

PAID_STAGE: Final = "paid_stage"
"""Session-local table the set-based path stages a batch's ``RewardPaid`` logs in (emptied at each
commit; created once per connection)."""

_PAID_STAGE_DDL: Final = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {PAID_STAGE} (seq integer NOT NULL,"
    " distribution_id varchar NOT NULL, leaf_index bigint NOT NULL, staker varchar NOT NULL,"
    " amount numeric(78, 0) NOT NULL, tx_hash varchar NOT NULL, block_number bigint NOT NULL,"
    " block_hash varchar NOT NULL, log_index integer NOT NULL, at timestamptz NOT NULL)"
    " ON COMMIT DELETE ROWS"
)

# The statements below are built from constants only (table and column names), never from data.
_PAID_STAGE_IRREGULAR: Final = text(
    f"SELECT EXISTS (SELECT 1 FROM {PAID_STAGE} s LEFT JOIN payout p"  # noqa: S608
    " ON p.distribution_id = s.distribution_id AND p.leaf_index = s.leaf_index"
    " WHERE p.id IS NULL OR p.staker <> s.staker OR p.amount <> s.amount OR p.state IN :paid)"
).bindparams(bindparam("paid", expanding=True))
"""Whether a staged log is anything but the first payment of a stored leaf, as the leaf says."""

_HISTORY_COLUMNS: Final = (
    "entity_kind, entity_id, from_state, to_state, edge, chain, height, block_hash, tx_hash,"
    " log_index, at, recorded_at"
)

_PAID_STAGE_APPLY: Final = text(
    f"WITH old AS MATERIALIZED (SELECT p.id, p.state AS from_state, s.* FROM {PAID_STAGE} s"  # noqa: S608
    " JOIN payout p ON p.distribution_id = s.distribution_id AND p.leaf_index = s.leaf_index),"
    " moved AS (UPDATE payout SET"
    " state = CASE WHEN old.block_number <= :final_height THEN :finalized ELSE :included END,"
    " updated_at = CASE WHEN old.block_number <= :final_height"
    " THEN CAST(:final_at AS timestamptz) ELSE old.at END,"
    " l1_tx_hash = old.tx_hash, l1_block_number = old.block_number, l1_block_hash = old.block_hash,"
    " l1_log_index = old.log_index, l1_chain_id = :chain_id FROM old WHERE payout.id = old.id)"
    f" INSERT INTO transition ({_HISTORY_COLUMNS})"
    f" SELECT :kind, {payout_entity_id_sql('distribution_id', 'leaf_index')}, from_state, :included,"
    " :forward, :l1, block_number, block_hash, tx_hash, log_index, at, :recorded_at"
    " FROM old ORDER BY seq"
)
"""Every staged log's payout moved (to ``finalized`` where its block already is) with its inclusion
in the history, in one statement (every part sees the rows as they were before it)."""

_PAID_STAGE_FINALIZED: Final = text(
    f"INSERT INTO transition ({_HISTORY_COLUMNS})"  # noqa: S608
    f" SELECT :kind, {payout_entity_id_sql('distribution_id', 'leaf_index')}, :included, :finalized,"
    " :forward, :l1, block_number, block_hash, tx_hash, log_index, :final_at, :recorded_at"
    f" FROM {PAID_STAGE} WHERE block_number <= :final_height ORDER BY seq"
)
"""The finalization moves of the staged payouts already final, after every inclusion (as
:meth:`~storage.store.l1.L1Store.finalize_l1` would have appended them)."""

_FINALIZE_PAYOUTS: Final = text(
    "WITH moved AS (UPDATE payout SET state = :finalized, updated_at = :at"  # noqa: S608
    " WHERE state = :included AND l1_block_number <= :height"
    " AND (CAST(:chain_id AS bigint) IS NULL OR l1_chain_id = :chain_id)"
    " RETURNING id, distribution_id, leaf_index, l1_block_number, l1_block_hash, l1_tx_hash, l1_log_index),"
    f" logged AS (INSERT INTO transition ({_HISTORY_COLUMNS})"
    f" SELECT :kind, {payout_entity_id_sql('distribution_id', 'leaf_index')}, :included, :finalized,"
    " :forward, :l1, l1_block_number, l1_block_hash, l1_tx_hash, l1_log_index, :at, :recorded_at"
    " FROM moved ORDER BY id)"
    " SELECT distribution_id, count(*) FROM moved GROUP BY distribution_id"
)
"""Included payouts at or below a height finalized with their history, in one statement; returns
the moves per distribution."""


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


class PayoutStore(StoreBase):
    """Payout and transfer writes of one transaction."""

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

    def _record_transfers(self, transfers: Sequence[TokenTransferLog], *, chain_id: int) -> None:
        """Store token transfers once each: (tx hash, log index) already stored are skipped, the
        rest are bulk-inserted (a replayed block must not fail on the unique key), naming their
        chain as they are written (not rewritten by :meth:`~storage.store.l1.L1Store._key_by_chain`)."""
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
                    "l1_chain_id": chain_id,
                }
        bulk_insert(self.conn, x, list(fresh.values()))

    def _cumulative_leaves(self, event: CumulativeLeaves, _ref: ChainRef) -> None:
        """Store a page of a closed period's cumulative leaves once each (Exocore is final: a leaf
        seen again, on a replayed block, is the same leaf)."""
        insert_ignore(
            self.conn,
            cumulative_leaf_table,
            [
                {
                    "period": event.period,
                    "earner": leaf.earner,
                    "token": leaf.token,
                    "cumulative": leaf.cumulative,
                    "packet_nonce": event.nonce,
                    "l1_chain_id": event.l1_chain_id,
                }
                for leaf in event.leaves
            ],
        )

    def _cumulative_root(self, log: CumulativeRootLog) -> None:
        """Store which vault took a CUMULATIVE_ROOT packet, once (a replayed block is the same log)."""
        insert_ignore(
            self.conn,
            cumulative_root_table,
            [
                {
                    "packet_nonce": log.nonce,
                    "period": log.period,
                    "vault": log.vault,
                    "accepted": log.accepted,
                    "tx_hash": log.position.tx_hash,
                    "log_index": log.position.log_index,
                    "block_number": log.position.block_number,
                    "block_hash": log.position.block_hash,
                }
            ],
        )

    def _record_cumulative_payouts(self, logs: Sequence[CumulativePaidLog]) -> None:
        """Store the vault's ``CumulativePaid`` events once each (a replayed block is skipped by its
        (tx hash, log index)): who was paid, how much, and whether the earner claimed or was pushed."""
        c = cumulative_payout_table
        tx_hashes = sorted({log.position.tx_hash for log in logs})
        known = {
            (row.tx_hash, row.log_index)
            for part in chunks(tx_hashes)
            for row in self.conn.execute(
                select(c.c.tx_hash, c.c.log_index).where(member_of(self.conn, c.c.tx_hash, part))
            )
        }
        fresh: dict[tuple[str, int], dict[str, Any]] = {}
        for log in logs:
            key = (log.position.tx_hash, log.position.log_index)
            if key not in known:
                fresh[key] = {
                    "earner": log.earner,
                    "token": log.token,
                    "recipient": log.recipient,
                    "amount": log.amount,
                    "cumulative": log.cumulative,
                    "period": log.period,
                    "by_earner": log.by_earner,
                    "tx_hash": log.position.tx_hash,
                    "log_index": log.position.log_index,
                    "block_number": log.position.block_number,
                    "block_hash": log.position.block_hash,
                }
        bulk_insert(self.conn, c, list(fresh.values()))

    def _reward_paid(
        self,
        logs: Sequence[RewardPaidLog],
        effects: L1BatchEffects,
        final: tuple[int, datetime] | None,
        *,
        chain_id: int,
    ) -> None:
        if not (set_based(self.conn) and self._reward_paid_staged(logs, effects, final, chain_id=chain_id)):
            self._reward_paid_by_row(logs, effects, final, chain_id=chain_id)
        self._record_paid_by(logs)

    def _reward_paid_staged(
        self,
        logs: Sequence[RewardPaidLog],
        effects: L1BatchEffects,
        final: tuple[int, datetime] | None,
        *,
        chain_id: int,
    ) -> bool:
        """The set-based path (PostgreSQL): False, with nothing written, if the batch holds anything
        but first payments of stored leaves (the row-by-row path then decides, and raises)."""
        if len({(log.distribution_id, log.index) for log in logs}) != len(logs):
            return False  # a leaf paid twice within the batch
        final_height, final_at = final if final is not None else (-1, None)
        self.conn.execute(text(_PAID_STAGE_DDL))
        # An earlier batch of this transaction may have left rows (the table empties at commit).
        self.conn.execute(text(f"DELETE FROM {PAID_STAGE}"))  # noqa: S608
        cursor = self.conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(
            f"COPY {PAID_STAGE} (seq, distribution_id, leaf_index, staker, amount, tx_hash,"
            " block_number, block_hash, log_index, at) FROM STDIN"
        ) as copy:
            for seq, log in enumerate(logs):
                pos = log.position
                copy.write_row(
                    (
                        seq,
                        log.distribution_id,
                        log.index,
                        log.staker,
                        log.amount,
                        pos.tx_hash,
                        pos.block_number,
                        pos.block_hash,
                        pos.log_index,
                        pos.at,
                    )
                )
        if self.conn.execute(_PAID_STAGE_IRREGULAR, {"paid": list(PAID_STATES)}).scalar_one():
            return False
        values = {
            "final_height": final_height,
            "final_at": final_at,
            "chain_id": chain_id,
            **self._payout_move_params(),
        }
        self.conn.execute(_PAID_STAGE_APPLY, values)
        finalized = [log for log in logs if log.position.block_number <= final_height]
        if finalized:
            self.conn.execute(_PAID_STAGE_FINALIZED, values)
        effects.payouts_included += len(logs)
        effects.payouts_finalized += len(finalized)
        effects.distribution_ids.update(log.distribution_id for log in logs)
        effects.finalized_distribution_ids.update(log.distribution_id for log in finalized)
        effects.paid_tx_hashes.update(log.position.tx_hash for log in logs)
        return True

    def _reward_paid_by_row(
        self,
        logs: Sequence[RewardPaidLog],
        effects: L1BatchEffects,
        final: tuple[int, datetime] | None,
        *,
        chain_id: int,
    ) -> None:
        """The portable path: every dialect, and any batch the set-based path declines."""
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
                    "l1_chain_id": chain_id,
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
        if updates and set_based(self.conn):
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
                    l1_chain_id=bindparam("b_l1_chain_id"),
                )
            )
            for part in chunks(updates):
                self.conn.execute(statement, list(part))
        # After every inclusion, as finalize_l1 would have appended them.
        self.append_transitions(transitions + finalizations)
        effects.payouts_finalized += len(finalizations)

    def _record_paid_by(self, logs: Sequence[RewardPaidLog]) -> None:
        """Who paid, where the ingester told (withdrawal-approval leaves: a handful per epoch)."""
        p = payout_table
        for log in logs:
            if log.paid_by is not None:
                self.conn.execute(
                    update(p)
                    .where(p.c.distribution_id == log.distribution_id, p.c.leaf_index == log.index)
                    .values(paid_by=log.paid_by)
                )

    def _finalize_payouts(
        self, finalized_height: int, at: datetime, *, chain_id: int | None
    ) -> tuple[int, set[str]]:
        """Paid payouts at or below ``finalized_height`` (of ``chain_id``; None: every chain's) become
        final. Returns how many, and their distributions."""
        if set_based(self.conn):
            counts = self.conn.execute(
                _FINALIZE_PAYOUTS,
                {"height": finalized_height, "at": at, "chain_id": chain_id, **self._payout_move_params()},
            ).all()
            return sum(int(n) for _, n in counts), {str(d) for d, _ in counts}
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
            ).where(
                p.c.state == PayoutState.INCLUDED.value,
                p.c.l1_block_number <= finalized_height,
                *([] if chain_id is None else [p.c.l1_chain_id == chain_id]),
            )
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
        return len(rows), {r.distribution_id for r in rows}

    def _payout_move_params(self) -> dict[str, Any]:
        """The constants the set-based payout statements bind (one spelling for all of them)."""
        return {
            "kind": EntityKind.PAYOUT.value,
            "included": PayoutState.INCLUDED.value,
            "finalized": PayoutState.FINALIZED.value,
            "forward": EdgeKind.FORWARD.value,
            "l1": Chain.L1.value,
            "recorded_at": self.clock(),
        }

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
            " l1_block_number = v.block_number, l1_block_hash = v.block_hash, l1_log_index = v.log_index,"
            " l1_chain_id = v.chain_id"
            " FROM unnest(CAST(:ids AS bigint[]), CAST(:states AS varchar[]), CAST(:times AS timestamptz[]),"
            " CAST(:txs AS varchar[]), CAST(:blocks AS bigint[]), CAST(:hashes AS varchar[]),"
            " CAST(:logs AS integer[]), CAST(:chains AS bigint[]))"
            " AS v(id, state, updated_at, tx_hash, block_number, block_hash, log_index, chain_id)"
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
                    "chains": [u["b_l1_chain_id"] for u in part],
                },
            )
