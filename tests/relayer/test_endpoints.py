"""The endpoint pool's policy with an explicit clock: no sockets, no sleeps."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relayer.endpoints import ENDPOINT_COOLDOWN_S, EndpointPool, EndpointState, Failure

A, B, C = "http://a", "http://b", "http://c"
T0 = 1000.0


def test_healthy_endpoints_come_first_in_configured_order() -> None:
    pool = EndpointPool([A, B, C])
    assert pool.order(T0) == [A, B, C]
    assert pool.active == A and pool.switches == 0


def test_a_failed_endpoint_cools_down_then_comes_back_first() -> None:
    pool = EndpointPool([A, B, C])
    pool.failed(A, Failure.TRANSPORT, "ConnectError: refused", T0)
    assert pool.succeeded(B, T0) is True
    assert pool.active == B and pool.switches == 1
    assert pool.order(T0 + 1) == [B, C, A]
    assert pool.order(T0 + ENDPOINT_COOLDOWN_S - 0.001) == [B, C, A]
    # Cooldown over: A is healthy again and first in configured order.
    assert pool.order(T0 + ENDPOINT_COOLDOWN_S) == [A, B, C]
    # A's answer moves the active endpoint back without counting a failover (B never failed).
    assert pool.succeeded(A, T0 + ENDPOINT_COOLDOWN_S) is False
    assert pool.active == A and pool.switches == 1


def test_cooling_endpoints_are_ordered_by_the_end_of_their_cooldown() -> None:
    pool = EndpointPool([A, B, C], cooldown_s=10.0)
    pool.failed(C, Failure.TRANSPORT, "timeout", T0)
    pool.failed(A, Failure.ENDPOINT, "lagging", T0 + 2)
    pool.failed(B, Failure.TRANSPORT, "reset", T0 + 1)
    assert pool.order(T0 + 3) == [C, B, A]
    assert pool.order(T0 + 10) == [C, B, A]  # C's cooldown ends exactly now: healthy, first
    assert pool.order(T0 + 11.5) == [B, C, A]
    assert pool.order(T0 + 12) == [A, B, C]


def test_a_repeated_failure_restarts_the_cooldown() -> None:
    pool = EndpointPool([A, B], cooldown_s=10.0)
    pool.failed(A, Failure.TRANSPORT, "timeout", T0)
    pool.failed(A, Failure.TRANSPORT, "timeout", T0 + 9)
    assert pool.order(T0 + 12) == [B, A]
    assert pool.order(T0 + 19) == [A, B]
    (a, _) = pool.health(T0 + 12)
    assert a.consecutive_failures == 2 and a.failovers == 2 and a.cooldown_ends_at == T0 + 19


def test_an_answer_clears_the_failure_state() -> None:
    pool = EndpointPool([A, B])
    pool.failed(A, Failure.TRANSPORT, "timeout", T0)
    pool.succeeded(A, T0 + 1)  # the only endpoint left to try answered while cooling
    a, b = pool.health(T0 + 1)
    assert a.state is EndpointState.HEALTHY and a.consecutive_failures == 0
    assert a.last_failure is Failure.TRANSPORT and a.last_error == "timeout"  # kept for metrics
    assert b.failovers == 0 and b.last_failure is None
    assert pool.order(T0 + 1) == [A, B]


def test_an_endpoint_of_another_chain_is_refused_for_good() -> None:
    pool = EndpointPool([A, B])
    pool.failed(A, Failure.WRONG_CHAIN, "serves othernet", T0)
    assert pool.order(T0) == [B]
    assert pool.order(T0 + 100 * ENDPOINT_COOLDOWN_S) == [B]
    assert pool.refused() == {A: "serves othernet"}
    assert pool.succeeded(B, T0) is True and pool.switches == 1
    a, _ = pool.health(T0)
    assert a.state is EndpointState.REFUSED and a.last_failure is Failure.WRONG_CHAIN and a.failovers == 1
    pool.refuse(A, "serves othernet")
    assert pool.health(T0)[0].failovers == 1  # refusing twice is one refusal
    pool.refuse(B, "serves othernet too")
    assert pool.order(T0) == []


def test_configuration_is_validated() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        EndpointPool([])
    with pytest.raises(ValueError, match="non-empty"):
        EndpointPool(A)
    with pytest.raises(ValueError, match="duplicate"):
        EndpointPool([A, A])
    with pytest.raises(ValueError, match="cooldown"):
        EndpointPool([A], cooldown_s=0)


events = st.lists(
    st.tuples(
        st.sampled_from(["fail", "refuse", "succeed"]),
        st.integers(min_value=0, max_value=3),
        st.floats(min_value=0, max_value=50, allow_nan=False),
    ),
    max_size=30,
)


@given(events=events, probe=st.floats(min_value=0, max_value=100, allow_nan=False))
def test_order_is_a_permutation_of_the_unrefused_endpoints_healthy_first(
    events: list[tuple[str, int, float]], probe: float
) -> None:
    urls = ["u0", "u1", "u2", "u3"]
    pool = EndpointPool(urls, cooldown_s=10.0)
    now = 0.0
    for kind, index, step in events:
        now += step
        url = urls[index]
        if kind == "fail":
            pool.failed(url, Failure.TRANSPORT, "x", now)
        elif kind == "refuse":
            pool.refuse(url, "other chain")
        elif url not in pool.refused():
            pool.succeeded(url, now)
    at = now + probe
    order = pool.order(at)
    states = {h.url: h.state for h in pool.health(at)}
    assert sorted(order) == sorted(u for u in urls if states[u] is not EndpointState.REFUSED)
    healthy = [u for u in order if states[u] is EndpointState.HEALTHY]
    assert order[: len(healthy)] == healthy == [u for u in urls if states[u] is EndpointState.HEALTHY]
    ends = [h.cooldown_ends_at for u in order[len(healthy) :] for h in pool.health(at) if h.url == u]
    assert ends == sorted(ends)  # type: ignore[type-var]
