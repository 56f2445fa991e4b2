"""Withdrawal approvals, one row per leaf: principal the RestakingVault pays back once Exocore's
unbonding of an L1 withdrawal request matured, and who paid it (the relayer's batch or the staker's
own claim).

The handlers validate and convert parameters and call :mod:`indexer.api.queries`, the read side's
one query layer; ``read`` runs them on the read-only engine.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from indexer.api import queries, schemas
from indexer.api.pagination import DEFAULT_PAGE_SIZE, Order
from indexer.api.params import (
    HASH,
    CursorQ,
    Limit,
    OrderQ,
    PayoutStatus,
    Reader,
    Since,
    StakerQ,
    TokenQ,
    Until,
    list_params,
    lower,
    value,
)


def register(v1: APIRouter, read: Reader) -> None:
    """Adds the ``withdrawals`` routes to ``v1`` (which adds the shared error responses)."""

    @v1.get("/withdrawals", response_model=schemas.Page[schemas.WithdrawalOut], tags=["withdrawals"])
    def list_withdrawals(
        *,
        staker: StakerQ = None,
        token: TokenQ = None,
        status: Annotated[PayoutStatus | None, Query()] = None,
        approval_id: Annotated[str | None, Query(pattern=HASH)] = None,
        since: Since = None,
        until: Until = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: CursorQ = None,
        order: OrderQ = Order.DESC,
    ) -> schemas.Page[schemas.WithdrawalOut]:
        """Approved withdrawals (one per leaf) and their payment; `?staker=` is a staker's view."""
        params = list_params(limit, cursor, order, since, until)
        items, next_cursor = read(
            lambda conn: queries.list_withdrawals(
                conn,
                params,
                staker=lower(staker),
                token=lower(token),
                status=value(status),
                approval_id=lower(approval_id),
            )
        )
        return schemas.Page(items=items, next_cursor=next_cursor)
