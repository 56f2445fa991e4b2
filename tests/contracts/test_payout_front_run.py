"""One claim must not grief a payout batch (regression: a stranger's ``claim`` of one leaf just before
the relayer's batch made the whole batch revert ``LeafAlreadyPaid`` and pay nobody). A batch now pays
every leaf not yet paid and skips the rest without an event."""

from __future__ import annotations

import pytest

from relayer.protocol.packets import FundingMode
from tests.support.l1_contracts import (
    System,
    claim_call,
    deliver,
    distribution_payload,
    distribution_tree,
    events_of,
    fresh_addresses,
    payout_call,
    transact,
)

BATCH = 100
FRONT_RUN_INDEX = 37


@pytest.mark.parametrize("funding", [FundingMode.MINT, FundingMode.VAULT])
def test_claim_front_running_a_batch_of_100(system: System, funding: FundingMode) -> None:
    stakers = fresh_addresses(BATCH, seed=4242)
    amounts = [10**15 + i for i in range(BATCH)]
    tree = distribution_tree(stakers, amounts)
    avs = system.accounts[4]
    if funding is FundingMode.VAULT:
        transact(system, system.reward_vault.functions.depositETH(avs), sender=avs, value=tree.total)
        token_address, token = system.deployment.weth, system.weth
    else:
        token_address, token = system.deployment.reward_token, system.reward_token
    payload = distribution_payload(tree, token=token_address, funding=funding, avs=avs)
    packet = system.packet(payload, nonce=500)
    deliver(system, packet)
    dist = packet.distribution_id
    batch = payout_call(system, dist, tree, range(BATCH))  # built before the stranger acts
    stranger = system.accounts[6]
    transact(system, claim_call(system, dist, tree, FRONT_RUN_INDEX), sender=stranger)

    receipt = transact(system, batch)
    paid = events_of(system.gateway.events.RewardPaid, receipt)
    assert len(paid) == BATCH - 1
    assert FRONT_RUN_INDEX not in {event["args"]["index"] for event in paid}
    for index, (staker, amount) in enumerate(zip(stakers, amounts, strict=True)):
        assert token.functions.balanceOf(staker).call() == amount  # each paid exactly once
        assert system.gateway.functions.isPaid(dist, index).call()
    assert system.gateway.functions.distribution(dist).call()[7] == tree.total
    if funding is FundingMode.VAULT:
        (vault_paid,) = events_of(system.reward_vault.events.Paid, receipt)
        assert (vault_paid["args"]["amount"], vault_paid["args"]["recipients"]) == (
            tree.total - amounts[FRONT_RUN_INDEX],
            BATCH - 1,
        )
        assert system.reward_vault.functions.balanceOf(avs, token_address).call() == 0
    # The same batch again pays nobody and costs no funds.
    receipt = transact(system, payout_call(system, dist, tree, range(BATCH)))
    assert events_of(system.gateway.events.RewardPaid, receipt) == []
    assert system.gateway.functions.distribution(dist).call()[7] == tree.total
