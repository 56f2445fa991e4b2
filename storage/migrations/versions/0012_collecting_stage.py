"""The ``collecting`` stage of claims and slash requests: their lifecycle starts at the AVS aggregator.

CHECK constraints change on ``reward_claim`` and ``slash``: ``state`` gains ``collecting`` and
``expired`` (a collection that ended below threshold), ``origin`` gains ``aggregator`` (first recorded
from the aggregator's request row). SQLite rebuilds each table (batch mode) to swap a constraint. No
existing row is rewritten.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CLAIM_PATH = (
    "'submitted', 'verified', 'distributed', 'packet_created', 'attested', 'relayed', 'finalized', "
    "'paying', 'paid'"
)
_SLASH_PATH = (
    "'submitted', 'verified', 'executed_on_exocore', 'packet_created', 'attested', 'relayed', 'finalized'"
)
_ORIGINS = "'exocore', 'l1', 'relayer'"


def _states(path: str, *, collecting: bool) -> str:
    """The models' order: the main path, then the branches."""
    if collecting:
        return f"'collecting', {path}, 'rejected', 'expired', 'failed', 'excluded'"
    return f"{path}, 'rejected', 'failed', 'excluded'"


def _set(*, collecting: bool) -> None:
    for table, path in (("reward_claim", _CLAIM_PATH), ("slash", _SLASH_PATH)):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, allowed in (
                ("state", _states(path, collecting=collecting)),
                ("origin", f"{_ORIGINS}, 'aggregator'" if collecting else _ORIGINS),
            ):
                batch_op.drop_constraint(op.f(f"ck_{table}_{column}"), type_="check")
                batch_op.create_check_constraint(op.f(f"ck_{table}_{column}"), f"{column} IN ({allowed})")


def upgrade() -> None:
    _set(collecting=True)


def downgrade() -> None:
    # Refused (IntegrityError) while a collecting / expired / aggregator-origin row exists.
    _set(collecting=False)
