"""The whole database schema: the indexer's lifecycle tables plus the relayer's work tables.

Migrations, ``create_all`` in tests and schema comparisons use this ``metadata``; importing it
registers every table in one place.
"""

from __future__ import annotations

import relayer.l1.tables
import relayer.pipeline.tables
from indexer.models import metadata

__all__ = ["metadata", "relayer"]
