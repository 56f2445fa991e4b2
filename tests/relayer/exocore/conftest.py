"""A devnet CometBFT RPC server over a small deterministic chain, on a real socket."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devnet.chain.blockstore import BlockStore
from tests.support.devnet_chain import CHAIN_ID, grow
from tests.support.devnet_rpc import INITIAL_BLOCKS, DevnetRpc, serve


@pytest.fixture
def devnet() -> Iterator[DevnetRpc]:
    """A chain of INITIAL_BLOCKS blocks that the test may grow."""
    store = BlockStore(CHAIN_ID)
    grow(store, INITIAL_BLOCKS)
    yield from serve(store)
