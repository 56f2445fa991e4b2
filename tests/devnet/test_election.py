"""Committee election: each rule, ties, frozen/opted-out operators, epoch boundaries."""

from __future__ import annotations

import pytest

from devnet import scenario as sc
from devnet.chain.election import elect, ineligibility
from devnet.chain.events import COMMITTEE_ELECTED
from devnet.chain.model import Asset, AvsRecord, Operator
from devnet.chain.msgs import undelegation_msg
from devnet.chain.params import USD_ONE
from devnet.chain.state import ChainRuleError
from relayer.protocol.ids import AssetId
from relayer.protocol.quorum import TWO_THIRDS
from relayer.protocol.types import Address
from tests.support.devnet_world import ETHER, OTHER, SEED, STETH, WETH, World, standard_world


def test_committee_is_top_n_by_usd_power_in_bitmap_order() -> None:
    world = World.create()
    world.price(WETH, "3000")
    for index in range(5):
        world.operator(index)
    avs = world.avs("alpha", committee_size=3)
    for index in range(5):
        world.opt_in(index, avs)
        # Operator i gets (i + 1) ETH: operators 4, 3, 2 are the top three.
        world.delegate(sc.staker_address(SEED, index), index, WETH, (index + 1) * ETHER)
    epoch = world.next_epoch()
    committee = world.committee(avs)
    assert committee.epoch == epoch == 2
    expected = [str(sc.operator_account(SEED, i)) for i in (4, 3, 2)]
    assert list(committee.operators) == expected
    assert list(committee.powers) == [(i + 1) * 3000 * USD_ONE for i in (4, 3, 2)]
    [event] = world.events_of(COMMITTEE_ELECTED)
    assert event.get("avs") == avs and event.get("epoch") == "2" and event.get("member_count") == "3"
    assert event.get("operators") == ",".join(expected)
    assert event.get("total_power") == str(sum(committee.powers))


def test_ties_are_broken_by_operator_address() -> None:
    world = World.create()
    world.price(WETH, "3000")
    for index in range(4):
        world.operator(index)
    avs = world.avs("alpha", committee_size=4)
    for index in range(4):
        world.opt_in(index, avs)
        world.delegate(sc.staker_address(SEED, index), index, WETH, ETHER)
    world.next_epoch()
    committee = world.committee(avs)
    by_address = sorted(range(4), key=lambda i: sc.operator_account(SEED, i).address)
    assert list(committee.operators) == [str(sc.operator_account(SEED, i)) for i in by_address]


def test_only_accepted_assets_count_and_prices_move_power() -> None:
    world = World.create()
    world.price(WETH, "3000")
    world.price(OTHER, "1000000")
    world.operator(0)
    world.operator(1)
    avs = world.avs("alpha", asset_ids=(WETH,), committee_size=1)
    world.opt_in(0, avs)
    world.opt_in(1, avs)
    world.delegate(sc.staker_address(SEED, 0), 0, WETH, 2 * ETHER)
    world.delegate(sc.staker_address(SEED, 1), 1, WETH, ETHER)
    # A huge stake in an asset the AVS does not accept gives no power.
    world.delegate(sc.staker_address(SEED, 2), 1, OTHER, 1000 * ETHER)
    world.next_epoch()
    assert list(world.committee(avs).operators) == [str(sc.operator_account(SEED, 0))]
    assert world.committee(avs).powers == (6000 * USD_ONE,)
    world.price(WETH, "1500.5")
    world.next_epoch()
    assert world.committee(avs).powers == (3001 * USD_ONE,)


def test_minimum_self_delegation_rule() -> None:
    world = World.create()
    world.price(WETH, "2000")
    world.price(STETH, "2000")
    for index in range(3):
        world.operator(index)
    avs = world.avs("alpha", asset_ids=(WETH, STETH), committee_size=3, min_self_delegation_usd="1000")
    for index in range(3):
        world.opt_in(index, avs)
        world.delegate(sc.staker_address(SEED, index), index, WETH, 10 * ETHER)
    world.self_delegate(0, WETH, ETHER // 2)  # exactly $1000: eligible
    world.self_delegate(1, STETH, ETHER // 2 - 1)  # just below: not eligible
    world.next_epoch()
    assert list(world.committee(avs).operators) == [str(sc.operator_account(SEED, 0))]


def test_minimum_operator_stake_rule() -> None:
    world = World.create()
    world.price(WETH, "1000")
    for index in range(3):
        world.operator(index)
    avs = world.avs("alpha", committee_size=3, min_operator_stake_usd="5000.5")
    for index in range(3):
        world.opt_in(index, avs)
    world.delegate(sc.staker_address(SEED, 0), 0, WETH, 5 * ETHER)  # $5000: below
    world.delegate(sc.staker_address(SEED, 1), 1, WETH, 5_000_500_000_000_000_000)  # exactly $5000.5
    world.delegate(sc.staker_address(SEED, 2), 2, WETH, 6 * ETHER)
    world.next_epoch()
    assert sorted(world.committee(avs).operators) == sorted(str(sc.operator_account(SEED, i)) for i in (1, 2))


def test_opt_in_and_opt_out_rules() -> None:
    world, avs = standard_world(operators=3)
    assert len(world.committee(avs).operators) == 3
    account = sc.operator_account(SEED, 1)
    world.node.submit(sc.opt_out_msg(account, avs))
    world.next_epoch()
    assert str(account) not in world.committee(avs).operators
    # Opting in again must reuse the key registered for this AVS.
    other_key = sc.operator_bls_secret(SEED, 1, "0x" + "00" * 20)
    with pytest.raises(ChainRuleError, match="one BLS key per AVS"):
        world.node.submit(sc.opt_in_msg(world.node.genesis.chain_id, account, avs, other_key))
    world.opt_in(1, avs)
    world.next_epoch()
    assert str(account) in world.committee(avs).operators


def test_opt_in_needs_a_valid_proof_of_possession_and_a_fresh_key() -> None:
    world, avs = standard_world(operators=2)
    world.operator(5)
    account = sc.operator_account(SEED, 5)
    secret = sc.operator_bls_secret(SEED, 5, avs)
    forged = sc.opt_in_msg(world.node.genesis.chain_id, sc.operator_account(SEED, 6), avs, secret)
    forged.from_address = str(account)  # a PoP made for another account does not verify
    with pytest.raises(ChainRuleError, match="proof of possession"):
        world.node.submit(forged)
    reused = sc.opt_in_msg(world.node.genesis.chain_id, account, avs, sc.operator_bls_secret(SEED, 0, avs))
    with pytest.raises(ChainRuleError, match="already registered"):
        world.node.submit(reused)
    with pytest.raises(ChainRuleError, match="not registered"):
        world.node.submit(
            sc.opt_in_msg(world.node.genesis.chain_id, sc.operator_account(SEED, 9), avs, secret)
        )


def test_avs_takes_part_from_the_epoch_after_registration() -> None:
    world = World.create()
    world.price(WETH, "3000")
    world.operator(0)
    world.next_epoch()  # epoch 2
    avs = world.avs("late")
    world.opt_in(0, avs)
    world.delegate(sc.staker_address(SEED, 0), 0, WETH, ETHER)
    state = world.node.state
    assert state.avss[avs].starting_epoch == 3
    world.node.advance(2)
    assert world.node.committee(avs, 0) is None
    assert world.next_epoch() == 3
    assert world.committee(avs).epoch == 3


def test_undelegation_lowers_power_at_the_next_election() -> None:
    world, avs = standard_world(operators=2, stakers=2)
    before = world.committee(avs)
    staker = sc.staker_address(SEED, 0)  # delegated 1 ETH to operator 0
    world.node.submit(
        undelegation_msg(
            staker="0x" + staker.hex(),
            operator=str(sc.operator_account(SEED, 0)),
            asset_id=WETH,
            amount=ETHER // 2,
        )
    )
    world.next_epoch()
    after = world.committee(avs)
    account = str(sc.operator_account(SEED, 0))
    assert after.powers[after.operators.index(account)] == before.powers[before.operators.index(account)] // 2


def _operator(index: int, stake: int, *, opted: bool = True, frozen: bool = False) -> Operator:
    account = sc.operator_account(SEED, index)
    operator = Operator(str(account), account.address, Address(b"\x01" * 20), 0, 1)
    avs_hex = "0x" + "aa" * 20
    operator.keys[avs_hex] = bytes([index]) * 48
    if opted:
        operator.opted_in[avs_hex] = None
    if frozen:
        operator.frozen[avs_hex] = b"\x00" * 32
    operator.pools[WETH] = {Address(b"\x02" * 20): stake}
    return operator


def test_elect_pure_rules() -> None:
    avs = AvsRecord(
        address=Address(b"\xaa" * 20),
        name="a",
        reward_address="",
        slash_address="",
        owners=(),
        asset_ids=(WETH,),
        epoch_identifier="block",
        starting_epoch=1,
        claim_threshold=TWO_THIRDS,
        reward_tokens={},
        min_self_delegation_usd=0,
        min_operator_stake_usd=0,
        committee_size=2,
        slash_threshold=TWO_THIRDS,
        slash_proportion=10**16,
        registered_height=1,
    )
    parsed = AssetId.parse(WETH)
    assets = {WETH: Asset(WETH, parsed.token, parsed.lz_chain_id, 18, 100 * USD_ONE)}
    operators = [
        _operator(0, 5 * ETHER, frozen=True),
        _operator(1, 4 * ETHER, opted=False),
        _operator(2, 3 * ETHER),
        _operator(3, 0),
        _operator(4, 2 * ETHER),
        _operator(5, ETHER),
    ]
    members = elect(avs, operators, assets)
    assert [m.operator for m in members] == [operators[2].account, operators[4].account]
    assert [m.power for m in members] == [300 * USD_ONE, 200 * USD_ONE]
    assert ineligibility(operators[0], avs, assets) == "frozen"
    assert ineligibility(operators[1], avs, assets) == "not opted in"
    assert ineligibility(operators[3], avs, assets) == "stake below the minimum"
    assert ineligibility(operators[5], avs, assets) is None
