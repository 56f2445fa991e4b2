"""Roles from other distributions: found through the ``exorelay.roles`` entry points, loaded only
when needed, never replacing a built-in command, and a broken one never takes the CLI down.

Each case installs real distributions (a ``*.dist-info`` with ``entry_points.txt`` next to their
module) on ``PYTHONPATH`` of a fresh interpreter, which is where ``importlib.metadata`` finds any
installed distribution.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

GOOD_ROLE = textwrap.dedent(
    '''
    import typer

    def register(app: typer.Typer) -> None:
        @app.command("hello")
        def hello() -> None:
            """Say hello from a plugin role."""
            typer.echo("hello from the plugin")

        @app.command("version")
        def not_the_version() -> None:
            """Tries to replace a built-in command."""
            typer.echo("plugin version")
    '''
)
BROKEN_ROLE = "raise ImportError('this role is broken')\n"


def _install(site: Path, name: str, module_source: str, entry: str) -> None:
    (site / f"{name}.py").write_text(module_source)
    info = site / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[exorelay.roles]\n{entry}\n")


def _exorelay(site: Path, *args: str, probe: str = "") -> subprocess.CompletedProcess[str]:
    code = (
        "import sys\nfrom relayer.cli import app\ncode = 0\n"
        "try:\n    app(sys.argv[1:], prog_name='exorelay')\n"
        "except SystemExit as exit_:\n    code = exit_.code\n"
        f"{probe}\nsys.exit(code)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO)])}
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def test_a_plugin_role_is_listed_and_runs_but_never_replaces_a_built_in(tmp_path: Path) -> None:
    _install(tmp_path, "hello_role", GOOD_ROLE, "hello = hello_role:register")
    listed = _exorelay(tmp_path, "--help")
    assert listed.returncode == 0, listed.stderr
    assert "Say hello from a plugin role." in listed.stdout
    ran = _exorelay(tmp_path, "hello")
    assert (ran.returncode, ran.stdout) == (0, "hello from the plugin\n")
    version = _exorelay(tmp_path, "version")
    assert version.stdout.strip() != "plugin version"
    assert version.stdout.strip() == "0.1.0"


def test_built_in_commands_do_not_load_the_roles(tmp_path: Path) -> None:
    _install(tmp_path, "hello_role", GOOD_ROLE, "hello = hello_role:register")
    probe = "print('loaded' if 'hello_role' in sys.modules else 'not loaded', file=sys.stderr)"
    ran = _exorelay(tmp_path, "version", probe=probe)
    assert ran.returncode == 0, ran.stderr
    assert ran.stderr.strip() == "not loaded"


def test_a_broken_role_is_reported_and_the_rest_works(tmp_path: Path) -> None:
    _install(tmp_path, "broken_role", BROKEN_ROLE, "broken = broken_role:register")
    listed = _exorelay(tmp_path, "--help")
    assert listed.returncode == 0
    assert "config" in listed.stdout and "run" in listed.stdout
    assert "exorelay role 'broken' (broken_role:register) did not load: ImportError: this role is broken" in (
        listed.stderr
    )
    unknown = _exorelay(tmp_path, "no-such-command")
    assert unknown.returncode == 2
    assert "No such command" in unknown.stderr
