"""Rows of two client chains in one database: the indexer names each L1-side row's chain, finality
of one chain never finalizes another's rows, the API filters by ``chain_id`` and totals per chain,
and the explorer shows and filters by the chain.

The rows are written through the store exactly as each chain's L1 ingestion writes them
(``apply_l1_logs(..., chain_id=)``, ``finalize_l1(..., chain_id=)``); the two-anvil routing of
packets to their chain is proven in tests/relayer/pipeline/test_client_chain_routing.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from indexer.api import ReadinessPolicy, create_app
from storage.lifecycle import L1TxState, PayoutState
from storage.models import (
    distribution_table,
    l1_tx_table,
    packet_table,
    payout_table,
    reward_funding_table,
    slash_table,
    transfer_table,
)
from tests.support.database import empty_all_tables
from tests.support.indexer_factory import AVS, AVS2, TOKEN, h, staker
from tests.support.two_chains import CHAIN_A, CHAIN_B, NOW, ON_A, ON_B, SLASH_ID, populate_two_chains


@pytest.fixture(scope="module")
def chains_engine(migrated_engine: Engine) -> Engine:
    empty_all_tables(migrated_engine)
    populate_two_chains(migrated_engine)
    return migrated_engine


@pytest.fixture(scope="module")
def client(chains_engine: Engine) -> Iterator[TestClient]:
    app = create_app(chains_engine, clock=lambda: NOW, readiness=ReadinessPolicy(max_age_s=10**9))
    with TestClient(app) as test_client:
        yield test_client


def get(client: TestClient, path: str, **params: Any) -> Any:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_every_l1_side_row_names_the_chain_it_landed_on(chains_engine: Engine) -> None:
    with chains_engine.connect() as conn:
        payouts = conn.execute(select(payout_table.c.distribution_id, payout_table.c.l1_chain_id)).all()
        roots = dict(conn.execute(select(distribution_table.c.nonce, distribution_table.c.l1_chain_id)).all())
        packets = dict(conn.execute(select(packet_table.c.nonce, packet_table.c.l1_chain_id)).all())
        slashes = conn.execute(select(slash_table.c.l1_chain_id)).scalars().all()
        transfers = conn.execute(select(transfer_table.c.tx_hash, transfer_table.c.l1_chain_id)).all()
        txs = dict(conn.execute(select(l1_tx_table.c.tx_hash, l1_tx_table.c.chain_id)).all())
        funding = conn.execute(select(reward_funding_table.c.l1_chain_id)).scalars().all()
    expected = {ON_A.distribution_id: CHAIN_A, ON_B.distribution_id: CHAIN_B}
    assert sorted(payouts) == sorted((d, expected[d]) for d, _ in payouts) and len(payouts) == 5
    assert roots == {1: CHAIN_A, 2: CHAIN_B}
    assert packets[1] == CHAIN_A and packets[2] == CHAIN_B
    assert slashes == [CHAIN_B]
    assert funding == [CHAIN_B]
    assert {t: c for t, c in transfers} == {h("l1-tx-pay-a"): CHAIN_A, h("l1-tx-pay-b"): CHAIN_B}
    assert txs[h("l1-tx-pay-a")] == CHAIN_A and txs[h("l1-tx-slash-b")] == CHAIN_B


def test_finality_of_one_chain_leaves_the_others_rows_alone(chains_engine: Engine) -> None:
    """Regression: finalize_l1 compared heights of every chain's rows with one chain's finalized
    height, so chain B's (higher) height finalized chain A's payouts that A had not finalized."""
    p = payout_table
    with chains_engine.connect() as conn:
        states = dict(conn.execute(select(p.c.l1_chain_id, p.c.state).where(p.c.leaf_index == 0)).all())
        tx_states = dict(conn.execute(select(l1_tx_table.c.tx_hash, l1_tx_table.c.state)).all())
        root_final = dict(
            conn.execute(select(distribution_table.c.nonce, distribution_table.c.l1_finalized)).all()
        )
    assert states == {CHAIN_A: PayoutState.INCLUDED.value, CHAIN_B: PayoutState.FINALIZED.value}
    assert tx_states[h("l1-tx-pay-a")] == L1TxState.INCLUDED.value
    assert tx_states[h("l1-tx-pay-b")] == L1TxState.FINALIZED.value
    assert root_final == {1: True, 2: True}


def test_listings_filter_by_chain(client: TestClient) -> None:
    def items(path: str, **params: Any) -> list[dict[str, Any]]:
        return list(get(client, path, limit=100, **params)["items"])

    payouts_a = items("/v1/payouts", chain_id=CHAIN_A)
    payouts_b = items("/v1/payouts", chain_id=CHAIN_B)
    assert {p["distribution_id"] for p in payouts_a} == {ON_A.distribution_id} and len(payouts_a) == 3
    assert {p["distribution_id"] for p in payouts_b} == {ON_B.distribution_id} and len(payouts_b) == 2
    assert {p["chain_id"] for p in payouts_a} == {CHAIN_A}
    assert len(items("/v1/payouts")) == 5
    assert items("/v1/payouts", chain_id=1) == []
    # A staker paid on both chains: the staker's view (the hot path) names each payout's chain,
    # and with chain_id only that chain's.
    mine = items("/v1/payouts", staker=staker(0))
    assert sorted(p["chain_id"] for p in mine) == [CHAIN_A, CHAIN_B]
    assert [p["chain_id"] for p in items("/v1/payouts", staker=staker(0), chain_id=CHAIN_B)] == [CHAIN_B]
    assert [c["claim_id"] for c in items("/v1/claims", chain_id=CHAIN_A)] == [ON_A.claim_id]
    assert [c["claim_id"] for c in items("/v1/claims", chain_id=CHAIN_B)] == [ON_B.claim_id]
    packets_b = items("/v1/packets", chain_id=CHAIN_B)
    assert [(k["nonce"], k["chain_id"]) for k in packets_b] == [(2, CHAIN_B)]
    assert [s["chain_id"] for s in items("/v1/slashes", chain_id=CHAIN_B)] == [CHAIN_B]
    assert items("/v1/slashes", chain_id=CHAIN_A) == []
    txs_a = items("/v1/l1/txs", chain_id=CHAIN_A)
    assert {t["tx_hash"] for t in txs_a} == {h("l1-tx-root-on-a"), h("l1-tx-pay-a")}
    assert {t["chain_id"] for t in txs_a} == {CHAIN_A}
    response = client.get("/v1/payouts", params={"chain_id": "-1"})
    assert response.status_code == 422


def test_paid_totals_per_chain_add_up_to_the_whole(client: TestClient) -> None:
    stats = get(client, "/v1/stats")
    per_chain = stats["paid_per_chain"]
    assert set(per_chain) == {str(CHAIN_A), str(CHAIN_B)}
    assert per_chain[str(CHAIN_A)][TOKEN] == {"included": str(sum(ON_A.amounts)), "finalized": "0"}
    assert per_chain[str(CHAIN_B)][TOKEN] == {"included": "0", "finalized": str(sum(ON_B.amounts))}
    for status in ("included", "finalized"):
        summed = sum(int(chain[TOKEN][status]) for chain in per_chain.values())
        assert summed == int(stats["paid_per_token"][TOKEN][status])


def test_explorer_shows_and_filters_by_chain(client: TestClient) -> None:
    page = client.get("/stakers", params={"staker": staker(0)})
    assert page.status_code == 200
    assert f'data-figure="chain">{CHAIN_A}<' in page.text and f'data-figure="chain">{CHAIN_B}<' in page.text
    only_b = client.get("/stakers", params={"staker": staker(0), "chain_id": str(CHAIN_B)}).text
    assert f'data-figure="chain">{CHAIN_B}<' in only_b and f'data-figure="chain">{CHAIN_A}<' not in only_b
    slashes = client.get("/slashes", params={"chain_id": str(CHAIN_B)}).text
    assert SLASH_ID in slashes and f'data-figure="chain">{CHAIN_B}<' in slashes
    assert SLASH_ID not in client.get("/slashes", params={"chain_id": str(CHAIN_A)}).text
    claims = client.get("/", params={"chain_id": str(CHAIN_A)}).text
    assert ON_A.claim_id in claims and ON_B.claim_id not in claims
    bad = client.get("/slashes", params={"chain_id": "x"})
    assert "Client chain must be a whole number" in bad.text


def test_reward_sources_per_chain_add_up_to_the_whole(client: TestClient) -> None:
    """Each chain's reward-source figures are its own distributions, payouts and deposits (A's claim
    pays on A; B's claim and AVS2's deposit are on B), and the chains add up to the unfiltered rows."""

    def rows(**params: Any) -> dict[tuple[str, str], dict[str, Any]]:
        answer = get(client, "/v1/reward-sources", **params)
        assert answer["chain_id"] == params.get("chain_id")
        return {(r["avs_address"], r["source_name"]): r for r in answer["sources"]}

    on_a, on_b, everywhere = rows(chain_id=CHAIN_A), rows(chain_id=CHAIN_B), rows()
    assert set(on_a) == {(AVS, "MINT")}
    assert (on_a[(AVS, "MINT")]["distributed"], on_a[(AVS, "MINT")]["paid"]) == (
        str(ON_A.total),
        str(sum(ON_A.amounts)),
    )
    assert set(on_b) == {(AVS2, "MINT"), (AVS2, "VAULT")}
    assert on_b[(AVS2, "VAULT")]["funded"] == str(10**18)
    assert (on_b[(AVS2, "MINT")]["distributed"], on_b[(AVS2, "MINT")]["paid"]) == (
        str(ON_B.total),
        str(sum(ON_B.amounts)),
    )
    assert set(everywhere) == set(on_a) | set(on_b)
    for key, row in everywhere.items():
        part = on_a.get(key) or on_b[key]
        assert (row["distributed"], row["paid"], row["funded"]) == (
            part["distributed"],
            part["paid"],
            part["funded"],
        )
