"""A cumulative-payout AVS's reward source, from the real RewardVault on anvil to
``/v1/reward-sources``: its distributions accrue (Exocore), the vault draws the root's funding out
of its deposits (``CumulativeFunded``) and pays the earners (``CumulativePaid``); the indexer ingests
both, and the AVS's row says distributed, drawn and paid, each equal to what L1 transferred. When a
second AVS draws into the same token's pool, L1 no longer tells whose payouts are whose: the row
gives the pool's figures and no invented split. A reorg takes the draws of orphaned blocks back,
and ``/v1/avs/{avs}/funding`` agrees with the rows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from web3 import Web3

from indexer.api.app import ReadinessPolicy, create_app
from indexer.ingest.exocore import ExocoreIngestor
from indexer.ingest.l1 import L1Contracts, L1Ingestor, L1LogDecoder, RawLog, Web3L1Source
from relayer.protocol.cumulative import CumulativeTree
from relayer.protocol.kinds import PayoutMode
from relayer.protocol.packets import FundingMode, encode_payload
from storage.errors import InvalidRecordError
from storage.models import cumulative_funding_table, transfer_table
from storage.records import (
    AccrualInfo,
    AvsRegistered,
    ClaimAccrued,
    ClaimSubmitted,
    ClaimVerified,
    CumulativeFundedLog,
    ExocoreBlock,
    ExocoreEvent,
    L1Position,
    PacketCreated,
    RewardTokenInfo,
    SignerInfo,
)
from storage.store import LifecycleStore
from tests.support.cumulative_l1 import cumulative_tree, push_call, root_payload
from tests.support.database import empty_all_tables
from tests.support.indexer_factory import OPERATORS, T0, StepClock, committee, h
from tests.support.l1_contracts import System, deliver, fresh_addresses, transact

DEPOSIT = 1_500
"""The AVS's VAULT deposit: more than the root draws, so ``held`` is what stays."""
SHARES = (600, 400)
"""The two earners' cumulative totals (the accrued distribution's leaves)."""
ROOT_NONCE = 90
OTHER_CHAIN = 999


def _accrual_events(avs: str, token: str, label: str, total: int, period: int) -> list[ExocoreEvent]:
    claim_id = h(f"cumulative-claim-{label}")
    return [
        ClaimSubmitted(
            claim_id=claim_id,
            avs=avs,
            epoch=7,
            token=token,
            total_amount=total + 3,  # the community tax and dust: never accrued
            funding=int(FundingMode.VAULT),
            signer_bitmap="0x07",
            signers=tuple(SignerInfo(i, OPERATORS[i], 10 * (i + 1)) for i in range(3)),
            signed_power=60,
            total_power=100,
            threshold_numerator=2,
            threshold_denominator=3,
            tx_hash=h(f"exo-tx-{label}"),
        ),
        ClaimVerified(claim_id, signed_power=60, total_power=100),
        ClaimAccrued(
            claim_id,
            period,
            accrual=AccrualInfo(avs, token, int(FundingMode.VAULT), total, community_tax=3, dust=0),
        ),
    ]


def _registered(avs: str, token: str) -> AvsRegistered:
    return AvsRegistered(
        avs=avs,
        threshold_numerator=2,
        threshold_denominator=3,
        name=f"cumulative-{avs[-4:]}",
        reward_tokens=(RewardTokenInfo(token, int(FundingMode.VAULT), 18),),
        payout_mode=PayoutMode.CUMULATIVE,
    )


def _root_packet(nonce: int, payload_hex: str, chain_id: int) -> PacketCreated:
    return PacketCreated(
        nonce=nonce,
        kind=5,
        valset_nonce=1,
        payload=payload_hex,
        payload_hash=h(f"cumulative-payload-{nonce}"),
        digest=h(f"cumulative-digest-{nonce}"),
        l1_chain_id=chain_id,
    )


class Scenario:
    """One cumulative AVS (or two sharing the pool) on the session anvil, ingested into a store."""

    def __init__(self, system: System, engine: Engine) -> None:
        empty_all_tables(engine)
        self.system, self.engine = system, engine
        self.store = LifecycleStore(engine, clock=StepClock(T0 + timedelta(hours=5)))
        self.exo = ExocoreIngestor(self.store)
        self.height = 0
        self.weth = system.deployment.weth
        self.chain_id = system.deployment.chain_id
        self.l1 = L1Ingestor(
            self.store,
            Web3L1Source(system.w3),
            L1Contracts.from_deployment(system.deployment),
            chain_id=self.chain_id,
            confirmations=0,
            start_block=system.w3.eth.block_number + 1,
        )

    def exocore(self, *events: ExocoreEvent) -> None:
        self.height += 1
        self.exo.apply_block(
            ExocoreBlock(self.height, h(f"cum-b{self.height}"), T0 + timedelta(minutes=self.height), events),
            head_height=self.height,
        )

    def root(
        self, period: int, tree: CumulativeTree, funding: dict[tuple[str, str], tuple[FundingMode, int]]
    ) -> None:
        """Exocore creates the period's root packet for this chain; it is delivered to the vault."""
        checksummed = {
            (Web3.to_checksum_address(a), Web3.to_checksum_address(t)): f for (a, t), f in funding.items()
        }
        payload = root_payload(tree, period=period, funding=checksummed)
        self.exocore(_root_packet(ROOT_NONCE + period, "0x" + encode_payload(payload).hex(), self.chain_id))
        deliver(self.system, self.system.packet(payload, nonce=ROOT_NONCE + period))

    def sync(self) -> None:
        self.l1.sync()

    def transferred_by_vault(self) -> int:
        t = transfer_table
        vault = self.system.deployment.reward_vault.lower()
        with self.engine.connect() as conn:
            amounts = conn.execute(
                select(t.c.amount).where(t.c.sender == vault, t.c.token == self.weth.lower())
            )
            return sum(int(a) for a in amounts.scalars())


@pytest.fixture
def scenario(system: System, migrated_engine: Engine) -> Scenario:
    return Scenario(system, migrated_engine)


def _client(engine: Engine) -> Iterator[TestClient]:
    app = create_app(engine, clock=lambda: T0 + timedelta(days=1), readiness=ReadinessPolicy(max_age_s=10**9))
    with TestClient(app) as client:
        yield client


@pytest.fixture
def client(scenario: Scenario) -> Iterator[TestClient]:
    yield from _client(scenario.engine)


def _rows(client: TestClient, **params: Any) -> dict[tuple[str, str, str], dict[str, Any]]:
    response = client.get("/v1/reward-sources", params=params)
    assert response.status_code == 200, response.text
    return {(r["avs_address"], r["token"], r["source_name"]): r for r in response.json()["sources"]}


def test_a_cumulative_avs_row_says_what_accrued_was_drawn_and_paid_as_l1_transferred(
    scenario: Scenario, client: TestClient
) -> None:
    system = scenario.system
    avs = system.accounts[4]
    a, b = fresh_addresses(2, seed=41)
    weth = scenario.weth
    scenario.exocore(_registered(avs, weth), committee(avs.lower(), 7))
    scenario.exocore(*_accrual_events(avs, weth, "one", sum(SHARES), period=1))
    transact(system, system.reward_vault.functions.depositETH(avs), sender=avs, value=DEPOSIT)
    tree = cumulative_tree({(a, weth): SHARES[0], (b, weth): SHARES[1]})
    scenario.root(1, tree, {(avs, weth): (FundingMode.VAULT, sum(SHARES))})
    transact(system, push_call(system, 1, tree, [(a, weth), (b, weth)]))
    scenario.sync()

    transferred = scenario.transferred_by_vault()
    assert transferred == sum(SHARES)  # the pushes moved exactly the earners' totals
    row = _rows(client)[(avs.lower(), weth.lower(), "VAULT")]
    assert row["payout_mode"] == "cumulative"
    assert row["distributions"] == 1
    assert row["funded"] == str(DEPOSIT)
    assert row["distributed"] == row["accrued"] == str(sum(SHARES))  # the leaves, not the claim's tax
    assert row["drawn"] == row["paid"] == row["paid_cumulative"] == str(transferred)
    assert row["paid_per_distribution"] == "0"
    assert (row["cumulative_pool_drawn"], row["cumulative_pool_paid"]) == (str(transferred), str(transferred))
    # What the vault still holds of the AVS's deposit: its balanceOf on L1.
    held = system.reward_vault.functions.balanceOf(avs, weth).call()
    assert row["held"] == str(held) == str(DEPOSIT - sum(SHARES))
    # One chain's figures: this chain's are the same; another chain has none of them.
    assert _rows(client, chain_id=scenario.chain_id)[(avs.lower(), weth.lower(), "VAULT")] == row
    assert _rows(client, chain_id=OTHER_CHAIN) == {}
    # /v1/avs/{avs}/funding gives the same cumulative figures.
    funding = client.get(f"/v1/avs/{avs.lower()}/funding").json()
    (token,) = [t for t in funding["tokens"] if t["token"] == weth.lower()]
    assert (token["accrued"], token["drawn"], token["paid_cumulative"]) == (
        row["accrued"],
        row["drawn"],
        row["paid_cumulative"],
    )
    # The explorer shows the drawn figure next to the others.
    page = client.get("/rewards").text
    assert f'data-figure="drawn"><data class="num" value="{row["drawn"]}"' in page


def test_a_pool_two_avss_drew_into_is_not_split_between_them(scenario: Scenario, client: TestClient) -> None:
    system = scenario.system
    first, second = system.accounts[4], system.accounts[5]
    a, b = fresh_addresses(2, seed=43)
    weth = scenario.weth
    scenario.exocore(
        _registered(first, weth),
        _registered(second, weth),
        committee(first.lower(), 7),
        committee(second.lower(), 7),
    )
    scenario.exocore(*_accrual_events(first, weth, "first", 700, period=1))
    scenario.exocore(*_accrual_events(second, weth, "second", 300, period=1))
    for avs in (first, second):
        transact(system, system.reward_vault.functions.depositETH(avs), sender=avs, value=DEPOSIT)
    tree = cumulative_tree({(a, weth): 500, (b, weth): 500})
    scenario.root(
        1, tree, {(first, weth): (FundingMode.VAULT, 700), (second, weth): (FundingMode.VAULT, 300)}
    )
    transact(system, push_call(system, 1, tree, [(a, weth)]))
    scenario.sync()

    rows = _rows(client)
    transferred = scenario.transferred_by_vault()
    assert transferred == 500
    for avs, drawn in ((first, 700), (second, 300)):
        row = rows[(avs.lower(), weth.lower(), "VAULT")]
        assert (row["accrued"], row["drawn"]) == (str(drawn), str(drawn))
        assert row["paid_cumulative"] is None  # L1 pays the pool, not an AVS
        assert row["paid"] == "0"
        assert (row["cumulative_pool_drawn"], row["cumulative_pool_paid"]) == ("1000", str(transferred))
        assert row["held"] == str(DEPOSIT - drawn)
    page = client.get("/rewards").text
    assert 'data-figure="pool"' in page


def test_a_reorg_takes_back_the_draws_of_orphaned_blocks(migrated_engine: Engine) -> None:
    empty_all_tables(migrated_engine)
    store = LifecycleStore(migrated_engine, clock=StepClock(T0))
    token, avs = "0x" + "71" * 20, "0x" + "a1" * 20

    def drawn_at(block: int) -> CumulativeFundedLog:
        position = L1Position(block, h(f"draw-block-{block}"), h(f"draw-tx-{block}"), 0, T0)
        return CumulativeFundedLog(avs, token, 10, 10 * (block - 9), 100, position)

    with store.begin() as tx:
        tx.apply_l1_logs([drawn_at(10), drawn_at(11)], chain_id=7)
        tx.apply_l1_logs([drawn_at(11)], chain_id=7)  # a replayed block is stored once
        tx.reverse_l1_above(10, T0, chain_id=7)
    f = cumulative_funding_table
    with migrated_engine.connect() as conn:
        rows = conn.execute(select(f.c.block_number, f.c.l1_chain_id)).all()
        assert [tuple(r) for r in rows] == [(10, 7)]
        assert conn.execute(select(func.count()).select_from(f)).scalar() == 1


def test_cumulative_funded_decodes_only_from_the_vault_and_keeps_its_order() -> None:
    decoder = L1LogDecoder()
    gateway, vault, stranger = "0x" + "9a" * 20, "0x" + "5a" * 20, "0x" + "77" * 20
    topic = keccak(b"CumulativeFunded(address,address,uint256,uint256,uint256)")
    avs, token = "0x" + "a1" * 20, "0x" + "71" * 20
    raw = RawLog(
        vault,
        (topic, abi_encode(["address"], [avs]), abi_encode(["address"], [token])),
        abi_encode(["uint256", "uint256", "uint256"], [40, 100, 250]),
        7,
        "0x" + "ab" * 32,
        "0x" + "cd" * 32,
        2,
    )
    record = decoder.decode(raw, T0, gateway, vault)
    assert isinstance(record, CumulativeFundedLog)
    assert (record.avs, record.token, record.amount, record.drawn, record.target) == (
        avs,
        token,
        40,
        100,
        250,
    )
    assert decoder.decode(replace(raw, address=stranger), T0, gateway, vault) is None
    assert decoder.decode(raw, T0, gateway) is None
    # A draw larger than the drawn total (or drawn beyond the target) is not the vault's event.
    bad = replace(raw, data=abi_encode(["uint256", "uint256", "uint256"], [40, 30, 250]))
    with pytest.raises(InvalidRecordError, match="amount <= drawn <= target"):
        decoder.decode(bad, T0, gateway, vault)
