"""Servers for the wire-level tests: real sockets on 127.0.0.1, free ports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devnet.chain.blockstore import BlockStore
from tests.support.devnet_chain import CHAIN_ID, grow
from tests.support.devnet_rpc import STATIC_CHAIN_HEIGHT, RpcChain, serve_with_http


@pytest.fixture(scope="module")
def static_chain() -> Iterator[RpcChain]:
    """A chain of STATIC_CHAIN_HEIGHT blocks that no test modifies."""
    store = BlockStore(CHAIN_ID)
    grow(store, STATIC_CHAIN_HEIGHT)
    yield from serve_with_http(store)


@pytest.fixture
def live_chain() -> Iterator[RpcChain]:
    """A chain of 2 blocks that the test grows."""
    store = BlockStore(CHAIN_ID)
    grow(store, 2)
    yield from serve_with_http(store)
