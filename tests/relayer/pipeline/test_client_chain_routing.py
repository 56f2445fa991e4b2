"""Exocore addresses each packet to one client chain, and a relayer submits only its own chain's.

The devnet here relays to two client chains (two anvils, chain ids 31337 and 31338, each with the L1
contracts trusting the same genesis valset; the gateways even share one address). A validator-set
rotation makes one VALSET_UPDATE per chain, one nonce each. One relayer per chain, each with its own
database: each delivers its chain's update to its gateway, and sets the other chain's aside as
``other_client_chain`` (refused: never submitted, counted, retried only by an operator) instead of
sending it to a gateway that would revert it. And one relayer configured with both chains (one
pipeline per chain, one database) delivers each update to its own gateway.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from web3 import Web3

from devnet.chain.params import GENESIS_VALSET_NONCE
from devnet.scenario import ScenarioClient, validator_msg
from devnet.stack import DevnetStack
from indexer.api.app import create_app
from indexer.ingest.l1 import l1_stream_name
from relayer.config import ExorelayConfig
from relayer.l1.artifacts import ContractName, load_artifact
from relayer.ops import status
from relayer.pipeline.retry import RetryReason
from relayer.protocol import bls
from relayer.protocol.kinds import PacketKind
from relayer.service import RelayerService
from storage.job_tables import JobStage, relay_job_table
from storage.l1_tables import tx_intent_table
from storage.lifecycle import PacketState
from storage.models import cursor_table, packet_table
from tests.support.database import fresh_database
from tests.support.relayer_harness import L1_BLOCK_TIME_S, SIGNER_ACCOUNT_INDEX

CHAIN_B_ID = 31338
"""The second client chain: anvil's default id plus one."""
CYCLE_TIMEOUT_S = 90.0
"""Generous: both relayers' cycles share the thread, and two cores may be busy with other tests."""
CYCLE_PAUSE_S = 0.1
"""Between two rounds of cycles: L1 makes a block every L1_BLOCK_TIME_S."""


def _jobs(engine: Engine) -> list[Any]:
    with engine.begin() as conn:
        return list(conn.execute(select(relay_job_table).order_by(relay_job_table.c.packet_nonce)))


def _intents(engine: Engine) -> list[Any]:
    with engine.begin() as conn:
        return list(conn.execute(select(tx_intent_table)))


def _packets(engine: Engine) -> dict[int, tuple[int | None, str]]:
    """Packet nonce -> (client chain, state) as the indexer recorded them."""
    with engine.begin() as conn:
        return {r.nonce: (r.l1_chain_id, r.state) for r in conn.execute(select(packet_table))}


def _gateway(manifest_chain: dict[str, Any]) -> Any:
    w3 = Web3(Web3.HTTPProvider(manifest_chain["rpc_url"]))
    return w3.eth.contract(
        address=Web3.to_checksum_address(manifest_chain["contracts"]["gateway"]),
        abi=load_artifact(ContractName.EXOCORE_GATEWAY).abi_list(),
    )


@pytest.fixture
def two_chains(tmp_path: Path) -> Iterator[tuple[DevnetStack, RelayerService, RelayerService]]:
    with (
        DevnetStack(
            tmp_path / "chains",
            exocore_block_time_s=None,
            l1_block_time_s=L1_BLOCK_TIME_S,
            other_chain_ids=(CHAIN_B_ID,),
        ) as stack,
        fresh_database(tmp_path) as engine_a,
        fresh_database(tmp_path) as engine_b,
    ):
        assert stack.anvil is not None
        signer = Account.from_key(stack.anvil.dev_accounts()[SIGNER_ACCOUNT_INDEX].private_key)
        services = [
            RelayerService(
                ExorelayConfig.model_validate(
                    stack.relayer_settings(str(engine.url.render_as_string(hide_password=False)), chain=chain)
                ),
                signer=signer,  # the same dev key on both anvils (one mnemonic)
                engine=engine,
            )
            for chain, engine in ((0, engine_a), (1, engine_b))
        ]
        try:
            yield stack, services[0], services[1]
        finally:
            for service in services:
                service.stop()


def test_each_relayer_delivers_its_chains_packets_and_sets_the_others_aside(
    two_chains: tuple[DevnetStack, RelayerService, RelayerService],
) -> None:
    stack, relayer_a, relayer_b = two_chains
    chain_a, chain_b = stack.manifest["l1"], stack.manifest["client_chains"][0]
    assert chain_b["chain_id"] == CHAIN_B_ID
    for service in (relayer_a, relayer_b):
        service.parts.pipeline.relay_params()  # both chains are Exocore's: both relayers start
    with ScenarioClient.for_manifest(
        stack.manifest["exocore"], manifest_keystores=False, sign_reports=False
    ) as client:
        secret = bls.secret_key_from_seed(b"two-chain-rotation-validator-key-material")
        client.send(validator_msg(b"\x52" * 32, secret, 100))
        client.advance(2)

    def settled(service: RelayerService) -> bool:
        rows = _jobs(service.parts.engine)
        return len(rows) == 2 and all(r.stage in (JobStage.DELIVERED, JobStage.REFUSED) for r in rows)

    deadline = time.monotonic() + CYCLE_TIMEOUT_S
    while not (settled(relayer_a) and settled(relayer_b)):
        assert time.monotonic() < deadline, "the two relayers did not settle"
        relayer_a.cycle()
        relayer_b.cycle()
        time.sleep(CYCLE_PAUSE_S)

    for service, own_index in ((relayer_a, 0), (relayer_b, 1)):
        rows = _jobs(service.parts.engine)
        assert [r.kind for r in rows] == [int(PacketKind.VALSET_UPDATE)] * 2
        own, other = rows[own_index], rows[1 - own_index]
        assert own.stage == JobStage.DELIVERED
        assert (other.stage, other.retry_reason) == (JobStage.REFUSED, RetryReason.OTHER_CLIENT_CHAIN)
        assert f"chain {(chain_a, chain_b)[1 - own_index]['chain_id']}" in other.retry_detail
        # Set aside before any transaction: the only intent is the own chain's update.
        assert [i.key.split(":")[:2] for i in _intents(service.parts.engine)] == [
            ["packet", str(own.packet_nonce)]
        ]

    # Loud: `exorelay status`, a gauge, and a line under /ready's `attention` (the API still serves).
    waiting = status(relayer_a.parts.engine).waiting
    assert [(w.stage, w.retry_reason) for w in waiting] == [
        (JobStage.REFUSED, RetryReason.OTHER_CLIENT_CHAIN)
    ]
    relayer_a.refresh_metrics()
    assert relayer_a.parts.metrics.registry.get_sample_value("exorelay_packets_other_chain") == 1
    with TestClient(create_app(relayer_a.parts.engine)) as api:
        answer = api.get("/ready")
    body = answer.json()
    # Ready or not (ingestion lag is not this test's concern), the answer lists what needs attention.
    attention = body["attention"] if answer.status_code == 200 else body["error"]["details"]["attention"]
    assert [line.split(" set aside: ")[1].split(":")[0] for line in attention] == ["other_client_chain"]

    nonce_a, nonce_b = (r.packet_nonce for r in _jobs(relayer_a.parts.engine))
    gateway_a, gateway_b = _gateway(chain_a), _gateway(chain_b)
    for gateway, own_nonce, other_nonce in ((gateway_a, nonce_a, nonce_b), (gateway_b, nonce_b, nonce_a)):
        assert gateway.functions.currentValsetNonce().call() == GENESIS_VALSET_NONCE + 1
        assert gateway.functions.nonceUsed(own_nonce).call()
        assert not gateway.functions.nonceUsed(other_nonce).call()


@pytest.fixture
def one_relayer_two_chains(tmp_path: Path) -> Iterator[tuple[DevnetStack, RelayerService]]:
    with (
        DevnetStack(
            tmp_path / "chains",
            exocore_block_time_s=None,
            l1_block_time_s=L1_BLOCK_TIME_S,
            other_chain_ids=(CHAIN_B_ID,),
        ) as stack,
        fresh_database(tmp_path) as engine,
    ):
        assert stack.anvil is not None
        url = str(engine.url.render_as_string(hide_password=False))
        settings = stack.relayer_settings(url)
        settings["client_chains"] = [settings.pop("l1"), stack.relayer_settings(url, chain=1)["l1"]]
        signer = Account.from_key(stack.anvil.dev_accounts()[SIGNER_ACCOUNT_INDEX].private_key)
        service = RelayerService(ExorelayConfig.model_validate(settings), signer=signer, engine=engine)
        try:
            yield stack, service
        finally:
            service.stop()


def test_one_relayer_runs_a_pipeline_per_client_chain_over_one_work_queue(
    one_relayer_two_chains: tuple[DevnetStack, RelayerService],
) -> None:
    stack, service = one_relayer_two_chains
    chain_a, chain_b = stack.manifest["l1"], stack.manifest["client_chains"][0]
    assert [c.chain.chain_id for c in service.parts.chains] == [chain_a["chain_id"], CHAIN_B_ID]
    for chain in service.parts.chains:
        chain.pipeline.relay_params()
    with ScenarioClient.for_manifest(
        stack.manifest["exocore"], manifest_keystores=False, sign_reports=False
    ) as client:
        secret = bls.secret_key_from_seed(b"one-relayer-two-chains-validator-key!!")
        client.send(validator_msg(b"\x53" * 32, secret, 100))
        client.advance(2)

    engine = service.parts.engine
    deadline = time.monotonic() + CYCLE_TIMEOUT_S
    while not (len(_jobs(engine)) == 2 and all(r.stage == JobStage.DELIVERED for r in _jobs(engine))):
        assert time.monotonic() < deadline, (
            f"not delivered: {[(r.stage, r.retry_reason) for r in _jobs(engine)]}"
        )
        service.cycle()
        time.sleep(CYCLE_PAUSE_S)

    rows = _jobs(engine)
    assert [r.l1_chain_id for r in rows] == [chain_a["chain_id"], CHAIN_B_ID]  # each job names its chain
    with engine.begin() as conn:
        intents = {(i.chain_id, i.packet_nonce) for i in conn.execute(select(tx_intent_table))}
    assert intents == {(chain_a["chain_id"], rows[0].packet_nonce), (CHAIN_B_ID, rows[1].packet_nonce)}
    # Each chain's L1 stream ingested on its own cursor, none halted.
    with engine.begin() as conn:
        cursors = {c.stream: c.halted for c in conn.execute(select(cursor_table))}
    assert {l1_stream_name(chain_a["chain_id"]), l1_stream_name(CHAIN_B_ID)} <= set(cursors)
    assert not any(cursors.values())
    # The indexer keys each packet by its chain, and each chain's ValsetUpdated relays that chain's
    # packet (both carry the same new valset nonce): the API lists each chain's own.
    landed = {PacketState.RELAYED.value, PacketState.FINALIZED.value}
    deadline = time.monotonic() + CYCLE_TIMEOUT_S
    while not all(state in landed for _, state in _packets(engine).values()):
        assert time.monotonic() < deadline, f"packets not indexed as landed: {_packets(engine)}"
        service.cycle()
        time.sleep(CYCLE_PAUSE_S)
    assert {n: chain for n, (chain, _) in _packets(engine).items()} == {
        rows[0].packet_nonce: chain_a["chain_id"],
        rows[1].packet_nonce: CHAIN_B_ID,
    }
    with TestClient(create_app(engine)) as api:
        for chain_id, own in ((chain_a["chain_id"], rows[0]), (CHAIN_B_ID, rows[1])):
            packets = api.get("/v1/packets", params={"chain_id": chain_id}).json()["items"]
            assert [(k["nonce"], k["chain_id"]) for k in packets] == [(own.packet_nonce, chain_id)]
            txs = api.get("/v1/l1/txs", params={"chain_id": chain_id}).json()["items"]
            assert txs and {t["chain_id"] for t in txs} == {chain_id}
        # The new set is installed on both gateways: one installation per chain, the same commitment
        # (each gateway's own), neither overwriting the other's.
        rotated = GENESIS_VALSET_NONCE + 1
        valset = api.get(f"/v1/valsets/{rotated}").json()
        installed = {i["chain_id"]: i for i in valset["installations"]}
        assert set(installed) == {chain_a["chain_id"], CHAIN_B_ID}
        for chain, gateway in ((chain_a, _gateway(chain_a)), (chain_b, _gateway(chain_b))):
            stored = "0x" + gateway.functions.valsetCommitmentOf(rotated).call().hex()
            assert installed[chain["chain_id"]]["commitment"] == stored
            assert installed[chain["chain_id"]]["l1"]["tx_hash"] in {
                t["tx_hash"]
                for t in api.get("/v1/l1/txs", params={"chain_id": chain["chain_id"]}).json()["items"]
            }
            on_chain = api.get("/v1/valsets", params={"chain_id": chain["chain_id"]}).json()["items"]
            assert rotated in [v["valset_nonce"] for v in on_chain]
    for gateway, own, other in ((_gateway(chain_a), rows[0], rows[1]), (_gateway(chain_b), rows[1], rows[0])):
        assert gateway.functions.currentValsetNonce().call() == GENESIS_VALSET_NONCE + 1
        assert gateway.functions.nonceUsed(own.packet_nonce).call()
        assert not gateway.functions.nonceUsed(other.packet_nonce).call()
