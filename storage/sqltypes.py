"""Column types shared by the indexer schema.

Amounts are uint256 token base units. PostgreSQL stores them exactly as NUMERIC(78,0) (78 decimal
digits hold 2**256 - 1). SQLite's NUMERIC affinity would silently turn anything above 2**63 into a
float, so there they are stored as 78-character zero-padded decimal text, which keeps equality and
ORDER BY exact. Python code only ever sees ``int``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Numeric, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from relayer.protocol.types import check_uint

UINT256_DECIMAL_DIGITS = 78


class Uint256(TypeDecorator[int]):
    """Exact uint256: NUMERIC(78,0) on PostgreSQL, zero-padded TEXT(78) on SQLite."""

    impl = Numeric(UINT256_DECIMAL_DIGITS, 0)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(UINT256_DECIMAL_DIGITS))
        return dialect.type_descriptor(Numeric(UINT256_DECIMAL_DIGITS, 0, asdecimal=True))

    def process_bind_param(self, value: int | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        check_uint(value, 256, "uint256 column value")
        if dialect.name == "sqlite":
            return str(value).zfill(UINT256_DECIMAL_DIGITS)
        return Decimal(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if isinstance(value, Decimal):
            if value != value.to_integral_value():
                raise ValueError(f"uint256 column holds a fraction: {value}")
            return int(value)
        return int(value)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on both databases.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones and hands back naive values, so
    values are converted to UTC before binding and re-tagged as UTC when read. A naive datetime is
    refused: it is ambiguous.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: timestamps must carry a time zone")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
