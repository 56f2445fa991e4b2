"""Payouts, one per leaf (``?staker=`` is also served by the hot path).

The handlers validate and convert parameters and call :mod:`indexer.api.queries`, the read side's
one query layer (the explorer calls the same functions); ``read`` runs them on the read-only engine.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from indexer.api import queries, schemas
from indexer.api.pagination import DEFAULT_PAGE_SIZE, Order
from indexer.api.params import (
    ADDRESS,
    HASH,
    NOT_FOUND,
    ApiError,
    AvsQ,
    CursorQ,
    EpochQ,
    Limit,
    OperatorQ,
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
    """Adds the ``payouts`` routes to ``v1`` (which adds the shared error responses)."""

    @v1.get("/payouts", response_model=schemas.Page[schemas.PayoutOut], tags=["payouts"])
    def list_payouts(
        *,
        staker: StakerQ = None,
        token: TokenQ = None,
        status: Annotated[PayoutStatus | None, Query()] = None,
        avs: AvsQ = None,
        epoch: EpochQ = None,
        distribution_id: Annotated[str | None, Query(pattern=HASH)] = None,
        tx_hash: Annotated[str | None, Query(pattern=HASH, description="L1 transaction that paid.")] = None,
        operator: OperatorQ = None,
        since: Since = None,
        until: Until = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: CursorQ = None,
        order: OrderQ = Order.DESC,
    ) -> schemas.Page[schemas.PayoutOut]:
        """Payouts (one per leaf) with the L1 transaction that paid each; `?staker=` is a staker's view."""
        params = list_params(limit, cursor, order, since, until)
        items, next_cursor = read(
            lambda conn: queries.list_payouts(
                conn,
                params,
                staker=lower(staker),
                token=lower(token),
                status=value(status),
                avs=lower(avs),
                epoch=epoch,
                distribution_id=lower(distribution_id),
                tx_hash=lower(tx_hash),
                operator=operator,
            )
        )
        return schemas.Page(items=items, next_cursor=next_cursor)

    @v1.get(
        "/stakers/{staker}/cumulative",
        response_model=schemas.CumulativeStakerOut,
        tags=["payouts"],
    )
    def cumulative_staker(
        *, staker: Annotated[str, Path(pattern=ADDRESS, description="Staker's L1 address.")]
    ) -> schemas.CumulativeStakerOut:
        """What cumulative reward roots paid a staker, per token: pushed, or claimed by the staker."""
        return read(lambda conn: queries.cumulative_staker(conn, staker.lower()))

    @v1.get("/stakers/{staker}/claims", response_model=schemas.StakerClaimsOut, tags=["payouts"])
    def leaf_claims(
        *, staker: Annotated[str, Path(pattern=ADDRESS, description="Staker's L1 address.")]
    ) -> schemas.StakerClaimsOut:
        """The staker's unpaid per-distribution leaves on L1, their proofs, and each claim's calldata."""
        return read(lambda conn: queries.leaf_claims(conn, staker.lower()))

    @v1.get(
        "/stakers/{staker}/cumulative/claim",
        response_model=schemas.CumulativeClaimOut,
        responses=NOT_FOUND,
        tags=["payouts"],
    )
    def cumulative_claim(
        *, staker: Annotated[str, Path(pattern=ADDRESS, description="Staker's L1 address.")]
    ) -> schemas.CumulativeClaimOut:
        """The staker's leaves in the latest root on L1, their proofs, and the claim's calldata."""
        found = read(lambda conn: queries.cumulative_claim(conn, staker.lower()))
        if found is None:
            raise ApiError(
                404,
                "not_found",
                f"no cumulative root on L1 has a leaf of {staker}",
                {"staker": staker.lower()},
            )
        return found
