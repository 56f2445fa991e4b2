"""The durable L1 transaction manager: one process per signing key.

Callers *enqueue* intents (deliver packet N, pay these leaves) inside their own database transaction;
:meth:`TxManager.tick` drives every intent to an outcome:

1. **Receipts** of pending intents (every attempt's hash): mined with status 1 → ``included``;
   status 0 → the revert is re-run at that block and decoded: a name in ``already_done[purpose]``, or a
   packet whose nonce L1 shows consumed, means L1 already has the effect (``already_done``); anything
   else is ``failed`` with the error name as ``reason_code``. A pending intent whose nonce the chain
   shows consumed while none of its attempts was mined lost its nonce to another transaction: it goes
   back to ``queued``.
2. **Finality** of included intents: ``finalized`` at the ``finalized`` tag or ``confirmations`` blocks
   below the head; before that a changed canonical hash or a vanished receipt is a reorg: back to
   ``pending`` and the mined bytes are broadcast again.
3. **Broadcast** of every attempt still ``signed``, byte for byte, in nonce order: ones a crash left
   unsent, ones a reorg orphaned, ones the account could not pay for yet.
4. **Re-broadcast**: a pending intent whose live transaction is still unmined ``REBROADCAST_AFTER_BLOCKS``
   new blocks after we first saw it unmined is sent again byte for byte (a node may have dropped it).
5. **Fee bumps**: a pending intent not mined ``fee_bump_after_s`` after its last broadcast is re-signed
   with the *same nonce* and both fee fields at least +12.5 % (the replacement rule) and at least the
   current market, never above ``market maxFee x max_fee_multiplier``; committed, then sent.
6. **Signing** queued intents: simulate (``eth_call`` + ``eth_estimateGas`` at ``pending``), then in ONE
   database transaction take the signer's next nonce (row lock), sign, store the raw bytes as an
   attempt, mark the intent pending, bump the nonce and mirror the transaction into the indexer;
   committed, then sent (so the next intent's simulation can see it).

Because signing commits before anything is sent and only stored bytes are ever sent, a process killed
at any point and restarted neither loses nor double-sends an effect: an unsent attempt is sent on the
next tick, a sent one is found by its hash, and a nonce is only given to another intent once the chain
proves it was consumed by a transaction that is none of ours.

The indexer's ``l1_tx`` rows are written in the same database transactions: ``signed``, ``broadcast``,
``replaced`` and ``dropped`` as relayer decisions; ``included`` and ``reverted`` as L1 observations
(with block, so the L1 ingestor's reorg handling can undo them); ``finalized`` is left to the L1
ingestor, which owns L1 finality in the indexer. Payout leaves move ``pending → submitted`` with their
batch and back to ``pending`` when the batch is dropped or reverts.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, Final

from eth_account.signers.local import LocalAccount
from sqlalchemy import Connection, Engine, Row, func, insert, select, update
from web3 import Web3

from relayer.config import ExorelayConfig, FinalityMode, L1Config
from relayer.errors import ConfigError, L1RpcError
from relayer.l1 import fees
from relayer.l1.client import BlockHeader, BlockId, L1Client, Receipt
from relayer.l1.errors import (
    ExecutionRevertedError,
    InsufficientFundsError,
    L1AllEndpointsFailedError,
    L1ResponseError,
    MalformedResponseError,
    UnknownIntentError,
)
from relayer.l1.gateway import GatewayClient, decode_revert, packet_nonce_of
from relayer.protocol.kinds import PacketKind, TxPurpose
from relayer.protocol.types import address_hex, as_address, as_hash32, hash_hex
from storage.errors import IndexerError
from storage.l1_tables import (
    OPEN_INTENT_STATES,
    AttemptState,
    IntentState,
    signer_account_table,
    tx_attempt_table,
    tx_intent_table,
)
from storage.lifecycle import Chain, EdgeKind, EntityKind, L1TxState, lifecycle
from storage.models import l1_tx_table, transition_table
from storage.records import ChainRef
from storage.store import LifecycleStore, StoreTx, insert_ignore, utc_now

logger = logging.getLogger("exorelay.l1.txmanager")

GAS_LIMIT_MARGIN: Final = 1.10
"""Gas limit = estimate x this. The estimate is exact for the simulated state; a transaction landing
first mostly makes ours cheaper (it warms or dirties the same distribution slots), and 10 % covers a
cold slot or two (EIP-2929, 2.1k-20k each) on every gateway entry point. Not more: a block builder
reserves the whole limit, so at 25 % only two 10M-gas payout batches fit a 30M block where three
should (bench/relayer_pipeline.py)."""

MAX_INFLIGHT_INTENTS: Final = 16
"""At most this many intents hold an unmined nonce at once: geth keeps 16 executable transactions per
account by default (``txpool.accountslots``); beyond that a node may drop the later nonces."""

REBROADCAST_AFTER_BLOCKS: Final = 1
"""A pending transaction still unmined this many new L1 blocks after a tick saw it unmined is sent again,
the same signed bytes (no re-pricing; the fee-bump timer is not restarted). A node can drop a transaction
from its pool (eviction, restart) or, like anvil (foundry-rs/foundry#10122), leave one that arrived while
a block was being built unmined until another transaction arrives. One block: the count starts only once
the transaction is already in the pool, so a whole block went by without it; a resend costs the node an
"already known" check. Measured in bench/relayer_pipeline.py (10k leaves): 2 blocks left the last batch a
block late in 3 of 3 runs (ratio 1.15), 1 block none (1.08, 3 of 3)."""

MAX_SIGN_PER_TICK: Final = 64
"""Queued intents simulated and signed per tick: keeps one tick short (each costs ~4 RPC calls)."""

REASON_MAX_CHARS: Final = 2000
"""A decoded revert's description is stored in ``tx_intent.reason``; a pathological ``Error(string)``
is truncated rather than stored whole."""

REORG_REASON: Final = "l1 reorg"

INTENT_KEY_MAX_CHARS: Final = 96
"""``tx_intent.key`` is a VARCHAR(96)."""


PACKET_PURPOSES: Final = frozenset(kind.purpose.value for kind in PacketKind)
"""Purposes whose calldata delivers a relay packet (a gateway nonce is consumed on success)."""

DEFAULT_ALREADY_DONE: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        TxPurpose.VALSET_UPDATE.value: frozenset({"NonceAlreadyUsed", "ValsetNonceNotIncreasing"}),
        TxPurpose.DISTRIBUTION.value: frozenset({"NonceAlreadyUsed"}),
        TxPurpose.SLASH.value: frozenset({"NonceAlreadyUsed"}),
        TxPurpose.WITHDRAWAL_APPROVAL.value: frozenset({"NonceAlreadyUsed"}),
        # A payout batch with an already-paid leaf reverts as a whole; the pipeline re-batches.
        TxPurpose.PAYOUT.value: frozenset(),
        TxPurpose.OTHER.value: frozenset(),
    }
)
"""Revert names that mean "L1 already has this effect" per purpose (success, not failure)."""

REASON_FEE_CAP: Final = "FeeCapReached"
REASON_INSUFFICIENT_FUNDS: Final = "InsufficientFunds"
REASON_UNDERPRICED: Final = "ReplacementUnderpriced"
REASON_UNKNOWN_REVERT: Final = "UnknownRevert"
REASON_EMPTY_REVERT: Final = "Reverted"
REASON_OUT_OF_GAS: Final = "OutOfGas"

_NONCE_TOO_LOW: Final = ("nonce too low", "nonce has already been used", "old nonce", "invalid nonce")
_ALREADY_KNOWN: Final = ("already known", "known transaction", "already imported", "alreadyknown")
_UNDERPRICED: Final = ("underpriced",)
_INSUFFICIENT_FUNDS: Final = ("insufficient funds",)


@dataclass(frozen=True)
class TxSettings:
    finality: FinalityMode
    confirmations: int
    fee_bump_after_s: float
    max_fee_multiplier: float
    gas_limit_margin: float = GAS_LIMIT_MARGIN
    max_inflight: int = MAX_INFLIGHT_INTENTS
    max_sign_per_tick: int = MAX_SIGN_PER_TICK

    def __post_init__(self) -> None:
        if self.confirmations < 0:
            raise ConfigError("confirmations must be >= 0")
        if self.fee_bump_after_s <= 0:
            raise ConfigError("fee_bump_after_s must be > 0")
        if self.max_fee_multiplier < 1:
            raise ConfigError("max_fee_multiplier must be >= 1")
        if self.gas_limit_margin < 1:
            raise ConfigError("gas_limit_margin must be >= 1")
        if self.max_inflight < 1 or self.max_sign_per_tick < 1:
            raise ConfigError("max_inflight and max_sign_per_tick must be >= 1")

    @classmethod
    def from_config(cls, config: ExorelayConfig) -> TxSettings:
        return cls.for_chain(config.l1)

    @classmethod
    def for_chain(cls, chain: L1Config) -> TxSettings:
        """The settings of one configured client chain (its finality rule and fee policy)."""
        return cls(
            finality=chain.finality,
            confirmations=chain.confirmations,
            fee_bump_after_s=chain.fee_bump_after_s,
            max_fee_multiplier=chain.max_fee_multiplier,
        )


@dataclass(frozen=True)
class IntentView:
    id: int
    key: str
    state: IntentState
    reason_code: str | None
    reason: str | None
    tx_hash: str | None
    block_number: int | None
    block_hash: str | None
    gas_used: int | None
    leaf_indices: tuple[int, ...]
    purpose: str = TxPurpose.OTHER.value
    tx_nonce: int | None = None
    attempts: int = 0

    @property
    def done(self) -> bool:
        """Finalized or already done: the effect is on L1 for good."""
        return self.state in (IntentState.FINALIZED, IntentState.ALREADY_DONE)

    @property
    def open(self) -> bool:
        return self.state in OPEN_INTENT_STATES


@dataclass(frozen=True)
class TickReport:
    """What one pass (or one step) did; ``errors`` are one-line descriptions of problems that left
    intents where they were (they are retried on the next tick)."""

    signed: int = 0
    broadcast: int = 0
    included: int = 0
    finalized: int = 0
    already_done: int = 0
    failed: int = 0
    bumped: int = 0
    rebroadcast: int = 0
    requeued: int = 0
    reorged: int = 0
    fee_capped: int = 0
    insufficient_funds: int = 0
    errors: tuple[str, ...] = ()

    @property
    def idle(self) -> bool:
        """Nothing changed."""
        return not any(value for key, value in asdict(self).items() if key != "errors")


@dataclass
class _Tally:
    signed: int = 0
    broadcast: int = 0
    included: int = 0
    finalized: int = 0
    already_done: int = 0
    failed: int = 0
    bumped: int = 0
    rebroadcast: int = 0
    requeued: int = 0
    reorged: int = 0
    fee_capped: int = 0
    insufficient_funds: int = 0
    errors: list[str] = field(default_factory=list)

    def freeze(self) -> TickReport:
        values = asdict(self)
        values["errors"] = tuple(self.errors)
        return TickReport(**values)


@dataclass(frozen=True)
class _Intent:
    id: int
    key: str
    purpose: str
    to_address: str
    calldata: bytes
    value_wei: int
    gas_limit: int | None
    state: str
    tx_nonce: int | None
    tx_hash: str | None
    block_number: int | None
    block_hash: str | None
    packet_nonce: int | None
    distribution_id: str | None
    leaf_indices: tuple[int, ...]
    attempts: int
    reason_code: str | None
    reason: str | None

    @classmethod
    def of(cls, row: Row[Any]) -> _Intent:
        return cls(
            id=int(row.id),
            key=row.key,
            purpose=row.purpose,
            to_address=row.to_address,
            calldata=bytes.fromhex(row.calldata.removeprefix("0x")),
            value_wei=int(row.value_wei),
            gas_limit=row.gas_limit,
            state=row.state,
            tx_nonce=row.tx_nonce,
            tx_hash=row.tx_hash,
            block_number=row.block_number,
            block_hash=row.block_hash,
            packet_nonce=row.packet_nonce,
            distribution_id=row.distribution_id,
            leaf_indices=tuple(int(i) for i in row.leaf_indices or ()),
            attempts=int(row.attempts),
            reason_code=row.reason_code,
            reason=row.reason,
        )


@dataclass(frozen=True)
class _Attempt:
    id: int
    intent_id: int
    tx_hash: str
    tx_nonce: int
    max_fee_per_gas: int
    max_priority_fee_per_gas: int
    gas_limit: int
    raw_tx: bytes
    state: str
    broadcast_at: datetime | None

    @classmethod
    def of(cls, row: Row[Any]) -> _Attempt:
        return cls(
            id=int(row.id),
            intent_id=int(row.intent_id),
            tx_hash=row.tx_hash,
            tx_nonce=int(row.tx_nonce),
            max_fee_per_gas=int(row.max_fee_per_gas),
            max_priority_fee_per_gas=int(row.max_priority_fee_per_gas),
            gas_limit=int(row.gas_limit),
            raw_tx=bytes.fromhex(row.raw_tx.removeprefix("0x")),
            state=row.state,
            broadcast_at=row.broadcast_at,
        )


@dataclass(frozen=True)
class _SignedTx:
    tx_hash: str
    raw: bytes
    nonce: int
    gas_limit: int
    max_fee: int
    tip: int


@dataclass(frozen=True)
class _Outcome:
    """Why a simulation or a mined transaction reverted."""

    code: str
    detail: str
    delivered: bool = False
    """L1 shows the intent's effect anyway (its packet nonce is consumed)."""


class _ConflictError(Exception):
    """An intent changed under us (cancelled, settled) between reading and writing: roll back."""


class _Market:
    """Fee market and nonces read at most once per tick."""

    def __init__(self, client: L1Client, sender: str) -> None:
        self._client = client
        self._sender = sender
        self._header: BlockHeader | None = None
        self._tip: int | None = None
        self._latest_nonce: int | None = None

    def header(self) -> BlockHeader:
        if self._header is None:
            header = self._client.block("latest")
            if header is None:
                raise MalformedResponseError("the node has no latest block")
            self._header = header
        return self._header

    def tip(self) -> int:
        if self._tip is None:
            self._tip = self._client.priority_fee()
        return self._tip

    def base_fee(self) -> int:
        return self.header().base_fee_per_gas

    def max_fee(self) -> int:
        """The market's maxFeePerGas (:func:`relayer.l1.fees.market_max_fee`)."""
        return fees.market_max_fee(self.base_fee(), self.tip())

    def latest_nonce(self) -> int:
        if self._latest_nonce is None:
            self._latest_nonce = self._client.nonce(self._sender, "latest")
        return self._latest_nonce


def _matches(message: str, needles: Iterable[str]) -> bool:
    lowered = message.lower()
    return any(needle in lowered for needle in needles)


def _clip(text: str) -> str:
    return text if len(text) <= REASON_MAX_CHARS else text[: REASON_MAX_CHARS - 1] + "…"


class TxManager:
    """See the module docstring. Not thread-safe: run one per signing key, ticks one at a time."""

    def __init__(
        self,
        engine: Engine,
        client: L1Client,
        account: LocalAccount,
        settings: TxSettings,
        *,
        store: LifecycleStore,
        clock: Callable[[], datetime] = utc_now,
        already_done: Mapping[str, frozenset[str]] = DEFAULT_ALREADY_DONE,
        fence: Callable[[Connection], None] | None = None,
    ) -> None:
        self._engine = engine
        self._fence = fence
        """The signer lease's fencing check (``relayer.leases.Fence``), run first in every write
        transaction (the nonce allocation above all) and before every broadcast; None: one process
        owns the key by construction (tests, tools)."""
        self._client = client
        self._account = account
        self._settings = settings
        self._store = store
        self._clock = clock
        self._already_done = MappingProxyType(dict(already_done))
        self._sender = address_hex(as_address(account.address))
        self._chain_id = client.chain_id
        self._chain_checked = False
        self._unmined_since: dict[int, int] = {}
        """Attempt id -> the L1 head when it was last seen unmined or re-sent (in memory: a restart
        only restarts the count)."""

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        """A write transaction, refused (:class:`storage.errors.StaleLeaseError`, nothing written)
        unless this process still holds the signer lease with its token on the database's clock."""
        with self._engine.begin() as conn:
            if self._fence is not None:
                self._fence(conn)
            yield conn

    def _check_fence(self) -> None:
        if self._fence is not None:
            with self._engine.begin() as conn:
                self._fence(conn)

    @property
    def sender(self) -> str:
        """The signer's address (lower-case 0x-hex)."""
        return self._sender

    @property
    def chain_id(self) -> int:
        return self._chain_id

    # ================================================================== caller API

    def enqueue(
        self,
        conn: Connection,
        *,
        key: str,
        purpose: str,
        to: str,
        calldata: bytes,
        packet_nonce: int | None = None,
        distribution_id: str | None = None,
        leaf_indices: Sequence[int] = (),
        gas_limit: int | None = None,
    ) -> int:
        """Queue an intent inside the caller's transaction; returns its id.

        Idempotent on ``key``: an existing intent's id is returned unchanged (the first content wins).
        """
        if not key or len(key) > INTENT_KEY_MAX_CHARS:
            raise ValueError(f"intent key must be 1..{INTENT_KEY_MAX_CHARS} characters, got {key!r}")
        purpose_value = TxPurpose(purpose).value
        existing = conn.execute(select(tx_intent_table.c.id).where(tx_intent_table.c.key == key)).scalar()
        if existing is not None:
            return int(existing)
        now = self._clock()
        insert_ignore(
            conn,
            tx_intent_table,
            [
                {
                    "key": key,
                    "chain_id": self._chain_id,
                    "sender": self._sender,
                    "purpose": purpose_value,
                    "packet_nonce": packet_nonce,
                    "distribution_id": None
                    if distribution_id is None
                    else hash_hex(as_hash32(distribution_id)),
                    "leaf_indices": [int(i) for i in leaf_indices],
                    "to_address": address_hex(as_address(to)),
                    "calldata": "0x" + bytes(calldata).hex(),
                    "value_wei": 0,
                    "gas_limit": gas_limit,
                    "state": IntentState.QUEUED.value,
                    "attempts": 0,
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )
        intent_id = conn.execute(
            select(tx_intent_table.c.id).where(tx_intent_table.c.key == key)
        ).scalar_one()
        logger.info(
            "intent queued",
            extra={
                "intent_id": intent_id,
                "intent_key": key,
                "purpose": purpose_value,
                "packet_nonce": packet_nonce,
                "leaves": len(leaf_indices),
            },
        )
        return int(intent_id)

    def cancel(self, conn: Connection, intent_id: int) -> bool:
        """Withdraw a queued intent (caller's transaction); False if it is already signed or settled."""
        result = conn.execute(
            update(tx_intent_table)
            .where(tx_intent_table.c.id == intent_id, tx_intent_table.c.state == IntentState.QUEUED.value)
            .values(state=IntentState.CANCELLED.value, updated_at=self._clock())
        )
        return result.rowcount == 1

    def intent(self, conn: Connection, intent_id: int) -> IntentView:
        row = conn.execute(select(tx_intent_table).where(tx_intent_table.c.id == intent_id)).first()
        if row is None:
            raise UnknownIntentError(f"no tx intent {intent_id}")
        intent = _Intent.of(row)
        return IntentView(
            id=intent.id,
            key=intent.key,
            state=IntentState(intent.state),
            reason_code=intent.reason_code,
            reason=intent.reason,
            tx_hash=intent.tx_hash,
            block_number=intent.block_number,
            block_hash=intent.block_hash,
            gas_used=row.gas_used,
            leaf_indices=intent.leaf_indices,
            purpose=intent.purpose,
            tx_nonce=intent.tx_nonce,
            attempts=intent.attempts,
        )

    def pending_count(self) -> int:
        """Intents of this signer not settled yet (queued, pending or included)."""
        t = tx_intent_table
        with self._engine.connect() as conn:
            count = conn.execute(
                select(func.count())
                .select_from(t)
                .where(
                    t.c.sender == self._sender,
                    t.c.chain_id == self._chain_id,
                    t.c.state.in_([s.value for s in OPEN_INTENT_STATES]),
                )
            ).scalar_one()
        return int(count)

    # ================================================================== the pass

    def tick(self) -> TickReport:
        """One full pass: receipts, finality/reorgs, broadcast of stored bytes not sent yet (a crash,
        a reorg, a lack of funds left them), fee bumps, signing of queued intents.

        Safe to call repeatedly and after a crash. L1 outages end the pass early (reported in
        ``errors``); nothing is lost, the next tick continues.
        """
        tally = _Tally()
        try:
            self._ensure_chain()
            market = _Market(self._client, self._sender)
            self._check_pending(tally, market)
            self._check_included(tally)
            if self._broadcast_signed(tally):
                self._rebroadcast_stale(tally, market)
                self._bump_fees(tally, market)
                self._sign_queued(tally, market, broadcast=True)
        except L1AllEndpointsFailedError as exc:
            logger.warning("L1 unreachable, tick ends early", extra={"error": str(exc)})
            tally.errors.append(str(exc))
        return tally.freeze()

    # Single steps (the pass runs them in this order). Exposed for operators' tooling and for tests
    # that stop between steps the way a crash would.

    def check_pending(self) -> TickReport:
        return self._step(lambda tally: self._check_pending(tally, _Market(self._client, self._sender)))

    def check_included(self) -> TickReport:
        return self._step(self._check_included)

    def rebroadcast_stale(self) -> TickReport:
        return self._step(lambda tally: self._rebroadcast_stale(tally, _Market(self._client, self._sender)))

    def bump_fees(self) -> TickReport:
        return self._step(lambda tally: self._bump_fees(tally, _Market(self._client, self._sender)))

    def sign_queued(self, *, broadcast: bool = True) -> TickReport:
        """Simulate and sign queued intents, each committed before it is sent; ``broadcast=False``
        stops after the commits (what a crash right after them leaves behind)."""
        return self._step(
            lambda tally: self._sign_queued(tally, _Market(self._client, self._sender), broadcast=broadcast)
        )

    def broadcast_signed(self) -> TickReport:
        return self._step(self._broadcast_signed)

    def sign_new(self) -> TickReport:
        """The tail of a tick: send stored bytes not sent yet, then sign what is queued (a caller
        that just queued intents gets them out now instead of a tick later)."""

        def run(tally: _Tally) -> None:
            if self._broadcast_signed(tally):
                self._sign_queued(tally, _Market(self._client, self._sender), broadcast=True)

        return self._step(run)

    def _step(self, run: Callable[[_Tally], object]) -> TickReport:
        tally = _Tally()
        self._ensure_chain()
        run(tally)
        return tally.freeze()

    def _ensure_chain(self) -> None:
        if not self._chain_checked:
            self._client.check_chain_id()
            self._chain_checked = True

    # ================================================================== reads

    def _intents(self, state: IntentState, limit: int | None = None) -> list[_Intent]:
        t = tx_intent_table
        query = (
            select(t)
            .where(t.c.sender == self._sender, t.c.chain_id == self._chain_id, t.c.state == state.value)
            .order_by(t.c.id)
        )
        if limit is not None:
            query = query.limit(limit)
        with self._engine.connect() as conn:
            return [_Intent.of(row) for row in conn.execute(query)]

    def _count(self, state: IntentState) -> int:
        t = tx_intent_table
        with self._engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(t)
                    .where(
                        t.c.sender == self._sender, t.c.chain_id == self._chain_id, t.c.state == state.value
                    )
                ).scalar_one()
            )

    def _attempts(self, intent_id: int) -> list[_Attempt]:
        a = tx_attempt_table
        with self._engine.connect() as conn:
            rows = conn.execute(select(a).where(a.c.intent_id == intent_id).order_by(a.c.id))
            return [_Attempt.of(row) for row in rows]

    def _find_mined(self, attempts: Sequence[_Attempt]) -> tuple[_Attempt, Receipt] | None:
        """The attempt the chain mined, if any (newest first: a replacement is the likelier one)."""
        for attempt in reversed(attempts):
            receipt = self._client.get_receipt(attempt.tx_hash)
            if receipt is not None:
                return attempt, receipt
        return None

    # ================================================================== writes (helpers)

    def _ref(self, now: datetime) -> ChainRef:
        return ChainRef(Chain.RELAYER, now)

    def _update_intent(self, conn: Connection, intent: _Intent, expected: str, **values: Any) -> None:
        """Conditional update: the intent must still be in ``expected`` (else :class:`_ConflictError`)."""
        result = conn.execute(
            update(tx_intent_table)
            .where(tx_intent_table.c.id == intent.id, tx_intent_table.c.state == expected)
            .values(**values)
        )
        if result.rowcount != 1:
            raise _ConflictError(f"intent {intent.id} is no longer {expected}")

    def _set_attempt(self, conn: Connection, attempt_id: int, state: AttemptState, **values: Any) -> None:
        conn.execute(
            update(tx_attempt_table)
            .where(tx_attempt_table.c.id == attempt_id)
            .values(state=state.value, **values)
        )

    def _note(self, intent: _Intent, code: str | None, reason: str | None) -> None:
        """Record why a pending intent waits (only when it changed: no write per tick)."""
        if intent.reason_code == code and intent.reason == reason:
            return
        try:
            with self._begin() as conn:
                self._update_intent(
                    conn, intent, intent.state, reason_code=code, reason=reason, updated_at=self._clock()
                )
        except _ConflictError:
            pass

    # --- indexer mirror. The manager's own tables are the authority; a mirror write the indexer's
    # state graph refuses (it already knows better from L1 logs) is logged and skipped, never allowed
    # to roll back the manager's transaction (graph checks raise before anything is written).

    def _mirror(
        self,
        stx: StoreTx,
        tx_hash: str,
        to_state: L1TxState,
        ref: ChainRef,
        *,
        reason: str | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> None:
        try:
            current = stx.state_of(EntityKind.L1_TX, tx_hash)
            if current is None or current == to_state.value:
                return
            stx.transition(EntityKind.L1_TX, tx_hash, to_state.value, ref, reason=reason, values=values)
        except IndexerError as exc:
            logger.warning("indexer l1_tx mirror skipped", extra={"tx_hash": tx_hash, "error": str(exc)})

    def _mirror_unmined(
        self, stx: StoreTx, tx_hashes: Iterable[str], to_state: L1TxState, ref: ChainRef, reason: str
    ) -> None:
        for tx_hash in tx_hashes:
            if stx.state_of(EntityKind.L1_TX, tx_hash) in (L1TxState.SIGNED.value, L1TxState.BROADCAST.value):
                self._mirror(stx, tx_hash, to_state, ref, reason=reason)

    def _mirror_reorg(
        self, stx: StoreTx, tx_hash: str, orphaned_block_hash: str | None, at: datetime
    ) -> None:
        """Undo the indexer's ``included``/``reverted`` of ``tx_hash`` if it still points at the
        orphaned block (the L1 ingestor may have done it already, or re-included it elsewhere)."""
        x, t = l1_tx_table, transition_table
        row = stx.conn.execute(select(x.c.state, x.c.block_hash).where(x.c.tx_hash == tx_hash)).first()
        reversible = (L1TxState.INCLUDED.value, L1TxState.REVERTED.value)
        if row is None or row.state not in reversible:
            return
        if orphaned_block_hash is not None and row.block_hash not in (None, orphaned_block_hash):
            return
        undone = select(t.c.reverses_id).where(t.c.reverses_id.is_not(None)).scalar_subquery()
        move = stx.conn.execute(
            select(t)
            .where(
                t.c.entity_kind == EntityKind.L1_TX.value,
                t.c.entity_id == tx_hash,
                t.c.to_state == row.state,
                t.c.edge != EdgeKind.REVERSAL.value,
                t.c.id.not_in(undone),
            )
            .order_by(t.c.id.desc())
            .limit(1)
        ).first()
        if move is None or move.from_state is None:
            return
        if not lifecycle(EntityKind.L1_TX).allows(move.to_state, move.from_state, EdgeKind.REVERSAL):
            return
        stx.conn.execute(
            update(x)
            .where(x.c.tx_hash == tx_hash)
            .values(state=move.from_state, block_number=None, block_hash=None, gas_used=None, updated_at=at)
        )
        ref = ChainRef(Chain.L1, at, move.height, move.block_hash, move.tx_hash, move.log_index)
        stx.append_transitions(
            [
                stx.transition_row(
                    EntityKind.L1_TX,
                    tx_hash,
                    move.to_state,
                    move.from_state,
                    ref,
                    edge=EdgeKind.REVERSAL,
                    reason=REORG_REASON,
                    reverses_id=move.id,
                )
            ]
        )

    def _return_payouts(
        self, stx: StoreTx, intent: _Intent, attempts: Sequence[_Attempt], ref: ChainRef, reason: str
    ) -> None:
        if intent.purpose != TxPurpose.PAYOUT.value:
            return
        for attempt in attempts:
            try:
                stx.return_payouts_to_queue(attempt.tx_hash, ref, reason)
            except IndexerError as exc:
                logger.warning(
                    "payouts not returned to queue", extra={"tx_hash": attempt.tx_hash, "error": str(exc)}
                )

    # ================================================================== (c) receipts

    def _check_pending(self, tally: _Tally, market: _Market) -> None:
        pending = self._intents(IntentState.PENDING)
        if not pending:
            return
        # Read the nonce BEFORE the receipts: if the chain had consumed a nonce when we asked, a
        # receipt of ours for it is visible afterwards; the other order could miss a just-mined one.
        latest_nonce = market.latest_nonce()
        for intent in pending:
            try:
                self._check_one_pending(intent, latest_nonce, tally)
            except L1AllEndpointsFailedError:
                raise
            except L1RpcError as exc:
                tally.errors.append(f"intent {intent.id}: {exc}")
                logger.warning("receipt check failed", extra={"intent_id": intent.id, "error": str(exc)})

    def _check_one_pending(self, intent: _Intent, latest_nonce: int, tally: _Tally) -> None:
        attempts = self._attempts(intent.id)
        mined = self._find_mined(attempts)
        if mined is None and intent.tx_nonce is not None and intent.tx_nonce < latest_nonce:
            # Looks consumed by another transaction, but a reorg between the nonce read and the
            # receipt reads can orphan our own mined tx and free the nonce again. Ask again in the
            # safe order (fresh nonce, then receipts) before giving the nonce up: re-signing at a
            # later nonce would leave this one unfilled and stall every later transaction.
            latest_nonce = self._client.nonce(self._sender, "latest")
            mined = self._find_mined(attempts)
        if mined is not None:
            self._settle_mined(intent, attempts, *mined, tally)
        elif intent.tx_nonce is not None and intent.tx_nonce < latest_nonce:
            self._requeue(
                intent, attempts, f"nonce {intent.tx_nonce} was consumed by another transaction", tally
            )

    def _settle_mined(
        self, intent: _Intent, attempts: Sequence[_Attempt], mined: _Attempt, receipt: Receipt, tally: _Tally
    ) -> None:
        """Record the chain's verdict on an intent one of whose attempts was mined."""
        outcome = None if receipt.succeeded else self._mined_revert(intent, mined, receipt)
        now = self._clock()
        l1_ref = ChainRef(Chain.L1, now, receipt.block_number, receipt.block_hash, mined.tx_hash)
        others = [a for a in attempts if a.id != mined.id]
        if outcome is None:
            state, code, detail = IntentState.INCLUDED, None, None
        elif self._is_done(intent, outcome):
            state, code, detail = IntentState.ALREADY_DONE, outcome.code, outcome.detail
        else:
            state, code, detail = IntentState.FAILED, outcome.code, outcome.detail
        location = {"block_number": receipt.block_number, "block_hash": receipt.block_hash}
        try:
            with self._begin() as conn:
                self._update_intent(
                    conn,
                    intent,
                    intent.state,
                    state=state.value,
                    tx_nonce=mined.tx_nonce,
                    tx_hash=mined.tx_hash,
                    gas_used=receipt.gas_used,
                    reason_code=code,
                    reason=detail,
                    updated_at=now,
                    **location,
                )
                mined_state = AttemptState.INCLUDED if outcome is None else AttemptState.REVERTED
                self._set_attempt(conn, mined.id, mined_state)
                for other in others:
                    if other.state in (AttemptState.SIGNED.value, AttemptState.BROADCAST.value):
                        self._set_attempt(conn, other.id, AttemptState.REPLACED)
                stx = StoreTx(conn, self._store.clock)
                if intent.state == IntentState.INCLUDED.value and intent.tx_hash is not None:
                    # Re-settled after a reorg (reverted on the new branch): undo the old inclusion first.
                    self._mirror_reorg(stx, intent.tx_hash, intent.block_hash, now)
                mined_l1 = L1TxState.INCLUDED if outcome is None else L1TxState.REVERTED
                self._mirror(
                    stx,
                    mined.tx_hash,
                    mined_l1,
                    l1_ref,
                    reason=code,
                    values={**location, "gas_used": receipt.gas_used},
                )
                self._mirror_unmined(
                    stx, (a.tx_hash for a in others), L1TxState.REPLACED, self._ref(now), reason=mined.tx_hash
                )
                if outcome is not None:
                    # A relayer decision (the leaves are owed again), not an L1 observation: an L1 reorg
                    # must not try to undo it.
                    self._return_payouts(
                        stx, intent, attempts, self._ref(now), f"payout tx reverted: {outcome.code}"
                    )
        except _ConflictError:
            return
        log_extra = {
            "intent_id": intent.id,
            "purpose": intent.purpose,
            "tx_nonce": mined.tx_nonce,
            "tx_hash": mined.tx_hash,
            "block_number": receipt.block_number,
        }
        if state is IntentState.INCLUDED:
            tally.included += 1
            logger.info("intent included", extra=log_extra)
        elif state is IntentState.ALREADY_DONE:
            tally.already_done += 1
            logger.info("intent already done on L1 (mined revert)", extra={**log_extra, "reason_code": code})
        else:
            tally.failed += 1
            logger.warning(
                "intent failed (mined revert)", extra={**log_extra, "reason_code": code, "reason": detail}
            )

    def _mined_revert(self, intent: _Intent, attempt: _Attempt, receipt: Receipt) -> _Outcome:
        """Why a mined attempt reverted: re-run it at its block (the state it saw, plus nothing of its own,
        since a reverted transaction changes nothing but the nonce and balance)."""
        try:
            self._client.eth_call(
                to=intent.to_address,
                data=intent.calldata,
                sender=self._sender,
                block=receipt.block_number,
                gas=attempt.gas_limit,
                value=intent.value_wei,
            )
        except ExecutionRevertedError as exc:
            return self._explain(intent, _revert_outcome(exc), receipt.block_number)
        except L1ResponseError as exc:  # e.g. the node pruned that block's state
            return _Outcome(
                REASON_EMPTY_REVERT, f"reverted; replay at block {receipt.block_number} failed: {exc}"
            )
        if receipt.gas_used >= attempt.gas_limit:
            return _Outcome(REASON_OUT_OF_GAS, f"used all {attempt.gas_limit} gas")
        return _Outcome(REASON_EMPTY_REVERT, f"reverted in block {receipt.block_number}; replay succeeds")

    def _explain(self, intent: _Intent, outcome: _Outcome, block: BlockId) -> _Outcome:
        """A packet whose nonce L1 has consumed was delivered (nonces are consumed only by a successful
        delivery, each once): whatever the revert says, the effect is there. Replaying a delivered
        valset update, for one, reverts ``StaleValset`` because its signing set was just replaced."""
        if intent.purpose not in PACKET_PURPOSES:
            return outcome
        nonce = intent.packet_nonce if intent.packet_nonce is not None else packet_nonce_of(intent.calldata)
        if nonce is None:
            return outcome
        try:
            used = GatewayClient(self._client, intent.to_address).nonce_used(nonce, block)
        except L1ResponseError:
            return outcome
        if not used:
            return outcome
        return _Outcome(
            outcome.code, _clip(f"packet nonce {nonce} already used on L1; {outcome.detail}"), True
        )

    def _requeue(self, intent: _Intent, attempts: Sequence[_Attempt], reason: str, tally: _Tally) -> None:
        """The intent's nonce was consumed by a transaction that is none of ours: sign anew later."""
        now = self._clock()
        try:
            with self._begin() as conn:
                self._update_intent(
                    conn,
                    intent,
                    intent.state,
                    state=IntentState.QUEUED.value,
                    tx_nonce=None,
                    tx_hash=None,
                    block_number=None,
                    block_hash=None,
                    gas_used=None,
                    reason_code=None,
                    reason=reason,
                    updated_at=now,
                )
                for attempt in attempts:
                    if attempt.state in (AttemptState.SIGNED.value, AttemptState.BROADCAST.value):
                        self._set_attempt(conn, attempt.id, AttemptState.DROPPED)
                stx = StoreTx(conn, self._store.clock)
                ref = self._ref(now)
                self._mirror_unmined(
                    stx, (a.tx_hash for a in attempts), L1TxState.DROPPED, ref, reason=reason
                )
                self._return_payouts(stx, intent, attempts, ref, reason)
        except _ConflictError:
            return
        tally.requeued += 1
        logger.warning(
            "intent re-queued: nonce consumed elsewhere",
            extra={"intent_id": intent.id, "purpose": intent.purpose, "tx_nonce": intent.tx_nonce},
        )

    # ================================================================== (e) finality and reorgs

    def _final_height(self) -> int:
        if self._settings.finality is FinalityMode.FINALIZED_TAG:
            return self._client.finalized_block_number()
        return self._client.block_number() - self._settings.confirmations

    def _check_included(self, tally: _Tally) -> None:
        included = self._intents(IntentState.INCLUDED)
        if not included:
            return
        final_height = self._final_height()
        hashes: dict[int, str | None] = {}
        for intent in included:
            if intent.block_number is None or intent.tx_hash is None:
                continue
            try:
                if intent.block_number not in hashes:
                    hashes[intent.block_number] = self._client.block_hash(intent.block_number)
                canonical = hashes[intent.block_number]
                # The block at that height is still the one that held the tx: its hash fixes its
                # contents, so the receipt is only read when it is not (where did the tx go?).
                receipt = None if canonical == intent.block_hash else self._client.get_receipt(intent.tx_hash)
            except L1AllEndpointsFailedError:
                raise
            except L1RpcError as exc:
                tally.errors.append(f"intent {intent.id}: {exc}")
                continue
            if canonical == intent.block_hash:
                if intent.block_number <= final_height:
                    self._finalize(intent, tally)
                continue
            self._on_reorg(intent, receipt, tally)

    def _finalize(self, intent: _Intent, tally: _Tally) -> None:
        now = self._clock()
        assert intent.tx_hash is not None and intent.block_number is not None
        try:
            with self._begin() as conn:
                # The indexer's l1_tx finality is the L1 ingestor's (finalize_l1, with the reorg window
                # it checks): a second writer with its own idea of finality could finalize a row the
                # ingestor must still be able to reverse.
                self._update_intent(
                    conn,
                    intent,
                    IntentState.INCLUDED.value,
                    state=IntentState.FINALIZED.value,
                    updated_at=now,
                )
        except _ConflictError:
            return
        tally.finalized += 1
        logger.info(
            "intent finalized",
            extra={
                "intent_id": intent.id,
                "purpose": intent.purpose,
                "tx_hash": intent.tx_hash,
                "block_number": intent.block_number,
            },
        )

    def _on_reorg(self, intent: _Intent, receipt: Receipt | None, tally: _Tally) -> None:
        """The block that held the intent's transaction is no longer canonical."""
        attempts = self._attempts(intent.id)
        now = self._clock()
        if receipt is not None:
            # Mined again on the new branch (the same or another attempt): take the new location.
            mined = next((a for a in attempts if a.tx_hash == receipt.tx_hash), None)
            if mined is not None:
                self._relocate(intent, attempts, mined, receipt, tally)
                return
        mined_attempt = next((a for a in attempts if a.tx_hash == intent.tx_hash), None)
        try:
            with self._begin() as conn:
                self._update_intent(
                    conn,
                    intent,
                    IntentState.INCLUDED.value,
                    state=IntentState.PENDING.value,
                    block_number=None,
                    block_hash=None,
                    gas_used=None,
                    reason=f"reorged out of block {intent.block_number} ({intent.block_hash})",
                    updated_at=now,
                )
                if mined_attempt is not None:
                    # Its bytes are still valid unless the nonce was re-used: broadcast them again.
                    self._set_attempt(conn, mined_attempt.id, AttemptState.SIGNED, broadcast_at=None)
                if intent.tx_hash is not None:
                    self._mirror_reorg(
                        StoreTx(conn, self._store.clock), intent.tx_hash, intent.block_hash, now
                    )
        except _ConflictError:
            return
        tally.reorged += 1
        logger.warning(
            "intent reorged out, back to pending",
            extra={
                "intent_id": intent.id,
                "purpose": intent.purpose,
                "tx_hash": intent.tx_hash,
                "block_number": intent.block_number,
                "block_hash": intent.block_hash,
            },
        )

    def _relocate(
        self, intent: _Intent, attempts: Sequence[_Attempt], mined: _Attempt, receipt: Receipt, tally: _Tally
    ) -> None:
        if not receipt.succeeded:
            # The new branch reverted it: settle as a mined revert from the included state.
            self._settle_mined(intent, attempts, mined, receipt, tally)
            tally.reorged += 1
            return
        now = self._clock()
        location = {"block_number": receipt.block_number, "block_hash": receipt.block_hash}
        try:
            with self._begin() as conn:
                self._update_intent(
                    conn,
                    intent,
                    IntentState.INCLUDED.value,
                    tx_hash=mined.tx_hash,
                    gas_used=receipt.gas_used,
                    updated_at=now,
                    **location,
                )
                self._set_attempt(conn, mined.id, AttemptState.INCLUDED)
                stx = StoreTx(conn, self._store.clock)
                if intent.tx_hash is not None:
                    self._mirror_reorg(stx, intent.tx_hash, intent.block_hash, now)
                ref = ChainRef(Chain.L1, now, receipt.block_number, receipt.block_hash, mined.tx_hash)
                self._mirror(
                    stx,
                    mined.tx_hash,
                    L1TxState.INCLUDED,
                    ref,
                    values={**location, "gas_used": receipt.gas_used},
                )
        except _ConflictError:
            return
        tally.reorged += 1
        logger.warning(
            "intent re-mined in another block after a reorg",
            extra={"intent_id": intent.id, "tx_hash": mined.tx_hash, "block_number": receipt.block_number},
        )

    # ================================================================== (d) re-broadcast, fee bumps

    def _rebroadcast_stale(self, tally: _Tally, market: _Market) -> None:
        """Send again, byte for byte, the live transaction of a pending intent that stayed unmined
        ``REBROADCAST_AFTER_BLOCKS`` new blocks (counted from when a tick first saw it unmined)."""
        pending = self._intents(IntentState.PENDING)
        if not pending:
            self._unmined_since.clear()
            return
        head = market.header().number
        seen: dict[int, int] = {}
        for intent in pending:
            live = [
                a
                for a in self._attempts(intent.id)
                if a.tx_nonce == intent.tx_nonce and a.state == AttemptState.BROADCAST.value
            ]
            if not live:
                continue
            attempt = live[-1]
            since = self._unmined_since.get(attempt.id, head)
            seen[attempt.id] = since
            if head - since < REBROADCAST_AFTER_BLOCKS:
                continue
            seen[attempt.id] = head
            try:
                self._send(intent, attempt, tally, rebroadcast=True, restart_bump_timer=False)
            except L1AllEndpointsFailedError:
                raise
            except L1RpcError as exc:
                tally.errors.append(f"intent {intent.id}: {exc}")
        self._unmined_since = seen

    def _bump_fees(self, tally: _Tally, market: _Market) -> None:
        now = self._clock()
        due_after = timedelta(seconds=self._settings.fee_bump_after_s)
        for intent in self._intents(IntentState.PENDING):
            attempts = [a for a in self._attempts(intent.id) if a.tx_nonce == intent.tx_nonce]
            if not attempts or any(a.state == AttemptState.SIGNED.value for a in attempts):
                continue  # not sent yet: the broadcast step comes first
            sent = [a.broadcast_at for a in attempts if a.broadcast_at is not None]
            if not sent or now - max(sent) < due_after:
                continue
            try:
                self._bump_one(intent, attempts, market, now, tally)
            except L1AllEndpointsFailedError:
                raise
            except L1RpcError as exc:
                tally.errors.append(f"intent {intent.id}: {exc}")

    def _bump_one(
        self, intent: _Intent, attempts: Sequence[_Attempt], market: _Market, now: datetime, tally: _Tally
    ) -> None:
        newest = attempts[-1]
        live = [a for a in attempts if a.state == AttemptState.BROADCAST.value]
        decision = fees.replacement_fees(
            prior_max_fee=max(a.max_fee_per_gas for a in attempts),
            prior_tip=max(a.max_priority_fee_per_gas for a in attempts),
            base_fee=market.base_fee(),
            market_tip=market.tip(),
            max_fee_multiplier=self._settings.max_fee_multiplier,
        )
        max_fee, tip, cap = decision.fees.max_fee, decision.fees.tip, decision.cap
        if decision.capped:
            reason = (
                f"fee bump needs maxFeePerGas {max_fee} > cap {cap} "
                f"(market {decision.market_max_fee} x {self._settings.max_fee_multiplier}); waiting"
            )
            self._note(intent, REASON_FEE_CAP, reason)
            tally.fee_capped += 1
            logger.warning(
                "fee bump capped",
                extra={"intent_id": intent.id, "tx_hash": newest.tx_hash, "max_fee": max_fee, "cap": cap},
            )
            # Keep the live transaction in the node's pool (it may have been evicted meanwhile); this
            # also restarts the bump timer, so the cap is re-checked once per fee_bump_after_s.
            if live:
                self._send(intent, live[-1], tally, rebroadcast=True)
            return
        # The indexer's predecessor is the transaction the node holds (an attempt it refused as
        # underpriced was never live).
        replaces = live[-1].tx_hash if live else newest.tx_hash
        assert intent.tx_nonce is not None
        try:
            with self._begin() as conn:
                # Signed inside the fenced transaction: a process whose lease is stale never signs.
                signed = self._sign(intent, intent.tx_nonce, newest.gas_limit, max_fee, tip)
                self._update_intent(
                    conn,
                    intent,
                    IntentState.PENDING.value,
                    tx_hash=signed.tx_hash,
                    attempts=intent.attempts + 1,
                    reason_code=None,
                    reason=None,
                    updated_at=now,
                )
                attempt_id = self._insert_attempt(conn, intent, signed, now)
                stx = StoreTx(conn, self._store.clock)
                self._record_l1_tx(stx, intent, signed, now, replaces=replaces)
        except _ConflictError:
            return
        tally.bumped += 1
        logger.info(
            "fee bumped",
            extra={
                "intent_id": intent.id,
                "purpose": intent.purpose,
                "tx_nonce": intent.tx_nonce,
                "tx_hash": signed.tx_hash,
                "replaces": replaces,
                "max_fee": max_fee,
                "tip": tip,
            },
        )
        self._send_stored(attempt_id, tally)

    # ================================================================== (a) signing

    def _sign_queued(self, tally: _Tally, market: _Market, *, broadcast: bool) -> None:
        room = self._settings.max_inflight - self._count(IntentState.PENDING)
        if room <= 0:
            return
        for intent in self._intents(IntentState.QUEUED, limit=min(room, self._settings.max_sign_per_tick)):
            try:
                attempt_id = self._sign_one(intent, market, tally)
                # Sent at once, so the next intent's simulation at 'pending' can see it (a packet signed
                # by the valset this one installs, on nodes whose pending state includes the pool).
                if attempt_id is not None and broadcast and not self._send_stored(attempt_id, tally):
                    return  # the account cannot pay: signing more would only queue more unsendable bytes
            except L1AllEndpointsFailedError:
                raise
            except L1RpcError as exc:
                tally.errors.append(f"intent {intent.id}: {exc}")
                logger.warning("simulation failed", extra={"intent_id": intent.id, "error": str(exc)})

    def _send_stored(self, attempt_id: int, tally: _Tally) -> bool:
        """Broadcast a committed attempt by id (intent re-read: its state changed in the commit)."""
        with self._engine.connect() as conn:
            row = conn.execute(select(tx_attempt_table).where(tx_attempt_table.c.id == attempt_id)).first()
        if row is None:
            return True
        attempt = _Attempt.of(row)
        intent = self._intent_by_id(attempt.intent_id)
        if (
            intent is None
            or intent.state != IntentState.PENDING.value
            or attempt.state != AttemptState.SIGNED.value
        ):
            return True
        return self._send(intent, attempt, tally, rebroadcast=False)

    def _sign_one(self, intent: _Intent, market: _Market, tally: _Tally) -> int | None:
        """Simulate, then take a nonce and sign in one transaction; the new attempt's id (None if the
        intent was settled by the simulation or changed meanwhile)."""
        try:
            gas_limit = intent.gas_limit
            if gas_limit is not None:
                self._client.eth_call(
                    to=intent.to_address,
                    data=intent.calldata,
                    sender=self._sender,
                    block="pending",
                    value=intent.value_wei,
                )
            else:
                # eth_estimateGas executes the call too and reverts with the same data: one
                # simulation instead of two (a 243-leaf payout batch takes ~70 ms to execute).
                estimate = self._client.estimate_gas(
                    to=intent.to_address, data=intent.calldata, sender=self._sender, value=intent.value_wei
                )
                gas_limit = min(
                    math.ceil(estimate * self._settings.gas_limit_margin), market.header().gas_limit
                )
        except ExecutionRevertedError as exc:
            self._settle_unsent(intent, self._explain(intent, _revert_outcome(exc), "pending"), tally)
            return None
        first = fees.initial_fees(market.base_fee(), market.tip())
        max_fee, tip = first.max_fee, first.tip
        latest_nonce = market.latest_nonce()
        now = self._clock()
        s = signer_account_table
        # The key's first nonce comes from the chain: ask before the transaction, never inside it (a
        # remote call inside would keep the fenced transaction idle for as long as the RPC takes, and
        # the server aborts sessions idle in a transaction, ``relayer.leases``).
        with self._engine.connect() as conn:
            known = conn.execute(
                select(s.c.next_nonce).where(s.c.sender == self._sender, s.c.chain_id == self._chain_id)
            ).first()
        chain_nonce = self._client.nonce(self._sender, "pending") if known is None else latest_nonce
        try:
            with self._begin() as conn:
                account = conn.execute(
                    select(s.c.next_nonce)
                    .where(s.c.sender == self._sender, s.c.chain_id == self._chain_id)
                    .with_for_update()
                ).first()
                if account is None:
                    nonce = max(chain_nonce, latest_nonce)
                    conn.execute(
                        insert(s).values(
                            sender=self._sender, chain_id=self._chain_id, next_nonce=nonce + 1, updated_at=now
                        )
                    )
                else:
                    nonce = max(int(account.next_nonce), latest_nonce)
                    conn.execute(
                        update(s)
                        .where(s.c.sender == self._sender, s.c.chain_id == self._chain_id)
                        .values(next_nonce=nonce + 1, updated_at=now)
                    )
                signed = self._sign(intent, nonce, gas_limit, max_fee, tip)
                self._update_intent(
                    conn,
                    intent,
                    IntentState.QUEUED.value,
                    state=IntentState.PENDING.value,
                    tx_nonce=nonce,
                    tx_hash=signed.tx_hash,
                    attempts=intent.attempts + 1,
                    reason_code=None,
                    reason=None,
                    updated_at=now,
                )
                attempt_id = self._insert_attempt(conn, intent, signed, now)
                stx = StoreTx(conn, self._store.clock)
                self._record_l1_tx(stx, intent, signed, now, replaces=None)
                if intent.purpose == TxPurpose.PAYOUT.value and intent.distribution_id is not None:
                    stx.mark_payouts_submitted(
                        intent.distribution_id, intent.leaf_indices, signed.tx_hash, self._ref(now)
                    )
        except _ConflictError:
            return None
        tally.signed += 1
        logger.info(
            "intent signed",
            extra={
                "intent_id": intent.id,
                "purpose": intent.purpose,
                "tx_nonce": nonce,
                "tx_hash": signed.tx_hash,
                "gas_limit": gas_limit,
                "max_fee": max_fee,
                "tip": tip,
            },
        )
        return attempt_id

    def _is_done(self, intent: _Intent, outcome: _Outcome) -> bool:
        return outcome.delivered or outcome.code in self._already_done.get(intent.purpose, frozenset())

    def _settle_unsent(self, intent: _Intent, outcome: _Outcome, tally: _Tally) -> None:
        """The simulation reverted: already done, or failed as built. Nothing was signed."""
        done = self._is_done(intent, outcome)
        state = IntentState.ALREADY_DONE if done else IntentState.FAILED
        try:
            with self._begin() as conn:
                self._update_intent(
                    conn,
                    intent,
                    IntentState.QUEUED.value,
                    state=state.value,
                    reason_code=outcome.code,
                    reason=outcome.detail,
                    updated_at=self._clock(),
                )
        except _ConflictError:
            return
        extra = {
            "intent_id": intent.id,
            "purpose": intent.purpose,
            "reason_code": outcome.code,
            "reason": outcome.detail,
        }
        if done:
            tally.already_done += 1
            logger.info("intent already done on L1", extra=extra)
        else:
            tally.failed += 1
            logger.warning("intent failed in simulation", extra=extra)

    def _sign(self, intent: _Intent, nonce: int, gas_limit: int, max_fee: int, tip: int) -> _SignedTx:
        signed = self._account.sign_transaction(
            {
                "type": 2,
                "chainId": self._chain_id,
                "nonce": nonce,
                "to": Web3.to_checksum_address(intent.to_address),
                "value": intent.value_wei,
                "data": intent.calldata,
                "gas": gas_limit,
                "maxFeePerGas": max_fee,
                "maxPriorityFeePerGas": tip,
            }
        )
        return _SignedTx(
            tx_hash="0x" + bytes(signed.hash).hex(),
            raw=bytes(signed.raw_transaction),
            nonce=nonce,
            gas_limit=gas_limit,
            max_fee=max_fee,
            tip=tip,
        )

    def _insert_attempt(self, conn: Connection, intent: _Intent, signed: _SignedTx, now: datetime) -> int:
        result = conn.execute(
            insert(tx_attempt_table).values(
                intent_id=intent.id,
                tx_hash=signed.tx_hash,
                tx_nonce=signed.nonce,
                max_fee_per_gas=signed.max_fee,
                max_priority_fee_per_gas=signed.tip,
                gas_limit=signed.gas_limit,
                raw_tx="0x" + signed.raw.hex(),
                state=AttemptState.SIGNED.value,
                created_at=now,
            )
        )
        (attempt_id,) = result.inserted_primary_key or (None,)
        if attempt_id is None:
            raise RuntimeError("tx_attempt insert returned no id")
        return int(attempt_id)

    def _record_l1_tx(
        self, stx: StoreTx, intent: _Intent, signed: _SignedTx, now: datetime, *, replaces: str | None
    ) -> None:
        try:
            stx.record_l1_tx(
                signed.tx_hash,
                chain_id=self._chain_id,
                purpose=intent.purpose,
                state=L1TxState.SIGNED.value,
                ref=self._ref(now),
                sender=self._sender,
                tx_nonce=signed.nonce,
                packet_nonce=intent.packet_nonce,
                distribution_id=intent.distribution_id,
                replaces_tx_hash=replaces,
                max_fee_per_gas=signed.max_fee,
                max_priority_fee_per_gas=signed.tip,
            )
        except IndexerError as exc:
            logger.warning("indexer l1_tx not recorded", extra={"tx_hash": signed.tx_hash, "error": str(exc)})

    # ================================================================== (b) broadcast

    def _broadcast_signed(self, tally: _Tally) -> bool:
        """Send every stored attempt still ``signed`` (nonce order); False if the account cannot pay."""
        a, t = tx_attempt_table, tx_intent_table
        with self._engine.connect() as conn:
            ids = (
                conn.execute(
                    select(a.c.id)
                    .join(t, t.c.id == a.c.intent_id)
                    .where(
                        a.c.state == AttemptState.SIGNED.value,
                        t.c.state == IntentState.PENDING.value,
                        t.c.sender == self._sender,
                        t.c.chain_id == self._chain_id,
                    )
                    .order_by(a.c.tx_nonce, a.c.id)
                )
                .scalars()
                .all()
            )
        for attempt_id in ids:
            try:
                if not self._send_stored(int(attempt_id), tally):
                    return False  # the account cannot pay: later nonces would fail the same way
            except L1AllEndpointsFailedError:
                raise
            except L1RpcError as exc:
                tally.errors.append(f"attempt {attempt_id}: {exc}")
        return True

    def _intent_by_id(self, intent_id: int) -> _Intent | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(tx_intent_table).where(tx_intent_table.c.id == intent_id)).first()
        return None if row is None else _Intent.of(row)

    def _send(
        self,
        intent: _Intent,
        attempt: _Attempt,
        tally: _Tally,
        *,
        rebroadcast: bool,
        restart_bump_timer: bool = True,
    ) -> bool:
        """Broadcast stored bytes and record it; False only when the account lacks funds.
        ``restart_bump_timer=False`` (a re-send of the same bytes for a node that may have dropped
        them) leaves ``broadcast_at``, so the fee bump stays due when it was."""
        extra = {
            "intent_id": intent.id,
            "purpose": intent.purpose,
            "tx_nonce": attempt.tx_nonce,
            "tx_hash": attempt.tx_hash,
        }
        # Only bytes committed under the signer lease exist to be sent, so sending them late cannot
        # create an effect the holder does not know (docs/architecture.md, "Fencing"); this check
        # keeps a process that lost the lease from sending at all once it notices.
        self._check_fence()
        try:
            reported = self._client.send_raw_transaction(attempt.raw_tx)
            if reported != attempt.tx_hash:
                logger.error("node reports another hash for our bytes", extra={**extra, "reported": reported})
        except L1AllEndpointsFailedError:
            raise
        except L1ResponseError as exc:
            message = exc.rpc_message
            if _matches(message, _ALREADY_KNOWN):
                pass  # the node has it: as good as a successful send
            elif _matches(message, _NONCE_TOO_LOW):
                self._on_nonce_too_low(intent, tally)
                return True
            elif _matches(message, _UNDERPRICED):
                self._on_underpriced(intent, attempt, message, tally)
                return True
            elif _matches(message, _INSUFFICIENT_FUNDS):
                error = InsufficientFundsError(
                    f"{self._sender} cannot pay for intent {intent.id} (nonce {attempt.tx_nonce}): {message}"
                )
                tally.insufficient_funds += 1
                tally.errors.append(str(error))
                self._note(intent, REASON_INSUFFICIENT_FUNDS, str(error))
                logger.warning("insufficient funds for gas", extra={**extra, "error": message})
                return False
            else:
                tally.errors.append(f"intent {intent.id}: send refused: {exc}")
                logger.warning("broadcast refused", extra={**extra, "error": str(exc)})
                return True
        except L1RpcError as exc:
            tally.errors.append(f"intent {intent.id}: {exc}")
            return True
        now = self._clock()
        with self._begin() as conn:
            if restart_bump_timer or attempt.broadcast_at is None:
                self._set_attempt(conn, attempt.id, AttemptState.BROADCAST, broadcast_at=now)
            conn.execute(
                update(tx_intent_table)
                .where(
                    tx_intent_table.c.id == intent.id,
                    tx_intent_table.c.reason_code == REASON_INSUFFICIENT_FUNDS,
                )
                .values(reason_code=None, reason=None, updated_at=now)
            )
            self._mirror(
                StoreTx(conn, self._store.clock), attempt.tx_hash, L1TxState.BROADCAST, self._ref(now)
            )
        if not rebroadcast:
            tally.broadcast += 1
        elif not restart_bump_timer:
            tally.rebroadcast += 1
        logger.info("transaction rebroadcast" if rebroadcast else "transaction broadcast", extra=extra)
        return True

    def _on_nonce_too_low(self, intent: _Intent, tally: _Tally) -> None:
        """The node says the nonce is used: by one of our attempts (settle it) or by someone else."""
        attempts = self._attempts(intent.id)
        mined = self._find_mined(attempts)
        if mined is not None:
            self._settle_mined(intent, attempts, *mined, tally)
        else:
            self._requeue(
                intent, attempts, f"nonce {intent.tx_nonce} too low: consumed by another transaction", tally
            )

    def _on_underpriced(self, intent: _Intent, attempt: _Attempt, message: str, tally: _Tally) -> None:
        """The node keeps a pricier transaction for this nonce: this attempt was never accepted. The next
        bump starts from the highest fees signed so far, so it asks more."""
        now = self._clock()
        with self._begin() as conn:
            self._set_attempt(conn, attempt.id, AttemptState.DROPPED)
            conn.execute(
                update(tx_intent_table)
                .where(tx_intent_table.c.id == intent.id)
                .values(reason_code=REASON_UNDERPRICED, reason=message, updated_at=now)
            )
            self._mirror(
                StoreTx(conn, self._store.clock),
                attempt.tx_hash,
                L1TxState.DROPPED,
                self._ref(now),
                reason=message,
            )
        tally.errors.append(f"intent {intent.id}: replacement {attempt.tx_hash} underpriced")
        logger.warning(
            "replacement underpriced",
            extra={"intent_id": intent.id, "tx_hash": attempt.tx_hash, "error": message},
        )


def _revert_outcome(exc: ExecutionRevertedError) -> _Outcome:
    info = decode_revert(exc.revert_data)
    if info is not None:
        return _Outcome(info.name, _clip(info.describe()))
    if exc.revert_data:
        return _Outcome(REASON_UNKNOWN_REVERT, _clip("0x" + exc.revert_data.hex()))
    return _Outcome(REASON_EMPTY_REVERT, _clip(exc.rpc_message or "execution reverted"))
