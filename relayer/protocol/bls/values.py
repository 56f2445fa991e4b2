"""Validated BLS values: :class:`PublicKey`, :class:`Signature` and :class:`SecretKey`.

A ``PublicKey`` or ``Signature`` that exists has been validated (canonical encoding, on the curve,
in the prime-order subgroup, and for public keys not the identity). Build them with
``PublicKey(raw)`` / ``Signature(raw)`` (validated by the default backend) or with
:func:`relayer.protocol.bls.parse_public_keys` and friends (choose the backend, use the cache).
Each value privately remembers the backend's parsed point so that verification never parses twice;
that memo takes no part in equality, hashing or repr.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeAlias

from relayer.protocol.bls.constants import CURVE_ORDER, SECRET_KEY_BYTES
from relayer.protocol.bls.encoding import (
    G2_INFINITY_COMPRESSED,
    as_bytes,
    check_length,
    g1_from_eip2537,
    g1_to_eip2537,
    g2_from_eip2537,
    g2_to_eip2537,
)
from relayer.protocol.bls.keygen import derive_secret_scalar
from relayer.protocol.errors import InvalidValueError

TRUSTED = object()
"""``_native`` marker: validated by a backend that keeps no parsed point for this value."""


class ValueBackend(Protocol):
    """What the values need of a backend (every :class:`relayer.protocol.bls.backend.BlsBackend`
    offers it): declared here so that this module, which the backends import, imports none of them."""

    def parse_public_keys(self, encoded: Sequence[bytes], *, use_cache: bool = True) -> list[PublicKey]: ...

    def parse_signature(self, encoded: bytes) -> Signature: ...

    def public_key_of(self, secret: SecretKey) -> PublicKey: ...


BackendChoice: TypeAlias = "ValueBackend | str | None"
"""A backend, its name, or None for the default (resolved by :mod:`relayer.protocol.bls.registry`)."""

_resolve: Callable[[BackendChoice], ValueBackend] | None = None


def use_backends(resolve: Callable[[BackendChoice], ValueBackend]) -> None:
    """Hands the values the backend resolver (:func:`relayer.protocol.bls.registry.get_backend`,
    which installs itself when it loads: the values never import the backends that import them)."""
    global _resolve  # noqa: PLW0603 - set once, by the registry as it loads
    _resolve = resolve


def _backend(choice: BackendChoice) -> ValueBackend:
    if _resolve is None:  # only if relayer.protocol.bls.values was loaded without its package
        raise RuntimeError("no BLS backend registry: import relayer.protocol.bls")
    return _resolve(choice)


@dataclass(frozen=True, slots=True, repr=False)
class PublicKey:
    """A BLS12-381 public key: a G1 point, 48-byte zcash-compressed, validated, never the identity."""

    compressed: bytes
    _native: object = field(default=None, compare=False, hash=False)
    """Backend-private parsed point (None means: not validated yet, validate now)."""

    def __post_init__(self) -> None:
        if self._native is None:
            parsed = _backend(None).parse_public_keys([self.compressed])[0]
            object.__setattr__(self, "compressed", parsed.compressed)
            object.__setattr__(self, "_native", parsed._native)

    @classmethod
    def from_bytes(cls, data: bytes, backend: BackendChoice = None) -> PublicKey:
        """Parse and validate a 48-byte compressed key (uses the backend's validated-key cache)."""
        return _backend(backend).parse_public_keys([data])[0]

    @classmethod
    def from_eip2537(cls, data: bytes, backend: BackendChoice = None) -> PublicKey:
        """Parse a 128-byte EIP-2537 G1 point (padding, canonical coordinates, curve, subgroup)."""
        return cls.from_bytes(g1_from_eip2537(as_bytes(data, "public key")), backend)

    def to_eip2537(self) -> bytes:
        """The 128-byte EIP-2537 form: 16 zero bytes || x || 16 zero bytes || y."""
        return g1_to_eip2537(self.compressed)

    def hex(self) -> str:
        return "0x" + self.compressed.hex()

    def __bytes__(self) -> bytes:
        return self.compressed

    def __repr__(self) -> str:
        return f"PublicKey({self.hex()})"

    def __reduce__(self) -> tuple[type[PublicKey], tuple[bytes]]:
        # Backend points do not pickle; the bytes are re-validated (from the cache) on load.
        return (PublicKey, (self.compressed,))


@dataclass(frozen=True, slots=True, repr=False)
class Signature:
    """A BLS12-381 signature: a G2 point, 96-byte zcash-compressed, validated (identity allowed:
    it is a valid encoding, it just never verifies against a valid key)."""

    compressed: bytes
    _native: object = field(default=None, compare=False, hash=False)
    """Backend-private parsed point (None means: not validated yet, validate now)."""

    def __post_init__(self) -> None:
        if self._native is None:
            parsed = _backend(None).parse_signature(self.compressed)
            object.__setattr__(self, "compressed", parsed.compressed)
            object.__setattr__(self, "_native", parsed._native)

    @classmethod
    def from_bytes(cls, data: bytes, backend: BackendChoice = None) -> Signature:
        """Parse and validate a 96-byte compressed signature."""
        return _backend(backend).parse_signature(data)

    @classmethod
    def from_eip2537(cls, data: bytes, backend: BackendChoice = None) -> Signature:
        """Parse a 256-byte EIP-2537 G2 point (x.c0 || x.c1 || y.c0 || y.c1)."""
        return cls.from_bytes(g2_from_eip2537(as_bytes(data, "signature")), backend)

    def to_eip2537(self) -> bytes:
        """The 256-byte EIP-2537 form; the identity is 256 zero bytes."""
        return g2_to_eip2537(self.compressed)

    @property
    def is_infinity(self) -> bool:
        return self.compressed == G2_INFINITY_COMPRESSED

    def hex(self) -> str:
        return "0x" + self.compressed.hex()

    def __bytes__(self) -> bytes:
        return self.compressed

    def __repr__(self) -> str:
        return f"Signature({self.hex()})"

    def __reduce__(self) -> tuple[type[Signature], tuple[bytes]]:
        return (Signature, (self.compressed,))


@dataclass(frozen=True, slots=True, repr=False, eq=False)
class SecretKey:
    """A BLS12-381 secret key: 32 bytes big-endian, 0 < value < r. Its repr never shows the secret."""

    secret: bytes

    def __post_init__(self) -> None:
        secret = as_bytes(self.secret, "secret key")
        check_length(secret, SECRET_KEY_BYTES, "secret key")
        if not 0 < int.from_bytes(secret) < CURVE_ORDER:
            raise InvalidValueError("secret key must be in [1, r)")
        object.__setattr__(self, "secret", secret)

    @classmethod
    def from_seed(cls, ikm: bytes, key_info: bytes = b"") -> SecretKey:
        """IETF KeyGen / EIP-2333 HKDF_mod_r: the same seed gives the same key on every backend."""
        return cls.from_int(derive_secret_scalar(ikm, key_info))

    @classmethod
    def from_int(cls, value: int) -> SecretKey:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < CURVE_ORDER:
            raise InvalidValueError("secret key must be an int in [1, r)")
        return cls(value.to_bytes(SECRET_KEY_BYTES))

    def to_int(self) -> int:
        return int.from_bytes(self.secret)

    def public_key(self, backend: BackendChoice = None) -> PublicKey:
        return _backend(backend).public_key_of(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecretKey):
            return NotImplemented
        return hmac.compare_digest(self.secret, other.secret)

    def __hash__(self) -> int:
        return hash((SecretKey, self.secret))

    def __repr__(self) -> str:
        return "SecretKey(<redacted>)"

    def __str__(self) -> str:
        return "SecretKey(<redacted>)"
