"""A packet is for one client chain and one gateway: replayed anywhere else it reverts on L1.

Two anvils with different chain ids carry the same deployment: same deployer key and nonces, so the
gateway has the *same address* on both, and the same validator set. The only thing telling the two
apart is the L1 chain id the digest binds (``docs/protocol.md``); a packet delivered on chain A and
resubmitted verbatim (same valset nonce, nonce, payload and attestation) to chain B's gateway, or to
a second gateway on chain A, reverts with ``InvalidSignature`` and changes nothing there.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from web3 import Web3

from devnet.anvil import AnvilConfig, AnvilNode
from devnet.l1_deploy import deploy_l1
from relayer.protocol.packets import FundingMode, Packet
from tests.support.l1_contracts import (
    EXOCORE_CHAIN,
    Attestation,
    System,
    ValidatorSet,
    deliver,
    distribution_payload,
    distribution_tree,
    fresh_addresses,
    packet_call,
    reverts,
)
from tests.support.l1_fixtures import DEV_ACCOUNTS, GUARDIAN_ACCOUNT, SLASHING_SINK_ACCOUNT

CHAIN_B_ID = 31338
"""The second client chain: anvil's default id plus one."""


def _deploy(node: AnvilNode, w3: Web3, valset: ValidatorSet) -> System:
    accounts = node.dev_accounts()
    deployment = deploy_l1(
        w3,
        accounts[0].private_key,
        valset.genesis(),
        EXOCORE_CHAIN,
        guardian=accounts[GUARDIAN_ACCOUNT].address,
        slashing_sink=accounts[SLASHING_SINK_ACCOUNT].address,
    )
    return System(
        w3=w3,
        node=node,
        deployment=deployment,
        valset=valset,
        accounts=tuple(Web3.to_checksum_address(a.address) for a in accounts),
    )


@pytest.fixture(scope="module")
def chain_b(genesis_set: ValidatorSet) -> Iterator[System]:
    with AnvilNode(AnvilConfig(chain_id=CHAIN_B_ID, accounts=DEV_ACCOUNTS)) as node:
        w3 = Web3(Web3.HTTPProvider(node.rpc_url, request_kwargs={"timeout": 60}))
        yield _deploy(node, w3, genesis_set)


def _distribution(system: System, nonce: int) -> Packet:
    tree = distribution_tree(fresh_addresses(3, seed=nonce), [10, 20, 30])
    payload = distribution_payload(
        tree, token=system.deployment.reward_token, funding=FundingMode.MINT, avs=system.accounts[3]
    )
    return system.packet(payload, nonce=nonce)


def _replay(target: System, packet: Packet, att: Attestation) -> None:
    """Submit ``packet`` with ``att`` to ``target``'s gateway: a static call, then a real transaction."""
    call = packet_call(target, packet, att)
    with reverts("InvalidSignature"):
        call.call()
    with reverts("InvalidSignature"):
        call.transact({"from": target.deployer})


def test_the_same_gateway_address_on_two_chains(system: System, chain_b: System) -> None:
    # The premise: nothing but the chain id separates the two deployments.
    assert chain_b.gateway_address == system.gateway_address
    assert (system.w3.eth.chain_id, chain_b.w3.eth.chain_id) == (system.deployment.chain_id, CHAIN_B_ID)


def test_a_packet_for_chain_a_reverts_on_chain_b(system: System, chain_b: System) -> None:
    packet = _distribution(system, nonce=71)
    att = system.valset.attest(packet.digest)
    _replay(chain_b, packet, att)  # before chain A has seen it
    deliver(system, packet)
    _replay(chain_b, packet, att)  # and after: A's acceptance carries no weight on B
    assert not chain_b.gateway.functions.nonceUsed(packet.nonce).call()
    # The same payload and nonce, addressed to B and signed for B, is B's to accept.
    for_b = _distribution(chain_b, nonce=71)
    assert for_b.payload_hash == packet.payload_hash and for_b.digest != packet.digest
    deliver(chain_b, for_b)


def test_a_packet_for_one_gateway_reverts_on_another_gateway_of_the_same_chain(system: System) -> None:
    other = _deploy(system.node, system.w3, system.valset)  # rolled back with the test's snapshot
    assert other.gateway_address != system.gateway_address
    packet = _distribution(system, nonce=72)
    _replay(other, packet, system.valset.attest(packet.digest))
