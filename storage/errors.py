"""Errors of the indexer, all under :class:`relayer.errors.StorageError` (the storage family).

A lifecycle move the transition graph forbids, a reorg deeper than the finality window, an invariant
violated by ingested data and a halted stream are distinct types, so the ingestion loop stops
exactly the stream concerned and the API answers with a precise error code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from relayer.errors import StorageError


class IndexerError(StorageError):
    """Root of the indexer's errors."""


class IllegalTransitionError(IndexerError):
    """A lifecycle move the transition graph does not allow (backwards, out of a terminal state, ...)."""

    def __init__(self, entity: str, entity_id: str, from_state: str | None, to_state: str | None) -> None:
        super().__init__(f"{entity} {entity_id}: illegal transition {from_state} -> {to_state}")
        self.entity = entity
        self.entity_id = entity_id
        self.from_state = from_state
        self.to_state = to_state


class UnknownEntityError(IndexerError):
    """A transition or update names an entity the store has never recorded."""


class InvalidRecordError(IndexerError, ValueError):
    """An ingested record is malformed (bad hash, address, amount or a value out of its column's range)."""


class StreamHaltedError(IndexerError):
    """The ingestion stream was stopped (invariant violation, deep reorg) and needs an operator."""

    def __init__(self, stream: str, reason: str) -> None:
        super().__init__(f"ingestion stream {stream!r} is halted: {reason}")
        self.stream = stream
        self.reason = reason


class ChainMismatchError(IndexerError):
    """A block at an already-ingested height has another hash on a chain that cannot reorg (Exocore)."""


class DeepReorgError(IndexerError):
    """An L1 reorg reaches below the finality window: rows already final would change."""

    def __init__(self, stream: str, ancestor: int, finalized: int) -> None:
        super().__init__(
            f"{stream}: reorg to common ancestor {ancestor} is deeper than the finalized height {finalized};"
            " ingestion stopped (finalised rows are never rewritten)"
        )
        self.stream = stream
        self.ancestor = ancestor
        self.finalized = finalized


class InvariantViolationError(IndexerError):
    """Ingested data violates an invariant (overpayment, double payment, backwards move, sum mismatch)."""

    def __init__(self, stream: str, invariant: str, message: str, details: Mapping[str, Any]) -> None:
        super().__init__(f"{stream}: invariant {invariant!r} violated: {message}")
        self.stream = stream
        self.invariant = invariant
        self.details = dict(details)


class BlockPoisonedError(IndexerError):
    """A block cannot be stored for a data reason (the database refuses a value, a record is malformed):
    retrying cannot help. It is recorded in ``poisoned_block`` and its stream halts there until an
    operator resumes it (after a fix) or skips the block (``exorelay skip-block``)."""

    def __init__(
        self,
        stream: str,
        height: int,
        error_class: str,
        message: str,
        violation: InvariantViolationError | None = None,
    ) -> None:
        super().__init__(f"{stream}: block {height} is poisoned: {error_class}: {message}")
        self.stream = stream
        self.height = height
        self.error_class = error_class
        self.violation = violation
        """The invariant the block breaks, when that is why it is poisoned (also recorded as a violation)."""


class SkipBlockError(IndexerError, ValueError):
    """``exorelay skip-block`` was refused: the block is not the poisoned one its stream halts at."""


class LeaseError(StorageError):
    """Root of the lease errors (who may sign with a key, who may ingest a stream)."""


class LeaseBusyError(LeaseError):
    """The lease row was locked by another session for longer than the lease statements wait
    (``storage.leases.LEASE_LOCK_TIMEOUT_MS``): someone is inside a transaction on it (a fenced write,
    maybe of a paused process). Not acquired nor renewed this time; nothing was written."""

    def __init__(self, name: str) -> None:
        super().__init__(f"lease {name!r}: row locked by another transaction; not acquired this time")
        self.name = name


class StaleLeaseError(LeaseError):
    """A write fenced by a lease was refused: this process's token is not the lease's current one, or
    the lease expired on the database's clock. The process may still *believe* it holds the lease (it
    was paused: GC, SIGSTOP, a partition); the database says otherwise and nothing was written."""

    def __init__(self, name: str, holder: str, token: int, reason: str) -> None:
        super().__init__(f"lease {name!r}: holder {holder} with token {token} is stale: {reason}")
        self.name = name
        self.holder = holder
        self.token = token
        self.reason = reason
