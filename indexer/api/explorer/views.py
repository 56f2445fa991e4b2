"""What the explorer's pictures show, computed from the API's own response models (pure, no IO).

Shares of power and amounts are exact: uint256 values do not fit a float, so percentages are
rounded integer ratios (basis points) and only the drawing geometry uses floats.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final

from indexer.api import schemas
from indexer.api.display import unit_of
from relayer.protocol.units import TokenUnit
from storage.lifecycle import EntityKind, lifecycle
from storage.store import PAID_STATES

FIGURE_WIDTH: Final = 1000.0
"""SVG user units across a figure (a viewBox; it scales to any screen width)."""
MIN_STAGE_WIDTH: Final = 14.0
"""A stage that took no time still gets a sliver (1.4 % of the bar), or it could not be seen or hovered."""
BASIS_POINTS: Final = 10_000
MIN_SHOWN_GAP_S: Final = 0.005
"""Steps closer than this to the one before (the same block, mostly) say nothing about the gap: it
would read "+0.00 s" on every other line."""

_THRESHOLD = re.compile(r"^([0-9]+)/([0-9]+)$")

CHAIN_NAMES: Final = {"exocore": "Exocore", "l1": "L1", "relayer": "Relayer", "operator": "Operator"}
LANE_NAMES: Final = {
    EntityKind.CLAIM.value: "Claim",
    EntityKind.SLASH.value: "Slash",
    EntityKind.PACKET.value: "Packet",
    EntityKind.L1_TX.value: "L1 tx",
    EntityKind.PAYOUT.value: "Payout",
}
LEAF_KINDS: Final = {1: "staker", 2: "operator commission"}
FUNDING_MODES: Final = {1: "mint", 2: "vault"}


# ---------------------------------------------------------------------------------------- numbers


@dataclass(frozen=True)
class Share:
    """``part`` of ``whole`` as an exact ratio."""

    part: int
    whole: int

    @property
    def basis_points(self) -> int:
        """Rounded half up; 0 of an empty whole."""
        if self.whole <= 0:
            return 0
        return (2 * self.part * BASIS_POINTS + self.whole) // (2 * self.whole)

    @property
    def percent(self) -> str:
        """``"61.30"``: two decimals, exact rounding."""
        bp = self.basis_points
        return f"{bp // 100}.{bp % 100:02d}"

    @property
    def fraction(self) -> float:
        """For drawing only (clamped to [0, 1])."""
        if self.whole <= 0:
            return 0.0
        return min(1.0, max(0.0, self.part / self.whole))


def grouped(value: int | str) -> str:
    """``1234567`` -> ``"1,234,567"`` (any size)."""
    return f"{int(value):,}"


def parse_threshold(text: str | None) -> tuple[int, int] | None:
    """``"2/3"`` -> ``(2, 3)``; None if absent or malformed."""
    if text is None:
        return None
    match = _THRESHOLD.match(text)
    if match is None or int(match.group(2)) == 0:
        return None
    return int(match.group(1)), int(match.group(2))


def duration(seconds: float) -> str:
    """A human duration: ``0.42 s``, ``12.3 s``, ``3 min 4 s``, ``2 h 5 min``, ``3 d 4 h``."""
    s = max(0.0, seconds)
    if s < 1:
        return f"{s:.2f} s"
    if s < 60:
        return f"{s:.1f} s"
    whole = int(s)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    if whole < 86400:
        return f"{whole // 3600} h {whole % 3600 // 60} min"
    return f"{whole // 86400} d {whole % 86400 // 3600} h"


def utc_text(at: datetime) -> str:
    """``2026-01-01 12:00:00.250 UTC`` (milliseconds only when there are some)."""
    text = at.strftime("%Y-%m-%d %H:%M:%S")
    if at.microsecond:
        text += f".{at.microsecond // 1000:03d}"
    return text + " UTC"


# ---------------------------------------------------------------------------------------- quorum


@dataclass(frozen=True)
class PowerSegment:
    """One member's power, as a slice of the bar."""

    member_index: int
    operator: str
    power: int
    share: Share
    """Of the total power."""
    cumulative: Share
    """This member and every one before it, of the total power."""
    x: float
    width: float
    operator_name: str | None = None
    """The name the operator registered on Exocore (the account on hover)."""


@dataclass(frozen=True)
class Quorum:
    """Who signed with what power, against the threshold ``numerator/denominator`` of ``total``."""

    signed: int
    total: int
    numerator: int
    denominator: int
    segments: tuple[PowerSegment, ...]

    @property
    def signed_share(self) -> Share:
        return Share(self.signed, self.total)

    @property
    def threshold_share(self) -> Share:
        return Share(self.numerator, self.denominator)

    @property
    def of_threshold(self) -> Share:
        """Signed power as a share of what the threshold asks for (over 100 % clears it)."""
        return Share(self.signed * self.denominator, self.total * self.numerator)

    @property
    def reached(self) -> bool:
        """The rule of the protocol: strictly more than the threshold (``signed·den > total·num``)."""
        return self.signed * self.denominator > self.total * self.numerator

    @property
    def threshold_x(self) -> float:
        return FIGURE_WIDTH * self.threshold_share.fraction

    @property
    def signed_width(self) -> float:
        return FIGURE_WIDTH * self.signed_share.fraction


def quorum(
    members: Sequence[tuple[int, str, int | None]],
    *,
    signed: int | None,
    total: int | None,
    threshold: str | None,
) -> Quorum | None:
    """The power picture of ``members`` (index, operator, power); None without total or threshold.

    ``signed`` defaults to the members' summed power (a committee: everyone "signs").
    """
    ratio = parse_threshold(threshold)
    if total is None or ratio is None:
        return None
    segments: list[PowerSegment] = []
    running = 0
    for index, operator, power in members:
        value = power or 0
        x = FIGURE_WIDTH * Share(running, total).fraction
        running += value
        segments.append(
            PowerSegment(
                member_index=index,
                operator=operator,
                power=value,
                share=Share(value, total),
                cumulative=Share(running, total),
                x=x,
                width=FIGURE_WIDTH * Share(running, total).fraction - x,
            )
        )
    return Quorum(
        signed=running if signed is None else signed,
        total=total,
        numerator=ratio[0],
        denominator=ratio[1],
        segments=tuple(segments),
    )


def claim_quorum(claim: schemas.ClaimDetail) -> Quorum | None:
    return quorum(
        [(s.member_index, s.operator, None if s.power is None else int(s.power)) for s in claim.signers],
        signed=None if claim.signed_power is None else int(claim.signed_power),
        total=None if claim.total_power is None else int(claim.total_power),
        threshold=claim.threshold,
    )


def committee_quorum(committee: schemas.CommitteeOut) -> Quorum | None:
    found = quorum(
        [(m.member_index, m.operator, int(m.power)) for m in committee.members],
        signed=None,
        total=int(committee.total_power),
        threshold=committee.threshold,
    )
    if found is None:
        return None
    names = {m.member_index: m.operator_name for m in committee.members}
    segments = tuple(replace(s, operator_name=names.get(s.member_index)) for s in found.segments)
    return replace(found, segments=segments)


# ---------------------------------------------------------------------------------------- timeline


@dataclass(frozen=True)
class Step:
    """One transition on the timeline, with the time since the start and since the step before."""

    transition: schemas.TransitionOut
    lane: str
    subject: bool
    """A move of the page's own object (the claim or slash), not of its packet or transactions."""
    offset_s: float
    gap_s: float | None

    @property
    def gap_shown(self) -> bool:
        return self.gap_s is not None and self.gap_s >= MIN_SHOWN_GAP_S

    @property
    def lane_name(self) -> str:
        return LANE_NAMES.get(self.lane, self.lane)

    @property
    def chain_name(self) -> str:
        return CHAIN_NAMES.get(self.transition.where.chain, self.transition.where.chain)

    @property
    def move(self) -> str:
        t = self.transition
        to = t.to_state if t.to_state is not None else "removed by an L1 reorg"
        return to if t.from_state is None else f"{t.from_state} → {to}"


@dataclass(frozen=True)
class Stage:
    """A state the subject was in, for how long, and where it was entered."""

    state: str
    entered: datetime
    where: schemas.ChainLocation
    duration_s: float | None
    """Until the next stage; for the current stage of an unfinished object, until now; None at the end."""
    ongoing: bool
    x: float
    width: float

    @property
    def chain(self) -> str:
        return self.where.chain


@dataclass(frozen=True)
class Timeline:
    steps: tuple[Step, ...]
    stages: tuple[Stage, ...]
    total_s: float | None
    """First to last subject stage (to now if unfinished)."""


def timeline(
    transitions: Sequence[schemas.TransitionOut], subject: EntityKind, status: str, now: datetime
) -> Timeline:
    """The steps of a detail's ``timeline`` (in the API's order) and the subject's stages, laid out
    on a bar whose lengths are proportional to time (each at least a sliver).

    The API orders a timeline by whole second, then by the order the indexer recorded the steps in:
    two chains' clocks agree only to about a second, so a step may carry a sub-second timestamp
    earlier than the one before it. Times here never run backwards: a step happens at the latest of
    its own timestamp and its predecessor's (such a skew shows as 0 s, not as a negative duration).
    """
    steps: list[Step] = []
    effective: list[datetime] = []
    for t in transitions:
        effective.append(t.at if not effective else max(effective[-1], t.at))
    start = effective[0] if effective else None
    for i, t in enumerate(transitions):
        steps.append(
            Step(
                transition=t,
                lane=t.entity_kind,
                subject=t.entity_kind == subject.value,
                offset_s=0.0 if start is None else (effective[i] - start).total_seconds(),
                gap_s=None if i == 0 else (effective[i] - effective[i - 1]).total_seconds(),
            )
        )
    entered = [
        (t, effective[i])
        for i, t in enumerate(transitions)
        if t.entity_kind == subject.value and t.to_state is not None
    ]
    finished = status in lifecycle(subject).terminal
    durations: list[float | None] = []
    for i, (_t, when) in enumerate(entered):
        if i + 1 < len(entered):
            durations.append((entered[i + 1][1] - when).total_seconds())
        elif finished:
            durations.append(None)
        else:
            durations.append(max(0.0, (now - when).total_seconds()))
    widths = _stage_widths(durations)
    stages: list[Stage] = []
    x = 0.0
    for i, ((t, _when), d, w) in enumerate(zip(entered, durations, widths, strict=True)):
        stages.append(
            Stage(
                state=str(t.to_state),
                entered=t.at,
                where=t.where,
                duration_s=d,
                ongoing=d is not None and i == len(entered) - 1,
                x=x,
                width=w,
            )
        )
        x += w
    total = None
    if entered:
        end = entered[-1][1] if finished else max(now, entered[-1][1])
        total = (end - entered[0][1]).total_seconds()
    return Timeline(steps=tuple(steps), stages=tuple(stages), total_s=total)


def _stage_widths(durations: Sequence[float | None]) -> list[float]:
    """Every stage gets MIN_STAGE_WIDTH; the rest of the bar is shared in proportion to time."""
    if not durations:
        return []
    spare = max(0.0, FIGURE_WIDTH - MIN_STAGE_WIDTH * len(durations))
    timed = [d or 0.0 for d in durations]
    total = sum(timed)
    if total <= 0:
        return [FIGURE_WIDTH / len(durations)] * len(durations)
    return [MIN_STAGE_WIDTH + spare * d / total for d in timed]


# ---------------------------------------------------------------------------------------- payouts


@dataclass(frozen=True)
class PayoutTotals:
    """A staker's payouts of one AVS in one token."""

    avs: str | None
    token: str
    payouts: int
    amount: int
    paid: int
    """Included or finalized on L1."""
    avs_name: str | None = None
    unit: TokenUnit | None = None
    """The token's symbol and decimals, as the API's payouts carry them (None until read from L1)."""

    @property
    def unpaid(self) -> int:
        return self.amount - self.paid

    @property
    def paid_share(self) -> Share:
        return Share(self.paid, self.amount)


def payout_totals(payouts: Sequence[schemas.PayoutOut]) -> list[PayoutTotals]:
    """Per (AVS, token), sorted by AVS then token."""
    sums: dict[tuple[str | None, str], tuple[int, int, int]] = {}
    names = {p.avs: p.avs_name for p in payouts if p.avs_name}
    units = {p.token: unit_of(p.token_symbol, p.token_decimals) for p in payouts if p.token_symbol}
    for p in payouts:
        count, amount, paid = sums.get((p.avs, p.token), (0, 0, 0))
        value = int(p.amount)
        sums[(p.avs, p.token)] = (
            count + 1,
            amount + value,
            paid + (value if p.status in PAID_STATES else 0),
        )
    return [
        PayoutTotals(
            avs=avs,
            token=token,
            payouts=c,
            amount=a,
            paid=paid,
            avs_name=names.get(avs),
            unit=units.get(token),
        )
        for (avs, token), (c, a, paid) in sorted(sums.items(), key=lambda kv: (kv[0][0] or "", kv[0][1]))
    ]
