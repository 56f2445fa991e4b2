"""Exocore ingestion: committed blocks of typed records -> lifecycle rows.

The Exocore client (``relayer/exocore``) decodes CometBFT blocks, ABCI events and gRPC answers
into :class:`~storage.records.ExocoreBlock` values and hands them over in height order::

    ingestor = ExocoreIngestor(store)
    ingestor.apply_block(block, head_height=latest_height)

CometBFT finality is instant, so there are no reorgs: one block is one transaction with the cursor.
A block at or below the cursor is skipped (a block seen twice changes nothing); if its hash differs
from the one recorded for that height, the chain forked under us and the stream halts. Heights may
skip (blocks without relevant events need not be handed over).
"""

from __future__ import annotations

from typing import Final

from indexer.ingest.base import guarded
from indexer.metrics import IngestMetrics
from storage.db import refresh_stale_statistics
from storage.errors import ChainMismatchError
from storage.invariants import check_cumulative_leaves_cover_payouts, check_transition_history
from storage.lifecycle import Chain
from storage.records import CumulativeLeaves, ExocoreBlock
from storage.store import LifecycleStore

EXOCORE_STREAM: Final = "exocore"

STATISTICS_CHECK_EVERY_BLOCKS: Final = 100
"""How often (in ingested blocks with events) to look for stale planner statistics."""


class ExocoreIngestor:
    def __init__(
        self, store: LifecycleStore, metrics: IngestMetrics | None = None, stream: str = EXOCORE_STREAM
    ) -> None:
        self.store = store
        self.metrics = metrics or IngestMetrics()
        self.stream = stream
        self._blocks = 0

    def apply_block(self, block: ExocoreBlock, *, head_height: int | None = None) -> bool:
        """Ingest one block; False if it was already ingested. Raises (and halts) on a violation."""
        applied = guarded(
            self.store,
            self.metrics,
            self.stream,
            Chain.EXOCORE.value,
            lambda: self._apply(block, head_height),
        )
        if applied:
            self._blocks += 1
            if self._blocks % STATISTICS_CHECK_EVERY_BLOCKS == 0:
                refresh_stale_statistics(self.store.engine)
            self.metrics.batches.labels(stream=self.stream).inc()
            for event in block.events:
                self.metrics.records.labels(stream=self.stream, record=type(event).__name__).inc()
        self.metrics.height.labels(stream=self.stream).set(block.height if applied else self._height())
        if head_height is not None:
            self.metrics.lag.labels(stream=self.stream).set(max(0, head_height - self._height()))
        return applied

    def note_head(self, head_height: int) -> None:
        """Record the chain head seen (readiness compares it with the cursor) without a new block."""
        with self.store.begin() as tx:
            cursor = tx.cursor(self.stream)
            if cursor is not None and not cursor.halted:
                tx.set_cursor(
                    self.stream,
                    cursor.chain,
                    cursor.height,
                    cursor.block_hash,
                    head_height=head_height,
                    finalized_height=cursor.finalized_height,
                )
        self.metrics.lag.labels(stream=self.stream).set(max(0, head_height - self._height()))

    def _height(self) -> int:
        cursor = self.store.cursor(self.stream)
        return cursor.height if cursor is not None else 0

    def _apply(self, block: ExocoreBlock, head_height: int | None) -> bool:
        with self.store.begin() as tx:
            tx.check_not_halted(self.stream)
            cursor = tx.cursor(self.stream)
            if cursor is not None and block.height <= cursor.height:
                known = tx.block_hash_at(self.stream, block.height)
                if known is None and block.height == cursor.height:
                    known = cursor.block_hash
                if known is not None and known != block.block_hash:
                    raise ChainMismatchError(
                        f"{self.stream}: block {block.height} has hash {block.block_hash}, "
                        f"ingested as {known} (Exocore blocks are final; the node is on another chain)"
                    )
                return False
            first_transition = tx.next_transition_id()
            for index, event in enumerate(block.events):
                tx.apply_exocore_event(event, block.ref(index, event.tx_hash))
            if block.events:
                tx.remember_blocks(self.stream, [(block.height, block.block_hash, block.time)])
            head = max(head_height or block.height, block.height)
            tx.set_cursor(
                self.stream,
                Chain.EXOCORE.value,
                block.height,
                block.block_hash,
                head_height=head,
                finalized_height=block.height,
            )
            check_transition_history(tx.conn, self.stream, first_transition)
            check_cumulative_leaves_cover_payouts(
                tx.conn,
                self.stream,
                {(e.l1_chain_id, e.period) for e in block.events if isinstance(e, CumulativeLeaves)},
            )
            return True
