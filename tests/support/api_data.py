"""The populated lifecycle database the API and explorer tests read: `populate` and its fixed names
(A..D, NOW, L1_SLASH)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, insert

from indexer.ingest.exocore import ExocoreIngestor
from storage.lifecycle import L1TxState
from storage.records import (
    ChainRef,
    ClaimRejected,
    ExocoreBlock,
    L1Position,
    SlashExecutedLog,
)
from storage.store import LifecycleStore
from storage.token_tables import token_unit_table
from tests.support.indexer_factory import (
    AVS,
    AVS2,
    T0,
    TOKEN,
    TOKEN2,
    ClaimPlan,
    StepClock,
    avs_registered,
    committee,
    h,
    slash_events,
)

A = ClaimPlan("A", epoch=7, token=TOKEN, leaves=4, nonce=1)
B = ClaimPlan("B", epoch=8, token=TOKEN2, leaves=3, nonce=2)
C = ClaimPlan("C", avs=AVS2, epoch=1, token=TOKEN, leaves=2, nonce=3)
D = ClaimPlan("D", avs=AVS2, epoch=2, token=TOKEN, leaves=2, nonce=4)
NOW = T0 + timedelta(days=1)


def populate(engine: Engine) -> None:
    store = LifecycleStore(engine, clock=StepClock(T0 + timedelta(hours=5)))
    exo = ExocoreIngestor(store)
    blocks: list[tuple[Any, ...]] = [
        (avs_registered(), avs_registered(AVS2), committee(AVS, 7), committee(AVS, 8), committee(AVS2, 1)),
        tuple(A.exocore_events()),
        tuple(B.exocore_events()),
        tuple(C.exocore_events()),
        (D.submitted(), ClaimRejected(D.claim_id, "insufficient_quorum", "50/100 is not above 2/3")),
        tuple(slash_events("s1")),
    ]
    for height, events in enumerate(blocks, start=1):
        exo.apply_block(
            ExocoreBlock(height, h(f"b{height}"), T0 + timedelta(minutes=height), events),
            head_height=len(blocks),
        )
    with store.begin() as tx:
        tx.record_l1_tx(
            h("l1-tx-pay-A"),
            chain_id=1,
            purpose="payout",
            state=L1TxState.BROADCAST,
            ref=ChainRef.relayer(T0 + timedelta(hours=1)),
            sender="0x" + "5e" * 20,
            tx_nonce=1,
            distribution_id=A.distribution_id,
        )
        tx.mark_payouts_submitted(
            A.distribution_id, range(4), h("l1-tx-pay-A"), ChainRef.relayer(T0 + timedelta(hours=1))
        )
        tx.apply_l1_logs([A.root_log(10), B.root_log(11)], chain_id=1)
        tx.apply_l1_logs(A.paid_logs(12, [0, 1, 2, 3], "pay-A"), chain_id=1)
        tx.apply_l1_logs(B.paid_logs(13, [1], "pay-B"), chain_id=1)
        pos = L1Position(14, h("l1-block-14"), h("l1-tx-slash"), 0, T0 + timedelta(hours=2))
        tx.apply_l1_logs(
            [SlashExecutedLog(L1_SLASH, "0x" + "0c" * 20, AVS2, (TOKEN,), (7,), True, 50, pos)], chain_id=1
        )
        tx.finalize_l1(12, T0 + timedelta(hours=3))
        tx.set_cursor("l1:1", "l1", 15, h("l1-block-15"), head_height=15, finalized_height=12)
    # What L1 ingestion stores for a token it has read (TOKEN2's unit is not read yet).
    with engine.begin() as conn:
        conn.execute(insert(token_unit_table).values(token=TOKEN, symbol="EXOR", decimals=18, read_at=T0))


L1_SLASH = h("slash-l1only")
