"""A devnet CometBFT RPC server over a small deterministic chain (tests/support/devnet_chain.py), on a
real socket of 127.0.0.1 with a free port: `RpcChain` (with an HTTP client) and `DevnetRpc`.
Invariant: each served chain is private to its caller; the server is stopped and the store closed after.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import httpx

from devnet.chain.blockstore import BlockStore
from devnet.rpc.encoding import NodeIdentity
from devnet.rpc.server import CometRpcServer

IDENTITY = NodeIdentity(moniker="exocore-devnet", node_pub_key=hashlib.sha256(b"devnet-node").digest())


# Blocks in the read-only chain the HTTP tests query.
STATIC_CHAIN_HEIGHT = 6


@dataclass
class RpcChain:
    store: BlockStore
    server: CometRpcServer
    http: httpx.Client


def serve_with_http(store: BlockStore) -> Iterator[RpcChain]:
    server = CometRpcServer(store, IDENTITY)
    server.start()
    with httpx.Client(base_url=server.url, timeout=10) as http:
        yield RpcChain(store, server, http)
    server.stop()
    store.close()


# Blocks the chain starts with.
INITIAL_BLOCKS = 6


@dataclass
class DevnetRpc:
    store: BlockStore
    server: CometRpcServer

    @property
    def url(self) -> str:
        return self.server.url


def serve(store: BlockStore) -> Iterator[DevnetRpc]:
    server = CometRpcServer(store, IDENTITY)
    server.start()
    try:
        yield DevnetRpc(store, server)
    finally:
        server.stop()
        store.close()
