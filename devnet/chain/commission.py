"""An operator's commission rates, validated as Cosmos SDK x/staking validates a validator's.

Upstream ``OperatorInfo.commission`` is the SDK's ``cosmos.staking.v1beta1.Commission``; its rates are
``LegacyDec`` values, carried in their protobuf form (the value times 10^18 as a decimal integer string,
negative values with a leading ``-``). :func:`parse_commission_rates` applies the SDK's
``CommissionRates.Validate`` (SDK 0.47 ``x/staking/types/commission.go``), in the SDK's order, and
refuses with the SDK's own error: codespace ``staking``, its code and its text. The SDK runs that check
in ``MsgCreateValidator.ValidateBasic``, so the devnet runs it in the registration's stateless
validation: a transaction breaking it is refused at CheckTx and never enters a block.

The SDK's rules for *changing* a rate (``Commission.ValidateNewRate``: at most once in 24 h, at most
``max_change_rate`` up per change, never above ``max_rate``) have nothing to apply to on the devnet:
it serves no commission-change message (upstream's ``UpdateCommissionRateReq``), so ``max_change_rate``
is validated and stored but never consulted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from devnet.grpc.errors import InvalidRequestError

STAKING_CODESPACE: Final = "staking"
"""Codespace of the SDK's x/staking errors."""
LEGACY_DEC_ONE: Final = 10**18
"""1 as a ``LegacyDec`` in protobuf form."""
_SIGNED_INT: Final = re.compile(r"-?(0|[1-9][0-9]*)")


class CommissionError(InvalidRequestError):
    """A commission the SDK's ``CommissionRates.Validate`` refuses: ``code`` in codespace ``staking``,
    ``str`` the SDK's error text."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.codespace = STAKING_CODESPACE


# SDK 0.47 x/staking/types/errors.go (code, text).
ERR_COMMISSION_NEGATIVE: Final = (9, "commission must be positive")
ERR_COMMISSION_HUGE: Final = (10, "commission cannot be more than 100%")
ERR_COMMISSION_GT_MAX_RATE: Final = (11, "commission cannot be more than the max rate")
ERR_COMMISSION_CHANGE_RATE_NEGATIVE: Final = (13, "commission change rate must be positive")
ERR_COMMISSION_CHANGE_RATE_GT_MAX_RATE: Final = (
    14,
    "commission change rate cannot be more than the max rate",
)


@dataclass(frozen=True, slots=True)
class CommissionRates:
    """Validated rates, each a ``LegacyDec`` times 10^18 (an integer in [0, 10^18])."""

    rate: int
    max_rate: int
    max_change_rate: int


def _legacy_dec(text: str, what: str) -> int:
    """A ``LegacyDec`` in protobuf form; empty is zero (an unset ``LegacyDec`` field)."""
    if not text:
        return 0
    if _SIGNED_INT.fullmatch(text) is None:
        raise InvalidRequestError(
            f"invalid {what} {text!r}: expected a LegacyDec in protobuf form "
            "(value x 10^18 as a decimal integer)"
        )
    return int(text)


def _refuse(error: tuple[int, str]) -> CommissionError:
    return CommissionError(*error)


def parse_commission_rates(rate_text: str, max_rate_text: str, max_change_rate_text: str) -> CommissionRates:
    """Parse the three rates and apply ``CommissionRates.Validate`` in the SDK's order."""
    rate = _legacy_dec(rate_text, "commission rate")
    max_rate = _legacy_dec(max_rate_text, "commission max rate")
    max_change_rate = _legacy_dec(max_change_rate_text, "commission max change rate")
    if max_rate < 0:
        raise _refuse(ERR_COMMISSION_NEGATIVE)
    if max_rate > LEGACY_DEC_ONE:
        raise _refuse(ERR_COMMISSION_HUGE)
    if rate < 0:
        raise _refuse(ERR_COMMISSION_NEGATIVE)
    if rate > max_rate:
        raise _refuse(ERR_COMMISSION_GT_MAX_RATE)
    if max_change_rate < 0:
        raise _refuse(ERR_COMMISSION_CHANGE_RATE_NEGATIVE)
    if max_change_rate > max_rate:
        raise _refuse(ERR_COMMISSION_CHANGE_RATE_GT_MAX_RATE)
    return CommissionRates(rate, max_rate, max_change_rate)
