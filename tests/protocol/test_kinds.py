"""The protocol's enumerations are the one definition of each kind: the API's names, the tx
manager's purposes and the SQL codes all derive from them."""

from __future__ import annotations

import pytest

from relayer.protocol.kinds import PACKET_KIND_CODES, PacketKind, SlashKind, TxPurpose


def test_packet_kind_labels_are_the_api_names_and_invert() -> None:
    assert [kind.label for kind in PacketKind] == [
        "valset_update",
        "reward_distribution",
        "slash",
        "withdrawal_approval",
        "cumulative_root",
    ]
    for kind in PacketKind:
        assert PacketKind.from_label(kind.label) is kind
    with pytest.raises(KeyError):
        PacketKind.from_label("payout")


def test_each_packet_kind_is_delivered_by_a_transaction_of_its_purpose() -> None:
    assert {kind: kind.purpose for kind in PacketKind} == {
        PacketKind.VALSET_UPDATE: TxPurpose.VALSET_UPDATE,
        PacketKind.REWARD_DISTRIBUTION: TxPurpose.DISTRIBUTION,
        PacketKind.SLASH: TxPurpose.SLASH,
        PacketKind.WITHDRAWAL_APPROVAL: TxPurpose.WITHDRAWAL_APPROVAL,
        PacketKind.CUMULATIVE_ROOT: TxPurpose.DISTRIBUTION,
    }
    assert sorted(PACKET_KIND_CODES) == [1, 2, 3, 4, 5]
    assert 6 not in PACKET_KIND_CODES


def test_slash_kind_labels_are_the_chain_names() -> None:
    assert [kind.label for kind in SlashKind] == ["equivocation", "committee_request", "wrong_result"]
