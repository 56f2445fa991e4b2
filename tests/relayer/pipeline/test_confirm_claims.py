"""The confirm stage (reading the outcome of submitted packets) claims no job and submits nothing: a
second relayer process running it moves another process's submitted packets to ``delivered``
without taking them, queuing a transaction or sending one. Only the process that claimed a job at
``discovered`` (the prepare stage) queues its transaction, and only the signer lease's holder signs.

Real chains (devnet + anvil), two real relayer services on one database; no stand-ins.
"""

from __future__ import annotations

import time
from typing import Any, Final

from eth_account import Account
from sqlalchemy import func, select
from web3 import Web3

from devnet.scenario import run_manifest_scenario
from relayer.exocore.events import RelayPacketCreated
from relayer.pipeline.stages import CycleReport
from relayer.service import RelayerService
from storage.job_tables import JobStage, relay_job_table
from storage.l1_tables import IntentState, tx_intent_table
from tests.support.relayer_harness import RelayerHarness

HANG_BOUND_S: Final = 180.0
"""Bounds a hang of the first process's transactions reaching finality; not a speed requirement."""

DONE: Final = (IntentState.FINALIZED.value, IntentState.ALREADY_DONE.value)


def claims_and_intents(h: RelayerHarness) -> tuple[list[tuple[Any, ...]], int]:
    j = relay_job_table
    with h.engine.connect() as conn:
        claims = conn.execute(select(j.c.packet_nonce, j.c.claimed_by, j.c.claimed_until)).all()
        intents = conn.execute(select(func.count()).select_from(tx_intent_table)).scalar_one()
    return sorted(tuple(row) for row in claims), int(intents)


def test_the_confirm_stage_of_another_process_claims_nothing_and_submits_nothing(
    harness: RelayerHarness,
) -> None:
    h = harness
    run_manifest_scenario(h.client, h.stack.manifest, operators=4, stakers=4)
    h.client.advance(2)
    first = h.service
    created: list[tuple[int, RelayPacketCreated]] = []
    first._follow_exocore(created)
    # Taking the Exocore stream's lease sweeps at once, so the packets may be jobs already;
    # discovering them again adds nothing. Either way every created packet is a job now.
    first.parts.pipeline.discover(created)
    with h.engine.connect() as conn:
        jobs = set(conn.execute(select(relay_job_table.c.packet_nonce)).scalars())
    assert created and {event.nonce for _, event in created} <= jobs
    first.parts.pipeline.prepare_and_submit(CycleReport())
    with h.engine.connect() as conn:
        submitted = set(
            conn.execute(
                select(relay_job_table.c.packet_nonce).where(
                    relay_job_table.c.stage == JobStage.SUBMITTED.value
                )
            ).scalars()
        )
    assert submitted
    # The first process's transaction manager (it holds the signer lease) takes them to finality.
    deadline = time.monotonic() + HANG_BOUND_S
    while True:
        with h.engine.connect() as conn:
            states = set(conn.execute(select(tx_intent_table.c.state)).scalars())
        if states <= set(DONE):
            break
        assert time.monotonic() < deadline, f"intents not final: {states}\n{h.describe()}"
        first.parts.txm.tick()
        time.sleep(0.2)
    w3 = Web3(Web3.HTTPProvider(h.stack.manifest["l1"]["rpc_url"]))
    assert h.stack.anvil is not None
    second_signer = Account.from_key(h.stack.anvil.dev_accounts()[2].private_key)
    sent_before = [w3.eth.get_transaction_count(a) for a in (h.signer.address, second_signer.address)]
    before = claims_and_intents(h)
    assert all(claimed_by is None for _, claimed_by, _ in before[0])
    second = RelayerService(h.config, signer=second_signer, engine=h.engine)
    try:
        assert second.parts.pipeline.claimant.holder != first.parts.pipeline.claimant.holder
        report = CycleReport()
        second.parts.pipeline.confirm(report)
    finally:
        second.stop()
    with h.engine.connect() as conn:
        stages = dict(
            conn.execute(
                select(relay_job_table.c.packet_nonce, relay_job_table.c.stage).where(
                    relay_job_table.c.packet_nonce.in_(submitted)
                )
            ).all()
        )
    assert set(stages.values()) == {JobStage.DELIVERED.value}
    # Not one claim taken, not one intent queued, not one transaction sent by either key.
    assert claims_and_intents(h) == before
    assert [w3.eth.get_transaction_count(a) for a in (h.signer.address, second_signer.address)] == sent_before
