"""An AVS's committees per epoch.

The handlers validate and convert parameters and call :mod:`indexer.api.queries`, the read side's
one query layer (the explorer calls the same functions); ``read`` runs them on the read-only engine.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from indexer.api import queries, schemas
from indexer.api.pagination import DEFAULT_PAGE_SIZE, Order
from indexer.api.params import (
    TIME_QUERY,
    AvsPath,
    CursorQ,
    EpochQ,
    Limit,
    OperatorQ,
    Reader,
    list_params,
    lower,
)


def register(v1: APIRouter, read: Reader) -> None:
    """Adds the ``committees`` routes to ``v1`` (which adds the shared error responses)."""

    @v1.get("/committees/{avs}", response_model=schemas.Page[schemas.CommitteeOut], tags=["committees"])
    def list_committees(
        *,
        avs: AvsPath,
        epoch: EpochQ = None,
        operator: OperatorQ = None,
        since: Annotated[
            str | None, Query(description="Elected at or after (RFC 3339).", **TIME_QUERY)
        ] = None,
        until: Annotated[str | None, Query(description="Elected before (RFC 3339).", **TIME_QUERY)] = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: CursorQ = None,
        order: Annotated[Order, Query(description="By epoch (default newest first).")] = Order.DESC,
    ) -> schemas.Page[schemas.CommitteeOut]:
        """An AVS's committees per epoch, with members, power and BLS keys."""
        params = list_params(limit, cursor, order, since, until)
        items, next_cursor = read(
            lambda conn: queries.list_committees(
                conn, avs.lower(), params, epoch=epoch, operator=lower(operator)
            )
        )
        return schemas.Page(items=items, next_cursor=next_cursor)
