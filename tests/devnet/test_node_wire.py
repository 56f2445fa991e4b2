"""The devnet node behind its real servers: driven over gRPC Msg, read over RPC, websocket and gRPC."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import grpc
import httpx
import pytest
from cosmpy.protos.cosmos.base.query.v1beta1.pagination_pb2 import PageRequest
from websockets.sync.client import connect

from devnet import scenario as sc
from devnet.chain.blockstore import BlockStore
from devnet.chain.msgs import delegation_msg
from devnet.chain.params import DEVNET_LZ_CHAIN_ID, devnet_account_secret, devnet_accounts
from devnet.runtime import ExocoreDevnet
from relayer.exocore.proto.avs.v1 import query_pb2 as avs_query
from relayer.exocore.proto.avs.v1 import tx_pb2 as avs_tx
from relayer.exocore.proto.avs.v1 import types_pb2 as avs_pb
from relayer.exocore.proto.devnet.v1 import tx_pb2 as tx
from relayer.exocore.proto.feedistribution.v1 import query_pb2 as fee_query
from relayer.exocore.proto.relay.v1 import query_pb2 as relay_query
from relayer.protocol import bls
from relayer.protocol.merkle import DistributionLeaf, DistributionTree
from relayer.protocol.quorum import MemberList, SignerBitmap, check_quorum
from relayer.protocol.types import Address, Amount
from tests.support.devnet_world import CHAIN_ID, EPOCH_BLOCKS, SEED, genesis

WETH = "0x" + "c0" * 20
SECOND_TOKEN = "0x" + "c1" * 20
REWARD_TOKEN = "0x" + "e0" * 20
RECEIVE_TIMEOUT_S = 30.0


@pytest.fixture(scope="module")
def devnet() -> Iterator[tuple[ExocoreDevnet, sc.ScenarioClient, sc.ScenarioReport]]:
    running = ExocoreDevnet(genesis(accounts=devnet_accounts(SEED)), BlockStore(CHAIN_ID))
    running.start()
    # The devnet produces no blocks by itself: the client commits its transactions' blocks.
    client = sc.ScenarioClient(
        running.grpc_target,
        CHAIN_ID,
        submitter_key=devnet_account_secret(SEED, "relayer"),
        produces_blocks=False,
    )
    report = sc.run_scenario(
        client,
        operators=4,
        stakers=12,
        weth=WETH,
        second_token=SECOND_TOKEN,
        reward_token=REWARD_TOKEN,
        lz_chain_id=DEVNET_LZ_CHAIN_ID,
        epoch_blocks=EPOCH_BLOCKS,
    )
    yield running, client, report
    client.close()
    running.stop()
    running.store.close()


def rpc(devnet: ExocoreDevnet, method: str, **params: Any) -> dict[str, Any]:
    response = httpx.get(f"{devnet.rpc_url}/{method}", params=params, timeout=10)
    response.raise_for_status()
    result: dict[str, Any] = response.json()["result"]
    return result


def attributes(event: dict[str, Any]) -> dict[str, str]:
    return {a["key"]: a["value"] for a in event["attributes"]}


def test_scenario_claims_are_distributed(
    devnet: tuple[ExocoreDevnet, sc.ScenarioClient, sc.ScenarioReport],
) -> None:
    _, client, report = devnet
    assert len(report.operators) == 4 and len(report.claims) == 2
    claims = client.avs.QueryRewardClaims(avs_query.QueryRewardClaimsRequest()).claims
    assert [c.status for c in claims] == [avs_pb.CLAIM_STATUS_DISTRIBUTED] * 2
    assert {"0x" + c.claim_id.hex() for c in claims} == {c["claim_id"] for c in report.claims}
    for avs, operators in report.committees.items():
        committee = client.committee(avs)
        assert list(committee.operators) == operators


def test_leaves_page_over_grpc_and_match_the_packet(
    devnet: tuple[ExocoreDevnet, sc.ScenarioClient, sc.ScenarioReport],
) -> None:
    _, client, report = devnet
    distribution = client.distribution_for(bytes.fromhex(report.claims[0]["claim_id"][2:]))
    leaves: list[Any] = []
    key = b""
    while True:
        page = client.fee.DistributionLeaves(
            fee_query.QueryDistributionLeavesRequest(
                nonce=distribution.nonce, pagination=PageRequest(key=key, limit=5)
            )
        )
        leaves.extend(page.leaves)
        key = page.pagination.next_key
        if not key:
            break
    assert [leaf.index for leaf in leaves] == list(range(distribution.leaf_count))
    tree = DistributionTree.build(
        DistributionLeaf(leaf.index, Address(bytes.fromhex(leaf.staker[2:])), Amount(int(leaf.amount)))
        for leaf in leaves
    )
    assert tree.root == distribution.merkle_root and tree.total == int(distribution.total)
    packet = client.relay.Packet(relay_query.QueryPacketRequest(nonce=distribution.nonce)).packet
    signatures = client.relay.PacketSignatures(relay_query.QueryPacketSignaturesRequest(nonce=packet.nonce))
    valset = client.relay.Valset(relay_query.QueryValsetRequest(valset_nonce=signatures.valset_nonce)).valset
    members = MemberList.of((bytes(m.bls_pubkey), int(m.power)) for m in valset.members)
    signed = [s for s in signatures.signatures if s.signed]
    check_quorum(members, SignerBitmap.from_indices([s.index for s in signed], len(members)))
    aggregate = bls.aggregate_signatures([bls.parse_signature(s.signature) for s in signed])
    assert bls.fast_aggregate_verify_encoded(
        [bytes(s.bls_pubkey) for s in signed], packet.digest, aggregate.compressed
    )


def test_events_over_rpc(devnet: tuple[ExocoreDevnet, sc.ScenarioClient, sc.ScenarioReport]) -> None:
    running, _, report = devnet
    claim_height = report.claims[0]["height"]
    results = rpc(running, "block_results", height=claim_height)
    tx_events = [e for tx_result in results["txs_results"] for e in tx_result["events"]]
    verified = [attributes(e) for e in tx_events if e["type"] == "reward_claim_verified"]
    assert {v["claim_id"] for v in verified} == {c["claim_id"] for c in report.claims}
    elected_height = (claim_height - 1) // EPOCH_BLOCKS * EPOCH_BLOCKS + 1
    begin = rpc(running, "block_results", height=elected_height)["begin_block_events"]
    elected = [attributes(e) for e in begin if e["type"] == "committee_elected"]
    assert {e["avs"] for e in elected} == set(report.avss)
    status = rpc(running, "status")
    assert status["node_info"]["network"] == CHAIN_ID
    assert int(status["sync_info"]["latest_block_height"]) == running.node.height


def test_websocket_sees_a_new_claim(
    devnet: tuple[ExocoreDevnet, sc.ScenarioClient, sc.ScenarioReport],
) -> None:
    running, client, report = devnet
    avs = report.avss[0]
    with connect(running.ws_url, open_timeout=RECEIVE_TIMEOUT_S) as ws:
        query = f"tm.event='Tx' AND reward_claim_verified.avs='{avs}'"
        ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "subscribe", "params": {"query": query}}))
        assert json.loads(ws.recv(timeout=RECEIVE_TIMEOUT_S))["result"] == {}
        committee = client.committee(avs)
        response = client.claim(
            committee, range(len(committee.pubkeys)), REWARD_TOKEN, 5 * 10**18, b"\x01" * 32
        )
        client.advance(1)
        message = json.loads(ws.recv(timeout=RECEIVE_TIMEOUT_S))
    events = message["result"]["events"]
    assert events["reward_claim_verified.claim_id"] == ["0x" + response.claim_id.hex()]
    assert events["tx.hash"] == [response.tx_hash]


def test_msg_errors_map_to_grpc_status(
    devnet: tuple[ExocoreDevnet, sc.ScenarioClient, sc.ScenarioReport],
) -> None:
    _, client, report = devnet
    with pytest.raises(grpc.RpcError) as malformed:
        client.send(delegation_msg(staker="nope", operator="", asset_id="", amount=1))
    assert malformed.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    # Registration is a signed transaction: a chain-rule failure is committed with its code.
    with pytest.raises(sc.ScenarioError, match="already registered"):
        client.register_operator(0, "0.1")
    claim_id = bytes.fromhex(report.claims[0]["claim_id"][2:])
    stored = client.avs.QueryRewardClaim(avs_query.QueryRewardClaimRequest(claim_id=claim_id)).claim
    replay = avs_tx.MsgSubmitRewardClaim(
        avs_address=stored.avs_address,
        epoch=stored.epoch,
        token=stored.token,
        total_amount=stored.total_amount,
        signer_bitmap=stored.signer_bitmap,
        aggregate_signature=stored.aggregate_signature,
        tasks_root=stored.tasks_root,
    )
    with pytest.raises(grpc.RpcError) as duplicate:
        client.send(replay)
    assert duplicate.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_rpc_outage_knob(devnet: tuple[ExocoreDevnet, sc.ScenarioClient, sc.ScenarioReport]) -> None:
    running, client, _ = devnet
    client.send(tx.MsgSetFaultKnobs(knobs=tx.FaultKnobs(rpc_outage=True)))
    client.advance(1)
    assert httpx.get(f"{running.rpc_url}/status", timeout=10).status_code == 503
    client.send(tx.MsgSetFaultKnobs(knobs=tx.FaultKnobs()))
    client.advance(1)
    assert httpx.get(f"{running.rpc_url}/status", timeout=10).status_code == 200
