"""Relayer benchmarks against the real devnet and anvil mining a block every second.

    .venv/bin/python bench/relayer_pipeline.py                # all three phases (~6 min on 2 cores)
    .venv/bin/python bench/relayer_pipeline.py --memory-stakers 100000 --memory-pay-s 0 \
        --skip-latency --skip-throughput             # memory measured at 100k (~15 min)
    .venv/bin/python bench/relayer_pipeline.py --skip-throughput --skip-memory --packets 30
    .venv/bin/python bench/relayer_pipeline.py --quick       # 3 packets, 500 stakers, memory at 500 and 2k

Every headline figure is printed next to its same-run floor: latency against 1 block +
``l1.confirmations`` (the next block, then final), payout blocks against the gas-bound minimum
of the very transactions sent, payout gas per leaf against the batch benchmark's, memory against
the same process's idle RSS.

1. Latency: relay packet created on Exocore -> its L1 delivery final, in L1 blocks. Packets are, in
   turn, a MINT claim, a VAULT claim and a non-freezing slash, each sent over gRPC; its Exocore block
   is then committed (``AdvanceBlocks``) after a random pause, so commits fall at uniformly random
   points of the L1 block interval (with both chains on 1 s timers the phase would be one constant
   for the whole run). The L1 head is read *in* the devnet's commit callback; "final" is the block
   of the relayer's tx_intent plus ``l1.confirmations``. Latency = final block - L1 head at commit,
   so the floor is 1 (inclusion in the next block) + confirmations. The relayer runs in this process
   (``RelayerService.start()``: its own scheduler, one cycle every ``exocore.poll_interval_s``).
2. Payout throughput: the standard scenario (``run_scenario``) with 20 operators, sized so that AVS
   A's committee (19 of the 20) holds the requested number of stakers. AVS B's claim is signed by 8
   of its 10 members, under its 9/10 threshold, so Exocore rejects it and exactly one distribution
   is paid. Minimum blocks = ceil(gas used by every payout tx / block gas limit); actual = blocks
   from the first payout tx to the last, inclusive. Also printed: how many payout txs anvil can pack
   per block (it reserves each tx's gas *limit*), the relayer's own broadcast pace, and the relayer
   worker thread's time by step (real methods wrapped with a timer, nothing replaced). Gas per paid
   leaf is printed next to bench/l1_gas.py's batch figure (batch 100, MINT, fresh recipients, like
   the paid distribution), measured in the same run by that script's own code on an anvil of its
   own; the goal is within 5 %.
3. Memory: ``python -m relayer run`` as a process of its own (keystore + TOML config), started
   before the scenario; VmRSS/VmHWM sampled from /proc while it follows the scenario's blocks
   (setup), prepares the distribution (prepare: root final -> first payout tx) and pays it (pay;
   the first ``--memory-pay-s`` seconds, 0 = until fully paid). Default: two sizes; the growth of the
   prepare/pay peak between them is extrapolated linearly to 100k leaves, and the table says so.

Each phase gets a fresh anvil + Exocore devnet + SQLite database. ``--database-url`` points the
relayer at another database instead (it must be empty: use it with one phase at a time). The
figures are CPU-bound: each phase prints the load average it started with.
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import logging
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from eth_account import Account
from sqlalchemy import Engine, func, inspect, select
from web3 import Web3

from devnet.anvil import REPO_ROOT
from devnet.chain.blockstore import Block
from devnet.scenario import CommitteeView, ScenarioClient, ScenarioReport, run_manifest_scenario
from devnet.stack import DevnetStack
from relayer.config import DEFAULT_PAYOUT_GAS_BUDGET, ExorelayConfig
from relayer.l1.keystore import write_keystore
from relayer.pipeline.jobs import Backoff
from relayer.pipeline.stages import MAX_INFLIGHT_PAYOUT_TXS, PipelineSettings
from relayer.protocol.claims import PROPORTION_ONE
from relayer.protocol.packets import FundingMode
from relayer.service import RelayerService
from storage.db import create_db_engine
from storage.job_tables import JobStage, PayoutStage, payout_job_table, relay_job_table
from storage.l1_tables import IntentState, tx_attempt_table, tx_intent_table

L1_BLOCK_TIME_S: Final = 1.0
"""The issue's condition: anvil mines one block per second."""
SIGNER_ACCOUNT_INDEX: Final = 1
"""anvil dev account 0 deploys the contracts; the relayer signs with account 1 (as the tests do)."""
FUNDER_ACCOUNT_INDEX: Final = 2
"""Deposits AVS B's WETH: any account but the relayer's, whose nonces the tx manager owns."""
AVS_B_FUNDING_WEI: Final = 2 * 10**21
"""The scenario's 1000-WETH claim plus the latency phase's 1-WETH claims (dev accounts hold 10k)."""
LATENCY_OPERATORS: Final = 4
LATENCY_STAKERS: Final = 8
"""Small distributions: the latency phase measures delivery; their payouts still run alongside."""
LATENCY_CLAIM_WEI: Final = 10**18
LATENCY_SLASH_PROPORTION: Final = PROPORTION_ONE // 1000
"""0.1 % per slash (plus the packet's index, which makes every slash id distinct)."""
PAYOUT_OPERATORS: Final = 20
"""AVS A elects 19 of 20 (its committee size is operators - 1); AVS B's 8-of-10 claim is rejected."""
LATENCY_TARGET_BLOCKS: Final = 2.0
THROUGHPUT_TARGET_RATIO: Final = 1.2
GAS_PER_LEAF_TARGET_RATIO: Final = 1.05
"""A real distribution's payout gas per leaf within 5 % of bench/l1_gas.py's batch figure."""
ANCHOR_BATCH: Final = 100
"""The batch size of bench/l1_gas.py's headline per-leaf figure (MINT, fresh recipients, like the
scenario's paid distribution: AVS A's reward token is minted, every staker is a new address)."""
MEMORY_TARGET_MB: Final = 300.0
MEMORY_TARGET_STAKERS: Final = 100_000
DISTRIBUTION_PHASES: Final = ("prepare", "pay")
MEASURED_SHARE: Final = 0.95
"""A run with at least 95 % of the target's leaves counts as measured at the target."""
DEFAULT_MEMORY_STAKERS: Final = (5_000, 20_000)
"""Two sizes: the slope between them extrapolates to 100k without counting start-up growth."""
DEFAULT_MEMORY_PAY_S: Final = 30.0
"""At 100k the peak came while preparing (tree + leaves), paying stayed below it: a default run
samples the first 30 s of paying; 0 samples until the distribution is fully paid."""
POLL_S: Final = 0.05
"""How often the bench looks at the relayer's tables (well under an L1 block)."""
RSS_SAMPLE_S: Final = 0.2
PACKET_TIMEOUT_S: Final = 60.0
"""One packet: discovery, prepare, inclusion and a confirmation take a few seconds when healthy."""
SCENARIO_PAID_TIMEOUT_S: Final = 120.0
"""The latency phase's warm-up: the scenario's two small claims delivered and paid."""
PAYOUT_TIMEOUT_BASE_S: Final = 120.0
PAYOUT_TIMEOUT_PER_LEAF_S: Final = 0.01
"""Generous: 10x the gas-bound pace (~900 leaves per 30M block)."""
RELAYER_START_TIMEOUT_S: Final = 60.0
RELAYER_STOP_TIMEOUT_S: Final = 15.0
PROGRESS_EVERY_S: Final = 15.0
KEYSTORE_PASSWORD: Final = "bench-relayer-password"  # anvil's public dev key: nothing to protect
KEYSTORE_PASSWORD_ENV: Final = "EXORELAY_BENCH_KEYSTORE_PASSWORD"
KEYSTORE_KDF_ITERATIONS: Final = 2
"""pbkdf2 with 2 rounds: anvil's public dev key needs no protection, start-up should not wait."""
KIB_PER_MIB: Final = 1024
QUICK: Final = {"packets": 3, "stakers": 500, "memory_stakers": [500, 2_000], "memory_pay_s": 0.0}
"""--quick: every phase and row, on one packet of each kind, a 500-leaf distribution and two small
memory runs (two, so that the extrapolation uses the growth between them, not start-up growth)."""


def note(message: str) -> None:
    """Progress goes to stderr; stdout carries the figures."""
    print(f"  .. {message}", file=sys.stderr, flush=True)


def load_average() -> str:
    """The machine's 1-minute load when a phase starts: figures here are CPU-bound, say how busy it was."""
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (p99 of fewer than 100 samples is the maximum)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def wait_until(done: Callable[[], bool], timeout_s: float, what: str, describe: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not done after {timeout_s:.0f} s\n{describe()}")
        time.sleep(POLL_S)


# ------------------------------------------------------------------------ chains, relayer, scenario


@contextmanager
def chains(home: Path) -> Iterator[DevnetStack]:
    """anvil at 1 s blocks + the contracts + an Exocore devnet that commits only when driven."""
    with DevnetStack(home / "chains", exocore_block_time_s=None, l1_block_time_s=L1_BLOCK_TIME_S) as stack:
        yield stack


def l1_web3(stack: DevnetStack) -> Web3:
    return Web3(Web3.HTTPProvider(stack.manifest["l1"]["rpc_url"]))


def relayer_sections(stack: DevnetStack, database_url: str, gas_budget: int) -> dict[str, Any]:
    sections = stack.relayer_settings(database_url, signer_index=SIGNER_ACCOUNT_INDEX)
    sections["l1"]["payout_gas_budget"] = gas_budget
    return sections


@contextmanager
def in_process_relayer(
    stack: DevnetStack, database_url: str, gas_budget: int
) -> Iterator[tuple[RelayerService, Engine]]:
    assert stack.anvil is not None
    engine = create_db_engine(database_url)
    config = ExorelayConfig.model_validate(relayer_sections(stack, database_url, gas_budget))
    signer = Account.from_key(stack.anvil.dev_accounts()[SIGNER_ACCOUNT_INDEX].private_key)
    service = RelayerService(config, signer=signer, engine=engine)
    service.start()
    try:
        yield service, engine
    finally:
        service.stop()


def standard_scenario(
    stack: DevnetStack, client: ScenarioClient, *, operators: int, stakers: int
) -> ScenarioReport:
    report = run_manifest_scenario(client, stack.manifest, operators=operators, stakers=stakers)
    stack.fund_avs_eth(report.avss[1], AVS_B_FUNDING_WEI, account_index=FUNDER_ACCOUNT_INDEX)
    client.advance(1)
    return report


def describe_queue(engine: Engine) -> str:
    """The relayer's work queue and intents, for a timeout message."""
    lines = []
    with engine.connect() as conn:
        for row in conn.execute(select(relay_job_table).order_by(relay_job_table.c.packet_nonce)):
            lines.append(
                f"job {row.packet_nonce} kind {row.kind} {row.stage} {row.retry_reason}: {row.retry_detail}"
            )
        for row in conn.execute(select(payout_job_table)):
            lines.append(f"payout job {row.distribution_id[:10]} {row.stage} {row.retry_reason}")
        i = tx_intent_table
        for purpose, state, count in conn.execute(
            select(i.c.purpose, i.c.state, func.count()).group_by(i.c.purpose, i.c.state)
        ):
            lines.append(f"intents {purpose} {state}: {count}")
    return "\n".join(lines[-40:])


def everything_paid(engine: Engine) -> bool:
    """Every packet delivered and every distribution's payout job PAID (leaves final on L1)."""
    with engine.connect() as conn:
        jobs = list(conn.execute(select(relay_job_table.c.stage, relay_job_table.c.kind)))
        pays = [str(s) for (s,) in conn.execute(select(payout_job_table.c.stage))]
    distributions = sum(1 for j in jobs if int(j.kind) == 2)
    return (
        bool(jobs)
        and all(j.stage == JobStage.DELIVERED.value for j in jobs)
        and len(pays) == distributions
        and all(s == PayoutStage.PAID.value for s in pays)
    )


# ------------------------------------------------------------------------ 1. latency


@dataclass(frozen=True)
class Commit:
    l1_head: int
    at: datetime


class CommitLog:
    """The L1 head at the moment each Exocore block is committed (the devnet calls this on append)."""

    def __init__(self, rpc_url: str) -> None:
        # A client of its own: it runs in the devnet's sealing thread.
        self._w3 = Web3(Web3.HTTPProvider(rpc_url))
        self.commits: dict[int, Commit] = {}

    def __call__(self, block: Block) -> None:
        self.commits[block.height] = Commit(int(self._w3.eth.block_number), datetime.now(UTC))


@dataclass(frozen=True)
class PacketTiming:
    nonce: int
    kind: str
    head_at_commit: int
    included_block: int
    final_block: int
    seen_head: int
    """L1 head when the bench saw the job delivered (the relayer's own view of finality)."""
    discover_s: float
    broadcast_s: float

    @property
    def blocks(self) -> int:
        return self.final_block - self.head_at_commit


@dataclass
class LatencyResult:
    confirmations: int
    poll_interval_s: float
    packets: list[PacketTiming] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    load: str = ""


PACKET_KINDS: Final = ("claim MINT", "claim VAULT", "slash")


def bench_latency(
    packets: int, home: Path, database_url: str | None, gas_budget: int, seed: int
) -> LatencyResult:
    rng = random.Random(seed)
    url = database_url or f"sqlite:///{home / 'latency.sqlite'}"
    with chains(home / "latency") as stack:
        assert stack.devnet is not None
        commits = CommitLog(stack.manifest["l1"]["rpc_url"])
        subscription = stack.devnet.store.subscribe(commits)
        w3 = l1_web3(stack)
        exocore = stack.manifest["exocore"]
        with (
            ScenarioClient.for_manifest(exocore, manifest_keystores=False, sign_reports=False) as client,
            in_process_relayer(stack, url, gas_budget) as (service, engine),
        ):
            result = LatencyResult(service.config.l1.confirmations, service.config.exocore.poll_interval_s)
            note(f"latency: standard scenario ({LATENCY_OPERATORS} operators, {LATENCY_STAKERS} stakers)")
            report = standard_scenario(stack, client, operators=LATENCY_OPERATORS, stakers=LATENCY_STAKERS)
            wait_until(
                lambda: everything_paid(engine),
                SCENARIO_PAID_TIMEOUT_S,
                "the scenario's claims",
                lambda: describe_queue(engine),
            )
            committees = [client.committee(avs) for avs in report.avss]
            tokens = [stack.manifest["l1"]["contracts"][name] for name in ("reward_token", "weth")]
            kinds = list(PACKET_KINDS)
            result.load = load_average()
            note(f"latency: {packets} packets, one at a time")
            for index in range(packets):
                kind = kinds[index % len(kinds)]
                timing = one_packet(
                    client, engine, w3, commits, committees, tokens, kind, index, rng, result.confirmations
                )
                if isinstance(timing, str):
                    result.failures.append(timing)
                    note(timing)
                    if kind == "slash":
                        kinds.remove("slash")  # e.g. the operator is frozen: claims only from here on
                    continue
                result.packets.append(timing)
        subscription.close()
    return result


def highest_nonce(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.max(relay_job_table.c.packet_nonce))).scalar() or 0)


def one_packet(
    client: ScenarioClient,
    engine: Engine,
    w3: Web3,
    commits: CommitLog,
    committees: Sequence[CommitteeView],
    tokens: Sequence[str],
    kind: str,
    index: int,
    rng: random.Random,
    confirmations: int,
) -> PacketTiming | str:
    """Create one packet, commit its block at a random phase, wait until it is final on L1."""
    before = highest_nonce(engine)
    if kind == "slash":
        a = committees[0]
        client.slash(a, index % len(a.pubkeys), LATENCY_SLASH_PROPORTION + index, freeze=False)
    else:
        which = 0 if kind == "claim MINT" else 1
        committee = committees[which]
        client.claim(committee, range(len(committee.pubkeys)), tokens[which], LATENCY_CLAIM_WEI + index)
    time.sleep(rng.uniform(0, L1_BLOCK_TIME_S))
    client.advance(1)
    j = relay_job_table
    deadline = time.monotonic() + PACKET_TIMEOUT_S
    while True:
        with engine.connect() as conn:
            row = conn.execute(select(j).where(j.c.packet_nonce > before).order_by(j.c.packet_nonce)).first()
        if row is not None and row.stage == JobStage.DELIVERED.value:
            seen_head = int(w3.eth.block_number)
            break
        if time.monotonic() > deadline:
            state = "not discovered" if row is None else f"{row.stage} {row.retry_reason}: {row.retry_detail}"
            return f"{kind} packet {index}: not final after {PACKET_TIMEOUT_S:.0f} s ({state})"
        time.sleep(POLL_S)
    if row.tx_intent_id is None:
        return f"{kind} packet {row.packet_nonce}: delivered without an intent of ours"
    with engine.connect() as conn:
        intent = conn.execute(select(tx_intent_table).where(tx_intent_table.c.id == row.tx_intent_id)).one()
        first_broadcast = conn.execute(
            select(tx_attempt_table.c.broadcast_at)
            .where(tx_attempt_table.c.intent_id == intent.id)
            .order_by(tx_attempt_table.c.id)
        ).scalar()
    if intent.state != IntentState.FINALIZED.value or intent.block_number is None:
        return f"{kind} packet {row.packet_nonce}: intent {intent.state} {intent.reason_code}"
    commit = commits.commits[int(row.exocore_height)]
    return PacketTiming(
        nonce=int(row.packet_nonce),
        kind=kind,
        head_at_commit=commit.l1_head,
        included_block=int(intent.block_number),
        final_block=int(intent.block_number) + confirmations,
        seen_head=seen_head,
        discover_s=(row.discovered_at - commit.at).total_seconds(),
        broadcast_s=(first_broadcast - commit.at).total_seconds() if first_broadcast else math.nan,
    )


def print_latency(result: LatencyResult) -> None:
    print(
        f"\nLatency: packet committed on Exocore -> delivery final on L1 ({L1_BLOCK_TIME_S:.0f} s blocks,"
        f" {result.confirmations} confirmation(s), relayer cycle every {result.poll_interval_s} s;"
        f" {result.load})"
    )
    rows = result.packets
    widths = (6, 12, 12, 9, 6, 9, 12, 13)
    print_row(
        ("nonce", "kind", "head@commit", "included", "final", "blocks", "discover s", "broadcast s"), widths
    )
    for p in rows:
        print_row(
            (
                str(p.nonce),
                p.kind,
                str(p.head_at_commit),
                str(p.included_block),
                str(p.final_block),
                str(p.blocks),
                f"{p.discover_s:.2f}",
                f"{p.broadcast_s:.2f}",
            ),
            widths,
        )
    for failure in result.failures:
        print(f"  FAILED: {failure}")
    if not rows:
        return
    blocks = [float(p.blocks) for p in rows]
    inclusion = [float(p.included_block - p.head_at_commit) for p in rows]
    seen = [float(p.seen_head - p.head_at_commit) for p in rows]
    print(
        f"  {len(rows)} packets: p50 {percentile(blocks, 50):.0f}, p99 {percentile(blocks, 99):.0f},"
        f" mean {sum(blocks) / len(blocks):.2f}, max {max(blocks):.0f} blocks"
        f" (floor {1 + result.confirmations}: next block + confirmations)"
    )
    print(
        f"  inclusion after commit: p50 {percentile(inclusion, 50):.0f} blocks;"
        f" commit -> discovered p50 {median([p.discover_s for p in rows]):.2f} s,"
        f" -> broadcast p50 {median([p.broadcast_s for p in rows]):.2f} s"
        f" (max {max(p.broadcast_s for p in rows):.2f} s);"
        f" relayer saw it final p50 {percentile(seen, 50):.0f} blocks after commit"
    )
    by_kind = Counter(p.kind for p in rows)
    for kind in by_kind:
        kind_blocks = [float(p.blocks) for p in rows if p.kind == kind]
        print(f"  {kind}: {len(kind_blocks)} packets, p50 {percentile(kind_blocks, 50):.0f} blocks")


# ------------------------------------------------------------------------ 2. payout throughput


STAGE_STEPS: Final = (
    ("follower", "poll", "follow Exocore (block_results)"),
    ("feed", "apply", "index Exocore blocks (incl. leaves)"),
    ("l1_ingestor", "poll", "index L1 logs (per paid leaf)"),
    ("pipeline", "run_cycle", "pipeline stages, all"),
    ("pipeline", "prepare_and_submit", "  prepare + submit packets"),
    ("txm", "tick", "  tx manager tick"),
    ("pipeline", "confirm", "  confirm"),
    ("pipeline", "pay", "  pay (select leaves, multiproofs)"),
    ("txm", "sign_new", "  sign + send the batches just queued"),
    ("txm", "_sign_one", "    simulate+estimate+sign+record 1 tx"),
)
"""Steps of one relayer cycle timed in place (a wrapper around the real method; nothing replaced).
``_sign_one`` is private to the tx manager: if it is renamed the row is simply left out."""
INGEST_STEP: Final = STAGE_STEPS[2][2]
"""The L1 ingestor's row: its total over the leaves paid is the ingestion cost per paid leaf."""


class StageTimer:
    """Wall time the relayer's worker thread spends in each step of its cycle."""

    def __init__(self) -> None:
        self.totals: dict[str, list[float]] = {}
        self.started = time.monotonic()
        self.enabled = False

    def install(self, service: RelayerService) -> None:
        for part_name, method, label in STAGE_STEPS:
            part = getattr(service.parts, part_name)
            original = getattr(part, method, None)
            if original is None:
                continue
            setattr(part, method, self._timed(original, label))

    def start(self) -> None:
        self.totals.clear()
        self.started = time.monotonic()
        self.enabled = True

    def _timed(self, original: Callable[..., Any], label: str) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            begun = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                if self.enabled:
                    entry = self.totals.setdefault(label, [0.0, 0.0, 0.0])
                    elapsed = time.perf_counter() - begun
                    entry[0] += 1
                    entry[1] += elapsed
                    entry[2] = max(entry[2], elapsed)

        return timed

    def print(self, title: str) -> None:
        window = time.monotonic() - self.started
        print(f"{title}, over {window:.1f} s:")
        widths = (42, 7, 9, 8, 9)
        print_row(("step", "calls", "total s", "mean ms", "max ms"), widths)
        for _part, _method, label in STAGE_STEPS:
            if label in self.totals:
                calls, total, longest = self.totals[label]
                print_row(
                    (
                        label,
                        f"{calls:.0f}",
                        f"{total:.1f}",
                        f"{1000 * total / calls:.0f}",
                        f"{1000 * longest:.0f}",
                    ),
                    widths,
                )


@dataclass
class ThroughputResult:
    stakers: int
    scenario_stakers: int
    gas_budget: int
    leaves_per_tx_setting: int
    setup_s: float = 0.0
    leaf_counts: list[int] = field(default_factory=list)
    payout_txs: int = 0
    leaves_paid: int = 0
    total_gas: int = 0
    gas_limit: int = 0
    first_block: int = 0
    last_block: int = 0
    root_final_block: int = 0
    root_final_ts: int = 0
    last_ts: int = 0
    txs_per_block: Counter[int] = field(default_factory=Counter)
    fill: list[float] = field(default_factory=list)
    """Gas used / gas limit of each block in the span."""
    wall_s: float = 0.0
    max_tx_gas_limit: int = 0
    """The largest gas limit of a payout tx: anvil reserves a tx's whole limit when it packs a block."""
    broadcast_s: float = 0.0
    """First to last payout broadcast: the relayer's own pace, whatever the chain does."""
    stages: StageTimer | None = None
    load: str = ""
    batch_gas_per_leaf: int = 0
    """bench/l1_gas.py's per-leaf figure at ``ANCHOR_BATCH`` (MINT, fresh), measured in this run."""

    @property
    def gas_per_leaf(self) -> float:
        return self.total_gas / self.leaves_paid

    @property
    def gas_per_leaf_ratio(self) -> float:
        return self.gas_per_leaf / self.batch_gas_per_leaf

    @property
    def min_blocks(self) -> int:
        return math.ceil(self.total_gas / self.gas_limit)

    @property
    def span_blocks(self) -> int:
        return self.last_block - self.first_block + 1

    @property
    def ratio(self) -> float:
        return self.span_blocks / self.min_blocks

    @property
    def txs_per_full_block(self) -> int:
        """How many average payout txs anvil fits in a block: each needs its gas *limit* free."""
        used = self.total_gas / self.payout_txs
        return max(1, int((self.gas_limit - self.max_tx_gas_limit) // used) + 1)

    @property
    def packing_bound_ratio(self) -> float:
        """The best ratio a relayer could reach with these txs, however fast it signs."""
        return math.ceil(self.payout_txs / self.txs_per_full_block) / self.min_blocks


def scenario_stakers_for(stakers: int, operators: int) -> int:
    """Scenario stakers are spread evenly over the operators; AVS A's committee is all but one."""
    return math.ceil(stakers * operators / (operators - 1))


def bench_throughput(stakers: int, home: Path, database_url: str | None, gas_budget: int) -> ThroughputResult:
    url = database_url or f"sqlite:///{home / 'throughput.sqlite'}"
    # The batch size the relayer derives from its gas budget (chain id and backoff play no part).
    settings = PipelineSettings(l1_chain_id=0, backoff=Backoff(1.0, 1.0), payout_gas_budget=gas_budget)
    result = ThroughputResult(
        stakers=stakers,
        scenario_stakers=scenario_stakers_for(stakers, PAYOUT_OPERATORS),
        gas_budget=gas_budget,
        leaves_per_tx_setting=settings.leaves_per_payout_tx,
    )
    with chains(home / "throughput") as stack:
        w3 = l1_web3(stack)
        exocore = stack.manifest["exocore"]
        with (
            ScenarioClient.for_manifest(exocore, manifest_keystores=False, sign_reports=False) as client,
            in_process_relayer(stack, url, gas_budget) as (service, engine),
        ):
            result.stages = StageTimer()
            result.stages.install(service)
            note(
                f"throughput: standard scenario, {PAYOUT_OPERATORS} operators,"
                f" {result.scenario_stakers:,} stakers over gRPC"
            )
            started = time.perf_counter()
            standard_scenario(stack, client, operators=PAYOUT_OPERATORS, stakers=result.scenario_stakers)
            result.setup_s = time.perf_counter() - started
            note(f"throughput: scenario set up in {result.setup_s:.1f} s; relayer paying")
            wait_until(
                lambda: payout_job_exists(engine),
                PAYOUT_TIMEOUT_BASE_S,
                "the distribution's payout job",
                lambda: describe_queue(engine),
            )
            result.stages.start()
            result.load = load_average()
            timeout = PAYOUT_TIMEOUT_BASE_S + PAYOUT_TIMEOUT_PER_LEAF_S * result.scenario_stakers
            wait_with_progress(engine, timeout)
            collect_payouts(engine, w3, result, service.config.l1.confirmations)
    note(f"throughput: batch anchor (bench/l1_gas.py, batch {ANCHOR_BATCH}, MINT, fresh) on its own anvil")
    result.batch_gas_per_leaf = batch_anchor()
    return result


def batch_anchor() -> int:
    """bench/l1_gas.py's batch figure, measured by its own code (the bench directory is a package of
    the checkout, not of the installed distributions: import it from the repository root)."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.append(str(REPO_ROOT))
    l1_gas = importlib.import_module("bench.l1_gas")
    gas: int = l1_gas.batch_payout_gas_per_leaf(FundingMode.MINT, ANCHOR_BATCH)
    return gas


def payout_job_exists(engine: Engine) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(payout_job_table.c.stage)).first() is not None


def wait_with_progress(engine: Engine, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    last_note = time.monotonic()
    while not everything_paid(engine):
        if time.monotonic() > deadline:
            raise TimeoutError(f"payouts not done after {timeout_s:.0f} s\n{describe_queue(engine)}")
        if time.monotonic() - last_note > PROGRESS_EVERY_S:
            last_note = time.monotonic()
            i = tx_intent_table
            with engine.connect() as conn:
                done = conn.execute(
                    select(func.count()).where(
                        i.c.purpose == "payout", i.c.state == IntentState.FINALIZED.value
                    )
                ).scalar()
            note(f"{done} payout txs final")
        time.sleep(POLL_S * 4)


def collect_payouts(engine: Engine, w3: Web3, result: ThroughputResult, confirmations: int) -> None:
    i = tx_intent_table
    with engine.connect() as conn:
        payouts = list(
            conn.execute(
                select(i.c.block_number, i.c.gas_used, i.c.leaf_indices).where(
                    i.c.purpose == "payout", i.c.state == IntentState.FINALIZED.value
                )
            )
        )
        roots = [
            int(b)
            for (b,) in conn.execute(
                select(i.c.block_number).where(
                    i.c.purpose == "distribution", i.c.state == IntentState.FINALIZED.value
                )
            )
        ]
        result.leaf_counts = [int(c) for (c,) in conn.execute(select(payout_job_table.c.leaf_count))]
        a = tx_attempt_table
        attempts = list(
            conn.execute(
                select(a.c.gas_limit, a.c.broadcast_at)
                .join(i, i.c.id == a.c.intent_id)
                .where(i.c.purpose == "payout", i.c.state == IntentState.FINALIZED.value)
            )
        )
    result.max_tx_gas_limit = max(int(row.gas_limit) for row in attempts)
    sent = [row.broadcast_at for row in attempts if row.broadcast_at is not None]
    result.broadcast_s = (max(sent) - min(sent)).total_seconds()
    blocks = [int(p.block_number) for p in payouts]
    result.payout_txs = len(payouts)
    result.leaves_paid = sum(len(p.leaf_indices) for p in payouts)
    result.total_gas = sum(int(p.gas_used) for p in payouts)
    result.first_block, result.last_block = min(blocks), max(blocks)
    per_block = Counter(blocks)
    result.txs_per_block = Counter(
        per_block.get(n, 0) for n in range(result.first_block, result.last_block + 1)
    )
    first = w3.eth.get_block(result.first_block)
    result.gas_limit = int(first["gasLimit"])
    for number in range(result.first_block, result.last_block + 1):
        block = w3.eth.get_block(number)
        result.fill.append(int(block["gasUsed"]) / int(block["gasLimit"]))
        if number == result.last_block:
            result.last_ts = int(block["timestamp"])
    result.root_final_block = max(roots) + confirmations
    result.root_final_ts = int(w3.eth.get_block(result.root_final_block)["timestamp"])
    result.wall_s = float(result.last_ts - result.root_final_ts)


def print_throughput(r: ThroughputResult) -> None:
    print(
        f"\nPayout throughput: {r.scenario_stakers:,} scenario stakers ({PAYOUT_OPERATORS} operators),"
        f" distribution leaf counts {r.leaf_counts}; l1.payout_gas_budget {r.gas_budget:,}"
        f" -> {r.leaves_per_tx_setting} leaves per tx, at most {MAX_INFLIGHT_PAYOUT_TXS} unmined txs;"
        f" {r.load} when paying started"
    )
    print(f"  scenario setup over gRPC: {r.setup_s:.1f} s ({r.scenario_stakers / r.setup_s:,.0f} stakers/s)")
    print(
        f"  {r.leaves_paid:,} leaves in {r.payout_txs} txs, {r.total_gas:,} gas"
        f" ({r.total_gas / r.leaves_paid:,.0f} gas/leaf, {r.total_gas / r.payout_txs / 1e6:.2f}M gas/tx)"
    )
    print(
        f"  blocks {r.first_block}..{r.last_block}: actual {r.span_blocks}, gas-bound minimum {r.min_blocks}"
        f" (block gas limit {r.gas_limit:,}), ratio {r.ratio:.2f}"
    )
    histogram = ", ".join(f"{n} txs: {c}" for n, c in sorted(r.txs_per_block.items()))
    print(
        f"  payout txs per block in the span: {histogram}; mean block fill"
        f" {100 * sum(r.fill) / len(r.fill):.0f} %"
    )
    lead = r.first_block - r.root_final_block
    print(
        f"  root final at block {r.root_final_block}; first payout {lead} block(s) later;"
        f" {r.leaves_paid / (r.span_blocks * L1_BLOCK_TIME_S):,.0f} leaves/s over the span,"
        f" {r.leaves_paid / max(r.wall_s, L1_BLOCK_TIME_S):,.0f} leaves/s from root final"
    )
    gas_pace = r.gas_limit / (r.total_gas / r.leaves_paid) / L1_BLOCK_TIME_S
    sign_pace = r.payout_txs / max(r.broadcast_s, 1e-9)
    print(
        f"  packing: tx gas limit up to {r.max_tx_gas_limit:,} (estimate x margin), so anvil fits"
        f" {r.txs_per_full_block} payout tx(s) per block: best possible ratio {r.packing_bound_ratio:.2f}"
    )
    print(
        f"  relayer pace: {r.payout_txs} payout txs broadcast over {r.broadcast_s:.1f} s"
        f" = {sign_pace:.2f} tx/s ({sign_pace * r.leaves_paid / r.payout_txs:,.0f} leaves/s);"
        f" the gas limit allows {gas_pace:,.0f} leaves/s"
    )
    if r.stages is not None:
        r.stages.print("  relayer worker thread, time by step (from the relayer's first payout job)")
        ingest = r.stages.totals.get(INGEST_STEP)
        if ingest is not None:
            print(
                f"  L1 log ingestion: {1000 * ingest[1] / r.leaves_paid:.2f} ms of the thread per paid leaf"
            )


# ------------------------------------------------------------------------ 3. memory


@dataclass(frozen=True)
class RssSample:
    at: float
    rss_kb: int
    hwm_kb: int
    phase: str


class RssSampler(threading.Thread):
    """Reads VmRSS/VmHWM of ``pid`` from /proc every RSS_SAMPLE_S, tagged with the current phase."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True, name="rss-sampler")
        self.pid = pid
        self.phase = "start-up"
        self.samples: list[RssSample] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        status = Path(f"/proc/{self.pid}/status")
        while not self._stop_event.is_set():
            try:
                fields = dict(
                    line.split(":", 1) for line in status.read_text().splitlines() if line.startswith("Vm")
                )
            except OSError:
                return  # the process is gone
            self.samples.append(
                RssSample(
                    time.monotonic(),
                    int(fields["VmRSS"].split()[0]),
                    int(fields["VmHWM"].split()[0]),
                    self.phase,
                )
            )
            self._stop_event.wait(RSS_SAMPLE_S)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()

    def peak_mb(self, phase: str) -> float:
        values = [s.rss_kb for s in self.samples if s.phase == phase]
        return max(values) / KIB_PER_MIB if values else math.nan

    def last_mb(self, phase: str) -> float:
        values = [s.rss_kb for s in self.samples if s.phase == phase]
        return values[-1] / KIB_PER_MIB if values else math.nan


@dataclass
class MemoryResult:
    stakers: int
    scenario_stakers: int
    leaves: int = 0
    phases: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    """phase -> (seconds, peak RSS MiB, RSS at its end MiB)."""
    hwm_mb: float = 0.0
    idle_mb: float = 0.0
    paid: bool = False
    setup_s: float = 0.0
    samples: list[RssSample] = field(default_factory=list)
    load: str = ""

    @property
    def peak_mb(self) -> float:
        return max(peak for _, peak, _ in self.phases.values())

    @property
    def distribution_peak_mb(self) -> float:
        """Peak while preparing and paying the distribution (what grows with its leaves)."""
        return max(self.phases[phase][1] for phase in DISTRIBUTION_PHASES if phase in self.phases)


@dataclass(frozen=True)
class MemoryReport:
    """One or more runs; below 100k the figure at 100k is extrapolated from the two largest."""

    runs: list[MemoryResult]

    @property
    def largest(self) -> MemoryResult:
        return max(self.runs, key=lambda r: r.leaves)

    @property
    def measured(self) -> bool:
        return self.largest.leaves >= MEMORY_TARGET_STAKERS * MEASURED_SHARE

    @property
    def slope_kb_per_leaf(self) -> float:
        """Growth of the prepare/pay peak per leaf between the two largest runs (cancels the fixed
        warm-up cost); with one run, that peak over idle (an over-estimate: warm-up counts too)."""
        ordered = sorted(self.runs, key=lambda r: r.leaves)
        if len(ordered) >= 2 and ordered[-1].leaves > ordered[-2].leaves:
            big, small = ordered[-1], ordered[-2]
            growth = big.distribution_peak_mb - small.distribution_peak_mb
            return growth * KIB_PER_MIB / (big.leaves - small.leaves)
        big = ordered[-1]
        return (big.distribution_peak_mb - big.idle_mb) * KIB_PER_MIB / max(big.leaves, 1)

    @property
    def at_target_mb(self) -> float:
        """Measured peak, or the larger of the largest run's peak and its extrapolated prepare/pay peak."""
        big = self.largest
        if self.measured:
            return big.peak_mb
        extra = self.slope_kb_per_leaf * (MEMORY_TARGET_STAKERS - big.leaves) / KIB_PER_MIB
        return max(big.peak_mb, big.distribution_peak_mb + extra)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def write_relayer_config(stack: DevnetStack, directory: Path, database_url: str, gas_budget: int) -> Path:
    """TOML config + encrypted keystore for ``exorelay run`` (what an operator would write)."""
    assert stack.anvil is not None
    keystore = directory / "signer.json"
    write_keystore(
        keystore,
        stack.anvil.dev_accounts()[SIGNER_ACCOUNT_INDEX].private_key,
        KEYSTORE_PASSWORD,
        kdf="pbkdf2",
        iterations=KEYSTORE_KDF_ITERATIONS,
    )
    sections = relayer_sections(stack, database_url, gas_budget)
    sections["l1"]["keystore_path"] = str(keystore)
    sections["l1"]["keystore_password_env"] = KEYSTORE_PASSWORD_ENV
    sections["logging"] = {"level": "info", "format": "json"}
    lines: list[str] = []
    for name, keys in sections.items():
        lines.append(f"[{name}]")
        lines.extend(f"{key} = {toml_value(value)}" for key, value in keys.items() if value is not None)
        lines.append("")
    path = directory / "exorelay.toml"
    path.write_text("\n".join(lines))
    return path


@contextmanager
def relayer_process(config: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, KEYSTORE_PASSWORD_ENV: KEYSTORE_PASSWORD}
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "relayer", "run", "--config", str(config)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=REPO_ROOT,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=RELAYER_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def log_tail(log: Path, lines: int = 15) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def bench_memory(
    stakers: int, home: Path, database_url: str | None, gas_budget: int, pay_timeout_s: float
) -> MemoryResult:
    result = MemoryResult(stakers=stakers, scenario_stakers=scenario_stakers_for(stakers, PAYOUT_OPERATORS))
    directory = home / "memory"
    directory.mkdir(parents=True, exist_ok=True)
    url = database_url or f"sqlite:///{directory / 'relayer.sqlite'}"
    log = directory / "relayer.log"
    with chains(directory) as stack:
        config = write_relayer_config(stack, directory, url, gas_budget)
        exocore = stack.manifest["exocore"]
        reader = create_db_engine(url, read_only=True)
        with (
            ScenarioClient.for_manifest(exocore, manifest_keystores=False, sign_reports=False) as client,
            relayer_process(config, log) as process,
        ):
            sampler = RssSampler(process.pid)
            sampler.start()
            marks: dict[str, float] = {"start-up": time.monotonic()}

            def enter(phase: str) -> None:
                sampler.phase = phase
                marks[phase] = time.monotonic()

            def alive() -> None:
                if process.poll() is not None:
                    raise RuntimeError(f"the relayer exited with {process.returncode}:\n{log_tail(log)}")

            def started() -> bool:
                alive()
                return inspect(reader).has_table(relay_job_table.name) and sampler.samples != []

            wait_until(started, RELAYER_START_TIMEOUT_S, "relayer start-up", lambda: log_tail(log))
            enter("idle")
            time.sleep(3 * RSS_SAMPLE_S * 5)  # a few seconds of a started, idle relayer
            result.idle_mb = median([s.rss_kb for s in sampler.samples if s.phase == "idle"]) / KIB_PER_MIB
            enter("setup")
            result.load = load_average()
            note(
                f"memory: relayer pid {process.pid} (idle {result.idle_mb:.0f} MiB); scenario with"
                f" {result.scenario_stakers:,} stakers over gRPC"
            )
            setup_started = time.perf_counter()
            standard_scenario(stack, client, operators=PAYOUT_OPERATORS, stakers=result.scenario_stakers)
            result.setup_s = time.perf_counter() - setup_started
            enter("prepare")
            note(f"memory: scenario set up in {result.setup_s:.0f} s; relayer preparing")

            def paying() -> bool:
                alive()
                with reader.connect() as conn:
                    return (
                        conn.execute(
                            select(func.count()).where(tx_intent_table.c.purpose == "payout")
                        ).scalar_one()
                        > 0
                    )

            timeout = PAYOUT_TIMEOUT_BASE_S + PAYOUT_TIMEOUT_PER_LEAF_S * result.scenario_stakers
            wait_until(paying, timeout, "first payout tx", lambda: describe_queue(reader) + log_tail(log))
            enter("pay")
            note("memory: relayer paying")
            pay_deadline = time.monotonic() + (pay_timeout_s or timeout)
            while time.monotonic() < pay_deadline:
                alive()
                if everything_paid(reader):
                    result.paid = True
                    break
                time.sleep(POLL_S * 10)
            enter("done")
            with reader.connect() as conn:
                result.leaves = int(
                    conn.execute(select(func.sum(payout_job_table.c.leaf_count))).scalar() or 0
                )
            sampler.stop()
        reader.dispose()
    # Each phase lasts until the next one starts ("done" is only a closing mark).
    starts = sorted(marks.items(), key=lambda item: item[1])
    for (phase, start), (_next, end) in itertools.pairwise(starts):
        result.phases[phase] = (end - start, sampler.peak_mb(phase), sampler.last_mb(phase))
    result.hwm_mb = max(s.hwm_kb for s in sampler.samples) / KIB_PER_MIB
    result.samples = sampler.samples
    return result


def print_memory(report: MemoryReport) -> None:
    for r in sorted(report.runs, key=lambda run: run.leaves):
        print(
            f"\nMemory: `python -m relayer run` (own process) over a {r.scenario_stakers:,}-staker scenario,"
            f" {r.leaves:,} leaves to pay; RSS sampled every {RSS_SAMPLE_S} s; {r.load} at setup"
        )
        widths = (10, 8, 14, 14)
        print_row(("phase", "s", "peak RSS MiB", "end RSS MiB"), widths)
        for phase, (seconds, peak, end) in r.phases.items():
            print_row((phase, f"{seconds:.0f}", f"{peak:.0f}", f"{end:.0f}"), widths)
        status = "fully paid" if r.paid else "sampling stopped before it was fully paid (--memory-pay-s)"
        print(f"  {status}; VmHWM {r.hwm_mb:.0f} MiB; idle {r.idle_mb:.0f} MiB")
    print(f"  prepare/pay peak grows {report.slope_kb_per_leaf:.2f} KiB per leaf")
    if not report.measured:
        print(
            f"  EXTRAPOLATED (linear) to {MEMORY_TARGET_STAKERS:,} leaves: {report.at_target_mb:.0f} MiB"
            f" (largest run {report.largest.leaves:,} leaves;"
            f" --memory-stakers {MEMORY_TARGET_STAKERS} --memory-pay-s 0 measures it, ~15 min)"
        )


# ------------------------------------------------------------------------ report


def print_row(cells: Sequence[str], widths: Sequence[int]) -> None:
    print(" ".join(f"{cell:>{width}}" for cell, width in zip(cells, widths, strict=True)))


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def summary(
    latency: LatencyResult | None, throughput: ThroughputResult | None, memory: MemoryReport | None
) -> None:
    """figure | value | same-run anchor | ratio | goal | verdict: the targets are on the figures,
    the anchors say how far each is from what the chains allow in this very run."""
    rows: list[tuple[str, str, str, str, str, str]] = []
    if latency is not None and latency.packets:
        blocks = [float(p.blocks) for p in latency.packets]
        p50, p99 = percentile(blocks, 50), percentile(blocks, 99)
        floor = 1 + latency.confirmations
        anchor = f"floor {floor} (next block + {latency.confirmations} conf.)"
        rows.append(
            (
                f"latency p50, blocks ({len(blocks)} packets)",
                f"{p50:.0f}",
                anchor,
                f"{p50 / floor:.2f}x",
                f"<= {LATENCY_TARGET_BLOCKS:.0f} blocks",
                verdict(p50 <= LATENCY_TARGET_BLOCKS),
            )
        )
        rows.append(
            ("latency p99, blocks", f"{percentile(blocks, 99):.0f}", anchor, f"{p99 / floor:.2f}x", "-", "")
        )
    if throughput is not None:
        rows.append(
            (
                f"payout blocks ({throughput.leaves_paid:,} leaves)",
                f"{throughput.span_blocks}",
                f"gas-bound minimum {throughput.min_blocks}",
                f"{throughput.ratio:.2f}x",
                f"<= {THROUGHPUT_TARGET_RATIO}x",
                verdict(throughput.ratio <= THROUGHPUT_TARGET_RATIO),
            )
        )
        rows.append(
            (
                "payout gas per leaf (MINT, fresh)",
                f"{throughput.gas_per_leaf:,.0f}",
                f"bench/l1_gas.py batch {ANCHOR_BATCH}: {throughput.batch_gas_per_leaf:,}",
                f"{throughput.gas_per_leaf_ratio:.3f}x",
                f"<= {GAS_PER_LEAF_TARGET_RATIO}x",
                verdict(throughput.gas_per_leaf_ratio <= GAS_PER_LEAF_TARGET_RATIO),
            )
        )
    if memory is not None:
        label = "relayer RSS at 100k leaves, MiB" + ("" if memory.measured else " (extrapolated)")
        idle = memory.largest.idle_mb
        rows.append(
            (
                label,
                f"{memory.at_target_mb:.0f}",
                f"idle {idle:.0f} MiB",
                f"{memory.at_target_mb / idle:.2f}x",
                f"<= {MEMORY_TARGET_MB:.0f} MiB",
                verdict(memory.at_target_mb <= MEMORY_TARGET_MB),
            )
        )
        for run in sorted(memory.runs, key=lambda r: r.leaves):
            rows.append(
                (
                    f"relayer peak RSS at {run.leaves:,} leaves, MiB",
                    f"{run.peak_mb:.0f}",
                    f"idle {run.idle_mb:.0f} MiB",
                    f"{run.peak_mb / run.idle_mb:.2f}x",
                    "-",
                    "",
                )
            )
    table = [("figure", "value", "same-run anchor", "ratio", "goal", "verdict"), *rows]
    widths = [max(len(row[column]) for row in table) for column in range(6)]
    print("\nSummary (anchors from this run)")
    for row in table:
        print(
            ("  " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))).rstrip()
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=21, help="latency: packets measured (>= 10 advised)")
    parser.add_argument("--stakers", type=int, default=10_000, help="throughput: stakers in the distribution")
    parser.add_argument(
        "--memory-stakers",
        type=lambda text: [int(part) for part in text.split(",")],
        default=list(DEFAULT_MEMORY_STAKERS),
        help="memory: stakers per run, comma-separated (default %(default)s)",
    )
    parser.add_argument(
        "--memory-pay-s",
        type=float,
        default=DEFAULT_MEMORY_PAY_S,
        help="memory: sample this long once paying starts (0: until fully paid)",
    )
    parser.add_argument(
        "--gas-budget", type=int, default=DEFAULT_PAYOUT_GAS_BUDGET, help="l1.payout_gas_budget"
    )
    parser.add_argument("--rss-csv", type=Path, default=None, help="memory: write every RSS sample here")
    parser.add_argument("--database-url", default=None, help="relayer database (default: SQLite per phase)")
    parser.add_argument("--seed", type=int, default=5, help="latency: random commit phases")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument(
        "--quick", action="store_true", help="3 packets, 500 stakers, memory runs at 500 and 2k stakers"
    )
    args = parser.parse_args()
    if args.quick:
        for name, value in QUICK.items():
            setattr(args, name, value)
    planned = (
        (not args.skip_latency)
        + (not args.skip_throughput)
        + (0 if args.skip_memory else len(args.memory_stakers))
    )
    if args.database_url is not None and planned > 1:
        parser.error(f"--database-url serves one run, this would make {planned}: skip the other phases")
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    # "skipped: maximum number of running instances reached" on every overrunning cycle: the step
    # timings say the same with numbers.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    latency = throughput = memory = None
    with tempfile.TemporaryDirectory(prefix="exorelay-bench-") as tmp:
        home = Path(tmp)
        if not args.skip_latency:
            latency = bench_latency(args.packets, home, args.database_url, args.gas_budget, args.seed)
            print_latency(latency)
        if not args.skip_throughput:
            throughput = bench_throughput(args.stakers, home, args.database_url, args.gas_budget)
            print_throughput(throughput)
        if not args.skip_memory:
            runs = [
                bench_memory(
                    size, home / f"memory-{size}", args.database_url, args.gas_budget, args.memory_pay_s
                )
                for size in args.memory_stakers
            ]
            memory = MemoryReport(runs)
            print_memory(memory)
            if args.rss_csv is not None:
                lines = ["stakers,t_s,rss_kib,hwm_kib,phase\n"]
                for run in runs:
                    start = run.samples[0].at
                    lines.extend(
                        f"{run.stakers},{s.at - start:.1f},{s.rss_kb},{s.hwm_kb},{s.phase}\n"
                        for s in run.samples
                    )
                args.rss_csv.write_text("".join(lines))
    summary(latency, throughput, memory)


if __name__ == "__main__":
    main()
