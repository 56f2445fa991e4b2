"""`exorelay devnet up|status|down` as subprocesses: background daemon, manifest, resume, PIDs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from devnet.cli import ANVIL_MARKER, DAEMON_MARKER, process_alive

EXORELAY = [sys.executable, "-c", "from relayer.cli import app; app()"]
CLI_TIMEOUT_S = 120


def exorelay(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*EXORELAY, *args], capture_output=True, text=True, timeout=CLI_TIMEOUT_S, check=False
    )


def rpc_height(manifest: dict[str, Any]) -> int:
    status = httpx.get(f"{manifest['exocore']['rpc_url']}/status", timeout=5).json()
    return int(status["result"]["sync_info"]["latest_block_height"])


@pytest.fixture
def home(tmp_path: Path) -> Any:
    home = tmp_path / ".exorelay"
    yield home
    exorelay("devnet", "down", "--home", str(home))  # never leave processes behind


def test_up_status_down_and_resume(home: Path) -> None:
    up = exorelay(
        "devnet",
        "up",
        "--home",
        str(home),
        "--block-time",
        "100",
        "--epoch-blocks",
        "3",
        "--validators",
        "3",
        "--seed",
        "cli-test",
    )
    assert up.returncode == 0, up.stderr
    manifest = json.loads((home / "devnet.json").read_text())
    assert manifest["status"] == "ready"
    assert manifest["exocore"]["chain_id"] == "exocoredevnet_233-1"
    assert len(manifest["validators"]) == 3 and manifest["validators"][0]["bls_secret_key"].startswith("0x")
    assert {t["funding"] for t in manifest["reward_tokens"]} == {"MINT", "VAULT"}
    assert set(manifest["l1"]["contracts"]) == {
        "gateway",
        "reward_vault",
        "restaking_vault",
        "reward_token",
        "weth",
    }
    assert len(manifest["dev_accounts"]) == 10
    # Where the scenario client keeps operators' per-AVS keystores (what `exorelay operator` unlocks).
    assert manifest["exocore"]["operator_keys_dir"] == str(home.resolve() / "operator-keys")
    daemon, anvil = manifest["pids"]["daemon"], manifest["pids"]["anvil"]
    assert process_alive(daemon, DAEMON_MARKER) and process_alive(anvil, ANVIL_MARKER)
    gateway_code = httpx.post(
        manifest["l1"]["rpc_url"],
        json={
            "jsonrpc": "2.0",
            "id": 1,
            "method": "eth_getCode",
            "params": [manifest["l1"]["contracts"]["gateway"], "latest"],
        },
        timeout=5,
    ).json()["result"]
    assert len(gateway_code) > 2

    status = exorelay("devnet", "status", "--home", str(home))
    assert status.returncode == 0, status.stdout + status.stderr
    assert "exocore" in status.stdout and "ok" in status.stdout and "height" in status.stdout

    again = exorelay("devnet", "up", "--home", str(home))
    assert again.returncode == 1 and "already running" in again.stderr

    height = rpc_height(manifest)
    down = exorelay("devnet", "down", "--home", str(home))
    assert down.returncode == 0 and "stopped" in down.stdout
    assert not process_alive(daemon, DAEMON_MARKER) and not process_alive(anvil, ANVIL_MARKER)
    assert exorelay("devnet", "status", "--home", str(home)).returncode == 1

    resumed = exorelay("devnet", "up", "--home", str(home), "--block-time", "100")
    assert resumed.returncode == 0, resumed.stderr
    manifest = json.loads((home / "devnet.json").read_text())
    assert rpc_height(manifest) >= height
    assert manifest["l1"]["contracts"]["gateway"] in resumed.stdout


def test_up_with_a_second_client_chain_runs_two_anvils_and_resumes_both(home: Path) -> None:
    args = ("--home", str(home), "--block-time", "100", "--seed", "cli-two-chains")
    up = exorelay("devnet", "up", *args, "--client-chain-id", "31338")
    assert up.returncode == 0, up.stderr
    manifest = json.loads((home / "devnet.json").read_text())
    [other] = manifest["client_chains"]
    assert (manifest["l1"]["chain_id"], other["chain_id"]) == (31337, 31338)
    assert other["rpc_url"] != manifest["l1"]["rpc_url"] and other["rpc_url"] in up.stdout
    chain_id = httpx.post(
        other["rpc_url"], json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}, timeout=5
    ).json()["result"]
    assert int(chain_id, 16) == 31338
    [other_anvil] = manifest["pids"]["client_anvils"]
    assert process_alive(other_anvil, ANVIL_MARKER)

    down = exorelay("devnet", "down", "--home", str(home))
    assert down.returncode == 0
    assert not process_alive(other_anvil, ANVIL_MARKER)
    resumed = exorelay("devnet", "up", *args)  # the stored genesis names the second chain
    assert resumed.returncode == 0, resumed.stderr
    manifest = json.loads((home / "devnet.json").read_text())
    assert [c["chain_id"] for c in manifest["client_chains"]] == [31338]
    assert manifest["client_chains"][0]["contracts"]["gateway"] == other["contracts"]["gateway"]
