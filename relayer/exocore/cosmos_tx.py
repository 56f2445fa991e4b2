"""Signed Cosmos transactions to Exocore: build with cosmpy, sign with a secp256k1 account key, send
through ``cosmos.tx.v1beta1.Service/BroadcastTx`` and follow them with ``GetTx``.

Used by the AVS aggregator (committee-signed reward claims and slash requests) and by the devnet's
scenario driver. The messages are Exocore module messages (``exocore.<module>.v1``: upstream's where
upstream has them, the proposal's otherwise, docs/exocore-modules.md); their signer field is the
transaction signer. A message's response type is the output of its module's ``Msg`` service method.

Invariants:

- :meth:`CosmosTxSender.sign` is pure given the account number and sequence: the same message,
  sequence and key give the same bytes and so the same hash (``sha256(tx_bytes)``, upper-case hex
  as CometBFT prints it). A caller that records the bytes before broadcasting can re-broadcast them
  after a crash without any risk of a second, different transaction: the chain either already has
  that hash, or accepts it once, or refuses it for a consumed sequence.
- Nothing here retries: the caller decides (the aggregator checks whether the transaction or its
  effect landed before sending again).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any, Final

import grpc
from cosmpy.aerial.tx import SigningCfg, Transaction, TxFee
from cosmpy.aerial.wallet import LocalWallet
from cosmpy.crypto.keypairs import PrivateKey
from cosmpy.protos.cosmos.auth.v1beta1 import auth_pb2
from cosmpy.protos.cosmos.auth.v1beta1 import query_pb2 as auth_query
from cosmpy.protos.cosmos.auth.v1beta1 import query_pb2_grpc as auth_grpc
from cosmpy.protos.cosmos.base.abci.v1beta1 import abci_pb2
from cosmpy.protos.cosmos.tx.v1beta1 import service_pb2 as tx_service
from cosmpy.protos.cosmos.tx.v1beta1 import service_pb2_grpc as tx_grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor

from relayer.errors import ExocoreRpcError
from relayer.exocore.errors import ExocoreClientError

ACCOUNT_PREFIX: Final = "exo"
"""bech32 prefix of Exocore accounts."""
FEE_DENOM: Final = "hua"
DEFAULT_GAS_LIMIT: Final = 400_000
"""Above Exocore's cost of any claim or slash message with a large signer bitmap (size gas is 10 per
byte; a 1,000-member bitmap is 125 bytes)."""
DEFAULT_GAS_PRICE_HUA: Final = 1
"""Minimum gas price of the devnet (hua per gas); a production config raises it."""
DEFAULT_TIMEOUT_S: Final = 30.0
"""Per-call deadline: a claim over 100k stakers executes within the DeliverTx of its block."""
POLL_INTERVAL_S: Final = 0.05
"""How often :meth:`CosmosTxSender.wait_for_tx` asks ``GetTx`` (a block is ~1 s upstream)."""


class CosmosTxError(ExocoreClientError, ExocoreRpcError):
    """A transaction was refused (CheckTx) or failed (DeliverTx), or could not be sent."""

    def __init__(self, reason: str, *, code: int = 0, tx_hash: str = "") -> None:
        super().__init__(reason)
        self.code = code
        self.tx_hash = tx_hash


@dataclass(frozen=True, slots=True)
class SignedTx:
    tx_bytes: bytes
    tx_hash: str
    """``sha256(tx_bytes)``, upper-case hex."""
    sequence: int
    account_number: int


@dataclass(frozen=True, slots=True)
class BroadcastResult:
    code: int
    raw_log: str
    tx_hash: str

    @property
    def accepted(self) -> bool:
        return self.code == 0


@dataclass(frozen=True, slots=True)
class TxResult:
    """A committed transaction: its block height, code (0 = success), log and message data."""

    tx_hash: str
    height: int
    code: int
    raw_log: str
    data: bytes

    @property
    def succeeded(self) -> bool:
        return self.code == 0

    def response(self, message_type: type[Any]) -> Any:
        """The first message's response (``<Msg>Response``) decoded from ``TxMsgData``."""
        answer = message_type()
        abci_pb2.TxMsgData.FromString(self.data).msg_responses[0].Unpack(answer)
        return answer


def tx_hash_of(tx_bytes: bytes) -> str:
    return hashlib.sha256(tx_bytes).hexdigest().upper()


MSG_SERVICE: Final = "Msg"
"""Name of a Cosmos module's transaction service (``<package>.Msg``)."""


def msg_method_of(message: Any) -> MethodDescriptor | None:
    """The method of its module's ``Msg`` service that takes ``message`` (Cosmos SDK routes a message by
    its type URL to that method), or None when the module declares none for it."""
    descriptor = type(message).DESCRIPTOR
    service = descriptor.file.services_by_name.get(MSG_SERVICE)
    if service is not None:
        for method in service.methods:
            if method.input_type is descriptor:
                found: MethodDescriptor = method
                return found
    return None


def response_type_of(message: Any) -> type[Any]:
    """The response type of a module message: the output of its ``Msg`` method (e.g. ``MsgDelegation``
    -> ``DelegationResponse``); for upstream's messages whose service this repository does not declare,
    upstream's naming (``…Req`` -> ``…Response``)."""
    descriptor = type(message).DESCRIPTOR
    method = msg_method_of(message)
    if method is not None:
        output: type[Any] = message_factory.GetMessageClass(method.output_type)
        return output
    package = descriptor.full_name.rsplit(".", 1)[0]
    name = descriptor.name.removesuffix("Req") + "Response"
    try:
        found = descriptor.file.pool.FindMessageTypeByName(f"{package}.{name}")
    except KeyError as exc:
        raise ExocoreClientError(f"{descriptor.full_name} has no response type") from exc
    answer: type[Any] = message_factory.GetMessageClass(found)
    return answer


SIGNER_CONTAINER_FIELD: Final = "base_info"
"""Upstream x/delegation keeps its signer inside ``base_info`` (``DelegationIncOrDecInfo.from_address``);
every other module message has ``from_address`` at top level."""


def set_signer(message: Any, address: str) -> None:
    """Write ``address`` (bech32) into the field the module declares as the message's signer."""
    holder = message
    if SIGNER_CONTAINER_FIELD in type(message).DESCRIPTOR.fields_by_name:
        holder = getattr(message, SIGNER_CONTAINER_FIELD)
    holder.from_address = address


class CosmosTxSender:
    """Signs messages with one account key and talks to one gRPC endpoint (``host:port``)."""

    def __init__(
        self,
        target: str,
        chain_id: str,
        secret_key: bytes,
        *,
        gas_limit: int = DEFAULT_GAS_LIMIT,
        gas_price_hua: int = DEFAULT_GAS_PRICE_HUA,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.chain_id = chain_id
        self.gas_limit = gas_limit
        self.gas_price_hua = gas_price_hua
        self.timeout_s = timeout_s
        self.wallet = LocalWallet(PrivateKey(secret_key), prefix=ACCOUNT_PREFIX)
        self.channel = grpc.insecure_channel(target)
        self._auth = auth_grpc.QueryStub(self.channel)
        self._txs = tx_grpc.ServiceStub(self.channel)

    @property
    def address(self) -> str:
        """The signer's bech32 account (``exo1…``)."""
        return str(self.wallet.address())

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> CosmosTxSender:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def account(self) -> tuple[int, int]:
        """(account number, next sequence) of the signer, as the chain's committed state has them."""
        try:
            response = self._auth.Account(
                auth_query.QueryAccountRequest(address=self.address), timeout=self.timeout_s
            )
        except grpc.RpcError as exc:
            raise CosmosTxError(f"cannot read account {self.address}: {exc.code().name}") from exc
        account = auth_pb2.BaseAccount()
        response.account.Unpack(account)
        return int(account.account_number), int(account.sequence)

    def sign(self, message: Any, *, account_number: int, sequence: int) -> SignedTx:
        """``message`` (its signer field set to the signer) in a signed transaction."""
        set_signer(message, self.address)
        transaction = Transaction()
        transaction.add_message(message)
        transaction.seal(
            SigningCfg.direct(self.wallet.public_key(), sequence),
            fee=TxFee(amount=f"{self.gas_limit * self.gas_price_hua}{FEE_DENOM}", gas_limit=self.gas_limit),
        )
        transaction.sign(self.wallet.signer(), self.chain_id, account_number)
        transaction.complete()
        raw = bytes(transaction.tx.SerializeToString())
        return SignedTx(raw, tx_hash_of(raw), sequence, account_number)

    def broadcast(self, tx_bytes: bytes) -> BroadcastResult:
        """SYNC broadcast: the CheckTx verdict (code 0 = admitted to the mempool)."""
        try:
            response = self._txs.BroadcastTx(
                tx_service.BroadcastTxRequest(tx_bytes=tx_bytes, mode=tx_service.BROADCAST_MODE_SYNC),
                timeout=self.timeout_s,
            ).tx_response
        except grpc.RpcError as exc:
            raise CosmosTxError(f"BroadcastTx failed: {exc.code().name}: {exc.details()}") from exc
        return BroadcastResult(int(response.code), str(response.raw_log), str(response.txhash))

    def get_tx(self, tx_hash: str) -> TxResult | None:
        """The committed transaction, or ``None`` if no block has it (yet)."""
        try:
            response = self._txs.GetTx(
                tx_service.GetTxRequest(hash=tx_hash), timeout=self.timeout_s
            ).tx_response
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise CosmosTxError(f"GetTx {tx_hash} failed: {exc.code().name}") from exc
        data = bytes.fromhex(response.data) if response.data else b""
        return TxResult(
            str(response.txhash), int(response.height), int(response.code), str(response.raw_log), data
        )

    def wait_for_tx(self, tx_hash: str, timeout_s: float | None = None) -> TxResult:
        deadline = time.monotonic() + (self.timeout_s if timeout_s is None else timeout_s)
        while True:
            found = self.get_tx(tx_hash)
            if found is not None:
                return found
            if time.monotonic() > deadline:
                raise CosmosTxError(f"transaction {tx_hash} not committed in time", tx_hash=tx_hash)
            time.sleep(POLL_INTERVAL_S)

    def send(self, message: Any) -> Any:
        """Sign at the account's next sequence, broadcast, wait for the block and return the
        message's response; a refusal or failure raises :class:`CosmosTxError` with the chain's log."""
        number, sequence = self.account()
        signed = self.sign(message, account_number=number, sequence=sequence)
        checked = self.broadcast(signed.tx_bytes)
        if not checked.accepted:
            raise CosmosTxError(
                f"transaction refused by CheckTx (code {checked.code}): {checked.raw_log}",
                code=checked.code,
                tx_hash=signed.tx_hash,
            )
        delivered = self.wait_for_tx(signed.tx_hash)
        if not delivered.succeeded:
            raise CosmosTxError(
                f"transaction {signed.tx_hash} failed (code {delivered.code}): {delivered.raw_log}",
                code=delivered.code,
                tx_hash=signed.tx_hash,
            )
        return delivered.response(response_type_of(message))


__all__ = [
    "ACCOUNT_PREFIX",
    "BroadcastResult",
    "CosmosTxError",
    "CosmosTxSender",
    "SignedTx",
    "TxResult",
    "msg_method_of",
    "response_type_of",
    "set_signer",
    "tx_hash_of",
]
