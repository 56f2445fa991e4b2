"""The `node` binary for tests that cross-check us against a JavaScript library from node_modules:
`node_binary(package, what)`. Without node or the package a developer's run skips loudly; CI (`CI`
set) fails instead, so a cross-check can never silently drop out of the suite.
"""

from __future__ import annotations

import os
import shutil
from functools import cache
from pathlib import Path
from typing import Final

import pytest

REPO_ROOT: Final = Path(__file__).resolve().parents[2]


@cache
def node_binary(package: str, what: str) -> str:
    """Path of `node`, once `node_modules/<package>` is installed; `what` names the check for messages."""
    node = shutil.which("node")
    reason = None
    if node is None:
        reason = "`node` is not on PATH"
    elif not (REPO_ROOT / "node_modules" / package).is_dir():
        reason = f"node_modules/{package} is missing (run `npm ci`)"
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{what} cannot run in CI: {reason}")
        pytest.skip(f"!!! SKIPPING {what}: {reason} !!!")
    assert node is not None
    return node
