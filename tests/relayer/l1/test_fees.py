"""The EIP-1559 fee policy without a node: worked examples and hypothesis properties."""

from __future__ import annotations

from typing import Final

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relayer.l1.fees import (
    BASE_FEE_HEADROOM,
    Fees,
    bump,
    fee_cap,
    initial_fees,
    market_max_fee,
    replacement_fees,
    satisfies_replacement_rule,
)

GWEI: Final = 10**9

wei = st.integers(min_value=0, max_value=10**15)
"""Fee values up to 10^6 gwei per gas: far above any real market, still exact in the float cap."""
multipliers = st.sampled_from([1.0, 1.5, 2.0, 3.0, 5.0, 10.0])


@pytest.mark.parametrize(
    ("value", "bumped"),
    [
        (0, 1),
        (1, 2),
        (7, 8),
        (8, 9),
        (9, 11),
        (100, 113),
        (GWEI, 1_125_000_000),
        (2 * GWEI + 1, 2_250_000_002),
    ],
)
def test_bump_is_ceil_nine_eighths_and_at_least_one_wei(value: int, bumped: int) -> None:
    assert bump(value) == bumped


def test_initial_fees_are_the_market() -> None:
    assert initial_fees(base_fee=10 * GWEI, market_tip=GWEI) == Fees(max_fee=21 * GWEI, tip=GWEI)
    assert market_max_fee(10 * GWEI, GWEI) == BASE_FEE_HEADROOM * 10 * GWEI + GWEI


@pytest.mark.parametrize(
    ("prior_max_fee", "prior_tip", "base_fee", "market_tip", "multiplier", "expected", "capped"),
    [
        # An unchanged market: the bump is +12.5 % of what was signed.
        (21 * GWEI, GWEI, 10 * GWEI, GWEI, 3.0, Fees(23_625_000_000, 1_125_000_000), False),
        # The market rose past the bump: the market wins (both fields).
        (21 * GWEI, GWEI, 20 * GWEI, 2 * GWEI, 3.0, Fees(42 * GWEI, 2 * GWEI), False),
        # A bumped tip pushes maxFee above 2 x base + old tip.
        (18 * GWEI, 4 * GWEI, 8 * GWEI, GWEI, 3.0, Fees(20_500_000_000, 4_500_000_000), False),
        # Multiplier 1: any bump of a market-priced attempt is above the cap.
        (21 * GWEI, GWEI, 10 * GWEI, GWEI, 1.0, Fees(23_625_000_000, 1_125_000_000), True),
        # Earlier bumps already reached the cap: the next one is capped.
        (60 * GWEI, 3 * GWEI, 10 * GWEI, GWEI, 3.0, Fees(67_500_000_000, 3_375_000_000), True),
    ],
)
def test_replacement_table(
    prior_max_fee: int,
    prior_tip: int,
    base_fee: int,
    market_tip: int,
    multiplier: float,
    expected: Fees,
    capped: bool,
) -> None:
    decision = replacement_fees(
        prior_max_fee=prior_max_fee,
        prior_tip=prior_tip,
        base_fee=base_fee,
        market_tip=market_tip,
        max_fee_multiplier=multiplier,
    )
    assert decision.fees == expected
    assert decision.cap == fee_cap(base_fee, market_tip, multiplier)
    assert decision.market_max_fee == market_max_fee(base_fee, market_tip)
    assert decision.capped is capped


@given(prior_max_fee=wei, prior_tip=wei, base_fee=wei, market_tip=wei, multiplier=multipliers)
def test_a_replacement_satisfies_the_node_rule_and_the_market(
    prior_max_fee: int, prior_tip: int, base_fee: int, market_tip: int, multiplier: float
) -> None:
    fees = replacement_fees(
        prior_max_fee=prior_max_fee,
        prior_tip=prior_tip,
        base_fee=base_fee,
        market_tip=market_tip,
        max_fee_multiplier=multiplier,
    ).fees
    assert satisfies_replacement_rule(prior_max_fee, fees.max_fee)
    assert satisfies_replacement_rule(prior_tip, fees.tip)
    # geth's own rule (+10 %, integer arithmetic) is weaker, so it holds too.
    assert fees.max_fee * 100 >= prior_max_fee * 110 and fees.tip * 100 >= prior_tip * 110
    assert fees.tip >= market_tip and fees.max_fee >= BASE_FEE_HEADROOM * base_fee + fees.tip
    assert fees.tip <= fees.max_fee


@given(prior_max_fee=wei, prior_tip=wei, base_fee=wei, market_tip=wei, multiplier=multipliers)
def test_an_uncapped_replacement_is_never_above_the_cap(
    prior_max_fee: int, prior_tip: int, base_fee: int, market_tip: int, multiplier: float
) -> None:
    decision = replacement_fees(
        prior_max_fee=prior_max_fee,
        prior_tip=prior_tip,
        base_fee=base_fee,
        market_tip=market_tip,
        max_fee_multiplier=multiplier,
    )
    assert decision.cap >= decision.market_max_fee  # multiplier >= 1 (TxSettings enforces it)
    assert decision.capped == (decision.fees.max_fee > decision.cap)
    if not decision.capped:
        assert decision.fees.max_fee <= decision.cap


@given(
    prior_max_fee=wei,
    prior_tip=wei,
    base_fee=wei,
    market_tip=wei,
    more_fee=wei,
    more_tip=wei,
    more_base=wei,
    more_market_tip=wei,
    multiplier=multipliers,
)
def test_replacement_fees_are_monotonic(
    prior_max_fee: int,
    prior_tip: int,
    base_fee: int,
    market_tip: int,
    more_fee: int,
    more_tip: int,
    more_base: int,
    more_market_tip: int,
    multiplier: float,
) -> None:
    low = replacement_fees(
        prior_max_fee=prior_max_fee,
        prior_tip=prior_tip,
        base_fee=base_fee,
        market_tip=market_tip,
        max_fee_multiplier=multiplier,
    )
    high = replacement_fees(
        prior_max_fee=prior_max_fee + more_fee,
        prior_tip=prior_tip + more_tip,
        base_fee=base_fee + more_base,
        market_tip=market_tip + more_market_tip,
        max_fee_multiplier=multiplier,
    )
    assert high.fees.max_fee >= low.fees.max_fee
    assert high.fees.tip >= low.fees.tip
    assert high.cap >= low.cap


@given(start_base=wei, start_tip=wei, multiplier=multipliers)
def test_repeated_bumps_in_a_still_market_rise_until_capped(
    start_base: int, start_tip: int, multiplier: float
) -> None:
    """The tx manager's loop: bump from the last signed fees until the cap stops it."""
    signed = initial_fees(start_base, start_tip)
    for _ in range(64):
        decision = replacement_fees(
            prior_max_fee=signed.max_fee,
            prior_tip=signed.tip,
            base_fee=start_base,
            market_tip=start_tip,
            max_fee_multiplier=multiplier,
        )
        if decision.capped:
            assert decision.fees.max_fee > decision.cap >= signed.max_fee
            return
        assert decision.fees.max_fee > signed.max_fee and decision.fees.tip > signed.tip
        signed = decision.fees
    pytest.fail("64 bumps of 12.5 % never reached a cap of at most 10 x the market")
