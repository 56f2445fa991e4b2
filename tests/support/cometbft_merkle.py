"""CometBFT's simple Merkle tree (RFC 6962 layout), written independently of the devnet's code so
tests can check the proofs the devnet serves: `root_from_aunts`.
"""

from __future__ import annotations

import hashlib


def _inner(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_aunts(index: int, total: int, leaf: bytes, aunts: list[bytes]) -> bytes:
    """CometBFT ``computeHashFromAunts``, written from the RFC 6962 layout (split at the largest
    power of two below ``total``), independently of the devnet's code."""
    if total == 1:
        assert not aunts
        return leaf
    split = 1
    while split * 2 < total:
        split *= 2
    if index < split:
        return _inner(root_from_aunts(index, split, leaf, aunts[:-1]), aunts[-1])
    return _inner(aunts[-1], root_from_aunts(index - split, total - split, leaf, aunts[:-1]))
