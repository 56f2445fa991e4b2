"""The ``collecting`` stage of reward claims and slash requests: what an AVS's aggregator
(``exorelay aggregator``) has collected before the request reaches Exocore as ``submitted``.

Read from the aggregator's tables (``storage.aggregation``) when the aggregator shares this
database: who signed when, the power collected against the threshold, who was refused and why, and
the submission. The stage's own states are ``collecting``, then ``submitted`` (from there the claim or
slash follows its lifecycle under ``/v1/claims`` / ``/v1/slashes``, same id), ``verified`` /
``rejected`` (Exocore's verdict on the submission) or ``expired`` (still below threshold).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Final

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel
from sqlalchemy import Connection, and_, or_, select

from indexer.api import schemas
from indexer.api.params import NOT_FOUND, ApiError, Reader
from storage.aggregation import (
    RequestKind,
    RequestState,
    aggregation_evidence_table,
    aggregation_request_table,
    aggregation_signature_table,
    aggregation_submission_table,
)

DEFAULT_LIMIT: Final = 50
MAX_LIMIT: Final = 500

REQUESTS = aggregation_request_table
SIGNATURES = aggregation_signature_table
SUBMISSIONS = aggregation_submission_table
EVIDENCE = aggregation_evidence_table


class CollectedSignature(BaseModel):
    operator: str
    member_index: int | None
    verdict: str
    """``accepted``, ``duplicate`` or the refusal code (``invalid_signature``, ``not_a_member``, ...)."""
    reason: str | None
    received_at: datetime


class CollectionSubmission(BaseModel):
    state: str
    tx_hash: str
    signer: str
    signers: int
    signed_power: str
    height: int | None
    tx_code: int | None
    detail: str | None
    created_at: datetime


class CollectionOut(BaseModel):
    """One request's collection (the claim id / slash id is ``digest``)."""

    digest: str
    kind: str
    avs: str
    epoch: int
    state: str
    state_reason: str | None
    opened_by: str
    opened_at: datetime
    expires_at: datetime
    threshold_reached_at: datetime | None
    signed_power: str
    threshold_power: str
    total_power: str
    committee_size: int
    accepted: int
    refused: int


class CollectedEvidence(BaseModel):
    """A member whose key signed this request and another one in the same signing slot (both
    signatures verified under its registered key): slashable evidence the aggregator kept."""

    operator: str
    slot: str
    first_digest: str
    second_digest: str
    recorded_at: datetime


class CollectionDetail(CollectionOut):
    signatures: list[CollectedSignature]
    submission: CollectionSubmission | None
    evidence: list[CollectedEvidence] = []


def _summary(row: Any, accepted: int, refused: int) -> CollectionOut:
    return CollectionOut(
        digest=row.digest,
        kind=row.kind,
        avs=row.avs,
        epoch=int(row.epoch),
        state=row.state,
        state_reason=row.state_reason,
        opened_by=row.opened_by,
        opened_at=row.opened_at,
        expires_at=row.expires_at,
        threshold_reached_at=row.threshold_reached_at,
        signed_power=str(row.signed_power),
        threshold_power=str(row.threshold_power),
        total_power=str(row.total_power),
        committee_size=int(row.committee_size),
        accepted=accepted,
        refused=refused,
    )


def _counts(conn: Connection, digest: str) -> tuple[list[Any], int, int]:
    rows = list(
        conn.execute(select(SIGNATURES).where(SIGNATURES.c.digest == digest).order_by(SIGNATURES.c.id))
    )
    accepted = sum(1 for s in rows if s.verdict == "accepted")
    refused = sum(1 for s in rows if s.verdict not in ("accepted", "duplicate"))
    return rows, accepted, refused


def collection_detail(conn: Connection, digest: str) -> CollectionDetail | None:
    row = conn.execute(select(REQUESTS).where(REQUESTS.c.digest == digest)).first()
    if row is None:
        return None
    signatures, accepted, refused = _counts(conn, digest)
    sub = conn.execute(select(SUBMISSIONS).where(SUBMISSIONS.c.digest == digest)).first()
    evidence = conn.execute(
        select(EVIDENCE)
        .where(or_(EVIDENCE.c.first_digest == digest, EVIDENCE.c.second_digest == digest))
        .order_by(EVIDENCE.c.id)
    )
    return CollectionDetail(
        **_summary(row, accepted, refused).model_dump(),
        signatures=[
            CollectedSignature(
                operator=s.operator,
                member_index=s.member_index,
                verdict=s.verdict,
                reason=s.reason,
                received_at=s.received_at,
            )
            for s in signatures
        ],
        submission=None
        if sub is None
        else CollectionSubmission(
            state=sub.state,
            tx_hash=sub.tx_hash,
            signer=sub.signer,
            signers=int(sub.signers),
            signed_power=str(sub.signed_power),
            height=sub.height,
            tx_code=sub.tx_code,
            detail=sub.detail,
            created_at=sub.created_at,
        ),
        evidence=[
            CollectedEvidence(
                operator=e.operator,
                slot=e.slot,
                first_digest=e.first_digest,
                second_digest=e.second_digest,
                recorded_at=e.recorded_at,
            )
            for e in evidence
        ],
    )


def list_collections(
    conn: Connection,
    *,
    state: str | None,
    kind: str | None,
    avs: str | None,
    limit: int,
    after: tuple[datetime, str] | None,
) -> tuple[list[CollectionOut], str | None]:
    query = select(REQUESTS)
    if state is not None:
        query = query.where(REQUESTS.c.state == state)
    if kind is not None:
        query = query.where(REQUESTS.c.kind == kind)
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
    rows = list(conn.execute(query.order_by(REQUESTS.c.opened_at, REQUESTS.c.digest).limit(limit + 1)))
    items = []
    for row in rows[:limit]:
        _, accepted, refused = _counts(conn, row.digest)
        items.append(_summary(row, accepted, refused))
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = f"{last.opened_at.isoformat()}|{last.digest}"
    return items, next_cursor


PROGRESS_WIDTH: Final = 1000
"""The explorer's progress bar is drawn in a 0..1000 box (scaled to the page by SVG)."""


@dataclass(frozen=True, slots=True)
class Progress:
    """Where the explorer draws the signed power and the threshold on a 0..1000 bar."""

    signed_x: float
    threshold_x: float
    reached: bool


def collection_progress(collection: CollectionOut | schemas.CollectionStage | None) -> Progress:
    """The bar of a collection, or of a claim's / slash's collecting stage (empty without one)."""
    if collection is None:
        return Progress(0.0, 0.0, reached=False)
    total = int(collection.total_power)
    signed, needed = int(collection.signed_power), int(collection.threshold_power)
    if total <= 0:
        return Progress(0.0, 0.0, reached=False)
    return Progress(
        signed_x=PROGRESS_WIDTH * min(signed, total) / total,
        threshold_x=PROGRESS_WIDTH * min(needed, total) / total,
        reached=signed >= needed,
    )


def _cursor(text: str | None) -> tuple[datetime, str] | None:
    if text is None:
        return None
    opened, sep, digest = text.partition("|")
    try:
        if not sep:
            raise ValueError(text)
        return datetime.fromisoformat(opened), digest
    except ValueError:
        raise ApiError(
            400, "invalid_cursor", "cursor is not one this API returned", {"cursor": text[:80]}
        ) from None


def register(v1: APIRouter, read: Reader) -> None:
    """Adds the ``collections`` routes to ``v1``."""

    @v1.get("/collections", response_model=schemas.Page[CollectionOut], tags=["collections"])
    def collections(
        *,
        state: Annotated[RequestState | None, Query(description="Stage state.")] = None,
        kind: Annotated[RequestKind | None, Query(description="reward_claim or slash_request.")] = None,
        avs: Annotated[str | None, Query(pattern=schemas.ADDRESS_PATTERN)] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
    ) -> schemas.Page[CollectionOut]:
        """Requests an aggregator collected signatures for, oldest first."""
        after = _cursor(cursor)
        items, next_cursor = read(
            lambda conn: list_collections(
                conn,
                state=None if state is None else state.value,
                kind=None if kind is None else kind.value,
                avs=None if avs is None else avs.lower(),
                limit=limit,
                after=after,
            )
        )
        return schemas.Page(items=items, next_cursor=next_cursor)

    @v1.get(
        "/collections/{digest}", response_model=CollectionDetail, responses=NOT_FOUND, tags=["collections"]
    )
    def collection(
        digest: Annotated[str, Path(pattern=schemas.HASH_PATTERN, description="Claim id or slash id.")],
    ) -> CollectionDetail:
        """The collecting stage of one claim or slash request: signatures with verdicts and arrival
        times, power collected vs threshold, the submission."""
        found = read(lambda conn: collection_detail(conn, digest.lower()))
        if found is None:
            raise ApiError(404, "not_found", f"no collection {digest}", {"digest": digest.lower()})
        return found
