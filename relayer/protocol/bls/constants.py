"""BLS12-381 constants: curve parameters, encodings, ciphersuite tags and the package's tunables."""

from __future__ import annotations

from typing import Final

# --- Curve -----------------------------------------------------------------------------------------

FIELD_MODULUS: Final = int(
    "1a0111ea397fe69a4b1ba7b6434bacd764774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab", 16
)
"""p, the base-field modulus (381 bits)."""

CURVE_ORDER: Final = int("73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001", 16)
"""r, the order of G1, G2 and GT; secret keys live in [1, r)."""

G1_B: Final = 4
"""E1: y^2 = x^3 + 4 over Fp."""

G2_B: Final = (4, 4)
"""E2: y^2 = x^3 + 4(1 + i) over Fp2 = Fp[i]/(i^2 + 1), coefficients (c0, c1)."""

# --- Encodings -------------------------------------------------------------------------------------

FP_BYTES: Final = 48
"""A big-endian Fp element in the zcash compressed format."""

G1_COMPRESSED_BYTES: Final = 48
G2_COMPRESSED_BYTES: Final = 96
G1_EIP2537_BYTES: Final = 128
G2_EIP2537_BYTES: Final = 256

EIP2537_FP_BYTES: Final = 64
"""EIP-2537 pads every Fp element to 64 bytes: 16 zero bytes then the 48-byte big-endian value."""

EIP2537_PADDING_BYTES: Final = EIP2537_FP_BYTES - FP_BYTES

SECRET_KEY_BYTES: Final = 32
MESSAGE_BYTES: Final = 32
"""Exorelay and Exocore only ever sign 32-byte digests (keccak256 of the real payload)."""

KEYGEN_MIN_IKM_BYTES: Final = 32
"""IETF BLS KeyGen: "IKM MUST be at least 32 bytes long"."""

# Flag bits in the first byte of the zcash compressed encoding.
COMPRESSION_FLAG: Final = 0x80
INFINITY_FLAG: Final = 0x40
SIGN_FLAG: Final = 0x20
FLAG_MASK: Final = COMPRESSION_FLAG | INFINITY_FLAG | SIGN_FLAG

# --- Ciphersuite ------------------------------------------------------------------------------------

SIGNATURE_DST: Final = b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_"
"""Hash-to-G2 domain for ordinary signatures (Ethereum consensus, prysm/blst, Exocore)."""

POP_DST: Final = b"BLS_POP_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_"
"""Hash-to-G2 domain for proofs of possession (IETF PopProve/PopVerify)."""

MAX_DST_BYTES: Final = 255
"""RFC 9380 §5.3.3: longer tags must be hashed down first; we do not need them, so we refuse them."""

EXOCORE_POP_MESSAGE_PREFIX: Final = b"BLS12-381 Signed Message\nChainIDWithoutRevision: "
EXOCORE_POP_MESSAGE_OPERATOR_LABEL: Final = b"\nAccAddressBech32: "

# --- Tunables ---------------------------------------------------------------------------------------

PUBLIC_KEY_CACHE_CAPACITY_KEYS: Final = 4096
"""Validated public keys kept per backend. A key costs ~45 us to decompress and subgroup-check; the
relayer checks every packet against the same few hundred validator/operator keys, so a few full sets
(current, previous and next during rotation) fit with room to spare, at about 0.3 KiB a key."""

PARALLEL_PARSE_MIN_KEYS: Final = 32
"""Below this many uncached keys one thread is faster: handing work to a second thread costs ~0.1 ms,
about two keys' worth of decompression, and the GIL hand-offs add a few more."""

PARSE_THREADS: Final = 2
"""The fast backend releases the GIL while decompressing; the deployment target has 2 cores."""
