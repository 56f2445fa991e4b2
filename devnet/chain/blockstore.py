"""Committed blocks of the simulated Exocore chain, and the store the wire servers read them from.

The state machine builds a :class:`Block` per height (usually with :func:`next_block`) and calls
:meth:`BlockStore.append`; the CometBFT JSON-RPC / websocket server and the Cosmos gRPC tendermint
service only read. A block is final once appended (CometBFT finality is instant), so the store never
rewrites or removes one.

Hashes are deterministic functions of the block's contents. They are CometBFT-*shaped* (32-byte
SHA-256, RFC 6962 Merkle roots over the header fields, the empty hash is ``sha256(b"")``) but are
not byte-identical to a real node's, because nothing downstream verifies CometBFT light-client
proofs: the relayer trusts the BLS signatures of relay packets, not block hashes.

Persistence: one SQLite file (stdlib ``sqlite3``, WAL mode) so a devnet can be stopped and resumed;
``path=None`` keeps the same schema in memory for tests.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from relayer.errors import StorageError

_log = logging.getLogger(__name__)

ED25519_PUBKEY_LENGTH = 32
ADDRESS_LENGTH = 20
HASH_LENGTH = 32
# CometBFT's block protocol version in 0.37 (version.BlockProtocol); shown in every header.
BLOCK_PROTOCOL_VERSION = 11
# Decoded blocks kept in memory: the RPC serves the newest blocks over and over (status, NewBlock,
# block_results of the tip), so a small LRU avoids re-parsing JSON on every request.
DECODED_BLOCK_CACHE_SIZE = 256
SCHEMA_VERSION = 1

# CommitSig block_id_flag values (tendermint.types.BlockIDFlag).
BLOCK_ID_FLAG_ABSENT = 1
BLOCK_ID_FLAG_COMMIT = 2
BLOCK_ID_FLAG_NIL = 3

EMPTY_HASH = hashlib.sha256(b"").digest()


class BlockStoreError(StorageError):
    """The block store refused an operation or holds inconsistent data."""


class InvalidBlockError(BlockStoreError):
    """A block is malformed or does not extend the chain (wrong height, parent, chain id, time)."""


def _check_bytes(value: object, length: int | None, what: str) -> bytes:
    if not isinstance(value, bytes):
        raise InvalidBlockError(f"{what} must be bytes, got {type(value).__name__}")
    if length is not None and len(value) != length:
        raise InvalidBlockError(f"{what} must be {length} bytes, got {len(value)}")
    return value


def _check_int(value: object, what: str, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidBlockError(f"{what} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise InvalidBlockError(f"{what} must be >= {minimum}, got {value}")
    if value >= 2**63:
        raise InvalidBlockError(f"{what} must fit in int64, got {value}")
    return value


def merkle_root(items: Sequence[bytes]) -> bytes:
    """RFC 6962 Merkle root as CometBFT computes it (``crypto/merkle.HashFromByteSlices``)."""
    if not items:
        return EMPTY_HASH
    if len(items) == 1:
        return hashlib.sha256(b"\x00" + items[0]).digest()
    split = 1 << ((len(items) - 1).bit_length() - 1)
    left = merkle_root(items[:split])
    right = merkle_root(items[split:])
    return hashlib.sha256(b"\x01" + left + right).digest()


def _length_prefixed(*parts: bytes) -> bytes:
    return b"".join(len(part).to_bytes(4, "big") + part for part in parts)


def _int_bytes(value: int) -> bytes:
    return value.to_bytes(8, "big", signed=True)


@dataclass(frozen=True)
class EventAttribute:
    """One ABCI event attribute. CometBFT 0.37 keys and values are UTF-8 strings."""

    key: str
    value: str
    index: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not isinstance(self.value, str):
            raise InvalidBlockError("event attribute key and value must be str")
        if not isinstance(self.index, bool):
            raise InvalidBlockError("event attribute index must be bool")


@dataclass(frozen=True)
class Event:
    """An ABCI event: a type and its ordered attributes."""

    type: str
    attributes: tuple[EventAttribute, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.type, str) or not self.type:
            raise InvalidBlockError("event type must be a non-empty str")
        object.__setattr__(self, "attributes", tuple(self.attributes))
        for attribute in self.attributes:
            if not isinstance(attribute, EventAttribute):
                raise InvalidBlockError("event attributes must be EventAttribute values")

    @classmethod
    def of(cls, event_type: str, *pairs: tuple[str, str], index: bool = True) -> Event:
        """``Event.of("slash_executed", ("operator", "exo1…"), ("avs", "0x…"))``."""
        return cls(event_type, tuple(EventAttribute(key, value, index) for key, value in pairs))

    def get(self, key: str) -> str | None:
        """The value of the first attribute named ``key``, if any."""
        for attribute in self.attributes:
            if attribute.key == key:
                return attribute.value
        return None


@dataclass(frozen=True)
class TxResult:
    """The DeliverTx result of one transaction (ABCI ``ResponseDeliverTx``)."""

    code: int = 0
    data: bytes = b""
    log: str = ""
    info: str = ""
    gas_wanted: int = 0
    gas_used: int = 0
    events: tuple[Event, ...] = ()
    codespace: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.code, int) or not 0 <= self.code < 2**32:
            raise InvalidBlockError(f"tx result code must be a uint32, got {self.code!r}")
        _check_bytes(self.data, None, "tx result data")
        _check_int(self.gas_wanted, "gas_wanted", 0)
        _check_int(self.gas_used, "gas_used", 0)
        object.__setattr__(self, "events", tuple(self.events))

    @property
    def ok(self) -> bool:
        return self.code == 0

    def digest_bytes(self) -> bytes:
        """The deterministic part CometBFT hashes into ``last_results_hash`` (code, data, gas)."""
        return _length_prefixed(
            _int_bytes(self.code), self.data, _int_bytes(self.gas_wanted), _int_bytes(self.gas_used)
        )


@dataclass(frozen=True)
class Validator:
    """A CometBFT validator: ed25519 consensus key and voting power. Address = sha256(pubkey)[:20]."""

    pub_key: bytes
    voting_power: int
    proposer_priority: int = 0

    def __post_init__(self) -> None:
        _check_bytes(self.pub_key, ED25519_PUBKEY_LENGTH, "validator ed25519 pub_key")
        _check_int(self.voting_power, "voting_power", 1)
        if not isinstance(self.proposer_priority, int) or not -(2**63) <= self.proposer_priority < 2**63:
            raise InvalidBlockError("proposer_priority must be an int64")

    @property
    def address(self) -> bytes:
        return hashlib.sha256(self.pub_key).digest()[:ADDRESS_LENGTH]

    def digest_bytes(self) -> bytes:
        return _length_prefixed(self.pub_key, _int_bytes(self.voting_power))


@dataclass(frozen=True)
class ValidatorUpdate:
    """An EndBlock validator update (power 0 removes the validator); effective two heights later."""

    pub_key: bytes
    power: int

    def __post_init__(self) -> None:
        _check_bytes(self.pub_key, ED25519_PUBKEY_LENGTH, "validator update pub_key")
        _check_int(self.power, "validator update power", 0)


@dataclass(frozen=True)
class CommitSig:
    """One validator's precommit for the previous block, as carried in ``last_commit``.

    ``signature`` is whatever the state machine produced (the devnet holds no consensus keys, so it
    is opaque here); ``None`` renders as an absent vote (block_id_flag 1).
    """

    validator_address: bytes
    time_ns: int
    signature: bytes | None

    def __post_init__(self) -> None:
        _check_bytes(self.validator_address, ADDRESS_LENGTH, "commit validator_address")
        _check_int(self.time_ns, "commit time_ns", 0)
        if self.signature is not None:
            _check_bytes(self.signature, None, "commit signature")

    @property
    def block_id_flag(self) -> int:
        return BLOCK_ID_FLAG_ABSENT if self.signature is None else BLOCK_ID_FLAG_COMMIT

    def digest_bytes(self) -> bytes:
        signature = b"" if self.signature is None else self.signature
        return _length_prefixed(
            bytes([self.block_id_flag]), self.validator_address, _int_bytes(self.time_ns), signature
        )


@dataclass(frozen=True)
class BlockId:
    """``tendermint.types.BlockID``: the block hash and its part-set header."""

    hash: bytes
    part_set_total: int
    part_set_hash: bytes

    def __post_init__(self) -> None:
        _check_bytes(self.hash, HASH_LENGTH, "block id hash")
        _check_bytes(self.part_set_hash, HASH_LENGTH, "part set hash")
        _check_int(self.part_set_total, "part set total", 1)


def _validators_hash(validators: Sequence[Validator]) -> bytes:
    return merkle_root([validator.digest_bytes() for validator in validators])


def results_hash(tx_results: Sequence[TxResult]) -> bytes:
    """``last_results_hash`` of the *next* block: Merkle root over these results."""
    return merkle_root([result.digest_bytes() for result in tx_results])


# Consensus parameters reported in every block's EndBlock (the Cosmos SDK 0.47 returns them each
# block). Values are Exocore's genesis defaults (evidence max age 172800 s / 100000 blocks).
CONSENSUS_PARAMS: dict[str, Any] = {
    "block": {"max_bytes": "22020096", "max_gas": "-1"},
    "evidence": {
        "max_age_num_blocks": "100000",
        "max_age_duration": "172800000000000",
        "max_bytes": "1048576",
    },
    "validator": {"pub_key_types": ["ed25519"]},
}
CONSENSUS_HASH = hashlib.sha256(json.dumps(CONSENSUS_PARAMS, sort_keys=True).encode()).digest()


@dataclass(frozen=True)
class Block:
    """A committed block and its ABCI results: everything the RPC and gRPC servers show for a height.

    ``validators`` is the set that signs this height; ``next_validators`` the set for ``height + 1``
    (CometBFT applies EndBlock ``validator_updates`` two heights later). ``app_hash`` is the header
    field, i.e. the application state after the previous block.
    """

    chain_id: str
    height: int
    time_ns: int
    last_block_id: BlockId | None
    proposer_address: bytes
    app_hash: bytes
    validators: tuple[Validator, ...]
    next_validators: tuple[Validator, ...]
    txs: tuple[bytes, ...] = ()
    tx_results: tuple[TxResult, ...] = ()
    begin_block_events: tuple[Event, ...] = ()
    end_block_events: tuple[Event, ...] = ()
    validator_updates: tuple[ValidatorUpdate, ...] = ()
    last_commit: tuple[CommitSig, ...] = ()
    last_results_hash: bytes = field(default=EMPTY_HASH)

    def __post_init__(self) -> None:
        if not isinstance(self.chain_id, str) or not self.chain_id:
            raise InvalidBlockError("chain_id must be a non-empty str")
        _check_int(self.height, "height", 1)
        _check_int(self.time_ns, "time_ns", 0)
        if self.last_block_id is not None and not isinstance(self.last_block_id, BlockId):
            raise InvalidBlockError("last_block_id must be a BlockId or None")
        _check_bytes(self.proposer_address, ADDRESS_LENGTH, "proposer_address")
        _check_bytes(self.app_hash, None, "app_hash")
        _check_bytes(self.last_results_hash, HASH_LENGTH, "last_results_hash")
        for name in (
            "validators",
            "next_validators",
            "txs",
            "tx_results",
            "begin_block_events",
            "end_block_events",
            "validator_updates",
            "last_commit",
        ):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if not self.validators or not self.next_validators:
            raise InvalidBlockError("a block needs a non-empty validator set and next validator set")
        for tx in self.txs:
            _check_bytes(tx, None, "tx")
        if len(self.txs) != len(self.tx_results):
            raise InvalidBlockError(f"{len(self.txs)} txs but {len(self.tx_results)} tx results")
        addresses = [validator.address for validator in self.validators]
        if len(set(addresses)) != len(addresses):
            raise InvalidBlockError("duplicate validator in the validator set")
        if self.proposer_address not in addresses:
            raise InvalidBlockError("the proposer is not in the validator set")

    @property
    def tx_hashes(self) -> tuple[bytes, ...]:
        """CometBFT tx hashes: sha256 of the raw tx bytes."""
        return tuple(hashlib.sha256(tx).digest() for tx in self.txs)

    @cached_property
    def data_hash(self) -> bytes:
        return merkle_root(list(self.tx_hashes))

    @cached_property
    def validators_hash(self) -> bytes:
        return _validators_hash(self.validators)

    @cached_property
    def next_validators_hash(self) -> bytes:
        return _validators_hash(self.next_validators)

    @cached_property
    def last_commit_hash(self) -> bytes:
        return merkle_root([sig.digest_bytes() for sig in self.last_commit])

    @property
    def consensus_hash(self) -> bytes:
        return CONSENSUS_HASH

    @property
    def evidence_hash(self) -> bytes:
        return EMPTY_HASH

    @cached_property
    def hash(self) -> bytes:
        """Header hash: RFC 6962 root over the 14 header fields, in CometBFT's order."""
        last = self.last_block_id
        last_id = (
            b""
            if last is None
            else _length_prefixed(last.hash, _int_bytes(last.part_set_total), last.part_set_hash)
        )
        fields = [
            _length_prefixed(_int_bytes(BLOCK_PROTOCOL_VERSION), _int_bytes(0)),
            self.chain_id.encode(),
            _int_bytes(self.height),
            _int_bytes(self.time_ns),
            last_id,
            self.last_commit_hash,
            self.data_hash,
            self.validators_hash,
            self.next_validators_hash,
            self.consensus_hash,
            self.app_hash,
            self.last_results_hash,
            self.evidence_hash,
            self.proposer_address,
        ]
        return merkle_root(fields)

    @cached_property
    def serialized(self) -> bytes:
        """Canonical JSON of the block (the storage format; its length is the block size)."""
        return json.dumps(block_to_json(self), sort_keys=True, separators=(",", ":")).encode()

    @cached_property
    def block_id(self) -> BlockId:
        # One part per block; the part-set hash commits to the full serialized block.
        return BlockId(self.hash, 1, merkle_root([self.serialized]))

    @property
    def size(self) -> int:
        return len(self.serialized)

    @property
    def results_hash(self) -> bytes:
        return results_hash(self.tx_results)


def next_block(
    previous: Block | None,
    *,
    chain_id: str,
    time_ns: int,
    validators: Sequence[Validator] | None = None,
    next_validators: Sequence[Validator] | None = None,
    proposer_address: bytes | None = None,
    app_hash: bytes = b"",
    txs: Sequence[bytes] = (),
    tx_results: Sequence[TxResult] = (),
    begin_block_events: Sequence[Event] = (),
    end_block_events: Sequence[Event] = (),
    validator_updates: Sequence[ValidatorUpdate] = (),
    last_commit: Sequence[CommitSig] | None = None,
    initial_height: int = 1,
) -> Block:
    """Build the block after ``previous`` (or the first block), filling what follows from it.

    Defaults: ``validators`` = previous block's ``next_validators``; ``next_validators`` =
    ``validators``; proposer = round-robin over ``validators`` by height; ``last_commit`` = every
    validator of the previous block voting with an empty signature at ``previous.time_ns``.
    """
    if previous is None:
        if validators is None:
            raise InvalidBlockError("the first block needs an explicit validator set")
        height, last_block_id, last_results = initial_height, None, EMPTY_HASH
        commit: Sequence[CommitSig] = () if last_commit is None else last_commit
    else:
        height, last_block_id, last_results = previous.height + 1, previous.block_id, previous.results_hash
        if validators is None:
            validators = previous.next_validators
        commit = (
            tuple(CommitSig(v.address, previous.time_ns, b"") for v in previous.validators)
            if last_commit is None
            else last_commit
        )
    signing = tuple(validators)
    if not signing:
        raise InvalidBlockError("a block needs a non-empty validator set")
    if proposer_address is None:
        proposer_address = signing[height % len(signing)].address
    return Block(
        chain_id=chain_id,
        height=height,
        time_ns=time_ns,
        last_block_id=last_block_id,
        proposer_address=proposer_address,
        app_hash=app_hash,
        validators=signing,
        next_validators=signing if next_validators is None else tuple(next_validators),
        txs=tuple(txs),
        tx_results=tuple(tx_results),
        begin_block_events=tuple(begin_block_events),
        end_block_events=tuple(end_block_events),
        validator_updates=tuple(validator_updates),
        last_commit=tuple(commit),
        last_results_hash=last_results,
    )


# --- storage encoding ---------------------------------------------------------------------------


def _events_to_json(events: Iterable[Event]) -> list[Any]:
    return [[e.type, [[a.key, a.value, a.index] for a in e.attributes]] for e in events]


def _events_from_json(raw: list[Any]) -> tuple[Event, ...]:
    return tuple(Event(t, tuple(EventAttribute(k, v, i) for k, v, i in attrs)) for t, attrs in raw)


def _validators_to_json(validators: Iterable[Validator]) -> list[Any]:
    return [[v.pub_key.hex(), v.voting_power, v.proposer_priority] for v in validators]


def _validators_from_json(raw: list[Any]) -> tuple[Validator, ...]:
    return tuple(Validator(bytes.fromhex(k), p, q) for k, p, q in raw)


def block_to_json(block: Block) -> dict[str, Any]:
    """A JSON-able dict holding every field of ``block`` (bytes as hex)."""
    last = block.last_block_id
    return {
        "chain_id": block.chain_id,
        "height": block.height,
        "time_ns": block.time_ns,
        "last_block_id": None
        if last is None
        else [last.hash.hex(), last.part_set_total, last.part_set_hash.hex()],
        "proposer_address": block.proposer_address.hex(),
        "app_hash": block.app_hash.hex(),
        "validators": _validators_to_json(block.validators),
        "next_validators": _validators_to_json(block.next_validators),
        "txs": [tx.hex() for tx in block.txs],
        "tx_results": [
            [
                r.code,
                r.data.hex(),
                r.log,
                r.info,
                r.gas_wanted,
                r.gas_used,
                _events_to_json(r.events),
                r.codespace,
            ]
            for r in block.tx_results
        ],
        "begin_block_events": _events_to_json(block.begin_block_events),
        "end_block_events": _events_to_json(block.end_block_events),
        "validator_updates": [[u.pub_key.hex(), u.power] for u in block.validator_updates],
        "last_commit": [
            [s.validator_address.hex(), s.time_ns, None if s.signature is None else s.signature.hex()]
            for s in block.last_commit
        ],
        "last_results_hash": block.last_results_hash.hex(),
    }


def block_from_json(raw: dict[str, Any]) -> Block:
    """Inverse of :func:`block_to_json`."""
    try:
        last = raw["last_block_id"]
        return Block(
            chain_id=raw["chain_id"],
            height=raw["height"],
            time_ns=raw["time_ns"],
            last_block_id=None
            if last is None
            else BlockId(bytes.fromhex(last[0]), last[1], bytes.fromhex(last[2])),
            proposer_address=bytes.fromhex(raw["proposer_address"]),
            app_hash=bytes.fromhex(raw["app_hash"]),
            validators=_validators_from_json(raw["validators"]),
            next_validators=_validators_from_json(raw["next_validators"]),
            txs=tuple(bytes.fromhex(tx) for tx in raw["txs"]),
            tx_results=tuple(
                TxResult(
                    code, bytes.fromhex(data), log, info, wanted, used, _events_from_json(events), codespace
                )
                for code, data, log, info, wanted, used, events, codespace in raw["tx_results"]
            ),
            begin_block_events=_events_from_json(raw["begin_block_events"]),
            end_block_events=_events_from_json(raw["end_block_events"]),
            validator_updates=tuple(
                ValidatorUpdate(bytes.fromhex(k), p) for k, p in raw["validator_updates"]
            ),
            last_commit=tuple(
                CommitSig(bytes.fromhex(a), t, None if s is None else bytes.fromhex(s))
                for a, t, s in raw["last_commit"]
            ),
            last_results_hash=bytes.fromhex(raw["last_results_hash"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BlockStoreError(f"stored block is corrupt: {exc}") from exc


# --- the store ----------------------------------------------------------------------------------

BlockListener = Callable[[Block], None]


@dataclass(frozen=True)
class TxLocation:
    """Where a transaction was committed."""

    height: int
    index: int


class Subscription:
    """Handle returned by :meth:`BlockStore.subscribe`; ``close()`` stops the notifications."""

    def __init__(self, store: BlockStore, listener: BlockListener) -> None:
        self._store = store
        self._listener = listener

    def close(self) -> None:
        self._store._unsubscribe(self._listener)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (height INTEGER PRIMARY KEY, hash BLOB NOT NULL, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS txs (
    hash BLOB NOT NULL, height INTEGER NOT NULL, tx_index INTEGER NOT NULL,
    PRIMARY KEY (hash, height, tx_index)
);
CREATE UNIQUE INDEX IF NOT EXISTS blocks_by_hash ON blocks (hash);
"""


class BlockStore:
    """Append-only, thread-safe store of committed blocks with change notification.

    ``path=None`` keeps everything in memory. Opening an existing file checks its chain id and
    initial height and continues after its latest block.
    """

    def __init__(self, chain_id: str, path: str | Path | None = None, *, initial_height: int = 1) -> None:
        if not isinstance(chain_id, str) or not chain_id:
            raise BlockStoreError("chain_id must be a non-empty str")
        if not isinstance(initial_height, int) or initial_height < 1:
            raise BlockStoreError(f"initial_height must be >= 1, got {initial_height!r}")
        self._lock = threading.RLock()
        self._listeners: list[BlockListener] = []
        self._cache: OrderedDict[int, Block] = OrderedDict()
        self._path = None if path is None else Path(path)
        try:
            self._db = sqlite3.connect(
                ":memory:" if self._path is None else str(self._path),
                check_same_thread=False,
                isolation_level=None,
            )
            if self._path is not None:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise BlockStoreError(f"cannot open block store {self._path}: {exc}") from exc
        self._chain_id, self._initial_height = self._load_or_init_meta(chain_id, initial_height)
        row = self._db.execute("SELECT MAX(height) FROM blocks").fetchone()
        self._latest_height: int | None = row[0]
        self._closed = False

    def _load_or_init_meta(self, chain_id: str, initial_height: int) -> tuple[str, int]:
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        if not meta:
            with self._db:
                self._db.execute("BEGIN")
                self._db.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [
                        ("schema_version", str(SCHEMA_VERSION)),
                        ("chain_id", chain_id),
                        ("initial_height", str(initial_height)),
                    ],
                )
            return chain_id, initial_height
        if meta.get("schema_version") != str(SCHEMA_VERSION):
            found = meta.get("schema_version")
            raise BlockStoreError(f"block store schema {found!r} is not {SCHEMA_VERSION}")
        if meta["chain_id"] != chain_id:
            raise BlockStoreError(f"block store holds chain {meta['chain_id']!r}, not {chain_id!r}")
        stored_initial = int(meta["initial_height"])
        if stored_initial != initial_height:
            raise BlockStoreError(f"block store starts at height {stored_initial}, not {initial_height}")
        return chain_id, stored_initial

    # -- properties --

    @property
    def chain_id(self) -> str:
        return self._chain_id

    @property
    def initial_height(self) -> int:
        return self._initial_height

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def latest_height(self) -> int | None:
        """Height of the newest block, ``None`` while empty."""
        return self._latest_height

    @property
    def base_height(self) -> int | None:
        """Height of the oldest stored block (nothing is pruned), ``None`` while empty."""
        return None if self._latest_height is None else self._initial_height

    # -- reads --

    def _check_open(self) -> None:
        if self._closed:
            raise BlockStoreError("block store is closed")

    def _decode(self, height: int, body: bytes) -> Block:
        block = block_from_json(json.loads(body))
        self._cache[height] = block
        if len(self._cache) > DECODED_BLOCK_CACHE_SIZE:
            self._cache.popitem(last=False)
        return block

    def get(self, height: int) -> Block | None:
        """The block at ``height``, or ``None`` if there is none."""
        with self._lock:
            self._check_open()
            cached = self._cache.get(height)
            if cached is not None:
                self._cache.move_to_end(height)
                return cached
            row = self._db.execute("SELECT body FROM blocks WHERE height = ?", (height,)).fetchone()
            return None if row is None else self._decode(height, row[0])

    def get_by_hash(self, block_hash: bytes) -> Block | None:
        with self._lock:
            self._check_open()
            row = self._db.execute("SELECT height FROM blocks WHERE hash = ?", (block_hash,)).fetchone()
        return None if row is None else self.get(row[0])

    def latest(self) -> Block | None:
        latest = self._latest_height
        return None if latest is None else self.get(latest)

    def range(self, min_height: int, max_height: int) -> list[Block]:
        """Blocks with ``min_height <= height <= max_height``, ascending."""
        return [
            block
            for height in range(max(min_height, self._initial_height), max_height + 1)
            if (block := self.get(height)) is not None
        ]

    def find_tx(self, tx_hash: bytes) -> TxLocation | None:
        """Where the transaction with CometBFT hash ``tx_hash`` was committed (first occurrence)."""
        with self._lock:
            self._check_open()
            row = self._db.execute(
                "SELECT height, tx_index FROM txs WHERE hash = ? ORDER BY height, tx_index LIMIT 1",
                (tx_hash,),
            ).fetchone()
        return None if row is None else TxLocation(row[0], row[1])

    # -- writes --

    def append(self, block: Block) -> None:
        """Commit ``block`` as the next height and notify subscribers (in this thread)."""
        if not isinstance(block, Block):
            raise InvalidBlockError(f"expected a Block, got {type(block).__name__}")
        with self._lock:
            self._check_open()
            self._check_extends(block)
            try:
                with self._db:
                    self._db.execute("BEGIN")
                    self._db.execute(
                        "INSERT INTO blocks (height, hash, body) VALUES (?, ?, ?)",
                        (block.height, block.hash, block.serialized),
                    )
                    self._db.executemany(
                        "INSERT OR IGNORE INTO txs (hash, height, tx_index) VALUES (?, ?, ?)",
                        [(h, block.height, i) for i, h in enumerate(block.tx_hashes)],
                    )
            except sqlite3.Error as exc:
                raise BlockStoreError(f"cannot store block {block.height}: {exc}") from exc
            self._latest_height = block.height
            self._cache[block.height] = block
            if len(self._cache) > DECODED_BLOCK_CACHE_SIZE:
                self._cache.popitem(last=False)
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(block)
            except Exception:  # a broken subscriber must not stop the chain
                _log.exception("block listener %r failed on height %d", listener, block.height)

    def _check_extends(self, block: Block) -> None:
        if block.chain_id != self._chain_id:
            raise InvalidBlockError(f"block is for chain {block.chain_id!r}, store is {self._chain_id!r}")
        expected = self._initial_height if self._latest_height is None else self._latest_height + 1
        if block.height != expected:
            raise InvalidBlockError(f"expected height {expected}, got {block.height}")
        previous = self.get(self._latest_height) if self._latest_height is not None else None
        if previous is None:
            if block.last_block_id is not None:
                raise InvalidBlockError("the first block must not have a last_block_id")
            return
        if block.last_block_id != previous.block_id:
            raise InvalidBlockError(f"block {block.height} does not point at block {previous.height}")
        if block.time_ns <= previous.time_ns:
            raise InvalidBlockError(
                f"block time must increase: {block.time_ns} <= {previous.time_ns} (height {block.height})"
            )
        if block.validators != previous.next_validators:
            raise InvalidBlockError(
                f"block {block.height} validators differ from block {previous.height}'s next_validators"
            )

    # -- notifications --

    def subscribe(self, listener: BlockListener) -> Subscription:
        """Call ``listener(block)`` after every append, in the appending thread."""
        with self._lock:
            self._listeners.append(listener)
        return Subscription(self, listener)

    def _unsubscribe(self, listener: BlockListener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._listeners.clear()
                self._db.close()

    def __enter__(self) -> BlockStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
