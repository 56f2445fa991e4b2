"""The ``collecting`` stage as lifecycle history: the Exocore ingestion records what the aggregator's
request rows say (opened, expired, refused) as transitions of the claim / slash with the same id, and
``collecting`` is always the first row of such an object's history, whichever of the aggregator poll
and the Exocore submission is ingested first. Real aggregator over the devnet, real database."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from indexer.api.app import create_app
from indexer.ingest.collecting import CollectionPoller
from indexer.ingest.exocore import EXOCORE_STREAM, ExocoreIngestor
from indexer.ingest.exocore_feed import ExocoreFeed
from relayer.protocol.claims import RewardClaim, SlashRequest
from storage.aggregation import aggregation_request_table
from storage.models import claim_table, slash_table, transition_table
from storage.records import ExocoreBlock, SlashSubmitted
from storage.store import LifecycleStore
from tests.support.aggregator_net import ManualClock, Net, migrated, running_net
from tests.support.indexer_factory import ClaimPlan, StepClock, h, slash_events


@pytest.fixture(scope="module")
def net() -> Iterator[Net]:
    with running_net(operators=4) as running:
        yield running


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with migrated(tmp_path) as fresh:
        yield fresh


def _store(engine: Engine) -> LifecycleStore:
    return LifecycleStore(engine, clock=StepClock(datetime.now(UTC)))


def _ingest(engine: Engine, height: int, *events: Any) -> None:
    """What the Exocore ingestion records for a block (a block time after every collection opened)."""
    block = ExocoreBlock(height, h(f"collecting-b{height}"), datetime.now(UTC) + timedelta(hours=1), events)
    ExocoreIngestor(_store(engine)).apply_block(block, head_height=height)


def _history(engine: Engine, entity_id: str) -> list[tuple[str | None, str | None, str]]:
    t = transition_table
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.c.from_state, t.c.to_state, t.c.chain).where(t.c.entity_id == entity_id).order_by(t.c.id)
        ).all()
    return [(r.from_state, r.to_state, r.chain) for r in rows]


def _opened_at(engine: Engine, digest: str) -> datetime:
    r = aggregation_request_table
    with engine.connect() as conn:
        opened: datetime = conn.execute(select(r.c.opened_at).where(r.c.digest == digest)).scalar_one()
    return opened


def _first_at(engine: Engine, entity_id: str) -> datetime:
    t = transition_table
    with engine.connect() as conn:
        at: datetime = conn.execute(
            select(t.c.at).where(t.c.entity_id == entity_id).order_by(t.c.id).limit(1)
        ).scalar_one()
    return at


def _post(
    net: Net, engine: Engine, request: RewardClaim | SlashRequest, members: range, **settings: Any
) -> str:
    aggregator = net.aggregator(engine, **settings)
    for index in members:
        body = net.body(request, index)
        aggregator.post_signature(body["request"], body["operator"], body["signature"])
    aggregator.tick()
    return "0x" + (request.claim_id if isinstance(request, RewardClaim) else request.slash_id).hex()


def _submitted(net: Net, digest: str) -> Any:
    return replace(ClaimPlan(digest).submitted(), claim_id=digest, avs=net.avs)


def test_a_collecting_claim_is_recorded_then_moved_on_by_its_exocore_submission(
    net: Net, engine: Engine
) -> None:
    digest = _post(net, engine, net.claim(amount=401), range(1), grace_s=3600.0)
    feed = ExocoreFeed(_store(engine), net.grpc)  # what `sync` / `run` call between blocks
    assert feed.poll_collections() == 1
    assert _history(engine, digest) == [(None, "collecting", "relayer")]
    assert _first_at(engine, digest) == _opened_at(engine, digest)
    with engine.connect() as conn:
        claim = conn.execute(select(claim_table).where(claim_table.c.claim_id == digest)).one()
    assert (claim.state, claim.origin, claim.avs_address, claim.total_amount) == (
        "collecting",
        "aggregator",
        net.avs,
        401,
    )
    assert feed.poll_collections() == 0  # nothing changed since
    assert CollectionPoller(_store(engine), EXOCORE_STREAM).poll() == 0  # a restart re-reads: no-op

    _ingest(engine, 1, _submitted(net, digest))
    assert _history(engine, digest) == [
        (None, "collecting", "relayer"),
        ("collecting", "submitted", "exocore"),
    ]
    with engine.connect() as conn:
        claim = conn.execute(select(claim_table).where(claim_table.c.claim_id == digest)).one()
    assert (claim.state, claim.origin, claim.submitted_height) == ("submitted", "aggregator", 1)


def test_an_exocore_submission_ingested_first_gets_its_collecting_stage_back_dated(
    net: Net, engine: Engine
) -> None:
    digest = _post(net, engine, net.claim(amount=402), range(len(net.committee.operators)))
    _ingest(engine, 1, _submitted(net, digest))
    assert _history(engine, digest) == [
        (None, "collecting", "relayer"),
        ("collecting", "submitted", "exocore"),
    ]
    assert _first_at(engine, digest) == _opened_at(engine, digest)
    # The poll afterwards finds the request already recorded (it is submitted on the aggregator too).
    assert CollectionPoller(_store(engine), EXOCORE_STREAM).poll() == 0
    assert len(_history(engine, digest)) == 2

    # A claim no aggregator here collected still starts at submitted.
    other = ClaimPlan("elsewhere").submitted()
    _ingest(engine, 2, other)
    assert _history(engine, other.claim_id) == [(None, "submitted", "exocore")]


def test_a_collection_that_expires_is_an_expired_claim_with_its_reason(net: Net, engine: Engine) -> None:
    clock = ManualClock(datetime.now(UTC))
    aggregator = net.aggregator(engine, clock=clock, request_ttl_s=60.0, grace_s=3600.0)
    claim = net.claim(amount=403)
    body = net.body(claim, 0)
    aggregator.post_signature(body["request"], body["operator"], body["signature"])
    digest = "0x" + claim.claim_id.hex()
    poller = CollectionPoller(_store(engine), EXOCORE_STREAM)
    assert poller.poll() == 1
    clock.now += timedelta(seconds=120)
    aggregator.tick()
    assert aggregator.document(digest)["state"] == "expired"
    assert poller.poll() == 1
    assert _history(engine, digest) == [(None, "collecting", "relayer"), ("collecting", "expired", "relayer")]
    with engine.connect() as conn:
        claim_row = conn.execute(select(claim_table).where(claim_table.c.claim_id == digest)).one()
    assert (claim_row.state, claim_row.reason_code) == ("expired", "expired")
    assert claim_row.reason

    client = TestClient(create_app(engine))
    listed = client.get("/v1/claims", params={"state": "expired"}).json()["items"]
    assert [item["claim_id"] for item in listed] == [digest]
    document = client.get(f"/v1/claims/{digest}").json()
    assert [(step["from_state"], step["to_state"]) for step in document["timeline"]] == [
        (None, "collecting"),
        ("collecting", "expired"),
    ]
    assert document["timeline"][1]["reason"] == "expired"
    page = client.get(f"/claims/{digest}")
    assert page.status_code == 200
    assert '<tr data-stage="collecting">' in page.text
    assert '<tr data-stage="expired">' in page.text

    # Exocore is the authority: the same claim submitted there after all moves on.
    _ingest(engine, 1, _submitted(net, digest))
    assert _history(engine, digest)[-1] == ("expired", "submitted", "exocore")


def test_a_slash_request_has_its_collecting_stage_before_submitted(net: Net, engine: Engine) -> None:
    digest = _post(net, engine, net.slash(member=3), range(len(net.committee.operators)))
    first = slash_events("collected")[0]
    assert isinstance(first, SlashSubmitted)
    _ingest(engine, 1, replace(first, slash_id=digest, avs=net.avs))
    assert _history(engine, digest) == [
        (None, "collecting", "relayer"),
        ("collecting", "submitted", "exocore"),
    ]
    with engine.connect() as conn:
        slash = conn.execute(select(slash_table).where(slash_table.c.slash_id == digest)).one()
    assert (slash.state, slash.origin, slash.avs_address) == ("submitted", "aggregator", net.avs)
    document = TestClient(create_app(engine)).get(f"/v1/slashes/{digest}").json()
    assert [step["to_state"] for step in document["timeline"]][:2] == ["collecting", "submitted"]
