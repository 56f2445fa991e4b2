"""Three ``exorelay run`` processes on one PostgreSQL database serving two client chains (two anvils,
chain ids 31337 and 31338), with ~1k reward leaves split over both chains and a slash landing on each.

The process holding a lease (a chain's signing key, the Exocore stream, a chain's L1 stream, picked
at random each time) is SIGKILLed ``KILLS`` times at random moments and replaced each time; then the
holder of chain B's signing key is SIGSTOPped past its lease and SIGCONTed. Afterwards, per chain:
every leaf is paid exactly once on its own chain, the indexer's totals equal that chain's ERC-20
``Transfer`` logs, the signing key has no nonce gap and sent nothing the database did not sign;
both slashes executed, each on its own chain; every item is terminal. Takeover times are printed,
not asserted (the machine is shared).

Runtime, measured once on two cores shared with other test runs (load average ~20): the 20 kills
took ~4 minutes and every leaf of both chains was final on L1 ~7 minutes after the first process
started; the indexer then lagged: each chain's L1 ingestion walked under one block per L1 block time
on the starved host (docs/operations.md, "What to watch on a loaded host"), so the settle wait is
generous. Not yet measured on an idle machine.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Final

import pytest
from sqlalchemy import Engine, select

from devnet.stack import DevnetStack
from relayer.leases import STREAM_EXOCORE, LeaseName, l1_stream_lease, signer_lease
from storage import migrate
from storage.db import create_db_engine
from storage.lease_tables import lease_table
from storage.leases import database_now
from tests.e2e.checks import (
    check_signer_nonces,
    client_chain_sections,
    gateway_contract,
    wait_settled_chains,
)
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
from tests.support.two_chain_stake import CHAIN_B_ID, stake_claim_and_slash

PROCESSES: Final = 3
LEASE_TTL_S: Final = 4.0
"""Short, so the kills cost seconds each; the default (10 s) is what production runs."""
KILLS: Final = 20
KILL_AFTER_S: Final = (0.5, 3.0)
"""A random moment after the previous takeover: mid-ingestion, mid-signing, mid-batch."""
STAKERS_PER_CHAIN: Final = 500
"""~1k leaves over both chains (plus the operators' commission leaves)."""
OPERATORS: Final = 4
PAYOUT_GAS_BUDGET: Final = 1_000_000
"""~30 leaves a transaction: each chain's payouts span ~17 transactions for the kills to land among."""
L1_BLOCK_TIME_S: Final = 1.0
"""Fewer empty blocks for each chain's L1 ingestion to walk through on a busy machine."""
TAKEOVER_GIVE_UP_S: Final = 180.0
"""Only bounds a hang: the test waits for the database to show a new holder, whatever it takes."""
STOPPED_EXTRA_S: Final = 3.0
"""How long past the takeover the stopped process stays stopped: the new holder signs meanwhile."""
SIGTERM_HANG_BOUND_S: Final = 60.0
SETTLE_TIMEOUT_S: Final = 600.0
TEST_TIMEOUT_S: Final = 1500
"""Bounds a hang only: staking ~1k depositors and 20 lease expiries on two busy cores."""


def live_holders(engine: Engine) -> dict[str, tuple[int, int]]:
    """Lease name -> (token, holder pid) of every live lease, on the database's clock."""
    with engine.connect() as conn:
        rows = conn.execute(select(lease_table)).all()
        now = database_now(conn)
    return {
        r.name: (int(r.token), int(r.holder.rsplit(":", 2)[1]))
        for r in rows
        if r.holder is not None and r.expires_at > now
    }


def wait_for_holder(engine: Engine, name: str, after_token: int, pids: set[int]) -> tuple[int, int]:
    """(token, pid) once a process of ``pids`` holds ``name`` with a token above ``after_token``."""
    deadline = time.monotonic() + TAKEOVER_GIVE_UP_S
    while True:
        held = live_holders(engine).get(name)
        if held is not None and held[0] > after_token and held[1] in pids:
            return held
        if time.monotonic() > deadline:
            pytest.fail(f"nobody took {name} over after token {after_token}: {live_holders(engine)}")
        time.sleep(0.02)


@pytest.mark.timeout(TEST_TIMEOUT_S)
def test_three_relayers_two_chains_kills_and_a_pause_and_each_chain_is_paid_once(tmp_path: Path) -> None:
    if not os.environ.get(DATABASE_URL_ENV):
        pytest.skip("several relayer processes share one PostgreSQL database (SQLite is one process)")
    rng = random.Random(17)
    started = time.monotonic()
    with (
        DevnetStack(
            tmp_path / "chains",
            exocore_block_time_s=0.3,
            l1_block_time_s=L1_BLOCK_TIME_S,
            other_chain_ids=(CHAIN_B_ID,),
        ) as stack,
        process_database(tmp_path) as url,
    ):
        assert stack.anvil is not None
        sections = client_chain_sections(stack)
        signer = stack.anvil.dev_accounts()[1].address  # the same dev key on both anvils
        leases: list[LeaseName] = [STREAM_EXOCORE]
        for chain_id in sections:
            leases += [signer_lease(chain_id, signer), l1_stream_lease(chain_id)]
        engine = create_db_engine(url)
        migrate.upgrade(engine)  # once, before N processes start (docs/operations.md)
        config = write_relayer_config(
            stack,
            tmp_path,
            url,
            every_chain=True,
            l1__payout_gas_budget=PAYOUT_GAS_BUDGET,
            relayer__lease_ttl_s=LEASE_TTL_S,
            relayer__metrics_port=0,
        )
        processes: dict[int, tuple[subprocess.Popen[bytes], Path]] = {}
        count = 0

        def start(*, wait: bool) -> None:
            nonlocal count
            log = tmp_path / f"relayer-{count}.log"
            count += 1
            process = start_relayer(config, log)
            processes[process.pid] = (process, log)
            if wait:
                wait_for_log(log, '"relayer running"')

        takeovers: list[tuple[str, float]] = []
        try:
            for _ in range(PROCESSES):
                start(wait=True)
            kill_errors: list[BaseException] = []

            def kill_lease_holders() -> None:
                try:
                    for _ in range(KILLS):
                        time.sleep(rng.uniform(*KILL_AFTER_S))
                        name = rng.choice(leases)
                        token, pid = wait_for_holder(engine, name, 0, set(processes))
                        victim, _ = processes.pop(pid)
                        kill(victim)
                        killed_at = time.monotonic()
                        # Back to three. Not waited for: the others run already, and a start costs up
                        # to a minute on two busy cores.
                        start(wait=False)
                        wait_for_holder(engine, name, token, set(processes))
                        takeovers.append((name, time.monotonic() - killed_at))
                except BaseException as exc:  # re-raised in the test's thread
                    kill_errors.append(exc)

            # The kills land while the depositors stake, the claim and slash are relayed and paid.
            killer = threading.Thread(target=kill_lease_holders)
            killer.start()
            try:
                stake_claim_and_slash(stack, stakers_per_chain=STAKERS_PER_CHAIN, operators=OPERATORS)
            finally:
                killer.join()
            if kill_errors:
                raise kill_errors[0]

            # SIGSTOP chain B's signer past its lease; another takes over; SIGCONT: it is fenced off.
            name_b = signer_lease(CHAIN_B_ID, signer)
            token, pid = wait_for_holder(engine, name_b, 0, set(processes))
            paused, paused_log = processes[pid]
            paused.send_signal(signal.SIGSTOP)
            try:
                _, successor = wait_for_holder(engine, name_b, token, set(processes))
                assert successor != pid
                time.sleep(STOPPED_EXTRA_S)
            finally:
                paused.send_signal(signal.SIGCONT)
            wait_for_log(paused_log, '"lease lost"')

            settled = wait_settled_chains(
                stack,
                url,
                timeout_s=SETTLE_TIMEOUT_S,
                log_tail=lambda: "\n".join(log_tail(log) for _, log in processes.values()),
            )
            nonces = {
                chain_id: check_signer_nonces(stack, url, signer, chain=section)
                for chain_id, section in sections.items()
            }
            slashes = {
                chain_id: len(gateway_contract(stack, section)[1].events.SlashExecuted.get_logs(from_block=0))
                for chain_id, section in sections.items()
            }
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
    assert len(takeovers) == KILLS
    for chain_id, figures in settled.items():
        assert figures.distributions == 1 and figures.leaves >= STAKERS_PER_CHAIN, (chain_id, figures)
        assert nonces[chain_id].mined > 0
    # One slash request, one SLASH packet per chain, each executed on its own chain.
    assert slashes == dict.fromkeys(sections, 1), slashes
    logs = sorted(tmp_path.glob("relayer-*.log"))
    unexpected = [r for log in logs for r in log_records(log) if "failed unexpectedly" in r["msg"]]
    assert not unexpected, f"no bug traces: {unexpected[:2]}"
    times = sorted(t for _, t in takeovers)
    print(
        f"\n{KILLS} lease takeovers after SIGKILL: p50 {times[len(times) // 2]:.2f} s, max {times[-1]:.2f} s "
        f"(lease TTL {LEASE_TTL_S} s): {[(n.split(':')[0], round(t, 1)) for n, t in takeovers]}; "
        + "; ".join(
            f"chain {c}: {s.leaves} leaves, {nonces[c].mined} transactions" for c, s in settled.items()
        )
        + f"; {time.monotonic() - started:.0f} s in all"
    )
