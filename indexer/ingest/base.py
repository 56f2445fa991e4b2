"""What both ingestion streams share: run a batch, and halt the stream on a violation."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from indexer.errors import (
    ChainMismatchError,
    DeepReorgError,
    IllegalTransitionError,
    InvariantViolationError,
    UnknownEntityError,
)
from indexer.invariants import FORWARD_ONLY
from indexer.metrics import IngestMetrics
from indexer.store import LifecycleStore

T = TypeVar("T")

log = logging.getLogger(__name__)

REFERENCES_KNOWN_OBJECT = "references_known_object"
CHAIN_CONSISTENT = "chain_consistent"
REORG_WITHIN_FINALITY = "reorg_within_finality"


def as_violation(stream: str, exc: Exception) -> InvariantViolationError | None:
    """The violation an ingestion error amounts to (None: not a data problem, e.g. an RPC fault)."""
    if isinstance(exc, InvariantViolationError):
        return InvariantViolationError(stream, exc.invariant, str(exc), exc.details)
    if isinstance(exc, IllegalTransitionError):
        return InvariantViolationError(
            stream,
            FORWARD_ONLY,
            str(exc),
            {
                "entity_kind": exc.entity,
                "entity_id": exc.entity_id,
                "from": exc.from_state,
                "to": exc.to_state,
            },
        )
    if isinstance(exc, UnknownEntityError):
        return InvariantViolationError(stream, REFERENCES_KNOWN_OBJECT, str(exc), {})
    if isinstance(exc, ChainMismatchError):
        return InvariantViolationError(stream, CHAIN_CONSISTENT, str(exc), {})
    if isinstance(exc, DeepReorgError):
        return InvariantViolationError(
            stream, REORG_WITHIN_FINALITY, str(exc), {"ancestor": exc.ancestor, "finalized": exc.finalized}
        )
    return None


def guarded(
    store: LifecycleStore, metrics: IngestMetrics, stream: str, chain: str, batch: Callable[[], T]
) -> T:
    """Run ``batch`` (which commits its own transaction); on a data violation halt the stream."""
    try:
        return batch()
    except Exception as exc:
        violation = as_violation(stream, exc)
        if violation is None:
            raise
        store.halt(stream, chain, str(violation), violation)
        # The alert: an error log line (the violation row and the metric are the durable record).
        log.error(
            "ingestion stream halted: %s",
            violation,
            extra={"stream": stream, "invariant": violation.invariant, "details": violation.details},
        )
        metrics.invariant_violations.labels(stream=stream, invariant=violation.invariant).inc()
        metrics.halted.labels(stream=stream).set(1)
        if isinstance(exc, InvariantViolationError):
            raise violation from exc
        raise
