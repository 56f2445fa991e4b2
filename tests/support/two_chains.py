"""Two client chains in one lifecycle database, written through the store as each chain's L1
ingestion writes them: ``populate_two_chains`` and its fixed names."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Engine

from indexer.ingest.exocore import ExocoreIngestor
from storage.records import ExocoreBlock, L1Position, RewardFundedLog, SlashExecutedLog
from storage.store import LifecycleStore
from tests.support.indexer_factory import (
    AVS,
    AVS2,
    T0,
    TOKEN,
    ClaimPlan,
    StepClock,
    avs_registered,
    committee,
    h,
    slash_events,
)

CHAIN_A = 31337
CHAIN_B = 31338
ON_A = ClaimPlan("on-a", epoch=7, token=TOKEN, leaves=3, nonce=1)
ON_B = ClaimPlan("on-b", avs=AVS2, epoch=1, token=TOKEN, leaves=2, nonce=2)
SLASH_ID = h("slash-s1")
NOW = T0 + timedelta(days=1)
# Chain B's blocks are numbered far above chain A's: a chain-blind finality at B's height would
# finalize every row of A.
A_ROOT, A_PAID = 10, 12
B_ROOT, B_PAID, B_SLASH = 500, 502, 503


def populate_two_chains(engine: Engine) -> None:
    store = LifecycleStore(engine, clock=StepClock(T0 + timedelta(hours=5)))
    exo = ExocoreIngestor(store)
    blocks: list[tuple[Any, ...]] = [
        (avs_registered(), avs_registered(AVS2), committee(AVS, 7), committee(AVS2, 1)),
        tuple(ON_A.exocore_events()),
        tuple(ON_B.exocore_events()),
        tuple(slash_events("s1")),
    ]
    for height, events in enumerate(blocks, start=1):
        exo.apply_block(
            ExocoreBlock(height, h(f"b{height}"), T0 + timedelta(minutes=height), events),
            head_height=len(blocks),
        )
    slash_pos = L1Position(B_SLASH, h("b-block-503"), h("l1-tx-slash-b"), 0, T0 + timedelta(hours=2))
    with store.begin() as tx:
        tx.apply_l1_logs([ON_A.root_log(A_ROOT)], chain_id=CHAIN_A)
        tx.apply_l1_logs(ON_A.paid_logs(A_PAID, [0, 1, 2], "pay-a"), chain_id=CHAIN_A)
        tx.apply_l1_logs([ON_B.root_log(B_ROOT)], chain_id=CHAIN_B)
        funded = L1Position(B_ROOT + 1, h("b-block-501"), h("l1-tx-fund-b"), 0, T0 + timedelta(hours=1))
        deposit = RewardFundedLog(AVS2, TOKEN, 2, "0x" + "0f" * 20, 10**18, funded)
        tx.apply_l1_logs([deposit], chain_id=CHAIN_B)
        tx.apply_l1_logs(ON_B.paid_logs(B_PAID, [0, 1], "pay-b"), chain_id=CHAIN_B)
        tx.apply_l1_logs(
            [SlashExecutedLog(SLASH_ID, "0x" + "0c" * 20, AVS, (TOKEN,), (7,), True, 3, slash_pos)],
            chain_id=CHAIN_B,
        )
        # Each chain's ingestion finalizes its own rows: B far ahead, A only its root.
        tx.finalize_l1(B_SLASH, T0 + timedelta(hours=3), chain_id=CHAIN_B)
        tx.finalize_l1(A_ROOT, T0 + timedelta(hours=3), chain_id=CHAIN_A)
