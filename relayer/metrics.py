"""Prometheus metrics of the relayer (``exorelay run`` serves them on ``relayer.metrics_port``).

:class:`RelayerMetrics` owns a private :class:`~prometheus_client.CollectorRegistry`, so tests and
several relayers in one process never collide; the indexer's :class:`indexer.metrics.IngestMetrics`
can register into the same registry (pass ``metrics.registry``) so one endpoint serves both.

Backlog gauges are read from the work-queue tables (:meth:`RelayerMetrics.refresh_from_db`): the
database is the truth after a restart, so the gauges are never out of step with what is queued.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from sqlalchemy import Engine

from relayer.endpoints import STATE_GAUGE_VALUE, EndpointHealth, Failure
from relayer.exocore.follower import FollowerStats
from relayer.protocol.packets import PacketKind
from storage.job_tables import PARKING_REASONS
from storage.jobs import (
    BACKLOG_STAGES,
    oldest_pending,
    packets_for_other_chains,
    parked_payouts,
    stage_counts,
)
from storage.store import utc_now

METRICS_HOST: Final = "127.0.0.1"
"""Metrics are served on loopback only: a scraper on another host goes through a proxy or agent
that the operator controls (the endpoint has no authentication)."""

SUBMIT_TO_FINAL_BUCKETS_S: Final = (
    2.0,
    4.0,
    8.0,
    12.0,
    18.0,
    24.0,
    36.0,
    60.0,
    90.0,
    120.0,
    180.0,
    300.0,
    600.0,
    900.0,
    1200.0,
    1800.0,
    3600.0,
)
"""Submit -> final latency buckets: from one or two 1 s anvil blocks, through a few 12 s mainnet
blocks (N confirmations), to the ~13 min of the ``finalized`` tag (64 slots) and a 1 h ceiling."""

PUSH_EVENT_FIELDS: Final = {
    "reconnect": "push_reconnects",
    "stall": "push_stalls",
    "lag": "push_lags",
    "gap": "push_gaps",
    "malformed": "push_malformed",
}
"""``event`` label of ``exorelay_exocore_push_events_total`` -> the :class:`FollowerStats` counter."""

PACKET_KIND_LABELS: Final = {kind: kind.name.lower() for kind in PacketKind}
"""``kind`` label values of ``exorelay_packets_delivered_total``."""

Stop = Callable[[], None]


class RelayerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.backlog = Gauge(
            "exorelay_backlog",
            "Jobs not done yet, by stage (relay jobs and payout jobs).",
            ["stage"],
            registry=self.registry,
        )
        self.oldest_pending = Gauge(
            "exorelay_oldest_pending_seconds",
            "Age of the oldest open job (0 when the queue is empty).",
            registry=self.registry,
        )
        self.submit_to_final = Histogram(
            "exorelay_submit_to_final_seconds",
            "Time from handing a transaction to L1 until it is final.",
            buckets=SUBMIT_TO_FINAL_BUCKETS_S,
            registry=self.registry,
        )
        self.signer_balance = Gauge(
            "exorelay_signer_balance_wei", "Balance of the signing account on L1.", registry=self.registry
        )
        self.errors = Counter(
            "exorelay_errors",
            "Errors by class (the exception type or a typed retry reason).",
            ["class"],
            registry=self.registry,
        )
        self.rpc_failovers = Counter(
            "exorelay_rpc_failovers",
            "Switches to another RPC endpoint, by chain (exocore, l1).",
            ["chain"],
            registry=self.registry,
        )
        self.endpoint_state = Gauge(
            "exorelay_endpoint_state",
            "Endpoint pool state: 0 healthy, 1 cooling down after a failure, 2 refused (another chain).",
            ["client", "endpoint"],
            registry=self.registry,
        )
        self.endpoint_failovers = Gauge(
            "exorelay_endpoint_failovers",
            "Calls that failed over from this endpoint since the relayer started.",
            ["client", "endpoint"],
            registry=self.registry,
        )
        self.endpoint_last_failure = Gauge(
            "exorelay_endpoint_last_failure",
            "1 for the class of the endpoint's last failure (transport, endpoint, wrong_chain), else 0.",
            ["client", "endpoint", "class"],
            registry=self.registry,
        )
        self.packets_delivered = Counter(
            "exorelay_packets_delivered",
            "Relay packets final on L1, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.payouts_submitted = Counter(
            "exorelay_payouts_submitted", "Leaves sent in payout transactions.", registry=self.registry
        )
        self.exocore_height = Gauge(
            "exorelay_exocore_height", "Latest Exocore height the relayer has seen.", registry=self.registry
        )
        self.l1_height = Gauge(
            "exorelay_l1_height", "Latest L1 block the relayer has seen.", registry=self.registry
        )
        self.exocore_push_connected = Gauge(
            "exorelay_exocore_push_connected",
            "1 while the Exocore websocket subscription is up; 0 when following by pull only.",
            registry=self.registry,
        )
        self.exocore_push_events = Counter(
            "exorelay_exocore_push_events",
            "Websocket push troubles, by event (reconnect, stall, lag, gap, malformed).",
            ["event"],
            registry=self.registry,
        )
        self.payouts_parked = Gauge(
            "exorelay_payouts_parked",
            "Payout jobs parked until L1 lets them pay, by reason (insufficient_deposit: fund the vault).",
            ["reason"],
            registry=self.registry,
        )
        self.packets_other_chain = Gauge(
            "exorelay_packets_other_chain",
            "Packets Exocore addressed to a client chain this relayer does not serve: set aside, never"
            " submitted (serve that chain, or exclude them).",
            registry=self.registry,
        )
        self.leases_held = Gauge(
            "exorelay_lease_held",
            "1 while this process holds the lease (signer:<chain>:<address>, stream:exocore,"
            " stream:l1:<chain>).",
            ["lease"],
            registry=self.registry,
        )
        self.lease_takeovers = Counter(
            "exorelay_lease_takeovers",
            "Leases this process took over from another holder whose lease had expired.",
            ["lease"],
            registry=self.registry,
        )
        self.leases_lost = Counter(
            "exorelay_lease_lost",
            "Leases this process held and lost (expired before renewal, or taken over by another).",
            ["lease"],
            registry=self.registry,
        )
        self.fenced_writes = Counter(
            "exorelay_fenced_writes_refused",
            "Writes the database refused because this process's lease token was stale.",
            ["lease"],
            registry=self.registry,
        )
        self._push_seen: dict[str, int] = {}
        for reason in PARKING_REASONS:
            self.payouts_parked.labels(reason=reason.value)
        for stage in BACKLOG_STAGES:
            self.backlog.labels(stage=stage)  # every stage is exported, at 0 until there is work
        for event in PUSH_EVENT_FIELDS:
            self.exocore_push_events.labels(event=event)
        for label in PACKET_KIND_LABELS.values():
            self.packets_delivered.labels(kind=label)

    # -- updates from the pipeline --

    def refresh_from_db(self, engine: Engine, *, clock: Callable[[], datetime] = utc_now) -> None:
        """Set the backlog, oldest-pending and parked-payout gauges from the work-queue tables."""
        with engine.connect() as conn, conn.begin():
            relay, payout = stage_counts(conn)
            oldest = oldest_pending(conn)
            parked = parked_payouts(conn)
            aside = packets_for_other_chains(conn)
        self.packets_other_chain.set(len(aside))
        for reason in PARKING_REASONS:
            self.payouts_parked.labels(reason=reason.value).set(
                sum(1 for job in parked if job.retry_reason == reason.value)
            )
        merged = {**relay, **payout}
        for stage in BACKLOG_STAGES:
            self.backlog.labels(stage=stage).set(merged.get(stage, 0))
        age = 0.0 if oldest is None else max(0.0, (clock() - oldest.since).total_seconds())
        self.oldest_pending.set(age)

    def lease_state(self, lease: str, *, held: bool, took_over: bool = False, lost: bool = False) -> None:
        """Every lease's series exist (at 0) from the keeper's start, so an alert can rate() them."""
        self.leases_held.labels(lease=lease).set(1 if held else 0)
        takeovers = self.lease_takeovers.labels(lease=lease)
        losses = self.leases_lost.labels(lease=lease)
        self.fenced_writes.labels(lease=lease)
        if took_over:
            takeovers.inc()
        if lost:
            losses.inc()

    def fenced_write_refused(self, lease: str) -> None:
        self.fenced_writes.labels(lease=lease).inc()

    def observe_submit_to_final(self, seconds: float) -> None:
        self.submit_to_final.observe(max(0.0, seconds))

    def set_signer_balance(self, wei: int) -> None:
        self.signer_balance.set(wei)

    def error(self, error_class: str | type[BaseException] | BaseException) -> None:
        """Count one error; a class or an instance is labelled by its type name."""
        if isinstance(error_class, BaseException):
            error_class = type(error_class)
        label = error_class if isinstance(error_class, str) else error_class.__name__
        self.errors.labels(**{"class": label}).inc()

    def failover(self, chain: str, count: int = 1) -> None:
        if count > 0:
            self.rpc_failovers.labels(chain=chain).inc(count)

    def set_endpoints(self, client: str, health: Iterable[EndpointHealth]) -> None:
        """Mirror one client's endpoint pool (``client``: ``exocore_rpc``, ``exocore_grpc``, ``l1``)."""
        for endpoint in health:
            labels = {"client": client, "endpoint": endpoint.url}
            self.endpoint_state.labels(**labels).set(STATE_GAUGE_VALUE[endpoint.state])
            self.endpoint_failovers.labels(**labels).set(endpoint.failovers)
            for failure in Failure:
                self.endpoint_last_failure.labels(**labels, **{"class": failure.value}).set(
                    1 if endpoint.last_failure is failure else 0
                )

    def packet_delivered(self, kind: int) -> None:
        self.packets_delivered.labels(kind=PACKET_KIND_LABELS[PacketKind(kind)]).inc()

    def payouts_sent(self, leaves: int) -> None:
        if leaves > 0:
            self.payouts_submitted.inc(leaves)

    def set_heights(self, *, exocore: int | None = None, l1: int | None = None) -> None:
        if exocore is not None:
            self.exocore_height.set(exocore)
        if l1 is not None:
            self.l1_height.set(l1)

    def set_follower(self, stats: FollowerStats) -> None:
        """Export the follower's push state; its counters only grow, so the deltas are counted."""
        self.exocore_push_connected.set(1 if stats.push_enabled and stats.push_connected else 0)
        for event, field in PUSH_EVENT_FIELDS.items():
            total = int(getattr(stats, field))
            seen = self._push_seen.get(event, 0)
            if total > seen:
                self.exocore_push_events.labels(event=event).inc(total - seen)
            self._push_seen[event] = total

    # -- exposition --

    def serve(self, port: int) -> Stop:
        """Serve ``/metrics`` on ``127.0.0.1:port`` in a background thread; port 0 disables it.

        Returns a callable that stops the server (idempotent).
        """
        if port == 0:
            return _no_server
        server, thread = start_http_server(port, addr=METRICS_HOST, registry=self.registry)
        lock = threading.Lock()
        stopped = False

        def stop() -> None:
            nonlocal stopped
            with lock:
                if stopped:
                    return
                stopped = True
            server.shutdown()
            server.server_close()
            thread.join()

        return stop


def _no_server() -> None:
    """Nothing to stop: metrics serving is disabled."""
