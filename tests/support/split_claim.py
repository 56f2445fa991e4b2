"""A reward claim Exocore split over two client chains (one distribution per chain, each paid by
that chain's gateway) and a validator set both chains install, written through the store as the
Exocore stream and each chain's L1 ingestion write them: ``populate_split_claim`` and its shares,
``valset_updated``."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import Engine

from indexer.ingest.exocore import ExocoreIngestor
from storage.records import ExocoreBlock, ExocoreEvent, L1Position, PacketCreated, ValsetUpdatedLog
from storage.store import LifecycleStore
from tests.support.indexer_factory import AVS, T0, ClaimPlan, StepClock, avs_registered, committee, h
from tests.support.two_chains import CHAIN_A, CHAIN_B


@dataclass(frozen=True)
class ChainShare(ClaimPlan):
    """One chain's distribution of the claim ``claim_label`` (its own id, nonce, leaves, packet)."""

    claim_label: str = "split"
    chain_id: int = CHAIN_A

    @property
    def claim_id(self) -> str:
        return h(f"claim-{self.claim_label}")

    def packet(self) -> PacketCreated:
        return replace(super().packet(), l1_chain_id=self.chain_id)

    def share_events(self) -> list[ExocoreEvent]:
        """The distribution's events (the claim's own are the first share's ``exocore_events``)."""
        return [self.distributed(), self.leaf_records(), self.packet(), self.attested()]


SHARE_A = ChainShare("split-a", leaves=3, nonce=11, chain_id=CHAIN_A)
SHARE_B = ChainShare("split-b", leaves=2, nonce=12, chain_id=CHAIN_B)
SPLIT_CLAIM_ID = SHARE_A.claim_id


def split_claim_events() -> list[ExocoreEvent]:
    """The claim submitted and verified, then both distributions in one block (as Exocore splits)."""
    return [SHARE_A.submitted(), SHARE_A.verified(), *SHARE_A.share_events(), *SHARE_B.share_events()]


def populate_split_claim(engine: Engine) -> LifecycleStore:
    """The AVS, its committee and the split claim through the Exocore stream (every packet attested,
    nothing on L1 yet); returns the store to write each chain's L1 logs with."""
    store = LifecycleStore(engine, clock=StepClock(T0 + timedelta(hours=5)))
    exo = ExocoreIngestor(store)
    blocks = [(avs_registered(), committee(AVS, 7)), tuple(split_claim_events())]
    for height, events in enumerate(blocks, start=1):
        exo.apply_block(
            ExocoreBlock(height, h(f"b{height}"), T0 + timedelta(minutes=height), events),
            head_height=len(blocks),
        )
    return store


VALSET_NONCE = 2
VALSET_COMMITMENT = h("valset-2-commitment")


def valset_updated(
    block: int, chain_label: str, *, commitment: str = VALSET_COMMITMENT, at: datetime | None = None
) -> ValsetUpdatedLog:
    """A gateway's ``ValsetUpdated`` for set ``VALSET_NONCE`` (``chain_label`` names its block and tx)."""
    position = L1Position(
        block,
        h(f"{chain_label}-block-{block}"),
        h(f"{chain_label}-valset-tx"),
        0,
        at or T0 + timedelta(hours=1, seconds=12 * block),
    )
    return ValsetUpdatedLog(VALSET_NONCE, commitment, 100, position)
