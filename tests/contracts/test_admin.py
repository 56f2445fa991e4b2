"""Admin cannot brick the gateway (regression: ``pause()`` then ``renounceOwnership()`` left it paused
forever), and every owner is handed over in two steps."""

from __future__ import annotations

from tests.support.l1_contracts import System, reverts, transact

ZERO = "0x0000000000000000000000000000000000000000"


def test_renounce_refused_while_paused(system: System) -> None:
    gateway = system.gateway.functions
    owner = system.deployment.owner
    transact(system, gateway.pause(), sender=system.deployment.guardian)
    with reverts("RenounceWhilePaused"):
        gateway.renounceOwnership().call({"from": owner})
    transact(system, gateway.unpause(), sender=owner)
    transact(system, gateway.renounceOwnership(), sender=owner)
    assert gateway.owner().call() == ZERO


def test_renounce_also_retires_the_guardian(system: System) -> None:
    gateway = system.gateway.functions
    guardian = system.deployment.guardian
    transact(system, gateway.renounceOwnership(), sender=system.deployment.owner)
    assert gateway.guardian().call() == ZERO
    # Nobody can pause a gateway nobody could unpause.
    with reverts("UnauthorizedPauser"):
        gateway.pause().call({"from": guardian})
    assert gateway.paused().call() is False


def test_gateway_ownership_is_two_step(system: System) -> None:
    gateway = system.gateway.functions
    owner = system.deployment.owner
    successor = system.accounts[10]
    transact(system, gateway.transferOwnership(successor), sender=owner)
    assert gateway.owner().call() == owner  # nothing changes until the successor accepts
    assert gateway.pendingOwner().call() == successor
    with reverts("OwnableUnauthorizedAccount"):
        gateway.acceptOwnership().call({"from": system.accounts[11]})
    transact(system, gateway.acceptOwnership(), sender=successor)
    assert gateway.owner().call() == successor


def test_reward_token_admin_is_two_step_and_delayed(system: System) -> None:
    token = system.reward_token.functions
    admin = system.deployer
    successor = system.accounts[10]
    delay = token.ADMIN_TRANSFER_DELAY().call()
    assert delay == 2 * 24 * 3600
    with reverts("AccessControlEnforcedDefaultAdminRules"):
        token.grantRole(token.DEFAULT_ADMIN_ROLE().call(), successor).call({"from": admin})
    transact(system, token.beginDefaultAdminTransfer(successor), sender=admin)
    with reverts("AccessControlEnforcedDefaultAdminDelay"):
        token.acceptDefaultAdminTransfer().call({"from": successor})
    system.w3.provider.make_request("evm_increaseTime", [delay + 1])  # type: ignore[arg-type]
    system.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    transact(system, token.acceptDefaultAdminTransfer(), sender=successor)
    assert token.defaultAdmin().call() == successor
