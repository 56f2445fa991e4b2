"""``exorelay migrate`` and ``exorelay api``: registered on the main CLI by :func:`register`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Final

import typer

from indexer import migrate as migrations
from indexer.db import create_db_engine
from indexer.errors import IndexerError
from relayer.config import ExorelayConfig, load_config
from relayer.errors import ConfigError

CONFIG_OPTION: Final = typer.Option(
    "--config", "-c", help="TOML config file; EXORELAY_* env overrides apply."
)


def _config(path: Path | None) -> ExorelayConfig:
    try:
        return load_config(path)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(code=1) from exc


def migrate_command(
    config: Annotated[Path | None, CONFIG_OPTION] = None,
    revision: Annotated[
        str, typer.Option(help="Target revision (default: newest; `base` empties the schema).")
    ] = migrations.HEAD,
    database_url: Annotated[str | None, typer.Option(help="Override database.url.")] = None,
) -> None:
    """Create or upgrade (or downgrade) the lifecycle database schema."""
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
    workers: Annotated[int, typer.Option(min=1, help="Server processes (each with its own pool).")] = 1,
) -> None:
    """Serve the read-only query API (OpenAPI at /openapi.json)."""
    import uvicorn  # noqa: PLC0415 - only this command needs the server

    from indexer.api.app import API_DATABASE_URL_ENV  # noqa: PLC0415 - keeps `exorelay --help` fast

    settings = _config(config)
    # Workers re-create the app from the environment (uvicorn imports the factory in each process).
    os.environ[API_DATABASE_URL_ENV] = settings.database.url
    uvicorn.run(
        "indexer.api.app:app_from_environment",
        factory=True,
        host=host or settings.api.host,
        port=port or settings.api.port,
        workers=workers,
        log_level=settings.logging.level,
    )


def register(app: typer.Typer) -> None:
    """Add the indexer's commands to the ``exorelay`` CLI."""
    app.command("migrate")(migrate_command)
    app.command("api")(api_command)
