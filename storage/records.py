"""Typed records the indexer ingests: what the Exocore and L1 watchers hand over, already decoded.

Producers (the Exocore client decoding blocks/events/gRPC answers, the L1 log watcher) build these
frozen values; each normalises its fields in ``__post_init__`` (hashes and addresses to lower-case
``0x`` hex, amounts to exact ints), so a malformed value fails where it is made with
:class:`~storage.errors.InvalidRecordError`, never deep inside a database write. Hash/address fields
are typed ``str``: a producer holding ``Hash32``/``Address`` bytes converts with
:func:`storage.normalize.hash_hex` / :func:`~storage.normalize.address_hex` / ``bytes_hex`` (raw
bytes are accepted at run time too and normalised the same way).

Exocore records are grouped into an :class:`ExocoreBlock` (height, hash, time, events in block
order; an event's ``tx_hash`` says which transaction emitted it, None for begin/end-block events).
L1 records carry their :class:`L1Position` (block, log index, transaction).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, TypeAlias

from relayer.protocol.evidence import MAX_EVIDENCE_BYTES
from relayer.protocol.kinds import PacketKind, PayoutMode, SlashKind
from relayer.protocol.packets import FundingMode
from storage.errors import InvalidRecordError
from storage.lifecycle import Chain
from storage.models import AVS_NAME_LEN, CODE_LEN, OPERATOR_LEN
from storage.normalize import address_hex, bigint, bytes_hex, hash_hex, storable_text, uint256


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


def _aware(value: datetime, what: str) -> datetime:
    if value.tzinfo is None:
        raise InvalidRecordError(f"{what} must be timezone-aware")
    return value.astimezone(UTC)


def _opt_hash(value: bytes | str | None) -> str | None:
    return None if value is None else hash_hex(value)


# ---------------------------------------------------------------------------------------- where


@dataclass(frozen=True, slots=True)
class ChainRef:
    """Where and when a transition happened (stored with every transition row)."""

    chain: Chain
    at: datetime
    height: int | None = None
    block_hash: str | None = None
    tx_hash: str | None = None
    log_index: int | None = None

    def __post_init__(self) -> None:
        _set(self, "chain", Chain(self.chain))
        _set(self, "at", _aware(self.at, "ChainRef.at"))
        if self.height is not None:
            bigint(self.height, "height")
        _set(self, "block_hash", _opt_hash(self.block_hash))
        _set(self, "tx_hash", _opt_hash(self.tx_hash))
        if self.log_index is not None:
            bigint(self.log_index, "log index")

    @classmethod
    def trusted(
        cls,
        chain: Chain,
        at: datetime,
        *,
        height: int | None,
        block_hash: str | None,
        tx_hash: str | None,
        log_index: int | None,
    ) -> ChainRef:
        """Build from fields that are already normalised (a validated record's), skipping the
        checks: one is made per stored transition, thousands per ingestion batch."""
        ref = object.__new__(cls)
        for name, value in (
            ("chain", chain),
            ("at", at),
            ("height", height),
            ("block_hash", block_hash),
            ("tx_hash", tx_hash),
            ("log_index", log_index),
        ):
            object.__setattr__(ref, name, value)
        return ref

    @classmethod
    def relayer(cls, at: datetime, tx_hash: bytes | str | None = None) -> ChainRef:
        return cls(Chain.RELAYER, at, tx_hash=None if tx_hash is None else hash_hex(tx_hash))

    @classmethod
    def operator(cls, at: datetime) -> ChainRef:
        return cls(Chain.OPERATOR, at)


# ---------------------------------------------------------------------------------------- Exocore


@dataclass(frozen=True, slots=True, kw_only=True)
class _ExocoreEvent:
    tx_hash: str | None = None
    """Hash of the Exocore transaction that emitted the event; None for begin/end-block events."""

    def _normalise_tx(self) -> None:
        _set(self, "tx_hash", _opt_hash(self.tx_hash))


FUNDING_CODES: Final = frozenset(int(mode) for mode in FundingMode)
"""The reward sources a record may carry (stored as their code: 1 MINT, 2 VAULT, 3 FEES)."""
FUNDED_SOURCES: Final = frozenset({int(FundingMode.VAULT), int(FundingMode.FEES)})
"""The sources funded by deposits ahead of payouts (MINT is minted as it is paid)."""
CUMULATIVE_SOURCES: Final = frozenset({int(FundingMode.MINT), int(FundingMode.VAULT)})
"""Sources a cumulative root funds from (fees pay per distribution only)."""


@dataclass(frozen=True, slots=True)
class RewardTokenInfo:
    token: str
    funding: int
    decimals: int = 18

    def __post_init__(self) -> None:
        _set(self, "token", address_hex(self.token))
        if self.funding not in FUNDING_CODES:
            raise InvalidRecordError(f"funding must be 1 (MINT), 2 (VAULT) or 3 (FEES), got {self.funding!r}")
        bigint(self.decimals, "decimals")


@dataclass(frozen=True, slots=True)
class AvsRegistered(_ExocoreEvent):
    """An AVS registered or changed its rules."""

    avs: str
    threshold_numerator: int
    threshold_denominator: int
    name: str = ""
    epoch_identifier: str = ""
    starting_epoch: int = 0
    asset_ids: tuple[str, ...] = ()
    reward_tokens: tuple[RewardTokenInfo, ...] = ()
    payout_mode: int = PayoutMode.PER_DISTRIBUTION
    """A :class:`PayoutMode` value (another number is refused: the chain spoke a mode we do not know)."""

    def __post_init__(self) -> None:
        self._normalise_tx()
        _set(self, "avs", address_hex(self.avs))
        try:
            _set(self, "payout_mode", PayoutMode(self.payout_mode))
        except ValueError:
            raise InvalidRecordError(f"unknown payout mode {self.payout_mode}") from None
        _set(self, "name", storable_text(self.name, AVS_NAME_LEN))
        _set(self, "epoch_identifier", storable_text(self.epoch_identifier, CODE_LEN))
        _check_threshold(self.threshold_numerator, self.threshold_denominator)
        bigint(self.starting_epoch, "starting epoch")
        _set(self, "asset_ids", tuple(self.asset_ids))
        _set(self, "reward_tokens", tuple(self.reward_tokens))


@dataclass(frozen=True, slots=True)
class OperatorRegistered(_ExocoreEvent):
    """An operator registered, with the name it gave (upstream ``operator_meta_info``)."""

    operator: str
    name: str = ""

    def __post_init__(self) -> None:
        self._normalise_tx()
        if not self.operator or len(self.operator) > OPERATOR_LEN:
            raise InvalidRecordError(f"invalid operator account {self.operator!r}")
        _set(self, "name", storable_text(self.name, AVS_NAME_LEN))


def _check_threshold(numerator: int, denominator: int) -> None:
    bigint(numerator, "threshold numerator")
    bigint(denominator, "threshold denominator")
    if not 0 < numerator < denominator:
        raise InvalidRecordError(f"threshold must satisfy 0 < num < den, got {numerator}/{denominator}")


@dataclass(frozen=True, slots=True)
class CommitteeMemberInfo:
    index: int
    operator: str
    bls_pubkey: str
    power: int

    def __post_init__(self) -> None:
        bigint(self.index, "member index")
        _set(self, "bls_pubkey", bytes_hex(self.bls_pubkey))
        _set(self, "power", uint256(self.power, "member power"))


@dataclass(frozen=True, slots=True)
class CommitteeElected(_ExocoreEvent):
    avs: str
    epoch: int
    members: tuple[CommitteeMemberInfo, ...]
    threshold_numerator: int
    threshold_denominator: int

    def __post_init__(self) -> None:
        self._normalise_tx()
        _set(self, "avs", address_hex(self.avs))
        bigint(self.epoch, "epoch")
        _set(self, "members", tuple(self.members))
        if [m.index for m in self.members] != list(range(len(self.members))):
            raise InvalidRecordError("committee members must be indexed 0..n-1 in order")
        _check_threshold(self.threshold_numerator, self.threshold_denominator)

    @property
    def total_power(self) -> int:
        return sum(m.power for m in self.members)


@dataclass(frozen=True, slots=True)
class SignerInfo:
    """A committee member that signed (bit set in the signer bitmap)."""

    index: int
    operator: str
    power: int | None = None

    def __post_init__(self) -> None:
        bigint(self.index, "signer index")
        if self.power is not None:
            _set(self, "power", uint256(self.power, "signer power"))


@dataclass(frozen=True, slots=True)
class ClaimSubmitted(_ExocoreEvent):
    claim_id: str
    avs: str
    epoch: int
    token: str
    total_amount: int
    funding: int | None = None
    signer_bitmap: str = "0x"
    signers: tuple[SignerInfo, ...] = ()
    signed_power: int | None = None
    total_power: int | None = None
    threshold_numerator: int | None = None
    threshold_denominator: int | None = None

    def __post_init__(self) -> None:
        self._normalise_tx()
        _set(self, "claim_id", hash_hex(self.claim_id))
        _set(self, "avs", address_hex(self.avs))
        bigint(self.epoch, "epoch")
        _set(self, "token", address_hex(self.token))
        _set(self, "total_amount", uint256(self.total_amount, "claim total"))
        _set(self, "signer_bitmap", bytes_hex(self.signer_bitmap))
        _set(self, "signers", tuple(self.signers))
        for name in ("signed_power", "total_power"):
            value = getattr(self, name)
            if value is not None:
                _set(self, name, uint256(value, name))
        if self.threshold_numerator is not None and self.threshold_denominator is not None:
            _check_threshold(self.threshold_numerator, self.threshold_denominator)


@dataclass(frozen=True, slots=True)
class ClaimVerified(_ExocoreEvent):
    claim_id: str
    signed_power: int | None = None
    total_power: int | None = None

    def __post_init__(self) -> None:
        self._normalise_tx()
        _set(self, "claim_id", hash_hex(self.claim_id))


@dataclass(frozen=True, slots=True)
class ClaimAccrued(_ExocoreEvent):
    """A cumulative-payout AVS's claim whose distribution entered the cumulative earnings; its amounts
    close in the CUMULATIVE_ROOT of ``period``."""

    claim_id: str
    period: int
    accrual: AccrualInfo | None = None
    """What accrued (None: not told; the claim still moves to ``accrued``)."""

    def __post_init__(self) -> None:
        self._normalise_tx()
        _set(self, "claim_id", hash_hex(self.claim_id))
        bigint(self.period, "period")


@dataclass(frozen=True, slots=True)
class AccrualInfo:
    """The distribution a cumulative-payout AVS's claim accrued: ``total`` of ``token`` (the leaves'
    sum) from source ``funding`` (1 MINT, 2 VAULT), with the community tax and dust kept out of it."""

    avs: str
    token: str
    funding: int
    total: int
    community_tax: int | None = None
    dust: int | None = None

    def __post_init__(self) -> None:
        _set(self, "avs", address_hex(self.avs))
        _set(self, "token", address_hex(self.token))
        if self.funding not in CUMULATIVE_SOURCES:
            raise InvalidRecordError(
                f"a cumulative root funds from MINT (1) or VAULT (2), got {self.funding!r}"
            )
        _set(self, "total", uint256(self.total, "accrued total"))
        if self.community_tax is not None:
            _set(self, "community_tax", uint256(self.community_tax, "community tax"))
        if self.dust is not None:
            _set(self, "dust", uint256(self.dust, "dust"))


@dataclass(frozen=True, slots=True)
class ClaimRejected(_ExocoreEvent):
    claim_id: str
    reason_code: str
    reason: str = ""

    def __post_init__(self) -> None:
        self._normalise_tx()
        _set(self, "claim_id", hash_hex(self.claim_id))
        _set(self, "reason_code", storable_text(self.reason_code, CODE_LEN))
        _set(self, "reason", storable_text(self.reason))


@dataclass(frozen=True, slots=True)
class DistributionCreated(_ExocoreEvent):
    """Exocore computed the distribution of a verified claim (moves the claim to ``distributed``)."""

    distribution_id: str
    nonce: int
    claim_id: str
    avs: str
    epoch: int
    token: str
    funding: int
    total: int
    leaf_count: int
    merkle_root: str
    community_tax: int | None = None

    def __post_init__(self) -> None:
        self._normalise_tx()
        _set(self, "distribution_id", hash_hex(self.distribution_id))
        bigint(self.nonce, "nonce")
        _set(self, "claim_id", hash_hex(self.claim_id))
        _set(self, "avs", address_hex(self.avs))
        bigint(self.epoch, "epoch")
        _set(self, "token", address_hex(self.token))
        _set(self, "total", uint256(self.total, "distribution total"))
        bigint(self.leaf_count, "leaf count")
        _set(self, "merkle_root", hash_hex(self.merkle_root))
        if self.community_tax is not None:
            _set(self, "community_tax", uint256(self.community_tax, "community tax"))


@dataclass(frozen=True, slots=True)
class LeafInfo:
    index: int
    staker: str
    amount: int
    kind: int | None = None
    operator: str | None = None
    request_ids: tuple[int, ...] = ()
    """A withdrawal-approval leaf's L1 RestakingVault request ids (empty for a reward leaf)."""

    def __post_init__(self) -> None:
        bigint(self.index, "leaf index")
        for request_id in self.request_ids:
            bigint(request_id, "L1 request id")
        _set(self, "staker", address_hex(self.staker))
        _set(self, "amount", uint256(self.amount, "leaf amount"))


@dataclass(frozen=True, slots=True)
class DistributionLeaves(_ExocoreEvent):
    """A page of a distribution's leaves (gRPC pages them); each leaf gets a ``pending`` payout."""

    distribution_id: str
    leaves: tuple[LeafInfo, ...]

    def __post_init__(self) -> None:
        self._normalise_tx()
        _set(self, "distribution_id", hash_hex(self.distribution_id))
        _set(self, "leaves", tuple(self.leaves))


@dataclass(frozen=True, slots=True)
class CumulativeLeafInfo:
    """``cumulative`` base units of ``token`` earned by ``earner`` up to a period."""

    earner: str
    token: str
    cumulative: int

    def __post_init__(self) -> None:
        _set(self, "earner", address_hex(self.earner))
        _set(self, "token", address_hex(self.token))
        _set(self, "cumulative", uint256(self.cumulative, "cumulative"))


@dataclass(frozen=True, slots=True)
class CumulativeLeaves(_ExocoreEvent):
    """A page of cumulative ``period``'s leaves, read when its CUMULATIVE_ROOT packet (``nonce``)
    is created; ``l1_chain_id``: the client chain the packet is addressed to (periods are per chain)."""

    period: int
    nonce: int
    leaves: tuple[CumulativeLeafInfo, ...]
    l1_chain_id: int

    def __post_init__(self) -> None:
        self._normalise_tx()
        bigint(self.period, "period")
        bigint(self.nonce, "nonce")
        bigint(self.l1_chain_id, "l1 chain id")
        _set(self, "leaves", tuple(self.leaves))


@dataclass(frozen=True, slots=True)
class WithdrawalApprovalCreated(_ExocoreEvent):
    """Exocore approved matured L1 withdrawals of ``token`` (a WITHDRAWAL_APPROVAL packet): stored as a
    packet with leaves (``distribution`` row of ``packet_kind`` 4 keyed by the approval id); its
    leaves follow as :class:`DistributionLeaves`."""

    approval_id: str
    nonce: int
    epoch: int
    token: str
    total: int
    leaf_count: int
    merkle_root: str

    def __post_init__(self) -> None:
        self._normalise_tx()
        _set(self, "approval_id", hash_hex(self.approval_id))
        bigint(self.nonce, "nonce")
        bigint(self.epoch, "epoch")
        _set(self, "token", address_hex(self.token))
        _set(self, "total", uint256(self.total, "approval total"))
        bigint(self.leaf_count, "leaf count")
        _set(self, "merkle_root", hash_hex(self.merkle_root))


@dataclass(frozen=True, slots=True)
class PacketCreated(_ExocoreEvent):
    nonce: int
    kind: int
    valset_nonce: int
    payload: str
    payload_hash: str
    digest: str
    subject_id: str | None = None
    """claim id, slash id, or (VALSET_UPDATE) the new valset nonce as text."""
    distribution_id: str | None = None
    avs: str | None = None
    l1_chain_id: int | None = None
    """The client chain Exocore addressed the packet to (its digest binds it: it can land nowhere
    else); None where the source does not say."""

    def __post_init__(self) -> None:
        self._normalise_tx()
        bigint(self.nonce, "packet nonce")
        if self.l1_chain_id is not None:
            bigint(self.l1_chain_id, "packet l1 chain id")
        _set(self, "kind", PacketKind(self.kind).value)
        bigint(self.valset_nonce, "valset nonce")
        _set(self, "payload", bytes_hex(self.payload))
        _set(self, "payload_hash", hash_hex(self.payload_hash))
        _set(self, "digest", hash_hex(self.digest))
        if self.subject_id is not None and self.kind != PacketKind.VALSET_UPDATE:
            _set(self, "subject_id", hash_hex(self.subject_id))
        _set(self, "distribution_id", _opt_hash(self.distribution_id))
        if self.avs is not None:
            _set(self, "avs", address_hex(self.avs))


@dataclass(frozen=True, slots=True)
class ValidatorSignatureInfo:
    index: int
    bls_pubkey: str
    signed: bool
    signature: str | None = None
    power: int | None = None

    def __post_init__(self) -> None:
        bigint(self.index, "validator index")
        _set(self, "bls_pubkey", bytes_hex(self.bls_pubkey))
        if self.signature is not None:
            _set(self, "signature", bytes_hex(self.signature))
        if self.power is not None:
            _set(self, "power", uint256(self.power, "validator power"))


@dataclass(frozen=True, slots=True)
class PacketAttested(_ExocoreEvent):
    """Validator signatures over a packet digest; ``quorum`` says whether they reach the threshold."""

    nonce: int
    signatures: tuple[ValidatorSignatureInfo, ...]
    quorum: bool
    signed_power: int | None = None
    total_power: int | None = None

    def __post_init__(self) -> None:
        self._normalise_tx()
        bigint(self.nonce, "packet nonce")
        _set(self, "signatures", tuple(self.signatures))


@dataclass(frozen=True, slots=True)
class ValsetMemberInfo:
    index: int
    bls_pubkey: str
    power: int

    def __post_init__(self) -> None:
        bigint(self.index, "validator index")
        _set(self, "bls_pubkey", bytes_hex(self.bls_pubkey))
        _set(self, "power", uint256(self.power, "validator power"))


@dataclass(frozen=True, slots=True)
class ValsetCreated(_ExocoreEvent):
    valset_nonce: int
    members: tuple[ValsetMemberInfo, ...]

    def __post_init__(self) -> None:
        self._normalise_tx()
        bigint(self.valset_nonce, "valset nonce")
        _set(self, "members", tuple(self.members))

    @property
    def total_power(self) -> int:
        return sum(m.power for m in self.members)


def evidence_hex(text: str) -> str:
    """``text`` as lower-case ``0x`` hex of at most ``MAX_EVIDENCE_BYTES`` bytes."""
    if not isinstance(text, str) or not text.startswith("0x") or len(text) > 2 + 2 * MAX_EVIDENCE_BYTES:
        raise InvalidRecordError(f"evidence must be 0x hex of at most {MAX_EVIDENCE_BYTES} bytes")
    try:
        return "0x" + bytes.fromhex(text[2:]).hex()
    except ValueError as exc:
        raise InvalidRecordError(f"evidence is not hex: {exc}") from exc


@dataclass(frozen=True, slots=True)
class SlashSubmitted(_ExocoreEvent):
    slash_id: str
    avs: str
    operator: str
    evidence_kind: SlashKind
    freeze: bool = True
    operator_address: str | None = None
    slash_proportion: str | None = None
    signers: tuple[SignerInfo, ...] = ()
    evidence: str | None = None
    """The evidence bytes as ``0x`` hex (at most ``MAX_EVIDENCE_BYTES``), when the chain showed them."""

    def __post_init__(self) -> None:
        self._normalise_tx()
        _set(self, "slash_id", hash_hex(self.slash_id))
        _set(self, "avs", address_hex(self.avs))
        _set(self, "evidence_kind", SlashKind(self.evidence_kind))
        if self.evidence is not None:
            _set(self, "evidence", evidence_hex(self.evidence))
        if self.operator_address is not None:
            _set(self, "operator_address", address_hex(self.operator_address))
        _set(self, "signers", tuple(self.signers))


@dataclass(frozen=True, slots=True)
class SlashVerified(_ExocoreEvent):
    slash_id: str

    def __post_init__(self) -> None:
        self._normalise_tx()
        _set(self, "slash_id", hash_hex(self.slash_id))


@dataclass(frozen=True, slots=True)
class SlashRejected(_ExocoreEvent):
    slash_id: str
    reason_code: str
    reason: str = ""

    def __post_init__(self) -> None:
        self._normalise_tx()
        _set(self, "slash_id", hash_hex(self.slash_id))
        _set(self, "reason_code", storable_text(self.reason_code, CODE_LEN))
        _set(self, "reason", storable_text(self.reason))


@dataclass(frozen=True, slots=True)
class SlashedAssetInfo:
    token: str
    amount: int
    asset_id: str | None = None

    def __post_init__(self) -> None:
        _set(self, "token", address_hex(self.token))
        _set(self, "amount", uint256(self.amount, "slashed amount"))


@dataclass(frozen=True, slots=True)
class SlashExecutedOnExocore(_ExocoreEvent):
    slash_id: str
    assets: tuple[SlashedAssetInfo, ...]
    packet_nonce: int | None = None

    def __post_init__(self) -> None:
        self._normalise_tx()
        _set(self, "slash_id", hash_hex(self.slash_id))
        _set(self, "assets", tuple(self.assets))
        if self.packet_nonce is not None:
            bigint(self.packet_nonce, "packet nonce")


ExocoreEvent: TypeAlias = (
    AvsRegistered
    | OperatorRegistered
    | CommitteeElected
    | ClaimSubmitted
    | ClaimVerified
    | ClaimRejected
    | ClaimAccrued
    | DistributionCreated
    | DistributionLeaves
    | CumulativeLeaves
    | WithdrawalApprovalCreated
    | PacketCreated
    | PacketAttested
    | ValsetCreated
    | SlashSubmitted
    | SlashVerified
    | SlashRejected
    | SlashExecutedOnExocore
)


@dataclass(frozen=True, slots=True)
class ExocoreBlock:
    """One committed Exocore block with the events the indexer cares about, in block order."""

    height: int
    block_hash: str
    time: datetime
    events: tuple[ExocoreEvent, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        bigint(self.height, "height")
        _set(self, "block_hash", hash_hex(self.block_hash))
        _set(self, "time", _aware(self.time, "block time"))
        _set(self, "events", tuple(self.events))

    def ref(self, index: int, tx_hash: str | None) -> ChainRef:
        return ChainRef(Chain.EXOCORE, self.time, self.height, self.block_hash, tx_hash, index)


# ---------------------------------------------------------------------------------------- L1


@dataclass(frozen=True, slots=True)
class L1Position:
    """Where a log sits on L1."""

    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int
    at: datetime

    def __post_init__(self) -> None:
        bigint(self.block_number, "block number")
        _set(self, "block_hash", hash_hex(self.block_hash))
        _set(self, "tx_hash", hash_hex(self.tx_hash))
        bigint(self.log_index, "log index")
        _set(self, "at", _aware(self.at, "block time"))

    @classmethod
    def trusted(
        cls, block_number: int, block_hash: str, tx_hash: str, log_index: int, at: datetime
    ) -> L1Position:
        """Build from fields already normalised (the L1 log decoder's), skipping the checks: one is
        made per log, tens of thousands per ingested range."""
        position = object.__new__(cls)
        _set(position, "block_number", block_number)
        _set(position, "block_hash", block_hash)
        _set(position, "tx_hash", tx_hash)
        _set(position, "log_index", log_index)
        _set(position, "at", at)
        return position

    def ref(self) -> ChainRef:
        return ChainRef.trusted(
            Chain.L1,
            self.at,
            height=self.block_number,
            block_hash=self.block_hash,
            tx_hash=self.tx_hash,
            log_index=self.log_index,
        )


@dataclass(frozen=True, slots=True)
class DistributionSubmittedLog:
    distribution_id: str
    claim_id: str
    avs: str
    epoch: int
    token: str
    total: int
    root: str
    nonce: int
    position: L1Position

    def __post_init__(self) -> None:
        _set(self, "distribution_id", hash_hex(self.distribution_id))
        _set(self, "claim_id", hash_hex(self.claim_id))
        _set(self, "avs", address_hex(self.avs))
        bigint(self.epoch, "epoch")
        _set(self, "token", address_hex(self.token))
        _set(self, "total", uint256(self.total, "total"))
        _set(self, "root", hash_hex(self.root))
        bigint(self.nonce, "nonce")


PAID_BY: Final = frozenset({None, "relayer", "staker"})
"""Who sent a leaf's paying transaction (``payout.paid_by``; None: not told)."""


@dataclass(frozen=True, slots=True)
class RewardPaidLog:
    """A leaf of a packet with leaves paid on L1: the gateway's ``RewardPaid`` or the RestakingVault's
    ``WithdrawalPaid`` (``distribution_id`` is then the approval id)."""

    distribution_id: str
    index: int
    staker: str
    amount: int
    position: L1Position
    paid_by: str | None = None
    """``relayer`` (a batch ``payout``) or ``staker`` (its own ``claim``), where the indexer tells."""

    def __post_init__(self) -> None:
        if self.paid_by not in PAID_BY:
            raise InvalidRecordError(f"paid_by must be 'relayer', 'staker' or None, not {self.paid_by!r}")
        _set(self, "distribution_id", hash_hex(self.distribution_id))
        bigint(self.index, "leaf index")
        _set(self, "staker", address_hex(self.staker))
        _set(self, "amount", uint256(self.amount, "amount"))

    @classmethod
    def trusted(
        cls, distribution_id: str, index: int, staker: str, amount: int, position: L1Position
    ) -> RewardPaidLog:
        """Build from values the decoder already range-checked and normalised (see
        :meth:`L1Position.trusted`)."""
        record = object.__new__(cls)
        _set(record, "distribution_id", distribution_id)
        _set(record, "index", index)
        _set(record, "staker", staker)
        _set(record, "amount", amount)
        _set(record, "position", position)
        _set(record, "paid_by", None)
        return record


@dataclass(frozen=True, slots=True)
class SlashExecutedLog:
    slash_id: str
    operator_address: str
    avs: str
    tokens: tuple[str, ...]
    amounts: tuple[int, ...]
    freeze: bool
    nonce: int
    position: L1Position

    def __post_init__(self) -> None:
        _set(self, "slash_id", hash_hex(self.slash_id))
        _set(self, "operator_address", address_hex(self.operator_address))
        _set(self, "avs", address_hex(self.avs))
        _set(self, "tokens", tuple(address_hex(t) for t in self.tokens))
        _set(self, "amounts", tuple(uint256(a, "slashed amount") for a in self.amounts))
        if len(self.tokens) != len(self.amounts):
            raise InvalidRecordError("SlashExecuted tokens and amounts differ in length")
        bigint(self.nonce, "nonce")


@dataclass(frozen=True, slots=True)
class WithdrawalApprovalSubmittedLog:
    """The gateway handed a WITHDRAWAL_APPROVAL root to the restaking vault (packet ``nonce``)."""

    approval_id: str
    token: str
    epoch: int
    total: int
    root: str
    nonce: int
    position: L1Position

    def __post_init__(self) -> None:
        _set(self, "approval_id", hash_hex(self.approval_id))
        _set(self, "token", address_hex(self.token))
        bigint(self.epoch, "epoch")
        _set(self, "total", uint256(self.total, "approval total"))
        _set(self, "root", hash_hex(self.root))
        bigint(self.nonce, "nonce")


@dataclass(frozen=True, slots=True)
class ValsetUpdatedLog:
    valset_nonce: int
    commitment: str
    total_power: int
    position: L1Position

    def __post_init__(self) -> None:
        bigint(self.valset_nonce, "valset nonce")
        _set(self, "commitment", hash_hex(self.commitment))
        _set(self, "total_power", uint256(self.total_power, "total power"))


@dataclass(frozen=True, slots=True)
class CumulativeRootLog:
    """The RewardVault took a CUMULATIVE_ROOT packet: ``accepted`` (``CumulativeRootAccepted``) or
    a no-op for a period not past the latest (``CumulativeRootIgnored``). Either way the packet
    with ``nonce`` was relayed. ``vault``: the RewardVault that emitted it (claims go there)."""

    period: int
    nonce: int
    accepted: bool
    position: L1Position
    vault: str

    def __post_init__(self) -> None:
        bigint(self.period, "period")
        bigint(self.nonce, "nonce")
        _set(self, "vault", address_hex(self.vault))


@dataclass(frozen=True, slots=True)
class CumulativePaidLog:
    """The RewardVault paid ``earner`` ``amount`` of ``token`` (up to ``cumulative``) to
    ``recipient``: a push (``by_earner`` false) or the earner's own claim."""

    earner: str
    token: str
    recipient: str
    amount: int
    cumulative: int
    period: int
    by_earner: bool
    position: L1Position

    def __post_init__(self) -> None:
        _set(self, "earner", address_hex(self.earner))
        _set(self, "token", address_hex(self.token))
        _set(self, "recipient", address_hex(self.recipient))
        _set(self, "amount", uint256(self.amount, "amount"))
        _set(self, "cumulative", uint256(self.cumulative, "cumulative"))
        bigint(self.period, "period")


@dataclass(frozen=True, slots=True)
class RewardFundedLog:
    """The RewardVault credited ``avs`` with ``amount`` of ``token`` in one reward source:
    ``Deposited`` (VAULT, the AVS's reward deposits) or ``FeesDeposited`` (FEES, its transaction
    fees), from ``sender``."""

    avs: str
    token: str
    source: int
    sender: str
    amount: int
    position: L1Position

    def __post_init__(self) -> None:
        _set(self, "avs", address_hex(self.avs))
        _set(self, "token", address_hex(self.token))
        if self.source not in FUNDED_SOURCES:
            raise InvalidRecordError(f"a deposit funds source 2 (VAULT) or 3 (FEES), got {self.source!r}")
        _set(self, "sender", address_hex(self.sender))
        _set(self, "amount", uint256(self.amount, "amount"))


@dataclass(frozen=True, slots=True)
class CumulativeFundedLog:
    """The RewardVault's ``CumulativeFunded``: ``amount`` of what ``avs`` owes in ``token`` for
    cumulative roots moved into the token's pool, its drawn total now ``drawn`` of ``target``."""

    avs: str
    token: str
    amount: int
    drawn: int
    target: int
    position: L1Position

    def __post_init__(self) -> None:
        _set(self, "avs", address_hex(self.avs))
        _set(self, "token", address_hex(self.token))
        _set(self, "amount", uint256(self.amount, "amount"))
        _set(self, "drawn", uint256(self.drawn, "drawn"))
        _set(self, "target", uint256(self.target, "target"))
        if self.amount > self.drawn or self.drawn > self.target:
            raise InvalidRecordError(
                "CumulativeFunded must have amount <= drawn <= target, got "
                f"{self.amount}, {self.drawn}, {self.target}"
            )


@dataclass(frozen=True, slots=True)
class TokenTransferLog:
    token: str
    sender: str
    recipient: str
    amount: int
    position: L1Position

    def __post_init__(self) -> None:
        _set(self, "token", address_hex(self.token))
        _set(self, "sender", address_hex(self.sender))
        _set(self, "recipient", address_hex(self.recipient))
        _set(self, "amount", uint256(self.amount, "amount"))

    @classmethod
    def trusted(
        cls, token: str, sender: str, recipient: str, amount: int, position: L1Position
    ) -> TokenTransferLog:
        """Build from values the decoder already normalised (see :meth:`L1Position.trusted`)."""
        record = object.__new__(cls)
        _set(record, "token", token)
        _set(record, "sender", sender)
        _set(record, "recipient", recipient)
        _set(record, "amount", amount)
        _set(record, "position", position)
        return record


L1Log: TypeAlias = (
    DistributionSubmittedLog
    | RewardPaidLog
    | SlashExecutedLog
    | ValsetUpdatedLog
    | TokenTransferLog
    | WithdrawalApprovalSubmittedLog
    | CumulativeRootLog
    | CumulativePaidLog
    | RewardFundedLog
    | CumulativeFundedLog
)
