"""Errors the exocore query and devnet Msg services turn into gRPC status codes.

The state machine raises these from :class:`~devnet.grpc.queries.ChainQueries` and
:class:`~devnet.grpc.driver.ChainDriver` methods; the servicers map them to the status code a Cosmos
SDK node would use (``NotFound``, ``InvalidArgument``, ``FailedPrecondition``).
"""

from __future__ import annotations

from typing import ClassVar

import grpc

from relayer.errors import ProtocolError


class ChainRequestError(ProtocolError):
    """A request the chain refuses; ``status_code`` is the gRPC code it is answered with."""

    status_code: ClassVar[grpc.StatusCode] = grpc.StatusCode.UNKNOWN


class InvalidRequestError(ChainRequestError):
    """Malformed request: bad address, wrong-length id, both offset and key, ..."""

    status_code = grpc.StatusCode.INVALID_ARGUMENT


class NotFoundError(ChainRequestError):
    """The requested object does not exist."""

    status_code = grpc.StatusCode.NOT_FOUND


class RequestRejectedError(ChainRequestError):
    """A well-formed Msg the chain's rules reject (bad signature, no quorum, unknown AVS, ...)."""

    status_code = grpc.StatusCode.FAILED_PRECONDITION
