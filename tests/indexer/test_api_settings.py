"""/ready thresholds and worker count come from the ``[api]`` config (api.ready_max_lag_blocks,
api.ready_max_age_s, api.workers), through ``exorelay api`` into every uvicorn worker."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx
import psutil
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from devnet.anvil import free_port
from indexer.api import ReadinessPolicy, create_app
from indexer.api.app import (
    API_READY_MAX_AGE_S_ENV,
    API_READY_MAX_LAG_BLOCKS_ENV,
    API_READY_MAX_REPLICA_LAG_S_ENV,
    READY_MAX_AGE_S,
    READY_MAX_LAG_BLOCKS,
    readiness_environment,
    readiness_from_environment,
)
from relayer.config import ApiConfig
from relayer.errors import ConfigError
from storage import migrate
from storage.db import create_db_engine
from storage.store import LifecycleStore
from tests.support.indexer_factory import T0

SERVER_START_TIMEOUT_S = 120.0
"""Bounds a hang: two workers start in seconds idle, far slower on a loaded two-core machine."""
LAG_BLOCKS = 5
"""Behind the head by more than the default threshold (3), less than the configured one (10)."""


def lagging_stream(engine: Engine) -> None:
    """The exocore stream 5 blocks behind its head, written at T0 + 1 s."""
    store = LifecycleStore(engine, clock=lambda: T0 + timedelta(seconds=1))
    with store.begin() as tx:
        tx.set_cursor("exocore", "exocore", 100, "0x" + "11" * 32, head_height=100 + LAG_BLOCKS)


def ready_status(engine: Engine, policy: ReadinessPolicy, seconds_later: float) -> int:
    app = create_app(engine, readiness=policy, clock=lambda: T0 + timedelta(seconds=seconds_later))
    with TestClient(app) as client:
        return int(client.get("/ready").status_code)


def test_readiness_policy_from_config(engine: Engine) -> None:
    lagging_stream(engine)
    default = ReadinessPolicy.from_config(ApiConfig())
    assert (default.max_lag_blocks, default.max_age_s) == (READY_MAX_LAG_BLOCKS, READY_MAX_AGE_S)
    assert ready_status(engine, default, 10) == 503  # 5 blocks behind > 3
    tolerant = ReadinessPolicy.from_config(ApiConfig(ready_max_lag_blocks=10, ready_max_age_s=30))
    assert ready_status(engine, tolerant, 10) == 200
    assert ready_status(engine, tolerant, 60) == 503  # written 59 s ago > 30 s


def test_readiness_survives_the_hand_over_to_workers() -> None:
    policy = ReadinessPolicy.from_config(
        ApiConfig(ready_max_lag_blocks=7, ready_max_age_s=12.5, ready_max_replica_lag_s=4.5)
    )
    assert policy.max_replica_lag_s == 4.5
    assert readiness_from_environment(readiness_environment(policy)) == policy
    assert readiness_from_environment({}) == ReadinessPolicy()
    with pytest.raises(ConfigError, match="readiness thresholds"):
        readiness_from_environment({API_READY_MAX_LAG_BLOCKS_ENV: "many"})
    with pytest.raises(ConfigError, match="out of range"):
        readiness_from_environment({API_READY_MAX_AGE_S_ENV: "0"})
    with pytest.raises(ConfigError, match=r"max replica lag -1\.0 s"):
        readiness_from_environment({API_READY_MAX_REPLICA_LAG_S_ENV: "-1"})


def test_exorelay_api_uses_the_configured_workers_and_readiness(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'api.db'}"
    engine = create_db_engine(url)
    migrate.upgrade(engine)
    store = LifecycleStore(engine)  # wall clock: the cursor is fresh
    with store.begin() as tx:
        tx.set_cursor("exocore", "exocore", 100, "0x" + "11" * 32, head_height=100 + LAG_BLOCKS)
    engine.dispose()
    port = free_port()
    config = tmp_path / "exorelay.toml"
    # The API reads api.database_url (a replica's URL in production), not the writer's database.url.
    writer_only = f"sqlite:///{tmp_path / 'writer-only' / 'never-read.db'}"
    config.write_text(
        f'[database]\nurl = "{writer_only}"\n\n[api]\ndatabase_url = "{url}"\nport = {port}\nworkers = 2\n'
        "ready_max_lag_blocks = 10\n"
    )
    log = tmp_path / "api.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "exorelay"), "api", "--config", str(config)],
            env={k: v for k, v in os.environ.items() if not k.startswith("EXORELAY_")},
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            pids = set(re.findall(r"Started server process \[(\d+)\]", log.read_text()))
            if len(pids) == 2:
                break
            assert time.monotonic() < deadline, f"two workers did not start:\n{log.read_text()}"
            assert process.poll() is None, f"exorelay api exited:\n{log.read_text()}"
            time.sleep(0.1)
        while True:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2.0)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "exorelay api does not answer"
                time.sleep(0.1)
        # 5 blocks behind is ready under the configured 10 (the default 3 would answer 503), in
        # whichever worker answers.
        assert ready.status_code == 200, ready.text
        assert all(
            httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2.0).status_code == 200 for _ in range(6)
        )
        assert_connections_spread(process.pid, port)
    finally:
        process.terminate()
        process.wait(timeout=15)


BURST_CONNECTIONS = 24


def assert_connections_spread(supervisor_pid: int, port: int) -> None:
    """A burst of keep-alive connections lands on both workers (one SO_REUSEPORT socket each). On
    one shared socket the first worker to wake accepted whole bursts (49 of 50 in the benchmark)."""
    burst = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(BURST_CONNECTIONS)]
    try:
        for conn in burst:
            conn.sendall(b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n")
        for conn in burst:
            assert conn.recv(4096).startswith(b"HTTP/1.1 200")
        workers = psutil.Process(supervisor_pid).children()
        listening = {
            os.readlink(f"/proc/{worker.pid}/fd/{c.fd}")  # "socket:[inode]": the kernel socket
            for worker in workers
            for c in worker.net_connections("tcp")
            if c.laddr.port == port and c.status == "LISTEN"
        }
        assert len(listening) == 2, f"each worker listens on a socket of its own: {listening}"
        per_worker = {
            worker.pid: sum(
                1 for c in worker.net_connections("tcp") if c.laddr.port == port and c.status == "ESTABLISHED"
            )
            for worker in workers
        }
        held = sorted((n for n in per_worker.values() if n), reverse=True)
        # Binomial(24, 1/2): a worker with fewer than 2 has odds of ~3e-6.
        assert sum(held) == BURST_CONNECTIONS and len(held) == 2 and held[-1] >= 2, per_worker
    finally:
        for conn in burst:
            conn.close()
