"""``exorelay migrate`` run by two processes at once on one fresh PostgreSQL schema: each takes the
migrations' advisory lock before it decides anything, so the second waits for the first and then
finds nothing to do; the schema ends at the newest revision, migrated once.

The test holds the lock itself while it starts both processes, and releases it only once the
database shows both waiting for it: the overlap is certain, not a matter of timing.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest
from sqlalchemy import Engine, func, select, text

from storage import migrate
from storage.schema import metadata
from tests.support.database import backend, cli_url, fresh_database

HANG_BOUND_S: Final = 300.0
"""Bounds a hang (a process that neither waits nor exits); not a speed requirement."""

pytestmark = pytest.mark.skipif(
    backend() != "postgresql", reason="advisory locks are PostgreSQL's (SQLite is one file on one host)"
)


@pytest.fixture
def empty(tmp_path: Path) -> Iterator[Engine]:
    with fresh_database(tmp_path) as engine:
        yield engine


def waiting_for_the_lock(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                    "AND classid = :lock_class AND objid = hashtext(current_schema())::oid"
                ),
                {"lock_class": migrate.MIGRATION_LOCK_CLASS},
            ).scalar_one()
        )


def test_two_concurrent_migrations_of_one_fresh_schema_run_one_after_the_other(empty: Engine) -> None:
    url = cli_url(empty)
    command = [sys.executable, "-m", "relayer", "migrate", "--database-url", url]
    with empty.begin() as holder:
        migrate.lock_migrations(holder)
        processes = [
            subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for _ in range(2)
        ]
        try:
            deadline = time.monotonic() + HANG_BOUND_S
            while waiting_for_the_lock(empty) < 2:
                exited = [p for p in processes if p.poll() is not None]
                assert not exited, "a migration ran without waiting for the lock: " + "".join(
                    p.communicate()[0] for p in exited
                )
                assert time.monotonic() < deadline, "the migrations neither waited for the lock nor exited"
                time.sleep(0.1)
        except BaseException:
            for process in processes:
                process.kill()
                process.wait()
            raise
    # Released: one migrates, then the other finds the newest revision and changes nothing.
    outputs = [p.communicate(timeout=HANG_BOUND_S)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    head = migrate.head_revision()
    assert all(f"database at revision {head}" in out for out in outputs), outputs
    assert migrate.current_revision(empty) == head
    with empty.connect() as conn:
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        tables = conn.execute(
            select(func.count())
            .select_from(text("information_schema.tables"))
            .where(text("table_schema = current_schema()"))
        ).scalar_one()
    assert versions == [head]
    assert tables == len(metadata.tables) + 1  # every table once, and alembic_version
