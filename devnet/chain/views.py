"""Protobuf views of the chain state: the :class:`~devnet.grpc.queries.ChainQueries` answers.

Pure conversions from :class:`~devnet.chain.state.ChainState` records to the ``exocore.*.v1``
messages. The caller (the node) holds its state lock around each call.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import overload

from devnet.chain.model import (
    LEAF_STAKER,
    AvsRecord,
    ClaimRecord,
    Committee,
    DistributionRecord,
    Operator,
    PacketRecord,
    SlashRecord,
    ValsetRecord,
    WithdrawalApprovalRecord,
)
from devnet.chain.params import DEVNET_LZ_CHAIN_ID, USD_DECIMALS
from devnet.chain.state import ChainState
from relayer.exocore.proto.avs.v1 import types_pb2 as avs_pb
from relayer.exocore.proto.feedistribution.v1 import types_pb2 as fee_pb
from relayer.exocore.proto.operator.v1 import query_pb2 as operator_query
from relayer.exocore.proto.operator.v1 import tx_pb2 as operator_tx
from relayer.exocore.proto.operator.v1 import types_pb2 as operator_pb
from relayer.exocore.proto.relay.v1 import types_pb2 as relay_pb
from relayer.protocol.claims import PROPORTION_DECIMALS, format_fixed
from relayer.protocol.ids import AssetId
from relayer.protocol.quorum import TWO_THIRDS
from relayer.protocol.types import Hash32

CONSENSUS_ADDRESS_BYTES = 20


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


def avs_info(record: AvsRecord) -> avs_pb.AVSInfo:
    return avs_pb.AVSInfo(
        name=record.name,
        avs_address=record.hex,
        reward_address=record.reward_address,
        slash_address=record.slash_address,
        avs_owner_addresses=list(record.owners),
        asset_ids=list(record.asset_ids),
        epoch_identifier=record.epoch_identifier,
        starting_epoch=record.starting_epoch,
        threshold_numerator=record.claim_threshold.num,
        threshold_denominator=record.claim_threshold.den,
        reward_tokens=[
            avs_pb.RewardToken(token=_hex(t.token), funding=t.funding, decimals=t.decimals)  # type: ignore[arg-type]
            for t in record.reward_tokens.values()
        ],
        min_self_delegation_usd=format_fixed(record.min_self_delegation_usd, USD_DECIMALS),
        min_operator_stake_usd=format_fixed(record.min_operator_stake_usd, USD_DECIMALS),
        committee_size=record.committee_size,
        slash_threshold_numerator=record.slash_threshold.num,
        slash_threshold_denominator=record.slash_threshold.den,
        slash_proportion=format_fixed(record.slash_proportion, PROPORTION_DECIMALS),
        slash_verifiers=[
            avs_pb.SlashVerifier(kind=kind, slash_proportion=format_fixed(share, PROPORTION_DECIMALS))
            for kind, share in record.slash_verifiers.items()
        ],
        payout_mode=int(record.payout_mode),  # type: ignore[arg-type]
    )


LEGACY_DEC_SCALE = 10 ** (18 - PROPORTION_DECIMALS)
"""Devnet rates (``PROPORTION_DECIMALS``) -> ``LegacyDec`` protobuf form (value x 10^18)."""


def operator_info(record: Operator) -> operator_tx.OperatorInfo:
    """Upstream ``OperatorInfo`` of a registered operator (commission in ``LegacyDec`` wire form)."""
    info = operator_tx.OperatorInfo(
        earnings_addr=record.earnings_addr,
        approve_addr=record.approve_addr,
        operator_meta_info=record.name,
    )
    info.client_chain_earnings_addr.earning_info_list.add(
        lz_client_chain_id=DEVNET_LZ_CHAIN_ID, client_chain_earning_addr=_hex(record.reward_address)
    )
    rates = info.commission.commission_rates
    rates.rate = str(record.commission_rate * LEGACY_DEC_SCALE)
    rates.max_rate = str(record.max_commission_rate * LEGACY_DEC_SCALE)
    rates.max_change_rate = str(record.max_commission_change_rate * LEGACY_DEC_SCALE)
    return info


def committee(record: Committee) -> avs_pb.Committee:
    threshold = record.claim_threshold
    return avs_pb.Committee(
        avs_address=record.avs,
        epoch=record.epoch,
        members=[
            avs_pb.CommitteeMember(index=i, operator=m.operator, bls_pubkey=m.bls_pubkey, power=str(m.power))
            for i, m in enumerate(record.members)
        ],
        total_power=str(record.total_power),
        threshold_numerator=threshold.num,
        threshold_denominator=threshold.den,
        elected_height=record.elected_height,
    )


def reward_claim(record: ClaimRecord) -> avs_pb.RewardClaim:
    return avs_pb.RewardClaim(
        claim_id=record.claim_id,
        avs_address=_hex(record.avs),
        epoch=record.epoch,
        token=_hex(record.token),
        funding=record.funding,  # type: ignore[arg-type]
        total_amount=str(record.amount),
        signer_bitmap=record.signer_bitmap,
        aggregate_signature=record.aggregate_signature,
        status=record.status,  # type: ignore[arg-type]
        reject_reason=record.reject_reason,
        submitted_height=record.submitted_height,
        updated_height=record.updated_height,
        distribution_nonce=record.distribution_nonce,
        tx_hash=record.tx_hash,
        tasks_root=record.tasks_root,
    )


def distribution(record: DistributionRecord) -> fee_pb.Distribution:
    return fee_pb.Distribution(
        nonce=record.nonce,
        distribution_id=record.distribution_id,
        claim_id=record.claim_id,
        avs_address=_hex(record.avs),
        epoch=record.epoch,
        token=_hex(record.token),
        funding=record.funding,  # type: ignore[arg-type]
        total=str(record.total),
        leaf_count=record.leaf_count,
        merkle_root=record.merkle_root,
        community_tax=str(record.community_tax),
        created_height=record.created_height,
        dust=str(record.dust),
    )


class LeafView(Sequence[fee_pb.DistributionLeaf]):
    """The leaves of a distribution (or of a withdrawal approval: staker leaves, no operator) in index
    order, built on access (a page touches only its leaves)."""

    def __init__(self, record: DistributionRecord | WithdrawalApprovalRecord) -> None:
        self._record = record

    def __len__(self) -> int:
        return self._record.leaf_count

    def _leaf(self, index: int) -> fee_pb.DistributionLeaf:
        record = self._record
        if isinstance(record, WithdrawalApprovalRecord):
            return fee_pb.DistributionLeaf(
                index=index,
                staker=_hex(record.stakers[index]),
                amount=str(record.amounts[index]),
                kind=LEAF_STAKER,  # type: ignore[arg-type]
                l1_request_ids=record.request_ids[index],
            )
        return fee_pb.DistributionLeaf(
            index=index,
            staker=_hex(record.stakers[index]),
            amount=str(record.amounts[index]),
            kind=record.kinds[index],  # type: ignore[arg-type]
            operator=record.operators[index],
        )

    @overload
    def __getitem__(self, index: int) -> fee_pb.DistributionLeaf: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[fee_pb.DistributionLeaf]: ...

    def __getitem__(self, index: int | slice) -> fee_pb.DistributionLeaf | Sequence[fee_pb.DistributionLeaf]:
        size = len(self)
        if isinstance(index, slice):
            return [self._leaf(i) for i in range(*index.indices(size))]
        if index < 0:
            index += size
        if not 0 <= index < size:
            raise IndexError(index)
        return self._leaf(index)


def slash_info(record: SlashRecord, slash_contract: str, event_height: int) -> operator_pb.OperatorSlashInfo:
    """Upstream's ``OperatorSlashInfo`` fields (1-8) and exorelay's record of the slash (50 on)."""
    return operator_pb.OperatorSlashInfo(
        slash_contract=slash_contract,
        submitted_height=record.submitted_height,
        event_height=event_height,
        slash_proportion=str(record.proportion * LEGACY_DEC_SCALE),
        slash_type=operator_pb.SLASH_TYPE_INSTANT_SLASH,
        slash_id=record.slash_id,
        operator=record.operator,
        operator_address=_hex(record.operator_address),
        avs_address=_hex(record.avs),
        kind=record.kind,  # type: ignore[arg-type]
        status=record.status,  # type: ignore[arg-type]
        reject_reason=record.reject_reason,
        freeze=record.freeze,
        assets=[
            operator_pb.SlashedAsset(token=_hex(a.token), asset_id=a.asset_id, amount=str(a.amount))
            for a in record.assets
        ],
        executed_height=record.executed_height,
        packet_nonce=record.packet_nonce,
        tx_hash=record.tx_hash,
        epoch=record.epoch,
        evidence_hash=record.evidence_hash,
        task_id=record.task_id,
        evidence=record.evidence,
        offence_epoch=record.offence_epoch,
    )


def packet(record: PacketRecord) -> relay_pb.Packet:
    packet = record.packet
    return relay_pb.Packet(
        nonce=packet.nonce,
        kind=int(packet.kind),  # type: ignore[arg-type]
        valset_nonce=packet.valset_nonce,
        payload=packet.payload_bytes,
        payload_hash=packet.payload_hash,
        digest=packet.digest,
        exocore_height=record.created_height,
        l1_chain_id=packet.l1_chain_id,
        gateway=_hex(packet.gateway),
    )


def packet_signatures(record: PacketRecord, height: int) -> list[relay_pb.ValidatorSignature]:
    """One entry per signing-set member; a signature shows once ``height`` reaches its visible height."""
    out = []
    for index, slot in enumerate(record.signatures):
        shown = slot.signature is not None and height >= slot.visible_height
        out.append(
            relay_pb.ValidatorSignature(
                index=index,
                bls_pubkey=slot.bls_pubkey,
                signed=shown,
                signature=slot.signature if shown and slot.signature is not None else b"",
            )
        )
    return out


def consensus_address(consensus_pubkey: bytes) -> str:
    """CometBFT address of an ed25519 key: sha256(pubkey)[:20], upper-case hex."""
    return hashlib.sha256(consensus_pubkey).digest()[:CONSENSUS_ADDRESS_BYTES].hex().upper()


def valset(record: ValsetRecord) -> relay_pb.Valset:
    return relay_pb.Valset(
        valset_nonce=record.nonce,
        members=[
            relay_pb.ValsetMember(
                index=i,
                bls_pubkey=m.bls_pubkey,
                power=str(m.power),
                consensus_address=consensus_address(m.consensus_pubkey),
                pop_signature=m.pop,
            )
            for i, m in enumerate(record.members)
        ],
        total_power=str(record.total_power),
        created_height=record.created_height,
    )


class StateViews:
    """Implements the ``ChainQueries`` protocol over a :class:`ChainState` (caller holds the lock).

    Answers reflect the *committed* state: the node executes each transaction when it is admitted
    into the open block, so every record created in a block that is not committed yet (its height is
    above ``state.height``) is hidden, as a Cosmos node's queries never show an uncommitted block.
    """

    def __init__(self, state: ChainState) -> None:
        self.state = state

    @property
    def _committed(self) -> int:
        return self.state.height

    def avs_info(self, avs_address: str) -> avs_pb.AVSInfo | None:
        record = self.state.avss.get(avs_address)
        if record is None or record.registered_height > self._committed:
            return None
        return avs_info(record)

    def avs_infos(self) -> Sequence[avs_pb.AVSInfo]:
        committed = self._committed
        avss = self.state.avss
        return [avs_info(avss[key]) for key in sorted(avss) if avss[key].registered_height <= committed]

    def committee(self, avs_address: str, epoch: int) -> avs_pb.Committee | None:
        chosen = epoch or self.state.epoch_of(self._committed)
        record = self.state.committees.get((avs_address, chosen))
        if record is None or record.elected_height > self._committed:
            return None
        return committee(record)

    def _claim(self, claim_id: bytes) -> ClaimRecord | None:
        record = self.state.claims.get(Hash32(claim_id))
        return None if record is None or record.submitted_height > self._committed else record

    def reward_claim(self, claim_id: bytes) -> avs_pb.RewardClaim | None:
        record = self._claim(claim_id)
        return None if record is None else reward_claim(record)

    def reward_claims(self) -> Sequence[avs_pb.RewardClaim]:
        records = (self._claim(claim_id) for claim_id in self.state.claim_order)
        return [reward_claim(record) for record in records if record is not None]

    def _distribution(self, nonce: int) -> DistributionRecord | None:
        record = self.state.distributions.get(nonce)
        return None if record is None or record.created_height > self._committed else record

    def distribution(self, nonce: int) -> fee_pb.Distribution | None:
        record = self._distribution(nonce)
        return None if record is None else distribution(record)

    def distribution_for_claim(self, claim_id: bytes) -> fee_pb.Distribution | None:
        nonce = self.state.distribution_by_claim.get(Hash32(claim_id))
        return None if nonce is None else self.distribution(nonce)

    def distributions(self) -> Sequence[fee_pb.Distribution]:
        committed = self._committed
        return [distribution(r) for r in self.state.distributions.values() if r.created_height <= committed]

    def distribution_leaves(self, nonce: int) -> Sequence[fee_pb.DistributionLeaf]:
        record = self._distribution(nonce)
        if record is None:
            approval = self.withdrawal_approval(nonce)
            return [] if approval is None else LeafView(approval)
        return LeafView(record)

    def withdrawal_approval(self, nonce: int) -> WithdrawalApprovalRecord | None:
        """The WITHDRAWAL_APPROVAL batch of packet ``nonce`` (its leaves are served by
        ``DistributionLeaves`` under the same nonce: one leaf encoding for both)."""
        record = self.state.withdrawal_approvals.get(nonce)
        return None if record is None or record.created_height > self._committed else record

    def has_withdrawal_approval(self, nonce: int) -> bool:
        return self.withdrawal_approval(nonce) is not None

    def cumulative_leaves(self, period: int, l1_chain_id: int = 0) -> Sequence[fee_pb.CumulativeLeaf] | None:
        """Client chain ``l1_chain_id``'s (0: the first client chain's) committed period's leaves in
        tree-input order; None for a period not closed (yet) or a chain that is not a client chain."""
        chain = l1_chain_id or self.state.relay.client_chains[0].l1_chain_id
        entry = self.state.cumulative_periods.get(chain, {}).get(period)
        if entry is None or entry[0] > self._committed:
            return None
        return [
            fee_pb.CumulativeLeaf(
                earner="0x" + leaf.earner.hex(),
                token="0x" + leaf.token.hex(),
                cumulative=str(leaf.cumulative),
            )
            for leaf in entry[1].tree.leaves
        ]

    def asset_custody(self, asset_id: str) -> operator_query.QueryAssetCustodyResponse:
        """What Exocore holds of ``asset_id``: with every stake entering through the L1 vault, the
        vault's custody of the token is ``delegated + unbonding + approved`` minus what it paid out."""
        state = self.state
        token = AssetId.parse(asset_id).token
        delegated = sum(sum(op.pools.get(asset_id, {}).values()) for op in state.operators.values())
        unbonding = sum(u.amount for u in state.undelegations.values() if u.asset_id == asset_id)
        # The same token address may be deployed on several client chains: only this chain's count.
        lz_chain_id = AssetId.parse(asset_id).lz_chain_id
        chain = state.relay.chain_of(lz_chain_id).l1_chain_id
        approved = sum(
            a.total
            for a in state.withdrawal_approvals.values()
            if a.token == token and state.relay.packets[a.nonce].packet.l1_chain_id == chain
        )
        return operator_query.QueryAssetCustodyResponse(
            delegated=str(delegated),
            unbonding=str(unbonding),
            approved=str(approved),
            l1_requests_applied=len(state.l1_requests_of(lz_chain_id)),
        )

    def _slash(self, slash_id: bytes) -> SlashRecord | None:
        record = self.state.slashes.get(Hash32(slash_id))
        return None if record is None or record.submitted_height > self._committed else record

    def _slash_info(self, record: SlashRecord) -> operator_pb.OperatorSlashInfo:
        avs = self.state.avss.get(_hex(record.avs))
        event_height = self.state.epoch_start_height(record.offence_epoch) if record.offence_epoch else 0
        return slash_info(record, "" if avs is None else avs.slash_address, event_height)

    def slash_info(self, slash_id: bytes) -> operator_pb.OperatorSlashInfo | None:
        record = self._slash(slash_id)
        return None if record is None else self._slash_info(record)

    def slash_infos(self) -> Sequence[operator_pb.OperatorSlashInfo]:
        records = (self._slash(slash_id) for slash_id in self.state.slash_order)
        return [self._slash_info(record) for record in records if record is not None]

    def _operator(self, account: str) -> Operator | None:
        record = self.state.operators.get(account)
        return None if record is None or record.registered_height > self._committed else record

    def operator_info(self, account: str) -> operator_tx.OperatorInfo | None:
        record = self._operator(account)
        return None if record is None else operator_info(record)

    def operator_accounts(self) -> Sequence[str]:
        return sorted(account for account in self.state.operators if self._operator(account) is not None)

    def freezing_slash(self, operator_account: str, avs_address: str) -> operator_pb.OperatorSlashInfo | None:
        operator = self.state.operators.get(operator_account)
        slash_id = None if operator is None else operator.frozen.get(avs_address)
        record = None if slash_id is None else self._slash(slash_id)
        return None if record is None else self._slash_info(record)

    def _packet(self, nonce: int) -> PacketRecord | None:
        record = self.state.relay.packets.get(nonce)
        return None if record is None or record.created_height > self._committed else record

    def packet(self, nonce: int) -> relay_pb.Packet | None:
        record = self._packet(nonce)
        return None if record is None else packet(record)

    def packets(self) -> Sequence[relay_pb.Packet]:
        committed = self._committed
        return [packet(r) for r in self.state.relay.packets.values() if r.created_height <= committed]

    def packet_signatures(self, nonce: int) -> Sequence[relay_pb.ValidatorSignature]:
        record = self._packet(nonce)
        return [] if record is None else packet_signatures(record, self._committed)

    def valset(self, valset_nonce: int) -> relay_pb.Valset | None:
        record = self.state.relay.valsets.get(valset_nonce)
        if record is None or record.created_height > self._committed:
            return None
        return valset(record)

    def current_valset(self) -> relay_pb.Valset | None:
        committed = self._committed
        visible = [v for v in self.state.relay.valsets.values() if v.created_height <= committed]
        return valset(visible[-1]) if visible else None

    def relay_params(self) -> relay_pb.Params:
        relay = self.state.relay
        return relay_pb.Params(
            l1_chain_id=relay.l1_chain_id,
            gateway=_hex(relay.gateway),
            exocore_chain=relay.exocore_chain,
            threshold_numerator=TWO_THIRDS.num,
            threshold_denominator=TWO_THIRDS.den,
            client_chains=[
                relay_pb.ClientChain(l1_chain_id=chain.l1_chain_id, gateway=_hex(chain.gateway))
                for chain in relay.client_chains
            ],
        )
