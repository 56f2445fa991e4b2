"""The devnet relays to several client chains: its genesis lists them, its relay params name them all,
and every valset rotation gives each chain's gateway its own VALSET_UPDATE (one nonce each, signed by
the outgoing set over that chain's digest)."""

from __future__ import annotations

import hashlib

import pytest

from devnet import scenario as sc
from devnet.chain import events as ev
from devnet.chain.params import Genesis, GenesisError
from relayer.exocore.grpc_client import RelayPacket, convert_packet, convert_params
from relayer.protocol import bls
from relayer.protocol.packets import ClientChain, PacketKind
from relayer.protocol.types import Address
from tests.support.devnet_world import CHAIN_ID, GATEWAY, World, genesis, verify_packet

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
