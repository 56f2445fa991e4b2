"""``exorelay aggregator`` (serve) and ``exorelay aggregator open`` (open a request on a running one).

Invariant: importing this module costs only typer and the standard library (``exorelay --help``
stays fast; ``tests/relayer/test_cli_imports.py`` checks); each command imports what it needs.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Annotated, Final

import typer

OPEN_TIMEOUT_S: Final = 30.0
"""The aggregator answers an open after one committee query to Exocore (seconds at most)."""

aggregator_app = typer.Typer(
    help="Collect AVS committee signatures, aggregate them and submit them to Exocore.",
    invoke_without_command=True,
    rich_markup_mode=None,
)


@aggregator_app.callback()
def serve(
    ctx: typer.Context,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="TOML config file (EXORELAY_* env overrides apply).")
    ] = None,
) -> None:
    """Run the aggregator's HTTP API and submission loop until SIGTERM/SIGINT."""
    if ctx.invoked_subcommand is not None:
        return
    from avs.aggregator.runner import run  # noqa: PLC0415 - FastAPI, grpc, SQLAlchemy
    from relayer.config import load_config  # noqa: PLC0415
    from relayer.errors import ConfigError  # noqa: PLC0415
    from relayer.logs import configure_logging  # noqa: PLC0415

    try:
        settings = load_config(config)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(code=1) from exc
    configure_logging(settings.logging.level, settings.logging.format)
    raise typer.Exit(code=run(settings))


@aggregator_app.command("open")
def open_command(
    request: Annotated[str, typer.Option(help="The request's canonical bytes, 0x-hex.")],
    url: Annotated[str, typer.Option(help="Base URL of the aggregator.")] = "http://127.0.0.1:8490",
    evidence: Annotated[str | None, typer.Option(help="Slash evidence bytes, 0x-hex.")] = None,
    token_env: Annotated[
        str, typer.Option(help="Environment variable holding the AVS's bearer token.")
    ] = "EXORELAY_AGGREGATOR_TOKEN",  # noqa: S107 - a variable name, not a secret
) -> None:
    """Open a request on a running aggregator (as the AVS) and print its document."""
    token = os.environ.get(token_env)
    if not token:
        typer.echo(f"error: {token_env} is not set", err=True)
        raise typer.Exit(code=1)
    body = json.dumps({"request": request, "evidence": evidence}).encode()
    call = urllib.request.Request(  # noqa: S310 - the operator's own aggregator URL
        url.rstrip("/") + "/v1/requests",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(call, timeout=OPEN_TIMEOUT_S) as answer:  # noqa: S310
            typer.echo(answer.read().decode())
    except urllib.error.HTTPError as exc:
        typer.echo(exc.read().decode(errors="replace"), err=True)
        raise typer.Exit(code=1) from exc
    except OSError as exc:
        typer.echo(f"error: cannot reach {url}: {exc}", err=True)
        raise typer.Exit(code=2) from exc


def register(app: typer.Typer) -> None:
    app.add_typer(aggregator_app, name="aggregator")
