"""Stop and resume: the block store is replayed into the same state, then the chain continues."""

from __future__ import annotations

from pathlib import Path

import pytest

from devnet import scenario as sc
from devnet.chain.blockstore import BlockStore
from devnet.chain.node import DevnetNode, ReplayError
from devnet.chain.persistence import GenesisMismatchError, open_chain, read_genesis
from relayer.errors import StorageError
from relayer.exocore.proto.devnet.v1 import tx_pb2 as tx
from tests.support.devnet_world import CHAIN_ID, ETHER, SEED, WETH, World, fixed_clock, genesis


def build_history(path: Path) -> tuple[World, str]:
    path.mkdir(parents=True, exist_ok=True)
    world = World.create(path / "blocks.sqlite")
    world.price(WETH, "3000")
    for index in range(3):
        world.operator(index)
    avs = world.avs("alpha", committee_size=3)
    for index in range(3):
        world.opt_in(index, avs)
        world.delegate(sc.staker_address(SEED, index), index, WETH, (index + 1) * ETHER)
    world.next_epoch()
    committee = world.committee(avs)
    world.claim(committee, [0, 1, 2])
    world.node.submit(
        sc.slash_request_msg(
            chain_id=CHAIN_ID,
            committee=committee,
            secrets=world.secrets,
            signer_indices=[0, 1, 2],
            operator=sc.operator_account(SEED, 0),
            proportion=10**16,
        )
    )
    world.node.submit(tx.MsgSetFaultKnobs(knobs=tx.FaultKnobs(silent_validators=[3])))
    world.node.produce_block()
    return world, avs


def test_restart_resumes_the_same_state_and_continues(tmp_path: Path) -> None:
    world, avs = build_history(tmp_path)
    height, root = world.node.height, world.node.state_root()
    packets = [p.SerializeToString() for p in world.node.packets()]
    world.node.stop()
    world.node.store.close()

    store = BlockStore(CHAIN_ID, tmp_path / "blocks.sqlite")
    resumed = DevnetNode(genesis(), store, clock_ns=fixed_clock())
    assert resumed.height == height
    assert resumed.state_root() == root
    assert [p.SerializeToString() for p in resumed.packets()] == packets
    # It continues: new blocks extend the stored chain, the next epoch elects again.
    resumed.advance(5)
    assert resumed.height == height + 5
    assert resumed.committee(avs, 0) is not None
    resumed.store.close()


def test_resuming_with_another_genesis_is_refused(tmp_path: Path) -> None:
    world, _ = build_history(tmp_path)
    world.node.store.close()
    store = BlockStore(CHAIN_ID, tmp_path / "blocks.sqlite")
    with pytest.raises(ReplayError, match="app hash"):
        DevnetNode(genesis(seed="another"), store)
    store.close()


def test_two_runs_with_the_same_seed_and_txs_give_the_same_chain(tmp_path: Path) -> None:
    first, _ = build_history(tmp_path / "a")
    second, _ = build_history(tmp_path / "b")
    assert first.node.state_root() == second.node.state_root()
    first_block, second_block = first.node.store.latest(), second.node.store.latest()
    assert first_block is not None and second_block is not None
    assert first_block.hash == second_block.hash  # same clock too
    first.node.store.close()
    second.node.store.close()


def test_open_chain_keeps_the_genesis_with_the_blocks(tmp_path: Path) -> None:
    path = tmp_path / "devnet.sqlite"
    with pytest.raises(StorageError, match="no devnet genesis"):
        open_chain(path)
    chain, store = open_chain(path, genesis())
    node = DevnetNode(chain, store, clock_ns=fixed_clock())
    node.submit(sc.set_price_msg(WETH, "12.5", 18))
    node.advance(3)
    root = node.state_root()
    store.close()
    assert read_genesis(path) == chain
    reopened, store = open_chain(path)
    assert reopened == chain
    assert DevnetNode(reopened, store).state_root() == root
    store.close()
    with pytest.raises(GenesisMismatchError):
        open_chain(path, genesis(epoch_blocks=7))
