"""``exorelay operator run | keys | protection export | protection import``.

Invariant: importing this module costs only typer and the standard library (the main CLI registers
it; ``exorelay --help`` must stay fast, ``tests/relayer/test_cli_imports.py``); each command imports
what it needs in its body.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Final

import typer

if TYPE_CHECKING:
    from avs.operator.protection import SlashingProtection
    from relayer.config import ExorelayConfig

CONFIG_OPTION: Final = typer.Option(
    "--config", "-c", help="TOML config file; EXORELAY_* env overrides apply."
)

operator_app = typer.Typer(
    help="Sign the AVS committee's reward claims and slash requests (one per committee member).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
protection_app = typer.Typer(
    help="Export or import the slashing-protection database (versioned JSON interchange).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
operator_app.add_typer(protection_app, name="protection")


def _config(path: Path | None) -> ExorelayConfig:
    from relayer.config import load_config  # noqa: PLC0415 - pydantic: keeps `exorelay --help` fast
    from relayer.errors import ConfigError  # noqa: PLC0415

    try:
        return load_config(path)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(code=1) from exc


def _protection(config: ExorelayConfig) -> SlashingProtection:
    from avs.operator.protection import SlashingProtection  # noqa: PLC0415
    from storage.db import create_db_engine  # noqa: PLC0415

    return SlashingProtection(
        create_db_engine(config.operator.protection_db_url), chain_id=config.exocore.chain_id
    )


@operator_app.command("run")
def run_command(config: Annotated[Path | None, CONFIG_OPTION] = None) -> None:
    """Poll the aggregators, check, sign and post until SIGTERM/SIGINT."""
    from avs.operator.service import OperatorService, install_signal_handlers  # noqa: PLC0415
    from relayer.errors import ExorelayError  # noqa: PLC0415
    from relayer.logs import configure_logging  # noqa: PLC0415

    stop = install_signal_handlers()
    settings = _config(config)
    configure_logging(settings.logging.level, settings.logging.format)
    try:
        service = OperatorService.from_config(settings, stop_requested=stop)
    except ExorelayError as exc:
        typer.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    raise typer.Exit(code=service.run_forever())


@operator_app.command("keys")
def keys_command(config: Annotated[Path | None, CONFIG_OPTION] = None) -> None:
    """Unlock every configured keystore and print its AVS and BLS public key (JSON lines)."""
    from avs.operator.service import load_avs_signers  # noqa: PLC0415
    from relayer.errors import ExorelayError  # noqa: PLC0415

    settings = _config(config)
    try:
        signers = load_avs_signers(settings)
    except ExorelayError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    for avs, signer in signers.items():
        typer.echo(
            json.dumps(
                {
                    "operator": settings.operator.account,
                    "avs": "0x" + avs.hex(),
                    "pubkey": "0x" + signer.key.pubkey_bytes.hex(),
                }
            )
        )


@protection_app.command("export")
def export_command(
    config: Annotated[Path | None, CONFIG_OPTION] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
) -> None:
    """Write every signed slot as an interchange document."""
    from avs.operator.protection import dumps_interchange  # noqa: PLC0415

    protection = _protection(_config(config))
    text = dumps_interchange(protection.export_interchange())
    protection.engine.dispose()
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"exported to {output}", err=True)


@protection_app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="Interchange JSON file to merge into the database.")],
    config: Annotated[Path | None, CONFIG_OPTION] = None,
) -> None:
    """Merge FILE (the union; a slot with two different digests refuses the whole file). Exit 1 on refusal."""
    from relayer.errors import ExorelayError  # noqa: PLC0415

    protection = _protection(_config(config))
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
        report = protection.import_interchange(document)
    except (OSError, ValueError, ExorelayError) as exc:
        typer.echo(f"import refused: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    finally:
        protection.engine.dispose()
    typer.echo(f"imported {report.added} slot(s), {report.already_present} already present")


def register(app: typer.Typer) -> None:
    app.add_typer(operator_app, name="operator")
