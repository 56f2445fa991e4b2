"""The Exocore feed: what the relayer's Exocore client reads, turned into indexer records, block by block.

The relayer follows committed blocks (:class:`~relayer.exocore.follower.BlockFollower`) and decodes
their events (:func:`~relayer.exocore.events.decode_block_events`). Events carry ids, not the data the
indexer stores, so the feed fetches the rest over gRPC
(:class:`~relayer.exocore.grpc_client.ExocoreGrpcClient`) and hands one
:class:`~storage.records.ExocoreBlock` per block to :class:`~indexer.ingest.exocore.ExocoreIngestor`,
which commits the records and the ``exocore`` cursor in one database transaction::

    feed = ExocoreFeed(store, grpc)
    follower = BlockFollower(rpc, next_height=feed.resume_height(start_height))
    report = feed.apply(block, decode_block_events(block))   # per block, the main interface
    feed.sync(follower)                                      # or: apply until the tip
    feed.run(follower, stop)                                 # or: forever, retrying node faults

Event -> record (gRPC fetches in brackets):

- ``committee_elected`` -> :class:`CommitteeElected` [committee: BLS keys; operators and powers must
  match the event]
- ``reward_claim_submitted`` -> :class:`ClaimSubmitted` [claim: funding, signer bitmap; committee:
  signers and their power]; ``reward_claim_verified`` / ``_rejected`` -> :class:`ClaimVerified` /
  :class:`ClaimRejected`
- ``reward_distribution_finalized`` -> :class:`DistributionCreated` + :class:`DistributionLeaves`
  [leaves, paged; their count and sum must match the event]
- ``reward_distribution_accrued`` (a cumulative-payout AVS's distribution: no packet) ->
  :class:`ClaimAccrued` (the earners' totals arrive with the period's ``CumulativeLeaves``)
- ``slash_request_submitted`` / ``_rejected`` -> :class:`SlashSubmitted` / :class:`SlashRejected`;
  ``slash_executed`` -> :class:`SlashExecutedOnExocore` (asset ids from the same transaction's
  ``operator_asset_slashed`` events)
- ``relay_packet_created`` -> :class:`PacketCreated` [packet: payload, decoded strictly, hashes must
  match the event] and, once the packet's validators' valid signatures carry the relay threshold,
  :class:`PacketAttested` [signatures, valset] (packets short of it are checked again in later blocks)
- ``valset_updated`` -> :class:`ValsetCreated` [valset]; a packet signed by a valset the indexer has
  not recorded (the genesis set has no event) records that valset first
- ``avs_created`` (a well-known type the decoder leaves undecoded) -> :class:`AvsRegistered` [AVS info]
- ``operator_registered`` (idem) -> :class:`OperatorRegistered` [``QueryOperatorInfo``: the name;
  the event's ``name`` when the node does not serve the operator]
- ``allocate_rewards_to_operator``, ``operator_asset_slashed``, ``undelegation_slashed``,
  ``freeze_operator``: informational (the records above carry their effect)

A block that cannot be stored for a data reason (the database refuses a value, a bug tripped by
its data: :func:`indexer.ingest.base.is_poison`) is *poisoned*: recorded in ``poisoned_block`` with
its error, counted in ``exorelay_indexer_poisoned_blocks_total``, logged at error, and the stream
halts at it (:class:`~storage.errors.BlockPoisonedError`), because later blocks may depend on it. It
is never retried silently: an operator resumes the stream (after a fix) or skips the block
(``exorelay skip-block``). Free text from events is stored escaped
(:func:`storage.normalize.storable_text`), so a NUL byte or a lone surrogate never poisons a block.

Never fatal: an unknown event type, an event the decoder rejected, and an event the feed cannot turn
into a record (gRPC serves data that contradicts it, or it refers to an object the indexer never
recorded) are skipped: listed in the :class:`FeedReport`, counted in
``exorelay_indexer_skipped_events_total`` and logged at warning. A node fault (unreachable, or not
yet serving data an event refers to: :class:`ExocoreDataUnavailableError`) raises before anything
is written, so the caller retries the same block. Re-applying a block at or below the cursor changes
nothing (and fetches nothing).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter as Tally
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final, TypeVar

from prometheus_client import Counter
from sqlalchemy import Connection, select

from indexer.ingest.base import guarded, is_poison, poison_block
from indexer.ingest.collecting import CollectionPoller
from indexer.ingest.exocore import EXOCORE_STREAM, ExocoreIngestor
from indexer.metrics import IngestMetrics
from relayer.errors import ExocoreRpcError, ProtocolError
from relayer.exocore import events as ev
from relayer.exocore.follower import BlockFollower
from relayer.exocore.grpc_client import (
    LEAF_PAGE_LIMIT,
    Committee,
    ExocoreGrpcClient,
    PacketRejection,
    RelayPacket,
    RelayParams,
    Valset,
)
from relayer.exocore.rpc import CommittedBlock
from relayer.protocol import bls
from relayer.protocol.claims import PROPORTION_DECIMALS, format_fixed
from relayer.protocol.merkle import DistributionTree
from relayer.protocol.packets import (
    CumulativeRootPayload,
    PacketKind,
    RewardDistributionPayload,
    SlashPayload,
    ValsetUpdatePayload,
    WithdrawalApprovalPayload,
)
from relayer.protocol.quorum import SignerBitmap, Threshold, meets_threshold
from storage.errors import BlockPoisonedError, IndexerError, InvalidRecordError, StreamHaltedError
from storage.lifecycle import Chain, ClaimState, EntityKind, PacketState, SlashState
from storage.models import packet_table, valset_table
from storage.normalize import address_hex, bytes_hex, hash_hex
from storage.records import (
    AccrualInfo,
    AvsRegistered,
    ClaimAccrued,
    ClaimRejected,
    ClaimSubmitted,
    ClaimVerified,
    CommitteeElected,
    CommitteeMemberInfo,
    CumulativeLeafInfo,
    CumulativeLeaves,
    DistributionCreated,
    DistributionLeaves,
    ExocoreBlock,
    ExocoreEvent,
    LeafInfo,
    OperatorRegistered,
    PacketAttested,
    PacketCreated,
    RewardTokenInfo,
    SignerInfo,
    SlashedAssetInfo,
    SlashExecutedOnExocore,
    SlashRejected,
    SlashSubmitted,
    ValidatorSignatureInfo,
    ValsetCreated,
    ValsetMemberInfo,
    WithdrawalApprovalCreated,
)
from storage.store import LifecycleStore, StoreTx

_log = logging.getLogger(__name__)

T = TypeVar("T")

# --- tunables ----------------------------------------------------------------------------------------

ATTESTATION_RECHECKS_PER_BLOCK: Final = 8
"""Packets still short of a signature quorum whose signatures are fetched again per block (round
robin): bounds the gRPC calls a block costs when validators are slow or silent."""
LEAVES_PER_RECORD: Final = LEAF_PAGE_LIMIT
"""Leaves per :class:`DistributionLeaves` record: one gRPC page (the store bulk-inserts each)."""
COMMITTEE_CACHE_ENTRIES: Final = 256
"""Committees kept for decoding claim signer bitmaps (one per AVS and epoch; claims cite recent ones)."""
VALSET_CACHE_ENTRIES: Final = 16
"""Validator sets kept for checking packet signatures (a packet is signed by the current or last set)."""
RETRY_BACKOFF_MIN_S: Final = 0.5
RETRY_BACKOFF_MAX_S: Final = 30.0
"""run(): a block that failed on a node fault is retried after 0.5 s, doubling up to 30 s."""
WELL_KNOWN_AVS_CREATED: Final = "avs_created"
"""Upstream's AVS registration event (the decoder leaves it undecoded; the feed records the AVS)."""
WELL_KNOWN_OPERATOR_REGISTERED: Final = "operator_registered"
"""An operator's registration (undecoded; the feed records its name from ``QueryOperatorInfo``)."""

_INFORMATIONAL: Final = (
    ev.AllocateRewardsToOperator,
    ev.OperatorAssetSlashed,
    ev.UndelegationSlashed,
    ev.FreezeOperator,
)


class SkipOutcome(StrEnum):
    UNKNOWN = "unknown"
    """An event type nobody registered (and not a well-known standard type)."""
    REJECTED = "rejected"
    """A registered type the decoder refused (missing/invalid attributes, failed transaction)."""
    INCONSISTENT = "inconsistent"
    """gRPC serves data for the event that is malformed or contradicts it."""
    UNRECORDABLE = "unrecordable"
    """It refers to an object the indexer has not recorded, or re-opens one the lifecycle ends."""


class ExocoreDataUnavailableError(ExocoreRpcError):
    """The node does not (yet) serve data a block's events refer to (a lagging gRPC node): retry."""


class BlockGapError(IndexerError, ValueError):
    """A block handed to the feed is not the one after the cursor: events in between would be lost."""


@dataclass(frozen=True, slots=True)
class SkippedEvent:
    height: int
    type: str
    outcome: SkipOutcome
    reason: str
    tx_hash: str | None = None


@dataclass(frozen=True, slots=True)
class FeedReport:
    height: int
    block_hash: str
    applied: bool
    """False: the block was at or below the cursor (already ingested; nothing changed)."""
    records: Mapping[str, int] = field(default_factory=dict)
    """Records written, by record type."""
    informational: int = 0
    """Typed events whose effect other records carry (operator allocations, asset slashes, freezes)."""
    ignored: int = 0
    """Standard Cosmos/staking events the relayer deliberately does not decode."""
    skipped: tuple[SkippedEvent, ...] = ()
    attested_later: int = 0
    """Packets of earlier blocks whose signatures reached the quorum in this block."""

    @property
    def record_count(self) -> int:
        return sum(self.records.values())


@dataclass(frozen=True, slots=True)
class SyncReport:
    blocks: int
    applied: int
    height: int | None
    """Cursor height after the sync (None: nothing ingested yet)."""
    skipped: int


@dataclass
class _Block:
    """What translating one block has learned so far (records made, objects seen, skips)."""

    height: int
    records: list[ExocoreEvent] = field(default_factory=list)
    skipped: list[SkippedEvent] = field(default_factory=list)
    informational: int = 0
    ignored: int = 0
    claims: set[str] = field(default_factory=set)
    slashes: set[str] = field(default_factory=set)
    blocked_claims: set[str] = field(default_factory=set)
    """Claims and slashes whose events this block must not record (a re-submission after a rejection)."""
    blocked_slashes: set[str] = field(default_factory=set)
    rejected: set[str] = field(default_factory=set)
    """Claims and slashes rejected earlier in this block."""
    packets: set[int] = field(default_factory=set)
    valsets: set[int] = field(default_factory=set)
    slashed_asset_ids: dict[tuple[int | None, str], str] = field(default_factory=dict)
    """(tx index, token) -> asset id, from ``operator_asset_slashed`` events."""

    def skip(self, event_type: str, outcome: SkipOutcome, reason: str, tx_hash: str | None = None) -> None:
        self.skipped.append(SkippedEvent(self.height, event_type, outcome, reason, tx_hash))


class _Bounded(OrderedDict[object, T]):
    """A small insertion-ordered cache that forgets its oldest entry beyond ``capacity``."""

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity

    def put(self, key: object, value: T) -> T:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.capacity:
            self.popitem(last=False)
        return value


def _tx_hex(position: ev.EventPosition) -> str | None:
    return None if position.tx_hash is None else hash_hex(position.tx_hash)


def block_time(time_ns: int) -> datetime:
    """A CometBFT header time (ns since the epoch) as an aware UTC datetime (microsecond precision)."""
    seconds, nanos = divmod(time_ns, 10**9)
    return datetime.fromtimestamp(seconds, UTC) + timedelta(microseconds=nanos // 1000)


class ExocoreFeed:
    """Exocore blocks (as the relayer's client reads them) -> lifecycle rows, with the ``exocore`` cursor."""

    def __init__(
        self,
        store: LifecycleStore,
        grpc: ExocoreGrpcClient,
        *,
        metrics: IngestMetrics | None = None,
        stream: str = EXOCORE_STREAM,
        attestation_rechecks_per_block: int = ATTESTATION_RECHECKS_PER_BLOCK,
    ) -> None:
        self.store = store
        self.grpc = grpc
        self.metrics = metrics or IngestMetrics()
        self.stream = stream
        self.ingestor = ExocoreIngestor(store, self.metrics, stream)
        self.collections = CollectionPoller(store, stream)
        self.attestation_rechecks_per_block = attestation_rechecks_per_block
        self.skipped_events = Counter(
            "exorelay_indexer_skipped_events_total",
            "Exocore events not recorded (unknown type, rejected by the decoder, inconsistent, unrecordable)",
            ["stream", "outcome", "event_type"],
            registry=self.metrics.registry,
        )
        self._params: RelayParams | None = None
        self._committees: _Bounded[Committee | None] = _Bounded(COMMITTEE_CACHE_ENTRIES)
        self._valsets: _Bounded[Valset] = _Bounded(VALSET_CACHE_ENTRIES)
        self._recorded_valsets: set[int] | None = None
        self._recheck_after = 0

    # ------------------------------------------------------------------ the per-block entry point

    def apply(
        self, block: CommittedBlock, events: ev.BlockEvents, *, head_height: int | None = None
    ) -> FeedReport:
        """Record one committed block (its decoded ``events``) and move the cursor, in one transaction.

        Blocks must come in height order without gaps (:class:`BlockGapError` otherwise); one at or
        below the cursor is a no-op (its hash is still checked: a different one halts the stream).
        Raises :class:`~relayer.errors.ExocoreRpcError` on a node fault, having written nothing.
        """
        if events.height != block.height:
            raise ValueError(f"events of block {events.height} given with block {block.height}")
        block_hash = hash_hex(block.hash)
        at = block_time(block.time_ns)
        cursor = self.store.cursor(self.stream)
        if cursor is not None and cursor.halted:
            raise StreamHaltedError(self.stream, cursor.halt_reason or "halted")
        height = -1 if cursor is None else cursor.height
        if height >= 0 and block.height <= height:
            self.ingestor.apply_block(ExocoreBlock(block.height, block_hash, at), head_height=head_height)
            return FeedReport(block.height, block_hash, applied=False)
        if height >= 0 and block.height != height + 1:
            raise BlockGapError(
                f"{self.stream}: block {block.height} given after block {height}; "
                f"blocks {height + 1}..{block.height - 1} would be lost"
            )
        state = _Block(block.height)
        try:
            with self.store.engine.connect() as conn:
                self._translate(conn, events, state)
                attested_later = self._recheck_attestations(conn, state)
            applied = self.ingestor.apply_block(
                ExocoreBlock(block.height, block_hash, at, tuple(state.records)), head_height=head_height
            )
        except Exception as exc:
            if not is_poison(exc):
                raise
            raise self._poison(block.height, block_hash, exc) from exc
        if applied and self._recorded_valsets is not None:
            self._recorded_valsets.update(state.valsets)
        for skipped in state.skipped:
            self.skipped_events.labels(
                stream=self.stream, outcome=skipped.outcome.value, event_type=skipped.type[:64]
            ).inc()
            _log.warning(
                "exocore block %d: %s event %s not recorded: %s",
                skipped.height,
                skipped.outcome.value,
                skipped.type,
                skipped.reason,
                extra={"stream": self.stream, "height": skipped.height, "tx_hash": skipped.tx_hash},
            )
        return FeedReport(
            block.height,
            block_hash,
            applied=applied,
            records=dict(Tally(type(record).__name__ for record in state.records)),
            informational=state.informational,
            ignored=state.ignored,
            skipped=tuple(state.skipped),
            attested_later=attested_later,
        )

    def _poison(self, height: int, block_hash: str, exc: Exception) -> BlockPoisonedError:
        """Record the block as poisoned and halt the stream at it; the error to raise."""
        return poison_block(
            self.store,
            self.metrics,
            self.stream,
            chain=Chain.EXOCORE.value,
            height=height,
            block_hash=block_hash,
            exc=exc,
        )

    # ------------------------------------------------------------------ loops

    def resume_height(self, start_height: int = 1) -> int:
        """The height to follow from: the block after the cursor, or ``start_height`` on a fresh database."""
        cursor = self.store.cursor(self.stream)
        if cursor is None or cursor.height < 0:
            return start_height
        return cursor.height + 1

    def _align(self, follower: BlockFollower) -> None:
        cursor = self.store.cursor(self.stream)
        if cursor is not None and cursor.height >= 0 and follower.next_height != cursor.height + 1:
            _log.info(
                "exocore feed: follower at %d, cursor at %d: resuming after the cursor",
                follower.next_height,
                cursor.height,
            )
            follower.seek(cursor.height + 1)

    def sync(self, follower: BlockFollower, *, max_blocks: int | None = None) -> SyncReport:
        """Apply blocks until the follower reports the tip (or ``max_blocks``); non-blocking.

        A failing block is not skipped: the follower is moved back to it and the error raised, so the
        next call starts there.
        """
        self._align(follower)
        blocks = applied = skipped = 0
        while max_blocks is None or blocks < max_blocks:
            batch = follower.poll(None if max_blocks is None else max_blocks - blocks)
            if not batch:
                break
            latest = follower.stats().latest_height
            for block in batch:
                try:
                    report = self.apply(block, ev.decode_block_events(block), head_height=latest)
                except Exception:
                    follower.seek(block.height)
                    raise
                blocks += 1
                applied += report.applied
                skipped += len(report.skipped)
        self.poll_collections()
        latest = follower.stats().latest_height
        if latest is not None:
            self.ingestor.note_head(latest)
        cursor = self.store.cursor(self.stream)
        return SyncReport(blocks, applied, None if cursor is None else cursor.height, skipped)

    def run(
        self,
        follower: BlockFollower,
        stop: threading.Event,
        *,
        on_block: Callable[[CommittedBlock, ev.BlockEvents, FeedReport], None] | None = None,
    ) -> None:
        """Follow blocks until ``stop``: apply each (retrying node faults with backoff, never skipping
        a block), then hand it to ``on_block`` (the relayer's pipeline). A halted stream or an invariant
        violation ends the loop by raising."""
        self._align(follower)
        for block in follower.follow(stop):
            events = ev.decode_block_events(block)
            report = self._apply_retrying(block, events, follower, stop)
            if report is None:
                return
            self.poll_collections()
            if on_block is not None:
                on_block(block, events, report)

    def poll_collections(self) -> int:
        """Record a page of the aggregator's changed requests (the ``collecting`` stage); halts the
        stream on a violation like a block would."""
        return guarded(self.store, self.metrics, self.stream, Chain.EXOCORE.value, self.collections.poll)

    def _apply_retrying(
        self, block: CommittedBlock, events: ev.BlockEvents, follower: BlockFollower, stop: threading.Event
    ) -> FeedReport | None:
        delay = RETRY_BACKOFF_MIN_S
        while not stop.is_set():
            try:
                return self.apply(block, events, head_height=follower.stats().latest_height)
            except ExocoreRpcError as error:
                _log.warning(
                    "exocore block %d: %s; retrying in %.1f s",
                    block.height,
                    error,
                    delay,
                    extra={"stream": self.stream},
                )
            stop.wait(delay)
            delay = min(delay * 2, RETRY_BACKOFF_MAX_S)
        return None

    # ------------------------------------------------------------------ translation

    def _translate(self, conn: Connection, events: ev.BlockEvents, state: _Block) -> None:
        for unknown in events.unknown:
            if unknown.type == WELL_KNOWN_AVS_CREATED:
                self._avs_created(unknown, state)
            elif unknown.type == WELL_KNOWN_OPERATOR_REGISTERED:
                self._operator_registered(unknown, state)
            elif unknown.well_known:
                state.ignored += 1
            else:
                state.skip(
                    unknown.type,
                    SkipOutcome.UNKNOWN,
                    "no decoder for this event type",
                    _tx_hex(unknown.position),
                )
        for rejected in events.rejected:
            state.skip(rejected.type, SkipOutcome.REJECTED, rejected.reason, _tx_hex(rejected.position))
        for event in events.events:
            if isinstance(event, ev.OperatorAssetSlashed):
                token = address_hex(event.asset_id.token)
                state.slashed_asset_ids[(event.position.tx_index, token)] = str(event.asset_id)
            if isinstance(event, _INFORMATIONAL):
                state.informational += 1
                continue
            try:
                handled = self._translate_event(conn, event, state)
            except (ProtocolError, InvalidRecordError) as exc:
                # gRPC served something malformed or contradictory for this event (connection faults
                # are ExocoreRpcError and propagate: the block is retried).
                state.skip(
                    event.TYPE,
                    SkipOutcome.INCONSISTENT,
                    f"{type(exc).__name__}: {exc}",
                    _tx_hex(event.position),
                )
                continue
            if not handled:
                state.skip(
                    event.TYPE,
                    SkipOutcome.UNKNOWN,
                    f"the feed has no mapping for {type(event).__name__}",
                    _tx_hex(event.position),
                )

    def _translate_event(self, conn: Connection, event: ev.ExocoreEvent, state: _Block) -> bool:
        """Add the records of one typed event; False if the feed has no mapping for its type."""
        if isinstance(event, ev.CommitteeElected):
            self._committee_elected(conn, event, state)
        elif isinstance(event, ev.RewardClaimSubmitted):
            self._claim_submitted(conn, event, state)
        elif isinstance(event, ev.RewardClaimVerified):
            self._claim_verified(conn, event, state)
        elif isinstance(event, ev.RewardClaimRejected):
            self._claim_rejected(conn, event, state)
        elif isinstance(event, ev.RewardDistributionFinalized):
            self._distribution(conn, event, state)
        elif isinstance(event, ev.RewardDistributionAccrued):
            self._accrued(conn, event, state)
        elif isinstance(event, ev.SlashRequestSubmitted):
            self._slash_submitted(conn, event, state)
        elif isinstance(event, ev.SlashRequestRejected):
            self._slash_rejected(conn, event, state)
        elif isinstance(event, ev.SlashExecuted):
            self._slash_executed(conn, event, state)
        elif isinstance(event, ev.RelayPacketCreated):
            self._packet_created(conn, event, state)
        elif isinstance(event, ev.ValsetUpdated):
            self._valset_updated(conn, event, state)
        else:
            return False
        return True

    def _avs_created(self, unknown: ev.UnknownEvent, state: _Block) -> None:
        attributes = dict(unknown.attributes)
        tx_hash = _tx_hex(unknown.position)
        try:
            avs = address_hex(attributes.get("avs_address", ""))
        except InvalidRecordError as exc:
            state.skip(unknown.type, SkipOutcome.REJECTED, str(exc), tx_hash)
            return
        info = self.grpc.avs_info(avs)
        if info is None:
            raise ExocoreDataUnavailableError(f"AVS {avs} (registered at {state.height}) is not served")
        try:
            threshold = (int(info.threshold_numerator), int(info.threshold_denominator))
            if threshold == (0, 0):
                threshold = (2, 3)  # unset on chain means the default (as the gRPC client reads it)
            record = AvsRegistered(
                avs=avs,
                threshold_numerator=threshold[0],
                threshold_denominator=threshold[1],
                name=info.name,
                epoch_identifier=info.epoch_identifier,
                starting_epoch=int(info.starting_epoch),
                asset_ids=tuple(info.asset_ids),
                reward_tokens=tuple(
                    RewardTokenInfo(t.token, int(t.funding), int(t.decimals)) for t in info.reward_tokens
                ),
                payout_mode=int(info.payout_mode),
                tx_hash=tx_hash,
            )
        except InvalidRecordError as exc:
            state.skip(unknown.type, SkipOutcome.INCONSISTENT, f"AVS info: {exc}", tx_hash)
            return
        state.records.append(record)

    def _operator_registered(self, unknown: ev.UnknownEvent, state: _Block) -> None:
        tx_hash = _tx_hex(unknown.position)
        attributes = dict(unknown.attributes)
        operator = attributes.get("operator", "")
        if not operator:
            state.skip(unknown.type, SkipOutcome.REJECTED, "no operator attribute", tx_hash)
            return
        # A name is for display only: a node that does not serve the operator (a replay recording
        # holds no operator registrations) must not hold up the feed, so the event's own `name`
        # stands in for upstream's operator_meta_info then.
        info = self.grpc.operator_info(operator)
        name = attributes.get("name", "") if info is None else info.operator_meta_info
        try:
            record = OperatorRegistered(operator=operator, name=name, tx_hash=tx_hash)
        except InvalidRecordError as exc:
            state.skip(unknown.type, SkipOutcome.INCONSISTENT, f"operator info: {exc}", tx_hash)
            return
        state.records.append(record)

    # -- committees --

    def _committee(self, avs: str, epoch: int) -> Committee | None:
        key = (avs, epoch)
        if key in self._committees:
            return self._committees[key]
        found = self.grpc.committee(avs, epoch)
        return self._committees.put(key, found) if found is not None else None

    def _committee_elected(self, _conn: Connection, event: ev.CommitteeElected, state: _Block) -> None:
        avs = address_hex(event.avs)
        committee = self._committee(avs, event.epoch)
        if committee is None:
            raise ExocoreDataUnavailableError(f"committee of {avs} for epoch {event.epoch} is not served")
        operators = tuple(str(m.operator) for m in committee.members)
        powers = tuple(int(m.power) for m in committee.members)
        if operators != tuple(str(o) for o in event.operators) or powers != tuple(event.powers):
            raise ProtocolError(
                f"committee of {avs} epoch {event.epoch} served over gRPC has other members or powers "
                "than the committee_elected event"
            )
        state.records.append(
            CommitteeElected(
                avs=avs,
                epoch=event.epoch,
                members=tuple(
                    CommitteeMemberInfo(m.index, str(m.operator), bytes_hex(m.bls_pubkey), int(m.power))
                    for m in committee.members
                ),
                threshold_numerator=event.claim_threshold.num,
                threshold_denominator=event.claim_threshold.den,
                tx_hash=_tx_hex(event.position),
            )
        )

    # -- claims --

    def _claim_submitted(self, conn: Connection, event: ev.RewardClaimSubmitted, state: _Block) -> None:
        claim_id = hash_hex(event.claim_id)
        tx_hash = _tx_hex(event.position)
        if claim_id in state.rejected or (
            claim_id not in state.claims and _state(conn, EntityKind.CLAIM, claim_id) == ClaimState.REJECTED
        ):
            state.blocked_claims.add(claim_id)
            state.skip(
                event.TYPE,
                SkipOutcome.UNRECORDABLE,
                f"claim {claim_id} was rejected before and is submitted again: its lifecycle ends "
                "at rejected, so this submission and what follows from it are not recorded",
                tx_hash,
            )
            return
        state.blocked_claims.discard(claim_id)
        avs = address_hex(event.avs)
        claim = self.grpc.reward_claim(event.claim_id)
        committee = self._committee(avs, event.epoch)
        signers: tuple[SignerInfo, ...] = ()
        bitmap = b""
        signed_power: int | None = None
        total_power: int | None = None
        threshold: Threshold | None = None
        if claim is not None:
            bitmap = bytes(claim.signer_bitmap)
        if committee is not None:
            total_power = int(committee.total_power)
            threshold = committee.threshold
            indices = _signer_indices(bitmap, len(committee.members), claim_id) if bitmap else None
            if indices is not None:
                signers = tuple(
                    SignerInfo(i, str(committee.members[i].operator), int(committee.members[i].power))
                    for i in indices
                )
                signed_power = sum(int(committee.members[i].power) for i in indices)
        state.records.append(
            ClaimSubmitted(
                claim_id=claim_id,
                avs=avs,
                epoch=event.epoch,
                token=address_hex(event.token),
                total_amount=int(event.amount),
                funding=(int(claim.funding) or None) if claim is not None else None,
                signer_bitmap="0x" + bitmap.hex(),
                signers=signers,
                signed_power=signed_power,
                total_power=total_power,
                threshold_numerator=None if threshold is None else threshold.num,
                threshold_denominator=None if threshold is None else threshold.den,
                tx_hash=tx_hash,
            )
        )
        state.claims.add(claim_id)

    def _known_claim(self, conn: Connection, claim_id: str, event: ev.ExocoreEvent, state: _Block) -> bool:
        """True if the claim's later event may be recorded; otherwise note why not."""
        if claim_id in state.blocked_claims:
            state.skip(
                event.TYPE,
                SkipOutcome.UNRECORDABLE,
                f"claim {claim_id}: follows a submission that was not recorded",
                _tx_hex(event.position),
            )
            return False
        if claim_id in state.claims or _state(conn, EntityKind.CLAIM, claim_id) is not None:
            return True
        state.skip(
            event.TYPE,
            SkipOutcome.UNRECORDABLE,
            f"claim {claim_id} is not recorded (its submission was not ingested)",
            _tx_hex(event.position),
        )
        return False

    def _claim_verified(self, conn: Connection, event: ev.RewardClaimVerified, state: _Block) -> None:
        claim_id = hash_hex(event.claim_id)
        if self._known_claim(conn, claim_id, event, state):
            state.records.append(
                ClaimVerified(
                    claim_id,
                    signed_power=int(event.signed_power),
                    total_power=int(event.total_power),
                    tx_hash=_tx_hex(event.position),
                )
            )

    def _accrued(self, conn: Connection, event: ev.RewardDistributionAccrued, state: _Block) -> None:
        claim_id = hash_hex(event.claim_id)
        if self._known_claim(conn, claim_id, event, state):
            accrual = AccrualInfo(
                avs=address_hex(event.avs),
                token=address_hex(event.token),
                funding=int(event.funding),
                total=int(event.total),
                community_tax=None if event.community_tax is None else int(event.community_tax),
                dust=None if event.dust is None else int(event.dust),
            )
            state.records.append(
                ClaimAccrued(claim_id, event.period, accrual=accrual, tx_hash=_tx_hex(event.position))
            )

    def _claim_rejected(self, conn: Connection, event: ev.RewardClaimRejected, state: _Block) -> None:
        claim_id = hash_hex(event.claim_id)
        if self._known_claim(conn, claim_id, event, state):
            state.records.append(
                ClaimRejected(claim_id, event.reason, event.detail or "", tx_hash=_tx_hex(event.position))
            )
            state.rejected.add(claim_id)

    # -- distributions --

    def _distribution(self, _conn: Connection, event: ev.RewardDistributionFinalized, state: _Block) -> None:
        claim_id = hash_hex(event.claim_id)
        tx_hash = _tx_hex(event.position)
        if claim_id in state.blocked_claims:
            state.skip(
                event.TYPE,
                SkipOutcome.UNRECORDABLE,
                f"distribution of claim {claim_id}: follows a submission that was not recorded",
                tx_hash,
            )
            return
        distribution_id = hash_hex(event.distribution_id)
        created = DistributionCreated(
            distribution_id=distribution_id,
            nonce=event.nonce,
            claim_id=claim_id,
            avs=address_hex(event.avs),
            epoch=event.epoch,
            token=address_hex(event.token),
            funding=int(event.funding),
            total=int(event.total),
            leaf_count=event.leaf_count,
            merkle_root=hash_hex(event.merkle_root),
            community_tax=None if event.community_tax is None else int(event.community_tax),
            tx_hash=tx_hash,
        )
        leaves: list[LeafInfo] = []
        try:
            for record in self.grpc.distribution_leaves(event.nonce):
                leaves.append(
                    LeafInfo(
                        record.leaf.index,
                        address_hex(record.leaf.staker),
                        int(record.leaf.amount),
                        kind=int(record.kind),
                        operator=None if record.operator is None else str(record.operator),
                    )
                )
            if len(leaves) != event.leaf_count or sum(leaf.amount for leaf in leaves) != event.total:
                raise ProtocolError(
                    f"distribution {event.nonce}: {len(leaves)} leaves summing to "
                    f"{sum(leaf.amount for leaf in leaves)}; the event says {event.leaf_count} leaves, "
                    f"{event.total} in total"
                )
        except (ProtocolError, InvalidRecordError) as exc:
            state.records.append(created)  # the distribution itself is as the event says
            state.skip(event.TYPE, SkipOutcome.INCONSISTENT, f"leaves not recorded: {exc}", tx_hash)
            return
        state.records.append(created)
        for start in range(0, len(leaves), LEAVES_PER_RECORD):
            page = tuple(leaves[start : start + LEAVES_PER_RECORD])
            state.records.append(DistributionLeaves(distribution_id, page, tx_hash=tx_hash))

    # -- withdrawal approvals --

    def _approval(
        self,
        nonce: int,
        approval_id: str,
        payload: WithdrawalApprovalPayload,
        state: _Block,
        tx_hash: str | None,
    ) -> None:
        """A WITHDRAWAL_APPROVAL packet as a packet with leaves: the approval and its leaves (served
        under the packet's nonce), each leaf a ``pending`` payout; the leaves must hash to the root."""
        created = WithdrawalApprovalCreated(
            approval_id=approval_id,
            nonce=nonce,
            epoch=payload.epoch,
            token=address_hex(payload.token),
            total=int(payload.total),
            leaf_count=payload.leaf_count,
            merkle_root=hash_hex(payload.merkle_root),
            tx_hash=tx_hash,
        )
        state.records.append(created)
        try:
            records = list(self.grpc.distribution_leaves(nonce))
            if DistributionTree.build(r.leaf for r in records).root != payload.merkle_root:
                raise ProtocolError(f"withdrawal approval {nonce}: served leaves do not hash to the root")
            leaves = [
                LeafInfo(
                    r.leaf.index, address_hex(r.leaf.staker), int(r.leaf.amount), request_ids=r.l1_request_ids
                )
                for r in records
            ]
        except (ProtocolError, InvalidRecordError) as exc:
            state.skip(
                ev.RelayPacketCreated.TYPE, SkipOutcome.INCONSISTENT, f"leaves not recorded: {exc}", tx_hash
            )
            return
        for start in range(0, len(leaves), LEAVES_PER_RECORD):
            page = tuple(leaves[start : start + LEAVES_PER_RECORD])
            state.records.append(DistributionLeaves(approval_id, page, tx_hash=tx_hash))

    # -- cumulative roots --

    def _cumulative_leaves(
        self, nonce: int, chain: int, payload: CumulativeRootPayload, state: _Block, tx_hash: str | None
    ) -> None:
        """Record the leaves of the period a CUMULATIVE_ROOT packet closes on the client chain it is
        addressed to (``chain``: each chain has its own periods). Exocore keeps a closed period's
        leaves, so they are read once, here; a count other than the payload's ``leafCount`` is a node
        serving another tree than the one signed, and the block is retried."""
        leaves = [
            CumulativeLeafInfo(address_hex(leaf.earner), address_hex(leaf.token), leaf.cumulative)
            for leaf in self.grpc.cumulative_leaves(payload.period, l1_chain_id=chain)
        ]
        if len(leaves) != payload.leaf_count:
            raise ExocoreDataUnavailableError(
                f"cumulative period {payload.period}: {len(leaves)} leaves served, "
                f"packet {nonce} says {payload.leaf_count}"
            )
        for start in range(0, len(leaves), LEAVES_PER_RECORD):
            page = tuple(leaves[start : start + LEAVES_PER_RECORD])
            state.records.append(CumulativeLeaves(payload.period, nonce, page, chain, tx_hash=tx_hash))

    # -- slashes --

    def _slash_submitted(self, conn: Connection, event: ev.SlashRequestSubmitted, state: _Block) -> None:
        slash_id = hash_hex(event.slash_id)
        tx_hash = _tx_hex(event.position)
        if slash_id in state.rejected or (
            slash_id not in state.slashes and _state(conn, EntityKind.SLASH, slash_id) == SlashState.REJECTED
        ):
            state.blocked_slashes.add(slash_id)
            state.skip(
                event.TYPE,
                SkipOutcome.UNRECORDABLE,
                f"slash {slash_id} was rejected before and is submitted again: its lifecycle ends at "
                "rejected, so this submission and what follows from it are not recorded",
                tx_hash,
            )
            return
        state.blocked_slashes.discard(slash_id)
        state.records.append(
            SlashSubmitted(
                slash_id=slash_id,
                avs=address_hex(event.avs),
                operator=str(event.operator),
                evidence_kind=event.kind,
                evidence=None if not event.evidence else "0x" + event.evidence.hex(),
                freeze=event.freeze,
                operator_address=address_hex(event.operator.address),
                slash_proportion=format_fixed(event.proportion, PROPORTION_DECIMALS),
                tx_hash=tx_hash,
            )
        )
        state.slashes.add(slash_id)

    def _known_slash(self, conn: Connection, slash_id: str, event: ev.ExocoreEvent, state: _Block) -> bool:
        if slash_id in state.blocked_slashes:
            state.skip(
                event.TYPE,
                SkipOutcome.UNRECORDABLE,
                f"slash {slash_id}: follows a submission that was not recorded",
                _tx_hex(event.position),
            )
            return False
        if slash_id in state.slashes or _state(conn, EntityKind.SLASH, slash_id) is not None:
            return True
        state.skip(
            event.TYPE,
            SkipOutcome.UNRECORDABLE,
            f"slash {slash_id} is not recorded (its submission was not ingested)",
            _tx_hex(event.position),
        )
        return False

    def _slash_rejected(self, conn: Connection, event: ev.SlashRequestRejected, state: _Block) -> None:
        slash_id = hash_hex(event.slash_id)
        if self._known_slash(conn, slash_id, event, state):
            state.records.append(
                SlashRejected(slash_id, event.reason, event.detail or "", tx_hash=_tx_hex(event.position))
            )
            state.rejected.add(slash_id)

    def _slash_executed(self, conn: Connection, event: ev.SlashExecuted, state: _Block) -> None:
        slash_id = hash_hex(event.slash_id)
        if not self._known_slash(conn, slash_id, event, state):
            return
        assets = []
        for token, amount in zip(event.tokens, event.amounts, strict=True):
            token_hex = address_hex(token)
            asset_id = state.slashed_asset_ids.get((event.position.tx_index, token_hex))
            assets.append(SlashedAssetInfo(token_hex, int(amount), asset_id))
        state.records.append(
            SlashExecutedOnExocore(
                slash_id, tuple(assets), packet_nonce=event.packet_nonce, tx_hash=_tx_hex(event.position)
            )
        )

    # -- packets and validator sets --

    def _relay_params(self) -> RelayParams:
        if self._params is None:
            self._params = self.grpc.relay_params()
        return self._params

    def _valset(self, valset_nonce: int) -> Valset:
        if valset_nonce in self._valsets:
            return self._valsets[valset_nonce]
        found = self.grpc.valset(valset_nonce)
        if found is None:
            raise ExocoreDataUnavailableError(f"valset {valset_nonce} is not served")
        return self._valsets.put(valset_nonce, found)

    def _valset_recorded(self, conn: Connection, valset_nonce: int, state: _Block) -> bool:
        if self._recorded_valsets is None:
            v = valset_table
            self._recorded_valsets = set(
                conn.execute(select(v.c.valset_nonce).where(v.c.origin == "exocore")).scalars()
            )
        return valset_nonce in self._recorded_valsets or valset_nonce in state.valsets

    def _record_valset(self, valset: Valset, state: _Block, tx_hash: str | None) -> None:
        state.records.append(
            ValsetCreated(
                valset.valset_nonce,
                tuple(
                    ValsetMemberInfo(m.index, bytes_hex(m.bls_pubkey), int(m.power)) for m in valset.members
                ),
                tx_hash=tx_hash,
            )
        )
        state.valsets.add(valset.valset_nonce)

    def _valset_updated(self, conn: Connection, event: ev.ValsetUpdated, state: _Block) -> None:
        valset = self._valset(event.valset_nonce)
        if len(valset.members) != event.member_count or valset.total_power != event.total_power:
            raise ProtocolError(
                f"valset {event.valset_nonce} served over gRPC has {len(valset.members)} members and power "
                f"{valset.total_power}; the event says {event.member_count} and {event.total_power}"
            )
        if not self._valset_recorded(conn, event.valset_nonce, state):
            self._record_valset(valset, state, _tx_hex(event.position))

    def _packet_created(self, conn: Connection, event: ev.RelayPacketCreated, state: _Block) -> None:
        tx_hash = _tx_hex(event.position)
        params = self._relay_params()
        served = self.grpc.packet(event.nonce, params)
        if served is None:
            raise ExocoreDataUnavailableError(f"packet {event.nonce} is not served")
        if isinstance(served, PacketRejection):
            state.skip(
                event.TYPE, SkipOutcome.INCONSISTENT, f"packet {event.nonce}: {served.reason}", tx_hash
            )
            return
        packet = served.packet
        if packet.digest != event.digest or packet.payload_hash != event.payload_hash:
            raise ProtocolError(f"packet {event.nonce} served over gRPC has another digest than the event")
        if not self._valset_recorded(conn, packet.valset_nonce, state):
            self._record_valset(self._valset(packet.valset_nonce), state, None)
        subject, distribution_id, avs = _packet_subject(served)
        if subject is not None and (subject in state.blocked_claims or subject in state.blocked_slashes):
            _log.warning(
                "exocore block %d: packet %d recorded without its subject %s (not recorded)",
                state.height,
                event.nonce,
                subject,
                extra={"stream": self.stream, "height": state.height, "tx_hash": tx_hash},
            )
            subject = None
        state.records.append(
            PacketCreated(
                nonce=packet.nonce,
                kind=int(packet.kind),
                valset_nonce=packet.valset_nonce,
                payload="0x" + packet.payload_bytes.hex(),
                payload_hash=hash_hex(packet.payload_hash),
                digest=hash_hex(packet.digest),
                subject_id=subject,
                distribution_id=distribution_id,
                avs=avs,
                l1_chain_id=packet.l1_chain_id,
                tx_hash=tx_hash,
            )
        )
        state.packets.add(packet.nonce)
        if isinstance(packet.payload, WithdrawalApprovalPayload):
            self._approval(packet.nonce, hash_hex(packet.distribution_id), packet.payload, state, tx_hash)
        if isinstance(packet.payload, CumulativeRootPayload):
            self._cumulative_leaves(packet.nonce, packet.l1_chain_id, packet.payload, state, tx_hash)
        attested = self._attestation(packet.nonce, packet.digest, packet.valset_nonce, tx_hash)
        if attested is not None:
            state.records.append(attested)

    def _attestation(
        self, nonce: int, digest: bytes, valset_nonce: int, tx_hash: str | None
    ) -> PacketAttested | None:
        """The packet's validator signatures if the valid ones carry more than the relay threshold."""
        served = self.grpc.packet_signatures(nonce)
        if served is None:
            return None
        valset = self._valset(valset_nonce)
        if served.valset_nonce != valset_nonce or [s.bls_pubkey for s in served.signatures] != [
            m.bls_pubkey for m in valset.members
        ]:
            raise ProtocolError(
                f"packet {nonce}: signatures are not by valset {valset_nonce}'s members in order"
            )
        valid = _valid_signatures(valset, digest, {s.index: s.signature for s in served.signatures})
        signed = sum(int(valset.members[i].power) for i in valid)
        total = int(valset.total_power)
        if not valid or not meets_threshold(signed, total, self._relay_params().threshold):
            return None
        return PacketAttested(
            nonce,
            tuple(
                ValidatorSignatureInfo(
                    m.index,
                    bytes_hex(m.bls_pubkey),
                    signed=m.index in valid,
                    signature=bytes_hex(valid[m.index]) if m.index in valid else None,
                    power=int(m.power),
                )
                for m in valset.members
            ),
            quorum=True,
            signed_power=signed,
            total_power=total,
            tx_hash=tx_hash,
        )

    def _recheck_attestations(self, conn: Connection, state: _Block) -> int:
        """Attest packets of earlier blocks whose signatures were short of the quorum (round robin)."""
        limit = self.attestation_rechecks_per_block
        if limit <= 0:
            return 0
        p = packet_table
        query = select(p.c.nonce, p.c.digest, p.c.valset_nonce).where(p.c.state == PacketState.CREATED.value)
        rows = list(
            conn.execute(query.where(p.c.nonce > self._recheck_after).order_by(p.c.nonce).limit(limit))
        )
        if len(rows) < limit and self._recheck_after > 0:  # wrap around to the oldest
            rows += conn.execute(
                query.where(p.c.nonce <= self._recheck_after).order_by(p.c.nonce).limit(limit - len(rows))
            )
        self._recheck_after = int(rows[-1].nonce) if rows else 0
        attested = 0
        for row in rows:
            if row.nonce in state.packets:
                continue
            try:
                record = self._attestation(
                    int(row.nonce), bytes.fromhex(row.digest[2:]), int(row.valset_nonce), None
                )
            except ProtocolError as exc:
                _log.warning("exocore block %d: packet %d signatures: %s", state.height, row.nonce, exc)
                continue
            if record is not None:
                state.records.append(record)
                attested += 1
        return attested


def _signer_indices(bitmap: bytes, size: int, claim_id: str) -> tuple[int, ...] | None:
    """The signers of a claim's bitmap; None (the claim is recorded without them) if it does not decode."""
    try:
        return SignerBitmap.decode(bitmap, size).indices()
    except ProtocolError as exc:
        _log.warning("claim %s: signer bitmap does not fit its committee of %d: %s", claim_id, size, exc)
        return None


def _state(conn: Connection, kind: EntityKind, entity_id: str) -> str | None:
    return StoreTx(conn).state_of(kind, entity_id)


def _packet_subject(served: RelayPacket) -> tuple[str | None, str | None, str | None]:
    """(subject id, distribution id, AVS) of a packet, as the indexer stores them."""
    packet = served.packet
    payload = packet.payload
    if isinstance(payload, RewardDistributionPayload):
        return hash_hex(payload.claim_id), hash_hex(packet.distribution_id), address_hex(payload.avs)
    if isinstance(payload, SlashPayload):
        return hash_hex(payload.slash_id), None, address_hex(payload.avs)
    if isinstance(payload, ValsetUpdatePayload) and packet.kind is PacketKind.VALSET_UPDATE:
        return str(payload.new_valset_nonce), None, None
    return None, None, None


def _valid_signatures(
    valset: Valset, digest: bytes, signatures: Mapping[int, bytes | None]
) -> dict[int, bytes]:
    """Index -> signature of the members whose signature over ``digest`` verifies.

    One aggregate check when everyone who signed is honest (the usual case); otherwise each is checked.
    """
    keys = bls.parse_public_keys([m.bls_pubkey for m in valset.members])
    parsed: dict[int, tuple[bytes, bls.Signature]] = {}
    for index, raw in signatures.items():
        if raw is None or not 0 <= index < len(keys):
            continue
        try:
            parsed[index] = (raw, bls.parse_signature(raw))
        except ValueError:
            continue  # not a G2 point: that member did not sign validly
    if not parsed:
        return {}
    aggregate = bls.aggregate_signatures([sig for _, sig in parsed.values()])
    if bls.fast_aggregate_verify([keys[i] for i in parsed], digest, aggregate):
        return {i: raw for i, (raw, _) in parsed.items()}
    return {i: raw for i, (raw, sig) in parsed.items() if bls.verify(keys[i], digest, sig)}


__all__ = [
    "ATTESTATION_RECHECKS_PER_BLOCK",
    "BlockGapError",
    "ExocoreDataUnavailableError",
    "ExocoreFeed",
    "FeedReport",
    "SkipOutcome",
    "SkippedEvent",
    "SyncReport",
    "block_time",
]
