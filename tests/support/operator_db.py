"""Slashing-protection databases for the operator tests: a SQLite file always, and a private
PostgreSQL schema when ``EXORELAY_TEST_DATABASE_URL`` is set (both backends in one run). Handed out
as URLs, so another process can open the same database. Each schema is dropped afterwards."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import create_engine, text

from tests.support.database import DATABASE_URL_ENV

BACKENDS = ("sqlite", "postgresql")


@contextmanager
def protection_url(backend: str, directory: Path) -> Iterator[str]:
    """A URL of an empty database on ``backend`` nobody else uses (skips PostgreSQL when unset)."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / f'protection-{secrets.token_hex(4)}.sqlite'}"
        return
    base = os.environ.get(DATABASE_URL_ENV)
    if not base:
        import pytest  # noqa: PLC0415 - only where a backend is missing

        pytest.skip(f"{DATABASE_URL_ENV} is not set: PostgreSQL protection tests skipped")
    schema = f"exorelay_op_{secrets.token_hex(5)}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def authorize_in_child(
    url: str, chain_id: str, record_fields: tuple[object, ...], barrier: object, out: object
) -> None:
    """A child process's double-sign attempt: open the database, wait for the others, authorize
    one record, put ``(digest, decision)`` on ``out`` (a multiprocessing queue)."""
    from avs.operator.protection import SlashingProtection, SlotRecord  # noqa: PLC0415
    from storage.db import create_db_engine  # noqa: PLC0415

    protection = SlashingProtection(create_db_engine(url), chain_id=chain_id)
    record = SlotRecord(*record_fields)  # type: ignore[arg-type]
    barrier.wait()  # type: ignore[attr-defined]
    decision = protection.authorize(record)
    out.put((record.digest, decision.decision.value))  # type: ignore[attr-defined]
    protection.engine.dispose()
