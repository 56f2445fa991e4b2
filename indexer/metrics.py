"""Prometheus metrics of ingestion (the ``exorelay run`` process exposes them).

Each :class:`IngestMetrics` registers into the registry it is given (default: a private one, so tests
and several ingestors in one process never collide); production passes the process registry.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.records = Counter(
            "exorelay_indexer_records_total",
            "Records (events/logs) ingested, by stream and record type.",
            ["stream", "record"],
            registry=self.registry,
        )
        self.batches = Counter(
            "exorelay_indexer_batches_total",
            "Committed ingestion batches.",
            ["stream"],
            registry=self.registry,
        )
        self.invariant_violations = Counter(
            "exorelay_indexer_invariant_violations_total",
            "Invariant violations detected (each stops its stream).",
            ["stream", "invariant"],
            registry=self.registry,
        )
        self.reorgs = Counter(
            "exorelay_indexer_reorgs_total",
            "L1 reorgs detected and reversed.",
            ["stream"],
            registry=self.registry,
        )
        self.reorg_depth = Gauge(
            "exorelay_indexer_last_reorg_depth_blocks",
            "Blocks reversed by the most recent reorg.",
            ["stream"],
            registry=self.registry,
        )
        self.halted = Gauge(
            "exorelay_indexer_stream_halted",
            "1 while a stream is stopped by an invariant violation, a deep reorg or a poisoned block.",
            ["stream"],
            registry=self.registry,
        )
        self.poisoned_blocks = Counter(
            "exorelay_indexer_poisoned_blocks_total",
            "Blocks not storable for a data reason (each halts its stream until an operator acts).",
            ["stream"],
            registry=self.registry,
        )
        self.height = Gauge(
            "exorelay_indexer_height", "Last ingested block height.", ["stream"], registry=self.registry
        )
        self.lag = Gauge(
            "exorelay_indexer_lag_blocks",
            "Blocks between the chain head and the last ingested block.",
            ["stream"],
            registry=self.registry,
        )
