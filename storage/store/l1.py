"""L1 transactions, log batches, finality and reorgs: what one batch of L1 logs does to every state
model, and how finality and reorgs move what L1 included.

Invariant: an L1 reorg never deletes history; it appends ``reversal`` rows naming the rows they undo.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, and_, delete, or_, select, update

from storage.errors import IndexerError
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
    claim_table,
    cumulative_funding_table,
    cumulative_payout_table,
    cumulative_root_table,
    distribution_table,
    l1_tx_table,
    packet_table,
    payout_table,
    reward_funding_table,
    slash_asset_table,
    slash_signer_table,
    slash_table,
    transfer_table,
    transition_table,
    valset_l1_table,
    valset_table,
)
from storage.records import (
    ChainRef,
    CumulativeFundedLog,
    CumulativePaidLog,
    CumulativeRootLog,
    DistributionSubmittedLog,
    L1Log,
    L1Position,
    RewardFundedLog,
    RewardPaidLog,
    SlashExecutedLog,
    TokenTransferLog,
    WithdrawalApprovalSubmittedLog,
)
from storage.store.base import (
    ENTITY_TABLES,
    PAID_STATES,
    L1BatchEffects,
    _entity_key,
    bulk_insert,
    chunks,
    insert_ignore,
    member_of,
)
from storage.store.claims import REWARD_PACKET_KIND, ClaimStore
from storage.store.distributions import DistributionStore
from storage.store.payouts import PayoutStore
from storage.store.slashes import SlashStore


def _on_chain(column: ColumnElement[Any], chain_id: int | None) -> list[ColumnElement[bool]]:
    """The condition "on client chain ``chain_id``" (none for None: every chain)."""
    return [] if chain_id is None else [column == chain_id]


L1_KEYED_TABLES: Final = (
    (packet_table, "l1_"),
    (distribution_table, "l1_"),
    (slash_table, "l1_"),
    (transfer_table, ""),
    (reward_funding_table, ""),
    (cumulative_payout_table, ""),
    (cumulative_root_table, ""),
    (cumulative_funding_table, ""),
)
"""Tables whose rows :meth:`L1Store._key_by_chain` names the chain of, with their position columns'
prefix (``payout`` is keyed as it is written: the hot path writes each of its rows once)."""


class L1Store(ClaimStore, DistributionStore, SlashStore, PayoutStore):
    """L1 transaction, log-batch, finality and reorg writes of one transaction."""

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
        cumulative_paid: list[CumulativePaidLog] = []
        funded: list[RewardFundedLog] = []
        drawn: list[CumulativeFundedLog] = []
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
            elif isinstance(log, WithdrawalApprovalSubmittedLog):
                self._packet_relayed(log.nonce, log.position)
                self._approval_submitted(log)
                tx_purposes.setdefault(log.position.tx_hash, ("withdrawal", log.position, log.nonce, None))
            elif isinstance(log, CumulativePaidLog):
                cumulative_paid.append(log)
            elif isinstance(log, RewardFundedLog):
                funded.append(log)
            elif isinstance(log, CumulativeFundedLog):
                drawn.append(log)
            elif isinstance(log, CumulativeRootLog):
                # Accepted or ignored (an older period), the packet is delivered: relayed.
                self._packet_relayed(log.nonce, log.position)
                self._cumulative_root(log)
                tx_purposes.setdefault(log.position.tx_hash, ("distribution", log.position, log.nonce, None))
            else:
                self._valset_on_l1(log, chain_id=chain_id)
                tx_purposes.setdefault(log.position.tx_hash, ("valset_update", log.position, None, None))
        if paid:
            final = None
            if finalized_height is not None and finalized_height >= 0:
                final = (finalized_height, finalized_at or self.clock())
            self._reward_paid(paid, effects, final, chain_id=chain_id)
        if transfers:
            self._record_transfers(transfers, chain_id=chain_id)
        if funded:
            self._record_funding(funded)
        if drawn:
            self._record_cumulative_funding(drawn)
        if cumulative_paid:
            self._record_cumulative_payouts(cumulative_paid)
            effects.cumulative_keys.update((log.earner, log.token) for log in cumulative_paid)
            effects.cumulative_tx_hashes.update(log.position.tx_hash for log in cumulative_paid)
        self._l1_txs_included(tx_purposes, chain_id=chain_id)
        self._key_by_chain(logs, chain_id)
        self.advance_claims(effects.distribution_ids, finalized_in=effects.finalized_distribution_ids)
        return effects

    def _key_by_chain(self, logs: Sequence[L1Log], chain_id: int) -> None:
        """Name ``chain_id`` on every row this batch landed (payouts named it as they were written).

        A row is found by its transaction hash within the batch's block span (the block index narrows
        it; hashes of different chains never collide, the chain id is signed into each). The rows of
        ``RewardPaid`` and ``Transfer`` logs (payouts, transfers) are written with their chain, so
        those logs alone look for nothing (a batch of payments, the bulk of L1 ingestion, skips this).
        """
        positions = [log.position for log in logs if not isinstance(log, RewardPaidLog | TokenTransferLog)]
        if not positions:
            return
        low = min(pos.block_number for pos in positions)
        high = max(pos.block_number for pos in positions)
        hashes = sorted({pos.tx_hash for pos in positions})
        for table, prefix in L1_KEYED_TABLES:
            block, tx = table.c[f"{prefix}block_number"], table.c[f"{prefix}tx_hash"]
            for part in chunks(hashes):
                self.conn.execute(
                    update(table)
                    .where(
                        block >= low,
                        block <= high,
                        member_of(self.conn, tx, part),
                        # Rows written with their chain (payouts, transfers) are not rewritten.
                        table.c.l1_chain_id.is_distinct_from(chain_id),
                    )
                    .values(l1_chain_id=chain_id)
                )

    def _record_funding(self, logs: Sequence[RewardFundedLog]) -> None:
        """Store each deposit into a reward source once (a replayed block hits the unique key)."""
        insert_ignore(
            self.conn,
            reward_funding_table,
            [
                {
                    "avs_address": log.avs,
                    "token": log.token,
                    "source": log.source,
                    "sender": log.sender,
                    "amount": log.amount,
                    "tx_hash": log.position.tx_hash,
                    "log_index": log.position.log_index,
                    "block_number": log.position.block_number,
                    "block_hash": log.position.block_hash,
                }
                for log in logs
            ],
        )

    def _record_cumulative_funding(self, logs: Sequence[CumulativeFundedLog]) -> None:
        """Store each draw into a token's cumulative pool once (a replayed block hits the unique key)."""
        insert_ignore(
            self.conn,
            cumulative_funding_table,
            [
                {
                    "avs_address": log.avs,
                    "token": log.token,
                    "amount": log.amount,
                    "drawn": log.drawn,
                    "target": log.target,
                    "tx_hash": log.position.tx_hash,
                    "log_index": log.position.log_index,
                    "block_number": log.position.block_number,
                    "block_hash": log.position.block_hash,
                }
                for log in logs
            ],
        )

    def _l1_txs_included(
        self, txs: Mapping[str, tuple[str, L1Position, int | None, str | None]], *, chain_id: int
    ) -> None:
        """The batch's transactions (hash -> purpose, first position, packet nonce, distribution)
        are included: those first seen are created ``included`` together (one read, one insert, one
        history insert), a known one not yet there moves (a transaction the relayer signed)."""
        x = l1_tx_table
        hashes = list(txs)
        states = {
            str(row.tx_hash): str(row.state)
            for part in chunks(hashes)
            for row in self.conn.execute(
                select(x.c.tx_hash, x.c.state).where(member_of(self.conn, x.c.tx_hash, part))
            )
        }
        created: list[dict[str, Any]] = []
        history: list[dict[str, Any]] = []
        for tx_hash, (purpose, pos, packet_nonce, distribution_id) in txs.items():
            state = states.get(tx_hash)
            location = {"block_number": pos.block_number, "block_hash": pos.block_hash}
            ref = ChainRef(Chain.L1, pos.at, pos.block_number, pos.block_hash, pos.tx_hash)
            if state is None:
                lifecycle(EntityKind.L1_TX).check(tx_hash, None, L1TxState.INCLUDED, EdgeKind.FORWARD)
                created.append(
                    {
                        "tx_hash": tx_hash,
                        "chain_id": chain_id,
                        "purpose": purpose,
                        "packet_nonce": packet_nonce,
                        "distribution_id": distribution_id,
                        "origin": "l1",
                        **location,
                        "state": L1TxState.INCLUDED.value,
                        "created_at": pos.at,
                        "updated_at": pos.at,
                    }
                )
                history.append(self.transition_row(EntityKind.L1_TX, tx_hash, None, L1TxState.INCLUDED, ref))
            elif state != L1TxState.INCLUDED:
                self.transition(EntityKind.L1_TX, tx_hash, L1TxState.INCLUDED, ref, values=location)
        bulk_insert(self.conn, x, created)
        self.append_transitions(history)

    def finalize_l1(self, finalized_height: int, at: datetime, *, chain_id: int | None = None) -> int:
        """Everything included at or below ``finalized_height`` becomes final. Returns moves made.

        ``chain_id``: only that client chain's rows (heights of different chains are unrelated);
        None: every chain's (a one-chain deployment).
        """
        moved, touched = self._finalize_payouts(finalized_height, at, chain_id=chain_id)
        for kind, included, final in (
            (EntityKind.L1_TX, L1TxState.INCLUDED, L1TxState.FINALIZED),
            (EntityKind.PACKET, PacketState.RELAYED, PacketState.FINALIZED),
            (EntityKind.SLASH, SlashState.RELAYED, SlashState.FINALIZED),
        ):
            moved += self._finalize_simple(kind, included, final, finalized_height, at, chain_id=chain_id)
        d = distribution_table
        roots = (
            self.conn.execute(
                select(d.c.distribution_id).where(
                    d.c.l1_finalized.is_(False),
                    d.c.l1_block_number <= finalized_height,
                    *_on_chain(d.c.l1_chain_id, chain_id),
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
        self,
        kind: EntityKind,
        from_state: str,
        to_state: str,
        finalized_height: int,
        at: datetime,
        *,
        chain_id: int | None,
    ) -> int:
        table = ENTITY_TABLES[kind]
        prefix = "" if kind is EntityKind.L1_TX else "l1_"
        chain_column = table.c.chain_id if kind is EntityKind.L1_TX else table.c.l1_chain_id
        block_column, hash_column = f"{prefix}block_number", f"{prefix}block_hash"
        key = {EntityKind.L1_TX: "tx_hash", EntityKind.PACKET: "nonce", EntityKind.SLASH: "slash_id"}[kind]
        tx_column = "tx_hash" if kind is EntityKind.L1_TX else "l1_tx_hash"
        rows = self.conn.execute(
            select(table.c[key], table.c[block_column], table.c[hash_column], table.c[tx_column]).where(
                table.c.state == from_state,
                table.c[block_column] <= finalized_height,
                *_on_chain(chain_column, chain_id),
            )
        ).all()
        if lifecycle(kind).edge(from_state, to_state) is not EdgeKind.FORWARD:
            for row in rows:  # not a plain forward move: transition() decides row by row
                entity_id = str(row[0])
                self.transition(kind, entity_id, to_state, ChainRef(Chain.L1, at, row[1], row[2], row[3]))
            return len(rows)
        # What transition() does for each row (all are in ``from_state``), in one statement per chunk.
        for part in chunks([row[0] for row in rows]):
            self.conn.execute(
                update(table)
                .where(member_of(self.conn, table.c[key], part), table.c.state == from_state)
                .values(state=to_state, updated_at=at)
            )
        self.append_transitions(
            [
                self.transition_row(
                    kind, str(row[0]), from_state, to_state, ChainRef(Chain.L1, at, row[1], row[2], row[3])
                )
                for row in rows
            ]
        )
        return len(rows)

    def reverse_l1_above(
        self, ancestor: int, at: datetime, *, chain_id: int | None = None, reason: str = "l1 reorg"
    ) -> int:
        """Undo every L1 observation from blocks above ``ancestor`` (the common ancestor of a reorg).

        State changes are undone newest first by appending ``reversal`` transitions (objects first
        seen in an orphaned block are deleted); L1 positions, token transfers and block hashes above
        the ancestor are cleared. Returns the number of transitions reversed.

        ``chain_id``: only that client chain's observations (another chain's heights say nothing
        about this reorg). A transition belongs to the chain of its transaction (every L1 move is
        made by a log or a finalization of a transaction ``l1_tx`` records with its chain). None:
        every chain's (a one-chain deployment).
        """
        t, x = transition_table, l1_tx_table
        undone = select(t.c.reverses_id).where(t.c.reverses_id.is_not(None))
        chain_txs = select(x.c.tx_hash).where(x.c.chain_id == chain_id)
        rows = self.conn.execute(
            select(t)
            .where(
                t.c.chain == Chain.L1.value,
                t.c.height > ancestor,
                t.c.edge != EdgeKind.REVERSAL.value,
                t.c.id.not_in(undone),
                *([] if chain_id is None else [t.c.tx_hash.in_(chain_txs)]),
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
            reversals.append(self._reversal_of(kind, row, at, reason))
        self.append_transitions(reversals)
        self._clear_l1_positions(ancestor, chain_id)
        return len(rows) + self._reverse_claims_behind_distributions(at, reason)

    def _reverse_claims_behind_distributions(self, at: datetime, reason: str) -> int:
        """A claim split over several chains moved on another chain's transaction (the root or
        payment that completed the step) that this reorg did not orphan: undo its latest ``relayed``
        if one of its roots is off L1 again, its latest ``paying`` if none of its distributions is
        paying any more. Returns the number of moves undone."""
        c, d, t = claim_table, distribution_table, transition_table
        reward = [d.c.claim_id.is_not(None), d.c.packet_kind == REWARD_PACKET_KIND]
        root_missing = select(d.c.claim_id).where(d.c.l1_block_hash.is_(None), *reward)
        paying = select(d.c.claim_id).where(d.c.payment_state.is_not(None), *reward)
        behind = self.conn.execute(
            select(c.c.claim_id, c.c.state).where(
                or_(
                    and_(c.c.state == ClaimState.RELAYED.value, c.c.claim_id.in_(root_missing)),
                    and_(c.c.state == ClaimState.PAYING.value, c.c.claim_id.not_in(paying)),
                )
            )
        ).all()
        undone = select(t.c.reverses_id).where(t.c.reverses_id.is_not(None))
        reversals: list[dict[str, Any]] = []
        for claim_id, state in behind:
            row = self.conn.execute(
                select(t)
                .where(
                    t.c.entity_kind == EntityKind.CLAIM.value,
                    t.c.entity_id == claim_id,
                    t.c.to_state == state,
                    t.c.edge != EdgeKind.REVERSAL.value,
                    t.c.id.not_in(undone),
                )
                .order_by(t.c.id.desc())
                .limit(1)
            ).first()
            if row is None or row.from_state is None:
                continue
            CLAIM.check(claim_id, row.to_state, row.from_state, EdgeKind.REVERSAL)
            self.conn.execute(
                update(c).where(c.c.claim_id == claim_id).values(state=row.from_state, updated_at=at)
            )
            reversals.append(self._reversal_of(EntityKind.CLAIM, row, at, reason))
        self.append_transitions(reversals)
        return len(reversals)

    def _reversal_of(self, kind: EntityKind, row: Any, at: datetime, reason: str) -> dict[str, Any]:
        """The REVERSAL transition row undoing the orphaned move ``row`` (a ``transition`` row)."""
        ref = ChainRef(Chain.L1, at, row.height, row.block_hash, row.tx_hash, row.log_index)
        return self.transition_row(
            kind,
            row.entity_id,
            row.to_state,
            row.from_state,
            ref,
            edge=EdgeKind.REVERSAL,
            reason=reason,
            reverses_id=row.id,
        )

    def _uninstall_valsets(self, above: int, chain_id: int | None) -> None:
        """Drop this chain's valset installations above the ancestor (None: every chain's); a set
        first seen on L1 whose last installation went goes with it."""
        v, i = valset_table, valset_l1_table
        self.conn.execute(delete(i).where(i.c.block_number > above, *_on_chain(i.c.l1_chain_id, chain_id)))
        installed = select(i.c.valset_nonce).where(i.c.valset_nonce == v.c.valset_nonce)
        self.conn.execute(delete(v).where(v.c.origin == "l1", ~installed.exists()))

    def _clear_l1_positions(self, ancestor: int, chain_id: int | None) -> None:
        above = ancestor
        d, p, x = distribution_table, payout_table, l1_tx_table
        on_d, on_p = _on_chain(d.c.l1_chain_id, chain_id), _on_chain(p.c.l1_chain_id, chain_id)
        self.conn.execute(delete(d).where(d.c.origin == "l1", d.c.l1_block_number > above, *on_d))
        self.conn.execute(
            update(d)
            .where(d.c.l1_block_number > above, *on_d)
            .values(
                l1_block_number=None,
                l1_block_hash=None,
                l1_tx_hash=None,
                l1_log_index=None,
                l1_finalized=False,
                l1_chain_id=None,
            )
        )
        self._uninstall_valsets(above, chain_id)
        # Payouts whose inclusion was just reversed are back in pending/submitted but still carry
        # their L1 position (the state index finds them; the position itself is not indexed).
        # One back in ``submitted`` keeps the hash of the relayer's transaction (it may be mined
        # again on the new branch); one back in ``pending`` has no transaction any more.
        self.conn.execute(
            update(p)
            .where(
                p.c.state.in_([PayoutState.PENDING.value, PayoutState.SUBMITTED.value]),
                p.c.l1_block_number > above,
                *on_p,
            )
            .values(l1_block_number=None, l1_block_hash=None, l1_log_index=None, l1_chain_id=None)
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
        # A distribution whose paid leaves were all reversed is no longer paying (a paid one is
        # final: its payouts cannot be reorged).
        paid_leaf = select(p.c.id).where(
            p.c.distribution_id == d.c.distribution_id, p.c.state.in_(list(PAID_STATES))
        )
        self.conn.execute(
            update(d)
            .where(d.c.payment_state == ClaimState.PAYING.value, ~paid_leaf.exists())
            .values(payment_state=None)
        )
        # A packet keeps its chain (the one it is addressed to); a slash lands again to be named.
        for table, cleared in ((packet_table, {}), (slash_table, {"l1_chain_id": None})):
            self.conn.execute(
                update(table)
                .where(table.c.l1_block_number > above, *_on_chain(table.c.l1_chain_id, chain_id))
                .values(
                    l1_block_number=None, l1_block_hash=None, l1_tx_hash=None, l1_log_index=None, **cleared
                )
            )
        self.conn.execute(
            update(x)
            .where(x.c.block_number > above, *_on_chain(x.c.chain_id, chain_id))
            .values(block_number=None, block_hash=None)
        )
        for table in (
            transfer_table,
            reward_funding_table,
            cumulative_payout_table,
            cumulative_root_table,
            cumulative_funding_table,
        ):
            self.conn.execute(
                delete(table).where(table.c.block_number > above, *_on_chain(table.c.l1_chain_id, chain_id))
            )
