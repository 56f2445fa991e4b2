"""Transaction fees as a reward source on anvil: an AVS's fees deposited in the RewardVault are kept
apart from its reward deposits (per AVS, token and source), a FEES distribution is paid from the
fees only, and a batch asking for more than the fees hold reverts without touching the deposits;
and the whole path with the devnet following the vault's fee deposits."""

from __future__ import annotations

from web3 import Web3

from devnet import scenario as sc
from devnet.l1_follower import FeeFollower
from relayer.protocol.distribution_claim import plan_leaf_claims
from relayer.protocol.merkle import DistributionLeaf, DistributionTree
from relayer.protocol.packets import FundingMode, RewardDistributionPayload
from relayer.protocol.types import Amount, Hash32, as_address
from tests.support.custody import exocore_payload, relay
from tests.support.devnet_world import SEED, WETH, World
from tests.support.l1_contracts import (
    System,
    claim_call,
    deliver,
    distribution_payload,
    distribution_tree,
    events_of,
    fresh_addresses,
    payout_call,
    reverts,
    transact,
)

ETHER = 10**18


def _wrap_and_approve(system: System, who: str, amount: int) -> None:
    weth = system.weth.functions
    transact(system, weth.deposit(), sender=who, value=amount)
    transact(system, weth.approve(system.deployment.reward_vault, amount), sender=who)


def test_fee_deposits_are_a_balance_of_their_own(system: System) -> None:
    avs, collector = system.accounts[4], system.accounts[5]
    weth = system.deployment.weth
    vault = system.reward_vault.functions
    transact(system, vault.depositETH(avs), sender=avs, value=2 * ETHER)
    _wrap_and_approve(system, collector, 3 * ETHER)
    receipt = transact(system, vault.depositFees(avs, weth, 3 * ETHER), sender=collector)
    (event,) = events_of(system.reward_vault.events.FeesDeposited, receipt)
    assert (event["args"]["avs"], event["args"]["token"], event["args"]["from"], event["args"]["amount"]) == (
        avs,
        weth,
        collector,
        3 * ETHER,
    )
    assert not events_of(system.reward_vault.events.Deposited, receipt)
    assert vault.feeBalanceOf(avs, weth).call() == 3 * ETHER
    assert vault.balanceOf(avs, weth).call() == 2 * ETHER
    with reverts("ZeroAmount"):
        vault.depositFees(avs, weth, 0).call({"from": collector})
    with reverts("ZeroAddress"):
        vault.depositFees("0x" + "00" * 20, weth, 1).call({"from": collector})


def test_a_fees_distribution_pays_from_the_fees_and_never_from_the_deposit(system: System) -> None:
    avs, collector = system.accounts[4], system.accounts[5]
    weth_address = system.deployment.weth
    vault = system.reward_vault.functions
    weth = system.weth.functions
    transact(system, vault.depositETH(avs), sender=avs, value=5 * ETHER)
    _wrap_and_approve(system, collector, ETHER)
    transact(system, vault.depositFees(avs, weth_address, ETHER), sender=collector)
    stakers = fresh_addresses(4, seed=41)
    amounts = [ETHER // 10 * (i + 1) for i in range(4)]  # 1.0 ETH in all: exactly the fees
    tree = distribution_tree(stakers, amounts)
    payload = distribution_payload(tree, token=weth_address, funding=FundingMode.FEES, avs=avs)
    packet = system.packet(payload, nonce=9)
    deliver(system, packet)
    assert system.gateway.functions.distribution(packet.distribution_id).call()[3] == FundingMode.FEES
    receipt = transact(system, payout_call(system, packet.distribution_id, tree, [0, 2]))
    (paid,) = events_of(system.reward_vault.events.Paid, receipt)
    assert (paid["args"]["amount"], paid["args"]["recipients"], paid["args"]["source"]) == (
        amounts[0] + amounts[2],
        2,
        FundingMode.FEES,
    )
    receipt = transact(system, claim_call(system, packet.distribution_id, tree, 3))
    (paid,) = events_of(system.reward_vault.events.Paid, receipt)
    assert paid["args"]["source"] == FundingMode.FEES
    for index in (0, 2, 3):
        assert weth.balanceOf(stakers[index]).call() == amounts[index]
    assert vault.feeBalanceOf(avs, weth_address).call() == amounts[1]
    assert vault.balanceOf(avs, weth_address).call() == 5 * ETHER  # the deposit is untouched


def test_a_fees_distribution_beyond_the_fees_reverts_even_with_a_deposit(system: System) -> None:
    avs, collector = system.accounts[6], system.accounts[5]
    weth_address = system.deployment.weth
    vault = system.reward_vault.functions
    transact(system, vault.depositETH(avs), sender=avs, value=10 * ETHER)
    _wrap_and_approve(system, collector, ETHER // 2)
    transact(system, vault.depositFees(avs, weth_address, ETHER // 2), sender=collector)
    stakers = fresh_addresses(2, seed=42)
    tree = distribution_tree(stakers, [ETHER // 2, ETHER // 2])
    payload = distribution_payload(tree, token=weth_address, funding=FundingMode.FEES, avs=avs)
    packet = system.packet(payload, nonce=10)
    deliver(system, packet)
    with reverts("InsufficientDeposit"):
        payout_call(system, packet.distribution_id, tree, [0, 1]).call({"from": system.deployer})
    transact(system, payout_call(system, packet.distribution_id, tree, [0]))
    with reverts("InsufficientDeposit"):
        claim_call(system, packet.distribution_id, tree, 1).call({"from": system.deployer})
    assert vault.feeBalanceOf(avs, weth_address).call() == 0
    assert vault.balanceOf(avs, weth_address).call() == 10 * ETHER


def test_fees_deposited_on_l1_fund_an_exocore_distribution_paid_on_l1(system: System) -> None:
    """The whole path: fees deposited in the RewardVault on anvil -> the devnet's follower reports
    them to Exocore -> a FEES claim is distributed within them (and one beyond them refused) -> the
    REWARD_DISTRIBUTION, Exocore's bytes, is delivered and paid out of the fees on L1."""
    weth_address = system.deployment.weth
    world = World.create()
    world.price(WETH, "1000")
    for index in range(3):
        world.operator(index)
    avs = world.avs(
        "feeavs", committee_size=3, reward_tokens=((weth_address.lower(), int(FundingMode.FEES)),)
    )
    for index in range(3):
        world.opt_in(index, avs)
        world.delegate(sc.staker_address(SEED, index), index, WETH, ETHER)
    world.next_epoch()
    committee = world.committee(avs)
    follower = FeeFollower(
        system.w3,
        system.deployment.reward_vault,
        from_block=system.w3.eth.block_number + 1,
        confirmations=0,
        submit=world.node.submit,
    )
    collector = system.accounts[5]
    _wrap_and_approve(system, collector, 2 * ETHER)
    avs_l1 = Web3.to_checksum_address(avs)
    transact(
        system, system.reward_vault.functions.depositFees(avs_l1, weth_address, 2 * ETHER), sender=collector
    )
    (event,) = follower.poll()
    assert (event.amount, "0x" + event.avs.hex()) == (2 * ETHER, avs)
    assert follower.poll() == []  # read once
    world.node.produce_block()

    too_much = world.claim(committee, [0, 1, 2], amount=3 * ETHER, token=weth_address.lower())
    world.node.produce_block()
    assert world.state.claims[Hash32(too_much.claim_id)].reject_reason.startswith("insufficient_fees")
    claim = world.claim(
        committee, [0, 1, 2], amount=ETHER, token=weth_address.lower(), tasks_root=b"\x03" * 32
    )
    world.node.produce_block()
    record = world.state.claims[Hash32(claim.claim_id)]
    distribution = world.state.distributions[record.distribution_nonce]
    payload = exocore_payload(world, record.distribution_nonce)
    assert isinstance(payload, RewardDistributionPayload) and payload.funding is FundingMode.FEES
    packet, _receipt = relay(system, payload)
    tree = DistributionTree.build(
        DistributionLeaf(index, staker, Amount(amount))
        for index, (staker, amount) in enumerate(zip(distribution.stakers, distribution.amounts, strict=True))
    )
    assert tree.root == payload.merkle_root
    receipt = transact(system, payout_call(system, packet.distribution_id, tree, range(len(tree))))
    (paid,) = events_of(system.reward_vault.events.Paid, receipt)
    assert (paid["args"]["amount"], paid["args"]["source"]) == (payload.total, FundingMode.FEES)
    assert (
        system.reward_vault.functions.feeBalanceOf(avs_l1, weth_address).call() == 2 * ETHER - payload.total
    )
    assert world.state.fees_available(payload.avs, payload.token) == 2 * ETHER - payload.total


def test_the_leaf_claim_calldata_the_api_serves_pays_on_l1(system: System) -> None:
    """The shared planner's ``claim`` calldata (what ``/v1/stakers/{s}/claims`` serves), sent as is
    from the staker's own account, pays the leaf; sent again it reverts ``LeafAlreadyPaid``."""
    avs, collector = system.accounts[4], system.accounts[5]
    weth_address = system.deployment.weth
    _wrap_and_approve(system, collector, ETHER)
    transact(system, system.reward_vault.functions.depositFees(avs, weth_address, ETHER), sender=collector)
    stakers = [system.accounts[7], system.accounts[8], *fresh_addresses(3, seed=43)]
    amounts = [ETHER // 10] * 5
    tree = distribution_tree(stakers, amounts)
    payload = distribution_payload(tree, token=weth_address, funding=FundingMode.FEES, avs=avs)
    packet = system.packet(payload, nonce=11)
    deliver(system, packet)
    index = next(leaf.index for leaf in tree.leaves if leaf.staker == as_address(system.accounts[7]))
    (claim,) = plan_leaf_claims(packet.distribution_id, tree, [index])
    staker = system.accounts[7]
    before = system.weth.functions.balanceOf(staker).call()
    tx = {"from": staker, "to": system.deployment.gateway, "data": "0x" + claim.calldata.hex()}
    receipt = system.w3.eth.wait_for_transaction_receipt(system.w3.eth.send_transaction(tx))  # type: ignore[arg-type]
    assert receipt["status"] == 1
    assert system.weth.functions.balanceOf(staker).call() - before == ETHER // 10
    with reverts("LeafAlreadyPaid"):
        system.w3.eth.call(tx)  # type: ignore[arg-type]
