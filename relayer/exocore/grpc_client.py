"""Typed client of the exocore gRPC query services, with endpoint failover and per-call deadlines.

Services: ``exocore.relay.v1.Query`` (packets, signatures, valsets, params),
``exocore.feedistribution.v1.Query`` (distributions and their leaves), ``exocore.avs.v1.Query``
(AVSs, committees, reward claims), ``exocore.operator.v1.Query`` (slashes, freezes) and the Cosmos
``cosmos.base.tendermint.v1beta1.Service`` (node info, to check the chain id).

What the relayer acts on is converted to domain values and validated: relay packets become
:class:`relayer.protocol.packets.Packet` (strict payload decoding; the node's payload hash and digest
must match ours), packet signatures, validator sets (→ :class:`~relayer.protocol.quorum.MemberList`),
committees, distributions and their leaves (→ :class:`~relayer.protocol.merkle.DistributionLeaf`).
A packet that does not decode is yielded as a :class:`PacketRejection` carrying the typed error, so
one bad packet never stops the stream; any other value that violates the protocol raises
:class:`MalformedResponseError` / :class:`InconsistentResponseError`. Records the relayer only
passes on (AVS registrations, reward claims, slash records) are returned as the generated
protobuf messages.

Lists are paged transparently (generators); pages after the first are pinned to the block height
the first page was read at (``x-cosmos-block-height`` request metadata), so a Cosmos node serves one
consistent snapshot. Failover order, cooldown and refusal are the shared policy of
:class:`relayer.endpoints.EndpointPool`; an endpoint is used only after ``GetNodeInfo`` says it
serves the configured chain, and one that serves another chain is refused for good.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Final, TypeVar

import grpc
from cosmpy.protos.cosmos.base.query.v1beta1.pagination_pb2 import PageRequest
from cosmpy.protos.cosmos.base.tendermint.v1beta1 import query_pb2 as tendermint_query
from cosmpy.protos.cosmos.base.tendermint.v1beta1 import query_pb2_grpc as tendermint_grpc

from relayer.endpoints import EndpointHealth, EndpointPool
from relayer.errors import ExorelayError, ProtocolError
from relayer.exocore.errors import (
    AllEndpointsFailedError,
    ChainMismatchError,
    EndpointUnavailableError,
    ExocoreClientError,
    ExocoreTimeoutError,
    InconsistentResponseError,
    InvalidQueryError,
    MalformedResponseError,
    QueryFailedError,
    failure_class,
    should_fail_over,
)
from relayer.exocore.proto.avs.v1 import query_pb2 as avs_query
from relayer.exocore.proto.avs.v1 import query_pb2_grpc as avs_grpc
from relayer.exocore.proto.avs.v1 import types_pb2 as avs_types
from relayer.exocore.proto.feedistribution.v1 import query_pb2 as fee_query
from relayer.exocore.proto.feedistribution.v1 import query_pb2_grpc as fee_grpc
from relayer.exocore.proto.feedistribution.v1 import types_pb2 as fee_types
from relayer.exocore.proto.operator.v1 import query_pb2 as operator_query
from relayer.exocore.proto.operator.v1 import query_pb2_grpc as operator_grpc
from relayer.exocore.proto.operator.v1 import tx_pb2 as operator_tx
from relayer.exocore.proto.operator.v1 import types_pb2 as operator_types
from relayer.exocore.proto.relay.v1 import query_pb2 as relay_query
from relayer.exocore.proto.relay.v1 import query_pb2_grpc as relay_grpc
from relayer.exocore.proto.relay.v1 import types_pb2 as relay_types
from relayer.protocol.cumulative import CumulativeLeaf
from relayer.protocol.ids import OperatorAddress, exocore_chain_hash
from relayer.protocol.merkle import DistributionLeaf
from relayer.protocol.packets import ClientChain, FundingMode, Packet, distribution_id
from relayer.protocol.quorum import TWO_THIRDS, MemberList, Threshold
from relayer.protocol.types import (
    UINT64_MAX,
    Address,
    Amount,
    Hash32,
    Power,
    as_address,
    as_amount,
    as_hash32,
    as_power,
)

_log = logging.getLogger(__name__)

T = TypeVar("T")

# --- tunables ----------------------------------------------------------------------------------------

# Same reasoning as the RPC timeout: one slow node must not stall the pipeline (relayer.config's
# exocore.request_timeout_s default).
DEFAULT_GRPC_TIMEOUT_S: Final = 10.0
# Page sizes. The SDK default (100) for small records; leaves are ~120 B so 1000 a page keep a
# 1M-leaf distribution at 1000 round trips and each answer near 120 KB; packets carry payloads up to
# ~25 KB (a 190-member VALSET_UPDATE), so 50 a page stay near 1 MiB.
DEFAULT_PAGE_LIMIT: Final = 100
LEAF_PAGE_LIMIT: Final = 1000
PACKET_PAGE_LIMIT: Final = 50
# gRPC's default 4 MiB receive cap could refuse a page of the largest legal packets (1 MiB payloads).
GRPC_MAX_RECEIVE_MESSAGE_BYTES: Final = 64 * 1024 * 1024
# Pages one listing may take before the node is deemed to be paging us in circles (10^8 leaves).
MAX_PAGES: Final = 100_000

BLOCK_HEIGHT_METADATA_KEY: Final = "x-cosmos-block-height"
BLS_PUBKEY_BYTES: Final = 48
BLS_SIGNATURE_BYTES: Final = 96
ID_BYTES: Final = 32
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,77}")
_ADDRESS_HEX = re.compile(r"0x[0-9a-f]{40}")

# Status codes after which the same query is retried on the next endpoint.
_FAIL_OVER_CODES: Final = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.DATA_LOSS,
    }
)


# --- values ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GrpcNodeInfo:
    endpoint: str
    chain_id: str
    moniker: str
    cometbft_version: str
    app_name: str
    app_version: str
    cosmos_sdk_version: str


@dataclass(frozen=True, slots=True)
class RelayParams:
    """What every packet digest binds: L1 chain, gateway, Exocore chain; and the valset quorum.

    ``l1_chain_id`` / ``gateway`` name the first client chain (a packet that names none is for it);
    ``client_chains`` lists every one Exocore relays to, that one first."""

    l1_chain_id: int
    gateway: Address
    exocore_chain: Hash32
    threshold: Threshold
    client_chains: tuple[ClientChain, ...] = ()

    def __post_init__(self) -> None:
        if not self.client_chains:
            object.__setattr__(self, "client_chains", (ClientChain(self.l1_chain_id, self.gateway),))

    @property
    def default_chain(self) -> ClientChain:
        return self.client_chains[0]


@dataclass(frozen=True, slots=True)
class RelayPacket:
    """A relay packet that decoded strictly and whose node-given hashes match ours."""

    packet: Packet
    exocore_height: int

    @property
    def nonce(self) -> int:
        return self.packet.nonce


@dataclass(frozen=True, slots=True)
class PacketRejection:
    """A packet the node serves but the relayer refuses (undecodable payload, wrong hash...)."""

    nonce: int
    kind: int
    valset_nonce: int
    exocore_height: int
    payload: bytes
    error: ExorelayError = field(compare=False)

    @property
    def reason(self) -> str:
        return f"{type(self.error).__name__}: {self.error}"


@dataclass(frozen=True, slots=True)
class ValidatorSignature:
    """One member's signature over a packet digest; ``signature`` is ``None`` if it did not sign."""

    index: int
    bls_pubkey: bytes
    signature: bytes | None


@dataclass(frozen=True, slots=True)
class PacketSignatures:
    nonce: int
    valset_nonce: int
    signatures: tuple[ValidatorSignature, ...]

    @property
    def signed(self) -> tuple[ValidatorSignature, ...]:
        return tuple(entry for entry in self.signatures if entry.signature is not None)


@dataclass(frozen=True, slots=True)
class ValsetMember:
    index: int
    bls_pubkey: bytes
    """BLS12-381 G1, 48 bytes compressed."""
    power: Power
    consensus_address: str
    pop_signature: bytes = b""
    """IETF proof of possession of ``bls_pubkey`` (96 bytes compressed G2); empty if not served."""


@dataclass(frozen=True, slots=True)
class Valset:
    """An ordered validator set (bitmap order) and its nonce."""

    valset_nonce: int
    members: tuple[ValsetMember, ...]
    total_power: Power
    created_height: int

    def member_list(self) -> MemberList:
        """Quorum view keyed by the compressed BLS public keys, in set order."""
        return MemberList.of((member.bls_pubkey, member.power) for member in self.members)


@dataclass(frozen=True, slots=True)
class CommitteeMember:
    index: int
    operator: OperatorAddress
    bls_pubkey: bytes
    power: Power


@dataclass(frozen=True, slots=True)
class Committee:
    avs: Address
    epoch: int
    members: tuple[CommitteeMember, ...]
    total_power: Power
    threshold: Threshold
    elected_height: int

    def member_list(self) -> MemberList:
        return MemberList.of((member.bls_pubkey, member.power) for member in self.members)


@dataclass(frozen=True, slots=True)
class Distribution:
    """A distribution as Exocore computed it; its REWARD_DISTRIBUTION packet has ``nonce``."""

    nonce: int
    distribution_id: Hash32
    claim_id: Hash32
    avs: Address
    epoch: int
    token: Address
    funding: FundingMode
    total: Amount
    leaf_count: int
    merkle_root: Hash32
    community_tax: Amount
    created_height: int


class LeafKind(IntEnum):
    STAKER = 1
    OPERATOR_COMMISSION = 2


@dataclass(frozen=True, slots=True)
class LeafRecord:
    leaf: DistributionLeaf
    kind: LeafKind
    operator: OperatorAddress | None
    l1_request_ids: tuple[int, ...] = ()
    """A withdrawal-approval leaf's L1 RestakingVault request ids (empty for a reward leaf)."""


@dataclass(frozen=True, slots=True)
class FrozenStatus:
    frozen: bool
    frozen_height: int
    slash_id: Hash32 | None


# --- conversions (raise MalformedResponseError / InconsistentResponseError) -----------------------------


def _decimal(text: str, what: str) -> int:
    if not isinstance(text, str) or not _DECIMAL.fullmatch(text):
        raise MalformedResponseError(f"{what} {str(text)[:80]!r} is not a canonical decimal integer")
    return int(text)


def _id(raw: bytes, what: str) -> Hash32:
    if len(raw) != ID_BYTES:
        raise MalformedResponseError(f"{what} must be {ID_BYTES} bytes, got {len(raw)}")
    return as_hash32(bytes(raw))


def _address(text: str, what: str) -> Address:
    if not isinstance(text, str) or not _ADDRESS_HEX.fullmatch(text):
        raise MalformedResponseError(f"{what} {str(text)[:60]!r} is not a 0x lower-case 20-byte address")
    return as_address(text)


def _operator(text: str, what: str) -> OperatorAddress:
    try:
        return OperatorAddress.parse(text)
    except ProtocolError as exc:
        raise MalformedResponseError(f"{what}: {exc}") from exc


def _pubkey(raw: bytes, what: str) -> bytes:
    if len(raw) != BLS_PUBKEY_BYTES:
        raise MalformedResponseError(f"{what} must be {BLS_PUBKEY_BYTES} bytes, got {len(raw)}")
    return bytes(raw)


def _threshold(numerator: int, denominator: int, what: str) -> Threshold:
    if numerator == 0 and denominator == 0:
        return TWO_THIRDS  # unset on chain means the default
    try:
        return Threshold(int(numerator), int(denominator))
    except ProtocolError as exc:
        raise MalformedResponseError(f"{what}: {exc}") from exc


def _power(text: str, what: str) -> Power:
    value = _decimal(text, what)
    if value == 0:
        raise MalformedResponseError(f"{what} must be positive")
    return as_power(value)


def _checked_member_list(build: Callable[[], MemberList], what: str) -> None:
    try:
        build()
    except ProtocolError as exc:
        raise MalformedResponseError(f"{what}: {exc}") from exc


def convert_params(params: relay_types.Params, chain_id: str) -> RelayParams:
    exocore_chain = _id(params.exocore_chain, "relay params exocore_chain")
    expected = exocore_chain_hash(chain_id)
    if exocore_chain != expected:
        raise ChainMismatchError(
            f"relay params bind exocoreChain 0x{exocore_chain.hex()}, "
            f"not keccak({chain_id!r} without revision)"
        )
    if params.l1_chain_id <= 0:
        raise MalformedResponseError("relay params l1_chain_id must be positive")
    first = ClientChain(int(params.l1_chain_id), _address(params.gateway, "relay params gateway"))
    chains = [first]
    for index, entry in enumerate(params.client_chains):
        if entry.l1_chain_id <= 0:
            raise MalformedResponseError(f"relay params client_chains[{index}].l1_chain_id must be positive")
        gateway = _address(entry.gateway, f"relay params client_chains[{index}].gateway")
        chain = ClientChain(int(entry.l1_chain_id), gateway)
        if index == 0 and chain == first:
            continue  # the list repeats the first chain, as it should
        if any(known.l1_chain_id == chain.l1_chain_id for known in chains):
            raise InconsistentResponseError(f"relay params list client chain {chain.l1_chain_id} twice")
        chains.append(chain)
    return RelayParams(
        l1_chain_id=first.l1_chain_id,
        gateway=first.gateway,
        exocore_chain=exocore_chain,
        threshold=_threshold(params.threshold_numerator, params.threshold_denominator, "relay threshold"),
        client_chains=tuple(chains),
    )


def packet_destination(message: relay_types.Packet, params: RelayParams) -> ClientChain:
    """The client chain ``message`` is addressed to: its own fields, or the first chain when it names
    none. A chain the relay params do not list is an inconsistent answer."""
    if not message.l1_chain_id and not message.gateway:
        return params.default_chain
    destination = ClientChain(int(message.l1_chain_id), _address(message.gateway, "packet gateway"))
    if destination not in params.client_chains:
        raise InconsistentResponseError(
            f"packet {message.nonce} is addressed to {destination}, which the relay params do not list"
        )
    return destination


def convert_packet(message: relay_types.Packet, params: RelayParams) -> RelayPacket | PacketRejection:
    """Strictly decode one packet against ``params``; anything wrong becomes a rejection."""
    try:
        destination = packet_destination(message, params)
        packet = Packet.from_payload_bytes(
            exocore_chain=params.exocore_chain,
            l1_chain_id=destination.l1_chain_id,
            gateway=destination.gateway,
            valset_nonce=int(message.valset_nonce),
            nonce=int(message.nonce),
            kind=int(message.kind),
            payload_bytes=bytes(message.payload),
        )
        if bytes(message.payload_hash) != packet.payload_hash:
            raise InconsistentResponseError(
                f"packet {message.nonce}: the node's payload_hash 0x{bytes(message.payload_hash).hex()} "
                f"is not keccak256(payload) 0x{packet.payload_hash.hex()}"
            )
        if bytes(message.digest) != packet.digest:
            raise InconsistentResponseError(
                f"packet {message.nonce}: the node's digest 0x{bytes(message.digest).hex()} is not the "
                f"digest 0x{packet.digest.hex()} of its contents under the relay params"
            )
    except ExorelayError as error:
        return PacketRejection(
            nonce=int(message.nonce),
            kind=int(message.kind),
            valset_nonce=int(message.valset_nonce),
            exocore_height=int(message.exocore_height),
            payload=bytes(message.payload),
            error=error,
        )
    return RelayPacket(packet, int(message.exocore_height))


def convert_signatures(response: relay_query.QueryPacketSignaturesResponse, nonce: int) -> PacketSignatures:
    if response.nonce != nonce:
        raise InconsistentResponseError(
            f"asked for signatures of packet {nonce}, got packet {response.nonce}"
        )
    entries = []
    for position, entry in enumerate(response.signatures):
        what = f"packet {nonce} signature #{position}"
        if entry.index != position:
            raise MalformedResponseError(f"{what} has index {entry.index}: entries must follow set order")
        signature = bytes(entry.signature)
        if entry.signed and len(signature) != BLS_SIGNATURE_BYTES:
            raise MalformedResponseError(f"{what}: signature of {len(signature)} bytes")
        if not entry.signed and signature:
            raise MalformedResponseError(f"{what}: unsigned entry carries a signature")
        entries.append(
            ValidatorSignature(position, _pubkey(entry.bls_pubkey, f"{what} pubkey"), signature or None)
        )
    return PacketSignatures(nonce, int(response.valset_nonce), tuple(entries))


def convert_valset(message: relay_types.Valset) -> Valset:
    what = f"valset {message.valset_nonce}"
    members = []
    for position, member in enumerate(message.members):
        if member.index != position:
            raise MalformedResponseError(f"{what} member #{position} has index {member.index}")
        members.append(
            ValsetMember(
                index=position,
                bls_pubkey=_pubkey(member.bls_pubkey, f"{what} member #{position} pubkey"),
                power=_power(member.power, f"{what} member #{position} power"),
                consensus_address=member.consensus_address,
                pop_signature=bytes(member.pop_signature),
            )
        )
    if not members:
        raise MalformedResponseError(f"{what} has no members")
    total = _decimal(message.total_power, f"{what} total_power")
    if total != sum(member.power for member in members):
        raise MalformedResponseError(f"{what}: total_power {total} is not the sum of member powers")
    valset = Valset(int(message.valset_nonce), tuple(members), as_power(total), int(message.created_height))
    _checked_member_list(valset.member_list, what)
    return valset


def convert_committee(message: avs_types.Committee) -> Committee:
    what = f"committee of {message.avs_address} epoch {message.epoch}"
    members = []
    for position, member in enumerate(message.members):
        if member.index != position:
            raise MalformedResponseError(f"{what} member #{position} has index {member.index}")
        members.append(
            CommitteeMember(
                index=position,
                operator=_operator(member.operator, f"{what} member #{position} operator"),
                bls_pubkey=_pubkey(member.bls_pubkey, f"{what} member #{position} pubkey"),
                power=_power(member.power, f"{what} member #{position} power"),
            )
        )
    total = _decimal(message.total_power, f"{what} total_power")
    if total != sum(member.power for member in members):
        raise MalformedResponseError(f"{what}: total_power {total} is not the sum of member powers")
    committee = Committee(
        avs=_address(message.avs_address, f"{what} avs_address"),
        epoch=int(message.epoch),
        members=tuple(members),
        total_power=as_power(total),
        threshold=_threshold(message.threshold_numerator, message.threshold_denominator, what),
        elected_height=int(message.elected_height),
    )
    if members:
        _checked_member_list(committee.member_list, what)
    return committee


def convert_distribution(message: fee_types.Distribution, chain_id: str) -> Distribution:
    what = f"distribution {message.nonce}"
    try:
        funding = FundingMode(int(message.funding))
    except ValueError as exc:
        raise MalformedResponseError(f"{what}: funding {message.funding} is not MINT, VAULT or FEES") from exc
    converted = Distribution(
        nonce=int(message.nonce),
        distribution_id=_id(message.distribution_id, f"{what} distribution_id"),
        claim_id=_id(message.claim_id, f"{what} claim_id"),
        avs=_address(message.avs_address, f"{what} avs_address"),
        epoch=int(message.epoch),
        token=_address(message.token, f"{what} token"),
        funding=funding,
        total=as_amount(_decimal(message.total, f"{what} total")),
        leaf_count=int(message.leaf_count),
        merkle_root=_id(message.merkle_root, f"{what} merkle_root"),
        community_tax=as_amount(_decimal(message.community_tax or "0", f"{what} community_tax")),
        created_height=int(message.created_height),
    )
    expected = distribution_id(exocore_chain_hash(chain_id), converted.nonce)
    if converted.distribution_id != expected:
        raise InconsistentResponseError(
            f"{what}: distribution_id 0x{converted.distribution_id.hex()} is not "
            f"keccak256(exocoreChain, nonce) 0x{expected.hex()}"
        )
    return converted


def convert_leaf(message: fee_types.DistributionLeaf, what: str) -> LeafRecord:
    try:
        kind = LeafKind(int(message.kind))
    except ValueError as exc:
        raise MalformedResponseError(f"{what}: leaf kind {message.kind} is unknown") from exc
    leaf = DistributionLeaf(
        index=int(message.index),
        staker=_address(message.staker, f"{what} staker"),
        amount=as_amount(_decimal(message.amount, f"{what} amount")),
    )
    operator = _operator(message.operator, f"{what} operator") if message.operator else None
    return LeafRecord(leaf, kind, operator, tuple(int(i) for i in message.l1_request_ids))


def convert_cumulative_leaf(message: fee_types.CumulativeLeaf, what: str) -> CumulativeLeaf:
    return CumulativeLeaf(
        earner=_address(message.earner, f"{what} earner"),
        token=_address(message.token, f"{what} token"),
        cumulative=as_amount(_decimal(message.cumulative, f"{what} cumulative")),
    )


# --- the client -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GrpcEndpointStats:
    target: str
    calls: int
    failures: int
    last_error: str | None
    chain_verified: bool
    query_height: int | None


class _GrpcEndpoint:
    def __init__(self, target: str) -> None:
        self.target = target
        secure = target.startswith("grpc+https://")
        address = target.split("://", 1)[1] if "://" in target else target
        options = [
            ("grpc.max_receive_message_length", GRPC_MAX_RECEIVE_MESSAGE_BYTES),
            # Fail fast on a dead endpoint instead of waiting for a reconnect backoff to expire.
            ("grpc.enable_retries", 0),
        ]
        if secure:
            self.channel = grpc.secure_channel(address, grpc.ssl_channel_credentials(), options=options)
        else:
            self.channel = grpc.insecure_channel(address, options=options)
        self.tendermint = tendermint_grpc.ServiceStub(self.channel)
        self.avs = avs_grpc.QueryStub(self.channel)
        self.fee = fee_grpc.QueryStub(self.channel)
        self.operator = operator_grpc.QueryStub(self.channel)
        self.relay = relay_grpc.QueryStub(self.channel)
        self.chain_verified = False
        self.query_height: int | None = None
        self.calls = 0
        self.failures = 0
        self.last_error: str | None = None

    def stats(self) -> GrpcEndpointStats:
        return GrpcEndpointStats(
            self.target, self.calls, self.failures, self.last_error, self.chain_verified, self.query_height
        )


@dataclass
class _Page:
    """Paging state of one listing: the next key and the height the first page was read at."""

    key: bytes = b""
    height: int | None = None
    pages: int = 0
    seen_keys: set[bytes] = field(default_factory=set)


def _map_rpc_error(error: grpc.RpcError, endpoint: str, what: str) -> ExocoreClientError:
    code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    details = (error.details() if hasattr(error, "details") else str(error)) or ""
    if code is grpc.StatusCode.DEADLINE_EXCEEDED:
        return ExocoreTimeoutError(f"{what}: deadline exceeded", endpoint=endpoint)
    if code is grpc.StatusCode.UNAVAILABLE:
        return EndpointUnavailableError(f"{what}: {details}", endpoint=endpoint)
    if code is grpc.StatusCode.INVALID_ARGUMENT:
        return InvalidQueryError(f"{what}: {details}", endpoint=endpoint)
    return QueryFailedError(
        code.name, f"{what}: {details}", endpoint=endpoint, fail_over=code in _FAIL_OVER_CODES
    )


class ExocoreGrpcClient:
    """Queries over several gRPC endpoints (``host:port``, or ``grpc+https://host:port`` for TLS)."""

    def __init__(
        self,
        targets: Sequence[str],
        *,
        chain_id: str,
        timeout_s: float = DEFAULT_GRPC_TIMEOUT_S,
    ) -> None:
        if isinstance(targets, str) or not targets:
            raise ValueError("ExocoreGrpcClient needs a non-empty list of endpoints")
        if len(set(targets)) != len(targets):
            raise ValueError("duplicate gRPC endpoint")
        if not chain_id:
            raise ValueError("chain_id is required")
        if not timeout_s > 0:
            raise ValueError("timeout_s must be positive")
        self._chain_id = chain_id
        self._timeout_s = float(timeout_s)
        self._endpoints = [_GrpcEndpoint(target) for target in targets]
        self._by_target = {endpoint.target: endpoint for endpoint in self._endpoints}
        self._pool = EndpointPool(list(targets))
        self._refusals: dict[str, ExocoreClientError] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: Any) -> ExocoreGrpcClient:
        """Build from ``relayer.config.ExocoreConfig`` (grpc_endpoints, chain_id, request_timeout_s)."""
        return cls(list(config.grpc_endpoints), chain_id=config.chain_id, timeout_s=config.request_timeout_s)

    # -- introspection --

    @property
    def chain_id(self) -> str:
        return self._chain_id

    @property
    def active_endpoint(self) -> str:
        return self._pool.active

    @property
    def failover_count(self) -> int:
        return self._pool.switches

    def endpoint_health(self) -> tuple[EndpointHealth, ...]:
        """Each endpoint's state in the shared pool (``relayer.endpoints``), for metrics."""
        return self._pool.health(time.monotonic())

    def endpoint_stats(self) -> tuple[GrpcEndpointStats, ...]:
        with self._lock:
            return tuple(endpoint.stats() for endpoint in self._endpoints)

    def close(self) -> None:
        for endpoint in self._endpoints:
            endpoint.channel.close()

    def __enter__(self) -> ExocoreGrpcClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- node --

    def node_info(self) -> GrpcNodeInfo:
        return self._call("GetNodeInfo", self._node_info_on, verify=False)

    # -- exocore.relay.v1 --

    def relay_params(self) -> RelayParams:
        response = self._call(
            "relay Params", lambda e: self._unary(e, e.relay.Params, relay_query.QueryParamsRequest())
        )
        return self._converted(lambda: convert_params(response.params, self._chain_id))

    def packet(self, nonce: int, params: RelayParams) -> RelayPacket | PacketRejection | None:
        """Packet ``nonce`` (``None`` if the chain has none), decoded against ``params``."""
        request = relay_query.QueryPacketRequest(nonce=_uint64(nonce))
        response = self._call(
            f"packet {nonce}", lambda e: self._unary(e, e.relay.Packet, request), optional=True
        )
        if response is None:
            return None
        if response.packet.nonce != nonce:
            raise InconsistentResponseError(f"asked for packet {nonce}, got packet {response.packet.nonce}")
        return convert_packet(response.packet, params)

    def packets(
        self, from_nonce: int, params: RelayParams, *, page_limit: int = PACKET_PAGE_LIMIT
    ) -> Iterator[RelayPacket | PacketRejection]:
        """Every packet with nonce >= ``from_nonce``, in nonce order, paged transparently."""
        previous: int | None = None
        request = relay_query.QueryPacketsRequest(from_nonce=_uint64(from_nonce))
        for message in self._paged("packets", request, lambda e: e.relay.Packets, "packets", page_limit):
            nonce = int(message.nonce)
            if nonce < from_nonce or (previous is not None and nonce <= previous):
                raise InconsistentResponseError(
                    f"packets from {from_nonce}: nonce {nonce} after {previous} breaks nonce order"
                )
            previous = nonce
            yield convert_packet(message, params)

    def packet_signatures(self, nonce: int) -> PacketSignatures | None:
        request = relay_query.QueryPacketSignaturesRequest(nonce=_uint64(nonce))
        response = self._call(
            f"signatures of packet {nonce}",
            lambda e: self._unary(e, e.relay.PacketSignatures, request),
            optional=True,
        )
        if response is None:
            return None
        return self._converted(lambda: convert_signatures(response, nonce))

    def valset(self, valset_nonce: int) -> Valset | None:
        request = relay_query.QueryValsetRequest(valset_nonce=_uint64(valset_nonce))
        response = self._call(
            f"valset {valset_nonce}", lambda e: self._unary(e, e.relay.Valset, request), optional=True
        )
        if response is None:
            return None
        valset = self._converted(lambda: convert_valset(response.valset))
        if valset.valset_nonce != valset_nonce:
            raise InconsistentResponseError(
                f"asked for valset {valset_nonce}, got valset {valset.valset_nonce}"
            )
        return valset

    def current_valset(self) -> Valset | None:
        request = relay_query.QueryCurrentValsetRequest()
        response = self._call(
            "current valset", lambda e: self._unary(e, e.relay.CurrentValset, request), optional=True
        )
        return None if response is None else self._converted(lambda: convert_valset(response.valset))

    # -- exocore.feedistribution.v1 --

    def distribution(self, *, nonce: int | None = None, claim_id: bytes | None = None) -> Distribution | None:
        """One distribution by packet nonce or by claim id (exactly one of them)."""
        if (nonce is None) == (claim_id is None):
            raise ValueError("give exactly one of nonce and claim_id")
        request = (
            fee_query.QueryDistributionRequest(nonce=_uint64(nonce))
            if nonce is not None
            else fee_query.QueryDistributionRequest(claim_id=bytes(claim_id or b""))
        )
        response = self._call(
            "distribution", lambda e: self._unary(e, e.fee.Distribution, request), optional=True
        )
        if response is None:
            return None
        converted = self._converted(lambda: convert_distribution(response.distribution, self._chain_id))
        if nonce is not None and converted.nonce != nonce:
            raise InconsistentResponseError(f"asked for distribution {nonce}, got {converted.nonce}")
        if claim_id is not None and converted.claim_id != claim_id:
            raise InconsistentResponseError("the distribution returned is for another claim")
        return converted

    def distributions(
        self, from_nonce: int = 0, *, page_limit: int = DEFAULT_PAGE_LIMIT
    ) -> Iterator[Distribution]:
        previous: int | None = None
        request = fee_query.QueryDistributionsRequest(from_nonce=_uint64(from_nonce))
        for message in self._paged(
            "distributions", request, lambda e: e.fee.Distributions, "distributions", page_limit
        ):
            converted = self._converted(convert_distribution, message, self._chain_id)
            if converted.nonce < from_nonce or (previous is not None and converted.nonce <= previous):
                raise InconsistentResponseError(f"distribution {converted.nonce} breaks nonce order")
            previous = converted.nonce
            yield converted

    def distribution_leaves(self, nonce: int, *, page_limit: int = LEAF_PAGE_LIMIT) -> Iterator[LeafRecord]:
        """The leaves of distribution ``nonce`` in index order; indices must be exactly 0, 1, 2, ..."""
        request = fee_query.QueryDistributionLeavesRequest(nonce=_uint64(nonce))
        leaves = self._paged(
            f"leaves of distribution {nonce}",
            request,
            lambda e: e.fee.DistributionLeaves,
            "leaves",
            page_limit,
        )
        for expected, message in enumerate(leaves):
            what = f"distribution {nonce} leaf #{expected}"
            record = self._converted(convert_leaf, message, what)
            if record.leaf.index != expected:
                raise InconsistentResponseError(f"{what} has index {record.leaf.index}: leaves must be dense")
            yield record

    def cumulative_leaves(
        self, period: int, *, l1_chain_id: int = 0, page_limit: int = LEAF_PAGE_LIMIT
    ) -> Iterator[CumulativeLeaf]:
        """Every leaf of client chain ``l1_chain_id``'s cumulative ``period`` (the tree behind its
        CUMULATIVE_ROOT packet); 0: Exocore's first client chain. Each chain numbers its own periods."""
        request = fee_query.QueryCumulativeLeavesRequest(
            period=_uint64(period), l1_chain_id=_uint64(l1_chain_id)
        )
        of_chain = f" of client chain {l1_chain_id}" if l1_chain_id else ""
        leaves = self._paged(
            f"leaves of cumulative period {period}{of_chain}",
            request,
            lambda e: e.fee.CumulativeLeaves,
            "leaves",
            page_limit,
        )
        for position, message in enumerate(leaves):
            yield self._converted(
                convert_cumulative_leaf, message, f"cumulative period {period} leaf #{position}"
            )

    # -- exocore.avs.v1 (AVS and claim records are passed on as protobuf messages) --

    def avs_info(self, avs_address: str) -> avs_types.AVSInfo | None:
        request = avs_query.QueryAVSInfoRequest(avs_address=avs_address)
        response = self._call(
            f"AVS {avs_address}", lambda e: self._unary(e, e.avs.QueryAVSInfo, request), optional=True
        )
        return None if response is None else response.info

    def avs_infos(self, *, page_limit: int = DEFAULT_PAGE_LIMIT) -> Iterator[avs_types.AVSInfo]:
        request = avs_query.QueryAVSListRequest()
        yield from self._paged("AVS list", request, lambda e: e.avs.QueryAVSList, "avs_infos", page_limit)

    def committee(self, avs_address: str, epoch: int = 0) -> Committee | None:
        """The committee of ``avs_address`` for ``epoch`` (0 = the AVS's current epoch)."""
        request = avs_query.QueryCommitteeRequest(avs_address=avs_address, epoch=_uint64(epoch))
        response = self._call(
            f"committee of {avs_address}",
            lambda e: self._unary(e, e.avs.QueryCommittee, request),
            optional=True,
        )
        return None if response is None else self._converted(lambda: convert_committee(response.committee))

    def reward_claim(self, claim_id: bytes) -> avs_types.RewardClaim | None:
        request = avs_query.QueryRewardClaimRequest(claim_id=bytes(claim_id))
        response = self._call(
            "reward claim", lambda e: self._unary(e, e.avs.QueryRewardClaim, request), optional=True
        )
        return None if response is None else response.claim

    def reward_claims(
        self, *, avs_address: str = "", status: int = 0, page_limit: int = DEFAULT_PAGE_LIMIT
    ) -> Iterator[avs_types.RewardClaim]:
        request = avs_query.QueryRewardClaimsRequest(avs_address=avs_address, status=status)  # type: ignore[arg-type]
        yield from self._paged(
            "reward claims", request, lambda e: e.avs.QueryRewardClaims, "claims", page_limit
        )

    # -- exocore.operator.v1 --

    def operator_info(self, operator: str) -> operator_tx.OperatorInfo | None:
        """Upstream ``QueryOperatorInfo``: the operator's registration (name in ``operator_meta_info``)."""
        request = operator_query.GetOperatorInfoReq(operator_addr=operator)
        info: operator_tx.OperatorInfo | None = self._call(
            f"operator {operator}",
            lambda e: self._unary(e, e.operator.QueryOperatorInfo, request),
            optional=True,
        )
        return info

    def slash(self, slash_id: bytes) -> operator_types.OperatorSlashInfo | None:
        request = operator_query.QuerySlashRequest(slash_id=bytes(slash_id))
        response = self._call(
            "slash", lambda e: self._unary(e, e.operator.QuerySlash, request), optional=True
        )
        return None if response is None else response.slash_info

    def operator_slashes(
        self, operator: str, *, avs_address: str = "", page_limit: int = DEFAULT_PAGE_LIMIT
    ) -> Iterator[operator_types.OperatorSlashInfo]:
        request = operator_query.QueryOperatorSlashInfoRequest(operator=operator, avs_address=avs_address)
        yield from self._paged(
            f"slashes of {operator}",
            request,
            lambda e: e.operator.QueryOperatorSlashInfo,
            "slash_infos",
            page_limit,
        )

    def operator_frozen(self, operator: str, avs_address: str) -> FrozenStatus:
        request = operator_query.QueryOperatorFrozenRequest(operator=operator, avs_address=avs_address)
        response = self._call(
            f"frozen {operator}", lambda e: self._unary(e, e.operator.QueryOperatorFrozen, request)
        )
        if not response.frozen:
            return FrozenStatus(False, 0, None)
        return FrozenStatus(
            True, int(response.frozen_height), self._converted(lambda: _id(response.slash_id, "slash_id"))
        )

    # -- machinery --

    def _converted(self, convert: Callable[..., T], *args: Any) -> T:
        """Run a conversion, tagging its errors with the endpoint that served the data."""
        try:
            return convert(*args)
        except ExocoreClientError as error:
            error.endpoint = error.endpoint or self._pool.active
            raise
        except ProtocolError as exc:
            raise MalformedResponseError(str(exc), endpoint=self._pool.active) from exc

    def _order(self) -> list[_GrpcEndpoint]:
        """The pool's order for one call (refused endpoints left out)."""
        return [self._by_target[target] for target in self._pool.order(time.monotonic())]

    def _call(
        self, what: str, invoke: Callable[[_GrpcEndpoint], T], *, verify: bool = True, optional: bool = False
    ) -> T:
        """Run ``invoke`` on the first endpoint that answers; NOT_FOUND gives ``None`` if ``optional``
        (callers that pass ``optional=True`` get ``Any`` from ``_unary`` and check for ``None``)."""
        with self._lock:
            failures: dict[str, ExocoreClientError] = dict(self._refusals)
        for endpoint in self._order():
            try:
                if verify and not endpoint.chain_verified:
                    self._node_info_on(endpoint)
                result = invoke(endpoint)
            except grpc.RpcError as exc:
                if optional and exc.code() is grpc.StatusCode.NOT_FOUND:
                    self._record(endpoint, None)
                    return None  # type: ignore[return-value]  # T is Any for optional lookups
                error = _map_rpc_error(exc, endpoint.target, what)
            except ExocoreClientError as exc:
                error = exc
                error.endpoint = error.endpoint or endpoint.target
            else:
                self._record(endpoint, None)
                return result
            if not should_fail_over(error):
                self._record(endpoint, None)
                raise error
            self._record(endpoint, error)
            failures[endpoint.target] = error
            _log.warning("exocore grpc %s failed on %s: %s", what, endpoint.target, error)
        if len(failures) == 1:
            raise next(iter(failures.values()))
        raise AllEndpointsFailedError(what, failures)

    def _record(self, endpoint: _GrpcEndpoint, error: ExocoreClientError | None) -> None:
        now = time.monotonic()
        with self._lock:
            endpoint.calls += 1
            if error is not None:
                endpoint.failures += 1
                endpoint.last_error = f"{type(error).__name__}: {error.reason}"
                endpoint.chain_verified = False
                if isinstance(error, ChainMismatchError):
                    self._refusals[endpoint.target] = error
        if error is None:
            previous = self._pool.active
            if self._pool.succeeded(endpoint.target, now):
                _log.warning("exocore grpc: failing over from %s to %s", previous, endpoint.target)
            return
        self._pool.failed(endpoint.target, failure_class(error), endpoint.last_error or "", now)

    def _unary(self, endpoint: _GrpcEndpoint, method: Any, request: Any, height: int | None = None) -> Any:
        """One call with the per-call deadline; records the state height the node answered at."""
        metadata = None if height is None else ((BLOCK_HEIGHT_METADATA_KEY, str(height)),)
        response, call = method.with_call(request, timeout=self._timeout_s, metadata=metadata)
        answered = _height_of(call)
        if answered is not None:
            with self._lock:
                previous = endpoint.query_height
                if height is None and previous is not None and answered < previous:
                    raise InconsistentResponseError(
                        f"state height went backwards from {previous} to {answered}", endpoint=endpoint.target
                    )
                endpoint.query_height = max(previous or 0, answered)
        return response

    def _node_info_on(self, endpoint: _GrpcEndpoint) -> GrpcNodeInfo:
        response = self._unary(
            endpoint, endpoint.tendermint.GetNodeInfo, tendermint_query.GetNodeInfoRequest()
        )
        node = response.default_node_info
        version = response.application_version
        info = GrpcNodeInfo(
            endpoint=endpoint.target,
            chain_id=str(node.network),
            moniker=str(node.moniker),
            cometbft_version=str(node.version),
            app_name=str(version.app_name),
            app_version=str(version.version),
            cosmos_sdk_version=str(version.cosmos_sdk_version),
        )
        if info.chain_id != self._chain_id:
            raise ChainMismatchError(
                f"serves chain {info.chain_id!r}, not the configured {self._chain_id!r}",
                endpoint=endpoint.target,
            )
        with self._lock:
            endpoint.chain_verified = True
        return info

    def _paged(
        self,
        what: str,
        request: Any,
        method_of: Callable[[_GrpcEndpoint], Any],
        items_field: str,
        page_limit: int,
    ) -> Iterator[Any]:
        """Yield every item of a paginated listing, following ``next_key`` until it is empty."""
        if page_limit < 1:
            raise ValueError("page_limit must be at least 1")
        state = _Page()
        while True:
            request.pagination.CopyFrom(PageRequest(key=state.key, limit=page_limit))
            response = self._call(
                f"{what} page {state.pages + 1}",
                lambda e: self._page_on(e, method_of(e), request, state),
            )
            items = list(getattr(response, items_field))
            if len(items) > page_limit:
                raise MalformedResponseError(
                    f"{what}: page of {len(items)} items exceeds the limit {page_limit}"
                )
            yield from items
            next_key = bytes(response.pagination.next_key)
            if not next_key:
                return
            if not items or next_key in state.seen_keys or state.pages >= MAX_PAGES:
                raise InconsistentResponseError(f"{what}: pagination does not advance (next_key repeats)")
            state.seen_keys.add(next_key)
            state.key = next_key

    def _page_on(self, endpoint: _GrpcEndpoint, method: Any, request: Any, state: _Page) -> Any:
        response, call = method.with_call(
            request,
            timeout=self._timeout_s,
            metadata=None if state.height is None else ((BLOCK_HEIGHT_METADATA_KEY, str(state.height)),),
        )
        answered = _height_of(call)
        if state.height is None and answered:
            state.height = answered  # pin the following pages to this snapshot
        state.pages += 1
        return response


def _height_of(call: Any) -> int | None:
    try:
        metadata = call.initial_metadata() or ()
    except (AttributeError, grpc.RpcError):
        return None
    for key, value in metadata:
        if key == BLOCK_HEIGHT_METADATA_KEY:
            text = value.decode() if isinstance(value, bytes) else str(value)
            return int(text) if text.isdigit() else None
    return None


def _uint64(value: int | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= UINT64_MAX:
        raise ValueError(f"expected a uint64, got {value!r}")
    return value


__all__ = [
    "DEFAULT_GRPC_TIMEOUT_S",
    "Committee",
    "CommitteeMember",
    "Distribution",
    "ExocoreGrpcClient",
    "FrozenStatus",
    "GrpcNodeInfo",
    "LeafKind",
    "LeafRecord",
    "PacketRejection",
    "PacketSignatures",
    "RelayPacket",
    "RelayParams",
    "ValidatorSignature",
    "Valset",
    "ValsetMember",
    "convert_packet",
]
