"""Cumulative earnings (pure): per client chain, per token and per earner, the running total of
everything ever distributed to them, closed into one CUMULATIVE_ROOT per period.

The devnet keeps one ledger for its one client chain. Every REWARD_DISTRIBUTION adds its leaves to
the earners' totals and its total to its (AVS, token) funding; every ``every`` distributions the
period closes: the ledger builds the :class:`CumulativeTree` of all totals and the payload that
carries its root and each (AVS, token)'s funded total.

Invariants: totals and funded amounts only grow; periods are numbered 1, 2, ... without gaps; for
every token, the tree's total equals the sum of that token's funded amounts (every base unit an
earner can claim was funded by some AVS); a token has one funding mode.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from relayer.protocol.cumulative import CumulativeLeaf, CumulativeTree, EarnerToken
from relayer.protocol.errors import InvalidValueError
from relayer.protocol.packets import CumulativeFunding, CumulativeRootPayload, FundingMode
from relayer.protocol.types import Address, Amount


@dataclass(frozen=True, slots=True)
class ClosedPeriod:
    """A period's tree and the payload the validator set signs for it."""

    period: int
    tree: CumulativeTree
    payload: CumulativeRootPayload


@dataclass
class CumulativeLedger:
    """Running totals between period closes (see the module docstring)."""

    every: int
    """Distributions per period (0: the ledger is off and never closes)."""
    totals: dict[EarnerToken, int] = field(default_factory=dict)
    funded: dict[tuple[Address, Address], int] = field(default_factory=dict)
    funding_of_token: dict[Address, FundingMode] = field(default_factory=dict)
    period: int = 0
    """The last closed period (0: none yet)."""
    since_close: int = 0
    latest: ClosedPeriod | None = None

    def record(
        self,
        *,
        avs: Address,
        token: Address,
        funding: FundingMode,
        stakers: list[Address],
        amounts: list[int],
    ) -> ClosedPeriod | None:
        """Add one distribution; returns the period it closes, if it is the period's last."""
        if self.every <= 0:
            return None
        known = self.funding_of_token.setdefault(token, funding)
        if known is not funding:
            raise InvalidValueError(f"token 0x{token.hex()} is funded by {known.name}, not {funding.name}")
        totals = self.totals
        added = 0
        for staker, amount in zip(stakers, amounts, strict=True):
            if amount:
                key = (staker, token)
                totals[key] = totals.get(key, 0) + amount
                added += amount
        self.funded[(avs, token)] = self.funded.get((avs, token), 0) + added
        self.since_close += 1
        if self.since_close < self.every:
            return None
        return self.close()

    def close(self) -> ClosedPeriod:
        """Close the current period now (every total so far is in its tree)."""
        tree = CumulativeTree.build(
            CumulativeLeaf(earner, token, Amount(total)) for (earner, token), total in self.totals.items()
        )
        self.period += 1
        self.since_close = 0
        payload = CumulativeRootPayload(
            period=self.period,
            root=tree.root,
            leaf_count=len(tree),
            entries=tuple(
                CumulativeFunding(avs, token, self.funding_of_token[token], Amount(total))
                for (avs, token), total in sorted(self.funded.items())
            ),
        )
        closed = ClosedPeriod(self.period, tree, payload)
        self.latest = closed
        return closed
