"""Operators' display names (operator_name): the ``operator_meta_info`` each operator registered on
Exocore, so the API and the explorer name operators as they name AVSs.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.sqltypes import UtcDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "operator_name",
        sa.Column("operator", sa.String(length=90), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("registered_height", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("operator", name=op.f("pk_operator_name")),
    )


def downgrade() -> None:
    op.drop_table("operator_name")
