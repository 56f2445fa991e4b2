"""A listing's route, generated from its declaration (:class:`indexer.api.listings.Listing`).

The handler's signature is built from the listing's filters (in their order), then the parameters
every listing shares (``since``, ``until``, ``limit``, ``cursor``, ``order``); FastAPI validates
them, documents them in ``/openapi.json`` and calls the handler, which normalises each filter's
value, reads one page on the read-only engine and answers ``Page[item]``.

Invariant: a listing's route has no hand-written parameter, so a filter declared once is served
and documented with nothing else to change.
"""

from __future__ import annotations

import inspect
from typing import Any

from fastapi import APIRouter

from indexer.api import schemas
from indexer.api.listings import Listing
from indexer.api.pagination import DEFAULT_PAGE_SIZE, Order
from indexer.api.params import CursorQ, Limit, OrderQ, Reader, Since, Until, list_params

_PAGING: tuple[tuple[str, Any, Any], ...] = (
    ("since", Since, None),
    ("until", Until, None),
    ("limit", Limit, DEFAULT_PAGE_SIZE),
    ("cursor", CursorQ, None),
    ("order", OrderQ, Order.DESC),
)
"""The parameters every listing takes after its filters: name, type, default."""


def add_listing(v1: APIRouter, read: Reader, listing: Listing[Any]) -> None:
    """Adds ``GET <path>`` answering ``Page[item]`` to ``v1`` (which adds the shared error
    responses); the route's name is ``list_<resource>``, its description the listing's."""
    page: Any = schemas.Page[listing.item]  # type: ignore[name-defined]
    keyword = inspect.Parameter.KEYWORD_ONLY
    signature = inspect.Signature(
        [inspect.Parameter(f.name, keyword, default=None, annotation=f.parameter) for f in listing.filters]
        + [
            inspect.Parameter(name, keyword, default=default, annotation=kind)
            for name, kind, default in _PAGING
        ],
        return_annotation=page,
    )

    def endpoint(**arguments: Any) -> Any:
        params = list_params(
            arguments["limit"],
            arguments["cursor"],
            arguments["order"],
            arguments["since"],
            arguments["until"],
        )
        values = {
            f.name: f.normalize(arguments[f.name]) for f in listing.filters if arguments[f.name] is not None
        }
        items, next_cursor = read(lambda conn: listing.read(conn, params, **values))
        return page(items=items, next_cursor=next_cursor)

    endpoint.__signature__ = signature  # type: ignore[attr-defined]
    endpoint.__name__ = endpoint.__qualname__ = f"list_{listing.resource}"
    endpoint.__doc__ = listing.description
    v1.add_api_route(
        listing.route_path, endpoint, methods=["GET"], response_model=page, tags=[listing.route_tag]
    )
