"""A slash's evidence bytes and the ``wrong_result`` kind are stored as the chain showed them, and
malformed or oversized evidence is refused before it reaches a table."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from indexer.ingest.exocore import ExocoreIngestor
from relayer.protocol.evidence import MAX_EVIDENCE_BYTES
from relayer.protocol.kinds import SlashKind
from storage.errors import InvalidRecordError
from storage.models import slash_table
from storage.records import ExocoreBlock, SlashSubmitted
from storage.store import LifecycleStore
from tests.support.indexer_factory import AVS, OPERATORS, T0, h


def submitted(evidence: str | None, kind: SlashKind = SlashKind.WRONG_RESULT) -> SlashSubmitted:
    return SlashSubmitted(
        slash_id=h("slash-evidence"),
        avs=AVS,
        operator=OPERATORS[1],
        evidence_kind=kind,
        freeze=True,
        operator_address="0x" + "0b" * 20,
        slash_proportion="0.2",
        evidence=evidence,
    )


def test_wrong_result_slash_stores_its_evidence_bytes(store: LifecycleStore) -> None:
    evidence = "0x" + "AB" * 200
    ExocoreIngestor(store).apply_block(ExocoreBlock(1, h("b1"), T0, (submitted(evidence),)))
    with store.engine.connect() as conn:
        row = conn.execute(select(slash_table).where(slash_table.c.slash_id == h("slash-evidence"))).one()
    assert (row.evidence_kind, row.evidence) == ("wrong_result", evidence.lower())


def test_a_slash_without_evidence_bytes_stores_none(store: LifecycleStore) -> None:
    ExocoreIngestor(store).apply_block(
        ExocoreBlock(1, h("b1"), T0, (submitted(None, SlashKind.EQUIVOCATION),))
    )
    with store.engine.connect() as conn:
        row = conn.execute(select(slash_table).where(slash_table.c.slash_id == h("slash-evidence"))).one()
    assert (row.evidence_kind, row.evidence) == ("equivocation", None)


@pytest.mark.parametrize("evidence", ["abcd", "0xzz", "0x" + "00" * (MAX_EVIDENCE_BYTES + 1)])
def test_malformed_or_oversized_evidence_is_refused(evidence: str) -> None:
    with pytest.raises(InvalidRecordError):
        submitted(evidence)
