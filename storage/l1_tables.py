"""The transaction manager's durable state: signer nonces, intents and the signed attempts.

An *intent* is one thing the relayer wants done on L1 (deliver packet N, pay these leaves). Each
intent gets one sender nonce the first time it is signed; every signed transaction for it (the
first and each fee-bumped replacement) is an *attempt* that keeps the raw signed bytes, so a
restarted process rebroadcasts exactly what it signed instead of signing something new.

The nonce is taken from ``signer_account`` and the attempt row is written in the same database
transaction, so a crash can never leave a nonce used on L1 that the database does not know about.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import JSON, BigInteger, CheckConstraint, Column, Index, Integer, String, Text
from sqlmodel import Field

from storage.models import (
    ADDRESS_HEX_LEN,
    HASH_HEX_LEN,
    BigIntPK,
    IndexerModel,
    table_of,
)
from storage.sqltypes import Uint256, UtcDateTime


class IntentState(StrEnum):
    QUEUED = "queued"
    """Accepted, not signed yet (no sender nonce)."""
    PENDING = "pending"
    """Signed with a sender nonce; waiting for inclusion (attempts may be rebroadcast or bumped)."""
    INCLUDED = "included"
    """Mined with status 1, not final yet."""
    FINALIZED = "finalized"
    """Mined with status 1 at finality: done."""
    ALREADY_DONE = "already_done"
    """L1 already has the effect (someone else delivered it): counts as success."""
    FAILED = "failed"
    """Will not succeed as built (simulation or mined revert); ``reason_code`` says why."""
    CANCELLED = "cancelled"
    """Withdrawn by its owner before it was signed."""


OPEN_INTENT_STATES: Final = frozenset({IntentState.QUEUED, IntentState.PENDING, IntentState.INCLUDED})
DONE_INTENT_STATES: Final = frozenset({IntentState.FINALIZED, IntentState.ALREADY_DONE})


class AttemptState(StrEnum):
    SIGNED = "signed"
    BROADCAST = "broadcast"
    INCLUDED = "included"
    REPLACED = "replaced"
    DROPPED = "dropped"
    REVERTED = "reverted"


def _states(enum: type[StrEnum]) -> str:
    return ", ".join(f"'{member.value}'" for member in enum)


class SignerAccount(IndexerModel, table=True):
    """The next sender nonce of one signing key on one L1 chain (one tx-manager process per key)."""

    __tablename__ = "signer_account"

    sender: str = Field(sa_type=String(ADDRESS_HEX_LEN), primary_key=True)
    chain_id: int = Field(sa_type=BigInteger, primary_key=True)
    next_nonce: int = Field(sa_type=BigInteger)
    updated_at: datetime = Field(sa_column=Column("updated_at", UtcDateTime(), nullable=False))


class TxIntent(IndexerModel, table=True):
    """One L1 effect the relayer wants; ``key`` makes enqueueing idempotent (``packet:17``)."""

    __tablename__ = "tx_intent"
    __table_args__ = (
        CheckConstraint(f"state IN ({_states(IntentState)})", name="state"),
        CheckConstraint(
            "purpose IN ('valset_update', 'distribution', 'slash', 'withdrawal', 'payout', 'other')",
            name="purpose",
        ),
        Index(None, "state", "id"),
        Index(None, "sender", "tx_nonce"),
        Index(None, "packet_nonce"),
        Index(None, "distribution_id", "id"),
    )

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    key: str = Field(sa_type=String(96), unique=True)
    chain_id: int = Field(sa_type=BigInteger)
    sender: str = Field(sa_type=String(ADDRESS_HEX_LEN))
    purpose: str = Field(sa_type=String(16))
    packet_nonce: int | None = Field(default=None, sa_type=BigInteger, nullable=True)
    distribution_id: str | None = Field(default=None, sa_type=String(HASH_HEX_LEN), nullable=True)
    leaf_indices: list[int] = Field(
        default_factory=list, sa_column=Column("leaf_indices", JSON(), nullable=False)
    )
    to_address: str = Field(sa_type=String(ADDRESS_HEX_LEN))
    calldata: str = Field(sa_type=Text)
    """0x-hex."""
    value_wei: int = Field(default=0, sa_column=Column("value_wei", Uint256(), nullable=False))
    gas_limit: int | None = Field(default=None, sa_type=BigInteger, nullable=True)
    state: str = Field(sa_type=String(16))
    tx_nonce: int | None = Field(default=None, sa_type=BigInteger, nullable=True)
    tx_hash: str | None = Field(default=None, sa_type=String(HASH_HEX_LEN), nullable=True)
    """The attempt that was mined (or the newest one while pending)."""
    block_number: int | None = Field(default=None, sa_type=BigInteger, nullable=True)
    block_hash: str | None = Field(default=None, sa_type=String(HASH_HEX_LEN), nullable=True)
    gas_used: int | None = Field(default=None, sa_type=BigInteger, nullable=True)
    reason_code: str | None = Field(default=None, sa_type=String(64), nullable=True)
    reason: str | None = Field(default=None, sa_type=Text, nullable=True)
    attempts: int = Field(default=0, sa_type=Integer)
    created_at: datetime = Field(sa_column=Column("created_at", UtcDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column("updated_at", UtcDateTime(), nullable=False))


class TxAttempt(IndexerModel, table=True):
    """One signed transaction of an intent (first send or a fee-bumped replacement)."""

    __tablename__ = "tx_attempt"
    __table_args__ = (
        CheckConstraint(f"state IN ({_states(AttemptState)})", name="state"),
        Index(None, "intent_id", "id"),
        Index(None, "state", "id"),
    )

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    intent_id: int = Field(sa_type=BigInteger)
    tx_hash: str = Field(sa_type=String(HASH_HEX_LEN), unique=True)
    tx_nonce: int = Field(sa_type=BigInteger)
    max_fee_per_gas: int = Field(sa_column=Column("max_fee_per_gas", Uint256(), nullable=False))
    max_priority_fee_per_gas: int = Field(
        sa_column=Column("max_priority_fee_per_gas", Uint256(), nullable=False)
    )
    gas_limit: int = Field(sa_type=BigInteger)
    raw_tx: str = Field(sa_type=Text)
    """0x-hex of the signed RLP: rebroadcast byte for byte after a restart."""
    state: str = Field(sa_type=String(16))
    broadcast_at: datetime | None = Field(
        default=None, sa_column=Column("broadcast_at", UtcDateTime(), nullable=True)
    )
    created_at: datetime = Field(sa_column=Column("created_at", UtcDateTime(), nullable=False))


signer_account_table: Final = table_of(SignerAccount)
tx_intent_table: Final = table_of(TxIntent)
tx_attempt_table: Final = table_of(TxAttempt)

__all__: Final[Any] = [
    "AttemptState",
    "IntentState",
    "signer_account_table",
    "tx_attempt_table",
    "tx_intent_table",
]
