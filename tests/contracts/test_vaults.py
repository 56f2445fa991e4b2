"""RewardVault and RestakingVault on their own: deposits, withdrawals, what they refuse."""

from __future__ import annotations

from eth_utils.crypto import keccak

from tests.support.l1_contracts import System, events_of, reverts, transact

ETHER = 10**18


def mint_reward_tokens(system: System, to: str, amount: int) -> None:
    token = system.reward_token.functions
    transact(system, token.grantRole(keccak(b"MINTER_ROLE"), system.deployer))
    transact(system, token.mint(to, amount))


def test_reward_vault_erc20_deposit_credits_the_named_avs(system: System) -> None:
    funder, avs = system.accounts[2], system.accounts[3]
    token = system.deployment.reward_token
    mint_reward_tokens(system, funder, 5 * ETHER)
    transact(
        system,
        system.reward_token.functions.approve(system.deployment.reward_vault, 5 * ETHER),
        sender=funder,
    )
    receipt = transact(system, system.reward_vault.functions.deposit(avs, token, 2 * ETHER), sender=funder)
    (event,) = events_of(system.reward_vault.events.Deposited, receipt)
    assert (event["args"]["avs"], event["args"]["from"], event["args"]["amount"]) == (avs, funder, 2 * ETHER)
    assert system.reward_vault.functions.balanceOf(avs, token).call() == 2 * ETHER
    assert system.reward_vault.functions.balanceOf(funder, token).call() == 0
    with reverts("ZeroAmount"):
        system.reward_vault.functions.deposit(avs, token, 0).call({"from": funder})
    with reverts("ZeroAddress"):
        system.reward_vault.functions.deposit("0x" + "00" * 20, token, 1).call({"from": funder})


def test_restaking_vault_takes_delegations_in_and_numbers_them(system: System) -> None:
    staker, other, operator = system.accounts[7], system.accounts[8], system.accounts[9]
    weth_address = system.deployment.weth
    weth = system.weth.functions
    vault = system.restaking_vault.functions
    ids = []
    for who in (staker, other):
        transact(system, weth.deposit(), sender=who, value=3 * ETHER)
        transact(system, weth.approve(system.deployment.restaking_vault, 3 * ETHER), sender=who)
        receipt = transact(system, vault.delegate(operator, weth_address, 3 * ETHER), sender=who)
        (event,) = events_of(system.restaking_vault.events.Delegated, receipt)
        assert (event["args"]["staker"], event["args"]["operator"], event["args"]["amount"]) == (
            who,
            operator,
            3 * ETHER,
        )
        ids.append(event["args"]["requestId"])
    assert vault.totalPrincipal(weth_address).call() == 6 * ETHER
    receipt = transact(system, vault.requestWithdrawal(operator, weth_address, ETHER), sender=staker)
    (request,) = events_of(system.restaking_vault.events.WithdrawalRequested, receipt)
    # One sequence for delegations and withdrawal requests: Exocore applies each number once.
    assert [*ids, request["args"]["requestId"]] == [ids[0], ids[0] + 1, ids[0] + 2]
    # A request moves nothing: principal leaves only against Exocore's approval.
    assert vault.totalPrincipal(weth_address).call() == 6 * ETHER
    assert weth.balanceOf(staker).call() == 0
    with reverts("ZeroAmount"):
        vault.delegate(operator, weth_address, 0).call({"from": staker})
    with reverts("ZeroAmount"):
        vault.requestWithdrawal(operator, weth_address, 0).call({"from": staker})
    with reverts("ZeroAddress"):
        vault.delegate("0x" + "00" * 20, weth_address, 1).call({"from": staker})
    assert vault.SLASHING_SINK().call() == system.deployment.slashing_sink
    assert vault.GATEWAY().call() == system.deployment.gateway
