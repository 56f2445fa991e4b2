"""Reward tokens' display units (token_unit): ERC-20 symbol and decimals, read once from L1 by the
ingestion so the API and the explorer can write amounts in tokens without calling L1.

Revision ID: 0008
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.sqltypes import UtcDateTime

revision: str = "0008"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "token_unit",
        sa.Column("token", sa.String(length=42), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("decimals", sa.SmallInteger(), nullable=False),
        sa.Column("read_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_token_unit")),
    )


def downgrade() -> None:
    op.drop_table("token_unit")
