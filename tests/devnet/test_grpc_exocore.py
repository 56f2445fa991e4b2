"""exocore.{avs,feedistribution,operator,relay}.v1 queries and the devnet Msg services over real gRPC,
served by the devnet state machine (``DevnetGrpcServer`` over a ``DevnetNode``, as in production) after
a history of real messages (tests/support/devnet_history.py). Expected answers are read from the
node's own views: the tests check what the wire does with the chain's state (pagination, filters,
errors, encodings), not a copy of it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from cosmpy.protos.cosmos.base.query.v1beta1.pagination_pb2 import PageRequest

from devnet import scenario as sc
from devnet.chain.msgs import delegation_msg
from devnet.chain.node import DevnetNode
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
from relayer.exocore.proto.operator.v1 import query_pb2 as operator_query
from relayer.exocore.proto.operator.v1 import query_pb2_grpc as operator_grpc
from relayer.exocore.proto.operator.v1 import tx_pb2 as operator_tx
from relayer.exocore.proto.operator.v1 import tx_pb2_grpc as operator_tx_grpc
from relayer.exocore.proto.operator.v1 import types_pb2 as operator
from relayer.exocore.proto.relay.v1 import query_pb2 as relay_query
from relayer.exocore.proto.relay.v1 import query_pb2_grpc as relay_grpc
from relayer.protocol import bls
from tests.support.devnet_history import SILENT_VALIDATOR, History, build_history
from tests.support.devnet_rpc import IDENTITY
from tests.support.devnet_world import CHAIN_ID, ETHER, GATEWAY, REWARD_TOKEN, SEED, WETH, World


@dataclass
class Stubs:
    history: History
    avs: avs_grpc.QueryStub
    fee: fee_grpc.QueryStub
    operator: operator_grpc.QueryStub
    relay: relay_grpc.QueryStub
    msg: tx_grpc.MsgStub
    delegation_msg: delegation_grpc.MsgStub
    avs_msg: avs_tx_grpc.MsgStub
    operator_msg: operator_tx_grpc.MsgStub

    @property
    def node(self) -> DevnetNode:
        return self.history.world.node


def stubs_over(channel: grpc.Channel, history: History) -> Stubs:
    return Stubs(
        history,
        avs_grpc.QueryStub(channel),
        fee_grpc.QueryStub(channel),
        operator_grpc.QueryStub(channel),
        relay_grpc.QueryStub(channel),
        tx_grpc.MsgStub(channel),
        delegation_grpc.MsgStub(channel),
        avs_tx_grpc.MsgStub(channel),
        operator_tx_grpc.MsgStub(channel),
    )


@contextmanager
def served(history: History) -> Iterator[Stubs]:
    node = history.world.node
    server = DevnetGrpcServer(node.store, IDENTITY, queries=node, driver=node)
    server.start()
    try:
        with grpc.insecure_channel(server.target) as channel:
            yield stubs_over(channel, history)
    finally:
        server.stop(0)
        node.store.close()


@pytest.fixture(scope="module")
def stubs() -> Iterator[Stubs]:
    """The query tests' chain: never written to by them."""
    with served(build_history()) as running:
        yield running


@pytest.fixture
def writable() -> Iterator[Stubs]:
    """A chain of its own for the Msg tests, which add blocks and state."""
    with served(build_history()) as running:
        yield running


def rpc_error(call: Any, request: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(request)
    return caught.value


def test_avs_info(stubs: Stubs) -> None:
    alpha = stubs.history.alpha
    response, call = stubs.avs.QueryAVSInfo.with_call(
        avs_query.QueryAVSInfoRequest(avs_address=alpha.upper().replace("0X", "0x"))
    )
    assert response.info == stubs.node.avs_info(alpha) and response.info.name == "alpha"
    assert ("x-cosmos-block-height", str(stubs.node.height)) in call.initial_metadata()
    missing = rpc_error(stubs.avs.QueryAVSInfo, avs_query.QueryAVSInfoRequest(avs_address="0x" + "00" * 20))
    assert missing.code() == grpc.StatusCode.NOT_FOUND
    assert missing.details() == f"AVS 0x{'00' * 20} is not registered"
    bad = rpc_error(stubs.avs.QueryAVSInfo, avs_query.QueryAVSInfoRequest(avs_address="0x1234"))
    assert bad.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_avs_list_pagination_by_key_and_offset(stubs: Stubs) -> None:
    first_addr, second_addr, third_addr = sorted(stubs.history.avs.values())
    first = stubs.avs.QueryAVSList(avs_query.QueryAVSListRequest(pagination=PageRequest(limit=2)))
    assert [i.avs_address for i in first.avs_infos] == [first_addr, second_addr]
    assert first.pagination.next_key == bytes.fromhex(third_addr[2:])
    second = stubs.avs.QueryAVSList(
        avs_query.QueryAVSListRequest(pagination=PageRequest(key=first.pagination.next_key, limit=2))
    )
    assert [i.avs_address for i in second.avs_infos] == [third_addr] and second.pagination.next_key == b""
    assert second.pagination.total == 0  # totals are only counted in offset mode
    by_offset = stubs.avs.QueryAVSList(
        avs_query.QueryAVSListRequest(pagination=PageRequest(offset=1, limit=1, count_total=True))
    )
    assert [i.avs_address for i in by_offset.avs_infos] == [second_addr] and by_offset.pagination.total == 3
    default = stubs.avs.QueryAVSList(avs_query.QueryAVSListRequest())
    assert list(default.avs_infos) == list(stubs.node.avs_infos()) and default.pagination.total == 3
    reverse = stubs.avs.QueryAVSList(
        avs_query.QueryAVSListRequest(pagination=PageRequest(limit=2, reverse=True))
    )
    assert [i.avs_address for i in reverse.avs_infos] == [third_addr, second_addr]
    both = rpc_error(
        stubs.avs.QueryAVSList, avs_query.QueryAVSListRequest(pagination=PageRequest(key=b"\x01", offset=1))
    )
    assert both.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert both.details() == "invalid request, either offset or key is expected, got both"


def test_committee(stubs: Stubs) -> None:
    alpha = stubs.history.alpha
    current = stubs.avs.QueryCommittee(avs_query.QueryCommitteeRequest(avs_address=alpha))
    expected = stubs.node.committee(alpha, 0)
    assert current.committee == expected and len(expected.members) == 4
    assert {m.operator for m in current.committee.members} == {
        str(sc.operator_account(SEED, i)) for i in range(4)
    }
    assert all(len(m.bls_pubkey) == 48 for m in current.committee.members)
    epoch = current.committee.epoch
    by_epoch = stubs.avs.QueryCommittee(avs_query.QueryCommitteeRequest(avs_address=alpha, epoch=epoch))
    assert by_epoch == current
    future = epoch + 50
    missing = rpc_error(
        stubs.avs.QueryCommittee, avs_query.QueryCommitteeRequest(avs_address=alpha, epoch=future)
    )
    assert missing.code() == grpc.StatusCode.NOT_FOUND and f"epoch {future}" in missing.details()


def test_reward_claims(stubs: Stubs) -> None:
    history = stubs.history
    one = stubs.avs.QueryRewardClaim(avs_query.QueryRewardClaimRequest(claim_id=history.distributed[1]))
    assert one.claim == stubs.node.reward_claim(history.distributed[1])
    assert one.claim.avs_address == history.beta and one.claim.status == avs.CLAIM_STATUS_DISTRIBUTED
    assert (
        rpc_error(stubs.avs.QueryRewardClaim, avs_query.QueryRewardClaimRequest(claim_id=b"\x01")).code()
        == grpc.StatusCode.INVALID_ARGUMENT
    )
    assert (
        rpc_error(stubs.avs.QueryRewardClaim, avs_query.QueryRewardClaimRequest(claim_id=bytes(32))).code()
        == grpc.StatusCode.NOT_FOUND
    )
    distributed = stubs.avs.QueryRewardClaims(
        avs_query.QueryRewardClaimsRequest(status=avs.CLAIM_STATUS_DISTRIBUTED)
    )
    assert [c.claim_id for c in distributed.claims] == history.distributed
    rejected = stubs.avs.QueryRewardClaims(
        avs_query.QueryRewardClaimsRequest(status=avs.CLAIM_STATUS_REJECTED)
    )
    assert [c.claim_id for c in rejected.claims] == [history.rejected_claim]
    of_alpha = stubs.avs.QueryRewardClaims(avs_query.QueryRewardClaimsRequest(avs_address=history.alpha))
    assert [c.claim_id for c in of_alpha.claims] == [
        history.distributed[0],
        history.distributed[2],
        history.rejected_claim,
    ]
    seen: list[bytes] = []
    key = b""
    pages = 0
    while True:
        page = stubs.avs.QueryRewardClaims(
            avs_query.QueryRewardClaimsRequest(pagination=PageRequest(key=key, limit=3))
        )
        pages += 1
        seen += [c.claim_id for c in page.claims]
        key = page.pagination.next_key
        if not key:
            break
    assert seen == [c.claim_id for c in stubs.node.reward_claims()] and len(seen) == 4 and pages == 2


def test_distributions_and_leaves(stubs: Stubs) -> None:
    first_claim = stubs.history.distributed[0]
    by_claim = stubs.fee.Distribution(fee_query.QueryDistributionRequest(claim_id=first_claim))
    nonce = by_claim.distribution.nonce
    by_nonce = stubs.fee.Distribution(fee_query.QueryDistributionRequest(nonce=nonce))
    assert by_claim == by_nonce and by_nonce.distribution == stubs.node.distribution(nonce)
    leaf_count = by_nonce.distribution.leaf_count
    assert leaf_count > 7  # several pages of 3 below
    neither = rpc_error(stubs.fee.Distribution, fee_query.QueryDistributionRequest())
    assert neither.code() == grpc.StatusCode.INVALID_ARGUMENT
    nonces = [d.nonce for d in stubs.node.distributions()]
    unknown = max(p.nonce for p in stubs.node.packets()) + 1
    assert (
        rpc_error(stubs.fee.Distribution, fee_query.QueryDistributionRequest(nonce=unknown)).code()
        == grpc.StatusCode.NOT_FOUND
    )
    later = stubs.fee.Distributions(fee_query.QueryDistributionsRequest(from_nonce=nonces[1]))
    assert [d.nonce for d in later.distributions] == nonces[1:]
    indices: list[int] = []
    key = b""
    pages = 0
    while True:
        page = stubs.fee.DistributionLeaves(
            fee_query.QueryDistributionLeavesRequest(nonce=nonce, pagination=PageRequest(key=key, limit=3))
        )
        pages += 1
        indices += [leaf.index for leaf in page.leaves]
        key = page.pagination.next_key
        if not key:
            break
    assert indices == list(range(leaf_count)) and pages == -(-leaf_count // 3)
    offset = leaf_count - 2
    counted = stubs.fee.DistributionLeaves(
        fee_query.QueryDistributionLeavesRequest(
            nonce=nonce, pagination=PageRequest(offset=offset, count_total=True)
        )
    )
    assert [leaf.index for leaf in counted.leaves] == [offset, offset + 1]
    assert counted.pagination.total == leaf_count
    assert list(counted.leaves) == list(stubs.node.distribution_leaves(nonce))[offset:]
    assert counted.leaves[0].staker.startswith("0x") and int(counted.leaves[0].amount) > 0
    slash_packet = next(p.nonce for p in stubs.node.packets() if p.nonce not in nonces)
    assert (
        rpc_error(
            stubs.fee.DistributionLeaves, fee_query.QueryDistributionLeavesRequest(nonce=slash_packet)
        ).code()
        == grpc.StatusCode.NOT_FOUND
    )


def test_operator_slashes_and_freeze(stubs: Stubs) -> None:
    history = stubs.history
    operator_0 = str(sc.operator_account(SEED, 0))
    operator_1 = str(sc.operator_account(SEED, 1))
    all_of_0 = stubs.operator.QueryOperatorSlashInfo(
        operator_query.QueryOperatorSlashInfoRequest(operator=operator_0)
    )
    assert [s.slash_id for s in all_of_0.slash_infos] == [history.executed_slash]
    of_1 = stubs.operator.QueryOperatorSlashInfo(
        operator_query.QueryOperatorSlashInfoRequest(operator=operator_1, avs_address=history.beta)
    )
    assert [s.slash_id for s in of_1.slash_infos] == [history.rejected_slash]
    none_for_alpha = stubs.operator.QueryOperatorSlashInfo(
        operator_query.QueryOperatorSlashInfoRequest(operator=operator_1, avs_address=history.alpha)
    )
    assert list(none_for_alpha.slash_infos) == []
    bad = rpc_error(
        stubs.operator.QueryOperatorSlashInfo,
        operator_query.QueryOperatorSlashInfoRequest(operator="exo1notbech32"),
    )
    assert bad.code() == grpc.StatusCode.INVALID_ARGUMENT
    one = stubs.operator.QuerySlash(operator_query.QuerySlashRequest(slash_id=history.rejected_slash))
    assert one.slash_info.status == operator.SLASH_STATUS_REJECTED
    assert one.slash_info == stubs.node.slash_info(history.rejected_slash)
    executed = stubs.node.slash_info(history.executed_slash)
    assert executed is not None and executed.status == operator.SLASH_STATUS_EXECUTED and executed.freeze
    frozen = stubs.operator.QueryOperatorFrozen(
        operator_query.QueryOperatorFrozenRequest(operator=operator_0, avs_address=history.alpha)
    )
    assert (frozen.frozen, frozen.frozen_height, frozen.slash_id) == (
        True,
        executed.executed_height,
        history.executed_slash,
    )
    free = stubs.operator.QueryOperatorFrozen(
        operator_query.QueryOperatorFrozenRequest(operator=operator_0, avs_address=history.beta)
    )
    assert (free.frozen, free.frozen_height) == (False, 0)


def test_relay_queries(stubs: Stubs) -> None:
    packets = list(stubs.node.packets())
    nonces = [p.nonce for p in packets]
    assert nonces == list(range(1, len(nonces) + 1)) and len(nonces) >= 4
    page = stubs.relay.Packets(relay_query.QueryPacketsRequest(from_nonce=2, pagination=PageRequest(limit=2)))
    assert [p.nonce for p in page.packets] == [2, 3]
    assert page.pagination.next_key == (4).to_bytes(8, "big")
    rest = stubs.relay.Packets(
        relay_query.QueryPacketsRequest(from_nonce=2, pagination=PageRequest(key=page.pagination.next_key))
    )
    assert [p.nonce for p in rest.packets] == nonces[3:]
    packet = stubs.relay.Packet(relay_query.QueryPacketRequest(nonce=3)).packet
    assert packet == packets[2] and len(packet.digest) == 32 and packet.payload
    assert (
        rpc_error(stubs.relay.Packet, relay_query.QueryPacketRequest(nonce=nonces[-1] + 1)).code()
        == grpc.StatusCode.NOT_FOUND
    )
    signatures = stubs.relay.PacketSignatures(relay_query.QueryPacketSignaturesRequest(nonce=3))
    assert (signatures.nonce, signatures.valset_nonce) == (3, packets[2].valset_nonce)
    shown = [(s.index, s.signed, len(s.signature)) for s in signatures.signatures]
    silent = SILENT_VALIDATOR
    assert shown == [(i, i != silent, 0 if i == silent else 96) for i in range(len(shown))]
    valset = stubs.relay.Valset(relay_query.QueryValsetRequest(valset_nonce=1)).valset
    assert valset == stubs.node.valset(1)
    assert int(valset.total_power) == sum(int(m.power) for m in valset.members)
    assert stubs.relay.CurrentValset(relay_query.QueryCurrentValsetRequest()).valset.valset_nonce == 1
    assert (
        rpc_error(stubs.relay.Valset, relay_query.QueryValsetRequest(valset_nonce=2)).code()
        == grpc.StatusCode.NOT_FOUND
    )
    params = stubs.relay.Params(relay_query.QueryParamsRequest()).params
    assert params == stubs.node.relay_params()
    assert params.l1_chain_id == 31337 and params.gateway == "0x" + GATEWAY.hex()


def test_devnet_and_module_msg_services_reach_the_state_machine(writable: Stubs) -> None:
    """Each Msg RPC is executed by the node: its effect is in the chain's state after its block."""
    history, node = writable.history, writable.node
    world: World = history.world
    operator_3 = sc.operator_account(SEED, 3)  # operator 0 is frozen by the history's slash
    opened = node.height + 1
    staker = sc.staker_address(SEED, 40)
    custody_before = int(node.asset_custody(WETH).delegated)
    delegated = writable.delegation_msg.DelegateAssetToOperator(
        delegation_msg(staker="0x" + staker.hex(), operator=str(operator_3), asset_id=WETH, amount=5 * ETHER)
    )
    # Executed in the open block (what queries read), before the slash below takes its share.
    assert int(node.asset_custody(WETH).delegated) == custody_before + 5 * ETHER
    priced = writable.msg.SetPrice(tx.MsgSetPrice(asset_id=WETH, price="3100", decimals=18))
    beta = world.committee(history.beta)
    claim_msg = sc.reward_claim_msg(
        chain_id=CHAIN_ID,
        committee=beta,
        secrets=world.secrets,
        signer_indices=range(4),
        token=REWARD_TOKEN,
        amount=10**20 + 1,
    )
    claimed = writable.avs_msg.SubmitRewardClaim(claim_msg)
    slash_msg = sc.slash_request_msg(
        chain_id=CHAIN_ID,
        committee=beta,
        secrets=world.secrets,
        signer_indices=range(4),
        operator=sc.operator_account(SEED, 2),
        proportion=10**16,
    )
    slashed = writable.operator_msg.SubmitSlashRequest(slash_msg)
    knobs = writable.msg.SetFaultKnobs(tx.MsgSetFaultKnobs(knobs=tx.FaultKnobs(silent_validators=[2])))
    consensus = hashlib.sha256(b"grpc-test-validator").digest()
    secret = bls.secret_key_from_seed(hashlib.sha256(b"grpc-test-bls").digest())
    powered = writable.msg.SetValidatorPower(sc.validator_msg(consensus, secret, 50))
    responses = (delegated, priced, claimed, slashed, knobs, powered)
    assert [r.height for r in responses] == [opened] * len(responses)
    advanced = writable.msg.AdvanceBlocks(tx.MsgAdvanceBlocks(count=3))
    assert advanced.height == opened + 2 == node.height  # the open block, then two more
    claim = node.reward_claim(claimed.claim_id)
    assert claim is not None and claim.status == avs.CLAIM_STATUS_DISTRIBUTED
    assert claim.avs_address == history.beta and claim.total_amount == str(10**20 + 1)
    assert claimed.tx_hash
    slash = node.slash_info(slashed.slash_id)
    assert slash is not None and slash.status == operator.SLASH_STATUS_EXECUTED
    assert slash.operator == str(sc.operator_account(SEED, 2))
    # The knob took effect: the validator it names leaves the next packets unsigned.
    last = node.packets()[-1]
    assert [s.index for s in node.packet_signatures(last.nonce) if not s.signed] == [2]
    # The new validator rotated the validator set.
    rotated = node.current_valset()
    assert rotated is not None and rotated.valset_nonce == 2
    assert any(bytes(m.bls_pubkey) == bls.public_key_of(secret).compressed for m in rotated.members)


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


def test_chain_rule_rejections_become_failed_precondition(writable: Stubs) -> None:
    """A claim Exocore already accepted, submitted again: the state machine's own rule refuses it."""
    history = writable.history
    (first,) = [c for c in writable.node.reward_claims() if c.claim_id == history.distributed[1]]
    beta = history.world.committee(history.beta)
    again = sc.reward_claim_msg(
        chain_id=CHAIN_ID,
        committee=beta,
        secrets=history.world.secrets,
        signer_indices=range(4),
        token=first.token,
        amount=int(first.total_amount),
    )
    error = rpc_error(writable.avs_msg.SubmitRewardClaim, again)
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error.details() == f"duplicate claim 0x{first.claim_id.hex()}: it was already accepted"
    malformed = rpc_error(
        writable.operator_msg.SubmitEquivocationEvidence,
        operator_tx.MsgSubmitEquivocationEvidence(operator=str(sc.operator_account(SEED, 0))),
    )
    assert malformed.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_unexpected_state_machine_failure_is_internal(writable: Stubs) -> None:
    """A node whose block store fails under it (closed here) answers INTERNAL, naming no more than
    the exception's type."""
    writable.node.store.close()
    error = rpc_error(writable.msg.AdvanceBlocks, tx.MsgAdvanceBlocks(count=1))
    assert error.code() == grpc.StatusCode.INTERNAL
    assert error.details() == "internal error: BlockStoreError"
