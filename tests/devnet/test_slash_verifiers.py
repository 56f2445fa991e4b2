"""The slashing verifiers an AVS registers, run by the devnet: committee-attested evidence (bytes
stored, hash checked, cryptographic kinds verified), wrong results (the devnet recomputes the
squaring AVS's answer), unknown kinds and malformed evidence refused with typed reasons, and the
deduction measured on the offence epoch's stake snapshot."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from cosmpy.aerial.tx import SigningCfg, Transaction, TxFee
from cosmpy.aerial.wallet import LocalWallet
from cosmpy.crypto.keypairs import PrivateKey
from cosmpy.protos.cosmos.auth.v1beta1 import auth_pb2
from cosmpy.protos.cosmos.auth.v1beta1 import query_pb2 as auth_query
from cosmpy.protos.cosmos.auth.v1beta1 import query_pb2_grpc as auth_grpc
from cosmpy.protos.cosmos.tx.v1beta1 import service_pb2 as tx_service
from cosmpy.protos.cosmos.tx.v1beta1 import service_pb2_grpc as tx_grpc
from eth_utils.crypto import keccak

from devnet import scenario as sc
from devnet.chain import cosmos_tx
from devnet.chain import events as ev
from devnet.chain.model import SLASH_EXECUTED, SLASH_KIND_WRONG_RESULT, SLASH_REJECTED
from devnet.chain.msgs import undelegation_msg
from devnet.chain.params import devnet_account_secret, devnet_accounts
from devnet.grpc.errors import InvalidRequestError
from devnet.grpc.server import DevnetGrpcServer
from relayer.exocore.proto.operator.v1 import tx_pb2 as operator_tx
from relayer.exocore.proto.operator.v1 import tx_pb2_grpc as operator_grpc
from relayer.protocol.claims import EquivocationEvidence
from relayer.protocol.evidence import (
    ATTESTATION_EVIDENCE_KIND,
    WRONG_RESULT_EVIDENCE_KIND,
    Attestation,
    SignedEquivocation,
    SignedWrongResult,
    decode_evidence,
)
from relayer.protocol.ids import ChainId
from relayer.protocol.types import Address, Hash32
from tests.support.devnet_rpc import IDENTITY
from tests.support.devnet_world import CHAIN_ID, ETHER, SEED, WETH, World

TENTH = 10**17
CHAIN = ChainId.parse(CHAIN_ID).hash
GAS = 400_000


def squaring_world(**verifiers: str) -> tuple[World, str, str]:
    """Operators 0..2 serve AVS ``square`` (the given verifier set, slash proportion 0.5) and
    ``other`` (default verifiers); 10 WETH delegated to each, one epoch on."""
    world = World.create(accounts=devnet_accounts(SEED))
    world.price(WETH, "2000")
    for index in range(3):
        world.operator(index)
    square = world.avs(
        "square",
        committee_size=3,
        slash_proportion="0.5",
        slash_verifiers=tuple(verifiers.items()),
    )
    other = world.avs("other", committee_size=3, slash_proportion="0.5")
    for index in range(3):
        world.opt_in(index, square)
        world.opt_in(index, other)
        world.delegate(sc.staker_address(SEED, 10 + index), index, WETH, 10 * ETHER)
    world.next_epoch()
    return world, square, other


def avs_bytes(avs: str) -> Address:
    return Address(bytes.fromhex(avs[2:]))


def wrong_result(
    world: World, avs: str, index: int, result: int, *, key_avs: str | None = None
) -> operator_tx.MsgSubmitWrongResultEvidence:
    return sc.wrong_result_msg(
        chain_id=CHAIN_ID,
        avs_hex=avs,
        operator=sc.operator_account(SEED, index),
        secret=sc.operator_bls_secret(SEED, index, key_avs or avs),
        task_id=9,
        task_input=12,
        result=result,
    )


def committee_slash(
    world: World, avs: str, target: int, evidence: bytes | None, evidence_hash: bytes | None = None
) -> operator_tx.MsgSubmitSlashRequest:
    return sc.slash_request_msg(
        chain_id=CHAIN_ID,
        committee=world.committee(avs),
        secrets=world.secrets,
        signer_indices=[0, 1, 2],
        operator=sc.operator_account(SEED, target),
        proportion=TENTH,
        evidence=evidence,
        evidence_hash=evidence_hash,
    )


def reason_of(world: World, slash_id: bytes) -> str:
    record = world.state.slashes[Hash32(slash_id)]
    assert record.status == SLASH_REJECTED
    return str(record.reject_reason).split(":")[0]


def pool(world: World, index: int, staker: int) -> int:
    operator = world.state.operators[str(sc.operator_account(SEED, index))]
    return int(operator.pools[WETH].get(sc.staker_address(SEED, staker), 0))


# --- registration ------------------------------------------------------------------------------


def test_registration_lists_the_verifier_set_and_refuses_unknown_kinds() -> None:
    world, square, other = squaring_world(wrong_result="0.2", committee_request="")
    assert world.state.avss[square].slash_verifiers == {
        "wrong_result": 2 * TENTH,
        "committee_request": 5 * TENTH,
    }
    assert world.state.avss[other].slash_verifiers == {
        "equivocation": 5 * TENTH,
        "committee_request": 5 * TENTH,
    }
    info = world.node.avs_info(square)
    assert info is not None
    assert [(v.kind, v.slash_proportion) for v in info.slash_verifiers] == [
        ("wrong_result", "0.2"),
        ("committee_request", "0.5"),
    ]
    unknown = sc.AvsRules(
        address="0x" + "77" * 20,
        name="x",
        asset_ids=(WETH,),
        reward_tokens=(),
        slash_verifiers=(("oracle", ""),),
    )
    with pytest.raises(InvalidRequestError, match="unknown_verifier_kind"):
        world.node.submit(unknown.msg())
    too_much = sc.AvsRules(
        address="0x" + "77" * 20,
        name="x",
        asset_ids=(WETH,),
        reward_tokens=(),
        slash_verifiers=(("equivocation", "0.9"),),
    )
    with pytest.raises(InvalidRequestError, match="above the AVS's slash proportion"):
        world.node.submit(too_much.msg())


# --- committee-attested ------------------------------------------------------------------------


def test_committee_attested_evidence_is_stored_and_its_hash_checked() -> None:
    world, square, _ = squaring_world(committee_request="0.5")
    epoch = world.committee(square).epoch
    statement = Attestation(
        CHAIN, avs_bytes(square), sc.operator_account(SEED, 1).address, epoch, b"late 3 times"
    )
    response = world.node.submit_slash_request(committee_slash(world, square, 1, statement.encode()))
    world.node.produce_block()
    record = world.state.slashes[Hash32(response.slash_id)]
    assert record.status == SLASH_EXECUTED and record.evidence == statement.encode()
    assert record.offence_epoch == epoch
    info = world.node.slash_info(response.slash_id)
    assert info is not None and info.evidence == statement.encode() and info.offence_epoch == epoch
    [submitted] = [e for e in world.events_of(ev.SLASH_REQUEST_SUBMITTED)]
    assert submitted.get("evidence") == "0x" + statement.encode().hex()


def test_committee_attested_rejections_have_typed_reasons() -> None:
    world, square, _ = squaring_world(committee_request="0.5")
    epoch = world.committee(square).epoch
    target = sc.operator_account(SEED, 1).address

    def attestation(**changes: object) -> bytes:
        fields: dict[str, object] = {
            "exocore_chain": CHAIN,
            "avs": avs_bytes(square),
            "operator": target,
            "epoch": epoch,
            "statement": b"s",
        }
        fields.update(changes)
        return Attestation(**fields).encode()  # type: ignore[arg-type]

    unknown = ATTESTATION_EVIDENCE_KIND[:31] + b"\x00" + b"\x00" * 64
    missing = committee_slash(world, square, 1, b"", evidence_hash=b"\x42" * 32)
    mismatched = committee_slash(world, square, 1, attestation(), evidence_hash=b"\x42" * 32)
    equivocation = EquivocationEvidence(
        CHAIN, avs_bytes(square), target, 4, sc.task_response(4, 16), sc.task_response(4, 17)
    )
    forged = SignedEquivocation(equivocation, b"\x00" * 96, b"\x00" * 96).encode()
    cases = {
        "evidence_missing": missing,
        "evidence_hash_mismatch": mismatched,
        "unknown_evidence_kind": committee_slash(world, square, 1, unknown),
        "malformed_evidence": committee_slash(world, square, 1, attestation()[:-1]),
        "evidence_mismatch": committee_slash(world, square, 1, attestation(avs=Address(b"\x01" * 20))),
        "bad_signature": committee_slash(world, square, 1, forged),
    }
    for reason, msg in cases.items():
        response = world.node.submit_slash_request(msg)
        assert reason_of(world, response.slash_id) == reason, reason
    stale_epoch = committee_slash(world, square, 1, attestation(epoch=epoch + 1))
    assert reason_of(world, world.node.submit_slash_request(stale_epoch).slash_id) == "evidence_mismatch"
    assert world.events_of(ev.OPERATOR_ASSET_SLASHED) == []


def test_wrong_result_evidence_inside_a_committee_request_is_verified_too() -> None:
    world, square, _ = squaring_world(committee_request="0.5")
    right = decode_evidence(wrong_result(world, square, 1, 144).evidence)
    wrong = decode_evidence(wrong_result(world, square, 1, 145).evidence)
    assert isinstance(right, SignedWrongResult) and isinstance(wrong, SignedWrongResult)
    refused = world.node.submit_slash_request(committee_slash(world, square, 1, right.encode()))
    assert reason_of(world, refused.slash_id) == "result_correct"
    accepted = world.node.submit_slash_request(committee_slash(world, square, 1, wrong.encode()))
    world.node.produce_block()
    assert world.state.slashes[Hash32(accepted.slash_id)].status == SLASH_EXECUTED


# --- wrong result ------------------------------------------------------------------------------


def test_wrong_result_slashes_with_the_verifiers_proportion_and_drops_power_elsewhere() -> None:
    world, square, other = squaring_world(wrong_result="0.2")
    response = world.node.submit_wrong_result_evidence(wrong_result(world, square, 2, 145))
    world.node.produce_block()
    record = world.state.slashes[Hash32(response.slash_id)]
    assert record.status == SLASH_EXECUTED and record.kind == SLASH_KIND_WRONG_RESULT
    assert record.proportion == 2 * TENTH and record.task_id == 9 and record.freeze
    assert record.evidence == wrong_result(world, square, 2, 145).evidence
    assert pool(world, 2, 12) == 8 * ETHER
    world.next_epoch()
    committee = world.committee(other)
    powers = dict(zip(committee.operators, committee.powers, strict=True))
    assert powers[str(sc.operator_account(SEED, 2))] * 10 == powers[str(sc.operator_account(SEED, 0))] * 8


def test_wrong_result_rejections() -> None:
    world, square, other = squaring_world(wrong_result="0.2")
    correct = world.node.submit_wrong_result_evidence(wrong_result(world, square, 0, 144))
    assert reason_of(world, correct.slash_id) == "result_correct"
    forged = world.node.submit_wrong_result_evidence(wrong_result(world, square, 1, 145, key_avs=other))
    assert reason_of(world, forged.slash_id) == "bad_signature"
    unregistered = world.node.submit_wrong_result_evidence(wrong_result(world, other, 0, 145))
    assert reason_of(world, unregistered.slash_id) == "verifier_not_registered"
    equivocation = world.node.submit_equivocation_evidence(
        sc.equivocation_msg(
            chain_id=CHAIN_ID,
            avs_hex=square,
            operator=sc.operator_account(SEED, 0),
            secret=sc.operator_bls_secret(SEED, 0, square),
            task_id=3,
        )
    )
    assert reason_of(world, equivocation.slash_id) == "verifier_not_registered"
    with pytest.raises(InvalidRequestError, match="malformed_evidence"):
        world.node.submit_wrong_result_evidence(
            operator_tx.MsgSubmitWrongResultEvidence(evidence=WRONG_RESULT_EVIDENCE_KIND + b"\x01" * 8)
        )
    with pytest.raises(InvalidRequestError, match="unknown_evidence_kind"):
        world.node.submit_wrong_result_evidence(
            operator_tx.MsgSubmitWrongResultEvidence(evidence=b"\x01" * 96)
        )
    attestation = Attestation(CHAIN, avs_bytes(square), sc.operator_account(SEED, 0).address, 1, b"")
    with pytest.raises(InvalidRequestError, match="wrong_evidence_kind"):
        world.node.submit_wrong_result_evidence(
            operator_tx.MsgSubmitWrongResultEvidence(evidence=attestation.encode())
        )
    assert world.events_of(ev.OPERATOR_ASSET_SLASHED) == []


# --- offence-epoch stake -------------------------------------------------------------------------


def test_deduction_uses_the_offence_epochs_stake_not_todays() -> None:
    world, square, _ = squaring_world(committee_request="0.5")
    offence = world.committee(square)
    staker = sc.staker_address(SEED, 11)
    # After the offence epoch: staker 11 adds 90 WETH, staker 31 joins, and staker 11 undelegates 5.
    world.delegate(staker, 1, WETH, 90 * ETHER)
    world.delegate(sc.staker_address(SEED, 31), 1, WETH, 50 * ETHER)
    world.next_epoch()
    undelegation = world.node.undelegate(
        undelegation_msg(
            staker="0x" + staker.hex(),
            operator=str(sc.operator_account(SEED, 1)),
            asset_id=WETH,
            amount=5 * ETHER,
        )
    )
    world.node.produce_block()
    assert world.committee(square).epoch > offence.epoch
    msg = sc.slash_request_msg(
        chain_id=CHAIN_ID,
        committee=offence,
        secrets=world.secrets,
        signer_indices=[0, 1, 2],
        operator=sc.operator_account(SEED, 1),
        proportion=TENTH,
    )
    response = world.node.submit_slash_request(msg)
    world.node.produce_block()
    record = world.state.slashes[Hash32(response.slash_id)]
    assert record.status == SLASH_EXECUTED and record.offence_epoch == offence.epoch
    # 10 % of the 10 WETH bonded at the offence: 0.5 from the undelegation started since, 0.5 from
    # the pool; nothing from stake delegated after the offence epoch's snapshot.
    assert world.state.undelegations[undelegation.record_id].amount == 5 * ETHER - ETHER // 2
    assert pool(world, 1, 11) == 95 * ETHER - ETHER // 2
    assert pool(world, 1, 31) == 50 * ETHER
    [weth] = record.assets
    assert weth.amount == ETHER


def test_undelegations_started_before_the_offence_epoch_are_not_slashed() -> None:
    world, square, _ = squaring_world(committee_request="0.5")
    staker = sc.staker_address(SEED, 10)
    early = world.node.undelegate(
        undelegation_msg(
            staker="0x" + staker.hex(),
            operator=str(sc.operator_account(SEED, 0)),
            asset_id=WETH,
            amount=4 * ETHER,
        )
    )
    world.next_epoch()
    response = world.node.submit_slash_request(committee_slash(world, square, 0, None))
    world.node.produce_block()
    assert world.state.slashes[Hash32(response.slash_id)].status == SLASH_EXECUTED
    assert world.state.undelegations[early.record_id].amount == 4 * ETHER
    assert pool(world, 0, 10) == 6 * ETHER - 6 * ETHER // 10
    assert world.events_of(ev.UNDELEGATION_SLASHED) == []


# --- the gRPC Msg service and a signed Cosmos transaction --------------------------------------


@pytest.fixture
def served() -> Iterator[tuple[World, str, str, DevnetGrpcServer, grpc.Channel]]:
    world, square, other = squaring_world(wrong_result="0.2")
    node = world.node
    server = DevnetGrpcServer(node.store, IDENTITY, queries=node, driver=node, cosmos=node)
    server.start()
    channel = grpc.insecure_channel(server.target)
    try:
        yield world, square, other, server, channel
    finally:
        channel.close()
        server.stop()


def test_wrong_result_over_the_msg_service_and_broadcast_tx(
    served: tuple[World, str, str, DevnetGrpcServer, grpc.Channel],
) -> None:
    world, square, _, _, channel = served
    msg_stub = operator_grpc.MsgStub(channel)
    with pytest.raises(grpc.RpcError) as refused:
        msg_stub.SubmitWrongResultEvidence(operator_tx.MsgSubmitWrongResultEvidence(evidence=b"\x05" * 10))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "malformed_evidence" in str(refused.value.details())
    over_grpc = msg_stub.SubmitWrongResultEvidence(wrong_result(world, square, 0, 145))
    world.node.produce_block()
    assert world.state.slashes[Hash32(over_grpc.slash_id)].status == SLASH_EXECUTED
    # The same verifier through a signed Cosmos transaction (any funded account submits it).
    sender = LocalWallet(PrivateKey(devnet_account_secret(SEED, "relayer")), prefix=cosmos_tx.ACCOUNT_PREFIX)
    account = auth_grpc.QueryStub(channel).Account(
        auth_query.QueryAccountRequest(address=str(sender.address()))
    )
    base = auth_pb2.BaseAccount()
    account.account.Unpack(base)
    message = wrong_result(world, square, 1, 146)
    message.from_address = str(sender.address())
    transaction = Transaction()
    transaction.add_message(message)
    transaction.seal(
        SigningCfg.direct(sender.public_key(), base.sequence),
        fee=TxFee(amount=f"{GAS * cosmos_tx.MIN_GAS_PRICE_HUA}{cosmos_tx.BASE_DENOM}", gas_limit=GAS),
    )
    transaction.sign(sender.signer(), CHAIN_ID, base.account_number)
    transaction.complete()
    stub = tx_grpc.ServiceStub(channel)
    result = stub.BroadcastTx(
        tx_service.BroadcastTxRequest(
            tx_bytes=transaction.tx.SerializeToString(), mode=tx_service.BROADCAST_MODE_SYNC
        )
    ).tx_response
    assert result.code == 0, result.raw_log
    world.node.produce_block()
    slash_id = SignedWrongResult(
        CHAIN,
        avs_bytes(square),
        sc.operator_account(SEED, 1).address,
        decode_evidence(message.evidence).response,  # type: ignore[union-attr]
        b"\x00" * 96,
    ).slash_id
    record = world.state.slashes[slash_id]
    assert record.status == SLASH_EXECUTED and record.tx_hash
    assert keccak(record.evidence) == record.evidence_hash


def test_two_slashes_for_one_epoch_each_take_their_share_of_that_epochs_stake() -> None:
    world, square, _ = squaring_world(committee_request="0.5")
    epoch = world.committee(square).epoch
    staker = sc.staker_address(SEED, 10)
    undelegation = world.node.undelegate(
        undelegation_msg(
            staker="0x" + staker.hex(),
            operator=str(sc.operator_account(SEED, 0)),
            asset_id=WETH,
            amount=4 * ETHER,
        )
    )
    for proportion, statement in ((5 * TENTH, b"first"), (TENTH, b"second")):
        evidence = Attestation(
            CHAIN, avs_bytes(square), sc.operator_account(SEED, 0).address, epoch, statement
        )
        msg = sc.slash_request_msg(
            chain_id=CHAIN_ID,
            committee=world.committee(square),
            secrets=world.secrets,
            signer_indices=[0, 1, 2],
            operator=sc.operator_account(SEED, 0),
            proportion=proportion,
            freeze=False,
            evidence=evidence.encode(),
        )
        response = world.node.submit_slash_request(msg)
        world.node.produce_block()
        assert world.state.slashes[Hash32(response.slash_id)].status == SLASH_EXECUTED
    # 10 WETH bonded at the epoch (4 of them undelegated since). Half: 2 of the undelegation's initial
    # 4, then 3 from the pool. A tenth: 0.4 of the initial 4, then 0.6 from the pool.
    assert world.state.undelegations[undelegation.record_id].amount == 4 * ETHER - 2 * ETHER - 4 * TENTH
    assert pool(world, 0, 10) == 6 * ETHER - 3 * ETHER - 6 * TENTH
