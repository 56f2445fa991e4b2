"""Both chains for real (anvil + contracts + the Exocore devnet) and an in-process relayer wired to them:
`RelayerHarness` (runs relayer cycles until a condition holds), `relayer_config`, the standard scenario
(`run_standard_scenario`) and the queue readings the pipeline, outage and explorer tests wait on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine, select
from web3 import Web3

from devnet.scenario import ScenarioClient, run_manifest_scenario
from devnet.stack import DevnetStack
from relayer.config import ExorelayConfig
from relayer.l1.artifacts import ContractName, load_artifact
from relayer.protocol.kinds import PayoutMode
from relayer.service import RelayerService
from storage.job_tables import JobStage, PayoutStage, payout_job_table, relay_job_table
from storage.l1_tables import tx_intent_table

SIGNER_ACCOUNT_INDEX = 1
"""anvil dev account 0 deployed the contracts; the relayer signs with account 1."""


L1_BLOCK_TIME_S = 0.5
"""Interval mining, as a real chain: inclusion and confirmations take blocks, not instants."""


@dataclass
class RelayerHarness:
    stack: DevnetStack
    engine: Engine
    config: ExorelayConfig
    signer: LocalAccount
    service: RelayerService
    client: ScenarioClient

    def cycle_until(self, done: Callable[[], bool], *, timeout_s: float = 60.0, pause_s: float = 0.1) -> int:
        """Run relayer cycles until ``done()`` (returns the number of cycles)."""
        deadline = time.monotonic() + timeout_s
        cycles = 0
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError(f"not done after {cycles} cycles / {timeout_s} s:\n{self.describe()}")
            self.service.cycle()
            cycles += 1
            time.sleep(pause_s)
        return cycles

    def describe(self) -> str:
        """The work queue and the transaction intents, for a failure message."""
        lines = []
        with self.engine.begin() as conn:
            for row in conn.execute(select(relay_job_table).order_by(relay_job_table.c.packet_nonce)):
                lines.append(f"job {row.packet_nonce} kind {row.kind} {row.stage}")
                lines.append(f"  {row.retry_reason}: {row.retry_detail}")
            for row in conn.execute(select(payout_job_table)):
                lines.append(f"payout job {row.distribution_id[:10]} {row.stage}")
                lines.append(f"  {row.retry_reason}: {row.retry_detail}")
            for row in conn.execute(select(tx_intent_table).order_by(tx_intent_table.c.id)):
                lines.append(
                    f"intent {row.id} {row.key} {row.state} {row.reason_code}: {(row.reason or '')[:200]}"
                )
        return "\n".join(lines)


def relayer_config(stack: DevnetStack, url: str) -> ExorelayConfig:
    return ExorelayConfig.model_validate(stack.relayer_settings(url))


SCENARIO_OPERATORS = 4


SCENARIO_STAKERS = 8


AVS_B_FUNDING_WEI = 2 * 10**21
"""The VAULT-funded AVS of the standard scenario pays WETH: it must have deposited it first."""


def run_standard_scenario(
    h: RelayerHarness,
    payout_modes: tuple[PayoutMode, PayoutMode] = (PayoutMode.PER_DISTRIBUTION, PayoutMode.PER_DISTRIBUTION),
) -> Any:
    report = run_manifest_scenario(
        h.client,
        h.stack.manifest,
        operators=SCENARIO_OPERATORS,
        stakers=SCENARIO_STAKERS,
        payout_modes=payout_modes,
    )
    h.stack.fund_avs_eth(report.avss[1], AVS_B_FUNDING_WEI, account_index=2)
    h.client.advance(2)
    return report


def jobs(h: RelayerHarness) -> list[Any]:
    with h.engine.begin() as conn:
        return list(conn.execute(select(relay_job_table).order_by(relay_job_table.c.packet_nonce)))


def payout_jobs(h: RelayerHarness) -> list[Any]:
    with h.engine.begin() as conn:
        return list(conn.execute(select(payout_job_table)))


def all_delivered_and_paid(h: RelayerHarness, packets: int) -> bool:
    rows = jobs(h)
    if len(rows) < packets or any(r.stage != JobStage.DELIVERED.value for r in rows):
        return False
    pays = payout_jobs(h)
    expected = sum(1 for r in rows if r.kind == 2)
    return len(pays) == expected and all(p.stage == PayoutStage.PAID.value for p in pays)


def gateway_contract(h: RelayerHarness) -> Any:
    """A web3 handle on the harness's L1 and its gateway contract."""
    w3 = Web3(Web3.HTTPProvider(h.stack.manifest["l1"]["rpc_url"]))
    return w3, w3.eth.contract(
        address=Web3.to_checksum_address(h.stack.gateway),
        abi=load_artifact(ContractName.EXOCORE_GATEWAY).abi_list(),
    )
