"""RFC 9380 expand_message_xmd (SHA-256) and hash_to_field for Fp2, in pure Python.

The backends hash to G2 natively; these functions exist so that the L1 side (which must hash to G2
with the EIP-2537 MAP_FP2_TO_G2 precompile) has a byte-exact reference for its intermediate values,
and so that tests can pin the intermediate u values of RFC 9380 Appendix J.10.1.
"""

from __future__ import annotations

import hashlib

from relayer.protocol.bls.constants import FIELD_MODULUS, MAX_DST_BYTES
from relayer.protocol.bls.encoding import as_bytes
from relayer.protocol.bls.fields import Fp2
from relayer.protocol.errors import InvalidLengthError, InvalidValueError

SHA256_DIGEST_BYTES = 32
SHA256_BLOCK_BYTES = 64
MAX_XMD_BLOCKS = 255  # RFC 9380 §5.3.1: ell = ceil(len_in_bytes / b_in_bytes) must be <= 255
MAX_XMD_OUTPUT_BYTES = MAX_XMD_BLOCKS * SHA256_DIGEST_BYTES

HASH_TO_FIELD_L_BYTES = 64
"""L = ceil((ceil(log2(p)) + k) / 8) = ceil((381 + 128) / 8) for BLS12-381 at k = 128."""

FP2_DEGREE = 2


def check_dst(dst: bytes) -> bytes:
    dst = as_bytes(dst, "domain separation tag")
    if not 1 <= len(dst) <= MAX_DST_BYTES:
        raise InvalidLengthError(f"domain separation tag must be 1..{MAX_DST_BYTES} bytes, got {len(dst)}")
    return dst


def expand_message_xmd(message: bytes, dst: bytes, length_bytes: int) -> bytes:
    """RFC 9380 §5.3.1 expand_message_xmd with SHA-256."""
    message = as_bytes(message, "message")
    dst = check_dst(dst)
    if isinstance(length_bytes, bool) or not isinstance(length_bytes, int):
        raise InvalidValueError("length_bytes must be an int")
    if not 1 <= length_bytes <= MAX_XMD_OUTPUT_BYTES:
        raise InvalidValueError(f"length_bytes must be 1..{MAX_XMD_OUTPUT_BYTES}, got {length_bytes}")
    blocks = -(-length_bytes // SHA256_DIGEST_BYTES)
    dst_prime = dst + bytes([len(dst)])
    b0 = hashlib.sha256(
        bytes(SHA256_BLOCK_BYTES) + message + length_bytes.to_bytes(2) + b"\x00" + dst_prime
    ).digest()
    previous = hashlib.sha256(b0 + b"\x01" + dst_prime).digest()
    output = [previous]
    for index in range(2, blocks + 1):
        mixed = bytes(a ^ b for a, b in zip(b0, previous, strict=True))
        previous = hashlib.sha256(mixed + bytes([index]) + dst_prime).digest()
        output.append(previous)
    return b"".join(output)[:length_bytes]


def hash_to_field_fp2(message: bytes, dst: bytes, count: int = 2) -> list[Fp2]:
    """RFC 9380 §5.2 hash_to_field for Fp2 (m = 2, L = 64): ``count`` elements as (c0, c1)."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise InvalidValueError("count must be a positive int")
    uniform = expand_message_xmd(message, dst, count * FP2_DEGREE * HASH_TO_FIELD_L_BYTES)
    elements: list[Fp2] = []
    for i in range(count):
        offset = i * FP2_DEGREE * HASH_TO_FIELD_L_BYTES
        c0 = int.from_bytes(uniform[offset : offset + HASH_TO_FIELD_L_BYTES]) % FIELD_MODULUS
        c1 = (
            int.from_bytes(uniform[offset + HASH_TO_FIELD_L_BYTES : offset + 2 * HASH_TO_FIELD_L_BYTES])
            % FIELD_MODULUS
        )
        elements.append((c0, c1))
    return elements
