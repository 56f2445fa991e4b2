"""Errors of the aggregator: the typed refusals a poster gets back, and the service's own faults.

Every refusal is an :class:`AggregatorRefusalError` (a ``ValueError``: the input was wrong) carrying its
HTTP status and stable snake_case ``code``, which is also the ``verdict`` recorded for it and the
label of ``exorelay_aggregator_refusals_total``. The API turns them into the query API's error body
``{"error": {"code", "message", "details"}}``; nothing a poster sends raises anything else.
"""

from __future__ import annotations

from typing import Any, ClassVar

from relayer.errors import ExorelayError


class AggregatorError(ExorelayError):
    """Root of the aggregator's errors."""


class AggregatorUnavailableError(AggregatorError, ConnectionError):
    """Exocore (committee query, transaction) or the database could not be reached: nothing was
    recorded for the post, which the poster may retry."""

    status: ClassVar[int] = 503
    code: ClassVar[str] = "unavailable"


class AggregatorRefusalError(AggregatorError, ValueError):
    """A post the aggregator refuses; ``status`` and ``code`` are the API's answer."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class MalformedRequestError(AggregatorRefusalError):
    code = "malformed_request"


class MalformedSignatureError(AggregatorRefusalError):
    code = "malformed_signature"


class UnauthorizedError(AggregatorRefusalError):
    status = 401
    code = "unauthorized"


class NotAMemberError(AggregatorRefusalError):
    status = 403
    code = "not_a_member"


class AvsNotServedError(AggregatorRefusalError):
    status = 403
    code = "avs_not_served"


class RequestNotFoundError(AggregatorRefusalError):
    status = 404
    code = "not_found"


class ConflictingSignatureError(AggregatorRefusalError):
    status = 409
    code = "conflicting_signature"


class RequestExpiredError(AggregatorRefusalError):
    status = 410
    code = "request_expired"


class RequestClosedError(AggregatorRefusalError):
    status = 410
    code = "request_closed"


class BodyTooLargeError(AggregatorRefusalError):
    status = 413
    code = "body_too_large"


class InvalidSignatureError(AggregatorRefusalError):
    status = 422
    code = "invalid_signature"


class RateLimitedError(AggregatorRefusalError):
    status = 429
    code = "rate_limited"


class TooManyOpenRequestsError(AggregatorRefusalError):
    status = 503
    code = "too_many_open_requests"
