"""Every command README.md shows works as written, run from the repository root.

Commands come from the README's ``sh`` code blocks (comments stripped) and its benchmark line. Each
belongs to exactly one scenario below (``SCENARIOS``); a README command no scenario runs, or a scenario
command the README no longer shows, fails ``test_every_readme_command_is_run``. Short commands run to
completion and must exit 0; servers are started with the README's arguments, probed (HTTP), stopped
with a signal and must exit cleanly. What the README cannot pin is supplied without changing the
command line: free ports, a scratch database, the devnet's gateway and key as ``EXORELAY_*`` variables
(as the README says), and for the devnet a ``--home`` in a temporary directory so a developer's own
``.exorelay/`` is never touched. Scenarios that start chains or run for minutes are marked ``slow``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import httpx
import pytest

from devnet.anvil import AnvilConfig, AnvilNode, free_port
from relayer.l1.keystore import write_keystore

REPO_ROOT: Final = Path(__file__).resolve().parents[1]
README: Final = REPO_ROOT / "README.md"
VENV_BIN: Final = Path(sys.executable).parent
PACKAGES: Final = ("relayer", "indexer", "devnet")
"""Top-level packages a script in bench/ must not shadow (Python puts the script's directory first)."""
COMMAND_TIMEOUT_S: Final = 300.0
"""Bounds a hang of a short command; they take seconds."""
LONG_COMMAND_TIMEOUT_S: Final = 900.0
"""Bounds a hang of the narrated demo or a benchmark's quick run (minutes on a loaded two-core
machine, with another test worker beside it)."""
SERVER_UP_TIMEOUT_S: Final = 300.0
"""Bounds a server that never comes up (the demo's API answers after its chains are started)."""
STOP_TIMEOUT_S: Final = 60.0
"""Bounds a server that ignores SIGINT/SIGTERM; a clean stop takes seconds."""
PROBE_INTERVAL_S: Final = 0.5
KEYSTORE_PASSWORD: Final = "readme"
SIGNER_ACCOUNT: Final = 1
"""anvil dev account 0 deploys the devnet's contracts; the relayer signs with account 1."""
BENCH_LINE: Final = re.compile(r"`(\.venv/bin/python bench/<([a-z|]+)>\.py)`")


def readme_commands() -> list[str]:
    """Every command line of the README's sh blocks, plus the benchmark line expanded."""
    text = README.read_text()
    commands: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.DOTALL):
        for line in block.splitlines():
            command = re.sub(r"\s+#.*$", "", line).strip()
            if command:
                commands.append(command)
    for _whole, names in BENCH_LINE.findall(text):
        commands.extend(f".venv/bin/python bench/{name}.py" for name in names.split("|"))
    return commands


def argv(command: str) -> list[str]:
    return command.split()


MAKE_STATE: Final = frozenset(
    {"MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES", "MAKE_TERMOUT", "MAKE_TERMERR"}
)
"""Set by an outer ``make test``: a README command runs as from a user's shell, not as a sub-make
(a sub-make inherits the outer make's jobserver and reports an interrupted child as its own error)."""


def child_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXORELAY_") and k not in MAKE_STATE}
    env.update(overrides)
    return env


def run_to_completion(
    command: list[str], env: dict[str, str], timeout_s: float = COMMAND_TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout_s, check=False
    )
    assert result.returncode == 0, (
        f"{' '.join(command)} exited {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result


@dataclass
class Server:
    """A long-running README command, started in its own process group and stopped by a signal."""

    command: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = field(default=None)

    def __enter__(self) -> Server:
        with self.log.open("wb") as sink:
            self.process = subprocess.Popen(
                self.command, cwd=REPO_ROOT, env=self.env, stdout=sink, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        return self

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def wait_for_http(self, url: str, ok: Callable[[httpx.Response], bool]) -> None:
        assert self.process is not None
        deadline = time.monotonic() + SERVER_UP_TIMEOUT_S
        while True:
            if self.process.poll() is not None:
                code = self.process.returncode
                raise AssertionError(f"{' '.join(self.command)} exited {code}:\n{self.tail()}")
            try:
                if ok(httpx.get(url, timeout=5)):
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} never answered for {' '.join(self.command)}:\n{self.tail()}")
            time.sleep(PROBE_INTERVAL_S)

    def wait_for_log(self, line: str) -> None:
        assert self.process is not None
        deadline = time.monotonic() + LONG_COMMAND_TIMEOUT_S
        while line not in self.log.read_text(errors="replace"):
            command = " ".join(self.command)
            if self.process.poll() is not None:
                raise AssertionError(f"{command} exited {self.process.returncode}:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{command} never printed {line!r}:\n{self.tail()}")
            time.sleep(PROBE_INTERVAL_S)

    def stop(self, sig: signal.Signals) -> None:
        """Signal the whole process group, as Ctrl-C (SIGINT) or a service manager (SIGTERM) does.

        A clean stop exits 0 or reports the signal (128 + n, or -n when re-raised after shutdown).
        """
        assert self.process is not None
        os.killpg(self.process.pid, sig)
        try:
            code = self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            raise AssertionError(f"{' '.join(self.command)} ignored {sig.name}:\n{self.tail()}") from None
        assert code in (0, 128 + sig, -sig), f"{' '.join(self.command)} exited {code}:\n{self.tail()}"

    def __exit__(self, *_exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


# ------------------------------------------------------------------------------------------ scenarios

MAKE_TEST = "make test"
MAKE_DEMO = "make demo"
DEMO_SERVING = "running; Ctrl-C to stop"
"""What the demo prints once its story is told and it keeps serving the API."""
DEMO_ONCE = ".venv/bin/exorelay demo --once"
DEVNET_UP = ".venv/bin/exorelay devnet up --block-time 500"
DEVNET_STATUS = ".venv/bin/exorelay devnet status"
DEVNET_DOWN = ".venv/bin/exorelay devnet down"
CONFIG_VALIDATE = ".venv/bin/exorelay config validate exorelay.example.toml"
MIGRATE = ".venv/bin/exorelay migrate --config exorelay.example.toml"
API = ".venv/bin/exorelay api --config exorelay.example.toml"
RUN = ".venv/bin/exorelay run --config exorelay.example.toml"
BENCH_PREFIX = ".venv/bin/python bench/"
MAKE_BENCH_QUICK = "make bench BENCH_ARGS=--quick"


def readme_bench_commands() -> tuple[str, ...]:
    """The benchmark commands as the README names them (so renaming a script needs no test change)."""
    return tuple(c for c in readme_commands() if c.startswith(BENCH_PREFIX))


BENCHES = readme_bench_commands()

SCENARIOS: Final[dict[str, tuple[str, ...]]] = {
    "make_test": (MAKE_TEST,),
    "make_demo": (MAKE_DEMO,),
    "demo_once": (DEMO_ONCE,),
    "config_validate": (CONFIG_VALIDATE,),
    "migrate_and_api": (MIGRATE, API),
    "devnet_and_run": (DEVNET_UP, DEVNET_STATUS, RUN, DEVNET_DOWN),
    "bench": BENCHES,
    "make_bench": (MAKE_BENCH_QUICK,),
}


def test_every_readme_command_is_run() -> None:
    shown = readme_commands()
    run = [command for commands in SCENARIOS.values() for command in commands]
    assert sorted(set(shown)) == sorted(set(run))
    assert len(shown) == len(set(shown))


def test_make_test_is_what_ci_runs() -> None:
    # `make test` runs this very suite, so it is checked by a dry run: the target exists, and it runs
    # ruff, mypy --strict, the contract artifact check and the whole pytest suite.
    recipe = run_to_completion([*argv(MAKE_TEST), "-n"], child_env()).stdout
    for step in ("ruff check", "mypy --strict", "contracts/build.mjs --check", "bin/pytest"):
        assert step in recipe


def test_make_bench_runs_every_benchmark_the_readme_shows() -> None:
    # Each benchmark line is run on its own (test_bench_line); `make bench` is checked by a dry run:
    # it runs every script the README lists, each with the arguments it was given.
    recipe = run_to_completion([*argv(MAKE_BENCH_QUICK), "-n"], child_env()).stdout
    loop = next(line for line in recipe.splitlines() if line.startswith("for b in "))
    scripts = loop.removeprefix("for b in ").split(";")[0].split()
    assert sorted(scripts) == sorted(command.removeprefix(".venv/bin/python ") for command in BENCHES)
    assert "$b --quick" in loop


def test_config_validate() -> None:
    result = run_to_completion(argv(CONFIG_VALIDATE), child_env())
    assert "exorelay.example.toml" in result.stdout + result.stderr


@pytest.mark.slow
def test_migrate_then_api_serves(tmp_path: Path) -> None:
    port = free_port()
    env = child_env(
        EXORELAY_DATABASE__URL=f"sqlite:///{tmp_path / 'readme.db'}", EXORELAY_API__PORT=str(port)
    )
    run_to_completion(argv(MIGRATE), env)
    with Server(argv(API), env, tmp_path / "api.log") as api:
        api.wait_for_http(f"http://127.0.0.1:{port}/health", lambda r: r.status_code == 200)
        assert httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=5).json()["paths"]
        api.stop(signal.SIGINT)


@pytest.fixture
def devnet_home(tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "devnet"
    yield home
    # whatever happened, nothing is left running (down is idempotent: "nothing was running")
    subprocess.run([*argv(DEVNET_DOWN), "--home", str(home)], cwd=REPO_ROOT, env=child_env(), check=False)


@pytest.mark.slow
def test_devnet_up_status_run_down(tmp_path: Path, devnet_home: Path) -> None:
    home = ["--home", str(devnet_home)]
    run_to_completion([*argv(DEVNET_UP), *home], child_env())
    run_to_completion([*argv(DEVNET_STATUS), *home], child_env())
    manifest = json.loads((devnet_home / "devnet.json").read_text())
    exocore, l1 = manifest["exocore"], manifest["l1"]
    keystore = tmp_path / "signer.json"
    key = AnvilNode(AnvilConfig()).dev_accounts()[SIGNER_ACCOUNT].private_key
    write_keystore(keystore, key, KEYSTORE_PASSWORD, kdf="pbkdf2", iterations=2)
    metrics_port = free_port()
    env = child_env(
        EXORELAY_EXOCORE__CHAIN_ID=exocore["chain_id"],
        EXORELAY_EXOCORE__RPC_URLS=json.dumps([exocore["rpc_url"]]),
        EXORELAY_EXOCORE__GRPC_ENDPOINTS=json.dumps([exocore["grpc_target"]]),
        EXORELAY_L1__CHAIN_ID=str(l1["chain_id"]),
        EXORELAY_L1__RPC_URLS=json.dumps([l1["rpc_url"]]),
        EXORELAY_L1__GATEWAY_ADDRESS=l1["contracts"]["gateway"],
        EXORELAY_L1__START_BLOCK=str(l1["deploy_block"]),
        EXORELAY_L1__KEYSTORE_PATH=str(keystore),
        EXORELAY_KEYSTORE_PASSWORD=KEYSTORE_PASSWORD,
        EXORELAY_DATABASE__URL=f"sqlite:///{tmp_path / 'relayer.db'}",
        EXORELAY_RELAYER__METRICS_PORT=str(metrics_port),
    )
    with Server(argv(RUN), env, tmp_path / "run.log") as relayer:
        relayer.wait_for_http(
            f"http://127.0.0.1:{metrics_port}/metrics",
            lambda r: r.status_code == 200 and "exorelay_exocore_height" in r.text,
        )
        relayer.stop(signal.SIGTERM)
    stopped = run_to_completion([*argv(DEVNET_DOWN), *home], child_env())
    assert stopped.stdout.startswith("stopped ")


@pytest.mark.slow
def test_demo_once_runs_to_completion(tmp_path: Path) -> None:
    # --home keeps the demo's fresh working directory out of the developer's .exorelay/demo
    command = [*argv(DEMO_ONCE), "--home", str(tmp_path / "demo"), "--api-port", str(free_port())]
    run_to_completion(command, child_env(), timeout_s=LONG_COMMAND_TIMEOUT_S)


@pytest.mark.slow
def test_make_demo_serves_the_api_until_interrupted(tmp_path: Path) -> None:
    port = free_port()
    demo_args = f"DEMO_ARGS=--home {tmp_path / 'demo'} --api-port {port}"
    with Server([*argv(MAKE_DEMO), demo_args], child_env(), tmp_path / "demo.log") as demo:
        demo.wait_for_http(f"http://127.0.0.1:{port}/health", lambda r: r.status_code == 200)
        # Interrupted where a user would: once the story is told and the demo serves (a Ctrl-C in
        # the middle of the scenario is a different outcome, reported as such by make).
        demo.wait_for_log(DEMO_SERVING)
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
        demo.stop(signal.SIGINT)


def bench_shadows_a_package() -> bool:
    return any((REPO_ROOT / "bench" / f"{package}.py").exists() for package in PACKAGES)


def bench_arguments(command: list[str]) -> list[str]:
    """``--quick`` where the script has it, else ``--help`` (the full benchmark runs in `make bench`)."""
    python, script, *given = command
    if "--quick" in given:
        return []
    shown = subprocess.run(
        [python, script, "--help"], cwd=REPO_ROOT, env=child_env(),
        capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False,
    )  # fmt: skip
    return ["--quick"] if "--quick" in shown.stdout else ["--help"]


@pytest.mark.slow
@pytest.mark.parametrize("command", BENCHES)
def test_bench_line(command: str, request: pytest.FixtureRequest) -> None:
    if bench_shadows_a_package():
        request.applymarker(
            pytest.mark.xfail(
                reason="a bench/ script named like a package shadows it (e.g. bench/relayer.py)",
                strict=False,
            )
        )
    run_to_completion(
        [*argv(command), *bench_arguments(argv(command))], child_env(), timeout_s=LONG_COMMAND_TIMEOUT_S
    )
