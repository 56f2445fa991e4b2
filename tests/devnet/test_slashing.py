"""Slashing: committee requests (over the slash threshold only) and equivocation evidence."""

from __future__ import annotations

import pytest

from devnet import scenario as sc
from devnet.chain import events as ev
from devnet.chain.model import SLASH_EXECUTED, SLASH_REJECTED
from devnet.chain.msgs import undelegation_msg
from devnet.chain.state import ChainRuleError
from devnet.grpc.errors import InvalidRequestError
from relayer.exocore.proto.operator.v1 import tx_pb2 as operator_tx
from relayer.protocol.claims import EquivocationEvidence, SlashRequest
from relayer.protocol.evidence import Attestation
from relayer.protocol.ids import AssetId, ChainId
from relayer.protocol.packets import PacketKind, SlashPayload, decode_payload
from relayer.protocol.types import Address, Hash32
from tests.support.devnet_world import CHAIN_ID, ETHER, SEED, STETH, WETH, World

PROPORTION = 10**17  # 10 %


def two_avs_world() -> tuple[World, str, str]:
    """Operators 0..2 serve AVS alpha (WETH + stETH) and beta (WETH only); equal committees."""
    world = World.create()
    world.price(WETH, "2000")
    world.price(STETH, "1000")
    for index in range(3):
        world.operator(index)
    alpha = world.avs("alpha", asset_ids=(WETH, STETH), committee_size=3, slash_proportion="0.1")
    beta = world.avs("beta", asset_ids=(WETH,), committee_size=3, slash_proportion="0.5")
    for index in range(3):
        world.opt_in(index, alpha)
        world.opt_in(index, beta)
        world.delegate(sc.staker_address(SEED, 10 + index), index, WETH, 10 * ETHER)
        world.delegate(sc.staker_address(SEED, 20 + index), index, STETH, 7 * ETHER + 3)
    world.next_epoch()
    return world, alpha, beta


def slash_msg(
    world: World, avs: str, target: int, signers: list[int], proportion: int = PROPORTION, freeze: bool = True
) -> operator_tx.MsgSubmitSlashRequest:
    return sc.slash_request_msg(
        chain_id=CHAIN_ID,
        committee=world.committee(avs),
        secrets=world.secrets,
        signer_indices=signers,
        operator=sc.operator_account(SEED, target),
        proportion=proportion,
        freeze=freeze,
    )


def power_of(world: World, avs: str, index: int) -> int:
    committee = world.committee(avs)
    return committee.powers[committee.operators.index(str(sc.operator_account(SEED, index)))]


def test_committee_slash_freezes_deducts_pro_rata_and_drops_power_everywhere() -> None:
    world, alpha, beta = two_avs_world()
    beta_power = power_of(world, beta, 1)
    target = str(sc.operator_account(SEED, 1))
    response = world.node.submit_slash_request(slash_msg(world, alpha, 1, [0, 1, 2]))
    world.node.produce_block()
    record = world.state.slashes[Hash32(response.slash_id)]
    assert record.status == SLASH_EXECUTED and record.freeze
    expected_id = SlashRequest(
        ChainId.parse(CHAIN_ID).hash,
        Address(bytes.fromhex(alpha[2:])),
        2,
        sc.operator_account(SEED, 1).address,
        PROPORTION,
        True,
        Attestation(
            ChainId.parse(CHAIN_ID).hash,
            Address(bytes.fromhex(alpha[2:])),
            sc.operator_account(SEED, 1).address,
            2,
            sc.ATTESTED_STATEMENT,
        ).evidence_hash,
    ).slash_id
    assert response.slash_id == expected_id
    # 10 % of each delegation in each asset alpha accepts (floors per delegation).
    operator = world.state.operators[target]
    assert operator.pools[WETH][sc.staker_address(SEED, 11)] == 9 * ETHER
    assert operator.pools[STETH][sc.staker_address(SEED, 21)] == (7 * ETHER + 3) - (7 * ETHER + 3) // 10
    assert alpha in operator.frozen and beta not in operator.frozen
    slashed = {e.get("asset_id"): e.get("amount") for e in world.events_of(ev.OPERATOR_ASSET_SLASHED)}
    assert slashed == {WETH: str(ETHER), STETH: str((7 * ETHER + 3) // 10)}
    [freeze] = world.events_of(ev.FREEZE_OPERATOR)
    assert freeze.get("operator") == target and freeze.get("frozen_or_unfrozen") == "true"
    assert freeze.get("avs_address") == alpha
    [executed] = world.events_of(ev.SLASH_EXECUTED)
    assert executed.get("packet_nonce") == str(record.packet_nonce)
    # The SLASH packet carries per-token amounts.
    packet = world.node.packet(record.packet_nonce)
    assert packet is not None and int(packet.kind) == PacketKind.SLASH
    payload = decode_payload(packet.kind, packet.payload)
    assert isinstance(payload, SlashPayload)
    assert payload.operator == sc.operator_account(SEED, 1).address and payload.freeze
    assert dict(zip(payload.tokens, payload.amounts, strict=True)) == {
        AssetId.parse(WETH).token: ETHER,
        AssetId.parse(STETH).token: (7 * ETHER + 3) // 10,
    }
    # Next epoch: excluded from alpha (frozen), still in beta with 10 % less power.
    world.next_epoch()
    assert target not in world.committee(alpha).operators
    assert power_of(world, beta, 1) == beta_power * 9 // 10
    frozen = world.node.freezing_slash(target, alpha)
    assert frozen is not None and frozen.slash_id == response.slash_id


def test_exactly_the_slash_threshold_is_rejected() -> None:
    world, alpha, _ = two_avs_world()
    response = world.node.submit_slash_request(slash_msg(world, alpha, 2, [0, 1]))
    world.node.produce_block()
    record = world.state.slashes[Hash32(response.slash_id)]
    assert record.status == SLASH_REJECTED and record.reject_reason.startswith("no_quorum")
    [rejected] = world.events_of(ev.SLASH_REQUEST_REJECTED)
    assert rejected.get("reason") == "no_quorum"
    assert world.events_of(ev.OPERATOR_ASSET_SLASHED) == []
    assert not world.state.operators[str(sc.operator_account(SEED, 2))].frozen


def test_slash_request_rules() -> None:
    world, alpha, _ = two_avs_world()
    too_much = world.node.submit_slash_request(
        slash_msg(world, alpha, 0, [0, 1, 2], proportion=2 * PROPORTION)
    )
    assert world.state.slashes[Hash32(too_much.slash_id)].reject_reason.startswith("proportion_too_high")
    world.operator(7)  # registered but never opted in
    stranger = world.node.submit_slash_request(slash_msg(world, alpha, 7, [0, 1, 2]))
    assert world.state.slashes[Hash32(stranger.slash_id)].reject_reason.startswith("operator_not_serving")
    forged = slash_msg(world, alpha, 0, [0, 1, 2])
    forged.slash_proportion = "0.09"  # not what the committee signed
    bad = world.node.submit_slash_request(forged)
    assert world.state.slashes[Hash32(bad.slash_id)].reject_reason.startswith("bad_signature")
    ok = world.node.submit_slash_request(slash_msg(world, alpha, 0, [0, 1, 2], freeze=False))
    assert world.state.slashes[Hash32(ok.slash_id)].status == SLASH_EXECUTED
    assert not world.state.operators[str(sc.operator_account(SEED, 0))].frozen
    with pytest.raises(ChainRuleError, match="duplicate slash"):
        world.node.submit_slash_request(slash_msg(world, alpha, 0, [0, 1, 2], freeze=False))


def test_equivocation_evidence_slashes_with_the_avs_proportion() -> None:
    world, _, beta = two_avs_world()
    secret = sc.operator_bls_secret(SEED, 2, beta)
    msg = sc.equivocation_msg(
        chain_id=CHAIN_ID, avs_hex=beta, operator=sc.operator_account(SEED, 2), secret=secret, task_id=17
    )
    response = world.node.submit_equivocation_evidence(msg)
    world.node.produce_block()
    evidence = EquivocationEvidence(
        ChainId.parse(CHAIN_ID).hash,
        Address(bytes.fromhex(beta[2:])),
        sc.operator_account(SEED, 2).address,
        17,
        sc.task_response(17, 1),
        sc.task_response(17, 2),
    )
    record = world.state.slashes[Hash32(response.slash_id)]
    assert response.slash_id == evidence.evidence_id
    assert record.status == SLASH_EXECUTED and record.freeze and record.task_id == 17
    assert record.proportion == 5 * 10**17
    operator = world.state.operators[str(sc.operator_account(SEED, 2))]
    assert operator.pools[WETH][sc.staker_address(SEED, 12)] == 5 * ETHER
    assert operator.pools[STETH][sc.staker_address(SEED, 22)] == 7 * ETHER + 3  # beta does not accept stETH
    assert beta in operator.frozen
    with pytest.raises(ChainRuleError, match="duplicate slash"):
        world.node.submit_equivocation_evidence(msg)


def test_equivocation_rejections() -> None:
    world, _, beta = two_avs_world()
    account = sc.operator_account(SEED, 2)
    wrong_key = sc.operator_bls_secret(SEED, 2, "0x" + "00" * 20)
    msg = sc.equivocation_msg(chain_id=CHAIN_ID, avs_hex=beta, operator=account, secret=wrong_key, task_id=3)
    response = world.node.submit_equivocation_evidence(msg)
    assert world.state.slashes[Hash32(response.slash_id)].reject_reason.startswith("bad_signature")
    same = sc.equivocation_msg(chain_id=CHAIN_ID, avs_hex=beta, operator=account, secret=wrong_key, task_id=3)
    same.response_b = same.response_a
    with pytest.raises(InvalidRequestError, match="two different"):
        world.node.submit_equivocation_evidence(same)
    other_task = sc.equivocation_msg(
        chain_id=CHAIN_ID, avs_hex=beta, operator=account, secret=wrong_key, task_id=3
    )
    other_task.response_b = sc.task_response(4, 2)
    with pytest.raises(InvalidRequestError, match="answers task 4"):
        world.node.submit_equivocation_evidence(other_task)


def test_pending_undelegations_are_slashed_too() -> None:
    world, alpha, _ = two_avs_world()
    staker = sc.staker_address(SEED, 10)
    response = world.node.undelegate(
        undelegation_msg(
            staker="0x" + staker.hex(),
            operator=str(sc.operator_account(SEED, 0)),
            asset_id=WETH,
            amount=4 * ETHER,
        )
    )
    world.node.submit_slash_request(slash_msg(world, alpha, 0, [0, 1, 2]))
    world.node.produce_block()
    [event] = world.events_of(ev.UNDELEGATION_SLASHED)
    assert event.get("record_id") == str(response.record_id)
    assert event.get("amount") == str(4 * ETHER) and event.get("slash_amount") == str(4 * ETHER // 10)
    assert world.state.undelegations[response.record_id].amount == 4 * ETHER * 9 // 10
    # The SLASH packet's WETH amount includes the undelegation's share.
    record = world.state.slashes[next(iter(world.state.slashes))]
    weth = next(a for a in record.assets if a.asset_id == WETH)
    assert weth.amount == 6 * ETHER // 10 + 4 * ETHER // 10
