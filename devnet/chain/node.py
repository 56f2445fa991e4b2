"""The devnet node: runs the state machine, produces blocks, serves queries and the devnet Msg service.

Block production. A block is *open* from its first transaction (or its sealing, if it has none): its
begin-block (elections, valset rotation) runs when it opens, and each admitted transaction executes
at once, so a rejected message is refused to its sender with the exact reason and never enters a
block (as a CheckTx failure). The block is *sealed* (end-block, CometBFT block, appended to the
store, visible to queries and subscribers) by the block timer (``block_time_s``), by
``AdvanceBlocks``, or when it holds ``MAX_TXS_PER_BLOCK`` transactions. Queries only ever show the
committed state (:class:`~devnet.chain.views.StateViews`).

Persistence and determinism. The block store *is* the transaction log: on start, every stored
block's transactions are re-executed from genesis and each block's events and app hash must come
out identical, otherwise the node refuses to start (:class:`ReplayError`). A devnet can therefore
be stopped and resumed from its files. ``app_hash`` of block ``H`` commits to the state transitions
up to ``H - 1`` (a hash chain over each block's results and events, seeded with the genesis).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Final

from devnet.chain.blockstore import (
    Block,
    BlockStore,
    Event,
    TxResult,
    Validator,
    ValidatorUpdate,
    block_to_json,
    next_block,
)
from devnet.chain.commission import CommissionError
from devnet.chain.cosmos_tx import (
    ERR_INVALID_REQUEST,
    AuthBank,
    DeliverResult,
    DomainExecutor,
    TxRejectedError,
    is_cosmos_tx,
    is_domain_msg,
    parse_account,
)
from devnet.chain.cosmos_tx import decode_tx as decode_cosmos_tx
from devnet.chain.msgs import (
    SubmitEquivocation,
    SubmitRewardClaim,
    SubmitSlashRequest,
    SubmitWrongResult,
    decode_tx,
    encode_tx,
    parse_msg,
    type_url,
)
from devnet.chain.params import Genesis
from devnet.chain.state import CODE_REJECTED, CODESPACE, ChainRuleError, ChainState
from devnet.chain.views import StateViews
from devnet.grpc.errors import InvalidRequestError, RequestRejectedError
from relayer.errors import StorageError
from relayer.exocore.proto.avs.v1 import tx_pb2 as avs_tx
from relayer.exocore.proto.avs.v1 import types_pb2 as avs_pb
from relayer.exocore.proto.delegation.v1 import tx_pb2 as delegation_tx
from relayer.exocore.proto.devnet.v1 import tx_pb2 as tx
from relayer.exocore.proto.feedistribution.v1 import types_pb2 as fee_pb
from relayer.exocore.proto.operator.v1 import query_pb2 as operator_query
from relayer.exocore.proto.operator.v1 import tx_pb2 as operator_tx
from relayer.exocore.proto.operator.v1 import types_pb2 as operator_pb
from relayer.exocore.proto.relay.v1 import types_pb2 as relay_pb

_log = logging.getLogger(__name__)

MAX_TXS_PER_BLOCK: Final = 5000
"""A full open block is sealed at once: bounds block size and the work one seal does."""
MAX_ADVANCE_BLOCKS: Final = 10_000
"""Largest ``AdvanceBlocks`` count: a bad request must not lock the node for minutes."""
TX_GAS: Final = 100_000
"""Nominal gas reported for every transaction (the devnet meters nothing; clients expect numbers)."""
FIRST_SEQUENCE: Final = 1


class ReplayError(StorageError):
    """Re-executing the stored blocks did not reproduce them: the files belong to another genesis or
    another version of the state machine."""


def _tx_hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest().upper()


def genesis_app_hash(genesis: Genesis) -> bytes:
    return hashlib.sha256(b"exorelay-devnet-genesis:" + genesis.dumps().encode()).digest()


def next_app_hash(previous: bytes, block: Block) -> bytes:
    """Hash chain over every block's transactions, results and events."""
    body = block_to_json(block)
    results = {
        key: body[key]
        for key in ("txs", "tx_results", "begin_block_events", "end_block_events", "validator_updates")
    }
    digest = hashlib.sha256(json.dumps(results, sort_keys=True, separators=(",", ":")).encode()).digest()
    return hashlib.sha256(previous + block.height.to_bytes(8, "big") + digest).digest()


class DevnetNode:
    """One simulated Exocore node over ``store``; implements ``ChainQueries`` and ``ChainDriver``."""

    def __init__(
        self,
        genesis: Genesis,
        store: BlockStore,
        *,
        block_time_s: float | None = None,
        clock_ns: Callable[[], int] = time.time_ns,
        on_rpc_outage: Callable[[bool], None] | None = None,
    ) -> None:
        if store.chain_id != genesis.chain_id:
            raise StorageError(f"block store is for {store.chain_id}, genesis for {genesis.chain_id}")
        self.genesis = genesis
        self.store = store
        self.block_time_s = block_time_s
        self._clock_ns = clock_ns
        self._on_rpc_outage = on_rpc_outage
        self._lock = threading.RLock()
        self._state = ChainState(genesis, store.initial_height)
        self._bank = AuthBank.from_genesis({parse_account(a.address): a.balance for a in genesis.accounts})
        self._committed_bank = self._bank.snapshot()
        self._views = StateViews(self._state)
        self._app_hash = genesis_app_hash(genesis)
        self._next_sequence = FIRST_SEQUENCE
        self._open_height: int | None = None
        self._begin_events: list[Any] = []
        self._txs: list[bytes] = []
        self._results: list[TxResult] = []
        self._rpc_outage = False
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None
        self._replay()

    # ------------------------------------------------------------------ replay

    def _replay(self) -> None:
        latest = self.store.latest_height
        if latest is None:
            return
        state = self._state
        for height in range(self.store.initial_height, latest + 1):
            block = self.store.get(height)
            if block is None:
                raise ReplayError(f"block {height} is missing from the store")
            if block.app_hash != self._app_hash:
                raise ReplayError(f"block {height}: app hash differs from the replayed state")
            begin = state.begin_block(height)
            if tuple(begin) != block.begin_block_events:
                raise ReplayError(f"block {height}: begin-block events differ on replay")
            for raw, stored in zip(block.txs, block.tx_results, strict=True):
                if is_cosmos_tx(raw):
                    try:
                        result = self._bank.deliver(
                            raw, self.genesis.chain_id, self._executor(raw), height=height
                        )
                    except TxRejectedError as exc:
                        raise ReplayError(
                            f"block {height}: transaction {_tx_hash(raw)} is refused: {exc}"
                        ) from exc
                    if result.code != stored.code or result.events != stored.events:
                        raise ReplayError(f"block {height}: transaction {_tx_hash(raw)} replays differently")
                    continue
                decoded = decode_tx(raw)
                outcome = state.deliver_tx(decoded.msg, decoded.type_url, _tx_hash(raw), decoded.sequence)
                if outcome.code != stored.code or outcome.events != stored.events:
                    raise ReplayError(f"block {height}: transaction {_tx_hash(raw)} replays differently")
                self._next_sequence = max(self._next_sequence, decoded.sequence + 1)
            end = state.end_block(height)
            updates = tuple(ValidatorUpdate(pub, power) for pub, power in end.validator_updates)
            if updates != block.validator_updates:
                raise ReplayError(f"block {height}: validator updates differ on replay")
            self._app_hash = next_app_hash(self._app_hash, block)
        self._committed_bank = self._bank.snapshot()
        self._apply_outage()
        _log.info("replayed %d blocks up to height %d", latest - self.store.initial_height + 1, latest)

    # ------------------------------------------------------------------ block production

    def _open(self) -> int:
        if self._open_height is None:
            height = self._state.height + 1
            self._begin_events = self._state.begin_block(height)
            self._open_height = height
            self._txs = []
            self._results = []
        return self._open_height

    def _seal(self) -> Block:
        height = self._open()
        end = self._state.end_block(height)
        previous = self.store.latest()
        floor_ns = self.genesis.genesis_time_ns if previous is None else previous.time_ns + 1
        block = next_block(
            previous,
            chain_id=self.genesis.chain_id,
            time_ns=max(self._clock_ns(), floor_ns),
            validators=[Validator(pub, power) for pub, power in end.validators],
            next_validators=[Validator(pub, power) for pub, power in end.next_validators],
            app_hash=self._app_hash,
            txs=self._txs,
            tx_results=self._results,
            begin_block_events=self._begin_events,
            end_block_events=end.events,
            validator_updates=[ValidatorUpdate(pub, power) for pub, power in end.validator_updates],
            initial_height=self.store.initial_height,
        )
        self._open_height = None
        # Committed state first, then the block: as on a real node (ABCI Commit precedes tx
        # indexing), a client that sees its transaction in a block also reads the state after it.
        # The other order let a GetTx-then-Account reader sign with a sequence one behind.
        self._committed_bank = self._bank.snapshot()
        self.store.append(block)
        self._app_hash = next_app_hash(self._app_hash, block)
        self._apply_outage()
        return block

    def _apply_outage(self) -> None:
        wanted = self._state.knobs.rpc_outage
        if wanted != self._rpc_outage:
            self._rpc_outage = wanted
            if self._on_rpc_outage is not None:
                self._on_rpc_outage(wanted)

    def produce_block(self) -> Block:
        """Seal the open block (opening an empty one if none is open) and return it."""
        with self._lock:
            return self._seal()

    def advance(self, count: int) -> int:
        """Seal ``count`` blocks; returns the last height."""
        if not 1 <= count <= MAX_ADVANCE_BLOCKS:
            raise InvalidRequestError(f"count must be in 1..{MAX_ADVANCE_BLOCKS}, got {count}")
        with self._lock:
            for _ in range(count):
                self._seal()
            return self._state.height

    def start(self) -> None:
        """Start the block timer (no-op without ``block_time_s``)."""
        if self.block_time_s is None or self._timer is not None:
            return
        self._stop.clear()
        self._timer = threading.Thread(target=self._run_timer, name="devnet-block-timer", daemon=True)
        self._timer.start()

    def _run_timer(self) -> None:
        assert self.block_time_s is not None
        interval = self.block_time_s
        deadline = time.monotonic() + interval
        while not self._stop.wait(max(0.0, deadline - time.monotonic())):
            try:
                self.produce_block()
            except Exception:  # the timer must keep the chain alive; the failure is logged
                _log.exception("block production failed")
            deadline = max(deadline + interval, time.monotonic())

    def stop(self) -> None:
        """Stop the block timer (the open block, if any, is sealed so no admitted tx is lost)."""
        timer, self._timer = self._timer, None
        self._stop.set()
        if timer is not None:
            timer.join()
        with self._lock:
            if self._open_height is not None and self._txs:
                self._seal()

    def __enter__(self) -> DevnetNode:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ admission

    def submit(self, proto_msg: Any) -> tuple[int, str, int]:
        """Execute ``proto_msg`` in the open block: (height, tx hash, sequence). A message that breaks
        a chain rule raises :class:`ChainRuleError` and is not included."""
        msg = parse_msg(proto_msg)
        with self._lock:
            height = self._open()
            sequence = self._next_sequence
            raw = encode_tx(sequence, proto_msg)
            tx_hash = _tx_hash(raw)
            outcome = self._state.deliver_tx(msg, type_url(proto_msg), tx_hash, sequence)
            if outcome.code != 0:
                raise ChainRuleError(outcome.log)
            self._next_sequence += 1
            self._txs.append(raw)
            self._results.append(
                TxResult(
                    code=outcome.code,
                    log="[]",
                    gas_wanted=TX_GAS,
                    gas_used=TX_GAS,
                    events=outcome.events,
                    codespace="" if outcome.code == 0 else CODESPACE,
                )
            )
            if len(self._txs) >= MAX_TXS_PER_BLOCK:
                self._seal()
            return height, tx_hash, sequence

    def broadcast_tx(self, raw: bytes) -> tuple[str, DeliverResult]:
        """CheckTx + DeliverTx of a Cosmos ``TxRaw`` in the open block: (tx hash, DeliverTx result).

        A refusal by the ante chain raises :class:`TxRejectedError` (CheckTx failure: nothing changes,
        nothing is included); a message failure is included with its code, as a node does."""
        with self._lock:
            height = self._open()
            self._validate_basic(raw)
            result = self._bank.deliver(raw, self.genesis.chain_id, self._executor(raw), height=height)
            tx_hash = _tx_hash(raw)
            self._txs.append(raw)
            self._results.append(
                TxResult(
                    code=result.code,
                    log=result.log,
                    gas_wanted=result.gas_wanted,
                    gas_used=result.gas_used,
                    events=result.events,
                    codespace=result.codespace,
                    data=result.data,
                )
            )
            if len(self._txs) >= MAX_TXS_PER_BLOCK:
                self._seal()
            return tx_hash, result

    def simulate_tx(self, raw: bytes) -> DeliverResult:
        """``Simulate`` against the open block's state (raises :class:`TxRejectedError`)."""
        with self._lock:
            self._validate_basic(raw)
            height = self._state.height + 1
            return self._bank.simulate(raw, self.genesis.chain_id, self._executor(raw), height=height)

    @staticmethod
    def _validate_basic(raw: bytes) -> None:
        """Stateless checks of the exocore messages a transaction carries (their ``ValidateBasic``):
        a malformed one is refused at CheckTx."""
        for _, proto_msg in decode_cosmos_tx(raw).messages:
            if is_domain_msg(proto_msg):
                try:
                    parse_msg(proto_msg)
                except CommissionError as exc:  # the SDK's own x/staking error, code and codespace
                    raise TxRejectedError(exc.code, str(exc), exc.codespace) from exc
                except InvalidRequestError as exc:
                    raise TxRejectedError(ERR_INVALID_REQUEST, f"{exc}: invalid request") from exc

    def _executor(self, raw: bytes) -> DomainExecutor:
        """Runs a transaction's exocore message in the chain state (check only when simulating)."""
        tx_hash = _tx_hash(raw)

        def run(type_url: str, proto_msg: Any, simulate: bool) -> tuple[list[Event], Any]:
            msg = parse_msg(proto_msg)
            if simulate:
                try:
                    self._state.check_tx(msg)
                except ChainRuleError as exc:
                    raise TxRejectedError(CODE_REJECTED, str(exc), CODESPACE) from exc
                return [], self._msg_response(proto_msg, msg, tx_hash, self._next_sequence)
            # Ids in the response are computed before the message changes the state.
            sequence = self._next_sequence
            response = self._msg_response(proto_msg, msg, tx_hash, sequence)
            outcome = self._state.deliver_tx(msg, type_url, tx_hash, sequence)
            if outcome.code != 0:
                raise TxRejectedError(outcome.code, outcome.log, CODESPACE)
            self._next_sequence += 1
            return list(outcome.events), response

        return run

    def _msg_response(self, proto_msg: Any, msg: Any, tx_hash: str, sequence: int) -> Any:
        """The ``Msg*Response`` a transaction's exocore message answers with (TxMsgData)."""
        height = self._state.height + 1
        if isinstance(msg, SubmitRewardClaim):
            return avs_tx.MsgSubmitRewardClaimResponse(
                height=height, claim_id=self._state.claim_id_of(msg), tx_hash=tx_hash
            )
        if isinstance(msg, SubmitSlashRequest):
            return operator_tx.MsgSubmitSlashRequestResponse(
                height=height, slash_id=self._state.slash_id_of_request(msg), tx_hash=tx_hash
            )
        if isinstance(msg, SubmitEquivocation):
            return operator_tx.MsgSubmitEquivocationEvidenceResponse(
                height=height, slash_id=self._state.evidence_of(msg).evidence_id, tx_hash=tx_hash
            )
        if isinstance(msg, SubmitWrongResult):
            return operator_tx.MsgSubmitWrongResultEvidenceResponse(
                height=height, slash_id=self._state.wrong_result_slash_id(msg), tx_hash=tx_hash
            )
        if isinstance(proto_msg, delegation_tx.MsgUndelegation):
            return delegation_tx.UndelegationResponse(height=height, record_id=sequence)
        if isinstance(proto_msg, delegation_tx.MsgDelegation):
            return delegation_tx.DelegationResponse(height=height)
        # Upstream's registration responses carry no height (RegisterAVSResponse echoes the request).
        if isinstance(proto_msg, avs_tx.RegisterAVSReq):
            return avs_tx.RegisterAVSResponse(from_address=proto_msg.from_address, info=proto_msg.info)
        if isinstance(proto_msg, operator_tx.RegisterOperatorReq):
            return operator_tx.RegisterOperatorResponse()
        if isinstance(proto_msg, operator_tx.OptIntoAVSReq):
            return operator_tx.OptIntoAVSResponse()
        if isinstance(proto_msg, operator_tx.OptOutOfAVSReq):
            return operator_tx.OptOutOfAVSResponse()
        raise AssertionError(f"{type(proto_msg).__name__} is not a transaction message")

    @property
    def committed_bank(self) -> AuthBank:
        """Accounts and balances as of the last committed block (replaced, never mutated)."""
        return self._committed_bank

    # ------------------------------------------------------------------ state access

    @property
    def state(self) -> ChainState:
        """The live state (read it under :attr:`lock` while the node runs)."""
        return self._state

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    @property
    def height(self) -> int:
        return self._state.height

    def state_root(self) -> bytes:
        with self._lock:
            return self._state.state_root()

    def pending_txs(self) -> tuple[bytes, ...]:
        """Transactions admitted into the open block, not yet committed (the node's "mempool")."""
        with self._lock:
            return tuple(self._txs) if self._open_height is not None else ()

    # ------------------------------------------------------------------ ChainDriver

    def delegate(self, msg: delegation_tx.MsgDelegation) -> delegation_tx.DelegationResponse:
        return delegation_tx.DelegationResponse(height=self.submit(msg)[0])

    def undelegate(self, msg: delegation_tx.MsgUndelegation) -> delegation_tx.UndelegationResponse:
        height, _, sequence = self.submit(msg)
        return delegation_tx.UndelegationResponse(height=height, record_id=sequence)

    def set_price(self, msg: tx.MsgSetPrice) -> tx.MsgSetPriceResponse:
        return tx.MsgSetPriceResponse(height=self.submit(msg)[0])

    def record_fee_deposit(self, msg: avs_tx.MsgRecordFeeDeposit) -> avs_tx.MsgRecordFeeDepositResponse:
        return avs_tx.MsgRecordFeeDepositResponse(height=self.submit(msg)[0])

    def submit_reward_claim(self, msg: avs_tx.MsgSubmitRewardClaim) -> avs_tx.MsgSubmitRewardClaimResponse:
        domain = parse_msg(msg)
        assert isinstance(domain, SubmitRewardClaim)
        height, tx_hash, _ = self.submit(msg)
        return avs_tx.MsgSubmitRewardClaimResponse(
            height=height, claim_id=self._state.claim_id_of(domain), tx_hash=tx_hash
        )

    def submit_slash_request(
        self, msg: operator_tx.MsgSubmitSlashRequest
    ) -> operator_tx.MsgSubmitSlashRequestResponse:
        domain = parse_msg(msg)
        assert isinstance(domain, SubmitSlashRequest)
        height, tx_hash, _ = self.submit(msg)
        return operator_tx.MsgSubmitSlashRequestResponse(
            height=height, slash_id=self._state.slash_id_of_request(domain), tx_hash=tx_hash
        )

    def submit_equivocation_evidence(
        self, msg: operator_tx.MsgSubmitEquivocationEvidence
    ) -> operator_tx.MsgSubmitEquivocationEvidenceResponse:
        domain = parse_msg(msg)
        assert isinstance(domain, SubmitEquivocation)
        height, tx_hash, _ = self.submit(msg)
        return operator_tx.MsgSubmitEquivocationEvidenceResponse(
            height=height, slash_id=self._state.evidence_of(domain).evidence_id, tx_hash=tx_hash
        )

    def submit_wrong_result_evidence(
        self, msg: operator_tx.MsgSubmitWrongResultEvidence
    ) -> operator_tx.MsgSubmitWrongResultEvidenceResponse:
        domain = parse_msg(msg)
        assert isinstance(domain, SubmitWrongResult)
        height, tx_hash, _ = self.submit(msg)
        return operator_tx.MsgSubmitWrongResultEvidenceResponse(
            height=height, slash_id=self._state.wrong_result_slash_id(domain), tx_hash=tx_hash
        )

    def set_validator_power(self, msg: tx.MsgSetValidatorPower) -> tx.MsgSetValidatorPowerResponse:
        return tx.MsgSetValidatorPowerResponse(height=self.submit(msg)[0])

    def set_fault_knobs(self, msg: tx.MsgSetFaultKnobs) -> tx.MsgSetFaultKnobsResponse:
        return tx.MsgSetFaultKnobsResponse(height=self.submit(msg)[0])

    def advance_blocks(self, msg: tx.MsgAdvanceBlocks) -> tx.MsgAdvanceBlocksResponse:
        return tx.MsgAdvanceBlocksResponse(height=self.advance(int(msg.count)))

    # ------------------------------------------------------------------ ChainQueries

    def avs_info(self, avs_address: str) -> avs_pb.AVSInfo | None:
        with self._lock:
            return self._views.avs_info(avs_address)

    def avs_infos(self) -> list[avs_pb.AVSInfo]:
        with self._lock:
            return list(self._views.avs_infos())

    def operator_info(self, account: str) -> operator_tx.OperatorInfo | None:
        with self._lock:
            return self._views.operator_info(account)

    def operator_accounts(self) -> list[str]:
        with self._lock:
            return list(self._views.operator_accounts())

    def committee(self, avs_address: str, epoch: int) -> avs_pb.Committee | None:
        with self._lock:
            return self._views.committee(avs_address, epoch)

    def reward_claim(self, claim_id: bytes) -> avs_pb.RewardClaim | None:
        with self._lock:
            return self._views.reward_claim(claim_id)

    def reward_claims(self) -> list[avs_pb.RewardClaim]:
        with self._lock:
            return list(self._views.reward_claims())

    def distribution(self, nonce: int) -> fee_pb.Distribution | None:
        with self._lock:
            return self._views.distribution(nonce)

    def distribution_for_claim(self, claim_id: bytes) -> fee_pb.Distribution | None:
        with self._lock:
            return self._views.distribution_for_claim(claim_id)

    def distributions(self) -> list[fee_pb.Distribution]:
        with self._lock:
            return list(self._views.distributions())

    def distribution_leaves(self, nonce: int) -> Any:
        with self._lock:
            # A lazy view over immutable leaf lists: safe to page outside the lock.
            return self._views.distribution_leaves(nonce)

    def has_withdrawal_approval(self, nonce: int) -> bool:
        with self._lock:
            return self._views.has_withdrawal_approval(nonce)

    def cumulative_leaves(self, period: int, l1_chain_id: int = 0) -> Any:
        with self._lock:
            return self._views.cumulative_leaves(period, l1_chain_id)

    def asset_custody(self, asset_id: str) -> operator_query.QueryAssetCustodyResponse:
        with self._lock:
            return self._views.asset_custody(asset_id)

    def slash_info(self, slash_id: bytes) -> operator_pb.OperatorSlashInfo | None:
        with self._lock:
            return self._views.slash_info(slash_id)

    def slash_infos(self) -> list[operator_pb.OperatorSlashInfo]:
        with self._lock:
            return list(self._views.slash_infos())

    def freezing_slash(self, operator_account: str, avs_address: str) -> operator_pb.OperatorSlashInfo | None:
        with self._lock:
            return self._views.freezing_slash(operator_account, avs_address)

    def packet(self, nonce: int) -> relay_pb.Packet | None:
        with self._lock:
            return self._views.packet(nonce)

    def packets(self) -> list[relay_pb.Packet]:
        with self._lock:
            return list(self._views.packets())

    def packet_signatures(self, nonce: int) -> list[relay_pb.ValidatorSignature]:
        with self._lock:
            return list(self._views.packet_signatures(nonce))

    def valset(self, valset_nonce: int) -> relay_pb.Valset | None:
        with self._lock:
            return self._views.valset(valset_nonce)

    def current_valset(self) -> relay_pb.Valset | None:
        with self._lock:
            return self._views.current_valset()

    def relay_params(self) -> relay_pb.Params:
        with self._lock:
            return self._views.relay_params()


__all__ = ["ChainRuleError", "DevnetNode", "ReplayError", "RequestRejectedError"]
