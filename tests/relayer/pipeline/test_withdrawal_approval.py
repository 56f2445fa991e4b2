"""WITHDRAWAL_APPROVAL end to end on the real devnet and anvil: a staker delegates and asks for a
withdrawal on the L1 RestakingVault, the stack's follower reports both to the devnet, which unbonds
and approves; the relayer checks the served leaves against the root and delivers the packet; the
staker claims from the vault."""

from __future__ import annotations

import time

from eth_account import Account
from sqlalchemy import select
from web3 import Web3
from web3.types import TxParams, Wei

from relayer.exocore.proto.feedistribution.v1 import query_pb2 as fee_query
from relayer.l1.artifacts import ContractName, load_artifact
from relayer.protocol.ids import OperatorAddress
from relayer.protocol.kinds import PacketKind
from relayer.protocol.packets import distribution_id
from relayer.protocol.types import Hash32, as_address
from storage.job_tables import JobStage
from storage.models import packet_table
from tests.support.relayer_harness import RelayerHarness, jobs, run_standard_scenario

STAKER_ACCOUNT_INDEX = 3
"""anvil dev accounts 0 (deployer), 1 (relayer) and 2 (AVS funder) are taken."""
ETHER = 10**18
FOLLOW_TIMEOUT_S = 30.0
"""Generous bound for the follower to see two confirmed L1 blocks (0.5 s each) and submit."""


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
        receipt = w3.eth.wait_for_transaction_receipt(
            call.transact(TxParams({"from": staker.address, "value": Wei(value)}))
        )
        assert receipt["status"] == 1

    # The stack's follower reports both L1 events to Exocore once their block is confirmed.
    assert h.stack.devnet is not None
    state = h.stack.devnet.node.state
    request_ids = {int(e["args"]["requestId"]) for e in vault.events.Delegated.get_logs(from_block=start)}
    request_ids |= {
        int(e["args"]["requestId"]) for e in vault.events.WithdrawalRequested.get_logs(from_block=start)
    }
    deadline = time.monotonic() + FOLLOW_TIMEOUT_S
    while not request_ids <= set(state.l1_requests):
        assert time.monotonic() < deadline, f"Exocore applied {sorted(state.l1_requests)} of {request_ids}"
        h.client.advance(1)
        time.sleep(0.2)
    # Unbonding: the request matures at an epoch start some epochs later.
    epoch_blocks = int(h.stack.manifest["exocore"]["epoch_blocks"])
    h.client.advance(4 * epoch_blocks)

    staker_l1 = as_address(staker.address)
    (nonce,) = [n for n, a in state.withdrawal_approvals.items() if staker_l1 in a.stakers]

    def approval_delivered() -> bool:
        return any(r.packet_nonce == nonce and r.stage == JobStage.DELIVERED.value for r in jobs(h))

    h.cycle_until(approval_delivered, timeout_s=120)
    (job,) = [r for r in jobs(h) if r.packet_nonce == nonce]
    assert job.kind == PacketKind.WITHDRAWAL_APPROVAL
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
    receipt = w3.eth.wait_for_transaction_receipt(claim.transact(TxParams({"from": staker.address})))
    assert receipt["status"] == 1
    assert weth.functions.balanceOf(staker.address).call() == 2 * ETHER
    # The indexer follows the packet to L1 (the gateway's WithdrawalApprovalSubmitted) and finality.

    def packet_state() -> str:
        with h.engine.begin() as conn:
            return str(
                conn.execute(select(packet_table.c.state).where(packet_table.c.nonce == nonce)).scalar_one()
            )

    h.cycle_until(lambda: packet_state() == "finalized", timeout_s=60)
