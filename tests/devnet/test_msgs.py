"""Devnet transactions: stateless validation of messages and the Tx byte form."""

from __future__ import annotations

import pytest

from devnet import scenario as sc
from devnet.chain.commission import CommissionError
from devnet.chain.msgs import (
    Delegate,
    RegisterAvs,
    RegisterOperator,
    decode_tx,
    encode_tx,
    parse_msg,
    type_url,
    undelegation_msg,
)
from devnet.grpc.errors import InvalidRequestError
from relayer.exocore.proto.avs.v1 import tx_pb2 as avs_tx
from relayer.exocore.proto.devnet.v1 import tx_pb2 as tx
from relayer.protocol.quorum import TWO_THIRDS, Threshold
from tests.support.devnet_world import ETHER, REWARD_TOKEN, SEED, WETH

ACCOUNT = sc.operator_account(SEED, 0)


def avs_msg(**changes: object) -> avs_tx.RegisterAVSReq:
    rules = sc.AvsRules(
        address="0x" + "ab" * 20, name="a", asset_ids=(WETH,), reward_tokens=((REWARD_TOKEN, 1),)
    )
    msg = rules.msg()
    for name, value in changes.items():
        field = getattr(msg.info, name)
        if isinstance(value, list):
            del field[:]
            field.extend(value)
        else:
            setattr(msg.info, name, value)
    return msg


def test_tx_round_trip_and_unique_hashes() -> None:
    delegate = sc.delegate_msg(sc.staker_address(SEED, 1), WETH, ACCOUNT, 5 * ETHER)
    raw_1, raw_2 = encode_tx(1, delegate), encode_tx(2, delegate)
    assert raw_1 != raw_2
    decoded = decode_tx(raw_2)
    assert decoded.sequence == 2 and decoded.type_url == "/exocore.delegation.v1.MsgDelegation"
    assert isinstance(decoded.msg, Delegate) and decoded.msg.amount == 5 * ETHER
    assert type_url(delegate) == decoded.type_url
    with pytest.raises(InvalidRequestError, match="no message"):
        decode_tx(tx.Tx(sequence=3).SerializeToString())
    with pytest.raises(InvalidRequestError, match="undecodable"):
        decode_tx(b"\xff\xff\xff")
    with pytest.raises(InvalidRequestError, match="not a devnet transaction"):
        parse_msg(tx.MsgAdvanceBlocks(count=1))


def test_register_avs_defaults_and_rules() -> None:
    parsed = parse_msg(avs_msg())
    assert isinstance(parsed, RegisterAvs)
    assert parsed.claim_threshold == TWO_THIRDS and parsed.slash_proportion == 5 * 10**16
    ninety = parse_msg(avs_msg(threshold_numerator=9, threshold_denominator=10))
    assert isinstance(ninety, RegisterAvs) and ninety.claim_threshold == Threshold(9, 10)
    cases: list[tuple[dict[str, object], str]] = [
        ({"committee_size": 0}, "committee size"),
        ({"asset_ids": []}, "at least one asset"),
        ({"asset_ids": [WETH, WETH]}, "same asset twice"),
        ({"threshold_numerator": 3, "threshold_denominator": 3}, "claim threshold"),
        ({"slash_proportion": "0"}, "slash proportion"),
        ({"min_self_delegation_usd": "1.123456789"}, "decimal places"),
        ({"avs_address": "0x1234"}, "avs address"),
    ]
    for changes, match in cases:
        with pytest.raises(InvalidRequestError, match=match):
            parse_msg(avs_msg(**changes))


def test_operator_and_stake_messages() -> None:
    parsed = parse_msg(sc.register_operator_msg(ACCOUNT, ACCOUNT.address, "0.25"))
    assert isinstance(parsed, RegisterOperator) and parsed.commission_rate == 25 * 10**16
    with pytest.raises(CommissionError, match=r"^commission cannot be more than the max rate$"):
        parse_msg(sc.register_operator_msg(ACCOUNT, ACCOUNT.address, "1.5"))
    named = parse_msg(sc.register_operator_msg(ACCOUNT, ACCOUNT.address, "0", name="Operator Zero"))
    assert isinstance(named, RegisterOperator) and named.name == "Operator Zero"
    assert named.reward_address == ACCOUNT.address and named.commission_rate == 0
    foreign = sc.register_operator_msg(ACCOUNT, ACCOUNT.address, "0.1")
    foreign.from_address = "cosmos1xyz"
    with pytest.raises(InvalidRequestError, match="operator address"):
        parse_msg(foreign)
    # commission_rates.rate is a LegacyDec in protobuf form (value x 10^18), not "0.1".
    decimal_text = sc.register_operator_msg(ACCOUNT, ACCOUNT.address, "0.1")
    decimal_text.info.commission.commission_rates.rate = "0.1"
    with pytest.raises(InvalidRequestError, match="decimal integer"):
        parse_msg(decimal_text)
    no_earning_address = sc.register_operator_msg(ACCOUNT, ACCOUNT.address, "0.1")
    del no_earning_address.info.client_chain_earnings_addr.earning_info_list[:]
    with pytest.raises(InvalidRequestError, match="earning address"):
        parse_msg(no_earning_address)
    # Upstream's MsgDelegation may list several operators; the devnet takes exactly one per message.
    delegate = sc.delegate_msg(sc.staker_address(SEED, 1), WETH, ACCOUNT, 1)
    delegate.base_info.per_operator_amounts.add().CopyFrom(delegate.base_info.per_operator_amounts[0])
    with pytest.raises(InvalidRequestError, match="exactly one operator, got 2"):
        parse_msg(delegate)
    del delegate.base_info.per_operator_amounts[:]
    with pytest.raises(InvalidRequestError, match="exactly one operator, got 0"):
        parse_msg(delegate)
    delegate = sc.delegate_msg(sc.staker_address(SEED, 1), WETH, ACCOUNT, 1)
    delegate.base_info.per_operator_amounts[0].value.amount = "0"
    with pytest.raises(InvalidRequestError, match="positive"):
        parse_msg(delegate)
    delegate.base_info.per_operator_amounts[0].value.amount = "1e18"
    with pytest.raises(InvalidRequestError, match="decimal integer"):
        parse_msg(delegate)
    instant = undelegation_msg(
        staker="0x" + sc.staker_address(SEED, 1).hex(), operator=str(ACCOUNT), asset_id=WETH, amount=1
    )
    instant.instant_unbonding = True
    with pytest.raises(InvalidRequestError, match="instant_unbonding is not supported"):
        parse_msg(instant)


LEGACY_ONE = 10**18
ERR_CHANGE_GT_MAX = "commission change rate cannot be more than the max rate"


@pytest.mark.parametrize(
    ("rate", "max_rate", "max_change_rate", "code", "text"),
    [
        # CommissionRates.Validate, in the SDK's order (x/staking codes and texts).
        (0, -1, 0, 9, "commission must be positive"),
        (0, LEGACY_ONE + 1, 0, 10, "commission cannot be more than 100%"),
        (-1, LEGACY_ONE, 0, 9, "commission must be positive"),
        (LEGACY_ONE // 2 + 1, LEGACY_ONE // 2, 0, 11, "commission cannot be more than the max rate"),
        (0, LEGACY_ONE // 2, -1, 13, "commission change rate must be positive"),
        (
            0,
            LEGACY_ONE // 2,
            LEGACY_ONE // 2 + 1,
            14,
            "commission change rate cannot be more than the max rate",
        ),
        # max_rate unset (0) with a positive rate: above the max rate.
        (1, None, None, 11, "commission cannot be more than the max rate"),
    ],
)
def test_commission_is_validated_like_sdk_staking(
    rate: int, max_rate: int | None, max_change_rate: int | None, code: int, text: str
) -> None:
    msg = sc.register_operator_msg(ACCOUNT, ACCOUNT.address, "0")
    rates = msg.info.commission.commission_rates
    rates.rate = str(rate)
    rates.max_rate = "" if max_rate is None else str(max_rate)
    rates.max_change_rate = "" if max_change_rate is None else str(max_change_rate)
    with pytest.raises(CommissionError) as refused:
        parse_msg(msg)
    assert (refused.value.code, refused.value.codespace, str(refused.value)) == (code, "staking", text)


def test_commission_within_its_bounds_is_stored_with_them() -> None:
    msg = sc.register_operator_msg(ACCOUNT, ACCOUNT.address, "0.2")
    rates = msg.info.commission.commission_rates
    rates.max_rate, rates.max_change_rate = str(LEGACY_ONE // 5), str(LEGACY_ONE // 100)
    parsed = parse_msg(msg)
    assert isinstance(parsed, RegisterOperator)
    assert (parsed.commission_rate, parsed.max_commission_rate, parsed.max_commission_change_rate) == (
        LEGACY_ONE // 5,
        LEGACY_ONE // 5,
        LEGACY_ONE // 100,
    )
