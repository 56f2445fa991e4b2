"""Test doubles for the parts of the devnet the wire layer talks to but does not own.

``InMemoryChainQueries`` stores exactly what a test puts in and answers the ``ChainQueries``
protocol from it; ``RecordingDriver`` records each Msg and returns a scripted response. The real
implementations are the devnet state machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from devnet.grpc.errors import RequestRejectedError
from relayer.exocore.proto.avs.v1 import tx_pb2 as avs_tx
from relayer.exocore.proto.avs.v1 import types_pb2 as avs
from relayer.exocore.proto.delegation.v1 import tx_pb2 as delegation_tx
from relayer.exocore.proto.devnet.v1 import tx_pb2 as tx
from relayer.exocore.proto.feedistribution.v1 import types_pb2 as feedistribution
from relayer.exocore.proto.operator.v1 import query_pb2 as operator_query
from relayer.exocore.proto.operator.v1 import tx_pb2 as operator_tx
from relayer.exocore.proto.operator.v1 import types_pb2 as operator
from relayer.exocore.proto.relay.v1 import types_pb2 as relay


@dataclass
class InMemoryChainQueries:
    """A ChainQueries answering from lists/dicts filled by the test."""

    avs_by_address: dict[str, avs.AVSInfo] = field(default_factory=dict)
    committees: dict[tuple[str, int], avs.Committee] = field(default_factory=dict)
    current_epochs: dict[str, int] = field(default_factory=dict)
    claims: list[avs.RewardClaim] = field(default_factory=list)
    distribution_list: list[feedistribution.Distribution] = field(default_factory=list)
    leaves: dict[int, list[feedistribution.DistributionLeaf]] = field(default_factory=dict)
    cumulative: dict[int, list[feedistribution.CumulativeLeaf]] = field(default_factory=dict)
    slashes: list[operator.OperatorSlashInfo] = field(default_factory=list)
    operators: dict[str, operator_tx.OperatorInfo] = field(default_factory=dict)
    packet_list: list[relay.Packet] = field(default_factory=list)
    signatures: dict[int, list[relay.ValidatorSignature]] = field(default_factory=dict)
    valsets: dict[int, relay.Valset] = field(default_factory=dict)
    current_valset_nonce: int | None = None
    params: relay.Params = field(default_factory=relay.Params)

    def avs_info(self, avs_address: str) -> avs.AVSInfo | None:
        return self.avs_by_address.get(avs_address)

    def operator_info(self, account: str) -> operator_tx.OperatorInfo | None:
        return self.operators.get(account)

    def operator_accounts(self) -> Sequence[str]:
        return sorted(self.operators)

    def avs_infos(self) -> Sequence[avs.AVSInfo]:
        return [self.avs_by_address[k] for k in sorted(self.avs_by_address)]

    def committee(self, avs_address: str, epoch: int) -> avs.Committee | None:
        if epoch == 0:
            epoch = self.current_epochs.get(avs_address, 0)
        return self.committees.get((avs_address, epoch))

    def reward_claim(self, claim_id: bytes) -> avs.RewardClaim | None:
        return next((c for c in self.claims if c.claim_id == claim_id), None)

    def reward_claims(self) -> Sequence[avs.RewardClaim]:
        return list(self.claims)

    def distribution(self, nonce: int) -> feedistribution.Distribution | None:
        return next((d for d in self.distribution_list if d.nonce == nonce), None)

    def distribution_for_claim(self, claim_id: bytes) -> feedistribution.Distribution | None:
        return next((d for d in self.distribution_list if d.claim_id == claim_id), None)

    def distributions(self) -> Sequence[feedistribution.Distribution]:
        return sorted(self.distribution_list, key=lambda d: d.nonce)

    def distribution_leaves(self, nonce: int) -> Sequence[feedistribution.DistributionLeaf]:
        return self.leaves.get(nonce, [])

    def has_withdrawal_approval(self, nonce: int) -> bool:
        return False  # these fakes serve reward distributions only

    def cumulative_leaves(self, period: int) -> Sequence[feedistribution.CumulativeLeaf] | None:
        return self.cumulative.get(period)

    def slash_info(self, slash_id: bytes) -> operator.OperatorSlashInfo | None:
        return next((s for s in self.slashes if s.slash_id == slash_id), None)

    def slash_infos(self) -> Sequence[operator.OperatorSlashInfo]:
        return list(self.slashes)

    def asset_custody(self, asset_id: str) -> operator_query.QueryAssetCustodyResponse:
        return operator_query.QueryAssetCustodyResponse(delegated="0", unbonding="0", approved="0")

    def freezing_slash(self, operator_account: str, avs_address: str) -> operator.OperatorSlashInfo | None:
        return next(
            (
                s
                for s in self.slashes
                if s.operator == operator_account
                and s.avs_address == avs_address
                and s.freeze
                and s.status == operator.SLASH_STATUS_EXECUTED
            ),
            None,
        )

    def packet(self, nonce: int) -> relay.Packet | None:
        return next((p for p in self.packet_list if p.nonce == nonce), None)

    def packets(self) -> Sequence[relay.Packet]:
        return sorted(self.packet_list, key=lambda p: p.nonce)

    def packet_signatures(self, nonce: int) -> Sequence[relay.ValidatorSignature]:
        return self.signatures.get(nonce, [])

    def valset(self, valset_nonce: int) -> relay.Valset | None:
        return self.valsets.get(valset_nonce)

    def current_valset(self) -> relay.Valset | None:
        return None if self.current_valset_nonce is None else self.valsets[self.current_valset_nonce]

    def relay_params(self) -> relay.Params:
        return self.params


@dataclass
class RecordingDriver:
    """A ChainDriver that records every message; ``reject`` names Msg types to refuse."""

    height: int = 7
    received: list[Any] = field(default_factory=list)
    reject: dict[str, str] = field(default_factory=dict)
    # Msg type names whose handling fails with an unexpected (non-chain) exception.
    crash: set[str] = field(default_factory=set)

    def _record(self, msg: Any) -> None:
        self.received.append(msg)
        if type(msg).__name__ in self.crash:
            raise RuntimeError("state machine bug")
        reason = self.reject.get(type(msg).__name__)
        if reason is not None:
            raise RequestRejectedError(reason)

    def delegate(self, msg: delegation_tx.MsgDelegation) -> delegation_tx.DelegationResponse:
        self._record(msg)
        return delegation_tx.DelegationResponse(height=self.height)

    def set_price(self, msg: tx.MsgSetPrice) -> tx.MsgSetPriceResponse:
        self._record(msg)
        return tx.MsgSetPriceResponse(height=self.height)

    def submit_reward_claim(self, msg: avs_tx.MsgSubmitRewardClaim) -> avs_tx.MsgSubmitRewardClaimResponse:
        self._record(msg)
        return avs_tx.MsgSubmitRewardClaimResponse(height=self.height, claim_id=bytes(32), tx_hash="AB")

    def record_fee_deposit(self, msg: avs_tx.MsgRecordFeeDeposit) -> avs_tx.MsgRecordFeeDepositResponse:
        self._record(msg)
        return avs_tx.MsgRecordFeeDepositResponse(height=self.height)

    def submit_slash_request(
        self, msg: operator_tx.MsgSubmitSlashRequest
    ) -> operator_tx.MsgSubmitSlashRequestResponse:
        self._record(msg)
        return operator_tx.MsgSubmitSlashRequestResponse(height=self.height, slash_id=bytes(32))

    def submit_equivocation_evidence(
        self, msg: operator_tx.MsgSubmitEquivocationEvidence
    ) -> operator_tx.MsgSubmitEquivocationEvidenceResponse:
        self._record(msg)
        return operator_tx.MsgSubmitEquivocationEvidenceResponse(height=self.height, slash_id=bytes(32))

    def submit_wrong_result_evidence(
        self, msg: operator_tx.MsgSubmitWrongResultEvidence
    ) -> operator_tx.MsgSubmitWrongResultEvidenceResponse:
        self._record(msg)
        return operator_tx.MsgSubmitWrongResultEvidenceResponse(height=self.height, slash_id=bytes(32))

    def set_validator_power(self, msg: tx.MsgSetValidatorPower) -> tx.MsgSetValidatorPowerResponse:
        self._record(msg)
        return tx.MsgSetValidatorPowerResponse(height=self.height)

    def set_fault_knobs(self, msg: tx.MsgSetFaultKnobs) -> tx.MsgSetFaultKnobsResponse:
        self._record(msg)
        return tx.MsgSetFaultKnobsResponse(height=self.height)

    def advance_blocks(self, msg: tx.MsgAdvanceBlocks) -> tx.MsgAdvanceBlocksResponse:
        self._record(msg)
        return tx.MsgAdvanceBlocksResponse(height=self.height + msg.count)

    def undelegate(self, msg: delegation_tx.MsgUndelegation) -> delegation_tx.UndelegationResponse:
        self._record(msg)
        return delegation_tx.UndelegationResponse(height=self.height, record_id=1)
