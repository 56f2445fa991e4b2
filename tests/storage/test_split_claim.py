"""A reward claim Exocore split over two client chains: one distribution per chain, and the claim's
state is the least advanced of its distributions'.

Regression: the claim kept one ``distribution_id`` and followed whichever distribution an L1 batch
touched, so the first chain's distribution being fully paid made the claim ``paid`` while the other
chain had paid nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from indexer.api import ReadinessPolicy, create_app
from storage.lifecycle import ClaimState, EntityKind
from storage.models import claim_table, distribution_table
from storage.store import LifecycleStore
from tests.support.indexer_factory import T0, h
from tests.support.split_claim import SHARE_A, SHARE_B, SPLIT_CLAIM_ID, populate_split_claim
from tests.support.two_chains import CHAIN_A, CHAIN_B

A_ROOT, A_PAID = 10, 12
B_ROOT, B_PAID = 500, 502
NOW = T0 + timedelta(days=1)


@pytest.fixture
def store(engine: Engine) -> LifecycleStore:
    return populate_split_claim(engine)


@pytest.fixture
def api(engine: Engine) -> Iterator[TestClient]:
    app = create_app(engine, clock=lambda: NOW, readiness=ReadinessPolicy(max_age_s=10**9))
    with TestClient(app) as client:
        yield client


def _claim(api: TestClient) -> Any:
    answer = api.get(f"/v1/claims/{SPLIT_CLAIM_ID}")
    assert answer.status_code == 200, answer.text
    return answer.json()


def _payment_states(engine: Engine) -> dict[str, str | None]:
    d = distribution_table
    with engine.connect() as conn:
        return dict(conn.execute(select(d.c.distribution_id, d.c.payment_state)).all())


def _claim_state(engine: Engine) -> str:
    with engine.connect() as conn:
        state: str = conn.execute(
            select(claim_table.c.state).where(claim_table.c.claim_id == SPLIT_CLAIM_ID)
        ).scalar_one()
    return state


def test_a_claim_split_over_two_chains_is_paid_only_when_both_chains_paid(
    engine: Engine, store: LifecycleStore, api: TestClient
) -> None:
    at = T0 + timedelta(hours=3)
    # Chain A relays, finalizes and pays its whole distribution.
    with store.begin() as tx:
        tx.apply_l1_logs([SHARE_A.root_log(A_ROOT)], chain_id=CHAIN_A)
    assert _claim_state(engine) == ClaimState.ATTESTED  # chain B's root is not on L1 yet
    with store.begin() as tx:
        tx.apply_l1_logs(SHARE_A.paid_logs(A_PAID, [0, 1, 2], "pay-split-a"), chain_id=CHAIN_A)
        tx.finalize_l1(A_PAID, at, chain_id=CHAIN_A)
    assert _payment_states(engine)[SHARE_A.distribution_id] == ClaimState.PAID
    assert _claim_state(engine) == ClaimState.ATTESTED

    # Chain B's root lands and is final: every root is, A paid, B not yet: paying, not paid.
    with store.begin() as tx:
        tx.apply_l1_logs([SHARE_B.root_log(B_ROOT)], chain_id=CHAIN_B)
    assert _claim_state(engine) == ClaimState.RELAYED
    with store.begin() as tx:
        tx.finalize_l1(B_ROOT, at, chain_id=CHAIN_B)
    assert _claim_state(engine) == ClaimState.PAYING
    claim = _claim(api)
    assert claim["status"] == "paying"
    assert claim["distribution_id"] == SHARE_A.distribution_id  # the first; the list is authoritative
    assert [
        (d["distribution_id"], d["chain_id"], d["status"], d["payment_state"]) for d in claim["distributions"]
    ] == [
        (SHARE_A.distribution_id, CHAIN_A, "paid", "paid"),
        (SHARE_B.distribution_id, CHAIN_B, "finalized", None),
    ]
    listed = api.get("/v1/claims", params={"chain_id": CHAIN_B}).json()["items"]
    assert [c["claim_id"] for c in listed] == [SPLIT_CLAIM_ID]
    assert [d["status"] for d in listed[0]["distributions"]] == ["paid", "finalized"]

    # Chain B pays one leaf, then the other; the claim is paid once B's last payment is final.
    with store.begin() as tx:
        tx.apply_l1_logs(SHARE_B.paid_logs(B_PAID, [0], "pay-split-b0"), chain_id=CHAIN_B)
        tx.finalize_l1(B_PAID, at, chain_id=CHAIN_B)
    assert _payment_states(engine)[SHARE_B.distribution_id] == ClaimState.PAYING
    assert _claim_state(engine) == ClaimState.PAYING
    with store.begin() as tx:
        tx.apply_l1_logs(SHARE_B.paid_logs(B_PAID + 1, [1], "pay-split-b1"), chain_id=CHAIN_B)
    assert _claim_state(engine) == ClaimState.PAYING  # included, not final
    with store.begin() as tx:
        tx.finalize_l1(B_PAID + 1, at, chain_id=CHAIN_B)
    assert _claim_state(engine) == ClaimState.PAID

    claim = _claim(api)
    assert claim["status"] == "paid"
    assert [d["status"] for d in claim["distributions"]] == ["paid", "paid"]
    timeline = claim["timeline"]
    claim_moves = [t["to_state"] for t in timeline if t["entity_kind"] == EntityKind.CLAIM]
    assert claim_moves[-4:] == ["relayed", "finalized", "paying", "paid"]
    # Both chains' packets and root transactions are in the claim's timeline.
    packets = {(t["entity_id"], t["to_state"]) for t in timeline if t["entity_kind"] == EntityKind.PACKET}
    assert {(str(SHARE_A.nonce), "relayed"), (str(SHARE_B.nonce), "relayed")} <= packets, packets
    assert {(str(SHARE_A.nonce), "finalized"), (str(SHARE_B.nonce), "finalized")} <= packets
    root_txs = {t["entity_id"] for t in timeline if t["entity_kind"] == EntityKind.L1_TX}
    assert root_txs == {h("l1-tx-root-split-a"), h("l1-tx-root-split-b")}
    # The claim was relayed by the second root (chain B's), paid by B's last payment.
    moves = {t["to_state"]: t["where"]["tx_hash"] for t in timeline if t["entity_kind"] == EntityKind.CLAIM}
    assert moves["relayed"] == h("l1-tx-root-split-b")
    assert moves["paid"] == h("l1-tx-pay-split-b1")


def test_a_reorg_of_a_chains_payments_takes_its_distribution_back_from_paying(
    engine: Engine, store: LifecycleStore
) -> None:
    at = T0 + timedelta(hours=3)
    with store.begin() as tx:
        tx.apply_l1_logs([SHARE_A.root_log(A_ROOT)], chain_id=CHAIN_A)
        tx.apply_l1_logs([SHARE_B.root_log(B_ROOT)], chain_id=CHAIN_B)
        tx.finalize_l1(A_ROOT, at, chain_id=CHAIN_A)
        tx.finalize_l1(B_ROOT, at, chain_id=CHAIN_B)
        tx.apply_l1_logs(SHARE_B.paid_logs(B_PAID, [0], "pay-split-b0"), chain_id=CHAIN_B)
    assert _claim_state(engine) == ClaimState.PAYING
    assert _payment_states(engine) == {SHARE_A.distribution_id: None, SHARE_B.distribution_id: "paying"}
    # Chain A reorging says nothing about B's payment.
    with store.begin() as tx:
        tx.reverse_l1_above(A_ROOT, at, chain_id=CHAIN_A)
    assert _payment_states(engine)[SHARE_B.distribution_id] == "paying"
    # Chain B's payment block is orphaned: B paid nothing any more, and the claim is back at finalized.
    with store.begin() as tx:
        tx.reverse_l1_above(B_ROOT, at, chain_id=CHAIN_B)
    assert _payment_states(engine)[SHARE_B.distribution_id] is None
    assert _claim_state(engine) == ClaimState.FINALIZED
    # Paid again on the new branch: paying again.
    with store.begin() as tx:
        tx.apply_l1_logs(SHARE_B.paid_logs(B_PAID + 1, [0], "pay-split-b0-again"), chain_id=CHAIN_B)
    assert _claim_state(engine) == ClaimState.PAYING


def test_a_reorg_of_the_first_root_takes_the_claim_back_though_the_second_root_moved_it(
    engine: Engine, store: LifecycleStore
) -> None:
    """The claim moved to ``relayed`` on chain B's root (the last to land); chain A's root being
    orphaned afterwards must take it back, though none of B's transactions was."""
    at = T0 + timedelta(hours=3)
    with store.begin() as tx:
        tx.apply_l1_logs([SHARE_A.root_log(A_ROOT)], chain_id=CHAIN_A)
    with store.begin() as tx:
        tx.apply_l1_logs([SHARE_B.root_log(B_ROOT)], chain_id=CHAIN_B)
    assert _claim_state(engine) == ClaimState.RELAYED
    with store.begin() as tx:
        tx.reverse_l1_above(A_ROOT - 1, at, chain_id=CHAIN_A)
    assert _claim_state(engine) == ClaimState.ATTESTED
    with store.begin() as tx:
        tx.apply_l1_logs([SHARE_A.root_log(A_ROOT + 1)], chain_id=CHAIN_A)
    assert _claim_state(engine) == ClaimState.RELAYED
