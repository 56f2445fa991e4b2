"""Whole-system faults on one devnet (Exocore devnet + anvil + a real ``exorelay run`` process), in
sequence: the websocket dropped mid-distribution, more than 1/3 of the validators late then back,
and an L1 reorg under a payout batch. After each, :func:`tests.e2e.checks.wait_settled`: every leaf
paid exactly once, the indexer's totals equal the L1 transfers, every lifecycle terminal.

L1 blocks are mined by the test (automine off, one block every ``L1_BLOCK_S``) so that the reorg
test can hold a payout batch in the mempool, snapshot the chain under it, mine it, and orphan it.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, cast

import pytest
from eth_utils.abi import function_abi_to_4byte_selector
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import Engine

from devnet.anvil import AnvilNode
from devnet.scenario import ScenarioClient, ScenarioReport, run_manifest_scenario
from devnet.stack import DevnetStack
from relayer.exocore.proto.devnet.v1 import tx_pb2 as tx
from relayer.l1.artifacts import ContractName, load_artifact
from relayer.pipeline.retry import RetryReason
from storage.job_tables import relay_job_table
from storage.l1_tables import tx_intent_table
from storage.models import payout_table, transition_table
from tests.e2e.checks import Settled, api_get, wait_settled
from tests.e2e.relayer_process import (
    log_records,
    log_tail,
    process_database,
    start_relayer,
    wait_for_log,
    write_relayer_config,
)
from tests.support.relayer_harness import AVS_B_FUNDING_WEI

EXOCORE_BLOCK_S: Final = 0.3
L1_BLOCK_S: Final = 0.3
STAKERS: Final = 12
"""Small: the faults are about timing, not volume (the volume tests live elsewhere)."""
OPERATORS: Final = 4
CONFIRMATIONS: Final = 3
"""L1 finality depth: the reorg test orphans one block, which must stay inside this window."""
PAYOUT_GAS_BUDGET: Final = 400_000
"""~8 leaves per payout transaction: a distribution is paid in a few batches."""
LATE_VALIDATORS: Final = (2, 3)
"""2 of 4 equal-power validators: half the power, more than 1/3, so no quorum without them."""
SIGNATURE_DELAY_BLOCKS: Final = 20
"""~6 s of Exocore blocks during which the late validators' signatures are not served."""
CLAIM_AMOUNT: Final = 10**21
WAIT_S: Final = 180.0
PUSH_CONNECTED: Final = "exocore push connected"
PUSH_LOST: Final = "exocore push lost"


class Miner:
    """Mines one L1 block every ``interval_s`` while not paused (anvil's automine is off)."""

    def __init__(self, anvil: AnvilNode, interval_s: float) -> None:
        self.anvil = anvil
        self.interval_s = interval_s
        self._running = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="l1-miner", daemon=True)

    def start(self) -> Miner:
        self.anvil.rpc("evm_setAutomine", [False])
        self._running.set()
        self._thread.start()
        return self

    def pause(self) -> None:
        with self._lock:  # a block being mined finishes first
            self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def mine(self) -> None:
        with self._lock:
            self.anvil.rpc("evm_mine")

    def stop(self) -> None:
        self._stop.set()
        self._running.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._running.wait()
            with self._lock:
                if self._running.is_set() and not self._stop.is_set():
                    self.anvil.rpc("evm_mine")


@dataclass
class FaultSystem:
    stack: DevnetStack
    url: str
    engine: Engine
    client: ScenarioClient
    report: ScenarioReport
    miner: Miner
    log: Path
    process: subprocess.Popen[bytes]

    @property
    def anvil(self) -> AnvilNode:
        assert self.stack.anvil is not None
        return self.stack.anvil

    def tail(self) -> str:
        return log_tail(self.log)

    def settle(self) -> Settled:
        assert self.process.poll() is None, f"the relayer exited; tail:\n{self.tail()}"
        return wait_settled(self.stack, self.url, log_tail=self.tail)

    def jobs(self) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(relay_job_table).order_by(relay_job_table.c.packet_nonce)))

    def wait(self, what: str, condition: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                pytest.fail(f"{what}: not within {timeout_s} s; jobs {self.jobs()}\n{self.tail()}")
            time.sleep(0.1)

    def new_claim(self, avs_index: int = 0, amount: int = CLAIM_AMOUNT) -> None:
        """One more claim on AVS ``avs_index`` (a new amount, hence a new claim id), all members signing."""
        avs = self.report.avss[avs_index]
        committee = self.client.committee(avs)
        token = self.stack.manifest["l1"]["contracts"]["reward_token" if avs_index == 0 else "weth"]
        self.client.claim(committee, range(len(committee.pubkeys)), token, amount)

    def knobs(self, **knobs: Any) -> None:
        self.client.send(tx.MsgSetFaultKnobs(knobs=tx.FaultKnobs(**knobs)))


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultSystem]:
    tmp = tmp_path_factory.mktemp("faults")
    with (
        DevnetStack(tmp / "chains", exocore_block_time_s=EXOCORE_BLOCK_S, l1_block_time_s=None) as stack,
        process_database(tmp) as url,
    ):
        assert stack.anvil is not None
        miner = Miner(stack.anvil, L1_BLOCK_S).start()
        config = write_relayer_config(
            stack,
            tmp,
            url,
            exocore__websocket=True,
            l1__confirmations=CONFIRMATIONS,
            l1__payout_gas_budget=PAYOUT_GAS_BUDGET,
        )
        log = tmp / "relayer.log"
        process = start_relayer(config, log)
        engine = create_engine(url)
        exocore = stack.manifest["exocore"]
        try:
            with ScenarioClient.for_manifest(exocore) as client:
                wait_for_log(log, '"relayer running"')
                report = ScenarioReport()
                yield FaultSystem(stack, url, engine, client, report, miner, log, process)
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
            engine.dispose()
            miner.stop()


def test_websocket_dropped_mid_distribution_the_relayer_follows_by_pull(system: FaultSystem) -> None:
    s = system
    wait_for_log(s.log, PUSH_CONNECTED)
    report = run_manifest_scenario(s.client, s.stack.manifest, operators=OPERATORS, stakers=STAKERS)
    s.report.avss[:] = report.avss
    s.report.claims[:] = report.claims
    s.stack.fund_avs_eth(report.avss[1], AVS_B_FUNDING_WEI, account_index=2)
    # Mid-distribution: the relayer has seen the packets, nothing is paid yet.
    s.wait("packets discovered", lambda: len(s.jobs()) >= 2)
    assert s.stack.devnet is not None
    dropped_at = time.monotonic()
    s.stack.devnet.rpc.set_websocket_outage(True)
    wait_for_log(s.log, PUSH_LOST)
    settled = s.settle()
    took = time.monotonic() - dropped_at
    assert settled.distributions == 2 and settled.leaves > STAKERS
    # The socket stayed down the whole time: everything after the drop came by pull.
    records = log_records(s.log)
    assert sum(PUSH_CONNECTED in r["msg"] for r in records) == 1
    assert not s.stack.devnet.rpc.app._clients  # no socket got through
    assert any("refused" in r["msg"] or "InvalidStatus" in r["msg"] for r in records), "reconnects refused"
    s.stack.devnet.rpc.set_websocket_outage(False)
    wait_for_log(s.log, PUSH_CONNECTED, count=2)
    print(f"websocket drop: settled {took:.1f} s after the drop")


def test_more_than_a_third_of_validators_late_the_relayer_waits_then_completes(system: FaultSystem) -> None:
    s = system
    assert s.report.avss, "runs after the websocket test (shares its scenario)"
    before = {r.packet_nonce for r in s.jobs()}
    s.knobs(late_validators=list(LATE_VALIDATORS), signature_delay_blocks=SIGNATURE_DELAY_BLOCKS)
    try:
        s.new_claim(0)
        s.wait(
            "waiting for quorum",
            lambda: any(
                r.packet_nonce not in before and r.retry_reason == RetryReason.QUORUM_NOT_REACHED.value
                for r in s.jobs()
            ),
        )
        (job,) = [r for r in s.jobs() if r.packet_nonce not in before]
        assert job.stage == "discovered" and job.tx_intent_id is None
        assert "short of" in (job.retry_detail or "")
        # The API says the same: the packet exists, not attested, its claim not relayed.
        (packet,) = api_get(s.url, "/v1/packets", limit=1)["items"]
        assert (packet["nonce"], packet["status"]) == (job.packet_nonce, "created")
    finally:
        s.knobs()
    settled = s.settle()
    assert settled.distributions == 3
    (job,) = [r for r in s.jobs() if r.packet_nonce not in before]
    assert job.stage == "delivered" and job.signer_bitmap == "0x0f"  # all four, once they signed


def payout_selector() -> bytes:
    abi = load_artifact(ContractName.EXOCORE_GATEWAY).abi_list()
    (entry,) = [e for e in abi if e.get("type") == "function" and e.get("name") == "payout"]
    return function_abi_to_4byte_selector(cast(Any, entry))


def pending_payouts(anvil: AnvilNode, selector: bytes) -> int:
    content = anvil.rpc("txpool_content")
    return sum(
        1
        for by_nonce in content.get("pending", {}).values()
        for tx_ in by_nonce.values()
        if bytes.fromhex(tx_["input"][2:10]) == selector
    )


def intents(s: FaultSystem, distribution_id: str) -> int:
    with s.engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).where(
                    tx_intent_table.c.purpose == "payout",
                    tx_intent_table.c.distribution_id == distribution_id,
                )
            ).scalar_one()
        )


def payout_intents(s: FaultSystem, distribution_id: str) -> set[str]:
    """States of the tx manager's payout intents for a distribution."""
    with s.engine.connect() as conn:
        return {
            r.state
            for r in conn.execute(
                select(tx_intent_table.c.state).where(
                    tx_intent_table.c.purpose == "payout",
                    tx_intent_table.c.distribution_id == distribution_id,
                )
            )
        }


def test_l1_reorg_under_a_payout_batch_is_paid_again_exactly_once(system: FaultSystem) -> None:
    s = system
    assert s.report.avss, "runs after the websocket test (shares its scenario)"
    anvil, selector = s.anvil, payout_selector()
    known = {r.distribution_id for r in s.jobs() if r.distribution_id}
    s.miner.pause()
    try:
        s.new_claim(0, CLAIM_AMOUNT + 1)
        # Mine by hand until the relayer broadcasts a payout batch (the root is final by then).
        deadline = time.monotonic() + WAIT_S
        while not pending_payouts(anvil, selector):
            if time.monotonic() > deadline:
                pytest.fail(f"no payout broadcast; jobs {s.jobs()}\n{s.tail()}")
            s.miner.mine()
            time.sleep(L1_BLOCK_S)
        (distribution_id,) = {r.distribution_id for r in s.jobs() if r.distribution_id} - known
        # Every batch of the distribution broadcast: the block mined next holds them all.
        s.wait("every payout batch broadcast", lambda: payout_intents(s, distribution_id) == {"pending"})
        s.wait(
            "every payout batch in the pool",
            lambda: pending_payouts(anvil, selector) == intents(s, distribution_id),
        )
        fork_point = anvil.snapshot()
        s.miner.mine()  # the batch is included...

        def included() -> list[Any]:
            with s.engine.connect() as conn:
                return list(
                    conn.execute(
                        select(payout_table.c.leaf_index, payout_table.c.l1_block_hash).where(
                            payout_table.c.distribution_id == distribution_id,
                            payout_table.c.state == "included",
                        )
                    )
                )

        s.wait("the indexer sees the batch included", lambda: bool(included()))
        # And the tx manager: it reads its own receipts in a later stage of the relayer's cycle than
        # the indexer's ingestion, and must have seen the batch mined before the branch goes away, or
        # it has no inclusion of its own to see reorged out.
        s.wait(
            "the tx manager sees the batch included",
            lambda: payout_intents(s, distribution_id) == {"included"},
        )
        orphaned = included()
        anvil.revert(fork_point)  # ...and orphaned: the next blocks are another branch
    finally:
        s.miner.resume()
    settled = s.settle()
    assert settled.distributions == 4
    with s.engine.connect() as conn:
        final = {
            r.leaf_index: r.l1_block_hash
            for r in conn.execute(
                select(payout_table.c.leaf_index, payout_table.c.l1_block_hash).where(
                    payout_table.c.distribution_id == distribution_id
                )
            )
        }
    for leaf_index, block_hash in orphaned:
        assert final[leaf_index] != block_hash, "re-paid in a block of the new branch"
    with s.engine.connect() as conn:
        reversed_payouts = conn.execute(
            select(func.count()).where(
                transition_table.c.entity_kind == "payout",
                transition_table.c.edge == "reversal",
                transition_table.c.from_state == "included",
            )
        ).scalar_one()
    assert reversed_payouts >= len(orphaned), "the indexer reversed the orphaned payouts"
    reorged = [r for r in log_records(s.log) if r["msg"] == "intent reorged out, back to pending"]
    assert reorged and {r["purpose"] for r in reorged} == {"payout"}
