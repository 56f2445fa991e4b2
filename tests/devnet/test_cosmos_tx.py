"""Standard Cosmos SDK gRPC (auth, bank, staking, tx, reflection) and signed transactions, driven by
cosmpy's ``LedgerClient`` exactly as against a real node."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import ecdsa
import grpc
import pytest
from cosmpy.aerial.client import LedgerClient, NetworkConfig
from cosmpy.aerial.client.bank import create_bank_send_msg
from cosmpy.aerial.tx import SigningCfg, Transaction, TxFee
from cosmpy.aerial.wallet import LocalWallet
from cosmpy.crypto.address import Address
from cosmpy.crypto.keypairs import PrivateKey
from cosmpy.protos.cosmos.auth.v1beta1 import auth_pb2
from cosmpy.protos.cosmos.auth.v1beta1 import query_pb2 as auth_query
from cosmpy.protos.cosmos.auth.v1beta1 import query_pb2_grpc as auth_grpc
from cosmpy.protos.cosmos.bank.v1beta1 import query_pb2 as bank_query
from cosmpy.protos.cosmos.bank.v1beta1 import query_pb2_grpc as bank_grpc
from cosmpy.protos.cosmos.bank.v1beta1 import tx_pb2 as bank_tx
from cosmpy.protos.cosmos.base.abci.v1beta1 import abci_pb2
from cosmpy.protos.cosmos.base.v1beta1.coin_pb2 import Coin
from cosmpy.protos.cosmos.crypto.secp256k1.keys_pb2 import PubKey as Secp256k1PubKey
from cosmpy.protos.cosmos.staking.v1beta1 import query_pb2 as staking_query
from cosmpy.protos.cosmos.staking.v1beta1 import query_pb2_grpc as staking_grpc
from cosmpy.protos.cosmos.tx.signing.v1beta1.signing_pb2 import SignMode
from cosmpy.protos.cosmos.tx.v1beta1 import service_pb2 as tx_service
from cosmpy.protos.cosmos.tx.v1beta1 import service_pb2_grpc as tx_grpc
from cosmpy.protos.cosmos.tx.v1beta1 import tx_pb2
from ecdsa.util import sigencode_string_canonize
from eth_utils.crypto import keccak
from google.protobuf.any_pb2 import Any as AnyProto
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from devnet import scenario as sc
from devnet.chain import cosmos_tx
from devnet.chain.blockstore import BlockStore
from devnet.chain.node import DevnetNode
from devnet.chain.params import (
    DEFAULT_ACCOUNT_BALANCE_HUA,
    USD_ONE,
    GenesisAsset,
    devnet_account_secret,
    devnet_accounts,
)
from devnet.grpc.cosmos import cosmos_tx_hash
from devnet.grpc.server import DevnetGrpcServer
from relayer.exocore.proto.delegation.v1 import tx_pb2 as delegation_tx
from relayer.exocore.proto.operator.v1 import tx_pb2 as operator_tx
from relayer.protocol.ids import OperatorAddress
from relayer.protocol.types import Address as Address20
from tests.support.devnet_rpc import IDENTITY
from tests.support.devnet_world import CHAIN_ID, SEED, WETH, fixed_clock, genesis

GAS = 200_000
SCENARIO_BLOCK_TIME_S = 0.05
"""Block timer of the scenario-client test's node: the client waits for its transactions' blocks."""
FEE = GAS * cosmos_tx.MIN_GAS_PRICE_HUA


@dataclass
class Net:
    node: DevnetNode
    server: DevnetGrpcServer
    client: LedgerClient
    channel: grpc.Channel


def wallet(name: str) -> LocalWallet:
    return LocalWallet(PrivateKey(devnet_account_secret(SEED, name)), prefix=cosmos_tx.ACCOUNT_PREFIX)


def fresh_wallet(label: str) -> LocalWallet:
    return LocalWallet(PrivateKey(devnet_account_secret(SEED, f"unfunded/{label}")), prefix="exo")


@pytest.fixture
def net() -> Iterator[Net]:
    node = DevnetNode(genesis(accounts=devnet_accounts(SEED)), BlockStore(CHAIN_ID), clock_ns=fixed_clock())
    node.produce_block()
    server = DevnetGrpcServer(node.store, IDENTITY, queries=node, driver=node, cosmos=node)
    server.start()
    config = NetworkConfig(
        chain_id=CHAIN_ID,
        url=server.url,
        fee_minimum_gas_price=cosmos_tx.MIN_GAS_PRICE_HUA,
        fee_denomination=cosmos_tx.BASE_DENOM,
        staking_denomination=cosmos_tx.BASE_DENOM,
    )
    channel = grpc.insecure_channel(server.target)
    try:
        yield Net(node, server, LedgerClient(config), channel)
    finally:
        channel.close()
        server.stop()


def signed_send(
    sender: LocalWallet,
    to: Address,
    amount: int,
    *,
    sequence: int,
    account_number: int,
    chain_id: str = CHAIN_ID,
    gas: int = GAS,
    fee: int = FEE,
    timeout_height: int | None = None,
) -> bytes:
    tx = Transaction()
    tx.add_message(create_bank_send_msg(sender.address(), to, amount, cosmos_tx.BASE_DENOM))
    tx.seal(
        SigningCfg.direct(sender.public_key(), sequence),
        fee=TxFee(amount=f"{fee}{cosmos_tx.BASE_DENOM}", gas_limit=gas),
        timeout_height=timeout_height,
    )
    tx.sign(sender.signer(), chain_id, account_number)
    tx.complete()
    return bytes(tx.tx.SerializeToString())


def broadcast(net: Net, raw: bytes, mode: int = tx_service.BROADCAST_MODE_SYNC) -> Any:
    stub = tx_grpc.ServiceStub(net.channel)
    return stub.BroadcastTx(tx_service.BroadcastTxRequest(tx_bytes=raw, mode=mode)).tx_response


def test_ledger_client_queries_genesis_accounts(net: Net) -> None:
    faucet = wallet("faucet")
    assert net.client.query_bank_balance(faucet.address()) == DEFAULT_ACCOUNT_BALANCE_HUA
    account = net.client.query_account(faucet.address())
    assert (str(account.address), account.sequence) == (str(faucet.address()), 0)
    balances = net.client.query_bank_all_balances(faucet.address())
    assert [(c.denom, int(c.amount)) for c in balances] == [("hua", DEFAULT_ACCOUNT_BALANCE_HUA)]


def test_send_tokens_moves_balance_charges_fee_and_bumps_sequence(net: Net) -> None:
    faucet, recipient = wallet("faucet"), fresh_wallet("recipient")
    submitted = net.client.send_tokens(recipient.address(), 1234, "hua", faucet)
    net.node.produce_block()
    response = submitted.wait_to_complete().response
    assert response is not None
    assert response.code == 0
    assert response.events["transfer"]["recipient"] == str(recipient.address())
    fee = response.gas_wanted * cosmos_tx.MIN_GAS_PRICE_HUA
    assert response.gas_used < response.gas_wanted
    assert net.client.query_bank_balance(recipient.address()) == 1234
    assert net.client.query_bank_balance(faucet.address()) == DEFAULT_ACCOUNT_BALANCE_HUA - 1234 - fee
    assert net.client.query_account(faucet.address()).sequence == 1
    # The recipient account was created by the transfer; it has no public key until it signs.
    assert net.client.query_account(recipient.address()).sequence == 0
    # Supply is conserved: the fee went to the fee collector.
    supply = bank_grpc.QueryStub(net.channel).SupplyOf(bank_query.QuerySupplyOfRequest(denom="hua"))
    assert int(supply.amount.amount) == DEFAULT_ACCOUNT_BALANCE_HUA * len(devnet_accounts(SEED))


def test_simulate_reports_the_gas_delivery_uses(net: Net) -> None:
    faucet = wallet("faucet")
    account = net.client.query_account(faucet.address())
    raw = signed_send(faucet, fresh_wallet("x").address(), 5, sequence=0, account_number=account.number)
    simulated = tx_grpc.ServiceStub(net.channel).Simulate(tx_service.SimulateRequest(tx_bytes=raw))
    assert broadcast(net, raw).code == 0
    net.node.produce_block()
    delivered = net.client.query_tx(cosmos_tx_hash(raw))
    assert delivered.gas_used == simulated.gas_info.gas_used
    assert delivered.gas_wanted == GAS


@pytest.mark.parametrize(
    ("case", "code", "log_part"),
    [
        ("wrong_sequence", cosmos_tx.ERR_WRONG_SEQUENCE, "account sequence mismatch, expected 0, got 1"),
        ("wrong_chain", cosmos_tx.ERR_UNAUTHORIZED, "signature verification failed"),
        ("wrong_account_number", cosmos_tx.ERR_UNAUTHORIZED, "signature verification failed"),
        ("low_fee", cosmos_tx.ERR_INSUFFICIENT_FEE, f"insufficient fees; got: 10hua required: {FEE}hua"),
        ("low_gas", cosmos_tx.ERR_OUT_OF_GAS, "out of gas"),
        ("garbage", cosmos_tx.ERR_TX_DECODE, "tx parse error"),
        ("timed_out", cosmos_tx.ERR_TX_TIMEOUT_HEIGHT, "block height: 2, timeout height: 1"),
    ],
)
def test_checktx_refusals_carry_sdk_codes_and_change_nothing(
    net: Net, case: str, code: int, log_part: str
) -> None:
    faucet = wallet("faucet")
    number = net.client.query_account(faucet.address()).number
    to = fresh_wallet("r").address()
    builders: dict[str, Callable[[], bytes]] = {
        "wrong_sequence": lambda: signed_send(faucet, to, 1, sequence=1, account_number=number),
        "wrong_chain": lambda: signed_send(
            faucet, to, 1, sequence=0, account_number=number, chain_id="other_1-1"
        ),
        "wrong_account_number": lambda: signed_send(faucet, to, 1, sequence=0, account_number=number + 1),
        "low_fee": lambda: signed_send(faucet, to, 1, sequence=0, account_number=number, fee=10),
        "low_gas": lambda: signed_send(faucet, to, 1, sequence=0, account_number=number, gas=100, fee=100),
        "garbage": lambda: b"\x0a\x03abc",
        "timed_out": lambda: signed_send(faucet, to, 1, sequence=0, account_number=number, timeout_height=1),
    }
    raw = builders[case]()
    response = broadcast(net, raw)
    assert (response.code, response.codespace) == (code, "sdk")
    assert log_part in response.raw_log
    assert net.node.pending_txs() == ()
    net.node.produce_block()
    assert net.client.query_bank_balance(faucet.address()) == DEFAULT_ACCOUNT_BALANCE_HUA
    assert net.client.query_account(faucet.address()).sequence == 0


def test_fee_above_balance_is_insufficient_funds(net: Net) -> None:
    poor = fresh_wallet("poor")
    net.client.send_tokens(poor.address(), FEE - 1, "hua", wallet("faucet"))
    net.node.produce_block()
    number = net.client.query_account(poor.address()).number
    response = broadcast(
        net, signed_send(poor, wallet("faucet").address(), 1, sequence=0, account_number=number)
    )
    assert response.code == cosmos_tx.ERR_INSUFFICIENT_FUNDS
    assert "insufficient funds to pay for fees" in response.raw_log


def test_send_above_balance_is_committed_with_code_5_and_the_fee_is_kept(net: Net) -> None:
    faucet = wallet("faucet")
    number = net.client.query_account(faucet.address()).number
    raw = signed_send(
        faucet, fresh_wallet("r").address(), DEFAULT_ACCOUNT_BALANCE_HUA, sequence=0, account_number=number
    )
    assert broadcast(net, raw).code == 0  # CheckTx runs only the ante chain
    net.node.produce_block()
    delivered = net.client.query_tx(cosmos_tx_hash(raw))
    assert delivered.code == cosmos_tx.ERR_INSUFFICIENT_FUNDS
    assert net.client.query_bank_balance(faucet.address()) == DEFAULT_ACCOUNT_BALANCE_HUA - FEE
    assert net.client.query_account(faucet.address()).sequence == 1


def test_broadcast_modes_and_get_tx_errors(net: Net) -> None:
    stub = tx_grpc.ServiceStub(net.channel)
    faucet = wallet("faucet")
    number = net.client.query_account(faucet.address()).number
    raw = signed_send(faucet, fresh_wallet("r").address(), 1, sequence=0, account_number=number)
    with pytest.raises(grpc.RpcError) as block_mode:
        broadcast(net, raw, tx_service.BROADCAST_MODE_BLOCK)
    assert block_mode.value.details() == "unsupported return type block; supported types: sync, async"
    assert broadcast(net, raw, tx_service.BROADCAST_MODE_ASYNC).txhash == cosmos_tx_hash(raw)
    with pytest.raises(grpc.RpcError) as missing:
        stub.GetTx(tx_service.GetTxRequest(hash=cosmos_tx_hash(raw)))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    assert missing.value.details() == f"tx not found: {cosmos_tx_hash(raw)}"
    net.node.produce_block()
    found = stub.GetTxsEvent(tx_service.GetTxsEventRequest(events=[f"message.sender='{faucet.address()}'"]))
    assert [r.txhash for r in found.tx_responses] == [cosmos_tx_hash(raw)]
    with pytest.raises(grpc.RpcError) as no_events:
        stub.GetTxsEvent(tx_service.GetTxsEventRequest())
    assert no_events.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_committed_transactions_replay_on_restart(net: Net) -> None:
    net.client.send_tokens(fresh_wallet("r").address(), 77, "hua", wallet("faucet"))
    net.node.produce_block()
    restarted = DevnetNode(net.node.genesis, net.node.store, clock_ns=fixed_clock())
    assert restarted.committed_bank.balances == net.node.committed_bank.balances
    assert restarted.committed_bank.accounts == net.node.committed_bank.accounts


def test_auth_bank_staking_queries_answer_like_the_sdk(net: Net) -> None:
    auth = auth_grpc.QueryStub(net.channel)
    with pytest.raises(grpc.RpcError) as missing:
        auth.Account(auth_query.QueryAccountRequest(address=str(fresh_wallet("none").address())))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    assert missing.value.details() == f"account {fresh_wallet('none').address()} not found"
    with pytest.raises(grpc.RpcError) as empty:
        auth.Account(auth_query.QueryAccountRequest(address=""))
    assert empty.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    accounts = auth.Accounts(auth_query.QueryAccountsRequest())
    # The funded actors plus the fee collector module account.
    assert len(accounts.accounts) == len(devnet_accounts(SEED)) + 1
    assert auth.Params(auth_query.QueryParamsRequest()).params.sig_verify_cost_secp256k1 == 1000
    bank = bank_grpc.QueryStub(net.channel)
    with pytest.raises(grpc.RpcError) as bad_denom:
        bank.Balance(bank_query.QueryBalanceRequest(address=str(wallet("faucet").address()), denom=""))
    assert bad_denom.value.details() == "invalid denom"
    assert bank.DenomMetadata(bank_query.QueryDenomMetadataRequest(denom="hua")).metadata.display == "exo"
    staking = staking_grpc.QueryStub(net.channel)
    validators = staking.Validators(staking_query.QueryValidatorsRequest()).validators
    assert len(validators) == len(net.node.genesis.validators)
    one = staking.Validator(
        staking_query.QueryValidatorRequest(validator_addr=validators[0].operator_address)
    )
    assert one.validator.tokens == validators[0].tokens
    pool = staking.Pool(staking_query.QueryPoolRequest()).pool
    assert int(pool.bonded_tokens) == sum(int(v.tokens) for v in validators)
    assert staking.Params(staking_query.QueryParamsRequest()).params.bond_denom == "hua"


def test_server_reflection_lists_the_services(net: Net) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(net.channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    (answer,) = list(stub.ServerReflectionInfo(iter([request])))
    names = {service.name for service in answer.list_services_response.service}
    assert {
        "cosmos.auth.v1beta1.Query",
        "cosmos.bank.v1beta1.Query",
        "cosmos.staking.v1beta1.Query",
        "cosmos.tx.v1beta1.Service",
        "cosmos.base.tendermint.v1beta1.Service",
        "exocore.avs.v1.Query",
        "exocore.relay.v1.Query",
        "grpc.reflection.v1alpha.ServerReflection",
    } <= names


def signed(sender: LocalWallet, msg: Any, *, sequence: int, account_number: int) -> bytes:
    tx = Transaction()
    tx.add_message(msg)
    tx.seal(
        SigningCfg.direct(sender.public_key(), sequence),
        fee=TxFee(amount=f"{FEE}{cosmos_tx.BASE_DENOM}", gas_limit=GAS),
    )
    tx.sign(sender.signer(), CHAIN_ID, account_number)
    tx.complete()
    return bytes(tx.tx.SerializeToString())


def register_operator(operator: LocalWallet, from_address: str = "") -> operator_tx.RegisterOperatorReq:
    """Upstream RegisterOperatorReq for ``operator`` (``from_address`` names who it claims to be)."""
    account = OperatorAddress.parse(str(operator.address()))
    msg = sc.register_operator_msg(account, Address20(bytes.fromhex("ab" * 20)), "0.1", name="op")
    if from_address:
        msg.from_address = from_address
    return msg


def test_exocore_message_in_a_signed_tx_applies_and_a_rule_failure_is_committed(net: Net) -> None:
    operator = wallet("operator-1")
    number = net.client.query_account(operator.address()).number
    raw = signed(operator, register_operator(operator), sequence=0, account_number=number)
    simulated = tx_grpc.ServiceStub(net.channel).Simulate(tx_service.SimulateRequest(tx_bytes=raw))
    assert simulated.gas_info.gas_used > cosmos_tx.EXOCORE_MSG_GAS
    assert broadcast(net, raw).code == 0
    net.node.produce_block()
    got = tx_grpc.ServiceStub(net.channel).GetTx(tx_service.GetTxRequest(hash=cosmos_tx_hash(raw)))
    assert got.tx_response.code == 0
    assert got.tx.body.messages[0].type_url == "/exocore.operator.v1.RegisterOperatorReq"
    # DeliverTx data is TxMsgData carrying the message's response, as the SDK returns it.
    data = abci_pb2.TxMsgData.FromString(bytes.fromhex(got.tx_response.data))
    assert data.msg_responses[0].Unpack(operator_tx.RegisterOperatorResponse())
    assert net.node.state.operators[str(operator.address())].name == "op"
    # Registering again breaks a chain rule: committed with the devnet's code, fee and sequence spent.
    again = signed(operator, register_operator(operator), sequence=1, account_number=number)
    assert broadcast(net, again).code == 0
    net.node.produce_block()
    delivered = net.client.query_tx(cosmos_tx_hash(again))
    assert (delivered.code, delivered.raw_log.startswith("failed to execute message")) == (1, True)
    assert net.client.query_account(operator.address()).sequence == 2
    # Both transactions replay identically.
    restarted = DevnetNode(net.node.genesis, net.node.store, clock_ns=fixed_clock())
    assert restarted.state_root() == net.node.state_root()


def test_commission_above_its_max_rate_is_refused_at_checktx_with_the_staking_error(net: Net) -> None:
    operator = wallet("operator-2")
    number = net.client.query_account(operator.address()).number
    msg = register_operator(operator)
    msg.info.commission.commission_rates.max_rate = str(5 * 10**16)  # 0.05 < the rate 0.1
    response = broadcast(net, signed(operator, msg, sequence=0, account_number=number))
    assert (response.code, response.codespace) == (11, "staking")
    assert response.raw_log == "commission cannot be more than the max rate"
    assert net.node.pending_txs() == ()
    assert net.client.query_account(operator.address()).sequence == 0
    # Within bounds, the registration applies and the bounds are served as registered.
    msg.info.commission.commission_rates.max_rate = str(2 * 10**17)
    msg.info.commission.commission_rates.max_change_rate = str(10**16)
    assert broadcast(net, signed(operator, msg, sequence=0, account_number=number)).code == 0
    net.node.produce_block()
    info = net.node.operator_info(str(operator.address()))
    assert info is not None
    rates = info.commission.commission_rates
    assert (rates.rate, rates.max_rate, rates.max_change_rate) == (str(10**17), str(2 * 10**17), str(10**16))


def test_operator_messages_must_be_signed_by_the_operator(net: Net) -> None:
    operator, other = wallet("operator-1"), wallet("operator-2")
    number = net.client.query_account(other.address()).number
    # The operator is from_address, so the transaction's signer is the operator: another key's
    # signature does not belong to that account.
    forged = signed(other, register_operator(operator), sequence=0, account_number=number)
    response = broadcast(net, forged)
    assert (response.code, "pubKey does not match signer address" in response.raw_log) == (
        cosmos_tx.ERR_INVALID_PUBKEY,
        True,
    )
    malformed = register_operator(other)
    malformed.info.client_chain_earnings_addr.earning_info_list[0].client_chain_earning_addr = "0x12"
    response = broadcast(net, signed(other, malformed, sequence=0, account_number=number))
    assert response.code == cosmos_tx.ERR_INVALID_REQUEST
    assert net.node.pending_txs() == ()


def test_registration_with_a_stale_or_future_sequence_is_refused(net: Net) -> None:
    operator = wallet("operator-1")
    number = net.client.query_account(operator.address()).number
    for sequence in (1, 7):
        raw = signed(operator, register_operator(operator), sequence=sequence, account_number=number)
        response = broadcast(net, raw)
        assert response.code == cosmos_tx.ERR_WRONG_SEQUENCE
        assert f"expected 0, got {sequence}" in response.raw_log
    assert net.node.pending_txs() == ()
    assert str(operator.address()) not in net.node.state.operators


def test_avs_registration_must_be_signed_by_an_owner(net: Net) -> None:
    owner, stranger = wallet("operator-1"), wallet("operator-2")
    rules = sc.AvsRules(
        address="0x" + "a5" * 20, name="signed-avs", asset_ids=(WETH,), reward_tokens=(("0x" + "e0" * 20, 1),)
    )
    msg = rules.msg()
    del msg.info.avs_owner_addresses[:]
    msg.info.avs_owner_addresses.append(str(owner.address()))
    # A stranger naming itself as the sender is not an owner.
    msg.from_address = str(stranger.address())
    number = net.client.query_account(stranger.address()).number
    response = broadcast(net, signed(stranger, msg, sequence=0, account_number=number))
    assert (response.code, "is not an owner of the AVS" in response.raw_log) == (
        cosmos_tx.ERR_UNAUTHORIZED,
        True,
    )
    # A stranger signing for the owner: the signature is not the owner's.
    msg.from_address = str(owner.address())
    response = broadcast(net, signed(stranger, msg, sequence=0, account_number=number))
    assert response.code == cosmos_tx.ERR_INVALID_PUBKEY
    owner_number = net.client.query_account(owner.address()).number
    assert broadcast(net, signed(owner, msg, sequence=0, account_number=owner_number)).code == 0
    net.node.produce_block()
    info = net.node.avs_info(rules.address)
    assert info is not None and list(info.avs_owner_addresses) == [str(owner.address())]


def eth_signed_send(
    secret: bytes,
    sender: str,
    to: str,
    amount: int,
    *,
    account_number: int,
    sequence: int = 0,
    digest: Callable[[bytes], bytes] = keccak,
) -> bytes:
    """A MsgSend signed the way an Exocore (Ethermint) wallet signs: ethsecp256k1 key, keccak256
    digest, 65-byte r||s||v signature."""
    key = ecdsa.SigningKey.from_string(secret, curve=ecdsa.SECP256k1)
    compressed = key.get_verifying_key().to_string("compressed")
    send = bank_tx.MsgSend(from_address=sender, to_address=to, amount=[Coin(denom="hua", amount=str(amount))])
    body = tx_pb2.TxBody(
        messages=[AnyProto(type_url=cosmos_tx.MSG_SEND_TYPE_URL, value=send.SerializeToString())]
    )
    auth_info = tx_pb2.AuthInfo(
        signer_infos=[
            tx_pb2.SignerInfo(
                public_key=AnyProto(
                    type_url=cosmos_tx.ETH_SECP256K1_PUBKEY_TYPE_URL,
                    value=Secp256k1PubKey(key=compressed).SerializeToString(),
                ),
                mode_info=tx_pb2.ModeInfo(single=tx_pb2.ModeInfo.Single(mode=SignMode.SIGN_MODE_DIRECT)),
                sequence=sequence,
            )
        ],
        fee=tx_pb2.Fee(amount=[Coin(denom="hua", amount=str(10 * GAS))], gas_limit=GAS),
    )
    body_bytes, auth_bytes = body.SerializeToString(), auth_info.SerializeToString()
    doc = tx_pb2.SignDoc(
        body_bytes=body_bytes, auth_info_bytes=auth_bytes, chain_id=CHAIN_ID, account_number=account_number
    )
    signature = key.sign_digest_deterministic(
        digest(doc.SerializeToString()), sigencode=sigencode_string_canonize
    )
    raw = tx_pb2.TxRaw(body_bytes=body_bytes, auth_info_bytes=auth_bytes, signatures=[signature + b"\x1b"])
    return bytes(raw.SerializeToString())


def test_ethsecp256k1_accounts_sign_like_exocore_wallets(net: Net) -> None:
    secret = devnet_account_secret(SEED, "eth-wallet")
    point = ecdsa.SigningKey.from_string(secret, curve=ecdsa.SECP256k1).get_verifying_key().to_string("raw")
    eth_address = cosmos_tx.bech32_account(bytes(keccak(point)[12:]))
    net.client.send_tokens(Address(eth_address), 10**18, "hua", wallet("faucet"))
    net.node.produce_block()
    number = net.client.query_account(Address(eth_address)).number
    raw = eth_signed_send(secret, eth_address, str(wallet("faucet").address()), 5, account_number=number)
    assert broadcast(net, raw).code == 0
    net.node.produce_block()
    assert net.client.query_tx(cosmos_tx_hash(raw)).code == 0
    account = auth_grpc.QueryStub(net.channel).Account(auth_query.QueryAccountRequest(address=eth_address))
    base = auth_pb2.BaseAccount()
    assert account.account.Unpack(base)
    assert (base.sequence, base.pub_key.type_url) == (1, cosmos_tx.ETH_SECP256K1_PUBKEY_TYPE_URL)
    # The same key signing sha256 of the sign doc (cosmos secp256k1 rules) does not verify.
    sha_signed = eth_signed_send(
        secret,
        eth_address,
        eth_address,
        1,
        account_number=number,
        sequence=1,
        digest=lambda doc: hashlib.sha256(doc).digest(),
    )
    assert broadcast(net, sha_signed).code == cosmos_tx.ERR_UNAUTHORIZED


def test_scenario_client_sends_reports_as_signed_transactions() -> None:
    node = DevnetNode(
        genesis(accounts=devnet_accounts(SEED), assets=(GenesisAsset(WETH, 18, 2000 * USD_ONE),)),
        BlockStore(CHAIN_ID),
        block_time_s=SCENARIO_BLOCK_TIME_S,
    )
    server = DevnetGrpcServer(node.store, IDENTITY, queries=node, driver=node, cosmos=node)
    server.start()
    node.start()
    submitter = devnet_account_secret(SEED, "relayer")
    try:
        with sc.ScenarioClient(server.target, CHAIN_ID, submitter_key=submitter) as client:
            (operator,) = client.register_operators(1, ["0.1"])
            staker = sc.staker_address(client.seed, 0)
            response = client.send(sc.delegate_msg(staker, WETH, operator, 10**18))
            assert isinstance(response, delegation_tx.DelegationResponse)
            block = node.store.get(response.height)
            assert block is not None
            (signed_tx,) = [raw for raw in block.txs if cosmos_tx.is_cosmos_tx(raw)]
            assert cosmos_tx.decode_tx(signed_tx).signers == (bytes(wallet("relayer").address()),)
            # The relayer funded the operator (MsgSend), then signed the delegation report.
            assert net_sequence(node, "relayer") == 2
            # The operator signed its own registration, with its own key's account.
            assert operator == sc.operator_account(client.seed, 0)
            assert node.committed_bank.accounts[bytes(operator.address)].sequence == 1
            assert node.state.operators[str(operator)].name == sc.operator_name(0)
    finally:
        node.stop()
        server.stop()


def net_sequence(node: DevnetNode, name: str) -> int:
    return node.committed_bank.accounts[bytes(wallet(name).address())].sequence


def test_a_block_becomes_visible_only_after_its_state_is_committed(net: Net) -> None:
    # A client that finds its transaction in a block (GetTx) and then reads its account must see the
    # sequence after that transaction; the demo once signed with a sequence one behind because the
    # block was stored before the committed accounts were replaced. Observed at the exact moment the
    # block store receives the block, with no timing involved.
    faucet = wallet("faucet")
    account = net.client.query_account(faucet.address())
    raw = signed_send(
        faucet, fresh_wallet("visibility").address(), 5, sequence=account.sequence,
        account_number=account.number,
    )  # fmt: skip
    assert broadcast(net, raw).code == 0
    seen: list[int] = []
    store_append = net.node.store.append

    def observing_append(block: Any) -> None:
        seen.append(net.node.committed_bank.accounts[bytes(faucet.address())].sequence)
        store_append(block)

    net.node.store.append = observing_append  # type: ignore[method-assign]
    net.node.produce_block()
    assert seen == [account.sequence + 1]
