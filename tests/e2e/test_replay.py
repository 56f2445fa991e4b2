"""Record and replay: a devnet scenario recorded before any relayer ran, replayed by the
unmodified relayer + indexer on anvil forks of the stack's own L1 (tests have no internet).

The recording is made with ``exorelay record`` against the devnet's CometBFT RPC and gRPC; every replay
forks the stack's anvil at the block where the recording was made, so the packets are still to be
delivered on the fork, and the source chain is never touched.
"""

from __future__ import annotations

import base64
import copy
import json
import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner, Result
from web3 import Web3

from devnet.replay.runner import ReplayOptions, replay
from devnet.scenario import ScenarioClient, run_manifest_scenario
from devnet.stack import DevnetStack
from relayer.cli import app
from relayer.exocore.proto.feedistribution.v1 import types_pb2 as fee_types
from relayer.l1.artifacts import ContractName, load_artifact
from relayer.protocol.claims import PROPORTION_ONE
from relayer.replay.errors import FixtureChecksumError, FixtureFormatError, FixtureVersionError
from relayer.replay.fixture import (
    FORMAT_VERSION,
    body_checksum,
    load_fixture,
    parse_message,
    parse_messages,
    read_document,
)
from relayer.replay.report import Report, diff_reports, render_text, report_json
from storage.l1_tables import tx_intent_table
from tests.e2e.relayer_process import write_toml
from tests.support.database import fresh_database
from tests.support.relayer_harness import AVS_B_FUNDING_WEI

OPERATORS = 4
STAKERS = 6
SLASH_PROPORTION = PROPORTION_ONE // 20
EXIT_DIFFERENT = 1
EXIT_ERROR = 2


@dataclass(frozen=True)
class Recording:
    stack: DevnetStack
    fixture: Path
    fork_url: str
    fork_block: int
    gateway: str
    unfunded_block: int
    """An L1 block before the VAULT-funded AVS deposited: a fork there has no deposit to pay from."""

    def options(self) -> ReplayOptions:
        return ReplayOptions(fork_url=self.fork_url, fork_block=self.fork_block)


def invoke(args: Sequence[str]) -> Result:
    """Run the CLI in-process; it configures logging, so the root logger is restored afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        return CliRunner().invoke(app, list(args))
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recording]:
    directory = tmp_path_factory.mktemp("replay")
    with DevnetStack(directory / "chains", exocore_block_time_s=None) as stack:
        exocore = stack.manifest["exocore"]
        with ScenarioClient.for_manifest(exocore) as client:
            scenario = run_manifest_scenario(client, stack.manifest, operators=OPERATORS, stakers=STAKERS)
            assert stack.anvil is not None
            unfunded_block = int(stack.anvil.rpc("eth_blockNumber"), 16)
            stack.fund_avs_eth(scenario.avss[1], AVS_B_FUNDING_WEI, account_index=2)
            client.slash(client.committee(scenario.avss[0]), 0, SLASH_PROPORTION)
            height = client.advance(2)
        config = directory / "record.toml"
        write_toml(config, {"exocore": stack.relayer_settings("sqlite://")["exocore"]})
        fixture = directory / "scenario.json.gz"
        result = invoke(
            ["record", "--from", "1", "--to", str(height), "--out", str(fixture), "--config", str(config)]
        )
        assert result.exit_code == 0, result.output
        assert stack.anvil is not None
        yield Recording(
            stack=stack,
            fixture=fixture,
            fork_url=stack.anvil.rpc_url,
            fork_block=int(stack.anvil.rpc("eth_blockNumber"), 16),
            gateway=stack.gateway,
            unfunded_block=unfunded_block,
        )


@pytest.fixture(scope="module")
def first_report(recording: Recording) -> Report:
    return replay(load_fixture(recording.fixture), recording.options())


def recorded_distributions(recording: Recording) -> dict[int, Any]:
    fixture = load_fixture(recording.fixture)
    return {
        int(d.nonce): d
        for d in parse_messages(fee_types.Distribution, fixture.grpc.distributions, "distributions")
    }


def test_replaying_twice_gives_the_same_roots_payouts_and_lifecycles(
    recording: Recording, first_report: Report, tmp_path: Path
) -> None:
    fixture = load_fixture(recording.fixture)
    # The second run on the tests' database (PostgreSQL in CI), the first on replay's own SQLite.
    with fresh_database(tmp_path) as engine:
        second = replay(fixture, recording.options(), engine=engine)
    assert diff_reports(first_report, second) == []

    report = first_report
    assert report["outcome"] == "complete"
    assert report["exocore_height_indexed"] == fixture.to_height
    assert [(p["kind"], p["outcome"]) for p in report["packets"]] == [
        ("REWARD_DISTRIBUTION", "delivered"),
        ("REWARD_DISTRIBUTION", "delivered"),
        ("SLASH", "delivered"),
    ]
    assert all(p["signed_power"] == p["total_power"] for p in report["packets"])  # every validator signed

    recorded = recorded_distributions(recording)
    per_token: Counter[str] = Counter()
    for d in report["distributions"]:
        source = recorded[d["nonce"]]
        assert d["merkle_root"] == d["l1_root"] == "0x" + bytes(source.merkle_root).hex()
        assert d["total"] == d["l1_paid"] == d["l1_reward_paid_amount"] == source.total
        assert (
            d["leaf_count"] == d["l1_reward_paid_events"] == len(fixture.grpc.distribution_leaves[d["nonce"]])
        )
        assert d["payout_stage"] == "paid"
        per_token[d["token"]] += int(d["total"])
    assert len(report["distributions"]) == len(recorded) == 2

    payouts = report["payouts"]
    assert (
        payouts["paid"] == payouts["leaves"] == sum(len(v) for v in fixture.grpc.distribution_leaves.values())
    )
    assert {t: int(e["amount"]) for t, e in payouts["paid_by_token"].items()} == dict(per_token)

    assert [c["state"] for c in report["claims"]] == ["paid", "paid"]
    assert all(c["lifecycle"][0] == "submitted" and c["lifecycle"][-1] == "paid" for c in report["claims"])
    assert [(s["state"], s["lifecycle"][-1]) for s in report["slashes"]] == [("finalized", "finalized")]

    gas = report["gas"]
    assert set(gas["by_purpose"]) == {"distribution", "payout", "slash"}
    assert all(e["gas_used"] > 0 for e in gas["by_purpose"].values())
    assert gas["total_gas_used"] == sum(e["gas_used"] for e in gas["by_purpose"].values())
    assert report["refusals"] == []

    # The replays ran on forks: the recorded chain's own L1 still has every packet to deliver.
    w3 = Web3(Web3.HTTPProvider(recording.fork_url))
    gateway = w3.eth.contract(
        address=Web3.to_checksum_address(recording.gateway),
        abi=load_artifact(ContractName.EXOCORE_GATEWAY).abi_list(),
    )
    assert not any(gateway.functions.nonceUsed(p["nonce"]).call() for p in report["packets"])


def test_a_tampered_fixture_is_refused_with_the_typed_checksum_error(
    recording: Recording, tmp_path: Path
) -> None:
    document = read_document(recording.fixture)
    original = document["sha256"]

    reindented = tmp_path / "reindented.json"
    reindented.write_text(json.dumps(document, indent=2))
    assert load_fixture(reindented).sha256 == original  # the checksum covers content, not layout

    tampered_document = copy.deepcopy(document)
    leaves = tampered_document["grpc"]["distribution_leaves"]["1"]
    leaves[0], leaves[1] = leaves[1], leaves[0]
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(tampered_document))
    with pytest.raises(FixtureChecksumError) as refused:
        load_fixture(tampered)
    assert refused.value.expected == original
    assert refused.value.actual == body_checksum(tampered_document) != original

    result = invoke(["replay", "--fixture", str(tampered), "--l1-fork-url", recording.fork_url])
    assert result.exit_code == EXIT_ERROR
    assert "FixtureChecksumError" in result.output

    garbage = tmp_path / "garbage.json"
    garbage.write_bytes(b"\x00 not a fixture")
    with pytest.raises(FixtureFormatError):
        load_fixture(garbage)

    newer = copy.deepcopy(document)
    newer["format_version"] = FORMAT_VERSION + 1
    newer["sha256"] = body_checksum(newer)
    future = tmp_path / "future.json"
    future.write_text(json.dumps(newer))
    with pytest.raises(FixtureVersionError):
        load_fixture(future)


def test_expect_with_another_expectation_exits_non_zero_with_a_diff(
    recording: Recording, first_report: Report, tmp_path: Path
) -> None:
    expected = copy.deepcopy(first_report)
    paid = int(expected["payouts"]["paid"])
    expected["payouts"]["paid"] = paid - 1
    expectation = tmp_path / "expected.json"
    expectation.write_text(report_json(expected))
    written = tmp_path / "report.json"
    result = invoke(
        [
            "replay",
            "--fixture", str(recording.fixture),
            "--l1-fork-url", recording.fork_url,
            "--fork-block", str(recording.fork_block),
            "--expect", str(expectation),
            "--report", str(written),
        ]
    )  # fmt: skip
    assert result.exit_code == EXIT_DIFFERENT, result.output
    assert f'-    "paid": {paid - 1},' in result.output
    assert f'+    "paid": {paid},' in result.output
    assert "differs from" in result.output
    # The CLI's replay (a third run) reports exactly what the first one did.
    assert diff_reports(first_report, json.loads(written.read_text())) == []


def test_a_recording_whose_leaves_miss_the_root_is_refused_with_the_reason(
    recording: Recording, tmp_path: Path
) -> None:
    document = read_document(recording.fixture)
    leaves = document["grpc"]["distribution_leaves"]["1"]
    leaf = parse_message(fee_types.DistributionLeaf, base64.b64decode(leaves[0]), "leaf")
    leaf.amount = str(int(leaf.amount) + 1)
    leaves[0] = base64.b64encode(leaf.SerializeToString()).decode()
    document["sha256"] = body_checksum(document)  # a consistent file, whose content lies
    doctored = tmp_path / "doctored.json"
    doctored.write_text(json.dumps(document))

    report = replay(load_fixture(doctored), recording.options())
    assert report["outcome"] == "complete"
    outcomes = {p["nonce"]: (p["outcome"], p["reason"]) for p in report["packets"]}
    assert outcomes == {1: ("refused", "root_mismatch"), 2: ("delivered", None), 3: ("delivered", None)}
    assert "packet root" in report["packets"][0]["detail"]
    assert [r["what"] for r in report["refusals"]] == ["packet 1 (REWARD_DISTRIBUTION)"]
    assert [d["nonce"] for d in report["distributions"] if d["payout_stage"] == "paid"] == [2]


def test_record_and_replay_refuse_what_they_cannot_do(recording: Recording, tmp_path: Path) -> None:
    fixture = load_fixture(recording.fixture)
    config = tmp_path / "record.toml"
    write_toml(config, {"exocore": recording.stack.relayer_settings("sqlite://")["exocore"]})
    beyond = fixture.to_height + 10
    result = invoke(
        [
            "record",
            "--from",
            "1",
            "--to",
            str(beyond),
            "--out",
            str(tmp_path / "x.json"),
            "--config",
            str(config),
        ]
    )
    assert result.exit_code == EXIT_ERROR
    assert "RecordRangeError" in result.output and "not committed yet" in result.output
    assert not (tmp_path / "x.json").exists()

    # Forking L1 before the gateway was deployed: nothing to relay to, said before any relaying.
    result = invoke(
        [
            "replay",
            "--fixture",
            str(recording.fixture),
            "--l1-fork-url",
            recording.fork_url,
            "--fork-block",
            "1",
        ]
    )
    assert result.exit_code == EXIT_ERROR
    assert "ConfigError" in result.output and "no gateway" in result.output


def test_a_replay_whose_vault_has_no_deposit_ends_blocked_with_the_reason(
    recording: Recording, tmp_path: Path
) -> None:
    """Forked before the VAULT-funded AVS deposited: its payouts park (one balance read, no failed
    transaction per cycle) and the replay ends ``blocked`` saying why, instead of ``timeout``."""
    fixture = load_fixture(recording.fixture)
    options = ReplayOptions(fork_url=recording.fork_url, fork_block=recording.unfunded_block)
    with fresh_database(tmp_path) as engine:
        report = replay(fixture, options, engine=engine)
        vault_id = next(d["distribution_id"] for d in report["distributions"] if d["funding"] == 2)
        with engine.connect() as conn:
            attempts = conn.execute(
                select(func.count()).where(
                    tx_intent_table.c.distribution_id == vault_id, tx_intent_table.c.purpose == "payout"
                )
            ).scalar_one()
    assert attempts == 0  # parked by a balance read: nothing simulated, signed or failed
    assert report["outcome"] == "blocked"
    vault = [d for d in report["distributions"] if d["funding"] == 2]
    mint = [d for d in report["distributions"] if d["funding"] == 1]
    assert len(vault) == len(mint) == 1
    assert mint[0]["payout_stage"] == "paid"
    (d,) = vault
    assert (d["payout_stage"], d["payout_wait"], d["l1_reward_paid_events"]) == (
        "paying",
        "insufficient_deposit",
        0,
    )
    (blocked,) = report["blocked_by"]
    assert (blocked["item"], blocked["reason"]) == (
        f"distribution:{d['distribution_id']}",
        "insufficient_deposit",
    )
    assert f"holds 0 of token {d['token']} for AVS {d['avs']}" in blocked["detail"]
    assert f"needs {d['total']} (short by {d['total']})" in blocked["detail"]
    assert (
        "payout" not in report["gas"]["by_purpose"]
        or report["gas"]["by_purpose"]["payout"]["transactions"] >= 1
    )
    text = render_text(report)
    assert "outcome: blocked" in text
    assert f"blocked: distribution:{d['distribution_id']}: insufficient_deposit: RewardVault" in text
