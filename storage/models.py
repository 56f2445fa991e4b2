"""The lifecycle schema (SQLModel tables) on PostgreSQL and SQLite.

Conventions, fixed once here so that every writer and reader agrees:

- Hashes, ids and addresses are lower-case ``0x`` hex text (66 / 42 characters), normalised at the
  boundary (:mod:`storage.normalize`); Exocore operators are bech32 text.
- Amounts and powers are :class:`~storage.sqltypes.Uint256` (exact on both databases); heights,
  epochs and nonces are BIGINT (values must fit a signed 64-bit integer; larger ones are refused at
  the boundary rather than wrapped).
- Timestamps are :class:`~storage.sqltypes.UtcDateTime` (aware UTC).
- Every lifecycle table has a ``state`` column constrained to its graph's states
  (:mod:`storage.lifecycle`) and a surrogate ``id`` that is the stable sort and cursor key of the
  API; natural keys (``claim_id``, ``(distribution_id, leaf_index)``, ``tx_hash`` ...) are unique.
- ``origin`` says which stream first recorded a row: ``exocore`` rows are facts of the Exocore chain
  (instant finality); ``l1`` rows were first seen in an L1 block and vanish again if that block is
  reorged away.
- ``l1_chain_id`` (``chain_id`` on ``l1_tx``) names the client chain an L1-side fact happened on:
  packet deliveries, payouts, withdrawal payments, cumulative payouts and roots, token transfers,
  reward-source deposits and slashes as landed on L1. It is set by that chain's L1 ingestion from
  the log it decodes (NULL until the row lands on L1); a packet has it from creation, the chain
  Exocore addressed it to (its digest binds that chain, so it can land nowhere else). The API
  filters and totals by it.
  It is not indexed: a deployment has a handful of chains, so the chain is a residual filter of an
  id-ordered scan, and every payout index costs a write per payout update.
- Every index exists for an API filter/sort path or an ingestion lookup; they are listed next to
  each table with the query they serve.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from storage.lifecycle import CLAIM, L1_TX, PACKET, PAYOUT, SLASH, Lifecycle
from storage.sqltypes import Uint256, UtcDateTime

HASH_HEX_LEN: Final = 66
ADDRESS_HEX_LEN: Final = 42
STATE_LEN: Final = 24
OPERATOR_LEN: Final = 90
AVS_NAME_LEN: Final = 128
CODE_LEN: Final = 64
"""Short free-text codes from a chain (rejection reason codes, epoch identifiers)."""
"""bech32 strings are at most 90 characters (BIP-173)."""
ENTITY_ID_LEN: Final = 96
"""Transition entity ids: a 0x hash, or ``<distribution id>:<leaf index>`` for a payout."""

NAMING_CONVENTION: Final = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Deterministic constraint names: Alembic's SQLite batch mode and downgrades need names."""

metadata: Final = MetaData(naming_convention=NAMING_CONVENTION)
_registry: Final = registry(metadata=metadata)

BigIntPK: Final = BigInteger().with_variant(Integer(), "sqlite")
"""BIGINT on PostgreSQL; INTEGER on SQLite, where only ``INTEGER PRIMARY KEY`` autoincrements."""


class IndexerModel(SQLModel, registry=_registry):
    """Base of the indexer's tables (own metadata, so other SQLModel users cannot leak tables in)."""


def _state_check(machine: Lifecycle) -> CheckConstraint:
    allowed = ", ".join(f"'{state}'" for state in machine.states)
    return CheckConstraint(f"state IN ({allowed})", name="state")


def _origin_check(*extra: str) -> CheckConstraint:
    allowed = ", ".join(f"'{origin}'" for origin in ("exocore", "l1", "relayer", *extra))
    return CheckConstraint(f"origin IN ({allowed})", name="origin")


AGGREGATOR_ORIGIN: Final = "aggregator"
"""``origin`` of a claim / slash first recorded from the AVS aggregator's collection."""


def _hash(*, nullable: bool = False, **kwargs: Any) -> Any:
    return Field(sa_type=String(HASH_HEX_LEN), nullable=nullable, **kwargs)


def _address(*, nullable: bool = False, **kwargs: Any) -> Any:
    return Field(sa_type=String(ADDRESS_HEX_LEN), nullable=nullable, **kwargs)


def _bigint(*, nullable: bool = False, **kwargs: Any) -> Any:
    return Field(sa_type=BigInteger, nullable=nullable, **kwargs)


def _uint256(name: str, *, nullable: bool = False) -> Any:
    return Field(sa_column=Column(name, Uint256(), nullable=nullable))


def _time(name: str, *, nullable: bool = False) -> Any:
    return Field(sa_column=Column(name, UtcDateTime(), nullable=nullable))


def _json(name: str) -> Any:
    return Field(sa_column=Column(name, JSON(), nullable=False))


# ---------------------------------------------------------------------------------------- AVS


class Avs(IndexerModel, table=True):
    """An AVS and its election rules (the quorum its committee must reach)."""

    __tablename__ = "avs"

    avs_address: str = Field(sa_type=String(ADDRESS_HEX_LEN), primary_key=True)
    name: str = Field(sa_type=String(AVS_NAME_LEN), default="")
    epoch_identifier: str = Field(sa_type=String(CODE_LEN), default="")
    starting_epoch: int = _bigint(default=0)
    threshold_numerator: int = _bigint()
    threshold_denominator: int = _bigint()
    asset_ids: list[str] = _json("asset_ids")
    """assetIDs (``0x<token>_0x<lzid>``) counted for voting power."""
    reward_tokens: list[dict[str, Any]] = _json("reward_tokens")
    """``[{"token": "0x…", "funding": 1|2, "decimals": n}]``."""
    payout_mode: str = Field(
        sa_type=String(CODE_LEN),
        default="per_distribution",
        sa_column_kwargs={"server_default": "per_distribution"},
    )
    """:attr:`relayer.protocol.kinds.PayoutMode.label`: ``per_distribution`` or ``cumulative``."""
    updated_height: int = _bigint()
    created_at: datetime = _time("created_at")
    updated_at: datetime = _time("updated_at")


class Committee(IndexerModel, table=True):
    """The committee an AVS elected for one epoch. ``/v1/committees/{avs}`` reads (avs, epoch desc)."""

    __tablename__ = "committee"
    __table_args__ = (UniqueConstraint("avs_address", "epoch"),)

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    avs_address: str = _address()
    epoch: int = _bigint()
    total_power: int = _uint256("total_power")
    threshold_numerator: int = _bigint()
    threshold_denominator: int = _bigint()
    elected_height: int = _bigint()
    block_hash: str | None = _hash(nullable=True)
    elected_at: datetime = _time("elected_at")


class CommitteeMember(IndexerModel, table=True):
    """One member of a committee, in bitmap order."""

    __tablename__ = "committee_member"
    __table_args__ = (
        ForeignKeyConstraint(["committee_id"], ["committee.id"], ondelete="CASCADE"),
        # committee filter ?operator=: committees an operator sits on.
        Index(None, "operator", "committee_id"),
    )

    committee_id: int = Field(sa_type=BigInteger, primary_key=True)
    member_index: int = Field(sa_type=Integer, primary_key=True)
    operator: str = Field(sa_type=String(OPERATOR_LEN))
    bls_pubkey: str = Field(sa_type=String(2 + 2 * 48))
    """0x-hex of the 48-byte compressed G1 key."""
    power: int = _uint256("power")


# ---------------------------------------------------------------------------------------- claims


class RewardClaim(IndexerModel, table=True):
    """A committee-signed reward claim and its lifecycle."""

    __tablename__ = "reward_claim"
    __table_args__ = (
        _state_check(CLAIM),
        _origin_check(AGGREGATOR_ORIGIN),
        # /v1/claims is ordered by id; each filter has an index ending in id so that a filtered,
        # paginated page is an index range scan.
        Index(None, "avs_address", "epoch", "id"),
        Index(None, "state", "id"),
        Index(None, "token", "id"),
        Index(None, "created_at"),
        Index(None, "distribution_id"),
    )

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    claim_id: str = Field(sa_type=String(HASH_HEX_LEN), unique=True)
    avs_address: str = _address()
    epoch: int = _bigint()
    token: str = _address()
    funding: int | None = Field(default=None, sa_type=SmallInteger, nullable=True)
    total_amount: int = _uint256("total_amount")
    signer_bitmap: str = Field(sa_type=Text, default="0x")
    signed_power: int | None = _uint256("signed_power", nullable=True)
    total_power: int | None = _uint256("total_power", nullable=True)
    threshold_numerator: int | None = _bigint(nullable=True, default=None)
    threshold_denominator: int | None = _bigint(nullable=True, default=None)
    state: str = Field(sa_type=String(STATE_LEN))
    reason_code: str | None = Field(default=None, sa_type=String(CODE_LEN), nullable=True)
    reason: str | None = Field(default=None, sa_type=Text, nullable=True)
    distribution_id: str | None = _hash(nullable=True, default=None)
    """The claim's first distribution. A claim split over several client chains has one per chain:
    the ``distribution`` rows with this ``claim_id`` are the authoritative list."""
    submitted_height: int | None = _bigint(nullable=True, default=None)
    submit_tx_hash: str | None = _hash(nullable=True, default=None)
    origin: str = Field(sa_type=String(16), default="exocore")
    created_at: datetime = _time("created_at")
    updated_at: datetime = _time("updated_at")


class ClaimSigner(IndexerModel, table=True):
    """A committee member whose signature is in a claim's aggregate (bitmap bit set)."""

    __tablename__ = "claim_signer"
    __table_args__ = (
        ForeignKeyConstraint(["claim_id"], ["reward_claim.claim_id"], ondelete="CASCADE"),
        # /v1/claims?operator=: claims an operator signed.
        Index(None, "operator", "claim_id"),
    )

    claim_id: str = Field(sa_type=String(HASH_HEX_LEN), primary_key=True)
    member_index: int = Field(sa_type=Integer, primary_key=True)
    operator: str = Field(sa_type=String(OPERATOR_LEN))
    power: int | None = _uint256("power", nullable=True)


# ---------------------------------------------------------------------------------------- distributions


class Distribution(IndexerModel, table=True):
    """A packet with leaves computed on Exocore (or first seen on L1) and its root's L1 inclusion:
    a reward distribution (``packet_kind`` 2) or a withdrawal approval (4: ``distribution_id`` is the
    approval id, no claim, ``avs_address`` the zero address, paid from the RestakingVault)."""

    __tablename__ = "distribution"
    __table_args__ = (
        _origin_check(),
        CheckConstraint("packet_kind IN (2, 4)", name="packet_kind"),
        Index(None, "claim_id"),
        Index(None, "avs_address", "epoch"),
        # Reorg reversal: rows whose L1 facts come from a block above the common ancestor.
        Index(None, "l1_block_number"),
    )

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    distribution_id: str = Field(sa_type=String(HASH_HEX_LEN), unique=True)
    nonce: int = Field(sa_type=BigInteger, unique=True)
    claim_id: str | None = _hash(nullable=True, default=None)
    avs_address: str = _address()
    epoch: int = _bigint()
    token: str = _address()
    funding: int | None = Field(default=None, sa_type=SmallInteger, nullable=True)
    total: int = _uint256("total")
    leaf_count: int | None = _bigint(nullable=True, default=None)
    merkle_root: str = _hash()
    community_tax: int | None = _uint256("community_tax", nullable=True)
    created_height: int | None = _bigint(nullable=True, default=None)
    l1_block_number: int | None = _bigint(nullable=True, default=None)
    l1_block_hash: str | None = _hash(nullable=True, default=None)
    l1_tx_hash: str | None = _hash(nullable=True, default=None)
    l1_log_index: int | None = Field(default=None, sa_type=Integer, nullable=True)
    l1_chain_id: int | None = _bigint(nullable=True, default=None)
    l1_finalized: bool = Field(default=False, sa_type=Boolean)
    origin: str = Field(sa_type=String(16), default="exocore")
    packet_kind: int = Field(default=2, sa_type=SmallInteger, sa_column_kwargs={"server_default": "2"})
    payment_state: str | None = Field(default=None, sa_type=String(STATE_LEN), nullable=True)
    """This distribution's share of its claim's payment, in the claim's terms: NULL (no leaf paid
    yet), ``paying`` (some leaves paid, its root final) or ``paid`` (every leaf's payment final).
    A claim split over several client chains has one distribution per chain; the claim is ``paid``
    when each of them is (:mod:`storage.store.claims`)."""
    created_at: datetime = _time("created_at")
    updated_at: datetime = _time("updated_at")


class DistributionLeaf(IndexerModel, table=True):
    """One Merkle leaf (index, staker, amount) of a distribution."""

    __tablename__ = "distribution_leaf"
    __table_args__ = (
        ForeignKeyConstraint(["distribution_id"], ["distribution.distribution_id"], ondelete="CASCADE"),
        # /v1/claims?staker=: distributions (hence claims) that pay a staker.
        Index(None, "staker", "distribution_id"),
    )

    distribution_id: str = Field(sa_type=String(HASH_HEX_LEN), primary_key=True)
    leaf_index: int = Field(sa_type=BigInteger, primary_key=True)
    staker: str = _address()
    amount: int = _uint256("amount")
    kind: int | None = Field(default=None, sa_type=SmallInteger, nullable=True)
    """1 staker share, 2 operator commission (feedistribution.v1.LeafKind)."""
    operator: str | None = Field(default=None, sa_type=String(OPERATOR_LEN), nullable=True)
    l1_request_ids: str | None = Field(default=None, sa_type=Text, nullable=True)
    """Withdrawal-approval leaf: the L1 RestakingVault request ids it pays, comma-separated decimals
    (NULL for a reward leaf)."""


class Payout(IndexerModel, table=True):
    """The payment of one leaf (one per leaf): ``pending -> submitted -> included -> finalized``."""

    __tablename__ = "payout"
    __table_args__ = (
        _state_check(PAYOUT),
        _origin_check(),
        UniqueConstraint("distribution_id", "leaf_index"),
        CheckConstraint("paid_by IN ('relayer', 'staker')", name="paid_by"),
        # /v1/payouts?staker= (the staker's view; hot path), then token/status as residual filters.
        Index(None, "staker", "id"),
        Index(None, "token", "id"),
        Index(None, "state", "id"),
        Index(None, "avs_address", "epoch", "id"),
        Index(None, "l1_tx_hash"),
        # Deliberately not indexed: created_at (time ranges come with an id-ordered scan and
        # are rarely selective alone) and l1_block_number (reorg clean-up finds its rows through
        # the state index). Every payout row is rewritten twice (included, finalized) and each
        # index costs a write per update: at 7 indexes ingestion runs ~20 % faster than at 9.
    )

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    distribution_id: str = _hash()
    leaf_index: int = _bigint()
    staker: str = _address()
    token: str = _address()
    amount: int = _uint256("amount")
    avs_address: str | None = _address(nullable=True, default=None)
    epoch: int | None = _bigint(nullable=True, default=None)
    state: str = Field(sa_type=String(STATE_LEN))
    l1_tx_hash: str | None = _hash(nullable=True, default=None)
    l1_block_number: int | None = _bigint(nullable=True, default=None)
    l1_block_hash: str | None = _hash(nullable=True, default=None)
    l1_log_index: int | None = Field(default=None, sa_type=Integer, nullable=True)
    l1_chain_id: int | None = _bigint(nullable=True, default=None)
    origin: str = Field(sa_type=String(16), default="exocore")
    paid_by: str | None = Field(default=None, sa_type=String(16), nullable=True)
    """Who sent the paying transaction, where the indexer tells: ``relayer`` (a batch ``payout``)
    or ``staker`` (its own ``claim``); set for withdrawal-approval leaves."""
    created_at: datetime = _time("created_at")
    updated_at: datetime = _time("updated_at")


# ---------------------------------------------------------------------------------------- packets


class RelayPacket(IndexerModel, table=True):
    """A relay packet Exocore emitted for L1, and its way there."""

    __tablename__ = "relay_packet"
    __table_args__ = (
        _state_check(PACKET),
        CheckConstraint("kind IN (1, 2, 3, 4, 5)", name="kind"),
        Index(None, "kind", "id"),
        Index(None, "state", "id"),
        Index(None, "subject_id"),
        Index(None, "created_at"),
        Index(None, "l1_block_number"),
    )

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    nonce: int = Field(sa_type=BigInteger, unique=True)
    kind: int = Field(sa_type=SmallInteger)
    valset_nonce: int = _bigint()
    payload: str = Field(sa_type=Text)
    """0x-hex of the ABI payload bytes."""
    payload_hash: str = _hash()
    digest: str = _hash()
    subject_id: str | None = Field(default=None, sa_type=String(HASH_HEX_LEN), nullable=True)
    """claim id (REWARD_DISTRIBUTION), slash id (SLASH) or the new valset nonce (VALSET_UPDATE)."""
    distribution_id: str | None = _hash(nullable=True, default=None)
    avs_address: str | None = _address(nullable=True, default=None)
    state: str = Field(sa_type=String(STATE_LEN))
    exocore_height: int = _bigint()
    signed_power: int | None = _uint256("signed_power", nullable=True)
    total_power: int | None = _uint256("total_power", nullable=True)
    l1_tx_hash: str | None = _hash(nullable=True, default=None)
    l1_block_number: int | None = _bigint(nullable=True, default=None)
    l1_block_hash: str | None = _hash(nullable=True, default=None)
    l1_log_index: int | None = Field(default=None, sa_type=Integer, nullable=True)
    l1_chain_id: int | None = _bigint(nullable=True, default=None)
    created_at: datetime = _time("created_at")
    updated_at: datetime = _time("updated_at")


class PacketAttestation(IndexerModel, table=True):
    """One validator's signature (or absence) over a packet digest."""

    __tablename__ = "packet_attestation"
    __table_args__ = (ForeignKeyConstraint(["packet_nonce"], ["relay_packet.nonce"], ondelete="CASCADE"),)

    packet_nonce: int = Field(sa_type=BigInteger, primary_key=True)
    validator_index: int = Field(sa_type=Integer, primary_key=True)
    bls_pubkey: str = Field(sa_type=String(2 + 2 * 48))
    power: int | None = _uint256("power", nullable=True)
    signed: bool = Field(sa_type=Boolean)
    signature: str | None = Field(default=None, sa_type=String(2 + 2 * 96), nullable=True)


class Valset(IndexerModel, table=True):
    """A relay validator set as Exocore made it (its L1 installations are :class:`ValsetL1` rows,
    one per client chain: each chain's gateway installs each set in its own transaction)."""

    __tablename__ = "valset"

    valset_nonce: int = Field(sa_type=BigInteger, primary_key=True)
    total_power: int = _uint256("total_power")
    members: list[dict[str, Any]] = _json("members")
    """``[{"index": i, "bls_pubkey": "0x…", "power": "decimal"}]`` in set order."""
    created_height: int | None = _bigint(nullable=True, default=None)
    origin: str = Field(sa_type=String(16), default="exocore")
    """``l1``: first seen in a chain's ``ValsetUpdated`` (members unknown until Exocore's record);
    such a row vanishes with the last of its installations on a reorg."""
    created_at: datetime = _time("created_at")
    updated_at: datetime = _time("updated_at")


class ValsetL1(IndexerModel, table=True):
    """One client chain's installation of a validator set (its gateway's ``ValsetUpdated``): the
    commitment that chain stores and where it was installed. Deleted with its block on that chain's
    reorg; another chain's installation of the same set is untouched."""

    __tablename__ = "valset_l1"
    __table_args__ = (
        ForeignKeyConstraint(["valset_nonce"], ["valset.valset_nonce"], ondelete="CASCADE"),
        # Reorg reversal: one chain's installations above the common ancestor.
        Index(None, "l1_chain_id", "block_number"),
    )

    valset_nonce: int = Field(sa_type=BigInteger, primary_key=True)
    l1_chain_id: int = Field(sa_type=BigInteger, primary_key=True)
    commitment: str = _hash()
    total_power: int = _uint256("total_power")
    """As the chain's event states it (the gateway's sum of the set's powers)."""
    block_number: int = _bigint()
    block_hash: str = _hash()
    tx_hash: str = _hash()
    log_index: int = Field(sa_type=Integer)
    installed_at: datetime = _time("installed_at")
    """The block's time."""


# ---------------------------------------------------------------------------------------- L1 txs


class L1Transaction(IndexerModel, table=True):
    """One L1 transaction; a fee-bumped replacement is its own row pointing at the one it replaces."""

    __tablename__ = "l1_tx"
    __table_args__ = (
        _state_check(L1_TX),
        _origin_check(),
        CheckConstraint(
            "purpose IN ('valset_update', 'distribution', 'slash', 'withdrawal', 'payout', 'other')",
            name="purpose",
        ),
        Index(None, "state", "id"),
        Index(None, "purpose", "id"),
        # /v1/l1/txs?distribution_id= and a claim's timeline (its root's transactions).
        Index(None, "distribution_id", "id"),
        Index(None, "sender", "tx_nonce"),
        Index(None, "block_number"),
        Index(None, "created_at"),
    )

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    tx_hash: str = Field(sa_type=String(HASH_HEX_LEN), unique=True)
    chain_id: int = _bigint()
    sender: str | None = _address(nullable=True, default=None)
    tx_nonce: int | None = _bigint(nullable=True, default=None)
    purpose: str = Field(sa_type=String(16))
    packet_nonce: int | None = _bigint(nullable=True, default=None)
    distribution_id: str | None = _hash(nullable=True, default=None)
    replaces_tx_hash: str | None = _hash(nullable=True, default=None)
    state: str = Field(sa_type=String(STATE_LEN))
    max_fee_per_gas: int | None = _uint256("max_fee_per_gas", nullable=True)
    max_priority_fee_per_gas: int | None = _uint256("max_priority_fee_per_gas", nullable=True)
    gas_used: int | None = _bigint(nullable=True, default=None)
    block_number: int | None = _bigint(nullable=True, default=None)
    block_hash: str | None = _hash(nullable=True, default=None)
    origin: str = Field(sa_type=String(16), default="relayer")
    created_at: datetime = _time("created_at")
    updated_at: datetime = _time("updated_at")


class TokenTransfer(IndexerModel, table=True):
    """An ERC-20 ``Transfer`` out of the gateway's funding sources (a mint, or the RewardVault).

    Kept to check that every payout moved exactly the tokens it claims (invariant
    ``payout_matches_transfers``).
    """

    __tablename__ = "l1_token_transfer"
    __table_args__ = (
        UniqueConstraint("tx_hash", "log_index"),
        Index(None, "block_number"),
    )

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    token: str = _address()
    sender: str = _address()
    recipient: str = _address()
    amount: int = _uint256("amount")
    tx_hash: str = _hash()
    log_index: int = Field(sa_type=Integer)
    block_number: int = _bigint()
    block_hash: str = _hash()
    l1_chain_id: int | None = _bigint(nullable=True, default=None)


class RewardFunding(IndexerModel, table=True):
    """One deposit into an AVS's reward source in the RewardVault: ``source`` 2 (VAULT, a
    ``Deposited`` event) or 3 (FEES, a ``FeesDeposited`` event). What was funded per (AVS, token,
    source) is the sum of these rows; rows from a block a reorg orphaned are deleted."""

    __tablename__ = "l1_reward_funding"
    __table_args__ = (
        UniqueConstraint("tx_hash", "log_index"),
        Index(None, "avs_address", "token", "source"),
        Index(None, "block_number"),
    )

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    avs_address: str = _address()
    token: str = _address()
    source: int = Field(sa_type=SmallInteger)
    sender: str = _address()
    amount: int = _uint256("amount")
    tx_hash: str = _hash()
    log_index: int = Field(sa_type=Integer)
    block_number: int = _bigint()
    block_hash: str = _hash()
    l1_chain_id: int | None = _bigint(nullable=True, default=None)


class CumulativeLeafRow(IndexerModel, table=True):
    """One leaf of a closed cumulative period's tree, as Exocore serves it when the period's
    CUMULATIVE_ROOT packet is created: everything ``earner`` earned in ``token`` on client chain
    ``l1_chain_id`` up to that chain's ``period`` (each client chain numbers its own periods).
    Exocore is final, so a row never changes; ``packet_nonce`` ties it to the packet (and so to the
    root's lifecycle: created, relayed, finalized). ``l1_chain_id`` is NULL only on rows stored
    before roots were per chain whose packet's chain was not known."""

    __tablename__ = "cumulative_leaf"
    __table_args__ = (
        UniqueConstraint("l1_chain_id", "period", "earner", "token"),
        Index(None, "earner", "token"),
        Index(None, "packet_nonce"),
    )

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    period: int = _bigint()
    earner: str = _address()
    token: str = _address()
    cumulative: int = _uint256("cumulative")
    packet_nonce: int = _bigint()
    l1_chain_id: int | None = _bigint(nullable=True, default=None)


class CumulativePayout(IndexerModel, table=True):
    """A ``CumulativePaid`` of the RewardVault: one (earner, token) paid ``amount`` up to its
    ``cumulative`` total under ``period``'s root, pushed by anyone (``by_earner`` false) or claimed
    by the earner itself (sender or signature). Deleted with its block on an L1 reorg, like transfers."""

    __tablename__ = "cumulative_payout"
    __table_args__ = (
        UniqueConstraint("tx_hash", "log_index"),
        Index(None, "earner", "token"),
        Index(None, "block_number"),
        # What the vault of one client chain paid per (earner, token): the push stage's one query.
        Index(None, "l1_chain_id", "earner", "token"),
    )

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    earner: str = _address()
    token: str = _address()
    recipient: str = _address()
    amount: int = _uint256("amount")
    cumulative: int = _uint256("cumulative")
    period: int = _bigint()
    by_earner: bool = Field(sa_type=Boolean)
    tx_hash: str = _hash()
    log_index: int = Field(sa_type=Integer)
    block_number: int = _bigint()
    block_hash: str = _hash()
    l1_chain_id: int | None = _bigint(nullable=True, default=None)


class CumulativeRoot(IndexerModel, table=True):
    """The RewardVault took a CUMULATIVE_ROOT packet (``CumulativeRootAccepted``, or
    ``CumulativeRootIgnored`` for a period not past its latest): ``vault`` is the contract that
    emitted it, where claims of ``period`` are sent. Deleted with its block on an L1 reorg."""

    __tablename__ = "cumulative_root"
    # Periods are numbered per client chain: a period is looked up with its chain.
    __table_args__ = (Index(None, "l1_chain_id", "period"), Index(None, "block_number"))

    packet_nonce: int = Field(sa_type=BigInteger, primary_key=True)
    period: int = _bigint()
    vault: str = _address()
    accepted: bool = Field(sa_type=Boolean)
    tx_hash: str = _hash()
    log_index: int = Field(sa_type=Integer)
    block_number: int = _bigint()
    block_hash: str = _hash()
    l1_chain_id: int | None = _bigint(nullable=True, default=None)


class CumulativeFundingRow(IndexerModel, table=True):
    """A ``CumulativeFunded`` of the RewardVault: ``amount`` of what ``avs`` owes in ``token`` for
    cumulative roots moved into the token's cumulative pool (VAULT: out of the AVS's deposits; MINT:
    allowed to mint), the AVS's ``drawn`` total reaching that much of its ``target`` (the latest
    root's funded total). Deleted with its block on an L1 reorg, like transfers."""

    __tablename__ = "l1_cumulative_funding"
    __table_args__ = (
        UniqueConstraint("tx_hash", "log_index"),
        Index(None, "avs_address", "token"),
        Index(None, "block_number"),
    )

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    avs_address: str = _address()
    token: str = _address()
    amount: int = _uint256("amount")
    drawn: int = _uint256("drawn")
    target: int = _uint256("target")
    tx_hash: str = _hash()
    log_index: int = Field(sa_type=Integer)
    block_number: int = _bigint()
    block_hash: str = _hash()
    l1_chain_id: int | None = _bigint(nullable=True, default=None)


class CumulativeAccrual(IndexerModel, table=True):
    """A cumulative-payout AVS's distribution (``reward_distribution_accrued``): ``total`` of
    ``token`` (the leaves' sum, not the claim: the community tax and dust stay out) added to its
    earners' cumulative totals, closing in ``period``'s root. One per claim; Exocore is final, so a
    row never changes."""

    __tablename__ = "cumulative_accrual"
    __table_args__ = (Index(None, "avs_address", "token"),)

    claim_id: str = Field(sa_type=String(HASH_HEX_LEN), primary_key=True)
    avs_address: str = _address()
    token: str = _address()
    funding: int = Field(sa_type=SmallInteger)
    total: int = _uint256("total")
    period: int = _bigint()
    community_tax: int | None = _uint256("community_tax", nullable=True)
    dust: int | None = _uint256("dust", nullable=True)


# ---------------------------------------------------------------------------------------- slashes


class Slash(IndexerModel, table=True):
    """A slash of one operator for one AVS and its way to L1."""

    __tablename__ = "slash"
    __table_args__ = (
        _state_check(SLASH),
        _origin_check(AGGREGATOR_ORIGIN),
        CheckConstraint(
            "evidence_kind IS NULL OR evidence_kind IN ('equivocation', 'committee_request', 'wrong_result')",
            name="evidence_kind",
        ),
        Index(None, "avs_address", "id"),
        Index(None, "operator", "id"),
        Index(None, "operator_address", "id"),
        Index(None, "state", "id"),
        Index(None, "created_at"),
        Index(None, "l1_block_number"),
    )

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    slash_id: str = Field(sa_type=String(HASH_HEX_LEN), unique=True)
    operator: str | None = Field(default=None, sa_type=String(OPERATOR_LEN), nullable=True)
    operator_address: str | None = _address(nullable=True, default=None)
    avs_address: str = _address()
    evidence_kind: str | None = Field(default=None, sa_type=String(24), nullable=True)
    evidence: str | None = Field(default=None, sa_type=Text, nullable=True)
    """The evidence bytes as 0x hex (bounded by ``MAX_EVIDENCE_BYTES``; NULL: not shown by the chain)."""
    state: str = Field(sa_type=String(STATE_LEN))
    reason_code: str | None = Field(default=None, sa_type=String(CODE_LEN), nullable=True)
    reason: str | None = Field(default=None, sa_type=Text, nullable=True)
    freeze: bool = Field(default=False, sa_type=Boolean)
    slash_proportion: str | None = Field(default=None, sa_type=String(40), nullable=True)
    packet_nonce: int | None = _bigint(nullable=True, default=None)
    submitted_height: int | None = _bigint(nullable=True, default=None)
    executed_height: int | None = _bigint(nullable=True, default=None)
    l1_tx_hash: str | None = _hash(nullable=True, default=None)
    l1_block_number: int | None = _bigint(nullable=True, default=None)
    l1_block_hash: str | None = _hash(nullable=True, default=None)
    l1_log_index: int | None = Field(default=None, sa_type=Integer, nullable=True)
    l1_chain_id: int | None = _bigint(nullable=True, default=None)
    origin: str = Field(sa_type=String(16), default="exocore")
    created_at: datetime = _time("created_at")
    updated_at: datetime = _time("updated_at")


class SlashSigner(IndexerModel, table=True):
    """A committee member that signed a slash request."""

    __tablename__ = "slash_signer"
    __table_args__ = (ForeignKeyConstraint(["slash_id"], ["slash.slash_id"], ondelete="CASCADE"),)

    slash_id: str = Field(sa_type=String(HASH_HEX_LEN), primary_key=True)
    member_index: int = Field(sa_type=Integer, primary_key=True)
    operator: str = Field(sa_type=String(OPERATOR_LEN))


class SlashAsset(IndexerModel, table=True):
    """The amount of one token a slash takes."""

    __tablename__ = "slash_asset"
    __table_args__ = (
        ForeignKeyConstraint(["slash_id"], ["slash.slash_id"], ondelete="CASCADE"),
        # /v1/slashes?token=
        Index(None, "token", "slash_id"),
    )

    slash_id: str = Field(sa_type=String(HASH_HEX_LEN), primary_key=True)
    token: str = Field(sa_type=String(ADDRESS_HEX_LEN), primary_key=True)
    asset_id: str | None = Field(default=None, sa_type=String(80), nullable=True)
    amount: int = _uint256("amount")


# ---------------------------------------------------------------------------------------- history


class Transition(IndexerModel, table=True):
    """Append-only history: one row per state change of a lifecycle object, with where and when.

    ``from_state`` NULL is the object's first sighting; ``to_state`` NULL (only with edge
    ``reversal``) means an L1 reorg removed an object that was first seen in the orphaned block.
    A reversal row names the row it undoes in ``reverses_id``; nothing is ever updated or deleted.
    """

    __tablename__ = "transition"
    __table_args__ = (
        CheckConstraint("edge IN ('forward', 'retry', 'reversal')", name="edge"),
        CheckConstraint("chain IN ('exocore', 'l1', 'relayer', 'operator')", name="chain"),
        CheckConstraint("entity_kind IN ('claim', 'slash', 'packet', 'payout', 'l1_tx')", name="entity_kind"),
        # A claim's timeline; also the ordering of the forward-only invariant check.
        Index(None, "entity_kind", "entity_id", "id"),
        # Reorg reversal: L1 transitions above the common ancestor.
        Index(None, "chain", "height"),
        Index(None, "reverses_id"),
    )

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    entity_kind: str = Field(sa_type=String(16))
    entity_id: str = Field(sa_type=String(ENTITY_ID_LEN))
    from_state: str | None = Field(default=None, sa_type=String(STATE_LEN), nullable=True)
    to_state: str | None = Field(default=None, sa_type=String(STATE_LEN), nullable=True)
    edge: str = Field(sa_type=String(16), default="forward")
    chain: str = Field(sa_type=String(16))
    height: int | None = _bigint(nullable=True, default=None)
    block_hash: str | None = _hash(nullable=True, default=None)
    tx_hash: str | None = _hash(nullable=True, default=None)
    log_index: int | None = Field(default=None, sa_type=Integer, nullable=True)
    reason: str | None = Field(default=None, sa_type=Text, nullable=True)
    reverses_id: int | None = _bigint(nullable=True, default=None)
    at: datetime = _time("at")
    """When it happened: the block time for chain events, the decision time otherwise."""
    recorded_at: datetime = _time("recorded_at")


# ---------------------------------------------------------------------------------------- ingestion


class ChainCursor(IndexerModel, table=True):
    """Where one ingestion stream is: last ingested block (height + hash), head seen, finality, halt."""

    __tablename__ = "chain_cursor"

    stream: str = Field(sa_type=String(32), primary_key=True)
    chain: str = Field(sa_type=String(16))
    height: int = _bigint()
    block_hash: str = _hash()
    head_height: int | None = _bigint(nullable=True, default=None)
    finalized_height: int | None = _bigint(nullable=True, default=None)
    halted: bool = Field(default=False, sa_type=Boolean)
    halt_reason: str | None = Field(default=None, sa_type=Text, nullable=True)
    updated_at: datetime = _time("updated_at")


class ChainBlock(IndexerModel, table=True):
    """Hash of an ingested block that produced rows (or ended a batch): the reorg detector's memory."""

    __tablename__ = "chain_block"

    stream: str = Field(sa_type=String(32), primary_key=True)
    height: int = Field(sa_type=BigInteger, primary_key=True)
    block_hash: str = _hash()
    at: datetime | None = _time("at", nullable=True)


class InvariantViolation(IndexerModel, table=True):
    """An invariant violation an ingestion batch tripped over (the stream stopped there)."""

    __tablename__ = "invariant_violation"
    __table_args__ = (Index(None, "stream", "id"),)

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    stream: str = Field(sa_type=String(32))
    invariant: str = Field(sa_type=String(64))
    message: str = Field(sa_type=Text)
    details: dict[str, Any] = _json("details")
    detected_at: datetime = _time("detected_at")


class PoisonedBlock(IndexerModel, table=True):
    """A block its stream could not store for a data reason (not a connection fault). The stream
    halts there; an operator resumes it (retry the block, after a fix) or skips the block
    (``exorelay skip-block``), recorded here with who, why and when."""

    __tablename__ = "poisoned_block"
    __table_args__ = (UniqueConstraint("stream", "height"),)

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    stream: str = Field(sa_type=String(32))
    height: int = _bigint()
    block_hash: str = _hash()
    error_class: str = Field(sa_type=String(128))
    error: str = Field(sa_type=Text)
    detected_at: datetime = _time("detected_at")
    skipped_at: datetime | None = _time("skipped_at", nullable=True)
    skipped_by: str | None = Field(default=None, sa_type=String(128), nullable=True)
    skip_reason: str | None = Field(default=None, sa_type=Text, nullable=True)


LIFECYCLE_TABLES: Final[dict[str, type[IndexerModel]]] = {
    "claim": RewardClaim,
    "slash": Slash,
    "packet": RelayPacket,
    "payout": Payout,
    "l1_tx": L1Transaction,
}
"""Entity kind (:class:`storage.lifecycle.EntityKind`) -> its table."""


def table_of(model: type[IndexerModel]) -> Table:
    """The Core table of a model (SQLModel types ``__table__`` as Any)."""
    table = getattr(model, "__table__", None)
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not a table model")
    return table


avs_table: Final = table_of(Avs)
committee_table: Final = table_of(Committee)
committee_member_table: Final = table_of(CommitteeMember)
claim_table: Final = table_of(RewardClaim)
claim_signer_table: Final = table_of(ClaimSigner)
distribution_table: Final = table_of(Distribution)
leaf_table: Final = table_of(DistributionLeaf)
payout_table: Final = table_of(Payout)
packet_table: Final = table_of(RelayPacket)
attestation_table: Final = table_of(PacketAttestation)
valset_table: Final = table_of(Valset)
valset_l1_table: Final = table_of(ValsetL1)
l1_tx_table: Final = table_of(L1Transaction)
transfer_table: Final = table_of(TokenTransfer)
reward_funding_table: Final = table_of(RewardFunding)
cumulative_payout_table: Final = table_of(CumulativePayout)
cumulative_leaf_table: Final = table_of(CumulativeLeafRow)
cumulative_root_table: Final = table_of(CumulativeRoot)
cumulative_funding_table: Final = table_of(CumulativeFundingRow)
cumulative_accrual_table: Final = table_of(CumulativeAccrual)
slash_table: Final = table_of(Slash)
slash_signer_table: Final = table_of(SlashSigner)
slash_asset_table: Final = table_of(SlashAsset)
transition_table: Final = table_of(Transition)
cursor_table: Final = table_of(ChainCursor)
block_table: Final = table_of(ChainBlock)
violation_table: Final = table_of(InvariantViolation)
poisoned_block_table: Final = table_of(PoisonedBlock)
