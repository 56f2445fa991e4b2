"""The AVS aggregator's state: signing requests, every signature posted over them, conflicting
signatures kept as evidence, and the one submission of each request to Exocore.

State model of a request (``aggregation_request.state``)::

    collecting ─▶ submitted ─▶ verified
        │             └──────▶ rejected      (Exocore's reason in state_reason)
        └──▶ expired                          (below threshold when expires_at passed)

Invariants:

- A request row exists only once the AVS opened it (with its token) or a VALID member signature
  over it arrived: unauthenticated posts over unknown requests never write a row.
- ``aggregation_signature`` keeps every verdict on a stored request with its arrival time; at most
  one ``accepted`` row per (request, operator) (a partial unique index would differ between
  PostgreSQL and SQLite, so the writer enforces it under the request's row lock).
- ``aggregation_submission`` has at most one row per request (primary key ``digest``): the intent,
  with the signed transaction's bytes and hash, is committed BEFORE the broadcast, so a restart
  finds it and asks Exocore whether it landed instead of signing a second transaction.
- Amounts and powers are uint256 (:class:`~storage.sqltypes.Uint256`), hashes ``0x`` lower-case hex.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Final

from sqlalchemy import BigInteger, CheckConstraint, Column, Index, Integer, String, Text
from sqlmodel import Field

from storage.models import ADDRESS_HEX_LEN, HASH_HEX_LEN, OPERATOR_LEN, BigIntPK, IndexerModel, table_of
from storage.sqltypes import Uint256, UtcDateTime


class RequestKind(StrEnum):
    REWARD_CLAIM = "reward_claim"
    SLASH_REQUEST = "slash_request"


class RequestState(StrEnum):
    COLLECTING = "collecting"
    """Open: members' signatures are collected (the threshold may already be crossed, waiting out
    the grace window: ``threshold_reached_at`` is set)."""
    SUBMITTED = "submitted"
    """The aggregate is in a transaction sent to Exocore (``aggregation_submission``)."""
    VERIFIED = "verified"
    """Exocore accepted the claim / slash request."""
    REJECTED = "rejected"
    """Exocore refused it (``state_reason`` is its reason)."""
    EXPIRED = "expired"
    """Still below threshold when ``expires_at`` passed."""


OPEN_REQUEST_STATES: Final = (RequestState.COLLECTING,)
TERMINAL_REQUEST_STATES: Final = (RequestState.VERIFIED, RequestState.REJECTED, RequestState.EXPIRED)


class Verdict(StrEnum):
    """What the aggregator decided about one posted signature (the API's verdict or error code)."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    MALFORMED_SIGNATURE = "malformed_signature"
    NOT_A_MEMBER = "not_a_member"
    INVALID_SIGNATURE = "invalid_signature"
    CONFLICTING_SIGNATURE = "conflicting_signature"
    REQUEST_EXPIRED = "request_expired"
    REQUEST_CLOSED = "request_closed"


class SubmissionState(StrEnum):
    SIGNED = "signed"
    """The transaction is built and signed (bytes and hash recorded); it may or may not have been
    broadcast when the process stopped."""
    BROADCAST = "broadcast"
    """CheckTx admitted it."""
    COMMITTED = "committed"
    """A block has it (``height``, ``tx_code``)."""
    FAILED = "failed"
    """CheckTx refused it (``detail``); the request is rejected with that reason."""


def _states(enum: type[StrEnum]) -> str:
    return ", ".join(f"'{member.value}'" for member in enum)


class AggregationRequest(IndexerModel, table=True):
    """One reward claim or slash request the aggregator collects signatures for."""

    __tablename__ = "aggregation_request"
    __table_args__ = (
        CheckConstraint(f"state IN ({_states(RequestState)})", name="state"),
        CheckConstraint(f"kind IN ({_states(RequestKind)})", name="kind"),
        # Operators poll the open requests of their AVS; the tick scans open requests by deadline.
        Index(None, "state", "avs", "opened_at"),
        Index(None, "slot"),
    )

    digest: str = Field(sa_type=String(HASH_HEX_LEN), primary_key=True)
    slot: str = Field(sa_type=String(HASH_HEX_LEN))
    kind: str = Field(sa_type=String(16))
    avs: str = Field(sa_type=String(ADDRESS_HEX_LEN))
    epoch: int = Field(sa_type=BigInteger)
    request: str = Field(sa_type=Text)
    """0x-hex canonical bytes (what the members sign the keccak256 of)."""
    evidence: str | None = Field(default=None, sa_type=Text, nullable=True)
    opened_by: str = Field(sa_type=String(16))
    """``avs`` (opened with the AVS's token) or ``signature`` (by the first valid member signature)."""
    state: str = Field(sa_type=String(16))
    state_reason: str | None = Field(default=None, sa_type=Text, nullable=True)
    signed_power: int = Field(sa_column=Column("signed_power", Uint256(), nullable=False))
    threshold_power: int = Field(sa_column=Column("threshold_power", Uint256(), nullable=False))
    total_power: int = Field(sa_column=Column("total_power", Uint256(), nullable=False))
    committee_size: int = Field(sa_type=Integer)
    refusals_stored: int = Field(default=0, sa_type=Integer)
    """Refused posts recorded for this request (capped: beyond the cap they are only counted)."""
    opened_at: datetime = Field(sa_column=Column("opened_at", UtcDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column("expires_at", UtcDateTime(), nullable=False))
    threshold_reached_at: datetime | None = Field(
        default=None, sa_column=Column("threshold_reached_at", UtcDateTime(), nullable=True)
    )
    signer_bitmap: str | None = Field(default=None, sa_type=Text, nullable=True)
    aggregate_signature: str | None = Field(default=None, sa_type=Text, nullable=True)
    """0x-hex 96-byte compressed G2 aggregate that was submitted (set with the submission)."""
    updated_at: datetime = Field(sa_column=Column("updated_at", UtcDateTime(), nullable=False))


class AggregationSignature(IndexerModel, table=True):
    """One posted signature over a stored request and its verdict."""

    __tablename__ = "aggregation_signature"
    __table_args__ = (
        CheckConstraint(f"verdict IN ({_states(Verdict)})", name="verdict"),
        Index(None, "digest", "id"),
        Index(None, "digest", "operator"),
    )

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    digest: str = Field(sa_type=String(HASH_HEX_LEN))
    operator: str = Field(sa_type=String(OPERATOR_LEN))
    member_index: int | None = Field(default=None, sa_type=Integer, nullable=True)
    signature: str = Field(sa_type=Text)
    verdict: str = Field(sa_type=String(24))
    reason: str | None = Field(default=None, sa_type=Text, nullable=True)
    received_at: datetime = Field(sa_column=Column("received_at", UtcDateTime(), nullable=False))


class AggregationEvidence(IndexerModel, table=True):
    """A member that signed two different requests in one signing slot: both requests and both
    signatures (each verified under the member's registered key), i.e. slashable evidence."""

    __tablename__ = "aggregation_evidence"
    __table_args__ = (Index(None, "operator"),)

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    slot: str = Field(sa_type=String(HASH_HEX_LEN))
    avs: str = Field(sa_type=String(ADDRESS_HEX_LEN))
    operator: str = Field(sa_type=String(OPERATOR_LEN))
    first_digest: str = Field(sa_type=String(HASH_HEX_LEN))
    first_signature: str = Field(sa_type=Text)
    second_request: str = Field(sa_type=Text)
    second_digest: str = Field(sa_type=String(HASH_HEX_LEN))
    second_signature: str = Field(sa_type=Text)
    recorded_at: datetime = Field(sa_column=Column("recorded_at", UtcDateTime(), nullable=False))


class AggregationSubmission(IndexerModel, table=True):
    """The one transaction that carries a request's aggregate to Exocore."""

    __tablename__ = "aggregation_submission"
    __table_args__ = (CheckConstraint(f"state IN ({_states(SubmissionState)})", name="state"),)

    digest: str = Field(sa_type=String(HASH_HEX_LEN), primary_key=True)
    state: str = Field(sa_type=String(16))
    signer: str = Field(sa_type=String(OPERATOR_LEN))
    account_number: int = Field(sa_type=BigInteger)
    sequence: int = Field(sa_type=BigInteger)
    tx_hash: str = Field(sa_type=String(64))
    tx_bytes: str = Field(sa_type=Text)
    signed_power: int = Field(sa_column=Column("signed_power", Uint256(), nullable=False))
    signers: int = Field(sa_type=Integer)
    height: int | None = Field(default=None, sa_type=BigInteger, nullable=True)
    tx_code: int | None = Field(default=None, sa_type=Integer, nullable=True)
    detail: str | None = Field(default=None, sa_type=Text, nullable=True)
    created_at: datetime = Field(sa_column=Column("created_at", UtcDateTime(), nullable=False))
    broadcast_at: datetime | None = Field(
        default=None, sa_column=Column("broadcast_at", UtcDateTime(), nullable=True)
    )
    committed_at: datetime | None = Field(
        default=None, sa_column=Column("committed_at", UtcDateTime(), nullable=True)
    )


aggregation_request_table: Final = table_of(AggregationRequest)
aggregation_signature_table: Final = table_of(AggregationSignature)
aggregation_evidence_table: Final = table_of(AggregationEvidence)
aggregation_submission_table: Final = table_of(AggregationSubmission)
