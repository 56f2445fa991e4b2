"""The relay pipeline: discover → prepare → submit → confirm → pay (docs/architecture.md).

Each stage reads its due jobs from SQL (prepare and pay *claim* them, ``storage.claims``, so several
relayer processes on one database share the queue and never work a job at once), talks to the
chains *outside* any database transaction,
then records the outcome in one short transaction. A crash between two stages loses nothing: the
job is still at the stage it reached, and every step is idempotent (an intent is keyed, a nonce
already used on L1 counts as delivered, a paid leaf is never offered again).

The relayer trusts neither chain's answers blindly: it verifies every validator signature itself,
checks quorum against the commitment the gateway stores for the set that signed the packet (current
or retired: the gateway accepts a packet from any set it installed, inside that set's packet-nonce
range, so packets need no delivery order), checks every key of a new set for its proof of possession
before delivering a VALSET_UPDATE, and recomputes a distribution's Merkle root and total from the
leaves before it asks L1 to accept them.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, Engine, func, select

from relayer.errors import ConfigError, ExocoreRpcError, ExorelayError, L1RpcError
from relayer.exocore.events import RelayPacketCreated
from relayer.exocore.grpc_client import ExocoreGrpcClient, PacketRejection, RelayPacket, RelayParams
from relayer.l1.gateway import (
    GatewayClient,
    L1Distribution,
    L1Valset,
    encode_packet_call,
    encode_payout_call,
)
from relayer.l1.txmanager import GAS_LIMIT_MARGIN, TxManager
from relayer.metrics import RelayerMetrics
from relayer.pipeline import jobs
from relayer.pipeline.cumulative_push import CumulativePusher
from relayer.pipeline.errors import StageMovedError
from relayer.pipeline.jobs import Backoff, Claimant
from relayer.pipeline.retry import PARKING_REASONS, RetryReason
from relayer.pipeline.vault import (
    INSUFFICIENT_DEPOSIT_ERROR,
    VAULT_BALANCE_VIEWS,
    DepositShortfall,
    affordable,
    restaking_approval,
    vault_balance,
)
from relayer.protocol.attestation import (
    InsufficientSignaturesError,
    build_attestation,
    check_proofs_of_possession,
    valset_commitment,
)
from relayer.protocol.cumulative import CumulativeTree, check_monotone
from relayer.protocol.errors import SignatureError
from relayer.protocol.kinds import PACKET_KIND_CODES
from relayer.protocol.merkle import DistributionTree
from relayer.protocol.packets import (
    ClientChain,
    CumulativeRootPayload,
    PacketKind,
    RewardDistributionPayload,
    ValsetUpdatePayload,
    WithdrawalApprovalPayload,
    check_gateway_limits,
)
from relayer.protocol.packets import distribution_id as compute_distribution_id
from relayer.protocol.types import as_address
from storage.errors import LeaseError
from storage.job_tables import OPEN_PAYOUT_STAGES, JobStage, PayoutStage
from storage.l1_tables import IntentState, tx_intent_table
from storage.leases import LeaseClock, database_now
from storage.lifecycle import PayoutState
from storage.models import payout_table
from storage.store import LifecycleStore, member_of, utc_now

_log = logging.getLogger("relayer.pipeline")

PREPARE_BATCH_JOBS: Final = 64
"""Jobs prepared per cycle: bounds one cycle's latency when a long backlog is being cleared."""
PAY_CLAIM_JOBS: Final = 256
"""Payout jobs claimed per cycle (each is one distribution; in practice a handful are open)."""
JOB_CLAIM_TTL_S: Final = 30.0
"""How long a claim on a job (``storage.claims``) keeps other relayer processes off it: longer than a
cycle's prepare batch or one distribution's batch building takes on a loaded machine (seconds), so a
live worker keeps its jobs; a killed worker's jobs wait at most this for another (a live one releases
its jobs when its stage is done with them). Claims only save duplicated work: stage writes are
compare-and-set, so a lapsed claim cannot double an effect."""
LOCAL_CLAIMANT: Final = Claimant("local", JOB_CLAIM_TTL_S)
"""The claimant of a pipeline that is the only one on its database (tests, tools)."""
SWEEP_PAGE_PACKETS: Final = 500
"""Packets read per sweep: the sweep is a safety net, the event path carries the steady state."""
PAYOUT_BASE_GAS: Final = 90_000
"""Fixed cost of a payout call (21k intrinsic + distribution lookup + multiproof setup), measured ~70k."""
PAYOUT_LEAF_GAS: Final = 32_000
"""Per-leaf cost of a batch cut in tree order, fresh recipients: 31.1k (MINT) / 31.8k (VAULT) at batch
100 in bench/l1_gas.py, ~31.4k (MINT) at a 10k-leaf distribution in bench/relayer_pipeline.py (its
batches touch every 256-leaf word of the paid bitmap). An estimate above the real cost leaves each
block part empty (the gas limit must tile it), one below it overshoots the budget by as much."""
MAX_PAYOUT_LEAVES_PER_TX: Final = 1_000
"""Upper bound regardless of budget: keeps one tx's calldata under ~150 kB (node and mempool limits)."""
MAX_INFLIGHT_PAYOUT_TXS: Final = 8
"""Payout batches of one distribution not mined yet (queued or pending) at once: enough to fill several
30M-gas blocks in a row, few enough that a fee spike strands little. Mined batches waiting for finality
do not count: with deep finality (12+ confirmations, the ``finalized`` tag: ~13 min on mainnet) they
would hold every slot and make a large distribution finality-bound instead of gas-bound. Their leaves
are not offered again: the indexer has them ``submitted`` (or later) until a revert or a lost nonce
returns them."""
TREE_CACHE_DISTRIBUTIONS: Final = 4
"""Distribution trees kept in memory between cycles (a 100k-leaf tree is ~60 MB of Python objects)."""

LEAF_PACKET_KINDS: Final = frozenset({PacketKind.REWARD_DISTRIBUTION, PacketKind.WITHDRAWAL_APPROVAL})
"""Packets with leaves: once delivered, each gets a payout job (the same batches, parking and
compare-and-set stages; only the contract that pays differs)."""

ATTESTATION_REJECTIONS: Final = frozenset({"InsufficientQuorum", "InvalidSignature", "InvalidSignerBitmap"})
"""Gateway errors meaning L1 disagrees with our own signature check: never retry blindly."""


@dataclass
class CycleReport:
    discovered: int = 0
    submitted: int = 0
    delivered: int = 0
    waiting: dict[str, int] = field(default_factory=dict)
    payout_batches: int = 0
    payouts_completed: int = 0
    interrupted: list[str] = field(default_factory=list)

    def waited(self, reason: RetryReason) -> None:
        self.waiting[reason.value] = self.waiting.get(reason.value, 0) + 1


class _WaitSignal(Exception):  # noqa: N818 (control flow inside a stage, never escapes it)
    """A job cannot move now; carries the typed reason recorded on it."""

    def __init__(self, reason: RetryReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class PipelineSettings:
    l1_chain_id: int
    backoff: Backoff
    payout_gas_budget: int
    sibling_chain_ids: frozenset[int] = frozenset()
    """Client chains other pipelines of this process serve: a packet for one of them is handed over
    (its job names the chain), not set aside as ``other_client_chain``."""

    @property
    def leaves_per_payout_tx(self) -> int:
        """Leaves whose gas *limit* (estimate x the tx manager's margin) fits the budget: block
        builders reserve the limit, so the limit is what has to tile the block."""
        usable = int(self.payout_gas_budget / GAS_LIMIT_MARGIN) - PAYOUT_BASE_GAS
        return max(1, min(MAX_PAYOUT_LEAVES_PER_TX, usable // PAYOUT_LEAF_GAS))


def hex0x(data: bytes) -> str:
    return "0x" + data.hex()


class Pipeline:
    """The stages over one database, one Exocore client, one gateway and one transaction manager."""

    def __init__(
        self,
        engine: Engine,
        store: LifecycleStore,
        grpc: ExocoreGrpcClient,
        gateway: GatewayClient,
        txm: TxManager,
        *,
        settings: PipelineSettings,
        clock: Callable[[], datetime] = utc_now,
        should_stop: Callable[[], bool] = lambda: False,
        metrics: RelayerMetrics | None = None,
        pusher: CumulativePusher | None = None,
        claimant: Claimant = LOCAL_CLAIMANT,
        db_clock: LeaseClock = database_now,
    ) -> None:
        self.engine = engine
        self.pusher = pusher
        self.claimant = claimant
        """Who this pipeline claims jobs as: several relayer processes share the work queue."""
        self.db_clock = db_clock
        self.store = store
        self.grpc = grpc
        self.gateway = gateway
        self.txm = txm
        self.settings = settings
        self.clock = clock
        self.should_stop = should_stop
        self.metrics = metrics or RelayerMetrics()
        self._params: RelayParams | None = None
        self._trees: OrderedDict[str, DistributionTree] = OrderedDict()
        self._tree_orders: dict[str, tuple[DistributionTree, tuple[int, ...]]] = {}
        self._seen_failed_payouts: set[int] = set()
        self._vault: str | None = None
        self._restaking_vault: str | None = None

    # ------------------------------------------------------------------ start-up checks

    @property
    def destination(self) -> ClientChain:
        """The client chain this pipeline delivers to: it submits no packet addressed elsewhere."""
        return ClientChain(self.settings.l1_chain_id, as_address(self.gateway.address))

    def relay_params(self) -> RelayParams:
        """Exocore's relay parameters, checked once against the L1 we are configured for."""
        if self._params is None:
            params = self.grpc.relay_params()
            if self.destination not in params.client_chains:
                raise ConfigError(
                    f"Exocore relays to {'; '.join(str(c) for c in params.client_chains)}, but this"
                    f" relayer is configured for {self.destination}"
                )
            if self.gateway.exocore_chain() != params.exocore_chain:
                raise ConfigError("the gateway trusts another Exocore chain than the one we follow")
            self._params = params
        return self._params

    # ------------------------------------------------------------------ one cycle, in lifecycle order

    def run_cycle(
        self, events: Sequence[tuple[int, RelayPacketCreated]] = (), *, sign: bool = True
    ) -> CycleReport:
        """One pass of every stage. ``sign=False`` (this process does not hold the signer lease)
        leaves the transaction manager out: the stages still claim and prepare jobs and queue
        intents, which the signer lease's holder signs."""
        report = CycleReport()
        report.discovered += self.discover(events)
        stages: tuple[tuple[str, Callable[[], object]], ...] = (
            ("prepare", lambda: self.prepare_and_submit(report)),
            ("transactions", self.txm.tick if sign else lambda: None),
            ("confirm", lambda: self.confirm(report)),
            ("pay", lambda: self.pay(report)),
            # Cumulative balances worth a push (none unless the [cumulative] policy prices a token);
            # only the signer lease's holder decides them, so N processes never queue one push twice.
            ("push cumulative", lambda: self.pusher.run() if self.pusher is not None and sign else None),
            # Payout batches go out in the cycle that queued them, not a tick later: the slots they
            # fill were freed by this cycle's tick, and a late batch leaves a block short.
            ("sign payouts", lambda: self.txm.sign_new() if sign and report.payout_batches else None),
        )
        for name, stage in stages:
            if self.should_stop():
                break
            try:
                stage()
            except LeaseError as exc:
                # The signer lease went to another process: it signs from here on.
                self.metrics.error(exc)
                report.interrupted.append(f"{name}: {type(exc).__name__}: {exc}")
                _log.warning("%s stage fenced off: %s", name, exc)
            except (ExocoreRpcError, L1RpcError) as exc:
                # The stage could not reach a chain; the next stage may not need it (and will say).
                self.metrics.error(exc)
                report.interrupted.append(f"{name}: {type(exc).__name__}: {exc}")
                _log.warning("%s stage interrupted: %s", name, exc)
        return report

    # ------------------------------------------------------------------ 1. discover

    def discover(self, events: Iterable[tuple[int, RelayPacketCreated]]) -> int:
        """Record packets named by ``relay_packet_created`` events (height, event)."""
        added = 0
        now = self.clock()
        with self.engine.begin() as conn:
            for height, event in events:
                if jobs.add_job(
                    conn,
                    nonce=event.nonce,
                    kind=int(event.kind),
                    valset_nonce=event.valset_nonce,
                    exocore_height=height,
                    now=now,
                ):
                    added += 1
                    _log.info(
                        "packet discovered", extra={"packet_nonce": event.nonce, "kind": event.kind.name}
                    )
        return added

    def sweep(self) -> int:
        """Ask Exocore for every packet past the highest known one, and for gaps below it.

        Catches packets whose events were missed (a follower that started late, an RPC that dropped
        events); run on start and periodically.
        """
        params = self.relay_params()
        with self.engine.begin() as conn:
            low, high = jobs.lowest_nonce(conn), jobs.highest_nonce(conn)
            gaps = [] if low is None or high is None else jobs.missing_nonces(conn, low, high)
        found: list[RelayPacket | PacketRejection] = []
        for nonce in gaps:
            packet = self.grpc.packet(nonce, params)
            if packet is not None:
                found.append(packet)
        start = 0 if high is None else high + 1
        for packet in self.grpc.packets(start, params):
            found.append(packet)
            if len(found) >= SWEEP_PAGE_PACKETS:
                break
        added = 0
        now = self.clock()
        with self.engine.begin() as conn:
            for item in found:
                if isinstance(item, PacketRejection):
                    kind, valset_nonce, height, nonce = (
                        item.kind,
                        item.valset_nonce,
                        item.exocore_height,
                        item.nonce,
                    )
                else:
                    kind = int(item.packet.kind)
                    valset_nonce, height, nonce = item.packet.valset_nonce, item.exocore_height, item.nonce
                if kind not in PACKET_KIND_CODES:
                    continue
                if jobs.add_job(
                    conn, nonce=nonce, kind=kind, valset_nonce=valset_nonce, exocore_height=height, now=now
                ):
                    added += 1
                    _log.info("packet found by sweep", extra={"packet_nonce": nonce})
        return added

    # ------------------------------------------------------------------ 2+3. prepare, submit

    def prepare_and_submit(self, report: CycleReport) -> None:
        with self.engine.begin() as conn:
            due = jobs.claim_due_jobs(
                conn,
                JobStage.DISCOVERED,
                self.clock(),
                PREPARE_BATCH_JOBS,
                claimant=self.claimant,
                db_now=self.db_clock(conn),
                chain_id=self.settings.l1_chain_id,
            )
        try:
            self._prepare_claimed(due, report)
        finally:
            with self.engine.begin() as conn:
                jobs.release_jobs(conn, [int(row.packet_nonce) for row in due], self.claimant)

    def _prepare_claimed(self, due: Sequence[Any], report: CycleReport) -> None:
        # The gateway's record of each set a packet names, read once per cycle (only a delivered
        # VALSET_UPDATE changes one, and this stage delivers nothing itself).
        l1_valsets: dict[int, L1Valset | None] = {}
        for row in due:
            if self.should_stop():
                return
            nonce = int(row.packet_nonce)
            try:
                self._prepare_one(row, l1_valsets, report)
            except _WaitSignal as wait:
                self._record_wait(nonce, wait.reason, wait.detail, report)
            except ExocoreRpcError as exc:
                self._record_wait(nonce, RetryReason.EXOCORE_UNAVAILABLE, str(exc), report)
            except L1RpcError as exc:
                self._record_wait(nonce, RetryReason.L1_UNAVAILABLE, str(exc), report)
                l1_valsets.clear()

    def _record_chain(self, nonce: int, chain_id: int) -> None:
        with self.engine.begin() as conn:
            jobs.record_chain(conn, nonce, chain_id)

    def _record_wait(self, nonce: int, reason: RetryReason, detail: str, report: CycleReport) -> None:
        try:
            with self.engine.begin() as conn:
                due = jobs.wait(
                    conn,
                    nonce,
                    reason,
                    detail,
                    self.clock(),
                    self.settings.backoff,
                    expected=JobStage.DISCOVERED,
                )
        except StageMovedError as moved:
            _stage_moved(moved)
            return
        report.waited(reason)
        level = logging.WARNING if due is None else logging.INFO
        _log.log(
            level,
            "packet waits: %s",
            detail,
            extra={"packet_nonce": nonce, "retry_reason": reason.value, "refused": due is None},
        )

    def _prepare_one(self, row: Any, l1_valsets: dict[int, L1Valset | None], report: CycleReport) -> None:
        nonce = int(row.packet_nonce)
        params = self.relay_params()
        if self.gateway.nonce_used(nonce):
            # Used at our gateway: only a packet signed for it can have used the nonce there.
            self._record_chain(nonce, self.settings.l1_chain_id)
            self._delivered(nonce, report, how="already used on L1", expected=JobStage.DISCOVERED)
            return
        served = self.grpc.packet(nonce, params)
        if served is None:
            raise _WaitSignal(RetryReason.PACKET_NOT_FOUND, f"Exocore does not serve packet {nonce}")
        if isinstance(served, PacketRejection):
            raise _WaitSignal(RetryReason.PACKET_INVALID, served.reason)
        packet = served.packet
        if packet.destination.l1_chain_id in self.settings.sibling_chain_ids:
            # Another pipeline of this process serves that chain: name it on the job and leave it.
            self._record_chain(nonce, packet.l1_chain_id)
            return
        if packet.destination != self.destination:
            # Its digest binds another chain: this gateway would revert it (InvalidSignature). Set
            # aside, never submitted, counted under its reason (metrics, status, /ready).
            raise _WaitSignal(
                RetryReason.OTHER_CLIENT_CHAIN,
                f"addressed to {packet.destination}; this relayer serves {self.destination}",
            )
        self._record_chain(nonce, packet.l1_chain_id)
        try:
            check_gateway_limits(packet.payload)
        except ExorelayError as exc:
            raise _WaitSignal(RetryReason.PACKET_INVALID, f"exceeds gateway limits: {exc}") from exc
        if packet.valset_nonce not in l1_valsets:
            l1_valsets[packet.valset_nonce] = self.gateway.valset_record(packet.valset_nonce)
        signing_set = l1_valsets[packet.valset_nonce]
        if signing_set is None:
            raise _WaitSignal(
                RetryReason.VALSET_NOT_ON_L1,
                f"signed by valset {packet.valset_nonce}, which the gateway has not installed yet",
            )
        if packet.kind is PacketKind.VALSET_UPDATE and not signing_set.current:
            raise _WaitSignal(
                RetryReason.STALE_VALSET,
                f"a VALSET_UPDATE signed by valset {packet.valset_nonce}, which L1 has already retired",
            )
        if packet.kind is not PacketKind.VALSET_UPDATE and not signing_set.covers(nonce):
            raise _WaitSignal(
                RetryReason.STALE_VALSET,
                f"valset {packet.valset_nonce} signs packet nonces from {signing_set.start_nonce}"
                f" to {signing_set.end_nonce} (exclusive) on L1; {nonce} is outside",
            )
        # Quorum is checked against the set the packet was signed by, as L1 stores it (retired ones
        # included): the served valset must hash to that set's commitment.
        valset = self.grpc.valset(packet.valset_nonce)
        if valset is None:
            raise _WaitSignal(
                RetryReason.EXOCORE_UNAVAILABLE, f"Exocore does not serve valset {packet.valset_nonce}"
            )
        members = [(m.bls_pubkey, int(m.power)) for m in valset.members]
        commitment = valset_commitment(valset.valset_nonce, [k for k, _ in members], [p for _, p in members])
        if commitment != signing_set.commitment:
            raise _WaitSignal(
                RetryReason.VALSET_MISMATCH,
                f"valset {valset.valset_nonce} served by Exocore does not match the gateway's commitment",
            )
        if isinstance(packet.payload, ValsetUpdatePayload):
            self._check_new_valset(packet.payload, packet.payload_hash)
        distribution_id: str | None = None
        if isinstance(packet.payload, RewardDistributionPayload):
            distribution_id = hex0x(packet.distribution_id)
            self._remember_tree(distribution_id, self._check_distribution(nonce, packet.payload))
        if isinstance(packet.payload, WithdrawalApprovalPayload):
            # The vault pays these leaves to anyone with a proof: check Exocore serves the leaves
            # the root commits to before the root goes on chain, as for a distribution.
            self._check_distribution(nonce, packet.payload)
        if isinstance(packet.payload, CumulativeRootPayload):
            self._check_cumulative(nonce, packet.l1_chain_id, packet.payload)
        signatures = self.grpc.packet_signatures(nonce)
        if signatures is None:
            raise _WaitSignal(RetryReason.QUORUM_NOT_REACHED, "no signatures served yet")
        try:
            attestation = build_attestation(
                packet.digest,
                members,
                {s.index: s.signature for s in signatures.signatures},
                params.threshold,
            )
        except InsufficientSignaturesError as exc:
            raise _WaitSignal(RetryReason.QUORUM_NOT_REACHED, str(exc)) from exc
        if attestation.rejected:
            _log.warning(
                "invalid validator signatures left out of the aggregate",
                extra={"packet_nonce": nonce, "validators": list(attestation.rejected)},
            )
        calldata = encode_packet_call(packet, attestation.signer_bitmap, attestation.signature_eip2537)
        now = self.clock()
        try:
            with self.engine.begin() as conn:
                intent_id = self.txm.enqueue(
                    conn,
                    key=f"packet:{nonce}:{int(row.attempts)}",
                    purpose=PacketKind(packet.kind).purpose.value,
                    to=self.gateway.address,
                    calldata=calldata,
                    packet_nonce=nonce,
                    distribution_id=distribution_id,
                )
                jobs.set_stage(
                    conn,
                    nonce,
                    JobStage.SUBMITTED,
                    now,
                    expected=JobStage.DISCOVERED,
                    distribution_id=distribution_id,
                    signer_bitmap=hex0x(attestation.signer_bitmap),
                    aggregate_signature=hex0x(attestation.signature_eip2537),
                    signed_power=attestation.signed_power,
                    total_power=attestation.total_power,
                    tx_intent_id=intent_id,
                    retry_reason=None,
                    retry_detail=None,
                    next_attempt_at=None,
                )
        except StageMovedError as moved:
            # An operator excluded (or retried) the packet while it was being prepared: the intent
            # enqueued above rolls back with the stage write, so nothing reaches L1.
            _stage_moved(moved)
            return
        report.submitted += 1
        _log.info(
            "packet submitted",
            extra={
                "packet_nonce": nonce,
                "kind": packet.kind.name,
                "intent_id": intent_id,
                "signed_power": attestation.signed_power,
                "total_power": attestation.total_power,
            },
        )

    def _check_new_valset(self, payload: ValsetUpdatePayload, payload_hash: bytes) -> None:
        """The set a VALSET_UPDATE installs must be the one Exocore serves, and every key in it must
        come with a valid proof of possession: the gateway cannot check PoPs, and one rogue key
        would let its holder sign alone for the whole set. Refused otherwise."""
        served = self.grpc.valset(payload.new_valset_nonce)
        if served is None:
            raise _WaitSignal(
                RetryReason.EXOCORE_UNAVAILABLE, f"Exocore does not serve valset {payload.new_valset_nonce}"
            )
        keys = [m.bls_pubkey for m in served.members]
        powers = [int(m.power) for m in served.members]
        served_commitment = valset_commitment(served.valset_nonce, keys, powers)
        if served_commitment != payload_hash:
            raise _WaitSignal(
                RetryReason.VALSET_MISMATCH,
                f"valset {payload.new_valset_nonce} served by Exocore is not the one the VALSET_UPDATE"
                " installs",
            )
        try:
            check_proofs_of_possession(keys, [m.pop_signature for m in served.members])
        except SignatureError as exc:
            raise _WaitSignal(
                RetryReason.INVALID_KEY_PROOF, f"valset {payload.new_valset_nonce} refused: {exc}"
            ) from exc

    def _check_distribution(
        self, nonce: int, payload: RewardDistributionPayload | WithdrawalApprovalPayload
    ) -> DistributionTree:
        """Recompute root, total and leaf count from the leaves Exocore serves; refuse on mismatch."""
        leaves = [record.leaf for record in self.grpc.distribution_leaves(nonce)]
        try:
            tree = DistributionTree.build(leaves)
        except ExorelayError as exc:
            raise _WaitSignal(RetryReason.ROOT_MISMATCH, f"leaves do not form a valid tree: {exc}") from exc
        problems = []
        if tree.root != payload.merkle_root:
            problems.append(f"root {hex0x(tree.root)} != packet root {hex0x(payload.merkle_root)}")
        if tree.total != payload.total:
            problems.append(f"leaf total {tree.total} != packet total {payload.total}")
        if len(tree) != payload.leaf_count:
            problems.append(f"{len(tree)} leaves != packet leafCount {payload.leaf_count}")
        if problems:
            _log.warning("distribution refused: %s", "; ".join(problems), extra={"packet_nonce": nonce})
            raise _WaitSignal(RetryReason.ROOT_MISMATCH, "; ".join(problems))
        return tree

    def _check_cumulative(self, nonce: int, chain: int, payload: CumulativeRootPayload) -> CumulativeTree:
        """Recompute a cumulative root from the leaves Exocore serves for its period on ``chain`` (the
        client chain the packet is addressed to; each numbers its own periods): root, leaf count, and
        per token Σ cumulative == Σ funded; the chain's previous period's totals must not shrink (a
        newer root never takes back what was earned). Refused (``root_mismatch``) otherwise."""
        try:
            tree = CumulativeTree.build(self.grpc.cumulative_leaves(payload.period, l1_chain_id=chain))
            if payload.period > 1:
                check_monotone(self.grpc.cumulative_leaves(payload.period - 1, l1_chain_id=chain), tree)
        except ExorelayError as exc:
            if isinstance(exc, ExocoreRpcError):
                raise
            raise _WaitSignal(RetryReason.ROOT_MISMATCH, f"cumulative leaves refused: {exc}") from exc
        problems = []
        if tree.root != payload.root:
            problems.append(f"root {hex0x(tree.root)} != packet root {hex0x(payload.root)}")
        if len(tree) != payload.leaf_count:
            problems.append(f"{len(tree)} leaves != packet leafCount {payload.leaf_count}")
        if dict(tree.totals) != payload.funded_per_token():
            problems.append("per-token leaf totals differ from the funded totals")
        if problems:
            _log.warning("cumulative root refused: %s", "; ".join(problems), extra={"packet_nonce": nonce})
            raise _WaitSignal(RetryReason.ROOT_MISMATCH, "; ".join(problems))
        return tree

    # ------------------------------------------------------------------ 4. confirm

    def confirm(self, report: CycleReport) -> None:
        with self.engine.begin() as conn:
            rows = jobs.due_jobs(
                conn, JobStage.SUBMITTED, self.clock(), 10_000, chain_id=self.settings.l1_chain_id
            )
            intents = {
                int(row.packet_nonce): self.txm.intent(conn, int(row.tx_intent_id))
                for row in rows
                if row.tx_intent_id is not None
            }
        for row in rows:
            nonce = int(row.packet_nonce)
            intent = intents.get(nonce)
            if intent is None:
                continue
            state = IntentState(intent.state)
            if state in (IntentState.FINALIZED, IntentState.ALREADY_DONE):
                self._delivered(nonce, report, how=state.value, expected=JobStage.SUBMITTED)
                self.metrics.observe_submit_to_final((self.clock() - row.updated_at).total_seconds())
            elif state is IntentState.FAILED:
                name = intent.reason_code or ""
                if name in ("StaleValset", "NonceOutsideValsetRange"):
                    reason = RetryReason.STALE_VALSET
                elif name == "UnknownValset":
                    reason = RetryReason.VALSET_NOT_ON_L1
                elif name in ATTESTATION_REJECTIONS:
                    reason = RetryReason.L1_REJECTED_ATTESTATION
                else:
                    reason = RetryReason.TX_FAILED
                try:
                    with self.engine.begin() as conn:
                        jobs.wait(
                            conn,
                            nonce,
                            reason,
                            f"L1 transaction failed: {name} {intent.reason or ''}".strip(),
                            self.clock(),
                            self.settings.backoff,
                            expected=JobStage.SUBMITTED,
                            stage=JobStage.DISCOVERED,
                        )
                except StageMovedError as moved:
                    _stage_moved(moved)
                    continue
                report.waited(reason)

    def _delivered(self, nonce: int, report: CycleReport, *, how: str, expected: JobStage) -> None:
        now = self.clock()
        try:
            with self.engine.begin() as conn:
                current = jobs.job(conn, nonce)
                if current is None:
                    return
                distribution_id = current.distribution_id
                with_leaves = int(current.kind) in LEAF_PACKET_KINDS
                if with_leaves and distribution_id is None:
                    distribution_id = hex0x(compute_distribution_id(self.relay_params().exocore_chain, nonce))
                jobs.set_stage(
                    conn,
                    nonce,
                    JobStage.DELIVERED,
                    now,
                    expected=expected,
                    delivered_at=now,
                    distribution_id=distribution_id,
                    retry_reason=None,
                    next_attempt_at=None,
                )
                if with_leaves and distribution_id is not None:
                    jobs.add_payout_job(
                        conn, distribution_id=distribution_id, nonce=nonce, leaf_count=0, now=now
                    )
        except StageMovedError as moved:
            _stage_moved(moved)
            return
        report.delivered += 1
        self.metrics.packet_delivered(int(current.kind))
        _log.info("packet delivered", extra={"packet_nonce": nonce, "how": how})

    # ------------------------------------------------------------------ 5. pay

    def pay(self, report: CycleReport) -> None:
        with self.engine.begin() as conn:
            due = jobs.claim_due_payout_jobs(
                conn,
                self.clock(),
                PAY_CLAIM_JOBS,
                claimant=self.claimant,
                db_now=self.db_clock(conn),
                chain_id=self.settings.l1_chain_id,
            )
        try:
            self._pay_claimed(due, report)
        finally:
            with self.engine.begin() as conn:
                jobs.release_payout_jobs(conn, [str(row.distribution_id) for row in due], self.claimant)

    def _pay_claimed(self, due: Sequence[Any], report: CycleReport) -> None:
        for row in due:
            if self.should_stop():
                return
            try:
                self._pay_one(row, report)
            except _WaitSignal as wait:
                self._payout_wait(row, wait.reason, wait.detail)
                report.waited(wait.reason)
            except ExocoreRpcError as exc:
                self._payout_wait(row, RetryReason.EXOCORE_UNAVAILABLE, str(exc))
            except L1RpcError as exc:
                self._payout_wait(row, RetryReason.L1_UNAVAILABLE, str(exc))
            except StageMovedError as moved:
                _stage_moved(moved)

    def _payout_wait(self, row: Any, reason: RetryReason, detail: str) -> None:
        try:
            with self.engine.begin() as conn:
                jobs.payout_wait(
                    conn,
                    str(row.distribution_id),
                    reason,
                    detail,
                    self.clock(),
                    self.settings.backoff,
                    expected=OPEN_PAYOUT_STAGES,
                )
        except StageMovedError as moved:
            _stage_moved(moved)

    def _tree(self, distribution_id: str, nonce: int, root: bytes) -> DistributionTree:
        tree = self._trees.get(distribution_id)
        if tree is None:
            tree = DistributionTree.build(record.leaf for record in self.grpc.distribution_leaves(nonce))
            self._remember_tree(distribution_id, tree)
        else:
            self._trees.move_to_end(distribution_id)
        if tree.root != root:
            self._trees.pop(distribution_id, None)
            raise _WaitSignal(RetryReason.ROOT_MISMATCH, "served leaves do not hash to the root on L1")
        return tree

    def _remember_tree(self, distribution_id: str, tree: DistributionTree) -> None:
        """The tree built to check a packet pays its leaves later: 100k leaves are fetched once."""
        self._trees[distribution_id] = tree
        self._trees.move_to_end(distribution_id)
        while len(self._trees) > TREE_CACHE_DISTRIBUTIONS:
            evicted, _tree = self._trees.popitem(last=False)
            self._tree_orders.pop(evicted, None)

    def _tree_order(self, distribution_id: str, tree: DistributionTree) -> tuple[int, ...]:
        """Leaf indices in tree order (OZ multiproof order: heap positions descending, i.e. leaf
        hashes ascending). Consecutive leaves in this order share subtrees, so a batch cut from it
        needs a multiproof of about one path (~log2 n nodes) where a batch of consecutive *indices*
        (leaves scattered over a hash-sorted tree) needs ~batch x (log2 n - log2 batch) nodes."""
        cached = self._tree_orders.get(distribution_id)
        if cached is not None and cached[0] is tree:
            return cached[1]
        order = tuple(sorted(range(len(tree)), key=tree.tree_position, reverse=True))
        self._tree_orders[distribution_id] = (tree, order)
        return order

    def _leaves_on_l1(self, row: Any, dist_bytes: bytes) -> tuple[L1Distribution | None, str]:
        """What L1 holds of a payout job's packet and the contract that pays its leaves: a reward
        distribution's (gateway) or a withdrawal approval's (RestakingVault, same ``payout`` call)."""
        with self.engine.begin() as conn:
            relay = jobs.job(conn, int(row.packet_nonce))
        if relay is not None and int(relay.kind) == PacketKind.WITHDRAWAL_APPROVAL:
            if self._restaking_vault is None:
                self._restaking_vault = self.gateway.restaking_vault()
            vault = self._restaking_vault
            return restaking_approval(self.gateway.client, vault, dist_bytes), vault
        return self.gateway.distribution(dist_bytes), self.gateway.address

    def _pay_one(self, row: Any, report: CycleReport) -> None:
        distribution_id = str(row.distribution_id)
        dist_bytes = bytes.fromhex(distribution_id.removeprefix("0x"))
        on_l1, payer = self._leaves_on_l1(row, dist_bytes)
        if on_l1 is None:
            raise _WaitSignal(RetryReason.TX_FAILED, "the distribution root is not on L1")
        now = self.clock()
        if row.stage == PayoutStage.WAITING_ROOT.value:
            with self.engine.begin() as conn:
                jobs.set_payout_stage(
                    conn,
                    distribution_id,
                    PayoutStage.PAYING,
                    now,
                    expected=PayoutStage.WAITING_ROOT,
                    leaf_count=int(on_l1.leaf_count),
                )
        refused_for_deposit = self._deposit_refusals(distribution_id)
        p, i = payout_table, tx_intent_table
        with self.engine.begin() as conn:
            states = {
                str(state): int(count)
                for state, count in conn.execute(
                    select(p.c.state, func.count())
                    .where(p.c.distribution_id == distribution_id)
                    .group_by(p.c.state)
                )
            }
            if sum(states.values()) == 0:
                raise _WaitSignal(
                    RetryReason.LEAVES_NOT_INDEXED, "the indexer has not recorded this distribution's leaves"
                )
            if states.get(PayoutState.FINALIZED.value, 0) == int(on_l1.leaf_count):
                jobs.set_payout_stage(
                    conn,
                    distribution_id,
                    PayoutStage.PAID,
                    now,
                    expected=PayoutStage.PAYING,
                    paid_at=now,
                    retry_reason=None,
                )
                report.payouts_completed += 1
                _log.info("distribution fully paid", extra={"distribution_id": distribution_id})
                return
            unmined = list(
                conn.execute(
                    select(i.c.state, i.c.leaf_indices).where(
                        i.c.distribution_id == distribution_id,
                        i.c.purpose == "payout",
                        i.c.state.in_([IntentState.QUEUED.value, IntentState.PENDING.value]),
                    )
                )
            )
            slots = MAX_INFLIGHT_PAYOUT_TXS - len(unmined)
            if slots <= 0:
                return
            queued = {
                int(x) for state, indices in unmined if state == IntentState.QUEUED.value for x in indices
            }
            # Every pending index (ints only): batches are cut in tree order below, which the
            # database cannot sort by.
            pending_now = {
                int(index)
                for (index,) in conn.execute(
                    select(p.c.leaf_index).where(
                        p.c.distribution_id == distribution_id, p.c.state == PayoutState.PENDING.value
                    )
                )
            } - queued
            in_flight = sorted({int(x) for _state, indices in unmined for x in indices})
            in_flight_amount = (
                0
                if on_l1.funding not in VAULT_BALANCE_VIEWS or not in_flight
                else sum(
                    int(amount)
                    for (amount,) in conn.execute(
                        select(p.c.amount).where(
                            p.c.distribution_id == distribution_id, member_of(conn, p.c.leaf_index, in_flight)
                        )
                    )
                )
            )
        if not pending_now:
            return
        tree = self._tree(distribution_id, int(row.packet_nonce), on_l1.root)
        # Leaves go out in tree order, not index order: the multiproof stays ~log2 n nodes per batch
        # (at 10k leaves and 243 per batch, ~14 nodes instead of ~1,100: 0.9k instead of 3.8k
        # calldata gas per leaf, and ~1,100 fewer hashes). The price is the paid-leaf bitmap: a
        # batch touches most of its 256-leaf words (~0.7k gas per leaf at 10k leaves); see the gas
        # section of contracts/README.md. Amounts come from the tree (it hashes to the root on L1).
        want = slots * self.settings.leaves_per_payout_tx
        offered: list[tuple[int, int]] = []
        for index in self._tree_order(distribution_id, tree):
            if index in pending_now:
                offered.append((index, int(tree.leaf(index).amount)))
                if len(offered) == want:
                    break
        if on_l1.funding in VAULT_BALANCE_VIEWS:
            offered = self._within_deposit(on_l1, offered, in_flight_amount, refused_for_deposit)
            if not offered:
                return  # batches in flight use up the deposit: the next cycle sees what they left
        pending = [index for index, _amount in offered]
        size = self.settings.leaves_per_payout_tx
        batches = [pending[k : k + size] for k in range(0, len(pending), size)]
        with self.engine.begin() as conn:
            # Compare-and-set in the enqueueing transaction: a distribution excluded meanwhile gets
            # no new batches (StageMovedError rolls them back). A parked job resumes here.
            resumed = row.retry_reason in {r.value for r in PARKING_REASONS}
            cleared = {"retry_reason": None, "retry_detail": None, "next_attempt_at": None} if resumed else {}
            jobs.set_payout_stage(
                conn, distribution_id, PayoutStage.PAYING, now, expected=PayoutStage.PAYING, **cleared
            )
            if resumed:
                _log.info(
                    "payout job resumed: %s is gone",
                    row.retry_reason,
                    extra={"distribution_id": distribution_id},
                )
            for batch in batches:
                proof = tree.multiproof(batch)
                calldata = encode_payout_call(dist_bytes, proof.leaves, proof.proof, proof.proof_flags)
                self.txm.enqueue(
                    conn,
                    key=f"payout:{distribution_id}:{batch[0]}:{len(batch)}:{_seq(conn, distribution_id)}",
                    purpose="payout",
                    to=payer,
                    calldata=calldata,
                    distribution_id=distribution_id,
                    leaf_indices=[leaf.index for leaf in proof.leaves],
                    gas_limit=None,
                )
            report.payout_batches += len(batches)
        self.metrics.payouts_sent(len(pending))
        _log.info(
            "payout batches queued",
            extra={"distribution_id": distribution_id, "batches": len(batches), "leaves": len(pending)},
        )

    def _within_deposit(
        self,
        on_l1: L1Distribution,
        offered: list[tuple[int, int]],
        in_flight_amount: int,
        refused: Sequence[int],
    ) -> list[tuple[int, int]]:
        """The leaves (index, amount) a VAULT distribution's deposit pays for now, after the batches
        in flight; parks the job (``insufficient_deposit``, with the exact amounts) when it pays for
        none, or when L1 just refused a batch for the deposit (so a refusal is met once per parking,
        never once per cycle). One ``eth_call``; nothing is simulated or sent."""
        if self._vault is None:
            self._vault = self.gateway.reward_vault()
        avs, token = hex0x(on_l1.avs), hex0x(on_l1.token)
        available = vault_balance(self.gateway.client, self._vault, avs, token, on_l1.funding)
        budget = max(0, available - in_flight_amount)
        count = affordable([amount for _index, amount in offered], budget)
        if count and not refused:
            return offered[:count]
        if in_flight_amount and not refused:
            return []
        first_batch = offered[: self.settings.leaves_per_payout_tx]
        shortfall = DepositShortfall(
            avs, token, sum(amount for _index, amount in first_batch), available, self._vault, on_l1.funding
        )
        if refused:
            refusal = f"L1 refused payout intent {list(refused)} ({INSUFFICIENT_DEPOSIT_ERROR})"
            detail = f"{refusal}; {shortfall.describe()}"
        else:
            detail = shortfall.describe()
        raise _WaitSignal(RetryReason.INSUFFICIENT_DEPOSIT, detail)

    def _deposit_refusals(self, distribution_id: str) -> list[int]:
        """Payout intents of this distribution that failed since the last look because L1 refused
        them for a missing vault deposit (the job parks on them). No other failure needs handling
        here: ``payout`` skips leaves a claim paid first instead of reverting, and a failed batch's
        leaves are returned to the indexer's queue by the transaction manager."""
        i = tx_intent_table
        with self.engine.begin() as conn:
            failed = [
                (int(row.id), row.reason_code)
                for row in conn.execute(
                    select(i.c.id, i.c.reason_code).where(
                        i.c.distribution_id == distribution_id,
                        i.c.purpose == "payout",
                        i.c.state == IntentState.FAILED.value,
                    )
                )
                if int(row.id) not in self._seen_failed_payouts
            ]
        self._seen_failed_payouts.update(intent_id for intent_id, _reason in failed)
        return [intent_id for intent_id, reason in failed if reason == INSUFFICIENT_DEPOSIT_ERROR]


def _stage_moved(moved: StageMovedError) -> None:
    _log.info("job not written: an operator moved it meanwhile: %s", moved, extra={"item": moved.item})


def _seq(conn: Connection, distribution_id: str) -> int:
    """A per-distribution sequence for intent keys (a rebuilt batch must not collide with a failed one)."""
    i = tx_intent_table
    value = conn.execute(select(func.count()).where(i.c.distribution_id == distribution_id)).scalar()
    return int(value or 0)
