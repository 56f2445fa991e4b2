"""Leases on the configured database: contention, expiry and takeover with a higher fencing token,
renewal, release, and the fencing check refusing a stale holder. Time moves only through an
injected lease clock (the production clock is the database's)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, text

from relayer.errors import StorageError
from storage import leases, migrate
from storage.db import create_db_engine
from storage.errors import LeaseBusyError, LeaseError, StaleLeaseError
from storage.lease_tables import lease_table
from storage.leases import Grant, acquire, check_fence, database_now, release
from tests.support.database import backend, fresh_database
from tests.support.leases import StepLeaseClock, wait_until_blocked_on_lock

NAME = "signer:31337:0x00000000000000000000000000000000000000aa"
TTL_S = 10.0


@pytest.fixture
def clock() -> StepLeaseClock:
    return StepLeaseClock()


def test_first_holder_gets_token_1_and_a_contender_gets_nothing(
    engine: Engine, clock: StepLeaseClock
) -> None:
    first = acquire(engine, NAME, "host-a:1:aa", TTL_S, clock=clock)
    second = acquire(engine, NAME, "host-b:2:bb", TTL_S, clock=clock)
    assert first is not None
    assert (first.holder, first.token, first.renewed, first.previous_holder) == (
        "host-a:1:aa",
        1,
        False,
        None,
    )
    assert first.expires_at == clock.now + timedelta(seconds=TTL_S)
    assert second is None


def test_renewal_keeps_the_token_and_moves_the_expiry(engine: Engine, clock: StepLeaseClock) -> None:
    first = acquire(engine, NAME, "a", TTL_S, clock=clock)
    clock.advance(TTL_S - 1)
    again = acquire(engine, NAME, "a", TTL_S, clock=clock)
    assert first is not None and again is not None
    assert again.token == first.token == 1
    assert again.renewed
    assert again.expires_at > first.expires_at


def test_expiry_lets_another_holder_take_over_with_a_higher_token(
    engine: Engine, clock: StepLeaseClock
) -> None:
    assert acquire(engine, NAME, "a", TTL_S, clock=clock) is not None
    clock.advance(TTL_S - 0.001)
    assert acquire(engine, NAME, "b", TTL_S, clock=clock) is None  # still live
    clock.advance(0.001)  # expires_at <= now: lapsed
    taken = acquire(engine, NAME, "b", TTL_S, clock=clock)
    assert taken == Grant(
        NAME, "b", 2, clock.now + timedelta(seconds=TTL_S), renewed=False, previous_holder="a"
    )
    # The old holder coming back gets nothing while b's lease is live.
    assert acquire(engine, NAME, "a", TTL_S, clock=clock) is None


def test_a_holder_that_let_its_lease_lapse_gets_a_new_token(engine: Engine, clock: StepLeaseClock) -> None:
    assert acquire(engine, NAME, "a", TTL_S, clock=clock) is not None
    clock.advance(TTL_S)
    again = acquire(engine, NAME, "a", TTL_S, clock=clock)
    assert again is not None
    assert (again.token, again.renewed, again.previous_holder) == (2, False, None)


def test_release_hands_over_at_once_and_tokens_keep_growing(engine: Engine, clock: StepLeaseClock) -> None:
    first = acquire(engine, NAME, "a", TTL_S, clock=clock)
    assert first is not None
    assert release(engine, NAME, "a", first.token, clock=clock)
    assert not release(engine, NAME, "a", first.token, clock=clock)  # not ours any more
    taken = acquire(engine, NAME, "b", TTL_S, clock=clock)
    assert taken is not None and taken.token == 2 and taken.previous_holder is None


def test_fence_accepts_the_live_holder_and_refuses_every_stale_one(
    engine: Engine, clock: StepLeaseClock
) -> None:
    first = acquire(engine, NAME, "a", TTL_S, clock=clock)
    assert first is not None
    with engine.begin() as conn:
        check_fence(conn, NAME, "a", first.token, clock=clock)
    # a still believes it holds token 1; the lease lapsed on the (database) clock.
    clock.advance(TTL_S)
    with engine.begin() as conn, pytest.raises(StaleLeaseError, match="expired"):
        check_fence(conn, NAME, "a", first.token, clock=clock)
    taken = acquire(engine, NAME, "b", TTL_S, clock=clock)
    assert taken is not None
    with engine.begin() as conn, pytest.raises(StaleLeaseError, match="now held by b with token 2") as caught:
        check_fence(conn, NAME, "a", first.token, clock=clock)
    assert (caught.value.name, caught.value.holder, caught.value.token) == (NAME, "a", 1)
    assert isinstance(caught.value, LeaseError) and isinstance(caught.value, StorageError)
    with engine.begin() as conn, pytest.raises(StaleLeaseError, match="no such lease"):
        check_fence(conn, "stream:exocore", "a", 1, clock=clock)
    with engine.begin() as conn:
        check_fence(conn, NAME, "b", taken.token, clock=clock)


def _race(engine: Engine, name: str, holders: tuple[str, ...]) -> dict[str, Grant | None]:
    """Every holder calls acquire at once (a barrier releases them together)."""
    barrier = threading.Barrier(len(holders))
    grants: dict[str, Grant | None] = {}

    def contend(holder: str) -> None:
        barrier.wait()
        grants[holder] = acquire(engine, name, holder, TTL_S)

    threads = [threading.Thread(target=contend, args=(holder,)) for holder in holders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return grants


def test_contenders_at_once_exactly_one_wins(engine: Engine) -> None:
    """Real concurrency on the database clock: whichever thread locks the row first wins."""
    for round_ in range(10):
        name = f"stream:race:{round_}"
        grants = _race(engine, name, ("a", "b", "c"))
        winners = [grant for grant in grants.values() if grant is not None]
        assert len(winners) == 1
        assert winners[0].token == 1
        with engine.connect() as conn:
            holder = conn.execute(select(lease_table.c.holder).where(lease_table.c.name == name)).scalar_one()
        assert holder == winners[0].holder


def test_database_clock_is_the_servers(engine: Engine) -> None:
    with engine.connect() as conn:
        first = database_now(conn)
        second = database_now(conn)
    assert first.tzinfo is not None
    assert second >= first


def test_leases_lists_every_row(engine: Engine, clock: StepLeaseClock) -> None:
    acquire(engine, "stream:exocore", "a", TTL_S, clock=clock)
    acquire(engine, NAME, "b", TTL_S, clock=clock)
    with engine.connect() as conn:
        rows = leases.leases(conn)
    assert [(r.name, r.holder, r.token, r.live(clock.now)) for r in rows] == [
        (NAME, "b", 1, True),
        ("stream:exocore", "a", 1, True),
    ]


@pytest.fixture
def named_engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, Engine, Engine]]:
    """Three engines on one private PostgreSQL schema, their sessions named for pg_stat_activity."""
    if backend() != "postgresql":
        pytest.skip("row locks and their waits exist on PostgreSQL only")
    with fresh_database(tmp_path_factory.mktemp("lease-locks")) as engine:
        migrate.upgrade(engine)
        with engine.connect() as conn:
            search_path = conn.execute(text("SHOW search_path")).scalar_one()
        url = engine.url.render_as_string(hide_password=False)
        options = f"-csearch_path={search_path}"
        old = create_db_engine(url, connect_args={"options": options, "application_name": "lease-old"})
        new = create_db_engine(url, connect_args={"options": options, "application_name": "lease-new"})
        try:
            yield engine, old, new
        finally:
            old.dispose()
            new.dispose()


def test_a_takeover_waits_for_the_fenced_transaction_of_the_old_holder(
    named_engines: tuple[Engine, Engine, Engine],
) -> None:
    """The fence's share lock: a takeover cannot slip in between the old holder's check and its commit."""
    engine, old_engine, new_engine = named_engines
    clock = StepLeaseClock()
    first = acquire(engine, NAME, "old", TTL_S, clock=clock)
    assert first is not None
    taken: list[Grant | None] = []

    def take_over() -> None:
        # As the keeper does on its next tick: a row still locked after the lock timeout is retried.
        while True:
            try:
                taken.append(acquire(new_engine, NAME, "new", TTL_S, clock=clock))
                return
            except LeaseBusyError:
                continue

    with old_engine.begin() as conn:
        check_fence(conn, NAME, "old", first.token, clock=clock)  # valid now; lock held until commit
        clock.advance(TTL_S)  # the lease lapses while the fenced transaction is still open
        taker = threading.Thread(target=take_over)
        taker.start()
        wait_until_blocked_on_lock(engine, "lease-new")
        assert taken == []  # the takeover waits for the old holder's transaction to end
    taker.join()
    assert taken[0] is not None
    assert (taken[0].holder, taken[0].token, taken[0].previous_holder) == ("new", 2, "old")


def test_force_takes_a_live_lease_with_a_higher_token_and_fences_the_old_holder(
    engine: Engine, clock: StepLeaseClock
) -> None:
    """SQLite's start-up take-over: the live lease found is a dead predecessor's; it is taken at once."""
    first = acquire(engine, NAME, "dead", TTL_S, clock=clock)
    taken = acquire(engine, NAME, "restarted", TTL_S, clock=clock, force=True)
    assert first is not None and taken is not None
    assert (taken.token, taken.renewed, taken.previous_holder) == (2, False, "dead")
    with engine.begin() as conn, pytest.raises(StaleLeaseError):
        check_fence(conn, NAME, "dead", first.token, clock=clock)


def test_acquire_gives_up_on_a_row_another_transaction_keeps_locked(
    engine: Engine, clock: StepLeaseClock
) -> None:
    """A fenced write's share lock held open (its process paused) makes acquire raise LeaseBusyError
    instead of waiting as long as that session lives; once the lock is gone the lease works again."""
    if backend() != "postgresql":
        pytest.skip("row locks are PostgreSQL's (SQLite serialises its one process's writers)")
    grant = acquire(engine, NAME, "a", TTL_S, clock=clock)
    assert grant is not None
    with engine.connect() as paused:
        paused.begin()
        check_fence(paused, NAME, "a", grant.token, clock=clock)
        with pytest.raises(LeaseBusyError):
            acquire(engine, NAME, "b", TTL_S, clock=clock)
        with pytest.raises(LeaseBusyError):
            acquire(engine, NAME, "a", TTL_S, clock=clock)
        paused.rollback()
    again = acquire(engine, NAME, "a", TTL_S, clock=clock)
    assert again is not None and again.token == grant.token and again.renewed
