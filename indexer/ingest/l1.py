"""L1 ingestion: gateway, vault and reward-token logs from a JSON-RPC node into the store.

One :meth:`L1Ingestor.poll` is one step:

1. **Reorg check.** The cursor keeps the hash of the last ingested block. If the node now has
   another block at that height, the ingestor walks back through the block hashes it remembered
   (blocks that produced rows, batch ends, and the finalized anchor) to the newest one the node
   still has: the common ancestor. Everything observed above it is reversed
   (:meth:`~storage.store.StoreTx.reverse_l1_above`) and re-ingested from there. If the ancestor is
   below the finalized height, rows already final would change: :class:`DeepReorgError`, and the
   stream halts rather than rewrite them.
2. **One batch** of at most ``batch_blocks`` blocks (fewer while batches with rows to store take
   longer than ``batch_target_s``, when one is set; more again while the stream is behind and
   batches fit it or are empty: :func:`indexer.ingest.base.next_batch_span`, so a starved host whose
   fixed per-batch overhead alone overruns the target still catches up):
   ``eth_getLogs`` over the gateway and vaults,
   then (only if the range paid leaves) the reward tokens' ``Transfer`` logs out of the funding
   sources. The end block's hash is read before and after; if it changed, or a log names another
   hash for its block than the header, the batch is dropped and retried on the next poll.
3. **Finality**: everything at or below ``head - confirmations`` (or the node's ``finalized`` tag)
   moves to its final state.
4. **Invariants** (:mod:`storage.invariants`) inside the same transaction as the rows and the cursor.

A batch that fails for a data reason (a log the committed ABI cannot decode, a value the database
refuses, an invariant the logs break: :func:`indexer.ingest.base.is_block_data_failure`) is retried
over half its span until one block fails alone; the blocks before it commit on the way. That block
is *poisoned* exactly as an Exocore block is (:func:`indexer.ingest.base.poison_block`: recorded,
counted, logged, the stream halted at it) and never retried silently: an operator resumes the
stream after a fix or skips the block (``exorelay skip-block l1:<chain id> <height>``).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cache
from typing import Any, Final, Protocol, cast

from eth_abi.abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_utils.abi import event_abi_to_log_topic, function_abi_to_4byte_selector
from sqlalchemy import select
from web3 import Web3
from web3.types import RPCEndpoint

from indexer.ingest.base import guarded, is_block_data_failure, next_batch_span, poison_block
from indexer.ingest.token_units import EthCallSource, TokenUnits
from indexer.metrics import IngestMetrics
from relayer.errors import L1RpcError
from relayer.l1.artifacts import ContractName, load_artifact
from relayer.protocol.packets import FundingMode
from storage.db import refresh_stale_statistics
from storage.errors import DeepReorgError, InvalidRecordError
from storage.invariants import (
    check_cumulative_paid_within_accrued,
    check_cumulative_paid_within_earned,
    check_cumulative_transfers_match_payouts,
    check_forward_only,
    check_paid_within_total,
    check_payouts_match_transfers,
    check_transition_history,
)
from storage.lifecycle import Chain
from storage.models import distribution_table
from storage.normalize import BIGINT_MAX, ZERO_ADDRESS, address_hex, hash_hex
from storage.records import (
    CumulativeFundedLog,
    CumulativePaidLog,
    CumulativeRootLog,
    DistributionSubmittedLog,
    L1Log,
    L1Position,
    RewardFundedLog,
    RewardPaidLog,
    SlashExecutedLog,
    TokenTransferLog,
    ValsetUpdatedLog,
    WithdrawalApprovalSubmittedLog,
)
from storage.store import NO_BLOCK_HASH, L1BatchEffects, LifecycleStore, utc_now

log = logging.getLogger(__name__)

STATISTICS_CHECK_EVERY_BATCHES: Final = 1
"""Look for stale planner statistics after every batch that wrote records (an empty one changes no
row count): the look is one catalog query (~1 ms), and an ANALYZE only runs when a table at least
doubled, so during a backfill they get geometrically rarer."""

L1_BATCH_BLOCKS: Final = 500
"""Blocks per ``eth_getLogs`` batch. Public providers cap a query at 1k-10k blocks or 10k logs; 500
keeps a busy range under both and one batch's transaction short."""

HASH_CACHE_ENTRIES: Final = 4096
"""Distinct block/tx hashes the decoder remembers normalised (a batch holds a few hundred at most)."""

GATEWAY_EVENTS: Final = (
    "DistributionSubmitted",
    "RewardPaid",
    "SlashExecuted",
    "ValsetUpdated",
    "WithdrawalApprovalSubmitted",
)
VAULT_EVENTS: Final = ("CumulativeRootAccepted", "CumulativeRootIgnored", "CumulativePaid")
"""RewardVault events of cumulative rewards: the two that end a CUMULATIVE_ROOT packet's delivery
(they carry its nonce) and each payout under a cumulative root."""

FUNDING_EVENTS: Final = {"Deposited": FundingMode.VAULT, "FeesDeposited": FundingMode.FEES}
"""RewardVault events that fund an AVS's reward source, and the source each funds."""

CUMULATIVE_FUNDED_EVENT: Final = "CumulativeFunded"
"""The RewardVault's event for what an AVS's cumulative-root debt moved into a token's pool (on a
root's acceptance or a later ``drawCumulative``)."""

VAULT_PAID_EVENT: Final = "WithdrawalPaid"
"""The RestakingVault's event for a paid withdrawal-approval leaf (by batch ``payout`` or ``claim``)."""


@cache
def _claim_selectors() -> frozenset[bytes]:
    """Selectors of ``RestakingVault.claim`` and ``ExocoreGateway.claim``: a staker's (or anyone's
    on its behalf) payment of one leaf, as opposed to a batch ``payout`` push."""
    selectors = set()
    for name in (ContractName.RESTAKING_VAULT, ContractName.EXOCORE_GATEWAY):
        (entry,) = [e for e in load_artifact(name).entries("function") if e["name"] == "claim"]
        selectors.add(bytes(function_abi_to_4byte_selector(cast(Any, dict(entry)))))
    return frozenset(selectors)


def l1_stream_name(chain_id: int) -> str:
    return f"l1:{chain_id}"


class DeploymentAddresses(Protocol):
    """What :meth:`L1Contracts.from_deployment` reads (``devnet.l1_deploy.L1Deployment`` has it)."""

    @property
    def gateway(self) -> str: ...
    @property
    def reward_vault(self) -> str: ...
    @property
    def restaking_vault(self) -> str: ...
    @property
    def reward_token(self) -> str: ...
    @property
    def weth(self) -> str: ...


@dataclass(frozen=True, slots=True)
class L1Contracts:
    """The addresses whose logs the indexer reads."""

    gateway: str
    reward_vault: str | None = None
    restaking_vault: str | None = None
    reward_tokens: tuple[str, ...] = ()
    """Tokens to watch before a distribution names them (distributions add theirs automatically)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "gateway", address_hex(self.gateway))
        for name in ("reward_vault", "restaking_vault"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, address_hex(value))
        object.__setattr__(self, "reward_tokens", tuple(address_hex(t) for t in self.reward_tokens))

    @classmethod
    def from_deployment(cls, deployment: DeploymentAddresses) -> L1Contracts:
        return cls(
            gateway=deployment.gateway,
            reward_vault=deployment.reward_vault,
            restaking_vault=deployment.restaking_vault,
            reward_tokens=(deployment.reward_token, deployment.weth),
        )

    @property
    def log_sources(self) -> list[str]:
        return [a for a in (self.gateway, self.reward_vault, self.restaking_vault) if a is not None]

    @property
    def funding_sources(self) -> list[str]:
        """Senders of payout transfers: the zero address (mint), the RewardVault and the
        RestakingVault (withdrawal approvals pay principal out of custody)."""
        return [ZERO_ADDRESS] + [a for a in (self.reward_vault, self.restaking_vault) if a is not None]


# ---------------------------------------------------------------------------------------- source


@dataclass(frozen=True, slots=True)
class BlockInfo:
    number: int
    hash: str
    timestamp: datetime


@dataclass(frozen=True, slots=True)
class RawLog:
    address: str
    topics: tuple[bytes, ...]
    data: bytes
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int


class L1Source(Protocol):
    """What the ingestor needs from an L1 node."""

    def head(self) -> int: ...

    def finalized(self) -> int: ...

    def block(self, number: int) -> BlockInfo: ...

    def logs(
        self, from_block: int, to_block: int, addresses: Sequence[str], topics: Sequence[Any] | None = None
    ) -> list[RawLog]: ...

    def tx_selector(self, tx_hash: str) -> bytes:
        """The first four bytes of a transaction's input (which function it called)."""
        ...


class Web3L1Source:
    """:class:`L1Source` over a web3 provider, speaking raw JSON-RPC.

    The provider's ``make_request`` is called directly: web3's result formatters turn every log into
    an ``AttributeDict`` of ``HexBytes`` with checksummed addresses, which cost more CPU than the
    whole database write of a paid leaf (bench/relayer_pipeline.py). Fields are parsed and normalised here,
    once, and a malformed answer raises :class:`L1RpcError`.
    """

    def __init__(self, w3: Web3) -> None:
        self.w3 = w3

    def head(self) -> int:
        return _quantity(self._rpc("eth_blockNumber", [], "eth_blockNumber"), "block number")

    def finalized(self) -> int:
        block = self._rpc("eth_getBlockByNumber", ["finalized", False], "finalized block")
        if not isinstance(block, dict):
            raise L1RpcError("the node has no finalized block")
        return _quantity(block.get("number"), "finalized block number")

    def block(self, number: int) -> BlockInfo:
        data = self._rpc("eth_getBlockByNumber", [hex(number), False], f"block {number}")
        if not isinstance(data, dict):
            raise L1RpcError(f"block {number} not found")
        if data.get("hash") is None:
            raise L1RpcError(f"block {number} has no hash (pending?)")
        return BlockInfo(
            number=_quantity(data.get("number"), "block number"),
            hash=_hex32(data["hash"], "block hash"),
            timestamp=datetime.fromtimestamp(_quantity(data.get("timestamp"), "block timestamp"), UTC),
        )

    def logs(
        self, from_block: int, to_block: int, addresses: Sequence[str], topics: Sequence[Any] | None = None
    ) -> list[RawLog]:
        params: dict[str, Any] = {
            "fromBlock": hex(from_block),
            "toBlock": hex(to_block),
            "address": [address_hex(a) for a in addresses],
        }
        if topics is not None:
            params["topics"] = list(topics)
        entries = self._rpc("eth_getLogs", [params], "eth_getLogs")
        if not isinstance(entries, list):
            raise L1RpcError(f"eth_getLogs answered {type(entries).__name__}, not a list")
        try:
            return [
                RawLog(
                    address=_hex20(entry["address"]),
                    topics=tuple(bytes.fromhex(t[2:]) for t in entry["topics"]),
                    data=bytes.fromhex(entry["data"][2:]),
                    block_number=int(entry["blockNumber"], 16),
                    block_hash=_hex32(entry["blockHash"], "block hash"),
                    tx_hash=_hex32(entry["transactionHash"], "tx hash"),
                    log_index=int(entry["logIndex"], 16),
                )
                for entry in entries
                if not entry.get("removed", False)
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise L1RpcError(f"malformed eth_getLogs entry: {exc}") from exc

    def call(self, to: str, data: bytes) -> bytes:
        """``eth_call`` at ``latest`` (the token units: :mod:`indexer.ingest.token_units`)."""
        result = self._rpc("eth_call", [{"to": to, "data": "0x" + data.hex()}, "latest"], f"eth_call {to}")
        if not isinstance(result, str) or not result.startswith("0x"):
            raise L1RpcError(f"eth_call {to} answered {result!r}")
        try:
            return bytes.fromhex(result[2:])
        except ValueError as exc:
            raise L1RpcError(f"eth_call {to} answered malformed hex") from exc

    def tx_selector(self, tx_hash: str) -> bytes:
        data = self._rpc("eth_getTransactionByHash", [tx_hash], f"transaction {tx_hash}")
        if not isinstance(data, dict) or not isinstance(data.get("input"), str):
            raise L1RpcError(f"transaction {tx_hash} not found")
        try:
            return bytes.fromhex(data["input"][2:10])
        except ValueError as exc:
            raise L1RpcError(f"transaction {tx_hash} has a malformed input") from exc

    def _rpc(self, method: str, params: list[Any], what: str) -> Any:
        try:
            response = self.w3.provider.make_request(RPCEndpoint(method), params)
        except Exception as exc:  # transports raise many unrelated types
            raise L1RpcError(f"L1 RPC {what} failed: {exc}") from exc
        error = response.get("error")
        if error is not None:
            raise L1RpcError(f"L1 RPC {what} failed: {error}")
        return response.get("result")


def _quantity(value: Any, what: str) -> int:
    """A JSON-RPC quantity (``0x``-hex) as an int."""
    try:
        return int(value, 16)
    except (TypeError, ValueError) as exc:
        raise L1RpcError(f"malformed {what}: {value!r}") from exc


def _hex32(value: Any, what: str) -> str:
    """A 32-byte ``0x``-hex string from the node, normalised (lower case, validated)."""
    if not isinstance(value, str) or len(value) != 66:
        raise L1RpcError(f"malformed {what}: {value!r}")
    try:
        return "0x" + bytes.fromhex(value[2:]).hex()
    except ValueError as exc:
        raise L1RpcError(f"malformed {what}: {value!r}") from exc


def _hex20(value: Any) -> str:
    if not isinstance(value, str) or len(value) != 42:
        raise L1RpcError(f"malformed log address: {value!r}")
    try:
        return "0x" + bytes.fromhex(value[2:]).hex()
    except ValueError as exc:
        raise L1RpcError(f"malformed log address: {value!r}") from exc


# ---------------------------------------------------------------------------------------- decoding


def _abi_type(item: Mapping[str, Any]) -> str:
    return str(item["type"])


@dataclass(frozen=True)
class _EventSpec:
    name: str
    indexed: tuple[tuple[str, str], ...]
    data: tuple[tuple[str, str], ...]


class L1LogDecoder:
    """Decodes the gateway's events and ERC-20 ``Transfer`` from the committed ABIs."""

    def __init__(self) -> None:
        specs: dict[bytes, _EventSpec] = {}
        gateway = load_artifact(ContractName.EXOCORE_GATEWAY)
        token = load_artifact(ContractName.REWARD_TOKEN)
        entries = [e for e in gateway.entries("event") if e["name"] in GATEWAY_EVENTS]
        vault = load_artifact(ContractName.REWARD_VAULT)
        entries += [
            e
            for e in vault.entries("event")
            if e["name"] in VAULT_EVENTS
            or e["name"] in FUNDING_EVENTS
            or e["name"] == CUMULATIVE_FUNDED_EVENT
        ]
        entries += [e for e in token.entries("event") if e["name"] == "Transfer"]
        vault = load_artifact(ContractName.RESTAKING_VAULT)
        entries += [e for e in vault.entries("event") if e["name"] == VAULT_PAID_EVENT]
        for entry in entries:
            inputs = entry["inputs"]
            specs[bytes(event_abi_to_log_topic(cast(Any, dict(entry))))] = _EventSpec(
                name=str(entry["name"]),
                indexed=tuple((str(i["name"]), _abi_type(i)) for i in inputs if i["indexed"]),
                data=tuple((str(i["name"]), _abi_type(i)) for i in inputs if not i["indexed"]),
            )
        self._specs = specs
        self.transfer_topic = next(t for t, s in specs.items() if s.name == "Transfer")
        # The two events of every paid leaf are read straight from their fixed 32-byte words (a
        # generic ABI decode per log cost more than the leaf's database write); the layout is
        # checked against the ABI here, and a log that does not fit it takes the generic path.
        self._fixed_paid = self._topic_if(specs, "RewardPaid", _REWARD_PAID_LAYOUT)
        self._fixed_vault_paid = self._topic_if(specs, VAULT_PAID_EVENT, _REWARD_PAID_LAYOUT)
        self._fixed_transfer = self._topic_if(specs, "Transfer", _TRANSFER_LAYOUT)
        self._hashes: dict[str, str] = {}

    @staticmethod
    def _topic_if(
        specs: Mapping[bytes, _EventSpec], name: str, layout: tuple[tuple[str, ...], tuple[str, ...]]
    ) -> bytes | None:
        for topic, spec in specs.items():
            if spec.name == name:
                kinds = (tuple(k for _, k in spec.indexed), tuple(k for _, k in spec.data))
                return topic if kinds == layout else None
        return None

    def decode(
        self,
        raw: RawLog,
        at: datetime,
        gateway: str,
        vault: str | None = None,
        restaking_vault: str | None = None,
    ) -> L1Log | None:
        """The record of a log (None: an event the indexer does not track, or another emitter).
        ``vault`` is the RewardVault (cumulative roots and their payouts). The RestakingVault's
        ``WithdrawalPaid`` (same layout as ``RewardPaid``) is a paid leaf of a withdrawal approval:
        the same record, keyed by the approval id."""
        if not raw.topics:
            return None
        topic = raw.topics[0]
        if topic in (self._fixed_paid, self._fixed_vault_paid):
            emitter = gateway if topic == self._fixed_paid else restaking_vault
            if raw.address != emitter:
                return None
            fixed: L1Log | None = self._reward_paid(raw, at)
            if fixed is not None:
                return fixed
        elif topic == self._fixed_transfer:
            fixed = self._transfer(raw, at)
            if fixed is not None:
                return fixed
        spec = self._specs.get(topic)
        if spec is None or len(raw.topics) != 1 + len(spec.indexed):
            return None
        if spec.name in VAULT_EVENTS or spec.name in FUNDING_EVENTS or spec.name == CUMULATIVE_FUNDED_EVENT:
            if vault is None or raw.address != vault:
                return None
        elif spec.name == VAULT_PAID_EVENT:
            if raw.address != restaking_vault:
                return None
        elif spec.name != "Transfer" and raw.address != gateway:
            return None
        args: dict[str, Any] = {}
        try:
            for (name, kind), topic in zip(spec.indexed, raw.topics[1:], strict=True):
                (args[name],) = abi_decode([kind], topic)
            values = abi_decode([kind for _, kind in spec.data], raw.data)
        except DecodingError as exc:
            # The emitter is one the indexer trusts, so its ABI and the committed one differ: no
            # retry can decode it (the ingestor poisons the block).
            raise InvalidRecordError(
                f"{spec.name} log {raw.log_index} of block {raw.block_number} from {raw.address} does "
                f"not decode by the committed ABI ({len(raw.data)} data bytes): {type(exc).__name__}: {exc}"
            ) from exc
        args.update({name: value for (name, _), value in zip(spec.data, values, strict=True)})
        pos = L1Position(raw.block_number, raw.block_hash, raw.tx_hash, raw.log_index, at)
        if spec.name in ("RewardPaid", VAULT_PAID_EVENT):
            key = args["distributionId"] if spec.name == "RewardPaid" else args["approvalId"]
            return RewardPaidLog(key, args["index"], args["staker"], args["amount"], pos)
        if spec.name == "Transfer":
            return TokenTransferLog(raw.address, args["from"], args["to"], args["value"], pos)
        if spec.name == "CumulativePaid":
            return CumulativePaidLog(
                earner=args["earner"],
                token=args["token"],
                recipient=args["recipient"],
                amount=args["amount"],
                cumulative=args["cumulative"],
                period=args["period"],
                by_earner=bool(args["byEarner"]),
                position=pos,
            )
        if spec.name in FUNDING_EVENTS:
            return RewardFundedLog(
                avs=args["avs"],
                token=args["token"],
                source=int(FUNDING_EVENTS[spec.name]),
                sender=args["from"],
                amount=args["amount"],
                position=pos,
            )
        if spec.name == CUMULATIVE_FUNDED_EVENT:
            return CumulativeFundedLog(
                avs=args["avs"],
                token=args["token"],
                amount=args["amount"],
                drawn=args["drawn"],
                target=args["target"],
                position=pos,
            )
        if spec.name in VAULT_EVENTS:
            return CumulativeRootLog(
                period=args["period"],
                nonce=args["nonce"],
                accepted=spec.name == "CumulativeRootAccepted",
                position=pos,
                vault=raw.address,
            )
        if spec.name == "DistributionSubmitted":
            return DistributionSubmittedLog(
                distribution_id=args["distributionId"],
                claim_id=args["claimId"],
                avs=args["avs"],
                epoch=args["epoch"],
                token=args["token"],
                total=args["total"],
                root=args["root"],
                nonce=args["nonce"],
                position=pos,
            )
        if spec.name == "SlashExecuted":
            return SlashExecutedLog(
                slash_id=args["slashId"],
                operator_address=args["operator"],
                avs=args["avs"],
                tokens=tuple(args["tokens"]),
                amounts=tuple(args["amounts"]),
                freeze=bool(args["freeze"]),
                nonce=args["nonce"],
                position=pos,
            )
        if spec.name == "WithdrawalApprovalSubmitted":
            return WithdrawalApprovalSubmittedLog(
                approval_id=args["approvalId"],
                token=args["token"],
                epoch=args["epoch"],
                total=args["total"],
                root=args["root"],
                nonce=args["nonce"],
                position=pos,
            )
        return ValsetUpdatedLog(args["valsetNonce"], args["commitment"], args["totalPower"], pos)

    def _position(self, raw: RawLog, at: datetime) -> L1Position:
        return L1Position.trusted(
            raw.block_number, self._hash(raw.block_hash), self._hash(raw.tx_hash), raw.log_index, at
        )

    def _hash(self, value: str) -> str:
        """``hash_hex`` once per distinct hash: a payout tx's few hundred logs share one tx hash."""
        known = self._hashes.get(value)
        if known is None:
            if len(self._hashes) >= HASH_CACHE_ENTRIES:
                self._hashes.clear()
            known = self._hashes[value] = hash_hex(value)
        return known

    def _reward_paid(self, raw: RawLog, at: datetime) -> RewardPaidLog | None:
        topics, data = raw.topics, raw.data
        if len(topics) != 3 or len(data) != 64 or len(topics[1]) != 32 or not _is_address_word(topics[2]):
            return None
        index = int.from_bytes(data[:32], "big")
        if index > BIGINT_MAX or raw.block_number > BIGINT_MAX or raw.log_index > BIGINT_MAX:
            return None  # the generic path rejects it with the usual error
        return RewardPaidLog.trusted(
            "0x" + topics[1].hex(),
            index,
            "0x" + topics[2][12:].hex(),
            int.from_bytes(data[32:], "big"),
            self._position(raw, _utc(at)),
        )

    def _transfer(self, raw: RawLog, at: datetime) -> TokenTransferLog | None:
        topics, data = raw.topics, raw.data
        if (
            len(topics) != 3
            or len(data) != 32
            or not (_is_address_word(topics[1]) and _is_address_word(topics[2]))
        ):
            return None
        if raw.block_number > BIGINT_MAX or raw.log_index > BIGINT_MAX:
            return None
        return TokenTransferLog.trusted(
            address_hex(raw.address),
            "0x" + topics[1][12:].hex(),
            "0x" + topics[2][12:].hex(),
            int.from_bytes(data, "big"),
            self._position(raw, _utc(at)),
        )


_REWARD_PAID_LAYOUT: Final = (("bytes32", "address"), ("uint256", "uint256"))
_TRANSFER_LAYOUT: Final = (("address", "address"), ("uint256",))
_ADDRESS_PADDING: Final = bytes(12)


def _is_address_word(word: bytes) -> bool:
    """An ABI-encoded address: 32 bytes whose first 12 are zero (eth_abi refuses anything else)."""
    return len(word) == 32 and word[:12] == _ADDRESS_PADDING


def _utc(at: datetime) -> datetime:
    if at.tzinfo is UTC:
        return at
    if at.tzinfo is None:
        raise InvalidRecordError("block time must be timezone-aware")
    return at.astimezone(UTC)


def _address_topic(address: str) -> str:
    return "0x" + "00" * 12 + address.removeprefix("0x")


# ---------------------------------------------------------------------------------------- ingestor


@dataclass
class L1PollResult:
    head: int
    height: int
    finalized: int
    from_block: int | None = None
    to_block: int | None = None
    records: int = 0
    reorg_depth: int = 0
    reversed_transitions: int = 0
    retry: bool = False
    effects: L1BatchEffects = field(default_factory=L1BatchEffects)

    @property
    def caught_up(self) -> bool:
        return not self.retry and self.height >= self.head


class L1Ingestor:
    def __init__(
        self,
        store: LifecycleStore,
        source: L1Source,
        contracts: L1Contracts,
        *,
        chain_id: int,
        confirmations: int | None = 2,
        start_block: int = 0,
        batch_blocks: int = L1_BATCH_BLOCKS,
        metrics: IngestMetrics | None = None,
        stream: str | None = None,
        batch_target_s: float | None = None,
    ) -> None:
        """``confirmations`` None: use the node's ``finalized`` block tag instead of a depth.

        ``batch_target_s``: a batch with rows that took longer halves the next one's block span (down
        to one block); while behind the head, a full batch that fitted it or was empty doubles the
        span back up to ``batch_blocks`` (:func:`indexer.ingest.base.next_batch_span`); a caller
        sharing its thread (the relayer) so bounds the time one poll holds it.
        """
        self.store = store
        self.source = source
        self.contracts = contracts
        self.chain_id = chain_id
        self.confirmations = confirmations
        self.start_block = start_block
        self.batch_blocks = batch_blocks
        self.batch_target_s = batch_target_s
        self.span_blocks = batch_blocks
        """Blocks the next batch covers (adapted to ``batch_target_s``)."""
        self.metrics = metrics or IngestMetrics()
        self.stream = stream or l1_stream_name(chain_id)
        self.decoder = L1LogDecoder()
        self._batches = 0
        self._anchored: int | None = None
        self._narrowed: tuple[int, int] | None = None
        """While a failed batch is narrowed down to its bad block: (span before, the batch's end)."""
        self.token_units = TokenUnits(store.engine, source) if isinstance(source, EthCallSource) else None
        """Stores each reward token's symbol and decimals once (sources that can eth_call only)."""
        self._units_started = False

    def poll(self) -> L1PollResult:
        """One step (reorg check, at most one batch, finality). A block whose logs cannot be stored
        or break an invariant raises :class:`BlockPoisonedError` (its ``violation`` says which); a
        reorg below finality raises :class:`DeepReorgError`; either halts the stream."""
        result = guarded(self.store, self.metrics, self.stream, Chain.L1.value, self._poll)
        # A new token can only come with new records (a distribution names it); the first poll
        # also covers what an earlier process stored without units.
        if self.token_units is not None and (result.records or not self._units_started):
            self._units_started = True
            with self.store.engine.connect() as conn:
                named = conn.execute(select(distribution_table.c.token).distinct()).scalars().all()
            self.token_units.remember([*self.contracts.reward_tokens, *named])
        self.metrics.height.labels(stream=self.stream).set(result.height)
        self.metrics.lag.labels(stream=self.stream).set(max(0, result.head - result.height))
        return result

    def sync(self, max_polls: int = 10_000) -> L1PollResult:
        """Poll until the cursor reaches the head seen (bounded, so a node that races ahead cannot
        keep the caller forever)."""
        result = self.poll()
        for _ in range(max_polls - 1):
            if result.caught_up:
                break
            result = self.poll()
        return result

    # ------------------------------------------------------------------ steps

    def _finalized_at(self, head: int) -> int:
        if self.confirmations is None:
            return min(self.source.finalized(), head)
        return head - self.confirmations

    def _poll(self) -> L1PollResult:
        with self.store.begin() as tx:
            tx.check_not_halted(self.stream)
            cursor = tx.cursor(self.stream)
        head = self.source.head()
        if cursor is None:
            cursor_height, cursor_hash, finalized_before = self._start()
        else:
            cursor_height, cursor_hash = cursor.height, cursor.block_hash
            finalized_before = cursor.finalized_height if cursor.finalized_height is not None else -1
        result = L1PollResult(head=head, height=cursor_height, finalized=finalized_before)
        if cursor_height >= 0 and cursor_height <= head:
            node_block = self.source.block(cursor_height)
            if node_block.hash != cursor_hash:
                cursor_height = self._reverse_reorg(cursor_height, finalized_before, head, result)
        elif cursor_height > head:
            # The node is behind our cursor: a reorg to a shorter chain (or another node).
            cursor_height = self._reverse_reorg(cursor_height, finalized_before, head, result)
        finalized = max(-1, min(self._finalized_at(head), max(cursor_height, -1)))
        if cursor_height >= head:
            self.commit_batch(
                records=[],
                blocks=[],
                end_block=None,
                head=head,
                finalized=max(finalized, finalized_before),
                result=result,
            )
            return result
        start = cursor_height + 1
        end = min(head, start + self.span_blocks - 1)
        started = time.monotonic()
        try:
            batch = self._fetch(start, end)
            if batch is None:
                result.retry = True
                return result
            records, blocks, end_block = batch
            result.from_block, result.to_block, result.records = start, end, len(records)
            finalized = max(finalized_before, min(self._finalized_at(head), end))
            self.commit_batch(
                records=records,
                blocks=blocks,
                end_block=end_block,
                head=head,
                finalized=finalized,
                result=result,
            )
        except Exception as exc:
            if not is_block_data_failure(exc):
                raise
            return self._narrow_or_poison(start, end, exc, result)
        self.span_blocks = next_batch_span(
            self.span_blocks,
            covered=end - start + 1,
            records=len(records),
            elapsed_s=time.monotonic() - started,
            target_s=self.batch_target_s,
            behind=end < head,
            max_span=self.batch_blocks,
        )
        if self._narrowed is not None and end >= self._narrowed[1]:
            self.span_blocks, self._narrowed = self._narrowed[0], None  # past the failed range
        return result

    def _narrow_or_poison(self, start: int, end: int, exc: Exception, result: L1PollResult) -> L1PollResult:
        """Blocks ``start..end`` failed for a data reason. Several blocks: halve the span and retry
        (the blocks before the bad one commit on the way, so nothing valid is held back by it); one
        block: it is poisoned, and the stream halts at it."""
        result.from_block = result.to_block = None
        result.records = 0
        if end > start:
            if self._narrowed is None:
                self._narrowed = (self.span_blocks, end)
            self.span_blocks = max(1, (end - start + 1) // 2)
            log.warning(
                "%s: blocks %d..%d failed for a data reason (%s: %s); retrying %d block(s) at a time "
                "to find the block",
                self.stream,
                start,
                end,
                type(exc).__name__,
                exc,
                self.span_blocks,
                extra={"stream": self.stream, "from_block": start, "to_block": end},
            )
            result.retry = True
            return result
        block_hash = self.source.block(start).hash
        if self._narrowed is not None:
            self.span_blocks, self._narrowed = self._narrowed[0], None
        raise poison_block(
            self.store,
            self.metrics,
            self.stream,
            chain=Chain.L1.value,
            height=start,
            block_hash=block_hash,
            exc=exc,
        ) from exc

    def _start(self) -> tuple[int, str, int]:
        """Create the cursor just below ``start_block`` (its hash is the first reorg anchor)."""
        height = self.start_block - 1
        block_hash = self.source.block(height).hash if height >= 0 else NO_BLOCK_HASH
        with self.store.begin() as tx:
            tx.set_cursor(self.stream, Chain.L1.value, height, block_hash, finalized_height=-1)
            if height >= 0:
                tx.remember_blocks(self.stream, [(height, block_hash, None)])
        return height, block_hash, -1

    def _reverse_reorg(self, cursor_height: int, finalized: int, head: int, result: L1PollResult) -> int:
        with self.store.begin() as tx:
            remembered = tx.remembered_blocks(self.stream, above=-1)
        ancestor: int | None = None
        ancestor_hash = NO_BLOCK_HASH
        for height, stored in remembered:
            if height > min(cursor_height, head):
                continue
            if self.source.block(height).hash == stored:
                ancestor, ancestor_hash = height, stored
                break
        if ancestor is None:
            ancestor = -1 if self.start_block == 0 else self.start_block - 1
            if self.start_block > 0:
                raise DeepReorgError(self.stream, ancestor, finalized)
        if ancestor < finalized:
            raise DeepReorgError(self.stream, ancestor, finalized)
        with self.store.begin() as tx:
            first = tx.next_transition_id()
            result.reversed_transitions = tx.reverse_l1_above(ancestor, utc_now(), chain_id=self.chain_id)
            tx.forget_blocks(self.stream, above=ancestor)
            tx.set_cursor(
                self.stream,
                Chain.L1.value,
                ancestor,
                ancestor_hash,
                head_height=head,
                finalized_height=finalized,
            )
            check_forward_only(tx.conn, self.stream, first)
        result.reorg_depth = cursor_height - ancestor
        result.height = ancestor
        self.metrics.reorgs.labels(stream=self.stream).inc()
        self.metrics.reorg_depth.labels(stream=self.stream).set(result.reorg_depth)
        return ancestor

    def _fetch(self, start: int, end: int) -> tuple[list[L1Log], list[BlockInfo], BlockInfo] | None:
        end_block = self.source.block(end)
        raw = self.source.logs(start, end, self.contracts.log_sources)
        times: dict[int, BlockInfo] = {end: end_block}
        for log in raw:
            if log.block_number not in times:
                times[log.block_number] = self.source.block(log.block_number)
        records = self._decode(raw, times)
        if records is None:
            return None
        records = self._who_paid(raw, records)
        # Transfers are read only for ranges that paid (per leaf or under a cumulative root).
        if any(isinstance(r, RewardPaidLog | CumulativePaidLog) for r in records):
            tokens = self._watched_tokens(records)
            senders = [_address_topic(a) for a in self.contracts.funding_sources]
            topics = ["0x" + self.decoder.transfer_topic.hex(), senders]
            raw_transfers = self.source.logs(start, end, tokens, topics) if tokens else []
            for log in raw_transfers:
                if log.block_number not in times:
                    times[log.block_number] = self.source.block(log.block_number)
            transfers = self._decode(raw_transfers, times)
            if transfers is None:
                return None
            records = sorted(
                records + transfers, key=lambda r: (r.position.block_number, r.position.log_index)
            )
        if self.source.block(end).hash != end_block.hash:
            return None  # the range reorged while we read it: try again next poll
        blocks = [times[n] for n in sorted(times) if n != end]
        return records, blocks, end_block

    def _decode(self, raw: Sequence[RawLog], times: Mapping[int, BlockInfo]) -> list[L1Log] | None:
        records: list[L1Log] = []
        for log in raw:
            block = times[log.block_number]
            if block.hash != log.block_hash:
                return None  # the log and the header come from different branches
            record = self.decoder.decode(
                log,
                block.timestamp,
                self.contracts.gateway,
                self.contracts.reward_vault,
                self.contracts.restaking_vault,
            )
            if record is not None:
                records.append(record)
        return records

    def _who_paid(self, raw: Sequence[RawLog], records: list[L1Log]) -> list[L1Log]:
        """Label paid leaves with who paid them: a ``claim`` (RestakingVault's or the gateway's) is
        the staker's own (``staker``), a ``payout`` a batch push (``relayer``). One transaction
        lookup per paying transaction (a relayer batch pays hundreds of leaves in one)."""
        emitters = {a for a in (self.contracts.restaking_vault, self.contracts.gateway) if a is not None}
        vault_txs = {log.tx_hash for log in raw if log.address in emitters and log.topics}
        paying = {r.position.tx_hash for r in records if isinstance(r, RewardPaidLog)} & vault_txs
        if not paying:
            return records
        selectors = {tx_hash: self.source.tx_selector(tx_hash) for tx_hash in sorted(paying)}
        labelled: list[L1Log] = []
        for record in records:
            if isinstance(record, RewardPaidLog) and record.position.tx_hash in selectors:
                claimed = selectors[record.position.tx_hash] in _claim_selectors()
                record = replace(record, paid_by="staker" if claimed else "relayer")  # noqa: PLW2901
            labelled.append(record)
        return labelled

    def _watched_tokens(self, records: Sequence[L1Log]) -> list[str]:
        with self.store.engine.connect() as conn:
            known = set(conn.execute(select(distribution_table.c.token).distinct()).scalars())
        known.update(self.contracts.reward_tokens)
        known.update(r.token for r in records if isinstance(r, DistributionSubmittedLog))
        # A token paid under a cumulative root: its Transfer logs are checked against the payouts.
        known.update(r.token for r in records if isinstance(r, CumulativePaidLog))
        return sorted(known)

    def commit_batch(
        self,
        *,
        records: Sequence[L1Log],
        blocks: Sequence[BlockInfo],
        end_block: BlockInfo | None,
        head: int,
        finalized: int,
        result: L1PollResult,
    ) -> None:
        """Commit one batch of decoded logs (block order) with finality, invariants and the cursor.

        Everything happens in one transaction; the blocks' hashes are remembered for reorg
        detection. :meth:`poll` calls this after fetching; a caller that already holds decoded
        logs (a replay, the benchmark) may call it directly.
        """
        # The finalized block is a reorg anchor; its hash is remembered once per height reached.
        anchor = self.source.block(finalized) if finalized >= 0 and finalized != self._anchored else None
        now = utc_now()
        with self.store.begin() as tx:
            tx.check_not_halted(self.stream)
            first = tx.next_transition_id()
            effects = (
                tx.apply_l1_logs(
                    records, chain_id=self.chain_id, finalized_height=finalized, finalized_at=now
                )
                if records
                else L1BatchEffects()
            )
            remember = [(b.number, b.hash, b.timestamp) for b in blocks]
            if end_block is not None:
                remember.append((end_block.number, end_block.hash, end_block.timestamp))
            if anchor is not None:
                remember.append((anchor.number, anchor.hash, anchor.timestamp))
            tx.remember_blocks(self.stream, remember)
            if finalized >= 0:
                tx.finalize_l1(finalized, now, chain_id=self.chain_id)
            conn = tx.conn
            check_paid_within_total(conn, self.stream, effects.distribution_ids)
            # Each chain's cumulative payouts answer to its own roots and transfers only.
            check_cumulative_paid_within_accrued(conn, self.stream, self.chain_id, effects.cumulative_keys)
            check_cumulative_paid_within_earned(
                conn, self.stream, self.chain_id, {token for _, token in effects.cumulative_keys}
            )
            check_cumulative_transfers_match_payouts(
                conn,
                self.stream,
                effects.cumulative_tx_hashes,
                self.contracts.funding_sources,
                self.chain_id,
            )
            check_transition_history(conn, self.stream, first)
            check_payouts_match_transfers(
                conn, self.stream, effects.paid_tx_hashes, self.contracts.funding_sources
            )
            cursor = tx.cursor(self.stream)
            height = end_block.number if end_block is not None else (cursor.height if cursor else -1)
            block_hash = (
                end_block.hash if end_block is not None else (cursor.block_hash if cursor else NO_BLOCK_HASH)
            )
            tx.set_cursor(
                self.stream, Chain.L1.value, height, block_hash, head_height=head, finalized_height=finalized
            )
            if finalized >= 0:
                tx.forget_blocks(self.stream, below=finalized)
        result.height = height
        result.finalized = finalized
        result.effects = effects
        if anchor is not None:
            self._anchored = anchor.number
        if records:
            self._batches += 1
            if self._batches % STATISTICS_CHECK_EVERY_BATCHES == 0:
                refresh_stale_statistics(self.store.engine)
            self.metrics.batches.labels(stream=self.stream).inc()
            for name, count in Counter(type(record).__name__ for record in records).items():
                self.metrics.records.labels(stream=self.stream, record=name).inc(count)
