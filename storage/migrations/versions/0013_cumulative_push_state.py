"""``cumulative_push_state``: the push stage's delay clock and queued pushes per unpaid (earner,
token), in the database so the maximum delay holds across restarts and relayer processes;
``cumulative_root``: each CUMULATIVE_ROOT the RewardVault took, with the vault's address (where a
claim of that period is sent).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.sqltypes import Uint256

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cumulative_push_state",
        sa.Column("earner", sa.String(length=42), nullable=False),
        sa.Column("token", sa.String(length=42), nullable=False),
        sa.Column("unpaid_since_s", sa.BigInteger(), nullable=False),
        sa.Column("pushed_cumulative", Uint256(), nullable=True),
        sa.PrimaryKeyConstraint("earner", "token", name=op.f("pk_cumulative_push_state")),
    )
    op.create_table(
        "cumulative_root",
        sa.Column("packet_nonce", sa.BigInteger(), nullable=False),
        sa.Column("period", sa.BigInteger(), nullable=False),
        sa.Column("vault", sa.String(length=42), nullable=False),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.PrimaryKeyConstraint("packet_nonce", name=op.f("pk_cumulative_root")),
    )
    with op.batch_alter_table("cumulative_root", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cumulative_root_period"), ["period"], unique=False)
        batch_op.create_index(batch_op.f("ix_cumulative_root_block_number"), ["block_number"], unique=False)


def downgrade() -> None:
    op.drop_table("cumulative_root")
    op.drop_table("cumulative_push_state")
