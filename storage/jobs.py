"""Read queries over the relayer's work queue (``relay_job``, ``payout_job``) that both the
operator tools (``relayer.ops``, metrics, health) and the read-only API (``/ready``) answer from.

Invariant: reads only; stage changes are compare-and-set writes in ``relayer.pipeline.jobs``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import Connection, select

from storage.job_tables import OPEN_PAYOUT_STAGES, PARKING_REASONS, payout_job_table

DISTRIBUTION_PREFIX: Final = "distribution:"
"""How an operator names a payout job: ``distribution:<0x id>`` (a relay job is ``packet:<nonce>``)."""


@dataclass(frozen=True, slots=True)
class WaitingJob:
    """A job that failed an attempt (or was refused) and waits: why, and until when."""

    item: str
    stage: str
    retry_reason: str | None
    retry_detail: str | None
    attempts: int
    next_attempt_at: datetime | None


def parked_payouts(conn: Connection) -> tuple[WaitingJob, ...]:
    """Open payout jobs parked for a reason L1 will not drop by itself (a missing vault deposit)."""
    p = payout_job_table
    rows = conn.execute(
        select(p)
        .where(
            p.c.stage.in_([s.value for s in OPEN_PAYOUT_STAGES]),
            p.c.retry_reason.in_([r.value for r in PARKING_REASONS]),
        )
        .order_by(p.c.packet_nonce)
    )
    return tuple(
        WaitingJob(
            f"{DISTRIBUTION_PREFIX}{row.distribution_id}",
            row.stage,
            row.retry_reason,
            row.retry_detail,
            row.attempts,
            row.next_attempt_at,
        )
        for row in rows
    )
