"""Withdrawal approvals from matured L1 withdrawals (pure).

Exocore is the ledger and the L1 RestakingVault is custody: a withdrawal leaves L1 only against a
WITHDRAWAL_APPROVAL packet. When undelegations that an L1 withdrawal request started (or refunds of
L1 delegations Exocore refused) mature, they are batched per L1 token: one leaf ``(index, staker,
amount)`` per staker, amounts merged over that staker's matured requests, each amount what is left
of the request after every slash that applied while it was unbonding (``Undelegation.amount`` is
already reduced by :func:`devnet.chain.slashing.slash_stake`). A request slashed to zero gets no
leaf. Leaves are sorted by staker address and indexed ``0 … n-1`` in that order, as distribution
leaves are, and use the same Merkle encoding, so the relayer's payout machinery pays both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from devnet.chain.model import Asset, Undelegation
from relayer.protocol.ids import AssetId
from relayer.protocol.merkle import DistributionLeaf, DistributionTree
from relayer.protocol.types import Address, Amount


@dataclass(frozen=True)
class ApprovalBatch:
    """The approved withdrawals of one token: leaves in index order and their tree."""

    token: Address
    stakers: tuple[Address, ...]
    amounts: tuple[int, ...]
    request_ids: tuple[tuple[int, ...], ...]
    tree: DistributionTree


def approval_batches(
    matured: Iterable[Undelegation], assets: Mapping[str, Asset]
) -> tuple[ApprovalBatch, ...]:
    """Per L1 token (ascending address), the approval batch of the matured L1 withdrawals."""
    per_token: dict[Address, dict[Address, tuple[int, list[int]]]] = {}
    for record in matured:
        if record.l1_request_id == 0 or record.amount == 0:
            continue
        known = assets.get(record.asset_id)
        token = known.token if known is not None else AssetId.parse(record.asset_id).token
        stakers = per_token.setdefault(token, {})
        amount, ids = stakers.get(record.staker, (0, []))
        stakers[record.staker] = (amount + record.amount, [*ids, record.l1_request_id])
    batches = []
    for token in sorted(per_token):
        stakers = per_token[token]
        ordered = sorted(stakers)
        amounts = tuple(stakers[staker][0] for staker in ordered)
        tree = DistributionTree.build(
            DistributionLeaf(index=i, staker=staker, amount=Amount(amount))
            for i, (staker, amount) in enumerate(zip(ordered, amounts, strict=True))
        )
        batches.append(
            ApprovalBatch(token, tuple(ordered), amounts, tuple(tuple(stakers[s][1]) for s in ordered), tree)
        )
    return tuple(batches)
