"""The signer lease fences the transaction manager (real anvil, real database): a process that lost
the lease while it was paused, and still believes it holds it, can neither take a nonce (so it never
signs) nor broadcast; the new holder carries on with the same nonces and the same stored bytes."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from relayer.l1.txmanager import TxManager
from relayer.leases import HolderId, LeaseKeeper, signer_lease
from relayer.metrics import RelayerMetrics
from storage.errors import StaleLeaseError
from storage.l1_tables import IntentState, signer_account_table, tx_attempt_table
from tests.support.leases import FrozenMonotonic, StepLeaseClock
from tests.support.txmanager import DEFAULT_SETTINGS, Harness, new_set, valset_update

TTL_S = 10.0


def _keeper(h: Harness, holder: str, clock: StepLeaseClock, metrics: RelayerMetrics) -> LeaseKeeper:
    name = signer_lease(h.system.deployment.chain_id, h.account.address)
    # A frozen monotonic clock: the keeper never notices on its own that its lease lapsed.
    return LeaseKeeper(
        h.engine,
        HolderId(holder),
        [name],
        ttl_s=TTL_S,
        clock=clock,
        metrics=metrics,
        monotonic=FrozenMonotonic(),
    )


def _manager(h: Harness, keeper: LeaseKeeper) -> TxManager:
    (name,) = keeper.names
    return TxManager(
        h.engine,
        h.client,
        h.account,
        DEFAULT_SETTINGS,
        store=h.store,
        clock=h.clock,
        fence=keeper.fence(name),
    )


def _attempt_count(h: Harness) -> int:
    with h.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(tx_attempt_table)).scalar_one())


def test_a_stale_holder_cannot_take_a_nonce_and_the_new_holder_signs_with_it(h: Harness) -> None:
    clock, metrics = StepLeaseClock(), RelayerMetrics()
    old, new = _keeper(h, "old:1:aa", clock, metrics), _keeper(h, "new:2:bb", clock, metrics)
    (name,) = old.names
    old.tick()
    stale = _manager(h, old)
    start = h.system.w3.eth.get_transaction_count(h.account.address)
    intent_id = h.enqueue(stale, "packet:1", "valset_update", valset_update(h, nonce=1), packet_nonce=1)

    clock.advance(TTL_S)  # the old holder was paused past its lease...
    new.tick()  # ...and a standby took it over
    assert new.token(name) == 2
    assert old.token(name) == 1  # the old holder still believes it holds the lease

    with pytest.raises(StaleLeaseError, match="now held by new:2:bb with token 2"):
        stale.sign_queued()
    with h.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(signer_account_table)).scalar_one() == 0
    assert _attempt_count(h) == 0  # nothing signed, nothing stored
    assert h.intent(stale, intent_id).state is IntentState.QUEUED
    assert h.system.w3.eth.get_transaction_count(h.account.address, "pending") == start
    assert metrics.registry.get_sample_value("exorelay_fenced_writes_refused_total", {"lease": name}) == 1

    report = _manager(h, new).tick()
    assert (report.signed, report.broadcast) == (1, 1)
    view = h.intent(stale, intent_id)
    assert view.state is IntentState.PENDING and view.tx_nonce == start  # no nonce gap


def test_a_stale_holder_cannot_broadcast_and_the_new_holder_sends_its_stored_bytes(h: Harness) -> None:
    clock, metrics = StepLeaseClock(), RelayerMetrics()
    old, new = _keeper(h, "old:1:aa", clock, metrics), _keeper(h, "new:2:bb", clock, metrics)
    old.tick()
    stale = _manager(h, old)
    start = h.system.w3.eth.get_transaction_count(h.account.address)
    intent_id = h.enqueue(stale, "packet:5", "valset_update", valset_update(h, nonce=5, to=new_set(seed=5)))
    assert stale.sign_queued(broadcast=False).signed == 1  # committed under a valid lease, not sent yet
    (signed,) = h.attempts(intent_id)

    clock.advance(TTL_S)
    new.tick()
    with pytest.raises(StaleLeaseError):
        stale.broadcast_signed()
    assert h.system.w3.eth.get_transaction_count(h.account.address, "pending") == start  # not sent

    report = _manager(h, new).tick()
    assert (report.signed, report.broadcast) == (0, 1)  # the same bytes, not a new signature
    (sent,) = h.attempts(intent_id)
    assert sent.tx_hash == signed.tx_hash and sent.tx_nonce == start
    assert "0x" + bytes(h.system.w3.eth.get_raw_transaction(sent.tx_hash)).hex() == signed.raw_tx


def test_a_stale_holder_cannot_sign_a_fee_bump(h: Harness) -> None:
    clock, metrics = StepLeaseClock(), RelayerMetrics()
    old, new = _keeper(h, "old:1:aa", clock, metrics), _keeper(h, "new:2:bb", clock, metrics)
    old.tick()
    stale = _manager(h, old)
    h.automine(False)
    try:
        intent_id = h.enqueue(
            stale, "packet:7", "valset_update", valset_update(h, nonce=7, to=new_set(seed=7))
        )
        assert stale.tick().signed == 1
        h.clock.advance(DEFAULT_SETTINGS.fee_bump_after_s + 1)  # the bump is due
        clock.advance(TTL_S)
        new.tick()
        with pytest.raises(StaleLeaseError):
            stale.bump_fees()
        assert len(h.attempts(intent_id)) == 1  # no replacement signed
        assert _manager(h, new).bump_fees().bumped == 1
        assert len(h.attempts(intent_id)) == 2
    finally:
        h.automine(True)
