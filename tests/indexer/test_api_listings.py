"""The declared listings (indexer/api/listings.py) are what the API serves: each listing's route has
exactly its filters, in declaration order, then the shared paging parameters; a filter the
listing does not declare is refused by ``Listing.read`` rather than silently ignored."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from indexer.api import create_app
from indexer.api.listings import LISTINGS
from indexer.api.pagination import Order
from indexer.api.queries import ListParams

PAGING = ["since", "until", "limit", "cursor", "order"]


def test_every_listing_route_has_its_declared_filters_then_paging(tmp_path: Path) -> None:
    paths = create_app(f"sqlite:///{tmp_path / 'api.db'}").openapi()["paths"]
    for listing in LISTINGS.values():
        operation = paths[f"/v1{listing.route_path}"]["get"]
        names = [p["name"] for p in operation["parameters"]]
        assert names == [f.name for f in listing.filters] + PAGING, listing.resource
        assert all(p["in"] == "query" and not p["required"] for p in operation["parameters"])
        assert operation["operationId"].startswith(f"list_{listing.resource}_")
        assert operation["tags"] == [listing.route_tag]
        assert operation["description"] == listing.description


def test_an_undeclared_filter_is_a_type_error(migrated_engine: Engine) -> None:
    params = ListParams(limit=1, cursor=None, order=Order.DESC)
    with migrated_engine.connect() as conn:
        for listing in LISTINGS.values():
            items, cursor = listing.read(conn, params)  # no filter: the first page
            assert isinstance(items, list) and (cursor is None or isinstance(cursor, str))
            with pytest.raises(TypeError, match="has no filter"):
                listing.read(conn, params, chain_idd=1)
