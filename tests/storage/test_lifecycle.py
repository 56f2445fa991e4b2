"""The lifecycle state graphs (claim, slash, packet, payout, L1 tx): exact state lists, allowed moves,
retries and reorg reversals."""

from __future__ import annotations

import pytest

from storage.errors import IllegalTransitionError
from storage.lifecycle import (
    CLAIM,
    L1_TX,
    LIFECYCLES,
    PACKET,
    PAYOUT,
    SLASH,
    ClaimState,
    EdgeKind,
    EntityKind,
    L1TxState,
    PayoutState,
    claim_l1_state,
    distribution_claim_stage,
    lifecycle,
)

F, R, V = EdgeKind.FORWARD, EdgeKind.RETRY, EdgeKind.REVERSAL


def test_state_lists_are_exactly_those_of_the_design() -> None:
    assert CLAIM.path == (
        "collecting",
        "submitted",
        "verified",
        "distributed",
        "packet_created",
        "attested",
        "relayed",
        "finalized",
        "paying",
        "paid",
    )
    assert set(CLAIM.states) == {*CLAIM.path, "rejected", "expired", "failed", "excluded", "accrued"}
    assert PAYOUT.states == ("pending", "submitted", "included", "finalized")
    assert SLASH.path == (
        "collecting",
        "submitted",
        "verified",
        "executed_on_exocore",
        "packet_created",
        "attested",
        "relayed",
        "finalized",
    )
    assert set(SLASH.states) == {*SLASH.path, "rejected", "expired", "failed", "excluded"}
    assert set(L1_TX.states) == {
        "signed",
        "broadcast",
        "included",
        "finalized",
        "replaced",
        "dropped",
        "reverted",
    }
    assert set(PACKET.states) == {"created", "attested", "relayed", "finalized", "failed"}
    assert {lc.kind for lc in LIFECYCLES.values()} == set(EntityKind)
    assert lifecycle("payout") is PAYOUT


@pytest.mark.parametrize(
    ("machine", "from_state", "to_state", "edge"),
    [
        (CLAIM, None, "submitted", F),
        (CLAIM, None, "collecting", F),  # first seen at the aggregator
        (CLAIM, "collecting", "submitted", F),
        (CLAIM, "collecting", "expired", F),  # below threshold at the aggregator's deadline
        (CLAIM, "collecting", "rejected", F),  # the aggregate's transaction refused at CheckTx
        (CLAIM, "expired", "submitted", F),  # submitted on Exocore after all: the chain decides
        (SLASH, "collecting", "submitted", F),
        (SLASH, "collecting", "expired", F),
        (SLASH, "expired", "submitted", F),
        (CLAIM, None, "relayed", F),  # an L1-only observer first sees a claim relayed
        (CLAIM, "submitted", "verified", F),
        (CLAIM, "submitted", "rejected", F),
        (CLAIM, "verified", "rejected", F),
        (CLAIM, "distributed", "relayed", F),  # skipping unobserved states
        (CLAIM, "paying", "paid", F),
        (CLAIM, "attested", "failed", F),
        (CLAIM, "submitted", "excluded", F),
        (CLAIM, "verified", "accrued", F),  # a cumulative-payout AVS: no packet, amounts accrue
        (CLAIM, "submitted", "accrued", F),  # an observer that missed the verification
        (CLAIM, None, "accrued", F),
        (CLAIM, "relayed", "attested", V),
        (CLAIM, "paying", "finalized", V),
        (PAYOUT, "pending", "submitted", F),
        (PAYOUT, "pending", "included", F),  # a staker's own claim, no relayer transaction
        (PAYOUT, "submitted", "pending", R),
        (PAYOUT, "included", "submitted", V),
        (PAYOUT, "included", "pending", V),
        (PAYOUT, "included", None, V),  # first seen in the orphaned block: removed
        (L1_TX, "signed", "broadcast", F),
        (L1_TX, "broadcast", "replaced", F),
        (L1_TX, "broadcast", "reverted", F),
        (L1_TX, "replaced", "included", F),  # replaced, but the original was mined after all
        (L1_TX, "dropped", "included", F),
        (L1_TX, "included", "finalized", F),
        (L1_TX, "reverted", "broadcast", V),
        (L1_TX, "included", "replaced", V),
        (SLASH, "submitted", "rejected", F),
        (SLASH, "verified", "executed_on_exocore", F),
        (SLASH, "relayed", "attested", V),
        (PACKET, "created", "attested", F),
        (PACKET, "relayed", "created", V),
    ],
)
def test_allowed_moves(machine: object, from_state: str | None, to_state: str | None, edge: EdgeKind) -> None:
    assert isinstance(machine, type(CLAIM))
    assert machine.allows(from_state, to_state, edge)
    machine.check("x", from_state, to_state, edge)


@pytest.mark.parametrize(
    ("machine", "from_state", "to_state", "edge"),
    [
        (CLAIM, "verified", "submitted", F),  # backwards
        (CLAIM, "submitted", "collecting", F),
        (CLAIM, "submitted", "expired", F),  # only a collection expires
        (CLAIM, "expired", "verified", F),  # out of expired only onto Exocore's submission
        (CLAIM, "collecting", "expired", V),
        (SLASH, "verified", "expired", F),
        (SLASH, "expired", "collecting", F),
        (CLAIM, "relayed", "attested", F),  # a reversal is not a forward move
        (CLAIM, "rejected", "verified", F),  # out of a terminal state
        (CLAIM, "paid", "failed", F),
        (CLAIM, "distributed", "rejected", F),  # rejection only before distribution
        (CLAIM, "distributed", "accrued", F),  # an AVS pays by one mode: a packet, or accrual
        (CLAIM, "accrued", "packet_created", F),  # accrued is an end state
        (CLAIM, "accrued", "verified", V),  # it comes from Exocore, never undone by an L1 reorg
        (CLAIM, "finalized", "relayed", V),  # finalized is never reversed
        (CLAIM, "attested", "distributed", V),  # attested does not come from L1
        (CLAIM, "relayed", None, F),
        (CLAIM, "submitted", "submitted", F),
        (CLAIM, "submitted", "unknown", F),
        (PAYOUT, "finalized", "included", V),
        (PAYOUT, "included", "pending", R),  # only a submitted payout is retried
        (PAYOUT, "pending", "submitted", R),
        (PAYOUT, "submitted", None, V),
        (L1_TX, "included", "reverted", F),
        (L1_TX, "finalized", "replaced", F),
        (L1_TX, "replaced", "broadcast", F),
        (L1_TX, "reverted", "included", F),
        (SLASH, "executed_on_exocore", "rejected", F),
        (SLASH, "finalized", "relayed", V),
        (PACKET, "finalized", "failed", F),
    ],
)
def test_forbidden_moves(
    machine: object, from_state: str | None, to_state: str | None, edge: EdgeKind
) -> None:
    assert isinstance(machine, type(CLAIM))
    assert not machine.allows(from_state, to_state, edge)
    with pytest.raises(IllegalTransitionError):
        machine.check("x", from_state, to_state, edge)


def test_every_forward_move_climbs_the_main_path_or_leaves_it_once() -> None:
    for machine in LIFECYCLES.values():
        forward = [
            (a, b) for a in machine.states for b in machine.states if machine.edge(a, b) is EdgeKind.FORWARD
        ]
        assert forward, machine.kind  # every lifecycle moves forward somewhere: the checks below run
        for a, b in forward:
            ra, rb = machine.rank(a), machine.rank(b)
            if ra is not None and rb is not None:
                assert rb > ra, (machine.kind, a, b)
            elif ra is None:
                assert b in machine.side_exits.get(a, frozenset()), (machine.kind, a, b)


def test_reversals_undo_only_l1_states() -> None:
    assert CLAIM.reversible == {ClaimState.RELAYED, ClaimState.PAYING}
    assert PAYOUT.reversible == {PayoutState.INCLUDED}
    assert L1_TX.reversible == {L1TxState.INCLUDED, L1TxState.REVERTED}
    for machine in LIFECYCLES.values():
        for state in machine.states:
            for target in (*machine.states, None):
                if machine.can_reverse(state, target):
                    assert state in machine.reversible
                    assert state not in {"finalized", "paid"}


def test_at_or_past() -> None:
    assert CLAIM.is_at_or_past("paying", "relayed")
    assert CLAIM.is_at_or_past("verified", "verified")
    assert not CLAIM.is_at_or_past("verified", "relayed")
    assert not CLAIM.is_at_or_past("rejected", "verified")


def test_a_claims_l1_state_is_the_least_advanced_of_its_distributions() -> None:
    paid, paying, final, landed, off = (
        (True, True, "paid"),
        (True, True, "paying"),
        (True, True, None),
        (True, False, None),
        (False, False, None),
    )
    assert claim_l1_state([]) is None
    assert claim_l1_state([paid, off]) is None  # one root not on L1: the claim stays at its Exocore stage
    assert claim_l1_state([paid, landed]) is ClaimState.RELAYED
    assert claim_l1_state([final, final]) is ClaimState.FINALIZED
    assert claim_l1_state([paid, final]) is ClaimState.PAYING
    assert claim_l1_state([final, paying]) is ClaimState.PAYING
    assert claim_l1_state([paid, paying]) is ClaimState.PAYING
    assert claim_l1_state([paid, paid]) is ClaimState.PAID
    assert claim_l1_state([paid]) is ClaimState.PAID  # one distribution: as before


def test_a_distributions_stage_in_claim_terms() -> None:
    assert distribution_claim_stage(None, False, False, None) is ClaimState.DISTRIBUTED
    assert distribution_claim_stage("created", False, False, None) is ClaimState.PACKET_CREATED
    assert distribution_claim_stage("attested", False, False, None) is ClaimState.ATTESTED
    assert distribution_claim_stage("relayed", True, False, None) is ClaimState.RELAYED
    assert distribution_claim_stage("finalized", True, True, None) is ClaimState.FINALIZED
    assert distribution_claim_stage("finalized", True, True, "paying") is ClaimState.PAYING
    assert distribution_claim_stage("finalized", True, True, "paid") is ClaimState.PAID
