"""A staker pays its own per-distribution leaf while the relayer is down (real devnet + anvil): the
VAULT-funded distribution's payout job parks on the missing deposit, the relayer stops, the AVS
deposits, the staker sends the ``claim`` calldata ``GET /v1/stakers/{staker}/claims`` serves, and the
relayer, restarted, pays every other leaf and skips that one; the indexer records the self-claimed
payout as ``paid_by`` staker and the pushed ones as relayer."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from web3 import Web3
from web3.types import RPCEndpoint

from devnet.scenario import run_manifest_scenario
from indexer.api import ReadinessPolicy, create_app
from relayer.pipeline.retry import RetryReason
from relayer.protocol.packets import FundingMode
from relayer.service import RelayerService
from storage.job_tables import PayoutStage
from storage.models import distribution_table, payout_table
from tests.support.relayer_harness import (
    AVS_B_FUNDING_WEI,
    SCENARIO_OPERATORS,
    SCENARIO_STAKERS,
    RelayerHarness,
    gateway_contract,
    payout_jobs,
)


def _vault_distribution(h: RelayerHarness) -> Any:
    with h.engine.connect() as conn:
        return conn.execute(
            select(distribution_table).where(distribution_table.c.funding == int(FundingMode.VAULT))
        ).first()


def _job(h: RelayerHarness, distribution_id: str) -> Any:
    return next((j for j in payout_jobs(h) if j.distribution_id == distribution_id), None)


def test_a_staker_claims_its_leaf_with_the_api_calldata_and_the_relayer_skips_it(
    harness: RelayerHarness,
) -> None:
    h = harness
    report = run_manifest_scenario(
        h.client, h.stack.manifest, operators=SCENARIO_OPERATORS, stakers=SCENARIO_STAKERS
    )
    h.client.advance(2)  # no deposit yet: the VAULT distribution's payouts park

    def parked() -> bool:
        dist = _vault_distribution(h)
        job = None if dist is None else _job(h, dist.distribution_id)
        return job is not None and job.retry_reason == RetryReason.INSUFFICIENT_DEPOSIT.value

    h.cycle_until(parked, timeout_s=90)
    dist = _vault_distribution(h)
    h.service.stop()  # the relayer is down from here
    h.stack.fund_avs_eth(report.avss[1], AVS_B_FUNDING_WEI, account_index=2)
    with h.engine.connect() as conn:
        rows = conn.execute(
            select(payout_table.c.staker, payout_table.c.leaf_index, payout_table.c.amount).where(
                payout_table.c.distribution_id == dist.distribution_id
            )
        ).all()
    staker, index, amount = max(rows, key=lambda r: int(r.amount))
    with TestClient(create_app(h.engine, readiness=ReadinessPolicy(max_age_s=10**9))) as api:
        served = api.get(f"/v1/stakers/{staker}/claims").json()
    (leaf,) = [x for x in served["leaves"] if x["distribution_id"] == dist.distribution_id]
    assert (leaf["leaf_index"], leaf["amount"], leaf["status"]) == (index, str(amount), "pending")
    w3, gateway = gateway_contract(h)
    sender = Web3.to_checksum_address(staker)
    w3.provider.make_request(RPCEndpoint("anvil_impersonateAccount"), [sender])
    w3.provider.make_request(RPCEndpoint("anvil_setBalance"), [sender, hex(10**18)])
    sent = w3.eth.send_transaction({"from": sender, "to": gateway.address, "data": leaf["calldata"]})
    assert w3.eth.wait_for_transaction_receipt(sent)["status"] == 1

    service = RelayerService(h.config, signer=h.signer, engine=h.engine)
    try:

        def paid() -> bool:
            job = _job(h, dist.distribution_id)
            return job is not None and job.stage == PayoutStage.PAID.value

        replace(h, service=service).cycle_until(paid, timeout_s=120)
    finally:
        service.stop()
    events = gateway.events.RewardPaid.get_logs(from_block=0)
    mine = [e for e in events if "0x" + bytes(e.args.distributionId).hex() == dist.distribution_id]
    assert sorted(int(e.args.index) for e in mine) == sorted(int(r.leaf_index) for r in rows)  # each once
    (own,) = [e for e in mine if int(e.args.index) == index]
    assert own.transactionHash == sent
    with h.engine.connect() as conn:
        paid_by = dict(
            conn.execute(
                select(payout_table.c.leaf_index, payout_table.c.paid_by).where(
                    payout_table.c.distribution_id == dist.distribution_id
                )
            ).all()
        )
    assert paid_by.pop(index) == "staker"
    assert set(paid_by.values()) == {"relayer"}
    with TestClient(create_app(h.engine, readiness=ReadinessPolicy(max_age_s=10**9))) as api:
        assert api.get(f"/v1/stakers/{staker}/claims").json()["leaves"] == []
