"""Errors of the Exocore client.

Two families, as in :mod:`relayer.errors`:

- :class:`~relayer.errors.ExocoreRpcError` (a ``ConnectionError``): the node could not be reached in
  time or refused to answer. Retrying later, or on another endpoint, may help.
- :class:`~relayer.errors.ProtocolError` (a ``ValueError``): the node answered, but the answer is
  impossible: wrong chain, garbage JSON, a block for another height, a hash that changed. The
  endpoint is lying or broken; the client fails over and reports it.

Every endpoint-level failure carries the endpoint it came from (``endpoint``), so logs and metrics
can say which node misbehaved. :attr:`ExocoreClientError.fail_over` says whether another endpoint
should be tried for the same call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from relayer.endpoints import Failure
from relayer.errors import ExocoreRpcError, ExorelayError, ProtocolError


class ExocoreClientError(ExorelayError):
    """Mixin base of every error raised by :mod:`relayer.exocore` (always with one family)."""

    #: Whether the same call should be retried on the next endpoint.
    fail_over: ClassVar[bool] = True

    def __init__(self, message: str, *, endpoint: str | None = None) -> None:
        super().__init__(message if endpoint is None else f"{endpoint}: {message}")
        self.endpoint = endpoint
        self.reason = message


# --- transport: ExocoreRpcError (ConnectionError) -------------------------------------------------


class ExocoreTimeoutError(ExocoreClientError, ExocoreRpcError):
    """A call did not complete within its per-call timeout / deadline."""


class EndpointUnavailableError(ExocoreClientError, ExocoreRpcError):
    """Connection refused or reset, HTTP 5xx, gRPC UNAVAILABLE: the endpoint cannot serve now."""


class EndpointLaggingError(EndpointUnavailableError):
    """The endpoint is far behind the height another endpoint already reported (syncing or stuck)."""


class AllEndpointsFailedError(ExocoreClientError, ExocoreRpcError):
    """Every configured endpoint failed for one call; ``failures`` maps endpoint -> its error."""

    fail_over = False

    def __init__(self, what: str, failures: Mapping[str, ExocoreClientError]) -> None:
        details = "; ".join(
            f"{endpoint}: {type(error).__name__}: {error.reason}" for endpoint, error in failures.items()
        )
        super().__init__(f"{what} failed on every endpoint ({details})")
        self.failures = dict(failures)


class RpcResponseError(ExocoreClientError, ExocoreRpcError):
    """The node answered with a JSON-RPC error object (``code``, ``message``, ``data``).

    Not failed over by default: the request itself is what the node refuses, so another node of the
    same chain would refuse it too.
    """

    fail_over = False

    def __init__(self, code: int, message: str, data: str, *, endpoint: str | None = None) -> None:
        super().__init__(f"RPC error {code} ({message}): {data}", endpoint=endpoint)
        self.code = code
        self.rpc_message = message
        self.data = data


class HeightNotAvailableError(RpcResponseError):
    """``height N must be less than or equal to the current blockchain height M``: not committed yet."""

    def __init__(
        self, code: int, message: str, data: str, *, requested: int, latest: int, endpoint: str | None = None
    ) -> None:
        super().__init__(code, message, data, endpoint=endpoint)
        self.requested = requested
        self.latest = latest


class HeightPrunedError(RpcResponseError):
    """``height N is not available, lowest height is B`` (or its ABCI results were discarded, then
    ``lowest`` is ``None``): this node pruned it; another node may still have it."""

    fail_over = True

    def __init__(
        self,
        code: int,
        message: str,
        data: str,
        *,
        requested: int,
        lowest: int | None,
        endpoint: str | None = None,
    ) -> None:
        super().__init__(code, message, data, endpoint=endpoint)
        self.requested = requested
        self.lowest = lowest


class BatchTooLargeError(RpcResponseError):
    """The node refuses JSON-RPC batches of more than ``limit`` requests (``max_request_batch_size``)."""

    def __init__(
        self, code: int, message: str, data: str, *, limit: int, endpoint: str | None = None
    ) -> None:
        super().__init__(code, message, data, endpoint=endpoint)
        self.limit = limit


class MethodNotFoundError(RpcResponseError):
    """The endpoint does not serve this method: not a CometBFT RPC (or a restricted one)."""

    fail_over = True


class PushSubscriptionError(ExocoreClientError, ExocoreRpcError):
    """The websocket refused or cancelled the block subscription (the follower falls back to pull)."""


class QueryFailedError(ExocoreClientError, ExocoreRpcError):
    """A gRPC query failed with a status that is neither a timeout nor unavailability."""

    def __init__(self, status: str, details: str, *, endpoint: str | None = None, fail_over: bool) -> None:
        super().__init__(f"gRPC {status}: {details}", endpoint=endpoint)
        self.status = status
        self.details = details
        self._fail_over = fail_over

    @property
    def should_fail_over(self) -> bool:
        return self._fail_over


class InvalidQueryError(ExocoreClientError, ProtocolError):
    """The node refused our request as malformed (gRPC INVALID_ARGUMENT): a caller bug, never retried."""

    fail_over = False


# --- lies: ProtocolError (ValueError) --------------------------------------------------------------


class ChainMismatchError(ExocoreClientError, ProtocolError):
    """The endpoint serves another chain than the configured ``exocore.chain_id``; it is refused."""


class MalformedResponseError(ExocoreClientError, ProtocolError):
    """The answer is not what the protocol allows: not JSON, missing fields, wrong types, bad ids."""


class InconsistentResponseError(ExocoreClientError, ProtocolError):
    """Well-formed but contradicting something already known: another height than requested, a
    block hash that changed on re-read, a height going backwards, a broken parent link."""


class MalformedEventError(ExocoreClientError, ProtocolError):
    """A known event type whose attributes are missing, repeated or invalid."""

    fail_over = False


def failure_class(error: ExocoreClientError) -> Failure:
    """How an error that fails over counts in the endpoint pool (:mod:`relayer.endpoints`)."""
    if isinstance(error, ChainMismatchError):
        return Failure.WRONG_CHAIN
    if isinstance(error, ExocoreTimeoutError | EndpointUnavailableError) and not isinstance(
        error, EndpointLaggingError
    ):
        return Failure.TRANSPORT
    return Failure.ENDPOINT


def should_fail_over(error: ExocoreClientError) -> bool:
    """Whether ``error`` means "try the next endpoint" rather than "tell the caller"."""
    if isinstance(error, QueryFailedError):
        return error.should_fail_over
    return error.fail_over


__all__ = [
    "AllEndpointsFailedError",
    "BatchTooLargeError",
    "ChainMismatchError",
    "EndpointLaggingError",
    "EndpointUnavailableError",
    "ExocoreClientError",
    "ExocoreTimeoutError",
    "HeightNotAvailableError",
    "HeightPrunedError",
    "InconsistentResponseError",
    "InvalidQueryError",
    "MalformedEventError",
    "MalformedResponseError",
    "MethodNotFoundError",
    "PushSubscriptionError",
    "QueryFailedError",
    "RpcResponseError",
    "failure_class",
    "should_fail_over",
]
