"""Cumulative answers per client chain: each chain has its own roots (periods numbered per chain),
leaves and vault payouts. A staker's earned / accrued / claimable sum each chain's own figures
(``chain_id`` narrows them to one chain), the claim is proven against one chain's root, and an AVS's
cumulative funding sums each chain's latest accepted root."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from indexer.api import ReadinessPolicy, create_app
from indexer.ingest.exocore import ExocoreIngestor
from relayer.protocol.cumulative import CumulativeLeaf, verify_cumulative_proof
from relayer.protocol.types import Amount, as_address, as_hash32
from storage.store import LifecycleStore
from tests.support.cumulative_data import (
    CHAIN_B_ID,
    EARNER,
    L1_CHAIN_ID,
    TOKEN_T,
    TOKEN_U,
    accepted,
    l1,
    leaves,
    nonce_of,
    paid,
    root_packet,
)
from tests.support.indexer_factory import AVS, Chain, avs_registered


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    app = create_app(engine, readiness=ReadinessPolicy(max_age_s=10**9))
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def two_chains(store: LifecycleStore) -> None:
    """Chain A: periods 1 and 2 on L1, EARNER paid 100 of T. Chain B: its period 1 on L1, EARNER
    paid 30 of T (B's period 1 holds the same ledger as A's)."""
    ExocoreIngestor(store).apply_block(
        Chain().block(
            avs_registered(),
            root_packet(1),
            leaves(1),
            root_packet(1, CHAIN_B_ID),
            leaves(1, CHAIN_B_ID),
            root_packet(2),
            leaves(2),
        )
    )
    l1(store, accepted(1, 10), paid(EARNER, TOKEN_T, 100, 100, 1, 11), accepted(2, 20))
    l1(store, accepted(1, 510, CHAIN_B_ID), paid(EARNER, TOKEN_T, 30, 30, 1, 511), chain=CHAIN_B_ID)


def _staker(client: TestClient, query: str = "") -> dict[str, Any]:
    response = client.get(f"/v1/stakers/{EARNER}/cumulative{query}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.usefixtures("two_chains")
def test_a_stakers_figures_are_each_chains_own_summed_or_one_chains(client: TestClient) -> None:
    body = _staker(client)
    t = next(row for row in body["tokens"] if row["token"] == TOKEN_T)
    # Earned: A's period 2 (180) + B's period 1 (100); claimable: A 180 - 100, B 100 - 30.
    assert (t["earned"], t["accrued"], t["pending"], t["claimable"]) == ("280", "280", "130", "150")
    assert [(r["chain_id"], r["period"]) for r in body["delivered_roots"]] == [
        (L1_CHAIN_ID, 2),
        (CHAIN_B_ID, 1),
    ]
    assert body["delivered_root"]["packet_nonce"] == nonce_of(1, CHAIN_B_ID)  # the one signed last
    assert {p["chain_id"] for p in body["payouts"]} == {L1_CHAIN_ID, CHAIN_B_ID}
    on_b = _staker(client, f"?chain_id={CHAIN_B_ID}")
    t_b = next(row for row in on_b["tokens"] if row["token"] == TOKEN_T)
    assert (t_b["earned"], t_b["accrued"], t_b["pending"], t_b["claimable"]) == ("100", "100", "30", "70")
    assert on_b["latest_root"] == {
        "period": 1,
        "packet_nonce": nonce_of(1, CHAIN_B_ID),
        "state": "relayed",
        "chain_id": CHAIN_B_ID,
    }
    assert [p["chain_id"] for p in on_b["payouts"]] == [CHAIN_B_ID]
    on_a = _staker(client, f"?chain_id={L1_CHAIN_ID}")
    t_a = next(row for row in on_a["tokens"] if row["token"] == TOKEN_T)
    assert (t_a["earned"], t_a["claimable"]) == ("180", "80")
    assert on_a["latest_root"]["period"] == 2


@pytest.mark.usefixtures("two_chains")
def test_a_claim_is_proven_against_one_chains_root(client: TestClient) -> None:
    for chain, period, claimable_t in ((L1_CHAIN_ID, 2, "80"), (CHAIN_B_ID, 1, "70")):
        response = client.get(f"/v1/stakers/{EARNER}/cumulative/claim?chain_id={chain}")
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["root"]["chain_id"], body["root"]["period"]) == (chain, period)
        assert body["claimable"][TOKEN_T] == claimable_t
        assert TOKEN_U in body["claimable"]  # never paid on either chain
        root = as_hash32(body["merkle_root"])
        for leaf in body["leaves"]:
            proof = [as_hash32(node) for node in leaf["proof"]]
            proven = CumulativeLeaf(
                as_address(EARNER), as_address(leaf["token"]), Amount(int(leaf["cumulative"]))
            )
            assert verify_cumulative_proof(root, proven, proof)
    default = client.get(f"/v1/stakers/{EARNER}/cumulative/claim").json()
    assert default["root"]["chain_id"] == CHAIN_B_ID  # the chain of the root delivered last
    assert client.get(f"/v1/stakers/{EARNER}/cumulative/claim?chain_id=8453").status_code == 404


@pytest.mark.usefixtures("two_chains")
def test_an_avs_cumulative_funding_sums_each_chains_latest_root(client: TestClient) -> None:
    def funding(query: str = "") -> dict[str, Any]:
        response = client.get(f"/v1/avs/{AVS}/funding{query}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    both = funding()
    t = next(row for row in both["tokens"] if row["token"] == TOKEN_T)
    # A's period 2 funds 230 of T, B's period 1 150; paid (not final yet) 100 on A, 30 on B.
    assert (t["cumulative_funded"], t["cumulative_pool_pending"]) == ("380", "130")
    assert [(r["chain_id"], r["period"]) for r in both["cumulative_roots"]] == [
        (L1_CHAIN_ID, 2),
        (CHAIN_B_ID, 1),
    ]
    on_b = funding(f"?chain_id={CHAIN_B_ID}")
    t_b = next(row for row in on_b["tokens"] if row["token"] == TOKEN_T)
    assert (t_b["cumulative_funded"], t_b["cumulative_pool_pending"]) == ("150", "30")
    assert on_b["cumulative_root"]["chain_id"] == CHAIN_B_ID


@pytest.mark.usefixtures("two_chains")
def test_the_explorer_staker_page_names_each_chains_root(client: TestClient) -> None:
    page = client.get(f"/stakers?staker={EARNER}").text
    for chain in (L1_CHAIN_ID, CHAIN_B_ID):
        assert f'<data value="{chain}" data-figure="root-chain">{chain}</data>' in page
    only_b = client.get(f"/stakers?staker={EARNER}&chain_id={CHAIN_B_ID}").text
    assert 'data-figure="root-chain"' not in only_b  # one chain: nothing to sum
    assert 'data-figure="delivered-period">1<' in only_b
