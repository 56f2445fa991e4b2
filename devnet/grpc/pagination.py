"""Cosmos SDK ``query.Paginate`` semantics over an ordered, keyed list.

Items are ``(key, value)`` pairs in ascending key order. A request pages either by ``key`` (resume at
the first item whose key is >= the given one, as ``next_key`` of the previous page says; ``total`` is
not computed) or by ``offset`` (skip that many; ``total`` only when ``count_total``). ``limit`` 0
means the SDK default. ``reverse`` walks from the end (keys <= the given one when resuming).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from cosmpy.protos.cosmos.base.query.v1beta1.pagination_pb2 import PageResponse

from devnet.grpc.errors import InvalidRequestError

# types/query/pagination.go: DefaultLimit.
DEFAULT_LIMIT = 100

T = TypeVar("T")


def paginate(items: Sequence[tuple[bytes, T]], page: Any | None) -> tuple[list[T], Any]:
    """Return the page of values and its ``cosmos.base.query.v1beta1.PageResponse``."""
    key = bytes(page.key) if page is not None else b""
    offset = int(page.offset) if page is not None else 0
    limit = int(page.limit) if page is not None else 0
    count_total = bool(page.count_total) if page is not None else False
    reverse = bool(page.reverse) if page is not None else False
    if key and offset > 0:
        raise InvalidRequestError("invalid request, either offset or key is expected, got both")
    if limit == 0:
        limit = DEFAULT_LIMIT
        # The SDK counts the total when it falls back to the default limit with no key.
        count_total = count_total or not key
    ordered = list(reversed(items)) if reverse else list(items)
    if key:
        start = next(
            (i for i, (k, _) in enumerate(ordered) if (k <= key if reverse else k >= key)),
            len(ordered),
        )
        chosen = ordered[start:start + limit]
        following = ordered[start + limit:start + limit + 1]
        next_key = following[0][0] if following else b""
        return [value for _, value in chosen], PageResponse(next_key=next_key)
    chosen = ordered[offset:offset + limit]
    following = ordered[offset + limit:offset + limit + 1]
    response = PageResponse(next_key=following[0][0] if following else b"")
    if count_total:
        response.total = len(ordered)
    return [value for _, value in chosen], response


def position_key(position: int) -> bytes:
    """Key for items ordered by their position in an append-only list (8-byte big-endian)."""
    return position.to_bytes(8, "big")
