"""ExocoreGateway happy paths on anvil: genesis, rotation, distributions (MINT/VAULT), payouts, slashing."""

from __future__ import annotations

from eth_utils.crypto import keccak
from web3 import Web3

from relayer.protocol.bls import aggregate_public_keys
from relayer.protocol.packets import (
    DOMAIN,
    FundingMode,
    PacketKind,
    SlashPayload,
    distribution_id,
    encode_payload,
    packet_digest,
)
from relayer.protocol.types import Amount, Hash32, as_address
from tests.support.l1_contracts import (
    EXOCORE_CHAIN,
    Attestation,
    System,
    ValidatorSet,
    claim_call,
    deliver,
    distribution_payload,
    distribution_tree,
    events_of,
    fresh_addresses,
    packet_call,
    payout_call,
    reverts,
    transact,
)

ETHER = 10**18


def fund_avs_with_eth(system: System, avs: str, amount: int) -> None:
    vault = system.reward_vault.functions
    transact(system, vault.depositETH(avs), sender=avs, value=amount)


def test_genesis_set_is_stored_as_committed(system: System, genesis_set: ValidatorSet) -> None:
    gateway = system.gateway.functions
    assert gateway.currentValsetNonce().call() == genesis_set.nonce
    assert gateway.valsetSize().call() == genesis_set.size
    assert gateway.valsetTotalPower().call() == genesis_set.total_power
    # commitment = keccak256(abi.encode(uint64 nonce, bytes[] pubkeys, uint256[] powers)),
    # i.e. the payload hash of the VALSET_UPDATE that would install this set.
    expected = keccak(encode_payload(genesis_set.update_payload()))
    assert gateway.valsetCommitment().call() == expected
    aggregate = aggregate_public_keys([secret.public_key() for secret in genesis_set.secrets]).to_eip2537()
    assert gateway.valsetAggregateKey().call() == aggregate
    for index in range(genesis_set.size):
        assert gateway.validator(index).call() == [genesis_set.pubkeys[index], genesis_set.powers[index]]
    assert gateway.DOMAIN().call() == DOMAIN
    assert gateway.EXOCORE_CHAIN().call() == EXOCORE_CHAIN


def test_packet_digest_matches_protocol(system: System) -> None:
    payload_hash = Hash32(keccak(b"payload"))
    expected = packet_digest(
        l1_chain_id=system.deployment.chain_id,
        gateway=system.gateway_address,
        exocore_chain=EXOCORE_CHAIN,
        valset_nonce=3,
        kind=PacketKind.SLASH,
        nonce=99,
        payload_hash=payload_hash,
    )
    assert system.gateway.functions.packetDigest(3, 3, 99, payload_hash).call() == expected
    assert system.gateway.functions.distributionIdOf(99).call() == distribution_id(EXOCORE_CHAIN, 99)


def test_valset_rotation_then_old_set_cannot_sign_later_nonces(
    system: System, genesis_set: ValidatorSet
) -> None:
    new_set = ValidatorSet.generate(9, nonce=5, seed=2, powers=[1, 2, 3, 4, 5, 6, 7, 8, 9])
    packet = system.packet(new_set.update_payload(), nonce=1)
    receipt = deliver(system, packet, signers=genesis_set.quorum_signers())
    (event,) = events_of(system.gateway.events.ValsetUpdated, receipt)
    assert event["args"]["valsetNonce"] == 5
    assert event["args"]["commitment"] == packet.payload_hash
    assert event["args"]["totalPower"] == 45
    gateway = system.gateway.functions
    assert gateway.currentValsetNonce().call() == 5
    assert gateway.valsetSize().call() == 9
    assert gateway.validator(8).call() == [new_set.pubkeys[8], 9]
    assert gateway.nonceUsed(1).call()

    tree = distribution_tree(fresh_addresses(3, seed=1), [5, 6, 7])
    payload = distribution_payload(
        tree, token=system.deployment.reward_token, funding=FundingMode.MINT, avs=system.accounts[3]
    )
    # The old set, with a nonce after the rotation it signed (its range is [0, 1)): refused.
    stale = system.packet(payload, nonce=2, valset=genesis_set)
    with reverts("NonceOutsideValsetRange"):
        packet_call(system, stale, genesis_set.attest(stale.digest)).call()
    # The old set's keys claiming the new nonce: the aggregate does not verify.
    forged = system.packet(payload, nonce=2, valset=new_set)
    with reverts("InvalidSignature"):
        att = Attestation(new_set.bitmap(range(9)), genesis_set.sign_digest(forged.digest, range(6)))
        packet_call(system, forged, att).call()
    # The new set signs: accepted, with a quorum by power (7+8+9+6 = 30 of 45 is not > 2/3; add 5).
    deliver(system, forged, signers=[4, 5, 6, 7, 8], valset=new_set)
    assert gateway.distribution(distribution_id(EXOCORE_CHAIN, 2)).call()[0] == tree.root


def test_distribution_mint_batched_payout_and_self_claim(system: System) -> None:
    stakers = fresh_addresses(12, seed=2)
    amounts = [(i + 1) * 10**15 for i in range(12)]
    tree = distribution_tree(stakers, amounts)
    avs = system.accounts[3]
    payload = distribution_payload(
        tree, token=system.deployment.reward_token, funding=FundingMode.MINT, avs=avs
    )
    packet = system.packet(payload, nonce=7)
    receipt = deliver(system, packet, signers=[0, 1, 2, 3, 4])
    dist_id = packet.distribution_id
    (event,) = events_of(system.gateway.events.DistributionSubmitted, receipt)
    assert event["args"]["distributionId"] == dist_id
    assert event["args"]["claimId"] == payload.claim_id
    assert event["args"]["avs"] == avs
    assert event["args"]["epoch"] == payload.epoch
    assert event["args"]["token"] == system.deployment.reward_token
    assert event["args"]["total"] == tree.total
    assert event["args"]["root"] == tree.root
    assert event["args"]["nonce"] == 7
    stored = system.gateway.functions.distribution(dist_id).call()
    assert stored == (tree.root, system.deployment.reward_token, 12, 1, avs, 7, tree.total, 0)

    batch = [0, 3, 4, 5, 9, 11]
    receipt = transact(system, payout_call(system, dist_id, tree, batch), sender=system.accounts[5])
    paid = events_of(system.gateway.events.RewardPaid, receipt)
    assert sorted(e["args"]["index"] for e in paid) == batch
    for e in paid:
        assert e["args"]["distributionId"] == dist_id
        assert e["args"]["staker"] == stakers[e["args"]["index"]]
        assert e["args"]["amount"] == amounts[e["args"]["index"]]
    # A staker claims its own leaf; anyone may send it, the tokens go to the leaf's staker.
    transact(system, claim_call(system, dist_id, tree, 1), sender=system.accounts[6])
    token = system.reward_token.functions
    for index in range(12):
        expected = amounts[index] if index in [*batch, 1] else 0
        assert token.balanceOf(stakers[index]).call() == expected
        assert system.gateway.functions.isPaid(dist_id, index).call() == (expected > 0)
    assert token.totalSupply().call() == sum(amounts[i] for i in [*batch, 1])
    assert system.gateway.functions.distribution(dist_id).call()[7] == sum(amounts[i] for i in [*batch, 1])
    # The rest in one batch: the distribution is then fully paid, exactly its total.
    rest = [i for i in range(12) if i not in [*batch, 1]]
    transact(system, payout_call(system, dist_id, tree, rest))
    assert token.totalSupply().call() == tree.total


def test_distribution_vault_pays_from_avs_deposit_in_weth(system: System) -> None:
    avs = system.accounts[4]
    fund_avs_with_eth(system, avs, 3 * ETHER)
    assert system.reward_vault.functions.balanceOf(avs, system.deployment.weth).call() == 3 * ETHER
    stakers = fresh_addresses(5, seed=3)
    amounts = [ETHER // 10 * (i + 1) for i in range(5)]
    tree = distribution_tree(stakers, amounts)
    payload = distribution_payload(tree, token=system.deployment.weth, funding=FundingMode.VAULT, avs=avs)
    packet = system.packet(payload, nonce=8)
    deliver(system, packet)
    transact(system, payout_call(system, packet.distribution_id, tree, [0, 2, 4]))
    transact(system, claim_call(system, packet.distribution_id, tree, 3))
    weth = system.weth.functions
    for index in (0, 2, 3, 4):
        assert weth.balanceOf(stakers[index]).call() == amounts[index]
    assert weth.balanceOf(stakers[1]).call() == 0
    remaining = 3 * ETHER - sum(amounts[i] for i in (0, 2, 3, 4))
    assert system.reward_vault.functions.balanceOf(avs, system.deployment.weth).call() == remaining
    assert weth.balanceOf(system.deployment.reward_vault).call() == remaining


def test_slash_moves_principal_to_sink_and_freezes(system: System) -> None:
    staker = system.accounts[7]
    operator = as_address(system.accounts[8])
    avs = as_address(system.accounts[3])
    weth = system.weth.functions
    transact(system, weth.deposit(), sender=staker, value=10 * ETHER)
    transact(system, weth.approve(system.deployment.restaking_vault, 10 * ETHER), sender=staker)
    transact(
        system,
        system.restaking_vault.functions.delegate(system.accounts[8], system.deployment.weth, 10 * ETHER),
        sender=staker,
    )
    sink = system.deployment.slashing_sink
    before = weth.balanceOf(sink).call()

    payload = SlashPayload(
        slash_id=Hash32(b"\x5a" * 32),
        operator=operator,
        avs=avs,
        tokens=(as_address(system.deployment.weth),),
        amounts=(Amount(4 * ETHER),),
        freeze=True,
    )
    packet = system.packet(payload, nonce=11)
    receipt = deliver(system, packet, signers=[1, 2, 3, 4, 5])
    (event,) = events_of(system.gateway.events.SlashExecuted, receipt)
    assert event["args"]["slashId"] == payload.slash_id
    assert event["args"]["operator"] == Web3.to_checksum_address(operator)
    assert event["args"]["avs"] == Web3.to_checksum_address(avs)
    assert event["args"]["tokens"] == [system.deployment.weth]
    assert event["args"]["amounts"] == [4 * ETHER]
    assert event["args"]["freeze"] is True
    assert event["args"]["nonce"] == 11
    assert weth.balanceOf(sink).call() - before == 4 * ETHER
    assert system.restaking_vault.functions.totalPrincipal(system.deployment.weth).call() == 6 * ETHER
    assert system.gateway.functions.frozen(system.accounts[8], system.accounts[3]).call() is True
    assert system.gateway.functions.frozen(system.accounts[8], system.accounts[4]).call() is False
