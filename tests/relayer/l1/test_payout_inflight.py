"""Payout batches against deep finality, and transactions a node dropped from its pool (real anvil).

The pay stage limits batches *not mined yet*; mined batches waiting for finality must not hold the
slots (12+ confirmations, or the ``finalized`` tag, would make a large distribution finality-bound),
yet their leaves must never be offered again, including after a reorg returns a batch to pending."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from sqlalchemy import select

from relayer.exocore.grpc_client import ExocoreGrpcClient
from relayer.l1.gateway import GatewayClient
from relayer.l1.txmanager import REBROADCAST_AFTER_BLOCKS
from relayer.pipeline import jobs
from relayer.pipeline.jobs import Backoff
from relayer.pipeline.stages import MAX_INFLIGHT_PAYOUT_TXS, CycleReport, Pipeline, PipelineSettings
from relayer.protocol.packets import FundingMode
from storage.l1_tables import IntentState, tx_intent_table
from storage.lifecycle import Chain
from storage.records import ChainRef, DistributionCreated, DistributionLeaves, LeafInfo
from tests.support.l1_contracts import distribution_payload, distribution_tree, fresh_addresses
from tests.support.txmanager import DEFAULT_SETTINGS, Harness, dead_url, valset_update

DEEP_CONFIRMATIONS = 20
"""Deeper than the whole test's chain growth: nothing it mines becomes final."""
LEAVES = MAX_INFLIGHT_PAYOUT_TXS + 4
ONE_LEAF_GAS_BUDGET = 150_000
"""A payout gas budget that fits exactly one leaf per batch: one batch per leaf."""


def payout_intents(h: Harness) -> list[tuple[str, tuple[int, ...]]]:
    i = tx_intent_table
    with h.engine.connect() as conn:
        rows = conn.execute(
            select(i.c.state, i.c.leaf_indices).where(i.c.purpose == "payout").order_by(i.c.id)
        ).all()
    return [(str(r.state), tuple(int(x) for x in r.leaf_indices)) for r in rows]


def test_mined_batches_awaiting_deep_finality_do_not_hold_the_inflight_slots(h: Harness) -> None:
    manager = h.manager(replace(DEFAULT_SETTINGS, confirmations=DEEP_CONFIRMATIONS))
    tree = distribution_tree(fresh_addresses(LEAVES, seed=71), list(range(1, LEAVES + 1)))
    payload = distribution_payload(
        tree, token=h.system.deployment.reward_token, funding=FundingMode.MINT, avs=h.system.accounts[4]
    )
    packet, calldata = h.packet_calldata(payload, nonce=23)
    dist_hex = "0x" + packet.distribution_id.hex()
    with h.store.begin() as stx:  # what the Exocore ingestor records for the distribution
        ref = ChainRef(Chain.EXOCORE, h.clock(), 10, "0x" + "ab" * 32)
        stx.apply_exocore_event(
            DistributionCreated(
                distribution_id=dist_hex,
                nonce=23,
                claim_id="0x" + "12" * 32,
                avs=h.system.accounts[4],
                epoch=payload.epoch,
                token=h.system.deployment.reward_token,
                funding=1,
                total=sum(leaf.amount for leaf in tree.leaves),
                leaf_count=LEAVES,
                merkle_root="0x" + tree.root.hex(),
            ),
            ref,
        )
        stx.apply_exocore_event(
            DistributionLeaves(
                distribution_id=dist_hex,
                leaves=tuple(
                    LeafInfo(leaf.index, "0x" + leaf.staker.hex(), leaf.amount) for leaf in tree.leaves
                ),
            ),
            ref,
        )
        jobs.add_payout_job(stx.conn, distribution_id=dist_hex, nonce=23, leaf_count=LEAVES, now=h.clock())
    h.enqueue(manager, "packet:23", "distribution", calldata, packet_nonce=23, distribution_id=dist_hex)
    manager.tick()  # automine: signed, sent and mined
    manager.tick()
    (root,) = [r for r in h.intents() if r.purpose == "distribution"]
    assert root.state == IntentState.INCLUDED.value

    # Exocore is never asked: the tree the pipeline would fetch is handed over as prepare() does.
    grpc = ExocoreGrpcClient([dead_url().removeprefix("http://")], chain_id="unused")
    pipeline = Pipeline(
        h.engine,
        h.store,
        grpc,
        GatewayClient(h.client, h.system.deployment.gateway),
        manager,
        settings=PipelineSettings(
            l1_chain_id=h.system.deployment.chain_id,
            backoff=Backoff(base_s=1.0, max_s=10.0),
            payout_gas_budget=ONE_LEAF_GAS_BUDGET,
        ),
        clock=h.clock,
    )
    assert pipeline.settings.leaves_per_payout_tx == 1
    pipeline._remember_tree(dist_hex, tree)  # stands in for prepare()'s fetch

    h.automine(False)
    snapshot = None
    for _ in range(4):  # cycles: pay, sign and send, one block, receipts
        pipeline.pay(CycleReport())
        manager.sign_new()
        if snapshot is None and any(state == IntentState.INCLUDED.value for state, _ in payout_intents(h)):
            snapshot = h.system.node.snapshot()  # before the block of the batches after the first 8
        h.mine()
        manager.tick()
    intents = payout_intents(h)
    # More than MAX_INFLIGHT_PAYOUT_TXS batches mined while none of them is final: the mined ones did
    # not hold the slots (the old limit stopped at 8 until the first became final, 20 blocks later).
    assert [state for state, _ in intents] == [IntentState.INCLUDED.value] * LEAVES
    assert sorted(x for _, leaves in intents for x in leaves) == list(range(LEAVES))

    # The block holding the last batches is orphaned: they are pending again (slots are free), and
    # their leaves must not be offered a second time.
    assert snapshot is not None
    h.system.node.revert(snapshot)
    h.mine()
    manager.check_included()
    states = Counter(state for state, _ in payout_intents(h))
    assert states[IntentState.PENDING.value] == LEAVES - MAX_INFLIGHT_PAYOUT_TXS
    report = CycleReport()
    pipeline.pay(report)
    assert report.payout_batches == 0 and len(payout_intents(h)) == LEAVES
    for _ in range(3):
        manager.tick()
        h.mine()
    manager.tick()
    intents = payout_intents(h)
    assert [state for state, _ in intents] == [IntentState.INCLUDED.value] * LEAVES
    assert Counter(x for _, leaves in intents for x in leaves) == Counter(range(LEAVES))
    gateway = GatewayClient(h.client, h.system.deployment.gateway)
    assert all(gateway.is_paid(packet.distribution_id, i) for i in range(LEAVES))


def test_a_transaction_dropped_from_the_pool_is_sent_again_after_blocks(h: Harness) -> None:
    manager = h.manager()
    h.automine(False)
    intent_id = h.enqueue(manager, "packet:29", "valset_update", valset_update(h, nonce=29))
    assert manager.tick().signed == 1
    (attempt,) = h.attempts(intent_id)
    h.system.node.rpc("anvil_dropTransaction", [attempt.tx_hash])  # the node forgot it
    h.mine()
    assert manager.tick().rebroadcast == 0  # first seen unmined: the count starts
    for _ in range(REBROADCAST_AFTER_BLOCKS - 1):
        h.mine()
        assert manager.tick().rebroadcast == 0
    h.mine()
    report = manager.tick()
    assert report.rebroadcast == 1 and report.bumped == 0  # the same bytes, not a fee bump
    h.mine()
    assert manager.tick().included == 1
    view = h.intent(manager, intent_id)
    assert view.state is IntentState.INCLUDED and view.tx_hash == attempt.tx_hash
    assert len(h.attempts(intent_id)) == 1
