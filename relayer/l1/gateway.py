"""The L1 ``ExocoreGateway``: read-only views, calldata encoders and revert decoding.

Everything is driven by the committed ABI artifacts (:func:`relayer.l1.artifacts.load_artifact`):
function selectors and argument types are read from them once, so a contract change that alters an
entry point fails loudly at import instead of producing calldata the gateway would reject.

Encoders are pure (no IO) and use ``eth_abi`` directly; the transaction manager sends what they
build. :func:`decode_revert` names every custom error of the gateway, its vaults and the tokens
(plus ``Error(string)`` and ``Panic(uint256)``) from raw revert data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_abi.exceptions import DecodingError
from eth_utils.crypto import keccak

from relayer.l1.artifacts import AbiEntry, ContractName, load_artifact
from relayer.l1.client import BlockId, L1Client
from relayer.l1.errors import MalformedResponseError
from relayer.protocol.cumulative import CumulativeMultiProof
from relayer.protocol.errors import InvalidLengthError, InvalidValueError
from relayer.protocol.merkle import DistributionLeaf
from relayer.protocol.packets import FundingMode, Packet, PacketKind
from relayer.protocol.types import Address, Amount, Hash32, address_hex, as_address, as_hash32

SIGNATURE_G2_BYTES: Final = 256
"""EIP-2537 G2 point (the aggregate BLS signature the gateway verifies)."""

ENTRY_POINTS: Final[Mapping[PacketKind, str]] = {
    PacketKind.VALSET_UPDATE: "updateValset",
    PacketKind.REWARD_DISTRIBUTION: "submitDistribution",
    PacketKind.SLASH: "executeSlash",
    PacketKind.WITHDRAWAL_APPROVAL: "submitWithdrawalApproval",
    PacketKind.CUMULATIVE_ROOT: "submitCumulativeRoot",
}
"""Gateway function that delivers each packet kind; all take ``(valsetNonce, nonce, payload, att)``."""

PACKET_CALL_TYPES: Final = ("uint64", "uint64", "bytes", "(bytes,bytes)")
PAYOUT_CALL_TYPES: Final = ("bytes32", "(uint256,address,uint256)[]", "bytes32[]", "bool[]")

ERROR_STRING_SELECTOR: Final = keccak(b"Error(string)")[:4]
PANIC_SELECTOR: Final = keccak(b"Panic(uint256)")[:4]

REVERT_SOURCES: Final = (
    ContractName.EXOCORE_GATEWAY,
    ContractName.REWARD_VAULT,
    ContractName.RESTAKING_VAULT,
    ContractName.REWARD_TOKEN,
    ContractName.WRAPPED_ETHER,
)
"""Contracts whose custom errors can surface from a gateway transaction (it calls the vaults and the
token)."""


def abi_type(item: Mapping[str, Any]) -> str:
    """Canonical type string of an ABI parameter (tuples spelled out: ``(bytes,bytes)[]``)."""
    kind = str(item["type"])
    if kind.startswith("tuple"):
        inner = ",".join(abi_type(component) for component in item["components"])
        return f"({inner}){kind[len('tuple') :]}"
    return kind


@dataclass(frozen=True, slots=True)
class AbiFunction:
    name: str
    selector: bytes
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    @classmethod
    def of(cls, entry: AbiEntry) -> AbiFunction:
        inputs = tuple(abi_type(item) for item in entry["inputs"])
        signature = f"{entry['name']}({','.join(inputs)})"
        return cls(
            name=str(entry["name"]),
            selector=keccak(signature.encode())[:4],
            inputs=inputs,
            outputs=tuple(abi_type(item) for item in entry.get("outputs", ())),
        )

    def encode(self, *args: Any) -> bytes:
        return self.selector + abi_encode(self.inputs, args)

    def decode_output(self, data: bytes) -> tuple[Any, ...]:
        try:
            return tuple(abi_decode(self.outputs, data))
        except (DecodingError, OverflowError) as exc:
            raise MalformedResponseError(f"{self.name}: cannot decode return data 0x{data.hex()}") from exc


@cache
def gateway_functions() -> Mapping[str, AbiFunction]:
    artifact = load_artifact(ContractName.EXOCORE_GATEWAY)
    return {str(entry["name"]): AbiFunction.of(entry) for entry in artifact.entries("function")}


@cache
def vault_functions() -> Mapping[str, AbiFunction]:
    artifact = load_artifact(ContractName.REWARD_VAULT)
    return {str(entry["name"]): AbiFunction.of(entry) for entry in artifact.entries("function")}


PUSH_CALL_TYPES: Final = ("uint64", "(address,address,uint256)[]", "bytes32[]", "bool[]")


def encode_push_call(period: int, multi: CumulativeMultiProof) -> bytes:
    """Calldata of ``RewardVault.pushCumulative(period, leaves, proof, proofFlags)``."""
    function = vault_functions()["pushCumulative"]
    if function.inputs != PUSH_CALL_TYPES:
        raise InvalidValueError(f"vault ABI: pushCumulative{function.inputs} is not {PUSH_CALL_TYPES}")
    leaves = [(address_hex(x.earner), address_hex(x.token), x.cumulative) for x in multi.leaves]
    return function.encode(period, leaves, list(multi.proof), list(multi.proof_flags))


def _checked_function(name: str, types: tuple[str, ...]) -> AbiFunction:
    function = gateway_functions()[name]
    if function.inputs != types:
        raise InvalidValueError(
            f"gateway ABI: {name}{function.inputs} is not {name}{types}; update the encoder"
        )
    return function


# ---------------------------------------------------------------------------------------- encoders


def encode_packet_call(packet: Packet, signer_bitmap: bytes, signature_eip2537: bytes) -> bytes:
    """Calldata delivering ``packet``: ``updateValset`` / ``submitDistribution`` / ``executeSlash``
    ``(valsetNonce, nonce, payload, (signerBitmap, signature))``."""
    if not signer_bitmap:
        raise InvalidLengthError("signer bitmap must not be empty")
    if len(signature_eip2537) != SIGNATURE_G2_BYTES:
        raise InvalidLengthError(
            f"signature must be {SIGNATURE_G2_BYTES} bytes (EIP-2537 G2), got {len(signature_eip2537)}"
        )
    function = _checked_function(ENTRY_POINTS[packet.kind], PACKET_CALL_TYPES)
    return function.encode(
        packet.valset_nonce,
        packet.nonce,
        packet.payload_bytes,
        (bytes(signer_bitmap), bytes(signature_eip2537)),
    )


def packet_nonce_of(calldata: bytes) -> int | None:
    """The packet nonce inside calldata built by :func:`encode_packet_call`, None for other calls."""
    selectors = {gateway_functions()[name].selector for name in ENTRY_POINTS.values()}
    if len(calldata) < 4 + 2 * 32 or bytes(calldata[:4]) not in selectors:
        return None
    return int.from_bytes(calldata[4 + 32 : 4 + 64], "big")


def encode_nonce_used_call(nonce: int) -> bytes:
    """Calldata of the view ``nonceUsed(uint64)``."""
    return gateway_functions()["nonceUsed"].encode(nonce)


def decode_bool(data: bytes) -> bool:
    """A view's single ``bool`` return value."""
    (value,) = abi_decode(("bool",), data)
    return bool(value)


def encode_payout_call(
    distribution_id: bytes,
    leaves: Sequence[DistributionLeaf],
    proof: Sequence[bytes],
    flags: Sequence[bool],
) -> bytes:
    """Calldata of ``payout(distributionId, leaves, proof, proofFlags)``.

    ``leaves`` must be in the multiproof's order (:attr:`relayer.protocol.merkle.MultiProof.leaves`);
    the shape rule of OZ ``multiProofVerify`` (``leaves + proof == flags + 1``) is checked here so a
    malformed batch never costs gas.
    """
    if not leaves:
        raise InvalidLengthError("a payout batch needs at least one leaf")
    if len(leaves) + len(proof) != len(flags) + 1:
        raise InvalidLengthError(
            f"multiproof shape: {len(leaves)} leaves + {len(proof)} proof nodes != {len(flags)} flags + 1"
        )
    for position, node in enumerate(proof):
        if len(node) != 32:
            raise InvalidLengthError(f"proof node #{position} must be 32 bytes, got {len(node)}")
    function = _checked_function("payout", PAYOUT_CALL_TYPES)
    # Laid out by hand (the types are checked against the ABI just above): eth_abi's generic encoder
    # spent ~15 ms on a 243-leaf batch, on the relayer's only thread, for every payout tx.
    # Head: the id and three offsets (from the start of the arguments); then each dynamic array as
    # its length and its elements, a (uint256,address,uint256) leaf being three inline words.
    leaves_at = 4 * ABI_WORD
    proof_at = leaves_at + ABI_WORD + 3 * ABI_WORD * len(leaves)
    flags_at = proof_at + ABI_WORD + ABI_WORD * len(proof)
    parts = [
        function.selector,
        bytes(as_hash32(distribution_id)),
        _uint_word(leaves_at),
        _uint_word(proof_at),
        _uint_word(flags_at),
        _uint_word(len(leaves)),
    ]
    for leaf in leaves:
        staker = bytes(leaf.staker)
        if len(staker) != 20:
            raise InvalidLengthError(f"leaf {leaf.index}: staker must be 20 bytes, got {len(staker)}")
        parts += (_uint_word(leaf.index), _ADDRESS_PADDING + staker, _uint_word(leaf.amount))
    parts.append(_uint_word(len(proof)))
    parts += (bytes(node) for node in proof)
    parts.append(_uint_word(len(flags)))
    parts += (_TRUE_WORD if flag else _FALSE_WORD for flag in flags)
    return b"".join(parts)


ABI_WORD: Final = 32
_ADDRESS_PADDING: Final = bytes(12)
_TRUE_WORD: Final = (1).to_bytes(32, "big")
_FALSE_WORD: Final = bytes(32)


def _uint_word(value: int) -> bytes:
    """A uint256 ABI word; out of range raises like eth_abi's encoder would refuse it."""
    try:
        return value.to_bytes(32, "big")
    except OverflowError as exc:
        raise InvalidValueError(f"{value} does not fit uint256") from exc


# ---------------------------------------------------------------------------------------- reverts


@dataclass(frozen=True, slots=True)
class RevertInfo:
    """A decoded revert: the error's name and its arguments (addresses as 0x-hex, bytes as bytes)."""

    name: str
    args: tuple[Any, ...]

    def describe(self) -> str:
        """``Name(arg, ...)`` with bytes rendered as 0x-hex (for logs and ``reason`` columns)."""
        return f"{self.name}({', '.join(_render(arg) for arg in self.args)})"


def _render(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_render(item) for item in value) + "]"
    return str(value)


@dataclass(frozen=True, slots=True)
class _ErrorSpec:
    name: str
    types: tuple[str, ...]


@cache
def error_specs() -> Mapping[bytes, _ErrorSpec]:
    """4-byte selector -> error over :data:`REVERT_SOURCES`, plus ``Error(string)`` and ``Panic(uint256)``."""
    specs: dict[bytes, _ErrorSpec] = {
        ERROR_STRING_SELECTOR: _ErrorSpec("Error", ("string",)),
        PANIC_SELECTOR: _ErrorSpec("Panic", ("uint256",)),
    }
    for contract in REVERT_SOURCES:
        for entry in load_artifact(contract).entries("error"):
            types = tuple(abi_type(item) for item in entry["inputs"])
            selector = keccak(f"{entry['name']}({','.join(types)})".encode())[:4]
            specs[selector] = _ErrorSpec(str(entry["name"]), types)
    return specs


def decode_revert(data: bytes) -> RevertInfo | None:
    """Name and arguments of a revert payload; None if it is empty or its selector is unknown.

    Arguments that do not decode (a foreign contract reusing a selector) give the name with no args.
    """
    if len(data) < 4:
        return None
    spec = error_specs().get(bytes(data[:4]))
    if spec is None:
        return None
    try:
        values = abi_decode(spec.types, bytes(data[4:]))
    except (DecodingError, OverflowError):
        return RevertInfo(spec.name, ())
    return RevertInfo(spec.name, tuple(_normalise(value) for value in values))


def _normalise(value: Any) -> Any:
    if isinstance(value, str) and len(value) == 42 and value.startswith("0x"):
        return value.lower()  # eth_abi returns checksummed addresses; the project renders lower case
    if isinstance(value, tuple | list):
        return tuple(_normalise(item) for item in value)
    return value


# ---------------------------------------------------------------------------------------- views


@dataclass(frozen=True, slots=True)
class L1Distribution:
    """``ExocoreGateway.distribution(id)``: what L1 recorded for a distribution and how much is paid."""

    root: Hash32
    token: Address
    leaf_count: int
    funding: FundingMode
    avs: Address
    epoch: int
    total: Amount
    paid: Amount


@dataclass(frozen=True, slots=True)
class L1Valset:
    """``ExocoreGateway.valsetRecord(nonce)`` and its commitment: a set the gateway installed and the
    packet nonces it signs for, ``[start_nonce, end_nonce)`` (``end_nonce`` None while current)."""

    valset_nonce: int
    commitment: Hash32
    size: int
    start_nonce: int
    end_nonce: int | None

    @property
    def current(self) -> bool:
        return self.end_nonce is None

    def covers(self, packet_nonce: int) -> bool:
        """Whether the gateway accepts a distribution or slash with ``packet_nonce`` signed by this set."""
        return packet_nonce >= self.start_nonce and (self.end_nonce is None or packet_nonce < self.end_nonce)


class GatewayClient:
    """Read-only views of one deployed gateway (``eth_call`` at ``latest`` unless told otherwise)."""

    def __init__(self, client: L1Client, address: str) -> None:
        self.client = client
        self.address = address_hex(as_address(address))

    def _view(self, name: str, *args: Any) -> tuple[Any, ...]:
        function = gateway_functions()[name]
        return function.decode_output(self.client.eth_call(to=self.address, data=function.encode(*args)))

    def code_exists(self) -> bool:
        return bool(self.client.get_code(self.address))

    def _vault_view(self, vault: str, name: str, *args: Any) -> tuple[Any, ...]:
        function = vault_functions()[name]
        return function.decode_output(self.client.eth_call(to=vault, data=function.encode(*args)))

    def latest_cumulative_period(self, vault: str) -> int:
        """The RewardVault's latest accepted cumulative period (0: none yet)."""
        return int(self._vault_view(vault, "latestPeriod")[0])

    def cumulative_claimed(self, vault: str, earner: Address, token: Address) -> int:
        """What ``earner`` was already paid in ``token`` under cumulative roots."""
        return int(self._vault_view(vault, "claimed", address_hex(earner), address_hex(token))[0])

    def current_valset_nonce(self) -> int:
        return int(self._view("currentValsetNonce")[0])

    def valset_commitment(self) -> bytes:
        return bytes(self._view("valsetCommitment")[0])

    def valset_commitment_of(self, valset_nonce: int) -> bytes:
        """Commitment of any set the gateway installed (zero bytes if it never did)."""
        return bytes(self._view("valsetCommitmentOf", valset_nonce)[0])

    def valset_record(self, valset_nonce: int) -> L1Valset | None:
        """The installed set ``valset_nonce`` (current or retired), or None if L1 never installed it."""
        pointer, size, start, end = self._view("valsetRecord", valset_nonce)
        if int(pointer, 16) == 0:
            return None
        return L1Valset(
            valset_nonce=valset_nonce,
            commitment=as_hash32(self.valset_commitment_of(valset_nonce)),
            size=int(size),
            start_nonce=int(start),
            end_nonce=int(end) or None,
        )

    def valset_total_power(self) -> int:
        return int(self._view("valsetTotalPower")[0])

    def nonce_used(self, nonce: int, block: BlockId = "latest") -> bool:
        return decode_bool(
            self.client.eth_call(to=self.address, data=encode_nonce_used_call(nonce), block=block)
        )

    def is_paid(self, distribution_id: bytes, index: int) -> bool:
        return bool(self._view("isPaid", bytes(as_hash32(distribution_id)), index)[0])

    def distribution(self, distribution_id: bytes) -> L1Distribution | None:
        """The stored distribution, or None if L1 does not know it (zero root)."""
        (record,) = self._view("distribution", bytes(as_hash32(distribution_id)))
        root, token, leaf_count, funding, avs, epoch, total, paid = record
        if not any(root):
            return None
        try:
            mode = FundingMode(int(funding))
        except ValueError as exc:
            raise MalformedResponseError(f"distribution has unknown funding mode {funding}") from exc
        return L1Distribution(
            root=as_hash32(root),
            token=as_address(token),
            leaf_count=int(leaf_count),
            funding=mode,
            avs=as_address(avs),
            epoch=int(epoch),
            total=Amount(int(total)),
            paid=Amount(int(paid)),
        )

    def exocore_chain(self) -> bytes:
        return bytes(self._view("EXOCORE_CHAIN")[0])

    def reward_vault(self) -> str:
        return address_hex(as_address(self._view("REWARD_VAULT")[0]))

    def restaking_vault(self) -> str:
        return address_hex(as_address(self._view("RESTAKING_VAULT")[0]))
