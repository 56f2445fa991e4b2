"""Everything a lying relayer, a forged packet or a stranger can try: each reverts with a named error."""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak
from web3 import Web3

from relayer.l1.artifacts import ContractName, load_artifact
from relayer.protocol.merkle import DistributionTree
from relayer.protocol.packets import (
    DOMAIN,
    FundingMode,
    Packet,
    PacketKind,
    SlashPayload,
    ValsetUpdatePayload,
)
from relayer.protocol.types import Amount, Hash32, Power, as_address
from tests.support.l1_contracts import (
    EXOCORE_CHAIN,
    Attestation,
    System,
    ValidatorSet,
    claim_call,
    deliver,
    distribution_payload,
    distribution_tree,
    encode_digest,
    events_of,
    fresh_addresses,
    leaf_abi,
    packet_call,
    payout_call,
    reverts,
    transact,
)

ETHER = 10**18


def mint_distribution(
    system: System, nonce: int, *, count: int = 8, total: int | None = None
) -> tuple[Packet, DistributionTree]:
    tree = distribution_tree(fresh_addresses(count, seed=nonce), [1000 + i for i in range(count)])
    payload = distribution_payload(
        tree,
        token=system.deployment.reward_token,
        funding=FundingMode.MINT,
        avs=system.accounts[3],
        total=total,
    )
    packet = system.packet(payload, nonce=nonce)
    deliver(system, packet)
    return packet, tree


def some_packet(system: System, nonce: int = 40) -> Packet:
    tree = distribution_tree(fresh_addresses(2, seed=99), [1, 2])
    payload = distribution_payload(
        tree, token=system.deployment.reward_token, funding=FundingMode.MINT, avs=system.accounts[3]
    )
    return system.packet(payload, nonce=nonce)


# ---------------------------------------------------------------- signatures and quorum


def test_forged_signature(system: System) -> None:
    packet = some_packet(system)
    outsiders = ValidatorSet.generate(6, nonce=1, seed=666)
    att = Attestation(system.valset.bitmap(range(6)), outsiders.sign_digest(packet.digest, range(6)))
    with reverts("InvalidSignature"):
        packet_call(system, packet, att).call()


def test_garbage_and_identity_signatures(system: System) -> None:
    packet = some_packet(system)
    bitmap = system.valset.bitmap(range(6))
    for signature in (
        bytes(256),
        b"\x01" * 256,
        bytes(255),
        system.valset.sign_digest(packet.digest, range(6))[:-1],
    ):
        with reverts("InvalidSignature"):
            packet_call(system, packet, Attestation(bitmap, signature)).call()


def test_signer_not_in_set(system: System) -> None:
    packet = some_packet(system)
    outsider = ValidatorSet.generate(1, nonce=1, seed=777)
    # Five members sign, an outsider adds its signature; the bitmap can only name members.
    mixed = ValidatorSet(nonce=1, secrets=(*system.valset.secrets[:5], outsider.secrets[0]), powers=(10,) * 6)
    att = Attestation(system.valset.bitmap(range(6)), mixed.sign_digest(packet.digest, range(6)))
    with reverts("InvalidSignature"):
        packet_call(system, packet, att).call()


@pytest.mark.parametrize(
    "bitmap",
    [b"", b"\x3f\x00", bytes([0b0111_1111]), bytes([0b1011_1111]), bytes([0xFF])],
    ids=["empty", "too-long", "stray-bit-6", "stray-bit-7", "all-bits"],
)
def test_malformed_signer_bitmap(system: System, bitmap: bytes) -> None:
    packet = some_packet(system)
    att = Attestation(bitmap, system.valset.sign_digest(packet.digest, range(6)))
    with reverts("InvalidSignerBitmap"):
        packet_call(system, packet, att).call()


def test_power_exactly_two_thirds_is_not_enough(system: System) -> None:
    packet = some_packet(system)
    # Four of six validators of power 10: 40 * 3 == 60 * 2, not strictly more.
    with reverts("InsufficientQuorum"):
        packet_call(system, packet, system.valset.attest(packet.digest, [0, 2, 3, 5])).call()
    deliver(system, packet, signers=[0, 2, 3, 4, 5])


def test_bitmap_claiming_more_signers_than_signed(system: System) -> None:
    packet = some_packet(system)
    att = Attestation(system.valset.bitmap(range(6)), system.valset.sign_digest(packet.digest, range(5)))
    with reverts("InvalidSignature"):
        packet_call(system, packet, att).call()


@pytest.mark.parametrize("valset_nonce", [0, 2, 2**64 - 1])
def test_unknown_valset_nonce(system: System, valset_nonce: int) -> None:
    base = some_packet(system)
    packet = Packet(
        exocore_chain=base.exocore_chain,
        l1_chain_id=base.l1_chain_id,
        gateway=base.gateway,
        valset_nonce=valset_nonce,
        nonce=base.nonce,
        payload=base.payload,
    )
    with reverts("UnknownValset"):
        packet_call(system, packet, system.valset.attest(packet.digest)).call()


@pytest.mark.parametrize("field", ["domain", "l1ChainId", "gateway", "exocoreChain", "kind", "nonce"])
def test_digest_bound_to_every_field(system: System, field: str) -> None:
    packet = some_packet(system)
    fields: dict[str, Any] = {
        "domain": DOMAIN,
        "chain_id": packet.l1_chain_id,
        "gateway": Web3.to_checksum_address(packet.gateway),
        "exocore_chain": EXOCORE_CHAIN,
        "valset_nonce": packet.valset_nonce,
        "kind": int(packet.kind),
        "nonce": packet.nonce,
        "payload_hash": packet.payload_hash,
    }
    assert encode_digest(**fields) == packet.digest  # the untouched layout is the protocol's
    wrong = {
        "domain": ("domain", keccak(b"EXORELAY_PACKET_V2")),
        "l1ChainId": ("chain_id", 1),
        "gateway": ("gateway", system.deployment.reward_vault),
        "exocoreChain": ("exocore_chain", keccak(b"exocoretestnet_234")),
        "kind": ("kind", int(PacketKind.SLASH)),
        "nonce": ("nonce", packet.nonce + 1),
    }[field]
    forged_digest = encode_digest(**{**fields, wrong[0]: wrong[1]})
    with reverts("InvalidSignature"):
        packet_call(system, packet, system.valset.attest(forged_digest)).call()


# ---------------------------------------------------------------- replay and valset nonces


def test_replayed_nonce(system: System) -> None:
    packet = some_packet(system, nonce=12)
    deliver(system, packet)
    with reverts("NonceAlreadyUsed"):
        packet_call(system, packet, system.valset.attest(packet.digest)).call()
    # The same nonce under another kind is the same nonce.
    slash = system.packet(
        SlashPayload(
            slash_id=Hash32(b"\x01" * 32),
            operator=as_address(system.accounts[8]),
            avs=as_address(system.accounts[3]),
            tokens=(as_address(system.deployment.weth),),
            amounts=(Amount(0),),
            freeze=False,
        ),
        nonce=12,
    )
    with reverts("NonceAlreadyUsed"):
        packet_call(system, slash, system.valset.attest(slash.digest)).call()


@pytest.mark.parametrize("new_nonce", [0, 1])
def test_valset_update_must_raise_nonce(system: System, new_nonce: int) -> None:
    same = ValidatorSet.generate(4, nonce=new_nonce, seed=3)
    packet = system.packet(same.update_payload(), nonce=20)
    with reverts("ValsetNonceNotIncreasing"):
        packet_call(system, packet, system.valset.attest(packet.digest)).call()


def test_replayed_valset_update_is_stale(system: System) -> None:
    new_set = ValidatorSet.generate(4, nonce=2, seed=4)
    packet = system.packet(new_set.update_payload(), nonce=21)
    deliver(system, packet)
    with reverts("StaleValset"):
        packet_call(system, packet, system.valset.attest(packet.digest)).call()


def test_valset_update_rejects_bad_keys_and_powers(system: System) -> None:
    good = ValidatorSet.generate(3, nonce=9, seed=5)
    off_curve = good.pubkeys[0][:-1] + bytes([good.pubkeys[0][-1] ^ 1])
    cases = [
        ((good.pubkeys[0], off_curve, good.pubkeys[2]), (1, 1, 1), "InvalidPublicKey"),
        ((good.pubkeys[0], bytes(128), good.pubkeys[2]), (1, 1, 1), "InvalidPublicKey"),
        ((good.pubkeys[0], good.pubkeys[1][:127], good.pubkeys[2]), (1, 1, 1), "InvalidPublicKey"),
        (good.pubkeys, (1, 0, 1), "InvalidPower"),
        (good.pubkeys, (2**255, 2**255, 1), "InvalidPower"),
        (good.pubkeys, (1, 1), "ValsetLengthMismatch"),
        ((), (), "InvalidValsetSize"),
    ]
    for nonce, (keys, powers, error) in enumerate(cases, start=30):
        raw = abi_encode(("uint64", "bytes[]", "uint256[]"), (9, list(keys), list(powers)))
        digest = system.gateway.functions.packetDigest(1, 1, nonce, keccak(raw)).call()
        att = system.valset.attest(digest)
        with reverts(error):
            system.gateway.functions.updateValset(1, nonce, raw, att.as_abi()).call()
    # What the protocol layer builds is accepted.
    deliver(system, system.packet(ValsetUpdatePayload(9, good.pubkeys, (Power(1),) * 3), nonce=50))


def test_distribution_payload_rules(system: System) -> None:
    token = system.deployment.reward_token
    avs = system.accounts[3]
    root = b"\x77" * 32
    types = ("bytes32", "address", "uint64", "address", "uint8", "uint256", "uint32", "bytes32")
    cases = [
        ((b"\x01" * 32, avs, 1, token, 4, 10, 2, root), "InvalidFundingMode"),
        ((b"\x01" * 32, avs, 1, token, 0, 10, 2, root), "InvalidFundingMode"),
        ((b"\x01" * 32, avs, 1, "0x" + "00" * 20, 1, 10, 2, root), "InvalidDistribution"),
        ((b"\x01" * 32, avs, 1, token, 1, 10, 0, root), "InvalidDistribution"),
        ((b"\x01" * 32, avs, 1, token, 1, 10, 2, bytes(32)), "InvalidDistribution"),
        ((b"\x01" * 32, avs, 1, token, 1, 2**128, 2, root), "AmountTooLarge"),
    ]
    for nonce, (values, error) in enumerate(cases, start=60):
        raw = abi_encode(types, values)
        digest = system.gateway.functions.packetDigest(1, 2, nonce, keccak(raw)).call()
        with reverts(error):
            system.gateway.functions.submitDistribution(
                1, nonce, raw, system.valset.attest(digest).as_abi()
            ).call()


# ---------------------------------------------------------------- payouts


def test_leaf_not_in_tree(system: System) -> None:
    packet, tree = mint_distribution(system, nonce=70)
    dist = packet.distribution_id
    leaf = tree.leaf(2)
    forged = (leaf.index, Web3.to_checksum_address(leaf.staker), leaf.amount + 1)
    with reverts("InvalidMerkleProof"):
        system.gateway.functions.claim(dist, forged, list(tree.proof(2))).call()
    multi = tree.multiproof([1, 2, 3])
    leaves = [leaf_abi(item) for item in multi.leaves]
    leaves[1] = (leaves[1][0], system.accounts[9], leaves[1][2])
    with reverts("InvalidMerkleProof"):
        system.gateway.functions.payout(dist, leaves, list(multi.proof), list(multi.proof_flags)).call()
    with reverts("UnknownDistribution"):
        claim_call(system, b"\x42" * 32, tree, 0).call()
    with reverts("EmptyBatch"):
        system.gateway.functions.payout(dist, [], [tree.root], []).call()


def test_leaf_paid_twice_across_batch_and_claim(system: System) -> None:
    packet, tree = mint_distribution(system, nonce=71)
    dist = packet.distribution_id
    transact(system, payout_call(system, dist, tree, [0, 1, 2]))
    with reverts("LeafAlreadyPaid"):
        claim_call(system, dist, tree, 1).call()
    # A batch skips its paid leaves (no event) and pays the rest.
    receipt = transact(system, payout_call(system, dist, tree, [2, 3]))
    assert [e["args"]["index"] for e in events_of(system.gateway.events.RewardPaid, receipt)] == [3]
    transact(system, claim_call(system, dist, tree, 5))
    receipt = transact(system, payout_call(system, dist, tree, [4, 5, 6]))
    assert sorted(e["args"]["index"] for e in events_of(system.gateway.events.RewardPaid, receipt)) == [4, 6]
    with reverts("LeafAlreadyPaid"):
        claim_call(system, dist, tree, 5).call()
    for index in range(7):
        leaf = tree.leaf(index)
        assert system.reward_token.functions.balanceOf(leaf.staker).call() == leaf.amount
    assert system.gateway.functions.distribution(dist).call()[7] == sum(tree.leaf(i).amount for i in range(7))


def test_leaf_index_beyond_leaf_count(system: System) -> None:
    tree = distribution_tree(fresh_addresses(4, seed=72), [1, 2, 3, 4])
    payload = distribution_payload(
        tree, token=system.deployment.reward_token, funding=FundingMode.MINT, avs=system.accounts[3]
    )
    # Exocore signs a root over four leaves but a leafCount of three.
    short = type(payload)(
        claim_id=payload.claim_id,
        avs=payload.avs,
        epoch=payload.epoch,
        token=payload.token,
        funding=payload.funding,
        total=payload.total,
        leaf_count=3,
        merkle_root=payload.merkle_root,
    )
    packet = system.packet(short, nonce=72)
    deliver(system, packet)
    with reverts("LeafIndexOutOfRange"):
        claim_call(system, packet.distribution_id, tree, 3).call()
    transact(system, claim_call(system, packet.distribution_id, tree, 2))


def test_payout_beyond_total(system: System) -> None:
    # Leaves sum to 8 * 1000 + 28 = 8028; the signed total is 5000.
    packet, tree = mint_distribution(system, nonce=73, total=5000)
    dist = packet.distribution_id
    with reverts("ExceedsTotal"):
        payout_call(system, dist, tree, range(8)).call()
    transact(system, payout_call(system, dist, tree, [0, 1, 2, 3]))
    with reverts("ExceedsTotal"):
        claim_call(system, dist, tree, 4).call()
    assert system.gateway.functions.distribution(dist).call()[7] == 4006


def test_vault_overdraw(system: System) -> None:
    avs = system.accounts[4]
    other_avs = system.accounts[5]
    for who, amount in ((avs, 1000), (other_avs, 10**6)):
        transact(system, system.reward_vault.functions.depositETH(who), sender=who, value=amount)
    tree = distribution_tree(fresh_addresses(3, seed=74), [600, 300, 200])
    payload = distribution_payload(tree, token=system.deployment.weth, funding=FundingMode.VAULT, avs=avs)
    packet = system.packet(payload, nonce=74)
    deliver(system, packet)
    dist = packet.distribution_id
    # 1100 > 1000 deposited by this AVS (another AVS's deposit is not reachable).
    with reverts("InsufficientDeposit"):
        payout_call(system, dist, tree, [0, 1, 2]).call()
    transact(system, payout_call(system, dist, tree, [0, 1]))
    with reverts("InsufficientDeposit"):
        claim_call(system, dist, tree, 2).call()
    assert system.reward_vault.functions.balanceOf(avs, system.deployment.weth).call() == 100
    assert system.reward_vault.functions.balanceOf(other_avs, system.deployment.weth).call() == 10**6


def test_vaults_pay_only_the_gateway(system: System) -> None:
    stranger = system.accounts[6]
    for source in (2, 3):  # VAULT deposits and FEES alike
        with reverts("OnlyGateway"):
            system.reward_vault.functions.pay(stranger, system.deployment.weth, source, stranger, 1).call(
                {"from": stranger}
            )
        with reverts("OnlyGateway"):
            system.reward_vault.functions.payBatch(stranger, system.deployment.weth, source, [], []).call(
                {"from": stranger}
            )
    with reverts("OnlyGateway"):
        system.restaking_vault.functions.slash(stranger, stranger, [system.deployment.weth], [0], True).call(
            {"from": stranger}
        )
    with reverts("OnlyGateway"):
        system.restaking_vault.functions.registerApprovals(
            b"\x01" * 32, system.deployment.weth, 1, 1, 1, b"\x02" * 32
        ).call({"from": stranger})
    with reverts("AccessControlUnauthorizedAccount"):
        system.reward_token.functions.mint(stranger, 1).call({"from": stranger})


# ---------------------------------------------------------------- slashing


def test_slash_beyond_balance(system: System) -> None:
    """Custody holding less than the slash moves what it holds, emits the shortfall and records
    the freeze: a packet Exocore signed never reverts for it (the bridge never stalls)."""
    staker = system.accounts[7]
    weth = system.weth.functions
    transact(system, weth.deposit(), sender=staker, value=ETHER)
    transact(system, weth.approve(system.deployment.restaking_vault, ETHER), sender=staker)
    transact(
        system,
        system.restaking_vault.functions.delegate(system.accounts[8], system.deployment.weth, ETHER),
        sender=staker,
    )
    payload = SlashPayload(
        slash_id=Hash32(b"\x02" * 32),
        operator=as_address(system.accounts[8]),
        avs=as_address(system.accounts[3]),
        tokens=(as_address(system.deployment.weth),),
        amounts=(Amount(ETHER + 1),),
        freeze=True,
    )
    packet = system.packet(payload, nonce=80)
    receipt = transact(system, packet_call(system, packet, system.valset.attest(packet.digest)))
    (shortfall,) = events_of(system.restaking_vault.events.SlashShortfall, receipt)
    assert (shortfall["args"]["requested"], shortfall["args"]["moved"]) == (ETHER + 1, ETHER)
    assert system.gateway.functions.frozen(system.accounts[8], system.accounts[3]).call() is True


def test_slash_length_mismatch(system: System) -> None:
    raw = abi_encode(
        ("bytes32", "address", "address", "address[]", "uint256[]", "bool"),
        (b"\x03" * 32, system.accounts[8], system.accounts[3], [system.deployment.weth], [1, 2], False),
    )
    digest = system.gateway.functions.packetDigest(1, 3, 81, keccak(raw)).call()
    with reverts("SlashLengthMismatch"):
        system.gateway.functions.executeSlash(1, 81, raw, system.valset.attest(digest).as_abi()).call()


# ---------------------------------------------------------------- admin


def test_non_owner_admin(system: System) -> None:
    stranger = system.accounts[6]
    gateway = system.gateway.functions
    with reverts("OwnableUnauthorizedAccount"):
        gateway.unpause().call({"from": stranger})
    with reverts("OwnableUnauthorizedAccount"):
        gateway.setGuardian(stranger).call({"from": stranger})
    with reverts("OwnableUnauthorizedAccount"):
        gateway.transferOwnership(stranger).call({"from": stranger})
    with reverts("UnauthorizedPauser"):
        gateway.pause().call({"from": stranger})
    # The guardian may pause (emergency) but not unpause.
    guardian = system.deployment.guardian
    transact(system, gateway.pause(), sender=guardian)
    with reverts("OwnableUnauthorizedAccount"):
        gateway.unpause().call({"from": guardian})
    transact(system, gateway.unpause(), sender=system.deployment.owner)


def test_admin_surface_cannot_move_funds_or_forge() -> None:
    mutating = {
        str(entry["name"])
        for entry in load_artifact(ContractName.EXOCORE_GATEWAY).entries("function")
        if entry["stateMutability"] not in ("view", "pure")
    }
    # The only state-changing entry points: packets (signature-checked), payouts (proof-checked),
    # and the pause / ownership / guardian switches, none of which takes an amount or a recipient.
    assert mutating == {
        "updateValset",
        "submitDistribution",
        "executeSlash",
        "submitWithdrawalApproval",
        "submitCumulativeRoot",
        "payout",
        "claim",
        "pause",
        "unpause",
        "setGuardian",
        "transferOwnership",
        "acceptOwnership",
        "renounceOwnership",
    }


def test_calls_while_paused(system: System) -> None:
    packet, tree = mint_distribution(system, nonce=90)
    transact(system, system.gateway.functions.pause(), sender=system.deployment.guardian)
    dist = packet.distribution_id
    with reverts("EnforcedPause"):
        payout_call(system, dist, tree, [0, 1]).call()
    with reverts("EnforcedPause"):
        claim_call(system, dist, tree, 0).call()
    for kind_packet in (
        some_packet(system, nonce=91),
        system.packet(ValidatorSet.generate(2, nonce=3, seed=9).update_payload(), nonce=92),
        system.packet(
            SlashPayload(
                slash_id=Hash32(b"\x04" * 32),
                operator=as_address(system.accounts[8]),
                avs=as_address(system.accounts[3]),
                tokens=(as_address(system.deployment.weth),),
                amounts=(Amount(0),),
                freeze=True,
            ),
            nonce=93,
        ),
    ):
        with reverts("EnforcedPause"):
            packet_call(system, kind_packet, system.valset.attest(kind_packet.digest)).call()
    transact(system, system.gateway.functions.unpause(), sender=system.deployment.owner)
    transact(system, payout_call(system, dist, tree, [0, 1]))
