"""L1 custody against the in-memory devnet: stakers delegate and request withdrawals on the real
RestakingVault (anvil), the devnet follows the vault's events (:mod:`devnet.l1_follower`), and the
packets Exocore creates (SLASH, WITHDRAWAL_APPROVAL) are delivered to the gateway with their payloads
exactly as Exocore computed them (re-signed by the test deployment's validator set)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from eth_typing import ChecksumAddress
from eth_utils.crypto import keccak
from web3 import Web3
from web3.types import TxReceipt

from devnet import scenario as sc
from devnet.chain.model import WithdrawalApprovalRecord
from devnet.chain.params import DEVNET_LZ_CHAIN_ID
from devnet.l1_follower import VaultFollower
from relayer.protocol.ids import asset_id
from relayer.protocol.merkle import DistributionLeaf, DistributionTree
from relayer.protocol.packets import Packet, Payload, decode_payload
from relayer.protocol.types import Address, Amount, as_address
from tests.support.devnet_world import CHAIN_ID, SEED, World
from tests.support.l1_contracts import System, deliver, leaf_abi, transact

ETHER = 10**18


def fund(system: System, who: str, token: str, amount: int) -> None:
    """Give ``who`` ``amount`` of the deployment's WETH (wrapped) or reward token (minted)."""
    if token == system.deployment.weth:
        transact(system, system.weth.functions.deposit(), sender=who, value=amount)
    else:
        rewards = system.reward_token.functions
        transact(system, rewards.grantRole(keccak(b"MINTER_ROLE"), system.deployer))
        transact(system, rewards.mint(who, amount))


def balance(system: System, token: str, who: str) -> int:
    contract = system.weth if token == system.deployment.weth else system.reward_token
    return int(contract.functions.balanceOf(who).call())


def l1_delegate(system: System, staker: str, operator: str, token: str, amount: int) -> TxReceipt:
    fund(system, staker, token, amount)
    contract = system.weth if token == system.deployment.weth else system.reward_token
    transact(system, contract.functions.approve(system.deployment.restaking_vault, amount), sender=staker)
    return transact(system, system.restaking_vault.functions.delegate(operator, token, amount), sender=staker)


def l1_request_withdrawal(system: System, staker: str, operator: str, token: str, amount: int) -> TxReceipt:
    call = system.restaking_vault.functions.requestWithdrawal(operator, token, amount)
    return transact(system, call, sender=staker)


def relay(system: System, payload: Payload) -> tuple[Packet, TxReceipt]:
    """Deliver ``payload`` (Exocore's bytes) under the deployment's next packet nonce."""
    packet = system.packet(payload, nonce=system.next_nonce)
    system.next_nonce += 1
    return packet, deliver(system, packet)


def exocore_payload(world: World, nonce: int) -> Payload:
    proto = world.node.packet(nonce)
    assert proto is not None, f"Exocore has no packet {nonce}"
    return decode_payload(proto.kind, proto.payload)


def approval_tree(record: WithdrawalApprovalRecord) -> DistributionTree:
    return DistributionTree.build(
        DistributionLeaf(index=i, staker=staker, amount=Amount(amount))
        for i, (staker, amount) in enumerate(zip(record.stakers, record.amounts, strict=True))
    )


def payout_approvals(
    system: System,
    approval_id: bytes,
    tree: DistributionTree,
    indices: Iterable[int],
    sender: str | None = None,
) -> TxReceipt:
    multi = tree.multiproof(list(indices))
    call = system.restaking_vault.functions.payout(
        approval_id, [leaf_abi(leaf) for leaf in multi.leaves], list(multi.proof), list(multi.proof_flags)
    )
    return transact(system, call, sender=sender)


def claim_approval(
    system: System, approval_id: bytes, tree: DistributionTree, index: int, sender: str
) -> TxReceipt:
    call = system.restaking_vault.functions.claim(
        approval_id, leaf_abi(tree.leaf(index)), list(tree.proof(index))
    )
    return transact(system, call, sender=sender)


@dataclass
class CustodyWorld:
    """A devnet whose restaked assets are the deployment's WETH and reward token, following the
    deployment's RestakingVault; operators ``0..n-1`` of the devnet seed."""

    system: System
    world: World
    follower: VaultFollower
    weth_asset: str
    reward_asset: str

    @classmethod
    def create(cls, system: System, operators: int, from_block: int) -> CustodyWorld:
        world = World.create(unbonding_epochs=2)
        weth_asset = asset_id(as_address(system.deployment.weth), DEVNET_LZ_CHAIN_ID)
        reward_asset = asset_id(as_address(system.deployment.reward_token), DEVNET_LZ_CHAIN_ID)
        world.price(weth_asset, "3000")
        world.price(reward_asset, "2")
        for index in range(operators):
            world.operator(index)
        follower = VaultFollower(
            system.w3,
            system.deployment.restaking_vault,
            lz_chain_id=DEVNET_LZ_CHAIN_ID,
            from_block=from_block,
            confirmations=0,
            submit=world.node.submit,
        )
        return cls(system, world, follower, weth_asset, reward_asset)

    def operator_l1(self, index: int) -> ChecksumAddress:
        return Web3.to_checksum_address(sc.operator_account(SEED, index).address)

    def operator_account(self, index: int) -> str:
        return str(sc.operator_account(SEED, index))

    def follow(self) -> int:
        """Apply every confirmed vault event on Exocore and commit the block; returns how many."""
        count = len(self.follower.poll())
        self.world.node.produce_block()
        return count

    def slash(self, avs: str, operator_index: int, proportion: int, *, freeze: bool) -> int:
        """A committee slash request every member signs; returns the SLASH packet's Exocore nonce."""
        committee = self.world.committee(avs)
        msg = sc.slash_request_msg(
            chain_id=CHAIN_ID,
            committee=committee,
            secrets=self.world.secrets,
            signer_indices=range(len(committee.operators)),
            operator=sc.operator_account(SEED, operator_index),
            proportion=proportion,
            freeze=freeze,
        )
        response = self.world.node.submit_slash_request(msg)
        self.world.node.produce_block()
        record = self.world.state.slashes[response.slash_id]
        assert record.packet_nonce, f"slash not executed: {record.reject_reason}"
        return int(record.packet_nonce)

    def stake(self, operator_index: int, asset: str, staker: str) -> int:
        pools = self.world.state.operators[self.operator_account(operator_index)].pools
        return int(pools.get(asset, {}).get(Address(bytes.fromhex(staker[2:])), 0))
