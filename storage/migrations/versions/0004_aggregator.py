"""The AVS aggregator's tables: aggregation_request, aggregation_signature, aggregation_evidence,
aggregation_submission (storage/aggregation.py).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.sqltypes import Uint256, UtcDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "aggregation_evidence",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("slot", sa.String(length=66), nullable=False),
        sa.Column("avs", sa.String(length=42), nullable=False),
        sa.Column("operator", sa.String(length=90), nullable=False),
        sa.Column("first_digest", sa.String(length=66), nullable=False),
        sa.Column("first_signature", sa.Text(), nullable=False),
        sa.Column("second_request", sa.Text(), nullable=False),
        sa.Column("second_digest", sa.String(length=66), nullable=False),
        sa.Column("second_signature", sa.Text(), nullable=False),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_aggregation_evidence")),
    )
    with op.batch_alter_table("aggregation_evidence", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_aggregation_evidence_operator"), ["operator"], unique=False)

    op.create_table(
        "aggregation_request",
        sa.Column("digest", sa.String(length=66), nullable=False),
        sa.Column("slot", sa.String(length=66), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("avs", sa.String(length=42), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("opened_by", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("state_reason", sa.Text(), nullable=True),
        sa.Column("signed_power", Uint256(), nullable=False),
        sa.Column("threshold_power", Uint256(), nullable=False),
        sa.Column("total_power", Uint256(), nullable=False),
        sa.Column("committee_size", sa.Integer(), nullable=False),
        sa.Column("refusals_stored", sa.Integer(), nullable=False),
        sa.Column("opened_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("threshold_reached_at", UtcDateTime(), nullable=True),
        sa.Column("signer_bitmap", sa.Text(), nullable=True),
        sa.Column("aggregate_signature", sa.Text(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('reward_claim', 'slash_request')", name=op.f("ck_aggregation_request_kind")
        ),
        sa.CheckConstraint(
            "state IN ('collecting', 'submitted', 'verified', 'rejected', 'expired')",
            name=op.f("ck_aggregation_request_state"),
        ),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_aggregation_request")),
    )
    with op.batch_alter_table("aggregation_request", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_aggregation_request_slot"), ["slot"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_aggregation_request_state_avs_opened_at"),
            ["state", "avs", "opened_at"],
            unique=False,
        )

    op.create_table(
        "aggregation_signature",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("digest", sa.String(length=66), nullable=False),
        sa.Column("operator", sa.String(length=90), nullable=False),
        sa.Column("member_index", sa.Integer(), nullable=True),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("verdict", sa.String(length=24), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "verdict IN ('accepted', 'duplicate', 'malformed_signature', 'not_a_member', "
            "'invalid_signature', 'conflicting_signature', 'request_expired', 'request_closed')",
            name=op.f("ck_aggregation_signature_verdict"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_aggregation_signature")),
    )
    with op.batch_alter_table("aggregation_signature", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_aggregation_signature_digest_id"), ["digest", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_aggregation_signature_digest_operator"), ["digest", "operator"], unique=False
        )

    op.create_table(
        "aggregation_submission",
        sa.Column("digest", sa.String(length=66), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("signer", sa.String(length=90), nullable=False),
        sa.Column("account_number", sa.BigInteger(), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=64), nullable=False),
        sa.Column("tx_bytes", sa.Text(), nullable=False),
        sa.Column("signed_power", Uint256(), nullable=False),
        sa.Column("signers", sa.Integer(), nullable=False),
        sa.Column("height", sa.BigInteger(), nullable=True),
        sa.Column("tx_code", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("broadcast_at", UtcDateTime(), nullable=True),
        sa.Column("committed_at", UtcDateTime(), nullable=True),
        sa.CheckConstraint(
            "state IN ('signed', 'broadcast', 'committed', 'failed')",
            name=op.f("ck_aggregation_submission_state"),
        ),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_aggregation_submission")),
    )


def downgrade() -> None:
    op.drop_table("aggregation_submission")
    with op.batch_alter_table("aggregation_signature", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_aggregation_signature_digest_operator"))
        batch_op.drop_index(batch_op.f("ix_aggregation_signature_digest_id"))

    op.drop_table("aggregation_signature")
    with op.batch_alter_table("aggregation_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_aggregation_request_state_avs_opened_at"))
        batch_op.drop_index(batch_op.f("ix_aggregation_request_slot"))

    op.drop_table("aggregation_request")
    with op.batch_alter_table("aggregation_evidence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_aggregation_evidence_operator"))

    op.drop_table("aggregation_evidence")
