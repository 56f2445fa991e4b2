"""Slashes: submitted, verified or rejected and executed on Exocore, executed on L1.

Invariant: a slash moves only along :data:`storage.lifecycle.SLASH`.
"""

from __future__ import annotations

from storage.lifecycle import EntityKind, SlashState
from storage.models import slash_asset_table, slash_signer_table
from storage.records import (
    ChainRef,
    SlashExecutedLog,
    SlashExecutedOnExocore,
    SlashRejected,
    SlashSubmitted,
    SlashVerified,
)
from storage.store.base import insert_ignore
from storage.store.collecting import CollectingStore
from storage.store.packets import PacketStore


class SlashStore(PacketStore, CollectingStore):
    """Slash writes of one transaction."""

    def _slash_submitted(self, event: SlashSubmitted, ref: ChainRef) -> None:
        values = {
            "slash_id": event.slash_id,
            "operator": event.operator,
            "operator_address": event.operator_address,
            "avs_address": event.avs,
            "evidence_kind": event.evidence_kind.label,
            "evidence": event.evidence,
            "freeze": event.freeze,
            "slash_proportion": event.slash_proportion,
            "submitted_height": ref.height,
            "origin": "exocore",
        }
        current = self.collected_state(EntityKind.SLASH, event.slash_id)
        if current in (SlashState.COLLECTING, SlashState.EXPIRED):
            # First seen at the aggregator stays the origin; what the event leaves out (None) keeps
            # what the aggregator knew.
            values = {k: v for k, v in values.items() if k != "origin" and v is not None}
            moved = self.transition(
                EntityKind.SLASH, event.slash_id, SlashState.SUBMITTED, ref, values=values
            )
        else:
            moved = self._create(EntityKind.SLASH, event.slash_id, SlashState.SUBMITTED, values, ref)
        if moved:
            insert_ignore(
                self.conn,
                slash_signer_table,
                [
                    {"slash_id": event.slash_id, "member_index": s.index, "operator": s.operator}
                    for s in event.signers
                ],
            )

    def _slash_verified(self, event: SlashVerified, ref: ChainRef) -> None:
        self._require(EntityKind.SLASH, event.slash_id)
        self.transition(EntityKind.SLASH, event.slash_id, SlashState.VERIFIED, ref)

    def _slash_rejected(self, event: SlashRejected, ref: ChainRef) -> None:
        self._require(EntityKind.SLASH, event.slash_id)
        self.transition(
            EntityKind.SLASH,
            event.slash_id,
            SlashState.REJECTED,
            ref,
            reason=event.reason_code,
            values={"reason_code": event.reason_code, "reason": event.reason},
        )

    def _slash_executed(self, event: SlashExecutedOnExocore, ref: ChainRef) -> None:
        self._require(EntityKind.SLASH, event.slash_id)
        insert_ignore(
            self.conn,
            slash_asset_table,
            [
                {"slash_id": event.slash_id, "token": a.token, "asset_id": a.asset_id, "amount": a.amount}
                for a in event.assets
            ],
        )
        self.transition(
            EntityKind.SLASH,
            event.slash_id,
            SlashState.EXECUTED_ON_EXOCORE,
            ref,
            values={"packet_nonce": event.packet_nonce, "executed_height": ref.height},
        )

    def _slash_on_l1(self, log: SlashExecutedLog) -> None:
        pos = log.position
        l1_values = {
            "l1_tx_hash": pos.tx_hash,
            "l1_block_number": pos.block_number,
            "l1_block_hash": pos.block_hash,
            "l1_log_index": pos.log_index,
        }
        created = self._create(
            EntityKind.SLASH,
            log.slash_id,
            SlashState.RELAYED,
            {
                "slash_id": log.slash_id,
                "operator_address": log.operator_address,
                "avs_address": log.avs,
                "freeze": log.freeze,
                "packet_nonce": log.nonce,
                "origin": "l1",
                **l1_values,
            },
            pos.ref(),
        )
        if created:
            insert_ignore(
                self.conn,
                slash_asset_table,
                [
                    {"slash_id": log.slash_id, "token": token, "amount": amount}
                    for token, amount in zip(log.tokens, log.amounts, strict=True)
                ],
            )
        else:
            self.transition(EntityKind.SLASH, log.slash_id, SlashState.RELAYED, pos.ref(), values=l1_values)
        self._packet_relayed(log.nonce, pos)
