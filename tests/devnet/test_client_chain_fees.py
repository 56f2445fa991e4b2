"""Fee deposits on every client chain, on two anvils (chain ids 31337 and 31338): the devnet follows
each chain's RewardVault, so transaction fees an AVS deposits on the second chain reach Exocore as
that chain's FEES source (not the first chain's: fees sit in one chain's vault and pay only its
leaves), and the second chain's L1 ingestion records the deposit with its chain, which
``/v1/reward-sources?chain_id=`` reports."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from web3 import Web3
from web3.types import RPCEndpoint, TxParams, Wei

from devnet.stack import DevnetStack
from indexer.api.app import ReadinessPolicy, create_app
from indexer.ingest.l1 import L1Contracts, L1Ingestor, Web3L1Source
from relayer.l1.artifacts import ContractName, load_artifact
from relayer.protocol.types import Address
from storage import migrate
from storage.store import LifecycleStore
from tests.support.database import fresh_database

CHAIN_B_ID = 31338
FEES = 3 * 10**17
AVS = "0x" + "fe" * 20
REACH_TIMEOUT_S = 60.0
"""Generous: the follower polls every half second and Exocore makes a block every 0.2 s, but two
cores may be busy with other tests."""
POLL_S = 0.2


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[DevnetStack]:
    with DevnetStack(tmp_path / "chains", other_chain_ids=(CHAIN_B_ID,)) as running:
        yield running


def _deposit_fees(chain: dict[str, Any], amount: int) -> None:
    """A collector on ``chain`` wraps ``amount`` of ETH and deposits it as ``AVS``'s fees."""
    w3 = Web3(Web3.HTTPProvider(chain["rpc_url"]))
    collector = list(w3.eth.accounts)[3]
    contracts = chain["contracts"]
    weth = w3.eth.contract(
        address=Web3.to_checksum_address(contracts["weth"]),
        abi=load_artifact(ContractName.WRAPPED_ETHER).abi_list(),
    )
    vault = w3.eth.contract(
        address=Web3.to_checksum_address(contracts["reward_vault"]),
        abi=load_artifact(ContractName.REWARD_VAULT).abi_list(),
    )
    for call, value in (
        (weth.functions.deposit(), amount),
        (weth.functions.approve(vault.address, amount), 0),
        (vault.functions.depositFees(Web3.to_checksum_address(AVS), weth.address, amount), 0),
    ):
        tx_hash = call.transact(TxParams({"from": collector, "value": Wei(value)}))
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
        assert receipt["status"] == 1, receipt
    # The devnet applies a block's events once a block is on top of it (anvil mines on demand).
    w3.provider.make_request(RPCEndpoint("evm_mine"), [])


def _fees_on_exocore(stack: DevnetStack, token: str, chain_id: int) -> int:
    assert stack.devnet is not None
    node = stack.devnet.node
    with node.lock:
        return node.state.fees_available(
            Address(bytes.fromhex(AVS[2:])), Address(bytes.fromhex(token[2:])), chain_id
        )


def test_fees_deposited_on_the_second_chain_fund_its_source_on_exocore_and_show_in_the_api(
    stack: DevnetStack, tmp_path: Path
) -> None:
    chain_a, chain_b = stack.manifest["l1"], stack.manifest["client_chains"][0]
    weth = chain_b["contracts"]["weth"].lower()
    assert chain_a["contracts"]["weth"].lower() == weth  # same address on both chains: only the chain tells
    _deposit_fees(chain_b, FEES)

    deadline = time.monotonic() + REACH_TIMEOUT_S
    while _fees_on_exocore(stack, weth, CHAIN_B_ID) < FEES:
        assert time.monotonic() < deadline, "Exocore did not record chain B's fee deposit"
        time.sleep(POLL_S)
    assert _fees_on_exocore(stack, weth, CHAIN_B_ID) == FEES
    assert _fees_on_exocore(stack, weth, int(chain_a["chain_id"])) == 0  # not the first chain's fees

    with fresh_database(tmp_path) as engine:
        migrate.upgrade(engine)
        store = LifecycleStore(engine)
        w3 = Web3(Web3.HTTPProvider(chain_b["rpc_url"]))
        contracts = chain_b["contracts"]
        L1Ingestor(
            store,
            Web3L1Source(w3),
            L1Contracts(
                gateway=contracts["gateway"],
                reward_vault=contracts["reward_vault"],
                restaking_vault=contracts["restaking_vault"],
                reward_tokens=(contracts["weth"],),
            ),
            chain_id=CHAIN_B_ID,
            confirmations=0,
            start_block=int(chain_b["deploy_block"]) + 1,
        ).sync()
        app = create_app(engine, clock=lambda: datetime.now(UTC), readiness=ReadinessPolicy(max_age_s=10**9))
        with TestClient(app) as client:
            on_b = client.get("/v1/reward-sources", params={"chain_id": CHAIN_B_ID}).json()
            (row,) = on_b["sources"]
            assert (row["avs_address"], row["token"], row["source_name"]) == (AVS, weth, "FEES")
            assert (row["funded"], row["held"], on_b["chain_id"]) == (str(FEES), str(FEES), CHAIN_B_ID)
            on_a = client.get("/v1/reward-sources", params={"chain_id": chain_a["chain_id"]}).json()
            assert on_a["sources"] == []
