"""The read-only HTTP query API (``exorelay api``)."""

from indexer.api.app import ReadinessPolicy, create_app
from indexer.api.params import ApiError

__all__ = ["ApiError", "ReadinessPolicy", "create_app"]
