"""The service's Exocore follow step when storing a block fails (database down mid-batch)."""

from __future__ import annotations

import pytest

from devnet.scenario import run_manifest_scenario
from indexer.ingest.exocore import EXOCORE_STREAM
from relayer.exocore.events import BlockEvents
from relayer.exocore.rpc import CommittedBlock
from storage.db import DatabaseUnavailableError
from storage.store import open_poisoned_blocks
from tests.support.database import refusing_transitions_to
from tests.support.relayer_harness import RelayerHarness

BLOCKS = 6
CYCLES_WHILE_HALTED = 5


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


def test_a_poisoned_block_halts_following_loudly_until_an_operator_skips_it(harness: RelayerHarness) -> None:
    """Through `exorelay run`'s own follow step: the block the database refuses is recorded and the
    stream halts there (no silent retry every cycle); after `skip-block` it follows to the tip."""
    h = harness
    run_manifest_scenario(h.client, h.stack.manifest, operators=4, stakers=4)
    tip = h.client.advance(BLOCKS)
    # The database refuses the first claim verification it is asked to store (the relayer has not
    # ingested anything yet).
    with refusing_transitions_to(h.engine, "verified"):

        def poisoned_one() -> bool:
            with h.engine.connect() as conn:
                return bool(open_poisoned_blocks(conn))

        h.cycle_until(poisoned_one)
        for _ in range(CYCLES_WHILE_HALTED):  # halted: later cycles neither retry nor skip it
            h.service.cycle()
    store = h.service.parts.store
    with h.engine.connect() as conn:
        (poisoned,) = open_poisoned_blocks(conn)
    assert "value refused by the database" in poisoned.error
    cursor = store.cursor(EXOCORE_STREAM)
    assert cursor is not None and cursor.halted and cursor.height == poisoned.height - 1
    assert h.service.parts.follower.next_height == poisoned.height  # moved back, nothing skipped
    sample = h.service.parts.metrics.registry.get_sample_value
    assert sample("exorelay_indexer_poisoned_blocks_total", {"stream": EXOCORE_STREAM}) == 1  # once
    assert sample("exorelay_indexer_stream_halted", {"stream": EXOCORE_STREAM}) == 1

    store.skip_block(EXOCORE_STREAM, poisoned.height, reason="test: verification refused", by="tester")
    h.cycle_until(lambda: cursor_height(h) >= tip)
    cursor = store.cursor(EXOCORE_STREAM)
    assert cursor is not None and not cursor.halted
