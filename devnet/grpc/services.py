"""gRPC servicers of the exocore query services, the devnet Msg service and the module Msg services.

Query servicers validate the request (addresses, ids, pagination), read a :class:`ChainQueries`,
filter and paginate, and tag the answer with ``x-cosmos-block-height`` like a Cosmos node. The Msg
servicers forward each message to a :class:`ChainDriver`. Errors raised by either become gRPC
statuses (:mod:`devnet.grpc.errors`); anything unexpected is logged and answered ``INTERNAL``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, overload

import grpc

from devnet.chain.blockstore import BlockStore
from devnet.grpc.context import abort, send_height
from devnet.grpc.driver import ChainDriver
from devnet.grpc.errors import ChainRequestError, InvalidRequestError, NotFoundError
from devnet.grpc.pagination import paginate, position_key
from devnet.grpc.queries import ChainQueries
from relayer.errors import ProtocolError
from relayer.exocore.proto.avs.v1 import query_pb2 as avs_query
from relayer.exocore.proto.avs.v1 import query_pb2_grpc as avs_grpc
from relayer.exocore.proto.avs.v1 import tx_pb2 as avs_tx
from relayer.exocore.proto.avs.v1 import tx_pb2_grpc as avs_tx_grpc
from relayer.exocore.proto.delegation.v1 import tx_pb2 as delegation_tx
from relayer.exocore.proto.delegation.v1 import tx_pb2_grpc as delegation_grpc
from relayer.exocore.proto.devnet.v1 import tx_pb2 as tx
from relayer.exocore.proto.devnet.v1 import tx_pb2_grpc as tx_grpc
from relayer.exocore.proto.feedistribution.v1 import query_pb2 as fee_query
from relayer.exocore.proto.feedistribution.v1 import query_pb2_grpc as fee_grpc
from relayer.exocore.proto.operator.v1 import query_pb2 as operator_query
from relayer.exocore.proto.operator.v1 import query_pb2_grpc as operator_grpc
from relayer.exocore.proto.operator.v1 import tx_pb2 as operator_tx
from relayer.exocore.proto.operator.v1 import tx_pb2_grpc as operator_tx_grpc
from relayer.exocore.proto.relay.v1 import query_pb2 as relay_query
from relayer.exocore.proto.relay.v1 import query_pb2_grpc as relay_grpc
from relayer.protocol.ids import AssetId, OperatorAddress

_log = logging.getLogger(__name__)

R = TypeVar("R")

_EVM_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
ID_LENGTH = 32


def evm_address(text: str, what: str) -> str:
    """Canonical (lower-case) ``0x`` address, or :class:`InvalidRequestError`."""
    if not isinstance(text, str) or _EVM_ADDRESS.fullmatch(text) is None:
        raise InvalidRequestError(f"invalid {what} {text!r}: expected a 0x-prefixed 20-byte hex address")
    return text.lower()


def operator_account(text: str) -> str:
    """Canonical bech32 operator account (``exo1…`` / ``im1…``), or :class:`InvalidRequestError`."""
    try:
        return str(OperatorAddress.parse(text))
    except ProtocolError as exc:
        raise InvalidRequestError(f"invalid operator address {text!r}: {exc}") from exc


def identifier(value: bytes, what: str) -> bytes:
    if len(value) != ID_LENGTH:
        raise InvalidRequestError(f"invalid {what}: expected {ID_LENGTH} bytes, got {len(value)}")
    return bytes(value)


def _nonce_key(nonce: int) -> bytes:
    return nonce.to_bytes(8, "big")


class _IndexKeyed(Sequence[tuple[bytes, Any]]):
    """Leaves (index order, dense indices) keyed by index without touching the ones not paged."""

    def __init__(self, leaves: Sequence[Any]) -> None:
        self._leaves = leaves

    def __len__(self) -> int:
        return len(self._leaves)

    @overload
    def __getitem__(self, position: int) -> tuple[bytes, Any]: ...

    @overload
    def __getitem__(self, position: slice) -> Sequence[tuple[bytes, Any]]: ...

    def __getitem__(self, position: int | slice) -> tuple[bytes, Any] | Sequence[tuple[bytes, Any]]:
        if isinstance(position, slice):
            return [self[i] for i in range(*position.indices(len(self)))]
        leaf = self._leaves[position]
        return _nonce_key(leaf.index), leaf


def _page_of(request: Any) -> Any | None:
    return request.pagination if request.HasField("pagination") else None


def run_guarded(context: Any, action: Callable[[], R]) -> R:
    """Run ``action``; turn chain errors into their gRPC status and anything else into INTERNAL."""
    failure: tuple[grpc.StatusCode, str] | None = None
    try:
        return action()
    except ChainRequestError as exc:
        failure = (exc.status_code, str(exc))
    except Exception as exc:  # the servicer must answer, never hang or leak a traceback to the peer
        _log.exception("devnet gRPC handler failed")
        failure = (grpc.StatusCode.INTERNAL, f"internal error: {type(exc).__name__}")
    abort(context, *failure)


class _QueryServicer:
    def __init__(self, queries: ChainQueries, store: BlockStore) -> None:
        self._queries = queries
        self._store = store

    def _answer(self, context: Any, action: Callable[[], R]) -> R:
        send_height(context, self._store.latest_height)
        return run_guarded(context, action)


class AvsQueryService(_QueryServicer, avs_grpc.QueryServicer):
    """``exocore.avs.v1.Query``."""

    def QueryAVSInfo(  # noqa: N802 - gRPC method name
        self, request: avs_query.QueryAVSInfoRequest, context: Any
    ) -> avs_query.QueryAVSInfoResponse:
        def run() -> avs_query.QueryAVSInfoResponse:
            address = evm_address(request.avs_address, "avs address")
            info = self._queries.avs_info(address)
            if info is None:
                raise NotFoundError(f"AVS {address} is not registered")
            return avs_query.QueryAVSInfoResponse(info=info)

        return self._answer(context, run)

    def QueryAVSList(  # noqa: N802 - gRPC method name
        self, request: avs_query.QueryAVSListRequest, context: Any
    ) -> avs_query.QueryAVSListResponse:
        def run() -> avs_query.QueryAVSListResponse:
            infos = sorted(self._queries.avs_infos(), key=lambda info: info.avs_address)
            keyed = [(bytes.fromhex(info.avs_address[2:]), info) for info in infos]
            page, pagination = paginate(keyed, _page_of(request))
            return avs_query.QueryAVSListResponse(avs_infos=page, pagination=pagination)

        return self._answer(context, run)

    def QueryCommittee(  # noqa: N802 - gRPC method name
        self, request: avs_query.QueryCommitteeRequest, context: Any
    ) -> avs_query.QueryCommitteeResponse:
        def run() -> avs_query.QueryCommitteeResponse:
            address = evm_address(request.avs_address, "avs address")
            committee = self._queries.committee(address, int(request.epoch))
            if committee is None:
                epoch = "the current epoch" if request.epoch == 0 else f"epoch {request.epoch}"
                raise NotFoundError(f"no committee for AVS {address} at {epoch}")
            return avs_query.QueryCommitteeResponse(committee=committee)

        return self._answer(context, run)

    def QueryRewardClaim(  # noqa: N802 - gRPC method name
        self, request: avs_query.QueryRewardClaimRequest, context: Any
    ) -> avs_query.QueryRewardClaimResponse:
        def run() -> avs_query.QueryRewardClaimResponse:
            claim_id = identifier(request.claim_id, "claim id")
            claim = self._queries.reward_claim(claim_id)
            if claim is None:
                raise NotFoundError(f"reward claim 0x{claim_id.hex()} not found")
            return avs_query.QueryRewardClaimResponse(claim=claim)

        return self._answer(context, run)

    def QueryRewardClaims(  # noqa: N802 - gRPC method name
        self, request: avs_query.QueryRewardClaimsRequest, context: Any
    ) -> avs_query.QueryRewardClaimsResponse:
        def run() -> avs_query.QueryRewardClaimsResponse:
            avs_filter = evm_address(request.avs_address, "avs address") if request.avs_address else ""
            keyed = [
                (position_key(position), claim)
                for position, claim in enumerate(self._queries.reward_claims())
                if (not avs_filter or claim.avs_address == avs_filter) and request.status in (0, claim.status)
            ]
            page, pagination = paginate(keyed, _page_of(request))
            return avs_query.QueryRewardClaimsResponse(claims=page, pagination=pagination)

        return self._answer(context, run)


class FeeDistributionQueryService(_QueryServicer, fee_grpc.QueryServicer):
    """``exocore.feedistribution.v1.Query``."""

    def Distribution(  # noqa: N802 - gRPC method name
        self, request: fee_query.QueryDistributionRequest, context: Any
    ) -> fee_query.QueryDistributionResponse:
        def run() -> fee_query.QueryDistributionResponse:
            selector = request.WhichOneof("selector")
            if selector == "claim_id":
                claim_id = identifier(request.claim_id, "claim id")
                distribution = self._queries.distribution_for_claim(claim_id)
                missing = f"no distribution for claim 0x{claim_id.hex()}"
            elif selector == "nonce":
                distribution = self._queries.distribution(int(request.nonce))
                missing = f"distribution {request.nonce} not found"
            else:
                raise InvalidRequestError("either claim_id or nonce is required")
            if distribution is None:
                raise NotFoundError(missing)
            return fee_query.QueryDistributionResponse(distribution=distribution)

        return self._answer(context, run)

    def Distributions(  # noqa: N802 - gRPC method name
        self, request: fee_query.QueryDistributionsRequest, context: Any
    ) -> fee_query.QueryDistributionsResponse:
        def run() -> fee_query.QueryDistributionsResponse:
            keyed = [
                (_nonce_key(d.nonce), d)
                for d in self._queries.distributions()
                if d.nonce >= request.from_nonce
            ]
            page, pagination = paginate(keyed, _page_of(request))
            return fee_query.QueryDistributionsResponse(distributions=page, pagination=pagination)

        return self._answer(context, run)

    def DistributionLeaves(  # noqa: N802 - gRPC method name
        self, request: fee_query.QueryDistributionLeavesRequest, context: Any
    ) -> fee_query.QueryDistributionLeavesResponse:
        def run() -> fee_query.QueryDistributionLeavesResponse:
            nonce = int(request.nonce)
            if self._queries.distribution(nonce) is None and not self._queries.has_withdrawal_approval(nonce):
                raise NotFoundError(f"distribution {request.nonce} not found")
            leaves = self._queries.distribution_leaves(request.nonce)
            page, pagination = paginate(_IndexKeyed(leaves), _page_of(request))
            return fee_query.QueryDistributionLeavesResponse(leaves=page, pagination=pagination)

        return self._answer(context, run)

    def CumulativeLeaves(  # noqa: N802 - gRPC method name
        self, request: fee_query.QueryCumulativeLeavesRequest, context: Any
    ) -> fee_query.QueryCumulativeLeavesResponse:
        def run() -> fee_query.QueryCumulativeLeavesResponse:
            leaves = self._queries.cumulative_leaves(int(request.period), int(request.l1_chain_id))
            if leaves is None:
                chain = f" of client chain {request.l1_chain_id}" if request.l1_chain_id else ""
                raise NotFoundError(f"cumulative period {request.period}{chain} not found")
            keyed = [(_nonce_key(position), leaf) for position, leaf in enumerate(leaves)]
            page, pagination = paginate(keyed, _page_of(request))
            return fee_query.QueryCumulativeLeavesResponse(leaves=page, pagination=pagination)

        return self._answer(context, run)


class OperatorQueryService(_QueryServicer, operator_grpc.QueryServicer):
    """``exocore.operator.v1.Query``."""

    def QueryOperatorInfo(  # noqa: N802 - gRPC method name
        self, request: operator_query.GetOperatorInfoReq, context: Any
    ) -> operator_tx.OperatorInfo:
        def run() -> operator_tx.OperatorInfo:
            account = operator_account(request.operator_addr)
            info = self._queries.operator_info(account)
            if info is None:
                raise NotFoundError(f"operator {account} is not registered")
            return info

        return self._answer(context, run)

    def QueryAllOperators(  # noqa: N802 - gRPC method name
        self, request: operator_query.QueryAllOperatorsRequest, context: Any
    ) -> operator_query.QueryAllOperatorsResponse:
        def run() -> operator_query.QueryAllOperatorsResponse:
            keyed = [(account.encode(), account) for account in self._queries.operator_accounts()]
            page, pagination = paginate(keyed, _page_of(request))
            return operator_query.QueryAllOperatorsResponse(operator_acc_addrs=page, pagination=pagination)

        return self._answer(context, run)

    def QueryOperatorSlashInfo(  # noqa: N802 - gRPC method name
        self, request: operator_query.QueryOperatorSlashInfoRequest, context: Any
    ) -> operator_query.QueryOperatorSlashInfoResponse:
        def run() -> operator_query.QueryOperatorSlashInfoResponse:
            account = operator_account(request.operator)
            avs_filter = evm_address(request.avs_address, "avs address") if request.avs_address else ""
            keyed = [
                (position_key(position), info)
                for position, info in enumerate(self._queries.slash_infos())
                if info.operator == account and (not avs_filter or info.avs_address == avs_filter)
            ]
            page, pagination = paginate(keyed, _page_of(request))
            return operator_query.QueryOperatorSlashInfoResponse(slash_infos=page, pagination=pagination)

        return self._answer(context, run)

    def QuerySlash(  # noqa: N802 - gRPC method name
        self, request: operator_query.QuerySlashRequest, context: Any
    ) -> operator_query.QuerySlashResponse:
        def run() -> operator_query.QuerySlashResponse:
            slash_id = identifier(request.slash_id, "slash id")
            info = self._queries.slash_info(slash_id)
            if info is None:
                raise NotFoundError(f"slash 0x{slash_id.hex()} not found")
            return operator_query.QuerySlashResponse(slash_info=info)

        return self._answer(context, run)

    def QueryOperatorFrozen(  # noqa: N802 - gRPC method name
        self, request: operator_query.QueryOperatorFrozenRequest, context: Any
    ) -> operator_query.QueryOperatorFrozenResponse:
        def run() -> operator_query.QueryOperatorFrozenResponse:
            account = operator_account(request.operator)
            avs = evm_address(request.avs_address, "avs address")
            slash = self._queries.freezing_slash(account, avs)
            if slash is None:
                return operator_query.QueryOperatorFrozenResponse(frozen=False)
            return operator_query.QueryOperatorFrozenResponse(
                frozen=True, frozen_height=slash.executed_height, slash_id=slash.slash_id
            )

        return self._answer(context, run)

    def QueryAssetCustody(  # noqa: N802 - gRPC method name
        self, request: operator_query.QueryAssetCustodyRequest, context: Any
    ) -> operator_query.QueryAssetCustodyResponse:
        def run() -> operator_query.QueryAssetCustodyResponse:
            try:
                asset = str(AssetId.parse(request.asset_id))
            except ProtocolError as exc:
                raise InvalidRequestError(f"invalid asset id {request.asset_id!r}: {exc}") from exc
            return self._queries.asset_custody(asset)

        return self._answer(context, run)


class RelayQueryService(_QueryServicer, relay_grpc.QueryServicer):
    """``exocore.relay.v1.Query``."""

    def Packets(  # noqa: N802 - gRPC method name
        self, request: relay_query.QueryPacketsRequest, context: Any
    ) -> relay_query.QueryPacketsResponse:
        def run() -> relay_query.QueryPacketsResponse:
            packets = self._queries.packets()
            keyed = [(_nonce_key(p.nonce), p) for p in packets if p.nonce >= request.from_nonce]
            page, pagination = paginate(keyed, _page_of(request))
            return relay_query.QueryPacketsResponse(packets=page, pagination=pagination)

        return self._answer(context, run)

    def _packet(self, nonce: int) -> Any:
        packet = self._queries.packet(nonce)
        if packet is None:
            raise NotFoundError(f"packet {nonce} not found")
        return packet

    def Packet(  # noqa: N802 - gRPC method name
        self, request: relay_query.QueryPacketRequest, context: Any
    ) -> relay_query.QueryPacketResponse:
        return self._answer(
            context, lambda: relay_query.QueryPacketResponse(packet=self._packet(request.nonce))
        )

    def PacketSignatures(  # noqa: N802 - gRPC method name
        self, request: relay_query.QueryPacketSignaturesRequest, context: Any
    ) -> relay_query.QueryPacketSignaturesResponse:
        def run() -> relay_query.QueryPacketSignaturesResponse:
            packet = self._packet(request.nonce)
            signatures: Sequence[Any] = self._queries.packet_signatures(request.nonce)
            return relay_query.QueryPacketSignaturesResponse(
                nonce=packet.nonce, valset_nonce=packet.valset_nonce, signatures=signatures
            )

        return self._answer(context, run)

    def Valset(  # noqa: N802 - gRPC method name
        self, request: relay_query.QueryValsetRequest, context: Any
    ) -> relay_query.QueryValsetResponse:
        def run() -> relay_query.QueryValsetResponse:
            valset = self._queries.valset(int(request.valset_nonce))
            if valset is None:
                raise NotFoundError(f"valset {request.valset_nonce} not found")
            return relay_query.QueryValsetResponse(valset=valset)

        return self._answer(context, run)

    def CurrentValset(  # noqa: N802 - gRPC method name
        self, request: relay_query.QueryCurrentValsetRequest, context: Any
    ) -> relay_query.QueryCurrentValsetResponse:
        def run() -> relay_query.QueryCurrentValsetResponse:
            valset = self._queries.current_valset()
            if valset is None:
                raise NotFoundError("no validator set yet")
            return relay_query.QueryCurrentValsetResponse(valset=valset)

        return self._answer(context, run)

    def Params(  # noqa: N802 - gRPC method name
        self, request: relay_query.QueryParamsRequest, context: Any
    ) -> relay_query.QueryParamsResponse:
        return self._answer(
            context, lambda: relay_query.QueryParamsResponse(params=self._queries.relay_params())
        )


class DevnetMsgService(tx_grpc.MsgServicer):
    """``exocore.devnet.v1.Msg`` (the simulator's knobs): forwards each to the :class:`ChainDriver`."""

    def __init__(self, driver: ChainDriver) -> None:
        self._driver = driver

    def SetPrice(  # noqa: N802 - gRPC method name
        self, request: tx.MsgSetPrice, context: Any
    ) -> tx.MsgSetPriceResponse:
        return run_guarded(context, lambda: self._driver.set_price(request))

    def SetValidatorPower(  # noqa: N802 - gRPC method name
        self, request: tx.MsgSetValidatorPower, context: Any
    ) -> tx.MsgSetValidatorPowerResponse:
        return run_guarded(context, lambda: self._driver.set_validator_power(request))

    def SetFaultKnobs(  # noqa: N802 - gRPC method name
        self, request: tx.MsgSetFaultKnobs, context: Any
    ) -> tx.MsgSetFaultKnobsResponse:
        return run_guarded(context, lambda: self._driver.set_fault_knobs(request))

    def AdvanceBlocks(  # noqa: N802 - gRPC method name
        self, request: tx.MsgAdvanceBlocks, context: Any
    ) -> tx.MsgAdvanceBlocksResponse:
        return run_guarded(context, lambda: self._driver.advance_blocks(request))


class DelegationMsgService(delegation_grpc.MsgServicer):
    """``exocore.delegation.v1.Msg`` over gRPC (devnet convenience; a node takes these messages only in
    signed transactions): forwards to the :class:`ChainDriver`."""

    def __init__(self, driver: ChainDriver) -> None:
        self._driver = driver

    def DelegateAssetToOperator(  # noqa: N802 - gRPC method name
        self, request: delegation_tx.MsgDelegation, context: Any
    ) -> delegation_tx.DelegationResponse:
        return run_guarded(context, lambda: self._driver.delegate(request))

    def UndelegateAssetFromOperator(  # noqa: N802 - gRPC method name
        self, request: delegation_tx.MsgUndelegation, context: Any
    ) -> delegation_tx.UndelegationResponse:
        return run_guarded(context, lambda: self._driver.undelegate(request))


class AvsMsgService(avs_tx_grpc.MsgServicer):
    """``exocore.avs.v1.Msg`` (proposed) over gRPC (devnet convenience): forwards to the
    :class:`ChainDriver`."""

    def __init__(self, driver: ChainDriver) -> None:
        self._driver = driver

    def SubmitRewardClaim(  # noqa: N802 - gRPC method name
        self, request: avs_tx.MsgSubmitRewardClaim, context: Any
    ) -> avs_tx.MsgSubmitRewardClaimResponse:
        return run_guarded(context, lambda: self._driver.submit_reward_claim(request))

    def RecordFeeDeposit(  # noqa: N802 - gRPC method name
        self, request: avs_tx.MsgRecordFeeDeposit, context: Any
    ) -> avs_tx.MsgRecordFeeDepositResponse:
        return run_guarded(context, lambda: self._driver.record_fee_deposit(request))


class OperatorMsgService(operator_tx_grpc.MsgServicer):
    """``exocore.operator.v1.Msg`` (proposed slashing) over gRPC (devnet convenience): forwards to the
    :class:`ChainDriver`."""

    def __init__(self, driver: ChainDriver) -> None:
        self._driver = driver

    def SubmitSlashRequest(  # noqa: N802 - gRPC method name
        self, request: operator_tx.MsgSubmitSlashRequest, context: Any
    ) -> operator_tx.MsgSubmitSlashRequestResponse:
        return run_guarded(context, lambda: self._driver.submit_slash_request(request))

    def SubmitEquivocationEvidence(  # noqa: N802 - gRPC method name
        self, request: operator_tx.MsgSubmitEquivocationEvidence, context: Any
    ) -> operator_tx.MsgSubmitEquivocationEvidenceResponse:
        return run_guarded(context, lambda: self._driver.submit_equivocation_evidence(request))

    def SubmitWrongResultEvidence(  # noqa: N802 - gRPC method name
        self, request: operator_tx.MsgSubmitWrongResultEvidence, context: Any
    ) -> operator_tx.MsgSubmitWrongResultEvidenceResponse:
        return run_guarded(context, lambda: self._driver.submit_wrong_result_evidence(request))
