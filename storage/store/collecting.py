"""The ``collecting`` stage: claims and slash requests as the AVS aggregator collects their signatures.

The aggregator writes only its own tables (:mod:`storage.aggregation`); the lifecycle tables keep one
writer, the Exocore ingestion, which records what the aggregator's request rows say as lifecycle
transitions of the claim / slash keyed by the same id (the request's digest IS the claim id / slash id).

Ordering rule (history rows are ordered by id, each row's ``at`` is when the move happened):

- ``collecting`` is always the FIRST row of an object's history when the aggregator has its request:
  an Exocore submission of an object not yet recorded looks the request up in the same transaction and
  records ``collecting`` (``at`` = the request's ``opened_at``, back-dated) just before ``submitted``.
  So it does not matter whether the aggregator poll or the Exocore event is ingested first.
- An object first recorded without the aggregator (submitted by another party, or the aggregator row
  appeared only later) keeps a history starting at ``submitted``: an append-only history cannot
  insert a row before its first one, and the aggregator's view is still served as the ``collection``
  of the claim / slash.
- The aggregator's terminal outcomes that never reach Exocore close the stage: ``expired`` (below
  threshold at the deadline, ``at`` = ``expires_at``) and ``rejected`` (its broadcast refused by
  CheckTx, ``at`` = the request's last update). Exocore stays the authority: an expired request that
  is submitted on Exocore after all moves on to ``submitted`` (a side exit of the graph).

Idempotent: recording a request again changes nothing (the object is there, the move already made).
Collection moves are decisions of the relayer side, so their rows carry chain ``relayer``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from sqlalchemy import select

from relayer.errors import ProtocolError
from relayer.protocol.claims import RewardClaim, SlashRequest, decode_signing_request
from storage.aggregation import (
    RequestKind,
    RequestState,
    SubmissionState,
    aggregation_request_table,
    aggregation_submission_table,
)
from storage.lifecycle import Chain, ClaimState, EntityKind, SlashState
from storage.models import AGGREGATOR_ORIGIN
from storage.normalize import address_hex
from storage.records import ChainRef
from storage.store.base import StoreBase

EXPIRED_REASON_CODE: Final = "expired"
"""``reason_code`` of an object whose collection expired below threshold."""

CHECK_TX_REASON_CODE: Final = "check_tx_refused"
"""``reason_code`` of an object whose aggregate transaction Exocore's CheckTx refused."""

COLLECTION_COLUMNS: Final = (
    "digest",
    "kind",
    "avs",
    "request",
    "evidence",
    "opened_by",
    "state",
    "state_reason",
    "signed_power",
    "total_power",
    "opened_at",
    "expires_at",
    "updated_at",
)
"""What :meth:`CollectingStore.record_collection` reads of an ``aggregation_request`` row."""

_KINDS: Final = {
    RequestKind.REWARD_CLAIM.value: EntityKind.CLAIM,
    RequestKind.SLASH_REQUEST.value: EntityKind.SLASH,
}


class CollectingStore(StoreBase):
    """Collection writes of one transaction."""

    def collection_row(self, digest: str) -> Mapping[str, Any] | None:
        """The aggregator's request ``digest`` with its submission's state (None: not collected here)."""
        r, s = aggregation_request_table, aggregation_submission_table
        row = self.conn.execute(
            select(*(r.c[n] for n in COLLECTION_COLUMNS), s.c.state.label("submission_state"))
            .select_from(r.outerjoin(s, s.c.digest == r.c.digest))
            .where(r.c.digest == digest)
        ).first()
        return None if row is None else row._asdict()

    def collected_state(self, kind: EntityKind, entity_id: str) -> str | None:
        """The object's state, after recording its collection first if it is not recorded yet and the
        aggregator has its request (the Exocore submission handlers call this: ``collecting`` comes first)."""
        current = self.state_of(kind, entity_id)
        if current is not None:
            return current
        row = self.collection_row(entity_id)
        if row is None or _KINDS.get(row["kind"]) is not kind:
            return None
        self.record_collection(row, outcome=False)
        return self.state_of(kind, entity_id)

    def record_collection(self, row: Mapping[str, Any], *, outcome: bool = True) -> bool:
        """Record an aggregator request (a row with :data:`COLLECTION_COLUMNS` and ``submission_state``)
        as the object's ``collecting`` stage and, with ``outcome``, the aggregator's own end of it
        (expired, refused at CheckTx). False if nothing changed; a row that does not decode is skipped
        (the aggregator only stores requests that decoded, so this is another writer's garbage)."""
        kind = _KINDS.get(str(row["kind"]))
        if kind is None:
            return False
        try:
            request = decode_signing_request(bytes.fromhex(str(row["request"])[2:]))
        except (ProtocolError, ValueError):
            return False
        entity_id = str(row["digest"])
        opened = ChainRef(Chain.RELAYER, row["opened_at"])
        reason = f"opened by {row['opened_by']}"
        changed = False
        if isinstance(request, RewardClaim) and kind is EntityKind.CLAIM:
            values: dict[str, Any] = {
                "claim_id": entity_id,
                "avs_address": address_hex(str(row["avs"])),
                "epoch": request.epoch,
                "token": address_hex(request.token),
                "total_amount": int(request.amount),
                "signed_power": int(row["signed_power"]),
                "total_power": int(row["total_power"]),
                "origin": AGGREGATOR_ORIGIN,
            }
            changed = self._create(kind, entity_id, ClaimState.COLLECTING, values, opened, reason=reason)
        elif isinstance(request, SlashRequest) and kind is EntityKind.SLASH:
            values = {
                "slash_id": entity_id,
                "avs_address": address_hex(str(row["avs"])),
                "operator_address": address_hex(request.operator),
                "freeze": request.freeze,
                "evidence": row["evidence"],
                "origin": AGGREGATOR_ORIGIN,
            }
            changed = self._create(kind, entity_id, SlashState.COLLECTING, values, opened, reason=reason)
        else:
            return False
        if outcome:
            changed = self._collection_outcome(kind, entity_id, row) or changed
        return changed

    def _collection_outcome(self, kind: EntityKind, entity_id: str, row: Mapping[str, Any]) -> bool:
        if self.state_of(kind, entity_id) != ClaimState.COLLECTING:  # same name in both graphs
            return False
        state = row["state"]
        detail = row["state_reason"]
        if state == RequestState.EXPIRED:
            ref = ChainRef(Chain.RELAYER, row["expires_at"])
            target, code = ClaimState.EXPIRED.value, EXPIRED_REASON_CODE
        elif state == RequestState.REJECTED and row.get("submission_state") == SubmissionState.FAILED:
            ref = ChainRef(Chain.RELAYER, row["updated_at"])
            target, code = ClaimState.REJECTED.value, CHECK_TX_REASON_CODE
        else:
            return False
        return self.transition(
            kind, entity_id, target, ref, reason=code, values={"reason_code": code, "reason": detail}
        )
