"""The relayer's work queue (relay_job, payout_job) and transaction manager (signer_account,
tx_intent, tx_attempt).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.sqltypes import Uint256, UtcDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payout_job",
        sa.Column("distribution_id", sa.String(length=66), nullable=False),
        sa.Column("packet_nonce", sa.BigInteger(), nullable=False),
        sa.Column("leaf_count", sa.BigInteger(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("retry_reason", sa.String(length=32), nullable=True),
        sa.Column("retry_detail", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UtcDateTime(), nullable=True),
        sa.Column("excluded_reason", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("paid_at", UtcDateTime(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "stage IN ('waiting_root', 'paying', 'paid', 'excluded')", name=op.f("ck_payout_job_stage")
        ),
        sa.PrimaryKeyConstraint("distribution_id", name=op.f("pk_payout_job")),
        sa.UniqueConstraint("packet_nonce", name=op.f("uq_payout_job_packet_nonce")),
    )
    with op.batch_alter_table("payout_job", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payout_job_stage_packet_nonce"), ["stage", "packet_nonce"], unique=False
        )

    op.create_table(
        "relay_job",
        sa.Column("packet_nonce", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.SmallInteger(), nullable=False),
        sa.Column("valset_nonce", sa.BigInteger(), nullable=False),
        sa.Column("exocore_height", sa.BigInteger(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("distribution_id", sa.String(length=66), nullable=True),
        sa.Column("signer_bitmap", sa.Text(), nullable=True),
        sa.Column("aggregate_signature", sa.Text(), nullable=True),
        sa.Column("signed_power", Uint256(), nullable=True),
        sa.Column("total_power", Uint256(), nullable=True),
        sa.Column("tx_intent_id", sa.BigInteger(), nullable=True),
        sa.Column("retry_reason", sa.String(length=32), nullable=True),
        sa.Column("retry_detail", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UtcDateTime(), nullable=True),
        sa.Column("excluded_reason", sa.Text(), nullable=True),
        sa.Column("discovered_at", UtcDateTime(), nullable=False),
        sa.Column("delivered_at", UtcDateTime(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "stage IN ('discovered', 'prepared', 'submitted', 'delivered', 'refused', 'excluded')",
            name=op.f("ck_relay_job_stage"),
        ),
        sa.CheckConstraint("kind IN (1, 2, 3)", name=op.f("ck_relay_job_kind")),
        sa.PrimaryKeyConstraint("packet_nonce", name=op.f("pk_relay_job")),
    )
    with op.batch_alter_table("relay_job", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_relay_job_next_attempt_at"), ["next_attempt_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_relay_job_stage_packet_nonce"), ["stage", "packet_nonce"], unique=False
        )

    op.create_table(
        "signer_account",
        sa.Column("sender", sa.String(length=42), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("next_nonce", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sender", "chain_id", name=op.f("pk_signer_account")),
    )
    op.create_table(
        "tx_attempt",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("intent_id", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("tx_nonce", sa.BigInteger(), nullable=False),
        sa.Column("max_fee_per_gas", Uint256(), nullable=False),
        sa.Column("max_priority_fee_per_gas", Uint256(), nullable=False),
        sa.Column("gas_limit", sa.BigInteger(), nullable=False),
        sa.Column("raw_tx", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("broadcast_at", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "state IN ('signed', 'broadcast', 'included', 'replaced', 'dropped', 'reverted')",
            name=op.f("ck_tx_attempt_state"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tx_attempt")),
        sa.UniqueConstraint("tx_hash", name=op.f("uq_tx_attempt_tx_hash")),
    )
    with op.batch_alter_table("tx_attempt", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tx_attempt_intent_id_id"), ["intent_id", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tx_attempt_state_id"), ["state", "id"], unique=False)

    op.create_table(
        "tx_intent",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(length=96), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("sender", sa.String(length=42), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("packet_nonce", sa.BigInteger(), nullable=True),
        sa.Column("distribution_id", sa.String(length=66), nullable=True),
        sa.Column("leaf_indices", sa.JSON(), nullable=False),
        sa.Column("to_address", sa.String(length=42), nullable=False),
        sa.Column("calldata", sa.Text(), nullable=False),
        sa.Column("value_wei", Uint256(), nullable=False),
        sa.Column("gas_limit", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("tx_nonce", sa.BigInteger(), nullable=True),
        sa.Column("tx_hash", sa.String(length=66), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("block_hash", sa.String(length=66), nullable=True),
        sa.Column("gas_used", sa.BigInteger(), nullable=True),
        sa.Column("reason_code", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "purpose IN ('valset_update', 'distribution', 'slash', 'payout', 'other')",
            name=op.f("ck_tx_intent_purpose"),
        ),
        sa.CheckConstraint(
            "state IN ('queued', 'pending', 'included', 'finalized', 'already_done', 'failed', 'cancelled')",
            name=op.f("ck_tx_intent_state"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tx_intent")),
        sa.UniqueConstraint("key", name=op.f("uq_tx_intent_key")),
    )
    with op.batch_alter_table("tx_intent", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_tx_intent_distribution_id_id"), ["distribution_id", "id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_tx_intent_packet_nonce"), ["packet_nonce"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_tx_intent_sender_tx_nonce"), ["sender", "tx_nonce"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_tx_intent_state_id"), ["state", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tx_intent", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tx_intent_state_id"))
        batch_op.drop_index(batch_op.f("ix_tx_intent_sender_tx_nonce"))
        batch_op.drop_index(batch_op.f("ix_tx_intent_packet_nonce"))
        batch_op.drop_index(batch_op.f("ix_tx_intent_distribution_id_id"))

    op.drop_table("tx_intent")
    with op.batch_alter_table("tx_attempt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tx_attempt_state_id"))
        batch_op.drop_index(batch_op.f("ix_tx_attempt_intent_id_id"))

    op.drop_table("tx_attempt")
    op.drop_table("signer_account")
    with op.batch_alter_table("relay_job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_relay_job_stage_packet_nonce"))
        batch_op.drop_index(batch_op.f("ix_relay_job_next_attempt_at"))

    op.drop_table("relay_job")
    with op.batch_alter_table("payout_job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payout_job_stage_packet_nonce"))

    op.drop_table("payout_job")
