"""PostgreSQL restarted under a running ``exorelay run``: once while it ingests the distributions
from Exocore, once while it pays them on L1. The process survives (no exit, no unexpected-error
trace), retries, and finishes: every leaf paid exactly once, the indexer's totals equal the L1
transfers, every lifecycle terminal.

It brings its own PostgreSQL cluster (:mod:`tests.e2e.private_postgres`), so it runs the same with
or without ``EXORELAY_TEST_DATABASE_URL``.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import psycopg
import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import DBAPIError, ProgrammingError

from devnet.scenario import ScenarioClient, run_manifest_scenario
from devnet.stack import DevnetStack
from relayer.errors import ExorelayError
from storage.db import DatabaseUnavailableError, create_db_engine
from storage.job_tables import relay_job_table
from storage.models import payout_table
from tests.e2e.checks import wait_settled
from tests.e2e.private_postgres import PrivatePostgres
from tests.e2e.relayer_process import log_records, log_tail, start_relayer, wait_for_log, write_relayer_config
from tests.support.relayer_harness import AVS_B_FUNDING_WEI

STAKERS: Final = 30
OPERATORS: Final = 4
PAYOUT_GAS_BUDGET: Final = 400_000
"""~8 leaves per transaction: paying spans several transactions, so a restart lands among them."""
DOWN_S: Final = 2.0
"""How long the database stays down each time: several relayer cycles fail against it."""
WAIT_S: Final = 180.0
SIGTERM_WAIT_S: Final = 15.0
GAP_CHECK_S: Final = 2.0
"""After a restart, a few cycles: enough for a block lost to it to show up as a gap."""


def count(url: str, statement: object) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(statement).scalar_one())  # type: ignore[call-overload]
    except DBAPIError:
        return 0
    finally:
        engine.dispose()


def wait_for(what: str, condition: object, log: Path) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {WAIT_S} s; tail:\n{log_tail(log)}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def pg() -> Iterator[PrivatePostgres]:
    with PrivatePostgres() as cluster:
        yield cluster


def test_a_lost_connection_is_a_typed_error_and_the_pool_recovers(pg: PrivatePostgres) -> None:
    engine = create_db_engine(pg.url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
        held = engine.connect()
        pg.stop_server()
        try:
            with pytest.raises(DatabaseUnavailableError, match="Connection refused") as refused:
                engine.connect()
            assert isinstance(refused.value, ExorelayError)
            assert isinstance(refused.value.__cause__, psycopg.OperationalError)
        finally:
            pg.start_server()
        with pytest.raises(DatabaseUnavailableError, match="terminating connection"):
            held.execute(text("SELECT 1"))
        held.close()
        # The pool (tested at checkout) hands out a working connection at once.
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 2")).scalar_one() == 2
            with pytest.raises(ProgrammingError):  # other errors keep their SQLAlchemy type
                conn.execute(text("SELECT * FROM no_such_table"))
    finally:
        engine.dispose()


def test_postgres_restarted_mid_ingest_and_mid_payouts_the_relayer_survives_and_finishes(
    pg: PrivatePostgres, tmp_path: Path
) -> None:
    with DevnetStack(tmp_path / "chains", exocore_block_time_s=0.3, l1_block_time_s=0.5) as stack:
        config = write_relayer_config(stack, tmp_path, pg.url, l1__payout_gas_budget=PAYOUT_GAS_BUDGET)
        log = tmp_path / "relayer.log"
        process = start_relayer(config, log)
        try:
            wait_for_log(log, '"relayer running"')
            exocore = stack.manifest["exocore"]
            with ScenarioClient.for_manifest(exocore) as client:
                report = run_manifest_scenario(client, stack.manifest, operators=OPERATORS, stakers=STAKERS)
            stack.fund_avs_eth(report.avss[1], AVS_B_FUNDING_WEI, account_index=2)
            # Mid-ingest: the claims are on Exocore; the relayer is indexing their distributions.
            pg.restart(DOWN_S)
            time.sleep(GAP_CHECK_S)
            assert "BlockGapError" not in log.read_text(), f"blocks lost to the restart: {log_tail(log)}"
            wait_for(
                "packets discovered after the first restart",
                lambda: count(pg.url, select(func.count()).select_from(relay_job_table)) >= 2,
                log,
            )
            # Mid-payouts: some leaves are paid on L1, not all.
            wait_for(
                "first payouts indexed",
                lambda: (
                    count(
                        pg.url,
                        select(func.count())
                        .select_from(payout_table)
                        .where(payout_table.c.state.in_(("included", "finalized"))),
                    )
                    > 0
                ),
                log,
            )
            pg.restart(DOWN_S)
            for _ in range(int(GAP_CHECK_S / 0.1)):  # a lost block would stall ingestion for good
                assert "BlockGapError" not in log.read_text(), f"blocks lost to the restart: {log_tail(log)}"
                time.sleep(0.1)
            settled = wait_settled(stack, pg.url, log_tail=lambda: log_tail(log))
            assert process.poll() is None, "the relayer survived both restarts"
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=SIGTERM_WAIT_S) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
    assert settled.distributions == 2 and settled.leaves > STAKERS
    records = log_records(log)
    unexpected = [r for r in records if "failed unexpectedly" in r["msg"]]
    assert not unexpected, f"database errors must be typed, not bugs: {unexpected[:2]}"
    print(f"warnings during the restarts: {sum(r['level'] == 'warning' for r in records)}")
