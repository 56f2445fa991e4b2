"""Transactions of the devnet chain: validated domain messages and their byte form.

A transaction in a block is a serialized ``exocore.devnet.v1.Tx`` (one message plus the admission
sequence number, which makes every transaction hash unique) or a signed Cosmos ``TxRaw``
(``devnet.chain.cosmos_tx``). Registration and opt-in/out are upstream's messages
(``exocore.operator.v1`` ``RegisterOperatorReq``/``OptIntoAVSReq``/``OptOutOfAVSReq``,
``exocore.avs.v1.RegisterAVSReq``): the operator (or AVS owner) is their ``from_address``.
:func:`parse_msg` turns a proto message into a frozen domain message, checking everything that does
not depend on chain state (addresses, ids, lengths, number formats); a malformed message raises
:class:`InvalidRequestError`. What depends on state (unknown operator, duplicate key, bad signature,
...) is the state machine's business.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

from devnet.chain.commission import parse_commission_rates
from devnet.chain.params import (
    DEVNET_LZ_CHAIN_ID,
    MAX_COMMITTEE_SIZE,
    MAX_TOKEN_DECIMALS,
    RATE_ONE,
    USD_DECIMALS,
)
from devnet.grpc.errors import InvalidRequestError
from relayer.errors import ProtocolError
from relayer.exocore.proto.avs.v1 import tx_pb2 as avs_tx
from relayer.exocore.proto.avs.v1 import types_pb2 as avs_pb
from relayer.exocore.proto.delegation.v1 import tx_pb2 as delegation_tx
from relayer.exocore.proto.devnet.v1 import tx_pb2 as tx
from relayer.exocore.proto.operator.v1 import tx_pb2 as operator_tx
from relayer.protocol.bls import G1_COMPRESSED_BYTES, G2_COMPRESSED_BYTES
from relayer.protocol.claims import (
    PROPORTION_DECIMALS,
    parse_fixed,
    parse_proportion,
    task_id_of_response,
    task_response_digest,
)
from relayer.protocol.evidence import (
    MAX_EVIDENCE_BYTES,
    EvidenceRejectedError,
    SignedWrongResult,
    decode_or_fault,
)
from relayer.protocol.ids import AssetId, OperatorAddress
from relayer.protocol.kinds import PayoutMode, SlashKind
from relayer.protocol.quorum import TWO_THIRDS, Threshold
from relayer.protocol.types import Address, Hash32

_EVM_ADDRESS: Final = re.compile(r"0x[0-9a-fA-F]{40}")
_UINT: Final = re.compile(r"0|[1-9][0-9]*")
CONSENSUS_PUBKEY_BYTES: Final = 32
BLS_SECRET_BYTES: Final = 32
HASH_BYTES: Final = 32
MAX_TASK_RESPONSE_BYTES: Final = 64 * 1024
"""Task responses are small ABI tuples; the bound keeps evidence transactions small."""
MAX_NAME_LENGTH: Final = 128
LEGACY_DEC_DECIMALS: Final = 18
"""Cosmos ``LegacyDec`` precision: its protobuf form is the value times 10^18 as an integer string."""


# --- field parsers ------------------------------------------------------------------------------


def evm_address(text: str, what: str) -> Address:
    if not isinstance(text, str) or _EVM_ADDRESS.fullmatch(text) is None:
        raise InvalidRequestError(f"invalid {what} {text!r}: expected a 0x-prefixed 20-byte hex address")
    return Address(bytes.fromhex(text[2:]))


def operator_account(text: str) -> OperatorAddress:
    try:
        return OperatorAddress.parse(text)
    except ProtocolError as exc:
        raise InvalidRequestError(f"invalid operator address {text!r}: {exc}") from exc


def asset(text: str) -> AssetId:
    try:
        return AssetId.parse(text)
    except ProtocolError as exc:
        raise InvalidRequestError(f"invalid asset id {text!r}: {exc}") from exc


def uint_string(text: str, what: str, bits: int = 256) -> int:
    if not isinstance(text, str) or _UINT.fullmatch(text) is None:
        raise InvalidRequestError(f"invalid {what} {text!r}: expected a decimal integer string")
    value = int(text)
    if value >> bits:
        raise InvalidRequestError(f"{what} {text} does not fit uint{bits}")
    return value


def fixed(text: str, decimals: int, what: str) -> int:
    try:
        return parse_fixed(text, decimals, what)
    except ProtocolError as exc:
        raise InvalidRequestError(str(exc)) from exc


def rate(text: str, what: str) -> int:
    value = fixed(text, PROPORTION_DECIMALS, what)
    if value > RATE_ONE:
        raise InvalidRequestError(f"{what} {text!r} is above 1")
    return value


def proportion(text: str, what: str) -> int:
    try:
        return parse_proportion(text)
    except ProtocolError as exc:
        raise InvalidRequestError(f"invalid {what} {text!r}: {exc}") from exc


def exact_bytes(value: bytes, length: int, what: str) -> bytes:
    if len(value) != length:
        raise InvalidRequestError(f"invalid {what}: expected {length} bytes, got {len(value)}")
    return bytes(value)


def threshold(num: int, den: int, what: str) -> Threshold:
    if num == 0 and den == 0:
        return TWO_THIRDS
    try:
        return Threshold(int(num), int(den))
    except ProtocolError as exc:
        raise InvalidRequestError(f"invalid {what}: {exc}") from exc


# --- domain messages ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegisterOperator:
    operator: OperatorAddress
    reward_address: Address
    """The client-chain earning address (commission leaves are paid to it on L1)."""
    commission_rate: int
    name: str = ""
    """Upstream ``operator_meta_info``: the operator's display name."""
    earnings_addr: str = ""
    approve_addr: str = ""
    max_commission_rate: int = RATE_ONE
    """``commission_rates.max_rate``: the commission rate never exceeds it."""
    max_commission_change_rate: int = RATE_ONE
    """``commission_rates.max_change_rate`` (the most one commission change may raise the rate)."""


@dataclass(frozen=True, slots=True)
class RewardTokenSpec:
    token: Address
    funding: int
    decimals: int


@dataclass(frozen=True, slots=True)
class RegisterAvs:
    avs: Address
    name: str
    reward_address: str
    slash_address: str
    owners: tuple[str, ...]
    asset_ids: tuple[str, ...]
    epoch_identifier: str
    claim_threshold: Threshold
    reward_tokens: tuple[RewardTokenSpec, ...]
    min_self_delegation_usd: int
    min_operator_stake_usd: int
    committee_size: int
    slash_threshold: Threshold
    slash_proportion: int
    slash_verifiers: tuple[tuple[SlashKind, int], ...] = ()
    """(kind, proportion) of each registered slashing verifier; never empty once parsed."""
    payout_mode: PayoutMode = PayoutMode.PER_DISTRIBUTION


@dataclass(frozen=True, slots=True)
class OptIn:
    operator: OperatorAddress
    avs: Address
    bls_pubkey: bytes
    pop_signature: bytes


@dataclass(frozen=True, slots=True)
class OptOut:
    operator: OperatorAddress
    avs: Address


@dataclass(frozen=True, slots=True)
class Delegate:
    staker: Address
    lz_chain_id: int
    operator: OperatorAddress
    asset_id: AssetId
    amount: int
    l1_request_id: int = 0
    """The L1 RestakingVault request this reports (0: devnet-only, no L1 custody behind it)."""


@dataclass(frozen=True, slots=True)
class Undelegate:
    staker: Address
    lz_chain_id: int
    operator: OperatorAddress
    asset_id: AssetId
    amount: int
    l1_request_id: int = 0
    """The L1 withdrawal request this reports (0: devnet-only, completes without an approval)."""


@dataclass(frozen=True, slots=True)
class SetPrice:
    asset_id: AssetId
    price_usd_e8: int
    decimals: int


@dataclass(frozen=True, slots=True)
class SubmitRewardClaim:
    avs: Address
    epoch: int
    token: Address
    funding: int
    amount: int
    signer_bitmap: bytes
    aggregate_signature: bytes
    tasks_root: Hash32


@dataclass(frozen=True, slots=True)
class RecordFeeDeposit:
    """One L1 ``FeesDeposited`` event: ``amount`` of ``token`` added to ``avs``'s FEES source on client
    chain ``l1_chain_id`` (0: the first client chain)."""

    avs: Address
    token: Address
    amount: int
    l1_tx_hash: Hash32
    l1_log_index: int
    l1_chain_id: int = 0


@dataclass(frozen=True, slots=True)
class SubmitSlashRequest:
    avs: Address
    epoch: int
    operator: OperatorAddress
    proportion: int
    freeze: bool
    signer_bitmap: bytes
    aggregate_signature: bytes
    evidence_hash: Hash32
    evidence: bytes = b""


@dataclass(frozen=True, slots=True)
class SubmitWrongResult:
    evidence: SignedWrongResult
    raw: bytes
    """The evidence bytes as submitted (stored with the slash)."""


@dataclass(frozen=True, slots=True)
class SubmitEquivocation:
    avs: Address
    operator: OperatorAddress
    task_id: int
    response_a: bytes
    signature_a: bytes
    response_b: bytes
    signature_b: bytes


@dataclass(frozen=True, slots=True)
class SetValidatorPower:
    consensus_pubkey: bytes
    bls_pubkey: bytes
    power: int
    pop_signature: bytes
    bls_secret: bytes | None


@dataclass(frozen=True, slots=True)
class SetFaultKnobs:
    silent_validators: frozenset[int]
    wrong_signature_validators: frozenset[int]
    signature_delay_blocks: int
    rpc_outage: bool
    late_validators: frozenset[int] = frozenset()


Msg: TypeAlias = (
    RegisterOperator
    | RegisterAvs
    | OptIn
    | OptOut
    | Delegate
    | Undelegate
    | SetPrice
    | SubmitRewardClaim
    | RecordFeeDeposit
    | SubmitSlashRequest
    | SubmitEquivocation
    | SubmitWrongResult
    | SetValidatorPower
    | SetFaultKnobs
)


# --- proto -> domain ----------------------------------------------------------------------------


def devnet_rate(value: int, what: str) -> int:
    """A validated ``LegacyDec`` (value x 10^18, in [0, 10^18]) as a devnet rate (``PROPORTION_DECIMALS``)."""
    scale: int = 10 ** (LEGACY_DEC_DECIMALS - PROPORTION_DECIMALS)
    if value % scale:
        raise InvalidRequestError(f"{what} {value} has more than {PROPORTION_DECIMALS} decimals")
    rate_value: int = value // scale
    return rate_value


def _earning_address(info: operator_tx.OperatorInfo) -> Address:
    """The devnet's client chain entry of ``client_chain_earnings_addr`` (else the only entry)."""
    entries = list(info.client_chain_earnings_addr.earning_info_list)
    if not entries:
        raise InvalidRequestError("client_chain_earnings_addr must name the L1 earning address")
    chosen = next((e for e in entries if e.lz_client_chain_id == DEVNET_LZ_CHAIN_ID), None)
    if chosen is None:
        if len(entries) != 1:
            raise InvalidRequestError(f"no earning address for client chain {DEVNET_LZ_CHAIN_ID}")
        chosen = entries[0]
    return evm_address(chosen.client_chain_earning_addr, "client chain earning address")


def _optional_account(text: str, what: str) -> str:
    if not text:
        return ""
    try:
        return str(OperatorAddress.parse(text))
    except ProtocolError as exc:
        raise InvalidRequestError(f"invalid {what} {text!r}: {exc}") from exc


def _register_operator(msg: operator_tx.RegisterOperatorReq) -> RegisterOperator:
    info = msg.info
    given = info.commission.commission_rates
    rates = parse_commission_rates(given.rate, given.max_rate, given.max_change_rate)
    if len(info.operator_meta_info) > MAX_NAME_LENGTH:
        raise InvalidRequestError(f"operator_meta_info longer than {MAX_NAME_LENGTH} characters")
    return RegisterOperator(
        operator_account(msg.from_address),
        _earning_address(info),
        devnet_rate(rates.rate, "commission rate"),
        name=info.operator_meta_info,
        earnings_addr=_optional_account(info.earnings_addr, "earnings_addr"),
        approve_addr=_optional_account(info.approve_addr, "approve_addr"),
        max_commission_rate=devnet_rate(rates.max_rate, "commission max rate"),
        max_commission_change_rate=devnet_rate(rates.max_change_rate, "commission max change rate"),
    )


def _reward_token(spec: avs_pb.RewardToken) -> RewardTokenSpec:
    token = evm_address(spec.token, "reward token")
    if not any(token):
        raise InvalidRequestError("a reward token must not be the zero address")
    if spec.funding not in (avs_pb.FUNDING_MINT, avs_pb.FUNDING_VAULT, avs_pb.FUNDING_FEES):
        raise InvalidRequestError(f"reward token {spec.token}: funding must be MINT, VAULT or FEES")
    if spec.decimals > MAX_TOKEN_DECIMALS:
        raise InvalidRequestError(f"reward token {spec.token}: decimals above {MAX_TOKEN_DECIMALS}")
    return RewardTokenSpec(token, int(spec.funding), int(spec.decimals))


DEFAULT_SLASH_VERIFIERS: Final = (SlashKind.EQUIVOCATION, SlashKind.COMMITTEE_REQUEST)
"""What an AVS registering no verifier set runs: the two kinds every AVS had before verifier sets
(a squaring-task verifier would be wrong for an AVS whose tasks are not squaring)."""


def _slash_verifiers(specs: Any, slash_proportion: int) -> tuple[tuple[SlashKind, int], ...]:
    if not specs:
        return tuple((kind, slash_proportion) for kind in DEFAULT_SLASH_VERIFIERS)
    verifiers: list[tuple[SlashKind, int]] = []
    for spec in specs:
        try:
            kind = SlashKind(spec.kind)
        except ValueError as exc:
            known = ", ".join(k.value for k in SlashKind)
            raise InvalidRequestError(
                f"unknown_verifier_kind: {spec.kind!r} is not a slashing verifier ({known})"
            ) from exc
        if any(kind == seen for seen, _ in verifiers):
            raise InvalidRequestError(f"slashing verifier {kind.value} is listed twice")
        share = (
            proportion(spec.slash_proportion, f"{kind.value} proportion")
            if spec.slash_proportion
            else slash_proportion
        )
        if share > slash_proportion:
            raise InvalidRequestError(
                f"slashing verifier {kind.value}: proportion {spec.slash_proportion} is above the AVS's "
                "slash proportion"
            )
        verifiers.append((kind, share))
    return tuple(verifiers)


def _register_avs(msg: avs_tx.RegisterAVSReq) -> RegisterAvs:
    info = msg.info
    avs = evm_address(info.avs_address, "avs address")
    if len(info.name) > MAX_NAME_LENGTH:
        raise InvalidRequestError(f"AVS name longer than {MAX_NAME_LENGTH} characters")
    asset_ids = tuple(str(asset(text)) for text in info.asset_ids)
    if not asset_ids:
        raise InvalidRequestError("an AVS must accept at least one asset")
    if len(set(asset_ids)) != len(asset_ids):
        raise InvalidRequestError("an AVS lists the same asset twice")
    tokens = tuple(_reward_token(spec) for spec in info.reward_tokens)
    if len({spec.token for spec in tokens}) != len(tokens):
        raise InvalidRequestError("an AVS lists the same reward token twice")
    if not 1 <= info.committee_size <= MAX_COMMITTEE_SIZE:
        raise InvalidRequestError(
            f"committee size must be in 1..{MAX_COMMITTEE_SIZE}, got {info.committee_size}"
        )
    for address in (info.reward_address, info.slash_address):
        if address:
            evm_address(address, "AVS contract address")
    slash_proportion = proportion(info.slash_proportion, "slash proportion")
    return RegisterAvs(
        avs=avs,
        name=info.name,
        reward_address=info.reward_address.lower(),
        slash_address=info.slash_address.lower(),
        owners=tuple(str(operator_account(owner)) for owner in info.avs_owner_addresses),
        asset_ids=asset_ids,
        epoch_identifier=info.epoch_identifier or "block",
        claim_threshold=threshold(info.threshold_numerator, info.threshold_denominator, "claim threshold"),
        reward_tokens=tokens,
        min_self_delegation_usd=fixed(
            info.min_self_delegation_usd or "0", USD_DECIMALS, "min self delegation"
        ),
        min_operator_stake_usd=fixed(info.min_operator_stake_usd or "0", USD_DECIMALS, "min operator stake"),
        committee_size=int(info.committee_size),
        slash_threshold=threshold(
            info.slash_threshold_numerator, info.slash_threshold_denominator, "slash threshold"
        ),
        slash_proportion=slash_proportion,
        slash_verifiers=_slash_verifiers(info.slash_verifiers, slash_proportion),
        payout_mode=_payout_mode(info.payout_mode),
    )


def _payout_mode(value: int) -> PayoutMode:
    try:
        return PayoutMode(value)
    except ValueError:
        raise InvalidRequestError(f"unknown payout mode {value}") from None


def _opt_in(msg: operator_tx.OptIntoAVSReq) -> OptIn:
    return OptIn(
        operator_account(msg.from_address),
        evm_address(msg.avs_address, "avs address"),
        exact_bytes(msg.bls_pubkey, G1_COMPRESSED_BYTES, "BLS public key"),
        exact_bytes(msg.pop_signature, G2_COMPRESSED_BYTES, "proof of possession"),
    )


def _opt_out(msg: operator_tx.OptOutOfAVSReq) -> OptOut:
    return OptOut(operator_account(msg.from_address), evm_address(msg.avs_address, "avs address"))


def _stake_fields(
    msg: delegation_tx.MsgDelegation | delegation_tx.MsgUndelegation,
) -> tuple[Address, int, OperatorAddress, AssetId, int]:
    entries = msg.base_info.per_operator_amounts
    if len(entries) != 1:
        # One (operator, amount) per message: the chain state cannot undo the first entries of a
        # message whose later entry fails.
        raise InvalidRequestError(f"per_operator_amounts must hold exactly one operator, got {len(entries)}")
    amount = uint_string(entries[0].value.amount, "amount")
    if amount == 0:
        raise InvalidRequestError("amount must be positive")
    asset_id = asset(msg.asset_id)
    return (
        evm_address(msg.staker, "staker address"),
        asset_id.lz_chain_id,
        operator_account(entries[0].key),
        asset_id,
        amount,
    )


def _delegate(msg: delegation_tx.MsgDelegation) -> Delegate:
    return Delegate(*_stake_fields(msg), l1_request_id=int(msg.l1_request_id))


def _undelegate(msg: delegation_tx.MsgUndelegation) -> Undelegate:
    if msg.instant_unbonding:
        raise InvalidRequestError("instant_unbonding is not supported: an undelegation always unbonds")
    return Undelegate(*_stake_fields(msg), l1_request_id=int(msg.l1_request_id))


def delegation_msg(
    *,
    staker: str,
    operator: str,
    asset_id: str,
    amount: int,
    from_address: str = "",
    l1_request_id: int = 0,
) -> delegation_tx.MsgDelegation:
    """Upstream's ``MsgDelegation`` reporting one L1 delegation of ``amount`` base units."""
    return delegation_tx.MsgDelegation(
        asset_id=asset_id,
        base_info=_inc_or_dec(from_address, operator, amount),
        staker=staker,
        l1_request_id=l1_request_id,
    )


def undelegation_msg(
    *,
    staker: str,
    operator: str,
    asset_id: str,
    amount: int,
    from_address: str = "",
    l1_request_id: int = 0,
) -> delegation_tx.MsgUndelegation:
    """Upstream's ``MsgUndelegation`` reporting one L1 withdrawal request of ``amount`` base units."""
    return delegation_tx.MsgUndelegation(
        asset_id=asset_id,
        base_info=_inc_or_dec(from_address, operator, amount),
        staker=staker,
        l1_request_id=l1_request_id,
    )


def _inc_or_dec(from_address: str, operator: str, amount: int) -> delegation_tx.DelegationIncOrDecInfo:
    entry = delegation_tx.KeyValue(key=operator, value=delegation_tx.ValueField(amount=str(amount)))
    return delegation_tx.DelegationIncOrDecInfo(from_address=from_address, per_operator_amounts=[entry])


def _set_price(msg: tx.MsgSetPrice) -> SetPrice:
    if msg.decimals > MAX_TOKEN_DECIMALS:
        raise InvalidRequestError(f"decimals above {MAX_TOKEN_DECIMALS}")
    return SetPrice(asset(msg.asset_id), fixed(msg.price, USD_DECIMALS, "price"), int(msg.decimals))


def _claim(msg: avs_tx.MsgSubmitRewardClaim) -> SubmitRewardClaim:
    return SubmitRewardClaim(
        avs=evm_address(msg.avs_address, "avs address"),
        epoch=int(msg.epoch),
        token=evm_address(msg.token, "token"),
        funding=int(msg.funding),
        amount=uint_string(msg.total_amount, "total amount"),
        signer_bitmap=bytes(msg.signer_bitmap),
        aggregate_signature=exact_bytes(msg.aggregate_signature, G2_COMPRESSED_BYTES, "aggregate signature"),
        tasks_root=Hash32(exact_bytes(msg.tasks_root or bytes(HASH_BYTES), HASH_BYTES, "tasks root")),
    )


def _fee_deposit(msg: avs_tx.MsgRecordFeeDeposit) -> RecordFeeDeposit:
    amount = uint_string(msg.amount, "amount")
    if amount == 0:
        raise InvalidRequestError("amount must be positive")
    tx_hash = msg.l1_tx_hash.removeprefix("0x")
    try:
        raw_hash = bytes.fromhex(tx_hash)
    except ValueError as exc:
        raise InvalidRequestError(f"l1 tx hash {msg.l1_tx_hash!r} is not hex") from exc
    return RecordFeeDeposit(
        avs=evm_address(msg.avs_address, "avs address"),
        token=evm_address(msg.token, "token"),
        amount=amount,
        l1_tx_hash=Hash32(exact_bytes(raw_hash, HASH_BYTES, "l1 tx hash")),
        l1_log_index=int(msg.l1_log_index),
        l1_chain_id=int(msg.l1_chain_id),
    )


def _slash_request(msg: operator_tx.MsgSubmitSlashRequest) -> SubmitSlashRequest:
    return SubmitSlashRequest(
        avs=evm_address(msg.avs_address, "avs address"),
        epoch=int(msg.epoch),
        operator=operator_account(msg.operator),
        proportion=proportion(msg.slash_proportion, "slash proportion"),
        freeze=bool(msg.freeze),
        signer_bitmap=bytes(msg.signer_bitmap),
        aggregate_signature=exact_bytes(msg.aggregate_signature, G2_COMPRESSED_BYTES, "aggregate signature"),
        evidence_hash=Hash32(
            exact_bytes(msg.evidence_hash or bytes(HASH_BYTES), HASH_BYTES, "evidence hash")
        ),
        evidence=_bounded_evidence(bytes(msg.evidence)),
    )


def _bounded_evidence(data: bytes) -> bytes:
    if len(data) > MAX_EVIDENCE_BYTES:
        raise InvalidRequestError(f"evidence is longer than {MAX_EVIDENCE_BYTES} bytes")
    return data


def _wrong_result(msg: operator_tx.MsgSubmitWrongResultEvidence) -> SubmitWrongResult:
    raw = _bounded_evidence(bytes(msg.evidence))
    try:
        evidence = decode_or_fault(raw)
    except EvidenceRejectedError as exc:
        raise InvalidRequestError(f"{exc.fault}: {exc.detail}") from exc
    if not isinstance(evidence, SignedWrongResult):
        raise InvalidRequestError(f"wrong_evidence_kind: {evidence.label} evidence is not a wrong result")
    return SubmitWrongResult(evidence, raw)


def _equivocation(msg: operator_tx.MsgSubmitEquivocationEvidence) -> SubmitEquivocation:
    responses = []
    for name, response, digest in (
        ("response_a", bytes(msg.response_a), bytes(msg.digest_a)),
        ("response_b", bytes(msg.response_b), bytes(msg.digest_b)),
    ):
        if len(response) > MAX_TASK_RESPONSE_BYTES:
            raise InvalidRequestError(f"{name} is longer than {MAX_TASK_RESPONSE_BYTES} bytes")
        try:
            task_id = task_id_of_response(response)
        except ProtocolError as exc:
            raise InvalidRequestError(f"{name}: {exc}") from exc
        if task_id != msg.task_id:
            raise InvalidRequestError(f"{name} answers task {task_id}, not {msg.task_id}")
        if digest and digest != task_response_digest(response):
            raise InvalidRequestError(f"digest of {name} is not keccak256 of the response")
        responses.append(response)
    if responses[0] == responses[1]:
        raise InvalidRequestError("equivocation needs two different responses")
    if msg.slash_proportion:
        raise InvalidRequestError(
            "equivocation slashes the AVS's slash proportion; leave slash_proportion empty"
        )
    return SubmitEquivocation(
        avs=evm_address(msg.avs_address, "avs address"),
        operator=operator_account(msg.operator),
        task_id=int(msg.task_id),
        response_a=responses[0],
        signature_a=exact_bytes(msg.signature_a, G2_COMPRESSED_BYTES, "signature a"),
        response_b=responses[1],
        signature_b=exact_bytes(msg.signature_b, G2_COMPRESSED_BYTES, "signature b"),
    )


def _set_validator_power(msg: tx.MsgSetValidatorPower) -> SetValidatorPower:
    secret = bytes(msg.bls_secret_key)
    return SetValidatorPower(
        consensus_pubkey=exact_bytes(msg.consensus_pubkey, CONSENSUS_PUBKEY_BYTES, "consensus public key"),
        bls_pubkey=exact_bytes(msg.bls_pubkey, G1_COMPRESSED_BYTES, "BLS public key")
        if msg.bls_pubkey
        else b"",
        power=uint_string(msg.power, "power", 63),
        pop_signature=bytes(msg.pop_signature),
        bls_secret=exact_bytes(secret, BLS_SECRET_BYTES, "BLS secret key") if secret else None,
    )


def _set_fault_knobs(msg: tx.MsgSetFaultKnobs) -> SetFaultKnobs:
    knobs = msg.knobs
    return SetFaultKnobs(
        frozenset(int(i) for i in knobs.silent_validators),
        frozenset(int(i) for i in knobs.wrong_signature_validators),
        int(knobs.signature_delay_blocks),
        bool(knobs.rpc_outage),
        frozenset(int(i) for i in knobs.late_validators),
    )


_PARSERS: Final[dict[str, Callable[[Any], Msg]]] = {
    "register_operator": _register_operator,
    "register_avs": _register_avs,
    "opt_in": _opt_in,
    "opt_out": _opt_out,
    "delegate": _delegate,
    "undelegate": _undelegate,
    "set_price": _set_price,
    "submit_reward_claim": _claim,
    "record_fee_deposit": _fee_deposit,
    "submit_slash_request": _slash_request,
    "submit_equivocation_evidence": _equivocation,
    "submit_wrong_result_evidence": _wrong_result,
    "set_validator_power": _set_validator_power,
    "set_fault_knobs": _set_fault_knobs,
}

_FIELD_BY_PROTO: Final[dict[str, str]] = {
    operator_tx.RegisterOperatorReq.DESCRIPTOR.full_name: "register_operator",
    avs_tx.RegisterAVSReq.DESCRIPTOR.full_name: "register_avs",
    operator_tx.OptIntoAVSReq.DESCRIPTOR.full_name: "opt_in",
    operator_tx.OptOutOfAVSReq.DESCRIPTOR.full_name: "opt_out",
    delegation_tx.MsgDelegation.DESCRIPTOR.full_name: "delegate",
    delegation_tx.MsgUndelegation.DESCRIPTOR.full_name: "undelegate",
    tx.MsgSetPrice.DESCRIPTOR.full_name: "set_price",
    avs_tx.MsgSubmitRewardClaim.DESCRIPTOR.full_name: "submit_reward_claim",
    avs_tx.MsgRecordFeeDeposit.DESCRIPTOR.full_name: "record_fee_deposit",
    operator_tx.MsgSubmitSlashRequest.DESCRIPTOR.full_name: "submit_slash_request",
    operator_tx.MsgSubmitEquivocationEvidence.DESCRIPTOR.full_name: "submit_equivocation_evidence",
    operator_tx.MsgSubmitWrongResultEvidence.DESCRIPTOR.full_name: "submit_wrong_result_evidence",
    tx.MsgSetValidatorPower.DESCRIPTOR.full_name: "set_validator_power",
    tx.MsgSetFaultKnobs.DESCRIPTOR.full_name: "set_fault_knobs",
}


def type_url(proto_msg: Any) -> str:
    """Cosmos-style message type URL, e.g. ``/exocore.delegation.v1.MsgDelegation``."""
    return "/" + str(proto_msg.DESCRIPTOR.full_name)


def parse_msg(proto_msg: Any) -> Msg:
    """Validate a devnet proto message into its domain form."""
    field = _FIELD_BY_PROTO.get(proto_msg.DESCRIPTOR.full_name)
    if field is None:
        raise InvalidRequestError(f"{proto_msg.DESCRIPTOR.full_name} is not a devnet transaction")
    return _PARSERS[field](proto_msg)


def encode_tx(sequence: int, proto_msg: Any) -> bytes:
    """The bytes of a devnet transaction carrying ``proto_msg``."""
    field = _FIELD_BY_PROTO.get(proto_msg.DESCRIPTOR.full_name)
    if field is None:
        raise InvalidRequestError(f"{proto_msg.DESCRIPTOR.full_name} is not a devnet transaction")
    envelope = tx.Tx(sequence=sequence)
    getattr(envelope, field).CopyFrom(proto_msg)
    return envelope.SerializeToString(deterministic=True)


@dataclass(frozen=True, slots=True)
class DecodedTx:
    sequence: int
    proto_msg: Any
    msg: Msg

    @property
    def type_url(self) -> str:
        return type_url(self.proto_msg)


def decode_tx(raw: bytes) -> DecodedTx:
    """Inverse of :func:`encode_tx`, validating the message."""
    envelope = tx.Tx()
    try:
        envelope.ParseFromString(raw)
    except Exception as exc:  # protobuf raises DecodeError (and others on garbage)
        raise InvalidRequestError(f"undecodable transaction: {exc}") from exc
    field = envelope.WhichOneof("msg")
    if field is None:
        raise InvalidRequestError("transaction carries no message")
    proto_msg = getattr(envelope, field)
    return DecodedTx(int(envelope.sequence), proto_msg, _PARSERS[field](proto_msg))
