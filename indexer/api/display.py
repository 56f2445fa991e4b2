"""The API's display fields: what a person reads next to the exact integers (which stay as they are).

Amounts are written in the token's own unit ("1,000.0000 EXOR") with the symbol and decimals the L1
ingestion stored once per token (``token_unit``; the read side never calls L1), voting power in USD
(Exocore's 8-decimal USD value of the counted stake), shares of power and thresholds in percent,
AVSs and operators by the name they registered on Exocore (the operator's ``operator_meta_info``).
The formatting is :mod:`relayer.protocol.units`, the
one the demo uses too. A token whose unit is not stored yet (ingestion has not met it) shows its
grouped base units; an AVS without a name has ``avs_name`` null, an operator without one
``operator_name`` null.

Both answer paths build these the same way: the hot path (:mod:`indexer.api.hot`) joins the unit
and the name into its statements, the other queries load them per answer with :meth:`Names.load`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from relayer.protocol.units import TokenUnit, format_amount, format_power, format_share
from storage.models import avs_table
from storage.operator_tables import operator_name_table
from storage.token_tables import token_unit_table


def unit_of(symbol: str | None, decimals: int | None) -> TokenUnit | None:
    if symbol is None or decimals is None:
        return None
    return TokenUnit(symbol=symbol, decimals=int(decimals))


def amount_text(value: int | str | None, unit: TokenUnit | None) -> str | None:
    return None if value is None else format_amount(int(value), unit)


def power_text(value: int | str | None) -> str | None:
    return None if value is None else format_power(int(value))


def share_text(part: int | str | None, whole: int | str | None) -> str | None:
    if part is None or whole is None or int(whole) <= 0:
        return None
    return format_share(int(part), int(whole))


def token_fields(unit: TokenUnit | None) -> dict[str, Any]:
    return {
        "token_symbol": None if unit is None else unit.symbol,
        "token_decimals": None if unit is None else unit.decimals,
    }


def claim_fields(
    *,
    avs_name: str | None,
    unit: TokenUnit | None,
    total_amount: int | str,
    signed_power: int | str | None,
    total_power: int | str | None,
    threshold: tuple[int, int] | None,
) -> dict[str, Any]:
    """A claim's display fields (ClaimOut, and ClaimDetail on both answer paths)."""
    return {
        "avs_name": avs_name or None,
        **token_fields(unit),
        "total_amount_display": amount_text(total_amount, unit),
        "signed_power_usd": power_text(signed_power),
        "total_power_usd": power_text(total_power),
        "signed_share": share_text(signed_power, total_power),
        "threshold_share": None if threshold is None else share_text(*threshold),
    }


def payout_fields(*, avs_name: str | None, unit: TokenUnit | None, amount: int | str) -> dict[str, Any]:
    """A payout's display fields (PayoutOut on both answer paths)."""
    return {"avs_name": avs_name or None, **token_fields(unit), "amount_display": amount_text(amount, unit)}


@dataclass(frozen=True)
class Names:
    """Units, AVS and operator names for one answer, loaded for exactly the tokens, AVSs and
    operators it shows."""

    units: Mapping[str, TokenUnit] = field(default_factory=dict)
    avs_names: Mapping[str, str] = field(default_factory=dict)
    operator_names: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def load(
        cls,
        conn: Connection,
        *,
        tokens: Iterable[str] = (),
        avss: Iterable[str] = (),
        operators: Iterable[str | None] = (),
    ) -> Names:
        wanted_tokens, wanted_avss = sorted(set(tokens)), sorted(set(avss))
        units: dict[str, TokenUnit] = {}
        names: dict[str, str] = {}
        if wanted_tokens:
            u = token_unit_table
            for row in conn.execute(select(u).where(u.c.token.in_(wanted_tokens))):
                units[row.token] = TokenUnit(symbol=row.symbol, decimals=int(row.decimals))
        if wanted_avss:
            a = avs_table
            query = select(a.c.avs_address, a.c.name).where(a.c.avs_address.in_(wanted_avss))
            names = {row.avs_address: row.name for row in conn.execute(query) if row.name}
        wanted_operators = sorted({o for o in operators if o})
        operator_names: dict[str, str] = {}
        if wanted_operators:
            o = operator_name_table
            found = select(o.c.operator, o.c.name).where(o.c.operator.in_(wanted_operators))
            operator_names = {row.operator: row.name for row in conn.execute(found) if row.name}
        return cls(units, names, operator_names)

    def unit(self, token: str | None) -> TokenUnit | None:
        return None if token is None else self.units.get(token)

    def avs(self, address: str | None) -> str | None:
        return None if address is None else self.avs_names.get(address)

    def operator(self, account: str | None) -> str | None:
        return None if account is None else self.operator_names.get(account)
