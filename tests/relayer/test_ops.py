"""Operator actions on the work queue (status, retry, exclude) on a migrated database, and their CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select, text
from typer.testing import CliRunner

from indexer.ingest.exocore import ExocoreIngestor
from relayer.cli import app
from relayer.errors import StorageError
from relayer.ops import (
    STATUS_LIST_LIMIT,
    InvalidItemError,
    ItemId,
    ItemStateError,
    OpsDatabaseError,
    UnknownItemError,
    exclude,
    parse_item_id,
    retry,
    status,
)
from relayer.pipeline import jobs
from relayer.pipeline.errors import StageMovedError
from relayer.pipeline.jobs import Backoff
from relayer.pipeline.retry import RetryReason
from storage.db import create_db_engine
from storage.job_tables import JobStage, PayoutStage, payout_job_table, relay_job_table
from storage.jobs import BACKLOG_STAGES
from storage.l1_tables import IntentState, tx_intent_table
from storage.leases import acquire, release
from storage.lifecycle import ClaimState, EntityKind, SlashState
from storage.models import claim_table, cursor_table, poisoned_block_table, slash_table, transition_table
from storage.records import ExocoreBlock, PacketCreated
from storage.store import LifecycleStore
from tests.support.database import ops_database
from tests.support.indexer_factory import AVS, ClaimPlan, avs_registered, committee, h, slash_events
from tests.support.ops_data import NOW, add_job, add_payout_job, clock, empty_tables

GATEWAY = "0x" + "6a" * 20
SENDER = "0x" + "5e" * 20


# ------------------------------------------------------------------------------------------ database


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with ops_database(tmp_path_factory.mktemp("ops-db")) as url:
        yield url


@pytest.fixture(scope="module")
def module_engine(database_url: str) -> Iterator[Engine]:
    engine = create_db_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(module_engine: Engine) -> Engine:
    empty_tables(module_engine)
    return module_engine


# ------------------------------------------------------------------------------------------ rows


def add_intent(
    engine: Engine, key: str, state: IntentState, *, purpose: str = "distribution", **values: Any
) -> int:
    row: dict[str, Any] = {
        "key": key,
        "chain_id": 31337,
        "sender": SENDER,
        "purpose": purpose,
        "to_address": GATEWAY,
        "calldata": "0x1234",
        "leaf_indices": [],
        "value_wei": 0,
        "state": state.value,
        "created_at": NOW - timedelta(minutes=5),
        "updated_at": NOW - timedelta(minutes=5),
    }
    row.update(values)
    with engine.begin() as conn:
        return int(
            conn.execute(insert(tx_intent_table).values(**row).returning(tx_intent_table.c.id)).scalar_one()
        )


def job(engine: Engine, nonce: int) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(relay_job_table).where(relay_job_table.c.packet_nonce == nonce)).one()


def payout_job(engine: Engine, distribution_id: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(
            select(payout_job_table).where(payout_job_table.c.distribution_id == distribution_id)
        ).one()


def intent_state(engine: Engine, intent_id: int) -> str:
    with engine.connect() as conn:
        return str(
            conn.execute(
                select(tx_intent_table.c.state).where(tx_intent_table.c.id == intent_id)
            ).scalar_one()
        )


def ingest_claim(engine: Engine, plan: ClaimPlan) -> None:
    """The claim, its distribution and its packet as the indexer records them from Exocore."""
    ingestor = ExocoreIngestor(LifecycleStore(engine))
    t0 = NOW - timedelta(hours=1)
    events = plan.exocore_events()
    assert ingestor.apply_block(ExocoreBlock(1, h("b1"), t0, (avs_registered(), committee())))
    assert ingestor.apply_block(ExocoreBlock(2, h("b2"), t0 + timedelta(seconds=3), tuple(events[:2])))
    assert ingestor.apply_block(ExocoreBlock(3, h("b3"), t0 + timedelta(seconds=6), tuple(events[2:])))


def ingest_slash(engine: Engine, nonce: int) -> str:
    """A slash executed on Exocore and its relay packet (kind 3); returns the slash id."""
    slash_id = h("slash-s1")
    packet = PacketCreated(
        nonce=nonce,
        kind=3,
        valset_nonce=1,
        payload="0x" + "ab" * 32,
        payload_hash=h("slash-payload"),
        digest=h("slash-digest"),
        subject_id=slash_id,
        avs=AVS,
    )
    ingestor = ExocoreIngestor(LifecycleStore(engine))
    t0 = NOW - timedelta(hours=1)
    assert ingestor.apply_block(ExocoreBlock(1, h("b1"), t0, (avs_registered(), committee())))
    assert ingestor.apply_block(ExocoreBlock(2, h("b2"), t0, (*slash_events(), packet)))
    return slash_id


def state_and_reason(engine: Engine, table: Any, key: Any) -> tuple[str, str | None, str | None]:
    with engine.connect() as conn:
        row = conn.execute(select(table.c.state, table.c.reason_code, table.c.reason).where(key)).one()
    return row.state, row.reason_code, row.reason


def last_transition(engine: Engine, kind: EntityKind, entity_id: str) -> Any:
    t = transition_table
    with engine.connect() as conn:
        return conn.execute(
            select(t)
            .where(t.c.entity_kind == kind.value, t.c.entity_id == entity_id)
            .order_by(t.c.id.desc())
            .limit(1)
        ).one()


# ------------------------------------------------------------------------------------------ item ids


def test_item_ids_parse_and_bad_ones_are_refused_with_a_typed_error() -> None:
    dist = "0x" + "Ab" * 32
    assert parse_item_id("packet:7") == ItemId(packet_nonce=7)
    assert parse_item_id(" 12 ") == ItemId(packet_nonce=12)
    assert parse_item_id(f"distribution:{dist}") == ItemId(distribution_id=dist.lower())
    assert str(parse_item_id(f"Distribution:{dist}")) == f"distribution:{dist.lower()}"
    for bad in (
        "",
        "packet:",
        "packet:-1",
        "packet:x",
        "0x12",
        "distribution:0x12",
        f"dist:{dist}",
        "9" * 20,
    ):
        with pytest.raises(InvalidItemError) as info:
            parse_item_id(bad)
        assert isinstance(info.value, ValueError) and isinstance(info.value, StorageError)


# ------------------------------------------------------------------------------------------ status


def test_status_of_an_empty_queue(engine: Engine) -> None:
    snapshot = status(engine, clock=clock)
    assert set(snapshot.relay_jobs) == {s.value for s in JobStage}
    assert set(snapshot.payout_jobs) == {s.value for s in PayoutStage}
    assert sum(snapshot.relay_jobs.values()) + sum(snapshot.payout_jobs.values()) == 0
    assert dict(snapshot.backlog) == dict.fromkeys(BACKLOG_STAGES, 0)
    assert snapshot.oldest_pending is None and snapshot.oldest_pending_age_s is None
    assert (snapshot.open_intents, snapshot.waiting, snapshot.halted_streams) == ((), (), ())
    assert snapshot.intent_states == {"included": 0, "pending": 0, "queued": 0}


def test_status_reports_backlog_oldest_age_intents_waiting_jobs_and_halted_streams(engine: Engine) -> None:
    dist = h("distribution-status")
    add_job(engine, 1, JobStage.DELIVERED)
    add_job(engine, 2, JobStage.SUBMITTED)  # 2 minutes old
    add_job(
        engine,
        3,
        JobStage.DISCOVERED,
        retry_reason="no_quorum",
        retry_detail="5/9 signed",
        attempts=3,
        next_attempt_at=NOW + timedelta(seconds=16),
    )
    add_job(engine, 4, JobStage.REFUSED, retry_reason="root_mismatch", retry_detail="leaves give 0xdead")
    add_job(engine, 5, JobStage.PREPARED, discovered_at=NOW - timedelta(seconds=30))
    add_job(engine, 6, JobStage.EXCLUDED, excluded_reason="poison")
    add_payout_job(
        engine,
        dist,
        40,
        PayoutStage.PAYING,
        retry_reason="l1_unavailable",
        attempts=1,
        next_attempt_at=NOW + timedelta(seconds=2),
    )
    add_payout_job(engine, h("distribution-paid"), 41, PayoutStage.PAID)
    pending = add_intent(
        engine, "packet:2", IntentState.PENDING, packet_nonce=2, tx_nonce=7, tx_hash=h("tx2")
    )
    add_intent(engine, "packet:1", IntentState.FINALIZED, packet_nonce=1)
    add_intent(engine, f"payout:{dist}:0", IntentState.QUEUED, purpose="payout", distribution_id=dist)
    with engine.begin() as conn:
        conn.execute(
            insert(cursor_table).values(
                stream="l1",
                chain="l1",
                height=120,
                block_hash=h("l1-120"),
                halted=True,
                halt_reason="invariant 'paid_within_total' violated",
                updated_at=NOW,
            )
        )
        conn.execute(
            insert(cursor_table).values(
                stream="exocore", chain="exocore", height=9, block_hash=h("e9"), updated_at=NOW
            )
        )

    snapshot = status(engine, clock=clock)

    assert snapshot.relay_jobs == {
        "discovered": 1,
        "prepared": 1,
        "submitted": 1,
        "delivered": 1,
        "refused": 1,
        "excluded": 1,
    }
    assert snapshot.payout_jobs == {"waiting_root": 0, "paying": 1, "paid": 1, "excluded": 0}
    assert dict(snapshot.backlog) == {
        "discovered": 1,
        "prepared": 1,
        "submitted": 1,
        "refused": 1,
        "waiting_root": 0,
        "paying": 1,
    }
    # The payout job was created 40 minutes ago: older than any open relay job (the refused one is
    # waiting for an operator, not pending work of the pipeline).
    assert snapshot.oldest_pending is not None
    assert (snapshot.oldest_pending.item, snapshot.oldest_pending.stage) == (f"distribution:{dist}", "paying")
    assert snapshot.oldest_pending_age_s == 40 * 60
    assert snapshot.intent_states == {"queued": 1, "pending": 1, "included": 0}
    assert [(i.key, i.state) for i in snapshot.open_intents] == [
        ("packet:2", "pending"),
        (f"payout:{dist}:0", "queued"),
    ]
    assert snapshot.open_intents[0].id == pending and snapshot.open_intents[0].tx_hash == h("tx2")
    # Soonest next attempt first; the refused job (no next attempt: it waits for an operator) last.
    assert [(w.item, w.stage, w.retry_reason, w.attempts) for w in snapshot.waiting] == [
        (f"distribution:{dist}", "paying", "l1_unavailable", 1),
        ("packet:3", "discovered", "no_quorum", 3),
        ("packet:4", "refused", "root_mismatch", 0),
    ]
    assert snapshot.waiting[1].retry_detail == "5/9 signed"
    assert snapshot.waiting[1].next_attempt_at == NOW + timedelta(seconds=16)
    assert snapshot.waiting_total == 3
    assert [(s.stream, s.height, s.reason) for s in snapshot.halted_streams] == [
        ("l1", 120, "invariant 'paid_within_total' violated")
    ]
    as_json = json.loads(json.dumps(snapshot.to_json()))
    assert as_json["backlog"]["paying"] == 1
    assert as_json["oldest_pending"]["age_s"] == 2400
    assert as_json["waiting"][1]["next_attempt_at"] == (NOW + timedelta(seconds=16)).isoformat()


def test_status_lists_are_bounded_but_totals_exact(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(relay_job_table),
            [
                {
                    "packet_nonce": n,
                    "kind": 2,
                    "valset_nonce": 1,
                    "exocore_height": n,
                    "stage": "discovered",
                    "retry_reason": "exocore_unavailable",
                    "attempts": 1,
                    "next_attempt_at": NOW + timedelta(seconds=n),
                    "discovered_at": NOW,
                    "updated_at": NOW,
                }
                for n in range(1, STATUS_LIST_LIMIT + 11)
            ],
        )
    snapshot = status(engine, clock=clock)
    assert len(snapshot.waiting) == STATUS_LIST_LIMIT
    assert snapshot.waiting_total == STATUS_LIST_LIMIT + 10
    assert snapshot.waiting[0].item == "packet:1"


# ------------------------------------------------------------------------------------------ retry


def test_retry_moves_a_refused_job_back_to_discovered_and_clears_its_backoff(engine: Engine) -> None:
    add_job(
        engine,
        4,
        JobStage.REFUSED,
        retry_reason="root_mismatch",
        retry_detail="leaves give 0xdead",
        attempts=5,
        next_attempt_at=NOW + timedelta(hours=1),
    )
    result = retry(engine, "packet:4", clock=clock)
    assert (result.item, result.from_stage, result.to_stage) == ("packet:4", "refused", "discovered")
    assert (result.previous_reason, result.previous_detail, result.previous_attempts) == (
        "root_mismatch",
        "leaves give 0xdead",
        5,
    )
    row = job(engine, 4)
    assert (row.stage, row.next_attempt_at, row.attempts, row.updated_at) == ("discovered", NOW, 0, NOW)
    # Why it was waiting stays on the row until the next attempt's outcome replaces it.
    assert (row.retry_reason, row.retry_detail) == ("root_mismatch", "leaves give 0xdead")


def test_retry_of_an_open_job_only_makes_it_due_now(engine: Engine) -> None:
    add_job(
        engine,
        3,
        JobStage.PREPARED,
        retry_reason="l1_unavailable",
        attempts=7,
        next_attempt_at=NOW + timedelta(minutes=5),
    )
    result = retry(engine, "3", clock=clock)
    assert (result.from_stage, result.to_stage) == ("prepared", "prepared")
    row = job(engine, 3)
    assert (row.stage, row.next_attempt_at, row.attempts) == ("prepared", NOW, 0)


def test_retry_of_a_payout_job(engine: Engine) -> None:
    dist = h("distribution-retry")
    add_payout_job(
        engine,
        dist,
        9,
        PayoutStage.PAYING,
        retry_reason="insufficient_funds",
        attempts=4,
        next_attempt_at=NOW + timedelta(minutes=5),
    )
    result = retry(engine, f"distribution:{dist.upper().replace('0X', '0x')}", clock=clock)
    assert (result.item, result.to_stage) == (f"distribution:{dist}", "paying")
    row = payout_job(engine, dist)
    assert (row.next_attempt_at, row.attempts, row.retry_reason) == (NOW, 0, "insufficient_funds")


def test_retry_refuses_delivered_paid_excluded_and_unknown_items(engine: Engine) -> None:
    add_job(engine, 1, JobStage.DELIVERED)
    add_job(engine, 2, JobStage.EXCLUDED, excluded_reason="poison")
    add_payout_job(engine, h("paid"), 3, PayoutStage.PAID)
    with pytest.raises(ItemStateError, match="packet:1 is delivered: nothing to retry"):
        retry(engine, "packet:1", clock=clock)
    with pytest.raises(ItemStateError, match="excluded it \\(poison\\)"):
        retry(engine, "packet:2", clock=clock)
    with pytest.raises(ItemStateError, match="every leaf is paid"):
        retry(engine, f"distribution:{h('paid')}", clock=clock)
    with pytest.raises(UnknownItemError, match="packet:99: no such job"):
        retry(engine, "packet:99", clock=clock)
    with pytest.raises(UnknownItemError):
        retry(engine, f"distribution:{h('nope')}", clock=clock)
    assert job(engine, 1).updated_at == NOW - timedelta(minutes=1)  # nothing written


# ------------------------------------------------------------------------------------------ exclude


def test_exclude_a_distribution_packet_excludes_its_claim_cancels_unsigned_work(engine: Engine) -> None:
    plan = ClaimPlan("poison", nonce=5)
    ingest_claim(engine, plan)
    add_job(engine, 5, JobStage.PREPARED, distribution_id=plan.distribution_id)
    add_payout_job(engine, plan.distribution_id, 5, PayoutStage.WAITING_ROOT)
    queued = add_intent(engine, "packet:5", IntentState.QUEUED, packet_nonce=5)

    result = exclude(engine, "packet:5", "  AVS asked us to hold it (ticket 42)  ", clock=clock)

    assert (result.item, result.from_stage, result.changed) == ("packet:5", "prepared", True)
    assert result.cancelled_intents == (queued,) and result.in_flight_intents == ()
    assert (result.subject, result.subject_excluded) == (f"claim {plan.claim_id}", True)
    assert "its payout job is excluded too" in result.notes
    row = job(engine, 5)
    assert (row.stage, row.excluded_reason, row.next_attempt_at) == (
        "excluded",
        "AVS asked us to hold it (ticket 42)",
        None,
    )
    assert payout_job(engine, plan.distribution_id).stage == "excluded"
    assert intent_state(engine, queued) == "cancelled"
    assert state_and_reason(engine, claim_table, claim_table.c.claim_id == plan.claim_id) == (
        ClaimState.EXCLUDED,
        "operator_excluded",
        "AVS asked us to hold it (ticket 42)",
    )
    step = last_transition(engine, EntityKind.CLAIM, plan.claim_id)
    assert (step.from_state, step.to_state, step.chain, step.edge) == (
        "attested",
        "excluded",
        "operator",
        "forward",
    )
    assert step.reason == "operator exclude packet:5: AVS asked us to hold it (ticket 42)"
    assert step.at == NOW


def test_exclude_with_a_signed_transaction_says_it_cannot_be_unsent_but_stops_the_job(engine: Engine) -> None:
    plan = ClaimPlan("inflight", nonce=6)
    ingest_claim(engine, plan)
    add_job(engine, 6, JobStage.SUBMITTED, distribution_id=plan.distribution_id)
    pending = add_intent(
        engine, "packet:6", IntentState.PENDING, packet_nonce=6, tx_nonce=3, tx_hash=h("tx6")
    )
    result = exclude(engine, "6", "operator decision", clock=clock)
    assert result.cancelled_intents == ()
    assert [(i.id, i.state, i.tx_hash) for i in result.in_flight_intents] == [(pending, "pending", h("tx6"))]
    assert job(engine, 6).stage == "excluded"
    assert intent_state(engine, pending) == "pending"  # the tx manager still follows what it sent


def test_exclude_a_slash_packet_excludes_the_slash(engine: Engine) -> None:
    slash_id = ingest_slash(engine, 99)
    add_job(engine, 99, JobStage.DISCOVERED, kind=3)
    result = exclude(engine, "packet:99", "operator appealed", clock=clock)
    assert (result.subject, result.subject_excluded) == (f"slash {slash_id}", True)
    state, code, _reason = state_and_reason(engine, slash_table, slash_table.c.slash_id == slash_id)
    assert (state, code) == (SlashState.EXCLUDED, "operator_excluded")
    assert last_transition(engine, EntityKind.SLASH, slash_id).chain == "operator"


def test_exclude_a_valset_update_warns_about_later_packets(engine: Engine) -> None:
    add_job(engine, 2, JobStage.DISCOVERED, kind=1)
    result = exclude(engine, "packet:2", "test", clock=clock)
    assert result.subject is None
    assert any("later validator set" in note for note in result.notes)


def test_exclude_without_an_indexed_subject_still_stops_the_job(engine: Engine) -> None:
    add_job(engine, 8, JobStage.DISCOVERED)  # the indexer has not seen packet 8
    result = exclude(engine, "packet:8", "stuck", clock=clock)
    assert (result.changed, result.subject) == (True, None)
    assert job(engine, 8).stage == "excluded"


def test_exclude_a_payout_job_excludes_its_claim_and_cancels_queued_batches(engine: Engine) -> None:
    plan = ClaimPlan("payouts", nonce=7)
    ingest_claim(engine, plan)
    add_job(engine, 7, JobStage.DELIVERED, distribution_id=plan.distribution_id)
    add_payout_job(engine, plan.distribution_id, 7, PayoutStage.PAYING)
    dist = plan.distribution_id
    queued = add_intent(
        engine, f"payout:{dist}:1", IntentState.QUEUED, purpose="payout", distribution_id=dist
    )
    sent = add_intent(
        engine,
        f"payout:{dist}:0",
        IntentState.INCLUDED,
        purpose="payout",
        distribution_id=dist,
        tx_nonce=1,
        tx_hash=h("batch0"),
    )
    result = exclude(engine, f"distribution:{dist}", "token contract paused", clock=clock)
    assert result.cancelled_intents == (queued,)
    assert [i.id for i in result.in_flight_intents] == [sent]
    assert any("may still be paid" in note for note in result.notes)
    assert (result.subject, result.subject_excluded) == (f"claim {plan.claim_id}", True)
    assert payout_job(engine, dist).excluded_reason == "token contract paused"
    assert job(engine, 7).stage == "delivered"


def test_exclude_is_idempotent_and_refuses_finished_items_and_empty_reasons(engine: Engine) -> None:
    add_job(engine, 1, JobStage.DELIVERED)
    add_job(engine, 2, JobStage.DISCOVERED)
    add_payout_job(engine, h("paid"), 3, PayoutStage.PAID)
    with pytest.raises(ItemStateError, match="final on L1"):
        exclude(engine, "packet:1", "late", clock=clock)
    with pytest.raises(ItemStateError, match="every leaf is paid"):
        exclude(engine, f"distribution:{h('paid')}", "late", clock=clock)
    with pytest.raises(UnknownItemError):
        exclude(engine, "packet:404", "x", clock=clock)
    with pytest.raises(InvalidItemError, match="needs a reason"):
        exclude(engine, "packet:2", "   ", clock=clock)
    assert exclude(engine, "packet:2", "first", clock=clock).changed
    again = exclude(engine, "packet:2", "second", clock=clock)
    assert not again.changed and again.notes == ("already excluded: first",)
    assert job(engine, 2).excluded_reason == "first"


@contextmanager
def claim_updates_fail(engine: Engine) -> Iterator[None]:
    """A database trigger that aborts every UPDATE of reward_claim (a fault inside the transaction)."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(
                text(
                    "CREATE FUNCTION ops_test_refuse() RETURNS trigger AS $$ BEGIN "
                    "RAISE EXCEPTION 'reward_claim is frozen'; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER ops_test_frozen BEFORE UPDATE ON reward_claim "
                    "FOR EACH ROW EXECUTE FUNCTION ops_test_refuse()"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE TRIGGER ops_test_frozen BEFORE UPDATE ON reward_claim "
                    "BEGIN SELECT RAISE(ABORT, 'reward_claim is frozen'); END"
                )
            )
    try:
        yield
    finally:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(text("DROP TRIGGER ops_test_frozen ON reward_claim"))
                conn.execute(text("DROP FUNCTION ops_test_refuse()"))
            else:
                conn.execute(text("DROP TRIGGER ops_test_frozen"))


def test_exclude_is_one_transaction(engine: Engine) -> None:
    """A fault at the last step (the claim update) leaves nothing behind: job, payout job and intent
    are as before, and the error is a typed storage error."""
    plan = ClaimPlan("atomic", nonce=11)
    ingest_claim(engine, plan)
    add_job(engine, 11, JobStage.PREPARED, distribution_id=plan.distribution_id)
    add_payout_job(engine, plan.distribution_id, 11, PayoutStage.WAITING_ROOT)
    queued = add_intent(engine, "packet:11", IntentState.QUEUED, packet_nonce=11)
    with claim_updates_fail(engine), pytest.raises(OpsDatabaseError, match="reward_claim is frozen"):
        exclude(engine, "packet:11", "x", clock=clock)
    assert job(engine, 11).stage == "prepared"
    assert payout_job(engine, plan.distribution_id).stage == "waiting_root"
    assert intent_state(engine, queued) == "queued"
    with engine.connect() as conn:
        claim_state = conn.execute(select(claim_table.c.state).where(claim_table.c.claim_id == plan.claim_id))
        assert claim_state.scalar_one() == "attested"


# ------------------------------------------------------------------------------------------ CLI


@pytest.fixture
def config_file(tmp_path: Path, database_url: str) -> Path:
    path = tmp_path / "exorelay.toml"
    path.write_text(f'[database]\nurl = "{database_url}"\n')
    return path


def test_cli_status_retry_exclude(engine: Engine, config_file: Path) -> None:
    add_job(engine, 4, JobStage.REFUSED, retry_reason="root_mismatch", retry_detail="leaves give 0xdead")
    add_job(engine, 5, JobStage.DISCOVERED)
    runner = CliRunner()
    config = ["--config", str(config_file)]

    shown = runner.invoke(app, ["status", *config])
    assert shown.exit_code == 0, shown.output
    assert "refused" in shown.output and "packet:4" in shown.output and "root_mismatch" in shown.output

    as_json = runner.invoke(app, ["status", "--json", *config])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout)["relay_jobs"]["refused"] == 1

    retried = runner.invoke(app, ["retry", "packet:4", *config])
    assert retried.exit_code == 0, retried.output
    assert "packet:4: refused -> discovered" in retried.output
    assert job(engine, 4).stage == "discovered"

    no_reason = runner.invoke(app, ["exclude", "packet:5", *config])
    assert no_reason.exit_code != 0 and job(engine, 5).stage == "discovered"

    excluded = runner.invoke(app, ["exclude", "packet:5", "--reason", "poison", *config])
    assert excluded.exit_code == 0, excluded.output
    assert "packet:5: excluded (was discovered)" in excluded.output
    assert job(engine, 5).excluded_reason == "poison"

    refused = runner.invoke(app, ["retry", "packet:5", *config])
    assert refused.exit_code == 1
    assert "exclusion is final" in refused.output

    bad = runner.invoke(app, ["retry", "banana", *config])
    assert bad.exit_code == 1 and "not an item id" in bad.output


# ------------------------------------------------------------------------------------------ compare-and-set


def test_a_stage_write_loses_to_an_exclude_committed_after_it_was_read(engine: Engine) -> None:
    """The pipeline read the job at ``discovered``; an operator excluded it before the pipeline wrote:
    the write matches no row, raises a typed error, and leaves the exclusion as it was."""
    add_job(engine, 7, JobStage.DISCOVERED)
    add_payout_job(engine, h("d8"), 8, PayoutStage.PAYING)
    read = job(engine, 7)
    exclude(engine, "packet:7", "operator says no", clock=clock)
    exclude(engine, f"distribution:{h('d8')}", "operator says no", clock=clock)
    moved_to = "stage is excluded, expected discovered"
    with pytest.raises(StageMovedError, match=moved_to) as moved, engine.begin() as conn:
        jobs.set_stage(conn, 7, JobStage.SUBMITTED, NOW, expected=JobStage(read.stage), tx_intent_id=1)
    assert moved.value.item == "packet:7" and moved.value.actual == JobStage.EXCLUDED.value
    with pytest.raises(StageMovedError), engine.begin() as conn:
        jobs.wait(conn, 7, RetryReason.ROOT_MISMATCH, "x", NOW, Backoff(1, 2), expected=JobStage.DISCOVERED)
    with pytest.raises(StageMovedError, match="expected paying"), engine.begin() as conn:
        jobs.set_payout_stage(conn, h("d8"), PayoutStage.PAID, NOW, expected=PayoutStage.PAYING)
    with pytest.raises(StageMovedError), engine.begin() as conn:
        jobs.payout_wait(
            conn, h("d8"), RetryReason.TX_FAILED, "x", NOW, Backoff(1, 2), expected=PayoutStage.PAYING
        )
    assert (job(engine, 7).stage, job(engine, 7).tx_intent_id) == (JobStage.EXCLUDED.value, None)
    assert job(engine, 7).retry_reason is None
    assert payout_job(engine, h("d8")).stage == PayoutStage.EXCLUDED.value
    # At the expected stage the same write goes through.
    add_job(engine, 9, JobStage.DISCOVERED)
    with engine.begin() as conn:
        jobs.set_stage(conn, 9, JobStage.SUBMITTED, NOW, expected=JobStage.DISCOVERED)
    assert job(engine, 9).stage == JobStage.SUBMITTED.value


def test_cli_skip_block_records_who_why_when_and_status_shows_poisoned_blocks(
    engine: Engine, config_file: Path
) -> None:
    store = LifecycleStore(engine, clock=clock)
    with store.begin() as tx:
        tx.set_cursor("exocore", "exocore", 5, h("b5"), head_height=9, finalized_height=5)
    store.poison(
        "exocore",
        6,
        chain="exocore",
        block_hash=h("b6"),
        error_class="DataError(DataError)",
        error="PostgreSQL text fields cannot contain NUL (0x00) bytes",
    )
    runner = CliRunner()
    config = ["--config", str(config_file)]
    shown = runner.invoke(app, ["status", *config])
    assert shown.exit_code == 0, shown.output
    assert "poisoned block: exocore 6 (DataError(DataError): PostgreSQL text fields" in shown.output
    assert (
        json.loads(runner.invoke(app, ["status", "--json", *config]).stdout)["poisoned_blocks"][0]["height"]
        == 6
    )

    wrong = runner.invoke(app, ["skip-block", "exocore", "7", "--reason", "x", *config])
    assert wrong.exit_code == 1 and "block 7 is not recorded as poisoned" in wrong.output
    no_reason = runner.invoke(app, ["skip-block", "exocore", "6", "--reason", " ", *config])
    assert no_reason.exit_code == 1 and "a reason is required" in no_reason.output
    skipped = runner.invoke(
        app, ["skip-block", "exocore", "6", "--reason", "garbage event text", "--by", "alice", *config]
    )
    assert skipped.exit_code == 0, skipped.output
    assert "stream exocore: block 6 skipped by alice at" in skipped.output
    assert "stream exocore resumes at block 7" in skipped.output
    with engine.connect() as conn:
        row = conn.execute(select(poisoned_block_table)).one()
        cursor = conn.execute(select(cursor_table)).one()
    assert (row.skipped_by, row.skip_reason) == ("alice", "garbage event text")
    assert row.skipped_at is not None and row.skipped_at > row.detected_at
    assert (cursor.height, cursor.block_hash, cursor.halted) == (6, h("b6"), False)
    assert "poisoned block" not in runner.invoke(app, ["status", *config]).output


def test_cli_status_shows_who_holds_each_lease(engine: Engine, config_file: Path) -> None:
    signer = "signer:31337:0x00000000000000000000000000000000000000aa"
    held = acquire(engine, signer, "host-a:101:0a0a0a0a", 3600.0)
    acquire(engine, "stream:exocore", "host-b:202:0b0b0b0b", 3600.0)
    gone = acquire(engine, "stream:l1:31337", "host-c:303:0c0c0c0c", 3600.0)
    assert held is not None and gone is not None
    assert release(engine, "stream:l1:31337", "host-c:303:0c0c0c0c", gone.token)
    runner = CliRunner()
    config = ["--config", str(config_file)]

    shown = runner.invoke(app, ["status", *config])
    assert shown.exit_code == 0, shown.output
    assert f"{signer} held by host-a:101:0a0a0a0a token 1 since" in shown.output
    assert "stream:exocore held by host-b:202:0b0b0b0b token 1" in shown.output
    assert "stream:l1:31337 free (token 1" in shown.output

    document = json.loads(runner.invoke(app, ["status", "--json", *config]).stdout)
    by_name = {lease["name"]: lease for lease in document["leases"]}
    assert set(by_name) == {signer, "stream:exocore", "stream:l1:31337"}
    assert (by_name[signer]["holder"], by_name[signer]["token"], by_name[signer]["live"]) == (
        "host-a:101:0a0a0a0a",
        1,
        True,
    )
    assert by_name[signer]["expires_at"] == held.expires_at.isoformat()
    assert by_name["stream:l1:31337"]["holder"] is None and by_name["stream:l1:31337"]["live"] is False
