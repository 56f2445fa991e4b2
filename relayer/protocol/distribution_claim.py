"""Self-claim of one per-distribution leaf, the pure part: the gateway's ``claim(distributionId,
leaf, proof)`` calldata for a leaf of a distribution tree. The indexer API (which reads the leaves
from its database) builds it here, as it builds the cumulative claim's in
:mod:`relayer.protocol.cumulative_claim`; a wallet sends it from any account (the gateway pays the
leaf's staker, whoever sends).

Invariant: a plan only names a leaf of ``tree`` with its own proof, so the gateway verifies it
against the distribution's root; a leaf already paid makes the call revert ``LeafAlreadyPaid`` (never
a second payment).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak

from relayer.protocol.merkle import DistributionLeaf, DistributionTree
from relayer.protocol.types import Hash32, address_hex, as_hash32

CLAIM_SIGNATURE: Final = "claim(bytes32,(uint256,address,uint256),bytes32[])"
CLAIM_SELECTOR: Final = keccak(CLAIM_SIGNATURE.encode())[:4]


@dataclass(frozen=True, slots=True)
class LeafClaim:
    """One leaf's self-claim: the leaf, its proof, and the gateway call that pays it."""

    distribution_id: Hash32
    leaf: DistributionLeaf
    proof: tuple[Hash32, ...]

    @property
    def calldata(self) -> bytes:
        args = abi_encode(
            ["bytes32", "(uint256,address,uint256)", "bytes32[]"],
            [
                bytes(self.distribution_id),
                (self.leaf.index, address_hex(self.leaf.staker), self.leaf.amount),
                [bytes(node) for node in self.proof],
            ],
        )
        return CLAIM_SELECTOR + args


def plan_leaf_claims(distribution_id: bytes, tree: DistributionTree, indices: list[int]) -> list[LeafClaim]:
    """The self-claims of ``tree``'s leaves at ``indices`` (index order), each with its own proof."""
    did = as_hash32(distribution_id)
    return [LeafClaim(did, tree.leaf(index), tuple(tree.proof(index))) for index in sorted(indices)]
