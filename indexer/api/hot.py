"""The two hottest reads, lean: a staker's payouts (``/v1/payouts?staker=``) and a claim's detail
with its timeline (``/v1/claims/{id}``).

Through FastAPI and the SQLAlchemy ORM layer a request cost ~1 ms of CPU (parameter models, a
thread-pool hop, statement compilation, row processing, response-model validation), most of the
~1.5 ms a worker spent per request; on two cores shared with PostgreSQL that capped a worker at
~650 requests/s. Here each request is:

* recognised by :class:`HotRoutes`, an ASGI middleware in front of the routes, only when every
  parameter is one it fully validates (anything else, and every error case, goes on to the
  FastAPI route, which stays the reference and the OpenAPI documentation);
* answered with statements compiled once per dialect and run on the raw DBAPI connection, one
  round trip (the claim's three statements in one PostgreSQL pipeline; psycopg prepares them
  server-side after a few executions);
* serialised by pydantic-core's ``to_json`` straight from dicts, no models: same encoder, so the
  same JSON as the response models (tests compare both paths field for field).

On PostgreSQL a worker keeps one connection of its own (autocommit, read-only session) and runs
these short, index-bounded statements on the event loop itself: no pool checkout, no
BEGIN/ROLLBACK, no thread hop. ``statement_timeout`` bounds how long one can hold the loop.
SQLite (the embedded default) runs them in the thread pool through the engine's pool.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import anyio.to_thread
from prometheus_client import Counter
from pydantic_core import to_json
from sqlalchemy import (
    ClauseElement,
    Connection,
    Engine,
    String,
    and_,
    any_,
    bindparam,
    cast,
    func,
    literal_column,
    or_,
    select,
    union,
    union_all,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.elements import BindParameter
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from indexer.api.display import claim_fields, payout_fields, power_text, unit_of
from indexer.api.pagination import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    CursorError,
    Order,
    decode_cursor,
    encode_cursor,
)
from relayer.protocol.kinds import PacketKind
from storage.aggregation import aggregation_request_table
from storage.lifecycle import EntityKind, distribution_claim_stage
from storage.models import (
    avs_table,
    claim_signer_table,
    claim_table,
    distribution_table,
    l1_tx_table,
    packet_table,
    payout_table,
    transition_table,
)
from storage.token_tables import token_unit_table

log = logging.getLogger(__name__)

HOT_STATEMENT_TIMEOUT_MS: Final = 2_000
"""A hot statement is an index lookup of at most ``MAX_PAGE_SIZE + 1`` rows (well under 10 ms even
on a cold cache); one running this long means a broken plan, and it would hold the worker's event
loop, so PostgreSQL cancels it and the request falls back to the regular route."""

HOT_APPLICATION_NAME: Final = "exorelay-api-hot"
"""``application_name`` of the hot readers' connections (suffixed ``/<pid>/<reader>``)."""

HOT_RECONNECT_BACKOFF_S: Final = 5.0
"""After a failed connection attempt the hot requests go to their routes (the engine's pool, in
threads) for this long before the next attempt: a database that is down costs the event loop
nothing, and the routes answer 503 as before."""

HOT_TCP_USER_TIMEOUT_MS: Final = 5_000
"""Data unacknowledged this long drops the hot connection (Linux ``TCP_USER_TIMEOUT``): across a
network partition a hot read, which holds the worker's event loop, then fails within seconds
instead of after the kernel's ~15 minutes of retransmissions."""

HOT_KEEPALIVE: Final = {"TCP_KEEPIDLE": 2, "TCP_KEEPINTVL": 1, "TCP_KEEPCNT": 3}
"""Seconds idle before the first probe, seconds between probes, probes: a peer that vanished while
the hot connection waits for an answer is given up after ~5 s (``HOT_TCP_USER_TIMEOUT_MS``)."""

REWARD_PACKET_KIND: Final = int(PacketKind.REWARD_DISTRIBUTION)
"""``distribution.packet_kind`` of a claim's distribution (a withdrawal approval's is 4)."""

PACKET_KIND_LABELS: Final = {kind.value: kind.label for kind in PacketKind}
"""Code to API name (:attr:`PacketKind.label`), looked up per row on the hot path."""

_JSON_HEADERS: Final = (b"content-type", b"application/json")
_ADDRESS = re.compile(rb"0x[0-9a-fA-F]{40}")
_HASH = re.compile(r"0x[0-9a-fA-F]{64}")
_LIMIT = re.compile(rb"[1-9][0-9]{0,2}")
_CURSOR = re.compile(rb"[A-Za-z0-9_-]{1,200}")
_CLAIMS_PREFIX: Final = "/v1/claims/"


# ---------------------------------------------------------------------------------------- statements


@dataclass(frozen=True)
class Compiled:
    """One statement compiled for one dialect: SQL text and how to lay out its parameters."""

    sql: str
    positional: tuple[str, ...] | None
    defaults: Mapping[str, Any]

    @classmethod
    def of(cls, statement: ClauseElement, dialect: Dialect) -> Compiled:
        compiled = statement.compile(dialect=dialect)
        order = getattr(compiled, "positiontup", None)  # SQLCompiler: set for positional paramstyles
        positional = tuple(order) if order is not None else None
        return cls(compiled.string, positional, dict(compiled.params))

    def parameters(self, values: Mapping[str, Any]) -> Any:
        merged = {**self.defaults, **values}
        if self.positional is None:
            return merged
        return tuple(merged[name] for name in self.positional)


_PAYOUT_COLUMNS: Final = (
    "id",
    "distribution_id",
    "leaf_index",
    "staker",
    "token",
    "amount",
    "avs_address",
    "epoch",
    "state",
    "l1_tx_hash",
    "l1_block_number",
    "l1_block_hash",
    "l1_log_index",
    "created_at",
    "updated_at",
)
_CLAIM_COLUMNS: Final = (
    "claim_id",
    "avs_address",
    "epoch",
    "token",
    "funding",
    "total_amount",
    "state",
    "reason_code",
    "reason",
    "signed_power",
    "total_power",
    "threshold_numerator",
    "threshold_denominator",
    "distribution_id",
    "submitted_height",
    "created_at",
    "updated_at",
)
_DISTRIBUTION_COLUMNS: Final = (
    "distribution_id",
    "nonce",
    "total",
    "leaf_count",
    "merkle_root",
    "l1_block_number",
    "l1_block_hash",
    "l1_tx_hash",
    "l1_log_index",
    "l1_finalized",
)
_PACKET_COLUMNS: Final = (
    "nonce",
    "kind",
    "valset_nonce",
    "state",
    "subject_id",
    "distribution_id",
    "avs_address",
    "payload_hash",
    "digest",
    "exocore_height",
    "signed_power",
    "total_power",
    "l1_block_number",
    "l1_block_hash",
    "l1_tx_hash",
    "l1_log_index",
    "l1_chain_id",
    "created_at",
    "updated_at",
)
_TRANSITION_COLUMNS: Final = (
    "id",
    "entity_kind",
    "entity_id",
    "from_state",
    "to_state",
    "edge",
    "chain",
    "height",
    "block_hash",
    "tx_hash",
    "log_index",
    "at",
    "reason",
    "reverses_id",
)


def _payout_statement(order: Order, after: bool) -> ClauseElement:
    p, x = payout_table, l1_tx_table
    # The transaction's state per row: at most `limit` lookups on l1_tx's unique index.
    tx_state = select(x.c.state).where(x.c.tx_hash == p.c.l1_tx_hash).scalar_subquery()
    # The display fields' token unit and AVS name: primary-key lookups in two small tables.
    u, a = token_unit_table, avs_table
    symbol = select(u.c.symbol).where(u.c.token == p.c.token).scalar_subquery()
    decimals = select(u.c.decimals).where(u.c.token == p.c.token).scalar_subquery()
    avs_name = select(a.c.name).where(a.c.avs_address == p.c.avs_address).scalar_subquery()
    query = select(
        *(p.c[name] for name in _PAYOUT_COLUMNS), tx_state, symbol, decimals, avs_name, p.c.l1_chain_id
    ).where(p.c.staker == bindparam("staker"))
    if after:
        key: BindParameter[int] = bindparam("after")
        query = query.where(p.c.id < key if order is Order.DESC else p.c.id > key)
    ordered = p.c.id.desc() if order is Order.DESC else p.c.id.asc()
    return query.order_by(ordered).limit(bindparam("limit"))


def _const(value: str | int) -> Any:
    """A constant written into the SQL, not bound: a prepared statement's generic plan then knows
    it (``entity_kind = 'claim'`` picks the index; ``= $3`` leaves the planner guessing)."""
    return literal_column(str(value) if isinstance(value, int) else f"'{value}'")


def _claim_statements(dialect: Dialect) -> tuple[ClauseElement, ClauseElement, ClauseElement, ClauseElement]:
    """The claim joined to its (first) distribution and packet; its signers; the timeline of the
    claim, its distributions' packets and their roots' L1 transactions; its distributions (one per
    client chain it pays on). The four are independent (the timeline finds the packets and
    transactions itself with subqueries the planner evaluates once, then looks up by index)."""
    c, d, k, x, t, s = (
        claim_table,
        distribution_table,
        packet_table,
        l1_tx_table,
        transition_table,
        claim_signer_table,
    )
    claim_id: BindParameter[str] = bindparam("claim_id")
    dist_join = or_(
        d.c.distribution_id == c.c.distribution_id,
        and_(c.c.distribution_id.is_(None), d.c.claim_id == c.c.claim_id),
    )
    u, a, r = token_unit_table, avs_table, aggregation_request_table
    joined = (
        select(
            *(c.c[n] for n in _CLAIM_COLUMNS),
            *(d.c[n] for n in _DISTRIBUTION_COLUMNS),
            *(k.c[n] for n in _PACKET_COLUMNS),
            *(r.c[n] for n in COLLECTION_COLUMNS),
            u.c.symbol,
            u.c.decimals,
            a.c.name,
        )
        .select_from(
            c.outerjoin(d, dist_join)
            .outerjoin(k, k.c.nonce == d.c.nonce)
            .outerjoin(u, u.c.token == c.c.token)
            .outerjoin(a, a.c.avs_address == c.c.avs_address)
            # The collecting stage: the aggregator's row, keyed by the same id (its primary key).
            .outerjoin(r, r.c.digest == c.c.claim_id)
        )
        .where(c.c.claim_id == claim_id)
        .limit(_const(1))
    )
    signers = (
        select(s.c.member_index, s.c.operator, s.c.power)
        .where(s.c.claim_id == claim_id)
        .order_by(s.c.member_index)
    )
    # Every distribution of the claim (one per client chain it pays on): distribution.claim_id's index.
    dist = (
        select(d.c.distribution_id, d.c.nonce, d.c.l1_tx_hash)
        .where(d.c.claim_id == claim_id)
        .cte("claim_distribution")
    )
    columns = [t.c[n] for n in _TRANSITION_COLUMNS]
    of_claim = select(*columns).where(
        t.c.entity_kind == _const(EntityKind.CLAIM.value), t.c.entity_id == claim_id
    )
    packet_ids = select(cast(k.c.nonce, String)).select_from(dist.join(k, k.c.nonce == dist.c.nonce))
    in_packets = (
        t.c.entity_id == any_(func.array(packet_ids.scalar_subquery()))
        if dialect.name == "postgresql"
        else t.c.entity_id.in_(packet_ids)
    )
    of_packet = select(*columns).where(t.c.entity_kind == _const(EntityKind.PACKET.value), in_packets)
    # The root's transactions: the relayer's (replacements included) and the one L1 shows.
    root_txs = union(
        select(x.c.tx_hash)
        .select_from(x.join(dist, x.c.distribution_id == dist.c.distribution_id))
        .where(x.c.purpose == _const("distribution")),
        select(dist.c.l1_tx_hash).where(dist.c.l1_tx_hash.is_not(None)),
    ).scalar_subquery()
    # PostgreSQL: `= ANY(ARRAY(subquery))` is an index condition on a value computed once; an
    # `IN (subquery)` join leaves the planner free to merge-join every l1_tx transition.
    in_root_txs = (
        t.c.entity_id == any_(func.array(root_txs))
        if dialect.name == "postgresql"
        else t.c.entity_id.in_(root_txs)
    )
    of_txs = select(*columns).where(t.c.entity_kind == _const(EntityKind.L1_TX.value), in_root_txs)
    distributions = (
        select(
            *(d.c[n] for n in CLAIM_DISTRIBUTION_COLUMNS), k.c.state, k.c.l1_chain_id.label("packet_chain_id")
        )
        .select_from(d.outerjoin(k, k.c.nonce == d.c.nonce))
        .where(d.c.claim_id == claim_id, d.c.packet_kind == _const(REWARD_PACKET_KIND))
        .order_by(d.c.nonce)
    )
    return joined, signers, union_all(of_claim, of_packet, of_txs), distributions


CLAIM_DISTRIBUTION_COLUMNS: Final = (
    "claim_id",
    "distribution_id",
    "nonce",
    "total",
    "leaf_count",
    "merkle_root",
    "l1_block_number",
    "l1_block_hash",
    "l1_tx_hash",
    "l1_log_index",
    "l1_finalized",
    "l1_chain_id",
    "payment_state",
)
"""A claim's distribution as ``ClaimDistributionOut`` reads it (then its packet's state and chain)."""


def claim_distribution_document(r: Sequence[Any]) -> dict[str, Any]:
    """One row of ``CLAIM_DISTRIBUTION_COLUMNS`` + packet state + packet chain as
    ``ClaimDistributionOut``."""
    v = dict(zip(CLAIM_DISTRIBUTION_COLUMNS, r[: len(CLAIM_DISTRIBUTION_COLUMNS)], strict=True))
    packet_state, packet_chain = r[len(CLAIM_DISTRIBUTION_COLUMNS) :]
    root = _location(v["l1_block_number"], v["l1_block_hash"], v["l1_tx_hash"], v["l1_log_index"])
    final = bool(v["l1_finalized"])
    return {
        "distribution_id": v["distribution_id"],
        "nonce": v["nonce"],
        "chain_id": v["l1_chain_id"] if v["l1_chain_id"] is not None else packet_chain,
        "total": _amount(v["total"]),
        "leaf_count": v["leaf_count"],
        "merkle_root": v["merkle_root"],
        "packet_status": packet_state,
        "root_on_l1": root,
        "root_finalized": final,
        "payment_state": v["payment_state"],
        "status": distribution_claim_stage(
            packet_state, v["l1_block_hash"] is not None, final, v["payment_state"]
        ).value,
        "url": f"/v1/distributions/{v['distribution_id']}",
    }


COLLECTION_COLUMNS: Final = (
    "digest",
    "state",
    "state_reason",
    "opened_at",
    "threshold_reached_at",
    "signed_power",
    "threshold_power",
    "total_power",
    "committee_size",
)
"""The aggregator's request row a claim or slash detail shows as its ``collecting`` stage."""


def collection_stage(values: Mapping[str, Any]) -> dict[str, Any] | None:
    """``CollectionStage`` of a claim or slash from its aggregator row (None: not collected here,
    e.g. submitted by another aggregator or without one)."""
    if values.get("digest") is None:
        return None
    return {
        "digest": values["digest"],
        "state": values["state"],
        "state_reason": values["state_reason"],
        "opened_at": _utc(values["opened_at"]),
        "threshold_reached_at": None
        if values["threshold_reached_at"] is None
        else _utc(values["threshold_reached_at"]),
        "signed_power": _amount(values["signed_power"]),
        "threshold_power": _amount(values["threshold_power"]),
        "total_power": _amount(values["total_power"]),
        "committee_size": int(values["committee_size"]),
        "url": f"/v1/collections/{values['digest']}",
    }


@dataclass(frozen=True)
class Statements:
    payouts: Mapping[tuple[Order, bool], Compiled]
    claim: Compiled
    signers: Compiled
    timeline: Compiled
    distributions: Compiled


_STATEMENTS: dict[str, Statements] = {}
_STATEMENTS_LOCK = threading.Lock()


def statements(dialect: Dialect) -> Statements:
    """The hot statements compiled for ``dialect`` (once per dialect and process)."""
    found = _STATEMENTS.get(dialect.name)
    if found is not None:
        return found
    with _STATEMENTS_LOCK:
        joined, signers, timeline, distributions = _claim_statements(dialect)
        built = Statements(
            payouts={
                (order, after): Compiled.of(_payout_statement(order, after), dialect)
                for order in Order
                for after in (False, True)
            },
            claim=Compiled.of(joined, dialect),
            signers=Compiled.of(signers, dialect),
            timeline=Compiled.of(timeline, dialect),
            distributions=Compiled.of(distributions, dialect),
        )
        return _STATEMENTS.setdefault(dialect.name, built)


# ---------------------------------------------------------------------------------------- rows -> documents


def _amount(value: Any) -> str | None:
    """uint256 (NUMERIC on PostgreSQL, zero-padded text on SQLite) as a decimal string."""
    return None if value is None else str(int(value))


def _utc(value: datetime | str) -> datetime:
    """UTC, tagged (SQLite hands back naive UTC text; a PostgreSQL session may use any zone)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    tz = value.tzinfo
    if tz is UTC:  # psycopg's values in a UTC session: nothing to do (the common case)
        return value
    return value.replace(tzinfo=UTC) if tz is None else value.astimezone(UTC)


def _location(
    height: int | None, block_hash: str | None, tx_hash: str | None, log_index: int | None
) -> dict[str, Any] | None:
    if block_hash is None and tx_hash is None:
        return None
    return {
        "chain": "l1",
        "height": height,
        "block_hash": block_hash,
        "tx_hash": tx_hash,
        "log_index": log_index,
    }


def payout_document(r: Sequence[Any]) -> dict[str, Any]:
    """One payout row (``_PAYOUT_COLUMNS``, the transaction's state, the token's symbol and decimals,
    the AVS's name) as ``PayoutOut``."""
    l1_tx = None
    if r[9] is not None:
        l1_tx = {
            "tx_hash": r[9],
            "block_number": r[10],
            "block_hash": r[11],
            "log_index": r[12],
            "status": r[15],
        }
    return {
        **payout_fields(avs_name=r[18], unit=unit_of(r[16], r[17]), amount=r[5]),
        "id": r[0],
        "distribution_id": r[1],
        "leaf_index": r[2],
        "staker": r[3],
        "token": r[4],
        "amount": _amount(r[5]),
        "avs": r[6],
        "epoch": r[7],
        "status": r[8],
        "l1_tx": l1_tx,
        "chain_id": r[19],
        "created_at": _utc(r[13]),
        "updated_at": _utc(r[14]),
    }


def timeline_order(at: datetime, transition_id: int) -> tuple[int, int]:
    """Whole seconds, then recorded order. Two chains' clocks only agree to about a second (anvil
    and Ethereum stamp whole seconds): within one second the order we recorded them in is causal,
    the sub-second timestamps of different chains are not."""
    return int(_utc(at).timestamp()), int(transition_id)


def _transition_document(r: Sequence[Any]) -> dict[str, Any]:
    return {
        "id": r[0],
        "entity_kind": r[1],
        "entity_id": r[2],
        "from_state": r[3],
        "to_state": r[4],
        "edge": r[5],
        "where": {"chain": r[6], "height": r[7], "block_hash": r[8], "tx_hash": r[9], "log_index": r[10]},
        "at": _utc(r[11]),
        "reason": r[12],
        "reverses_id": r[13],
    }


def claim_document(
    row: Sequence[Any],
    signers: Sequence[Sequence[Any]],
    timeline: Sequence[Sequence[Any]],
    distributions: Sequence[Sequence[Any]] = (),
) -> dict[str, Any]:
    """The claim, distribution and packet row plus its signers, timeline and distributions as
    ``ClaimDetail``."""
    c = dict(zip(_CLAIM_COLUMNS, row[: len(_CLAIM_COLUMNS)], strict=True))
    at = len(_CLAIM_COLUMNS)
    d = dict(zip(_DISTRIBUTION_COLUMNS, row[at : at + len(_DISTRIBUTION_COLUMNS)], strict=True))
    at += len(_DISTRIBUTION_COLUMNS)
    k = dict(zip(_PACKET_COLUMNS, row[at : at + len(_PACKET_COLUMNS)], strict=True))
    at += len(_PACKET_COLUMNS)
    collection = collection_stage(
        dict(zip(COLLECTION_COLUMNS, row[at : at + len(COLLECTION_COLUMNS)], strict=True))
    )
    symbol, decimals, avs_name = row[at + len(COLLECTION_COLUMNS) :]
    numerator, denominator = c["threshold_numerator"], c["threshold_denominator"]
    distribution = None
    if d["distribution_id"] is not None:
        distribution = {
            "distribution_id": d["distribution_id"],
            "nonce": d["nonce"],
            "total": _amount(d["total"]),
            "leaf_count": d["leaf_count"],
            "merkle_root": d["merkle_root"],
            "root_on_l1": _location(
                d["l1_block_number"], d["l1_block_hash"], d["l1_tx_hash"], d["l1_log_index"]
            ),
            "root_finalized": bool(d["l1_finalized"]),
        }
    packet = None
    if k["nonce"] is not None:
        packet = {
            "nonce": k["nonce"],
            "kind": PACKET_KIND_LABELS[k["kind"]],
            "valset_nonce": k["valset_nonce"],
            "status": k["state"],
            "subject_id": k["subject_id"],
            "distribution_id": k["distribution_id"],
            "avs": k["avs_address"],
            "payload_hash": k["payload_hash"],
            "digest": k["digest"],
            "exocore_height": k["exocore_height"],
            "signed_power": _amount(k["signed_power"]),
            "total_power": _amount(k["total_power"]),
            "l1": _location(k["l1_block_number"], k["l1_block_hash"], k["l1_tx_hash"], k["l1_log_index"]),
            "chain_id": k["l1_chain_id"],
            "created_at": _utc(k["created_at"]),
            "updated_at": _utc(k["updated_at"]),
        }
    ratio = (int(numerator), int(denominator)) if numerator is not None and denominator is not None else None
    display = claim_fields(
        avs_name=avs_name,
        unit=unit_of(symbol, decimals),
        total_amount=c["total_amount"],
        signed_power=c["signed_power"],
        total_power=c["total_power"],
        threshold=ratio,
    )
    return {
        **display,
        "claim_id": c["claim_id"],
        "avs": c["avs_address"],
        "epoch": c["epoch"],
        "token": c["token"],
        "funding": c["funding"],
        "total_amount": _amount(c["total_amount"]),
        "status": c["state"],
        "reason_code": c["reason_code"],
        "reason": c["reason"],
        "signed_power": _amount(c["signed_power"]),
        "total_power": _amount(c["total_power"]),
        "threshold": (
            f"{numerator}/{denominator}" if numerator is not None and denominator is not None else None
        ),
        "distribution_id": c["distribution_id"],
        "submitted_height": c["submitted_height"],
        "created_at": _utc(c["created_at"]),
        "updated_at": _utc(c["updated_at"]),
        "signers": [
            {"member_index": s[0], "operator": s[1], "power": _amount(s[2]), "power_usd": power_text(s[2])}
            for s in signers
        ],
        "distributions": [claim_distribution_document(r) for r in distributions],
        "distribution": distribution,
        "packet": packet,
        "collection": collection,
        "timeline": [
            _transition_document(r) for r in sorted(timeline, key=lambda r: timeline_order(r[11], r[0]))
        ],
    }


# ---------------------------------------------------------------------------------------- queries


def _fetch(dbapi: Any, compiled: Compiled, values: Mapping[str, Any]) -> list[Any]:
    cursor = dbapi.cursor()
    try:
        cursor.execute(compiled.sql, compiled.parameters(values))
        return list(cursor.fetchall())
    finally:
        cursor.close()


def fetch_claim(
    dbapi: Any, sql: Statements, claim_id: str, *, pipelined: bool = True
) -> dict[str, Any] | None:
    """``ClaimDetail`` of ``claim_id`` (lower-case) as a document, None if there is no such claim.

    On PostgreSQL the four statements travel in one pipeline (one round trip). Measured against
    one statement aggregating signers and timeline as JSON: that one costs the server ~40 us more
    per claim (JSON building) and, since a hot read holds the worker's loop for the server's time,
    a worker serves ~20 % fewer claims a second."""
    values = {"claim_id": claim_id}
    if pipelined and _pipeline_supported(dbapi):
        with dbapi.pipeline():
            cursors = [
                dbapi.execute(compiled.sql, compiled.parameters(values))
                for compiled in (sql.claim, sql.signers, sql.timeline, sql.distributions)
            ]
        claim, signers, timeline, distributions = (list(cursor.fetchall()) for cursor in cursors)
    else:
        claim = _fetch(dbapi, sql.claim, values)
        signers = _fetch(dbapi, sql.signers, values)
        timeline = _fetch(dbapi, sql.timeline, values)
        distributions = _fetch(dbapi, sql.distributions, values)
    return claim_document(claim[0], signers, timeline, distributions) if claim else None


def _pipeline_supported(dbapi: Any) -> bool:
    if not hasattr(dbapi, "pipeline"):
        return False  # not psycopg (SQLite)
    import psycopg  # noqa: PLC0415 - only PostgreSQL connections get here

    return bool(psycopg.Pipeline.is_supported())


def fetch_staker_payouts(
    dbapi: Any, sql: Statements, staker: str, *, limit: int, cursor: str | None, order: Order
) -> dict[str, Any]:
    """One ``Page[PayoutOut]`` of a staker's payouts (``staker`` lower-case). Raises
    :class:`CursorError` for a cursor this listing did not issue."""
    values: dict[str, Any] = {"staker": staker, "limit": limit + 1}
    if cursor is not None:
        values["after"] = decode_cursor(cursor, order)
    rows = _fetch(dbapi, sql.payouts[(order, cursor is not None)], values)
    next_cursor = encode_cursor(int(rows[limit - 1][0]), order) if len(rows) > limit else None
    return {"items": [payout_document(r) for r in rows[:limit]], "next_cursor": next_cursor}


def claim_detail_document(conn: Connection, claim_id: str) -> dict[str, Any] | None:
    """:func:`fetch_claim` on a SQLAlchemy connection (inside its read-only transaction)."""
    if not conn.in_transaction():
        conn.begin()  # fires the engine's "begin" hooks (SET TRANSACTION READ ONLY); closed by the owner
    return fetch_claim(conn.connection.driver_connection, statements(conn.dialect), claim_id)


# ---------------------------------------------------------------------------------------- reader


class HotReader:
    """Runs hot reads for one app: on PostgreSQL on a connection of its own, on the caller's thread
    (the event loop); elsewhere in the thread pool through the engine's pool.

    Connecting happens in a worker thread, never on the loop; after a failed attempt the hot
    requests go to their routes for ``HOT_RECONNECT_BACKOFF_S``. Returns None when it has no
    connection to offer (the caller then uses the route)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sql = statements(engine.dialect)
        self.own_connection = engine.dialect.name == "postgresql"
        # The driver's own errors, and SQLAlchemy's wrapping of them (from the pool's connect).
        self.errors: tuple[type[BaseException], ...] = (engine.dialect.loaded_dbapi.Error, DBAPIError)
        self._dbapi: Any = None
        self._connecting = False
        self._retry_at = 0.0
        self._lock = threading.Lock()
        self.application_name = f"{HOT_APPLICATION_NAME}/{os.getpid()}/{id(self):x}"
        """This reader's connection in ``pg_stat_activity``."""

    def _connect(self) -> None:
        # The engine's own connect arguments (search_path, read-only options), then detached:
        # this connection is the reader's alone and never goes back to the pool.
        fairy = self.engine.raw_connection()
        dbapi: Any = fairy.driver_connection
        fairy.detach()
        try:
            dbapi.rollback()
            dbapi.autocommit = True  # a single statement needs no BEGIN/ROLLBACK round trips
            with dbapi.cursor() as cur:
                cur.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
                cur.execute(f"SET application_name = '{self.application_name}'")
                cur.execute(f"SET statement_timeout = {HOT_STATEMENT_TIMEOUT_MS}")
                # Timestamps then arrive tagged with datetime.UTC itself: no conversion per value.
                cur.execute("SET TIME ZONE 'UTC'")
            _bound_retransmissions(dbapi.fileno())
        except BaseException:
            dbapi.close()
            raise
        with self._lock:
            self._dbapi = dbapi

    @property
    def connected(self) -> bool:
        """Holds a connection of its own (PostgreSQL, once a hot read opened it)."""
        return self._dbapi is not None

    def reset(self) -> None:
        """Drop the connection after an error (the next read opens a new one)."""
        with self._lock:
            dbapi, self._dbapi = self._dbapi, None
        if dbapi is not None:
            with contextlib.suppress(*self.errors):
                dbapi.close()

    def close(self) -> None:
        self.reset()

    async def run(self, read: Callable[[Any, Statements], bytes | None]) -> bytes | None:
        if not self.own_connection:
            return await anyio.to_thread.run_sync(self._pooled, read)
        if self._dbapi is None and not await self._reconnect():
            return None
        with self._lock:
            dbapi = self._dbapi
            return None if dbapi is None else read(dbapi, self.sql)

    async def _reconnect(self) -> bool:
        with self._lock:
            if self._connecting or time.monotonic() < self._retry_at:
                return False  # another request is connecting, or the last attempt failed lately
            self._connecting = True
        try:
            await anyio.to_thread.run_sync(self._connect)
        except self.errors:
            self._retry_at = time.monotonic() + HOT_RECONNECT_BACKOFF_S
            raise
        finally:
            self._connecting = False
        return True

    def _pooled(self, read: Callable[[Any, Statements], bytes | None]) -> bytes | None:
        with self.engine.connect() as conn:
            if not conn.in_transaction():
                conn.begin()
            return read(conn.connection.driver_connection, self.sql)


def _bound_retransmissions(fileno: int) -> None:
    """``TCP_USER_TIMEOUT`` and quick keepalives on the connection's socket (Linux; nothing on a
    Unix socket): a dead peer is noticed whether a query is unacknowledged or its answer is due."""
    user_timeout = getattr(socket, "TCP_USER_TIMEOUT", None)
    if user_timeout is None:
        return
    with socket.socket(fileno=os.dup(fileno)) as sock:
        if sock.family not in {socket.AF_INET, socket.AF_INET6}:
            return
        sock.setsockopt(socket.IPPROTO_TCP, user_timeout, HOT_TCP_USER_TIMEOUT_MS)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for option, value in HOT_KEEPALIVE.items():
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)


# ---------------------------------------------------------------------------------------- ASGI


def _payout_params(query: bytes) -> tuple[str, int, str | None, Order] | None:
    """``staker`` (+ ``limit``, ``cursor``, ``order``) exactly as the route validates them, or None
    for anything else (other filters, escapes, repeats, values out of range): the route decides."""
    if not query or b"%" in query or b"+" in query:
        return None
    staker: str | None = None
    limit = DEFAULT_PAGE_SIZE
    cursor: str | None = None
    order = Order.DESC
    seen: set[bytes] = set()
    for part in query.split(b"&"):
        key, _, value = part.partition(b"=")
        if key in seen:
            return None
        seen.add(key)
        if key == b"staker" and _ADDRESS.fullmatch(value):
            staker = value.decode().lower()
        elif key == b"limit" and _LIMIT.fullmatch(value) and int(value) <= MAX_PAGE_SIZE:
            limit = int(value)
        elif key == b"cursor" and _CURSOR.fullmatch(value):
            cursor = value.decode()
        elif key == b"order" and value in (b"asc", b"desc"):
            order = Order(value.decode())
        else:
            return None
    if staker is None:
        return None
    return staker, limit, cursor, order


class HotRoutes:
    """ASGI middleware: answers the hot requests it fully understands, hands everything else (and
    any request whose hot read fails) to the application."""

    def __init__(
        self, app: ASGIApp, reader: HotReader, routes: Mapping[str, BaseRoute], outcomes: Counter
    ) -> None:
        self.app = app
        self.reader = reader
        self.outcomes = outcomes
        """``route``, ``outcome``: ``served`` here, or ``fallback`` to the route (not found, bad
        cursor, database error)."""
        self._outcomes: dict[tuple[int, bool], Counter] = {}
        self.payouts_route = routes["/v1/payouts"]
        self.claim_route = routes["/v1/claims/{claim_id}"]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path: str = scope["path"]
            read: Callable[[Any, Statements], bytes | None] | None = None
            route: BaseRoute | None = None
            if path == "/v1/payouts":
                params = _payout_params(scope["query_string"])
                if params is not None:
                    read, route = self._payouts(*params), self.payouts_route
            elif path.startswith(_CLAIMS_PREFIX) and not scope["query_string"]:
                claim_id = path[len(_CLAIMS_PREFIX) :]
                if _HASH.fullmatch(claim_id):
                    read, route = self._claim(claim_id.lower()), self.claim_route
            if read is not None and route is not None:
                body = await self._read(read)
                self._outcome(route, served=body is not None).inc()
                if body is not None:
                    scope["route"] = route  # for the metrics middleware's label
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 200,
                            "headers": [_JSON_HEADERS, (b"content-length", str(len(body)).encode())],
                        }
                    )
                    await send({"type": "http.response.body", "body": body})
                    return
        await self.app(scope, receive, send)

    def _outcome(self, route: BaseRoute, *, served: bool) -> Counter:
        key = (id(route), served)
        child = self._outcomes.get(key)
        if child is None:
            label = "served" if served else "fallback"
            child = self._outcomes[key] = self.outcomes.labels(
                route=getattr(route, "path", ""), outcome=label
            )
        return child

    async def _read(self, read: Callable[[Any, Statements], bytes | None]) -> bytes | None:
        try:
            return await self.reader.run(read)
        except CursorError:
            return None  # the route answers 400 bad_cursor
        except self.reader.errors as exc:
            # Database trouble (or a stale connection): the route retries on the engine's pool and
            # answers what it meets (the data, or 503 database_unavailable).
            log.warning("hot read failed, falling back to the route: %s", exc)
            self.reader.reset()
            return None

    @staticmethod
    def _payouts(
        staker: str, limit: int, cursor: str | None, order: Order
    ) -> Callable[[Any, Statements], bytes | None]:
        def read(dbapi: Any, sql: Statements) -> bytes | None:
            return to_json(fetch_staker_payouts(dbapi, sql, staker, limit=limit, cursor=cursor, order=order))

        return read

    @staticmethod
    def _claim(claim_id: str) -> Callable[[Any, Statements], bytes | None]:
        def read(dbapi: Any, sql: Statements) -> bytes | None:
            document = fetch_claim(dbapi, sql, claim_id)
            return None if document is None else to_json(document)  # None: the route answers 404

        return read


__all__ = [
    "HOT_STATEMENT_TIMEOUT_MS",
    "HotReader",
    "HotRoutes",
    "claim_detail_document",
    "fetch_claim",
    "fetch_staker_payouts",
    "statements",
]
