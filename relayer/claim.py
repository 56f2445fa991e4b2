"""Self-claim of cumulative rewards, the reading part: :func:`read_and_plan` gathers the inputs of
:func:`relayer.protocol.cumulative_claim.plan_claim` (pure; it builds the proof and the calldata)
from Exocore (gRPC) and L1 (the RewardVault the gateway names): the latest period L1 accepted, its
leaves, the earner's ``claimed`` per token. Each client chain has its own cumulative roots: a plan is
for one chain (its gateway's vault, its periods, its leaves).

Invariant: the plan only names leaves of the period L1 accepted, so the vault verifies the proof
against ``cumulativeRoot(period)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from relayer.errors import ConfigError
from relayer.protocol.cumulative_claim import ClaimPlan, NothingToClaimError, plan_claim
from relayer.protocol.types import Address, address_hex, as_address

__all__ = ["ClaimPlan", "NothingToClaimError", "plan_claim", "read_and_plan"]
"""``exorelay claim`` and its tests name the plan through this module."""

if TYPE_CHECKING:
    from web3 import Web3

    from relayer.config import L1Config
    from relayer.exocore.grpc_client import ExocoreGrpcClient

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


def read_and_plan(
    chain: L1Config, w3: Web3, grpc: ExocoreGrpcClient, earner: Address, recipient: Address | None
) -> ClaimPlan:
    """On client chain ``chain`` (``w3`` is connected to it): read the latest period its vault
    accepted, that chain's leaves of the period and the earner's claimed totals; plan the claim."""
    gateway_address = chain.gateway_address
    if gateway_address is None:
        raise ConfigError(f"the gateway_address of client chain {chain.chain_id} is not set")
    gateway = w3.eth.contract(address=w3.to_checksum_address(gateway_address), abi=_VIEW_ABI)
    vault_address = as_address(gateway.functions.REWARD_VAULT().call())
    vault = w3.eth.contract(address=w3.to_checksum_address(address_hex(vault_address)), abi=_VIEW_ABI)
    period = int(vault.functions.latestPeriod().call())
    if period == 0:
        raise NothingToClaimError(f"client chain {chain.chain_id} has accepted no cumulative root yet")
    leaves = list(grpc.cumulative_leaves(period, l1_chain_id=chain.chain_id))
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
