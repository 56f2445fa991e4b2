"""The explorer's claim page of a claim split over two client chains lists each chain's
distribution with its own stage next to the claim's (the least advanced of theirs)."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from indexer.api import ReadinessPolicy, create_app
from tests.support.indexer_factory import T0
from tests.support.split_claim import SHARE_A, SHARE_B, SPLIT_CLAIM_ID, populate_split_claim
from tests.support.two_chains import CHAIN_A, CHAIN_B


def test_the_claim_page_lists_each_chains_distribution_and_its_stage(engine: Engine) -> None:
    store = populate_split_claim(engine)
    at = T0 + timedelta(hours=3)
    with store.begin() as tx:
        tx.apply_l1_logs([SHARE_A.root_log(10)], chain_id=CHAIN_A)
        tx.apply_l1_logs(SHARE_A.paid_logs(12, [0, 1, 2], "pay-split-a"), chain_id=CHAIN_A)
        tx.finalize_l1(12, at, chain_id=CHAIN_A)
        tx.apply_l1_logs([SHARE_B.root_log(500)], chain_id=CHAIN_B)
    app = create_app(engine, clock=lambda: T0 + timedelta(days=1), readiness=ReadinessPolicy(max_age_s=10**9))
    with TestClient(app) as client:
        page = client.get(f"/claims/{SPLIT_CLAIM_ID}")
    assert page.status_code == 200, page.text[:2000]
    table = page.text[page.text.index('data-figure="claim-distributions"') :]
    body = table[table.index("<tbody>") : table.index("</tbody>")]
    rows = re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)
    cells = [
        (
            re.search(r'data-figure="chain">(\d+)<', row).group(1),  # type: ignore[union-attr]
            re.search(r'class="badge badge-(\w+)"', row).group(1),  # type: ignore[union-attr]
        )
        for row in rows
    ]
    assert cells == [(str(CHAIN_A), "paid"), (str(CHAIN_B), "relayed")]
    # The claim itself is where its least advanced distribution is.
    assert re.search(r'class="status-line"><span class="badge badge-relayed"', page.text)
