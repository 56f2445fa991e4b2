"""The explorer's validator-sets page: each set with its installation on every client chain, and the
client-chain filter (the sets that chain installed)."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from indexer.api import ReadinessPolicy, create_app
from storage.store import LifecycleStore
from tests.support.indexer_factory import T0, StepClock
from tests.support.split_claim import VALSET_NONCE, valset_updated
from tests.support.two_chains import CHAIN_A, CHAIN_B


def test_the_valsets_page_shows_each_chains_installation(engine: Engine) -> None:
    store = LifecycleStore(engine, clock=StepClock(T0))
    with store.begin() as tx:
        tx.apply_l1_logs([valset_updated(10, "a")], chain_id=CHAIN_A)
        tx.apply_l1_logs([valset_updated(500, "b")], chain_id=CHAIN_B)
    app = create_app(engine, clock=lambda: T0 + timedelta(days=1), readiness=ReadinessPolicy(max_age_s=10**9))
    with TestClient(app) as client:
        page = client.get("/valsets")
        on_b = client.get("/valsets", params={"chain_id": CHAIN_B})
        elsewhere = client.get("/valsets", params={"chain_id": 1})
    assert page.status_code == on_b.status_code == elsewhere.status_code == 200
    row = page.text[page.text.index(f'id="valset-{VALSET_NONCE}"') :]
    row = row[: row.index("</tr>")]
    assert re.findall(r'data-chain-id="(\d+)"', row) == [str(CHAIN_A), str(CHAIN_B)]
    assert re.findall(r'<data value="(\d+)">', row) == ["10", "500"]
    assert f'id="valset-{VALSET_NONCE}"' in on_b.text
    assert "No validator sets installed on that chain" in elsewhere.text
