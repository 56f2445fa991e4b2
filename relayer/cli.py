"""The `exorelay` command line. Each role of the one binary is a sub-command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from devnet.cli import devnet_app
from indexer.cli import register as register_indexer_commands
from relayer import __version__
from relayer.config import check_config
from relayer.demo import register as register_demo_command
from relayer.ops_cli import register as register_ops_commands
from relayer.replay.cli import register as register_replay_commands

app = typer.Typer(
    name="exorelay",
    help="Relay verified Exocore rewards and slashes to L1 and index their lifecycle.",
    no_args_is_help=True,
    add_completion=False,
)
config_app = typer.Typer(help="Inspect and validate configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(devnet_app, name="devnet")
register_indexer_commands(app)  # migrate, api
register_ops_commands(app)  # health-check, status, retry, exclude
register_replay_commands(app)  # record, replay
register_demo_command(app)  # demo


@app.command()
def run(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="TOML config file (EXORELAY_* env overrides apply).")
    ] = None,
    once: Annotated[
        int, typer.Option(help="Run this many cycles in the foreground and exit (0: run until SIGTERM).")
    ] = 0,
) -> None:
    """Run the relayer and the indexer's ingestion until SIGTERM/SIGINT."""
    # Imported here: the service pulls in web3/grpc, which other sub-commands should not pay for.
    from relayer.config import load_config  # noqa: PLC0415
    from relayer.errors import ExorelayError  # noqa: PLC0415
    from relayer.logs import configure_logging  # noqa: PLC0415
    from relayer.service import RelayerService, install_signal_handlers  # noqa: PLC0415

    stop = install_signal_handlers()
    settings = load_config(config)
    configure_logging(settings.logging.level, settings.logging.format)
    try:
        service = RelayerService(settings, stop_requested=stop)
        if once:
            service.parts.pipeline.relay_params()
            service.sweep()
            for _ in range(once):
                service.cycle()
            service.stop()
            return
        raise typer.Exit(code=service.run_forever())
    except ExorelayError as exc:
        typer.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(code=2) from exc


@app.command()
def version() -> None:
    """Print the exorelay version."""
    typer.echo(__version__)


@config_app.command("validate")
def config_validate(
    file: Annotated[Path, typer.Argument(help="TOML config file; EXORELAY_* env overrides apply.")],
) -> None:
    """Validate FILE; print every error and warning with its key path. Exit 1 on any error."""
    report = check_config(file)
    for problem in report.errors:
        typer.echo(f"error: {problem}", err=True)
    for problem in report.warnings:
        typer.echo(f"warning: {problem}", err=True)
    if not report.ok:
        typer.echo(f"{file}: {len(report.errors)} error(s), {len(report.warnings)} warning(s)", err=True)
        raise typer.Exit(code=1)
    typer.echo(f"{file}: valid ({len(report.warnings)} warning(s))")
