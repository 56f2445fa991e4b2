"""Packet kind 4 (WITHDRAWAL_APPROVAL): the relay packet and relay job tables accept it, and the L1
transaction tables accept the purpose of the transaction that delivers it (``withdrawal``).

CHECK constraints change (``kind IN (1, 2, 3, 5)`` → ``(1, 2, 3, 4, 5)``; ``purpose`` gains
``'withdrawal'``); SQLite rebuilds each table (batch mode) to swap a constraint. Approval leaves are
stored as a packet with leaves next to reward distributions: ``distribution.packet_kind`` (2 or 4;
existing rows are rewards, server default 2), ``distribution_leaf.l1_request_ids`` (the vault
requests a leaf pays) and ``payout.paid_by`` (``relayer`` / ``staker``, NULL where unknown). No
existing row is rewritten.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KIND_TABLES = ("relay_packet", "relay_job")
_PURPOSE_TABLES = ("l1_tx", "tx_intent")
_PURPOSES = "'valset_update', 'distribution', 'slash', {}'payout', 'other'"


def _swap(table: str, column: str, condition: str) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.drop_constraint(op.f(f"ck_{table}_{column}"), type_="check")
        batch_op.create_check_constraint(op.f(f"ck_{table}_{column}"), condition)


def _set(kinds: str, purposes: str) -> None:
    for table in _KIND_TABLES:
        _swap(table, "kind", f"kind IN ({kinds})")
    for table in _PURPOSE_TABLES:
        _swap(table, "purpose", f"purpose IN ({purposes})")


def upgrade() -> None:
    _set("1, 2, 3, 4, 5", _PURPOSES.format("'withdrawal', "))
    with op.batch_alter_table("distribution", schema=None) as batch_op:
        batch_op.add_column(sa.Column("packet_kind", sa.SmallInteger(), server_default="2", nullable=False))
        batch_op.create_check_constraint(op.f("ck_distribution_packet_kind"), "packet_kind IN (2, 4)")
    with op.batch_alter_table("distribution_leaf", schema=None) as batch_op:
        batch_op.add_column(sa.Column("l1_request_ids", sa.Text(), nullable=True))
    with op.batch_alter_table("payout", schema=None) as batch_op:
        batch_op.add_column(sa.Column("paid_by", sa.String(length=16), nullable=True))
        batch_op.create_check_constraint(op.f("ck_payout_paid_by"), "paid_by IN ('relayer', 'staker')")


def downgrade() -> None:
    # Refused (IntegrityError) while a kind-4 or 'withdrawal' row exists: delete those first.
    with op.batch_alter_table("payout", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_payout_paid_by"), type_="check")
        batch_op.drop_column("paid_by")
    with op.batch_alter_table("distribution_leaf", schema=None) as batch_op:
        batch_op.drop_column("l1_request_ids")
    with op.batch_alter_table("distribution", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_distribution_packet_kind"), type_="check")
        batch_op.drop_column("packet_kind")
    _set("1, 2, 3, 5", _PURPOSES.format(""))
