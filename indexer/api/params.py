"""What every router of the API shares: the error answer, the documented error responses, the
query and path parameter types (validated by FastAPI before a handler runs) and their conversions.

Invariant: a parameter type is defined here once, so the same filter reads the same on every
resource (and in ``/openapi.json``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Final, Protocol, TypeVar

from fastapi import Path, Query
from fastapi.responses import JSONResponse
from sqlalchemy import Connection

from indexer.api import schemas
from indexer.api.pagination import MAX_PAGE_SIZE, Order
from indexer.api.queries import ListParams
from relayer.protocol.kinds import PacketKind
from storage.lifecycle import ClaimState, L1TxState, PacketState, PayoutState, SlashState
from storage.normalize import BIGINT_MAX

T = TypeVar("T")


class Reader(Protocol):
    """Runs one read on a connection of the API's read-only engine."""

    def __call__(self, fn: Callable[[Connection], T], /) -> T: ...


HASH = schemas.HASH_PATTERN
ADDRESS = schemas.ADDRESS_PATTERN


class ApiError(Exception):
    """An error answer with a stable code."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}


def error_response(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> JSONResponse:
    body = schemas.ErrorBody(error=schemas.ErrorDetail(code=code, message=message, details=details or {}))
    return JSONResponse(status_code=status, content=body.model_dump(mode="json"))


ERROR_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    400: {"model": schemas.ErrorBody, "description": "Bad cursor or inconsistent parameters."},
    422: {"model": schemas.ErrorBody, "description": "A parameter failed validation."},
    503: {"model": schemas.ErrorBody, "description": "The database is unavailable."},
}
NOT_FOUND: Final[dict[int | str, dict[str, Any]]] = {
    404: {"model": schemas.ErrorBody, "description": "No such object."}
}


# ---------------------------------------------------------------------------------------- parameters

ClaimStatus = StrEnum("ClaimStatus", {s.name: s.value for s in ClaimState})  # type: ignore[misc]
SlashStatus = StrEnum("SlashStatus", {s.name: s.value for s in SlashState})  # type: ignore[misc]
PayoutStatus = StrEnum("PayoutStatus", {s.name: s.value for s in PayoutState})  # type: ignore[misc]
PacketStatus = StrEnum("PacketStatus", {s.name: s.value for s in PacketState})  # type: ignore[misc]
TxStatus = StrEnum("TxStatus", {s.name: s.value for s in L1TxState})  # type: ignore[misc]


PacketKindName = StrEnum("PacketKindName", {k.name: k.label for k in PacketKind})  # type: ignore[misc]


Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size.")]
CursorQ = Annotated[
    str | None,
    Query(max_length=200, pattern=r"^[A-Za-z0-9_-]+$", description="`next_cursor` of the previous page."),
]
OrderQ = Annotated[Order, Query(description="By id: newest first (`desc`, default) or oldest first.")]
TIME_QUERY: Final[dict[str, Any]] = {
    "pattern": schemas.TIMESTAMP_PATTERN,
    "json_schema_extra": {"format": "date-time", "examples": [schemas.TIME_EXAMPLE]},
}
Since = Annotated[str | None, Query(description="Created at or after (RFC 3339 date-time).", **TIME_QUERY)]
Until = Annotated[str | None, Query(description="Created before (RFC 3339 date-time).", **TIME_QUERY)]
AvsQ = Annotated[str | None, Query(pattern=ADDRESS, description="AVS address.")]
TokenQ = Annotated[str | None, Query(pattern=ADDRESS, description="L1 token address.")]
StakerQ = Annotated[str | None, Query(pattern=ADDRESS, description="Staker's L1 address.")]
EpochQ = Annotated[int | None, Query(ge=0, le=BIGINT_MAX, description="AVS epoch.")]
ChainIdQ = Annotated[
    int | None, Query(ge=0, le=BIGINT_MAX, description="Client chain: the L1 chain id it landed on.")
]
OperatorQ = Annotated[
    str | None,
    Query(
        max_length=100,
        pattern=schemas.OPERATOR_PATTERN,
        description="Operator (bech32 account or 0x address).",
    ),
]
HashQ = Annotated[str | None, Query(pattern=HASH)]
ClaimIdPath = Annotated[str, Path(pattern=HASH, description="32-byte claim id, 0x hex.")]
DistributionIdPath = Annotated[str, Path(pattern=HASH, description="32-byte distribution id, 0x hex.")]
SlashIdPath = Annotated[str, Path(pattern=HASH, description="32-byte slash id, 0x hex.")]
AvsPath = Annotated[str, Path(pattern=ADDRESS, description="AVS address.")]


def lower(value: str | None) -> str | None:
    return None if value is None else value.lower()


def utc(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return schemas.parse_timestamp(value)
    except ValueError as exc:
        raise ApiError(
            422, "validation_error", f"{name} is not an RFC 3339 date-time: {exc}", {"parameter": name}
        ) from exc


def list_params(
    limit: int, cursor: str | None, order: Order, since: str | None, until: str | None
) -> ListParams:
    return ListParams(
        limit=limit, cursor=cursor, order=order, since=utc(since, "since"), until=utc(until, "until")
    )


def value(status: StrEnum | None) -> str | None:
    return None if status is None else status.value
