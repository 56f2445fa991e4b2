"""The records the devnet state machine keeps (mutable where the chain updates them in place).

Iteration order matters for determinism: every collection here is a ``dict`` (insertion-ordered) or
a list, never a ``set`` that something iterates, and anything ranked is sorted explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from devnet.chain.params import MAX_TOKEN_DECIMALS, RATE_ONE, USD_DECIMALS
from relayer.protocol.kinds import PayoutMode
from relayer.protocol.packets import Packet
from relayer.protocol.quorum import MemberList, Threshold
from relayer.protocol.types import Address, Hash32

WEIGHT_DECIMALS = MAX_TOKEN_DECIMALS
"""Exact USD weights carry ``USD_DECIMALS + WEIGHT_DECIMALS`` decimals, so no division is needed
before a final floor: ``weight = amount * price_e8 * 10**(36 - token decimals)``."""
WEIGHT_PER_USD_E8 = 10**WEIGHT_DECIMALS

# Claim statuses (values of exocore.avs.v1.ClaimStatus).
CLAIM_SUBMITTED = 1
CLAIM_VERIFIED = 2
CLAIM_REJECTED = 3
CLAIM_DISTRIBUTED = 4
CLAIM_ACCRUED = 5
"""A cumulative AVS's distribution: in the cumulative earnings, no packet of its own."""

# Slash statuses and kinds (exocore.operator.v1.SlashStatus / SlashKind).
SLASH_SUBMITTED = 1
SLASH_REJECTED = 3
SLASH_EXECUTED = 4
SLASH_KIND_EQUIVOCATION = 1
SLASH_KIND_COMMITTEE_REQUEST = 2
SLASH_KIND_WRONG_RESULT = 3

# Leaf kinds (exocore.feedistribution.v1.LeafKind).
LEAF_STAKER = 1
LEAF_OPERATOR_COMMISSION = 2


@dataclass(slots=True)
class Asset:
    asset_id: str
    token: Address
    lz_chain_id: int
    decimals: int
    price_usd_e8: int

    @property
    def weight_factor(self) -> int:
        """Multiply a base-unit amount by this to get its exact USD weight."""
        scale: int = 10 ** (WEIGHT_DECIMALS - self.decimals)
        return self.price_usd_e8 * scale

    def usd_e8(self, amount: int) -> int:
        """USD value (8 decimals, floored) of ``amount`` base units."""
        scale: int = 10**self.decimals
        return amount * self.price_usd_e8 // scale


@dataclass(slots=True)
class Operator:
    account: str
    address: Address
    reward_address: Address
    commission_rate: int
    registered_height: int
    # Upstream OperatorInfo: operator_meta_info (display name), earnings_addr and approve_addr (bech32
    # or empty; kept as registered, not used by the devnet).
    name: str = ""
    earnings_addr: str = ""
    approve_addr: str = ""
    # Upstream commission_rates.max_rate / max_change_rate as registered (devnet rates, 18 decimals);
    # the registration was refused unless rate <= max_rate and max_change_rate <= max_rate <= 1.
    max_commission_rate: int = RATE_ONE
    max_commission_change_rate: int = RATE_ONE
    # avs hex -> compressed BLS key registered for it (kept after opt-out: evidence stays checkable).
    keys: dict[str, bytes] = field(default_factory=dict)
    # avs hex -> None: the AVSs the operator is currently opted into (dict for deterministic order).
    opted_in: dict[str, None] = field(default_factory=dict)
    # avs hex -> slash id of the slash that froze the operator for that AVS.
    frozen: dict[str, bytes] = field(default_factory=dict)
    # asset id -> staker address -> delegated base units (the operator's pool of that asset).
    pools: dict[str, dict[Address, int]] = field(default_factory=dict)


@dataclass(slots=True)
class RewardTokenInfo:
    token: Address
    funding: int
    decimals: int


@dataclass(slots=True)
class AvsRecord:
    address: Address
    name: str
    reward_address: str
    slash_address: str
    owners: tuple[str, ...]
    asset_ids: tuple[str, ...]
    epoch_identifier: str
    starting_epoch: int
    claim_threshold: Threshold
    reward_tokens: dict[Address, RewardTokenInfo]
    min_self_delegation_usd: int
    min_operator_stake_usd: int
    committee_size: int
    slash_threshold: Threshold
    slash_proportion: int
    registered_height: int
    slash_verifiers: dict[str, int] = field(default_factory=dict)
    payout_mode: PayoutMode = PayoutMode.PER_DISTRIBUTION
    """Per-distribution packets, or cumulative earnings only (never both: nothing is paid twice)."""
    """Slashing verifier kind (a :class:`relayer.protocol.kinds.SlashKind` value) -> the proportion
    (18 decimals) its slashes take (committee requests: at most take)."""

    @property
    def hex(self) -> str:
        return "0x" + self.address.hex()


@dataclass(frozen=True, slots=True)
class CommitteeMember:
    operator: str
    bls_pubkey: bytes
    power: int


@dataclass(frozen=True)
class Committee:
    """The ordered committee of an AVS for one epoch; member order is the signer-bitmap order."""

    avs: str
    epoch: int
    members: tuple[CommitteeMember, ...]
    claim_threshold: Threshold
    slash_threshold: Threshold
    elected_height: int

    @cached_property
    def member_list(self) -> MemberList:
        return MemberList.of((member.bls_pubkey, member.power) for member in self.members)

    @property
    def total_power(self) -> int:
        return sum(member.power for member in self.members)


@dataclass(slots=True)
class Undelegation:
    record_id: int
    staker: Address
    lz_chain_id: int
    operator: str
    asset_id: str
    amount: int
    completion_epoch: int
    submitted_height: int
    l1_request_id: int = 0
    """The L1 RestakingVault request behind it (0: devnet-only). A record with an L1 request is paid
    by a WITHDRAWAL_APPROVAL when it matures; one with an empty ``operator`` is a refund of an L1
    delegation Exocore refused (no operator's stake, so no slash reaches it)."""
    initial_amount: int = field(init=False, default=0)
    """``amount`` when the undelegation started: slashes lower ``amount``, never this (a slash takes
    its proportion of the initial amount, as upstream slashes unbonding entries)."""

    def __post_init__(self) -> None:
        self.initial_amount = self.amount


@dataclass(slots=True)
class ClaimRecord:
    claim_id: Hash32
    avs: Address
    epoch: int
    token: Address
    funding: int
    amount: int
    signer_bitmap: bytes
    aggregate_signature: bytes
    tasks_root: Hash32
    status: int
    submitted_height: int
    updated_height: int
    tx_hash: str
    reject_reason: str = ""
    distribution_nonce: int = 0


@dataclass(slots=True)
class FeeSource:
    """An (AVS, token, client chain)'s FEES source on Exocore: the transaction fees reported from
    that chain's L1 deposits and what FEES distributions paying that chain's leaves took (fees sit in
    one chain's RewardVault and pay only there). Invariant: ``0 <= distributed <= funded`` (a
    distribution that would break it is rejected)."""

    funded: int = 0
    distributed: int = 0


@dataclass(slots=True)
class DistributionRecord:
    """A computed distribution; leaves are kept as parallel lists (index = position) to stay compact."""

    nonce: int
    distribution_id: Hash32
    claim_id: Hash32
    avs: Address
    epoch: int
    token: Address
    funding: int
    total: int
    merkle_root: Hash32
    community_tax: int
    dust: int
    created_height: int
    stakers: list[Address]
    amounts: list[int]
    kinds: list[int]
    operators: list[str]

    @property
    def leaf_count(self) -> int:
        return len(self.stakers)


@dataclass(slots=True)
class WithdrawalApprovalRecord:
    """A WITHDRAWAL_APPROVAL batch: the matured L1 withdrawals of one token in one epoch, one leaf
    per staker (parallel lists, index = position, sorted by staker address)."""

    nonce: int
    approval_id: Hash32
    epoch: int
    token: Address
    total: int
    merkle_root: Hash32
    created_height: int
    stakers: list[Address]
    amounts: list[int]
    request_ids: list[tuple[int, ...]]
    """Per leaf: the L1 request ids it pays (a staker's requests of one batch merge into one leaf)."""

    @property
    def leaf_count(self) -> int:
        return len(self.stakers)


@dataclass(slots=True)
class SlashedAssetAmount:
    token: Address
    asset_id: str
    amount: int


@dataclass(slots=True)
class SlashRecord:
    slash_id: Hash32
    operator: str
    operator_address: Address
    avs: Address
    kind: int
    status: int
    proportion: int
    freeze: bool
    submitted_height: int
    tx_hash: str
    epoch: int = 0
    evidence_hash: bytes = b""
    task_id: int = 0
    reject_reason: str = ""
    assets: list[SlashedAssetAmount] = field(default_factory=list)
    executed_height: int = 0
    packet_nonce: int = 0
    evidence: bytes = b""
    """The evidence bytes the slash was judged on (committee requests and wrong results)."""
    offence_epoch: int = 0
    """Epoch whose stake snapshot the deduction used."""


@dataclass(frozen=True, slots=True)
class ValidatorEntry:
    """A relay validator: consensus key (CometBFT identity), BLS key, power, and — for validators the
    devnet simulates — the BLS secret it signs with."""

    consensus_pubkey: bytes
    bls_pubkey: bytes
    power: int
    bls_secret: bytes | None
    pop: bytes
    """IETF proof of possession of ``bls_pubkey`` (checked when the validator was admitted)."""


@dataclass(frozen=True)
class ValsetRecord:
    nonce: int
    members: tuple[ValidatorEntry, ...]
    created_height: int

    @property
    def total_power(self) -> int:
        return sum(member.power for member in self.members)


@dataclass(frozen=True, slots=True)
class SignatureSlot:
    """One validator's signature over a packet; ``signature`` is None if it never signs, and it becomes
    visible only from ``visible_height`` on (fault knob: late signatures)."""

    bls_pubkey: bytes
    signature: bytes | None
    visible_height: int


@dataclass(frozen=True)
class PacketRecord:
    packet: Packet
    created_height: int
    signatures: tuple[SignatureSlot, ...]


@dataclass(frozen=True, slots=True)
class FaultKnobs:
    silent_validators: frozenset[int] = frozenset()
    wrong_signature_validators: frozenset[int] = frozenset()
    signature_delay_blocks: int = 0
    rpc_outage: bool = False
    late_validators: frozenset[int] = frozenset()
    """Who is late by ``signature_delay_blocks``; empty: everyone."""


USD_E8_PER_USD = 10**USD_DECIMALS
