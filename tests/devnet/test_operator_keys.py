"""Operators' per-AVS keys as EIP-2335 keystores: the scenario client opts an operator in with the key
of the keystore in its keystore directory (writing the seed's dev key there when there is none), so
the key Exocore's committee lists is the one ``exorelay operator`` unlocks."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from avs.operator.keys import PasswordSource, load_keystore
from devnet import scenario as sc
from devnet.chain.params import devnet_accounts
from devnet.grpc.server import DevnetGrpcServer
from devnet.operator_keys import INDEX_NAME, keystore_paths, operator_keystore
from relayer.protocol import bls
from tests.support.devnet_rpc import IDENTITY
from tests.support.devnet_world import CHAIN_ID, ETHER, SEED, WETH, World, signing_client

SCENARIO_SEED = "keys"


@pytest.fixture
def world() -> Iterator[World]:
    world = World.create(accounts=devnet_accounts(SEED))
    yield world
    world.node.store.close()


def test_keystores_are_written_private_indexed_and_reused(tmp_path: Path) -> None:
    avs = "0x" + "ab" * 20
    operator = str(sc.operator_account(SCENARIO_SEED, 0))
    dev = sc.operator_bls_secret(SCENARIO_SEED, 0, avs)
    written = operator_keystore(tmp_path, operator, avs, dev)
    assert written.secret == dev
    for path in (written.keystore, written.password_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = load_keystore(written.keystore, PasswordSource("UNSET_ENV", written.password_file), {})
    assert key.public_key == bls.public_key_of(dev)
    # A second call (another scenario run) keeps the same keystore and password.
    again = operator_keystore(tmp_path, operator, avs, sc.operator_bls_secret("other", 0, avs))
    assert again.secret == dev and again.keystore.read_text() == written.keystore.read_text()
    [entry] = json.loads((tmp_path / INDEX_NAME).read_text())
    assert entry == {
        "operator": operator,
        "avs": avs,
        "pubkey": "0x" + bls.public_key_of(dev).compressed.hex(),
        "keystore": str(written.keystore),
        "password_file": str(written.password_file),
    }


def test_the_opted_in_key_is_the_keystores(world: World, tmp_path: Path) -> None:
    world.price(WETH, "3000")
    avs = world.avs("keyed")
    brought = bls.secret_key_from_seed(b"a key the operator brought".ljust(32, b"\0"))
    server = DevnetGrpcServer(
        world.node.store, IDENTITY, queries=world.node, driver=world.node, cosmos=world.node
    )
    server.start()
    try:
        with signing_client(server.target, seed=SCENARIO_SEED, keystore_dir=tmp_path) as client:
            accounts = client.register_operators(2, ["0.1"])
            # Operator 1 brings its own keystore before opting in; operator 0 gets the dev key written.
            operator_keystore(tmp_path, str(accounts[1]), avs, brought)
            for index in range(2):
                client.opt_in(index, avs)
                world.node.submit(
                    sc.delegate_msg(accounts[index].address, WETH, accounts[index], (index + 1) * ETHER)
                )
            world.next_epoch()
            committee = client.committee(avs)
    finally:
        server.stop(0)
    registered = dict(zip(committee.operators, committee.pubkeys, strict=True))
    for account in accounts:
        keystore, password = keystore_paths(tmp_path, str(account), avs)
        key = load_keystore(keystore, PasswordSource("UNSET_ENV", password), {})
        assert registered[str(account)] == key.pubkey_bytes
    assert registered[str(accounts[1])] == bls.public_key_of(brought).compressed
    assert (
        registered[str(accounts[0])]
        == bls.public_key_of(sc.operator_bls_secret(SCENARIO_SEED, 0, avs)).compressed
    )


def test_a_client_of_a_manifest_keeps_keys_where_the_manifest_says(tmp_path: Path) -> None:
    exocore = {"grpc_target": "127.0.0.1:1", "chain_id": CHAIN_ID, "operator_keys_dir": str(tmp_path / "k")}
    with sc.ScenarioClient.for_manifest(exocore) as client:
        assert client.keystore_dir == tmp_path / "k"
    with sc.ScenarioClient.for_manifest(exocore, keystore_dir=tmp_path / "other") as client:
        assert client.keystore_dir == tmp_path / "other"
    with sc.ScenarioClient.for_manifest({"grpc_target": "127.0.0.1:1", "chain_id": CHAIN_ID}) as client:
        assert client.keystore_dir is None
