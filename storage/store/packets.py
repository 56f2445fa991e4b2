"""Relay packets and validator sets: created and attested on Exocore, relayed on L1.

Invariant: a packet moves only along :data:`storage.lifecycle.PACKET`; relaying one on L1 also moves the
subject it carries (distribution, slash, valset) through :meth:`PacketStore._packet_subject`.
A valset's L1 installation is kept per client chain (``valset_l1``), and every chain's commitment for
one set agrees (``valset_commitment_agrees``).
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import insert, or_, select, update

from relayer.protocol.kinds import PacketKind
from storage.errors import InvariantViolationError
from storage.lifecycle import EntityKind, PacketState
from storage.models import attestation_table, packet_table, valset_l1_table, valset_table
from storage.records import (
    ChainRef,
    L1Position,
    PacketAttested,
    PacketCreated,
    ValsetCreated,
    ValsetUpdatedLog,
)
from storage.store.base import StoreBase, insert_ignore

VALSET_COMMITMENT_AGREES: Final = "valset_commitment_agrees"
"""Inline invariant: every client chain that installs a valset stores the same commitment for it."""


class PacketStore(StoreBase):
    """Packet and valset writes of one transaction."""

    def _packet_created(self, event: PacketCreated, ref: ChainRef) -> None:
        values = {
            "nonce": event.nonce,
            "kind": event.kind,
            "valset_nonce": event.valset_nonce,
            "payload": event.payload,
            "payload_hash": event.payload_hash,
            "digest": event.digest,
            "subject_id": event.subject_id,
            "distribution_id": event.distribution_id,
            "avs_address": event.avs,
            "exocore_height": ref.height or 0,
            "l1_chain_id": event.l1_chain_id,
        }
        self._create(EntityKind.PACKET, str(event.nonce), PacketState.CREATED, values, ref)
        subject = self._packet_subject(event.kind, event.subject_id)
        if subject is not None:
            self.advance(subject[0], subject[1], "packet_created", ref)  # same name in both graphs

    @staticmethod
    def _packet_subject(kind: int, subject_id: str | None) -> tuple[EntityKind, str] | None:
        if subject_id is None:
            return None
        if kind == PacketKind.REWARD_DISTRIBUTION:
            return (EntityKind.CLAIM, subject_id)
        if kind == PacketKind.SLASH:
            return (EntityKind.SLASH, subject_id)
        return None

    def _packet_attested(self, event: PacketAttested, ref: ChainRef) -> None:
        packet_id = str(event.nonce)
        self._require(EntityKind.PACKET, packet_id)
        insert_ignore(
            self.conn,
            attestation_table,
            [
                {
                    "packet_nonce": event.nonce,
                    "validator_index": s.index,
                    "bls_pubkey": s.bls_pubkey,
                    "power": s.power,
                    "signed": s.signed,
                    "signature": s.signature,
                }
                for s in event.signatures
            ],
        )
        if not event.quorum:
            return
        self.transition(
            EntityKind.PACKET,
            packet_id,
            PacketState.ATTESTED,
            ref,
            values={"signed_power": event.signed_power, "total_power": event.total_power},
        )
        packet = self.conn.execute(
            select(packet_table.c.kind, packet_table.c.subject_id).where(packet_table.c.nonce == event.nonce)
        ).one()
        subject = self._packet_subject(packet.kind, packet.subject_id)
        if subject is not None:
            self.advance(subject[0], subject[1], "attested", ref)  # same name in both graphs

    def _valset_created(self, event: ValsetCreated, ref: ChainRef) -> None:
        v = valset_table
        members = [
            {"index": m.index, "bls_pubkey": m.bls_pubkey, "power": str(m.power)} for m in event.members
        ]
        existing = self.conn.execute(select(v.c.origin).where(v.c.valset_nonce == event.valset_nonce)).first()
        if existing is None:
            self.conn.execute(
                insert(v).values(
                    valset_nonce=event.valset_nonce,
                    total_power=event.total_power,
                    members=members,
                    created_height=ref.height,
                    origin="exocore",
                    created_at=ref.at,
                    updated_at=ref.at,
                )
            )
        elif existing.origin == "l1":
            self.conn.execute(
                update(v)
                .where(v.c.valset_nonce == event.valset_nonce)
                .values(members=members, created_height=ref.height, origin="exocore", updated_at=ref.at)
            )

    def _packet_relayed(self, nonce: int, pos: L1Position) -> None:
        if self.state_of(EntityKind.PACKET, str(nonce)) is None:
            return
        self.transition(
            EntityKind.PACKET,
            str(nonce),
            PacketState.RELAYED,
            pos.ref(),
            values={
                "l1_tx_hash": pos.tx_hash,
                "l1_block_number": pos.block_number,
                "l1_block_hash": pos.block_hash,
                "l1_log_index": pos.log_index,
            },
        )

    def _valset_on_l1(self, log: ValsetUpdatedLog, *, chain_id: int) -> None:
        """This chain's gateway installed a set: its own ``valset_l1`` row (another chain's
        installation of the same set is a row of its own, written at that chain's time)."""
        v, i = valset_table, valset_l1_table
        pos = log.position
        exists = self.conn.execute(
            select(v.c.valset_nonce).where(v.c.valset_nonce == log.valset_nonce)
        ).first()
        if exists is None:
            self.conn.execute(
                insert(v).values(
                    valset_nonce=log.valset_nonce,
                    total_power=log.total_power,
                    members=[],
                    origin="l1",
                    created_at=pos.at,
                    updated_at=pos.at,
                )
            )
        # valset_commitment_agrees: the commitment binds the nonce, keys and powers only (no chain),
        # so every chain that installs a set stores the same one.
        other = self.conn.execute(
            select(i.c.l1_chain_id, i.c.commitment, i.c.tx_hash).where(
                i.c.valset_nonce == log.valset_nonce, i.c.commitment != log.commitment
            )
        ).first()
        if other is not None:
            raise InvariantViolationError(
                "l1",
                VALSET_COMMITMENT_AGREES,
                f"valset {log.valset_nonce} installed on chain {chain_id} with commitment "
                f"{log.commitment}; chain {other.l1_chain_id} installed {other.commitment}",
                {
                    "valset_nonce": log.valset_nonce,
                    "chain_id": chain_id,
                    "tx_hash": pos.tx_hash,
                    "other_chain_id": other.l1_chain_id,
                    "other_tx_hash": other.tx_hash,
                },
            )
        l1_values = {
            "commitment": log.commitment,
            "total_power": log.total_power,
            "block_number": pos.block_number,
            "block_hash": pos.block_hash,
            "tx_hash": pos.tx_hash,
            "log_index": pos.log_index,
            "installed_at": pos.at,
        }
        installed = self.conn.execute(
            select(i.c.block_hash).where(i.c.valset_nonce == log.valset_nonce, i.c.l1_chain_id == chain_id)
        ).first()
        if installed is None:
            self.conn.execute(
                insert(i).values(valset_nonce=log.valset_nonce, l1_chain_id=chain_id, **l1_values)
            )
        else:
            self.conn.execute(
                update(i)
                .where(i.c.valset_nonce == log.valset_nonce, i.c.l1_chain_id == chain_id)
                .values(**l1_values)
            )
        # ValsetUpdated names the set it installs, not the packet that carried it: the VALSET_UPDATE
        # packet is the one whose subject is that valset nonce. Exocore sends one such packet to each
        # client chain: this chain's is the one addressed to it (NULL: a source that did not say).
        k = packet_table
        packet = self.conn.execute(
            select(k.c.nonce)
            .where(
                k.c.kind == PacketKind.VALSET_UPDATE,
                k.c.subject_id == str(log.valset_nonce),
                or_(k.c.l1_chain_id == chain_id, k.c.l1_chain_id.is_(None)),
            )
            .order_by(k.c.nonce)
        ).first()
        if packet is not None:
            self._packet_relayed(int(packet.nonce), pos)
