"""A devnet chain served over gRPC for the operator tests: five operators opted into one AVS whose
committee has four seats (the least-staked operator is out), their per-AVS keys as the EIP-2335
keystores the devnet writes, and builders for the claims they are asked to sign."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from avs.operator.checks import AvsPolicy
from avs.operator.keys import PasswordSource, load_keystore
from avs.operator.service import AvsSigner
from devnet import scenario as sc
from devnet.grpc.server import DevnetGrpcServer
from devnet.operator_keys import operator_keystore
from relayer.exocore.grpc_client import ExocoreGrpcClient
from relayer.protocol import bls
from relayer.protocol.claims import RewardClaim
from relayer.protocol.ids import OperatorAddress, exocore_chain_hash
from relayer.protocol.types import Amount, Hash32, as_address
from tests.support.devnet_rpc import IDENTITY
from tests.support.devnet_world import CHAIN_ID, ETHER, REWARD_TOKEN, SEED, WETH, World

EXOCORE_CHAIN = exocore_chain_hash(CHAIN_ID)
POLICY_MAX = 10**21
NOW = datetime(2030, 1, 1, tzinfo=UTC)
PASSWORD_ENV = "UNUSED_OPERATOR_PASSWORD_ENV"
OPERATORS = 5


@dataclass
class Served:
    world: World
    avs: str
    epoch: int
    grpc: ExocoreGrpcClient
    members: tuple[OperatorAddress, ...]
    keys: dict[str, bytes]
    """operator bech32 -> the compressed key Exocore registered for the AVS."""
    outsider: OperatorAddress
    keystore_dir: Path


@contextmanager
def served_world(keystore_dir: Path) -> Iterator[Served]:
    """Five operators opted into one AVS with a committee of four: operator 4 (least stake) is out."""
    world = World.create()
    world.price(WETH, "3000")
    for index in range(OPERATORS):
        world.operator(index)
    avs = world.avs("alpha", committee_size=4)
    for index in range(OPERATORS):
        world.opt_in(index, avs)
    for index in range(OPERATORS):
        world.self_delegate(index, WETH, (10 - index) * ETHER)
    world.next_epoch()
    committee = world.committee(avs)
    server = DevnetGrpcServer(world.node.store, IDENTITY, queries=world.node)
    server.start()
    grpc = ExocoreGrpcClient([server.target], chain_id=CHAIN_ID)
    keys = {}
    for index in range(OPERATORS):
        secret = sc.operator_bls_secret(SEED, index, avs)
        keys[str(sc.operator_account(SEED, index))] = bls.public_key_of(secret).compressed
    members = tuple(OperatorAddress.parse(m) for m in committee.operators)
    outsider = next(
        sc.operator_account(SEED, i) for i in range(OPERATORS) if sc.operator_account(SEED, i) not in members
    )
    try:
        yield Served(world, avs, committee.epoch, grpc, members, keys, outsider, keystore_dir)
    finally:
        grpc.close()
        server.stop(0)
        world.node.store.close()


def signer_of(served: Served, operator: OperatorAddress) -> AvsSigner:
    """The operator's key as ``exorelay operator`` gets it: from the keystore the devnet wrote."""
    index = next(i for i in range(OPERATORS) if sc.operator_account(SEED, i) == operator)
    files = operator_keystore(
        served.keystore_dir, str(operator), served.avs, sc.operator_bls_secret(SEED, index, served.avs)
    )
    key = load_keystore(files.keystore, PasswordSource(PASSWORD_ENV, files.password_file), {})
    policy = AvsPolicy(as_address(served.avs), {as_address(REWARD_TOKEN): POLICY_MAX})
    return AvsSigner(policy, key)


def claim(served: Served, **changes: object) -> RewardClaim:
    fields: dict[str, object] = {
        "exocore_chain": EXOCORE_CHAIN,
        "avs": as_address(served.avs),
        "epoch": served.epoch,
        "token": as_address(REWARD_TOKEN),
        "amount": Amount(POLICY_MAX),
        "tasks_root": Hash32(bytes(32)),
    }
    fields.update(changes)
    return RewardClaim(**fields)  # type: ignore[arg-type]
