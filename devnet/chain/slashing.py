"""Stake deduction for a verified slash (pure; mutates the operator's pools and undelegations).

The deduction is measured on the stake at the time of the offence, as upstream measures it on the
voting-power snapshot of the infraction: the chain snapshots every operator's delegations at each
epoch start (:class:`StakeSnapshot`), and a slash of proportion ``q`` (18 decimals) of operator ``o``
for AVS ``a`` for an offence in epoch ``E`` owes, per staker ``s`` and asset ``x`` that ``a``
accepts, ``due = floor(stake_E(s, x) * q / 1e18)``. It is taken, in this order and never more than
is still there:

1. from ``s``'s pending undelegations from ``o`` in ``x`` started at or after ``E``'s first block
   (that stake was bonded at ``E``; upstream slashes undelegations started after the infraction):
   ``floor(initial_amount * q / 1e18)`` of each (upstream: of the entry's initial balance), capped
   by what it still holds and by what is still due;
2. from ``s``'s current delegation to ``o`` in ``x``, the rest of ``due``.

Undelegations started before ``E`` were not stake at ``E`` and are not touched; stake delegated
after ``E``'s snapshot is not slashed either. When nothing changed since the snapshot this is
exactly ``floor(amount * q / 1e18)`` of every delegation. Two slashes for one epoch each take their
proportion of the epoch's stake (as upstream, which scales every slash by the infraction's power),
bounded by what the first left. The pooled stake is shared by every AVS
``o`` serves, so its power drops in all of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TypeAlias

from devnet.chain.model import Asset, Operator, Undelegation
from devnet.chain.params import RATE_ONE
from relayer.protocol.ids import AssetId
from relayer.protocol.types import Address

StakeSnapshot: TypeAlias = Mapping[str, Mapping[Address, int]]
"""One operator's delegations at an epoch start: asset id -> staker -> amount."""


def snapshot_pools(operator: Operator) -> dict[str, dict[Address, int]]:
    """A copy of ``operator``'s delegations (what :class:`StakeSnapshot` holds)."""
    return {asset_id: dict(pool) for asset_id, pool in operator.pools.items() if pool}


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
    *,
    snapshot: StakeSnapshot,
    offence_start_height: int,
) -> SlashOutcome:
    """Deduct ``proportion`` of ``operator``'s stake at the offence (``snapshot``, taken at the
    offence epoch's first block ``offence_start_height``) in ``asset_ids``; see the module docstring."""
    affected = list(asset_ids)
    pending: dict[tuple[str, Address], list[Undelegation]] = {}
    for record in undelegations:
        if record.operator == operator.account and record.submitted_height >= offence_start_height:
            pending.setdefault((record.asset_id, record.staker), []).append(record)
    pool_cuts: dict[str, int] = {}
    undelegation_cuts: dict[str, int] = dict.fromkeys(affected, 0)
    slashed_records = []
    for asset_id in affected:
        pool = operator.pools.get(asset_id, {})
        taken = 0
        for staker, bonded in snapshot.get(asset_id, {}).items():
            due = bonded * proportion // RATE_ONE
            for record in pending.get((asset_id, staker), ()):
                cut = min(record.initial_amount * proportion // RATE_ONE, record.amount, due)
                if cut == 0:
                    continue
                slashed_records.append(UndelegationSlash(record.record_id, record.amount, cut))
                record.amount -= cut
                undelegation_cuts[asset_id] += cut
                due -= cut
            current = pool.get(staker, 0)
            cut = min(current, due)
            if cut == 0:
                continue
            taken += cut
            if cut == current:
                del pool[staker]
            else:
                pool[staker] = current - cut
        pool_cuts[asset_id] = taken
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
