"""Relay packets.

The handlers validate and convert parameters and call :mod:`indexer.api.queries`, the read side's
one query layer (the explorer calls the same functions); ``read`` runs them on the read-only engine.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from indexer.api import queries, schemas
from indexer.api.pagination import DEFAULT_PAGE_SIZE, Order
from indexer.api.params import (
    HASH,
    AvsQ,
    CursorQ,
    Limit,
    OrderQ,
    PacketKindName,
    PacketStatus,
    Reader,
    Since,
    Until,
    list_params,
    lower,
    value,
)


def register(v1: APIRouter, read: Reader) -> None:
    """Adds the ``packets`` routes to ``v1`` (which adds the shared error responses)."""

    @v1.get("/packets", response_model=schemas.Page[schemas.PacketOut], tags=["packets"])
    def list_packets(
        *,
        kind: Annotated[PacketKindName | None, Query()] = None,
        status: Annotated[PacketStatus | None, Query()] = None,
        avs: AvsQ = None,
        subject_id: Annotated[str | None, Query(pattern=HASH, description="Claim or slash id.")] = None,
        since: Since = None,
        until: Until = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: CursorQ = None,
        order: OrderQ = Order.DESC,
    ) -> schemas.Page[schemas.PacketOut]:
        """Relay packets and how far each got."""
        params = list_params(limit, cursor, order, since, until)
        items, next_cursor = read(
            lambda conn: queries.list_packets(
                conn,
                params,
                kind=value(kind),
                status=value(status),
                avs=lower(avs),
                subject_id=lower(subject_id),
            )
        )
        return schemas.Page(items=items, next_cursor=next_cursor)
