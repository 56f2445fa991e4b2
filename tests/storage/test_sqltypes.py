"""Uint256 stores every uint256 exactly and keeps ORDER BY numeric, on PostgreSQL and SQLite."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, Table, func, insert, select
from sqlalchemy.exc import StatementError

from relayer.protocol.errors import InvalidValueError
from storage.sqltypes import Uint256

UINT256_MAX = 2**256 - 1
VALUES = [0, 1, 2**63 - 1, 2**63, 2**64 + 7, 10**30, 10**77, UINT256_MAX]


@pytest.fixture()
def amounts_table(db_engine: Engine) -> Table:
    metadata = MetaData()
    table = Table(
        f"amounts_{id(metadata)}",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("amount", Uint256, nullable=True),
    )
    metadata.create_all(db_engine)
    return table


def test_round_trip_is_exact(db_engine: Engine, amounts_table: Table) -> None:
    with db_engine.begin() as conn:
        conn.execute(insert(amounts_table), [{"id": i, "amount": v} for i, v in enumerate(VALUES)])
        conn.execute(insert(amounts_table), [{"id": 100, "amount": None}])
    with db_engine.connect() as conn:
        rows = dict(conn.execute(select(amounts_table.c.id, amounts_table.c.amount)).all())
    assert [rows[i] for i in range(len(VALUES))] == VALUES
    assert all(type(rows[i]) is int for i in range(len(VALUES)))
    assert rows[100] is None


def test_order_by_and_equality_are_numeric(db_engine: Engine, amounts_table: Table) -> None:
    shuffled = [VALUES[i] for i in (5, 0, 7, 2, 6, 1, 4, 3)]
    with db_engine.begin() as conn:
        conn.execute(insert(amounts_table), [{"id": i, "amount": v} for i, v in enumerate(shuffled)])
    with db_engine.connect() as conn:
        by_amount = select(amounts_table.c.amount).order_by(amounts_table.c.amount)
        ordered = conn.execute(by_amount).scalars().all()
        match = conn.execute(select(func.count()).where(amounts_table.c.amount == 2**63)).scalar_one()
        above = conn.execute(select(func.count()).where(amounts_table.c.amount > 2**64)).scalar_one()
    assert ordered == sorted(VALUES)
    assert match == 1
    assert above == 4


@pytest.mark.parametrize("bad", [-1, UINT256_MAX + 1, True])
def test_out_of_range_is_rejected_before_it_reaches_the_database(
    db_engine: Engine, amounts_table: Table, bad: int
) -> None:
    with pytest.raises(StatementError) as info, db_engine.begin() as conn:
        conn.execute(insert(amounts_table), [{"id": 1, "amount": bad}])
    assert isinstance(info.value.orig, InvalidValueError)
