"""Slashes: the listing and one slash's detail.

The listing is generated from its declaration (:data:`indexer.api.listings.SLASHES`, which the
explorer reads too); the detail calls :mod:`indexer.api.queries`; ``read`` runs both on the
read-only engine.
"""

from __future__ import annotations

from fastapi import APIRouter

from indexer.api import listings, queries, schemas
from indexer.api.params import NOT_FOUND, ApiError, Reader, SlashIdPath
from indexer.api.routers.listing import add_listing


def register(v1: APIRouter, read: Reader) -> None:
    """Adds the ``slashes`` routes to ``v1`` (which adds the shared error responses)."""

    add_listing(v1, read, listings.SLASHES)

    @v1.get("/slashes/{slash_id}", response_model=schemas.SlashDetail, responses=NOT_FOUND, tags=["slashes"])
    def get_slash(slash_id: SlashIdPath) -> schemas.SlashDetail:
        """One slash with its timeline (and its packet's and L1 transaction's)."""
        found = read(lambda conn: queries.slash_detail(conn, slash_id.lower()))
        if found is None:
            raise ApiError(404, "not_found", f"slash {slash_id} not found", {"slash_id": slash_id.lower()})
        return found
