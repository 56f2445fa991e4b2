"""Fixtures of the operator tests: a protection database URL per backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.operator_db import BACKENDS, protection_url


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with protection_url(request.param, tmp_path) as url:
        yield url
