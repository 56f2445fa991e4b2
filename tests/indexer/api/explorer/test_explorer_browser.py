"""The explorer in headless Chromium over a relayed devnet scenario, against the running API.

Data: the real Exocore devnet and anvil, the standard scenario (two AVSs, a claim each, a slash with
freeze) plus a claim without quorum, relayed by the real relayer until both claims are ``paid`` and
the slash ``finalized`` (:mod:`tests.indexer.api.explorer.lifecycle_data`). The API (``create_app``, as
``exorelay api`` builds it) is served by uvicorn on a free port; every figure a page renders is
compared with the JSON the API returns for the same object. Each page visited is audited
(:mod:`tests.indexer.api.explorer.audit`) and saved as a screenshot under ``test-artifacts/explorer``.

The last test writes to the database (live counters); the others read only.
"""

from __future__ import annotations

import base64
import itertools
import math
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait
from sqlalchemy import Engine

from indexer.api import create_app
from indexer.api.explorer.routes import CLAIM_STATES, PAYOUT_STATES
from indexer.api.explorer.views import CHAIN_NAMES, FIGURE_WIDTH
from relayer.protocol.units import format_power
from storage.lifecycle import Chain
from storage.records import ChainRef
from storage.store import LifecycleStore, utc_now
from tests.indexer.api.explorer.audit import audit
from tests.indexer.api.explorer.lifecycle_data import Lifecycle, lifecycle_database
from tests.indexer.api.explorer.served_app import ServedApp
from tests.support.indexer_factory import ClaimPlan, h

SNAPSHOT_JS: Final = (Path(__file__).parent / "snapshot.js").read_text()

POLL_INTERVAL_S: Final = 0.5
"""The counters' refresh period in these tests (5 s in production): the live test waits for two."""
WAIT_S: Final = 30.0
"""Longest wait for the page to react (navigation, a refresh): everything here takes well under 1 s."""
NARROW_WIDTH_PX: Final = 360
LEAF_PAGE_SIZE: Final = 4
"""Small enough that an 11-leaf distribution spans three pages."""
RECORD_FOCUS_JS: Final = """
window.__stops = [];
document.addEventListener("focusin", (e) => {
  const el = e.target, s = getComputedStyle(el), r = el.getBoundingClientRect();
  window.__stops.push({
    id: el.id, tag: el.tagName.toLowerCase(), text: el.textContent.trim().slice(0, 24),
    outline: s.outlineStyle + " " + s.outlineWidth, visible: r.width > 0 && r.height > 0,
  });
});
"""
"""Records every element that takes focus, with its focus ring as it is at that moment."""
TAB_STOPS_CHECKED: Final = 40
"""More Tab presses than the claims page has stops: the walk must reach its end."""
"""Enough Tab presses to pass the header, the counters, the filter form and every claim link."""


@dataclass
class Site:
    url: str
    http: httpx.Client
    data: Lifecycle
    engine: Engine
    served: ServedApp

    def api(self, path: str, **params: Any) -> Any:
        response = self.http.get(path, params={k: v for k, v in params.items() if v is not None})
        assert response.status_code == 200, response.text
        return response.json()


class Browser:
    """The driver, plus: open a path (and audit it), find, wait, full-page screenshots."""

    def __init__(self, driver: webdriver.Chrome, site: Site, artifacts: Path) -> None:
        self.driver = driver
        self.site = site
        self.artifacts = artifacts

    def open(self, path: str) -> None:
        self.driver.get(self.site.url + path)
        self.check()

    def check(self) -> None:
        assert audit(self.driver) == [], self.driver.current_url

    def find(self, css: str, within: WebElement | None = None) -> WebElement:
        return (within or self.driver).find_element(By.CSS_SELECTOR, css)

    def finds(self, css: str, within: WebElement | None = None) -> list[WebElement]:
        return list((within or self.driver).find_elements(By.CSS_SELECTOR, css))

    def snapshot(self, css: str, within: WebElement | None = None) -> list[Snap]:
        """Every element matching ``css``, read in one round trip (Selenium calls per cell are slow)."""
        found: Any = self.driver.execute_script(SNAPSHOT_JS, css, within)
        return [Snap(**item) for item in found]

    def one(self, css: str) -> Snap:
        found = self.snapshot(css)
        assert len(found) == 1, (css, len(found))
        return found[0]

    def figures(self) -> dict[str, str]:
        """The page's ``[data-figure]`` values (for figures the page shows once)."""
        return self.one("main").figures

    def wait_for_url(self, pattern: str) -> None:
        WebDriverWait(self.driver, WAIT_S).until(lambda d: re.search(pattern, d.current_url) is not None)
        WebDriverWait(self.driver, WAIT_S).until(
            lambda d: d.execute_script("return document.readyState") == "complete"
        )
        self.check()

    def submit(self, form_css: str = "form.filters") -> None:
        """Submit a filter form with the keyboard (Enter on its submit button)."""
        old = self.driver.current_url
        self.find(f"{form_css} button[type=submit]").send_keys(Keys.ENTER)
        WebDriverWait(self.driver, WAIT_S).until(lambda d: d.current_url != old)
        self.check()

    def shot(self, name: str) -> Path:
        """A screenshot of the whole page, not just the window (Chromium's DevTools protocol)."""
        size = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        shot = self.driver.execute_cdp_cmd(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
        )
        path = self.artifacts / f"{name}.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


@dataclass(frozen=True)
class Snap:
    """An element as :data:`SNAPSHOT_JS` reads it."""

    attrs: dict[str, str]
    data: list[str]
    """The exact figures of its ``<data value>`` elements, in document order."""
    codes: list[str]
    """The full text of its hashes and addresses (shortened on screen, complete in the DOM)."""
    badges: list[str]
    figures: dict[str, str]
    text: str

    def attr(self, name: str) -> str:
        return self.attrs[name]


def value(element: WebElement) -> str:
    """The exact figure of a ``<data value=…>``."""
    raw = element.get_attribute("value")
    assert raw is not None, element.get_attribute("outerHTML")
    return raw


def text_of(element: WebElement) -> str:
    return (element.get_attribute("textContent") or "").strip()


def status_text(status: str) -> str:
    return status.replace("_", " ")


def share_percent(part: int, whole: int) -> str:
    """The explorer's rounding (half up, two decimals), computed independently."""
    bp = (2 * part * 10_000 + whole) // (2 * whole)
    return f"{bp // 100}.{bp % 100:02d}"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# ---------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def lifecycle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, Lifecycle]]:
    with lifecycle_database(tmp_path_factory.mktemp("explorer")) as pair:
        yield pair


@pytest.fixture(scope="module")
def site(lifecycle: tuple[Engine, Lifecycle]) -> Iterator[Site]:
    engine, data = lifecycle
    app = create_app(engine)
    app.state.explorer_poll_interval_s = POLL_INTERVAL_S
    with ServedApp(app) as served, httpx.Client(base_url=served.url, timeout=WAIT_S) as http:
        yield Site(served.url, http, data, engine, served)


@pytest.fixture
def page(browser: webdriver.Chrome, site: Site, artifacts: Path) -> Iterator[Browser]:
    browser.set_window_size(1280, 900)
    yield Browser(browser, site, artifacts)


# ---------------------------------------------------------------------------------------- claims


def rendered_claims(page: Browser) -> list[tuple[str, ...]]:
    """Per row: id, state, then the figures epoch, amount, signed power, total power."""
    return [
        (row.attr("data-claim-id"), row.badges[0], *row.data[:4])
        for row in page.snapshot("table.claims tbody tr[data-claim-id]")
    ]


def api_claims(site: Site, **params: Any) -> list[tuple[str, ...]]:
    return [
        (
            c["claim_id"],
            status_text(c["status"]),
            str(c["epoch"]),
            c["total_amount"],
            c["signed_power"],
            c["total_power"],
        )
        for c in site.api("/v1/claims", **params)["items"]
    ]


def test_claims_list_and_its_filters_show_what_the_api_returns(page: Browser, site: Site) -> None:
    page.open("/")
    everything = api_claims(site)
    assert len(everything) == 3
    assert rendered_claims(page) == everything
    page.shot("claims")

    Select(page.find("#state")).select_by_value("rejected")
    page.submit()
    assert "state=rejected" in page.driver.current_url
    assert rendered_claims(page) == api_claims(site, status="rejected")
    assert [c[0] for c in rendered_claims(page)] == [site.data.rejected_claim]
    assert Select(page.find("#state")).first_selected_option.get_attribute("value") == "rejected"

    Select(page.find("#state")).select_by_value("")
    Select(page.find("#avs")).select_by_value(site.data.avss[1])
    page.submit()
    assert rendered_claims(page) == api_claims(site, avs=site.data.avss[1])
    assert len(rendered_claims(page)) == 1

    epoch = page.find("#epoch")
    epoch.clear()
    epoch.send_keys("999")
    page.submit()
    assert rendered_claims(page) == [] == api_claims(site, avs=site.data.avss[1], epoch=999)
    assert "match these filters" in page.one("table.claims tbody").text
    page.shot("claims-filtered-empty")

    page.find("form.filters a[href='/']").click()  # "Clear filters"
    page.wait_for_url(r"/$")
    assert rendered_claims(page) == everything


def test_a_bad_filter_is_explained_next_to_its_field(page: Browser) -> None:
    page.open("/?epoch=-3&avs=0x12")
    summary = page.one(".error-summary")
    assert summary.attr("role") == "alert"
    assert page.one("#avs").attr("aria-invalid") == "true"
    assert page.one("#epoch").attr("aria-describedby") == "epoch-error"
    assert "whole number" in page.one("#epoch-error").text
    assert page.snapshot("table.claims tbody tr[data-claim-id]") == []
    page.shot("claims-bad-filter")


def test_a_claim_page_draws_the_api_timeline_and_quorum(page: Browser, site: Site) -> None:
    claim_id = site.data.paid_claims[0]
    page.open("/")
    page.find(f"tr[data-claim-id='{claim_id}'] a").click()  # open the claim from the list
    page.wait_for_url(f"/claims/{claim_id}$")
    detail = site.api(f"/v1/claims/{claim_id}")
    assert detail["status"] == "paid"

    figures = page.figures()
    assert figures["claim-id"] == claim_id
    assert figures["total-amount"] == detail["total_amount"]
    assert figures["epoch"] == str(detail["epoch"])
    assert figures["leaf-count"] == str(detail["distribution"]["leaf_count"])

    # Every step of the API's timeline, in its order, with chain, height/block and transaction.
    timeline = detail["timeline"]
    steps = page.snapshot("ol.timeline > li")
    assert [int(s.attr("data-transition-id")) for s in steps] == [t["id"] for t in timeline]
    assert {"claim", "packet", "l1_tx"} <= {t["entity_kind"] for t in timeline}
    chains = [s.text for s in page.snapshot("ol.timeline > li .where .chain")]
    moves = [s.text for s in page.snapshot("ol.timeline > li .move")]
    times = [s.attr("datetime") for s in page.snapshot("ol.timeline > li time")]
    for i, (step, t) in enumerate(zip(steps, timeline, strict=True)):
        where = t["where"]
        assert chains[i] == CHAIN_NAMES[where["chain"]]
        assert ("subject" in step.attr("class").split()) == (t["entity_kind"] == "claim")
        assert moves[i].endswith(str(t["to_state"]))
        assert step.data == ([] if where["height"] is None else [str(where["height"])])
        expected = [x for x in (where["block_hash"], where["tx_hash"]) if x]
        if t["entity_kind"] == "l1_tx":
            expected.append(t["entity_id"])
        assert step.codes == expected
        assert times[i] == at(t["at"]).isoformat()

    # The stages of the claim and the time spent in each (from the API's timestamps).
    claim_steps = [t for t in timeline if t["entity_kind"] == "claim"]
    stage_rows = page.snapshot("table.stage-table tbody tr")
    assert [r.attr("data-stage") for r in stage_rows] == [t["to_state"] for t in claim_steps]
    assert claim_steps[0]["to_state"] == "submitted" and claim_steps[-1]["to_state"] == "paid"
    # The API orders by whole second, then recorded order (clocks of two chains agree to ~1 s): a
    # step stamped a fraction of a second before its predecessor happened, for the page, with it.
    clock: list[datetime] = list(itertools.accumulate((at(t["at"]) for t in timeline), max))
    entered = [clock[i] for i, t in enumerate(timeline) if t["entity_kind"] == "claim"]
    for row, (this, following) in zip(stage_rows, itertools.pairwise(entered), strict=False):
        assert float(row.data[0]) == pytest.approx((following - this).total_seconds(), abs=1e-6)
    assert stage_rows[-1].data == [] and stage_rows[-1].text.endswith("end")
    total_s = (entered[-1] - entered[0]).total_seconds()
    assert figures["total-duration"] == f"{total_s:.1f} s"
    rects = page.snapshot("svg.stage-bar rect")
    assert len(rects) == len(claim_steps)
    assert sum(float(r.attr("width")) for r in rects) == pytest.approx(FIGURE_WIDTH, abs=0.01)

    # Signers and their share of power against the threshold.
    total = int(detail["total_power"])
    members = page.snapshot("table.members tbody tr")
    assert [int(m.attr("data-member")) for m in members] == [s["member_index"] for s in detail["signers"]]
    for row, signer in zip(members, detail["signers"], strict=True):
        assert row.codes == [signer["operator"]]
        assert row.data[0] == signer["power"]
        assert row.figures["share"] == share_percent(int(signer["power"]), total)
    assert figures["signed-power"] == detail["signed_power"]
    assert figures["total-power"] == detail["total_power"]
    assert figures["threshold"] == detail["threshold"]
    assert figures["signed-percent"] == share_percent(int(detail["signed_power"]), total)
    assert figures["quorum"] == "quorum reached"
    numerator, denominator = (int(x) for x in detail["threshold"].split("/"))
    line = page.one("svg.power-bar line.threshold")
    assert float(line.attr("x1")) == pytest.approx(FIGURE_WIDTH * numerator / denominator, abs=0.01)
    segments = page.snapshot("svg.power-bar rect.power-seg")
    for rect, signer in zip(segments, detail["signers"], strict=True):
        width = float(rect.attr("width"))
        assert width == pytest.approx(FIGURE_WIDTH * int(signer["power"]) / total, abs=0.01)
    page.shot("claim-paid")


def test_a_claim_without_quorum_says_so(page: Browser, site: Site) -> None:
    claim_id = site.data.rejected_claim
    page.open(f"/claims/{claim_id}")
    detail = site.api(f"/v1/claims/{claim_id}")
    assert detail["status"] == "rejected"
    figures = page.figures()
    assert figures["quorum"] == "quorum not reached"
    assert figures["signed-percent"] == share_percent(int(detail["signed_power"]), int(detail["total_power"]))
    assert status_text(detail["reason_code"]) in page.one(".status-line").text
    assert [r.attr("data-stage") for r in page.snapshot("table.stage-table tbody tr")] == [
        t["to_state"] for t in detail["timeline"] if t["entity_kind"] == "claim"
    ]
    page.shot("claim-rejected")


# ---------------------------------------------------------------------------------------- distributions


def rendered_leaves(page: Browser) -> list[tuple[int, str, str, str]]:
    """Per row: leaf index, staker, amount, payout state."""
    return [
        (int(row.attr("data-leaf-index")), row.codes[0], row.data[0], row.badges[0])
        for row in page.snapshot("table.leaves tbody tr[data-leaf-index]")
    ]


def api_leaves(site: Site, distribution_id: str, **params: Any) -> list[tuple[int, str, str, str]]:
    items = site.api(f"/v1/distributions/{distribution_id}/leaves", limit=500, **params)["items"]
    return [(leaf["leaf_index"], leaf["staker"], leaf["amount"], leaf["payout_status"]) for leaf in items]


def test_a_distribution_lists_its_leaves_with_search_filter_and_pages(page: Browser, site: Site) -> None:
    claim_id = site.data.paid_claims[0]
    distribution_id = site.api(f"/v1/claims/{claim_id}")["distribution_id"]
    page.open(f"/claims/{claim_id}")
    page.driver.find_element(By.LINK_TEXT, "Leaves and payouts of this distribution").click()
    page.wait_for_url(f"/distributions/{distribution_id}$")
    detail = site.api(f"/v1/distributions/{distribution_id}")
    everything = api_leaves(site, distribution_id)
    assert len(everything) == detail["leaf_count"] > LEAF_PAGE_SIZE * 2
    assert rendered_leaves(page) == everything
    figures = page.figures()
    assert figures["paid-amount"] == detail["paid_amount"]
    assert figures["total"] == detail["total"]
    assert figures["paid-percent"] == share_percent(int(detail["paid_amount"]), int(detail["total"]))
    counts = {s.attr("data-count"): s.attr("value") for s in page.snapshot("[data-count]")}
    assert counts == {
        f"payout.{state}": str(detail["payouts_by_status"].get(state, 0)) for state in PAYOUT_STATES
    }
    page.shot("distribution")

    # Search by staker: type the address (any case) and press Enter.
    staker = everything[3][1]
    box = page.find("#staker")
    box.send_keys(staker.upper().replace("0X", "0x"))
    old = page.driver.current_url
    box.send_keys(Keys.ENTER)
    WebDriverWait(page.driver, WAIT_S).until(lambda d: d.current_url != old)
    page.check()
    assert rendered_leaves(page) == api_leaves(site, distribution_id, staker=staker)
    assert {leaf[1] for leaf in rendered_leaves(page)} == {staker}

    # Unpaid only: every leaf of this distribution is paid, so none; paid (final): all of them.
    page.find("#staker").clear()
    Select(page.find("#status")).select_by_value("pending")
    page.submit()
    assert rendered_leaves(page) == [] == api_leaves(site, distribution_id, status="pending")
    Select(page.find("#status")).select_by_value("finalized")
    page.submit()
    assert rendered_leaves(page) == api_leaves(site, distribution_id, status="finalized") == everything
    page.shot("distribution-finalized-filter")

    # Pages of LEAF_PAGE_SIZE, followed through "Next page" to the end, then back to the first.
    page.open(f"/distributions/{distribution_id}?limit={LEAF_PAGE_SIZE}")
    seen: list[tuple[int, str, str, str]] = []
    pages = 0
    while True:
        pages += 1
        rows = rendered_leaves(page)
        assert 0 < len(rows) <= LEAF_PAGE_SIZE
        seen.extend(rows)
        following = page.finds("nav.pager a[rel=next]")
        if not following:
            break
        following[0].click()
        page.wait_for_url(r"cursor=")
    assert seen == everything
    assert pages == math.ceil(len(everything) / LEAF_PAGE_SIZE)
    page.find("nav.pager a:not([rel])").click()  # "First page"
    page.wait_for_url(r"^(?!.*cursor=)")
    assert rendered_leaves(page) == everything[:LEAF_PAGE_SIZE]


# ---------------------------------------------------------------------------------------- stakers


def test_a_stakers_payouts_across_avss_and_tokens(page: Browser, site: Site) -> None:
    by_staker: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for p in site.api("/v1/payouts", limit=500)["items"]:
        by_staker[p["staker"]].append(p)
    staker, mine = max(
        by_staker.items(), key=lambda kv: (len({(p["avs"], p["token"]) for p in kv[1]}), kv[0])
    )
    assert len({(p["avs"], p["token"]) for p in mine}) == 2, "the scenario pays some stakers from both AVSs"

    page.open("/stakers")
    page.find("#staker").send_keys(staker)
    page.submit()
    assert f"staker={staker}" in page.driver.current_url
    assert page.figures()["staker"] == staker

    expected: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for p in mine:
        sums = expected[(p["avs"], p["token"])]
        sums[0] += 1
        sums[1] += int(p["amount"])
        sums[2] += int(p["amount"]) if p["status"] in ("included", "finalized") else 0
    rendered = {
        (row.attr("data-avs"), row.attr("data-token")): [int(v) for v in row.data]
        for row in page.snapshot("table.totals tbody tr[data-avs]")
    }
    assert rendered == expected

    listed = site.api("/v1/payouts", staker=staker)["items"]
    rows = page.snapshot("table.payouts tbody tr[data-payout-id]")
    assert [int(r.attr("data-payout-id")) for r in rows] == [p["id"] for p in listed]
    for row, p in zip(rows, listed, strict=True):
        assert row.data == [p["amount"], str(p["l1_tx"]["block_number"])]
        assert row.badges == [p["status"]]
        assert row.figures["chain"] == str(p["chain_id"])  # the client chain it landed on
        # The AVS by name and the token by symbol (addresses on hover), the amount in tokens.
        assert row.codes == [p["distribution_id"], p["l1_tx"]["tx_hash"]]
        assert p["avs_name"] in row.text and p["token_symbol"] in row.text
        assert p["amount_display"] in row.text
    page.shot("staker")


# ---------------------------------------------------------------------------------------- slashes


def test_slashes_show_evidence_signers_amounts_and_freeze(page: Browser, site: Site) -> None:
    page.open("/slashes")
    slashes = site.api("/v1/slashes")["items"]
    assert len(slashes) == 1
    rows = page.snapshot("table.slashes tbody tr[data-slash-id]")
    assert [r.attr("data-slash-id") for r in rows] == [s["slash_id"] for s in slashes]
    row, slash = rows[0], slashes[0]
    assert row.figures["evidence"] == status_text(slash["evidence_kind"])
    assert row.figures["freeze"] == ("yes" if slash["freeze"] else "no")
    assert row.figures["proportion"] == slash["slash_proportion"]
    assert row.figures["chain"] == str(slash["chain_id"])
    assert row.figures["signers"].startswith(str(len(slash["signers"])))
    assets = {a.attr("data-token"): a.data[0] for a in page.snapshot("table.slashes .assets li")}
    assert assets == {a["token"]: a["amount"] for a in slash["assets"]}
    assert row.badges == [slash["status"]] == ["finalized"]
    page.shot("slashes")

    page.find(f"tr[data-slash-id='{slash['slash_id']}'] td a").click()
    page.wait_for_url(f"/slashes/{slash['slash_id']}$")
    detail = site.api(f"/v1/slashes/{slash['slash_id']}")
    steps = page.snapshot("ol.timeline > li")
    assert [int(s.attr("data-transition-id")) for s in steps] == [t["id"] for t in detail["timeline"]]
    assert [r.attr("data-stage") for r in page.snapshot("table.stage-table tbody tr")] == [
        t["to_state"] for t in detail["timeline"] if t["entity_kind"] == "slash"
    ]
    figures = page.figures()
    assert figures["freeze"].startswith("yes")
    assert figures["evidence"] == status_text(detail["evidence_kind"])
    assert {a.attr("data-token"): a.data[0] for a in page.snapshot(".assets li")} == assets
    page.shot("slash")


# ---------------------------------------------------------------------------------------- committees


def test_committees_per_epoch_with_power_bars(page: Browser, site: Site) -> None:
    page.open("/committees")
    for avs in site.data.avss:
        Select(page.find("#avs")).select_by_value(avs)
        page.submit()
        committees = site.api(f"/v1/committees/{avs}")["items"]
        assert committees
        sections = page.snapshot("section.committee")
        assert [int(s.attr("data-epoch")) for s in sections] == [c["epoch"] for c in committees]
        for section, committee in zip(sections, committees, strict=True):
            total = int(committee["total_power"])
            assert section.figures["total-power"] == committee["total_power"]
            assert section.figures["threshold"] == committee["threshold"]
            css = f"section.committee[data-epoch='{committee['epoch']}'] table.members tbody tr"
            rows = page.snapshot(css)
            assert len(rows) == len(committee["members"])
            for row, member in zip(rows, committee["members"], strict=True):
                assert row.data[0] == member["power"]
                assert row.figures["share"] == share_percent(int(member["power"]), total)
            # The drawn bars are as long as the shares (the layout, measured in the browser).
            measured: Any = page.driver.execute_script(
                "return Array.from(document.querySelectorAll(arguments[0])).map(r => ["
                " r.querySelector('.bar').clientWidth,"
                " r.querySelector('.bar-fill').getBoundingClientRect().width]);",
                css,
            )
            for (outer, inner), member in zip(measured, committee["members"], strict=True):
                assert inner == pytest.approx(outer * int(member["power"]) / total, abs=1.0)
        page.shot(f"committees-{avs[:10]}")


# ------------------------------------------------------------------------ keyboard, small screens


def test_the_claims_page_works_from_the_keyboard(page: Browser, site: Site) -> None:
    page.open("/")
    page.find("body").send_keys(Keys.TAB)
    skip = page.driver.switch_to.active_element
    assert text_of(skip) == "Skip to content"
    assert skip.is_displayed(), "the skip link shows when focused"
    skip.send_keys(Keys.ENTER)
    assert page.driver.switch_to.active_element.get_attribute("id") == "main"

    # Tab through the whole page: every stop is visible with a focus ring, in the page's order.
    page.driver.execute_script(RECORD_FOCUS_JS)
    actions = ActionChains(page.driver)
    for _ in range(TAB_STOPS_CHECKED):
        actions.send_keys(Keys.TAB)
    actions.perform()
    stops: Any = page.driver.execute_script("return window.__stops;")
    texts = [s["text"] for s in stops]
    assert "the /v1 API" in texts, "Tab reaches the footer's link, the page's last stop"
    stops = stops[: texts.index("the /v1 API") + 1]  # once through the page (Tab then wraps around)
    for stop in stops:
        assert stop["visible"], stop
        assert not stop["outline"].startswith("none") and not stop["outline"].endswith(" 0px"), stop
    order = [s["id"] or f"{s['tag']}:{s['text']}" for s in stops]
    assert order.index("avs") < order.index("epoch") < order.index("state") < order.index("chain_id")
    claim_links = [o for o in order if o.startswith("a:0x")]
    assert len(claim_links) == len(site.data.paid_claims) + 1

    # Filter with keys only: type into the state list, Tab to the button, Enter.
    state = page.find("#state")
    page.driver.execute_script("arguments[0].focus()", state)
    state.send_keys("paid")
    assert Select(state).first_selected_option.get_attribute("value") == "paid"
    state.send_keys(Keys.TAB)
    chain = page.driver.switch_to.active_element
    assert chain.get_attribute("id") == "chain_id"  # the client-chain filter, left empty
    chain.send_keys(Keys.TAB)
    button = page.driver.switch_to.active_element
    assert button.get_attribute("type") == "submit"
    old = page.driver.current_url
    button.send_keys(Keys.ENTER)
    WebDriverWait(page.driver, WAIT_S).until(lambda d: d.current_url != old)
    assert "state=paid" in page.driver.current_url
    assert {b for row in page.snapshot("table.claims tbody tr") for b in row.badges} == {"paid"}


def test_every_page_fits_a_360_px_screen(page: Browser, site: Site) -> None:
    claim_id = site.data.paid_claims[0]
    distribution_id = site.api(f"/v1/claims/{claim_id}")["distribution_id"]
    slash_id = site.api("/v1/slashes")["items"][0]["slash_id"]
    staker = site.api("/v1/payouts", limit=1)["items"][0]["staker"]
    page.driver.set_window_size(NARROW_WIDTH_PX, 800)
    pages = {
        "claims": "/",
        "claim": f"/claims/{claim_id}",
        "distribution": f"/distributions/{distribution_id}",
        "staker": f"/stakers?staker={staker}",
        "slashes": "/slashes",
        "slash": f"/slashes/{slash_id}",
        "committees": "/committees",
        "rewards": "/rewards",
    }
    for name, path in pages.items():
        page.open(path)  # the audit fails a page that scrolls sideways
        layout: Any = page.driver.execute_script(
            "const w = document.documentElement.clientWidth;"
            "const boxes = Array.from(document.querySelectorAll('h1, .site-header nav a, form.filters'))"
            ".map(e => e.getBoundingClientRect());"
            "return [w, boxes.map(r => [r.left, r.right, r.width])];"
        )
        width, boxes = layout
        assert width <= NARROW_WIDTH_PX
        for left, right, box_width in boxes:
            assert box_width > 0 and left >= 0 and right <= width, (name, left, right, width)
        page.shot(f"{name}-360px")


# ------------------------------------------------------------------------ live counters (writes)


def submit_claim(engine: Engine, avs: str, label: str) -> str:
    plan = ClaimPlan(label, avs=avs, epoch=99)
    ref = ChainRef(Chain.EXOCORE, utc_now(), height=10_000, block_hash=h(f"block-{label}"), tx_hash=h(label))
    with LifecycleStore(engine).begin() as tx:
        tx.apply_exocore_event(plan.submitted(), ref)
    return plan.claim_id


def counters(page: Browser) -> dict[str, str]:
    return {s.attr("data-backlog"): s.attr("value") for s in page.snapshot("[data-backlog]")}


def test_backlog_counters_follow_the_stats_live(page: Browser, site: Site) -> None:
    stats = site.api("/v1/stats")
    page.open("/")
    assert counters(page) == {kind: str(n) for kind, n in stats["backlog"].items()}
    assert stats["backlog"]["claim"] == 0
    shown = {s.attr("data-count"): s.attr("value") for s in page.snapshot("[data-count]")}
    assert shown == {f"claim.{state}": str(stats["counts"]["claim"].get(state, 0)) for state in CLAIM_STATES}

    # A new claim arrives: the counters follow without a reload (polling /v1/stats).
    submit_claim(site.engine, site.data.avss[0], "live-1")
    WebDriverWait(page.driver, WAIT_S).until(lambda _d: counters(page)["claim"] == "1")
    assert page.one("[data-count='claim.submitted']").attr("value") == "1"
    assert counters(page) == {kind: str(n) for kind, n in site.api("/v1/stats")["backlog"].items()}
    assert page.one("[data-oldest=claim]").text != "none"
    assert int(page.one("[data-stats-url]").attr("data-refreshes")) >= 1
    page.check()
    page.shot("claims-live-counters")

    # With polling effectively off, the "Refresh now" button does the same on demand.
    site.served.app.state.explorer_poll_interval_s = timedelta(hours=1).total_seconds()
    try:
        page.open("/")
        submit_claim(site.engine, site.data.avss[1], "live-2")
        assert counters(page)["claim"] == "1"
        page.find("[data-stats-refresh]").send_keys(Keys.ENTER)
        WebDriverWait(page.driver, WAIT_S).until(lambda _d: counters(page)["claim"] == "2")
        assert page.one("[data-stats-status]").text.startswith("Refreshed every 3600")
    finally:
        site.served.app.state.explorer_poll_interval_s = POLL_INTERVAL_S


# ---------------------------------------------------------------------------------------- units, names


RAW_BASE_UNITS = re.compile(r"\b\d{1,3}(?:,\d{3}){5,}\b")
"""A grouped integer of 10^15 or more: a token amount (or power) shown in base units, not tokens."""


def test_every_page_speaks_in_tokens_names_and_usd(page: Browser, site: Site) -> None:
    """Amounts with the token's symbol and decimals (read from the ERC-20 by ingestion), AVSs by name
    with the address on hover and in the link, power in USD and as a share of the threshold; the
    exact integers stay in each figure's value."""
    claims = site.api("/v1/claims")["items"]
    names = {c["avs"]: c["avs_name"] for c in claims}
    assert set(names.values()) == {"oracle-avs", "bridge-avs"}
    paid = site.api(f"/v1/claims/{site.data.paid_claims[0]}")
    assert paid["token_symbol"] in ("EXOR", "WETH") and paid["token_decimals"] == 18
    distribution_id = paid["distribution_id"]
    staker = site.api(f"/v1/distributions/{distribution_id}/leaves")["items"][0]["staker"]
    slash = site.api("/v1/slashes")["items"][0]
    paths = (
        "/",
        f"/claims/{paid['claim_id']}",
        f"/distributions/{distribution_id}",
        f"/stakers?staker={staker}",
        "/slashes",
        f"/slashes/{slash['slash_id']}",
        "/committees",
        "/rewards",
    )
    for path in paths:
        page.open(path)
        text = page.one("main").text
        assert RAW_BASE_UNITS.search(text) is None, (path, text)
        for link in page.snapshot("main a.avs-name"):
            address = link.attr("data-address")
            assert link.attr("title") == address and link.attr("href") == f"/committees?avs={address}"
            assert link.text == names[address]
        for symbol in page.snapshot("main abbr.token"):
            assert symbol.text in ("EXOR", "WETH") and symbol.attr("title") == symbol.attr("data-address")

    page.open(f"/claims/{paid['claim_id']}")
    assert page.one("[data-figure=total-amount]").text == paid["total_amount_display"]
    assert page.figures()["total-amount"] == paid["total_amount"]  # the exact value stays
    assert page.one("[data-figure=avs-name]").text == paid["avs_name"]
    signed, total = int(paid["signed_power"]), int(paid["total_power"])
    numerator, denominator = (int(x) for x in paid["threshold"].split("/"))
    assert page.one("[data-figure=signed-power]").text == format_power(signed)
    assert page.figures()["of-threshold"] == share_percent(signed * denominator, total * numerator)
    page.shot("claim-in-tokens")

    page.open(f"/distributions/{distribution_id}")
    dist = site.api(f"/v1/distributions/{distribution_id}")
    assert page.one("[data-figure=total]").text == dist["total_display"]
    assert page.one("[data-figure=community-pool]").text.startswith(dist["community_pool_display"])
    assert int(dist["community_pool"]) == int(dist["claimed"]) - int(dist["total"]) > 0
    page.shot("distribution-in-tokens")
