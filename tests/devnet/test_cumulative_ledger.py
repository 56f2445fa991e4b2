"""The devnet's cumulative earnings: running totals per (earner, token), one CUMULATIVE_ROOT packet
per period (every N distributions) whatever the number of earners, totals that only grow."""

from __future__ import annotations

import pytest

from devnet import scenario as sc
from devnet.chain import events as ev
from devnet.chain.cumulative import CumulativeLedger
from devnet.chain.model import CLAIM_ACCRUED
from devnet.chain.state import ChainRuleError
from relayer.protocol.cumulative import CumulativeLeaf, CumulativeTree, check_monotone
from relayer.protocol.errors import InvalidValueError
from relayer.protocol.kinds import PayoutMode
from relayer.protocol.packets import CumulativeRootPayload, FundingMode, PacketKind, decode_payload
from relayer.protocol.types import Address, Amount
from tests.support.devnet_world import ETHER, REWARD_TOKEN, SEED, VAULT_TOKEN, WETH, World, avs_address

AVS_A = Address(b"\xa1" * 20)
AVS_B = Address(b"\xb1" * 20)
TOKEN = Address(b"\xe0" * 20)
OTHER_TOKEN = Address(b"\xe1" * 20)


def staker(i: int) -> Address:
    return Address(i.to_bytes(20, "big"))


def test_ledger_closes_a_period_every_n_distributions_with_growing_totals() -> None:
    ledger = CumulativeLedger(every=2)
    assert (
        ledger.record(
            avs=AVS_A, token=TOKEN, funding=FundingMode.MINT, stakers=[staker(1), staker(2)], amounts=[10, 0]
        )
        is None
    )
    first = ledger.record(
        avs=AVS_B, token=OTHER_TOKEN, funding=FundingMode.VAULT, stakers=[staker(1)], amounts=[7]
    )
    assert first is not None and first.period == 1
    # staker 2 earned nothing: no leaf; staker 1 has one leaf per token.
    assert {leaf.key: leaf.cumulative for leaf in first.tree.leaves} == {
        (staker(1), TOKEN): 10,
        (staker(1), OTHER_TOKEN): 7,
    }
    assert first.payload.funded_per_token() == first.tree.totals == {TOKEN: 10, OTHER_TOKEN: 7}
    ledger.record(
        avs=AVS_A, token=TOKEN, funding=FundingMode.MINT, stakers=[staker(1), staker(3)], amounts=[5, 4]
    )
    second = ledger.record(avs=AVS_B, token=TOKEN, funding=FundingMode.MINT, stakers=[staker(3)], amounts=[1])
    assert second is not None and second.period == 2
    check_monotone(first.tree.leaves, second.tree)
    assert second.tree.leaf(staker(1), TOKEN).cumulative == 15
    assert second.tree.leaf(staker(3), TOKEN).cumulative == 5
    assert {(e.avs, e.token): e.funded for e in second.payload.entries} == {
        (AVS_A, TOKEN): 19,
        (AVS_B, TOKEN): 1,
        (AVS_B, OTHER_TOKEN): 7,
    }
    assert second.payload.funded_per_token() == second.tree.totals
    with pytest.raises(InvalidValueError, match="funded by MINT"):
        ledger.record(avs=AVS_A, token=TOKEN, funding=FundingMode.VAULT, stakers=[staker(1)], amounts=[1])


def test_ledger_off_never_closes() -> None:
    ledger = CumulativeLedger(every=0)
    for _ in range(5):
        assert (
            ledger.record(avs=AVS_A, token=TOKEN, funding=FundingMode.MINT, stakers=[staker(1)], amounts=[1])
            is None
        )
    assert ledger.totals == {}


def _root_payloads(world: World) -> list[CumulativeRootPayload]:
    roots = []
    for event in world.events_of(ev.RELAY_PACKET_CREATED):
        if event.get("kind") != str(PacketKind.CUMULATIVE_ROOT.value):
            continue
        packet = world.node.packet(int(event.get("nonce") or 0))
        assert packet is not None
        payload = decode_payload(packet.kind, packet.payload)
        assert isinstance(payload, CumulativeRootPayload)
        roots.append(payload)
    return roots


def test_each_avs_is_paid_by_its_mode_only_and_one_root_per_period_covers_every_earner() -> None:
    """Two AVSs with the same committee and stake: ``alpha`` (per-distribution) gets a packet per
    distribution and never enters the cumulative earnings; ``beta`` (cumulative) gets no packet of
    its own, its claims end ``accrued``, and the roots (one per period, every 2 of its distributions,
    whatever the earner count) carry exactly what alpha's packets pay for the same claims."""
    world = World.create(cumulative_every=2)
    world.price(WETH, "3000")
    for index in range(3):
        world.operator(index)
    alpha = world.avs("alpha")
    beta = world.avs("beta", payout_mode=PayoutMode.CUMULATIVE)
    for avs in (alpha, beta):
        for index in range(3):
            world.opt_in(index, avs)
    for index in range(30):
        world.delegate(sc.staker_address(SEED, index), index % 3, WETH, (index + 1) * ETHER)
    world.next_epoch()
    roots: list[CumulativeRootPayload] = []
    per_distribution: dict[tuple[bytes, bytes], int] = {}
    for round_index, token in enumerate((REWARD_TOKEN, VAULT_TOKEN, REWARD_TOKEN, REWARD_TOKEN)):
        amount = 10**21 + round_index
        paid = world.claim(world.committee(alpha), [0, 1, 2], amount=amount, token=token)
        accrued = world.claim(world.committee(beta), [0, 1, 2], amount=amount, token=token)
        world.node.produce_block()
        distribution = world.node.distribution_for_claim(paid.claim_id)
        assert distribution is not None
        for leaf in world.node.distribution_leaves(distribution.nonce):
            key = (bytes.fromhex(leaf.staker[2:]), bytes.fromhex(str(distribution.token)[2:]))
            per_distribution[key] = per_distribution.get(key, 0) + int(leaf.amount)
        # The cumulative AVS's claim has no distribution, no packet nonce: its end state is accrued.
        assert world.node.distribution_for_claim(accrued.claim_id) is None
        record = world.state.claims[accrued.claim_id]
        assert (record.status, record.distribution_nonce) == (CLAIM_ACCRUED, 0)
        (event,) = world.events_of(ev.REWARD_DISTRIBUTION_ACCRUED)
        assert event.get("period") == str(round_index // 2 + 1)
        roots.extend(_root_payloads(world))
    # 4 of beta's distributions, a period every 2: two roots, each one packet for all 30+ earners.
    assert [root.period for root in roots] == [1, 2]
    # Only alpha's distributions made REWARD_DISTRIBUTION packets (4), only beta funds the roots.
    assert len(world.state.distributions) == 4
    assert {distribution.avs for distribution in world.state.distributions.values()} == {
        Address(bytes.fromhex(alpha[2:]))
    }
    assert {entry.avs for entry in roots[-1].entries} == {Address(bytes.fromhex(beta[2:]))}
    expected = CumulativeTree.build(
        CumulativeLeaf(Address(earner), Address(token), Amount(total))
        for (earner, token), total in per_distribution.items()
    )
    assert roots[-1].root == expected.root
    assert roots[-1].leaf_count == len(expected) >= 30
    ledger = world.state.cumulative_ledgers[world.state.relay.client_chains[0].l1_chain_id]
    assert ledger.latest is not None
    assert ledger.latest.tree.root == expected.root


def test_a_cumulative_avs_is_refused_where_cumulative_payouts_are_off() -> None:
    world = World.create()
    with pytest.raises(ChainRuleError, match="cumulative payouts are off"):
        world.avs("beta", payout_mode=PayoutMode.CUMULATIVE)
    assert avs_address("beta").lower() not in world.state.avss


def test_a_cumulative_avs_paying_in_fees_is_refused() -> None:
    """The cumulative root funds from deposits or mints: a FEES token is paid per distribution only."""
    world = World.create(cumulative_every=1)
    with pytest.raises(ChainRuleError, match="MINT or VAULT tokens only"):
        world.avs(
            "beta",
            payout_mode=PayoutMode.CUMULATIVE,
            reward_tokens=((REWARD_TOKEN, int(FundingMode.FEES)),),
        )
    assert avs_address("beta").lower() not in world.state.avss
