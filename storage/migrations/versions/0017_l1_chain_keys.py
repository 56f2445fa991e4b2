"""Every L1-side row names its client chain: ``l1_chain_id`` on ``relay_packet``, ``distribution``,
``payout``, ``slash``, ``l1_token_transfer``, ``l1_reward_funding``, ``cumulative_payout`` and
``cumulative_root``.

One deployment serves several client chains; the indexer writes each chain's L1 facts with that
chain's id, so the API can filter and total per chain. Rows that already landed on L1 are
backfilled from their L1 transaction's ``l1_tx.chain_id`` (the chain its ingestion recorded);
rows that have not landed stay NULL until they do.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> its column holding the L1 transaction hash (the backfill's join key)
_TABLES: dict[str, str] = {
    "relay_packet": "l1_tx_hash",
    "distribution": "l1_tx_hash",
    "payout": "l1_tx_hash",
    "slash": "l1_tx_hash",
    "l1_token_transfer": "tx_hash",
    "l1_reward_funding": "tx_hash",
    "cumulative_payout": "tx_hash",
    "cumulative_root": "tx_hash",
}


def upgrade() -> None:
    for table, tx_column in _TABLES.items():
        op.add_column(table, sa.Column("l1_chain_id", sa.BigInteger(), nullable=True))
        rows = sa.table(table, sa.column("l1_chain_id"), sa.column(tx_column))
        txs = sa.table("l1_tx", sa.column("tx_hash"), sa.column("chain_id"))
        chain = sa.select(txs.c.chain_id).where(txs.c.tx_hash == rows.c[tx_column]).scalar_subquery()
        op.execute(rows.update().where(rows.c[tx_column].is_not(None)).values(l1_chain_id=chain))


def downgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("l1_chain_id")
