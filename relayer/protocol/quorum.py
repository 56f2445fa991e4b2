"""Exact quorum arithmetic over ordered, weighted member lists, and the signer bitmap.

A quorum is reached when the signers carry *strictly more* than ``num/den`` of the total power::

    signed_power * den > total_power * num

Only integers are used (never floats), so the answer is the same on every machine and matches the
L1 gateway's ``uint256`` arithmetic bit for bit.

The signer bitmap is the gateway's wire form of "who signed": ``ceil(n/8)`` bytes over the ordered
member list, member ``i`` at bit ``i % 8`` (LSB first) of byte ``i // 8``, unused high bits zero.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Final

from relayer.protocol.errors import DuplicateKeyError, InvalidValueError, QuorumError
from relayer.protocol.types import UINT256_MAX, Power, check_uint

THRESHOLD_TERM_BITS: Final = 64
"""Numerator and denominator of a threshold fit uint64, so ``power * den`` stays well inside uint256
for any realistic power on L1 and thresholds round-trip through contract storage unchanged."""


@dataclass(frozen=True, slots=True)
class Threshold:
    """The share ``num/den`` of total power that signers must *strictly exceed*.

    ``0 < num < den``: ``num == 0`` would let a single unit of power through and ``num >= den`` could
    never be met. The fraction is kept as given (``Threshold(4, 6) != Threshold(2, 3)`` as values,
    though they accept exactly the same signer sets).
    """

    num: int
    den: int

    def __post_init__(self) -> None:
        check_uint(self.num, THRESHOLD_TERM_BITS, "threshold numerator")
        check_uint(self.den, THRESHOLD_TERM_BITS, "threshold denominator")
        if not 0 < self.num < self.den:
            raise InvalidValueError(f"threshold must satisfy 0 < num < den, got {self.num}/{self.den}")

    @classmethod
    def parse(cls, text: str) -> Threshold:
        """Parse ``"2/3"`` or a percentage such as ``"90%"`` / ``"66.7%"`` (exact decimal, no float)."""
        source = text.strip()
        fraction_match = re.fullmatch(r"(\d+)\s*/\s*(\d+)", source)
        if fraction_match:
            return cls(int(fraction_match.group(1)), int(fraction_match.group(2)))
        percent_match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*%", source)
        if percent_match:
            share = Fraction(percent_match.group(1)) / 100
            return cls(share.numerator, share.denominator)
        raise InvalidValueError(f"threshold must look like '2/3' or '90%', got {text!r}")

    def __str__(self) -> str:
        return f"{self.num}/{self.den}"


TWO_THIRDS: Final = Threshold(2, 3)
"""Default for validator sets and AVS committees: strictly more than two thirds (BFT safety)."""


def _check_powers(signed_power: int, total_power: int) -> None:
    check_uint(signed_power, 256, "signed power")
    check_uint(total_power, 256, "total power")
    if signed_power > total_power:
        raise InvalidValueError(f"signed power {signed_power} exceeds total power {total_power}")


def meets_threshold(signed_power: int, total_power: int, threshold: Threshold = TWO_THIRDS) -> bool:
    """``signed_power * den > total_power * num``; never true when the total is zero."""
    _check_powers(signed_power, total_power)
    return signed_power * threshold.den > total_power * threshold.num


def quorum_power(total_power: int, threshold: Threshold = TWO_THIRDS) -> Power:
    """The least signed power that meets ``threshold``: ``floor(total * num / den) + 1``."""
    check_uint(total_power, 256, "total power")
    return Power(total_power * threshold.num // threshold.den + 1)


def missing_power(signed_power: int, total_power: int, threshold: Threshold = TWO_THIRDS) -> Power:
    """How much more power must sign before ``threshold`` is met (0 if it already is).

    The answer can exceed the power not yet signed (e.g. a zero total), which means quorum is
    unreachable; callers compare it with what is left.
    """
    _check_powers(signed_power, total_power)
    return Power(max(0, quorum_power(total_power, threshold) - signed_power))


@dataclass(frozen=True, slots=True)
class SignerBitmap:
    """Which members of an ordered list of ``size`` members signed.

    ``raw`` is the exact wire form (``ceil(size/8)`` bytes, LSB-first, high bits zero); construction
    validates it, so every instance is canonical.
    """

    size: int
    raw: bytes

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 1:
            raise QuorumError(f"bitmap needs a positive member count, got {self.size!r}")
        if not isinstance(self.raw, bytes):
            raise QuorumError(f"bitmap must be bytes, got {type(self.raw).__name__}")
        expected = bitmap_length(self.size)
        if len(self.raw) != expected:
            raise QuorumError(f"bitmap for {self.size} members must be {expected} bytes, got {len(self.raw)}")
        used_bits = self.size % 8
        if used_bits and self.raw[-1] >> used_bits:
            raise QuorumError(f"bitmap has bits set at positions >= member count {self.size}")

    @classmethod
    def decode(cls, data: bytes, size: int) -> SignerBitmap:
        """Parse wire bytes for a list of ``size`` members (rejects wrong length and stray bits)."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise QuorumError(f"bitmap must be bytes, got {type(data).__name__}")
        return cls(size, bytes(data))

    @classmethod
    def from_indices(cls, indices: Iterable[int], size: int) -> SignerBitmap:
        """Bitmap with exactly ``indices`` set; rejects out-of-range and repeated indices."""
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise QuorumError(f"bitmap needs a positive member count, got {size!r}")
        mask = 0
        for index in indices:
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < size:
                raise QuorumError(f"signer index {index!r} is outside 0..{size - 1}")
            bit = 1 << index
            if mask & bit:
                raise QuorumError(f"signer index {index} given twice")
            mask |= bit
        return cls(size, mask.to_bytes(bitmap_length(size), "little"))

    def encode(self) -> bytes:
        return self.raw

    def indices(self) -> tuple[int, ...]:
        """Set member indices, ascending."""
        mask = int.from_bytes(self.raw, "little")
        found: list[int] = []
        while mask:
            low_bit = mask & -mask
            found.append(low_bit.bit_length() - 1)
            mask ^= low_bit
        return tuple(found)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices())

    def __contains__(self, index: object) -> bool:
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < self.size:
            return False
        return bool(self.raw[index // 8] >> (index % 8) & 1)

    @property
    def count(self) -> int:
        return int.from_bytes(self.raw, "little").bit_count()


def bitmap_length(size: int) -> int:
    """Bytes of a signer bitmap over ``size`` members: ``ceil(size / 8)``."""
    return (size + 7) // 8


@dataclass(frozen=True, slots=True)
class Member:
    """A signer: an opaque public key (bytes, any encoding) and its voting power (> 0)."""

    key: bytes
    power: Power

    def __post_init__(self) -> None:
        if not isinstance(self.key, bytes) or not self.key:
            raise InvalidValueError("member key must be non-empty bytes")
        check_uint(self.power, 256, "member power")
        if self.power == 0:
            raise InvalidValueError("member power must be positive")


@dataclass(frozen=True)
class MemberList:
    """An ordered validator set or committee: the order defines bitmap positions.

    Keys are distinct (compared as given bytes; callers must use one canonical encoding per key)
    and the total power fits uint256.
    """

    members: tuple[Member, ...]
    total_power: Power = field(init=False, compare=False)
    _positions: dict[bytes, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        members = tuple(self.members)
        if not members:
            raise QuorumError("a member list needs at least one member")
        positions: dict[bytes, int] = {}
        for position, member in enumerate(members):
            if not isinstance(member, Member):
                raise InvalidValueError(f"member #{position} is a {type(member).__name__}, not a Member")
            if member.key in positions:
                raise DuplicateKeyError(
                    f"member #{position} repeats the key of member #{positions[member.key]}"
                )
            positions[member.key] = position
        total = sum(member.power for member in members)
        if total > UINT256_MAX:
            raise InvalidValueError("total power does not fit uint256")
        object.__setattr__(self, "members", members)
        object.__setattr__(self, "_positions", positions)
        object.__setattr__(self, "total_power", Power(total))

    @classmethod
    def of(cls, entries: Iterable[tuple[bytes, int]]) -> MemberList:
        """Build from ``(key, power)`` pairs in bitmap order."""
        return cls(tuple(Member(key, Power(power)) for key, power in entries))

    @property
    def keys(self) -> tuple[bytes, ...]:
        return tuple(member.key for member in self.members)

    @property
    def powers(self) -> tuple[Power, ...]:
        return tuple(member.power for member in self.members)

    def __len__(self) -> int:
        return len(self.members)

    def __iter__(self) -> Iterator[Member]:
        return iter(self.members)

    def __getitem__(self, index: int) -> Member:
        return self.members[index]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, bytes) and key in self._positions

    def index_of(self, key: bytes) -> int:
        """Bitmap position of ``key``; :class:`QuorumError` if it is not a member."""
        try:
            return self._positions[key]
        except (KeyError, TypeError) as exc:
            raise QuorumError(f"key 0x{bytes(key).hex()[:16]}… is not a member") from exc

    def bitmap_for(self, keys: Iterable[bytes]) -> SignerBitmap:
        """Signer bitmap of ``keys`` (each a member, none repeated)."""
        return SignerBitmap.from_indices((self.index_of(key) for key in keys), len(self))

    def signers(self, bitmap: SignerBitmap) -> tuple[Member, ...]:
        """Members whose bit is set, in list order."""
        self._check_bitmap(bitmap)
        return tuple(self.members[index] for index in bitmap.indices())

    def _check_bitmap(self, bitmap: SignerBitmap) -> None:
        if bitmap.size != len(self.members):
            raise QuorumError(f"bitmap covers {bitmap.size} members but the list has {len(self.members)}")


def signed_power(members: MemberList, bitmap: SignerBitmap) -> Power:
    """Sum of the powers of the members set in ``bitmap``."""
    return Power(sum(member.power for member in members.signers(bitmap)))


def check_quorum(members: MemberList, bitmap: SignerBitmap, threshold: Threshold = TWO_THIRDS) -> Power:
    """Return the signed power, or raise :class:`QuorumError` saying how far from quorum it is."""
    signed = signed_power(members, bitmap)
    total = members.total_power
    if not meets_threshold(signed, total, threshold):
        raise QuorumError(
            f"signed power {signed} of total {total} does not exceed {threshold} "
            f"({bitmap.count}/{len(members)} signers; need {missing_power(signed, total, threshold)} more)"
        )
    return signed
