"""Engines for the lifecycle database: SQLite (embedded default) or PostgreSQL.

Writers (ingestion, the relayer) use :func:`create_db_engine`; the query API uses
``read_only=True``, which makes every transaction read-only in the database itself (PostgreSQL
``default_transaction_read_only``, SQLite ``PRAGMA query_only``), so the API runs against a read
replica and cannot write even through a bug.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import ExceptionContext, make_url

from storage.errors import IndexerError

SQLITE_BUSY_TIMEOUT_MS: Final = 10_000
"""A reader (the API) and the writer (ingestion) share the SQLite file; wait this long for a lock
instead of failing at once. WAL journaling lets readers proceed while the writer commits."""


class DatabaseUnavailableError(IndexerError):
    """The database cannot be reached or dropped the connection (restart, failover, network): a
    transient fault, retried like any other; nothing of the failed transaction was committed."""


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def create_db_engine(
    url: str, *, read_only: bool = False, idle_in_transaction_timeout_ms: int | None = None, **kwargs: Any
) -> Engine:
    """An engine for ``url`` with exorelay's session settings; creates a SQLite file's directory.

    ``idle_in_transaction_timeout_ms`` (PostgreSQL writers): the server aborts a session of this engine
    that sits idle inside a transaction that long, releasing its row locks. The relayer sets it below
    its lease TTL, so a process paused (SIGSTOP, a VM freeze) inside a fenced write cannot hold the
    lease row locked, and every other process's leases with it, for longer than that."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)
        _sqlite_pragmas(engine, read_only=read_only)
        return engine
    if parsed.get_backend_name() == "postgresql":
        if read_only:
            # connect_args replace the URL's own ``options`` (a search_path, say): keep both.
            connect_args = dict(kwargs.pop("connect_args", {}))
            url_options = parsed.query.get("options", "")
            if isinstance(url_options, tuple):
                url_options = " ".join(url_options)
            options = f"{url_options} {connect_args.get('options', '')}".strip()
            connect_args["options"] = f"{options} -c default_transaction_read_only=on".strip()
            kwargs["connect_args"] = connect_args
            return create_engine(url, **kwargs)
        # After a server restart every pooled connection is dead: test each at checkout (one round
        # trip) and replace it, instead of failing the first use of each.
        kwargs.setdefault("pool_pre_ping", True)
        engine = create_engine(url, **kwargs)
        _typed_connection_errors(engine)
        if idle_in_transaction_timeout_ms is not None:
            _idle_in_transaction_timeout(engine, idle_in_transaction_timeout_ms)
        return engine
    raise IndexerError(f"unsupported database URL scheme {parsed.drivername!r} (sqlite or postgresql)")


def idle_in_transaction_timeout_sql(timeout_ms: int) -> str:
    """The session setting behind ``create_db_engine(idle_in_transaction_timeout_ms=...)``."""
    if timeout_ms <= 0:
        raise ValueError("idle_in_transaction_timeout_ms must be > 0 (0 disables it in PostgreSQL)")
    return f"SET idle_in_transaction_session_timeout = {int(timeout_ms)}"


def _idle_in_transaction_timeout(engine: Engine, timeout_ms: int) -> None:
    statement = idle_in_transaction_timeout_sql(timeout_ms)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(statement)
        cursor.close()
        # psycopg opens a transaction for the SET (autocommit off): end it, or the pool's first
        # checkout would find the session already inside one.
        dbapi_connection.commit()


def _typed_connection_errors(engine: Engine) -> None:
    """A lost or refused connection of the writer ``engine`` raises :class:`DatabaseUnavailableError`
    (an ExorelayError the relayer retries) instead of a bare DBAPI error that reads as a bug.

    Only for ``engine`` itself: a read-only engine derived from it (the API) keeps SQLAlchemy's
    ``OperationalError``, which the API answers with 503. SQLAlchemy still invalidates the pool
    before the typed error is raised."""

    @event.listens_for(engine, "handle_error")
    def _on_error(context: ExceptionContext) -> BaseException | None:
        if context.engine is not engine:
            return None
        connecting = context.connection is None and context.execution_context is None
        if not (context.is_disconnect or connecting):
            return None
        original = context.original_exception
        detail = str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
        return DatabaseUnavailableError(f"database unavailable: {type(original).__name__}: {detail}")


def read_only_engine(engine: Engine) -> Engine:
    """A read-only engine on the same database as ``engine`` (same URL and connect options)."""
    if engine.dialect.name == "sqlite":
        ro = create_engine(engine.url)
        _sqlite_pragmas(ro, read_only=True)
        return ro
    # Reuse the caller's pool settings (a PostgreSQL search_path, for instance): every transaction
    # starts read-only.
    ro = engine.execution_options()
    event.listen(ro, "begin", _pg_begin_read_only)
    return ro


def _pg_begin_read_only(connection: Any) -> None:
    connection.exec_driver_sql("SET TRANSACTION READ ONLY")


def _sqlite_pragmas(engine: Engine, *, read_only: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        if read_only:
            cursor.execute("PRAGMA query_only = ON")
        else:
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()


STALE_STATISTICS_MIN_ROWS: Final = 10_000
"""Below this many changed rows a table's planner statistics are never worth refreshing by hand."""

GROWTH_TABLES: Final = ("transition", "payout", "distribution_leaf", "l1_token_transfer", "l1_tx")
"""Tables that grow by thousands of rows per ingestion batch."""


def refresh_stale_statistics(engine: Engine, tables: tuple[str, ...] = GROWTH_TABLES) -> list[str]:
    """ANALYZE the growth tables whose rows changed by more than they hold (PostgreSQL only).

    During a backfill a table can grow from empty to millions of rows faster than autovacuum's
    analyze follows; with statistics saying "empty" the planner scans whole tables for the
    per-batch invariant lookups and ingestion slows down in proportion to the table. Returns the
    tables analyzed.
    """
    if engine.dialect.name != "postgresql":
        return []
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT relname, n_live_tup, n_mod_since_analyze FROM pg_stat_user_tables "
                "WHERE schemaname = current_schema() AND relname = ANY(:tables)"
            ),
            {"tables": list(tables)},
        ).all()
    stale = [
        str(name)
        for name, live, changed in rows
        if changed >= STALE_STATISTICS_MIN_ROWS and changed > live // 2
    ]
    if stale:
        with engine.begin() as conn:
            for name in stale:
                conn.exec_driver_sql(f'ANALYZE "{name}"')
    return stale
