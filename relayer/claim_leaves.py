"""Self-claim of per-distribution leaves, the reading part: :func:`read_leaf_claims` finds an earner's
unpaid leaves of distributions L1 holds and plans their gateway ``claim`` calls with
:func:`relayer.protocol.distribution_claim.plan_leaf_claims` (pure; proof and calldata).

It reads what the relayer's payout stage reads, not the indexer: Exocore's distributions and their
leaves over gRPC (``ExocoreGrpcClient.distributions`` / ``distribution_leaves``) and the gateway's
``distribution`` and ``isPaid`` views on L1 (:class:`relayer.l1.gateway.GatewayClient`), so
``exorelay claim`` works without an indexer.

Invariants: a distribution is considered only once L1 holds it (nonzero root) and is not fully paid
(``paid < total``: a fully paid one costs no leaf fetch); its leaves are used only if they hash to the
root L1 holds (else it is reported as skipped, never claimed with a proof the gateway would refuse);
a leaf ``isPaid`` on L1 is never planned. The gateway has no multi-leaf claim: one call per leaf.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from relayer.protocol.distribution_claim import LeafClaim, plan_leaf_claims
from relayer.protocol.merkle import DistributionTree
from relayer.protocol.types import Address, Hash32, address_hex

if TYPE_CHECKING:
    from relayer.exocore.grpc_client import ExocoreGrpcClient
    from relayer.l1.gateway import GatewayClient


@dataclass(frozen=True, slots=True)
class SkippedDistribution:
    """A delivered distribution whose leaves the CLI could not use, and why (shown to the user)."""

    distribution_id: Hash32
    reason: str


@dataclass(frozen=True, slots=True)
class LeafClaims:
    """What an earner can claim leaf by leaf, and the distributions it had to skip."""

    claims: tuple[tuple[LeafClaim, Address], ...]
    """Each planned claim with its distribution's token."""
    skipped: tuple[SkippedDistribution, ...]


def leaf_transaction(claim: LeafClaim, token: Address, gateway: str) -> dict[str, object]:
    """What a wallet sends (JSON-ready) to pay one leaf: any sender, to the gateway, with the calldata."""
    return {
        "to": gateway,
        "data": "0x" + claim.calldata.hex(),
        "value": "0x0",
        "distribution_id": "0x" + bytes(claim.distribution_id).hex(),
        "leaf_index": claim.leaf.index,
        "token": address_hex(token),
        "amount": str(claim.leaf.amount),
    }


def read_leaf_claims(
    grpc: ExocoreGrpcClient, gateway: GatewayClient, earner: Address, *, from_nonce: int = 0
) -> LeafClaims:
    """The earner's unpaid leaves of every distribution L1 holds (distribution nonce order)."""
    claims: list[tuple[LeafClaim, Address]] = []
    skipped: list[SkippedDistribution] = []
    for dist in grpc.distributions(from_nonce):
        on_l1 = gateway.distribution(dist.distribution_id)
        if on_l1 is None or on_l1.paid >= on_l1.total:
            continue  # not delivered to this gateway (or another chain's), or nothing left to pay
        tree = DistributionTree.build(record.leaf for record in grpc.distribution_leaves(dist.nonce))
        if tree.root != on_l1.root:
            skipped.append(
                SkippedDistribution(dist.distribution_id, "served leaves do not hash to the root on L1")
            )
            continue
        unpaid = [
            leaf.index
            for leaf in tree.leaves
            if leaf.staker == earner and not gateway.is_paid(dist.distribution_id, leaf.index)
        ]
        claims.extend((claim, on_l1.token) for claim in plan_leaf_claims(dist.distribution_id, tree, unpaid))
    return LeafClaims(tuple(claims), tuple(skipped))
