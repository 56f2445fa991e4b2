"""The CometBFT 0.37 RPC methods the devnet serves, over a :class:`BlockStore`, without any IO.

Each method takes already-decoded arguments and returns the ``result`` object; failures raise
:class:`RpcError` carrying CometBFT's JSON-RPC error (code, message, data) with the node's own
wording (``rpc/core`` and ``rpc/jsonrpc`` of CometBFT 0.37), so a client sees the same errors it
would see from a real node. Argument decoding follows CometBFT's two front ends: JSON-RPC params go
through ``libs/json`` (64-bit integers must be quoted strings, bytes are base64) and URI query
arguments through ``http_uri_handler`` (bare integers, ``0x`` hex, quoted strings).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from devnet.chain.blockstore import Block, BlockStore
from devnet.rpc import encoding
from devnet.rpc.encoding import JSON, NodeIdentity

# JSON-RPC error codes and messages (rpc/jsonrpc/types).
PARSE_ERROR = (-32700, "Parse error. Invalid JSON")
INVALID_REQUEST = (-32600, "Invalid Request")
METHOD_NOT_FOUND = (-32601, "Method not found")
INVALID_PARAMS = (-32602, "Invalid params")
INTERNAL_ERROR = (-32603, "Internal error")
SERVER_ERROR = (-32000, "Server error")

# rpc/core: /validators pages.
VALIDATORS_DEFAULT_PER_PAGE = 30
VALIDATORS_MAX_PER_PAGE = 100
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
    STRING = "string"  # query


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
        return 0 if kind is ArgKind.INT64 else (False if kind is ArgKind.BOOL else None)
    raw = json.dumps(value, separators=(",", ":"))
    if kind in (ArgKind.INT64, ArgKind.INT64_PTR):
        return _decode_libs_json_int(raw)
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


def decode_uri_arg(kind: ArgKind, text: str) -> Any:
    """A URI query argument -> Python value, as CometBFT's ``httpParamsToArgs`` would."""
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
        bad = text[exc.pos:exc.pos + 1]
        raise _ArgumentError(f"invalid character {bad!r} looking for beginning of value") from exc
    return decode_json_arg(kind, parsed)


@dataclass(frozen=True)
class Method:
    """A registered RPC route: its argument names/kinds and whether it is websocket-only."""

    name: str
    args: tuple[tuple[str, ArgKind], ...]
    handler: Callable[..., JSON]
    ws_only: bool = False
    # Cacheable when this argument is given (CometBFT sets Cache-Control: public, max-age=86400).
    cache_arg: str | None = None

    def call_with_json_params(self, params: Any) -> JSON:
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

    def call_with_uri_args(self, query: Mapping[str, str]) -> JSON:
        values: list[Any] = []
        for name, kind in self.args:
            text = query.get(name, "")
            if text == "":
                values.append(0 if kind is ArgKind.INT64 else (False if kind is ArgKind.BOOL else None))
            else:
                values.append(decode_uri_arg(kind, text))
        return self.handler(*values)

    def is_cacheable(self, given: Mapping[str, Any]) -> bool:
        return self.cache_arg is not None and given.get(self.cache_arg) not in (None, "", 0)


ArgumentError = _ArgumentError


class CometRpcMethods:
    """The method table over one store. ``rpc_address`` feeds ``status.node_info.other``."""

    def __init__(self, store: BlockStore, identity: NodeIdentity, rpc_address: Callable[[], str]) -> None:
        self._store = store
        self._identity = identity
        self._rpc_address = rpc_address
        height = ("height", ArgKind.INT64_PTR)
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
                # Websocket-only; served by the websocket handler, listed so HTTP answers like CometBFT.
                Method("subscribe", (("query", ArgKind.STRING),), self._ws_only, ws_only=True),
                Method("unsubscribe", (("query", ArgKind.STRING),), self._ws_only, ws_only=True),
                Method("unsubscribe_all", (), self._ws_only, ws_only=True),
            )
        }

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
            encoding.block_meta_json(block)
            for block in reversed(self._store.range(min_height, max_height))
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
        size = VALIDATORS_DEFAULT_PER_PAGE if per_page is None or per_page < 1 else min(
            per_page, VALIDATORS_MAX_PER_PAGE
        )
        total = len(validators)
        pages = max((total - 1) // size + 1, 1)
        number = 1 if page is None else page
        if page is not None and (page <= 0 or page > pages):
            raise internal_error(f"page should be within [1, {pages}] range, given {page}")
        skip = (number - 1) * size
        return encoding.result_validators_json(resolved, validators[skip:skip + size], total)

    def tx(self, tx_hash: bytes | None, prove: bool) -> JSON:
        del prove  # proofs are not served by the devnet; the field is omitted as for prove=false
        location = self._store.find_tx(tx_hash or b"")
        block = None if location is None else self._store.get(location.height)
        if location is None or block is None:
            raise internal_error(f"tx ({(tx_hash or b'').hex().upper()}) not found")
        return encoding.result_tx_json(block, location.index)
