"""Stake deduction for a verified slash (pure; mutates the operator's pools and undelegations).

A slash of proportion ``q`` (18 decimals) of operator ``o`` for AVS ``a`` takes
``floor(amount * q / 1e18)`` from every delegation to ``o`` in each asset ``a`` accepts, and the same
share of each of ``o``'s pending undelegations in those assets (they stay slashable until they
complete, as upstream). The pooled stake is shared by every AVS ``o`` serves, so its power drops in
all of them. Upstream scales the proportion by the historical power at the infraction height; the
devnet slashes the current stake (there are no historical snapshots to consult).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from devnet.chain.model import Asset, Operator, Undelegation
from devnet.chain.params import RATE_ONE
from relayer.protocol.ids import AssetId
from relayer.protocol.types import Address


@dataclass(frozen=True, slots=True)
class AssetSlash:
    asset_id: str
    token: Address
    pool_amount: int
    """Taken from the operator's pool of this asset (event ``operator_asset_slashed``)."""
    undelegation_amount: int
    """Taken from pending undelegations of this asset."""

    @property
    def amount(self) -> int:
        return self.pool_amount + self.undelegation_amount


@dataclass(frozen=True, slots=True)
class UndelegationSlash:
    record_id: int
    amount_before: int
    slash_amount: int


@dataclass(frozen=True)
class SlashOutcome:
    assets: tuple[AssetSlash, ...]
    undelegations: tuple[UndelegationSlash, ...]

    def token_amounts(self) -> tuple[tuple[Address, ...], tuple[int, ...]]:
        """Per L1 token (distinct, first-seen order): the SLASH payload's ``tokens`` and ``amounts``."""
        totals: dict[Address, int] = {}
        for asset in self.assets:
            totals[asset.token] = totals.get(asset.token, 0) + asset.amount
        return tuple(totals), tuple(totals.values())


def slash_stake(
    operator: Operator,
    asset_ids: Iterable[str],
    assets: Mapping[str, Asset],
    proportion: int,
    undelegations: Iterable[Undelegation],
) -> SlashOutcome:
    """Deduct ``proportion`` of ``operator``'s stake in ``asset_ids``; see the module docstring."""
    affected = list(asset_ids)
    pool_cuts: dict[str, int] = {}
    for asset_id in affected:
        pool = operator.pools.get(asset_id, {})
        taken = 0
        emptied: list[Address] = []
        for staker, amount in pool.items():
            cut = amount * proportion // RATE_ONE
            if cut:
                taken += cut
                if cut == amount:
                    emptied.append(staker)
                else:
                    pool[staker] = amount - cut
        for staker in emptied:
            del pool[staker]
        pool_cuts[asset_id] = taken
    undelegation_cuts: dict[str, int] = dict.fromkeys(affected, 0)
    slashed_records = []
    for record in undelegations:
        if record.operator != operator.account or record.asset_id not in undelegation_cuts:
            continue
        cut = record.amount * proportion // RATE_ONE
        slashed_records.append(UndelegationSlash(record.record_id, record.amount, cut))
        record.amount -= cut
        undelegation_cuts[record.asset_id] += cut
    return SlashOutcome(
        tuple(
            AssetSlash(
                asset_id, _token_of(asset_id, assets), pool_cuts[asset_id], undelegation_cuts[asset_id]
            )
            for asset_id in affected
        ),
        tuple(slashed_records),
    )


def _token_of(asset_id: str, assets: Mapping[str, Asset]) -> Address:
    known = assets.get(asset_id)
    return known.token if known is not None else AssetId.parse(asset_id).token
