"""Gateway bindings against the deployed contracts: views, calldata identical to web3's encoding and
accepted by the gateway, and revert decoding of every custom error."""

from __future__ import annotations

import pytest
from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak

from relayer.l1.artifacts import ContractName, load_artifact
from relayer.l1.client import L1Client
from relayer.l1.errors import ExecutionRevertedError
from relayer.l1.gateway import (
    PAYOUT_CALL_TYPES,
    REVERT_SOURCES,
    GatewayClient,
    abi_type,
    decode_revert,
    encode_packet_call,
    encode_payout_call,
    gateway_functions,
    packet_nonce_of,
)
from relayer.protocol.errors import InvalidLengthError
from relayer.protocol.packets import FundingMode, Payload, SlashPayload, encode_payload
from relayer.protocol.types import Amount, Hash32, address_hex, as_address
from tests.support.l1_contracts import (
    EXOCORE_CHAIN,
    System,
    ValidatorSet,
    deliver,
    distribution_payload,
    distribution_tree,
    fresh_addresses,
    leaf_abi,
)


def gateway_of(system: System) -> GatewayClient:
    client = L1Client([system.node.rpc_url], chain_id=system.deployment.chain_id, timeout_s=10)
    return GatewayClient(client, system.deployment.gateway)


def test_views(system: System, genesis_set: ValidatorSet) -> None:
    gateway = gateway_of(system)
    assert gateway.code_exists()
    assert not GatewayClient(gateway.client, system.accounts[3]).code_exists()
    assert gateway.current_valset_nonce() == genesis_set.nonce
    assert gateway.valset_commitment() == keccak(encode_payload(genesis_set.update_payload()))
    assert gateway.valset_total_power() == genesis_set.total_power
    assert gateway.exocore_chain() == EXOCORE_CHAIN
    assert gateway.reward_vault() == address_hex(as_address(system.deployment.reward_vault))
    assert gateway.restaking_vault() == address_hex(as_address(system.deployment.restaking_vault))
    assert not gateway.nonce_used(7)
    assert gateway.distribution(b"\x42" * 32) is None


def test_distribution_and_payout_views_follow_the_chain(system: System) -> None:
    gateway = gateway_of(system)
    stakers = fresh_addresses(5, seed=11)
    tree = distribution_tree(stakers, [100, 200, 300, 400, 500])
    avs = system.accounts[4]
    payload = distribution_payload(
        tree, token=system.deployment.reward_token, funding=FundingMode.MINT, avs=avs
    )
    packet = system.packet(payload, nonce=7)
    deliver(system, packet)
    assert gateway.nonce_used(7)
    stored = gateway.distribution(packet.distribution_id)
    assert stored is not None
    assert stored.root == tree.root and stored.leaf_count == 5 and stored.funding is FundingMode.MINT
    assert stored.token == as_address(system.deployment.reward_token) and stored.avs == as_address(avs)
    assert (stored.epoch, stored.total, stored.paid) == (payload.epoch, 1500, 0)

    multi = tree.multiproof([1, 3])
    calldata = encode_payout_call(packet.distribution_id, multi.leaves, multi.proof, multi.proof_flags)
    expected = system.gateway.encode_abi(
        "payout",
        args=[packet.distribution_id, [leaf_abi(leaf) for leaf in multi.leaves], list(multi.proof),
              list(multi.proof_flags)],
    )  # fmt: skip
    assert "0x" + calldata.hex() == expected
    system.w3.eth.wait_for_transaction_receipt(
        system.w3.eth.send_transaction(
            {"from": system.accounts[2], "to": system.deployment.gateway, "data": calldata}
        )
    )
    assert gateway.is_paid(packet.distribution_id, 1) and gateway.is_paid(packet.distribution_id, 3)
    assert not gateway.is_paid(packet.distribution_id, 0)
    after = gateway.distribution(packet.distribution_id)
    assert after is not None and after.paid == 600


def test_packet_calldata_matches_web3_for_every_kind(system: System, genesis_set: ValidatorSet) -> None:
    tree = distribution_tree(fresh_addresses(2, seed=3), [1, 2])
    slash = SlashPayload(
        slash_id=Hash32(b"\x05" * 32),
        operator=as_address(system.accounts[3]),
        avs=as_address(system.accounts[4]),
        tokens=(as_address(system.deployment.weth),),
        amounts=(Amount(9),),
        freeze=True,
    )
    payloads: list[Payload] = [
        ValidatorSet.generate(3, nonce=2, seed=9).update_payload(),
        distribution_payload(
            tree, token=system.deployment.reward_token, funding=FundingMode.MINT, avs=system.accounts[4]
        ),
        slash,
    ]
    names = ["updateValset", "submitDistribution", "executeSlash"]
    for nonce, (payload, name) in enumerate(zip(payloads, names, strict=True), start=1):
        packet = system.packet(payload, nonce=nonce)
        att = genesis_set.attest(packet.digest)
        calldata = encode_packet_call(packet, att.bitmap, att.signature)
        expected = system.gateway.encode_abi(
            name, args=[packet.valset_nonce, packet.nonce, packet.payload_bytes, att.as_abi()]
        )
        assert "0x" + calldata.hex() == expected
        assert packet_nonce_of(calldata) == nonce
    with pytest.raises(InvalidLengthError):
        encode_packet_call(packet, att.bitmap, att.signature[:-1])
    with pytest.raises(InvalidLengthError):
        encode_packet_call(packet, b"", att.signature)


def test_payout_shape_is_checked_before_encoding() -> None:
    tree = distribution_tree(fresh_addresses(4, seed=5), [1, 2, 3, 4])
    multi = tree.multiproof([0, 2])
    with pytest.raises(InvalidLengthError, match="multiproof shape"):
        encode_payout_call(b"\x01" * 32, multi.leaves, multi.proof, multi.proof_flags[:-1])
    assert (
        packet_nonce_of(encode_payout_call(b"\x01" * 32, multi.leaves, multi.proof, multi.proof_flags))
        is None
    )
    with pytest.raises(InvalidLengthError, match="at least one leaf"):
        encode_payout_call(b"\x01" * 32, [], [], [])


def test_hand_laid_payout_calldata_equals_the_generic_abi_encoding() -> None:
    amounts = [2**255, 2**254, *(10**18 + i for i in range(60))]
    tree = distribution_tree(fresh_addresses(len(amounts), seed=6), amounts)
    generic = gateway_functions()["payout"]
    for indices in ([0], [0, 1], list(range(0, 62, 3)), list(range(62))):
        multi = tree.multiproof(indices)
        expected = generic.selector + abi_encode(
            PAYOUT_CALL_TYPES,
            (
                b"\x07" * 32,
                [(leaf.index, bytes(leaf.staker), leaf.amount) for leaf in multi.leaves],
                list(multi.proof),
                list(multi.proof_flags),
            ),
        )
        assert encode_payout_call(b"\x07" * 32, multi.leaves, multi.proof, multi.proof_flags) == expected


def test_reverts_decode_from_the_chain(system: System) -> None:
    gateway = gateway_of(system)
    packet = system.packet(ValidatorSet.generate(3, nonce=2, seed=9).update_payload(), nonce=1)
    att = system.valset.attest(packet.digest, [0, 1, 2, 3])  # exactly 2/3: no quorum
    with pytest.raises(ExecutionRevertedError) as info:
        gateway.client.eth_call(
            to=gateway.address, data=encode_packet_call(packet, att.bitmap, att.signature)
        )
    revert = decode_revert(info.value.revert_data)
    assert revert is not None and revert.name == "InsufficientQuorum" and revert.args == (40, 60)
    assert revert.describe() == "InsufficientQuorum(40, 60)"
    # A vault's own error decodes too (RewardVault.deposit of nothing).
    with pytest.raises(ExecutionRevertedError) as info:
        gateway.client.eth_call(
            to=system.deployment.reward_vault,
            data=bytes.fromhex(
                system.reward_vault.encode_abi(
                    "deposit", args=[system.accounts[4], system.deployment.reward_token, 0]
                )[2:]
            ),
            sender=system.accounts[4],
        )
    zero = decode_revert(info.value.revert_data)
    assert zero is not None and zero.name == "ZeroAmount" and zero.args == ()


def test_every_custom_error_round_trips() -> None:
    seen = 0
    for contract in REVERT_SOURCES:
        for entry in load_artifact(contract).entries("error"):
            types = [abi_type(item) for item in entry["inputs"]]
            samples = {"uint256": 7, "uint64": 7, "uint48": 7, "uint32": 7, "uint8": 7,
                       "bytes32": b"\x07" * 32, "address": "0x" + "07" * 20, "bytes": b"\x07",
                       "bool": True, "string": "seven"}  # fmt: skip
            values = [samples[t] for t in types]
            data = keccak(f"{entry['name']}({','.join(types)})".encode())[:4] + abi_encode(types, values)
            info = decode_revert(data)
            assert info is not None and info.name == entry["name"], entry
            assert info.args == tuple(values), entry
            seen += 1
    assert seen > 40
    error = keccak(b"Error(string)")[:4] + abi_encode(["string"], ["boom"])
    assert decode_revert(error) == decode_revert(error) and decode_revert(error).args == ("boom",)  # type: ignore[union-attr]
    panic = decode_revert(keccak(b"Panic(uint256)")[:4] + abi_encode(["uint256"], [0x11]))
    assert panic is not None and (panic.name, panic.args) == ("Panic", (0x11,))
    assert decode_revert(b"") is None and decode_revert(b"\x01\x02\x03\x04") is None
    truncated = decode_revert(keccak(b"StaleValset(uint64,uint64)")[:4] + b"\x00")
    assert truncated is not None and (truncated.name, truncated.args) == ("StaleValset", ())
    assert ContractName.EXOCORE_GATEWAY in REVERT_SOURCES
