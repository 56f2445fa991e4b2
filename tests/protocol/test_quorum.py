"""Exact quorum arithmetic and the signer bitmap wire form."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relayer.protocol.errors import DuplicateKeyError, InvalidValueError, QuorumError
from relayer.protocol.quorum import (
    TWO_THIRDS,
    Member,
    MemberList,
    SignerBitmap,
    Threshold,
    bitmap_length,
    check_quorum,
    meets_threshold,
    missing_power,
    quorum_power,
    signed_power,
)
from relayer.protocol.types import Power

NINE_TENTHS = Threshold(9, 10)


# ----------------------------------------------------------------------------------------------
# Threshold arithmetic


def test_exactly_two_thirds_is_not_enough() -> None:
    assert not meets_threshold(200, 300)
    assert meets_threshold(201, 300)
    assert not meets_threshold(2, 3)
    assert meets_threshold(3, 3)
    # 100 validators of power 1: 66 and 67 fail? 67*3 = 201 > 200 passes, 66*3 = 198 fails.
    assert not meets_threshold(66, 100)
    assert meets_threshold(67, 100)


def test_nine_tenths() -> None:
    assert not meets_threshold(90, 100, NINE_TENTHS)
    assert meets_threshold(91, 100, NINE_TENTHS)
    assert not meets_threshold(9, 10, NINE_TENTHS)
    assert meets_threshold(10, 10, NINE_TENTHS)


def test_zero_total_never_meets() -> None:
    assert not meets_threshold(0, 0)
    assert quorum_power(0) == 1
    assert missing_power(0, 0) == 1  # more than can ever sign: unreachable


def test_huge_powers_are_exact() -> None:
    total = 2**256 - 1
    needed = quorum_power(total)
    assert needed == total * 2 // 3 + 1
    assert meets_threshold(needed, total)
    assert not meets_threshold(needed - 1, total)


def test_quorum_and_missing_power() -> None:
    assert quorum_power(300) == 201
    assert quorum_power(301) == 201  # 201*3 = 603 > 602
    assert quorum_power(100, NINE_TENTHS) == 91
    assert missing_power(150, 300) == 51
    assert missing_power(250, 300) == 0


@given(
    total=st.integers(0, 10**30),
    data=st.data(),
    num_den=st.tuples(st.integers(1, 1000), st.integers(2, 1001)).filter(lambda t: t[0] < t[1]),
)
def test_quorum_power_is_the_exact_boundary(
    total: int, data: st.DataObject, num_den: tuple[int, int]
) -> None:
    threshold = Threshold(*num_den)
    signed = data.draw(st.integers(0, total))
    exact = total > 0 and Fraction(signed, total) > Fraction(*num_den)
    assert meets_threshold(signed, total, threshold) == exact
    needed = quorum_power(total, threshold)
    assert not meets_threshold(needed - 1, total, threshold)  # needed - 1 <= total always
    if needed <= total:
        assert meets_threshold(needed, total, threshold)
    assert missing_power(signed, total, threshold) == max(0, needed - signed)


def test_bad_power_inputs() -> None:
    with pytest.raises(InvalidValueError):
        meets_threshold(301, 300)
    with pytest.raises(InvalidValueError):
        meets_threshold(-1, 300)
    with pytest.raises(InvalidValueError):
        meets_threshold(1, 2**256)
    with pytest.raises(InvalidValueError):
        meets_threshold(1.0, 3)  # type: ignore[arg-type]


def test_threshold_validation_and_parse() -> None:
    for num, den in [(0, 3), (3, 3), (4, 3), (-1, 3), (1, 2**64)]:
        with pytest.raises(InvalidValueError):
            Threshold(num, den)
    assert Threshold.parse("2/3") == TWO_THIRDS
    assert Threshold.parse(" 9 / 10 ") == NINE_TENTHS
    assert Threshold.parse("90%") == NINE_TENTHS
    assert Threshold.parse("66.7%") == Threshold(667, 1000)
    for bad in ("", "2/", "0.9", "100%", "1/0", "two thirds", "-1/3"):
        with pytest.raises(InvalidValueError):
            Threshold.parse(bad)
    assert str(NINE_TENTHS) == "9/10"


# ----------------------------------------------------------------------------------------------
# Signer bitmap


def test_bitmap_wire_form_is_lsb_first() -> None:
    bitmap = SignerBitmap.from_indices([0, 3, 8, 10], 11)
    assert bitmap.encode() == bytes([0b0000_1001, 0b0000_0101])
    assert bitmap.indices() == (0, 3, 8, 10)
    assert list(bitmap) == [0, 3, 8, 10]
    assert bitmap.count == 4
    assert 3 in bitmap and 4 not in bitmap and 11 not in bitmap and -1 not in bitmap
    assert SignerBitmap.decode(bytes([0x09, 0x05]), 11) == bitmap


@pytest.mark.parametrize(("size", "length"), [(1, 1), (7, 1), (8, 1), (9, 2), (16, 2), (17, 3), (100, 13)])
def test_bitmap_length(size: int, length: int) -> None:
    assert bitmap_length(size) == length
    assert len(SignerBitmap.from_indices(range(size), size).encode()) == length
    full = SignerBitmap.from_indices(range(size), size)
    assert full.count == size


def test_bitmap_rejects_stray_bits_and_wrong_length() -> None:
    with pytest.raises(QuorumError, match="positions >= member count"):
        SignerBitmap.decode(bytes([0b0000_1000]), 3)  # bit 3 of a 3-member list
    with pytest.raises(QuorumError, match="positions >= member count"):
        SignerBitmap.decode(bytes([0xFF, 0b0000_0010]), 9)
    SignerBitmap.decode(bytes([0xFF, 0xFF]), 16)  # a full last byte is fine
    with pytest.raises(QuorumError, match="must be 2 bytes"):
        SignerBitmap.decode(bytes([0xFF]), 9)
    with pytest.raises(QuorumError, match="must be 1 bytes"):
        SignerBitmap.decode(bytes([0x01, 0x00]), 8)  # trailing zero byte is not canonical
    with pytest.raises(QuorumError):
        SignerBitmap.decode(b"", 0)
    with pytest.raises(QuorumError):
        SignerBitmap.decode("ff", 8)  # type: ignore[arg-type]


def test_bitmap_from_indices_rejects_bad_indices() -> None:
    with pytest.raises(QuorumError, match="outside"):
        SignerBitmap.from_indices([5], 5)
    with pytest.raises(QuorumError, match="outside"):
        SignerBitmap.from_indices([-1], 5)
    with pytest.raises(QuorumError, match="twice"):
        SignerBitmap.from_indices([1, 1], 5)
    assert SignerBitmap.from_indices([], 5).count == 0


@given(size=st.integers(1, 300), data=st.data())
def test_bitmap_round_trip(size: int, data: st.DataObject) -> None:
    indices = sorted(data.draw(st.sets(st.integers(0, size - 1))))
    bitmap = SignerBitmap.from_indices(indices, size)
    assert SignerBitmap.decode(bitmap.encode(), size).indices() == tuple(indices)
    for index in range(size):
        assert (index in bitmap) == bool(bitmap.encode()[index // 8] >> (index % 8) & 1)


# ----------------------------------------------------------------------------------------------
# Weighted member lists


def key(n: int) -> bytes:
    return n.to_bytes(48, "big")


MEMBERS = MemberList.of([(key(1), 40), (key(2), 30), (key(3), 20), (key(4), 10)])


def test_member_list_basics() -> None:
    assert MEMBERS.total_power == 100
    assert len(MEMBERS) == 4
    assert MEMBERS.index_of(key(3)) == 2
    assert key(3) in MEMBERS and key(9) not in MEMBERS
    assert MEMBERS.keys == (key(1), key(2), key(3), key(4))
    assert MEMBERS.powers == (40, 30, 20, 10)
    assert MEMBERS[1] == Member(key(2), Power(30))
    with pytest.raises(QuorumError, match="not a member"):
        MEMBERS.index_of(key(9))


def test_member_list_rejections() -> None:
    with pytest.raises(DuplicateKeyError):
        MemberList.of([(key(1), 1), (key(1), 2)])
    with pytest.raises(QuorumError):
        MemberList(())
    with pytest.raises(InvalidValueError):
        MemberList.of([(key(1), 0)])
    with pytest.raises(InvalidValueError):
        MemberList.of([(b"", 1)])
    with pytest.raises(InvalidValueError, match="uint256"):
        MemberList.of([(key(1), 2**256 - 1), (key(2), 1)])


def test_signed_power_and_check_quorum() -> None:
    bitmap = MEMBERS.bitmap_for([key(1), key(3)])
    assert bitmap.indices() == (0, 2)
    assert signed_power(MEMBERS, bitmap) == 60
    with pytest.raises(QuorumError, match=r"signed power 60 of total 100 does not exceed 2/3 .*need 7 more"):
        check_quorum(MEMBERS, bitmap)
    # 40 + 30 = 70 > 66.67
    assert check_quorum(MEMBERS, MEMBERS.bitmap_for([key(2), key(1)])) == 70
    # 9/10: 40+30+20 = 90 is not > 90; all four = 100 is.
    with pytest.raises(QuorumError, match="need 1 more"):
        check_quorum(MEMBERS, MEMBERS.bitmap_for([key(1), key(2), key(3)]), NINE_TENTHS)
    assert check_quorum(MEMBERS, SignerBitmap.from_indices(range(4), 4), NINE_TENTHS) == 100
    assert MEMBERS.signers(bitmap) == (MEMBERS[0], MEMBERS[2])


def test_bitmap_size_must_match_member_list() -> None:
    with pytest.raises(QuorumError, match="covers 5 members"):
        signed_power(MEMBERS, SignerBitmap.from_indices([0], 5))
    with pytest.raises(QuorumError, match="twice"):
        MEMBERS.bitmap_for([key(1), key(1)])
