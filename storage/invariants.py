"""Invariants checked after every ingested batch, inside the batch's transaction.

A violation raises :class:`~storage.errors.InvariantViolationError`; the ingestor then rolls the
batch back, records the violation, counts it in a metric and halts the stream. Nothing that breaks
an invariant is ever committed.

- ``sum_paid_le_total``: Σ amounts of paid (included or finalized) payouts of a distribution never
  exceeds its total.
- ``leaf_paid_once``: no leaf has two live ``included`` moves (two payments) in its history.
- ``forward_only``: every new transition is a move its graph allows (forward, a listed retry, or a
  reorg reversal) and starts from the state the previous transition of the object ended in.
- ``payout_matches_transfers``: in every L1 transaction that paid leaves, Σ RewardPaid amounts per
  (token, staker) equals Σ ERC-20 ``Transfer`` amounts per (token, recipient) out of the funding
  sources (a mint from the zero address, or the RewardVault). Withdrawal-approval leaves
  (the RestakingVault's ``WithdrawalPaid``, recorded as paid leaves) are held to the same rule against
  the vault's transfers: Σ approved-and-paid per token = what left custody for them.
Each client chain has its own cumulative roots, periods and vault: every ``cumulative_*`` invariant
holds per client chain (``l1_chain_id``), never summed across chains.

- ``cumulative_paid_le_accrued``: per (chain, earner, token), Σ ``CumulativePaid`` amounts never
  exceeds the earner's cumulative leaf in that chain's latest period paid under (the most that root
  lets L1 pay). Checked on each L1 batch that pays the pair, when that period's leaves are stored
  (the Exocore stream records them with the root's packet), and again on the Exocore batch that
  stores a period's leaves for the pairs L1 already paid under it (the Exocore stream lagging behind).
- ``cumulative_paid_le_earned``: per (chain, token), Σ ``CumulativePaid`` amounts (every earner,
  every AVS) never exceeds Σ of the token's leaves in the chain's latest period stored, once that
  period is at least the latest one paid under (what Exocore distributed in the token, all AVSs
  together; it also bounds payouts to an earner without a leaf, which the per-earner check cannot).
- ``cumulative_paid_matches_transfers``: in every L1 transaction with a ``CumulativePaid`` (on the
  chain being ingested), Σ amounts per (token, recipient) equals Σ ``Transfer`` amounts per (token,
  recipient) on that chain out of the
  funding sources (the vault's mint from the zero address, or the RewardVault's own balance).

On PostgreSQL (:func:`~storage.store.set_based`, the one place the dialect is picked) the history
and paid-equals-transferred checks first ask the server, in one statement over the batch's keys,
whether anything is off (no history or sums shipped to the client); only if something is does the
portable check below run, which every dialect runs, reads the rows and raises the precise error. The
server's question is a superset of the portable check: it never answers "clean" where that check
would raise.

Checks found while applying records raise the same error inline: ``leaf_paid_once`` (a second
RewardPaid for a leaf), ``payout_matches_leaf``, ``payout_has_distribution``,
``distribution_matches_exocore``, ``distribution_submitted_once``, ``valset_commitment_agrees`` (every
client chain that installs a validator set stores the same commitment for it).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any, Final

from sqlalchemy import Connection, and_, exists, func, literal, select, tuple_

from storage.errors import InvariantViolationError
from storage.lifecycle import EdgeKind, EntityKind, Lifecycle, PayoutState, lifecycle
from storage.models import (
    cumulative_leaf_table,
    cumulative_payout_table,
    distribution_table,
    payout_table,
    transfer_table,
    transition_table,
)
from storage.normalize import ZERO_ADDRESS
from storage.store import PAID_STATES, chunks, member_of, set_based, uint256_sums

SUM_PAID_LE_TOTAL: Final = "sum_paid_le_total"
LEAF_PAID_ONCE: Final = "leaf_paid_once"
FORWARD_ONLY: Final = "forward_only"
PAYOUT_MATCHES_TRANSFERS: Final = "payout_matches_transfers"
CUMULATIVE_PAID_LE_ACCRUED: Final = "cumulative_paid_le_accrued"
CUMULATIVE_PAID_LE_EARNED: Final = "cumulative_paid_le_earned"
CUMULATIVE_PAID_MATCHES_TRANSFERS: Final = "cumulative_paid_matches_transfers"

INVARIANTS: Final = (
    SUM_PAID_LE_TOTAL,
    LEAF_PAID_ONCE,
    FORWARD_ONLY,
    PAYOUT_MATCHES_TRANSFERS,
    CUMULATIVE_PAID_LE_ACCRUED,
    CUMULATIVE_PAID_LE_EARNED,
    CUMULATIVE_PAID_MATCHES_TRANSFERS,
)

CHECK_CHUNK_ROWS: Final = 20_000
"""History rows held at once by the transition checks (a 100k-payout backfill streams through)."""


def check_paid_within_total(conn: Connection, stream: str, distribution_ids: Iterable[str]) -> None:
    ids = sorted(set(distribution_ids))
    p, d = payout_table, distribution_table
    for part in chunks(ids):
        paid = uint256_sums(
            conn,
            p,
            "distribution_id",
            "amount",
            and_(member_of(conn, p.c.distribution_id, part), p.c.state.in_(PAID_STATES)),
        )
        totals = dict(
            conn.execute(
                select(d.c.distribution_id, d.c.total).where(member_of(conn, d.c.distribution_id, part))
            ).all()
        )
        for distribution_id, amount in paid.items():
            total = totals.get(distribution_id)
            if total is None or amount > total:
                raise InvariantViolationError(
                    stream,
                    SUM_PAID_LE_TOTAL,
                    f"distribution {distribution_id} paid {amount}, more than its total {total}",
                    {"distribution_id": distribution_id, "paid": str(amount), "total": str(total)},
                )


def check_cumulative_paid_within_accrued(
    conn: Connection, stream: str, chain_id: int, keys: Iterable[tuple[str, str]]
) -> None:
    """``cumulative_paid_le_accrued`` for the (earner, token) pairs a batch of chain ``chain_id`` paid."""
    c, leaf = cumulative_payout_table, cumulative_leaf_table
    for earner, token in sorted(set(keys)):
        rows = conn.execute(
            select(c.c.amount, c.c.period).where(
                c.c.l1_chain_id == chain_id, c.c.earner == earner, c.c.token == token
            )
        ).all()
        if not rows:
            continue
        paid = sum(int(row.amount) for row in rows)
        period = max(int(row.period) for row in rows)
        accrued = conn.execute(
            select(leaf.c.cumulative).where(
                leaf.c.l1_chain_id == chain_id,
                leaf.c.period == period,
                leaf.c.earner == earner,
                leaf.c.token == token,
            )
        ).scalar()
        if accrued is not None and paid > int(accrued):
            raise InvariantViolationError(
                stream,
                CUMULATIVE_PAID_LE_ACCRUED,
                f"earner {earner} was paid {paid} of {token} on chain {chain_id}, more than its "
                f"cumulative {accrued} in period {period}",
                {
                    "chain_id": chain_id,
                    "earner": earner,
                    "token": token,
                    "paid": str(paid),
                    "accrued": str(accrued),
                },
            )


def check_cumulative_leaves_cover_payouts(
    conn: Connection, stream: str, periods: Iterable[tuple[int, int]]
) -> None:
    """``cumulative_paid_le_accrued`` when a period's leaves arrive after L1 already paid under it
    (the Exocore stream lagging behind the L1 stream): the pairs paid under those (chain, period)s."""
    c = cumulative_payout_table
    by_chain: dict[int, set[int]] = defaultdict(set)
    for chain_id, period in periods:
        by_chain[chain_id].add(period)
    for chain_id, wanted in sorted(by_chain.items()):
        keys = conn.execute(
            select(c.c.earner, c.c.token)
            .where(c.c.l1_chain_id == chain_id, c.c.period.in_(sorted(wanted)))
            .distinct()
        ).all()
        check_cumulative_paid_within_accrued(
            conn, stream, chain_id, [(row.earner, row.token) for row in keys]
        )


def check_leaves_paid_once(conn: Connection, stream: str, first_transition_id: int) -> None:
    """No payout touched since ``first_transition_id`` entered ``included`` twice without a reversal."""
    check_transition_history(conn, stream, first_transition_id, forward_only=False)


def check_forward_only(conn: Connection, stream: str, first_transition_id: int) -> None:
    """Every transition since ``first_transition_id`` is allowed and continues its object's history."""
    check_transition_history(conn, stream, first_transition_id, paid_once=False)


def check_transition_history(
    conn: Connection,
    stream: str,
    first_transition_id: int,
    *,
    forward_only: bool = True,
    paid_once: bool = True,
) -> None:
    """``forward_only`` and ``leaf_paid_once`` over the whole history of every object touched since
    ``first_transition_id``, in one query: the objects are picked on the server (a semi-join on the
    new rows, an index range scan each), not shipped to the client and back as id lists."""
    if set_based(conn) and not _history_may_break(
        conn, first_transition_id, forward_only=forward_only, paid_once=paid_once
    ):
        return
    t = transition_table
    touched = select(t.c.entity_kind, t.c.entity_id).where(t.c.id >= first_transition_id).distinct()
    rows = conn.execute(
        select(
            t.c.id, t.c.entity_kind, t.c.entity_id, t.c.from_state, t.c.to_state, t.c.edge, t.c.reverses_id
        )
        .where(tuple_(t.c.entity_kind, t.c.entity_id).in_(touched))
        .order_by(t.c.entity_kind, t.c.entity_id, t.c.id)
    )
    part: list[Any] = []
    for fetched in rows.partitions(CHECK_CHUNK_ROWS):  # fetchmany: a row at a time costs ~3 us more
        for row in fetched:
            # Checked a whole object's history at a time, a bounded number of objects at a time.
            if len(part) >= CHECK_CHUNK_ROWS and (row.entity_kind, row.entity_id) != (
                part[-1].entity_kind,
                part[-1].entity_id,
            ):
                _check_history(stream, part, forward_only=forward_only, paid_once=paid_once)
                part = []
            part.append(row)
    if part:
        _check_history(stream, part, forward_only=forward_only, paid_once=paid_once)


def _history_may_break(
    conn: Connection, first_transition_id: int, *, forward_only: bool, paid_once: bool
) -> bool:
    """Whether :func:`check_transition_history` could raise, asked of the server in one statement:
    each distinct move of the touched histories (checked here against the graphs), whether any row
    does not start where its object's previous row ended, and whether any payout has two live
    inclusions (its own reversals only: never fewer than the portable check counts)."""
    t = transition_table
    touched = select(t.c.entity_kind, t.c.entity_id).where(t.c.id >= first_transition_id).distinct().cte()
    history = (
        select(
            t.c.id,
            t.c.entity_kind,
            t.c.entity_id,
            t.c.from_state,
            t.c.to_state,
            t.c.edge,
            t.c.reverses_id,
            func.lag(t.c.to_state)
            .over(partition_by=(t.c.entity_kind, t.c.entity_id), order_by=t.c.id)
            .label("previous"),
        )
        .join(touched, and_(t.c.entity_kind == touched.c.entity_kind, t.c.entity_id == touched.c.entity_id))
        .cte()
    )
    h = history.alias("h")
    r = transition_table.alias("r")  # its reverses_id index: a lookup per inclusion
    live_inclusions = (
        select(h.c.entity_id)
        .where(
            h.c.entity_kind == EntityKind.PAYOUT.value,
            h.c.to_state == PayoutState.INCLUDED.value,
            h.c.edge != EdgeKind.REVERSAL.value,
            ~exists().where(
                r.c.entity_kind == h.c.entity_kind,
                r.c.entity_id == h.c.entity_id,
                r.c.reverses_id == h.c.id,
            ),
        )
        .group_by(h.c.entity_id)
        .having(func.count() > 1)
    )
    moves = conn.execute(
        select(
            history.c.entity_kind,
            history.c.from_state,
            history.c.to_state,
            history.c.edge,
            func.bool_or(history.c.from_state.is_distinct_from(history.c.previous)),
            live_inclusions.exists() if paid_once else literal(False),
        ).group_by(history.c.entity_kind, history.c.from_state, history.c.to_state, history.c.edge)
    ).all()
    for kind, from_state, to_state, edge, broken, paid_twice in moves:
        if paid_twice:
            return True
        if forward_only and (broken or not _allowed(kind, from_state, to_state, edge)):
            return True
    return False


def _check_history(stream: str, rows: Sequence[Any], *, forward_only: bool, paid_once: bool) -> None:
    """Rows of whole histories, ordered by kind, object, id."""
    start = 0
    for end in range(1, len(rows) + 1):
        if end < len(rows) and rows[end].entity_kind == rows[start].entity_kind:
            continue
        kind, same_kind = rows[start].entity_kind, rows[start:end]
        if forward_only:
            _check_continuity(stream, kind, lifecycle(kind), same_kind)
        if paid_once and kind == EntityKind.PAYOUT.value:
            _check_single_inclusion(stream, same_kind)
        start = end


def _check_continuity(stream: str, kind: str, machine: Lifecycle, rows: Sequence[Any]) -> None:
    previous: dict[str, str | None] = {}
    for row in rows:
        expected = previous.get(row.entity_id)
        if expected != row.from_state or not _allowed(kind, row.from_state, row.to_state, row.edge):
            _backwards(
                stream=stream,
                kind=kind,
                entity_id=row.entity_id,
                row_id=row.id,
                expected=expected,
                from_state=row.from_state,
                to_state=row.to_state,
            )
        previous[row.entity_id] = row.to_state


@cache
def _allowed(kind: str, from_state: str | None, to_state: str | None, edge: str) -> bool:
    """``Lifecycle.allows`` memoised: a batch checks thousands of rows over a handful of distinct moves."""
    return lifecycle(kind).allows(from_state, to_state, EdgeKind(edge))


def _check_single_inclusion(stream: str, rows: Sequence[Any]) -> None:
    undone = {row.reverses_id for row in rows if row.reverses_id is not None}
    inclusions: Counter[str] = Counter(
        row.entity_id
        for row in rows
        if row.to_state == PayoutState.INCLUDED.value
        and row.edge != EdgeKind.REVERSAL.value
        and row.id not in undone
    )
    for entity_id, times in inclusions.items():
        if times > 1:
            raise InvariantViolationError(
                stream,
                LEAF_PAID_ONCE,
                f"payout {entity_id} was included {times} times",
                {"payout": entity_id, "inclusions": times},
            )


def _backwards(
    *,
    stream: str,
    kind: str,
    entity_id: str,
    row_id: int,
    expected: str | None,
    from_state: str | None,
    to_state: str | None,
) -> None:
    raise InvariantViolationError(
        stream,
        FORWARD_ONLY,
        f"{kind} {entity_id}: transition #{row_id} {from_state} -> {to_state} is not allowed"
        + (f" (the object was in {expected})" if expected != from_state else ""),
        {
            "entity_kind": kind,
            "entity_id": entity_id,
            "transition_id": row_id,
            "from": from_state,
            "to": to_state,
        },
    )


def check_payouts_match_transfers(
    conn: Connection, stream: str, tx_hashes: Iterable[str], funding_sources: Sequence[str]
) -> None:
    """Σ RewardPaid == Σ Transfer per (token, recipient) in each payout transaction."""
    p = payout_table
    senders = sorted({ZERO_ADDRESS, *funding_sources})
    for part in chunks(sorted(set(tx_hashes))):
        if set_based(conn) and not _payouts_may_mismatch(conn, part, senders):
            continue
        paid: dict[tuple[str, str, str], int] = defaultdict(int)
        for row in conn.execute(
            select(p.c.l1_tx_hash, p.c.token, p.c.staker, p.c.amount).where(
                member_of(conn, p.c.l1_tx_hash, part),
                p.c.state.in_(PAID_STATES),
                p.c.l1_block_number.is_not(None),
            )
        ):
            paid[(row.l1_tx_hash, row.token, row.staker)] += int(row.amount)
        moved = _transferred(conn, part, senders)
        _raise_on_mismatch(stream, PAYOUT_MATCHES_TRANSFERS, "RewardPaid", paid, moved)


def _payouts_may_mismatch(conn: Connection, tx_hashes: Sequence[str], senders: Sequence[str]) -> bool:
    """Whether :func:`check_payouts_match_transfers` could raise for these transactions, asked of
    the server in one statement: both sides summed per (tx, token, recipient) and compared there."""
    p, x = payout_table, transfer_table
    paid = (
        select(
            p.c.l1_tx_hash.label("tx_hash"),
            p.c.token,
            p.c.staker.label("recipient"),
            func.sum(p.c.amount).label("amount"),
        )
        .where(
            member_of(conn, p.c.l1_tx_hash, tx_hashes),
            p.c.state.in_(PAID_STATES),
            p.c.l1_block_number.is_not(None),
        )
        .group_by(p.c.l1_tx_hash, p.c.token, p.c.staker)
        .cte("paid")
    )
    moved = (
        select(x.c.tx_hash, x.c.token, x.c.recipient, func.sum(x.c.amount).label("amount"))
        .where(member_of(conn, x.c.tx_hash, tx_hashes), x.c.sender.in_(senders))
        .group_by(x.c.tx_hash, x.c.token, x.c.recipient)
        .cte("moved")
    )
    same_key = and_(
        paid.c.tx_hash == moved.c.tx_hash,
        paid.c.token == moved.c.token,
        paid.c.recipient == moved.c.recipient,
    )
    mismatch = (
        select(literal(1))
        .select_from(paid.join(moved, same_key, full=True))
        .where(func.coalesce(paid.c.amount, 0) != func.coalesce(moved.c.amount, 0))
    )
    return bool(conn.execute(select(mismatch.exists())).scalar())


def check_cumulative_paid_within_earned(
    conn: Connection, stream: str, chain_id: int, tokens: Iterable[str]
) -> None:
    """``cumulative_paid_le_earned`` for the tokens a batch of chain ``chain_id`` paid."""
    c, leaf = cumulative_payout_table, cumulative_leaf_table
    for token in sorted(set(tokens)):
        paid_on_chain = and_(c.c.l1_chain_id == chain_id, c.c.token == token)
        paid_under = conn.execute(select(func.max(c.c.period)).where(paid_on_chain)).scalar()
        latest = conn.execute(
            select(func.max(leaf.c.period)).where(leaf.c.l1_chain_id == chain_id, leaf.c.token == token)
        ).scalar()
        if paid_under is None or latest is None or int(latest) < int(paid_under):
            continue  # the period paid under is not stored yet (the Exocore stream lags)
        paid = sum(uint256_sums(conn, c, "token", "amount", paid_on_chain).values())
        earned = sum(
            uint256_sums(
                conn,
                leaf,
                "token",
                "cumulative",
                and_(leaf.c.l1_chain_id == chain_id, leaf.c.token == token, leaf.c.period == latest),
            ).values()
        )
        if paid > earned:
            raise InvariantViolationError(
                stream,
                CUMULATIVE_PAID_LE_EARNED,
                f"{token} on chain {chain_id}: cumulative payouts sum {paid}, more than the {earned} "
                f"earned up to period {latest}",
                {
                    "chain_id": chain_id,
                    "token": token,
                    "paid": str(paid),
                    "earned": str(earned),
                    "period": int(latest),
                },
            )


def check_cumulative_transfers_match_payouts(
    conn: Connection,
    stream: str,
    tx_hashes: Iterable[str],
    funding_sources: Sequence[str],
    chain_id: int | None = None,
) -> None:
    """``cumulative_paid_matches_transfers``: Σ CumulativePaid == Σ Transfer per (token, recipient)
    in each transaction that paid under a cumulative root, both on chain ``chain_id`` (None: any)."""
    c = cumulative_payout_table
    senders = sorted({ZERO_ADDRESS, *funding_sources})
    on_chain = [] if chain_id is None else [c.c.l1_chain_id == chain_id]
    for part in chunks(sorted(set(tx_hashes))):
        paid: dict[tuple[str, str, str], int] = defaultdict(int)
        for row in conn.execute(
            select(c.c.tx_hash, c.c.token, c.c.recipient, c.c.amount).where(
                member_of(conn, c.c.tx_hash, part), *on_chain
            )
        ):
            paid[(row.tx_hash, row.token, row.recipient)] += int(row.amount)
        moved = _transferred(conn, part, senders, chain_id)
        _raise_on_mismatch(stream, CUMULATIVE_PAID_MATCHES_TRANSFERS, "CumulativePaid", paid, moved)


_PaidTo = dict[tuple[str, str, str], int]
"""Amounts per (tx hash, token, recipient)."""


def _transferred(
    conn: Connection, tx_hashes: Sequence[str], senders: Sequence[str], chain_id: int | None = None
) -> _PaidTo:
    """What ``Transfer`` events in these transactions (on chain ``chain_id``; None: any) moved out of
    the funding sources (or minted)."""
    x = transfer_table
    on_chain = [] if chain_id is None else [x.c.l1_chain_id == chain_id]
    moved: _PaidTo = defaultdict(int)
    for row in conn.execute(
        select(x.c.tx_hash, x.c.token, x.c.recipient, x.c.amount).where(
            member_of(conn, x.c.tx_hash, tx_hashes), x.c.sender.in_(senders), *on_chain
        )
    ):
        moved[(row.tx_hash, row.token, row.recipient)] += int(row.amount)
    return moved


def _raise_on_mismatch(stream: str, invariant: str, event: str, paid: _PaidTo, moved: _PaidTo) -> None:
    """The first (tx, token, recipient) whose paid events and Transfer events differ, as a violation."""
    for key in sorted(set(paid) | set(moved)):
        if paid.get(key, 0) != moved.get(key, 0):
            tx_hash, token, recipient = key
            raise InvariantViolationError(
                stream,
                invariant,
                f"tx {tx_hash}: {event} sums {paid.get(key, 0)} of {token} to {recipient}, "
                f"Transfer events move {moved.get(key, 0)}",
                {
                    "tx_hash": tx_hash,
                    "token": token,
                    "recipient": recipient,
                    "paid": str(paid.get(key, 0)),
                    "transferred": str(moved.get(key, 0)),
                },
            )
