"""Typed CometBFT JSON-RPC client with endpoint failover and lie detection.

The client speaks JSON-RPC 2.0 over HTTP POST (single requests and batches) to one or more
endpoints of the same chain, and returns frozen dataclasses. Every answer is validated before it is
believed:

- **Chain**: an endpoint is used only after its ``status`` says it serves the configured chain id,
  and every block header must carry that chain id (:class:`ChainMismatchError`, endpoint refused).
- **Shape**: JSON that is not JSON-RPC, missing or mistyped fields, bad hex/base64, oversized bodies
  (:class:`MalformedResponseError`).
- **Consistency**: a block or ``block_results`` for another height than requested, a block hash that
  differs from an earlier read of the same height, a parent hash that does not link to the block
  read before it, a transaction count that differs between ``block`` and ``block_results``, an
  endpoint whose latest height goes backwards (:class:`InconsistentResponseError`).
- **Errors**: JSON-RPC error objects become typed errors (:class:`HeightNotAvailableError` for a
  height not committed yet, :class:`HeightPrunedError`, :class:`MethodNotFoundError`, ...).

Failover follows the shared policy of :class:`relayer.endpoints.EndpointPool`: healthy endpoints in
configured order, then ones that failed recently (cooling down), soonest cooldown end first; an
endpoint that serves another chain is refused for good. Transport failures and lies move to the next
endpoint; a JSON-RPC error that any node of the chain would give (e.g. height not
committed yet) is returned to the caller at once. With one endpoint its own typed error is raised;
with several, :class:`AllEndpointsFailedError` carries each endpoint's error.

The client is thread-safe (one ``httpx.Client`` per endpoint; a lock around the shared state).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import json
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx

from relayer.endpoints import EndpointHealth, EndpointPool
from relayer.exocore.errors import (
    AllEndpointsFailedError,
    BatchTooLargeError,
    ChainMismatchError,
    EndpointLaggingError,
    EndpointUnavailableError,
    ExocoreClientError,
    ExocoreTimeoutError,
    HeightNotAvailableError,
    HeightPrunedError,
    InconsistentResponseError,
    MalformedResponseError,
    MethodNotFoundError,
    RpcResponseError,
    failure_class,
    should_fail_over,
)

_log = logging.getLogger(__name__)

T = TypeVar("T")

# --- tunables ----------------------------------------------------------------------------------------

# One slow endpoint must not stall the pipeline; 10 s is above the p99 of a healthy node's
# block_results and matches relayer.config's default exocore.request_timeout_s.
DEFAULT_RPC_TIMEOUT_S: Final = 10.0
# A CometBFT block is at most 22 MB (Exocore's max_bytes), base64 in JSON adds a third, and
# block_results adds events: 64 MiB bounds what a lying endpoint can make us buffer.
MAX_RESPONSE_BYTES: Final = 64 * 1024 * 1024
# Block hashes remembered to detect a re-read that changed (and parent links). 4096 heights are
# ~3.4 h of 3 s blocks: longer than any catch-up batch or retry loop re-reads across.
KNOWN_BLOCK_HASHES: Final = 4096
# An endpoint whose latest height is this far below the highest height another endpoint already
# reported is lagging (syncing, stuck or partitioned) and is failed over; a few blocks of skew
# between honest nodes are normal.
LAGGING_ENDPOINT_TOLERANCE_BLOCKS: Final = 20
# Requests per JSON-RPC batch: CometBFT's default [rpc] max_request_batch_size (a node refuses larger
# batches outright). A node that reports a lower limit is followed (see BatchTooLargeError).
MAX_BATCH_CALLS: Final = 10
# CometBFT rpc/core caps /validators pages at 100 entries.
VALIDATORS_PER_PAGE: Final = 100
# A validator set larger than this is not a CometBFT set (MaxTotalVotingPower bounds it far lower
# in practice); stops a lying endpoint from making us page forever.
MAX_VALIDATORS: Final = 10_000

JSONRPC_VERSION: Final = "2.0"
HASH_BYTES: Final = 32
ADDRESS_BYTES: Final = 20
NANOS_PER_SECOND: Final = 1_000_000_000
INT64_MAX: Final = 2**63 - 1

# JSON-RPC error code CometBFT answers "method not found" with (rpc/jsonrpc/types).
_METHOD_NOT_FOUND_CODE: Final = -32601
_HEIGHT_NOT_AVAILABLE = re.compile(
    r"height (\d+) must be less than or equal to the current blockchain height (\d+)"
)
_HEIGHT_PRUNED = re.compile(r"height (\d+) is not available, lowest height is (\d+)")
_RESULTS_MISSING = re.compile(r"could not find results for height #(\d+)")
_BATCH_TOO_LARGE = re.compile(r"batch request exceeds maximum \((\d+)\)")
_INT = re.compile(r"-?[0-9]+")
_HEX = re.compile(r"[0-9A-Fa-f]*")
_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z")

JSON = dict[str, Any]


# --- values ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NodeStatus:
    """``status``: who the node is and how far it is."""

    endpoint: str
    chain_id: str
    node_id: str
    moniker: str
    version: str
    latest_height: int
    latest_block_hash: bytes
    """32 bytes, or empty before the first block."""
    latest_block_time_ns: int
    earliest_height: int
    catching_up: bool


@dataclass(frozen=True, slots=True)
class BlockHeader:
    chain_id: str
    height: int
    time_ns: int
    last_block_hash: bytes
    """Hash of the previous block; empty for the chain's first block."""
    last_results_hash: bytes
    app_hash: bytes
    data_hash: bytes
    validators_hash: bytes
    next_validators_hash: bytes
    proposer_address: bytes


@dataclass(frozen=True, slots=True)
class Block:
    """``block``: the header, its hash (``block_id.hash``) and the raw transactions."""

    hash: bytes
    header: BlockHeader
    txs: tuple[bytes, ...]

    @property
    def height(self) -> int:
        return self.header.height

    @property
    def tx_hashes(self) -> tuple[bytes, ...]:
        """CometBFT tx hashes: SHA-256 of the raw tx bytes."""
        return tuple(hashlib.sha256(tx).digest() for tx in self.txs)


@dataclass(frozen=True, slots=True)
class RawAttribute:
    """An event attribute exactly as the node sent it (0.34 nodes send base64; see ``events``)."""

    key: str
    value: str
    index: bool = False


@dataclass(frozen=True, slots=True)
class RawEvent:
    type: str
    attributes: tuple[RawAttribute, ...] = ()


@dataclass(frozen=True, slots=True)
class TxResult:
    """One transaction's ``DeliverTx`` / ``ExecTxResult``; events of a failed tx were reverted."""

    code: int
    codespace: str
    log: str
    gas_wanted: int
    gas_used: int
    events: tuple[RawEvent, ...]

    @property
    def ok(self) -> bool:
        return self.code == 0


@dataclass(frozen=True, slots=True)
class BlockResults:
    """``block_results``: 0.37 fills begin/end block events, 0.38 ``finalize_block_events``."""

    height: int
    txs_results: tuple[TxResult, ...]
    begin_block_events: tuple[RawEvent, ...] = ()
    end_block_events: tuple[RawEvent, ...] = ()
    finalize_block_events: tuple[RawEvent, ...] = ()


@dataclass(frozen=True, slots=True)
class CommittedBlock:
    """A committed (hence final) block with its results, read from one endpoint and cross-checked."""

    block: Block
    results: BlockResults
    endpoint: str

    @property
    def height(self) -> int:
        return self.block.height

    @property
    def hash(self) -> bytes:
        return self.block.hash

    @property
    def time_ns(self) -> int:
        return self.block.header.time_ns


@dataclass(frozen=True, slots=True)
class Validator:
    address: bytes
    pub_key_type: str
    pub_key: bytes
    voting_power: int
    proposer_priority: int


@dataclass(frozen=True, slots=True)
class ValidatorSet:
    """The CometBFT (ed25519) validator set signing ``height``; all pages joined."""

    height: int
    validators: tuple[Validator, ...]

    @property
    def total_power(self) -> int:
        return sum(validator.voting_power for validator in self.validators)


@dataclass(frozen=True, slots=True)
class EndpointStats:
    """Counters of one endpoint, for metrics and ``exorelay status``."""

    url: str
    calls: int
    failures: int
    consecutive_failures: int
    last_error: str | None
    chain_verified: bool
    latest_height: int | None


# --- strict JSON field readers ----------------------------------------------------------------------


def _field(obj: Any, key: str, what: str) -> Any:
    if not isinstance(obj, dict):
        raise MalformedResponseError(f"{what}: expected an object, got {type(obj).__name__}")
    if key not in obj:
        raise MalformedResponseError(f"{what}: missing field {key!r}")
    return obj[key]


def _obj(value: Any, what: str) -> JSON:
    if not isinstance(value, dict):
        raise MalformedResponseError(f"{what}: expected an object, got {type(value).__name__}")
    return value


def _list(value: Any, what: str, nullable: bool = True) -> list[Any]:
    """A Go slice: a JSON array, or ``null`` / absent for an empty one."""
    if value is None and nullable:
        return []
    if not isinstance(value, list):
        raise MalformedResponseError(f"{what}: expected an array, got {type(value).__name__}")
    return value


def _str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise MalformedResponseError(f"{what}: expected a string, got {type(value).__name__}")
    return value


def _bool(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise MalformedResponseError(f"{what}: expected a bool, got {type(value).__name__}")
    return value


def _int(value: Any, what: str, minimum: int = 0) -> int:
    """A 64-bit integer: libs/json writes them as decimal strings, a few fields as JSON numbers."""
    if isinstance(value, bool):
        raise MalformedResponseError(f"{what}: expected an integer, got a bool")
    if isinstance(value, str):
        if not _INT.fullmatch(value):
            raise MalformedResponseError(f"{what}: {value[:40]!r} is not a decimal integer")
        number = int(value)
    elif isinstance(value, int):
        number = value
    else:
        raise MalformedResponseError(f"{what}: expected an integer, got {type(value).__name__}")
    if not minimum <= number <= INT64_MAX:
        raise MalformedResponseError(f"{what}: {number} is outside [{minimum}, 2^63)")
    return number


def _hex(value: Any, what: str, length: int | None = None, allow_empty: bool = False) -> bytes:
    """``HexBytes``: hex (CometBFT writes upper case); empty string for no bytes."""
    text = _str(value, what)
    if not _HEX.fullmatch(text) or len(text) % 2:
        raise MalformedResponseError(f"{what}: {text[:80]!r} is not hex")
    raw = bytes.fromhex(text)
    if not raw and allow_empty:
        return raw
    if length is not None and len(raw) != length:
        raise MalformedResponseError(f"{what}: expected {length} bytes, got {len(raw)}")
    return raw


def _b64(value: Any, what: str) -> bytes:
    """A Go ``[]byte``: standard base64, ``null`` for nil."""
    if value is None:
        return b""
    text = _str(value, what)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedResponseError(f"{what}: not base64: {exc}") from exc


def parse_rfc3339_nano(text: str) -> int:
    """CometBFT time (RFC 3339 UTC with up to 9 fractional digits) -> ns since the Unix epoch."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise MalformedResponseError(f"time {text[:40]!r} is not RFC 3339 UTC")
    try:
        moment = datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except ValueError as exc:
        raise MalformedResponseError(f"time {text!r}: {exc}") from exc
    fraction = match.group(2) or ""
    seconds = int((moment - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds())
    return seconds * NANOS_PER_SECOND + int(fraction.ljust(9, "0") or "0")


def _time(value: Any, what: str) -> int:
    return parse_rfc3339_nano(_str(value, what))


# --- parsers of results (pure; used by the client and the follower's push path) ----------------------


def parse_status(result: Any, endpoint: str) -> NodeStatus:
    node = _obj(_field(result, "node_info", "status"), "status.node_info")
    sync = _obj(_field(result, "sync_info", "status"), "status.sync_info")
    latest = _int(_field(sync, "latest_block_height", "sync_info"), "latest_block_height")
    return NodeStatus(
        endpoint=endpoint,
        chain_id=_str(_field(node, "network", "node_info"), "node_info.network"),
        node_id=_str(node.get("id", ""), "node_info.id"),
        moniker=_str(node.get("moniker", ""), "node_info.moniker"),
        version=_str(node.get("version", ""), "node_info.version"),
        latest_height=latest,
        latest_block_hash=_hex(
            sync.get("latest_block_hash", ""), "latest_block_hash", HASH_BYTES, allow_empty=latest == 0
        ),
        latest_block_time_ns=_time(sync.get("latest_block_time", "1970-01-01T00:00:00Z"), "latest_block_time")
        if latest
        else 0,
        earliest_height=_int(sync.get("earliest_block_height", "0"), "earliest_block_height"),
        catching_up=_bool(sync.get("catching_up", False), "catching_up"),
    )


def parse_header(raw: Any, what: str = "header") -> BlockHeader:
    header = _obj(raw, what)
    height = _int(_field(header, "height", what), f"{what}.height", minimum=1)
    last_block_id = _obj(_field(header, "last_block_id", what), f"{what}.last_block_id")
    return BlockHeader(
        chain_id=_str(_field(header, "chain_id", what), f"{what}.chain_id"),
        height=height,
        time_ns=_time(_field(header, "time", what), f"{what}.time"),
        last_block_hash=_hex(
            last_block_id.get("hash", ""), f"{what}.last_block_id.hash", HASH_BYTES, allow_empty=True
        ),
        last_results_hash=_hex(
            header.get("last_results_hash", ""), f"{what}.last_results_hash", allow_empty=True
        ),
        app_hash=_hex(header.get("app_hash", ""), f"{what}.app_hash", allow_empty=True),
        data_hash=_hex(header.get("data_hash", ""), f"{what}.data_hash", allow_empty=True),
        validators_hash=_hex(header.get("validators_hash", ""), f"{what}.validators_hash", allow_empty=True),
        next_validators_hash=_hex(
            header.get("next_validators_hash", ""), f"{what}.next_validators_hash", allow_empty=True
        ),
        proposer_address=_hex(
            _field(header, "proposer_address", what), f"{what}.proposer_address", ADDRESS_BYTES
        ),
    )


def parse_block(result: Any) -> Block:
    block_id = _obj(_field(result, "block_id", "block"), "block.block_id")
    body = _field(result, "block", "block")
    if body is None:
        raise MalformedResponseError("block: the node returned no block")
    body = _obj(body, "block.block")
    data = _obj(_field(body, "data", "block.block"), "block.data")
    return Block(
        hash=_hex(_field(block_id, "hash", "block_id"), "block_id.hash", HASH_BYTES),
        header=parse_header(_field(body, "header", "block.block")),
        txs=tuple(_b64(tx, "block.data.txs[]") for tx in _list(data.get("txs"), "block.data.txs")),
    )


def parse_events(raw: Any, what: str) -> tuple[RawEvent, ...]:
    events = []
    for position, item in enumerate(_list(raw, what)):
        entry = _obj(item, f"{what}[{position}]")
        event_type = _str(_field(entry, "type", f"{what}[{position}]"), f"{what}[{position}].type")
        attributes = []
        for number, attribute in enumerate(_list(entry.get("attributes"), f"{what}[{position}].attributes")):
            place = f"{what}[{position}].attributes[{number}]"
            pair = _obj(attribute, place)
            # libs/json omits empty keys/values and a false index (omitempty).
            key = pair.get("key")
            value = pair.get("value")
            index = pair.get("index")
            attributes.append(
                RawAttribute(
                    key="" if key is None else _str(key, f"{place}.key"),
                    value="" if value is None else _str(value, f"{place}.value"),
                    index=False if index is None else _bool(index, f"{place}.index"),
                )
            )
        events.append(RawEvent(event_type, tuple(attributes)))
    return tuple(events)


def parse_tx_result(raw: Any, what: str) -> TxResult:
    entry = _obj(raw, what)
    code = _int(entry.get("code", 0), f"{what}.code")
    if code >= 2**32:
        raise MalformedResponseError(f"{what}.code {code} does not fit uint32")
    return TxResult(
        code=code,
        codespace=_str(entry.get("codespace", "") or "", f"{what}.codespace"),
        log=_str(entry.get("log", "") or "", f"{what}.log"),
        gas_wanted=_int(entry.get("gas_wanted", "0"), f"{what}.gas_wanted"),
        gas_used=_int(entry.get("gas_used", "0"), f"{what}.gas_used"),
        events=parse_events(entry.get("events"), f"{what}.events"),
    )


def parse_block_results(result: Any) -> BlockResults:
    results = _obj(result, "block_results")
    return BlockResults(
        height=_int(_field(results, "height", "block_results"), "block_results.height", minimum=1),
        txs_results=tuple(
            parse_tx_result(entry, f"txs_results[{i}]")
            for i, entry in enumerate(_list(results.get("txs_results"), "txs_results"))
        ),
        begin_block_events=parse_events(results.get("begin_block_events"), "begin_block_events"),
        end_block_events=parse_events(results.get("end_block_events"), "end_block_events"),
        finalize_block_events=parse_events(results.get("finalize_block_events"), "finalize_block_events"),
    )


def parse_validators_page(result: Any) -> tuple[int, int, tuple[Validator, ...]]:
    """``(block_height, total, validators of this page)``."""
    page = _obj(result, "validators")
    validators = []
    for position, raw in enumerate(_list(page.get("validators"), "validators.validators")):
        what = f"validators[{position}]"
        entry = _obj(raw, what)
        pub_key = _obj(_field(entry, "pub_key", what), f"{what}.pub_key")
        validators.append(
            Validator(
                address=_hex(_field(entry, "address", what), f"{what}.address", ADDRESS_BYTES),
                pub_key_type=_str(_field(pub_key, "type", f"{what}.pub_key"), f"{what}.pub_key.type"),
                pub_key=_b64(_field(pub_key, "value", f"{what}.pub_key"), f"{what}.pub_key.value"),
                voting_power=_int(_field(entry, "voting_power", what), f"{what}.voting_power", minimum=1),
                proposer_priority=_int(
                    entry.get("proposer_priority", "0"), f"{what}.proposer_priority", minimum=-INT64_MAX - 1
                ),
            )
        )
    return (
        _int(_field(page, "block_height", "validators"), "validators.block_height", minimum=1),
        _int(_field(page, "total", "validators"), "validators.total"),
        tuple(validators),
    )


def rpc_error(error: Any, endpoint: str | None) -> RpcResponseError:
    """A JSON-RPC error object -> its typed error (the node's ``data`` decides the subclass)."""
    entry = _obj(error, "error")
    code = entry.get("code")
    if not isinstance(code, int) or isinstance(code, bool):
        raise MalformedResponseError(f"error.code is not an integer: {code!r}", endpoint=endpoint)
    message = entry.get("message", "")
    data = entry.get("data", "")
    if not isinstance(message, str) or not isinstance(data, str):
        raise MalformedResponseError("error.message / error.data must be strings", endpoint=endpoint)
    if code == _METHOD_NOT_FOUND_CODE:
        return MethodNotFoundError(code, message, data, endpoint=endpoint)
    if (match := _BATCH_TOO_LARGE.search(data)) is not None:
        return BatchTooLargeError(code, message, data, limit=int(match.group(1)), endpoint=endpoint)
    if (match := _HEIGHT_NOT_AVAILABLE.search(data)) is not None:
        return HeightNotAvailableError(
            code, message, data, requested=int(match.group(1)), latest=int(match.group(2)), endpoint=endpoint
        )
    if (match := _HEIGHT_PRUNED.search(data)) is not None:
        return HeightPrunedError(
            code, message, data, requested=int(match.group(1)), lowest=int(match.group(2)), endpoint=endpoint
        )
    if (match := _RESULTS_MISSING.search(data)) is not None:
        # The node kept the block but discarded its ABCI results (discard_abci_responses).
        return HeightPrunedError(
            code, message, data, requested=int(match.group(1)), lowest=None, endpoint=endpoint
        )
    return RpcResponseError(code, message, data, endpoint=endpoint)


def websocket_url(http_url: str) -> str:
    """``http://host:26657[/prefix]`` -> ``ws://host:26657[/prefix]/websocket``."""
    parts = urlsplit(http_url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/websocket", "", ""))


# --- the client -------------------------------------------------------------------------------------


class _Endpoint:
    """One RPC endpoint: its HTTP client and health bookkeeping (guarded by the client's lock)."""

    def __init__(self, url: str, http: httpx.Client) -> None:
        self.url = url
        self.http = http
        self.chain_verified = False
        self.latest_height: int | None = None
        self.calls = 0
        self.failures = 0
        self.consecutive_failures = 0
        self.last_error: str | None = None

    def stats(self) -> EndpointStats:
        return EndpointStats(
            url=self.url,
            calls=self.calls,
            failures=self.failures,
            consecutive_failures=self.consecutive_failures,
            last_error=self.last_error,
            chain_verified=self.chain_verified,
            latest_height=self.latest_height,
        )


@dataclass(frozen=True, slots=True)
class _Call:
    method: str
    params: JSON


class CometRpcClient:
    """CometBFT JSON-RPC over several endpoints of the chain ``chain_id``.

    ``transport`` replaces httpx's network transport (tests); ``timeout_s`` bounds every call on
    one endpoint (connect, each read, and the whole body).
    """

    def __init__(
        self,
        urls: Sequence[str],
        *,
        chain_id: str,
        timeout_s: float = DEFAULT_RPC_TIMEOUT_S,
        max_batch_calls: int = MAX_BATCH_CALLS,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if isinstance(urls, str) or not urls:
            raise ValueError("CometRpcClient needs a non-empty list of endpoint URLs")
        if len(set(urls)) != len(urls):
            raise ValueError("duplicate RPC endpoint URL")
        if not chain_id:
            raise ValueError("chain_id is required")
        if not timeout_s > 0:
            raise ValueError("timeout_s must be positive")
        if max_batch_calls < 1:
            raise ValueError("max_batch_calls must be at least 1")
        self._max_batch_calls = max_batch_calls
        self._chain_id = chain_id
        self._timeout_s = float(timeout_s)
        self._endpoints = [
            _Endpoint(
                url,
                httpx.Client(
                    timeout=httpx.Timeout(self._timeout_s),
                    transport=transport,
                    headers={"Content-Type": "application/json"},
                    follow_redirects=False,
                ),
            )
            for url in urls
        ]
        self._by_url = {endpoint.url: endpoint for endpoint in self._endpoints}
        self._pool = EndpointPool([endpoint.url for endpoint in self._endpoints])
        self._refusals: dict[str, ExocoreClientError] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._highest_seen_height = 0
        self._known_hashes: OrderedDict[int, bytes] = OrderedDict()

    @classmethod
    def from_config(cls, config: Any) -> CometRpcClient:
        """Build from ``relayer.config.ExocoreConfig`` (``rpc_urls``, ``chain_id``, ``request_timeout_s``)."""
        return cls(
            [str(url).rstrip("/") for url in config.rpc_urls],
            chain_id=config.chain_id,
            timeout_s=config.request_timeout_s,
        )

    # -- introspection --

    @property
    def chain_id(self) -> str:
        return self._chain_id

    @property
    def timeout_s(self) -> float:
        return self._timeout_s

    @property
    def endpoints(self) -> tuple[str, ...]:
        return tuple(endpoint.url for endpoint in self._endpoints)

    @property
    def active_endpoint(self) -> str:
        """The endpoint the next call goes to first (the last one that answered)."""
        return self._pool.active

    @property
    def failover_count(self) -> int:
        """How many times the active endpoint changed (a counter for metrics)."""
        return self._pool.switches

    @property
    def max_batch_calls(self) -> int:
        """Requests per JSON-RPC batch (lowered when a node reports a smaller limit)."""
        return self._max_batch_calls

    @property
    def highest_seen_height(self) -> int:
        """The highest latest height any endpoint reported."""
        return self._highest_seen_height

    def endpoint_stats(self) -> tuple[EndpointStats, ...]:
        with self._lock:
            return tuple(endpoint.stats() for endpoint in self._endpoints)

    def active_websocket_url(self) -> str:
        return websocket_url(self._pool.active)

    def close(self) -> None:
        for endpoint in self._endpoints:
            endpoint.http.close()

    def __enter__(self) -> CometRpcClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- public calls --

    def health(self) -> None:
        """``health``: raises unless some endpoint of the right chain answers."""
        self._with_failover("health", self._health_on)

    def status(self) -> NodeStatus:
        """``status`` of the first endpoint that answers; checks chain id and height monotonicity."""
        return self._with_failover("status", self._status_on, verify=False)

    def latest_height(self) -> int:
        return self.status().latest_height

    def block(self, height: int) -> Block:
        self._check_height(height)
        return self._with_failover(f"block {height}", lambda endpoint: self._block_on(endpoint, height))

    def block_results(self, height: int) -> BlockResults:
        self._check_height(height)
        return self._with_failover(
            f"block_results {height}", lambda endpoint: self._block_results_on(endpoint, height)
        )

    def committed_block(self, height: int) -> CommittedBlock:
        """``block`` and ``block_results`` of ``height`` from one endpoint, cross-checked."""
        blocks = self.committed_blocks(height, height)
        return blocks[0]

    def committed_blocks(self, first: int, last: int) -> list[CommittedBlock]:
        """Blocks ``first..last`` with results, in height order, from one endpoint, fetched in JSON-RPC
        batches of at most :attr:`max_batch_calls` requests.

        If a height is not committed yet (:class:`HeightNotAvailableError`) the blocks before it
        are returned; if it is ``first`` itself, the error is raised. Never returns a gap.
        """
        self._check_height(first)
        self._check_height(last)
        if last < first:
            raise ValueError(f"empty height range {first}..{last}")
        return self._with_failover(
            f"blocks {first}..{last}", lambda endpoint: self._committed_blocks_on(endpoint, first, last)
        )

    def validators(self, height: int | None = None) -> ValidatorSet:
        """The full CometBFT validator set at ``height`` (latest when ``None``), all pages."""
        if height is not None:
            self._check_height(height)
        return self._with_failover("validators", lambda endpoint: self._validators_on(endpoint, height))

    # -- failover --

    @staticmethod
    def _check_height(height: int) -> None:
        if isinstance(height, bool) or not isinstance(height, int) or not 1 <= height <= INT64_MAX:
            raise ValueError(f"height must be an int in [1, 2^63), got {height!r}")

    def endpoint_health(self) -> tuple[EndpointHealth, ...]:
        """Each endpoint's state in the shared pool (``relayer.endpoints``), for metrics."""
        return self._pool.health(time.monotonic())

    def _order(self) -> list[_Endpoint]:
        """The pool's order for one call (refused endpoints left out)."""
        return [self._by_url[url] for url in self._pool.order(time.monotonic())]

    def _with_failover(self, what: str, operation: Callable[[_Endpoint], T], verify: bool = True) -> T:
        with self._lock:
            failures: dict[str, ExocoreClientError] = dict(self._refusals)
        for endpoint in self._order():
            try:
                if verify and not endpoint.chain_verified:
                    self._status_on(endpoint)
                result = operation(endpoint)
            except ExocoreClientError as error:
                if error.endpoint is None:
                    error.endpoint = endpoint.url
                if not should_fail_over(error):
                    self._record(endpoint, None)
                    raise
                self._record(endpoint, error)
                failures[endpoint.url] = error
                _log.warning("exocore rpc %s failed on %s: %s", what, endpoint.url, error)
                continue
            self._record(endpoint, None)
            return result
        if len(failures) == 1:
            raise next(iter(failures.values()))
        raise AllEndpointsFailedError(what, failures)

    def _record(self, endpoint: _Endpoint, error: ExocoreClientError | None) -> None:
        now = time.monotonic()
        with self._lock:
            endpoint.calls += 1
            if error is None:
                endpoint.consecutive_failures = 0
            else:
                endpoint.failures += 1
                endpoint.consecutive_failures += 1
                endpoint.last_error = f"{type(error).__name__}: {error.reason}"
                # Re-check the chain id before trusting it again (it may have been re-pointed).
                endpoint.chain_verified = False
                if isinstance(error, ChainMismatchError):
                    self._refusals[endpoint.url] = error
        if error is None:
            previous = self._pool.active
            if self._pool.succeeded(endpoint.url, now):
                _log.warning("exocore rpc: failing over from %s to %s", previous, endpoint.url)
            return
        self._pool.failed(endpoint.url, failure_class(error), endpoint.last_error or "", now)

    # -- transport --

    def _post(self, endpoint: _Endpoint, payload: Any) -> Any:
        """POST one JSON-RPC body; return the decoded JSON (any JSON-RPC body, errors included)."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        deadline = time.monotonic() + self._timeout_s
        url = endpoint.url
        try:
            with endpoint.http.stream("POST", url, content=body) as response:
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > MAX_RESPONSE_BYTES:
                        raise MalformedResponseError(f"response larger than {MAX_RESPONSE_BYTES} bytes")
                    if time.monotonic() > deadline:
                        raise ExocoreTimeoutError(f"response not complete within {self._timeout_s} s")
                    chunks.append(chunk)
                status = response.status_code
        except httpx.TimeoutException as exc:
            raise ExocoreTimeoutError(f"no answer within {self._timeout_s} s ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise EndpointUnavailableError(f"{type(exc).__name__}: {exc}") from exc
        raw = b"".join(chunks)
        try:
            decoded = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            if status == 429 or status >= 500:
                raise EndpointUnavailableError(f"HTTP {status}: {raw[:120]!r}") from exc
            raise MalformedResponseError(f"HTTP {status}, body is not JSON: {raw[:120]!r}") from exc
        if status != 200 and not _looks_like_rpc_error(decoded):
            if status == 429 or status >= 500:
                raise EndpointUnavailableError(f"HTTP {status}")
            raise MalformedResponseError(f"HTTP {status}")
        return decoded

    def _single(self, endpoint: _Endpoint, method: str, params: JSON) -> Any:
        request_id = next(self._ids)
        payload = {"jsonrpc": JSONRPC_VERSION, "id": request_id, "method": method, "params": params}
        return _unwrap(self._post(endpoint, payload), request_id, endpoint.url)

    def _batch(self, endpoint: _Endpoint, calls: Sequence[_Call]) -> list[Any | RpcResponseError]:
        """One JSON-RPC batch; per entry the result or its typed error, in request order."""
        ids = [next(self._ids) for _ in calls]
        payload = [
            {"jsonrpc": JSONRPC_VERSION, "id": request_id, "method": call.method, "params": call.params}
            for request_id, call in zip(ids, calls, strict=True)
        ]
        decoded = self._post(endpoint, payload)
        # CometBFT answers a one-element batch with a bare object (WriteRPCResponseHTTP).
        entries = [decoded] if isinstance(decoded, dict) and len(calls) == 1 else decoded
        if not isinstance(entries, list):
            if _looks_like_rpc_error(decoded):  # the whole batch was refused
                raise rpc_error(decoded["error"], endpoint.url)
            raise MalformedResponseError("batch answer is not an array", endpoint=endpoint.url)
        by_id: dict[Any, Any] = {}
        for entry in entries:
            if not isinstance(entry, dict) or "id" not in entry:
                raise MalformedResponseError("batch answer entry without an id", endpoint=endpoint.url)
            if entry["id"] in by_id:
                raise MalformedResponseError(
                    f"batch answer repeats id {entry['id']!r}", endpoint=endpoint.url
                )
            by_id[entry["id"]] = entry
        if set(by_id) != set(ids):
            raise MalformedResponseError(
                f"batch answer ids {sorted(map(str, by_id))} do not match the request", endpoint=endpoint.url
            )
        out: list[Any | RpcResponseError] = []
        for request_id in ids:
            try:
                out.append(_unwrap(by_id[request_id], request_id, endpoint.url))
            except RpcResponseError as error:
                out.append(error)
        return out

    def _batches(self, endpoint: _Endpoint, calls: Sequence[_Call]) -> list[Any | RpcResponseError]:
        """``calls`` in batches of at most :attr:`max_batch_calls`, shrinking it if the node says so."""
        out: list[Any | RpcResponseError] = []
        start = 0
        while start < len(calls):
            chunk = calls[start : start + self._max_batch_calls]
            try:
                out.extend(self._batch(endpoint, chunk))
            except BatchTooLargeError as error:
                smaller = max(1, min(error.limit, len(chunk) - 1))  # always shrink: guarantees progress
                if len(chunk) == 1:
                    raise
                _log.warning("exocore rpc %s: batches limited to %d requests", endpoint.url, smaller)
                with self._lock:
                    self._max_batch_calls = min(self._max_batch_calls, smaller)
                continue
            start += len(chunk)
        return out

    # -- per-endpoint operations --

    def _health_on(self, endpoint: _Endpoint) -> None:
        result = self._single(endpoint, "health", {})
        if result != {}:
            raise MalformedResponseError("health: expected an empty object", endpoint=endpoint.url)

    def _status_on(self, endpoint: _Endpoint) -> NodeStatus:
        try:
            status = parse_status(self._single(endpoint, "status", {}), endpoint.url)
        except ExocoreClientError as error:
            error.endpoint = error.endpoint or endpoint.url
            raise
        if status.chain_id != self._chain_id:
            raise ChainMismatchError(
                f"serves chain {status.chain_id!r}, not the configured {self._chain_id!r}",
                endpoint=endpoint.url,
            )
        with self._lock:
            previous = endpoint.latest_height
            if previous is not None and status.latest_height < previous:
                raise InconsistentResponseError(
                    f"latest height went backwards from {previous} to {status.latest_height}",
                    endpoint=endpoint.url,
                )
            if status.latest_height + LAGGING_ENDPOINT_TOLERANCE_BLOCKS < self._highest_seen_height:
                raise EndpointLaggingError(
                    f"lagging: latest height {status.latest_height}, another endpoint is at "
                    f"{self._highest_seen_height}",
                    endpoint=endpoint.url,
                )
            known = self._known_hashes.get(status.latest_height)
            if known is not None and status.latest_block_hash and known != status.latest_block_hash:
                raise InconsistentResponseError(
                    f"status says block {status.latest_height} is {status.latest_block_hash.hex()}, "
                    f"it was read as {known.hex()}",
                    endpoint=endpoint.url,
                )
            endpoint.latest_height = status.latest_height
            endpoint.chain_verified = True
            self._highest_seen_height = max(self._highest_seen_height, status.latest_height)
        return status

    def _check_block(
        self, endpoint: _Endpoint, block: Block, height: int, pending: Mapping[int, bytes]
    ) -> None:
        """Height, chain id, and hashes against what was read before (``pending``: this batch)."""
        header = block.header
        if header.height != height:
            raise InconsistentResponseError(
                f"asked for block {height}, got block {header.height}", endpoint=endpoint.url
            )
        if header.chain_id != self._chain_id:
            raise ChainMismatchError(
                f"block {height} is from chain {header.chain_id!r}, not {self._chain_id!r}",
                endpoint=endpoint.url,
            )
        with self._lock:
            known = self._known_hashes.get(height)
            parent = pending.get(height - 1, self._known_hashes.get(height - 1))
        if known is not None and known != block.hash:
            raise InconsistentResponseError(
                f"block {height} now has hash {block.hash.hex()}, it was read as {known.hex()}",
                endpoint=endpoint.url,
            )
        if parent is not None and block.header.last_block_hash != parent:
            raise InconsistentResponseError(
                f"block {height} points at parent {block.header.last_block_hash.hex() or '(none)'}, "
                f"but block {height - 1} was read as {parent.hex()}",
                endpoint=endpoint.url,
            )

    def _remember(self, blocks: Sequence[Block]) -> None:
        with self._lock:
            for block in blocks:
                self._known_hashes[block.height] = block.hash
                self._known_hashes.move_to_end(block.height)
                self._highest_seen_height = max(self._highest_seen_height, block.height)
            while len(self._known_hashes) > KNOWN_BLOCK_HASHES:
                self._known_hashes.popitem(last=False)

    def _parse(self, endpoint: _Endpoint, parser: Callable[[Any], T], result: Any) -> T:
        try:
            return parser(result)
        except ExocoreClientError as error:
            error.endpoint = error.endpoint or endpoint.url
            raise

    def _block_on(self, endpoint: _Endpoint, height: int) -> Block:
        block = self._parse(endpoint, parse_block, self._single(endpoint, "block", {"height": str(height)}))
        self._check_block(endpoint, block, height, {})
        self._remember([block])
        return block

    def _block_results_on(self, endpoint: _Endpoint, height: int) -> BlockResults:
        try:
            answer = self._single(endpoint, "block_results", {"height": str(height)})
        except RpcResponseError as error:
            raise self._not_yet_available(endpoint, height, error) from None
        results = self._parse(endpoint, parse_block_results, answer)
        if results.height != height:
            raise InconsistentResponseError(
                f"asked for block_results {height}, got height {results.height}", endpoint=endpoint.url
            )
        return results

    def _committed_blocks_on(self, endpoint: _Endpoint, first: int, last: int) -> list[CommittedBlock]:
        calls = []
        for height in range(first, last + 1):
            params = {"height": str(height)}
            calls += [_Call("block", params), _Call("block_results", params)]
        answers = self._batches(endpoint, calls)
        out: list[CommittedBlock] = []
        pending: dict[int, bytes] = {}
        for offset, height in enumerate(range(first, last + 1)):
            raw_block, raw_results = answers[2 * offset], answers[2 * offset + 1]
            error = raw_block if isinstance(raw_block, RpcResponseError) else raw_results
            if isinstance(error, RpcResponseError):
                error = self._not_yet_available(endpoint, height, error)
                if out and isinstance(error, HeightNotAvailableError):
                    break  # the tip moved less far than asked; return the committed prefix
                raise error
            block = self._parse(endpoint, parse_block, raw_block)
            self._check_block(endpoint, block, height, pending)
            results = self._parse(endpoint, parse_block_results, raw_results)
            if results.height != height:
                raise InconsistentResponseError(
                    f"asked for block_results {height}, got height {results.height}", endpoint=endpoint.url
                )
            if len(results.txs_results) != len(block.txs):
                raise InconsistentResponseError(
                    f"block {height} has {len(block.txs)} txs but block_results has "
                    f"{len(results.txs_results)} results",
                    endpoint=endpoint.url,
                )
            pending[height] = block.hash
            out.append(CommittedBlock(block, results, endpoint.url))
        self._remember([committed.block for committed in out])
        return out

    def _not_yet_available(
        self, endpoint: _Endpoint, height: int, error: RpcResponseError
    ) -> RpcResponseError:
        """Missing ABCI results at the node's tip mean "not saved yet", not "pruned".

        CometBFT stores a block before its results, so ``block_results`` of the newest height can
        briefly fail with "could not find results"; that is a height not available yet.
        """
        if not isinstance(error, HeightPrunedError) or error.lowest is not None:
            return error
        with self._lock:
            tip = endpoint.latest_height
        if tip is not None and height < tip:
            return error
        return HeightNotAvailableError(
            error.code,
            error.rpc_message,
            error.data,
            requested=height,
            latest=height - 1,
            endpoint=endpoint.url,
        )

    def _validators_on(self, endpoint: _Endpoint, height: int | None) -> ValidatorSet:
        validators: list[Validator] = []
        resolved: int | None = height
        total: int | None = None
        for page in itertools.count(1):
            params: JSON = {"page": str(page), "per_page": str(VALIDATORS_PER_PAGE)}
            if resolved is not None:
                params["height"] = str(resolved)
            block_height, page_total, entries = self._parse(
                endpoint, parse_validators_page, self._single(endpoint, "validators", params)
            )
            if resolved is None:
                resolved = block_height  # pin later pages to the height the first page was read at
            if block_height != resolved or (total is not None and page_total != total):
                raise InconsistentResponseError(
                    f"validators page {page} is for height {block_height} / total {page_total}, "
                    f"expected {resolved} / {total}",
                    endpoint=endpoint.url,
                )
            if page_total > MAX_VALIDATORS:
                raise MalformedResponseError(f"validator set of {page_total} members", endpoint=endpoint.url)
            total = page_total
            validators.extend(entries)
            if not entries or len(validators) >= total:
                break
        if total is None or resolved is None or len(validators) != total:
            raise InconsistentResponseError(
                f"validators: pages hold {len(validators)} entries, total says {total}", endpoint=endpoint.url
            )
        if len({validator.address for validator in validators}) != len(validators):
            raise InconsistentResponseError("validators: repeated validator address", endpoint=endpoint.url)
        return ValidatorSet(resolved, tuple(validators))


def _looks_like_rpc_error(decoded: Any) -> bool:
    return isinstance(decoded, dict) and isinstance(decoded.get("error"), dict)


def _unwrap(decoded: Any, request_id: int, endpoint: str) -> Any:
    """Check one JSON-RPC response object and return its result (or raise its typed error)."""
    if not isinstance(decoded, dict):
        raise MalformedResponseError(
            f"answer is a JSON {type(decoded).__name__}, not an object", endpoint=endpoint
        )
    if decoded.get("jsonrpc") != JSONRPC_VERSION:
        raise MalformedResponseError(f"answer is not JSON-RPC 2.0: {str(decoded)[:120]}", endpoint=endpoint)
    if "error" in decoded and decoded["error"] is not None:
        raise rpc_error(decoded["error"], endpoint)
    if decoded.get("id") != request_id:
        raise MalformedResponseError(
            f"answer id {decoded.get('id')!r} does not match request id {request_id}", endpoint=endpoint
        )
    if "result" not in decoded:
        raise MalformedResponseError("answer has neither result nor error", endpoint=endpoint)
    return decoded["result"]


def iter_heights(first: int, last: int, batch: int) -> Iterator[tuple[int, int]]:
    """``(start, end)`` ranges of at most ``batch`` heights covering ``first..last``."""
    start = first
    while start <= last:
        end = min(last, start + batch - 1)
        yield start, end
        start = end + 1


__all__ = [
    "DEFAULT_RPC_TIMEOUT_S",
    "Block",
    "BlockHeader",
    "BlockResults",
    "CometRpcClient",
    "CommittedBlock",
    "EndpointStats",
    "NodeStatus",
    "RawAttribute",
    "RawEvent",
    "TxResult",
    "Validator",
    "ValidatorSet",
    "parse_rfc3339_nano",
    "websocket_url",
]
