"""Reward claims: submitted, verified or rejected on Exocore, then following their distributions'
payouts on L1 to ``paid``.

Invariant: a claim moves only along :data:`storage.lifecycle.CLAIM`; its L1 progress is derived from its
distributions (one per client chain the claim pays on): roots from their L1 positions, payments from
their payouts' states, counted into each distribution's ``payment_state``
(:func:`storage.lifecycle.claim_l1_state` combines them).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Row, func, select, update

from storage.lifecycle import CLAIM, Chain, ClaimState, EntityKind, PayoutState, claim_l1_state
from storage.models import claim_signer_table, cumulative_accrual_table, distribution_table, payout_table
from storage.records import ChainRef, ClaimAccrued, ClaimRejected, ClaimSubmitted, ClaimVerified
from storage.store.base import PAID_STATES, chunks, insert_ignore, member_of
from storage.store.collecting import CollectingStore

REWARD_PACKET_KIND: Final = 2
"""``distribution.packet_kind`` of a reward distribution (a claim's; 4 is a withdrawal approval)."""


class ClaimStore(CollectingStore):
    """Claim writes of one transaction."""

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
        current = self.collected_state(EntityKind.CLAIM, event.claim_id)
        if current in (ClaimState.COLLECTING, ClaimState.EXPIRED):
            # Collected by the aggregator: the Exocore submission moves it on.
            # First seen at the aggregator stays the origin; what the event leaves out (None) keeps
            # what the aggregator knew.
            values = {k: v for k, v in values.items() if k != "origin" and v is not None}
            moved = self.transition(
                EntityKind.CLAIM, event.claim_id, ClaimState.SUBMITTED, ref, values=values
            )
        else:
            moved = self._create(EntityKind.CLAIM, event.claim_id, ClaimState.SUBMITTED, values, ref)
        if moved:
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

    def _claim_accrued(self, event: ClaimAccrued, ref: ChainRef) -> None:
        self._require(EntityKind.CLAIM, event.claim_id)
        self.transition(
            EntityKind.CLAIM,
            event.claim_id,
            ClaimState.ACCRUED,
            ref,
            reason=f"cumulative period {event.period}",
        )
        accrual = event.accrual
        if accrual is not None:
            # One row per claim (a replayed block hits the key): what the AVS's source accrued.
            insert_ignore(
                self.conn,
                cumulative_accrual_table,
                [
                    {
                        "claim_id": event.claim_id,
                        "avs_address": accrual.avs,
                        "token": accrual.token,
                        "funding": accrual.funding,
                        "total": accrual.total,
                        "period": event.period,
                        "community_tax": accrual.community_tax,
                        "dust": accrual.dust,
                    }
                ],
            )

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

    def advance_claims(
        self,
        distribution_ids: Iterable[str],
        at: datetime | None = None,
        *,
        finalized_in: Iterable[str] | None = None,
    ) -> None:
        """Move the claims of these distributions to what L1 shows: relayed, finalized, paying, paid.

        A claim split over several client chains has one distribution per chain, and its L1 state is
        the least advanced of theirs (:func:`claim_l1_state`). Each distribution's own payment
        progress is kept in ``payment_state``; only the distributions given here are recounted.

        ``finalized_in``: the distributions some of whose payouts just became final (None: any may
        have). A distribution already ``paying`` can only become ``paid`` through one of those, so
        the others skip counting their payouts (a scan of the whole distribution, per batch).
        """
        d = distribution_table
        touched = set(distribution_ids)
        finalizing = None if finalized_in is None else set(finalized_in)
        claim_ids: set[str] = set()
        for part in chunks(sorted(touched)):
            claim_ids.update(
                self.conn.execute(
                    select(d.c.claim_id).where(
                        member_of(self.conn, d.c.distribution_id, part), d.c.claim_id.is_not(None)
                    )
                ).scalars()
            )
        for part in chunks(sorted(claim_ids)):
            siblings: dict[str, list[Row[Any]]] = defaultdict(list)
            for row in self.conn.execute(
                select(d)
                .where(member_of(self.conn, d.c.claim_id, part), d.c.packet_kind == REWARD_PACKET_KIND)
                .order_by(d.c.nonce)
            ):
                siblings[row.claim_id].append(row)
            for claim_id, dists in siblings.items():
                self._advance_claim(claim_id, dists, at, touched=touched, finalizing=finalizing)

    def _advance_claim(
        self,
        claim_id: str,
        dists: list[Row[Any]],
        at: datetime | None,
        *,
        touched: set[str],
        finalizing: set[str] | None,
    ) -> None:
        current = self.state_of(EntityKind.CLAIM, claim_id)
        if current is None or current in CLAIM.terminal:
            return
        payment = {dist.distribution_id: self._payment_state(dist, touched, finalizing) for dist in dists}
        target = claim_l1_state(
            [
                (dist.l1_block_hash is not None, bool(dist.l1_finalized), payment[dist.distribution_id])
                for dist in dists
            ]
        )
        if target is None:
            return
        # The distribution whose move completed the step: one of this batch's if it has one.
        latest = next((x for x in reversed(dists) if x.distribution_id in touched), dists[-1])
        root_ref = ChainRef(
            Chain.L1,
            latest.updated_at,
            latest.l1_block_number,
            latest.l1_block_hash,
            latest.l1_tx_hash,
            latest.l1_log_index,
        )
        # A move the claim has already made is a no-op for transition(); skipping it saves its read.
        if not CLAIM.is_at_or_past(current, ClaimState.RELAYED):
            self.transition(EntityKind.CLAIM, claim_id, ClaimState.RELAYED, root_ref)
        if target == ClaimState.RELAYED:
            return
        if not CLAIM.is_at_or_past(current, ClaimState.FINALIZED):
            final_ref = root_ref if at is None else replace(root_ref, at=at)
            self.transition(EntityKind.CLAIM, claim_id, ClaimState.FINALIZED, final_ref)
        if target == ClaimState.FINALIZED:
            return
        if not CLAIM.is_at_or_past(current, ClaimState.PAYING):
            first = next(x for x in dists if payment[x.distribution_id] is not None)
            self.transition(
                EntityKind.CLAIM,
                claim_id,
                ClaimState.PAYING,
                self._payout_edge(first.distribution_id, newest=False),
            )
        if target == ClaimState.PAID:
            last = latest if payment[latest.distribution_id] == ClaimState.PAID else dists[-1]
            self.transition(
                EntityKind.CLAIM,
                claim_id,
                ClaimState.PAID,
                self._payout_edge(last.distribution_id, newest=True),
            )

    def _payment_state(self, dist: Row[Any], touched: set[str], finalizing: set[str] | None) -> str | None:
        """The distribution's ``payment_state``, recounted (and stored) if this batch may move it."""
        stored: str | None = dist.payment_state
        if (
            stored == ClaimState.PAID
            or dist.distribution_id not in touched
            or not dist.l1_finalized
            or (stored is not None and finalizing is not None and dist.distribution_id not in finalizing)
        ):
            return stored
        counts = self._payout_counts(dist.distribution_id)
        state: str | None = None
        if dist.leaf_count and counts[PayoutState.FINALIZED] == dist.leaf_count:
            state = ClaimState.PAID.value
        elif counts[PayoutState.INCLUDED] + counts[PayoutState.FINALIZED] > 0:
            state = ClaimState.PAYING.value
        if state != stored:
            d = distribution_table
            self.conn.execute(
                update(d).where(d.c.distribution_id == dist.distribution_id).values(payment_state=state)
            )
        return state

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
