"""The cumulative push policy: who is worth a push at today's gas price, and when at the latest."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from relayer.config import CumulativeConfig
from relayer.pipeline.errors import PushPolicyError
from relayer.pipeline.push_policy import (
    Balance,
    PushPolicy,
    decide,
    plan_batches,
    policy_from_config,
    push_gas,
    push_threshold,
)
from relayer.protocol.types import Address, Amount

DAY = 86_400
PRICED = Address(b"\x01" * 20)  # 1 base unit = 1/1000 wei (an 18-decimal token worth 0.001 ETH)
MINIMUM_ONLY = Address(b"\x02" * 20)
UNKNOWN = Address(b"\x03" * 20)
GWEI = 10**9


def policy(**changes: object) -> PushPolicy:
    fields: dict[str, object] = {
        "gas_multiple": Fraction(10),
        "max_delay_s": 7 * DAY,
        "period_s": DAY,
        "token_price_wei": {PRICED: Fraction(1, 1000)},
        "token_minimum": {MINIMUM_ONLY: Amount(5 * 10**18)},
        "gas_per_leaf": 50_000,
        "gas_per_batch": 60_000,
    }
    fields.update(changes)
    return PushPolicy(**fields)  # type: ignore[arg-type]


def balance(claimable: int, *, token: Address = PRICED, since: int = 0, who: int = 1) -> Balance:
    return Balance(Address(who.to_bytes(20, "big")), token, Amount(claimable), since)


def test_threshold_is_the_gas_multiple_valued_at_the_token_price() -> None:
    # 10 x 50,000 gas x 20 gwei = 1e16 wei = 1e19 base units at 1/1000 wei each.
    assert push_threshold(policy(), PRICED, 20 * GWEI) == 10**19
    # Gas twice as dear: twice the threshold.
    assert push_threshold(policy(), PRICED, 40 * GWEI) == 2 * 10**19
    # A fractional result rounds up: the pushed amount is worth at least the multiple.
    odd = policy(token_price_wei={PRICED: Fraction(3)})
    assert push_threshold(odd, PRICED, 1) == 166_667
    assert push_threshold(policy(), MINIMUM_ONLY, 20 * GWEI) == 5 * 10**18
    assert push_threshold(policy(), UNKNOWN, 20 * GWEI) is None


def test_below_threshold_accrues_above_it_waits_until_the_last_period_within_the_delay() -> None:
    rich, poor = balance(3 * 10**19, who=1), balance(10**18, who=2)
    unknown = balance(10**30, token=UNKNOWN, who=3)
    for day in range(6):  # day 6 + one more period = 7 days: still within the bound
        result = decide(policy(), [rich, poor, unknown], now_s=day * DAY, fee_per_gas_wei=20 * GWEI)
        assert result.push == () and result.hold == (rich,)
        assert set(result.below_threshold) == {poor, unknown}
    result = decide(policy(), [rich, poor, unknown], now_s=6 * DAY + 1, fee_per_gas_wei=20 * GWEI)
    assert result.push == (rich,)
    # A max delay shorter than a period: every root pushes what is above the threshold.
    eager = decide(policy(max_delay_s=DAY // 2), [rich], now_s=0, fee_per_gas_wei=20 * GWEI)
    assert eager.push == (rich,)
    # Gas spikes: the same balance drops below the threshold and waits for cheaper gas or a claim.
    spike = decide(policy(), [rich], now_s=30 * DAY, fee_per_gas_wei=100 * GWEI)
    assert spike.below_threshold == (rich,) and spike.push == ()


def test_nothing_claimable_is_ignored() -> None:
    result = decide(policy(), [balance(0)], now_s=0, fee_per_gas_wei=1)
    assert result == decide(policy(), [], now_s=0, fee_per_gas_wei=1)


def test_batches_respect_the_gas_budget_and_cover_every_push_once() -> None:
    p = policy(batch_gas=60_000 + 3 * 50_000)
    pushes = [balance(10**20, who=i) for i in range(1, 8)]
    batches = plan_batches(p, pushes)
    assert [len(b) for b in batches] == [3, 3, 1]
    assert [b for batch in batches for b in batch] == pushes
    assert push_gas(p, 7) == 3 * 60_000 + 7 * 50_000
    assert push_gas(p, 0) == 0


def test_inconsistent_policies_are_refused() -> None:
    with pytest.raises(PushPolicyError):
        policy(period_s=0)
    with pytest.raises(PushPolicyError):
        policy(gas_multiple=Fraction(-1))
    with pytest.raises(PushPolicyError):
        policy(batch_gas=100)
    with pytest.raises(PushPolicyError):
        policy(token_price_wei={PRICED: Fraction(0)})
    assert isinstance(PushPolicyError("x"), ValueError)


@settings(max_examples=200, deadline=None)
@given(
    claimable=st.integers(1, 10**24),
    since=st.integers(0, 60 * DAY),
    now=st.integers(0, 90 * DAY),
    fee=st.integers(1, 500 * GWEI),
)
def test_invariants(claimable: int, since: int, now: int, fee: int) -> None:
    p = policy()
    item = balance(claimable, since=min(since, now))
    result = decide(p, [item], now_s=now, fee_per_gas_wei=fee)
    threshold = push_threshold(p, PRICED, fee)
    assert threshold is not None
    assert len(result.push) + len(result.hold) + len(result.below_threshold) == 1
    if claimable < threshold:
        assert result.below_threshold == (item,)
    elif now - item.unpaid_since_s > p.max_delay_s - p.period_s:
        assert result.push == (item,)  # waiting another period would breach the bound
    else:
        assert result.hold == (item,)


def test_policy_from_the_config_section() -> None:
    config = CumulativeConfig(
        gas_multiple=2.5,
        token_prices={"0x" + "01" * 20: "0.001", "0x" + "02" * 20: "2"},
        token_decimals={"0x" + "02" * 20: 6},
        token_minimums={"0x" + "03" * 20: "5000"},
    )
    built = policy_from_config(config)
    assert built.gas_multiple == Fraction(5, 2)
    # 0.001 ETH per 10**18 base units: 1/1000 wei each; 2 ETH per 10**6 base units: 2e12 wei each.
    assert built.token_price_wei == {PRICED: Fraction(1, 1000), MINIMUM_ONLY: Fraction(2 * 10**12)}
    assert built.token_minimum == {UNKNOWN: 5000}
    with pytest.raises(ValidationError, match="not a decimal"):
        CumulativeConfig(token_prices={"0x" + "01" * 20: "cheap"})
    with pytest.raises(ValidationError, match="20-byte token address"):
        CumulativeConfig(token_minimums={"0x12": "1"})
