"""Relay jobs and indexed relay packets may be CUMULATIVE_ROOT packets (kind 5): the relayer delivers
a period's cumulative reward root through the same job table as every other packet, and the indexer
records it like every other packet.

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from alembic import op

revision: str = "0005"
down_revision: str | None = "0003"
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


def downgrade() -> None:
    # Rows the old constraint refuses go first: kind-5 jobs and indexed kind-5 packets.
    for table in TABLES:
        op.execute(f"DELETE FROM {table} WHERE kind = 5")  # noqa: S608 - fixed table names
        _kind_check(table, "1, 2, 3")
