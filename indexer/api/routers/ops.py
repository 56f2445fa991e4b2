"""The operational routes at the root: ``/health`` (liveness, no database), ``/ready`` (every
ingestion stream caught up) and ``/metrics`` (Prometheus).

Registered on the app itself, outside ``/v1``: they carry no shared error responses.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from indexer.api import schemas


def register(
    app: FastAPI, *, check_ready: Callable[[], schemas.ReadyOut], registry: CollectorRegistry
) -> None:
    """Adds the ops routes to ``app``; ``check_ready`` answers ``/ready`` (raising a 503 ``ApiError``)."""

    @app.get("/health", response_model=schemas.HealthOut, tags=["ops"])
    def health() -> schemas.HealthOut:
        """Alive (answers without touching the database)."""
        return schemas.HealthOut(status="ok")

    @app.get(
        "/ready",
        response_model=schemas.ReadyOut,
        responses={503: {"model": schemas.ErrorBody, "description": "Not caught up (or no database)."}},
        tags=["ops"],
    )
    def ready() -> schemas.ReadyOut:
        """Ready only once every ingestion stream is caught up, recent and not halted."""
        return check_ready()

    @app.get(
        "/metrics",
        tags=["ops"],
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
    )
    def metrics() -> Response:
        """Prometheus metrics (request counts/latency, stream positions, halts, violations)."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
