"""The replay fixture: what a relayer read from Exocore for a height range, in one checksummed file.

One JSON document (gzip-compressed when the file name ends in ``.gz``)::

    {
      "format": "exorelay-replay-fixture", "format_version": 2,
      "chain_id": "exocoretestnet_233-1", "from_height": 1, "to_height": 57,
      "recorded_by": "exorelay 0.1.0",
      "rpc": {
        "status": {...},                       # CometBFT `status` result, as the node sent it
        "blocks": {"1": {...}, ...},           # `block` result per height from..to
        "block_results": {"1": {...}, ...}     # `block_results` result per height
      },
      "grpc": {                                # protobuf messages as the node sent them, base64
        "state_height": 60,                    # x-cosmos-block-height of the state read
        "node_info": "...",                    # cosmos.base.tendermint GetNodeInfoResponse
        "relay_params": "...",                 # exocore.relay.v1.Params
        "packets": ["..."],                    # relay.v1.Packet, nonce order, exocore_height <= to
        "packet_signatures": {"3": "..."},     # relay.v1.QueryPacketSignaturesResponse per packet
        "valsets": {"1": "..."},               # relay.v1.Valset (created at or before `to`)
        "current_valset_nonce": 1,
        "distributions": ["..."],              # feedistribution.v1.Distribution, created <= to
        "distribution_leaves": {"2": ["..."]}, # every leaf of the distributions created in range
        "avs_infos": ["..."],                  # avs.v1.AVSInfo
        "committees": [{"avs": "0x..", "epoch": 3, "committee": "..."}],
        "reward_claims": ["..."]               # avs.v1.RewardClaim named by events in range
      },
      "sha256": "..."
    }

``sha256`` is the SHA-256 of the canonical JSON (sorted keys, no whitespace, UTF-8) of every other
field, so the file may be re-indented without breaking it but not edited. Loading refuses a
mismatch (:class:`FixtureChecksumError`), another format or version (:class:`FixtureVersionError`)
and anything malformed (:class:`FixtureFormatError`): a replay never runs on data nobody recorded.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

from google.protobuf.message import DecodeError, Message

from relayer.replay.errors import FixtureChecksumError, FixtureFormatError, FixtureVersionError

FORMAT_NAME: Final = "exorelay-replay-fixture"
FORMAT_VERSION: Final = 2
"""Bumped on any change a reader of the previous version would misread (2: ``avs.v1.AVSInfo`` took
upstream's field numbers)."""
GZIP_SUFFIX: Final = ".gz"
GZIP_LEVEL: Final = 6
"""zlib's default: fixtures are mostly base64 and repetitive JSON, level 9 buys ~1 % for 3x the time."""

JSON = dict[str, Any]
M = TypeVar("M", bound=Message)


@dataclass(frozen=True, slots=True)
class RecordedCommittee:
    avs: str
    epoch: int
    committee: bytes
    """``exocore.avs.v1.Committee``."""


@dataclass(frozen=True, slots=True)
class RpcRecording:
    """CometBFT JSON-RPC results (the ``result`` member of each answer), untouched."""

    status: JSON
    blocks: Mapping[int, JSON]
    block_results: Mapping[int, JSON]


@dataclass(frozen=True, slots=True)
class GrpcRecording:
    """Serialized protobuf messages of the exocore query services, as the node sent them."""

    state_height: int
    node_info: bytes
    relay_params: bytes
    packets: tuple[bytes, ...]
    packet_signatures: Mapping[int, bytes]
    valsets: Mapping[int, bytes]
    current_valset_nonce: int | None
    distributions: tuple[bytes, ...]
    distribution_leaves: Mapping[int, tuple[bytes, ...]]
    avs_infos: tuple[bytes, ...]
    committees: tuple[RecordedCommittee, ...]
    reward_claims: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class Fixture:
    chain_id: str
    from_height: int
    to_height: int
    recorded_by: str
    rpc: RpcRecording
    grpc: GrpcRecording
    sha256: str = field(default="", compare=False)
    """Filled by :func:`load_fixture` / :func:`write_fixture` (the checksum of the body)."""


# --- canonical form ----------------------------------------------------------------------------------


def canonical_json(value: Any) -> bytes:
    """The one byte form the checksum is taken over: sorted keys, no whitespace, UTF-8, no NaN."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def body_checksum(document: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of every field but ``sha256``."""
    body = {key: value for key, value in document.items() if key != "sha256"}
    return hashlib.sha256(canonical_json(body)).hexdigest()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def to_document(fixture: Fixture) -> JSON:
    """The fixture as a JSON document, ``sha256`` included."""
    grpc = fixture.grpc
    document: JSON = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "chain_id": fixture.chain_id,
        "from_height": fixture.from_height,
        "to_height": fixture.to_height,
        "recorded_by": fixture.recorded_by,
        "rpc": {
            "status": fixture.rpc.status,
            "blocks": {str(h): fixture.rpc.blocks[h] for h in sorted(fixture.rpc.blocks)},
            "block_results": {
                str(h): fixture.rpc.block_results[h] for h in sorted(fixture.rpc.block_results)
            },
        },
        "grpc": {
            "state_height": grpc.state_height,
            "node_info": _b64(grpc.node_info),
            "relay_params": _b64(grpc.relay_params),
            "packets": [_b64(p) for p in grpc.packets],
            "packet_signatures": {str(n): _b64(s) for n, s in sorted(grpc.packet_signatures.items())},
            "valsets": {str(n): _b64(v) for n, v in sorted(grpc.valsets.items())},
            "current_valset_nonce": grpc.current_valset_nonce,
            "distributions": [_b64(d) for d in grpc.distributions],
            "distribution_leaves": {
                str(n): [_b64(leaf) for leaf in leaves]
                for n, leaves in sorted(grpc.distribution_leaves.items())
            },
            "avs_infos": [_b64(info) for info in grpc.avs_infos],
            "committees": [
                {"avs": c.avs, "epoch": c.epoch, "committee": _b64(c.committee)} for c in grpc.committees
            ],
            "reward_claims": [_b64(claim) for claim in grpc.reward_claims],
        },
    }
    document["sha256"] = body_checksum(document)
    return document


def write_fixture(fixture: Fixture, path: Path) -> Fixture:
    """Write ``fixture`` to ``path`` (gzip if it ends in ``.gz``); return it with its checksum."""
    document = to_document(fixture)
    data = canonical_json(document) + b"\n"
    if path.name.endswith(GZIP_SUFFIX):
        # mtime 0: the same recording gives the same bytes.
        data = gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".part")
    temporary.write_bytes(data)
    temporary.replace(path)
    return from_document(document)


# --- reading ------------------------------------------------------------------------------------------


def _get(obj: Any, key: str, kind: type | tuple[type, ...], what: str) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise FixtureFormatError(f"fixture: {what} has no field {key!r}")
    value = obj[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise FixtureFormatError(f"fixture: {what}.{key} has the wrong type ({type(value).__name__})")
    return value


def _bytes(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise FixtureFormatError(f"fixture: {what} is not a base64 string")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise FixtureFormatError(f"fixture: {what} is not base64: {exc}") from exc


def _height_key(key: str, what: str) -> int:
    if not key.isdigit():
        raise FixtureFormatError(f"fixture: {what} key {key[:40]!r} is not a decimal integer")
    return int(key)


def _bytes_list(values: Any, what: str) -> tuple[bytes, ...]:
    if not isinstance(values, list):
        raise FixtureFormatError(f"fixture: {what} is not an array")
    return tuple(_bytes(value, f"{what}[{i}]") for i, value in enumerate(values))


def _bytes_map(values: Any, what: str) -> dict[int, bytes]:
    if not isinstance(values, dict):
        raise FixtureFormatError(f"fixture: {what} is not an object")
    return {_height_key(k, what): _bytes(v, f"{what}[{k}]") for k, v in values.items()}


def from_document(document: Any) -> Fixture:
    """Check format, version and checksum of a parsed document, then decode it."""
    if not isinstance(document, dict):
        raise FixtureFormatError("fixture: the file is not a JSON object")
    name, version = document.get("format"), document.get("format_version")
    if name != FORMAT_NAME:
        raise FixtureVersionError(f"fixture: format {str(name)[:60]!r} is not {FORMAT_NAME!r}")
    if version != FORMAT_VERSION:
        raise FixtureVersionError(
            f"fixture: format_version {str(version)[:20]} is not supported "
            f"(this exorelay reads {FORMAT_VERSION})"
        )
    expected = _get(document, "sha256", str, "fixture")
    actual = body_checksum(document)
    if expected != actual:
        raise FixtureChecksumError(expected, actual)
    first = _get(document, "from_height", int, "fixture")
    last = _get(document, "to_height", int, "fixture")
    if not 1 <= first <= last:
        raise FixtureFormatError(f"fixture: height range {first}..{last} is empty")
    rpc = _get(document, "rpc", dict, "fixture")
    grpc = _get(document, "grpc", dict, "fixture")
    blocks = {_height_key(k, "rpc.blocks"): v for k, v in _get(rpc, "blocks", dict, "rpc").items()}
    results = {
        _height_key(k, "rpc.block_results"): v for k, v in _get(rpc, "block_results", dict, "rpc").items()
    }
    wanted = set(range(first, last + 1))
    if set(blocks) != wanted or set(results) != wanted:
        raise FixtureFormatError(f"fixture: blocks and block_results must cover exactly {first}..{last}")
    if not all(isinstance(v, dict) for v in (*blocks.values(), *results.values())):
        raise FixtureFormatError("fixture: every block and block_results entry must be a JSON object")
    leaves_raw = _get(grpc, "distribution_leaves", dict, "grpc")
    committees_raw = _get(grpc, "committees", list, "grpc")
    current = grpc.get("current_valset_nonce")
    if current is not None and (not isinstance(current, int) or isinstance(current, bool)):
        raise FixtureFormatError("fixture: grpc.current_valset_nonce must be an integer or null")
    chain_id = _get(document, "chain_id", str, "fixture")
    status = _get(rpc, "status", dict, "rpc")
    network = (
        status.get("node_info", {}).get("network") if isinstance(status.get("node_info"), dict) else None
    )
    if network != chain_id:
        raise FixtureFormatError(f"fixture: recorded from chain {str(network)[:60]!r}, labelled {chain_id!r}")
    fixture = Fixture(
        chain_id=chain_id,
        from_height=first,
        to_height=last,
        recorded_by=_get(document, "recorded_by", str, "fixture"),
        rpc=RpcRecording(status=status, blocks=blocks, block_results=results),
        grpc=GrpcRecording(
            state_height=_get(grpc, "state_height", int, "grpc"),
            node_info=_bytes(_get(grpc, "node_info", str, "grpc"), "grpc.node_info"),
            relay_params=_bytes(_get(grpc, "relay_params", str, "grpc"), "grpc.relay_params"),
            packets=_bytes_list(_get(grpc, "packets", list, "grpc"), "grpc.packets"),
            packet_signatures=_bytes_map(
                _get(grpc, "packet_signatures", dict, "grpc"), "grpc.packet_signatures"
            ),
            valsets=_bytes_map(_get(grpc, "valsets", dict, "grpc"), "grpc.valsets"),
            current_valset_nonce=current,
            distributions=_bytes_list(_get(grpc, "distributions", list, "grpc"), "grpc.distributions"),
            distribution_leaves={
                _height_key(k, "grpc.distribution_leaves"): _bytes_list(v, f"grpc.distribution_leaves[{k}]")
                for k, v in leaves_raw.items()
            },
            avs_infos=_bytes_list(_get(grpc, "avs_infos", list, "grpc"), "grpc.avs_infos"),
            committees=tuple(
                RecordedCommittee(
                    avs=_get(entry, "avs", str, f"grpc.committees[{i}]"),
                    epoch=_get(entry, "epoch", int, f"grpc.committees[{i}]"),
                    committee=_bytes(entry.get("committee"), f"grpc.committees[{i}].committee"),
                )
                for i, entry in enumerate(committees_raw)
            ),
            reward_claims=_bytes_list(_get(grpc, "reward_claims", list, "grpc"), "grpc.reward_claims"),
        ),
        sha256=actual,
    )
    return fixture


def read_document(path: Path) -> Any:
    """The parsed JSON of ``path`` (gunzipped if its name ends in ``.gz``)."""
    try:
        data = path.read_bytes()
        if path.name.endswith(GZIP_SUFFIX):
            data = gzip.decompress(data)
        return json.loads(data)
    except FileNotFoundError as exc:
        raise FixtureFormatError(f"fixture {path} does not exist") from exc
    except (OSError, EOFError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise FixtureFormatError(f"fixture {path} is not readable JSON: {exc}") from exc


def load_fixture(path: Path) -> Fixture:
    """Read and verify a fixture (checksum, version, structure)."""
    return from_document(read_document(path))


def parse_message(message_type: type[M], data: bytes, what: str) -> M:
    """Decode one recorded protobuf message, or :class:`FixtureFormatError`."""
    message = message_type()
    try:
        message.ParseFromString(data)
    except DecodeError as exc:
        raise FixtureFormatError(f"fixture: {what} is not a valid {message_type.__name__}: {exc}") from exc
    return message


def parse_messages(message_type: type[M], items: Sequence[bytes], what: str) -> list[M]:
    return [parse_message(message_type, data, f"{what}[{i}]") for i, data in enumerate(items)]
