"""The query API's ``/v1/collections``: the collecting stage an aggregator recorded (on the devnet, a
real database), read through the read-only API; and the same stage in a claim's and a slash's own
documents and explorer pages, linked to the collection."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from avs.aggregator.errors import ConflictingSignatureError, InvalidSignatureError
from indexer.api.app import create_app
from indexer.ingest.exocore import ExocoreIngestor
from relayer.protocol.claims import RewardClaim, SlashRequest
from storage.records import ExocoreBlock, SlashSubmitted
from storage.store import LifecycleStore
from tests.support.aggregator_net import Net, migrated, running_net
from tests.support.indexer_factory import T0, ClaimPlan, StepClock, h, slash_events


@pytest.fixture(scope="module")
def net() -> Iterator[Net]:
    with running_net(operators=4) as running:
        yield running


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with migrated(tmp_path) as fresh:
        yield fresh


def test_collections_show_who_signed_who_was_refused_and_the_power(net: Net, engine: Engine) -> None:
    aggregator = net.aggregator(engine)
    claim = net.claim(amount=301)
    body = net.body(claim, 0)
    aggregator.post_signature(body["request"], body["operator"], body["signature"])
    forged = net.body(claim, 1)
    with pytest.raises(InvalidSignatureError):
        aggregator.post_signature(forged["request"], forged["operator"], "0x" + net.sign(claim, 2).hex())
    client = TestClient(create_app(engine))
    digest = "0x" + claim.claim_id.hex()

    page = client.get("/v1/collections", params={"state": "collecting", "avs": net.avs}).json()
    assert [item["digest"] for item in page["items"]] == [digest]
    assert page["next_cursor"] is None
    summary = page["items"][0]
    assert (summary["kind"], summary["state"], summary["accepted"], summary["refused"]) == (
        "reward_claim",
        "collecting",
        1,
        1,
    )
    assert int(summary["signed_power"]) == net.committee.powers[0]
    assert int(summary["threshold_power"]) > int(summary["signed_power"])

    detail = client.get(f"/v1/collections/{digest}").json()
    assert [(s["operator"], s["verdict"]) for s in detail["signatures"]] == [
        (net.operator(0), "accepted"),
        (net.operator(1), "invalid_signature"),
    ]
    assert detail["signatures"][1]["reason"]
    assert detail["submission"] is None

    assert client.get("/v1/collections/0x" + "ab" * 32).json()["error"]["code"] == "not_found"
    assert (
        client.get("/v1/collections", params={"cursor": "nonsense"}).json()["error"]["code"]
        == "invalid_cursor"
    )
    assert client.get("/v1/collections", params={"state": "collecting", "kind": "slash_request"}).json() == {
        "items": [],
        "next_cursor": None,
    }


def test_the_explorer_draws_the_collection_with_its_progress_bar(net: Net, engine: Engine) -> None:
    aggregator = net.aggregator(engine, grace_s=3600.0)
    claim = net.claim(amount=302)
    for index in (0, 1):
        body = net.body(claim, index)
        aggregator.post_signature(body["request"], body["operator"], body["signature"])
    client = TestClient(create_app(engine))
    digest = "0x" + claim.claim_id.hex()
    page = client.get(f"/collections/{digest}")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    signed = sum(net.committee.powers[:2])
    assert f'data-figure="signed-power">{signed}<' in page.text
    assert re.findall(r'<tr data-verdict="([a-z_]+)">', page.text) == ["accepted", "accepted"]
    reached = signed >= int(client.get(f"/v1/collections/{digest}").json()["threshold_power"])
    assert ("threshold crossed" in page.text) == reached
    assert client.get("/collections/0x" + "cd" * 32).status_code == 404
    assert client.get("/collections/not-a-hash").status_code == 404


def _ingest(engine: Engine, height: int, *events: Any) -> None:
    """The indexer's own record of what Exocore emitted for the request (its ingestion step)."""
    store = LifecycleStore(engine, clock=StepClock(T0))
    block = ExocoreBlock(height, h(f"collect-b{height}"), T0, events)
    ExocoreIngestor(store).apply_block(block, head_height=height)


def _collect_and_submit(net: Net, engine: Engine, request: RewardClaim | SlashRequest) -> str:
    aggregator = net.aggregator(engine, open_token="avs-secret")
    if isinstance(request, SlashRequest):  # Exocore requires a slash request's evidence bytes
        member = next(i for i in range(len(net.committee.operators)) if net.slash(i) == request)
        evidence = "0x" + net.slash_evidence(member).hex()
        aggregator.open_request("0x" + request.canonical_bytes.hex(), evidence, "avs-secret")
    for index in range(len(net.committee.operators)):
        body = net.body(request, index)
        aggregator.post_signature(body["request"], body["operator"], body["signature"])
    digest = "0x" + (request.claim_id if isinstance(request, RewardClaim) else request.slash_id).hex()
    aggregator.tick()  # grace 0: the crossing is submitted now
    assert aggregator.document(digest)["state"] in {"submitted", "verified"}
    return digest


def test_a_claim_shows_its_collecting_stage_and_links_its_collection(net: Net, engine: Engine) -> None:
    claim = net.claim(amount=303)
    digest = _collect_and_submit(net, engine, claim)
    _ingest(engine, 1, replace(ClaimPlan("collected").submitted(), claim_id=digest, avs=net.avs))
    client = TestClient(create_app(engine))
    collection = client.get(f"/v1/collections/{digest}").json()

    stage = client.get(f"/v1/claims/{digest}").json()["collection"]
    assert stage["digest"] == digest
    assert stage["state"] == collection["state"]
    assert (stage["signed_power"], stage["threshold_power"], stage["total_power"]) == (
        str(sum(net.committee.powers)),
        collection["threshold_power"],
        collection["total_power"],
    )
    assert stage["committee_size"] == len(net.committee.operators)
    assert stage["url"] == f"/v1/collections/{digest}"
    page = client.get(f"/claims/{digest}").text
    assert f'href="/collections/{digest}" data-figure="collection-link"' in page
    assert f'data-figure="collection-signed-power">{sum(net.committee.powers)}<' in page

    # A claim no aggregator of this database collected has no such stage (and says so).
    _ingest(engine, 2, ClaimPlan("elsewhere").submitted())
    other = client.get(f"/v1/claims/{ClaimPlan('elsewhere').claim_id}").json()
    assert other["collection"] is None
    assert (
        "No aggregator sharing this database" in client.get(f"/claims/{ClaimPlan('elsewhere').claim_id}").text
    )


def test_a_slash_shows_its_collecting_stage_and_links_its_collection(net: Net, engine: Engine) -> None:
    request = net.slash(member=3)
    digest = _collect_and_submit(net, engine, request)
    first = slash_events("collected")[0]
    assert isinstance(first, SlashSubmitted)
    submitted = replace(first, slash_id=digest, avs=net.avs)
    _ingest(engine, 1, submitted)
    client = TestClient(create_app(engine))
    stage = client.get(f"/v1/slashes/{digest}").json()["collection"]
    assert (stage["digest"], stage["signed_power"]) == (digest, str(sum(net.committee.powers)))
    assert (
        f'href="/collections/{digest}" data-figure="collection-link"' in client.get(f"/slashes/{digest}").text
    )


def test_a_collection_lists_the_conflicting_signatures_kept_as_evidence(net: Net, engine: Engine) -> None:
    aggregator = net.aggregator(engine, grace_s=3600.0)
    claim, other = net.claim(amount=304), net.claim(amount=305)  # one signing slot, two payloads
    first = net.body(claim, 0)
    aggregator.post_signature(first["request"], first["operator"], first["signature"])
    second = net.body(other, 0)
    with pytest.raises(ConflictingSignatureError):
        aggregator.post_signature(second["request"], second["operator"], second["signature"])
    client = TestClient(create_app(engine))
    digest = "0x" + claim.claim_id.hex()
    evidence = client.get(f"/v1/collections/{digest}").json()["evidence"]
    assert [(e["operator"], e["first_digest"], e["second_digest"]) for e in evidence] == [
        (net.operator(0), digest, "0x" + other.claim_id.hex())
    ]
    page = client.get(f"/collections/{digest}").text
    assert page.count('data-figure="evidence"') == 1
    assert net.operator(0) in page
