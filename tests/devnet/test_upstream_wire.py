"""Registration and delegation through cosmpy-signed transactions, read back over gRPC and decoded with
upstream's own field numbering (tests/support/upstream_proto.py): names, owners, the operator's name,
a delegation's asset, operator and amount, and a slash's upstream record are where an upstream client
would look for them; exorelay's additions sit only at field numbers >= 50."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import pytest
from cosmpy.protos.cosmos.tx.v1beta1.tx_pb2 import TxBody, TxRaw

from devnet import scenario as sc
from devnet.chain.params import DEVNET_LZ_CHAIN_ID, devnet_account_secret, devnet_accounts
from devnet.grpc.server import DevnetGrpcServer
from relayer.exocore.cosmos_tx import CosmosTxSender, response_type_of
from relayer.exocore.proto.avs.v1 import query_pb2 as avs_query
from relayer.exocore.proto.delegation.v1 import tx_pb2 as delegation_tx
from relayer.exocore.proto.operator.v1 import query_pb2 as operator_query
from relayer.exocore.proto.operator.v1 import query_pb2_grpc as operator_grpc
from relayer.exocore.proto.operator.v1 import types_pb2 as operator_pb
from relayer.protocol.types import Hash32
from tests.support.devnet_rpc import IDENTITY
from tests.support.devnet_world import CHAIN_ID, ETHER, REWARD_TOKEN, SEED, WETH, World, signing_client
from tests.support.upstream_proto import UPSTREAM, unknown_field_numbers

SLASH_CONTRACT = "0x" + "5c" * 20
FIRST_ADDITION_FIELD = 50
"""exorelay's proposed fields are numbered from here (docs/exocore-modules.md)."""
AVS = sc.AvsRules(
    address="0x" + "5e" * 20,
    name="wire-avs",
    asset_ids=(WETH,),
    reward_tokens=(("0x" + "e0" * 20, 1),),
    committee_size=3,
)


@dataclass
class Registered:
    world: World
    channel: grpc.Channel
    client: sc.ScenarioClient
    target: str


@pytest.fixture(scope="module")
def registered() -> Iterator[Registered]:
    world = World.create(accounts=devnet_accounts(SEED))
    world.price(WETH, "2000")
    server = DevnetGrpcServer(
        world.node.store, IDENTITY, queries=world.node, driver=world.node, cosmos=world.node
    )
    server.start()
    client = signing_client(server.target, seed=SEED)
    client.register_operator(0, "0.1", name="Alice Validators")
    client.register_operator(1, "0.05")
    client.register_avs(AVS)
    client.opt_in(0, AVS.address)
    channel = grpc.insecure_channel(server.target)
    try:
        yield Registered(world, channel, client, server.target)
    finally:
        channel.close()
        client.close()
        server.stop()
        world.node.store.close()


def raw_call(channel: grpc.Channel, method: str, request: bytes) -> bytes:
    call = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
    answer: bytes = call(request)
    return answer


def test_avs_info_decodes_with_upstream_numbers(registered: Registered) -> None:
    request = avs_query.QueryAVSInfoRequest(avs_address=AVS.address).SerializeToString()
    raw = raw_call(registered.channel, "/exocore.avs.v1.Query/QueryAVSInfo", request)
    response = UPSTREAM["QueryAVSInfoResponse"].FromString(raw)
    info = response.info
    assert (info.name, info.avs_address) == ("wire-avs", AVS.address)
    assert list(info.avs_owner_addresses) == [str(AVS.owner)]
    assert list(info.asset_ids) == [WETH]
    assert info.epoch_identifier == "block" and info.starting_epoch >= 1
    additions = unknown_field_numbers(info)
    assert additions and min(additions) >= FIRST_ADDITION_FIELD


def test_operator_info_carries_the_name_with_upstream_numbers(registered: Registered) -> None:
    alice = sc.operator_account(SEED, 0)
    request = operator_query.GetOperatorInfoReq(operator_addr=str(alice)).SerializeToString()
    raw = raw_call(registered.channel, "/exocore.operator.v1.Query/QueryOperatorInfo", request)
    info = UPSTREAM["OperatorInfo"].FromString(raw)
    assert info.operator_meta_info == "Alice Validators"
    assert info.earnings_addr == str(alice)
    (earning,) = info.client_chain_earnings_addr.earning_info_list
    assert earning.lz_client_chain_id == DEVNET_LZ_CHAIN_ID
    assert earning.client_chain_earning_addr == "0x" + sc.operator_reward_address(SEED, 0).hex()
    # LegacyDec protobuf form: 0.1 x 10^18.
    assert info.commission.commission_rates.rate == str(10**17)
    assert unknown_field_numbers(info) == set()


def test_all_operators_and_unknown_operator(registered: Registered) -> None:
    stub = operator_grpc.QueryStub(registered.channel)
    listed = stub.QueryAllOperators(operator_query.QueryAllOperatorsRequest()).operator_acc_addrs
    expected = sorted(str(sc.operator_account(SEED, index)) for index in (0, 1))
    assert list(listed) == expected
    second = str(sc.operator_account(SEED, 1))
    default_name = stub.QueryOperatorInfo(operator_query.GetOperatorInfoReq(operator_addr=second))
    assert default_name.operator_meta_info == sc.operator_name(1)
    with pytest.raises(grpc.RpcError) as missing:
        stub.QueryOperatorInfo(
            operator_query.GetOperatorInfoReq(operator_addr=str(sc.operator_account(SEED, 9)))
        )
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


def test_operators_are_accounts_of_their_keys(registered: Registered) -> None:
    # The operator account is the cosmpy address of its secp256k1 key, and it signed its registration
    # (the first transaction of that account).
    for index in (0, 1):
        account = sc.operator_account(SEED, index)
        assert account == sc.account_of(sc.operator_secret(SEED, index))
        bank_account = registered.world.node.committed_bank.accounts[bytes(account.address)]
        assert bank_account.sequence >= 1 and bank_account.pubkey is not None
    opted = registered.world.node.state.operators[str(sc.operator_account(SEED, 0))].opted_in
    assert AVS.address in opted


def test_a_delegation_in_upstream_layout_is_applied_under_upstream_type_url(registered: Registered) -> None:
    operator = str(sc.operator_account(SEED, 1))
    staker = sc.staker_address(SEED, 7)
    amount = UPSTREAM["ValueField"](amount=str(5 * ETHER))
    upstream = UPSTREAM["MsgDelegation"](
        asset_id=WETH,
        base_info=UPSTREAM["DelegationIncOrDecInfo"](
            per_operator_amounts=[UPSTREAM["KeyValue"](key=operator, value=amount)]
        ),
    )
    message = delegation_tx.MsgDelegation.FromString(upstream.SerializeToString())
    message.staker = "0x" + staker.hex()  # exorelay's addition: the L1 staker the report is for
    sender = CosmosTxSender(registered.target, CHAIN_ID, devnet_account_secret(SEED, sc.SUBMITTER_ACCOUNT))
    try:
        number, sequence = sender.account()
        signed = sender.sign(message, account_number=number, sequence=sequence)
        assert sender.broadcast(signed.tx_bytes).accepted
        registered.client.advance(1)
        delivered = sender.wait_for_tx(signed.tx_hash)
    finally:
        sender.close()
    assert delivered.succeeded, delivered.raw_log
    assert delivered.response(response_type_of(message)).height == delivered.height
    assert registered.world.node.state.operators[operator].pools[WETH][staker] == 5 * ETHER
    body = TxBody.FromString(TxRaw.FromString(signed.tx_bytes).body_bytes)
    assert [m.type_url for m in body.messages] == ["/exocore.delegation.v1.MsgDelegation"]
    sent = UPSTREAM["MsgDelegation"].FromString(body.messages[0].value)
    assert (sent.asset_id, sent.base_info.from_address) == (WETH, sender.address)
    assert unknown_field_numbers(sent) == {50}


def test_slash_info_decodes_with_upstream_numbers() -> None:
    world = World.create()
    world.price(WETH, "2000")
    rules = sc.AvsRules(
        address="0x" + "5f" * 20,
        name="slashing-avs",
        asset_ids=(WETH,),
        reward_tokens=((REWARD_TOKEN, 1),),
        committee_size=3,
        slash_proportion="0.1",
    )
    registration = rules.msg()
    registration.info.slash_address = SLASH_CONTRACT
    for index in range(3):
        world.operator(index)
    world.node.submit(registration)
    for index in range(3):
        world.opt_in(index, rules.address)
        world.delegate(sc.staker_address(SEED, 10 + index), index, WETH, 10 * ETHER)
    world.next_epoch()
    committee = world.committee(rules.address)
    response = world.node.submit_slash_request(
        sc.slash_request_msg(
            chain_id=CHAIN_ID,
            committee=committee,
            secrets=world.secrets,
            signer_indices=range(len(committee.operators)),
            operator=sc.operator_account(SEED, 1),
            proportion=5 * 10**16,
            freeze=False,
        )
    )
    world.node.produce_block()
    served = world.node.slash_info(response.slash_id)
    assert served is not None
    record = world.node.state.slashes[Hash32(response.slash_id)]
    info = UPSTREAM["OperatorSlashInfo"].FromString(served.SerializeToString())
    assert info.slash_contract == SLASH_CONTRACT
    assert info.submitted_height == record.submitted_height > 0
    assert info.event_height == world.node.state.epoch_start_height(record.offence_epoch) > 0
    assert info.slash_proportion == str(5 * 10**16)  # LegacyDec protobuf form of 0.05
    assert info.slash_type == operator_pb.SLASH_TYPE_INSTANT_SLASH
    assert (info.is_vetoed, info.veto_reason) == (False, "")
    assert min(unknown_field_numbers(info)) >= FIRST_ADDITION_FIELD
