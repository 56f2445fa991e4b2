"""Distributions and their leaves.

The handlers validate and convert parameters and call :mod:`indexer.api.queries`, the read side's
one query layer (the explorer calls the same functions); ``read`` runs them on the read-only engine.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import Connection

from indexer.api import queries, schemas
from indexer.api.pagination import DEFAULT_PAGE_SIZE, Order
from indexer.api.params import (
    NOT_FOUND,
    ApiError,
    AvsQ,
    ChainIdQ,
    CursorQ,
    DistributionIdPath,
    Limit,
    PayoutStatus,
    Reader,
    StakerQ,
    TokenQ,
    lower,
    value,
)
from indexer.api.queries import ListParams


def register(v1: APIRouter, read: Reader) -> None:
    """Adds the ``distributions`` routes to ``v1`` (which adds the shared error responses)."""

    @v1.get(
        "/distributions/{distribution_id}",
        response_model=schemas.DistributionOut,
        responses=NOT_FOUND,
        tags=["distributions"],
    )
    def get_distribution(distribution_id: DistributionIdPath) -> schemas.DistributionOut:
        """A distribution with the amount paid so far and its payouts per status."""
        found = read(lambda conn: queries.distribution_detail(conn, distribution_id.lower()))
        if found is None:
            raise ApiError(
                404,
                "not_found",
                f"distribution {distribution_id} not found",
                {"distribution_id": distribution_id.lower()},
            )
        return found

    @v1.get("/reward-sources", response_model=schemas.RewardSourcesOut, tags=["distributions"])
    def list_reward_sources(
        avs: AvsQ = None, token: TokenQ = None, chain_id: ChainIdQ = None
    ) -> schemas.RewardSourcesOut:
        """Per AVS, token and reward source (MINT, VAULT deposits, FEES): what was funded in the
        RewardVault, distributed by Exocore (per distribution or accrued into cumulative totals),
        drawn into a cumulative pool and paid on L1; one client chain's figures with ``chain_id``."""
        return read(
            lambda conn: queries.reward_sources(conn, avs=lower(avs), token=lower(token), chain_id=chain_id)
        )

    @v1.get(
        "/distributions/{distribution_id}/leaves",
        response_model=schemas.Page[schemas.LeafOut],
        responses=NOT_FOUND,
        tags=["distributions"],
    )
    def list_leaves(
        *,
        distribution_id: DistributionIdPath,
        staker: StakerQ = None,
        status: Annotated[PayoutStatus | None, Query(description="Payout status of the leaf.")] = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: CursorQ = None,
        order: Annotated[Order, Query(description="By leaf index (default ascending).")] = Order.ASC,
    ) -> schemas.Page[schemas.LeafOut]:
        """The leaves of a distribution by index, each with its payout status."""
        params = ListParams(limit=limit, cursor=cursor, order=order)
        did = distribution_id.lower()

        def run(conn: Connection) -> tuple[list[schemas.LeafOut], str | None]:
            if not queries.distribution_exists(conn, did):
                raise ApiError(
                    404, "not_found", f"distribution {distribution_id} not found", {"distribution_id": did}
                )
            return queries.list_leaves(conn, did, params, staker=lower(staker), status=value(status))

        items, next_cursor = read(run)
        return schemas.Page(items=items, next_cursor=next_cursor)
