"""The devnet's custody rules: L1 requests apply once, refused L1 delegations are refunded, frozen
operators take no delegation, and matured L1 withdrawals become WITHDRAWAL_APPROVAL packets (one per
token, one leaf per staker, after every slash)."""

from __future__ import annotations

import pytest

from devnet import scenario as sc
from devnet.chain import events as ev
from devnet.chain.msgs import delegation_msg, undelegation_msg
from devnet.chain.state import ChainRuleError
from relayer.exocore.proto.delegation.v1 import tx_pb2 as delegation_tx
from relayer.protocol.ids import AssetId
from relayer.protocol.merkle import DistributionLeaf, DistributionTree
from relayer.protocol.packets import PacketKind, WithdrawalApprovalPayload, decode_payload
from relayer.protocol.types import Address, Amount
from tests.support.devnet_world import CHAIN_ID, ETHER, SEED, STETH, WETH, World


def stake_msg(
    kind: type[delegation_tx.MsgDelegation] | type[delegation_tx.MsgUndelegation],
    staker: Address,
    operator: int,
    asset: str,
    amount: int,
    request_id: int,
) -> delegation_tx.MsgDelegation | delegation_tx.MsgUndelegation:
    build = delegation_msg if kind is delegation_tx.MsgDelegation else undelegation_msg
    return build(
        staker="0x" + staker.hex(),
        operator=str(sc.operator_account(SEED, operator)),
        asset_id=asset,
        amount=amount,
        l1_request_id=request_id,
    )


def custody_world() -> tuple[World, str]:
    world = World.create(unbonding_epochs=1)
    world.price(WETH, "2000")
    world.price(STETH, "1000")
    for index in range(2):
        world.operator(index)
    avs = world.avs("alpha", asset_ids=(WETH, STETH), committee_size=2, slash_proportion="0.5")
    for index in range(2):
        world.opt_in(index, avs)
    return world, avs


def test_an_l1_request_applies_once() -> None:
    world, _ = custody_world()
    staker = sc.staker_address(SEED, 1)
    world.node.submit(stake_msg(delegation_tx.MsgDelegation, staker, 0, WETH, ETHER, 7))
    with pytest.raises(ChainRuleError, match="L1 request 7 was applied"):
        world.node.submit(stake_msg(delegation_tx.MsgDelegation, staker, 0, WETH, ETHER, 7))
    with pytest.raises(ChainRuleError, match="L1 request 7 was applied"):
        world.node.submit(stake_msg(delegation_tx.MsgUndelegation, staker, 0, WETH, ETHER, 7))
    operator = world.state.operators[str(sc.operator_account(SEED, 0))]
    assert operator.pools[WETH][staker] == ETHER


def test_matured_withdrawals_are_approved_per_token_one_leaf_per_staker_after_the_slash() -> None:
    world, avs = custody_world()
    a, b = sc.staker_address(SEED, 1), sc.staker_address(SEED, 2)
    request = iter(range(1, 100))
    for staker in (a, b):
        world.node.submit(
            stake_msg(delegation_tx.MsgDelegation, staker, 0, WETH, 10 * ETHER + 1, next(request))
        )
        world.node.submit(stake_msg(delegation_tx.MsgDelegation, staker, 0, STETH, 4 * ETHER, next(request)))
    world.next_epoch()
    # a asks twice for WETH (merged into one leaf) and once for stETH; b for WETH only.
    world.node.submit(stake_msg(delegation_tx.MsgUndelegation, a, 0, WETH, 6 * ETHER, next(request)))
    world.node.submit(stake_msg(delegation_tx.MsgUndelegation, a, 0, WETH, 4 * ETHER + 1, next(request)))
    world.node.submit(stake_msg(delegation_tx.MsgUndelegation, a, 0, STETH, 4 * ETHER, next(request)))
    world.node.submit(stake_msg(delegation_tx.MsgUndelegation, b, 0, WETH, 10 * ETHER + 1, next(request)))
    committee = world.committee(avs)
    world.node.submit_slash_request(
        sc.slash_request_msg(
            chain_id=CHAIN_ID,
            committee=committee,
            secrets=world.secrets,
            signer_indices=range(len(committee.operators)),
            operator=sc.operator_account(SEED, 0),
            proportion=ETHER // 2,
            freeze=False,
        )
    )
    world.next_epoch()
    world.next_epoch()
    approvals = list(world.state.withdrawal_approvals.values())
    half = (6 * ETHER - 3 * ETHER) + (4 * ETHER + 1 - (4 * ETHER + 1) // 2)
    expected = {
        AssetId.parse(WETH).token: sorted([(a, half), (b, 10 * ETHER + 1 - (10 * ETHER + 1) // 2)]),
        AssetId.parse(STETH).token: [(a, 2 * ETHER)],
    }
    assert {r.token: list(zip(r.stakers, r.amounts, strict=True)) for r in approvals} == expected
    for record in approvals:
        packet = world.node.packet(record.nonce)
        assert packet is not None and int(packet.kind) == PacketKind.WITHDRAWAL_APPROVAL.value
        payload = decode_payload(packet.kind, packet.payload)
        assert isinstance(payload, WithdrawalApprovalPayload)
        tree = DistributionTree.build(
            DistributionLeaf(index=i, staker=s, amount=Amount(x))
            for i, (s, x) in enumerate(zip(record.stakers, record.amounts, strict=True))
        )
        assert (payload.merkle_root, payload.total, payload.leaf_count) == (tree.root, tree.total, len(tree))
        # Served as distribution leaves under the packet's nonce.
        served = world.node.distribution_leaves(record.nonce)
        assert [(leaf.staker, leaf.amount) for leaf in served] == [
            ("0x" + s.hex(), str(x)) for s, x in zip(record.stakers, record.amounts, strict=True)
        ]
    (approved_a,) = [r for r in approvals if r.token == AssetId.parse(WETH).token]
    assert approved_a.request_ids[approved_a.stakers.index(a)] == (5, 6)
    assert len(world.events_of(ev.WITHDRAWAL_APPROVED, approvals[0].created_height)) == 2


def test_frozen_operator_takes_no_delegation_and_an_l1_one_is_refunded() -> None:
    world, avs = custody_world()
    staker = sc.staker_address(SEED, 3)
    world.node.submit(stake_msg(delegation_tx.MsgDelegation, staker, 1, WETH, ETHER, 1))
    world.next_epoch()
    committee = world.committee(avs)
    world.node.submit_slash_request(
        sc.slash_request_msg(
            chain_id=CHAIN_ID,
            committee=committee,
            secrets=world.secrets,
            signer_indices=range(len(committee.operators)),
            operator=sc.operator_account(SEED, 1),
            proportion=ETHER // 10,
            freeze=True,
        )
    )
    world.node.produce_block()
    with pytest.raises(ChainRuleError, match="frozen"):
        world.delegate(staker, 1, WETH, ETHER)
    # The L1 vault accepted this one before the freeze reached it: the tokens are in custody.
    world.node.submit(stake_msg(delegation_tx.MsgDelegation, staker, 1, WETH, 3 * ETHER, 2))
    world.node.produce_block()
    (refund,) = world.events_of(ev.L1_DELEGATION_REFUNDED)
    assert (refund.get("request_id"), refund.get("amount")) == ("2", str(3 * ETHER))
    assert world.state.operators[str(sc.operator_account(SEED, 1))].pools[WETH][staker] == ETHER - ETHER // 10
    world.next_epoch()
    (approval,) = world.state.withdrawal_approvals.values()
    assert list(zip(approval.stakers, approval.amounts, strict=True)) == [(staker, 3 * ETHER)]
