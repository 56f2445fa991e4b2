"""Prometheus metrics of ``exorelay aggregator`` (served on its ``/metrics``).

Names are stable (dashboards and docs/operations.md refer to them); each refusal ``code`` label is
the API's error code.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class AggregatorMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.signatures = Counter(
            "exorelay_aggregator_signatures_total",
            "Signature posts answered 202, by verdict (accepted, duplicate).",
            ["verdict"],
            registry=self.registry,
        )
        self.refusals = Counter(
            "exorelay_aggregator_refusals_total",
            "Refused posts and opens, by error code.",
            ["code"],
            registry=self.registry,
        )
        self.requests = Counter(
            "exorelay_aggregator_requests_total",
            "Requests entering each state (collecting, submitted, verified, rejected, expired).",
            ["state"],
            registry=self.registry,
        )
        self.submissions = Counter(
            "exorelay_aggregator_submissions_total",
            "Submission transactions by outcome (broadcast, refused, verified, rejected).",
            ["outcome"],
            registry=self.registry,
        )
        self.checktx_refusals = Counter(
            "exorelay_aggregator_checktx_refusals_total",
            "Submission transactions Exocore's CheckTx refused, by ABCI code (the reason is the "
            "request's state_reason; a wrong sequence is signed again, any other code rejects it).",
            ["code"],
            registry=self.registry,
        )
        self.evidence = Counter(
            "exorelay_aggregator_conflicting_signatures_total",
            "Conflicting signatures recorded as evidence.",
            registry=self.registry,
        )
        self.open_requests = Gauge(
            "exorelay_aggregator_open_requests", "Requests collecting signatures.", registry=self.registry
        )
        self.batch_posts = Histogram(
            "exorelay_aggregator_batch_posts",
            "Posts decided per flat-combined batch (one SQL transaction each).",
            registry=self.registry,
            buckets=(1, 2, 5, 10, 20, 40, 80, 160),
        )
        self.submit_seconds = Histogram(
            "exorelay_aggregator_submit_seconds",
            "Build, sign, record and broadcast of one submission.",
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
        )
