"""WITHDRAWAL_APPROVAL end to end on the real devnet and anvil: a staker delegates and asks for a
withdrawal on the L1 RestakingVault, the devnet follows the vault, unbonds, approves; the relayer
checks the served leaves against the root and delivers the packet; the staker claims from the vault."""

from __future__ import annotations

from eth_account import Account
from web3 import Web3

from devnet.chain.params import DEVNET_LZ_CHAIN_ID
from devnet.l1_follower import StakeMsg, VaultFollower
from relayer.exocore.proto.devnet.v1 import tx_pb2 as tx
from relayer.exocore.proto.feedistribution.v1 import query_pb2 as fee_query
from relayer.l1.artifacts import ContractName, load_artifact
from relayer.protocol.ids import OperatorAddress
from relayer.protocol.kinds import PacketKind
from relayer.protocol.packets import distribution_id
from relayer.protocol.types import Hash32
from storage.job_tables import JobStage
from tests.support.relayer_harness import RelayerHarness, jobs, run_standard_scenario

STAKER_ACCOUNT_INDEX = 3
"""anvil dev accounts 0 (deployer), 1 (relayer) and 2 (AVS funder) are taken."""
ETHER = 10**18


def test_a_matured_l1_withdrawal_is_approved_relayed_and_claimed(harness: RelayerHarness) -> None:
    h = harness
    report = run_standard_scenario(h)
    l1 = h.stack.manifest["l1"]
    w3 = Web3(Web3.HTTPProvider(l1["rpc_url"]))
    contracts = l1["contracts"]
    weth = w3.eth.contract(
        address=Web3.to_checksum_address(contracts["weth"]),
        abi=load_artifact(ContractName.WRAPPED_ETHER).abi_list(),
    )
    vault = w3.eth.contract(
        address=Web3.to_checksum_address(contracts["restaking_vault"]),
        abi=load_artifact(ContractName.RESTAKING_VAULT).abi_list(),
    )
    assert h.stack.anvil is not None
    staker = Account.from_key(h.stack.anvil.dev_accounts()[STAKER_ACCOUNT_INDEX].private_key)
    operator = Web3.to_checksum_address(OperatorAddress.parse(report.operators[0]).address)
    start = w3.eth.block_number + 1
    for call, value in (
        (weth.functions.deposit(), 5 * ETHER),
        (weth.functions.approve(vault.address, 5 * ETHER), 0),
        (vault.functions.delegate(operator, weth.address, 5 * ETHER), 0),
        (vault.functions.requestWithdrawal(operator, weth.address, 2 * ETHER), 0),
    ):
        receipt = w3.eth.wait_for_transaction_receipt(call.transact({"from": staker.address, "value": value}))
        assert receipt["status"] == 1

    def submit(msg: StakeMsg) -> object:
        return h.client.send("Delegate" if isinstance(msg, tx.MsgDelegate) else "Undelegate", msg)

    follower = VaultFollower(
        w3, vault.address, lz_chain_id=DEVNET_LZ_CHAIN_ID, from_block=start, confirmations=0, submit=submit
    )
    assert [e.withdrawal for e in follower.poll()] == [False, True]
    # Unbonding: the request matures at an epoch start some epochs later.
    epoch_blocks = int(h.stack.manifest["exocore"]["epoch_blocks"])
    h.client.advance(4 * epoch_blocks)

    def approval_delivered() -> bool:
        return any(
            r.kind == PacketKind.WITHDRAWAL_APPROVAL and r.stage == JobStage.DELIVERED.value for r in jobs(h)
        )

    h.cycle_until(approval_delivered, timeout_s=120)
    (job,) = [r for r in jobs(h) if r.kind == PacketKind.WITHDRAWAL_APPROVAL]
    nonce = int(job.packet_nonce)
    leaves = h.client.fee.DistributionLeaves(fee_query.QueryDistributionLeavesRequest(nonce=nonce)).leaves
    assert [(leaf.staker, leaf.amount) for leaf in leaves] == [(staker.address.lower(), str(2 * ETHER))]
    exocore_chain = Hash32(
        bytes.fromhex(str(h.stack.manifest["exocore"]["exocore_chain"]).removeprefix("0x"))
    )
    approval_id = distribution_id(exocore_chain, nonce)
    root, token, leaf_count, *_rest = vault.functions.approval(approval_id).call()
    assert (token, leaf_count) == (weth.address, 1) and root != bytes(32)
    # A one-leaf tree: the proof is empty. The staker (or anyone) claims it; it pays the staker once.
    claim = vault.functions.claim(approval_id, (0, staker.address, 2 * ETHER), [])
    receipt = w3.eth.wait_for_transaction_receipt(claim.transact({"from": staker.address}))
    assert receipt["status"] == 1
    assert weth.functions.balanceOf(staker.address).call() == 2 * ETHER
