"""A devnet chain in memory with helpers to set up operators, stakers and AVSs (no sockets)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devnet import scenario as sc
from devnet.chain.blockstore import BlockStore, Event
from devnet.chain.node import DevnetNode
from devnet.chain.params import (
    DEVNET_LZ_CHAIN_ID,
    Genesis,
    devnet_account_secret,
    devnet_accounts,
    devnet_validators,
)
from relayer.protocol import bls
from relayer.protocol.ids import OperatorAddress, asset_id
from relayer.protocol.quorum import MemberList, SignerBitmap, meets_threshold
from relayer.protocol.types import Address

CHAIN_ID = "exocoredevnet_233-1"
SEED = "world"
GATEWAY = Address(bytes.fromhex("6a" * 20))
GENESIS_TIME_NS = 1_700_000_000 * 10**9
EPOCH_BLOCKS = 4
WETH = asset_id(Address(bytes.fromhex("c0" * 20)), DEVNET_LZ_CHAIN_ID)
STETH = asset_id(Address(bytes.fromhex("c1" * 20)), DEVNET_LZ_CHAIN_ID)
OTHER = asset_id(Address(bytes.fromhex("c2" * 20)), DEVNET_LZ_CHAIN_ID)
REWARD_TOKEN = "0x" + "e0" * 20
VAULT_TOKEN = "0x" + "e1" * 20
ETHER = 10**18


def genesis(seed: str = SEED, validators: int = 4, epoch_blocks: int = EPOCH_BLOCKS, **extra: Any) -> Genesis:
    return Genesis(
        chain_id=CHAIN_ID,
        seed=seed,
        l1_chain_id=31337,
        gateway=GATEWAY,
        validators=devnet_validators(seed, validators),
        genesis_time_ns=GENESIS_TIME_NS,
        epoch_blocks=epoch_blocks,
        **extra,
    )


def funded_genesis(**extra: Any) -> Genesis:
    """:func:`genesis` with the seed's actor accounts funded (the scenario client's ``relayer`` pays
    operators' and AVS owners' first fees)."""
    return genesis(accounts=devnet_accounts(SEED), **extra)


def signing_client(target: str, **options: Any) -> sc.ScenarioClient:
    """A scenario client of a :func:`funded_genesis` devnet that produces blocks only on request:
    registrations are transactions the operators (AVS owners) sign, funded by ``relayer``."""
    return sc.ScenarioClient(
        target,
        CHAIN_ID,
        submitter_key=devnet_account_secret(SEED, "relayer"),
        produces_blocks=False,
        **options,
    )


def avs_address(name: str) -> str:
    return "0x" + bytes([len(name)] * 19 + [sum(name.encode()) % 256]).hex()


def fixed_clock() -> Any:
    """A deterministic block clock: one second per block."""
    ticks = [GENESIS_TIME_NS]

    def now() -> int:
        ticks[0] += 10**9
        return ticks[0]

    return now


@dataclass
class World:
    node: DevnetNode
    secrets: dict[bytes, bls.SecretKey] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        path: Path | None = None,
        on_rpc_outage: Callable[[bool], None] | None = None,
        **genesis_args: Any,
    ) -> World:
        chain = genesis(**genesis_args)
        store = BlockStore(CHAIN_ID, path)
        return cls(DevnetNode(chain, store, clock_ns=fixed_clock(), on_rpc_outage=on_rpc_outage))

    @property
    def state(self) -> Any:
        return self.node.state

    # -- setup --

    def price(self, asset: str, price: str, decimals: int = 18) -> None:
        self.node.submit(sc.set_price_msg(asset, price, decimals))

    def operator(self, index: int, commission: str = "0.1") -> OperatorAddress:
        account = sc.operator_account(SEED, index)
        self.node.submit(
            sc.register_operator_msg(account, sc.operator_reward_address(SEED, index), commission)
        )
        return account

    def avs(self, name: str, asset_ids: Iterable[str] = (WETH,), **rules: Any) -> str:
        address = avs_address(name)
        rules.setdefault("reward_tokens", ((REWARD_TOKEN, 1), (VAULT_TOKEN, 2)))
        self.node.submit(sc.AvsRules(address=address, name=name, asset_ids=tuple(asset_ids), **rules).msg())
        return address

    def opt_in(self, index: int, avs: str) -> bytes:
        secret = sc.operator_bls_secret(SEED, index, avs)
        key = bls.public_key_of(secret).compressed
        self.secrets[key] = secret
        self.node.submit(sc.opt_in_msg(CHAIN_ID, sc.operator_account(SEED, index), avs, secret))
        return key

    def delegate(self, staker: Address, operator_index: int, asset: str, amount: int) -> None:
        self.node.submit(sc.delegate_msg(staker, asset, sc.operator_account(SEED, operator_index), amount))

    def self_delegate(self, operator_index: int, asset: str, amount: int) -> None:
        self.delegate(sc.operator_account(SEED, operator_index).address, operator_index, asset, amount)

    # -- time --

    def next_epoch(self) -> int:
        """Commit the open block, then blocks up to the first block of the next epoch; returns it."""
        state = self.node.state
        self.node.produce_block()
        height, length = state.height, state.genesis.epoch_blocks
        start = (height // length) * length + 1
        if start <= height:
            start += length
        self.node.advance(start - height)
        return int(state.epoch_of(start))

    def committee(self, avs: str, epoch: int = 0) -> sc.CommitteeView:
        proto = self.node.committee(avs, epoch)
        assert proto is not None, f"no committee for {avs} at epoch {epoch}"
        return sc.CommitteeView.from_proto(proto)

    # -- claims and slashes --

    def claim(
        self,
        committee: sc.CommitteeView,
        signers: Iterable[int],
        amount: int = 10**21,
        token: str = REWARD_TOKEN,
        **extra: Any,
    ) -> Any:
        msg = sc.reward_claim_msg(
            chain_id=CHAIN_ID,
            committee=committee,
            secrets=self.secrets,
            signer_indices=signers,
            token=token,
            amount=amount,
            **extra,
        )
        return self.node.submit_reward_claim(msg)

    def events(self, height: int | None = None) -> list[Event]:
        """Every event of a committed block (begin-block, then each tx's, then end-block)."""
        block = self.node.store.get(height if height is not None else self.node.height)
        assert block is not None
        out = list(block.begin_block_events)
        for result in block.tx_results:
            out.extend(result.events)
        return out + list(block.end_block_events)

    def events_of(self, event_type: str, height: int | None = None) -> list[Event]:
        return [e for e in self.events(height) if e.type == event_type]


def standard_world(operators: int = 4, stakers: int = 12, **avs_rules: Any) -> tuple[World, str]:
    """Operators 0..n-1 opted into one AVS over WETH, stakers spread over them, committee elected."""
    world = World.create()
    world.price(WETH, "3000")
    for index in range(operators):
        world.operator(index)
    avs = world.avs("alpha", **avs_rules)
    for index in range(operators):
        world.opt_in(index, avs)
    for index in range(stakers):
        world.delegate(sc.staker_address(SEED, index), index % operators, WETH, (index + 1) * ETHER)
    world.next_epoch()
    return world, avs


def verify_packet(world: World, nonce: int, valset_nonce: int) -> None:
    """The packet's visible signatures meet 2/3 of the signing set and aggregate-verify."""
    packet = world.node.packet(nonce)
    valset = world.node.valset(valset_nonce)
    assert packet is not None and valset is not None and packet.valset_nonce == valset_nonce
    members = MemberList.of((bytes(m.bls_pubkey), int(m.power)) for m in valset.members)
    signatures = [s for s in world.node.packet_signatures(nonce) if s.signed]
    bitmap = SignerBitmap.from_indices([s.index for s in signatures], len(members))
    assert meets_threshold(sum(members[s.index].power for s in signatures), members.total_power)
    aggregate = bls.aggregate_signatures([bls.parse_signature(s.signature) for s in signatures])
    keys = [bytes(members[i].key) for i in bitmap.indices()]
    assert bls.fast_aggregate_verify_encoded(keys, packet.digest, aggregate.compressed)
