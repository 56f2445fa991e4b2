"""Reward claims: the listing and one claim's detail (also served by the hot path).

The listing is generated from its declaration (:data:`indexer.api.listings.CLAIMS`, which the
explorer reads too); the detail calls :mod:`indexer.api.queries`; ``read`` runs both on the
read-only engine.
"""

from __future__ import annotations

from fastapi import APIRouter

from indexer.api import listings, queries, schemas
from indexer.api.params import NOT_FOUND, ApiError, ClaimIdPath, Reader
from indexer.api.routers.listing import add_listing


def register(v1: APIRouter, read: Reader) -> None:
    """Adds the ``claims`` routes to ``v1`` (which adds the shared error responses)."""

    add_listing(v1, read, listings.CLAIMS)

    @v1.get("/claims/{claim_id}", response_model=schemas.ClaimDetail, responses=NOT_FOUND, tags=["claims"])
    def get_claim(claim_id: ClaimIdPath) -> schemas.ClaimDetail:
        """One claim with signers, distribution, packet, payout counts and its full timeline."""
        found = read(lambda conn: queries.claim_detail(conn, claim_id.lower()))
        if found is None:
            raise ApiError(404, "not_found", f"claim {claim_id} not found", {"claim_id": claim_id.lower()})
        return found
