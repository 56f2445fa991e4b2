"""Two client chains paid in parallel by several ``exorelay run`` processes on one PostgreSQL database.

    .venv/bin/python bench/two_chains.py            # 2 x 10,000 leaves, 20 kills (long: ~20k L1 deposits)
    .venv/bin/python bench/two_chains.py --quick    # 2 x 200 leaves, 3 kills at a 3 s TTL

1. Paying: one reward claim over stake on two chains (two anvils, 31337 and 31338) is one
   distribution per chain (``tests/support/two_chain_stake.py``), paid by 1 and then by 3 processes
   side by side (fresh chains and schema each). Per chain: the payout span in blocks against its
   gas-bound minimum (ceil(gas used / block gas limit), the very transactions sent), and the two
   chains' payout windows (first to last payout block's timestamp) and their overlap: in parallel,
   the overlap is most of the shorter window. The 3-process run's spans over the 1-process run's.
2. Takeover: 3 processes serving both chains; the holder of chain A's signing key is SIGKILLed at a
   random moment N times (replaced each time); the time until the database shows another holder
   (higher token). Anchor: the lease TTL (the bound is TTL + one renewal tick).

PostgreSQL: ``--database-url`` or ``EXORELAY_TEST_DATABASE_URL``; without it nothing is measured.
"""

from __future__ import annotations

import argparse
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
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sqlalchemy import Engine, create_engine, select, text
from web3 import Web3

from devnet.anvil import REPO_ROOT
from devnet.stack import DevnetStack
from relayer.leases import LEASE_TICK_S, signer_lease
from storage import migrate
from storage.db import create_db_engine
from storage.job_tables import payout_job_table
from storage.l1_tables import IntentState, tx_intent_table
from storage.lease_tables import lease_table
from storage.leases import database_now

if str(REPO_ROOT) not in sys.path:  # the test helpers this bench shares with the e2e test
    sys.path.append(str(REPO_ROOT))

from tests.e2e.relayer_process import start_relayer, write_relayer_config
from tests.support.two_chain_stake import CHAIN_B_ID, stake_claim_and_slash

DATABASE_URL_ENV: Final = "EXORELAY_TEST_DATABASE_URL"
FULL: Final = {"stakers": 10_000, "kills": 20, "ttl_s": 10.0}
QUICK: Final = {"stakers": 200, "kills": 3, "ttl_s": 3.0}
"""--quick: small distributions, three kills at the smallest TTL the configuration accepts."""
OPERATORS: Final = 4
GAS_BUDGET: Final = 2_000_000
"""~60 leaves a transaction (bench/leases.py's)."""
L1_BLOCK_TIME_S: Final = 1.0
PROCESS_COUNTS: Final = (1, 3)
RUN_BEFORE_KILL_S: Final = (1.0, 1.0 + LEASE_TICK_S)
"""Each kill lands at a uniformly random point of the holder's renewal tick."""
POLL_S: Final = 0.05
START_TIMEOUT_S: Final = 180.0
PAY_TIMEOUT_BASE_S: Final = 300.0
PAY_TIMEOUT_PER_LEAF_S: Final = 0.05
GIVE_UP_S: Final = 300.0


def note(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


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


@contextmanager
def fleet(config: Path, directory: Path, count: int) -> Iterator[dict[int, subprocess.Popen[bytes]]]:
    """``count`` relayer processes, each started once it says it runs; SIGKILLed at the end."""
    processes: dict[int, subprocess.Popen[bytes]] = {}

    def start(index: int) -> None:
        log = directory / f"relayer-{index}.log"
        process = start_relayer(config, log)
        processes[process.pid] = process
        deadline = time.monotonic() + START_TIMEOUT_S
        while '"relayer running"' not in (log.read_text(errors="replace") if log.exists() else ""):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"relayer did not start: {log}")
            time.sleep(POLL_S)

    try:
        for index in range(count):
            start(index)
        yield processes
    finally:
        for process in processes.values():
            process.send_signal(signal.SIGKILL)
            process.wait()


@contextmanager
def two_chain_stack(home: Path, base_url: str, ttl_s: float) -> Iterator[tuple[DevnetStack, str, Path]]:
    with (
        DevnetStack(
            home / "chains",
            exocore_block_time_s=0.3,
            l1_block_time_s=L1_BLOCK_TIME_S,
            other_chain_ids=(CHAIN_B_ID,),
        ) as stack,
        fresh_schema(base_url) as url,
    ):
        engine = create_db_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        config = write_relayer_config(
            stack,
            home,
            url,
            every_chain=True,
            l1__payout_gas_budget=GAS_BUDGET,
            relayer__lease_ttl_s=ttl_s,
            relayer__metrics_port=0,
        )
        yield stack, url, config


@dataclass(frozen=True)
class ChainPay:
    chain_id: int
    leaves: int
    txs: int
    span_blocks: int
    min_blocks: int
    window: tuple[int, int]
    """From the first payout block's timestamp to the end of the last one's slot (its timestamp plus
    the block time), in seconds: a block at ``t`` holds what was sent during ``[t, t + block time)``."""

    @property
    def ratio(self) -> float:
        return self.span_blocks / self.min_blocks


def all_paid(engine: Engine) -> bool:
    with engine.connect() as conn:
        stages = [str(s) for (s,) in conn.execute(select(payout_job_table.c.stage))]
    return len(stages) == 2 and all(s == "paid" for s in stages)


def chain_payouts(engine: Engine, stack: DevnetStack, chain_id: int) -> ChainPay:
    i = tx_intent_table
    with engine.connect() as conn:
        rows = conn.execute(
            select(i.c.block_number, i.c.gas_used, i.c.leaf_indices).where(
                i.c.purpose == "payout", i.c.state == IntentState.FINALIZED.value, i.c.chain_id == chain_id
            )
        ).all()
    section = next(
        c for c in [stack.manifest["l1"], *stack.manifest["client_chains"]] if c["chain_id"] == chain_id
    )
    w3 = Web3(Web3.HTTPProvider(section["rpc_url"]))
    blocks = [int(r.block_number) for r in rows]
    first, last = w3.eth.get_block(min(blocks)), w3.eth.get_block(max(blocks))
    gas = sum(int(r.gas_used) for r in rows)
    return ChainPay(
        chain_id=chain_id,
        leaves=sum(len(r.leaf_indices) for r in rows),
        txs=len(rows),
        span_blocks=max(blocks) - min(blocks) + 1,
        min_blocks=math.ceil(gas / int(first["gasLimit"])),
        window=(int(first["timestamp"]), int(last["timestamp"]) + math.ceil(L1_BLOCK_TIME_S)),
    )


def bench_paying(base_url: str, home: Path, count: int, stakers: int, ttl_s: float) -> list[ChainPay]:
    directory = home / f"pay-{count}"
    directory.mkdir(parents=True)
    with two_chain_stack(directory, base_url, ttl_s) as (stack, url, config), fleet(config, directory, count):
        note(f"{count} process(es): staking {stakers:,} depositors on each chain, one claim, one slash")
        stake_claim_and_slash(stack, stakers_per_chain=stakers, operators=OPERATORS)
        engine = create_db_engine(url)
        deadline = time.monotonic() + PAY_TIMEOUT_BASE_S + PAY_TIMEOUT_PER_LEAF_S * 2 * stakers
        while not all_paid(engine):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{count} process(es): not paid in time")
            time.sleep(POLL_S * 10)
        chain_ids = [int(stack.manifest["l1"]["chain_id"]), CHAIN_B_ID]
        result = [chain_payouts(engine, stack, chain_id) for chain_id in chain_ids]
        engine.dispose()
    return result


def live_holder(engine: Engine, name: str) -> tuple[int, int] | None:
    with engine.connect() as conn:
        row = conn.execute(select(lease_table).where(lease_table.c.name == name)).first()
        now = database_now(conn)
    if row is None or row.holder is None or row.expires_at <= now:
        return None
    return int(row.token), int(row.holder.rsplit(":", 2)[1])


def wait_holder(engine: Engine, name: str, after_token: int) -> tuple[int, int]:
    deadline = time.monotonic() + GIVE_UP_S
    while time.monotonic() < deadline:
        held = live_holder(engine, name)
        if held is not None and held[0] > after_token:
            return held
        time.sleep(0.01)
    raise TimeoutError(f"nobody holds {name} past token {after_token}")


def bench_takeover(base_url: str, home: Path, kills: int, ttl_s: float, seed: int) -> list[float]:
    rng = random.Random(seed)
    directory = home / "takeover"
    directory.mkdir(parents=True)
    times: list[float] = []
    with (
        two_chain_stack(directory, base_url, ttl_s) as (stack, url, config),
        fleet(config, directory, 3) as processes,
    ):
        assert stack.anvil is not None
        engine = create_db_engine(url)
        name = signer_lease(int(stack.manifest["l1"]["chain_id"]), stack.anvil.dev_accounts()[1].address)
        for number in range(kills):
            time.sleep(rng.uniform(*RUN_BEFORE_KILL_S))
            token, pid = wait_holder(engine, name, 0)
            victim = processes.pop(pid)
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            killed = time.monotonic()
            replacement = start_relayer(config, directory / f"relayer-r{number}.log")
            processes[replacement.pid] = replacement
            successor = wait_holder(engine, name, token)
            times.append(time.monotonic() - killed)
            note(f"kill {number + 1}/{kills}: token {token} -> {successor[0]} in {times[-1]:.2f} s")
        engine.dispose()
    return times


def percentile(values: list[float], pct: float) -> float:
    """Nearest rank (p99 of fewer than 100 samples is the maximum)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def summary(runs: dict[int, list[ChainPay]], takeovers: list[float], ttl_s: float) -> None:
    rows: list[tuple[str, str, str, str]] = []
    for count, chains in runs.items():
        for pay in chains:
            rows.append(
                (
                    f"{count} process(es), chain {pay.chain_id}: payout span, blocks ({pay.leaves:,} leaves,"
                    f" {pay.txs} txs)",
                    f"{pay.span_blocks}",
                    f"gas-bound minimum {pay.min_blocks}",
                    f"{pay.ratio:.2f}x",
                )
            )
        a, b = (pay.window for pay in chains)
        overlap = max(0, min(a[1], b[1]) - max(a[0], b[0]))
        shorter = max(1, min(a[1] - a[0], b[1] - b[0]))
        rows.append(
            (
                f"{count} process(es): payout windows overlap, s",
                f"{overlap}",
                f"shorter window {shorter} s (A {a[1] - a[0]} s, B {b[1] - b[0]} s)",
                f"{overlap / shorter:.2f}x",
            )
        )
    if set(runs) == set(PROCESS_COUNTS):
        for one, three in zip(runs[1], runs[3], strict=True):
            rows.append(
                (
                    f"chain {one.chain_id}: payout span, 3 processes vs 1",
                    f"{three.span_blocks}",
                    f"1 process: {one.span_blocks}",
                    f"{three.span_blocks / one.span_blocks:.2f}x",
                )
            )
    for pct in (50, 99):
        value = percentile(takeovers, pct)
        rows.append(
            (
                f"takeover of chain A's key after SIGKILL p{pct}, s ({len(takeovers)} kills)",
                f"{value:.2f}",
                f"lease TTL {ttl_s:.1f} s (bound TTL + {LEASE_TICK_S:.0f} s tick)",
                f"{value / ttl_s:.2f}x",
            )
        )
    table = [("figure", "value", "same-run anchor", "ratio"), *rows]
    widths = [max(len(row[column]) for row in table) for column in range(4)]
    print("\nSummary (anchors from this run)")
    for row in table:
        print(("  " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))).rstrip())


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stakers", type=int, default=FULL["stakers"], help="depositors (leaves) per chain")
    parser.add_argument("--kills", type=int, default=FULL["kills"])
    parser.add_argument("--ttl-s", type=float, default=FULL["ttl_s"], help="relayer.lease_ttl_s")
    parser.add_argument("--database-url", default=os.environ.get(DATABASE_URL_ENV), help="PostgreSQL")
    parser.add_argument("--seed", type=int, default=23)
    parser.add_argument("--quick", action="store_true", help="2 x 200 leaves, 3 kills at a 3 s TTL")
    args = parser.parse_args()
    if args.quick:
        for key, value in QUICK.items():
            setattr(args, key, value)
    if not args.database_url or not args.database_url.startswith("postgresql"):
        print(
            f"bench/two_chains.py needs PostgreSQL (--database-url or {DATABASE_URL_ENV}): nothing measured"
        )
        return
    with tempfile.TemporaryDirectory(prefix="exorelay-bench-two-chains-") as tmp:
        home = Path(tmp)
        runs: dict[int, list[ChainPay]] = {}
        for count in PROCESS_COUNTS:
            runs[count] = bench_paying(args.database_url, home, count, args.stakers, args.ttl_s)
        takeovers = bench_takeover(args.database_url, home, args.kills, args.ttl_s, args.seed)
    print(f"\nTakeovers after SIGKILL: {[round(t, 2) for t in takeovers]} s")
    summary(runs, takeovers, args.ttl_s)


if __name__ == "__main__":
    main()
