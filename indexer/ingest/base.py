"""What both ingestion streams share: run a batch, and halt the stream on a violation or a poisoned
block (one that fails for a data reason, so retrying it could never succeed).

Invariant: a poisoned block is recorded (``poisoned_block``, with its error), counted
(``exorelay_indexer_poisoned_blocks_total``), logged at error and halts its stream at the block, by
one definition (:func:`poison_block`) for every stream; only an operator moves the stream past it
(``exorelay resume`` after a fix, or ``exorelay skip-block``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final, TypeVar

from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from indexer.metrics import IngestMetrics
from storage.db import DatabaseUnavailableError
from storage.errors import (
    BlockPoisonedError,
    ChainMismatchError,
    DeepReorgError,
    IllegalTransitionError,
    InvariantViolationError,
    LeaseError,
    StreamHaltedError,
    UnknownEntityError,
)
from storage.invariants import FORWARD_ONLY
from storage.normalize import storable_text
from storage.store import LifecycleStore

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


RETRYABLE_FAILURES: tuple[type[BaseException], ...] = (
    DatabaseUnavailableError,
    OperationalError,
    InterfaceError,
    DisconnectionError,
    PoolTimeoutError,
    ConnectionError,
    TimeoutError,
)
"""Failures of the connection, not of the block (database or node unreachable, a lock timeout):
the same block is retried. ``ConnectionError`` covers the Exocore and L1 RPC errors."""


def is_poison(exc: BaseException) -> bool:
    """Whether ``exc`` means the block itself cannot be stored (a value the database refuses, a
    malformed record, a bug tripped by this block's data): retrying the same block would fail the
    same way forever. Connection faults are retryable; violations and halts are handled already."""
    if not isinstance(exc, Exception) or isinstance(exc, RETRYABLE_FAILURES):
        return False
    if isinstance(exc, StreamHaltedError | BlockPoisonedError | LeaseError):
        # LeaseError: another process holds the stream now; the block is fine.
        return False
    return as_violation("", exc) is None


def is_block_data_failure(exc: BaseException) -> bool:
    """Whether a batch failed because of its blocks' data: a poison (:func:`is_poison`) or an
    invariant the data breaks. Either way the same blocks would fail again on every retry."""
    if isinstance(exc, StreamHaltedError | BlockPoisonedError | LeaseError):
        return False
    return is_poison(exc) or (isinstance(exc, Exception) and as_violation("", exc) is not None)


def poison_block(
    store: LifecycleStore,
    metrics: IngestMetrics,
    stream: str,
    *,
    chain: str,
    height: int,
    block_hash: str,
    exc: Exception,
) -> BlockPoisonedError:
    """Record block ``height`` as poisoned by ``exc`` and halt ``stream`` at it; the error to raise.

    An invariant the block breaks is also recorded as a violation (row and metric), as
    :func:`guarded` records one, so the violation history stays complete."""
    violation = as_violation(stream, exc)
    error_class = type(exc).__name__
    orig = getattr(exc, "orig", None)  # SQLAlchemy's wrapper: the driver's own error says more
    if orig is not None:
        error_class = f"{error_class}({type(orig).__name__})"
    message = storable_text(str(orig if orig is not None else exc) or error_class)
    store.poison(
        stream,
        height,
        chain=chain,
        block_hash=block_hash,
        error_class=error_class,
        error=message,
        violation=violation,
    )
    metrics.poisoned_blocks.labels(stream=stream).inc()
    metrics.halted.labels(stream=stream).set(1)
    if violation is not None:
        metrics.invariant_violations.labels(stream=stream, invariant=violation.invariant).inc()
    poisoned = BlockPoisonedError(stream, height, error_class, message.splitlines()[0][:500], violation)
    log.error(
        "%s block %d poisoned; stream halted until an operator resumes it or skips the block: %s",
        chain,
        height,
        poisoned,
        extra={"stream": stream, "height": height, "block_hash": block_hash, "error_class": error_class},
    )
    return poisoned


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


SPAN_GROW_MARGIN: Final = 4
"""Caught up (the batch reached the head), the span doubles only after a full-span batch took under
a quarter of its time target: nothing waits, so the next, twice as long, should fit with room for a
busier range."""


def next_batch_span(
    span: int,
    *,
    covered: int,
    records: int,
    elapsed_s: float,
    target_s: float | None,
    behind: bool,
    max_span: int,
) -> int:
    """The block span of a stream's next batch after one over ``covered`` blocks that stored
    ``records`` rows in ``elapsed_s`` seconds (the one span policy of every stream that has one).

    A batch costs a fixed overhead (RPC round trips, a transaction, the invariant checks) plus work
    per block and per row. Splitting only pays while that work dominates, so:

    - **shrink** (halve what the batch covered) only after it overran ``target_s`` with rows to
      store over more than one block: a busy range gets split so one transaction stays short;
    - an overrun of an **empty** batch is overhead, which a smaller span does not reduce: it never
      shrinks the span (on a starved host even a one-block empty batch overruns the target, and
      shrinking on it left the span at one block for good, the stream one block per poll behind);
    - **grow** (double, up to ``max_span``) after a full-span batch while the stream is still
      ``behind`` the head, if it fitted ``target_s`` or stored nothing (empty blocks cost ~only the
      overhead, so more per batch is how a stream catches up); caught up, only after a full-span
      batch took under ``target_s / SPAN_GROW_MARGIN``.

    ``target_s`` None: no target, the span stays as it is. Invariant: ``1 <= result <= max_span``.
    """
    if target_s is None:
        return span
    if elapsed_s > target_s and records > 0 and covered > 1:
        return max(1, min(max_span, covered // 2))
    full = covered >= span
    if full and behind and (elapsed_s <= target_s or records == 0):
        return min(max_span, 2 * span)
    if full and not behind and elapsed_s < target_s / SPAN_GROW_MARGIN:
        return min(max_span, 2 * span)
    return max(1, min(max_span, span))
