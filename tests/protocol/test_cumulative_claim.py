"""The self-claim plan: every token with something left, one multiproof, calldata the vault takes."""

from __future__ import annotations

import pytest
from eth_abi.abi import decode as abi_decode

from relayer.protocol.cumulative import CumulativeLeaf, CumulativeTree
from relayer.protocol.cumulative_claim import CLAIM_SELECTOR, NothingToClaimError, plan_claim
from relayer.protocol.merkle import process_multiproof
from relayer.protocol.types import Address, Amount

EARNER = Address(b"\x11" * 20)
OTHER = Address(b"\x22" * 20)
TOKEN_A = Address(b"\xaa" * 20)
TOKEN_B = Address(b"\xbb" * 20)
VAULT = Address(b"\x99" * 20)
LEAVES = [
    CumulativeLeaf(EARNER, TOKEN_A, Amount(100)),
    CumulativeLeaf(EARNER, TOKEN_B, Amount(40)),
    CumulativeLeaf(OTHER, TOKEN_A, Amount(7)),
]


def test_plan_claims_what_is_left_of_each_token_with_one_multiproof() -> None:
    plan = plan_claim(leaves=LEAVES, period=3, vault=VAULT, earner=EARNER, claimed={TOKEN_A: 60})
    assert plan.claimable == {TOKEN_A: 40, TOKEN_B: 40}
    assert plan.recipient == EARNER
    root = CumulativeTree.build(LEAVES).root
    assert process_multiproof([leaf.hash for leaf in plan.leaves], plan.proof, plan.proof_flags) == root
    data = plan.calldata
    assert data[:4] == CLAIM_SELECTOR
    period, leaves, proof, flags, recipient = abi_decode(
        ["uint64", "(address,address,uint256)[]", "bytes32[]", "bool[]", "address"], data[4:]
    )
    assert period == 3 and recipient == "0x" + EARNER.hex()
    assert [(bytes.fromhex(e[2:]), bytes.fromhex(t[2:]), c) for e, t, c in leaves] == [
        (leaf.earner, leaf.token, leaf.cumulative) for leaf in plan.leaves
    ]
    assert list(proof) == list(plan.proof) and list(flags) == list(plan.proof_flags)
    transaction = plan.as_transaction()
    assert transaction["to"] == "0x" + VAULT.hex() and transaction["from"] == "0x" + EARNER.hex()


def test_paid_tokens_are_left_out_and_a_recipient_can_be_named() -> None:
    plan = plan_claim(
        leaves=LEAVES, period=1, vault=VAULT, earner=EARNER, claimed={TOKEN_A: 100}, recipient=OTHER
    )
    assert plan.claimable == {TOKEN_B: 40} and [leaf.token for leaf in plan.leaves] == [TOKEN_B]
    assert plan.recipient == OTHER


def test_nothing_to_claim() -> None:
    with pytest.raises(NothingToClaimError, match="nothing to claim"):
        plan_claim(leaves=LEAVES, period=1, vault=VAULT, earner=EARNER, claimed={TOKEN_A: 100, TOKEN_B: 40})
    with pytest.raises(NothingToClaimError, match="no leaf"):
        plan_claim(leaves=LEAVES, period=1, vault=VAULT, earner=Address(b"\x33" * 20), claimed={})
