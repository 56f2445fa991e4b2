"""The read side's listings, declared once: per resource its filters (query parameter and SQL
predicate), its sort key (the cursor's key), its time column (``since``/``until``), its statement
and how its rows become response items.

Both readers use these definitions: the API's routes are generated from them
(:func:`indexer.api.routers.listing.add_listing`: parameters, OpenAPI and handler) and the explorer
calls :meth:`Listing.read` with the filters its forms offer. The hot path
(:mod:`indexer.api.hot`) serves ``/v1/payouts?staker=`` only when ``staker`` (and the paging
parameters) is all the request carries; any other filter, including one added here later, goes to
the generated route, and ``tests/indexer/test_api_hot_property.py`` proves the two answer the same.

Invariants:

* a listing orders by a unique key and reads ``limit + 1`` rows past the cursor
  (:func:`indexer.api.queries.paged`); every filter is an indexed predicate ANDed to the statement;
* ``chain_id`` (the client chain) is the one filter that is not indexed: a deployment has a handful
  of chains, so it stays a residual predicate of the id-ordered scan (see :mod:`storage.models`);
* a filter whose value is None (the parameter was not given) does not filter;
* adding a filter is one :class:`Filter` line in the listing's ``filters``: the parameter appears
  in the route, in ``/openapi.json`` and in :meth:`Listing.read`, in the order of the tuple.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from sqlalchemy import ColumnElement, Connection, Row, Select, select

from indexer.api import queries, schemas
from indexer.api.display import Names
from indexer.api.params import (
    ADDRESS,
    HASH,
    AvsQ,
    ChainIdQ,
    ClaimStatus,
    EpochQ,
    OperatorQ,
    PacketKindName,
    PacketStatus,
    PayoutStatus,
    SlashStatus,
    StakerQ,
    TokenQ,
    TxStatus,
)
from indexer.api.queries import ListParams
from relayer.protocol.kinds import PacketKind, TxPurpose
from storage.models import (
    claim_signer_table,
    claim_table,
    distribution_table,
    l1_tx_table,
    leaf_table,
    packet_table,
    payout_table,
    slash_asset_table,
    slash_table,
    valset_l1_table,
    valset_table,
)

ItemT = TypeVar("ItemT")

Predicate = Callable[[Any], ColumnElement[bool]]
"""A filter's SQL: the parameter's (normalised) value -> the condition ANDed to the statement."""


def sql_value(value: Any) -> Any:
    """A validated query parameter as the database stores it: enums by value, text (addresses,
    hashes) in lower case, numbers as they are."""
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, str):
        return value.lower()
    return value


def as_given(value: Any) -> Any:
    return value


def equal(column: ColumnElement[Any]) -> Predicate:
    """``column = value`` (the common filter)."""
    return lambda value: column == value


@dataclass(frozen=True, eq=False)
class Filter:
    """One filter of a listing: the query parameter (name and FastAPI type, validated before a
    handler runs) and the SQL condition it adds."""

    name: str
    parameter: Any
    where: Predicate
    normalize: Callable[[Any], Any] = sql_value
    """The parameter's value -> the predicate's argument (the route applies it; the explorer
    passes stored values already)."""


@dataclass(frozen=True, eq=False)
class Listing(Generic[ItemT]):
    """One paginated listing of the API (``GET /v1/<resource>``) and of the explorer."""

    resource: str
    """Names the route (``list_<resource>``); by default also its path and OpenAPI tag."""
    item: type[ItemT]
    description: str
    """The route's OpenAPI description."""
    statement: Callable[[], Select[Any]]
    """The rows' statement before filters and paging."""
    key: ColumnElement[int]
    """The unique sort key (and the cursor's value)."""
    created: ColumnElement[Any] | None
    """The column ``since``/``until`` bound (None: the listing has no time filter)."""
    filters: tuple[Filter, ...]
    render: Callable[[Connection, Sequence[Row[Any]]], list[ItemT]]
    path: str | None = None
    """Path under ``/v1`` (None: ``/<resource>``)."""
    tag: str | None = None
    """OpenAPI tag (None: the resource)."""

    @property
    def route_path(self) -> str:
        return self.path or f"/{self.resource}"

    @property
    def route_tag(self) -> str:
        return self.tag or self.resource

    def read(self, conn: Connection, params: ListParams, **values: Any) -> tuple[list[ItemT], str | None]:
        """One page of items and the next cursor. ``values``: filter name -> stored value (None or
        absent: no filter). An unknown name is a programming error (TypeError), not a no-op."""
        unknown = set(values) - {f.name for f in self.filters}
        if unknown:
            raise TypeError(f"{self.resource} has no filter {sorted(unknown)}")
        conditions = [f.where(value) for f in self.filters if (value := values.get(f.name)) is not None]
        query = self.statement()
        if conditions:
            query = query.where(*conditions)
        rows, cursor = queries.paged(conn, query, self.key, params, self.created)
        return self.render(conn, rows), cursor


# ---------------------------------------------------------------------------------------- claims

_c = claim_table


def _claims_signed_by(operator: str) -> ColumnElement[bool]:
    s = claim_signer_table
    return _c.c.claim_id.in_(select(s.c.claim_id).where(s.c.operator == operator))


def _claims_paying(staker: str) -> ColumnElement[bool]:
    """Claims one of whose distributions (any client chain's) has a leaf for the staker."""
    leaf, d = leaf_table, distribution_table
    paying = select(leaf.c.distribution_id).where(leaf.c.staker == staker)
    return _c.c.claim_id.in_(select(d.c.claim_id).where(d.c.distribution_id.in_(paying)))


def _claims_on_chain(chain_id: int) -> ColumnElement[bool]:
    """Claims with a distribution root that landed on that client chain."""
    d = distribution_table
    return _c.c.claim_id.in_(select(d.c.claim_id).where(d.c.l1_chain_id == chain_id))


def _claim_items(conn: Connection, rows: Sequence[Row[Any]]) -> list[schemas.ClaimOut]:
    names = Names.load(conn, tokens=[r.token for r in rows], avss=[r.avs_address for r in rows])
    distributions = queries.claim_distributions(conn, [r.claim_id for r in rows])
    return [
        schemas.ClaimOut(**queries.claim_fields_of(r, names), distributions=distributions.get(r.claim_id, []))
        for r in rows
    ]


CLAIMS: Listing[schemas.ClaimOut] = Listing(
    resource="claims",
    item=schemas.ClaimOut,
    description=(
        "Reward claims, newest first. `operator` = a signer; `staker` = paid by the claim's distribution."
    ),
    statement=lambda: select(_c),
    key=_c.c.id,
    created=_c.c.created_at,
    filters=(
        Filter("avs", AvsQ, equal(_c.c.avs_address)),
        Filter("epoch", EpochQ, equal(_c.c.epoch)),
        Filter("token", TokenQ, equal(_c.c.token)),
        Filter("status", Annotated[ClaimStatus | None, Query()], equal(_c.c.state)),
        Filter("operator", OperatorQ, _claims_signed_by),
        Filter("staker", StakerQ, _claims_paying),
        Filter("chain_id", ChainIdQ, _claims_on_chain),
    ),
    render=_claim_items,
)


# ---------------------------------------------------------------------------------------- payouts

_p, _x = payout_table, l1_tx_table


def _payouts_statement() -> Select[Any]:
    # The transaction's state per row as a correlated lookup on l1_tx's unique index: a page is
    # at most `limit` lookups, where a join would let the planner hash all of l1_tx.
    tx_state = select(_x.c.state).where(_x.c.tx_hash == _p.c.l1_tx_hash).scalar_subquery().label("tx_state")
    return select(_p, tx_state)


def _payouts_of_operator(operator: str) -> ColumnElement[bool]:
    leaf = leaf_table
    return (
        select(leaf.c.leaf_index)
        .where(
            leaf.c.distribution_id == _p.c.distribution_id,
            leaf.c.leaf_index == _p.c.leaf_index,
            leaf.c.operator == operator,
        )
        .exists()
    )


def _payout_items(conn: Connection, rows: Sequence[Row[Any]]) -> list[schemas.PayoutOut]:
    names = Names.load(
        conn, tokens=[r.token for r in rows], avss=[r.avs_address for r in rows if r.avs_address]
    )
    return [queries.payout_item(r, names) for r in rows]


PAYOUTS: Listing[schemas.PayoutOut] = Listing(
    resource="payouts",
    item=schemas.PayoutOut,
    description=(
        "Payouts (one per leaf) with the L1 transaction that paid each; `?staker=` is a staker's view."
    ),
    statement=_payouts_statement,
    key=_p.c.id,
    created=_p.c.created_at,
    filters=(
        Filter("staker", StakerQ, equal(_p.c.staker)),
        Filter("token", TokenQ, equal(_p.c.token)),
        Filter("status", Annotated[PayoutStatus | None, Query()], equal(_p.c.state)),
        Filter("avs", AvsQ, equal(_p.c.avs_address)),
        Filter("epoch", EpochQ, equal(_p.c.epoch)),
        Filter("distribution_id", Annotated[str | None, Query(pattern=HASH)], equal(_p.c.distribution_id)),
        Filter(
            "tx_hash",
            Annotated[str | None, Query(pattern=HASH, description="L1 transaction that paid.")],
            equal(_p.c.l1_tx_hash),
        ),
        # Compared as given: an operator is matched exactly as the leaf stores it.
        Filter("operator", OperatorQ, _payouts_of_operator, normalize=as_given),
        Filter("chain_id", ChainIdQ, equal(_p.c.l1_chain_id)),
    ),
    render=_payout_items,
)


# ---------------------------------------------------------------------------------------- withdrawals


def _withdrawals_statement() -> Select[Any]:
    """Withdrawal-approval leaves (payout rows of kind-4 packets) with how each was paid."""
    d, leaf = distribution_table, leaf_table
    tx_state = select(_x.c.state).where(_x.c.tx_hash == _p.c.l1_tx_hash).scalar_subquery().label("tx_state")
    nonce = (
        select(d.c.nonce).where(d.c.distribution_id == _p.c.distribution_id).scalar_subquery().label("nonce")
    )
    request_ids = (
        select(leaf.c.l1_request_ids)
        .where(leaf.c.distribution_id == _p.c.distribution_id, leaf.c.leaf_index == _p.c.leaf_index)
        .scalar_subquery()
        .label("request_ids")
    )
    approvals = select(d.c.distribution_id).where(d.c.packet_kind == queries.WITHDRAWAL_APPROVAL_KIND)
    return select(_p, tx_state, nonce, request_ids).where(_p.c.distribution_id.in_(approvals))


def _withdrawal_items(conn: Connection, rows: Sequence[Row[Any]]) -> list[schemas.WithdrawalOut]:
    names = Names.load(conn, tokens=[r.token for r in rows])
    return [queries.withdrawal_item(r, names) for r in rows]


WITHDRAWALS: Listing[schemas.WithdrawalOut] = Listing(
    resource="withdrawals",
    item=schemas.WithdrawalOut,
    description="Approved withdrawals (one per leaf) and their payment; `?staker=` is a staker's view.",
    statement=_withdrawals_statement,
    key=_p.c.id,
    created=_p.c.created_at,
    filters=(
        Filter("staker", StakerQ, equal(_p.c.staker)),
        Filter("token", TokenQ, equal(_p.c.token)),
        Filter("status", Annotated[PayoutStatus | None, Query()], equal(_p.c.state)),
        Filter("approval_id", Annotated[str | None, Query(pattern=HASH)], equal(_p.c.distribution_id)),
        Filter("chain_id", ChainIdQ, equal(_p.c.l1_chain_id)),
    ),
    render=_withdrawal_items,
)


# ---------------------------------------------------------------------------------------- slashes

_s = slash_table


def _slashes_of_operator(operator: str) -> ColumnElement[bool]:
    """An operator by its 0x address or its Exocore account, whichever was given."""
    column = _s.c.operator_address if operator.startswith("0x") else _s.c.operator
    return column == operator


def _slashes_of_token(token: str) -> ColumnElement[bool]:
    a = slash_asset_table
    return _s.c.slash_id.in_(select(a.c.slash_id).where(a.c.token == token))


def _slash_items(conn: Connection, rows: Sequence[Row[Any]]) -> list[schemas.SlashOut]:
    assets, signers = queries.slash_children(conn, [r.slash_id for r in rows])
    names = Names.load(conn, avss=[r.avs_address for r in rows], operators=[r.operator for r in rows])
    return [schemas.SlashOut(**queries.slash_fields(r, assets, signers, names)) for r in rows]


SLASHES: Listing[schemas.SlashOut] = Listing(
    resource="slashes",
    item=schemas.SlashOut,
    description="Slashes with evidence kind, signers, per-token amounts and freeze.",
    statement=lambda: select(_s),
    key=_s.c.id,
    created=_s.c.created_at,
    filters=(
        Filter("avs", AvsQ, equal(_s.c.avs_address)),
        Filter("operator", OperatorQ, _slashes_of_operator),
        Filter("status", Annotated[SlashStatus | None, Query()], equal(_s.c.state)),
        Filter("token", TokenQ, _slashes_of_token),
        Filter("chain_id", ChainIdQ, equal(_s.c.l1_chain_id)),
    ),
    render=_slash_items,
)


# ---------------------------------------------------------------------------------------- packets

_k = packet_table


def _packets_of_kind(label: str) -> ColumnElement[bool]:
    """The API names a kind by its label; the table stores its code."""
    return _k.c.kind == PacketKind.from_label(label).value


PACKETS: Listing[schemas.PacketOut] = Listing(
    resource="packets",
    item=schemas.PacketOut,
    description="Relay packets and how far each got.",
    statement=lambda: select(_k),
    key=_k.c.id,
    created=_k.c.created_at,
    filters=(
        Filter("kind", Annotated[PacketKindName | None, Query()], _packets_of_kind),
        Filter("status", Annotated[PacketStatus | None, Query()], equal(_k.c.state)),
        Filter("avs", AvsQ, equal(_k.c.avs_address)),
        Filter(
            "subject_id",
            Annotated[str | None, Query(pattern=HASH, description="Claim or slash id.")],
            equal(_k.c.subject_id),
        ),
        Filter("chain_id", ChainIdQ, equal(_k.c.l1_chain_id)),
    ),
    render=lambda _conn, rows: [queries.packet_item(r) for r in rows],
)


# ---------------------------------------------------------------------------------------- L1 transactions

L1_TXS: Listing[schemas.L1TxOut] = Listing(
    resource="l1_txs",
    path="/l1/txs",
    tag="l1",
    item=schemas.L1TxOut,
    description="L1 transactions, every replacement included (`replaces_tx_hash`).",
    statement=lambda: select(_x),
    key=_x.c.id,
    created=_x.c.created_at,
    filters=(
        Filter("status", Annotated[TxStatus | None, Query()], equal(_x.c.state)),
        Filter("purpose", Annotated[TxPurpose | None, Query()], equal(_x.c.purpose)),
        Filter("sender", Annotated[str | None, Query(pattern=ADDRESS)], equal(_x.c.sender)),
        Filter("distribution_id", Annotated[str | None, Query(pattern=HASH)], equal(_x.c.distribution_id)),
        Filter("chain_id", ChainIdQ, equal(_x.c.chain_id)),
    ),
    render=lambda _conn, rows: [queries.l1_tx_item(r) for r in rows],
)


# ---------------------------------------------------------------------------------------- valsets

_v = valset_table


def _valsets_on_chain(chain_id: int) -> ColumnElement[bool]:
    """Sets that client chain's gateway installed."""
    i = valset_l1_table
    return _v.c.valset_nonce.in_(select(i.c.valset_nonce).where(i.c.l1_chain_id == chain_id))


VALSETS: Listing[schemas.ValsetOut] = Listing(
    resource="valsets",
    item=schemas.ValsetOut,
    description="Relay validator sets, each with its installation on every client chain that installed it.",
    statement=lambda: select(_v),
    key=_v.c.valset_nonce,
    created=_v.c.created_at,
    filters=(Filter("chain_id", ChainIdQ, _valsets_on_chain),),
    render=queries.valset_items,
)


LISTINGS: Mapping[str, Listing[Any]] = {
    listing.resource: listing for listing in (CLAIMS, PAYOUTS, WITHDRAWALS, SLASHES, PACKETS, L1_TXS, VALSETS)
}
"""Every declared listing by resource."""
