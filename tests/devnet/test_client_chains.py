"""The devnet relays to several client chains: its genesis lists them, its relay params name them all,
and every valset rotation gives each chain's gateway its own VALSET_UPDATE (one nonce each, signed by
the outgoing set over that chain's digest). Assets belong to one chain (their asset id names it): a
distribution pays each chain's stakers with that chain's own packet and leaves, and a slash sends
each chain the part of the stake it holds."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from devnet import scenario as sc
from devnet.chain import events as ev
from devnet.chain.params import Genesis, GenesisError
from relayer.exocore.grpc_client import RelayPacket, convert_packet, convert_params
from relayer.protocol import bls
from relayer.protocol.ids import asset_id
from relayer.protocol.packets import (
    ClientChain,
    PacketKind,
    RewardDistributionPayload,
    SlashPayload,
)
from relayer.protocol.types import Address
from tests.support.devnet_world import CHAIN_ID, ETHER, GATEWAY, SEED, World, genesis, verify_packet

CHAIN_B = ClientChain(31338, Address(b"\xbb" * 20))
CHAIN_C = ClientChain(8453, Address(b"\xcc" * 20))


def test_genesis_lists_client_chains_and_keeps_one_chain_files_unchanged() -> None:
    one = genesis()
    assert "client_chains" not in one.to_json()  # one-chain genesis bytes (and hash) unchanged
    several = genesis(client_chains=(CHAIN_B, CHAIN_C))
    assert Genesis.from_json(several.to_json()) == several
    assert several.to_json()["client_chains"][0] == {"l1_chain_id": 31338, "gateway": "0x" + "bb" * 20}
    with pytest.raises(GenesisError, match="listed twice"):
        genesis(client_chains=(ClientChain(31337, Address(b"\xdd" * 20)),))


def test_a_rotation_sends_one_valset_update_to_every_client_chain() -> None:
    world = World.create(client_chains=(CHAIN_B, CHAIN_C))
    params = convert_params(world.node.relay_params(), CHAIN_ID)
    chain_a = ClientChain(31337, GATEWAY)
    assert params.client_chains == (chain_a, CHAIN_B, CHAIN_C)
    secret = bls.secret_key_from_seed(hashlib.sha256(b"client-chains-new-bls").digest())
    world.node.submit(sc.validator_msg(hashlib.sha256(b"client-chains-new").digest(), secret, 50))
    world.node.produce_block()
    block = world.node.produce_block()  # the next block rotates the set
    [updated] = [e for e in block.begin_block_events if e.type == ev.VALSET_UPDATED]
    first = int(updated.get("packet_nonce") or 0)
    created = [e for e in block.begin_block_events if e.type == ev.RELAY_PACKET_CREATED]
    assert [int(e.get("nonce") or 0) for e in created] == [first, first + 1, first + 2]
    destinations = []
    for nonce in (first, first + 1, first + 2):
        message = world.node.packet(nonce)
        assert message is not None and int(message.kind) == PacketKind.VALSET_UPDATE
        decoded = convert_packet(message, params)  # the node's digest is checked against its chain
        assert isinstance(decoded, RelayPacket)
        destinations.append(decoded.packet.destination)
        verify_packet(world, nonce, 1)
    assert destinations == [chain_a, CHAIN_B, CHAIN_C]
    assert len({world.node.packet(n).payload for n in (first, first + 1, first + 2)}) == 1  # type: ignore[union-attr]


# -- stakers and tokens per client chain --------------------------------------------------------

TOKEN = Address(b"\xc0" * 20)
WETH_A = asset_id(TOKEN, 31337)  # the same token address deployed on both chains
WETH_B = asset_id(TOKEN, CHAIN_B.l1_chain_id)
CHAIN_A = ClientChain(31337, GATEWAY)


def two_chain_world() -> tuple[World, str]:
    """Operators 0 and 1 serve one AVS over WETH on both chains. Operator 0 has a staker on each
    chain; operator 1 only one on chain B."""
    world = World.create(client_chains=(CHAIN_B,))
    world.price(WETH_A, "3000")
    world.price(WETH_B, "3000")
    for index in range(2):
        world.operator(index)
    avs = world.avs("split", asset_ids=(WETH_A, WETH_B), committee_size=2, slash_proportion="0.1")
    for index in range(2):
        world.opt_in(index, avs)
    world.delegate(sc.staker_address(SEED, 1), 0, WETH_A, 3 * ETHER)
    world.delegate(sc.staker_address(SEED, 2), 0, WETH_B, 1 * ETHER)
    world.delegate(sc.staker_address(SEED, 3), 1, WETH_B, 4 * ETHER)
    world.next_epoch()
    return world, avs


def relay_packets(world: World, events: list[Any]) -> list[RelayPacket]:
    params = convert_params(world.node.relay_params(), CHAIN_ID)
    out = []
    for event in events:
        message = world.node.packet(int(event.get("nonce") or 0))
        assert message is not None
        decoded = convert_packet(message, params)  # checks the digest against its destination
        assert isinstance(decoded, RelayPacket)
        out.append(decoded)
    return out


def test_a_distribution_pays_each_chain_only_its_own_stakers() -> None:
    world, avs = two_chain_world()
    total = 10**21
    world.claim(world.committee(avs), [0, 1], amount=total)
    world.node.produce_block()
    created = world.events_of(ev.RELAY_PACKET_CREATED)
    packets = relay_packets(world, created)
    assert [p.packet.destination for p in packets] == [CHAIN_A, CHAIN_B]
    finalized = world.events_of(ev.REWARD_DISTRIBUTION_FINALIZED)
    assert [int(e.get("nonce") or 0) for e in finalized] == [p.packet.nonce for p in packets]
    on_a, on_b = (world.state.distributions[p.packet.nonce] for p in packets)
    reward_addresses = {sc.operator_reward_address(SEED, i) for i in range(2)}
    assert set(on_a.stakers) == {sc.staker_address(SEED, 1)} | reward_addresses  # commissions: home chain
    assert set(on_b.stakers) == {sc.staker_address(SEED, 2), sc.staker_address(SEED, 3)}
    for packet, record in zip(packets, (on_a, on_b), strict=True):
        payload = packet.packet.payload
        assert isinstance(payload, RewardDistributionPayload)
        assert payload.total == sum(record.amounts) and payload.leaf_count == len(record.stakers)
        assert payload.merkle_root == record.merkle_root
    # Nothing is lost to the split: the leaves of both chains, the tax and the dust make the claim.
    assert sum(on_a.amounts) + sum(on_b.amounts) + on_a.community_tax + on_a.dust == total
    assert on_b.community_tax == on_b.dust == 0
    # Operator 0's stakers are paid by their USD weight whatever the chain (3 : 1).
    amount_of = dict(zip(on_a.stakers, on_a.amounts, strict=True)) | dict(
        zip(on_b.stakers, on_b.amounts, strict=True)
    )
    first, second = amount_of[sc.staker_address(SEED, 1)], amount_of[sc.staker_address(SEED, 2)]
    assert abs(first - 3 * second) <= 3


def test_a_slash_lands_on_every_chain_the_operator_has_stake_on() -> None:
    world, avs = two_chain_world()
    response = world.node.submit_slash_request(
        sc.slash_request_msg(
            chain_id=CHAIN_ID,
            committee=world.committee(avs),
            secrets=world.secrets,
            signer_indices=[0, 1],
            operator=sc.operator_account(SEED, 0),
            proportion=10**17,
            freeze=True,
        )
    )
    world.node.produce_block()
    packets = relay_packets(world, world.events_of(ev.RELAY_PACKET_CREATED))
    assert [p.packet.destination for p in packets] == [CHAIN_A, CHAIN_B]
    amounts = []
    for packet in packets:
        payload = packet.packet.payload
        assert isinstance(payload, SlashPayload)
        assert payload.slash_id == response.slash_id and payload.freeze
        assert payload.tokens == (TOKEN,)
        amounts.append(payload.amounts[0])
    assert amounts == [3 * ETHER // 10, ETHER // 10]  # each chain only its own stake's tenth
    [executed] = world.events_of(ev.SLASH_EXECUTED)
    assert executed.get("packet_nonce") == str(packets[0].packet.nonce)
