"""An operator's exclude committed while the pipeline prepares the same packet wins (compare-and-set).

Deterministic, no sleeps: the prepare runs for real (devnet + anvil) up to the write that would move
the job to ``submitted``; at that point an ``exorelay exclude`` commits on its own connection, then
the prepare writes, and must lose: no intent, no transaction, the job stays excluded.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Connection, func, select

from devnet.scenario import run_manifest_scenario
from relayer.exocore.events import RelayPacketCreated
from relayer.ops import exclude
from relayer.pipeline.stages import CycleReport
from storage.job_tables import JobStage, relay_job_table
from storage.l1_tables import tx_intent_table
from tests.support.relayer_harness import RelayerHarness

EXCLUDE_REASON = "poison (race test)"


def test_an_exclude_committed_during_prepare_is_not_overwritten_and_nothing_is_submitted(
    harness: RelayerHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = harness
    run_manifest_scenario(h.client, h.stack.manifest, operators=4, stakers=4)
    h.client.advance(2)
    service, pipeline = h.service, h.service.parts.pipeline
    created: list[tuple[int, RelayPacketCreated]] = []
    service._follow_exocore(created)  # follow Exocore without running the stages
    # Taking the Exocore stream's lease sweeps at once, so the packets may be jobs already;
    # discovering them again adds nothing. Either way every created packet is a job now.
    pipeline.discover(created)
    with h.engine.connect() as conn:
        jobs = set(conn.execute(select(relay_job_table.c.packet_nonce)).scalars())
    assert created and {event.nonce for _, event in created} <= jobs
    with h.engine.connect() as conn:
        first = int(conn.execute(select(func.min(relay_job_table.c.packet_nonce))).scalar_one())

    real_enqueue = pipeline.txm.enqueue
    raced: list[int] = []

    def exclude_then_enqueue(conn: Connection, **intent: Any) -> int:
        # The prepare has read the job (discovered), checked everything and opened its write
        # transaction: now the operator's exclude commits on another connection.
        if intent.get("packet_nonce") == first and not raced:
            raced.append(first)
            exclude(h.engine, f"packet:{first}", EXCLUDE_REASON)
        return real_enqueue(conn, **intent)

    monkeypatch.setattr(pipeline.txm, "enqueue", exclude_then_enqueue)
    report = CycleReport()
    pipeline.prepare_and_submit(report)
    assert raced == [first]
    with h.engine.connect() as conn:
        row = conn.execute(select(relay_job_table).where(relay_job_table.c.packet_nonce == first)).one()
        intents = conn.execute(
            select(func.count()).where(tx_intent_table.c.packet_nonce == first)
        ).scalar_one()
    assert (row.stage, row.excluded_reason, row.tx_intent_id) == (
        JobStage.EXCLUDED.value,
        EXCLUDE_REASON,
        None,
    )
    assert intents == 0
    # Later cycles do not pick it up either: nothing for this packet ever reaches the tx manager.
    monkeypatch.setattr(pipeline.txm, "enqueue", real_enqueue)
    service.cycle()
    with h.engine.connect() as conn:
        assert (
            conn.execute(select(func.count()).where(tx_intent_table.c.packet_nonce == first)).scalar_one()
            == 0
        )
        assert (
            conn.execute(
                select(relay_job_table.c.stage).where(relay_job_table.c.packet_nonce == first)
            ).scalar_one()
            == JobStage.EXCLUDED.value
        )
