"""Three ``exorelay run`` processes on one PostgreSQL database, one devnet + anvil: the process holding
the signer lease is SIGKILLed several times at random moments (and replaced), then one is SIGSTOPped
past its lease and SIGCONTed. Afterwards every leaf is paid exactly once, the indexer's totals equal
the ``Transfer`` logs, the signer has no nonce gap and sent nothing the database did not sign, and
every item is terminal. Takeover times are printed, not asserted (the machine is shared)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest
from sqlalchemy import Engine, select

from devnet.scenario import ScenarioClient, run_manifest_scenario
from devnet.stack import DevnetStack
from relayer.leases import signer_lease
from storage import migrate
from storage.db import create_db_engine
from storage.lease_tables import lease_table
from storage.leases import database_now
from tests.e2e.checks import check_signer_nonces, wait_settled
from tests.e2e.relayer_process import (
    kill,
    log_records,
    log_tail,
    process_database,
    start_relayer,
    wait_for_log,
    write_relayer_config,
)
from tests.support.database import DATABASE_URL_ENV
from tests.support.relayer_harness import AVS_B_FUNDING_WEI

PROCESSES: Final = 3
LEASE_TTL_S: Final = 4.0
"""Short, so the kills cost seconds each; the default (10 s) is what production runs."""
KILLS: Final = 5
KILL_AFTER_S: Final = (0.5, 4.0)
"""A random moment after the previous takeover: mid-cycle, mid-signing, mid-batch."""
STAKERS: Final = 80
OPERATORS: Final = 4
PAYOUT_GAS_BUDGET: Final = 300_000
"""~6 leaves a transaction: the payouts span many transactions, so the kills land among them."""
TAKEOVER_GIVE_UP_S: Final = 120.0
"""Only bounds a hang: the test waits for the database to show a new holder, whatever it takes."""
STOPPED_EXTRA_S: Final = 3.0
"""How long past the takeover the stopped process stays stopped: the new holder signs meanwhile."""
SIGTERM_HANG_BOUND_S: Final = 60.0


@dataclass(frozen=True)
class Holder:
    holder: str
    token: int
    pid: int


def signer_holder(engine: Engine, name: str) -> Holder | None:
    """The live holder of the lease ``name`` on the database's clock, if any."""
    with engine.connect() as conn:
        row = conn.execute(select(lease_table).where(lease_table.c.name == name)).first()
        now = database_now(conn)
    if row is None or row.holder is None or row.expires_at <= now:
        return None
    return Holder(row.holder, int(row.token), int(row.holder.rsplit(":", 2)[1]))


def wait_for_new_holder(engine: Engine, name: str, after_token: int, log: Path) -> Holder:
    deadline = time.monotonic() + TAKEOVER_GIVE_UP_S
    while True:
        holder = signer_holder(engine, name)
        if holder is not None and holder.token > after_token:
            return holder
        if time.monotonic() > deadline:
            pytest.fail(f"nobody took {name} over after token {after_token}; a log tail:\n{log_tail(log)}")
        time.sleep(0.02)


def test_three_relayers_sigkill_and_sigstop_the_signer_and_everything_is_paid_once(tmp_path: Path) -> None:
    if not os.environ.get(DATABASE_URL_ENV):
        pytest.skip("several relayer processes share one PostgreSQL database (SQLite is one process)")
    rng = random.Random(7)
    with (
        DevnetStack(tmp_path / "chains", exocore_block_time_s=0.3, l1_block_time_s=0.5) as stack,
        process_database(tmp_path) as url,
    ):
        assert stack.anvil is not None
        signer = stack.anvil.dev_accounts()[1].address
        name = signer_lease(int(stack.manifest["l1"]["chain_id"]), signer)
        engine = create_db_engine(url)
        migrate.upgrade(engine)  # once, before N processes start (docs/operations.md)
        config = write_relayer_config(
            stack,
            tmp_path,
            url,
            l1__payout_gas_budget=PAYOUT_GAS_BUDGET,
            relayer__lease_ttl_s=LEASE_TTL_S,
            relayer__metrics_port=0,
        )
        processes: dict[int, tuple[subprocess.Popen[bytes], Path]] = {}

        def start(index: int, *, wait: bool = True) -> None:
            log = tmp_path / f"relayer-{index}.log"
            process = start_relayer(config, log)
            processes[process.pid] = (process, log)
            if wait:
                wait_for_log(log, '"relayer running"')

        takeovers_s: list[float] = []
        try:
            for index in range(PROCESSES):
                start(index)
            first = signer_holder(engine, name)
            assert first is not None and first.pid in processes
            kill_errors: list[BaseException] = []

            def kill_the_signer_repeatedly() -> None:
                try:
                    for kill_number in range(KILLS):
                        time.sleep(rng.uniform(*KILL_AFTER_S))
                        holder = wait_for_new_holder(engine, name, 0, tmp_path / "relayer-0.log")
                        victim, victim_log = processes.pop(holder.pid)
                        kill(victim)
                        killed_at = time.monotonic()
                        successor = wait_for_new_holder(engine, name, holder.token, victim_log)
                        takeovers_s.append(time.monotonic() - killed_at)
                        assert successor.pid in processes and successor.pid != holder.pid
                        # Back to three processes. Not waited for: the successor already runs, and
                        # a start costs up to a minute on two busy cores (the kills would add up).
                        start(PROCESSES + kill_number, wait=False)
                except BaseException as exc:  # re-raised in the test's thread
                    kill_errors.append(exc)

            # The kills run while the scenario is built and relayed: they land during ingestion,
            # delivery and payouts alike.
            killer = threading.Thread(target=kill_the_signer_repeatedly)
            killer.start()
            try:
                with ScenarioClient.for_manifest(stack.manifest["exocore"]) as client:
                    report = run_manifest_scenario(
                        client, stack.manifest, operators=OPERATORS, stakers=STAKERS
                    )
                stack.fund_avs_eth(report.avss[1], AVS_B_FUNDING_WEI, account_index=2)
            finally:
                killer.join()
            if kill_errors:
                raise kill_errors[0]

            # SIGSTOP the holder past its lease; another takes over; SIGCONT: the woken one is fenced off.
            holder = wait_for_new_holder(engine, name, 0, tmp_path / "relayer-0.log")
            paused, paused_log = processes[holder.pid]
            paused.send_signal(signal.SIGSTOP)
            try:
                successor = wait_for_new_holder(engine, name, holder.token, paused_log)
                assert successor.pid != holder.pid
                time.sleep(STOPPED_EXTRA_S)
            finally:
                paused.send_signal(signal.SIGCONT)
            wait_for_log(paused_log, '"lease lost"')

            settled = wait_settled(
                stack, url, log_tail=lambda: "\n".join(log_tail(log) for _, log in processes.values())
            )
            nonces = check_signer_nonces(stack, url, signer)
            for process, _ in processes.values():
                assert process.poll() is None, "every live process survived"
                process.send_signal(signal.SIGTERM)
            for process, log in processes.values():
                assert process.wait(timeout=SIGTERM_HANG_BOUND_S) == 0, log_tail(log)
        finally:
            for process, _ in processes.values():
                if process.poll() is None:
                    process.kill()
                    process.wait(timeout=10)
            engine.dispose()
    assert settled.distributions == 2 and settled.leaves >= STAKERS
    assert nonces.mined > 0
    logs = sorted(tmp_path.glob("relayer-*.log"))
    unexpected = [r for log in logs for r in log_records(log) if "failed unexpectedly" in r["msg"]]
    assert not unexpected, f"no bug traces: {unexpected[:2]}"
    ordered = sorted(takeovers_s)
    print(
        f"signer takeovers after SIGKILL: {[round(t, 2) for t in takeovers_s]} s "
        f"(p50 {ordered[len(ordered) // 2]:.2f} s, lease TTL {LEASE_TTL_S} s); "
        f"{nonces.mined} transactions mined, {nonces.attempts} attempts signed"
    )
