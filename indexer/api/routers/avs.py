"""An AVS's funding: what it paid into rewards and what reached stakers, per token.

The handlers validate and convert parameters and call :mod:`indexer.api.queries`, the read side's
one query layer (the explorer calls the same functions); ``read`` runs them on the read-only engine.
"""

from __future__ import annotations

from fastapi import APIRouter

from indexer.api import queries, schemas
from indexer.api.params import NOT_FOUND, ApiError, AvsPath, ChainIdQ, Reader


def register(v1: APIRouter, read: Reader) -> None:
    """Adds the ``avs`` routes to ``v1`` (which adds the shared error responses)."""

    @v1.get("/avs/{avs}/funding", response_model=schemas.AvsFundingOut, responses=NOT_FOUND, tags=["avs"])
    def avs_funding(avs: AvsPath, chain_id: ChainIdQ = None) -> schemas.AvsFundingOut:
        """Per token: distributed and paid (final) / pending per distribution; funded in the latest
        cumulative root and the token's cumulative pool (every AVS's funding, what the vault paid).
        Each client chain has its own roots: summed over chains, or ``chain_id``'s only."""
        found = read(lambda conn: queries.avs_funding(conn, avs.lower(), chain_id))
        if found is None:
            raise ApiError(404, "not_found", f"AVS {avs} not found", {"avs": avs.lower()})
        return found
