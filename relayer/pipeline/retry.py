"""Why a job is waiting, and how long it waits (pure).

Every wait is typed and persisted on the job (``relay_job.retry_reason``), so ``exorelay status``
and the metrics say *why* a packet has not moved, and an operator can tell "Exocore is down" from
"a third of the validators are offline" from "this packet is poison".
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

MAX_BACKOFF_EXPONENT: Final = 16
"""2^16 x base is far past any sane cap; bounding the exponent keeps the arithmetic small."""


class RetryReason(StrEnum):
    # Transient: the world will change without anyone acting.
    EXOCORE_UNAVAILABLE = "exocore_unavailable"
    L1_UNAVAILABLE = "l1_unavailable"
    PACKET_NOT_FOUND = "packet_not_found"
    """An event named the packet but the node does not serve it (yet)."""
    QUORUM_NOT_REACHED = "quorum_not_reached"
    """Valid signatures are short of the threshold: validators offline or late."""
    VALSET_NOT_ON_L1 = "valset_not_on_l1"
    """Signed by a valset the gateway has not installed yet: its VALSET_UPDATE must land first."""
    LEAVES_NOT_INDEXED = "leaves_not_indexed"
    TX_FAILED = "tx_failed"
    """The transaction reverted or could not be sent; rebuilt and tried again."""
    # Parked: L1 refuses for a reason that will not change by itself soon; re-checked cheaply (a
    # read, never a transaction) every PARKED_RECHECK_S, resumed by itself once the cause is gone.
    INSUFFICIENT_DEPOSIT = "insufficient_deposit"
    """A VAULT-funded payout: the RewardVault holds less of the token for the AVS than the batch pays."""
    # Need a human or a fixed upstream: refused until ``exorelay retry``.
    PACKET_INVALID = "packet_invalid"
    ROOT_MISMATCH = "root_mismatch"
    """The leaves Exocore serves do not hash to the root (or total/count) the packet carries."""
    VALSET_MISMATCH = "valset_mismatch"
    """The valset Exocore serves does not match the commitment the gateway stores."""
    STALE_VALSET = "stale_valset"
    """Signed by a retired set outside the packet-nonce range it was current for (or a VALSET_UPDATE
    signed by a retired set): can never verify on L1."""
    INVALID_KEY_PROOF = "invalid_key_proof"
    """A VALSET_UPDATE whose new set has a key without a valid proof of possession (a rogue key)."""
    L1_REJECTED_ATTESTATION = "l1_rejected_attestation"
    """L1 refused an attestation we verified: our view and the gateway's disagree."""


REFUSING_REASONS: Final = frozenset(
    {
        RetryReason.PACKET_INVALID,
        RetryReason.ROOT_MISMATCH,
        RetryReason.STALE_VALSET,
        RetryReason.INVALID_KEY_PROOF,
        RetryReason.L1_REJECTED_ATTESTATION,
    }
)
"""Reasons that park a job in ``refused`` instead of retrying it on a timer."""

PARKING_REASONS: Final = frozenset({RetryReason.INSUFFICIENT_DEPOSIT})
"""Reasons that park a payout job: no batch is built or simulated until a cheap re-check (an
``eth_call`` balance read) shows the cause is gone."""

PARKED_RECHECK_S: Final = 30.0
"""Seconds between re-checks of a parked job's cause: a deposit is a human action, minutes away;
one ``eth_call`` per parked job per 30 s is nothing for any node."""

QUICK_RETRY_REASONS: Final = frozenset(
    {
        RetryReason.QUORUM_NOT_REACHED,
        RetryReason.VALSET_NOT_ON_L1,
        RetryReason.LEAVES_NOT_INDEXED,
        RetryReason.PACKET_NOT_FOUND,
    }
)
"""Waiting on normal progress (late signatures, the previous packet's finality): check again at the
base interval instead of backing off exponentially, or latency suffers for nothing."""


def next_attempt(
    now: datetime, reason: RetryReason, attempts: int, *, base_s: float, max_s: float
) -> datetime:
    """When a job that failed ``attempts`` times for ``reason`` is due again."""
    if reason in QUICK_RETRY_REASONS:
        delay = base_s
    elif reason in PARKING_REASONS:
        delay = PARKED_RECHECK_S
    else:
        delay = min(max_s, base_s * 2 ** min(max(attempts - 1, 0), MAX_BACKOFF_EXPONENT))
    return now + timedelta(seconds=delay)
