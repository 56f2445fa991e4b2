"""The backend interface and the checks every backend shares (selection by name is
:mod:`relayer.protocol.bls.registry`, which imports the backends; this module imports none of them).

Two backends implement :class:`BlsBackend`: ``"fast"`` (alias ``"blspy"``; chia's blspy over blst,
the default) and ``"reference"`` (alias ``"py_ecc"``; the Ethereum Foundation's pure-Python
py_ecc, ~1000x slower). Same bytes in, same answers out: everything that decides an answer without
curve arithmetic (lengths, flags, canonical coordinates, empty lists, duplicate keys, the 32-byte
message rule) lives in :class:`BackendBase`, so the backends differ only in how they do the math.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Protocol, TypeAlias, runtime_checkable

from relayer.protocol.bls.cache import BoundedLruCache, CacheStats
from relayer.protocol.bls.constants import (
    G1_COMPRESSED_BYTES,
    G2_COMPRESSED_BYTES,
    MESSAGE_BYTES,
    PUBLIC_KEY_CACHE_CAPACITY_KEYS,
)
from relayer.protocol.bls.encoding import (
    as_bytes,
    check_compressed_header,
    check_length,
    g1_decompress,
    g2_decompress,
)
from relayer.protocol.bls.hashing import check_dst
from relayer.protocol.bls.values import PublicKey, SecretKey, Signature
from relayer.protocol.errors import DuplicateKeyError, InvalidPointError, InvalidValueError


@runtime_checkable
class BlsBackend(Protocol):
    """What a BLS12-381 POP-ciphersuite backend offers. All inputs are validated values or bytes;
    verification answers a bool, malformed input raises a :mod:`relayer.protocol.errors` error."""

    @property
    def name(self) -> str: ...

    def parse_public_keys(self, encoded: Sequence[bytes], *, use_cache: bool = True) -> list[PublicKey]: ...

    def parse_signature(self, encoded: bytes) -> Signature: ...

    def public_key_of(self, secret: SecretKey) -> PublicKey: ...

    def sign(self, secret: SecretKey, message: bytes) -> Signature: ...

    def verify(self, public_key: PublicKey, message: bytes, signature: Signature) -> bool: ...

    def pop_prove(self, secret: SecretKey) -> Signature: ...

    def pop_verify(self, public_key: PublicKey, proof: Signature) -> bool: ...

    def aggregate_signatures(self, signatures: Sequence[Signature]) -> Signature: ...

    def aggregate_public_keys(self, public_keys: Sequence[PublicKey]) -> PublicKey: ...

    def fast_aggregate_verify(
        self, public_keys: Sequence[PublicKey], message: bytes, signature: Signature
    ) -> bool: ...

    def hash_to_g2(self, message: bytes, dst: bytes) -> bytes: ...

    def cache_stats(self) -> CacheStats: ...

    def clear_cache(self) -> None: ...


BackendChoice: TypeAlias = "BlsBackend | str | None"
"""A backend, its name ("fast"/"blspy", "reference"/"py_ecc"), or None for the default (fast)."""


def check_message(message: bytes) -> bytes:
    """What is signed is always a 32-byte digest."""
    message = as_bytes(message, "message")
    check_length(message, MESSAGE_BYTES, "signed message (a 32-byte digest)")
    return message


def _check_type(value: object, expected: type, what: str) -> None:
    if not isinstance(value, expected):
        raise InvalidValueError(f"{what} must be a {expected.__name__}, got {type(value).__name__}")


def check_distinct_keys(public_keys: Sequence[PublicKey], what: str) -> list[PublicKey]:
    """Non-empty, all PublicKey, no key twice (compressed encodings are unique per point)."""
    keys = list(public_keys)
    if not keys:
        raise InvalidValueError(f"{what}: the public key list is empty")
    seen: set[bytes] = set()
    for index, key in enumerate(keys):
        _check_type(key, PublicKey, f"{what}: public key #{index}")
        if key.compressed in seen:
            raise DuplicateKeyError(f"{what}: public key #{index} ({key.hex()}) appears twice")
        seen.add(key.compressed)
    return keys


def rejected_public_key(index: int, raw: bytes) -> InvalidPointError:
    """The error for a key whose header was fine but which a backend refused.

    Libraries word (or classify) failures differently; the pure-Python curve check (slow, failure
    path only) settles whether the point is off the curve, otherwise it is outside the subgroup.
    Both backends report through here, so their errors match exactly.
    """
    what = f"public key #{index}"
    try:
        g1_decompress(raw, what)
    except InvalidPointError as off_curve:
        return off_curve
    return InvalidPointError(f"{what}: not in the G1 subgroup")


def rejected_signature(raw: bytes) -> InvalidPointError:
    """Same as :func:`rejected_public_key`, for G2."""
    try:
        g2_decompress(raw, "signature")
    except InvalidPointError as off_curve:
        return off_curve
    return InvalidPointError("signature: not in the G2 subgroup")


class BackendBase(ABC):
    """Shared validation and the validated-public-key cache; subclasses supply the curve math."""

    def __init__(self) -> None:
        self._key_cache: BoundedLruCache[bytes, PublicKey] = BoundedLruCache(PUBLIC_KEY_CACHE_CAPACITY_KEYS)

    @property
    @abstractmethod
    def name(self) -> str: ...

    # --- parsing ----------------------------------------------------------------------------------

    def parse_public_keys(self, encoded: Sequence[bytes], *, use_cache: bool = True) -> list[PublicKey]:
        """Validate compressed public keys. With ``use_cache`` a key seen before costs a dict lookup;
        without it every key is decompressed and subgroup-checked (and the cache is left alone)."""
        raws = [as_bytes(item, f"public key #{index}") for index, item in enumerate(encoded)]
        found: dict[int, PublicKey] = {}
        missing: list[tuple[int, bytes]] = []
        for index, raw in enumerate(raws):
            if use_cache:
                cached = self._key_cache.get(raw)
                if cached is not None:
                    found[index] = cached
                    continue
            if check_compressed_header(raw, G1_COMPRESSED_BYTES, f"public key #{index}"):
                raise InvalidPointError(f"public key #{index} is the point at infinity")
            missing.append((index, raw))
        if missing:
            natives = self._decode_public_keys(missing)
            for (index, raw), native in zip(missing, natives, strict=True):
                key = PublicKey(raw, native)
                found[index] = key
                if use_cache:
                    self._key_cache.put(raw, key)
        return [found[index] for index in range(len(raws))]

    def parse_signature(self, encoded: bytes) -> Signature:
        raw = as_bytes(encoded, "signature")
        infinity = check_compressed_header(raw, G2_COMPRESSED_BYTES, "signature")
        return Signature(raw, self._decode_signature(raw, infinity))

    def cache_stats(self) -> CacheStats:
        return self._key_cache.stats()

    def clear_cache(self) -> None:
        self._key_cache.clear()

    # --- keys and signatures ----------------------------------------------------------------------

    def public_key_of(self, secret: SecretKey) -> PublicKey:
        _check_type(secret, SecretKey, "secret key")
        return self._public_key_of(secret)

    def sign(self, secret: SecretKey, message: bytes) -> Signature:
        _check_type(secret, SecretKey, "secret key")
        return self._sign(secret, check_message(message))

    def verify(self, public_key: PublicKey, message: bytes, signature: Signature) -> bool:
        _check_type(public_key, PublicKey, "public key")
        _check_type(signature, Signature, "signature")
        return self._verify(public_key, check_message(message), signature)

    def pop_prove(self, secret: SecretKey) -> Signature:
        _check_type(secret, SecretKey, "secret key")
        return self._pop_prove(secret)

    def pop_verify(self, public_key: PublicKey, proof: Signature) -> bool:
        _check_type(public_key, PublicKey, "public key")
        _check_type(proof, Signature, "proof of possession")
        return self._pop_verify(public_key, proof)

    def aggregate_signatures(self, signatures: Sequence[Signature]) -> Signature:
        sigs = list(signatures)
        if not sigs:
            raise InvalidValueError("aggregate_signatures: the signature list is empty")
        for index, sig in enumerate(sigs):
            _check_type(sig, Signature, f"signature #{index}")
        return self._aggregate_signatures(sigs)

    def aggregate_public_keys(self, public_keys: Sequence[PublicKey]) -> PublicKey:
        """Sum of distinct keys. Raises InvalidPointError if they cancel out to the identity."""
        return self._aggregate_public_keys(check_distinct_keys(public_keys, "aggregate_public_keys"))

    def fast_aggregate_verify(
        self, public_keys: Sequence[PublicKey], message: bytes, signature: Signature
    ) -> bool:
        """IETF FastAggregateVerify: all keys signed the same 32-byte message. Keys must be distinct
        and proven (PoP) beforehand; keys that sum to the identity verify nothing (False)."""
        keys = check_distinct_keys(public_keys, "fast_aggregate_verify")
        _check_type(signature, Signature, "signature")
        return self._fast_aggregate_verify(keys, check_message(message), signature)

    def hash_to_g2(self, message: bytes, dst: bytes) -> bytes:
        """RFC 9380 hash_to_curve for BLS12381G2_XMD:SHA-256_SSWU_RO_ with any DST; compressed."""
        return self._hash_to_g2(as_bytes(message, "message"), check_dst(dst))

    # --- what a backend implements ----------------------------------------------------------------

    def _decode_public_keys(self, items: Sequence[tuple[int, bytes]]) -> list[object]:
        """Curve and subgroup checks of keys that passed the header checks; (index, raw) pairs."""
        return [self._decode_public_key(index, raw) for index, raw in items]

    @abstractmethod
    def _decode_public_key(self, index: int, raw: bytes) -> object: ...

    @abstractmethod
    def _decode_signature(self, raw: bytes, infinity: bool) -> object: ...

    @abstractmethod
    def _public_key_of(self, secret: SecretKey) -> PublicKey: ...

    @abstractmethod
    def _sign(self, secret: SecretKey, message: bytes) -> Signature: ...

    @abstractmethod
    def _verify(self, public_key: PublicKey, message: bytes, signature: Signature) -> bool: ...

    @abstractmethod
    def _pop_prove(self, secret: SecretKey) -> Signature: ...

    @abstractmethod
    def _pop_verify(self, public_key: PublicKey, proof: Signature) -> bool: ...

    @abstractmethod
    def _aggregate_signatures(self, signatures: list[Signature]) -> Signature: ...

    @abstractmethod
    def _aggregate_public_keys(self, public_keys: list[PublicKey]) -> PublicKey: ...

    @abstractmethod
    def _fast_aggregate_verify(
        self, public_keys: list[PublicKey], message: bytes, signature: Signature
    ) -> bool: ...

    @abstractmethod
    def _hash_to_g2(self, message: bytes, dst: bytes) -> bytes: ...
