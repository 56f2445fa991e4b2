"""RestakingVault as custody: L1 stake is Exocore stake, a slash lands on the slashed stake only, and
principal leaves L1 only against Exocore's verified withdrawal approvals.

The amounts asserted are Exocore's (the in-memory devnet following the real vault on anvil): the
SLASH and WITHDRAWAL_APPROVAL payloads are the devnet's bytes, delivered to the gateway.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from web3 import Web3

from devnet.chain.model import WithdrawalApprovalRecord
from devnet.chain.params import DEVNET_LZ_CHAIN_ID
from devnet.chain.state import ChainRuleError
from devnet.l1_follower import VaultEvent, stake_msg
from relayer.l1.artifacts import ContractName, load_artifact
from relayer.protocol.packets import SlashPayload, WithdrawalApprovalPayload
from relayer.protocol.types import Address, Amount, Hash32, as_address
from tests.support.custody import (
    ETHER,
    CustodyWorld,
    approval_tree,
    balance,
    claim_approval,
    exocore_payload,
    l1_delegate,
    l1_request_withdrawal,
    payout_approvals,
    relay,
)
from tests.support.l1_contracts import System, deliver, events_of, leaf_abi, reverts, transact

HALF = 5 * 10**17
TENTH = 10**17


@pytest.fixture
def custody(system: System) -> Iterator[CustodyWorld]:
    yield CustodyWorld.create(system, operators=2, from_block=system.w3.eth.block_number + 1)


def relay_approvals(cw: CustodyWorld, nonces: list[int]) -> list[tuple[bytes, WithdrawalApprovalRecord]]:
    """Deliver Exocore's WITHDRAWAL_APPROVAL packets: (L1 approval id, Exocore's record) each."""
    out: list[tuple[bytes, WithdrawalApprovalRecord]] = []
    for nonce in nonces:
        payload = exocore_payload(cw.world, nonce)
        assert isinstance(payload, WithdrawalApprovalPayload)
        packet, receipt = relay(cw.system, payload)
        (event,) = events_of(cw.system.restaking_vault.events.ApprovalsRegistered, receipt)
        assert event["args"]["root"] == payload.merkle_root
        (submitted,) = events_of(cw.system.gateway.events.WithdrawalApprovalSubmitted, receipt)
        assert (submitted["args"]["approvalId"], submitted["args"]["nonce"]) == (
            packet.distribution_id,
            packet.nonce,
        )
        out.append((packet.distribution_id, cw.world.state.withdrawal_approvals[nonce]))
    return out


def held(system: System, token: str) -> int:
    return int(system.restaking_vault.functions.totalPrincipal(token).call())


def approval_nonces(cw: CustodyWorld) -> list[int]:
    return sorted(cw.world.state.withdrawal_approvals)


def test_slash_lands_on_the_slashed_stake_innocent_paid_in_full(custody: CustodyWorld) -> None:
    """A and B each restake 100 WETH and 100 of the reward token (two assets) with operators X and
    Y. X serves AVSs alpha (both assets) and beta (WETH). alpha slashes X 50 % (freeze), beta 10 %.
    A's and B's withdrawals are then approved for exactly what Exocore says: B in full, A for the
    rest, to the wei; custody moved exactly the slashed amounts; nothing is left behind."""
    cw, system = custody, custody.system
    world = cw.world
    weth, reward = system.deployment.weth, system.deployment.reward_token
    a, b, late = system.accounts[5], system.accounts[6], system.accounts[7]
    x, y = cw.operator_l1(0), cw.operator_l1(1)
    alpha = world.avs(
        "alpha", asset_ids=(cw.weth_asset, cw.reward_asset), committee_size=2, slash_proportion="0.5"
    )
    beta = world.avs("beta", asset_ids=(cw.weth_asset,), committee_size=2, slash_proportion="0.5")
    for index in range(2):
        world.opt_in(index, alpha)
        world.opt_in(index, beta)
    for token in (weth, reward):
        l1_delegate(system, a, x, token, 100 * ETHER)
        l1_delegate(system, b, y, token, 100 * ETHER)
    # A third staker of X, one wei odd, to check floors per delegation.
    l1_delegate(system, late, x, weth, 30 * ETHER + 7)
    assert cw.follow() == 5
    assert cw.stake(0, cw.weth_asset, a) == 100 * ETHER and cw.stake(1, cw.reward_asset, b) == 100 * ETHER
    world.next_epoch()
    # A asks for her whole stake back before the slash: pending undelegations stay slashable.
    l1_request_withdrawal(system, a, x, weth, 100 * ETHER)
    l1_request_withdrawal(system, a, x, reward, 100 * ETHER)
    assert cw.follow() == 2
    sink = system.deployment.slashing_sink
    sink_before = {t: balance(system, t, sink) for t in (weth, reward)}
    custody_before = {t: system.restaking_vault.functions.totalPrincipal(t).call() for t in (weth, reward)}
    slashed: dict[str, int] = {weth: 0, reward: 0}
    for avs, proportion, freeze in ((alpha, HALF, True), (beta, TENTH, False)):
        payload = exocore_payload(world, cw.slash(avs, 0, proportion, freeze=freeze))
        assert isinstance(payload, SlashPayload)
        relay(system, payload)
        for slashed_token, amount in zip(payload.tokens, payload.amounts, strict=True):
            slashed[Web3.to_checksum_address(slashed_token)] += amount
    # Exocore's numbers: both offences are in one epoch, so each slash takes its proportion of X's
    # stake at that epoch (A's pending undelegation included): alpha half of every delegation of X
    # (both assets), beta a tenth in WETH, from what alpha left; floors per delegation.
    late_weth = 30 * ETHER + 7
    late_after = late_weth - late_weth * HALF // ETHER - late_weth * TENTH // ETHER
    a_weth = 100 * ETHER - 50 * ETHER - 10 * ETHER
    assert slashed == {weth: (100 * ETHER - a_weth) + (late_weth - late_after), reward: 50 * ETHER}
    for token in (weth, reward):
        assert balance(system, token, sink) - sink_before[token] == slashed[token]
        assert held(system, token) == custody_before[token] - slashed[token]
    # The freeze has an effect on L1: no new delegation to X.
    assert system.gateway.functions.frozen(x, Web3.to_checksum_address(alpha)).call() is True
    with reverts("OperatorIsFrozen"):
        system.restaking_vault.functions.delegate(x, weth, 1).call({"from": b})
    # B and the late staker ask after the slash, for what Exocore holds for them.
    for token in (weth, reward):
        l1_request_withdrawal(system, b, y, token, 100 * ETHER)
    l1_request_withdrawal(system, late, x, weth, cw.stake(0, cw.weth_asset, late))
    assert cw.follow() == 3
    for _ in range(3):
        world.next_epoch()
    approvals = relay_approvals(cw, approval_nonces(cw))
    assert {Web3.to_checksum_address(record.token) for _, record in approvals} == {weth, reward}
    before = {(t, who): balance(system, t, who) for t in (weth, reward) for who in (a, b, late)}
    for approval_id, record in approvals:
        tree = approval_tree(record)
        payout_approvals(system, approval_id, tree, range(len(tree)))
    paid = {
        (t, who): balance(system, t, who) - before[(t, who)] for t in (weth, reward) for who in (a, b, late)
    }
    assert paid == {
        (weth, a): a_weth,
        (reward, a): 50 * ETHER,
        (weth, b): 100 * ETHER,
        (reward, b): 100 * ETHER,
        (weth, late): late_after,
        (reward, late): 0,
    }
    # Custody = Exocore stake: everything deposited is slashed or paid out, to the wei.
    for token in (weth, reward):
        out = sum(paid[(token, who)] for who in (a, b, late))
        assert held(system, token) == custody_before[token] - slashed[token] - out
        # Every staker is out: custody of this deployment holds nothing more.
        assert system.restaking_vault.functions.totalPrincipal(token).call() == 0


def test_staker_cannot_withdraw_without_an_approval(custody: CustodyWorld) -> None:
    system = custody.system
    staker, operator = system.accounts[5], custody.operator_l1(1)
    weth = system.deployment.weth
    l1_delegate(system, staker, operator, weth, 10 * ETHER)
    receipt = l1_request_withdrawal(system, staker, operator, weth, 10 * ETHER)
    (event,) = events_of(system.restaking_vault.events.WithdrawalRequested, receipt)
    assert (event["args"]["staker"], event["args"]["amount"]) == (staker, 10 * ETHER)
    assert balance(system, weth, staker) == 0
    names = {str(entry["name"]) for entry in load_artifact(ContractName.RESTAKING_VAULT).entries("function")}
    # No entry point pays a staker on their word alone: only payout/claim against a verified root.
    assert not names & {"withdraw", "withdrawTo", "unstake"}
    with reverts("UnknownApproval"):
        system.restaking_vault.functions.claim(b"\x01" * 32, (0, staker, 10 * ETHER), []).call(
            {"from": staker}
        )
    with reverts("OnlyGateway"):
        system.restaking_vault.functions.registerApprovals(
            b"\x01" * 32, weth, 1, 10 * ETHER, 1, b"\x02" * 32
        ).call({"from": staker})


def test_approval_leaf_is_paid_once_and_a_front_run_claim_is_skipped(custody: CustodyWorld) -> None:
    cw, system = custody, custody.system
    weth = system.deployment.weth
    stakers = system.accounts[4:8]
    operator = cw.operator_l1(1)
    for i, staker in enumerate(stakers):
        l1_delegate(system, staker, operator, weth, (i + 1) * ETHER)
        l1_request_withdrawal(system, staker, operator, weth, (i + 1) * ETHER)
    assert cw.follow() == 8
    for _ in range(3):
        cw.world.next_epoch()
    ((approval_id, record),) = relay_approvals(cw, approval_nonces(cw))
    tree = approval_tree(record)
    assert len(tree) == 4 and tree.total == 10 * ETHER
    # A staker self-claims leaf 2 just before the relayer's batch of all four: the batch pays the rest.
    claim_approval(system, approval_id, tree, 2, sender=system.accounts[9])
    receipt = payout_approvals(system, approval_id, tree, range(4))
    assert len(events_of(system.restaking_vault.events.WithdrawalPaid, receipt)) == 3
    for leaf in (tree.leaf(i) for i in range(4)):
        assert balance(system, weth, Web3.to_checksum_address(leaf.staker)) == leaf.amount
        assert system.restaking_vault.functions.isPaid(approval_id, leaf.index).call() is True
    with reverts("LeafAlreadyPaid"):
        claim_approval(system, approval_id, tree, 0, sender=system.accounts[9])
    # A second batch pays nothing more (every leaf skipped).
    before = system.restaking_vault.functions.totalPrincipal(weth).call()
    receipt = payout_approvals(system, approval_id, tree, range(4))
    assert events_of(system.restaking_vault.events.WithdrawalPaid, receipt) == []
    assert system.restaking_vault.functions.totalPrincipal(weth).call() == before
    forged = approval_tree(
        WithdrawalApprovalRecord(
            0,
            Hash32(bytes(32)),
            0,
            record.token,
            0,
            Hash32(bytes(32)),
            0,
            [as_address(stakers[0])],
            [ETHER],
            [(1,)],
        )
    )
    with reverts("InvalidMerkleProof"):
        payout_approvals(system, approval_id, forged, [0])


def test_slash_beyond_custody_moves_what_is_there_and_the_next_packet_lands(custody: CustodyWorld) -> None:
    system = custody.system
    weth = system.deployment.weth
    staker, operator = system.accounts[5], custody.operator_l1(0)
    l1_delegate(system, staker, operator, weth, 3 * ETHER)
    held = system.restaking_vault.functions.totalPrincipal(weth).call()
    sink = system.deployment.slashing_sink
    sink_before = balance(system, weth, sink)
    payload = SlashPayload(
        slash_id=Hash32(b"\x5b" * 32),
        operator=as_address(operator),
        avs=Address(b"\xaa" * 20),
        tokens=(as_address(weth), as_address(system.deployment.reward_token)),
        amounts=(Amount(held + 5), Amount(0)),
        freeze=True,
    )
    _, receipt = relay(system, payload)
    (shortfall,) = events_of(system.restaking_vault.events.SlashShortfall, receipt)
    assert (shortfall["args"]["token"], shortfall["args"]["requested"], shortfall["args"]["moved"]) == (
        weth,
        held + 5,
        held,
    )
    assert balance(system, weth, sink) - sink_before == held
    assert system.restaking_vault.functions.totalPrincipal(weth).call() == 0
    (frozen,) = events_of(system.restaking_vault.events.OperatorFrozen, receipt)
    assert frozen["args"]["operator"] == operator
    # The bridge is not stalled: the next packet (another slash) lands.
    again = SlashPayload(
        slash_id=Hash32(b"\x5c" * 32),
        operator=as_address(operator),
        avs=Address(b"\xaa" * 20),
        tokens=(as_address(weth),),
        amounts=(Amount(1),),
        freeze=False,
    )
    packet = system.packet(again, nonce=system.next_nonce)
    system.next_nonce += 1
    receipt = deliver(system, packet)
    assert len(events_of(system.gateway.events.SlashExecuted, receipt)) == 1


def test_delegation_exocore_refuses_is_refunded_by_an_approval(custody: CustodyWorld) -> None:
    """L1 accepted a delegation to an address Exocore knows no operator for: the tokens are in
    custody, so Exocore approves their withdrawal at the next epoch instead of staking them."""
    cw, system = custody, custody.system
    weth = system.deployment.weth
    staker = system.accounts[6]
    nobody = Web3.to_checksum_address("0x" + "77" * 20)
    receipt = l1_delegate(system, staker, nobody, weth, 4 * ETHER + 1)
    assert cw.follow() == 1
    cw.world.next_epoch()
    ((approval_id, record),) = relay_approvals(cw, approval_nonces(cw))
    payout_approvals(system, approval_id, approval_tree(record), [0])
    assert balance(system, weth, staker) == 4 * ETHER + 1
    # Re-reading the same L1 event (a follower restarted from an older block) is refused by Exocore:
    # each request id applies once.
    (event,) = events_of(system.restaking_vault.events.Delegated, receipt)
    replay = VaultEvent(
        request_id=event["args"]["requestId"],
        withdrawal=False,
        staker=as_address(staker),
        operator=as_address(nobody),
        token=as_address(weth),
        amount=4 * ETHER + 1,
        block_number=receipt["blockNumber"],
        log_index=0,
    )
    with pytest.raises(ChainRuleError, match="was applied at height"):
        cw.world.node.submit(stake_msg(replay, DEVNET_LZ_CHAIN_ID))


def test_vault_surface_and_pause(custody: CustodyWorld) -> None:
    """Stakers only move tokens in; principal moves out by gateway packets or proven approvals, and
    the gateway's pause stops approval payouts too."""
    cw, system = custody, custody.system
    mutating = {
        str(entry["name"])
        for entry in load_artifact(ContractName.RESTAKING_VAULT).entries("function")
        if entry["stateMutability"] not in ("view", "pure")
    }
    assert mutating == {"delegate", "requestWithdrawal", "slash", "registerApprovals", "payout", "claim"}
    weth, staker = system.deployment.weth, system.accounts[5]
    l1_delegate(system, staker, cw.operator_l1(1), weth, ETHER)
    l1_request_withdrawal(system, staker, cw.operator_l1(1), weth, ETHER)
    cw.follow()
    for _ in range(3):
        cw.world.next_epoch()
    ((approval_id, record),) = relay_approvals(cw, approval_nonces(cw))
    tree = approval_tree(record)
    transact(system, system.gateway.functions.pause(), sender=system.deployment.guardian)
    with reverts("GatewayPaused"):
        system.restaking_vault.functions.claim(
            approval_id, leaf_abi(tree.leaf(0)), list(tree.proof(0))
        ).call()
    transact(system, system.gateway.functions.unpause(), sender=system.deployment.owner)
    claim_approval(system, approval_id, tree, 0, sender=staker)
    assert balance(system, weth, staker) == ETHER
