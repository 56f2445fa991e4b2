"""``exorelay run``: the long-lived relayer + indexer ingest process.

One process serves every configured client chain (``[[client_chains]]``, or ``[l1]``): Exocore is
followed and ingested once; each chain has its own L1 client, tx manager, pipeline and L1 ingestion
(:class:`ChainParts`), and each pipeline claims only its own chain's jobs (and those whose chain is
not known yet), so no packet is submitted to a chain it is not for.

Several processes may run against one PostgreSQL database (on several hosts): each exclusive role is
a lease (``relayer.leases``) that one of them holds and the others take over when it lapses: the
signing key (the transaction manager runs only in its holder, and its writes are fenced by the
lease's token), Exocore ingestion and discovery, L1 ingestion. The pipeline's stages run in every
process and *claim* their jobs (``storage.claims``), so the work is shared and no job is worked twice.
Within a process, APScheduler drives the jobs on a *single* worker thread, so its stages never race
each other over the same rows; the lease keeper renews on a thread of its own:

- ``cycle`` (every ``exocore.poll_interval_s``): follow Exocore blocks → index them and discover
  packets → ingest L1 logs → prepare/submit → tx manager tick → confirm → pay. L1 ingestion stays on
  this thread: the tx manager and the ingestor both record an ``l1_tx``'s inclusion, and on two
  threads they raced (a stale read wrote ``broadcast -> included`` twice and the forward-only
  invariant halted the stream);
- ``sweep`` (every ``relayer.sweep_interval_s``, and once on start): find packets by nonce that
  no event announced;
- ``metrics`` (every ``METRICS_INTERVAL_S``): backlog gauges from the database.

A missed run is coalesced into one (``coalesce=True``), never run twice at once
(``max_instances=1``). A cycle running late by more than ``CYCLE_OVERRUN_FACTOR`` intervals is
skipped (``misfire_grace_time``): the next cycle, submitted right after, does the same work. The sweep
and the metrics have no such grace (:func:`schedule_jobs`): they wait behind a cycle on the one
worker, and once cycles took longer than their interval (a loaded machine) a grace dropped every run
of them. The Exocore stream's new holder also sweeps at once (``_follow_exocore``): the packets the
previous holder ingested but had not recorded yet are announced to nobody else.

SIGTERM/SIGINT set a stop flag that every stage checks between items; the scheduler then waits for
the running job and the process exits well within ``SHUTDOWN_BUDGET_S``.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from types import FrameType
from typing import Any, Final, TypeVar

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine
from web3 import Web3

from indexer.ingest.exocore_feed import ExocoreFeed
from indexer.ingest.l1 import L1Contracts, L1Ingestor, Web3L1Source
from indexer.metrics import IngestMetrics
from relayer.config import ExorelayConfig, FinalityMode, L1Config
from relayer.errors import ConfigError, ExorelayError
from relayer.exocore.events import RelayPacketCreated, decode_block_events
from relayer.exocore.follower import BlockFollower
from relayer.exocore.grpc_client import ExocoreGrpcClient
from relayer.exocore.rpc import CometRpcClient
from relayer.l1.client import L1Client
from relayer.l1.gateway import GatewayClient
from relayer.l1.keystore import load_signer
from relayer.l1.txmanager import TxManager, TxSettings
from relayer.leases import (
    STREAM_EXOCORE,
    LeaseKeeper,
    LeaseName,
    idle_in_transaction_timeout_ms,
    l1_stream_lease,
    new_holder_id,
    signer_lease,
)
from relayer.metrics import RelayerMetrics
from relayer.pipeline.cumulative_push import CumulativePusher
from relayer.pipeline.jobs import Backoff, Claimant
from relayer.pipeline.push_policy import policy_from_config
from relayer.pipeline.stages import JOB_CLAIM_TTL_S, CycleReport, Pipeline, PipelineSettings
from storage import migrate
from storage.db import create_db_engine
from storage.store import LifecycleStore

_log = logging.getLogger("relayer.service")
T = TypeVar("T")

SHUTDOWN_BUDGET_S: Final = 10.0
"""On SIGTERM: finish the step, persist, exit within this many seconds (an orchestrator's grace period
is typically 10-30 s before it kills)."""
METRICS_INTERVAL_S: Final = 5.0
"""Backlog gauges are refreshed from SQL this often (a Prometheus scrape is every 15 s or more)."""
MAX_EXOCORE_BLOCKS_PER_CYCLE: Final = 50
"""Blocks indexed per cycle while catching up: bounds one cycle so L1 work keeps flowing."""
MAX_L1_POLLS_PER_CYCLE: Final = 5
"""L1 log batches per cycle while catching up (each covers up to ``l1.log_batch_blocks``)."""
L1_INGEST_BUDGET_S: Final = 0.25
"""Time one cycle may spend ingesting L1 logs: no further batch starts once it is spent, the
ingestor shrinks its batches so that one fits it, and a cycle after one that overran it leaves
ingestion out (one L1 block is the smallest batch, and a busy block of payouts takes ~0.3-0.9 s on a
loaded machine). Ingestion shares the pipeline's thread, and a backlog of paid leaves (~0.2-0.5 ms
each, bench/relayer_pipeline.py) must not hold back the signing of the next payouts: the pipeline knows which
leaves it submitted from its own tx intents, ingestion catches up later."""
CYCLE_OVERRUN_FACTOR: Final = 10
"""A cycle late by more than this many intervals is skipped (the next one does the same work)."""


def schedule_jobs(
    scheduler: BackgroundScheduler,
    *,
    cycle: Callable[[], object],
    sweep: Callable[[], object],
    refresh_metrics: Callable[[], object],
    poll_interval_s: float,
    sweep_interval_s: float,
) -> None:
    """The service's three interval jobs on ``scheduler`` (one worker thread, coalescing).

    Only the cycle may be skipped for running late: another is submitted as soon as it is.
    The sweep and the metrics queue behind the running cycle; with a grace of their own interval,
    every run of them was dropped once a cycle took longer than that (two busy cores), and the sweep
    is what finds packets whose announcement was lost (a holder killed between ingesting a block
    and recording its packets). Coalesced, a late sweep runs once, however late."""
    scheduler.add_job(
        cycle,
        "interval",
        seconds=poll_interval_s,
        id="cycle",
        misfire_grace_time=max(1, int(poll_interval_s * CYCLE_OVERRUN_FACTOR)),
    )
    scheduler.add_job(sweep, "interval", seconds=sweep_interval_s, id="sweep", misfire_grace_time=None)
    scheduler.add_job(
        refresh_metrics, "interval", seconds=METRICS_INTERVAL_S, id="metrics", misfire_grace_time=None
    )


@dataclass
class ChainParts:
    """What one client chain needs: its L1 client, gateway, tx manager, delivery/payout pipeline and
    L1 ingestion, with its two leases (its signing key, its L1 stream)."""

    chain: L1Config
    l1: L1Client
    gateway: GatewayClient
    txm: TxManager
    pipeline: Pipeline
    l1_ingestor: L1Ingestor
    signer_lease: LeaseName
    l1_stream_lease: LeaseName


@dataclass
class Components:
    engine: Engine
    store: LifecycleStore
    rpc: CometRpcClient
    grpc: ExocoreGrpcClient
    l1: L1Client
    gateway: GatewayClient
    txm: TxManager
    pipeline: Pipeline
    follower: BlockFollower
    feed: ExocoreFeed
    l1_ingestor: L1Ingestor
    metrics: RelayerMetrics
    keeper: LeaseKeeper
    signer_lease: LeaseName
    l1_stream_lease: LeaseName
    chains: tuple[ChainParts, ...] = ()
    """Every client chain's parts, the first (whose parts the fields above name) first."""


def build(
    config: ExorelayConfig,
    *,
    signer: LocalAccount | None = None,
    engine: Engine | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> Components:
    """Wire every part from the configuration (runs migrations: the schema is ours): Exocore's
    follower and ingestion once, and per client chain its L1 client, tx manager, pipeline and L1
    ingestion. ``signer`` (tests) signs on every chain; otherwise each chain's keystore does."""
    for index, chain in enumerate(config.chains):
        if chain.gateway_address is None:
            raise ConfigError(
                f"{config.chain_key_path(index)}.gateway_address is required to run the relayer"
            )
    engine = engine or create_db_engine(
        config.database.url,
        idle_in_transaction_timeout_ms=idle_in_transaction_timeout_ms(config.relayer.lease_ttl_s),
    )
    migrate.upgrade(engine)
    store = LifecycleStore(engine)
    metrics = RelayerMetrics()
    holder = new_holder_id(config.relayer.holder_id)
    accounts = [signer or load_signer(chain) for chain in config.chains]
    signer_names = [signer_lease(c.chain_id, a.address) for c, a in zip(config.chains, accounts, strict=True)]
    stream_names = [l1_stream_lease(chain.chain_id) for chain in config.chains]
    keeper = LeaseKeeper(
        engine,
        holder,
        (STREAM_EXOCORE, *signer_names, *stream_names),
        ttl_s=config.relayer.lease_ttl_s,
        metrics=metrics,
        # SQLite is one process by design: a live lease found at start is a dead predecessor's.
        take_over_at_start=engine.dialect.name == "sqlite",
    )
    rpc = CometRpcClient.from_config(config.exocore)
    grpc = ExocoreGrpcClient.from_config(config.exocore)
    # Ingestion metrics (halts, poisoned blocks, skipped events) go to the relayer's registry: one
    # /metrics endpoint serves both.
    ingest_metrics = IngestMetrics(metrics.registry)
    chain_ids = frozenset(chain.chain_id for chain in config.chains)
    chains = tuple(
        _chain_parts(
            config,
            chain,
            engine=engine,
            store=store,
            grpc=grpc,
            account=account,
            keeper=keeper,
            names=(signer_name, stream_name),
            metrics=metrics,
            ingest_metrics=ingest_metrics,
            claimant=Claimant(holder, JOB_CLAIM_TTL_S),
            siblings=chain_ids - {chain.chain_id},
            should_stop=should_stop,
        )
        for chain, account, signer_name, stream_name in zip(
            config.chains, accounts, signer_names, stream_names, strict=True
        )
    )
    # Each ingestion stream writes through a store fenced by its lease: a process paused past its
    # lease cannot commit a batch the new holder has committed already.
    feed = ExocoreFeed(
        LifecycleStore(engine, fence=keeper.fence(STREAM_EXOCORE)), grpc, metrics=ingest_metrics
    )
    follower = BlockFollower.from_config(
        rpc, config.exocore, next_height=feed.resume_height(config.exocore.start_height)
    )
    first = chains[0]
    return Components(
        engine=engine,
        store=store,
        rpc=rpc,
        grpc=grpc,
        l1=first.l1,
        gateway=first.gateway,
        txm=first.txm,
        pipeline=first.pipeline,
        follower=follower,
        feed=feed,
        l1_ingestor=first.l1_ingestor,
        metrics=metrics,
        keeper=keeper,
        signer_lease=first.signer_lease,
        l1_stream_lease=first.l1_stream_lease,
        chains=chains,
    )


def _chain_parts(
    config: ExorelayConfig,
    chain: L1Config,
    *,
    engine: Engine,
    store: LifecycleStore,
    grpc: ExocoreGrpcClient,
    account: LocalAccount,
    keeper: LeaseKeeper,
    names: tuple[LeaseName, LeaseName],
    metrics: RelayerMetrics,
    ingest_metrics: IngestMetrics,
    claimant: Claimant,
    siblings: frozenset[int],
    should_stop: Callable[[], bool],
) -> ChainParts:
    signer_name, stream_name = names
    assert chain.gateway_address is not None  # checked by build()
    l1 = L1Client.for_chain(chain)
    l1.check_chain_id()
    gateway = GatewayClient(l1, chain.gateway_address)
    txm = TxManager(
        engine, l1, account, TxSettings.for_chain(chain), store=store, fence=keeper.fence(signer_name)
    )
    pipeline = Pipeline(
        engine,
        store,
        grpc,
        gateway,
        txm,
        settings=PipelineSettings(
            l1_chain_id=chain.chain_id,
            backoff=Backoff(config.relayer.retry_base_s, config.relayer.retry_max_s),
            payout_gas_budget=chain.payout_gas_budget,
            sibling_chain_ids=siblings,
        ),
        should_stop=should_stop,
        metrics=metrics,
        # Each chain pushes its own chain's cumulative roots, under the one [cumulative] policy.
        pusher=_cumulative_pusher(
            config, l1_chain_id=chain.chain_id, engine=engine, grpc=grpc, gateway=gateway, txm=txm
        ),
        claimant=claimant,
    )
    contracts = L1Contracts(
        gateway=chain.gateway_address,
        reward_vault=gateway.reward_vault(),
        restaking_vault=gateway.restaking_vault(),
    )
    l1_ingestor = L1Ingestor(
        LifecycleStore(engine, fence=keeper.fence(stream_name)),
        # The indexer's L1 source speaks web3 directly; it reads the endpoint the client is using.
        Web3L1Source(Web3(Web3.HTTPProvider(l1.active_url, request_kwargs={"timeout": l1.timeout_s}))),
        contracts,
        chain_id=chain.chain_id,
        confirmations=None if chain.finality is FinalityMode.FINALIZED_TAG else chain.confirmations,
        start_block=chain.start_block,
        batch_blocks=chain.log_batch_blocks,
        batch_target_s=L1_INGEST_BUDGET_S,
        metrics=ingest_metrics,
    )
    return ChainParts(chain, l1, gateway, txm, pipeline, l1_ingestor, signer_name, stream_name)


class RelayerService:
    """The running relayer: scheduler, jobs, signal handling."""

    def __init__(
        self,
        config: ExorelayConfig,
        *,
        signer: LocalAccount | None = None,
        engine: Engine | None = None,
        stop_requested: threading.Event | None = None,
    ) -> None:
        self.config = config
        self.stop_requested = stop_requested or threading.Event()
        self.parts = build(config, signer=signer, engine=engine, should_stop=self.stop_requested.is_set)
        self.parts.keeper.tick()  # take the free roles now: start-up work (the sweep) needs them
        self.last_report: CycleReport | None = None
        self.cycles = 0
        self.ingest_budget_s = L1_INGEST_BUDGET_S
        self._ingest_overran = False
        self._stop_metrics: Callable[[], None] | None = None
        self._failovers: dict[str, int] = {}
        self._exocore_token: int | None = None
        """The ``stream:exocore`` token the follower was last aligned under: a new token means another
        process ingested meanwhile, so the follower resumes after the database's cursor."""
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone="UTC",
        )

    # ------------------------------------------------------------------ jobs

    def cycle(self) -> CycleReport | None:
        """Follow both chains one step and drive every stage once, in lifecycle order.

        Each phase fails alone: an L1 outage must not stop Exocore indexing, and an Exocore outage
        must not stop confirmations and payouts of what is already known.
        """
        parts = self.parts
        keeper = parts.keeper
        if not keeper.running:
            keeper.tick()  # driven in the caller's thread (tests, ``run --once``): renew per cycle
        created: list[tuple[int, RelayPacketCreated]] = []
        if keeper.holds(STREAM_EXOCORE):
            self._guarded("exocore follow", lambda: self._follow_exocore(created))
        ingest = [c for c in parts.chains if keeper.holds(c.l1_stream_lease)]
        if ingest:
            self._guarded("l1 ingest", lambda: self._ingest_l1(ingest))
        report: CycleReport | None = None
        for index, chain in enumerate(parts.chains):
            # Discovery is one for all chains (the first pipeline records what Exocore announced);
            # each pipeline then claims its own chain's jobs, and those whose chain is not known yet.
            announced = created if index == 0 else []
            ran = self._guarded(
                f"pipeline (chain {chain.chain.chain_id})", partial(self._run_pipeline, chain, announced)
            )
            if index == 0:
                report = ran
        self.cycles += 1
        if report is not None:
            self.last_report = report
        return report

    def _run_pipeline(
        self, chain: ChainParts, announced: list[tuple[int, RelayPacketCreated]]
    ) -> CycleReport:
        return chain.pipeline.run_cycle(announced, sign=self.parts.keeper.holds(chain.signer_lease))

    def _follow_exocore(self, created: list[tuple[int, RelayPacketCreated]]) -> None:
        parts = self.parts
        token = parts.keeper.token(STREAM_EXOCORE)
        if token != self._exocore_token:
            parts.follower.seek(parts.feed.resume_height(self.config.exocore.start_height))
            self._exocore_token = token
            # A takeover: the blocks the previous holder ingested are behind the cursor, and the
            # packets they announced reached only its own pipeline, which may have died before
            # recording them. Find them now rather than at the next periodic sweep.
            self.sweep()
        for block in parts.follower.poll(MAX_EXOCORE_BLOCKS_PER_CYCLE):
            events = decode_block_events(block)
            try:
                parts.feed.apply(block, events)
            except BaseException:
                # poll() already moved the follower past this block: move it back, or every later
                # cycle would meet a gap (BlockGapError) and Exocore ingestion would stop for good.
                parts.follower.seek(block.height)
                raise
            created.extend((block.height, e) for e in events.events if isinstance(e, RelayPacketCreated))
            if self.stop_requested.is_set():
                break
        # The aggregator's requests as the `collecting` stage: same lease, same fenced store, so the
        # lifecycle tables keep one writer.
        parts.feed.poll_collections()
        parts.metrics.set_heights(exocore=parts.follower.next_height - 1)

    def _ingest_l1(self, chains: list[ChainParts]) -> None:
        """Ingest each chain's L1 logs, within one budget per chain."""
        parts = self.parts
        if self._ingest_overran:
            self._ingest_overran = False  # the last ingestion took more than its share: skip one
            return
        started = time.monotonic()
        budget = self.ingest_budget_s * len(chains)
        try:
            for chain in chains:
                chain_started = time.monotonic()
                for _ in range(MAX_L1_POLLS_PER_CYCLE):
                    result = chain.l1_ingestor.poll()
                    if chain is parts.chains[0]:
                        parts.metrics.set_heights(l1=result.head)
                    if (
                        result.caught_up
                        or self.stop_requested.is_set()
                        or time.monotonic() - chain_started >= self.ingest_budget_s
                    ):
                        break
        finally:
            self._ingest_overran = time.monotonic() - started > budget

    def _guarded(self, phase: str, step: Callable[[], T]) -> T | None:
        try:
            return step()
        except ExorelayError as exc:
            self.parts.metrics.error(exc)
            _log.warning("%s interrupted: %s: %s", phase, type(exc).__name__, exc)
        except Exception:
            # A bug, not bad input: log it loudly but keep the process (and every other item) alive.
            self.parts.metrics.error("unexpected")
            _log.exception("%s failed unexpectedly", phase)
        return None

    def sweep(self) -> None:
        if not self.parts.keeper.holds(STREAM_EXOCORE):
            return  # discovery belongs to the Exocore stream's holder
        try:
            found = self.parts.pipeline.sweep()
            if found:
                _log.info("sweep found %d packets without events", found)
        except ExorelayError as exc:
            self.parts.metrics.error(exc)
            _log.warning("sweep failed: %s: %s", type(exc).__name__, exc)

    def refresh_metrics(self) -> None:
        parts = self.parts
        try:
            # First: the pools are read without IO, so an outage still shows up as a cooling endpoint.
            parts.metrics.set_endpoints("exocore_rpc", parts.rpc.endpoint_health())
            parts.metrics.set_endpoints("exocore_grpc", parts.grpc.endpoint_health())
            parts.metrics.set_endpoints("l1", parts.l1.endpoint_health())
            for other in parts.chains[1:]:
                parts.metrics.set_endpoints(f"l1:{other.chain.chain_id}", other.l1.endpoint_health())
            parts.metrics.refresh_from_db(parts.engine)
            parts.metrics.set_follower(parts.follower.stats())
            parts.metrics.set_signer_balance(parts.l1.balance(parts.txm.sender))
            for chain, count in (("exocore", parts.grpc.failover_count), ("l1", parts.l1.failover_count)):
                seen = self._failovers.get(chain, 0)
                if count > seen:
                    parts.metrics.failover(chain, count - seen)
                self._failovers[chain] = count
        except ExorelayError as exc:
            parts.metrics.error(exc)
            _log.warning("metrics refresh incomplete: %s", exc)
        except Exception:
            _log.exception("metrics refresh failed")

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        for chain in self.parts.chains:
            chain.pipeline.relay_params()  # refuse to start against an L1 / gateway Exocore does not serve
        self.parts.keeper.start()
        if not self.stop_requested.is_set():
            self.sweep()  # clear on start: everything Exocore has that we do not know yet
        schedule_jobs(
            self.scheduler,
            cycle=self.cycle,
            sweep=self.sweep,
            refresh_metrics=self.refresh_metrics,
            poll_interval_s=self.config.exocore.poll_interval_s,
            sweep_interval_s=self.config.relayer.sweep_interval_s,
        )
        if self.config.relayer.metrics_port:
            self._stop_metrics = self.parts.metrics.serve(self.config.relayer.metrics_port)
        self.scheduler.start()
        _log.info(
            "relayer running", extra={"signer": self.parts.txm.sender, "holder": self.parts.keeper.holder}
        )

    def stop(self) -> None:
        """Finish the running step, persist, stop (bounded by SHUTDOWN_BUDGET_S)."""
        self.stop_requested.set()
        started = time.monotonic()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        self.parts.keeper.stop(release=True)  # a standby takes the roles over at once
        if self._stop_metrics is not None:
            self._stop_metrics()
        self.parts.follower.close()
        self.parts.grpc.close()
        self.parts.engine.dispose()
        _log.info("relayer stopped in %.2f s", time.monotonic() - started)

    def run_forever(self) -> int:
        """Run until the stop event is set (see :func:`install_signal_handlers`)."""
        if not self.stop_requested.is_set():
            self.start()
            self.stop_requested.wait()
        self.stop()
        return 0


def install_signal_handlers() -> threading.Event:
    """SIGTERM/SIGINT set the returned event. Installed before anything slow starts, so a signal
    during start-up (migrations, the first sweep) still ends in a clean stop, not a kill."""
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        _log.info("signal %s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    return stop


def run_once(config: ExorelayConfig, *, signer: LocalAccount | None = None, cycles: int = 1) -> Any:
    """Drive ``cycles`` cycles in the calling thread (tests, ``exorelay run --once``)."""
    service = RelayerService(config, signer=signer)
    for chain in service.parts.chains:
        chain.pipeline.relay_params()
    service.sweep()
    reports = [service.cycle() for _ in range(cycles)]
    service.stop()
    return reports


def _cumulative_pusher(
    config: ExorelayConfig,
    *,
    l1_chain_id: int,
    engine: Engine,
    grpc: ExocoreGrpcClient,
    gateway: GatewayClient,
    txm: TxManager,
) -> CumulativePusher | None:
    """The push stage, if the ``[cumulative]`` policy can ever push (it prices or bounds a token);
    without one every earner claims itself and the relayer reads nothing per leaf."""
    section = config.cumulative
    if not section.token_prices and not section.token_minimums:
        return None
    return CumulativePusher(
        engine, grpc, gateway, txm, policy_from_config(section), l1_chain_id=l1_chain_id, clock_s=time.time
    )
