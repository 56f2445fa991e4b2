"""Servers for the wire-level tests: real sockets on 127.0.0.1, free ports."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from devnet.chain.blockstore import BlockStore
from devnet.rpc.encoding import NodeIdentity
from devnet.rpc.server import CometRpcServer
from tests.devnet.chain import CHAIN_ID, grow

IDENTITY = NodeIdentity(moniker="exocore-devnet", node_pub_key=hashlib.sha256(b"devnet-node").digest())
# Blocks in the read-only chain the HTTP tests query.
STATIC_CHAIN_HEIGHT = 6


@dataclass
class RpcChain:
    store: BlockStore
    server: CometRpcServer
    http: httpx.Client


def _serve(store: BlockStore) -> Iterator[RpcChain]:
    server = CometRpcServer(store, IDENTITY)
    server.start()
    with httpx.Client(base_url=server.url, timeout=10) as http:
        yield RpcChain(store, server, http)
    server.stop()
    store.close()


@pytest.fixture(scope="module")
def static_chain() -> Iterator[RpcChain]:
    """A chain of STATIC_CHAIN_HEIGHT blocks that no test modifies."""
    store = BlockStore(CHAIN_ID)
    grow(store, STATIC_CHAIN_HEIGHT)
    yield from _serve(store)


@pytest.fixture
def live_chain() -> Iterator[RpcChain]:
    """A chain of 2 blocks that the test grows."""
    store = BlockStore(CHAIN_ID)
    grow(store, 2)
    yield from _serve(store)
