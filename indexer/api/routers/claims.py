"""Reward claims: the listing and one claim's detail (also served by the hot path).

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
    ClaimIdPath,
    ClaimStatus,
    CursorQ,
    EpochQ,
    Limit,
    OperatorQ,
    OrderQ,
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
    """Adds the ``claims`` routes to ``v1`` (which adds the shared error responses)."""

    @v1.get("/claims", response_model=schemas.Page[schemas.ClaimOut], tags=["claims"])
    def list_claims(
        *,
        avs: AvsQ = None,
        epoch: EpochQ = None,
        token: TokenQ = None,
        status: Annotated[ClaimStatus | None, Query()] = None,
        operator: OperatorQ = None,
        staker: StakerQ = None,
        since: Since = None,
        until: Until = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: CursorQ = None,
        order: OrderQ = Order.DESC,
    ) -> schemas.Page[schemas.ClaimOut]:
        """Reward claims, newest first. `operator` = a signer; `staker` = paid by the claim's distribution."""
        params = list_params(limit, cursor, order, since, until)
        items, next_cursor = read(
            lambda conn: queries.list_claims(
                conn,
                params,
                avs=lower(avs),
                epoch=epoch,
                token=lower(token),
                status=value(status),
                operator=lower(operator),
                staker=lower(staker),
            )
        )
        return schemas.Page(items=items, next_cursor=next_cursor)

    @v1.get("/claims/{claim_id}", response_model=schemas.ClaimDetail, responses=NOT_FOUND, tags=["claims"])
    def get_claim(claim_id: ClaimIdPath) -> schemas.ClaimDetail:
        """One claim with signers, distribution, packet, payout counts and its full timeline."""
        found = read(lambda conn: queries.claim_detail(conn, claim_id.lower()))
        if found is None:
            raise ApiError(404, "not_found", f"claim {claim_id} not found", {"claim_id": claim_id.lower()})
        return found
