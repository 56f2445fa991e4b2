"""Transaction fees as a reward source on the devnet chain: Exocore learns of each L1 fee deposit
(``MsgRecordFeeDeposit``, applied once per L1 event), a FEES claim's distribution carries the FEES
source, and a distribution larger than what the source still holds is rejected with its reason."""

from __future__ import annotations

import pytest

from devnet import scenario as sc
from devnet.chain import events as ev
from devnet.chain.model import CLAIM_DISTRIBUTED, CLAIM_REJECTED
from devnet.chain.state import ChainRuleError
from devnet.grpc.errors import InvalidRequestError
from relayer.exocore.proto.avs.v1 import tx_pb2 as avs_tx
from relayer.protocol.packets import (
    ClientChain,
    FundingMode,
    PacketKind,
    RewardDistributionPayload,
    decode_payload,
)
from relayer.protocol.types import Address, Hash32
from tests.support.devnet_world import ETHER, REWARD_TOKEN, SEED, VAULT_TOKEN, WETH, World

FEE_TOKEN = "0x" + "e2" * 20


def fee_world(*client_chains: ClientChain) -> tuple[World, str]:
    """An AVS with a FEES token and three operators staked on the first client chain (further
    ``client_chains`` are listed but hold no stake)."""
    world = World.create(client_chains=client_chains) if client_chains else World.create()
    world.price(WETH, "1000")
    for index in range(3):
        world.operator(index)
    tokens = ((REWARD_TOKEN, 1), (VAULT_TOKEN, 2), (FEE_TOKEN, 3))
    avs = world.avs("feeavs", committee_size=3, reward_tokens=tokens)
    for index in range(3):
        world.opt_in(index, avs)
        world.delegate(sc.staker_address(SEED, index), index, WETH, ETHER)
    world.next_epoch()
    return world, avs


def fee_deposit(avs: str, amount: int, log_index: int, tx_byte: int = 0xAB) -> avs_tx.MsgRecordFeeDeposit:
    return avs_tx.MsgRecordFeeDeposit(
        avs_address=avs,
        token=FEE_TOKEN,
        amount=str(amount),
        l1_tx_hash="0x" + f"{tx_byte:02x}" * 32,
        l1_log_index=log_index,
    )


def last_rejection(world: World) -> tuple[str, str]:
    (event,) = world.events_of(ev.REWARD_CLAIM_REJECTED)
    return event.get("reason") or "", event.get("detail") or ""


def test_fees_fund_a_distribution_and_no_more_than_they_hold() -> None:
    world, avs = fee_world()
    committee = world.committee(avs)
    avs_bytes = Address(bytes.fromhex(avs[2:]))
    token_bytes = Address(bytes.fromhex(FEE_TOKEN[2:]))

    # No fee reported yet: a FEES claim has nothing to pay from.
    early = world.claim(committee, [0, 1, 2], amount=1_000, token=FEE_TOKEN)
    world.node.produce_block()
    assert world.state.claims[Hash32(early.claim_id)].status == CLAIM_REJECTED
    reason, detail = last_rejection(world)
    assert reason == "insufficient_fees"
    assert "holds 0" in detail

    # One L1 FeesDeposited event, reported once; a second report of the same event is refused.
    world.node.submit(fee_deposit(avs, 1_000, log_index=3))
    with pytest.raises(ChainRuleError, match="already recorded"):
        world.node.submit(fee_deposit(avs, 1_000, log_index=3))
    world.node.produce_block()
    (recorded,) = world.events_of(ev.FEE_DEPOSIT_RECORDED)
    assert (recorded.get("amount"), recorded.get("funded"), recorded.get("distributed")) == (
        "1000",
        "1000",
        "0",
    )
    assert world.state.fees_available(avs_bytes, token_bytes) == 1_000

    # A claim of 1,000 pays 970 after the 3 % community tax: within the 1,000 of fees.
    paid = world.claim(committee, [0, 1, 2], amount=1_000, token=FEE_TOKEN, tasks_root=b"\x01" * 32)
    world.node.produce_block()
    record = world.state.claims[Hash32(paid.claim_id)]
    assert record.status == CLAIM_DISTRIBUTED
    distribution = world.state.distributions[record.distribution_nonce]
    assert distribution.funding == FundingMode.FEES
    (finalized,) = world.events_of(ev.REWARD_DISTRIBUTION_FINALIZED)
    assert finalized.get("funding") == str(int(FundingMode.FEES))
    packet = world.state.relay.packets[record.distribution_nonce].packet
    assert packet.kind is PacketKind.REWARD_DISTRIBUTION
    payload = packet.payload
    assert isinstance(payload, RewardDistributionPayload)
    assert decode_payload(packet.kind, packet.payload_bytes) == payload
    assert payload.funding is FundingMode.FEES
    assert world.state.fees_available(avs_bytes, token_bytes) == 1_000 - distribution.total

    # What is left (30) cannot pay another 970.
    again = world.claim(committee, [0, 1, 2], amount=1_000, token=FEE_TOKEN, tasks_root=b"\x02" * 32)
    world.node.produce_block()
    assert world.state.claims[Hash32(again.claim_id)].status == CLAIM_REJECTED
    reason, detail = last_rejection(world)
    assert reason == "insufficient_fees"
    assert f"pays {distribution.total} of {FEE_TOKEN}" in detail
    assert f"holds {1_000 - distribution.total}" in detail


def test_the_source_is_the_registered_one_not_the_submitters_choice() -> None:
    """The committee signs a claim id that names no source: a submitter cannot re-route a VAULT
    token's claim to the AVS's fees (or the reverse)."""
    world, avs = fee_world()
    committee = world.committee(avs)
    world.node.submit(fee_deposit(avs, 10**6, log_index=0))
    for token, funding in ((VAULT_TOKEN, FundingMode.FEES), (FEE_TOKEN, FundingMode.VAULT)):
        claim = world.claim(committee, [0, 1, 2], amount=1_000, token=token, funding=int(funding))
        world.node.produce_block()
        assert world.state.claims[Hash32(claim.claim_id)].status == CLAIM_REJECTED
        assert last_rejection(world)[0] == "funding_mismatch"


def test_a_malformed_fee_report_is_refused_with_its_reason() -> None:
    world, avs = fee_world()
    with pytest.raises(InvalidRequestError, match="amount must be positive"):
        world.node.submit(fee_deposit(avs, 0, log_index=0))
    bad_hash = fee_deposit(avs, 5, log_index=0)
    bad_hash.l1_tx_hash = "0x1234"
    with pytest.raises(InvalidRequestError, match="l1 tx hash"):
        world.node.submit(bad_hash)


CHAIN_B = ClientChain(31338, Address(b"\xbb" * 20))


def test_fees_are_held_per_client_chain_and_pay_only_that_chains_leaves() -> None:
    """Fees reported from the second chain's RewardVault fund that chain's source only: a FEES claim
    whose leaves are all on the first chain is not paid from them; the first chain's own fees pay it.
    The same (tx hash, log index) on two chains is two deposits; a chain Exocore does not relay to
    is refused."""
    world, avs = fee_world(CHAIN_B)
    committee = world.committee(avs)
    avs_bytes = Address(bytes.fromhex(avs[2:]))
    token_bytes = Address(bytes.fromhex(FEE_TOKEN[2:]))
    on_b = fee_deposit(avs, 1_000, log_index=3)
    on_b.l1_chain_id = CHAIN_B.l1_chain_id
    world.node.submit(on_b)
    world.node.produce_block()
    (recorded,) = world.events_of(ev.FEE_DEPOSIT_RECORDED)
    assert recorded.get("l1_chain_id") == str(CHAIN_B.l1_chain_id)
    assert world.state.fees_available(avs_bytes, token_bytes, CHAIN_B.l1_chain_id) == 1_000
    assert world.state.fees_available(avs_bytes, token_bytes) == 0  # the first chain's

    first = world.claim(committee, [0, 1, 2], amount=1_000, token=FEE_TOKEN)
    world.node.produce_block()
    assert world.state.claims[Hash32(first.claim_id)].status == CLAIM_REJECTED
    reason, detail = last_rejection(world)
    assert (reason, "holds 0" in detail) == ("insufficient_fees", True)

    world.node.submit(fee_deposit(avs, 1_000, log_index=3))  # same event key, the first chain
    world.node.produce_block()
    paid = world.claim(committee, [0, 1, 2], amount=1_000, token=FEE_TOKEN, tasks_root=b"\x04" * 32)
    world.node.produce_block()
    record = world.state.claims[Hash32(paid.claim_id)]
    assert record.status == CLAIM_DISTRIBUTED
    total = world.state.distributions[record.distribution_nonce].total
    assert world.state.fees_available(avs_bytes, token_bytes) == 1_000 - total
    assert world.state.fees_available(avs_bytes, token_bytes, CHAIN_B.l1_chain_id) == 1_000  # untouched

    elsewhere = fee_deposit(avs, 5, log_index=4)
    elsewhere.l1_chain_id = 8453
    with pytest.raises(ChainRuleError, match="not a client chain"):
        world.node.submit(elsewhere)
