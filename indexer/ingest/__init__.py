"""Ingestion: Exocore blocks (typed records from the Exocore client) and L1 logs (web3) into the store.

Both streams commit one batch per database transaction together with their cursor, run the
invariant checks inside that transaction, and halt (rolled-back batch, recorded violation, metric,
``halted`` cursor) on the first violation. See :mod:`indexer.ingest.exocore` and
:mod:`indexer.ingest.l1`.
"""

from indexer.ingest.exocore import EXOCORE_STREAM, ExocoreIngestor
from indexer.ingest.l1 import L1Contracts, L1Ingestor, L1PollResult, Web3L1Source, l1_stream_name

__all__ = [
    "EXOCORE_STREAM",
    "ExocoreIngestor",
    "L1Contracts",
    "L1Ingestor",
    "L1PollResult",
    "Web3L1Source",
    "l1_stream_name",
]
