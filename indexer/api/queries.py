"""Read side of the API: details, the listings not declared in :mod:`indexer.api.listings`, and
the row -> item conversions and paging those declarations use; SQLAlchemy Core, index-friendly.

Every listing orders by a unique key (the surrogate ``id``; ``leaf_index`` for leaves, ``epoch``
for committees), reads ``limit + 1`` rows past the cursor and filters with predicates that have an
index ending in that key (see :mod:`storage.models`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, TypeAlias

from sqlalchemy import ColumnElement, Connection, Row, Select, and_, func, or_, select, text
from sqlalchemy.sql.elements import ColumnClause

from indexer.api import hot, schemas
from indexer.api.display import (
    Names,
    amount_text,
    claim_fields,
    payout_fields,
    power_text,
    share_text,
    token_fields,
)
from indexer.api.pagination import Order, decode_cursor, page_of
from relayer.protocol.cumulative import CumulativeLeaf, CumulativeTree
from relayer.protocol.cumulative_claim import NothingToClaimError, plan_claim
from relayer.protocol.distribution_claim import plan_leaf_claims
from relayer.protocol.kinds import PacketKind, PayoutMode
from relayer.protocol.merkle import DistributionLeaf as TreeLeaf
from relayer.protocol.merkle import DistributionTree
from relayer.protocol.packets import CumulativeFunding, CumulativeRootPayload, FundingMode, decode_payload
from relayer.protocol.types import Amount, address_hex, as_address
from relayer.protocol.units import format_amount
from storage.aggregation import aggregation_request_table
from storage.errors import InvalidRecordError
from storage.lifecycle import LIFECYCLES, Chain, EntityKind, PacketState, PayoutState
from storage.models import (
    avs_table,
    claim_table,
    committee_member_table,
    committee_table,
    cumulative_accrual_table,
    cumulative_funding_table,
    cumulative_leaf_table,
    cumulative_payout_table,
    cumulative_root_table,
    cursor_table,
    distribution_table,
    leaf_table,
    packet_table,
    payout_table,
    reward_funding_table,
    slash_asset_table,
    slash_signer_table,
    slash_table,
    transition_table,
    valset_l1_table,
    valset_table,
    violation_table,
)
from storage.store import ENTITY_TABLES, PAID_STATES, uint256_sums


@dataclass(frozen=True)
class ListParams:
    limit: int
    cursor: str | None
    order: Order
    since: datetime | None = None
    until: datetime | None = None


def _amount(value: int | None) -> str | None:
    return None if value is None else str(value)


def paged(
    conn: Connection,
    query: Select[Any],
    key: Any,
    params: ListParams,
    time_column: Any | None = None,
) -> tuple[list[Row[Any]], str | None]:
    if params.cursor is not None:
        after = decode_cursor(params.cursor, params.order)
        query = query.where(key < after if params.order is Order.DESC else key > after)
    if time_column is not None and params.since is not None:
        query = query.where(time_column >= params.since)
    if time_column is not None and params.until is not None:
        query = query.where(time_column < params.until)
    query = query.order_by(key.desc() if params.order is Order.DESC else key.asc()).limit(params.limit + 1)
    rows = conn.execute(query).all()
    return page_of(rows, params.limit, lambda r: int(r._mapping[key.name]), params.order)


def _equal(query: Select[Any], *filters: tuple[Any, object | None]) -> Select[Any]:
    """A listing's equality filters, declared as ``(column, value)`` pairs: a ``None`` value (the
    parameter was not given) does not filter; the rest are ANDed, as chained ``where`` calls would be."""
    conditions = [column == value for column, value in filters if value is not None]
    return query.where(*conditions) if conditions else query


def _location(
    height: int | None, block_hash: str | None, tx_hash: str | None, log_index: int | None
) -> schemas.ChainLocation | None:
    """An L1 position, or None if the object has none (not on L1 yet, or reorged away)."""
    if block_hash is None and tx_hash is None:
        return None
    return schemas.ChainLocation(
        chain="l1", height=height, block_hash=block_hash, tx_hash=tx_hash, log_index=log_index
    )


# ---------------------------------------------------------------------------------------- claims


def claim_fields_of(row: Row[Any], names: Names) -> dict[str, Any]:
    ratio = (
        (int(row.threshold_numerator), int(row.threshold_denominator))
        if row.threshold_numerator is not None and row.threshold_denominator is not None
        else None
    )
    threshold = None if ratio is None else f"{ratio[0]}/{ratio[1]}"
    display = claim_fields(
        avs_name=names.avs(row.avs_address),
        unit=names.unit(row.token),
        total_amount=row.total_amount,
        signed_power=row.signed_power,
        total_power=row.total_power,
        threshold=ratio,
    )
    return {
        **display,
        "claim_id": row.claim_id,
        "avs": row.avs_address,
        "epoch": row.epoch,
        "token": row.token,
        "funding": row.funding,
        "total_amount": str(row.total_amount),
        "status": row.state,
        "reason_code": row.reason_code,
        "reason": row.reason,
        "signed_power": _amount(row.signed_power),
        "total_power": _amount(row.total_power),
        "threshold": threshold,
        "distribution_id": row.distribution_id,
        "submitted_height": row.submitted_height,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def claim_distributions(
    conn: Connection, claim_ids: Sequence[str]
) -> dict[str, list[schemas.ClaimDistributionOut]]:
    """Each claim's distributions (one per client chain it pays on), in nonce order: a page's worth
    in one statement, read as the claim detail reads them (:func:`hot.claim_distribution_document`)."""
    if not claim_ids:
        return {}
    d, k = distribution_table, packet_table
    rows = conn.execute(
        select(*(d.c[n] for n in hot.CLAIM_DISTRIBUTION_COLUMNS), k.c.state, k.c.l1_chain_id)
        .select_from(d.outerjoin(k, k.c.nonce == d.c.nonce))
        .where(d.c.claim_id.in_(sorted(set(claim_ids))), d.c.packet_kind == hot.REWARD_PACKET_KIND)
        .order_by(d.c.nonce)
    ).all()
    found: dict[str, list[schemas.ClaimDistributionOut]] = {}
    for row in rows:
        found.setdefault(row.claim_id, []).append(
            schemas.ClaimDistributionOut.model_validate(hot.claim_distribution_document(tuple(row)))
        )
    return found


def _timeline(conn: Connection, conditions: Sequence[ColumnElement[bool]]) -> list[schemas.TransitionOut]:
    if not conditions:
        return []
    t = transition_table
    rows = conn.execute(select(t).where(or_(*conditions)).order_by(t.c.at, t.c.id)).all()
    return [_transition_out(r) for r in sorted(rows, key=_timeline_order)]


def _timeline_order(row: Any) -> tuple[int, int]:
    return hot.timeline_order(row.at, row.id)


def _transition_out(r: Any) -> schemas.TransitionOut:
    return schemas.TransitionOut(
        id=r.id,
        entity_kind=r.entity_kind,
        entity_id=r.entity_id,
        from_state=r.from_state,
        to_state=r.to_state,
        edge=r.edge,
        where=schemas.ChainLocation(
            chain=r.chain, height=r.height, block_hash=r.block_hash, tx_hash=r.tx_hash, log_index=r.log_index
        ),
        at=r.at,
        reason=r.reason,
        reverses_id=r.reverses_id,
    )


def _entity(kind: EntityKind, entity_id: str) -> ColumnElement[bool]:
    t = transition_table
    return and_(t.c.entity_kind == kind.value, t.c.entity_id == entity_id)


def _payout_counts(conn: Connection, distribution_id: str) -> dict[str, int]:
    p = payout_table
    rows = conn.execute(
        select(p.c.state, func.count()).where(p.c.distribution_id == distribution_id).group_by(p.c.state)
    ).all()
    return {str(state): int(count) for state, count in rows}


def packet_item(row: Any) -> schemas.PacketOut:
    return schemas.PacketOut(
        nonce=row.nonce,
        kind=PacketKind(row.kind).label,
        valset_nonce=row.valset_nonce,
        status=row.state,
        subject_id=row.subject_id,
        distribution_id=row.distribution_id,
        avs=row.avs_address,
        payload_hash=row.payload_hash,
        digest=row.digest,
        exocore_height=row.exocore_height,
        signed_power=_amount(row.signed_power),
        total_power=_amount(row.total_power),
        l1=_location(row.l1_block_number, row.l1_block_hash, row.l1_tx_hash, row.l1_log_index),
        chain_id=row.l1_chain_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def claim_detail(conn: Connection, claim_id: str) -> schemas.ClaimDetail | None:
    """The claim joined to its distribution and packet, its signers and its timeline (of the claim,
    its packet and its root's L1 transactions): the statements of the API's hot path."""
    document = hot.claim_detail_document(conn, claim_id)
    return None if document is None else schemas.ClaimDetail.model_validate(document)


# ---------------------------------------------------------------------------------------- distributions


def distribution_detail(conn: Connection, distribution_id: str) -> schemas.DistributionOut | None:
    d = distribution_table
    row = conn.execute(select(d).where(d.c.distribution_id == distribution_id)).first()
    if row is None:
        return None
    p = payout_table
    paid = uint256_sums(
        conn,
        p,
        "distribution_id",
        "amount",
        and_(p.c.distribution_id == distribution_id, p.c.state.in_(PAID_STATES)),
    )
    names = Names.load(conn, tokens=[row.token], avss=[row.avs_address])
    unit = names.unit(row.token)
    pool = _community_pool(conn, row)
    paid_amount = paid.get(distribution_id, 0)
    return schemas.DistributionOut(
        avs_name=names.avs(row.avs_address),
        token_symbol=None if unit is None else unit.symbol,
        token_decimals=None if unit is None else unit.decimals,
        total_display=amount_text(row.total, unit),
        paid_amount_display=amount_text(paid_amount, unit),
        community_pool_display=amount_text(pool["community_pool"], unit),
        distribution_id=row.distribution_id,
        nonce=row.nonce,
        claim_id=row.claim_id,
        avs=row.avs_address,
        epoch=row.epoch,
        token=row.token,
        funding=row.funding,
        total=str(row.total),
        leaf_count=row.leaf_count,
        merkle_root=row.merkle_root,
        community_tax=_amount(row.community_tax),
        **pool,
        paid_amount=str(paid_amount),
        payouts_by_status=_payout_counts(conn, distribution_id),
        root_on_l1=_location(row.l1_block_number, row.l1_block_hash, row.l1_tx_hash, row.l1_log_index),
        root_finalized=row.l1_finalized,
        origin=row.origin,
        created_at=row.created_at,
    )


def _community_pool(conn: Connection, row: Any) -> dict[str, str | None]:
    """The claim's amount and what of it Exocore's community pool keeps (tax + rounding dust):
    the claim is stored by the Exocore stream, so an L1-first distribution may not have one yet."""
    c = claim_table
    claimed = None
    if row.claim_id is not None:
        claimed = conn.execute(select(c.c.total_amount).where(c.c.claim_id == row.claim_id)).scalar()
    if claimed is None or row.community_tax is None:
        return {"claimed": _amount(claimed), "dust": None, "community_pool": None}
    pool = int(claimed) - int(row.total)
    return {"claimed": str(claimed), "dust": str(pool - int(row.community_tax)), "community_pool": str(pool)}


def distribution_exists(conn: Connection, distribution_id: str) -> bool:
    d = distribution_table
    return conn.execute(select(d.c.id).where(d.c.distribution_id == distribution_id)).first() is not None


def list_leaves(
    conn: Connection, distribution_id: str, params: ListParams, *, staker: str | None, status: str | None
) -> tuple[list[schemas.LeafOut], str | None]:
    leaf, p = leaf_table, payout_table
    query = (
        select(leaf, p.c.state.label("payout_status"))
        .select_from(
            leaf.outerjoin(
                p, and_(p.c.distribution_id == leaf.c.distribution_id, p.c.leaf_index == leaf.c.leaf_index)
            )
        )
        .where(leaf.c.distribution_id == distribution_id)
    )
    query = _equal(
        query,
        (leaf.c.staker, staker),
        (p.c.state, status),
    )
    rows, cursor = paged(conn, query, leaf.c.leaf_index, params)
    d = distribution_table
    token = conn.execute(select(d.c.token).where(d.c.distribution_id == distribution_id)).scalar()
    unit = Names.load(conn, tokens=[] if token is None else [token]).unit(token)
    return [
        schemas.LeafOut(
            amount_display=amount_text(r.amount, unit),
            leaf_index=r.leaf_index,
            staker=r.staker,
            amount=str(r.amount),
            kind=r.kind,
            operator=r.operator,
            payout_status=r.payout_status,
        )
        for r in rows
    ], cursor


# ---------------------------------------------------------------------------------------- payouts


def payout_item(r: Row[Any], names: Names) -> schemas.PayoutOut:
    l1_tx = None
    if r.l1_tx_hash is not None:
        l1_tx = schemas.L1TxRef(
            tx_hash=r.l1_tx_hash,
            block_number=r.l1_block_number,
            block_hash=r.l1_block_hash,
            log_index=r.l1_log_index,
            status=r.tx_state,
        )
    return schemas.PayoutOut(
        **payout_fields(avs_name=names.avs(r.avs_address), unit=names.unit(r.token), amount=r.amount),
        id=r.id,
        distribution_id=r.distribution_id,
        leaf_index=r.leaf_index,
        staker=r.staker,
        token=r.token,
        amount=str(r.amount),
        avs=r.avs_address,
        epoch=r.epoch,
        status=r.state,
        l1_tx=l1_tx,
        chain_id=r.l1_chain_id,
        created_at=r.created_at,
        updated_at=r.updated_at,
    )


# ---------------------------------------------------------------------------------------- withdrawals


WITHDRAWAL_APPROVAL_KIND = int(PacketKind.WITHDRAWAL_APPROVAL)


def withdrawal_item(r: Row[Any], names: Names) -> schemas.WithdrawalOut:
    payout = payout_item(r, names)
    return schemas.WithdrawalOut(
        id=payout.id,
        approval_id=payout.distribution_id,
        packet_nonce=r.nonce,
        leaf_index=payout.leaf_index,
        staker=payout.staker,
        token=payout.token,
        amount=payout.amount,
        epoch=payout.epoch,
        status=payout.status,
        paid_by=r.paid_by,
        request_ids=[int(i) for i in r.request_ids.split(",")] if r.request_ids else [],
        l1_tx=payout.l1_tx,
        chain_id=payout.chain_id,
        created_at=payout.created_at,
        updated_at=payout.updated_at,
    )


# ---------------------------------------------------------------------------------------- slashes


def slash_children(
    conn: Connection, slash_ids: Sequence[str]
) -> tuple[dict[str, list[schemas.SlashAssetOut]], dict[str, list[schemas.SignerOut]]]:
    assets: dict[str, list[schemas.SlashAssetOut]] = {s: [] for s in slash_ids}
    signers: dict[str, list[schemas.SignerOut]] = {s: [] for s in slash_ids}
    if not slash_ids:
        return assets, signers
    a, s = slash_asset_table, slash_signer_table
    rows = conn.execute(select(a).where(a.c.slash_id.in_(slash_ids)).order_by(a.c.slash_id, a.c.token)).all()
    names = Names.load(conn, tokens=[r.token for r in rows])
    for r in rows:
        unit = names.unit(r.token)
        assets[r.slash_id].append(
            schemas.SlashAssetOut(
                token=r.token,
                amount=str(r.amount),
                asset_id=r.asset_id,
                token_symbol=None if unit is None else unit.symbol,
                amount_display=amount_text(r.amount, unit),
            )
        )
    for r in conn.execute(
        select(s).where(s.c.slash_id.in_(slash_ids)).order_by(s.c.slash_id, s.c.member_index)
    ):
        signers[r.slash_id].append(schemas.SignerOut(member_index=r.member_index, operator=r.operator))
    return assets, signers


def slash_fields(
    r: Row[Any],
    assets: Mapping[str, list[schemas.SlashAssetOut]],
    signers: Mapping[str, list[schemas.SignerOut]],
    names: Names,
) -> dict[str, Any]:
    return {
        "avs_name": names.avs(r.avs_address),
        "slash_id": r.slash_id,
        "operator": r.operator,
        "operator_name": names.operator(r.operator),
        "operator_address": r.operator_address,
        "avs": r.avs_address,
        "evidence_kind": r.evidence_kind,
        "status": r.state,
        "reason_code": r.reason_code,
        "reason": r.reason,
        "freeze": r.freeze,
        "slash_proportion": r.slash_proportion,
        "packet_nonce": r.packet_nonce,
        "assets": assets[r.slash_id],
        "signers": signers[r.slash_id],
        "l1": _location(r.l1_block_number, r.l1_block_hash, r.l1_tx_hash, r.l1_log_index),
        "chain_id": r.l1_chain_id,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
    }


def slash_detail(conn: Connection, slash_id: str) -> schemas.SlashDetail | None:
    s = slash_table
    row = conn.execute(select(s).where(s.c.slash_id == slash_id)).first()
    if row is None:
        return None
    assets, signers = slash_children(conn, [slash_id])
    conditions = [_entity(EntityKind.SLASH, slash_id)]
    if row.packet_nonce is not None:
        conditions.append(_entity(EntityKind.PACKET, str(row.packet_nonce)))
    if row.l1_tx_hash is not None:
        conditions.append(_entity(EntityKind.L1_TX, row.l1_tx_hash))
    names = Names.load(conn, avss=[row.avs_address], operators=[row.operator])
    r = aggregation_request_table
    collected = conn.execute(
        select(*(r.c[n] for n in hot.COLLECTION_COLUMNS)).where(r.c.digest == slash_id)
    ).first()
    return schemas.SlashDetail(
        **slash_fields(row, assets, signers, names),
        collection=None
        if collected is None
        else schemas.CollectionStage.model_validate(hot.collection_stage(collected._asdict())),
        timeline=_timeline(conn, conditions),
        evidence=row.evidence,
    )


# ------------------------------------------------------------------------ packets, committees, txs


def list_committees(
    conn: Connection, avs: str, params: ListParams, *, epoch: int | None, operator: str | None
) -> tuple[list[schemas.CommitteeOut], str | None]:
    c, m = committee_table, committee_member_table
    query = select(c).where(c.c.avs_address == avs)
    if epoch is not None:
        query = query.where(c.c.epoch == epoch)
    if operator is not None:
        query = query.where(c.c.id.in_(select(m.c.committee_id).where(m.c.operator == operator)))
    rows, cursor = paged(conn, query, c.c.epoch, params, c.c.elected_at)
    members: dict[int, list[schemas.CommitteeMemberOut]] = {r.id: [] for r in rows}
    totals = {r.id: int(r.total_power) for r in rows}
    member_rows = (
        conn.execute(
            select(m).where(m.c.committee_id.in_(list(members))).order_by(m.c.committee_id, m.c.member_index)
        ).all()
        if rows
        else []
    )
    names = Names.load(conn, avss=[avs], operators=[r.operator for r in member_rows])
    if rows:
        for r in member_rows:
            members[r.committee_id].append(
                schemas.CommitteeMemberOut(
                    member_index=r.member_index,
                    operator=r.operator,
                    operator_name=names.operator(r.operator),
                    bls_pubkey=r.bls_pubkey,
                    power=str(r.power),
                    power_usd=power_text(r.power),
                    share=share_text(r.power, totals[r.committee_id]),
                )
            )
    return [
        schemas.CommitteeOut(
            avs=r.avs_address,
            epoch=r.epoch,
            total_power=str(r.total_power),
            threshold=f"{r.threshold_numerator}/{r.threshold_denominator}",
            elected_height=r.elected_height,
            elected_at=r.elected_at,
            members=members[r.id],
            avs_name=names.avs(r.avs_address),
            total_power_usd=power_text(r.total_power),
            threshold_share=share_text(r.threshold_numerator, r.threshold_denominator),
        )
        for r in rows
    ], cursor


def l1_tx_item(r: Row[Any]) -> schemas.L1TxOut:
    return schemas.L1TxOut(
        tx_hash=r.tx_hash,
        chain_id=r.chain_id,
        sender=r.sender,
        tx_nonce=r.tx_nonce,
        purpose=r.purpose,
        status=r.state,
        packet_nonce=r.packet_nonce,
        distribution_id=r.distribution_id,
        replaces_tx_hash=r.replaces_tx_hash,
        block_number=r.block_number,
        block_hash=r.block_hash,
        gas_used=r.gas_used,
        max_fee_per_gas=_amount(r.max_fee_per_gas),
        max_priority_fee_per_gas=_amount(r.max_priority_fee_per_gas),
        origin=r.origin,
        created_at=r.created_at,
        updated_at=r.updated_at,
    )


# ---------------------------------------------------------------------------------------- stats, streams


def streams(conn: Connection) -> list[schemas.StreamStatus]:
    c = cursor_table
    return [
        schemas.StreamStatus(
            stream=r.stream,
            chain=r.chain,
            height=r.height,
            head_height=r.head_height,
            finalized_height=r.finalized_height,
            lag_blocks=None if r.head_height is None else max(0, r.head_height - r.height),
            halted=r.halted,
            halt_reason=r.halt_reason,
            updated_at=r.updated_at,
        )
        for r in conn.execute(select(c).order_by(c.c.stream))
    ]


_REPLICA_STATUS: Final = text(
    """
    SELECT r.pid AS wal_receiver_pid, r.status AS wal_receiver_status,
           COALESCE(pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), 0)::bigint
               AS behind_bytes,
           CASE WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0
                ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0)
           END::float8 AS lag_s
    FROM (SELECT 1) AS one LEFT JOIN pg_stat_wal_receiver AS r ON true
    """
)
"""A replica's lag: everything received is replayed -> 0 (an idle primary commits nothing, and the
age of the last replayed commit is no lag); otherwise the age of the last replayed commit, which is
how far the replica's view trails the primary's newest commit it already holds."""


def replica_status(conn: Connection) -> schemas.ReplicaStatus | None:
    """The replica's state, or None when the database is not a PostgreSQL standby (a primary, SQLite)."""
    if conn.dialect.name != "postgresql" or not conn.execute(text("SELECT pg_is_in_recovery()")).scalar_one():
        return None
    row = conn.execute(_REPLICA_STATUS).one()
    # Without pg_read_all_stats a role sees only the receiver's pid (its status is NULL): a receiver
    # process that exists is then taken as streaming.
    status = row.wal_receiver_status
    return schemas.ReplicaStatus(
        streaming=row.wal_receiver_pid is not None and status in (None, "streaming"),
        wal_receiver_status=row.wal_receiver_status,
        lag_s=float(row.lag_s),
        replay_behind_bytes=int(row.behind_bytes),
    )


def violation_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(violation_table)).scalar_one())


def stats(conn: Connection, now: datetime) -> schemas.StatsOut:
    counts: dict[str, dict[str, int]] = {}
    backlog: dict[str, int] = {}
    oldest: dict[str, float | None] = {}
    for kind, table in ENTITY_TABLES.items():
        machine = LIFECYCLES[kind]
        state: ColumnClause[Any] = table.c.state
        per_state = {str(s): int(n) for s, n in conn.execute(select(state, func.count()).group_by(state))}
        counts[kind.value] = per_state
        open_states = [s for s in machine.states if s not in machine.terminal]
        backlog[kind.value] = sum(n for s, n in per_state.items() if s in open_states)
        first = conn.execute(
            select(func.min(table.c.created_at)).where(state.in_(open_states))
        ).scalar_one_or_none()
        oldest[kind.value] = None if first is None else max(0.0, (now - _aware(first)).total_seconds())
    p = payout_table
    paid: dict[str, dict[str, str]] = {}
    for status in PAID_STATES:
        for token, total in uint256_sums(conn, p, "token", "amount", p.c.state == status).items():
            paid.setdefault(token, {s: "0" for s in PAID_STATES})[status] = str(total)
    per_chain: dict[str, dict[str, dict[str, str]]] = {}
    chains = conn.execute(
        select(p.c.l1_chain_id).where(p.c.state.in_(PAID_STATES), p.c.l1_chain_id.is_not(None)).distinct()
    ).scalars()
    for chain_id in sorted(chains):
        on_chain = per_chain.setdefault(str(chain_id), {})
        for status in PAID_STATES:
            where = and_(p.c.state == status, p.c.l1_chain_id == chain_id)
            for token, total in uint256_sums(conn, p, "token", "amount", where).items():
                on_chain.setdefault(token, {s: "0" for s in PAID_STATES})[status] = str(total)
    return schemas.StatsOut(
        counts=counts,
        backlog=backlog,
        oldest_pending_age_s=oldest,
        paid_per_token=paid,
        paid_per_chain=per_chain,
        streams=streams(conn),
        invariant_violations=violation_count(conn),
        generated_at=now,
    )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


_SourceKey: TypeAlias = tuple[str, str, int]
"""(AVS address, token address, reward source code)."""

SOURCE_ID_CHUNK: Final = 500
"""Distribution ids per payout-sum query of :func:`reward_sources`: well under SQLite's bound
parameter limit (999 on old builds), few round trips for the handful of distributions per AVS."""

CUMULATIVE_PAYOUTS_SHOWN: Final = 100
"""Cumulative payouts listed per staker (latest first); the per-token sums cover all of them."""


def cumulative_staker(
    conn: Connection, staker: str, chain_id: int | None = None
) -> schemas.CumulativeStakerOut:
    """What cumulative roots paid ``staker`` (lower-case address): per-token sums, latest payouts.
    Each client chain has its own roots: ``earned``, ``accrued`` and ``claimable`` are each chain's
    figures summed (``chain_id``: that chain's only), and so are the payouts."""
    c = cumulative_payout_table
    on_chain = [] if chain_id is None else [c.c.l1_chain_id == chain_id]
    rows = list(
        conn.execute(
            select(c)
            .where(c.c.earner == staker, *on_chain)
            .order_by(c.c.block_number.desc(), c.c.log_index.desc())
        )
    )
    pushed: dict[str, int] = {}
    by_earner: dict[str, int] = {}
    settled_by_chain: dict[int | None, dict[str, int]] = {}
    final: dict[str, int] = {}
    pending: dict[str, int] = {}
    finalized = l1_finalized_height(conn)
    for row in rows:
        into = by_earner if row.by_earner else pushed
        into[row.token] = into.get(row.token, 0) + int(row.amount)
        settled = final if _is_final(row.block_number, finalized) else pending
        settled[row.token] = settled.get(row.token, 0) + int(row.amount)
        # Final or not, paid on its chain: what that chain's vault will not pay again.
        spent = settled_by_chain.setdefault(row.l1_chain_id, {})
        spent[row.token] = spent.get(row.token, 0) + int(row.amount)
    roots = _cumulative_roots(conn, staker, chain_id)
    latest_of = _latest_per_chain(roots, lambda _root: True)
    delivered_of = _latest_per_chain(roots, lambda root: root.state in DELIVERED_ROOT_STATES)
    earned: dict[str, int] = {}
    accrued: dict[str, int] = {}
    claimable: dict[str, int] = {}
    for root in latest_of.values():
        for token, total in _cumulative_totals(conn, staker, root).items():
            earned[token] = earned.get(token, 0) + total
    for chain, root in delivered_of.items():
        spent = settled_by_chain.get(chain, {})
        for token, total in _cumulative_totals(conn, staker, root).items():
            accrued[token] = accrued.get(token, 0) + total
            claimable[token] = claimable.get(token, 0) + max(0, total - spent.get(token, 0))
    tokens = []
    shown = sorted(set(pushed) | set(by_earner) | set(earned))
    names = Names.load(conn, tokens=shown)
    for token in shown:
        unit = names.unit(token)
        paid, unsettled = final.get(token, 0), pending.get(token, 0)
        tokens.append(
            schemas.CumulativeTokenOut(
                token=token,
                earned=str(earned.get(token, 0)),
                accrued=str(accrued.get(token, 0)),
                paid=str(paid),
                pending=str(unsettled),
                paid_pushed=str(pushed.get(token, 0)),
                paid_by_earner=str(by_earner.get(token, 0)),
                claimable=str(claimable.get(token, 0)),
                **token_fields(unit),
                earned_display=amount_text(earned.get(token, 0), unit),
                accrued_display=amount_text(accrued.get(token, 0), unit),
                paid_display=amount_text(paid, unit),
                pending_display=amount_text(unsettled, unit),
                claimable_display=amount_text(claimable.get(token, 0), unit),
            )
        )
    payouts = [
        schemas.CumulativePayoutOut(
            token=row.token,
            recipient=row.recipient,
            amount=str(int(row.amount)),
            cumulative=str(int(row.cumulative)),
            period=int(row.period),
            by_earner=bool(row.by_earner),
            tx_hash=row.tx_hash,
            block_number=int(row.block_number),
            log_index=int(row.log_index),
            final=_is_final(row.block_number, finalized),
            chain_id=row.l1_chain_id,
        )
        for row in rows[:CUMULATIVE_PAYOUTS_SHOWN]
    ]
    return schemas.CumulativeStakerOut(
        staker=staker,
        tokens=tokens,
        payouts=payouts,
        latest_root=_newest(latest_of.values()),
        delivered_root=_newest(delivered_of.values()),
        delivered_roots=sorted(delivered_of.values(), key=lambda root: root.chain_id or 0),
    )


def l1_finalized_height(conn: Connection) -> int | None:
    """The highest block L1 ingestion knows final (None: none known yet, so nothing is final)."""
    c = cursor_table
    height = conn.execute(select(func.max(c.c.finalized_height)).where(c.c.chain == Chain.L1.value)).scalar()
    return None if height is None or height < 0 else int(height)


def _is_final(block_number: int, finalized: int | None) -> bool:
    return finalized is not None and int(block_number) <= finalized


DELIVERED_ROOT_STATES: Final = frozenset({PacketState.RELAYED.value, PacketState.FINALIZED.value})
"""A cumulative root in one of these packet states is on L1: the vault pays up to its leaves. (An
older period L1 ignored is relayed too, but the latest delivered period is always the accepted one.)"""


def _cumulative_roots(
    conn: Connection, staker: str, chain_id: int | None = None
) -> list[schemas.CumulativeRootOut]:
    """The (chain, period)s with a leaf of ``staker`` (``chain_id``: on that client chain only),
    latest first, with their packet's state. Each client chain numbers its own periods."""
    c, p = cumulative_leaf_table, packet_table
    on_chain = [] if chain_id is None else [c.c.l1_chain_id == chain_id]
    rows = conn.execute(
        select(c.c.l1_chain_id, c.c.period, c.c.packet_nonce, p.c.state)
        .join(p, p.c.nonce == c.c.packet_nonce)
        .where(c.c.earner == staker, *on_chain)
        .group_by(c.c.l1_chain_id, c.c.period, c.c.packet_nonce, p.c.state)
        .order_by(c.c.packet_nonce.desc())
    )
    return [
        schemas.CumulativeRootOut(
            period=int(row.period),
            packet_nonce=int(row.packet_nonce),
            state=row.state,
            chain_id=row.l1_chain_id,
        )
        for row in rows
    ]


def _latest_per_chain(
    roots: Iterable[schemas.CumulativeRootOut], wanted: Callable[[schemas.CumulativeRootOut], bool]
) -> dict[int | None, schemas.CumulativeRootOut]:
    """Per client chain, its latest period (highest) among ``roots`` that is ``wanted``."""
    latest: dict[int | None, schemas.CumulativeRootOut] = {}
    for root in roots:
        known = latest.get(root.chain_id)
        if wanted(root) and (known is None or root.period > known.period):
            latest[root.chain_id] = root
    return latest


def _newest(roots: Iterable[schemas.CumulativeRootOut]) -> schemas.CumulativeRootOut | None:
    """The root Exocore signed last (packet nonces are one sequence over every chain)."""
    return max(roots, key=lambda root: root.packet_nonce, default=None)


def _on_root_chain(column: ColumnElement[Any], root: schemas.CumulativeRootOut) -> ColumnElement[bool]:
    """Rows of ``root``'s client chain (rows stored before roots were per chain have none)."""
    return column.is_(None) if root.chain_id is None else column == root.chain_id


def _cumulative_totals(
    conn: Connection, staker: str, root: schemas.CumulativeRootOut | None
) -> dict[str, int]:
    """``staker``'s running total per token in ``root``'s (chain, period) (nothing without a root)."""
    if root is None:
        return {}
    c = cumulative_leaf_table
    rows = conn.execute(
        select(c.c.token, c.c.cumulative).where(
            c.c.earner == staker, c.c.period == root.period, _on_root_chain(c.c.l1_chain_id, root)
        )
    )
    return {row.token: int(row.cumulative) for row in rows}


def cumulative_claim(
    conn: Connection, staker: str, chain_id: int | None = None
) -> schemas.CumulativeClaimOut | None:
    """``staker``'s leaves in the latest root delivered on L1 with their proofs, and the calldata of
    the claim of what is left (built by the same planner as ``exorelay claim``). A claim is made on
    one client chain (each has its own roots): ``chain_id``'s, else the chain of the root delivered
    last. None: no delivered root has a leaf of the staker. The tree is rebuilt from every stored
    leaf of the (chain, period) and must give the root the packet carried (else the stored leaves
    are not the signed tree: an error)."""
    delivered = _newest(
        _latest_per_chain(
            _cumulative_roots(conn, staker, chain_id), lambda root: root.state in DELIVERED_ROOT_STATES
        ).values()
    )
    if delivered is None:
        return None
    c = cumulative_leaf_table
    tree = CumulativeTree.build(
        CumulativeLeaf(as_address(row.earner), as_address(row.token), Amount(int(row.cumulative)))
        for row in conn.execute(
            select(c.c.earner, c.c.token, c.c.cumulative).where(
                c.c.period == delivered.period, _on_root_chain(c.c.l1_chain_id, delivered)
            )
        )
    )
    payload_hex = conn.execute(
        select(packet_table.c.payload).where(packet_table.c.nonce == delivered.packet_nonce)
    ).scalar_one()
    payload = decode_payload(PacketKind.CUMULATIVE_ROOT, bytes.fromhex(payload_hex.removeprefix("0x")))
    if not isinstance(payload, CumulativeRootPayload) or payload.root != tree.root:
        raise InvalidRecordError(
            f"cumulative period {delivered.period}: the stored leaves do not give the root its packet carries"
        )
    earner = as_address(staker)
    mine = [leaf for leaf in tree.leaves if leaf.earner == earner]
    p = cumulative_payout_table
    paid = uint256_sums(
        conn,
        p,
        "token",
        "amount",
        and_(
            p.c.earner == staker,
            *([] if delivered.chain_id is None else [p.c.l1_chain_id == delivered.chain_id]),
        ),
    )
    try:
        plan = plan_claim(
            leaves=tree.leaves,
            period=delivered.period,
            vault=None,
            earner=earner,
            claimed={as_address(token): amount for token, amount in paid.items()},
        )
    except NothingToClaimError:
        plan = None
    return schemas.CumulativeClaimOut(
        staker=staker,
        root=delivered,
        merkle_root="0x" + tree.root.hex(),
        leaves=[
            schemas.CumulativeProofLeafOut(
                token=address_hex(leaf.token),
                cumulative=str(leaf.cumulative),
                proof=["0x" + node.hex() for node in tree.proof(leaf.earner, leaf.token)],
            )
            for leaf in mine
        ],
        claimable={} if plan is None else {address_hex(t): str(a) for t, a in plan.claimable.items()},
        calldata=None if plan is None else "0x" + plan.calldata.hex(),
        to=_root_vault(conn, delivered.packet_nonce),
        **{"from": staker},
    )


def _root_vault(conn: Connection, packet_nonce: int) -> str | None:
    """The RewardVault that took the CUMULATIVE_ROOT packet (its claims go there)."""
    r = cumulative_root_table
    vault = conn.execute(select(r.c.vault).where(r.c.packet_nonce == packet_nonce)).scalar()
    return None if vault is None else str(vault)


def avs_funding(conn: Connection, avs: str, chain_id: int | None = None) -> schemas.AvsFundingOut | None:
    """What ``avs`` (lower-case address) funded and what reached stakers, per token (None: the AVS
    is unknown). Per-distribution figures are the AVS's own; cumulative payouts pay an earner's total
    over every AVS, so they are given for the token's pool next to the AVS's funded share. Each
    client chain has its own cumulative roots: the cumulative figures are each chain's latest
    accepted root's, summed; ``chain_id`` narrows every figure to that chain (per-distribution ones
    to distributions and payouts landed on it)."""
    d, p = distribution_table, payout_table
    mode = conn.execute(select(avs_table.c.payout_mode).where(avs_table.c.avs_address == avs)).scalar()
    known = mode
    d_chain = [] if chain_id is None else [d.c.l1_chain_id == chain_id]
    distributed = uint256_sums(conn, d, "token", "total", and_(d.c.avs_address == avs, *d_chain))
    if known is None and not distributed:
        return None
    of_avs = p.c.distribution_id.in_(select(d.c.distribution_id).where(d.c.avs_address == avs))
    p_chain = [] if chain_id is None else [p.c.l1_chain_id == chain_id]
    paid = uint256_sums(
        conn, p, "token", "amount", and_(of_avs, p.c.state == PayoutState.FINALIZED.value, *p_chain)
    )
    pending = uint256_sums(
        conn, p, "token", "amount", and_(of_avs, p.c.state == PayoutState.INCLUDED.value, *p_chain)
    )
    accepted = _latest_accepted_roots(conn, chain_id)
    funded: dict[str, int] = {}
    pool: dict[str, int] = {}
    funding_roots = []
    for root, entries in accepted:
        funds_avs = False
        for entry in entries:
            token = address_hex(entry.token)
            pool[token] = pool.get(token, 0) + int(entry.funded)
            if address_hex(entry.avs) == avs:
                funded[token] = funded.get(token, 0) + int(entry.funded)
                funds_avs = True
        if funds_avs:
            funding_roots.append(root)
    finalized = l1_finalized_height(conn)
    pool_paid: dict[str, int] = {}
    pool_pending: dict[str, int] = {}
    c = cumulative_payout_table
    if funded:
        c_chain = [] if chain_id is None else [c.c.l1_chain_id == chain_id]
        for row in conn.execute(
            select(c.c.token, c.c.amount, c.c.block_number).where(c.c.token.in_(sorted(funded)), *c_chain)
        ):
            into = pool_paid if _is_final(row.block_number, finalized) else pool_pending
            into[row.token] = into.get(row.token, 0) + int(row.amount)
    # The same cumulative figures as /v1/reward-sources (one definition: cumulative_source_figures).
    sourced = {t: figures for (_, t), figures in cumulative_source_figures(conn, avs=avs).items()}
    shown = sorted(set(distributed) | set(funded) | set(sourced))
    names = Names.load(conn, tokens=shown)
    tokens = []
    for token in shown:
        mine = sourced.get(token)
        figures = {
            "distributed": distributed.get(token, 0),
            "paid": paid.get(token, 0),
            "pending": pending.get(token, 0),
            "cumulative_funded": funded.get(token, 0),
            "cumulative_pool_funded": pool.get(token, 0) if token in funded else 0,
            "cumulative_pool_paid": pool_paid.get(token, 0),
            "cumulative_pool_pending": pool_pending.get(token, 0),
            "accrued": 0 if mine is None else mine.accrued,
            "drawn": 0 if mine is None else mine.drawn,
        }
        attributed = 0 if mine is None else mine.paid
        unit = names.unit(token)
        display = {name: format_amount(value, unit) for name, value in figures.items()}
        if attributed is not None:
            display["paid_cumulative"] = format_amount(attributed, unit)
        tokens.append(
            schemas.AvsTokenFundingOut.model_validate(
                {
                    "token": token,
                    **{name: str(value) for name, value in figures.items()},
                    "paid_cumulative": None if attributed is None else str(attributed),
                    **token_fields(unit),
                    "display": display,
                }
            )
        )
    return schemas.AvsFundingOut(
        avs=avs,
        payout_mode=str(mode) if mode is not None else PayoutMode.PER_DISTRIBUTION.label,
        tokens=tokens,
        cumulative_root=_newest(funding_roots),
        cumulative_roots=sorted(funding_roots, key=lambda root: root.chain_id or 0),
    )


def _latest_accepted_roots(
    conn: Connection, chain_id: int | None = None
) -> list[tuple[schemas.CumulativeRootOut, tuple[CumulativeFunding, ...]]]:
    """Per client chain (``chain_id``: that one only), the latest cumulative root its RewardVault
    accepted, with its per-(AVS, token) entries."""
    r, pk = cumulative_root_table, packet_table
    on_chain = [] if chain_id is None else [r.c.l1_chain_id == chain_id]
    rows = conn.execute(
        select(r.c.l1_chain_id, r.c.period, r.c.packet_nonce, pk.c.state, pk.c.payload)
        .join(pk, pk.c.nonce == r.c.packet_nonce)
        .where(r.c.accepted.is_(True), *on_chain)
        .order_by(r.c.l1_chain_id, r.c.period.desc())
    )
    out = []
    seen: set[int | None] = set()
    for row in rows:
        if row.l1_chain_id in seen:
            continue
        seen.add(row.l1_chain_id)
        payload = decode_payload(PacketKind.CUMULATIVE_ROOT, bytes.fromhex(row.payload.removeprefix("0x")))
        if not isinstance(payload, CumulativeRootPayload):
            raise InvalidRecordError(f"packet {row.packet_nonce} is not a CUMULATIVE_ROOT payload")
        root = schemas.CumulativeRootOut(
            period=int(row.period),
            packet_nonce=int(row.packet_nonce),
            state=row.state,
            chain_id=row.l1_chain_id,
        )
        out.append((root, payload.entries))
    return out


@dataclass
class CumulativeSourceFigures:
    """One (AVS, token)'s cumulative-payout figures (see :func:`cumulative_source_figures`)."""

    source: int
    """The source the root funds it from: 1 MINT or 2 VAULT."""
    accrued: int = 0
    accruals: int = 0
    drawn: int = 0
    pool_drawn: int = 0
    pool_paid: int = 0
    paid: int | None = 0
    """The AVS's cumulative payouts where L1 tells them apart (None: a pool it shares)."""
    shared: bool = False


def _accrual_chain(conn: Connection) -> int | None:
    """The client chain the cumulative roots go to, hence the one every accrual is paid on: Exocore's
    accrual event names no chain (its totals are over every chain's part: each client chain has its
    own roots, docs/exocore-modules.md). None: no root was created yet, or roots went to several
    chains (the accruals are then counted in the every-chain answer only)."""
    pk = packet_table
    chains = list(
        conn.execute(
            select(pk.c.l1_chain_id)
            .where(pk.c.kind == int(PacketKind.CUMULATIVE_ROOT), pk.c.l1_chain_id.is_not(None))
            .distinct()
            .limit(2)
        ).scalars()
    )
    return int(chains[0]) if len(chains) == 1 else None


def _root_sources(conn: Connection) -> dict[tuple[str, str], int]:
    """Each (AVS, token)'s source as the CUMULATIVE_ROOT packets carry it (a draw seen before its
    accrual: an indexer that started on L1 ahead of Exocore)."""
    pk = packet_table
    found: dict[tuple[str, str], int] = {}
    for payload_hex in conn.execute(
        select(pk.c.payload).where(pk.c.kind == int(PacketKind.CUMULATIVE_ROOT), pk.c.payload.is_not(None))
    ).scalars():
        payload = decode_payload(PacketKind.CUMULATIVE_ROOT, bytes.fromhex(payload_hex.removeprefix("0x")))
        if isinstance(payload, CumulativeRootPayload):
            for entry in payload.entries:
                found[(address_hex(entry.avs), address_hex(entry.token))] = int(entry.funding)
    return found


def cumulative_source_figures(
    conn: Connection, *, avs: str | None = None, token: str | None = None, chain_id: int | None = None
) -> dict[tuple[str, str], CumulativeSourceFigures]:
    """Per (AVS, token) paid under cumulative roots: ``accrued`` (Σ its distributions' totals added
    to the earners' cumulative totals, ``reward_distribution_accrued``), ``drawn`` (Σ ``CumulativeFunded``:
    what the RewardVault moved from the AVS's source into the token's cumulative pool), the pool's
    ``pool_drawn`` (every AVS's draws in the token) and ``pool_paid`` (Σ ``CumulativePaid`` in the
    token), and ``paid``: the AVS's share of the payouts.

    A ``CumulativePaid`` names an earner and a token, never an AVS: the vault pays an earner's total
    over every AVS out of the token's one pool. So ``paid`` is the pool's payouts when the AVS is
    the only one that drew into that token's pool on that chain, and None when others did too (no
    split is invented: the pool figures say what was drawn and paid together). Per chain
    (``chain_id``), or summed over every chain (None if any chain's pool is shared).
    """
    f, a, c = cumulative_funding_table, cumulative_accrual_table, cumulative_payout_table
    on_chain = [] if chain_id is None else [f.c.l1_chain_id == chain_id]
    # Draws per (AVS, token, chain), every AVS's: a pool is per (token, chain).
    draws: dict[tuple[str, str, int | None], int] = {}
    where_f = [*on_chain] + ([] if token is None else [f.c.token == token])
    for row in conn.execute(select(f.c.avs_address, f.c.token, f.c.l1_chain_id, f.c.amount).where(*where_f)):
        key = (row.avs_address, row.token, row.l1_chain_id)
        draws[key] = draws.get(key, 0) + int(row.amount)
    pools: dict[tuple[str, int | None], set[str]] = {}
    pool_drawn: dict[tuple[str, int | None], int] = {}
    for (avs_address, token_address, chain), amount in draws.items():
        pools.setdefault((token_address, chain), set()).add(avs_address)
        pool_drawn[(token_address, chain)] = pool_drawn.get((token_address, chain), 0) + amount
    pool_paid: dict[tuple[str, int | None], int] = {}
    where_c = ([] if chain_id is None else [c.c.l1_chain_id == chain_id]) + (
        [] if token is None else [c.c.token == token]
    )
    for paid_row in conn.execute(select(c.c.token, c.c.l1_chain_id, c.c.amount).where(*where_c)):
        paid_pool = (paid_row.token, paid_row.l1_chain_id)
        pool_paid[paid_pool] = pool_paid.get(paid_pool, 0) + int(paid_row.amount)
    out: dict[tuple[str, str], CumulativeSourceFigures] = {}
    accrual_chain = _accrual_chain(conn) if chain_id is not None else None
    where_a = ([] if avs is None else [a.c.avs_address == avs]) + (
        [] if token is None else [a.c.token == token]
    )
    if chain_id is None or accrual_chain == chain_id:
        for accrual in conn.execute(
            select(a.c.avs_address, a.c.token, a.c.funding, a.c.total).where(*where_a)
        ):
            of_accrual = out.setdefault(
                (accrual.avs_address, accrual.token), CumulativeSourceFigures(int(accrual.funding))
            )
            of_accrual.accrued += int(accrual.total)
            of_accrual.accruals += 1
    root_sources: dict[tuple[str, str], int] | None = None
    for (avs_address, token_address, chain), amount in draws.items():
        if avs is not None and avs_address != avs:
            continue
        found = out.get((avs_address, token_address))
        if found is None:
            if root_sources is None:
                root_sources = _root_sources(conn)
            source = root_sources.get((avs_address, token_address))
            if source is None:
                continue  # Exocore's record of the root is not in yet: left out until it is
            found = out[(avs_address, token_address)] = CumulativeSourceFigures(source)
        figures = found
        figures.drawn += amount
        pool = (token_address, chain)
        figures.pool_drawn += pool_drawn[pool]
        figures.pool_paid += pool_paid.get(pool, 0)
        if pools[pool] == {avs_address} and not figures.shared:
            figures.paid = (figures.paid or 0) + pool_paid.get(pool, 0)
        else:
            figures.shared, figures.paid = True, None
    return out


def reward_sources(
    conn: Connection, *, avs: str | None = None, token: str | None = None, chain_id: int | None = None
) -> schemas.RewardSourcesOut:
    """Per (AVS, token, reward source): funded (deposits seen on L1; none for MINT), distributed
    (Exocore's distributions from it, per-distribution and accrued into cumulative totals), drawn
    into a cumulative pool, and paid on L1 (per-distribution leaves, and the AVS's share of its
    cumulative pool: :func:`cumulative_source_figures`). ``avs`` / ``token`` (lower-case addresses)
    narrow the answer; ``chain_id`` gives one client chain's figures (None: every chain's, summed).
    Distributions first seen on L1, before Exocore's record names their source, are left out until
    it does."""
    funded: dict[_SourceKey, int] = {}
    f = reward_funding_table
    where_f: list[ColumnElement[bool]] = []
    if avs is not None:
        where_f.append(f.c.avs_address == avs)
    if token is not None:
        where_f.append(f.c.token == token)
    if chain_id is not None:
        where_f.append(f.c.l1_chain_id == chain_id)
    for f_row in conn.execute(select(f.c.avs_address, f.c.token, f.c.source, f.c.amount).where(*where_f)):
        key = (f_row.avs_address, f_row.token, int(f_row.source))
        funded[key] = funded.get(key, 0) + int(f_row.amount)
    d = distribution_table
    where_d: list[ColumnElement[bool]] = [
        d.c.packet_kind == int(PacketKind.REWARD_DISTRIBUTION),
        d.c.funding.is_not(None),
    ]
    if avs is not None:
        where_d.append(d.c.avs_address == avs)
    if token is not None:
        where_d.append(d.c.token == token)
    if chain_id is not None:
        # The chain its packet is addressed to (known from creation, before it lands), or the one
        # its root landed on (a packet recorded without its destination).
        pk = packet_table
        where_d.append(
            or_(
                d.c.l1_chain_id == chain_id,
                d.c.nonce.in_(select(pk.c.nonce).where(pk.c.l1_chain_id == chain_id)),
            )
        )
    distributed: dict[_SourceKey, int] = {}
    counts: dict[_SourceKey, int] = {}
    key_of: dict[str, _SourceKey] = {}
    for row in conn.execute(
        select(d.c.distribution_id, d.c.avs_address, d.c.token, d.c.funding, d.c.total).where(*where_d)
    ):
        key = (row.avs_address, row.token, int(row.funding))
        key_of[row.distribution_id] = key
        distributed[key] = distributed.get(key, 0) + int(row.total)
        counts[key] = counts.get(key, 0) + 1
    paid: dict[_SourceKey, int] = {}
    p = payout_table
    ids = sorted(key_of)
    for start in range(0, len(ids), SOURCE_ID_CHUNK):
        part = ids[start : start + SOURCE_ID_CHUNK]
        sums = uint256_sums(
            conn,
            p,
            "distribution_id",
            "amount",
            and_(p.c.distribution_id.in_(part), p.c.state.in_(PAID_STATES)),
        )
        for distribution_id, amount in sums.items():
            key = key_of[distribution_id]
            paid[key] = paid.get(key, 0) + amount
    cumulative = {
        (avs_address, token_address, figures.source): figures
        for (avs_address, token_address), figures in cumulative_source_figures(
            conn, avs=avs, token=token, chain_id=chain_id
        ).items()
    }
    keys = sorted(set(funded) | set(distributed) | set(cumulative))
    names = Names.load(conn, tokens=[k[1] for k in keys], avss=[k[0] for k in keys])
    modes = {
        row.avs_address: row.payout_mode
        for row in conn.execute(
            select(avs_table.c.avs_address, avs_table.c.payout_mode).where(
                avs_table.c.avs_address.in_(sorted({k[0] for k in keys}))
            )
        )
    }
    out: list[schemas.RewardSourceOut] = []
    for key in keys:
        avs_address, token_address, source = key
        unit = names.unit(token_address)
        minted = source == FundingMode.MINT
        put_in = None if minted else funded.get(key, 0)
        pooled = cumulative.get(key)
        accrued = 0 if pooled is None else pooled.accrued
        drawn = 0 if pooled is None else pooled.drawn
        paid_cumulative = 0 if pooled is None else pooled.paid
        per_distribution = paid.get(key, 0)
        took = per_distribution + (paid_cumulative or 0)
        shown_distributed = distributed.get(key, 0) + accrued
        # What the source still holds for the AVS: its deposits less what per-distribution payouts
        # took and what cumulative roots drew (the vault's balance of the AVS in the source).
        held = None if put_in is None else put_in - per_distribution - drawn
        mode = modes.get(avs_address)
        out.append(
            schemas.RewardSourceOut(
                avs_address=avs_address,
                token=token_address,
                source=source,
                source_name=FundingMode(source).name,  # type: ignore[arg-type]
                payout_mode=str(mode) if mode is not None else PayoutMode.PER_DISTRIBUTION.label,
                funded=None if put_in is None else str(put_in),
                distributed=str(shown_distributed),
                accrued=str(accrued),
                drawn=str(drawn),
                paid=str(took),
                paid_per_distribution=str(per_distribution),
                paid_cumulative=None if paid_cumulative is None else str(paid_cumulative),
                cumulative_pool_drawn=None if pooled is None else str(pooled.pool_drawn),
                cumulative_pool_paid=None if pooled is None else str(pooled.pool_paid),
                held=None if held is None else str(held),
                distributions=counts.get(key, 0) + (0 if pooled is None else pooled.accruals),
                avs_name=names.avs_names.get(avs_address),
                **token_fields(unit),
                funded_display=amount_text(put_in, unit),
                distributed_display=amount_text(shown_distributed, unit),
                drawn_display=amount_text(drawn, unit),
                cumulative_pool_drawn_display=None
                if pooled is None
                else amount_text(pooled.pool_drawn, unit),
                cumulative_pool_paid_display=None if pooled is None else amount_text(pooled.pool_paid, unit),
                paid_display=amount_text(took, unit),
                held_display=amount_text(held, unit),
            )
        )
    return schemas.RewardSourcesOut(sources=out, chain_id=chain_id)


LEAF_CLAIMS_SHOWN: Final = 100
"""Unpaid leaves one ``/v1/stakers/{s}/claims`` answer lists: each costs its distribution's tree
(built once per distribution) and a proof; a staker with more claims these and asks again."""


def leaf_claims(conn: Connection, staker: str) -> schemas.StakerClaimsOut:
    """``staker``'s unpaid leaves (payout ``pending`` or ``submitted``) of reward distributions whose
    root is on L1, each with its proof and the gateway ``claim`` calldata. Each tree is rebuilt from
    the stored leaves and must give the root stored for the distribution (else an error: the stored
    leaves are not the signed tree)."""
    p, d = payout_table, distribution_table
    rows = list(
        conn.execute(
            select(p.c.distribution_id, p.c.leaf_index, p.c.state, d)
            .join(d, d.c.distribution_id == p.c.distribution_id)
            .where(
                p.c.staker == staker,
                p.c.state.in_([PayoutState.PENDING.value, PayoutState.SUBMITTED.value]),
                d.c.packet_kind == int(PacketKind.REWARD_DISTRIBUTION),
                d.c.l1_block_number.is_not(None),
            )
            .order_by(d.c.nonce, p.c.leaf_index)
            .limit(LEAF_CLAIMS_SHOWN + 1)
        )
    )
    truncated = len(rows) > LEAF_CLAIMS_SHOWN
    rows = rows[:LEAF_CLAIMS_SHOWN]
    by_distribution: dict[str, list[Row[Any]]] = {}
    for row in rows:
        by_distribution.setdefault(row.distribution_id, []).append(row)
    names = Names.load(conn, tokens=[r.token for r in rows], avss=[r.avs_address for r in rows])
    out: list[schemas.LeafClaimOut] = []
    leaf = leaf_table
    for distribution_id, mine in by_distribution.items():
        first = mine[0]
        tree = DistributionTree.build(
            TreeLeaf(int(x.leaf_index), as_address(x.staker), Amount(int(x.amount)))
            for x in conn.execute(
                select(leaf.c.leaf_index, leaf.c.staker, leaf.c.amount)
                .where(leaf.c.distribution_id == distribution_id)
                .order_by(leaf.c.leaf_index)
            )
        )
        if "0x" + tree.root.hex() != first.merkle_root:
            raise InvalidRecordError(
                f"distribution {distribution_id}: the stored leaves do not give its root {first.merkle_root}"
            )
        unit = names.unit(first.token)
        claims = plan_leaf_claims(bytes.fromhex(distribution_id[2:]), tree, [int(r.leaf_index) for r in mine])
        states = {int(r.leaf_index): r.state for r in mine}
        for claim in claims:
            out.append(
                schemas.LeafClaimOut(
                    distribution_id=distribution_id,
                    claim_id=first.claim_id,
                    avs_address=first.avs_address,
                    epoch=int(first.epoch),
                    token=first.token,
                    source_name=None if first.funding is None else FundingMode(first.funding).name,  # type: ignore[arg-type]
                    leaf_index=claim.leaf.index,
                    amount=str(claim.leaf.amount),
                    status=states[claim.leaf.index],
                    proof=["0x" + node.hex() for node in claim.proof],
                    calldata="0x" + claim.calldata.hex(),
                    avs_name=names.avs_names.get(first.avs_address),
                    **token_fields(unit),
                    amount_display=amount_text(claim.leaf.amount, unit),
                )
            )
    return schemas.StakerClaimsOut(staker=staker, leaves=out, truncated=truncated)


# ---------------------------------------------------------------------------------------- valsets


def _installations(conn: Connection, nonces: Sequence[int]) -> dict[int, list[schemas.ValsetInstallationOut]]:
    if not nonces:
        return {}
    i = valset_l1_table
    found: dict[int, list[schemas.ValsetInstallationOut]] = {}
    for r in conn.execute(
        select(i).where(i.c.valset_nonce.in_(sorted(set(nonces)))).order_by(i.c.valset_nonce, i.c.l1_chain_id)
    ):
        found.setdefault(int(r.valset_nonce), []).append(
            schemas.ValsetInstallationOut(
                chain_id=r.l1_chain_id,
                commitment=r.commitment,
                total_power=str(r.total_power),
                l1=schemas.ChainLocation(
                    chain="l1",
                    height=r.block_number,
                    block_hash=r.block_hash,
                    tx_hash=r.tx_hash,
                    log_index=r.log_index,
                ),
                installed_at=r.installed_at,
            )
        )
    return found


def _valset_fields(
    row: Row[Any], installations: Mapping[int, list[schemas.ValsetInstallationOut]]
) -> dict[str, Any]:
    return {
        "valset_nonce": row.valset_nonce,
        "total_power": str(row.total_power),
        "member_count": len(row.members),
        "created_height": row.created_height,
        "origin": row.origin,
        "installations": installations.get(int(row.valset_nonce), []),
        "created_at": row.created_at,
    }


def valset_items(conn: Connection, rows: Sequence[Row[Any]]) -> list[schemas.ValsetOut]:
    installations = _installations(conn, [int(r.valset_nonce) for r in rows])
    return [schemas.ValsetOut(**_valset_fields(r, installations)) for r in rows]


def valset_detail(conn: Connection, valset_nonce: int) -> schemas.ValsetDetail | None:
    v = valset_table
    row = conn.execute(select(v).where(v.c.valset_nonce == valset_nonce)).first()
    if row is None:
        return None
    members = [
        schemas.ValsetMemberOut(index=m["index"], bls_pubkey=m["bls_pubkey"], power=str(m["power"]))
        for m in row.members
    ]
    return schemas.ValsetDetail(**_valset_fields(row, _installations(conn, [valset_nonce])), members=members)
