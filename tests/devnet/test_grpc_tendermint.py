"""cosmos.base.tendermint.v1beta1.Service over a real gRPC socket: raw stub and cosmpy's LedgerClient."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime

import grpc
import pytest
from cosmpy.aerial.client import LedgerClient, NetworkConfig
from cosmpy.protos.cosmos.base.query.v1beta1.pagination_pb2 import PageRequest
from cosmpy.protos.cosmos.base.tendermint.v1beta1 import query_pb2, query_pb2_grpc
from cosmpy.protos.cosmos.crypto.ed25519.keys_pb2 import PubKey

from devnet.chain.blockstore import BlockStore
from devnet.grpc.server import DevnetGrpcServer
from relayer.protocol import bech32
from tests.support.devnet_chain import CHAIN_ID, VALIDATORS, grow
from tests.support.devnet_rpc import IDENTITY

CHAIN_HEIGHT = 4


@pytest.fixture(scope="module")
def grpc_chain() -> Iterator[tuple[BlockStore, DevnetGrpcServer]]:
    store = BlockStore(CHAIN_ID)
    grow(store, CHAIN_HEIGHT)
    server = DevnetGrpcServer(store, IDENTITY)
    server.start()
    yield store, server
    server.stop()
    store.close()


@pytest.fixture(scope="module")
def stub(grpc_chain: tuple[BlockStore, DevnetGrpcServer]) -> Iterator[query_pb2_grpc.ServiceStub]:
    with grpc.insecure_channel(grpc_chain[1].target) as channel:
        yield query_pb2_grpc.ServiceStub(channel)


def test_get_latest_block(
    grpc_chain: tuple[BlockStore, DevnetGrpcServer], stub: query_pb2_grpc.ServiceStub
) -> None:
    store, _ = grpc_chain
    latest = store.latest()
    assert latest is not None
    response = stub.GetLatestBlock(query_pb2.GetLatestBlockRequest())
    assert response.block_id.hash == latest.hash
    assert response.block_id.part_set_header.total == 1
    header = response.block.header
    assert (header.chain_id, header.height, header.app_hash) == (CHAIN_ID, CHAIN_HEIGHT, latest.app_hash)
    assert header.time.seconds * 10**9 + header.time.nanos == latest.time_ns
    assert header.proposer_address == latest.proposer_address
    assert header.last_block_id.hash == latest.last_block_id.hash  # type: ignore[union-attr]
    assert list(response.block.data.txs) == [b"claim-tx-4"]
    assert response.sdk_block.header.proposer_address == bech32.encode_bytes(
        "exovalcons", latest.proposer_address
    )
    assert response.sdk_block.header.proposer_address.startswith("exovalcons1")
    assert len(response.block.last_commit.signatures) == len(VALIDATORS)


def test_get_block_by_height(stub: query_pb2_grpc.ServiceStub) -> None:
    response = stub.GetBlockByHeight(query_pb2.GetBlockByHeightRequest(height=2))
    assert response.block.header.height == 2 and list(response.block.data.txs) == [b"claim-tx-2"]
    with pytest.raises(grpc.RpcError) as too_high:
        stub.GetBlockByHeight(query_pb2.GetBlockByHeightRequest(height=99))
    assert too_high.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert too_high.value.details() == "requested block height is bigger then the chain length"
    with pytest.raises(grpc.RpcError) as zero:
        stub.GetBlockByHeight(query_pb2.GetBlockByHeightRequest(height=0))
    assert zero.value.code() == grpc.StatusCode.UNKNOWN
    assert zero.value.details() == "height must be greater than 0, but got 0"


def test_validator_sets(stub: query_pb2_grpc.ServiceStub) -> None:
    latest = stub.GetLatestValidatorSet(query_pb2.GetLatestValidatorSetRequest())
    assert latest.block_height == CHAIN_HEIGHT + 1 and latest.pagination.total == 3
    first = latest.validators[0]
    assert first.address == bech32.encode_bytes("exovalcons", VALIDATORS[0].address)
    assert first.voting_power == 30 and first.pub_key.type_url == "/cosmos.crypto.ed25519.PubKey"
    assert PubKey.FromString(first.pub_key.value).key == VALIDATORS[0].pub_key
    paged = stub.GetValidatorSetByHeight(
        query_pb2.GetValidatorSetByHeightRequest(height=2, pagination=PageRequest(offset=2, limit=2))
    )
    assert paged.block_height == 2 and [v.voting_power for v in paged.validators] == [10]
    assert paged.pagination.total == 3


def test_node_info_syncing_and_unimplemented(stub: query_pb2_grpc.ServiceStub) -> None:
    info = stub.GetNodeInfo(query_pb2.GetNodeInfoRequest())
    assert info.default_node_info.network == CHAIN_ID
    assert info.default_node_info.default_node_id == hashlib.sha256(IDENTITY.node_pub_key).digest()[:20].hex()
    assert info.application_version.app_name == "exocored"
    assert info.application_version.cosmos_sdk_version == "v0.47.8"
    assert stub.GetSyncing(query_pb2.GetSyncingRequest()).syncing is False
    with pytest.raises(grpc.RpcError) as unimplemented:
        stub.ABCIQuery(query_pb2.ABCIQueryRequest(path="/store/bank/key"))
    assert unimplemented.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_cosmpy_ledger_client_unchanged(grpc_chain: tuple[BlockStore, DevnetGrpcServer]) -> None:
    store, server = grpc_chain
    config = NetworkConfig(
        chain_id=CHAIN_ID,
        url=server.url,
        fee_minimum_gas_price=0,
        fee_denomination="hua",
        staking_denomination="hua",
    )
    client = LedgerClient(config)
    assert client.query_height() == CHAIN_HEIGHT
    assert client.query_chain_id() == CHAIN_ID
    block = client.query_block(2)
    stored = store.get(2)
    assert stored is not None
    assert block.height == 2 and block.chain_id == CHAIN_ID
    assert block.tx_hashes == [hashlib.sha256(b"claim-tx-2").hexdigest().upper()]
    assert block.time == datetime.fromtimestamp(stored.time_ns // 10**9, tz=UTC).replace(
        microsecond=(stored.time_ns % 10**9) // 1000
    )
    latest = client.query_latest_block()
    assert latest.height == CHAIN_HEIGHT
    node = client.query_node_info()
    assert node.app_name == "exocore" and str(node.cosmos_sdk_version) == "0.47.8"
