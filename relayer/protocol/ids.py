"""Exocore identifiers: stakerID / assetID, bech32 operator addresses and chain ids.

- stakerID ``0x<staker address hex>_0x<LayerZero chain id hex>`` and assetID
  ``0x<token address hex>_0x<LayerZero chain id hex>`` (upstream ``x/assets/types/general.go``):
  lower-case hex, the chain id without leading zeros (``0x0`` for zero, ``0x9d19`` for 40217).
  Parsing is strict, so a string and its value map one to one (the ids are database and map keys).
  Only 20-byte (EVM) addresses are supported: the relay only targets EVM client chains.
- Operator addresses are BIP-173 bech32 account addresses over 20 bytes with prefix ``exo``
  (Exocore) or ``im`` (Imuachain after the rename).
- Chain ids follow Ethermint: ``<name>_<EIP-155 id>-<revision>``, e.g. ``exocoredevnet_233-1``;
  ``exocoreChain`` in packet digests is keccak256 of the id without the ``-<revision>`` suffix.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import ClassVar, Final

from eth_utils.crypto import keccak

from relayer.errors import ProtocolError
from relayer.protocol import bech32
from relayer.protocol.errors import IdentifierError
from relayer.protocol.types import Address, Hash32, as_address, check_uint

OPERATOR_PREFIXES: Final = frozenset({"exo", "im"})
"""Account bech32 prefixes accepted for operators: Exocore's ``exo`` and Imuachain's ``im``."""

MAX_CHAIN_ID_LENGTH: Final = 48  # Ethermint ParseChainID rejects longer ids
_LZ_ID_BITS: Final = 64  # upstream stores the LayerZero (client) chain id as uint64
_PAIR_ID = re.compile(r"0x([0-9a-f]{40})_0x(0|[1-9a-f][0-9a-f]*)")
_CHAIN_ID = re.compile(r"([a-z]+)_([1-9][0-9]*)(?:-([1-9][0-9]*))?")


def _parse_pair(text: str, what: str) -> tuple[Address, int]:
    if not isinstance(text, str):
        raise IdentifierError(f"{what} must be a str, got {type(text).__name__}")
    match = _PAIR_ID.fullmatch(text)
    if match is None:
        raise IdentifierError(
            f"{what} {text!r} is not '0x<40 lower-case hex>_0x<lower-case hex, no leading zeros>'"
        )
    lz_id = int(match.group(2), 16)
    if lz_id >> _LZ_ID_BITS:
        raise IdentifierError(f"{what} {text!r}: LayerZero chain id does not fit uint64")
    return Address(bytes.fromhex(match.group(1))), lz_id


def _format_pair(address: Address, lz_chain_id: int) -> str:
    return f"0x{address.hex()}_{hex(lz_chain_id)}"


def _validated_pair(address: Address, lz_chain_id: int, what: str) -> Address:
    try:
        check_uint(lz_chain_id, _LZ_ID_BITS, f"{what} LayerZero chain id")
        return as_address(address)
    except ProtocolError as exc:
        raise IdentifierError(f"invalid {what}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class StakerId:
    """A staker on a client chain: ``0x<address>_0x<lz chain id>``."""

    address: Address
    lz_chain_id: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "address", _validated_pair(self.address, self.lz_chain_id, "stakerID"))

    @classmethod
    def parse(cls, text: str) -> StakerId:
        return cls(*_parse_pair(text, "stakerID"))

    def __str__(self) -> str:
        return _format_pair(self.address, self.lz_chain_id)


@dataclass(frozen=True, slots=True)
class AssetId:
    """A restakable token on a client chain: ``0x<token>_0x<lz chain id>``."""

    token: Address
    lz_chain_id: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "token", _validated_pair(self.token, self.lz_chain_id, "assetID"))

    @classmethod
    def parse(cls, text: str) -> AssetId:
        return cls(*_parse_pair(text, "assetID"))

    def __str__(self) -> str:
        return _format_pair(self.token, self.lz_chain_id)


def staker_id(address: Address, lz_chain_id: int) -> str:
    """``0x<address>_0x<lz chain id>`` (upstream ``GetStakerIDAndAssetID``)."""
    return str(StakerId(address, lz_chain_id))


def asset_id(token: Address, lz_chain_id: int) -> str:
    """``0x<token>_0x<lz chain id>``."""
    return str(AssetId(token, lz_chain_id))


@dataclass(frozen=True, slots=True)
class OperatorAddress:
    """An operator's account: 20 bytes rendered as bech32 under ``prefix`` (``exo`` or ``im``).

    Equality includes the prefix; compare ``.address`` to match the same account across the rename.
    """

    prefix: str
    address: Address

    ALLOWED_PREFIXES: ClassVar[frozenset[str]] = OPERATOR_PREFIXES

    def __post_init__(self) -> None:
        if self.prefix not in self.ALLOWED_PREFIXES:
            raise IdentifierError(
                f"operator prefix {self.prefix!r} is not one of {sorted(self.ALLOWED_PREFIXES)}"
            )
        try:
            object.__setattr__(self, "address", as_address(self.address))
        except ProtocolError as exc:
            raise IdentifierError(f"invalid operator address: {exc}") from exc

    @classmethod
    def parse(cls, text: str, allowed_prefixes: Collection[str] = OPERATOR_PREFIXES) -> OperatorAddress:
        """Decode ``exo1…`` / ``im1…``; rejects bad checksums, mixed case, other prefixes, wrong length.

        Upper-case input is accepted (BIP-173 allows it); :meth:`__str__` always renders lower case.
        """
        prefix, payload = bech32.decode_bytes(text)
        if prefix not in allowed_prefixes or prefix not in cls.ALLOWED_PREFIXES:
            expected = sorted(set(allowed_prefixes) & cls.ALLOWED_PREFIXES)
            raise IdentifierError(
                f"operator address {text!r} has prefix {prefix!r}, expected one of {expected}"
            )
        if len(payload) != 20:
            raise IdentifierError(f"operator address {text!r} holds {len(payload)} bytes, expected 20")
        return cls(prefix, Address(payload))

    def with_prefix(self, prefix: str) -> OperatorAddress:
        """The same account under another prefix (``exo1…`` ↔ ``im1…``)."""
        return OperatorAddress(prefix, self.address)

    def __str__(self) -> str:
        return bech32.encode_bytes(self.prefix, self.address)


@dataclass(frozen=True, slots=True)
class ChainId:
    """An Ethermint-style Cosmos chain id ``<name>_<evm chain id>[-<revision>]``."""

    name: str
    evm_chain_id: int
    revision: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or re.fullmatch(r"[a-z]+", self.name) is None:
            raise IdentifierError(f"chain name {self.name!r} must be lower-case letters")
        _check_positive(self.evm_chain_id, "EVM chain id")
        if self.revision is not None:
            _check_positive(self.revision, "revision")
        if len(str(self)) > MAX_CHAIN_ID_LENGTH:
            raise IdentifierError(f"chain id {str(self)!r} is longer than {MAX_CHAIN_ID_LENGTH} characters")

    @classmethod
    def parse(cls, text: str) -> ChainId:
        """Parse ``exocoredevnet_233-1`` or ``exocoredevnet_233`` (no leading zeros, revision >= 1)."""
        if not isinstance(text, str):
            raise IdentifierError(f"chain id must be a str, got {type(text).__name__}")
        if len(text) > MAX_CHAIN_ID_LENGTH:
            raise IdentifierError(f"chain id {text!r} is longer than {MAX_CHAIN_ID_LENGTH} characters")
        match = _CHAIN_ID.fullmatch(text)
        if match is None:
            raise IdentifierError(f"chain id {text!r} is not '<lowercase name>_<evm id>[-<revision>]'")
        revision = match.group(3)
        return cls(match.group(1), int(match.group(2)), int(revision) if revision else None)

    @property
    def without_revision(self) -> str:
        """``<name>_<evm id>``: what upstream signs in BLS PoPs and what ``exocoreChain`` hashes."""
        return f"{self.name}_{self.evm_chain_id}"

    @property
    def hash(self) -> Hash32:
        """``exocoreChain`` of packet digests: keccak256 of :attr:`without_revision` (UTF-8)."""
        return Hash32(keccak(self.without_revision.encode("utf-8")))

    def __str__(self) -> str:
        base = self.without_revision
        return base if self.revision is None else f"{base}-{self.revision}"


def exocore_chain_hash(chain_id: str) -> Hash32:
    """``exocoreChain`` for a chain id given with or without its revision."""
    return ChainId.parse(chain_id).hash


def _check_positive(value: int, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise IdentifierError(f"chain {what} must be a positive int, got {value!r}")
