"""Relay validator sets: VALSET_UPDATE packets, signing sets, proofs of possession, fault knobs."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest

from devnet import scenario as sc
from devnet.chain import events as ev
from devnet.chain.blockstore import Validator, ValidatorUpdate
from devnet.chain.params import Genesis, GenesisError, devnet_validators
from devnet.chain.state import ChainRuleError
from relayer.exocore.proto.devnet.v1 import tx_pb2 as tx
from relayer.protocol import bls
from relayer.protocol.packets import PacketKind, ValsetUpdatePayload, decode_payload
from tests.support.devnet_world import SEED, World, genesis, standard_world, verify_packet


def new_validator(index: int) -> tuple[bytes, bls.SecretKey]:
    consensus = hashlib.sha256(b"new-validator-%d" % index).digest()
    return consensus, bls.secret_key_from_seed(hashlib.sha256(b"new-bls-%d" % index).digest())


def test_power_change_creates_a_valset_update_signed_by_the_outgoing_set() -> None:
    world, avs = standard_world()
    genesis = devnet_validators(SEED, 4)
    consensus, secret = new_validator(1)
    world.node.submit(sc.validator_msg(consensus, secret, 50))
    world.node.submit(tx.MsgSetValidatorPower(consensus_pubkey=genesis[0].consensus_pubkey, power="300"))
    change_height = world.node.produce_block().height
    assert world.node.current_valset().valset_nonce == 1  # type: ignore[union-attr]
    block = world.node.produce_block()  # the next block rotates the set
    [updated] = [e for e in block.begin_block_events if e.type == ev.VALSET_UPDATED]
    assert updated.get("valset_nonce") == "2" and updated.get("previous_valset_nonce") == "1"
    nonce = int(updated.get("packet_nonce") or 0)
    packet = world.node.packet(nonce)
    assert packet is not None and int(packet.kind) == PacketKind.VALSET_UPDATE and packet.valset_nonce == 1
    payload = decode_payload(packet.kind, packet.payload)
    assert isinstance(payload, ValsetUpdatePayload) and payload.new_valset_nonce == 2
    assert payload.powers == (300, 100, 100, 100, 50)
    assert payload.pubkeys[-1] == bls.public_key_of(secret).to_eip2537()
    verify_packet(world, nonce, 1)
    current = world.node.current_valset()
    assert current is not None and current.valset_nonce == 2 and current.created_height == block.height
    # Later packets are signed by the new set, including the new validator.
    committee = world.committee(avs)
    claim = world.claim(committee, range(len(committee.pubkeys)))
    world.node.produce_block()
    distribution = world.node.distribution_for_claim(claim.claim_id)
    assert distribution is not None and distribution.nonce > nonce
    verify_packet(world, distribution.nonce, 2)
    assert len(world.node.packet_signatures(distribution.nonce)) == 5
    # CometBFT: the updates are in the end-block of the changing block, effective two heights later.
    changed = world.node.store.get(change_height)
    assert changed is not None
    assert set(changed.validator_updates) == {
        ValidatorUpdate(genesis[0].consensus_pubkey, 300),
        ValidatorUpdate(consensus, 50),
    }
    later = world.node.store.get(change_height + 2)
    assert later is not None and Validator(consensus, 50) in later.validators
    one_after = world.node.store.get(change_height + 1)
    assert one_after is not None and Validator(consensus, 50) not in one_after.validators
    assert Validator(consensus, 50) in one_after.next_validators


def test_validator_admission_rules() -> None:
    world = World.create()
    consensus, secret = new_validator(2)
    msg = sc.validator_msg(consensus, secret, 10)
    bad_pop = tx.MsgSetValidatorPower()
    bad_pop.CopyFrom(msg)
    bad_pop.pop_signature = bls.sign(secret, b"\x00" * 32).compressed
    with pytest.raises(ChainRuleError, match="proof of possession"):
        world.node.submit(bad_pop)
    other = bls.secret_key_from_seed(b"\x07" * 32)
    wrong_secret = tx.MsgSetValidatorPower()
    wrong_secret.CopyFrom(msg)
    wrong_secret.bls_secret_key = other.secret
    with pytest.raises(ChainRuleError, match="does not belong"):
        world.node.submit(wrong_secret)
    genesis = devnet_validators(SEED, 4)
    duplicate = sc.validator_msg(consensus, bls.SecretKey(genesis[1].bls_secret or b""), 10)
    with pytest.raises(ChainRuleError, match="another validator"):
        world.node.submit(duplicate)
    with pytest.raises(ChainRuleError, match="not in the set"):
        world.node.submit(tx.MsgSetValidatorPower(consensus_pubkey=consensus, power="0"))
    for validator in genesis[:3]:
        world.node.submit(tx.MsgSetValidatorPower(consensus_pubkey=validator.consensus_pubkey, power="0"))
    with pytest.raises(ChainRuleError, match="last validator"):
        world.node.submit(tx.MsgSetValidatorPower(consensus_pubkey=genesis[3].consensus_pubkey, power="0"))


def test_fault_knobs_silent_wrong_and_late_signatures() -> None:
    world, avs = standard_world()
    world.node.submit(
        tx.MsgSetFaultKnobs(
            knobs=tx.FaultKnobs(
                silent_validators=[1], wrong_signature_validators=[2], signature_delay_blocks=2
            )
        )
    )
    world.node.produce_block()
    committee = world.committee(avs)
    claim = world.claim(committee, range(len(committee.pubkeys)))
    created = world.node.produce_block().height
    nonce = world.state.claims[claim.claim_id].distribution_nonce
    assert not any(s.signed for s in world.node.packet_signatures(nonce))  # late: not visible yet
    world.node.advance(1)
    assert not any(s.signed for s in world.node.packet_signatures(nonce))
    world.node.advance(1)
    assert world.node.height == created + 2
    signatures = world.node.packet_signatures(nonce)
    assert [s.signed for s in signatures] == [True, False, True, True]
    packet = world.node.packet(nonce)
    assert packet is not None
    for signature in signatures:
        if signature.signed:
            valid = bls.verify(
                bls.parse_public_key(signature.bls_pubkey),
                packet.digest,
                bls.parse_signature(signature.signature),
            )
            assert valid == (signature.index != 2)
    # Only validator 3 late: the others sign at once.
    world.node.submit(tx.MsgSetFaultKnobs(knobs=tx.FaultKnobs(signature_delay_blocks=3, late_validators=[3])))
    world.node.produce_block()
    second = world.claim(committee, range(len(committee.pubkeys)), amount=10**20)
    world.node.produce_block()
    second_nonce = world.state.claims[second.claim_id].distribution_nonce
    assert [s.signed for s in world.node.packet_signatures(second_nonce)] == [True, True, True, False]
    world.node.advance(3)
    assert all(s.signed for s in world.node.packet_signatures(second_nonce))
    # Honest members 0 and 3 alone (200 of 400) do not reach quorum; that is the relayer's problem.
    world.node.submit(tx.MsgSetFaultKnobs(knobs=tx.FaultKnobs()))
    world.node.produce_block()
    assert world.state.knobs.silent_validators == frozenset()


def test_rpc_outage_knob_reaches_the_callback() -> None:
    calls: list[bool] = []
    world = World.create(on_rpc_outage=calls.append)
    world.node.submit(tx.MsgSetFaultKnobs(knobs=tx.FaultKnobs(rpc_outage=True)))
    assert calls == []  # applied when the block commits
    world.node.produce_block()
    world.node.submit(tx.MsgSetFaultKnobs(knobs=tx.FaultKnobs()))
    world.node.produce_block()
    assert calls == [True, False]


def test_genesis_refuses_a_validator_without_proof_of_possession() -> None:
    """The devnet genesis builds the first set: every key needs its IETF proof of possession (a set
    with a key its holder cannot prove is what a rogue-key attack needs)."""
    validators = devnet_validators(SEED, 4)
    missing = (*validators[:3], replace(validators[3], pop=b""))
    swapped = (*validators[:3], replace(validators[3], pop=validators[0].pop))
    for members, match in ((missing, "no proof of possession"), (swapped, "does not verify")):
        with pytest.raises(GenesisError, match=match):
            replace(genesis(), validators=members)
    # A genesis file written before proofs were recorded is refused on load, not trusted.
    raw = genesis().to_json()
    for validator in raw["validators"]:
        del validator["pop"]
    with pytest.raises(GenesisError, match="no proof of possession"):
        Genesis.from_json(raw)
