"""``exorelay replay``: part of ``exorelay-devnet``, registered on ``exorelay`` through the
``exorelay.roles`` entry point (:func:`register`).

Invariant: importing this module costs only typer and light modules; the runner (anvil, the replay
servers, the relayer service) is imported when the command runs.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Final

import typer

from devnet.replay.defaults import DEFAULT_REPLAY_TIMEOUT_S, REPLAY_SIGNER_ACCOUNT_INDEX
from relayer.errors import ExorelayError
from relayer.replay.cli import EXIT_DIFFERENT, EXIT_ERROR, fail, progress

LOG_LEVEL_OPTION: Final = typer.Option(
    "--log-level", help="Log level of the relayer's own records (to stderr): debug, info, warning, error."
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
    from devnet.replay.runner import ReplayOptions, replay  # noqa: PLC0415
    from relayer.logs import configure_logging  # noqa: PLC0415 - keeps `exorelay --help` fast
    from relayer.replay.fixture import load_fixture  # noqa: PLC0415
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
        report = replay(fixture, options, progress=progress)
    except ExorelayError as exc:
        raise fail(exc) from exc
    progress(f"replay took {time.monotonic() - started:.1f} s")
    typer.echo(report_json(report) if as_json else render_text(report), nl=False)
    if report_path is not None:
        report_path.write_text(report_json(report))
    if expected is not None:
        diff = diff_reports(expected, report, expected_name=str(expect))
        if diff:
            typer.echo("\n".join(diff))
            typer.echo(f"the replay differs from {expect}", err=True)
            raise typer.Exit(code=EXIT_DIFFERENT)
        progress(f"the replay matches {expect}")


def register(app: typer.Typer) -> None:
    """The ``exorelay.roles`` entry point: add ``exorelay replay``."""
    app.command("replay")(replay_command)
