"""A running devnet (block timer, gRPC server on a free port) with an AVS whose committee is elected,
and the aggregator's parts over it: what the aggregator tests and the aggregator benchmark share.

The committee's members are the devnet world's operators 0..n-1; their BLS secrets are known here
so tests can sign as any member (or as a stranger).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import httpx
from sqlalchemy import Engine

from avs.aggregator.committee import GrpcCommitteeSource
from avs.aggregator.service import Aggregator, AggregatorSettings
from avs.aggregator.submitter import ExocoreSubmitter
from devnet import scenario as sc
from devnet.chain.blockstore import BlockStore
from devnet.chain.node import DevnetNode
from devnet.chain.params import devnet_account_secret, devnet_accounts
from devnet.grpc.server import DevnetGrpcServer
from relayer.exocore.cosmos_tx import CosmosTxSender
from relayer.exocore.grpc_client import ExocoreGrpcClient
from relayer.l1.keystore import write_keystore
from relayer.protocol import bls
from relayer.protocol.claims import RewardClaim, SigningRequest, SlashRequest
from relayer.protocol.evidence import Attestation, evidence_hash
from relayer.protocol.ids import ChainId
from relayer.protocol.types import Address, Amount, Hash32
from tests.support.database import migrated_database
from tests.support.devnet_rpc import IDENTITY
from tests.support.devnet_world import CHAIN_ID, ETHER, REWARD_TOKEN, SEED, WETH, World, fixed_clock, genesis

BLOCK_TIME_S: Final = 0.05
EPOCH_BLOCKS: Final = 100
"""5 s epochs at :data:`BLOCK_TIME_S`: the devnet keeps stake snapshots of its last 64 epochs (a
slash of an older epoch is refused ``offence_too_old``), so a module that runs for minutes on a busy
machine must not outlive the epoch its requests were signed for."""
"""The devnet's block timer: submissions are followed until their block commits."""
AGGREGATOR_ACCOUNT: Final = "relayer"
"""The funded devnet account the aggregator signs its transactions with."""
CHAIN_HASH: Final = ChainId.parse(CHAIN_ID).hash


@dataclass
class Net:
    world: World
    avs: str
    epoch: int
    committee: sc.CommitteeView
    target: str
    grpc: ExocoreGrpcClient
    sender: CosmosTxSender
    engines: list[Engine] = field(default_factory=list)

    @property
    def node(self) -> DevnetNode:
        return self.world.node

    def operator(self, index: int) -> str:
        return self.committee.operators[index]

    def secret(self, index: int) -> bls.SecretKey:
        return self.world.secrets[self.committee.pubkeys[index]]

    def claim(self, amount: int = 10**21, epoch: int | None = None) -> RewardClaim:
        return RewardClaim(
            CHAIN_HASH,
            Address(bytes.fromhex(self.avs[2:])),
            self.epoch if epoch is None else epoch,
            Address(bytes.fromhex(REWARD_TOKEN[2:])),
            Amount(amount),
            Hash32(bytes(32)),
        )

    def slash_evidence(self, member: int) -> bytes:
        """The committee's attestation against ``member`` (what Exocore requires a slash request to
        carry): its keccak256 is the evidenceHash of :meth:`slash`."""
        target = sc.operator_account(SEED, member)
        avs = Address(bytes.fromhex(self.avs[2:]))
        return Attestation(CHAIN_HASH, avs, target.address, self.epoch, b"aggregator test finding").encode()

    def slash(self, member: int, proportion: int = 5 * 10**16) -> SlashRequest:
        target = sc.operator_account(SEED, member)
        return SlashRequest(
            CHAIN_HASH,
            Address(bytes.fromhex(self.avs[2:])),
            self.epoch,
            target.address,
            proportion,
            True,
            evidence_hash(self.slash_evidence(member)),
        )

    def sign(self, request: SigningRequest, index: int) -> bytes:
        digest = request.claim_id if isinstance(request, RewardClaim) else request.slash_id
        return bls.sign(self.secret(index), digest).compressed

    def body(self, request: SigningRequest, index: int) -> dict[str, str]:
        return {
            "request": "0x" + request.canonical_bytes.hex(),
            "operator": self.operator(index),
            "signature": "0x" + self.sign(request, index).hex(),
        }

    def aggregator(self, engine: Engine, *, clock: Any = None, **settings: Any) -> Aggregator:
        options: dict[str, Any] = {"chain_hash": CHAIN_HASH, "grace_s": 0.0, **settings}
        extra = {} if clock is None else {"clock": clock}
        return Aggregator(
            engine,
            GrpcCommitteeSource(self.grpc),
            AggregatorSettings(**options),
            submitter=ExocoreSubmitter(self.sender, self.grpc),
            **extra,
        )


def build_world(operators: int) -> tuple[World, str, int]:
    """Operators 0..n-1 with stake, opted into one AVS (committee of all of them), next epoch begun."""
    node = DevnetNode(
        genesis(accounts=devnet_accounts(SEED), epoch_blocks=EPOCH_BLOCKS),
        BlockStore(CHAIN_ID),
        clock_ns=fixed_clock(),
        block_time_s=BLOCK_TIME_S,
    )
    world = World(node)
    world.price(WETH, "3000")
    for index in range(operators):
        world.operator(index)
    avs = world.avs("alpha", committee_size=operators)
    for index in range(operators):
        world.opt_in(index, avs)
        world.delegate(sc.staker_address(SEED, index), index, WETH, (index % 5 + 1) * ETHER)
    epoch = world.next_epoch()
    return world, avs, epoch


@contextmanager
def running_net(operators: int = 4) -> Iterator[Net]:
    world, avs, epoch = build_world(operators)
    server = DevnetGrpcServer(
        world.node.store, IDENTITY, queries=world.node, driver=world.node, cosmos=world.node
    )
    server.start()
    world.node.start()
    grpc_client = ExocoreGrpcClient([server.target], chain_id=CHAIN_ID)
    sender = CosmosTxSender(server.target, CHAIN_ID, devnet_account_secret(SEED, AGGREGATOR_ACCOUNT))
    try:
        yield Net(world, avs, epoch, world.committee(avs, epoch), server.target, grpc_client, sender)
    finally:
        sender.close()
        grpc_client.close()
        world.node.stop()
        server.stop()


@contextmanager
def migrated(directory: Path) -> Iterator[Engine]:
    with migrated_database(directory) as engine:
        yield engine


class ManualClock:
    """A wall clock the test moves: expiry and grace windows without sleeping."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


# ---------------------------------------------------------------------------- the aggregator process

PROCESS_START_S: Final = 120.0
"""Hang guard for a fresh `exorelay aggregator` to answer /v1/health (cold imports on a busy host)."""
KEYSTORE_PASSWORD: Final = "aggregator-test"
OPEN_TOKEN: Final = "avs-token"
"""The AVS's bearer token the test processes accept (EXORELAY_AGGREGATOR_TOKEN)."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_process_config(directory: Path, net: Net, database_url: str, port: int, **aggregator: Any) -> Path:
    """A config file for `exorelay aggregator` over ``net`` with a keystore of the funded account."""
    keystore = directory / "aggregator-keystore.json"
    if not keystore.exists():
        write_keystore(
            keystore,
            devnet_account_secret(SEED, AGGREGATOR_ACCOUNT),
            KEYSTORE_PASSWORD,
            kdf="pbkdf2",
            iterations=16,
        )
    settings = {"port": port, "keystore_path": str(keystore), "grace_s": 0.0, "tick_s": 0.05, **aggregator}
    lines = [
        "[exocore]",
        f'chain_id = "{CHAIN_ID}"',
        f'grpc_endpoints = ["{net.target}"]',
        "[database]",
        f"url = {json.dumps(database_url)}",
        "[logging]",
        'format = "text"',
        "[aggregator]",
        *(f"{key} = {json.dumps(value)}" for key, value in settings.items()),
    ]
    path = directory / "aggregator.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def start_process(config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "EXORELAY_AGGREGATOR_KEYSTORE_PASSWORD": KEYSTORE_PASSWORD,
        "EXORELAY_AGGREGATOR_TOKEN": OPEN_TOKEN,
    }
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "relayer", "aggregator", "--config", str(config)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
        )


def wait_healthy(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + PROCESS_START_S
    while True:
        if process.poll() is not None:
            raise AssertionError(f"aggregator exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"aggregator did not become healthy:\n{log.read_text()[-4000:]}")
        time.sleep(0.1)


def sigkill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
