"""Initial lifecycle schema: AVSs, committees, claims, distributions and leaves, payouts, packets and
attestations, valsets, L1 transactions and token transfers, slashes, the transition history,
ingestion cursors and invariant violations.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.sqltypes import Uint256, UtcDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "avs",
        sa.Column("avs_address", sa.String(length=42), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("epoch_identifier", sa.String(length=64), nullable=False),
        sa.Column("starting_epoch", sa.BigInteger(), nullable=False),
        sa.Column("threshold_numerator", sa.BigInteger(), nullable=False),
        sa.Column("threshold_denominator", sa.BigInteger(), nullable=False),
        sa.Column("asset_ids", sa.JSON(), nullable=False),
        sa.Column("reward_tokens", sa.JSON(), nullable=False),
        sa.Column("updated_height", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("avs_address", name=op.f("pk_avs")),
    )
    op.create_table(
        "chain_block",
        sa.Column("stream", sa.String(length=32), nullable=False),
        sa.Column("height", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("stream", "height", name=op.f("pk_chain_block")),
    )
    op.create_table(
        "chain_cursor",
        sa.Column("stream", sa.String(length=32), nullable=False),
        sa.Column("chain", sa.String(length=16), nullable=False),
        sa.Column("height", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("head_height", sa.BigInteger(), nullable=True),
        sa.Column("finalized_height", sa.BigInteger(), nullable=True),
        sa.Column("halted", sa.Boolean(), nullable=False),
        sa.Column("halt_reason", sa.Text(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("stream", name=op.f("pk_chain_cursor")),
    )
    op.create_table(
        "committee",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("avs_address", sa.String(length=42), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("total_power", Uint256(), nullable=False),
        sa.Column("threshold_numerator", sa.BigInteger(), nullable=False),
        sa.Column("threshold_denominator", sa.BigInteger(), nullable=False),
        sa.Column("elected_height", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=True),
        sa.Column("elected_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_committee")),
        sa.UniqueConstraint("avs_address", "epoch", name=op.f("uq_committee_avs_address_epoch")),
    )
    op.create_table(
        "distribution",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("distribution_id", sa.String(length=66), nullable=False),
        sa.Column("nonce", sa.BigInteger(), nullable=False),
        sa.Column("claim_id", sa.String(length=66), nullable=True),
        sa.Column("avs_address", sa.String(length=42), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("token", sa.String(length=42), nullable=False),
        sa.Column("funding", sa.SmallInteger(), nullable=True),
        sa.Column("total", Uint256(), nullable=False),
        sa.Column("leaf_count", sa.BigInteger(), nullable=True),
        sa.Column("merkle_root", sa.String(length=66), nullable=False),
        sa.Column("community_tax", Uint256(), nullable=True),
        sa.Column("created_height", sa.BigInteger(), nullable=True),
        sa.Column("l1_block_number", sa.BigInteger(), nullable=True),
        sa.Column("l1_block_hash", sa.String(length=66), nullable=True),
        sa.Column("l1_tx_hash", sa.String(length=66), nullable=True),
        sa.Column("l1_log_index", sa.Integer(), nullable=True),
        sa.Column("l1_finalized", sa.Boolean(), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("origin IN ('exocore', 'l1', 'relayer')", name=op.f("ck_distribution_origin")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_distribution")),
        sa.UniqueConstraint("distribution_id", name=op.f("uq_distribution_distribution_id")),
        sa.UniqueConstraint("nonce", name=op.f("uq_distribution_nonce")),
    )
    with op.batch_alter_table("distribution", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_distribution_avs_address_epoch"), ["avs_address", "epoch"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_distribution_claim_id"), ["claim_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_distribution_l1_block_number"), ["l1_block_number"], unique=False
        )

    op.create_table(
        "invariant_violation",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("stream", sa.String(length=32), nullable=False),
        sa.Column("invariant", sa.String(length=64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("detected_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invariant_violation")),
    )
    with op.batch_alter_table("invariant_violation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invariant_violation_stream_id"), ["stream", "id"], unique=False)

    op.create_table(
        "l1_token_transfer",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("token", sa.String(length=42), nullable=False),
        sa.Column("sender", sa.String(length=42), nullable=False),
        sa.Column("recipient", sa.String(length=42), nullable=False),
        sa.Column("amount", Uint256(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_l1_token_transfer")),
        sa.UniqueConstraint("tx_hash", "log_index", name=op.f("uq_l1_token_transfer_tx_hash_log_index")),
    )
    with op.batch_alter_table("l1_token_transfer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_l1_token_transfer_block_number"), ["block_number"], unique=False)

    op.create_table(
        "l1_tx",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("sender", sa.String(length=42), nullable=True),
        sa.Column("tx_nonce", sa.BigInteger(), nullable=True),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("packet_nonce", sa.BigInteger(), nullable=True),
        sa.Column("distribution_id", sa.String(length=66), nullable=True),
        sa.Column("replaces_tx_hash", sa.String(length=66), nullable=True),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("max_fee_per_gas", Uint256(), nullable=True),
        sa.Column("max_priority_fee_per_gas", Uint256(), nullable=True),
        sa.Column("gas_used", sa.BigInteger(), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("block_hash", sa.String(length=66), nullable=True),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("origin IN ('exocore', 'l1', 'relayer')", name=op.f("ck_l1_tx_origin")),
        sa.CheckConstraint(
            "purpose IN ('valset_update', 'distribution', 'slash', 'payout', 'other')",
            name=op.f("ck_l1_tx_purpose"),
        ),
        sa.CheckConstraint(
            "state IN ('signed', 'broadcast', 'included', 'finalized', 'replaced', 'dropped', 'reverted')",
            name=op.f("ck_l1_tx_state"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_l1_tx")),
        sa.UniqueConstraint("tx_hash", name=op.f("uq_l1_tx_tx_hash")),
    )
    with op.batch_alter_table("l1_tx", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_l1_tx_block_number"), ["block_number"], unique=False)
        batch_op.create_index(batch_op.f("ix_l1_tx_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_l1_tx_purpose_id"), ["purpose", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_l1_tx_distribution_id_id"), ["distribution_id", "id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_l1_tx_sender_tx_nonce"), ["sender", "tx_nonce"], unique=False)
        batch_op.create_index(batch_op.f("ix_l1_tx_state_id"), ["state", "id"], unique=False)

    op.create_table(
        "payout",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("distribution_id", sa.String(length=66), nullable=False),
        sa.Column("leaf_index", sa.BigInteger(), nullable=False),
        sa.Column("staker", sa.String(length=42), nullable=False),
        sa.Column("token", sa.String(length=42), nullable=False),
        sa.Column("amount", Uint256(), nullable=False),
        sa.Column("avs_address", sa.String(length=42), nullable=True),
        sa.Column("epoch", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("l1_tx_hash", sa.String(length=66), nullable=True),
        sa.Column("l1_block_number", sa.BigInteger(), nullable=True),
        sa.Column("l1_block_hash", sa.String(length=66), nullable=True),
        sa.Column("l1_log_index", sa.Integer(), nullable=True),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("origin IN ('exocore', 'l1', 'relayer')", name=op.f("ck_payout_origin")),
        sa.CheckConstraint(
            "state IN ('pending', 'submitted', 'included', 'finalized')", name=op.f("ck_payout_state")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payout")),
        sa.UniqueConstraint(
            "distribution_id", "leaf_index", name=op.f("uq_payout_distribution_id_leaf_index")
        ),
    )
    with op.batch_alter_table("payout", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payout_avs_address_epoch_id"), ["avs_address", "epoch", "id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_payout_l1_tx_hash"), ["l1_tx_hash"], unique=False)
        batch_op.create_index(batch_op.f("ix_payout_staker_id"), ["staker", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_payout_state_id"), ["state", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_payout_token_id"), ["token", "id"], unique=False)

    op.create_table(
        "relay_packet",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("nonce", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.SmallInteger(), nullable=False),
        sa.Column("valset_nonce", sa.BigInteger(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("payload_hash", sa.String(length=66), nullable=False),
        sa.Column("digest", sa.String(length=66), nullable=False),
        sa.Column("subject_id", sa.String(length=66), nullable=True),
        sa.Column("distribution_id", sa.String(length=66), nullable=True),
        sa.Column("avs_address", sa.String(length=42), nullable=True),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("exocore_height", sa.BigInteger(), nullable=False),
        sa.Column("signed_power", Uint256(), nullable=True),
        sa.Column("total_power", Uint256(), nullable=True),
        sa.Column("l1_tx_hash", sa.String(length=66), nullable=True),
        sa.Column("l1_block_number", sa.BigInteger(), nullable=True),
        sa.Column("l1_block_hash", sa.String(length=66), nullable=True),
        sa.Column("l1_log_index", sa.Integer(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "state IN ('created', 'attested', 'relayed', 'finalized', 'failed')",
            name=op.f("ck_relay_packet_state"),
        ),
        sa.CheckConstraint("kind IN (1, 2, 3)", name=op.f("ck_relay_packet_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_relay_packet")),
        sa.UniqueConstraint("nonce", name=op.f("uq_relay_packet_nonce")),
    )
    with op.batch_alter_table("relay_packet", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_relay_packet_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_relay_packet_kind_id"), ["kind", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_relay_packet_l1_block_number"), ["l1_block_number"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_relay_packet_state_id"), ["state", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_relay_packet_subject_id"), ["subject_id"], unique=False)

    op.create_table(
        "reward_claim",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("claim_id", sa.String(length=66), nullable=False),
        sa.Column("avs_address", sa.String(length=42), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("token", sa.String(length=42), nullable=False),
        sa.Column("funding", sa.SmallInteger(), nullable=True),
        sa.Column("total_amount", Uint256(), nullable=False),
        sa.Column("signer_bitmap", sa.Text(), nullable=False),
        sa.Column("signed_power", Uint256(), nullable=True),
        sa.Column("total_power", Uint256(), nullable=True),
        sa.Column("threshold_numerator", sa.BigInteger(), nullable=True),
        sa.Column("threshold_denominator", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("reason_code", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("distribution_id", sa.String(length=66), nullable=True),
        sa.Column("submitted_height", sa.BigInteger(), nullable=True),
        sa.Column("submit_tx_hash", sa.String(length=66), nullable=True),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("origin IN ('exocore', 'l1', 'relayer')", name=op.f("ck_reward_claim_origin")),
        sa.CheckConstraint(
            "state IN ('submitted', 'verified', 'distributed', 'packet_created', 'attested', 'relayed', "
            "'finalized', 'paying', 'paid', 'rejected', 'failed', 'excluded')",
            name=op.f("ck_reward_claim_state"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reward_claim")),
        sa.UniqueConstraint("claim_id", name=op.f("uq_reward_claim_claim_id")),
    )
    with op.batch_alter_table("reward_claim", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reward_claim_avs_address_epoch_id"), ["avs_address", "epoch", "id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_reward_claim_created_at"), ["created_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_reward_claim_distribution_id"), ["distribution_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_reward_claim_state_id"), ["state", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_reward_claim_token_id"), ["token", "id"], unique=False)

    op.create_table(
        "slash",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("slash_id", sa.String(length=66), nullable=False),
        sa.Column("operator", sa.String(length=90), nullable=True),
        sa.Column("operator_address", sa.String(length=42), nullable=True),
        sa.Column("avs_address", sa.String(length=42), nullable=False),
        sa.Column("evidence_kind", sa.String(length=24), nullable=True),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("reason_code", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("freeze", sa.Boolean(), nullable=False),
        sa.Column("slash_proportion", sa.String(length=40), nullable=True),
        sa.Column("packet_nonce", sa.BigInteger(), nullable=True),
        sa.Column("submitted_height", sa.BigInteger(), nullable=True),
        sa.Column("executed_height", sa.BigInteger(), nullable=True),
        sa.Column("l1_tx_hash", sa.String(length=66), nullable=True),
        sa.Column("l1_block_number", sa.BigInteger(), nullable=True),
        sa.Column("l1_block_hash", sa.String(length=66), nullable=True),
        sa.Column("l1_log_index", sa.Integer(), nullable=True),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "evidence_kind IS NULL OR evidence_kind IN ('equivocation', 'committee_request')",
            name=op.f("ck_slash_evidence_kind"),
        ),
        sa.CheckConstraint("origin IN ('exocore', 'l1', 'relayer')", name=op.f("ck_slash_origin")),
        sa.CheckConstraint(
            "state IN ('submitted', 'verified', 'executed_on_exocore', 'packet_created', 'attested', "
            "'relayed', 'finalized', 'rejected', 'failed', 'excluded')",
            name=op.f("ck_slash_state"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slash")),
        sa.UniqueConstraint("slash_id", name=op.f("uq_slash_slash_id")),
    )
    with op.batch_alter_table("slash", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_slash_avs_address_id"), ["avs_address", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_slash_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_slash_l1_block_number"), ["l1_block_number"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_slash_operator_address_id"), ["operator_address", "id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_slash_operator_id"), ["operator", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_slash_state_id"), ["state", "id"], unique=False)

    op.create_table(
        "transition",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("entity_kind", sa.String(length=16), nullable=False),
        sa.Column("entity_id", sa.String(length=96), nullable=False),
        sa.Column("from_state", sa.String(length=24), nullable=True),
        sa.Column("to_state", sa.String(length=24), nullable=True),
        sa.Column("edge", sa.String(length=16), nullable=False),
        sa.Column("chain", sa.String(length=16), nullable=False),
        sa.Column("height", sa.BigInteger(), nullable=True),
        sa.Column("block_hash", sa.String(length=66), nullable=True),
        sa.Column("tx_hash", sa.String(length=66), nullable=True),
        sa.Column("log_index", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("reverses_id", sa.BigInteger(), nullable=True),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "chain IN ('exocore', 'l1', 'relayer', 'operator')", name=op.f("ck_transition_chain")
        ),
        sa.CheckConstraint("edge IN ('forward', 'retry', 'reversal')", name=op.f("ck_transition_edge")),
        sa.CheckConstraint(
            "entity_kind IN ('claim', 'slash', 'packet', 'payout', 'l1_tx')",
            name=op.f("ck_transition_entity_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transition")),
    )
    with op.batch_alter_table("transition", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_transition_chain_height"), ["chain", "height"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_transition_entity_kind_entity_id_id"),
            ["entity_kind", "entity_id", "id"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_transition_reverses_id"), ["reverses_id"], unique=False)

    op.create_table(
        "valset",
        sa.Column("valset_nonce", sa.BigInteger(), nullable=False),
        sa.Column("total_power", Uint256(), nullable=False),
        sa.Column("members", sa.JSON(), nullable=False),
        sa.Column("created_height", sa.BigInteger(), nullable=True),
        sa.Column("l1_commitment", sa.String(length=66), nullable=True),
        sa.Column("l1_block_number", sa.BigInteger(), nullable=True),
        sa.Column("l1_block_hash", sa.String(length=66), nullable=True),
        sa.Column("l1_tx_hash", sa.String(length=66), nullable=True),
        sa.Column("l1_log_index", sa.Integer(), nullable=True),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("valset_nonce", name=op.f("pk_valset")),
    )
    with op.batch_alter_table("valset", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_valset_l1_block_number"), ["l1_block_number"], unique=False)

    op.create_table(
        "claim_signer",
        sa.Column("claim_id", sa.String(length=66), nullable=False),
        sa.Column("member_index", sa.Integer(), nullable=False),
        sa.Column("operator", sa.String(length=90), nullable=False),
        sa.Column("power", Uint256(), nullable=True),
        sa.ForeignKeyConstraint(
            ["claim_id"],
            ["reward_claim.claim_id"],
            name=op.f("fk_claim_signer_claim_id_reward_claim"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("claim_id", "member_index", name=op.f("pk_claim_signer")),
    )
    with op.batch_alter_table("claim_signer", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_claim_signer_operator_claim_id"), ["operator", "claim_id"], unique=False
        )

    op.create_table(
        "committee_member",
        sa.Column("committee_id", sa.BigInteger(), nullable=False),
        sa.Column("member_index", sa.Integer(), nullable=False),
        sa.Column("operator", sa.String(length=90), nullable=False),
        sa.Column("bls_pubkey", sa.String(length=98), nullable=False),
        sa.Column("power", Uint256(), nullable=False),
        sa.ForeignKeyConstraint(
            ["committee_id"],
            ["committee.id"],
            name=op.f("fk_committee_member_committee_id_committee"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("committee_id", "member_index", name=op.f("pk_committee_member")),
    )
    with op.batch_alter_table("committee_member", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_committee_member_operator_committee_id"),
            ["operator", "committee_id"],
            unique=False,
        )

    op.create_table(
        "distribution_leaf",
        sa.Column("distribution_id", sa.String(length=66), nullable=False),
        sa.Column("leaf_index", sa.BigInteger(), nullable=False),
        sa.Column("staker", sa.String(length=42), nullable=False),
        sa.Column("amount", Uint256(), nullable=False),
        sa.Column("kind", sa.SmallInteger(), nullable=True),
        sa.Column("operator", sa.String(length=90), nullable=True),
        sa.ForeignKeyConstraint(
            ["distribution_id"],
            ["distribution.distribution_id"],
            name=op.f("fk_distribution_leaf_distribution_id_distribution"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("distribution_id", "leaf_index", name=op.f("pk_distribution_leaf")),
    )
    with op.batch_alter_table("distribution_leaf", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_distribution_leaf_staker_distribution_id"),
            ["staker", "distribution_id"],
            unique=False,
        )

    op.create_table(
        "packet_attestation",
        sa.Column("packet_nonce", sa.BigInteger(), nullable=False),
        sa.Column("validator_index", sa.Integer(), nullable=False),
        sa.Column("bls_pubkey", sa.String(length=98), nullable=False),
        sa.Column("power", Uint256(), nullable=True),
        sa.Column("signed", sa.Boolean(), nullable=False),
        sa.Column("signature", sa.String(length=194), nullable=True),
        sa.ForeignKeyConstraint(
            ["packet_nonce"],
            ["relay_packet.nonce"],
            name=op.f("fk_packet_attestation_packet_nonce_relay_packet"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("packet_nonce", "validator_index", name=op.f("pk_packet_attestation")),
    )
    op.create_table(
        "slash_asset",
        sa.Column("slash_id", sa.String(length=66), nullable=False),
        sa.Column("token", sa.String(length=42), nullable=False),
        sa.Column("asset_id", sa.String(length=80), nullable=True),
        sa.Column("amount", Uint256(), nullable=False),
        sa.ForeignKeyConstraint(
            ["slash_id"], ["slash.slash_id"], name=op.f("fk_slash_asset_slash_id_slash"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("slash_id", "token", name=op.f("pk_slash_asset")),
    )
    with op.batch_alter_table("slash_asset", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_slash_asset_token_slash_id"), ["token", "slash_id"], unique=False
        )

    op.create_table(
        "slash_signer",
        sa.Column("slash_id", sa.String(length=66), nullable=False),
        sa.Column("member_index", sa.Integer(), nullable=False),
        sa.Column("operator", sa.String(length=90), nullable=False),
        sa.ForeignKeyConstraint(
            ["slash_id"], ["slash.slash_id"], name=op.f("fk_slash_signer_slash_id_slash"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("slash_id", "member_index", name=op.f("pk_slash_signer")),
    )


def downgrade() -> None:
    # Dropping a table drops its indexes and constraints; children before parents.
    op.drop_table("slash_signer")
    op.drop_table("slash_asset")
    op.drop_table("packet_attestation")
    op.drop_table("distribution_leaf")
    op.drop_table("committee_member")
    op.drop_table("claim_signer")
    op.drop_table("valset")
    op.drop_table("transition")
    op.drop_table("slash")
    op.drop_table("reward_claim")
    op.drop_table("relay_packet")
    op.drop_table("payout")
    op.drop_table("l1_tx")
    op.drop_table("l1_token_transfer")
    op.drop_table("invariant_violation")
    op.drop_table("distribution")
    op.drop_table("committee")
    op.drop_table("chain_cursor")
    op.drop_table("chain_block")
    op.drop_table("avs")
