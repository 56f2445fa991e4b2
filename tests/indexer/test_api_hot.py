"""The lean hot paths (``/v1/payouts?staker=``, ``/v1/claims/{id}``) answer exactly what their
FastAPI routes answer, and hand every case they do not fully handle to the route."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, text

from indexer.api import ReadinessPolicy, create_app
from indexer.api.hot import HOT_APPLICATION_NAME, fetch_claim, statements
from storage.lifecycle import EntityKind
from tests.support.api_data import NOW, A, B, C, D, populate
from tests.support.api_hot import counted, outcomes, raw_get, via_route
from tests.support.database import empty_all_tables
from tests.support.indexer_factory import h
from tests.support.indexer_factory import staker as staker_address


@pytest.fixture(scope="module")
def hot_engine(migrated_engine: Engine) -> Engine:
    empty_all_tables(migrated_engine)
    populate(migrated_engine)
    return migrated_engine


@pytest.fixture(scope="module")
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture(scope="module")
def client(hot_engine: Engine, registry: CollectorRegistry) -> Iterator[TestClient]:
    app = create_app(
        hot_engine, clock=lambda: NOW, readiness=ReadinessPolicy(max_age_s=10**9), registry=registry
    )
    with TestClient(app) as test_client:
        yield test_client


def stakers(hot_engine: Engine) -> list[str]:
    with hot_engine.connect() as conn:
        return [
            str(s) for s in conn.execute(text("SELECT DISTINCT staker FROM payout ORDER BY staker")).scalars()
        ]


def test_staker_pages_are_the_routes_pages(
    client: TestClient, hot_engine: Engine, registry: CollectorRegistry
) -> None:
    everyone = stakers(hot_engine)
    assert len(everyone) >= 4
    served_before = counted(registry, "/v1/payouts", "served")
    hot_requests = 0
    for staker in everyone:
        for order in ("desc", "asc"):
            for limit in (1, 2, 50):
                cursor: str | None = None
                items: list[dict[str, Any]] = []
                for _ in range(20):
                    tail = f"&limit={limit}&order={order}" + (f"&cursor={cursor}" if cursor else "")
                    hot_status, hot_page = raw_get(client, f"/v1/payouts?staker={staker}{tail}")
                    route_status, route_page = raw_get(
                        client, f"/v1/payouts?staker={via_route(staker)}{tail}"
                    )
                    hot_requests += 1
                    assert (hot_status, hot_page) == (route_status, route_page) == (200, hot_page)
                    items.extend(hot_page["items"])
                    cursor = hot_page["next_cursor"]
                    if cursor is None:
                        break
                ids = [item["id"] for item in items]
                assert ids == sorted(ids, reverse=order == "desc")
                assert {item["staker"] for item in items} == {staker}
    # Every plain request above was answered by the hot path, none fell back.
    assert counted(registry, "/v1/payouts", "served") - served_before == hot_requests


def test_a_paid_payout_shows_its_transaction_on_the_hot_path(client: TestClient) -> None:
    items = raw_get(client, f"/v1/payouts?staker={staker_address(0)}")[1]["items"]
    by_distribution = {item["distribution_id"]: item for item in items}
    paid, pending = by_distribution[A.distribution_id], by_distribution[C.distribution_id]
    assert paid["status"] == "finalized" and pending["status"] == "pending" and pending["l1_tx"] is None
    tx = paid["l1_tx"]
    assert tx["tx_hash"].startswith("0x") and tx["block_number"] == 12 and tx["block_hash"].startswith("0x")
    assert paid["amount"] == "100" and paid["created_at"].endswith("Z")


def test_claim_details_are_the_routes_details(client: TestClient, registry: CollectorRegistry) -> None:
    served_before = counted(registry, "/v1/claims/{claim_id}", "served")
    fallback_before = counted(registry, "/v1/claims/{claim_id}", "fallback")
    for claim_id in (A.claim_id, B.claim_id, C.claim_id, D.claim_id, A.claim_id.upper().replace("0X", "0x")):
        hot = raw_get(client, f"/v1/claims/{claim_id}")
        route = raw_get(client, f"/v1/claims/{claim_id}?via=route")
        assert hot == route
        assert hot[0] == 200 and hot[1]["claim_id"] == claim_id.lower()
    detail = raw_get(client, f"/v1/claims/{A.claim_id}")[1]
    kinds = {step["entity_kind"] for step in detail["timeline"]}
    assert {EntityKind.CLAIM.value, EntityKind.PACKET.value, EntityKind.L1_TX.value} <= kinds
    assert detail["distribution"]["root_on_l1"]["tx_hash"] is not None
    assert counted(registry, "/v1/claims/{claim_id}", "served") - served_before == 6
    # Unknown: the hot path finds nothing and the route answers its 404.
    unknown = h("no-such-claim")
    assert raw_get(client, f"/v1/claims/{unknown}") == raw_get(client, f"/v1/claims/{unknown}?via=route")
    assert raw_get(client, f"/v1/claims/{unknown}")[0] == 404
    assert counted(registry, "/v1/claims/{claim_id}", "fallback") - fallback_before == 2


def test_the_pipelined_claim_statements_read_what_they_read_one_by_one(hot_engine: Engine) -> None:
    """PostgreSQL sends a claim's three statements in one pipeline; the document must be the one the
    statements give one after the other (SQLite always runs them so)."""
    sql = statements(hot_engine.dialect)
    unknown = h("no-such-claim")
    with hot_engine.connect() as conn:
        dbapi = conn.connection.driver_connection
        for claim_id in (A.claim_id, B.claim_id, C.claim_id, D.claim_id, unknown):
            pipelined = fetch_claim(dbapi, sql, claim_id)
            assert pipelined == fetch_claim(dbapi, sql, claim_id, pipelined=False)
            assert (pipelined is None) == (claim_id == unknown)


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("cursor=AAAA", 400, "bad_cursor"),  # well-formed but not a cursor this listing issued
        ("limit=0", 422, "validation_error"),
        ("limit=501", 422, "validation_error"),
        ("order=sideways", 422, "validation_error"),
        ("cursor=not*valid", 422, "validation_error"),
    ],
)
def test_what_the_hot_path_refuses_the_route_answers(
    client: TestClient, query: str, status: int, code: str
) -> None:
    got_status, body = raw_get(client, f"/v1/payouts?staker={staker_address(0)}&{query}")
    assert (got_status, body["error"]["code"]) == (status, code)


def test_other_filters_go_to_the_route(client: TestClient, registry: CollectorRegistry) -> None:
    staker = staker_address(0)
    before = outcomes(registry)
    both = raw_get(client, f"/v1/payouts?staker={staker}&status=finalized")
    assert both[0] == 200 and all(item["status"] == "finalized" for item in both[1]["items"])
    assert raw_get(client, "/v1/payouts?staker=0x12")[0] == 422
    assert outcomes(registry) == before  # neither touched the hot path


def test_hot_reads_survive_a_lost_connection(
    client: TestClient, hot_engine: Engine, registry: CollectorRegistry
) -> None:
    """A database restart (or a proxy dropping idle connections) kills the hot connection: the
    request that finds it dead is answered by the route, the next one reconnects."""
    reader = client.app.state.hot_reader  # type: ignore[attr-defined]
    assert reader.application_name.startswith(f"{HOT_APPLICATION_NAME}/{os.getpid()}/")
    url = f"/v1/claims/{A.claim_id}"
    expected = raw_get(client, url)
    assert expected[0] == 200
    killed = 0
    if hot_engine.dialect.name == "postgresql":
        with hot_engine.connect() as conn:
            killed = len(
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE application_name = :name"
                    ),
                    {"name": reader.application_name},
                ).all()
            )
        assert killed == 1, "the app has exactly one hot connection"
    fallback_before = counted(registry, "/v1/claims/{claim_id}", "fallback")
    served_before = counted(registry, "/v1/claims/{claim_id}", "served")
    assert raw_get(client, url) == expected
    assert raw_get(client, url) == expected
    fallbacks = counted(registry, "/v1/claims/{claim_id}", "fallback") - fallback_before
    served = counted(registry, "/v1/claims/{claim_id}", "served") - served_before
    # PostgreSQL: one fallback (the dead connection), then served again; SQLite reads through the
    # engine's pool and has no connection of its own to lose.
    assert (fallbacks, served) == ((1, 1) if killed else (0, 2))


def test_an_unreachable_database_is_a_503_from_the_route() -> None:
    """Nothing listens on the port: the hot path's connection attempt fails (in a thread, not on the
    event loop), the routes answer 503 ``database_unavailable``, and during the back-off the hot
    path does not try again."""
    registry = CollectorRegistry()
    app = create_app("postgresql+psycopg://root@127.0.0.1:1/nowhere", registry=registry)
    with TestClient(app) as down:
        for url in (f"/v1/claims/{A.claim_id}", f"/v1/payouts?staker={staker_address(0)}") * 2:
            status, body = raw_get(down, url)
            assert (status, body["error"]["code"]) == (503, "database_unavailable")
        reader = app.state.hot_reader
        assert reader.own_connection and not reader.connected
    assert outcomes(registry) == {
        ("/v1/claims/{claim_id}", "fallback"): 2.0,
        ("/v1/payouts", "fallback"): 2.0,
    }
