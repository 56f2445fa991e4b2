"""Errors of ``exorelay operator``, each under one family of :mod:`relayer.errors`."""

from __future__ import annotations

from relayer.errors import ConfigError, ExorelayError, StorageError


class OperatorKeyError(ConfigError):
    """The operator's keystore or its password cannot be loaded (missing file, wrong password)."""


class ProtectionError(StorageError):
    """The slashing-protection database is unusable: another chain's, or an unknown schema version."""


class InterchangeError(ConfigError):
    """A slashing-protection interchange file is malformed, for another chain, or conflicts with the
    database (one slot, two digests): refused as a whole, nothing is written."""


class AggregatorError(ExorelayError, ConnectionError):
    """An aggregator could not be reached or kept failing (5xx, 429) past the retry budget."""
