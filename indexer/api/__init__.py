"""The read-only HTTP query API (``exorelay api``)."""

from indexer.api.app import ApiError, ReadinessPolicy, create_app

__all__ = ["ApiError", "ReadinessPolicy", "create_app"]
