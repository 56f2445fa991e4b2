"""Reward-claim verification on the devnet chain, and the packet an accepted claim produces."""

from __future__ import annotations

from typing import Any

import pytest

from devnet import scenario as sc
from devnet.chain import events as ev
from devnet.chain.model import CLAIM_DISTRIBUTED, CLAIM_REJECTED
from devnet.chain.state import ChainRuleError
from devnet.grpc.errors import InvalidRequestError
from relayer.exocore.proto.avs.v1 import tx_pb2 as avs_tx
from relayer.protocol import bls
from relayer.protocol.claims import RewardClaim
from relayer.protocol.ids import ChainId
from relayer.protocol.merkle import DistributionLeaf, DistributionTree
from relayer.protocol.packets import PacketKind, RewardDistributionPayload, decode_payload
from relayer.protocol.quorum import MemberList, SignerBitmap, check_quorum
from relayer.protocol.types import Address, Amount, Hash32
from tests.support.devnet_world import (
    CHAIN_ID,
    ETHER,
    REWARD_TOKEN,
    SEED,
    VAULT_TOKEN,
    WETH,
    World,
    standard_world,
)


def claim_state(world: World, claim_id: bytes) -> tuple[int, str]:
    record = world.state.claims[Hash32(claim_id)]
    return record.status, record.reject_reason


def rejection(world: World) -> str | None:
    rejected = world.events_of(ev.REWARD_CLAIM_REJECTED)
    return rejected[-1].get("reason") if rejected else None


def equal_power_world(members: int = 3, **rules: Any) -> tuple[World, str]:
    world = World.create()
    world.price(WETH, "1000")
    for index in range(members):
        world.operator(index)
    avs = world.avs("alpha", committee_size=members, **rules)
    for index in range(members):
        world.opt_in(index, avs)
        world.delegate(sc.staker_address(SEED, index), index, WETH, ETHER)
    world.next_epoch()
    return world, avs


def test_exactly_two_thirds_is_rejected_and_more_is_accepted() -> None:
    world, avs = equal_power_world(3)
    committee = world.committee(avs)
    exact = world.claim(committee, [0, 1])
    world.node.produce_block()
    status, reason = claim_state(world, exact.claim_id)
    assert status == CLAIM_REJECTED and reason.startswith("no_quorum: signed power 2000")
    assert rejection(world) == "no_quorum"
    accepted = world.claim(committee, [0, 1, 2], amount=10**21 + 1)
    world.node.produce_block()
    assert claim_state(world, accepted.claim_id)[0] == CLAIM_DISTRIBUTED
    types = [e.type for e in world.events()]
    assert types.index(ev.REWARD_CLAIM_SUBMITTED) < types.index(ev.REWARD_CLAIM_VERIFIED)
    assert types.index(ev.REWARD_CLAIM_VERIFIED) < types.index(ev.REWARD_DISTRIBUTION_FINALIZED)
    assert types.index(ev.REWARD_DISTRIBUTION_FINALIZED) < types.index(ev.RELAY_PACKET_CREATED)
    assert types.count(ev.ALLOCATE_REWARDS_TO_OPERATOR) == 3


def test_ninety_percent_threshold() -> None:
    world, avs = equal_power_world(10, claim_threshold=(9, 10))
    committee = world.committee(avs)
    nine = world.claim(committee, range(9))
    assert claim_state(world, nine.claim_id)[0] == CLAIM_REJECTED
    ten = world.claim(committee, range(10), amount=5 * 10**20)
    assert claim_state(world, ten.claim_id)[0] == CLAIM_DISTRIBUTED


def test_signer_outside_the_committee_fails_the_aggregate() -> None:
    world, avs = equal_power_world(3)
    committee = world.committee(avs)
    outsider = sc.operator_bls_secret(SEED, 99, avs)
    # Member 2's slot is signed by a key that is not in the committee.
    secrets = dict(world.secrets)
    secrets[committee.pubkeys[2]] = outsider
    msg = sc.reward_claim_msg(
        chain_id=CHAIN_ID,
        committee=committee,
        secrets=secrets,
        signer_indices=[0, 1, 2],
        token=REWARD_TOKEN,
        amount=10**21,
    )
    response = world.node.submit_reward_claim(msg)
    world.node.produce_block()
    assert claim_state(world, response.claim_id)[0] == CLAIM_REJECTED
    assert rejection(world) == "bad_signature"


def test_bitmap_beyond_the_committee_is_rejected() -> None:
    world, avs = equal_power_world(3)
    committee = world.committee(avs)
    msg = sc.reward_claim_msg(
        chain_id=CHAIN_ID,
        committee=committee,
        secrets=world.secrets,
        signer_indices=[0, 1, 2],
        token=REWARD_TOKEN,
        amount=10**21,
    )
    msg.signer_bitmap = bytes([0b1111])  # a fourth member that does not exist
    world.node.submit_reward_claim(msg)
    world.node.produce_block()
    assert rejection(world) == "bad_bitmap"


def test_wrong_epoch_is_rejected() -> None:
    world, avs = equal_power_world(3)
    committee = world.committee(avs)
    future = sc.CommitteeView(
        avs, committee.epoch + 1, committee.pubkeys, committee.powers, committee.operators
    )
    response = world.claim(future, [0, 1, 2])
    world.node.produce_block()
    assert rejection(world) == "unknown_epoch"
    assert "no committee for epoch 3" in claim_state(world, response.claim_id)[1]
    # The committee of epoch 2 cannot sign for epoch 3 once epoch 3 has its own committee either:
    # its signature covers a claim id with epoch 2.
    world.next_epoch()
    stale = sc.reward_claim_msg(
        chain_id=CHAIN_ID,
        committee=committee,
        secrets=world.secrets,
        signer_indices=[0, 1, 2],
        token=REWARD_TOKEN,
        amount=10**21,
    )
    stale.epoch = committee.epoch + 1
    world.node.submit_reward_claim(stale)
    world.node.produce_block()
    assert rejection(world) == "bad_signature"


def test_bad_aggregate_is_rejected() -> None:
    world, avs = equal_power_world(3)
    committee = world.committee(avs)
    msg = sc.reward_claim_msg(
        chain_id=CHAIN_ID,
        committee=committee,
        secrets=world.secrets,
        signer_indices=[0, 1, 2],
        token=REWARD_TOKEN,
        amount=10**21,
    )
    msg.total_amount = str(10**21 + 1)  # the committee signed another amount
    world.node.submit_reward_claim(msg)
    world.node.produce_block()
    assert rejection(world) == "bad_signature"
    msg.aggregate_signature = b"\x00" * 96  # not a point
    world.node.submit_reward_claim(msg)
    world.node.produce_block()
    assert rejection(world) == "bad_signature"


def test_replayed_claim_is_refused_but_a_rejected_one_may_be_retried() -> None:
    world, avs = equal_power_world(3)
    committee = world.committee(avs)
    first = world.claim(committee, [0, 1])
    assert claim_state(world, first.claim_id)[0] == CLAIM_REJECTED
    retry = world.claim(committee, [0, 1, 2])
    assert retry.claim_id == first.claim_id
    assert claim_state(world, retry.claim_id)[0] == CLAIM_DISTRIBUTED
    with pytest.raises(ChainRuleError, match="duplicate claim"):
        world.claim(committee, [0, 1, 2])
    world.node.produce_block()
    with pytest.raises(ChainRuleError, match="duplicate claim"):
        world.claim(committee, [0, 1, 2])
    assert world.state.claim_order.count(Hash32(first.claim_id)) == 1


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"token": "0x" + "99" * 20}, "unknown_reward_token"),
        ({"funding": 2}, "funding_mismatch"),
        ({"amount": 2**128}, "invalid_amount"),
        ({"amount": 0}, "invalid_amount"),
    ],
)
def test_claim_field_rules(change: dict[str, object], reason: str) -> None:
    world, avs = equal_power_world(3)
    committee = world.committee(avs)
    world.claim(committee, [0, 1, 2], **change)  # type: ignore[arg-type]
    world.node.produce_block()
    assert rejection(world) == reason


def test_unknown_avs_and_malformed_messages() -> None:
    world, _ = equal_power_world(3)
    ghost = sc.CommitteeView("0x" + "77" * 20, 2, (), (), ())
    msg = avs_tx.MsgSubmitRewardClaim(
        avs_address=ghost.avs,
        epoch=2,
        token=REWARD_TOKEN,
        total_amount="5",
        signer_bitmap=b"\x01",
        aggregate_signature=bls.sign(sc.operator_bls_secret(SEED, 0, ghost.avs), b"\x00" * 32).compressed,
    )
    world.node.submit_reward_claim(msg)
    world.node.produce_block()
    assert rejection(world) == "unknown_avs"
    msg.total_amount = "-5"
    with pytest.raises(InvalidRequestError):
        world.node.submit_reward_claim(msg)
    msg.total_amount = "5"
    msg.aggregate_signature = b"\x01" * 95
    with pytest.raises(InvalidRequestError):
        world.node.submit_reward_claim(msg)


def test_accepted_claim_packet_is_signed_by_the_valset_and_matches_the_leaves() -> None:
    world, avs = standard_world(operators=4, stakers=20)
    committee = world.committee(avs)
    response = world.claim(committee, [0, 1, 2, 3], amount=7 * 10**20, token=VAULT_TOKEN)
    world.node.produce_block()
    distribution = world.node.distribution_for_claim(response.claim_id)
    assert distribution is not None
    packet = world.node.packet(distribution.nonce)
    assert packet is not None and int(packet.kind) == PacketKind.REWARD_DISTRIBUTION
    payload = decode_payload(packet.kind, packet.payload)
    assert isinstance(payload, RewardDistributionPayload)
    leaves = list(world.node.distribution_leaves(distribution.nonce))
    tree = DistributionTree.build(
        DistributionLeaf(leaf.index, Address(bytes.fromhex(leaf.staker[2:])), Amount(int(leaf.amount)))
        for leaf in leaves
    )
    assert payload.merkle_root == tree.root == distribution.merkle_root
    assert payload.total == tree.total == int(distribution.total)
    assert payload.leaf_count == len(leaves) == distribution.leaf_count
    assert payload.funding == 2 and payload.token == bytes.fromhex(VAULT_TOKEN[2:])
    expected_id = RewardClaim(
        ChainId.parse(CHAIN_ID).hash,
        Address(bytes.fromhex(avs[2:])),
        committee.epoch,
        Address(bytes.fromhex(VAULT_TOKEN[2:])),
        Amount(7 * 10**20),
        Hash32(bytes(32)),
    ).claim_id
    assert payload.claim_id == expected_id == response.claim_id
    # The packet digest verifies under the current valset's aggregate key with quorum.
    valset = world.node.current_valset()
    assert valset is not None and packet.valset_nonce == valset.valset_nonce == 1
    signatures = world.node.packet_signatures(distribution.nonce)
    members = MemberList.of((bytes(m.bls_pubkey), int(m.power)) for m in valset.members)
    signed = [s for s in signatures if s.signed]
    assert len(signed) == len(members) == 4
    bitmap = SignerBitmap.from_indices([s.index for s in signed], len(members))
    check_quorum(members, bitmap)
    aggregate = bls.aggregate_signatures([bls.parse_signature(s.signature) for s in signed])
    assert bls.fast_aggregate_verify_encoded(list(members.keys), packet.digest, aggregate.compressed)
    [finalized] = world.events_of(ev.REWARD_DISTRIBUTION_FINALIZED)
    assert finalized.get("merkle_root") == "0x" + tree.root.hex()
    assert finalized.get("nonce") == str(distribution.nonce)
    assert (
        int(finalized.get("total") or 0)
        + int(finalized.get("community_tax") or 0)
        + int(finalized.get("dust") or 0)
        == 7 * 10**20
    )


def test_frozen_members_get_no_share_and_their_part_goes_to_the_others() -> None:
    world, avs = equal_power_world(3)
    committee = world.committee(avs)
    frozen = committee.operators[0]
    world.state.operators[frozen].frozen[avs] = b"\x01" * 32
    response = world.claim(committee, [0, 1, 2], amount=3 * 10**18)
    distribution = world.state.distributions[world.state.claims[Hash32(response.claim_id)].distribution_nonce]
    assert frozen not in distribution.operators
    assert sum(distribution.amounts) + distribution.community_tax + distribution.dust == 3 * 10**18
    assert distribution.community_tax == 9 * 10**16
