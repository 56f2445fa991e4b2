"""Read queries over the relayer's work queue (``relay_job``, ``payout_job``) that both the
operator tools (``relayer.ops``, metrics, health) and the read-only API (``/ready``) answer from.

Invariant: reads only; stage changes are compare-and-set writes in ``relayer.pipeline.jobs``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import Connection, func, select

from storage.job_tables import (
    OPEN_JOB_STAGES,
    OPEN_PAYOUT_STAGES,
    PARKING_REASONS,
    JobStage,
    PayoutStage,
    RetryReason,
    payout_job_table,
    relay_job_table,
)

PACKET_PREFIX: Final = "packet:"
DISTRIBUTION_PREFIX: Final = "distribution:"
"""How an operator names a payout job: ``distribution:<0x id>`` (a relay job is ``packet:<nonce>``)."""

RELAY_BACKLOG_STAGES: Final = (*OPEN_JOB_STAGES, JobStage.REFUSED)
"""Relay-job stages that still need work (``refused`` needs an operator)."""

BACKLOG_STAGES: Final = tuple(s.value for s in (*RELAY_BACKLOG_STAGES, *OPEN_PAYOUT_STAGES))
"""Every backlog stage of both queues; the names are distinct across the two."""


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


def packets_for_other_chains(conn: Connection) -> tuple[WaitingJob, ...]:
    """Relay jobs set aside because Exocore addressed them to a client chain this relayer does not
    serve (``other_client_chain``): never submitted, they wait for an operator."""
    r = relay_job_table
    rows = conn.execute(
        select(r)
        .where(r.c.stage == JobStage.REFUSED.value, r.c.retry_reason == RetryReason.OTHER_CLIENT_CHAIN.value)
        .order_by(r.c.packet_nonce)
    )
    return tuple(
        WaitingJob(
            f"{PACKET_PREFIX}{row.packet_nonce}",
            row.stage,
            row.retry_reason,
            row.retry_detail,
            row.attempts,
            row.next_attempt_at,
        )
        for row in rows
    )


@dataclass(frozen=True, slots=True)
class OldestPending:
    item: str
    stage: str
    since: datetime


def stage_counts(conn: Connection) -> tuple[dict[str, int], dict[str, int]]:
    """(relay-job count per stage, payout-job count per stage), every stage present."""
    relay = {stage.value: 0 for stage in JobStage}
    for stage, count in conn.execute(
        select(relay_job_table.c.stage, func.count()).group_by(relay_job_table.c.stage)
    ):
        relay[str(stage)] = int(count)
    payout = {stage.value: 0 for stage in PayoutStage}
    for stage, count in conn.execute(
        select(payout_job_table.c.stage, func.count()).group_by(payout_job_table.c.stage)
    ):
        payout[str(stage)] = int(count)
    return relay, payout


def oldest_pending(conn: Connection) -> OldestPending | None:
    """The open job (relay or payout) that has waited longest since it was created."""
    r = relay_job_table
    relay = conn.execute(
        select(r.c.packet_nonce, r.c.stage, r.c.discovered_at)
        .where(r.c.stage.in_([s.value for s in OPEN_JOB_STAGES]))
        .order_by(r.c.discovered_at, r.c.packet_nonce)
        .limit(1)
    ).first()
    p = payout_job_table
    payout = conn.execute(
        select(p.c.distribution_id, p.c.stage, p.c.created_at)
        .where(p.c.stage.in_([s.value for s in OPEN_PAYOUT_STAGES]))
        .order_by(p.c.created_at, p.c.packet_nonce)
        .limit(1)
    ).first()
    candidates = []
    if relay is not None:
        candidates.append(
            OldestPending(f"{PACKET_PREFIX}{relay.packet_nonce}", relay.stage, relay.discovered_at)
        )
    if payout is not None:
        candidates.append(
            OldestPending(f"{DISTRIBUTION_PREFIX}{payout.distribution_id}", payout.stage, payout.created_at)
        )
    return min(candidates, key=lambda c: c.since, default=None)
