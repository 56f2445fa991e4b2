"""The standard Cosmos SDK 0.47 gRPC services a node serves: auth, bank, staking, consensus and tx.

Answers follow the SDK's keepers (``x/auth/keeper/grpc_query.go``, ``x/bank/keeper/grpc_query.go``,
``x/staking/keeper/grpc_query.go``, ``x/auth/tx/service.go``): the same request validation, the same
gRPC status codes and messages, ``cosmos.base.query.v1beta1`` pagination. Queries read the state of
the last committed block (:attr:`CosmosNode.committed_bank`, the block store); ``BroadcastTx`` and
``Simulate`` run against the open block, as CheckTx does.

``BroadcastTx`` takes SYNC (CheckTx result) and ASYNC (hash only); BLOCK is refused as 0.47 does.
A refusal by the ante chain comes back as a ``TxResponse`` with the SDK's code, not a gRPC error.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from typing import Any, Final, Protocol, TypeVar

import grpc
from cosmpy.protos.cosmos.auth.v1beta1 import auth_pb2
from cosmpy.protos.cosmos.auth.v1beta1 import query_pb2 as auth_query
from cosmpy.protos.cosmos.auth.v1beta1 import query_pb2_grpc as auth_grpc
from cosmpy.protos.cosmos.bank.v1beta1 import bank_pb2
from cosmpy.protos.cosmos.bank.v1beta1 import query_pb2 as bank_query
from cosmpy.protos.cosmos.bank.v1beta1 import query_pb2_grpc as bank_grpc
from cosmpy.protos.cosmos.base.abci.v1beta1 import abci_pb2
from cosmpy.protos.cosmos.base.v1beta1.coin_pb2 import Coin
from cosmpy.protos.cosmos.consensus.v1 import query_pb2 as consensus_query
from cosmpy.protos.cosmos.consensus.v1 import query_pb2_grpc as consensus_grpc
from cosmpy.protos.cosmos.crypto.ed25519.keys_pb2 import PubKey as Ed25519PubKey
from cosmpy.protos.cosmos.crypto.secp256k1.keys_pb2 import PubKey as Secp256k1PubKey
from cosmpy.protos.cosmos.staking.v1beta1 import query_pb2 as staking_query
from cosmpy.protos.cosmos.staking.v1beta1 import query_pb2_grpc as staking_grpc
from cosmpy.protos.cosmos.staking.v1beta1 import staking_pb2
from cosmpy.protos.cosmos.tx.v1beta1 import service_pb2 as tx_service
from cosmpy.protos.cosmos.tx.v1beta1 import service_pb2_grpc as tx_grpc
from cosmpy.protos.cosmos.tx.v1beta1 import tx_pb2
from cosmpy.protos.tendermint.abci import types_pb2 as abci_types
from cosmpy.protos.tendermint.types import params_pb2
from google.protobuf.any_pb2 import Any as AnyProto
from google.protobuf.duration_pb2 import Duration

from devnet.chain import cosmos_tx
from devnet.chain.blockstore import CONSENSUS_PARAMS, Block, BlockStore, Event, TxResult, Validator
from devnet.chain.cosmos_tx import BASE_DENOM, AuthBank, DeliverResult, TxRejectedError, bech32_account
from devnet.chain.params import MAX_VALIDATORS
from devnet.grpc.context import abort, send_height
from devnet.grpc.errors import ChainRequestError, InvalidRequestError, NotFoundError
from devnet.grpc.pagination import paginate, position_key
from devnet.rpc.encoding import rfc3339_nano
from relayer.protocol import bech32

R = TypeVar("R")

VALIDATOR_OPERATOR_PREFIX: Final = "exovaloper"
"""Bech32 prefix of validator operator addresses on Exocore."""
POWER_REDUCTION: Final = 10**18
"""Tokens per unit of consensus power (Ethermint chains use 10**18 base units, not the SDK's 10**6)."""
UNBONDING_TIME_S: Final = 7 * 24 * 3600
"""x/staking ``unbonding_time`` reported by ``Params`` (seconds): the SDK default, 21 days, is not
Exocore's; 7 days is the Exocore testnet genesis value."""
HISTORICAL_ENTRIES: Final = 10_000
"""x/staking default ``historical_entries``."""
DEC_DECIMALS: Final = 18
"""``sdk.Dec`` strings carry 18 decimals."""
_DENOM: Final = re.compile(r"[a-zA-Z][a-zA-Z0-9/:._-]{2,127}")
"""``sdk.ValidateDenom``."""
TX_SIG_LIMIT: Final = 7
SIG_VERIFY_COST_ED25519: Final = 590
GET_TXS_EVENT_MAX_LIMIT: Final = 100
"""x/auth/tx ``GetTxsEvent``: default page size."""
_EVENT_CONDITION: Final = re.compile(r"([\w.]+)=('([^']*)'|[^'=\s]+)")
"""``type.attribute=value`` or ``type.attribute='value'`` (x/auth/tx ``eventFormat``)."""


_BOND_STATUSES: Final = frozenset(staking_pb2.BondStatus.keys())


class CosmosNode(Protocol):
    """What the Cosmos services need from the node."""

    def broadcast_tx(self, raw: bytes) -> tuple[str, DeliverResult]: ...

    def simulate_tx(self, raw: bytes) -> DeliverResult: ...

    @property
    def committed_bank(self) -> AuthBank: ...


def _guard(context: Any, store: BlockStore, action: Callable[[], R]) -> R:
    send_height(context, store.latest_height)
    try:
        return action()
    except ChainRequestError as exc:
        abort(context, exc.status_code, str(exc))


def _address(text: str, what: str = "address") -> bytes:
    if not text:
        raise InvalidRequestError(f"{what} cannot be empty")
    try:
        hrp, payload = bech32.decode_bytes(text)
    except Exception as exc:  # the codec raises on any malformed string
        raise InvalidRequestError(f"invalid {what}: decoding bech32 failed: {exc}") from exc
    if hrp != cosmos_tx.ACCOUNT_PREFIX:
        raise InvalidRequestError(
            f"invalid {what}: invalid Bech32 prefix; expected {cosmos_tx.ACCOUNT_PREFIX}, got {hrp}"
        )
    return payload


def _denom(denom: str) -> str:
    if not denom:
        raise InvalidRequestError("invalid denom")
    if _DENOM.fullmatch(denom) is None:
        raise InvalidRequestError(f"invalid denom: {denom}")
    return denom


def base_account(account: cosmos_tx.Account) -> Any:
    pub_key = None
    if account.pubkey is not None:
        # ethsecp256k1's PubKey has the same single `bytes key = 1` field.
        pub_key = AnyProto(
            type_url=account.pubkey.type_url,
            value=Secp256k1PubKey(key=account.pubkey.key).SerializeToString(),
        )
    return auth_pb2.BaseAccount(
        address=bech32_account(account.address),
        pub_key=pub_key,
        account_number=account.number,
        sequence=account.sequence,
    )


def _pack(message: Any) -> Any:
    packed = AnyProto()
    packed.Pack(message, type_url_prefix="/")
    return packed


class AuthQueryService(auth_grpc.QueryServicer):  # type: ignore[misc]  # cosmpy is untyped
    """``cosmos.auth.v1beta1.Query``."""

    def __init__(self, node: CosmosNode, store: BlockStore) -> None:
        self._node = node
        self._store = store

    def Account(self, request: Any, context: Any) -> Any:  # noqa: N802 - gRPC method name
        def run() -> Any:
            if not request.address:
                raise InvalidRequestError("Address cannot be empty")
            address = _address(request.address)
            account = self._node.committed_bank.accounts.get(address)
            if account is None:
                raise NotFoundError(f"account {request.address} not found")
            return auth_query.QueryAccountResponse(account=_pack(base_account(account)))

        return _guard(context, self._store, run)

    def Accounts(self, request: Any, context: Any) -> Any:  # noqa: N802 - gRPC method name
        def run() -> Any:
            accounts = sorted(self._node.committed_bank.accounts.values(), key=lambda a: a.address)
            keyed = [(a.address, _pack(base_account(a))) for a in accounts]
            page, pagination = paginate(keyed, _page_of(request))
            return auth_query.QueryAccountsResponse(accounts=page, pagination=pagination)

        return _guard(context, self._store, run)

    def Params(self, request: Any, context: Any) -> Any:  # noqa: N802 - gRPC method name
        params = auth_pb2.Params(
            max_memo_characters=cosmos_tx.MAX_MEMO_CHARACTERS,
            tx_sig_limit=TX_SIG_LIMIT,
            tx_size_cost_per_byte=cosmos_tx.TX_SIZE_COST_PER_BYTE,
            sig_verify_cost_ed25519=SIG_VERIFY_COST_ED25519,
            sig_verify_cost_secp256k1=cosmos_tx.SIG_VERIFY_COST_SECP256K1,
        )
        return _guard(context, self._store, lambda: auth_query.QueryParamsResponse(params=params))


def _page_of(request: Any) -> Any | None:
    return request.pagination if request.HasField("pagination") else None


def _hua_metadata() -> Any:
    return bank_pb2.Metadata(
        description="The native token of Exocore",
        denom_units=[
            bank_pb2.DenomUnit(denom=BASE_DENOM, exponent=0),
            bank_pb2.DenomUnit(denom="exo", exponent=18),
        ],
        base=BASE_DENOM,
        display="exo",
        name="Exocore",
        symbol="EXO",
    )


class BankQueryService(bank_grpc.QueryServicer):  # type: ignore[misc]  # cosmpy is untyped
    """``cosmos.bank.v1beta1.Query``."""

    def __init__(self, node: CosmosNode, store: BlockStore) -> None:
        self._node = node
        self._store = store

    def Balance(self, request: Any, context: Any) -> Any:  # noqa: N802 - gRPC method name
        def run() -> Any:
            address = _address(request.address)
            denom = _denom(request.denom)
            amount = self._node.committed_bank.balance(address, denom)
            return bank_query.QueryBalanceResponse(balance=Coin(denom=denom, amount=str(amount)))

        return _guard(context, self._store, run)

    def AllBalances(self, request: Any, context: Any) -> Any:  # noqa: N802 - gRPC method name
        def run() -> Any:
            address = _address(request.address)
            coins = self._node.committed_bank.balances.get(address, {})
            keyed = [
                (denom.encode(), Coin(denom=denom, amount=str(amount)))
                for denom, amount in sorted(coins.items())
                if amount > 0
            ]
            page, pagination = paginate(keyed, _page_of(request))
            return bank_query.QueryAllBalancesResponse(balances=page, pagination=pagination)

        return _guard(context, self._store, run)

    def SpendableBalances(self, request: Any, context: Any) -> Any:  # noqa: N802 - gRPC method name
        # No vesting accounts on the devnet: everything is spendable.
        def run() -> Any:
            response = self.AllBalances(request, context)
            return bank_query.QuerySpendableBalancesResponse(
                balances=response.balances, pagination=response.pagination
            )

        return run()

    def TotalSupply(self, request: Any, context: Any) -> Any:  # noqa: N802 - gRPC method name
        def run() -> Any:
            supply = self._node.committed_bank.supply()
            keyed = [
                (denom.encode(), Coin(denom=denom, amount=str(amount)))
                for denom, amount in sorted(supply.items())
            ]
            page, pagination = paginate(keyed, _page_of(request))
            return bank_query.QueryTotalSupplyResponse(supply=page, pagination=pagination)

        return _guard(context, self._store, run)

    def SupplyOf(self, request: Any, context: Any) -> Any:  # noqa: N802 - gRPC method name
        def run() -> Any:
            denom = _denom(request.denom)
            amount = self._node.committed_bank.supply().get(denom, 0)
            return bank_query.QuerySupplyOfResponse(amount=Coin(denom=denom, amount=str(amount)))

        return _guard(context, self._store, run)

    def Params(self, request: Any, context: Any) -> Any:  # noqa: N802 - gRPC method name
        params = bank_pb2.Params(default_send_enabled=True)
        return _guard(context, self._store, lambda: bank_query.QueryParamsResponse(params=params))

    def DenomMetadata(self, request: Any, context: Any) -> Any:  # noqa: N802 - gRPC method name
        def run() -> Any:
            denom = _denom(request.denom)
            if denom != BASE_DENOM:
                raise NotFoundError(f"client metadata for denom {denom}")
            return bank_query.QueryDenomMetadataResponse(metadata=_hua_metadata())

        return _guard(context, self._store, run)

    def DenomsMetadata(self, request: Any, context: Any) -> Any:  # noqa: N802 - gRPC method name
        def run() -> Any:
            page, pagination = paginate([(BASE_DENOM.encode(), _hua_metadata())], _page_of(request))
            return bank_query.QueryDenomsMetadataResponse(metadatas=page, pagination=pagination)

        return _guard(context, self._store, run)


def _dec(value: int) -> str:
    """An integer as an ``sdk.Dec`` string (18 decimals, no point: the gRPC wire form)."""
    return str(value * 10**DEC_DECIMALS)


def _staking_validator(index: int, validator: Validator) -> Any:
    tokens = validator.voting_power * POWER_REDUCTION
    return staking_pb2.Validator(
        operator_address=bech32.encode_bytes(VALIDATOR_OPERATOR_PREFIX, validator.address),
        consensus_pubkey=_pack(Ed25519PubKey(key=validator.pub_key)),
        jailed=False,
        status=staking_pb2.BOND_STATUS_BONDED,
        tokens=str(tokens),
        delegator_shares=_dec(tokens),
        description=staking_pb2.Description(moniker=f"devnet-validator-{index}"),
        commission=staking_pb2.Commission(
            commission_rates=staking_pb2.CommissionRates(rate="0", max_rate="0", max_change_rate="0")
        ),
        min_self_delegation="1",
    )


class StakingQueryService(staking_grpc.QueryServicer):  # type: ignore[misc]  # cosmpy is untyped
    """``cosmos.staking.v1beta1.Query`` over the devnet's CometBFT validator set (all bonded)."""

    def __init__(self, store: BlockStore) -> None:
        self._store = store

    def _validators(self) -> list[Any]:
        latest = self._store.latest()
        validators: Sequence[Validator] = latest.validators if latest is not None else ()
        return [_staking_validator(i, v) for i, v in enumerate(validators)]

    def Validators(self, request: Any, context: Any) -> Any:  # noqa: N802 - gRPC method name
        def run() -> Any:
            if request.status and request.status not in _BOND_STATUSES:
                raise InvalidRequestError(f"invalid validator status {request.status}")
            validators = [
                v
                for v in self._validators()
                if not request.status or staking_pb2.BondStatus.Name(v.status) == request.status
            ]
            keyed = [
                (v.operator_address.encode(), v) for v in sorted(validators, key=lambda v: v.operator_address)
            ]
            page, pagination = paginate(keyed, _page_of(request))
            return staking_query.QueryValidatorsResponse(validators=page, pagination=pagination)

        return _guard(context, self._store, run)

    def Validator(self, request: Any, context: Any) -> Any:  # noqa: N802 - gRPC method name
        def run() -> Any:
            if not request.validator_addr:
                raise InvalidRequestError("validator address cannot be empty")
            for validator in self._validators():
                if validator.operator_address == request.validator_addr:
                    return staking_query.QueryValidatorResponse(validator=validator)
            raise NotFoundError(f"validator {request.validator_addr} not found")

        return _guard(context, self._store, run)

    def Params(self, request: Any, context: Any) -> Any:  # noqa: N802 - gRPC method name
        params = staking_pb2.Params(
            unbonding_time=Duration(seconds=UNBONDING_TIME_S),
            max_validators=MAX_VALIDATORS,
            max_entries=7,
            historical_entries=HISTORICAL_ENTRIES,
            bond_denom=BASE_DENOM,
            min_commission_rate="0",
        )
        return _guard(context, self._store, lambda: staking_query.QueryParamsResponse(params=params))

    def Pool(self, request: Any, context: Any) -> Any:  # noqa: N802 - gRPC method name
        def run() -> Any:
            bonded = sum(int(v.tokens) for v in self._validators())
            return staking_query.QueryPoolResponse(
                pool=staking_pb2.Pool(not_bonded_tokens="0", bonded_tokens=str(bonded))
            )

        return _guard(context, self._store, run)


class ConsensusQueryService(consensus_grpc.QueryServicer):  # type: ignore[misc]  # cosmpy is untyped
    """``cosmos.consensus.v1.Query``: the consensus parameters every EndBlock reports."""

    def __init__(self, store: BlockStore) -> None:
        self._store = store

    def Params(self, request: Any, context: Any) -> Any:  # noqa: N802 - gRPC method name
        block = CONSENSUS_PARAMS["block"]
        evidence = CONSENSUS_PARAMS["evidence"]
        max_age_ns = int(evidence["max_age_duration"])
        params = params_pb2.ConsensusParams(
            block=params_pb2.BlockParams(max_bytes=int(block["max_bytes"]), max_gas=int(block["max_gas"])),
            evidence=params_pb2.EvidenceParams(
                max_age_num_blocks=int(evidence["max_age_num_blocks"]),
                max_age_duration=Duration(seconds=max_age_ns // 10**9, nanos=max_age_ns % 10**9),
                max_bytes=int(evidence["max_bytes"]),
            ),
            validator=params_pb2.ValidatorParams(
                pub_key_types=list(CONSENSUS_PARAMS["validator"]["pub_key_types"])
            ),
        )
        return _guard(context, self._store, lambda: consensus_query.QueryParamsResponse(params=params))


def _abci_events(events: Sequence[Event]) -> list[Any]:
    return [
        abci_types.Event(
            type=event.type,
            attributes=[
                abci_types.EventAttribute(key=a.key, value=a.value, index=a.index) for a in event.attributes
            ],
        )
        for event in events
    ]


def _tx_of(raw: bytes) -> Any | None:
    """The ``cosmos.tx.v1beta1.Tx`` of a block transaction (None for devnet-only envelopes)."""
    if not cosmos_tx.is_cosmos_tx(raw):
        return None
    try:
        return cosmos_tx.decode_tx(raw).as_tx()
    except TxRejectedError:
        return None


def tx_response(block: Block, index: int) -> Any:
    """``TxResponse`` of the ``index``-th transaction of ``block`` (as ``GetTx`` returns it)."""
    raw = block.txs[index]
    result: TxResult = block.tx_results[index]
    tx = _tx_of(raw)
    response = abci_pb2.TxResponse(
        height=block.height,
        txhash=cosmos_tx_hash(raw),
        codespace=result.codespace,
        code=result.code,
        raw_log=result.log,
        data=result.data.hex().upper(),
        gas_wanted=result.gas_wanted,
        gas_used=result.gas_used,
        timestamp=rfc3339_nano(block.time_ns),
        events=_abci_events(result.events),
    )
    if tx is not None:
        response.tx.Pack(tx, type_url_prefix="/")
    return response


def cosmos_tx_hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest().upper()


class TxService(tx_grpc.ServiceServicer):  # type: ignore[misc]  # cosmpy is untyped
    """``cosmos.tx.v1beta1.Service``."""

    def __init__(self, node: CosmosNode, store: BlockStore) -> None:
        self._node = node
        self._store = store

    def Simulate(self, request: Any, context: Any) -> Any:  # noqa: N802 - gRPC method name
        def run() -> Any:
            if request.tx_bytes:
                raw = bytes(request.tx_bytes)
            elif request.HasField("tx"):
                raw = request.tx.SerializeToString()
            else:
                raise InvalidRequestError("empty txBytes is not allowed")
            try:
                result = self._node.simulate_tx(raw)
            except TxRejectedError as exc:
                abort(context, grpc.StatusCode.UNKNOWN, f"{exc}")
            return tx_service.SimulateResponse(
                gas_info=abci_pb2.GasInfo(gas_wanted=result.gas_wanted, gas_used=result.gas_used),
                result=abci_pb2.Result(log=result.log, events=_abci_events(result.events)),
            )

        return _guard(context, self._store, run)

    def BroadcastTx(self, request: Any, context: Any) -> Any:  # noqa: N802 - gRPC method name
        def run() -> Any:
            if not request.tx_bytes:
                raise InvalidRequestError("invalid empty tx")
            mode = request.mode
            if mode not in (tx_service.BROADCAST_MODE_SYNC, tx_service.BROADCAST_MODE_ASYNC):
                abort(
                    context,
                    grpc.StatusCode.UNKNOWN,
                    f"unsupported return type {_mode_name(mode)}; supported types: sync, async",
                )
            raw = bytes(request.tx_bytes)
            tx_hash = cosmos_tx_hash(raw)
            try:
                self._node.broadcast_tx(raw)
            except TxRejectedError as exc:
                if mode == tx_service.BROADCAST_MODE_ASYNC:
                    return tx_service.BroadcastTxResponse(tx_response=abci_pb2.TxResponse(txhash=tx_hash))
                return tx_service.BroadcastTxResponse(
                    tx_response=abci_pb2.TxResponse(
                        txhash=tx_hash, codespace=exc.codespace, code=exc.code, raw_log=str(exc)
                    )
                )
            if mode == tx_service.BROADCAST_MODE_ASYNC:
                return tx_service.BroadcastTxResponse(tx_response=abci_pb2.TxResponse(txhash=tx_hash))
            # SYNC answers with CheckTx, which ran only the ante chain: accepted.
            return tx_service.BroadcastTxResponse(
                tx_response=abci_pb2.TxResponse(txhash=tx_hash, raw_log="[]")
            )

        return _guard(context, self._store, run)

    def GetTx(self, request: Any, context: Any) -> Any:  # noqa: N802 - gRPC method name
        def run() -> Any:
            if not request.hash:
                raise InvalidRequestError("request cannot be nil")
            try:
                hash_bytes = bytes.fromhex(request.hash)
            except ValueError as exc:
                raise InvalidRequestError(f"invalid tx hash {request.hash!r}: {exc}") from exc
            location = self._store.find_tx(hash_bytes)
            block = None if location is None else self._store.get(location.height)
            if location is None or block is None:
                raise NotFoundError(f"tx not found: {request.hash}")
            response = tx_response(block, location.index)
            return tx_service.GetTxResponse(tx=_tx_of(block.txs[location.index]), tx_response=response)

        return _guard(context, self._store, run)

    def GetTxsEvent(self, request: Any, context: Any) -> Any:  # noqa: N802 - gRPC method name
        def run() -> Any:
            conditions = [_condition(text) for text in request.events]
            if not conditions:
                raise InvalidRequestError("must declare at least one event to search")
            if request.page and request.HasField("pagination") and request.pagination.offset:
                raise InvalidRequestError("only one of pagination or page should be set")
            limit = int(request.limit) or GET_TXS_EVENT_MAX_LIMIT
            page = int(request.page) or 1
            matches: list[tuple[bytes, Any]] = []
            latest = self._store.latest_height or 0
            for height in range(self._store.initial_height, latest + 1):
                block = self._store.get(height)
                if block is None:
                    continue
                for index, result in enumerate(block.tx_results):
                    if all(_matches(block.height, result.events, c) for c in conditions):
                        matches.append((position_key(len(matches)), (block, index)))
            if request.order_by == tx_service.ORDER_BY_DESC:
                matches.reverse()
            chosen = [value for _, value in matches[(page - 1) * limit : page * limit]]
            responses = [tx_response(block, index) for block, index in chosen]
            return tx_service.GetTxsEventResponse(
                txs=[_tx_of(block.txs[index]) or tx_pb2.Tx() for block, index in chosen],
                tx_responses=responses,
                total=len(matches),
            )

        return _guard(context, self._store, run)


def _mode_name(mode: int) -> str:
    return {tx_service.BROADCAST_MODE_BLOCK: "block"}.get(mode, "unspecified")


def _condition(text: str) -> tuple[str, str]:
    match = _EVENT_CONDITION.fullmatch(text.strip())
    if match is None:
        raise InvalidRequestError(
            f"invalid event; event {text} should be of the format: {{eventType}}.{{eventAttribute}}={{value}}"
        )
    value = match.group(3) if match.group(3) is not None else match.group(2)
    return match.group(1), value


def _matches(height: int, events: Sequence[Event], condition: tuple[str, str]) -> bool:
    key, value = condition
    if key == "tx.height":
        return value == str(height)
    event_type, _, attribute = key.rpartition(".")
    return any(event.type == event_type and event.get(attribute) == value for event in events)
