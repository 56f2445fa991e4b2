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

Any other tag is an unknown kind: :func:`decode_evidence` refuses it (a signer never signs what it
cannot check). Decoding is strict: exact canonical ABI (re-encoded bytes must match), signatures
of exactly 96 bytes, responses of at most ``MAX_RESPONSE_BYTES``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak

from relayer.protocol.claims import EquivocationEvidence
from relayer.protocol.errors import EncodingError, InvalidLengthError, InvalidValueError
from relayer.protocol.types import Hash32, as_address

EQUIVOCATION_EVIDENCE_KIND: Final[Hash32] = Hash32(keccak(b"EXORELAY_EVIDENCE_EQUIVOCATION_V1"))
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


class UnknownEvidenceKindError(InvalidValueError):
    """The evidence opens with a kind tag this version cannot check."""


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


Evidence = SignedEquivocation
"""Every evidence kind this version decodes (one today)."""


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
    kind = data[:32]
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
