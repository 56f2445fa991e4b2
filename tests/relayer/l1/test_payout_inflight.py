"""Payout batches against deep finality, and transactions a node dropped from its pool (real anvil).

The pay stage limits batches *not mined yet*; mined batches waiting for finality must not hold the
slots (12+ confirmations, or the ``finalized`` tag, would make a large distribution finality-bound),
yet their leaves must never be offered again, including after a reorg returns a batch to pending."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace

from sqlalchemy import select
from web3 import Web3

from relayer.exocore.grpc_client import ExocoreGrpcClient
from relayer.l1.gateway import GatewayClient
from relayer.l1.txmanager import REBROADCAST_AFTER_BLOCKS, TxManager
from relayer.pipeline import jobs
from relayer.pipeline.jobs import Backoff
from relayer.pipeline.stages import MAX_INFLIGHT_PAYOUT_TXS, CycleReport, Pipeline, PipelineSettings
from relayer.protocol.merkle import DistributionTree
from relayer.protocol.packets import FundingMode
from storage.l1_tables import IntentState, tx_intent_table
from storage.lifecycle import Chain
from storage.records import ChainRef, DistributionCreated, DistributionLeaves, LeafInfo
from tests.support.l1_contracts import (
    claim_call,
    distribution_payload,
    distribution_tree,
    fresh_addresses,
    transact,
)
from tests.support.txmanager import DEFAULT_SETTINGS, OUTSIDER_ACCOUNT, Harness, dead_url, valset_update

DEEP_CONFIRMATIONS = 20
"""Deeper than the whole test's chain growth: nothing it mines becomes final."""
LEAVES = MAX_INFLIGHT_PAYOUT_TXS + 4
ONE_LEAF_GAS_BUDGET = 150_000
"""A payout gas budget that fits exactly one leaf per batch: one batch per leaf."""
TREE_ORDER_LEAVES = 40
SEVERAL_LEAVES_GAS_BUDGET = 400_000
"""Fits 7-8 leaves per batch: 40 leaves make 5-6 batches, all queued in one cycle."""


def payout_intents(h: Harness) -> list[tuple[str, tuple[int, ...]]]:
    i = tx_intent_table
    with h.engine.connect() as conn:
        rows = conn.execute(
            select(i.c.state, i.c.leaf_indices).where(i.c.purpose == "payout").order_by(i.c.id)
        ).all()
    return [(str(r.state), tuple(int(x) for x in r.leaf_indices)) for r in rows]


def distribution_on_l1(
    h: Harness, manager: TxManager, leaves: int, *, nonce: int, seed: int, gas_budget: int
) -> tuple[bytes, DistributionTree, Pipeline]:
    """A MINT distribution of ``leaves`` fresh stakers: indexed as the Exocore ingestor records it,
    its root delivered on L1, its payout job added, and a pipeline holding its tree (as prepare()
    leaves it; Exocore is never asked). Returns (distribution id, tree, pipeline)."""
    tree = distribution_tree(fresh_addresses(leaves, seed=seed), list(range(1, leaves + 1)))
    payload = distribution_payload(
        tree, token=h.system.deployment.reward_token, funding=FundingMode.MINT, avs=h.system.accounts[4]
    )
    packet, calldata = h.packet_calldata(payload, nonce=nonce)
    dist_hex = "0x" + packet.distribution_id.hex()
    with h.store.begin() as stx:  # what the Exocore ingestor records for the distribution
        ref = ChainRef(Chain.EXOCORE, h.clock(), 10, "0x" + "ab" * 32)
        stx.apply_exocore_event(
            DistributionCreated(
                distribution_id=dist_hex,
                nonce=nonce,
                claim_id="0x" + f"{seed:02x}" * 32,
                avs=h.system.accounts[4],
                epoch=payload.epoch,
                token=h.system.deployment.reward_token,
                funding=1,
                total=sum(leaf.amount for leaf in tree.leaves),
                leaf_count=leaves,
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
        jobs.add_payout_job(stx.conn, distribution_id=dist_hex, nonce=nonce, leaf_count=leaves, now=h.clock())
    h.enqueue(
        manager, f"packet:{nonce}", "distribution", calldata, packet_nonce=nonce, distribution_id=dist_hex
    )
    manager.tick()  # automine: signed, sent and mined
    manager.tick()
    (root,) = [r for r in h.intents() if r.purpose == "distribution"]
    assert root.state == IntentState.INCLUDED.value
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
            payout_gas_budget=gas_budget,
        ),
        clock=h.clock,
    )
    pipeline._remember_tree(dist_hex, tree)  # stands in for prepare()'s fetch
    return packet.distribution_id, tree, pipeline


def test_mined_batches_awaiting_deep_finality_do_not_hold_the_inflight_slots(h: Harness) -> None:
    manager = h.manager(replace(DEFAULT_SETTINGS, confirmations=DEEP_CONFIRMATIONS))
    distribution_id, _tree, pipeline = distribution_on_l1(
        h, manager, LEAVES, nonce=23, seed=71, gas_budget=ONE_LEAF_GAS_BUDGET
    )
    assert pipeline.settings.leaves_per_payout_tx == 1

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
    assert all(gateway.is_paid(distribution_id, i) for i in range(LEAVES))


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


def test_batches_are_cut_in_tree_order_so_each_multiproof_is_about_one_path(h: Harness) -> None:
    # Leaves sorted by hash (OZ): consecutive *indices* are scattered over the tree, and a batch of
    # them needs a proof node for nearly every leaf (3.8k calldata gas per leaf at 10k leaves).
    # Batches of consecutive tree positions need about one path each.
    manager = h.manager()
    distribution_id, tree, pipeline = distribution_on_l1(
        h, manager, TREE_ORDER_LEAVES, nonce=31, seed=83, gas_budget=SEVERAL_LEAVES_GAS_BUDGET
    )
    size = pipeline.settings.leaves_per_payout_tx
    assert 1 < size < TREE_ORDER_LEAVES
    report = CycleReport()
    pipeline.pay(report)
    batches = [leaves for _state, leaves in payout_intents(h)]
    assert report.payout_batches == len(batches) == math.ceil(TREE_ORDER_LEAVES / size)
    # Every batch is the next run of tree positions (heap positions descending: multiproof order).
    positions = [[tree.tree_position(index) for index in batch] for batch in batches]
    leaf_positions = list(range(2 * TREE_ORDER_LEAVES - 2, TREE_ORDER_LEAVES - 2, -1))
    assert [p for batch in positions for p in batch] == leaf_positions
    depth = math.ceil(math.log2(TREE_ORDER_LEAVES))
    assert all(len(tree.multiproof(batch).proof) <= depth for batch in batches)
    manager.sign_new()
    h.settle(manager)
    gateway = GatewayClient(h.client, h.system.deployment.gateway)
    assert all(gateway.is_paid(distribution_id, i) for i in range(TREE_ORDER_LEAVES))


def test_a_claim_landing_before_its_batch_neither_fails_the_batch_nor_pays_twice(h: Harness) -> None:
    # Why the pay stage has no LeafAlreadyPaid handling: a staker's own claim mined between the
    # relayer queueing a batch and the batch landing is skipped by payout, which pays the rest.
    manager = h.manager()
    distribution_id, tree, pipeline = distribution_on_l1(
        h, manager, TREE_ORDER_LEAVES, nonce=37, seed=89, gas_budget=SEVERAL_LEAVES_GAS_BUDGET
    )
    pipeline.pay(CycleReport())  # queued, not signed yet
    batches = [leaves for _state, leaves in payout_intents(h)]
    claimed = batches[0][3]
    outsider = h.system.accounts[OUTSIDER_ACCOUNT]
    transact(h.system, claim_call(h.system, distribution_id, tree, claimed), sender=outsider)
    manager.sign_new()
    h.settle(manager)
    assert [state for state, _ in payout_intents(h)] == [IntentState.FINALIZED.value] * len(batches)
    gateway = GatewayClient(h.client, h.system.deployment.gateway)
    assert all(gateway.is_paid(distribution_id, i) for i in range(TREE_ORDER_LEAVES))
    token = h.system.reward_token
    for index in range(TREE_ORDER_LEAVES):  # minted exactly once each, the claimed leaf included
        leaf = tree.leaf(index)
        staker = Web3.to_checksum_address("0x" + leaf.staker.hex())
        assert token.functions.balanceOf(staker).call() == leaf.amount
    report = CycleReport()
    pipeline.pay(report)  # nothing is offered again while the L1 ingestor has not finalized them
    assert report.payout_batches == 0
