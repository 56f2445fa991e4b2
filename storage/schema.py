"""The whole database schema: the lifecycle tables plus the relayer's work tables.

Migrations, ``create_all`` in tests and schema comparisons use this ``metadata``; importing it
registers every table in one place.
"""

from __future__ import annotations

import storage.aggregation
import storage.job_tables
import storage.l1_tables
import storage.lease_tables
import storage.operator_tables
import storage.token_tables
from storage.models import metadata

__all__ = ["metadata", "storage"]
