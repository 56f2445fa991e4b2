"""What a VAULT- or FEES-funded payout needs before it is sent: the AVS's balance of that source in
the RewardVault (pure except for one ``eth_call``); and what the RestakingVault recorded of a
withdrawal approval.

The RewardVault keeps one balance per (AVS, token, source): ``balanceOf`` for VAULT (reward
deposits) and ``feeBalanceOf`` for FEES (transaction fees); a distribution draws only on its own.

A VAULT-funded distribution is paid from what its AVS deposited for the token; a batch asking for
more reverts ``InsufficientDeposit(avs, token, requested, available)`` and keeps reverting until the
AVS deposits. The pipeline reads the balance itself (a view, never a transaction or a simulation of
a batch) before it builds batches, sends only what the deposit covers, and parks the job with the
exact amounts when it covers nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Final

from relayer.l1.artifacts import ContractName, load_artifact
from relayer.l1.client import L1Client
from relayer.l1.gateway import AbiFunction, L1Distribution
from relayer.protocol.packets import FundingMode
from relayer.protocol.types import Address, Amount, as_address, as_hash32

INSUFFICIENT_DEPOSIT_ERROR: Final = "InsufficientDeposit"
"""The RewardVault's revert when a batch asks for more than the AVS deposited."""


VAULT_BALANCE_VIEWS: Final = {FundingMode.VAULT: "balanceOf", FundingMode.FEES: "feeBalanceOf"}
"""The RewardVault view holding each source that pays out of the vault (MINT mints instead)."""


@cache
def _balance_of(view: str) -> AbiFunction:
    artifact = load_artifact(ContractName.REWARD_VAULT)
    (entry,) = [e for e in artifact.entries("function") if e["name"] == view]
    return AbiFunction.of(entry)


def vault_balance(
    client: L1Client, vault: str, avs: str, token: str, source: FundingMode = FundingMode.VAULT
) -> int:
    """What the AVS holds of ``source`` (VAULT: ``balanceOf``, FEES: ``feeBalanceOf``) in the
    RewardVault and not yet paid out."""
    function = _balance_of(VAULT_BALANCE_VIEWS[source])
    (value,) = function.decode_output(client.eth_call(to=vault, data=function.encode(avs, token)))
    return int(value)


@cache
def _approval() -> AbiFunction:
    artifact = load_artifact(ContractName.RESTAKING_VAULT)
    (entry,) = [e for e in artifact.entries("function") if e["name"] == "approval"]
    return AbiFunction.of(entry)


def restaking_approval(client: L1Client, vault: str, approval_id: bytes) -> L1Distribution | None:
    """``RestakingVault.approval(id)`` as the payout stage reads a distribution (None: not registered,
    zero root). Custody pays it: no AVS, no deposit to check (``funding`` MINT), and since custody
    equals Exocore's stake an approval never asks for more than the vault holds of the token."""
    function = _approval()
    ((root, token, leaf_count, epoch, total, paid),) = function.decode_output(
        client.eth_call(to=vault, data=function.encode(bytes(approval_id)))
    )
    if not any(root):
        return None
    return L1Distribution(
        root=as_hash32(root),
        token=as_address(token),
        leaf_count=int(leaf_count),
        funding=FundingMode.MINT,
        avs=Address(bytes(20)),
        epoch=int(epoch),
        total=Amount(int(total)),
        paid=Amount(int(paid)),
    )


@dataclass(frozen=True, slots=True)
class DepositShortfall:
    """The next batch needs ``needed`` of ``token`` from ``avs``'s ``source`` balance (its deposit,
    or its fees); ``available`` is there."""

    avs: str
    token: str
    needed: int
    available: int
    vault: str
    source: FundingMode = FundingMode.VAULT

    def describe(self) -> str:
        return (
            f"RewardVault {self.vault} holds {self.available} of token {self.token} for AVS {self.avs}"
            f" ({self.source.name} source); the next payout batch needs {self.needed}"
            f" (short by {self.needed - self.available})"
        )


def affordable(amounts: Sequence[int], budget: int) -> int:
    """How many of ``amounts`` (in order) the ``budget`` pays for: the longest prefix that fits."""
    spent = count = 0
    for amount in amounts:
        if spent + amount > budget:
            break
        spent += amount
        count += 1
    return count
