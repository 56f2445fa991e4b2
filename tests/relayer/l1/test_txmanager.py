"""The transaction manager on a real anvil and a real database: delivery, already-done, reverts, fee
replacement and its cap, crash safety, nonces consumed elsewhere, reorgs, failover, lack of funds."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from eth_account import Account
from eth_typing import HexStr
from hexbytes import HexBytes
from sqlalchemy import select, text
from web3 import Web3
from web3.types import TxReceipt

from indexer.ingest.l1 import L1Contracts, L1Ingestor, Web3L1Source
from relayer.config import FinalityMode
from relayer.l1.client import L1Client
from relayer.l1.errors import UnknownIntentError
from relayer.l1.gateway import GatewayClient, encode_payout_call
from relayer.l1.txmanager import REASON_FEE_CAP, REASON_INSUFFICIENT_FUNDS, TxManager
from relayer.protocol.packets import FundingMode
from storage.l1_tables import AttemptState, IntentState, signer_account_table
from storage.lifecycle import Chain, L1TxState
from storage.models import payout_table, transition_table
from storage.records import ChainRef, DistributionCreated, DistributionLeaves, LeafInfo
from tests.support.l1_contracts import (
    distribution_payload,
    distribution_tree,
    events_of,
    fresh_addresses,
)
from tests.support.txmanager import (
    DEFAULT_SETTINGS,
    OUTSIDER_ACCOUNT,
    Harness,
    dead_url,
    new_set,
    valset_update,
)


def receipt_of(h: Harness, tx_hash: str | None) -> TxReceipt:
    assert tx_hash is not None
    return h.system.w3.eth.get_transaction_receipt(HexStr(tx_hash))


def send_outside(h: Harness, nonce: int, *, max_fee: int = 10**11, tip: int = 10**9) -> HexBytes:
    """A plain transfer signed with the relayer's key but not by its manager (another process, a human)."""
    signed = h.account.sign_transaction(
        {
            "to": h.system.accounts[OUTSIDER_ACCOUNT],
            "value": 1,
            "nonce": nonce,
            "gas": 21000,
            "maxFeePerGas": max_fee,
            "maxPriorityFeePerGas": tip,
            "chainId": h.system.deployment.chain_id,
        }
    )
    return h.system.w3.eth.send_raw_transaction(signed.raw_transaction)


def next_nonce(h: Harness) -> int:
    with h.engine.connect() as conn:
        return int(conn.execute(select(signer_account_table.c.next_nonce)).scalar_one())


def test_valset_update_delivered_included_then_finalized(h: Harness) -> None:
    client = L1Client([dead_url(), h.system.node.rpc_url], chain_id=31337, timeout_s=5)
    manager = h.manager(client=client)
    start_nonce = h.system.w3.eth.get_transaction_count(h.account.address)
    intent_id = h.enqueue(manager, "packet:1", "valset_update", valset_update(h, nonce=1), packet_nonce=1)
    assert h.enqueue(manager, "packet:1", "valset_update", b"other") == intent_id  # idempotent on key
    assert manager.pending_count() == 1

    report = manager.tick()
    assert (report.signed, report.broadcast) == (1, 1)
    view = h.intent(manager, intent_id)
    assert view.state is IntentState.PENDING and view.tx_nonce == start_nonce
    assert client.failover_count == 1  # the first URL is dead
    assert h.l1_tx_state(view.tx_hash) == L1TxState.BROADCAST

    report = manager.tick()  # automine: already mined
    assert report.included == 1
    view = h.intent(manager, intent_id)
    assert view.state is IntentState.INCLUDED and view.block_number is not None and view.gas_used
    receipt = receipt_of(h, view.tx_hash)
    (event,) = events_of(h.system.gateway.events.ValsetUpdated, receipt)
    assert event["args"]["valsetNonce"] == 2
    assert h.l1_tx_state(view.tx_hash) == L1TxState.INCLUDED
    assert [step[1] for step in h.l1_tx_history(view.tx_hash)] == ["signed", "broadcast", "included"]

    h.mine(1)
    assert manager.tick().finalized == 0  # 1 block on top < 2 confirmations
    h.mine(1)
    assert manager.tick().finalized == 1
    view = h.intent(manager, intent_id)
    assert view.state is IntentState.FINALIZED and view.done
    assert manager.pending_count() == 0
    assert next_nonce(h) == start_nonce + 1
    assert manager.tick().idle


def test_distribution_then_payout_batch(h: Harness) -> None:
    manager = h.manager()
    stakers = fresh_addresses(6, seed=21)
    tree = distribution_tree(stakers, [10, 20, 30, 40, 50, 60])
    payload = distribution_payload(
        tree, token=h.system.deployment.reward_token, funding=FundingMode.MINT, avs=h.system.accounts[4]
    )
    packet, calldata = h.packet_calldata(payload, nonce=3)
    dist_hex = "0x" + packet.distribution_id.hex()
    root_id = h.enqueue(
        manager, "packet:3", "distribution", calldata, packet_nonce=3, distribution_id=dist_hex
    )
    h.settle(manager)
    view = h.intent(manager, root_id)
    assert view.state is IntentState.FINALIZED
    receipt = receipt_of(h, view.tx_hash)
    (event,) = events_of(h.system.gateway.events.DistributionSubmitted, receipt)
    assert event["args"]["distributionId"] == packet.distribution_id

    indices = [0, 2, 3, 5]
    multi = tree.multiproof(indices)
    payout = encode_payout_call(packet.distribution_id, multi.leaves, multi.proof, multi.proof_flags)
    payout_id = h.enqueue(
        manager, f"payout:{dist_hex}:0", "payout", payout, distribution_id=dist_hex, leaf_indices=indices
    )
    h.settle(manager)
    view = h.intent(manager, payout_id)
    assert view.state is IntentState.FINALIZED and view.leaf_indices == tuple(indices)
    receipt = receipt_of(h, view.tx_hash)
    paid = events_of(h.system.gateway.events.RewardPaid, receipt)
    assert sorted(e["args"]["index"] for e in paid) == indices
    gateway = GatewayClient(h.client, h.system.deployment.gateway)
    assert [gateway.is_paid(packet.distribution_id, i) for i in range(6)] == [
        True,
        False,
        True,
        True,
        False,
        True,
    ]

    # The same leaves again: the gateway skips paid leaves, so the batch is mined and pays nobody
    # (no RewardPaid event: nothing for the indexer to record twice).
    again = h.enqueue(
        manager, f"payout:{dist_hex}:1", "payout", payout, distribution_id=dist_hex, leaf_indices=indices
    )
    h.settle(manager)
    view = h.intent(manager, again)
    assert view.state is IntentState.FINALIZED
    assert events_of(h.system.gateway.events.RewardPaid, receipt_of(h, view.tx_hash)) == []


def test_same_packet_twice_is_already_done(h: Harness) -> None:
    manager = h.manager()
    calldata = valset_update(h, nonce=4)
    first = h.enqueue(manager, "packet:4", "valset_update", calldata)
    second = h.enqueue(manager, "packet:4:retry", "valset_update", calldata)
    # Both signed before either is sent (a crash right after the commits): the second is mined after
    # the first and reverts.
    assert manager.sign_queued(broadcast=False).signed == 2
    report = manager.tick()
    assert report.broadcast == 2
    report = manager.tick()
    assert (report.included, report.already_done) == (1, 1)
    assert h.intent(manager, first).state is IntentState.INCLUDED
    view = h.intent(manager, second)
    # A delivered valset update replayed reverts StaleValset (its signers were just replaced); the
    # packet nonce being used on L1 is what says the effect is there.
    assert view.state is IntentState.ALREADY_DONE and view.reason_code == "StaleValset"
    assert "packet nonce 4 already used" in (view.reason or "")
    assert view.done and view.block_number is not None
    (attempt,) = h.attempts(second)
    assert attempt.state == AttemptState.REVERTED
    assert h.l1_tx_state(view.tx_hash) == L1TxState.REVERTED
    assert receipt_of(h, view.tx_hash)["status"] == 0

    # A distribution enqueued again after it is on chain: the simulation already says so (the
    # default already-done name NonceAlreadyUsed); nothing is signed.
    tree = distribution_tree(fresh_addresses(2, seed=4), [5, 6])
    payload = distribution_payload(
        tree, token=h.system.deployment.reward_token, funding=FundingMode.MINT, avs=h.system.accounts[4]
    )
    _, submit = h.packet_calldata(payload, nonce=5, valset=new_set())
    h.enqueue(manager, "packet:5", "distribution", submit)
    manager.tick()
    late = h.enqueue(manager, "packet:5:late", "distribution", submit)
    report = manager.tick()
    assert report.already_done == 1 and report.signed == 0
    view = h.intent(manager, late)
    assert (view.state, view.reason_code, view.tx_hash) == (
        IntentState.ALREADY_DONE,
        "NonceAlreadyUsed",
        None,
    )


def test_simulated_revert_fails_with_decoded_name(h: Harness) -> None:
    manager = h.manager()
    no_quorum = h.enqueue(
        manager, "packet:5", "valset_update", valset_update(h, nonce=5, signers=[0, 1, 2, 3])
    )
    stale = h.enqueue(manager, "packet:6", "valset_update", valset_update(h, nonce=6, valset_nonce=9))
    report = manager.tick()
    assert report.failed == 2 and report.signed == 0
    view = h.intent(manager, no_quorum)
    assert (view.state, view.reason_code, view.reason) == (
        IntentState.FAILED, "InsufficientQuorum", "InsufficientQuorum(40, 60)"
    )  # fmt: skip
    view = h.intent(manager, stale)
    assert (view.reason_code, view.reason) == ("UnknownValset", "UnknownValset(9)")
    assert manager.pending_count() == 0
    with h.engine.connect() as conn:  # no nonce was taken
        assert conn.execute(select(signer_account_table)).first() is None


def test_fee_replacement_with_automine_off(h: Harness) -> None:
    manager = h.manager()
    h.automine(False)
    intent_id = h.enqueue(manager, "packet:7", "valset_update", valset_update(h, nonce=7))
    assert manager.tick().broadcast == 1
    h.clock.advance(DEFAULT_SETTINGS.fee_bump_after_s - 1)
    assert manager.tick().bumped == 0  # not due yet
    h.clock.advance(2)
    report = manager.tick()
    assert (report.bumped, report.broadcast) == (1, 1)
    first, second = h.attempts(intent_id)
    assert first.tx_nonce == second.tx_nonce
    assert second.max_fee_per_gas * 8 >= first.max_fee_per_gas * 9
    assert second.max_priority_fee_per_gas * 8 >= first.max_priority_fee_per_gas * 9
    assert h.l1_tx_state(first.tx_hash) == L1TxState.REPLACED
    assert h.intent(manager, intent_id).attempts == 2

    h.mine(1)
    assert manager.tick().included == 1
    view = h.intent(manager, intent_id)
    assert view.tx_hash == second.tx_hash
    first, second = h.attempts(intent_id)
    assert (first.state, second.state) == (AttemptState.REPLACED, AttemptState.INCLUDED)
    assert h.system.w3.eth.get_transaction_receipt(second.tx_hash)["status"] == 1
    assert h.client.get_receipt(first.tx_hash) is None
    assert h.l1_tx_state(second.tx_hash) == L1TxState.INCLUDED


def test_fee_cap_blocks_the_bump_and_says_why(h: Harness) -> None:
    manager = h.manager(replace(DEFAULT_SETTINGS, max_fee_multiplier=1.0))
    h.automine(False)
    intent_id = h.enqueue(manager, "packet:8", "valset_update", valset_update(h, nonce=8))
    manager.tick()
    h.clock.advance(DEFAULT_SETTINGS.fee_bump_after_s + 1)
    report = manager.tick()
    assert (report.bumped, report.fee_capped) == (0, 1)
    view = h.intent(manager, intent_id)
    assert view.state is IntentState.PENDING and view.reason_code == REASON_FEE_CAP
    assert "cap" in (view.reason or "")
    assert len(h.attempts(intent_id)) == 1
    assert manager.tick().fee_capped == 0  # the rebroadcast restarted the timer: no re-check every tick
    h.mine(1)
    manager.tick()
    view = h.intent(manager, intent_id)
    assert view.state is IntentState.INCLUDED and view.tx_hash == h.attempts(intent_id)[0].tx_hash


def test_crash_between_commit_and_broadcast(h: Harness) -> None:
    crashed = h.manager()
    start = h.system.w3.eth.get_transaction_count(h.account.address)
    ids = [
        h.enqueue(crashed, f"packet:{n}", "valset_update", valset_update(h, nonce=n, to=new_set(seed=n)))
        for n in (10, 11, 12)
    ]
    assert crashed.sign_queued(broadcast=False).signed == 3  # committed, never sent: the process dies here
    signed = {i: h.attempts(i)[0] for i in ids}
    assert [signed[i].tx_nonce for i in ids] == [start, start + 1, start + 2]
    assert h.system.w3.eth.get_transaction_count(h.account.address, "pending") == start

    restarted = h.manager()
    report = restarted.tick()
    assert (report.signed, report.broadcast) == (0, 3)
    for intent_id in ids:
        (attempt,) = h.attempts(intent_id)
        assert attempt.tx_hash == signed[intent_id].tx_hash and attempt.state == AttemptState.BROADCAST
        raw = h.system.w3.eth.get_raw_transaction(attempt.tx_hash)
        assert "0x" + bytes(raw).hex() == signed[intent_id].raw_tx
    restarted.tick()
    # The first packet rotates the set to nonce 2; the next two were signed by set 1: stale now.
    states = [h.intent(restarted, i).state for i in ids]
    # (the first is already 2 blocks deep: automine mined one block per transaction)
    assert states == [IntentState.FINALIZED, IntentState.FAILED, IntentState.FAILED]
    assert h.intent(restarted, ids[1]).reason_code == "StaleValset"
    assert h.system.w3.eth.get_transaction_count(h.account.address) == start + 3
    assert next_nonce(h) == start + 3


def test_sign_new_sends_what_a_crash_left_unsent_before_signing_what_was_just_queued(h: Harness) -> None:
    crashed = h.manager()
    start = h.system.w3.eth.get_transaction_count(h.account.address)
    first = h.enqueue(crashed, "packet:30", "valset_update", valset_update(h, nonce=30, to=new_set()))
    assert crashed.sign_queued(broadcast=False).signed == 1  # committed, never sent
    # Signed by the set the first one installs: its simulation only passes once the first is out.
    second = h.enqueue(
        crashed,
        "packet:31",
        "valset_update",
        valset_update(h, nonce=31, to=new_set(3, seed=31), signed_by=new_set(), valset_nonce=2),
    )
    report = h.manager().sign_new()
    assert (report.signed, report.failed) == (1, 0)
    assert [h.attempts(i)[0].tx_nonce for i in (first, second)] == [start, start + 1]
    assert h.system.w3.eth.get_transaction_count(h.account.address) == start + 2
    for intent_id in (first, second):
        assert receipt_of(h, h.attempts(intent_id)[0].tx_hash)["status"] == 1


def test_nonce_consumed_elsewhere_requeues_with_a_new_nonce(h: Harness) -> None:
    manager = h.manager()
    w3 = h.system.w3

    def outside_tx(nonce: int) -> None:
        w3.eth.wait_for_transaction_receipt(send_outside(h, nonce))

    # Found by the receipt check: the chain's nonce passed ours and none of our attempts was mined.
    first = h.enqueue(manager, "packet:13", "valset_update", valset_update(h, nonce=13))
    manager.sign_queued(broadcast=False)
    (lost,) = h.attempts(first)
    outside_tx(lost.tx_nonce)
    report = manager.tick()
    assert (report.requeued, report.signed, report.broadcast) == (1, 1, 1)
    old, new = h.attempts(first)
    assert old.state == AttemptState.DROPPED and new.tx_nonce == lost.tx_nonce + 1
    assert h.l1_tx_state(old.tx_hash) == L1TxState.DROPPED
    manager.tick()
    view = h.intent(manager, first)
    assert (
        view.state is IntentState.INCLUDED and view.tx_hash == new.tx_hash and view.tx_nonce == new.tx_nonce
    )

    # Found at broadcast ("nonce too low"): consumed after the receipt check, before the send.
    rotation = valset_update(h, nonce=14, to=new_set(valset_nonce=3, seed=3), signed_by=new_set())
    second = h.enqueue(manager, "packet:14", "valset_update", rotation)
    manager.sign_queued(broadcast=False)
    (lost,) = h.attempts(second)
    outside_tx(lost.tx_nonce)
    report = manager.broadcast_signed()
    assert report.requeued == 1 and report.broadcast == 0
    assert h.intent(manager, second).state is IntentState.QUEUED
    h.settle(manager)
    assert h.intent(manager, second).state is IntentState.FINALIZED


def test_reorg_moves_back_to_pending_and_is_included_again(h: Harness) -> None:
    manager = h.manager(replace(DEFAULT_SETTINGS, confirmations=5))
    snapshot = h.system.node.snapshot()
    intent_id = h.enqueue(manager, "packet:15", "valset_update", valset_update(h, nonce=15))
    manager.tick()
    assert manager.tick().included == 1
    before = h.intent(manager, intent_id)

    h.system.node.revert(snapshot)  # the block holding the tx is orphaned...
    h.mine(1)  # ...and another block takes its height
    assert before.tx_hash is not None and h.client.get_receipt(before.tx_hash) is None
    report = manager.tick()
    assert report.reorged == 1 and report.broadcast == 1  # the same bytes, sent again
    view = h.intent(manager, intent_id)
    assert view.state is IntentState.PENDING and "reorg" in (view.reason or "")
    manager.tick()
    after = h.intent(manager, intent_id)
    assert after.state is IntentState.INCLUDED and after.tx_hash == before.tx_hash
    assert after.block_hash != before.block_hash
    (attempt,) = h.attempts(intent_id)
    assert attempt.state == AttemptState.INCLUDED
    history = h.l1_tx_history(before.tx_hash)
    assert history == [
        (None, "signed", "forward"),
        ("signed", "broadcast", "forward"),
        ("broadcast", "included", "forward"),
        ("included", "broadcast", "reversal"),
        ("broadcast", "included", "forward"),
    ]
    h.mine(5)
    assert manager.tick().finalized == 1


def test_finalized_tag_mode(h: Harness) -> None:
    manager = h.manager(replace(DEFAULT_SETTINGS, finality=FinalityMode.FINALIZED_TAG))
    intent_id = h.enqueue(manager, "packet:16", "valset_update", valset_update(h, nonce=16))
    manager.tick()
    manager.tick()
    h.mine(10)
    assert manager.tick().finalized == 0  # anvil's finalized tag trails the head by 64 blocks
    h.mine(64)
    assert manager.tick().finalized == 1
    assert h.intent(manager, intent_id).state is IntentState.FINALIZED


def test_insufficient_funds_waits_then_proceeds(h: Harness) -> None:
    poor = Account.create()
    manager = TxManager(h.engine, h.client, poor, DEFAULT_SETTINGS, store=h.store, clock=h.clock)
    intent_id = h.enqueue(manager, "packet:17", "valset_update", valset_update(h, nonce=17))
    report = manager.tick()
    assert (report.signed, report.broadcast, report.insufficient_funds) == (1, 0, 1)
    assert any("cannot pay" in error for error in report.errors)
    view = h.intent(manager, intent_id)
    assert view.state is IntentState.PENDING and view.reason_code == REASON_INSUFFICIENT_FUNDS
    assert manager.tick().insufficient_funds == 1  # still waiting; the signed bytes are kept
    h.system.node.rpc("anvil_setBalance", [poor.address, hex(10**18)])
    assert manager.tick().broadcast == 1
    manager.tick()
    view = h.intent(manager, intent_id)
    assert view.state is IntentState.INCLUDED and view.reason_code is None
    assert len(h.attempts(intent_id)) == 1


def test_cancel_and_unknown_intent(h: Harness) -> None:
    manager = h.manager()
    intent_id = h.enqueue(manager, "packet:18", "valset_update", valset_update(h, nonce=18))
    with h.engine.begin() as conn:
        assert manager.cancel(conn, intent_id)
        assert not manager.cancel(conn, intent_id)
    assert manager.tick().signed == 0
    assert h.intent(manager, intent_id).state is IntentState.CANCELLED
    with pytest.raises(UnknownIntentError, match="999"):
        h.intent(manager, 999)
    assert Web3.is_address(manager.sender) and manager.sender == manager.sender.lower()


def test_payout_requeue_returns_leaves_to_the_indexer_queue(h: Harness) -> None:
    """The indexer mirror of a payout batch: leaves submitted with the tx, owed again when its nonce is
    lost, submitted again with the new tx."""
    manager = h.manager()
    stakers = fresh_addresses(4, seed=31)
    tree = distribution_tree(stakers, [7, 8, 9, 10])
    payload = distribution_payload(
        tree, token=h.system.deployment.reward_token, funding=FundingMode.MINT, avs=h.system.accounts[4]
    )
    packet, calldata = h.packet_calldata(payload, nonce=19)
    dist_hex = "0x" + packet.distribution_id.hex()
    with h.store.begin() as stx:
        ref = ChainRef(Chain.EXOCORE, h.clock(), 10, "0x" + "ab" * 32)
        created = DistributionCreated(
            distribution_id=dist_hex,
            nonce=19,
            claim_id="0x" + "11" * 32,
            avs=h.system.accounts[4],
            epoch=payload.epoch,
            token=h.system.deployment.reward_token,
            funding=1,
            total=34,
            leaf_count=4,
            merkle_root="0x" + tree.root.hex(),
        )
        stx.apply_exocore_event(created, ref)
        stx.apply_exocore_event(
            DistributionLeaves(
                distribution_id=dist_hex,
                leaves=tuple(
                    LeafInfo(leaf.index, "0x" + leaf.staker.hex(), leaf.amount) for leaf in tree.leaves
                ),
            ),
            ref,
        )
    h.enqueue(manager, "packet:19", "distribution", calldata, packet_nonce=19, distribution_id=dist_hex)
    h.settle(manager)

    multi = tree.multiproof([0, 1, 2, 3])
    batch = encode_payout_call(packet.distribution_id, multi.leaves, multi.proof, multi.proof_flags)
    payout_id = h.enqueue(
        manager, "payout:19:0", "payout", batch, distribution_id=dist_hex, leaf_indices=[0, 1, 2, 3]
    )
    manager.sign_queued(broadcast=False)
    (lost,) = h.attempts(payout_id)
    assert payout_rows(h, dist_hex) == [("submitted", lost.tx_hash)] * 4

    send_outside(h, lost.tx_nonce)
    report = manager.tick()
    assert (report.requeued, report.signed) == (1, 1)
    _, resent = h.attempts(payout_id)
    assert payout_rows(h, dist_hex) == [("submitted", resent.tx_hash)] * 4
    with h.engine.connect() as conn:
        t = transition_table
        moves = conn.execute(
            select(t.c.from_state, t.c.to_state, t.c.edge)
            .where(t.c.entity_kind == "payout", t.c.entity_id == f"{dist_hex}:0")
            .order_by(t.c.id)
        ).all()
    assert [tuple(m) for m in moves] == [
        (None, "pending", "forward"),
        ("pending", "submitted", "forward"),
        ("submitted", "pending", "retry"),
        ("pending", "submitted", "forward"),
    ]
    assert h.l1_tx_state(lost.tx_hash) == L1TxState.DROPPED
    manager.tick()
    assert h.intent(manager, payout_id).state in (IntentState.INCLUDED, IntentState.FINALIZED)


def payout_rows(h: Harness, distribution_id: str) -> list[tuple[str, str | None]]:
    p = payout_table
    with h.engine.connect() as conn:
        rows = conn.execute(
            select(p.c.state, p.c.l1_tx_hash)
            .where(p.c.distribution_id == distribution_id)
            .order_by(p.c.leaf_index)
        ).all()
    return [(r.state, r.l1_tx_hash) for r in rows]


def test_sigkill_mid_flight_then_restart(h: Harness) -> None:
    """A manager process killed (SIGKILL) while it works; a new one finishes: every packet delivered
    exactly once, one transaction per intent, nonces contiguous."""
    start = h.system.w3.eth.get_transaction_count(h.account.address)
    manager = h.manager()
    ids = []
    for nonce in range(40, 46):
        tree = distribution_tree(fresh_addresses(2, seed=nonce), [nonce, nonce + 1])
        payload = distribution_payload(
            tree, token=h.system.deployment.reward_token, funding=FundingMode.MINT, avs=h.system.accounts[4]
        )
        ids.append(
            h.enqueue(manager, f"packet:{nonce}", "distribution", h.packet_calldata(payload, nonce=nonce)[1])
        )
    with h.engine.connect() as conn:
        postgres = h.engine.dialect.name == "postgresql"
        schema = str(conn.execute(text("SELECT current_schema()")).scalar()) if postgres else "-"
    database_url = h.engine.url.render_as_string(hide_password=False)
    arguments = [database_url, schema, h.system.node.rpc_url, bytes(h.account.key).hex()]
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.relayer.l1.crash_child", *arguments],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[3],
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == b"ready"
        deadline = time.monotonic() + 60
        while sum(len(h.attempts(i)) for i in ids) < 3:  # mid-flight: some sent, some not yet signed
            assert time.monotonic() < deadline, "the child made no progress"
            time.sleep(0.005)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    h.settle(h.manager(), ticks=10)
    for nonce, intent_id in zip(range(40, 46), ids, strict=True):
        view = h.intent(manager, intent_id)
        assert view.state is IntentState.FINALIZED, view
        assert len(h.attempts(intent_id)) == 1
        assert GatewayClient(h.client, h.system.deployment.gateway).nonce_used(nonce)
    nonces = sorted(h.attempts(i)[0].tx_nonce for i in ids)
    assert nonces == list(range(start, start + 6))
    assert h.system.w3.eth.get_transaction_count(h.account.address) == start + 6
    assert next_nonce(h) == start + 6


def test_underpriced_replacement_bumps_more_then_lost_nonce_requeues(h: Harness) -> None:
    """Someone holding our key puts a far pricier transaction in the pool at our nonce: our bumps are
    refused as underpriced (each asks more than the last), and once that transaction is mined the intent
    gets a new nonce."""
    manager = h.manager()
    h.automine(False)
    intent_id = h.enqueue(manager, "packet:20", "valset_update", valset_update(h, nonce=20))
    manager.tick()
    (ours,) = h.attempts(intent_id)
    send_outside(
        h, ours.tx_nonce, max_fee=100 * ours.max_fee_per_gas, tip=100 * ours.max_priority_fee_per_gas
    )

    h.clock.advance(DEFAULT_SETTINGS.fee_bump_after_s + 1)
    report = manager.tick()
    assert report.bumped == 1 and any("underpriced" in error for error in report.errors)
    assert h.intent(manager, intent_id).reason_code == "ReplacementUnderpriced"
    report = manager.tick()  # still due (the refused attempt was never live): asks more
    assert report.bumped == 1
    _, second, third = h.attempts(intent_id)
    assert (second.state, third.state) == (AttemptState.DROPPED, AttemptState.DROPPED)
    assert third.max_fee_per_gas * 8 >= second.max_fee_per_gas * 9
    assert h.l1_tx_state(third.tx_hash) == L1TxState.DROPPED

    h.mine(1)  # the rival is mined: our nonce is gone
    report = manager.tick()
    assert (report.requeued, report.signed, report.broadcast) == (1, 1, 1)
    assert h.attempts(intent_id)[0].state == AttemptState.DROPPED
    h.mine(1)
    manager.tick()
    view = h.intent(manager, intent_id)
    assert view.state is IntentState.INCLUDED and view.tx_nonce == ours.tx_nonce + 1


@pytest.mark.parametrize("first_to_see_the_reorg", ["ingestor", "manager"])
def test_indexer_mirror_agrees_with_the_l1_ingestor_through_a_reorg(
    h: Harness, first_to_see_the_reorg: str
) -> None:
    """The manager and the indexer's L1 ingestor both write l1_tx: whichever sees an inclusion or a
    reorg first, the other's write is a no-op and the history stays consistent."""
    manager = h.manager()
    ingestor = L1Ingestor(
        h.store,
        Web3L1Source(h.system.w3),
        L1Contracts.from_deployment(h.system.deployment),
        chain_id=h.system.deployment.chain_id,
        confirmations=2,
        start_block=h.system.deployment.block_number,
    )
    ingestor.sync()
    snapshot = h.system.node.snapshot()
    intent_id = h.enqueue(manager, "packet:21", "valset_update", valset_update(h, nonce=21))
    manager.tick()
    manager.tick()  # the manager records the inclusion first...
    tx_hash = h.intent(manager, intent_id).tx_hash
    ingestor.sync()  # ...the ingestor's sighting of the same log changes nothing
    assert h.l1_tx_state(tx_hash) == L1TxState.INCLUDED

    h.system.node.revert(snapshot)
    h.mine(3)
    if first_to_see_the_reorg == "ingestor":
        ingestor.sync()  # undoes the inclusion...
        assert h.l1_tx_state(tx_hash) == L1TxState.BROADCAST
        assert manager.tick().reorged == 1  # ...so the manager has nothing left to undo; re-sends
        ingestor.sync()  # sees the tx mined again on the new branch
        manager.tick()
    else:
        assert manager.tick().reorged == 1  # undoes the inclusion and re-sends
        assert h.l1_tx_state(tx_hash) == L1TxState.BROADCAST
        manager.tick()  # the manager records the new inclusion...
        ingestor.sync()  # ...and the ingestor's reorg handling finds its undone row already undone
    view = h.intent(manager, intent_id)
    assert view.state is IntentState.INCLUDED and view.tx_hash == tx_hash
    h.mine(3)
    manager.tick()
    ingestor.sync()
    assert h.intent(manager, intent_id).state is IntentState.FINALIZED
    assert h.l1_tx_state(tx_hash) == L1TxState.FINALIZED
    reorg = [("included", "broadcast", "reversal"), ("broadcast", "included", "forward")]
    # Manager first: the ingestor undoes every L1 row above the fork, the manager's row for the new
    # branch included, and records it again from the log: one more (harmless) undo/redo pair.
    reorgs = 1 if first_to_see_the_reorg == "ingestor" else 2
    assert h.l1_tx_history(tx_hash) == [
        (None, "signed", "forward"),
        ("signed", "broadcast", "forward"),
        ("broadcast", "included", "forward"),
        *(reorg * reorgs),
        ("included", "finalized", "forward"),
    ]
