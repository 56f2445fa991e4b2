"""The protocol's enumerations, one definition each: packet kinds, slash kinds and what an L1
transaction the relayer sends is for.

Everything else derives from these: the SQL rows store ``PacketKind`` codes and ``SlashKind`` /
``TxPurpose`` values, and the API's lower-case names are :attr:`PacketKind.label` and the enums'
values (the OpenAPI schema lists exactly these). Standard library only, so the API and the storage
layer can import it without the packet codec.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Final


# What an L1 transaction the relayer sends is for (``tx_intent.purpose``, ``l1_tx.purpose``). No
# docstring on purpose: the API's ``purpose`` parameter is this enum, and a docstring would become
# its OpenAPI description.
class TxPurpose(StrEnum):
    VALSET_UPDATE = "valset_update"
    DISTRIBUTION = "distribution"
    SLASH = "slash"
    PAYOUT = "payout"
    WITHDRAWAL_APPROVAL = "withdrawal"
    OTHER = "other"


class PacketKind(IntEnum):
    """``uint8 kind`` of the packet digest."""

    VALSET_UPDATE = 1
    REWARD_DISTRIBUTION = 2
    SLASH = 3
    WITHDRAWAL_APPROVAL = 4
    CUMULATIVE_ROOT = 5

    @property
    def label(self) -> str:
        """The lower-case name the API and the explorer show (``reward_distribution``)."""
        return self.name.lower()

    @property
    def purpose(self) -> TxPurpose:
        """The purpose of the L1 transaction that delivers a packet of this kind."""
        return PURPOSE_OF_KIND[self]

    @classmethod
    def from_label(cls, label: str) -> PacketKind:
        """The kind named ``label`` (:attr:`label`'s inverse); ``KeyError`` for any other text."""
        return cls[label.upper()]


PURPOSE_OF_KIND: Final = {
    PacketKind.VALSET_UPDATE: TxPurpose.VALSET_UPDATE,
    PacketKind.REWARD_DISTRIBUTION: TxPurpose.DISTRIBUTION,
    PacketKind.SLASH: TxPurpose.SLASH,
    PacketKind.WITHDRAWAL_APPROVAL: TxPurpose.WITHDRAWAL_APPROVAL,
    # A cumulative root is a reward distribution too (one per period for every AVS and token); it
    # shares the purpose so the tx manager treats it like any packet (NonceAlreadyUsed = done).
    PacketKind.CUMULATIVE_ROOT: TxPurpose.DISTRIBUTION,
}
"""A packet's delivery transaction is named after its kind (``distribution`` for a reward one)."""

PACKET_KIND_CODES: Final = frozenset(kind.value for kind in PacketKind)
"""Every packet kind's code: anything else Exocore reports is a kind this relayer does not carry."""


class SlashKind(StrEnum):
    """What proved a slash (``exocore.operator.v1.SlashKind``); the value is the name the chain's
    events, the ``slash.evidence_kind`` column and the API use. It is also the kind of slashing
    verifier an AVS registers (``AVSInfo.slash_verifiers``): ``equivocation`` (two signed responses
    to one task), ``wrong_result`` (a signed response whose answer Exocore recomputes) and
    ``committee_request`` (the committee-attested request carrying its evidence bytes)."""

    EQUIVOCATION = "equivocation"
    COMMITTEE_REQUEST = "committee_request"
    WRONG_RESULT = "wrong_result"

    @property
    def label(self) -> str:
        return self.value


class PayoutMode(IntEnum):
    """How an AVS's reward distributions reach stakers on L1 (``AVSInfo.payout_mode``; the values are
    ``exocore.avs.v1.PayoutMode``'s). Set at registration, fixed after."""

    PER_DISTRIBUTION = 0
    """Each distribution gets its REWARD_DISTRIBUTION packet and is pushed leaf by leaf."""
    CUMULATIVE = 1
    """Each distribution only adds to the earners' cumulative earnings (paid against a
    CUMULATIVE_ROOT); no packet of its own."""

    @property
    def label(self) -> str:
        """The lower-case name the API and the explorer show (``per_distribution``)."""
        return self.name.lower()
