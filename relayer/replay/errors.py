"""Errors of ``exorelay record`` / ``exorelay replay`` (families of :mod:`relayer.errors`)."""

from __future__ import annotations

from relayer.errors import ConfigError, L1RpcError, ProtocolError


class FixtureError(ProtocolError):
    """A replay fixture that cannot be used: unreadable, malformed, tampered with, or of a format
    version this exorelay does not read."""


class FixtureFormatError(FixtureError):
    """The file is not a replay fixture (not JSON, missing or mistyped fields, undecodable values)."""


class FixtureVersionError(FixtureError):
    """The fixture's ``format`` / ``format_version`` is not one this exorelay reads."""


class FixtureChecksumError(FixtureError):
    """The fixture's body does not hash to the ``sha256`` it carries: edited or corrupted."""

    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(
            f"fixture checksum mismatch: the file says sha256 {expected}, its body hashes to {actual}"
        )
        self.expected = expected
        self.actual = actual


class RecordRangeError(ConfigError):
    """The height range to record is empty, too long, or not (or no longer) served by the node."""


class ForkSourceError(L1RpcError):
    """The L1 to fork (``--l1-fork-url``) did not answer, or not as a JSON-RPC Ethereum node."""
