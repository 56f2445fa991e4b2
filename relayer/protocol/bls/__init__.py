"""BLS12-381 for exorelay: Ethereum's min-pubkey POP ciphersuite.

Ciphersuite ``BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_`` (PoP tag ``BLS_POP_..._POP_``).

Public keys are G1 points (48 B compressed), signatures G2 points (96 B compressed); what is signed
is always a 32-byte digest. Two backends give identical answers: ``"fast"`` (blspy/blst, default)
and ``"reference"`` (py_ecc). Values (:class:`PublicKey`, :class:`Signature`) are validated when
built; keys come through :func:`parse_public_keys`, which caches validated keys (warm path) and
parses the rest on two threads (cold path). EIP-2537 uncompressed forms for L1 via
``.to_eip2537()`` / ``.from_eip2537()``.
"""

from __future__ import annotations

from relayer.protocol.bls.api import (
    aggregate_public_keys,
    aggregate_signatures,
    exocore_pop_message,
    fast_aggregate_verify,
    fast_aggregate_verify_encoded,
    fast_aggregate_verify_or_raise,
    hash_to_g2,
    parse_public_key,
    parse_public_keys,
    parse_signature,
    pop_prove,
    pop_verify,
    pop_verify_or_raise,
    public_key_cache_stats,
    public_key_of,
    secret_key_from_seed,
    sign,
    verify,
    verify_or_raise,
)
from relayer.protocol.bls.backend import BackendChoice, BlsBackend
from relayer.protocol.bls.cache import CacheStats
from relayer.protocol.bls.constants import (
    CURVE_ORDER,
    FIELD_MODULUS,
    G1_COMPRESSED_BYTES,
    G1_EIP2537_BYTES,
    G2_COMPRESSED_BYTES,
    G2_EIP2537_BYTES,
    MESSAGE_BYTES,
    PARALLEL_PARSE_MIN_KEYS,
    POP_DST,
    PUBLIC_KEY_CACHE_CAPACITY_KEYS,
    SIGNATURE_DST,
)
from relayer.protocol.bls.encoding import fp2_to_eip2537
from relayer.protocol.bls.hashing import expand_message_xmd, hash_to_field_fp2
from relayer.protocol.bls.registry import get_backend
from relayer.protocol.bls.values import PublicKey, SecretKey, Signature

__all__ = [
    "CURVE_ORDER",
    "FIELD_MODULUS",
    "G1_COMPRESSED_BYTES",
    "G1_EIP2537_BYTES",
    "G2_COMPRESSED_BYTES",
    "G2_EIP2537_BYTES",
    "MESSAGE_BYTES",
    "PARALLEL_PARSE_MIN_KEYS",
    "POP_DST",
    "PUBLIC_KEY_CACHE_CAPACITY_KEYS",
    "SIGNATURE_DST",
    "BackendChoice",
    "BlsBackend",
    "CacheStats",
    "PublicKey",
    "SecretKey",
    "Signature",
    "aggregate_public_keys",
    "aggregate_signatures",
    "exocore_pop_message",
    "expand_message_xmd",
    "fast_aggregate_verify",
    "fast_aggregate_verify_encoded",
    "fast_aggregate_verify_or_raise",
    "fp2_to_eip2537",
    "get_backend",
    "hash_to_field_fp2",
    "hash_to_g2",
    "parse_public_key",
    "parse_public_keys",
    "parse_signature",
    "pop_prove",
    "pop_verify",
    "pop_verify_or_raise",
    "public_key_cache_stats",
    "public_key_of",
    "secret_key_from_seed",
    "sign",
    "verify",
    "verify_or_raise",
]
