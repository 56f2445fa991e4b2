"""Reward distribution: split a verified claim into Merkle leaves (pure, integer-only).

For a claim of ``T`` base units over the eligible committee members (members of the claim's epoch
committee not frozen for the AVS), with committee powers ``p_i`` summing to ``P``::

    tax        = floor(T * communityTax / 1e18)                  kept by the community pool
    R          = T - tax
    reward_i   = floor(R * p_i / P)                              per operator
    commission = floor(reward_i * commissionRate_i / 1e18)       leaf to the operator's reward address
    S_i        = reward_i - commission_i                         the operator's delegators' part
    share_ik   = floor(S_i * w_ik / W_i)                         w_ik: delegator k's exact USD weight in
                                                                 the AVS's accepted assets at operator i
    dust       = T - tax - sum(leaves)                           also kept by the community pool

Amounts for the same L1 address are summed into one leaf (a staker delegating to several operators,
or an operator's reward address that also delegates); zero amounts get no leaf. Leaves are sorted
by address and indexed ``0 .. n-1`` in that order. Every floor loses less than one unit, so
``dust < (number of operators) + (number of operator-delegator pairs)`` and ``sum(leaves) <= T``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from devnet.chain.model import LEAF_OPERATOR_COMMISSION, LEAF_STAKER, Asset, Operator
from devnet.chain.params import RATE_ONE
from relayer.protocol.types import Address


@dataclass(frozen=True)
class OperatorShare:
    """What one committee member brings to a distribution."""

    operator: str
    power: int
    commission_rate: int
    reward_address: Address
    delegator_weights: Mapping[Address, int]


@dataclass(frozen=True, slots=True)
class OperatorAllocation:
    operator: str
    reward: int
    commission: int


@dataclass(frozen=True)
class DistributionPlan:
    """Leaves as parallel lists in index order, plus what the community pool keeps."""

    stakers: list[Address]
    amounts: list[int]
    kinds: list[int]
    operators: list[str]
    community_tax: int
    dust: int
    allocations: tuple[OperatorAllocation, ...]

    @property
    def total(self) -> int:
        """Sum of the leaves (the REWARD_DISTRIBUTION payload's ``total``)."""
        return sum(self.amounts)

    @property
    def leaf_count(self) -> int:
        return len(self.stakers)


def delegator_weights(
    operator: Operator, asset_ids: Iterable[str], assets: Mapping[str, Asset]
) -> dict[Address, int]:
    """Each delegator's exact USD weight in ``asset_ids`` at ``operator`` (zero weights left out)."""
    weights: dict[Address, int] = {}
    for asset_id in asset_ids:
        asset = assets.get(asset_id)
        pool = operator.pools.get(asset_id)
        if asset is None or not pool or asset.price_usd_e8 == 0:
            continue
        factor = asset.weight_factor
        if not weights:
            weights = {staker: amount * factor for staker, amount in pool.items() if amount}
            continue
        for staker, amount in pool.items():
            if amount:
                weights[staker] = weights.get(staker, 0) + amount * factor
    return weights


_MANY_OPERATORS = ""


def plan_distribution(
    total: int, community_tax_rate: int, shares: Sequence[OperatorShare]
) -> DistributionPlan:
    """Split ``total`` (see the module docstring for the exact rules)."""
    tax = total * community_tax_rate // RATE_ONE
    remaining = total - tax
    total_power = sum(share.power for share in shares)
    amounts: dict[Address, int] = {}
    sources: dict[Address, str] = {}
    commission_recipients: dict[Address, None] = {}
    allocations = []
    for share in shares:
        reward = remaining * share.power // total_power if total_power else 0
        commission = reward * share.commission_rate // RATE_ONE
        allocations.append(OperatorAllocation(share.operator, reward, commission))
        operator = share.operator
        if commission:
            recipient = share.reward_address
            amounts[recipient] = amounts.get(recipient, 0) + commission
            previous = sources.get(recipient)
            sources[recipient] = operator if previous in (None, operator) else _MANY_OPERATORS
            commission_recipients[recipient] = None
        stakers_part = reward - commission
        weights = share.delegator_weights
        weight_total = sum(weights.values())
        if not stakers_part or not weight_total:
            continue
        amounts_get = amounts.get
        sources_get = sources.get
        for staker, weight in weights.items():
            amount = stakers_part * weight // weight_total
            if not amount:
                continue
            amounts[staker] = amounts_get(staker, 0) + amount
            previous = sources_get(staker)
            sources[staker] = operator if previous is None or previous == operator else _MANY_OPERATORS
    stakers = sorted(amounts)
    leaf_amounts = [amounts[staker] for staker in stakers]
    kinds = [
        LEAF_OPERATOR_COMMISSION if staker in commission_recipients else LEAF_STAKER for staker in stakers
    ]
    operators = [sources[staker] for staker in stakers]
    dust = remaining - sum(leaf_amounts)
    return DistributionPlan(stakers, leaf_amounts, kinds, operators, tax, dust, tuple(allocations))
