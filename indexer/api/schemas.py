"""Response bodies of the query API (OpenAPI components, with examples).

Amounts and powers are decimal strings (uint256 does not fit a JSON number that every client
reads exactly); hashes and addresses are lower-case ``0x`` hex; times are RFC 3339 UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Generic, Literal, TypeAlias, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from relayer.protocol.kinds import PacketKind, SlashKind, TxPurpose

if TYPE_CHECKING:
    PacketKindLabel: TypeAlias = str
    SlashKindLabel: TypeAlias = str
    TxPurposeLabel: TypeAlias = str
else:
    # Literal types built from the protocol's enums (one definition each): the OpenAPI schema lists
    # exactly their API names, as a hand-written Literal did, and the response models check them.
    PacketKindLabel = Literal[tuple(kind.label for kind in PacketKind)]
    SlashKindLabel = Literal[tuple(kind.label for kind in SlashKind)]
    TxPurposeLabel = Literal[tuple(purpose.value for purpose in TxPurpose)]

HASH_EXAMPLE: Final = "0x3f1c8a4f0b8e2d7c6a5b4e3d2c1b0a99887766554433221100ffeeddccbbaa99"
ADDRESS_EXAMPLE: Final = "0x5fbdb2315678afecb367f032d93f642f64180aa3"
TIME_EXAMPLE: Final = "2026-01-01T12:00:00Z"

Amount = str
"""uint256 as a decimal string."""

HASH_PATTERN: Final = r"^0x[0-9a-fA-F]{64}$"
ADDRESS_PATTERN: Final = r"^0x[0-9a-fA-F]{40}$"
OPERATOR_PATTERN: Final = r"^(0x[0-9a-fA-F]{40}|[a-z]{1,20}1[02-9ac-hj-np-z]{6,80})$"
"""An operator is named by its bech32 account (``exo1…``/``im1…``) or its 0x address."""

TIMESTAMP_PATTERN: Final = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
"""RFC 3339 ``date-time`` (the offset is required, as in the RFC)."""

_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))"
)

T = TypeVar("T")


def parse_timestamp(text: str) -> datetime:
    """RFC 3339 date-time -> aware UTC datetime.

    Python's ``fromisoformat`` refuses parts of RFC 3339 (a leap second ``:60``, more than six
    fractional digits, year 0000); here they are accepted and clamped to what Python can hold (the
    leap second to :59, the fraction to microseconds, the range to ``datetime.min/max``).
    """
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        raise ValueError("expected YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM)")
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    micro = int((match.group(7) or "0")[:6].ljust(6, "0"))
    if match.group(8):
        offset = timedelta(0)
    else:
        off_h, off_m = int(match.group(10)), int(match.group(11))
        if off_h > 23 or off_m > 59:
            raise ValueError("offset out of range")
        offset = timedelta(hours=off_h, minutes=off_m) * (1 if match.group(9) == "+" else -1)
    if second == 60:
        second = 59
    if year == 0:
        return datetime.min.replace(tzinfo=UTC)
    local = datetime(year, month, day, hour, minute, second, micro)
    try:
        return (local - offset).replace(tzinfo=UTC)
    except OverflowError:
        return (datetime.min if offset > timedelta(0) else datetime.max).replace(tzinfo=UTC)


def _example(**example: Any) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [example]})


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. `not_found`, `validation_error`.")
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorBody(BaseModel):
    """Every error answer has this shape."""

    model_config = _example(
        error={
            "code": "not_found",
            "message": "claim 0x3f1c… not found",
            "details": {"claim_id": HASH_EXAMPLE},
        }
    )

    error: ErrorDetail


class Page(BaseModel, Generic[T]):
    """One page. ``next_cursor`` is opaque; pass it back as ``cursor`` for the next page (null: last)."""

    items: list[T]
    next_cursor: str | None = None


class ChainLocation(BaseModel):
    """Where something happened on a chain."""

    model_config = _example(
        chain="l1", height=1234, block_hash=HASH_EXAMPLE, tx_hash=HASH_EXAMPLE, log_index=3
    )

    chain: Literal["exocore", "l1", "relayer", "operator"]
    height: int | None = None
    block_hash: str | None = None
    tx_hash: str | None = None
    log_index: int | None = None


class TransitionOut(BaseModel):
    """One step of an object's history (append-only)."""

    model_config = _example(
        id=42,
        entity_kind="claim",
        entity_id=HASH_EXAMPLE,
        from_state="attested",
        to_state="relayed",
        edge="forward",
        where={
            "chain": "l1",
            "height": 1234,
            "block_hash": HASH_EXAMPLE,
            "tx_hash": HASH_EXAMPLE,
            "log_index": 0,
        },
        at=TIME_EXAMPLE,
        reason=None,
        reverses_id=None,
    )

    id: int
    entity_kind: Literal["claim", "slash", "packet", "payout", "l1_tx"]
    entity_id: str
    from_state: str | None
    to_state: str | None = Field(
        description="null: removed by an L1 reorg (first seen in the orphaned block)"
    )
    edge: Literal["forward", "retry", "reversal"]
    where: ChainLocation
    at: datetime
    reason: str | None = None
    reverses_id: int | None = Field(default=None, description="For a reversal: the transition it undoes.")


class SignerOut(BaseModel):
    member_index: int
    operator: str
    power: Amount | None = None
    power_usd: str | None = Field(default=None, description="`power` in USD (Exocore's 8-decimal USD value).")


class ClaimDistributionOut(BaseModel):
    """One distribution of a claim: a claim split over several client chains has one per chain,
    each paid by that chain's gateway."""

    distribution_id: str
    nonce: int = Field(description="Its relay packet's nonce.")
    chain_id: int | None = Field(
        default=None,
        description="The client chain it pays on: where its root landed, else where its packet is addressed.",
    )
    total: Amount
    leaf_count: int | None = None
    merkle_root: str
    packet_status: str | None = Field(default=None, description="Its relay packet's status.")
    root_on_l1: ChainLocation | None = None
    root_finalized: bool
    payment_state: str | None = Field(
        default=None, description="null (no leaf paid yet), `paying` or `paid` (every leaf's payment final)."
    )
    status: str = Field(
        description=(
            "How far this distribution got, in claim states (distributed ... paid); the claim's own "
            "`status` is the least advanced of its distributions'."
        )
    )
    url: str = Field(description="Its payouts per status: `/v1/distributions/{distribution_id}`.")


class ClaimOut(BaseModel):
    model_config = _example(
        claim_id=HASH_EXAMPLE,
        avs=ADDRESS_EXAMPLE,
        epoch=7,
        token=ADDRESS_EXAMPLE,
        funding=1,
        total_amount="1000000000000000000000",
        status="paying",
        reason_code=None,
        reason=None,
        signed_power="700",
        total_power="1000",
        threshold="2/3",
        distribution_id=HASH_EXAMPLE,
        submitted_height=1200,
        created_at=TIME_EXAMPLE,
        updated_at=TIME_EXAMPLE,
    )

    claim_id: str
    avs: str
    epoch: int
    token: str
    funding: int | None = None
    total_amount: Amount
    status: str
    reason_code: str | None = None
    reason: str | None = None
    signed_power: Amount | None = None
    total_power: Amount | None = None
    threshold: str | None = Field(default=None, description="`num/den`; signed * den > total * num")
    distribution_id: str | None = None
    submitted_height: int | None = None
    created_at: datetime
    updated_at: datetime
    avs_name: str | None = Field(default=None, description="The name the AVS registered on Exocore.")
    token_symbol: str | None = Field(
        default=None, description="The token's ERC-20 symbol (null until the indexer has read it from L1)."
    )
    token_decimals: int | None = Field(default=None, description="The token's ERC-20 decimals.")
    total_amount_display: str | None = Field(
        default=None, description="`total_amount` in the token's unit, e.g. `1,000.0000 EXOR` (truncated)."
    )
    signed_power_usd: str | None = Field(default=None, description="`signed_power` in USD.")
    total_power_usd: str | None = Field(default=None, description="`total_power` in USD.")
    signed_share: str | None = Field(default=None, description="signed / total power, e.g. `77.5 %`.")
    threshold_share: str | None = Field(default=None, description="The threshold, e.g. `66.7 %`.")
    distributions: list[ClaimDistributionOut] = Field(
        default_factory=list,
        description=(
            "Its distributions, one per client chain it pays on, in nonce order (`distribution_id` "
            "is the first of them)."
        ),
    )


class DistributionSummary(BaseModel):
    distribution_id: str
    nonce: int
    total: Amount
    leaf_count: int | None
    merkle_root: str
    root_on_l1: ChainLocation | None = None
    root_finalized: bool


class ValsetMemberOut(BaseModel):
    index: int
    bls_pubkey: str = Field(description="48-byte compressed G1 key, 0x hex.")
    power: Amount


class ValsetInstallationOut(BaseModel):
    """One client chain's installation of a validator set (its gateway's ``ValsetUpdated``)."""

    chain_id: int = Field(description="The client chain (L1 chain id) whose gateway installed it.")
    commitment: str = Field(description="The commitment that gateway stores (the same on every chain).")
    total_power: Amount
    l1: ChainLocation
    installed_at: datetime


class ValsetOut(BaseModel):
    """A relay validator set as Exocore made it and where each client chain installed it."""

    valset_nonce: int
    total_power: Amount
    member_count: int
    created_height: int | None = Field(default=None, description="The Exocore height it was made at.")
    origin: str = Field(description="`exocore`, or `l1` (first seen installed; members not yet known).")
    installations: list[ValsetInstallationOut] = Field(
        description="One per client chain that installed it, by chain id; empty: no chain has yet."
    )
    created_at: datetime


class ValsetDetail(ValsetOut):
    members: list[ValsetMemberOut] = Field(description="In set order (the signer bitmap's order).")


class PacketOut(BaseModel):
    model_config = _example(
        nonce=12,
        kind="reward_distribution",
        valset_nonce=3,
        status="relayed",
        subject_id=HASH_EXAMPLE,
        distribution_id=HASH_EXAMPLE,
        avs=ADDRESS_EXAMPLE,
        payload_hash=HASH_EXAMPLE,
        digest=HASH_EXAMPLE,
        exocore_height=1201,
        signed_power="67",
        total_power="100",
        l1=None,
        created_at=TIME_EXAMPLE,
        updated_at=TIME_EXAMPLE,
    )

    nonce: int
    kind: PacketKindLabel
    valset_nonce: int
    status: str
    subject_id: str | None = None
    distribution_id: str | None = None
    avs: str | None = None
    payload_hash: str
    digest: str
    exocore_height: int
    signed_power: Amount | None = None
    total_power: Amount | None = None
    l1: ChainLocation | None = None
    chain_id: int | None = Field(
        default=None, description="The client chain (L1 chain id) it landed on; null until it has."
    )
    created_at: datetime
    updated_at: datetime


class CollectionStage(BaseModel):
    """The ``collecting`` stage before ``submitted``: the aggregator's record of the request (same id),
    read from its tables; who signed when and who was refused are at ``url``."""

    digest: str
    state: str = Field(description="collecting, submitted, verified, rejected or expired (the aggregator's).")
    state_reason: str | None = None
    opened_at: datetime
    threshold_reached_at: datetime | None = None
    signed_power: Amount
    threshold_power: Amount = Field(description="Signed power must be strictly above this.")
    total_power: Amount
    committee_size: int
    url: str


class ClaimDetail(ClaimOut):
    """A claim with its signers, distribution, packet and full timeline (payout progress per status
    is on ``/v1/distributions/{distribution_id}``: counting a large distribution's payouts would make
    this, the most frequent detail request, as slow as the distribution is big). ``distribution``
    and ``packet`` are the first distribution's; ``distributions`` lists every one."""

    signers: list[SignerOut]
    distribution: DistributionSummary | None = None
    packet: PacketOut | None = None
    collection: CollectionStage | None = None
    timeline: list[TransitionOut] = Field(
        description=(
            "Every transition of the claim, its distributions' packets and their roots' L1 "
            "transactions (every client chain's), oldest first."
        )
    )


class DistributionOut(BaseModel):
    model_config = _example(
        distribution_id=HASH_EXAMPLE,
        nonce=12,
        claim_id=HASH_EXAMPLE,
        avs=ADDRESS_EXAMPLE,
        epoch=7,
        token=ADDRESS_EXAMPLE,
        funding=1,
        total="1000",
        leaf_count=4,
        merkle_root=HASH_EXAMPLE,
        community_tax="30",
        claimed="1030",
        dust="0",
        community_pool="30",
        paid_amount="300",
        payouts_by_status={"pending": 2, "finalized": 2},
        root_on_l1={
            "chain": "l1",
            "height": 1234,
            "block_hash": HASH_EXAMPLE,
            "tx_hash": HASH_EXAMPLE,
            "log_index": 0,
        },
        root_finalized=True,
        origin="exocore",
        created_at=TIME_EXAMPLE,
    )

    distribution_id: str
    nonce: int
    claim_id: str | None = None
    avs: str
    epoch: int
    token: str
    funding: int | None = None
    total: Amount
    leaf_count: int | None = None
    merkle_root: str
    community_tax: Amount | None = None
    claimed: Amount | None = Field(
        default=None, description="The reward claim's amount: `total` + `community_pool`."
    )
    dust: Amount | None = Field(
        default=None,
        description="Rounding remainder of the split: claimed - community_tax - total (Σ of the leaves).",
    )
    community_pool: Amount | None = Field(
        default=None,
        description="What Exocore's community pool keeps of the claim (community tax + dust): no leaf"
        " carries it, so L1 never pays it (a MINT token never mints it; a VAULT deposit keeps it).",
    )
    paid_amount: Amount = Field(description="Σ amounts of included and finalized payouts.")
    payouts_by_status: dict[str, int]
    root_on_l1: ChainLocation | None = None
    root_finalized: bool
    origin: Literal["exocore", "l1", "relayer"]
    created_at: datetime
    avs_name: str | None = Field(default=None, description="The name the AVS registered on Exocore.")
    token_symbol: str | None = Field(
        default=None, description="The token's ERC-20 symbol (null until the indexer has read it from L1)."
    )
    token_decimals: int | None = Field(default=None, description="The token's ERC-20 decimals.")
    total_display: str | None = Field(default=None, description="`total` in the token's unit.")
    paid_amount_display: str | None = Field(default=None, description="`paid_amount` in the token's unit.")
    community_pool_display: str | None = Field(
        default=None, description="`community_pool` in the token's unit."
    )


class LeafOut(BaseModel):
    model_config = _example(
        leaf_index=0,
        staker=ADDRESS_EXAMPLE,
        amount="100",
        kind=1,
        operator="exo1qyqszqgpqyqszqgpqyqszqgpqyqszqgpjn9l4k",
        payout_status="finalized",
    )

    leaf_index: int
    staker: str
    amount: Amount
    kind: int | None = None
    operator: str | None = None
    payout_status: str | None = None
    amount_display: str | None = Field(default=None, description="`amount` in the token's unit.")


class L1TxRef(BaseModel):
    tx_hash: str
    block_number: int | None = None
    block_hash: str | None = None
    log_index: int | None = None
    status: str | None = Field(default=None, description="The transaction's lifecycle state, if recorded.")


class PayoutOut(BaseModel):
    model_config = _example(
        id=1001,
        distribution_id=HASH_EXAMPLE,
        leaf_index=3,
        staker=ADDRESS_EXAMPLE,
        token=ADDRESS_EXAMPLE,
        amount="250000000000000000",
        avs=ADDRESS_EXAMPLE,
        epoch=7,
        status="finalized",
        l1_tx={
            "tx_hash": HASH_EXAMPLE,
            "block_number": 1240,
            "block_hash": HASH_EXAMPLE,
            "log_index": 7,
            "status": "finalized",
        },
        created_at=TIME_EXAMPLE,
        updated_at=TIME_EXAMPLE,
    )

    id: int
    distribution_id: str
    leaf_index: int
    staker: str
    token: str
    amount: Amount
    avs: str | None = None
    epoch: int | None = None
    status: Literal["pending", "submitted", "included", "finalized"]
    l1_tx: L1TxRef | None = None
    chain_id: int | None = Field(
        default=None, description="The client chain (L1 chain id) it landed on; null until it has."
    )
    created_at: datetime
    updated_at: datetime
    avs_name: str | None = Field(default=None, description="The name the AVS registered on Exocore.")
    token_symbol: str | None = Field(
        default=None, description="The token's ERC-20 symbol (null until the indexer has read it from L1)."
    )
    token_decimals: int | None = Field(default=None, description="The token's ERC-20 decimals.")
    amount_display: str | None = Field(default=None, description="`amount` in the token's unit.")


class WithdrawalOut(BaseModel):
    """One leaf of a withdrawal approval: principal the RestakingVault pays a staker once Exocore's
    unbonding matured, and its payment (by the relayer's batch or the staker's own claim)."""

    model_config = _example(
        id=1002,
        approval_id=HASH_EXAMPLE,
        packet_nonce=42,
        leaf_index=0,
        staker=ADDRESS_EXAMPLE,
        token=ADDRESS_EXAMPLE,
        amount="2000000000000000000",
        epoch=9,
        status="finalized",
        paid_by="relayer",
        request_ids=[5, 6],
        l1_tx={
            "tx_hash": HASH_EXAMPLE,
            "block_number": 1250,
            "block_hash": HASH_EXAMPLE,
            "log_index": 3,
            "status": "finalized",
        },
        created_at=TIME_EXAMPLE,
        updated_at=TIME_EXAMPLE,
    )

    id: int
    approval_id: str
    packet_nonce: int
    leaf_index: int
    staker: str
    token: str
    amount: Amount
    epoch: int | None = None
    status: Literal["pending", "submitted", "included", "finalized"]
    paid_by: Literal["relayer", "staker"] | None = None
    request_ids: list[int] = []
    """The L1 RestakingVault withdrawal requests this leaf pays (their ``requestId``)."""
    l1_tx: L1TxRef | None = None
    chain_id: int | None = Field(
        default=None, description="The client chain (L1 chain id) it landed on; null until it has."
    )
    created_at: datetime
    updated_at: datetime


class SlashAssetOut(BaseModel):
    token: str
    amount: Amount
    asset_id: str | None = None
    token_symbol: str | None = Field(default=None, description="The token's ERC-20 symbol, once read.")
    amount_display: str | None = Field(default=None, description="`amount` in the token's unit.")


class SlashOut(BaseModel):
    model_config = _example(
        slash_id=HASH_EXAMPLE,
        operator="exo1qyqszqgpqyqszqgpqyqszqgpqyqszqgpjn9l4k",
        operator_address=ADDRESS_EXAMPLE,
        avs=ADDRESS_EXAMPLE,
        evidence_kind="committee_request",
        status="finalized",
        reason_code=None,
        reason=None,
        freeze=True,
        slash_proportion="0.05",
        packet_nonce=13,
        assets=[{"token": ADDRESS_EXAMPLE, "amount": "5000000000000000000", "asset_id": None}],
        signers=[
            {"member_index": 0, "operator": "exo1qyqszqgpqyqszqgpqyqszqgpqyqszqgpjn9l4k", "power": None}
        ],
        l1=None,
        created_at=TIME_EXAMPLE,
        updated_at=TIME_EXAMPLE,
    )

    slash_id: str
    operator: str | None = None
    operator_name: str | None = Field(
        default=None, description="The name the operator registered on Exocore."
    )
    operator_address: str | None = None
    avs: str
    evidence_kind: SlashKindLabel | None = None
    status: str
    reason_code: str | None = None
    reason: str | None = None
    freeze: bool
    slash_proportion: str | None = None
    packet_nonce: int | None = None
    assets: list[SlashAssetOut]
    signers: list[SignerOut]
    l1: ChainLocation | None = None
    chain_id: int | None = Field(
        default=None, description="The client chain (L1 chain id) it landed on; null until it has."
    )
    created_at: datetime
    updated_at: datetime
    avs_name: str | None = Field(default=None, description="The name the AVS registered on Exocore.")


class SlashDetail(SlashOut):
    collection: CollectionStage | None = None
    timeline: list[TransitionOut]
    evidence: str | None = Field(
        default=None,
        description="The evidence bytes the slash was judged on, 0x hex (32-byte kind tag first; at "
        "most 16 KiB), when Exocore showed them.",
    )
    offence_epoch: int | None = Field(
        default=None, description="Epoch whose stake snapshot the deduction is measured on."
    )


class CommitteeMemberOut(BaseModel):
    member_index: int
    operator: str
    operator_name: str | None = Field(
        default=None, description="The name the operator registered on Exocore."
    )
    bls_pubkey: str
    power: Amount
    power_usd: str | None = Field(default=None, description="`power` in USD.")
    share: str | None = Field(default=None, description="`power` of the committee's total, e.g. `27.1 %`.")


class CommitteeOut(BaseModel):
    model_config = _example(
        avs=ADDRESS_EXAMPLE,
        epoch=7,
        total_power="100",
        threshold="2/3",
        elected_height=1100,
        elected_at=TIME_EXAMPLE,
        members=[
            {
                "member_index": 0,
                "operator": "exo1qyqszqgpqyqszqgpqyqszqgpqyqszqgpjn9l4k",
                "bls_pubkey": "0x" + "ab" * 48,
                "power": "100",
            }
        ],
    )

    avs: str
    epoch: int
    total_power: Amount
    threshold: str
    elected_height: int
    elected_at: datetime
    members: list[CommitteeMemberOut]
    avs_name: str | None = Field(default=None, description="The name the AVS registered on Exocore.")
    total_power_usd: str | None = Field(default=None, description="`total_power` in USD.")
    threshold_share: str | None = Field(default=None, description="The threshold, e.g. `66.7 %`.")


class L1TxOut(BaseModel):
    model_config = _example(
        tx_hash=HASH_EXAMPLE,
        chain_id=1,
        sender=ADDRESS_EXAMPLE,
        tx_nonce=17,
        purpose="payout",
        status="finalized",
        packet_nonce=None,
        distribution_id=HASH_EXAMPLE,
        replaces_tx_hash=None,
        block_number=1240,
        block_hash=HASH_EXAMPLE,
        gas_used=3100000,
        max_fee_per_gas="30000000000",
        max_priority_fee_per_gas="1000000000",
        origin="relayer",
        created_at=TIME_EXAMPLE,
        updated_at=TIME_EXAMPLE,
    )

    tx_hash: str
    chain_id: int
    sender: str | None = None
    tx_nonce: int | None = None
    purpose: TxPurposeLabel
    status: str
    packet_nonce: int | None = None
    distribution_id: str | None = None
    replaces_tx_hash: str | None = None
    block_number: int | None = None
    block_hash: str | None = None
    gas_used: int | None = None
    max_fee_per_gas: Amount | None = None
    max_priority_fee_per_gas: Amount | None = None
    origin: Literal["exocore", "l1", "relayer"]
    created_at: datetime
    updated_at: datetime


class StreamStatus(BaseModel):
    stream: str
    chain: str
    height: int
    head_height: int | None = None
    finalized_height: int | None = None
    lag_blocks: int | None = None
    halted: bool
    halt_reason: str | None = None
    updated_at: datetime


class StatsOut(BaseModel):
    model_config = _example(
        counts={"claim": {"paid": 10, "paying": 1}, "payout": {"pending": 5, "finalized": 40}},
        backlog={"claim": 1, "payout": 5, "packet": 0, "slash": 0, "l1_tx": 0},
        oldest_pending_age_s={"claim": 120.0, "payout": 60.5},
        paid_per_token={ADDRESS_EXAMPLE: {"included": "0", "finalized": "4000"}},
        streams=[],
        invariant_violations=0,
        generated_at=TIME_EXAMPLE,
    )

    counts: dict[str, dict[str, int]] = Field(description="Objects per lifecycle state, per kind.")
    backlog: dict[str, int] = Field(description="Objects not yet in a terminal state, per kind.")
    oldest_pending_age_s: dict[str, float | None] = Field(
        description="Age in seconds of the oldest object not yet terminal, per kind (null: none)."
    )
    paid_per_token: dict[str, dict[str, Amount]] = Field(
        description="Per token: Σ amounts of payouts included (not yet final) and finalized."
    )
    paid_per_chain: dict[str, dict[str, dict[str, Amount]]] = Field(
        default_factory=dict,
        description="The same per client chain (L1 chain id, decimal): chain -> token -> state -> Σ. "
        "Every included or finalized payout landed on one chain, so the chains add up to "
        "`paid_per_token`.",
    )
    streams: list[StreamStatus]
    invariant_violations: int
    generated_at: datetime


class HealthOut(BaseModel):
    status: Literal["ok"]


class ReplicaStatus(BaseModel):
    """The API's database is a PostgreSQL streaming replica: how far behind its primary it is."""

    streaming: bool
    """A WAL receiver is streaming from the primary (False: the link is down, the lag unknown)."""
    wal_receiver_status: str | None
    lag_s: float
    """Seconds since the primary committed the newest transaction the replica has received but not
    replayed (0 when it replayed everything it received)."""
    replay_behind_bytes: int
    """WAL received from the primary and not replayed yet."""


class ReadyOut(BaseModel):
    status: Literal["ready"]
    streams: list[StreamStatus]
    attention: list[str] = []
    """Work that waits on an operator or a third party without making the API unready: payout jobs
    parked until their AVS deposits (they resume by themselves)."""
    replica: ReplicaStatus | None = None
    """Set when the API reads from a streaming replica."""


class CumulativePayoutOut(BaseModel):
    model_config = _example(
        token=ADDRESS_EXAMPLE,
        recipient=ADDRESS_EXAMPLE,
        amount="250000000000000000",
        cumulative="1250000000000000000",
        period=12,
        by_earner=False,
        tx_hash=HASH_EXAMPLE,
        block_number=1240,
        log_index=3,
        final=True,
    )

    token: str
    recipient: str
    amount: Amount
    cumulative: Amount
    """The earner's running total in ``token`` this payout brought it up to."""
    period: int
    by_earner: bool
    """True: the earner claimed it (sender or signature); false: a push (relayer or anyone)."""
    tx_hash: str
    block_number: int
    log_index: int
    final: bool = False
    """Its block is at or below L1's finalized height (no reorg can remove it)."""
    chain_id: int | None = None
    """The client chain (L1 chain id) whose vault paid it (its ``period`` is that chain's)."""


class CumulativeRootOut(BaseModel):
    period: int
    """Numbered per client chain (1, 2, ... on each)."""
    packet_nonce: int
    state: str
    """The CUMULATIVE_ROOT packet's lifecycle: created, attested, relayed (on L1), finalized, failed."""
    chain_id: int | None = None
    """The client chain (L1 chain id) the root is addressed to: each chain has its own roots."""


class CumulativeTokenOut(BaseModel):
    token: str
    earned: Amount
    """The staker's running total in the latest closed period the indexer knows (``latest_root``)."""
    accrued: Amount
    """The running total in the latest root delivered on L1 (``delivered_root``): what L1 can pay."""
    paid: Amount
    """Σ paid under cumulative roots in blocks L1 has finalized (no reorg can take it back)."""
    pending: Amount = "0"
    """Σ paid in blocks not final yet (a reorg could still remove it). ``paid + pending =
    paid_pushed + paid_by_earner``."""
    paid_pushed: Amount
    paid_by_earner: Amount
    claimable: Amount
    """``accrued - paid - pending`` (never negative): what a claim or a push would pay now."""
    token_symbol: str | None = None
    token_decimals: int | None = None
    earned_display: str | None = None
    """The four figures in the token's unit (grouped base units while its unit is not stored)."""
    accrued_display: str | None = None
    paid_display: str | None = None
    pending_display: str | None = None
    claimable_display: str | None = None


class CumulativeStakerOut(BaseModel):
    model_config = _example(
        staker=ADDRESS_EXAMPLE,
        tokens=[
            {
                "token": ADDRESS_EXAMPLE,
                "earned": "2000000000000000000",
                "accrued": "1500000000000000000",
                "paid": "1000000000000000000",
                "pending": "250000000000000000",
                "paid_pushed": "1000000000000000000",
                "paid_by_earner": "250000000000000000",
                "claimable": "250000000000000000",
            }
        ],
        latest_root={"period": 13, "packet_nonce": 41, "state": "attested"},
        delivered_root={"period": 12, "packet_nonce": 38, "state": "finalized"},
        payouts=[
            {
                "token": ADDRESS_EXAMPLE,
                "recipient": ADDRESS_EXAMPLE,
                "amount": "250000000000000000",
                "cumulative": "1250000000000000000",
                "period": 12,
                "by_earner": True,
                "tx_hash": HASH_EXAMPLE,
                "block_number": 1240,
                "log_index": 3,
                "final": False,
            }
        ],
    )

    staker: str
    tokens: list[CumulativeTokenOut]
    """Per token: earned, accrued on L1, paid (by who sent it) and claimable."""
    latest_root: CumulativeRootOut | None = None
    """The latest closed period with a leaf of the staker (``earned`` sums each chain's latest);
    None before any."""
    delivered_root: CumulativeRootOut | None = None
    """The latest of those periods whose root reached L1 (``accrued`` sums each chain's latest);
    None before any."""
    delivered_roots: list[CumulativeRootOut] = Field(default_factory=list)
    """Per client chain, its latest root on L1 with a leaf of the staker (what ``accrued`` sums)."""
    payouts: list[CumulativePayoutOut]
    """The latest payouts first (at most ``CUMULATIVE_PAYOUTS_SHOWN``)."""


class CumulativeProofLeafOut(BaseModel):
    token: str
    cumulative: Amount
    """The staker's running total in ``token`` in the root's period (the leaf's value)."""
    proof: list[str]
    """The leaf's Merkle proof (bytes32 hex, leaf to root) against the root."""


class CumulativeClaimOut(BaseModel):
    model_config = _example(
        staker=ADDRESS_EXAMPLE,
        root={"period": 12, "packet_nonce": 38, "state": "finalized"},
        merkle_root=HASH_EXAMPLE,
        leaves=[{"token": ADDRESS_EXAMPLE, "cumulative": "1500000000000000000", "proof": [HASH_EXAMPLE]}],
        claimable={ADDRESS_EXAMPLE: "250000000000000000"},
        calldata="0x9e5f6b7a",
        to=ADDRESS_EXAMPLE,
        **{"from": ADDRESS_EXAMPLE},
    ) | ConfigDict(populate_by_name=True)

    staker: str
    root: CumulativeRootOut
    """The latest root delivered on L1 with a leaf of the staker: the one a claim is proven against."""
    merkle_root: str
    leaves: list[CumulativeProofLeafOut]
    """Every leaf of the staker in that root, each with its own proof."""
    claimable: dict[str, Amount]
    """Per token with something left: ``cumulative - paid`` (tokens fully paid are absent)."""
    calldata: str | None
    """``claimCumulative`` calldata paying every claimable token to the staker (one multiproof), for
    the RewardVault (the gateway's ``REWARD_VAULT()``), sent from the staker; None: nothing left."""
    to: str | None = None
    """The transaction's ``to``: the RewardVault that took the root (``CumulativeRootAccepted``);
    None only while the indexer has not seen that log yet."""
    from_: str = Field(alias="from", serialization_alias="from")
    """The transaction's ``from``: the staker (the vault pays the caller's own leaves)."""


class AvsTokenFundingOut(BaseModel):
    token: str
    distributed: Amount
    """Σ the AVS's per-distribution totals in the token (every distribution Exocore created)."""
    paid: Amount
    """Σ of those distributions' payouts in blocks L1 has finalized: what reached stakers."""
    pending: Amount
    """Σ of those payouts in blocks not final yet."""
    cumulative_funded: Amount
    """The AVS's running total in the token in the latest cumulative root L1 accepted."""
    cumulative_pool_funded: Amount
    """Every AVS's running total in the token in that root (= Σ of the token's leaves)."""
    cumulative_pool_paid: Amount
    """Σ the vault paid in the token under cumulative roots, final blocks (all AVSs together: a
    cumulative payout pays an earner's total over every AVS, it is not split per AVS)."""
    cumulative_pool_pending: Amount
    """The same, blocks not final yet."""
    accrued: Amount = "0"
    """Σ the AVS's distributions in the token that accrued into cumulative totals (as
    ``/v1/reward-sources`` ``accrued``)."""
    drawn: Amount = "0"
    """Σ ``CumulativeFunded`` of the AVS in the token (as ``/v1/reward-sources`` ``drawn``)."""
    paid_cumulative: Amount | None = "0"
    """The AVS's cumulative payouts in the token, included or final, where L1 attributes them (as
    ``/v1/reward-sources`` ``paid_cumulative``; null: the pool is shared with other AVSs)."""
    token_symbol: str | None = None
    token_decimals: int | None = None
    display: dict[str, str] = Field(default_factory=dict)
    """Each figure above by name, in the token's unit (grouped base units while it is not stored)."""


class AvsFundingOut(BaseModel):
    model_config = _example(
        avs=ADDRESS_EXAMPLE,
        payout_mode="per_distribution",
        tokens=[
            {
                "token": ADDRESS_EXAMPLE,
                "distributed": "1000",
                "paid": "800",
                "pending": "200",
                "cumulative_funded": "5000",
                "cumulative_pool_funded": "9000",
                "cumulative_pool_paid": "4000",
                "cumulative_pool_pending": "0",
            }
        ],
        cumulative_root={"period": 12, "packet_nonce": 38, "state": "finalized"},
    )

    avs: str
    payout_mode: str = Field(
        default="per_distribution",
        description="How the AVS's distributions are paid: `per_distribution` (a packet each, pushed "
        "leaf by leaf) or `cumulative` (they only accrue into the cumulative roots).",
    )
    tokens: list[AvsTokenFundingOut]
    cumulative_root: CumulativeRootOut | None = None
    """The latest cumulative root L1 accepted that funds the AVS (None: none)."""
    cumulative_roots: list[CumulativeRootOut] = Field(default_factory=list)
    """Per client chain, its latest accepted root that funds the AVS (what the cumulative figures
    sum)."""


class RewardSourceOut(BaseModel):
    """What one (AVS, token, reward source) was funded with, distributed and paid on L1."""

    avs_address: str
    token: str
    source: int
    """1 MINT (minted as paid), 2 VAULT (the AVS's reward deposits), 3 FEES (its transaction fees)."""
    source_name: Literal["MINT", "VAULT", "FEES"]
    funded: Amount | None
    """Σ deposits into the source in the RewardVault seen on L1 (``Deposited`` for VAULT,
    ``FeesDeposited`` for FEES); null for MINT, which is minted as it is paid."""
    distributed: Amount
    """Σ totals of the reward distributions Exocore made from the source: per-distribution ones
    (a packet each) plus ``accrued``."""
    paid: Amount
    """Σ paid on L1 (included or final): ``paid_per_distribution`` plus ``paid_cumulative`` (when
    L1 attributes it)."""
    held: Amount | None
    """``funded - paid_per_distribution - drawn``: what the RewardVault still holds for the AVS in
    the source (its ``balanceOf`` / ``feeBalanceOf``; null for MINT)."""
    distributions: int
    """Distributions from the source: per-distribution ones plus accrued ones."""
    payout_mode: str = "per_distribution"
    """The AVS's payout mode: ``per_distribution`` or ``cumulative``."""
    accrued: Amount = "0"
    """Σ totals of the AVS's distributions that accrued into the earners' cumulative totals
    (``reward_distribution_accrued``: the leaves, not the community tax and dust)."""
    drawn: Amount = "0"
    """Σ ``CumulativeFunded`` of the AVS and token: what the RewardVault moved from the source into
    the token's cumulative pool for the roots (VAULT: out of the deposits; MINT: allowed to mint)."""
    paid_per_distribution: Amount = "0"
    """Σ leaves of the per-distribution distributions paid on L1 (included or final)."""
    paid_cumulative: Amount | None = "0"
    """Σ ``CumulativePaid`` of the token's cumulative pool when the AVS is the only one that drew into
    it (on each chain counted); null when other AVSs drew into the same pool: a cumulative payout pays
    an earner's total over every AVS, and L1 does not split it, so neither does the API (see the
    pool figures)."""
    cumulative_pool_drawn: Amount | None = None
    """Σ ``CumulativeFunded`` of every AVS into the token's pool on the chains where this AVS drew
    (null: it never drew)."""
    cumulative_pool_paid: Amount | None = None
    """Σ ``CumulativePaid`` of the token on those chains (null: the AVS never drew)."""
    avs_name: str | None = None
    token_symbol: str | None = None
    token_decimals: int | None = None
    funded_display: str | None = None
    distributed_display: str | None = None
    paid_display: str | None = None
    held_display: str | None = None
    drawn_display: str | None = None
    cumulative_pool_drawn_display: str | None = None
    cumulative_pool_paid_display: str | None = None


class RewardSourcesOut(BaseModel):
    model_config = _example(
        sources=[
            {
                "avs_address": ADDRESS_EXAMPLE,
                "token": ADDRESS_EXAMPLE,
                "source": 3,
                "source_name": "FEES",
                "funded": "2000000000000000000",
                "distributed": "970000000000000000",
                "paid": "970000000000000000",
                "held": "1030000000000000000",
                "distributions": 1,
            }
        ]
    )

    sources: list[RewardSourceOut]
    """One row per (AVS, token, source) that was funded or distributed from, ordered by AVS,
    token and source."""
    chain_id: int | None = None
    """The client chain the figures are of (the ``chain_id`` asked); null: every chain, summed."""


class LeafClaimOut(BaseModel):
    """One unpaid leaf of a reward distribution whose root is on L1, ready to claim."""

    distribution_id: str
    claim_id: str | None
    avs_address: str
    epoch: int
    token: str
    source_name: Literal["MINT", "VAULT", "FEES"] | None
    leaf_index: int
    amount: Amount
    status: str
    """The payout's state: ``pending`` or ``submitted`` (a relayer batch is in flight: a claim sent
    now may race it; whichever lands second skips or reverts ``LeafAlreadyPaid``, never pays twice)."""
    proof: list[str]
    calldata: str
    """``claim(distributionId, leaf, proof)`` calldata for the gateway, sendable from any account
    (the gateway pays the leaf's staker)."""
    avs_name: str | None = None
    token_symbol: str | None = None
    token_decimals: int | None = None
    amount_display: str | None = None


class StakerClaimsOut(BaseModel):
    model_config = _example(
        staker=ADDRESS_EXAMPLE,
        leaves=[
            {
                "distribution_id": HASH_EXAMPLE,
                "claim_id": HASH_EXAMPLE,
                "avs_address": ADDRESS_EXAMPLE,
                "epoch": 7,
                "token": ADDRESS_EXAMPLE,
                "source_name": "FEES",
                "leaf_index": 3,
                "amount": "250000000000000000",
                "status": "pending",
                "proof": [HASH_EXAMPLE],
                "calldata": "0x4e71d92d",
            }
        ],
        truncated=False,
    )

    staker: str
    leaves: list[LeafClaimOut]
    """The staker's unpaid leaves of reward distributions delivered on L1, oldest distribution first,
    each with its own proof and calldata (the same shape of answer as the cumulative claim's)."""
    truncated: bool
    """True when there are more unpaid leaves than one answer lists (claim these, then ask again)."""
