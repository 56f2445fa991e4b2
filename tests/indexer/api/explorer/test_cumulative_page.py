"""The explorer's staker page shows a staker's cumulative rewards: per token earned, accrued on L1,
paid and claimable (the figures of GET /v1/stakers/{staker}/cumulative, with the token's symbol),
and which period each figure comes from."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from indexer.api import ReadinessPolicy, create_app
from indexer.ingest.exocore import ExocoreIngestor
from relayer.protocol.units import TokenUnit, format_amount
from storage.store import LifecycleStore
from tests.support.cumulative_data import (
    EARNER,
    TOKEN_T,
    TOKEN_U,
    accepted,
    l1,
    leaves,
    name_token_t,
    paid,
    root_packet,
)
from tests.support.indexer_factory import Chain, staker


def test_the_staker_page_shows_cumulative_figures_per_token(store: LifecycleStore) -> None:
    chain = Chain()
    ingestor = ExocoreIngestor(store)
    for period in (1, 2):
        ingestor.apply_block(chain.block(root_packet(period), leaves(period)))
    l1(store, accepted(1, 10))
    l1(store, paid(EARNER, TOKEN_T, 100, 100, 1, 11))
    name_token_t(store.engine, "EXOR", 2)
    with TestClient(create_app(store.engine, readiness=ReadinessPolicy(max_age_s=10**9))) as client:
        api = client.get(f"/v1/stakers/{EARNER}/cumulative").json()
        response = client.get(f"/stakers?staker={EARNER}")
        assert response.status_code == 200
        page = response.text
        stranger = client.get(f"/stakers?staker={staker(3)}").text
    rows = dict(re.findall(r'<tr data-cumulative-token="([^"]+)">(.*?)</tr>', page, re.S))
    assert set(rows) == {TOKEN_T, TOKEN_U}
    for token in api["tokens"]:
        row = rows[token["token"]]
        for figure in ("earned", "accrued", "paid", "pending", "claimable"):
            assert f'data-figure="{figure}"><data class="num" value="{token[figure]}"' in row
            assert token[f"{figure}_display"] in row
    # Token T has a stored unit: its symbol and amounts in it; token U still shows base units.
    exor = TokenUnit(symbol="EXOR", decimals=2)
    assert ">EXOR</abbr>" in rows[TOKEN_T]
    assert format_amount(180, exor) in rows[TOKEN_T] and format_amount(7, None) in rows[TOKEN_U]
    assert 'data-figure="latest-period">2<' in page and 'data-figure="delivered-period">1<' in page
    assert f'href="/v1/stakers/{EARNER}/cumulative/claim"' in page
    assert "No cumulative reward is known for this staker." in stranger
