"""Voting power and committee election (pure functions over the state records).

Voting power of an operator for an AVS = USD value (8 decimals, floored once) of its delegated pools
in the AVS's accepted assets at the oracle prices. An operator is *eligible* for an epoch when it is
opted in with a BLS key for the AVS, is not frozen for it, its self-delegation (stake of the staker
whose address is the operator's own account address) in the accepted assets is worth at least
``min_self_delegation_usd``, and its power is at least ``min_operator_stake_usd`` and positive.
The committee is the top ``committee_size`` eligible operators by power; ties are broken by the
operator's 20-byte account address, ascending. The committee order is the signer-bitmap order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from devnet.chain.model import WEIGHT_PER_USD_E8, Asset, AvsRecord, CommitteeMember, Operator


@dataclass(frozen=True, slots=True)
class OperatorStake:
    """An operator's stake in an AVS's accepted assets, in USD e8 (floored)."""

    total_usd_e8: int
    self_usd_e8: int


def stake_in_assets(
    operator: Operator, asset_ids: Iterable[str], assets: Mapping[str, Asset]
) -> OperatorStake:
    total_weight = 0
    self_weight = 0
    for asset_id in asset_ids:
        asset = assets.get(asset_id)
        pool = operator.pools.get(asset_id)
        if asset is None or not pool:
            continue
        factor = asset.weight_factor
        total_weight += sum(pool.values()) * factor
        self_weight += pool.get(operator.address, 0) * factor
    return OperatorStake(total_weight // WEIGHT_PER_USD_E8, self_weight // WEIGHT_PER_USD_E8)


def voting_power(operator: Operator, avs: AvsRecord, assets: Mapping[str, Asset]) -> int:
    """USD e8 value of ``operator``'s pools in ``avs``'s accepted assets (0 if frozen for it)."""
    if avs.hex in operator.frozen:
        return 0
    return stake_in_assets(operator, avs.asset_ids, assets).total_usd_e8


def ineligibility(operator: Operator, avs: AvsRecord, assets: Mapping[str, Asset]) -> str | None:
    """Why ``operator`` cannot be elected for ``avs`` now (``None`` if it can)."""
    avs_hex = avs.hex
    if avs_hex not in operator.opted_in:
        return "not opted in"
    if avs_hex not in operator.keys:
        return "no BLS key"
    if avs_hex in operator.frozen:
        return "frozen"
    stake = stake_in_assets(operator, avs.asset_ids, assets)
    if stake.self_usd_e8 < avs.min_self_delegation_usd:
        return "self-delegation below the minimum"
    if stake.total_usd_e8 < avs.min_operator_stake_usd or stake.total_usd_e8 == 0:
        return "stake below the minimum"
    return None


def elect(
    avs: AvsRecord, operators: Iterable[Operator], assets: Mapping[str, Asset]
) -> tuple[CommitteeMember, ...]:
    """The committee ``avs`` gets now: eligible operators ranked by power, top ``committee_size``."""
    candidates = []
    for operator in operators:
        if ineligibility(operator, avs, assets) is not None:
            continue
        power = stake_in_assets(operator, avs.asset_ids, assets).total_usd_e8
        candidates.append((-power, operator.address, operator))
    candidates.sort(key=lambda entry: (entry[0], entry[1]))
    return tuple(
        CommitteeMember(operator.account, operator.keys[avs.hex], -negative_power)
        for negative_power, _, operator in candidates[: avs.committee_size]
    )
