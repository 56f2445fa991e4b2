"""L1 ingestion against a real anvil with the real contracts and real signed packets.

Covers: a claim driven from Exocore records to ``paid`` by real gateway logs, idempotence (a second
sync changes nothing), a reorg (evm_snapshot/evm_revert + re-mining) that makes a payout disappear
and reappear when re-included, a reorg deeper than the finality window that halts the stream, and a
gateway log the committed ABI cannot decode: its block alone is poisoned, alerted and skipped only
by an operator.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from eth_abi.abi import encode as abi_encode
from eth_typing import HexStr
from eth_utils.crypto import keccak
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from web3 import Web3

from devnet.anvil import AnvilConfig, AnvilNode
from devnet.l1_deploy import deploy_l1
from indexer.api import ReadinessPolicy, create_app
from indexer.ingest.exocore import ExocoreIngestor
from indexer.ingest.l1 import L1Contracts, L1Ingestor, L1LogDecoder, RawLog, Web3L1Source
from indexer.metrics import IngestMetrics
from relayer.health import ingestion_check
from relayer.ops import status
from relayer.protocol.merkle import DistributionTree
from relayer.protocol.packets import FundingMode, Packet, RewardDistributionPayload
from storage.errors import BlockPoisonedError, DeepReorgError, InvalidRecordError, StreamHaltedError
from storage.models import (
    claim_table,
    distribution_table,
    packet_table,
    payout_table,
    transfer_table,
    transition_table,
    violation_table,
)
from storage.normalize import address_hex, bytes_hex, hash_hex
from storage.records import (
    ClaimSubmitted,
    CumulativePaidLog,
    CumulativeRootLog,
    DistributionCreated,
    DistributionLeaves,
    ExocoreBlock,
    LeafInfo,
    PacketAttested,
    PacketCreated,
    RewardPaidLog,
    ValidatorSignatureInfo,
)
from storage.store import LifecycleStore, open_poisoned_blocks
from storage.token_tables import token_unit_table
from tests.support.indexer_factory import T0, snapshot
from tests.support.l1_contracts import (
    EXOCORE_CHAIN,
    System,
    ValidatorSet,
    deliver,
    distribution_payload,
    distribution_tree,
    fresh_addresses,
    payout_call,
    transact,
)

CONFIRMATIONS = 2
AMOUNTS = [10**18, 2 * 10**18, 3 * 10**18, 4 * 10**18]


@pytest.fixture(scope="module")
def deployed() -> Iterator[System]:
    with AnvilNode(AnvilConfig(accounts=6)) as node:
        w3 = Web3(Web3.HTTPProvider(node.rpc_url, request_kwargs={"timeout": 60}))
        valset = ValidatorSet.generate(4, nonce=1, seed=11)
        accounts = node.dev_accounts()
        deployment = deploy_l1(w3, accounts[0].private_key, valset.genesis(), EXOCORE_CHAIN)
        yield System(
            w3=w3,
            node=node,
            deployment=deployment,
            valset=valset,
            accounts=tuple(Web3.to_checksum_address(a.address) for a in accounts),
        )


@pytest.fixture
def system(deployed: System) -> Iterator[System]:
    snapshot_id = deployed.node.snapshot()
    try:
        yield deployed
    finally:
        deployed.node.revert(snapshot_id)


def ingestor(
    store: LifecycleStore,
    system: System,
    *,
    confirmations: int = CONFIRMATIONS,
    metrics: IngestMetrics | None = None,
) -> L1Ingestor:
    return L1Ingestor(
        store,
        Web3L1Source(system.w3),
        L1Contracts.from_deployment(system.deployment),
        chain_id=system.deployment.chain_id,
        confirmations=confirmations,
        start_block=system.deployment.block_number + 1,
        batch_blocks=3,  # several batches per sync, so batch boundaries are exercised too
        metrics=metrics,
    )


def mine(system: System, blocks: int) -> None:
    for _ in range(blocks):
        system.node.rpc("evm_mine")


def a_distribution(system: System, nonce: int, claim_id: bytes) -> tuple[DistributionTree, Packet]:
    tree = distribution_tree(fresh_addresses(len(AMOUNTS), seed=nonce), AMOUNTS)
    payload = distribution_payload(
        tree,
        token=system.deployment.reward_token,
        funding=FundingMode.MINT,
        avs=system.accounts[3],
        claim_id=claim_id,
    )
    return tree, system.packet(payload, nonce=nonce)


def exocore_side(tree: DistributionTree, packet: Packet, claim_bytes: bytes) -> list[Any]:
    """The Exocore records of the same claim (as the Exocore client would hand them over)."""
    payload = packet.payload
    assert isinstance(payload, RewardDistributionPayload)
    claim_id, avs, token = hash_hex(claim_bytes), address_hex(payload.avs), address_hex(payload.token)
    distribution = hash_hex(packet.distribution_id)
    return [
        ClaimSubmitted(
            claim_id=claim_id,
            avs=avs,
            epoch=7,
            token=token,
            total_amount=tree.total,
            funding=1,
        ),
        DistributionCreated(
            distribution_id=distribution,
            nonce=packet.nonce,
            claim_id=claim_id,
            avs=avs,
            epoch=7,
            token=token,
            funding=1,
            total=tree.total,
            leaf_count=len(tree),
            merkle_root=hash_hex(tree.root),
        ),
        DistributionLeaves(
            distribution,
            tuple(LeafInfo(leaf.index, address_hex(leaf.staker), leaf.amount) for leaf in tree.leaves),
        ),
        PacketCreated(
            nonce=packet.nonce,
            kind=2,
            valset_nonce=packet.valset_nonce,
            payload=bytes_hex(packet.payload_bytes),
            payload_hash=hash_hex(packet.payload_hash),
            digest=hash_hex(packet.digest),
            subject_id=claim_id,
            distribution_id=distribution,
        ),
        PacketAttested(
            nonce=packet.nonce,
            signatures=tuple(ValidatorSignatureInfo(i, "0x" + "00" * 48, True) for i in range(4)),
            quorum=True,
        ),
    ]


def payout_rows(engine: Engine) -> list[tuple[Any, ...]]:
    p = payout_table
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                select(p.c.leaf_index, p.c.state, p.c.l1_block_number, p.c.l1_block_hash).order_by(
                    p.c.leaf_index
                )
            )
        ]


def without_cursor_time(state: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[tuple[Any, ...]]]:
    return {k: v for k, v in state.items() if k != "chain_cursor"}


def test_a_claim_reaches_paid_from_real_logs_and_a_second_sync_changes_nothing(
    system: System, store: LifecycleStore
) -> None:
    claim_id = b"\x21" * 32
    tree, packet = a_distribution(system, nonce=1, claim_id=claim_id)
    ExocoreIngestor(store).apply_block(
        ExocoreBlock(1, "0x" + "01" * 32, T0, tuple(exocore_side(tree, packet, claim_id)))
    )
    deliver(system, packet)
    transact(system, payout_call(system, packet.distribution_id, tree, [0, 1, 2, 3]))
    l1 = ingestor(store, system)
    result = l1.sync()
    assert result.caught_up and result.height == system.w3.eth.block_number
    assert {row[1] for row in payout_rows(store.engine)} == {"included"}  # not final yet
    mine(system, CONFIRMATIONS)
    l1.sync()
    assert {row[1] for row in payout_rows(store.engine)} == {"finalized"}
    with store.engine.connect() as conn:
        claim = conn.execute(
            select(claim_table.c.state).where(claim_table.c.claim_id == "0x" + claim_id.hex())
        ).scalar_one()
        transfers = conn.execute(select(func.count()).select_from(transfer_table)).scalar_one()
        dist = conn.execute(select(distribution_table)).one()
    assert claim == "paid"
    assert transfers == 4
    assert (dist.origin, dist.l1_finalized, dist.merkle_root) == ("exocore", True, "0x" + tree.root.hex())
    before = snapshot(store.engine)
    again = l1.sync()
    assert again.records == 0 and again.reorg_depth == 0
    assert without_cursor_time(snapshot(store.engine)) == without_cursor_time(before)
    # Applying the same blocks' logs once more (as after a lost cursor) changes no lifecycle row.
    with store.begin() as tx:
        l1_logs = l1._fetch(system.deployment.block_number + 1, system.w3.eth.block_number)
        assert l1_logs is not None
        tx.apply_l1_logs(l1_logs[0], chain_id=system.deployment.chain_id)
    after = snapshot(store.engine)
    for table in ("payout", "transition", "reward_claim", "distribution", "l1_token_transfer", "l1_tx"):
        assert after[table] == before[table], table
    # The node's real logs decode the same through the fixed-layout fast path and eth_abi.
    raw = l1.source.logs(
        system.deployment.block_number + 1,
        system.w3.eth.block_number,
        [*l1.contracts.log_sources, system.deployment.reward_token],
    )
    assert len(raw) > 8
    assert_fast_decode_matches_generic(raw, l1.contracts.gateway)


def generic_only_decoder() -> L1LogDecoder:
    decoder = L1LogDecoder()
    decoder._fixed_paid = decoder._fixed_transfer = decoder._fixed_vault_paid = None
    return decoder


def assert_fast_decode_matches_generic(raw: list[RawLog], gateway: str) -> None:
    fast, generic = L1LogDecoder(), generic_only_decoder()
    decoded = [fast.decode(log, T0, gateway) for log in raw]
    assert decoded == [generic.decode(log, T0, gateway) for log in raw]
    kinds = {type(r).__name__ for r in decoded}
    assert {"RewardPaidLog", "TokenTransferLog"} <= kinds


def test_the_vaults_withdrawal_paid_is_a_paid_leaf_of_the_approval_only_from_the_vault() -> None:
    fast, generic = L1LogDecoder(), generic_only_decoder()
    gateway, vault, other = "0x" + "9a" * 20, "0x" + "5a" * 20, "0x" + "7e" * 20
    topic = fast._fixed_vault_paid
    assert topic is not None and topic != fast._fixed_paid
    staker, approval = "0x" + "5b" * 20, b"\x22" * 32

    def withdrawal_paid(emitter: str) -> RawLog:
        return RawLog(
            emitter,
            (topic, approval, abi_encode(["address"], [staker])),
            abi_encode(["uint256", "uint256"], [3, 2 * 10**18]),
            9,
            "0x" + "ab" * 32,
            "0x" + "cd" * 32,
            0,
        )

    for decoder in (fast, generic):
        paid = decoder.decode(withdrawal_paid(vault), T0, gateway, restaking_vault=vault)
        assert isinstance(paid, RewardPaidLog)
        assert (paid.distribution_id, paid.index, paid.staker, paid.amount, paid.paid_by) == (
            "0x" + approval.hex(),
            3,
            staker,
            2 * 10**18,
            None,
        )
        # Not the vault (or no vault configured): not a payment the indexer tracks.
        assert decoder.decode(withdrawal_paid(other), T0, gateway, restaking_vault=vault) is None
        assert decoder.decode(withdrawal_paid(vault), T0, gateway) is None


def test_fixed_layout_decoding_equals_eth_abi_and_defers_to_it_on_odd_encodings() -> None:
    decoder = L1LogDecoder()
    gateway, token = "0x" + "9a" * 20, "0x" + "7e" * 20
    paid_topic, transfer_topic = decoder._fixed_paid, decoder._fixed_transfer
    assert paid_topic is not None and transfer_topic is not None
    staker = "0x" + "5b" * 20

    def raw_log(address: str, topics: tuple[bytes, ...], data: bytes, log_index: int) -> RawLog:
        # Upper-case hashes from a source are normalised like the validated records do.
        return RawLog(address, topics, data, 7, "0x" + "AB" * 32, "0x" + "CD" * 32, log_index)

    logs = [
        raw_log(
            gateway,
            (paid_topic, b"\x11" * 32, abi_encode(["address"], [staker])),
            abi_encode(["uint256", "uint256"], [2**63 - 1, 2**256 - 1]),
            0,
        ),
        raw_log(
            token,
            (transfer_topic, bytes(32), abi_encode(["address"], [staker])),
            abi_encode(["uint256"], [10**18]),
            1,
        ),
        # Another emitter's RewardPaid is not the gateway's: ignored on both paths.
        raw_log(
            token,
            (paid_topic, b"\x11" * 32, abi_encode(["address"], [staker])),
            abi_encode(["uint256", "uint256"], [1, 1]),
            2,
        ),
    ]
    assert_fast_decode_matches_generic(logs, gateway)
    paid = decoder.decode(logs[0], T0, gateway)
    assert isinstance(paid, RewardPaidLog)
    assert (paid.index, paid.amount, paid.staker) == (2**63 - 1, 2**256 - 1, staker)
    assert (paid.position.block_hash, paid.position.tx_hash) == ("0x" + "ab" * 32, "0x" + "cd" * 32)
    # A leaf index past BIGINT, or dirty address padding, goes to eth_abi and the record checks.
    too_big = replace(logs[0], data=abi_encode(["uint256", "uint256"], [2**63, 1]))
    with pytest.raises(InvalidRecordError):
        decoder.decode(too_big, T0, gateway)
    dirty = replace(logs[1], topics=(transfer_topic, b"\x01" + bytes(31), logs[1].topics[2]))
    with pytest.raises(InvalidRecordError, match=r"Transfer log 1 of block 7 .* NonEmptyPaddingBytes"):
        decoder.decode(dirty, T0, gateway)


def test_a_reorged_payout_disappears_and_reappears_when_reincluded(
    system: System, store: LifecycleStore
) -> None:
    tree, packet = a_distribution(system, nonce=2, claim_id=b"\x22" * 32)
    deliver(system, packet)
    l1 = ingestor(store, system)
    l1.sync()
    fork_point = system.node.snapshot()
    transact(system, payout_call(system, packet.distribution_id, tree, [0, 1]))
    l1.sync()
    first = payout_rows(store.engine)
    assert [(r[0], r[1]) for r in first] == [(0, "included"), (1, "included")]
    system.node.revert(fork_point)
    mine(system, 2)  # another branch, one block longer than the orphaned one
    result = l1.sync()
    assert result.reorg_depth >= 1 and result.reversed_transitions >= 3  # 2 payouts + their tx
    assert payout_rows(store.engine) == []  # first seen in the orphaned block: gone
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(transfer_table)).scalar_one() == 0
        assert (
            conn.execute(select(func.count()).select_from(distribution_table)).scalar_one() == 1
        )  # below the fork
        reversals = conn.execute(
            select(transition_table.c.entity_kind, transition_table.c.to_state).where(
                transition_table.c.edge == "reversal"
            )
        ).all()
    assert sorted(tuple(r) for r in reversals) == [("l1_tx", None), ("payout", None), ("payout", None)]
    transact(system, payout_call(system, packet.distribution_id, tree, [0, 1]))
    l1.sync()
    again = payout_rows(store.engine)
    assert [(r[0], r[1]) for r in again] == [(0, "included"), (1, "included")]
    assert again[0][3] != first[0][3]  # re-included in a block of the new branch


def test_a_reorg_below_the_finality_window_halts_the_stream(system: System, store: LifecycleStore) -> None:
    _tree, packet = a_distribution(system, nonce=3, claim_id=b"\x23" * 32)
    fork_point = system.node.snapshot()
    deliver(system, packet)
    mine(system, 3)
    metrics = IngestMetrics()
    l1 = ingestor(store, system, confirmations=1, metrics=metrics)
    l1.sync()
    cursor = store.cursor(l1.stream)
    assert cursor is not None and cursor.finalized_height is not None
    with store.engine.connect() as conn:
        root_block = conn.execute(select(distribution_table.c.l1_block_number)).scalar_one()
    assert cursor.finalized_height >= root_block
    system.node.revert(fork_point)
    mine(system, 6)
    with pytest.raises(DeepReorgError):
        l1.poll()
    halted = store.cursor(l1.stream)
    assert (
        halted is not None
        and halted.halted
        and "deeper than the finalized height" in (halted.halt_reason or "")
    )
    assert (
        metrics.invariant_violations.labels(stream=l1.stream, invariant="reorg_within_finality")._value.get()
        == 1
    )
    assert metrics.halted.labels(stream=l1.stream)._value.get() == 1
    with store.engine.connect() as conn:  # nothing final was rewritten
        assert conn.execute(select(func.count()).select_from(distribution_table)).scalar_one() == 1
    with pytest.raises(StreamHaltedError):
        l1.poll()


def test_ingestion_waits_for_the_finality_depth(system: System, store: LifecycleStore) -> None:
    _tree, packet = a_distribution(system, nonce=4, claim_id=b"\x24" * 32)
    deliver(system, packet)
    l1 = ingestor(store, system, confirmations=3)
    result = l1.sync()
    assert result.finalized == result.head - 3
    mine(system, 1)
    assert l1.sync().finalized == result.head - 2


def span_ingestor(store: LifecycleStore, system: System, batch_target_s: float) -> L1Ingestor:
    return L1Ingestor(
        store,
        Web3L1Source(system.w3),
        L1Contracts.from_deployment(system.deployment),
        chain_id=system.deployment.chain_id,
        start_block=system.deployment.block_number + 1,
        batch_blocks=4,
        batch_target_s=batch_target_s,
    )


def deliver_busy_blocks(system: System, count: int, first_nonce: int) -> None:
    """``count`` blocks in a row, each with a delivered distribution (rows to store)."""
    for i in range(count):
        _tree, packet = a_distribution(system, nonce=first_nonce + i, claim_id=bytes([0x60 + i]) * 32)
        deliver(system, packet)


def poll_spans(l1: L1Ingestor, polls: int) -> list[tuple[int, int]]:
    """(blocks covered, records) of each of ``polls`` polls that ingested a batch."""
    spans = []
    for _ in range(polls):
        result = l1.poll()
        assert result.from_block is not None and result.to_block is not None
        spans.append((result.to_block - result.from_block + 1, result.records))
    return spans


def test_batches_shrink_past_their_time_target_and_grow_back_under_it(
    system: System, store: LifecycleStore
) -> None:
    """A busy range (rows in every block) over the target is split down to single blocks; while
    the stream is behind, full batches within the target double the span back to ``batch_blocks``."""
    deliver_busy_blocks(system, 7, first_nonce=1)
    mine(system, 16)
    l1 = span_ingestor(store, system, batch_target_s=0.0)  # every batch is too slow
    spans = poll_spans(l1, 3)
    assert [covered for covered, _ in spans] == [4, 2, 1]
    assert all(records > 0 for _, records in spans)
    l1.batch_target_s = 3600.0  # every batch is quick
    assert [covered for covered, _ in poll_spans(l1, 3)] == [1, 2, 4]
    assert l1.span_blocks == 4  # never past batch_blocks


def test_a_starved_stream_catches_up_over_empty_blocks(system: System, store: LifecycleStore) -> None:
    """Regression: on a starved host even a one-block empty batch overran the target (fixed RPC and
    database overhead), the span fell to one block and never grew back, and the stream fell behind
    its chain for good. An empty batch's overrun no longer shrinks the span, and while behind it
    grows it: the stream catches up though every batch overruns."""
    deliver_busy_blocks(system, 7, first_nonce=1)
    mine(system, 40)
    l1 = span_ingestor(store, system, batch_target_s=0.0)  # every batch is too slow
    busy = poll_spans(l1, 3)
    assert [covered for covered, _ in busy] == [4, 2, 1]
    empty = []
    result = l1.poll()
    for _ in range(40):
        assert result.from_block is not None and result.to_block is not None
        empty.append(result.to_block - result.from_block + 1)
        if result.caught_up:
            break
        result = l1.poll()
    assert result.caught_up
    assert empty[:3] == [1, 2, 4]  # the span grows back on overrunning empty batches
    assert set(empty[2:-1]) == {4}  # and stays at batch_blocks until the head
    assert len(empty) <= 40 // 4 + 3  # ~a quarter of the polls one block per poll would need


def test_a_delivered_valset_update_marks_its_packet_relayed_then_finalized(
    system: System, store: LifecycleStore
) -> None:
    """Regression: ValsetUpdated carries no packet nonce, so the VALSET_UPDATE packet stayed
    ``attested`` after delivery; it is found by the new valset nonce it installs."""
    successor = ValidatorSet.generate(4, nonce=system.valset.nonce + 1, seed=77)
    packet = system.packet(successor.update_payload(), nonce=5)
    record = PacketCreated(
        nonce=packet.nonce,
        kind=1,
        valset_nonce=packet.valset_nonce,
        payload=bytes_hex(packet.payload_bytes),
        payload_hash=hash_hex(packet.payload_hash),
        digest=hash_hex(packet.digest),
        subject_id=str(successor.nonce),
    )
    ExocoreIngestor(store).apply_block(ExocoreBlock(1, "0x" + "05" * 32, T0, (record,)))
    deliver(system, packet)
    l1 = ingestor(store, system)
    l1.sync()
    assert packet_state(store.engine, packet.nonce) == "relayed"
    mine(system, CONFIRMATIONS)
    l1.sync()
    assert packet_state(store.engine, packet.nonce) == "finalized"


def packet_state(engine: Engine, nonce: int) -> str:
    with engine.connect() as conn:
        state: str = conn.execute(
            select(packet_table.c.state).where(packet_table.c.nonce == nonce)
        ).scalar_one()
    return state


def test_reward_tokens_symbol_and_decimals_are_stored_and_a_token_without_them_halts_nothing(
    system: System, store: LifecycleStore
) -> None:
    not_a_token = system.accounts[5]  # an account: no code, so no symbol() to read
    contracts = replace(
        L1Contracts.from_deployment(system.deployment),
        reward_tokens=(system.deployment.reward_token, system.deployment.weth, not_a_token),
    )
    mine(system, CONFIRMATIONS + 1)
    ingest = L1Ingestor(
        store,
        Web3L1Source(system.w3),
        contracts,
        chain_id=system.deployment.chain_id,
        confirmations=CONFIRMATIONS,
        start_block=system.deployment.block_number + 1,
    )
    result = ingest.sync()
    assert result.caught_up
    with store.engine.connect() as conn:
        units = {r.token: (r.symbol, r.decimals) for r in conn.execute(select(token_unit_table))}
    assert units == {
        address_hex(system.deployment.reward_token): ("EXOR", 18),
        address_hex(system.deployment.weth): ("WETH", 18),
    }


def test_vault_cumulative_events_decode_only_from_the_vault() -> None:
    decoder = L1LogDecoder()
    gateway, vault, stranger = "0x" + "9a" * 20, "0x" + "5a" * 20, "0x" + "77" * 20
    accepted_topic = keccak(b"CumulativeRootAccepted(uint64,bytes32,uint32,uint64)")
    ignored_topic = keccak(b"CumulativeRootIgnored(uint64,uint64,uint64)")
    period = abi_encode(["uint64"], [3])

    def raw_log(address: str, topics: tuple[bytes, ...], data: bytes) -> RawLog:
        return RawLog(address, topics, data, 7, "0x" + "ab" * 32, "0x" + "cd" * 32, 0)

    accepted = raw_log(
        vault, (accepted_topic, period), abi_encode(["bytes32", "uint32", "uint64"], [b"\x01" * 32, 9, 41])
    )
    record = decoder.decode(accepted, T0, gateway, vault)
    assert isinstance(record, CumulativeRootLog)
    assert (record.period, record.nonce, record.accepted) == (3, 41, True)
    ignored = raw_log(vault, (ignored_topic, period), abi_encode(["uint64", "uint64"], [4, 42]))
    record = decoder.decode(ignored, T0, gateway, vault)
    assert isinstance(record, CumulativeRootLog)
    assert (record.period, record.nonce, record.accepted) == (3, 42, False)
    # The same event from anyone but the configured vault, or with no vault configured: not ours.
    assert decoder.decode(replace(accepted, address=stranger), T0, gateway, vault) is None
    assert decoder.decode(accepted, T0, gateway) is None
    paid_topic = keccak(b"CumulativePaid(address,address,address,uint256,uint256,uint64,bool)")
    earner, token = "0x" + "e1" * 20, "0x" + "70" * 20
    paid = raw_log(
        vault,
        (paid_topic, abi_encode(["address"], [earner]), abi_encode(["address"], [token])),
        abi_encode(["address", "uint256", "uint256", "uint64", "bool"], [earner, 5, 2**256 - 1, 3, True]),
    )
    record = decoder.decode(paid, T0, gateway, vault)
    assert isinstance(record, CumulativePaidLog)
    assert (record.earner, record.token, record.amount, record.cumulative, record.by_earner) == (
        earner,
        token,
        5,
        2**256 - 1,
        True,
    )
    assert decoder.decode(replace(paid, address=gateway), T0, gateway, vault) is None


# ------------------------------------------------------------------------------------------ poisoned blocks


def log_echo_code(topics: int) -> bytes:
    """Runtime code that emits one log of ``topics`` topics, the first 32-byte words of its calldata,
    with the rest as data: the topics pushed last to first (``PUSH1 32i CALLDATALOAD``), the data
    copied to memory 0 (``CALLDATASIZE PUSH1 32n SWAP1 SUB DUP1 PUSH1 32n PUSH1 0 CALLDATACOPY``),
    then ``PUSH1 0 LOGn STOP``. Put at the gateway's address it makes the gateway say what a test
    needs, as a gateway built from another ABI would."""
    head = 32 * topics
    pushes = b"".join(bytes([0x60, 32 * i, 0x35]) for i in reversed(range(topics)))
    copy = bytes([0x36, 0x60, head, 0x90, 0x03, 0x80, 0x60, head, 0x60, 0x00, 0x37])
    return pushes + copy + bytes([0x60, 0x00, 0xA0 + topics, 0x00])


def emit_from_gateway(system: System, topics: tuple[bytes, ...], data: bytes) -> int:
    """One transaction in which the gateway's address emits (``topics``, ``data``); its block number.
    The gateway's own code (and storage, untouched) is back afterwards."""
    gateway = system.deployment.gateway
    code = system.w3.eth.get_code(Web3.to_checksum_address(gateway))
    system.node.rpc("anvil_setCode", [gateway, "0x" + log_echo_code(len(topics)).hex()])
    try:
        tx_hash = system.w3.eth.send_transaction(
            {
                "from": system.deployer,
                "to": Web3.to_checksum_address(gateway),
                "data": HexStr("0x" + (b"".join(topics) + data).hex()),
            }
        )
        receipt = system.w3.eth.wait_for_transaction_receipt(tx_hash)
        assert receipt["status"] == 1 and len(receipt["logs"]) == 1
    finally:
        system.node.rpc("anvil_setCode", [gateway, "0x" + bytes(code).hex()])
    return int(receipt["blockNumber"])


def event_topic(name: str) -> bytes:
    return next(t for t, spec in L1LogDecoder()._specs.items() if spec.name == name)


def distribution_ids(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(distribution_table.c.distribution_id)).scalars())


def poisoning_ingestor(store: LifecycleStore, system: System, metrics: IngestMetrics) -> L1Ingestor:
    return L1Ingestor(
        store,
        Web3L1Source(system.w3),
        L1Contracts.from_deployment(system.deployment),
        chain_id=system.deployment.chain_id,
        confirmations=CONFIRMATIONS,
        start_block=system.deployment.block_number + 1,
        batch_blocks=64,  # one batch covers every delivery: the bad block is narrowed down to
        metrics=metrics,
    )


def test_an_undecodable_gateway_log_poisons_its_block_alone_and_an_operator_skips_it(
    system: System, store: LifecycleStore, caplog: pytest.LogCaptureFixture
) -> None:
    _tree, before = a_distribution(system, nonce=5, claim_id=b"\x25" * 32)
    deliver(system, before)
    # The right topics, five data bytes where the ABI says two words: no retry can decode it.
    valset_nonce = abi_encode(["uint64"], [7])
    bad = emit_from_gateway(system, (event_topic("ValsetUpdated"), valset_nonce), b"\x01\x02\x03\x04\x05")
    _tree, after = a_distribution(system, nonce=6, claim_id=b"\x26" * 32)
    deliver(system, after)
    mine(system, CONFIRMATIONS)
    metrics = IngestMetrics()
    l1 = poisoning_ingestor(store, system, metrics)
    with (
        caplog.at_level(logging.WARNING, logger="indexer.ingest"),
        pytest.raises(BlockPoisonedError, match=f"block {bad} is poisoned: InvalidRecordError") as poisoned,
    ):
        l1.sync()
    assert f"ValsetUpdated log 0 of block {bad} from {system.deployment.gateway.lower()}" in str(
        poisoned.value
    )
    assert "does not decode by the committed ABI (5 data bytes)" in str(poisoned.value)
    # Everything before the bad block is stored; the stream halts right before it.
    assert distribution_ids(store.engine) == {hash_hex(before.distribution_id)}
    cursor = store.cursor(l1.stream)
    assert cursor is not None and cursor.halted and cursor.height == bad - 1
    assert (cursor.halt_reason or "").startswith(f"poisoned block {bad}: InvalidRecordError: ")
    with store.engine.connect() as conn:
        (record,) = open_poisoned_blocks(conn)
        health = ingestion_check(conn)
    assert (record.stream, record.height, record.error_class, record.skipped_at) == (
        l1.stream,
        bad,
        "InvalidRecordError",
        None,
    )
    assert record.block_hash == hash_hex(system.w3.eth.get_block(bad)["hash"])
    # Alerted: the log line, the metrics, /ready, `exorelay health` and `exorelay status`.
    assert any(f"l1 block {bad} poisoned" in r.getMessage() for r in caplog.records)
    assert (
        metrics.registry.get_sample_value("exorelay_indexer_poisoned_blocks_total", {"stream": l1.stream})
        == 1
    )
    assert metrics.registry.get_sample_value("exorelay_indexer_stream_halted", {"stream": l1.stream}) == 1
    with TestClient(create_app(store.engine, readiness=ReadinessPolicy(max_age_s=10**9))) as client:
        ready = client.get("/ready")
        assert ready.status_code == 503
        problems = ready.json()["error"]["details"]["problems"]
        assert any(f"stream {l1.stream} is halted: poisoned block {bad}: " in p for p in problems)
        assert f'exorelay_indexer_poisoned_blocks{{stream="{l1.stream}"}} 1.0' in client.get("/metrics").text
    assert not health.ok
    assert f"stream {l1.stream} halts at poisoned block {bad} (InvalidRecordError: " in health.detail
    assert f"`exorelay skip-block {l1.stream} {bad} --reason TEXT`" in health.detail
    assert [b.height for b in status(store.engine).poisoned_blocks] == [bad]
    # Never retried silently.
    with pytest.raises(StreamHaltedError):
        l1.poll()
    # An operator skips it: the later delivery is ingested and everything goes final.
    store.skip_block(l1.stream, bad, reason="gateway log from another ABI", by="ops-oncall")
    result = l1.sync()
    assert result.caught_up and not result.retry
    assert distribution_ids(store.engine) == {
        hash_hex(before.distribution_id),
        hash_hex(after.distribution_id),
    }
    with store.engine.connect() as conn:
        assert open_poisoned_blocks(conn) == []
        assert ingestion_check(conn).ok
        finals = conn.execute(select(distribution_table.c.l1_finalized)).scalars().all()
    assert finals == [True, True]
    assert l1.span_blocks == 64  # back to the full span past the bad block


def test_a_gateway_log_that_breaks_an_invariant_poisons_its_block_with_the_violation_recorded(
    system: System, store: LifecycleStore
) -> None:
    tree, before = a_distribution(system, nonce=7, claim_id=b"\x27" * 32)
    deliver(system, before)
    # A RewardPaid of more than the whole distribution (and with no Transfer): decodes, but breaks
    # Σ paid <= total.
    staker = abi_encode(["address"], [system.accounts[4]])
    overpaid = abi_encode(["uint256", "uint256"], [0, tree.total + 1])
    bad = emit_from_gateway(system, (event_topic("RewardPaid"), before.distribution_id, staker), overpaid)
    _tree, after = a_distribution(system, nonce=8, claim_id=b"\x28" * 32)
    deliver(system, after)
    mine(system, CONFIRMATIONS)
    metrics = IngestMetrics()
    l1 = poisoning_ingestor(store, system, metrics)
    with pytest.raises(BlockPoisonedError, match=f"block {bad} is poisoned: InvariantViolationError"):
        l1.sync()
    cursor = store.cursor(l1.stream)
    assert cursor is not None and cursor.halted and cursor.height == bad - 1
    with store.engine.connect() as conn:
        (record,) = open_poisoned_blocks(conn)
        violations = conn.execute(select(violation_table.c.stream, violation_table.c.invariant)).all()
    assert (record.height, record.error_class) == (bad, "InvariantViolationError")
    assert "invariant 'sum_paid_le_total' violated" in record.error
    assert violations == [(l1.stream, "sum_paid_le_total")]
    sample = metrics.registry.get_sample_value
    assert sample("exorelay_indexer_poisoned_blocks_total", {"stream": l1.stream}) == 1
    assert (
        sample(
            "exorelay_indexer_invariant_violations_total",
            {"stream": l1.stream, "invariant": "sum_paid_le_total"},
        )
        == 1
    )
    assert distribution_ids(store.engine) == {hash_hex(before.distribution_id)}
    store.skip_block(l1.stream, bad, reason="overpayment log from a foreign gateway build", by="ops-oncall")
    assert l1.sync().caught_up
    assert distribution_ids(store.engine) == {
        hash_hex(before.distribution_id),
        hash_hex(after.distribution_id),
    }
    with store.engine.connect() as conn:
        paid = conn.execute(select(func.count()).select_from(payout_table)).scalar_one()
    assert paid == 0  # the skipped block's payment was never stored
