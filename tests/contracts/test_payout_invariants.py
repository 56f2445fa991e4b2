"""Fuzz: random batches of payouts and claims never pay a leaf twice and never exceed the total
(a batch skips leaves already paid; a claim of a paid leaf reverts)."""

from __future__ import annotations

from typing import Final

from hypothesis import given, settings
from hypothesis import strategies as st
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError

from relayer.protocol.packets import FundingMode
from tests.support.l1_contracts import (
    System,
    claim_call,
    deliver,
    distribution_payload,
    distribution_tree,
    fresh_addresses,
    payout_call,
    revert_name,
    transact,
)

LEAVES: Final = 10
FUZZ_EXAMPLES: Final = 20
"""Examples per run; each deploys a distribution and sends up to 8 payout transactions."""

Operation = tuple[str, frozenset[int]]

operations = st.lists(
    st.one_of(
        st.tuples(st.just("claim"), st.integers(0, LEAVES - 1).map(lambda i: frozenset({i}))),
        st.tuples(st.just("payout"), st.frozensets(st.integers(0, LEAVES - 1), min_size=1, max_size=LEAVES)),
    ),
    min_size=1,
    max_size=8,
)


def expected_outcome(
    kind: str, indices: frozenset[int], paid: set[int], paid_amount: int, amounts: list[int], total: int
) -> str:
    """A claim of a paid leaf reverts; a batch skips its paid leaves and pays the rest."""
    if kind == "claim" and indices & paid:
        return "LeafAlreadyPaid"
    if paid_amount + sum(amounts[i] for i in indices - paid) > total:
        return "ExceedsTotal"
    return "ok"


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(
    ops=operations,
    funding=st.sampled_from([FundingMode.MINT, FundingMode.VAULT]),
    amounts=st.lists(st.integers(1, 10**18), min_size=LEAVES, max_size=LEAVES),
    total_share=st.sampled_from([100, 100, 60, 30]),
    nonce=st.integers(1, 2**64 - 1),
)
def test_random_payouts_never_double_pay_nor_exceed_total(
    deployed: System,
    ops: list[Operation],
    funding: FundingMode,
    amounts: list[int],
    total_share: int,
    nonce: int,
) -> None:
    system = deployed
    snapshot = system.node.snapshot()
    try:
        stakers = fresh_addresses(LEAVES, seed=nonce)
        tree = distribution_tree(stakers, amounts)
        total = tree.total * total_share // 100
        avs = system.accounts[4]
        if funding is FundingMode.VAULT:
            # Fund more than the total: the cap under test is the distribution's, not the deposit.
            transact(system, system.reward_vault.functions.depositETH(avs), sender=avs, value=2 * tree.total)
        token_address = (
            system.deployment.reward_token if funding is FundingMode.MINT else system.deployment.weth
        )
        token = system.reward_token if funding is FundingMode.MINT else system.weth
        payload = distribution_payload(tree, token=token_address, funding=funding, avs=avs, total=total)
        packet = system.packet(payload, nonce=nonce)
        deliver(system, packet)
        dist = packet.distribution_id

        paid: set[int] = set()
        paid_amount = 0
        for kind, indices in ops:
            call: ContractFunction = (
                claim_call(system, dist, tree, next(iter(indices)))
                if kind == "claim"
                else payout_call(system, dist, tree, sorted(indices))
            )
            expected = expected_outcome(kind, indices, paid, paid_amount, amounts, total)
            try:
                tx = call.transact({"from": system.accounts[5]})
            except ContractCustomError as exc:
                assert revert_name(exc) == expected
                continue
            assert system.w3.eth.wait_for_transaction_receipt(tx)["status"] == 1
            assert expected == "ok"
            paid_amount += sum(amounts[i] for i in indices - paid)
            paid |= indices

        # Invariants read back from chain state, not from the model.
        balances = [token.functions.balanceOf(staker).call() for staker in stakers]
        for index, balance in enumerate(balances):
            assert balance in (0, amounts[index])  # never paid twice, never a wrong amount
            assert system.gateway.functions.isPaid(dist, index).call() == (balance > 0)
        assert sum(balances) <= total
        assert system.gateway.functions.distribution(dist).call()[7] == sum(balances) == paid_amount
    finally:
        system.node.revert(snapshot)
