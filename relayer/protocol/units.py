"""How amounts, voting power and shares are written for people: the one formatter the demo and the
explorer share (pure, integer-only).

Invariants:

- token amounts are ints in base units and are never turned into floats: ``10**30`` base units of an
  18-decimal token print exactly (a float would already be off in the 16th digit);
- digits beyond ``places`` are truncated, never rounded up, so a shown amount is never more than
  what exists (a staker shown "1.0000" really holds at least 1);
- voting power is Exocore's USD value of the counted stake with :data:`POWER_USD_DECIMALS` decimals
  (the election floors it once to that precision); it is written in USD, never as a raw integer;
- shares are exact rational numbers rounded half up at the last shown digit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from relayer.protocol.errors import InvalidValueError

AMOUNT_PLACES: Final = 4
"""Decimal places shown for a token amount: enough to tell payouts of a few base-unit-heavy leaves
apart at a glance, few enough that a column of 18-decimal amounts stays readable."""

POWER_USD_DECIMALS: Final = 8
"""Exocore's voting power is USD with 8 decimals (oracle prices are e8; the election floors once)."""

POWER_USD_PLACES: Final = 2
"""Voting power is shown in cents: sub-cent power never decides a quorum worth reading about."""

SHARE_PLACES: Final = 1
"""A share of power as ``75.5 %``: one decimal is enough to see how far a quorum cleared its bar."""

MAX_DECIMALS: Final = 77
"""No ERC-20 with more decimals than uint256 has digits can hold one whole unit."""


@dataclass(frozen=True, slots=True)
class TokenUnit:
    """What a token's amounts are written with: its ERC-20 ``symbol()`` and ``decimals()``."""

    symbol: str
    decimals: int

    def __post_init__(self) -> None:
        if not 0 <= self.decimals <= MAX_DECIMALS:
            raise InvalidValueError(f"decimals must be in 0..{MAX_DECIMALS}, got {self.decimals}")


def format_units(value: int, decimals: int = 18, places: int = AMOUNT_PLACES) -> str:
    """``value`` base units as a grouped decimal with ``places`` digits, truncated:
    ``format_units(1_500 * 10**18) == "1,500.0000"``; ``places=0`` drops the fraction."""
    if decimals < 0 or places < 0:
        raise InvalidValueError("decimals and places must be >= 0")
    sign = "-" if value < 0 else ""
    whole, fraction = divmod(abs(value), 10**decimals)
    if not places:
        return f"{sign}{whole:,}"
    digits = str(fraction).rjust(decimals, "0")[:places].ljust(places, "0")
    return f"{sign}{whole:,}.{digits}"


def format_amount(value: int, unit: TokenUnit | None, places: int = AMOUNT_PLACES) -> str:
    """``"1,000.0000 EXOR"``; without a known unit, the grouped base units (``"1,000 units"``)."""
    if unit is None:
        return f"{value:,} base units"
    return f"{format_units(value, unit.decimals, places)} {unit.symbol}"


def format_power(power: int) -> str:
    """Voting power in USD: ``123_456_789_000`` (e8) -> ``"1,234.56 USD"``."""
    return f"{format_units(power, POWER_USD_DECIMALS, POWER_USD_PLACES)} USD"


def format_share(part: int, whole: int, places: int = SHARE_PLACES) -> str:
    """``part`` of ``whole`` in percent, rounded half up: ``format_share(755, 1000) == "75.5 %"``;
    ``"-"`` of an empty whole."""
    if whole <= 0:
        return "-"
    scale = 100 * 10**places
    scaled = (2 * part * scale + whole) // (2 * whole)
    whole_part, fraction = divmod(scaled, 10**places)
    return f"{whole_part}.{fraction:0{places}d} %" if places else f"{whole_part} %"


def short_hex(text: str, keep: int = 10) -> str:
    """``0x1234abcd…``: an id or address cut for a table cell (the full text goes in a title/link)."""
    return text if len(text) <= keep + 1 else text[:keep] + "…"
