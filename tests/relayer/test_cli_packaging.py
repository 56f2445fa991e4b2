"""Packaging: the production install (`exocore-relayer`) works without the simulator, and every
library the code imports is declared by the distribution that ships the code.

- imports are read from the source (every ``import``, at module level or inside functions, also under
  ``TYPE_CHECKING``) and mapped to the installed distributions that provide them;
- ``relayer``/``indexer``/``storage`` must declare theirs in ``pyproject.toml``, ``devnet`` in
  ``devnet/pyproject.toml``, tests and bench in either or in the ``dev`` extra;
- the production wheel is built from a copy of the tree without ``devnet/`` and installed alone into a
  fresh venv: ``exorelay --help`` works there, lists no simulator role, ``exorelay migrate`` builds
  the schema from the revisions shipped in the wheel (no checkout), the contract artifacts (package
  data) load from the installed package without the checkout's ``contracts/``, and ``devnet`` is not
  importable.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterable
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from relayer.l1.artifacts import ContractName, load_artifact
from storage.migrate import head_revision

REPO = Path(__file__).resolve().parents[2]
FIRST_PARTY = frozenset({"relayer", "indexer", "storage", "avs", "devnet", "tests", "bench"})
SIMULATOR_ROLES = ("devnet", "demo", "replay")
PRODUCTION_ROLES = (
    "run",
    "api",
    "migrate",
    "record",
    "config",
    "health-check",
    "status",
    "operator",
    "aggregator",
)


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_names(requirements: Iterable[str]) -> set[str]:
    names = set()
    for requirement in requirements:
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
        assert match, requirement
        names.add(_normalize(match.group(1)))
    return names


def _declared(pyproject: Path, *extras: str) -> set[str]:
    project = tomllib.loads(pyproject.read_text())["project"]
    requirements = list(project.get("dependencies", []))
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    return _requirement_names(requirements)


def _imported_top_levels(package: str) -> set[str]:
    names: set[str] = set()
    for path in (REPO / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - FIRST_PARTY - set(sys.stdlib_module_names)


def _undeclared(packages: Iterable[str], declared: set[str]) -> list[str]:
    providers = packages_distributions()
    missing = []
    for package in packages:
        for module in sorted(_imported_top_levels(package)):
            distributions = {_normalize(d) for d in providers.get(module, [])}
            assert distributions, f"{package} imports {module}, which no installed distribution provides"
            if not distributions & declared:
                missing.append(f"{package} imports {module} ({' or '.join(sorted(distributions))})")
    return missing


PRODUCTION = REPO / "pyproject.toml"
SIMULATOR = REPO / "devnet" / "pyproject.toml"


def test_production_code_declares_what_it_imports() -> None:
    assert _undeclared(["relayer", "indexer", "storage", "avs"], _declared(PRODUCTION)) == []


def test_simulator_declares_what_it_imports() -> None:
    assert _undeclared(["devnet"], _declared(SIMULATOR)) == []


def test_tests_and_bench_import_only_declared_libraries() -> None:
    declared = _declared(PRODUCTION, "dev") | _declared(SIMULATOR)
    assert _undeclared(["tests", "bench"], declared) == []


def test_the_simulator_depends_on_the_production_distribution_and_registers_its_roles() -> None:
    simulator = tomllib.loads(SIMULATOR.read_text())["project"]
    production = tomllib.loads(PRODUCTION.read_text())["project"]
    assert f"{production['name']}=={production['version']}" in simulator["dependencies"]
    roles = simulator["entry-points"]["exorelay.roles"]
    assert sorted(roles) == sorted(SIMULATOR_ROLES)
    # Every subpackage of devnet/ is listed (setuptools does not find them there by itself).
    listed = set(tomllib.loads(SIMULATOR.read_text())["tool"]["setuptools"]["packages"])
    on_disk = {
        ".".join(("devnet", *init.parent.relative_to(REPO / "devnet").parts))
        for init in (REPO / "devnet").rglob("__init__.py")
    }
    assert listed == on_disk


@pytest.mark.slow
def test_production_install_has_no_simulator(tmp_path: Path) -> None:
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    assert uv is not None, "uv is installed into .venv by `make deps`"
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for package in ("relayer", "indexer", "storage", "avs"):
        shutil.copytree(REPO / package, source / package, ignore=ignore)
    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True, timeout=120)
    install = subprocess.run(
        [uv, "pip", "install", "--quiet", "--python", str(python), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert install.returncode == 0, install.stderr[-3000:]

    shown = subprocess.run(
        [str(venv / "bin" / "exorelay"), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert shown.returncode == 0, shown.stderr
    commands = {line.split()[0] for line in shown.stdout.split("Commands:")[1].splitlines() if line.strip()}
    assert set(PRODUCTION_ROLES) <= commands
    assert commands.isdisjoint(SIMULATOR_ROLES)
    assert shown.stderr == ""  # no role entry point failed to load

    validated = subprocess.run(
        [str(venv / "bin" / "exorelay"), "config", "validate", str(REPO / "exorelay.example.toml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert validated.returncode == 0, validated.stderr

    # The Alembic revisions are package data: migrate runs from the wheel alone, outside the checkout.
    database = tmp_path / "wheel.db"
    migrated = subprocess.run(
        [str(venv / "bin" / "exorelay"), "migrate"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
        env={"PATH": str(venv / "bin"), "EXORELAY_DATABASE__URL": f"sqlite:///{database}"},
    )
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert f"database at revision {head_revision()}" in migrated.stdout

    probe = subprocess.run(
        [str(python), "-c", "import importlib.util as u; print(u.find_spec('devnet'))"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert probe.stdout.strip() == "None", probe.stdout + probe.stderr

    # The contract artifacts are package data: every one loads from the installed package (the copy
    # has no contracts/ and the venv is outside the checkout), and the gateway's ABI is the committed one.
    script = (
        "import json, sys\n"
        "from relayer.l1.artifacts import ARTIFACTS_DIR, ContractName, load_artifact\n"
        "loaded = {name.value: load_artifact(name) for name in ContractName}\n"
        "gateway = loaded['ExocoreGateway']\n"
        "print(json.dumps({'dir': str(ARTIFACTS_DIR), 'names': sorted(loaded),"
        " 'abi': gateway.abi_list(), 'bytecode': len(gateway.bytecode)}))\n"
    )
    artifacts = subprocess.run(
        [str(python), "-c", script], capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path
    )
    assert artifacts.returncode == 0, artifacts.stderr
    shipped = json.loads(artifacts.stdout)
    assert Path(shipped["dir"]).is_relative_to(venv), shipped["dir"]
    assert shipped["names"] == sorted(name.value for name in ContractName)
    assert shipped["abi"] == load_artifact(ContractName.EXOCORE_GATEWAY).abi_list()
    assert shipped["bytecode"] > 0
    assert {entry["name"] for entry in shipped["abi"] if entry["type"] == "function"} >= {
        "payout",
        "claim",
        "submitDistribution",
    }
