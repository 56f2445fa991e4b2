"""`exorelay aggregator` refuses to start without what it needs, with the reason, and `open` says
what is missing; no server is started in these cases. And `open` against a running aggregator process
shows the aggregator's refusal of evidence Exocore would never accept."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from relayer.cli import app
from relayer.protocol.claims import SlashRequest
from relayer.protocol.evidence import MAX_EVIDENCE_BYTES, evidence_hash
from relayer.protocol.types import Address
from tests.support.aggregator_net import (
    CHAIN_HASH,
    OPEN_TOKEN,
    Net,
    free_port,
    running_net,
    sigkill,
    start_process,
    wait_healthy,
    write_process_config,
)
from tests.support.database import ops_database

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


@pytest.fixture(scope="module")
def net() -> Iterator[Net]:
    with running_net(operators=4) as running:
        yield running


def test_open_with_evidence_over_exocores_limit_exits_1_with_the_refusal(net: Net, tmp_path: Path) -> None:
    evidence = b"\x01" * (MAX_EVIDENCE_BYTES + 1)
    slash = SlashRequest(
        CHAIN_HASH, Address(bytes.fromhex(net.avs[2:])), net.epoch, net.slash(member=2).operator,
        10**16, False, evidence_hash(evidence),
    )  # fmt: skip
    with ops_database(tmp_path) as url:
        port = free_port()
        log = tmp_path / "aggregator.log"
        process = start_process(write_process_config(tmp_path, net, url, port), log)
        try:
            wait_healthy(process, port, log)
            base = f"http://127.0.0.1:{port}"
            arguments = ["--url", base, "--request", "0x" + slash.canonical_bytes.hex()]
            result = CliRunner().invoke(
                app,
                ["aggregator", "open", *arguments, "--evidence", "0x" + evidence.hex()],
                env={"EXORELAY_AGGREGATOR_TOKEN": OPEN_TOKEN},
            )
            assert result.exit_code == 1
            assert '"code":"malformed_request"' in result.output.replace(" ", "")
            assert f"evidence is {MAX_EVIDENCE_BYTES + 1} bytes" in result.output
            assert f"at most {MAX_EVIDENCE_BYTES}" in result.output
            # Nothing stored; the refusal is counted.
            missing = httpx.get(f"{base}/v1/requests/0x{slash.slash_id.hex()}", timeout=10)
            assert missing.status_code == 404
            metrics = httpx.get(f"{base}/metrics", timeout=10).text
            assert 'exorelay_aggregator_refusals_total{code="malformed_request"} 1.0' in metrics
        finally:
            sigkill(process)
