"""tx_search / block_search / commit / genesis / abci_query / num_unconfirmed_txs over real HTTP:
CometBFT 0.37's query semantics, pagination edges, proofs and the node's (and the SDK's) errors."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from devnet.chain.blockstore import Block, BlockStore, Event, EventAttribute, TxResult, next_block
from devnet.grpc.server import query_method_handlers
from devnet.rpc.methods import AbciQueryRouter
from devnet.rpc.server import CometRpcServer
from devnet.runtime import genesis_doc
from relayer.exocore.proto.avs.v1 import query_pb2 as avs_query
from tests.support.cometbft_merkle import root_from_aunts
from tests.support.devnet_chain import CHAIN_ID, GENESIS_TIME_NS, VALIDATORS, grow
from tests.support.devnet_rpc import IDENTITY
from tests.support.devnet_world import WETH, World, avs_address
from tests.support.devnet_world import genesis as world_genesis

SEARCH_CHAIN_HEIGHT = 40
AVS_NAME = "search"
AVS = avs_address(AVS_NAME)
RECEIVE_TIMEOUT_S = 10.0


def txs_at(height: int) -> int:
    """Transactions in block ``height`` of the search chain: 0 to 4, so 79 in all."""
    return height % 5


def make_search_block(previous: Block | None, height: int) -> Block:
    txs, results = [], []
    for index in range(txs_at(height)):
        txs.append(b"search-tx-%d-%d" % (height, index))
        results.append(
            TxResult(
                code=5 if (height, index) == (7, 1) else 0,
                events=(
                    Event(
                        "transfer",
                        (
                            EventAttribute("amount", f"{100 * height + index}stake"),
                            EventAttribute("sender", f"exo1sender{index}"),
                            EventAttribute("memo", "not indexed", index=False),
                        ),
                    ),
                ),
            )
        )
    return next_block(
        previous,
        chain_id=CHAIN_ID,
        time_ns=GENESIS_TIME_NS + height * 10**9,
        validators=VALIDATORS if previous is None else None,
        app_hash=hashlib.sha256(b"search-%d" % height).digest(),
        txs=txs,
        tx_results=results,
        begin_block_events=(
            Event.of("epoch_started", ("epoch", str(height)), ("day", f"2024-01-{height % 28 + 1:02d}")),
        ),
        end_block_events=(
            (Event.of("slash_executed", ("operator", f"exo1op{height}")),) if height % 10 == 0 else ()
        ),
    )


@dataclass
class Served:
    store: BlockStore
    server: CometRpcServer
    http: httpx.Client
    world: World

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """JSON-RPC POST; the whole response (result or error)."""
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        response = self.http.post("/", json=body)
        assert response.status_code == 200
        decoded: dict[str, Any] = response.json()
        return decoded

    def result(self, method: str, **params: Any) -> Any:
        decoded = self.call(method, **params)
        assert "error" not in decoded, decoded
        return decoded["result"]

    def error(self, method: str, **params: Any) -> str:
        decoded = self.call(method, **params)
        assert decoded["error"]["code"] == -32603 and decoded["error"]["message"] == "Internal error", decoded
        data: str = decoded["error"]["data"]
        return data


def _registered_avs() -> World:
    """The devnet state machine with one AVS registered by its real message: the abci_query answers
    are the chain's own (the served blocks are the search chain's, built above)."""
    world = World.create()
    world.price(WETH, "3000")
    world.avs(AVS_NAME)
    world.node.produce_block()
    return world


@pytest.fixture(scope="module")
def chain() -> Iterator[Served]:
    store = BlockStore(CHAIN_ID)
    previous = None
    for height in range(1, SEARCH_CHAIN_HEIGHT + 1):
        previous = make_search_block(previous, height)
        store.append(previous)
    world = _registered_avs()
    handlers = query_method_handlers(store, IDENTITY, world.node, "tcp://127.0.0.1:0")
    server = CometRpcServer(
        store,
        IDENTITY,
        genesis=genesis_doc(world_genesis(), 1),
        abci=AbciQueryRouter(handlers, lambda: store.latest_height or 0, IDENTITY.app_version),
    )
    server.start()
    with httpx.Client(base_url=server.url, timeout=10) as http:
        yield Served(store, server, http, world)
    server.stop()
    store.close()
    world.node.store.close()


def all_txs(store: BlockStore) -> list[tuple[int, int]]:
    return [(h, i) for h in range(1, SEARCH_CHAIN_HEIGHT + 1) for i in range(txs_at(h))]


def positions(result: dict[str, Any]) -> list[tuple[int, int]]:
    return [(int(tx["height"]), tx["index"]) for tx in result["txs"]]


# -- tx_search: pagination ---------------------------------------------------------------------


def test_tx_search_default_page_is_30_ascending(chain: Served) -> None:
    expected = all_txs(chain.store)
    result = chain.result("tx_search", query="tx.height > 0")
    assert result["total_count"] == str(len(expected)) == "80"
    assert positions(result) == expected[:30]
    tx = result["txs"][0]
    block = chain.store.get(1 if txs_at(1) else 2)
    assert block is not None
    assert tx["hash"] == block.tx_hashes[0].hex().upper() and "proof" not in tx
    assert base64.b64decode(tx["tx"]) == block.txs[0]


def test_tx_search_pages_clamp_and_refuse_out_of_range(chain: Served) -> None:
    expected = all_txs(chain.store)
    query = "tx.height > 0"
    assert positions(chain.result("tx_search", query=query, page="3", per_page="30")) == expected[60:]
    # per_page above 100 is clamped to 100; below 1 means the default.
    assert len(chain.result("tx_search", query=query, per_page="500")["txs"]) == 80
    assert len(chain.result("tx_search", query=query, per_page="0")["txs"]) == 30
    assert chain.error("tx_search", query=query, page="4", per_page="30") == (
        "page should be within [1, 3] range, given 4"
    )
    assert chain.error("tx_search", query=query, page="0") == "page should be within [1, 3] range, given 0"
    # No match: one (empty) page exists.
    empty = chain.result("tx_search", query="tx.height > 1000", page="1")
    assert empty == {"txs": [], "total_count": "0"}
    assert chain.error("tx_search", query="tx.height > 1000", page="2") == (
        "page should be within [1, 1] range, given 2"
    )


def test_tx_search_order_by(chain: Served) -> None:
    expected = all_txs(chain.store)
    query = "tx.height <= 8"
    window = [p for p in expected if p[0] <= 8]
    assert positions(chain.result("tx_search", query=query, order_by="asc")) == window
    assert positions(chain.result("tx_search", query=query, order_by="")) == window
    assert positions(chain.result("tx_search", query=query, order_by="desc")) == list(reversed(window))
    assert chain.error("tx_search", query=query, order_by="newest") == (
        "expected order_by to be either `asc` or `desc` or empty"
    )


# -- tx_search: query semantics ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("tx.height = 7", [(7, 0), (7, 1)]),
        ("tx.height >= 38 AND tx.height < 40", [(38, 0), (38, 1), (38, 2), *((39, i) for i in range(4))]),
        # A leading number is read from "3401stake"; block 34's values are 3400..3403.
        ("transfer.amount >= 3402 AND tx.height = 34", [(34, 2), (34, 3)]),
        ("transfer.amount > 3402.5 AND tx.height = 34", [(34, 3)]),
        ("transfer.amount = '3401stake'", [(34, 1)]),
        ("transfer.sender CONTAINS 'sender3' AND tx.height < 10", [(4, 3), (9, 3)]),
        ("transfer.sender = 'exo1sender3' AND tx.height < 10", [(4, 3), (9, 3)]),
        ("transfer.amount EXISTS AND tx.height = 2", [(2, 0), (2, 1)]),
        # Not indexed (index=false), an unknown key, and tm.event (the kv indexer stores no tm.event).
        ("transfer.memo = 'not indexed'", []),
        ("transfer.memo EXISTS", []),
        ("nothing.here EXISTS", []),
        ("tm.event = 'Tx' AND tx.height = 2", []),
    ],
)
def test_tx_search_conditions(chain: Served, query: str, expected: list[tuple[int, int]]) -> None:
    result = chain.result("tx_search", query=query, per_page="100")
    assert positions(result) == expected
    assert result["total_count"] == str(len(expected))


def test_failed_transactions_are_indexed_too(chain: Served) -> None:
    result = chain.result("tx_search", query="tx.height = 7")
    assert [tx["tx_result"]["code"] for tx in result["txs"]] == [0, 5]


def test_tx_hash_lookup_answers_alone(chain: Served) -> None:
    block = chain.store.get(9)
    assert block is not None
    tx_hash = block.tx_hashes[2].hex().upper()
    # The node looks the hash up and ignores every other condition.
    result = chain.result("tx_search", query=f"tx.hash = '{tx_hash}' AND tx.height = 3")
    assert positions(result) == [(9, 2)] and result["txs"][0]["hash"] == tx_hash
    assert chain.result("tx_search", query=f"tx.hash = '{'00' * 32}'") == {"txs": [], "total_count": "0"}
    assert chain.error("tx_search", query="tx.hash = 'XYZ'") == (
        "error during searching for a hash in the query: encoding/hex: invalid byte: U+0058 'X'"
    )
    assert chain.error("tx_search", query="tx.hash = 'ABC'") == (
        "error during searching for a hash in the query: encoding/hex: odd length hex string"
    )


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("", "offset 0: EOF"),
        ("tx.height", "offset 9: EOF"),
        ("tx.height >", "offset 11: EOF"),
        ("tx.height > 'a'", "offset 12: got string, wanted number, timestamp or datestamp"),
        ("a.b CONTAINS 5", "offset 13: got number, wanted string"),
        ("tx.height = 5 OR tx.height = 6", "offset 14: got tag, want AND operator"),
        ("tx.height ! 5", "offset 10: invalid input ! at offset 11"),
        ("a.b = 'open", "offset 6: EOF"),
        ("a.b < TIME 2024-13-01T00:00:00Z", "offset 6: invalid TIME value: "),
        ("a.b < DATE 1800-01-01", "offset 6: datestamp year 1800 out of range"),
        ("x" * 513, "maximum query length exceeded"),
    ],
)
def test_tx_search_refuses_bad_queries_with_the_nodes_errors(chain: Served, query: str, error: str) -> None:
    assert chain.error("tx_search", query=query).startswith(error)


# -- proofs ------------------------------------------------------------------------------------


def _check_proof(chain: Served, tx: dict[str, Any]) -> None:
    block = chain.store.get(int(tx["height"]))
    assert block is not None
    proof = tx["proof"]
    assert proof["root_hash"] == block.data_hash.hex().upper()
    raw = base64.b64decode(proof["data"])
    assert raw == base64.b64decode(tx["tx"])
    leaf = hashlib.sha256(b"\x00" + hashlib.sha256(raw).digest()).digest()
    assert base64.b64decode(proof["proof"]["leaf_hash"]) == leaf
    assert proof["proof"]["index"] == str(tx["index"])
    assert proof["proof"]["total"] == str(len(block.txs))
    aunts = [base64.b64decode(a) for a in proof["proof"]["aunts"]]
    computed = root_from_aunts(tx["index"], len(block.txs), leaf, aunts)
    assert computed == block.data_hash


def test_prove_serves_merkle_proofs_that_check_against_the_header(chain: Served) -> None:
    result = chain.result("tx_search", query="tx.height > 0", prove=True, per_page="100")
    assert len(result["txs"]) == 80
    for tx in result["txs"]:
        _check_proof(chain, tx)
    single = chain.result("tx_search", query="tx.height = 1", prove=True)["txs"][0]
    assert single["proof"]["proof"]["aunts"] == []  # a one-tx block: present and empty, as the node has it
    block = chain.store.get(4)
    assert block is not None
    by_hash = chain.result("tx", hash=base64.b64encode(block.tx_hashes[3]).decode(), prove=True)
    _check_proof(chain, by_hash)


# -- block_search ------------------------------------------------------------------------------


def heights(result: dict[str, Any]) -> list[int]:
    return [int(b["block"]["header"]["height"]) for b in result["blocks"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("block.height > 36", [40, 39, 38, 37]),
        ("block.height = 5", [5]),
        ("slash_executed.operator EXISTS", [40, 30, 20, 10]),
        ("epoch_started.epoch >= 12 AND epoch_started.epoch < 14", [13, 12]),
        ("epoch_started.day = DATE 2024-01-03", [30, 2]),
        ("epoch_started.day > DATE 2024-01-27 AND block.height < 30", [27]),
        ("tm.event = 'NewBlock' AND block.height = 5", []),
    ],
)
def test_block_search_conditions_default_descending(chain: Served, query: str, expected: list[int]) -> None:
    result = chain.result("block_search", query=query)
    assert heights(result) == expected and result["total_count"] == str(len(expected))


def test_block_search_results_are_the_blocks(chain: Served) -> None:
    result = chain.result("block_search", query="block.height >= 39", order_by="asc")
    assert heights(result) == [39, 40]
    assert result["blocks"][0] == chain.result("block", height="39")
    page = chain.result("block_search", query="block.height > 0", page="2", per_page="15")
    assert heights(page) == list(range(25, 10, -1)) and page["total_count"] == "40"
    assert chain.error("block_search", query="block.height > 0", page="5", per_page="10") == (
        "page should be within [1, 4] range, given 5"
    )
    assert chain.error("block_search", query="block.height >", order_by="asc") == "offset 14: EOF"


# -- commit ------------------------------------------------------------------------------------


def test_commit_of_a_past_height_is_canonical(chain: Served) -> None:
    block, following = chain.store.get(12), chain.store.get(13)
    assert block is not None and following is not None
    result = chain.result("commit", height="12")
    assert result["canonical"] is True
    assert result["signed_header"]["header"] == chain.result("header", height="12")["header"]
    commit = result["signed_header"]["commit"]
    assert commit["height"] == "12" and commit["round"] == 0
    assert commit["block_id"] == chain.result("block", height="12")["block_id"]
    # The commit for 12 is what block 13 carries as last_commit.
    assert commit["signatures"] == chain.result("block", height="13")["block"]["last_commit"]["signatures"]


def test_commit_of_the_tip_is_the_seen_commit(chain: Served) -> None:
    result = chain.result("commit")
    assert result["canonical"] is False
    assert result["signed_header"]["header"]["height"] == str(SEARCH_CHAIN_HEIGHT)
    signatures = result["signed_header"]["commit"]["signatures"]
    assert [s["validator_address"] for s in signatures] == [v.address.hex().upper() for v in VALIDATORS]
    assert {s["block_id_flag"] for s in signatures} == {2}
    assert chain.error("commit", height="0") == "height must be greater than 0, but got 0"
    assert chain.error("commit", height="41") == (
        "height 41 must be less than or equal to the current blockchain height 40"
    )


# -- genesis -----------------------------------------------------------------------------------


def test_genesis_document(chain: Served) -> None:
    response = chain.http.get("/genesis")
    assert response.headers["cache-control"] == "public, max-age=86400"
    doc = response.json()["result"]["genesis"]
    source = world_genesis()
    assert list(doc) == [
        "genesis_time",
        "chain_id",
        "initial_height",
        "consensus_params",
        "validators",
        "app_hash",
        "app_state",
    ]
    assert doc["genesis_time"] == "2023-11-14T22:13:20Z" and doc["initial_height"] == "1"
    assert doc["chain_id"] == source.chain_id
    assert doc["consensus_params"]["block"] == {"max_bytes": "22020096", "max_gas": "-1"}
    assert doc["consensus_params"]["version"] == {"app": "0"}
    for validator, expected in zip(doc["validators"], source.validators, strict=True):
        assert validator["pub_key"]["value"] == base64.b64encode(expected.consensus_pubkey).decode()
        assert validator["power"] == str(expected.power)
        assert validator["address"] == hashlib.sha256(expected.consensus_pubkey).digest()[:20].hex().upper()
    assert doc["app_state"]["seed"] == source.seed
    # The simulated validators' BLS secrets stay out of a public document.
    assert all("bls_secret" not in v for v in doc["app_state"]["validators"])
    assert "bls_secret" not in json.dumps(doc)


def test_genesis_without_a_document(static_chain: Any) -> None:
    response = static_chain.http.post("/", json={"jsonrpc": "2.0", "id": 1, "method": "genesis"})
    assert response.json()["error"]["data"] == "genesis is not available"


# -- abci_query --------------------------------------------------------------------------------

AVS_INFO = "/exocore.avs.v1.Query/QueryAVSInfo"


def _avs_request(address: str) -> str:
    return avs_query.QueryAVSInfoRequest(avs_address=address).SerializeToString().hex()


def test_abci_query_success_shape(chain: Served) -> None:
    response = chain.result("abci_query", path=AVS_INFO, data=_avs_request(AVS))["response"]
    value = base64.b64decode(response.pop("value"))
    assert response == {
        "code": 0,
        "log": "",
        "info": "",
        "index": "0",
        "key": None,
        "proofOps": None,
        "height": str(SEARCH_CHAIN_HEIGHT),
        "codespace": "",
    }
    assert avs_query.QueryAVSInfoResponse.FromString(value).info == chain.world.node.avs_info(AVS)
    assert avs_query.QueryAVSInfoResponse.FromString(value).info.name == AVS_NAME
    # URI form: path quoted, data 0x-hex; same answer.
    uri = chain.http.get("/abci_query", params={"path": f'"{AVS_INFO}"', "data": "0x" + _avs_request(AVS)})
    assert uri.json()["result"]["response"]["value"] == base64.b64encode(value).decode()
    # The explicit latest height answers too.
    latest = str(SEARCH_CHAIN_HEIGHT)
    explicit = chain.result("abci_query", path=AVS_INFO, data=_avs_request(AVS), height=latest)
    assert base64.b64decode(explicit["response"]["value"]) == value


def sdk_error(response: dict[str, Any]) -> tuple[int, str, str]:
    inner = response["response"]
    assert inner["value"] is None and inner["proofOps"] is None and inner["codespace"] == "sdk"
    return inner["code"], inner["log"], inner["height"]


VALID = "please provide a valid height"
OTHER_AVS = "0x" + "bb" * 20


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {"path": AVS_INFO, "data": _avs_request(OTHER_AVS)},
            (22, f"rpc error: code = NotFound desc = AVS {OTHER_AVS} is not registered: key not found", "40"),
        ),
        (
            {"path": AVS_INFO, "data": _avs_request("nope")},
            (
                18,
                "rpc error: code = InvalidArgument desc = invalid avs address 'nope': "
                "expected a 0x-prefixed 20-byte hex address: invalid request",
                "40",
            ),
        ),
        ({"path": "/exocore.avs.v1.Query/Nope"}, (6, "unknown query path: unknown request", "0")),
        ({"path": "/custom/avs/info"}, (6, "unknown query path: unknown request", "0")),
        (
            {"path": "/app/simulate"},
            (37, "the devnet does not simulate transactions: feature not supported", "0"),
        ),
        ({"path": "/app/nope"}, (6, "unknown query: [app nope]: unknown request", "0")),
        ({"path": ""}, (6, "no query path provided: unknown request", "0")),
        ({"path": "/store/avs/key"}, (6, "multistore doesn't support queries: unknown request", "0")),
        (
            {"path": AVS_INFO, "height": "41"},
            (26, f"cannot query with height in the future; {VALID}: invalid height", "0"),
        ),
        (
            {"path": AVS_INFO, "height": "-1"},
            (18, f"cannot query with height < 0; {VALID}: invalid request", "0"),
        ),
        (
            {"path": AVS_INFO, "height": "39"},
            (
                18,
                "failed to load state at height 39; version does not exist (latest height: 40): "
                "invalid request",
                "0",
            ),
        ),
        (
            {"path": AVS_INFO, "height": "1", "prove": True},
            (18, f"cannot query with proof when height <= 1; {VALID}: invalid request", "0"),
        ),
        (
            {"path": "/cosmos.base.tendermint.v1beta1.Service/ABCIQuery"},
            (6, "rpc error: code = Unimplemented desc = Method not implemented!: unknown request", "40"),
        ),
    ],
)
def test_abci_query_errors_as_the_sdk_fills_them(
    chain: Served, params: dict[str, Any], expected: tuple[int, str, str]
) -> None:
    assert sdk_error(chain.result("abci_query", **params)) == expected


def test_abci_query_app_version(chain: Served) -> None:
    response = chain.result("abci_query", path="/app/version")["response"]
    assert base64.b64decode(response["value"]) == IDENTITY.app_version.encode()
    assert (response["code"], response["codespace"], response["height"]) == (0, "sdk", "40")


def test_abci_query_argument_errors(chain: Served) -> None:
    bad = chain.call("abci_query", path=AVS_INFO, data="zz")["error"]
    assert bad == {
        "code": -32602,
        "message": "Invalid params",
        "data": "error converting json params to arguments: encoding/hex: invalid byte: U+007A 'z'",
    }
    not_string = chain.call("abci_query", path=AVS_INFO, data=5)["error"]
    assert not_string["data"] == "error converting json params to arguments: invalid hex string: 5"


def test_every_grpc_query_method_is_reachable_over_abci(chain: Served) -> None:
    handlers = query_method_handlers(chain.store, IDENTITY, chain.world.node, "tcp://127.0.0.1:0")
    services = {path.split("/")[1] for path in handlers}
    assert services == {
        "cosmos.base.tendermint.v1beta1.Service",
        "cosmos.consensus.v1.Query",
        "cosmos.staking.v1beta1.Query",
        "exocore.avs.v1.Query",
        "exocore.feedistribution.v1.Query",
        "exocore.operator.v1.Query",
        "exocore.relay.v1.Query",
    }
    for path in handlers:
        response = chain.result("abci_query", path=path)["response"]
        # An empty request is valid protobuf: every method answers or refuses it itself.
        assert response["log"] != "unknown query path: unknown request", path
        assert response["code"] == 0 or response["log"].startswith("rpc error: code = "), response


# -- num_unconfirmed_txs and the front ends ------------------------------------------------------


def test_num_unconfirmed_txs_counts_the_open_block() -> None:
    world = World.create()
    store = world.node.store
    server = CometRpcServer(store, IDENTITY, pending_txs=world.node.pending_txs)
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            idle = http.get("/num_unconfirmed_txs").json()["result"]
            assert idle == {"n_txs": "0", "total": "0", "total_bytes": "0", "txs": None}
            world.price(WETH, "2000")
            world.price(WETH, "2001")
            pending = world.node.pending_txs()
            assert len(pending) == 2
            busy = http.get("/num_unconfirmed_txs").json()["result"]
            assert busy == {
                "n_txs": "2",
                "total": "2",
                "total_bytes": str(sum(len(tx) for tx in pending)),
                "txs": None,
            }
            world.node.produce_block()
            assert http.get("/num_unconfirmed_txs").json()["result"]["n_txs"] == "0"
    finally:
        server.stop()
        store.close()


NEW_METHODS = ("abci_query", "block_search", "commit", "genesis", "num_unconfirmed_txs", "tx_search")


def test_new_methods_are_served_on_every_front_end(chain: Served) -> None:
    listing = chain.http.get("/").text
    for name in NEW_METHODS:
        assert f"/{name}" in listing
    assert "/tx_search?query=_&amp;prove=_&amp;page=_&amp;per_page=_&amp;order_by=_" in listing or (
        "/tx_search?query=_&prove=_&page=_&per_page=_&order_by=_" in listing
    )
    uri = chain.http.get("/tx_search", params={"query": '"tx.height = 2"', "per_page": "1"})
    assert uri.status_code == 200 and uri.json()["id"] == -1
    assert uri.json()["result"]["total_count"] == "2"
    with connect(chain.server.ws_url, open_timeout=RECEIVE_TIMEOUT_S) as ws:
        for request_id, name in enumerate(NEW_METHODS):
            params = {"query": "block.height = 3"} if name.endswith("_search") else {}
            ws.send(json.dumps({"jsonrpc": "2.0", "id": request_id, "method": name, "params": params}))
            answer = json.loads(ws.recv(timeout=RECEIVE_TIMEOUT_S))
            assert answer["id"] == request_id and "result" in answer, answer


def test_search_sees_blocks_committed_after_an_earlier_search(live_chain: Any) -> None:
    def search(method: str, query: str) -> dict[str, Any]:
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": {"query": query}}
        result: dict[str, Any] = live_chain.http.post("/", json=body).json()["result"]
        return result

    claims = "message.action = '/exocore.avs.v1.MsgSubmitRewardClaim'"
    assert search("tx_search", claims)["total_count"] == "1"
    assert search("block_search", "committee_elected.epoch >= 1")["total_count"] == "2"
    grow(live_chain.store, 3)
    after = search("tx_search", claims)
    assert after["total_count"] == "2" and [tx["height"] for tx in after["txs"]] == ["2", "4"]
    assert search("block_search", "committee_elected.epoch >= 1")["total_count"] == "5"


def test_conditions_on_one_event_type_match_within_a_single_event() -> None:
    store = BlockStore(CHAIN_ID)
    transfers = (
        Event.of("message", ("action", "/cosmos.bank.v1beta1.MsgMultiSend")),
        Event.of("transfer", ("recipient", "alice"), ("amount", "100")),
        Event.of("transfer", ("recipient", "bob"), ("amount", "200")),
    )
    store.append(
        next_block(
            None,
            chain_id=CHAIN_ID,
            time_ns=GENESIS_TIME_NS,
            validators=VALIDATORS,
            txs=[b"multi-send"],
            tx_results=[TxResult(events=transfers)],
            begin_block_events=transfers[1:],
        )
    )
    server = CometRpcServer(store, IDENTITY)
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:

            def total(method: str, query: str) -> str:
                body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": {"query": query}}
                result: dict[str, Any] = http.post("/", json=body).json()["result"]
                return str(result["total_count"])

            for method in ("tx_search", "block_search"):
                assert total(method, "transfer.recipient = 'alice' AND transfer.amount = 100") == "1"
                assert total(method, "transfer.recipient = 'bob' AND transfer.amount > 150") == "1"
                # alice's transfer is 100 and bob's 200: no single transfer event has both.
                assert total(method, "transfer.recipient = 'alice' AND transfer.amount = 200") == "0"
                assert total(method, "transfer.recipient = 'alice' AND transfer.amount EXISTS") == "1"
            # Conditions on different event types are independent.
            multi = "message.action = '/cosmos.bank.v1beta1.MsgMultiSend' AND transfer.amount = 200"
            assert total("tx_search", multi) == "1"
    finally:
        server.stop()
        store.close()
