"""Distribution math (devnet.chain.rewards): known answers and properties."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from devnet.chain.model import LEAF_OPERATOR_COMMISSION, LEAF_STAKER
from devnet.chain.params import RATE_ONE
from devnet.chain.rewards import OperatorShare, plan_distribution
from relayer.protocol.types import Address


def addr(n: int) -> Address:
    return Address(n.to_bytes(20, "big"))


def test_known_answer() -> None:
    # 1000 units, 3% tax -> 970 to operators. Powers 3:1 -> 727 / 242 (floors), 1 unit of dust.
    # Operator A: 10% commission of 727 = 72 -> 655 to stakers 1:2 -> 218 / 436.
    # Operator B: 0% commission; 242 to one staker who also delegates to A (merged leaf).
    shares = [
        OperatorShare("exoA", 3, RATE_ONE // 10, addr(100), {addr(1): 1, addr(2): 2}),
        OperatorShare("exoB", 1, 0, addr(101), {addr(2): 5}),
    ]
    plan = plan_distribution(1000, 3 * 10**16, shares)
    assert plan.community_tax == 30
    assert [(a.operator, a.reward, a.commission) for a in plan.allocations] == [
        ("exoA", 727, 72),
        ("exoB", 242, 0),
    ]
    assert plan.stakers == [addr(1), addr(2), addr(100)]
    assert plan.amounts == [218, 436 + 242, 72]
    assert plan.kinds == [LEAF_STAKER, LEAF_STAKER, LEAF_OPERATOR_COMMISSION]
    assert plan.operators == ["exoA", "", "exoA"]
    assert plan.dust == 1000 - 30 - (218 + 678 + 72) == 2
    assert plan.total == 968


def test_zero_amounts_get_no_leaf() -> None:
    shares = [OperatorShare("exoA", 1, 0, addr(9), {addr(1): 1, addr(2): 10**6})]
    plan = plan_distribution(100, 0, shares)
    assert plan.stakers == [addr(2)]
    assert plan.amounts == [99]
    assert plan.dust == 1


def test_full_commission_and_full_tax() -> None:
    shares = [OperatorShare("exoA", 1, RATE_ONE, addr(9), {addr(1): 1})]
    plan = plan_distribution(77, 0, shares)
    assert plan.stakers == [addr(9)] and plan.amounts == [77] and plan.dust == 0
    taxed = plan_distribution(77, RATE_ONE, shares)
    assert taxed.community_tax == 77 and taxed.leaf_count == 0 and taxed.dust == 0


share_strategy = st.builds(
    lambda power, rate, reward, weights: (power, rate, reward, weights),
    st.integers(min_value=1, max_value=10**30),
    st.integers(min_value=0, max_value=RATE_ONE),
    st.integers(min_value=0, max_value=30),
    # On chain an operator's power comes from its delegations, so it always has a positive weight.
    st.dictionaries(
        st.integers(min_value=0, max_value=40),
        st.integers(min_value=1, max_value=10**40),
        min_size=1,
        max_size=12,
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    total=st.integers(min_value=0, max_value=2**128 - 1),
    tax=st.integers(min_value=0, max_value=RATE_ONE),
    raw_shares=st.lists(share_strategy, min_size=1, max_size=6),
)
def test_distribution_properties(
    total: int, tax: int, raw_shares: list[tuple[int, int, int, dict[int, int]]]
) -> None:
    shares = [
        OperatorShare(f"exo{i}", power, rate, addr(1000 + reward), {addr(k): w for k, w in weights.items()})
        for i, (power, rate, reward, weights) in enumerate(raw_shares)
    ]
    plan = plan_distribution(total, tax, shares)
    # Sums: leaves never exceed the claim; tax + leaves + dust is exactly the claim.
    assert plan.total <= total
    assert plan.community_tax + plan.total + plan.dust == total
    assert plan.community_tax == total * tax // RATE_ONE
    # Every floor loses < 1 unit: dust < operators + operator-delegator pairs (each loses < 1).
    pairs = sum(1 for share in shares for w in share.delegator_weights.values() if w)
    assert 0 <= plan.dust < max(1, len(shares) + pairs)
    # No negative, zero or duplicate leaves; leaves sorted by address (the index order).
    assert all(amount > 0 for amount in plan.amounts)
    assert len(set(plan.stakers)) == len(plan.stakers)
    assert plan.stakers == sorted(plan.stakers)
    # Commission is exact: floor(floor(R * p / P) * rate).
    remaining = total - plan.community_tax
    total_power = sum(share.power for share in shares)
    for share, allocation in zip(shares, plan.allocations, strict=True):
        assert allocation.reward == remaining * share.power // total_power
        assert allocation.commission == allocation.reward * share.commission_rate // RATE_ONE
    # Each address gets exactly what its commissions and stake shares add up to.
    expected: dict[Address, int] = {}
    for share, allocation in zip(shares, plan.allocations, strict=True):
        if allocation.commission:
            expected[share.reward_address] = expected.get(share.reward_address, 0) + allocation.commission
        part = allocation.reward - allocation.commission
        weight_total = sum(share.delegator_weights.values())
        for staker, weight in share.delegator_weights.items():
            amount = part * weight // weight_total if weight_total else 0
            if amount:
                expected[staker] = expected.get(staker, 0) + amount
    assert dict(zip(plan.stakers, plan.amounts, strict=True)) == {k: v for k, v in expected.items() if v}


@settings(max_examples=100, deadline=None)
@given(
    total=st.integers(min_value=10**18, max_value=2**128 - 1),
    weights=st.lists(st.integers(min_value=1, max_value=10**6), min_size=1, max_size=50),
)
def test_dust_is_below_the_leaf_count_when_every_share_is_paid(total: int, weights: list[int]) -> None:
    # One operator, no commission, stakes small enough that every staker gets at least one unit.
    shares = [OperatorShare("exoA", 1, 0, addr(999), {addr(i): w for i, w in enumerate(weights)})]
    plan = plan_distribution(total, 0, shares)
    assert plan.leaf_count == len(weights)
    assert plan.dust < plan.leaf_count
