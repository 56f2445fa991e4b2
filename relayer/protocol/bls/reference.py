"""The reference backend: the Ethereum Foundation's pure-Python ``py_ecc`` (``G2ProofOfPossession``).

Slow (a verify is ~0.3 s) but independent of blst; tests run both backends over the same vectors.
It calls py_ecc's own ciphersuite functions with bytes wherever they exist, so it checks our
composition as little as possible: what it answers is what py_ecc answers.
"""

from __future__ import annotations

from hashlib import sha256

from eth_typing import BLSPubkey, BLSSignature
from py_ecc.bls.ciphersuites import G2ProofOfPossession as Pop
from py_ecc.bls.g2_primitives import (
    G1_to_pubkey,
    G2_to_signature,
    pubkey_to_G1,
    signature_to_G2,
    subgroup_check,
)
from py_ecc.bls.hash_to_curve import hash_to_G2
from py_ecc.optimized_bls12_381.optimized_curve import Z1, add, is_inf

from relayer.protocol.bls.backend import BackendBase, rejected_public_key, rejected_signature
from relayer.protocol.bls.values import TRUSTED, PublicKey, SecretKey, Signature
from relayer.protocol.errors import InvalidPointError

# py_ecc signals bad points with ValueError (decompression) or AssertionError / ValidationError
# (a ValueError subclass) from its field classes.
_PY_ECC_POINT_ERRORS = (ValueError, AssertionError, TypeError)


def _pk(key: PublicKey) -> BLSPubkey:
    return BLSPubkey(key.compressed)


def _sig(signature: Signature) -> BLSSignature:
    return BLSSignature(signature.compressed)


class ReferenceBackend(BackendBase):
    """py_ecc backend. Keeps no parsed points: py_ecc's API takes bytes and re-validates them."""

    @property
    def name(self) -> str:
        return "reference"

    # --- parsing ----------------------------------------------------------------------------------

    def _decode_public_key(self, index: int, raw: bytes) -> object:
        try:
            point = pubkey_to_G1(BLSPubkey(raw))
        except _PY_ECC_POINT_ERRORS:
            raise rejected_public_key(index, raw) from None
        if not subgroup_check(point):
            raise rejected_public_key(index, raw)
        return TRUSTED

    def _decode_signature(self, raw: bytes, infinity: bool) -> object:
        if infinity:
            return TRUSTED
        try:
            point = signature_to_G2(BLSSignature(raw))
        except _PY_ECC_POINT_ERRORS:
            raise rejected_signature(raw) from None
        if not subgroup_check(point):
            raise rejected_signature(raw)
        return TRUSTED

    # --- operations -------------------------------------------------------------------------------

    def _public_key_of(self, secret: SecretKey) -> PublicKey:
        return PublicKey(bytes(Pop.SkToPk(secret.to_int())), TRUSTED)

    def _sign(self, secret: SecretKey, message: bytes) -> Signature:
        return Signature(bytes(Pop.Sign(secret.to_int(), message)), TRUSTED)

    def _verify(self, public_key: PublicKey, message: bytes, signature: Signature) -> bool:
        return bool(Pop.Verify(_pk(public_key), message, _sig(signature)))

    def _pop_prove(self, secret: SecretKey) -> Signature:
        return Signature(bytes(Pop.PopProve(secret.to_int())), TRUSTED)

    def _pop_verify(self, public_key: PublicKey, proof: Signature) -> bool:
        return bool(Pop.PopVerify(_pk(public_key), _sig(proof)))

    def _aggregate_signatures(self, signatures: list[Signature]) -> Signature:
        return Signature(bytes(Pop.Aggregate([_sig(sig) for sig in signatures])), TRUSTED)

    def _aggregate_public_keys(self, public_keys: list[PublicKey]) -> PublicKey:
        total = Z1
        for key in public_keys:
            total = add(total, pubkey_to_G1(_pk(key)))
        if is_inf(total):
            raise InvalidPointError("aggregate_public_keys: the keys sum to the point at infinity")
        return PublicKey(bytes(G1_to_pubkey(total)), TRUSTED)

    def _fast_aggregate_verify(
        self, public_keys: list[PublicKey], message: bytes, signature: Signature
    ) -> bool:
        keys = [_pk(key) for key in public_keys]
        return bool(Pop.FastAggregateVerify(keys, message, _sig(signature)))

    def _hash_to_g2(self, message: bytes, dst: bytes) -> bytes:
        # py_ecc annotates the hash parameter with hashlib's HASH object type but calls it as a
        # constructor (its own ciphersuites pass hashlib.sha256 exactly like this).
        return bytes(G2_to_signature(hash_to_G2(message, dst, sha256)))  # type: ignore[arg-type]
