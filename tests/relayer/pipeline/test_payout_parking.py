"""A VAULT-funded distribution whose AVS has not deposited: the payout job parks with the exact
amounts (read from the RewardVault), sends and simulates nothing while parked, and pays every leaf
once by itself after the deposit (real devnet + anvil)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from devnet.scenario import run_manifest_scenario
from indexer.api import ReadinessPolicy, create_app
from relayer.ops import status
from relayer.pipeline.retry import PARKED_RECHECK_S, RetryReason
from relayer.protocol.packets import FundingMode
from storage.job_tables import PayoutStage
from storage.l1_tables import tx_intent_table
from storage.models import distribution_table, l1_tx_table, payout_table
from storage.store import utc_now
from tests.support.relayer_harness import (
    AVS_B_FUNDING_WEI,
    SCENARIO_OPERATORS,
    SCENARIO_STAKERS,
    RelayerHarness,
    gateway_contract,
    payout_jobs,
)

PARKED_CYCLES = 30
"""Cycles run while parked (and not due): none may write a transaction or a failed attempt."""


def _vault_distribution(h: RelayerHarness) -> Any:
    with h.engine.connect() as conn:
        return conn.execute(
            select(distribution_table).where(distribution_table.c.funding == int(FundingMode.VAULT))
        ).first()


def _payout_job(h: RelayerHarness, distribution_id: str) -> Any:
    return next((j for j in payout_jobs(h) if j.distribution_id == distribution_id), None)


def _payout_rows(h: RelayerHarness, distribution_id: str) -> tuple[int, int]:
    """(payout tx intents, l1_tx rows) of the distribution's payouts."""
    with h.engine.connect() as conn:
        intents = conn.execute(
            select(func.count()).where(
                tx_intent_table.c.distribution_id == distribution_id, tx_intent_table.c.purpose == "payout"
            )
        ).scalar_one()
        txs = conn.execute(
            select(func.count()).where(
                l1_tx_table.c.distribution_id == distribution_id, l1_tx_table.c.purpose == "payout"
            )
        ).scalar_one()
    return int(intents), int(txs)


def test_an_unfunded_vault_parks_the_payout_job_then_a_deposit_resumes_it(harness: RelayerHarness) -> None:
    h = harness
    report = run_manifest_scenario(
        h.client, h.stack.manifest, operators=SCENARIO_OPERATORS, stakers=SCENARIO_STAKERS
    )
    h.client.advance(2)  # no deposit for the VAULT-funded AVS

    def parked() -> bool:
        dist = _vault_distribution(h)
        job = None if dist is None else _payout_job(h, dist.distribution_id)
        return job is not None and job.retry_reason == RetryReason.INSUFFICIENT_DEPOSIT.value

    h.cycle_until(parked, timeout_s=90)
    dist = _vault_distribution(h)
    job = _payout_job(h, dist.distribution_id)
    vault = h.stack.manifest["l1"]["contracts"]["reward_vault"].lower()
    total = int(dist.total)
    assert job.stage == PayoutStage.PAYING.value
    assert job.retry_detail == (
        f"RewardVault {vault} holds 0 of token {dist.token} for AVS {dist.avs_address} (VAULT source); "
        f"the next payout batch needs {total} (short by {total})"
    )
    assert _payout_rows(h, dist.distribution_id) == (0, 0)  # checked by a balance read, nothing sent
    # Parked: backs off to the re-check interval; cycles meanwhile write nothing, attempt nothing.
    assert job.next_attempt_at is not None
    assert timedelta(0) < job.next_attempt_at - job.updated_at <= timedelta(seconds=PARKED_RECHECK_S)
    for _ in range(PARKED_CYCLES):
        h.service.cycle()
    again = _payout_job(h, dist.distribution_id)
    assert (again.attempts, again.retry_detail) == (job.attempts, job.retry_detail)
    assert _payout_rows(h, dist.distribution_id) == (0, 0)
    shown = status(h.engine)
    assert [(p.item, p.retry_reason) for p in shown.parked_payouts] == [
        (f"distribution:{dist.distribution_id}", "insufficient_deposit")
    ]
    with TestClient(create_app(h.engine, readiness=ReadinessPolicy(max_age_s=10**9))) as api:
        body = api.get("/ready").json()
    attention = body["attention"] if "attention" in body else body["error"]["details"]["attention"]
    assert attention == [
        f"payout distribution:{dist.distribution_id} parked: insufficient_deposit: {job.retry_detail}"
    ]
    h.service.parts.metrics.refresh_from_db(h.engine)
    sample = h.service.parts.metrics.registry.get_sample_value
    assert sample("exorelay_payouts_parked", {"reason": "insufficient_deposit"}) == 1
    # The ingestion metrics (halts, poisoned blocks) are served by the same registry as the relayer's.
    assert (sample("exorelay_indexer_batches_total", {"stream": "exocore"}) or 0) > 0
    assert sample("exorelay_indexer_poisoned_blocks_total", {"stream": "exocore"}) in (None, 0.0)

    # The AVS deposits; the next re-check (the pipeline's clock moved past the back-off) resumes it.
    h.stack.fund_avs_eth(report.avss[1], AVS_B_FUNDING_WEI, account_index=2)
    pipeline = h.service.parts.pipeline
    later = timedelta(seconds=PARKED_RECHECK_S + 1)

    def shifted() -> datetime:
        return utc_now() + later

    pipeline.clock = shifted
    h.cycle_until(lambda: _payout_job(h, dist.distribution_id).stage == PayoutStage.PAID.value, timeout_s=90)
    done = _payout_job(h, dist.distribution_id)
    assert done.retry_reason is None
    assert status(h.engine).parked_payouts == ()
    _w3, gateway = gateway_contract(h)
    paid = gateway.events.RewardPaid.get_logs(from_block=0)
    per_leaf = Counter(
        log.args.index for log in paid if "0x" + bytes(log.args.distributionId).hex() == dist.distribution_id
    )
    assert len(per_leaf) == int(dist.leaf_count) and set(per_leaf.values()) == {1}
    with h.engine.connect() as conn:
        states = set(
            conn.execute(
                select(payout_table.c.state).where(payout_table.c.distribution_id == dist.distribution_id)
            ).scalars()
        )
    assert states == {"finalized"}
    intents, _txs = _payout_rows(h, dist.distribution_id)
    with h.engine.connect() as conn:
        failed = conn.execute(
            select(func.count()).where(
                tx_intent_table.c.distribution_id == dist.distribution_id, tx_intent_table.c.state == "failed"
            )
        ).scalar_one()
    assert failed == 0 and intents >= 1
