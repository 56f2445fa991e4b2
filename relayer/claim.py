"""Self-claim of cumulative rewards: what an earner can claim now, its proof and its calldata.

:func:`plan_claim` is pure: given a period's leaves (as Exocore serves them), what L1 says the earner
was already paid per token, and who receives, it returns the ``claimCumulative`` call that pays every
token with something left — one multiproof for all of the earner's tokens — or ``None`` when nothing
is left. :func:`read_and_plan` gathers those inputs from Exocore (gRPC) and L1 (the RewardVault the
gateway names): the latest period L1 accepted, the earner's ``claimed`` per token.

Invariant: the plan only names leaves of the period's tree, so the vault verifies the proof against
``cumulativeRoot(period)``; the amounts shown are ``cumulative - claimed`` at the time of reading
(a push landing first makes the vault skip that token, never pay it twice).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak

from relayer.errors import ConfigError
from relayer.protocol.cumulative import CumulativeLeaf, CumulativeTree
from relayer.protocol.types import Address, Amount, Hash32, address_hex, as_address

if TYPE_CHECKING:
    from web3 import Web3

    from relayer.config import ExorelayConfig
    from relayer.exocore.grpc_client import ExocoreGrpcClient

CLAIM_SIGNATURE: Final = "claimCumulative(uint64,(address,address,uint256)[],bytes32[],bool[],address)"
CLAIM_SELECTOR: Final = keccak(CLAIM_SIGNATURE.encode())[:4]
_VIEW_ABI: Final = [
    {"name": "REWARD_VAULT", "type": "function", "stateMutability": "view", "inputs": [],
     "outputs": [{"name": "", "type": "address"}]},
    {"name": "latestPeriod", "type": "function", "stateMutability": "view", "inputs": [],
     "outputs": [{"name": "", "type": "uint64"}]},
    {"name": "claimed", "type": "function", "stateMutability": "view",
     "inputs": [{"name": "earner", "type": "address"}, {"name": "token", "type": "address"}],
     "outputs": [{"name": "", "type": "uint256"}]},
]  # fmt: skip
"""The three views a claim reads (gateway and vault); full ABIs live in relayer/l1/abi."""


class NothingToClaimError(ConfigError):
    """The earner has no leaf in the period, or every leaf is already paid."""


@dataclass(frozen=True, slots=True)
class ClaimPlan:
    period: int
    vault: Address
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
            "to": address_hex(self.vault),
            "data": "0x" + self.calldata.hex(),
            "value": "0x0",
            "period": self.period,
            "claimable": {address_hex(t): str(a) for t, a in self.claimable.items()},
        }


def plan_claim(
    *,
    leaves: Iterable[CumulativeLeaf],
    period: int,
    vault: Address,
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


def read_and_plan(
    config: ExorelayConfig, w3: Web3, grpc: ExocoreGrpcClient, earner: Address, recipient: Address | None
) -> ClaimPlan:
    """Read the latest accepted period, its leaves and the earner's claimed totals; plan the claim."""
    gateway_address = config.l1.gateway_address
    if gateway_address is None:
        raise ConfigError("l1.gateway_address is not set")
    gateway = w3.eth.contract(address=w3.to_checksum_address(gateway_address), abi=_VIEW_ABI)
    vault_address = as_address(gateway.functions.REWARD_VAULT().call())
    vault = w3.eth.contract(address=w3.to_checksum_address(address_hex(vault_address)), abi=_VIEW_ABI)
    period = int(vault.functions.latestPeriod().call())
    if period == 0:
        raise NothingToClaimError("L1 has accepted no cumulative root yet")
    leaves = list(grpc.cumulative_leaves(period))
    tokens = {leaf.token for leaf in leaves if leaf.earner == earner}
    earner_checksum = w3.to_checksum_address(address_hex(earner))
    claimed = {
        token: int(
            vault.functions.claimed(earner_checksum, w3.to_checksum_address(address_hex(token))).call()
        )
        for token in tokens
    }
    return plan_claim(
        leaves=leaves, period=period, vault=vault_address, earner=earner, claimed=claimed, recipient=recipient
    )
