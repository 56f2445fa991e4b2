"""Relay jobs and indexed relay packets may be CUMULATIVE_ROOT packets (kind 5): the relayer delivers
a period's cumulative reward root through the same job table as every other packet, and the indexer
records it like every other packet; ``cumulative_payout`` holds the vault's ``CumulativePaid`` events.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import sqlalchemy as sa
from alembic import op

from storage.sqltypes import Uint256

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


TABLES: Final = ("relay_job", "relay_packet")


def _kind_check(table: str, kinds: str) -> None:
    # SQLite cannot alter a CHECK constraint in place: batch mode recreates the table.
    with op.batch_alter_table(table) as batch:
        batch.drop_constraint(op.f(f"ck_{table}_kind"), type_="check")
        batch.create_check_constraint(op.f(f"ck_{table}_kind"), f"kind IN ({kinds})")


def upgrade() -> None:
    for table in TABLES:
        _kind_check(table, "1, 2, 3, 5")
    op.create_table(
        "cumulative_payout",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("earner", sa.String(length=42), nullable=False),
        sa.Column("token", sa.String(length=42), nullable=False),
        sa.Column("recipient", sa.String(length=42), nullable=False),
        sa.Column("amount", Uint256(), nullable=False),
        sa.Column("cumulative", Uint256(), nullable=False),
        sa.Column("period", sa.BigInteger(), nullable=False),
        sa.Column("by_earner", sa.Boolean(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cumulative_payout")),
        sa.UniqueConstraint("tx_hash", "log_index", name=op.f("uq_cumulative_payout_tx_hash_log_index")),
    )
    with op.batch_alter_table("cumulative_payout", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cumulative_payout_block_number"), ["block_number"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_cumulative_payout_earner_token"), ["earner", "token"], unique=False
        )


def downgrade() -> None:
    op.drop_table("cumulative_payout")
    # Rows the old constraint refuses go first: kind-5 jobs and indexed kind-5 packets.
    for table in TABLES:
        op.execute(f"DELETE FROM {table} WHERE kind = 5")  # noqa: S608 - fixed table names
        _kind_check(table, "1, 2, 3")
