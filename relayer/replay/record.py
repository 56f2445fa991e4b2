"""``exorelay record``: read what the relayer would read from a live Exocore node for a height range.

CometBFT RPC is read through the relayer's own :class:`~relayer.exocore.rpc.CometRpcClient` (so the
recording passes exactly the checks the relayer applies: chain id, heights, parent links, tx counts)
over an HTTP transport that keeps the raw JSON-RPC answers; the fixture stores those raw results.

gRPC is read with the generated stubs and stored as the serialized messages the node sent. The state
is read once, at the height of the first answer (every later call is pinned to it with
``x-cosmos-block-height``, as the client pins pages), and cut at the recorded range: packets,
valsets and distributions created after ``to`` are left out, so a replay does not see the future.
What the blocks' events name is fetched by id: committees (``committee_elected``, reward claims) and
reward claims. Every packet up to ``to`` is kept with its signatures, because a relayer that starts
on an empty database sweeps them all; leaves are kept for the distributions created in the range
(an older distribution's leaves are only needed to pay it, which a replay of this range does not do).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

import grpc
import httpx
from cosmpy.protos.cosmos.base.query.v1beta1.pagination_pb2 import PageRequest
from cosmpy.protos.cosmos.base.tendermint.v1beta1 import query_pb2 as tendermint_query
from cosmpy.protos.cosmos.base.tendermint.v1beta1 import query_pb2_grpc as tendermint_grpc

from relayer import __version__
from relayer.config import ExocoreConfig
from relayer.exocore import events as ev
from relayer.exocore.errors import (
    ChainMismatchError,
    EndpointUnavailableError,
    ExocoreClientError,
    ExocoreTimeoutError,
    InconsistentResponseError,
    QueryFailedError,
)
from relayer.exocore.grpc_client import (
    BLOCK_HEIGHT_METADATA_KEY,
    GRPC_MAX_RECEIVE_MESSAGE_BYTES,
    LEAF_PAGE_LIMIT,
    PACKET_PAGE_LIMIT,
    convert_params,
)
from relayer.exocore.proto.avs.v1 import query_pb2 as avs_query
from relayer.exocore.proto.avs.v1 import query_pb2_grpc as avs_grpc
from relayer.exocore.proto.feedistribution.v1 import query_pb2 as fee_query
from relayer.exocore.proto.feedistribution.v1 import query_pb2_grpc as fee_grpc
from relayer.exocore.proto.relay.v1 import query_pb2 as relay_query
from relayer.exocore.proto.relay.v1 import query_pb2_grpc as relay_grpc
from relayer.exocore.proto.relay.v1 import types_pb2 as relay_types
from relayer.exocore.rpc import CometRpcClient, CommittedBlock, iter_heights, parse_block
from relayer.replay.errors import RecordRangeError
from relayer.replay.fixture import JSON, Fixture, GrpcRecording, RecordedCommittee, RpcRecording

_log = logging.getLogger(__name__)

MAX_RECORD_BLOCKS: Final = 100_000
"""A fixture holds every block of its range in memory and in one file: ~1 day of 1 s blocks. Record a
longer history in several ranges."""
RECORD_BATCH_BLOCKS: Final = 20
"""Heights per committed_blocks call (the follower's catch-up batch)."""
LIST_PAGE_LIMIT: Final = 100
"""Page size of the small listings (AVSs, distributions): the Cosmos SDK default."""
MAX_LIST_PAGES: Final = 100_000
"""Pages one listing may take before the node is deemed to be paging in circles."""


# --- raw CometBFT answers ------------------------------------------------------------------------------


class CapturingTransport(httpx.BaseTransport):
    """An HTTP transport that keeps every JSON-RPC answer's ``result`` by (method, params).

    Later answers for the same call replace earlier ones: the client only returns once an answer
    passed its checks, and the recorder cross-checks what it keeps against what the client returned.
    """

    def __init__(self, inner: httpx.BaseTransport | None = None) -> None:
        self._inner = inner or httpx.HTTPTransport()
        self.results: dict[tuple[str, str], Any] = {}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        try:
            body = response.read()
        finally:
            response.close()
        self._keep(request.content, body)
        headers = [
            (k, v)
            for k, v in response.headers.items()
            if k.lower() not in ("content-encoding", "content-length")
        ]
        return httpx.Response(response.status_code, headers=headers, content=body)

    def _keep(self, request_body: bytes, response_body: bytes) -> None:
        try:
            sent = json.loads(request_body)
            answered = json.loads(response_body)
        except ValueError:
            return  # not JSON-RPC: the client reports it; nothing to keep
        calls = sent if isinstance(sent, list) else [sent]
        answers = answered if isinstance(answered, list) else [answered]
        by_id = {a.get("id"): a for a in answers if isinstance(a, dict)}
        for call in calls:
            if not isinstance(call, dict):
                continue
            answer = by_id.get(call.get("id"))
            if answer is not None and answer.get("error") is None and "result" in answer:
                self.results[(str(call.get("method")), call_key(call.get("params") or {}))] = answer["result"]

    def close(self) -> None:
        self._inner.close()


def call_key(params: Any) -> str:
    return json.dumps(params, sort_keys=True, separators=(",", ":"))


def _height_params(height: int) -> str:
    return call_key({"height": str(height)})


@dataclass
class _RpcPart:
    status: JSON
    blocks: dict[int, JSON]
    block_results: dict[int, JSON]
    committed: list[CommittedBlock]


def record_rpc(
    config: ExocoreConfig, first: int, last: int, *, transport: httpx.BaseTransport | None = None
) -> _RpcPart:
    capture = CapturingTransport(transport)
    urls = [str(url).rstrip("/") for url in config.rpc_urls]
    with CometRpcClient(
        urls, chain_id=config.chain_id, timeout_s=config.request_timeout_s, transport=capture
    ) as rpc:
        status = rpc.status()
        if last > status.latest_height:
            raise RecordRangeError(
                f"height {last} is not committed yet (the node is at {status.latest_height})"
            )
        if first < max(1, status.earliest_height):
            raise RecordRangeError(
                f"height {first} is pruned (the node keeps {status.earliest_height} and later)"
            )
        raw_status = capture.results[("status", call_key({}))]
        committed: list[CommittedBlock] = []
        for start, end in iter_heights(first, last, RECORD_BATCH_BLOCKS):
            got = rpc.committed_blocks(start, end)
            if len(got) != end - start + 1:
                raise RecordRangeError(f"the node served blocks {start}..{got[-1].height}, not up to {end}")
            committed.extend(got)
    blocks: dict[int, JSON] = {}
    results: dict[int, JSON] = {}
    for block in committed:
        key = _height_params(block.height)
        raw_block = capture.results.get(("block", key))
        raw_results = capture.results.get(("block_results", key))
        if raw_block is None or raw_results is None or parse_block(raw_block).hash != block.hash:
            raise InconsistentResponseError(
                f"block {block.height}: the raw answer kept is not the one checked"
            )
        blocks[block.height] = raw_block
        results[block.height] = raw_results
    return _RpcPart(raw_status, blocks, results, committed)


# --- raw gRPC answers --------------------------------------------------------------------------------


@dataclass
class _Named:
    """What the recorded blocks' events name (fetched by id over gRPC)."""

    committees: set[tuple[str, int]] = field(default_factory=set)
    claims: list[bytes] = field(default_factory=list)
    valsets: set[int] = field(default_factory=set)

    @classmethod
    def of(cls, blocks: list[CommittedBlock]) -> _Named:
        named = cls()
        for block in blocks:
            for event in ev.decode_block_events(block).events:
                if isinstance(event, ev.CommitteeElected):
                    named.committees.add(("0x" + bytes(event.avs).hex(), event.epoch))
                elif isinstance(event, ev.RewardClaimSubmitted):
                    named.committees.add(("0x" + bytes(event.avs).hex(), event.epoch))
                    if bytes(event.claim_id) not in named.claims:
                        named.claims.append(bytes(event.claim_id))
                elif isinstance(event, ev.ValsetUpdated):
                    named.valsets.add(event.valset_nonce)
        return named


def _channel(target: str) -> grpc.Channel:
    """``host:port`` (plain) or ``grpc+https://host:port`` (TLS), as the relayer's client reads them."""
    address = target.split("://", 1)[1] if "://" in target else target
    options = [("grpc.max_receive_message_length", GRPC_MAX_RECEIVE_MESSAGE_BYTES)]
    if target.startswith("grpc+https://"):
        return grpc.secure_channel(address, grpc.ssl_channel_credentials(), options=options)
    return grpc.insecure_channel(address, options=options)


class _GrpcReader:
    """Unary calls on one endpoint, every call after the first pinned to the first one's state height."""

    def __init__(self, target: str, timeout_s: float) -> None:
        self.target = target
        self.timeout_s = timeout_s
        self.channel = _channel(target)
        self.tendermint = tendermint_grpc.ServiceStub(self.channel)
        self.relay = relay_grpc.QueryStub(self.channel)
        self.fee = fee_grpc.QueryStub(self.channel)
        self.avs = avs_grpc.QueryStub(self.channel)
        self.height: int | None = None

    def close(self) -> None:
        self.channel.close()

    def call(self, what: str, method: Any, request: Any, *, optional: bool = False) -> Any:
        metadata = None if self.height is None else ((BLOCK_HEIGHT_METADATA_KEY, str(self.height)),)
        try:
            response, call = method.with_call(request, timeout=self.timeout_s, metadata=metadata)
        except grpc.RpcError as exc:
            code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
            if optional and code is grpc.StatusCode.NOT_FOUND:
                return None
            details = (exc.details() if hasattr(exc, "details") else str(exc)) or ""
            if code is grpc.StatusCode.DEADLINE_EXCEEDED:
                raise ExocoreTimeoutError(f"{what}: deadline exceeded", endpoint=self.target) from exc
            if code is grpc.StatusCode.UNAVAILABLE:
                raise EndpointUnavailableError(f"{what}: {details}", endpoint=self.target) from exc
            raise QueryFailedError(
                code.name, f"{what}: {details}", endpoint=self.target, fail_over=False
            ) from exc
        if self.height is None:
            for key, value in call.initial_metadata() or ():
                if key == BLOCK_HEIGHT_METADATA_KEY:
                    text = value.decode() if isinstance(value, bytes) else str(value)
                    self.height = int(text) if text.isdigit() else None
        return response

    def paged(self, what: str, method: Any, request: Any, items: str, limit: int) -> Iterator[Any]:
        key = b""
        for _ in range(MAX_LIST_PAGES):
            request.pagination.CopyFrom(PageRequest(key=key, limit=limit))
            response = self.call(what, method, request)
            yield from getattr(response, items)
            key = bytes(response.pagination.next_key)
            if not key:
                return
        raise InconsistentResponseError(f"{what}: pagination does not end", endpoint=self.target)


def _open_reader(config: ExocoreConfig) -> tuple[_GrpcReader, bytes]:
    """The first gRPC endpoint that serves the configured chain, and its raw GetNodeInfo answer."""
    failures: list[str] = []
    for target in config.grpc_endpoints:
        reader = _GrpcReader(target, config.request_timeout_s)
        try:
            info = reader.call(
                "GetNodeInfo", reader.tendermint.GetNodeInfo, tendermint_query.GetNodeInfoRequest()
            )
            network = str(info.default_node_info.network)
            if network != config.chain_id:
                raise ChainMismatchError(
                    f"serves chain {network!r}, not {config.chain_id!r}", endpoint=target
                )
        except ExocoreClientError as exc:
            reader.close()
            failures.append(str(exc))
            continue
        return reader, info.SerializeToString()
    raise EndpointUnavailableError("no gRPC endpoint serves the chain: " + "; ".join(failures))


def record_grpc(config: ExocoreConfig, first: int, last: int, named: _Named) -> GrpcRecording:
    reader, node_info = _open_reader(config)
    try:
        params = reader.call("relay Params", reader.relay.Params, relay_query.QueryParamsRequest()).params
        convert_params(params, config.chain_id)  # the node binds packets to the chain we record
        packets: list[relay_types.Packet] = []
        for packet in reader.paged(
            "packets",
            reader.relay.Packets,
            relay_query.QueryPacketsRequest(from_nonce=0),
            "packets",
            PACKET_PAGE_LIMIT,
        ):
            if packet.exocore_height > last:
                break  # nonces grow with height: everything after is newer than the range
            packets.append(packet)
        signatures: dict[int, bytes] = {}
        for packet in packets:
            answer = reader.call(
                f"signatures of packet {packet.nonce}",
                reader.relay.PacketSignatures,
                relay_query.QueryPacketSignaturesRequest(nonce=packet.nonce),
                optional=True,
            )
            if answer is not None:
                signatures[int(packet.nonce)] = answer.SerializeToString()
        valsets, current = _record_valsets(
            reader, last, {int(p.valset_nonce) for p in packets} | named.valsets
        )
        distributions = [
            d
            for d in reader.paged(
                "distributions",
                reader.fee.Distributions,
                fee_query.QueryDistributionsRequest(from_nonce=0),
                "distributions",
                LIST_PAGE_LIMIT,
            )
            if d.created_height <= last
        ]
        leaves: dict[int, tuple[bytes, ...]] = {}
        for distribution in distributions:
            if distribution.created_height >= first:
                leaves[int(distribution.nonce)] = tuple(
                    leaf.SerializeToString()
                    for leaf in reader.paged(
                        f"leaves of distribution {distribution.nonce}",
                        reader.fee.DistributionLeaves,
                        fee_query.QueryDistributionLeavesRequest(nonce=distribution.nonce),
                        "leaves",
                        LEAF_PAGE_LIMIT,
                    )
                )
        avs_infos = [
            info.SerializeToString()
            for info in reader.paged(
                "AVS list",
                reader.avs.QueryAVSList,
                avs_query.QueryAVSListRequest(),
                "avs_infos",
                LIST_PAGE_LIMIT,
            )
        ]
        committees = []
        for avs, epoch in sorted(named.committees):
            answer = reader.call(
                f"committee of {avs} epoch {epoch}",
                reader.avs.QueryCommittee,
                avs_query.QueryCommitteeRequest(avs_address=avs, epoch=epoch),
                optional=True,
            )
            if answer is not None:
                committees.append(RecordedCommittee(avs, epoch, answer.committee.SerializeToString()))
        claims = []
        for claim_id in named.claims:
            answer = reader.call(
                f"reward claim 0x{claim_id.hex()}",
                reader.avs.QueryRewardClaim,
                avs_query.QueryRewardClaimRequest(claim_id=claim_id),
                optional=True,
            )
            if answer is not None:
                claims.append(answer.claim.SerializeToString())
        if reader.height is None:
            raise InconsistentResponseError(
                "the node never said which height its state is at", endpoint=reader.target
            )
        return GrpcRecording(
            state_height=reader.height,
            node_info=node_info,
            relay_params=params.SerializeToString(),
            packets=tuple(p.SerializeToString() for p in packets),
            packet_signatures=signatures,
            valsets=valsets,
            current_valset_nonce=current,
            distributions=tuple(d.SerializeToString() for d in distributions),
            distribution_leaves=leaves,
            avs_infos=tuple(avs_infos),
            committees=tuple(committees),
            reward_claims=tuple(claims),
        )
    finally:
        reader.close()


def _record_valsets(reader: _GrpcReader, last: int, named: set[int]) -> tuple[dict[int, bytes], int | None]:
    """Valsets from the lowest one named up to the current one, cut at ``last``; the newest kept is
    the current one of the replay."""
    answer = reader.call(
        "current valset", reader.relay.CurrentValset, relay_query.QueryCurrentValsetRequest(), optional=True
    )
    top = int(answer.valset.valset_nonce) if answer is not None else max(named, default=0)
    valsets: dict[int, bytes] = {}
    for nonce in range(min(named | {top}), top + 1):
        found = reader.call(
            f"valset {nonce}",
            reader.relay.Valset,
            relay_query.QueryValsetRequest(valset_nonce=nonce),
            optional=True,
        )
        if found is not None and found.valset.created_height <= last:
            valsets[nonce] = found.valset.SerializeToString()
    return valsets, max(valsets, default=None)


# --- the command -------------------------------------------------------------------------------------


def record(
    config: ExocoreConfig,
    first: int,
    last: int,
    *,
    transport: httpx.BaseTransport | None = None,
    progress: Callable[[str], None] = lambda _message: None,
) -> Fixture:
    """Record heights ``first..last`` of the chain ``config`` points at (see the module docstring)."""
    if first < 1 or last < first:
        raise RecordRangeError(f"height range {first}..{last} is empty")
    if last - first + 1 > MAX_RECORD_BLOCKS:
        raise RecordRangeError(
            f"{last - first + 1} heights exceed the {MAX_RECORD_BLOCKS} one fixture holds: record in pieces"
        )
    progress(f"reading blocks {first}..{last} over CometBFT RPC")
    rpc = record_rpc(config, first, last, transport=transport)
    named = _Named.of(rpc.committed)
    progress(f"reading gRPC state ({len(named.committees)} committees, {len(named.claims)} claims named)")
    recording = record_grpc(config, first, last, named)
    return Fixture(
        chain_id=config.chain_id,
        from_height=first,
        to_height=last,
        recorded_by=f"exorelay {__version__}",
        rpc=RpcRecording(status=rpc.status, blocks=rpc.blocks, block_results=rpc.block_results),
        grpc=recording,
    )
