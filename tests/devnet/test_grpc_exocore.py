"""exocore.{avs,feedistribution,operator,relay}.v1 queries and the devnet Msg service over real gRPC."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from cosmpy.protos.cosmos.base.query.v1beta1.pagination_pb2 import PageRequest

from devnet.chain.blockstore import BlockStore
from devnet.chain.msgs import delegation_msg
from devnet.grpc.server import DevnetGrpcServer
from relayer.exocore.proto.avs.v1 import query_pb2 as avs_query
from relayer.exocore.proto.avs.v1 import query_pb2_grpc as avs_grpc
from relayer.exocore.proto.avs.v1 import tx_pb2 as avs_tx
from relayer.exocore.proto.avs.v1 import tx_pb2_grpc as avs_tx_grpc
from relayer.exocore.proto.avs.v1 import types_pb2 as avs
from relayer.exocore.proto.delegation.v1 import tx_pb2 as delegation_tx
from relayer.exocore.proto.delegation.v1 import tx_pb2_grpc as delegation_grpc
from relayer.exocore.proto.devnet.v1 import tx_pb2 as tx
from relayer.exocore.proto.devnet.v1 import tx_pb2_grpc as tx_grpc
from relayer.exocore.proto.feedistribution.v1 import query_pb2 as fee_query
from relayer.exocore.proto.feedistribution.v1 import query_pb2_grpc as fee_grpc
from relayer.exocore.proto.feedistribution.v1 import types_pb2 as fee
from relayer.exocore.proto.operator.v1 import query_pb2 as operator_query
from relayer.exocore.proto.operator.v1 import query_pb2_grpc as operator_grpc
from relayer.exocore.proto.operator.v1 import tx_pb2 as operator_tx
from relayer.exocore.proto.operator.v1 import tx_pb2_grpc as operator_tx_grpc
from relayer.exocore.proto.operator.v1 import types_pb2 as operator
from relayer.exocore.proto.relay.v1 import query_pb2 as relay_query
from relayer.exocore.proto.relay.v1 import query_pb2_grpc as relay_grpc
from relayer.exocore.proto.relay.v1 import types_pb2 as relay
from relayer.protocol import bech32
from tests.support.devnet_chain import CHAIN_ID, grow
from tests.support.devnet_fakes import InMemoryChainQueries, RecordingDriver
from tests.support.devnet_rpc import IDENTITY

AVS_A, AVS_B, AVS_C = ("0x" + "aa" * 20, "0x" + "bb" * 20, "0x" + "cc" * 20)
OPERATOR_1 = bech32.encode_bytes("exo", b"\x01" * 20)
OPERATOR_2 = bech32.encode_bytes("exo", b"\x02" * 20)
CHAIN_HEIGHT = 3


def claim_id(n: int) -> bytes:
    return n.to_bytes(32, "big")


def build_queries() -> InMemoryChainQueries:
    q = InMemoryChainQueries()
    for address in (AVS_C, AVS_A, AVS_B):
        q.avs_by_address[address] = avs.AVSInfo(
            name=f"avs-{address[2:4]}",
            avs_address=address,
            epoch_identifier="minute",
            threshold_numerator=2,
            threshold_denominator=3,
        )
    member = avs.CommitteeMember(index=0, operator=OPERATOR_1, bls_pubkey=b"\x81" * 48, power="100")
    q.committees[(AVS_A, 4)] = avs.Committee(avs_address=AVS_A, epoch=4, members=[member], total_power="100")
    q.current_epochs[AVS_A] = 4
    statuses = [
        avs.CLAIM_STATUS_DISTRIBUTED,
        avs.CLAIM_STATUS_REJECTED,
        avs.CLAIM_STATUS_VERIFIED,
        avs.CLAIM_STATUS_DISTRIBUTED,
        avs.CLAIM_STATUS_SUBMITTED,
    ]
    for n, status in enumerate(statuses, start=1):
        q.claims.append(
            avs.RewardClaim(
                claim_id=claim_id(n),
                avs_address=AVS_A if n % 2 else AVS_B,
                epoch=n,
                status=status,
                total_amount=str(10**18 * n),
                funding=avs.FUNDING_VAULT,
            )
        )
    q.distribution_list = [
        fee.Distribution(nonce=2, claim_id=claim_id(1), total="700", leaf_count=7, merkle_root=b"\x11" * 32),
        fee.Distribution(nonce=5, claim_id=claim_id(4), total="1", leaf_count=1, merkle_root=b"\x22" * 32),
    ]
    q.leaves[2] = [
        fee.DistributionLeaf(index=i, staker="0x" + f"{i:040x}", amount="100", kind=fee.LEAF_KIND_STAKER)
        for i in range(7)
    ]
    q.slashes = [
        operator.OperatorSlashInfo(
            slash_id=claim_id(100),
            operator=OPERATOR_1,
            avs_address=AVS_A,
            status=operator.SLASH_STATUS_EXECUTED,
            freeze=True,
            executed_height=9,
        ),
        operator.OperatorSlashInfo(
            slash_id=claim_id(101),
            operator=OPERATOR_2,
            avs_address=AVS_A,
            status=operator.SLASH_STATUS_REJECTED,
        ),
        operator.OperatorSlashInfo(
            slash_id=claim_id(102),
            operator=OPERATOR_1,
            avs_address=AVS_B,
            status=operator.SLASH_STATUS_SUBMITTED,
        ),
    ]
    q.packet_list = [
        relay.Packet(
            nonce=n,
            kind=relay.PACKET_KIND_REWARD_DISTRIBUTION,
            valset_nonce=1,
            payload=b"p%d" % n,
            digest=bytes([n]) * 32,
            exocore_height=n,
        )
        for n in range(1, 6)
    ]
    q.signatures[3] = [
        relay.ValidatorSignature(index=0, bls_pubkey=b"\x81" * 48, signed=True, signature=b"\x99" * 96),
        relay.ValidatorSignature(index=1, bls_pubkey=b"\x82" * 48, signed=False),
    ]
    q.valsets[1] = relay.Valset(
        valset_nonce=1,
        members=[relay.ValsetMember(index=0, bls_pubkey=b"\x81" * 48, power="10")],
        total_power="10",
    )
    q.current_valset_nonce = 1
    q.params = relay.Params(
        l1_chain_id=31337,
        gateway="0x" + "ee" * 20,
        exocore_chain=b"\x33" * 32,
        threshold_numerator=2,
        threshold_denominator=3,
    )
    return q


@dataclass
class Stubs:
    avs: avs_grpc.QueryStub
    fee: fee_grpc.QueryStub
    operator: operator_grpc.QueryStub
    relay: relay_grpc.QueryStub
    msg: tx_grpc.MsgStub
    delegation_msg: delegation_grpc.MsgStub
    avs_msg: avs_tx_grpc.MsgStub
    operator_msg: operator_tx_grpc.MsgStub
    driver: RecordingDriver


@pytest.fixture(scope="module")
def stubs() -> Iterator[Stubs]:
    store = BlockStore(CHAIN_ID)
    grow(store, CHAIN_HEIGHT)
    driver = RecordingDriver()
    server = DevnetGrpcServer(store, IDENTITY, queries=build_queries(), driver=driver)
    server.start()
    with grpc.insecure_channel(server.target) as channel:
        yield Stubs(
            avs_grpc.QueryStub(channel),
            fee_grpc.QueryStub(channel),
            operator_grpc.QueryStub(channel),
            relay_grpc.QueryStub(channel),
            tx_grpc.MsgStub(channel),
            delegation_grpc.MsgStub(channel),
            avs_tx_grpc.MsgStub(channel),
            operator_tx_grpc.MsgStub(channel),
            driver,
        )
    server.stop()
    store.close()


def rpc_error(call: Any, request: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(request)
    return caught.value


def test_avs_info(stubs: Stubs) -> None:
    response, call = stubs.avs.QueryAVSInfo.with_call(
        avs_query.QueryAVSInfoRequest(avs_address=AVS_A.upper().replace("0X", "0x"))
    )
    assert response.info.avs_address == AVS_A and response.info.threshold_numerator == 2
    assert ("x-cosmos-block-height", str(CHAIN_HEIGHT)) in call.initial_metadata()
    missing = rpc_error(stubs.avs.QueryAVSInfo, avs_query.QueryAVSInfoRequest(avs_address="0x" + "00" * 20))
    assert missing.code() == grpc.StatusCode.NOT_FOUND
    assert missing.details() == f"AVS 0x{'00' * 20} is not registered"
    bad = rpc_error(stubs.avs.QueryAVSInfo, avs_query.QueryAVSInfoRequest(avs_address="0x1234"))
    assert bad.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_avs_list_pagination_by_key_and_offset(stubs: Stubs) -> None:
    first = stubs.avs.QueryAVSList(avs_query.QueryAVSListRequest(pagination=PageRequest(limit=2)))
    assert [i.avs_address for i in first.avs_infos] == [AVS_A, AVS_B]
    assert first.pagination.next_key == bytes.fromhex("cc" * 20)
    second = stubs.avs.QueryAVSList(
        avs_query.QueryAVSListRequest(pagination=PageRequest(key=first.pagination.next_key, limit=2))
    )
    assert [i.avs_address for i in second.avs_infos] == [AVS_C] and second.pagination.next_key == b""
    assert second.pagination.total == 0  # totals are only counted in offset mode
    by_offset = stubs.avs.QueryAVSList(
        avs_query.QueryAVSListRequest(pagination=PageRequest(offset=1, limit=1, count_total=True))
    )
    assert [i.avs_address for i in by_offset.avs_infos] == [AVS_B] and by_offset.pagination.total == 3
    default = stubs.avs.QueryAVSList(avs_query.QueryAVSListRequest())
    assert len(default.avs_infos) == 3 and default.pagination.total == 3
    reverse = stubs.avs.QueryAVSList(
        avs_query.QueryAVSListRequest(pagination=PageRequest(limit=2, reverse=True))
    )
    assert [i.avs_address for i in reverse.avs_infos] == [AVS_C, AVS_B]
    both = rpc_error(
        stubs.avs.QueryAVSList, avs_query.QueryAVSListRequest(pagination=PageRequest(key=b"\x01", offset=1))
    )
    assert both.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert both.details() == "invalid request, either offset or key is expected, got both"


def test_committee(stubs: Stubs) -> None:
    current = stubs.avs.QueryCommittee(avs_query.QueryCommitteeRequest(avs_address=AVS_A))
    assert current.committee.epoch == 4 and current.committee.members[0].operator == OPERATOR_1
    assert current.committee.members[0].bls_pubkey == b"\x81" * 48
    assert stubs.avs.QueryCommittee(avs_query.QueryCommitteeRequest(avs_address=AVS_A, epoch=4)) == current
    missing = rpc_error(stubs.avs.QueryCommittee, avs_query.QueryCommitteeRequest(avs_address=AVS_A, epoch=3))
    assert missing.code() == grpc.StatusCode.NOT_FOUND and "epoch 3" in missing.details()


def test_reward_claims(stubs: Stubs) -> None:
    one = stubs.avs.QueryRewardClaim(avs_query.QueryRewardClaimRequest(claim_id=claim_id(3)))
    assert one.claim.epoch == 3 and one.claim.status == avs.CLAIM_STATUS_VERIFIED
    assert (
        rpc_error(stubs.avs.QueryRewardClaim, avs_query.QueryRewardClaimRequest(claim_id=b"\x01")).code()
        == grpc.StatusCode.INVALID_ARGUMENT
    )
    assert (
        rpc_error(stubs.avs.QueryRewardClaim, avs_query.QueryRewardClaimRequest(claim_id=claim_id(9))).code()
        == grpc.StatusCode.NOT_FOUND
    )
    distributed = stubs.avs.QueryRewardClaims(
        avs_query.QueryRewardClaimsRequest(status=avs.CLAIM_STATUS_DISTRIBUTED)
    )
    assert [c.epoch for c in distributed.claims] == [1, 4]
    of_a = stubs.avs.QueryRewardClaims(avs_query.QueryRewardClaimsRequest(avs_address=AVS_A))
    assert [c.epoch for c in of_a.claims] == [1, 3, 5]
    seen: list[int] = []
    key = b""
    while True:
        page = stubs.avs.QueryRewardClaims(
            avs_query.QueryRewardClaimsRequest(pagination=PageRequest(key=key, limit=2))
        )
        seen += [c.epoch for c in page.claims]
        key = page.pagination.next_key
        if not key:
            break
    assert seen == [1, 2, 3, 4, 5]


def test_distributions_and_leaves(stubs: Stubs) -> None:
    by_claim = stubs.fee.Distribution(fee_query.QueryDistributionRequest(claim_id=claim_id(1)))
    by_nonce = stubs.fee.Distribution(fee_query.QueryDistributionRequest(nonce=2))
    assert by_claim == by_nonce and by_nonce.distribution.leaf_count == 7
    neither = rpc_error(stubs.fee.Distribution, fee_query.QueryDistributionRequest())
    assert neither.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (
        rpc_error(stubs.fee.Distribution, fee_query.QueryDistributionRequest(nonce=3)).code()
        == grpc.StatusCode.NOT_FOUND
    )
    later = stubs.fee.Distributions(fee_query.QueryDistributionsRequest(from_nonce=3))
    assert [d.nonce for d in later.distributions] == [5]
    indices: list[int] = []
    key = b""
    pages = 0
    while True:
        page = stubs.fee.DistributionLeaves(
            fee_query.QueryDistributionLeavesRequest(nonce=2, pagination=PageRequest(key=key, limit=3))
        )
        pages += 1
        indices += [leaf.index for leaf in page.leaves]
        key = page.pagination.next_key
        if not key:
            break
    assert indices == list(range(7)) and pages == 3
    counted = stubs.fee.DistributionLeaves(
        fee_query.QueryDistributionLeavesRequest(nonce=2, pagination=PageRequest(offset=5, count_total=True))
    )
    assert [leaf.index for leaf in counted.leaves] == [5, 6] and counted.pagination.total == 7
    assert counted.leaves[0].staker == "0x" + f"{5:040x}" and counted.leaves[0].amount == "100"
    assert (
        rpc_error(stubs.fee.DistributionLeaves, fee_query.QueryDistributionLeavesRequest(nonce=4)).code()
        == grpc.StatusCode.NOT_FOUND
    )


def test_operator_slashes_and_freeze(stubs: Stubs) -> None:
    all_of_1 = stubs.operator.QueryOperatorSlashInfo(
        operator_query.QueryOperatorSlashInfoRequest(operator=OPERATOR_1)
    )
    assert [s.slash_id for s in all_of_1.slash_infos] == [claim_id(100), claim_id(102)]
    for_b = stubs.operator.QueryOperatorSlashInfo(
        operator_query.QueryOperatorSlashInfoRequest(operator=OPERATOR_1, avs_address=AVS_B)
    )
    assert [s.slash_id for s in for_b.slash_infos] == [claim_id(102)]
    bad = rpc_error(
        stubs.operator.QueryOperatorSlashInfo,
        operator_query.QueryOperatorSlashInfoRequest(operator="exo1notbech32"),
    )
    assert bad.code() == grpc.StatusCode.INVALID_ARGUMENT
    one = stubs.operator.QuerySlash(operator_query.QuerySlashRequest(slash_id=claim_id(101)))
    assert one.slash_info.status == operator.SLASH_STATUS_REJECTED
    frozen = stubs.operator.QueryOperatorFrozen(
        operator_query.QueryOperatorFrozenRequest(operator=OPERATOR_1, avs_address=AVS_A)
    )
    assert (frozen.frozen, frozen.frozen_height, frozen.slash_id) == (True, 9, claim_id(100))
    free = stubs.operator.QueryOperatorFrozen(
        operator_query.QueryOperatorFrozenRequest(operator=OPERATOR_1, avs_address=AVS_B)
    )
    assert (free.frozen, free.frozen_height) == (False, 0)


def test_relay_queries(stubs: Stubs) -> None:
    page = stubs.relay.Packets(relay_query.QueryPacketsRequest(from_nonce=2, pagination=PageRequest(limit=2)))
    assert [p.nonce for p in page.packets] == [2, 3]
    assert page.pagination.next_key == (4).to_bytes(8, "big")
    rest = stubs.relay.Packets(
        relay_query.QueryPacketsRequest(from_nonce=2, pagination=PageRequest(key=page.pagination.next_key))
    )
    assert [p.nonce for p in rest.packets] == [4, 5]
    packet = stubs.relay.Packet(relay_query.QueryPacketRequest(nonce=3)).packet
    assert packet.payload == b"p3" and packet.digest == b"\x03" * 32
    assert (
        rpc_error(stubs.relay.Packet, relay_query.QueryPacketRequest(nonce=9)).code()
        == grpc.StatusCode.NOT_FOUND
    )
    signatures = stubs.relay.PacketSignatures(relay_query.QueryPacketSignaturesRequest(nonce=3))
    assert (signatures.nonce, signatures.valset_nonce) == (3, 1)
    assert [(s.index, s.signed, len(s.signature)) for s in signatures.signatures] == [
        (0, True, 96),
        (1, False, 0),
    ]
    assert stubs.relay.Valset(relay_query.QueryValsetRequest(valset_nonce=1)).valset.total_power == "10"
    assert stubs.relay.CurrentValset(relay_query.QueryCurrentValsetRequest()).valset.valset_nonce == 1
    assert (
        rpc_error(stubs.relay.Valset, relay_query.QueryValsetRequest(valset_nonce=2)).code()
        == grpc.StatusCode.NOT_FOUND
    )
    params = stubs.relay.Params(relay_query.QueryParamsRequest()).params
    assert (params.l1_chain_id, params.gateway) == (31337, "0x" + "ee" * 20)


def test_devnet_and_module_msg_services_reach_the_driver(stubs: Stubs) -> None:
    stubs.driver.received.clear()
    delegation = delegation_msg(
        staker="0x" + "01" * 20, operator=OPERATOR_1, asset_id="0xab_0x9ce1", amount=5
    )
    calls: list[tuple[Any, Any]] = [
        (stubs.delegation_msg.DelegateAssetToOperator, delegation),
        (stubs.msg.SetPrice, tx.MsgSetPrice(asset_id="0xab_0x9ce1", price="1.5", decimals=18)),
        (
            stubs.avs_msg.SubmitRewardClaim,
            avs_tx.MsgSubmitRewardClaim(avs_address=AVS_A, epoch=4, total_amount="9"),
        ),
        (
            stubs.operator_msg.SubmitSlashRequest,
            operator_tx.MsgSubmitSlashRequest(avs_address=AVS_A, operator=OPERATOR_1),
        ),
        (
            stubs.operator_msg.SubmitEquivocationEvidence,
            operator_tx.MsgSubmitEquivocationEvidence(operator=OPERATOR_1),
        ),
        (stubs.msg.SetValidatorPower, tx.MsgSetValidatorPower(consensus_pubkey=b"\x01" * 32, power="0")),
        (stubs.msg.SetFaultKnobs, tx.MsgSetFaultKnobs(knobs=tx.FaultKnobs(silent_validators=[2]))),
        (stubs.msg.AdvanceBlocks, tx.MsgAdvanceBlocks(count=3)),
    ]
    responses = [call(message) for call, message in calls]
    assert stubs.driver.received == [message for _, message in calls]
    assert [r.height for r in responses] == [7] * 7 + [10]
    assert responses[2].claim_id == bytes(32)


def test_registration_is_not_a_devnet_msg_rpc(stubs: Stubs) -> None:
    # Registration and opt-in exist only as upstream's messages in signed transactions.
    methods = set(tx.DESCRIPTOR.services_by_name["Msg"].methods_by_name)
    assert not methods & {"RegisterOperator", "RegisterAVS", "OptIn", "OptOut"}
    assert methods == {"AdvanceBlocks", "SetPrice", "SetValidatorPower", "SetFaultKnobs"}
    # The proposal's messages live in their modules' packages, delegation in upstream's.
    assert set(avs_tx.DESCRIPTOR.services_by_name["Msg"].methods_by_name) == {
        "SubmitRewardClaim",
        "RecordFeeDeposit",
    }
    assert set(operator_tx.DESCRIPTOR.services_by_name["Msg"].methods_by_name) == {
        "SubmitSlashRequest",
        "SubmitEquivocationEvidence",
        "SubmitWrongResultEvidence",
    }
    assert set(delegation_tx.DESCRIPTOR.services_by_name["Msg"].methods_by_name) == {
        "DelegateAssetToOperator",
        "UndelegateAssetFromOperator",
    }


def test_driver_rejections_become_failed_precondition(stubs: Stubs) -> None:
    stubs.driver.reject["MsgSubmitRewardClaim"] = "aggregate signature does not verify"
    try:
        error = rpc_error(stubs.avs_msg.SubmitRewardClaim, avs_tx.MsgSubmitRewardClaim(avs_address=AVS_A))
    finally:
        stubs.driver.reject.clear()
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error.details() == "aggregate signature does not verify"


def test_unexpected_driver_failure_is_internal(stubs: Stubs) -> None:
    stubs.driver.crash.add("MsgAdvanceBlocks")
    try:
        error = rpc_error(stubs.msg.AdvanceBlocks, tx.MsgAdvanceBlocks(count=1))
    finally:
        stubs.driver.crash.clear()
    assert error.code() == grpc.StatusCode.INTERNAL
    assert error.details() == "internal error: RuntimeError"
