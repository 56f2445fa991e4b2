"""The lease keeper of ``exorelay run`` on the configured database: it takes free roles, renews them,
counts takeovers and losses, stops believing in a lease its own clock says has lapsed, and hands its
roles over on a clean stop. Time moves through injected clocks only."""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest
from sqlalchemy import Engine

from relayer.leases import (
    STREAM_EXOCORE,
    HolderId,
    LeaseKeeper,
    l1_stream_lease,
    new_holder_id,
    signer_lease,
)
from relayer.metrics import RelayerMetrics
from storage import leases as storage_leases
from storage.db import DatabaseUnavailableError, idle_in_transaction_timeout_sql
from storage.errors import StaleLeaseError
from tests.support.database import backend
from tests.support.leases import FrozenMonotonic, StepLeaseClock

TTL_S = 10.0
SIGNER = signer_lease(31337, "0x00000000000000000000000000000000000000AA")
NAMES = (SIGNER, STREAM_EXOCORE, l1_stream_lease(31337))
STALL_GUARD_S = 60.0
"""Generous: a keeper tick is a few short transactions; one still running after this is stuck on a lock
(without the lock timeout it would wait as long as the locking session lives)."""


class Monotonic:
    def __init__(self) -> None:
        self.value = 100.0

    def __call__(self) -> float:
        return self.value


def sample(metrics: RelayerMetrics, name: str, lease: str) -> float | None:
    return metrics.registry.get_sample_value(name, {"lease": lease})


def keeper(engine: Engine, holder: str, clock: StepLeaseClock, monotonic: Monotonic) -> LeaseKeeper:
    return LeaseKeeper(
        engine,
        HolderId(holder),
        NAMES,
        ttl_s=TTL_S,
        clock=clock,
        metrics=RelayerMetrics(),
        monotonic=monotonic,
    )


def test_lease_names_leave_room_for_a_chain_id() -> None:
    assert SIGNER == "signer:31337:0x00000000000000000000000000000000000000aa"
    assert l1_stream_lease(17000) == "stream:l1:17000"
    assert STREAM_EXOCORE == "stream:exocore"


def test_holder_ids_are_host_pid_random_and_unique_per_incarnation() -> None:
    first, second = new_holder_id(), new_holder_id()
    host, pid, random = first.rsplit(":", 2)
    assert (host, pid) == (socket.gethostname(), str(os.getpid()))
    assert len(random) == 8 and first != second
    named, again = new_holder_id("relayer-eu-1"), new_holder_id("relayer-eu-1")
    assert named.startswith(f"relayer-eu-1:{os.getpid()}:") and named != again


def test_one_keeper_takes_every_role_and_a_standby_none(engine: Engine) -> None:
    clock, mono = StepLeaseClock(), Monotonic()
    active, standby = keeper(engine, "a", clock, mono), keeper(engine, "b", clock, mono)
    active.tick()
    standby.tick()
    assert all(active.holds(name) for name in NAMES)
    assert not any(standby.holds(name) for name in NAMES)
    assert sample(active.metrics, "exorelay_lease_held", SIGNER) == 1
    assert sample(standby.metrics, "exorelay_lease_held", SIGNER) == 0
    assert sample(active.metrics, "exorelay_lease_takeovers_total", SIGNER) == 0


def test_renewals_keep_the_roles_and_a_silent_holder_is_taken_over(engine: Engine) -> None:
    clock, mono_a, mono_b = StepLeaseClock(), Monotonic(), Monotonic()
    active, standby = keeper(engine, "a", clock, mono_a), keeper(engine, "b", clock, mono_b)
    active.tick()
    for _ in range(5):  # renewed every few seconds, the active one keeps everything
        clock.advance(TTL_S / 2)
        mono_a.value += TTL_S / 2
        active.tick()
        standby.tick()
        assert active.token(SIGNER) == 1 and not standby.holds(SIGNER)
    # a stops renewing (killed, paused): once its lease lapses on the database's clock, b takes over.
    clock.advance(TTL_S)
    standby.tick()
    assert standby.token(SIGNER) == 2
    assert sample(standby.metrics, "exorelay_lease_takeovers_total", SIGNER) == 1
    # a's own clock has run past the TTL as well: it no longer believes it holds anything...
    mono_a.value += TTL_S
    assert not active.holds(SIGNER)
    # ...and its next tick finds the role gone and counts it lost (also when its own clock had
    # already given up on it: a process woken from SIGSTOP).
    active.tick()
    assert not active.holds(SIGNER)
    assert sample(active.metrics, "exorelay_lease_held", SIGNER) == 0
    assert sample(active.metrics, "exorelay_lease_lost_total", SIGNER) == 1


def test_a_lost_lease_is_counted_when_the_database_says_so(engine: Engine) -> None:
    clock, mono = StepLeaseClock(), Monotonic()
    active, standby = keeper(engine, "a", clock, mono), keeper(engine, "b", clock, Monotonic())
    active.tick()
    clock.advance(TTL_S)  # a was paused; its monotonic clock did not move (it cannot tell)
    standby.tick()
    assert active.holds(SIGNER)  # it still believes so (the fence is what stops its writes)
    active.tick()
    assert not active.holds(SIGNER)
    assert sample(active.metrics, "exorelay_lease_lost_total", SIGNER) == 1


def test_a_clean_stop_hands_the_roles_over_at_once(engine: Engine) -> None:
    clock, mono = StepLeaseClock(), Monotonic()
    active, standby = keeper(engine, "a", clock, mono), keeper(engine, "b", clock, mono)
    active.tick()
    active.stop(release=True)
    standby.tick()  # no waiting for the TTL
    assert all(standby.holds(name) for name in NAMES)
    assert standby.token(SIGNER) == 2
    assert sample(standby.metrics, "exorelay_lease_takeovers_total", SIGNER) == 0  # released, not taken


def test_a_keeper_taking_over_at_start_takes_live_leases_once(engine: Engine) -> None:
    """SQLite, one process by design: a restarted process takes its predecessor's roles at once."""
    clock, mono = StepLeaseClock(), Monotonic()
    dead = keeper(engine, "dead", clock, mono)
    dead.tick()
    restarted = LeaseKeeper(
        engine,
        HolderId("restarted"),
        NAMES,
        ttl_s=TTL_S,
        clock=clock,
        monotonic=mono,
        take_over_at_start=True,
    )
    restarted.tick()
    assert restarted.token(SIGNER) == 2
    standby = keeper(engine, "standby", clock, mono)  # no take-over at start: it waits
    standby.tick()
    assert not standby.holds(SIGNER)
    another = LeaseKeeper(
        engine, HolderId("another"), NAMES, ttl_s=TTL_S, clock=clock, monotonic=mono, take_over_at_start=True
    )
    another.tick()
    assert another.token(SIGNER) == 3
    restarted.tick()  # only the first tick forces: the restarted keeper does not take it back
    assert not restarted.holds(SIGNER)
    assert another.token(SIGNER) == 3


@pytest.mark.timeout(300)
def test_a_holder_paused_inside_a_fenced_write_stalls_no_other_lease_and_is_taken_over(
    engine: Engine,
) -> None:
    """A process stopped inside a fenced transaction keeps its share lock on the lease row. The other
    process's keeper must still renew its own leases (the locked row only makes that one lease busy),
    take the lapsed lease over once the server aborts the paused session (idle in transaction), and
    the paused process must get nothing through when it wakes up: its commit fails, its fence is stale."""
    if backend() != "postgresql":
        pytest.skip("row locks and idle-in-transaction timeouts are PostgreSQL's (SQLite is one process)")
    clock = StepLeaseClock()
    streams = (STREAM_EXOCORE, l1_stream_lease(31337))
    paused_holder = LeaseKeeper(
        engine, HolderId("a"), (SIGNER,), ttl_s=TTL_S, clock=clock, monotonic=FrozenMonotonic()
    )
    other = LeaseKeeper(
        engine, HolderId("b"), (SIGNER, *streams), ttl_s=TTL_S, clock=clock, monotonic=Monotonic()
    )
    paused_holder.tick()
    other.tick()
    assert paused_holder.holds(SIGNER)
    assert [other.holds(name) for name in (SIGNER, *streams)] == [False, True, True]
    token = paused_holder.token(SIGNER)

    paused = engine.connect()
    try:
        paused.begin()
        paused_holder.fence(SIGNER).check(paused)  # ... and the process stops here, in its transaction
        # The other keeper renews its streams although the signer row stays locked.
        clock.advance(TTL_S - 1)
        ticking = threading.Thread(target=other.tick, daemon=True)
        ticking.start()
        ticking.join(timeout=STALL_GUARD_S)
        assert not ticking.is_alive(), "the keeper is stuck behind the paused holder's row lock"
        with engine.connect() as conn:
            renewed = {row.name: row for row in storage_leases.leases(conn)}
        assert all(renewed[name].holder == "b" and renewed[name].renewed_at == clock.now for name in streams)
        assert not other.holds(SIGNER)

        # The server aborts the paused session (the relayer's engines set this on every session).
        paused.exec_driver_sql(idle_in_transaction_timeout_sql(200))
        clock.advance(1)  # the paused holder's lease has lapsed on the database's clock
        deadline = time.monotonic() + 60
        while not other.holds(SIGNER):
            assert time.monotonic() < deadline, "the lapsed signer lease was never taken over"
            other.tick()
        assert other.token(SIGNER) == (token or 0) + 1

        # The paused process wakes up: its transaction is gone, nothing it wrote there commits.
        with pytest.raises(DatabaseUnavailableError):
            paused.commit()
    finally:
        paused.close()
    # Its next fenced write (the nonce allocation, before any send) is refused.
    with pytest.raises(StaleLeaseError), engine.begin() as conn:
        paused_holder.fence(SIGNER).check(conn)
