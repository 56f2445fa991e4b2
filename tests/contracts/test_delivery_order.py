"""Delivery order never orphans a validly signed packet: the gateway keeps every set it installed with
the packet-nonce range it was current for, and accepts a distribution or slash signed by any known set
inside that set's range (regression: the gateway used to accept only the current set, so a
VALSET_UPDATE delivered early left the outgoing set's undelivered packets reverting forever)."""

from __future__ import annotations

from eth_utils.crypto import keccak

from relayer.protocol.packets import FundingMode, Packet, SlashPayload, encode_payload
from relayer.protocol.types import Amount, Hash32, as_address
from tests.support.l1_contracts import (
    System,
    ValidatorSet,
    deliver,
    distribution_payload,
    distribution_tree,
    events_of,
    fresh_addresses,
    packet_call,
    reverts,
)

OPEN: int = 0
"""endNonce of the current set: its range is still open."""


def distribution_packet(system: System, nonce: int, signer: ValidatorSet) -> Packet:
    tree = distribution_tree(fresh_addresses(2, seed=nonce), [10, 20])
    payload = distribution_payload(
        tree, token=system.deployment.reward_token, funding=FundingMode.MINT, avs=system.accounts[3]
    )
    return system.packet(payload, nonce=nonce, valset=signer)


def slash_packet(system: System, nonce: int, signer: ValidatorSet) -> Packet:
    payload = SlashPayload(
        slash_id=Hash32(keccak(nonce.to_bytes(8))),
        operator=as_address(system.accounts[8]),
        avs=as_address(system.accounts[3]),
        tokens=(as_address(system.deployment.weth),),
        amounts=(Amount(0),),
        freeze=True,
    )
    return system.packet(payload, nonce=nonce, valset=signer)


def test_update_first_then_the_outgoing_sets_older_packets_land(system: System) -> None:
    genesis = system.valset
    successor = ValidatorSet.generate(5, nonce=2, seed=21)
    # Exocore's order: 1 distribution and 2 slash signed by genesis, 3 rotates to set 2.
    older_distribution = distribution_packet(system, 1, genesis)
    older_slash = slash_packet(system, 2, genesis)
    rotation = system.packet(successor.update_payload(), nonce=3, valset=genesis)
    # Anyone delivers the public, validly signed rotation first.
    deliver(system, rotation, valset=genesis)
    gateway = system.gateway.functions
    assert gateway.currentValsetNonce().call() == 2
    assert gateway.valsetRecord(genesis.nonce).call()[2:] == [0, 3]
    assert gateway.valsetRecord(2).call()[1:] == [5, 3, OPEN]
    genesis_commitment = keccak(encode_payload(genesis.update_payload()))
    assert gateway.valsetCommitmentOf(genesis.nonce).call() == genesis_commitment
    assert gateway.valsetCommitmentOf(2).call() == rotation.payload_hash == gateway.valsetCommitment().call()
    # The outgoing set's older packets still land, in any order.
    receipt = deliver(system, older_slash, valset=genesis)
    assert len(events_of(system.gateway.events.SlashExecuted, receipt)) == 1
    receipt = deliver(system, older_distribution, valset=genesis)
    assert len(events_of(system.gateway.events.DistributionSubmitted, receipt)) == 1
    assert gateway.frozen(system.accounts[8], system.accounts[3]).call() is True


def test_retired_set_cannot_sign_past_its_range(system: System) -> None:
    genesis = system.valset
    successor = ValidatorSet.generate(5, nonce=2, seed=21)
    deliver(system, system.packet(successor.update_payload(), nonce=3, valset=genesis), valset=genesis)
    for late in (distribution_packet(system, 4, genesis), slash_packet(system, 9, genesis)):
        with reverts("NonceOutsideValsetRange"):
            packet_call(system, late, genesis.attest(late.digest)).call()
    # Only the current set rotates; a retired one is stale even inside its range.
    other = ValidatorSet.generate(3, nonce=7, seed=22)
    stale_rotation = system.packet(other.update_payload(), nonce=2, valset=genesis)
    with reverts("StaleValset"):
        packet_call(system, stale_rotation, genesis.attest(stale_rotation.digest)).call()
    # The new set signs from its own start on.
    deliver(system, distribution_packet(system, 4, successor), valset=successor)


def test_packet_of_a_set_not_installed_yet_waits_then_lands(system: System) -> None:
    genesis = system.valset
    successor = ValidatorSet.generate(4, nonce=2, seed=23)
    early = distribution_packet(system, 5, successor)
    with reverts("UnknownValset"):
        packet_call(system, early, successor.attest(early.digest)).call()
    deliver(system, system.packet(successor.update_payload(), nonce=4, valset=genesis), valset=genesis)
    deliver(system, early, valset=successor)


def test_rotation_must_be_past_the_current_sets_start(system: System) -> None:
    genesis = system.valset
    successor = ValidatorSet.generate(4, nonce=2, seed=24)
    deliver(system, system.packet(successor.update_payload(), nonce=10, valset=genesis), valset=genesis)
    third = ValidatorSet.generate(3, nonce=3, seed=25)
    # Signed by the current set (2, start 10) but with a packet nonce at or before its start.
    for nonce in (7, 10):
        rotation = system.packet(third.update_payload(), nonce=nonce, valset=successor)
        with reverts("NonceOutsideValsetRange"):
            packet_call(system, rotation, successor.attest(rotation.digest)).call()
    # A packet nonce that does not fit the record's 40-bit range is refused by name.
    huge = system.packet(third.update_payload(), nonce=2**40, valset=successor)
    with reverts("PacketNonceTooLarge"):
        packet_call(system, huge, successor.attest(huge.digest)).call()
    deliver(system, system.packet(third.update_payload(), nonce=11, valset=successor), valset=successor)
    assert system.gateway.functions.valsetRecord(2).call()[2:] == [10, 11]
