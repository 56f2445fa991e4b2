"""RPC outages on either side: the relayer records why it waits, keeps its state, and resumes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from eth_account import Account
from sqlalchemy import select

from devnet.scenario import ScenarioClient
from devnet.stack import DevnetStack
from relayer.config import ExorelayConfig
from relayer.exocore.proto.devnet.v1 import tx_pb2 as tx
from relayer.pipeline.retry import RetryReason
from relayer.service import RelayerService
from storage.job_tables import relay_job_table
from tests.relayer.pipeline.proxy import TcpProxy
from tests.support.database import fresh_database
from tests.support.relayer_harness import (
    L1_BLOCK_TIME_S,
    SIGNER_ACCOUNT_INDEX,
    RelayerHarness,
    all_delivered_and_paid,
    jobs,
    payout_jobs,
    run_standard_scenario,
)


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[tuple[RelayerHarness, TcpProxy]]:
    """A relayer whose L1 endpoint goes through a proxy the test can cut."""
    with (
        DevnetStack(tmp_path / "chains", exocore_block_time_s=None, l1_block_time_s=L1_BLOCK_TIME_S) as stack,
        fresh_database(tmp_path) as engine,
    ):
        l1 = urlparse(stack.manifest["l1"]["rpc_url"])
        assert l1.hostname is not None and l1.port is not None
        proxy = TcpProxy(l1.hostname, l1.port).start()
        settings = stack.relayer_settings("sqlite://")
        settings["l1"]["rpc_urls"] = [proxy.url]
        settings["l1"]["request_timeout_s"] = 2.0
        config = ExorelayConfig.model_validate(settings)
        assert stack.anvil is not None
        signer = Account.from_key(stack.anvil.dev_accounts()[SIGNER_ACCOUNT_INDEX].private_key)
        service = RelayerService(config, signer=signer, engine=engine)
        exocore = stack.manifest["exocore"]
        with ScenarioClient.for_manifest(exocore, manifest_keystores=False, sign_reports=False) as client:
            yield RelayerHarness(stack, engine, config, signer, service, client), proxy
        service.stop()
        proxy.close()


def test_l1_outage_waits_with_a_reason_then_resumes(proxied: tuple[RelayerHarness, TcpProxy]) -> None:
    h, proxy = proxied
    proxy.cut()
    run_standard_scenario(h)
    h.cycle_until(lambda: len(jobs(h)) == 2 and all(r.retry_reason is not None for r in jobs(h)))
    assert {r.retry_reason for r in jobs(h)} == {RetryReason.L1_UNAVAILABLE.value}
    assert all(r.stage == "discovered" for r in jobs(h))
    h.service.refresh_metrics()
    assert l1_endpoint_state(h) == 1  # cooling down after its failure
    proxy.restore()
    h.cycle_until(lambda: all_delivered_and_paid(h, packets=2), timeout_s=90)
    h.service.refresh_metrics()
    assert l1_endpoint_state(h) == 0


def l1_endpoint_state(h: RelayerHarness) -> float | None:
    labels = {"client": "l1", "endpoint": h.service.parts.l1.urls[0]}
    return h.service.parts.metrics.registry.get_sample_value("exorelay_endpoint_state", labels)


def test_exocore_rpc_outage_bridged_by_the_sweep_then_the_follower_catches_up(
    harness: RelayerHarness,
) -> None:
    """CometBFT RPC down, gRPC up: packets are still found (by nonce) and delivered; payouts wait for
    the block feed to index the leaves (typed reason), and everything is paid once RPC is back."""
    h = harness
    h.client.send(tx.MsgSetFaultKnobs(knobs=tx.FaultKnobs(rpc_outage=True)))
    run_standard_scenario(h)
    h.service.sweep()  # no event reaches us: the packets are found by nonce alone
    h.cycle_until(lambda: len(jobs(h)) == 2 and all(r.stage == "delivered" for r in jobs(h)))
    waiting = {RetryReason.LEAVES_NOT_INDEXED.value}
    h.cycle_until(lambda: len(payout_jobs(h)) == 2 and {p.retry_reason for p in payout_jobs(h)} == waiting)
    h.client.send(tx.MsgSetFaultKnobs(knobs=tx.FaultKnobs()))
    head = h.client.advance(1)
    h.cycle_until(lambda: all_delivered_and_paid(h, packets=2), timeout_s=90)
    assert h.service.parts.follower.next_height > head
    with h.engine.begin() as conn:
        assert len(list(conn.execute(select(relay_job_table)))) == 2
