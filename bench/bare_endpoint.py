"""The API floor of ``bench/indexer_ingest_api.py``: the hot statements on the same connection, only.

Run (by the benchmark, from the repository root, with the API's environment):
``.venv/bin/python -m bench.bare_endpoint --workers N``. Not a benchmark of its own.

Invariant: everything the API does per request that is not its SQL is absent here — no FastAPI,
no middleware, no parameter validation, no response documents — while everything that is the
SQL's cost is the same: the statements (:func:`indexer.api.hot.statements`), the connection
(:class:`indexer.api.hot.HotReader` on an engine built as :func:`indexer.api.app.create_app`
builds it) and the server (uvicorn configured and supervised as ``exorelay api`` does it). Kept
to the API's own imports so that its workers start as fast as the API's.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from pydantic_core import to_json
from starlette.types import Receive, Scope, Send

from indexer.api import hot
from indexer.api.app import API_POOL
from indexer.api.pagination import DEFAULT_PAGE_SIZE, Order
from indexer.cli import API_WORKER_HEALTHCHECK_TIMEOUT_S
from relayer.config import load_config
from storage.db import create_db_engine

BARE_URL_ENV = "EXORELAY_BENCH_BARE_DATABASE_URL"
"""Hands the database URL to the uvicorn workers (each builds its endpoint from the factory)."""


class BareEndpoint:
    """The API's floor: the hot statements on the same connection, nothing else.

    An ASGI callable with no framework, middleware, parameter validation or documents: the path
    picks the statement (``/v1/payouts?staker=`` -> the staker's first page, ``/v1/claims/{id}``
    -> the claim's three statements in one pipeline, as :func:`hot.fetch_claim` sends them), the
    rows go out as a JSON array. The engine is built as :func:`indexer.api.app.create_app` builds
    it and the statements run through :class:`hot.HotReader` (the API's own connection handling),
    so the difference to the API is what the API adds on top of its SQL."""

    def __init__(self, url: str) -> None:
        self.reader = hot.HotReader(create_db_engine(url, read_only=True, **API_POOL))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    self.reader.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        path: str = scope["path"]
        body: bytes | None = b"{}"
        if path == "/v1/payouts":
            staker = scope["query_string"].partition(b"=")[2].decode().lower()
            body = await self.reader.run(lambda dbapi, sql: self._payouts(dbapi, sql, staker))
        elif path.startswith("/v1/claims/"):
            claim_id = path.rpartition("/")[2].lower()
            body = await self.reader.run(lambda dbapi, sql: self._claim(dbapi, sql, claim_id))
        status = 200 if body is not None else 503
        payload = body if body is not None else b"{}"
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    @staticmethod
    def _payouts(dbapi: Any, sql: hot.Statements, staker: str) -> bytes:
        compiled = sql.payouts[(Order.DESC, False)]
        cursor = dbapi.cursor()
        try:
            cursor.execute(
                compiled.sql, compiled.parameters({"staker": staker, "limit": DEFAULT_PAGE_SIZE + 1})
            )
            return to_json(cursor.fetchall())
        finally:
            cursor.close()

    @staticmethod
    def _claim(dbapi: Any, sql: hot.Statements, claim_id: str) -> bytes:
        values = {"claim_id": claim_id}
        with dbapi.pipeline():
            cursors = [
                dbapi.execute(compiled.sql, compiled.parameters(values))
                for compiled in (sql.claim, sql.signers, sql.timeline)
            ]
        return to_json([cursor.fetchall() for cursor in cursors])


def bare_app_from_environment() -> BareEndpoint:
    """uvicorn factory of the bare endpoint (one per worker, like the API's)."""
    return BareEndpoint(os.environ[BARE_URL_ENV])


def serve(workers: int) -> None:
    """Serve :class:`BareEndpoint` exactly as ``exorelay api`` serves the API: the same config
    (host, port, log level from the same environment), uvicorn options and supervisor."""
    import uvicorn  # noqa: PLC0415 - only the server process needs it
    from uvicorn.supervisors import Multiprocess  # noqa: PLC0415

    from indexer.api.serve import ReusePortSupervisor, reuse_port_supported  # noqa: PLC0415

    settings = load_config(None)
    os.environ[BARE_URL_ENV] = settings.database.url
    server = uvicorn.Config(
        "bench.bare_endpoint:bare_app_from_environment",
        factory=True,
        host=settings.api.host,
        port=settings.api.port,
        workers=workers,
        timeout_worker_healthcheck=API_WORKER_HEALTHCHECK_TIMEOUT_S,
        log_level=settings.logging.level,
        access_log=settings.logging.level in {"debug", "info"},
    )
    if server.workers > 1 and reuse_port_supported():
        ReusePortSupervisor(server).run()
    elif server.workers > 1:
        Multiprocess(server, sockets=[server.bind_socket()]).run()
    else:
        uvicorn.Server(server).run()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1)
    serve(parser.parse_args().workers)
