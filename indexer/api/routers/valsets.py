"""Relay validator sets and their installation on each client chain.

The listing is generated from its declaration (:data:`indexer.api.listings.VALSETS`); ``read``
runs it on the read-only engine.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from indexer.api import listings, queries, schemas
from indexer.api.params import NOT_FOUND, ApiError, Reader
from indexer.api.routers.listing import add_listing
from storage.normalize import BIGINT_MAX

ValsetNoncePath = Annotated[int, Path(ge=0, le=BIGINT_MAX, description="The validator set's nonce.")]


def register(v1: APIRouter, read: Reader) -> None:
    """Adds the ``valsets`` routes to ``v1`` (which adds the shared error responses)."""
    add_listing(v1, read, listings.VALSETS)

    @v1.get(
        "/valsets/{valset_nonce}",
        response_model=schemas.ValsetDetail,
        responses=NOT_FOUND,
        tags=["valsets"],
    )
    def get_valset(valset_nonce: ValsetNoncePath) -> schemas.ValsetDetail:
        """A validator set: its members, and its installation on each client chain."""
        found = read(lambda conn: queries.valset_detail(conn, valset_nonce))
        if found is None:
            raise ApiError(
                404, "not_found", f"valset {valset_nonce} not found", {"valset_nonce": valset_nonce}
            )
        return found
