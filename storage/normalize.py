"""Normalisation at the indexer's boundary: every hash, id and address is stored one way only.

Hashes and addresses become lower-case ``0x`` hex (CometBFT's upper-case hex without prefix, web3's
``HexBytes`` and EIP-55 checksummed strings all map to the same text), integers are range-checked
against their column. A value that cannot be normalised raises :class:`InvalidRecordError`.
"""

from __future__ import annotations

from typing import Final

from relayer.errors import ProtocolError
from relayer.protocol.types import as_address, as_hash32
from storage.errors import InvalidRecordError

BIGINT_MAX: Final = 2**63 - 1
"""Heights, epochs and nonces are stored as signed 64-bit integers (BIGINT on both databases)."""

ZERO_ADDRESS: Final = "0x" + "00" * 20

TEXT_MAX_CHARS: Final = 4_000
"""Free text a chain sends (rejection reasons) is cut to this many characters: far more than any
honest reason, and a hostile one cannot make a row (or the API page showing it) arbitrarily large."""


def hash_hex(value: bytes | str) -> str:
    """32 bytes (raw, ``0x``-hex or bare hex in any case) -> ``0x`` + 64 lower-case hex digits."""
    try:
        return "0x" + as_hash32(value).hex()
    except ProtocolError as exc:
        raise InvalidRecordError(f"not a 32-byte hash: {value!r}") from exc


def address_hex(value: bytes | str) -> str:
    """20 bytes (raw or hex, checksummed or not) -> ``0x`` + 40 lower-case hex digits."""
    try:
        return "0x" + as_address(value).hex()
    except ProtocolError as exc:
        raise InvalidRecordError(f"not a 20-byte address: {value!r}") from exc


def bytes_hex(value: bytes | str) -> str:
    """Arbitrary bytes -> ``0x`` lower-case hex (keys, signatures, payloads, bitmaps)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return "0x" + bytes(value).hex()
    text = value[2:] if value[:2] in ("0x", "0X") else value
    try:
        return "0x" + bytes.fromhex(text).hex()
    except ValueError as exc:
        raise InvalidRecordError(f"not hex: {value!r}") from exc


def storable_text(value: str, max_chars: int = TEXT_MAX_CHARS) -> str:
    """Free text from a chain as every supported database stores it, the same on all of them.

    NUL (PostgreSQL ``text`` refuses it; SQLite would keep it) becomes the four characters ``\\x00``
    and a lone surrogate (not encodable as UTF-8: both drivers refuse it) its ``\\udXXX`` escape;
    text longer than ``max_chars`` (its column's length) is cut, ending in a marker that says so.
    Ordinary text is returned unchanged.
    """
    text = value.replace("\x00", "\\x00")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    if len(text) > max_chars:
        marker = f"...[{len(text)} chars, cut]"
        marker = marker[:max_chars]
        text = text[: max_chars - len(marker)] + marker
    return text


def bigint(value: int, what: str) -> int:
    """A height/epoch/nonce/index: an int in ``[0, 2**63)``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= BIGINT_MAX:
        raise InvalidRecordError(f"{what} must be an integer in [0, 2**63), got {value!r}")
    return value


def uint256(value: int | str, what: str) -> int:
    """An amount or power: an int (or decimal string, as Exocore's protos carry them) < 2**256."""
    if isinstance(value, str):
        if not value.isdecimal() or not value.isascii():
            raise InvalidRecordError(f"{what} must be a decimal integer string, got {value!r}")
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**256:
        raise InvalidRecordError(f"{what} must be a uint256, got {value!r}")
    return value


def payout_entity_id(distribution_id: str, leaf_index: int) -> str:
    """Transition-history id of a payout: ``<distribution id>:<leaf index>``."""
    return f"{distribution_id}:{leaf_index}"


def payout_entity_id_sql(distribution_id: str, leaf_index: str) -> str:
    """:func:`payout_entity_id` as a SQL expression over two column expressions (the set-based
    write path builds a payout's history rows on the server)."""
    return f"{distribution_id} || ':' || {leaf_index}"
