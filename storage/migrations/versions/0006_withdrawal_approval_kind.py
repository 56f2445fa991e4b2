"""Packet kind 4 (WITHDRAWAL_APPROVAL): the relay packet and relay job tables accept it, and the L1
transaction tables accept the purpose of the transaction that delivers it (``withdrawal``).

Only CHECK constraints change (``kind IN (1, 2, 3)`` → ``(1, 2, 3, 4)``; ``purpose`` gains
``'withdrawal'``); no row is touched. SQLite rebuilds each table (batch mode) to swap a constraint.

Revision ID: 0006
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0004"
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
    _set("1, 2, 3, 4", _PURPOSES.format("'withdrawal', "))


def downgrade() -> None:
    # Refused (IntegrityError) while a kind-4 or 'withdrawal' row exists: delete those first.
    _set("1, 2, 3", _PURPOSES.format(""))
