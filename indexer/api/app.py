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
from enum import StrEnum
from typing import Annotated, Any, Final, TypeVar

from fastapi import APIRouter, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from indexer.api import queries, schemas
from indexer.api.explorer import mount_explorer
from indexer.api.hot import HotReader, HotRoutes
from indexer.api.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, CursorError, Order
from indexer.api.queries import ListParams
from relayer.config import DEFAULT_READY_MAX_AGE_S, DEFAULT_READY_MAX_LAG_BLOCKS, ApiConfig
from relayer.errors import ConfigError
from relayer.protocol.kinds import PacketKind, TxPurpose
from storage.db import create_db_engine, is_sqlite, read_only_engine
from storage.jobs import parked_payouts
from storage.lifecycle import ClaimState, L1TxState, PacketState, PayoutState, SlashState
from storage.normalize import BIGINT_MAX
from storage.store import open_poisoned_blocks, utc_now

T = TypeVar("T")

READY_MAX_LAG_BLOCKS: Final = DEFAULT_READY_MAX_LAG_BLOCKS
"""A stream more than this many blocks behind the head it last saw is not caught up (one Exocore
block is ~3 s; a few blocks of slack absorb one slow poll). Config: ``api.ready_max_lag_blocks``."""

READY_MAX_AGE_S: Final = DEFAULT_READY_MAX_AGE_S
"""A stream whose cursor was not written for this long is stalled (the ingester polls every few
seconds; two minutes also covers a read replica's usual replication delay). Config:
``api.ready_max_age_s``."""

API_VERSION: Final = "1"

API_POOL: Final[dict[str, Any]] = {"pool_size": 20, "max_overflow": 20}
"""Database connections of the API: FastAPI runs handlers on a 40-thread pool; with fewer
connections than busy threads, requests queue for a connection instead of for the database."""

_HASH = schemas.HASH_PATTERN
_ADDRESS = schemas.ADDRESS_PATTERN


class ApiError(Exception):
    """An error answer with a stable code."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}


def error_response(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> JSONResponse:
    body = schemas.ErrorBody(error=schemas.ErrorDetail(code=code, message=message, details=details or {}))
    return JSONResponse(status_code=status, content=body.model_dump(mode="json"))


ERROR_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    400: {"model": schemas.ErrorBody, "description": "Bad cursor or inconsistent parameters."},
    422: {"model": schemas.ErrorBody, "description": "A parameter failed validation."},
    503: {"model": schemas.ErrorBody, "description": "The database is unavailable."},
}
NOT_FOUND: Final[dict[int | str, dict[str, Any]]] = {
    404: {"model": schemas.ErrorBody, "description": "No such object."}
}


@dataclass(frozen=True)
class ReadinessPolicy:
    max_lag_blocks: int = READY_MAX_LAG_BLOCKS
    max_age_s: float = READY_MAX_AGE_S
    required_streams: tuple[str, ...] = ()
    """Streams that must exist (empty: every recorded stream, and at least one)."""

    @classmethod
    def from_config(cls, api: ApiConfig) -> ReadinessPolicy:
        """The thresholds of the ``[api]`` config section."""
        return cls(max_lag_blocks=api.ready_max_lag_blocks, max_age_s=api.ready_max_age_s)


# ---------------------------------------------------------------------------------------- parameters

ClaimStatus = StrEnum("ClaimStatus", {s.name: s.value for s in ClaimState})  # type: ignore[misc]
SlashStatus = StrEnum("SlashStatus", {s.name: s.value for s in SlashState})  # type: ignore[misc]
PayoutStatus = StrEnum("PayoutStatus", {s.name: s.value for s in PayoutState})  # type: ignore[misc]
PacketStatus = StrEnum("PacketStatus", {s.name: s.value for s in PacketState})  # type: ignore[misc]
TxStatus = StrEnum("TxStatus", {s.name: s.value for s in L1TxState})  # type: ignore[misc]


PacketKindName = StrEnum("PacketKindName", {k.name: k.label for k in PacketKind})  # type: ignore[misc]


Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size.")]
CursorQ = Annotated[
    str | None,
    Query(max_length=200, pattern=r"^[A-Za-z0-9_-]+$", description="`next_cursor` of the previous page."),
]
OrderQ = Annotated[Order, Query(description="By id: newest first (`desc`, default) or oldest first.")]
_TIME_QUERY: Final[dict[str, Any]] = {
    "pattern": schemas.TIMESTAMP_PATTERN,
    "json_schema_extra": {"format": "date-time", "examples": [schemas.TIME_EXAMPLE]},
}
Since = Annotated[str | None, Query(description="Created at or after (RFC 3339 date-time).", **_TIME_QUERY)]
Until = Annotated[str | None, Query(description="Created before (RFC 3339 date-time).", **_TIME_QUERY)]
AvsQ = Annotated[str | None, Query(pattern=_ADDRESS, description="AVS address.")]
TokenQ = Annotated[str | None, Query(pattern=_ADDRESS, description="L1 token address.")]
StakerQ = Annotated[str | None, Query(pattern=_ADDRESS, description="Staker's L1 address.")]
EpochQ = Annotated[int | None, Query(ge=0, le=BIGINT_MAX, description="AVS epoch.")]
OperatorQ = Annotated[
    str | None,
    Query(
        max_length=100,
        pattern=schemas.OPERATOR_PATTERN,
        description="Operator (bech32 account or 0x address).",
    ),
]
HashQ = Annotated[str | None, Query(pattern=_HASH)]
ClaimIdPath = Annotated[str, Path(pattern=_HASH, description="32-byte claim id, 0x hex.")]
DistributionIdPath = Annotated[str, Path(pattern=_HASH, description="32-byte distribution id, 0x hex.")]
SlashIdPath = Annotated[str, Path(pattern=_HASH, description="32-byte slash id, 0x hex.")]
AvsPath = Annotated[str, Path(pattern=_ADDRESS, description="AVS address.")]


def _lower(value: str | None) -> str | None:
    return None if value is None else value.lower()


def _utc(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return schemas.parse_timestamp(value)
    except ValueError as exc:
        raise ApiError(
            422, "validation_error", f"{name} is not an RFC 3339 date-time: {exc}", {"parameter": name}
        ) from exc


def _list_params(
    limit: int, cursor: str | None, order: Order, since: str | None, until: str | None
) -> ListParams:
    return ListParams(
        limit=limit, cursor=cursor, order=order, since=_utc(since, "since"), until=_utc(until, "until")
    )


def _value(status: StrEnum | None) -> str | None:
    return None if status is None else status.value


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

    @v1.get("/claims", response_model=schemas.Page[schemas.ClaimOut], tags=["claims"])
    def list_claims(
        *,
        avs: AvsQ = None,
        epoch: EpochQ = None,
        token: TokenQ = None,
        status: Annotated[ClaimStatus | None, Query()] = None,
        operator: OperatorQ = None,
        staker: StakerQ = None,
        since: Since = None,
        until: Until = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: CursorQ = None,
        order: OrderQ = Order.DESC,
    ) -> schemas.Page[schemas.ClaimOut]:
        """Reward claims, newest first. `operator` = a signer; `staker` = paid by the claim's distribution."""
        params = _list_params(limit, cursor, order, since, until)
        items, next_cursor = read(
            lambda conn: queries.list_claims(
                conn,
                params,
                avs=_lower(avs),
                epoch=epoch,
                token=_lower(token),
                status=_value(status),
                operator=_lower(operator),
                staker=_lower(staker),
            )
        )
        return schemas.Page(items=items, next_cursor=next_cursor)

    @v1.get("/claims/{claim_id}", response_model=schemas.ClaimDetail, responses=NOT_FOUND, tags=["claims"])
    def get_claim(claim_id: ClaimIdPath) -> schemas.ClaimDetail:
        """One claim with signers, distribution, packet, payout counts and its full timeline."""
        found = read(lambda conn: queries.claim_detail(conn, claim_id.lower()))
        if found is None:
            raise ApiError(404, "not_found", f"claim {claim_id} not found", {"claim_id": claim_id.lower()})
        return found

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
            return queries.list_leaves(conn, did, params, staker=_lower(staker), status=_value(status))

        items, next_cursor = read(run)
        return schemas.Page(items=items, next_cursor=next_cursor)

    @v1.get("/payouts", response_model=schemas.Page[schemas.PayoutOut], tags=["payouts"])
    def list_payouts(
        *,
        staker: StakerQ = None,
        token: TokenQ = None,
        status: Annotated[PayoutStatus | None, Query()] = None,
        avs: AvsQ = None,
        epoch: EpochQ = None,
        distribution_id: Annotated[str | None, Query(pattern=_HASH)] = None,
        tx_hash: Annotated[str | None, Query(pattern=_HASH, description="L1 transaction that paid.")] = None,
        operator: OperatorQ = None,
        since: Since = None,
        until: Until = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: CursorQ = None,
        order: OrderQ = Order.DESC,
    ) -> schemas.Page[schemas.PayoutOut]:
        """Payouts (one per leaf) with the L1 transaction that paid each; `?staker=` is a staker's view."""
        params = _list_params(limit, cursor, order, since, until)
        items, next_cursor = read(
            lambda conn: queries.list_payouts(
                conn,
                params,
                staker=_lower(staker),
                token=_lower(token),
                status=_value(status),
                avs=_lower(avs),
                epoch=epoch,
                distribution_id=_lower(distribution_id),
                tx_hash=_lower(tx_hash),
                operator=operator,
            )
        )
        return schemas.Page(items=items, next_cursor=next_cursor)

    @v1.get("/slashes", response_model=schemas.Page[schemas.SlashOut], tags=["slashes"])
    def list_slashes(
        *,
        avs: AvsQ = None,
        operator: OperatorQ = None,
        status: Annotated[SlashStatus | None, Query()] = None,
        token: TokenQ = None,
        since: Since = None,
        until: Until = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: CursorQ = None,
        order: OrderQ = Order.DESC,
    ) -> schemas.Page[schemas.SlashOut]:
        """Slashes with evidence kind, signers, per-token amounts and freeze."""
        params = _list_params(limit, cursor, order, since, until)
        items, next_cursor = read(
            lambda conn: queries.list_slashes(
                conn,
                params,
                avs=_lower(avs),
                operator=_lower(operator),
                status=_value(status),
                token=_lower(token),
            )
        )
        return schemas.Page(items=items, next_cursor=next_cursor)

    @v1.get("/slashes/{slash_id}", response_model=schemas.SlashDetail, responses=NOT_FOUND, tags=["slashes"])
    def get_slash(slash_id: SlashIdPath) -> schemas.SlashDetail:
        """One slash with its timeline (and its packet's and L1 transaction's)."""
        found = read(lambda conn: queries.slash_detail(conn, slash_id.lower()))
        if found is None:
            raise ApiError(404, "not_found", f"slash {slash_id} not found", {"slash_id": slash_id.lower()})
        return found

    @v1.get("/packets", response_model=schemas.Page[schemas.PacketOut], tags=["packets"])
    def list_packets(
        *,
        kind: Annotated[PacketKindName | None, Query()] = None,
        status: Annotated[PacketStatus | None, Query()] = None,
        avs: AvsQ = None,
        subject_id: Annotated[str | None, Query(pattern=_HASH, description="Claim or slash id.")] = None,
        since: Since = None,
        until: Until = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: CursorQ = None,
        order: OrderQ = Order.DESC,
    ) -> schemas.Page[schemas.PacketOut]:
        """Relay packets and how far each got."""
        params = _list_params(limit, cursor, order, since, until)
        items, next_cursor = read(
            lambda conn: queries.list_packets(
                conn,
                params,
                kind=_value(kind),
                status=_value(status),
                avs=_lower(avs),
                subject_id=_lower(subject_id),
            )
        )
        return schemas.Page(items=items, next_cursor=next_cursor)

    @v1.get("/committees/{avs}", response_model=schemas.Page[schemas.CommitteeOut], tags=["committees"])
    def list_committees(
        *,
        avs: AvsPath,
        epoch: EpochQ = None,
        operator: OperatorQ = None,
        since: Annotated[
            str | None, Query(description="Elected at or after (RFC 3339).", **_TIME_QUERY)
        ] = None,
        until: Annotated[str | None, Query(description="Elected before (RFC 3339).", **_TIME_QUERY)] = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: CursorQ = None,
        order: Annotated[Order, Query(description="By epoch (default newest first).")] = Order.DESC,
    ) -> schemas.Page[schemas.CommitteeOut]:
        """An AVS's committees per epoch, with members, power and BLS keys."""
        params = _list_params(limit, cursor, order, since, until)
        items, next_cursor = read(
            lambda conn: queries.list_committees(
                conn, avs.lower(), params, epoch=epoch, operator=_lower(operator)
            )
        )
        return schemas.Page(items=items, next_cursor=next_cursor)

    @v1.get("/l1/txs", response_model=schemas.Page[schemas.L1TxOut], tags=["l1"])
    def list_l1_txs(
        *,
        status: Annotated[TxStatus | None, Query()] = None,
        purpose: Annotated[TxPurpose | None, Query()] = None,
        sender: Annotated[str | None, Query(pattern=_ADDRESS)] = None,
        distribution_id: Annotated[str | None, Query(pattern=_HASH)] = None,
        since: Since = None,
        until: Until = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: CursorQ = None,
        order: OrderQ = Order.DESC,
    ) -> schemas.Page[schemas.L1TxOut]:
        """L1 transactions, every replacement included (`replaces_tx_hash`)."""
        params = _list_params(limit, cursor, order, since, until)
        items, next_cursor = read(
            lambda conn: queries.list_l1_txs(
                conn,
                params,
                status=_value(status),
                purpose=_value(purpose),
                sender=_lower(sender),
                distribution_id=_lower(distribution_id),
            )
        )
        return schemas.Page(items=items, next_cursor=next_cursor)

    @v1.get("/stats", response_model=schemas.StatsOut, tags=["stats"])
    def get_stats() -> schemas.StatsOut:
        """Counts by state, backlog, oldest pending age, totals paid per token, stream positions."""
        return read(lambda conn: queries.stats(conn, clock()))

    app.include_router(v1)

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
        streams = read(queries.streams)
        attention = read(_attention)
        problems = readiness_problems(streams, policy, clock())
        if problems:
            raise ApiError(
                503,
                "not_ready",
                "ingestion is not caught up",
                {
                    "problems": problems,
                    "attention": attention,
                    "streams": [s.model_dump(mode="json") for s in streams],
                },
            )
        return schemas.ReadyOut(status="ready", streams=streams, attention=attention)

    @app.get(
        "/metrics",
        tags=["ops"],
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
    )
    def metrics() -> Response:
        """Prometheus metrics (request counts/latency, stream positions, halts, violations)."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

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
"""Set by ``exorelay api`` from ``api.ready_max_lag_blocks`` / ``api.ready_max_age_s`` for the workers.
(Single underscores: they are hand-over variables, not ``EXORELAY_<SECTION>__<KEY>`` config overrides.)"""


def readiness_environment(policy: ReadinessPolicy) -> dict[str, str]:
    """The variables that hand ``policy`` to :func:`app_from_environment` in each worker."""
    return {
        API_READY_MAX_LAG_BLOCKS_ENV: str(policy.max_lag_blocks),
        API_READY_MAX_AGE_S_ENV: repr(policy.max_age_s),
    }


def readiness_from_environment(environ: Mapping[str, str] | None = None) -> ReadinessPolicy:
    """The policy :func:`readiness_environment` handed over (defaults for a variable not set)."""
    env = os.environ if environ is None else environ
    try:
        lag = int(env.get(API_READY_MAX_LAG_BLOCKS_ENV, READY_MAX_LAG_BLOCKS))
        age = float(env.get(API_READY_MAX_AGE_S_ENV, READY_MAX_AGE_S))
    except ValueError as exc:
        raise ConfigError(f"readiness thresholds from the environment: {exc}") from exc
    if lag < 0 or not age > 0:
        raise ConfigError(f"readiness thresholds out of range: max lag {lag} blocks, max age {age} s")
    return ReadinessPolicy(max_lag_blocks=lag, max_age_s=age)


def app_from_environment() -> FastAPI:
    """The app over the database ``exorelay api`` chose (uvicorn factory; one per worker)."""
    url = os.environ.get(API_DATABASE_URL_ENV)
    if not url:
        raise RuntimeError(f"{API_DATABASE_URL_ENV} is not set (start the API with `exorelay api`)")
    return create_app(url, readiness=readiness_from_environment())


def _attention(conn: Connection) -> list[str]:
    """Parked payout jobs, said in one line each (not a readiness problem: the API serves fine)."""
    return [f"payout {p.item} parked: {p.retry_reason}: {p.retry_detail}" for p in parked_payouts(conn)]


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
