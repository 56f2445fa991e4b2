"""Opaque cursors: base64url of the last row's sort key and the direction it was read in.

A cursor is only valid for the direction it was issued for; anything that does not decode to that
shape is a ``bad_cursor`` (HTTP 400), never a server error.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Final, TypeVar

from storage.normalize import BIGINT_MAX

T = TypeVar("T")

DEFAULT_PAGE_SIZE: Final = 50
MAX_PAGE_SIZE: Final = 500
"""A page of 500 payouts is ~250 kB of JSON: large enough for bulk readers, small enough that one
request never holds a connection for long."""

MAX_CURSOR_CHARS: Final = 200


class Order(StrEnum):
    DESC = "desc"
    ASC = "asc"


class CursorError(ValueError):
    """The cursor is not one this API issued for this listing."""


def encode_cursor(key: int, order: Order) -> str:
    raw = json.dumps({"k": key, "o": order.value}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str, order: Order) -> int:
    if len(token) > MAX_CURSOR_CHARS:
        raise CursorError("cursor too long")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise CursorError("cursor is not valid") from exc
    if not isinstance(data, dict) or set(data) != {"k", "o"}:
        raise CursorError("cursor is not valid")
    key, direction = data["k"], data["o"]
    if isinstance(key, bool) or not isinstance(key, int) or not -1 <= key <= BIGINT_MAX:
        raise CursorError("cursor is not valid")
    if direction != order.value:
        raise CursorError(f"cursor was issued for order={direction}, this request has order={order.value}")
    return key


def page_of(
    rows: Sequence[T], limit: int, key: Callable[[T], int], order: Order
) -> tuple[list[T], str | None]:
    """Trim the ``limit + 1`` rows a listing fetched to a page and its next cursor."""
    if len(rows) <= limit:
        return list(rows), None
    kept = list(rows[:limit])
    return kept, encode_cursor(key(kept[-1]), order)
