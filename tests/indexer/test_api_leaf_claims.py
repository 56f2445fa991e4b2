"""``/v1/stakers/{staker}/claims``: a staker's unpaid leaves of reward distributions whose root is on
L1, each with a proof that verifies against the stored root and the gateway ``claim`` calldata of
the shared planner; paid leaves and roots not yet on L1 are left out; the explorer's staker page
links the answer."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from indexer.api.app import ReadinessPolicy, create_app
from indexer.ingest.exocore import ExocoreIngestor
from relayer.protocol.distribution_claim import plan_leaf_claims
from relayer.protocol.merkle import DistributionLeaf, DistributionTree, verify_proof
from relayer.protocol.types import Amount, as_address
from storage.records import ExocoreBlock
from storage.store import LifecycleStore
from tests.support.database import empty_all_tables
from tests.support.indexer_factory import (
    T0,
    TOKEN,
    TOKEN2,
    ClaimPlan,
    StepClock,
    avs_registered,
    committee,
    h,
    staker,
)

NOW = T0 + timedelta(days=1)


class TreePlan(ClaimPlan):
    """A claim plan whose stored root is its leaves' real tree root (claims are proven against it)."""

    def tree(self) -> DistributionTree:
        return DistributionTree.build(
            DistributionLeaf(i, as_address(staker(i)), Amount(amount))
            for i, amount in enumerate(self.amounts)
        )

    @property
    def root(self) -> str:
        return "0x" + self.tree().root.hex()


DELIVERED = TreePlan("X", epoch=7, token=TOKEN2, leaves=4, nonce=1, funding=3)
NOT_ON_L1 = TreePlan("Y", epoch=7, token=TOKEN, leaves=3, nonce=2, funding=1)


@pytest.fixture(scope="module")
def client(migrated_engine: Engine) -> Iterator[TestClient]:
    empty_all_tables(migrated_engine)
    store = LifecycleStore(migrated_engine, clock=StepClock(T0 + timedelta(hours=5)))
    exo = ExocoreIngestor(store)
    blocks: list[tuple[Any, ...]] = [
        (avs_registered(), committee(DELIVERED.avs, 7)),
        tuple(DELIVERED.exocore_events()),
        tuple(NOT_ON_L1.exocore_events()),
    ]
    for height, events in enumerate(blocks, start=1):
        exo.apply_block(
            ExocoreBlock(height, h(f"b{height}"), T0 + timedelta(minutes=height), events),
            head_height=len(blocks),
        )
    with store.begin() as tx:
        tx.apply_l1_logs([DELIVERED.root_log(10)], chain_id=1)
        tx.apply_l1_logs(DELIVERED.paid_logs(12, [0, 2], "pay-X"), chain_id=1)
    app = create_app(migrated_engine, clock=lambda: NOW, readiness=ReadinessPolicy(max_age_s=10**9))
    with TestClient(app) as test_client:
        yield test_client


def claims(client: TestClient, who: str) -> dict[str, Any]:
    response = client.get(f"/v1/stakers/{who}/claims")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_an_unpaid_leaf_comes_with_its_proof_and_calldata(client: TestClient) -> None:
    body = claims(client, staker(1))
    assert body["truncated"] is False
    (leaf,) = body["leaves"]  # Y's leaf 1 is not claimable: its root is not on L1
    tree = DELIVERED.tree()
    (planned,) = plan_leaf_claims(bytes.fromhex(DELIVERED.distribution_id[2:]), tree, [1])
    assert (leaf["distribution_id"], leaf["leaf_index"], leaf["amount"]) == (
        DELIVERED.distribution_id,
        1,
        str(DELIVERED.amounts[1]),
    )
    assert (leaf["source_name"], leaf["status"], leaf["token"]) == ("FEES", "pending", TOKEN2)
    assert leaf["proof"] == ["0x" + node.hex() for node in planned.proof]
    assert leaf["calldata"] == "0x" + planned.calldata.hex()
    assert verify_proof(tree.root, tree.leaf(1), planned.proof)


def test_paid_leaves_and_strangers_have_nothing_to_claim(client: TestClient) -> None:
    assert claims(client, staker(0))["leaves"] == []  # paid on L1
    assert claims(client, "0x" + "99" * 20)["leaves"] == []
    assert client.get("/v1/stakers/0x12/claims").status_code == 422


def test_the_staker_page_lists_the_claimable_leaves_and_links_their_calldata(client: TestClient) -> None:
    page = client.get("/stakers", params={"staker": staker(1)}).text
    assert f'href="/v1/stakers/{staker(1)}/claims"' in page
    assert f'data-claim-distribution="{DELIVERED.distribution_id}" data-claim-leaf="1"' in page
    assert f'data-figure="claimable"><data class="num" value="{DELIVERED.amounts[1]}"' in page
    paid = client.get("/stakers", params={"staker": staker(0)}).text
    assert "Nothing to claim: every leaf on L1 is paid or on its way." in paid
