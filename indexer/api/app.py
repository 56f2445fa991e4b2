"""The read-only query API (``exorelay api``): FastAPI over the lifecycle database.

Read-only end to end: the app opens its own read-only engine (every transaction is
``READ ONLY`` on PostgreSQL, ``PRAGMA query_only`` on SQLite), so it runs against a read replica and
cannot write even through a bug. Listings are cursor-paginated with a stable order; every error
has the body ``{"error": {"code", "message", "details"}}``.
"""

from __future__ import annotations

import os
import time
from collections import Counter as Tally
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, TypeVar

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from indexer.api import queries, schemas
from indexer.api.explorer import mount_explorer
from indexer.api.hot import HotReader, HotRoutes
from indexer.api.pagination import CursorError
from indexer.api.params import ERROR_RESPONSES, ApiError, Reader, error_response
from indexer.api.routers import (
    avs,
    claims,
    collections,
    committees,
    distributions,
    l1,
    ops,
    packets,
    payouts,
    slashes,
    stats,
    valsets,
    withdrawals,
)
from relayer.config import (
    DEFAULT_READY_MAX_AGE_S,
    DEFAULT_READY_MAX_LAG_BLOCKS,
    DEFAULT_READY_MAX_REPLICA_LAG_S,
    ApiConfig,
)
from relayer.errors import ConfigError
from storage.db import create_db_engine, is_sqlite, read_only_engine
from storage.jobs import packets_for_other_chains, parked_payouts
from storage.store import open_poisoned_blocks, utc_now

T = TypeVar("T")

READY_MAX_LAG_BLOCKS: Final = DEFAULT_READY_MAX_LAG_BLOCKS
"""A stream more than this many blocks behind the head it last saw is not caught up (one Exocore
block is ~3 s; a few blocks of slack absorb one slow poll). Config: ``api.ready_max_lag_blocks``."""

READY_MAX_AGE_S: Final = DEFAULT_READY_MAX_AGE_S
"""A stream whose cursor was not written for this long is stalled (the ingester polls every few
seconds; two minutes also covers a read replica's usual replication delay). Config:
``api.ready_max_age_s``."""

READY_MAX_REPLICA_LAG_S: Final = DEFAULT_READY_MAX_REPLICA_LAG_S
"""Served from a PostgreSQL streaming replica, /ready fails while the replica replays its primary's
commits later than this (seconds), or while it does not stream from the primary at all: its answers
would be that stale. Config: ``api.ready_max_replica_lag_s``."""

API_VERSION: Final = "1"

API_POOL: Final[dict[str, Any]] = {"pool_size": 20, "max_overflow": 20}
"""Database connections of the API: FastAPI runs handlers on a 40-thread pool; with fewer
connections than busy threads, requests queue for a connection instead of for the database."""


@dataclass(frozen=True)
class ReadinessPolicy:
    max_lag_blocks: int = READY_MAX_LAG_BLOCKS
    max_age_s: float = READY_MAX_AGE_S
    required_streams: tuple[str, ...] = ()
    """Streams that must exist (empty: every recorded stream, and at least one)."""
    max_replica_lag_s: float = READY_MAX_REPLICA_LAG_S

    @classmethod
    def from_config(cls, api: ApiConfig) -> ReadinessPolicy:
        """The thresholds of the ``[api]`` config section."""
        return cls(
            max_lag_blocks=api.ready_max_lag_blocks,
            max_age_s=api.ready_max_age_s,
            max_replica_lag_s=api.ready_max_replica_lag_s,
        )


# ---------------------------------------------------------------------------------------- metrics


class _StreamCollector(Collector):
    """Stream gauges read from the database at scrape time (the API process ingests nothing)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        height = GaugeMetricFamily(
            "exorelay_indexer_stream_height", "Last ingested block.", labels=["stream"]
        )
        lag = GaugeMetricFamily(
            "exorelay_indexer_stream_lag_blocks", "Head minus last ingested.", labels=["stream"]
        )
        halted = GaugeMetricFamily(
            "exorelay_indexer_stream_halted", "1 if the stream is halted.", labels=["stream"]
        )
        violations = GaugeMetricFamily(
            "exorelay_indexer_invariant_violations", "Invariant violations recorded in the database."
        )
        poisoned = GaugeMetricFamily(
            "exorelay_indexer_poisoned_blocks",
            "Blocks a stream halts at because they cannot be stored (until skipped or stored).",
            labels=["stream"],
        )
        up = GaugeMetricFamily("exorelay_api_database_up", "1 if the database answered the scrape.")
        try:
            with self.engine.connect() as conn:
                for s in queries.streams(conn):
                    height.add_metric([s.stream], s.height)
                    lag.add_metric([s.stream], s.lag_blocks or 0)
                    halted.add_metric([s.stream], 1 if s.halted else 0)
                violations.add_metric([], queries.violation_count(conn))
                for stream, count in Tally(b.stream for b in open_poisoned_blocks(conn)).items():
                    poisoned.add_metric([stream], count)
            up.add_metric([], 1)
        except DBAPIError:
            up.add_metric([], 0)
        yield from (height, lag, halted, violations, poisoned, up)


class _MetricsMiddleware:
    """Pure ASGI middleware (no per-request task, unlike BaseHTTPMiddleware): counts and times."""

    def __init__(self, app: ASGIApp, requests: Counter, latency: Histogram) -> None:
        self.app = app
        self.requests = requests
        self.latency = latency
        # Labelled children by (route, method, status): `labels()` costs a lock and a key build per
        # call, a measurable share of a hot request. As many entries as the metric has series.
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            key = (path, scope["method"], status)
            children = self._children.get(key)
            if children is None:
                children = (
                    self.requests.labels(route=path, method=key[1], status=str(status)),
                    self.latency.labels(route=path),
                )
                self._children[key] = children
            children[0].inc()
            children[1].observe(time.perf_counter() - started)


# ---------------------------------------------------------------------------------------- app


def _request_metrics(registry: CollectorRegistry) -> tuple[Counter, Histogram, Counter]:
    """The API's request counter, its latency histogram and the hot reads' outcome counter."""
    requests = Counter(
        "exorelay_api_requests_total", "API requests.", ["route", "method", "status"], registry=registry
    )
    latency = Histogram(
        "exorelay_api_request_seconds",
        "API request latency.",
        ["route"],
        registry=registry,
        buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
    )
    hot_reads = Counter(
        "exorelay_api_hot_reads_total",
        "Hot requests (a staker's payouts, a claim's detail): served by the lean path, or handed to the"
        " route (not found, bad cursor, database error).",
        ["route", "outcome"],
        registry=registry,
    )
    return requests, latency, hot_reads


def create_app(
    database: Engine | str,
    *,
    readiness: ReadinessPolicy | None = None,
    clock: Callable[[], datetime] = utc_now,
    registry: CollectorRegistry | None = None,
) -> FastAPI:
    """The API over ``database`` (an engine, whose database is then opened read-only, or a URL)."""
    if isinstance(database, str):
        pool = {} if is_sqlite(database) else API_POOL
        engine = create_db_engine(database, read_only=True, **pool)
    else:
        engine = read_only_engine(database)
    policy = readiness or ReadinessPolicy()
    registry = registry if registry is not None else CollectorRegistry()
    requests, latency, hot_reads = _request_metrics(registry)
    registry.register(_StreamCollector(engine))

    hot_reader = HotReader(engine)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            hot_reader.close()  # the hot path's own connection is not the pool's to close

    app = FastAPI(
        lifespan=lifespan,
        title="exorelay indexer API",
        version=API_VERSION,
        description=(
            "Read-only view of the claim-to-payout lifecycle: reward claims, distributions and their "
            "leaves, payouts, relay packets, slashes, committees and L1 transactions, each with its "
            "transition history. Listings are cursor-paginated (`limit`, `cursor`, `order`) in a stable "
            'order; amounts are decimal strings; errors are `{"error": {"code", "message", "details"}}`.'
        ),
    )
    app.state.engine = engine
    _install_error_handlers(app)

    def read(fn: Callable[[Connection], T]) -> T:
        with engine.connect() as conn:
            return fn(conn)

    v1 = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)
    # Registration order is the order of /openapi.json's paths.
    claims.register(v1, read)
    distributions.register(v1, read)
    payouts.register(v1, read)
    withdrawals.register(v1, read)
    slashes.register(v1, read)
    packets.register(v1, read)
    valsets.register(v1, read)
    committees.register(v1, read)
    avs.register(v1, read)
    collections.register(v1, read)
    l1.register(v1, read)
    stats.register(v1, read, clock)

    app.include_router(v1)

    ops.register(app, check_ready=lambda: _check_ready(read, policy, clock()), registry=registry)

    # The lifecycle explorer (HTML pages at /, assets at /static; not part of the OpenAPI spec).
    mount_explorer(app, engine, clock)
    # The hot reads in front of their routes, the metrics in front of everything (the last
    # middleware added is the outermost).
    routes = {route.path: route for route in v1.routes if isinstance(route, APIRoute)}
    app.state.hot_reader = hot_reader
    app.add_middleware(HotRoutes, reader=hot_reader, routes=routes, outcomes=hot_reads)
    app.add_middleware(_MetricsMiddleware, requests=requests, latency=latency)
    return app


API_DATABASE_URL_ENV: Final = "EXORELAY_API_DATABASE_URL"
"""Set by ``exorelay api`` for :func:`app_from_environment` (uvicorn workers build their own app)."""
API_READY_MAX_LAG_BLOCKS_ENV: Final = "EXORELAY_API_READY_MAX_LAG_BLOCKS"
API_READY_MAX_AGE_S_ENV: Final = "EXORELAY_API_READY_MAX_AGE_S"
API_READY_MAX_REPLICA_LAG_S_ENV: Final = "EXORELAY_API_READY_MAX_REPLICA_LAG_S"
"""Set by ``exorelay api`` from ``api.ready_max_lag_blocks`` / ``api.ready_max_age_s`` for the workers.
(Single underscores: they are hand-over variables, not ``EXORELAY_<SECTION>__<KEY>`` config overrides.)"""


def readiness_environment(policy: ReadinessPolicy) -> dict[str, str]:
    """The variables that hand ``policy`` to :func:`app_from_environment` in each worker."""
    return {
        API_READY_MAX_LAG_BLOCKS_ENV: str(policy.max_lag_blocks),
        API_READY_MAX_AGE_S_ENV: repr(policy.max_age_s),
        API_READY_MAX_REPLICA_LAG_S_ENV: repr(policy.max_replica_lag_s),
    }


def readiness_from_environment(environ: Mapping[str, str] | None = None) -> ReadinessPolicy:
    """The policy :func:`readiness_environment` handed over (defaults for a variable not set)."""
    env = os.environ if environ is None else environ
    try:
        lag = int(env.get(API_READY_MAX_LAG_BLOCKS_ENV, READY_MAX_LAG_BLOCKS))
        age = float(env.get(API_READY_MAX_AGE_S_ENV, READY_MAX_AGE_S))
        replica_lag = float(env.get(API_READY_MAX_REPLICA_LAG_S_ENV, READY_MAX_REPLICA_LAG_S))
    except ValueError as exc:
        raise ConfigError(f"readiness thresholds from the environment: {exc}") from exc
    if lag < 0 or not age > 0 or not replica_lag >= 0:
        raise ConfigError(
            f"readiness thresholds out of range: max lag {lag} blocks, max age {age} s, "
            f"max replica lag {replica_lag} s"
        )
    return ReadinessPolicy(max_lag_blocks=lag, max_age_s=age, max_replica_lag_s=replica_lag)


def app_from_environment() -> FastAPI:
    """The app over the database ``exorelay api`` chose (uvicorn factory; one per worker)."""
    url = os.environ.get(API_DATABASE_URL_ENV)
    if not url:
        raise RuntimeError(f"{API_DATABASE_URL_ENV} is not set (start the API with `exorelay api`)")
    return create_app(url, readiness=readiness_from_environment())


def _attention(conn: Connection) -> list[str]:
    """Parked payout jobs and packets set aside for a client chain nobody here serves, said in one line
    each (not a readiness problem: the API serves fine)."""
    parked = [f"payout {p.item} parked: {p.retry_reason}: {p.retry_detail}" for p in parked_payouts(conn)]
    aside = [
        f"{p.item} set aside: {p.retry_reason}: {p.retry_detail}" for p in packets_for_other_chains(conn)
    ]
    return parked + aside


def _check_ready(read: Reader, policy: ReadinessPolicy, now: datetime) -> schemas.ReadyOut:
    """``/ready``'s answer, or a 503 ``not_ready`` listing what is behind."""
    streams = read(queries.streams)
    attention = read(_attention)
    replica = read(queries.replica_status)
    problems = readiness_problems(streams, policy, now) + replica_problems(replica, policy)
    if problems:
        raise ApiError(
            503,
            "not_ready",
            "ingestion is not caught up",
            {
                "problems": problems,
                "attention": attention,
                "streams": [s.model_dump(mode="json") for s in streams],
                "replica": None if replica is None else replica.model_dump(mode="json"),
            },
        )
    return schemas.ReadyOut(status="ready", streams=streams, attention=attention, replica=replica)


def replica_problems(replica: schemas.ReplicaStatus | None, policy: ReadinessPolicy) -> list[str]:
    """Why answers from a streaming replica would be too stale (none when not on a replica)."""
    if replica is None:
        return []
    if not replica.streaming:
        return [
            f"the database is a replica not streaming from its primary "
            f"(WAL receiver: {replica.wal_receiver_status or 'none'})"
        ]
    if replica.lag_s > policy.max_replica_lag_s:
        return [
            f"the replica replays {replica.lag_s:.3f} s behind its primary "
            f"({replica.replay_behind_bytes} bytes of WAL; max {policy.max_replica_lag_s} s)"
        ]
    return []


def readiness_problems(
    streams: Sequence[schemas.StreamStatus], policy: ReadinessPolicy, now: datetime
) -> list[str]:
    problems: list[str] = []
    names = {s.stream for s in streams}
    if not streams:
        problems.append("no ingestion stream has started")
    problems.extend(f"stream {name} has not started" for name in policy.required_streams if name not in names)
    for s in streams:
        if s.halted:
            problems.append(f"stream {s.stream} is halted: {s.halt_reason}")
        if s.lag_blocks is None or s.lag_blocks > policy.max_lag_blocks:
            problems.append(f"stream {s.stream} is {s.lag_blocks} blocks behind the head")
        age = (now - s.updated_at).total_seconds()
        if age > policy.max_age_s:
            problems.append(f"stream {s.stream} last advanced {age:.0f} s ago")
    return problems


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.details)

    @app.exception_handler(CursorError)
    async def bad_cursor(_request: Request, exc: CursorError) -> JSONResponse:
        return error_response(400, "bad_cursor", str(exc), {"parameter": "cursor"})

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "location": [str(part) for part in err.get("loc", ())],
                "message": str(err.get("msg", "")),
                "type": str(err.get("type", "")),
            }
            for err in exc.errors()
        ]
        return error_response(422, "validation_error", "request parameters are invalid", {"errors": errors})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 406: "not_acceptable"}
        response = error_response(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail))
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    @app.exception_handler(OperationalError)
    async def database_down(_request: Request, exc: OperationalError) -> JSONResponse:
        return error_response(
            503, "database_unavailable", "the database is unavailable", {"reason": type(exc.orig).__name__}
        )

    @app.exception_handler(Exception)
    async def internal(_request: Request, exc: Exception) -> JSONResponse:
        return error_response(500, "internal_error", "internal error", {"type": type(exc).__name__})
