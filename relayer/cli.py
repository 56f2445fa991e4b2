"""The `exorelay` command line. Each role of the one binary is a sub-command.

Invariants:

- importing this module, ``exorelay --help``, ``exorelay <cmd> --help`` and ``exorelay config
  validate`` import no network, database or crypto library (web3, grpc, SQLAlchemy, FastAPI, BLS, the
  simulator, ...): every command imports what it needs in its body and the role modules registered
  here import only typer and the standard library at module level. Help is rendered by click's plain
  formatter (``rich_markup_mode=None``), so rich is not imported either.
  ``tests/relayer/test_cli_imports.py`` checks the import graph.
- roles shipped by other distributions (``exorelay-devnet``: ``devnet``, ``demo``, ``replay``) are
  found through the :data:`ROLE_ENTRY_POINT_GROUP` entry points, and only when they can matter: when
  the command list is shown or a name is not a built-in command. A production install has none, and
  ``exorelay --help`` does not list them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Final

import typer
from typer.core import TyperGroup

from avs.aggregator.cli import register as register_aggregator_commands
from avs.operator.cli import register as register_operator_commands
from indexer.cli import register as register_indexer_commands
from relayer import __version__
from relayer.claim_cli import register as register_claim_command
from relayer.ops_cli import register as register_ops_commands
from relayer.replay.cli import register as register_record_command

ROLE_ENTRY_POINT_GROUP: Final = "exorelay.roles"
"""Entry-point group of the roles other distributions add. Each entry point names a
``register(app: typer.Typer) -> None`` that adds its commands to ``app``."""


def _role_entry_points() -> list[Any]:
    # importlib.metadata scans every installed distribution (tens of ms in a large venv): only here.
    from importlib.metadata import entry_points  # noqa: PLC0415

    return sorted(entry_points(group=ROLE_ENTRY_POINT_GROUP), key=lambda ep: ep.name)


class RolesGroup(TyperGroup):
    """The top-level command group: the built-in commands, plus the roles registered through
    :data:`ROLE_ENTRY_POINT_GROUP`, loaded on first need. A role whose entry point fails to load is
    reported on stderr and left out; the built-in commands keep working."""

    _roles_loaded = False

    def _load_roles(self) -> None:
        if self._roles_loaded:
            return
        self._roles_loaded = True
        roles = typer.Typer(rich_markup_mode=None)
        for entry_point in _role_entry_points():
            try:
                entry_point.load()(roles)
            except Exception as exc:  # a broken plugin must not take the production commands down
                typer.echo(
                    f"warning: exorelay role {entry_point.name!r} ({entry_point.value}) did not load: "
                    f"{type(exc).__name__}: {exc}",
                    err=True,
                )
        if roles.registered_commands or roles.registered_groups:
            for name, command in typer.main.get_group(roles).commands.items():
                self.commands.setdefault(name, command)  # a role never replaces a built-in command

    def list_commands(self, ctx: Any) -> list[str]:
        self._load_roles()
        return super().list_commands(ctx)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:  # click.Context, click.Command
        command = super().get_command(ctx, cmd_name)
        if command is None and not self._roles_loaded:
            self._load_roles()
            command = super().get_command(ctx, cmd_name)
        return command


app = typer.Typer(
    name="exorelay",
    help="Relay verified Exocore rewards and slashes to L1 and index their lifecycle.",
    cls=RolesGroup,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(
    help="Inspect and validate configuration.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(config_app, name="config")
register_indexer_commands(app)  # migrate, api, resume
register_ops_commands(app)  # health-check, status, retry, exclude
register_record_command(app)  # record
register_operator_commands(app)  # operator run | keys | protection
register_aggregator_commands(app)  # aggregator, aggregator open
register_claim_command(app)  # claim (an earner's cumulative rewards)


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
    from relayer.config import check_config  # noqa: PLC0415 - pydantic, only for this command

    report = check_config(file)
    for problem in report.errors:
        typer.echo(f"error: {problem}", err=True)
    for problem in report.warnings:
        typer.echo(f"warning: {problem}", err=True)
    if not report.ok:
        typer.echo(f"{file}: {len(report.errors)} error(s), {len(report.warnings)} warning(s)", err=True)
        raise typer.Exit(code=1)
    typer.echo(f"{file}: valid ({len(report.warnings)} warning(s))")
