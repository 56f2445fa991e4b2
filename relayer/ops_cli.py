"""``exorelay health-check | status | retry | exclude``: registered on the main CLI by :func:`register`.

Invariant: importing this module costs only typer and the standard library; each command imports
what it needs (config/pydantic, web3, grpc, SQLAlchemy) in its body, so ``exorelay --help`` stays fast
(``tests/relayer/test_cli_imports.py`` checks).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer

from relayer.errors import ConfigError, ExorelayError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from relayer.config import ExorelayConfig
    from relayer.ops import RelayerStatus

CONFIG_OPTION: Final = typer.Option(
    "--config", "-c", help="TOML config file; EXORELAY_* env overrides apply."
)
JSON_OPTION: Final = typer.Option("--json", help="Print one JSON document instead of text.")


def _config(path: Path | None) -> ExorelayConfig:
    from relayer.config import load_config  # noqa: PLC0415 - pydantic: keeps `exorelay --help` fast

    try:
        return load_config(path)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(code=1) from exc


def _engine(config: ExorelayConfig) -> Engine:
    from storage.db import create_db_engine  # noqa: PLC0415 - keeps `exorelay --help` fast

    return create_db_engine(config.database.url)


def _fail(command: str, exc: BaseException) -> typer.Exit:
    typer.echo(f"{command}: {exc}", err=True)
    return typer.Exit(code=1)


# ------------------------------------------------------------------------------------------ health-check


def health_check_command(
    config: Annotated[Path | None, CONFIG_OPTION] = None,
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Check every endpoint, chain id, the gateway, the signer and the database. Exit 1 on a failure."""
    from relayer.health import health_check  # noqa: PLC0415 - pulls in web3 and grpc

    settings = _config(config)
    # The clients log each endpoint failure with its full URL (API keys included); the report below
    # says the same with URLs redacted, so nothing of theirs reaches the terminal.
    logging.getLogger().addHandler(logging.NullHandler())
    report = health_check(settings)
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
    else:
        for check in report.checks:
            typer.echo(f"{check.verdict:<5} {check.name}: {check.detail}")
        failed, warned = len(report.failures), len(report.warnings)
        summary = "healthy" if report.ok else f"{failed} check(s) failed"
        typer.echo(f"{summary} ({len(report.checks)} checks, {warned} warning(s))")
    if not report.ok:
        raise typer.Exit(code=1)


# ------------------------------------------------------------------------------------------ status


def _age(seconds: float) -> str:
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs}s" if minutes else f"{secs}s"


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.isoformat(timespec="seconds")


def _counts(counts: dict[str, int] | Any) -> str:
    return ", ".join(f"{stage} {count}" for stage, count in counts.items())


def _print_status(snapshot: RelayerStatus) -> None:
    typer.echo(f"relay jobs:   {_counts(snapshot.relay_jobs)}")
    typer.echo(f"payout jobs:  {_counts(snapshot.payout_jobs)}")
    oldest = snapshot.oldest_pending
    age = snapshot.oldest_pending_age_s
    if oldest is None or age is None:
        typer.echo("oldest pending: none")
    else:
        typer.echo(f"oldest pending: {oldest.item} ({oldest.stage}) for {_age(age)}")
    typer.echo(f"open tx intents: {_counts(snapshot.intent_states)}")
    for intent in snapshot.open_intents:
        nonce = "-" if intent.tx_nonce is None else intent.tx_nonce
        typer.echo(
            f"  #{intent.id} {intent.key} {intent.state} nonce {nonce} tx {intent.tx_hash or '-'} "
            f"attempts {intent.attempts}"
        )
    typer.echo(f"waiting: {snapshot.waiting_total}")
    for job in snapshot.waiting:
        detail = f": {job.retry_detail}" if job.retry_detail else ""
        typer.echo(
            f"  {job.item} {job.stage} {job.retry_reason}{detail} "
            f"(attempts {job.attempts}, next {_when(job.next_attempt_at)})"
        )
    if len(snapshot.waiting) < snapshot.waiting_total:
        typer.echo(f"  ... {snapshot.waiting_total - len(snapshot.waiting)} more")
    if snapshot.halted_streams:
        typer.echo("halted ingest streams:")
        for stream in snapshot.halted_streams:
            typer.echo(f"  {stream.stream} ({stream.chain}) at height {stream.height}: {stream.reason}")
    for block in snapshot.poisoned_blocks:
        typer.echo(
            f"poisoned block: {block.stream} {block.height} ({block.error_class}: "
            f"{block.error.splitlines()[0][:200] if block.error else ''}); "
            f"`exorelay skip-block {block.stream} {block.height} --reason TEXT` or fix and resume"
        )
    for job in snapshot.parked_payouts:
        typer.echo(
            f"parked payout: {job.item} {job.retry_reason}: {job.retry_detail} "
            f"(next check {_when(job.next_attempt_at)}; resumes by itself)"
        )
    _print_leases(snapshot)


def _print_leases(snapshot: RelayerStatus) -> None:
    now = snapshot.database_time
    typer.echo(f"leases (database clock {_when(now)}): {len(snapshot.leases) or 'none taken yet'}")
    for lease in snapshot.leases:
        if now is not None and lease.live(now):
            left = (lease.expires_at - now).total_seconds()
            typer.echo(
                f"  {lease.name} held by {lease.holder} token {lease.token} since {_when(lease.acquired_at)}"
                f" expires {_when(lease.expires_at)} (in {left:.1f}s)"
            )
        else:
            last = f", last {lease.holder}" if lease.holder else ""
            typer.echo(f"  {lease.name} free (token {lease.token}{last}, expired {_when(lease.expires_at)})")


def status_command(
    config: Annotated[Path | None, CONFIG_OPTION] = None,
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Show the work queue: backlog by stage, oldest pending item, open L1 txs, waiting jobs, halts."""
    from relayer.ops import status  # noqa: PLC0415

    engine = _engine(_config(config))
    try:
        snapshot = status(engine)
    except ExorelayError as exc:
        raise _fail("status", exc) from exc
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps(snapshot.to_json(), indent=2))
    else:
        _print_status(snapshot)


# ------------------------------------------------------------------------------------------ retry / exclude

ITEM_ARGUMENT: Final = typer.Argument(help="packet:<nonce>, <nonce> or distribution:<0x id>.")


def retry_command(
    item: Annotated[str, ITEM_ARGUMENT],
    config: Annotated[Path | None, CONFIG_OPTION] = None,
) -> None:
    """Make ITEM due now (backoff cleared); a refused packet goes back to discovered."""
    from relayer.ops import retry  # noqa: PLC0415

    engine = _engine(_config(config))
    try:
        result = retry(engine, item)
    except ExorelayError as exc:
        raise _fail("retry", exc) from exc
    finally:
        engine.dispose()
    typer.echo(f"{result.item}: {result.from_stage} -> {result.to_stage}, due now")
    if result.previous_reason is not None:
        detail = f": {result.previous_detail}" if result.previous_detail else ""
        typer.echo(
            f"  was waiting for {result.previous_reason}{detail} (attempts {result.previous_attempts})"
        )


def exclude_command(
    item: Annotated[str, ITEM_ARGUMENT],
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (kept on the job and in the history).")],
    config: Annotated[Path | None, CONFIG_OPTION] = None,
) -> None:
    """Stop all further work on ITEM (a poison item); its claim or slash becomes excluded."""
    from relayer.ops import exclude  # noqa: PLC0415

    engine = _engine(_config(config))
    try:
        result = exclude(engine, item, reason)
    except ExorelayError as exc:
        raise _fail("exclude", exc) from exc
    finally:
        engine.dispose()
    if not result.changed:
        typer.echo(f"{result.item}: unchanged")
    else:
        typer.echo(f"{result.item}: excluded (was {result.from_stage})")
    if result.subject is not None and result.subject_excluded:
        typer.echo(f"  {result.subject}: excluded")
    for intent_id in result.cancelled_intents:
        typer.echo(f"  tx intent #{intent_id}: cancelled (not signed yet)")
    for intent in result.in_flight_intents:
        typer.echo(
            f"  warning: tx intent #{intent.id} ({intent.key}) is {intent.state} with tx {intent.tx_hash}: "
            "a signed transaction cannot be unsent and may still be mined"
        )
    for note in result.notes:
        typer.echo(f"  note: {note}")


def register(app: typer.Typer) -> None:
    """Add the operator commands to the ``exorelay`` CLI."""
    app.command("health-check")(health_check_command)
    app.command("status")(status_command)
    app.command("retry")(retry_command)
    app.command("exclude")(exclude_command)
