"""The ``accrued`` end state of a reward claim: a cumulative-payout AVS's distribution enters the
earners' cumulative earnings on Exocore and has no packet of its own.

The CHECK constraint on ``reward_claim.state`` gains ``accrued``. SQLite rebuilds the table (batch
mode) to swap a constraint. ``avs`` gains ``payout_mode`` (``per_distribution`` or ``cumulative``):
every AVS recorded before had per-distribution payouts, the server default.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CLAIM_STATES = (
    "'collecting', 'submitted', 'verified', 'distributed', 'packet_created', 'attested', 'relayed', "
    "'finalized', 'paying', 'paid', 'rejected', 'expired', 'failed', 'excluded'"
)


def _set(allowed: str) -> None:
    with op.batch_alter_table("reward_claim", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_reward_claim_state"), type_="check")
        batch_op.create_check_constraint(op.f("ck_reward_claim_state"), f"state IN ({allowed})")


def upgrade() -> None:
    _set(f"{_CLAIM_STATES}, 'accrued'")
    with op.batch_alter_table("avs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("payout_mode", sa.String(length=64), nullable=False, server_default="per_distribution")
        )


def downgrade() -> None:
    with op.batch_alter_table("avs", schema=None) as batch_op:
        batch_op.drop_column("payout_mode")
    # Refused (IntegrityError) while an accrued row exists.
    _set(_CLAIM_STATES)
