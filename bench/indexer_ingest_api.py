"""Indexer benchmark on PostgreSQL: payout ingest rate, and API latency with 1M payouts stored.

Run: ``.venv/bin/python bench/indexer_ingest_api.py [--payouts 1000000] [--ingest 100000] [--seconds 10]``
(``--quick``: 25k payouts stored, 5k ingested, 1 worker, 1.5 s per row; the same rows.)

Database: ``EXORELAY_BENCH_DATABASE_URL`` or the local ``postgresql+psycopg://root@127.0.0.1:5432/test``,
in a schema of its own that is dropped afterwards.

1. **Ingest.** Distributions and their leaves arrive from Exocore (pending payouts); then their
   ``RewardPaid`` logs (each with its token ``Transfer``) are applied in L1-sized batches through
   the same path as the L1 ingestor (records -> rows, transitions, claim progress, all invariant
   checks, cursor), one transaction per batch. Target: >= 5,000 payout events/s sustained.
   A second figure includes ABI decoding of raw logs (the whole :class:`L1Ingestor` poll).
   Same-run floor: right after each timed phase, the rows it wrote (payouts, their leaves or their
   transfers and L1 transactions, every transition) are deleted and written back into the same
   tables with one bulk ``COPY`` in one transaction (indexes and foreign keys as in production;
   only the COPY and the commit are timed). Goal: ingest >= 0.5x the COPY floor's rate.
2. **Load** the rest up to ``--payouts`` with COPY (leaves, payouts, transitions, claims).
3. **Latency** of ``/v1/payouts?staker=`` and ``/v1/claims/{id}`` (a claim's full timeline) from
   50 concurrent keep-alive clients against ``exorelay api --workers N`` (each N of ``--workers``):
   closed loop (saturation) and paced (``--rate`` in all, latency from the scheduled send time).
   Target: p99 <= 25 ms. The load generator is a minimal asyncio HTTP/1.1 client on uvloop so that
   it takes as little of the shared CPU as possible; each row reports the CPU it, the API, and
   PostgreSQL used (in cores) and what the rest of the machine used meanwhile.
   Same-run floor: a bare ASGI endpoint (``bench/bare_endpoint.py``: no FastAPI, no middleware, rows
   dumped as JSON) running the same SQL on the same kind of connection (the hot reader's own
   connection on an engine built as ``exorelay api`` builds it), served by the same uvicorn
   stack and worker count, measured next to the API (alternately first) with the same load
   generator and the same 50 clients. Goal: API p99 <= 1.5x the bare endpoint's.
4. **Plans**: EXPLAIN ANALYZE of the hot statements as the API runs them (prepared, generic plan);
   any sequential scan of a large table is reported.

Iterating on the API: ``--keep`` leaves the schema in place, ``--schema NAME`` reuses it
(latency and plans only, no reload). Iterating on ingest: ``--ingest-only`` prints the ingest
figures (and their floors) and stops before the bulk load; ``--profile FILE`` also runs each timed
ingest phase under cProfile and writes the stats to ``FILE.<phase>`` (``pstats``; the figures of a
profiled run are slower than the real ones, its ratios meaningless).
PostgreSQL only (schemas, COPY, EXPLAIN): there is no SQLite variant.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import os
import random
import re
import secrets
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Coroutine, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psutil
import uvloop
from eth_abi.abi import encode as abi_encode
from eth_utils.abi import event_abi_to_log_topic
from eth_utils.crypto import keccak
from psycopg import sql as pgsql
from sqlalchemy import Engine, create_engine, text

from devnet.anvil import REPO_ROOT, free_port
from indexer.api import hot
from indexer.api.pagination import Order
from indexer.ingest.exocore import ExocoreIngestor
from indexer.ingest.l1 import BlockInfo, L1Contracts, L1Ingestor, L1PollResult, RawLog
from relayer.l1.artifacts import ContractName, load_artifact
from storage import migrate
from storage.db import create_db_engine
from storage.records import (
    ClaimSubmitted,
    ClaimVerified,
    DistributionCreated,
    DistributionLeaves,
    DistributionSubmittedLog,
    ExocoreBlock,
    L1Position,
    LeafInfo,
    RewardPaidLog,
    TokenTransferLog,
)
from storage.store import LifecycleStore

DEFAULT_URL = "postgresql+psycopg://root@127.0.0.1:5432/test"
URL_ENV = "EXORELAY_BENCH_DATABASE_URL"
T = TypeVar("T")

LEAVES_PER_DISTRIBUTION = 5_000
"""A mid-sized AVS epoch: 5k delegators per (AVS, epoch, token)."""
STAKERS = 50_000
"""1M payouts over 50k stakers: a staker's view holds ~20 payouts (one page)."""
BATCH_SIZES = (1_000, 5_000)
"""RewardPaid events per ingestion batch (one transaction): 2 and 10 payout transactions of 500
leaves. An L1 poll batches up to 500 blocks, so a busy range easily holds 5,000 payouts."""
CONCURRENCY = 50
API_START_TIMEOUT_S = 180
"""Two workers importing on a loaded shared machine took over a minute (uvicorn restarts a worker
that has not answered its health check within 30 s, and it imports again)."""
WORKER_IDLE_CPU_S = 0.05
"""CPU seconds the API's workers may use together in half a second and count as idle (started)."""
LARGE_TABLE_ROWS = 10_000
"""A sequential scan of a table this large on a hot path is a missing index; below it, a scan of a
few pages is what the planner rightly prefers to an index."""
TARGET_INGEST_PER_S = 5_000
TARGET_P99_MS = 25.0
TARGET_INGEST_VS_COPY = 0.5
"""Ingest rate / the same rows' bulk COPY rate: every check and transition may cost at most as much
again as writing the rows at all."""
TARGET_P99_VS_BARE = 1.5
"""API p99 / the bare endpoint's p99 (same SQL, same connection, same server, same clients)."""
WARMUP_S = 1.0
"""Untimed load before each row: connections, caches, server-side prepared statements."""
QUICK_WARMUP_S = 0.5
QUICK = {"payouts": 25_000, "ingest": 5_000, "raw_ingest": 5_000, "seconds": 1.5, "workers": [1]}
"""--quick: every row printed, on small data and short rows (about half a minute on an idle machine)."""
ID_TABLES = ("transition", "l1_token_transfer", "l1_tx")
"""Tables whose rows of one phase are those above the phase's starting ``id``."""
EXOCORE_FLOOR_TABLES = ("distribution_leaf", "payout", "transition")
"""What Exocore ingest writes per leaf (the claim and distribution rows, 1 in 5,000, are left out)."""
L1_FLOOR_TABLES = ("payout", "transition", "l1_token_transfer", "l1_tx")
"""What L1 ingest writes per RewardPaid (the claim's progress and the cursor, one row each, left out)."""
ZERO = "0x" + "00" * 20
TOKEN = "0x" + "7e" * 20
AVS = "0x" + "a5" * 20
GATEWAY = "0x" + "9a" * 20
T0 = datetime(2026, 1, 1, tzinfo=UTC)

PAYOUT_SELECTOR = keccak(b"payout(bytes32,(uint256,address,uint256)[],bytes32[],bool[])")[:4]
"""The gateway's batch ``payout``: what a paying transaction's input starts with (the indexer tells a
batch push from a staker's ``claim`` by it)."""


def h(label: str) -> str:
    return "0x" + keccak(label.encode()).hex()


def staker_of(i: int) -> str:
    return "0x" + keccak(b"bench-staker" + i.to_bytes(8, "big"))[12:].hex()


def amount_of(d: int, i: int) -> int:
    return 10**15 * (1 + (d * 7919 + i) % 1000)


def staker_index(d: int, i: int) -> int:
    return (d * LEAVES_PER_DISTRIBUTION + i) * 7 % STAKERS


# ---------------------------------------------------------------------------------------- setup


def make_schema(url: str, reuse: str | None = None) -> tuple[Engine, str, str]:
    """A fresh bench schema at the head revision, or ``reuse`` (a schema a ``--keep`` run left)."""
    schema = reuse or f"exorelay_bench_{secrets.token_hex(4)}"
    if reuse is None:
        admin = create_engine(url)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
    engine = create_db_engine(url, connect_args={"options": f"-csearch_path={schema}"}, pool_size=10)
    migrate.upgrade(engine)
    return engine, schema, f"{url}?options=-csearch_path%3D{schema}"


def drop_schema(url: str, schema: str) -> None:
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def exocore_blocks(distributions: range) -> Iterator[ExocoreBlock]:
    for d in distributions:
        claim_id, dist_id = h(f"claim-{d}"), h(f"dist-{d}")
        amounts = [amount_of(d, i) for i in range(LEAVES_PER_DISTRIBUTION)]
        events = (
            ClaimSubmitted(
                claim_id=claim_id, avs=AVS, epoch=d, token=TOKEN, total_amount=sum(amounts), funding=1
            ),
            ClaimVerified(claim_id),
            DistributionCreated(
                distribution_id=dist_id,
                nonce=d + 1,
                claim_id=claim_id,
                avs=AVS,
                epoch=d,
                token=TOKEN,
                funding=1,
                total=sum(amounts),
                leaf_count=LEAVES_PER_DISTRIBUTION,
                merkle_root=h(f"root-{d}"),
            ),
            DistributionLeaves(
                dist_id,
                tuple(LeafInfo(i, staker_of(staker_index(d, i)), a) for i, a in enumerate(amounts)),
            ),
        )
        yield ExocoreBlock(d + 1, h(f"exo-{d}"), T0 + timedelta(seconds=d), events)


def paid_batches(distributions: range, batch_events: int) -> Iterator[list[Any]]:
    """RewardPaid + Transfer logs, ``batch_events`` payouts per batch, 500 leaves per tx."""
    batch: list[Any] = []
    block = 100
    for d in distributions:
        dist_id = h(f"dist-{d}")
        for start in range(0, LEAVES_PER_DISTRIBUTION, 500):
            block += 1
            tx = h(f"pay-{d}-{start}")
            at = T0 + timedelta(hours=1, seconds=12 * block)
            for n, i in enumerate(range(start, start + 500)):
                staker, amount = staker_of(staker_index(d, i)), amount_of(d, i)
                pos = L1Position(block, h(f"blk-{block}"), tx, 2 * n, at)
                batch.append(TokenTransferLog(TOKEN, ZERO, staker, amount, pos))
                pos = L1Position(block, h(f"blk-{block}"), tx, 2 * n + 1, at)
                batch.append(RewardPaidLog(dist_id, i, staker, amount, pos))
            if len(batch) >= 2 * batch_events:
                yield batch
                batch = []
    if batch:
        yield batch


def root_logs(distributions: range) -> list[DistributionSubmittedLog]:
    logs = []
    for d in distributions:
        amounts_total = sum(amount_of(d, i) for i in range(LEAVES_PER_DISTRIBUTION))
        pos = L1Position(50, h("blk-50"), h(f"root-tx-{d}"), d, T0 + timedelta(minutes=30))
        logs.append(
            DistributionSubmittedLog(
                h(f"dist-{d}"), h(f"claim-{d}"), AVS, d, TOKEN, amounts_total, h(f"root-{d}"), d + 1, pos
            )
        )
    return logs


def id_marks(engine: Engine) -> dict[str, int]:
    """The highest ``id`` of each of :data:`ID_TABLES` now: a phase's rows are above it."""
    with engine.connect() as conn:
        return {
            table: int(conn.execute(text(f"SELECT coalesce(max(id), 0) FROM {table}")).scalar_one())
            for table in ID_TABLES
        }


def copy_floor(
    engine: Engine, tables: Sequence[str], since: dict[str, int], distribution_ids: Sequence[str]
) -> tuple[float, int]:
    """The floor of a timed ingest phase: the rows it wrote to ``tables`` (those of
    ``distribution_ids`` in payout / distribution_leaf, those above ``since`` elsewhere) are dumped,
    deleted, and written back with one ``COPY`` per table in one transaction. Returns (seconds of
    the COPYs and the commit, rows written). The database ends as it was."""
    raw = engine.raw_connection()
    try:
        dbapi: Any = raw.driver_connection
        cur = dbapi.cursor()
        where = {
            table: (
                pgsql.SQL("id > {}").format(pgsql.Literal(since[table]))
                if table in ID_TABLES
                else pgsql.SQL("distribution_id = ANY({})").format(pgsql.Literal(list(distribution_ids)))
            )
            for table in tables
        }
        dumps: dict[str, bytes] = {}
        for table in tables:
            statement = pgsql.SQL("COPY (SELECT * FROM {} WHERE {}) TO STDOUT")
            with cur.copy(statement.format(pgsql.Identifier(table), where[table])) as copy:
                dumps[table] = b"".join(bytes(chunk) for chunk in copy)
        for table in tables:
            cur.execute(pgsql.SQL("DELETE FROM {} WHERE {}").format(pgsql.Identifier(table), where[table]))
        started = time.perf_counter()
        for table in tables:
            with cur.copy(pgsql.SQL("COPY {} FROM STDIN").format(pgsql.Identifier(table))) as copy:
                copy.write(dumps[table])
        dbapi.commit()
        elapsed = time.perf_counter() - started
    finally:
        raw.close()
    return elapsed, sum(data.count(b"\n") for data in dumps.values())


@contextlib.contextmanager
def profiled(path: str | None) -> Iterator[None]:
    """cProfile the block into ``path`` (pstats format); nothing without a path."""
    if path is None:
        yield
        return
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        profiler.dump_stats(path)


def ingest(
    engine: Engine, first: int, distributions: int, batch_events: int, profile: str | None = None
) -> dict[str, float]:
    store = LifecycleStore(engine)
    exo = ExocoreIngestor(store, stream=f"exocore-{first}")
    span = range(first, first + distributions)
    distribution_ids = [h(f"dist-{d}") for d in span]
    blocks = list(exocore_blocks(span))
    before_leaves = id_marks(engine)
    started = time.perf_counter()
    for block in blocks:
        exo.apply_block(block)
    leaves_s = time.perf_counter() - started
    leaves_floor_s, _ = copy_floor(engine, EXOCORE_FLOOR_TABLES, before_leaves, distribution_ids)
    node = SyntheticNode([], head=10**6)
    l1 = L1Ingestor(
        store, node, L1Contracts(gateway=GATEWAY, reward_tokens=(TOKEN,)), chain_id=1, stream=f"l1-{first}"
    )
    result = L1PollResult(head=node.head_number, height=0, finalized=-1)
    l1.commit_batch(
        records=root_logs(span), blocks=[], end_block=node.block(60), head=60, finalized=-1, result=result
    )
    batches = list(paid_batches(span, batch_events))  # generated before the clock starts
    events = 0
    before_paid = id_marks(engine)
    started = time.perf_counter()
    with profiled(profile):
        for batch in batches:
            end = batch[-1].position.block_number
            # Finality trails two blocks behind, so most payouts also move included -> finalized here.
            l1.commit_batch(
                records=batch,
                blocks=[],
                end_block=node.block(end),
                head=end,
                finalized=end - 2,
                result=result,
            )
            events += result.effects.payouts_included
    paid_s = time.perf_counter() - started
    paid_floor_s, floor_rows = copy_floor(engine, L1_FLOOR_TABLES, before_paid, distribution_ids)
    leaves = distributions * LEAVES_PER_DISTRIBUTION
    return {
        "leaves": leaves,
        "leaves_per_s": leaves / leaves_s,
        "leaves_floor_per_s": leaves / leaves_floor_s,
        "payout_events": events,
        "payout_events_per_s": events / paid_s,
        "payout_s": paid_s,
        "floor_per_s": events / paid_floor_s,
        "floor_s": paid_floor_s,
        "floor_rows": floor_rows,
    }


class SyntheticNode:
    """An L1 source serving ABI-encoded payout logs (measures the whole poll, decoding included)."""

    def __init__(self, logs: list[RawLog], head: int) -> None:
        self.raw, self.head_number = logs, head

    def head(self) -> int:
        return self.head_number

    def finalized(self) -> int:
        return self.head_number - 2

    def block(self, number: int) -> BlockInfo:
        return BlockInfo(number, h(f"blk-{number}"), T0 + timedelta(hours=1, seconds=12 * number))

    def tx_selector(self, tx_hash: str) -> bytes:
        """Every payment of the synthetic node is a relayer batch: the gateway's ``payout``."""
        return PAYOUT_SELECTOR

    def logs(
        self, from_block: int, to_block: int, addresses: Sequence[str], topics: Sequence[Any] | None = None
    ) -> list[RawLog]:
        wanted = set(addresses)
        return [r for r in self.raw if from_block <= r.block_number <= to_block and r.address in wanted]


def ingest_raw(
    engine: Engine, first_distribution: int, distributions: int, profile: str | None = None
) -> dict[str, float]:
    """The same payouts as raw logs through :meth:`L1Ingestor.poll` (ABI decoding included)."""
    store = LifecycleStore(engine)
    exo = ExocoreIngestor(store, stream="exocore-raw")
    for block in exocore_blocks(range(first_distribution, first_distribution + distributions)):
        exo.apply_block(block)
    paid_abi = next(
        e for e in load_artifact(ContractName.EXOCORE_GATEWAY).entries("event") if e["name"] == "RewardPaid"
    )
    transfer_abi = next(
        e for e in load_artifact(ContractName.REWARD_TOKEN).entries("event") if e["name"] == "Transfer"
    )
    root_abi = next(
        e
        for e in load_artifact(ContractName.EXOCORE_GATEWAY).entries("event")
        if e["name"] == "DistributionSubmitted"
    )
    raw: list[RawLog] = []
    span = range(first_distribution, first_distribution + distributions)
    for log in root_logs(span):
        raw.append(
            RawLog(
                GATEWAY,
                (
                    bytes(event_abi_to_log_topic(dict(root_abi))),  # type: ignore[arg-type]
                    bytes.fromhex(log.distribution_id[2:]),
                    bytes.fromhex(log.claim_id[2:]),
                    abi_encode(["address"], [AVS]),
                ),
                abi_encode(
                    ["uint64", "address", "uint256", "bytes32", "uint64"],
                    [log.epoch, TOKEN, log.total, bytes.fromhex(log.root[2:]), log.nonce],
                ),
                1,
                h("blk-1"),
                log.position.tx_hash,  # the same transaction the other paths name root-tx-{d}
                log.nonce,
            )
        )
    for batch in paid_batches(span, 1_000):
        for log in batch:
            p = log.position
            if isinstance(log, RewardPaidLog):
                topics = (
                    bytes(event_abi_to_log_topic(dict(paid_abi))),  # type: ignore[arg-type]
                    bytes.fromhex(log.distribution_id[2:]),
                    abi_encode(["address"], [log.staker]),
                )
                raw.append(
                    RawLog(
                        GATEWAY,
                        topics,
                        abi_encode(["uint256", "uint256"], [log.index, log.amount]),
                        p.block_number,
                        p.block_hash,
                        p.tx_hash,
                        p.log_index,
                    )
                )
            else:
                topics = (
                    bytes(event_abi_to_log_topic(dict(transfer_abi))),  # type: ignore[arg-type]
                    abi_encode(["address"], [ZERO]),
                    abi_encode(["address"], [log.recipient]),
                )
                raw.append(
                    RawLog(
                        TOKEN,
                        topics,
                        abi_encode(["uint256"], [log.amount]),
                        p.block_number,
                        p.block_hash,
                        p.tx_hash,
                        p.log_index,
                    )
                )
    head = max(r.block_number for r in raw) + 2
    node = SyntheticNode(raw, head)
    ingestor = L1Ingestor(
        store,
        node,
        L1Contracts(gateway=GATEWAY, reward_tokens=(TOKEN,)),
        chain_id=2,
        start_block=1,
        batch_blocks=2,
    )
    before = id_marks(engine)
    started = time.perf_counter()
    with profiled(profile):
        ingestor.sync()
    elapsed = time.perf_counter() - started
    floor_s, _ = copy_floor(engine, L1_FLOOR_TABLES, before, [h(f"dist-{d}") for d in span])
    events = distributions * LEAVES_PER_DISTRIBUTION
    return {
        "payout_events": events,
        "payout_events_per_s": events / elapsed,
        "floor_per_s": events / floor_s,
    }


def bulk_load(engine: Engine, first: int, last: int) -> float:
    """COPY distributions ``first..last-1`` with claims, leaves, finalized payouts and transitions."""
    started = time.perf_counter()
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        now = T0 + timedelta(days=1)
        with cur.copy(
            "COPY reward_claim (claim_id, avs_address, epoch, token, funding, total_amount,"
            " signer_bitmap, state,"
            " distribution_id, origin, created_at, updated_at) FROM STDIN"
        ) as copy:
            for d in range(first, last):
                total = sum(amount_of(d, i) for i in range(LEAVES_PER_DISTRIBUTION))
                copy.write_row(
                    (
                        h(f"claim-{d}"),
                        AVS,
                        d,
                        TOKEN,
                        1,
                        total,
                        "0x07",
                        "paid",
                        h(f"dist-{d}"),
                        "exocore",
                        now,
                        now,
                    )
                )
        with cur.copy(
            "COPY distribution (distribution_id, nonce, claim_id, avs_address, epoch, token, funding,"
            " total, leaf_count,"
            " merkle_root, l1_block_number, l1_block_hash, l1_tx_hash, l1_log_index, l1_finalized,"
            " origin, created_at,"
            " updated_at) FROM STDIN"
        ) as copy:
            for d in range(first, last):
                total = sum(amount_of(d, i) for i in range(LEAVES_PER_DISTRIBUTION))
                copy.write_row(
                    (
                        h(f"dist-{d}"),
                        d + 1,
                        h(f"claim-{d}"),
                        AVS,
                        d,
                        TOKEN,
                        1,
                        total,
                        LEAVES_PER_DISTRIBUTION,
                        h(f"root-{d}"),
                        50,
                        h("blk-50"),
                        h(f"root-tx-{d}"),
                        0,
                        True,
                        "exocore",
                        now,
                        now,
                    )
                )
        with cur.copy(
            "COPY l1_tx (tx_hash, chain_id, purpose, distribution_id, state, block_number, block_hash,"
            " origin,"
            " created_at, updated_at) FROM STDIN"
        ) as copy:
            for d in range(first, last):
                # The root's transaction (the relayer's, purpose "distribution"), then the payouts'.
                copy.write_row(
                    (h(f"root-tx-{d}"), 1, "distribution", h(f"dist-{d}"), "finalized", 50, h("blk-50"),
                     "relayer", now, now)
                )  # fmt: skip
                for start in range(0, LEAVES_PER_DISTRIBUTION, 500):
                    copy.write_row(
                        (
                            h(f"pay-{d}-{start}"),
                            1,
                            "payout",
                            h(f"dist-{d}"),
                            "finalized",
                            1000 + d,
                            h(f"blk-{1000 + d}"),
                            "l1",
                            now,
                            now,
                        )
                    )
        with cur.copy("COPY claim_signer (claim_id, member_index, operator) FROM STDIN") as copy:
            for d in range(first, last):
                for member in range(3):
                    copy.write_row((h(f"claim-{d}"), member, f"exo1bench{member}"))
        with cur.copy(
            "COPY relay_packet (nonce, kind, valset_nonce, payload, payload_hash, digest, subject_id,"
            " distribution_id, avs_address, state, exocore_height, l1_tx_hash, l1_block_number,"
            " l1_block_hash, l1_log_index, created_at, updated_at) FROM STDIN"
        ) as copy:
            for d in range(first, last):
                copy.write_row(
                    (
                        d + 1,
                        2,
                        1,
                        "0x",
                        h(f"payload-{d}"),
                        h(f"digest-{d}"),
                        h(f"claim-{d}"),
                        h(f"dist-{d}"),
                        AVS,
                        "finalized",
                        d + 1,
                        h(f"root-tx-{d}"),
                        50,
                        h("blk-50"),
                        0,
                        now,
                        now,
                    )
                )
        with cur.copy(
            "COPY distribution_leaf (distribution_id, leaf_index, staker, amount) FROM STDIN"
        ) as copy:
            for d in range(first, last):
                dist = h(f"dist-{d}")
                for i in range(LEAVES_PER_DISTRIBUTION):
                    copy.write_row((dist, i, staker_of(staker_index(d, i)), amount_of(d, i)))
        with cur.copy(
            "COPY payout (distribution_id, leaf_index, staker, token, amount, avs_address, epoch, state,"
            " l1_tx_hash,"
            " l1_block_number, l1_block_hash, l1_log_index, origin, created_at, updated_at) FROM STDIN"
        ) as copy:
            for d in range(first, last):
                dist = h(f"dist-{d}")
                for i in range(LEAVES_PER_DISTRIBUTION):
                    tx = h(f"pay-{d}-{i // 500 * 500}")
                    copy.write_row(
                        (
                            dist,
                            i,
                            staker_of(staker_index(d, i)),
                            TOKEN,
                            amount_of(d, i),
                            AVS,
                            d,
                            "finalized",
                            tx,
                            1000 + d,
                            h(f"blk-{1000 + d}"),
                            i % 500,
                            "exocore",
                            now,
                            now,
                        )
                    )
        with cur.copy(
            "COPY transition (entity_kind, entity_id, from_state, to_state, edge, chain, height,"
            " block_hash, tx_hash,"
            " log_index, at, recorded_at) FROM STDIN"
        ) as copy:
            states = [
                "submitted",
                "verified",
                "distributed",
                "packet_created",
                "attested",
                "relayed",
                "finalized",
                "paying",
                "paid",
            ]
            for d in range(first, last):
                claim = h(f"claim-{d}")
                previous = None
                for step, state in enumerate(states):
                    chain = "l1" if step >= 5 else "exocore"
                    copy.write_row(
                        (
                            "claim",
                            claim,
                            previous,
                            state,
                            "forward",
                            chain,
                            100 + step,
                            h(f"b-{step}"),
                            h(f"t-{d}-{step}"),
                            0,
                            now,
                            now,
                        )
                    )
                    previous = state
                # The packet's and every L1 transaction's own history, as the relayer records them:
                # a claim's timeline reads the packet's and the root transaction's, and the l1_tx
                # rows of the payout transactions make the planner's statistics realistic.
                packet_states = ("created", "attested", "relayed", "finalized")
                histories: list[tuple[str, str, str, tuple[str, ...]]] = [
                    ("packet", str(d + 1), "exocore", packet_states)
                ]
                tx_states = ("broadcast", "included", "finalized")
                histories.append(("l1_tx", h(f"root-tx-{d}"), "l1", tx_states))
                histories.extend(
                    ("l1_tx", h(f"pay-{d}-{start}"), "l1", tx_states)
                    for start in range(0, LEAVES_PER_DISTRIBUTION, 500)
                )
                for kind, entity, chain, lifecycle in histories:
                    previous = None
                    for step, state in enumerate(lifecycle):
                        copy.write_row(
                            (kind, entity, previous, state, "forward", chain, 200 + step, h(f"b-{step}"),
                             h(f"t-{entity}-{step}"), 0, now, now)
                        )  # fmt: skip
                        previous = state
                dist = h(f"dist-{d}")
                for i in range(LEAVES_PER_DISTRIBUTION):
                    copy.write_row(
                        (
                            "payout",
                            f"{dist}:{i}",
                            None,
                            "finalized",
                            "forward",
                            "l1",
                            1000 + d,
                            h(f"blk-{1000 + d}"),
                            h(f"pay-{d}-{i // 500 * 500}"),
                            i % 500,
                            now,
                            now,
                        )
                    )
        raw.commit()
    finally:
        raw.close()
    # VACUUM sets the visibility map and ANALYZE the statistics now, so autovacuum does not start
    # on the freshly loaded million rows in the middle of the latency measurement.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM (ANALYZE)"))
    return time.perf_counter() - started


# ---------------------------------------------------------------------------------------- latency


async def _client(
    port: int,
    paths: list[str],
    deadline: float,
    interval: float | None,
    latencies: list[float],
    errors: list[int],
) -> None:
    """One keep-alive connection. ``interval`` None: closed loop (next request as soon as the
    answer is in); otherwise paced: one request every ``interval`` seconds, latency counted from the
    scheduled send time (so a stalled server cannot hide its queue: no coordinated omission)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    rng = random.Random()
    scheduled = time.perf_counter() + (rng.random() * interval if interval else 0.0)
    try:
        while scheduled < deadline:
            if interval is not None:
                await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            started = scheduled if interval is not None else time.perf_counter()
            writer.write(f"GET {rng.choice(paths)} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            done = time.perf_counter()
            latencies.append(done - started)
            if status != 200:
                errors.append(status)
            scheduled = scheduled + interval if interval is not None else done
    finally:
        writer.close()


async def _load(
    port: int, paths: list[str], seconds: float, rate: float | None
) -> tuple[list[float], list[int]]:
    latencies: list[float] = []
    errors: list[int] = []
    deadline = time.perf_counter() + seconds
    interval = None if rate is None else CONCURRENCY / rate
    await asyncio.gather(
        *(_client(port, paths, deadline, interval, latencies, errors) for _ in range(CONCURRENCY))
    )
    return latencies, errors


def _run(load: Coroutine[Any, Any, T]) -> T:
    """The load generator's loop: uvloop (a dependency of uvicorn[standard]) takes ~15 % less of
    the shared cores per request than asyncio's own loop."""
    return uvloop.run(load)


class CpuMeter:
    """CPU time over one measured row, in cores (CPU seconds per wall second): the load generator
    (this process), the API server (its process tree), PostgreSQL (every backend) and the rest of
    the machine, so a reader sees who ate the two shared cores."""

    def __init__(self, server_pid: int) -> None:
        self.server = psutil.Process(server_pid)

    @staticmethod
    def _machine() -> tuple[float, float]:
        times = psutil.cpu_times()
        return sum(times) - times.idle - times.iowait, sum(times)

    def _server(self) -> float:
        total = 0.0
        for proc in [self.server, *self.server.children(recursive=True)]:
            try:
                t = proc.cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return total

    @staticmethod
    def _postgres() -> float:
        total = 0.0
        for proc in psutil.process_iter(["name", "cpu_times"]):
            if proc.info["name"] == "postgres" and proc.info["cpu_times"] is not None:
                total += proc.info["cpu_times"].user + proc.info["cpu_times"].system
        return total

    def start(self) -> None:
        self.wall = time.perf_counter()
        self.me = sum(os.times()[:2])
        self.srv, self.pg = self._server(), self._postgres()
        self.busy, self.total = self._machine()

    def stop(self) -> dict[str, float]:
        wall = time.perf_counter() - self.wall
        busy, total = self._machine()
        cores = psutil.cpu_count() or 1
        out = {
            "loadgen_cores": (sum(os.times()[:2]) - self.me) / wall,
            "server_cores": (self._server() - self.srv) / wall,
            "postgres_cores": (self._postgres() - self.pg) / wall,
            "machine_cores": cores * (busy - self.busy) / max(1e-9, total - self.total),
        }
        out["other_cores"] = max(
            0.0, out["machine_cores"] - out["loadgen_cores"] - out["server_cores"] - out["postgres_cores"]
        )
        return out


def measure(
    port: int,
    paths: list[str],
    seconds: float,
    meter: CpuMeter,
    rate: float | None = None,
    warmup_s: float = WARMUP_S,
) -> dict[str, Any]:
    _run(_load(port, paths, warmup_s, rate))  # warm-up: connections, caches, plans
    meter.start()
    started = time.perf_counter()
    latencies, errors = _run(_load(port, paths, seconds, rate))
    elapsed = time.perf_counter() - started
    cpu = meter.stop()
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "rps": len(ordered) / elapsed,
        "p50_ms": 1000 * statistics.median(ordered),
        "p99_ms": 1000 * ordered[int(0.99 * (len(ordered) - 1))],
        "errors": len(errors),
        **cpu,
    }


def start_api(url: str, workers: int = 1, *, bare: bool = False) -> tuple[subprocess.Popen[bytes], int]:
    """``exorelay api --workers N``, or (``bare``) ``bench/bare_endpoint.py`` under the same server
    set-up; either way with the same environment, in a process group of its own (so a failed start
    leaves no worker behind)."""
    port = free_port()
    env = {
        **os.environ,
        "EXORELAY_DATABASE__URL": url,
        "EXORELAY_API__PORT": str(port),
        "EXORELAY_LOGGING__LEVEL": "warning",
    }
    log = open(os.environ.get("EXORELAY_BENCH_API_LOG", os.devnull), "wb")  # noqa: SIM115 - lives with the server
    command = (
        [sys.executable, "-m", "bench.bare_endpoint", "--workers", str(workers)]
        if bare
        else [str(Path(sys.executable).parent / "exorelay"), "api", "--workers", str(workers)]
    )
    process = subprocess.Popen(
        command, env=env, stdout=log, stderr=log, cwd=REPO_ROOT, start_new_session=True
    )
    deadline = time.monotonic() + API_START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
        except httpx.TransportError:
            time.sleep(0.1)
            continue
        if workers == 1 or _workers_settled(process.pid, workers, deadline):
            return process, port
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    raise RuntimeError("the bare endpoint did not start" if bare else "exorelay api did not start")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (uvicorn's supervisor stops its workers), then the whole process group."""
    process.terminate()
    try:
        process.wait(timeout=10)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def _workers_settled(pid: int, workers: int, deadline: float) -> bool:
    """True once ``workers`` worker processes exist and all sit idle. /health answers as soon as the
    first worker is up, while the others may still be importing for seconds: a row measured then
    is a one-worker row."""
    supervisor = psutil.Process(pid)
    before = None
    while time.monotonic() < deadline:
        children = supervisor.children()
        used = sum(sum(child.cpu_times()[:2]) for child in children)
        if before is not None and len(children) >= workers and used - before < WORKER_IDLE_CPU_S:
            return True
        before = used
        time.sleep(0.5)
    return False


# ---------------------------------------------------------------------------------------- plans


def _dollar_params(compiled: hot.Compiled, values: dict[str, Any]) -> tuple[str, list[Any]]:
    """``%(name)s`` placeholders -> ``$n`` (for PREPARE) and the values in that order."""
    merged = {**compiled.defaults, **values}
    order: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in order:
            order.append(match.group(1))
        return f"${order.index(match.group(1)) + 1}"

    return re.sub(r"%\((\w+)\)s", number, compiled.sql), [merged[name] for name in order]


def plans(engine: Engine, staker: str, d: int) -> list[tuple[str, list[str]]]:
    """EXPLAIN ANALYZE of the API's hot statements exactly as it runs them: prepared, with the
    generic plan PostgreSQL settles on for them after a few executions (their counters in
    ``pg_prepared_statements`` show only generic plans in a steady run), for distribution ``d``."""
    sql = hot.statements(engine.dialect)
    claim: dict[str, Any] = {"claim_id": h(f"claim-{d}")}
    hot_statements: list[tuple[str, hot.Compiled, dict[str, Any]]] = [
        (
            "payouts by staker (/v1/payouts?staker=)",
            sql.payouts[(Order.DESC, False)],
            {"staker": staker, "limit": 51},
        ),
        (
            "payouts by staker, next page (cursor)",
            sql.payouts[(Order.DESC, True)],
            {"staker": staker, "limit": 51, "after": 2**62},
        ),
        ("claim + distribution + packet (/v1/claims/{id}, 1 of 3 in one pipeline)", sql.claim, claim),
        ("claim signers (2 of 3)", sql.signers, claim),
        ("claim timeline: claim, packet, root transactions (3 of 3)", sql.timeline, claim),
    ]
    out = []
    with engine.connect() as conn:
        cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        cur.execute("SET plan_cache_mode = force_generic_plan")
        for n, (name, compiled, values) in enumerate(hot_statements):
            statement, params = _dollar_params(compiled, values)
            cur.execute(f"PREPARE bench_hot_{n} AS {statement}")
            explain = pgsql.SQL(
                "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE {}({})"
            ).format(
                pgsql.Identifier(f"bench_hot_{n}"), pgsql.SQL(", ").join(pgsql.Literal(v) for v in params)
            )
            cur.execute(explain)
            out.append((name, [str(r[0]) for r in cur.fetchall()]))
        conn.rollback()
    return out


# ---------------------------------------------------------------------------------------- main


def latency_rows(
    api_url: str,
    total_dists: int,
    seconds: float,
    rate: float,
    worker_counts: Sequence[int],
    summary: list[SummaryRow],
    warmup_s: float = WARMUP_S,
) -> None:
    rng = random.Random(7)
    staker_paths = [f"/v1/payouts?staker={staker_of(rng.randrange(STAKERS))}" for _ in range(2000)]
    claim_paths = [f"/v1/claims/{h(f'claim-{rng.randrange(total_dists)}')}" for _ in range(2000)]
    print(f"\n== API latency, {CONCURRENCY} concurrent keep-alive clients, {seconds:.0f} s per row")
    print("   closed: each client sends its next request when the answer arrives (saturation);")
    print(f"   paced: {rate:.0f} req/s in all, latency from the scheduled send time")
    print("   CPU in cores (of 2): gen = this load generator, api = the server processes,")
    print("   pg = every PostgreSQL backend, rest = anything else on the machine")
    print("   server api = `exorelay api`; bare = the same SQL on the same connection in a bare ASGI")
    print("   endpoint, same uvicorn set-up and workers, measured next to it (the floor);")
    print(f"   x bare = api p99 / bare p99, goal <= {TARGET_P99_VS_BARE}x")
    if seconds < WARMUP_S * 5:
        print(
            f"   ({seconds:g} s rows: a p99 over so few requests on a shared machine is a smoke test,"
            " not a figure)"
        )
    print(
        f"  {'endpoint':<26}{'load':<18}{'server':<7}{'req/s':>7}{'p50 ms':>8}{'p99 ms':>8}{'err':>5}"
        f"{'gen':>6}{'api':>6}{'pg':>6}{'rest':>6}{'x bare':>8}  target p99 <= {TARGET_P99_MS:.0f} ms"
    )
    turn = 0
    for workers in worker_counts:
        process, port = start_api(api_url, workers)
        try:
            bare_process, bare_port = start_api(api_url, workers, bare=True)
        except BaseException:
            stop_server(process)
            raise
        meter, bare_meter = CpuMeter(process.pid), CpuMeter(bare_process.pid)
        try:
            for name, paths in (
                ("/v1/payouts?staker=", staker_paths),
                ("/v1/claims/{id} timeline", claim_paths),
            ):
                loads: list[tuple[str, float | None]] = [
                    (f"closed, {workers} worker", None),
                    (f"paced, {workers} worker", rate),
                ]
                for label, pace in loads:
                    # Alternating which server goes first keeps a drift in the shared machine's load
                    # from always favouring the same one.
                    api_first = turn % 2 == 0
                    turn += 1
                    if api_first:
                        r = measure(port, paths, seconds, meter, pace, warmup_s)
                    floor = measure(bare_port, paths, seconds, bare_meter, pace, warmup_s)
                    if not api_first:
                        r = measure(port, paths, seconds, meter, pace, warmup_s)
                    ratio = r["p99_ms"] / floor["p99_ms"]
                    for server, row in (("api", r), ("bare", floor)):
                        verdict = "OK" if row["p99_ms"] <= TARGET_P99_MS else "above"
                        x_bare = f"{ratio:>7.2f}x" if server == "api" else f"{'':>8}"
                        print(
                            f"  {name:<26}{label:<18}{server:<7}{row['rps']:>7,.0f}{row['p50_ms']:>8.1f}"
                            f"{row['p99_ms']:>8.1f}{row['errors']:>5}{row['loadgen_cores']:>6.2f}"
                            f"{row['server_cores']:>6.2f}{row['postgres_cores']:>6.2f}"
                            f"{row['other_cores']:>6.2f}{x_bare}  {verdict}",
                            flush=True,
                        )
                    summary.append(
                        (
                            f"{name} p99, {label}",
                            f"{r['p99_ms']:.1f} ms",
                            f"bare endpoint {floor['p99_ms']:.1f} ms",
                            f"{ratio:.2f}x",
                            f"<= {TARGET_P99_VS_BARE}x",
                            verdict_of(ratio <= TARGET_P99_VS_BARE),
                        )
                    )
                    if pace is None:
                        summary.append(
                            (
                                f"{name} req/s, {label}",
                                f"{r['rps']:,.0f}",
                                f"bare endpoint {floor['rps']:,.0f}",
                                f"{r['rps'] / floor['rps']:.2f}x",
                                "-",
                                "-",
                            )
                        )
        finally:
            stop_server(process)
            stop_server(bare_process)


def query_plans(engine: Engine, total_dists: int) -> None:
    print("\n== query plans (EXPLAIN ANALYZE)")
    with engine.connect() as conn:
        sizes: dict[str, int] = dict(
            conn.execute(
                text(
                    "SELECT relname, reltuples::bigint FROM pg_class"
                    " WHERE relnamespace = current_schema()::regnamespace"
                )
            ).all()
        )
    seq_scans: list[str] = []
    small: set[str] = set()
    for name, lines in plans(engine, staker_of(3), total_dists - 1):
        print(f"  -- {name}")
        for line in lines:
            print(f"     {line}")
            if "Seq Scan on " in line:
                table = line.split("Seq Scan on ", 1)[1].split()[0]
                if sizes.get(table, 0) >= LARGE_TABLE_ROWS:
                    seq_scans.append(f"{name} ({table})")
                else:
                    small.add(f"{table} ({sizes.get(table, 0):,} rows)")
    print(
        "\n  sequential scans of large tables on hot paths: "
        + (", ".join(seq_scans) if seq_scans else "none")
    )
    if small:
        print(f"  (small tables scanned whole, the planner's cheapest choice: {', '.join(sorted(small))})")


def machine_conditions() -> str:
    load1, load5, _ = os.getloadavg()
    return f"{psutil.cpu_count()} cores, load average {load1:.2f} (1 min) {load5:.2f} (5 min)"


SummaryRow = tuple[str, str, str, str, str, str]
"""figure, value, same-run anchor, ratio, goal, verdict."""


def verdict_of(ok: bool) -> str:
    return "met" if ok else "MISSED"


def print_summary(rows: Sequence[SummaryRow]) -> None:
    table = [("figure", "value", "same-run anchor", "ratio", "goal", "verdict"), *rows]
    widths = [max(len(row[column]) for row in table) for column in range(6)]
    print("\nsummary (every anchor measured in this run, on this machine, on the same data)")
    for row in table:
        print(
            ("  " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))).rstrip()
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--payouts", type=int, default=1_000_000, help="payouts stored for the latency test")
    parser.add_argument(
        "--ingest", type=int, default=100_000, help="payout events ingested through the store (0: skip)"
    )
    parser.add_argument(
        "--raw-ingest", type=int, default=20_000, help="payout events ingested as raw logs (0: skip)"
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="load duration per row")
    parser.add_argument("--rate", type=float, default=200.0, help="aggregate request rate of the paced rows")
    parser.add_argument(
        "--workers",
        type=lambda v: [int(x) for x in v.split(",")],
        default=[1, 2],
        help="API processes to try",
    )
    parser.add_argument("--keep", action="store_true", help="keep the bench schema (printed) afterwards")
    parser.add_argument(
        "--schema", help="reuse a schema a --keep run left (skips ingest and load; latency and plans only)"
    )
    parser.add_argument("--quick", action="store_true", help="small data, short rows, 1 worker")
    parser.add_argument(
        "--ingest-only", action="store_true", help="the ingest figures only (no bulk load, latency, plans)"
    )
    parser.add_argument(
        "--profile", metavar="FILE", help="cProfile each timed ingest phase into FILE.<phase> (slows it)"
    )
    args = parser.parse_args()
    warmup_s = WARMUP_S
    if args.quick:
        for name, value in QUICK.items():
            setattr(args, name, value)
        warmup_s = QUICK_WARMUP_S
    url = os.environ.get(URL_ENV, DEFAULT_URL)
    engine, schema, api_url = make_schema(url, args.schema)
    keep = args.keep or args.schema is not None
    try:
        print(
            f"PostgreSQL schema {schema}; {LEAVES_PER_DISTRIBUTION} leaves per distribution,"
            f" {STAKERS} stakers; {machine_conditions()}"
        )
        summary: list[SummaryRow] = []
        if args.schema is None:
            load_data(
                engine,
                args.ingest,
                args.raw_ingest,
                0 if args.ingest_only else args.payouts,
                summary,
                args.profile,
            )
        if args.ingest_only:
            print_summary(summary)
            return
        with engine.connect() as conn:
            payouts = conn.execute(text("SELECT count(*) FROM payout")).scalar_one()
            transitions = conn.execute(text("SELECT count(*) FROM transition")).scalar_one()
            total_dists = conn.execute(text("SELECT count(*) FROM distribution")).scalar_one()
        print(f"  payouts stored: {payouts:,}; transitions: {transitions:,}; distributions: {total_dists:,}")
        latency_rows(api_url, total_dists, args.seconds, args.rate, args.workers, summary, warmup_s)
        query_plans(engine, total_dists)
        print(f"\nafter: {machine_conditions()}")
        print_summary(summary)
    finally:
        engine.dispose()
        if keep:
            print(f"schema kept: {schema} (reuse with --schema {schema})")
        else:
            drop_schema(url, schema)


def load_data(
    engine: Engine,
    ingest_events: int,
    raw_events: int,
    payouts: int,
    summary: list[SummaryRow],
    profile: str | None = None,
) -> int:
    """The ingest figures, then COPY up to ``payouts`` (none: 0); returns the distributions stored.
    ``profile``: cProfile each timed ingest phase into ``profile.<phase>``."""
    first = 0
    if ingest_events > 0:
        ingest_dists = max(1, ingest_events // LEAVES_PER_DISTRIBUTION)
        print("\n== ingest: RewardPaid + Transfer logs -> rows, transitions, claim progress, finality, all")
        print("   invariant checks and the cursor, one transaction per batch")
        for size in BATCH_SIZES:
            dists = ingest_dists if size == max(BATCH_SIZES) else max(1, ingest_dists // 5)
            figures = ingest(engine, first, dists, size, profile and f"{profile}.batch{size}")
            first += dists
            verdict = "OK" if figures["payout_events_per_s"] >= TARGET_INGEST_PER_S else "below target"
            rate, floor = figures["payout_events_per_s"], figures["floor_per_s"]
            print(
                f"  batch {size:>5,}: {figures['payout_events']:>8,} events in {figures['payout_s']:5.1f} s ="
                f" {rate:7,.0f}/s ({rate / TARGET_INGEST_PER_S:.2f}x target {TARGET_INGEST_PER_S:,}/s:"
                f" {verdict}); Exocore leaves -> pending payouts {figures['leaves_per_s']:,.0f}/s"
            )
            print(
                f"      COPY floor, same rows ({figures['floor_rows']:,.0f}: payouts, transitions, transfers,"
                f" L1 txs): {floor:,.0f} events/s, ingest {rate / floor:.2f}x of it"
                f" (goal >= {TARGET_INGEST_VS_COPY}x: {verdict_of(rate / floor >= TARGET_INGEST_VS_COPY)});"
                f" leaves {figures['leaves_floor_per_s']:,.0f}/s,"
                f" {figures['leaves_per_s'] / figures['leaves_floor_per_s']:.2f}x"
            )
            summary.append(
                (
                    f"ingest, batch {size:,}",
                    f"{rate:,.0f} events/s",
                    f"COPY same rows {floor:,.0f}/s",
                    f"{rate / floor:.2f}x",
                    f">= {TARGET_INGEST_VS_COPY}x",
                    verdict_of(rate / floor >= TARGET_INGEST_VS_COPY),
                )
            )
            summary.append(
                (
                    f"Exocore leaves -> pending payouts ({figures['leaves']:,.0f})",
                    f"{figures['leaves_per_s']:,.0f} leaves/s",
                    f"COPY same rows {figures['leaves_floor_per_s']:,.0f}/s",
                    f"{figures['leaves_per_s'] / figures['leaves_floor_per_s']:.2f}x",
                    "-",
                    "-",
                )
            )
    if raw_events > 0:
        raw_dists = max(1, raw_events // LEAVES_PER_DISTRIBUTION)
        raw = ingest_raw(engine, first, raw_dists, profile and f"{profile}.raw")
        first += raw_dists
        raw_ratio = raw["payout_events_per_s"] / raw["floor_per_s"]
        print(
            f"  RewardPaid events (raw logs,"
            f" ABI decode + poll): {raw['payout_events']:,} at {raw['payout_events_per_s']:,.0f}/s;"
            f" COPY floor {raw['floor_per_s']:,.0f}/s, {raw_ratio:.2f}x of it"
        )
        summary.append(
            (
                "ingest, raw logs (ABI decode + poll)",
                f"{raw['payout_events_per_s']:,.0f} events/s",
                f"COPY same rows {raw['floor_per_s']:,.0f}/s",
                f"{raw_ratio:.2f}x",
                f">= {TARGET_INGEST_VS_COPY}x",
                verdict_of(raw_ratio >= TARGET_INGEST_VS_COPY),
            )
        )
    if payouts == 0:
        return first
    total_dists = max(first, payouts // LEAVES_PER_DISTRIBUTION)
    print(f"\n== bulk load to {total_dists * LEAVES_PER_DISTRIBUTION:,} payouts (COPY)")
    loaded_s = bulk_load(engine, first, total_dists)
    print(f"  {loaded_s:.1f} s")
    return total_dists


if __name__ == "__main__":
    main()
