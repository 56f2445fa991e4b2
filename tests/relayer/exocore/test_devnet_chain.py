"""The Exocore client against the devnet chain itself (claims, a rejection, a slash with freeze, a
validator-set rotation), served on real sockets: every event the chain emits decodes to its typed
spec, every packet decodes strictly and verifies, and the leaves rebuild the distribution root."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from devnet import scenario as sc
from devnet.grpc.server import DevnetGrpcServer
from devnet.rpc.server import CometRpcServer
from relayer.exocore.events import (
    AllocateRewardsToOperator,
    CommitteeElected,
    FreezeOperator,
    OperatorAssetSlashed,
    RelayPacketCreated,
    RewardClaimRejected,
    RewardClaimSubmitted,
    RewardClaimVerified,
    RewardDistributionFinalized,
    SlashExecuted,
    SlashRequestSubmitted,
    ValsetUpdated,
    decode_block_events,
)
from relayer.exocore.follower import BlockFollower
from relayer.exocore.grpc_client import ExocoreGrpcClient, RelayPacket
from relayer.exocore.rpc import CometRpcClient
from relayer.protocol import bls
from relayer.protocol.merkle import DistributionTree
from relayer.protocol.packets import PacketKind
from relayer.protocol.quorum import SignerBitmap, check_quorum
from tests.support.devnet_rpc import IDENTITY
from tests.support.devnet_world import CHAIN_ID, GATEWAY, SEED, World, standard_world


@dataclass
class ServedChain:
    world: World
    avs: str
    rpc_url: str
    grpc_target: str


def build_history() -> tuple[World, str]:
    world, avs = standard_world()
    committee = world.committee(avs)
    world.claim(committee, range(len(committee.operators)))  # verified and distributed
    world.claim(committee, [0], amount=7 * 10**18)  # one signer of four: no quorum, rejected
    world.node.submit(
        sc.slash_request_msg(
            chain_id=CHAIN_ID,
            committee=committee,
            secrets=world.secrets,
            signer_indices=range(len(committee.operators)),
            operator=sc.operator_account(SEED, 0),
            proportion=10**16,
        )
    )
    world.node.produce_block()
    consensus = hashlib.sha256(b"relayer-test-validator").digest()
    secret = bls.secret_key_from_seed(hashlib.sha256(b"relayer-test-bls").digest())
    world.node.submit(sc.validator_msg(consensus, secret, 50))
    world.node.advance(3)  # the rotation happens in the next block's begin-block
    return world, avs


@pytest.fixture(scope="module")
def served() -> Iterator[ServedChain]:
    world, avs = build_history()
    rpc = CometRpcServer(world.node.store, IDENTITY)
    rpc.start()
    grpc_server = DevnetGrpcServer(world.node.store, IDENTITY, queries=world.node)
    grpc_server.start()
    try:
        yield ServedChain(world, avs, rpc.url, grpc_server.target)
    finally:
        grpc_server.stop(0)
        rpc.stop()
        world.node.store.close()


def test_every_event_of_the_chain_decodes_to_its_spec(served: ServedChain) -> None:
    with CometRpcClient([served.rpc_url], chain_id=CHAIN_ID) as rpc:
        follower = BlockFollower(rpc, next_height=1, batch_blocks=7)
        blocks = []
        while batch := follower.poll():
            blocks.extend(batch)
    assert [b.height for b in blocks] == list(range(1, served.world.node.height + 1))
    decoded = [decode_block_events(block) for block in blocks]
    assert [r for d in decoded for r in d.rejected] == []
    events = [event for d in decoded for event in d.events]
    types = {type(event) for event in events}
    assert types >= {
        CommitteeElected,
        RewardClaimSubmitted,
        RewardClaimVerified,
        RewardClaimRejected,
        AllocateRewardsToOperator,
        RewardDistributionFinalized,
        SlashRequestSubmitted,
        OperatorAssetSlashed,
        FreezeOperator,
        SlashExecuted,
        RelayPacketCreated,
        ValsetUpdated,
    }
    unknown = {u.type for d in decoded for u in d.unknown if not u.well_known}
    assert unknown <= {"validator_power_set", "fault_knobs_set"}
    (rejected,) = [e for e in events if isinstance(e, RewardClaimRejected)]
    assert rejected.reason == "no_quorum"
    (executed,) = [e for e in events if isinstance(e, SlashExecuted)]
    assert executed.freeze and executed.operator == sc.operator_account(SEED, 0)
    (rotation,) = [e for e in events if isinstance(e, ValsetUpdated)]
    assert (rotation.valset_nonce, rotation.previous_valset_nonce) == (2, 1)


def test_packets_decode_strictly_and_carry_a_quorum_of_valid_signatures(served: ServedChain) -> None:
    with (
        CometRpcClient([served.rpc_url], chain_id=CHAIN_ID) as rpc,
        ExocoreGrpcClient([served.grpc_target], chain_id=CHAIN_ID) as exo,
    ):
        created = [
            event
            for block in BlockFollower(rpc, next_height=1).poll(max_blocks=served.world.node.height)
            for event in decode_block_events(block).of_type(RelayPacketCreated)
        ]
        params = exo.relay_params()
        assert params.gateway == GATEWAY
        packets = list(exo.packets(1, params, page_limit=2))
        assert [p.nonce for p in packets] == [event.nonce for event in created]
        kinds = set()
        for packet, event in zip(packets, created, strict=True):
            assert isinstance(packet, RelayPacket), packet
            assert packet.packet.digest == event.digest and packet.packet.kind is event.kind
            kinds.add(packet.packet.kind)
            signatures = exo.packet_signatures(packet.nonce)
            valset = exo.valset(packet.packet.valset_nonce)
            assert signatures is not None and valset is not None
            members = valset.member_list()
            signed = signatures.signed
            check_quorum(members, SignerBitmap.from_indices([s.index for s in signed], len(members)))
            aggregate = bls.aggregate_signatures([bls.parse_signature(s.signature or b"") for s in signed])
            keys = [s.bls_pubkey for s in signed]
            assert bls.fast_aggregate_verify_encoded(keys, packet.packet.digest, aggregate.compressed)
        assert kinds == {PacketKind.REWARD_DISTRIBUTION, PacketKind.SLASH, PacketKind.VALSET_UPDATE}
        current = exo.current_valset()
        assert current is not None and current.valset_nonce == 2


def test_leaves_rebuild_the_distribution_root(served: ServedChain) -> None:
    with ExocoreGrpcClient([served.grpc_target], chain_id=CHAIN_ID) as exo:
        (distribution,) = list(exo.distributions())
        leaves = [record.leaf for record in exo.distribution_leaves(distribution.nonce, page_limit=4)]
        tree = DistributionTree.build(leaves)
        assert tree.root == distribution.merkle_root and tree.total == distribution.total
        assert len(leaves) == distribution.leaf_count
        first = exo.committee(served.avs, 2)
        assert first is not None and len(first.member_list()) == 4
        # Operator 0 was slashed with a freeze: later committees leave it out.
        current = exo.committee(served.avs)
        assert current is not None and current.epoch > 2
        assert sc.operator_account(SEED, 0) not in [m.operator for m in current.members]
        frozen = exo.operator_frozen(str(sc.operator_account(SEED, 0)), served.avs)
        assert frozen.frozen and frozen.slash_id is not None
