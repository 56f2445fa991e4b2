"""``exorelay record`` and ``exorelay replay``: registered on the main CLI by :func:`register`."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Final

import typer

from relayer.errors import ExorelayError
from relayer.replay.defaults import DEFAULT_REPLAY_TIMEOUT_S, REPLAY_SIGNER_ACCOUNT_INDEX

EXIT_DIFFERENT: Final = 1
"""``--expect`` was given and the report differs from it."""
EXIT_ERROR: Final = 2
"""Bad input (config, fixture, range) or a chain that could not be reached."""

LOG_LEVEL_OPTION: Final = typer.Option(
    "--log-level", help="Log level of the relayer's own records (to stderr): debug, info, warning, error."
)


def _fail(exc: BaseException) -> typer.Exit:
    typer.echo(f"error: {type(exc).__name__}: {exc}", err=True)
    return typer.Exit(code=EXIT_ERROR)


def _progress(message: str) -> None:
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
        fixture = write_fixture(record(settings.exocore, from_height, to_height, progress=_progress), out)
    except ExorelayError as exc:
        raise _fail(exc) from exc
    grpc = fixture.grpc
    typer.echo(
        f"{out}: {fixture.chain_id} heights {fixture.from_height}..{fixture.to_height}, "
        f"{len(grpc.packets)} packets, {len(grpc.distributions)} distributions "
        f"({sum(len(v) for v in grpc.distribution_leaves.values())} leaves), "
        f"{out.stat().st_size} bytes, sha256 {fixture.sha256} ({time.monotonic() - started:.1f} s)"
    )


def replay_command(  # noqa: PLR0917 (typer maps each option to a parameter)
    fixture_path: Annotated[Path, typer.Option("--fixture", help="Fixture written by `exorelay record`.")],
    fork_url: Annotated[
        str, typer.Option("--l1-fork-url", help="JSON-RPC URL of the L1 to fork (anvil forks it).")
    ],
    fork_block: Annotated[
        int | None, typer.Option("--fork-block", help="L1 block to fork at (default: its head).", min=0)
    ] = None,
    expect: Annotated[
        Path | None,
        typer.Option(
            "--expect", help="Expected report (JSON, as --report writes): diff, exit 1 if different."
        ),
    ] = None,
    report_path: Annotated[
        Path | None, typer.Option("--report", help="Write the report (JSON) here.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the JSON report instead of the summary.")
    ] = False,
    signer_index: Annotated[
        int, typer.Option("--signer-index", help="anvil dev account that signs on the fork.", min=0, max=9)
    ] = REPLAY_SIGNER_ACCOUNT_INDEX,
    timeout_s: Annotated[
        float, typer.Option("--timeout", help="Give up (outcome: timeout) after this many seconds.")
    ] = DEFAULT_REPLAY_TIMEOUT_S,
    log_level: Annotated[str, LOG_LEVEL_OPTION] = "warning",
) -> None:
    """Replay a fixture against an anvil fork of L1 with the real relayer and indexer; print the report."""
    from relayer.logs import configure_logging  # noqa: PLC0415 - keeps `exorelay --help` fast
    from relayer.replay.fixture import load_fixture  # noqa: PLC0415
    from relayer.replay.replay import ReplayOptions, replay  # noqa: PLC0415
    from relayer.replay.report import diff_reports, render_text, report_json  # noqa: PLC0415

    configure_logging(log_level, "text")
    expected = None
    try:
        if expect is not None:
            try:
                expected = json.loads(expect.read_text())
            except (OSError, ValueError) as exc:
                typer.echo(f"error: expectation {expect} is not a readable JSON report: {exc}", err=True)
                raise typer.Exit(code=EXIT_ERROR) from exc
        fixture = load_fixture(fixture_path)
        started = time.monotonic()
        options = ReplayOptions(
            fork_url=fork_url, fork_block=fork_block, signer_index=signer_index, timeout_s=timeout_s
        )
        report = replay(fixture, options, progress=_progress)
    except ExorelayError as exc:
        raise _fail(exc) from exc
    _progress(f"replay took {time.monotonic() - started:.1f} s")
    typer.echo(report_json(report) if as_json else render_text(report), nl=False)
    if report_path is not None:
        report_path.write_text(report_json(report))
    if expected is not None:
        diff = diff_reports(expected, report, expected_name=str(expect))
        if diff:
            typer.echo("\n".join(diff))
            typer.echo(f"the replay differs from {expect}", err=True)
            raise typer.Exit(code=EXIT_DIFFERENT)
        _progress(f"the replay matches {expect}")


def register(app: typer.Typer) -> None:
    """Add ``record`` and ``replay`` to the ``exorelay`` CLI."""
    app.command("record")(record_command)
    app.command("replay")(replay_command)
