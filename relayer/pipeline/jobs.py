"""SQL access to the pipeline's work queue (relay_job, payout_job); every write stamps ``updated_at``.

Kept apart from the stages so the stages read like the lifecycle and this reads like the schema.

Invariant: every write of a job's stage (and of its wait) is compare-and-set on the stage the writer
read (``expected``), like the transaction manager's intent updates. An operator command committed
between the pipeline's read and its write (``exorelay exclude`` during a prepare) therefore wins: the
pipeline's write matches no row and raises :class:`StageMovedError` instead of overwriting it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, Table, and_, func, insert, or_, select, true, update

from relayer.pipeline.errors import StageMovedError
from relayer.pipeline.retry import REFUSING_REASONS, RetryReason, next_attempt
from storage import claims
from storage.job_tables import (
    JobStage,
    PayoutStage,
    payout_job_table,
    relay_job_table,
)

jobs = relay_job_table
payout_jobs = payout_job_table


@dataclass(frozen=True, slots=True)
class Backoff:
    base_s: float
    max_s: float


def known_nonces(conn: Connection, nonces: Sequence[int]) -> set[int]:
    if not nonces:
        return set()
    rows = conn.execute(select(jobs.c.packet_nonce).where(jobs.c.packet_nonce.in_(list(nonces))))
    return {int(row[0]) for row in rows}


def add_job(
    conn: Connection,
    *,
    nonce: int,
    kind: int,
    valset_nonce: int,
    exocore_height: int,
    now: datetime,
) -> bool:
    """Record a newly discovered packet; False if it is already known."""
    if known_nonces(conn, [nonce]):
        return False
    conn.execute(
        insert(jobs).values(
            packet_nonce=nonce,
            kind=kind,
            valset_nonce=valset_nonce,
            exocore_height=exocore_height,
            stage=JobStage.DISCOVERED.value,
            attempts=0,
            discovered_at=now,
            updated_at=now,
        )
    )
    return True


def highest_nonce(conn: Connection) -> int | None:
    value = conn.execute(select(func.max(jobs.c.packet_nonce))).scalar()
    return None if value is None else int(value)


def lowest_nonce(conn: Connection) -> int | None:
    value = conn.execute(select(func.min(jobs.c.packet_nonce))).scalar()
    return None if value is None else int(value)


def missing_nonces(conn: Connection, low: int, high: int) -> list[int]:
    """Nonces in [low, high] without a job (packets whose events were missed)."""
    present = {
        int(row[0])
        for row in conn.execute(
            select(jobs.c.packet_nonce).where(jobs.c.packet_nonce >= low, jobs.c.packet_nonce <= high)
        )
    }
    return [nonce for nonce in range(low, high + 1) if nonce not in present]


def for_chain(chain_id: int | None) -> ColumnElement[bool]:
    """Relay jobs chain ``chain_id``'s pipeline may work: its own and those whose chain is not known
    yet (None: every job, for callers that serve no one chain)."""
    if chain_id is None:
        return true()
    return or_(jobs.c.l1_chain_id.is_(None), jobs.c.l1_chain_id == chain_id)


def record_chain(conn: Connection, nonce: int, chain_id: int) -> None:
    """Name job ``nonce``'s client chain (once: a packet's destination never changes)."""
    conn.execute(
        update(jobs)
        .where(jobs.c.packet_nonce == nonce, jobs.c.l1_chain_id.is_(None))
        .values(l1_chain_id=chain_id)
    )


def due_jobs(
    conn: Connection, stage: JobStage, now: datetime, limit: int, *, chain_id: int | None = None
) -> list[Row[Any]]:
    """Jobs at ``stage`` whose backoff has passed, lowest nonce first (delivery order)."""
    return list(
        conn.execute(
            select(jobs)
            .where(
                jobs.c.stage == stage.value,
                or_(jobs.c.next_attempt_at.is_(None), jobs.c.next_attempt_at <= now),
                for_chain(chain_id),
            )
            .order_by(jobs.c.packet_nonce)
            .limit(limit)
        )
    )


@dataclass(frozen=True, slots=True)
class Claimant:
    """Who claims work (``holder``: this process's lease holder id) and for how long."""

    holder: str
    ttl_s: float


def claim_due_jobs(
    conn: Connection,
    stage: JobStage,
    now: datetime,
    limit: int,
    *,
    claimant: Claimant,
    db_now: datetime,
    chain_id: int | None = None,
) -> list[Row[Any]]:
    """:func:`due_jobs`, claimed for ``claimant`` (``storage.claims``): another process claiming at the
    same time gets other jobs. ``now`` is the pipeline's clock (backoffs), ``db_now`` the database's
    (claim expiry)."""
    return claims.claim(
        conn,
        jobs,
        key="packet_nonce",
        due=and_(
            jobs.c.stage == stage.value,
            or_(jobs.c.next_attempt_at.is_(None), jobs.c.next_attempt_at <= now),
            for_chain(chain_id),
        ),
        order_by=[jobs.c.packet_nonce],
        limit=limit,
        holder=claimant.holder,
        ttl_s=claimant.ttl_s,
        now=db_now,
    )


def release_jobs(conn: Connection, nonces: Sequence[int], claimant: Claimant) -> None:
    claims.release(conn, jobs, key="packet_nonce", keys=nonces, holder=claimant.holder)


def claim_due_payout_jobs(
    conn: Connection,
    now: datetime,
    limit: int,
    *,
    claimant: Claimant,
    db_now: datetime,
    chain_id: int | None = None,
) -> list[Row[Any]]:
    """:func:`due_payout_jobs`, claimed for ``claimant``: one process builds a distribution's batches
    at a time (two would pick the same pending leaves). With ``chain_id``: none whose packet went to
    another chain (its relay job names the chain once a pipeline has read it)."""
    return claims.claim(
        conn,
        payout_jobs,
        key="distribution_id",
        due=and_(
            payout_jobs.c.stage.in_([PayoutStage.WAITING_ROOT.value, PayoutStage.PAYING.value]),
            or_(payout_jobs.c.next_attempt_at.is_(None), payout_jobs.c.next_attempt_at <= now),
            true()
            if chain_id is None
            else payout_jobs.c.packet_nonce.not_in(
                select(jobs.c.packet_nonce).where(
                    jobs.c.l1_chain_id.is_not(None), jobs.c.l1_chain_id != chain_id
                )
            ),
        ),
        order_by=[payout_jobs.c.packet_nonce],
        limit=limit,
        holder=claimant.holder,
        ttl_s=claimant.ttl_s,
        now=db_now,
    )


def release_payout_jobs(conn: Connection, distribution_ids: Sequence[str], claimant: Claimant) -> None:
    claims.release(conn, payout_jobs, key="distribution_id", keys=distribution_ids, holder=claimant.holder)


def job(conn: Connection, nonce: int) -> Row[Any] | None:
    return conn.execute(select(jobs).where(jobs.c.packet_nonce == nonce)).first()


def _stages(expected: StrEnum | Iterable[StrEnum]) -> list[str]:
    return [expected.value] if isinstance(expected, StrEnum) else [e.value for e in expected]


def _cas(
    conn: Connection, table: Table, key: ColumnElement[bool], item: str, expected: list[str], **values: Any
) -> None:
    """Update the job under ``key`` only if its stage is still one of ``expected``."""
    result = conn.execute(update(table).where(key, table.c.stage.in_(expected)).values(**values))
    if result.rowcount != 1:
        actual = conn.execute(select(table.c.stage).where(key)).scalar_one_or_none()
        raise StageMovedError(item, expected, None if actual is None else str(actual))


def set_stage(
    conn: Connection,
    nonce: int,
    stage: JobStage,
    now: datetime,
    *,
    expected: JobStage | Iterable[JobStage],
    **values: Any,
) -> None:
    """Move a relay job to ``stage`` if it is still at ``expected`` (else :class:`StageMovedError`)."""
    _cas(
        conn,
        jobs,
        jobs.c.packet_nonce == nonce,
        f"packet:{nonce}",
        _stages(expected),
        stage=stage.value,
        updated_at=now,
        **values,
    )


def wait(  # noqa: PLR0917 (the stages call it positionally, in the order of the sentence)
    conn: Connection,
    nonce: int,
    reason: RetryReason,
    detail: str,
    now: datetime,
    backoff: Backoff,
    *,
    expected: JobStage,
    stage: JobStage | None = None,
) -> datetime | None:
    """Persist why the job waits; refusing reasons park it in ``refused`` (no timer). Compare-and-set
    on ``expected`` (:class:`StageMovedError` if an operator moved the job meanwhile)."""
    row = job(conn, nonce)
    attempts = 1 if row is None else int(row.attempts) + 1
    values: dict[str, Any] = {
        "retry_reason": reason.value,
        "retry_detail": detail[:2000],
        "attempts": attempts,
        "updated_at": now,
    }
    due: datetime | None
    if reason in REFUSING_REASONS:
        values["stage"] = JobStage.REFUSED.value
        due = None
    else:
        due = next_attempt(now, reason, attempts, base_s=backoff.base_s, max_s=backoff.max_s)
        if stage is not None:
            values["stage"] = stage.value
    values["next_attempt_at"] = due
    _cas(conn, jobs, jobs.c.packet_nonce == nonce, f"packet:{nonce}", _stages(expected), **values)
    return due


def stage_counts(conn: Connection) -> dict[str, int]:
    rows = conn.execute(select(jobs.c.stage, func.count()).group_by(jobs.c.stage))
    return {str(stage): int(count) for stage, count in rows}


# --- payout jobs ------------------------------------------------------------------------------------------


def add_payout_job(
    conn: Connection, *, distribution_id: str, nonce: int, leaf_count: int, now: datetime
) -> bool:
    exists = conn.execute(
        select(payout_jobs.c.distribution_id).where(payout_jobs.c.distribution_id == distribution_id)
    ).first()
    if exists is not None:
        return False
    conn.execute(
        insert(payout_jobs).values(
            distribution_id=distribution_id,
            packet_nonce=nonce,
            leaf_count=leaf_count,
            stage=PayoutStage.WAITING_ROOT.value,
            attempts=0,
            created_at=now,
            updated_at=now,
        )
    )
    return True


def due_payout_jobs(conn: Connection, now: datetime) -> list[Row[Any]]:
    return list(
        conn.execute(
            select(payout_jobs)
            .where(
                payout_jobs.c.stage.in_([PayoutStage.WAITING_ROOT.value, PayoutStage.PAYING.value]),
                or_(payout_jobs.c.next_attempt_at.is_(None), payout_jobs.c.next_attempt_at <= now),
            )
            .order_by(payout_jobs.c.packet_nonce)
        )
    )


def set_payout_stage(
    conn: Connection,
    distribution_id: str,
    stage: PayoutStage,
    now: datetime,
    *,
    expected: PayoutStage | Iterable[PayoutStage],
    **values: Any,
) -> None:
    """Move a payout job to ``stage`` if it is still at ``expected`` (else :class:`StageMovedError`)."""
    _cas(
        conn,
        payout_jobs,
        payout_jobs.c.distribution_id == distribution_id,
        f"distribution:{distribution_id}",
        _stages(expected),
        stage=stage.value,
        updated_at=now,
        **values,
    )


def payout_wait(  # noqa: PLR0917 (as wait())
    conn: Connection,
    distribution_id: str,
    reason: RetryReason,
    detail: str,
    now: datetime,
    backoff: Backoff,
    *,
    expected: PayoutStage | Iterable[PayoutStage],
) -> None:
    """Persist why the payout job waits; compare-and-set on ``expected`` as :func:`wait`."""
    row = conn.execute(
        select(payout_jobs.c.attempts).where(payout_jobs.c.distribution_id == distribution_id)
    ).first()
    attempts = 1 if row is None else int(row[0]) + 1
    _cas(
        conn,
        payout_jobs,
        payout_jobs.c.distribution_id == distribution_id,
        f"distribution:{distribution_id}",
        _stages(expected),
        retry_reason=reason.value,
        retry_detail=detail[:2000],
        attempts=attempts,
        next_attempt_at=next_attempt(now, reason, attempts, base_s=backoff.base_s, max_s=backoff.max_s),
        updated_at=now,
    )


def open_payout_jobs(conn: Connection) -> int:
    value = conn.execute(
        select(func.count()).where(
            and_(payout_jobs.c.stage.in_([PayoutStage.WAITING_ROOT.value, PayoutStage.PAYING.value]))
        )
    ).scalar()
    return int(value or 0)
