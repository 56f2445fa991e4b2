"""What the devnet's Msg services need from the state machine: one method per RPC of
``exocore.devnet.v1.Msg`` (the simulator's knobs) and of the module Msg services the devnet also
serves over gRPC for test drivers (``exocore.delegation.v1.Msg``, ``exocore.avs.v1.Msg``,
``exocore.operator.v1.Msg``; a real node takes those messages only inside signed transactions).

Each method validates the message, schedules its effect for the next block (or commits blocks, for
``advance_blocks``) and returns the response with the height it lands in. Registration and opt-in/out
have no RPC here: they travel only as upstream's messages in signed transactions. Rejections are raised as
:class:`~devnet.grpc.errors.InvalidRequestError` (malformed) or
:class:`~devnet.grpc.errors.RequestRejectedError` (against the chain's rules); the servicer maps
them to ``INVALID_ARGUMENT`` / ``FAILED_PRECONDITION``.
"""

from __future__ import annotations

from typing import Protocol

from relayer.exocore.proto.avs.v1 import tx_pb2 as avs_tx
from relayer.exocore.proto.delegation.v1 import tx_pb2 as delegation_tx
from relayer.exocore.proto.devnet.v1 import tx_pb2 as tx
from relayer.exocore.proto.operator.v1 import tx_pb2 as operator_tx


class ChainDriver(Protocol):
    def delegate(self, msg: delegation_tx.MsgDelegation) -> delegation_tx.DelegationResponse: ...

    def undelegate(self, msg: delegation_tx.MsgUndelegation) -> delegation_tx.UndelegationResponse: ...

    def set_price(self, msg: tx.MsgSetPrice) -> tx.MsgSetPriceResponse: ...

    def submit_reward_claim(
        self, msg: avs_tx.MsgSubmitRewardClaim
    ) -> avs_tx.MsgSubmitRewardClaimResponse: ...

    def record_fee_deposit(self, msg: avs_tx.MsgRecordFeeDeposit) -> avs_tx.MsgRecordFeeDepositResponse: ...

    def submit_slash_request(
        self, msg: operator_tx.MsgSubmitSlashRequest
    ) -> operator_tx.MsgSubmitSlashRequestResponse: ...

    def submit_equivocation_evidence(
        self, msg: operator_tx.MsgSubmitEquivocationEvidence
    ) -> operator_tx.MsgSubmitEquivocationEvidenceResponse: ...

    def submit_wrong_result_evidence(
        self, msg: operator_tx.MsgSubmitWrongResultEvidence
    ) -> operator_tx.MsgSubmitWrongResultEvidenceResponse: ...

    def set_validator_power(self, msg: tx.MsgSetValidatorPower) -> tx.MsgSetValidatorPowerResponse: ...

    def set_fault_knobs(self, msg: tx.MsgSetFaultKnobs) -> tx.MsgSetFaultKnobsResponse: ...

    def advance_blocks(self, msg: tx.MsgAdvanceBlocks) -> tx.MsgAdvanceBlocksResponse: ...
