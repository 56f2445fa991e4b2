"""The tx manager's EIP-1559 fee policy as pure arithmetic: no node, no clock, no database.

Invariants (checked by ``tests/relayer/l1/test_fees.py`` without anvil):

* A first attempt pays the market: ``tip`` = the node's suggested priority fee and
  ``maxFee = BASE_FEE_HEADROOM x base fee + tip`` (the *market maxFee*).
* A replacement (same nonce) raises both fields to at least ``ceil(9/8 x`` the highest value any
  earlier attempt signed ``)`` and at least ``value + 1`` (the node's replacement rule), and never
  below the current market.
* A replacement is never signed above ``cap = int(market maxFee x max_fee_multiplier)``: when the
  bump would exceed it the decision is *capped* and the caller keeps the live transaction instead
  (it re-sends it and re-checks one bump interval later, when the market may have moved).
* ``tip <= maxFee`` always (``maxFee`` includes the tip), so a signed transaction is valid.
* Bumps are monotonic: higher earlier fees or a higher market never yield lower fees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

FEE_BUMP_NUMERATOR: Final = 9
FEE_BUMP_DENOMINATOR: Final = 8
"""A replacement must raise both fee fields by ≥ 12.5 % (9/8): the largest bump any client requires
(geth and reth need 10 %, some pools 12.5 %)."""

BASE_FEE_HEADROOM: Final = 2
"""maxFee = 2 x base fee + tip: stays includable through six consecutive full blocks (+12.5 % each)."""


@dataclass(frozen=True, slots=True)
class Fees:
    """The two EIP-1559 fee fields of one signed transaction, in wei per gas."""

    max_fee: int
    tip: int


@dataclass(frozen=True, slots=True)
class Replacement:
    """A fee-bump decision: ``fees`` to sign unless ``capped`` (then nothing is signed)."""

    fees: Fees
    cap: int
    market_max_fee: int

    @property
    def capped(self) -> bool:
        return self.fees.max_fee > self.cap


def bump(value: int) -> int:
    """``ceil(value x 9/8)``, and at least ``value + 1`` so a zero fee still moves."""
    return max(value + 1, -(-value * FEE_BUMP_NUMERATOR // FEE_BUMP_DENOMINATOR))


def market_max_fee(base_fee: int, market_tip: int) -> int:
    """The market's maxFeePerGas: ``BASE_FEE_HEADROOM x base + tip``."""
    return BASE_FEE_HEADROOM * base_fee + market_tip


def initial_fees(base_fee: int, market_tip: int) -> Fees:
    """Fees of a first attempt: exactly the market."""
    return Fees(max_fee=market_max_fee(base_fee, market_tip), tip=market_tip)


def fee_cap(base_fee: int, market_tip: int, max_fee_multiplier: float) -> int:
    """The highest maxFeePerGas a replacement may carry (``max_fee_multiplier`` x market, floored)."""
    return int(market_max_fee(base_fee, market_tip) * max_fee_multiplier)


def replacement_fees(
    *, prior_max_fee: int, prior_tip: int, base_fee: int, market_tip: int, max_fee_multiplier: float
) -> Replacement:
    """Fees for a same-nonce replacement of attempts whose highest fields were ``prior_*``.

    Both fields satisfy the replacement rule against the priors and are at least the market; the
    result is ``capped`` when its maxFee exceeds :func:`fee_cap` (then the caller must not sign)."""
    tip = max(bump(prior_tip), market_tip)
    max_fee = max(bump(prior_max_fee), BASE_FEE_HEADROOM * base_fee + tip)
    return Replacement(
        fees=Fees(max_fee=max_fee, tip=tip),
        cap=fee_cap(base_fee, market_tip, max_fee_multiplier),
        market_max_fee=market_max_fee(base_fee, market_tip),
    )


def satisfies_replacement_rule(prior: int, new: int) -> bool:
    """Whether ``new`` raises ``prior`` by the required ≥ 12.5 % (and by at least 1 wei)."""
    return new > prior and new * FEE_BUMP_DENOMINATOR >= prior * FEE_BUMP_NUMERATOR
