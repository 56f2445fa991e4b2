"""The query API over a populated database: every endpoint's filters, pagination, order and errors."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, text
from sqlalchemy.exc import DBAPIError

from indexer.api import ReadinessPolicy, create_app, queries
from indexer.api.app import readiness_problems
from indexer.api.pagination import Order, encode_cursor
from indexer.api.schemas import StreamStatus
from relayer.protocol.units import TokenUnit, format_amount, format_power, format_share, format_units
from storage.lifecycle import Chain
from storage.models import avs_table
from tests.support.api_data import L1_SLASH, NOW, A, B, C, D, populate
from tests.support.database import empty_all_tables
from tests.support.indexer_factory import (
    AVS,
    AVS2,
    OPERATORS,
    T0,
    TOKEN,
    TOKEN2,
    h,
    staker,
)


@pytest.fixture(scope="module")
def api_engine(migrated_engine: Engine) -> Engine:
    empty_all_tables(migrated_engine)
    populate(migrated_engine)
    return migrated_engine


@pytest.fixture(scope="module")
def client(api_engine: Engine) -> Iterator[TestClient]:
    app = create_app(api_engine, clock=lambda: NOW, readiness=ReadinessPolicy(max_age_s=10**9))
    with TestClient(app) as test_client:
        yield test_client


def get(client: TestClient, path: str, expect: int = 200, **params: Any) -> Any:
    response = client.get(path, params={k: v for k, v in params.items() if v is not None})
    assert response.status_code == expect, response.text
    return response.json()


def walk(client: TestClient, path: str, limit: int, **params: Any) -> list[dict[str, Any]]:
    """Every item of a listing, page by page."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        page = get(client, path, limit=limit, cursor=cursor, **params)
        assert len(page["items"]) <= limit
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("pagination did not end")


# ---------------------------------------------------------------------------------------- claims


def test_claims_listing_filters(client: TestClient) -> None:
    def ids(**params: Any) -> list[str]:
        return [c["claim_id"] for c in get(client, "/v1/claims", **params)["items"]]

    assert ids() == [D.claim_id, C.claim_id, B.claim_id, A.claim_id]  # newest first
    assert ids(order="asc") == [A.claim_id, B.claim_id, C.claim_id, D.claim_id]
    assert ids(avs=AVS) == [B.claim_id, A.claim_id]
    assert ids(avs=AVS.upper().replace("0X", "0x")) == [B.claim_id, A.claim_id]  # case-insensitive
    assert ids(avs=AVS2, epoch=1) == [C.claim_id]
    assert ids(token=TOKEN2) == [B.claim_id]
    assert ids(status="paid") == [A.claim_id]
    assert ids(status="paying") == [B.claim_id]
    assert ids(status="rejected") == [D.claim_id]
    assert ids(operator=OPERATORS[1]) == [D.claim_id, C.claim_id, B.claim_id, A.claim_id]
    assert ids(operator=OPERATORS[3]) == []
    assert ids(staker=staker(2)) == [B.claim_id, A.claim_id]
    assert ids(staker=staker(3)) == [A.claim_id]
    first = get(client, "/v1/claims", order="asc")["items"]
    assert ids(since=first[1]["created_at"], order="asc") == [B.claim_id, C.claim_id, D.claim_id]
    assert ids(until=first[1]["created_at"]) == [A.claim_id]
    assert ids(since="2020-01-01T00:00:00Z") == ids()
    assert ids(since="2026-01-01T01:03:30+01:00") == [D.claim_id, C.claim_id]  # offsets are honoured
    # Fractions beyond microseconds are truncated: B (created 00:03:00) is still included.
    assert ids(since="2026-01-01T00:03:00.0000000001Z") == [D.claim_id, C.claim_id, B.claim_id]


def test_claim_detail_shows_the_full_timeline(client: TestClient) -> None:
    claim = get(client, f"/v1/claims/{A.claim_id.upper().replace('0X', '0x')}")
    assert claim["status"] == "paid"
    assert claim["total_amount"] == "1000"
    assert claim["threshold"] == "2/3"
    assert [s["operator"] for s in claim["signers"]] == list(OPERATORS[:3])
    assert claim["distribution"]["root_finalized"] is True
    assert claim["distribution"]["root_on_l1"]["height"] == 10
    assert claim["packet"]["status"] == "finalized"
    assert "payouts_by_status" not in claim
    steps = [
        (t["entity_kind"], t["from_state"], t["to_state"], t["where"]["chain"]) for t in claim["timeline"]
    ]
    claim_steps = [s[1:] for s in steps if s[0] == "claim"]
    assert [s[1] for s in claim_steps] == [
        "submitted",
        "verified",
        "distributed",
        "packet_created",
        "attested",
        "relayed",
        "finalized",
        "paying",
        "paid",
    ]
    assert ("packet", "attested", "relayed", "l1") in steps
    assert any(s[0] == "l1_tx" for s in steps)
    relayed = next(t for t in claim["timeline"] if t["entity_kind"] == "claim" and t["to_state"] == "relayed")
    assert relayed["where"] == {
        "chain": "l1",
        "height": 10,
        "block_hash": h("l1-block-10"),
        "tx_hash": h("l1-tx-root-A"),
        "log_index": 0,
    }
    times = [t["at"] for t in claim["timeline"]]
    assert times == sorted(times)


def test_rejected_claim_has_its_reason(client: TestClient) -> None:
    claim = get(client, f"/v1/claims/{D.claim_id}")
    assert (claim["status"], claim["reason_code"], claim["reason"]) == (
        "rejected",
        "insufficient_quorum",
        "50/100 is not above 2/3",
    )
    assert claim["distribution"] is None and claim["packet"] is None


# ---------------------------------------------------------------------------------------- distributions


def test_distribution_detail_and_leaves(client: TestClient) -> None:
    dist = get(client, f"/v1/distributions/{B.distribution_id}")
    assert (dist["total"], dist["paid_amount"], dist["leaf_count"]) == ("600", "200", 3)
    assert dist["payouts_by_status"] == {"pending": 2, "included": 1}
    assert dist["root_finalized"] is True
    leaves = get(client, f"/v1/distributions/{B.distribution_id}/leaves")["items"]
    assert [(leaf["leaf_index"], leaf["amount"], leaf["payout_status"]) for leaf in leaves] == [
        (0, "100", "pending"),
        (1, "200", "included"),
        (2, "300", "pending"),
    ]
    assert walk(client, f"/v1/distributions/{B.distribution_id}/leaves", 1) == leaves
    assert get(client, f"/v1/distributions/{B.distribution_id}/leaves", staker=staker(2))["items"] == [
        leaves[2]
    ]
    assert get(client, f"/v1/distributions/{B.distribution_id}/leaves", status="included")["items"] == [
        leaves[1]
    ]
    desc = get(client, f"/v1/distributions/{B.distribution_id}/leaves", order="desc")["items"]
    assert [leaf["leaf_index"] for leaf in desc] == [2, 1, 0]
    missing = "0x" + "ee" * 32
    assert get(client, f"/v1/distributions/{missing}", 404)["error"]["code"] == "not_found"
    assert get(client, f"/v1/distributions/{missing}/leaves", 404)["error"]["details"] == {
        "distribution_id": missing
    }


# ---------------------------------------------------------------------------------------- payouts


def test_a_stakers_view_shows_every_payout_with_its_l1_tx(client: TestClient) -> None:
    payouts = get(client, "/v1/payouts", staker=staker(1))["items"]
    assert {(p["distribution_id"], p["status"]) for p in payouts} == {
        (A.distribution_id, "finalized"),
        (B.distribution_id, "included"),
        (C.distribution_id, "pending"),
    }
    by_dist = {p["distribution_id"]: p for p in payouts}
    assert by_dist[A.distribution_id]["l1_tx"] == {
        "tx_hash": h("l1-tx-pay-A"),
        "block_number": 12,
        "block_hash": h("l1-block-12"),
        "log_index": 3,
        "status": "finalized",
    }
    assert by_dist[B.distribution_id]["l1_tx"]["status"] == "included"
    assert by_dist[C.distribution_id]["l1_tx"] is None
    assert by_dist[A.distribution_id]["amount"] == "200"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"token": TOKEN2}, 3),
        ({"status": "finalized"}, 4),
        ({"status": "pending"}, 4),
        ({"avs": AVS2}, 2),
        ({"avs": AVS, "epoch": 8}, 3),
        ({"distribution_id": C.distribution_id}, 2),
        ({"tx_hash": h("l1-tx-pay-B")}, 1),
        ({"staker": staker(0), "token": TOKEN}, 2),
        ({"staker": staker(0), "token": TOKEN, "status": "finalized"}, 1),
        ({"operator": OPERATORS[1]}, 3),
        ({}, 9),
    ],
)
def test_payout_filters(client: TestClient, params: dict[str, Any], expected: int) -> None:
    assert len(walk(client, "/v1/payouts", 500, **params)) == expected


@pytest.mark.parametrize("order", ["desc", "asc"])
def test_pagination_is_complete_stable_and_ordered(client: TestClient, order: str) -> None:
    everything = get(client, "/v1/payouts", limit=500, order=order)["items"]
    for limit in (1, 2, 5):
        assert walk(client, "/v1/payouts", limit, order=order) == everything
    ids = [p["id"] for p in everything]
    assert ids == sorted(ids, reverse=order == "desc")


def test_cursor_errors_are_bad_requests(client: TestClient) -> None:
    page = get(client, "/v1/payouts", limit=2)
    body = get(client, "/v1/payouts", 400, cursor=page["next_cursor"], order="asc")
    assert body["error"]["code"] == "bad_cursor"
    assert "order=desc" in body["error"]["message"]
    for bad in (
        "abc",
        base64.urlsafe_b64encode(b'{"k": "x", "o": "desc"}').decode().rstrip("="),
        encode_cursor(2**70, Order.DESC),
    ):
        assert get(client, "/v1/payouts", 400, cursor=bad)["error"] == {
            "code": "bad_cursor",
            "message": "cursor is not valid",
            "details": {"parameter": "cursor"},
        }


# ---------------------------------------------------------------- slashes, packets, committees, txs


def test_slashes(client: TestClient) -> None:
    slashes = get(client, "/v1/slashes")["items"]
    assert [s["slash_id"] for s in slashes] == [L1_SLASH, h("slash-s1")]
    exo, l1 = slashes[1], slashes[0]
    assert (exo["evidence_kind"], exo["status"], exo["freeze"], exo["operator"]) == (
        "committee_request",
        "executed_on_exocore",
        True,
        OPERATORS[3],
    )
    assert exo["assets"] == [
        {
            "token": TOKEN,
            "amount": str(5 * 10**18),
            "asset_id": f"{TOKEN}_0x9d19",
            "token_symbol": "EXOR",
            "amount_display": "5.0000 EXOR",
        }
    ]
    assert exo["avs_name"] == "test-avs"
    assert [s["member_index"] for s in exo["signers"]] == [0, 1, 2]
    assert (l1["status"], l1["l1"]["height"], l1["assets"]) == (
        "relayed",
        14,
        [
            {
                "token": TOKEN,
                "amount": "7",
                "asset_id": None,
                "token_symbol": "EXOR",
                "amount_display": "0.0000 EXOR",
            }
        ],
    )
    assert [s["slash_id"] for s in get(client, "/v1/slashes", avs=AVS2)["items"]] == [L1_SLASH]
    assert [s["slash_id"] for s in get(client, "/v1/slashes", operator=OPERATORS[3])["items"]] == [
        h("slash-s1")
    ]
    assert [s["slash_id"] for s in get(client, "/v1/slashes", operator="0x" + "0C" * 20)["items"]] == [
        L1_SLASH
    ]
    assert [s["slash_id"] for s in get(client, "/v1/slashes", status="relayed")["items"]] == [L1_SLASH]
    assert len(get(client, "/v1/slashes", token=TOKEN)["items"]) == 2
    assert get(client, "/v1/slashes", token=TOKEN2)["items"] == []
    detail = get(client, f"/v1/slashes/{h('slash-s1')}")
    assert [t["to_state"] for t in detail["timeline"]] == ["submitted", "verified", "executed_on_exocore"]


def test_packets(client: TestClient) -> None:
    packets = get(client, "/v1/packets", order="asc")["items"]
    assert [(p["nonce"], p["kind"], p["status"]) for p in packets] == [
        (1, "reward_distribution", "finalized"),
        (2, "reward_distribution", "finalized"),
        (3, "reward_distribution", "attested"),
    ]
    assert [p["nonce"] for p in get(client, "/v1/packets", status="attested")["items"]] == [3]
    assert [p["nonce"] for p in get(client, "/v1/packets", avs=AVS2)["items"]] == [3]
    assert [p["nonce"] for p in get(client, "/v1/packets", subject_id=B.claim_id)["items"]] == [2]
    assert get(client, "/v1/packets", kind="slash")["items"] == []
    assert packets[0]["l1"]["tx_hash"] == h("l1-tx-root-A")


def test_committees(client: TestClient) -> None:
    committees = get(client, f"/v1/committees/{AVS}")["items"]
    assert [c["epoch"] for c in committees] == [8, 7]
    assert committees[0]["total_power"] == "100" and committees[0]["threshold"] == "2/3"
    assert [m["operator"] for m in committees[0]["members"]] == list(OPERATORS)
    assert [c["epoch"] for c in walk(client, f"/v1/committees/{AVS}", 1, order="asc")] == [7, 8]
    assert [c["epoch"] for c in get(client, f"/v1/committees/{AVS}", epoch=7)["items"]] == [7]
    assert len(get(client, f"/v1/committees/{AVS}", operator=OPERATORS[2])["items"]) == 2
    assert get(client, f"/v1/committees/{'0x' + '99' * 20}")["items"] == []


def test_l1_transactions(client: TestClient) -> None:
    txs = get(client, "/v1/l1/txs", order="asc")["items"]
    assert [(t["purpose"], t["status"], t["origin"]) for t in txs] == [
        ("payout", "finalized", "relayer"),
        ("distribution", "finalized", "l1"),
        ("distribution", "finalized", "l1"),
        ("payout", "included", "l1"),
        ("slash", "included", "l1"),
    ]
    assert [t["tx_hash"] for t in get(client, "/v1/l1/txs", purpose="slash")["items"]] == [h("l1-tx-slash")]
    assert [t["tx_nonce"] for t in get(client, "/v1/l1/txs", sender="0x" + "5E" * 20)["items"]] == [1]
    assert len(get(client, "/v1/l1/txs", status="finalized")["items"]) == 3
    assert len(get(client, "/v1/l1/txs", distribution_id=A.distribution_id)["items"]) == 2  # relayer's + root


# ---------------------------------------------------------------------------------------- stats, ops


def test_stats(client: TestClient) -> None:
    stats = get(client, "/v1/stats")
    assert stats["counts"]["claim"] == {"paid": 1, "paying": 1, "attested": 1, "rejected": 1}
    assert stats["counts"]["payout"] == {"finalized": 4, "included": 1, "pending": 4}
    assert stats["backlog"]["claim"] == 2 and stats["backlog"]["payout"] == 5
    assert stats["oldest_pending_age_s"]["claim"] == pytest.approx(
        (NOW - (T0 + timedelta(minutes=3))).total_seconds()
    )
    assert stats["paid_per_token"] == {
        TOKEN: {"included": "0", "finalized": "1000"},
        TOKEN2: {"included": "200", "finalized": "0"},
    }
    assert {s["stream"] for s in stats["streams"]} == {"exocore", "l1:1"}
    assert stats["invariant_violations"] == 0


def test_health_ready_metrics(client: TestClient, api_engine: Engine) -> None:
    assert get(client, "/health") == {"status": "ok"}
    ready = get(client, "/ready")
    assert ready["status"] == "ready" and len(ready["streams"]) == 2
    strict = create_app(
        api_engine, clock=lambda: NOW, readiness=ReadinessPolicy(required_streams=("l1:5",), max_age_s=10**9)
    )
    with TestClient(strict) as other:
        body = get(other, "/ready", 503)
    assert body["error"]["code"] == "not_ready"
    assert "stream l1:5 has not started" in body["error"]["details"]["problems"]
    text_body = client.get("/metrics").text
    assert 'exorelay_api_requests_total{method="GET",route="/v1/claims",status="200"}' in text_body
    assert 'exorelay_indexer_stream_height{stream="l1:1"} 15.0' in text_body
    assert "exorelay_indexer_invariant_violations 0.0" in text_body


def test_ready_reports_lag_age_and_halts(api_engine: Engine) -> None:
    fresh = StreamStatus(
        stream="l1:1", chain="l1", height=10, head_height=11, halted=False, lag_blocks=1, updated_at=NOW
    )
    assert readiness_problems([fresh], ReadinessPolicy(), NOW) == []
    behind = fresh.model_copy(update={"lag_blocks": 9})
    stale = fresh.model_copy(update={"updated_at": NOW - timedelta(hours=1)})
    halted = fresh.model_copy(update={"halted": True, "halt_reason": "boom"})
    assert readiness_problems([behind], ReadinessPolicy(), NOW) == ["stream l1:1 is 9 blocks behind the head"]
    assert readiness_problems([stale], ReadinessPolicy(), NOW) == ["stream l1:1 last advanced 3600 s ago"]
    assert readiness_problems([halted], ReadinessPolicy(), NOW) == ["stream l1:1 is halted: boom"]


@pytest.mark.parametrize(
    ("path", "params", "status", "code"),
    [
        ("/v1/claims/0x1234", {}, 422, "validation_error"),
        ("/v1/claims/" + "0x" + "ab" * 32, {}, 404, "not_found"),
        ("/v1/slashes/" + "0x" + "ab" * 32, {}, 404, "not_found"),
        ("/v1/claims", {"avs": "not-an-address"}, 422, "validation_error"),
        ("/v1/claims", {"epoch": str(2**63)}, 422, "validation_error"),
        ("/v1/claims", {"epoch": "-1"}, 422, "validation_error"),
        ("/v1/claims", {"status": "lost"}, 422, "validation_error"),
        ("/v1/payouts", {"limit": "0"}, 422, "validation_error"),
        ("/v1/payouts", {"limit": "501"}, 422, "validation_error"),
        ("/v1/payouts", {"operator": "exo1\x00"}, 422, "validation_error"),
        ("/v1/payouts", {"since": "yesterday"}, 422, "validation_error"),
        ("/v1/payouts", {"since": "2026-01-01T00:00:00"}, 422, "validation_error"),
        ("/v1/payouts", {"since": "2026-13-01T00:00:00Z"}, 422, "validation_error"),
        ("/v1/payouts", {"since": "2026-01-01T00:00:00+24:00"}, 422, "validation_error"),
        ("/v1/payouts", {"cursor": "!!"}, 422, "validation_error"),
        ("/v1/nowhere", {}, 404, "not_found"),
    ],
)
def test_errors_have_one_shape(
    client: TestClient, path: str, params: dict[str, str], status: int, code: str
) -> None:
    body = get(client, path, status, **params)  # noqa: RUF100
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code


def test_method_not_allowed_has_the_error_shape(client: TestClient) -> None:
    response = client.post("/v1/claims")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_the_api_cannot_write(client: TestClient) -> None:
    engine = client.app.state.engine  # type: ignore[attr-defined]
    with pytest.raises(DBAPIError), engine.begin() as conn:
        conn.execute(
            insert(avs_table).values(
                avs_address="0x" + "99" * 20, threshold_numerator=2, threshold_denominator=3, asset_ids=[],
                reward_tokens=[], updated_height=0, created_at=NOW, updated_at=NOW,
            )
        )  # fmt: skip
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM avs")).scalar_one() == 2


def test_openapi_documents_every_endpoint_with_examples(client: TestClient) -> None:
    spec = get(client, "/openapi.json")
    paths = set(spec["paths"])
    assert {
        "/v1/claims", "/v1/claims/{claim_id}", "/v1/distributions/{distribution_id}",
        "/v1/distributions/{distribution_id}/leaves", "/v1/payouts", "/v1/slashes", "/v1/packets",
        "/v1/committees/{avs}", "/v1/l1/txs", "/v1/stats", "/health", "/ready", "/metrics",
    } <= paths  # fmt: skip
    schemas = spec["components"]["schemas"]
    for name in (
        "ClaimOut",
        "PayoutOut",
        "SlashOut",
        "PacketOut",
        "L1TxOut",
        "ErrorBody",
        "StatsOut",
        "TransitionOut",
    ):
        assert schemas[name].get("examples"), name
    claims = spec["paths"]["/v1/claims"]["get"]
    assert {"400", "422", "503"} <= set(claims["responses"])
    assert {p["name"] for p in claims["parameters"]} >= {
        "avs",
        "epoch",
        "token",
        "status",
        "operator",
        "staker",
        "since",
        "until",
        "limit",
        "cursor",
        "order",
    }


def test_time_and_chain_are_utc(client: TestClient) -> None:
    claim = get(client, f"/v1/claims/{A.claim_id}")
    assert claim["created_at"].endswith("Z") or claim["created_at"].endswith("+00:00")
    assert Chain.L1.value in {t["where"]["chain"] for t in claim["timeline"]}


def test_timeline_orders_by_whole_second_then_recorded_order() -> None:
    """Regression: an L1 block stamped 12:00:01 (whole seconds) sorted before the Exocore event it
    follows, stamped 12:00:01.700; within one second the recorded (causal) order wins."""
    exocore_first = SimpleNamespace(id=1, at=datetime(2026, 1, 1, 12, 0, 1, 700_000, tzinfo=UTC))
    l1_after = SimpleNamespace(id=2, at=datetime(2026, 1, 1, 12, 0, 1, tzinfo=UTC))
    later = SimpleNamespace(id=3, at=datetime(2026, 1, 1, 12, 0, 2, tzinfo=UTC))
    rows = [later, l1_after, exocore_first]
    assert [r.id for r in sorted(rows, key=queries._timeline_order)] == [1, 2, 3]


def test_display_fields_sit_next_to_the_exact_integers(client: TestClient) -> None:
    """Amounts in the token's unit (stored by L1 ingestion), power in USD, shares, AVS names; a token
    whose unit is not stored yet shows base units."""
    claim = get(client, f"/v1/claims/{A.claim_id}")
    listed = next(c for c in get(client, "/v1/claims")["items"] if c["claim_id"] == A.claim_id)
    for shown in (claim, listed):
        assert shown["total_amount"] == str(int(shown["total_amount"]))  # exact integers stay
        assert (shown["avs_name"], shown["token_symbol"], shown["token_decimals"]) == ("test-avs", "EXOR", 18)
        assert shown["total_amount_display"] == format_amount(
            int(shown["total_amount"]), TokenUnit("EXOR", 18)
        )
        assert shown["signed_power_usd"] == format_power(int(shown["signed_power"]))
        assert shown["signed_share"] == format_share(int(shown["signed_power"]), int(shown["total_power"]))
        assert shown["threshold_share"] == "66.7 %"
    assert [s["power_usd"] for s in claim["signers"]] == [
        format_power(int(s["power"])) for s in claim["signers"]
    ]
    dist = get(client, f"/v1/distributions/{A.distribution_id}")
    assert dist["total_display"] == format_amount(int(dist["total"]), TokenUnit("EXOR", 18))
    assert dist["paid_amount_display"] == format_amount(int(dist["paid_amount"]), TokenUnit("EXOR", 18))
    leaves = get(client, f"/v1/distributions/{A.distribution_id}/leaves")["items"]
    assert all(leaf["amount_display"] == format_units(int(leaf["amount"])) + " EXOR" for leaf in leaves)
    payouts = get(client, "/v1/payouts", distribution_id=A.distribution_id)["items"]
    assert payouts and all(
        p["amount_display"].endswith(" EXOR") and p["avs_name"] == "test-avs" for p in payouts
    )
    committee = get(client, f"/v1/committees/{AVS}")["items"][0]
    assert (committee["avs_name"], committee["threshold_share"]) == ("test-avs", "66.7 %")
    assert [m["share"] for m in committee["members"]] == [
        format_share(int(m["power"]), int(committee["total_power"])) for m in committee["members"]
    ]
    unknown = next(c for c in get(client, "/v1/claims")["items"] if c["token"] == TOKEN2)
    assert unknown["token_symbol"] is None
    assert unknown["total_amount_display"] == f"{int(unknown['total_amount']):,} base units"
