"""CometBFT JSON-RPC over real HTTP: both front ends, exact 0.37 shapes, CometBFT's errors."""

from __future__ import annotations

import base64
import hashlib
import re
import socket
from typing import Any

import pytest

from devnet.rpc.encoding import parse_rfc3339_nano, rfc3339_nano
from tests.support.devnet_chain import CHAIN_ID, GENESIS_TIME_NS, VALIDATORS
from tests.support.devnet_rpc import STATIC_CHAIN_HEIGHT, RpcChain

HASH_HEX = re.compile(r"^[0-9A-F]{64}$")
ADDRESS_HEX = re.compile(r"^[0-9A-F]{40}$")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")


def post(chain: RpcChain, method: str, params: Any = None, request_id: Any = 1) -> dict[str, Any]:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        body["params"] = params
    response = chain.http.post("/", json=body)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    decoded: dict[str, Any] = response.json()
    assert decoded["jsonrpc"] == "2.0" and decoded["id"] == request_id
    return decoded


def get(chain: RpcChain, path: str, status: int = 200) -> dict[str, Any]:
    response = chain.http.get(path)
    assert response.status_code == status, response.text
    decoded: dict[str, Any] = response.json()
    assert decoded["jsonrpc"] == "2.0" and decoded["id"] == -1
    return decoded


def test_rfc3339_nano_matches_go_formatting() -> None:
    assert rfc3339_nano(GENESIS_TIME_NS) == "2023-11-14T22:13:20.123456789Z"
    assert rfc3339_nano(1_700_000_000_000_000_000) == "2023-11-14T22:13:20Z"
    assert rfc3339_nano(1_700_000_000_500_000_000) == "2023-11-14T22:13:20.5Z"
    assert rfc3339_nano(0) == "1970-01-01T00:00:00Z"
    assert parse_rfc3339_nano("2023-11-14T22:13:20.123456789Z") == GENESIS_TIME_NS


@pytest.mark.parametrize(
    ("method", "params", "path"),
    [
        ("health", None, "/health"),
        ("status", None, "/status"),
        ("abci_info", None, "/abci_info"),
        ("block", {"height": "2"}, "/block?height=2"),
        ("block_results", {"height": "4"}, "/block_results?height=4"),
        ("header", {"height": "3"}, "/header?height=3"),
        ("validators", {"height": "1"}, "/validators?height=1"),
        ("blockchain", {"minHeight": "2", "maxHeight": "4"}, "/blockchain?minHeight=2&maxHeight=4"),
    ],
)
def test_post_and_uri_forms_agree(static_chain: RpcChain, method: str, params: Any, path: str) -> None:
    assert post(static_chain, method, params)["result"] == get(static_chain, path)["result"]


def test_positional_params_are_accepted(static_chain: RpcChain) -> None:
    assert post(static_chain, "block", ["3"])["result"] == get(static_chain, "/block?height=3")["result"]
    assert post(static_chain, "block", {"height": None})["result"]["block"]["header"]["height"] == "6"


def test_health_is_an_empty_result(static_chain: RpcChain) -> None:
    assert get(static_chain, "/health") == {"jsonrpc": "2.0", "id": -1, "result": {}}


def test_status_shape(static_chain: RpcChain) -> None:
    status = get(static_chain, "/status")["result"]
    latest = static_chain.store.latest()
    first = static_chain.store.get(1)
    assert latest is not None and first is not None
    node = status["node_info"]
    assert node["network"] == CHAIN_ID and node["version"] == "0.37.4"
    assert node["protocol_version"] == {"p2p": "8", "block": "11", "app": "0"}
    assert re.fullmatch(r"[0-9a-f]{40}", node["id"])
    assert node["other"] == {"tx_index": "on", "rpc_address": f"tcp://127.0.0.1:{static_chain.server.port}"}
    sync = status["sync_info"]
    assert sync == {
        "latest_block_hash": latest.hash.hex().upper(),
        "latest_app_hash": latest.app_hash.hex().upper(),
        "latest_block_height": str(STATIC_CHAIN_HEIGHT),
        "latest_block_time": "2023-11-14T22:13:25.123456789Z",
        "earliest_block_hash": first.hash.hex().upper(),
        "earliest_app_hash": first.app_hash.hex().upper(),
        "earliest_block_height": "1",
        "earliest_block_time": "2023-11-14T22:13:20.123456789Z",
        "catching_up": False,
    }
    info = status["validator_info"]
    assert ADDRESS_HEX.match(info["address"]) and info["voting_power"] == "0"
    assert info["pub_key"]["type"] == "tendermint/PubKeyEd25519"
    assert len(base64.b64decode(info["pub_key"]["value"])) == 32


def test_abci_info_shape(static_chain: RpcChain) -> None:
    latest = static_chain.store.latest()
    assert latest is not None
    assert get(static_chain, "/abci_info")["result"] == {
        "response": {
            "data": "exocored",
            "version": "1.1.3",
            "last_block_height": str(STATIC_CHAIN_HEIGHT),
            "last_block_app_hash": base64.b64encode(latest.app_hash).decode(),
        }
    }


def test_block_shape(static_chain: RpcChain) -> None:
    block = static_chain.store.get(2)
    first = static_chain.store.get(1)
    assert block is not None and first is not None
    result = get(static_chain, "/block?height=2")["result"]
    assert result["block_id"] == {
        "hash": block.hash.hex().upper(),
        "parts": {"total": 1, "hash": block.block_id.part_set_hash.hex().upper()},
    }
    header = result["block"]["header"]
    assert header["version"] == {"block": "11", "app": "0"}
    assert header["chain_id"] == CHAIN_ID and header["height"] == "2"
    assert header["time"] == "2023-11-14T22:13:21.123456789Z" and RFC3339.match(header["time"])
    assert header["last_block_id"]["hash"] == first.hash.hex().upper()
    for name in (
        "last_commit_hash",
        "data_hash",
        "validators_hash",
        "next_validators_hash",
        "consensus_hash",
        "app_hash",
        "last_results_hash",
        "evidence_hash",
    ):
        assert HASH_HEX.match(header[name]), name
    assert header["evidence_hash"] == hashlib.sha256(b"").hexdigest().upper()
    assert header["proposer_address"] == block.proposer_address.hex().upper()
    assert result["block"]["data"] == {"txs": [base64.b64encode(b"claim-tx-2").decode()]}
    assert result["block"]["evidence"] == {"evidence": []}
    commit = result["block"]["last_commit"]
    assert commit["height"] == "1" and commit["round"] == 0
    assert commit["block_id"]["hash"] == first.hash.hex().upper()
    assert [s["validator_address"] for s in commit["signatures"]] == [
        v.address.hex().upper() for v in VALIDATORS
    ]
    assert {s["block_id_flag"] for s in commit["signatures"]} == {2}
    assert {s["timestamp"] for s in commit["signatures"]} == {"2023-11-14T22:13:20.123456789Z"}


def test_first_block_has_an_empty_parent_and_commit(static_chain: RpcChain) -> None:
    block = get(static_chain, "/block?height=1")["result"]["block"]
    assert block["header"]["last_block_id"] == {"hash": "", "parts": {"total": 0, "hash": ""}}
    assert block["last_commit"] == {
        "height": "0",
        "round": 0,
        "block_id": {"hash": "", "parts": {"total": 0, "hash": ""}},
        "signatures": [],
    }
    assert block["data"] == {"txs": []}


def test_block_without_height_is_the_latest(static_chain: RpcChain) -> None:
    assert get(static_chain, "/block")["result"]["block"]["header"]["height"] == str(STATIC_CHAIN_HEIGHT)
    assert get(static_chain, "/block_results")["result"]["height"] == str(STATIC_CHAIN_HEIGHT)


def test_block_results_shape(static_chain: RpcChain) -> None:
    result = get(static_chain, "/block_results?height=2")["result"]
    assert result == {
        "height": "2",
        "txs_results": [
            {
                "code": 0,
                "data": base64.b64encode(b"\x0a\x02ok").decode(),
                "log": "[]",
                "info": "",
                "gas_wanted": "200000",
                "gas_used": "81234",
                "events": [
                    {
                        "type": "message",
                        "attributes": [
                            {
                                "key": "action",
                                "value": "/exocore.avs.v1.MsgSubmitRewardClaim",
                                "index": True,
                            }
                        ],
                    },
                    {
                        "type": "reward_claim_submitted",
                        "attributes": [
                            {"key": "claim_id", "value": "0x" + "0" * 63 + "2", "index": True},
                            {"key": "avs", "value": "", "index": True},
                        ],
                    },
                ],
                "codespace": "",
            }
        ],
        # 0.37: epoch work in begin_block_events, attribute keys/values as plain strings.
        "begin_block_events": [
            {
                "type": "committee_elected",
                "attributes": [
                    {"key": "avs", "value": "0x" + "11" * 20, "index": True},
                    {"key": "epoch", "value": "2", "index": True},
                ],
            }
        ],
        "end_block_events": None,
        "validator_updates": None,
        "consensus_param_updates": {
            "block": {"max_bytes": "22020096", "max_gas": "-1"},
            "evidence": {
                "max_age_num_blocks": "100000",
                "max_age_duration": "172800000000000",
                "max_bytes": "1048576",
            },
            "validator": {"pub_key_types": ["ed25519"]},
        },
    }
    assert get(static_chain, "/block_results?height=1")["result"]["txs_results"] is None


def test_validators_shape_and_paging(static_chain: RpcChain) -> None:
    result = get(static_chain, "/validators")["result"]
    # Without a height CometBFT answers for latest + 1 (the next validators of the tip).
    assert result["block_height"] == str(STATIC_CHAIN_HEIGHT + 1)
    assert result["count"] == "3" and result["total"] == "3"
    assert result["validators"][0] == {
        "address": VALIDATORS[0].address.hex().upper(),
        "pub_key": {
            "type": "tendermint/PubKeyEd25519",
            "value": base64.b64encode(VALIDATORS[0].pub_key).decode(),
        },
        "voting_power": "30",
        "proposer_priority": "0",
    }
    page = get(static_chain, "/validators?height=2&page=2&per_page=2")["result"]
    assert page["count"] == "1" and page["total"] == "3"
    assert page["validators"][0]["address"] == VALIDATORS[2].address.hex().upper()
    error = get(static_chain, "/validators?page=3&per_page=2", status=500)["error"]
    assert error == {
        "code": -32603,
        "message": "Internal error",
        "data": "page should be within [1, 2] range, given 3",
    }


def test_blockchain_is_descending_and_bounded(static_chain: RpcChain) -> None:
    result = get(static_chain, "/blockchain?minHeight=2&maxHeight=4")["result"]
    assert result["last_height"] == str(STATIC_CHAIN_HEIGHT)
    metas = result["block_metas"]
    assert [m["header"]["height"] for m in metas] == ["4", "3", "2"]
    block = static_chain.store.get(4)
    assert block is not None
    assert metas[0]["block_id"]["hash"] == block.hash.hex().upper()
    assert metas[0]["num_txs"] == "1" and metas[0]["block_size"] == str(block.size)
    everything = get(static_chain, "/blockchain")["result"]["block_metas"]
    assert [m["header"]["height"] for m in everything] == ["6", "5", "4", "3", "2", "1"]
    error = get(static_chain, "/blockchain?minHeight=5&maxHeight=3", status=500)["error"]
    assert error["data"] == "min height 5 can't be greater than max height 3"
    error = get(static_chain, "/blockchain?minHeight=-1", status=500)["error"]
    assert error["data"] == "heights must be non-negative"


def test_tx_by_hash_in_both_forms(static_chain: RpcChain) -> None:
    tx_hash = hashlib.sha256(b"claim-tx-4").digest()
    by_uri = get(static_chain, f"/tx?hash=0x{tx_hash.hex()}")["result"]
    assert by_uri["hash"] == tx_hash.hex().upper() and by_uri["height"] == "4" and by_uri["index"] == 0
    assert base64.b64decode(by_uri["tx"]) == b"claim-tx-4"
    assert by_uri["tx_result"]["gas_used"] == "81234"
    by_post = post(static_chain, "tx", {"hash": base64.b64encode(tx_hash).decode(), "prove": False})
    assert by_post["result"] == by_uri
    missing = get(static_chain, "/tx?hash=0x" + "00" * 32, status=500)["error"]
    assert missing["data"] == f"tx ({'00' * 32}) not found"


def test_block_by_hash_and_header_by_hash(static_chain: RpcChain) -> None:
    block = static_chain.store.get(3)
    assert block is not None
    by_hash = get(static_chain, f"/block_by_hash?hash=0x{block.hash.hex()}")["result"]
    assert by_hash == get(static_chain, "/block?height=3")["result"]
    header = get(static_chain, f"/header_by_hash?hash=0x{block.hash.hex()}")["result"]
    assert header == {"header": by_hash["block"]["header"]}
    assert get(static_chain, "/block_by_hash?hash=0x" + "00" * 32)["result"]["block"] is None


# -- errors, with CometBFT's wording --


def test_height_above_the_tip(static_chain: RpcChain) -> None:
    data = "height 99 must be less than or equal to the current blockchain height 6"
    for method in ("block", "block_results", "header"):
        assert post(static_chain, method, {"height": "99"})["error"] == {
            "code": -32603,
            "message": "Internal error",
            "data": data,
        }
        assert get(static_chain, f"/{method}?height=99", status=500)["error"]["data"] == data
    assert get(static_chain, "/validators?height=99", status=500)["error"]["data"] == (
        "height 99 must be less than or equal to the current blockchain height 7"
    )


@pytest.mark.parametrize("height", ["0", "-3"])
def test_height_zero_or_negative(static_chain: RpcChain, height: str) -> None:
    expected = {
        "code": -32603,
        "message": "Internal error",
        "data": f"height must be greater than 0, but got {height}",
    }
    assert get(static_chain, f"/block?height={height}", status=500)["error"] == expected
    assert post(static_chain, "block", {"height": height})["error"] == expected


def test_non_numeric_heights(static_chain: RpcChain) -> None:
    assert get(static_chain, "/block?height=abc", status=500)["error"] == {
        "code": -32602,
        "message": "Invalid params",
        "data": "error converting http params to arguments: "
        'invalid 64-bit integer encoding "abc", expected string',
    }
    # JSON-RPC params go through CometBFT's libs/json: a 64-bit integer must be a quoted string.
    assert post(static_chain, "block", {"height": 5})["error"] == {
        "code": -32602,
        "message": "Invalid params",
        "data": "error converting json params to arguments: "
        'invalid 64-bit integer encoding "5", expected string',
    }
    assert post(static_chain, "block", {"height": "abc"})["error"]["data"] == (
        "error converting json params to arguments: invalid character 'a' looking for beginning of value"
    )
    assert post(static_chain, "block", {"height": "1.5"})["error"]["data"] == (
        "error converting json params to arguments: "
        "json: cannot unmarshal number 1.5 into Go value of type int64"
    )
    assert get(static_chain, "/block?height=0x10", status=500)["error"]["data"] == (
        "error converting http params to arguments: got a hex string arg, but expected 'int64'"
    )
    wrong_count = post(static_chain, "block", ["1", "2"])["error"]
    assert wrong_count["code"] == -32602 and "expected 1 parameters ([height]), got 2" in wrong_count["data"]


def test_unknown_method_and_path(static_chain: RpcChain) -> None:
    assert post(static_chain, "no_such_method")["error"] == {"code": -32601, "message": "Method not found"}
    response = static_chain.http.get("/no_such_method")
    assert response.status_code == 404 and response.text == "404 page not found\n"
    # Websocket-only methods are not callable over HTTP.
    assert post(static_chain, "subscribe", {"query": "tm.event='NewBlock'"})["error"]["code"] == -32601
    assert get(static_chain, "/subscribe", status=404)["error"] == {
        "code": -32601,
        "message": "Method not found",
    }


def test_parse_error(static_chain: RpcChain) -> None:
    response = static_chain.http.post("/", content=b"{not json")
    assert response.status_code == 500
    assert response.json() == {
        "jsonrpc": "2.0",
        "error": {
            "code": -32700,
            "message": "Parse error. Invalid JSON",
            "data": "error unmarshaling request: invalid character 'n' looking for beginning of value",
        },
    }


def test_batch_notification_and_string_ids(static_chain: RpcChain) -> None:
    batch = [
        {"jsonrpc": "2.0", "id": "a", "method": "health"},
        {"jsonrpc": "2.0", "method": "health"},  # notification: no answer
        {"jsonrpc": "2.0", "id": 2, "method": "block", "params": {"height": "99"}},
    ]
    response = static_chain.http.post("/", json=batch)
    assert response.status_code == 200
    answers = response.json()
    assert [a["id"] for a in answers] == ["a", 2]
    assert answers[0]["result"] == {} and answers[1]["error"]["code"] == -32603
    only_notification = static_chain.http.post("/", json={"jsonrpc": "2.0", "method": "health"})
    assert only_notification.status_code == 200 and only_notification.content == b""


def test_empty_body_lists_endpoints(static_chain: RpcChain) -> None:
    response = static_chain.http.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "Available endpoints:" in response.text and "/block?height=_" in response.text


def test_cache_control_only_for_fixed_heights(static_chain: RpcChain) -> None:
    assert static_chain.http.get("/block?height=1").headers["cache-control"] == "public, max-age=86400"
    assert "cache-control" not in static_chain.http.get("/block").headers
    assert "cache-control" not in static_chain.http.get("/status").headers


def test_outage_knob(static_chain: RpcChain) -> None:
    static_chain.server.set_outage(True)
    try:
        assert static_chain.http.get("/status").status_code == 503
        assert (
            static_chain.http.post("/", json={"jsonrpc": "2.0", "id": 1, "method": "health"}).status_code
            == 503
        )
    finally:
        static_chain.server.set_outage(False)
    assert static_chain.http.get("/health").status_code == 200


def test_responses_are_not_held_back_by_nagle(static_chain: RpcChain) -> None:
    # Regression: uvicorn writes headers and body separately; without TCP_NODELAY each response met the
    # client's delayed ACK and took ~45 ms instead of ~0.5 ms (found measuring the Exocore client).
    sock = static_chain.server.listening_socket
    assert sock is not None
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
