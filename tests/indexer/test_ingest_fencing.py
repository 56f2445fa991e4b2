"""Ingestion under a stream lease (configured database): a process whose ``stream:exocore`` lease was
taken over while it was paused cannot commit a block (the store's fence refuses the transaction),
the refusal neither halts the stream nor marks the block poisoned, and the new holder ingests it."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select

from indexer.ingest.base import is_poison
from indexer.ingest.exocore import EXOCORE_STREAM, ExocoreIngestor
from relayer.leases import STREAM_EXOCORE, HolderId, LeaseKeeper
from relayer.metrics import RelayerMetrics
from storage.errors import StaleLeaseError
from storage.models import avs_table, poisoned_block_table
from storage.records import ExocoreBlock
from storage.store import LifecycleStore
from tests.support.indexer_factory import T0, avs_registered, h
from tests.support.leases import FrozenMonotonic, StepLeaseClock

TTL_S = 10.0


def keeper(engine: Engine, holder: str, clock: StepLeaseClock) -> LeaseKeeper:
    return LeaseKeeper(
        engine,
        HolderId(holder),
        [STREAM_EXOCORE],
        ttl_s=TTL_S,
        clock=clock,
        metrics=RelayerMetrics(),
        monotonic=FrozenMonotonic(),
    )


def test_a_stale_stream_holder_commits_nothing_and_the_new_holder_ingests(engine: Engine) -> None:
    clock = StepLeaseClock()
    old, new = keeper(engine, "old:1:aa", clock), keeper(engine, "new:2:bb", clock)
    old.tick()
    stale = ExocoreIngestor(LifecycleStore(engine, fence=old.fence(STREAM_EXOCORE)))
    assert stale.apply_block(ExocoreBlock(1, h("b1"), T0, (avs_registered(),)))

    clock.advance(TTL_S)  # paused past its lease; a standby took the stream over
    new.tick()
    block = ExocoreBlock(2, h("b2"), T0, ())
    with pytest.raises(StaleLeaseError, match="now held by new:2:bb") as refused:
        stale.apply_block(block)
    assert not is_poison(refused.value)  # another process holds the stream: the block is fine
    store = LifecycleStore(engine)
    cursor = store.cursor(EXOCORE_STREAM)
    assert cursor is not None and (cursor.height, cursor.halted) == (1, False)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(poisoned_block_table)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(avs_table)).scalar_one() == 1

    holder = ExocoreIngestor(LifecycleStore(engine, fence=new.fence(STREAM_EXOCORE)))
    assert holder.apply_block(block)
    cursor = store.cursor(EXOCORE_STREAM)
    assert cursor is not None and cursor.height == 2
