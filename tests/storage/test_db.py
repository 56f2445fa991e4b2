"""Engines: read-only really is read-only, and a URL's own options (a search_path) survive it."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from storage import migrate
from storage.db import create_db_engine, refresh_stale_statistics
from tests.support.database import DATABASE_URL_ENV


def test_sqlite_read_only_engine_refuses_writes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sub' / 'ro.db'}"  # the directory is created on demand
    writer = create_db_engine(url)
    migrate.upgrade(writer)
    reader = create_db_engine(url, read_only=True)
    with reader.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM payout")).scalar_one() == 0
    with pytest.raises(DBAPIError), reader.begin() as conn:
        conn.execute(text("DELETE FROM payout"))
    assert refresh_stale_statistics(writer) == []  # PostgreSQL only
    reader.dispose()
    writer.dispose()


@pytest.mark.skipif(not os.environ.get(DATABASE_URL_ENV), reason="needs PostgreSQL")
def test_postgres_read_only_url_keeps_its_search_path() -> None:
    base = os.environ[DATABASE_URL_ENV]
    schema = f"exorelay_ro_{secrets.token_hex(4)}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = f"{base}?options=-csearch_path%3D{schema}"
        writer = create_db_engine(url)
        migrate.upgrade(writer)
        reader = create_db_engine(url, read_only=True)
        with reader.connect() as conn:
            assert conn.execute(text("SHOW search_path")).scalar_one() == schema
            assert conn.execute(text("SHOW default_transaction_read_only")).scalar_one() == "on"
            assert conn.execute(text("SELECT count(*) FROM payout")).scalar_one() == 0
        with pytest.raises(DBAPIError), reader.begin() as conn:
            conn.execute(text("DELETE FROM payout"))
        assert refresh_stale_statistics(writer) == []  # nothing changed yet
        with writer.connect() as conn:
            conn.execute(
                text(
                    "INSERT INTO transition (entity_kind, entity_id, to_state, edge, chain, at, recorded_at)"
                    " SELECT 'claim', 'x' || n, 'submitted', 'forward', 'exocore', now(), now()"
                    " FROM generate_series(1, 20000) AS n"
                )
            )
            conn.commit()
            conn.execute(text("SELECT pg_stat_force_next_flush()"))
            conn.commit()
        # 20,000 changed rows on a table that held none: its statistics are stale.
        assert refresh_stale_statistics(writer) == ["transition"]
        assert refresh_stale_statistics(writer) == []
        reader.dispose()
        writer.dispose()
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
