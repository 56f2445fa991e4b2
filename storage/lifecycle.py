"""Lifecycle state machines (the claim lifecycle of the README and its kin): which moves each
tracked object may make.

Pure (no IO): the indexer's store and the relayer pipeline both ask this module before they move an
object, so the two can never disagree about the graph.

Every graph has a *main path* (an object only ever moves forward along it), terminal *branches*
(rejection, failure, operator exclusion) and two explicit kinds of backward move:

- ``RETRY``: a listed edge that re-opens work (a payout whose transaction was dropped or reverted
  goes back to ``pending``);
- ``REVERSAL``: an L1 reorg undoes a state that was observed in an unfinalised L1 block. Only states
  that come from L1 inclusion can be reversed, and only back to an earlier state of the main path
  (or to nothing: an object first seen in the orphaned block disappears).

Forward moves may skip states of the main path: an observer that starts late or only watches L1
sees ``distributed`` then ``relayed`` and must not invent the states between them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from storage.errors import IllegalTransitionError


class EntityKind(StrEnum):
    CLAIM = "claim"
    SLASH = "slash"
    PACKET = "packet"
    PAYOUT = "payout"
    L1_TX = "l1_tx"


class ClaimState(StrEnum):
    COLLECTING = "collecting"
    """The AVS aggregator collects the committee's signatures (``aggregation_request``)."""
    SUBMITTED = "submitted"
    VERIFIED = "verified"
    REJECTED = "rejected"
    DISTRIBUTED = "distributed"
    PACKET_CREATED = "packet_created"
    ATTESTED = "attested"
    RELAYED = "relayed"
    """The distribution root is included on L1."""
    FINALIZED = "finalized"
    """The root's L1 block is final."""
    PAYING = "paying"
    PAID = "paid"
    FAILED = "failed"
    EXCLUDED = "excluded"
    """An operator excluded the claim (``exorelay exclude``)."""
    EXPIRED = "expired"
    """The aggregator's collection ended below threshold: the claim never reached Exocore."""
    ACCRUED = "accrued"
    """The AVS pays by cumulative roots: Exocore added the distribution to its earners' cumulative
    earnings (no packet of its own); the stakers' payouts are in the cumulative views."""


class SlashState(StrEnum):
    COLLECTING = "collecting"
    SUBMITTED = "submitted"
    VERIFIED = "verified"
    REJECTED = "rejected"
    EXECUTED_ON_EXOCORE = "executed_on_exocore"
    PACKET_CREATED = "packet_created"
    ATTESTED = "attested"
    RELAYED = "relayed"
    FINALIZED = "finalized"
    FAILED = "failed"
    EXCLUDED = "excluded"
    EXPIRED = "expired"


class PacketState(StrEnum):
    CREATED = "created"
    ATTESTED = "attested"
    """Validator signatures above the valset threshold are known."""
    RELAYED = "relayed"
    FINALIZED = "finalized"
    FAILED = "failed"


class PayoutState(StrEnum):
    PENDING = "pending"
    SUBMITTED = "submitted"
    INCLUDED = "included"
    FINALIZED = "finalized"


class L1TxState(StrEnum):
    SIGNED = "signed"
    BROADCAST = "broadcast"
    INCLUDED = "included"
    """Mined with status 1."""
    FINALIZED = "finalized"
    REPLACED = "replaced"
    """Superseded by a fee-bumped transaction with the same sender nonce."""
    DROPPED = "dropped"
    REVERTED = "reverted"
    """Mined with status 0."""


class EdgeKind(StrEnum):
    FORWARD = "forward"
    RETRY = "retry"
    REVERSAL = "reversal"


class Chain(StrEnum):
    """Where a transition was observed or decided."""

    EXOCORE = "exocore"
    L1 = "l1"
    RELAYER = "relayer"
    """A decision of the relayer (signed, broadcast, submitted a payout batch, gave up)."""
    OPERATOR = "operator"
    """A human decision (exclude, retry)."""


@dataclass(frozen=True)
class Lifecycle:
    """The state graph of one kind of object."""

    kind: EntityKind
    path: tuple[str, ...]
    """The main path, in order."""
    branches: Mapping[str, frozenset[str]]
    """Off-path state -> the states it may be entered from."""
    side_exits: Mapping[str, frozenset[str]]
    """Off-path state -> on-path states it may move on to (a 'dropped' tx mined after all)."""
    retries: frozenset[tuple[str, str]]
    reversible: frozenset[str]
    """States entered on L1 inclusion: an L1 reorg may undo them."""
    terminal: frozenset[str]

    @property
    def states(self) -> tuple[str, ...]:
        return self.path + tuple(s for s in self.branches if s not in self.path)

    def rank(self, state: str) -> int | None:
        """Position on the main path (None for a branch state)."""
        try:
            return self.path.index(state)
        except ValueError:
            return None

    def is_state(self, state: str) -> bool:
        return state in self.path or state in self.branches

    def edge(self, from_state: str | None, to_state: str) -> EdgeKind | None:
        """The kind of the move ``from_state -> to_state`` (never a reversal), or None if forbidden.

        ``from_state`` None is the first sighting of an object: it may be first seen in any state.
        """
        if not self.is_state(to_state):
            return None
        if from_state is None:
            return EdgeKind.FORWARD
        if not self.is_state(from_state) or from_state == to_state:
            return None
        if (from_state, to_state) in self.retries:
            return EdgeKind.RETRY
        if to_state in self.side_exits.get(from_state, frozenset()):
            return EdgeKind.FORWARD
        if from_state in self.terminal:
            return None
        to_rank, from_rank = self.rank(to_state), self.rank(from_state)
        if to_rank is None:
            return EdgeKind.FORWARD if from_state in self.branches[to_state] else None
        if from_rank is not None and to_rank > from_rank:
            return EdgeKind.FORWARD
        return None

    def can_reverse(self, from_state: str, to_state: str | None) -> bool:
        """An L1 reorg may undo ``to_state -> from_state`` iff ``from_state`` comes from L1 inclusion and
        the undone move was a legal forward move (``to_state`` None: the object was first seen there)."""
        if from_state not in self.reversible:
            return False
        return to_state is None or self.edge(to_state, from_state) is EdgeKind.FORWARD

    def allows(self, from_state: str | None, to_state: str | None, edge: EdgeKind) -> bool:
        """True iff the graph has the move ``from_state -> to_state`` as an edge of kind ``edge``."""
        if edge is EdgeKind.REVERSAL:
            return from_state is not None and self.can_reverse(from_state, to_state)
        return to_state is not None and self.edge(from_state, to_state) is edge

    def check(self, entity_id: str, from_state: str | None, to_state: str | None, edge: EdgeKind) -> None:
        """Raise :class:`IllegalTransitionError` unless :meth:`allows`."""
        if not self.allows(from_state, to_state, edge):
            raise IllegalTransitionError(str(self.kind), entity_id, from_state, to_state)

    def is_at_or_past(self, current: str, target: str) -> bool:
        """True if an object in ``current`` has already reached (or passed) ``target`` on the main path."""
        current_rank, target_rank = self.rank(current), self.rank(target)
        if current == target:
            return True
        return current_rank is not None and target_rank is not None and current_rank >= target_rank


def _branches(entries: Mapping[str, Iterable[str]]) -> Mapping[str, frozenset[str]]:
    return MappingProxyType({state: frozenset(sources) for state, sources in entries.items()})


def _non_terminal(path: tuple[str, ...], terminal_on_path: Iterable[str]) -> frozenset[str]:
    done = frozenset(terminal_on_path)
    return frozenset(s for s in path if s not in done)


_CLAIM_PATH: Final = tuple(
    s.value
    for s in (
        ClaimState.COLLECTING,
        ClaimState.SUBMITTED,
        ClaimState.VERIFIED,
        ClaimState.DISTRIBUTED,
        ClaimState.PACKET_CREATED,
        ClaimState.ATTESTED,
        ClaimState.RELAYED,
        ClaimState.FINALIZED,
        ClaimState.PAYING,
        ClaimState.PAID,
    )
)
_CLAIM_OPEN: Final = _non_terminal(_CLAIM_PATH, [ClaimState.PAID])

CLAIM: Final = Lifecycle(
    kind=EntityKind.CLAIM,
    path=_CLAIM_PATH,
    branches=_branches(
        {
            # Refused at the aggregator's broadcast (CheckTx) or by Exocore.
            ClaimState.REJECTED: [ClaimState.COLLECTING, ClaimState.SUBMITTED, ClaimState.VERIFIED],
            ClaimState.EXPIRED: [ClaimState.COLLECTING],
            ClaimState.FAILED: _CLAIM_OPEN,
            ClaimState.EXCLUDED: _CLAIM_OPEN,
            # A cumulative-payout AVS's claim: verified, then its amounts accrue (an observer that
            # starts late may see it collected or submitted, then accrued).
            ClaimState.ACCRUED: [ClaimState.COLLECTING, ClaimState.SUBMITTED, ClaimState.VERIFIED],
        }
    ),
    # Exocore is the authority: a request the aggregator let expire can still be submitted there (by
    # another aggregator, or by hand with the same signatures), and the record follows the chain.
    side_exits=MappingProxyType({ClaimState.EXPIRED.value: frozenset({ClaimState.SUBMITTED.value})}),
    retries=frozenset(),
    reversible=frozenset({ClaimState.RELAYED, ClaimState.PAYING}),
    terminal=frozenset(
        {
            ClaimState.PAID,
            ClaimState.REJECTED,
            ClaimState.FAILED,
            ClaimState.EXCLUDED,
            ClaimState.EXPIRED,
            ClaimState.ACCRUED,
        }
    ),
)

_SLASH_PATH: Final = tuple(
    s.value
    for s in (
        SlashState.COLLECTING,
        SlashState.SUBMITTED,
        SlashState.VERIFIED,
        SlashState.EXECUTED_ON_EXOCORE,
        SlashState.PACKET_CREATED,
        SlashState.ATTESTED,
        SlashState.RELAYED,
        SlashState.FINALIZED,
    )
)
_SLASH_OPEN: Final = _non_terminal(_SLASH_PATH, [SlashState.FINALIZED])

SLASH: Final = Lifecycle(
    kind=EntityKind.SLASH,
    path=_SLASH_PATH,
    branches=_branches(
        {
            # Refused at the aggregator's broadcast (CheckTx) or by Exocore.
            SlashState.REJECTED: [SlashState.COLLECTING, SlashState.SUBMITTED, SlashState.VERIFIED],
            SlashState.EXPIRED: [SlashState.COLLECTING],
            SlashState.FAILED: _SLASH_OPEN,
            SlashState.EXCLUDED: _SLASH_OPEN,
        }
    ),
    # Exocore is the authority: a request the aggregator let expire can still be submitted there (by
    # another aggregator, or by hand with the same signatures), and the record follows the chain.
    side_exits=MappingProxyType({SlashState.EXPIRED.value: frozenset({SlashState.SUBMITTED.value})}),
    retries=frozenset(),
    reversible=frozenset({SlashState.RELAYED}),
    terminal=frozenset(
        {
            SlashState.FINALIZED,
            SlashState.REJECTED,
            SlashState.FAILED,
            SlashState.EXCLUDED,
            SlashState.EXPIRED,
        }
    ),
)

_PACKET_PATH: Final = (
    PacketState.CREATED.value,
    PacketState.ATTESTED.value,
    PacketState.RELAYED.value,
    PacketState.FINALIZED.value,
)

PACKET: Final = Lifecycle(
    kind=EntityKind.PACKET,
    path=_PACKET_PATH,
    branches=_branches({PacketState.FAILED: _non_terminal(_PACKET_PATH, [PacketState.FINALIZED])}),
    side_exits=MappingProxyType({}),
    retries=frozenset(),
    reversible=frozenset({PacketState.RELAYED}),
    terminal=frozenset({PacketState.FINALIZED, PacketState.FAILED}),
)

PAYOUT: Final = Lifecycle(
    kind=EntityKind.PAYOUT,
    path=(
        PayoutState.PENDING.value,
        PayoutState.SUBMITTED.value,
        PayoutState.INCLUDED.value,
        PayoutState.FINALIZED.value,
    ),
    branches=_branches({}),
    side_exits=MappingProxyType({}),
    # The batch transaction was dropped or reverted (e.g. the AVS had not deposited enough yet):
    # the leaf is owed again and goes back to the queue.
    retries=frozenset({(PayoutState.SUBMITTED.value, PayoutState.PENDING.value)}),
    reversible=frozenset({PayoutState.INCLUDED}),
    terminal=frozenset({PayoutState.FINALIZED}),
)

_TX_UNMINED: Final = (L1TxState.SIGNED.value, L1TxState.BROADCAST.value)

L1_TX: Final = Lifecycle(
    kind=EntityKind.L1_TX,
    path=(
        L1TxState.SIGNED.value,
        L1TxState.BROADCAST.value,
        L1TxState.INCLUDED.value,
        L1TxState.FINALIZED.value,
    ),
    branches=_branches(
        {
            L1TxState.REPLACED: _TX_UNMINED,
            L1TxState.DROPPED: _TX_UNMINED,
            L1TxState.REVERTED: _TX_UNMINED,
        }
    ),
    # A transaction the tx manager gave up on (replaced by a fee bump, presumed dropped) can still
    # be mined: the chain is the authority, so the record follows it.
    side_exits=MappingProxyType(
        {
            L1TxState.REPLACED.value: frozenset({L1TxState.INCLUDED.value}),
            L1TxState.DROPPED.value: frozenset({L1TxState.INCLUDED.value}),
        }
    ),
    retries=frozenset(),
    reversible=frozenset({L1TxState.INCLUDED, L1TxState.REVERTED}),
    terminal=frozenset({L1TxState.FINALIZED, L1TxState.REPLACED, L1TxState.DROPPED, L1TxState.REVERTED}),
)

LIFECYCLES: Final[Mapping[EntityKind, Lifecycle]] = MappingProxyType(
    {lc.kind: lc for lc in (CLAIM, SLASH, PACKET, PAYOUT, L1_TX)}
)


def lifecycle(kind: EntityKind | str) -> Lifecycle:
    return LIFECYCLES[EntityKind(kind)]


def claim_l1_state(distributions: Sequence[tuple[bool, bool, str | None]]) -> ClaimState | None:
    """The L1 stage of a claim from its distributions (one per client chain it pays on), each given
    as (root included on L1, root final, its ``payment_state``: None, ``paying`` or ``paid``).

    A claim is as far as the least advanced of its distributions: ``relayed`` once every root is on
    L1, ``finalized`` once every root is final, ``paid`` once every distribution is paid. ``paying``
    lies between the last two: every root final and some leaf of some distribution paid. None: not
    every root is on L1 yet (the claim stays at its Exocore stage). Each distribution's own progress
    is shown next to the claim (its root and ``payment_state``), so a claim half paid on one chain
    is visible as such.
    """
    if not distributions or not all(on_l1 for on_l1, _, _ in distributions):
        return None
    if not all(final for _, final, _ in distributions):
        return ClaimState.RELAYED
    payments = [payment for _, _, payment in distributions]
    if all(payment == ClaimState.PAID for payment in payments):
        return ClaimState.PAID
    if any(payment is not None for payment in payments):
        return ClaimState.PAYING
    return ClaimState.FINALIZED


def distribution_claim_stage(
    packet_state: str | None, root_on_l1: bool, root_final: bool, payment_state: str | None
) -> ClaimState:
    """How far one distribution of a claim got, in the claim's terms (what a claim with only this
    distribution would be at): from its packet (None: no packet recorded) up to ``relayed``, then
    its root's finality, then its ``payment_state``. :func:`claim_l1_state` combines these."""
    if payment_state is not None:
        return ClaimState(payment_state)
    if root_final:
        return ClaimState.FINALIZED
    if root_on_l1:
        return ClaimState.RELAYED
    if packet_state == PacketState.ATTESTED:
        return ClaimState.ATTESTED
    if packet_state is not None:
        return ClaimState.PACKET_CREATED
    return ClaimState.DISTRIBUTED
