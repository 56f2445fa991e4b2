"""The aggregator's collections -> the ``collecting`` stage of claims and slash requests.

Part of the Exocore ingestion (:class:`~indexer.ingest.exocore_feed.ExocoreFeed` polls it between
blocks, through the same lease-fenced store), so the lifecycle tables keep a single writer and a
collection can never race the Exocore submission of the same object. What is recorded, and in which
order, is :mod:`storage.store.collecting`'s rule.

The poll reads the request rows changed since its watermark (``updated_at``, then ``digest``) in
bounded pages. The watermark lives in memory: after a restart the first poll reads every request
again, which changes nothing (recording is idempotent) and costs one index scan.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import and_, or_, select

from storage.aggregation import aggregation_request_table, aggregation_submission_table
from storage.invariants import check_transition_history
from storage.store import LifecycleStore
from storage.store.collecting import COLLECTION_COLUMNS

COLLECTION_POLL_ROWS: Final = 500
"""Request rows per poll transaction: bounded so one poll never holds the stream's transaction long
(a few ms per row); a backlog drains over consecutive polls, one per Exocore block."""


class CollectionPoller:
    """Records the aggregator's request rows as lifecycle transitions, a page per :meth:`poll`."""

    def __init__(self, store: LifecycleStore, stream: str) -> None:
        self.store = store
        self.stream = stream
        """The ingestion stream this runs in (named in an invariant violation)."""
        self._after: tuple[datetime, str] | None = None

    def poll(self, limit: int = COLLECTION_POLL_ROWS) -> int:
        """Record up to ``limit`` changed requests in one transaction; how many objects changed."""
        r, s = aggregation_request_table, aggregation_submission_table
        query = select(
            *(r.c[n] for n in COLLECTION_COLUMNS), s.c.state.label("submission_state")
        ).select_from(r.outerjoin(s, s.c.digest == r.c.digest))
        if self._after is not None:
            at, digest = self._after
            query = query.where(or_(r.c.updated_at > at, and_(r.c.updated_at == at, r.c.digest > digest)))
        changed = 0
        with self.store.begin() as tx:
            first_transition = tx.next_transition_id()
            rows = tx.conn.execute(query.order_by(r.c.updated_at, r.c.digest).limit(limit)).all()
            for row in rows:
                changed += tx.record_collection(row._asdict())
            check_transition_history(tx.conn, self.stream, first_transition)
        if rows:
            self._after = (rows[-1].updated_at, rows[-1].digest)
        return changed
