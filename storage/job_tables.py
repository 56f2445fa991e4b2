"""The pipeline's durable work queue: one job per relay packet, one payout job per distribution.

The indexer's tables say what *happened* on each chain; these say what the relayer still has to
*do* and why it is waiting (``retry_reason`` is a :class:`RetryReason`; how long each reason waits
is ``relayer.pipeline.retry``).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Final

from sqlalchemy import BigInteger, CheckConstraint, Column, Index, Integer, SmallInteger, String, Text
from sqlmodel import Field

from storage.models import ADDRESS_HEX_LEN, HASH_HEX_LEN, IndexerModel, table_of
from storage.sqltypes import Uint256, UtcDateTime


class RetryReason(StrEnum):
    # Transient: the world will change without anyone acting.
    EXOCORE_UNAVAILABLE = "exocore_unavailable"
    L1_UNAVAILABLE = "l1_unavailable"
    PACKET_NOT_FOUND = "packet_not_found"
    """An event named the packet but the node does not serve it (yet)."""
    QUORUM_NOT_REACHED = "quorum_not_reached"
    """Valid signatures are short of the threshold: validators offline or late."""
    VALSET_NOT_ON_L1 = "valset_not_on_l1"
    """Signed by a valset the gateway has not installed yet: its VALSET_UPDATE must land first."""
    LEAVES_NOT_INDEXED = "leaves_not_indexed"
    TX_FAILED = "tx_failed"
    """The transaction reverted or could not be sent; rebuilt and tried again."""
    # Parked: L1 refuses for a reason that will not change by itself soon; re-checked cheaply (a
    # read, never a transaction) every PARKED_RECHECK_S, resumed by itself once the cause is gone.
    INSUFFICIENT_DEPOSIT = "insufficient_deposit"
    """A VAULT-funded payout: the RewardVault holds less of the token for the AVS than the batch pays."""
    # Need a human or a fixed upstream: refused until ``exorelay retry``.
    PACKET_INVALID = "packet_invalid"
    ROOT_MISMATCH = "root_mismatch"
    """The leaves Exocore serves do not hash to the root (or total/count) the packet carries."""
    VALSET_MISMATCH = "valset_mismatch"
    """The valset Exocore serves does not match the commitment the gateway stores."""
    STALE_VALSET = "stale_valset"
    """Signed by a retired set outside the packet-nonce range it was current for (or a VALSET_UPDATE
    signed by a retired set): can never verify on L1."""
    INVALID_KEY_PROOF = "invalid_key_proof"
    """A VALSET_UPDATE whose new set has a key without a valid proof of possession (a rogue key)."""
    L1_REJECTED_ATTESTATION = "l1_rejected_attestation"
    """L1 refused an attestation we verified: our view and the gateway's disagree."""
    OTHER_CLIENT_CHAIN = "other_client_chain"
    """Exocore addressed the packet to a client chain this relayer does not serve: never submitted."""


REFUSING_REASONS: Final = frozenset(
    {
        RetryReason.PACKET_INVALID,
        RetryReason.ROOT_MISMATCH,
        RetryReason.STALE_VALSET,
        RetryReason.INVALID_KEY_PROOF,
        RetryReason.L1_REJECTED_ATTESTATION,
        RetryReason.OTHER_CLIENT_CHAIN,
    }
)
"""Reasons that park a job in ``refused`` instead of retrying it on a timer."""

PARKING_REASONS: Final = frozenset({RetryReason.INSUFFICIENT_DEPOSIT})
"""Reasons that park a payout job: no batch is built or simulated until a cheap re-check (an
``eth_call`` balance read) shows the cause is gone."""


class JobStage(StrEnum):
    """Where a packet is on its way to L1 (the packet lifecycle as the relayer drives it)."""

    DISCOVERED = "discovered"
    """Known to exist on Exocore; not yet checked."""
    PREPARED = "prepared"
    """Signatures verified, quorum met against the L1 valset, aggregate built, payload checked."""
    SUBMITTED = "submitted"
    """Handed to the transaction manager (``tx_intent_id``)."""
    DELIVERED = "delivered"
    """Final on L1 (by us or anyone: the nonce is consumed on L1)."""
    REFUSED = "refused"
    """The relayer will not deliver it as served (e.g. root mismatch); an operator may retry it."""
    EXCLUDED = "excluded"
    """An operator excluded it (poison item)."""


OPEN_JOB_STAGES: Final = (JobStage.DISCOVERED, JobStage.PREPARED, JobStage.SUBMITTED)


class PayoutStage(StrEnum):
    WAITING_ROOT = "waiting_root"
    """The distribution root is not final on L1 yet."""
    PAYING = "paying"
    PAID = "paid"
    """Every leaf is paid on L1 at finality."""
    EXCLUDED = "excluded"


OPEN_PAYOUT_STAGES: Final = (PayoutStage.WAITING_ROOT, PayoutStage.PAYING)


CLAIMANT_MAX_CHARS: Final = 128
"""A holder id (``host:pid:random``), as in ``lease.holder``."""


def _states(enum: type[StrEnum]) -> str:
    return ", ".join(f"'{member.value}'" for member in enum)


class RelayJob(IndexerModel, table=True):
    """Delivery of one relay packet (any kind) to the L1 gateway."""

    __tablename__ = "relay_job"
    __table_args__ = (
        CheckConstraint(f"stage IN ({_states(JobStage)})", name="stage"),
        CheckConstraint("kind IN (1, 2, 3, 4, 5)", name="kind"),
        Index(None, "stage", "packet_nonce"),
        Index(None, "next_attempt_at"),
        Index(None, "l1_chain_id"),
    )

    packet_nonce: int = Field(sa_type=BigInteger, primary_key=True)
    kind: int = Field(sa_type=SmallInteger)
    valset_nonce: int = Field(sa_type=BigInteger)
    exocore_height: int = Field(sa_type=BigInteger)
    stage: str = Field(sa_type=String(16))
    distribution_id: str | None = Field(default=None, sa_type=String(HASH_HEX_LEN), nullable=True)
    signer_bitmap: str | None = Field(default=None, sa_type=Text, nullable=True)
    aggregate_signature: str | None = Field(default=None, sa_type=Text, nullable=True)
    """0x-hex, EIP-2537 G2 (256 bytes) as the gateway takes it."""
    signed_power: int | None = Field(default=None, sa_column=Column("signed_power", Uint256(), nullable=True))
    total_power: int | None = Field(default=None, sa_column=Column("total_power", Uint256(), nullable=True))
    tx_intent_id: int | None = Field(default=None, sa_type=BigInteger, nullable=True)
    retry_reason: str | None = Field(default=None, sa_type=String(32), nullable=True)
    retry_detail: str | None = Field(default=None, sa_type=Text, nullable=True)
    attempts: int = Field(default=0, sa_type=Integer)
    next_attempt_at: datetime | None = Field(
        default=None, sa_column=Column("next_attempt_at", UtcDateTime(), nullable=True)
    )
    excluded_reason: str | None = Field(default=None, sa_type=Text, nullable=True)
    discovered_at: datetime = Field(sa_column=Column("discovered_at", UtcDateTime(), nullable=False))
    delivered_at: datetime | None = Field(
        default=None, sa_column=Column("delivered_at", UtcDateTime(), nullable=True)
    )
    updated_at: datetime = Field(sa_column=Column("updated_at", UtcDateTime(), nullable=False))
    claimed_by: str | None = Field(default=None, sa_type=String(CLAIMANT_MAX_CHARS), nullable=True)
    """The process working the job now (``storage.claims``); NULL: unclaimed."""
    claimed_until: datetime | None = Field(
        default=None, sa_column=Column("claimed_until", UtcDateTime(), nullable=True)
    )
    l1_chain_id: int | None = Field(default=None, sa_type=BigInteger, nullable=True)
    """The client chain Exocore addressed the packet to, once a pipeline has read it; NULL: not yet
    (any chain's pipeline may claim the job, only that chain's once it is known)."""


class PayoutJob(IndexerModel, table=True):
    """Paying every leaf of one distribution once its root is final on L1."""

    __tablename__ = "payout_job"
    __table_args__ = (
        CheckConstraint(f"stage IN ({_states(PayoutStage)})", name="stage"),
        Index(None, "stage", "packet_nonce"),
    )

    distribution_id: str = Field(sa_type=String(HASH_HEX_LEN), primary_key=True)
    packet_nonce: int = Field(sa_type=BigInteger, unique=True)
    leaf_count: int = Field(sa_type=BigInteger)
    stage: str = Field(sa_type=String(16))
    retry_reason: str | None = Field(default=None, sa_type=String(32), nullable=True)
    retry_detail: str | None = Field(default=None, sa_type=Text, nullable=True)
    attempts: int = Field(default=0, sa_type=Integer)
    next_attempt_at: datetime | None = Field(
        default=None, sa_column=Column("next_attempt_at", UtcDateTime(), nullable=True)
    )
    excluded_reason: str | None = Field(default=None, sa_type=Text, nullable=True)
    created_at: datetime = Field(sa_column=Column("created_at", UtcDateTime(), nullable=False))
    paid_at: datetime | None = Field(default=None, sa_column=Column("paid_at", UtcDateTime(), nullable=True))
    updated_at: datetime = Field(sa_column=Column("updated_at", UtcDateTime(), nullable=False))
    claimed_by: str | None = Field(default=None, sa_type=String(CLAIMANT_MAX_CHARS), nullable=True)
    """The process working the job now (``storage.claims``); NULL: unclaimed."""
    claimed_until: datetime | None = Field(
        default=None, sa_column=Column("claimed_until", UtcDateTime(), nullable=True)
    )


class CumulativePushState(IndexerModel, table=True):
    """The push stage's memory of one unpaid cumulative (earner, token) balance on client chain
    ``l1_chain_id`` (each chain's pipeline pushes its own chain's roots), shared by every
    relayer process (only the signer-lease holder pushes, but a standby that takes the lease over
    reads the same rows), so the maximum delay holds across restarts.

    ``unpaid_since_s``: when (the pushing host's clock, Unix seconds) the push stage first saw the
    balance unpaid; the delay bound counts from there. ``pushed_cumulative``: the cumulative amount a
    queued ``pushCumulative`` pays (NULL: none queued), so a queued leaf is not queued again before
    its payout is indexed. The row is deleted once the indexed payouts cover the balance."""

    __tablename__ = "cumulative_push_state"

    l1_chain_id: int = Field(sa_type=BigInteger, primary_key=True)
    earner: str = Field(sa_type=String(ADDRESS_HEX_LEN), primary_key=True)
    token: str = Field(sa_type=String(ADDRESS_HEX_LEN), primary_key=True)
    unpaid_since_s: int = Field(sa_type=BigInteger)
    pushed_cumulative: int | None = Field(
        default=None, sa_column=Column("pushed_cumulative", Uint256(), nullable=True)
    )


relay_job_table: Final = table_of(RelayJob)
payout_job_table: Final = table_of(PayoutJob)
cumulative_push_state_table: Final = table_of(CumulativePushState)
