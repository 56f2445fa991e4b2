"""Cumulative payouts against what Exocore earned and what the tokens moved: per token, Σ paid never
exceeds Σ earned in the latest period stored (``cumulative_paid_le_earned``), and in each paying
transaction the ERC-20 ``Transfer`` logs out of the funding sources equal the ``CumulativePaid``
amounts per (token, recipient) (``cumulative_paid_matches_transfers``)."""

from __future__ import annotations

import pytest

from indexer.ingest.exocore import ExocoreIngestor
from storage.errors import InvariantViolationError
from storage.invariants import (
    CUMULATIVE_PAID_LE_ACCRUED,
    CUMULATIVE_PAID_LE_EARNED,
    CUMULATIVE_PAID_MATCHES_TRANSFERS,
    check_cumulative_paid_within_accrued,
    check_cumulative_paid_within_earned,
    check_cumulative_transfers_match_payouts,
)
from storage.normalize import ZERO_ADDRESS
from storage.records import TokenTransferLog
from storage.store import LifecycleStore
from tests.support.cumulative_data import (
    CHAIN_B_ID,
    EARNER,
    L1_CHAIN_ID,
    OTHER,
    TOKEN_T,
    VAULT,
    accepted,
    l1,
    leaves,
    paid,
    position,
    root_packet,
)
from tests.support.indexer_factory import Chain, staker


def _mint(token: str, recipient: str, amount: int, block: int) -> TokenTransferLog:
    """The vault minting ``amount`` to ``recipient`` in the same transaction as ``paid(..., block)``."""
    return TokenTransferLog(token, ZERO_ADDRESS, recipient, amount, position(block, 2))


def test_transfers_equal_the_cumulative_payouts_of_each_transaction(store: LifecycleStore) -> None:
    ExocoreIngestor(store).apply_block(Chain().block(root_packet(1), leaves(1)))
    l1(store, accepted(1, 10), paid(OTHER, TOKEN_T, 50, 50, 1, 11), _mint(TOKEN_T, OTHER, 50, 11))
    tx_11 = position(11, 0).tx_hash
    with store.begin() as tx:
        check_cumulative_transfers_match_payouts(tx.conn, "l1", {tx_11}, [VAULT])  # 50 paid, 50 moved
        # A payout whose tokens never moved (a CumulativePaid without its Transfer) is caught.
        tx.apply_l1_logs([paid(EARNER, TOKEN_T, 100, 100, 1, 12)], chain_id=L1_CHAIN_ID)
        with pytest.raises(InvariantViolationError) as raised:
            check_cumulative_transfers_match_payouts(tx.conn, "l1", {position(12, 0).tx_hash}, [VAULT])
    assert raised.value.invariant == CUMULATIVE_PAID_MATCHES_TRANSFERS
    assert raised.value.details["paid"] == "100" and raised.value.details["transferred"] == "0"


def test_a_token_paid_beyond_everything_earned_in_it_violates_the_invariant(store: LifecycleStore) -> None:
    ExocoreIngestor(store).apply_block(Chain().block(root_packet(1), leaves(1)))
    l1(store, accepted(1, 10), paid(OTHER, TOKEN_T, 50, 50, 1, 11))
    with store.begin() as tx:
        check_cumulative_paid_within_earned(
            tx.conn, "l1", L1_CHAIN_ID, {TOKEN_T}
        )  # 50 of the 150 earned in T
        # An earner without a leaf (no per-earner bound applies) paid more than all of T's earnings.
        tx.apply_l1_logs([paid(staker(3), TOKEN_T, 101, 101, 1, 12)], chain_id=L1_CHAIN_ID)
        with pytest.raises(InvariantViolationError) as raised:
            check_cumulative_paid_within_earned(tx.conn, "l1", L1_CHAIN_ID, {TOKEN_T})
    assert raised.value.invariant == CUMULATIVE_PAID_LE_EARNED
    assert (raised.value.details["paid"], raised.value.details["earned"]) == ("151", "150")


# -- per client chain: each chain's payouts answer to its own roots and transfers only --------------


def _two_chains(store: LifecycleStore) -> None:
    """Period 1 closed on both chains (the same ledger: 150 of T earned on each)."""
    ExocoreIngestor(store).apply_block(
        Chain().block(root_packet(1), leaves(1), root_packet(1, CHAIN_B_ID), leaves(1, CHAIN_B_ID))
    )
    l1(store, accepted(1, 10))
    l1(store, accepted(1, 510, CHAIN_B_ID), chain=CHAIN_B_ID)


def test_paid_within_earned_is_per_chain_and_token(store: LifecycleStore) -> None:
    _two_chains(store)
    # 100 of T paid on chain B: within B's 150, and no part of chain A's sum.
    l1(store, paid(EARNER, TOKEN_T, 100, 100, 1, 511), chain=CHAIN_B_ID)
    with store.begin() as tx:
        check_cumulative_paid_within_earned(tx.conn, "l1", CHAIN_B_ID, {TOKEN_T})
        check_cumulative_paid_within_earned(tx.conn, "l1", L1_CHAIN_ID, {TOKEN_T})  # nothing paid on A
        # 151 of T on chain A: beyond A's 150, though both chains together earned 300.
        tx.apply_l1_logs([paid(staker(3), TOKEN_T, 151, 151, 1, 12)], chain_id=L1_CHAIN_ID)
        with pytest.raises(InvariantViolationError) as raised:
            check_cumulative_paid_within_earned(tx.conn, "l1", L1_CHAIN_ID, {TOKEN_T})
    assert raised.value.invariant == CUMULATIVE_PAID_LE_EARNED
    details = raised.value.details
    assert (details["chain_id"], details["paid"], details["earned"]) == (L1_CHAIN_ID, "151", "150")


def test_paid_within_accrued_is_per_chain(store: LifecycleStore) -> None:
    _two_chains(store)
    # OTHER's leaf is 50 of T on each chain: 50 paid on each is within each chain's leaf.
    l1(store, paid(OTHER, TOKEN_T, 50, 50, 1, 11))
    l1(store, paid(OTHER, TOKEN_T, 50, 50, 1, 511), chain=CHAIN_B_ID)
    with store.begin() as tx:
        for chain in (L1_CHAIN_ID, CHAIN_B_ID):
            check_cumulative_paid_within_accrued(tx.conn, "l1", chain, {(OTHER, TOKEN_T)})
        tx.apply_l1_logs([paid(OTHER, TOKEN_T, 1, 51, 1, 512)], chain_id=CHAIN_B_ID)
        check_cumulative_paid_within_accrued(tx.conn, "l1", L1_CHAIN_ID, {(OTHER, TOKEN_T)})  # A untouched
        with pytest.raises(InvariantViolationError) as raised:
            check_cumulative_paid_within_accrued(tx.conn, "l1", CHAIN_B_ID, {(OTHER, TOKEN_T)})
    assert raised.value.invariant == CUMULATIVE_PAID_LE_ACCRUED
    assert (raised.value.details["chain_id"], raised.value.details["paid"]) == (CHAIN_B_ID, "51")


def test_transfers_match_payouts_per_transaction_on_its_own_chain(store: LifecycleStore) -> None:
    _two_chains(store)
    # Chain B's transaction paid and minted 50; chain A's paid 50 and moved nothing.
    l1(store, paid(OTHER, TOKEN_T, 50, 50, 1, 511), _mint(TOKEN_T, OTHER, 50, 511), chain=CHAIN_B_ID)
    l1(store, paid(EARNER, TOKEN_T, 50, 50, 1, 11))
    both = {position(11, 0).tx_hash, position(511, 0).tx_hash}
    with store.begin() as tx:
        # Chain B's ingestion answers for its own transactions only: A's payout is not B's to match.
        check_cumulative_transfers_match_payouts(tx.conn, "l1", both, [VAULT], CHAIN_B_ID)
        with pytest.raises(InvariantViolationError) as raised:
            check_cumulative_transfers_match_payouts(tx.conn, "l1", both, [VAULT], L1_CHAIN_ID)
    assert raised.value.invariant == CUMULATIVE_PAID_MATCHES_TRANSFERS
    assert (raised.value.details["paid"], raised.value.details["transferred"]) == ("50", "0")
