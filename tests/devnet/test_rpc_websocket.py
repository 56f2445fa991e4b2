"""CometBFT /websocket: subscriptions pushed as blocks are appended, over a real websocket."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.support.devnet_chain import grow
from tests.support.devnet_rpc import RpcChain

RECEIVE_TIMEOUT_S = 30.0


@contextmanager
def websocket(chain: RpcChain) -> Iterator[ClientConnection]:
    with connect(chain.server.ws_url, open_timeout=RECEIVE_TIMEOUT_S) as ws:
        yield ws


def call(ws: ClientConnection, request_id: Any, method: str, params: Any = None) -> dict[str, Any]:
    request: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        request["params"] = params
    ws.send(json.dumps(request))
    return receive(ws)


def receive(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(ws.recv(timeout=RECEIVE_TIMEOUT_S))
    return message


def test_new_block_events_are_pushed(live_chain: RpcChain) -> None:
    with websocket(live_chain) as ws:
        query = "tm.event='NewBlock'"
        assert call(ws, 7, "subscribe", {"query": query}) == {"jsonrpc": "2.0", "id": 7, "result": {}}
        added = grow(live_chain.store, 2)
        for block in added:
            message = receive(ws)
            assert message["jsonrpc"] == "2.0" and message["id"] == 7
            result = message["result"]
            assert result["query"] == query
            assert result["data"]["type"] == "tendermint/event/NewBlock"
            value = result["data"]["value"]
            assert value["block"]["header"]["height"] == str(block.height)
            assert value["block"]["header"]["time"].endswith("Z")
            assert value["block_id"]["hash"] == block.hash.hex().upper()
            assert value["result_begin_block"] == {
                "events": [
                    {
                        "type": "committee_elected",
                        "attributes": [
                            {"key": "avs", "value": "0x" + "11" * 20, "index": True},
                            {"key": "epoch", "value": str(block.height), "index": True},
                        ],
                    }
                ]
            }
            assert value["result_end_block"]["validator_updates"] is None
            assert result["events"] == {
                "tm.event": ["NewBlock"],
                "committee_elected.avs": ["0x" + "11" * 20],
                "committee_elected.epoch": [str(block.height)],
            }


def test_header_and_tx_subscriptions_with_conditions(live_chain: RpcChain) -> None:
    with websocket(live_chain) as ws:
        tx_query = "tm.event = 'Tx' AND reward_claim_submitted.claim_id EXISTS"
        assert "result" in call(ws, "tx", "subscribe", [tx_query])
        assert "result" in call(
            ws, "hdr", "subscribe", {"query": "tm.event='NewBlockHeader' AND committee_elected.epoch >= 4"}
        )
        grow(live_chain.store, 2)  # heights 3 (no tx) and 4 (one tx)
        header = receive(ws)
        assert header["id"] == "hdr"
        assert header["result"]["data"]["type"] == "tendermint/event/NewBlockHeader"
        assert header["result"]["data"]["value"]["header"]["height"] == "4"
        assert header["result"]["data"]["value"]["num_txs"] == "1"
        tx = receive(ws)
        assert tx["id"] == "tx" and tx["result"]["query"] == tx_query
        assert tx["result"]["data"]["type"] == "tendermint/event/Tx"
        tx_result = tx["result"]["data"]["value"]["TxResult"]
        assert tx_result["height"] == "4" and tx_result["index"] == 0
        assert tx_result["result"]["gas_used"] == "81234"
        assert tx["result"]["events"]["tx.height"] == ["4"]
        block = live_chain.store.get(4)
        assert block is not None
        assert tx["result"]["events"]["tx.hash"] == [block.tx_hashes[0].hex().upper()]


def test_unsubscribe_stops_the_events(live_chain: RpcChain) -> None:
    with websocket(live_chain) as ws:
        query = {"query": "tm.event='NewBlock'"}
        call(ws, 1, "subscribe", query)
        grow(live_chain.store, 1)
        assert receive(ws)["id"] == 1
        assert call(ws, 2, "unsubscribe", query) == {"jsonrpc": "2.0", "id": 2, "result": {}}
        grow(live_chain.store, 1)
        # Had an event been queued it would arrive before this answer.
        assert call(ws, 3, "health") == {"jsonrpc": "2.0", "id": 3, "result": {}}
        call(ws, 4, "subscribe", query)
        assert call(ws, 5, "unsubscribe_all") == {"jsonrpc": "2.0", "id": 5, "result": {}}
        grow(live_chain.store, 1)
        assert call(ws, 6, "health")["id"] == 6


def test_subscription_errors(live_chain: RpcChain) -> None:
    with websocket(live_chain) as ws:
        query = {"query": "tm.event='NewBlock'"}
        call(ws, 1, "subscribe", query)
        assert call(ws, 2, "subscribe", query)["error"] == {
            "code": -32603,
            "message": "Internal error",
            "data": "already subscribed",
        }
        bad = call(ws, 3, "subscribe", {"query": "tm.event="})["error"]
        assert bad["code"] == -32603 and bad["data"].startswith("failed to parse query: ")
        assert (
            call(ws, 4, "unsubscribe", {"query": "tm.event='Tx'"})["error"]["data"]
            == "subscription not found"
        )
        for index in range(4):
            call(
                ws,
                10 + index,
                "subscribe",
                {"query": f"tm.event='NewBlock' AND committee_elected.epoch = {index}"},
            )
        assert call(ws, 20, "subscribe", {"query": "tm.event='Tx'"})["error"]["data"] == (
            "max_subscriptions_per_client 5 reached"
        )
        call(ws, 21, "unsubscribe_all")
        assert call(ws, 22, "unsubscribe_all")["error"]["data"] == "subscription not found"
        ws.send("{oops")
        assert receive(ws)["error"]["code"] == -32700


def test_ordinary_methods_over_websocket(live_chain: RpcChain) -> None:
    with websocket(live_chain) as ws:
        status = call(ws, "s", "status")
        assert status["result"]["sync_info"]["latest_block_height"] == "2"
        assert call(ws, 9, "block", {"height": "7"})["error"]["data"] == (
            "height 7 must be less than or equal to the current blockchain height 2"
        )
        assert call(ws, 10, "nope")["error"] == {"code": -32601, "message": "Method not found"}


def test_websocket_outage_drops_subscriptions_and_refuses_sockets_while_http_answers(
    live_chain: RpcChain,
) -> None:
    with websocket(live_chain) as ws:
        assert call(ws, 1, "subscribe", {"query": "tm.event='NewBlockHeader'"})["result"] == {}
        live_chain.server.set_websocket_outage(True)
        try:
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=RECEIVE_TIMEOUT_S)
            with pytest.raises(InvalidStatus):
                connect(live_chain.server.ws_url, open_timeout=RECEIVE_TIMEOUT_S)
            assert live_chain.http.get("/status").json()["result"]["sync_info"]["latest_block_height"] == "2"
        finally:
            live_chain.server.set_websocket_outage(False)
    with websocket(live_chain) as ws:
        assert call(ws, 2, "subscribe", {"query": "tm.event='NewBlockHeader'"})["result"] == {}
        (block,) = grow(live_chain.store, 1)
        assert receive(ws)["result"]["data"]["value"]["header"]["height"] == str(block.height)


def _event_height(result: dict[str, Any]) -> int:
    value = result["data"]["value"]
    if "TxResult" in value:
        return int(value["TxResult"]["height"])
    return int(value["block"]["header"]["height"])


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # The live chain grows to heights 3..9; a transaction on even heights, committee_elected
        # (epoch = height) in every block's begin-block. One case per CometBFT 0.37 query operator.
        ("tm.event = 'Tx' AND tx.height > 5", [6, 8]),
        ("tm.event = 'Tx' AND tx.height >= 6", [6, 8]),
        ("tm.event = 'Tx' AND tx.height < 6", [4]),
        ("tm.event = 'Tx' AND tx.height <= 6", [4, 6]),
        ("tm.event = 'Tx' AND tx.height = 6", [6]),
        ("tm.event = 'Tx' AND reward_claim_submitted.claim_id CONTAINS '0008'", [8]),
        ("tm.event = 'Tx' AND reward_claim_submitted.claim_id EXISTS", [4, 6, 8]),
        ("tm.event = 'Tx' AND message.action = '/exocore.avs.v1.MsgSubmitRewardClaim'", [4, 6, 8]),
        # Numeric comparison of an attribute value, then the same value compared as a string.
        ("tm.event = 'NewBlock' AND committee_elected.epoch > 6", [7, 8]),
        ("tm.event = 'NewBlock' AND committee_elected.epoch = '7'", [7]),
        ("tm.event = 'NewBlock' AND committee_elected.avs = '0x" + "11" * 20 + "'", [3, 4, 5, 6, 7, 8]),
        ("tm.event = 'NewBlock' AND nothing.here EXISTS", []),
    ],
)
def test_subscription_query_operators(live_chain: RpcChain, query: str, expected: list[int]) -> None:
    last = 8
    with websocket(live_chain) as ws:
        assert "result" in call(ws, "q", "subscribe", {"query": query})
        # The sentinel's NewBlock for last + 1 is published after every event of block `last`.
        assert "result" in call(ws, "all", "subscribe", {"query": "tm.event = 'NewBlock'"})
        grow(live_chain.store, last + 1 - 2)
        matched: list[int] = []
        while True:
            message = receive(ws)
            height = _event_height(message["result"])
            if message["id"] == "all":
                if height == last + 1:
                    break
                continue
            assert message["result"]["query"] == query
            matched.append(height)
    assert [h for h in matched if h <= last] == expected
