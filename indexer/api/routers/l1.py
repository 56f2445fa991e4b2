"""L1 transactions.

The handlers validate and convert parameters and call :mod:`indexer.api.queries`, the read side's
one query layer (the explorer calls the same functions); ``read`` runs them on the read-only engine.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from indexer.api import queries, schemas
from indexer.api.pagination import DEFAULT_PAGE_SIZE, Order
from indexer.api.params import (
    ADDRESS,
    HASH,
    CursorQ,
    Limit,
    OrderQ,
    Reader,
    Since,
    TxStatus,
    Until,
    list_params,
    lower,
    value,
)
from relayer.protocol.kinds import TxPurpose


def register(v1: APIRouter, read: Reader) -> None:
    """Adds the ``l1`` routes to ``v1`` (which adds the shared error responses)."""

    @v1.get("/l1/txs", response_model=schemas.Page[schemas.L1TxOut], tags=["l1"])
    def list_l1_txs(
        *,
        status: Annotated[TxStatus | None, Query()] = None,
        purpose: Annotated[TxPurpose | None, Query()] = None,
        sender: Annotated[str | None, Query(pattern=ADDRESS)] = None,
        distribution_id: Annotated[str | None, Query(pattern=HASH)] = None,
        since: Since = None,
        until: Until = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: CursorQ = None,
        order: OrderQ = Order.DESC,
    ) -> schemas.Page[schemas.L1TxOut]:
        """L1 transactions, every replacement included (`replaces_tx_hash`)."""
        params = list_params(limit, cursor, order, since, until)
        items, next_cursor = read(
            lambda conn: queries.list_l1_txs(
                conn,
                params,
                status=value(status),
                purpose=value(purpose),
                sender=lower(sender),
                distribution_id=lower(distribution_id),
            )
        )
        return schemas.Page(items=items, next_cursor=next_cursor)
