"""Relay packets.

The listing is generated from its declaration (:data:`indexer.api.listings.PACKETS`); ``read``
runs it on the read-only engine.
"""

from __future__ import annotations

from fastapi import APIRouter

from indexer.api import listings
from indexer.api.params import Reader
from indexer.api.routers.listing import add_listing


def register(v1: APIRouter, read: Reader) -> None:
    """Adds the ``packets`` routes to ``v1`` (which adds the shared error responses)."""
    add_listing(v1, read, listings.PACKETS)
