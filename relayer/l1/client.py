"""L1 JSON-RPC client: several endpoints, a per-call timeout, failover on transport faults.

One :class:`L1Client` wraps one ``web3.HTTPProvider`` per configured URL. The order in which a call
tries them, cooldowns and refusal are the shared policy of :class:`relayer.endpoints.EndpointPool`;
when an endpoint cannot be reached in time (refused, reset, timeout, HTTP error, an answer that is
not JSON-RPC) the same call is tried on the next endpoint. When every endpoint failed,
:class:`~relayer.l1.errors.L1AllEndpointsFailedError` is raised. An endpoint whose ``eth_chainId`` is
not ``l1.chain_id`` (:meth:`L1Client.check_chain_id`) is refused for good.

A JSON-RPC *error object* is an answer, not a transport fault: it is raised as
:class:`~relayer.l1.errors.L1ResponseError` (or :class:`~relayer.l1.errors.ExecutionRevertedError`
for a revert) without failing over, because another node of the same chain would refuse the same
request. The only exceptions are "method not found" and "limit exceeded", which are per-node.

The helpers (:meth:`L1Client.block_number`, :meth:`L1Client.get_receipt`, ...) speak raw JSON-RPC
through :meth:`L1Client.request` so that every error is classified here, the same way, whatever web3's
formatters would have done; :meth:`L1Client.call` runs arbitrary web3 code with the same failover.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeVar

from web3 import Web3
from web3.exceptions import (
    BadResponseFormat,
    MethodUnavailable,
    ProviderConnectionError,
    RequestTimedOut,
    TooManyRequests,
    Web3ValueError,
)
from web3.providers.rpc import HTTPProvider
from web3.types import RPCEndpoint

from relayer.config import ExorelayConfig, L1Config
from relayer.endpoints import EndpointHealth, EndpointPool, Failure
from relayer.errors import ConfigError
from relayer.l1.errors import (
    ChainIdMismatchError,
    ExecutionRevertedError,
    L1AllEndpointsFailedError,
    L1EndpointError,
    L1ResponseError,
    MalformedResponseError,
)

logger = logging.getLogger("exorelay.l1.client")

T = TypeVar("T")

BlockTag = Literal["latest", "pending", "safe", "finalized", "earliest"]
BlockId = int | BlockTag

FINALIZED_FALLBACK_DEPTH_BLOCKS: Final = 64
"""Depth treated as final when a node has no ``finalized`` tag (pre-merge clients, some dev chains):
two Ethereum epochs, the usual finality horizon of the beacon chain."""

DEFAULT_PRIORITY_FEE_WEI: Final = 1_000_000_000
"""Tip used when the node cannot suggest one (no ``eth_maxPriorityFeePerGas``): 1 gwei is the common
floor that mainnet builders include and what anvil and geth suggest on an idle chain."""

JSONRPC_METHOD_NOT_FOUND: Final = -32601
JSONRPC_LIMIT_EXCEEDED: Final = -32005
FAILOVER_RPC_CODES: Final = frozenset({JSONRPC_METHOD_NOT_FOUND, JSONRPC_LIMIT_EXCEEDED})
"""JSON-RPC error codes that describe the node, not the request (unsupported method, rate limit):
another endpoint may well serve the same call."""

JSONRPC_EXECUTION_REVERTED: Final = 3
"""Error code geth, anvil, reth and erigon use for a reverted ``eth_call`` / ``eth_estimateGas``."""

_TRANSPORT_ERRORS: Final = (
    OSError,  # requests' errors (refused, reset, timeout, HTTP 4xx/5xx) are OSErrors, as are socket faults
    ProviderConnectionError,
    BadResponseFormat,
    TooManyRequests,
    RequestTimedOut,
    MethodUnavailable,
    L1EndpointError,
)


@dataclass(frozen=True, slots=True)
class BlockHeader:
    number: int
    hash: str
    """0x-hex, lower case."""
    parent_hash: str
    timestamp: int
    base_fee_per_gas: int
    """0 on a chain without EIP-1559."""
    gas_limit: int


@dataclass(frozen=True, slots=True)
class Receipt:
    """The fields of a transaction receipt the relayer uses."""

    tx_hash: str
    status: int
    """1 success, 0 reverted."""
    block_number: int
    block_hash: str
    gas_used: int
    effective_gas_price: int
    log_count: int

    @property
    def succeeded(self) -> bool:
        return self.status == 1


def _hex_int(value: Any, what: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str) or not value.startswith(("0x", "0X")):
        raise MalformedResponseError(f"{what} is not a hex quantity: {value!r}")
    try:
        return int(value, 16)
    except ValueError as exc:
        raise MalformedResponseError(f"{what} is not a hex quantity: {value!r}") from exc


def _hex_bytes(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or not value.startswith(("0x", "0X")):
        raise MalformedResponseError(f"{what} is not 0x-hex data: {value!r}")
    try:
        return bytes.fromhex(value[2:])
    except ValueError as exc:
        raise MalformedResponseError(f"{what} is not 0x-hex data: {value!r}") from exc


def _hash(value: Any, what: str) -> str:
    raw = _hex_bytes(value, what)
    if len(raw) != 32:
        raise MalformedResponseError(f"{what} is not 32 bytes: {value!r}")
    return "0x" + raw.hex()


def _block_param(block: BlockId) -> str:
    return hex(block) if isinstance(block, int) else block


def _address(address: str) -> str:
    return Web3.to_checksum_address(address)


def revert_data_of(data: Any) -> bytes:
    """The revert payload inside a JSON-RPC error's ``data`` (a hex string, or nested ``{data: ...}``)."""
    if isinstance(data, str) and data.startswith("0x"):
        try:
            return bytes.fromhex(data[2:])
        except ValueError:
            return b""
    if isinstance(data, Mapping):
        return revert_data_of(data.get("data"))
    return b""


def rpc_error(method: str, error: Any, endpoint: str | None) -> L1ResponseError:
    """Typed error for a JSON-RPC error object."""
    if not isinstance(error, Mapping):
        return L1ResponseError(method, 0, str(error), None, endpoint=endpoint)
    code = error.get("code")
    code = code if isinstance(code, int) and not isinstance(code, bool) else 0
    message = str(error.get("message", ""))
    data = error.get("data")
    if code == JSONRPC_EXECUTION_REVERTED or "revert" in message.lower():
        return ExecutionRevertedError(method, code, message, data, revert_data_of(data), endpoint=endpoint)
    return L1ResponseError(method, code, message, data, endpoint=endpoint)


def parse_receipt(raw: Any) -> Receipt:
    if not isinstance(raw, Mapping):
        raise MalformedResponseError(f"receipt is not an object: {raw!r}")
    return Receipt(
        tx_hash=_hash(raw.get("transactionHash"), "receipt.transactionHash"),
        status=_hex_int(raw.get("status"), "receipt.status"),
        block_number=_hex_int(raw.get("blockNumber"), "receipt.blockNumber"),
        block_hash=_hash(raw.get("blockHash"), "receipt.blockHash"),
        gas_used=_hex_int(raw.get("gasUsed"), "receipt.gasUsed"),
        effective_gas_price=_hex_int(raw.get("effectiveGasPrice", "0x0"), "receipt.effectiveGasPrice"),
        log_count=len(raw.get("logs") or ()),
    )


def parse_block(raw: Any) -> BlockHeader:
    if not isinstance(raw, Mapping):
        raise MalformedResponseError(f"block is not an object: {raw!r}")
    return BlockHeader(
        number=_hex_int(raw.get("number"), "block.number"),
        hash=_hash(raw.get("hash"), "block.hash"),
        parent_hash=_hash(raw.get("parentHash"), "block.parentHash"),
        timestamp=_hex_int(raw.get("timestamp"), "block.timestamp"),
        base_fee_per_gas=_hex_int(raw.get("baseFeePerGas", "0x0"), "block.baseFeePerGas"),
        gas_limit=_hex_int(raw.get("gasLimit"), "block.gasLimit"),
    )


class L1Client:
    """JSON-RPC access to one L1 chain over one or more endpoints (see module docstring)."""

    def __init__(self, urls: Sequence[str], *, chain_id: int, timeout_s: float) -> None:
        if not urls:
            raise ConfigError("L1Client needs at least one RPC URL")
        if timeout_s <= 0:
            raise ConfigError(f"L1 request timeout must be positive, got {timeout_s}")
        self._urls: tuple[str, ...] = tuple(str(url) for url in urls)
        self._chain_id = chain_id
        self._timeout_s = timeout_s
        # web3's own retry loop (5 tries with backoff) would hide a dead endpoint for seconds;
        # failing over to the next endpoint is the retry.
        self._web3s: tuple[Web3, ...] = tuple(
            Web3(HTTPProvider(url, request_kwargs={"timeout": timeout_s}, exception_retry_configuration=None))
            for url in self._urls
        )
        self._pool = EndpointPool(self._urls)
        self._index = {url: index for index, url in enumerate(self._urls)}

    @classmethod
    def from_config(cls, config: ExorelayConfig) -> L1Client:
        return cls.for_chain(config.l1)

    @classmethod
    def for_chain(cls, chain: L1Config) -> L1Client:
        """A client of one configured client chain (its endpoints, with failover)."""
        return cls(
            [str(url) for url in chain.rpc_urls], chain_id=chain.chain_id, timeout_s=chain.request_timeout_s
        )

    # ------------------------------------------------------------------ endpoints

    @property
    def chain_id(self) -> int:
        return self._chain_id

    @property
    def urls(self) -> tuple[str, ...]:
        return self._urls

    @property
    def active_url(self) -> str:
        return self._pool.active

    @property
    def failover_count(self) -> int:
        """How many times the active endpoint changed because the previous one failed."""
        return self._pool.switches

    def endpoint_health(self) -> tuple[EndpointHealth, ...]:
        """Each endpoint's state in the shared pool (``relayer.endpoints``), for metrics."""
        return self._pool.health(time.monotonic())

    @property
    def timeout_s(self) -> float:
        return self._timeout_s

    def call(self, fn: Callable[[Web3], T], what: str = "L1 call") -> T:
        """Run ``fn`` against the active endpoint, failing over to the next on transport faults."""
        return self._with_failover(what, lambda w3, _url: fn(w3))

    def request(self, method: str, params: Sequence[Any] = ()) -> Any:
        """One raw JSON-RPC request with failover; returns ``result``.

        Raises :class:`L1ResponseError` / :class:`ExecutionRevertedError` for an error object.
        """
        return self._with_failover(method, lambda w3, url: self._request_on(w3, url, method, params))

    def _with_failover(self, what: str, fn: Callable[[Web3, str], T]) -> T:
        failures: dict[str, str] = dict(self._pool.refused())
        codes: dict[str, int] = {}
        for url in self._pool.order(time.monotonic()):
            failure = Failure.ENDPOINT
            try:
                result = fn(self._web3s[self._index[url]], url)
            except L1ResponseError as exc:
                if exc.code not in FAILOVER_RPC_CODES:
                    self._pool.succeeded(url, time.monotonic())  # an answer: the request's own error
                    raise
                failures[url] = exc.reason
                codes[url] = exc.code
            except _TRANSPORT_ERRORS as exc:
                failures[url] = f"{type(exc).__name__}: {exc}"
                failure = Failure.TRANSPORT
            else:
                previous = self._pool.active
                if self._pool.succeeded(url, time.monotonic()):
                    logger.warning(
                        "L1 endpoint failover",
                        extra={
                            "from_endpoint": previous,
                            "to_endpoint": url,
                            "call": what,
                            "failures": failures,
                        },
                    )
                return result
            self._pool.failed(url, failure, failures[url], time.monotonic())
            logger.warning(
                "L1 endpoint failed",
                extra={"endpoint": url, "call": what, "error": failures[url]},
            )
        raise L1AllEndpointsFailedError(what, failures, codes)

    @staticmethod
    def _request_on(w3: Web3, url: str, method: str, params: Sequence[Any]) -> Any:
        try:
            response = w3.provider.make_request(RPCEndpoint(method), list(params))
        except (Web3ValueError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            # The body is not JSON: a proxy's error page, a wrong port... (the provider raises nothing
            # else of this kind: JSON-RPC error objects are returned, not raised).
            raise L1EndpointError(f"{method}: answer is not JSON-RPC ({exc})", endpoint=url) from exc
        if not isinstance(response, Mapping):
            raise L1EndpointError(f"{method}: answer is not a JSON-RPC object", endpoint=url)
        if response.get("error") is not None:
            raise rpc_error(method, response["error"], url)
        if "result" not in response:
            raise L1EndpointError(f"{method}: answer has neither result nor error", endpoint=url)
        return response["result"]

    # ------------------------------------------------------------------ chain

    def check_chain_id(self) -> None:
        """Every reachable endpoint must serve ``chain_id``; unreachable ones are skipped (logged).

        Raises :class:`ChainIdMismatchError` on a mismatch (a misconfigured backup endpoint would
        otherwise only show up at the first failover) and :class:`L1AllEndpointsFailedError` when no
        endpoint answers.
        """
        failures: dict[str, str] = {}
        for w3, url in zip(self._web3s, self._urls, strict=True):
            try:
                answered = _hex_int(self._request_on(w3, url, "eth_chainId", []), "eth_chainId")
            except _TRANSPORT_ERRORS as exc:
                failures[url] = f"{type(exc).__name__}: {exc}"
                logger.warning("L1 endpoint unreachable at chain id check", extra={"endpoint": url})
                continue
            if answered != self._chain_id:
                self._pool.refuse(url, f"serves chain id {answered}")
                raise ChainIdMismatchError(
                    f"serves chain id {answered}, l1.chain_id is {self._chain_id}", endpoint=url
                )
        if len(failures) == len(self._urls):
            raise L1AllEndpointsFailedError("eth_chainId", failures)

    def block_number(self) -> int:
        return _hex_int(self.request("eth_blockNumber"), "eth_blockNumber")

    def block(self, block: BlockId) -> BlockHeader | None:
        """A block header, or None if the node has no such block (yet)."""
        raw = self.request("eth_getBlockByNumber", [_block_param(block), False])
        return None if raw is None else parse_block(raw)

    def finalized_block_number(self) -> int:
        """Height of the ``finalized`` block; ``head - 64`` where the node has no such tag."""
        try:
            header = self.block("finalized")
        except L1ResponseError as exc:  # unknown tag (pre-merge client) or "finalized block not found"
            logger.debug("no finalized tag, falling back to depth", extra={"error": exc.reason})
            header = None
        head = self.block_number()
        if header is None:
            return max(0, head - FINALIZED_FALLBACK_DEPTH_BLOCKS)
        return min(header.number, head)

    def block_hash(self, number: int) -> str | None:
        """Canonical hash at ``number`` (0x-hex), or None above the head."""
        header = self.block(number)
        return None if header is None else header.hash

    def get_receipt(self, tx_hash: str) -> Receipt | None:
        """The receipt, or None while the transaction is not mined (or unknown)."""
        raw = self.request("eth_getTransactionReceipt", [tx_hash])
        if raw is None or (isinstance(raw, Mapping) and raw.get("blockHash") is None):
            return None
        return parse_receipt(raw)

    def nonce(self, address: str, block: Literal["pending", "latest"] = "pending") -> int:
        return _hex_int(
            self.request("eth_getTransactionCount", [_address(address), block]), "eth_getTransactionCount"
        )

    def balance(self, address: str, block: BlockId = "latest") -> int:
        return _hex_int(
            self.request("eth_getBalance", [_address(address), _block_param(block)]), "eth_getBalance"
        )

    def get_code(self, address: str, block: BlockId = "latest") -> bytes:
        return _hex_bytes(
            self.request("eth_getCode", [_address(address), _block_param(block)]), "eth_getCode"
        )

    def priority_fee(self) -> int:
        """The node's suggested tip; :data:`DEFAULT_PRIORITY_FEE_WEI` where no endpoint serves one."""
        try:
            return _hex_int(self.request("eth_maxPriorityFeePerGas"), "eth_maxPriorityFeePerGas")
        except L1AllEndpointsFailedError as exc:
            unsupported = set(exc.rpc_codes.values()) == {JSONRPC_METHOD_NOT_FOUND}
            if unsupported and len(exc.rpc_codes) == len(self._urls):
                return DEFAULT_PRIORITY_FEE_WEI
            raise
        except L1ResponseError:  # another refusal (e.g. a pre-London chain)
            return DEFAULT_PRIORITY_FEE_WEI

    def fee_market(self) -> tuple[int, int]:
        """``(base fee of the latest block, suggested priority fee)`` in wei."""
        header = self.block("latest")
        if header is None:
            raise MalformedResponseError("node has no latest block")
        return header.base_fee_per_gas, self.priority_fee()

    def eth_call(
        self,
        *,
        to: str,
        data: bytes,
        sender: str | None = None,
        block: BlockId = "latest",
        gas: int | None = None,
        value: int = 0,
    ) -> bytes:
        """Return data of a call; raises :class:`ExecutionRevertedError` (with ``revert_data``) on revert."""
        return _hex_bytes(
            self.request("eth_call", [_call_object(to, data, sender, gas, value), _block_param(block)]),
            "eth_call",
        )

    def estimate_gas(
        self, *, to: str, data: bytes, sender: str, block: BlockId = "pending", value: int = 0
    ) -> int:
        return _hex_int(
            self.request(
                "eth_estimateGas", [_call_object(to, data, sender, None, value), _block_param(block)]
            ),
            "eth_estimateGas",
        )

    def send_raw_transaction(self, raw_tx: bytes) -> str:
        """Broadcast signed bytes; returns the hash the node reports. JSON-RPC refusals raise
        :class:`L1ResponseError` (the tx manager classifies them)."""
        return _hash(self.request("eth_sendRawTransaction", ["0x" + raw_tx.hex()]), "eth_sendRawTransaction")


def _call_object(to: str, data: bytes, sender: str | None, gas: int | None, value: int) -> dict[str, str]:
    call = {"to": _address(to), "data": "0x" + data.hex()}
    if sender is not None:
        call["from"] = _address(sender)
    if gas is not None:
        call["gas"] = hex(gas)
    if value:
        call["value"] = hex(value)
    return call
