"""A devnet CometBFT RPC server over a small deterministic chain, on a real socket."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from devnet.chain.blockstore import BlockStore
from devnet.rpc.server import CometRpcServer
from tests.devnet.chain import CHAIN_ID, grow
from tests.devnet.conftest import IDENTITY

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


@pytest.fixture
def devnet() -> Iterator[DevnetRpc]:
    """A chain of INITIAL_BLOCKS blocks that the test may grow."""
    store = BlockStore(CHAIN_ID)
    grow(store, INITIAL_BLOCKS)
    yield from serve(store)
