"""Slash-request evidence bytes: equivocation encodes and decodes canonically, its hash is what a
slash request commits to, and every malformed or unknown input is a typed refusal."""

from __future__ import annotations

import pytest
from eth_abi.abi import encode as abi_encode
from hypothesis import given
from hypothesis import strategies as st

from relayer.protocol import bls
from relayer.protocol.claims import EquivocationEvidence
from relayer.protocol.errors import EncodingError, InvalidLengthError, InvalidValueError
from relayer.protocol.evidence import (
    EQUIVOCATION_EVIDENCE_KIND,
    MAX_RESPONSE_BYTES,
    SignedEquivocation,
    UnknownEvidenceKindError,
    decode_evidence,
    evidence_hash,
)
from relayer.protocol.ids import exocore_chain_hash
from relayer.protocol.types import Address

CHAIN = exocore_chain_hash("exocoredevnet_233-1")
AVS = Address(b"\xaa" * 20)
OPERATOR = Address(b"\x0b" * 20)
SECRET = bls.secret_key_from_seed(b"evidence-test".ljust(32, b"\0"))


def response(task: int, answer: bytes) -> bytes:
    return task.to_bytes(32, "big") + answer


def signed(task: int = 5, a: bytes = b"\x01" * 32, b: bytes = b"\x02" * 32) -> SignedEquivocation:
    evidence = EquivocationEvidence(CHAIN, AVS, OPERATOR, task, response(task, a), response(task, b))
    digest_a, digest_b = evidence.digests
    return SignedEquivocation(
        evidence, bls.sign(SECRET, digest_a).compressed, bls.sign(SECRET, digest_b).compressed
    )


@given(
    task=st.integers(0, 2**64 - 1),
    a=st.binary(max_size=200),
    b=st.binary(max_size=200),
)
def test_round_trip(task: int, a: bytes, b: bytes) -> None:
    if a == b:
        b = a + b"\x00"
    evidence = EquivocationEvidence(CHAIN, AVS, OPERATOR, task, response(task, a), response(task, b))
    value = SignedEquivocation(evidence, b"\xc0" + bytes(95), b"\xc0" + bytes(95))
    encoded = value.encode()
    assert encoded[:32] == EQUIVOCATION_EVIDENCE_KIND
    assert decode_evidence(encoded) == value
    assert value.evidence_hash == evidence_hash(encoded)


def test_decoded_evidence_verifies_with_exocores_verifier() -> None:
    decoded = decode_evidence(signed().encode())
    assert isinstance(decoded, SignedEquivocation)
    key = bls.public_key_of(SECRET)
    sig_a, sig_b = bls.parse_signature(decoded.signature_a), bls.parse_signature(decoded.signature_b)
    assert decoded.evidence.verify(key, sig_a, sig_b)
    assert not decoded.evidence.verify(key, sig_b, sig_a)


def test_unknown_kind_and_malformed_bytes_are_refused() -> None:
    good = signed().encode()
    with pytest.raises(UnknownEvidenceKindError):
        decode_evidence(b"\x00" * 32 + good[32:])
    with pytest.raises(InvalidLengthError):
        decode_evidence(good[:31])
    with pytest.raises(EncodingError):
        decode_evidence(good[:-32])  # truncated
    with pytest.raises(EncodingError):
        decode_evidence(good + b"\x00" * 32)  # trailing bytes
    dirty = bytearray(good)
    dirty[64] = 1  # the avs word's padding
    with pytest.raises(EncodingError):
        decode_evidence(bytes(dirty))
    with pytest.raises(InvalidValueError):
        decode_evidence("0x00")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("response_a", "signature_a", "error"),
    [
        (response(5, b"\x01"), bytes(95), InvalidLengthError),  # a signature is 96 bytes
        (response(6, b"\x01"), bytes(96), InvalidValueError),  # a response for another task
        (response(5, b"\x02" * 32), bytes(96), InvalidValueError),  # the same response twice
        (response(5, b"\x01" * MAX_RESPONSE_BYTES), bytes(96), InvalidLengthError),
    ],
)
def test_invalid_fields_are_refused(response_a: bytes, signature_a: bytes, error: type[Exception]) -> None:
    encoded = abi_encode(
        ("bytes32", "bytes32", "address", "address", "uint64", "bytes", "bytes", "bytes", "bytes"),
        (
            EQUIVOCATION_EVIDENCE_KIND,
            CHAIN,
            AVS,
            OPERATOR,
            5,
            response_a,
            signature_a,
            response(5, b"\x02" * 32),
            bytes(96),
        ),
    )
    with pytest.raises(error):
        decode_evidence(encoded)
