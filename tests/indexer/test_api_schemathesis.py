"""Schemathesis over the OpenAPI spec, in process (ASGI): no server errors, answers match the spec.

Every operation gets a bounded number of generated requests against a populated database, both
valid (positive) and invalid (negative) parameters, so the whole file stays well under 30 s.

(schemathesis' own ``from_fixture`` lazy mode reads ``Function._nodeid``, which pytest 9 removed;
the operations are therefore parametrized here and driven through ``as_strategy``.)
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from sqlalchemy import Engine

from indexer.api import ReadinessPolicy, create_app
from tests.support.api_data import populate
from tests.support.database import empty_all_tables
from tests.support.indexer_factory import T0

EXAMPLES_PER_OPERATION = 25
"""Per operation and mode: enough to reach every parameter with valid, boundary and malformed
values; 15 operations x 2 modes x 25 requests take ~11 s."""

_SPEC = create_app("sqlite://").openapi()
OPERATIONS = sorted((path, method.upper()) for path, item in _SPEC["paths"].items() for method in item)


@pytest.fixture(scope="module")
def api_schema(migrated_engine: Engine) -> Any:
    empty_all_tables(migrated_engine)
    populate(migrated_engine)
    app = create_app(
        migrated_engine, clock=lambda: T0 + timedelta(days=1), readiness=ReadinessPolicy(max_age_s=10**9)
    )
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_every_operation_is_exercised() -> None:
    # 14 + /v1/collections, /v1/collections/{digest}, /v1/stakers/{staker}/cumulative, /v1/withdrawals,
    # /v1/stakers/{staker}/cumulative/claim, /v1/avs/{avs}/funding, /v1/reward-sources,
    # /v1/stakers/{staker}/claims, /v1/valsets, /v1/valsets/{valset_nonce}
    assert len(OPERATIONS) == 24


CASES = [
    (path, method, mode)
    for path, method in OPERATIONS
    for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
    # Without parameters there is no invalid request to generate.
    if mode is schemathesis.GenerationMode.POSITIVE or _SPEC["paths"][path][method.lower()].get("parameters")
]


@pytest.mark.parametrize(("path", "method", "mode"), CASES)
def test_api_conforms_to_its_openapi_spec(api_schema: Any, path: str, method: str, mode: Any) -> None:
    operation = api_schema[path][method]
    statuses: list[int] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case: Any) -> None:
        if mode is schemathesis.GenerationMode.POSITIVE and case.query:
            # A cursor is opaque: a string matching its pattern is valid input, yet not a cursor
            # this API issued (400 bad_cursor, tested in test_api.py).
            case.query.pop("cursor", None)
        response = case.call_and_validate()
        statuses.append(response.status_code)
        assert response.status_code < 500, response.text

    run()
    assert statuses and max(statuses) < 500
