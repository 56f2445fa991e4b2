"""GET /v1/stakers/{staker}/cumulative from stored leaves and vault logs: what a staker earned (the
latest closed period Exocore knows), accrued (the latest root delivered on L1), was paid and can
claim, per token, with both roots' lifecycles; and the ``cumulative_paid_le_accrued`` invariant."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from indexer.api import ReadinessPolicy, create_app
from indexer.ingest.exocore import ExocoreIngestor
from relayer.protocol.cumulative import CumulativeLeaf, verify_cumulative_proof
from relayer.protocol.cumulative_claim import plan_claim
from relayer.protocol.types import Amount, as_address, as_hash32
from relayer.protocol.units import format_amount
from storage.errors import InvariantViolationError
from storage.invariants import CUMULATIVE_PAID_LE_ACCRUED, check_cumulative_paid_within_accrued
from storage.store import LifecycleStore
from tests.support.cumulative_data import (
    EARNER,
    L1_CHAIN_ID,
    NONCE0,
    OTHER,
    TOKEN_T,
    TOKEN_U,
    VAULT,
    accepted,
    l1,
    leaves,
    paid,
    root_packet,
    tree,
)
from tests.support.indexer_factory import Chain, h, staker


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    app = create_app(engine, readiness=ReadinessPolicy(max_age_s=10**9))
    with TestClient(app) as test_client:
        yield test_client


def _view(client: TestClient, earner: str) -> tuple[dict[str, dict[str, str]], Any, Any]:
    response = client.get(f"/v1/stakers/{earner}/cumulative")
    assert response.status_code == 200, response.text
    body = response.json()
    tokens = {row.pop("token"): row for row in body["tokens"]}
    return tokens, body["latest_root"], body["delivered_root"]


def test_earned_accrued_paid_and_claimable_follow_the_roots(
    store: LifecycleStore, client: TestClient
) -> None:
    chain = Chain()
    ingestor = ExocoreIngestor(store)
    for period in (1, 2):
        assert ingestor.apply_block(chain.block(root_packet(period), leaves(period)))
    # Both periods closed on Exocore, none on L1: earned, nothing accrued or claimable yet.
    tokens, latest, delivered = _view(client, EARNER)
    assert latest == {"period": 2, "packet_nonce": NONCE0 + 2, "state": "created", "chain_id": L1_CHAIN_ID}
    assert delivered is None
    assert {t: (row["earned"], row["accrued"], row["claimable"]) for t, row in tokens.items()} == {
        TOKEN_T: ("180", "0", "0"),
        TOKEN_U: ("7", "0", "0"),
    }
    # Period 1's root reaches L1 and the earner claims its token-T total under it (block 11, final).
    l1(store, accepted(1, 10))
    l1(store, paid(EARNER, TOKEN_T, 100, 100, 1, 11))
    with store.begin() as tx:
        tx.set_cursor(f"l1:{L1_CHAIN_ID}", "l1", 11, h("l1-block-11"), head_height=11, finalized_height=11)
    tokens, latest, delivered = _view(client, EARNER)
    assert delivered == {"period": 1, "packet_nonce": NONCE0 + 1, "state": "relayed", "chain_id": L1_CHAIN_ID}
    assert latest["period"] == 2
    figures = ("earned", "accrued", "paid", "paid_pushed", "paid_by_earner", "claimable")
    assert {key: tokens[TOKEN_T][key] for key in figures} == {
        "earned": "180",
        "accrued": "100",
        "paid": "100",
        "paid_pushed": "0",
        "paid_by_earner": "100",
        "claimable": "0",
    }
    assert tokens[TOKEN_T]["token_symbol"] is None  # no unit stored: grouped base units
    assert tokens[TOKEN_T]["earned_display"] == format_amount(180, None)
    assert (tokens[TOKEN_U]["accrued"], tokens[TOKEN_U]["claimable"]) == ("7", "7")
    # Period 2's root lands: the growth since period 1 becomes claimable.
    l1(store, accepted(2, 12))
    tokens, _, delivered = _view(client, EARNER)
    assert delivered["period"] == 2
    assert (tokens[TOKEN_T]["accrued"], tokens[TOKEN_T]["claimable"]) == ("180", "80")
    # Another earner's figures are its own; a stranger has none.
    other, _, _ = _view(client, OTHER)
    assert set(other) == {TOKEN_T} and other[TOKEN_T]["claimable"] == "50"
    stranger, latest, delivered = _view(client, staker(3))
    assert (stranger, latest, delivered) == ({}, None, None)


def test_a_replayed_leaf_page_changes_nothing(store: LifecycleStore, client: TestClient) -> None:
    chain = Chain()
    ingestor = ExocoreIngestor(store)
    ingestor.apply_block(chain.block(root_packet(1), leaves(1)))
    before = _view(client, EARNER)
    with store.begin() as tx:
        tx.apply_exocore_event(leaves(1), chain.block().ref(0, None))
    assert _view(client, EARNER) == before


def test_paying_more_than_the_root_accrued_violates_the_invariant(store: LifecycleStore) -> None:
    ExocoreIngestor(store).apply_block(Chain().block(root_packet(1), leaves(1)))
    l1(store, accepted(1, 10), paid(OTHER, TOKEN_T, 50, 50, 1, 11))
    with store.begin() as tx:
        check_cumulative_paid_within_accrued(
            tx.conn, "l1", L1_CHAIN_ID, {(OTHER, TOKEN_T)}
        )  # exactly accrued: fine
        tx.apply_l1_logs([paid(OTHER, TOKEN_T, 1, 51, 1, 12)], chain_id=L1_CHAIN_ID)
        with pytest.raises(InvariantViolationError) as raised:
            check_cumulative_paid_within_accrued(tx.conn, "l1", L1_CHAIN_ID, {(OTHER, TOKEN_T)})
    assert raised.value.invariant == CUMULATIVE_PAID_LE_ACCRUED


def test_the_claim_endpoint_proves_the_leaves_of_the_latest_delivered_root(
    store: LifecycleStore, client: TestClient
) -> None:
    chain = Chain()
    ingestor = ExocoreIngestor(store)
    for period in (1, 2):
        ingestor.apply_block(chain.block(root_packet(period), leaves(period)))
    assert client.get(f"/v1/stakers/{EARNER}/cumulative/claim").status_code == 404  # none on L1 yet
    l1(store, accepted(1, 10), paid(EARNER, TOKEN_T, 100, 100, 1, 11))
    response = client.get(f"/v1/stakers/{EARNER}/cumulative/claim")
    assert response.status_code == 200, response.text
    body = response.json()
    period_tree = tree(1)
    assert body["root"]["period"] == 1 and body["merkle_root"] == "0x" + period_tree.root.hex()
    # Every leaf of the staker, each with a proof that holds against the root L1 has.
    assert {leaf["token"]: leaf["cumulative"] for leaf in body["leaves"]} == {TOKEN_T: "100", TOKEN_U: "7"}
    for leaf in body["leaves"]:
        proven = CumulativeLeaf(
            as_address(EARNER), as_address(leaf["token"]), Amount(int(leaf["cumulative"]))
        )
        assert verify_cumulative_proof(period_tree.root, proven, [as_hash32(p) for p in leaf["proof"]])
    # Token T is paid in full: the calldata claims token U alone, the same call exorelay claim builds.
    assert body["claimable"] == {TOKEN_U: "7"}
    expected = plan_claim(
        leaves=period_tree.leaves,
        period=1,
        vault=None,
        earner=as_address(EARNER),
        claimed={as_address(TOKEN_T): 100},
    )
    assert body["calldata"] == "0x" + expected.calldata.hex()
    # A wallet sends it as given: to the RewardVault that took the root, from the staker.
    assert (body["to"], body["from"]) == (VAULT, EARNER)
    # Once everything is paid there is nothing to send, but the proofs are still given.
    l1(store, paid(EARNER, TOKEN_U, 7, 7, 1, 12))
    body = client.get(f"/v1/stakers/{EARNER}/cumulative/claim").json()
    assert (body["calldata"], body["claimable"], len(body["leaves"])) == (None, {}, 2)


def test_paid_counts_final_payouts_and_pending_the_ones_not_final_yet(
    store: LifecycleStore, client: TestClient
) -> None:
    """A payout in a block past L1's finalized height can still be reorged away: it is ``pending``,
    not ``paid``, until its block is final; either way it is no longer claimable."""
    ExocoreIngestor(store).apply_block(Chain().block(root_packet(1), leaves(1)))
    l1(store, accepted(1, 10), paid(EARNER, TOKEN_T, 60, 60, 1, 11), paid(EARNER, TOKEN_T, 40, 100, 1, 13))
    with store.begin() as tx:
        tx.set_cursor(f"l1:{L1_CHAIN_ID}", "l1", 14, h("l1-block-14"), head_height=14, finalized_height=12)
    tokens, _, _ = _view(client, EARNER)
    assert {key: tokens[TOKEN_T][key] for key in ("paid", "pending", "claimable")} == {
        "paid": "60",
        "pending": "40",
        "claimable": "0",
    }
    body = client.get(f"/v1/stakers/{EARNER}/cumulative").json()
    assert {(p["amount"], p["final"]) for p in body["payouts"]} == {("60", True), ("40", False)}
    # The later block becomes final: all of it is paid.
    with store.begin() as tx:
        tx.set_cursor(f"l1:{L1_CHAIN_ID}", "l1", 14, h("l1-block-14"), head_height=14, finalized_height=13)
    tokens, _, _ = _view(client, EARNER)
    assert (tokens[TOKEN_T]["paid"], tokens[TOKEN_T]["pending"]) == ("100", "0")
