"""The command line answers at once: what `import relayer.cli`, `exorelay --help`, every
`exorelay <cmd> --help` and `exorelay config validate` import.

A structural check, not a timed one: the commands that only print help or read a TOML file must not
load the network, database, crypto or server libraries (each costs 0.1-1 s to import; all together
made `exorelay --help` take 3-4 s), nor the simulator beyond its light role modules. Runs in a fresh
interpreter, since this test process has imported everything already.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

HEAVY = frozenset(
    {
        "alembic",
        "apscheduler",
        "blspy",
        "cosmpy",
        "eth_abi",
        "eth_account",
        "eth_hash",
        "eth_utils",
        "fastapi",
        "google",  # protobuf
        "grpc",
        "httpx",
        "jinja2",
        "prometheus_client",
        "psycopg",
        "py_ecc",
        "rich",
        "sqlalchemy",
        "sqlmodel",
        "starlette",
        "uvicorn",
        "web3",
        "websockets",
    }
)
"""Top-level modules no help or config command may import."""
CONFIG_ONLY = frozenset({"pydantic", "pydantic_core"})
"""Imported by `config validate` (the config model), by no help."""
DEVNET_ROLE_MODULES = frozenset(
    {
        "devnet",
        "devnet.cli",
        "devnet.defaults",
        "devnet.demo",
        "devnet.manifest",
        "devnet.replay",
        "devnet.replay.cli",
        "devnet.replay.defaults",
    }
)
"""What listing the simulator's roles may import of it (when exorelay-devnet is installed)."""

DRIVER = textwrap.dedent(
    """
    import json, sys

    steps = []
    seen = set(sys.modules)

    def step(name):
        global seen
        steps.append({"step": name, "new": sorted(set(sys.modules) - seen)})
        seen = set(sys.modules)

    def invoke(argv):
        try:
            app(argv, prog_name="exorelay")
        except SystemExit:
            pass

    from relayer.cli import app
    step("import relayer.cli")
    invoke(["--help"])
    step("exorelay --help")

    import typer.main

    def walk(command, path):
        yield path
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            yield from walk(sub, [*path, name])

    root = typer.main.get_command(app)
    root.list_commands(None)  # loads the entry-point roles, as --help did
    for path in list(walk(root, []))[1:]:
        invoke([*path, "--help"])
        step("exorelay " + " ".join(path) + " --help")
    invoke(["config", "validate", sys.argv[1]])
    step("exorelay config validate")
    print(json.dumps(steps))
    """
)


def _top(module: str) -> str:
    return module.split(".", 1)[0]


@pytest.fixture(scope="module")
def steps() -> list[dict[str, list[str] | str]]:
    run = subprocess.run(
        [sys.executable, "-c", DRIVER, str(REPO / "exorelay.example.toml")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    result: list[dict[str, list[str] | str]] = json.loads(run.stdout.splitlines()[-1])
    return result


def test_every_help_and_config_validate_was_exercised(steps: list[dict[str, list[str] | str]]) -> None:
    names = [str(s["step"]) for s in steps]
    for expected in (
        "exorelay --help",
        "exorelay run --help",
        "exorelay api --help",
        "exorelay health-check --help",
        "exorelay record --help",
        "exorelay config validate --help",
        "exorelay config validate",
    ):
        assert expected in names


def test_help_imports_no_heavy_library(steps: list[dict[str, list[str] | str]]) -> None:
    for step in steps:
        if step["step"] == "exorelay config validate":
            continue
        heavy = sorted({_top(m) for m in step["new"]} & (HEAVY | CONFIG_ONLY))
        assert heavy == [], f"{step['step']} imported {heavy}"


def test_help_imports_only_the_simulators_role_modules(steps: list[dict[str, list[str] | str]]) -> None:
    for step in steps:
        simulator = sorted(m for m in step["new"] if _top(m) == "devnet")
        if step["step"] in {"import relayer.cli", "exorelay config validate"}:
            assert simulator == [], f"{step['step']} imported {simulator}"
        else:
            assert set(simulator) <= DEVNET_ROLE_MODULES, f"{step['step']} imported {simulator}"


def test_config_validate_imports_the_config_model_only(steps: list[dict[str, list[str] | str]]) -> None:
    (validate,) = [s for s in steps if s["step"] == "exorelay config validate"]
    tops = {_top(m) for m in validate["new"]}
    assert "pydantic" in tops  # the step really validated (else the check below is empty)
    assert sorted(tops & HEAVY) == []
