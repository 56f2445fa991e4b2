"""``exorelay operator keys | protection export | protection import | run`` from the command line:
keys unlocked from the configured keystores, the protection database moved through an interchange
file (a conflicting file refused with exit 1), and ``run`` as a real process against a devnet served
over gRPC and a scripted aggregator: it signs the claim it is served, posts it, and stops on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from avs.operator.protection import SlashingProtection, SlotRecord
from devnet import scenario as sc
from devnet.grpc.server import DevnetGrpcServer
from devnet.operator_keys import operator_keystore
from relayer.cli import app
from relayer.protocol import bls
from relayer.protocol.claims import RewardClaim
from relayer.protocol.ids import exocore_chain_hash
from relayer.protocol.keystore import Keystore, Pbkdf2Cost
from relayer.protocol.types import Amount, Hash32, as_address
from storage.db import create_db_engine
from tests.support.devnet_rpc import IDENTITY
from tests.support.devnet_world import CHAIN_ID, REWARD_TOKEN, SEED, standard_world
from tests.support.http_script import Recorded, Reply, serve_http

AVS = "0x" + "ab" * 20
ACCOUNT = str(sc.operator_account(SEED, 0))
PASSWORD = "cli-password"
PASSWORD_ENV = "EXORELAY_OPERATOR_KEYSTORE_PASSWORD"
SECRET = bls.secret_key_from_seed(b"operator-cli".ljust(32, b"\0"))
EXORELAY = [sys.executable, "-c", "from relayer.cli import app; app()"]
RUN_DEADLINE_S = 60.0
"""How long the test waits for the operator process to post (it polls every 0.2 s)."""


def config_file(
    tmp_path: Path, *, db: str, avs_entries: str, aggregators: str = "[]", grpc: str = "127.0.0.1:1"
) -> Path:
    path = tmp_path / f"exorelay-{uuid.uuid4().hex[:6]}.toml"
    path.write_text(
        f'[exocore]\nchain_id = "{CHAIN_ID}"\ngrpc_endpoints = ["{grpc}"]\n'
        f'[operator]\naccount = "{ACCOUNT}"\nprotection_db_url = "{db}"\n'
        f"aggregator_urls = {aggregators}\npoll_interval_s = 0.2\nmetrics_port = 0\navs = {avs_entries}\n"
    )
    return path


def keystore_file(tmp_path: Path) -> Path:
    keystore = Keystore.encrypt(
        SECRET, PASSWORD, salt=bytes(32), iv=bytes(16), uuid=uuid.UUID(int=1), cost=Pbkdf2Cost(c=2**10)
    )
    path = tmp_path / "avs.keystore.json"
    path.write_text(keystore.dumps())
    return path


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    return CliRunner()


def test_keys_prints_each_avs_pubkey(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = f'[{{ address = "{AVS}", keystore_path = "{keystore_file(tmp_path)}" }}]'
    config = config_file(tmp_path, db=f"sqlite:///{tmp_path / 'p.sqlite'}", avs_entries=entries)
    result = runner.invoke(app, ["operator", "keys", "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "operator": ACCOUNT,
        "avs": AVS,
        "pubkey": "0x" + bls.public_key_of(SECRET).compressed.hex(),
    }
    monkeypatch.setenv(PASSWORD_ENV, "wrong")
    result = runner.invoke(app, ["operator", "keys", "-c", str(config)])
    assert result.exit_code == 1 and "KeystorePasswordError" in result.output


def test_protection_export_then_import_and_a_conflicting_file_refused(
    runner: CliRunner, tmp_path: Path
) -> None:
    source_db, target_db = f"sqlite:///{tmp_path / 'a.sqlite'}", f"sqlite:///{tmp_path / 'b.sqlite'}"
    source = SlashingProtection(create_db_engine(source_db), chain_id=CHAIN_ID)
    record = SlotRecord(
        b"\x01" * 48, Hash32(b"\x02" * 32), Hash32(b"\x03" * 32), "reward_claim", b"\x04" * 20, 9
    )
    source.authorize(record)
    source.engine.dispose()
    exported = tmp_path / "protection.json"
    result = runner.invoke(
        app,
        [
            "operator",
            "protection",
            "export",
            "-c",
            str(config_file(tmp_path, db=source_db, avs_entries="[]")),
            "-o",
            str(exported),
        ],
    )
    assert result.exit_code == 0, result.output
    target_config = config_file(tmp_path, db=target_db, avs_entries="[]")
    result = runner.invoke(app, ["operator", "protection", "import", str(exported), "-c", str(target_config)])
    assert result.exit_code == 0, result.output
    assert "imported 1 slot(s), 0 already present" in result.output
    document = json.loads(exported.read_text())
    document["data"][0]["signed_slots"][0]["digest"] = "0x" + "05" * 32
    exported.write_text(json.dumps(document))
    result = runner.invoke(app, ["operator", "protection", "import", str(exported), "-c", str(target_config)])
    assert result.exit_code == 1 and "import refused: conflict" in result.output
    target = SlashingProtection(create_db_engine(target_db), chain_id=CHAIN_ID)
    assert target.signed_slots() == [record]
    target.engine.dispose()


def test_run_refuses_to_start_without_an_avs(tmp_path: Path) -> None:
    # A process of its own: `run` installs signal handlers and configures the root logger.
    config = config_file(tmp_path, db=f"sqlite:///{tmp_path / 'p.sqlite'}", avs_entries="[]")
    result = subprocess.run(
        [*EXORELAY, "operator", "run", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=RUN_DEADLINE_S,
        check=False,
    )
    assert result.returncode == 2 and "operator.avs lists no AVS" in result.stderr


@pytest.fixture
def standard_served() -> Iterator[tuple[str, str, RewardClaim, bytes]]:
    """(gRPC target, AVS, a claim for the current epoch, operator 0's registered key)."""
    world, avs = standard_world()
    committee = world.committee(avs)
    server = DevnetGrpcServer(world.node.store, IDENTITY, queries=world.node)
    server.start()
    claim = RewardClaim(
        exocore_chain_hash(CHAIN_ID),
        as_address(avs),
        committee.epoch,
        as_address(REWARD_TOKEN),
        Amount(10**20),
        Hash32(bytes(32)),
    )
    index = committee.operators.index(ACCOUNT)
    try:
        yield server.target, avs, claim, committee.pubkeys[index]
    finally:
        server.stop(0)
        world.node.store.close()


def test_run_signs_what_it_is_served_and_stops_on_sigterm(
    tmp_path: Path, standard_served: tuple[str, str, RewardClaim, bytes]
) -> None:
    target, avs, claim, registered_key = standard_served
    files = operator_keystore(tmp_path / "keys", ACCOUNT, avs, sc.operator_bls_secret(SEED, 0, avs))
    document = {
        "digest": "0x" + claim.claim_id.hex(),
        "slot": "0x" + claim.signing_slot.hex(),
        "kind": "reward_claim",
        "avs": avs,
        "epoch": str(claim.epoch),
        "request": "0x" + claim.canonical_bytes.hex(),
        "evidence": None,
        "state": "collecting",
        "expires_at": "2999-01-01T00:00:00+00:00",
    }

    def aggregator(request: Recorded) -> Reply:
        if request.method == "GET":
            return Reply(200, {"items": [document], "next_cursor": None})
        return Reply(202, {"digest": document["digest"], "verdict": "accepted", "state": "collecting"})

    with serve_http(aggregator) as server:
        entries = (
            f'[{{ address = "{avs}", keystore_path = "{files.keystore}", '
            f'keystore_password_file = "{files.password_file}", '
            f'max_amount_per_epoch = {{ "{REWARD_TOKEN}" = "{10**21}" }} }}]'
        )
        config = config_file(
            tmp_path,
            db=f"sqlite:///{tmp_path / 'run.sqlite'}",
            avs_entries=entries,
            aggregators=f'["{server.url}"]',
            grpc=target,
        )
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from relayer.cli import app; app()",
                "operator",
                "run",
                "-c",
                str(config),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            deadline = time.monotonic() + RUN_DEADLINE_S
            while not any(r.method == "POST" for r in server.requests) and time.monotonic() < deadline:
                if process.poll() is not None:
                    break
                time.sleep(0.1)
        finally:
            process.send_signal(signal.SIGTERM)
            output, _ = process.communicate(timeout=RUN_DEADLINE_S)
    assert process.returncode == 0, output
    posts = [r for r in server.requests if r.method == "POST"]
    assert len(posts) == 1, output  # later polls find it settled: posted once
    signature = bls.parse_signature(bytes.fromhex(posts[0].body["signature"][2:]))
    assert bls.verify(bls.parse_public_key(registered_key), claim.claim_id, signature)
    assert '"msg":"post to ' in output and '"digest":"0x' + claim.claim_id.hex() in output
