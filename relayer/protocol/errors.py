"""Errors of the pure protocol layer. All are :class:`relayer.errors.ProtocolError` (a ``ValueError``)."""

from __future__ import annotations

from relayer.errors import ProtocolError


class InvalidLengthError(ProtocolError):
    """A byte string has the wrong length for what it claims to be."""


class InvalidValueError(ProtocolError):
    """A value is out of range or of the wrong type (overflowing integer, bad hex, bool as int...)."""


class EncodingError(ProtocolError):
    """ABI bytes cannot be decoded: truncated, trailing bytes, non-canonical padding, wrong kind."""


class InvalidPointError(ProtocolError):
    """A BLS12-381 point is malformed, not on the curve, not in the subgroup, or the identity."""


class DuplicateKeyError(ProtocolError):
    """The same public key appears twice where keys must be distinct (aggregates, committees)."""


class SignatureError(ProtocolError):
    """A signature or proof of possession does not verify."""


class QuorumError(ProtocolError):
    """Signers do not carry strictly more than the required share of power, or a bitmap is invalid."""


class MerkleError(ProtocolError):
    """A Merkle tree, proof or multiproof is invalid or inconsistent with its leaves."""


class IdentifierError(ProtocolError):
    """A stakerID, assetID, bech32 address or chain id is malformed."""


class KeystoreError(ProtocolError):
    """An EIP-2335 keystore cannot be used (see the subclasses for why)."""


class KeystoreFormatError(KeystoreError):
    """The keystore JSON is malformed: missing or mistyped fields, unsupported function, bad params."""


class KeystorePasswordError(KeystoreError):
    """The checksum does not match: a wrong password, or altered KDF params, ciphertext or checksum."""


class KeystoreKeyMismatchError(KeystoreError):
    """The decrypted secret is not a BLS secret key, or its public key differs from ``pubkey``."""
