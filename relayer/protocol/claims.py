"""What AVS committees and operators sign on Exocore: reward claims, slash requests, task responses.

These digests are signed with BLS12-381 (POP ciphersuite, :mod:`relayer.protocol.bls`) and checked by
the Exocore chain; the relayer and the indexer recompute them to identify claims and slashes.

Reward claim (signed by the AVS committee of ``epoch``; its digest is the claim id)::

    claimId = keccak256(abi.encode(bytes32 REWARD_CLAIM_DOMAIN, bytes32 exocoreChain, address avs,
                                   uint64 epoch, address token, uint256 amount, bytes32 tasksRoot))

Slash request (signed by more than the AVS's slash threshold of its committee; digest = slash id)::

    slashId = keccak256(abi.encode(bytes32 SLASH_REQUEST_DOMAIN, bytes32 exocoreChain, address avs,
                                   uint64 epoch, address operator, uint256 proportion, bool freeze,
                                   bytes32 evidenceHash))

``proportion`` is an 18-decimal fixed-point fraction of the operator's stake (``10**18`` = all).

Equivocation: an operator signs ``keccak256(taskResponse)`` (upstream x/avs); a task response starts
with its ABI-encoded ``uint64`` task id (hello-world's ``abi.encode(TaskResponse{taskID, ...})``), so
two different responses carrying the same task id, each with a valid signature of the operator's key
registered for the AVS, prove equivocation. Its id does not depend on the order of the two::

    equivocationId = keccak256(abi.encode(bytes32 EQUIVOCATION_DOMAIN, bytes32 exocoreChain,
                                          address avs, address operator, uint64 taskId,
                                          bytes32 lowerResponseHash, bytes32 higherResponseHash))

Each digest starts with its own domain tag, so no signature over one kind of object (or over a relay
packet) can be replayed as another.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak

from relayer.protocol import bls
from relayer.protocol.errors import InvalidLengthError, InvalidValueError
from relayer.protocol.types import (
    Address,
    Amount,
    Hash32,
    as_address,
    as_hash32,
    check_uint,
)

REWARD_CLAIM_DOMAIN: Final[Hash32] = Hash32(keccak(b"EXORELAY_REWARD_CLAIM_V1"))
SLASH_REQUEST_DOMAIN: Final[Hash32] = Hash32(keccak(b"EXORELAY_SLASH_REQUEST_V1"))
EQUIVOCATION_DOMAIN: Final[Hash32] = Hash32(keccak(b"EXORELAY_EQUIVOCATION_V1"))

PROPORTION_DECIMALS: Final = 18
"""Slash proportions (and other rates) are fixed-point with 18 decimals, like Cosmos ``sdk.Dec``."""
PROPORTION_ONE: Final = 10**PROPORTION_DECIMALS

TASK_ID_WORD_BYTES: Final = 32
"""A task response opens with one ABI word holding its uint64 task id."""

_CLAIM_TYPES: Final = ("bytes32", "bytes32", "address", "uint64", "address", "uint256", "bytes32")
_SLASH_TYPES: Final = ("bytes32", "bytes32", "address", "uint64", "address", "uint256", "bool", "bytes32")
_EQUIVOCATION_TYPES: Final = ("bytes32", "bytes32", "address", "address", "uint64", "bytes32", "bytes32")
_DECIMAL: Final = re.compile(r"(\d+)(?:\.(\d+))?")


def parse_fixed(text: str, decimals: int, what: str) -> int:
    """Exact decimal string -> integer scaled by ``10**decimals`` (``"0.05"``, 18 -> ``5 * 10**16``).

    No rounding: more fractional digits than ``decimals`` (other than trailing zeros), signs,
    exponents and empty strings are rejected with :class:`InvalidValueError`.
    """
    if not isinstance(text, str):
        raise InvalidValueError(f"{what} must be a decimal string, got {type(text).__name__}")
    match = _DECIMAL.fullmatch(text.strip())
    if match is None:
        raise InvalidValueError(f"{what} {text!r} is not a plain decimal number like '12.5'")
    whole, fraction = match.group(1), (match.group(2) or "").rstrip("0")
    if len(fraction) > decimals:
        raise InvalidValueError(f"{what} {text!r} has more than {decimals} decimal places")
    scale: int = 10**decimals
    return int(whole) * scale + int((fraction or "0").ljust(decimals, "0"))


def format_fixed(value: int, decimals: int) -> str:
    """Inverse of :func:`parse_fixed` in shortest form (``5 * 10**16``, 18 -> ``"0.05"``)."""
    check_uint(value, 256, "fixed-point value")
    whole, fraction = divmod(value, 10**decimals)
    digits = f"{fraction:0{decimals}d}".rstrip("0") if decimals else ""
    return f"{whole}.{digits}" if digits else str(whole)


def parse_proportion(text: str) -> int:
    """A fraction in ``(0, 1]`` as a decimal string -> 18-decimal fixed point."""
    value = parse_fixed(text, PROPORTION_DECIMALS, "proportion")
    return check_proportion(value)


def check_proportion(value: object) -> int:
    """``0 < value <= PROPORTION_ONE``; returns it."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= PROPORTION_ONE:
        raise InvalidValueError(f"proportion must be in (0, {PROPORTION_ONE}], got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class RewardClaim:
    """AVS ``avs`` pays ``amount`` base units of ``token`` for ``epoch``, with the committee's task root."""

    exocore_chain: Hash32
    avs: Address
    epoch: int
    token: Address
    amount: Amount
    tasks_root: Hash32

    def __post_init__(self) -> None:
        object.__setattr__(self, "exocore_chain", as_hash32(self.exocore_chain))
        object.__setattr__(self, "avs", as_address(self.avs))
        check_uint(self.epoch, 64, "epoch")
        object.__setattr__(self, "token", as_address(self.token))
        check_uint(self.amount, 256, "amount")
        object.__setattr__(self, "tasks_root", as_hash32(self.tasks_root))

    @property
    def canonical_bytes(self) -> bytes:
        """The ABI encoding whose keccak256 is :attr:`claim_id` (7 words, domain tag first)."""
        return abi_encode(
            _CLAIM_TYPES,
            (
                REWARD_CLAIM_DOMAIN,
                self.exocore_chain,
                self.avs,
                self.epoch,
                self.token,
                self.amount,
                self.tasks_root,
            ),
        )

    @property
    def claim_id(self) -> Hash32:
        """The digest the committee signs; it is also the claim's id."""
        return Hash32(keccak(self.canonical_bytes))

    @property
    def signing_slot(self) -> Hash32:
        """What a member signs at most one payload for: (avs, epoch, token) of this chain. Two claims
        in one slot that differ (amount, tasks root) are conflicting signatures."""
        return _slot(REWARD_CLAIM_DOMAIN, self.exocore_chain, self.avs, self.epoch, self.token)


def reward_claim_id(
    *, exocore_chain: Hash32, avs: Address, epoch: int, token: Address, amount: int, tasks_root: Hash32
) -> Hash32:
    """:attr:`RewardClaim.claim_id` of the given fields."""
    return RewardClaim(exocore_chain, avs, epoch, token, Amount(amount), tasks_root).claim_id


@dataclass(frozen=True, slots=True)
class SlashRequest:
    """ "Slash ``proportion`` of ``operator``'s stake (and freeze it for ``avs`` if ``freeze``)", signed by
    the committee of ``epoch``; ``evidence_hash`` commits to whatever the AVS judged (32 bytes, may be 0)."""

    exocore_chain: Hash32
    avs: Address
    epoch: int
    operator: Address
    proportion: int
    freeze: bool
    evidence_hash: Hash32

    def __post_init__(self) -> None:
        object.__setattr__(self, "exocore_chain", as_hash32(self.exocore_chain))
        object.__setattr__(self, "avs", as_address(self.avs))
        check_uint(self.epoch, 64, "epoch")
        object.__setattr__(self, "operator", as_address(self.operator))
        check_proportion(self.proportion)
        if not isinstance(self.freeze, bool):
            raise InvalidValueError(f"freeze must be a bool, got {type(self.freeze).__name__}")
        object.__setattr__(self, "evidence_hash", as_hash32(self.evidence_hash))

    @property
    def canonical_bytes(self) -> bytes:
        """The ABI encoding whose keccak256 is :attr:`slash_id` (8 words, domain tag first)."""
        return abi_encode(
            _SLASH_TYPES,
            (
                SLASH_REQUEST_DOMAIN,
                self.exocore_chain,
                self.avs,
                self.epoch,
                self.operator,
                self.proportion,
                self.freeze,
                self.evidence_hash,
            ),
        )

    @property
    def slash_id(self) -> Hash32:
        """The digest the committee signs; it is also the slash's id."""
        return Hash32(keccak(self.canonical_bytes))

    @property
    def signing_slot(self) -> Hash32:
        """What a member signs at most one payload for: (avs, epoch, slashed operator) of this chain.
        Two requests in one slot that differ (proportion, freeze, evidence) are conflicting."""
        return _slot(SLASH_REQUEST_DOMAIN, self.exocore_chain, self.avs, self.epoch, self.operator)


SigningRequest = RewardClaim | SlashRequest
"""What a committee signs: a reward claim or a slash request."""

_SLOT_TYPES: Final = ("bytes32", "bytes32", "address", "uint64", "address")


def _slot(domain: Hash32, exocore_chain: Hash32, avs: Address, epoch: int, subject: Address) -> Hash32:
    return Hash32(keccak(abi_encode(_SLOT_TYPES, (domain, exocore_chain, avs, epoch, subject))))


def decode_signing_request(data: bytes) -> SigningRequest:
    """The reward claim or slash request whose :attr:`canonical_bytes` are ``data``.

    Strict: the first word must be one of the two domain tags, the length exactly that kind's word
    count, every word canonical (addresses and ``uint64`` zero-padded, ``bool`` 0 or 1), so that
    ``decode(x).canonical_bytes == x`` for every accepted ``x``. Anything else raises
    :class:`InvalidLengthError` or :class:`InvalidValueError`, never another exception.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidValueError(f"a signing request is bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) < 32:
        raise InvalidLengthError(f"a signing request is at least one 32-byte word, got {len(data)} bytes")
    domain = data[:32]
    types: tuple[str, ...]
    if domain == REWARD_CLAIM_DOMAIN:
        types, kind = _CLAIM_TYPES, "reward claim"
    elif domain == SLASH_REQUEST_DOMAIN:
        types, kind = _SLASH_TYPES, "slash request"
    else:
        raise InvalidValueError(f"unknown signing domain 0x{domain.hex()}: not a claim or slash request")
    if len(data) != 32 * len(types):
        raise InvalidLengthError(f"a {kind} is {32 * len(types)} bytes, got {len(data)}")
    try:
        values = abi_decode(types, data, strict=True)
    except Exception as exc:  # eth_abi's decoding errors have no common public root
        raise InvalidValueError(f"malformed {kind}: {exc}") from exc
    request: SigningRequest
    if domain == REWARD_CLAIM_DOMAIN:
        _, chain, avs, epoch, token, amount, tasks_root = values
        request = RewardClaim(chain, avs, epoch, token, Amount(amount), tasks_root)
    else:  # the field checks raise InvalidValueError (e.g. a zero proportion)
        _, chain, avs, epoch, operator, proportion, freeze, evidence = values
        request = SlashRequest(chain, avs, epoch, operator, proportion, freeze, evidence)
    if request.canonical_bytes != data:
        raise InvalidValueError(f"non-canonical {kind} encoding (padding bits set)")
    return request


def task_response_digest(response: bytes) -> Hash32:
    """What an operator signs for a task: ``keccak256(taskResponse)`` (upstream x/avs)."""
    if not isinstance(response, bytes):
        raise InvalidValueError(f"task response must be bytes, got {type(response).__name__}")
    return Hash32(keccak(response))


def task_id_of_response(response: bytes) -> int:
    """The uint64 task id in the first ABI word of ``response``."""
    if not isinstance(response, bytes):
        raise InvalidValueError(f"task response must be bytes, got {type(response).__name__}")
    if len(response) < TASK_ID_WORD_BYTES:
        raise InvalidLengthError(
            f"task response must start with a {TASK_ID_WORD_BYTES}-byte task id word, "
            f"got {len(response)} bytes"
        )
    task_id = int.from_bytes(response[:TASK_ID_WORD_BYTES], "big")
    if task_id >> 64:
        raise InvalidValueError("task id word of the response does not hold a uint64")
    return task_id


@dataclass(frozen=True, slots=True)
class EquivocationEvidence:
    """Two different responses by ``operator`` to task ``task_id`` of ``avs`` (signatures kept apart)."""

    exocore_chain: Hash32
    avs: Address
    operator: Address
    task_id: int
    response_a: bytes
    response_b: bytes

    def __post_init__(self) -> None:
        object.__setattr__(self, "exocore_chain", as_hash32(self.exocore_chain))
        object.__setattr__(self, "avs", as_address(self.avs))
        object.__setattr__(self, "operator", as_address(self.operator))
        check_uint(self.task_id, 64, "task id")
        for name in ("response_a", "response_b"):
            response = getattr(self, name)
            response_task = task_id_of_response(response)
            if response_task != self.task_id:
                raise InvalidValueError(f"{name} is for task {response_task}, not {self.task_id}")
        if self.response_a == self.response_b:
            raise InvalidValueError("equivocation needs two different responses")

    @property
    def digests(self) -> tuple[Hash32, Hash32]:
        """``(keccak256(response_a), keccak256(response_b))``: what the two signatures cover."""
        return task_response_digest(self.response_a), task_response_digest(self.response_b)

    @property
    def evidence_id(self) -> Hash32:
        """Order-independent id of this evidence (used as the slash id)."""
        low, high = sorted(self.digests)
        encoded = abi_encode(
            _EQUIVOCATION_TYPES,
            (EQUIVOCATION_DOMAIN, self.exocore_chain, self.avs, self.operator, self.task_id, low, high),
        )
        return Hash32(keccak(encoded))

    def verify(
        self,
        public_key: bls.PublicKey,
        signature_a: bls.Signature,
        signature_b: bls.Signature,
        *,
        backend: bls.BackendChoice = None,
    ) -> bool:
        """True when both signatures are ``public_key``'s over the two response digests."""
        digest_a, digest_b = self.digests
        return bls.verify(public_key, digest_a, signature_a, backend=backend) and bls.verify(
            public_key, digest_b, signature_b, backend=backend
        )
