"""The operator's side of the aggregator HTTP contract (``/v1``, docs/protocol.md "Operator and
aggregator"): poll the requests to sign, post signatures, with a retry policy.

Two layers, so the policy is tested without sockets:

- :class:`RetryPolicy` and :func:`classify` are pure: what a status code means (done, refused for
  good, worth retrying) and how long to wait before attempt ``n`` (exponential, capped).
- :class:`AggregatorClient` is a thin httpx adapter: it sends, parses the documented JSON shapes
  and follows the policy; ``sleep`` is injected.

Retry rule: connection errors and timeouts, 5xx and 429 are retried with backoff up to
``max_attempts``; any other 4xx is a refusal, never retried, and its ``error.code`` (the contract's
error shape) is what the operator records.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

import httpx

from avs.operator.errors import AggregatorError

SIGNATURE_PATH: Final = "/v1/signatures"
REQUESTS_PATH: Final = "/v1/requests"
PAGE_LIMIT: Final = 100
"""Requests per page when polling: a committee rarely has more than a few open at once."""
MAX_PAGES: Final = 50
"""A poll reads at most this many pages (5,000 requests): a misbehaving aggregator whose cursors never
end cannot hold the operator in one poll."""


class Disposition(StrEnum):
    DONE = "done"
    REFUSED = "refused"
    RETRY = "retry"


def classify(status: int | None) -> Disposition:
    """``None`` is a transport failure (connection refused, reset, timeout)."""
    if status is None or status == 429 or status >= 500:
        return Disposition.RETRY
    if 200 <= status < 300:
        return Disposition.DONE
    return Disposition.REFUSED


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_s: float
    max_s: float
    max_attempts: int

    def __post_init__(self) -> None:
        if not (self.base_s > 0 and self.max_s >= self.base_s and self.max_attempts >= 1):
            raise ValueError("retry policy needs base_s > 0, max_s >= base_s, max_attempts >= 1")

    def delay_s(self, attempt: int) -> float:
        """Wait before attempt ``attempt + 1`` after ``attempt`` failed ones (1-based)."""
        return float(min(self.max_s, self.base_s * 2 ** (attempt - 1)))


@dataclass(frozen=True, slots=True)
class PostResult:
    """The aggregator's final answer to one signature post."""

    disposition: Disposition
    status: int | None
    verdict: str | None = None
    """``accepted`` / ``duplicate`` on 202."""
    code: str | None = None
    """The error shape's ``code`` on a refusal (or the last retryable failure's)."""
    attempts: int = 1


@dataclass(frozen=True, slots=True)
class RequestDocument:
    """The fields of the aggregator's request document the operator uses."""

    digest: bytes
    kind: str
    request: bytes
    evidence: bytes | None
    state: str
    expires_at: datetime | None

    @classmethod
    def from_json(cls, doc: Any) -> RequestDocument:
        if not isinstance(doc, dict):
            raise ValueError("a request document is a JSON object")
        expires = doc.get("expires_at")
        evidence = doc.get("evidence")
        expires_at = None if expires is None else datetime.fromisoformat(str(expires))
        if expires_at is not None and expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)  # the contract's times are UTC
        return cls(
            digest=_hex_bytes(doc["digest"]),
            kind=str(doc.get("kind", "")),
            request=_hex_bytes(doc["request"]),
            evidence=None if evidence is None else _hex_bytes(evidence),
            state=str(doc.get("state", "")),
            expires_at=expires_at,
        )


def _hex_bytes(value: object) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ValueError(f"expected 0x-hex, got {value!r}")
    return bytes.fromhex(value[2:])


def _error_code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else None


class AggregatorClient:
    """One aggregator (``base_url`` without ``/v1``)."""

    def __init__(
        self,
        base_url: str,
        policy: RetryPolicy,
        *,
        timeout_s: float,
        sleep: Callable[[float], object] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.policy = policy
        self._sleep = sleep
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout_s, transport=transport)

    def close(self) -> None:
        self._http.close()

    def collecting(self, avs_hex: str) -> Iterator[RequestDocument]:
        """Every request of ``avs_hex`` in state ``collecting`` (raises :class:`AggregatorError` on a
        failure; malformed documents are skipped by the caller's decoding)."""
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            params: dict[str, str | int] = {"state": "collecting", "avs": avs_hex, "limit": PAGE_LIMIT}
            if cursor:
                params["cursor"] = cursor
            try:
                response = self._http.get(REQUESTS_PATH, params=params)
            except httpx.HTTPError as exc:
                raise AggregatorError(f"{self.base_url}: {type(exc).__name__}: {exc}") from exc
            if response.status_code != 200:
                raise AggregatorError(
                    f"{self.base_url}: GET {REQUESTS_PATH} answered {response.status_code} "
                    f"({_error_code(response)})"
                )
            try:
                page = response.json()
                items = page["items"]
                cursor = page.get("next_cursor")
            except (ValueError, KeyError, TypeError) as exc:
                raise AggregatorError(f"{self.base_url}: malformed request page: {exc}") from exc
            for item in items:
                try:
                    yield RequestDocument.from_json(item)
                except (ValueError, KeyError, TypeError):
                    continue  # one malformed document does not hide the others
            if not cursor:
                return

    def post_signature(self, request: bytes, operator: str, signature: bytes) -> PostResult:
        """POST the signature, retrying what :func:`classify` says to retry."""
        body = {"request": "0x" + request.hex(), "operator": operator, "signature": "0x" + signature.hex()}
        attempt = 0
        while True:
            attempt += 1
            status: int | None
            code: str | None = None
            verdict: str | None = None
            try:
                response = self._http.post(SIGNATURE_PATH, json=body)
                status = response.status_code
                if 200 <= status < 300:
                    answer = response.json()
                    verdict = answer.get("verdict") if isinstance(answer, dict) else None
                else:
                    code = _error_code(response)
            except httpx.HTTPError as exc:
                status, code = None, type(exc).__name__
            disposition = classify(status)
            if disposition is not Disposition.RETRY or attempt >= self.policy.max_attempts:
                return PostResult(disposition, status, verdict, code, attempt)
            self._sleep(self.policy.delay_s(attempt))
