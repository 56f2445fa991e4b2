"""Counts, backlog and totals.

The handlers validate and convert parameters and call :mod:`indexer.api.queries`, the read side's
one query layer (the explorer calls the same functions); ``read`` runs them on the read-only engine.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import APIRouter

from indexer.api import queries, schemas
from indexer.api.params import Reader


def register(v1: APIRouter, read: Reader, clock: Callable[[], datetime]) -> None:
    """Adds the ``stats`` routes to ``v1`` (which adds the shared error responses)."""

    @v1.get("/stats", response_model=schemas.StatsOut, tags=["stats"])
    def get_stats() -> schemas.StatsOut:
        """Counts by state, backlog, oldest pending age, totals paid per token, stream positions."""
        return read(lambda conn: queries.stats(conn, clock()))
