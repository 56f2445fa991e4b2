"""Cumulative payouts against what Exocore earned and what the tokens moved: per token, Σ paid never
exceeds Σ earned in the latest period stored (``cumulative_paid_le_earned``), and in each paying
transaction the ERC-20 ``Transfer`` logs out of the funding sources equal the ``CumulativePaid``
amounts per (token, recipient) (``cumulative_paid_matches_transfers``)."""

from __future__ import annotations

import pytest

from indexer.ingest.exocore import ExocoreIngestor
from storage.errors import InvariantViolationError
from storage.invariants import (
    CUMULATIVE_PAID_LE_EARNED,
    CUMULATIVE_PAID_MATCHES_TRANSFERS,
    check_cumulative_paid_within_earned,
    check_cumulative_transfers_match_payouts,
)
from storage.normalize import ZERO_ADDRESS
from storage.records import TokenTransferLog
from storage.store import LifecycleStore
from tests.support.cumulative_data import (
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
        check_cumulative_paid_within_earned(tx.conn, "l1", {TOKEN_T})  # 50 of the 150 earned in T
        # An earner without a leaf (no per-earner bound applies) paid more than all of T's earnings.
        tx.apply_l1_logs([paid(staker(3), TOKEN_T, 101, 101, 1, 12)], chain_id=L1_CHAIN_ID)
        with pytest.raises(InvariantViolationError) as raised:
            check_cumulative_paid_within_earned(tx.conn, "l1", {TOKEN_T})
    assert raised.value.invariant == CUMULATIVE_PAID_LE_EARNED
    assert (raised.value.details["paid"], raised.value.details["earned"]) == ("151", "150")
