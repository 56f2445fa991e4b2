"""``exorelay devnet up|down|status``: run the local Exocore devnet and anvil L1 in the background.

``up`` spawns :mod:`devnet.daemon` detached (its output goes to ``<home>/devnet.log``) and returns once
both chains answer and ``<home>/devnet.json`` is written; ``down`` stops the daemon and anvil by the
PIDs in the manifest; ``status`` prints heights and health read from the endpoints.

Registered on ``exorelay`` through the ``exorelay.roles`` entry point (:func:`register`). Invariant:
importing this module costs only typer and the devnet's light modules (defaults, manifest); the
network clients are imported by the command that uses them.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any, Final

import typer

from devnet.defaults import DEFAULT_BLOCK_TIME_MS, DEFAULT_EPOCH_BLOCKS, DEFAULT_SEED, DEFAULT_VALIDATORS
from devnet.manifest import (
    DEFAULT_HOME,
    STATUS_FAILED,
    STATUS_READY,
    STATUS_STOPPED,
    ManifestError,
    read_manifest,
    read_manifest_if_any,
    write_manifest,
)

UP_TIMEOUT_S: Final = 120.0
"""Deploying the contracts and starting both chains takes a few seconds; the margin covers a loaded CI."""
STOP_TIMEOUT_S: Final = 20.0
"""Grace after SIGTERM (the node seals its open block, anvil dumps its state) before SIGKILL."""
PROBE_TIMEOUT_S: Final = 3.0
POLL_INTERVAL_S: Final = 0.1
LOG_TAIL_LINES: Final = 30
LOG_NAME: Final = "devnet.log"
DAEMON_MARKER: Final = b"devnet.daemon"
ANVIL_MARKER: Final = b"anvil"

devnet_app = typer.Typer(
    help="Run the local Exocore devnet and anvil L1.", no_args_is_help=True, rich_markup_mode=None
)

HomeOption = Annotated[Path, typer.Option("--home", help="Devnet directory (manifest, data, logs).")]


def process_alive(pid: object, marker: bytes) -> bool:
    """``pid`` runs and (where /proc exists) its command line mentions ``marker``: a recycled PID of
    another program is never signalled."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.parent.exists():
        try:
            data = cmdline.read_bytes()
        except OSError:
            return False
        if not data:  # a zombie: it has exited
            return False
        return marker in data
    return True


def _stop_process(pid: int, marker: bytes) -> bool:
    """SIGTERM, wait, SIGKILL if needed; True if it was running."""
    if not process_alive(pid, marker):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while process_alive(pid, marker):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            break
        time.sleep(POLL_INTERVAL_S)
    return True


def _log_tail(home: Path) -> str:
    try:
        lines = (home / LOG_NAME).read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-LOG_TAIL_LINES:])


def _fail(message: str, home: Path | None = None) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    if home is not None:
        tail = _log_tail(home)
        if tail:
            typer.echo(f"--- {home / LOG_NAME} (tail) ---\n{tail}", err=True)
    return typer.Exit(code=1)


@devnet_app.command("up")
def up(
    *,
    block_time: Annotated[int, typer.Option("--block-time", help="Exocore block time in ms.", min=10)] = (
        DEFAULT_BLOCK_TIME_MS
    ),
    validators: Annotated[int, typer.Option(help="Exocore validators (relay signers).", min=1, max=190)] = (
        DEFAULT_VALIDATORS
    ),
    seed: Annotated[str, typer.Option(help="Seed every devnet key derives from.")] = DEFAULT_SEED,
    epoch_blocks: Annotated[int, typer.Option(help="Blocks per epoch.", min=1)] = DEFAULT_EPOCH_BLOCKS,
    rpc_port: Annotated[int, typer.Option(help="CometBFT RPC port (0 = a free one).")] = 0,
    grpc_port: Annotated[int, typer.Option(help="gRPC port (0 = a free one).")] = 0,
    anvil_port: Annotated[int, typer.Option(help="anvil port (0 = a free one).")] = 0,
    client_chain_id: Annotated[
        list[int] | None,
        typer.Option(
            "--client-chain-id",
            help="A further client chain: its own anvil with this chain id (repeatable; fresh start only).",
        ),
    ] = None,
    fresh: Annotated[
        bool, typer.Option(help="Discard a stopped devnet's data instead of resuming it.")
    ] = False,
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Start the Exocore devnet and an anvil L1 in the background; resume a stopped one unless --fresh."""
    existing = read_manifest_if_any(home)
    if existing is not None and process_alive(existing.get("pids", {}).get("daemon"), DAEMON_MARKER):
        raise _fail(
            f"a devnet is already running from {home} (pid {existing['pids']['daemon']}); run down first"
        )
    home.mkdir(parents=True, exist_ok=True)
    if fresh:
        for part in ("exocore", "l1"):
            shutil.rmtree(home / part, ignore_errors=True)
    command = [
        sys.executable, "-m", "devnet.daemon",
        "--home", str(home.resolve()),
        "--block-time-ms", str(block_time),
        "--validators", str(validators),
        "--seed", seed,
        "--epoch-blocks", str(epoch_blocks),
        "--rpc-port", str(rpc_port),
        "--grpc-port", str(grpc_port),
        "--anvil-port", str(anvil_port),
        *(arg for chain in client_chain_id or () for arg in ("--client-chain-id", str(chain))),
    ]  # fmt: skip
    with (home / LOG_NAME).open("ab") as log:
        daemon = subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    deadline = time.monotonic() + UP_TIMEOUT_S
    while True:
        manifest = read_manifest_if_any(home)
        if manifest is not None and manifest.get("pids", {}).get("daemon") == daemon.pid:
            if manifest.get("status") == STATUS_READY:
                break
            if manifest.get("status") == STATUS_FAILED:
                daemon.wait(timeout=STOP_TIMEOUT_S)
                raise _fail(f"the devnet failed to start: {manifest.get('error')}", home)
        if daemon.poll() is not None:
            raise _fail(f"the devnet daemon exited with {daemon.returncode}", home)
        if time.monotonic() > deadline:
            _stop_process(daemon.pid, DAEMON_MARKER)
            raise _fail(f"the devnet did not become ready within {UP_TIMEOUT_S} s", home)
        time.sleep(POLL_INTERVAL_S)
    exocore, l1 = manifest["exocore"], manifest["l1"]
    typer.echo(f"exocore  {exocore['chain_id']}  rpc {exocore['rpc_url']}  grpc {exocore['grpc_target']}")
    for other in (l1, *manifest.get("client_chains", [])):
        gateway = other["contracts"]["gateway"]
        typer.echo(f"l1       chain {other['chain_id']}  rpc {other['rpc_url']}  gateway {gateway}")
    typer.echo(f"manifest {(home / 'devnet.json').resolve()}")


@devnet_app.command("down")
def down(home: HomeOption = DEFAULT_HOME) -> None:
    """Stop the devnet daemon and anvil (by the PIDs in the manifest). Data is kept for the next up."""
    try:
        manifest = read_manifest(home)
    except ManifestError as exc:
        raise _fail(str(exc)) from exc
    pids = manifest.get("pids") or {}
    stopped = []
    daemon, anvil = pids.get("daemon"), pids.get("anvil")
    if isinstance(daemon, int) and _stop_process(daemon, DAEMON_MARKER):
        stopped.append(f"daemon {daemon}")
    # The daemon stops the anvils itself; this catches one orphaned by a killed daemon.
    for pid in (anvil, *(pids.get("client_anvils") or ())):
        if isinstance(pid, int) and _stop_process(pid, ANVIL_MARKER):
            stopped.append(f"anvil {pid}")
    manifest = read_manifest_if_any(home) or manifest
    manifest["status"] = STATUS_STOPPED
    manifest["pids"] = {"daemon": None, "anvil": None, "client_anvils": []}
    write_manifest(home, manifest)
    typer.echo("stopped " + ", ".join(stopped) if stopped else "nothing was running")


def _exocore_status(exocore: dict[str, Any]) -> tuple[bool, str]:
    import grpc  # noqa: PLC0415 - keeps `exorelay --help` fast
    import httpx  # noqa: PLC0415

    from relayer.exocore.proto.relay.v1 import query_pb2 as relay_query  # noqa: PLC0415
    from relayer.exocore.proto.relay.v1 import query_pb2_grpc as relay_grpc  # noqa: PLC0415

    try:
        response = httpx.get(f"{exocore['rpc_url']}/status", timeout=PROBE_TIMEOUT_S)
        response.raise_for_status()
        sync = response.json()["result"]["sync_info"]
        with grpc.insecure_channel(exocore["grpc_target"]) as channel:
            valset = relay_grpc.QueryStub(channel).CurrentValset(
                relay_query.QueryCurrentValsetRequest(), timeout=PROBE_TIMEOUT_S
            )
        return True, (
            f"height {sync['latest_block_height']}  valset {valset.valset.valset_nonce}  "
            f"rpc {exocore['rpc_url']}  grpc {exocore['grpc_target']}"
        )
    except (httpx.HTTPError, grpc.RpcError, KeyError, ValueError) as exc:
        return False, f"unreachable ({type(exc).__name__}: {exc})"


def _l1_status(l1: dict[str, Any]) -> tuple[bool, str]:
    import httpx  # noqa: PLC0415 - keeps `exorelay --help` fast

    try:
        response = httpx.post(
            l1["rpc_url"],
            json={"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []},
            timeout=PROBE_TIMEOUT_S,
        )
        response.raise_for_status()
        return True, f"block {int(response.json()['result'], 16)}  rpc {l1['rpc_url']}"
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        return False, f"unreachable ({type(exc).__name__}: {exc})"


@devnet_app.command("status")
def status(home: HomeOption = DEFAULT_HOME) -> None:
    """Print each chain's height and health; exit 1 unless both are up."""
    try:
        manifest = read_manifest(home)
    except ManifestError as exc:
        raise _fail(str(exc)) from exc
    pids = manifest.get("pids") or {}
    if manifest.get("status") != STATUS_READY or not process_alive(pids.get("daemon"), DAEMON_MARKER):
        typer.echo(f"devnet: {manifest.get('status', 'unknown')} (not running)")
        raise typer.Exit(code=1)
    exocore_ok, exocore_line = _exocore_status(manifest["exocore"])
    l1_ok, l1_line = _l1_status(manifest["l1"])
    typer.echo(
        f"exocore  {manifest['exocore']['chain_id']}  {'ok' if exocore_ok else 'DOWN'}  {exocore_line}"
    )
    typer.echo(f"l1       chain {manifest['l1']['chain_id']}  {'ok' if l1_ok else 'DOWN'}  {l1_line}")
    if not (exocore_ok and l1_ok):
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    """The ``exorelay.roles`` entry point: add ``exorelay devnet up|down|status``."""
    app.add_typer(devnet_app, name="devnet")
