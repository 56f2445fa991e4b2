"""Errors of the L1 side (client, gateway bindings, keystore, transaction manager).

Families as in :mod:`relayer.errors`:

- :class:`~relayer.errors.L1RpcError` (a ``ConnectionError``): an endpoint could not be reached in
  time, answered garbage, or answered a JSON-RPC error object. Transport failures are failed over to
  the next endpoint; JSON-RPC error objects are not (another node of the same chain would refuse the
  same request).
- :class:`~relayer.errors.ConfigError` (a ``ValueError``): wrong chain, unusable keystore.
- :class:`~relayer.errors.TxError` (a ``RuntimeError``): a transaction could not be sent or managed.

Messages never contain key material or passwords.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from relayer.errors import ConfigError, ExorelayError, L1RpcError, TxError


class L1ClientError(ExorelayError):
    """Mixin of every error raised by :mod:`relayer.l1`; ``endpoint`` names the node when known."""

    def __init__(self, message: str, *, endpoint: str | None = None) -> None:
        super().__init__(message if endpoint is None else f"{endpoint}: {message}")
        self.endpoint = endpoint
        self.reason = message


# --- transport / RPC: L1RpcError (ConnectionError) -----------------------------------------------


class L1EndpointError(L1ClientError, L1RpcError):
    """One endpoint failed at the transport level (refused, reset, timed out, HTTP error, not JSON)."""


class L1AllEndpointsFailedError(L1ClientError, L1RpcError):
    """Every configured endpoint failed for one call; ``failures`` maps endpoint -> its error text."""

    def __init__(
        self, what: str, failures: Mapping[str, str], rpc_codes: Mapping[str, int] | None = None
    ) -> None:
        details = "; ".join(f"{endpoint}: {error}" for endpoint, error in failures.items())
        super().__init__(f"{what} failed on every L1 endpoint ({details})")
        self.failures = dict(failures)
        self.rpc_codes = dict(rpc_codes or {})
        """Endpoint -> JSON-RPC error code, for endpoints that answered with an error object."""


class L1ResponseError(L1ClientError, L1RpcError):
    """The node answered a JSON-RPC error object (``code``, ``message``, ``data``)."""

    def __init__(
        self, method: str, code: int, message: str, data: Any, *, endpoint: str | None = None
    ) -> None:
        super().__init__(f"{method}: RPC error {code} ({message})", endpoint=endpoint)
        self.method = method
        self.code = code
        self.rpc_message = message
        self.data = data


class ExecutionRevertedError(L1ResponseError):
    """``eth_call`` / ``eth_estimateGas`` reverted; ``revert_data`` is the raw revert payload (may be
    empty)."""

    def __init__(
        self,
        method: str,
        code: int,
        message: str,
        data: Any,
        revert_data: bytes,
        *,
        endpoint: str | None = None,
    ) -> None:
        super().__init__(method, code, message, data, endpoint=endpoint)
        self.revert_data = revert_data


class MalformedResponseError(L1ClientError, L1RpcError):
    """A JSON-RPC result does not have the shape the method promises."""


# --- configuration: ConfigError (ValueError) -----------------------------------------------------


class ChainIdMismatchError(L1ClientError, ConfigError):
    """The endpoint serves another chain than ``l1.chain_id``: signing for it would be a mistake."""


class KeystoreError(L1ClientError, ConfigError):
    """The signer keystore is missing, unreadable, malformed, or its password is absent or wrong."""


# --- transactions: TxError (RuntimeError) --------------------------------------------------------


class InsufficientFundsError(L1ClientError, TxError):
    """The signer cannot pay ``gas * maxFee + value``: an operator must top the account up."""


class SendRejectedError(L1ClientError, TxError):
    """``eth_sendRawTransaction`` was refused for a reason the manager does not handle itself."""


class UnknownIntentError(L1ClientError, TxError):
    """No transaction intent with that id."""
