"""Cumulative self-claims, the pure part: given a period's leaves and what L1 already paid the earner
per token, the ``claimCumulative`` call that pays every token it has left (one multiproof for all of
them). Both ``exorelay claim`` (which reads its inputs from Exocore and L1) and the indexer API (which
reads them from its database) build the same calldata here.

Invariant: a plan only names leaves of the period's tree, so the vault verifies the proof against
``cumulativeRoot(period)``; the amounts shown are ``cumulative - claimed`` at the time of reading
(a push landing first makes the vault skip that token, never pay it twice).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak

from relayer.errors import ConfigError
from relayer.protocol.cumulative import CumulativeLeaf, CumulativeTree
from relayer.protocol.types import Address, Amount, Hash32, address_hex

CLAIM_SIGNATURE: Final = "claimCumulative(uint64,(address,address,uint256)[],bytes32[],bool[],address)"
CLAIM_SELECTOR: Final = keccak(CLAIM_SIGNATURE.encode())[:4]


class NothingToClaimError(ConfigError):
    """The earner has no leaf in the period, or every leaf is already paid."""


@dataclass(frozen=True, slots=True)
class ClaimPlan:
    period: int
    vault: Address | None
    """The RewardVault the call goes to; None when the planner does not know it (the indexer API:
    a wallet sends to the gateway's ``REWARD_VAULT()``)."""
    earner: Address
    recipient: Address
    leaves: tuple[CumulativeLeaf, ...]
    """The earner's leaves with something left, in multiproof order."""
    proof: tuple[Hash32, ...]
    proof_flags: tuple[bool, ...]
    claimable: Mapping[Address, Amount]

    @property
    def calldata(self) -> bytes:
        args = abi_encode(
            ["uint64", "(address,address,uint256)[]", "bytes32[]", "bool[]", "address"],
            [
                self.period,
                [(address_hex(x.earner), address_hex(x.token), x.cumulative) for x in self.leaves],
                list(self.proof),
                list(self.proof_flags),
                address_hex(self.recipient),
            ],
        )
        return CLAIM_SELECTOR + args

    def as_transaction(self) -> dict[str, object]:
        """What a wallet sends (JSON-ready): from the earner, to the vault, with the calldata."""
        return {
            "from": address_hex(self.earner),
            "to": None if self.vault is None else address_hex(self.vault),
            "data": "0x" + self.calldata.hex(),
            "value": "0x0",
            "period": self.period,
            "claimable": {address_hex(t): str(a) for t, a in self.claimable.items()},
        }


def plan_claim(
    *,
    leaves: Iterable[CumulativeLeaf],
    period: int,
    vault: Address | None,
    earner: Address,
    claimed: Mapping[Address, int],
    recipient: Address | None = None,
) -> ClaimPlan:
    """The claim of every token ``earner`` has left in ``period`` (see the module docstring)."""
    tree = CumulativeTree.build(leaves)
    mine = [leaf for leaf in tree.leaves if leaf.earner == earner]
    owed = {leaf.token: leaf.cumulative - claimed.get(leaf.token, 0) for leaf in mine}
    keys = [(earner, token) for token, amount in owed.items() if amount > 0]
    if not keys:
        raise NothingToClaimError(
            f"earner {address_hex(earner)} has nothing to claim in period {period}"
            + ("" if mine else " (no leaf)")
        )
    multi = tree.multiproof(keys)
    return ClaimPlan(
        period=period,
        vault=vault,
        earner=earner,
        recipient=recipient or earner,
        leaves=multi.leaves,
        proof=multi.proof,
        proof_flags=multi.proof_flags,
        claimable={token: Amount(owed[token]) for _, token in keys},
    )
