"""The shared formatter of amounts, voting power and shares: exact on uint256, truncating, never
rounding an amount up."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relayer.protocol.errors import InvalidValueError
from relayer.protocol.units import (
    TokenUnit,
    format_amount,
    format_power,
    format_share,
    format_units,
    short_hex,
)

EXOR = TokenUnit("EXOR", 18)


def test_amounts_are_grouped_and_truncated() -> None:
    assert format_units(1_000 * 10**18) == "1,000.0000"
    assert format_units(969_999_999_999_999_999_999) == "969.9999"  # never rounded up to 970
    assert format_units(5, 18) == "0.0000"
    assert format_units(123_456, 2, 2) == "1,234.56"
    assert format_units(1_500, 0) == "1,500.0000"
    assert format_units(7 * 10**18, 18, 0) == "7"
    assert format_units(-15 * 10**17) == "-1.5000"
    assert format_amount(1_000 * 10**18, EXOR) == "1,000.0000 EXOR"
    assert format_amount(1_000, None) == "1,000 base units"


def test_uint256_amounts_print_exactly() -> None:
    top = 2**256 - 1
    whole, fraction = divmod(top, 10**18)
    assert format_units(top) == f"{whole:,}.{str(fraction).rjust(18, '0')[:4]}"


@given(st.integers(min_value=0, max_value=2**256 - 1), st.integers(min_value=0, max_value=30))
def test_a_shown_amount_never_exceeds_the_value(value: int, decimals: int) -> None:
    shown = format_units(value, decimals).replace(",", "")
    whole, fraction = shown.split(".")
    assert (int(whole) * 10**4 + int(fraction)) * 10**decimals <= value * 10**4


def test_power_is_usd_with_8_decimals_and_shares_round_half_up() -> None:
    assert format_power(5_461_234_567_890) == "54,612.34 USD"
    assert format_power(0) == "0.00 USD"
    assert format_share(755, 1000) == "75.5 %"
    assert format_share(2, 3) == "66.7 %"
    assert format_share(1, 3, 0) == "33 %"
    assert format_share(1, 0) == "-"


def test_units_refuse_impossible_decimals_and_ids_are_cut_for_cells() -> None:
    with pytest.raises(InvalidValueError):
        TokenUnit("BAD", 78)
    with pytest.raises(InvalidValueError):
        format_units(1, -1)
    assert short_hex("0x" + "ab" * 32) == "0xabababab…"
    assert short_hex("0x1234") == "0x1234"
