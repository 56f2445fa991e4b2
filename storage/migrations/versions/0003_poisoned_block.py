"""Blocks an ingestion stream could not store for a data reason (poisoned_block): the stream halts
there until an operator resumes it or skips the block, recorded with who, why and when.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.sqltypes import UtcDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "poisoned_block",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("stream", sa.String(length=32), nullable=False),
        sa.Column("height", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("error_class", sa.String(length=128), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("detected_at", UtcDateTime(), nullable=False),
        sa.Column("skipped_at", UtcDateTime(), nullable=True),
        sa.Column("skipped_by", sa.String(length=128), nullable=True),
        sa.Column("skip_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_poisoned_block")),
        sa.UniqueConstraint("stream", "height", name=op.f("uq_poisoned_block_stream_height")),
    )


def downgrade() -> None:
    op.drop_table("poisoned_block")
