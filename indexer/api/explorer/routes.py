"""The explorer's pages: one handler per page, each a few calls of :mod:`indexer.api.queries`.

Query parameters are checked with the API's own patterns, but a bad one is shown next to its form
field (HTTP 400 with the page) instead of the API's JSON error: people type these by hand.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError

from indexer.api import listings, queries, schemas
from indexer.api.display import amount_text, power_text, unit_of
from indexer.api.explorer import views
from indexer.api.explorer.lookups import AvsChoice, known_avss
from indexer.api.pagination import MAX_PAGE_SIZE, CursorError, Order
from indexer.api.queries import ListParams
from indexer.api.routers.collections import collection_detail, collection_progress
from storage.lifecycle import ClaimState, EntityKind, PayoutState, SlashState
from storage.normalize import BIGINT_MAX

PACKAGE_DIR: Final = Path(__file__).resolve().parent
TEMPLATES_DIR: Final = PACKAGE_DIR / "templates"
STATIC_DIR: Final = PACKAGE_DIR / "static"
STATIC_PATH: Final = "/static"
STATIC_ROUTE_NAME: Final = "explorer-static"

PAGE_SIZE: Final = 25
"""Rows per listing page: a screenful on a laptop; ``?limit=`` (up to the API's maximum) overrides it."""
COMMITTEE_PAGE_SIZE: Final = 5
"""Epochs per committees page: each is a table of its own, five already fill a screen."""
STAKER_SUMMARY_MAX_PAYOUTS: Final = 5_000
"""The per-AVS/token totals read a staker's payouts page by page up to this many (a few requests of
the API's maximum page); past it the totals say they cover only the first ones."""
STATS_POLL_INTERVAL_S: Final = 5.0
"""How often the backlog counters re-read ``/v1/stats``: live enough to watch a relay, and one
request every 5 s per open tab costs the API nothing. Tests set ``app.state.explorer_poll_interval_s``."""

CLAIM_STATES: Final = tuple(s.value for s in ClaimState)
SLASH_STATES: Final = tuple(s.value for s in SlashState)
PAYOUT_STATES: Final = tuple(s.value for s in PayoutState)
STAT_KINDS: Final = (
    ("claim", "Claims"),
    ("packet", "Packets"),
    ("payout", "Payouts"),
    ("slash", "Slashes"),
    ("l1_tx", "L1 transactions"),
)

_ADDRESS = re.compile(schemas.ADDRESS_PATTERN)
_HASH = re.compile(schemas.HASH_PATTERN)
_CURSOR = re.compile(r"^[A-Za-z0-9_-]{1,200}$")


class NotFoundError(LookupError):
    """The page's object does not exist (HTTP 404 page)."""


class Form:
    """A page's query parameters, checked like the API checks them; problems are collected per field."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.values: dict[str, str] = {}
        self.errors: dict[str, str] = {}

    @property
    def ok(self) -> bool:
        return not self.errors

    def text(self, name: str) -> str | None:
        raw = self.request.query_params.get(name)
        value = None if raw is None else raw.strip()
        if not value:
            return None
        self.values[name] = value
        return value

    def address(self, name: str, label: str) -> str | None:
        value = self.text(name)
        if value is not None and not _ADDRESS.match(value):
            self.errors[name] = f"{label} must be a 0x address: 0x followed by 40 hex digits."
            return None
        return None if value is None else value.lower()

    def integer(self, name: str, label: str, low: int = 0, high: int = BIGINT_MAX) -> int | None:
        value = self.text(name)
        if value is None:
            return None
        if not value.isdigit() or not low <= int(value) <= high:
            self.errors[name] = f"{label} must be a whole number from {low} to {high}."
            return None
        return int(value)

    def choice(self, name: str, label: str, choices: Iterable[str]) -> str | None:
        value = self.text(name)
        allowed = tuple(choices)
        if value is not None and value not in allowed:
            self.errors[name] = f"{label} must be one of: {', '.join(allowed)}."
            return None
        return value

    def list_params(self, default_limit: int, order: Order = Order.DESC) -> ListParams:
        limit = self.integer("limit", "Page size", 1, MAX_PAGE_SIZE) or default_limit
        cursor = self.text("cursor")
        if cursor is not None and not _CURSOR.match(cursor):
            self.errors["cursor"] = "This page link is damaged; start again from the first page."
            cursor = None
        return ListParams(limit=limit, cursor=cursor, order=order)

    def url(self, **changes: str | None) -> str:
        """This page with its filters, some parameters changed (None removes one)."""
        params = {k: v for k, v in self.values.items() if k not in changes}
        params.update({k: v for k, v in changes.items() if v is not None})
        query = urlencode(sorted(params.items()))
        return self.request.url.path + (f"?{query}" if query else "")


def _asset_version(directory: Path) -> str:
    """A digest of the static files, appended to their URLs: a new release is never served stale CSS/JS."""
    digest = hashlib.sha256()
    for path in sorted(directory.iterdir()):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        auto_reload=False,  # templates ship with the package: no stat() per render to look for edits
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["grouped"] = views.grouped
    env.filters["duration"] = views.duration
    env.filters["utc"] = views.utc_text
    # The API's formatters (relayer.protocol.units), for figures the API has no display field for.
    env.filters["usd"] = power_text
    env.filters["amount_in"] = lambda value, symbol, decimals: amount_text(value, unit_of(symbol, decimals))
    env.globals.update(
        CHAIN_NAMES=views.CHAIN_NAMES,
        LEAF_KINDS=views.LEAF_KINDS,
        FUNDING_MODES=views.FUNDING_MODES,
        FIGURE_WIDTH=views.FIGURE_WIDTH,
    )
    version = _asset_version(STATIC_DIR)
    env.globals["static_url"] = lambda name: f"{STATIC_PATH}/{name}?v={version}"
    return env


def mount_explorer(app: FastAPI, engine: Engine, clock: Callable[[], datetime]) -> None:
    """Serve the explorer's pages at ``/`` and its assets at ``/static`` (neither in the OpenAPI spec)."""
    app.state.explorer_poll_interval_s = STATS_POLL_INTERVAL_S
    templates = Jinja2Templates(env=_environment())
    app.include_router(_router(engine, clock, templates))
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name=STATIC_ROUTE_NAME)


class _Site:
    """The explorer's pages over one read-only engine: each ``*_page`` method is one route (see
    :func:`_router`); ``page`` turns a builder's context (or its not-found / bad-cursor / database
    error) into the rendered answer."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime], templates: Jinja2Templates) -> None:
        self.engine = engine
        self.clock = clock
        self.templates = templates

    def render(self, request: Request, template: str, status: int, context: Mapping[str, Any]) -> Response:
        return self.templates.TemplateResponse(request, template, dict(context), status_code=status)

    def page(
        self,
        request: Request,
        template: str,
        nav: str,
        build: Callable[[Connection, Form], Mapping[str, Any]],
    ) -> Response:
        form = Form(request)
        base: dict[str, Any] = {"nav": nav, "form": form}
        try:
            with self.engine.connect() as conn:
                context = build(conn, form)
        except NotFoundError as exc:
            return self.render(
                request, "error.html", 404, {**base, "title": "Not found", "message": str(exc)}
            )
        except CursorError:
            message = "This page link is no longer valid; start again from the first page."
            return self.render(
                request, "error.html", 400, {**base, "title": "Bad page link", "message": message}
            )
        except OperationalError:
            message = "The indexer database is not answering. Try again in a moment."
            return self.render(
                request, "error.html", 503, {**base, "title": "Unavailable", "message": message}
            )
        return self.render(request, template, 200 if form.ok else 400, {**base, **context})

    def pager(self, form: Form, next_cursor: str | None) -> dict[str, str | None]:
        return {
            "next_url": None if next_cursor is None else form.url(cursor=next_cursor),
            "first_url": form.url(cursor=None) if "cursor" in form.values else None,
        }

    def avs_choices(self, conn: Connection, selected: str | None) -> list[AvsChoice]:
        choices = known_avss(conn)
        if selected is not None and selected not in {c.address for c in choices}:
            choices.append(AvsChoice(selected, ""))
        return choices

    def claims_page(self, request: Request) -> Response:
        def build(conn: Connection, form: Form) -> Mapping[str, Any]:
            avs = form.address("avs", "AVS")
            epoch = form.integer("epoch", "Epoch")
            state = form.choice("state", "State", CLAIM_STATES)
            chain_id = form.integer("chain_id", "Client chain")
            params = form.list_params(PAGE_SIZE)
            claims: list[schemas.ClaimOut] = []
            next_cursor = None
            if form.ok:
                claims, next_cursor = listings.CLAIMS.read(
                    conn, params, avs=avs, epoch=epoch, status=state, chain_id=chain_id
                )
            return {
                "title": "Claims",
                "claims": claims,
                "avss": self.avs_choices(conn, avs),
                "claim_states": CLAIM_STATES,
                "stats": queries.stats(conn, self.clock()),
                "stat_kinds": STAT_KINDS,
                "poll_interval_ms": int(request.app.state.explorer_poll_interval_s * 1000),
                "filtered": any(v is not None for v in (avs, epoch, state, chain_id)),
                **self.pager(form, next_cursor),
            }

        return self.page(request, "claims.html", "claims", build)

    def claim_page(self, request: Request, claim_id: str) -> Response:
        def build(conn: Connection, _form: Form) -> Mapping[str, Any]:
            detail = queries.claim_detail(conn, claim_id.lower()) if _HASH.match(claim_id) else None
            if detail is None:
                raise NotFoundError(f"There is no claim {claim_id}.")
            return {
                "title": "Claim",
                "claim": detail,
                "quorum": views.claim_quorum(detail),
                "stage_progress": collection_progress(detail.collection),
                "timeline": views.timeline(detail.timeline, EntityKind.CLAIM, detail.status, self.clock()),
            }

        return self.page(request, "claim.html", "claims", build)

    def collection_page(self, request: Request, digest: str) -> Response:
        def build(conn: Connection, _form: Form) -> Mapping[str, Any]:
            found = collection_detail(conn, digest.lower()) if _HASH.match(digest) else None
            if found is None:
                raise NotFoundError(f"No aggregator collected signatures for {digest}.")
            return {"title": "Collection", "collection": found, "progress": collection_progress(found)}

        return self.page(request, "collection.html", "claims", build)

    def distribution_page(self, request: Request, distribution_id: str) -> Response:
        def build(conn: Connection, form: Form) -> Mapping[str, Any]:
            did = distribution_id.lower()
            detail = queries.distribution_detail(conn, did) if _HASH.match(distribution_id) else None
            if detail is None:
                raise NotFoundError(f"There is no distribution {distribution_id}.")
            staker = form.address("staker", "Staker")
            status = form.choice("status", "Payout state", PAYOUT_STATES)
            params = form.list_params(PAGE_SIZE, Order.ASC)
            leaves: list[schemas.LeafOut] = []
            next_cursor = None
            if form.ok:
                leaves, next_cursor = queries.list_leaves(conn, did, params, staker=staker, status=status)
            return {
                "title": "Distribution",
                "distribution": detail,
                "paid": views.Share(int(detail.paid_amount), int(detail.total)),
                "leaves": leaves,
                "payout_states": PAYOUT_STATES,
                "filtered": staker is not None or status is not None,
                **self.pager(form, next_cursor),
            }

        return self.page(request, "distribution.html", "claims", build)

    def staker_page(self, request: Request) -> Response:
        def build(conn: Connection, form: Form) -> Mapping[str, Any]:
            staker = form.address("staker", "Staker")
            status = form.choice("status", "Payout state", PAYOUT_STATES)
            chain_id = form.integer("chain_id", "Client chain")
            params = form.list_params(PAGE_SIZE)
            context: dict[str, Any] = {
                "title": "Staker payouts",
                "staker": staker,
                "payout_states": PAYOUT_STATES,
                "payouts": [],
                "totals": [],
                "truncated": False,
                "next_url": None,
                "first_url": None,
                "cumulative": None,
                "leaf_claims": None,
            }
            if staker is None or not form.ok:
                return context
            context["cumulative"] = queries.cumulative_staker(conn, staker, chain_id)
            context["leaf_claims"] = queries.leaf_claims(conn, staker)
            everything, truncated = _all_payouts(conn, staker)
            payouts, next_cursor = listings.PAYOUTS.read(
                conn, params, staker=staker, status=status, chain_id=chain_id
            )
            context.update(
                payouts=payouts,
                totals=views.payout_totals(everything),
                truncated=truncated,
                **self.pager(form, next_cursor),
            )
            return context

        return self.page(request, "staker.html", "stakers", build)

    def slashes_page(self, request: Request) -> Response:
        def build(conn: Connection, form: Form) -> Mapping[str, Any]:
            avs = form.address("avs", "AVS")
            state = form.choice("state", "State", SLASH_STATES)
            chain_id = form.integer("chain_id", "Client chain")
            params = form.list_params(PAGE_SIZE)
            slashes: list[schemas.SlashOut] = []
            next_cursor = None
            if form.ok:
                slashes, next_cursor = listings.SLASHES.read(
                    conn, params, avs=avs, status=state, chain_id=chain_id
                )
            return {
                "title": "Slashes",
                "slashes": slashes,
                "avss": self.avs_choices(conn, avs),
                "slash_states": SLASH_STATES,
                "filtered": any(v is not None for v in (avs, state, chain_id)),
                **self.pager(form, next_cursor),
            }

        return self.page(request, "slashes.html", "slashes", build)

    def valsets_page(self, request: Request) -> Response:
        def build(conn: Connection, form: Form) -> Mapping[str, Any]:
            chain_id = form.integer("chain_id", "Client chain")
            params = form.list_params(PAGE_SIZE)
            valsets: list[schemas.ValsetOut] = []
            next_cursor = None
            if form.ok:
                valsets, next_cursor = listings.VALSETS.read(conn, params, chain_id=chain_id)
            return {
                "title": "Validator sets",
                "valsets": valsets,
                "filtered": chain_id is not None,
                **self.pager(form, next_cursor),
            }

        return self.page(request, "valsets.html", "valsets", build)

    def slash_page(self, request: Request, slash_id: str) -> Response:
        def build(conn: Connection, _form: Form) -> Mapping[str, Any]:
            detail = queries.slash_detail(conn, slash_id.lower()) if _HASH.match(slash_id) else None
            if detail is None:
                raise NotFoundError(f"There is no slash {slash_id}.")
            return {
                "title": "Slash",
                "slash": detail,
                "stage_progress": collection_progress(detail.collection),
                "timeline": views.timeline(detail.timeline, EntityKind.SLASH, detail.status, self.clock()),
            }

        return self.page(request, "slash.html", "slashes", build)

    def rewards_page(self, request: Request) -> Response:
        def build(conn: Connection, form: Form) -> Mapping[str, Any]:
            avs = form.address("avs", "AVS")
            chain_id = form.integer("chain_id", "Client chain")
            found = (
                queries.reward_sources(conn, avs=avs, chain_id=chain_id)
                if form.ok
                else schemas.RewardSourcesOut(sources=[])
            )
            return {"title": "Reward sources", "sources": found.sources, "avss": self.avs_choices(conn, avs)}

        return self.page(request, "rewards.html", "rewards", build)

    def committees_page(self, request: Request) -> Response:
        def build(conn: Connection, form: Form) -> Mapping[str, Any]:
            avs = form.address("avs", "AVS")
            epoch = form.integer("epoch", "Epoch")
            params = form.list_params(COMMITTEE_PAGE_SIZE)
            choices = self.avs_choices(conn, avs)
            if avs is None and choices and form.ok:
                avs = choices[0].address
                form.values["avs"] = avs
            committees: list[schemas.CommitteeOut] = []
            next_cursor = None
            if avs is not None and form.ok:
                committees, next_cursor = queries.list_committees(
                    conn, avs, params, epoch=epoch, operator=None
                )
            return {
                "title": "Committees",
                "avs": avs,
                "avss": choices,
                "committees": [(c, views.committee_quorum(c)) for c in committees],
                "funding": queries.avs_funding(conn, avs) if avs is not None and form.ok else None,
                **self.pager(form, next_cursor),
            }

        return self.page(request, "committees.html", "committees", build)


def _router(engine: Engine, clock: Callable[[], datetime], templates: Jinja2Templates) -> APIRouter:
    """The pages in matching order (a path is matched against them top to bottom)."""
    site = _Site(engine, clock, templates)
    router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
    router.add_api_route("/", site.claims_page, name="explorer_claims", methods=["GET"])
    router.add_api_route("/claims/{claim_id}", site.claim_page, name="explorer_claim", methods=["GET"])
    router.add_api_route(
        "/distributions/{distribution_id}",
        site.distribution_page,
        name="explorer_distribution",
        methods=["GET"],
    )
    router.add_api_route("/stakers", site.staker_page, name="explorer_staker", methods=["GET"])
    router.add_api_route("/slashes", site.slashes_page, name="explorer_slashes", methods=["GET"])
    router.add_api_route("/valsets", site.valsets_page, name="explorer_valsets", methods=["GET"])
    router.add_api_route("/slashes/{slash_id}", site.slash_page, name="explorer_slash", methods=["GET"])
    router.add_api_route("/committees", site.committees_page, name="explorer_committees", methods=["GET"])
    router.add_api_route("/rewards", site.rewards_page, name="explorer_rewards", methods=["GET"])
    router.add_api_route(
        "/collections/{digest}", site.collection_page, name="explorer_collection", methods=["GET"]
    )
    return router


def _all_payouts(conn: Connection, staker: str) -> tuple[list[schemas.PayoutOut], bool]:
    """A staker's payouts, oldest first, up to STAKER_SUMMARY_MAX_PAYOUTS (True: there are more)."""
    found: list[schemas.PayoutOut] = []
    cursor: str | None = None
    while True:
        limit = min(MAX_PAGE_SIZE, STAKER_SUMMARY_MAX_PAYOUTS - len(found))
        items, cursor = listings.PAYOUTS.read(
            conn, ListParams(limit=limit, cursor=cursor, order=Order.ASC), staker=staker
        )
        found.extend(items)
        if cursor is None:
            return found, False
        if len(found) >= STAKER_SUMMARY_MAX_PAYOUTS:
            return found, True
