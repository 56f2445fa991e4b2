"""GET /v1/avs/{avs}/funding (and the explorer's committees page): per token, what an AVS funded and
what reached stakers — per-distribution payouts (paid when final, pending before) and, for
cumulative roots, what the AVS funded in the latest root on L1 next to the token's pool (every AVS's
funding of the token and what the vault paid out of it; cumulative payouts are per earner and token,
not per AVS)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from indexer.api import ReadinessPolicy, create_app
from indexer.ingest.exocore import ExocoreIngestor
from storage.store import LifecycleStore
from tests.support.api_data import A, B, populate
from tests.support.cumulative_data import EARNER, TOKEN_T, TOKEN_U, accepted, l1, leaves, paid, root_packet
from tests.support.indexer_factory import AVS, AVS2, TOKEN, TOKEN2, Chain


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    populate(engine)
    store = LifecycleStore(engine)
    ExocoreIngestor(store).apply_block(Chain(start=7).block(root_packet(1), leaves(1)))
    # Period 1's root on L1 (block 10), a payout in block 11: both at or below the finalized 12.
    l1(store, accepted(1, 10), paid(EARNER, TOKEN_T, 100, 100, 1, 11))
    with TestClient(create_app(engine, readiness=ReadinessPolicy(max_age_s=10**9))) as test_client:
        yield test_client


def test_an_avs_sees_what_it_funded_and_what_reached_stakers(client: TestClient) -> None:
    response = client.get(f"/v1/avs/{AVS}/funding")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["avs"] == AVS
    assert body["cumulative_root"]["period"] == 1 and body["cumulative_root"]["state"] == "relayed"
    tokens = {row["token"]: row for row in body["tokens"]}
    figures = (
        "distributed",
        "paid",
        "pending",
        "cumulative_funded",
        "cumulative_pool_funded",
        "cumulative_pool_paid",
        "cumulative_pool_pending",
    )
    # Distribution A (TOKEN): 1000 distributed, all four leaves paid in block 12 (final).
    # Distribution B (TOKEN2): 600 distributed, one leaf of 200 paid in block 13 (not final yet).
    assert {k: tokens[TOKEN][k] for k in figures} == {
        "distributed": str(A.total),
        "paid": str(A.total),
        "pending": "0",
        "cumulative_funded": "0",
        "cumulative_pool_funded": "0",
        "cumulative_pool_paid": "0",
        "cumulative_pool_pending": "0",
    }
    # Token T (= TOKEN2) is paid both ways: distribution B (600 distributed, one leaf of 200 paid
    # in block 13, not final yet), and the cumulative root, which funds 150 of it for this AVS (the
    # whole pool) and out of which the vault paid 100 (block 11, final).
    assert TOKEN_T == TOKEN2
    assert {k: tokens[TOKEN_T][k] for k in figures} == {
        "distributed": str(B.total),
        "paid": "0",
        "pending": "200",
        "cumulative_funded": "150",
        "cumulative_pool_funded": "150",
        "cumulative_pool_paid": "100",
        "cumulative_pool_pending": "0",
    }
    assert (tokens[TOKEN_U]["cumulative_funded"], tokens[TOKEN_U]["cumulative_pool_paid"]) == ("7", "0")
    # Another AVS has only its own distributions; an unknown AVS is a 404.
    other = client.get(f"/v1/avs/{AVS2}/funding").json()
    assert {row["token"] for row in other["tokens"]} == {TOKEN} and other["cumulative_root"] is None
    assert client.get(f"/v1/avs/0x{'99' * 20}/funding").status_code == 404


def test_the_committees_page_shows_the_avs_funding(client: TestClient) -> None:
    api = client.get(f"/v1/avs/{AVS}/funding").json()
    page = client.get(f"/committees?avs={AVS}").text
    # Every token the AVS funded (none missing, so the loop below checks each of them).
    assert {row["token"] for row in api["tokens"]} == {TOKEN, TOKEN2, TOKEN_U}
    for row in api["tokens"]:
        assert f'data-funding-token="{row["token"]}"' in page
        for figure in ("distributed", "paid", "pending", "cumulative_funded", "cumulative_pool_paid"):
            assert f'data-figure="{figure}"><data class="num" value="{row[figure]}"' in page
