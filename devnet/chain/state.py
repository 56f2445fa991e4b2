"""The devnet chain's state machine: pure and deterministic, no IO, integer math only.

A block is ``begin_block(h)`` → ``deliver_tx(...)`` per transaction → ``end_block(h)``. Each returns the
ABCI events of that step (see :mod:`devnet.chain.events` for names and attributes); ``deliver_tx``
also returns a result code: 0 when the message was applied, :data:`CODE_REJECTED` when it broke a
chain rule (then it changed nothing and emitted nothing, as a failed Cosmos transaction).

Reward claims and slash requests are *applied* even when their verification fails: the claim (or
slash) is stored as rejected with a reason and ``reward_claim_rejected`` / ``slash_request_rejected``
is emitted. Only a duplicate of an already accepted claim or executed slash breaks a rule.

Epochs are ``epoch_blocks`` long; epoch ``e`` starts at height ``(e - 1) * epoch_blocks + 1``. At
the begin-block of an epoch's first height every AVS whose starting epoch has come elects its
committee for that epoch (:mod:`devnet.chain.election`), after every operator's delegations are
snapshotted for it: slashes for an offence in that epoch are measured on that snapshot
(:mod:`devnet.chain.slashing`).

Slashing verifiers: every slash goes through a verifier its AVS registered (``AvsRecord.
slash_verifiers``); evidence is decoded and checked by :mod:`relayer.protocol.evidence`, the same
code the operator runs before signing. A slash of a kind the AVS did not register is rejected
``verifier_not_registered``.

Custody: a ``MsgDelegation`` / ``MsgUndelegation`` carrying an ``l1_request_id`` reports an L1
RestakingVault event (the devnet's stand-in for upstream's inbound messaging). Each request id applies
once. An L1 delegation Exocore cannot honour (unknown or frozen operator, unknown asset) is refunded:
it matures at the next epoch into a withdrawal approval. Undelegations of L1 requests, at maturity,
become WITHDRAWAL_APPROVAL packets (:mod:`devnet.chain.custody`) for what is left after every slash.
A frozen operator takes no new delegation.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from devnet.chain import events as ev
from devnet.chain.blockstore import Event, InvalidBlockError
from devnet.chain.cumulative import ClosedPeriod, CumulativeLedger
from devnet.chain.custody import approval_batches
from devnet.chain.election import elect
from devnet.chain.model import (
    CLAIM_ACCRUED,
    CLAIM_DISTRIBUTED,
    CLAIM_REJECTED,
    CLAIM_SUBMITTED,
    CLAIM_VERIFIED,
    SLASH_EXECUTED,
    SLASH_KIND_COMMITTEE_REQUEST,
    SLASH_KIND_EQUIVOCATION,
    SLASH_KIND_WRONG_RESULT,
    SLASH_REJECTED,
    SLASH_SUBMITTED,
    Asset,
    AvsRecord,
    ClaimRecord,
    Committee,
    DistributionRecord,
    FaultKnobs,
    FeeSource,
    Operator,
    PacketRecord,
    RewardTokenInfo,
    SlashedAssetAmount,
    SlashRecord,
    Undelegation,
    ValidatorEntry,
    WithdrawalApprovalRecord,
)
from devnet.chain.msgs import (
    Delegate,
    Msg,
    OptIn,
    OptOut,
    RecordFeeDeposit,
    RegisterAvs,
    RegisterOperator,
    SetFaultKnobs,
    SetPrice,
    SetValidatorPower,
    SubmitEquivocation,
    SubmitRewardClaim,
    SubmitSlashRequest,
    SubmitWrongResult,
    Undelegate,
)
from devnet.chain.params import (
    MAX_CLAIM_AMOUNT,
    MAX_VALIDATOR_POWER,
    MAX_VALIDATORS,
    USD_DECIMALS,
    Genesis,
)
from devnet.chain.relay import RelayState
from devnet.chain.rewards import (
    DistributionPlan,
    OperatorShare,
    delegator_weights,
    delegator_weights_by_chain,
    plan_distributions,
)
from devnet.chain.slashing import AssetSlash, SlashOutcome, slash_stake, snapshot_pools
from devnet.grpc.errors import RequestRejectedError
from relayer.errors import ProtocolError
from relayer.protocol import bls
from relayer.protocol.claims import EquivocationEvidence, RewardClaim, SlashRequest, format_fixed
from relayer.protocol.evidence import (
    Attestation,
    EvidenceRejectedError,
    decode_or_fault,
    evidence_hash,
    verify_evidence,
)
from relayer.protocol.ids import AssetId, staker_id
from relayer.protocol.kinds import PayoutMode, SlashKind
from relayer.protocol.merkle import DistributionLeaf, DistributionTree
from relayer.protocol.packets import (
    CUMULATIVE_FUNDING_MODES,
    ClientChain,
    FundingMode,
    RewardDistributionPayload,
    SlashPayload,
    WithdrawalApprovalPayload,
    distribution_id,
)
from relayer.protocol.quorum import SignerBitmap, Threshold, meets_threshold
from relayer.protocol.types import Address, Amount, Hash32

CODE_OK: Final = 0
CODE_REJECTED: Final = 1
CODESPACE: Final = "devnet"


STAKE_SNAPSHOT_EPOCHS: Final = 64
"""Epochs of per-operator stake snapshots kept (epochs): a slash is measured on the stake of its
offence's epoch, so an offence older than this can no longer be slashed (``offence_too_old``).
Upstream bounds slashing by the unbonding period the same way; 64 epochs outlasts the devnet's."""

SLASH_KIND_LABELS: Final = {
    SLASH_KIND_EQUIVOCATION: SlashKind.EQUIVOCATION,
    SLASH_KIND_COMMITTEE_REQUEST: SlashKind.COMMITTEE_REQUEST,
    SLASH_KIND_WRONG_RESULT: SlashKind.WRONG_RESULT,
}


class ChainRuleError(RequestRejectedError):
    """A message breaks a rule of the chain's current state (unknown operator, duplicate key, ...)."""


@dataclass(frozen=True)
class TxOutcome:
    code: int
    log: str
    events: tuple[Event, ...]


@dataclass(frozen=True)
class EndBlockOutcome:
    events: tuple[Event, ...]
    validator_updates: tuple[tuple[bytes, int], ...]
    """(consensus public key, new power; 0 = removed), effective two heights later (CometBFT)."""
    validators: tuple[tuple[bytes, int], ...]
    """The CometBFT set (consensus key, power) that signs this block."""
    next_validators: tuple[tuple[bytes, int], ...]
    """The CometBFT set of the next block."""


@dataclass(frozen=True)
class _Rejection:
    reason: str
    detail: str

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"


def _not_registered(avs: AvsRecord, kind: SlashKind) -> _Rejection:
    return _Rejection(
        "verifier_not_registered",
        f"AVS {avs.hex} registered no {kind.value} verifier ({', '.join(sorted(avs.slash_verifiers))})",
    )


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


class ChainState:
    """All state of the simulated Exocore chain plus the transitions over it."""

    def __init__(self, genesis: Genesis, initial_height: int = 1) -> None:
        self.genesis = genesis
        self.initial_height = initial_height
        self.exocore_chain: Hash32 = genesis.exocore_chain
        self.pop_chain_id = genesis.chain_id_without_revision
        self.height = initial_height - 1
        """Last committed height (``initial_height - 1`` before the first block)."""
        self.block_height = initial_height - 1
        """Height of the block being executed (== ``height`` between blocks)."""
        self.assets: dict[str, Asset] = {}
        for spec in genesis.assets:
            parsed = AssetId.parse(spec.asset_id)
            self.assets[spec.asset_id] = Asset(
                spec.asset_id, parsed.token, parsed.lz_chain_id, spec.decimals, spec.price_usd_e8
            )
        self.operators: dict[str, Operator] = {}
        self.key_owner: dict[bytes, tuple[str, str]] = {}
        self.avss: dict[str, AvsRecord] = {}
        self.committees: dict[tuple[str, int], Committee] = {}
        self.undelegations: dict[int, Undelegation] = {}
        self.l1_requests_by_chain: dict[int, dict[int, int]] = {}
        """Per client chain (lz chain id): L1 RestakingVault request id -> height it was applied at
        (each applies once). Each chain's vault counts its own ids: the same id on two chains is two
        requests."""
        self.withdrawal_approvals: dict[int, WithdrawalApprovalRecord] = {}
        """Packet nonce -> WITHDRAWAL_APPROVAL batch."""
        self.claims: dict[Hash32, ClaimRecord] = {}
        self.claim_order: list[Hash32] = []
        self.distributions: dict[int, DistributionRecord] = {}
        self.cumulative_ledgers: dict[int, CumulativeLedger] = {}
        """Per client chain (L1 chain id): its cumulative earnings and periods (1, 2, ... per chain).
        A chain's ledger exists once a cumulative distribution reached one of its earners."""
        self.cumulative_periods: dict[int, dict[int, tuple[int, ClosedPeriod]]] = {}
        """Per client chain (L1 chain id): period -> (height it closed at, its tree and payload): what
        CumulativeLeaves serves."""
        self.distribution_by_claim: dict[Hash32, int] = {}
        self.fee_deposits: dict[tuple[int, Hash32, int], int] = {}
        """L1 ``FeesDeposited`` event (tx hash, log index) -> height it was applied at (each once)."""
        self.fee_sources: dict[tuple[Address, Address, int], FeeSource] = {}
        """(AVS, token) -> its FEES source: fees reported from L1 and what distributions took."""
        self.slashes: dict[Hash32, SlashRecord] = {}
        self.slash_order: list[Hash32] = []
        self.stake_snapshots: dict[int, dict[str, dict[str, dict[Address, int]]]] = {}
        """Epoch -> operator account -> asset -> staker -> amount at the epoch's first block."""
        entries = tuple(
            ValidatorEntry(v.consensus_pubkey, v.bls_pubkey, v.power, v.bls_secret, v.pop)
            for v in genesis.validators
        )
        self.relay = RelayState(
            exocore_chain=self.exocore_chain,
            l1_chain_id=genesis.l1_chain_id,
            gateway=genesis.gateway,
            genesis_validators=entries,
            initial_height=initial_height,
            client_chains=genesis.client_chains,
        )
        genesis_comet = tuple((v.consensus_pubkey, v.power) for v in entries)
        # CometBFT sets: block H is signed by comet_current, H+1 by comet_next (updates at end of H
        # take effect at H+2).
        self.comet_current = genesis_comet
        self.comet_next = genesis_comet
        self._comet_at_block_start: dict[bytes, int] = dict(genesis_comet)
        self._handlers: dict[type, tuple[Callable[[Any], None], Callable[[Any, str, int], list[Event]]]] = {
            RegisterOperator: (self._check_register_operator, self._register_operator),
            RegisterAvs: (self._check_register_avs, self._register_avs),
            OptIn: (self._check_opt_in, self._opt_in),
            OptOut: (self._check_opt_out, self._opt_out),
            Delegate: (self._check_delegate, self._delegate),
            Undelegate: (self._check_undelegate, self._undelegate),
            SetPrice: (self._check_set_price, self._set_price),
            SubmitRewardClaim: (self._check_claim, self._submit_claim),
            RecordFeeDeposit: (self._check_fee_deposit, self._record_fee_deposit),
            SubmitSlashRequest: (self._check_slash_request, self._submit_slash_request),
            SubmitEquivocation: (self._check_equivocation, self._submit_equivocation),
            SubmitWrongResult: (self._check_wrong_result, self._submit_wrong_result),
            SetValidatorPower: (self._check_validator_power, self._set_validator_power),
            SetFaultKnobs: (self._check_fault_knobs, self._set_fault_knobs),
        }

    # ------------------------------------------------------------------ epochs

    def epoch_of(self, height: int) -> int:
        return (max(height, self.initial_height) - self.initial_height) // self.genesis.epoch_blocks + 1

    @property
    def current_epoch(self) -> int:
        """Epoch of the block being executed (or of the last committed block between blocks)."""
        return self.epoch_of(self.block_height)

    def is_epoch_start(self, height: int) -> bool:
        return (height - self.initial_height) % self.genesis.epoch_blocks == 0

    def epoch_start_height(self, epoch: int) -> int:
        return self.initial_height + (epoch - 1) * self.genesis.epoch_blocks

    # ------------------------------------------------------------------ block steps

    def begin_block(self, height: int) -> list[Event]:
        if height != self.height + 1:
            raise InvalidBlockError(f"expected block {self.height + 1}, got {height}")
        self.block_height = height
        self._comet_at_block_start = {pub: power for pub, power in self._comet_target()}
        events: list[Event] = []
        rotated = self.relay.rotate(height)
        if rotated is not None:
            packets, valset = rotated
            previous = valset.nonce - 1
            events.append(
                ev.event(
                    ev.VALSET_UPDATED,
                    ("valset_nonce", valset.nonce),
                    ("previous_valset_nonce", previous),
                    ("member_count", len(valset.members)),
                    ("total_power", valset.total_power),
                    # The first client chain's update (the others follow it, one nonce each).
                    ("packet_nonce", packets[0].packet.nonce),
                )
            )
            events.extend(self._packet_event(packet) for packet in packets)
        if self.is_epoch_start(height):
            epoch = self.epoch_of(height)
            events.extend(self._complete_undelegations(epoch))
            self._snapshot_stake(epoch)
            events.extend(self._elect_committees(epoch, height))
        return events

    def check_tx(self, msg: Msg) -> None:
        """Admission: raise :class:`ChainRuleError` if ``msg`` cannot apply to the current state."""
        self._handlers[type(msg)][0](msg)

    def deliver_tx(self, msg: Msg, type_url: str, tx_hash: str, sequence: int) -> TxOutcome:
        """Apply ``msg`` in the current block. ``sequence`` is the transaction's admission sequence."""
        check, apply = self._handlers[type(msg)]
        try:
            check(msg)
        except ChainRuleError as exc:
            return TxOutcome(CODE_REJECTED, str(exc), ())
        return TxOutcome(CODE_OK, "", (ev.message(type_url), *apply(msg, tx_hash, sequence)))

    def end_block(self, height: int) -> EndBlockOutcome:
        target = self._comet_target()
        target_powers = dict(target)
        updates = [(pub, power) for pub, power in target if self._comet_at_block_start.get(pub) != power]
        updates.extend((pub, 0) for pub in self._comet_at_block_start if pub not in target_powers)
        outcome = EndBlockOutcome((), tuple(updates), self.comet_current, self.comet_next)
        # Updates of block H take effect at H + 2: the set after this block's changes signs H + 2.
        self.comet_current, self.comet_next = self.comet_next, target
        self.height = height
        return outcome

    def _comet_target(self) -> tuple[tuple[bytes, int], ...]:
        return tuple((v.consensus_pubkey, v.power) for v in self.relay.validators.values())

    # ------------------------------------------------------------------ operators and AVSs

    def _operator(self, account: str) -> Operator:
        operator = self.operators.get(account)
        if operator is None:
            raise ChainRuleError(f"operator {account} is not registered")
        return operator

    def _avs(self, address: Address) -> AvsRecord:
        avs = self.avss.get(_hex(address))
        if avs is None:
            raise ChainRuleError(f"AVS {_hex(address)} is not registered")
        return avs

    def _check_register_operator(self, msg: RegisterOperator) -> None:
        if str(msg.operator) in self.operators:
            raise ChainRuleError(f"operator {msg.operator} is already registered")

    def _register_operator(self, msg: RegisterOperator, _tx_hash: str, _sequence: int) -> list[Event]:
        account = str(msg.operator)
        self.operators[account] = Operator(
            account,
            msg.operator.address,
            msg.reward_address,
            msg.commission_rate,
            self.block_height,
            name=msg.name,
            earnings_addr=msg.earnings_addr,
            approve_addr=msg.approve_addr,
            max_commission_rate=msg.max_commission_rate,
            max_commission_change_rate=msg.max_commission_change_rate,
        )
        return [
            ev.event(
                ev.OPERATOR_REGISTERED,
                ("operator", account),
                ("reward_address", _hex(msg.reward_address)),
                ("commission_rate", ev.rate_text(msg.commission_rate)),
                ("name", msg.name),
            )
        ]

    def _check_register_avs(self, msg: RegisterAvs) -> None:
        if _hex(msg.avs) in self.avss:
            raise ChainRuleError(f"AVS {_hex(msg.avs)} is already registered")
        if msg.payout_mode is PayoutMode.CUMULATIVE and self.genesis.cumulative_every <= 0:
            # Its distributions would accrue into roots that never close: nobody could be paid.
            raise ChainRuleError("cumulative payouts are off on this chain (genesis cumulative_every = 0)")
        if msg.payout_mode is PayoutMode.CUMULATIVE and any(
            FundingMode(t.funding) not in CUMULATIVE_FUNDING_MODES for t in msg.reward_tokens
        ):
            # The cumulative root funds from deposits or mints, never from a FEES balance.
            raise ChainRuleError(
                "a cumulative AVS pays in MINT or VAULT tokens only (FEES pay per distribution)"
            )

    def _register_avs(self, msg: RegisterAvs, _tx_hash: str, _sequence: int) -> list[Event]:
        record = AvsRecord(
            address=msg.avs,
            name=msg.name,
            reward_address=msg.reward_address,
            slash_address=msg.slash_address,
            owners=msg.owners,
            asset_ids=msg.asset_ids,
            epoch_identifier=msg.epoch_identifier,
            # Upstream: an AVS takes part from the epoch after its registration.
            starting_epoch=self.current_epoch + 1,
            claim_threshold=msg.claim_threshold,
            reward_tokens={
                t.token: RewardTokenInfo(t.token, t.funding, t.decimals) for t in msg.reward_tokens
            },
            min_self_delegation_usd=msg.min_self_delegation_usd,
            min_operator_stake_usd=msg.min_operator_stake_usd,
            committee_size=msg.committee_size,
            slash_threshold=msg.slash_threshold,
            slash_proportion=msg.slash_proportion,
            registered_height=self.block_height,
            slash_verifiers={kind.value: share for kind, share in msg.slash_verifiers}
            or {
                SlashKind.EQUIVOCATION.value: msg.slash_proportion,
                SlashKind.COMMITTEE_REQUEST.value: msg.slash_proportion,
            },
            payout_mode=msg.payout_mode,
        )
        self.avss[record.hex] = record
        return [
            ev.event(
                ev.AVS_CREATED,
                ("avs_address", record.hex),
                ("name", record.name),
                ("starting_epoch", record.starting_epoch),
            )
        ]

    def _check_opt_in(self, msg: OptIn) -> None:
        operator = self._operator(str(msg.operator))
        avs = self._avs(msg.avs)
        if avs.hex in operator.opted_in:
            raise ChainRuleError(f"operator {operator.account} is already opted into {avs.hex}")
        registered = operator.keys.get(avs.hex)
        if registered is not None and registered != msg.bls_pubkey:
            raise ChainRuleError(
                "an operator keeps one BLS key per AVS; opt in again with the registered key"
            )
        owner = self.key_owner.get(msg.bls_pubkey)
        if owner is not None and owner != (operator.account, avs.hex):
            raise ChainRuleError("this BLS key is already registered by another operator or for another AVS")
        try:
            key = bls.parse_public_key(msg.bls_pubkey)
            proof = bls.parse_signature(msg.pop_signature)
        except ProtocolError as exc:
            raise ChainRuleError(f"invalid BLS key or proof of possession: {exc}") from exc
        message = bls.exocore_pop_message(self.pop_chain_id, operator.account)
        if not bls.verify(key, message, proof):
            raise ChainRuleError(
                "the proof of possession does not verify (sign the Exocore key-registration message)"
            )

    def _opt_in(self, msg: OptIn, _tx_hash: str, _sequence: int) -> list[Event]:
        operator = self.operators[str(msg.operator)]
        avs_hex = _hex(msg.avs)
        operator.keys[avs_hex] = msg.bls_pubkey
        operator.opted_in[avs_hex] = None
        self.key_owner[msg.bls_pubkey] = (operator.account, avs_hex)
        return [
            ev.event(
                ev.OPERATOR_OPTED_IN,
                ("operator", operator.account),
                ("avs", avs_hex),
                ("bls_pubkey", _hex(msg.bls_pubkey)),
            )
        ]

    def _check_opt_out(self, msg: OptOut) -> None:
        operator = self._operator(str(msg.operator))
        if _hex(msg.avs) not in operator.opted_in:
            raise ChainRuleError(f"operator {operator.account} is not opted into {_hex(msg.avs)}")

    def _opt_out(self, msg: OptOut, _tx_hash: str, _sequence: int) -> list[Event]:
        operator = self.operators[str(msg.operator)]
        del operator.opted_in[_hex(msg.avs)]
        return [ev.event(ev.OPERATOR_OPTED_OUT, ("operator", operator.account), ("avs", _hex(msg.avs)))]

    # ------------------------------------------------------------------ assets and stake

    def _check_set_price(self, msg: SetPrice) -> None:
        existing = self.assets.get(str(msg.asset_id))
        if existing is not None and existing.decimals != msg.decimals:
            raise ChainRuleError(f"asset {msg.asset_id} has {existing.decimals} decimals; they cannot change")

    def _set_price(self, msg: SetPrice, _tx_hash: str, _sequence: int) -> list[Event]:
        asset_id = str(msg.asset_id)
        existing = self.assets.get(asset_id)
        if existing is None:
            self.assets[asset_id] = Asset(
                asset_id, msg.asset_id.token, msg.asset_id.lz_chain_id, msg.decimals, msg.price_usd_e8
            )
        else:
            existing.price_usd_e8 = msg.price_usd_e8
        return [
            ev.event(
                ev.PRICE_UPDATED,
                ("asset_id", asset_id),
                ("price", format_fixed(msg.price_usd_e8, USD_DECIMALS)),
                ("decimals", msg.decimals),
            )
        ]

    @property
    def l1_requests(self) -> dict[int, int]:
        """The first client chain's applied L1 request ids (height applied)."""
        return self.l1_requests_of(self.relay.client_chains[0].l1_chain_id)

    def l1_requests_of(self, lz_chain_id: int) -> dict[int, int]:
        """Client chain ``lz_chain_id``'s applied L1 request ids (height applied)."""
        return self.l1_requests_by_chain.setdefault(self.relay.chain_of(lz_chain_id).l1_chain_id, {})

    def _check_l1_request(self, request_id: int, lz_chain_id: int) -> None:
        applied = self.l1_requests_of(lz_chain_id).get(request_id) if request_id else None
        if applied is not None:
            raise ChainRuleError(f"L1 request {request_id} was applied at height {applied}")

    def _delegation_refusal(self, msg: Delegate) -> str | None:
        operator = self.operators.get(str(msg.operator))
        if operator is None:
            return f"operator {msg.operator} is not registered"
        if str(msg.asset_id) not in self.assets:
            return f"asset {msg.asset_id} is unknown: set its price first"
        if operator.frozen:
            return f"operator {operator.account} is frozen"
        return None

    def _check_delegate(self, msg: Delegate) -> None:
        self._check_l1_request(msg.l1_request_id, msg.lz_chain_id)
        if msg.l1_request_id:
            return  # the tokens are in L1 custody: applied, or refunded if Exocore cannot honour it
        if self.genesis.l1_custody:
            raise ChainRuleError(
                "stake enters through the L1 RestakingVault: a delegation needs an L1 request id"
            )
        refusal = self._delegation_refusal(msg)
        if refusal is not None:
            raise ChainRuleError(refusal)

    def _delegate(self, msg: Delegate, _tx_hash: str, sequence: int) -> list[Event]:
        if msg.l1_request_id:
            self.l1_requests_of(msg.lz_chain_id)[msg.l1_request_id] = self.block_height
            refusal = self._delegation_refusal(msg)
            if refusal is not None:
                return self._refund(msg, refusal, sequence)
        operator = self.operators[str(msg.operator)]
        pool = operator.pools.setdefault(str(msg.asset_id), {})
        pool[msg.staker] = pool.get(msg.staker, 0) + msg.amount
        return [
            ev.event(
                ev.DELEGATION,
                ("staker_id", staker_id(msg.staker, msg.lz_chain_id)),
                ("operator", operator.account),
                ("asset_id", str(msg.asset_id)),
                ("amount", msg.amount),
            )
        ]

    def _refund(self, msg: Delegate, reason: str, sequence: int) -> list[Event]:
        """Custody holds tokens Exocore will not stake: approve their withdrawal at the next epoch."""
        completion = self.current_epoch + 1
        self.undelegations[sequence] = Undelegation(
            sequence,
            msg.staker,
            msg.lz_chain_id,
            "",
            str(msg.asset_id),
            msg.amount,
            completion,
            self.block_height,
            msg.l1_request_id,
        )
        return [
            ev.event(
                ev.L1_DELEGATION_REFUNDED,
                ("request_id", msg.l1_request_id),
                ("record_id", sequence),
                ("staker_id", staker_id(msg.staker, msg.lz_chain_id)),
                ("operator", str(msg.operator)),
                ("asset_id", str(msg.asset_id)),
                ("amount", msg.amount),
                ("completion_epoch", completion),
                ("reason", reason),
            )
        ]

    def _check_undelegate(self, msg: Undelegate) -> None:
        self._check_l1_request(msg.l1_request_id, msg.lz_chain_id)
        operator = self._operator(str(msg.operator))
        delegated = operator.pools.get(str(msg.asset_id), {}).get(msg.staker, 0)
        if delegated < msg.amount:
            raise ChainRuleError(
                f"staker has {delegated} delegated to {operator.account}, cannot undelegate {msg.amount}"
            )

    def _undelegate(self, msg: Undelegate, _tx_hash: str, sequence: int) -> list[Event]:
        if msg.l1_request_id:
            self.l1_requests_of(msg.lz_chain_id)[msg.l1_request_id] = self.block_height
        operator = self.operators[str(msg.operator)]
        asset_id = str(msg.asset_id)
        pool = operator.pools[asset_id]
        remaining = pool[msg.staker] - msg.amount
        if remaining:
            pool[msg.staker] = remaining
        else:
            del pool[msg.staker]
        completion = self.current_epoch + self.genesis.unbonding_epochs
        # The transaction's admission sequence is unique chain-wide, so it serves as the record id.
        self.undelegations[sequence] = Undelegation(
            sequence,
            msg.staker,
            msg.lz_chain_id,
            operator.account,
            asset_id,
            msg.amount,
            completion,
            self.block_height,
            msg.l1_request_id,
        )
        return [
            ev.event(
                ev.UNDELEGATION_STARTED,
                ("record_id", sequence),
                ("staker_id", staker_id(msg.staker, msg.lz_chain_id)),
                ("operator", operator.account),
                ("asset_id", asset_id),
                ("amount", msg.amount),
                ("completion_epoch", completion),
            )
        ]

    def _complete_undelegations(self, epoch: int) -> list[Event]:
        events = []
        matured = []
        for record_id in [r.record_id for r in self.undelegations.values() if r.completion_epoch <= epoch]:
            record = self.undelegations.pop(record_id)
            matured.append(record)
            events.append(
                ev.event(
                    ev.UNDELEGATION_COMPLETED,
                    ("record_id", record_id),
                    ("staker_id", staker_id(record.staker, record.lz_chain_id)),
                    ("asset_id", record.asset_id),
                    ("amount", record.amount),
                )
            )
        events.extend(self._approve_withdrawals(epoch, matured))
        return events

    def _approve_withdrawals(self, epoch: int, matured: list[Undelegation]) -> list[Event]:
        """One WITHDRAWAL_APPROVAL packet per client chain and L1 token among the matured L1
        withdrawals, to the chain the withdrawn asset is on (chains in their listed order)."""
        events = []
        height = self.block_height
        per_chain: dict[int, list[Undelegation]] = {}
        for withdrawal in matured:
            chain = self.relay.chain_of(withdrawal.lz_chain_id)
            per_chain.setdefault(chain.l1_chain_id, []).append(withdrawal)
        batches = [
            (chain, batch)
            for chain in self.relay.client_chains
            for batch in approval_batches(per_chain.get(chain.l1_chain_id, ()), self.assets)
        ]
        for chain, batch in batches:
            tree = batch.tree
            packet = self.relay.create_packet(
                WithdrawalApprovalPayload(
                    epoch=epoch,
                    token=batch.token,
                    total=tree.total,
                    leaf_count=len(tree),
                    merkle_root=tree.root,
                ),
                height,
                chain,
            )
            nonce = packet.packet.nonce
            record = WithdrawalApprovalRecord(
                nonce=nonce,
                approval_id=distribution_id(self.exocore_chain, nonce),
                epoch=epoch,
                token=batch.token,
                total=tree.total,
                merkle_root=tree.root,
                created_height=height,
                stakers=list(batch.stakers),
                amounts=list(batch.amounts),
                request_ids=list(batch.request_ids),
            )
            self.withdrawal_approvals[nonce] = record
            events.append(
                ev.event(
                    ev.WITHDRAWAL_APPROVED,
                    ("approval_id", _hex(record.approval_id)),
                    ("nonce", nonce),
                    ("epoch", epoch),
                    ("token", _hex(record.token)),
                    ("total", record.total),
                    ("leaf_count", record.leaf_count),
                    ("merkle_root", _hex(record.merkle_root)),
                    ("request_ids", ev.joined([str(i) for ids in record.request_ids for i in ids])),
                )
            )
            events.append(self._packet_event(packet))
        return events

    def _snapshot_stake(self, epoch: int) -> None:
        """The stake every later slash for an offence in ``epoch`` is measured on (the same pools
        the epoch's committees are elected from)."""
        self.stake_snapshots[epoch] = {
            account: snapshot_pools(operator) for account, operator in self.operators.items()
        }
        self.stake_snapshots.pop(epoch - STAKE_SNAPSHOT_EPOCHS, None)

    # ------------------------------------------------------------------ elections

    def _elect_committees(self, epoch: int, height: int) -> list[Event]:
        events = []
        for avs_hex in sorted(self.avss):
            avs = self.avss[avs_hex]
            if avs.starting_epoch > epoch:
                continue
            members = elect(avs, self.operators.values(), self.assets)
            if not members:
                continue
            committee = Committee(avs_hex, epoch, members, avs.claim_threshold, avs.slash_threshold, height)
            self.committees[(avs_hex, epoch)] = committee
            events.append(
                ev.event(
                    ev.COMMITTEE_ELECTED,
                    ("avs", avs_hex),
                    ("epoch", epoch),
                    ("member_count", len(members)),
                    ("total_power", committee.total_power),
                    ("claim_threshold", str(avs.claim_threshold)),
                    ("operators", ev.joined([m.operator for m in members])),
                    ("powers", ev.joined([str(m.power) for m in members])),
                )
            )
        return events

    # ------------------------------------------------------------------ committee signatures

    def _verify_committee_signature(
        self,
        *,
        avs_hex: str,
        epoch: int,
        threshold_of: Callable[[Committee], Threshold],
        bitmap_bytes: bytes,
        signature: bytes,
        digest: Hash32,
    ) -> tuple[Committee, int, int] | _Rejection:
        """(committee, signed power, total power) or why the committee signature is not acceptable."""
        committee = self.committees.get((avs_hex, epoch))
        if committee is None:
            return _Rejection("unknown_epoch", f"AVS {avs_hex} has no committee for epoch {epoch}")
        try:
            bitmap = SignerBitmap.decode(bitmap_bytes, len(committee.members))
        except ProtocolError as exc:
            return _Rejection("bad_bitmap", str(exc))
        signers = [committee.members[index] for index in bitmap.indices()]
        signed = sum(member.power for member in signers)
        total = committee.total_power
        threshold = threshold_of(committee)
        if not signers or not meets_threshold(signed, total, threshold):
            return _Rejection("no_quorum", f"signed power {signed} of {total} does not exceed {threshold}")
        try:
            valid = bls.fast_aggregate_verify_encoded([m.bls_pubkey for m in signers], digest, signature)
        except ProtocolError as exc:
            return _Rejection("bad_signature", f"malformed aggregate signature: {exc}")
        if not valid:
            return _Rejection("bad_signature", "the aggregate signature does not verify for the signers")
        return committee, signed, total

    # ------------------------------------------------------------------ reward claims

    def claim_id_of(self, msg: SubmitRewardClaim) -> Hash32:
        return RewardClaim(
            self.exocore_chain, msg.avs, msg.epoch, msg.token, Amount(msg.amount), msg.tasks_root
        ).claim_id

    def _check_claim(self, msg: SubmitRewardClaim) -> None:
        existing = self.claims.get(self.claim_id_of(msg))
        if existing is not None and existing.status in (CLAIM_VERIFIED, CLAIM_DISTRIBUTED):
            raise ChainRuleError(f"duplicate claim {_hex(existing.claim_id)}: it was already accepted")

    def _submit_claim(self, msg: SubmitRewardClaim, tx_hash: str, _sequence: int) -> list[Event]:
        claim_id = self.claim_id_of(msg)
        height = self.block_height
        record = ClaimRecord(
            claim_id,
            msg.avs,
            msg.epoch,
            msg.token,
            msg.funding,
            msg.amount,
            msg.signer_bitmap,
            msg.aggregate_signature,
            msg.tasks_root,
            CLAIM_SUBMITTED,
            height,
            height,
            tx_hash,
        )
        if claim_id not in self.claims:
            self.claim_order.append(claim_id)
        # A claim rejected earlier (e.g. too few signers) may be submitted again with more.
        self.claims[claim_id] = record
        avs_hex = _hex(msg.avs)
        events = [
            ev.event(
                ev.REWARD_CLAIM_SUBMITTED,
                ("claim_id", _hex(claim_id)),
                ("avs", avs_hex),
                ("epoch", msg.epoch),
                ("token", _hex(msg.token)),
                ("amount", msg.amount),
                ("tasks_root", _hex(msg.tasks_root)),
            )
        ]
        outcome = self._verify_and_distribute(record)
        if isinstance(outcome, _Rejection):
            record.status = CLAIM_REJECTED
            record.reject_reason = str(outcome)
            events.append(
                ev.event(
                    ev.REWARD_CLAIM_REJECTED,
                    ("claim_id", _hex(claim_id)),
                    ("avs", avs_hex),
                    ("epoch", msg.epoch),
                    ("reason", outcome.reason),
                    ("detail", outcome.detail),
                )
            )
            return events
        return events + outcome

    # ------------------------------------------------------------------ transaction fees (FEES source)

    def _fee_chain(self, msg: RecordFeeDeposit) -> int:
        """The client chain a fee report is of (0: the first); one the chain does not relay to is refused."""
        if msg.l1_chain_id == 0:
            return self.relay.client_chains[0].l1_chain_id
        if all(chain.l1_chain_id != msg.l1_chain_id for chain in self.relay.client_chains):
            raise ChainRuleError(f"fee deposit on chain {msg.l1_chain_id}: not a client chain of this chain")
        return msg.l1_chain_id

    def _check_fee_deposit(self, msg: RecordFeeDeposit) -> None:
        if (self._fee_chain(msg), msg.l1_tx_hash, msg.l1_log_index) in self.fee_deposits:
            raise ChainRuleError(
                f"fee deposit {_hex(msg.l1_tx_hash)}#{msg.l1_log_index} was already recorded"
            )

    def _record_fee_deposit(self, msg: RecordFeeDeposit, _tx_hash: str, _sequence: int) -> list[Event]:
        chain = self._fee_chain(msg)
        self.fee_deposits[(chain, msg.l1_tx_hash, msg.l1_log_index)] = self.block_height
        source = self.fee_sources.setdefault((msg.avs, msg.token, chain), FeeSource())
        source.funded += msg.amount
        return [
            ev.event(
                ev.FEE_DEPOSIT_RECORDED,
                ("avs", _hex(msg.avs)),
                ("token", _hex(msg.token)),
                ("amount", msg.amount),
                ("funded", source.funded),
                ("distributed", source.distributed),
                ("l1_tx_hash", _hex(msg.l1_tx_hash)),
                ("l1_log_index", msg.l1_log_index),
                ("l1_chain_id", chain),
            )
        ]

    def fees_available(self, avs: Address, token: Address, l1_chain_id: int | None = None) -> int:
        """What ``avs``'s FEES distributions in ``token`` may still pay out on client chain
        ``l1_chain_id`` (None: the first): reported minus taken."""
        chain = self.relay.client_chains[0].l1_chain_id if l1_chain_id is None else l1_chain_id
        source = self.fee_sources.get((avs, token, chain))
        return 0 if source is None else source.funded - source.distributed

    def _verify_and_distribute(self, record: ClaimRecord) -> list[Event] | _Rejection:
        avs = self.avss.get(_hex(record.avs))
        if avs is None:
            return _Rejection("unknown_avs", f"AVS {_hex(record.avs)} is not registered")
        token = avs.reward_tokens.get(record.token)
        if token is None:
            return _Rejection(
                "unknown_reward_token", f"{_hex(record.token)} is not a reward token of {avs.hex}"
            )
        # The source is the one the AVS registered for the token (MINT, VAULT or FEES): the
        # committee's signature covers the claim id, which does not name a source, so a claim's own
        # ``funding`` may only repeat it (anyone may submit a signed claim; none may re-route it).
        if record.funding not in (0, token.funding):
            return _Rejection("funding_mismatch", f"{_hex(record.token)} is funded by mode {token.funding}")
        funding = FundingMode(token.funding)
        if not 0 < record.amount <= MAX_CLAIM_AMOUNT:
            return _Rejection("invalid_amount", f"amount must be in 1..2**128-1, got {record.amount}")
        verified = self._verify_committee_signature(
            avs_hex=avs.hex,
            epoch=record.epoch,
            threshold_of=lambda c: c.claim_threshold,
            bitmap_bytes=record.signer_bitmap,
            signature=record.aggregate_signature,
            digest=record.claim_id,
        )
        if isinstance(verified, _Rejection):
            return verified
        committee, signed, total = verified
        shares = []
        for member in committee.members:
            operator = self.operators[member.operator]
            if avs.hex in operator.frozen:
                continue
            shares.append(
                OperatorShare(
                    operator.account,
                    member.power,
                    operator.commission_rate,
                    operator.reward_address,
                    delegator_weights(operator, avs.asset_ids, self.assets),
                    delegator_weights_by_chain(operator, avs.asset_ids, self.assets),
                )
            )
        if not shares:
            return _Rejection("no_eligible_operators", "every committee member is frozen for this AVS")
        home = self.relay.client_chains[0].l1_chain_id
        plans = plan_distributions(record.amount, self.genesis.community_tax, shares, home)
        if all(plan.leaf_count == 0 for plan in plans.values()):
            return _Rejection("empty_distribution", "the amount is too small to give anyone a base unit")
        if funding is FundingMode.FEES:
            # Each chain's leaves are paid from that chain's RewardVault: its own fees must cover them.
            for chain_id, chain_plan in sorted(plans.items()):
                available = self.fees_available(record.avs, record.token, chain_id)
                if chain_plan.total > available:
                    where = "" if chain_id == home else f" on chain {chain_id}"
                    return _Rejection(
                        "insufficient_fees",
                        f"the distribution pays {chain_plan.total} of {_hex(record.token)}{where} but"
                        f" {avs.hex}'s FEES source holds {available} (fees reported from L1 minus earlier"
                        " FEES distributions)",
                    )
            for chain_id, chain_plan in plans.items():
                if chain_plan.total:
                    self.fee_sources[(record.avs, record.token, chain_id)].distributed += chain_plan.total
        record.status = CLAIM_VERIFIED
        events = [
            ev.event(
                ev.REWARD_CLAIM_VERIFIED,
                ("claim_id", _hex(record.claim_id)),
                ("avs", avs.hex),
                ("epoch", record.epoch),
                ("signed_power", signed),
                ("total_power", total),
                ("signer_count", SignerBitmap.decode(record.signer_bitmap, len(committee.members)).count),
            )
        ]
        events.extend(
            ev.event(
                ev.ALLOCATE_REWARDS_TO_OPERATOR,
                ("avs_address", avs.hex),
                ("operator", allocation.operator),
                ("operator_total_reward", allocation.reward),
                ("operator_commission", allocation.commission),
            )
            for allocation in plans[home].allocations
        )
        # One distribution per client chain with leaves, in the chains' order: each gateway pays
        # only its own chain's stakers. The claim points at the first one. A cumulative AVS's parts
        # accrue instead, each in its own chain's ledger (that chain's roots pay them).
        chains = [
            (chain, plan)
            for chain in self.relay.client_chains
            if (plan := plans.get(chain.l1_chain_id)) is not None and plan.leaf_count
        ]
        if avs.payout_mode is PayoutMode.CUMULATIVE:
            periods = [self._accrue(record, funding, plan, chain, events) for chain, plan in chains]
            events.append(self._accrued_event(record, funding, plans, periods[0]))
            return events
        for chain, plan in chains:
            events.extend(self._distribute(record, avs, funding, plan, chain))
        return events

    def _distribute(
        self,
        record: ClaimRecord,
        avs: AvsRecord,
        funding: FundingMode,
        plan: DistributionPlan,
        chain: ClientChain,
    ) -> list[Event]:
        """The REWARD_DISTRIBUTION packet of ``plan`` for ``chain`` and its events."""
        height = self.block_height
        tree = DistributionTree.build(
            DistributionLeaf(index, staker, Amount(amount))
            for index, (staker, amount) in enumerate(zip(plan.stakers, plan.amounts, strict=True))
        )
        payload = RewardDistributionPayload(
            claim_id=record.claim_id,
            avs=record.avs,
            epoch=record.epoch,
            token=record.token,
            funding=funding,
            total=Amount(plan.total),
            leaf_count=plan.leaf_count,
            merkle_root=tree.root,
        )
        packet = self.relay.create_packet(payload, height, chain)
        nonce = packet.packet.nonce
        distribution = DistributionRecord(
            nonce=nonce,
            distribution_id=packet.packet.distribution_id,
            claim_id=record.claim_id,
            avs=record.avs,
            epoch=record.epoch,
            token=record.token,
            funding=int(funding),
            total=plan.total,
            merkle_root=tree.root,
            community_tax=plan.community_tax,
            dust=plan.dust,
            created_height=height,
            stakers=plan.stakers,
            amounts=plan.amounts,
            kinds=plan.kinds,
            operators=plan.operators,
        )
        self.distributions[nonce] = distribution
        if record.claim_id not in self.distribution_by_claim:
            self.distribution_by_claim[record.claim_id] = nonce
            record.distribution_nonce = nonce
        record.status = CLAIM_DISTRIBUTED
        record.updated_height = height
        events = [
            ev.event(
                ev.REWARD_DISTRIBUTION_FINALIZED,
                ("claim_id", _hex(record.claim_id)),
                ("distribution_id", _hex(distribution.distribution_id)),
                ("nonce", nonce),
                ("avs", avs.hex),
                ("epoch", record.epoch),
                ("token", _hex(record.token)),
                ("funding", int(funding)),
                ("total", plan.total),
                ("leaf_count", plan.leaf_count),
                ("merkle_root", _hex(tree.root)),
                ("community_tax", plan.community_tax),
                ("dust", plan.dust),
            ),
            self._packet_event(packet),
        ]
        return events

    def cumulative_ledger(self, l1_chain_id: int) -> CumulativeLedger:
        """Client chain ``l1_chain_id``'s cumulative ledger (created empty on first use)."""
        ledger = self.cumulative_ledgers.get(l1_chain_id)
        if ledger is None:
            ledger = self.cumulative_ledgers[l1_chain_id] = CumulativeLedger(
                every=self.genesis.cumulative_every
            )
        return ledger

    def _accrue(
        self,
        record: ClaimRecord,
        funding: FundingMode,
        plan: DistributionPlan,
        chain: ClientChain,
        events: list[Event],
    ) -> int:
        """A cumulative AVS's distribution part for ``chain``: only that chain's cumulative earnings
        grow; its earners are paid against that chain's CUMULATIVE_ROOT, never by a packet of its
        own, so nothing is paid twice. Appends the root packet's event if the part closes the chain's
        period; returns the period the part closes in."""
        height = self.block_height
        ledger = self.cumulative_ledger(chain.l1_chain_id)
        period = ledger.period + 1
        closed = ledger.record(
            avs=record.avs, token=record.token, funding=funding, stakers=plan.stakers, amounts=plan.amounts
        )
        if closed is not None:
            self.cumulative_periods.setdefault(chain.l1_chain_id, {})[closed.period] = (height, closed)
            # One CUMULATIVE_ROOT per period per client chain, addressed to that chain (its
            # l1_chain_id and gateway are in the digest), whatever the number of earners.
            events.append(self._packet_event(self.relay.create_packet(closed.payload, height, chain)))
        return period

    def _accrued_event(
        self, record: ClaimRecord, funding: FundingMode, plans: dict[int, DistributionPlan], period: int
    ) -> Event:
        """The claim ends ``accrued``: its parts are in the cumulative earnings. ``period``: the one
        the first client chain's part closes in (each chain numbers its own periods); totals are over
        every chain's part."""
        record.status = CLAIM_ACCRUED
        record.updated_height = self.block_height
        parts = [plan for plan in plans.values() if plan.leaf_count]
        return ev.event(
            ev.REWARD_DISTRIBUTION_ACCRUED,
            ("claim_id", _hex(record.claim_id)),
            ("avs", _hex(record.avs)),
            ("epoch", record.epoch),
            ("token", _hex(record.token)),
            ("funding", int(funding)),
            ("total", sum(plan.total for plan in parts)),
            ("leaf_count", sum(plan.leaf_count for plan in parts)),
            ("period", period),
            ("community_tax", sum(plan.community_tax for plan in parts)),
            ("dust", sum(plan.dust for plan in parts)),
        )

    def slash_id_of_request(self, msg: SubmitSlashRequest) -> Hash32:
        return SlashRequest(
            self.exocore_chain,
            msg.avs,
            msg.epoch,
            msg.operator.address,
            msg.proportion,
            msg.freeze,
            msg.evidence_hash,
        ).slash_id

    def evidence_of(self, msg: SubmitEquivocation) -> EquivocationEvidence:
        return EquivocationEvidence(
            self.exocore_chain, msg.avs, msg.operator.address, msg.task_id, msg.response_a, msg.response_b
        )

    def _check_not_executed(self, slash_id: Hash32) -> None:
        existing = self.slashes.get(slash_id)
        if existing is not None and existing.status == SLASH_EXECUTED:
            raise ChainRuleError(f"duplicate slash {_hex(slash_id)}: it was already executed")

    def _check_slash_request(self, msg: SubmitSlashRequest) -> None:
        self._check_not_executed(self.slash_id_of_request(msg))

    def _check_equivocation(self, msg: SubmitEquivocation) -> None:
        self._check_not_executed(self.evidence_of(msg).evidence_id)

    def _new_slash(self, record: SlashRecord) -> list[Event]:
        if record.slash_id not in self.slashes:
            self.slash_order.append(record.slash_id)
        self.slashes[record.slash_id] = record
        return [
            ev.event(
                ev.SLASH_REQUEST_SUBMITTED,
                ("slash_id", _hex(record.slash_id)),
                ("operator", record.operator),
                ("avs", _hex(record.avs)),
                ("kind", SLASH_KIND_LABELS[record.kind].value),
                ("proportion", ev.rate_text(record.proportion)),
                ("freeze", str(record.freeze).lower()),
                *((("evidence", "0x" + record.evidence.hex()),) if record.evidence else ()),
            )
        ]

    def _reject_slash(self, record: SlashRecord, rejection: _Rejection) -> list[Event]:
        record.status = SLASH_REJECTED
        record.reject_reason = str(rejection)
        return [
            ev.event(
                ev.SLASH_REQUEST_REJECTED,
                ("slash_id", _hex(record.slash_id)),
                ("operator", record.operator),
                ("avs", _hex(record.avs)),
                ("reason", rejection.reason),
                ("detail", rejection.detail),
            )
        ]

    def _slash_target(self, avs_address: Address, account: str) -> tuple[AvsRecord, Operator] | _Rejection:
        avs = self.avss.get(_hex(avs_address))
        if avs is None:
            return _Rejection("unknown_avs", f"AVS {_hex(avs_address)} is not registered")
        operator = self.operators.get(account)
        if operator is None:
            return _Rejection("unknown_operator", f"operator {account} is not registered")
        if avs.hex not in operator.keys:
            return _Rejection("operator_not_serving", f"operator {account} never opted into {avs.hex}")
        return avs, operator

    def _submit_slash_request(self, msg: SubmitSlashRequest, tx_hash: str, _sequence: int) -> list[Event]:
        account = str(msg.operator)
        record = SlashRecord(
            slash_id=self.slash_id_of_request(msg),
            operator=account,
            operator_address=msg.operator.address,
            avs=msg.avs,
            kind=SLASH_KIND_COMMITTEE_REQUEST,
            status=SLASH_SUBMITTED,
            proportion=msg.proportion,
            freeze=msg.freeze,
            submitted_height=self.block_height,
            tx_hash=tx_hash,
            epoch=msg.epoch,
            evidence_hash=msg.evidence_hash,
            evidence=msg.evidence,
        )
        events = self._new_slash(record)
        target = self._slash_target(msg.avs, account)
        if isinstance(target, _Rejection):
            return events + self._reject_slash(record, target)
        avs, operator = target
        allowed = avs.slash_verifiers.get(SlashKind.COMMITTEE_REQUEST.value)
        if allowed is None:
            return events + self._reject_slash(record, _not_registered(avs, SlashKind.COMMITTEE_REQUEST))
        if msg.proportion > allowed:
            rejection = _Rejection(
                "proportion_too_high",
                f"{ev.rate_text(msg.proportion)} exceeds the AVS's {ev.rate_text(allowed)}",
            )
            return events + self._reject_slash(record, rejection)
        verified = self._verify_committee_signature(
            avs_hex=avs.hex,
            epoch=msg.epoch,
            threshold_of=lambda c: c.slash_threshold,
            bitmap_bytes=msg.signer_bitmap,
            signature=msg.aggregate_signature,
            digest=record.slash_id,
        )
        if isinstance(verified, _Rejection):
            return events + self._reject_slash(record, verified)
        attested = self._check_attested_evidence(msg, avs, operator)
        if attested is not None:
            return events + self._reject_slash(record, attested)
        return events + self._execute_slash(record, avs, operator)

    def _check_attested_evidence(
        self, msg: SubmitSlashRequest, avs: AvsRecord, operator: Operator
    ) -> _Rejection | None:
        """The committee-attested verifier: the evidence bytes are there, hash to the signed
        ``evidenceHash``, decode as a known kind naming this chain, AVS and operator, and, for the
        cryptographic kinds, prove their fault (the committee's quorum is the proof of an
        attestation)."""
        if not msg.evidence:
            return _Rejection("evidence_missing", "a committee slash request must carry its evidence bytes")
        if evidence_hash(msg.evidence) != msg.evidence_hash:
            return _Rejection(
                "evidence_hash_mismatch",
                f"the evidence hashes to {_hex(evidence_hash(msg.evidence))}, "
                f"the request signs {_hex(msg.evidence_hash)}",
            )
        try:
            decoded = decode_or_fault(msg.evidence)
            if (decoded.exocore_chain, decoded.avs, decoded.operator) != (
                self.exocore_chain,
                avs.address,
                operator.address,
            ):
                return _Rejection(
                    "evidence_mismatch", "the evidence names another chain, AVS or operator than the request"
                )
            if isinstance(decoded, Attestation) and decoded.epoch != msg.epoch:
                return _Rejection(
                    "evidence_mismatch", f"the attestation is for epoch {decoded.epoch}, not {msg.epoch}"
                )
            verify_evidence(decoded, operator.keys[avs.hex])
        except EvidenceRejectedError as exc:
            return _Rejection(exc.fault.value, exc.detail)
        return None

    def _submit_equivocation(self, msg: SubmitEquivocation, tx_hash: str, _sequence: int) -> list[Event]:
        account = str(msg.operator)
        evidence = self.evidence_of(msg)
        avs_record = self.avss.get(_hex(msg.avs))
        share = (
            0
            if avs_record is None
            else avs_record.slash_verifiers.get(SlashKind.EQUIVOCATION.value, avs_record.slash_proportion)
        )
        record = SlashRecord(
            slash_id=evidence.evidence_id,
            operator=account,
            operator_address=msg.operator.address,
            avs=msg.avs,
            kind=SLASH_KIND_EQUIVOCATION,
            status=SLASH_SUBMITTED,
            proportion=share,
            freeze=True,
            submitted_height=self.block_height,
            tx_hash=tx_hash,
            evidence_hash=min(evidence.digests),
            task_id=msg.task_id,
        )
        events = self._new_slash(record)
        target = self._slash_target(msg.avs, account)
        if isinstance(target, _Rejection):
            return events + self._reject_slash(record, target)
        avs, operator = target
        if SlashKind.EQUIVOCATION.value not in avs.slash_verifiers:
            return events + self._reject_slash(record, _not_registered(avs, SlashKind.EQUIVOCATION))
        try:
            key = bls.parse_public_key(operator.keys[avs.hex])
            valid = evidence.verify(
                key, bls.parse_signature(msg.signature_a), bls.parse_signature(msg.signature_b)
            )
        except ProtocolError as exc:
            return events + self._reject_slash(
                record, _Rejection("bad_signature", f"malformed signature: {exc}")
            )
        if not valid:
            rejection = _Rejection(
                "bad_signature", "a response signature does not verify under the operator's key"
            )
            return events + self._reject_slash(record, rejection)
        return events + self._execute_slash(record, avs, operator)

    def wrong_result_slash_id(self, msg: SubmitWrongResult) -> Hash32:
        return msg.evidence.slash_id

    def _check_wrong_result(self, msg: SubmitWrongResult) -> None:
        self._check_not_executed(msg.evidence.slash_id)

    def _submit_wrong_result(self, msg: SubmitWrongResult, tx_hash: str, _sequence: int) -> list[Event]:
        evidence = msg.evidence
        operator_record = next(
            (op for op in self.operators.values() if op.address == evidence.operator), None
        )
        account = operator_record.account if operator_record is not None else "0x" + evidence.operator.hex()
        avs_record = self.avss.get(_hex(evidence.avs))
        share = (
            0
            if avs_record is None
            else avs_record.slash_verifiers.get(SlashKind.WRONG_RESULT.value, avs_record.slash_proportion)
        )
        record = SlashRecord(
            slash_id=evidence.slash_id,
            operator=account,
            operator_address=evidence.operator,
            avs=evidence.avs,
            kind=SLASH_KIND_WRONG_RESULT,
            status=SLASH_SUBMITTED,
            proportion=share,
            freeze=True,
            submitted_height=self.block_height,
            tx_hash=tx_hash,
            evidence_hash=evidence_hash(msg.raw),
            task_id=evidence.response.task_id,
            evidence=msg.raw,
        )
        events = self._new_slash(record)
        if evidence.exocore_chain != self.exocore_chain:
            return events + self._reject_slash(
                record, _Rejection("evidence_mismatch", "the evidence names another Exocore chain")
            )
        target = self._slash_target(evidence.avs, account)
        if isinstance(target, _Rejection):
            return events + self._reject_slash(record, target)
        avs, operator = target
        if SlashKind.WRONG_RESULT.value not in avs.slash_verifiers:
            return events + self._reject_slash(record, _not_registered(avs, SlashKind.WRONG_RESULT))
        try:
            verify_evidence(evidence, operator.keys[avs.hex])
        except EvidenceRejectedError as exc:
            return events + self._reject_slash(record, _Rejection(exc.fault.value, exc.detail))
        return events + self._execute_slash(record, avs, operator)

    def _execute_slash(self, record: SlashRecord, avs: AvsRecord, operator: Operator) -> list[Event]:
        """Deduct at the offence's stake: a committee request's epoch, else the current epoch (an
        equivocation or wrong result is judged when it is shown)."""
        height = self.block_height
        offence_epoch = record.epoch if record.kind == SLASH_KIND_COMMITTEE_REQUEST else self.current_epoch
        snapshot = self.stake_snapshots.get(offence_epoch)
        if snapshot is None:
            return self._reject_slash(
                record,
                _Rejection(
                    "offence_too_old",
                    f"no stake snapshot of epoch {offence_epoch} (kept {STAKE_SNAPSHOT_EPOCHS} epochs)",
                ),
            )
        record.offence_epoch = offence_epoch
        outcome = slash_stake(
            operator,
            avs.asset_ids,
            self.assets,
            record.proportion,
            self.undelegations.values(),
            snapshot=snapshot.get(operator.account, {}),
            offence_start_height=self.epoch_start_height(offence_epoch),
        )
        events = [
            ev.event(
                ev.OPERATOR_ASSET_SLASHED,
                ("operator", operator.account),
                ("asset_id", asset.asset_id),
                ("amount", asset.pool_amount),
            )
            for asset in outcome.assets
        ]
        events.extend(
            ev.event(
                ev.UNDELEGATION_SLASHED,
                ("record_id", slashed.record_id),
                ("amount", slashed.amount_before),
                ("slash_amount", slashed.slash_amount),
            )
            for slashed in outcome.undelegations
        )
        if record.freeze and avs.hex not in operator.frozen:
            operator.frozen[avs.hex] = record.slash_id
            events.append(
                ev.event(
                    ev.FREEZE_OPERATOR,
                    ("operator", operator.account),
                    ("frozen_or_unfrozen", "true"),
                    ("avs_address", avs.hex),
                )
            )
        # One SLASH packet per client chain the slashed assets are on (chains in their listed order),
        # each with only that chain's tokens; a slash that found no stake still tells the first chain
        # (it freezes the operator there). The record and its event name the first packet.
        per_chain: dict[int, list[AssetSlash]] = {}
        for asset in outcome.assets:
            known = self.assets.get(asset.asset_id)
            parsed = known if known is not None else AssetId.parse(asset.asset_id)
            lz_chain_id = parsed.lz_chain_id
            per_chain.setdefault(self.relay.chain_of(lz_chain_id).l1_chain_id, []).append(asset)
        destinations = [c for c in self.relay.client_chains if c.l1_chain_id in per_chain] or [
            self.relay.client_chains[0]
        ]
        packets = []
        for chain in destinations:
            chain_tokens, chain_amounts = SlashOutcome(
                tuple(per_chain.get(chain.l1_chain_id, ())), ()
            ).token_amounts()
            packets.append(
                self.relay.create_packet(
                    SlashPayload(
                        slash_id=record.slash_id,
                        operator=operator.address,
                        avs=avs.address,
                        tokens=chain_tokens,
                        amounts=tuple(Amount(a) for a in chain_amounts),
                        freeze=record.freeze,
                    ),
                    height,
                    chain,
                )
            )
        packet = packets[0]
        tokens, amounts = outcome.token_amounts()
        record.status = SLASH_EXECUTED
        record.executed_height = height
        record.packet_nonce = packet.packet.nonce
        record.assets = [SlashedAssetAmount(a.token, a.asset_id, a.amount) for a in outcome.assets]
        events.append(
            ev.event(
                ev.SLASH_EXECUTED,
                ("slash_id", _hex(record.slash_id)),
                ("operator", operator.account),
                ("operator_address", _hex(operator.address)),
                ("avs", avs.hex),
                ("proportion", ev.rate_text(record.proportion)),
                ("freeze", str(record.freeze).lower()),
                ("offence_epoch", offence_epoch),
                ("packet_nonce", packet.packet.nonce),
                ("tokens", ev.joined([_hex(t) for t in tokens])),
                ("amounts", ev.joined([str(a) for a in amounts])),
            )
        )
        events.extend(self._packet_event(p) for p in packets)
        return events

    # ------------------------------------------------------------------ validators and knobs

    def _check_validator_power(self, msg: SetValidatorPower) -> None:
        validators = self.relay.validators
        existing = validators.get(msg.consensus_pubkey)
        if msg.power == 0:
            if existing is None:
                raise ChainRuleError("cannot remove a validator that is not in the set")
            if len(validators) == 1:
                raise ChainRuleError("cannot remove the last validator")
            return
        if msg.power > MAX_VALIDATOR_POWER:
            raise ChainRuleError(f"validator power above {MAX_VALIDATOR_POWER}")
        if existing is not None:
            if msg.bls_pubkey and msg.bls_pubkey != existing.bls_pubkey:
                raise ChainRuleError("a validator's BLS key cannot change; remove it and add the new key")
            if msg.bls_secret is not None and msg.bls_secret != existing.bls_secret:
                raise ChainRuleError("a validator's BLS secret cannot change")
            return
        if len(validators) >= MAX_VALIDATORS:
            raise ChainRuleError(f"the validator set is full ({MAX_VALIDATORS}, the gateway's limit)")
        if not msg.bls_pubkey:
            raise ChainRuleError("a new validator needs a BLS public key")
        if any(v.bls_pubkey == msg.bls_pubkey for v in validators.values()):
            raise ChainRuleError("this BLS key already belongs to another validator")
        try:
            key = bls.parse_public_key(msg.bls_pubkey)
            proof = bls.parse_signature(msg.pop_signature)
            secret = None if msg.bls_secret is None else bls.SecretKey(msg.bls_secret)
        except ProtocolError as exc:
            raise ChainRuleError(f"invalid BLS key, secret or proof of possession: {exc}") from exc
        if not bls.pop_verify(key, proof):
            raise ChainRuleError("the proof of possession does not verify")
        if secret is not None and bls.public_key_of(secret).compressed != key.compressed:
            raise ChainRuleError("the BLS secret does not belong to the BLS public key")

    def _set_validator_power(self, msg: SetValidatorPower, _tx_hash: str, _sequence: int) -> list[Event]:
        validators = self.relay.validators
        existing = validators.get(msg.consensus_pubkey)
        if msg.power == 0:
            del validators[msg.consensus_pubkey]
            bls_pubkey = existing.bls_pubkey if existing is not None else b""
        elif existing is not None:
            validators[msg.consensus_pubkey] = ValidatorEntry(
                existing.consensus_pubkey, existing.bls_pubkey, msg.power, existing.bls_secret, existing.pop
            )
            bls_pubkey = existing.bls_pubkey
        else:
            validators[msg.consensus_pubkey] = ValidatorEntry(
                msg.consensus_pubkey, msg.bls_pubkey, msg.power, msg.bls_secret, msg.pop_signature
            )
            bls_pubkey = msg.bls_pubkey
        return [
            ev.event(
                ev.VALIDATOR_POWER_SET,
                ("consensus_pubkey", _hex(msg.consensus_pubkey)),
                ("bls_pubkey", _hex(bls_pubkey)),
                ("power", msg.power),
            )
        ]

    def _check_fault_knobs(self, msg: SetFaultKnobs) -> None:
        if msg.signature_delay_blocks > 10**6:
            raise ChainRuleError("signature delay above a million blocks")

    def _set_fault_knobs(self, msg: SetFaultKnobs, _tx_hash: str, _sequence: int) -> list[Event]:
        self.relay.knobs = FaultKnobs(
            msg.silent_validators,
            msg.wrong_signature_validators,
            msg.signature_delay_blocks,
            msg.rpc_outage,
            msg.late_validators,
        )
        return [
            ev.event(
                ev.FAULT_KNOBS_SET,
                ("silent_validators", ev.joined([str(i) for i in sorted(msg.silent_validators)])),
                (
                    "wrong_signature_validators",
                    ev.joined([str(i) for i in sorted(msg.wrong_signature_validators)]),
                ),
                ("signature_delay_blocks", msg.signature_delay_blocks),
                ("late_validators", ev.joined([str(i) for i in sorted(msg.late_validators)])),
                ("rpc_outage", str(msg.rpc_outage).lower()),
            )
        ]

    # ------------------------------------------------------------------ helpers

    def _packet_event(self, record: PacketRecord) -> Event:
        packet = record.packet
        return ev.event(
            ev.RELAY_PACKET_CREATED,
            ("nonce", packet.nonce),
            ("kind", int(packet.kind)),
            ("kind_name", packet.kind.name),
            ("valset_nonce", packet.valset_nonce),
            ("digest", _hex(packet.digest)),
            ("payload_hash", _hex(packet.payload_hash)),
        )

    @property
    def knobs(self) -> FaultKnobs:
        return self.relay.knobs

    def state_root(self) -> bytes:
        """SHA-256 over a canonical dump of the whole state (for restart/determinism checks)."""
        dump = {
            "height": self.height,
            "assets": {k: [a.decimals, a.price_usd_e8] for k, a in sorted(self.assets.items())},
            "operators": {
                account: {
                    "reward": op.reward_address.hex(),
                    "commission": op.commission_rate,
                    "keys": {k: v.hex() for k, v in sorted(op.keys.items())},
                    "opted_in": sorted(op.opted_in),
                    "frozen": {k: v.hex() for k, v in sorted(op.frozen.items())},
                    "pools": {
                        asset: sorted((s.hex(), amount) for s, amount in pool.items())
                        for asset, pool in sorted(op.pools.items())
                    },
                }
                for account, op in sorted(self.operators.items())
            },
            "avss": {
                k: [
                    a.starting_epoch,
                    a.committee_size,
                    sorted(a.asset_ids),
                    sorted(a.slash_verifiers.items()),
                    # Only when cumulative: state hashes of chains without payout modes keep their bytes.
                    *([int(a.payout_mode)] if a.payout_mode is not PayoutMode.PER_DISTRIBUTION else []),
                ]
                for k, a in sorted(self.avss.items())
            },
            "committees": [
                [avs, epoch, [[m.operator, m.bls_pubkey.hex(), m.power] for m in c.members]]
                for (avs, epoch), c in sorted(self.committees.items())
            ],
            "undelegations": [
                [r.record_id, r.amount, r.completion_epoch, r.l1_request_id]
                for r in self.undelegations.values()
            ],
            "l1_requests": sorted(self.l1_requests.items()),
            # Other chains' requests only when there are any: a one-chain root is unchanged.
            **{
                f"l1_requests_{chain}": sorted(requests.items())
                for chain, requests in sorted(self.l1_requests_by_chain.items())
                if requests and chain != self.relay.client_chains[0].l1_chain_id
            },
            "withdrawal_approvals": [
                [a.nonce, a.merkle_root.hex(), a.total] for a in self.withdrawal_approvals.values()
            ],
            "claims": [
                [self.claims[c].claim_id.hex(), self.claims[c].status, self.claims[c].reject_reason]
                for c in self.claim_order
            ],
            "distributions": [
                [d.nonce, d.merkle_root.hex(), d.total, d.dust] for d in self.distributions.values()
            ],
            # The first client chain's latest root under "cumulative" (a one-chain root keeps its
            # bytes), every other chain's under "cumulative_<l1 chain id>", each once it has one.
            **{
                (
                    "cumulative"
                    if chain == self.relay.client_chains[0].l1_chain_id
                    else f"cumulative_{chain}"
                ): [ledger.period, ledger.latest.tree.root.hex()]
                for chain, ledger in sorted(self.cumulative_ledgers.items())
                if ledger.latest is not None
            },
            "slashes": [
                [self.slashes[s].slash_id.hex(), self.slashes[s].status, self.slashes[s].packet_nonce]
                for s in self.slash_order
            ],
            "packets": [
                [
                    n,
                    r.packet.digest.hex(),
                    [None if s.signature is None else s.signature.hex() for s in r.signatures],
                ]
                for n, r in self.relay.packets.items()
            ],
            "valsets": [
                [n, [[m.bls_pubkey.hex(), m.power] for m in v.members]] for n, v in self.relay.valsets.items()
            ],
            "validators": [[v.consensus_pubkey.hex(), v.power] for v in self.relay.validators.values()],
            "knobs": [
                sorted(self.knobs.silent_validators),
                sorted(self.knobs.wrong_signature_validators),
                self.knobs.signature_delay_blocks,
                self.knobs.rpc_outage,
                sorted(self.knobs.late_validators),
            ],
        }
        return hashlib.sha256(json.dumps(dump, sort_keys=True).encode()).digest()
