"""Payouts, one per leaf (``?staker=`` is also served by the hot path).

The listing is generated from its declaration (:data:`indexer.api.listings.PAYOUTS`, which the
explorer reads too); the cumulative views call :mod:`indexer.api.queries`; ``read`` runs them on
the read-only engine.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from indexer.api import listings, queries, schemas
from indexer.api.params import ADDRESS, NOT_FOUND, ApiError, ChainIdQ, Reader
from indexer.api.routers.listing import add_listing


def register(v1: APIRouter, read: Reader) -> None:
    """Adds the ``payouts`` routes to ``v1`` (which adds the shared error responses)."""

    add_listing(v1, read, listings.PAYOUTS)

    @v1.get(
        "/stakers/{staker}/cumulative",
        response_model=schemas.CumulativeStakerOut,
        tags=["payouts"],
    )
    def cumulative_staker(
        *,
        staker: Annotated[str, Path(pattern=ADDRESS, description="Staker's L1 address.")],
        chain_id: ChainIdQ = None,
    ) -> schemas.CumulativeStakerOut:
        """What cumulative reward roots paid a staker, per token: pushed, or claimed by the staker.
        Each client chain has its own roots: figures are summed over chains, or ``chain_id``'s."""
        return read(lambda conn: queries.cumulative_staker(conn, staker.lower(), chain_id))

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
        *,
        staker: Annotated[str, Path(pattern=ADDRESS, description="Staker's L1 address.")],
        chain_id: ChainIdQ = None,
    ) -> schemas.CumulativeClaimOut:
        """The staker's leaves in the latest root on L1, their proofs, and the claim's calldata. A
        claim is made on one client chain: ``chain_id``'s, else the chain of the root delivered last."""
        found = read(lambda conn: queries.cumulative_claim(conn, staker.lower(), chain_id))
        if found is None:
            raise ApiError(
                404,
                "not_found",
                f"no cumulative root on L1 has a leaf of {staker}",
                {"staker": staker.lower()},
            )
        return found
