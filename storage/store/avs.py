"""AVS and operator registrations and elected committees (Exocore events; no state graph)."""

from __future__ import annotations

from sqlalchemy import insert, select, update

from relayer.protocol.kinds import PayoutMode
from storage.models import avs_table, committee_member_table, committee_table
from storage.operator_tables import operator_name_table
from storage.records import AvsRegistered, ChainRef, CommitteeElected, OperatorRegistered
from storage.store.base import StoreBase, insert_ignore


class AvsStore(StoreBase):
    """AVS and committee rows of one transaction."""

    def _avs(self, event: AvsRegistered, ref: ChainRef) -> None:
        values = {
            "name": event.name,
            "epoch_identifier": event.epoch_identifier,
            "starting_epoch": event.starting_epoch,
            "threshold_numerator": event.threshold_numerator,
            "threshold_denominator": event.threshold_denominator,
            "asset_ids": list(event.asset_ids),
            "reward_tokens": [
                {"token": t.token, "funding": t.funding, "decimals": t.decimals} for t in event.reward_tokens
            ],
            "payout_mode": PayoutMode(event.payout_mode).label,
            "updated_height": ref.height or 0,
            "updated_at": ref.at,
        }
        existing = self.conn.execute(
            select(avs_table.c.updated_height).where(avs_table.c.avs_address == event.avs)
        ).first()
        if existing is None:
            self.conn.execute(insert(avs_table).values(avs_address=event.avs, created_at=ref.at, **values))
        elif existing.updated_height <= (ref.height or 0):
            self.conn.execute(update(avs_table).where(avs_table.c.avs_address == event.avs).values(**values))

    def _operator_registered(self, event: OperatorRegistered, ref: ChainRef) -> None:
        """Keep the name of the latest registration (a re-fed block writes the same row again)."""
        o = operator_name_table
        height = ref.height or 0
        values = {"name": event.name, "registered_height": height, "updated_at": ref.at}
        existing = self.conn.execute(
            select(o.c.registered_height).where(o.c.operator == event.operator)
        ).first()
        if existing is None:
            self.conn.execute(insert(o).values(operator=event.operator, **values))
        elif existing.registered_height <= height:
            self.conn.execute(update(o).where(o.c.operator == event.operator).values(**values))

    def _committee(self, event: CommitteeElected, ref: ChainRef) -> None:
        c = committee_table
        exists = self.conn.execute(
            select(c.c.id).where(c.c.avs_address == event.avs, c.c.epoch == event.epoch)
        ).first()
        if exists is not None:
            return
        committee_id = self.conn.execute(
            insert(c)
            .values(
                avs_address=event.avs,
                epoch=event.epoch,
                total_power=event.total_power,
                threshold_numerator=event.threshold_numerator,
                threshold_denominator=event.threshold_denominator,
                elected_height=ref.height or 0,
                block_hash=ref.block_hash,
                elected_at=ref.at,
            )
            .returning(c.c.id)
        ).scalar_one()
        rows = [
            {
                "committee_id": committee_id,
                "member_index": m.index,
                "operator": m.operator,
                "bls_pubkey": m.bls_pubkey,
                "power": m.power,
            }
            for m in event.members
        ]
        insert_ignore(self.conn, committee_member_table, rows)
