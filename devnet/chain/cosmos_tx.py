"""Cosmos SDK 0.47 transactions on the devnet: accounts, ``hua`` balances, the ante handler, ``MsgSend``.

A transaction is a serialized ``cosmos.tx.v1beta1.TxRaw`` signed in ``SIGN_MODE_DIRECT``. Admission
follows the SDK's ante chain in its order (``x/auth/ante``): decode, ``ValidateBasic``, gas for the
transaction size, minimum gas price and fee deduction, public key against signer address, signature
gas, signature over ``SignDoc`` (chain id, account number) and sequence, sequence increment. A
failure there is a CheckTx failure: the transaction never enters a block and nothing changes.
After the ante chain the messages run; if one fails (or runs out of gas) the transaction is still
committed with that code, the fee and the sequence stay spent and the messages' effects are undone,
as DeliverTx does.

Invariants: balances are non-negative Python ints in base units; the total supply of ``hua`` never
changes (fees move to the fee collector module account); the state changes only through
:meth:`AuthBank.check` (no effects) and :meth:`AuthBank.deliver` (effects, or none on failure).

Differences from a real Exocore node: Exocore (Ethermint) accounts use ``ethsecp256k1`` keys
(address = last 20 bytes of keccak256 of the uncompressed key, signatures over keccak256), which the
devnet accepts; it also accepts the standard ``cosmos.crypto.secp256k1.PubKey`` (address =
ripemd160(sha256(key)), signature over sha256) that cosmpy signs with, which Exocore refuses. It
reports ``BaseAccount`` rather than Ethermint's ``EthAccount``. Gas is a fixed schedule, not
metered store access.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import ecdsa
from cosmpy.crypto.hashfuncs import ripemd160
from cosmpy.protos.cosmos.bank.v1beta1 import tx_pb2 as bank_tx
from cosmpy.protos.cosmos.base.abci.v1beta1 import abci_pb2
from cosmpy.protos.cosmos.crypto.secp256k1.keys_pb2 import PubKey as Secp256k1PubKey
from cosmpy.protos.cosmos.tx.signing.v1beta1.signing_pb2 import SignMode
from cosmpy.protos.cosmos.tx.v1beta1 import tx_pb2
from ecdsa.util import sigdecode_string
from eth_utils.crypto import keccak
from google.protobuf.any_pb2 import Any as AnyProto
from google.protobuf.message import DecodeError

from devnet.chain.blockstore import Event
from devnet.grpc.errors import RequestRejectedError
from relayer.exocore.proto.avs.v1 import tx_pb2 as avs_tx
from relayer.exocore.proto.delegation.v1 import tx_pb2 as delegation_tx
from relayer.exocore.proto.operator.v1 import tx_pb2 as operator_tx
from relayer.protocol import bech32

BASE_DENOM: Final = "hua"
"""Exocore's base denomination (1 exo = 10**18 hua)."""
ACCOUNT_PREFIX: Final = "exo"
"""Bech32 prefix of Exocore account addresses (Imuachain renamed it ``im``)."""
SDK_CODESPACE: Final = "sdk"

# SDK 0.47 ``types/errors`` codes the ante chain answers with.
ERR_TX_DECODE: Final = 2
ERR_UNAUTHORIZED: Final = 4
ERR_INSUFFICIENT_FUNDS: Final = 5
ERR_UNKNOWN_REQUEST: Final = 6
ERR_INVALID_ADDRESS: Final = 7
ERR_INVALID_PUBKEY: Final = 8
ERR_UNKNOWN_ADDRESS: Final = 9
ERR_INVALID_COINS: Final = 10
ERR_OUT_OF_GAS: Final = 11
ERR_INSUFFICIENT_FEE: Final = 13
ERR_NO_SIGNATURES: Final = 15
ERR_INVALID_REQUEST: Final = 18
ERR_TX_TIMEOUT_HEIGHT: Final = 30
ERR_WRONG_SEQUENCE: Final = 32

MIN_GAS_PRICE_HUA: Final = 1
"""Node ``minimum-gas-prices`` in hua per gas unit: low enough that genesis balances last for ever,
non-zero so fee refusals are exercised."""
TX_SIZE_COST_PER_BYTE: Final = 10
"""x/auth default ``tx_size_cost_per_byte`` (gas per transaction byte)."""
SIG_VERIFY_COST_SECP256K1: Final = 1000
"""x/auth default ``sig_verify_cost_secp256k1`` (gas per signature)."""
MSG_SEND_GAS: Final = 30_000
"""Gas one ``MsgSend`` costs (store reads/writes of two balances and two accounts, as 0.47 meters
roughly); fixed so ``Simulate`` is exact."""
MAX_GAS_WANTED: Final = 2**63 - 1
"""``ValidateBasic``: a gas limit must fit an int64."""
MAX_MEMO_CHARACTERS: Final = 256
"""x/auth default ``max_memo_characters``."""
SECP256K1_PUBKEY_TYPE_URL: Final = "/" + Secp256k1PubKey.DESCRIPTOR.full_name
ETH_SECP256K1_PUBKEY_TYPE_URL: Final = "/ethermint.crypto.v1.ethsecp256k1.PubKey"
"""The key type Exocore (Ethermint) accounts use."""
SIG_VERIFY_COST_ETH_SECP256K1: Final = 21_000
"""Ethermint's ante gas for one ethsecp256k1 signature (``secp256k1VerifyCost``)."""
ETH_SIGNATURE_BYTES: Final = 65
"""Ethermint signatures are r||s||v; v is dropped before verification."""
MSG_SEND_TYPE_URL: Final = "/" + bank_tx.MsgSend.DESCRIPTOR.full_name
FEE_COLLECTOR: Final = hashlib.sha256(b"fee_collector").digest()[:20]
"""Module account address of ``fee_collector`` (``authtypes.NewModuleAddress``)."""


def account_address(pubkey: bytes) -> bytes:
    """Address of a compressed secp256k1 key: ripemd160(sha256(key)) (``cosmos.crypto.secp256k1``)."""
    return bytes(ripemd160(hashlib.sha256(pubkey).digest()))


def secp256k1_public_key(secret: bytes) -> bytes:
    """Compressed (33-byte) public key of a 32-byte secp256k1 secret."""
    key = ecdsa.SigningKey.from_string(secret, curve=ecdsa.SECP256k1)
    return bytes(key.get_verifying_key().to_string("compressed"))


def bech32_account(address: bytes) -> str:
    return bech32.encode_bytes(ACCOUNT_PREFIX, address)


def parse_account(text: str) -> bytes:
    """Bech32 ``exo1…`` account -> 20 address bytes; raises :class:`TxRejectedError` (invalid address)."""
    try:
        hrp, payload = bech32.decode_bytes(text)
    except Exception as exc:  # the codec raises ProtocolError/ValueError on malformed text
        raise TxRejectedError(ERR_INVALID_ADDRESS, f"invalid address {text!r}: {exc}") from exc
    if hrp != ACCOUNT_PREFIX or len(payload) != 20:
        raise TxRejectedError(
            ERR_INVALID_ADDRESS, f"invalid address {text!r}: expected an {ACCOUNT_PREFIX}1 account"
        )
    return payload


def coin_string(amount: int, denom: str = BASE_DENOM) -> str:
    return f"{amount}{denom}"


class TxRejectedError(RequestRejectedError):
    """A transaction the SDK refuses with ``code`` in codespace ``sdk``; ``str`` is the SDK's log."""

    def __init__(self, code: int, message: str, codespace: str = SDK_CODESPACE) -> None:
        super().__init__(message)
        self.code = code
        self.codespace = codespace


@dataclass(frozen=True, slots=True)
class Account:
    address: bytes
    number: int
    sequence: int = 0
    pubkey: PublicKey | None = None


@dataclass
class AuthBank:
    """Accounts and balances. Copy with :meth:`snapshot` to publish a committed view."""

    accounts: dict[bytes, Account] = field(default_factory=dict)
    balances: dict[bytes, dict[str, int]] = field(default_factory=dict)
    next_account_number: int = 0

    @classmethod
    def from_genesis(cls, allocations: Mapping[bytes, int]) -> AuthBank:
        bank = cls()
        bank._ensure_account(FEE_COLLECTOR)
        for address, amount in allocations.items():
            bank._ensure_account(address)
            bank.balances[address] = {BASE_DENOM: amount}
        return bank

    def snapshot(self) -> AuthBank:
        return AuthBank(dict(self.accounts), copy.deepcopy(self.balances), self.next_account_number)

    def balance(self, address: bytes, denom: str = BASE_DENOM) -> int:
        return self.balances.get(address, {}).get(denom, 0)

    def supply(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for coins in self.balances.values():
            for denom, amount in coins.items():
                total[denom] = total.get(denom, 0) + amount
        return total

    def _ensure_account(self, address: bytes) -> Account:
        account = self.accounts.get(address)
        if account is None:
            account = Account(address, self.next_account_number)
            self.accounts[address] = account
            self.next_account_number += 1
        return account

    def _send(self, sender: bytes, recipient: bytes, amount: int, denom: str) -> None:
        have = self.balance(sender, denom)
        if have < amount:
            raise TxRejectedError(
                ERR_INSUFFICIENT_FUNDS,
                f"{coin_string(have, denom)} is smaller than {coin_string(amount, denom)}",
            )
        self.balances.setdefault(sender, {})[denom] = have - amount
        self._ensure_account(recipient)
        coins = self.balances.setdefault(recipient, {})
        coins[denom] = coins.get(denom, 0) + amount

    # ------------------------------------------------------------------ transactions

    def check(self, raw: bytes, chain_id: str, *, simulate: bool = False, height: int = 0) -> CheckedTx:
        """Run the ante chain on a scratch copy: the decoded tx and its gas, or :class:`TxRejectedError`."""
        scratch = self.snapshot()
        return scratch._ante(raw, chain_id, simulate=simulate, height=height)

    def deliver(
        self, raw: bytes, chain_id: str, domain: DomainExecutor | None = None, *, height: int = 0
    ) -> DeliverResult:
        """CheckTx then DeliverTx against this state. Raises :class:`TxRejectedError` when the ante chain
        refuses (nothing changed); otherwise the result (code 0, or a message failure)."""
        scratch = self.snapshot()
        checked = scratch._ante(raw, chain_id, simulate=False, height=height)
        self._adopt(scratch)
        return self._run_msgs(checked, simulate=False, domain=domain)

    def _adopt(self, other: AuthBank) -> None:
        self.accounts, self.balances = other.accounts, other.balances
        self.next_account_number = other.next_account_number

    def simulate(
        self, raw: bytes, chain_id: str, domain: DomainExecutor | None = None, *, height: int = 0
    ) -> DeliverResult:
        """``Simulate``: ante chain without signature or fee checks, then the messages, on a copy."""
        scratch = self.snapshot()
        checked = scratch._ante(raw, chain_id, simulate=True, height=height)
        result = scratch._run_msgs(checked, simulate=True, domain=domain)
        if result.code != 0:
            raise TxRejectedError(result.code, result.log, result.codespace)
        return result

    def _ante(self, raw: bytes, chain_id: str, *, simulate: bool, height: int = 0) -> CheckedTx:
        """The ante chain at block ``height`` (0: skip the timeout-height check)."""
        decoded = decode_tx(raw)
        body, auth_info = decoded.body, decoded.auth_info
        fee = auth_info.fee
        gas_limit = int(fee.gas_limit)
        # ValidateBasic
        if gas_limit > MAX_GAS_WANTED:
            raise TxRejectedError(
                ERR_INVALID_REQUEST, f"invalid gas supplied; {gas_limit} > {MAX_GAS_WANTED}"
            )
        if not decoded.signatures:
            raise TxRejectedError(ERR_NO_SIGNATURES, "no signatures supplied")
        signers = decoded.signers
        if len(decoded.signatures) != len(signers):
            raise TxRejectedError(
                ERR_UNAUTHORIZED,
                f"wrong number of signers; expected {len(signers)}, got {len(decoded.signatures)}",
            )
        if len(auth_info.signer_infos) != len(signers):
            raise TxRejectedError(
                ERR_UNAUTHORIZED,
                f"invalid number of signer;  expected: {len(signers)}, got {len(auth_info.signer_infos)}",
            )
        if len(body.memo) > MAX_MEMO_CHARACTERS:
            raise TxRejectedError(
                ERR_INVALID_REQUEST,
                f"maximum number of characters is {MAX_MEMO_CHARACTERS} "
                f"but received {len(body.memo)} characters",
            )
        timeout = int(body.timeout_height)
        if timeout and height > timeout:
            raise TxRejectedError(
                ERR_TX_TIMEOUT_HEIGHT, f"block height: {height}, timeout height: {timeout}: tx timeout height"
            )
        gas = GasMeter(None if simulate else gas_limit)
        gas.consume(TX_SIZE_COST_PER_BYTE * len(raw), "txSize")
        # DeductFeeDecorator: minimum gas price (CheckTx only), then the payer (first signer) pays.
        fee_amount = _fee_amount(fee)
        if not simulate:
            required = MIN_GAS_PRICE_HUA * gas_limit
            if fee_amount < required:
                raise TxRejectedError(
                    ERR_INSUFFICIENT_FEE,
                    f"insufficient fees; got: {coin_string(fee_amount)} required: {coin_string(required)}",
                )
        payer = signers[0]
        if payer not in self.accounts:
            raise TxRejectedError(
                ERR_UNKNOWN_ADDRESS, f"fee payer address: {bech32_account(payer)} does not exist"
            )
        if fee_amount:
            have = self.balance(payer)
            if have < fee_amount:
                raise TxRejectedError(
                    ERR_INSUFFICIENT_FUNDS,
                    f"{coin_string(have)} is smaller than {coin_string(fee_amount)}: "
                    "insufficient funds: insufficient funds to pay for fees",
                )
            self._send(payer, FEE_COLLECTOR, fee_amount, BASE_DENOM)
        # SetPubKey, signature gas, SigVerification, IncrementSequence.
        for index, (signer, info, signature) in enumerate(
            zip(signers, auth_info.signer_infos, decoded.signatures, strict=True)
        ):
            account = self.accounts.get(signer)
            if account is None:
                raise TxRejectedError(
                    ERR_UNKNOWN_ADDRESS, f"account {bech32_account(signer)} does not exist: unknown address"
                )
            pubkey = _pubkey(info, account)
            if pubkey.address() != signer:
                raise TxRejectedError(
                    ERR_INVALID_PUBKEY,
                    f"pubKey does not match signer address {bech32_account(signer)} "
                    f"with signer index: {index}",
                )
            gas.consume(pubkey.verify_gas, "ante verify: secp256k1")
            if info.mode_info.single.mode != SignMode.SIGN_MODE_DIRECT:
                raise TxRejectedError(ERR_INVALID_REQUEST, "only SIGN_MODE_DIRECT is supported by the devnet")
            if int(info.sequence) != account.sequence:
                raise TxRejectedError(
                    ERR_WRONG_SEQUENCE,
                    f"account sequence mismatch, expected {account.sequence}, got {info.sequence}: "
                    "incorrect account sequence",
                )
            if not simulate and not pubkey.verify(signature, decoded.sign_doc(chain_id, account.number)):
                raise TxRejectedError(
                    ERR_UNAUTHORIZED,
                    f"signature verification failed; please verify account number ({account.number}) and "
                    f"chain-id ({chain_id}): unauthorized",
                )
            self.accounts[signer] = Account(signer, account.number, account.sequence + 1, pubkey)
        return CheckedTx(decoded, gas, fee_amount, payer)

    def _run_msgs(
        self, checked: CheckedTx, *, simulate: bool, domain: DomainExecutor | None = None
    ) -> DeliverResult:
        """Execute the messages; a failure reverts their effects but keeps the ante chain's."""
        before = self.snapshot()
        events = list(_ante_events(checked))
        logs: list[dict[str, Any]] = []
        responses: list[Any] = []
        try:
            for index, (type_url, msg) in enumerate(checked.decoded.messages):
                handler = _HANDLERS[type_url]
                checked.gas.consume(handler.gas, type_url)
                if handler.domain:
                    if domain is None:
                        raise TxRejectedError(ERR_UNKNOWN_REQUEST, f"no message handler for {type_url}")
                    msg_events, response = domain(type_url, msg, simulate)
                else:
                    msg_events, response = handler.run(self, msg), bank_tx.MsgSendResponse()
                packed = AnyProto()
                packed.Pack(response, type_url_prefix="/")
                responses.append(packed)
                events.extend(msg_events)
                logs.append({"msg_index": index, "events": [_event_json(e) for e in msg_events]})
        except TxRejectedError as exc:
            self._adopt(before)
            return DeliverResult(
                exc.code,
                exc.codespace,
                f"failed to execute message; message index: {len(logs)}: {exc}"
                if exc.code != ERR_OUT_OF_GAS
                else str(exc),
                checked.gas.limit or checked.gas.used,
                checked.gas.used,
                tuple(_ante_events(checked)),
                (),
                b"",
            )
        return DeliverResult(
            0,
            "",
            json.dumps(logs, separators=(",", ":")),
            checked.gas.used if simulate else checked.gas.limit or checked.gas.used,
            checked.gas.used,
            tuple(events),
            tuple(logs),
            # DeliverTx data: TxMsgData with each message's response (0.47 fills msg_responses).
            bytes(abci_pb2.TxMsgData(msg_responses=responses).SerializeToString()),
        )


class GasMeter:
    """Counts gas against ``limit`` (``None``: infinite, as in simulation)."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.used = 0

    def consume(self, amount: int, descriptor: str) -> None:
        self.used += amount
        if self.limit is not None and self.used > self.limit:
            raise TxRejectedError(
                ERR_OUT_OF_GAS,
                f"out of gas in location: {descriptor}; "
                f"gasWanted: {self.limit}, gasUsed: {self.used}: out of gas",
            )


@dataclass(frozen=True)
class DecodedTx:
    raw: bytes
    body_bytes: bytes
    auth_info_bytes: bytes
    body: Any
    auth_info: Any
    signatures: tuple[bytes, ...]
    messages: tuple[tuple[str, Any], ...]
    signers: tuple[bytes, ...]

    def sign_doc(self, chain_id: str, account_number: int) -> bytes:
        doc = tx_pb2.SignDoc(
            body_bytes=self.body_bytes,
            auth_info_bytes=self.auth_info_bytes,
            chain_id=chain_id,
            account_number=account_number,
        )
        return bytes(doc.SerializeToString())

    def as_tx(self) -> Any:
        return tx_pb2.Tx(body=self.body, auth_info=self.auth_info, signatures=list(self.signatures))


@dataclass(frozen=True)
class CheckedTx:
    decoded: DecodedTx
    gas: GasMeter
    fee: int
    payer: bytes


@dataclass(frozen=True)
class DeliverResult:
    """DeliverTx (or Simulate) outcome: SDK code, log, gas and events (ante + messages)."""

    code: int
    codespace: str
    log: str
    gas_wanted: int
    gas_used: int
    events: tuple[Event, ...]
    msg_logs: tuple[dict[str, Any], ...]
    data: bytes


DomainExecutor = Callable[[str, Any, bool], tuple[list[Event], Any]]
"""Runs one exocore message ``(type_url, proto message, simulate)`` in the chain state and returns its
events and response message, or raises :class:`TxRejectedError`; with ``simulate`` it only checks."""


@dataclass(frozen=True)
class _Handler:
    proto: Any
    gas: int
    signers: Callable[[Any], tuple[bytes, ...]]
    run: Callable[[AuthBank, Any], list[Event]]
    domain: bool = False


def _coins(coins: Any) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for coin in coins:
        if not coin.denom or not coin.amount.isdigit():
            raise TxRejectedError(ERR_INVALID_COINS, f"invalid coins {coin.amount}{coin.denom}")
        out.append((coin.denom, int(coin.amount)))
    return out


def _msg_send_signers(msg: Any) -> tuple[bytes, ...]:
    return (parse_account(msg.from_address),)


def _run_msg_send(bank: AuthBank, msg: Any) -> list[Event]:
    sender = parse_account(msg.from_address)
    recipient = parse_account(msg.to_address)
    coins = _coins(msg.amount)
    if not coins or any(amount == 0 for _, amount in coins):
        raise TxRejectedError(ERR_INVALID_COINS, f"{','.join(f'{a}{d}' for d, a in coins)}: invalid coins")
    for denom, amount in coins:
        bank._send(sender, recipient, amount, denom)
    amount_text = ",".join(coin_string(a, d) for d, a in coins)
    from_text, to_text = msg.from_address, msg.to_address
    return [
        Event.of("message", ("action", MSG_SEND_TYPE_URL), ("sender", from_text), ("module", "bank")),
        Event.of("coin_spent", ("spender", from_text), ("amount", amount_text)),
        Event.of("coin_received", ("receiver", to_text), ("amount", amount_text)),
        Event.of("transfer", ("recipient", to_text), ("sender", from_text), ("amount", amount_text)),
        Event.of("message", ("sender", from_text)),
    ]


def _from_address(msg: Any) -> bytes:
    if not msg.from_address:
        raise TxRejectedError(ERR_INVALID_ADDRESS, "from_address: empty address string is not allowed")
    return parse_account(msg.from_address)


def _operator_signer(msg: Any) -> tuple[bytes, ...]:
    """The operator signs messages about itself: upstream x/operator's signer is ``from_address``,
    which *is* the operator, so a transaction signed by anyone else fails signature verification."""
    return (_from_address(msg),)


def _avs_owner_signer(msg: Any) -> tuple[bytes, ...]:
    """Only an AVS owner registers the AVS (x/avs: ``sender`` must be in ``avs_owner_addresses``)."""
    signer = _from_address(msg)
    if signer not in {parse_account(owner) for owner in msg.info.avs_owner_addresses}:
        raise TxRejectedError(
            ERR_UNAUTHORIZED, f"signer {msg.from_address} is not an owner of the AVS: unauthorized"
        )
    return (signer,)


def _any_signer(msg: Any) -> tuple[bytes, ...]:
    return (_from_address(msg),)


def _delegation_signer(msg: Any) -> tuple[bytes, ...]:
    """Upstream x/delegation's signer is ``base_info.from_address`` (on the devnet: the account that
    reports the L1 custody event, standing in for the client-chain gateway)."""
    return (_from_address(msg.base_info),)


def is_domain_msg(proto_msg: Any) -> bool:
    """An exocore message (run by the chain state), not a bank one."""
    return type(proto_msg) in _DOMAIN_SIGNERS


def _not_run(_bank: AuthBank, _msg: Any) -> list[Event]:
    raise AssertionError("exocore messages run through the DomainExecutor")


EXOCORE_MSG_GAS: Final = 50_000
"""Gas an exocore message costs on top of size and signatures (fixed: ``Simulate`` is exact)."""
_DOMAIN_SIGNERS: Final[dict[Any, Callable[[Any], tuple[bytes, ...]]]] = {
    operator_tx.RegisterOperatorReq: _operator_signer,
    operator_tx.OptIntoAVSReq: _operator_signer,
    operator_tx.OptOutOfAVSReq: _operator_signer,
    avs_tx.RegisterAVSReq: _avs_owner_signer,
    delegation_tx.MsgDelegation: _delegation_signer,
    delegation_tx.MsgUndelegation: _delegation_signer,
    avs_tx.MsgSubmitRewardClaim: _any_signer,
    avs_tx.MsgRecordFeeDeposit: _any_signer,
    operator_tx.MsgSubmitSlashRequest: _any_signer,
    operator_tx.MsgSubmitEquivocationEvidence: _any_signer,
    operator_tx.MsgSubmitWrongResultEvidence: _any_signer,
}
"""Exocore messages a signed transaction may carry, each under its module's type URL: upstream's
registration, opt-in and delegation messages (``exocore.operator.v1``, ``exocore.avs.v1``,
``exocore.delegation.v1``) and the proposal's claims, slash requests and evidence (``exocore.avs.v1``,
``exocore.operator.v1``). ``exocore.devnet.v1`` has no Cosmos message: oracle prices, validator
power, fault knobs and block production are the simulator's knobs."""

_HANDLERS: Final[dict[str, _Handler]] = {
    MSG_SEND_TYPE_URL: _Handler(bank_tx.MsgSend, MSG_SEND_GAS, _msg_send_signers, _run_msg_send),
    **{
        "/" + proto.DESCRIPTOR.full_name: _Handler(proto, EXOCORE_MSG_GAS, signers, _not_run, domain=True)
        for proto, signers in _DOMAIN_SIGNERS.items()
    },
}


def decode_tx(raw: bytes) -> DecodedTx:
    """TxRaw bytes -> its parts; :class:`TxRejectedError` with ``ErrTxDecode`` when they do not parse."""
    tx_raw = tx_pb2.TxRaw()
    body = tx_pb2.TxBody()
    auth_info = tx_pb2.AuthInfo()
    try:
        tx_raw.ParseFromString(raw)
        body.ParseFromString(tx_raw.body_bytes)
        auth_info.ParseFromString(tx_raw.auth_info_bytes)
    except DecodeError as exc:
        raise TxRejectedError(ERR_TX_DECODE, f"{exc}: tx parse error") from exc
    if not body.messages:
        raise TxRejectedError(ERR_INVALID_REQUEST, "must contain at least one message: invalid request")
    messages: list[tuple[str, Any]] = []
    signers: list[bytes] = []
    for packed in body.messages:
        handler = _HANDLERS.get(packed.type_url)
        if handler is None:
            raise TxRejectedError(
                ERR_TX_DECODE, f"unable to resolve type URL {packed.type_url}: tx parse error"
            )
        msg = handler.proto()
        try:
            msg.ParseFromString(packed.value)
        except DecodeError as exc:
            raise TxRejectedError(ERR_TX_DECODE, f"{exc}: tx parse error") from exc
        for signer in handler.signers(msg):
            if signer not in signers:
                signers.append(signer)
        if any(_HANDLERS[url].domain for url, _ in messages):
            # The chain state cannot undo an applied exocore message if a later one fails.
            raise TxRejectedError(
                ERR_INVALID_REQUEST, "an exocore message must be the last message of its transaction"
            )
        messages.append((packed.type_url, msg))
    if auth_info.fee.payer or auth_info.fee.granter:
        raise TxRejectedError(ERR_INVALID_REQUEST, "the devnet supports neither fee payers nor fee grants")
    return DecodedTx(
        raw,
        bytes(tx_raw.body_bytes),
        bytes(tx_raw.auth_info_bytes),
        body,
        auth_info,
        tuple(bytes(s) for s in tx_raw.signatures),
        tuple(messages),
        tuple(signers),
    )


def is_cosmos_tx(raw: bytes) -> bool:
    """A block transaction is a Cosmos TxRaw (field 1, bytes: tag 0x0a) rather than a devnet envelope
    (field 1, varint sequence: tag 0x08)."""
    return raw[:1] == b"\x0a"


def _fee_amount(fee: Any) -> int:
    total = 0
    for denom, amount in _coins(fee.amount):
        if denom != BASE_DENOM:
            raise TxRejectedError(
                ERR_INSUFFICIENT_FEE, f"fees must be paid in {BASE_DENOM}, got {amount}{denom}"
            )
        total += amount
    return total


@dataclass(frozen=True, slots=True)
class PublicKey:
    """An account key: ``cosmos.crypto.secp256k1`` or Ethermint's ``ethsecp256k1`` (both 33-byte
    compressed secp256k1 points; they differ in address derivation and in the signed digest)."""

    type_url: str
    key: bytes

    @property
    def is_eth(self) -> bool:
        return self.type_url == ETH_SECP256K1_PUBKEY_TYPE_URL

    def address(self) -> bytes:
        if self.is_eth:
            point = ecdsa.VerifyingKey.from_string(self.key, curve=ecdsa.SECP256k1).to_string("raw")
            return bytes(keccak(point)[12:])
        return account_address(self.key)

    @property
    def verify_gas(self) -> int:
        return SIG_VERIFY_COST_ETH_SECP256K1 if self.is_eth else SIG_VERIFY_COST_SECP256K1

    def verify(self, signature: bytes, sign_doc: bytes) -> bool:
        """r||s (ethsecp256k1 also r||s||v) over sha256 / keccak256 of the sign doc, low-S only (both
        the SDK and go-ethereum refuse malleable signatures)."""
        if self.is_eth and len(signature) == ETH_SIGNATURE_BYTES:
            signature = signature[:-1]
        if len(signature) != 64 or int.from_bytes(signature[32:], "big") > _SECP256K1_HALF_ORDER:
            return False
        digest = bytes(keccak(sign_doc)) if self.is_eth else hashlib.sha256(sign_doc).digest()
        try:
            key = ecdsa.VerifyingKey.from_string(self.key, curve=ecdsa.SECP256k1)
            return bool(key.verify_digest(signature, digest, sigdecode=sigdecode_string))
        except (ecdsa.BadSignatureError, ecdsa.MalformedPointError, ValueError):
            return False


def _pubkey(info: Any, account: Account) -> PublicKey:
    if not info.HasField("public_key"):
        if account.pubkey is None:
            raise TxRejectedError(ERR_INVALID_PUBKEY, "pubkey on account is not set")
        return account.pubkey
    type_url = info.public_key.type_url
    if type_url not in (SECP256K1_PUBKEY_TYPE_URL, ETH_SECP256K1_PUBKEY_TYPE_URL):
        raise TxRejectedError(ERR_INVALID_PUBKEY, f"unsupported public key type {type_url}")
    # Both key messages are `bytes key = 1`.
    key = Secp256k1PubKey()
    key.ParseFromString(info.public_key.value)
    if len(key.key) != 33:
        raise TxRejectedError(ERR_INVALID_PUBKEY, "secp256k1 public key must be 33 bytes compressed")
    return PublicKey(type_url, bytes(key.key))


_SECP256K1_HALF_ORDER: Final = ecdsa.SECP256k1.order // 2


def _ante_events(checked: CheckedTx) -> list[Event]:
    payer = bech32_account(checked.payer)
    fee = coin_string(checked.fee) if checked.fee else ""
    events = [Event.of("tx", ("fee", fee), ("fee_payer", payer))]
    for signer, info in zip(checked.decoded.signers, checked.decoded.auth_info.signer_infos, strict=True):
        events.append(Event.of("tx", ("acc_seq", f"{bech32_account(signer)}/{info.sequence}")))
    for signature in checked.decoded.signatures:
        events.append(Event.of("tx", ("signature", base64.b64encode(signature).decode())))
    return events


def _event_json(event: Event) -> dict[str, Any]:
    return {"type": event.type, "attributes": [{"key": a.key, "value": a.value} for a in event.attributes]}
