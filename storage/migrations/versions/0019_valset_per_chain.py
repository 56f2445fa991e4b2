"""A validator set's L1 installation per client chain (``valset_l1``), and each distribution's own
payment progress (``distribution.payment_state``).

``valset`` kept one L1 commitment per set: with two client chains, the second chain's
``ValsetUpdated`` overwrote the first's, and a reorg on one chain cleared the other's. Each chain's
installation is now a ``valset_l1`` row keyed by (valset nonce, chain id); ``valset`` keeps the
Exocore side. Existing installations are moved there with the chain their L1 transaction was
recorded on (``l1_tx.chain_id``; else the chain of the VALSET_UPDATE packet that transaction
relayed). An installation whose chain neither names is not moved (no chain to key it by); the
chain's ingestion writes it again only if it re-reads that block.

A claim split over several client chains has one distribution per chain; ``payment_state`` holds
each one's progress (NULL, ``paying``, ``paid``), backfilled from its payouts' states.

The downgrade keeps one installation per set on ``valset`` (the latest installed).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.sqltypes import Uint256, UtcDateTime

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_VALSET_L1_COLUMNS = ("l1_commitment", "l1_block_number", "l1_block_hash", "l1_tx_hash", "l1_log_index")
_VALSET_UPDATE_KIND = 3
_REWARD_KIND = 2
_PAID = ("included", "finalized")

_valset = sa.table(
    "valset",
    sa.column("valset_nonce", sa.BigInteger()),
    sa.column("total_power", Uint256()),
    sa.column("updated_at", UtcDateTime()),
    *(sa.column(name) for name in _VALSET_L1_COLUMNS),
)
_valset_l1 = sa.table(
    "valset_l1",
    sa.column("valset_nonce", sa.BigInteger()),
    sa.column("l1_chain_id", sa.BigInteger()),
    sa.column("commitment", sa.String()),
    sa.column("total_power", Uint256()),
    sa.column("block_number", sa.BigInteger()),
    sa.column("block_hash", sa.String()),
    sa.column("tx_hash", sa.String()),
    sa.column("log_index", sa.Integer()),
    sa.column("installed_at", UtcDateTime()),
)


def upgrade() -> None:
    # Read before valset loses its columns, written after: on SQLite the batch rebuild of valset
    # (copy, drop, rename) would cascade-delete rows already referencing it.
    installations = _installations()
    with op.batch_alter_table("valset", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_valset_l1_block_number"))
        for name in _VALSET_L1_COLUMNS:
            batch_op.drop_column(name)
    op.create_table(
        "valset_l1",
        sa.Column("valset_nonce", sa.BigInteger(), nullable=False),
        sa.Column("l1_chain_id", sa.BigInteger(), nullable=False),
        sa.Column("commitment", sa.String(length=66), nullable=False),
        sa.Column("total_power", Uint256(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("installed_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["valset_nonce"],
            ["valset.valset_nonce"],
            name=op.f("fk_valset_l1_valset_nonce_valset"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("valset_nonce", "l1_chain_id", name=op.f("pk_valset_l1")),
    )
    with op.batch_alter_table("valset_l1", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_valset_l1_l1_chain_id_block_number"), ["l1_chain_id", "block_number"], unique=False
        )
    if installations:
        op.get_bind().execute(sa.insert(_valset_l1), installations)

    op.add_column("distribution", sa.Column("payment_state", sa.String(length=24), nullable=True))
    _backfill_payment_state()


def _installations() -> list[dict[str, object]]:
    """valset's L1 columns as valset_l1 rows (keyed by the chain they happened on)."""
    conn = op.get_bind()
    txs = sa.table("l1_tx", sa.column("tx_hash"), sa.column("chain_id"))
    packets = sa.table(
        "relay_packet",
        sa.column("kind"),
        sa.column("subject_id"),
        sa.column("l1_tx_hash"),
        sa.column("l1_chain_id"),
    )
    rows = conn.execute(sa.select(_valset).where(_valset.c.l1_commitment.is_not(None))).all()
    moved: list[dict[str, object]] = []
    for row in rows:
        chain = conn.execute(sa.select(txs.c.chain_id).where(txs.c.tx_hash == row.l1_tx_hash)).scalar()
        if chain is None:
            chain = conn.execute(
                sa.select(packets.c.l1_chain_id).where(
                    packets.c.kind == _VALSET_UPDATE_KIND,
                    packets.c.subject_id == str(row.valset_nonce),
                    packets.c.l1_tx_hash == row.l1_tx_hash,
                    packets.c.l1_chain_id.is_not(None),
                )
            ).scalar()
        if (
            chain is None
            or row.l1_block_number is None
            or row.l1_block_hash is None
            or row.l1_tx_hash is None
        ):
            continue
        moved.append(
            {
                "valset_nonce": row.valset_nonce,
                "l1_chain_id": chain,
                "commitment": row.l1_commitment,
                "total_power": row.total_power,
                "block_number": row.l1_block_number,
                "block_hash": row.l1_block_hash,
                "tx_hash": row.l1_tx_hash,
                "log_index": row.l1_log_index if row.l1_log_index is not None else 0,
                "installed_at": row.updated_at,
            }
        )
    return moved


def _backfill_payment_state() -> None:
    conn = op.get_bind()
    d = sa.table(
        "distribution",
        sa.column("distribution_id"),
        sa.column("packet_kind"),
        sa.column("leaf_count"),
        sa.column("l1_finalized"),
        sa.column("payment_state"),
    )
    p = sa.table("payout", sa.column("distribution_id"), sa.column("state"))
    final_roots = {
        row.distribution_id: row.leaf_count
        for row in conn.execute(
            sa.select(d.c.distribution_id, d.c.leaf_count).where(
                d.c.packet_kind == _REWARD_KIND, d.c.l1_finalized.is_(True)
            )
        )
    }
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for distribution_id, state, count in conn.execute(
        sa.select(p.c.distribution_id, p.c.state, sa.func.count())
        .where(p.c.state.in_(_PAID))
        .group_by(p.c.distribution_id, p.c.state)
    ):
        counts[distribution_id][state] = int(count)
    for distribution_id, leaf_count in final_roots.items():
        paid = counts.get(distribution_id)
        if not paid:
            continue
        state = "paid" if leaf_count and paid["finalized"] == leaf_count else "paying"
        conn.execute(sa.update(d).where(d.c.distribution_id == distribution_id).values(payment_state=state))


def downgrade() -> None:
    with op.batch_alter_table("distribution", schema=None) as batch_op:
        batch_op.drop_column("payment_state")
    conn = op.get_bind()
    latest: dict[int, dict[str, object]] = {}
    for row in conn.execute(
        sa.select(_valset_l1).order_by(_valset_l1.c.installed_at, _valset_l1.c.l1_chain_id)
    ):
        latest[int(row.valset_nonce)] = {
            "l1_commitment": row.commitment,
            "l1_block_number": row.block_number,
            "l1_block_hash": row.block_hash,
            "l1_tx_hash": row.tx_hash,
            "l1_log_index": row.log_index,
        }
    op.drop_table("valset_l1")
    with op.batch_alter_table("valset", schema=None) as batch_op:
        batch_op.add_column(sa.Column("l1_commitment", sa.String(length=66), nullable=True))
        batch_op.add_column(sa.Column("l1_block_number", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("l1_block_hash", sa.String(length=66), nullable=True))
        batch_op.add_column(sa.Column("l1_tx_hash", sa.String(length=66), nullable=True))
        batch_op.add_column(sa.Column("l1_log_index", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_valset_l1_block_number"), ["l1_block_number"], unique=False)
    for nonce, values in latest.items():
        conn.execute(sa.update(_valset).where(_valset.c.valset_nonce == nonce).values(**values))
