"""The Exocore feed against a real in-process devnet (node + CometBFT RPC + gRPC on real sockets).

The chain runs the standard scenario (operators, stakers over two assets, two AVSs, one claim each),
then a claim without quorum, a slash with freeze, a validator-set rotation and the re-submission of
the rejected claim with enough signers. The feed follows it with the relayer's own clients; the
indexer's tables and its HTTP API must then show the whole history.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text

from devnet import scenario as sc
from devnet.chain.blockstore import BlockStore
from devnet.chain.params import DEVNET_LZ_CHAIN_ID
from devnet.runtime import ExocoreDevnet
from indexer.api import ReadinessPolicy, create_app
from indexer.ingest.exocore import EXOCORE_STREAM
from indexer.ingest.exocore_feed import (
    BlockGapError,
    ExocoreDataUnavailableError,
    ExocoreFeed,
    FeedReport,
    SkipOutcome,
)
from relayer.exocore.events import (
    BlockEvents,
    EventPosition,
    EventSource,
    RelayPacketCreated,
    RewardClaimRejected,
    RewardClaimVerified,
    decode_block_events,
    decode_event,
)
from relayer.exocore.follower import BlockFollower
from relayer.exocore.grpc_client import ExocoreGrpcClient
from relayer.exocore.proto.devnet.v1 import tx_pb2 as tx
from relayer.exocore.rpc import CometRpcClient, CommittedBlock, RawAttribute, RawEvent
from relayer.ops import status
from relayer.protocol import bls
from relayer.protocol.evidence import Attestation
from relayer.protocol.ids import ChainId, OperatorAddress
from relayer.protocol.packets import PacketKind
from relayer.protocol.types import Address, Hash32
from storage.errors import BlockPoisonedError, SkipBlockError, StreamHaltedError
from storage.models import (
    attestation_table,
    claim_table,
    committee_member_table,
    committee_table,
    packet_table,
    poisoned_block_table,
    valset_table,
)
from storage.normalize import TEXT_MAX_CHARS
from storage.operator_tables import operator_name_table
from storage.schema import metadata
from storage.store import LifecycleStore, open_poisoned_blocks
from tests.support.database import refusing_transitions_to
from tests.support.devnet_world import CHAIN_ID, EPOCH_BLOCKS, funded_genesis, signing_client

WETH = "0x" + "c0" * 20
SECOND_TOKEN = "0x" + "c1" * 20
REWARD_TOKEN = "0x" + "e0" * 20
REJECTED_CLAIM_AMOUNT = 7 * 10**18
SLASH_PROPORTION = 10**16  # 1%: below the scenario AVSs' 5% cap
NEW_VALIDATOR_POWER = 50
RUN_TIMEOUT_S = 120.0


@dataclass
class Chain:
    devnet: ExocoreDevnet
    client: sc.ScenarioClient
    report: sc.ScenarioReport
    avs: str
    committee: sc.CommitteeView
    rejected_claim: str
    slash_id: str


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


def build_chain() -> Chain:
    devnet = ExocoreDevnet(funded_genesis(), BlockStore(CHAIN_ID))
    devnet.start()
    client = signing_client(devnet.grpc_target)
    report = sc.run_scenario(
        client,
        operators=4,
        stakers=12,
        weth=WETH,
        second_token=SECOND_TOKEN,
        reward_token=REWARD_TOKEN,
        lz_chain_id=DEVNET_LZ_CHAIN_ID,
        epoch_blocks=EPOCH_BLOCKS,
    )
    avs = report.avss[0]
    committee = client.committee(avs)
    rejected = client.claim(committee, [0], REWARD_TOKEN, REJECTED_CLAIM_AMOUNT)  # one signer: no quorum
    slash = client.send(
        sc.slash_request_msg(
            chain_id=CHAIN_ID,
            committee=committee,
            secrets=client.secrets,
            signer_indices=range(len(committee.pubkeys)),
            operator=OperatorAddress.parse(committee.operators[0]),
            proportion=SLASH_PROPORTION,
        ),
    )
    secret = bls.secret_key_from_seed(hashlib.sha256(b"feed-test-bls").digest())
    client.send(
        sc.validator_msg(hashlib.sha256(b"feed-test-validator").digest(), secret, NEW_VALIDATOR_POWER),
    )
    client.advance(3)  # the rotation happens in the next block's begin-block
    # The rejected claim again, now signed by the whole committee: the chain accepts it.
    client.claim(committee, range(len(committee.pubkeys)), REWARD_TOKEN, REJECTED_CLAIM_AMOUNT)
    client.advance(1)
    return Chain(devnet, client, report, avs, committee, _hex(rejected.claim_id), _hex(slash.slash_id))


@pytest.fixture(scope="module")
def chain() -> Iterator[Chain]:
    built = build_chain()
    yield built
    built.client.close()
    built.devnet.stop()
    built.devnet.store.close()


@dataclass
class Clients:
    rpc: CometRpcClient
    grpc: ExocoreGrpcClient


@pytest.fixture
def clients(chain: Chain) -> Iterator[Clients]:
    with (
        CometRpcClient([chain.devnet.rpc_url], chain_id=CHAIN_ID) as rpc,
        ExocoreGrpcClient([chain.devnet.grpc_target], chain_id=CHAIN_ID) as grpc_client,
    ):
        yield Clients(rpc, grpc_client)


def all_blocks(rpc: CometRpcClient) -> list[CommittedBlock]:
    follower = BlockFollower(rpc, next_height=1)
    blocks: list[CommittedBlock] = []
    while batch := follower.poll():
        blocks.extend(batch)
    return blocks


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table except the cursor's bookkeeping time."""
    out = {}
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            columns = [c for c in table.c if c.name != "updated_at" or table.name != "chain_cursor"]
            rows = conn.execute(select(*columns)).all()
            out[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return out


def api(engine: Engine) -> TestClient:
    return TestClient(create_app(engine, readiness=ReadinessPolicy(max_age_s=10**9)))


def get(client: TestClient, path: str, **params: Any) -> Any:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_feed_records_the_devnet_history(
    chain: Chain, clients: Clients, store: LifecycleStore, engine: Engine
) -> None:
    feed = ExocoreFeed(store, clients.grpc)
    follower = BlockFollower(clients.rpc, next_height=feed.resume_height())
    synced = feed.sync(follower)
    head = chain.devnet.node.height
    assert (synced.blocks, synced.applied, synced.height) == (head, head, head)
    cursor = store.cursor(EXOCORE_STREAM)
    assert cursor is not None and (cursor.height, cursor.head_height, cursor.halted) == (head, head, False)

    with api(engine) as client:
        claims = {c["claim_id"]: c for c in get(client, "/v1/claims", limit=50)["items"]}
        scenario_claims = [c["claim_id"] for c in chain.report.claims]
        assert set(claims) == {*scenario_claims, chain.rejected_claim}
        for claim_id in scenario_claims:
            detail = get(client, f"/v1/claims/{claim_id}")
            # Relayed would need L1: on Exocore alone the furthest a claim gets is attested.
            assert detail["status"] == "attested"
            path = [t["to_state"] for t in detail["timeline"] if t["entity_kind"] == "claim"]
            assert path == ["submitted", "verified", "distributed", "packet_created", "attested"]
            assert detail["signers"] and detail["threshold"] in ("2/3", "9/10")
            assert detail["packet"]["status"] == "attested"
            assert detail["packet"]["signed_power"] == detail["packet"]["total_power"]
            distribution = get(client, f"/v1/distributions/{detail['distribution_id']}")
            leaves = get(client, f"/v1/distributions/{detail['distribution_id']}/leaves", limit=500)["items"]
            assert len(leaves) == distribution["leaf_count"] > 0
            assert sum(int(leaf["amount"]) for leaf in leaves) == int(distribution["total"])
            assert {leaf["payout_status"] for leaf in leaves} == {"pending"}
            assert distribution["payouts_by_status"] == {"pending": len(leaves)}
        # The claim short of quorum is rejected; its later re-submission (same id) cannot re-open it.
        rejected = get(client, f"/v1/claims/{chain.rejected_claim}")
        assert (rejected["status"], rejected["reason_code"]) == ("rejected", "no_quorum")
        pending = get(client, "/v1/payouts", status="pending", limit=500)["items"]
        assert len(pending) == sum(
            get(client, f"/v1/distributions/{get(client, f'/v1/claims/{c}')['distribution_id']}")[
                "leaf_count"
            ]
            for c in scenario_claims
        )

        (slash,) = get(client, "/v1/slashes")["items"]
        assert slash["slash_id"] == chain.slash_id
        assert slash["status"] == "attested"
        assert slash["operator"] == chain.committee.operators[0] and slash["freeze"]
        assert slash["evidence_kind"] == "committee_request" and slash["slash_proportion"] == "0.01"
        assert {a["token"] for a in slash["assets"]} == {WETH, SECOND_TOKEN}
        assets = {a["token"]: a for a in slash["assets"]}
        assert all(a["asset_id"].startswith(token + "_0x") for token, a in assets.items())
        assert int(assets[WETH]["amount"]) > 0  # the slashed operator holds WETH stake
        slash_detail = get(client, f"/v1/slashes/{chain.slash_id}")
        slash_timeline = slash_detail["timeline"]
        timeline = [t["to_state"] for t in slash_timeline if t["entity_kind"] == "slash"]
        # The committee-attested evidence bytes are stored and shown (API and explorer page).
        evidence = Attestation(
            ChainId.parse(CHAIN_ID).hash,
            Address(bytes.fromhex(chain.avs[2:])),
            OperatorAddress.parse(chain.committee.operators[0]).address,
            chain.committee.epoch,
            sc.ATTESTED_STATEMENT,
        ).encode()
        assert slash_detail["evidence"] == "0x" + evidence.hex()
        assert "evidence" not in slash  # listings stay small: the bytes are on the detail only
        page = client.get(f"/slashes/{chain.slash_id}")
        assert page.status_code == 200 and "0x" + evidence.hex() in page.text
        assert timeline == ["submitted", "executed_on_exocore", "packet_created", "attested"]

        packets = get(client, "/v1/packets", limit=50)["items"]
        kinds = {p["kind"] for p in packets}
        assert kinds == {"reward_distribution", "slash", "valset_update"}
        assert {p["status"] for p in packets} == {"attested"}
        (rotation,) = [p for p in packets if p["kind"] == "valset_update"]
        assert (rotation["valset_nonce"], rotation["subject_id"]) == (1, "2")
        # The re-submitted claim's packet is recorded, without a subject the indexer cannot follow.
        orphan = [p for p in packets if p["kind"] == "reward_distribution" and p["subject_id"] is None]
        assert len(orphan) == 1 and orphan[0]["valset_nonce"] == 2

        committees = get(client, f"/v1/committees/{chain.avs}")["items"]
        by_epoch = {c["epoch"]: c for c in committees}
        elected = by_epoch[chain.committee.epoch]
        assert [m["operator"] for m in elected["members"]] == list(chain.committee.operators)
        assert [m["bls_pubkey"] for m in elected["members"]] == [_hex(k) for k in chain.committee.pubkeys]
        # Operator 0 was frozen for this AVS: later committees leave it out.
        latest = by_epoch[max(by_epoch)]
        assert max(by_epoch) > chain.committee.epoch
        assert chain.committee.operators[0] not in [m["operator"] for m in latest["members"]]

    with engine.connect() as conn:
        valsets = {row.valset_nonce: row for row in conn.execute(select(valset_table))}
        assert set(valsets) == {1, 2}
        assert len(valsets[1].members) == 4 and len(valsets[2].members) == 5
        assert int(valsets[2].total_power) == int(valsets[1].total_power) + NEW_VALIDATOR_POWER
        attestations = conn.execute(select(attestation_table)).all()
        assert attestations and all(a.signed and a.signature for a in attestations)
        assert conn.execute(text("SELECT COUNT(*) FROM avs")).scalar_one() == 2

    # A new feed over the same database resumes after the cursor: nothing is fetched twice.
    again = ExocoreFeed(store, clients.grpc)
    assert again.resume_height() == head + 1
    assert again.sync(BlockFollower(clients.rpc, next_height=1)).blocks == 0


def test_refeeding_blocks_changes_nothing(clients: Clients, store: LifecycleStore, engine: Engine) -> None:
    feed = ExocoreFeed(store, clients.grpc)
    blocks = all_blocks(clients.rpc)
    for block in blocks:
        assert feed.apply(block, decode_block_events(block)).applied
    before = snapshot(engine)
    calls = sum(s.calls for s in clients.grpc.endpoint_stats())
    for block in blocks[:5] + blocks[-3:]:
        report = feed.apply(block, decode_block_events(block))
        assert not report.applied and report.record_count == 0
    assert snapshot(engine) == before
    assert sum(s.calls for s in clients.grpc.endpoint_stats()) == calls  # nothing was fetched


def test_gaps_are_refused(clients: Clients, store: LifecycleStore) -> None:
    feed = ExocoreFeed(store, clients.grpc)
    first, _, third = all_blocks(clients.rpc)[:3]
    feed.apply(first, decode_block_events(first))
    with pytest.raises(BlockGapError, match=r"blocks 2\.\.2 would be lost"):
        feed.apply(third, decode_block_events(third))
    cursor = store.cursor(EXOCORE_STREAM)
    assert cursor is not None and cursor.height == 1


def _raw(event_type: str, **attributes: str) -> RawEvent:
    return RawEvent(event_type, tuple(RawAttribute(k, v) for k, v in attributes.items()))


def test_unknown_and_malformed_events_are_recorded_and_skipped(
    clients: Clients, store: LifecycleStore, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    blocks = all_blocks(clients.rpc)
    feed = ExocoreFeed(store, clients.grpc)
    first = blocks[0]
    decoded = decode_block_events(first)
    at = EventPosition(first.height, EventSource.END_BLOCK, 0)
    unknown = decode_event(_raw("mystery_event", answer="42"), at)
    malformed = decode_event(_raw("reward_claim_verified", claim_id="0x1234"), at)
    stray = decode_event(
        _raw(
            "reward_claim_verified",
            claim_id="0x" + "ab" * 32,
            avs=WETH,
            epoch="1",
            signed_power="3",
            total_power="4",
            signer_count="3",
        ),
        at,
    )
    served = blocks[1:]
    real_packet = next(e for b in served for e in decode_block_events(b).of_type(RelayPacketCreated))
    forged = replace(real_packet, position=at, digest=Hash32(bytes(32)))
    assert isinstance(stray, RewardClaimVerified)
    events = replace(
        decoded,
        events=(*decoded.events, stray, forged),
        unknown=(*decoded.unknown, unknown),  # type: ignore[arg-type]
        rejected=(*decoded.rejected, malformed),  # type: ignore[arg-type]
    )
    with caplog.at_level(logging.WARNING, logger="indexer.ingest.exocore_feed"):
        report = feed.apply(first, events)
    assert report.applied
    outcomes = {(s.type, s.outcome) for s in report.skipped}
    assert outcomes == {
        ("mystery_event", SkipOutcome.UNKNOWN),
        ("reward_claim_verified", SkipOutcome.REJECTED),
        ("reward_claim_verified", SkipOutcome.UNRECORDABLE),
        ("relay_packet_created", SkipOutcome.INCONSISTENT),
    }
    assert len([r for r in caplog.records if "not recorded" in r.getMessage()]) == 4
    sample = feed.metrics.registry.get_sample_value
    labels = {"stream": EXOCORE_STREAM, "outcome": "unknown", "event_type": "mystery_event"}
    assert sample("exorelay_indexer_skipped_events_total", labels) == 1
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM relay_packet")).scalar_one() == 0
        assert conn.execute(text("SELECT COUNT(*) FROM reward_claim")).scalar_one() == 0
    # Never fatal: the stream is not halted and the rest of the chain still goes in.
    for block in served:
        feed.apply(block, decode_block_events(block))
    cursor = store.cursor(EXOCORE_STREAM)
    assert cursor is not None and not cursor.halted and cursor.height == blocks[-1].height
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM relay_packet")).scalar_one() > 0


@pytest.fixture
def lagging_grpc() -> Iterator[ExocoreGrpcClient]:
    """A node of the same chain whose state is far behind (nothing but its genesis)."""
    devnet = ExocoreDevnet(funded_genesis(), BlockStore(CHAIN_ID))
    devnet.start()
    try:
        with ExocoreGrpcClient([devnet.grpc_target], chain_id=CHAIN_ID) as client:
            yield client
    finally:
        devnet.stop()
        devnet.store.close()


def test_a_lagging_grpc_node_writes_nothing_and_run_retries_the_block(
    clients: Clients, lagging_grpc: ExocoreGrpcClient, store: LifecycleStore
) -> None:
    blocks = all_blocks(clients.rpc)
    feed = ExocoreFeed(store, lagging_grpc)
    stuck = 0
    with pytest.raises(ExocoreDataUnavailableError, match="is not served"):
        for stuck, block in enumerate(blocks):  # noqa: B007 - the loop variable is the answer
            feed.apply(block, decode_block_events(block))
    # Nothing of the stuck block was written (blocks before it, if any, went in).
    cursor = store.cursor(EXOCORE_STREAM)
    assert (cursor.height if cursor else None) == (blocks[stuck - 1].height if stuck else None)

    seen: list[int] = []
    stop = threading.Event()
    follower = BlockFollower(clients.rpc, next_height=1, poll_interval_s=0.05)
    worker = threading.Thread(
        target=feed.run, args=(follower, stop), kwargs={"on_block": lambda b, _e, _r: seen.append(b.height)}
    )
    worker.start()
    try:
        time.sleep(1.0)  # the loop retries the stuck block and goes no further
        assert seen == []
        feed.grpc = clients.grpc  # the node catches up (as after a fail-over)
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while len(seen) < len(blocks) - stuck:
            assert time.monotonic() < deadline, "run() did not catch up"
            time.sleep(0.05)
    finally:
        stop.set()
        worker.join(RUN_TIMEOUT_S)
    assert seen[: len(blocks) - stuck] == [b.height for b in blocks[stuck:]]


def test_a_halted_stream_is_not_fed(clients: Clients, store: LifecycleStore) -> None:
    feed = ExocoreFeed(store, clients.grpc)
    store.halt(EXOCORE_STREAM, "exocore", "test halt")
    first = all_blocks(clients.rpc)[0]
    with pytest.raises(StreamHaltedError):
        feed.apply(first, decode_block_events(first))
    store.resume(EXOCORE_STREAM)
    assert feed.apply(first, decode_block_events(first)).applied


def test_committee_rows_carry_bls_keys_and_powers(
    clients: Clients, store: LifecycleStore, engine: Engine
) -> None:
    feed = ExocoreFeed(store, clients.grpc)
    feed.sync(BlockFollower(clients.rpc, next_height=1))
    with engine.connect() as conn:
        committees = conn.execute(select(committee_table)).all()
        members = conn.execute(select(committee_member_table)).all()
    assert committees and members
    for committee in committees:
        own = [m for m in members if m.committee_id == committee.id]
        assert sum(int(m.power) for m in own) == int(committee.total_power)
        for member in own:
            bls.parse_public_key(bytes.fromhex(member.bls_pubkey[2:]))  # a valid G1 key


def test_packet_kinds_map_to_their_subjects(clients: Clients, store: LifecycleStore, engine: Engine) -> None:
    feed = ExocoreFeed(store, clients.grpc)
    feed.sync(BlockFollower(clients.rpc, next_height=1))
    with engine.connect() as conn:
        packets = conn.execute(select(packet_table)).all()
    # The chain made packets of the three kinds it relays here, so each branch below checks some.
    kinds = {PacketKind(packet.kind) for packet in packets}
    assert kinds == {PacketKind.REWARD_DISTRIBUTION, PacketKind.SLASH, PacketKind.VALSET_UPDATE}
    for packet in packets:
        if packet.kind == PacketKind.REWARD_DISTRIBUTION:
            assert packet.distribution_id is not None and packet.avs_address is not None
        elif packet.kind == PacketKind.SLASH:
            assert packet.subject_id is not None and packet.distribution_id is None
        else:
            assert packet.subject_id is not None and int(packet.subject_id) == packet.valset_nonce + 1


def test_signatures_short_of_quorum_attest_in_a_later_block(
    chain: Chain, clients: Clients, store: LifecycleStore, engine: Engine
) -> None:
    feed = ExocoreFeed(store, clients.grpc)
    follower = BlockFollower(clients.rpc, next_height=1)
    feed.sync(follower)
    # Validator 0 signs garbage; everyone's signature shows up two blocks after the packet.
    chain.client.send(
        tx.MsgSetFaultKnobs(knobs=tx.FaultKnobs(wrong_signature_validators=[0], signature_delay_blocks=2)),
    )
    committee = chain.client.committee(chain.report.avss[0])
    claim = _hex(
        chain.client.claim(committee, range(len(committee.pubkeys)), REWARD_TOKEN, 11 * 10**18).claim_id
    )
    chain.client.advance(1)
    feed.sync(follower)
    with api(engine) as client:
        detail = get(client, f"/v1/claims/{claim}")
        assert detail["status"] == "packet_created"
        nonce = detail["packet"]["nonce"]
        chain.client.advance(2)
        reports: list[FeedReport] = []
        for block in follower.poll():
            reports.append(feed.apply(block, decode_block_events(block)))
        assert sum(r.attested_later for r in reports) == 1
        detail = get(client, f"/v1/claims/{claim}")
        assert detail["status"] == "attested"
    with engine.connect() as conn:
        rows = conn.execute(select(attestation_table).where(attestation_table.c.packet_nonce == nonce)).all()
        signed = {r.validator_index: r.signed for r in rows}
        packet = conn.execute(select(packet_table).where(packet_table.c.nonce == nonce)).one()
    # The wrong signature is not counted: 4 of 5 validators carry the quorum.
    assert signed == {0: False, 1: True, 2: True, 3: True, 4: True}
    assert int(packet.signed_power) < int(packet.total_power)
    chain.client.send(tx.MsgSetFaultKnobs(knobs=tx.FaultKnobs()))
    chain.client.advance(1)


# ------------------------------------------------------------------------------------------ poisoned blocks

NUL_DETAIL = "signers short\x00 of quorum \udc80 " + "x" * 5_000
"""A rejection text PostgreSQL cannot store as is (NUL), no driver can encode (a lone surrogate) and
longer than the indexer keeps."""


def _rejection_block(blocks: list[CommittedBlock]) -> CommittedBlock:
    return next(b for b in blocks if decode_block_events(b).of_type(RewardClaimRejected))


def _with_detail(block: CommittedBlock, detail: str) -> BlockEvents:
    """The block's events as decoded, the claim rejection's text attribute replaced by ``detail``."""
    events = decode_block_events(block)
    changed = tuple(
        replace(e, detail=detail) if isinstance(e, RewardClaimRejected) else e for e in events.events
    )
    return replace(events, events=changed)


def test_a_nul_byte_in_an_event_text_is_stored_escaped_and_ingestion_goes_on(
    chain: Chain, clients: Clients, store: LifecycleStore, engine: Engine
) -> None:
    blocks = all_blocks(clients.rpc)
    poisoned_at = _rejection_block(blocks).height
    feed = ExocoreFeed(store, clients.grpc)
    for block in blocks:
        events = (
            _with_detail(block, NUL_DETAIL) if block.height == poisoned_at else decode_block_events(block)
        )
        assert feed.apply(block, events).applied
    cursor = store.cursor(EXOCORE_STREAM)
    assert cursor is not None and (cursor.height, cursor.halted) == (blocks[-1].height, False)
    with engine.connect() as conn:
        reason = conn.execute(
            select(claim_table.c.reason).where(claim_table.c.claim_id == chain.rejected_claim)
        ).scalar_one()
        assert conn.execute(select(func.count()).select_from(poisoned_block_table)).scalar_one() == 0
    assert reason.startswith("signers short\\x00 of quorum \\udc80 xxx")
    assert len(reason) == TEXT_MAX_CHARS and reason.endswith(f"...[{len(NUL_DETAIL) + 3 + 5} chars, cut]")


def test_a_block_the_database_refuses_is_poisoned_alerted_and_skipped_only_by_an_operator(
    chain: Chain, clients: Clients, store: LifecycleStore, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    blocks = all_blocks(clients.rpc)
    bad = _rejection_block(blocks)
    feed = ExocoreFeed(store, clients.grpc)
    with refusing_transitions_to(engine, "rejected"):
        for block in blocks:
            if block.height == bad.height:
                break
            feed.apply(block, decode_block_events(block))
        with (
            caplog.at_level(logging.ERROR, logger="indexer.ingest.exocore_feed"),
            pytest.raises(BlockPoisonedError, match=f"block {bad.height} is poisoned") as poisoned,
        ):
            feed.apply(bad, decode_block_events(bad))
        assert "value refused by the database" in str(poisoned.value)
        # Recorded with its error, the stream halted at it: later blocks (and the same one) are not fed.
        with engine.connect() as conn:
            (record,) = open_poisoned_blocks(conn)
        assert (record.stream, record.height, record.block_hash) == (
            EXOCORE_STREAM,
            bad.height,
            _hex(bad.hash),
        )
        assert "value refused by the database" in record.error and record.skipped_at is None
        cursor = store.cursor(EXOCORE_STREAM)
        assert cursor is not None and cursor.halted and cursor.height == bad.height - 1
        assert cursor.halt_reason is not None and cursor.halt_reason.startswith(
            f"poisoned block {bad.height}: "
        )
        for block in (bad, blocks[blocks.index(bad) + 1]):
            with pytest.raises(StreamHaltedError):
                feed.apply(block, decode_block_events(block))
    # Alerted: an error log line, the metrics, /ready and `exorelay status`.
    assert any(f"exocore block {bad.height} poisoned" in r.getMessage() for r in caplog.records)
    sample = feed.metrics.registry.get_sample_value
    assert sample("exorelay_indexer_poisoned_blocks_total", {"stream": EXOCORE_STREAM}) == 1
    assert sample("exorelay_indexer_stream_halted", {"stream": EXOCORE_STREAM}) == 1
    with api(engine) as client:
        ready = client.get("/ready")
        assert ready.status_code == 503
        problems = ready.json()["error"]["details"]["problems"]
        assert any(f"stream exocore is halted: poisoned block {bad.height}: " in p for p in problems)
        metrics = client.get("/metrics").text
        assert 'exorelay_indexer_poisoned_blocks{stream="exocore"} 1.0' in metrics
    assert [b.height for b in status(engine).poisoned_blocks] == [bad.height]
    # Only an operator moves it on: skipped with who, why and when; ingestion goes on after it.
    skipped = store.skip_block(
        EXOCORE_STREAM, bad.height, reason="rejection text unreadable", by="ops-oncall"
    )
    assert (skipped.skipped_by, skipped.skip_reason) == ("ops-oncall", "rejection text unreadable")
    assert skipped.skipped_at is not None
    with pytest.raises(SkipBlockError, match="already skipped"):
        store.skip_block(EXOCORE_STREAM, bad.height, reason="again", by="ops-oncall")
    for block in blocks[blocks.index(bad) :]:
        feed.apply(block, decode_block_events(block))
    cursor = store.cursor(EXOCORE_STREAM)
    assert cursor is not None and (cursor.height, cursor.halted) == (blocks[-1].height, False)
    with engine.connect() as conn:
        assert open_poisoned_blocks(conn) == []
    assert status(engine).poisoned_blocks == ()


def test_a_poisoned_block_resumed_after_a_fix_is_stored(
    clients: Clients, store: LifecycleStore, engine: Engine
) -> None:
    blocks = all_blocks(clients.rpc)
    bad = _rejection_block(blocks)
    feed = ExocoreFeed(store, clients.grpc)
    with refusing_transitions_to(engine, "rejected"):
        for block in blocks[: blocks.index(bad)]:
            feed.apply(block, decode_block_events(block))
        with pytest.raises(BlockPoisonedError):
            feed.apply(bad, decode_block_events(bad))
    with pytest.raises(SkipBlockError, match="not recorded as poisoned"):
        store.skip_block(EXOCORE_STREAM, bad.height + 1, reason="wrong block", by="ops")
    store.resume(EXOCORE_STREAM)  # the cause is fixed (the trigger is gone): the block is retried
    for block in blocks[blocks.index(bad) :]:
        assert feed.apply(block, decode_block_events(block)).applied
    with engine.connect() as conn:
        assert open_poisoned_blocks(conn) == []


def test_operator_names_are_recorded_from_their_registration(
    chain: Chain, clients: Clients, store: LifecycleStore, engine: Engine
) -> None:
    feed = ExocoreFeed(store, clients.grpc)
    feed.sync(BlockFollower(clients.rpc, next_height=feed.resume_height()))
    with engine.connect() as conn:
        rows = conn.execute(select(operator_name_table.c.operator, operator_name_table.c.name)).all()
    expected = {str(sc.operator_account(chain.client.seed, i)): sc.operator_name(i) for i in range(4)}
    assert dict(rows) == expected
    # The API names operators where it shows them, as it names AVSs (the account stays alongside).
    with api(engine) as client:
        committee = get(client, f"/v1/committees/{chain.avs}", limit=1)["items"][0]
        assert committee["members"]
        for member in committee["members"]:
            assert member["operator_name"] == expected[member["operator"]]
        (slash,) = get(client, "/v1/slashes", limit=50)["items"]
        assert slash["operator_name"] == expected[slash["operator"]]
        page = client.get("/slashes")
        assert page.status_code == 200
        assert f'title="{slash["operator"]}"' in page.text and slash["operator_name"] in page.text
        committees_page = client.get("/committees", params={"avs": chain.avs})
        assert committees_page.status_code == 200
        for member in committee["members"]:
            account, name = member["operator"], member["operator_name"]
            assert f'title="{account}" data-address="{account}">{name}<' in committees_page.text
