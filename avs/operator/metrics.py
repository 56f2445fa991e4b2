"""Prometheus metrics of ``exorelay operator run`` (served on ``operator.metrics_port``, loopback only,
like the relayer's). A private registry per instance, so tests and several operators in one process
never collide."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

METRICS_HOST: Final = "127.0.0.1"
"""Loopback only: the endpoint has no authentication (same rule as ``exorelay run``)."""


class OperatorMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests_seen = Counter(
            "exorelay_operator_requests_seen",
            "Requests in state collecting read from an aggregator and decided for the first time",
            ["avs"],
            registry=self.registry,
        )
        self.signed = Counter(
            "exorelay_operator_signed",
            "Signatures produced, by kind and protection decision (sign_new, sign_again)",
            ["avs", "kind", "decision"],
            registry=self.registry,
        )
        self.refused = Counter(
            "exorelay_operator_refused",
            "Requests the operator refused to sign, by typed reason",
            ["avs", "reason"],
            registry=self.registry,
        )
        self.posts = Counter(
            "exorelay_operator_posts",
            "Signature posts by aggregator and final outcome (accepted, duplicate, refused, failed)",
            ["aggregator", "outcome", "code"],
            registry=self.registry,
        )
        self.errors = Counter(
            "exorelay_operator_errors",
            "Errors by class (an Exocore or aggregator outage, a bug: 'unexpected')",
            ["class"],
            registry=self.registry,
        )
        self.last_poll = Gauge(
            "exorelay_operator_last_poll_timestamp_seconds",
            "Unix time of the last completed poll of every aggregator",
            registry=self.registry,
        )

    def error(self, error: BaseException | str) -> None:
        self.errors.labels(error if isinstance(error, str) else type(error).__name__).inc()

    def serve(self, port: int) -> Callable[[], None]:
        """Serve ``/metrics`` on ``127.0.0.1:port``; 0 disables it. Returns an idempotent stop."""
        if port == 0:
            return lambda: None
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
