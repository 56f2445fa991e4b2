"""The service's Exocore follow step when storing a block fails (database down mid-batch)."""

from __future__ import annotations

import pytest

from indexer.db import DatabaseUnavailableError
from relayer.exocore.events import BlockEvents
from relayer.exocore.rpc import CommittedBlock
from tests.support.relayer_harness import RelayerHarness

BLOCKS = 6


def cursor_height(harness: RelayerHarness) -> int:
    feed = harness.service.parts.feed
    cursor = feed.store.cursor(feed.stream)
    assert cursor is not None
    return cursor.height


def test_a_block_that_fails_to_store_is_fetched_again_next_cycle(
    harness: RelayerHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness.service.cycle()
    start = harness.service.parts.follower.next_height
    harness.client.advance(BLOCKS)
    feed = harness.service.parts.feed
    real_apply = feed.apply
    failing_height = start + 2

    def apply_or_fail(block: CommittedBlock, events: BlockEvents) -> object:
        if block.height == failing_height:
            raise DatabaseUnavailableError("connection refused (injected)")
        return real_apply(block, events)

    monkeypatch.setattr(feed, "apply", apply_or_fail)
    harness.service.cycle()
    assert harness.service.parts.follower.next_height == failing_height
    monkeypatch.setattr(feed, "apply", real_apply)
    harness.service.cycle()
    assert harness.service.parts.follower.next_height > failing_height + 1
    assert cursor_height(harness) >= start + BLOCKS - 1
