"""Cumulative earnings per client chain: a cumulative AVS's distribution is split per destination
chain like a per-distribution one, each part accrues in its own chain's ledger, each chain numbers
its own periods (1, 2, ...) and closes them into its own CUMULATIVE_ROOT packet addressed to it (its
digest binds the chain); CumulativeLeaves serves each chain's leaves by the request's chain; the
state hash covers every chain's latest root and a restarted node resumes it."""

from __future__ import annotations

from pathlib import Path

from devnet import scenario as sc
from devnet.chain import events as ev
from devnet.chain.blockstore import BlockStore
from devnet.chain.model import CLAIM_ACCRUED
from devnet.chain.node import DevnetNode
from relayer.exocore.grpc_client import RelayPacket, convert_packet, convert_params
from relayer.protocol.cumulative import CumulativeLeaf, CumulativeTree
from relayer.protocol.ids import asset_id
from relayer.protocol.kinds import PayoutMode
from relayer.protocol.packets import ClientChain, CumulativeRootPayload, PacketKind
from relayer.protocol.types import Address, Amount
from tests.support.devnet_world import CHAIN_ID, ETHER, GATEWAY, SEED, World, fixed_clock, genesis

CHAIN_A = ClientChain(31337, GATEWAY)
CHAIN_B = ClientChain(31338, Address(b"\xbb" * 20))
TOKEN = Address(b"\xc0" * 20)
WETH_A = asset_id(TOKEN, CHAIN_A.l1_chain_id)  # the same token address deployed on both chains
WETH_B = asset_id(TOKEN, CHAIN_B.l1_chain_id)
EVERY = 2
"""Distributions per period (per chain: each chain's ledger counts its own parts)."""


def cumulative_two_chain_world(path: Path | None = None) -> tuple[World, str]:
    """A cumulative AVS over WETH on both chains: operator 0 has a staker on each chain, operator 1
    one on chain B (operators' commissions are paid on the home chain, A)."""
    world = World.create(path, client_chains=(CHAIN_B,), cumulative_every=EVERY)
    world.price(WETH_A, "3000")
    world.price(WETH_B, "3000")
    for index in range(2):
        world.operator(index)
    avs = world.avs("cumulative-split", asset_ids=(WETH_A, WETH_B), payout_mode=PayoutMode.CUMULATIVE)
    for index in range(2):
        world.opt_in(index, avs)
    world.delegate(sc.staker_address(SEED, 1), 0, WETH_A, 3 * ETHER)
    world.delegate(sc.staker_address(SEED, 2), 0, WETH_B, 1 * ETHER)
    world.delegate(sc.staker_address(SEED, 3), 1, WETH_B, 4 * ETHER)
    world.next_epoch()
    return world, avs


def root_packets(world: World) -> list[RelayPacket]:
    params = convert_params(world.node.relay_params(), CHAIN_ID)
    out = []
    for event in world.events_of(ev.RELAY_PACKET_CREATED):
        if event.get("kind") != str(PacketKind.CUMULATIVE_ROOT.value):
            continue
        message = world.node.packet(int(event.get("nonce") or 0))
        assert message is not None
        decoded = convert_packet(message, params)  # checks the digest against its destination
        assert isinstance(decoded, RelayPacket)
        out.append(decoded)
    return out


def served_tree(world: World, period: int, chain: int) -> CumulativeTree:
    leaves = world.node.cumulative_leaves(period, chain)
    assert leaves is not None
    return CumulativeTree.build(
        CumulativeLeaf(
            Address(bytes.fromhex(leaf.earner[2:])),
            Address(bytes.fromhex(leaf.token[2:])),
            Amount(int(leaf.cumulative)),
        )
        for leaf in leaves
    )


def test_each_client_chain_accrues_its_part_and_closes_its_own_numbered_roots() -> None:
    world, avs = cumulative_two_chain_world()
    roots: list[RelayPacket] = []
    claimed = kept = 0
    for round_index in range(2 * EVERY):
        amount = 10**21 + round_index
        claim = world.claim(world.committee(avs), [0, 1], amount=amount)
        world.node.produce_block()
        claimed += amount
        # No REWARD_DISTRIBUTION for either chain: both parts accrued, the claim ends accrued.
        assert world.node.distribution_for_claim(claim.claim_id) is None
        assert world.state.claims[claim.claim_id].status == CLAIM_ACCRUED
        (accrued,) = world.events_of(ev.REWARD_DISTRIBUTION_ACCRUED)
        assert accrued.get("period") == str(round_index // EVERY + 1)
        kept += int(accrued.get("community_tax") or 0) + int(accrued.get("dust") or 0)
        roots.extend(root_packets(world))
    assert not world.state.distributions
    # Per period, one root per client chain, each addressed to its chain; periods numbered per chain.
    assert [(r.packet.destination, r.packet.payload.period) for r in roots] == [  # type: ignore[union-attr]
        (CHAIN_A, 1),
        (CHAIN_B, 1),
        (CHAIN_A, 2),
        (CHAIN_B, 2),
    ]
    assert len({r.packet.digest for r in roots}) == 4
    latest_a, latest_b = roots[2], roots[3]
    payload_a, payload_b = latest_a.packet.payload, latest_b.packet.payload
    assert isinstance(payload_a, CumulativeRootPayload) and isinstance(payload_b, CumulativeRootPayload)
    # Each chain's earners are in its own tree only: stakers 2 and 3 on B; staker 1 and the
    # operators' reward addresses (commissions) on A.
    tree_a = served_tree(world, 2, CHAIN_A.l1_chain_id)
    tree_b = served_tree(world, 2, CHAIN_B.l1_chain_id)
    assert (tree_a.root, tree_b.root) == (payload_a.root, payload_b.root)
    earners_a = {leaf.earner for leaf in tree_a.leaves}
    earners_b = {leaf.earner for leaf in tree_b.leaves}
    assert earners_b == {sc.staker_address(SEED, 2), sc.staker_address(SEED, 3)}
    assert sc.staker_address(SEED, 1) in earners_a and earners_a.isdisjoint(earners_b)
    # Unset chain (0): the first client chain's leaves, as before roots were per chain.
    assert served_tree(world, 2, 0).root == tree_a.root
    assert world.node.cumulative_leaves(3, CHAIN_B.l1_chain_id) is None
    # The two chains' roots together fund exactly what was distributed (no unit twice, none lost).
    ledgers = world.state.cumulative_ledgers
    distributed = sum(payload_a.funded_per_token().values()) + sum(payload_b.funded_per_token().values())
    assert distributed + kept == claimed
    assert set(ledgers) == {CHAIN_A.l1_chain_id, CHAIN_B.l1_chain_id}


def test_per_chain_roots_survive_a_restart_and_hash_deterministically(tmp_path: Path) -> None:
    world, avs = cumulative_two_chain_world(tmp_path / "a.sqlite")
    for _ in range(EVERY):
        world.claim(world.committee(avs), [0, 1])
        world.node.produce_block()
    root = world.node.state_root()
    tree_b = served_tree(world, 1, CHAIN_B.l1_chain_id)
    again, _ = cumulative_two_chain_world(tmp_path / "b.sqlite")
    for _ in range(EVERY):
        again.claim(again.committee(avs), [0, 1])
        again.node.produce_block()
    assert again.node.state_root() == root
    again.node.store.close()
    height = world.node.height
    world.node.stop()
    world.node.store.close()
    resumed = DevnetNode(
        genesis(client_chains=(CHAIN_B,), cumulative_every=EVERY),
        BlockStore(CHAIN_ID, tmp_path / "a.sqlite"),
        clock_ns=fixed_clock(),
    )
    assert resumed.height == height and resumed.state_root() == root
    leaves = resumed.cumulative_leaves(1, CHAIN_B.l1_chain_id)
    assert leaves is not None and len(leaves) == len(tree_b)
    resumed.store.close()
