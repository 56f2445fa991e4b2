"""How long a waiting job waits (pure); why it waits (:class:`RetryReason`) is the vocabulary of the
work-queue tables in :mod:`storage.job_tables`.

Every wait is typed and persisted on the job (``relay_job.retry_reason``), so ``exorelay status``
and the metrics say *why* a packet has not moved, and an operator can tell "Exocore is down" from
"a third of the validators are offline" from "this packet is poison".
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from storage.job_tables import PARKING_REASONS, REFUSING_REASONS, RetryReason

__all__ = [
    "MAX_BACKOFF_EXPONENT",
    "PARKED_RECHECK_S",
    "PARKING_REASONS",
    "QUICK_RETRY_REASONS",
    "REFUSING_REASONS",
    "RetryReason",
    "next_attempt",
]

MAX_BACKOFF_EXPONENT: Final = 16
"""2^16 x base is far past any sane cap; bounding the exponent keeps the arithmetic small."""


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
