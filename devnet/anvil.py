"""A local L1 node: anvil from ``node_modules`` on a free port, started, awaited and stopped.

``AnvilNode`` is a context manager::

    with AnvilNode(AnvilConfig()) as node:
        w3 = Web3(Web3.HTTPProvider(node.rpc_url))

The binary comes from the npm package ``@foundry-rs/anvil-linux-amd64`` (pinned in package.json), so the
devnet and the contract tests need no Foundry installation.
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final, Self

import httpx
from eth_account import Account

from relayer.errors import L1RpcError

REPO_ROOT: Final = Path(__file__).resolve().parents[1]

DEFAULT_HARDFORK: Final = "prague"
"""EIP-2537 (BLS12-381 precompiles) arrived with Prague; the contracts target it (evmVersion)."""

DEFAULT_MNEMONIC: Final = "test test test test test test test test test test test junk"
"""anvil's well-known development mnemonic: its accounts are public, never use them on a real chain."""

STARTUP_TIMEOUT_S: Final = 30.0
"""How long anvil may take to answer its first request (it starts in well under a second when idle;
the margin covers a loaded 2-core CI machine)."""

POLL_INTERVAL_S: Final = 0.05
"""Pause between readiness probes while anvil starts."""

PROBE_TIMEOUT_S: Final = 1.0
"""Timeout of one readiness probe: a starting anvil answers at once or refuses the connection."""

RPC_TIMEOUT_S: Final = 30.0
"""Per-request timeout of :meth:`AnvilNode.rpc` (anvil answers locally; long only under heavy load)."""

STOP_TIMEOUT_S: Final = 10.0
"""Grace period after SIGTERM before anvil is killed."""

START_ATTEMPTS: Final = 3
"""A free port found by binding port 0 can be taken by another process before anvil binds it;
retry on a fresh port this many times."""

LOG_TAIL_BYTES: Final = 4000
"""How much of anvil's output to quote when it fails to start."""


class AnvilError(L1RpcError):
    """anvil could not be started, did not answer, or answered a request with an error."""


def anvil_binary() -> Path:
    """Path of the anvil executable installed by ``npm ci`` for this platform."""
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    system = platform.system().lower()
    path = REPO_ROOT / "node_modules" / "@foundry-rs" / f"anvil-{system}-{arch}" / "bin" / "anvil"
    if not path.is_file():
        raise AnvilError(f"anvil not found at {path}: run `npm ci` (package.json pins it)")
    return path


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True, slots=True)
class DevAccount:
    """A funded development account of the node's mnemonic."""

    address: str
    """EIP-55 checksummed address."""
    private_key: bytes


@dataclass(frozen=True, slots=True)
class AnvilConfig:
    chain_id: int = 31337
    hardfork: str = DEFAULT_HARDFORK
    host: str = "127.0.0.1"
    port: int | None = None
    """None: pick a free port."""
    block_time_s: float | None = None
    """None: mine one block per transaction immediately (automine)."""
    accounts: int = 10
    balance_eth: int = 10_000
    block_gas_limit: int | None = None
    """None: anvil's default (30M)."""
    mnemonic: str = DEFAULT_MNEMONIC
    extra_args: tuple[str, ...] = field(default_factory=tuple)

    def command(self, binary: Path, port: int) -> list[str]:
        args = [
            str(binary),
            "--host", self.host,
            "--port", str(port),
            "--chain-id", str(self.chain_id),
            "--hardfork", self.hardfork,
            "--accounts", str(self.accounts),
            "--balance", str(self.balance_eth),
            "--mnemonic", self.mnemonic,
        ]  # fmt: skip
        if self.block_time_s is not None:
            args += ["--block-time", str(self.block_time_s)]
        if self.block_gas_limit is not None:
            args += ["--gas-limit", str(self.block_gas_limit)]
        return args + list(self.extra_args)


class AnvilNode:
    """One anvil process. Start with :meth:`start` or ``with``; :meth:`stop` is idempotent."""

    def __init__(self, config: AnvilConfig | None = None) -> None:
        self.config = config or AnvilConfig()
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._port: int | None = None
        self._client: httpx.Client | None = None
        self._request_id = 0

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> Self:
        if self._process is not None:
            return self
        binary = anvil_binary()
        error = AnvilError("anvil was not started")
        for _ in range(START_ATTEMPTS if self.config.port is None else 1):
            port = self.config.port if self.config.port is not None else free_port(self.config.host)
            try:
                self._launch(binary, port)
                return self
            except AnvilError as exc:
                error = exc
                self.stop()
        raise error

    def _launch(self, binary: Path, port: int) -> None:
        self._log = tempfile.TemporaryFile(prefix="anvil-")  # noqa: SIM115 - lives as long as the node
        self._process = subprocess.Popen(  # noqa: S603 - fixed binary, no shell
            self.config.command(binary, port),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "NO_COLOR": "1"},
        )
        self._port = port
        self._client = httpx.Client()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise AnvilError(f"anvil exited with {self._process.returncode}: {self._log_tail()}")
            try:
                chain_id = int(self.rpc("eth_chainId", timeout_s=PROBE_TIMEOUT_S), 16)
            except (httpx.TransportError, AnvilError):
                time.sleep(POLL_INTERVAL_S)
                continue
            if chain_id != self.config.chain_id:
                raise AnvilError(f"port {port} answers chain id {chain_id}, not our anvil")
            return
        raise AnvilError(f"anvil did not answer within {STARTUP_TIMEOUT_S} s: {self._log_tail()}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # ---------------------------------------------------------------- access

    @property
    def port(self) -> int:
        if self._port is None:
            raise AnvilError("anvil is not started")
        return self._port

    @property
    def rpc_url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    def dev_accounts(self) -> tuple[DevAccount, ...]:
        """The funded accounts anvil derives from its mnemonic (BIP-44 m/44'/60'/0'/0/i)."""
        return _derive_accounts(self.config.mnemonic, self.config.accounts)

    def rpc(self, method: str, params: Sequence[Any] = (), *, timeout_s: float = RPC_TIMEOUT_S) -> Any:
        """One raw JSON-RPC call (``evm_snapshot``, ``anvil_setBalance``, ...)."""
        if self._client is None:
            raise AnvilError("anvil is not started")
        self._request_id += 1
        body = {"jsonrpc": "2.0", "id": self._request_id, "method": method, "params": list(params)}
        response = self._client.post(self.rpc_url, json=body, timeout=timeout_s)
        try:
            answer = response.json()
        except ValueError as exc:
            raise AnvilError(f"{method}: non-JSON answer (HTTP {response.status_code})") from exc
        if not isinstance(answer, dict):
            raise AnvilError(f"{method}: malformed answer {answer!r}")
        if "error" in answer:
            raise AnvilError(f"{method}: {answer['error']}")
        return answer.get("result")

    def snapshot(self) -> str:
        """Snapshot the chain state; :meth:`revert` returns to it (and consumes it)."""
        snapshot_id = self.rpc("evm_snapshot")
        if not isinstance(snapshot_id, str):
            raise AnvilError(f"evm_snapshot answered {snapshot_id!r}")
        return snapshot_id

    def revert(self, snapshot_id: str) -> None:
        if self.rpc("evm_revert", [snapshot_id]) is not True:
            raise AnvilError(f"evm_revert({snapshot_id}) failed")

    def _log_tail(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0, os.SEEK_END)
        size = self._log.tell()
        self._log.seek(max(0, size - LOG_TAIL_BYTES))
        return self._log.read().decode("utf-8", "replace").strip()


@cache
def _derive_accounts(mnemonic: str, count: int) -> tuple[DevAccount, ...]:
    Account.enable_unaudited_hdwallet_features()
    accounts = []
    for index in range(count):
        account = Account.from_mnemonic(mnemonic, account_path=f"m/44'/60'/0'/0/{index}")
        accounts.append(DevAccount(address=account.address, private_key=bytes(account.key)))
    return tuple(accounts)
