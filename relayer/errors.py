"""The one exception root of exorelay and its families.

Every error the project raises derives from :class:`ExorelayError`. Each family also inherits the
builtin that matches its nature, so callers that only know Python's builtins still catch them
sensibly (``except ValueError`` catches bad input, ``except ConnectionError`` catches RPC faults).
Packages add their specific subclasses in their own ``errors`` module (``relayer.protocol.errors``,
``relayer.exocore.errors``, ...), always under one of these families.
"""

from __future__ import annotations


class ExorelayError(Exception):
    """Root of every exorelay error."""


class ConfigError(ExorelayError, ValueError):
    """The configuration file or an ``EXORELAY_*`` override is invalid."""


class ProtocolError(ExorelayError, ValueError):
    """Input violates the exorelay protocol: malformed bytes, bad signature, wrong domain, ..."""


class ExocoreRpcError(ExorelayError, ConnectionError):
    """Talking to an Exocore node (CometBFT RPC, Cosmos gRPC) failed or the node answered nonsense."""


class L1RpcError(ExorelayError, ConnectionError):
    """Talking to an L1 JSON-RPC endpoint failed or the endpoint answered nonsense."""


class TxError(ExorelayError, RuntimeError):
    """An L1 transaction could not be built, signed, sent or confirmed."""


class StorageError(ExorelayError, RuntimeError):
    """The lifecycle database failed or holds data that violates an invariant."""
