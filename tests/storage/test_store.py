"""The lifecycle store on the configured database: the claim-to-payout path, idempotence, reversal."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from indexer.ingest.exocore import EXOCORE_STREAM, ExocoreIngestor
from indexer.metrics import IngestMetrics
from storage.errors import (
    ChainMismatchError,
    IllegalTransitionError,
    InvariantViolationError,
    StreamHaltedError,
)
from storage.lifecycle import Chain, ClaimState, EdgeKind, EntityKind, L1TxState, PayoutState
from storage.models import (
    claim_table,
    distribution_table,
    metadata,
    payout_table,
    slash_table,
    transition_table,
    violation_table,
)
from storage.normalize import payout_entity_id
from storage.records import (
    ChainRef,
    ClaimRejected,
    ClaimVerified,
    DistributionLeaves,
    ExocoreBlock,
    LeafInfo,
    RewardPaidLog,
    TokenTransferLog,
)
from storage.store import LifecycleStore, uint256_sums
from tests.support.indexer_factory import (
    AVS,
    T0,
    ClaimPlan,
    avs_registered,
    committee,
    h,
    slash_events,
    snapshot,
    staker,
)


def claim_timeline(engine: Engine, claim_id: str) -> list[tuple[Any, ...]]:
    t = transition_table
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.c.from_state, t.c.to_state, t.c.edge, t.c.chain, t.c.height)
            .where(t.c.entity_kind == "claim", t.c.entity_id == claim_id)
            .order_by(t.c.id)
        ).all()
    return [tuple(r) for r in rows]


def payout_states(engine: Engine, distribution_id: str) -> dict[int, str]:
    p = payout_table
    with engine.connect() as conn:
        rows = conn.execute(
            select(p.c.leaf_index, p.c.state).where(p.c.distribution_id == distribution_id)
        ).all()
    return {int(i): str(s) for i, s in rows}


def ingest_claim(store: LifecycleStore, plan: ClaimPlan) -> ExocoreIngestor:
    ingestor = ExocoreIngestor(store)
    chain_blocks = [
        ExocoreBlock(1, h("b1"), T0, (avs_registered(), committee())),
        ExocoreBlock(2, h("b2"), T0 + timedelta(seconds=3), tuple(plan.exocore_events()[:2])),
        ExocoreBlock(3, h("b3"), T0 + timedelta(seconds=6), tuple(plan.exocore_events()[2:])),
    ]
    for block in chain_blocks:
        assert ingestor.apply_block(block, head_height=3)
    return ingestor


def test_claim_moves_from_submission_to_paid_with_every_chain_reference(store: LifecycleStore) -> None:
    plan = ClaimPlan("full")
    ingest_claim(store, plan)
    assert payout_states(store.engine, plan.distribution_id) == dict.fromkeys(range(4), "pending")
    with store.begin() as tx:
        tx.apply_l1_logs([plan.root_log(10)], chain_id=31337)
        tx.apply_l1_logs(plan.paid_logs(11, [0, 1, 2, 3], "pay"), chain_id=31337)
        assert tx.state_of(EntityKind.CLAIM, plan.claim_id) == ClaimState.RELAYED  # root not final yet
        tx.finalize_l1(11, T0 + timedelta(hours=2))
    assert claim_timeline(store.engine, plan.claim_id) == [
        (None, "submitted", "forward", "exocore", 2),
        ("submitted", "verified", "forward", "exocore", 2),
        ("verified", "distributed", "forward", "exocore", 3),
        ("distributed", "packet_created", "forward", "exocore", 3),
        ("packet_created", "attested", "forward", "exocore", 3),
        ("attested", "relayed", "forward", "l1", 10),
        ("relayed", "finalized", "forward", "l1", 10),
        ("finalized", "paying", "forward", "l1", 11),
        ("paying", "paid", "forward", "l1", 11),
    ]
    assert payout_states(store.engine, plan.distribution_id) == dict.fromkeys(range(4), "finalized")
    with store.engine.connect() as conn:
        claim = conn.execute(select(claim_table).where(claim_table.c.claim_id == plan.claim_id)).one()
        payout = conn.execute(
            select(payout_table).where(
                payout_table.c.distribution_id == plan.distribution_id, payout_table.c.leaf_index == 2
            )
        ).one()
        tx_states = dict(
            conn.execute(
                select(transition_table.c.entity_id, transition_table.c.to_state).where(
                    transition_table.c.entity_kind == "l1_tx"
                )
            ).all()
        )
    assert (claim.distribution_id, claim.signed_power, claim.total_amount) == (plan.distribution_id, 60, 1000)
    assert (payout.staker, payout.amount, payout.token) == (staker(2), 300, plan.token)
    assert (payout.l1_tx_hash, payout.l1_block_number, payout.l1_log_index) == (h("l1-tx-pay"), 11, 5)
    assert set(tx_states) == {h("l1-tx-root-full"), h("l1-tx-pay")}


def test_a_block_seen_twice_changes_nothing(store: LifecycleStore) -> None:
    plan = ClaimPlan("twice")
    ingestor = ingest_claim(store, plan)
    before = snapshot(store.engine)
    replay = ExocoreBlock(3, h("b3"), T0 + timedelta(seconds=6), tuple(plan.exocore_events()[2:]))
    assert ingestor.apply_block(replay) is False
    assert snapshot(store.engine) == before
    # The events themselves are idempotent too, even without the cursor's protection.
    with store.begin() as tx:
        for index, event in enumerate(plan.exocore_events()):
            tx.apply_exocore_event(event, replay.ref(index, None))
    after = snapshot(store.engine)
    assert {k: v for k, v in after.items() if k != "chain_cursor"} == {
        k: v for k, v in before.items() if k != "chain_cursor"
    }


def test_l1_logs_applied_twice_change_nothing(store: LifecycleStore) -> None:
    plan = ClaimPlan("l1twice")
    ingest_claim(store, plan)
    logs = [plan.root_log(10), *plan.paid_logs(11, [0, 2], "pay")]
    with store.begin() as tx:
        tx.apply_l1_logs(logs, chain_id=1)
    before = snapshot(store.engine)
    with store.begin() as tx:
        effects = tx.apply_l1_logs(logs, chain_id=1)
    assert effects.payouts_included == 0
    assert snapshot(store.engine) == before


def _irregular_payment(plan: ClaimPlan, kind: str) -> list[Any]:
    """One irregular RewardPaid (at the end of a batch that otherwise pays leaves 0..2 as they say)."""
    at = plan.position(11, 99, "pay")
    if kind == "payout_matches_leaf":  # leaf 3 paid to someone else
        return [RewardPaidLog(plan.distribution_id, 3, staker(9), plan.amounts[3], at)]
    if kind == "payout_has_distribution":  # a distribution nobody created
        return [RewardPaidLog(h("no-such-distribution"), 0, staker(0), 1, at)]
    return [RewardPaidLog(plan.distribution_id, 1, staker(1), plan.amounts[1], at)]  # leaf 1 again


@pytest.mark.parametrize("invariant", ["payout_matches_leaf", "payout_has_distribution", "leaf_paid_once"])
def test_an_irregular_payment_among_regular_ones_refuses_the_whole_batch(
    store: LifecycleStore, invariant: str
) -> None:
    """Whichever write path the database takes (set-based on PostgreSQL, row by row elsewhere), one
    log that pays a leaf other than it says, a leaf of no distribution, or a leaf already paid in the
    batch is refused with its invariant, and nothing of the batch is written."""
    plan = ClaimPlan("irregular", leaves=4)
    ingest_claim(store, plan)
    with store.begin() as tx:
        tx.apply_l1_logs([plan.root_log(10)], chain_id=1)
    before = snapshot(store.engine)
    logs = [*plan.paid_logs(11, [0, 1, 2], "pay"), *_irregular_payment(plan, invariant)]
    with pytest.raises(InvariantViolationError) as info, store.begin() as tx:
        tx.apply_l1_logs(logs, chain_id=1, finalized_height=11, finalized_at=T0)
    assert info.value.invariant == invariant
    assert snapshot(store.engine) == before


def test_an_exocore_fork_halts_the_stream(store: LifecycleStore) -> None:
    metrics = IngestMetrics()
    ingestor = ExocoreIngestor(store, metrics)
    ingestor.apply_block(ExocoreBlock(1, h("b1"), T0, (avs_registered(),)))
    with pytest.raises(ChainMismatchError):
        ingestor.apply_block(ExocoreBlock(1, h("other"), T0, (avs_registered(),)))
    cursor = store.cursor(EXOCORE_STREAM)
    assert cursor is not None and cursor.halted
    assert (
        metrics.invariant_violations.labels(stream="exocore", invariant="chain_consistent")._value.get() == 1
    )
    with pytest.raises(StreamHaltedError):
        ingestor.apply_block(ExocoreBlock(2, h("b2"), T0, ()))
    store.resume(EXOCORE_STREAM)
    assert ingestor.apply_block(ExocoreBlock(2, h("b2"), T0, ()))


def test_illegal_moves_are_refused_and_replays_are_no_ops(store: LifecycleStore) -> None:
    plan = ClaimPlan("rejected")
    ref = ChainRef(Chain.EXOCORE, T0, 5, h("b5"))
    with store.begin() as tx:
        tx.apply_exocore_event(plan.submitted(), ref)
        tx.apply_exocore_event(ClaimRejected(plan.claim_id, "insufficient_quorum", "59/100 < 2/3"), ref)
        tx.apply_exocore_event(ClaimRejected(plan.claim_id, "insufficient_quorum"), ref)  # replay: no-op
    with pytest.raises(IllegalTransitionError) as info, store.begin() as tx:
        tx.apply_exocore_event(ClaimVerified(plan.claim_id), ref)
    assert (info.value.from_state, info.value.to_state) == ("rejected", "verified")
    with store.engine.connect() as conn:
        claim = conn.execute(select(claim_table).where(claim_table.c.claim_id == plan.claim_id)).one()
    assert (claim.state, claim.reason_code, claim.reason) == (
        "rejected",
        "insufficient_quorum",
        "59/100 < 2/3",
    )
    assert claim_timeline(store.engine, plan.claim_id) == [
        (None, "submitted", "forward", "exocore", 5),
        ("submitted", "rejected", "forward", "exocore", 5),
    ]


def test_reorg_reversal_returns_payouts_and_claim_and_they_come_back(store: LifecycleStore) -> None:
    plan = ClaimPlan("reorg")
    ingest_claim(store, plan)
    with store.begin() as tx:
        tx.apply_l1_logs([plan.root_log(10)], chain_id=1)
        tx.apply_l1_logs(plan.paid_logs(12, [1, 3], "pay"), chain_id=1)
        tx.finalize_l1(10, T0 + timedelta(hours=2))
    assert payout_states(store.engine, plan.distribution_id) == {
        0: "pending",
        1: "included",
        2: "pending",
        3: "included",
    }
    with store.begin() as tx:
        assert tx.state_of(EntityKind.CLAIM, plan.claim_id) == ClaimState.PAYING
        reversed_count = tx.reverse_l1_above(11, T0 + timedelta(hours=3))
        assert tx.state_of(EntityKind.CLAIM, plan.claim_id) == ClaimState.FINALIZED
        assert tx.state_of(EntityKind.L1_TX, h("l1-tx-pay")) is None  # first seen in the orphaned block
    # payout 1, payout 3, their L1 tx, and the claim's move to paying.
    assert reversed_count == 4
    assert payout_states(store.engine, plan.distribution_id) == dict.fromkeys(range(4), "pending")
    with store.engine.connect() as conn:
        payout = conn.execute(
            select(payout_table).where(
                payout_table.c.distribution_id == plan.distribution_id, payout_table.c.leaf_index == 1
            )
        ).one()
        transfers = conn.execute(
            select(func.count()).select_from(metadata.tables["l1_token_transfer"])
        ).scalar_one()
        reversal = conn.execute(
            select(transition_table).where(
                transition_table.c.entity_id == payout_entity_id(plan.distribution_id, 1),
                transition_table.c.edge == "reversal",
            )
        ).one()
    assert (payout.l1_tx_hash, payout.l1_block_number, payout.l1_block_hash) == (None, None, None)
    assert transfers == 0
    assert (reversal.from_state, reversal.to_state, reversal.reason, reversal.height) == (
        "included",
        "pending",
        "l1 reorg",
        12,
    )
    # Re-included on the new branch, in another block.
    with store.begin() as tx:
        tx.apply_l1_logs(plan.paid_logs(13, [1, 3], "pay-again"), chain_id=1)
        assert tx.state_of(EntityKind.CLAIM, plan.claim_id) == ClaimState.PAYING
    assert payout_states(store.engine, plan.distribution_id) == {
        0: "pending",
        1: "included",
        2: "pending",
        3: "included",
    }
    assert claim_timeline(store.engine, plan.claim_id)[-3:] == [
        ("finalized", "paying", "forward", "l1", 12),
        ("paying", "finalized", "reversal", "l1", 12),
        ("finalized", "paying", "forward", "l1", 13),
    ]


def test_objects_first_seen_on_l1_disappear_with_their_block(store: LifecycleStore) -> None:
    plan = ClaimPlan("l1only")
    with store.begin() as tx:
        tx.apply_l1_logs([plan.root_log(20), *plan.paid_logs(21, [0], "pay")], chain_id=1)
        assert (
            tx.state_of(EntityKind.PAYOUT, payout_entity_id(plan.distribution_id, 0)) == PayoutState.INCLUDED
        )
        tx.reverse_l1_above(20, T0)
        assert tx.state_of(EntityKind.PAYOUT, payout_entity_id(plan.distribution_id, 0)) is None
        dist = tx.conn.execute(
            select(distribution_table).where(distribution_table.c.distribution_id == plan.distribution_id)
        ).one()
        assert dist.l1_block_number == 20
        tx.reverse_l1_above(19, T0)
        assert tx.conn.execute(select(func.count()).select_from(distribution_table)).scalar_one() == 0


def test_relayer_transactions_replacement_and_retry(store: LifecycleStore) -> None:
    plan = ClaimPlan("relayer")
    ingest_claim(store, plan)
    at = T0 + timedelta(hours=1)
    first, second = h("tx-first"), h("tx-second")
    with store.begin() as tx:
        tx.record_l1_tx(
            first,
            chain_id=1,
            purpose="payout",
            state=L1TxState.SIGNED,
            ref=ChainRef.relayer(at),
            sender="0x" + "5e" * 20,
            tx_nonce=4,
        )
        tx.transition(EntityKind.L1_TX, first, L1TxState.BROADCAST, ChainRef.relayer(at, first))
        assert (
            tx.mark_payouts_submitted(plan.distribution_id, [0, 1], first, ChainRef.relayer(at, first)) == 2
        )
        tx.record_l1_tx(
            second,
            chain_id=1,
            purpose="payout",
            state=L1TxState.BROADCAST,
            ref=ChainRef.relayer(at),
            replaces_tx_hash=first,
            sender="0x" + "5e" * 20,
            tx_nonce=4,
        )
        assert tx.state_of(EntityKind.L1_TX, first) == L1TxState.REPLACED
        assert tx.return_payouts_to_queue(first, ChainRef.relayer(at), "dropped") == 2
    assert payout_states(store.engine, plan.distribution_id) == dict.fromkeys(range(4), "pending")
    t = transition_table
    with store.engine.connect() as conn:
        edges = conn.execute(
            select(t.c.from_state, t.c.to_state, t.c.edge)
            .where(t.c.entity_id == payout_entity_id(plan.distribution_id, 0))
            .order_by(t.c.id)
        ).all()
    assert [tuple(e) for e in edges] == [
        (None, "pending", "forward"),
        ("pending", "submitted", "forward"),
        ("submitted", "pending", "retry"),
    ]
    # The replaced transaction is mined after all: the chain is the authority.
    with store.begin() as tx:
        tx.apply_l1_logs(plan.paid_logs(30, [0], "first"), chain_id=1)
        assert tx.state_of(EntityKind.L1_TX, second) == L1TxState.BROADCAST


def test_operator_exclusion_is_terminal(store: LifecycleStore) -> None:
    plan = ClaimPlan("excluded")
    ingest_claim(store, plan)
    assert store.transition(
        EntityKind.CLAIM, plan.claim_id, ClaimState.EXCLUDED, ChainRef.operator(T0), reason="bad avs"
    )
    with pytest.raises(IllegalTransitionError):
        store.transition(EntityKind.CLAIM, plan.claim_id, ClaimState.FAILED, ChainRef.operator(T0))
    with store.begin() as tx:  # L1 progress no longer moves an excluded claim
        tx.apply_l1_logs([plan.root_log(10)], chain_id=1)
        assert tx.state_of(EntityKind.CLAIM, plan.claim_id) == ClaimState.EXCLUDED


def test_slash_lifecycle_on_exocore_then_l1(store: LifecycleStore) -> None:
    ingestor = ExocoreIngestor(store)
    ingestor.apply_block(ExocoreBlock(1, h("b1"), T0, tuple(slash_events())))
    slash_id = h("slash-s1")
    with store.engine.connect() as conn:
        row = conn.execute(select(slash_table).where(slash_table.c.slash_id == slash_id)).one()
    assert (row.state, row.evidence_kind, row.freeze, row.packet_nonce, row.avs_address) == (
        "executed_on_exocore",
        "committee_request",
        True,
        99,
        AVS,
    )


@pytest.mark.parametrize("amounts", [[2**255, 2**255 - 1], [1, 2, 3], [2**64, 2**64]])
def test_uint256_sums_are_exact(store: LifecycleStore, amounts: list[int]) -> None:
    plan = ClaimPlan("sums", leaves=len(amounts))
    with store.begin() as tx:
        tx.apply_exocore_event(plan.submitted(), ChainRef(Chain.EXOCORE, T0, 1))
        tx.apply_exocore_event(plan.distributed(), ChainRef(Chain.EXOCORE, T0, 1))
        tx.apply_exocore_event(
            DistributionLeaves(
                plan.distribution_id, tuple(LeafInfo(i, staker(i), a) for i, a in enumerate(amounts))
            ),
            ChainRef(Chain.EXOCORE, T0, 1),
        )
        sums = uint256_sums(
            tx.conn, payout_table, "distribution_id", "amount", payout_table.c.state == "pending"
        )
    assert sums == {plan.distribution_id: sum(amounts)}


def test_violation_table_stays_empty_on_the_happy_path(store: LifecycleStore) -> None:
    ingest_claim(store, ClaimPlan("happy"))
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(violation_table)).scalar_one() == 0
        kinds = {r[0] for r in conn.execute(select(transition_table.c.edge))}
    assert kinds == {EdgeKind.FORWARD.value}


def test_large_batches_take_the_bulk_paths_with_exact_values(store: LifecycleStore) -> None:
    """Hundreds of rows per statement: COPY and array parameters on PostgreSQL, executemany on SQLite."""
    size = 300
    plan = ClaimPlan("bulk", leaves=size)
    big = [2**200 + i for i in range(size)]
    ref = ChainRef(Chain.EXOCORE, T0, 1, h("b1"))
    with store.begin() as tx:
        tx.apply_exocore_event(plan.submitted(), ref)
        tx.apply_exocore_event(plan.distributed(), ref)
        tx.apply_exocore_event(
            DistributionLeaves(
                plan.distribution_id, tuple(LeafInfo(i, staker(i), a) for i, a in enumerate(big))
            ),
            ref,
        )
    assert payout_states(store.engine, plan.distribution_id) == dict.fromkeys(range(size), "pending")
    logs: list[Any] = []
    for i, amount in enumerate(big):
        pos = plan.position(40, 2 * i, "bulk-pay")
        logs += [TokenTransferLog(plan.token, "0x" + "00" * 20, staker(i), amount, pos)]
        logs += [
            RewardPaidLog(
                plan.distribution_id, i, staker(i), amount, plan.position(40, 2 * i + 1, "bulk-pay")
            )
        ]
    with store.begin() as tx:
        effects = tx.apply_l1_logs(logs, chain_id=1)
        tx.finalize_l1(40, T0 + timedelta(hours=5))
    assert effects.payouts_included == size
    with store.engine.connect() as conn:
        amounts = dict(
            conn.execute(
                select(payout_table.c.leaf_index, payout_table.c.amount).where(
                    payout_table.c.state == "finalized"
                )
            ).all()
        )
        transfers = conn.execute(
            select(func.count()).select_from(metadata.tables["l1_token_transfer"])
        ).scalar_one()
        history = conn.execute(
            select(func.count())
            .select_from(transition_table)
            .where(transition_table.c.entity_kind == "payout")
        ).scalar_one()
    assert amounts == dict(enumerate(big))
    assert transfers == size
    assert history == 3 * size  # pending, included, finalized


def test_payouts_already_final_when_ingested_are_written_once_with_the_same_rows_and_history(
    store: LifecycleStore,
) -> None:
    two_step, one_step = ClaimPlan("two-step", nonce=1), ClaimPlan("one-step", nonce=2)
    ExocoreIngestor(store).apply_block(
        ExocoreBlock(
            1,
            h("b1"),
            T0,
            (avs_registered(), committee(), *two_step.exocore_events(), *one_step.exocore_events()),
        )
    )
    final_at = T0 + timedelta(hours=2)
    with store.begin() as tx:
        tx.apply_l1_logs([two_step.root_log(10), one_step.root_log(11)], chain_id=1)
        tx.finalize_l1(11, final_at)
        # Included by one batch, finalized by the next ...
        tx.apply_l1_logs(two_step.paid_logs(12, [0, 1, 2, 3], "pay-two"), chain_id=1)
        tx.finalize_l1(12, final_at)
        # ... or already final when the batch arrives.
        effects = tx.apply_l1_logs(
            one_step.paid_logs(12, [0, 1, 2, 3], "pay-one"),
            chain_id=1,
            finalized_height=12,
            finalized_at=final_at,
        )
        assert (effects.payouts_included, effects.payouts_finalized) == (4, 4)
        assert tx.finalize_l1(12, final_at) == 1  # the payout tx's l1_tx row; no payout left
        # A replay of the same logs changes nothing.
        again = tx.apply_l1_logs(
            one_step.paid_logs(12, [0, 1, 2, 3], "pay-one"),
            chain_id=1,
            finalized_height=12,
            finalized_at=final_at,
        )
        assert (again.payouts_included, again.payouts_finalized) == (0, 0)

    def history(plan: ClaimPlan) -> tuple[Any, ...]:
        p, t = payout_table, transition_table
        with store.engine.connect() as conn:
            payouts = conn.execute(
                select(p.c.leaf_index, p.c.state, p.c.amount, p.c.l1_block_number, p.c.updated_at)
                .where(p.c.distribution_id == plan.distribution_id)
                .order_by(p.c.leaf_index)
            ).all()
            moves = conn.execute(
                select(
                    t.c.entity_id, t.c.from_state, t.c.to_state, t.c.edge, t.c.height, t.c.log_index, t.c.at
                )
                .where(t.c.entity_kind == "payout", t.c.entity_id.like(plan.distribution_id + ":%"))
                .order_by(t.c.entity_id, t.c.id)
            ).all()
        claim = [row[:4] for row in claim_timeline(store.engine, plan.claim_id)]
        return (
            [tuple(r) for r in payouts],
            # (the Exocore event index of a leaf differs between the two plans' blocks)
            [
                (r.entity_id.rpartition(":")[2], *r[1:5], r.log_index if r.height != 1 else None, r.at)
                for r in moves
            ],
            claim,
        )

    assert history(one_step) == history(two_step)
    assert history(one_step)[2][-2:] == [
        ("finalized", "paying", "forward", "l1"),
        ("paying", "paid", "forward", "l1"),
    ]
