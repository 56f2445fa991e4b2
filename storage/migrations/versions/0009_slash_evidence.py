"""Slashing verifiers: a slash stores the evidence bytes it was judged on, and ``wrong_result`` is a
slash kind.

Adds the nullable ``slash.evidence`` (0x hex text, bounded by the protocol's ``MAX_EVIDENCE_BYTES``)
and widens the ``evidence_kind`` CHECK to ``('equivocation', 'committee_request', 'wrong_result')``.
No row is touched. SQLite rebuilds the table (batch mode) to swap the constraint.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KINDS = "'equivocation', 'committee_request'"


def _swap(kinds: str) -> None:
    with op.batch_alter_table("slash", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_slash_evidence_kind"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_slash_evidence_kind"), f"evidence_kind IS NULL OR evidence_kind IN ({kinds})"
        )


def upgrade() -> None:
    with op.batch_alter_table("slash", schema=None) as batch_op:
        batch_op.add_column(sa.Column("evidence", sa.Text(), nullable=True))
    _swap(_KINDS + ", 'wrong_result'")


def downgrade() -> None:
    # Refused (IntegrityError) while a 'wrong_result' slash exists: delete those first.
    _swap(_KINDS)
    with op.batch_alter_table("slash", schema=None) as batch_op:
        batch_op.drop_column("evidence")
