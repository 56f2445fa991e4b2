"""The CometBFT 0.37 RPC methods the devnet serves, over a :class:`BlockStore`, without any IO.

Each method takes already-decoded arguments and returns the ``result`` object; failures raise
:class:`RpcError` carrying CometBFT's JSON-RPC error (code, message, data) with the node's own
wording (``rpc/core`` and ``rpc/jsonrpc`` of CometBFT 0.37), so a client sees the same errors it
would see from a real node. Argument decoding follows CometBFT's two front ends: JSON-RPC params go
through ``libs/json`` (64-bit integers must be quoted strings, bytes are base64) and URI query
arguments through ``http_uri_handler`` (bare integers, ``0x`` hex, quoted strings).

``tx_search`` / ``block_search`` evaluate CometBFT's query language (:mod:`devnet.rpc.query`) over
:class:`SearchIndex`, the attributes the node's kv indexers would hold, kept in memory and caught up
from the append-only store. ``abci_query`` is :class:`AbciQueryRouter`: the Cosmos SDK's
gRPC-over-ABCI dispatch onto the devnet gRPC server's own query handlers, with the SDK's error codes.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
import math
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any

import grpc

from devnet.chain.blockstore import Block, BlockStore, Event
from devnet.rpc import encoding
from devnet.rpc.encoding import JSON, NodeIdentity
from devnet.rpc.query import Condition, EventQuery, QueryParseError
from relayer.errors import ProtocolError

# JSON-RPC error codes and messages (rpc/jsonrpc/types).
PARSE_ERROR = (-32700, "Parse error. Invalid JSON")
INVALID_REQUEST = (-32600, "Invalid Request")
METHOD_NOT_FOUND = (-32601, "Method not found")
INVALID_PARAMS = (-32602, "Invalid params")
INTERNAL_ERROR = (-32603, "Internal error")
SERVER_ERROR = (-32000, "Server error")

# rpc/core: pages of /validators, /tx_search and /block_search (validatePerPage).
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100
VALIDATORS_DEFAULT_PER_PAGE = DEFAULT_PER_PAGE
VALIDATORS_MAX_PER_PAGE = MAX_PER_PAGE
# rpc/core: /tx_search refuses longer queries (maxQueryLength).
MAX_QUERY_LENGTH = 512
# Blocks decoded at a time while the search index catches up with the store: bounds memory.
SEARCH_SCAN_CHUNK_BLOCKS = 256
# Event keys the indexers add themselves (types.TxHashKey, TxHeightKey, BlockHeightKey).
TX_HASH_KEY = "tx.hash"
TX_HEIGHT_KEY = "tx.height"
BLOCK_HEIGHT_KEY = "block.height"
ORDER_BY_ERROR = "expected order_by to be either `asc` or `desc` or empty"
# rpc/core: /blockchain returns at most this many block metas.
BLOCKCHAIN_MAX_METAS = 20

_INT_STRING = re.compile(r"^-?[0-9]+$")
_JSON_INTEGER = re.compile(r"^-?(0|[1-9][0-9]*)$")
_JSON_NUMBER = re.compile(r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$")
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class RpcError(Exception):
    """A JSON-RPC error object: ``{"code", "message", "data"}`` (data omitted when empty)."""

    def __init__(self, code_and_message: tuple[int, str], data: str = "") -> None:
        super().__init__(f"RPC error {code_and_message[0]} - {code_and_message[1]}: {data}")
        self.code, self.message = code_and_message
        self.data = data

    def to_json(self) -> JSON:
        out: JSON = {"code": self.code, "message": self.message}
        if self.data:
            out["data"] = self.data
        return out


def internal_error(data: str) -> RpcError:
    return RpcError(INTERNAL_ERROR, data)


class ArgKind(Enum):
    """Go types of RPC arguments, which decide how a value is decoded."""

    INT64_PTR = "*int64"  # height, page, per_page: null/absent means "not given"
    INT64 = "int64"  # minHeight, maxHeight: absent means 0
    BYTES = "[]byte"  # hash
    BOOL = "bool"  # prove
    STRING = "string"  # query, path, order_by
    HEX_BYTES = "bytes.HexBytes"  # abci_query data: hex in JSON, 0x-hex or quoted text in URIs


class _ArgumentError(ValueError):
    """A value cannot be converted to its Go type; the message is Go's."""


def _go_quote(text: str) -> str:
    """Go's %q for ASCII text."""
    return json.dumps(text)


def _decode_go_json_int(raw_number: str) -> int:
    """stdlib ``json.Unmarshal`` of the text inside the quotes into an int64."""
    if not raw_number:
        raise _ArgumentError("unexpected end of JSON input")
    if _JSON_INTEGER.fullmatch(raw_number):
        value = int(raw_number)
        if not INT64_MIN <= value <= INT64_MAX:
            raise _ArgumentError(f"json: cannot unmarshal number {raw_number} into Go value of type int64")
        return value
    if _JSON_NUMBER.fullmatch(raw_number):
        raise _ArgumentError(f"json: cannot unmarshal number {raw_number} into Go value of type int64")
    raise _ArgumentError(f"invalid character {raw_number[0]!r} looking for beginning of value")


def _decode_libs_json_int(raw_json: str) -> int:
    """libs/json decoding of a 64-bit integer from raw JSON text: it must be a quoted string."""
    if len(raw_json) < 2 or raw_json[0] != '"' or raw_json[-1] != '"':
        raise _ArgumentError(f"invalid 64-bit integer encoding {_go_quote(raw_json)}, expected string")
    return _decode_go_json_int(raw_json[1:-1])


def decode_json_arg(kind: ArgKind, value: Any) -> Any:
    """A JSON-RPC param (already parsed by Python's json) -> Python value, as libs/json would."""
    if value is None:
        return _absent(kind)
    raw = json.dumps(value, separators=(",", ":"))
    if kind in (ArgKind.INT64, ArgKind.INT64_PTR):
        return _decode_libs_json_int(raw)
    if kind is ArgKind.HEX_BYTES:
        if not isinstance(value, str):
            raise _ArgumentError(f"invalid hex string: {raw}")
        try:
            return go_hex_decode(value)
        except ValueError as exc:
            raise _ArgumentError(str(exc)) from exc
    if kind is ArgKind.BYTES:
        if not isinstance(value, str):
            kind_name = type(value).__name__
            raise _ArgumentError(f"json: cannot unmarshal {kind_name} into Go value of type []uint8")
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error as exc:
            raise _ArgumentError(f"illegal base64 data: {exc}") from exc
    if kind is ArgKind.STRING:
        if not isinstance(value, str):
            raise _ArgumentError(f"json: cannot unmarshal {raw} into Go value of type string")
        return value
    if not isinstance(value, bool):
        raise _ArgumentError(f"json: cannot unmarshal {raw} into Go value of type bool")
    return value


def _absent(kind: ArgKind) -> Any:
    """The Go zero value an absent/null argument decodes to (nil for pointers)."""
    return {ArgKind.INT64: 0, ArgKind.BOOL: False, ArgKind.HEX_BYTES: b"", ArgKind.STRING: ""}.get(kind)


def go_hex_decode(text: str) -> bytes:
    """Go ``hex.DecodeString`` with its error wording (bad bytes are reported before odd length)."""
    digits = "0123456789abcdefABCDEF"
    for char in text:
        if char not in digits:
            raise ValueError(f"encoding/hex: invalid byte: U+{ord(char):04X} {char!r}")
    if len(text) % 2:
        raise ValueError("encoding/hex: odd length hex string")
    return bytes.fromhex(text)


def decode_uri_arg(kind: ArgKind, text: str) -> Any:
    """A URI query argument -> Python value, as CometBFT's ``httpParamsToArgs`` would."""
    if kind is ArgKind.HEX_BYTES and (text.lower().startswith("0x") or text.startswith('"')):
        return decode_uri_arg(ArgKind.BYTES, text)
    expecting_int = kind in (ArgKind.INT64, ArgKind.INT64_PTR)
    if _INT_STRING.fullmatch(text) and expecting_int:
        return _decode_go_json_int(text)
    if text.lower().startswith("0x"):
        if kind not in (ArgKind.BYTES, ArgKind.STRING):
            raise _ArgumentError(f"got a hex string arg, but expected '{kind.value.lstrip('*')}'")
        try:
            decoded = bytes.fromhex(text[2:])
        except ValueError as exc:
            raise _ArgumentError(f"encoding/hex: invalid byte in {text[2:]!r}") from exc
        return decoded if kind is ArgKind.BYTES else decoded.decode("utf-8", "replace")
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"' and kind is ArgKind.BYTES:
        return text[1:-1].encode()
    if expecting_int:
        return _decode_libs_json_int(text)
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        bad = text[exc.pos : exc.pos + 1]
        raise _ArgumentError(f"invalid character {bad!r} looking for beginning of value") from exc
    return decode_json_arg(kind, parsed)


@dataclass(frozen=True)
class Method:
    """A registered RPC route: its argument names/kinds and whether it is websocket-only."""

    name: str
    args: tuple[tuple[str, ArgKind], ...]
    handler: Callable[..., JSON | None]
    ws_only: bool = False
    # Cacheable when this argument is given (CometBFT sets Cache-Control: public, max-age=86400).
    cache_arg: str | None = None
    # Cacheable whatever the arguments (``rpc.Cacheable()`` without an argument name: /genesis).
    cache_always: bool = False

    def call_with_json_params(self, params: Any) -> JSON | None:
        """JSON-RPC params: an object (by name), an array (by position) or null."""
        if params is None:
            params = {}
        if isinstance(params, Mapping):
            values = [decode_json_arg(kind, params.get(name)) for name, kind in self.args]
        elif isinstance(params, list):
            if len(params) != len(self.args):
                names = "[" + " ".join(name for name, _ in self.args) + "]"
                raise _ArgumentError(
                    f"expected {len(self.args)} parameters ({names}), got {len(params)} ({params})"
                )
            pairs = zip(self.args, params, strict=True)
            values = [decode_json_arg(kind, value) for (_, kind), value in pairs]
        else:
            raise _ArgumentError(
                "unknown type for JSON params: json: cannot unmarshal "
                f"{type(params).__name__} into Go value of type []json.RawMessage. Expected map or array"
            )
        return self.handler(*values)

    def call_with_uri_args(self, query: Mapping[str, str]) -> JSON | None:
        values: list[Any] = []
        for name, kind in self.args:
            text = query.get(name, "")
            if text == "":
                values.append(_absent(kind))
            else:
                values.append(decode_uri_arg(kind, text))
        return self.handler(*values)

    def is_cacheable(self, given: Mapping[str, Any]) -> bool:
        if self.cache_always:
            return True
        return self.cache_arg is not None and given.get(self.cache_arg) not in (None, "", 0)


ArgumentError = _ArgumentError


def page_bounds(total: int, page: int | None, per_page: int | None) -> tuple[int, int]:
    """rpc/core ``validatePerPage`` + ``validatePage`` + ``validateSkipCount``: (skip, size) of the
    requested page of ``total`` items; a page outside ``[1, pages]`` is the node's error."""
    size = DEFAULT_PER_PAGE if per_page is None or per_page < 1 else min(per_page, MAX_PER_PAGE)
    pages = max((total - 1) // size + 1, 1) if total > 0 else 1
    if page is not None and (page <= 0 or page > pages):
        raise internal_error(f"page should be within [1, {pages}] range, given {page}")
    skip = ((page or 1) - 1) * size
    return skip, max(min(size, total - skip), 0)


def _indexed_events(events: Sequence[Event]) -> tuple[tuple[str, dict[str, list[str]]], ...]:
    """What the kv indexers store for these events, event by event: ``(type, {"type.key": values})``
    of the attributes flagged ``index`` (events without a type and attributes without a key are
    skipped, as the node does)."""
    out = []
    for event in events:
        if not event.type:
            continue
        attributes: dict[str, list[str]] = {}
        for attribute in event.attributes:
            if attribute.key and attribute.index:
                attributes.setdefault(f"{event.type}.{attribute.key}", []).append(attribute.value)
        if attributes:
            out.append((event.type, attributes))
    return tuple(out)


def _matches_indexed(query: EventQuery, entry: IndexEntry, height_key: str) -> bool:
    """kv indexer matching: the height key holds the entry's height; the conditions on one event
    type (``type.key``, type = the tag before its last dot) must all hold within a single event of
    that type (the node stores an event sequence with each attribute since 0.34.26), while
    conditions on different types are independent. Keys nobody indexes (``tm.event``) match nothing."""
    groups: dict[str, list[Condition]] = {}
    for condition in query.conditions:
        if condition.tag == height_key:
            if not condition.matches([str(entry.height)]):
                return False
        else:
            groups.setdefault(condition.tag.rpartition(".")[0], []).append(condition)
    for event_type, conditions in groups.items():
        if not any(
            all(c.tag in attributes and c.matches(attributes[c.tag]) for c in conditions)
            for kind, attributes in entry.events
            if kind == event_type
        ):
            return False
    return True


def _height_window(conditions: Sequence[Condition], key: str, low: int, high: int) -> tuple[int, int]:
    """Narrow the heights to scan with the numeric conditions on the height key (an optimisation:
    every block in the window is still checked against every condition)."""
    for condition in conditions:
        if condition.tag != key or not isinstance(condition.value, Decimal):
            continue
        bound = condition.value
        if condition.op == "=":
            low, high = max(low, math.ceil(bound)), min(high, math.floor(bound))
        elif condition.op in (">", ">="):
            low = max(low, math.floor(bound) + 1 if condition.op == ">" else math.ceil(bound))
        elif condition.op in ("<", "<="):
            high = min(high, math.ceil(bound) - 1 if condition.op == "<" else math.floor(bound))
    return low, high


def _arg_text(value: Any) -> str:
    """``syntax.Arg.Value()``: the literal's text."""
    return value if isinstance(value, str) else str(value)


class _GrpcAbortError(ProtocolError):
    """A query handler ended its call with a gRPC status (``context.abort``)."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"rpc error: code = {_go_code_name(code)} desc = {details}")
        self.code = code


def _go_code_name(code: grpc.StatusCode) -> str:
    """grpc-go's ``codes.Code.String()``: NOT_FOUND -> NotFound."""
    return "OK" if code is grpc.StatusCode.OK else "".join(p.capitalize() for p in code.name.split("_"))


class _AbciQueryContext:
    """The ``grpc.ServicerContext`` surface the servicers use, for calls made over ABCI."""

    def __init__(self) -> None:
        self.code: grpc.StatusCode | None = None
        self.details = ""

    def abort(self, code: grpc.StatusCode, details: str) -> None:
        raise _GrpcAbortError(code, details)

    def set_code(self, code: grpc.StatusCode) -> None:
        self.code = code

    def set_details(self, details: str) -> None:
        self.details = details

    def send_initial_metadata(self, _metadata: Any) -> None:
        pass  # ABCI answers carry the height in the response instead

    def invocation_metadata(self) -> tuple[()]:
        return ()

    def is_active(self) -> bool:
        return True

    def status_of(self, exc: Exception) -> _GrpcAbortError:
        """The status grpcio would answer with when the handler raised ``exc``."""
        if isinstance(exc, _GrpcAbortError):
            return exc
        if self.code is not None and self.code is not grpc.StatusCode.OK:  # e.g. generated "unimplemented"
            return _GrpcAbortError(self.code, self.details)
        return _GrpcAbortError(grpc.StatusCode.UNKNOWN, f"Exception calling application: {exc}")


# Cosmos SDK registered errors (types/errors, codespace "sdk"): code and message.
SDK_CODESPACE = "sdk"
SDK_ERR_UNAUTHORIZED = (4, "unauthorized")
SDK_ERR_UNKNOWN_REQUEST = (6, "unknown request")
SDK_ERR_INVALID_REQUEST = (18, "invalid request")
SDK_ERR_KEY_NOT_FOUND = (22, "key not found")
SDK_ERR_INVALID_HEIGHT = (26, "invalid height")
SDK_ERR_NOT_SUPPORTED = (37, "feature not supported")
# baseapp gRPCErrorToSDKError: the status code decides the SDK error a gRPC query failure becomes.
_SDK_ERROR_FOR_STATUS = {
    grpc.StatusCode.NOT_FOUND: SDK_ERR_KEY_NOT_FOUND,
    grpc.StatusCode.INVALID_ARGUMENT: SDK_ERR_INVALID_REQUEST,
    grpc.StatusCode.FAILED_PRECONDITION: SDK_ERR_INVALID_REQUEST,
    grpc.StatusCode.UNAUTHENTICATED: SDK_ERR_UNAUTHORIZED,
}


class AbciQueryRouter:
    """``abci_query`` as a Cosmos SDK 0.47 ``BaseApp.Query`` answers it over gRPC-over-ABCI paths.

    ``handlers`` maps ``/<package>.<Service>/<Method>`` to the handlers the devnet's gRPC server runs
    (:func:`devnet.grpc.server.query_method_handlers`), so both front ends answer identically. The
    devnet keeps only the latest state: a height below the latest is refused as a pruned node
    refuses it. gRPC-over-ABCI answers carry no proof on a real node either.
    """

    def __init__(
        self,
        handlers: Mapping[str, grpc.RpcMethodHandler],
        latest_height: Callable[[], int],
        app_version: str = "",
    ) -> None:
        self._handlers = dict(handlers)
        self._latest_height = latest_height
        self._app_version = app_version

    @property
    def paths(self) -> list[str]:
        return sorted(self._handlers)

    @staticmethod
    def _error(error: tuple[int, str], message: str, height: int = 0) -> JSON:
        """``sdkerrors.QueryResult(errorsmod.Wrap(error, message))``: log is "message: error"."""
        code, text = error
        return encoding.response_query_json(
            code=code, log=f"{message}: {text}", height=height, codespace=SDK_CODESPACE
        )

    def _app_query(self, parts: Sequence[str], height: int) -> JSON:
        """baseapp ``handleQueryApp``: ``/app/version``; the devnet cannot simulate SDK transactions."""
        if len(parts) < 2:
            return self._error(
                SDK_ERR_UNKNOWN_REQUEST,
                "expected second parameter to be either 'simulate' or 'version', neither was present",
            )
        if parts[1] == "version":  # the SDK sets its codespace even on this success
            return encoding.response_query_json(
                value=self._app_version.encode(), height=height, codespace=SDK_CODESPACE
            )
        if parts[1] == "simulate":
            return self._error(SDK_ERR_NOT_SUPPORTED, "the devnet does not simulate transactions")
        return self._error(SDK_ERR_UNKNOWN_REQUEST, f"unknown query: [{' '.join(parts)}]")

    def query(self, path: str, data: bytes, height: int, prove: bool) -> JSON:
        latest = self._latest_height()
        if height == 0:  # "when a client did not provide a query height, manually inject the latest"
            height = latest
        handler = self._handlers.get(path)
        if handler is None:
            if not path.strip("/"):
                return self._error(SDK_ERR_UNKNOWN_REQUEST, "no query path provided")
            parts = path.removeprefix("/").split("/")  # baseapp SplitABCIQueryPath
            if parts[0] == "app":
                return self._app_query(parts, height)
            if parts[0] == "store":
                return self._error(SDK_ERR_UNKNOWN_REQUEST, "multistore doesn't support queries")
            return self._error(SDK_ERR_UNKNOWN_REQUEST, "unknown query path")
        # BaseApp.CreateQueryContext
        valid = "please provide a valid height"
        if height < 0:
            return self._error(SDK_ERR_INVALID_REQUEST, f"cannot query with height < 0; {valid}")
        if height > latest:
            return self._error(SDK_ERR_INVALID_HEIGHT, f"cannot query with height in the future; {valid}")
        if height <= 1 and prove:
            return self._error(SDK_ERR_INVALID_REQUEST, f"cannot query with proof when height <= 1; {valid}")
        if height != latest:
            return self._error(
                SDK_ERR_INVALID_REQUEST,
                f"failed to load state at height {height}; version does not exist (latest height: {latest})",
            )
        try:
            request = handler.request_deserializer(data)
        except Exception as exc:  # undecodable request: not a gRPC status, so "invalid request"
            return self._error(SDK_ERR_INVALID_REQUEST, str(exc), height)
        context = _AbciQueryContext()
        try:
            response = handler.unary_unary(request, context)
        except Exception as exc:  # the handler's status (abort, set_code, or an unexpected failure)
            status = context.status_of(exc)
            sdk_error = _SDK_ERROR_FOR_STATUS.get(status.code, SDK_ERR_UNKNOWN_REQUEST)
            return self._error(sdk_error, str(status), height)
        return encoding.response_query_json(value=handler.response_serializer(response), height=height)


@dataclass(frozen=True)
class IndexEntry:
    """One indexed transaction (``index`` its position in the block) or block (``index`` -1) and
    its indexed events."""

    height: int
    index: int
    events: tuple[tuple[str, dict[str, list[str]]], ...]


class SearchIndex:
    """What the node's kv indexers hold, in memory: per transaction and per block, the indexed
    attributes. Brought up to date from the (append-only) store at each search, so a search costs a
    pass over small dicts instead of decoding every stored block."""

    def __init__(self, store: BlockStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._indexed_to = 0
        self._txs: list[IndexEntry] = []
        self._blocks: list[IndexEntry] = []

    def _catch_up(self) -> None:
        with self._lock:
            latest = self._store.latest_height or 0
            low = max(self._indexed_to + 1, self._store.base_height or 1)
            for start in range(low, latest + 1, SEARCH_SCAN_CHUNK_BLOCKS):
                for block in self._store.range(start, min(start + SEARCH_SCAN_CHUNK_BLOCKS - 1, latest)):
                    self._add(block)
            self._indexed_to = max(self._indexed_to, latest)

    def _add(self, block: Block) -> None:
        for index, result in enumerate(block.tx_results):
            self._txs.append(IndexEntry(block.height, index, _indexed_events(result.events)))
        events = _indexed_events((*block.begin_block_events, *block.end_block_events))
        self._blocks.append(IndexEntry(block.height, -1, events))

    @staticmethod
    def _window(entries: list[IndexEntry], low: int, high: int) -> list[IndexEntry]:
        first = bisect.bisect_left(entries, low, key=lambda entry: entry.height)
        last = bisect.bisect_right(entries, high, key=lambda entry: entry.height)
        return entries[first:last]

    def txs(self, low: int, high: int) -> list[IndexEntry]:
        """Indexed transactions at heights ``low..high``, in (height, index) order."""
        self._catch_up()
        return self._window(self._txs, low, high)

    def blocks(self, low: int, high: int) -> list[IndexEntry]:
        """Indexed blocks at heights ``low..high``, ascending."""
        self._catch_up()
        return self._window(self._blocks, low, high)


class CometRpcMethods:
    """The method table over one store. ``rpc_address`` feeds ``status.node_info.other``.

    ``genesis`` is the ``/genesis`` result, ``abci`` answers ``/abci_query`` and ``pending_txs``
    lists the transactions admitted but not yet in a block (``/num_unconfirmed_txs``); each is
    optional so the wire tests can serve a bare block store.
    """

    def __init__(
        self,
        store: BlockStore,
        identity: NodeIdentity,
        rpc_address: Callable[[], str],
        *,
        genesis: JSON | None = None,
        abci: AbciQueryRouter | None = None,
        pending_txs: Callable[[], Sequence[bytes]] | None = None,
    ) -> None:
        self._store = store
        self._identity = identity
        self._rpc_address = rpc_address
        self._genesis = genesis
        self._abci = abci or AbciQueryRouter({}, self._latest_height)
        self._pending_txs = pending_txs
        self._index = SearchIndex(store)
        height = ("height", ArgKind.INT64_PTR)
        page = (("page", ArgKind.INT64_PTR), ("per_page", ArgKind.INT64_PTR))
        query = ("query", ArgKind.STRING)
        order_by = ("order_by", ArgKind.STRING)
        self.methods: dict[str, Method] = {
            m.name: m
            for m in (
                Method("health", (), self.health),
                Method("status", (), self.status),
                Method("abci_info", (), self.abci_info),
                Method("block", (height,), self.block, cache_arg="height"),
                Method("block_by_hash", (("hash", ArgKind.BYTES),), self.block_by_hash, cache_arg="hash"),
                Method("block_results", (height,), self.block_results, cache_arg="height"),
                Method("header", (height,), self.header, cache_arg="height"),
                Method("header_by_hash", (("hash", ArgKind.BYTES),), self.header_by_hash, cache_arg="hash"),
                Method(
                    "blockchain",
                    (("minHeight", ArgKind.INT64), ("maxHeight", ArgKind.INT64)),
                    self.blockchain,
                ),
                Method(
                    "validators",
                    (height, ("page", ArgKind.INT64_PTR), ("per_page", ArgKind.INT64_PTR)),
                    self.validators,
                    cache_arg="height",
                ),
                Method("tx", (("hash", ArgKind.BYTES), ("prove", ArgKind.BOOL)), self.tx, cache_arg="hash"),
                Method("tx_search", (query, ("prove", ArgKind.BOOL), *page, order_by), self.tx_search),
                Method("block_search", (query, *page, order_by), self.block_search),
                Method("commit", (height,), self.commit, cache_arg="height"),
                Method("genesis", (), self.genesis, cache_always=True),
                Method(
                    "abci_query",
                    (
                        ("path", ArgKind.STRING),
                        ("data", ArgKind.HEX_BYTES),
                        ("height", ArgKind.INT64),
                        ("prove", ArgKind.BOOL),
                    ),
                    self.abci_query,
                ),
                Method("num_unconfirmed_txs", (), self.num_unconfirmed_txs),
                # Websocket-only; served by the websocket handler, listed so HTTP answers like CometBFT.
                Method("subscribe", (("query", ArgKind.STRING),), self._ws_only, ws_only=True),
                Method("unsubscribe", (("query", ArgKind.STRING),), self._ws_only, ws_only=True),
                Method("unsubscribe_all", (), self._ws_only, ws_only=True),
            )
        }

    def set_abci(self, router: AbciQueryRouter) -> None:
        self._abci = router

    @staticmethod
    def _ws_only(*_args: Any) -> JSON:
        raise RpcError(METHOD_NOT_FOUND)

    # -- helpers --

    def _latest_height(self) -> int:
        return self._store.latest_height or 0

    def _height(self, latest: int, requested: int | None) -> int:
        """rpc/core ``getHeight``: resolve an optional height against the store."""
        if requested is None:
            return latest
        if requested <= 0:
            raise internal_error(f"height must be greater than 0, but got {requested}")
        if requested > latest:
            raise internal_error(
                f"height {requested} must be less than or equal to the current blockchain height {latest}"
            )
        base = self._store.base_height or 0
        if requested < base:
            raise internal_error(f"height {requested} is not available, lowest height is {base}")
        return requested

    def _block(self, height: int) -> Block | None:
        return self._store.get(height) if height > 0 else None

    # -- methods --

    def health(self) -> JSON:
        return {}

    def status(self) -> JSON:
        latest = self._store.latest()
        base = self._store.base_height
        earliest = self._store.get(base) if base is not None else None
        return encoding.status_json(
            self._identity, self._store.chain_id, self._rpc_address(), earliest, latest
        )

    def abci_info(self) -> JSON:
        return encoding.abci_info_json(self._identity, self._store.latest())

    def block(self, height: int | None) -> JSON:
        block = self._block(self._height(self._latest_height(), height))
        if block is None:
            return {"block_id": encoding.block_id_json(None), "block": None}
        return encoding.result_block_json(block)

    def block_by_hash(self, block_hash: bytes | None) -> JSON:
        block = self._store.get_by_hash(block_hash or b"")
        if block is None:
            return {"block_id": encoding.block_id_json(None), "block": None}
        return encoding.result_block_json(block)

    def header(self, height: int | None) -> JSON:
        block = self._block(self._height(self._latest_height(), height))
        return {"header": None if block is None else encoding.header_json(block)}

    def header_by_hash(self, block_hash: bytes | None) -> JSON:
        block = self._store.get_by_hash(block_hash or b"")
        return {"header": None if block is None else encoding.header_json(block)}

    def block_results(self, height: int | None) -> JSON:
        resolved = self._height(self._latest_height(), height)
        block = self._block(resolved)
        if block is None:
            raise internal_error(f"could not find results for height #{resolved}")
        return encoding.block_results_json(block)

    def blockchain(self, min_height: int, max_height: int) -> JSON:
        latest = self._latest_height()
        base = self._store.base_height or 0
        if min_height < 0 or max_height < 0:
            raise internal_error("heights must be non-negative")
        if min_height == 0:
            min_height = 1
        if max_height == 0:
            max_height = latest
        max_height = min(latest, max_height)
        min_height = max(base, min_height)
        min_height = max(min_height, max_height - BLOCKCHAIN_MAX_METAS + 1)
        if min_height > max_height:
            raise internal_error(f"min height {min_height} can't be greater than max height {max_height}")
        metas = [
            encoding.block_meta_json(block) for block in reversed(self._store.range(min_height, max_height))
        ]
        return {"last_height": str(latest), "block_metas": metas}

    def validators(self, height: int | None, page: int | None, per_page: int | None) -> JSON:
        # The latest validators CometBFT knows are the next validators of the last block.
        latest = self._latest_height()
        resolved = self._height(latest + 1, height)
        if resolved == latest + 1:
            tip = self._block(latest)
            if tip is None:
                raise internal_error(f"could not find validator set for height #{resolved}")
            validators: Sequence[Any] = tip.next_validators
        else:
            block = self._block(resolved)
            if block is None:
                raise internal_error(f"could not find validator set for height #{resolved}")
            validators = block.validators
        total = len(validators)
        skip, size = page_bounds(total, page, per_page)
        return encoding.result_validators_json(resolved, validators[skip : skip + size], total)

    def tx(self, tx_hash: bytes | None, prove: bool) -> JSON:
        location = self._store.find_tx(tx_hash or b"")
        block = None if location is None else self._store.get(location.height)
        if location is None or block is None:
            raise internal_error(f"tx ({(tx_hash or b'').hex().upper()}) not found")
        return encoding.result_tx_with_proof_json(block, location.index, prove)

    # -- search (the node's kv indexers over the store) --

    @staticmethod
    def _parse(query: str) -> EventQuery:
        try:
            return EventQuery.parse(query)
        except QueryParseError as exc:
            raise internal_error(str(exc)) from exc

    def _search_txs(self, query: EventQuery) -> list[tuple[int, int]]:
        """state/txindex/kv ``Search``: a ``tx.hash`` condition answers alone (the node looks the
        hash up and ignores the rest); otherwise every condition must hold (:func:`_matches_indexed`).
        Hits are (height, index), in that order."""
        for condition in query.conditions:
            if condition.tag == TX_HASH_KEY:
                try:
                    wanted = go_hex_decode(_arg_text(condition.value))
                except ValueError as exc:
                    raise internal_error(f"error during searching for a hash in the query: {exc}") from exc
                location = self._store.find_tx(wanted)
                return [] if location is None else [(location.height, location.index)]
        low, high = _height_window(query.conditions, TX_HEIGHT_KEY, 1, INT64_MAX)
        entries = self._index.txs(low, high)
        return [
            (entry.height, entry.index) for entry in entries if _matches_indexed(query, entry, TX_HEIGHT_KEY)
        ]

    def _search_blocks(self, query: EventQuery) -> list[int]:
        """state/indexer/block/kv ``Search`` over ``block.height`` and the begin-block and end-block
        events (:func:`_matches_indexed`). Heights ascending."""
        low, high = _height_window(query.conditions, BLOCK_HEIGHT_KEY, 1, INT64_MAX)
        entries = self._index.blocks(low, high)
        return [entry.height for entry in entries if _matches_indexed(query, entry, BLOCK_HEIGHT_KEY)]

    def _loaded(self, height: int) -> Block:
        block = self._store.get(height)
        if block is None:  # the store is append-only: an indexed height is always there
            raise internal_error(f"could not find block at height {height}")
        return block

    def tx_search(
        self, query: str, prove: bool, page: int | None, per_page: int | None, order_by: str
    ) -> JSON:
        if len(query) > MAX_QUERY_LENGTH:
            raise internal_error("maximum query length exceeded")
        found = self._search_txs(self._parse(query))
        if order_by not in ("", "asc", "desc"):
            raise internal_error(ORDER_BY_ERROR)
        if order_by == "desc":
            found.reverse()
        skip, size = page_bounds(len(found), page, per_page)
        txs = [
            encoding.result_tx_with_proof_json(self._loaded(height), index, prove)
            for height, index in found[skip : skip + size]
        ]
        return encoding.result_tx_search_json(txs, len(found))

    def block_search(self, query: str, page: int | None, per_page: int | None, order_by: str) -> JSON:
        found = self._search_blocks(self._parse(query))
        if order_by not in ("", "asc", "desc"):
            raise internal_error(ORDER_BY_ERROR)
        # The node's default order here is descending (tx_search's is ascending).
        found.sort(reverse=order_by != "asc")
        skip, size = page_bounds(len(found), page, per_page)
        blocks = [self._loaded(height) for height in found[skip : skip + size]]
        return encoding.result_block_search_json(blocks, len(found))

    # -- commit, genesis, abci_query, mempool --

    def commit(self, height: int | None) -> JSON | None:
        latest = self._latest_height()
        resolved = self._height(latest, height)
        block = self._block(resolved)
        if block is None:
            return None
        following = self._block(resolved + 1) if resolved < latest else None
        if following is None:  # the tip: the commit seen for it, not yet in a block
            return encoding.result_commit_json(block, encoding.seen_commit(block), canonical=False)
        return encoding.result_commit_json(block, following.last_commit, canonical=True)

    def genesis(self) -> JSON:
        if self._genesis is None:
            raise internal_error("genesis is not available")
        return self._genesis

    def abci_query(self, path: str, data: bytes, height: int, prove: bool) -> JSON:
        return self._abci.query(path, data, height, prove)

    def num_unconfirmed_txs(self) -> JSON:
        pending = list(self._pending_txs()) if self._pending_txs is not None else []
        return encoding.result_unconfirmed_txs_json(len(pending), sum(len(tx) for tx in pending))
