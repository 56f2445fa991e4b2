"""Deterministic Exocore/L1 records for indexer tests: one AVS, claims, distributions, leaves, slashes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from eth_utils.crypto import keccak
from sqlalchemy import Engine, select

from relayer.protocol import bech32
from relayer.protocol.kinds import SlashKind
from storage.records import (
    AvsRegistered,
    ClaimSubmitted,
    ClaimVerified,
    CommitteeElected,
    CommitteeMemberInfo,
    DistributionCreated,
    DistributionLeaves,
    DistributionSubmittedLog,
    ExocoreBlock,
    ExocoreEvent,
    L1Position,
    LeafInfo,
    PacketAttested,
    PacketCreated,
    RewardPaidLog,
    RewardTokenInfo,
    SignerInfo,
    SlashedAssetInfo,
    SlashExecutedOnExocore,
    SlashSubmitted,
    SlashVerified,
    TokenTransferLog,
    ValidatorSignatureInfo,
)
from storage.schema import metadata

AVS = "0x" + "a1" * 20
AVS2 = "0x" + "a2" * 20
TOKEN = "0x" + "70" * 20
TOKEN2 = "0x" + "71" * 20
ZERO = "0x" + "00" * 20
OPERATORS = tuple(bech32.encode_bytes("exo", bytes([0x0A + i]) * 20) for i in range(4))
"""Four operator accounts, real bech32 (``exo1…``)."""


def h(label: str | int) -> str:
    """A deterministic 32-byte hash for a label."""
    return "0x" + keccak(str(label).encode()).hex()


def staker(i: int) -> str:
    return "0x" + keccak(b"staker" + i.to_bytes(8, "big"))[12:].hex()


class Chain:
    """Builds Exocore blocks with increasing heights and times."""

    def __init__(self, start: int = 1) -> None:
        self.height = start - 1

    def block(self, *events: ExocoreEvent) -> ExocoreBlock:
        self.height += 1
        return ExocoreBlock(
            height=self.height,
            block_hash=h(f"exo-block-{self.height}"),
            time=T0 + timedelta(seconds=3 * self.height),
            events=events,
        )


def avs_registered(avs: str = AVS) -> AvsRegistered:
    return AvsRegistered(
        avs=avs,
        threshold_numerator=2,
        threshold_denominator=3,
        name="test-avs",
        epoch_identifier="hour",
        asset_ids=("0x" + "ee" * 20 + "_0x9d19",),
        reward_tokens=(RewardTokenInfo(TOKEN, 1, 18),),
    )


def committee(avs: str = AVS, epoch: int = 7) -> CommitteeElected:
    return CommitteeElected(
        avs=avs,
        epoch=epoch,
        members=tuple(
            CommitteeMemberInfo(i, op, "0x" + f"{i:02x}" * 48, 10 * (i + 1)) for i, op in enumerate(OPERATORS)
        ),
        threshold_numerator=2,
        threshold_denominator=3,
    )


@dataclass(frozen=True)
class ClaimPlan:
    """A claim with its distribution and leaves (amounts 100 * (i + 1))."""

    label: str
    avs: str = AVS
    epoch: int = 7
    token: str = TOKEN
    leaves: int = 4
    nonce: int = 1
    funding: int = 1
    """The reward source: 1 MINT, 2 VAULT, 3 FEES."""

    @property
    def claim_id(self) -> str:
        return h(f"claim-{self.label}")

    @property
    def distribution_id(self) -> str:
        return h(f"distribution-{self.label}")

    @property
    def amounts(self) -> list[int]:
        return [100 * (i + 1) for i in range(self.leaves)]

    @property
    def total(self) -> int:
        return sum(self.amounts)

    @property
    def root(self) -> str:
        return h(f"root-{self.label}")

    def submitted(self) -> ClaimSubmitted:
        return ClaimSubmitted(
            claim_id=self.claim_id,
            avs=self.avs,
            epoch=self.epoch,
            token=self.token,
            total_amount=self.total,
            funding=self.funding,
            signer_bitmap="0x07",
            signers=tuple(SignerInfo(i, OPERATORS[i], 10 * (i + 1)) for i in range(3)),
            signed_power=60,
            total_power=100,
            threshold_numerator=2,
            threshold_denominator=3,
            tx_hash=h(f"exo-tx-{self.label}"),
        )

    def verified(self) -> ClaimVerified:
        return ClaimVerified(self.claim_id, signed_power=60, total_power=100)

    def distributed(self) -> DistributionCreated:
        return DistributionCreated(
            distribution_id=self.distribution_id,
            nonce=self.nonce,
            claim_id=self.claim_id,
            avs=self.avs,
            epoch=self.epoch,
            token=self.token,
            funding=self.funding,
            total=self.total,
            leaf_count=self.leaves,
            merkle_root=self.root,
            community_tax=0,
        )

    def leaf_records(self) -> DistributionLeaves:
        return DistributionLeaves(
            self.distribution_id,
            tuple(
                LeafInfo(i, staker(i), amount, 1, OPERATORS[i % 4]) for i, amount in enumerate(self.amounts)
            ),
        )

    def packet(self) -> PacketCreated:
        return PacketCreated(
            nonce=self.nonce,
            kind=2,
            valset_nonce=1,
            payload="0x" + "ab" * 32,
            payload_hash=h(f"payload-{self.label}"),
            digest=h(f"digest-{self.label}"),
            subject_id=self.claim_id,
            distribution_id=self.distribution_id,
            avs=self.avs,
        )

    def attested(self) -> PacketAttested:
        return PacketAttested(
            nonce=self.nonce,
            signatures=tuple(
                ValidatorSignatureInfo(
                    i, "0x" + f"{i:02x}" * 48, i < 3, "0x" + "cd" * 96 if i < 3 else None, 10
                )
                for i in range(4)
            ),
            quorum=True,
            signed_power=30,
            total_power=40,
        )

    def exocore_events(self) -> list[ExocoreEvent]:
        """Every Exocore-side event in order (submitted ... attested)."""
        return [
            self.submitted(),
            self.verified(),
            self.distributed(),
            self.leaf_records(),
            self.packet(),
            self.attested(),
        ]

    # L1 side

    def position(self, block: int, log_index: int, tx: str, at: datetime | None = None) -> L1Position:
        return L1Position(
            block,
            h(f"l1-block-{block}"),
            h(f"l1-tx-{tx}"),
            log_index,
            at or T0 + timedelta(hours=1, seconds=12 * block),
        )

    def root_log(self, block: int) -> DistributionSubmittedLog:
        return DistributionSubmittedLog(
            distribution_id=self.distribution_id,
            claim_id=self.claim_id,
            avs=self.avs,
            epoch=self.epoch,
            token=self.token,
            total=self.total,
            root=self.root,
            nonce=self.nonce,
            position=self.position(block, 0, f"root-{self.label}"),
        )

    def paid_logs(self, block: int, indices: list[int], tx: str) -> list[Any]:
        """RewardPaid + the matching mint Transfer for each index, in one transaction."""
        logs: list[Any] = []
        for n, i in enumerate(indices):
            logs.append(
                TokenTransferLog(
                    self.token, ZERO, staker(i), self.amounts[i], self.position(block, 2 * n, tx)
                )
            )
            logs.append(
                RewardPaidLog(
                    self.distribution_id, i, staker(i), self.amounts[i], self.position(block, 2 * n + 1, tx)
                )
            )
        return logs


def slash_events(label: str = "s1") -> list[ExocoreEvent]:
    slash_id = h(f"slash-{label}")
    return [
        SlashSubmitted(
            slash_id=slash_id,
            avs=AVS,
            operator=OPERATORS[3],
            evidence_kind=SlashKind.COMMITTEE_REQUEST,
            freeze=True,
            operator_address="0x" + "0b" * 20,
            slash_proportion="0.05",
            signers=tuple(SignerInfo(i, OPERATORS[i]) for i in range(3)),
        ),
        SlashVerified(slash_id),
        SlashExecutedOnExocore(
            slash_id, (SlashedAssetInfo(TOKEN, 5 * 10**18, f"{TOKEN}_0x9d19"),), packet_nonce=99
        ),
    ]


T0 = datetime(2026, 1, 1, tzinfo=UTC)


class StepClock:
    """A deterministic clock: each reading is one second after the previous."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order (to prove that nothing changed)."""
    with engine.connect() as conn:
        return {
            table.name: sorted(tuple(map(repr, row)) for row in conn.execute(select(table)))
            for table in metadata.sorted_tables
        }
