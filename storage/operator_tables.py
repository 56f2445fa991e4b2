"""Operators' display names: the ``operator_meta_info`` each operator registered on Exocore.

Written by the Exocore feed when an operator registers (``operator_registered``, the name read from
upstream's ``exocore.operator.v1.Query/QueryOperatorInfo`` at that block); read by the API and the
explorer, which show an operator by its name with the account on hover, as they show AVSs. A row is
replaced only by a registration at a later height, so re-feeding a block changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import BigInteger, Column, String
from sqlmodel import Field

from storage.models import AVS_NAME_LEN, OPERATOR_LEN, IndexerModel, table_of
from storage.sqltypes import UtcDateTime

OPERATOR_NAME_LEN: Final = AVS_NAME_LEN
"""Names are cut to this many characters (the devnet refuses longer ``operator_meta_info``)."""


class OperatorName(IndexerModel, table=True):
    """One operator's registered name."""

    __tablename__ = "operator_name"

    operator: str = Field(sa_type=String(OPERATOR_LEN), primary_key=True)
    """bech32 operator account (``exo1…``)."""
    name: str = Field(sa_type=String(OPERATOR_NAME_LEN), default="")
    registered_height: int = Field(sa_type=BigInteger, default=0)
    updated_at: datetime = Field(sa_column=Column("updated_at", UtcDateTime(), nullable=False))


operator_name_table: Final = table_of(OperatorName)

__all__: Final[Any] = ["operator_name_table"]
