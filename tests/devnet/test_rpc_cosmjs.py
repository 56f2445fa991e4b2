"""A real third-party client (@cosmjs/tendermint-rpc, @cosmjs/stargate) against a running devnet.

``rpc_cosmjs.mjs`` runs ``tx_search``, ``block_search``, ``commit``, ``genesis``,
``num_unconfirmed_txs`` and gRPC-over-``abci_query`` through cosmjs's own decoders; these tests check
what it decoded against the devnet's own state (block store, genesis, gRPC answers).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cosmpy.protos.cosmos.base.tendermint.v1beta1 import query_pb2 as tendermint_query

from devnet import scenario as sc
from devnet.chain.blockstore import BlockStore
from devnet.chain.params import DEVNET_LZ_CHAIN_ID
from devnet.runtime import ExocoreDevnet
from relayer.exocore.proto.avs.v1 import query_pb2 as avs_query
from tests.support.cometbft_merkle import root_from_aunts
from tests.support.devnet_world import CHAIN_ID, EPOCH_BLOCKS, funded_genesis, signing_client
from tests.support.node_tools import node_binary

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("rpc_cosmjs.mjs")
NODE_TIMEOUT_S = 120  # one node process makes every call; it takes ~1 s
UNKNOWN_AVS = "0x" + "ab" * 20


@dataclass
class CosmjsRun:
    devnet: ExocoreDevnet
    client: sc.ScenarioClient
    report: sc.ScenarioReport
    action: str
    avs: str
    out: dict[str, Any]


def _busiest_action(store: BlockStore) -> str:
    """The message.action most transactions carry (so pagination has several pages of 2)."""
    counts: Counter[str] = Counter()
    for block in store.range(1, store.latest_height or 0):
        for result in block.tx_results:
            for event in result.events:
                if event.type == "message" and event.get("action"):
                    counts[event.get("action") or ""] += 1
    return counts.most_common(1)[0][0]


@pytest.fixture(scope="module")
def run() -> Iterator[CosmjsRun]:
    node = node_binary("@cosmjs/stargate", "the cosmjs client test")
    running = ExocoreDevnet(funded_genesis(), BlockStore(CHAIN_ID))
    running.start()
    client = signing_client(running.grpc_target)
    report = sc.run_scenario(
        client,
        operators=4,
        stakers=12,
        weth="0x" + "c0" * 20,
        second_token="0x" + "c1" * 20,
        reward_token="0x" + "e0" * 20,
        lz_chain_id=DEVNET_LZ_CHAIN_ID,
        epoch_blocks=EPOCH_BLOCKS,
    )
    action = _busiest_action(running.store)
    avs = sorted(report.committees)[0]
    request = {
        "rpc_url": running.rpc_url,
        "tx_query": f"message.action='{action}'",
        "block_query": "committee_elected.epoch >= 1",
        "commit_height": 2,
        "abci": [
            {
                "service": "exocore.avs.v1.Query",
                "method": "QueryAVSInfo",
                "request_hex": avs_query.QueryAVSInfoRequest(avs_address=avs).SerializeToString().hex(),
            },
            {
                "service": "exocore.avs.v1.Query",
                "method": "QueryAVSInfo",
                "request_hex": avs_query.QueryAVSInfoRequest(avs_address=UNKNOWN_AVS)
                .SerializeToString()
                .hex(),
            },
            {
                "service": "cosmos.base.tendermint.v1beta1.Service",
                "method": "GetLatestBlock",
                "request_hex": "",
            },
        ],
    }
    try:
        completed = subprocess.run(
            [node, str(SCRIPT)],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            check=False,
            cwd=REPO_ROOT,
            timeout=NODE_TIMEOUT_S,
        )
        assert completed.returncode == 0, completed.stderr
        yield CosmjsRun(running, client, report, action, avs, json.loads(completed.stdout))
    finally:
        client.close()
        running.stop()
        running.store.close()


def _matching_txs(store: BlockStore, action: str) -> list[tuple[int, int, str]]:
    """(height, index, hash) of every committed tx with message.action == action, ascending."""
    found = []
    for block in store.range(1, store.latest_height or 0):
        for index, result in enumerate(block.tx_results):
            if any(e.type == "message" and e.get("action") == action for e in result.events):
                found.append((block.height, index, block.tx_hashes[index].hex().upper()))
    return found


def test_tx_search_pages_and_totals(run: CosmjsRun) -> None:
    expected = _matching_txs(run.devnet.store, run.action)
    assert len(expected) > 2
    everything = run.out["txSearchAll"]
    assert everything["total"] == len(expected)
    assert [(t["height"], t["index"], t["hash"]) for t in everything["txs"]] == expected
    assert all(t["code"] == 0 for t in everything["txs"])
    page = run.out["txSearchPage"]
    assert page["total"] == len(expected)
    newest_two = list(reversed(expected))[:2]
    assert [(t["height"], t["index"], t["hash"]) for t in page["txs"]] == newest_two
    # prove=true: cosmjs decoded a TxProof per tx; its root is the header's data_hash.
    for (height, index, tx_hash), proof in zip(newest_two, page["proofs"], strict=True):
        block = run.devnet.store.get(height)
        assert block is not None
        assert proof["rootHash"] == block.data_hash.hex().upper()
        assert proof["data"] == block.txs[index].hex().upper()
        assert (proof["total"], proof["index"]) == (len(block.txs), index)
        leaf = hashlib.sha256(b"\x00" + bytes.fromhex(tx_hash)).digest()
        assert proof["leafHash"] == leaf.hex().upper()
        aunts = [bytes.fromhex(aunt) for aunt in proof["aunts"]]
        assert root_from_aunts(index, len(block.txs), leaf, aunts) == block.data_hash


def test_stargate_client_search_and_get(run: CosmjsRun) -> None:
    stargate = run.out["stargate"]
    assert stargate["chainId"] == CHAIN_ID
    assert stargate["height"] == run.devnet.store.latest_height
    expected = _matching_txs(run.devnet.store, run.action)
    assert [(t["height"], t["index"], t["hash"]) for t in stargate["searchTx"]] == expected
    assert stargate["getTx"] == expected[0][2]


def test_block_search_finds_the_elections(run: CosmjsRun) -> None:
    store = run.devnet.store
    elected = [
        block
        for block in store.range(1, store.latest_height or 0)
        if any(e.type == "committee_elected" for e in block.begin_block_events + block.end_block_events)
    ]
    assert elected
    found = run.out["blockSearch"]
    assert found["total"] == len(elected)
    assert found["blocks"] == [{"height": b.height, "hash": b.hash.hex().upper()} for b in elected]


def test_commit_carries_the_next_blocks_last_commit(run: CosmjsRun) -> None:
    store = run.devnet.store
    block, following = store.get(2), store.get(3)
    assert block is not None and following is not None
    commit = run.out["commit"]
    assert commit["height"] == 2 and commit["commitHeight"] == 2 and commit["canonical"] is True
    assert commit["chainId"] == CHAIN_ID and commit["appHash"] == block.app_hash.hex().upper()
    assert commit["blockIdHash"] == block.hash.hex().upper()
    assert [s["address"] for s in commit["signatures"]] == [
        sig.validator_address.hex().upper() for sig in following.last_commit
    ]
    assert {s["flag"] for s in commit["signatures"]} == {2}  # BLOCK_ID_FLAG_COMMIT
    latest = run.out["latestCommit"]
    tip = store.latest()
    assert tip is not None
    assert latest["height"] == tip.height and latest["canonical"] is False
    assert [s["address"] for s in latest["signatures"]] == [v.address.hex().upper() for v in tip.validators]


def test_genesis_is_the_devnets(run: CosmjsRun) -> None:
    doc = run.out["genesis"]
    devnet_genesis = run.devnet.node.genesis
    first = run.devnet.store.get(1)
    assert first is not None
    assert doc["chainId"] == CHAIN_ID and doc["appStateChainId"] == CHAIN_ID
    assert doc["genesisTime"] == "2023-11-14T22:13:20.000Z"
    assert doc["appHash"] == first.app_hash.hex().upper()
    assert [v["power"] for v in doc["validators"]] == [str(v.power) for v in devnet_genesis.validators]
    first_validators = [v.address.hex().upper() for v in first.validators]
    assert sorted(v["address"] for v in doc["validators"]) == sorted(first_validators)
    assert doc["consensusParams"]["block"] == {"maxBytes": 22020096, "maxGas": -1}


def test_num_unconfirmed_txs_of_an_idle_node(run: CosmjsRun) -> None:
    assert run.devnet.node.pending_txs() == ()
    assert run.out["unconfirmed"] == {"total": 0, "totalBytes": 0}


def test_grpc_queries_over_abci_answer_like_grpc(run: CosmjsRun) -> None:
    found, missing, latest_block = run.out["abci"]
    grpc_answer = run.client.avs.QueryAVSInfo(avs_query.QueryAVSInfoRequest(avs_address=run.avs))
    assert found == {"ok": True, "response_hex": grpc_answer.SerializeToString().hex().upper()}
    assert missing["ok"] is False
    assert missing["error"] == (
        "Query failed with (22): rpc error: code = NotFound desc = "
        f"AVS {UNKNOWN_AVS} is not registered: key not found"
    )
    assert latest_block["ok"] is True
    decoded = tendermint_query.GetLatestBlockResponse.FromString(bytes.fromhex(latest_block["response_hex"]))
    tip = run.devnet.store.latest()
    assert tip is not None
    assert decoded.block_id.hash == tip.hash and decoded.block.header.height == tip.height
