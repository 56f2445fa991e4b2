"""``exorelay api`` served from a PostgreSQL streaming replica: a real primary and a real hot standby
(``pg_basebackup -R``), started by the test with the machine's PostgreSQL binaries.

The API over the replica answers what the indexer wrote on the primary, byte for byte the same as
the API over the primary; every read path exercised runs on a server that refuses any write (a hot
standby), so none of them writes. ``/ready`` reports the replica's lag: zero when it replayed all it
received, the WAL received but not replayed while replay is paused (not ready once that is later
than the configured maximum), and not ready while the replica does not stream from its primary.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any, Final

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from indexer.api import ReadinessPolicy, create_app
from indexer.ingest.exocore import ExocoreIngestor
from storage import migrate
from storage.db import create_db_engine
from storage.records import ExocoreBlock
from storage.store import LifecycleStore
from tests.e2e.private_postgres import PrivatePostgres, PrivateReplica
from tests.support.api_data import NOW, A, B, populate
from tests.support.indexer_factory import T0, ClaimPlan, h

WAIT_S: Final = 120.0
"""Bounds a wait for replication (a hang, not a speed requirement)."""

ANY_AGE: Final = ReadinessPolicy(max_age_s=10**9)
"""The fixture's cursors were written at fixed past times: only the replica's state is under test."""

READ_PATHS: Final = (
    "/v1/claims",
    f"/v1/claims/{A.claim_id}",
    f"/v1/distributions/{B.distribution_id}",
    "/v1/packets",
    "/v1/slashes",
    "/v1/payouts",
    "/v1/stats",
    "/health",
)


@pytest.fixture
def pair() -> Iterator[tuple[PrivatePostgres, PrivateReplica]]:
    with PrivatePostgres() as primary, PrivateReplica(primary) as replica:
        yield primary, replica


def wait_until(done: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not done():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {WAIT_S} s")
        time.sleep(0.05)


def lsn_reached(replica: Engine, lsn: str, function: str) -> bool:
    with replica.connect() as conn:
        return bool(conn.execute(text(f"SELECT {function}() >= CAST(:lsn AS pg_lsn)"), {"lsn": lsn}).scalar())


def replay_state(replica: Engine) -> str:
    with replica.connect() as conn:
        return str(conn.execute(text("SELECT pg_get_wal_replay_pause_state()")).scalar_one())


def primary_lsn(primary: Engine) -> str:
    """Where the primary's WAL ends, every commit included: the *insert* position (the cluster runs
    with ``synchronous_commit=off``, so a commit may not be written out, nor streamed, yet)."""
    with primary.connect() as conn:
        return str(conn.execute(text("SELECT pg_current_wal_insert_lsn()")).scalar_one())


def api(url: str, readiness: ReadinessPolicy) -> TestClient:
    """The API app over ``url`` (its own read-only engine), on the fixture's clock (stats' ages)."""
    return TestClient(create_app(url, readiness=readiness, clock=lambda: NOW))


def ready(client: TestClient) -> tuple[int, Any]:
    response = client.get("/ready")
    body = response.json()
    return response.status_code, body if response.status_code == 200 else body["error"]["details"]


def test_the_api_on_a_streaming_replica_serves_the_primarys_writes_and_ready_reports_the_lag(
    pair: tuple[PrivatePostgres, PrivateReplica],
) -> None:
    primary, replica = pair
    writer = create_db_engine(primary.url)
    standby = create_db_engine(replica.url)  # the test's own superuser handle: pauses replay
    try:
        migrate.upgrade(writer)
        populate(writer)
        wait_until(lambda: lsn_reached(standby, primary_lsn(writer), "pg_last_wal_replay_lsn"), "replayed")
        with (
            api(primary.url, ANY_AGE) as on_primary,
            api(replica.url, ANY_AGE) as on_replica,
            api(replica.url, ReadinessPolicy(max_age_s=10**9, max_replica_lag_s=0.0)) as strict,
        ):
            for path in READ_PATHS:
                served = on_replica.get(path)
                assert served.status_code == 200, (path, served.text)
                assert served.json() == on_primary.get(path).json(), path
            assert on_replica.get("/metrics").status_code == 200
            assert on_replica.get("/").status_code == 200  # the explorer's page
            # Caught up: ready, lag zero. The primary itself is no replica.
            status, body = ready(on_replica)
            assert status == 200, body
            assert body["replica"] == {
                "streaming": True,
                "wal_receiver_status": "streaming",
                "lag_s": 0.0,
                "replay_behind_bytes": 0,
            }
            assert ready(on_primary)[1]["replica"] is None
            # The replica receives a new claim but does not replay it: the API does not see it yet
            # and /ready says by how much the replica trails.
            with standby.connect() as conn:
                conn.execute(text("SELECT pg_wal_replay_pause()"))
            wait_until(lambda: replay_state(standby) == "paused", "replay paused")  # a pause is a request
            late = ClaimPlan("E", nonce=9)
            ExocoreIngestor(LifecycleStore(writer)).apply_block(
                ExocoreBlock(7, h("b7"), T0 + timedelta(minutes=7), (late.submitted(),)), head_height=7
            )
            wait_until(
                lambda: lsn_reached(standby, primary_lsn(writer), "pg_last_wal_receive_lsn"), "received"
            )
            assert on_replica.get(f"/v1/claims/{late.claim_id}").status_code == 404
            status, body = ready(on_replica)
            assert status == 200, body  # behind, but within the default maximum
            assert body["replica"]["streaming"] and body["replica"]["replay_behind_bytes"] > 0
            assert body["replica"]["lag_s"] > 0
            status, details = ready(strict)
            assert status == 503
            (problem,) = details["problems"]
            assert problem.startswith("the replica replays ") and "behind its primary" in problem
            assert problem.endswith("bytes of WAL; max 0.0 s)")
            # Replay resumes: the claim is served and the lag is gone.
            with standby.connect() as conn:
                conn.execute(text("SELECT pg_wal_replay_resume()"))
            wait_until(
                lambda: lsn_reached(standby, primary_lsn(writer), "pg_last_wal_replay_lsn"), "replayed"
            )
            assert (
                on_replica.get(f"/v1/claims/{late.claim_id}").json()
                == on_primary.get(f"/v1/claims/{late.claim_id}").json()
            )
            assert ready(strict)[0] == 200
            # The primary goes away: the replica still answers, but /ready says it is cut off.
            writer.dispose()
            primary.stop_server()

            def cut_off() -> bool:
                return ready(on_replica)[0] == 503

            wait_until(cut_off, "the replica's /ready notices the primary is gone")
            details = ready(on_replica)[1]
            assert details["problems"][0].startswith(
                "the database is a replica not streaming from its primary"
            )
            assert details["replica"]["streaming"] is False
            assert on_replica.get(f"/v1/claims/{late.claim_id}").status_code == 200
    finally:
        writer.dispose()
        standby.dispose()
