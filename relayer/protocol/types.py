"""Domain value types shared across the protocol.

Following web3.py's convention, distinct byte/int meanings get distinct ``NewType``s so that mypy
catches a hash passed where an address is expected. Constructors (``as_address`` ...) validate and
normalise once at the boundary; code past the boundary trusts the type.
"""

from __future__ import annotations

from typing import NewType

from relayer.protocol.errors import InvalidLengthError, InvalidValueError

Hash32 = NewType("Hash32", bytes)
"""32 bytes: keccak digests, Merkle nodes, claim/slash/distribution ids."""

Address = NewType("Address", bytes)
"""20-byte EVM address (raw bytes; render with :func:`address_hex` / checksum at IO edges)."""

Amount = NewType("Amount", int)
"""Token amount in base units; 0 <= amount < 2**256."""

Power = NewType("Power", int)
"""Voting power (validator or committee member); non-negative, < 2**256."""

UINT256_MAX = 2**256 - 1
UINT64_MAX = 2**64 - 1
UINT32_MAX = 2**32 - 1
UINT8_MAX = 2**8 - 1


def _strip_0x(text: str) -> str:
    return text[2:] if text[:2] in ("0x", "0X") else text


def as_hash32(value: bytes | str) -> Hash32:
    """Validate 32 bytes (raw or 0x-hex)."""
    raw = _hex_or_bytes(value, "hash")
    if len(raw) != 32:
        raise InvalidLengthError(f"hash must be 32 bytes, got {len(raw)}")
    return Hash32(raw)


def as_address(value: bytes | str) -> Address:
    """Validate a 20-byte address (raw or 0x-hex, any case)."""
    raw = _hex_or_bytes(value, "address")
    if len(raw) != 20:
        raise InvalidLengthError(f"address must be 20 bytes, got {len(raw)}")
    return Address(raw)


def as_amount(value: int) -> Amount:
    """Validate a uint256 token amount."""
    _check_uint(value, 256, "amount")
    return Amount(value)


def as_power(value: int) -> Power:
    """Validate a uint256 voting power."""
    _check_uint(value, 256, "power")
    return Power(value)


def address_hex(address: Address) -> str:
    """Lower-case 0x-hex rendering (EIP-55 checksumming belongs to the L1 IO layer)."""
    return "0x" + address.hex()


def hash_hex(value: Hash32) -> str:
    return "0x" + value.hex()


def check_uint(value: int, bits: int, what: str) -> int:
    """Raise :class:`InvalidValueError` unless ``0 <= value < 2**bits``; return value."""
    _check_uint(value, bits, what)
    return value


def _check_uint(value: int, bits: int, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidValueError(f"{what} must be an int, got {type(value).__name__}")
    if value < 0 or value >> bits:
        raise InvalidValueError(f"{what} {value} does not fit uint{bits}")


def _hex_or_bytes(value: bytes | str, what: str) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):
        try:
            return bytes.fromhex(_strip_0x(value))
        except ValueError as exc:
            raise InvalidValueError(f"{what} is not valid hex: {value!r}") from exc
    raise InvalidValueError(f"{what} must be bytes or hex str, got {type(value).__name__}")
