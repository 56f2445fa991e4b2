"""Both chains for real (anvil + contracts + the Exocore devnet) and a relayer wired to them."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine, select

from devnet.scenario import ScenarioClient
from devnet.stack import DevnetStack
from relayer.config import ExorelayConfig
from relayer.l1.tables import tx_intent_table
from relayer.pipeline.tables import payout_job_table, relay_job_table
from relayer.service import RelayerService
from tests.indexer.conftest import fresh_database

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


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[RelayerHarness]:
    with (
        DevnetStack(tmp_path / "chains", exocore_block_time_s=None, l1_block_time_s=L1_BLOCK_TIME_S) as stack,
        fresh_database(tmp_path) as engine,
    ):
        config = relayer_config(stack, str(engine.url.render_as_string(hide_password=False)))
        assert stack.anvil is not None
        signer = Account.from_key(stack.anvil.dev_accounts()[SIGNER_ACCOUNT_INDEX].private_key)
        service = RelayerService(config, signer=signer, engine=engine)
        exocore = stack.manifest["exocore"]
        with ScenarioClient(exocore["grpc_target"], exocore["chain_id"]) as client:
            yield RelayerHarness(stack, engine, config, signer, service, client)
        service.stop()
