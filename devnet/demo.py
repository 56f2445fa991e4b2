"""``exorelay demo``: the whole system on this machine, driven through a scenario and narrated.

Part of the ``exorelay-devnet`` distribution, registered on ``exorelay`` through the
``exorelay.roles`` entry point (:func:`register`). The story itself lives in
:mod:`devnet.demo_story`, imported only when the command runs (it pulls in web3, the devnet and
uvicorn, which ``exorelay --help`` should not pay for).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Final

import typer

DEFAULT_DEMO_HOME: Final = Path(".exorelay/demo")
DEFAULT_STAKERS: Final = 200
"""Enough stakers across the two restaked assets on two client chains that payouts take several
gas-budgeted batches on each chain."""
DEFAULT_OPERATORS: Final = 5
"""Operators with BLS keys: enough for two committees with different election rules."""
DEFAULT_API_PORT: Final = 8480
"""The API's default port (api.port in the example config); a busy port falls back to a free one."""
MIN_OPERATORS: Final = 3
"""Below 3 operators one committee cannot show a quorum that is short of everyone."""


def demo_command(
    *,
    once: Annotated[bool, typer.Option("--once", help="Exit after the scenario (for tests and CI).")] = False,
    home: Annotated[
        Path, typer.Option(help="Working directory; wiped and recreated on every run.")
    ] = DEFAULT_DEMO_HOME,
    stakers: Annotated[
        int, typer.Option(min=2, help="Stakers delegating to the operators.")
    ] = DEFAULT_STAKERS,
    operators: Annotated[
        int, typer.Option(min=MIN_OPERATORS, help="Operators (each with one BLS key per AVS).")
    ] = DEFAULT_OPERATORS,
    api_port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port of the query API (0: any free port).")
    ] = DEFAULT_API_PORT,
    database_url: Annotated[
        str | None,
        typer.Option(
            help="An empty database to use instead of the SQLite file under --home (e.g. PostgreSQL)."
        ),
    ] = None,
) -> None:
    """Run devnet + two anvils (two client chains) + relayer + API on a fresh database and narrate a
    full scenario: elections, claims, payouts in a MINT, a FEES and a VAULT (cumulative) token on each
    chain, two slashes (one landing on both chains) and a validator-set change. Keeps running (API
    up) until Ctrl-C unless --once."""
    from devnet.demo_story import DemoOptions, run_demo  # noqa: PLC0415 - heavy imports

    code = run_demo(
        DemoOptions(
            home=home,
            stakers=stakers,
            operators=operators,
            api_port=api_port,
            once=once,
            database_url=database_url,
        )
    )
    if code:
        raise typer.Exit(code=code)


def register(app: typer.Typer) -> None:
    """The ``exorelay.roles`` entry point: add ``exorelay demo``."""
    app.command("demo")(demo_command)
