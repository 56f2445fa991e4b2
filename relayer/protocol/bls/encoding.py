"""Point encodings: zcash compressed (48 / 96 B) and EIP-2537 uncompressed (128 / 256 B).

Zcash compressed (what Ethereum consensus, blst, prysm and Exocore use): big-endian x with three
flag bits in the top of the first byte: 0x80 = compressed (must be set), 0x40 = point at infinity
(then every other bit must be zero), 0x20 = y is the lexicographically larger root. For G2 the
imaginary part x.c1 comes FIRST, then x.c0.

EIP-2537 (the L1 precompiles): every Fp element is 64 bytes = 16 zero bytes || 48-byte big-endian
value. G1 = x || y (128 B); G2 = x.c0 || x.c1 || y.c0 || y.c1 (256 B; note c0 FIRST, the opposite
of zcash). The point at infinity is all zeros.

Everything here is pure Python and backend independent. It checks lengths, flags, canonical field
elements (< p) and the curve equation; subgroup membership is the backends' job (see
:mod:`relayer.protocol.bls.values`, which always routes through a backend).
"""

from __future__ import annotations

from relayer.protocol.bls.constants import (
    COMPRESSION_FLAG,
    EIP2537_FP_BYTES,
    EIP2537_PADDING_BYTES,
    FIELD_MODULUS,
    FLAG_MASK,
    FP_BYTES,
    G1_COMPRESSED_BYTES,
    G1_EIP2537_BYTES,
    G2_COMPRESSED_BYTES,
    G2_EIP2537_BYTES,
    INFINITY_FLAG,
    SIGN_FLAG,
)
from relayer.protocol.bls.fields import (
    Fp2,
    fp2_is_larger,
    fp2_neg,
    fp2_sqrt,
    fp_is_larger,
    fp_sqrt,
    g1_on_curve,
    g1_rhs,
    g2_on_curve,
    g2_rhs,
)
from relayer.protocol.errors import InvalidLengthError, InvalidPointError, InvalidValueError

G1Affine = tuple[int, int]
G2Affine = tuple[Fp2, Fp2]

G1_INFINITY_COMPRESSED = bytes([COMPRESSION_FLAG | INFINITY_FLAG]) + bytes(G1_COMPRESSED_BYTES - 1)
G2_INFINITY_COMPRESSED = bytes([COMPRESSION_FLAG | INFINITY_FLAG]) + bytes(G2_COMPRESSED_BYTES - 1)

_TOP_BITS_CLEARED = 0xFF ^ FLAG_MASK


def as_bytes(value: object, what: str) -> bytes:
    """Accept bytes-like input, refuse everything else with a typed error."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise InvalidValueError(f"{what} must be bytes, got {type(value).__name__}")


def check_length(data: bytes, expected: int, what: str) -> None:
    if len(data) != expected:
        raise InvalidLengthError(f"{what} must be {expected} bytes, got {len(data)}")


# --- zcash compressed: structural checks ------------------------------------------------------------


def check_compressed_header(data: bytes, size: int, what: str) -> bool:
    """Validate length, flags and that every coordinate is a canonical field element (< p).

    Returns True for the (canonically encoded) point at infinity. Does not check the curve equation:
    that needs a square root, which the backends do far faster while they decompress.
    """
    check_length(data, size, what)
    first = data[0]
    if not first & COMPRESSION_FLAG:
        raise InvalidPointError(f"{what}: compression flag (0x80) not set")
    if first & INFINITY_FLAG:
        if first & SIGN_FLAG or first & _TOP_BITS_CLEARED or any(data[1:]):
            raise InvalidPointError(f"{what}: non-canonical point at infinity")
        return True
    if int.from_bytes(data[:FP_BYTES]) & ~(FLAG_MASK << (8 * FP_BYTES - 8)) >= FIELD_MODULUS:
        raise InvalidPointError(f"{what}: x coordinate is not a canonical field element (>= p)")
    if size == G2_COMPRESSED_BYTES and int.from_bytes(data[FP_BYTES:]) >= FIELD_MODULUS:
        raise InvalidPointError(f"{what}: x.c0 is not a canonical field element (>= p)")
    return False


def _x_and_sign(data: bytes) -> tuple[int, bool]:
    x = int.from_bytes(bytes([data[0] & _TOP_BITS_CLEARED]) + data[1:FP_BYTES])
    return x, bool(data[0] & SIGN_FLAG)


# --- zcash compressed <-> affine --------------------------------------------------------------------


def g1_decompress(data: bytes, what: str = "G1 point") -> G1Affine | None:
    """Affine (x, y) of a compressed G1 point, None for infinity. Checks the curve, not the subgroup."""
    if check_compressed_header(data, G1_COMPRESSED_BYTES, what):
        return None
    x, larger = _x_and_sign(data)
    y = fp_sqrt(g1_rhs(x))
    if y is None:
        raise InvalidPointError(f"{what}: not on the curve")
    if fp_is_larger(y) != larger:
        y = (FIELD_MODULUS - y) % FIELD_MODULUS
    return (x, y)


def g1_compress(point: G1Affine | None) -> bytes:
    """Zcash-compress an affine G1 point (None = infinity). The caller guarantees it is on the curve."""
    if point is None:
        return G1_INFINITY_COMPRESSED
    x, y = point
    flags = COMPRESSION_FLAG | (SIGN_FLAG if fp_is_larger(y) else 0)
    encoded = bytearray(x.to_bytes(FP_BYTES))
    encoded[0] |= flags
    return bytes(encoded)


def g2_decompress(data: bytes, what: str = "G2 point") -> G2Affine | None:
    """Affine (x, y) of a compressed G2 point, None for infinity. Checks the curve, not the subgroup."""
    if check_compressed_header(data, G2_COMPRESSED_BYTES, what):
        return None
    x_c1, larger = _x_and_sign(data)
    x = (int.from_bytes(data[FP_BYTES:]), x_c1)
    y = fp2_sqrt(g2_rhs(x))
    if y is None:
        raise InvalidPointError(f"{what}: not on the curve")
    if fp2_is_larger(y) != larger:
        y = fp2_neg(y)
    return (x, y)


def g2_compress(point: G2Affine | None) -> bytes:
    """Zcash-compress an affine G2 point (None = infinity): x.c1 first, then x.c0."""
    if point is None:
        return G2_INFINITY_COMPRESSED
    (x0, x1), y = point
    encoded = bytearray(x1.to_bytes(FP_BYTES) + x0.to_bytes(FP_BYTES))
    encoded[0] |= COMPRESSION_FLAG | (SIGN_FLAG if fp2_is_larger(y) else 0)
    return bytes(encoded)


# --- EIP-2537 ---------------------------------------------------------------------------------------


def encode_fp_eip2537(value: int) -> bytes:
    return value.to_bytes(EIP2537_FP_BYTES)


def decode_fp_eip2537(chunk: bytes, what: str) -> int:
    if any(chunk[:EIP2537_PADDING_BYTES]):
        raise InvalidPointError(f"{what}: the 16 padding bytes of a field element must be zero")
    value = int.from_bytes(chunk[EIP2537_PADDING_BYTES:])
    if value >= FIELD_MODULUS:
        raise InvalidPointError(f"{what}: coordinate is not a canonical field element (>= p)")
    return value


def _decode_fp_elements(data: bytes, count: int, what: str) -> list[int]:
    return [
        decode_fp_eip2537(data[i * EIP2537_FP_BYTES : (i + 1) * EIP2537_FP_BYTES], what) for i in range(count)
    ]


def g1_to_eip2537(compressed: bytes) -> bytes:
    """Compressed G1 (48 B) -> EIP-2537 G1 (128 B); infinity maps to all zeros."""
    point = g1_decompress(compressed)
    if point is None:
        return bytes(G1_EIP2537_BYTES)
    return encode_fp_eip2537(point[0]) + encode_fp_eip2537(point[1])


def g1_from_eip2537(data: bytes, what: str = "EIP-2537 G1 point") -> bytes:
    """EIP-2537 G1 (128 B) -> compressed G1 (48 B), checking padding, canonical coordinates and the
    curve equation. Subgroup membership is NOT checked here."""
    check_length(data, G1_EIP2537_BYTES, what)
    x, y = _decode_fp_elements(data, 2, what)
    if x == 0 and y == 0:
        return G1_INFINITY_COMPRESSED
    if not g1_on_curve(x, y):
        raise InvalidPointError(f"{what}: not on the curve")
    return g1_compress((x, y))


def g2_to_eip2537(compressed: bytes) -> bytes:
    """Compressed G2 (96 B) -> EIP-2537 G2 (256 B): x.c0 || x.c1 || y.c0 || y.c1."""
    point = g2_decompress(compressed)
    if point is None:
        return bytes(G2_EIP2537_BYTES)
    (x0, x1), (y0, y1) = point
    return b"".join(encode_fp_eip2537(v) for v in (x0, x1, y0, y1))


def g2_from_eip2537(data: bytes, what: str = "EIP-2537 G2 point") -> bytes:
    """EIP-2537 G2 (256 B) -> compressed G2 (96 B), checking padding, canonical coordinates and the
    curve equation. Subgroup membership is NOT checked here."""
    check_length(data, G2_EIP2537_BYTES, what)
    x0, x1, y0, y1 = _decode_fp_elements(data, 4, what)
    if x0 == x1 == y0 == y1 == 0:
        return G2_INFINITY_COMPRESSED
    if not g2_on_curve((x0, x1), (y0, y1)):
        raise InvalidPointError(f"{what}: not on the curve")
    return g2_compress(((x0, x1), (y0, y1)))


def fp2_to_eip2537(value: Fp2) -> bytes:
    """An Fp2 element as the EIP-2537 precompiles take it (MAP_FP2_TO_G2 input): c0 || c1, 64 B each."""
    return encode_fp_eip2537(value[0]) + encode_fp_eip2537(value[1])
