"""The explorer's pages over HTTP (no browser): what each page lists, errors as pages, the API untouched.

Data: the query API tests' database (claims paid, paying, only attested and rejected; an L1-only slash;
committees of two AVSs), so unfinished objects are covered too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from indexer.api import ReadinessPolicy, create_app
from indexer.api.pagination import Order, encode_cursor
from relayer.protocol.units import format_power
from storage import migrate
from tests.support.api_data import NOW, A, B, C, D, populate
from tests.support.database import empty_all_tables, fresh_database
from tests.support.indexer_factory import AVS, AVS2, h

API_PATHS = {"/health", "/ready", "/metrics"}


@pytest.fixture(scope="module")
def pages_engine(migrated_engine: Engine) -> Engine:
    empty_all_tables(migrated_engine)
    populate(migrated_engine)
    return migrated_engine


@pytest.fixture(scope="module")
def client(pages_engine: Engine) -> Iterator[TestClient]:
    app = create_app(pages_engine, clock=lambda: NOW, readiness=ReadinessPolicy(max_age_s=10**9))
    with TestClient(app) as test_client:
        yield test_client


def html(client: TestClient, path: str, expect: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == expect, response.text[:2000]
    assert response.headers["content-type"].startswith("text/html")
    return str(response.text)


def test_the_api_and_its_spec_are_unchanged(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert all(p.startswith("/v1/") or p in API_PATHS for p in spec["paths"]), sorted(spec["paths"])
    assert client.get("/v1/claims").headers["content-type"] == "application/json"
    assert client.get("/health").json() == {"status": "ok"}
    missing = client.get("/no-such-page")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_the_claims_page_lists_what_the_api_lists(client: TestClient) -> None:
    page = html(client, "/")
    listed = client.get("/v1/claims").json()["items"]
    assert re.findall(r'data-claim-id="([^"]+)"', page) == [c["claim_id"] for c in listed]
    stats = client.get("/v1/stats").json()
    for kind, count in stats["backlog"].items():
        assert f'value="{count}" data-backlog="{kind}"' in page
    assert 'data-poll-ms="5000"' in page
    only = html(client, f"/?avs={AVS2}&state=rejected")
    assert re.findall(r'data-claim-id="([^"]+)"', only) == [D.claim_id]
    assert "selected>rejected</option>" in only


def test_an_unfinished_claim_is_timed_until_now(client: TestClient) -> None:
    detail = client.get(f"/v1/claims/{B.claim_id}").json()
    assert detail["status"] == "paying"
    page = html(client, f"/claims/{B.claim_id}")
    assert "so far" in page
    assert 'data-stage="paying"' in page
    assert page.count('class="step ') == len(detail["timeline"])
    assert f'data-figure="signed-power">{format_power(int(detail["signed_power"]))}' in page
    # An attested claim whose root never reached L1 has no "Root on L1" block yet.
    assert "not yet" in html(client, f"/claims/{C.claim_id}")


def test_a_rejected_claim_shows_its_reason(client: TestClient) -> None:
    page = html(client, f"/claims/{D.claim_id}")
    assert "insufficient quorum" in page and "50/100 is not above 2/3" in page


def test_leaves_filter_by_payout_state_and_page_with_the_api_cursors(client: TestClient) -> None:
    page = html(client, f"/distributions/{B.distribution_id}?status=included")
    leaves = client.get(f"/v1/distributions/{B.distribution_id}/leaves", params={"status": "included"}).json()
    assert re.findall(r'data-leaf-index="(\d+)"', page) == [str(x["leaf_index"]) for x in leaves["items"]]
    first = html(client, f"/distributions/{A.distribution_id}?limit=3")
    assert re.findall(r'data-leaf-index="(\d+)"', first) == ["0", "1", "2"]
    following = re.search(r'href="([^"]+)" rel="next"', first)
    assert following is not None
    second = html(client, following.group(1).replace("&amp;", "&"))
    assert re.findall(r'data-leaf-index="(\d+)"', second) == ["3"]
    assert "First page" in second and 'rel="next"' not in second


def test_committees_and_slashes(client: TestClient) -> None:
    page = html(client, f"/committees?avs={AVS}")
    committees = client.get(f"/v1/committees/{AVS}").json()["items"]
    assert re.findall(r'data-epoch="(\d+)"', page) == [str(c["epoch"]) for c in committees] == ["8", "7"]
    assert re.findall(r'data-figure="share">([0-9.]+)<', page)[:4] == ["10.00", "20.00", "30.00", "40.00"]
    slashes = html(client, "/slashes")
    listed = client.get("/v1/slashes").json()["items"]
    assert re.findall(r'data-slash-id="([^"]+)"', slashes) == [s["slash_id"] for s in listed]
    for s in listed:
        assert html(client, f"/slashes/{s['slash_id']}").count('class="step ') == len(
            client.get(f"/v1/slashes/{s['slash_id']}").json()["timeline"]
        )


def test_bad_input_is_a_page_with_the_problem_next_to_its_field(client: TestClient) -> None:
    page = html(client, "/?avs=0x12&epoch=x&state=nope", expect=400)
    assert 'role="alert"' in page
    for field in ("avs", "epoch", "state"):
        assert f'aria-describedby="{field}-error"' in page
    assert "data-claim-id" not in page
    hostile = html(client, "/stakers?staker=<script>alert(1)</script>", expect=400)
    assert "<script>alert(1)" not in hostile and "&lt;script&gt;alert(1)" in hostile
    assert html(client, "/?cursor=%25%25", expect=400).count('role="alert"') == 1
    # A cursor of the other order: the API's own check, shown as a page.
    wrong = encode_cursor(5, Order.ASC)
    assert "no longer valid" in html(client, f"/?cursor={wrong}", expect=400)


def test_unknown_objects_are_404_pages(client: TestClient) -> None:
    for path in (
        f"/claims/{h('nope')}",
        f"/distributions/{h('nope')}",
        f"/slashes/{h('nope')}",
        "/claims/0x12",
    ):
        assert "There is no" in html(client, path, expect=404)


def test_assets_are_served_with_a_content_version(client: TestClient) -> None:
    page = html(client, "/")
    urls = re.findall(r'(?:href|src)="(/static/[^"]+)"', page)
    assert sorted(u.split("?")[0] for u in urls) == ["/static/explorer.css", "/static/explorer.js"]
    assert all(re.search(r"\?v=[0-9a-f]{12}$", u) for u in urls)
    css = client.get(urls[0])
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_an_empty_database_renders_every_page(tmp_path: Path) -> None:
    with fresh_database(tmp_path) as engine:
        migrate.upgrade(engine)
        empty = TestClient(create_app(engine))
        assert "No claims" in html(empty, "/")
        assert "No slashes" in html(empty, "/slashes")
        assert "No AVS is known yet" in html(empty, "/committees")
        assert "No payout to this staker" in html(empty, "/stakers?staker=0x" + "ab" * 20)


def test_a_database_outage_is_a_503_page(tmp_path: Path) -> None:
    gone = tmp_path / "no-such-dir" / "x.sqlite"
    with TestClient(create_app(f"sqlite:///{gone}")) as down:
        assert "not answering" in html(down, "/", expect=503)


def test_pages_speak_in_tokens_names_and_usd_with_the_exact_values_kept(client: TestClient) -> None:
    claim = client.get(f"/v1/claims/{A.claim_id}").json()
    page = html(client, "/")
    row = page[page.index(f'data-claim-id="{A.claim_id}"') :]
    row = row[: row.index("</tr>")]
    # The amount in tokens on screen, the exact base units in the value and on hover.
    exact = claim["total_amount"]
    assert (
        f'<data class="num" value="{exact}" title="{int(exact):,} base units">'
        f"{claim['total_amount_display']}</data>"
    ) in row
    assert claim["total_amount_display"].endswith(" EXOR")
    # The AVS by name, its address on hover and in the link; the token by symbol, address on hover.
    assert f'href="/committees?avs={AVS}" title="{AVS}" data-address="{AVS}">test-avs</a>' in row
    assert f'title="{claim["token"]}" data-address="{claim["token"]}">EXOR</abbr>' in row
    assert f">{format_power(int(claim['signed_power']))}</data>" in row
    assert f"{claim['signed_share']} (needs &gt; 66.7 %)" in row
    dist = client.get(f"/v1/distributions/{A.distribution_id}").json()
    page = html(client, f"/distributions/{A.distribution_id}")
    assert dist["total_display"] in page and dist["paid_amount_display"] in page
    assert dist["community_pool"] == str(int(dist["claimed"]) - int(dist["total"]))
    assert "Kept by Exocore's community pool" in page and dist["community_pool_display"] in page
