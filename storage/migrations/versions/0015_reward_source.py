"""``l1_reward_funding``: every deposit into an AVS's reward source in the L1 RewardVault, VAULT
(``Deposited``) or FEES (``FeesDeposited``, the AVS's transaction fees), so the API can say per AVS,
token and source what was funded next to what was distributed and paid. New table only: no existing
row changes (a database that ingested L1 before it has no funding rows for those blocks until it
re-ingests them; the API then reports what it saw).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.sqltypes import Uint256

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "l1_reward_funding",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("avs_address", sa.String(length=42), nullable=False),
        sa.Column("token", sa.String(length=42), nullable=False),
        sa.Column("source", sa.SmallInteger(), nullable=False),
        sa.Column("sender", sa.String(length=42), nullable=False),
        sa.Column("amount", Uint256(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_l1_reward_funding")),
        sa.UniqueConstraint("tx_hash", "log_index", name=op.f("uq_l1_reward_funding_tx_hash_log_index")),
    )
    with op.batch_alter_table("l1_reward_funding", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_l1_reward_funding_avs_address_token_source"),
            ["avs_address", "token", "source"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_l1_reward_funding_block_number"), ["block_number"], unique=False)


def downgrade() -> None:
    op.drop_table("l1_reward_funding")
