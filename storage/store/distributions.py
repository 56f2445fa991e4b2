"""Reward distributions and their leaves: created on Exocore, leaves recorded (one pending payout
per leaf), submitted on L1.

Invariant: a leaf is recorded once per ``(distribution id, leaf index)``; recording it again is a no-op.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from sqlalchemy import insert, select, update

from storage.errors import InvariantViolationError, UnknownEntityError
from storage.lifecycle import ClaimState, EntityKind, PayoutState
from storage.models import distribution_table, leaf_table, payout_table
from storage.normalize import payout_entity_id
from storage.records import (
    ChainRef,
    DistributionCreated,
    DistributionLeaves,
    DistributionSubmittedLog,
    WithdrawalApprovalCreated,
    WithdrawalApprovalSubmittedLog,
)
from storage.store.base import L1BatchEffects, bulk_insert, chunks, insert_ignore, member_of
from storage.store.packets import PacketStore

WITHDRAWAL_APPROVAL_KIND: Final = 4
"""``distribution.packet_kind`` of a withdrawal approval (the relay packet kind)."""
NO_AVS: Final = "0x" + "00" * 20
"""``distribution.avs_address`` of a withdrawal approval: no AVS pays it (custody does)."""


class DistributionStore(PacketStore):
    """Distribution and leaf writes of one transaction."""

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

    def _approval_created(self, event: WithdrawalApprovalCreated, ref: ChainRef) -> None:
        """A withdrawal approval as a packet with leaves: no claim, no AVS (the zero address)."""
        d = distribution_table
        if self.conn.execute(select(d.c.id).where(d.c.distribution_id == event.approval_id)).first():
            return
        self.conn.execute(
            insert(d).values(
                distribution_id=event.approval_id,
                packet_kind=WITHDRAWAL_APPROVAL_KIND,
                nonce=event.nonce,
                avs_address=NO_AVS,
                epoch=event.epoch,
                token=event.token,
                total=event.total,
                leaf_count=event.leaf_count,
                merkle_root=event.merkle_root,
                created_height=ref.height,
                origin="exocore",
                created_at=ref.at,
                updated_at=ref.at,
            )
        )

    def _approval_submitted(self, log: WithdrawalApprovalSubmittedLog) -> None:
        """The gateway handed the approval's root to the vault: its L1 inclusion (as a distribution's)."""
        d, pos = distribution_table, log.position
        self.conn.execute(
            update(d)
            .where(d.c.distribution_id == log.approval_id, d.c.l1_block_hash.is_(None))
            .values(
                l1_block_number=pos.block_number,
                l1_block_hash=pos.block_hash,
                l1_tx_hash=pos.tx_hash,
                l1_log_index=pos.log_index,
                updated_at=pos.at,
            )
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
                    "l1_request_ids": ",".join(map(str, leaf.request_ids)) if leaf.request_ids else None,
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
        # The claim moves at the batch's end (advance_claims): relayed once every one of its
        # distributions' roots is on L1 (one per client chain it pays on).
        effects.distribution_ids.add(log.distribution_id)
        self._packet_relayed(log.nonce, pos)
