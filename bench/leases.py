"""Several ``exorelay run`` processes on one PostgreSQL database: takeover after SIGKILL, and paying
one distribution with 1 and with 3 processes.

    .venv/bin/python bench/leases.py            # 10 kills, a 2,000-staker distribution (~8 min on 2 cores)
    .venv/bin/python bench/leases.py --quick    # 3 kills at a 3 s TTL, a 200-staker distribution

1. Takeover: two processes on a fresh devnet + anvil; the one holding the signer lease is SIGKILLed at
   a random moment (uniform over a lease tick, after it has run a while), a replacement is started,
   and the time from the kill until the database shows another process holding the lease (a higher
   fencing token) is measured, N times. Anchor: the lease TTL, the bound a standby must wait by
   construction (the kill lands anywhere in the holder's last renewal tick, so the figure lies
   between TTL - 1 tick and TTL + 1 tick; the ratio to the TTL is printed).
2. Paying: the standard scenario's distribution (bench/relayer_pipeline.py's), paid once by one
   process and once by three processes side by side, each run on fresh chains and a fresh schema.
   Anchor: the gas-bound minimum of the very payout transactions sent (ceil(gas used / block gas
   limit)), as in bench/relayer_pipeline.py; the ratio span/minimum is printed for both, and their
   ratio to each other (three processes share the preparation; one key still signs every batch).

PostgreSQL: ``--database-url`` or ``EXORELAY_TEST_DATABASE_URL``; each run creates its own schema
and drops it. Without one, the script says so and exits 0 (SQLite is one process by design).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import math
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Final

from sqlalchemy import Engine, create_engine, select, text

from devnet.anvil import REPO_ROOT
from devnet.scenario import ScenarioClient
from relayer.leases import LEASE_TICK_S, signer_lease
from storage import migrate
from storage.db import create_db_engine
from storage.lease_tables import lease_table
from storage.leases import database_now

DATABASE_URL_ENV: Final = "EXORELAY_TEST_DATABASE_URL"
DEFAULT_KILLS: Final = 10
DEFAULT_TTL_S: Final = 10.0
"""The production default (``relayer.lease_ttl_s``)."""
DEFAULT_STAKERS: Final = 2_000
QUICK: Final = {"kills": 3, "ttl_s": 3.0, "stakers": 200}
"""--quick: the smallest TTL the configuration accepts, three kills, a small distribution."""
RUN_BEFORE_KILL_S: Final = (1.0, 1.0 + LEASE_TICK_S)
"""Each kill lands at a uniformly random point of the holder's renewal tick."""
POLL_S: Final = 0.01
"""How often the takeover is looked for in the database: well under the figures measured."""
GIVE_UP_S: Final = 300.0
PROCESS_COUNTS: Final = (1, 3)
GAS_BUDGET: Final = 2_000_000
"""~60 leaves a batch: a 2,000-leaf distribution takes ~35 transactions, enough to share."""


def note(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


def pipeline_bench() -> ModuleType:
    """bench/relayer_pipeline.py's chains, scenario, config and payout accounting (imported from the
    repository root: the bench directory is a package of the checkout, not of the distributions)."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.append(str(REPO_ROOT))
    return importlib.import_module("bench.relayer_pipeline")


@contextmanager
def fresh_schema(base_url: str) -> Iterator[str]:
    schema = f"exorelay_bench_{secrets.token_hex(5)}"
    admin = create_engine(base_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        separator = "&" if "?" in base_url else "?"
        yield f"{base_url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@dataclass(frozen=True)
class Holder:
    token: int
    pid: int


def live_holder(engine: Engine, name: str) -> Holder | None:
    with engine.connect() as conn:
        row = conn.execute(select(lease_table).where(lease_table.c.name == name)).first()
        now = database_now(conn)
    if row is None or row.holder is None or row.expires_at <= now:
        return None
    return Holder(int(row.token), int(row.holder.rsplit(":", 2)[1]))


def wait_holder(engine: Engine, name: str, after_token: int) -> Holder:
    deadline = time.monotonic() + GIVE_UP_S
    while time.monotonic() < deadline:
        holder = live_holder(engine, name)
        if holder is not None and holder.token > after_token:
            return holder
        time.sleep(POLL_S)
    raise TimeoutError(f"nobody holds {name} past token {after_token} after {GIVE_UP_S:.0f} s")


class Fleet:
    """``exorelay run`` processes on one config, started one after the other (each waits until the
    process says it runs), SIGTERMed at the end."""

    def __init__(self, rp: ModuleType, config: Path, directory: Path, stack: ExitStack) -> None:
        self.rp, self.config, self.directory, self.stack = rp, config, directory, stack
        self.processes: dict[int, subprocess.Popen[bytes]] = {}
        self.started = 0

    def start(self) -> None:
        log = self.directory / f"relayer-{self.started}.log"
        self.started += 1
        process = self.stack.enter_context(self.rp.relayer_process(self.config, log))
        self.processes[process.pid] = process
        deadline = time.monotonic() + self.rp.RELAYER_START_TIMEOUT_S
        while '"relayer running"' not in (log.read_text(errors="replace") if log.exists() else ""):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"relayer did not start:\n{self.rp.log_tail(log)}")
            time.sleep(0.05)

    def kill(self, pid: int) -> None:
        process = self.processes.pop(pid)
        process.send_signal(signal.SIGKILL)
        process.wait()


def relayer_config(rp: ModuleType, stack: object, directory: Path, url: str, ttl_s: float) -> Path:
    # The lease TTL and a disabled metrics port (several processes on one host) as environment
    # overrides, which every child process inherits.
    os.environ["EXORELAY_RELAYER__LEASE_TTL_S"] = str(ttl_s)
    os.environ["EXORELAY_RELAYER__METRICS_PORT"] = "0"
    os.environ[rp.KEYSTORE_PASSWORD_ENV] = rp.KEYSTORE_PASSWORD
    path: Path = rp.write_relayer_config(stack, directory, url, GAS_BUDGET)
    return path


def bench_takeover(
    rp: ModuleType, base_url: str, home: Path, kills: int, ttl_s: float, seed: int
) -> list[float]:
    rng = random.Random(seed)
    directory = home / "takeover"
    directory.mkdir(parents=True)
    times: list[float] = []
    with rp.chains(directory) as stack, fresh_schema(base_url) as url, ExitStack() as processes:
        engine = create_db_engine(url)
        migrate.upgrade(engine)
        name = signer_lease(int(stack.manifest["l1"]["chain_id"]), stack.anvil.dev_accounts()[1].address)
        fleet = Fleet(rp, relayer_config(rp, stack, directory, url, ttl_s), directory, processes)
        fleet.start()
        fleet.start()
        holder = wait_holder(engine, name, 0)
        for number in range(kills):
            time.sleep(rng.uniform(*RUN_BEFORE_KILL_S))
            holder = wait_holder(engine, name, 0)
            fleet.kill(holder.pid)
            killed = time.monotonic()
            successor = wait_holder(engine, name, holder.token)
            times.append(time.monotonic() - killed)
            note(f"kill {number + 1}/{kills}: token {holder.token} -> {successor.token} in {times[-1]:.2f} s")
            fleet.start()
        engine.dispose()
    return times


@dataclass(frozen=True)
class PayRun:
    processes: int
    result: Any
    """bench/relayer_pipeline.py's ThroughputResult (that script is imported at run time)."""


def bench_paying(rp: ModuleType, base_url: str, home: Path, count: int, stakers: int, ttl_s: float) -> PayRun:
    directory = home / f"pay-{count}"
    directory.mkdir(parents=True)
    scenario_stakers = rp.scenario_stakers_for(stakers, rp.PAYOUT_OPERATORS)
    settings = rp.PipelineSettings(l1_chain_id=0, backoff=rp.Backoff(1.0, 1.0), payout_gas_budget=GAS_BUDGET)
    result = rp.ThroughputResult(
        stakers=stakers,
        scenario_stakers=scenario_stakers,
        gas_budget=GAS_BUDGET,
        leaves_per_tx_setting=settings.leaves_per_payout_tx,
    )
    with rp.chains(directory) as stack, fresh_schema(base_url) as url, ExitStack() as processes:
        engine = create_db_engine(url)
        migrate.upgrade(engine)
        fleet = Fleet(rp, relayer_config(rp, stack, directory, url, ttl_s), directory, processes)
        for _ in range(count):
            fleet.start()
        exocore = stack.manifest["exocore"]
        with ScenarioClient(exocore["grpc_target"], exocore["chain_id"]) as client:
            note(f"{count} process(es): scenario with {scenario_stakers:,} stakers")
            started = time.perf_counter()
            rp.standard_scenario(stack, client, operators=rp.PAYOUT_OPERATORS, stakers=scenario_stakers)
            result.setup_s = time.perf_counter() - started
            result.load = rp.load_average()
            rp.wait_until(
                lambda: rp.everything_paid(engine),
                rp.PAYOUT_TIMEOUT_BASE_S + rp.PAYOUT_TIMEOUT_PER_LEAF_S * scenario_stakers,
                "every leaf paid",
                lambda: rp.describe_queue(engine),
            )
        rp.collect_payouts(
            engine, rp.l1_web3(stack), result, int(stack.relayer_settings(url)["l1"]["confirmations"])
        )
        engine.dispose()
    return PayRun(count, result)


def percentile(values: list[float], pct: float) -> float:
    """Nearest rank (p99 of fewer than 100 samples is the maximum)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def summary(takeovers: list[float], ttl_s: float, runs: list[PayRun]) -> None:
    rows: list[tuple[str, str, str, str]] = []
    for pct in (50, 99):
        value = percentile(takeovers, pct)
        rows.append(
            (
                f"takeover after SIGKILL p{pct}, s ({len(takeovers)} kills)",
                f"{value:.2f}",
                f"lease TTL {ttl_s:.1f} s (bound TTL + {LEASE_TICK_S:.0f} s tick)",
                f"{value / ttl_s:.2f}x",
            )
        )
    for run in runs:
        r = run.result
        rows.append(
            (
                f"payout blocks, {run.processes} process(es), {r.leaves_paid:,} leaves",
                f"{r.span_blocks}",
                f"gas-bound minimum {r.min_blocks}",
                f"{r.ratio:.2f}x",
            )
        )
    if len(runs) == 2:
        one, three = (run.result for run in runs)
        rows.append(
            (
                "payout blocks, 3 processes vs 1",
                f"{three.span_blocks}",
                f"1 process: {one.span_blocks}",
                f"{three.span_blocks / one.span_blocks:.2f}x",
            )
        )
    table = [("figure", "value", "same-run anchor", "ratio"), *rows]
    widths = [max(len(row[column]) for row in table) for column in range(4)]
    print("\nSummary (anchors from this run)")
    for row in table:
        print(
            ("  " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))).rstrip()
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=DEFAULT_KILLS)
    parser.add_argument("--ttl-s", type=float, default=DEFAULT_TTL_S, help="relayer.lease_ttl_s")
    parser.add_argument("--stakers", type=int, default=DEFAULT_STAKERS)
    parser.add_argument("--database-url", default=os.environ.get(DATABASE_URL_ENV), help="PostgreSQL")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--quick", action="store_true", help="3 kills at a 3 s TTL, 200 stakers")
    args = parser.parse_args()
    if args.quick:
        for key, value in QUICK.items():
            setattr(args, key, value)
    if not args.database_url or not args.database_url.startswith("postgresql"):
        print(f"bench/leases.py needs PostgreSQL (--database-url or {DATABASE_URL_ENV}): nothing measured")
        return
    logging.basicConfig(level=logging.ERROR)
    rp = pipeline_bench()
    with tempfile.TemporaryDirectory(prefix="exorelay-bench-leases-") as tmp:
        home = Path(tmp)
        takeovers = bench_takeover(rp, args.database_url, home, args.kills, args.ttl_s, args.seed)
        runs = [
            bench_paying(rp, args.database_url, home, n, args.stakers, args.ttl_s) for n in PROCESS_COUNTS
        ]
    print(f"\nTakeover after SIGKILL, {len(takeovers)} kills: {[round(t, 2) for t in takeovers]} s")
    for run in runs:
        print(f"\n{run.processes} relayer process(es) paying:")
        rp.print_throughput(run.result)
    summary(takeovers, args.ttl_s, runs)


if __name__ == "__main__":
    main()
