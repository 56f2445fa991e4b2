from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest

from devnet.chain.blockstore import (
    EMPTY_HASH,
    Block,
    BlockStore,
    BlockStoreError,
    CommitSig,
    Event,
    EventAttribute,
    InvalidBlockError,
    TxResult,
    Validator,
    block_from_json,
    block_to_json,
    merkle_root,
    next_block,
)
from tests.support.devnet_chain import CHAIN_ID, GENESIS_TIME_NS, VALIDATORS, grow, make_block, validator


def test_merkle_root_matches_cometbft_vectors() -> None:
    # Vectors of CometBFT crypto/merkle HashFromByteSlices (RFC 6962).
    assert merkle_root([]).hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert merkle_root([b""]).hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    assert merkle_root([bytes([1, 2, 3])]).hex() == (
        "054edec1d0211f624fed0cbca9d4f9400b0e491c43742af2c5b0abebf0c990d8"
    )
    assert merkle_root([bytes([1, 2, 3]), bytes([4, 5, 6])]).hex() == (
        "82e6cfce00453804379b53962939eaa7906b39904be0813fcadd31b100773c4b"
    )
    five = [bytes([1, 2]), bytes([3, 4]), bytes([5, 6]), bytes([7, 8]), bytes([9, 10])]
    assert merkle_root(five).hex() == "f326493eceab4f2d9ffbc78c59432a0a005d6ea98392045c74df5d14a113be18"


def test_block_derived_fields_follow_cometbft_definitions() -> None:
    store = BlockStore(CHAIN_ID)
    first, second = grow(store, 2)
    assert first.data_hash == EMPTY_HASH  # no txs
    tx = b"claim-tx-2"
    leaf = hashlib.sha256(b"\x00" + hashlib.sha256(tx).digest()).digest()
    assert second.data_hash == leaf
    assert second.tx_hashes == (hashlib.sha256(tx).digest(),)
    assert VALIDATORS[0].address == hashlib.sha256(VALIDATORS[0].pub_key).digest()[:20]
    assert second.last_block_id == first.block_id
    assert second.last_results_hash == first.results_hash == EMPTY_HASH
    assert len(second.hash) == 32 and second.block_id.part_set_total == 1
    # Every validator of the previous block voted at the previous block's time.
    assert [sig.validator_address for sig in second.last_commit] == [v.address for v in VALIDATORS]
    assert {sig.time_ns for sig in second.last_commit} == {first.time_ns}


def test_hash_is_deterministic_and_covers_the_header() -> None:
    store_a, store_b = BlockStore(CHAIN_ID), BlockStore(CHAIN_ID)
    a = make_block(store_a, None, 1)
    b = make_block(store_b, None, 1)
    assert a.hash == b.hash and a.block_id == b.block_id
    changed = next_block(
        None,
        chain_id=CHAIN_ID,
        time_ns=a.time_ns,
        validators=VALIDATORS,
        app_hash=b"other",
        begin_block_events=a.begin_block_events,
    )
    assert changed.hash != a.hash
    later = next_block(
        None, chain_id=CHAIN_ID, time_ns=a.time_ns + 1, validators=VALIDATORS, app_hash=a.app_hash
    )
    assert later.hash != a.hash


def test_json_round_trip_preserves_every_field() -> None:
    store = BlockStore(CHAIN_ID)
    blocks = grow(store, 4)
    absent = CommitSig(VALIDATORS[1].address, 5, None)
    custom = next_block(
        blocks[-1],
        chain_id=CHAIN_ID,
        time_ns=blocks[-1].time_ns + 10,
        last_commit=[absent],
        end_block_events=[Event("empty")],
    )
    for block in (*blocks, custom):
        assert block_from_json(block_to_json(block)) == block


def test_append_enforces_chain_continuity() -> None:
    store = BlockStore(CHAIN_ID)
    first = make_block(store, None, 1)
    with pytest.raises(InvalidBlockError, match="expected height 1"):
        store.append(make_block(store, first, 2))
    store.append(first)
    second = make_block(store, first, 2)
    with pytest.raises(InvalidBlockError, match="chain"):
        store.append(next_block(first, chain_id="other_1-1", time_ns=second.time_ns))
    with pytest.raises(InvalidBlockError, match="does not point"):
        store.append(
            next_block(
                None, chain_id=CHAIN_ID, time_ns=second.time_ns, validators=VALIDATORS, initial_height=2
            )
        )
    with pytest.raises(InvalidBlockError, match="time must increase"):
        store.append(next_block(first, chain_id=CHAIN_ID, time_ns=first.time_ns))
    with pytest.raises(InvalidBlockError, match="next_validators"):
        store.append(
            next_block(first, chain_id=CHAIN_ID, time_ns=second.time_ns, validators=[validator(9, 1)])
        )
    store.append(second)
    assert store.latest_height == 2 and store.latest() == second


def test_first_block_must_not_have_a_parent() -> None:
    store = BlockStore(CHAIN_ID)
    other = BlockStore(CHAIN_ID)
    (parent,) = grow(other, 1)
    orphan = next_block(parent, chain_id=CHAIN_ID, time_ns=parent.time_ns + 1)
    store_at_two = BlockStore(CHAIN_ID, initial_height=2)
    with pytest.raises(InvalidBlockError, match="first block"):
        store_at_two.append(orphan)
    with pytest.raises(InvalidBlockError, match="expected height 1"):
        store.append(orphan)


def test_malformed_blocks_are_rejected() -> None:
    with pytest.raises(InvalidBlockError, match="32 bytes"):
        Validator(b"\x01" * 31, 1)
    with pytest.raises(InvalidBlockError, match=">= 1"):
        Validator(b"\x01" * 32, 0)
    with pytest.raises(InvalidBlockError, match="txs but"):
        next_block(None, chain_id=CHAIN_ID, time_ns=1, validators=VALIDATORS, txs=[b"x"])
    with pytest.raises(InvalidBlockError, match="proposer"):
        next_block(None, chain_id=CHAIN_ID, time_ns=1, validators=VALIDATORS, proposer_address=b"\x00" * 20)
    with pytest.raises(InvalidBlockError, match="uint32"):
        TxResult(code=-1)
    with pytest.raises(InvalidBlockError, match="str"):
        EventAttribute("k", b"v")  # type: ignore[arg-type]
    with pytest.raises(InvalidBlockError):
        store = BlockStore(CHAIN_ID)
        store.append("not a block")  # type: ignore[arg-type]


def test_get_range_hash_and_tx_lookup() -> None:
    store = BlockStore(CHAIN_ID)
    blocks = grow(store, 5)
    assert store.base_height == 1 and store.latest_height == 5
    assert store.get(0) is None and store.get(6) is None
    assert [b.height for b in store.range(2, 4)] == [2, 3, 4]
    assert [b.height for b in store.range(-3, 99)] == [1, 2, 3, 4, 5]
    assert store.get_by_hash(blocks[2].hash) == blocks[2]
    assert store.get_by_hash(b"\x00" * 32) is None
    location = store.find_tx(hashlib.sha256(b"claim-tx-4").digest())
    assert location is not None and (location.height, location.index) == (4, 0)
    assert store.find_tx(b"\x00" * 32) is None


def test_subscribers_are_notified_and_isolated_from_each_other() -> None:
    store = BlockStore(CHAIN_ID)
    seen: list[int] = []

    def broken(_block: Block) -> None:
        raise RuntimeError("subscriber bug")

    store.subscribe(broken)
    subscription = store.subscribe(lambda block: seen.append(block.height))
    grow(store, 2)
    subscription.close()
    grow(store, 1)
    assert seen == [1, 2]
    assert store.latest_height == 3


def test_concurrent_readers_see_consistent_blocks() -> None:
    store = BlockStore(CHAIN_ID)
    grow(store, 1)
    errors: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(200):
                latest = store.latest()
                assert latest is not None and store.get(latest.height) == latest
        except BaseException as exc:
            errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for reader in readers:
        reader.start()
    grow(store, 30)
    for reader in readers:
        reader.join()
    assert errors == []


def test_persistence_survives_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "chain.sqlite"
    with BlockStore(CHAIN_ID, path) as store:
        written = grow(store, 3)
    with BlockStore(CHAIN_ID, path) as reopened:
        assert reopened.latest_height == 3
        assert reopened.range(1, 3) == written
        assert reopened.latest() is not None and reopened.latest().time_ns == GENESIS_TIME_NS + 2 * 10**9  # type: ignore[union-attr]
        more = grow(reopened, 2)
        assert more[0].last_block_id == written[-1].block_id
    with BlockStore(CHAIN_ID, path) as third:
        assert third.latest_height == 5
        assert third.find_tx(hashlib.sha256(b"claim-tx-4").digest()) is not None
    with pytest.raises(BlockStoreError, match="holds chain"):
        BlockStore("otherchain_1-1", path)
    with pytest.raises(BlockStoreError, match="starts at height"):
        BlockStore(CHAIN_ID, path, initial_height=5)


def test_closed_store_refuses_use() -> None:
    store = BlockStore(CHAIN_ID)
    store.close()
    store.close()
    with pytest.raises(BlockStoreError, match="closed"):
        store.get(1)


def test_initial_height_above_one() -> None:
    store = BlockStore(CHAIN_ID, initial_height=100)
    first = next_block(None, chain_id=CHAIN_ID, time_ns=1, validators=VALIDATORS, initial_height=100)
    store.append(first)
    assert store.base_height == 100 and store.latest_height == 100
    assert store.range(1, 200) == [first]
