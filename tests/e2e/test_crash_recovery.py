"""SIGKILL the relayer at random points during a distribution and a slash, many times; afterwards
every leaf is paid exactly once and every packet delivered exactly once. Then SIGTERM: the process
exits within 10 s."""

from __future__ import annotations

import random
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.exc import DBAPIError
from web3 import Web3

from devnet.scenario import ScenarioClient, run_manifest_scenario
from devnet.stack import DevnetStack
from relayer.l1.artifacts import ContractName, load_artifact
from relayer.protocol.claims import PROPORTION_ONE
from storage.job_tables import JobStage, PayoutStage, payout_job_table, relay_job_table
from tests.e2e.checks import wait_settled
from tests.e2e.relayer_process import kill, log_tail, process_database, start_relayer, write_relayer_config
from tests.support.relayer_harness import AVS_B_FUNDING_WEI

KILLS = 20
"""At least 20 SIGKILLs during a distribution and a slash: enough to land in every stage of a cycle."""
KILL_WHILE_RUNNING_S = (0.0, 2.0)
"""Most kills land at a random point after the process says it is running (mid-cycle: between
signing and broadcasting, mid payout batch, mid confirmation)..."""
KILL_DURING_STARTUP_EVERY = 4
"""...and every 4th at a random point of start-up (migrations, the start-up sweep)."""
STARTUP_KILL_S = (0.5, 6.0)
RUNNING_TIMEOUT_S = 180.0
STAKERS = 40
PAYOUT_GAS_BUDGET = 400_000
"""Small batches (~8 leaves) so the payout phase spans many transactions and kill points."""
FINISH_TIMEOUT_S = 300.0
SIGTERM_HANG_BOUND_S = 60.0
"""A clean SIGTERM stop takes seconds; this only bounds a hang (the exit code shows it was clean)."""


def wait_until_running(log: Path) -> None:
    """Until the process writing ``log`` says it runs (start-up done, scheduler started)."""
    deadline = time.monotonic() + RUNNING_TIMEOUT_S
    while '"relayer running"' not in log.read_text():
        if time.monotonic() > deadline:
            pytest.fail(f"the relayer did not start; log tail:\n{log.read_text()[-3000:]}")
        time.sleep(0.05)


def test_sigkill_twenty_times_then_everything_paid_and_delivered_once(tmp_path: Path) -> None:
    rng = random.Random(5)
    with (
        DevnetStack(tmp_path / "chains", exocore_block_time_s=0.3, l1_block_time_s=0.5) as stack,
        process_database(tmp_path) as url,
    ):
        config = write_relayer_config(stack, tmp_path, url, l1__payout_gas_budget=PAYOUT_GAS_BUDGET)
        exocore = stack.manifest["exocore"]
        with ScenarioClient.for_manifest(exocore) as client:
            report = run_manifest_scenario(client, stack.manifest, operators=4, stakers=STAKERS)
            stack.fund_avs_eth(report.avss[1], AVS_B_FUNDING_WEI, account_index=2)
            client.slash(client.committee(report.avss[0]), 0, PROPORTION_ONE // 20)
        for round_ in range(KILLS):
            log = tmp_path / f"relayer-{round_}.log"
            process = start_relayer(config, log)
            if round_ % KILL_DURING_STARTUP_EVERY == 0:
                time.sleep(rng.uniform(*STARTUP_KILL_S))
            else:
                wait_until_running(log)
                time.sleep(rng.uniform(*KILL_WHILE_RUNNING_S))
            kill(process)

        engine = create_engine(url)
        log = tmp_path / "relayer-final.log"
        try:
            process = start_relayer(config, log)
            deadline = time.monotonic() + FINISH_TIMEOUT_S
            while True:
                try:
                    with engine.begin() as conn:
                        stages = [r.stage for r in conn.execute(select(relay_job_table.c.stage))]
                        pays = [r.stage for r in conn.execute(select(payout_job_table.c.stage))]
                except DBAPIError:  # not migrated yet
                    stages, pays = [], []
                if (
                    len(stages) == 3
                    and set(stages) == {JobStage.DELIVERED.value}
                    and pays == [PayoutStage.PAID.value] * 2
                ):
                    break
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"not finished: jobs {stages}, payouts {pays}; log tail:\n{log.read_text()[-4000:]}"
                    )
                time.sleep(0.5)
            # The end state every fault test checks: leaves paid once, indexer == L1, all terminal.
            settled = wait_settled(stack, url, log_tail=lambda: log_tail(log))
            assert settled.distributions == 2
            wait_until_running(log)
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=SIGTERM_HANG_BOUND_S) == 0
        finally:
            engine.dispose()

        w3 = Web3(Web3.HTTPProvider(stack.manifest["l1"]["rpc_url"]))
        gateway = w3.eth.contract(
            address=Web3.to_checksum_address(stack.gateway),
            abi=load_artifact(ContractName.EXOCORE_GATEWAY).abi_list(),
        )
        paid = Counter(
            (e.args.distributionId, e.args.index) for e in gateway.events.RewardPaid.get_logs(from_block=0)
        )
        distributions = gateway.events.DistributionSubmitted.get_logs(from_block=0)
        assert len(distributions) == 2
        expected = sum(gateway.functions.distribution(d.args.distributionId).call()[2] for d in distributions)
        assert len(paid) == expected
        assert set(paid.values()) == {1}
        assert len(gateway.events.SlashExecuted.get_logs(from_block=0)) == 1
