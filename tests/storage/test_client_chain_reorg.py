"""A reorg of one client chain undoes that chain's L1 observations only.

Regression: the reversal took every L1 transition above the ancestor height whatever its chain, so
a reorg of a chain at low heights undid another chain's payouts, roots and slash at higher ones
(and that chain's ingestion, its cursor unmoved, never wrote them again).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, select

from storage.lifecycle import PayoutState
from storage.models import (
    distribution_table,
    l1_tx_table,
    payout_table,
    slash_table,
    transfer_table,
)
from storage.store import LifecycleStore
from tests.support.indexer_factory import T0, StepClock, h
from tests.support.two_chains import A_PAID, A_ROOT, CHAIN_A, CHAIN_B, ON_A, ON_B, populate_two_chains


def _payout_states(engine: Engine) -> dict[int | None, set[str]]:
    p = payout_table
    states: dict[int | None, set[str]] = {}
    with engine.connect() as conn:
        for distribution_id, state in conn.execute(select(p.c.distribution_id, p.c.state)):
            chain = {ON_A.distribution_id: CHAIN_A, ON_B.distribution_id: CHAIN_B}[distribution_id]
            states.setdefault(chain, set()).add(state)
    return states


def test_a_reorg_of_one_chain_leaves_the_other_chains_rows(engine: Engine) -> None:
    populate_two_chains(engine)
    store = LifecycleStore(engine, clock=StepClock(T0 + timedelta(days=2)))
    before_b = _payout_states(engine)[CHAIN_B]
    # Chain A reorgs above its root: its payouts (block A_PAID) go back; chain B's rows, all at
    # heights far above A_ROOT, stay.
    with store.begin() as tx:
        reversed_count = tx.reverse_l1_above(A_ROOT, T0 + timedelta(days=2), chain_id=CHAIN_A)
    assert reversed_count > 0
    states = _payout_states(engine)
    assert states[CHAIN_A] == {PayoutState.PENDING.value}
    assert states[CHAIN_B] == before_b == {PayoutState.FINALIZED.value}
    d, s, t, x = distribution_table, slash_table, transfer_table, l1_tx_table
    with engine.connect() as conn:
        roots = dict(conn.execute(select(d.c.nonce, d.c.l1_chain_id)).all())
        slash = conn.execute(select(s.c.state, s.c.l1_chain_id)).one()
        transfers = set(conn.execute(select(t.c.l1_chain_id)).scalars())
        # A's payout transaction was first seen in the orphaned block: its row goes with it.
        a_pay = conn.execute(select(x.c.tx_hash).where(x.c.tx_hash == h("l1-tx-pay-a"))).first()
        b_pay = conn.execute(select(x.c.block_number).where(x.c.tx_hash == h("l1-tx-pay-b"))).scalar_one()
        a_payout_chain = set(
            conn.execute(
                select(payout_table.c.l1_chain_id).where(
                    payout_table.c.distribution_id == ON_A.distribution_id
                )
            ).scalars()
        )
    assert roots == {1: CHAIN_A, 2: CHAIN_B}  # A's root is at the ancestor: kept
    assert slash == ("finalized", CHAIN_B)
    assert transfers == {CHAIN_B}  # A's payout transfers were in the orphaned block
    assert a_pay is None and b_pay is not None
    assert a_payout_chain == {None}  # back to pending: not on any chain until paid again
    assert A_PAID > A_ROOT
