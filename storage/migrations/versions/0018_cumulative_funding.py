"""``l1_cumulative_funding`` and ``cumulative_accrual``: the two figures of a cumulative-payout
AVS's reward source that the API could not give. ``l1_cumulative_funding`` holds every
``CumulativeFunded`` of the RewardVault (what an AVS's cumulative-root debt moved into a token's
pool, keyed by client chain like every L1 row, deleted with its block on a reorg);
``cumulative_accrual`` every ``reward_distribution_accrued`` of Exocore (what a cumulative AVS's
distribution added to its earners' totals). New tables only: no existing row changes (a database
that ingested before it has no rows for those blocks until it re-ingests them).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.sqltypes import Uint256

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "l1_cumulative_funding",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("avs_address", sa.String(length=42), nullable=False),
        sa.Column("token", sa.String(length=42), nullable=False),
        sa.Column("amount", Uint256(), nullable=False),
        sa.Column("drawn", Uint256(), nullable=False),
        sa.Column("target", Uint256(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("l1_chain_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_l1_cumulative_funding")),
        sa.UniqueConstraint("tx_hash", "log_index", name=op.f("uq_l1_cumulative_funding_tx_hash_log_index")),
    )
    with op.batch_alter_table("l1_cumulative_funding", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_l1_cumulative_funding_avs_address_token"), ["avs_address", "token"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_l1_cumulative_funding_block_number"), ["block_number"], unique=False
        )
    op.create_table(
        "cumulative_accrual",
        sa.Column("claim_id", sa.String(length=66), nullable=False),
        sa.Column("avs_address", sa.String(length=42), nullable=False),
        sa.Column("token", sa.String(length=42), nullable=False),
        sa.Column("funding", sa.SmallInteger(), nullable=False),
        sa.Column("total", Uint256(), nullable=False),
        sa.Column("period", sa.BigInteger(), nullable=False),
        sa.Column("community_tax", Uint256(), nullable=True),
        sa.Column("dust", Uint256(), nullable=True),
        sa.PrimaryKeyConstraint("claim_id", name=op.f("pk_cumulative_accrual")),
    )
    with op.batch_alter_table("cumulative_accrual", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cumulative_accrual_avs_address_token"), ["avs_address", "token"], unique=False
        )


def downgrade() -> None:
    op.drop_table("cumulative_accrual")
    op.drop_table("l1_cumulative_funding")
