"""What the devnet Msg service needs from the state machine: one method per ``exocore.devnet.v1.Msg`` RPC.

Each method validates the message, schedules its effect for the next block (or commits blocks, for
``advance_blocks``) and returns the response with the height it lands in. Registration and opt-in/out
have no RPC here: they travel only as upstream's messages in signed transactions. Rejections are raised as
:class:`~devnet.grpc.errors.InvalidRequestError` (malformed) or
:class:`~devnet.grpc.errors.RequestRejectedError` (against the chain's rules); the servicer maps
them to ``INVALID_ARGUMENT`` / ``FAILED_PRECONDITION``.
"""

from __future__ import annotations

from typing import Protocol

from relayer.exocore.proto.devnet.v1 import tx_pb2 as tx


class ChainDriver(Protocol):
    def delegate(self, msg: tx.MsgDelegate) -> tx.MsgDelegateResponse: ...

    def set_price(self, msg: tx.MsgSetPrice) -> tx.MsgSetPriceResponse: ...

    def submit_reward_claim(self, msg: tx.MsgSubmitRewardClaim) -> tx.MsgSubmitRewardClaimResponse: ...

    def submit_slash_request(self, msg: tx.MsgSubmitSlashRequest) -> tx.MsgSubmitSlashRequestResponse: ...

    def submit_equivocation_evidence(
        self, msg: tx.MsgSubmitEquivocationEvidence
    ) -> tx.MsgSubmitEquivocationEvidenceResponse: ...

    def submit_wrong_result_evidence(
        self, msg: tx.MsgSubmitWrongResultEvidence
    ) -> tx.MsgSubmitWrongResultEvidenceResponse: ...

    def set_validator_power(self, msg: tx.MsgSetValidatorPower) -> tx.MsgSetValidatorPowerResponse: ...

    def set_fault_knobs(self, msg: tx.MsgSetFaultKnobs) -> tx.MsgSetFaultKnobsResponse: ...

    def advance_blocks(self, msg: tx.MsgAdvanceBlocks) -> tx.MsgAdvanceBlocksResponse: ...

    def undelegate(self, msg: tx.MsgUndelegate) -> tx.MsgUndelegateResponse: ...

    def record_fee_deposit(self, msg: tx.MsgRecordFeeDeposit) -> tx.MsgRecordFeeDepositResponse: ...
