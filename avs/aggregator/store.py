"""SQL of the aggregator over the ``storage.aggregation`` tables (PostgreSQL and SQLite).

Every function takes an open connection: the caller owns the transaction, so a batch of verdicts,
the request's new signed power and any evidence commit together or not at all (a signature is
acknowledged to its poster only after its row is committed).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY

from storage.aggregation import (
    RequestState,
    SubmissionState,
    Verdict,
    aggregation_evidence_table,
    aggregation_request_table,
    aggregation_signature_table,
    aggregation_submission_table,
)

REQUESTS = aggregation_request_table
SIGNATURES = aggregation_signature_table
EVIDENCE = aggregation_evidence_table
SUBMISSIONS = aggregation_submission_table


@dataclass(frozen=True, slots=True)
class SignatureRow:
    digest: str
    operator: str
    member_index: int | None
    signature: str
    verdict: Verdict
    reason: str | None
    received_at: datetime


def insert_request(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(REQUESTS).values(**values))


def request_row(conn: Connection, digest: str) -> Any:
    return conn.execute(select(REQUESTS).where(REQUESTS.c.digest == digest)).first()


def requests_in(conn: Connection, states: Sequence[RequestState]) -> list[Any]:
    return list(
        conn.execute(
            select(REQUESTS)
            .where(REQUESTS.c.state.in_([s.value for s in states]))
            .order_by(REQUESTS.c.opened_at)
        )
    )


def list_requests(
    conn: Connection,
    *,
    state: str | None,
    avs: str | None,
    limit: int,
    after: tuple[datetime, str] | None,
) -> list[Any]:
    """Requests by (opened_at, digest), after the cursor position ``after``."""
    query = select(REQUESTS)
    if state is not None:
        query = query.where(REQUESTS.c.state == state)
    if avs is not None:
        query = query.where(REQUESTS.c.avs == avs)
    if after is not None:
        opened, digest = after
        query = query.where(
            or_(
                REQUESTS.c.opened_at > opened,
                and_(REQUESTS.c.opened_at == opened, REQUESTS.c.digest > digest),
            )
        )
    return list(conn.execute(query.order_by(REQUESTS.c.opened_at, REQUESTS.c.digest).limit(limit)))


def update_request(conn: Connection, digest: str, **values: Any) -> None:
    conn.execute(update(REQUESTS).where(REQUESTS.c.digest == digest).values(**values))


def set_missing_evidence(conn: Connection, digest: str, evidence: str) -> None:
    """Attach evidence to a request that has none (the bytes are checked against its hash first)."""
    conn.execute(
        update(REQUESTS)
        .where(REQUESTS.c.digest == digest, REQUESTS.c.evidence.is_(None))
        .values(evidence=evidence)
    )


def single_statement_writes(conn: Connection) -> bool:
    """True where :func:`record_batch` is one statement (PostgreSQL: a data-modifying CTE), so the
    caller may run it in autocommit: one round trip, atomic by itself, instead of BEGIN, INSERT,
    UPDATE and COMMIT, four (each ~1-2 ms on a busy two-core host, and each a GIL re-acquisition
    for the thread that holds a request's lock)."""
    return conn.dialect.name == "postgresql"


def record_batch(conn: Connection, digest: str, rows: Sequence[SignatureRow], **request: Any) -> None:
    """A batch's signature rows and the request's new values, together. On PostgreSQL one statement
    (the rows inserted by a CTE of the request's UPDATE: both or neither); elsewhere two, in the
    caller's transaction."""
    if single_statement_writes(conn) and rows:
        values = _signature_values(rows)
        # One array per column, unnested: the statement's shape (and so its compiled and, after a
        # few runs, server-prepared form) does not depend on the number of rows.
        arrays = [
            bindparam(f"batch_{name}", [row[name] for row in values], type_=ARRAY(SIGNATURES.c[name].type))
            for name in _SIGNATURE_COLUMNS
        ]
        source = func.unnest(*arrays).table_valued(*_SIGNATURE_COLUMNS).render_derived()
        inserted = insert(SIGNATURES).from_select(_SIGNATURE_COLUMNS, select(source)).cte("batch_rows")
        conn.execute(update(REQUESTS).where(REQUESTS.c.digest == digest).values(**request).add_cte(inserted))
        return
    insert_signatures(conn, rows)
    update_request(conn, digest, **request)


def insert_signatures(conn: Connection, rows: Iterable[SignatureRow]) -> None:
    values = _signature_values(rows)
    if values:
        conn.execute(insert(SIGNATURES), values)


_SIGNATURE_COLUMNS: Final = (
    "digest",
    "operator",
    "member_index",
    "signature",
    "verdict",
    "reason",
    "received_at",
)


def _signature_values(rows: Iterable[SignatureRow]) -> list[dict[str, Any]]:
    return [
        {
            "digest": row.digest,
            "operator": row.operator,
            "member_index": row.member_index,
            "signature": row.signature,
            "verdict": row.verdict.value,
            "reason": row.reason,
            "received_at": row.received_at,
        }
        for row in rows
    ]


def signatures_of(conn: Connection, digest: str) -> list[Any]:
    return list(
        conn.execute(select(SIGNATURES).where(SIGNATURES.c.digest == digest).order_by(SIGNATURES.c.id))
    )


def accepted_signatures(conn: Connection) -> list[Any]:
    """Every accepted signature with its request's slot (to rebuild the in-memory state)."""
    query = (
        select(SIGNATURES, REQUESTS.c.slot)
        .join(REQUESTS, REQUESTS.c.digest == SIGNATURES.c.digest)
        .where(SIGNATURES.c.verdict == Verdict.ACCEPTED.value)
        .order_by(SIGNATURES.c.id)
    )
    return list(conn.execute(query))


def insert_evidence(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(EVIDENCE).values(**values))


def evidence_of(conn: Connection, operator: str | None = None) -> list[Any]:
    query = select(EVIDENCE).order_by(EVIDENCE.c.id)
    if operator is not None:
        query = query.where(EVIDENCE.c.operator == operator)
    return list(conn.execute(query))


def insert_submission(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(SUBMISSIONS).values(**values))


def submission_row(conn: Connection, digest: str) -> Any:
    return conn.execute(select(SUBMISSIONS).where(SUBMISSIONS.c.digest == digest)).first()


def update_submission(conn: Connection, digest: str, **values: Any) -> None:
    conn.execute(update(SUBMISSIONS).where(SUBMISSIONS.c.digest == digest).values(**values))


def open_submissions(conn: Connection) -> list[Any]:
    states = [SubmissionState.SIGNED.value, SubmissionState.BROADCAST.value]
    return list(conn.execute(select(SUBMISSIONS).where(SUBMISSIONS.c.state.in_(states))))
