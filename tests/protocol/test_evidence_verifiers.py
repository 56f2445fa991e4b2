"""The slashing verifiers shared by the operator and Exocore: wrong-result and attestation evidence
round-trip canonically, and :func:`verify_evidence` accepts proofs and refuses the rest with typed
faults."""

from __future__ import annotations

import pytest
from eth_abi.abi import encode as abi_encode
from hypothesis import given
from hypothesis import strategies as st

from relayer.protocol import bls
from relayer.protocol.claims import EquivocationEvidence, task_response_digest
from relayer.protocol.errors import InvalidLengthError
from relayer.protocol.evidence import (
    ATTESTATION_EVIDENCE_KIND,
    MAX_EVIDENCE_BYTES,
    MAX_STATEMENT_BYTES,
    WRONG_RESULT_EVIDENCE_KIND,
    Attestation,
    EvidenceFault,
    EvidenceRejectedError,
    SignedEquivocation,
    SignedWrongResult,
    SquaringResponse,
    decode_evidence,
    decode_or_fault,
    verify_evidence,
)
from relayer.protocol.ids import exocore_chain_hash
from relayer.protocol.types import Address

CHAIN = exocore_chain_hash("exocoredevnet_233-1")
AVS = Address(b"\xaa" * 20)
OPERATOR = Address(b"\x0b" * 20)
SECRET = bls.secret_key_from_seed(b"verifier-test".ljust(32, b"\0"))
OTHER = bls.secret_key_from_seed(b"verifier-other".ljust(32, b"\0"))
KEY = bls.public_key_of(SECRET).compressed


def wrong_result(task: int = 7, value: int = 12, result: int = 145, secret: bls.SecretKey = SECRET) -> bytes:
    response = SquaringResponse(task, value, result)
    signature = bls.sign(secret, task_response_digest(response.encode())).compressed
    return SignedWrongResult(CHAIN, AVS, OPERATOR, response, signature).encode()


def fault_of(data: bytes) -> EvidenceFault:
    with pytest.raises(EvidenceRejectedError) as info:
        verify_evidence(decode_or_fault(data), KEY)
    return info.value.fault


@given(task=st.integers(0, 2**64 - 1), value=st.integers(0, 2**128 - 1), result=st.integers(0, 2**256 - 1))
def test_wrong_result_round_trip(task: int, value: int, result: int) -> None:
    response = SquaringResponse(task, value, result)
    evidence = SignedWrongResult(CHAIN, AVS, OPERATOR, response, b"\x01" * 96)
    assert decode_evidence(evidence.encode()) == evidence
    assert evidence.encode()[:32] == WRONG_RESULT_EVIDENCE_KIND


def test_wrong_result_verifier_recomputes_the_square() -> None:
    verify_evidence(decode_or_fault(wrong_result(result=145)), KEY)  # 12**2 = 144: a proven fault
    assert fault_of(wrong_result(result=144)) is EvidenceFault.RESULT_CORRECT
    assert fault_of(wrong_result(secret=OTHER)) is EvidenceFault.BAD_SIGNATURE


def test_wrong_result_slash_id_is_per_task_not_per_answer() -> None:
    first = decode_evidence(wrong_result(result=1))
    second = decode_evidence(wrong_result(result=2))
    other_task = decode_evidence(wrong_result(task=8))
    assert isinstance(first, SignedWrongResult) and isinstance(second, SignedWrongResult)
    assert isinstance(other_task, SignedWrongResult)
    assert first.slash_id == second.slash_id != other_task.slash_id


def test_equivocation_verifier() -> None:
    task = 3
    evidence = EquivocationEvidence(
        CHAIN,
        AVS,
        OPERATOR,
        task,
        SquaringResponse(task, 2, 4).encode(),
        SquaringResponse(task, 2, 5).encode(),
    )
    digest_a, digest_b = evidence.digests
    good = SignedEquivocation(
        evidence, bls.sign(SECRET, digest_a).compressed, bls.sign(SECRET, digest_b).compressed
    )
    verify_evidence(decode_or_fault(good.encode()), KEY)
    forged = SignedEquivocation(evidence, good.signature_a, bls.sign(OTHER, digest_b).compressed)
    assert fault_of(forged.encode()) is EvidenceFault.BAD_SIGNATURE


def test_attestation_round_trip_and_bound() -> None:
    attestation = Attestation(CHAIN, AVS, OPERATOR, 4, b"missed 3 of 5 tasks")
    data = attestation.encode()
    assert data[:32] == ATTESTATION_EVIDENCE_KIND
    decoded = decode_or_fault(data)
    assert decoded == attestation
    verify_evidence(decoded, KEY)  # the committee's signature is its proof: nothing more to check
    with pytest.raises(InvalidLengthError):
        Attestation(CHAIN, AVS, OPERATOR, 4, b"x" * (MAX_STATEMENT_BYTES + 1))


@pytest.mark.parametrize(
    ("data", "fault"),
    [
        (b"\x13" * 64, EvidenceFault.UNKNOWN_EVIDENCE_KIND),
        (b"", EvidenceFault.MALFORMED_EVIDENCE),
        (WRONG_RESULT_EVIDENCE_KIND + b"\x00" * 10, EvidenceFault.MALFORMED_EVIDENCE),
        (wrong_result() + b"\x00" * 32, EvidenceFault.MALFORMED_EVIDENCE),
        (ATTESTATION_EVIDENCE_KIND + b"\x00" * (MAX_EVIDENCE_BYTES), EvidenceFault.MALFORMED_EVIDENCE),
        (
            # a response of the wrong shape (two words: the hello-world shape carries no input)
            abi_encode(
                ("bytes32", "bytes32", "address", "address", "bytes", "bytes"),
                (WRONG_RESULT_EVIDENCE_KIND, CHAIN, AVS, OPERATOR, b"\x00" * 64, b"\x01" * 96),
            ),
            EvidenceFault.MALFORMED_EVIDENCE,
        ),
        (
            # an input whose square would not fit the result word
            abi_encode(
                ("bytes32", "bytes32", "address", "address", "bytes", "bytes"),
                (
                    WRONG_RESULT_EVIDENCE_KIND,
                    CHAIN,
                    AVS,
                    OPERATOR,
                    abi_encode(("uint64", "uint256", "uint256"), (1, 2**128, 0)),
                    b"\x01" * 96,
                ),
            ),
            EvidenceFault.MALFORMED_EVIDENCE,
        ),
    ],
)
def test_unknown_and_malformed_evidence_have_typed_faults(data: bytes, fault: EvidenceFault) -> None:
    with pytest.raises(EvidenceRejectedError) as info:
        decode_or_fault(data)
    assert info.value.fault is fault
