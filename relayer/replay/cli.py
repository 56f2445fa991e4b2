"""``exorelay record``: registered on the main CLI by :func:`register`.

``exorelay replay`` needs the simulator's servers and anvil and comes with ``exorelay-devnet``
(:mod:`devnet.replay.cli`); it shares this module's exit codes.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Final

import typer

from relayer.errors import ExorelayError

EXIT_DIFFERENT: Final = 1
"""``--expect`` was given and the report differs from it."""
EXIT_ERROR: Final = 2
"""Bad input (config, fixture, range) or a chain that could not be reached."""


def fail(exc: BaseException) -> typer.Exit:
    typer.echo(f"error: {type(exc).__name__}: {exc}", err=True)
    return typer.Exit(code=EXIT_ERROR)


def progress(message: str) -> None:
    typer.echo(message, err=True)


def record_command(
    from_height: Annotated[int, typer.Option("--from", help="First Exocore height to record.", min=1)],
    to_height: Annotated[int, typer.Option("--to", help="Last Exocore height to record (committed).", min=1)],
    out: Annotated[Path, typer.Option("--out", help="Fixture file to write (gzip if it ends in .gz).")],
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="TOML config (its exocore section names the node).")
    ] = None,
) -> None:
    """Record what the relayer reads from Exocore for heights FROM..TO into a checksummed fixture."""
    from relayer.config import load_config  # noqa: PLC0415 - keeps `exorelay --help` fast
    from relayer.replay.fixture import write_fixture  # noqa: PLC0415
    from relayer.replay.record import record  # noqa: PLC0415

    started = time.monotonic()
    try:
        settings = load_config(config)
        fixture = write_fixture(record(settings.exocore, from_height, to_height, progress=progress), out)
    except ExorelayError as exc:
        raise fail(exc) from exc
    grpc = fixture.grpc
    typer.echo(
        f"{out}: {fixture.chain_id} heights {fixture.from_height}..{fixture.to_height}, "
        f"{len(grpc.packets)} packets, {len(grpc.distributions)} distributions "
        f"({sum(len(v) for v in grpc.distribution_leaves.values())} leaves), "
        f"{out.stat().st_size} bytes, sha256 {fixture.sha256} ({time.monotonic() - started:.1f} s)"
    )


def register(app: typer.Typer) -> None:
    """Add ``record`` to the ``exorelay`` CLI (``replay`` comes with ``exorelay-devnet``)."""
    app.command("record")(record_command)
