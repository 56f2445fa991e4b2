"""Leases: which process holds which exclusive role (a signer key, an ingestion stream), until when,
under which fencing token.

One row per lease name (``signer:<chain_id>:<address>``, ``stream:exocore``, ``stream:l1:<chain_id>``).
Invariants:

- ``token`` only grows: every change of holder (and every re-acquisition after an expiry) takes
  ``token + 1``; a renewal by the live holder keeps it. A write fenced with a token (the nonce
  allocation, an ingestion batch) is refused once the row carries another one.
- ``expires_at`` is written from the DATABASE's clock (``storage.leases.database_now``), never a
  host's, so hosts with skewed clocks agree on who holds what.
- A released lease keeps its row (and its token) with ``holder`` NULL, so the next holder's token is
  still higher than every token handed out before.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import BigInteger, Column, String
from sqlmodel import Field

from storage.models import IndexerModel, table_of
from storage.sqltypes import UtcDateTime

LEASE_NAME_MAX_CHARS: Final = 128
"""``signer:<chain_id>:<0x + 40 hex>`` is under 80 characters; room for a chain id of any length."""
HOLDER_MAX_CHARS: Final = 128
"""``host:pid:random``; a host name is at most 64 characters (HOST_NAME_MAX on Linux)."""


class Lease(IndexerModel, table=True):
    __tablename__ = "lease"

    name: str = Field(sa_type=String(LEASE_NAME_MAX_CHARS), primary_key=True)
    holder: str | None = Field(default=None, sa_type=String(HOLDER_MAX_CHARS), nullable=True)
    token: int = Field(sa_type=BigInteger)
    """The fencing token of the current (or last) holder."""
    acquired_at: datetime | None = Field(
        default=None, sa_column=Column("acquired_at", UtcDateTime(), nullable=True)
    )
    renewed_at: datetime | None = Field(
        default=None, sa_column=Column("renewed_at", UtcDateTime(), nullable=True)
    )
    expires_at: datetime = Field(sa_column=Column("expires_at", UtcDateTime(), nullable=False))


lease_table: Final = table_of(Lease)
