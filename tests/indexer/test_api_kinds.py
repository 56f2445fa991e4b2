"""The API's names of packet kinds, slash kinds and transaction purposes derive from the protocol's
enumerations (relayer/protocol/kinds.py): no second spelling to drift."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

from indexer.api import create_app, schemas
from indexer.api import params as api_app
from relayer.protocol.kinds import PacketKind, SlashKind, TxPurpose


def test_query_parameter_enums_derive_from_the_protocol(tmp_path: Path) -> None:
    assert [k.value for k in api_app.PacketKindName] == [k.label for k in PacketKind]
    components = create_app(f"sqlite:///{tmp_path / 'api.db'}").openapi()["components"]["schemas"]
    assert components["PacketKindName"]["enum"] == [k.label for k in PacketKind]
    assert components["TxPurpose"]["enum"] == [p.value for p in TxPurpose]


def test_response_literals_derive_from_the_protocol() -> None:
    assert get_args(schemas.PacketOut.model_fields["kind"].annotation) == tuple(k.label for k in PacketKind)
    evidence = get_args(schemas.SlashOut.model_fields["evidence_kind"].annotation)[0]
    assert get_args(evidence) == tuple(k.label for k in SlashKind)
    purpose = schemas.L1TxOut.model_fields["purpose"].annotation
    assert get_args(purpose) == tuple(p.value for p in TxPurpose)
