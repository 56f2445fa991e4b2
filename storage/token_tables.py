"""What people read token amounts with: each reward token's ERC-20 ``symbol()`` and ``decimals()``.

Written once per token by the write side (L1 ingestion reads them from the token contract the first
time a distribution names it); read by the API and the explorer, which never call L1. A token's
symbol and decimals are fixed in its contract, so a row is never updated.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import Column, SmallInteger, String
from sqlmodel import Field

from storage.models import ADDRESS_HEX_LEN, IndexerModel, table_of
from storage.sqltypes import UtcDateTime

TOKEN_SYMBOL_LEN: Final = 32
"""Longer symbols are cut when read (relayer.l1.tokens.MAX_SYMBOL_CHARS)."""


class TokenUnit(IndexerModel, table=True):
    """One L1 token's display unit."""

    __tablename__ = "token_unit"

    token: str = Field(sa_type=String(ADDRESS_HEX_LEN), primary_key=True)
    """Lower-case 0x address."""
    symbol: str = Field(sa_type=String(TOKEN_SYMBOL_LEN))
    decimals: int = Field(sa_type=SmallInteger)
    read_at: datetime = Field(sa_column=Column("read_at", UtcDateTime(), nullable=False))


token_unit_table: Final = table_of(TokenUnit)

__all__: Final[Any] = ["token_unit_table"]
