"""Typed event decoding: known answers per spec, malformed and unknown events recorded (never
raised), base64 (CometBFT 0.34) attributes, 0.38 finalize_block_events, and a block over the wire."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Annotated, Any

import pytest

from devnet.chain.blockstore import Event, TxResult, next_block
from relayer.errors import ExorelayError
from relayer.exocore.errors import MalformedEventError
from relayer.exocore.events import (
    ADDRESS,
    AllocateRewardsToOperator,
    CommitteeElected,
    EventPosition,
    EventSource,
    ExocoreEvent,
    FreezeOperator,
    OperatorAssetSlashed,
    RejectedEvent,
    RelayPacketCreated,
    RewardClaimRejected,
    RewardClaimSubmitted,
    RewardClaimVerified,
    RewardDistributionFinalized,
    SlashExecuted,
    SlashKind,
    SlashRequestRejected,
    SlashRequestSubmitted,
    UndelegationSlashed,
    UnknownEvent,
    ValsetUpdated,
    decode_block_events,
    decode_event,
    decode_results,
    event_type,
    plain_attributes,
    registered_types,
)
from relayer.exocore.rpc import BlockResults, CometRpcClient, RawAttribute, RawEvent
from relayer.exocore.rpc import TxResult as RpcTxResult
from relayer.protocol import bech32
from relayer.protocol.ids import AssetId, OperatorAddress
from relayer.protocol.packets import FundingMode, PacketKind
from relayer.protocol.quorum import Threshold
from tests.relayer.exocore.servers import TamperingProxy
from tests.support.devnet_chain import BLOCK_INTERVAL_NS, CHAIN_ID
from tests.support.devnet_rpc import DevnetRpc

OPERATOR_1 = bech32.encode_bytes("exo", b"\x01" * 20)
OPERATOR_2 = bech32.encode_bytes("exo", b"\x02" * 20)
AVS = "0x" + "aa" * 20
TOKEN = "0x" + "cc" * 20
TOKEN_2 = "0x" + "dd" * 20
CLAIM_ID = "0x" + "11" * 32
SLASH_ID = "0x" + "22" * 32
ROOT = "0x" + "33" * 32
POSITION = EventPosition(7, EventSource.TX, 0, 0)
BAD_CHECKSUM_OPERATOR = OPERATOR_1[:-1] + ("q" if OPERATOR_1[-1] != "q" else "p")

# One realistic attribute list per registered type, as the chain emits it.
VALID: dict[str, list[tuple[str, str]]] = {
    "committee_elected": [
        ("avs", AVS),
        ("epoch", "4"),
        ("member_count", "2"),
        ("total_power", "300"),
        ("claim_threshold", "2/3"),
        ("operators", f"{OPERATOR_1},{OPERATOR_2}"),
        ("powers", "200,100"),
    ],
    "reward_claim_submitted": [
        ("claim_id", CLAIM_ID),
        ("avs", AVS),
        ("epoch", "4"),
        ("token", TOKEN),
        ("amount", "1000"),
        ("tasks_root", ROOT),
    ],
    "reward_claim_verified": [
        ("claim_id", CLAIM_ID),
        ("avs", AVS),
        ("epoch", "4"),
        ("signed_power", "201"),
        ("total_power", "300"),
        ("signer_count", "1"),
    ],
    "reward_claim_rejected": [
        ("claim_id", CLAIM_ID),
        ("avs", AVS),
        ("epoch", "4"),
        ("reason", "no_quorum"),
        ("detail", ""),
    ],
    "allocate_rewards_to_operator": [
        ("avs_address", AVS),
        ("operator", OPERATOR_1),
        ("operator_total_reward", "700"),
        ("operator_commission", "70"),
    ],
    "reward_distribution_finalized": [
        ("claim_id", CLAIM_ID),
        ("distribution_id", "0x" + "44" * 32),
        ("nonce", "9"),
        ("avs", AVS),
        ("epoch", "4"),
        ("token", TOKEN),
        ("funding", "2"),
        ("total", "970"),
        ("leaf_count", "3"),
        ("merkle_root", ROOT),
        ("community_tax", "30"),
        ("dust", "0"),
    ],
    "reward_distribution_accrued": [
        ("claim_id", CLAIM_ID),
        ("avs", AVS),
        ("epoch", "4"),
        ("token", TOKEN),
        ("funding", "2"),
        ("total", "970"),
        ("leaf_count", "3"),
        ("period", "2"),
        ("community_tax", "30"),
        ("dust", "0"),
    ],
    "slash_request_submitted": [
        ("slash_id", SLASH_ID),
        ("operator", OPERATOR_1),
        ("avs", AVS),
        ("kind", "committee_request"),
        ("proportion", "0.05"),
        ("freeze", "true"),
    ],
    "slash_request_rejected": [
        ("slash_id", SLASH_ID),
        ("operator", OPERATOR_1),
        ("avs", AVS),
        ("reason", "bad_signature"),
        ("detail", "aggregate does not verify"),
    ],
    "slash_executed": [
        ("slash_id", SLASH_ID),
        ("operator", OPERATOR_1),
        ("operator_address", "0x" + "01" * 20),
        ("avs", AVS),
        ("proportion", "0.05"),
        ("freeze", "true"),
        ("packet_nonce", "10"),
        ("tokens", f"{TOKEN},{TOKEN_2}"),
        ("amounts", "50,0"),
    ],
    "operator_asset_slashed": [
        ("operator", OPERATOR_1),
        ("asset_id", "0x" + "cc" * 20 + "_0x9d19"),
        ("amount", "50"),
    ],
    "undelegation_slashed": [("record_id", "17"), ("amount", "100"), ("slash_amount", "5")],
    "freeze_operator": [("operator", OPERATOR_1), ("frozen_or_unfrozen", "true"), ("avs_address", AVS)],
    "relay_packet_created": [
        ("nonce", "10"),
        ("kind", "3"),
        ("kind_name", "SLASH"),
        ("valset_nonce", "1"),
        ("digest", "0x" + "55" * 32),
        ("payload_hash", "0x" + "66" * 32),
    ],
    "valset_updated": [
        ("valset_nonce", "2"),
        ("previous_valset_nonce", "1"),
        ("member_count", "4"),
        ("total_power", "400"),
        ("packet_nonce", "11"),
    ],
}


def raw(event_type_name: str, pairs: list[tuple[str, str]]) -> RawEvent:
    return RawEvent(event_type_name, tuple(RawAttribute(k, v, True) for k, v in pairs))


def decode(event_type_name: str, pairs: list[tuple[str, str]]) -> Any:
    return decode_event(raw(event_type_name, pairs), POSITION)


def replaced(event_type_name: str, key: str, value: str | None) -> list[tuple[str, str]]:
    """The valid attribute list with ``key`` set to ``value`` (removed when ``None``)."""
    pairs = [(k, v) for k, v in VALID[event_type_name] if k != key]
    return pairs if value is None else [*pairs, (key, value)]


def test_every_design_event_type_has_a_spec() -> None:
    assert set(VALID) == set(registered_types())
    design_names = {
        "reward_claim_submitted",
        "reward_claim_verified",
        "reward_claim_rejected",
        "reward_distribution_finalized",
        "slash_request_submitted",
        "slash_executed",
        "committee_elected",
        "relay_packet_created",
        "valset_updated",
        "operator_asset_slashed",
        "freeze_operator",
        "undelegation_slashed",
        "allocate_rewards_to_operator",
    }
    assert design_names <= set(registered_types())


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_attributes_decode_to_their_dataclass(name: str) -> None:
    decoded = decode(name, VALID[name])
    assert isinstance(decoded, registered_types()[name])
    assert name == decoded.TYPE and decoded.position == POSITION and decoded.height == 7


def test_known_answers() -> None:
    committee = decode("committee_elected", VALID["committee_elected"])
    assert committee == CommitteeElected(
        POSITION,
        avs=bytes.fromhex("aa" * 20),  # type: ignore[arg-type]
        epoch=4,
        member_count=2,
        total_power=300,  # type: ignore[arg-type]
        claim_threshold=Threshold(2, 3),
        operators=(OperatorAddress.parse(OPERATOR_1), OperatorAddress.parse(OPERATOR_2)),
        powers=(200, 100),  # type: ignore[arg-type]
    )
    claim = decode("reward_claim_submitted", VALID["reward_claim_submitted"])
    assert isinstance(claim, RewardClaimSubmitted)
    assert claim.claim_id == b"\x11" * 32 and claim.token == b"\xcc" * 20 and claim.amount == 1000
    verified = decode("reward_claim_verified", VALID["reward_claim_verified"])
    assert isinstance(verified, RewardClaimVerified)
    assert (verified.signed_power, verified.signer_count) == (201, 1)
    rejected_claim = decode("reward_claim_rejected", VALID["reward_claim_rejected"])
    assert isinstance(rejected_claim, RewardClaimRejected)
    assert (rejected_claim.reason, rejected_claim.detail) == ("no_quorum", "")
    allocation = decode("allocate_rewards_to_operator", VALID["allocate_rewards_to_operator"])
    assert isinstance(allocation, AllocateRewardsToOperator) and allocation.avs == b"\xaa" * 20
    distribution = decode("reward_distribution_finalized", VALID["reward_distribution_finalized"])
    assert isinstance(distribution, RewardDistributionFinalized)
    assert distribution.funding is FundingMode.VAULT and distribution.nonce == 9
    assert (distribution.total, distribution.leaf_count, distribution.community_tax) == (970, 3, 30)
    request = decode("slash_request_submitted", VALID["slash_request_submitted"])
    assert isinstance(request, SlashRequestSubmitted)
    assert request.kind is SlashKind.COMMITTEE_REQUEST and request.proportion == 5 * 10**16 and request.freeze
    request_rejected = decode("slash_request_rejected", VALID["slash_request_rejected"])
    assert isinstance(request_rejected, SlashRequestRejected) and request_rejected.reason == "bad_signature"
    executed = decode("slash_executed", VALID["slash_executed"])
    assert isinstance(executed, SlashExecuted)
    assert executed.tokens == (b"\xcc" * 20, b"\xdd" * 20) and executed.amounts == (50, 0)
    assert executed.operator.address == executed.operator_address == b"\x01" * 20
    slashed = decode("operator_asset_slashed", VALID["operator_asset_slashed"])
    assert isinstance(slashed, OperatorAssetSlashed) and slashed.asset_id == AssetId(b"\xcc" * 20, 40217)  # type: ignore[arg-type]
    undelegation = decode("undelegation_slashed", VALID["undelegation_slashed"])
    assert isinstance(undelegation, UndelegationSlashed) and undelegation.record_id == "17"
    frozen = decode("freeze_operator", VALID["freeze_operator"])
    assert isinstance(frozen, FreezeOperator) and frozen.frozen and frozen.avs == b"\xaa" * 20
    packet = decode("relay_packet_created", VALID["relay_packet_created"])
    assert isinstance(packet, RelayPacketCreated)
    assert packet.kind is PacketKind.SLASH and packet.digest == b"\x55" * 32
    valset = decode("valset_updated", VALID["valset_updated"])
    assert isinstance(valset, ValsetUpdated) and (valset.valset_nonce, valset.packet_nonce) == (2, 11)


def test_optional_attributes_may_be_absent_and_upstream_freeze_has_no_avs() -> None:
    frozen = decode("freeze_operator", [("operator", OPERATOR_1), ("frozen_or_unfrozen", "false")])
    assert isinstance(frozen, FreezeOperator) and not frozen.frozen and frozen.avs is None
    packet = decode("relay_packet_created", replaced("relay_packet_created", "kind_name", None))
    assert isinstance(packet, RelayPacketCreated) and packet.kind_name is None


def test_extra_attributes_are_ignored() -> None:
    decoded = decode("operator_asset_slashed", [*VALID["operator_asset_slashed"], ("note", "x")])
    assert isinstance(decoded, OperatorAssetSlashed)
    # The same event as without the extra attribute: nothing of it leaks into the decoded fields.
    assert decoded == decode("operator_asset_slashed", VALID["operator_asset_slashed"])


MALFORMED = [
    ("reward_claim_submitted", "claim_id", None, "missing attribute 'claim_id'"),
    ("reward_claim_submitted", "claim_id", "0x1234", "32-byte hex"),
    ("reward_claim_submitted", "avs", "", "0x-prefixed 20-byte address"),
    ("reward_claim_submitted", "avs", "aa" * 20, "0x-prefixed"),
    ("reward_claim_submitted", "epoch", "-1", "canonical decimal"),
    ("reward_claim_submitted", "epoch", "007", "canonical decimal"),
    ("reward_claim_submitted", "epoch", str(2**64), "does not fit uint64"),
    ("reward_claim_submitted", "amount", "1e18", "canonical decimal"),
    ("reward_claim_submitted", "amount", "9" * 79, "canonical decimal"),
    ("operator_asset_slashed", "operator", BAD_CHECKSUM_OPERATOR, "checksum"),
    ("operator_asset_slashed", "operator", bech32.encode_bytes("cosmos", b"\x01" * 20), "prefix"),
    ("operator_asset_slashed", "asset_id", "0x" + "CC" * 20 + "_0x9d19", "assetID"),
    ("freeze_operator", "frozen_or_unfrozen", "True", "'true' or 'false'"),
    ("relay_packet_created", "kind", "6", "not a PacketKind"),
    ("relay_packet_created", "kind_name", "VALSET_UPDATE", "does not match kind"),
    ("reward_distribution_finalized", "funding", "0", "not a FundingMode"),
    ("slash_request_submitted", "kind", "theft", "not one of"),
    ("slash_request_submitted", "proportion", "1.5", "proportion"),
    ("slash_request_submitted", "proportion", "0", "proportion"),
    ("committee_elected", "powers", "200,101", "sum to 301"),
    ("committee_elected", "operators", OPERATOR_1, "member_count 2 but 1 operators"),
    ("committee_elected", "claim_threshold", "3/2", "threshold"),
    ("slash_executed", "amounts", "50", "2 tokens but 1 amounts"),
    ("slash_executed", "tokens", f"{TOKEN},{TOKEN}", "named twice"),
    ("slash_executed", "operator_address", "0x" + "02" * 20, "different accounts"),
    ("reward_claim_verified", "signed_power", "301", "exceeds total"),
    ("undelegation_slashed", "slash_amount", "101", "exceeds the undelegated"),
    ("valset_updated", "previous_valset_nonce", "2", "does not increase"),
    ("reward_claim_rejected", "reason", "", "must not be empty"),
]


@pytest.mark.parametrize(("name", "key", "value", "message"), MALFORMED)
def test_malformed_known_events_are_rejected_not_raised(
    name: str, key: str, value: str | None, message: str
) -> None:
    pairs = replaced(name, key, value)
    decoded = decode(name, pairs)
    assert isinstance(decoded, RejectedEvent), decoded
    assert decoded.type == name and decoded.position == POSITION
    assert isinstance(decoded.error, MalformedEventError)
    assert message in decoded.reason
    assert decoded.attributes == tuple(pairs)


def test_a_repeated_attribute_is_rejected() -> None:
    decoded = decode("undelegation_slashed", [*VALID["undelegation_slashed"], ("amount", "100")])
    assert isinstance(decoded, RejectedEvent) and "appears 2 times" in decoded.reason


def test_unknown_events_are_returned_for_recording() -> None:
    unknown = decode("fault_knobs_set", [("silent_validators", "1,2")])
    assert unknown == UnknownEvent(POSITION, "fault_knobs_set", (("silent_validators", "1,2"),), False)
    ordinary = decode("transfer", [("recipient", "exo1..."), ("amount", "5hua")])
    assert isinstance(ordinary, UnknownEvent) and ordinary.well_known


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_base64_attributes_are_detected_and_decoded() -> None:
    pairs = VALID["slash_executed"]
    encoded = [(b64(k), b64(v)) for k, v in pairs]
    assert decode("slash_executed", encoded) == decode("slash_executed", pairs)
    # A 0.34 attribute with an empty value is an empty string, still base64-keyed.
    assert plain_attributes(raw("x", [(b64("detail"), "")])) == (("detail", ""),)
    # Plain keys that happen to be valid base64 ("kind", "name") do not decode to identifiers.
    assert plain_attributes(raw("x", [("kind", "v"), ("name", "w")])) == (("kind", "v"), ("name", "w"))
    broken = decode("operator_asset_slashed", [(b64("operator"), "%%%"), (b64("amount"), b64("1"))])
    assert isinstance(broken, RejectedEvent) and "not base64" in broken.reason


def test_events_of_a_failed_tx_are_rejected_with_the_reason() -> None:
    results = BlockResults(
        height=3,
        txs_results=(
            RpcTxResult(
                code=5,
                codespace="devnet",
                log="rejected",
                gas_wanted=1,
                gas_used=1,
                events=(
                    raw("reward_claim_submitted", VALID["reward_claim_submitted"]),
                    raw("tx", [("fee", "1hua")]),
                ),
            ),
        ),
    )
    decoded = decode_results(results)
    assert decoded.events == ()
    (rejected,) = decoded.rejected
    assert "failed transaction" in rejected.reason and rejected.position.tx_index == 0
    assert [u.type for u in decoded.unknown] == ["tx"]


def test_finalize_block_events_are_ordered_around_the_txs() -> None:
    def tagged(name: str, mode: str) -> RawEvent:
        return raw(name, [*VALID[name], ("mode", mode)])

    results = BlockResults(
        height=9,
        txs_results=(
            RpcTxResult(0, "", "", 0, 0, (raw("reward_claim_submitted", VALID["reward_claim_submitted"]),)),
        ),
        finalize_block_events=(
            tagged("valset_updated", "BeginBlock"),
            tagged("relay_packet_created", "EndBlock"),
            tagged("committee_elected", "BeginBlock"),
        ),
    )
    decoded = decode_results(results, tx_hashes=[b"\x99" * 32])
    assert [type(e).__name__ for e in decoded.events] == [
        "ValsetUpdated",
        "CommitteeElected",
        "RewardClaimSubmitted",
        "RelayPacketCreated",
    ]
    assert [e.position.event_index for e in decoded.events] == [0, 2, 0, 1]
    assert decoded.events[2].position.source is EventSource.TX
    assert decoded.events[2].position.tx_hash == b"\x99" * 32
    assert decoded.events[3].position.source is EventSource.FINALIZE_BLOCK


def test_spec_registration_rules() -> None:
    with pytest.raises(TypeError, match="registered twice"):

        @event_type("freeze_operator")
        @dataclass(frozen=True, slots=True)
        class Again(ExocoreEvent):
            avs: Annotated[bytes, ADDRESS]

    with pytest.raises(TypeError, match="needs Annotated"):

        @event_type("brand_new_event")
        @dataclass(frozen=True, slots=True)
        class Undeclared(ExocoreEvent):
            avs: bytes

    assert "brand_new_event" not in registered_types()


def test_decoding_never_raises_on_hostile_values() -> None:
    hostile = ["", " ", "0x", "\x00", "9" * 5000, ",", ",,,", "é", "0x" + "zz" * 32, "-0", "+1"]
    for name, pairs in VALID.items():
        for key, _ in pairs:
            for value in hostile:
                given = replaced(name, key, value)
                decoded = decode(name, given)
                assert isinstance(decoded, ExocoreEvent | RejectedEvent)  # never unknown, never raised
                if isinstance(decoded, RejectedEvent):
                    # Recorded as received, with a typed reason.
                    assert isinstance(decoded.error, ExorelayError) and decoded.reason
                    assert (decoded.type, decoded.attributes) == (name, tuple(given))
                else:
                    assert type(decoded) is type(decode(name, VALID[name]))


# -- over the wire --------------------------------------------------------------------------------------


def test_a_block_over_rpc_decodes_in_order_with_tx_hashes(devnet: DevnetRpc) -> None:
    store = devnet.store
    previous = store.latest()
    txs = [b"good-tx", b"failed-tx"]
    block = next_block(
        previous,
        chain_id=CHAIN_ID,
        time_ns=previous.time_ns + BLOCK_INTERVAL_NS if previous else 0,
        txs=txs,
        tx_results=[
            TxResult(
                events=(
                    Event.of("message", ("action", "submit")),
                    Event.of("reward_claim_submitted", *VALID["reward_claim_submitted"]),
                )
            ),
            TxResult(code=7, events=(Event.of("reward_claim_submitted", *VALID["reward_claim_submitted"]),)),
        ],
        begin_block_events=[
            Event.of("valset_updated", *VALID["valset_updated"]),
            Event.of("relay_packet_created", *VALID["relay_packet_created"]),
            Event.of("committee_elected", ("avs", AVS), ("epoch", "x")),
        ],
        end_block_events=[Event.of("mystery", ("a", "b"))],
    )
    store.append(block)
    with CometRpcClient([devnet.url], chain_id=CHAIN_ID) as rpc:
        committed = rpc.committed_block(block.height)
    decoded = decode_block_events(committed)
    assert (decoded.height, decoded.block_hash, decoded.time_ns) == (block.height, block.hash, block.time_ns)
    assert [type(e) for e in decoded.events] == [ValsetUpdated, RelayPacketCreated, RewardClaimSubmitted]
    claim = decoded.of_type(RewardClaimSubmitted)[0]
    tx_hash = hashlib.sha256(b"good-tx").digest()
    assert claim.position == EventPosition(block.height, EventSource.TX, 1, 0, tx_hash)
    assert [(r.type, r.position.source, r.position.tx_index) for r in decoded.rejected] == [
        ("committee_elected", EventSource.BEGIN_BLOCK, None),
        ("reward_claim_submitted", EventSource.TX, 1),
    ]
    assert [(u.type, u.well_known, u.position.source) for u in decoded.unknown] == [
        ("message", True, EventSource.TX),
        ("mystery", False, EventSource.END_BLOCK),
    ]


def test_base64_attributes_over_the_wire(devnet: DevnetRpc) -> None:
    """A proxy re-encodes every attribute the way a CometBFT 0.34 node does."""

    def encode_all(method: str, params: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
        if method == "block_results":
            result = answer["result"]
            events = list(result.get("begin_block_events") or [])
            for tx in result.get("txs_results") or []:
                events += tx["events"]
            for event in events:
                for attribute in event.get("attributes", []):
                    attribute["key"] = b64(attribute.get("key", ""))
                    attribute["value"] = b64(attribute.get("value", ""))
        return answer

    with CometRpcClient([devnet.url], chain_id=CHAIN_ID) as rpc:
        plain = [decode_block_events(b) for b in rpc.committed_blocks(1, 4)]
    proxy = TamperingProxy(devnet.url, encode_all)
    with proxy, CometRpcClient([proxy.url], chain_id=CHAIN_ID) as rpc:
        encoded = [decode_block_events(b) for b in rpc.committed_blocks(1, 4)]
    assert encoded == plain
    # The devnet test chain's events: committee_elected lacks most attributes, and the claim has an
    # empty avs: both are recorded as rejected, with their attributes decoded from base64.
    assert [r.type for r in encoded[1].rejected] == ["committee_elected", "reward_claim_submitted"]
    assert encoded[1].rejected[0].attributes == (("avs", "0x" + "11" * 20), ("epoch", "2"))
