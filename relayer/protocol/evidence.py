"""The evidence bytes a slash request commits to (``evidenceHash = keccak256(evidence)``).

A committee slash request carries only a 32-byte ``evidenceHash``; whoever is asked to sign it (an
operator's ``exorelay operator``) fetches the evidence bytes from the aggregator and checks them
before signing. The bytes open with a 32-byte kind tag, so one hash never stands for two readings:

- ``EQUIVOCATION_EVIDENCE_KIND`` = ``keccak256("EXORELAY_EVIDENCE_EQUIVOCATION_V1")``::

      abi.encode(bytes32 kind, bytes32 exocoreChain, address avs, address operator, uint64 taskId,
                 bytes responseA, bytes signatureA, bytes responseB, bytes signatureB)

  the two task responses and the operator's BLS signatures (96-byte compressed G2) over their
  ``keccak256``; verified with :meth:`relayer.protocol.claims.EquivocationEvidence.verify`, the same
  check Exocore runs on ``MsgSubmitEquivocationEvidence``.

- ``WRONG_RESULT_EVIDENCE_KIND`` = ``keccak256("EXORELAY_EVIDENCE_WRONG_RESULT_V1")``::

      abi.encode(bytes32 kind, bytes32 exocoreChain, address avs, address operator, bytes response,
                 bytes signature)

  one response the operator signed (BLS over ``keccak256(response)``, the task-response digest)
  to a task of the reference squaring AVS, whose response is exactly three ABI words::

      response = abi.encode(uint64 taskId, uint256 input, uint256 result)

  with ``input < 2**128`` (so ``input**2`` fits a word). The operator signed the input together with
  its answer, so anyone can recompute the answer: the evidence proves a fault when the signature
  verifies and ``result != input**2``.

- ``ATTESTATION_EVIDENCE_KIND`` = ``keccak256("EXORELAY_EVIDENCE_ATTESTATION_V1")``::

      abi.encode(bytes32 kind, bytes32 exocoreChain, address avs, address operator, uint64 epoch,
                 bytes statement)

  the AVS committee's own finding (``statement``: at most ``MAX_STATEMENT_BYTES`` the AVS defines).
  Nothing in it is checkable by Exocore beyond its hash: the committee's quorum signature over the
  slash request (which commits to ``keccak256(evidence)``) is what attests it.

Any other tag is an unknown kind: :func:`decode_evidence` refuses it (a signer never signs what it
cannot check). Decoding is strict: exact canonical ABI (re-encoded bytes must match), signatures
of exactly 96 bytes, responses of at most ``MAX_RESPONSE_BYTES``. :func:`verify_evidence` is the one
check the operator (before signing) and Exocore (before slashing) both run on decoded evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak

from relayer.errors import ProtocolError
from relayer.protocol import bls
from relayer.protocol.claims import EquivocationEvidence, task_id_of_response, task_response_digest
from relayer.protocol.errors import EncodingError, InvalidLengthError, InvalidValueError
from relayer.protocol.types import Address, Hash32, as_address, as_hash32, check_uint

EQUIVOCATION_EVIDENCE_KIND: Final[Hash32] = Hash32(keccak(b"EXORELAY_EVIDENCE_EQUIVOCATION_V1"))
WRONG_RESULT_EVIDENCE_KIND: Final[Hash32] = Hash32(keccak(b"EXORELAY_EVIDENCE_WRONG_RESULT_V1"))
ATTESTATION_EVIDENCE_KIND: Final[Hash32] = Hash32(keccak(b"EXORELAY_EVIDENCE_ATTESTATION_V1"))
MAX_EVIDENCE_BYTES: Final = 16 * 1024
"""Largest evidence document Exocore stores with a slash (and the indexer serves): two maximal
responses, their signatures and the ABI framing fit well below it."""
MAX_STATEMENT_BYTES: Final = 4096
"""An attestation's statement is a short finding, not a data dump: the bound keeps slashes small."""
SQUARING_RESPONSE_WORDS: Final = 3
"""``abi.encode(uint64 taskId, uint256 input, uint256 result)``."""
MAX_SQUARING_INPUT_BITS: Final = 128
"""``input**2`` must fit the uint256 result word, or no answer could be right."""
SIGNATURE_BYTES: Final = 96
MAX_RESPONSE_BYTES: Final = 4096
"""Task responses are small ABI tuples (the devnet bounds them the same way); the bound keeps a
served evidence document small."""
_EQUIVOCATION_TYPES: Final = (
    "bytes32",
    "bytes32",
    "address",
    "address",
    "uint64",
    "bytes",
    "bytes",
    "bytes",
    "bytes",
)


_WRONG_RESULT_TYPES: Final = ("bytes32", "bytes32", "address", "address", "bytes", "bytes")
_ATTESTATION_TYPES: Final = ("bytes32", "bytes32", "address", "address", "uint64", "bytes")


class EvidenceFault(StrEnum):
    """Why evidence does not justify a slash: the typed reasons Exocore's ``slash_request_rejected``
    events and the operator's refusals carry."""

    UNKNOWN_EVIDENCE_KIND = "unknown_evidence_kind"
    MALFORMED_EVIDENCE = "malformed_evidence"
    BAD_SIGNATURE = "bad_signature"
    RESULT_CORRECT = "result_correct"


class UnknownEvidenceKindError(InvalidValueError):
    """The evidence opens with a kind tag this version cannot check."""


class EvidenceRejectedError(InvalidValueError):
    """Well-formed evidence that does not prove the fault (``fault`` says why)."""

    def __init__(self, fault: EvidenceFault, detail: str) -> None:
        super().__init__(detail)
        self.fault = fault
        self.detail = detail


@dataclass(frozen=True, slots=True)
class SignedEquivocation:
    """Equivocation evidence with the two signatures (compressed G2 bytes, not parsed yet)."""

    evidence: EquivocationEvidence
    signature_a: bytes
    signature_b: bytes

    def __post_init__(self) -> None:
        for name in ("signature_a", "signature_b"):
            value = getattr(self, name)
            if not isinstance(value, bytes) or len(value) != SIGNATURE_BYTES:
                raise InvalidLengthError(f"{name} must be {SIGNATURE_BYTES} bytes")

    def encode(self) -> bytes:
        """The evidence bytes (kind tag first)."""
        e = self.evidence
        return abi_encode(
            _EQUIVOCATION_TYPES,
            (
                EQUIVOCATION_EVIDENCE_KIND,
                e.exocore_chain,
                e.avs,
                e.operator,
                e.task_id,
                e.response_a,
                self.signature_a,
                e.response_b,
                self.signature_b,
            ),
        )

    @property
    def evidence_hash(self) -> Hash32:
        """What a slash request carrying this evidence puts in ``evidenceHash``."""
        return evidence_hash(self.encode())

    @property
    def exocore_chain(self) -> Hash32:
        return self.evidence.exocore_chain

    @property
    def avs(self) -> Address:
        return self.evidence.avs

    @property
    def operator(self) -> Address:
        return self.evidence.operator

    @property
    def label(self) -> str:
        return "equivocation"


@dataclass(frozen=True, slots=True)
class SquaringResponse:
    """The reference AVS's task response: ``input`` and the operator's ``result`` (its square, if
    the operator is honest)."""

    task_id: int
    input: int
    result: int

    def __post_init__(self) -> None:
        check_uint(self.task_id, 64, "task id")
        check_uint(self.input, MAX_SQUARING_INPUT_BITS, "task input")
        check_uint(self.result, 256, "task result")

    def encode(self) -> bytes:
        return abi_encode(("uint64", "uint256", "uint256"), (self.task_id, self.input, self.result))

    @property
    def correct_result(self) -> int:
        """What Exocore recomputes: the input squared."""
        return self.input * self.input

    @classmethod
    def decode(cls, data: bytes) -> SquaringResponse:
        if len(data) != 32 * SQUARING_RESPONSE_WORDS:
            raise InvalidLengthError(
                f"a squaring task response is {32 * SQUARING_RESPONSE_WORDS} bytes, got {len(data)}"
            )
        task_id_of_response(data)  # the task id word must hold a uint64
        values = [int.from_bytes(data[i : i + 32], "big") for i in range(0, len(data), 32)]
        return cls(values[0], values[1], values[2])


@dataclass(frozen=True, slots=True)
class SignedWrongResult:
    """One signed response of ``operator`` to a squaring task of ``avs``."""

    exocore_chain: Hash32
    avs: Address
    operator: Address
    response: SquaringResponse
    signature: bytes

    def __post_init__(self) -> None:
        object.__setattr__(self, "exocore_chain", as_hash32(self.exocore_chain))
        object.__setattr__(self, "avs", as_address(self.avs))
        object.__setattr__(self, "operator", as_address(self.operator))
        if not isinstance(self.signature, bytes) or len(self.signature) != SIGNATURE_BYTES:
            raise InvalidLengthError(f"signature must be {SIGNATURE_BYTES} bytes")

    def encode(self) -> bytes:
        return abi_encode(
            _WRONG_RESULT_TYPES,
            (
                WRONG_RESULT_EVIDENCE_KIND,
                self.exocore_chain,
                self.avs,
                self.operator,
                self.response.encode(),
                self.signature,
            ),
        )

    @property
    def evidence_hash(self) -> Hash32:
        return evidence_hash(self.encode())

    @property
    def slash_id(self) -> Hash32:
        """One wrong-result slash per (chain, AVS, operator, task): the id does not depend on which
        wrong answer (or signature encoding) is shown."""
        return Hash32(
            keccak(
                abi_encode(
                    ("bytes32", "bytes32", "address", "address", "uint64"),
                    (
                        WRONG_RESULT_EVIDENCE_KIND,
                        self.exocore_chain,
                        self.avs,
                        self.operator,
                        self.response.task_id,
                    ),
                )
            )
        )

    @property
    def label(self) -> str:
        return "wrong_result"


@dataclass(frozen=True, slots=True)
class Attestation:
    """The AVS committee's finding against ``operator`` in ``epoch`` (opaque ``statement``)."""

    exocore_chain: Hash32
    avs: Address
    operator: Address
    epoch: int
    statement: bytes

    def __post_init__(self) -> None:
        object.__setattr__(self, "exocore_chain", as_hash32(self.exocore_chain))
        object.__setattr__(self, "avs", as_address(self.avs))
        object.__setattr__(self, "operator", as_address(self.operator))
        check_uint(self.epoch, 64, "epoch")
        if not isinstance(self.statement, bytes) or len(self.statement) > MAX_STATEMENT_BYTES:
            raise InvalidLengthError(f"an attestation statement is bytes of at most {MAX_STATEMENT_BYTES}")

    def encode(self) -> bytes:
        return abi_encode(
            _ATTESTATION_TYPES,
            (
                ATTESTATION_EVIDENCE_KIND,
                self.exocore_chain,
                self.avs,
                self.operator,
                self.epoch,
                self.statement,
            ),
        )

    @property
    def evidence_hash(self) -> Hash32:
        return evidence_hash(self.encode())

    @property
    def label(self) -> str:
        return "attestation"


Evidence = SignedEquivocation | SignedWrongResult | Attestation
"""Every evidence kind this version decodes."""


def evidence_hash(data: bytes) -> Hash32:
    """``keccak256(evidence)``."""
    return Hash32(keccak(bytes(data)))


def decode_evidence(data: bytes) -> Evidence:
    """The evidence whose :meth:`encode` is ``data``; raises :class:`UnknownEvidenceKindError` for an
    unknown kind tag and :class:`EncodingError` / :class:`InvalidValueError` for malformed bytes."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidValueError(f"evidence is bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) < 32:
        raise InvalidLengthError(f"evidence opens with a 32-byte kind tag, got {len(data)} bytes")
    if len(data) > MAX_EVIDENCE_BYTES:
        raise InvalidLengthError(f"evidence is at most {MAX_EVIDENCE_BYTES} bytes, got {len(data)}")
    kind = data[:32]
    if kind == WRONG_RESULT_EVIDENCE_KIND:
        return _decode_wrong_result(data)
    if kind == ATTESTATION_EVIDENCE_KIND:
        return _decode_attestation(data)
    if kind != EQUIVOCATION_EVIDENCE_KIND:
        raise UnknownEvidenceKindError(f"unknown evidence kind 0x{kind.hex()}")
    try:
        _, chain, avs, operator, task_id, response_a, sig_a, response_b, sig_b = abi_decode(
            _EQUIVOCATION_TYPES, data, strict=True
        )
    except Exception as exc:  # eth_abi's decoding errors have no common public root
        raise EncodingError(f"malformed equivocation evidence: {exc}") from exc
    for response in (response_a, response_b):
        if len(response) > MAX_RESPONSE_BYTES:
            raise InvalidLengthError(f"a task response is at most {MAX_RESPONSE_BYTES} bytes")
    evidence = SignedEquivocation(
        EquivocationEvidence(
            Hash32(chain),
            as_address(avs),
            as_address(operator),
            task_id,
            bytes(response_a),
            bytes(response_b),
        ),
        bytes(sig_a),
        bytes(sig_b),
    )
    if evidence.encode() != data:
        raise EncodingError("non-canonical equivocation evidence encoding")
    return evidence


def _decode_wrong_result(data: bytes) -> SignedWrongResult:
    try:
        _, chain, avs, operator, response, signature = abi_decode(_WRONG_RESULT_TYPES, data, strict=True)
    except Exception as exc:  # eth_abi's decoding errors have no common public root
        raise EncodingError(f"malformed wrong-result evidence: {exc}") from exc
    evidence = SignedWrongResult(
        Hash32(chain),
        as_address(avs),
        as_address(operator),
        SquaringResponse.decode(bytes(response)),
        bytes(signature),
    )
    if evidence.encode() != data:
        raise EncodingError("non-canonical wrong-result evidence encoding")
    return evidence


def _decode_attestation(data: bytes) -> Attestation:
    try:
        _, chain, avs, operator, epoch, statement = abi_decode(_ATTESTATION_TYPES, data, strict=True)
    except Exception as exc:  # eth_abi's decoding errors have no common public root
        raise EncodingError(f"malformed attestation evidence: {exc}") from exc
    evidence = Attestation(Hash32(chain), as_address(avs), as_address(operator), epoch, bytes(statement))
    if evidence.encode() != data:
        raise EncodingError("non-canonical attestation evidence encoding")
    return evidence


def decode_or_fault(data: bytes) -> Evidence:
    """:func:`decode_evidence`, its failures as :class:`EvidenceRejectedError` with a typed fault."""
    try:
        return decode_evidence(data)
    except UnknownEvidenceKindError as exc:
        raise EvidenceRejectedError(EvidenceFault.UNKNOWN_EVIDENCE_KIND, str(exc)) from exc
    except ProtocolError as exc:
        raise EvidenceRejectedError(EvidenceFault.MALFORMED_EVIDENCE, str(exc)) from exc


def verify_evidence(evidence: Evidence, operator_key: bytes) -> None:
    """Raise :class:`EvidenceRejectedError` unless ``evidence`` proves its fault against the operator
    whose compressed BLS key for the AVS is ``operator_key``.

    Equivocation: both signatures verify. Wrong result: the signature verifies and the signed result
    is not the input squared. Attestation: nothing to check here (its hash is bound by the committee's
    signature; the caller checks that)."""
    if isinstance(evidence, Attestation):
        return
    try:
        key = bls.parse_public_key(operator_key)
        if isinstance(evidence, SignedEquivocation):
            valid = evidence.evidence.verify(
                key, bls.parse_signature(evidence.signature_a), bls.parse_signature(evidence.signature_b)
            )
        else:
            digest = task_response_digest(evidence.response.encode())
            valid = bls.verify(key, digest, bls.parse_signature(evidence.signature))
    except ProtocolError as exc:
        raise EvidenceRejectedError(EvidenceFault.BAD_SIGNATURE, f"malformed signature: {exc}") from exc
    if not valid:
        raise EvidenceRejectedError(
            EvidenceFault.BAD_SIGNATURE, "a response signature does not verify under the operator's key"
        )
    if isinstance(evidence, SignedWrongResult):
        response = evidence.response
        if response.result == response.correct_result:
            raise EvidenceRejectedError(
                EvidenceFault.RESULT_CORRECT,
                f"task {response.task_id}: {response.result} is {response.input} squared",
            )
