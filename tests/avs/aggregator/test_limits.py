"""Per-key token buckets: burst, refill at the rate, keys independent, memory bounded."""

from __future__ import annotations

import pytest

from avs.aggregator.limits import TokenBuckets


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_one_token_per_interval_per_key() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=2.0, burst=3, clock=clock)
    assert [buckets.take("a") for _ in range(4)] == [True, True, True, False]
    assert buckets.take("b")  # another key has its own bucket
    clock.now += 0.5  # one token at 2 per second
    assert [buckets.take("a"), buckets.take("a")] == [True, False]
    clock.now += 100.0  # never more than the burst saved
    assert [buckets.take("a") for _ in range(4)] == [True, True, True, False]


def test_the_least_recently_used_key_is_dropped_beyond_the_bound() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=0.001, burst=1, max_keys=2, clock=clock)
    assert buckets.take("a") and buckets.take("b")
    assert not buckets.take("a")  # a is empty, and now the most recent
    assert buckets.take("c")  # evicts b, the least recently used
    assert buckets.take("b")  # b starts over with a full bucket (and evicts a)
    assert buckets.take("a")  # so does a (evicting c): only two keys are ever kept
    assert not buckets.take("b")  # b, kept, is empty


@pytest.mark.parametrize(("rate", "burst", "keys"), [(0.0, 1, 1), (1.0, 0, 1), (1.0, 1, 0)])
def test_nonsense_limits_are_refused(rate: float, burst: int, keys: int) -> None:
    with pytest.raises(ValueError, match="required"):
        TokenBuckets(rate, burst, max_keys=keys)
