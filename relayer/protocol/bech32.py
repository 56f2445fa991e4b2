"""BIP-173 bech32 (the original checksum constant 1, *not* BIP-350 bech32m), as Cosmos SDK uses it.

A small, strict implementation: every malformed input raises :class:`IdentifierError`. Strings are
limited to 90 characters as BIP-173 specifies (Cosmos account addresses are far shorter).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from relayer.protocol.errors import IdentifierError

CHARSET: Final = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
MAX_LENGTH: Final = 90  # BIP-173 overall length limit
CHECKSUM_LENGTH: Final = 6
BECH32_CONST: Final = 1  # BIP-350's bech32m uses 0x2BC830A3 instead
_GENERATORS: Final = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
_CHAR_VALUES: Final = {char: value for value, char in enumerate(CHARSET)}
_HRP_MIN_CHAR: Final = 33
_HRP_MAX_CHAR: Final = 126


def _polymod(values: Iterable[int]) -> int:
    checksum = 1
    for value in values:
        top = checksum >> 25
        checksum = (checksum & 0x1FFFFFF) << 5 ^ value
        for bit, generator in enumerate(_GENERATORS):
            if (top >> bit) & 1:
                checksum ^= generator
    return checksum


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(char) >> 5 for char in hrp] + [0] + [ord(char) & 31 for char in hrp]


def _create_checksum(hrp: str, data: Sequence[int]) -> list[int]:
    polymod = _polymod([*_hrp_expand(hrp), *data, 0, 0, 0, 0, 0, 0]) ^ BECH32_CONST
    return [(polymod >> 5 * (5 - i)) & 31 for i in range(CHECKSUM_LENGTH)]


@dataclass(frozen=True, slots=True)
class Bech32Data:
    """A decoded bech32 string: lower-case human-readable part and 5-bit data words (no checksum)."""

    hrp: str
    data: tuple[int, ...]


def _check_hrp(hrp: str) -> None:
    if not hrp:
        raise IdentifierError("bech32 human-readable part is empty")
    if any(not _HRP_MIN_CHAR <= ord(char) <= _HRP_MAX_CHAR for char in hrp):
        raise IdentifierError(f"bech32 human-readable part {hrp!r} has a character outside ASCII 33..126")


def bech32_encode(hrp: str, data: Sequence[int]) -> str:
    """Encode 5-bit words under ``hrp``; output is lower case."""
    if hrp.lower() != hrp and hrp.upper() != hrp:
        raise IdentifierError(f"bech32 human-readable part {hrp!r} mixes case")
    hrp = hrp.lower()
    _check_hrp(hrp)
    if any(isinstance(word, bool) or not isinstance(word, int) or not 0 <= word < 32 for word in data):
        raise IdentifierError("bech32 data words must be ints in 0..31")
    encoded = hrp + "1" + "".join(CHARSET[word] for word in [*data, *_create_checksum(hrp, data)])
    if len(encoded) > MAX_LENGTH:
        raise IdentifierError(f"bech32 string would be {len(encoded)} characters (max {MAX_LENGTH})")
    return encoded


def bech32_decode(text: str) -> Bech32Data:
    """Decode and checksum-verify a BIP-173 string (all lower or all upper case)."""
    if not isinstance(text, str):
        raise IdentifierError(f"bech32 input must be a str, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise IdentifierError(f"bech32 string is {len(text)} characters (max {MAX_LENGTH})")
    if any(not _HRP_MIN_CHAR <= ord(char) <= _HRP_MAX_CHAR for char in text):
        raise IdentifierError("bech32 string has a character outside ASCII 33..126")
    if text.lower() != text and text.upper() != text:
        raise IdentifierError("bech32 string mixes upper and lower case")
    lowered = text.lower()
    separator = lowered.rfind("1")
    if separator < 0:
        raise IdentifierError("bech32 string has no '1' separator")
    hrp, payload = lowered[:separator], lowered[separator + 1 :]
    _check_hrp(hrp)
    if len(payload) < CHECKSUM_LENGTH:
        raise IdentifierError("bech32 checksum is too short")
    try:
        words = [_CHAR_VALUES[char] for char in payload]
    except KeyError as exc:
        raise IdentifierError(f"bech32 data has invalid character {exc.args[0]!r}") from exc
    if _polymod([*_hrp_expand(hrp), *words]) != BECH32_CONST:
        raise IdentifierError("bech32 checksum mismatch")
    return Bech32Data(hrp, tuple(words[:-CHECKSUM_LENGTH]))


def convert_bits(data: Iterable[int], from_bits: int, to_bits: int, *, pad: bool) -> tuple[int, ...]:
    """Regroup ``from_bits``-bit values into ``to_bits``-bit values (BIP-173 ``convertbits``).

    With ``pad`` the last group is zero-padded (encoding); without it, leftover bits must be fewer
    than ``from_bits`` and all zero (strict decoding), else :class:`IdentifierError`.
    """
    accumulator = 0
    bits = 0
    output: list[int] = []
    max_value = (1 << to_bits) - 1
    for value in data:
        if value < 0 or value >> from_bits:
            raise IdentifierError(f"value {value} does not fit {from_bits} bits")
        accumulator = (accumulator << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            output.append((accumulator >> bits) & max_value)
    if pad:
        if bits:
            output.append((accumulator << (to_bits - bits)) & max_value)
    elif bits >= from_bits or (accumulator << (to_bits - bits)) & max_value:
        raise IdentifierError("bech32 data has invalid padding")
    return tuple(output)


def encode_bytes(hrp: str, payload: bytes) -> str:
    """Cosmos-style address string: ``hrp`` + bech32 of ``payload`` regrouped into 5-bit words."""
    return bech32_encode(hrp, convert_bits(payload, 8, 5, pad=True))


def decode_bytes(text: str) -> tuple[str, bytes]:
    """Inverse of :func:`encode_bytes`: ``(hrp, payload)``."""
    decoded = bech32_decode(text)
    return decoded.hrp, bytes(convert_bits(decoded.data, 5, 8, pad=False))
