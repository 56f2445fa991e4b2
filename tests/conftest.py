"""Shared fixtures.

Database: tests that need one use ``db_engine``. With ``EXORELAY_TEST_DATABASE_URL`` set (CI sets
the local PostgreSQL) they run there, each session in its own throw-away schema; otherwise they fall
back to a SQLite file and say so loudly in the header and the summary. CI additionally sets
``EXORELAY_TEST_REQUIRE_POSTGRES=1`` so a broken PostgreSQL fails the run instead of falling back.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

DATABASE_URL_ENV = "EXORELAY_TEST_DATABASE_URL"
REQUIRE_POSTGRES_ENV = "EXORELAY_TEST_REQUIRE_POSTGRES"


def _configured_url() -> str | None:
    return os.environ.get(DATABASE_URL_ENV) or None


def _backend_notice() -> str:
    url = _configured_url()
    if url is None:
        return (
            f"database: SQLite (fallback; set {DATABASE_URL_ENV}=postgresql+psycopg://... "
            "to run the database tests on PostgreSQL)"
        )
    return f"database: {url.split('://', 1)[0]} ({DATABASE_URL_ENV})"


def pytest_report_header(config: pytest.Config) -> str:
    return _backend_notice()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    terminalreporter.write_line(_backend_notice(), yellow=_configured_url() is None)


@pytest.fixture(scope="session")
def db_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    url = _configured_url()
    if url is None:
        if os.environ.get(REQUIRE_POSTGRES_ENV) == "1":
            pytest.fail(f"{REQUIRE_POSTGRES_ENV}=1 but {DATABASE_URL_ENV} is not set")
        path: Path = tmp_path_factory.mktemp("db") / "exorelay-test.sqlite"
        engine = create_engine(f"sqlite:///{path}")
        yield engine
        engine.dispose()
        return
    schema = f"exorelay_test_{secrets.token_hex(6)}"
    admin = create_engine(url)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        pytest.fail(f"cannot use {DATABASE_URL_ENV}={url}: {exc}")
    engine = create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    yield engine
    engine.dispose()
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()
