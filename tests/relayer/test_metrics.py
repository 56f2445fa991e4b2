"""Relayer metrics: gauges from the work-queue tables, counters, and the loopback /metrics server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import httpx
import psutil
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from devnet.anvil import free_port
from indexer.metrics import IngestMetrics
from relayer.endpoints import EndpointPool, Failure
from relayer.exocore.follower import FollowerStats
from relayer.metrics import SUBMIT_TO_FINAL_BUCKETS_S, RelayerMetrics
from storage.db import create_db_engine
from storage.job_tables import JobStage, PayoutStage
from storage.jobs import BACKLOG_STAGES
from tests.support.database import ops_database
from tests.support.indexer_factory import h
from tests.support.ops_data import NOW, add_job, add_payout_job, clock, empty_tables


@pytest.fixture(scope="module")
def module_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with ops_database(tmp_path_factory.mktemp("metrics-db")) as url:
        engine = create_db_engine(url)
        yield engine
        engine.dispose()


@pytest.fixture
def engine(module_engine: Engine) -> Engine:
    empty_tables(module_engine)
    return module_engine


def value(metrics: RelayerMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_backlog_and_oldest_pending_come_from_the_tables(engine: Engine) -> None:
    metrics = RelayerMetrics()
    metrics.refresh_from_db(engine, clock=clock)
    assert {
        stage: value(metrics, "exorelay_backlog", stage=stage) for stage in BACKLOG_STAGES
    } == dict.fromkeys(BACKLOG_STAGES, 0.0)
    assert value(metrics, "exorelay_oldest_pending_seconds") == 0.0

    add_job(engine, 1, JobStage.DELIVERED)
    add_job(engine, 2, JobStage.DISCOVERED)
    add_job(engine, 3, JobStage.DISCOVERED)
    add_job(engine, 4, JobStage.SUBMITTED, discovered_at=NOW - timedelta(seconds=90))
    add_job(engine, 5, JobStage.REFUSED)
    add_payout_job(engine, h("d1"), 6, PayoutStage.PAYING, created_at=NOW - timedelta(seconds=30))
    add_payout_job(engine, h("d2"), 7, PayoutStage.PAID)
    metrics.refresh_from_db(engine, clock=clock)

    assert {stage: value(metrics, "exorelay_backlog", stage=stage) for stage in BACKLOG_STAGES} == {
        "discovered": 2.0,
        "prepared": 0.0,
        "submitted": 1.0,
        "refused": 1.0,
        "waiting_root": 0.0,
        "paying": 1.0,
    }
    assert value(metrics, "exorelay_backlog", stage="delivered") is None  # done work is not backlog
    assert value(metrics, "exorelay_oldest_pending_seconds") == 3 * 60  # packet 3, discovered 3 min ago

    add_job(engine, 8, JobStage.EXCLUDED, excluded_reason="x")
    empty_tables(engine)
    metrics.refresh_from_db(engine, clock=clock)
    assert value(metrics, "exorelay_backlog", stage="discovered") == 0.0
    assert value(metrics, "exorelay_oldest_pending_seconds") == 0.0


def test_counters_histogram_and_gauges() -> None:
    metrics = RelayerMetrics()
    metrics.observe_submit_to_final(3.0)
    metrics.observe_submit_to_final(700.0)
    assert value(metrics, "exorelay_submit_to_final_seconds_count") == 2
    assert value(metrics, "exorelay_submit_to_final_seconds_bucket", le="4.0") == 1
    assert value(metrics, "exorelay_submit_to_final_seconds_bucket", le="600.0") == 1
    assert value(metrics, "exorelay_submit_to_final_seconds_bucket", le="900.0") == 2
    assert SUBMIT_TO_FINAL_BUCKETS_S[0] <= 2 and SUBMIT_TO_FINAL_BUCKETS_S[-1] == 3600

    metrics.error("l1_unavailable")
    metrics.error(TimeoutError("slow"))
    metrics.error(ConnectionError)
    metrics.errors.labels("RootMismatch").inc()  # positional label, as the service uses it
    assert value(metrics, "exorelay_errors_total", **{"class": "l1_unavailable"}) == 1
    assert value(metrics, "exorelay_errors_total", **{"class": "TimeoutError"}) == 1
    assert value(metrics, "exorelay_errors_total", **{"class": "ConnectionError"}) == 1
    assert value(metrics, "exorelay_errors_total", **{"class": "RootMismatch"}) == 1

    metrics.failover("exocore")
    metrics.failover("l1", 2)
    metrics.failover("l1", 0)
    assert value(metrics, "exorelay_rpc_failovers_total", chain="l1") == 2
    assert value(metrics, "exorelay_rpc_failovers_total", chain="exocore") == 1

    assert value(metrics, "exorelay_packets_delivered_total", kind="slash") == 0  # exported before any
    metrics.packet_delivered(2)
    metrics.packet_delivered(1)
    metrics.packet_delivered(2)
    assert value(metrics, "exorelay_packets_delivered_total", kind="reward_distribution") == 2
    assert value(metrics, "exorelay_packets_delivered_total", kind="valset_update") == 1
    with pytest.raises(ValueError):
        metrics.packet_delivered(9)

    metrics.payouts_sent(150)
    metrics.payouts_sent(0)
    assert value(metrics, "exorelay_payouts_submitted_total") == 150
    metrics.set_signer_balance(5 * 10**18)
    assert value(metrics, "exorelay_signer_balance_wei") == 5e18
    metrics.set_heights(exocore=120)
    metrics.set_heights(l1=9_000)
    assert (value(metrics, "exorelay_exocore_height"), value(metrics, "exorelay_l1_height")) == (120, 9_000)


def test_each_instance_has_its_own_registry_and_can_share_one_with_the_indexer() -> None:
    first, second = RelayerMetrics(), RelayerMetrics()
    first.payouts_sent(3)
    assert second.registry.get_sample_value("exorelay_payouts_submitted_total") == 0
    shared = CollectorRegistry()
    relayer = RelayerMetrics(shared)
    IngestMetrics(shared).batches.labels(stream="l1").inc()
    relayer.set_heights(l1=7)
    assert shared.get_sample_value("exorelay_indexer_batches_total", {"stream": "l1"}) == 1
    assert shared.get_sample_value("exorelay_l1_height") == 7


def test_serve_exposes_the_registry_on_loopback_and_stops() -> None:
    metrics = RelayerMetrics()
    metrics.set_heights(exocore=42)
    port = free_port()
    stop = metrics.serve(port)
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
        assert response.status_code == 200
        assert "exorelay_exocore_height 42.0" in response.text
        assert 'exorelay_backlog{stage="discovered"} 0.0' in response.text
        assert "exorelay_indexer" not in response.text  # only this registry, not the process default
    finally:
        stop()
    stop()  # idempotent
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)


def listening_ports() -> set[int]:
    connections = psutil.Process().net_connections(kind="tcp")
    return {c.laddr.port for c in connections if c.status == psutil.CONN_LISTEN}


def test_port_zero_disables_serving() -> None:
    ports, threads = listening_ports(), threading.active_count()
    stop = RelayerMetrics().serve(0)
    assert listening_ports() == ports  # nothing bound, not even an ephemeral port
    assert threading.active_count() == threads  # and no server thread started
    stop()
    stop()  # stopping nothing is harmless, twice too
    assert listening_ports() == ports


def follower_stats(**overrides: object) -> FollowerStats:
    base: dict[str, object] = {
        "next_height": 10,
        "latest_height": 9,
        "polls": 3,
        "blocks": 9,
        "errors": 0,
        "last_error": None,
        "push_enabled": True,
        "push_connected": True,
        "push_messages": 9,
        "push_reconnects": 0,
        "push_stalls": 0,
        "push_lags": 0,
        "push_gaps": 0,
        "push_malformed": 0,
        "last_pushed_height": 9,
    }
    return FollowerStats(**{**base, **overrides})  # type: ignore[arg-type]


def test_follower_push_state_and_trouble_counters_are_exported() -> None:
    metrics = RelayerMetrics()
    assert value(metrics, "exorelay_exocore_push_events_total", event="reconnect") == 0
    metrics.set_follower(follower_stats())
    assert value(metrics, "exorelay_exocore_push_connected") == 1
    metrics.set_follower(follower_stats(push_connected=False, push_reconnects=2, push_stalls=1))
    assert value(metrics, "exorelay_exocore_push_connected") == 0
    assert value(metrics, "exorelay_exocore_push_events_total", event="reconnect") == 2
    metrics.set_follower(follower_stats(push_connected=True, push_reconnects=3, push_stalls=1))
    assert value(metrics, "exorelay_exocore_push_connected") == 1
    assert value(metrics, "exorelay_exocore_push_events_total", event="reconnect") == 3
    assert value(metrics, "exorelay_exocore_push_events_total", event="stall") == 1


def test_pull_only_follower_reports_push_down() -> None:
    metrics = RelayerMetrics()
    metrics.set_follower(follower_stats(push_enabled=False, push_connected=False))
    assert value(metrics, "exorelay_exocore_push_connected") == 0


def test_endpoint_pool_state_failovers_and_last_failure_class_are_exported() -> None:
    metrics = RelayerMetrics()
    pool = EndpointPool(["http://a", "http://b", "http://c"])
    pool.failed("http://a", Failure.TRANSPORT, "ConnectError", 0.0)
    pool.refuse("http://b", "serves othernet")
    pool.succeeded("http://c", 0.0)
    metrics.set_endpoints("l1", pool.health(1.0))
    assert value(metrics, "exorelay_endpoint_state", client="l1", endpoint="http://a") == 1
    assert value(metrics, "exorelay_endpoint_state", client="l1", endpoint="http://b") == 2
    assert value(metrics, "exorelay_endpoint_state", client="l1", endpoint="http://c") == 0
    assert value(metrics, "exorelay_endpoint_failovers", client="l1", endpoint="http://a") == 1
    assert value(metrics, "exorelay_endpoint_failovers", client="l1", endpoint="http://c") == 0
    last = {"client": "l1", "endpoint": "http://b"}
    assert value(metrics, "exorelay_endpoint_last_failure", **last, **{"class": "wrong_chain"}) == 1
    assert value(metrics, "exorelay_endpoint_last_failure", **last, **{"class": "transport"}) == 0
    metrics.set_endpoints("l1", pool.health(1000.0))  # A's cooldown is over
    assert value(metrics, "exorelay_endpoint_state", client="l1", endpoint="http://a") == 0
