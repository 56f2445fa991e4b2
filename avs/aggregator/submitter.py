"""The Exocore side of a submission: build the claim / slash message from an aggregate, sign it into
a Cosmos transaction, broadcast it and read back what Exocore decided.

Invariants:

- Sequences are handed out locally (``max(chain's next sequence, last used + 1)``): several
  requests may be submitted within one block, before the chain's account sequence moves.
- :meth:`ExocoreSubmitter.outcome` reads Exocore's record of the claim / slash id itself, so the
  aggregator can tell whether a request landed (even by a transaction it has no record of) before
  it ever signs another transaction for it.
"""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass
from typing import Any

from avs.aggregator.errors import AggregatorUnavailableError
from relayer.errors import ExorelayError
from relayer.exocore.cosmos_tx import BroadcastResult, CosmosTxSender, SignedTx, TxResult
from relayer.exocore.grpc_client import ExocoreGrpcClient
from relayer.exocore.proto.avs.v1 import tx_pb2 as avs_tx
from relayer.exocore.proto.avs.v1 import types_pb2 as avs_types
from relayer.exocore.proto.operator.v1 import tx_pb2 as operator_tx
from relayer.exocore.proto.operator.v1 import types_pb2 as operator_types
from relayer.protocol.claims import PROPORTION_DECIMALS, RewardClaim, SigningRequest, format_fixed
from relayer.protocol.ids import OperatorAddress
from relayer.protocol.quorum import SignerBitmap
from relayer.protocol.signature_batch import VerifiedAggregate

OPERATOR_PREFIX = "exo"


class Outcome(enum.Enum):
    ABSENT = "absent"
    """Exocore has no record of this id."""
    PENDING = "pending"
    """Recorded, not decided yet."""
    VERIFIED = "verified"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class ChainOutcome:
    outcome: Outcome
    reason: str | None = None


def _hex(data: bytes) -> str:
    return "0x" + bytes(data).hex()


def build_message(
    request: SigningRequest,
    aggregate: VerifiedAggregate,
    committee_size: int,
    funding: int,
    evidence: bytes | None = None,
) -> Any:
    """The ``Msg`` carrying ``request`` with the aggregate of the members in ``aggregate`` (and, for a
    slash request, the evidence bytes whose keccak256 is its evidenceHash)."""
    bitmap = SignerBitmap.from_indices(aggregate.members, committee_size).encode()
    signature = aggregate.signature.compressed
    if isinstance(request, RewardClaim):
        return avs_tx.MsgSubmitRewardClaim(
            avs_address=_hex(request.avs),
            epoch=request.epoch,
            token=_hex(request.token),
            funding=funding,  # type: ignore[arg-type]  # protobuf enum as int
            total_amount=str(request.amount),
            signer_bitmap=bitmap,
            aggregate_signature=signature,
            tasks_root=bytes(request.tasks_root),
        )
    return operator_tx.MsgSubmitSlashRequest(
        avs_address=_hex(request.avs),
        epoch=request.epoch,
        operator=str(OperatorAddress(OPERATOR_PREFIX, request.operator)),
        slash_proportion=format_fixed(request.proportion, PROPORTION_DECIMALS),
        freeze=request.freeze,
        signer_bitmap=bitmap,
        aggregate_signature=signature,
        evidence_hash=bytes(request.evidence_hash),
        evidence=b"" if evidence is None else evidence,
    )


class ExocoreSubmitter:
    """Signs with the aggregator's account (``sender``) and reads outcomes through ``client``."""

    def __init__(self, sender: CosmosTxSender, client: ExocoreGrpcClient) -> None:
        self.sender = sender
        self.client = client
        self._next_sequence: int | None = None
        self._account_number: int | None = None
        self._chain_sequence: int | None = None
        self._lock = threading.Lock()

    @property
    def signer(self) -> str:
        return self.sender.address

    def reserve_after(self, sequence: int) -> None:
        """Never hand out ``sequence`` or below again (a recorded, unfinished transaction uses it)."""
        with self._lock:
            self._next_sequence = max(self._next_sequence or 0, sequence + 1)

    def sign(self, message: Any) -> SignedTx:
        """Sign at the next sequence; the account is read from the chain only when this process has
        not read it yet or CheckTx said the local sequence is wrong (:meth:`resync`), not per
        transaction: a submission should cost one round trip to Exocore, the broadcast."""
        with self._lock:
            if self._account_number is None or self._chain_sequence is None:
                try:
                    self._account_number, self._chain_sequence = self.sender.account()
                except ExorelayError as exc:
                    raise AggregatorUnavailableError(str(exc)) from exc
            sequence = max(self._chain_sequence, self._next_sequence or 0)
            self._next_sequence = sequence + 1
            return self.sender.sign(message, account_number=self._account_number, sequence=sequence)

    def resync(self) -> None:
        """Forget the local sequence and re-read the account at the next :meth:`sign` (after
        CheckTx said the sequence is wrong)."""
        with self._lock:
            self._next_sequence = None
            self._chain_sequence = None

    def broadcast(self, tx_bytes: bytes) -> BroadcastResult:
        try:
            return self.sender.broadcast(tx_bytes)
        except ExorelayError as exc:
            raise AggregatorUnavailableError(str(exc)) from exc

    def lookup(self, tx_hash: str) -> TxResult | None:
        try:
            return self.sender.get_tx(tx_hash)
        except ExorelayError as exc:
            raise AggregatorUnavailableError(str(exc)) from exc

    def outcome(self, kind_is_claim: bool, digest: bytes) -> ChainOutcome:
        try:
            if kind_is_claim:
                claim = self.client.reward_claim(digest)
                return _claim_outcome(claim)
            return _slash_outcome(self.client.slash(digest))
        except ExorelayError as exc:
            raise AggregatorUnavailableError(str(exc)) from exc


def _claim_outcome(claim: avs_types.RewardClaim | None) -> ChainOutcome:
    if claim is None:
        return ChainOutcome(Outcome.ABSENT)
    # Distributed (a packet) or accrued (a cumulative-payout AVS, no packet): both verified.
    if claim.status in (
        avs_types.CLAIM_STATUS_VERIFIED,
        avs_types.CLAIM_STATUS_DISTRIBUTED,
        avs_types.CLAIM_STATUS_ACCRUED,
    ):
        return ChainOutcome(Outcome.VERIFIED)
    if claim.status == avs_types.CLAIM_STATUS_REJECTED:
        return ChainOutcome(Outcome.REJECTED, claim.reject_reason or "rejected by Exocore")
    return ChainOutcome(Outcome.PENDING)


def _slash_outcome(slash: operator_types.OperatorSlashInfo | None) -> ChainOutcome:
    if slash is None:
        return ChainOutcome(Outcome.ABSENT)
    if slash.status in (operator_types.SLASH_STATUS_VERIFIED, operator_types.SLASH_STATUS_EXECUTED):
        return ChainOutcome(Outcome.VERIFIED)
    if slash.status == operator_types.SLASH_STATUS_REJECTED:
        return ChainOutcome(Outcome.REJECTED, slash.reject_reason or "rejected by Exocore")
    return ChainOutcome(Outcome.PENDING)
