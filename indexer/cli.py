"""``exorelay migrate``, ``api``, ``resume``, ``skip-block``: registered on the main CLI by :func:`register`.

Invariant: importing this module costs only typer and the standard library; each command imports
SQLAlchemy, the migrations and the server in its body, so ``exorelay --help`` stays fast
(``tests/relayer/test_cli_imports.py`` checks).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Final

import typer

from relayer.errors import ConfigError
from storage.errors import IndexerError

if TYPE_CHECKING:
    from relayer.config import ExorelayConfig
    from storage.store import LifecycleStore

API_WORKER_HEALTHCHECK_TIMEOUT_S: Final = 30
"""How long uvicorn's supervisor waits for a worker's health-check answer before killing it. Its 5 s
default kills workers still importing the app on a busy host (cold imports of FastAPI, SQLAlchemy and
the models take seconds per process), and each replacement starts its imports over."""

CONFIG_OPTION: Final = typer.Option(
    "--config", "-c", help="TOML config file; EXORELAY_* env overrides apply."
)


def _config(path: Path | None) -> ExorelayConfig:
    from relayer.config import load_config  # noqa: PLC0415 - pydantic: keeps `exorelay --help` fast

    try:
        return load_config(path)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(code=1) from exc


def migrate_command(
    config: Annotated[Path | None, CONFIG_OPTION] = None,
    revision: Annotated[
        str, typer.Option(help="Target revision (default: newest; `base` empties the schema).")
    ] = "head",  # alembic's name for the newest revision (storage.migrate.HEAD)
    database_url: Annotated[str | None, typer.Option(help="Override database.url.")] = None,
) -> None:
    """Create or upgrade (or downgrade) the lifecycle database schema."""
    from storage import migrate as migrations  # noqa: PLC0415 - alembic, SQLAlchemy
    from storage.db import create_db_engine  # noqa: PLC0415

    url = database_url or _config(config).database.url
    engine = create_db_engine(url)
    try:
        before = migrations.current_revision(engine)
        migrations.migrate_to(engine, revision)
        after = migrations.current_revision(engine)
    except IndexerError as exc:
        typer.echo(f"migrate: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    finally:
        engine.dispose()
    typer.echo(f"database at revision {after or 'base'} (was {before or 'empty'})")


def api_command(
    config: Annotated[Path | None, CONFIG_OPTION] = None,
    host: Annotated[str | None, typer.Option(help="Override api.host.")] = None,
    port: Annotated[int | None, typer.Option(help="Override api.port.")] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Override api.workers (server processes, each with its own pool)."),
    ] = None,
) -> None:
    """Serve the read-only query API (OpenAPI at /openapi.json)."""
    import uvicorn  # noqa: PLC0415 - only this command needs the server
    from uvicorn.config import STARTUP_FAILURE  # noqa: PLC0415
    from uvicorn.supervisors import Multiprocess  # noqa: PLC0415

    # Imported here: keeps `exorelay --help` fast.
    from indexer.api.app import (  # noqa: PLC0415
        API_DATABASE_URL_ENV,
        ReadinessPolicy,
        readiness_environment,
    )
    from indexer.api.serve import ReusePortSupervisor, reuse_port_supported  # noqa: PLC0415

    settings = _config(config)
    # Workers re-create the app from the environment (uvicorn imports the factory in each process).
    # A streaming replica's URL when one is configured: the API never writes.
    os.environ[API_DATABASE_URL_ENV] = settings.api.database_url or settings.database.url
    os.environ.update(readiness_environment(ReadinessPolicy.from_config(settings.api)))
    server = uvicorn.Config(
        "indexer.api.app:app_from_environment",
        factory=True,
        host=host or settings.api.host,
        port=port or settings.api.port,
        workers=workers or settings.api.workers,
        timeout_worker_healthcheck=API_WORKER_HEALTHCHECK_TIMEOUT_S,
        log_level=settings.logging.level,
        # Formatting an access-log line's arguments costs every request even when the level hides
        # it: only ask for the lines when they are shown.
        access_log=settings.logging.level in {"debug", "info"},
    )
    if server.workers > 1 and reuse_port_supported():
        # One listening socket per worker: keep-alive connections spread over the workers.
        ReusePortSupervisor(server).run()
    elif server.workers > 1:
        Multiprocess(server, sockets=[server.bind_socket()]).run()
    else:
        single = uvicorn.Server(server)
        single.run()
        if not single.started:
            raise typer.Exit(code=STARTUP_FAILURE)


class UnknownStreamError(IndexerError, LookupError):
    """``exorelay resume`` named a stream the database has no cursor for."""

    def __init__(self, stream: str, known: list[str]) -> None:
        listed = ", ".join(known) if known else "none yet"
        super().__init__(f"no ingestion stream {stream!r} (streams: {listed})")
        self.stream = stream
        self.known = known


@dataclass(frozen=True, slots=True)
class ResumedStream:
    stream: str
    height: int
    was_halted: bool
    halt_reason: str | None
    violations: int
    """Invariant violations on record for the stream (kept: they are the audit trail)."""
    last_violation: str | None
    last_violation_at: datetime | None


def resume_stream(store: LifecycleStore, stream: str) -> ResumedStream:
    """Clear ``stream``'s halt (if any) and say what was cleared; :class:`UnknownStreamError` if the
    database has no such stream."""
    from sqlalchemy import func, select  # noqa: PLC0415 - keeps `exorelay --help` fast

    from storage.models import cursor_table, violation_table  # noqa: PLC0415

    cursor = store.cursor(stream)
    if cursor is None:
        with store.engine.connect() as conn:
            known = list(
                conn.execute(select(cursor_table.c.stream).order_by(cursor_table.c.stream)).scalars()
            )
        raise UnknownStreamError(stream, known)
    v = violation_table
    with store.engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(v).where(v.c.stream == stream)).scalar_one()
        last = conn.execute(
            select(v.c.invariant, v.c.message, v.c.detected_at)
            .where(v.c.stream == stream)
            .order_by(v.c.id.desc())
        ).first()
    if cursor.halted:
        store.resume(stream)
    return ResumedStream(
        stream=stream,
        height=cursor.height,
        was_halted=cursor.halted,
        halt_reason=cursor.halt_reason,
        violations=int(count),
        last_violation=None if last is None else f"{last.invariant}: {last.message}",
        last_violation_at=None if last is None else last.detected_at,
    )


def resume_command(
    stream: Annotated[str, typer.Argument(help="The halted stream: `exocore` or `l1:<chain id>`.")],
    config: Annotated[Path | None, CONFIG_OPTION] = None,
    database_url: Annotated[str | None, typer.Option(help="Override database.url.")] = None,
) -> None:
    """Clear a stream's halt (after fixing its cause); ingestion retries its next batch."""
    from storage.db import create_db_engine  # noqa: PLC0415 - keeps `exorelay --help` fast
    from storage.store import LifecycleStore  # noqa: PLC0415

    url = database_url or _config(config).database.url
    engine = create_db_engine(url)
    try:
        resumed = resume_stream(LifecycleStore(engine), stream)
    except IndexerError as exc:
        typer.echo(f"resume: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    finally:
        engine.dispose()
    if not resumed.was_halted:
        typer.echo(f"stream {stream} is not halted (at height {resumed.height}); nothing to clear")
        return
    typer.echo(f"stream {stream} resumed at height {resumed.height}")
    typer.echo(f"cleared halt: {resumed.halt_reason}")
    if resumed.last_violation is not None:
        typer.echo(
            f"invariant violations on record for {stream}: {resumed.violations} "
            f"(latest at {resumed.last_violation_at}: {resumed.last_violation})"
        )


def skip_block_command(  # noqa: PLR0917 (typer passes the command's parameters positionally)
    stream: Annotated[str, typer.Argument(help="The halted stream: `exocore`.")],
    height: Annotated[int, typer.Argument(help="The poisoned block the stream halts at.")],
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why it is safe to leave this block out.")],
    by: Annotated[
        str | None, typer.Option(help="Who decides (recorded); default: the OS user running the command.")
    ] = None,
    config: Annotated[Path | None, CONFIG_OPTION] = None,
    database_url: Annotated[str | None, typer.Option(help="Override database.url.")] = None,
) -> None:
    """Leave poisoned block HEIGHT of STREAM out (recorded with who, why and when); the stream goes on
    after it. Its events are lost to the indexer: packets it announced are still found by the sweep."""
    import getpass  # noqa: PLC0415 - keeps `exorelay --help` fast

    from storage.db import create_db_engine  # noqa: PLC0415 - keeps `exorelay --help` fast
    from storage.store import LifecycleStore  # noqa: PLC0415 - keeps `exorelay --help` fast

    reason = reason.strip()
    if not reason:
        typer.echo("skip-block: a reason is required", err=True)
        raise typer.Exit(code=1)
    who = (by or "").strip() or getpass.getuser()
    url = database_url or _config(config).database.url
    engine = create_db_engine(url)
    try:
        skipped = LifecycleStore(engine).skip_block(stream, height, reason=reason, by=who)
    except IndexerError as exc:
        typer.echo(f"skip-block: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    finally:
        engine.dispose()
    typer.echo(f"stream {stream}: block {height} skipped by {skipped.skipped_by} at {skipped.skipped_at}")
    typer.echo(f"  it had failed with {skipped.error_class}: {skipped.error.splitlines()[0][:300]}")
    typer.echo(f"  reason: {skipped.skip_reason}")
    typer.echo(f"stream {stream} resumes at block {height + 1}")


def register(app: typer.Typer) -> None:
    """Add the indexer's commands to the ``exorelay`` CLI."""
    app.command("migrate")(migrate_command)
    app.command("api")(api_command)
    app.command("resume")(resume_command)
    app.command("skip-block")(skip_block_command)
