"""``exorelay demo`` as a user runs it: a child process on a fresh home, small sizes.

The demo must end with exit 0 after ``--once``, list claims A/D as paid and B as accrued (collected by
the aggregator from the operators' own processes: one offline, a rogue post refused), claim C as
expired at the aggregator and both slashes as finalized, and every figure it printed must equal what
the database it leaves behind says (the L1 figures through the indexer's copy of the L1 logs: the
demo's anvils are gone after it exits).

It runs two client chains (anvils with chain ids 31337 and 31338): per chain, the payouts the
database holds equal the token ``Transfer`` logs the indexer copied from that chain and what the demo
read from that chain's node, the API's per-chain totals equal them, each chain's paid claims have a
distribution of their own, and a slash landed on each chain (a SLASH packet addressed to it, final
there, moving that chain's share of the stake).
A SIGTERM in the middle of the scenario stops it cleanly, chains included.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from sqlalchemy import Engine, create_engine, func, inspect, select, text

from devnet.anvil import DEFAULT_MNEMONIC
from devnet.defaults import DEFAULT_EPOCH_BLOCKS
from devnet.demo_story import (
    CUMULATIVE_PUSH_MINIMUM_WEI,
    DATABASE_FILE,
    SECOND_CHAIN_ID,
    SELF_CLAIM_ACCOUNT_INDEX,
    DemoError,
    claim_database,
    enough_signers,
    prepare_home,
    staker_chain,
)
from relayer.protocol.units import format_power, format_units
from storage import migrate
from storage.aggregation import (
    aggregation_evidence_table,
    aggregation_request_table,
    aggregation_signature_table,
)
from storage.models import (
    avs_table,
    claim_signer_table,
    claim_table,
    committee_member_table,
    committee_table,
    cumulative_leaf_table,
    cumulative_payout_table,
    cumulative_root_table,
    distribution_table,
    l1_tx_table,
    packet_table,
    payout_table,
    slash_asset_table,
    slash_table,
    transfer_table,
    transition_table,
)
from tests.e2e.checks import api_get
from tests.e2e.relayer_process import process_database
from tests.support.database import DATABASE_URL_ENV

pytestmark = pytest.mark.e2e

STAKERS = 40
"""Small enough to keep the run near 30 s; still two assets and 40+ leaves per distribution."""
DEMO_TIMEOUT_S = 450.0
"""The run takes ~30 s on the 2-core CI machine; past this it is stuck, not slow."""
STOP_HANG_BOUND_S = 120.0
"""SIGTERM → exit takes seconds (the relayer's own stop is bounded); past this it hangs, not slow."""
STARTUP_TIMEOUT_S = 270.0
FIRST_CHAIN_ID = 31337
"""anvil's default chain id: the demo's first client chain (the cumulative ledger's)."""
CHAINS = (FIRST_CHAIN_ID, SECOND_CHAIN_ID)
FEES_DEPOSIT_WEI = 2 * 10**18
"""oracle-avs's fee deposit on each client chain."""
EPOCH_BLOCKS = DEFAULT_EPOCH_BLOCKS
RECENT_EPOCHS = 16
"""Epochs between opening the committee slash and its submission: seconds (2 s epochs), far inside
the 64 epochs of stake snapshots Exocore keeps; the setup's epoch is ~30 epochs older on a fast run."""

SHORT_ID = r"(?P<id>0x[0-9a-f]{8})…"
AMOUNT = r"[\d,]+\.\d{4}"
EXACT = r"[\d,]+\.\d{18}"
"""An amount with every decimal of an 18-decimal token (the self-claim's dust)."""


def demo_env() -> dict[str, str]:
    """As a pipe or CI sees it: not a terminal, no COLUMNS (rich would default to 80 columns)."""
    env = {key: value for key, value in os.environ.items() if key not in ("COLUMNS", "LINES")}
    return {**env, "PYTHONIOENCODING": "utf-8", "PYTHONUNBUFFERED": "1"}


def demo_command(home: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "relayer",
        "demo",
        "--home",
        str(home),
        "--stakers",
        str(STAKERS),
        "--api-port",
        "0",
        *extra,
    ]


@dataclass(frozen=True)
class DemoRun:
    output: str
    returncode: int
    seconds: float
    engine: Engine

    def lines(self) -> list[str]:
        return self.output.splitlines()

    def matches(self, pattern: str) -> list[re.Match[str]]:
        compiled = re.compile(pattern)
        return [m for m in (compiled.match(line) for line in self.lines()) if m is not None]

    def rows(self, statement: Any) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(statement))

    def scalar(self, statement: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(statement).scalar()

    def total(self, statement: Any) -> int:
        """Σ of a uint256 column, in Python: SQLite stores them as text and SUM() would use floats."""
        return sum(int(row[0]) for row in self.rows(statement))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRun]:
    """The module's ``--once`` run is the second of two on the same home and database, with nothing
    cleaned in between (as a user runs ``make demo`` again): on PostgreSQL (a fresh schema) when the
    suite runs there, else on the demo's own default, the SQLite file under its home."""
    directory = tmp_path_factory.mktemp("demo")
    home = directory / "home"
    with ExitStack() as cleanup:
        if os.environ.get(DATABASE_URL_ENV):
            url = cleanup.enter_context(process_database(directory))
            extra: tuple[str, ...] = ("--database-url", url)
        else:
            url, extra = f"sqlite:///{home / DATABASE_FILE}", ()
        for _first in run_once(home, url, extra):
            pass
        yield from run_once(home, url, extra)


def run_once(home: Path, url: str, extra: tuple[str, ...]) -> Iterator[DemoRun]:
    started = time.monotonic()
    result = subprocess.run(
        demo_command(home, "--once", *extra),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=DEMO_TIMEOUT_S,
        env=demo_env(),
        check=False,
    )
    seconds = time.monotonic() - started
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"exit {result.returncode}:\n{output[-6000:]}"
    engine = create_engine(url)
    try:
        yield DemoRun(output, result.returncode, seconds, engine)
    finally:
        engine.dispose()


FUNDING_OF_CLAIM = {"A": 1, "D": 3}
"""The demo's claims paid per distribution and their reward source: A minted (MINT), D from
oracle-avs's transaction fees (FEES). Claim B (bridge-avs, cumulative) accrues: no distribution."""


def distributions(run: DemoRun, **where: Any) -> list[Any]:
    """Distribution rows with the client chain their packet is addressed to (``chain_id``)."""
    d, k = distribution_table, packet_table
    statement = select(d, k.c.l1_chain_id.label("chain_id")).join(k, k.c.nonce == d.c.nonce)
    for column, value in where.items():
        statement = statement.where(d.c[column] == value)
    return run.rows(statement.order_by(d.c.nonce))


def finalized_payouts(run: DemoRun, distribution_id: str) -> int:
    return int(
        run.scalar(
            select(func.count())
            .select_from(payout_table)
            .where(payout_table.c.distribution_id == distribution_id, payout_table.c.state == "finalized")
        )
    )


def by_prefix(rows: list[Any], key: str, prefix: str) -> Any:
    found = [r for r in rows if getattr(r, key).startswith(prefix)]
    assert len(found) == 1, f"{prefix}: {len(found)} rows"
    return found[0]


def token_symbols(run: DemoRun) -> dict[str, str]:
    """Token address -> symbol, from the distributions' funding modes (1 MINT = EXOR; 2 VAULT and
    3 FEES = WETH)."""
    rows = run.rows(select(distribution_table.c.token, distribution_table.c.funding))
    return {r.token: "EXOR" if r.funding == 1 else "WETH" for r in rows}


def spans(run: DemoRun, kind: str, entity_id: str) -> tuple[str, str]:
    """The Exocore heights and L1 blocks an object's recorded transitions happened at (``a..b``)."""
    t = transition_table
    rows = run.rows(select(t.c.chain, t.c.height).where(t.c.entity_kind == kind, t.c.entity_id == entity_id))
    found = []
    for chain in ("exocore", "l1"):
        heights = [r.height for r in rows if r.chain == chain]
        found.append(
            "-"
            if not heights
            else f"{min(heights)}"
            if min(heights) == max(heights)
            else f"{min(heights)}..{max(heights)}"
        )
    return found[0], found[1]


def port_is_closed(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((host, int(port))) != 0


def test_demo_completes_once_within_budget(demo: DemoRun) -> None:
    assert "scenario complete" in demo.output
    assert "Traceback" not in demo.output
    assert demo.seconds < DEMO_TIMEOUT_S
    assert demo.matches(r"^API: http://127\.0\.0\.1:\d+ ")


def test_lifecycle_overview_lists_claims_paid_and_slashes_finalized(demo: DemoRun) -> None:
    claims = demo.matches(
        rf"^\s*(?P<label>[ABD])\s+{SHORT_ID}\s+(?P<avs>[\w-]+)\s+(?P<amount>{AMOUNT}) (?P<symbol>\w+)"
        r"\s+(?P<state>\w+)\s+(?P<payouts>\d+/\d+|cumulative root|-)"
        r"\s+(?P<exocore>[\d.]+)\s+(?P<l1>[\d.]+|-)\s"
    )
    assert {m["label"]: m["state"] for m in claims} == {"A": "paid", "B": "accrued", "D": "paid"}
    assert {m["label"]: m["symbol"] for m in claims} == {"A": "EXOR", "B": "WETH", "D": "WETH"}
    db_claims = demo.rows(select(claim_table))
    symbols = token_symbols(demo)
    for match in claims:
        row = by_prefix(db_claims, "claim_id", match["id"])
        assert row.state == match["state"]
        assert format_units(int(row.total_amount)) == match["amount"]
        assert (match["exocore"], match["l1"]) == spans(demo, "claim", row.claim_id)
        if row.distribution_id is None:
            assert match["payouts"] == ("cumulative root" if row.state == "accrued" else "-")
            continue
        assert symbols[row.token] == match["symbol"]
        # One distribution per client chain: the claim paid stakers on both.
        dists = distributions(demo, claim_id=row.claim_id)
        assert sorted(d.chain_id for d in dists) == sorted(CHAINS)
        finalized = sum(finalized_payouts(demo, d.distribution_id) for d in dists)
        leaves = sum(int(d.leaf_count) for d in dists)
        assert match["payouts"] == f"{finalized}/{leaves}"
        assert finalized == leaves > 0

    slashes = demo.matches(
        rf"^\s*(?P<kind>committee|equivocation)\s+{SHORT_ID}\s+(?P<avs>[\w-]+)"
        r"\s+(?P<cut>.+?)\s{2,}(?P<state>\w+)\s+(?P<exocore>[\d.]+)\s+(?P<l1>[\d.]+)\s"
    )
    assert sorted(m["kind"] for m in slashes) == ["committee", "equivocation"]
    db_slashes = demo.rows(select(slash_table))
    assert len(db_slashes) == 2
    for match in slashes:
        row = by_prefix(db_slashes, "slash_id", match["id"])
        assert match["state"] == row.state == "finalized"
        assert (match["exocore"], match["l1"]) == spans(demo, "slash", row.slash_id)
        assert row.evidence_kind == {"committee": "committee_request"}.get(match["kind"], match["kind"])
        assets = demo.rows(select(slash_asset_table).where(slash_asset_table.c.slash_id == row.slash_id))
        printed = sorted(match["cut"].split(" + "))
        assert printed == sorted(f"{format_units(int(a.amount))} {symbols[a.token]}" for a in assets)


TIMELINE_ROW = re.compile(
    r"^\s*(?P<state>[a-z_]+)\s+(?P<exocore>\d+|-)\s+(?P<exocore_time>\d\d:\d\d:\d\d\.\d{3}|-)"
    r"\s+(?P<l1>\d+|-)\s+(?P<l1_time>\d\d:\d\d:\d\d|-)"
    r"\s+(?P<recorded>\d\d:\d\d:\d\d\.\d{3}) \(\+(?P<offset>\d+\.\d) s\)"
)


def printed_timelines(demo: DemoRun) -> dict[str, list[re.Match[str]]]:
    """Chapter 7's per-object tables: short id -> their rows."""
    title = re.compile(r"^(claim [ABCD]|slash \((?:committee|equivocation)\)) (0x[0-9a-f]{8})…\s*$")
    timelines: dict[str, list[re.Match[str]]] = {}
    current: str | None = None
    for line in demo.lines():
        if "Claims (from the API)" in line:
            break
        if (found := title.match(line)) is not None:
            current = found[2]
            timelines[current] = []
        elif current is not None and (step := TIMELINE_ROW.match(line)) is not None:
            timelines[current].append(step)
    return timelines


def test_slashed_operators_power_in_the_other_avs_drops_as_the_indexer_recorded(demo: DemoRun) -> None:
    """The cross-AVS table: each slashed operator's power in the AVS it was *not* slashed in, in the
    committee before the slashes and in the first one elected after, equals the indexer's committee
    rows, and it dropped (the stake is pooled)."""
    names = {r.avs_address: r.name for r in demo.rows(select(avs_table))}
    rows = demo.matches(
        r"^\s*(?P<op>exo1\w{5}…\w{4})\s+(?P<slashed>[\w-]+)\s+(?P<avs>[\w-]+)\s+"
        r"(?P<before>[\d,]+\.\d+ USD)\s+(?P<after>[\d,]+\.\d+ USD)\s+(?P<ratio>[\d.]+ %)\s*$"
    )
    slashed = {r.operator: names[r.avs_address] for r in demo.rows(select(slash_table))}
    assert len(rows) == len(slashed) == 2
    members = demo.rows(
        select(
            committee_member_table.c.operator,
            committee_member_table.c.power,
            committee_table.c.avs_address,
            committee_table.c.epoch,
        ).join(committee_table, committee_table.c.id == committee_member_table.c.committee_id)
    )
    for row in rows:
        operator = next(op for op in slashed if op[:9] + "…" + op[-4:] == row["op"])
        assert row["slashed"] == slashed[operator] != row["avs"]
        powers = sorted(
            (
                (m.epoch, int(m.power))
                for m in members
                if m.operator == operator and names[m.avs_address] == row["avs"]
            ),
        )
        printed = [format_power(power) for _, power in powers]
        assert row["before"] in printed and row["after"] == printed[-1]
        before = next(power for _, power in powers if format_power(power) == row["before"])
        assert powers[-1][1] < before, "the slash in one AVS lowers the operator's power in the other"
        assert float(row["ratio"].removesuffix(" %")) < 100


def test_per_object_timelines_equal_the_recorded_transitions(demo: DemoRun) -> None:
    timelines = printed_timelines(demo)
    assert len(timelines) == 5  # claims A, B, D and two slashes (claim C never reached Exocore)
    transitions = demo.rows(select(transition_table).order_by(transition_table.c.id))
    for prefix, steps in timelines.items():
        recorded = [
            t for t in transitions if t.entity_kind in ("claim", "slash") and t.entity_id.startswith(prefix)
        ]
        expected = [
            (
                t.to_state,
                str(t.height) if t.chain == "exocore" else "-",
                str(t.height) if t.chain == "l1" else "-",
                t.recorded_at.strftime("%H:%M:%S.%f")[:-3],
            )
            for t in recorded
        ]
        printed = [(s["state"], s["exocore"], s["l1"], s["recorded"]) for s in steps]
        assert printed == expected
        # Exocore's block time is what the indexer stored for the block's events.
        for step, t in zip(steps, recorded, strict=True):
            if t.chain == "exocore":
                assert step["exocore_time"] == t.at.strftime("%H:%M:%S.%f")[:-3]
    finals = {steps[-1]["state"] for steps in timelines.values()}
    assert finals == {"paid", "accrued", "finalized"}  # claim B accrued: its AVS pays cumulatively


def test_each_time_column_of_a_timeline_runs_forward(demo: DemoRun) -> None:
    """Chain block times and the indexer's clock are separate columns, and none of them goes back."""
    timelines = printed_timelines(demo)
    assert timelines
    for steps in timelines.values():
        for column in ("exocore_time", "l1_time", "recorded", "offset"):
            shown = [step[column] for step in steps if step[column] != "-"]
            keys = [float(v) for v in shown] if column == "offset" else shown
            assert keys == sorted(keys), (column, shown)
        # A rejected claim never reaches L1; an accrued one reaches it only through its period's root.
        assert any(step["l1_time"] != "-" for step in steps) or steps[-1]["state"] in {"rejected", "accrued"}


def test_no_cell_is_cut_when_stdout_is_not_a_terminal(demo: DemoRun) -> None:
    """Every "…" is an id or address the demo shortens on purpose (0x1234abcd…, exo1qyaxd…6wde),
    never a cell rich cut to fit 80 columns ("attes…", "rejec…")."""
    for line in demo.lines():
        for cut in re.finditer(r"(\S*)…", line):
            assert re.fullmatch(r"0x[0-9a-fA-F]+|exo1[0-9a-z]+", cut[1]), line
    assert any(len(line) > 80 for line in demo.lines())  # tables printed whole, wider than 80


def test_where_the_rest_of_each_claim_went_is_said(demo: DemoRun) -> None:
    lines = demo.matches(
        rf"^claim (?P<label>[ABD]): (?P<claimed>{AMOUNT}) (?P<symbol>\w+) claimed, (?P<total>{AMOUNT}) \w+ in"
        rf" leaves on (?P<chains>\d+) client chain\(s\) \([\d.]+ %\); Exocore's community pool keeps"
        rf" (?P<pool>{AMOUNT}) \w+: the community tax"
        rf" (?P<tax>{AMOUNT}) \w+ \([\d.]+ %\) and (?P<dust>[\d,]+) base units of rounding dust\s*$"
    )
    assert sorted(m["label"] for m in lines) == ["A", "D"]
    claims = {r.claim_id: r for r in demo.rows(select(claim_table))}
    for match in lines:
        # Every client chain's distribution of the claim: leaves and tax summed over them.
        dists = distributions(demo, funding=FUNDING_OF_CLAIM[match["label"]])
        assert int(match["chains"]) == len(dists) == len(CHAINS)
        (claim_id,) = {d.claim_id for d in dists}
        claimed = int(claims[claim_id].total_amount)
        total = sum(int(d.total) for d in dists)
        tax = sum(int(d.community_tax or 0) for d in dists)
        dust = claimed - tax - total
        assert (match["claimed"], match["total"]) == (format_units(claimed), format_units(total))
        assert (match["tax"], match["pool"]) == (format_units(tax), format_units(tax + dust))
        assert int(match["dust"].replace(",", "")) == dust >= 0
        assert tax * 100 == claimed * 3  # the devnet's 3 % community tax


def test_step_0_is_narrated_from_the_health_check(demo: DemoRun) -> None:
    verdicts = demo.matches(
        r"^\s+(?P<verdict>ok|warn|FAIL)\s+reward token (?P<token>0x[0-9a-f]{40})"
        r" \((?P<mode>MINT|VAULT|FEES)\) of (?P<avs>[\w-]+): (?P<detail>.+)$"
    )
    assert {(m["mode"], m["avs"], m["verdict"]) for m in verdicts} == {
        ("MINT", "oracle-avs", "ok"),
        ("FEES", "oracle-avs", "ok"),
        ("VAULT", "bridge-avs", "ok"),
    }
    details = {m["mode"]: m["detail"] for m in verdicts}
    assert "holds MINTER_ROLE" in details["MINT"]
    assert "holds a deposit of 12.0000 WETH for the AVS" in details["VAULT"]
    assert "holds transaction fees of 2.0000 WETH for the AVS" in details["FEES"]


def test_claim_c_expired_at_the_aggregator_with_the_databases_reason(demo: DemoRun) -> None:
    (match,) = demo.matches(
        r"^claim C expired at the aggregator \((?P<count>\d+) signatures: .+?\): (?P<reason>.+?)\s*$"
    )
    r = aggregation_request_table
    (row,) = demo.rows(select(r).where(r.c.state == "expired"))
    assert match["reason"] == row.state_reason
    assert "below threshold when it expired" in row.state_reason
    signatures = demo.rows(
        select(aggregation_signature_table).where(aggregation_signature_table.c.digest == row.digest)
    )
    assert int(match["count"]) == len(signatures) == 0
    # Never submitted: Exocore never saw it. The indexer knows it only from the aggregator's rows, as a
    # claim that was collecting and expired there (never submitted, never verified).
    claims = demo.rows(select(claim_table).where(claim_table.c.claim_id == row.digest))
    assert all(claim.state in {"collecting", "expired"} for claim in claims)


COLLECTION_ROW = (
    rf"^\s*(?P<label>[ABCD])\s+{SHORT_ID}\s+(?P<avs>[\w-]+)\s+(?P<signed>\d+) of (?P<size>\d+)"
    r"\s+(?P<power>[\d,.]+ USD)\s+(?P<needed>[\d,.]+ USD)\s+(?P<state>\w+)\s+(?P<height>\d+|-)\s*$"
)


def test_claims_are_collected_from_the_operators_processes_one_offline_and_a_rogue_refused(
    demo: DemoRun,
) -> None:
    rows = {m["label"]: m for m in demo.matches(COLLECTION_ROW)}
    assert sorted(rows) == ["A", "B", "C", "D"]
    assert (rows["A"]["state"], rows["B"]["state"], rows["D"]["state"]) == ("verified",) * 3
    requests = {r.digest: r for r in demo.rows(select(aggregation_request_table))}
    signatures = demo.rows(select(aggregation_signature_table))
    (offline,) = demo.matches(r"^offline operator (?P<short>exo1\w+)…(?P<tail>\w+): no process")
    for label in ("A", "B", "D"):
        request = by_prefix(list(requests.values()), "digest", rows[label]["id"])
        accepted = [s for s in signatures if s.digest == request.digest and s.verdict == "accepted"]
        assert int(rows[label]["signed"]) == len(accepted)
        assert int(rows[label]["size"]) == request.committee_size
        assert rows[label]["power"] == f"{format_power(int(request.signed_power))}"
        assert rows[label]["needed"] == f"{format_power(int(request.threshold_power))}"
        # Submitted by the aggregator: the indexer saw the same id verified by Exocore.
        claim = demo.rows(select(claim_table).where(claim_table.c.claim_id == request.digest))[0]
        assert {s.operator for s in accepted} == {
            s.operator
            for s in demo.rows(
                select(claim_signer_table).where(claim_signer_table.c.claim_id == request.digest)
            )
        }
        assert claim.state == ("accrued" if label == "B" else "paid")
        assert rows[label]["height"] == str(claim.submitted_height)
    # The offline operator never posted; the rogue's conflicting post is refused and kept as evidence.
    assert not [
        s
        for s in signatures
        if s.operator.startswith(offline["short"]) and s.operator.endswith(offline["tail"])
    ]
    (rogue,) = demo.matches(
        r"^rogue signer (?P<short>exo1\w+)…(?P<tail>\w+) .+ refused by the aggregator,"
        r" HTTP 409 conflicting_signature"
    )
    (evidence,) = demo.rows(select(aggregation_evidence_table))
    assert evidence.operator.startswith(rogue["short"]) and evidence.operator.endswith(rogue["tail"])
    assert demo.matches(r"^\s+conflicting signatures kept as evidence by the aggregator: 1\s*$")


def test_the_committee_slash_is_collected_by_the_aggregator(demo: DemoRun) -> None:
    (match,) = demo.matches(
        r"^committee slash of (?P<op>exo1\w+…\w+) collected by the aggregator:"
        r" (?P<signed>\d+) of (?P<size>\d+) signed, .+; (?P<state>\w+) on Exocore"
    )
    r = aggregation_request_table
    (request,) = demo.rows(select(r).where(r.c.kind == "slash_request"))
    assert (match["state"], request.state) == ("verified", "verified")
    slash = demo.rows(select(slash_table).where(slash_table.c.slash_id == request.digest))[0]
    assert slash.evidence_kind == "committee_request"
    assert int(match["size"]) == request.committee_size
    # It names a recent epoch (the committee current when it was opened), not the setup's: Exocore
    # measures it on that epoch's stake snapshot and keeps 64 epochs of them, which a slow run
    # outlasted when the demo named the setup's epoch (rejected as offence_too_old).
    submitted_epoch = (int(slash.submitted_height) - 1) // EPOCH_BLOCKS + 1
    assert 0 <= submitted_epoch - request.epoch <= RECENT_EPOCHS


def test_distributions_paid_on_l1_equal_the_indexed_payouts_and_transfers(demo: DemoRun) -> None:
    rows = demo.matches(
        rf"^\s*(?P<label>[ABD])\s+(?P<chain>\d+)\s+(?P<funding>MINT|VAULT|FEES)\s+(?P<leaves>\d+)"
        rf"\s+(?P<total>{AMOUNT}) (?P<symbol>\w+)\s+(?P<paid>{AMOUNT}) \w+"
        r"\s+(?P<finalized>\d+) of (?P<of>\d+)\s*$"
    )
    # One row per claim and client chain: each claim paid stakers on both chains.
    assert sorted((m["label"], int(m["chain"]), m["funding"]) for m in rows) == sorted(
        (label, chain, funding) for label, funding in (("A", "MINT"), ("D", "FEES")) for chain in CHAINS
    )
    symbols = token_symbols(demo)
    for match in rows:
        (dist,) = [
            d
            for d in distributions(demo, funding=FUNDING_OF_CLAIM[match["label"]])
            if d.chain_id == int(match["chain"])
        ]
        # Landed on the chain it was addressed to, and its payouts were made there.
        assert dist.l1_chain_id == dist.chain_id
        assert {
            r.l1_chain_id
            for r in demo.rows(
                select(payout_table.c.l1_chain_id).where(
                    payout_table.c.distribution_id == dist.distribution_id
                )
            )
        } == {dist.chain_id}
        assert symbols[dist.token] == match["symbol"]
        assert int(match["leaves"]) == dist.leaf_count == int(match["finalized"]) == int(match["of"])
        assert format_units(int(dist.total)) == match["total"]
        paid = demo.total(
            select(payout_table.c.amount).where(
                payout_table.c.distribution_id == dist.distribution_id, payout_table.c.state == "finalized"
            )
        )
        assert format_units(paid) == match["paid"] == match["total"]


def test_the_cumulative_avs_is_paid_under_one_root_for_all_its_earners(demo: DemoRun) -> None:
    """bridge-avs pays cumulatively: claim B accrued (no distribution, no packet of its own); one
    root covers every earner of the period and each earner was pushed exactly its total on L1."""
    (claim_b,) = demo.rows(select(claim_table).where(claim_table.c.state == "accrued"))
    assert claim_b.distribution_id is None
    assert (
        demo.rows(select(distribution_table).where(distribution_table.c.claim_id == claim_b.claim_id)) == []
    )
    # bridge-avs counts the first chain's WETH only: its one root is that chain's.
    (root,) = demo.rows(select(cumulative_root_table))
    assert root.accepted and root.l1_chain_id == FIRST_CHAIN_ID
    leaves = demo.rows(
        select(cumulative_leaf_table).where(cumulative_leaf_table.c.packet_nonce == root.packet_nonce)
    )
    payouts = demo.rows(
        select(cumulative_payout_table).where(cumulative_payout_table.c.period == root.period)
    )
    assert {p.l1_chain_id for p in payouts} == {FIRST_CHAIN_ID}
    (token,) = {leaf.token for leaf in leaves}
    assert token == claim_b.token
    assert {(p.earner, int(p.amount)) for p in payouts} == {
        (leaf.earner, int(leaf.cumulative)) for leaf in leaves
    }
    total = sum(int(leaf.cumulative) for leaf in leaves)
    (row,) = demo.matches(
        rf"^\s*(?P<chain>\d+)\s+(?P<period>\d+)\s+#(?P<nonce>\d+)\s+(?P<earners>\d+)"
        rf"\s+(?P<total>{AMOUNT}) WETH"
        rf"\s+(?P<pushed>\d+) earners, (?P<paid>{AMOUNT}) WETH\s*$"
    )
    assert (int(row["chain"]), int(row["period"]), int(row["nonce"])) == (
        root.l1_chain_id,
        root.period,
        root.packet_nonce,
    )
    assert int(row["earners"]) == int(row["pushed"]) == len(leaves) > 1
    assert row["total"] == row["paid"] == format_units(total)
    assert demo.matches(r"^claim B \(bridge-avs\) accrued: one root carries every earner's total")


def test_packets_table_shows_the_valset_update_relayed_before_the_packets_signed_by_the_new_set(
    demo: DemoRun,
) -> None:
    rows = demo.matches(
        r"^\s*#(?P<nonce>\d+)\s+(?P<kind>VALSET_UPDATE|REWARD_DISTRIBUTION|CUMULATIVE_ROOT)\s+(?P<chain>\d+)"
        r"\s+#(?P<valset>\d+)\s+(?P<height>\d+)"
        r"\s+(?P<block>\d+)\s+(?P<tx>0x[0-9a-f]{8})…\s+(?P<job>\w+)\s*$"
    )
    assert {m["job"] for m in rows} == {"delivered"}
    # Per client chain: claims A (MINT) and D (FEES) one packet each, and on the first chain claim B's
    # (cumulative) period one root, each after that chain's valset update that signs them.
    by_chain = {chain: [m for m in rows if int(m["chain"]) == chain] for chain in CHAINS}
    assert sum(len(chain_rows) for chain_rows in by_chain.values()) == len(rows)
    for chain, chain_rows in by_chain.items():
        assert chain_rows[0]["kind"] == "VALSET_UPDATE"
        roots = ["CUMULATIVE_ROOT"] if chain == FIRST_CHAIN_ID else []
        assert sorted(m["kind"] for m in chain_rows[1:]) == [*roots, *["REWARD_DISTRIBUTION"] * 2]
        valset, *later = chain_rows
        assert all(int(d["valset"]) == int(valset["valset"]) + 1 for d in later)
        assert all(int(d["block"]) >= int(valset["block"]) for d in later)
    txs = demo.rows(
        select(l1_tx_table).where(l1_tx_table.c.state == "finalized", l1_tx_table.c.purpose != "payout")
    )
    packets = {r.nonce: r for r in demo.rows(select(packet_table))}
    for match in rows:
        tx = next(t for t in txs if t.packet_nonce == int(match["nonce"]))
        assert (str(tx.block_number), tx.tx_hash[:10], tx.chain_id) == (
            match["block"],
            match["tx"],
            int(match["chain"]),
        )
        packet = packets[int(match["nonce"])]
        assert (str(packet.valset_nonce), str(packet.exocore_height)) == (match["valset"], match["height"])
        assert packet.l1_chain_id == int(match["chain"])


def test_staker_balances_equal_the_indexed_l1_transfers_and_payouts(demo: DemoRun) -> None:
    assert demo.matches(
        r"^\s*staker\s+client chain\s+WETH on L1\s+WETH paid \(DB\)\s+EXOR on L1\s+EXOR paid \(DB\)\s*$"
    )
    rows = demo.matches(
        rf"^\s*(?P<staker>0x[0-9a-fA-F]{{40}})\s+(?P<chain>\d+)\s+(?P<weth_l1>{AMOUNT})\s+(?P<weth_db>{AMOUNT})"
        rf"\s+(?P<exor_l1>{AMOUNT})\s+(?P<exor_db>{AMOUNT})\s*$"
    )
    assert len(rows) == 4
    # The first four stakers: two on each client chain.
    assert [int(m["chain"]) for m in rows] == [CHAINS[staker_chain(i, len(CHAINS))] for i in range(4)]
    tokens = {symbol: token for token, symbol in token_symbols(demo).items()}
    earned = set()
    for match in rows:
        staker, chain = match["staker"].lower(), int(match["chain"])
        for symbol in ("WETH", "EXOR"):
            received = demo.total(
                select(transfer_table.c.amount).where(
                    transfer_table.c.recipient == staker,
                    transfer_table.c.token == tokens[symbol],
                    transfer_table.c.l1_chain_id == chain,
                )
            )
            paid = demo.total(
                select(payout_table.c.amount).where(
                    payout_table.c.staker == staker,
                    payout_table.c.token == tokens[symbol],
                    payout_table.c.state == "finalized",
                    payout_table.c.l1_chain_id == chain,
                )
            ) + demo.total(
                select(cumulative_payout_table.c.amount).where(
                    cumulative_payout_table.c.earner == staker,
                    cumulative_payout_table.c.token == tokens[symbol],
                    cumulative_payout_table.c.l1_chain_id == chain,
                )
            )
            key = symbol.lower()
            assert match[f"{key}_l1"] == format_units(received)
            assert match[f"{key}_db"] == format_units(paid)
            if received:
                earned.add(symbol)
    assert earned == {"WETH", "EXOR"}


def test_sigterm_mid_scenario_stops_everything(tmp_path: Path) -> None:
    log = tmp_path / "demo.out"
    with log.open("w", encoding="utf-8") as sink:
        process = subprocess.Popen(
            demo_command(tmp_path / "home"), stdout=sink, stderr=subprocess.STDOUT, env=demo_env()
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while "2. Operators" not in log.read_text(encoding="utf-8"):
            assert process.poll() is None, log.read_text(encoding="utf-8")
            assert time.monotonic() < deadline, log.read_text(encoding="utf-8")
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=STOP_HANG_BOUND_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = log.read_text(encoding="utf-8")
    assert code == 130, output
    assert "stopped before the scenario finished" in output
    assert "Traceback" not in output
    # Both chains' RPC endpoints (printed in chapter 1) are gone: nothing was left running.
    urls = re.findall(r"http://127\.0\.0\.1:\d+", output.split("2. Operators")[0])
    assert len(urls) >= 2
    assert all(port_is_closed(url) for url in urls)


def test_home_is_wiped_only_if_the_demo_made_it(tmp_path: Path) -> None:
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(DemoError, match="not made by"):
        prepare_home(foreign)
    assert (foreign / "notes.txt").read_text() == "keep me"
    home = tmp_path / "demo"
    prepare_home(home)
    (home / "old.sqlite").write_text("previous run")
    prepare_home(home)
    assert not (home / "old.sqlite").exists()


def test_signer_choice_passes_and_misses_the_threshold() -> None:
    powers = [30, 25, 25, 20]
    assert enough_signers(powers, (2, 3)) == [0, 1, 2]  # 80 % > 2/3
    assert enough_signers([50, 50], (9, 10)) == [0, 1]  # nobody can be left out


def test_a_database_is_emptied_only_if_the_previous_run_of_this_home_filled_it(tmp_path: Path) -> None:
    """A second ``make demo`` with the same ``--database-url`` needs no cleaning by hand; a database
    the demo did not fill, or holding anything but exorelay's tables, is never touched."""
    url = f"sqlite:///{tmp_path / 'given.sqlite'}"
    engine = create_engine(url)
    home, other_home = tmp_path / "home", tmp_path / "other"
    try:
        claim_database(home, url, prepare_home(home))  # empty: accepted, and the home remembers it
        migrate.upgrade(engine)  # what the run leaves behind
        claim_database(home, url, prepare_home(home))  # the next run of the same home empties it
        assert inspect(engine).get_table_names() == []

        migrate.upgrade(engine)
        with pytest.raises(DemoError, match="is not empty"):
            claim_database(other_home, url, prepare_home(other_home))  # not this home's database
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE notes (x INTEGER)"))
        with pytest.raises(DemoError, match="is not empty"):
            claim_database(home, url, prepare_home(home))  # a table that is not exorelay's
        assert "notes" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_a_fee_funded_distribution_is_paid_and_each_source_accounted(demo: DemoRun) -> None:
    """oracle-avs deposits 2 WETH of transaction fees (FEES) on each client chain; claim D is
    distributed from them (one distribution per chain, each within that chain's FEES source) and
    paid on L1; the reward-sources table says per client chain, AVS, token and source what was
    funded, distributed, paid and is still held, as the database has it."""
    (deposit,) = demo.matches(
        rf"^oracle-avs deposited (?P<amount>{AMOUNT}) WETH of transaction fees into its FEES source"
        r".+ will distribute at most (?P<at_most>.+?)\s*$"
    )
    assert deposit["amount"] == format_units(FEES_DEPOSIT_WEI)
    assert deposit["at_most"] == ", ".join(
        f"{format_units(FEES_DEPOSIT_WEI)} WETH on chain {c}" for c in CHAINS
    )
    rows = {
        (int(m["chain"]), m["avs"], m["source"]): m
        for m in demo.matches(
            rf"^\s*(?P<chain>\d+)\s+(?P<avs>[\w-]+)\s+(?P<symbol>EXOR|WETH)\s+(?P<source>MINT|VAULT|FEES)"
            rf"\s+(?P<funded>minted as paid|{AMOUNT} \w+)\s+(?P<distributed>{AMOUNT}) \w+"
            rf"\s+(?P<paid>{AMOUNT}) \w+\s+(?P<held>-|{AMOUNT} \w+)\s*$"
        )
    }
    # oracle-avs's sources on both chains; bridge-avs (the first chain's WETH only) on the first.
    assert set(rows) == {
        *((chain, "oracle-avs", source) for chain in CHAINS for source in ("MINT", "FEES")),
        (FIRST_CHAIN_ID, "bridge-avs", "VAULT"),
    }
    # One FEES distribution per client chain, each paid from that chain's deposit.
    fees_dists = distributions(demo, funding=3)
    assert sorted(d.chain_id for d in fees_dists) == sorted(CHAINS)
    for dist in fees_dists:
        fees = rows[(dist.chain_id, "oracle-avs", "FEES")]
        distributed = int(dist.total)
        assert fees["funded"] == f"{format_units(FEES_DEPOSIT_WEI)} WETH"
        assert fees["distributed"] == fees["paid"] == format_units(distributed)
        assert fees["held"] == f"{format_units(FEES_DEPOSIT_WEI - distributed)} WETH"
    for chain in CHAINS:
        assert rows[(chain, "oracle-avs", "MINT")]["funded"] == "minted as paid"


PAID_PER_CHAIN_ROW = (
    rf"^\s*(?P<chain>\d+)\s+(?P<symbol>WETH|EXOR)\s+(?P<leaves>{AMOUNT}) \w+\s+(?P<pushed>{AMOUNT}) \w+"
    rf"\s+(?P<api>{AMOUNT}) \w+\s+(?P<transfers>{AMOUNT}) \w+\s+(?P<equal>yes|NO)\s*$"
)


def test_each_client_chain_is_paid_what_its_transfer_logs_moved(demo: DemoRun) -> None:
    """Per client chain and token: the finalized payouts (leaves and cumulative pushes) the database
    holds for the chain equal the Transfer logs the indexer copied from that chain, the demo's own
    reading of that chain's node (printed), and the API's per-chain total; both chains paid both
    tokens."""
    tokens = {symbol: token for token, symbol in token_symbols(demo).items()}
    printed = {(int(m["chain"]), m["symbol"]): m for m in demo.matches(PAID_PER_CHAIN_ROW)}
    assert set(printed) == {(chain, symbol) for chain in CHAINS for symbol in ("WETH", "EXOR")}
    stats = api_get(str(demo.engine.url.render_as_string(hide_password=False)), "/v1/stats")
    for (chain, symbol), match in printed.items():
        token = tokens[symbol]
        leaves = demo.total(
            select(payout_table.c.amount).where(
                payout_table.c.l1_chain_id == chain,
                payout_table.c.token == token,
                payout_table.c.state == "finalized",
            )
        )
        pushed = demo.total(
            select(cumulative_payout_table.c.amount).where(
                cumulative_payout_table.c.l1_chain_id == chain, cumulative_payout_table.c.token == token
            )
        )
        transferred = demo.total(
            select(transfer_table.c.amount).where(
                transfer_table.c.l1_chain_id == chain, transfer_table.c.token == token
            )
        )
        assert leaves > 0, f"nothing paid in {symbol} on chain {chain}"
        assert leaves + pushed == transferred
        api = int(stats["paid_per_chain"][str(chain)][token]["finalized"])
        assert api == leaves
        assert (match["leaves"], match["pushed"], match["api"], match["transfers"], match["equal"]) == (
            format_units(leaves),
            format_units(pushed),
            format_units(api),
            format_units(transferred),
            "yes",
        )
    # The chains add up to the API's per-token totals: nothing was paid outside a chain.
    for token, per_state in stats["paid_per_token"].items():
        assert int(per_state["finalized"]) == sum(
            int(stats["paid_per_chain"][str(chain)].get(token, {}).get("finalized", 0)) for chain in CHAINS
        )


def test_the_api_filters_payouts_and_packets_by_client_chain(demo: DemoRun) -> None:
    """``?chain_id=`` returns exactly the chain's rows: payouts and packets as the database keys them."""
    url = str(demo.engine.url.render_as_string(hide_password=False))
    for chain in CHAINS:
        packets = api_get(url, "/v1/packets", chain_id=chain, limit=100)["items"]
        db_packets = demo.rows(select(packet_table.c.nonce).where(packet_table.c.l1_chain_id == chain))
        assert sorted(p["nonce"] for p in packets) == sorted(r.nonce for r in db_packets)
        payouts = api_get(url, "/v1/payouts", chain_id=chain, limit=100)["items"]
        assert payouts and {p["chain_id"] for p in payouts} == {chain}


SLASH_ON_L1_ROW = (
    r"^\s*(?P<kind>committee|equivocation)\s+(?P<chain>\d+)\s+(?P<block>\d+)\s+(?P<moved>.+?)"
    r"\s+(?P<frozen>true|false)\s*$"
)


def test_a_slash_landed_on_each_client_chain(demo: DemoRun) -> None:
    """The committee slash (oracle-avs counts both chains' assets) is one SLASH packet per chain,
    each final on its own chain and moving that chain's share of the cut; the per-chain lines name
    the API's SLASH packets of each chain as the database has them."""
    symbols = token_symbols(demo)
    landed = demo.matches(SLASH_ON_L1_ROW)
    assert sorted((m["kind"], int(m["chain"])) for m in landed) == sorted(
        [("committee", FIRST_CHAIN_ID), ("committee", SECOND_CHAIN_ID), ("equivocation", FIRST_CHAIN_ID)]
    )
    slashes = {r.evidence_kind: r for r in demo.rows(select(slash_table))}
    committee = slashes["committee_request"]
    packets = demo.rows(select(packet_table).where(packet_table.c.kind == 3))
    for chain in CHAINS:
        on_chain = [p for p in packets if p.l1_chain_id == chain]
        assert on_chain and {p.state for p in on_chain} == {"finalized"}
        assert committee.slash_id in {p.subject_id for p in on_chain}
        (line,) = demo.matches(
            rf"^chain {chain}: RestakingVault principal .+; the API lists (?P<count>\d+) SLASH packet\(s\)"
            rf" for it \(/v1/packets\?kind=slash&chain_id={chain}\): (?P<listed>.+?)\s*$"
        )
        assert int(line["count"]) == len(on_chain)
        assert sorted(line["listed"].split(", ")) == sorted(f"#{p.nonce} finalized" for p in on_chain)
    # Each chain's SLASH moved that chain's share; over both chains, every token Exocore cut.
    moved = {
        part.split(" ")[1]
        for match in landed
        if match["kind"] == "committee"
        for part in match["moved"].split(", ")
    }
    assets = demo.rows(select(slash_asset_table).where(slash_asset_table.c.slash_id == committee.slash_id))
    assert moved == {symbols[a.token] for a in assets} == {"WETH", "EXOR"}


def self_claimer() -> str:
    """The demo's self-claiming staker: anvil's dev account SELF_CLAIM_ACCOUNT_INDEX (public key)."""
    Account.enable_unaudited_hdwallet_features()
    path = f"m/44'/60'/0'/0/{SELF_CLAIM_ACCOUNT_INDEX}"
    return str(Account.from_mnemonic(DEFAULT_MNEMONIC, account_path=path).address).lower()


def test_a_staker_below_the_push_minimum_claims_for_itself_and_is_not_pushed_again(demo: DemoRun) -> None:
    """The staker holding its own key is owed less than the push minimum, so the relayer leaves it to
    accrue; it claims its whole total with ``exorelay claim --send``: the indexer records that one
    payout as the earner's own (``by_earner``) from the vault's log, the WETH moved to it on L1 in
    that transaction, the API shows it self-claimed with nothing left, and the relayer never pushed
    it (its only payout); every other earner was at or above the minimum and pushed."""
    earner = self_claimer()
    (root,) = demo.rows(select(cumulative_root_table))
    leaves = demo.rows(
        select(cumulative_leaf_table).where(cumulative_leaf_table.c.packet_nonce == root.packet_nonce)
    )
    (mine,) = [leaf for leaf in leaves if leaf.earner == earner]
    owed = int(mine.cumulative)
    assert 0 < owed < CUMULATIVE_PUSH_MINIMUM_WEI
    assert all(int(leaf.cumulative) >= CUMULATIVE_PUSH_MINIMUM_WEI for leaf in leaves if leaf is not mine)
    (payout,) = demo.rows(select(cumulative_payout_table).where(cumulative_payout_table.c.earner == earner))
    assert (bool(payout.by_earner), int(payout.amount), payout.recipient) == (True, owed, earner)
    others = demo.rows(select(cumulative_payout_table).where(cumulative_payout_table.c.earner != earner))
    assert others and not any(p.by_earner for p in others)
    # On L1 (the indexer's copy of the chain's Transfer logs): the vault sent it the WETH in its tx.
    (moved,) = demo.rows(
        select(transfer_table).where(
            transfer_table.c.tx_hash == payout.tx_hash, transfer_table.c.recipient == earner
        )
    )
    assert (int(moved.amount), moved.token, moved.l1_chain_id) == (owed, mine.token, FIRST_CHAIN_ID)
    url = str(demo.engine.url.render_as_string(hide_password=False))
    answer = api_get(url, f"/v1/stakers/{earner}/cumulative", chain_id=FIRST_CHAIN_ID)
    (token,) = [t for t in answer["tokens"] if t["token"] == mine.token]
    assert (token["paid_by_earner"], token["paid_pushed"], token["claimable"]) == (str(owed), "0", "0")
    assert [(p["by_earner"], p["tx_hash"]) for p in answer["payouts"]] == [(True, payout.tx_hash)]
    # The story said so, with the database's figures.
    assert demo.matches(
        rf"^\$ exorelay claim {earner} --send --no-leaves --chain-id {FIRST_CHAIN_ID} --config"
    )
    (sent,) = demo.matches(r"^\s*claimed: transaction (?P<tx>0x[0-9a-f]{64}) from (?P<sender>0x[0-9a-f]{40})")
    assert (sent["tx"], sent["sender"]) == (payout.tx_hash, earner)
    (shown,) = demo.matches(
        rf"^API /v1/stakers/{earner}/cumulative: paid by the earner (?P<own>{EXACT}) WETH, pushed by"
        rf" the relayer (?P<pushed>{EXACT}) WETH"
    )
    assert (shown["own"], shown["pushed"]) == (format_units(owed, places=18), format_units(0, places=18))
    assert f"self-claimed in {payout.tx_hash}" in demo.output
