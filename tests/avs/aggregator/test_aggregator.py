"""The aggregator over a running devnet and a real database (PostgreSQL or SQLite), through its HTTP
API: every refusal type, threshold crossing -> one submission verified by Exocore, expiry below
threshold, conflicting signatures kept as evidence, a flood of garbage refused."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from eth_utils.crypto import keccak
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text

from avs.aggregator.api import create_app
from avs.aggregator.service import Aggregator
from relayer.config import DEFAULT_AGGREGATOR_MAX_BODY_BYTES
from relayer.exocore.proto.avs.v1 import types_pb2 as avs_types
from relayer.protocol import bls
from relayer.protocol.claims import RewardClaim, SlashRequest
from relayer.protocol.evidence import MAX_EVIDENCE_BYTES, evidence_hash
from relayer.protocol.types import Address, Hash32
from storage.aggregation import (
    aggregation_evidence_table,
    aggregation_request_table,
    aggregation_signature_table,
    aggregation_submission_table,
)
from tests.support.aggregator_net import CHAIN_HASH, ManualClock, Net, running_net

BODY_LIMIT = 4096
FOLLOW_DEADLINE_S = 60.0
"""Upper bound for a submitted claim's block to commit (blocks every 50 ms): a hang guard only."""


@pytest.fixture(scope="module")
def net() -> Iterator[Net]:
    with running_net(operators=4) as running:
        yield running


# ``engine``: the module's migrated database, emptied before each test (tests/support/store_fixtures.py).


def client_for(aggregator: Aggregator) -> TestClient:
    return TestClient(create_app(aggregator, max_body_bytes=BODY_LIMIT))


def post(client: TestClient, body: dict[str, Any]) -> Any:
    return client.post("/v1/signatures", json=body)


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def error_code(response: Any) -> str:
    return str(response.json()["error"]["code"])


def run_until_closed(aggregator: Aggregator, digest: str) -> dict[str, Any]:
    """Tick until the request leaves collecting/submitted (bounded by FOLLOW_DEADLINE_S)."""
    deadline = time.monotonic() + FOLLOW_DEADLINE_S
    while True:
        aggregator.tick()
        document = aggregator.document(digest)
        if document["state"] not in ("collecting", "submitted") or time.monotonic() > deadline:
            return document
        time.sleep(0.02)


def signers_to_cross(net: Net, document_threshold: int) -> list[int]:
    """The fewest leading members whose power is strictly above the threshold."""
    total, chosen = 0, []
    for index, power in enumerate(net.committee.powers):
        chosen.append(index)
        total += power
        if total >= document_threshold:
            return chosen
    raise AssertionError("the whole committee does not reach the threshold")


# ------------------------------------------------------------------------------------- refusals


def test_malformed_request_and_signature_are_refused_without_a_row(net: Net, engine: Engine) -> None:
    client = client_for(net.aggregator(engine))
    claim = net.claim(amount=101)
    good = net.body(claim, 0)
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({**good, "request": "0x1234"}, 400, "malformed_request"),
        ({**good, "request": "nothex"}, 400, "malformed_request"),
        ({**good, "request": "0x" + "00" * 224}, 400, "malformed_request"),
        ({**good, "operator": "exo1notbech32"}, 400, "malformed_request"),
        ({**good, "signature": "0x" + "11" * 95}, 400, "malformed_signature"),
        ({**good, "signature": "0x" + "ff" * 96}, 400, "malformed_signature"),
        ({"request": good["request"]}, 400, "malformed_request"),
        ({**good, "extra": 1}, 400, "malformed_request"),
    ]
    for body, status, code in cases:
        response = post(client, body)
        assert (response.status_code, error_code(response)) == (status, code), body
        assert set(response.json()["error"]) == {"code", "message", "details"}
    other_chain = RewardClaim(
        Hash32(bytes(32)), claim.avs, claim.epoch, claim.token, claim.amount, claim.tasks_root
    )
    response = post(client, {**good, "request": "0x" + other_chain.canonical_bytes.hex()})
    assert error_code(response) == "malformed_request"
    assert count(engine, aggregation_request_table) == 0
    metrics = client.get("/metrics").text
    assert 'exorelay_aggregator_refusals_total{code="malformed_request"} 7.0' in metrics
    assert 'exorelay_aggregator_refusals_total{code="malformed_signature"} 2.0' in metrics


def test_not_a_member_and_invalid_signature_over_an_unknown_request_store_nothing(
    net: Net, engine: Engine
) -> None:
    client = client_for(net.aggregator(engine))
    claim = net.claim(amount=102)
    response = post(client, {**net.body(claim, 0), "operator": _other_account(net)})
    assert (response.status_code, error_code(response)) == (403, "not_a_member")
    wrong_key = {**net.body(claim, 0), "signature": "0x" + net.sign(claim, 1).hex()}
    response = post(client, wrong_key)
    assert (response.status_code, error_code(response)) == (422, "invalid_signature")
    assert count(engine, aggregation_request_table) == 0
    assert count(engine, aggregation_signature_table) == 0


def _other_account(net: Net) -> str:
    from devnet import scenario as sc  # noqa: PLC0415 - the dev identities, for a non-member

    return str(sc.operator_account("someone-else", 0))


def test_first_valid_signature_opens_then_refusals_on_it_are_recorded(net: Net, engine: Engine) -> None:
    aggregator = net.aggregator(engine)
    client = client_for(aggregator)
    claim = net.claim(amount=103)
    first = post(client, net.body(claim, 0))
    assert first.status_code == 202
    assert first.json()["verdict"] == "accepted"
    digest = first.json()["digest"]
    assert digest == "0x" + claim.claim_id.hex()
    again = post(client, net.body(claim, 0))
    assert (again.status_code, again.json()["verdict"]) == (202, "duplicate")
    outsider = post(client, {**net.body(claim, 1), "operator": _other_account(net)})
    assert error_code(outsider) == "not_a_member"
    forged = post(client, {**net.body(claim, 1), "signature": "0x" + net.sign(claim, 2).hex()})
    assert (forged.status_code, error_code(forged)) == (422, "invalid_signature")
    different = post(client, {**net.body(claim, 0), "signature": "0x" + net.sign(claim, 3).hex()})
    assert error_code(different) == "invalid_signature"
    document = client.get(f"/v1/requests/{digest}").json()
    assert document["state"] == "collecting"
    assert document["kind"] == "reward_claim"
    assert int(document["signed_power"]) == net.committee.powers[0]
    verdicts = [(s["operator"], s["verdict"]) for s in document["signatures"]]
    assert verdicts == [
        (net.operator(0), "accepted"),
        (net.operator(0), "duplicate"),
        (_other_account(net), "not_a_member"),
        (net.operator(1), "invalid_signature"),
        (net.operator(0), "invalid_signature"),
    ]
    assert all(s["reason"] for s in document["signatures"][1:])


def test_conflicting_signature_is_refused_and_kept_as_evidence(net: Net, engine: Engine) -> None:
    client = client_for(net.aggregator(engine))
    claim = net.claim(amount=104)
    assert post(client, net.body(claim, 0)).status_code == 202
    assert post(client, net.body(claim, 1)).status_code == 202
    conflicting = net.claim(amount=105)  # same (avs, epoch, token): same signing slot
    assert conflicting.signing_slot == claim.signing_slot
    response = post(client, net.body(conflicting, 1))
    assert (response.status_code, error_code(response)) == (409, "conflicting_signature")
    assert response.json()["error"]["details"]["signed"] == "0x" + claim.claim_id.hex()
    # The second request is open now (by member 2's valid signature); member 0 conflicts there too.
    assert post(client, net.body(conflicting, 2)).status_code == 202
    assert error_code(post(client, net.body(conflicting, 0))) == "conflicting_signature"
    with engine.connect() as conn:
        evidence = conn.execute(
            select(aggregation_evidence_table).order_by(aggregation_evidence_table.c.id)
        ).all()
    assert [(e.operator, e.first_digest, e.second_digest) for e in evidence] == [
        (net.operator(1), "0x" + claim.claim_id.hex(), "0x" + conflicting.claim_id.hex()),
        (net.operator(0), "0x" + claim.claim_id.hex(), "0x" + conflicting.claim_id.hex()),
    ]
    for row in evidence:  # each half verifies under the member's registered key: slashable
        member = net.committee.operators.index(row.operator)
        key = bls.parse_public_key(net.committee.pubkeys[member])
        for digest, signature in (
            (row.first_digest, row.first_signature),
            (row.second_digest, row.second_signature),
        ):
            assert bls.verify(
                key, bytes.fromhex(digest[2:]), bls.parse_signature(bytes.fromhex(signature[2:]))
            )


def test_rate_limit_open_cap_body_limit_and_token(net: Net, engine: Engine) -> None:
    aggregator = net.aggregator(engine, rate_burst=2, rate_per_operator_per_s=0.001, max_open_requests=1)
    client = client_for(aggregator)
    claim = net.claim(amount=106)
    assert post(client, net.body(claim, 0)).status_code == 202
    assert post(client, net.body(claim, 0)).status_code == 202  # duplicate, still counted
    limited = post(client, net.body(claim, 0))
    assert (limited.status_code, error_code(limited)) == (429, "rate_limited")
    # The same operator from another address has its own allowance: a spoofer elsewhere cannot
    # use up a member's.
    body = net.body(claim, 0)
    elsewhere = aggregator.post_signature(
        body["request"], body["operator"], body["signature"], source="10.9.8.7"
    )
    assert elsewhere.verdict.value == "duplicate"
    full = post(client, net.body(net.claim(amount=107, epoch=net.epoch), 1))
    assert (full.status_code, error_code(full)) == (503, "too_many_open_requests")
    huge = client.post("/v1/signatures", content=b"{" + b" " * (BODY_LIMIT + 1) + b"}")
    assert (huge.status_code, error_code(huge)) == (413, "body_too_large")
    no_token = client.post("/v1/requests", json={"request": net.body(claim, 0)["request"]})
    assert (no_token.status_code, error_code(no_token)) == (401, "unauthorized")


def test_avs_opens_with_its_token_and_the_listing_shows_it(net: Net, engine: Engine) -> None:
    client = client_for(net.aggregator(engine, open_token="avs-secret"))
    slash = net.slash(member=3)
    body = {"request": "0x" + slash.canonical_bytes.hex(), "evidence": None}
    wrong = client.post("/v1/requests", json=body, headers={"Authorization": "Bearer nope"})
    assert error_code(wrong) == "unauthorized"
    opened = client.post("/v1/requests", json=body, headers={"Authorization": "Bearer avs-secret"})
    assert opened.status_code == 201
    assert opened.json()["kind"] == "slash_request"
    assert opened.json()["signatures"] == []
    again = client.post("/v1/requests", json=body, headers={"Authorization": "Bearer avs-secret"})
    assert again.status_code == 200
    listing = client.get("/v1/requests", params={"state": "collecting", "avs": net.avs}).json()
    assert [item["digest"] for item in listing["items"]] == ["0x" + slash.slash_id.hex()]
    assert listing["next_cursor"] is None
    assert client.get("/v1/requests/0x" + "ab" * 32).status_code == 404
    bad_evidence = {"request": body["request"], "evidence": "0x01"}
    refused = client.post("/v1/requests", json=bad_evidence, headers={"Authorization": "Bearer avs-secret"})
    assert error_code(refused) == "malformed_request"


# ------------------------------------------------------------------------------------- outcomes


def test_threshold_crossing_submits_once_and_exocore_verifies(net: Net, engine: Engine) -> None:
    aggregator = net.aggregator(engine)
    client = client_for(aggregator)
    claim = net.claim(amount=10**20 + 108)
    threshold = None
    for index in range(len(net.committee.operators)):
        answer = post(client, net.body(claim, index)).json()
        threshold = int(answer["threshold_power"])
        assert answer["state"] == "collecting"
        if int(answer["signed_power"]) >= threshold:
            break
    assert threshold is not None
    digest = "0x" + claim.claim_id.hex()
    document = run_until_closed(aggregator, digest)
    assert document["state"] == "verified", document["state_reason"]
    assert document["submission"]["state"] == "committed"
    assert document["submission"]["tx_code"] == 0
    on_chain = net.grpc.reward_claim(claim.claim_id)
    assert on_chain is not None
    assert on_chain.status in (avs_types.CLAIM_STATUS_VERIFIED, avs_types.CLAIM_STATUS_DISTRIBUTED)
    assert on_chain.tx_hash.upper() == document["submission"]["tx_hash"]
    assert count(engine, aggregation_submission_table) == 1
    late = post(client, net.body(claim, len(net.committee.operators) - 1))
    assert error_code(late) in ("request_closed", "conflicting_signature")
    aggregator.tick()
    assert count(engine, aggregation_submission_table) == 1


def test_below_threshold_expires_with_the_reason(net: Net, engine: Engine) -> None:
    clock = ManualClock(datetime.now(UTC))
    aggregator = net.aggregator(engine, clock=clock, request_ttl_s=60.0)
    client = client_for(aggregator)
    claim = net.claim(amount=109)
    assert post(client, net.body(claim, 0)).status_code == 202
    aggregator.tick()
    assert aggregator.document("0x" + claim.claim_id.hex())["state"] == "collecting"
    clock.now += timedelta(seconds=61)
    aggregator.tick()
    document = aggregator.document("0x" + claim.claim_id.hex())
    assert document["state"] == "expired"
    assert "below threshold" in document["state_reason"]
    assert document["submission"] is None
    late = post(client, net.body(claim, 1))
    assert (late.status_code, error_code(late)) == (410, "request_expired")


def test_a_slash_request_without_evidence_waits_then_expires_saying_so(net: Net, engine: Engine) -> None:
    """Exocore refuses a committee slash request without its evidence bytes: at its threshold the
    request is not submitted until the AVS attaches them, and expires with that reason if it never does."""
    clock = ManualClock(datetime.now(UTC))
    aggregator = net.aggregator(engine, clock=clock, request_ttl_s=60.0)
    client = client_for(aggregator)
    slash = net.slash(member=3, proportion=10**16)
    for index in range(len(net.committee.operators)):
        answer = post(client, net.body(slash, index)).json()
        if int(answer["signed_power"]) >= int(answer["threshold_power"]):
            break
    digest = "0x" + slash.slash_id.hex()
    aggregator.tick()
    assert aggregator.document(digest)["state"] == "collecting"
    assert aggregator.document(digest)["submission"] is None
    clock.now += timedelta(seconds=61)
    aggregator.tick()
    document = aggregator.document(digest)
    assert document["state"] == "expired"
    assert "evidence" in document["state_reason"]
    assert document["submission"] is None


def test_a_flood_of_garbage_is_refused_and_the_service_keeps_answering(net: Net, engine: Engine) -> None:
    aggregator = net.aggregator(engine, rate_burst=20, rate_per_operator_per_s=0.001)
    client = client_for(aggregator)
    claim = net.claim(amount=110)
    assert post(client, net.body(claim, 0)).status_code == 202
    seen: dict[str, int] = {}
    bodies: list[Any] = []
    for i in range(300):
        kind = i % 6
        if kind == 0:
            bodies.append(
                {
                    "request": "0x" + bytes([i % 256]).hex() * 224,
                    "operator": net.operator(1),
                    "signature": "0x" + "11" * 96,
                }
            )
        elif kind == 1:
            bodies.append({**net.body(claim, 1), "signature": "0x" + net.sign(net.claim(amount=i), 1).hex()})
        elif kind == 2:
            bodies.append({**net.body(claim, 1), "operator": _other_account(net)})
        elif kind == 3:
            bodies.append({"request": 12, "operator": None, "signature": []})
        elif kind == 4:
            bodies.append({**net.body(net.claim(amount=1000 + i), 0), "signature": "0x" + "00" * 96})
        else:
            bodies.append({**net.body(net.claim(amount=1000 + i, epoch=net.epoch + 500), 0)})
    for body in bodies:
        response = post(client, body)
        assert response.status_code >= 400
        code = error_code(response)
        seen[code] = seen.get(code, 0) + 1
    assert set(seen) <= {
        "malformed_request",
        "malformed_signature",
        "invalid_signature",
        "not_a_member",
        "rate_limited",
    }
    assert seen["rate_limited"] > 0  # the identities claimed most often were throttled
    # Nothing but the one valid request and the capped refusals on it were stored.
    assert count(engine, aggregation_request_table) == 1
    assert client.get("/v1/health").json() == {"status": "ok"}
    assert post(client, net.body(claim, 2)).json()["verdict"] == "accepted"


def test_a_slash_request_is_submitted_once_and_exocore_executes_it(net: Net, engine: Engine) -> None:
    aggregator = net.aggregator(engine, open_token="avs-secret")
    client = client_for(aggregator)
    slash = net.slash(member=3, proportion=10**16)
    body = {"request": "0x" + slash.canonical_bytes.hex(), "evidence": "0x" + net.slash_evidence(3).hex()}
    opened = client.post("/v1/requests", json=body, headers={"Authorization": "Bearer avs-secret"})
    assert opened.status_code == 201
    for index in range(len(net.committee.operators)):
        answer = post(client, net.body(slash, index)).json()
        if int(answer["signed_power"]) >= int(answer["threshold_power"]):
            break
    document = run_until_closed(aggregator, "0x" + slash.slash_id.hex())
    assert document["state"] == "verified", document["state_reason"]
    on_chain = net.grpc.slash(slash.slash_id)
    assert on_chain is not None
    assert on_chain.tx_hash.upper() == document["submission"]["tx_hash"]
    assert count(engine, aggregation_submission_table) == 1


def test_concurrent_posts_are_combined_without_losing_or_doubling_any(net: Net, engine: Engine) -> None:
    aggregator = net.aggregator(engine, grace_s=3600.0)
    claim = net.claim(amount=111)
    members = len(net.committee.operators)
    bodies = [net.body(claim, index % members) for index in range(members * 5)]
    barrier = threading.Barrier(len(bodies))

    def post_one(body: dict[str, str]) -> str:
        barrier.wait()  # every thread posts at once, before the request is open
        return aggregator.post_signature(body["request"], body["operator"], body["signature"]).verdict.value

    with ThreadPoolExecutor(len(bodies)) as pool:
        verdicts = list(pool.map(post_one, bodies))
    assert sorted(verdicts) == ["accepted"] * members + ["duplicate"] * (len(bodies) - members)
    document = aggregator.document("0x" + claim.claim_id.hex())
    assert int(document["signed_power"]) == sum(net.committee.powers)
    accepted = [s["operator"] for s in document["signatures"] if s["verdict"] == "accepted"]
    assert sorted(accepted) == sorted(net.committee.operators)
    restarted = net.aggregator(engine, grace_s=3600.0)  # rebuilt from the rows alone
    assert restarted.document("0x" + claim.claim_id.hex())["signed_power"] == document["signed_power"]
    again = restarted.post_signature(bodies[0]["request"], bodies[0]["operator"], bodies[0]["signature"])
    assert again.verdict.value == "duplicate"
    assert again.signed_power == sum(net.committee.powers)


def refuse_rows_of(engine: Engine, operator: str) -> None:
    """The database itself refuses signature rows of ``operator`` (a trigger): a write that fails."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(
                text(
                    "CREATE FUNCTION refuse_operator() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                    f"IF NEW.operator = '{operator}' THEN RAISE EXCEPTION 'refused by the database' "
                    "USING ERRCODE = '22023'; END IF; RETURN NEW; END $$"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_operator BEFORE INSERT ON aggregation_signature "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_operator()"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_operator BEFORE INSERT ON aggregation_signature "
                    f"WHEN NEW.operator = '{operator}' "
                    "BEGIN SELECT RAISE(ABORT, 'refused by the database'); END"
                )
            )


def allow_rows_again(engine: Engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("DROP TRIGGER refuse_operator ON aggregation_signature"))
            conn.execute(text("DROP FUNCTION refuse_operator()"))
        else:
            conn.execute(text("DROP TRIGGER refuse_operator"))


def test_a_failed_write_answers_503_records_nothing_and_the_next_post_works(net: Net, engine: Engine) -> None:
    aggregator = net.aggregator(engine, grace_s=3600.0)
    client = client_for(aggregator)
    claim = net.claim(amount=112)
    assert post(client, net.body(claim, 0)).status_code == 202
    refuse_rows_of(engine, net.operator(1))
    failed = post(client, net.body(claim, 1))
    assert (failed.status_code, error_code(failed)) == (503, "unavailable")
    document = client.get(f"/v1/requests/0x{claim.claim_id.hex()}").json()
    assert int(document["signed_power"]) == net.committee.powers[0]  # the failed post added nothing
    assert post(client, net.body(claim, 2)).json()["verdict"] == "accepted"
    allow_rows_again(engine)
    assert post(client, net.body(claim, 1)).json()["verdict"] == "accepted"
    final = client.get(f"/v1/requests/0x{claim.claim_id.hex()}").json()
    assert int(final["signed_power"]) == sum(net.committee.powers[:3])


def test_the_avs_attaches_evidence_to_a_slash_request_members_opened_first(net: Net, engine: Engine) -> None:
    client = client_for(net.aggregator(engine, open_token="avs-secret", grace_s=3600.0))
    evidence = b"the operator answered task 7 twice"
    slash = SlashRequest(
        CHAIN_HASH, Address(bytes.fromhex(net.avs[2:])), net.epoch, net.slash(member=1).operator,
        10**16, False, Hash32(keccak(evidence)),
    )  # fmt: skip
    assert post(client, net.body(slash, 0)).json()["verdict"] == "accepted"
    opened = client.post(
        "/v1/requests",
        json={"request": "0x" + slash.canonical_bytes.hex(), "evidence": "0x" + evidence.hex()},
        headers={"Authorization": "Bearer avs-secret"},
    )
    assert opened.status_code == 200
    assert opened.json()["evidence"] == "0x" + evidence.hex()
    assert opened.json()["opened_by"] == "signature"


def test_evidence_over_exocores_limit_is_refused_at_open_and_nothing_is_stored(
    net: Net, engine: Engine
) -> None:
    """Evidence longer than Exocore accepts (``MAX_EVIDENCE_BYTES``) can never land: the aggregator
    refuses it when the AVS opens the request (or attaches it to one members opened first), rather
    than collect signatures for a transaction Exocore's CheckTx will refuse."""
    aggregator = net.aggregator(engine, open_token="avs-secret", grace_s=3600.0)
    client = TestClient(create_app(aggregator, max_body_bytes=DEFAULT_AGGREGATOR_MAX_BODY_BYTES))
    evidence = b"\x01" * (MAX_EVIDENCE_BYTES + 1)
    slash = SlashRequest(
        CHAIN_HASH, Address(bytes.fromhex(net.avs[2:])), net.epoch, net.slash(member=2).operator,
        10**16, False, evidence_hash(evidence),
    )  # fmt: skip
    body = {"request": "0x" + slash.canonical_bytes.hex(), "evidence": "0x" + evidence.hex()}
    refused = client.post("/v1/requests", json=body, headers={"Authorization": "Bearer avs-secret"})
    assert (refused.status_code, error_code(refused)) == (400, "malformed_request")
    message = refused.json()["error"]["message"]
    assert str(MAX_EVIDENCE_BYTES) in message and str(MAX_EVIDENCE_BYTES + 1) in message, message
    assert count(engine, aggregation_request_table) == 0
    # Opened by a member's signature first: the oversized evidence is not attached either.
    assert post(client, net.body(slash, 0)).json()["verdict"] == "accepted"
    attach = client.post("/v1/requests", json=body, headers={"Authorization": "Bearer avs-secret"})
    assert (attach.status_code, error_code(attach)) == (400, "malformed_request")
    assert client.get(f"/v1/requests/0x{slash.slash_id.hex()}").json()["evidence"] is None
    metrics = client.get("/metrics").text
    assert 'exorelay_aggregator_refusals_total{code="malformed_request"} 2.0' in metrics
    # At the limit exactly, the bytes are accepted.
    fitting = b"\x02" * MAX_EVIDENCE_BYTES
    fits = SlashRequest(
        CHAIN_HASH, Address(bytes.fromhex(net.avs[2:])), net.epoch, net.slash(member=3).operator,
        10**16, False, evidence_hash(fitting),
    )  # fmt: skip
    opened = client.post(
        "/v1/requests",
        json={"request": "0x" + fits.canonical_bytes.hex(), "evidence": "0x" + fitting.hex()},
        headers={"Authorization": "Bearer avs-secret"},
    )
    assert opened.status_code == 201, opened.json()
    assert opened.json()["evidence"] == "0x" + fitting.hex()
