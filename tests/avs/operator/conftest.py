"""Fixtures of the operator tests: a protection database URL per backend, a served devnet chain."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.operator_db import BACKENDS, protection_url
from tests.support.operator_world import Served, served_world


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with protection_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A devnet chain served over gRPC (one per test module)."""
    with served_world(tmp_path_factory.mktemp("keys")) as world:
        yield world
