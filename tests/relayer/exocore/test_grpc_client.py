"""ExocoreGrpcClient over real gRPC against the devnet node (a history of real messages,
tests/support/devnet_history.py): typed conversions, pagination, packet rejections, failover,
deadlines; and endpoints that lie, served by a tampered view of the node's answers
(tests/support/tampered_node.py: an honest state machine cannot produce them)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import grpc
import pytest
from cosmpy.protos.cosmos.base.query.v1beta1.pagination_pb2 import PageResponse
from cosmpy.protos.cosmos.base.tendermint.v1beta1 import query_pb2_grpc as tendermint_grpc

from devnet import scenario as sc
from devnet.chain.blockstore import BlockStore
from devnet.chain.node import DevnetNode
from devnet.grpc.queries import ChainQueries
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
    convert_packet,
    convert_params,
)
from relayer.exocore.proto.relay.v1 import query_pb2 as relay_query
from relayer.exocore.proto.relay.v1 import query_pb2_grpc as relay_grpc
from relayer.exocore.proto.relay.v1 import types_pb2 as relay
from relayer.protocol.errors import EncodingError
from relayer.protocol.ids import OperatorAddress, exocore_chain_hash
from relayer.protocol.merkle import DistributionLeaf
from relayer.protocol.packets import (
    ClientChain,
    FundingMode,
    Packet,
    PacketKind,
    RewardDistributionPayload,
)
from relayer.protocol.quorum import Threshold
from relayer.protocol.types import Address, Amount, Hash32
from tests.relayer.exocore.servers import closed_port_url
from tests.support.devnet_history import SILENT_VALIDATOR, History, build_history
from tests.support.devnet_rpc import IDENTITY
from tests.support.devnet_world import CHAIN_ID, GATEWAY, SEED, genesis
from tests.support.tampered_node import tampered

EXOCORE_CHAIN = exocore_chain_hash(CHAIN_ID)
L1_CHAIN_ID = 31337
OTHER_CHAIN_ID = "othernet_9000-1"
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


@dataclass
class GrpcChain:
    history: History
    server: DevnetGrpcServer

    @property
    def node(self) -> DevnetNode:
        return self.history.world.node

    @property
    def target(self) -> str:
        return self.server.target


@contextmanager
def serving(node: DevnetNode, queries: ChainQueries | None = None) -> Iterator[DevnetGrpcServer]:
    """``node``'s gRPC server (or one answering ``queries``, a tampered view of it), stopped after."""
    server = DevnetGrpcServer(node.store, IDENTITY, queries=node if queries is None else queries)
    server.start()
    try:
        yield server
    finally:
        server.stop(0)


@pytest.fixture(scope="module")
def chain() -> Iterator[GrpcChain]:
    """The devnet after a history of real messages; no test writes to it (lies are served by a
    tampered view of it on a server of their own)."""
    history = build_history()
    try:
        with serving(history.world.node) as server:
            yield GrpcChain(history, server)
    finally:
        history.world.node.store.close()


@contextmanager
def other_chain() -> Iterator[DevnetGrpcServer]:
    """A devnet node of another chain (its genesis names ``othernet_9000-1``), served."""
    node = DevnetNode(replace(genesis(), chain_id=OTHER_CHAIN_ID), BlockStore(OTHER_CHAIN_ID))
    node.produce_block()
    try:
        with serving(node) as server:
            yield server
    finally:
        node.store.close()


def client(*targets: str, timeout_s: float = 5.0) -> ExocoreGrpcClient:
    return ExocoreGrpcClient(list(targets), chain_id=CHAIN_ID, timeout_s=timeout_s)


@contextmanager
def lying_client(chain: GrpcChain, **alter: Callable[[Any], Any]) -> Iterator[ExocoreGrpcClient]:
    """A client of a server answering the node's state with ``alter`` applied (tampered_node.py)."""
    with serving(chain.node, tampered(chain.node, **alter)) as server, client(server.target) as exo:
        yield exo


def alter_item(index: int, change: Callable[[Any], None]) -> Callable[[Sequence[Any]], list[Any]]:
    """An alteration of a listing answer: ``change`` applied to its item ``index``."""

    def alter(answer: Sequence[Any]) -> list[Any]:
        items = list(answer)  # some views build their items on access: keep the altered one
        change(items[index])
        return items

    return alter


def setting(**fields: Any) -> Callable[[Any], Any]:
    """An alteration of a message answer: ``fields`` overwritten."""

    def alter(message: Any) -> Any:
        for name, value in fields.items():
            setattr(message, name, value)
        return message

    return alter


# -- typed answers ---------------------------------------------------------------------------------------


def test_node_info_and_relay_params(chain: GrpcChain) -> None:
    with client(chain.target) as exo:
        info = exo.node_info()
        assert (info.chain_id, info.moniker, info.app_name) == (CHAIN_ID, IDENTITY.moniker, IDENTITY.app_name)
        params = exo.relay_params()
    assert params == convert_params(chain.node.relay_params(), CHAIN_ID)
    assert (params.l1_chain_id, params.gateway, params.exocore_chain, params.threshold) == (
        L1_CHAIN_ID,
        GATEWAY,
        EXOCORE_CHAIN,
        Threshold(2, 3),
    )


def test_relay_params_for_another_exocore_chain_are_refused(chain: GrpcChain) -> None:
    lie = setting(exocore_chain=exocore_chain_hash(OTHER_CHAIN_ID))
    with (
        lying_client(chain, relay_params=lie) as exo,
        pytest.raises(ChainMismatchError, match="exocoreChain"),
    ):
        exo.relay_params()


def test_packets_page_through_and_decode_strictly(chain: GrpcChain) -> None:
    on_chain = list(chain.node.packets())
    count = len(on_chain)
    assert count >= 4
    with client(chain.target) as exo:
        params = exo.relay_params()
        packets = list(exo.packets(1, params, page_limit=3))
        assert [p.nonce for p in packets] == list(range(1, count + 1))
        assert all(isinstance(p, RelayPacket) for p in packets)
        first = packets[0]
        assert isinstance(first, RelayPacket) and first.exocore_height == on_chain[0].exocore_height
        assert first.packet.digest == on_chain[0].digest and first.packet.payload_bytes == on_chain[0].payload
        assert isinstance(first.packet.payload, RewardDistributionPayload)
        assert first.packet.payload.claim_id == chain.history.distributed[0]
        last = packets[-1]
        assert isinstance(last, RelayPacket) and last.packet.kind is PacketKind.SLASH
        assert [p.nonce for p in exo.packets(count - 1, params, page_limit=1)] == [count - 1, count]
        assert list(exo.packets(99, params)) == []
        single = exo.packet(2, params)
        assert isinstance(single, RelayPacket) and single.packet.digest == on_chain[1].digest
        assert exo.packet(99, params) is None


def _garbage(packet: Any) -> None:
    packet.payload = b"p2"


def _wrong_digest(packet: Any) -> None:
    packet.digest = b"\x00" * 32


def _unknown_kind(packet: Any) -> None:
    packet.kind = 0


def test_undecodable_and_lying_packets_become_rejections(chain: GrpcChain) -> None:
    def lie(packets: list[Any]) -> list[Any]:
        for index, change in ((1, _garbage), (2, _wrong_digest), (3, _unknown_kind)):
            change(packets[index])
        return packets

    count = len(chain.node.packets())
    with lying_client(chain, packets=lie) as exo:
        params = exo.relay_params()
        decoded = list(exo.packets(1, params, page_limit=2))
    assert [p.nonce for p in decoded] == list(range(1, count + 1))
    rejections = [p for p in decoded if isinstance(p, PacketRejection)]
    assert [r.nonce for r in rejections] == [2, 3, 4]
    assert isinstance(rejections[0].error, EncodingError) and rejections[0].payload == b"p2"
    assert isinstance(rejections[1].error, InconsistentResponseError) and "digest" in rejections[1].reason
    assert isinstance(rejections[2].error, EncodingError)


def test_packet_signatures(chain: GrpcChain) -> None:
    on_chain = list(chain.node.packet_signatures(2))
    with client(chain.target) as exo:
        signatures = exo.packet_signatures(2)
        assert signatures is not None
        assert (signatures.nonce, signatures.valset_nonce) == (2, 1)
        assert [(s.index, s.signature) for s in signatures.signatures] == [
            (s.index, bytes(s.signature) if s.signed else None) for s in on_chain
        ]
        assert SILENT_VALIDATOR not in [s.index for s in signatures.signed]
        assert [s.index for s in signatures.signed] == [s.index for s in on_chain if s.signed]
        assert exo.packet_signatures(99) is None
    # "Not signed", yet it carries a signature; then a signature of the wrong length.
    carries_one = alter_item(SILENT_VALIDATOR, setting(signature=b"\x01" * 96))
    short = alter_item(SILENT_VALIDATOR, setting(signed=True, signature=b"\x01" * 95))
    for lie, message in ((carries_one, "unsigned entry"), (short, "95 bytes")):
        with (
            lying_client(chain, packet_signatures=lie) as exo,
            pytest.raises(MalformedResponseError, match=message),
        ):
            exo.packet_signatures(2)


def test_valsets_convert_to_member_lists(chain: GrpcChain) -> None:
    on_chain = chain.node.valset(1)
    assert on_chain is not None
    with client(chain.target) as exo:
        valset = exo.valset(1)
        assert valset is not None and exo.current_valset() == valset
        members = valset.member_list()
        assert members.keys == tuple(bytes(m.bls_pubkey) for m in on_chain.members)
        assert members.powers == tuple(int(m.power) for m in on_chain.members)
        assert valset.total_power == int(on_chain.total_power) == sum(members.powers)
        assert valset.members[0].consensus_address == on_chain.members[0].consensus_address
        assert exo.valset(9) is None
    second_key = bytes(on_chain.members[0].bls_pubkey)

    def repeat_key(valset: Any) -> Any:
        valset.members[1].bls_pubkey = second_key
        return valset

    def hex_power(valset: Any) -> Any:
        valset.members[1].power = hex(int(valset.members[1].power))
        return valset

    lies = (
        (setting(total_power=str(int(on_chain.total_power) + 1)), "not the sum"),
        (repeat_key, "repeats the key"),
        (hex_power, "canonical decimal"),
    )
    for lie, message in lies:
        with lying_client(chain, valset=lie) as exo, pytest.raises(MalformedResponseError, match=message):
            exo.valset(1)
    with lying_client(chain, current_valset=lambda _valset: None) as exo:
        assert exo.current_valset() is None


def test_distribution_and_leaves_across_pages(chain: GrpcChain) -> None:
    on_chain = chain.node.distribution(1)
    assert on_chain is not None and on_chain.claim_id == chain.history.distributed[0]
    leaves_on_chain = list(chain.node.distribution_leaves(1))
    with client(chain.target) as exo:
        distribution = exo.distribution(nonce=1)
        assert distribution is not None
        assert distribution == exo.distribution(claim_id=chain.history.distributed[0])
        assert distribution.funding is FundingMode(on_chain.funding)
        assert distribution.total == int(on_chain.total) > 0
        assert distribution.community_tax == int(on_chain.community_tax)
        assert distribution.leaf_count == on_chain.leaf_count == len(leaves_on_chain) > 10
        assert [d.nonce for d in exo.distributions()] == [d.nonce for d in chain.node.distributions()]
        leaves = list(exo.distribution_leaves(1, page_limit=5))
        assert [r.leaf for r in leaves] == [
            DistributionLeaf(leaf.index, Address(bytes.fromhex(leaf.staker[2:])), Amount(int(leaf.amount)))
            for leaf in leaves_on_chain
        ]
        assert [r.kind for r in leaves] == [LeafKind(leaf.kind) for leaf in leaves_on_chain]
        assert {LeafKind.OPERATOR_COMMISSION, LeafKind.STAKER} <= {r.kind for r in leaves}
        commission = next(r for r in leaves if r.kind is LeafKind.OPERATOR_COMMISSION)
        assert commission.operator == OperatorAddress.parse(leaves_on_chain[commission.leaf.index].operator)
        assert exo.distribution(nonce=77) is None
        with pytest.raises(ValueError, match="exactly one"):
            exo.distribution()


def test_lying_distributions_and_leaves(chain: GrpcChain) -> None:
    lies: list[tuple[Callable[[Any], Any], type[Exception], str]] = [
        (alter_item(13, setting(index=14)), InconsistentResponseError, "leaf #13 has index 14"),
        (alter_item(10, setting(amount="-1")), MalformedResponseError, "amount"),
    ]
    for lie, error, message in lies:
        with lying_client(chain, distribution_leaves=lie) as exo, pytest.raises(error, match=message):
            list(exo.distribution_leaves(1, page_limit=5))
    wrong_id = setting(distribution_id=b"\x00" * 32)
    with (
        lying_client(chain, distribution=wrong_id) as exo,
        pytest.raises(InconsistentResponseError, match="distribution_id"),
    ):
        exo.distribution(nonce=1)


def test_committees_avs_claims_slashes_and_freezes(chain: GrpcChain) -> None:
    history, node = chain.history, chain.node
    alpha = history.alpha
    on_chain = node.committee(alpha, 0)
    assert on_chain is not None
    operator_0 = str(sc.operator_account(SEED, 0))
    with client(chain.target) as exo:
        committee = exo.committee(alpha)
        assert committee is not None and committee == exo.committee(alpha, on_chain.epoch)
        assert committee.threshold == Threshold(on_chain.threshold_numerator, on_chain.threshold_denominator)
        assert committee.member_list().powers == tuple(int(m.power) for m in on_chain.members)
        assert committee.elected_height == on_chain.elected_height > 0
        assert [str(m.operator) for m in committee.members] == [m.operator for m in on_chain.members]
        assert exo.committee(alpha, on_chain.epoch + 50) is None
        info = exo.avs_info(alpha)
        assert info is not None and info.name == "alpha"
        assert [i.avs_address for i in exo.avs_infos()] == sorted(history.avs.values())
        assert [c.claim_id for c in exo.reward_claims(page_limit=2)] == [
            c.claim_id for c in node.reward_claims()
        ]
        claim = exo.reward_claim(history.distributed[1])
        assert claim is not None and claim.avs_address == history.beta
        assert [s.slash_id for s in exo.operator_slashes(operator_0)] == [history.executed_slash]
        slash = exo.slash(history.executed_slash)
        assert slash is not None and slash.freeze
        executed = node.slash_info(history.executed_slash)
        assert executed is not None
        frozen = exo.operator_frozen(operator_0, alpha)
        assert (frozen.frozen, frozen.frozen_height, frozen.slash_id) == (
            True,
            executed.executed_height,
            history.executed_slash,
        )
        assert not exo.operator_frozen(operator_0, history.beta).frozen
    # Upstream leaves a committee's threshold unset (0/0) when the AVS keeps the default; the devnet
    # always fills it in, so that answer is the node's with the two fields cleared.
    unset = setting(threshold_numerator=0, threshold_denominator=0)
    with lying_client(chain, committee=unset) as exo:
        default = exo.committee(alpha)
        assert default is not None and default.threshold == Threshold(2, 3)


def test_a_malformed_request_is_a_typed_error_not_failed_over(chain: GrpcChain) -> None:
    with client(chain.target, chain.target + "0") as exo:  # second one is never tried
        with pytest.raises(InvalidQueryError, match="invalid avs address"):
            exo.avs_info("0x1234")
        assert exo.failover_count == 0


# -- failover, deadlines, lies -----------------------------------------------------------------------------


PACKETS_RELEASED = threading.Event()


def _held_until_released(packets: list[Any]) -> list[Any]:
    """A node whose packet listing hangs until ``PACKETS_RELEASED`` is set."""
    PACKETS_RELEASED.wait()
    return packets


def test_failover_from_a_dead_endpoint(chain: GrpcChain) -> None:
    dead = closed_port_url().removeprefix("http://")
    with client(dead, chain.target) as exo:
        params = exo.relay_params()
        assert exo.active_endpoint == chain.target and exo.failover_count == 1
        assert len(list(exo.packets(1, params))) == len(chain.node.packets())
        stats = exo.endpoint_stats()
        assert "EndpointUnavailableError" in (stats[0].last_error or "") and stats[1].chain_verified
    with client(dead) as exo, pytest.raises(EndpointUnavailableError):
        exo.node_info()


def test_deadline_exceeded_is_typed_and_fails_over(chain: GrpcChain) -> None:
    PACKETS_RELEASED.clear()
    try:
        with serving(chain.node, tampered(chain.node, packets=_held_until_released)) as slow:
            with client(slow.target, timeout_s=TIMEOUT_S) as exo:
                params = exo.relay_params()
                with pytest.raises(ExocoreTimeoutError, match="deadline exceeded"):
                    list(exo.packets(1, params))
            with client(slow.target, chain.target, timeout_s=TIMEOUT_S) as exo:
                params = exo.relay_params()
                assert len(list(exo.packets(1, params))) == len(chain.node.packets())
                assert exo.active_endpoint == chain.target
            PACKETS_RELEASED.set()  # before the server stops, so its handler threads end
    finally:
        PACKETS_RELEASED.set()


def test_an_endpoint_on_another_chain_is_refused(chain: GrpcChain) -> None:
    with other_chain() as other:
        with client(other.target, chain.target) as exo:
            assert exo.relay_params().l1_chain_id == L1_CHAIN_ID
            assert exo.active_endpoint == chain.target
            assert "ChainMismatchError" in (exo.endpoint_stats()[0].last_error or "")
        with client(other.target) as exo, pytest.raises(ChainMismatchError, match="othernet"):
            exo.relay_params()


class CircularPackets(RelayQueryService):
    """A node whose packet pages never end: next_key always points back at the same page (the
    packets themselves look fine, nonces increasing), or, with ``reorder``, nonces go backwards."""

    def __init__(self, node: DevnetNode, store: BlockStore, reorder: bool) -> None:
        super().__init__(node, store)
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
def test_pagination_that_does_not_advance_or_goes_backwards(
    chain: GrpcChain, reorder: bool, message: str
) -> None:
    store = chain.node.store
    server = grpc.server(ThreadPoolExecutor(max_workers=2))
    tendermint_grpc.add_ServiceServicer_to_server(TendermintService(store, IDENTITY), server)
    servicer = CircularPackets(chain.node, store, reorder)
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


def test_all_endpoints_failing_reports_each(chain: GrpcChain) -> None:
    dead = closed_port_url().removeprefix("http://")
    with other_chain() as other, client(dead, other.target) as exo:
        for _ in range(2):
            with pytest.raises(AllEndpointsFailedError) as raised:
                exo.relay_params()
            assert isinstance(raised.value.failures[dead], EndpointUnavailableError)
            assert isinstance(raised.value.failures[other.target], ChainMismatchError)
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
