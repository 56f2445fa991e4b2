"""ExocoreGrpcClient over real gRPC against the devnet servicers with an in-memory chain: typed
conversions, pagination, packet rejections, failover, deadlines and endpoints that lie."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import grpc
import pytest
from cosmpy.protos.cosmos.base.query.v1beta1.pagination_pb2 import PageResponse
from cosmpy.protos.cosmos.base.tendermint.v1beta1 import query_pb2_grpc as tendermint_grpc

from devnet.chain.blockstore import BlockStore
from devnet.grpc.server import DevnetGrpcServer
from devnet.grpc.services import RelayQueryService
from devnet.grpc.tendermint import TendermintService
from relayer.endpoints import EndpointState
from relayer.exocore.errors import (
    AllEndpointsFailedError,
    ChainMismatchError,
    EndpointUnavailableError,
    ExocoreTimeoutError,
    InconsistentResponseError,
    InvalidQueryError,
    MalformedResponseError,
)
from relayer.exocore.grpc_client import (
    ExocoreGrpcClient,
    LeafKind,
    PacketRejection,
    RelayPacket,
    RelayParams,
    convert_packet,
    convert_params,
)
from relayer.exocore.proto.avs.v1 import types_pb2 as avs
from relayer.exocore.proto.feedistribution.v1 import types_pb2 as fee
from relayer.exocore.proto.operator.v1 import types_pb2 as operator
from relayer.exocore.proto.relay.v1 import query_pb2 as relay_query
from relayer.exocore.proto.relay.v1 import query_pb2_grpc as relay_grpc
from relayer.exocore.proto.relay.v1 import types_pb2 as relay
from relayer.protocol import bech32
from relayer.protocol.errors import EncodingError
from relayer.protocol.ids import OperatorAddress, exocore_chain_hash
from relayer.protocol.merkle import DistributionLeaf
from relayer.protocol.packets import (
    ClientChain,
    FundingMode,
    Packet,
    PacketKind,
    RewardDistributionPayload,
    SlashPayload,
    distribution_id,
)
from relayer.protocol.quorum import Threshold
from relayer.protocol.types import Address, Amount, Hash32
from tests.relayer.exocore.servers import closed_port_url
from tests.support.devnet_chain import CHAIN_ID, grow
from tests.support.devnet_fakes import InMemoryChainQueries
from tests.support.devnet_rpc import IDENTITY

EXOCORE_CHAIN = exocore_chain_hash(CHAIN_ID)
GATEWAY = Address(b"\xee" * 20)
L1_CHAIN_ID = 31337
AVS = "0x" + "aa" * 20
TOKEN = "0x" + "cc" * 20
OPERATOR = bech32.encode_bytes("exo", b"\x01" * 20)
PACKET_COUNT = 7
LEAF_COUNT = 25
TIMEOUT_S = 2.0
"""Deadline of the hanging-endpoint tests: what each waits once, and ample time for a live devnet
endpoint to answer beside a hanging one on a loaded two-core machine (the hanging one never answers)."""


def reward_packet(nonce: int) -> Packet:
    return Packet(
        exocore_chain=EXOCORE_CHAIN,
        l1_chain_id=L1_CHAIN_ID,
        gateway=GATEWAY,
        valset_nonce=1,
        nonce=nonce,
        payload=RewardDistributionPayload(
            claim_id=Hash32(nonce.to_bytes(32, "big")),
            avs=Address(b"\xaa" * 20),
            epoch=nonce,
            token=Address(b"\xcc" * 20),
            funding=FundingMode.VAULT,
            total=Amount(1000 * nonce),
            leaf_count=3,
            merkle_root=Hash32(b"\x33" * 32),
        ),
    )


def slash_packet(nonce: int) -> Packet:
    return Packet(
        exocore_chain=EXOCORE_CHAIN,
        l1_chain_id=L1_CHAIN_ID,
        gateway=GATEWAY,
        valset_nonce=1,
        nonce=nonce,
        payload=SlashPayload(
            slash_id=Hash32(b"\x22" * 32),
            operator=Address(b"\x01" * 20),
            avs=Address(b"\xaa" * 20),
            tokens=(Address(b"\xcc" * 20),),
            amounts=(Amount(5),),
            freeze=True,
        ),
    )


def wire(packet: Packet, height: int = 3) -> relay.Packet:
    return relay.Packet(
        nonce=packet.nonce,
        kind=int(packet.kind),  # type: ignore[arg-type]
        valset_nonce=packet.valset_nonce,
        payload=packet.payload_bytes,
        payload_hash=packet.payload_hash,
        digest=packet.digest,
        exocore_height=height,
    )


def leaf_staker(index: int) -> str:
    return "0x" + f"{index + 1:040x}"


def build_chain() -> InMemoryChainQueries:
    q = InMemoryChainQueries()
    q.params = relay.Params(
        l1_chain_id=L1_CHAIN_ID,
        gateway="0x" + GATEWAY.hex(),
        exocore_chain=EXOCORE_CHAIN,
        threshold_numerator=2,
        threshold_denominator=3,
    )
    q.packet_list = [wire(reward_packet(n)) for n in range(1, PACKET_COUNT)] + [
        wire(slash_packet(PACKET_COUNT))
    ]
    q.signatures[2] = [
        relay.ValidatorSignature(index=0, bls_pubkey=b"\x81" * 48, signed=True, signature=b"\x99" * 96),
        relay.ValidatorSignature(index=1, bls_pubkey=b"\x82" * 48, signed=False),
    ]
    q.valsets[1] = relay.Valset(
        valset_nonce=1,
        members=[
            relay.ValsetMember(index=0, bls_pubkey=b"\x81" * 48, power="30", consensus_address="AB"),
            relay.ValsetMember(index=1, bls_pubkey=b"\x82" * 48, power="20"),
        ],
        total_power="50",
        created_height=1,
    )
    q.current_valset_nonce = 1
    q.distribution_list = [
        fee.Distribution(
            nonce=2,
            distribution_id=distribution_id(EXOCORE_CHAIN, 2),
            claim_id=(2).to_bytes(32, "big"),
            avs_address=AVS,
            epoch=2,
            token=TOKEN,
            funding=avs.FUNDING_VAULT,
            total=str(100 * LEAF_COUNT),
            leaf_count=LEAF_COUNT,
            merkle_root=b"\x33" * 32,
            community_tax="30",
            created_height=3,
        )
    ]
    q.leaves[2] = [
        fee.DistributionLeaf(
            index=i,
            staker=leaf_staker(i),
            amount="100",
            kind=fee.LEAF_KIND_OPERATOR_COMMISSION if i == 0 else fee.LEAF_KIND_STAKER,
            operator=OPERATOR,
        )
        for i in range(LEAF_COUNT)
    ]
    member = avs.CommitteeMember(index=0, operator=OPERATOR, bls_pubkey=b"\x81" * 48, power="100")
    q.committees[(AVS, 4)] = avs.Committee(
        avs_address=AVS, epoch=4, members=[member], total_power="100", elected_height=7
    )
    q.current_epochs[AVS] = 4
    q.avs_by_address[AVS] = avs.AVSInfo(name="avs-a", avs_address=AVS)
    q.claims = [
        avs.RewardClaim(
            claim_id=n.to_bytes(32, "big"), avs_address=AVS, epoch=n, status=avs.CLAIM_STATUS_VERIFIED
        )
        for n in range(1, 6)
    ]
    q.slashes = [
        operator.OperatorSlashInfo(
            slash_id=b"\x22" * 32,
            operator=OPERATOR,
            avs_address=AVS,
            status=operator.SLASH_STATUS_EXECUTED,
            freeze=True,
            executed_height=9,
        )
    ]
    return q


@dataclass
class GrpcChain:
    store: BlockStore
    queries: InMemoryChainQueries
    server: DevnetGrpcServer


def serve_grpc(queries: Any, chain_id: str = CHAIN_ID) -> Iterator[GrpcChain]:
    store = BlockStore(chain_id)
    grow(store, 3) if chain_id == CHAIN_ID else None
    server = DevnetGrpcServer(store, IDENTITY, queries=queries)
    server.start()
    try:
        yield GrpcChain(store, queries, server)
    finally:
        server.stop(0)
        store.close()


@pytest.fixture
def chain() -> Iterator[GrpcChain]:
    yield from serve_grpc(build_chain())


def client(*targets: str, timeout_s: float = 5.0) -> ExocoreGrpcClient:
    return ExocoreGrpcClient(list(targets), chain_id=CHAIN_ID, timeout_s=timeout_s)


def params_of(grpc_client: ExocoreGrpcClient) -> RelayParams:
    return grpc_client.relay_params()


# -- typed answers ---------------------------------------------------------------------------------------


def test_node_info_and_relay_params(chain: GrpcChain) -> None:
    with client(chain.server.target) as exo:
        info = exo.node_info()
        assert (info.chain_id, info.moniker, info.app_name) == (CHAIN_ID, IDENTITY.moniker, IDENTITY.app_name)
        params = exo.relay_params()
    assert params == RelayParams(L1_CHAIN_ID, GATEWAY, EXOCORE_CHAIN, Threshold(2, 3))


def test_relay_params_for_another_exocore_chain_are_refused(chain: GrpcChain) -> None:
    chain.queries.params.exocore_chain = exocore_chain_hash("othernet_9000-1")
    with client(chain.server.target) as exo, pytest.raises(ChainMismatchError, match="exocoreChain"):
        exo.relay_params()


def test_packets_page_through_and_decode_strictly(chain: GrpcChain) -> None:
    with client(chain.server.target) as exo:
        params = exo.relay_params()
        packets = list(exo.packets(1, params, page_limit=3))
        assert [p.nonce for p in packets] == list(range(1, PACKET_COUNT + 1))
        assert all(isinstance(p, RelayPacket) for p in packets)
        first = packets[0]
        assert (
            isinstance(first, RelayPacket) and first.packet == reward_packet(1) and first.exocore_height == 3
        )
        last = packets[-1]
        assert isinstance(last, RelayPacket) and last.packet.kind is PacketKind.SLASH
        assert [p.nonce for p in exo.packets(5, params, page_limit=2)] == [5, 6, 7]
        assert list(exo.packets(99, params)) == []
        single = exo.packet(4, params)
        assert isinstance(single, RelayPacket) and single.packet.digest == reward_packet(4).digest
        assert exo.packet(99, params) is None


def test_undecodable_and_lying_packets_become_rejections(chain: GrpcChain) -> None:
    garbage = relay.Packet(nonce=2, kind=relay.PACKET_KIND_REWARD_DISTRIBUTION, valset_nonce=1, payload=b"p2")
    wrong_digest = wire(reward_packet(3))
    wrong_digest.digest = b"\x00" * 32
    unknown_kind = wire(reward_packet(4))
    unknown_kind.kind = 0  # type: ignore[assignment]
    chain.queries.packet_list[1:4] = [garbage, wrong_digest, unknown_kind]
    with client(chain.server.target) as exo:
        params = exo.relay_params()
        decoded = list(exo.packets(1, params, page_limit=2))
    assert [p.nonce for p in decoded] == list(range(1, PACKET_COUNT + 1))
    rejections = [p for p in decoded if isinstance(p, PacketRejection)]
    assert [r.nonce for r in rejections] == [2, 3, 4]
    assert isinstance(rejections[0].error, EncodingError) and rejections[0].payload == b"p2"
    assert isinstance(rejections[1].error, InconsistentResponseError) and "digest" in rejections[1].reason
    assert isinstance(rejections[2].error, EncodingError)


def test_packet_signatures(chain: GrpcChain) -> None:
    with client(chain.server.target) as exo:
        signatures = exo.packet_signatures(2)
        assert signatures is not None
        assert (signatures.nonce, signatures.valset_nonce) == (2, 1)
        assert [(s.index, s.signature) for s in signatures.signatures] == [(0, b"\x99" * 96), (1, None)]
        assert [s.index for s in signatures.signed] == [0]
        assert exo.packet_signatures(99) is None
        chain.queries.signatures[2][1].signature = b"\x01" * 96  # "not signed" but carries one
        with pytest.raises(MalformedResponseError, match="unsigned entry"):
            exo.packet_signatures(2)
        chain.queries.signatures[2][1].signed = True
        chain.queries.signatures[2][1].signature = b"\x01" * 95
        with pytest.raises(MalformedResponseError, match="95 bytes"):
            exo.packet_signatures(2)


def test_valsets_convert_to_member_lists(chain: GrpcChain) -> None:
    with client(chain.server.target) as exo:
        valset = exo.valset(1)
        assert valset is not None and exo.current_valset() == valset
        members = valset.member_list()
        assert members.keys == (b"\x81" * 48, b"\x82" * 48) and members.powers == (30, 20)
        assert valset.total_power == 50 and valset.members[0].consensus_address == "AB"
        assert exo.valset(9) is None
        chain.queries.valsets[1].total_power = "51"
        with pytest.raises(MalformedResponseError, match="not the sum"):
            exo.valset(1)
        chain.queries.valsets[1].total_power = "50"
        chain.queries.valsets[1].members[1].bls_pubkey = b"\x81" * 48
        with pytest.raises(MalformedResponseError, match="repeats the key"):
            exo.valset(1)
        chain.queries.valsets[1].members[1].power = "0x14"
        with pytest.raises(MalformedResponseError, match="canonical decimal"):
            exo.valset(1)
        chain.queries.current_valset_nonce = None
        assert exo.current_valset() is None


def test_distribution_and_leaves_across_pages(chain: GrpcChain) -> None:
    with client(chain.server.target) as exo:
        distribution = exo.distribution(nonce=2)
        assert distribution is not None
        assert distribution == exo.distribution(claim_id=(2).to_bytes(32, "big"))
        assert distribution.funding is FundingMode.VAULT and distribution.total == 100 * LEAF_COUNT
        assert distribution.community_tax == 30 and distribution.leaf_count == LEAF_COUNT
        assert [d.nonce for d in exo.distributions()] == [2]
        leaves = list(exo.distribution_leaves(2, page_limit=10))
        assert [r.leaf for r in leaves] == [
            DistributionLeaf(i, Address(bytes.fromhex(leaf_staker(i)[2:])), Amount(100))
            for i in range(LEAF_COUNT)
        ]
        assert leaves[0].kind is LeafKind.OPERATOR_COMMISSION and leaves[1].kind is LeafKind.STAKER
        assert leaves[0].operator == OperatorAddress.parse(OPERATOR)
        assert exo.distribution(nonce=77) is None
        with pytest.raises(ValueError, match="exactly one"):
            exo.distribution()


def test_lying_distributions_and_leaves(chain: GrpcChain) -> None:
    with client(chain.server.target) as exo:
        chain.queries.leaves[2][13].index = 14  # a hole in the indices
        with pytest.raises(InconsistentResponseError, match="leaf #13 has index 14"):
            list(exo.distribution_leaves(2, page_limit=10))
        chain.queries.leaves[2][13].index = 13
        chain.queries.leaves[2][20].amount = "-1"
        with pytest.raises(MalformedResponseError, match="amount"):
            list(exo.distribution_leaves(2, page_limit=10))
        chain.queries.distribution_list[0].distribution_id = b"\x00" * 32
        with pytest.raises(InconsistentResponseError, match="distribution_id"):
            exo.distribution(nonce=2)


def test_committees_avs_claims_slashes_and_freezes(chain: GrpcChain) -> None:
    with client(chain.server.target) as exo:
        committee = exo.committee(AVS)
        assert committee is not None and committee == exo.committee(AVS, 4)
        assert committee.threshold == Threshold(2, 3)  # 0/0 on chain means the default
        assert committee.member_list().powers == (100,) and committee.elected_height == 7
        assert committee.members[0].operator == OperatorAddress.parse(OPERATOR)
        assert exo.committee(AVS, 5) is None
        info = exo.avs_info(AVS)
        assert info is not None and info.name == "avs-a"
        assert [i.avs_address for i in exo.avs_infos()] == [AVS]
        assert [c.epoch for c in exo.reward_claims(page_limit=2)] == [1, 2, 3, 4, 5]
        claim = exo.reward_claim((3).to_bytes(32, "big"))
        assert claim is not None and claim.epoch == 3
        assert [s.slash_id for s in exo.operator_slashes(OPERATOR)] == [b"\x22" * 32]
        slash = exo.slash(b"\x22" * 32)
        assert slash is not None and slash.freeze
        frozen = exo.operator_frozen(OPERATOR, AVS)
        assert (frozen.frozen, frozen.frozen_height, frozen.slash_id) == (True, 9, b"\x22" * 32)
        assert not exo.operator_frozen(OPERATOR, "0x" + "bb" * 20).frozen


def test_a_malformed_request_is_a_typed_error_not_failed_over(chain: GrpcChain) -> None:
    with client(chain.server.target, chain.server.target + "0") as exo:  # second one is never tried
        with pytest.raises(InvalidQueryError, match="invalid avs address"):
            exo.avs_info("0x1234")
        assert exo.failover_count == 0


# -- failover, deadlines, lies -----------------------------------------------------------------------------


class SlowQueries(InMemoryChainQueries):
    """Answers like the in-memory chain, but every packet listing hangs until ``PACKETS_RELEASED`` is set."""

    def packets(self) -> Sequence[relay.Packet]:
        PACKETS_RELEASED.wait()
        return super().packets()


PACKETS_RELEASED = threading.Event()


def test_failover_from_a_dead_endpoint(chain: GrpcChain) -> None:
    dead = closed_port_url().removeprefix("http://")
    with client(dead, chain.server.target) as exo:
        params = exo.relay_params()
        assert exo.active_endpoint == chain.server.target and exo.failover_count == 1
        assert len(list(exo.packets(1, params))) == PACKET_COUNT
        stats = exo.endpoint_stats()
        assert "EndpointUnavailableError" in (stats[0].last_error or "") and stats[1].chain_verified
    with client(dead) as exo, pytest.raises(EndpointUnavailableError):
        exo.node_info()


def test_deadline_exceeded_is_typed_and_fails_over(chain: GrpcChain) -> None:
    slow_queries = SlowQueries(**{k: getattr(chain.queries, k) for k in vars(chain.queries)})
    PACKETS_RELEASED.clear()
    try:
        for slow in serve_grpc(slow_queries):
            with client(slow.server.target, timeout_s=TIMEOUT_S) as exo:
                params = exo.relay_params()
                with pytest.raises(ExocoreTimeoutError, match="deadline exceeded"):
                    list(exo.packets(1, params))
            with client(slow.server.target, chain.server.target, timeout_s=TIMEOUT_S) as exo:
                params = exo.relay_params()
                assert len(list(exo.packets(1, params))) == PACKET_COUNT
                assert exo.active_endpoint == chain.server.target
            PACKETS_RELEASED.set()  # before the server stops, so its handler threads end
    finally:
        PACKETS_RELEASED.set()


def test_an_endpoint_on_another_chain_is_refused(chain: GrpcChain) -> None:
    for other in serve_grpc(build_chain(), chain_id="othernet_9000-1"):
        with client(other.server.target, chain.server.target) as exo:
            assert exo.relay_params().l1_chain_id == L1_CHAIN_ID
            assert exo.active_endpoint == chain.server.target
            assert "ChainMismatchError" in (exo.endpoint_stats()[0].last_error or "")
        with client(other.server.target) as exo, pytest.raises(ChainMismatchError, match="othernet"):
            exo.relay_params()


class CircularPackets(RelayQueryService):
    """A node whose packet pages never end: next_key always points back at the same page (the
    packets themselves look fine, nonces increasing), or, with ``reorder``, nonces go backwards."""

    def __init__(self, store: BlockStore, reorder: bool) -> None:
        super().__init__(build_chain(), store)
        self.reorder = reorder
        self.served = 0

    def Packets(self, request: Any, context: Any) -> Any:
        self.served += 1
        nonce = 10 - self.served if self.reorder else self.served
        next_key = b"\x00" * 7 + b"\x01"
        return relay_query.QueryPacketsResponse(
            packets=[wire(reward_packet(nonce))], pagination=PageResponse(next_key=next_key)
        )


@pytest.mark.parametrize(
    ("reorder", "message"), [(False, "does not advance"), (True, "nonce 8 after 9 breaks nonce order")]
)
def test_pagination_that_does_not_advance_or_goes_backwards(reorder: bool, message: str) -> None:
    store = BlockStore(CHAIN_ID)
    grow(store, 1)
    server = grpc.server(ThreadPoolExecutor(max_workers=2))
    tendermint_grpc.add_ServiceServicer_to_server(TendermintService(store, IDENTITY), server)
    servicer = CircularPackets(store, reorder)
    relay_grpc.add_QueryServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with client(f"127.0.0.1:{port}") as exo:
            params = exo.relay_params()
            received = []
            with pytest.raises(InconsistentResponseError, match=message):
                for packet in exo.packets(1, params, page_limit=5):
                    received.append(packet.nonce)
            assert received == ([1, 2] if not reorder else [9])
    finally:
        server.stop(0)
        store.close()


def test_all_endpoints_failing_reports_each(chain: GrpcChain) -> None:
    dead = closed_port_url().removeprefix("http://")
    for other in serve_grpc(build_chain(), chain_id="othernet_9000-1"):
        with client(dead, other.server.target) as exo:
            for _ in range(2):
                with pytest.raises(AllEndpointsFailedError) as raised:
                    exo.relay_params()
                assert isinstance(raised.value.failures[dead], EndpointUnavailableError)
                assert isinstance(raised.value.failures[other.server.target], ChainMismatchError)
            # The endpoint of another chain was asked once: refused for good, not retried.
            assert [stats.calls for stats in exo.endpoint_stats()] == [2, 1]
            assert [h.state for h in exo.endpoint_health()] == [EndpointState.COOLING, EndpointState.REFUSED]


# -- client chains: each packet is decoded against the chain it is addressed to ---------------------------

CHAIN_B = ClientChain(31338, Address(b"\xbb" * 20))


def two_chain_params(*extra: relay.ClientChain) -> relay.Params:
    return relay.Params(
        l1_chain_id=L1_CHAIN_ID,
        gateway="0x" + GATEWAY.hex(),
        exocore_chain=EXOCORE_CHAIN,
        threshold_numerator=2,
        threshold_denominator=3,
        client_chains=[
            relay.ClientChain(l1_chain_id=L1_CHAIN_ID, gateway="0x" + GATEWAY.hex()),
            relay.ClientChain(l1_chain_id=CHAIN_B.l1_chain_id, gateway="0x" + CHAIN_B.gateway.hex()),
            *extra,
        ],
    )


def addressed(packet: Packet, chain: ClientChain) -> relay.Packet:
    message = wire(packet)
    message.l1_chain_id, message.gateway = chain.l1_chain_id, "0x" + chain.gateway.hex()
    return message


def test_packets_are_decoded_against_the_client_chain_they_are_addressed_to() -> None:
    params = convert_params(two_chain_params(), CHAIN_ID)
    chain_a = ClientChain(L1_CHAIN_ID, GATEWAY)
    assert params.client_chains == (chain_a, CHAIN_B) and params.default_chain == chain_a
    for_b = replace(reward_packet(9), l1_chain_id=CHAIN_B.l1_chain_id, gateway=CHAIN_B.gateway)
    decoded = convert_packet(addressed(for_b, CHAIN_B), params)
    assert isinstance(decoded, RelayPacket) and decoded.packet.destination == CHAIN_B
    assert decoded.packet.digest == for_b.digest != reward_packet(9).digest
    # A packet that names no chain is the first chain's (what a one-chain Exocore serves).
    unnamed = convert_packet(wire(reward_packet(9)), params)
    assert isinstance(unnamed, RelayPacket) and unnamed.packet.destination == chain_a
    # B's digest under A's name does not pass for A's packet.
    relabelled = convert_packet(addressed(for_b, chain_a), params)
    assert isinstance(relabelled, PacketRejection) and "digest" in relabelled.reason
    # A chain the params do not list is an inconsistent answer, not a packet.
    stranger = ClientChain(5, Address(b"\x55" * 20))
    unlisted = convert_packet(
        addressed(replace(for_b, l1_chain_id=5, gateway=stranger.gateway), stranger), params
    )
    assert isinstance(unlisted, PacketRejection) and isinstance(unlisted.error, InconsistentResponseError)
    assert "do not list" in unlisted.reason


def test_relay_params_listing_a_client_chain_twice_are_refused() -> None:
    twice = two_chain_params(relay.ClientChain(l1_chain_id=CHAIN_B.l1_chain_id, gateway="0x" + "cd" * 20))
    with pytest.raises(InconsistentResponseError, match="client chain 31338 twice"):
        convert_params(twice, CHAIN_ID)
    zero = two_chain_params(relay.ClientChain(l1_chain_id=0, gateway="0x" + "cd" * 20))
    with pytest.raises(MalformedResponseError, match="must be positive"):
        convert_params(zero, CHAIN_ID)
