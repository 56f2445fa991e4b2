"""The aggregator's HTTP API (FastAPI): the contract ``exorelay operator`` posts to.

Errors have the query API's shape ``{"error": {"code", "message", "details"}}``. Handlers are plain
functions (FastAPI runs them on its thread pool), so concurrent posts over one request meet in the
aggregator's per-request batch and are verified together. Signature posts run on their own, larger
pool (:data:`POST_THREADS`): a post waits for its batch's commit, so the pool bounds the batch.

Invariants: a body larger than ``max_body_bytes`` is refused with 413 before it is read into memory
(Content-Length, and a running count for chunked bodies); any exception a handler raises becomes a
JSON error answer (500 ``internal`` for bugs), never a dropped connection.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Annotated, Any, Final

import anyio
import anyio.to_thread
from fastapi import FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from pydantic import BaseModel, ConfigDict
from sqlalchemy import text
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from avs.aggregator.errors import (
    AggregatorRefusalError,
    AggregatorUnavailableError,
    BodyTooLargeError,
    MalformedRequestError,
)
from avs.aggregator.service import DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT, Aggregator
from storage.aggregation import RequestState

_log = logging.getLogger(__name__)

API_VERSION: Final = "1"
POST_THREADS: Final = 200
"""Signature posts decided at once (threads, each mostly waiting for its batch's commit). Every post
that waits joins the next batch, and each batch costs one durable commit (an fsync, ~6-13 ms on a
busy two-core host): with FastAPI's default 40 threads a batch never exceeded 40 posts and ingest
stalled near 1,500 posts/s whatever the verification cost; with 200 it passes 2,000
(bench/aggregator.py). Idle threads cost a few hundred KiB each."""


class OpenBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    request: str
    evidence: str | None = None


class SignatureBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    request: str
    operator: str
    signature: str


def error_response(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return JSONResponse(status_code=status, content=body)


class BodyLimit:
    """Pure ASGI middleware: 413 for bodies above ``limit`` bytes, without buffering them."""

    def __init__(self, app: ASGIApp, limit: int, on_refusal: Callable[[], None]) -> None:
        self.app = app
        self.limit = limit
        self.on_refusal = on_refusal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = self.limit + 1
                if declared > self.limit:
                    await self._refuse(scope, receive, send)
                    return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.on_refusal()
        refusal = BodyTooLargeError(f"request body larger than {self.limit} bytes")
        response = error_response(refusal.status, refusal.code, refusal.message, {"limit": self.limit})
        await response(scope, receive, send)


class _TooLarge(Exception):  # noqa: N818 - control flow inside BodyLimit, never escapes it
    pass


def create_app(aggregator: Aggregator, *, max_body_bytes: int) -> FastAPI:
    app = FastAPI(
        title="exorelay aggregator",
        version=API_VERSION,
        description="Collects AVS committee members' BLS signatures over reward claims and slash requests.",
    )

    @app.exception_handler(AggregatorRefusalError)
    async def _refusal(_request: Request, exc: AggregatorRefusalError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.details)

    @app.exception_handler(AggregatorUnavailableError)
    async def _unavailable(_request: Request, exc: AggregatorUnavailableError) -> JSONResponse:
        return error_response(exc.status, exc.code, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        aggregator.metrics.refusals.labels(code=MalformedRequestError.code).inc()
        problems = [
            {"loc": [str(part) for part in error.get("loc", ())], "msg": str(error.get("msg", ""))}
            for error in exc.errors()[:10]
        ]
        return error_response(
            400, MalformedRequestError.code, "the body is not valid JSON of this shape", {"errors": problems}
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _bug(_request: Request, exc: Exception) -> JSONResponse:
        _log.exception("aggregator: unexpected error")
        return error_response(500, "internal", f"internal error: {type(exc).__name__}")

    @app.post("/v1/requests", status_code=201)
    def open_request(
        body: OpenBody, response: Response, authorization: Annotated[str | None, Header()] = None
    ) -> dict[str, Any]:
        """Open a request (the AVS, with its bearer token)."""
        token = authorization.removeprefix("Bearer ").strip() if authorization else None
        document, created = aggregator.open_request(body.request, body.evidence, token)
        response.status_code = 201 if created else 200
        return document

    @app.get("/v1/requests")
    def list_requests(
        state: Annotated[RequestState | None, Query()] = None,
        avs: Annotated[str | None, Query(pattern=r"^0x[0-9a-fA-F]{40}$")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIST_LIMIT)] = DEFAULT_LIST_LIMIT,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
    ) -> dict[str, Any]:
        items, next_cursor = aggregator.list_documents(
            state=None if state is None else state.value,
            avs=None if avs is None else avs.lower(),
            limit=limit,
            cursor=cursor,
        )
        return {"items": items, "next_cursor": next_cursor}

    @app.get("/v1/requests/{digest}")
    def get_request(digest: str) -> dict[str, Any]:
        return aggregator.document(digest.lower())

    post_limiter: list[anyio.CapacityLimiter] = []  # made on first use: it needs the event loop

    @app.post("/v1/signatures", status_code=202)
    async def post_signature(body: SignatureBody, request: Request) -> dict[str, Any]:
        """A committee member's BLS signature over a request's digest."""
        source = request.client.host if request.client is not None else ""
        if not post_limiter:
            post_limiter.append(anyio.CapacityLimiter(POST_THREADS))
        outcome = await anyio.to_thread.run_sync(
            partial(aggregator.post_signature, body.request, body.operator, body.signature, source=source),
            limiter=post_limiter[0],
        )
        return outcome.document()

    @app.get("/v1/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready")
    def ready() -> JSONResponse:
        try:
            with aggregator.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # any database fault means not ready
            return error_response(503, "not_ready", f"database unavailable: {type(exc).__name__}")
        return JSONResponse({"status": "ready"})

    @app.get("/metrics")
    def metrics() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(aggregator.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    def count_body_refusal() -> None:
        aggregator.metrics.refusals.labels(code=BodyTooLargeError.code).inc()

    app.add_middleware(BodyLimit, limit=max_body_bytes, on_refusal=count_body_refusal)
    return app
