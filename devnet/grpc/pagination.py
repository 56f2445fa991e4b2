"""Cosmos SDK ``query.Paginate`` semantics over an ordered, keyed list.

Items are ``(key, value)`` pairs in ascending key order. A request pages either by ``key`` (resume at
the first item whose key is >= the given one, as ``next_key`` of the previous page says; ``total`` is
not computed) or by ``offset`` (skip that many; ``total`` only when ``count_total``). ``limit`` 0
means the SDK default. ``reverse`` walks from the end (keys <= the given one when resuming).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar, overload

from cosmpy.protos.cosmos.base.query.v1beta1.pagination_pb2 import PageResponse

from devnet.grpc.errors import InvalidRequestError

# types/query/pagination.go: DefaultLimit.
DEFAULT_LIMIT = 100

T = TypeVar("T")


class _Reversed(Sequence[T]):
    """A reversed view of a sequence that never copies it (items may be built lazily on access)."""

    def __init__(self, items: Sequence[T]) -> None:
        self._items = items

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[T]: ...

    def __getitem__(self, index: int | slice) -> T | Sequence[T]:
        size = len(self._items)
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(size))]
        if index < 0:
            index += size
        if not 0 <= index < size:
            raise IndexError(index)
        return self._items[size - 1 - index]


def _first_position(ordered: Sequence[tuple[bytes, T]], key: bytes, reverse: bool) -> int:
    """Binary search: the first position whose key is >= ``key`` (<= when walking in reverse)."""
    low, high = 0, len(ordered)
    while low < high:
        middle = (low + high) // 2
        found = ordered[middle][0]
        if (found <= key) if reverse else (found >= key):
            high = middle
        else:
            low = middle + 1
    return low


def _slice(ordered: Sequence[tuple[bytes, T]], start: int, stop: int) -> list[tuple[bytes, T]]:
    return [ordered[i] for i in range(start, min(stop, len(ordered)))]


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
    # Only the requested page (and one item after it) is read, so ``items`` may build its entries
    # lazily: a 100k-leaf distribution is paged without materialising every leaf.
    ordered: Sequence[tuple[bytes, T]] = _Reversed(items) if reverse else items
    if key:
        start = _first_position(ordered, key, reverse)
        chosen = _slice(ordered, start, start + limit)
        following = _slice(ordered, start + limit, start + limit + 1)
        next_key = following[0][0] if following else b""
        return [value for _, value in chosen], PageResponse(next_key=next_key)
    chosen = _slice(ordered, offset, offset + limit)
    following = _slice(ordered, offset + limit, offset + limit + 1)
    response = PageResponse(next_key=following[0][0] if following else b"")
    if count_total:
        response.total = len(ordered)
    return [value for _, value in chosen], response


def position_key(position: int) -> bytes:
    """Key for items ordered by their position in an append-only list (8-byte big-endian)."""
    return position.to_bytes(8, "big")
