"""Cumulative earnings per client chain: each client chain has its own cumulative periods (1, 2, ...
per chain), leaves and roots, and the push stage keeps one delay clock per (chain, earner, token).

- ``cumulative_leaf`` gains ``l1_chain_id`` (the chain its root's packet is addressed to); the
  natural key becomes (l1_chain_id, period, earner, token). Existing rows take their packet's chain
  (``relay_packet.l1_chain_id``); a row whose packet's chain is unknown keeps NULL.
- ``cumulative_root`` is looked up by (l1_chain_id, period); ``cumulative_payout`` gains an
  (l1_chain_id, earner, token) index (what one chain's vault paid, in one grouped query).
- ``cumulative_push_state``'s key becomes (l1_chain_id, earner, token). Existing clocks belonged to
  the one chain roots went to before: the chain of the latest indexed root (else of the latest
  queued push); without either there is nothing to attribute them to and they are dropped (the
  balance's clock restarts when the push stage next sees it unpaid).

Downgrade: one clock per (earner, token) again (the earliest; queued pushes forgotten, a push the
vault already paid is skipped by it); leaves and indexes return to the period-only keys (refused,
IntegrityError, while two chains hold the same (period, earner, token)).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.sqltypes import Uint256

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PUSH = "cumulative_push_state"
_push = sa.table(
    _PUSH,
    sa.column("l1_chain_id"),
    sa.column("earner"),
    sa.column("token"),
    sa.column("unpaid_since_s"),
    sa.column("pushed_cumulative"),
)


def _push_table(*, per_chain: bool) -> None:
    chain = [sa.Column("l1_chain_id", sa.BigInteger(), nullable=False)] if per_chain else []
    op.create_table(
        _PUSH,
        *chain,
        sa.Column("earner", sa.String(length=42), nullable=False),
        sa.Column("token", sa.String(length=42), nullable=False),
        sa.Column("unpaid_since_s", sa.BigInteger(), nullable=False),
        sa.Column("pushed_cumulative", Uint256(), nullable=True),
        sa.PrimaryKeyConstraint(
            *(["l1_chain_id"] if per_chain else []), "earner", "token", name=op.f("pk_cumulative_push_state")
        ),
    )


def _push_chain(conn: sa.Connection) -> int | None:
    """The chain the pre-0020 push clocks belong to (see the module docstring)."""
    root = conn.execute(
        sa.text(
            "SELECT l1_chain_id FROM cumulative_root WHERE l1_chain_id IS NOT NULL"
            " ORDER BY block_number DESC, log_index DESC LIMIT 1"
        )
    ).scalar()
    if root is not None:
        return int(root)
    intent = conn.execute(
        sa.text("SELECT chain_id FROM tx_intent WHERE key LIKE 'cumulative-push:%' ORDER BY id DESC LIMIT 1")
    ).scalar()
    return None if intent is None else int(intent)


def upgrade() -> None:
    conn = op.get_bind()
    with op.batch_alter_table("cumulative_leaf", schema=None) as batch_op:
        batch_op.add_column(sa.Column("l1_chain_id", sa.BigInteger(), nullable=True))
        batch_op.drop_constraint("uq_cumulative_leaf_period_earner_token", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_cumulative_leaf_l1_chain_id_period_earner_token"),
            ["l1_chain_id", "period", "earner", "token"],
        )
    conn.execute(
        sa.text(
            "UPDATE cumulative_leaf SET l1_chain_id = (SELECT p.l1_chain_id FROM relay_packet p"
            " WHERE p.nonce = cumulative_leaf.packet_nonce)"
        )
    )
    with op.batch_alter_table("cumulative_root", schema=None) as batch_op:
        batch_op.drop_index("ix_cumulative_root_period")
        batch_op.create_index(batch_op.f("ix_cumulative_root_l1_chain_id_period"), ["l1_chain_id", "period"])
    with op.batch_alter_table("cumulative_payout", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cumulative_payout_l1_chain_id_earner_token"), ["l1_chain_id", "earner", "token"]
        )
    old = [_push.c.earner, _push.c.token, _push.c.unpaid_since_s, _push.c.pushed_cumulative]
    clocks = [dict(row._mapping) for row in conn.execute(sa.select(*old))]
    chain = _push_chain(conn) if clocks else None
    op.drop_table(_PUSH)
    _push_table(per_chain=True)
    if chain is not None:
        rows = [{**clock, "l1_chain_id": chain} for clock in clocks]
        conn.execute(sa.insert(_push), rows)


def downgrade() -> None:
    conn = op.get_bind()
    pair = (_push.c.earner, _push.c.token)
    clocks = list(conn.execute(sa.select(*pair, sa.func.min(_push.c.unpaid_since_s)).group_by(*pair)))
    op.drop_table(_PUSH)
    _push_table(per_chain=False)
    if clocks:
        old = sa.table(_PUSH, sa.column("earner"), sa.column("token"), sa.column("unpaid_since_s"))
        conn.execute(
            sa.insert(old), [{"earner": e, "token": t, "unpaid_since_s": int(s)} for e, t, s in clocks]
        )
    with op.batch_alter_table("cumulative_payout", schema=None) as batch_op:
        batch_op.drop_index("ix_cumulative_payout_l1_chain_id_earner_token")
    with op.batch_alter_table("cumulative_root", schema=None) as batch_op:
        batch_op.drop_index("ix_cumulative_root_l1_chain_id_period")
        batch_op.create_index(batch_op.f("ix_cumulative_root_period"), ["period"])
    with op.batch_alter_table("cumulative_leaf", schema=None) as batch_op:
        batch_op.drop_constraint("uq_cumulative_leaf_l1_chain_id_period_earner_token", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_cumulative_leaf_period_earner_token"), ["period", "earner", "token"]
        )
        batch_op.drop_column("l1_chain_id")
