"""Keys of a validator set: the gateway refuses keys outside the G1 prime-order subgroup at install
(one G1MSM over all keys), and a rogue key shows why every new key needs a proof of possession
checked off chain (the deploy, the devnet genesis and the relayer check it; the gateway cannot)."""

from __future__ import annotations

import pytest
from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak

from devnet.l1_deploy import GenesisValset, GenesisValsetRefusedError, deploy_l1
from relayer.protocol.bls import CURVE_ORDER, SecretKey, pop_prove, sign
from relayer.protocol.packets import FundingMode, Packet, PacketKind
from tests.support.l1_contracts import (
    EXOCORE_CHAIN,
    Attestation,
    System,
    ValidatorSet,
    distribution_payload,
    distribution_tree,
    fresh_addresses,
    off_subgroup_g1_point,
    reverts,
    rogue_key,
    transact,
)


def update_call(
    system: System, keys: list[bytes], powers: list[int], nonce: int, new_valset: int = 9
) -> None:
    raw = abi_encode(("uint64", "bytes[]", "uint256[]"), (new_valset, keys, powers))
    digest = system.gateway.functions.packetDigest(
        system.valset.nonce, int(PacketKind.VALSET_UPDATE), nonce, keccak(raw)
    ).call()
    system.gateway.functions.updateValset(
        system.valset.nonce, nonce, raw, system.valset.attest(digest).as_abi()
    ).call()


def test_key_outside_the_subgroup_is_refused_at_install(system: System) -> None:
    good = ValidatorSet.generate(3, nonce=9, seed=31)
    bad = off_subgroup_g1_point()
    with reverts("PublicKeyNotInSubgroup"):
        update_call(system, [good.pubkeys[0], bad, good.pubkeys[2]], [1, 1, 1], nonce=40)
    # An off-curve key is still named as malformed, not as off-subgroup.
    off_curve = good.pubkeys[1][:-1] + bytes([good.pubkeys[1][-1] ^ 1])
    with reverts("InvalidPublicKey"):
        update_call(system, [good.pubkeys[0], off_curve, bad], [1, 1, 1], nonce=41)


def test_rogue_key_lets_one_holder_sign_for_the_whole_set(system: System) -> None:
    """What the off-chain PoP check prevents: installed without it, a set holding a rogue key
    accepts a full-bitmap attestation made by the rogue key's holder alone."""
    honest = ValidatorSet.generate(3, nonce=9, seed=32)
    attacker = SecretKey.from_int(123456789 % CURVE_ORDER)
    rogue = rogue_key(honest.pubkeys, attacker)
    keys = [*honest.pubkeys, rogue]
    raw = abi_encode(("uint64", "bytes[]", "uint256[]"), (9, keys, [10, 10, 10, 10]))
    digest = system.gateway.functions.packetDigest(
        system.valset.nonce, int(PacketKind.VALSET_UPDATE), 40, keccak(raw)
    ).call()
    update = system.gateway.functions.updateValset(
        system.valset.nonce, 40, raw, system.valset.attest(digest).as_abi()
    )
    transact(system, update)
    tree = distribution_tree(fresh_addresses(2, seed=41), [1, 2])
    payload = distribution_payload(
        tree, token=system.deployment.reward_token, funding=FundingMode.MINT, avs=system.accounts[3]
    )
    base = system.packet(payload, nonce=41)
    packet = Packet(
        exocore_chain=base.exocore_chain,
        l1_chain_id=base.l1_chain_id,
        gateway=base.gateway,
        valset_nonce=9,
        nonce=41,
        payload=payload,
    )
    forged = Attestation(bytes([0b1111]), sign(attacker, packet.digest).to_eip2537())
    assert system.gateway.functions.verifyAttestation(packet.digest, forged.as_abi()).call() is True
    deliver_forged = system.gateway.functions.submitDistribution(9, 41, packet.payload_bytes, forged.as_abi())
    transact(system, deliver_forged)


def test_deploy_refuses_a_genesis_set_without_proofs_of_possession(
    deployed: System, genesis_set: ValidatorSet
) -> None:
    """The rogue key's holder proves what it can (a PoP with its own secret ``a``): refused, and so is
    a set with a proof missing; nothing is deployed."""
    honest = ValidatorSet.generate(3, nonce=1, seed=33)
    attacker = SecretKey.from_int(987654321)
    rogue = rogue_key(honest.pubkeys, attacker)
    best_effort = pop_prove(attacker).compressed
    sent_before = deployed.w3.eth.get_transaction_count(deployed.deployer)
    key = deployed.node.dev_accounts()[0].private_key
    for genesis in (
        GenesisValset(1, (*honest.pubkeys, rogue), (10, 10, 10, 10), (*honest.pops, best_effort)),
        GenesisValset(1, honest.pubkeys, (10, 10, 10), (*honest.pops[:2], b"")),
        GenesisValset(1, honest.pubkeys, (10, 10, 10), honest.pops[:2]),
    ):
        with pytest.raises(GenesisValsetRefusedError):
            deploy_l1(deployed.w3, key, genesis, EXOCORE_CHAIN)
    assert deployed.w3.eth.get_transaction_count(deployed.deployer) == sent_before
