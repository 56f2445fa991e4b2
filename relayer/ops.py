"""Operator actions on the relayer's work queue: ``status``, ``retry`` and ``exclude``.

Database logic only (the CLI is :mod:`relayer.ops_cli`). Items are named the way an operator sees
them: ``packet:<nonce>`` (or a bare nonce) is the relay job of that packet, ``distribution:<0x id>``
is the payout job of that distribution.

Each action is one database transaction that locks the job row first (``SELECT ... FOR UPDATE`` on
PostgreSQL), so it cannot interleave with a pipeline step that holds the same row: the step either
finished before (and the action sees its result) or runs after (and sees the action's result).

- ``retry`` clears the backoff (next attempt now, attempts back to 0) and moves a ``refused`` relay
  job back to ``discovered``. The last ``retry_reason``/``retry_detail`` stay on the row as the
  record of why it was waiting until the pipeline's next attempt overwrites or clears them.
- ``exclude`` stops all further work on a poison item: the job goes to ``excluded`` with the
  operator's reason, a transaction intent not signed yet is cancelled, and the claim or slash the
  item carries moves to ``excluded`` in the lifecycle history (chain ``operator``). A transaction
  already signed cannot be unsent; the result says so (it may still be mined).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, Engine, func, select, update
from sqlalchemy.exc import SQLAlchemyError

from relayer.errors import StorageError
from relayer.pipeline.errors import StageMovedError
from relayer.protocol.kinds import PacketKind
from storage.job_tables import (
    OPEN_PAYOUT_STAGES,
    JobStage,
    PayoutStage,
    payout_job_table,
    relay_job_table,
)
from storage.jobs import (
    BACKLOG_STAGES,
    DISTRIBUTION_PREFIX,
    PACKET_PREFIX,
    RELAY_BACKLOG_STAGES,
    OldestPending,
    WaitingJob,
    oldest_pending,
    parked_payouts,
    stage_counts,
)
from storage.l1_tables import OPEN_INTENT_STATES, IntentState, tx_intent_table
from storage.leases import LeaseRow, database_now, leases
from storage.lifecycle import EntityKind, lifecycle
from storage.models import cursor_table, distribution_table, packet_table
from storage.records import ChainRef
from storage.store import PoisonedBlock, StoreTx, open_poisoned_blocks, utc_now

_log = logging.getLogger(__name__)

STATUS_LIST_LIMIT: Final = 50
"""Rows ``status`` lists per section (waiting jobs, open intents); totals are always exact. A
backlog of thousands is a number to alert on, not a list to read in a terminal."""

MAX_REASON_CHARS: Final = 2000
"""An exclusion reason is a sentence or a ticket link; this bound keeps a pasted log out of the row."""


EXCLUDED_REASON_CODE: Final = "operator_excluded"
"""``reason_code`` a claim or slash gets when an operator excludes it."""

_HASH_RE: Final = re.compile(r"0x[0-9a-f]{64}")


# ------------------------------------------------------------------------------------------ errors


class OpsError(StorageError):
    """An operator action on the work queue was refused."""


class InvalidItemError(OpsError, ValueError):
    """The item id or the reason given is malformed."""


class UnknownItemError(OpsError, LookupError):
    """No job exists for the item."""


class OpsDatabaseError(OpsError):
    """The database failed during the action; the action's transaction was rolled back."""


class ItemStateError(OpsError):
    """The job is in a stage the action does not apply to (delivered, paid, excluded)."""

    def __init__(self, item: str, stage: str, message: str) -> None:
        super().__init__(f"{item} is {stage}: {message}")
        self.item = item
        self.stage = stage


@contextmanager
def _database(action: str) -> Iterator[None]:
    """Database faults (connection lost, constraint, lock timeout) as a typed error; the
    transaction opened inside has been rolled back by then."""
    try:
        yield
    except SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise OpsDatabaseError(f"{action}: database error: {detail}") from exc


# ------------------------------------------------------------------------------------------ item ids


@dataclass(frozen=True, slots=True)
class ItemId:
    """A relay job (``packet_nonce``) or a payout job (``distribution_id``); exactly one is set."""

    packet_nonce: int | None = None
    distribution_id: str | None = None

    def __str__(self) -> str:
        if self.packet_nonce is not None:
            return f"{PACKET_PREFIX}{self.packet_nonce}"
        return f"{DISTRIBUTION_PREFIX}{self.distribution_id}"


def parse_item_id(text: str) -> ItemId:
    """``packet:<nonce>``, ``<nonce>`` or ``distribution:<0x id>`` (case-insensitive hex)."""
    raw = text.strip()
    lowered = raw.lower()
    if lowered.startswith(DISTRIBUTION_PREFIX):
        value = lowered.removeprefix(DISTRIBUTION_PREFIX)
        if not _HASH_RE.fullmatch(value):
            raise InvalidItemError(f"{raw!r}: a distribution id is 0x followed by 64 hex digits")
        return ItemId(distribution_id=value)
    number = lowered.removeprefix(PACKET_PREFIX)
    if not number.isdigit() or int(number) >= 2**63:
        raise InvalidItemError(f"{raw!r} is not an item id (packet:<nonce>, <nonce> or distribution:<0x id>)")
    return ItemId(packet_nonce=int(number))


# ------------------------------------------------------------------------------------------ status


@dataclass(frozen=True, slots=True)
class OpenIntent:
    id: int
    key: str
    purpose: str
    state: str
    tx_nonce: int | None
    tx_hash: str | None
    attempts: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class HaltedStream:
    stream: str
    chain: str
    height: int
    reason: str | None


@dataclass(frozen=True, slots=True)
class RelayerStatus:
    at: datetime
    relay_jobs: Mapping[str, int]
    """Count per relay-job stage (every stage, zeros included)."""
    payout_jobs: Mapping[str, int]
    oldest_pending: OldestPending | None
    intent_states: Mapping[str, int]
    """Count per open tx-intent state (queued, pending, included)."""
    open_intents: tuple[OpenIntent, ...]
    """The oldest open intents (at most :data:`STATUS_LIST_LIMIT`)."""
    waiting: tuple[WaitingJob, ...]
    """Jobs with a retry reason, soonest next attempt first (at most :data:`STATUS_LIST_LIMIT`)."""
    waiting_total: int
    halted_streams: tuple[HaltedStream, ...]
    poisoned_blocks: tuple[PoisonedBlock, ...] = ()
    """Blocks a stream halts at because they cannot be stored (``exorelay skip-block``)."""
    parked_payouts: tuple[WaitingJob, ...] = ()
    """Payout jobs parked until L1 lets them pay (a vault deposit); they resume by themselves."""
    leases: tuple[LeaseRow, ...] = ()
    """Who holds which role (signer key, ingestion stream), with its fencing token."""
    database_time: datetime | None = None
    """The database's clock when the snapshot was read: lease liveness is judged on it."""

    @property
    def backlog(self) -> Mapping[str, int]:
        """Work not done yet, by stage, both queues (the ``exorelay_backlog`` gauge)."""
        merged = {**self.relay_jobs, **self.payout_jobs}
        return {stage: merged.get(stage, 0) for stage in BACKLOG_STAGES}

    @property
    def oldest_pending_age_s(self) -> float | None:
        if self.oldest_pending is None:
            return None
        return max(0.0, (self.at - self.oldest_pending.since).total_seconds())

    def to_json(self) -> dict[str, Any]:
        def when(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat()

        oldest = self.oldest_pending
        return {
            "at": when(self.at),
            "relay_jobs": dict(self.relay_jobs),
            "payout_jobs": dict(self.payout_jobs),
            "backlog": dict(self.backlog),
            "oldest_pending": None
            if oldest is None
            else {
                "item": oldest.item,
                "stage": oldest.stage,
                "since": when(oldest.since),
                "age_s": self.oldest_pending_age_s,
            },
            "intent_states": dict(self.intent_states),
            "open_intents": [
                {
                    "id": i.id,
                    "key": i.key,
                    "purpose": i.purpose,
                    "state": i.state,
                    "tx_nonce": i.tx_nonce,
                    "tx_hash": i.tx_hash,
                    "attempts": i.attempts,
                    "updated_at": when(i.updated_at),
                }
                for i in self.open_intents
            ],
            "waiting": [
                {
                    "item": w.item,
                    "stage": w.stage,
                    "retry_reason": w.retry_reason,
                    "retry_detail": w.retry_detail,
                    "attempts": w.attempts,
                    "next_attempt_at": when(w.next_attempt_at),
                }
                for w in self.waiting
            ],
            "waiting_total": self.waiting_total,
            "halted_streams": [
                {"stream": h.stream, "chain": h.chain, "height": h.height, "reason": h.reason}
                for h in self.halted_streams
            ],
            "poisoned_blocks": [
                {
                    "stream": b.stream,
                    "height": b.height,
                    "block_hash": b.block_hash,
                    "error_class": b.error_class,
                    "error": b.error,
                    "detected_at": when(b.detected_at),
                }
                for b in self.poisoned_blocks
            ],
            "parked_payouts": [
                {
                    "item": w.item,
                    "retry_reason": w.retry_reason,
                    "retry_detail": w.retry_detail,
                    "next_check_at": when(w.next_attempt_at),
                }
                for w in self.parked_payouts
            ],
            "database_time": when(self.database_time),
            "leases": [
                {
                    "name": lease.name,
                    "holder": lease.holder,
                    "token": lease.token,
                    "since": when(lease.acquired_at),
                    "renewed_at": when(lease.renewed_at),
                    "expires_at": when(lease.expires_at),
                    "live": self.database_time is not None and lease.live(self.database_time),
                }
                for lease in self.leases
            ],
        }


def _waiting(conn: Connection) -> tuple[tuple[WaitingJob, ...], int]:
    waiting_stages = [s.value for s in RELAY_BACKLOG_STAGES]
    r = relay_job_table
    relay_filter = (r.c.stage.in_(waiting_stages), r.c.retry_reason.is_not(None))
    p = payout_job_table
    payout_filter = (p.c.stage.in_([s.value for s in OPEN_PAYOUT_STAGES]), p.c.retry_reason.is_not(None))
    total = int(conn.execute(select(func.count()).where(*relay_filter)).scalar_one())
    total += int(conn.execute(select(func.count()).where(*payout_filter)).scalar_one())
    jobs = [
        WaitingJob(
            f"{PACKET_PREFIX}{row.packet_nonce}",
            row.stage,
            row.retry_reason,
            row.retry_detail,
            row.attempts,
            row.next_attempt_at,
        )
        for row in conn.execute(
            select(r)
            .where(*relay_filter)
            .order_by(r.c.next_attempt_at, r.c.packet_nonce)
            .limit(STATUS_LIST_LIMIT)
        )
    ]
    jobs += [
        WaitingJob(
            f"{DISTRIBUTION_PREFIX}{row.distribution_id}",
            row.stage,
            row.retry_reason,
            row.retry_detail,
            row.attempts,
            row.next_attempt_at,
        )
        for row in conn.execute(
            select(p)
            .where(*payout_filter)
            .order_by(p.c.next_attempt_at, p.c.packet_nonce)
            .limit(STATUS_LIST_LIMIT)
        )
    ]

    def soonest(job: WaitingJob) -> tuple[bool, datetime | None, str]:
        # No next attempt (a refused job waits for an operator) sorts last.
        return (job.next_attempt_at is None, job.next_attempt_at, job.item)

    jobs.sort(key=soonest)
    return tuple(jobs[:STATUS_LIST_LIMIT]), total


def _open_intents(conn: Connection) -> tuple[dict[str, int], tuple[OpenIntent, ...]]:
    t = tx_intent_table
    open_states = sorted(s.value for s in OPEN_INTENT_STATES)
    counts = {state: 0 for state in open_states}
    for state, count in conn.execute(
        select(t.c.state, func.count()).where(t.c.state.in_(open_states)).group_by(t.c.state)
    ):
        counts[str(state)] = int(count)
    rows = conn.execute(select(t).where(t.c.state.in_(open_states)).order_by(t.c.id).limit(STATUS_LIST_LIMIT))
    intents = tuple(
        OpenIntent(
            row.id, row.key, row.purpose, row.state, row.tx_nonce, row.tx_hash, row.attempts, row.updated_at
        )
        for row in rows
    )
    return counts, intents


def _halted(conn: Connection) -> tuple[HaltedStream, ...]:
    c = cursor_table
    rows = conn.execute(select(c).where(c.c.halted.is_(True)).order_by(c.c.stream))
    return tuple(HaltedStream(row.stream, row.chain, row.height, row.halt_reason) for row in rows)


def status(engine: Engine, *, clock: Callable[[], datetime] = utc_now) -> RelayerStatus:
    """A consistent snapshot of the work queue (one read transaction)."""
    with _database("status"), engine.connect() as conn, conn.begin():
        relay, payout = stage_counts(conn)
        oldest = oldest_pending(conn)
        intent_states, intents = _open_intents(conn)
        waiting, waiting_total = _waiting(conn)
        halted = _halted(conn)
        poisoned = tuple(open_poisoned_blocks(conn))
        parked = parked_payouts(conn)
        held = tuple(leases(conn))
        database_time = database_now(conn)
    return RelayerStatus(
        at=clock(),
        relay_jobs=relay,
        payout_jobs=payout,
        oldest_pending=oldest,
        intent_states=intent_states,
        open_intents=intents,
        waiting=waiting,
        waiting_total=waiting_total,
        halted_streams=halted,
        poisoned_blocks=poisoned,
        parked_payouts=parked,
        leases=held,
        database_time=database_time,
    )


# ------------------------------------------------------------------------------------------ retry


@dataclass(frozen=True, slots=True)
class RetryResult:
    item: str
    from_stage: str
    to_stage: str
    previous_reason: str | None
    previous_detail: str | None
    previous_attempts: int
    previous_next_attempt_at: datetime | None


def retry(engine: Engine, item_id: str, *, clock: Callable[[], datetime] = utc_now) -> RetryResult:
    """Make an item due now: backoff cleared, a ``refused`` relay job back to ``discovered``."""
    item = parse_item_id(item_id)
    now = clock()
    with _database(f"retry {item}"), engine.begin() as conn:
        if item.packet_nonce is not None:
            table: Any = relay_job_table
            key = table.c.packet_nonce == item.packet_nonce
            done = {JobStage.DELIVERED.value: "already final on L1"}
        else:
            table = payout_job_table
            key = table.c.distribution_id == item.distribution_id
            done = {PayoutStage.PAID.value: "every leaf is paid"}
        job = conn.execute(select(table).where(key).with_for_update()).first()
        if job is None:
            raise UnknownItemError(f"{item}: no such job")
        if job.stage in done:
            raise ItemStateError(str(item), job.stage, f"nothing to retry ({done[job.stage]})")
        if job.stage == JobStage.EXCLUDED.value:
            raise ItemStateError(
                str(item), job.stage, f"an operator excluded it ({job.excluded_reason}); exclusion is final"
            )
        to_stage = JobStage.DISCOVERED.value if job.stage == JobStage.REFUSED.value else job.stage
        # Compare-and-set on the stage read above, like every job stage write (jobs.py).
        moved = conn.execute(
            update(table)
            .where(key, table.c.stage == job.stage)
            .values(stage=to_stage, next_attempt_at=now, attempts=0, updated_at=now)
        ).rowcount
        if moved != 1:
            raise StageMovedError(str(item), [job.stage], None)
    _log.info(
        "operator retry",
        extra={
            "item": str(item),
            "from_stage": job.stage,
            "to_stage": to_stage,
            "retry_reason": job.retry_reason,
            "attempts": job.attempts,
        },
    )
    return RetryResult(
        item=str(item),
        from_stage=job.stage,
        to_stage=to_stage,
        previous_reason=job.retry_reason,
        previous_detail=job.retry_detail,
        previous_attempts=job.attempts,
        previous_next_attempt_at=job.next_attempt_at,
    )


# ------------------------------------------------------------------------------------------ exclude


@dataclass(frozen=True, slots=True)
class ExcludeResult:
    item: str
    from_stage: str
    changed: bool
    """False if the item was already excluded (nothing written)."""
    cancelled_intents: tuple[int, ...] = ()
    """Intents not signed yet, now cancelled."""
    in_flight_intents: tuple[OpenIntent, ...] = ()
    """Intents already signed: their transactions cannot be unsent and may still be mined."""
    subject: str | None = None
    """``claim <id>`` / ``slash <id>`` the item carries, if recorded."""
    subject_excluded: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)


def exclude(
    engine: Engine, item_id: str, reason: str, *, clock: Callable[[], datetime] = utc_now
) -> ExcludeResult:
    """Stop all further work on an item (a poison packet or distribution), recording ``reason``."""
    item = parse_item_id(item_id)
    reason = reason.strip()
    if not reason:
        raise InvalidItemError("an exclusion needs a reason")
    if len(reason) > MAX_REASON_CHARS:
        raise InvalidItemError(f"the reason is longer than {MAX_REASON_CHARS} characters")
    now = clock()
    with _database(f"exclude {item}"), engine.begin() as conn:
        if item.packet_nonce is not None:
            result = _exclude_packet(conn, item, reason, now)
        else:
            result = _exclude_distribution(conn, item, reason, now)
    if result.changed:
        _log.info(
            "operator exclude",
            extra={
                "item": result.item,
                "from_stage": result.from_stage,
                "subject": result.subject,
                "in_flight_txs": [i.tx_hash for i in result.in_flight_intents],
            },
        )
    return result


def _exclude_packet(conn: Connection, item: ItemId, reason: str, now: datetime) -> ExcludeResult:
    r = relay_job_table
    key = r.c.packet_nonce == item.packet_nonce
    job = conn.execute(select(r).where(key).with_for_update()).first()
    if job is None:
        raise UnknownItemError(f"{item}: no such job")
    if job.stage == JobStage.EXCLUDED.value:
        return ExcludeResult(
            str(item), job.stage, changed=False, notes=(f"already excluded: {job.excluded_reason}",)
        )
    if job.stage == JobStage.DELIVERED.value:
        raise ItemStateError(str(item), job.stage, "it is final on L1; there is nothing left to stop")
    moved = conn.execute(
        update(r)
        .where(key, r.c.stage == job.stage)
        .values(stage=JobStage.EXCLUDED.value, excluded_reason=reason, next_attempt_at=None, updated_at=now)
    ).rowcount
    if moved != 1:
        raise StageMovedError(str(item), [job.stage], None)
    notes: list[str] = []
    intents = conn.execute(
        select(tx_intent_table).where(tx_intent_table.c.packet_nonce == item.packet_nonce).with_for_update()
    ).all()
    cancelled, in_flight = _stop_intents(conn, intents, now)
    # The payout job of a distribution whose root never reaches L1 has nothing to pay either.
    payout_key = payout_job_table.c.packet_nonce == item.packet_nonce
    payout = conn.execute(select(payout_job_table.c.stage).where(payout_key).with_for_update()).first()
    if payout is not None and payout.stage in {s.value for s in OPEN_PAYOUT_STAGES}:
        conn.execute(
            update(payout_job_table)
            .where(payout_key, payout_job_table.c.stage == payout.stage)
            .values(
                stage=PayoutStage.EXCLUDED.value, excluded_reason=reason, next_attempt_at=None, updated_at=now
            )
        )
        notes.append("its payout job is excluded too")
    if job.kind == PacketKind.VALSET_UPDATE:
        notes.append(
            f"packets signed by a later validator set cannot be delivered until the gateway has valset "
            f"update {item}"
        )
    subject, subject_excluded, subject_notes = _exclude_subject(
        conn, job.kind, item, job.distribution_id, reason=reason, now=now
    )
    notes += subject_notes
    return ExcludeResult(
        item=str(item),
        from_stage=job.stage,
        changed=True,
        cancelled_intents=cancelled,
        in_flight_intents=in_flight,
        subject=subject,
        subject_excluded=subject_excluded,
        notes=tuple(notes),
    )


def _exclude_distribution(conn: Connection, item: ItemId, reason: str, now: datetime) -> ExcludeResult:
    p = payout_job_table
    key = p.c.distribution_id == item.distribution_id
    job = conn.execute(select(p).where(key).with_for_update()).first()
    if job is None:
        raise UnknownItemError(f"{item}: no such job")
    if job.stage == PayoutStage.EXCLUDED.value:
        return ExcludeResult(
            str(item), job.stage, changed=False, notes=(f"already excluded: {job.excluded_reason}",)
        )
    if job.stage == PayoutStage.PAID.value:
        raise ItemStateError(str(item), job.stage, "every leaf is paid; there is nothing left to stop")
    moved = conn.execute(
        update(p)
        .where(key, p.c.stage == job.stage)
        .values(
            stage=PayoutStage.EXCLUDED.value, excluded_reason=reason, next_attempt_at=None, updated_at=now
        )
    ).rowcount
    if moved != 1:
        raise StageMovedError(str(item), [job.stage], None)
    intents = conn.execute(
        select(tx_intent_table)
        .where(
            tx_intent_table.c.distribution_id == item.distribution_id,
            tx_intent_table.c.purpose == "payout",
        )
        .with_for_update()
    ).all()
    cancelled, in_flight = _stop_intents(conn, intents, now)
    notes: list[str] = []
    if in_flight:
        notes.append("leaves in a batch already signed may still be paid if it is mined")
    kind = int(PacketKind.REWARD_DISTRIBUTION)
    subject, subject_excluded, subject_notes = _exclude_subject(
        conn, kind, item, item.distribution_id, reason=reason, now=now
    )
    return ExcludeResult(
        item=str(item),
        from_stage=job.stage,
        changed=True,
        cancelled_intents=cancelled,
        in_flight_intents=in_flight,
        subject=subject,
        subject_excluded=subject_excluded,
        notes=tuple(notes + subject_notes),
    )


def _stop_intents(
    conn: Connection, intents: Sequence[Any], now: datetime
) -> tuple[tuple[int, ...], tuple[OpenIntent, ...]]:
    """Cancel the intents not signed yet; return (cancelled ids, intents already signed and open)."""
    cancelled: list[int] = []
    in_flight: list[OpenIntent] = []
    for row in intents:
        if row.state == IntentState.QUEUED.value:
            conn.execute(
                update(tx_intent_table)
                .where(tx_intent_table.c.id == row.id, tx_intent_table.c.state == IntentState.QUEUED.value)
                .values(
                    state=IntentState.CANCELLED.value,
                    reason_code=EXCLUDED_REASON_CODE,
                    reason="excluded by an operator before it was signed",
                    updated_at=now,
                )
            )
            cancelled.append(row.id)
        elif row.state in OPEN_INTENT_STATES:
            in_flight.append(
                OpenIntent(
                    row.id,
                    row.key,
                    row.purpose,
                    row.state,
                    row.tx_nonce,
                    row.tx_hash,
                    row.attempts,
                    row.updated_at,
                )
            )
    return tuple(cancelled), tuple(in_flight)


def _exclude_subject(
    conn: Connection, kind: int, item: ItemId, distribution_id: str | None, *, reason: str, now: datetime
) -> tuple[str | None, bool, list[str]]:
    """Move the claim or slash the item carries to ``excluded`` (lifecycle history, chain operator)."""
    entity, entity_id = _subject_of(conn, kind, item, distribution_id)
    if entity is None or entity_id is None:
        return None, False, []
    label = f"{entity.value} {entity_id}"
    tx = StoreTx(conn, clock=lambda: now)
    current = tx.state_of(entity, entity_id)
    excluded = "excluded"  # same state name in the claim and slash graphs
    if current is None:
        return label, False, [f"{label} is not recorded by the indexer; nothing to mark"]
    if current == excluded:
        return label, False, [f"{label} was already excluded"]
    if lifecycle(entity).edge(current, excluded) is None:
        return label, False, [f"{label} is {current}, which cannot become excluded; left as is"]
    values = {"reason_code": EXCLUDED_REASON_CODE, "reason": reason}
    tx.transition(
        entity,
        entity_id,
        excluded,
        ChainRef.operator(now),
        reason=f"operator exclude {item}: {reason}",
        values=values,
    )
    return label, True, []


def _subject_of(
    conn: Connection, kind: int, item: ItemId, distribution_id: str | None
) -> tuple[EntityKind | None, str | None]:
    """The claim (reward distribution) or slash an item carries, by the indexer's packet record; a
    distribution the indexer knows names its claim too (a packet not ingested yet, a payout job)."""
    if item.packet_nonce is not None:
        packet = conn.execute(
            select(packet_table.c.kind, packet_table.c.subject_id).where(
                packet_table.c.nonce == item.packet_nonce
            )
        ).first()
        if packet is not None and packet.subject_id is not None:
            if packet.kind == PacketKind.REWARD_DISTRIBUTION:
                return EntityKind.CLAIM, str(packet.subject_id)
            if packet.kind == PacketKind.SLASH:
                return EntityKind.SLASH, str(packet.subject_id)
            return None, None
    if kind != PacketKind.REWARD_DISTRIBUTION or distribution_id is None:
        return None, None
    claim_id = conn.execute(
        select(distribution_table.c.claim_id).where(distribution_table.c.distribution_id == distribution_id)
    ).scalar_one_or_none()
    return (None, None) if claim_id is None else (EntityKind.CLAIM, str(claim_id))
