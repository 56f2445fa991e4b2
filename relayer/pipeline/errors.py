"""Errors of the relay pipeline (families of :mod:`relayer.errors`)."""

from __future__ import annotations

from collections.abc import Iterable

from relayer.errors import ConfigError, StorageError


class StageMovedError(StorageError):
    """A job's stage changed between the pipeline reading it and writing its next stage (an operator
    excluded or retried it meanwhile). The write was not made; the caller rolls back its transaction,
    re-reads the job and does not act on the stale view (an excluded packet is never submitted)."""

    def __init__(self, item: str, expected: Iterable[str], actual: str | None) -> None:
        self.item = item
        self.expected = tuple(expected)
        self.actual = actual
        super().__init__(
            f"{item}: stage is {actual or 'gone'}, expected {' or '.join(self.expected)}; not overwritten"
        )


class PushPolicyError(ConfigError):
    """A cumulative push policy is configured inconsistently (no positive period, a negative
    multiple, a batch budget that fits no leaf, a non-positive token price)."""
