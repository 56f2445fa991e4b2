"""Real ``exorelay operator`` processes for the aggregator end-to-end tests: one per committee
member of an :class:`~tests.support.aggregator_net.Net`, each with its own config file, EIP-2335
keystore (as the devnet writes them) and slashing-protection database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Final

from devnet.operator_keys import operator_keystore
from tests.support.aggregator_net import Net
from tests.support.devnet_world import CHAIN_ID, REWARD_TOKEN

OPERATOR_POLL_S: Final = 0.1
"""The operators poll every 0.1 s: a request is signed within a few polls."""
POLICY_MAX: Final = 10**24
"""Each operator's local limit per epoch: far above the tests' claims (the policy is not under test)."""


def write_operator_config(directory: Path, net: Net, index: int, aggregator_url: str) -> Path:
    """Config of committee member ``index``'s `exorelay operator`, with its keystore for the AVS."""
    account = net.operator(index)
    entry = operator_keystore(directory / "keys", account, net.avs, net.secret(index))
    lines = [
        "[exocore]",
        f'chain_id = "{CHAIN_ID}"',
        f'grpc_endpoints = ["{net.target}"]',
        "[logging]",
        'format = "text"',
        "[operator]",
        f"account = {json.dumps(account)}",
        f"aggregator_urls = [{json.dumps(aggregator_url)}]",
        f"protection_db_url = {json.dumps('sqlite:///' + str(directory / f'protection-{index}.sqlite'))}",
        f"poll_interval_s = {OPERATOR_POLL_S}",
        "metrics_port = 0",
        "[[operator.avs]]",
        f"address = {json.dumps(net.avs)}",
        f"keystore_path = {json.dumps(str(entry.keystore))}",
        f"keystore_password_file = {json.dumps(str(entry.password_file))}",
        f'max_amount_per_epoch = {{ {json.dumps(REWARD_TOKEN)} = "{POLICY_MAX}" }}',
    ]
    path = directory / f"operator-{index}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def start_operator(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "relayer", "operator", "run", "--config", str(config)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=dict(os.environ),
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM and wait (the operator exits at its next poll); SIGKILL if it does not."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
