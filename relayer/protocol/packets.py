"""Relay packets (docs/protocol.md §3): payload encodings, payload hashes and the signed packet digest.

A packet's digest is what the Exocore validator set BLS-signs and what the L1 gateway rebuilds::

    digest = keccak256(abi.encode(bytes32 DOMAIN, uint256 l1ChainId, address gateway,
                                  bytes32 exocoreChain, uint64 valsetNonce, uint8 kind,
                                  uint64 nonce, bytes32 payloadHash))
    payloadHash = keccak256(payload bytes)

Payload bytes are the ABI encoding of the payload's fields *as a parameter list*, i.e. Solidity's
``abi.encode(f1, f2, ...)``; never ``abi.encode(someStruct)``, which would prepend a 0x20 offset for
dynamic tuples. Decoding is strict: the only accepted bytes for a payload are exactly the bytes
our encoder produces for it (so one payload has one hash), anything else is an
:class:`EncodingError`. Semantic rules (non-empty sets, positive powers, distinct keys/tokens, known
funding mode) are enforced when a payload value is constructed, so a decoded payload obeys them too.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from functools import cached_property
from typing import Final, TypeAlias, TypeVar

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_abi.exceptions import DecodingError
from eth_abi.exceptions import EncodingError as AbiEncodingError
from eth_utils.crypto import keccak

from relayer.protocol.errors import (
    DuplicateKeyError,
    EncodingError,
    InvalidLengthError,
    InvalidPointError,
    InvalidValueError,
)
from relayer.protocol.kinds import PacketKind as PacketKind  # noqa: PLC0414 - re-exported for the codec's callers
from relayer.protocol.types import (
    UINT256_MAX,
    Address,
    Amount,
    Hash32,
    Power,
    as_address,
    as_hash32,
    check_uint,
)

DOMAIN: Final[Hash32] = Hash32(keccak(b"EXORELAY_PACKET_V1"))
"""Domain separator of packet digests: a signature over one can never be replayed as another object."""

G1_UNCOMPRESSED_BYTES: Final = 128
"""EIP-2537 G1 point: x || y, each a 64-byte big-endian word holding a 48-byte field element."""

_FP_WORD_BYTES: Final = 64
_FP_PADDING_BYTES: Final = 16  # EIP-2537 requires the top 16 bytes of each 64-byte Fp word to be zero.
_BLS12_381_P: Final = int(
    "1a0111ea397fe69a4b1ba7b6434bacd764774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab", 16
)

MAX_PAYLOAD_BYTES: Final = 1 << 20
"""Largest payload :func:`decode_payload` accepts (1 MiB, ≈ 6,500 validator keys). Bounds decoding work
on untrusted input; a packet that large would not fit an L1 block's calldata gas anyway."""

_T = TypeVar("_T")

_DIGEST_TYPES: Final = ("bytes32", "uint256", "address", "bytes32", "uint64", "uint8", "uint64", "bytes32")
_DISTRIBUTION_ID_TYPES: Final = ("bytes32", "uint64")


class FundingMode(IntEnum):
    """A distribution's reward source, i.e. how the gateway funds it: mint an inflation token
    (MINT), pay from the AVS's reward deposits in the RewardVault (VAULT), or pay from the
    transaction fees the AVS collected on L1 and deposited in the RewardVault (FEES; kept apart
    from its deposits). Cumulative roots carry MINT or VAULT only (:data:`CUMULATIVE_FUNDING_MODES`)."""

    MINT = 1
    VAULT = 2
    FEES = 3


CUMULATIVE_FUNDING_MODES: Final = frozenset({FundingMode.MINT, FundingMode.VAULT})
"""Sources a CUMULATIVE_ROOT entry may name: the RewardVault's cumulative ledger draws from
deposits or mints, never from the FEES balance (fee distributions are paid per distribution)."""

_FUNDING_CHOICES: Final = "1 (MINT), 2 (VAULT) or 3 (FEES)"
_CUMULATIVE_CHOICES: Final = "1 (MINT) or 2 (VAULT)"


def _set(obj: object, name: str, value: object) -> None:
    """Normalise a field of a frozen dataclass during ``__post_init__``."""
    object.__setattr__(obj, name, value)


def _check_g1_uncompressed(key: bytes, position: int) -> None:
    """Structural EIP-2537 check (length, zero padding, coordinates < p, not infinity).

    Curve and subgroup membership are checked by the BLS layer; this only guarantees the bytes are
    something the L1 precompiles will parse, so a malformed key is rejected before it is signed over.
    """
    if len(key) != G1_UNCOMPRESSED_BYTES:
        raise InvalidLengthError(
            f"pubkey #{position} must be {G1_UNCOMPRESSED_BYTES} bytes (EIP-2537 G1), got {len(key)}"
        )
    for offset in (0, _FP_WORD_BYTES):
        word = key[offset : offset + _FP_WORD_BYTES]
        if any(word[:_FP_PADDING_BYTES]):
            raise InvalidPointError(f"pubkey #{position}: non-zero EIP-2537 padding in a coordinate")
        if int.from_bytes(word, "big") >= _BLS12_381_P:
            raise InvalidPointError(f"pubkey #{position}: coordinate is not a field element (>= p)")
    if not any(key):
        raise InvalidPointError(f"pubkey #{position} is the point at infinity")


@dataclass(frozen=True, slots=True)
class ValsetUpdatePayload:
    """``VALSET_UPDATE (uint64 newValsetNonce, bytes[] pubkeysG1Uncompressed, uint256[] powers)``.

    ``pubkeys[i]`` has voting power ``powers[i]``; the order is the order of the signer bitmap for
    packets signed by this set. Keys are distinct, powers positive and their sum fits uint256.
    """

    new_valset_nonce: int
    pubkeys: tuple[bytes, ...]
    powers: tuple[Power, ...]

    def __post_init__(self) -> None:
        check_uint(self.new_valset_nonce, 64, "newValsetNonce")
        pubkeys = tuple(self.pubkeys)
        powers = tuple(self.powers)
        if not pubkeys:
            raise InvalidLengthError("valset must have at least one key")
        if len(pubkeys) != len(powers):
            raise InvalidLengthError(f"valset has {len(pubkeys)} keys but {len(powers)} powers")
        seen: set[bytes] = set()
        for position, key in enumerate(pubkeys):
            if not isinstance(key, bytes):
                raise InvalidValueError(f"pubkey #{position} must be bytes, got {type(key).__name__}")
            _check_g1_uncompressed(key, position)
            if key in seen:
                raise DuplicateKeyError(f"pubkey #{position} appears twice in the valset")
            seen.add(key)
        for position, power in enumerate(powers):
            check_uint(power, 256, f"power #{position}")
            if power == 0:
                raise InvalidValueError(f"power #{position} must be positive")
        if sum(powers) > UINT256_MAX:
            raise InvalidValueError("total valset power does not fit uint256")
        _set(self, "pubkeys", pubkeys)
        _set(self, "powers", powers)

    @property
    def kind(self) -> PacketKind:
        return PacketKind.VALSET_UPDATE

    @property
    def total_power(self) -> Power:
        return Power(sum(self.powers))


@dataclass(frozen=True, slots=True)
class RewardDistributionPayload:
    """``REWARD_DISTRIBUTION (bytes32 claimId, address avs, uint64 epoch, address token,
    uint8 funding, uint256 total, uint32 leafCount, bytes32 merkleRoot)``.

    ``leaf_count >= 1``, ``token`` and ``merkle_root`` non-zero (the gateway rejects the rest).
    """

    claim_id: Hash32
    avs: Address
    epoch: int
    token: Address
    funding: FundingMode
    total: Amount
    leaf_count: int
    merkle_root: Hash32

    def __post_init__(self) -> None:
        _set(self, "claim_id", as_hash32(self.claim_id))
        _set(self, "avs", as_address(self.avs))
        check_uint(self.epoch, 64, "epoch")
        _set(self, "token", as_address(self.token))
        check_uint(self.funding, 8, "funding")
        try:
            _set(self, "funding", FundingMode(self.funding))
        except ValueError as exc:
            raise InvalidValueError(f"funding must be {_FUNDING_CHOICES}, got {self.funding}") from exc
        check_uint(self.total, 256, "total")
        check_uint(self.leaf_count, 32, "leafCount")
        if self.leaf_count == 0:
            raise InvalidValueError("a distribution must have at least one leaf")
        _set(self, "merkle_root", as_hash32(self.merkle_root))
        # The gateway refuses both (a zero root marks "unknown distribution" in its storage).
        if not any(self.token):
            raise InvalidValueError("distribution token must not be the zero address")
        if not any(self.merkle_root):
            raise InvalidValueError("distribution merkleRoot must not be zero")

    @property
    def kind(self) -> PacketKind:
        return PacketKind.REWARD_DISTRIBUTION


@dataclass(frozen=True, slots=True)
class SlashPayload:
    """``SLASH (bytes32 slashId, address operator, address avs, address[] tokens, uint256[] amounts,
    bool freeze)``; ``amounts[i]`` of ``tokens[i]`` is slashed; tokens are distinct."""

    slash_id: Hash32
    operator: Address
    avs: Address
    tokens: tuple[Address, ...]
    amounts: tuple[Amount, ...]
    freeze: bool

    def __post_init__(self) -> None:
        _set(self, "slash_id", as_hash32(self.slash_id))
        _set(self, "operator", as_address(self.operator))
        _set(self, "avs", as_address(self.avs))
        tokens = tuple(as_address(token) for token in self.tokens)
        amounts = tuple(self.amounts)
        if not tokens:
            raise InvalidLengthError("a slash must name at least one token")
        if len(tokens) != len(amounts):
            raise InvalidLengthError(f"slash has {len(tokens)} tokens but {len(amounts)} amounts")
        if len(set(tokens)) != len(tokens):
            raise InvalidValueError("a slash names the same token twice")
        for position, amount in enumerate(amounts):
            check_uint(amount, 256, f"amount #{position}")
        if not isinstance(self.freeze, bool):
            raise InvalidValueError(f"freeze must be a bool, got {type(self.freeze).__name__}")
        _set(self, "tokens", tokens)
        _set(self, "amounts", amounts)

    @property
    def kind(self) -> PacketKind:
        return PacketKind.SLASH


@dataclass(frozen=True, slots=True)
class WithdrawalApprovalPayload:
    """``WITHDRAWAL_APPROVAL (uint64 epoch, address token, uint256 total, uint32 leafCount,
    bytes32 merkleRoot)``: the withdrawals of ``token`` Exocore approved when their unbonding matured
    in ``epoch``, one leaf ``(index, staker, amount)`` per staker (the distribution leaf encoding),
    each amount what is left after every slash that applied. ``total`` is the sum of the leaves.

    ``leaf_count >= 1``, ``token`` and ``merkle_root`` non-zero (the restaking vault rejects the rest).
    """

    epoch: int
    token: Address
    total: Amount
    leaf_count: int
    merkle_root: Hash32

    def __post_init__(self) -> None:
        check_uint(self.epoch, 64, "epoch")
        _set(self, "token", as_address(self.token))
        check_uint(self.total, 256, "total")
        check_uint(self.leaf_count, 32, "leafCount")
        if self.leaf_count == 0:
            raise InvalidValueError("a withdrawal approval must have at least one leaf")
        _set(self, "merkle_root", as_hash32(self.merkle_root))
        if not any(self.token):
            raise InvalidValueError("withdrawal approval token must not be the zero address")
        if not any(self.merkle_root):
            raise InvalidValueError("withdrawal approval merkleRoot must not be zero")

    @property
    def kind(self) -> PacketKind:
        return PacketKind.WITHDRAWAL_APPROVAL


@dataclass(frozen=True, slots=True)
class CumulativeFunding:
    """One AVS's running total in one token, as a CUMULATIVE_ROOT payload carries it: the L1 side
    draws ``funded`` minus what it already drew (VAULT: from the AVS's RewardVault balance; MINT:
    what the vault may mint) so Σ claims never exceed what was funded."""

    avs: Address
    token: Address
    funding: FundingMode
    funded: Amount


@dataclass(frozen=True, slots=True)
class CumulativeRootPayload:
    """``CUMULATIVE_ROOT (uint64 period, bytes32 root, uint32 leafCount, address[] avss,
    address[] tokens, uint8[] fundings, uint256[] funded)``.

    ``root`` is the :class:`relayer.protocol.cumulative.CumulativeTree` of every earner's running
    total on one client chain after ``period`` (periods strictly increase; L1 ignores an older one).
    Entry ``i`` says AVS ``avss[i]`` has distributed ``funded[i]`` of ``tokens[i]`` in all, funded
    by ``fundings[i]``. Rules: period >= 1, root non-zero, leafCount >= 1, at least one entry,
    (avs, token) pairs distinct, one funding mode per token, non-zero addresses.
    """

    period: int
    root: Hash32
    leaf_count: int
    entries: tuple[CumulativeFunding, ...]

    def __post_init__(self) -> None:
        check_uint(self.period, 64, "period")
        if self.period == 0:
            raise InvalidValueError("cumulative periods start at 1")
        _set(self, "root", as_hash32(self.root))
        if not any(self.root):
            raise InvalidValueError("cumulative root must not be zero")
        check_uint(self.leaf_count, 32, "leafCount")
        if self.leaf_count == 0:
            raise InvalidValueError("a cumulative root must have at least one leaf")
        entries = tuple(self.entries)
        if not entries:
            raise InvalidLengthError("a cumulative root must fund at least one (avs, token)")
        pairs: set[tuple[bytes, bytes]] = set()
        mode_of_token: dict[bytes, FundingMode] = {}
        normalised: list[CumulativeFunding] = []
        for position, entry in enumerate(entries):
            if not isinstance(entry, CumulativeFunding):
                raise InvalidValueError(f"entry #{position} is a {type(entry).__name__}")
            avs, token = as_address(entry.avs), as_address(entry.token)
            if not any(avs) or not any(token):
                raise InvalidValueError(f"entry #{position}: avs and token must not be the zero address")
            check_uint(entry.funding, 8, "funding")
            mode = next((m for m in CUMULATIVE_FUNDING_MODES if m == entry.funding), None)
            if mode is None:
                raise InvalidValueError(f"funding must be {_CUMULATIVE_CHOICES}, got {entry.funding}")
            check_uint(entry.funded, 256, f"funded #{position}")
            if (avs, token) in pairs:
                raise InvalidValueError(f"entry #{position}: (avs, token) appears twice")
            pairs.add((avs, token))
            if mode_of_token.setdefault(token, mode) is not mode:
                raise InvalidValueError(f"entry #{position}: token 0x{token.hex()} has two funding modes")
            normalised.append(CumulativeFunding(avs, token, mode, Amount(entry.funded)))
        _set(self, "entries", tuple(normalised))

    @property
    def kind(self) -> PacketKind:
        return PacketKind.CUMULATIVE_ROOT

    def funded_per_token(self) -> dict[Address, Amount]:
        """Σ funded per token: what the tree's per-token totals must equal."""
        totals: dict[Address, int] = {}
        for entry in self.entries:
            totals[entry.token] = totals.get(entry.token, 0) + entry.funded
        return {token: Amount(total) for token, total in totals.items()}


Payload: TypeAlias = (
    ValsetUpdatePayload
    | RewardDistributionPayload
    | SlashPayload
    | WithdrawalApprovalPayload
    | CumulativeRootPayload
)

PAYLOAD_ABI_TYPES: Final[dict[PacketKind, tuple[str, ...]]] = {
    PacketKind.VALSET_UPDATE: ("uint64", "bytes[]", "uint256[]"),
    PacketKind.REWARD_DISTRIBUTION: (
        "bytes32",
        "address",
        "uint64",
        "address",
        "uint8",
        "uint256",
        "uint32",
        "bytes32",
    ),
    PacketKind.SLASH: ("bytes32", "address", "address", "address[]", "uint256[]", "bool"),
    PacketKind.WITHDRAWAL_APPROVAL: ("uint64", "address", "uint256", "uint32", "bytes32"),
    PacketKind.CUMULATIVE_ROOT: (
        "uint64",
        "bytes32",
        "uint32",
        "address[]",
        "address[]",
        "uint8[]",
        "uint256[]",
    ),
}
"""Solidity parameter-list types of each payload, in field order (``abi.encode(f1, f2, ...)``)."""


def _payload_values(payload: Payload) -> tuple[object, ...]:
    if isinstance(payload, ValsetUpdatePayload):
        return (payload.new_valset_nonce, list(payload.pubkeys), list(payload.powers))
    if isinstance(payload, RewardDistributionPayload):
        return (
            payload.claim_id,
            payload.avs,
            payload.epoch,
            payload.token,
            int(payload.funding),
            payload.total,
            payload.leaf_count,
            payload.merkle_root,
        )
    if isinstance(payload, WithdrawalApprovalPayload):
        return (payload.epoch, payload.token, payload.total, payload.leaf_count, payload.merkle_root)
    if isinstance(payload, CumulativeRootPayload):
        return (
            payload.period,
            payload.root,
            payload.leaf_count,
            [entry.avs for entry in payload.entries],
            [entry.token for entry in payload.entries],
            [int(entry.funding) for entry in payload.entries],
            [entry.funded for entry in payload.entries],
        )
    return (
        payload.slash_id,
        payload.operator,
        payload.avs,
        list(payload.tokens),
        list(payload.amounts),
        payload.freeze,
    )


def encode_payload(payload: Payload) -> bytes:
    """Payload bytes: ``abi.encode`` of the payload's fields as a parameter list."""
    try:
        return abi_encode(PAYLOAD_ABI_TYPES[payload.kind], _payload_values(payload))
    except AbiEncodingError as exc:  # unreachable for validated payloads; kept as a typed guard
        raise EncodingError(f"cannot ABI-encode {payload.kind.name} payload: {exc}") from exc


def payload_hash(payload: Payload) -> Hash32:
    return Hash32(keccak(encode_payload(payload)))


def _parse_kind(kind: int) -> PacketKind:
    if isinstance(kind, bool) or not isinstance(kind, int):
        raise EncodingError(f"packet kind must be an int, got {type(kind).__name__}")
    try:
        return PacketKind(kind)
    except ValueError as exc:
        raise EncodingError(f"unknown packet kind {kind}") from exc


def _decoded(value: object, expected: type[_T], what: str) -> _T:
    """Narrow an ``eth_abi.decode`` output; a mismatch means eth_abi changed, not bad input."""
    if not isinstance(value, expected):
        raise EncodingError(f"decoded {what} has unexpected type {type(value).__name__}")
    return value


def _address_from_abi(value: object, what: str) -> Address:
    # eth_abi decodes addresses to checksummed hex strings.
    return as_address(_decoded(value, str, what))


def _payload_from_values(kind: PacketKind, values: tuple[object, ...]) -> Payload:
    if kind is PacketKind.VALSET_UPDATE:
        nonce, keys, powers = values
        return ValsetUpdatePayload(
            new_valset_nonce=_decoded(nonce, int, "newValsetNonce"),
            pubkeys=_decoded(keys, tuple, "pubkeys"),
            powers=_decoded(powers, tuple, "powers"),
        )
    if kind is PacketKind.REWARD_DISTRIBUTION:
        claim_id, avs, epoch, token, funding, total, leaf_count, root = values
        funding_code = _decoded(funding, int, "funding")
        if funding_code not in {mode.value for mode in FundingMode}:
            raise InvalidValueError(f"funding must be {_FUNDING_CHOICES}, got {funding_code}")
        return RewardDistributionPayload(
            claim_id=Hash32(_decoded(claim_id, bytes, "claimId")),
            avs=_address_from_abi(avs, "avs"),
            epoch=_decoded(epoch, int, "epoch"),
            token=_address_from_abi(token, "token"),
            funding=FundingMode(funding_code),
            total=Amount(_decoded(total, int, "total")),
            leaf_count=_decoded(leaf_count, int, "leafCount"),
            merkle_root=Hash32(_decoded(root, bytes, "merkleRoot")),
        )
    if kind is PacketKind.WITHDRAWAL_APPROVAL:
        epoch, token, total, leaf_count, root = values
        return WithdrawalApprovalPayload(
            epoch=_decoded(epoch, int, "epoch"),
            token=_address_from_abi(token, "token"),
            total=Amount(_decoded(total, int, "total")),
            leaf_count=_decoded(leaf_count, int, "leafCount"),
            merkle_root=Hash32(_decoded(root, bytes, "merkleRoot")),
        )
    if kind is PacketKind.CUMULATIVE_ROOT:
        return _cumulative_from_values(values)
    slash_id, operator, avs, tokens, amounts, freeze = values
    return SlashPayload(
        slash_id=Hash32(_decoded(slash_id, bytes, "slashId")),
        operator=_address_from_abi(operator, "operator"),
        avs=_address_from_abi(avs, "avs"),
        tokens=tuple(_address_from_abi(token, "token") for token in _decoded(tokens, tuple, "tokens")),
        amounts=_decoded(amounts, tuple, "amounts"),
        freeze=_decoded(freeze, bool, "freeze"),
    )


def _cumulative_from_values(values: tuple[object, ...]) -> CumulativeRootPayload:
    period, root, leaf_count, avss, tokens, fundings, funded = values
    avs_list = _decoded(avss, tuple, "avss")
    token_list = _decoded(tokens, tuple, "tokens")
    funding_list = _decoded(fundings, tuple, "fundings")
    funded_list = _decoded(funded, tuple, "funded")
    if not len(avs_list) == len(token_list) == len(funding_list) == len(funded_list):
        raise InvalidLengthError("cumulative root entry arrays differ in length")
    entries: list[CumulativeFunding] = []
    for position, (avs, token, mode, amount) in enumerate(
        zip(avs_list, token_list, funding_list, funded_list, strict=True)
    ):
        code = _decoded(mode, int, f"funding #{position}")
        if code not in {m.value for m in CUMULATIVE_FUNDING_MODES}:
            raise InvalidValueError(f"funding must be {_CUMULATIVE_CHOICES}, got {code}")
        entries.append(
            CumulativeFunding(
                avs=_address_from_abi(avs, "avs"),
                token=_address_from_abi(token, "token"),
                funding=FundingMode(code),
                funded=Amount(_decoded(amount, int, f"funded #{position}")),
            )
        )
    return CumulativeRootPayload(
        period=_decoded(period, int, "period"),
        root=Hash32(_decoded(root, bytes, "root")),
        leaf_count=_decoded(leaf_count, int, "leafCount"),
        entries=tuple(entries),
    )


def decode_payload(kind: int, data: bytes) -> Payload:
    """Decode payload bytes of packet ``kind``; strict inverse of :func:`encode_payload`.

    Raises :class:`EncodingError` for an unknown kind or bytes that are not the canonical encoding
    (truncated, trailing bytes, dirty padding, overflowing integers, bool not 0/1, odd offsets), and
    the payload's own validation errors (:class:`InvalidValueError`, ...) for well-formed bytes that
    break a payload rule.
    """
    packet_kind = _parse_kind(kind)
    if not isinstance(data, bytes | bytearray | memoryview):
        raise EncodingError(f"payload must be bytes, got {type(data).__name__}")
    raw = bytes(data)
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise EncodingError(f"payload of {len(raw)} bytes exceeds the {MAX_PAYLOAD_BYTES}-byte limit")
    types = PAYLOAD_ABI_TYPES[packet_kind]
    try:
        values = abi_decode(types, raw, strict=True)
    except (DecodingError, OverflowError) as exc:  # eth_abi overflows on absurd length words
        raise EncodingError(f"malformed {packet_kind.name} payload: {exc}") from exc
    payload = _payload_from_values(packet_kind, values)
    canonical = encode_payload(payload)
    if canonical != raw:
        if len(raw) > len(canonical) and raw.startswith(canonical):
            raise EncodingError(f"{packet_kind.name} payload has {len(raw) - len(canonical)} trailing bytes")
        raise EncodingError(f"{packet_kind.name} payload is not canonically ABI-encoded")
    return payload


def packet_digest(
    *,
    l1_chain_id: int,
    gateway: Address,
    exocore_chain: Hash32,
    valset_nonce: int,
    kind: PacketKind,
    nonce: int,
    payload_hash: Hash32,
) -> Hash32:
    """The 32-byte digest the validator set signs (see module docstring for the exact layout)."""
    check_uint(l1_chain_id, 256, "l1ChainId")
    check_uint(valset_nonce, 64, "valsetNonce")
    check_uint(nonce, 64, "nonce")
    encoded = abi_encode(
        _DIGEST_TYPES,
        (
            DOMAIN,
            l1_chain_id,
            as_address(gateway),
            as_hash32(exocore_chain),
            valset_nonce,
            int(_parse_kind(kind)),
            nonce,
            as_hash32(payload_hash),
        ),
    )
    return Hash32(keccak(encoded))


def distribution_id(exocore_chain: Hash32, nonce: int) -> Hash32:
    """``keccak256(abi.encode(bytes32 exocoreChain, uint64 nonce))``: the gateway's key of a distribution."""
    check_uint(nonce, 64, "nonce")
    return Hash32(keccak(abi_encode(_DISTRIBUTION_ID_TYPES, (as_hash32(exocore_chain), nonce))))


@dataclass(frozen=True, slots=True)
class ClientChain:
    """Where a packet goes: an L1 (EIP-155 chain id) and the gateway on it. Both enter the packet's
    digest, so a packet verifies at this one gateway of this one chain and nowhere else."""

    l1_chain_id: int
    gateway: Address

    def __post_init__(self) -> None:
        check_uint(self.l1_chain_id, 256, "l1ChainId")
        object.__setattr__(self, "gateway", as_address(self.gateway))

    def __str__(self) -> str:
        return f"chain {self.l1_chain_id} gateway 0x{bytes(self.gateway).hex()}"


@dataclass(frozen=True)
class Packet:
    """One relay packet: where it goes, who signs it (``valset_nonce``), its nonce and payload.

    ``nonce`` is unique per (exocore chain, L1 chain, gateway). Derived values (payload bytes,
    hashes, digest) are computed once per instance.
    """

    exocore_chain: Hash32
    l1_chain_id: int
    gateway: Address
    valset_nonce: int
    nonce: int
    payload: Payload

    def __post_init__(self) -> None:
        _set(self, "exocore_chain", as_hash32(self.exocore_chain))
        check_uint(self.l1_chain_id, 256, "l1ChainId")
        _set(self, "gateway", as_address(self.gateway))
        check_uint(self.valset_nonce, 64, "valsetNonce")
        check_uint(self.nonce, 64, "nonce")
        if not isinstance(
            self.payload,
            ValsetUpdatePayload
            | RewardDistributionPayload
            | SlashPayload
            | WithdrawalApprovalPayload
            | CumulativeRootPayload,
        ):
            raise InvalidValueError(f"unsupported payload type {type(self.payload).__name__}")

    @property
    def kind(self) -> PacketKind:
        return self.payload.kind

    @property
    def destination(self) -> ClientChain:
        """The client chain this packet is for (and the only one it verifies on)."""
        return ClientChain(self.l1_chain_id, self.gateway)

    @cached_property
    def payload_bytes(self) -> bytes:
        return encode_payload(self.payload)

    @cached_property
    def payload_hash(self) -> Hash32:
        return Hash32(keccak(self.payload_bytes))

    @cached_property
    def digest(self) -> Hash32:
        return packet_digest(
            l1_chain_id=self.l1_chain_id,
            gateway=self.gateway,
            exocore_chain=self.exocore_chain,
            valset_nonce=self.valset_nonce,
            kind=self.kind,
            nonce=self.nonce,
            payload_hash=self.payload_hash,
        )

    @property
    def distribution_id(self) -> Hash32:
        """The L1 id of this packet's leaves: a REWARD_DISTRIBUTION's distribution (gateway) or a
        WITHDRAWAL_APPROVAL's approval batch (restaking vault); both ``keccak256(abi.encode(
        exocoreChain, nonce))``. Other kinds have none."""
        if self.kind not in (PacketKind.REWARD_DISTRIBUTION, PacketKind.WITHDRAWAL_APPROVAL):
            raise InvalidValueError(f"a {self.kind.name} packet has no distribution id")
        return distribution_id(self.exocore_chain, self.nonce)

    @classmethod
    def from_payload_bytes(
        cls,
        *,
        exocore_chain: Hash32,
        l1_chain_id: int,
        gateway: Address,
        valset_nonce: int,
        nonce: int,
        kind: int,
        payload_bytes: bytes,
    ) -> Packet:
        """Rebuild a packet from its wire form (kind + payload bytes), decoding strictly."""
        return cls(
            exocore_chain=exocore_chain,
            l1_chain_id=l1_chain_id,
            gateway=gateway,
            valset_nonce=valset_nonce,
            nonce=nonce,
            payload=decode_payload(kind, payload_bytes),
        )


GATEWAY_MAX_VALIDATORS: Final = 190
"""The gateway stores a valset as one data contract's code; EIP-170 (24,576 B) bounds it to 190 members."""

GATEWAY_MAX_DISTRIBUTION_TOTAL: Final = (1 << 128) - 1
"""The gateway packs a distribution's total and paid sum into one slot, so totals must fit uint128."""


def check_gateway_limits(payload: Payload) -> None:
    """Raise :class:`InvalidValueError` if the L1 gateway would refuse a payload this module accepts.

    The wire format allows more than the deployed gateway stores (docs/protocol.md §6, deviations 2
    and 3); checking here lets the relayer refuse such a packet before it spends gas on it.
    """
    if isinstance(payload, ValsetUpdatePayload) and len(payload.pubkeys) > GATEWAY_MAX_VALIDATORS:
        raise InvalidValueError(
            f"valset of {len(payload.pubkeys)} members exceeds the gateway's {GATEWAY_MAX_VALIDATORS}"
        )
    if isinstance(payload, RewardDistributionPayload) and payload.total > GATEWAY_MAX_DISTRIBUTION_TOTAL:
        raise InvalidValueError(f"distribution total {payload.total} does not fit the gateway's uint128")
    if isinstance(payload, WithdrawalApprovalPayload) and payload.total > GATEWAY_MAX_DISTRIBUTION_TOTAL:
        raise InvalidValueError(f"withdrawal approval total {payload.total} does not fit the vault's uint128")
