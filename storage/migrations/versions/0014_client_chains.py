"""Relay jobs name their client chain: ``relay_job.l1_chain_id``.

Exocore addresses each packet to one client chain; one ``exorelay run`` serves several, one pipeline
per chain, over one work queue. A job's chain is learnt when a pipeline first reads its packet (the
creating event does not carry it) and is NULL until then: every pipeline may claim a job whose
chain is unknown, only its own chain's pipeline one whose chain is known. Existing rows stay NULL
and are claimed, as before, by the deployment's one pipeline.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("relay_job", sa.Column("l1_chain_id", sa.BigInteger(), nullable=True))
    op.create_index("ix_relay_job_l1_chain_id", "relay_job", ["l1_chain_id"])


def downgrade() -> None:
    op.drop_index("ix_relay_job_l1_chain_id", table_name="relay_job")
    with op.batch_alter_table("relay_job") as batch:
        batch.drop_column("l1_chain_id")
