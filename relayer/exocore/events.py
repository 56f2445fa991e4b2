"""ABCI events of committed blocks, decoded into typed, validated records.

Each event type the relayer understands is **one declarative spec**: a frozen dataclass whose fields
name the attribute they come from and its kind, registered under the event type::

    @event_type("operator_asset_slashed")
    @dataclass(frozen=True, slots=True)
    class OperatorAssetSlashed(ExocoreEvent):
        operator: Annotated[OperatorAddress, OPERATOR]
        asset_id: Annotated[AssetId, ASSET_ID]
        amount: Annotated[Amount, AMOUNT]

The field name is the attribute key unless the kind says otherwise (``ADDRESS.at("avs_address")``);
a field with the default ``None`` is optional (the chain may omit the attribute). Aligning with the
chain is an edit of that field list. Cross-field rules go in ``__post_init__`` and raise a
:class:`~relayer.errors.ProtocolError`.

Decoding never raises out of a block: every event becomes exactly one of

- a typed :class:`ExocoreEvent` subclass,
- an :class:`UnknownEvent` (type not registered; ``well_known`` marks standard Cosmos SDK and
  staking bookkeeping types the relayer deliberately ignores), or
- a :class:`RejectedEvent` (registered type with missing, repeated or invalid attributes, or
  emitted by a failed transaction), carrying the typed error and the raw attributes,

and the caller records the last two. Attribute keys and values are plain strings since CometBFT
0.37; 0.34 nodes sent both base64-encoded, which is detected per event (every key is canonical
base64 of an identifier) and decoded. Extra attributes the spec does not name are ignored (the
chain may add attributes without breaking the relayer); they stay in ``raw_attributes``.

Attribute formats assumed (docs: the devnet chain's ``devnet/chain/events.py``): addresses, ids and
hashes ``0x`` hex; amounts, powers, nonces, epochs decimal integers; operators bech32 (``exo1…`` /
``im1…``); proportions decimal strings (``"0.05"``); lists comma-separated.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Annotated, Any, ClassVar, Final, TypeVar, get_type_hints

from relayer.errors import ExorelayError, ProtocolError
from relayer.exocore.errors import MalformedEventError
from relayer.exocore.rpc import BlockResults, CommittedBlock, RawAttribute, RawEvent, TxResult
from relayer.protocol.claims import parse_proportion
from relayer.protocol.errors import InvalidValueError
from relayer.protocol.evidence import MAX_EVIDENCE_BYTES
from relayer.protocol.ids import AssetId, OperatorAddress, StakerId
from relayer.protocol.kinds import SlashKind
from relayer.protocol.packets import FundingMode, PacketKind
from relayer.protocol.quorum import Threshold
from relayer.protocol.types import (
    Address,
    Amount,
    Hash32,
    Power,
    as_address,
    as_amount,
    as_hash32,
    as_power,
    check_uint,
)

# --- where an event sits in its block --------------------------------------------------------------


class EventSource(StrEnum):
    BEGIN_BLOCK = "begin_block"
    TX = "tx"
    END_BLOCK = "end_block"
    FINALIZE_BLOCK = "finalize_block"


@dataclass(frozen=True, slots=True)
class EventPosition:
    """Where an event was emitted: ``(height, source, tx_index, event_index)`` identifies it.

    ``event_index`` counts within its list (the begin-block events, one tx's events, ...).
    """

    height: int
    source: EventSource
    event_index: int
    tx_index: int | None = None
    tx_hash: bytes | None = None
    """SHA-256 of the raw tx (CometBFT's tx hash) for TX events, when the block was given."""


# --- attribute kinds ---------------------------------------------------------------------------------

_UINT = re.compile(r"0|[1-9][0-9]*")
_HEX_BODY = re.compile(r"[0-9a-fA-F]*")
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_.]*")
# Longest decimal integer accepted (uint256 has 78 digits); bounds int() work on hostile input.
MAX_INTEGER_DIGITS: Final = 78
# Longest list attribute accepted, in items; a committee or slash never comes close.
MAX_LIST_ITEMS: Final = 10_000

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class AttributeKind:
    """How one attribute value is parsed; ``parse`` raises a ProtocolError on bad input."""

    name: str
    parse: Callable[[str], Any]

    def at(self, key: str) -> KeyedKind:
        """This kind, read from attribute ``key`` instead of the field's name."""
        return KeyedKind(self, key)


@dataclass(frozen=True, slots=True)
class KeyedKind:
    kind: AttributeKind
    key: str


def _uint(bits: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if len(text) > MAX_INTEGER_DIGITS or not _UINT.fullmatch(text):
            raise InvalidValueError(f"{text[:40]!r} is not a canonical decimal integer")
        return check_uint(int(text), bits, "value")

    return parse


def _hash32(text: str) -> Hash32:
    body = text[2:] if text.startswith("0x") else text
    if len(body) != 64 or not _HEX_BODY.fullmatch(body):
        raise InvalidValueError(f"{text[:80]!r} is not a 32-byte hex hash")
    return as_hash32(bytes.fromhex(body))


def _address(text: str) -> Address:
    if not text.startswith("0x") or len(text) != 42 or not _HEX_BODY.fullmatch(text[2:]):
        raise InvalidValueError(f"{text[:60]!r} is not a 0x-prefixed 20-byte address")
    return as_address(text)


def _bool(text: str) -> bool:
    if text not in ("true", "false"):
        raise InvalidValueError(f"{text[:20]!r} is not 'true' or 'false'")
    return text == "true"


def _text(text: str) -> str:
    if not text:
        raise InvalidValueError("must not be empty")
    return text


def _enum(enum: type[IntEnum], bits: int) -> Callable[[str], Any]:
    parse_int = _uint(bits)

    def parse(text: str) -> Any:
        value = parse_int(text)
        try:
            return enum(value)
        except ValueError as exc:
            raise InvalidValueError(f"{value} is not a {enum.__name__}") from exc

    return parse


def _list_of(item: Callable[[str], T]) -> Callable[[str], tuple[T, ...]]:
    def parse(text: str) -> tuple[T, ...]:
        if not text:
            return ()
        parts = text.split(",")
        if len(parts) > MAX_LIST_ITEMS:
            raise InvalidValueError(f"list of {len(parts)} items exceeds {MAX_LIST_ITEMS}")
        values = []
        for position, part in enumerate(parts):
            try:
                values.append(item(part))
            except ProtocolError as exc:
                raise InvalidValueError(f"item #{position}: {exc}") from exc
        return tuple(values)

    return parse


def _slash_kind(text: str) -> SlashKind:
    try:
        return SlashKind(text)
    except ValueError as exc:
        raise InvalidValueError(f"{text[:40]!r} is not one of {[k.value for k in SlashKind]}") from exc


def _evidence(text: str) -> bytes:
    if not text.startswith("0x") or len(text) > 2 + 2 * MAX_EVIDENCE_BYTES:
        raise InvalidValueError(f"evidence is 0x hex of at most {MAX_EVIDENCE_BYTES} bytes")
    try:
        return bytes.fromhex(text[2:])
    except ValueError as exc:
        raise InvalidValueError(f"evidence is not hex: {exc}") from exc


UINT32: Final = AttributeKind("uint32", _uint(32))
UINT64: Final = AttributeKind("uint64", _uint(64))
AMOUNT: Final = AttributeKind("amount (uint256)", lambda text: as_amount(_uint(256)(text)))
POWER: Final = AttributeKind("power (uint256)", lambda text: as_power(_uint(256)(text)))
HASH32: Final = AttributeKind("32-byte hex", _hash32)
ADDRESS: Final = AttributeKind("0x address", _address)
OPERATOR: Final = AttributeKind("bech32 operator", OperatorAddress.parse)
ASSET_ID: Final = AttributeKind("assetID", AssetId.parse)
STAKER_ID: Final = AttributeKind("stakerID", StakerId.parse)
BOOL: Final = AttributeKind("bool", _bool)
TEXT: Final = AttributeKind("non-empty text", _text)
ANY_TEXT: Final = AttributeKind("text", lambda text: text)
_KINDS: Final = (AttributeKind, KeyedKind)
PROPORTION: Final = AttributeKind("proportion in (0, 1] (18-decimal fixed point)", parse_proportion)
THRESHOLD: Final = AttributeKind("threshold num/den", Threshold.parse)
FUNDING: Final = AttributeKind("funding mode", _enum(FundingMode, 8))
PACKET_KIND: Final = AttributeKind("packet kind", _enum(PacketKind, 8))
SLASH_KIND: Final = AttributeKind("slash kind", _slash_kind)
EVIDENCE: Final = AttributeKind("0x evidence bytes", _evidence)
OPERATORS: Final = AttributeKind("comma-separated bech32 operators", _list_of(OperatorAddress.parse))
POWERS: Final = AttributeKind("comma-separated powers", _list_of(POWER.parse))
ADDRESSES: Final = AttributeKind("comma-separated 0x addresses", _list_of(_address))
AMOUNTS: Final = AttributeKind("comma-separated amounts", _list_of(AMOUNT.parse))


@dataclass(frozen=True, slots=True)
class AttributeSpec:
    """One field of an event spec: attribute ``key`` parsed as ``kind`` into ``field``."""

    key: str
    field: str
    kind: AttributeKind
    optional: bool


# --- records -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExocoreEvent:
    """Base of every typed event; ``TYPE`` is the ABCI event type it decodes."""

    TYPE: ClassVar[str] = ""

    position: EventPosition

    @property
    def height(self) -> int:
        return self.position.height


@dataclass(frozen=True, slots=True)
class UnknownEvent:
    """An event of a type no spec is registered for (attributes as decoded strings)."""

    position: EventPosition
    type: str
    attributes: tuple[tuple[str, str], ...]
    well_known: bool
    """A standard type the relayer deliberately ignores (``message``, ``transfer``, ...)."""


@dataclass(frozen=True, slots=True)
class RejectedEvent:
    """A registered event type that could not be decoded; recorded, never raised."""

    position: EventPosition
    type: str
    attributes: tuple[tuple[str, str], ...]
    error: ExorelayError = field(compare=False)

    @property
    def reason(self) -> str:
        return str(self.error)


DecodedEvent = ExocoreEvent | UnknownEvent | RejectedEvent

E = TypeVar("E", bound=ExocoreEvent)

_SPECS: dict[str, tuple[type[ExocoreEvent], tuple[AttributeSpec, ...]]] = {}


def event_type(name: str) -> Callable[[type[E]], type[E]]:
    """Register a dataclass (fields declared with :func:`attr`) as the decoder of events ``name``."""

    def register(cls: type[E]) -> type[E]:
        if name in _SPECS:
            raise TypeError(f"event type {name!r} is registered twice")
        hints = get_type_hints(cls, include_extras=True)
        specs = []
        for item in dataclasses.fields(cls):
            if item.name == "position":
                continue
            declared = [m for m in getattr(hints[item.name], "__metadata__", ()) if isinstance(m, _KINDS)]
            if len(declared) != 1:
                raise TypeError(f"{cls.__name__}.{item.name} needs Annotated[T, <AttributeKind>]")
            marker: AttributeKind | KeyedKind = declared[0]
            if isinstance(marker, KeyedKind):
                kind, key = marker.kind, marker.key
            else:
                kind, key = marker, item.name
            specs.append(AttributeSpec(key, item.name, kind, optional=item.default is None))
        cls.TYPE = name
        _SPECS[name] = (cls, tuple(specs))
        return cls

    return register


def registered_types() -> dict[str, type[ExocoreEvent]]:
    """Event type -> its dataclass, for documentation and tests."""
    return {name: cls for name, (cls, _) in _SPECS.items()}


def attribute_specs(name: str) -> tuple[AttributeSpec, ...]:
    return _SPECS[name][1]


# --- the specs (attribute lists as the chain emits them) -------------------------------------------


@event_type("committee_elected")
@dataclass(frozen=True, slots=True)
class CommitteeElected(ExocoreEvent):
    """A new committee for ``avs`` from ``epoch`` on (begin block of the epoch's first block)."""

    avs: Annotated[Address, ADDRESS]
    epoch: Annotated[int, UINT64]
    member_count: Annotated[int, UINT32]
    total_power: Annotated[Power, POWER]
    claim_threshold: Annotated[Threshold, THRESHOLD]
    operators: Annotated[tuple[OperatorAddress, ...], OPERATORS]
    powers: Annotated[tuple[Power, ...], POWERS]

    def __post_init__(self) -> None:
        if not len(self.operators) == len(self.powers) == self.member_count:
            raise InvalidValueError(
                f"member_count {self.member_count} but {len(self.operators)} operators, "
                f"{len(self.powers)} powers"
            )
        if sum(self.powers) != self.total_power:
            raise InvalidValueError(f"powers sum to {sum(self.powers)}, total_power is {self.total_power}")


@event_type("reward_claim_submitted")
@dataclass(frozen=True, slots=True)
class RewardClaimSubmitted(ExocoreEvent):
    claim_id: Annotated[Hash32, HASH32]
    avs: Annotated[Address, ADDRESS]
    epoch: Annotated[int, UINT64]
    token: Annotated[Address, ADDRESS]
    amount: Annotated[Amount, AMOUNT]
    tasks_root: Annotated[Hash32, HASH32]


@event_type("reward_claim_verified")
@dataclass(frozen=True, slots=True)
class RewardClaimVerified(ExocoreEvent):
    claim_id: Annotated[Hash32, HASH32]
    avs: Annotated[Address, ADDRESS]
    epoch: Annotated[int, UINT64]
    signed_power: Annotated[Power, POWER]
    total_power: Annotated[Power, POWER]
    signer_count: Annotated[int, UINT32]

    def __post_init__(self) -> None:
        if self.signed_power > self.total_power:
            raise InvalidValueError(f"signed power {self.signed_power} exceeds total {self.total_power}")


@event_type("reward_claim_rejected")
@dataclass(frozen=True, slots=True)
class RewardClaimRejected(ExocoreEvent):
    claim_id: Annotated[Hash32, HASH32]
    avs: Annotated[Address, ADDRESS]
    epoch: Annotated[int, UINT64]
    reason: Annotated[str, TEXT]
    detail: Annotated[str | None, ANY_TEXT] = None


@event_type("allocate_rewards_to_operator")
@dataclass(frozen=True, slots=True)
class AllocateRewardsToOperator(ExocoreEvent):
    """Upstream x/feedistribution event. Amounts are token base units (upstream writes DecCoins)."""

    avs: Annotated[Address, ADDRESS.at("avs_address")]
    operator: Annotated[OperatorAddress, OPERATOR]
    operator_total_reward: Annotated[Amount, AMOUNT]
    operator_commission: Annotated[Amount, AMOUNT]

    def __post_init__(self) -> None:
        if self.operator_commission > self.operator_total_reward:
            raise InvalidValueError("operator commission exceeds the operator's total reward")


@event_type("reward_distribution_finalized")
@dataclass(frozen=True, slots=True)
class RewardDistributionFinalized(ExocoreEvent):
    """A verified claim's distribution exists; its REWARD_DISTRIBUTION packet has ``nonce``."""

    claim_id: Annotated[Hash32, HASH32]
    distribution_id: Annotated[Hash32, HASH32]
    nonce: Annotated[int, UINT64]
    avs: Annotated[Address, ADDRESS]
    epoch: Annotated[int, UINT64]
    token: Annotated[Address, ADDRESS]
    funding: Annotated[FundingMode, FUNDING]
    total: Annotated[Amount, AMOUNT]
    leaf_count: Annotated[int, UINT32]
    merkle_root: Annotated[Hash32, HASH32]
    community_tax: Annotated[Amount | None, AMOUNT] = None
    dust: Annotated[Amount | None, AMOUNT] = None


@event_type("reward_distribution_accrued")
@dataclass(frozen=True, slots=True)
class RewardDistributionAccrued(ExocoreEvent):
    """A cumulative-payout AVS's verified claim: its distribution's amounts were added to the earners'
    cumulative earnings (no REWARD_DISTRIBUTION packet, so no nonce); they are paid against the
    CUMULATIVE_ROOT of ``period`` or a later one."""

    claim_id: Annotated[Hash32, HASH32]
    avs: Annotated[Address, ADDRESS]
    epoch: Annotated[int, UINT64]
    token: Annotated[Address, ADDRESS]
    funding: Annotated[FundingMode, FUNDING]
    total: Annotated[Amount, AMOUNT]
    leaf_count: Annotated[int, UINT32]
    period: Annotated[int, UINT64]
    community_tax: Annotated[Amount | None, AMOUNT] = None
    dust: Annotated[Amount | None, AMOUNT] = None


@event_type("slash_request_submitted")
@dataclass(frozen=True, slots=True)
class SlashRequestSubmitted(ExocoreEvent):
    slash_id: Annotated[Hash32, HASH32]
    operator: Annotated[OperatorAddress, OPERATOR]
    avs: Annotated[Address, ADDRESS]
    kind: Annotated[SlashKind, SLASH_KIND]
    proportion: Annotated[int, PROPORTION]
    freeze: Annotated[bool, BOOL]
    evidence: Annotated[bytes | None, EVIDENCE] = None
    """The evidence bytes the slash is judged on (absent: equivocation shown as two responses)."""


@event_type("slash_request_rejected")
@dataclass(frozen=True, slots=True)
class SlashRequestRejected(ExocoreEvent):
    slash_id: Annotated[Hash32, HASH32]
    operator: Annotated[OperatorAddress, OPERATOR]
    avs: Annotated[Address, ADDRESS]
    reason: Annotated[str, TEXT]
    detail: Annotated[str | None, ANY_TEXT] = None


@event_type("slash_executed")
@dataclass(frozen=True, slots=True)
class SlashExecuted(ExocoreEvent):
    """Stake deducted (and the operator frozen for ``avs`` if ``freeze``); SLASH packet ``packet_nonce``."""

    slash_id: Annotated[Hash32, HASH32]
    operator: Annotated[OperatorAddress, OPERATOR]
    operator_address: Annotated[Address, ADDRESS]
    avs: Annotated[Address, ADDRESS]
    proportion: Annotated[int, PROPORTION]
    freeze: Annotated[bool, BOOL]
    packet_nonce: Annotated[int, UINT64]
    tokens: Annotated[tuple[Address, ...], ADDRESSES]
    amounts: Annotated[tuple[Amount, ...], AMOUNTS]

    def __post_init__(self) -> None:
        if len(self.tokens) != len(self.amounts):
            raise InvalidValueError(f"{len(self.tokens)} tokens but {len(self.amounts)} amounts")
        if len(set(self.tokens)) != len(self.tokens):
            raise InvalidValueError("a token is named twice")
        if self.operator.address != self.operator_address:
            raise InvalidValueError("operator and operator_address are different accounts")


@event_type("operator_asset_slashed")
@dataclass(frozen=True, slots=True)
class OperatorAssetSlashed(ExocoreEvent):
    """Upstream x/operator event: ``amount`` of ``asset_id`` taken from the operator's pool."""

    operator: Annotated[OperatorAddress, OPERATOR]
    asset_id: Annotated[AssetId, ASSET_ID]
    amount: Annotated[Amount, AMOUNT]


@event_type("undelegation_slashed")
@dataclass(frozen=True, slots=True)
class UndelegationSlashed(ExocoreEvent):
    """Upstream x/operator event: a pending undelegation cut from ``amount`` by ``slash_amount``."""

    record_id: Annotated[str, TEXT]
    amount: Annotated[Amount, AMOUNT]
    slash_amount: Annotated[Amount, AMOUNT]

    def __post_init__(self) -> None:
        if self.slash_amount > self.amount:
            raise InvalidValueError(f"slash_amount {self.slash_amount} exceeds the undelegated {self.amount}")


@event_type("freeze_operator")
@dataclass(frozen=True, slots=True)
class FreezeOperator(ExocoreEvent):
    """Upstream x/operator event (``frozen_or_unfrozen`` = "true"/"false"); exorelay adds the AVS."""

    operator: Annotated[OperatorAddress, OPERATOR]
    frozen: Annotated[bool, BOOL.at("frozen_or_unfrozen")]
    avs: Annotated[Address | None, ADDRESS.at("avs_address")] = None


@event_type("relay_packet_created")
@dataclass(frozen=True, slots=True)
class RelayPacketCreated(ExocoreEvent):
    """A relay packet to fetch (``exocore.relay.v1.Query/Packet``), sign-checked and relayed."""

    nonce: Annotated[int, UINT64]
    kind: Annotated[PacketKind, PACKET_KIND]
    valset_nonce: Annotated[int, UINT64]
    digest: Annotated[Hash32, HASH32]
    payload_hash: Annotated[Hash32, HASH32]
    kind_name: Annotated[str | None, TEXT] = None

    def __post_init__(self) -> None:
        if self.kind_name is not None and self.kind_name != self.kind.name:
            raise InvalidValueError(f"kind_name {self.kind_name!r} does not match kind {int(self.kind)}")


@event_type("valset_updated")
@dataclass(frozen=True, slots=True)
class ValsetUpdated(ExocoreEvent):
    """A new validator set signs packets from now on; its VALSET_UPDATE packet is ``packet_nonce``."""

    valset_nonce: Annotated[int, UINT64]
    member_count: Annotated[int, UINT32]
    total_power: Annotated[Power, POWER]
    previous_valset_nonce: Annotated[int | None, UINT64] = None
    packet_nonce: Annotated[int | None, UINT64] = None

    def __post_init__(self) -> None:
        if self.previous_valset_nonce is not None and self.previous_valset_nonce >= self.valset_nonce:
            raise InvalidValueError(
                f"valset nonce {self.valset_nonce} does not increase from {self.previous_valset_nonce}"
            )


# Types the relayer knows exist and deliberately does not decode: Cosmos SDK / Ethermint standard
# events and stake bookkeeping (delegations, registrations, prices) that no relayed packet depends on.
WELL_KNOWN_UNDECODED_TYPES: Final = frozenset(
    {
        "message",
        "tx",
        "transfer",
        "coin_spent",
        "coin_received",
        "coinbase",
        "burn",
        "mint",
        "commission",
        "rewards",
        "proposer_reward",
        "liveness",
        "ethereum_tx",
        "tx_log",
        "fee_market",
        "block_gas",
        "operator_registered",
        "avs_created",
        "operator_opted_in",
        "operator_opted_out",
        "delegation",
        "undelegation_started",
        "undelegation_completed",
        "price_updated",
    }
)


# --- decoding ---------------------------------------------------------------------------------------


def _canonical_b64(text: str) -> bytes | None:
    if not text or len(text) % 4:
        return None
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if base64.b64encode(raw).decode("ascii") == text else None


def _is_base64_encoded(attributes: Sequence[RawAttribute]) -> bool:
    """0.34 style: every key is canonical base64 of an identifier (a plain key never is)."""
    if not attributes:
        return False
    for attribute in attributes:
        raw = _canonical_b64(attribute.key)
        if raw is None or not raw.isascii() or not _IDENTIFIER.fullmatch(raw.decode("ascii")):
            return False
    return True


def plain_attributes(event: RawEvent) -> tuple[tuple[str, str], ...]:
    """The event's ``(key, value)`` pairs as strings, base64 (CometBFT 0.34) decoded if used.

    Raises :class:`MalformedEventError` if the keys are base64 but a value is not base64 UTF-8.
    """
    attributes = event.attributes
    if not _is_base64_encoded(attributes):
        return tuple((a.key, a.value) for a in attributes)
    pairs = []
    for attribute in attributes:
        key = base64.b64decode(attribute.key).decode("ascii")
        try:
            value = base64.b64decode(attribute.value, validate=True).decode("utf-8")
        except (binascii.Error, ValueError) as exc:
            raise MalformedEventError(
                f"{event.type}: attribute {key!r} is base64-keyed but its value is not base64 UTF-8"
            ) from exc
        pairs.append((key, value))
    return tuple(pairs)


def decode_event(event: RawEvent, position: EventPosition, *, tx_failed: bool = False) -> DecodedEvent:
    """One raw event -> a typed event, an :class:`UnknownEvent` or a :class:`RejectedEvent`."""
    registered = _SPECS.get(event.type)
    raw_pairs = tuple((a.key, a.value) for a in event.attributes)
    try:
        pairs = plain_attributes(event)
    except MalformedEventError as error:
        if registered is None:
            return UnknownEvent(position, event.type, raw_pairs, event.type in WELL_KNOWN_UNDECODED_TYPES)
        return RejectedEvent(position, event.type, raw_pairs, error)
    if registered is None:
        return UnknownEvent(position, event.type, pairs, event.type in WELL_KNOWN_UNDECODED_TYPES)
    if tx_failed:
        reverted = MalformedEventError(
            f"{event.type} emitted by a failed transaction: its state changes were reverted"
        )
        return RejectedEvent(position, event.type, pairs, reverted)
    cls, specs = registered
    try:
        return _build(cls, specs, event.type, pairs, position)
    except ExorelayError as error:
        return RejectedEvent(position, event.type, pairs, error)
    except (ValueError, TypeError, ArithmeticError) as exc:  # a parser outside our error tree
        wrapped = MalformedEventError(f"{event.type}: {type(exc).__name__}: {exc}")
        wrapped.__cause__ = exc
        return RejectedEvent(position, event.type, pairs, wrapped)


def _build(
    cls: type[ExocoreEvent],
    specs: Sequence[AttributeSpec],
    event_name: str,
    pairs: Sequence[tuple[str, str]],
    position: EventPosition,
) -> ExocoreEvent:
    values: dict[str, list[str]] = {}
    for key, value in pairs:
        values.setdefault(key, []).append(value)
    kwargs: dict[str, Any] = {}
    for spec in specs:
        found = values.get(spec.key, [])
        if len(found) > 1:
            raise MalformedEventError(f"{event_name}: attribute {spec.key!r} appears {len(found)} times")
        if not found:
            if spec.optional:
                continue
            raise MalformedEventError(f"{event_name}: missing attribute {spec.key!r}")
        try:
            kwargs[spec.field] = spec.kind.parse(found[0])
        except ProtocolError as exc:
            shown = found[0][:80]
            raise MalformedEventError(
                f"{event_name}: attribute {spec.key!r} = {shown!r} is not a valid {spec.kind.name}: {exc}"
            ) from exc
    try:
        return cls(position=position, **kwargs)
    except ProtocolError as exc:
        raise MalformedEventError(f"{event_name}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class BlockEvents:
    """Every event of one block, in emission order, split by outcome."""

    height: int
    block_hash: bytes
    time_ns: int
    events: tuple[ExocoreEvent, ...]
    unknown: tuple[UnknownEvent, ...]
    rejected: tuple[RejectedEvent, ...]

    def of_type(self, cls: type[E]) -> tuple[E, ...]:
        return tuple(event for event in self.events if isinstance(event, cls))


def _is_end_block_mode(event: RawEvent) -> bool:
    """0.38 ``finalize_block_events`` tag each event with ``mode`` = BeginBlock / EndBlock."""
    return any(a.key == "mode" and a.value == "EndBlock" for a in event.attributes)


def _positioned(
    height: int, results: BlockResults, tx_hashes: Sequence[bytes] | None
) -> Iterable[tuple[RawEvent, EventPosition, bool]]:
    """Events in execution order: begin block, txs, end block (0.38: by their ``mode`` tag)."""
    finalize = list(enumerate(results.finalize_block_events))
    for index, event in enumerate(results.begin_block_events):
        yield event, EventPosition(height, EventSource.BEGIN_BLOCK, index), False
    for index, event in finalize:
        if not _is_end_block_mode(event):
            yield event, EventPosition(height, EventSource.FINALIZE_BLOCK, index), False
    for tx_index, tx in enumerate(results.txs_results):
        yield from _tx_events(height, tx_index, tx, tx_hashes)
    for index, event in enumerate(results.end_block_events):
        yield event, EventPosition(height, EventSource.END_BLOCK, index), False
    for index, event in finalize:
        if _is_end_block_mode(event):
            yield event, EventPosition(height, EventSource.FINALIZE_BLOCK, index), False


def _tx_events(
    height: int, tx_index: int, tx: TxResult, tx_hashes: Sequence[bytes] | None
) -> Iterable[tuple[RawEvent, EventPosition, bool]]:
    tx_hash = tx_hashes[tx_index] if tx_hashes is not None and tx_index < len(tx_hashes) else None
    for index, event in enumerate(tx.events):
        yield event, EventPosition(height, EventSource.TX, index, tx_index, tx_hash), not tx.ok


def decode_results(
    results: BlockResults,
    *,
    block_hash: bytes = b"",
    time_ns: int = 0,
    tx_hashes: Sequence[bytes] | None = None,
) -> BlockEvents:
    """Decode every event of ``block_results``; never raises for event content."""
    typed: list[ExocoreEvent] = []
    unknown: list[UnknownEvent] = []
    rejected: list[RejectedEvent] = []
    for raw, position, failed in _positioned(results.height, results, tx_hashes):
        decoded = decode_event(raw, position, tx_failed=failed)
        if isinstance(decoded, UnknownEvent):
            unknown.append(decoded)
        elif isinstance(decoded, RejectedEvent):
            rejected.append(decoded)
        else:
            typed.append(decoded)
    return BlockEvents(results.height, block_hash, time_ns, tuple(typed), tuple(unknown), tuple(rejected))


def decode_block_events(block: CommittedBlock) -> BlockEvents:
    """Decode a followed block's events, with tx hashes and the block's hash and time."""
    return decode_results(
        block.results, block_hash=block.hash, time_ns=block.time_ns, tx_hashes=block.block.tx_hashes
    )


__all__ = [
    "AllocateRewardsToOperator",
    "AttributeKind",
    "AttributeSpec",
    "BlockEvents",
    "CommitteeElected",
    "DecodedEvent",
    "EventPosition",
    "EventSource",
    "ExocoreEvent",
    "FreezeOperator",
    "KeyedKind",
    "OperatorAssetSlashed",
    "RejectedEvent",
    "RelayPacketCreated",
    "RewardClaimRejected",
    "RewardClaimSubmitted",
    "RewardClaimVerified",
    "RewardDistributionAccrued",
    "RewardDistributionFinalized",
    "SlashExecuted",
    "SlashKind",
    "SlashRequestRejected",
    "SlashRequestSubmitted",
    "UndelegationSlashed",
    "UnknownEvent",
    "ValsetUpdated",
    "attribute_specs",
    "decode_block_events",
    "decode_event",
    "decode_results",
    "event_type",
    "plain_attributes",
    "registered_types",
]
