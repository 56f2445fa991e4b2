"""Slashes: the listing and one slash's detail.

The handlers validate and convert parameters and call :mod:`indexer.api.queries`, the read side's
one query layer (the explorer calls the same functions); ``read`` runs them on the read-only engine.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from indexer.api import queries, schemas
from indexer.api.pagination import DEFAULT_PAGE_SIZE, Order
from indexer.api.params import (
    NOT_FOUND,
    ApiError,
    AvsQ,
    CursorQ,
    Limit,
    OperatorQ,
    OrderQ,
    Reader,
    Since,
    SlashIdPath,
    SlashStatus,
    TokenQ,
    Until,
    list_params,
    lower,
    value,
)


def register(v1: APIRouter, read: Reader) -> None:
    """Adds the ``slashes`` routes to ``v1`` (which adds the shared error responses)."""

    @v1.get("/slashes", response_model=schemas.Page[schemas.SlashOut], tags=["slashes"])
    def list_slashes(
        *,
        avs: AvsQ = None,
        operator: OperatorQ = None,
        status: Annotated[SlashStatus | None, Query()] = None,
        token: TokenQ = None,
        since: Since = None,
        until: Until = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: CursorQ = None,
        order: OrderQ = Order.DESC,
    ) -> schemas.Page[schemas.SlashOut]:
        """Slashes with evidence kind, signers, per-token amounts and freeze."""
        params = list_params(limit, cursor, order, since, until)
        items, next_cursor = read(
            lambda conn: queries.list_slashes(
                conn,
                params,
                avs=lower(avs),
                operator=lower(operator),
                status=value(status),
                token=lower(token),
            )
        )
        return schemas.Page(items=items, next_cursor=next_cursor)

    @v1.get("/slashes/{slash_id}", response_model=schemas.SlashDetail, responses=NOT_FOUND, tags=["slashes"])
    def get_slash(slash_id: SlashIdPath) -> schemas.SlashDetail:
        """One slash with its timeline (and its packet's and L1 transaction's)."""
        found = read(lambda conn: queries.slash_detail(conn, slash_id.lower()))
        if found is None:
            raise ApiError(404, "not_found", f"slash {slash_id} not found", {"slash_id": slash_id.lower()})
        return found
