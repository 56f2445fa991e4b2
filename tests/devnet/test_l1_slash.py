"""A devnet SLASH packet executes on the L1 the devnet deploys: the stakers deposit their stake in the
RestakingVault (WETH and the reward token) and the devnet follows the vault, so ``executeSlash`` moves
exactly the slashed amounts of that principal to the sink; on a chain whose stake has no custody
behind it (devnet-only delegations) the packet still lands, moves nothing and emits the shortfall."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from eth_account import Account
from eth_typing import ChecksumAddress
from web3 import Web3
from web3.logs import DISCARD

from devnet import scenario as sc
from devnet.anvil import AnvilConfig, AnvilNode
from devnet.chain.blockstore import BlockStore
from devnet.chain.node import DevnetNode
from devnet.chain.params import (
    DEVNET_LZ_CHAIN_ID,
    GENESIS_VALSET_NONCE,
    USD_ONE,
    Genesis,
    GenesisAsset,
    devnet_validators,
)
from devnet.l1_deploy import (
    GenesisValset,
    L1Deployment,
    contract_at,
    deploy_l1,
    send_transaction,
)
from devnet.l1_follower import VaultFollower
from devnet.l1_stake import L1Stake, L1Staker
from relayer.l1.artifacts import ContractName
from relayer.protocol import bls
from relayer.protocol.ids import ChainId, OperatorAddress, asset_id
from relayer.protocol.packets import PacketKind
from relayer.protocol.quorum import SignerBitmap
from relayer.protocol.types import Address
from tests.support.devnet_world import (
    CHAIN_ID,
    EPOCH_BLOCKS,
    ETHER,
    GENESIS_TIME_NS,
    SEED,
    World,
    fixed_clock,
)

VALIDATORS = 4
OPERATORS = 4
STAKERS = 8
SLASH_PROPORTION = 5 * 10**16  # 5 %: the AVS's cap
SINK = Web3.to_checksum_address("0x" + "5e" * 20)


@pytest.fixture(scope="module")
def anvil() -> Iterator[AnvilNode]:
    with AnvilNode(AnvilConfig(accounts=3)) as node:
        yield node


@pytest.fixture(scope="module")
def w3(anvil: AnvilNode) -> Web3:
    return Web3(Web3.HTTPProvider(anvil.rpc_url, request_kwargs={"timeout": 60}))


def deploy(anvil: AnvilNode, w3: Web3) -> L1Deployment:
    members = devnet_validators(SEED, VALIDATORS)
    keys = tuple(bls.parse_public_key(v.bls_pubkey).to_eip2537() for v in members)
    return deploy_l1(
        w3,
        anvil.dev_accounts()[0].private_key,
        GenesisValset(
            GENESIS_VALSET_NONCE, keys, tuple(v.power for v in members), tuple(v.pop for v in members)
        ),
        ChainId.parse(CHAIN_ID).hash,
        slashing_sink=SINK,
    )


def _address(text: str) -> Address:
    return Address(bytes.fromhex(text.removeprefix("0x")))


@dataclass(frozen=True)
class SlashPacket:
    valset_nonce: int
    nonce: int
    payload: bytes
    bitmap: bytes
    signature: bytes
    operator: ChecksumAddress
    avs: ChecksumAddress
    tokens: tuple[ChecksumAddress, ...]
    amounts: tuple[int, ...]


def devnet_slash(deployment: L1Deployment, custody: tuple[AnvilNode, Web3] | None) -> SlashPacket:
    """Run a devnet bound to ``deployment`` (its gateway, chain id and tokens as restaked assets),
    slash a committee member, and return the SLASH packet with its validators' attestation. With
    ``custody`` the stakers deposit on that L1 and the devnet follows the vault; without, they
    delegate with devnet-only messages (no custody behind the stake)."""
    weth_asset = asset_id(_address(deployment.weth), DEVNET_LZ_CHAIN_ID)
    token_asset = asset_id(_address(deployment.reward_token), DEVNET_LZ_CHAIN_ID)
    genesis = Genesis(
        chain_id=CHAIN_ID,
        seed=SEED,
        l1_chain_id=deployment.chain_id,
        gateway=_address(deployment.gateway),
        validators=devnet_validators(SEED, VALIDATORS),
        genesis_time_ns=GENESIS_TIME_NS,
        epoch_blocks=EPOCH_BLOCKS,
        assets=(GenesisAsset(weth_asset, 18, 3000 * USD_ONE), GenesisAsset(token_asset, 18, USD_ONE)),
    )
    world = World(DevnetNode(genesis, BlockStore(CHAIN_ID), clock_ns=fixed_clock()))
    for index in range(OPERATORS):
        world.operator(index)
    avs = world.avs(
        "slasher",
        asset_ids=(weth_asset, token_asset),
        reward_tokens=((deployment.reward_token.lower(), 1),),
        slash_proportion="0.05",
    )
    for index in range(OPERATORS):
        world.opt_in(index, avs)
    stakes = [
        # Each operator gets both assets.
        (index, weth_asset if (index // OPERATORS) % 2 == 0 else token_asset, (index + 1) * ETHER)
        for index in range(STAKERS)
    ]
    if custody is None:
        for index, asset, amount in stakes:
            world.delegate(sc.staker_address(SEED, index), index % OPERATORS, asset, amount)
    else:
        anvil, w3 = custody
        staker = L1Staker(
            anvil.rpc_url,
            vault=deployment.restaking_vault,
            weth=deployment.weth,
            reward_token=deployment.reward_token,
            token_admin=deployment.owner,
        )
        staker.delegate(
            [
                L1Stake(
                    sc.staker_address(SEED, index),
                    sc.operator_account(SEED, index % OPERATORS).address,
                    _address(deployment.weth if asset == weth_asset else deployment.reward_token),
                    amount,
                )
                for index, asset, amount in stakes
            ]
        )
        follower = VaultFollower(
            w3,
            Web3.to_checksum_address(deployment.restaking_vault),
            lz_chain_id=DEVNET_LZ_CHAIN_ID,
            from_block=deployment.block_number + 1,
            confirmations=1,
            submit=world.node.submit,
        )
        assert len(follower.poll()) == STAKERS
    world.next_epoch()
    committee = world.committee(avs)
    target = OperatorAddress.parse(committee.operators[0])
    world.node.submit(
        sc.slash_request_msg(
            chain_id=CHAIN_ID,
            committee=committee,
            secrets=world.secrets,
            signer_indices=range(len(committee.operators)),
            operator=target,
            proportion=SLASH_PROPORTION,
        )
    )
    world.node.produce_block()
    (info,) = world.node.slash_infos()
    packet = world.node.packet(info.packet_nonce)
    assert packet is not None and int(packet.kind) == PacketKind.SLASH
    signatures = world.node.packet_signatures(packet.nonce)
    signed = [s for s in signatures if s.signed]
    aggregate = bls.aggregate_signatures([bls.parse_signature(s.signature) for s in signed])
    world.node.store.close()
    return SlashPacket(
        valset_nonce=int(packet.valset_nonce),
        nonce=int(packet.nonce),
        payload=bytes(packet.payload),
        bitmap=SignerBitmap.from_indices([s.index for s in signed], len(signatures)).encode(),
        signature=aggregate.to_eip2537(),
        operator=Web3.to_checksum_address(target.address),
        avs=Web3.to_checksum_address(avs),
        tokens=tuple(Web3.to_checksum_address(a.token) for a in info.assets),
        amounts=tuple(int(a.amount) for a in info.assets),
    )


def test_the_devnet_deploys_an_empty_vault(anvil: AnvilNode, w3: Web3) -> None:
    deployment = deploy(anvil, w3)
    vault = contract_at(w3, ContractName.RESTAKING_VAULT, deployment.restaking_vault)
    assert vault.functions.totalPrincipal(deployment.weth).call() == 0
    assert vault.functions.totalPrincipal(deployment.reward_token).call() == 0
    assert vault.functions.nextRequestId().call() == 1


def test_a_devnet_slash_packet_executes_on_the_devnet_l1(anvil: AnvilNode, w3: Web3) -> None:
    deployment = deploy(anvil, w3)
    slash = devnet_slash(deployment, (anvil, w3))
    assert set(slash.tokens) == {deployment.weth, deployment.reward_token}
    assert all(amount > 0 for amount in slash.amounts)  # the operator held both assets
    gateway = contract_at(w3, ContractName.EXOCORE_GATEWAY, deployment.gateway)
    vault = contract_at(w3, ContractName.RESTAKING_VAULT, deployment.restaking_vault)
    erc20 = {
        deployment.weth: contract_at(w3, ContractName.WRAPPED_ETHER, deployment.weth),
        deployment.reward_token: contract_at(w3, ContractName.REWARD_TOKEN, deployment.reward_token),
    }
    relayer = Account.from_key(anvil.dev_accounts()[1].private_key)
    call = gateway.functions.executeSlash(
        slash.valset_nonce, slash.nonce, slash.payload, (slash.bitmap, slash.signature)
    )
    receipt = send_transaction(w3, relayer, call.build_transaction({"from": relayer.address}))
    (event,) = gateway.events.SlashExecuted().process_receipt(receipt, errors=DISCARD)  # vault logs too
    assert (event["args"]["operator"], event["args"]["avs"], event["args"]["nonce"]) == (
        slash.operator,
        slash.avs,
        slash.nonce,
    )
    assert tuple(event["args"]["amounts"]) == slash.amounts
    # What the stakers deposited: stakers 0-3 WETH, 4-7 the reward token.
    principal = {deployment.weth: 0, deployment.reward_token: 0}
    for index in range(STAKERS):
        token = deployment.weth if (index // OPERATORS) % 2 == 0 else deployment.reward_token
        principal[token] += (index + 1) * ETHER
    for token, amount in zip(slash.tokens, slash.amounts, strict=True):
        assert vault.functions.totalPrincipal(token).call() == principal[token] - amount
        assert erc20[token].functions.balanceOf(SINK).call() == amount
    assert gateway.functions.frozen(slash.operator, slash.avs).call()


def test_without_custody_the_same_slash_moves_nothing_and_emits_the_shortfall(
    anvil: AnvilNode, w3: Web3
) -> None:
    deployment = deploy(anvil, w3)
    slash = devnet_slash(deployment, None)
    gateway = contract_at(w3, ContractName.EXOCORE_GATEWAY, deployment.gateway)
    vault = contract_at(w3, ContractName.RESTAKING_VAULT, deployment.restaking_vault)
    relayer = Account.from_key(anvil.dev_accounts()[1].private_key)
    call = gateway.functions.executeSlash(
        slash.valset_nonce, slash.nonce, slash.payload, (slash.bitmap, slash.signature)
    )
    receipt = send_transaction(w3, relayer, call.build_transaction({"from": relayer.address}))
    shortfalls = vault.events.SlashShortfall().process_receipt(receipt, errors=DISCARD)
    assert {(e["args"]["token"], e["args"]["requested"], e["args"]["moved"]) for e in shortfalls} == {
        (token, amount, 0) for token, amount in zip(slash.tokens, slash.amounts, strict=True)
    }
    assert gateway.functions.frozen(slash.operator, slash.avs).call()
