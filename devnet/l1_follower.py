"""Follow the L1 RestakingVault at finality and turn its events into Exocore stake.

Upstream, deposits, delegations and withdrawal requests reach Exocore over its own messaging layer
(not over exorelay). The devnet stands in for that layer: :class:`VaultFollower` reads the vault's
``Delegated`` and ``WithdrawalRequested`` events from blocks at least ``confirmations`` deep and
submits one ``MsgDelegation`` / ``MsgUndelegation`` per event, carrying the event's request id. The chain
applies each request id once (a resubmission after a restart is refused), so the follower needs no
durable cursor: it starts from the first block after the deployment and re-reads.

Transaction fees take the same path: :class:`FeeFollower` reads the RewardVault's ``FeesDeposited``
events (an AVS's fees, its FEES reward source) and submits one ``MsgRecordFeeDeposit`` per event,
named by its (client chain, tx hash, log index), which the chain applies once. Every client chain
has its own followers (its own vaults): fees deposited on a chain fund only that chain's leaves.

Invariants: events are submitted in L1 order (block, log index); a block is read only once it has
``confirmations`` blocks on top; the amount Exocore credits is what the vault credited (the event's
amount, net of any transfer fee).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from eth_typing import ChecksumAddress
from web3 import Web3
from web3.exceptions import Web3Exception

from devnet.chain.msgs import delegation_msg, undelegation_msg
from devnet.chain.params import DEVNET_LZ_CHAIN_ID
from devnet.grpc.errors import RequestRejectedError
from relayer.errors import ExorelayError
from relayer.exocore.proto.avs.v1 import tx_pb2 as avs_tx
from relayer.exocore.proto.delegation.v1 import tx_pb2 as delegation_tx
from relayer.l1.artifacts import ContractName, load_artifact
from relayer.protocol.ids import OperatorAddress, asset_id
from relayer.protocol.types import Address

OPERATOR_PREFIX: Final = "exo"
"""Bech32 prefix of the devnet's operator accounts (the L1 vault names operators by 20-byte address)."""

MAX_BLOCK_RANGE: Final = 5_000
"""Blocks per ``eth_getLogs`` call: far below common provider caps (10k), few calls on a devnet."""

DEVNET_CONFIRMATIONS: Final = 1
"""L1 blocks on top before the devnet applies a block's custody events: anvil does not reorganise,
one block keeps the rule visible without slowing the scenario."""
POLL_INTERVAL_S: Final = 0.5
"""How often the background follower reads the vault: about an L1 block on a devnet."""

_log = logging.getLogger(__name__)

StakeMsg = delegation_tx.MsgDelegation | delegation_tx.MsgUndelegation
FollowedMsg = StakeMsg | avs_tx.MsgRecordFeeDeposit


@dataclass(frozen=True, slots=True)
class VaultEvent:
    """One decoded custody event, in L1 order."""

    request_id: int
    withdrawal: bool
    staker: Address
    operator: Address
    token: Address
    amount: int
    block_number: int
    log_index: int


def stake_msg(event: VaultEvent, lz_chain_id: int) -> StakeMsg:
    """The Exocore message (upstream x/delegation's, with the L1 fields) that reports ``event``."""
    build = undelegation_msg if event.withdrawal else delegation_msg
    return build(
        staker="0x" + event.staker.hex(),
        operator=str(OperatorAddress(OPERATOR_PREFIX, event.operator)),
        asset_id=asset_id(event.token, lz_chain_id),
        amount=event.amount,
        l1_request_id=event.request_id,
    )


def _address(value: str) -> Address:
    return Address(bytes.fromhex(value.removeprefix("0x")))


class VaultFollower:
    """Reads the vault's custody events up to the confirmed head and hands each to ``submit``."""

    def __init__(
        self,
        w3: Web3,
        vault: ChecksumAddress,
        *,
        lz_chain_id: int,
        from_block: int,
        confirmations: int,
        submit: Callable[[StakeMsg], object],
    ) -> None:
        self._w3 = w3
        self._contract = w3.eth.contract(address=vault, abi=load_artifact(ContractName.RESTAKING_VAULT).abi)
        self._lz_chain_id = lz_chain_id
        self._next_block = from_block
        self._confirmations = confirmations
        self._submit = submit

    def poll(self) -> list[VaultEvent]:
        """Submit every event of the newly confirmed blocks; returns them in L1 order."""
        confirmed = self._w3.eth.block_number - self._confirmations
        found: list[VaultEvent] = []
        while self._next_block <= confirmed:
            last = min(confirmed, self._next_block + MAX_BLOCK_RANGE - 1)
            found.extend(self._read(self._next_block, last))
            self._next_block = last + 1
        found.sort(key=lambda e: (e.block_number, e.log_index))
        for event in found:
            self._submit(stake_msg(event, self._lz_chain_id))
        return found

    def _read(self, first: int, last: int) -> Sequence[VaultEvent]:
        events: list[VaultEvent] = []
        for name, withdrawal in (("Delegated", False), ("WithdrawalRequested", True)):
            event_type = getattr(self._contract.events, name)
            for log in event_type().get_logs(from_block=first, to_block=last):
                args = log["args"]
                events.append(
                    VaultEvent(
                        request_id=int(args["requestId"]),
                        withdrawal=withdrawal,
                        staker=_address(args["staker"]),
                        operator=_address(args["operator"]),
                        token=_address(args["token"]),
                        amount=int(args["amount"]),
                        block_number=int(log["blockNumber"]),
                        log_index=int(log["logIndex"]),
                    )
                )
        return events


@dataclass(frozen=True, slots=True)
class FeeDepositEvent:
    """One RewardVault ``FeesDeposited`` event: ``amount`` of ``token`` into ``avs``'s FEES source."""

    avs: Address
    token: Address
    amount: int
    tx_hash: bytes
    block_number: int
    log_index: int


def fee_msg(event: FeeDepositEvent, l1_chain_id: int = 0) -> avs_tx.MsgRecordFeeDeposit:
    """The Exocore message that reports ``event``, emitted on client chain ``l1_chain_id`` (0: the
    first client chain)."""
    return avs_tx.MsgRecordFeeDeposit(
        avs_address="0x" + event.avs.hex(),
        token="0x" + event.token.hex(),
        amount=str(event.amount),
        l1_tx_hash="0x" + event.tx_hash.hex(),
        l1_log_index=event.log_index,
        l1_chain_id=l1_chain_id,
    )


class FeeFollower:
    """Reads the RewardVault's ``FeesDeposited`` events up to the confirmed head and hands each, as a
    ``MsgRecordFeeDeposit``, to ``submit`` (same confirmation rule and order as :class:`VaultFollower`).
    ``l1_chain_id`` names the client chain the vault is on (0: the first client chain)."""

    def __init__(
        self,
        w3: Web3,
        reward_vault: ChecksumAddress,
        *,
        from_block: int,
        confirmations: int,
        submit: Callable[[avs_tx.MsgRecordFeeDeposit], object],
        l1_chain_id: int = 0,
    ) -> None:
        self._w3 = w3
        self._contract = w3.eth.contract(
            address=reward_vault, abi=load_artifact(ContractName.REWARD_VAULT).abi
        )
        self._next_block = from_block
        self._confirmations = confirmations
        self._submit = submit
        self._l1_chain_id = l1_chain_id

    def poll(self) -> list[FeeDepositEvent]:
        """Submit every fee deposit of the newly confirmed blocks; returns them in L1 order."""
        confirmed = self._w3.eth.block_number - self._confirmations
        found: list[FeeDepositEvent] = []
        while self._next_block <= confirmed:
            last = min(confirmed, self._next_block + MAX_BLOCK_RANGE - 1)
            for log in self._contract.events.FeesDeposited().get_logs(
                from_block=self._next_block, to_block=last
            ):
                args = log["args"]
                found.append(
                    FeeDepositEvent(
                        avs=_address(args["avs"]),
                        token=_address(args["token"]),
                        amount=int(args["amount"]),
                        tx_hash=bytes(log["transactionHash"]),
                        block_number=int(log["blockNumber"]),
                        log_index=int(log["logIndex"]),
                    )
                )
            self._next_block = last + 1
        found.sort(key=lambda e: (e.block_number, e.log_index))
        for event in found:
            self._submit(fee_msg(event, self._l1_chain_id))
        return found


class _Poller(Protocol):
    def poll(self) -> Sequence[object]: ...


class FollowerThread:
    """Runs each follower's ``poll`` every ``POLL_INTERVAL_S`` until stopped. A message Exocore
    refuses (a request id already applied, a withdrawal larger than the stake) is logged and skipped:
    it moves no stake, and the next events still apply. An L1 read that fails is retried next poll."""

    def __init__(self, *followers: _Poller, interval_s: float = POLL_INTERVAL_S) -> None:
        self._followers = followers
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="l1-follower", daemon=True)

    def start(self) -> FollowerThread:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10 * self._interval_s)

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                for follower in self._followers:
                    follower.poll()
            except (ExorelayError, Web3Exception, OSError, ValueError) as exc:
                _log.warning("L1 follower: %s (retrying)", exc)


def tolerant(submit: Callable[[FollowedMsg], object]) -> Callable[[FollowedMsg], object]:
    """``submit`` that logs and skips a message Exocore refuses instead of raising."""

    def run(msg: FollowedMsg) -> object:
        try:
            return submit(msg)
        except RequestRejectedError as exc:
            what = (
                f"fee deposit {msg.l1_tx_hash}#{msg.l1_log_index}"
                if isinstance(msg, avs_tx.MsgRecordFeeDeposit)
                else f"request {msg.l1_request_id}"
            )
            _log.info("L1 %s not applied: %s", what, exc)
            return None

    return run


def follow_devnet_vault(
    rpc_url: str,
    vault: str,
    *,
    from_block: int,
    submit: Callable[[FollowedMsg], object],
    reward_vault: str | None = None,
    lz_chain_id: int = DEVNET_LZ_CHAIN_ID,
    l1_chain_id: int = 0,
) -> FollowerThread:
    """The devnet's follower of the vault at ``vault`` (and, given ``reward_vault``, of its fee
    deposits) on the L1 at ``rpc_url``, started. Its stake is in the assets of client chain
    ``lz_chain_id`` (on the devnet: that L1's chain id); its fee deposits are reported as of client
    chain ``l1_chain_id`` (0: the first client chain)."""
    w3 = Web3(Web3.HTTPProvider(rpc_url))
    follower = VaultFollower(
        w3,
        Web3.to_checksum_address(vault),
        lz_chain_id=lz_chain_id,
        from_block=from_block,
        confirmations=DEVNET_CONFIRMATIONS,
        submit=tolerant(submit),
    )
    if reward_vault is None:
        return FollowerThread(follower).start()
    fees = FeeFollower(
        w3,
        Web3.to_checksum_address(reward_vault),
        from_block=from_block,
        confirmations=DEVNET_CONFIRMATIONS,
        submit=tolerant(submit),
        l1_chain_id=l1_chain_id,
    )
    return FollowerThread(follower, fees).start()
