"""`exorelay aggregator` refuses to start without what it needs, with the reason, and `open` says
what is missing; no server is started in these cases."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from relayer.cli import app

NOISY_LOGGERS = ("apscheduler", "httpx", "urllib3", "web3", "grpc")
"""The loggers relayer.logs.configure_logging re-levels besides the root."""


@pytest.fixture(autouse=True)
def _no_env_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EXORELAY_AGGREGATOR_TOKEN", raising=False)


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    """The command configures logging onto the runner's stderr, which closes after the call: put the
    root logger back, or later tests would log into a closed stream."""
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in NOISY_LOGGERS)]
    saved = [(logger, logger.handlers[:], logger.level) for logger in loggers]
    yield
    for logger, handlers, level in saved:
        logger.handlers[:] = handlers
        logger.setLevel(level)


def test_serving_without_an_account_keystore_exits_2_with_the_reason(tmp_path: Path) -> None:
    from storage import migrate  # noqa: PLC0415 - only this test needs a migrated file
    from storage.db import create_db_engine  # noqa: PLC0415

    url = f"sqlite:///{tmp_path / 'agg.db'}"
    engine = create_db_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    config = tmp_path / "exorelay.toml"
    config.write_text(f'[database]\nurl = "{url}"\n[logging]\nformat = "text"\n')
    result = CliRunner().invoke(app, ["aggregator", "--config", str(config)])
    assert result.exit_code == 2
    assert "aggregator.keystore_path is not set" in result.output


def test_serving_an_unmigrated_database_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "exorelay.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "empty.db"}"\n[logging]\nformat = "text"\n')
    result = CliRunner().invoke(app, ["aggregator", "--config", str(config)])
    assert result.exit_code == 2
    assert "exorelay migrate" in result.output


def test_open_without_a_token_exits_1() -> None:
    result = CliRunner().invoke(app, ["aggregator", "open", "--request", "0x00"])
    assert result.exit_code == 1
    assert "EXORELAY_AGGREGATOR_TOKEN is not set" in result.output
