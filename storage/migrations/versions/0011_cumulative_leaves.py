"""``cumulative_leaf``: every leaf of each closed cumulative period (what each earner earned in each
token up to the period), stored when the period's CUMULATIVE_ROOT packet is created; the API derives
earned, accrued on L1 and claimable from it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.sqltypes import Uint256

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cumulative_leaf",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("period", sa.BigInteger(), nullable=False),
        sa.Column("earner", sa.String(length=42), nullable=False),
        sa.Column("token", sa.String(length=42), nullable=False),
        sa.Column("cumulative", Uint256(), nullable=False),
        sa.Column("packet_nonce", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cumulative_leaf")),
        sa.UniqueConstraint("period", "earner", "token", name=op.f("uq_cumulative_leaf_period_earner_token")),
    )
    with op.batch_alter_table("cumulative_leaf", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cumulative_leaf_earner_token"), ["earner", "token"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_cumulative_leaf_packet_nonce"), ["packet_nonce"], unique=False)


def downgrade() -> None:
    op.drop_table("cumulative_leaf")
