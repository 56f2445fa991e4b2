"""L1Client against a real anvil: helpers, chain id check, failover on refused / silent / garbage
endpoints, JSON-RPC errors that must not fail over."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator

import httpx
import pytest
from eth_account import Account
from eth_typing import HexStr
from web3 import Web3

from relayer.config import ExorelayConfig, L1Config
from relayer.endpoints import EndpointState, Failure
from relayer.errors import ConfigError, L1RpcError
from relayer.l1.client import DEFAULT_PRIORITY_FEE_WEI, FINALIZED_FALLBACK_DEPTH_BLOCKS, L1Client
from relayer.l1.errors import (
    ChainIdMismatchError,
    ExecutionRevertedError,
    L1AllEndpointsFailedError,
    L1ResponseError,
)
from tests.support.l1_contracts import System
from tests.support.txmanager import SilentServer, dead_url


class _Garbage(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(b"<html>502 bad gateway</html>")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def garbage_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Garbage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class _NoTipProxy(http.server.BaseHTTPRequestHandler):
    """A node without ``eth_maxPriorityFeePerGas`` (method not found); everything else goes to anvil."""

    upstream = ""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = json.loads(body)
        if request["method"] == "eth_maxPriorityFeePerGas":
            error = {"code": -32601, "message": "the method eth_maxPriorityFeePerGas does not exist"}
            answer = json.dumps({"jsonrpc": "2.0", "id": request["id"], "error": error}).encode()
        else:
            answer = httpx.post(
                self.upstream, content=body, headers={"Content-Type": "application/json"}
            ).content
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def no_tip_url(system: System) -> Iterator[str]:
    handler = type("Handler", (_NoTipProxy,), {"upstream": system.node.rpc_url})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_method_not_found_fails_over_then_defaults(system: System, no_tip_url: str) -> None:
    client = client_for(system, no_tip_url, system.node.rpc_url)
    assert client.block_number() == system.w3.eth.block_number  # served by the proxy
    assert client.failover_count == 0
    assert client.priority_fee() == system.w3.eth.max_priority_fee  # failed over to anvil for this one
    assert client.failover_count == 1 and client.active_url == system.node.rpc_url
    only_proxy = client_for(system, no_tip_url)
    assert only_proxy.priority_fee() == DEFAULT_PRIORITY_FEE_WEI  # nobody serves it: the documented default


FAILOVER_TIMEOUT_S = 2.0
"""Per-call timeout where a never-answering endpoint precedes anvil: paid once, ample for anvil."""
RECEIPT_WAIT_S = 60.0
"""Bounds a hang only: the block is mined within milliseconds on an idle machine, later on a busy one."""


def client_for(system: System, *urls: str, timeout_s: float = 5.0) -> L1Client:
    return L1Client(
        list(urls) or [system.node.rpc_url], chain_id=system.deployment.chain_id, timeout_s=timeout_s
    )


def test_helpers(system: System) -> None:
    client = client_for(system)
    client.check_chain_id()
    w3 = system.w3
    head = client.block_number()
    assert head == w3.eth.block_number
    assert client.block_hash(head) == "0x" + w3.eth.get_block(head)["hash"].hex()
    assert client.block_hash(head + 10) is None
    sender = system.accounts[0]
    assert client.nonce(sender, "latest") == w3.eth.get_transaction_count(sender)
    assert client.nonce(sender, "pending") == w3.eth.get_transaction_count(sender, "pending")
    assert client.balance(sender) == w3.eth.get_balance(sender)
    base, tip = client.fee_market()
    assert base == w3.eth.get_block("latest")["baseFeePerGas"] and tip > 0
    assert client.get_receipt("0x" + "11" * 32) is None
    assert client.get_code(system.deployment.gateway) and not client.get_code(sender)
    assert client.call(lambda web3: web3.eth.chain_id) == system.deployment.chain_id
    # anvil's finalized tag trails the head by 64 blocks
    system.node.rpc("anvil_mine", [hex(100)])
    head = client.block_number()
    assert client.finalized_block_number() == head - FINALIZED_FALLBACK_DEPTH_BLOCKS


def test_receipt_and_revert_data(system: System) -> None:
    client = client_for(system)
    account = Account.from_key(system.node.dev_accounts()[7].private_key)
    signed = account.sign_transaction(
        {"to": system.accounts[1], "value": 1, "nonce": client.nonce(account.address), "gas": 21000,
         "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9, "chainId": system.deployment.chain_id}
    )  # fmt: skip
    tx_hash = client.send_raw_transaction(bytes(signed.raw_transaction))
    assert tx_hash == "0x" + bytes(signed.hash).hex()
    # anvil mines an automined tx in a task of its own, after answering: wait for it, then read it
    system.w3.eth.wait_for_transaction_receipt(HexStr(tx_hash), timeout=RECEIPT_WAIT_S)
    receipt = client.get_receipt(tx_hash)
    assert receipt is not None and receipt.succeeded and receipt.gas_used == 21000
    assert receipt.block_hash == client.block_hash(receipt.block_number)
    # a JSON-RPC refusal is an answer: raised as such, and not failed over
    with pytest.raises(L1ResponseError, match="nonce too low"):
        client.send_raw_transaction(bytes(signed.raw_transaction))  # already mined
    # currentValsetNonce() with a bogus selector: the gateway reverts with empty data
    with pytest.raises(ExecutionRevertedError) as info:
        client.eth_call(to=system.deployment.gateway, data=b"\xde\xad\xbe\xef")
    assert info.value.revert_data == b""
    assert client.failover_count == 0


def test_failover_to_second_endpoint(system: System) -> None:
    dead = dead_url()
    client = client_for(system, dead, system.node.rpc_url)
    assert client.active_url == dead
    assert client.block_number() == system.w3.eth.block_number
    assert client.active_url == system.node.rpc_url
    assert client.failover_count == 1
    # sticky: the working endpoint stays active, no further failovers
    client.block_number()
    assert client.failover_count == 1


def test_failover_on_timeout_and_garbage(
    system: System, silent_server: SilentServer, garbage_url: str
) -> None:
    # The silent server never answers, so the timeout decides nothing but how long it is waited for;
    # it must leave anvil ample time to answer on a loaded machine.
    urls = (silent_server.url, garbage_url, system.node.rpc_url)
    client = client_for(system, *urls, timeout_s=FAILOVER_TIMEOUT_S)
    assert client.block_number() == system.w3.eth.block_number
    assert client.active_url == system.node.rpc_url
    assert client.failover_count == 1


def test_all_endpoints_failing(silent_server: SilentServer) -> None:
    dead = dead_url()
    client = L1Client([dead, silent_server.url], chain_id=31337, timeout_s=0.2)
    with pytest.raises(L1AllEndpointsFailedError) as info:
        client.block_number()
    assert isinstance(info.value, L1RpcError) and isinstance(info.value, ConnectionError)
    assert set(info.value.failures) == {dead, silent_server.url}
    with pytest.raises(L1AllEndpointsFailedError):
        client.check_chain_id()


def test_chain_id_mismatch(system: System) -> None:
    client = L1Client([dead_url(), system.node.rpc_url], chain_id=1, timeout_s=2)
    with pytest.raises(ChainIdMismatchError, match="31337") as info:
        client.check_chain_id()
    assert isinstance(info.value, ConfigError)


def test_an_endpoint_of_another_chain_is_refused_not_retried(system: System) -> None:
    dead = dead_url()
    client = L1Client([system.node.rpc_url, dead], chain_id=1, timeout_s=2)
    with pytest.raises(ChainIdMismatchError):
        client.check_chain_id()
    # The node answers any call, but it serves chain 31337: it is never asked again.
    with pytest.raises(L1AllEndpointsFailedError) as info:
        client.block_number()
    assert info.value.failures[system.node.rpc_url] == "serves chain id 31337"
    assert dead in info.value.failures
    refused, cooling = client.endpoint_health()
    assert refused.state is EndpointState.REFUSED and refused.last_failure is Failure.WRONG_CHAIN
    assert cooling.state is EndpointState.COOLING and cooling.last_failure is Failure.TRANSPORT


def test_from_config_and_validation(system: System) -> None:
    config = ExorelayConfig(
        l1=L1Config.model_validate(
            {"rpc_urls": [system.node.rpc_url], "chain_id": 31337, "request_timeout_s": 3}
        )
    )
    client = L1Client.from_config(config)
    assert client.chain_id == 31337 and client.timeout_s == 3
    assert client.block_number() >= 0
    with pytest.raises(ConfigError):
        L1Client([], chain_id=1, timeout_s=1)
    assert Web3.is_checksum_address(system.accounts[0])
