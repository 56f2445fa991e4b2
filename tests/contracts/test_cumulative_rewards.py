"""Cumulative reward roots on L1: the gateway authorises a CUMULATIVE_ROOT packet (kind 5) and hands
it to the RewardVault, where an earner claims ``cumulative - claimed`` per token.

What is proven here, on anvil with the real contracts: periods only move forward (a late older root
is a no-op), the same cumulative amount is never paid twice (claim, push, proofs against an older
root), a newer root pays only the difference, a claim covers several tokens and may name a
recipient (sender or EIP-712 signature of the earner), anyone may push to the earner itself, a
front-run claim never reverts a batched push, VAULT funding draws only what AVSs deposited, and
payouts stop while the gateway is paused."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from eth_account import Account
from eth_typing import ChecksumAddress
from web3 import Web3

from relayer.protocol.cumulative import CumulativeTree
from relayer.protocol.packets import FundingMode
from tests.support.cumulative_l1 import (
    CLAIM_DEADLINE_S,
    claim_call,
    claim_signature,
    claim_with_sig_call,
    cumulative_tree,
    push_call,
    root_payload,
)
from tests.support.l1_contracts import (
    System,
    deliver,
    events_of,
    fresh_addresses,
    packet_call,
    reverts,
    transact,
)

MINT = FundingMode.MINT
VAULT = FundingMode.VAULT


@dataclass(frozen=True)
class Delivered:
    accepted: list[Any]
    ignored: list[Any]


def _deliver_root(
    system: System,
    nonce: int,
    *,
    tree: CumulativeTree,
    period: int,
    funding: Mapping[tuple[ChecksumAddress, ChecksumAddress], tuple[FundingMode, int]],
) -> Delivered:
    receipt = deliver(system, system.packet(root_payload(tree, period=period, funding=funding), nonce=nonce))
    return Delivered(
        accepted=events_of(system.reward_vault.events.CumulativeRootAccepted, receipt),
        ignored=events_of(system.reward_vault.events.CumulativeRootIgnored, receipt),
    )


def test_roots_move_forward_and_a_late_older_root_is_a_no_op(system: System) -> None:
    earner = fresh_addresses(1, seed=1)[0]
    token = system.deployment.reward_token
    avs = system.accounts[4]
    older = cumulative_tree({(earner, token): 100})
    newer = cumulative_tree({(earner, token): 150})
    vault = system.reward_vault.functions
    result = _deliver_root(system, 20, tree=newer, period=2, funding={(avs, token): (MINT, 150)})
    assert [e["args"]["period"] for e in result.accepted] == [2]
    # Period 1 arrives late (its nonce is lower, signed by the same set): consumed, changes nothing.
    result = _deliver_root(system, 19, tree=older, period=1, funding={(avs, token): (MINT, 100)})
    assert result.accepted == []
    assert [(e["args"]["period"], e["args"]["latestPeriod"]) for e in result.ignored] == [(1, 2)]
    assert vault.latestPeriod().call() == 2
    assert vault.cumulativeRoot(1).call() == bytes(32)
    assert vault.cumulativeRoot(2).call() == newer.root
    assert vault.cumulativeAvailable(token).call() == 150
    assert system.gateway.functions.nonceUsed(19).call()
    # The same period again (another nonce) is ignored as well; the nonce itself is never reusable.
    result = _deliver_root(system, 21, tree=newer, period=2, funding={(avs, token): (MINT, 999)})
    assert result.accepted == [] and vault.cumulativeAvailable(token).call() == 150
    with reverts("NonceAlreadyUsed"):
        packet_call(
            system,
            system.packet(root_payload(newer, period=3, funding={(avs, token): (MINT, 150)}), nonce=21),
            system.valset.attest(
                system.packet(
                    root_payload(newer, period=3, funding={(avs, token): (MINT, 150)}), nonce=21
                ).digest
            ),
        ).call()


def test_only_the_gateway_hands_over_roots_and_quorum_is_required(system: System) -> None:
    earner = fresh_addresses(1, seed=2)[0]
    token = system.deployment.reward_token
    tree = cumulative_tree({(earner, token): 5})
    payload = root_payload(tree, period=1, funding={(system.accounts[4], token): (MINT, 5)})
    packet = system.packet(payload, nonce=30)
    with reverts("OnlyGateway"):
        system.reward_vault.functions.acceptCumulativeRoot(30, packet.payload_bytes).call(
            {"from": system.accounts[3]}
        )
    too_few = system.valset.attest(packet.digest, signers=[0, 1])
    with reverts("InsufficientQuorum"):
        packet_call(system, packet, too_few).call()


def test_multi_token_claim_to_a_recipient_pays_each_difference_once(system: System) -> None:
    earner, recipient = system.accounts[5], system.accounts[7]
    reward, weth = system.deployment.reward_token, system.deployment.weth
    avs_a, avs_b = system.accounts[4], system.accounts[8]
    transact(system, system.reward_vault.functions.depositETH(avs_b), sender=avs_b, value=10**18)
    other = fresh_addresses(3, seed=3)
    first = cumulative_tree({(earner, reward): 700, (earner, weth): 300, **{(o, reward): 11 for o in other}})
    funding = {(avs_a, reward): (MINT, 733), (avs_b, weth): (VAULT, 300)}
    _deliver_root(system, 40, tree=first, period=1, funding=funding)
    weth_before = system.weth.functions.balanceOf(recipient).call()
    receipt = transact(
        system, claim_call(system, 1, first, [(earner, reward), (earner, weth)], recipient), sender=earner
    )
    paid = {
        (e["args"]["token"], e["args"]["amount"], e["args"]["byEarner"])
        for e in events_of(system.reward_vault.events.CumulativePaid, receipt)
    }
    assert paid == {(reward, 700, True), (weth, 300, True)}
    assert system.reward_token.functions.balanceOf(recipient).call() == 700
    assert system.weth.functions.balanceOf(recipient).call() == weth_before + 300
    # Claiming the same root again: nothing left.
    with reverts("NothingToClaim"):
        claim_call(system, 1, first, [(earner, reward), (earner, weth)], recipient).call({"from": earner})
    # A newer root pays only what was added since (WETH did not grow: skipped, not reverted).
    second = cumulative_tree(
        {(earner, reward): 1_000, (earner, weth): 300, **{(o, reward): 11 for o in other}}
    )
    _deliver_root(
        system,
        41,
        tree=second,
        period=2,
        funding={(avs_a, reward): (MINT, 1_033), (avs_b, weth): (VAULT, 300)},
    )
    receipt = transact(
        system, claim_call(system, 2, second, [(earner, reward), (earner, weth)]), sender=earner
    )
    paid_again = [
        (e["args"]["token"], e["args"]["amount"])
        for e in events_of(system.reward_vault.events.CumulativePaid, receipt)
    ]
    assert paid_again == [(reward, 300)]
    assert system.reward_token.functions.balanceOf(earner).call() == 300
    # A proof against the older root still verifies but has nothing left to pay.
    with reverts("NothingToClaim"):
        claim_call(system, 1, first, [(earner, reward)]).call({"from": earner})
    assert system.reward_vault.functions.claimed(earner, reward).call() == 1_000


def test_only_the_earner_names_a_recipient(system: System) -> None:
    earner, thief = system.accounts[5], system.accounts[6]
    token = system.deployment.reward_token
    tree = cumulative_tree({(earner, token): 50, (thief, token): 1})
    _deliver_root(system, 50, tree=tree, period=1, funding={(system.accounts[4], token): (MINT, 51)})
    with reverts("NotEarner"):
        claim_call(system, 1, tree, [(earner, token)], thief).call({"from": thief})
    with reverts("UnknownPeriod"):
        claim_call(system, 2, tree, [(earner, token)]).call({"from": earner})


def test_an_eip712_signature_lets_anyone_submit_an_earners_claim_once(system: System) -> None:
    key = secrets.token_bytes(32)
    earner = Account.from_key(key).address
    recipient, relayer = system.accounts[7], system.accounts[6]
    token = system.deployment.reward_token
    tree = cumulative_tree({(earner, token): 90, (system.accounts[5], token): 10})
    _deliver_root(system, 60, tree=tree, period=1, funding={(system.accounts[4], token): (MINT, 100)})
    deadline = system.w3.eth.get_block("latest")["timestamp"] + CLAIM_DEADLINE_S
    forged = claim_signature(system, secrets.token_bytes(32), recipient=recipient, nonce=0, deadline=deadline)
    with reverts("InvalidClaimSignature"):
        claim_with_sig_call(
            system, 1, tree, [(earner, token)], recipient=recipient, deadline=deadline, signature=forged
        ).call({"from": relayer})
    good = claim_signature(system, key, recipient=recipient, nonce=0, deadline=deadline)
    # The signature binds the recipient: another one does not verify.
    with reverts("InvalidClaimSignature"):
        claim_with_sig_call(
            system, 1, tree, [(earner, token)], recipient=relayer, deadline=deadline, signature=good
        ).call({"from": relayer})
    receipt = transact(
        system,
        claim_with_sig_call(
            system, 1, tree, [(earner, token)], recipient=recipient, deadline=deadline, signature=good
        ),
        sender=relayer,
    )
    (paid,) = events_of(system.reward_vault.events.CumulativePaid, receipt)
    assert (paid["args"]["recipient"], paid["args"]["amount"], paid["args"]["byEarner"]) == (
        recipient,
        90,
        True,
    )
    assert system.reward_vault.functions.claimNonces(earner).call() == 1
    # Replaying it fails (the nonce moved on).
    with reverts("InvalidClaimSignature"):
        claim_with_sig_call(
            system, 1, tree, [(earner, token)], recipient=recipient, deadline=deadline, signature=good
        ).call({"from": relayer})
    expired = claim_signature(system, key, recipient=recipient, nonce=1, deadline=1)
    with reverts("SignatureExpired"):
        claim_with_sig_call(
            system, 1, tree, [(earner, token)], recipient=recipient, deadline=1, signature=expired
        ).call({"from": relayer})


@pytest.mark.parametrize("funding", [MINT, VAULT])
def test_a_front_run_claim_never_reverts_a_batched_push(system: System, funding: FundingMode) -> None:
    earners = fresh_addresses(60, seed=7)
    front_runner = system.accounts[5]
    avs = system.accounts[4]
    if funding is VAULT:
        token, contract = system.deployment.weth, system.weth
    else:
        token, contract = system.deployment.reward_token, system.reward_token
    amounts = {(e, token): 10**12 + i for i, e in enumerate(earners)}
    amounts[(front_runner, token)] = 777
    tree = cumulative_tree(amounts)
    total = sum(amounts.values())
    if funding is VAULT:
        transact(system, system.reward_vault.functions.depositETH(avs), sender=avs, value=total)
    _deliver_root(system, 70, tree=tree, period=1, funding={(avs, token): (funding, total)})
    batch = push_call(system, 1, tree, list(amounts))  # built before the earner claims
    before = contract.functions.balanceOf(front_runner).call()
    transact(system, claim_call(system, 1, tree, [(front_runner, token)]), sender=front_runner)
    receipt = transact(system, batch, sender=system.accounts[6])
    paid = events_of(system.reward_vault.events.CumulativePaid, receipt)
    assert len(paid) == len(earners)
    assert all(not e["args"]["byEarner"] and e["args"]["recipient"] == e["args"]["earner"] for e in paid)
    for e in earners:
        assert contract.functions.balanceOf(e).call() == amounts[(e, token)]
    assert contract.functions.balanceOf(front_runner).call() == before + 777
    assert system.reward_vault.functions.cumulativeAvailable(token).call() == 0
    # Pushing the same batch again pays nobody and does not revert.
    receipt = transact(system, push_call(system, 1, tree, list(amounts)))
    assert events_of(system.reward_vault.events.CumulativePaid, receipt) == []


def test_vault_funding_draws_only_what_the_avs_deposited(system: System) -> None:
    avs = system.accounts[4]
    weth = system.deployment.weth
    a, b = fresh_addresses(2, seed=9)
    tree = cumulative_tree({(a, weth): 600, (b, weth): 400})
    transact(system, system.reward_vault.functions.depositETH(avs), sender=avs, value=700)
    _deliver_root(system, 80, tree=tree, period=1, funding={(avs, weth): (VAULT, 1_000)})
    vault = system.reward_vault.functions
    assert (vault.cumulativeAvailable(weth).call(), vault.balanceOf(avs, weth).call()) == (700, 0)
    receipt = transact(system, push_call(system, 1, tree, [(a, weth), (b, weth)]))
    # Leaves are paid in multiproof order: the first fits the 700 drawn, the second no longer
    # does (at most 300 left for 400 or 600 owed): skipped, not reverted.
    (paid,) = events_of(system.reward_vault.events.CumulativePaid, receipt)
    first = paid["args"]["amount"]
    assert first in {600, 400}
    assert vault.cumulativeAvailable(weth).call() == 700 - first
    transact(system, vault.depositETH(avs), sender=avs, value=300)
    transact(system, vault.drawCumulative(avs, weth), sender=system.accounts[6])
    assert vault.cumulativeDrawn(avs, weth).call() == 1_000
    transact(system, push_call(system, 1, tree, [(a, weth), (b, weth)]))
    assert (system.weth.functions.balanceOf(a).call(), system.weth.functions.balanceOf(b).call()) == (
        600,
        400,
    )
    assert vault.cumulativeAvailable(weth).call() == 0
    # A token's funding mode is fixed: a root funding WETH by MINT is refused whole.
    tree2 = cumulative_tree({(a, weth): 601})
    payload = root_payload(tree2, period=2, funding={(avs, weth): (MINT, 1_001)})
    packet = system.packet(payload, nonce=81)
    with reverts("FundingModeMismatch"):
        packet_call(system, packet, system.valset.attest(packet.digest)).call()


def test_claims_and_pushes_stop_while_the_gateway_is_paused(system: System) -> None:
    earner = system.accounts[5]
    token = system.deployment.reward_token
    tree = cumulative_tree({(earner, token): 5})
    _deliver_root(system, 90, tree=tree, period=1, funding={(system.accounts[4], token): (MINT, 5)})
    transact(system, system.gateway.functions.pause(), sender=system.deployment.guardian)
    with reverts("GatewayPaused"):
        claim_call(system, 1, tree, [(earner, token)]).call({"from": earner})
    with reverts("GatewayPaused"):
        push_call(system, 1, tree, [(earner, token)]).call()
    transact(system, system.gateway.functions.unpause(), sender=system.deployment.owner)
    transact(system, push_call(system, 1, tree, [(earner, token)]))
    assert system.reward_token.functions.balanceOf(Web3.to_checksum_address(earner)).call() == 5
