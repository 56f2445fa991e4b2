"""CometRpcClient over real sockets: devnet answers, failover, and endpoints that hang or lie."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from devnet.chain.blockstore import BlockStore
from relayer.endpoints import EndpointState, Failure
from relayer.errors import ExocoreRpcError, ProtocolError
from relayer.exocore import rpc as rpc_module
from relayer.exocore.errors import (
    AllEndpointsFailedError,
    ChainMismatchError,
    EndpointLaggingError,
    EndpointUnavailableError,
    ExocoreTimeoutError,
    HeightNotAvailableError,
    HeightPrunedError,
    InconsistentResponseError,
    MalformedResponseError,
    MethodNotFoundError,
    RpcResponseError,
)
from relayer.exocore.rpc import CometRpcClient, parse_rfc3339_nano, websocket_url
from tests.relayer.exocore.servers import (
    Reply,
    ScriptedServer,
    TamperingProxy,
    closed_port_url,
    rpc_error_reply,
    rpc_reply,
)
from tests.support.devnet_chain import CHAIN_ID, GENESIS_TIME_NS, VALIDATORS, grow
from tests.support.devnet_rpc import INITIAL_BLOCKS, DevnetRpc, serve

TIMEOUT_S = 2.0
"""Per-call timeout of the hanging-endpoint tests: what each of them waits once, and the time a live
devnet endpoint has to answer beside a hanging one, ample on a loaded two-core machine. The hanging
servers never answer and the trickling one needs ~5x this, so no outcome depends on timing."""
TRICKLE_S = 0.25
"""Seconds between body bytes: each read is quick, the whole body (~40 bytes) far slower than TIMEOUT_S."""


def client(*urls: str, timeout_s: float = 5.0) -> CometRpcClient:
    return CometRpcClient(list(urls), chain_id=CHAIN_ID, timeout_s=timeout_s)


def expect_error(error: type[Exception], match: str, call: Callable[..., object], *args: object) -> None:
    with pytest.raises(error, match=match):
        call(*args)


@pytest.fixture
def other_chain() -> Iterator[DevnetRpc]:
    store = BlockStore("othernet_9000-1")
    grow(store, 3)
    yield from serve(store)


# -- honest node -----------------------------------------------------------------------------------


def test_status_reports_the_devnet_tip(devnet: DevnetRpc) -> None:
    latest = devnet.store.latest()
    assert latest is not None
    with client(devnet.url) as rpc:
        status = rpc.status()
    assert status.chain_id == CHAIN_ID
    assert status.latest_height == INITIAL_BLOCKS
    assert status.latest_block_hash == latest.hash
    assert status.latest_block_time_ns == latest.time_ns
    assert status.earliest_height == 1
    assert status.version == "0.37.4"
    assert not status.catching_up


def test_committed_blocks_match_the_store(devnet: DevnetRpc) -> None:
    with client(devnet.url) as rpc:
        blocks = rpc.committed_blocks(1, INITIAL_BLOCKS)
    assert [b.height for b in blocks] == list(range(1, INITIAL_BLOCKS + 1))
    for committed in blocks:
        stored = devnet.store.get(committed.height)
        assert stored is not None
        assert committed.hash == stored.hash
        assert committed.time_ns == stored.time_ns
        assert committed.block.txs == stored.txs
        assert committed.block.tx_hashes == stored.tx_hashes
        assert committed.block.header.app_hash == stored.app_hash
        assert committed.block.header.proposer_address == stored.proposer_address
        assert committed.results.height == committed.height
        begin = committed.results.begin_block_events
        assert [(e.type, [(a.key, a.value) for a in e.attributes]) for e in begin] == [
            ("committee_elected", [("avs", "0x" + "11" * 20), ("epoch", str(committed.height))])
        ]
    second = blocks[1]
    assert second.block.header.last_block_hash == blocks[0].hash
    (tx,) = second.results.txs_results
    assert (tx.code, tx.gas_wanted, tx.gas_used, tx.ok) == (0, 200_000, 81_234, True)
    assert [e.type for e in tx.events] == ["message", "reward_claim_submitted"]
    # omitempty: an empty attribute value arrives as a missing field and is read back as "".
    assert tx.events[1].attributes[1].key == "avs" and tx.events[1].attributes[1].value == ""


def test_single_block_and_results_calls(devnet: DevnetRpc) -> None:
    with client(devnet.url) as rpc:
        block = rpc.block(4)
        results = rpc.block_results(4)
        committed = rpc.committed_block(4)
    assert block == committed.block
    assert results == committed.results
    assert block.header.chain_id == CHAIN_ID


def test_batch_returns_the_committed_prefix_when_the_range_passes_the_tip(devnet: DevnetRpc) -> None:
    with client(devnet.url) as rpc:
        blocks = rpc.committed_blocks(5, 20)
        assert [b.height for b in blocks] == [5, 6]
        with pytest.raises(HeightNotAvailableError) as raised:
            rpc.committed_blocks(7, 9)
    assert (raised.value.requested, raised.value.latest) == (7, INITIAL_BLOCKS)
    assert isinstance(raised.value, ExocoreRpcError)


def test_height_not_available_is_typed_and_not_failed_over(devnet: DevnetRpc) -> None:
    with client(devnet.url, devnet.url + "/") as rpc:
        with pytest.raises(HeightNotAvailableError) as raised:
            rpc.block(99)
        assert raised.value.requested == 99 and raised.value.latest == INITIAL_BLOCKS
        assert rpc.failover_count == 0


def test_validators_join_pages(devnet: DevnetRpc, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rpc_module, "VALIDATORS_PER_PAGE", 2)
    with client(devnet.url) as rpc:
        valset = rpc.validators(3)
    assert valset.height == 3
    assert [v.pub_key for v in valset.validators] == [v.pub_key for v in VALIDATORS]
    assert [v.address for v in valset.validators] == [v.address for v in VALIDATORS]
    assert valset.total_power == 60
    assert all(v.pub_key_type == "tendermint/PubKeyEd25519" for v in valset.validators)


def test_health_answers_only_for_a_node_of_the_right_chain(devnet: DevnetRpc, other_chain: DevnetRpc) -> None:
    with client(devnet.url) as rpc:
        rpc.health()
        assert rpc.failover_count == 0
    with client(closed_port_url(), devnet.url) as rpc:
        rpc.health()  # the refused endpoint is skipped: health is the first answering right-chain node's
        assert rpc.failover_count == 1
    with client(closed_port_url()) as rpc, pytest.raises(EndpointUnavailableError):
        rpc.health()
    with client(other_chain.url) as rpc, pytest.raises(ChainMismatchError):
        rpc.health()


def test_rfc3339_and_websocket_url_known_answers() -> None:
    assert parse_rfc3339_nano("2023-11-14T22:13:20.123456789Z") == GENESIS_TIME_NS
    assert parse_rfc3339_nano("2023-11-14T22:13:20Z") == 1_700_000_000_000_000_000
    assert parse_rfc3339_nano("2023-11-14T22:13:20.5Z") == 1_700_000_000_500_000_000
    assert parse_rfc3339_nano("1970-01-01T00:00:00Z") == 0
    for bad in ("2023-11-14T22:13:20+01:00", "2023-13-14T22:13:20Z", "yesterday"):
        with pytest.raises(MalformedResponseError):
            parse_rfc3339_nano(bad)
    assert websocket_url("http://127.0.0.1:26657") == "ws://127.0.0.1:26657/websocket"
    assert websocket_url("https://rpc.example.org/exocore/") == "wss://rpc.example.org/exocore/websocket"


def test_constructor_rejects_bad_configuration() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        CometRpcClient([], chain_id=CHAIN_ID)
    with pytest.raises(ValueError, match="duplicate"):
        CometRpcClient(["http://a", "http://a"], chain_id=CHAIN_ID)
    with pytest.raises(ValueError, match="chain_id"):
        CometRpcClient(["http://a"], chain_id="")
    with client("http://a") as rpc, pytest.raises(ValueError, match="height"):
        rpc.block(0)


# -- failover --------------------------------------------------------------------------------------


def test_failover_from_a_dead_endpoint_is_sticky(devnet: DevnetRpc) -> None:
    dead = closed_port_url()
    with client(dead, devnet.url) as rpc:
        assert rpc.block(2).height == 2
        assert rpc.active_endpoint == devnet.url
        assert rpc.failover_count == 1
        assert rpc.block(3).height == 3  # sticky: the dead endpoint is not retried first
        dead_stats, live_stats = rpc.endpoint_stats()
    assert dead_stats.failures == 1 and dead_stats.last_error is not None
    assert "EndpointUnavailableError" in dead_stats.last_error
    assert live_stats.chain_verified and live_stats.failures == 0


def test_failover_from_a_hanging_endpoint_within_the_timeout(devnet: DevnetRpc) -> None:
    hanging = ScriptedServer(lambda request: Reply(hang=True))
    with hanging, client(hanging.url, devnet.url, timeout_s=TIMEOUT_S) as rpc:
        assert rpc.status().latest_height == INITIAL_BLOCKS
        assert len(hanging.requests) == 1  # given up once, then the live endpoint answered
        assert rpc.active_endpoint == devnet.url
        assert "ExocoreTimeoutError" in (rpc.endpoint_stats()[0].last_error or "")


def test_a_hanging_single_endpoint_raises_a_timeout() -> None:
    hanging = ScriptedServer(lambda request: Reply(hang=True))
    with hanging, client(hanging.url, timeout_s=TIMEOUT_S) as rpc, pytest.raises(ExocoreTimeoutError):
        rpc.status()


def test_a_trickling_body_hits_the_whole_call_deadline() -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "result": {}}).encode()
    # Every byte arrives well within the timeout, so only a deadline on the whole call can end it
    # before the body is complete (which would be a successful health check, failing the test).
    slow = ScriptedServer(lambda request: Reply(body=body, trickle_s=TRICKLE_S))
    assert len(body) * TRICKLE_S > 4 * TIMEOUT_S
    with slow, client(slow.url, timeout_s=TIMEOUT_S) as rpc, pytest.raises(ExocoreTimeoutError):
        rpc.health()


def test_every_endpoint_failing_reports_each_error(devnet: DevnetRpc) -> None:
    dead = closed_port_url()
    garbage = ScriptedServer(lambda request: Reply(body=b"<html>not json</html>"))
    with garbage, client(dead, garbage.url) as rpc, pytest.raises(AllEndpointsFailedError) as raised:
        rpc.status()
    failures = raised.value.failures
    assert isinstance(failures[dead], EndpointUnavailableError)
    assert isinstance(failures[garbage.url], MalformedResponseError)
    assert isinstance(raised.value, ExocoreRpcError)


def test_an_outage_503_fails_over_and_back(devnet: DevnetRpc) -> None:
    store = devnet.store
    with client(devnet.url) as rpc:
        devnet.server.set_outage(True)
        with pytest.raises(EndpointUnavailableError, match="503"):
            rpc.status()
        devnet.server.set_outage(False)
        assert rpc.status().latest_height == store.latest_height


def test_an_endpoint_on_another_chain_is_refused(devnet: DevnetRpc, other_chain: DevnetRpc) -> None:
    with client(other_chain.url, devnet.url) as rpc:
        assert rpc.block(1).header.chain_id == CHAIN_ID
        assert rpc.active_endpoint == devnet.url
        refused = rpc.endpoint_stats()[0]
        assert not refused.chain_verified
        assert "ChainMismatchError" in (refused.last_error or "")
    with client(other_chain.url) as rpc, pytest.raises(ChainMismatchError, match="othernet_9000-1"):
        rpc.block(1)


def test_an_endpoint_on_another_chain_is_not_tried_again(devnet: DevnetRpc, other_chain: DevnetRpc) -> None:
    with client(other_chain.url, devnet.url) as rpc:
        assert rpc.block(1).height == 1
        calls = rpc.endpoint_stats()[0].calls
        devnet.server.set_outage(True)
        try:
            with pytest.raises(AllEndpointsFailedError) as raised:
                rpc.status()
        finally:
            devnet.server.set_outage(False)
        # The wrong-chain endpoint is refused for good: even with no other endpoint up it is not asked.
        assert rpc.endpoint_stats()[0].calls == calls
        assert isinstance(raised.value.failures[other_chain.url], ChainMismatchError)
        assert isinstance(raised.value.failures[devnet.url], EndpointUnavailableError)
        refused, cooling = rpc.endpoint_health()
        assert refused.state is EndpointState.REFUSED and refused.last_failure is Failure.WRONG_CHAIN
        assert cooling.state is EndpointState.COOLING and cooling.last_failure is Failure.TRANSPORT
        assert rpc.status().chain_id == CHAIN_ID  # the cooling endpoint is still tried: nothing else is left


def test_a_block_header_from_another_chain_is_refused(devnet: DevnetRpc) -> None:
    def tamper(method: str, params: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
        if method == "block":
            answer["result"]["block"]["header"]["chain_id"] = "othernet_9000-1"
        return answer

    with TamperingProxy(devnet.url, tamper) as proxy, client(proxy.url) as rpc:
        expect_error(ChainMismatchError, "othernet", rpc.block, 2)


# -- lying endpoints -------------------------------------------------------------------------------


def test_block_results_for_another_height(devnet: DevnetRpc) -> None:
    def tamper(method: str, params: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
        if method == "block_results":
            answer["result"]["height"] = "1"
        return answer

    with TamperingProxy(devnet.url, tamper) as proxy:
        with client(proxy.url) as rpc:
            with pytest.raises(InconsistentResponseError, match="asked for block_results 3, got height 1"):
                rpc.block_results(3)
            with pytest.raises(InconsistentResponseError):
                rpc.committed_blocks(2, 4)
        # With an honest second endpoint the lie costs a failover, not the call.
        with client(proxy.url, devnet.url) as rpc:
            assert [b.height for b in rpc.committed_blocks(2, 4)] == [2, 3, 4]
            assert rpc.active_endpoint == devnet.url


def test_a_block_for_another_height(devnet: DevnetRpc) -> None:
    def tamper(method: str, params: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
        if method == "block":
            answer["result"]["block"]["header"]["height"] = "5"
        return answer

    with TamperingProxy(devnet.url, tamper) as proxy, client(proxy.url) as rpc:
        expect_error(InconsistentResponseError, "asked for block 4, got block 5", rpc.block, 4)


def test_a_block_hash_that_changes_on_re_read(devnet: DevnetRpc) -> None:
    calls = {"block": 0}

    def tamper(method: str, params: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
        if method == "block":
            calls["block"] += 1
            if calls["block"] > 1:
                answer["result"]["block_id"]["hash"] = "AB" * 32
        return answer

    with TamperingProxy(devnet.url, tamper) as proxy, client(proxy.url) as rpc:
        first = rpc.block(3)
        with pytest.raises(InconsistentResponseError, match="now has hash"):
            rpc.block(3)
    assert first.hash == devnet.store.get(3).hash  # type: ignore[union-attr]


def test_a_broken_parent_link(devnet: DevnetRpc) -> None:
    def tamper(method: str, params: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
        if method == "block" and params.get("height") == "4":
            answer["result"]["block"]["header"]["last_block_id"]["hash"] = "CD" * 32
        return answer

    with TamperingProxy(devnet.url, tamper) as proxy:
        with client(proxy.url) as rpc:
            expect_error(InconsistentResponseError, "points at parent", rpc.committed_blocks, 2, 5)
        with client(proxy.url, devnet.url) as rpc:
            assert [b.height for b in rpc.committed_blocks(2, 5)] == [2, 3, 4, 5]
            assert rpc.active_endpoint == devnet.url


def test_tx_count_mismatch_between_block_and_results(devnet: DevnetRpc) -> None:
    def tamper(method: str, params: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
        if method == "block_results":
            answer["result"]["txs_results"] = None
        return answer

    with TamperingProxy(devnet.url, tamper) as proxy, client(proxy.url) as rpc:
        assert len(rpc.committed_blocks(3, 3)) == 1  # height 3 has no tx: consistent
        with pytest.raises(InconsistentResponseError, match="1 txs but block_results has 0"):
            rpc.committed_blocks(4, 4)


def test_latest_height_going_backwards_on_one_endpoint(devnet: DevnetRpc) -> None:
    heights = iter(["6", "4"])

    def tamper(method: str, params: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
        if method == "status":
            answer["result"]["sync_info"]["latest_block_height"] = next(heights)
        return answer

    with TamperingProxy(devnet.url, tamper) as proxy, client(proxy.url) as rpc:
        assert rpc.status().latest_height == 6
        with pytest.raises(InconsistentResponseError, match="went backwards from 6 to 4"):
            rpc.status()


def test_a_lagging_endpoint_is_failed_over(devnet: DevnetRpc) -> None:
    status_at_1 = {
        "node_info": {"network": CHAIN_ID},
        "sync_info": {
            "latest_block_height": "1",
            "latest_block_hash": "AA" * 32,
            "latest_block_time": "2023-11-14T22:13:20Z",
        },
    }
    lagging = ScriptedServer(lambda request: rpc_reply(request, status_at_1))
    grow(devnet.store, rpc_module.LAGGING_ENDPOINT_TOLERANCE_BLOCKS + 5)
    with lagging, client(devnet.url, lagging.url) as rpc:
        tip = rpc.status().latest_height
        devnet.server.set_outage(True)
        with pytest.raises(AllEndpointsFailedError) as raised:
            rpc.status()
        assert isinstance(raised.value.failures[lagging.url], EndpointLaggingError)
        assert rpc.highest_seen_height == tip


def test_garbage_json_and_wrong_envelopes_are_malformed() -> None:
    answers: list[Reply] = []
    server = ScriptedServer(lambda request: answers.pop(0))
    deeply_nested = b"[" * 100_000 + b"]" * 100_000
    cases = [
        Reply(body=b"{not json"),
        Reply(body=deeply_nested),
        Reply(body=b'{"jsonrpc": "1.0", "id": 1, "result": {}}'),
        Reply(body=b'{"jsonrpc": "2.0", "id": 424242, "result": {}}'),
        Reply(body=b'{"jsonrpc": "2.0", "id": 1}'),
        Reply(body=b"[]"),
        Reply(status=404, body=b"404 page not found"),
    ]
    with server, client(server.url) as rpc:
        for case in cases:
            answers.append(case)
            with pytest.raises(MalformedResponseError) as raised:
                rpc.health()
            assert isinstance(raised.value, ProtocolError)
            assert raised.value.endpoint == server.url


def test_malformed_fields_in_a_result() -> None:
    results: list[Any] = []
    server = ScriptedServer(lambda request: rpc_reply(request, results.pop(0)))  # status, then block
    good_block = {
        "block_id": {"hash": "AA" * 32, "parts": {"total": 1, "hash": "BB" * 32}},
        "block": {
            "header": {
                "chain_id": CHAIN_ID,
                "height": "2",
                "time": "2023-11-14T22:13:20Z",
                "last_block_id": {"hash": "", "parts": {"total": 0, "hash": ""}},
                "proposer_address": "11" * 20,
            },
            "data": {"txs": None},
        },
    }

    def variant(path: list[str], value: Any) -> Any:
        copy = json.loads(json.dumps(good_block))
        target = copy
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        return copy

    bad = [
        variant(["block_id", "hash"], "zz"),
        variant(["block_id", "hash"], "AA" * 31),
        variant(["block", "header", "height"], 2.5),
        variant(["block", "header", "height"], "-3"),
        variant(["block", "header", "height"], True),
        variant(["block", "header", "time"], "noon"),
        variant(["block", "header", "proposer_address"], "11" * 19),
        variant(["block", "data", "txs"], ["!!not base64!!"]),
        variant(["block", "data"], "nope"),
        variant(["block"], None),
    ]
    with server, client(server.url) as rpc:
        results.append({"node_info": {"network": CHAIN_ID}, "sync_info": {"latest_block_height": "9"}})
        with pytest.raises(MalformedResponseError, match="latest_block_hash"):
            rpc.status()  # a non-zero height needs a 32-byte hash
        for result in bad:
            results[:] = [
                {
                    "node_info": {"network": CHAIN_ID},
                    "sync_info": {"latest_block_height": "0", "latest_block_hash": ""},
                },
                result,
            ]
            with pytest.raises(MalformedResponseError):
                rpc.block(2)
        results[:] = [
            {"node_info": {"network": CHAIN_ID}, "sync_info": {"latest_block_height": "0"}},
            good_block,
        ]
        assert rpc.block(2).hash == bytes.fromhex("AA" * 32)


SCRIPTED_STATUS = {
    "node_info": {"network": CHAIN_ID},
    "sync_info": {
        "latest_block_height": "10",
        "latest_block_hash": "AA" * 32,
        "latest_block_time": "2023-11-14T22:13:20Z",
    },
}


def answer_status_then(handler: Any) -> Any:
    """A scripted node: ``status`` says the right chain, every other method goes to ``handler``."""

    def dispatch(request: Any) -> Reply:
        if isinstance(request, dict) and request.get("method") == "status":
            return rpc_reply(request, SCRIPTED_STATUS)
        reply: Reply = handler(request)
        return reply

    return dispatch


def test_json_rpc_errors_are_typed() -> None:
    replies = iter(
        [
            (-32601, "Method not found", ""),
            (-32603, "Internal error", "height 3 is not available, lowest height is 40"),
            (-32603, "Internal error", "could not find results for height #3"),
            (-32602, "Invalid params", "error converting json params to arguments"),
        ]
    )
    server = ScriptedServer(answer_status_then(lambda request: rpc_error_reply(request, *next(replies))))
    with server, client(server.url) as rpc:
        with pytest.raises(MethodNotFoundError):
            rpc.block(3)
        with pytest.raises(HeightPrunedError) as pruned:
            rpc.block(3)
        assert (pruned.value.requested, pruned.value.lowest) == (3, 40)
        with pytest.raises(HeightPrunedError) as discarded:
            rpc.block_results(3)
        assert discarded.value.lowest is None
        with pytest.raises(RpcResponseError) as other:
            rpc.block(3)
        assert type(other.value) is RpcResponseError and other.value.code == -32602
        assert "error converting json params" in str(other.value)


def test_a_pruned_node_fails_over_to_an_archive_node(devnet: DevnetRpc) -> None:
    def pruned(method: str, params: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
        if method == "block":
            return {
                "jsonrpc": "2.0",
                "id": answer["id"],
                "error": {
                    "code": -32603,
                    "message": "Internal error",
                    "data": "height 2 is not available, lowest height is 5",
                },
            }
        return answer

    with TamperingProxy(devnet.url, pruned) as proxy, client(proxy.url, devnet.url) as rpc:
        assert rpc.block(2).height == 2
        assert rpc.active_endpoint == devnet.url


def test_an_oversized_response_is_refused(devnet: DevnetRpc, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rpc_module, "MAX_RESPONSE_BYTES", 512)
    with client(devnet.url) as rpc, pytest.raises(MalformedResponseError, match="larger than 512"):
        rpc.block(2)


def test_a_batch_answer_with_missing_or_repeated_ids() -> None:
    def drop_one(body: Any) -> Reply:
        return Reply(body=json.dumps([{"jsonrpc": "2.0", "id": body[0]["id"], "result": {}}]).encode())

    def repeat_one(body: Any) -> Reply:
        entry = {"jsonrpc": "2.0", "id": body[0]["id"], "result": {}}
        return Reply(body=json.dumps([entry, entry]).encode())

    for handler, message in ((drop_one, "do not match"), (repeat_one, "repeats id")):
        with ScriptedServer(answer_status_then(handler)) as server, client(server.url) as rpc:
            expect_error(MalformedResponseError, message, rpc.committed_blocks, 1, 1)


def test_missing_results_at_the_tip_mean_not_yet_available(devnet: DevnetRpc) -> None:
    """CometBFT saves a block before its results: the newest block_results can briefly be missing."""

    def results_missing(method: str, params: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
        if method == "block_results" and params.get("height") in ("3", str(INITIAL_BLOCKS)):
            error = {
                "code": -32603,
                "message": "Internal error",
                "data": "could not find results for height #",
            }
            error["data"] += params["height"]
            return {"jsonrpc": "2.0", "id": answer["id"], "error": error}
        return answer

    with TamperingProxy(devnet.url, results_missing) as proxy, client(proxy.url, devnet.url) as rpc:
        assert [b.height for b in rpc.committed_blocks(INITIAL_BLOCKS - 1, INITIAL_BLOCKS)] == [
            INITIAL_BLOCKS - 1
        ]
        with pytest.raises(HeightNotAvailableError) as raised:
            rpc.block_results(INITIAL_BLOCKS)
        assert raised.value.requested == INITIAL_BLOCKS
        assert rpc.failover_count == 0
        # Below the tip the results were discarded: another node may still have them.
        assert rpc.block_results(3).height == 3
        assert rpc.active_endpoint == devnet.url


def test_batches_follow_the_node_max_request_batch_size(devnet: DevnetRpc) -> None:
    """A node with ``max_request_batch_size = 3`` refuses larger batches the way CometBFT does."""
    limit = 3
    upstream = httpx.Client(timeout=10)
    sizes: list[int] = []

    def limited(body: Any) -> Reply:
        if isinstance(body, list):
            sizes.append(len(body))
            if len(body) > limit:
                data = f"batch request exceeds maximum ({limit}) allowed number of requests"
                error = {"code": -32600, "message": "Invalid Request", "data": data}
                return Reply(body=json.dumps({"jsonrpc": "2.0", "error": error}).encode())
        return Reply(body=upstream.post(devnet.url, json=body).content)

    with ScriptedServer(limited) as node, client(node.url) as rpc:
        assert rpc.max_batch_calls == rpc_module.MAX_BATCH_CALLS
        assert [b.height for b in rpc.committed_blocks(1, INITIAL_BLOCKS)] == list(
            range(1, INITIAL_BLOCKS + 1)
        )
        assert rpc.max_batch_calls == limit and rpc.failover_count == 0
    upstream.close()
    assert sizes[0] == rpc_module.MAX_BATCH_CALLS and set(sizes[1:]) <= {1, 2, 3}
    assert sum(sizes[1:]) == 2 * INITIAL_BLOCKS
