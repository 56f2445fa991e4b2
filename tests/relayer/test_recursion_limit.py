"""Regression: hostile deeply nested JSON must raise, never kill the process.

py_ecc (imported by web3, eth-account and our reference BLS backend) raises the interpreter's
recursion limit to 100,000 at import. At that depth the C JSON decoder overflows the C stack on
input like ``[[[[...]]]]`` and the process dies with SIGSEGV; CI caught this in the Exocore RPC
client's garbage-JSON test. Importing exorelay must restore a bounded limit.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

HOSTILE = textwrap.dedent(
    """
    import json, sys
    {imports}
    try:
        json.loads("[" * 200_000 + "]" * 200_000)
    except RecursionError:
        print("raised", sys.getrecursionlimit())
    """
)


@pytest.mark.parametrize(
    "imports",
    [
        "import relayer",
        "import web3; import relayer",  # py_ecc already imported before exorelay
        "import relayer; import web3; import py_ecc.bls",  # and imported (again) after
        "import relayer; import py_ecc",  # relayer no longer imports py_ecc itself: its hook bounds it
        "import relayer.cli; import eth_account",
        "import storage.sqltypes",
        "import devnet",
    ],
)
def test_deeply_nested_json_raises_instead_of_crashing(imports: str) -> None:
    run = subprocess.run(
        [sys.executable, "-c", HOSTILE.format(imports=imports)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, f"exit {run.returncode} (negative = killed by a signal): {run.stderr[-500:]}"
    assert run.stdout.startswith("raised")
