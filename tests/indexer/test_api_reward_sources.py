"""Reward sources through the store and the API: deposits into each source seen on L1
(``Deposited`` = VAULT, ``FeesDeposited`` = FEES), Exocore's distributions with their source, and
their L1 payouts, per AVS, token and source at ``/v1/reward-sources``; a reorg takes back the
deposits of the orphaned blocks."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert

from indexer.api.app import ReadinessPolicy, create_app
from indexer.ingest.exocore import ExocoreIngestor
from storage.errors import InvalidRecordError
from storage.records import ExocoreBlock, L1Position, RewardFundedLog
from storage.store import LifecycleStore
from storage.token_tables import token_unit_table
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

MINTED = ClaimPlan("M", epoch=7, token=TOKEN, leaves=2, nonce=1, funding=1)
FEES = ClaimPlan("F", epoch=7, token=TOKEN2, leaves=3, nonce=2, funding=3)
COLLECTOR = "0x" + "c0" * 20
NOW = T0 + timedelta(days=1)


def funded(avs: str, token: str, source: int, amount: int, block: int, index: int = 0) -> RewardFundedLog:
    position = L1Position(
        block, h(f"block-{block}"), h(f"fund-{block}-{index}"), index, T0 + timedelta(hours=1)
    )
    return RewardFundedLog(avs, token, source, COLLECTOR, amount, position)


@pytest.fixture(scope="module")
def sources_engine(migrated_engine: Engine) -> Engine:
    empty_all_tables(migrated_engine)
    store = LifecycleStore(migrated_engine, clock=StepClock(T0 + timedelta(hours=5)))
    exo = ExocoreIngestor(store)
    blocks: list[tuple[Any, ...]] = [
        (avs_registered(), avs_registered(AVS2), committee(AVS, 7)),
        tuple(MINTED.exocore_events()),
        tuple(FEES.exocore_events()),
    ]
    for height, events in enumerate(blocks, start=1):
        exo.apply_block(
            ExocoreBlock(height, h(f"b{height}"), T0 + timedelta(minutes=height), events),
            head_height=len(blocks),
        )
    with store.begin() as tx:
        tx.apply_l1_logs(
            [
                funded(AVS, TOKEN2, 3, 1_000, block=5),  # fees
                funded(AVS, TOKEN2, 3, 500, block=6),  # more fees
                funded(AVS, TOKEN2, 2, 4_000, block=6, index=1),  # a reward deposit, same token
            ],
            chain_id=1,
        )
        # The same log again (a replayed block) is stored once.
        tx.apply_l1_logs([funded(AVS, TOKEN2, 3, 1_000, block=5)], chain_id=1)
        tx.apply_l1_logs([MINTED.root_log(10), FEES.root_log(11)], chain_id=1)
        tx.apply_l1_logs(FEES.paid_logs(12, [0, 2], "pay-F"), chain_id=1)
        tx.apply_l1_logs(MINTED.paid_logs(13, [1], "pay-M"), chain_id=1)
    with migrated_engine.begin() as conn:
        conn.execute(insert(token_unit_table).values(token=TOKEN2, symbol="FEE", decimals=2, read_at=T0))
    return migrated_engine


@pytest.fixture(scope="module")
def client(sources_engine: Engine) -> Iterator[TestClient]:
    app = create_app(sources_engine, clock=lambda: NOW, readiness=ReadinessPolicy(max_age_s=10**9))
    with TestClient(app) as test_client:
        yield test_client


def sources(client: TestClient, **params: str) -> list[dict[str, Any]]:
    response = client.get("/v1/reward-sources", params=params)
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["sources"]
    return rows


def test_each_source_says_what_was_funded_distributed_and_paid(client: TestClient) -> None:
    rows = {(r["avs_address"], r["token"], r["source_name"]): r for r in sources(client)}
    assert set(rows) == {(AVS, TOKEN, "MINT"), (AVS, TOKEN2, "VAULT"), (AVS, TOKEN2, "FEES")}
    minted = rows[(AVS, TOKEN, "MINT")]
    assert (minted["funded"], minted["held"]) == (None, None)  # minted as paid
    assert (minted["distributed"], minted["paid"], minted["distributions"]) == (
        str(MINTED.total),
        str(MINTED.amounts[1]),
        1,
    )
    fees = rows[(AVS, TOKEN2, "FEES")]
    paid = FEES.amounts[0] + FEES.amounts[2]
    assert fees["source"] == 3
    assert (fees["funded"], fees["distributed"], fees["paid"], fees["held"]) == (
        "1500",
        str(FEES.total),
        str(paid),
        str(1500 - paid),
    )
    assert (fees["token_symbol"], fees["funded_display"]) == ("FEE", "15.0000 FEE")
    deposits = rows[(AVS, TOKEN2, "VAULT")]
    # The deposit is its own source: nothing was distributed from it, nothing paid.
    assert (deposits["funded"], deposits["distributed"], deposits["paid"], deposits["held"]) == (
        "4000",
        "0",
        "0",
        "4000",
    )


def test_the_answer_narrows_by_avs_and_token(client: TestClient) -> None:
    assert {r["token"] for r in sources(client, token=TOKEN2.upper().replace("0X", "0x"))} == {TOKEN2}
    assert sources(client, avs=AVS2) == []
    assert client.get("/v1/reward-sources", params={"avs": "0x12"}).status_code == 422


def test_a_deposit_log_names_a_funded_source() -> None:
    with pytest.raises(InvalidRecordError, match="VAULT"):
        funded(AVS, TOKEN, 1, 5, block=1)  # MINT is never deposited


def test_the_explorer_rewards_page_shows_the_same_figures(client: TestClient) -> None:
    response = client.get("/rewards")
    assert response.status_code == 200
    page = response.text
    rows = re.findall(
        r'<tr data-avs="([^"]+)" data-token="([^"]+)" data-source="([^"]+)">(.*?)</tr>', page, re.S
    )
    shown = {(avs, token, source): body for avs, token, source, body in rows}
    for source in sources(client):
        body = shown[(source["avs_address"], source["token"], source["source_name"])]
        for figure in ("distributed", "paid"):
            assert f'data-figure="{figure}"><data class="num" value="{source[figure]}"' in body
        if source["funded"] is None:
            assert 'title="minted as paid">minted<' in body
        else:
            assert f'data-figure="funded"><data class="num" value="{source["funded"]}"' in body
            assert source["funded_display"] in body
    assert ">FEE</abbr>" in shown[(AVS, TOKEN2, "FEES")]
    assert 'aria-current="page">Reward sources<' in page
    narrowed = client.get("/rewards", params={"avs": AVS2}).text
    assert "No reward source has been funded or distributed from yet." in narrowed


def test_a_reorg_takes_back_the_deposits_of_orphaned_blocks(migrated_engine: Engine) -> None:
    """Last in the module: it empties the database the module's client reads."""
    empty_all_tables(migrated_engine)
    store = LifecycleStore(migrated_engine, clock=StepClock(T0))
    with store.begin() as tx:
        tx.apply_l1_logs(
            [funded(AVS, TOKEN2, 3, 7, block=20), funded(AVS, TOKEN2, 3, 9, block=22)], chain_id=1
        )
    with store.begin() as tx:
        tx.reverse_l1_above(21, T0 + timedelta(hours=1))
    app = create_app(migrated_engine, clock=lambda: NOW, readiness=ReadinessPolicy(max_age_s=10**9))
    with TestClient(app) as test_client:
        (row,) = sources(test_client)
    assert (row["funded"], row["distributed"], row["held"]) == ("7", "0", "7")
