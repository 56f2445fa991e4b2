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

Several client chains: a delegator's weight is split by the client chain of the staked asset (its
asset id's chain), and ``share_ik`` is floored per chain, so each chain gets its own leaves (one
distribution per chain, paid by that chain's gateway). Commissions and the community pool's part
(tax and dust) belong to the home chain (the first). With one chain this is exactly the rule above.
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
    chain_weights: Mapping[int, Mapping[Address, int]] | None = None
    """``delegator_weights`` split by client chain (lz chain id of the staked asset); ``None``: every
    weight is on the home chain."""


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


def delegator_weights_by_chain(
    operator: Operator, asset_ids: Iterable[str], assets: Mapping[str, Asset]
) -> dict[int, dict[Address, int]]:
    """Per client chain (lz chain id of the asset): each delegator's exact USD weight in ``asset_ids``
    at ``operator`` (zero weights and chains without any left out)."""
    by_chain: dict[int, dict[Address, int]] = {}
    for asset_id in asset_ids:
        asset = assets.get(asset_id)
        pool = operator.pools.get(asset_id)
        if asset is None or not pool or asset.price_usd_e8 == 0:
            continue
        factor = asset.weight_factor
        weights = by_chain.get(asset.lz_chain_id)
        for staker, amount in pool.items():
            if amount:
                if weights is None:
                    weights = by_chain[asset.lz_chain_id] = {}
                weights[staker] = weights.get(staker, 0) + amount * factor
    return by_chain


def delegator_weights(
    operator: Operator, asset_ids: Iterable[str], assets: Mapping[str, Asset]
) -> dict[Address, int]:
    """Each delegator's exact USD weight in ``asset_ids`` at ``operator``, all chains together."""
    weights: dict[Address, int] = {}
    for chain_weights in delegator_weights_by_chain(operator, asset_ids, assets).values():
        for staker, weight in chain_weights.items():
            weights[staker] = weights.get(staker, 0) + weight
    return weights


_MANY_OPERATORS = ""


def plan_distribution(
    total: int, community_tax_rate: int, shares: Sequence[OperatorShare]
) -> DistributionPlan:
    """Split ``total`` on one chain (see the module docstring for the exact rules)."""
    home = 0
    one_chain = [
        OperatorShare(s.operator, s.power, s.commission_rate, s.reward_address, s.delegator_weights)
        for s in shares
    ]
    return plan_distributions(total, community_tax_rate, one_chain, home)[home]


def plan_distributions(
    total: int, community_tax_rate: int, shares: Sequence[OperatorShare], home_chain: int
) -> dict[int, DistributionPlan]:
    """Split ``total`` into one plan per client chain with leaves (the home chain's always present,
    carrying the tax, the dust and the allocations); see the module docstring."""
    tax = total * community_tax_rate // RATE_ONE
    remaining = total - tax
    total_power = sum(share.power for share in shares)
    amounts: dict[int, dict[Address, int]] = {home_chain: {}}
    sources: dict[int, dict[Address, str]] = {home_chain: {}}
    commission_recipients: dict[Address, None] = {}
    allocations = []
    for share in shares:
        reward = remaining * share.power // total_power if total_power else 0
        commission = reward * share.commission_rate // RATE_ONE
        allocations.append(OperatorAllocation(share.operator, reward, commission))
        operator = share.operator
        if commission:
            recipient = share.reward_address
            home_amounts, home_sources = amounts[home_chain], sources[home_chain]
            home_amounts[recipient] = home_amounts.get(recipient, 0) + commission
            previous = home_sources.get(recipient)
            home_sources[recipient] = operator if previous in (None, operator) else _MANY_OPERATORS
            commission_recipients[recipient] = None
        stakers_part = reward - commission
        by_chain = share.chain_weights
        if by_chain is None:
            by_chain = {home_chain: share.delegator_weights}
        weight_total = sum(sum(weights.values()) for weights in by_chain.values())
        if not stakers_part or not weight_total:
            continue
        for chain, weights in by_chain.items():
            chain_amounts = amounts.setdefault(chain, {})
            chain_sources = sources.setdefault(chain, {})
            amounts_get = chain_amounts.get
            sources_get = chain_sources.get
            for staker, weight in weights.items():
                amount = stakers_part * weight // weight_total
                if not amount:
                    continue
                chain_amounts[staker] = amounts_get(staker, 0) + amount
                previous = sources_get(staker)
                same = previous is None or previous == operator
                chain_sources[staker] = operator if same else _MANY_OPERATORS
    paid = sum(sum(chain_amounts.values()) for chain_amounts in amounts.values())
    plans: dict[int, DistributionPlan] = {}
    for chain, chain_amounts in amounts.items():
        if chain != home_chain and not chain_amounts:
            continue
        stakers = sorted(chain_amounts)
        home = chain == home_chain
        plans[chain] = DistributionPlan(
            stakers,
            [chain_amounts[staker] for staker in stakers],
            [
                LEAF_OPERATOR_COMMISSION if home and staker in commission_recipients else LEAF_STAKER
                for staker in stakers
            ],
            [sources[chain][staker] for staker in stakers],
            tax if home else 0,
            remaining - paid if home else 0,
            tuple(allocations) if home else (),
        )
    return plans
