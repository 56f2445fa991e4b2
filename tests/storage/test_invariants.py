"""Each invariant, violated on purpose: detected, recorded, counted, the stream halted, nothing committed.

L1 violations are driven through the real :class:`L1Ingestor` by a scripted node (:class:`ScriptedL1`)
serving ABI-encoded logs, because a correct gateway cannot be made to emit them (the block that
breaks one is also recorded as poisoned, so an operator can skip it); Exocore and
crafted-row violations go through the Exocore ingestor and the check functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, cast

import pytest
from eth_abi.abi import encode as abi_encode
from eth_utils.abi import event_abi_to_log_topic
from eth_utils.crypto import keccak
from sqlalchemy import Engine, func, insert, select

from indexer.ingest.exocore import ExocoreIngestor
from indexer.ingest.l1 import BlockInfo, L1Contracts, L1Ingestor, RawLog
from indexer.metrics import IngestMetrics
from relayer.l1.artifacts import ContractName, load_artifact
from storage.errors import (
    BlockPoisonedError,
    IllegalTransitionError,
    InvariantViolationError,
    StreamHaltedError,
)
from storage.invariants import (
    CUMULATIVE_PAID_LE_ACCRUED,
    FORWARD_ONLY,
    LEAF_PAID_ONCE,
    PAYOUT_MATCHES_TRANSFERS,
    SUM_PAID_LE_TOTAL,
    check_forward_only,
    check_leaves_paid_once,
    check_paid_within_total,
)
from storage.models import (
    cumulative_leaf_table,
    cumulative_payout_table,
    payout_table,
    transition_table,
    violation_table,
)
from storage.normalize import payout_entity_id
from storage.records import ClaimRejected, ClaimVerified, ExocoreBlock
from storage.store import LifecycleStore, open_poisoned_blocks
from tests.support.cumulative_data import LEDGER, NONCE0, OTHER, TOKEN_T, leaves, root_packet
from tests.support.indexer_factory import T0, ZERO, Chain, ClaimPlan, h, staker

GATEWAY = "0x" + "9a" * 20
VAULT = "0x" + "9b" * 20
TOKEN = "0x" + "9c" * 20
CHAIN_ID = 5

PAYOUT_SELECTOR = keccak(b"payout(bytes32,(uint256,address,uint256)[],bytes32[],bool[])")[:4]
"""The gateway's batch ``payout``: what a paying transaction's input starts with (the indexer tells a
batch push from a staker's ``claim`` by it)."""


def _event_abis() -> dict[str, dict[str, Any]]:
    entries = list(load_artifact(ContractName.EXOCORE_GATEWAY).entries("event"))
    entries += [
        e for e in load_artifact(ContractName.REWARD_TOKEN).entries("event") if e["name"] == "Transfer"
    ]
    entries += [
        e
        for e in load_artifact(ContractName.REWARD_VAULT).entries("event")
        if e["name"] in ("CumulativeRootAccepted", "CumulativePaid")
    ]
    return {str(e["name"]): dict(e) for e in entries}


EVENTS = _event_abis()


class ScriptedL1:
    """An :class:`~indexer.ingest.l1.L1Source` whose blocks and logs a test writes."""

    def __init__(self, head: int) -> None:
        self.head_number = head
        self.raw: list[RawLog] = []

    def head(self) -> int:
        return self.head_number

    def finalized(self) -> int:
        return self.head_number - 2

    def block(self, number: int) -> BlockInfo:
        return BlockInfo(number, h(f"block-{number}"), T0 + timedelta(seconds=12 * number))

    def tx_selector(self, tx_hash: str) -> bytes:
        """Every payment these scripts make is a batch push: the gateway's ``payout``."""
        return PAYOUT_SELECTOR

    def logs(
        self, from_block: int, to_block: int, addresses: Sequence[str], topics: Sequence[Any] | None = None
    ) -> list[RawLog]:
        wanted = set(addresses)
        return [
            log
            for log in self.raw
            if from_block <= log.block_number <= to_block
            and log.address in wanted
            and (topics is None or "0x" + log.topics[0].hex() == topics[0])
        ]

    def emit(self, address: str, name: str, block: int, tx: str, **args: Any) -> None:
        abi = EVENTS[name]
        topics = [bytes(event_abi_to_log_topic(cast(Any, abi)))]
        data_types, data_values = [], []
        for item in abi["inputs"]:
            value = args[item["name"]]
            if item["indexed"]:
                topics.append(abi_encode([item["type"]], [value]))
            else:
                data_types.append(item["type"])
                data_values.append(value)
        self.raw.append(
            RawLog(
                address=address,
                topics=tuple(topics),
                data=abi_encode(data_types, data_values),
                block_number=block,
                block_hash=h(f"block-{block}"),
                tx_hash=h(tx),
                log_index=len([r for r in self.raw if r.block_number == block]),
            )
        )

    def root(self, block: int, plan: ClaimPlan, total: int) -> None:
        self.emit(
            GATEWAY,
            "DistributionSubmitted",
            block,
            f"root-{plan.label}",
            distributionId=bytes.fromhex(plan.distribution_id[2:]),
            claimId=bytes.fromhex(plan.claim_id[2:]),
            avs=plan.avs,
            epoch=plan.epoch,
            token=TOKEN,
            total=total,
            root=bytes.fromhex(plan.root[2:]),
            nonce=plan.nonce,
        )

    def pay(
        self, block: int, plan: ClaimPlan, index: int, amount: int, tx: str, transferred: int | None = None
    ) -> None:
        self.emit(
            TOKEN,
            "Transfer",
            block,
            tx,
            **{"from": ZERO, "to": staker(index), "value": amount if transferred is None else transferred},
        )
        self.emit(
            GATEWAY,
            "RewardPaid",
            block,
            tx,
            distributionId=bytes.fromhex(plan.distribution_id[2:]),
            index=index,
            staker=staker(index),
            amount=amount,
        )


PLAN = ClaimPlan("inv", leaves=2)


def l1_ingestor(store: LifecycleStore, node: ScriptedL1, metrics: IngestMetrics) -> L1Ingestor:
    return L1Ingestor(
        store,
        node,
        L1Contracts(gateway=GATEWAY, reward_vault=VAULT, reward_tokens=(TOKEN,)),
        chain_id=CHAIN_ID,
        confirmations=2,
        start_block=1,
        metrics=metrics,
    )


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def assert_halted(
    store: LifecycleStore, stream: str, metrics: IngestMetrics, invariant: str
) -> dict[str, Any]:
    cursor = store.cursor(stream)
    assert cursor is not None and cursor.halted
    assert invariant in (cursor.halt_reason or "")
    assert metrics.invariant_violations.labels(stream=stream, invariant=invariant)._value.get() == 1
    assert metrics.halted.labels(stream=stream)._value.get() == 1
    with store.engine.connect() as conn:
        (violation,) = conn.execute(select(violation_table)).all()
    assert (violation.stream, violation.invariant) == (stream, invariant)
    return dict(violation.details)


@pytest.mark.parametrize(
    ("script", "invariant"),
    [
        # Σ paid 80 + 30 > total 100.
        (
            lambda n: (n.root(2, PLAN, 100), n.pay(3, PLAN, 0, 80, "p1"), n.pay(3, PLAN, 1, 30, "p1")),
            SUM_PAID_LE_TOTAL,
        ),
        # Leaf 0 paid in two transactions.
        (
            lambda n: (n.root(2, PLAN, 1000), n.pay(3, PLAN, 0, 50, "p1"), n.pay(4, PLAN, 0, 50, "p2")),
            LEAF_PAID_ONCE,
        ),
        # RewardPaid says 50, the token moved 40.
        (
            lambda n: (n.root(2, PLAN, 1000), n.pay(3, PLAN, 0, 50, "p1", transferred=40)),
            PAYOUT_MATCHES_TRANSFERS,
        ),
    ],
)
def test_l1_violations_halt_the_stream_and_commit_nothing_of_the_block(
    store: LifecycleStore, script: Any, invariant: str
) -> None:
    node = ScriptedL1(head=10)
    script(node)
    metrics = IngestMetrics()
    ingestor = l1_ingestor(store, node, metrics)
    with pytest.raises(BlockPoisonedError) as info:
        ingestor.sync()
    violation = info.value.violation
    assert violation is not None and violation.invariant == invariant
    details = assert_halted(store, ingestor.stream, metrics, invariant)
    assert details == {
        k: (str(v) if isinstance(v, int) and abs(v) > 2**53 else v) for k, v in violation.details.items()
    }
    # The block that breaks it is poisoned (an operator may skip it); the blocks before it are stored.
    with store.engine.connect() as conn:
        (poisoned,) = open_poisoned_blocks(conn)
    assert (poisoned.height, poisoned.error_class) == (info.value.height, "InvariantViolationError")
    with store.engine.connect() as conn:  # nothing of the poisoned block was stored
        stored = conn.execute(select(payout_table.c.l1_block_number)).scalars().all()
    assert all(block < info.value.height for block in stored)
    with pytest.raises(StreamHaltedError):
        ingestor.poll()


def test_a_double_payment_across_batches_is_caught(store: LifecycleStore) -> None:
    node = ScriptedL1(head=4)
    node.root(2, PLAN, 1000)
    node.pay(3, PLAN, 0, 50, "p1")
    metrics = IngestMetrics()
    ingestor = l1_ingestor(store, node, metrics)
    ingestor.sync()
    assert count(store.engine, payout_table) == 1
    node.pay(5, PLAN, 0, 50, "p2")
    node.head_number = 6
    with pytest.raises(BlockPoisonedError, match="block 5 is poisoned") as info:
        ingestor.sync()
    assert info.value.violation is not None
    details = info.value.violation.details
    assert details["first_tx"] == h("p1") and details["second_tx"] == h("p2")
    assert_halted(store, ingestor.stream, metrics, LEAF_PAID_ONCE)


def test_a_backwards_exocore_move_halts_the_exocore_stream(
    store: LifecycleStore, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = IngestMetrics()
    exo = ExocoreIngestor(store, metrics)
    exo.apply_block(ExocoreBlock(1, h("e1"), T0, (PLAN.submitted(), ClaimRejected(PLAN.claim_id, "quorum"))))
    with pytest.raises(IllegalTransitionError):
        exo.apply_block(ExocoreBlock(2, h("e2"), T0, (ClaimVerified(PLAN.claim_id),)))
    details = assert_halted(store, "exocore", metrics, FORWARD_ONLY)
    assert (details["from"], details["to"]) == ("rejected", "verified")
    (alert,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert "ingestion stream halted" in alert.getMessage() and alert.__dict__["invariant"] == FORWARD_ONLY
    cursor = store.cursor("exocore")
    assert cursor is not None and cursor.height == 1  # block 2 was not committed


def test_crafted_rows_are_caught_by_the_checks(store: LifecycleStore) -> None:
    ExocoreIngestor(store).apply_block(ExocoreBlock(1, h("e1"), T0, tuple(PLAN.exocore_events())))
    payout = payout_entity_id(PLAN.distribution_id, 0)
    row = {
        "entity_kind": "payout", "entity_id": payout, "edge": "forward", "chain": "l1", "height": 9,
        "at": T0, "recorded_at": T0,
    }  # fmt: skip
    with store.engine.begin() as conn:
        first = int(conn.execute(select(func.max(transition_table.c.id))).scalar_one()) + 1
        # A payout that "went back" from pending to nothing-earlier without being a reversal ...
        conn.execute(insert(transition_table), [{**row, "from_state": "submitted", "to_state": "pending"}])
    with pytest.raises(InvariantViolationError) as info, store.engine.connect() as conn:
        check_forward_only(conn, "test", first)
    assert info.value.invariant == FORWARD_ONLY and "was in pending" in str(info.value)
    with store.engine.begin() as conn:
        conn.execute(transition_table.delete().where(transition_table.c.id >= first))
        # ... a payout included twice ...
        conn.execute(
            insert(transition_table),
            [
                {**row, "from_state": "pending", "to_state": "included"},
                {**row, "from_state": "included", "to_state": "included", "height": 10},
            ],
        )
    with pytest.raises(InvariantViolationError) as info, store.engine.connect() as conn:
        check_leaves_paid_once(conn, "test", first)
    assert info.value.invariant == LEAF_PAID_ONCE and info.value.details["inclusions"] == 2
    with store.engine.begin() as conn:
        # ... and payouts paid beyond the distribution's total (300 = 100 + 200).
        conn.execute(
            payout_table.update()
            .where(payout_table.c.distribution_id == PLAN.distribution_id, payout_table.c.leaf_index == 1)
            .values(state="finalized", amount=201)
        )
        conn.execute(
            payout_table.update()
            .where(payout_table.c.distribution_id == PLAN.distribution_id, payout_table.c.leaf_index == 0)
            .values(state="included")
        )
    with pytest.raises(InvariantViolationError) as info, store.engine.connect() as conn:
        check_paid_within_total(conn, "test", [PLAN.distribution_id])
    assert info.value.invariant == SUM_PAID_LE_TOTAL
    assert (info.value.details["paid"], info.value.details["total"]) == ("301", "300")


def test_a_cumulative_payout_above_the_roots_leaf_halts_the_l1_stream(store: LifecycleStore) -> None:
    ExocoreIngestor(store).apply_block(Chain().block(root_packet(1, CHAIN_ID), leaves(1, CHAIN_ID)))
    accrued = LEDGER[1][(OTHER, TOKEN_T)]
    node = ScriptedL1(head=10)
    node.emit(
        VAULT, "CumulativeRootAccepted", 2, "root", period=1, root=b"\x01" * 32, leafCount=3, nonce=NONCE0 + 1
    )
    node.emit(
        VAULT,
        "CumulativePaid",
        3,
        "overpaid",
        earner=OTHER,
        token=TOKEN_T,
        recipient=OTHER,
        amount=accrued + 1,
        cumulative=accrued + 1,
        period=1,
        byEarner=False,
    )
    metrics = IngestMetrics()
    ingestor = l1_ingestor(store, node, metrics)
    with pytest.raises(BlockPoisonedError) as info:
        ingestor.sync()
    assert info.value.violation is not None
    assert info.value.violation.details == {
        "chain_id": CHAIN_ID,
        "earner": OTHER,
        "token": TOKEN_T,
        "paid": str(accrued + 1),
        "accrued": str(accrued),
    }
    assert_halted(store, ingestor.stream, metrics, CUMULATIVE_PAID_LE_ACCRUED)
    assert count(store.engine, cumulative_payout_table) == 0  # the violating batch was rolled back


def test_leaves_arriving_after_l1_overpaid_under_them_halt_the_exocore_stream(store: LifecycleStore) -> None:
    accrued = LEDGER[1][(OTHER, TOKEN_T)]
    node = ScriptedL1(head=10)
    # The vault mints what it pays (the Transfer matches the payout: only the leaf bound is broken).
    node.emit(TOKEN_T, "Transfer", 3, "overpaid", **{"from": ZERO, "to": OTHER, "value": accrued + 1})
    node.emit(
        VAULT,
        "CumulativePaid",
        3,
        "overpaid",
        earner=OTHER,
        token=TOKEN_T,
        recipient=OTHER,
        amount=accrued + 1,
        cumulative=accrued + 1,
        period=1,
        byEarner=False,
    )
    l1_ingestor(store, node, IngestMetrics()).sync()  # the period's leaves are not known yet
    assert count(store.engine, cumulative_payout_table) == 1
    metrics = IngestMetrics()
    period_1 = Chain().block(root_packet(1, CHAIN_ID), leaves(1, CHAIN_ID))
    with pytest.raises(InvariantViolationError) as info:
        ExocoreIngestor(store, metrics).apply_block(period_1)
    assert info.value.details["accrued"] == str(accrued)
    assert_halted(store, "exocore", metrics, CUMULATIVE_PAID_LE_ACCRUED)
    assert count(store.engine, cumulative_leaf_table) == 0  # the violating block was rolled back
