"""The hot paths cannot drift from their reference routes: for random lifecycle databases (claims at
every stage, rejected claims, partly and fully paid distributions, amounts up to the uint256
maximum) every staker's payout pages, walked by cursor in both orders at several page sizes, and
every claim's detail (plus unknown ids and empty results) are the same JSON, field for field, from
the hot path and from the FastAPI route."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from indexer.api import ReadinessPolicy, create_app
from indexer.api.pagination import MAX_PAGE_SIZE
from indexer.ingest.exocore import ExocoreIngestor
from storage.lifecycle import L1TxState
from storage.records import ChainRef, ClaimRejected, ExocoreBlock
from storage.store import LifecycleStore
from tests.support.api_data import NOW
from tests.support.api_hot import counted, outcomes, raw_get, via_route
from tests.support.database import empty_all_tables
from tests.support.indexer_factory import (
    AVS,
    AVS2,
    T0,
    TOKEN,
    TOKEN2,
    ClaimPlan,
    StepClock,
    avs_registered,
    committee,
    h,
)
from tests.support.indexer_factory import staker as staker_address

UINT256_MAX = 2**256 - 1
STAGES = ("submitted", "rejected", "verified", "distributed", "attested", "rooted", "paid")
"""How far a generated claim gets: each stage includes the ones before it (``rejected`` stops)."""
DISTRIBUTED = frozenset(STAGES[3:])
"""The stages at which a claim has its distribution and leaves (hence payouts)."""


@dataclass(frozen=True)
class ScaledPlan(ClaimPlan):
    """A claim whose leaf amounts are ``scale * (i + 1)``, so a test can reach the uint256 limit."""

    scale: int = 100

    @property
    def amounts(self) -> list[int]:
        return [self.scale * (i + 1) for i in range(self.leaves)]


@dataclass(frozen=True)
class Generated:
    plan: ScaledPlan
    stage: str
    submitted: tuple[int, ...]
    """Leaves whose payout transaction was broadcast; ``paid`` those of them mined on L1 too."""
    paid: tuple[int, ...]


@st.composite
def worlds(draw: st.DrawFn) -> list[Generated]:
    count = draw(st.integers(min_value=0, max_value=4))
    claims: list[Generated] = []
    for n in range(count):
        leaves = draw(st.integers(min_value=1, max_value=6))
        # The distribution total is a uint256 too: the biggest scale keeps it in range.
        top = UINT256_MAX // (leaves * (leaves + 1) // 2)
        scale = draw(st.one_of(st.integers(min_value=1, max_value=10**6), st.just(top)))
        plan = ScaledPlan(
            f"p{n}",
            avs=draw(st.sampled_from((AVS, AVS2))),
            epoch=7 + n,
            token=draw(st.sampled_from((TOKEN, TOKEN2))),
            leaves=leaves,
            nonce=n + 1,
            scale=scale,
        )
        stage = draw(st.sampled_from(STAGES))
        submitted: tuple[int, ...] = ()
        paid: tuple[int, ...] = ()
        if stage == "paid":
            submitted = tuple(sorted(draw(st.sets(st.integers(min_value=0, max_value=leaves - 1)))))
            paid = tuple(i for i in submitted if draw(st.booleans()))
        claims.append(Generated(plan, stage, submitted, paid))
    return claims


def exocore_events(claim: Generated) -> list[Any]:
    plan, stage = claim.plan, claim.stage
    if stage == "rejected":
        return [
            plan.submitted(),
            ClaimRejected(plan.claim_id, "insufficient_quorum", "50/100 is not above 2/3"),
        ]
    events = plan.exocore_events()  # submitted, verified, distributed, leaves, packet, attested
    upto = {"submitted": 1, "verified": 2, "distributed": 4}.get(stage, len(events))
    return events[:upto]


def build(engine: Engine, world: list[Generated], finalized: int) -> None:
    empty_all_tables(engine)
    store = LifecycleStore(engine, clock=StepClock(T0 + timedelta(hours=5)))
    exo = ExocoreIngestor(store)
    blocks: list[tuple[Any, ...]] = [
        (avs_registered(), avs_registered(AVS2), *(committee(c.plan.avs, c.plan.epoch) for c in world))
    ]
    blocks += [tuple(exocore_events(c)) for c in world]
    for height, events in enumerate(blocks, start=1):
        exo.apply_block(
            ExocoreBlock(height, h(f"b{height}"), T0 + timedelta(minutes=height), events),
            head_height=len(blocks),
        )
    with store.begin() as tx:
        block = 10
        for claim in world:
            plan = claim.plan
            if claim.stage not in ("rooted", "paid"):
                continue
            tx.apply_l1_logs([plan.root_log(block)], chain_id=1)
            block += 1
            if claim.submitted:
                submitted = ChainRef.relayer(T0 + timedelta(hours=1))
                tx_hash = h(f"l1-tx-pay-{plan.label}")
                tx.record_l1_tx(
                    tx_hash,
                    chain_id=1,
                    purpose="payout",
                    state=L1TxState.BROADCAST,
                    ref=submitted,
                    sender="0x" + "5e" * 20,
                    tx_nonce=plan.nonce,
                    distribution_id=plan.distribution_id,
                )
                tx.mark_payouts_submitted(plan.distribution_id, claim.submitted, tx_hash, submitted)
            if claim.paid:
                tx.apply_l1_logs(plan.paid_logs(block, list(claim.paid), f"pay-{plan.label}"), chain_id=1)
                block += 1
        # Only part of what reached L1 may be final: both states show in the documents.
        tx.finalize_l1(finalized, T0 + timedelta(hours=3))
        head = max(block, finalized) + 1
        tx.set_cursor("l1:1", "l1", head, h(f"l1-block-{head}"), head_height=head, finalized_height=finalized)


@pytest.fixture(scope="module")
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture(scope="module")
def client(migrated_engine: Engine, registry: CollectorRegistry) -> Iterator[TestClient]:
    app = create_app(
        migrated_engine, clock=lambda: NOW, readiness=ReadinessPolicy(max_age_s=10**9), registry=registry
    )
    with TestClient(app) as test_client:
        yield test_client


def walk(client: TestClient, staker: str, order: str, limit: int | None) -> tuple[int, list[dict[str, Any]]]:
    """Walks every page of a staker's payouts on both paths; returns how many hot requests it made
    and the payouts it read."""
    cursor: str | None = None
    requests = 0
    items: list[dict[str, Any]] = []
    while True:
        tail = (f"&limit={limit}" if limit is not None else "") + (f"&order={order}" if order else "")
        tail += f"&cursor={cursor}" if cursor else ""
        hot = raw_get(client, f"/v1/payouts?staker={staker}{tail}")
        route = raw_get(client, f"/v1/payouts?staker={via_route(staker)}{tail}")
        requests += 1
        assert hot == route
        assert hot[0] == 200
        items.extend(hot[1]["items"])
        cursor = hot[1]["next_cursor"]
        if cursor is None:
            return requests, items


FINALIZED = st.integers(min_value=9, max_value=20)
"""The finalized L1 height: below, between and above the blocks the roots and payouts land in."""

SETTINGS = settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


@SETTINGS
@given(
    world=worlds(),
    finalized=FINALIZED,
    limit=st.sampled_from((1, 2, 3, None, MAX_PAGE_SIZE)),
    order=st.sampled_from(("desc", "asc", "")),
)
def test_hot_payout_pages_equal_the_route_on_random_data(
    client: TestClient,
    migrated_engine: Engine,
    registry: CollectorRegistry,
    world: list[Generated],
    finalized: int,
    limit: int | None,
    order: str,
) -> None:
    build(migrated_engine, world, finalized)
    served_before = counted(registry, "/v1/payouts", "served")
    requests = 0
    # Stakers of the generated leaves, plus one who has no payout at all (the empty page).
    for i in range(7):
        made, items = walk(client, staker_address(i), order, limit)
        requests += made
        # Leaf i of every distributed claim is a payout to staker i: the walk saw each once, in order.
        expected = {
            c.plan.distribution_id: c.plan.amounts[i]
            for c in world
            if c.stage in DISTRIBUTED and i < c.plan.leaves
        }
        assert {item["distribution_id"]: int(item["amount"]) for item in items} == expected
        assert len(items) == len(expected)
        ids = [item["id"] for item in items]
        assert ids == sorted(ids, reverse=order != "asc")
        paid = {c.plan.distribution_id for c in world if i in c.submitted}
        assert {item["distribution_id"] for item in items if item["l1_tx"] is not None} == paid
    assert counted(registry, "/v1/payouts", "served") - served_before == requests


@SETTINGS
@given(world=worlds(), finalized=FINALIZED, upper=st.booleans())
def test_hot_claim_details_equal_the_route_on_random_data(
    client: TestClient,
    migrated_engine: Engine,
    registry: CollectorRegistry,
    world: list[Generated],
    finalized: int,
    upper: bool,
) -> None:
    build(migrated_engine, world, finalized)
    before = outcomes(registry)
    known = [c.plan.claim_id for c in world]
    ids = [*known, h("no-such-claim"), "0x" + "00" * 32, "0x" + "ff" * 32]
    for claim_id in ids:
        asked = "0x" + claim_id[2:].upper() if upper else claim_id
        hot = raw_get(client, f"/v1/claims/{asked}")
        route = raw_get(client, f"/v1/claims/{asked}?via=route")
        assert hot == route
        assert hot[0] == (200 if claim_id in known else 404)
    after = outcomes(registry)
    route = "/v1/claims/{claim_id}"
    served = after.get((route, "served"), 0.0) - before.get((route, "served"), 0.0)
    assert served == len(known)
