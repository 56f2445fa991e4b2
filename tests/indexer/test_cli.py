"""``exorelay migrate`` and ``exorelay api`` end to end (SQLite file, real server process)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import inspect
from typer.testing import CliRunner

from devnet.anvil import free_port
from relayer.cli import app
from storage import migrate
from storage.db import create_db_engine

SERVER_START_TIMEOUT_S = 120.0
"""Bounds a hang: the API starts in ~2 s idle, several times that on a loaded two-core machine."""


def test_migrate_up_and_down(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    result = runner.invoke(app, ["migrate", "--database-url", url])
    assert result.exit_code == 0, result.output
    assert f"database at revision {migrate.head_revision()} (was empty)" in result.output
    engine = create_db_engine(url)
    assert "payout" in inspect(engine).get_table_names()
    result = runner.invoke(app, ["migrate", "--database-url", url, "--revision", "base"])
    assert result.exit_code == 0, result.output
    assert "database at revision base" in result.output
    assert migrate.current_revision(engine) is None
    engine.dispose()


def test_migrate_reports_a_bad_config(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[database]\nurl = "mysql://x"\n')
    result = CliRunner().invoke(app, ["migrate", "--config", str(config)])
    assert result.exit_code == 1
    assert "database.url" in result.output


def test_api_command_serves_health_and_openapi(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'api.db'}"
    engine = create_db_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    port = free_port()
    env = {**os.environ, "EXORELAY_DATABASE__URL": url, "EXORELAY_API__PORT": str(port)}
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "exorelay"), "api"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1.0)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "exorelay api did not start"
                assert process.poll() is None, "exorelay api exited"
                time.sleep(0.1)
        assert health.json() == {"status": "ok"}
        assert httpx.get(f"http://127.0.0.1:{port}/v1/claims").json() == {"items": [], "next_cursor": None}
        assert httpx.get(f"http://127.0.0.1:{port}/ready").status_code == 503
    finally:
        process.terminate()
        process.wait(timeout=10)
