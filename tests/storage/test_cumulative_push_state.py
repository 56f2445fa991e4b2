"""The push stage's memory per client chain (``storage.cumulative_push``): the same (earner, token)
has one delay clock per chain, each chain's payouts settle only that chain's clock, and what a
chain's vault paid is read from that chain's ``CumulativePaid`` records only."""

from __future__ import annotations

from sqlalchemy import Engine

from storage.cumulative_push import (
    PushState,
    forget_paid,
    indexed_claimed,
    load_push_state,
    mark_pushed,
    record_unpaid,
)
from storage.store import LifecycleStore
from tests.support.cumulative_data import CHAIN_B_ID, EARNER, L1_CHAIN_ID, TOKEN_T, l1, paid

PAIR = (EARNER, TOKEN_T)


def test_each_chain_keeps_its_own_clock_for_the_same_balance(engine: Engine) -> None:
    with engine.begin() as conn:
        record_unpaid(conn, L1_CHAIN_ID, {PAIR: 1000})
        record_unpaid(conn, CHAIN_B_ID, {PAIR: 2000})
        record_unpaid(conn, L1_CHAIN_ID, {PAIR: 3000})  # a clock is written once: the first sighting wins
        mark_pushed(conn, CHAIN_B_ID, {PAIR: 70})
    with engine.begin() as conn:
        assert load_push_state(conn, L1_CHAIN_ID) == {PAIR: PushState(1000, None)}
        assert load_push_state(conn, CHAIN_B_ID) == {PAIR: PushState(2000, 70)}
        forget_paid(conn, L1_CHAIN_ID, [PAIR])
    with engine.begin() as conn:
        assert load_push_state(conn, L1_CHAIN_ID) == {}
        assert load_push_state(conn, CHAIN_B_ID) == {PAIR: PushState(2000, 70)}  # B's balance is still unpaid


def test_what_a_chains_vault_paid_is_read_from_that_chain_only(store: LifecycleStore, engine: Engine) -> None:
    l1(store, paid(EARNER, TOKEN_T, 100, 100, 1, 11))
    l1(store, paid(EARNER, TOKEN_T, 30, 30, 1, 511), chain=CHAIN_B_ID)
    with engine.begin() as conn:
        assert indexed_claimed(conn, L1_CHAIN_ID) == {PAIR: 100}
        assert indexed_claimed(conn, CHAIN_B_ID) == {PAIR: 30}
        assert indexed_claimed(conn, 8453) == {}
