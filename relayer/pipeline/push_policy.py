"""Which cumulative balances the relayer pushes, and when (pure: no IO, no clock of its own).

With cumulative roots every earner can claim whenever it likes; the relayer pays gas to *push* only
where that is worth it. For each (earner, token) with ``claimable = cumulative - claimed > 0``:

- **threshold**: ``claimable`` must be worth at least ``gas_multiple`` times the gas its push costs
  (``gas_per_leaf`` at the current ``fee_per_gas``), valued at the configured token price; a token
  without a price uses its configured minimum amount instead, and a token with neither is never
  pushed (its earners claim themselves). Below the threshold a balance accrues and stays claimable.
- **maximum delay**: a balance above the threshold is pushed at the latest period that still
  respects ``max_delay_s`` measured from when it first became unpaid: it is held while another
  period can pass within the bound (so it keeps accruing and one push pays several periods), and
  pushed as soon as waiting one more period would breach it. ``max_delay_s < period_s`` therefore
  means "push at every root".

Invariants: a balance below its threshold is never selected; every selected balance is above it;
a balance above it is selected no later than the first decision at which waiting one more period
would exceed ``max_delay_s``; :func:`plan_batches` keeps each batch under the gas budget and puts
every selected balance in exactly one batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Final

from relayer.config import CumulativeConfig
from relayer.pipeline.errors import PushPolicyError
from relayer.protocol.types import Address, Amount, as_address

GAS_PER_PUSHED_LEAF: Final = 56_000
"""Gas of one (earner, token) leaf in a batched ``pushCumulative`` of 100 leaves, first payment to
a fresh earner (a new ``claimed`` slot and a new token balance: the dearest case). Measured on anvil
by ``bench/cumulative_rewards.py``, which prints the current figure; the policy's threshold only
needs the order of magnitude, so a stale constant errs by a few percent."""

GAS_PER_PUSH_BATCH: Final = 60_000
"""Fixed gas of one ``pushCumulative`` transaction (21k intrinsic, the root lookup, the pause
check, calldata of the proof): shared by the leaves of the batch (measured by the same bench)."""

WEI_PER_ETH: Final = 10**18
DEFAULT_TOKEN_DECIMALS: Final = 18

DEFAULT_BATCH_GAS: Final = 12_000_000
"""Gas budget of one push transaction: well under a 30M block so it lands next to other traffic."""


@dataclass(frozen=True, slots=True)
class PushPolicy:
    """The tunables of the push decision (config keys ``cumulative.*`` in exorelay.example.toml).

    ``token_price_wei[token]``: the value of one *base unit* of ``token`` in wei (a Fraction: an
    18-decimal token worth 0.001 ETH is ``Fraction(1, 1000)``). ``token_minimum[token]``: the
    smallest amount pushed when the token has no price.
    """

    gas_multiple: Fraction
    max_delay_s: int
    period_s: int
    token_price_wei: Mapping[Address, Fraction] = field(default_factory=dict)
    token_minimum: Mapping[Address, Amount] = field(default_factory=dict)
    gas_per_leaf: int = GAS_PER_PUSHED_LEAF
    gas_per_batch: int = GAS_PER_PUSH_BATCH
    batch_gas: int = DEFAULT_BATCH_GAS

    def __post_init__(self) -> None:
        if self.gas_multiple < 0:
            raise PushPolicyError("gas_multiple must not be negative")
        if self.period_s <= 0 or self.max_delay_s < 0:
            raise PushPolicyError("period_s must be positive and max_delay_s not negative")
        if self.gas_per_leaf <= 0 or self.batch_gas < self.gas_per_batch + self.gas_per_leaf:
            raise PushPolicyError("batch_gas must fit at least one leaf")
        if any(price <= 0 for price in self.token_price_wei.values()):
            raise PushPolicyError("token prices must be positive")


@dataclass(frozen=True, slots=True)
class Balance:
    """One (earner, token): what the latest root lets it claim and since when it has been unpaid."""

    earner: Address
    token: Address
    claimable: Amount
    unpaid_since_s: int
    """Time (seconds) of the first root that made this balance non-zero after its last payout."""


@dataclass(frozen=True, slots=True)
class PushDecision:
    push: tuple[Balance, ...]
    hold: tuple[Balance, ...]
    """Above the threshold, pushed at a later period (still within the maximum delay)."""
    below_threshold: tuple[Balance, ...]
    """Not worth a push at today's gas price: accrues, claimable by the earner at any time."""


def push_threshold(policy: PushPolicy, token: Address, fee_per_gas_wei: int) -> Amount | None:
    """Smallest claimable amount of ``token`` worth pushing at ``fee_per_gas_wei``; ``None``: never."""
    price = policy.token_price_wei.get(token)
    if price is None:
        return policy.token_minimum.get(token)
    leaf_cost_wei = Fraction(policy.gas_per_leaf * fee_per_gas_wei)
    units = policy.gas_multiple * leaf_cost_wei / price
    # Ceiling: the amount must be worth *at least* the multiple.
    return Amount(-(-units.numerator // units.denominator))


def decide(
    policy: PushPolicy, balances: Iterable[Balance], *, now_s: int, fee_per_gas_wei: int
) -> PushDecision:
    """Split ``balances`` into push now / hold / below threshold (module docstring)."""
    thresholds: dict[Address, Amount | None] = {}
    push: list[Balance] = []
    hold: list[Balance] = []
    below: list[Balance] = []
    for balance in balances:
        if balance.claimable <= 0:
            continue
        if balance.token not in thresholds:
            thresholds[balance.token] = push_threshold(policy, balance.token, fee_per_gas_wei)
        threshold = thresholds[balance.token]
        if threshold is None or balance.claimable < threshold:
            below.append(balance)
        elif now_s + policy.period_s - balance.unpaid_since_s > policy.max_delay_s:
            push.append(balance)
        else:
            hold.append(balance)
    return PushDecision(tuple(push), tuple(hold), tuple(below))


def plan_batches(policy: PushPolicy, push: Sequence[Balance]) -> list[tuple[Balance, ...]]:
    """Cut ``push`` into batches whose estimated gas stays within ``policy.batch_gas``."""
    per_batch = (policy.batch_gas - policy.gas_per_batch) // policy.gas_per_leaf
    return [tuple(push[start : start + per_batch]) for start in range(0, len(push), per_batch)]


def push_gas(policy: PushPolicy, leaves: int) -> int:
    """Estimated gas to push ``leaves`` leaves in as few batches as the budget allows."""
    if leaves == 0:
        return 0
    per_batch = (policy.batch_gas - policy.gas_per_batch) // policy.gas_per_leaf
    batches = -(-leaves // per_batch)
    return batches * policy.gas_per_batch + leaves * policy.gas_per_leaf


def policy_from_config(config: CumulativeConfig) -> PushPolicy:
    """The policy the ``[cumulative]`` config section describes (prices per whole token in ETH
    become wei per base unit)."""
    prices: dict[Address, Fraction] = {}
    for token, price in config.token_prices.items():
        decimals = config.token_decimals.get(token, DEFAULT_TOKEN_DECIMALS)
        prices[as_address(token)] = Fraction(price) * WEI_PER_ETH / 10**decimals
    return PushPolicy(
        gas_multiple=Fraction(str(config.gas_multiple)),
        max_delay_s=config.max_delay_s,
        period_s=config.period_s,
        token_price_wei=prices,
        token_minimum={as_address(t): Amount(int(Fraction(v))) for t, v in config.token_minimums.items()},
        batch_gas=config.push_batch_gas,
    )
