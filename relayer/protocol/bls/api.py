"""Module-level BLS functions: each takes an optional ``backend`` (instance, name or None = fast).

Verification answers a bool; the ``*_or_raise`` variants raise :class:`SignatureError` instead, for
callers that treat a bad signature as an error. Malformed input always raises a typed
:mod:`relayer.protocol.errors` error, never returns False.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from eth_utils.crypto import keccak

from relayer.protocol.bls.backend import BackendChoice
from relayer.protocol.bls.cache import CacheStats
from relayer.protocol.bls.constants import EXOCORE_POP_MESSAGE_OPERATOR_LABEL, EXOCORE_POP_MESSAGE_PREFIX
from relayer.protocol.bls.registry import get_backend
from relayer.protocol.bls.values import PublicKey, SecretKey, Signature
from relayer.protocol.errors import IdentifierError, SignatureError
from relayer.protocol.types import Hash32

# Upstream's IsRevisionFormat (imua-avs-sdk core/utils.go): "<id>-<revision>", revision >= 1.
_CHAIN_ID_WITH_REVISION = re.compile(r"^.*[^\n-]-[1-9][0-9]*$", re.DOTALL)
_PRINTABLE_ASCII = re.compile(r"^[\x21-\x7e]+$")


# --- parsing ------------------------------------------------------------------------------------------


def parse_public_key(encoded: bytes, *, backend: BackendChoice = None, use_cache: bool = True) -> PublicKey:
    """Validate one 48-byte compressed key (see :func:`parse_public_keys`)."""
    return get_backend(backend).parse_public_keys([encoded], use_cache=use_cache)[0]


def parse_public_keys(
    encoded: Sequence[bytes], *, backend: BackendChoice = None, use_cache: bool = True
) -> list[PublicKey]:
    """Validate 48-byte compressed keys: flags, canonical x, on the curve, in G1, not the identity.

    Warm path (``use_cache=True``, the default): keys already validated by this backend come from its
    bounded LRU cache at the cost of a dict lookup. Cold path: the rest are decompressed and
    subgroup-checked, on two threads when there are at least ``PARALLEL_PARSE_MIN_KEYS`` of them
    (fast backend). ``use_cache=False`` forces the cold path for every key and leaves the cache alone.
    """
    return get_backend(backend).parse_public_keys(encoded, use_cache=use_cache)


def parse_signature(encoded: bytes, *, backend: BackendChoice = None) -> Signature:
    """Validate a 96-byte compressed signature: flags, canonical x, on the curve, in G2."""
    return get_backend(backend).parse_signature(encoded)


def public_key_cache_stats(*, backend: BackendChoice = None) -> CacheStats:
    return get_backend(backend).cache_stats()


# --- keys -----------------------------------------------------------------------------------------------


def secret_key_from_seed(ikm: bytes, key_info: bytes = b"") -> SecretKey:
    """IETF KeyGen / EIP-2333 HKDF_mod_r (pure Python: identical whatever the backend)."""
    return SecretKey.from_seed(ikm, key_info)


def public_key_of(secret: SecretKey, *, backend: BackendChoice = None) -> PublicKey:
    return get_backend(backend).public_key_of(secret)


# --- single signatures ---------------------------------------------------------------------------------


def sign(secret: SecretKey, message: bytes, *, backend: BackendChoice = None) -> Signature:
    """Sign a 32-byte digest with the POP ciphersuite's signature DST."""
    return get_backend(backend).sign(secret, message)


def verify(
    public_key: PublicKey, message: bytes, signature: Signature, *, backend: BackendChoice = None
) -> bool:
    return get_backend(backend).verify(public_key, message, signature)


def verify_or_raise(
    public_key: PublicKey, message: bytes, signature: Signature, *, backend: BackendChoice = None
) -> None:
    if not verify(public_key, message, signature, backend=backend):
        raise SignatureError(f"signature does not verify under {public_key.hex()}")


# --- proofs of possession ------------------------------------------------------------------------------


def pop_prove(secret: SecretKey, *, backend: BackendChoice = None) -> Signature:
    """IETF PopProve: sign the compressed public key with the POP DST."""
    return get_backend(backend).pop_prove(secret)


def pop_verify(public_key: PublicKey, proof: Signature, *, backend: BackendChoice = None) -> bool:
    return get_backend(backend).pop_verify(public_key, proof)


def pop_verify_or_raise(public_key: PublicKey, proof: Signature, *, backend: BackendChoice = None) -> None:
    if not pop_verify(public_key, proof, backend=backend):
        raise SignatureError(f"proof of possession does not verify for {public_key.hex()}")


# --- aggregates ------------------------------------------------------------------------------------------


def aggregate_signatures(signatures: Sequence[Signature], *, backend: BackendChoice = None) -> Signature:
    """Sum of signatures; an empty list is an error."""
    return get_backend(backend).aggregate_signatures(signatures)


def aggregate_public_keys(public_keys: Sequence[PublicKey], *, backend: BackendChoice = None) -> PublicKey:
    """Sum of distinct keys; empty list, duplicate key or an identity sum is an error."""
    return get_backend(backend).aggregate_public_keys(public_keys)


def fast_aggregate_verify(
    public_keys: Sequence[PublicKey], message: bytes, signature: Signature, *, backend: BackendChoice = None
) -> bool:
    """All ``public_keys`` (distinct, PoP-checked when they were admitted) signed ``message``."""
    return get_backend(backend).fast_aggregate_verify(public_keys, message, signature)


def fast_aggregate_verify_or_raise(
    public_keys: Sequence[PublicKey], message: bytes, signature: Signature, *, backend: BackendChoice = None
) -> None:
    if not fast_aggregate_verify(public_keys, message, signature, backend=backend):
        raise SignatureError(f"aggregate signature does not verify under {len(public_keys)} keys")


def fast_aggregate_verify_encoded(
    encoded_keys: Sequence[bytes],
    message: bytes,
    encoded_signature: bytes,
    *,
    backend: BackendChoice = None,
    use_cache: bool = True,
) -> bool:
    """One call from wire bytes: parse (cache per ``use_cache``), then fast-aggregate-verify.
    Malformed keys or signature raise; a well-formed signature that does not verify gives False."""
    chosen = get_backend(backend)
    keys = chosen.parse_public_keys(encoded_keys, use_cache=use_cache)
    return chosen.fast_aggregate_verify(keys, message, chosen.parse_signature(encoded_signature))


# --- hashing ----------------------------------------------------------------------------------------------


def hash_to_g2(message: bytes, dst: bytes, *, backend: BackendChoice = None) -> bytes:
    """RFC 9380 BLS12381G2_XMD:SHA-256_SSWU_RO_ hash_to_curve with any DST, 96-byte compressed."""
    return get_backend(backend).hash_to_g2(message, dst)


def exocore_pop_message(chain_id_without_revision: str, operator_bech32: str) -> Hash32:
    """The digest an operator signs (ordinary :func:`sign`) to register a BLS key on Exocore:
    keccak256("BLS12-381 Signed Message\\nChainIDWithoutRevision: <chain>\\nAccAddressBech32: <op>")
    (imuachain x/avs/types BLSMessageToSign). The chain id must already have its "-N" revision cut.
    """
    chain = _printable_ascii(chain_id_without_revision, "chain id")
    operator = _printable_ascii(operator_bech32, "operator address")
    if _CHAIN_ID_WITH_REVISION.match(chain_id_without_revision):
        raise IdentifierError(
            f"chain id {chain_id_without_revision!r} still carries a revision suffix; pass it without '-N'"
        )
    return Hash32(keccak(EXOCORE_POP_MESSAGE_PREFIX + chain + EXOCORE_POP_MESSAGE_OPERATOR_LABEL + operator))


def _printable_ascii(value: object, what: str) -> bytes:
    # A newline or space would let one field forge the other's label; upstream ids never contain them.
    if not isinstance(value, str) or not _PRINTABLE_ASCII.match(value):
        raise IdentifierError(f"{what} must be a non-empty string of printable ASCII without spaces")
    return value.encode("ascii")
