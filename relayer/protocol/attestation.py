"""Attestations the gateway accepts: signer bitmap + aggregate signature over a packet digest.

Pure: the relayer checks every validator signature itself before it pays gas for L1 to check the
aggregate. A signature that does not verify is left out (a byzantine or buggy validator cannot
spoil the aggregate); the rest must still carry strictly more than the threshold of the valset's
power, computed with exact integers.

Also the valset commitment the gateway stores:
``keccak256(abi.encode(uint64 nonce, bytes[] pubkeysG1Eip2537, uint256[] powers))``, and the proof
of possession every key of a new set must carry (IETF ``PopVerify``, the proof Exocore's validator
keys are admitted with): the gateway cannot check it on chain, so whoever builds a set checks it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak as keccak256

from relayer.protocol import bls
from relayer.protocol.errors import QuorumError, SignatureError
from relayer.protocol.quorum import TWO_THIRDS, SignerBitmap, Threshold, meets_threshold, missing_power
from relayer.protocol.types import Hash32, as_hash32


def valset_commitment(
    valset_nonce: int, pubkeys_g1_compressed: Sequence[bytes], powers: Sequence[int]
) -> Hash32:
    """The commitment the gateway stores for a validator set (keys given compressed, 48 bytes)."""
    keys = [key.to_eip2537() for key in bls.parse_public_keys(list(pubkeys_g1_compressed))]
    return as_hash32(
        keccak256(abi_encode(["uint64", "bytes[]", "uint256[]"], [valset_nonce, keys, list(powers)]))
    )


def check_proofs_of_possession(pubkeys: Sequence[bytes], proofs: Sequence[bytes]) -> None:
    """Refuse a validator set unless every key comes with a valid IETF proof of possession.

    Keys are 48-byte compressed or 128-byte EIP-2537 G1 points, proofs 96-byte compressed G2, in the
    same order. Without this check one key-holder could register ``a·G1 - Σ others`` (a rogue key)
    and sign alone for the whole set. Raises :class:`SignatureError` naming the first bad member.
    """
    if len(pubkeys) != len(proofs):
        raise SignatureError(f"{len(pubkeys)} keys but {len(proofs)} proofs of possession")
    for index, (raw_key, raw_proof) in enumerate(zip(pubkeys, proofs, strict=True)):
        if not raw_proof:
            raise SignatureError(f"member #{index} has no proof of possession")
        try:
            key = (
                bls.PublicKey.from_eip2537(raw_key)
                if len(raw_key) == bls.G1_EIP2537_BYTES
                else bls.PublicKey.from_bytes(raw_key)
            )
            proof = bls.parse_signature(raw_proof)
        except ValueError as exc:
            raise SignatureError(f"member #{index}: malformed key or proof of possession: {exc}") from exc
        if not bls.pop_verify(key, proof):
            raise SignatureError(f"member #{index}: proof of possession does not verify for {key.hex()}")


class InsufficientSignaturesError(QuorumError):
    """The valid signatures do not reach the threshold: wait for more (not a fault of the packet)."""

    def __init__(self, message: str, *, signed_power: int, total_power: int, missing: int) -> None:
        super().__init__(message)
        self.signed_power = signed_power
        self.total_power = total_power
        self.missing = missing


@dataclass(frozen=True, slots=True)
class Attestation:
    """What goes on L1 with a packet, and how it was built."""

    signer_bitmap: bytes
    signature: bls.Signature
    signed_power: int
    total_power: int
    signers: tuple[int, ...]
    """Valset indices in the aggregate."""
    rejected: tuple[int, ...]
    """Indices that served a signature that does not verify (left out)."""
    absent: tuple[int, ...]
    """Indices with no signature."""

    @property
    def signature_eip2537(self) -> bytes:
        return self.signature.to_eip2537()


def build_attestation(
    digest: bytes,
    members: Sequence[tuple[bytes, int]],
    signatures: Mapping[int, bytes | None],
    threshold: Threshold = TWO_THIRDS,
) -> Attestation:
    """Verify each member's signature over ``digest``, drop bad ones, check quorum, aggregate.

    ``members`` are (compressed G1 key, power) in valset order; ``signatures`` maps a member index to
    its compressed G2 signature (None or missing: did not sign). Raises
    :class:`InsufficientSignaturesError` when the good signatures are short of the threshold.
    """
    keys = bls.parse_public_keys([key for key, _ in members])
    total = sum(power for _, power in members)
    candidates: list[tuple[int, bls.Signature]] = []
    rejected: list[int] = []
    absent: list[int] = []
    for index in range(len(members)):
        raw = signatures.get(index)
        if raw is None:
            absent.append(index)
            continue
        try:
            candidates.append((index, bls.parse_signature(raw)))
        except ValueError:
            rejected.append(index)
    # Optimistic path: one pairing check when everyone who signed is honest (the usual case).
    good = candidates
    if candidates:
        aggregate = bls.aggregate_signatures([sig for _, sig in candidates])
        if not bls.fast_aggregate_verify([keys[i] for i, _ in candidates], digest, aggregate):
            good = [(i, sig) for i, sig in candidates if bls.verify(keys[i], digest, sig)]
            rejected.extend(i for i, _ in candidates if all(i != j for j, _ in good))
    signed = sum(members[i][1] for i, _ in good)
    if not good or not meets_threshold(signed, total, threshold):
        missing = missing_power(signed, total, threshold)
        raise InsufficientSignaturesError(
            f"valid signatures carry {signed}/{total} power, {missing} short of > {threshold}"
            f" ({len(absent)} absent, {len(rejected)} invalid)",
            signed_power=signed,
            total_power=total,
            missing=missing,
        )
    indices = tuple(i for i, _ in good)
    aggregate = bls.aggregate_signatures([sig for _, sig in good])
    return Attestation(
        signer_bitmap=SignerBitmap.from_indices(indices, len(members)).encode(),
        signature=aggregate,
        signed_power=signed,
        total_power=total,
        signers=indices,
        rejected=tuple(sorted(rejected)),
        absent=tuple(absent),
    )
