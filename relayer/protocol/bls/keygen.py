"""IETF BLS KeyGen (draft-irtf-cfrg-bls-signature-05 §2.3), identical to EIP-2333's HKDF_mod_r.

Implemented once, here, with hashlib/hmac, so every backend derives the same secret key from the
same seed. This matters: blspy's ``key_gen`` follows an older draft (its salt is not hashed) and
gives DIFFERENT keys for the same seed; py_ecc's ``KeyGen`` matches this function and EIP-2333.
"""

from __future__ import annotations

import hashlib
import hmac

from relayer.protocol.bls.constants import CURVE_ORDER, KEYGEN_MIN_IKM_BYTES
from relayer.protocol.bls.encoding import as_bytes
from relayer.protocol.errors import InvalidLengthError

KEYGEN_SALT = b"BLS-SIG-KEYGEN-SALT-"
KEYGEN_OKM_BYTES = 48
"""L = ceil((3 * ceil(log2(r))) / 16) = 48: 128 extra bits make ``OKM mod r`` statistically uniform."""

_MAX_KEY_INFO_BYTES = 65535 - 2  # HKDF-Expand info is key_info || I2OSP(L, 2); keep it sane


def _hkdf_extract(salt: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt, ikm, hashlib.sha256).digest()


def _hkdf_expand(prk: bytes, info: bytes, length: int) -> bytes:
    output = b""
    block = b""
    counter = 1
    while len(output) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        output += block
        counter += 1
    return output[:length]


def derive_secret_scalar(ikm: bytes, key_info: bytes = b"") -> int:
    """KeyGen(IKM, key_info) -> SK in [1, r). ``ikm`` must be at least 32 bytes of secret entropy."""
    ikm = as_bytes(ikm, "key material")
    key_info = as_bytes(key_info, "key_info")
    if len(ikm) < KEYGEN_MIN_IKM_BYTES:
        raise InvalidLengthError(f"key material must be at least {KEYGEN_MIN_IKM_BYTES} bytes")
    if len(key_info) > _MAX_KEY_INFO_BYTES:
        raise InvalidLengthError("key_info is too long")
    salt = KEYGEN_SALT
    secret = 0
    while secret == 0:
        salt = hashlib.sha256(salt).digest()
        prk = _hkdf_extract(salt, ikm + b"\x00")
        okm = _hkdf_expand(prk, key_info + KEYGEN_OKM_BYTES.to_bytes(2), KEYGEN_OKM_BYTES)
        secret = int.from_bytes(okm) % CURVE_ORDER
    return secret
