"""WITHDRAWAL_APPROVAL end to end on the real devnet and anvil: two stakers delegate and ask for a
withdrawal on the L1 RestakingVault, the stack's follower reports both to the devnet, which unbonds
and approves; the relayer checks the served leaves against the root and delivers the packet; one
staker claims its leaf from the vault first, the relayer's payout batch pays the other (skipping
the claimed one), and the indexer records both payments (who paid, finalized)."""

from __future__ import annotations

import time

from eth_account import Account
from fastapi.testclient import TestClient
from sqlalchemy import select
from web3 import Web3
from web3.types import TxParams, Wei

from indexer.api.app import create_app
from relayer.exocore.proto.feedistribution.v1 import query_pb2 as fee_query
from relayer.l1.artifacts import ContractName, load_artifact
from relayer.protocol.ids import OperatorAddress
from relayer.protocol.kinds import PacketKind
from relayer.protocol.merkle import DistributionLeaf, DistributionTree
from relayer.protocol.packets import distribution_id
from relayer.protocol.types import Amount, Hash32, as_address
from storage.job_tables import JobStage, PayoutStage
from storage.models import packet_table, payout_table
from tests.support.custody_invariant import assert_custody_matches
from tests.support.relayer_harness import RelayerHarness, jobs, payout_jobs, run_standard_scenario

STAKER_ACCOUNT_INDICES = (3, 4)
"""anvil dev accounts 0 (deployer), 1 (relayer) and 2 (AVS funder) are taken."""
ETHER = 10**18
FOLLOW_TIMEOUT_S = 30.0
"""Generous bound for the follower to see two confirmed L1 blocks (0.5 s each) and submit."""


def test_a_matured_l1_withdrawal_is_approved_relayed_and_paid_in_a_batch(harness: RelayerHarness) -> None:
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
    claimer, pushed = (
        Account.from_key(h.stack.anvil.dev_accounts()[i].private_key) for i in STAKER_ACCOUNT_INDICES
    )
    withdrawn = {claimer.address.lower(): 2 * ETHER, pushed.address.lower(): 3 * ETHER}
    operator = Web3.to_checksum_address(OperatorAddress.parse(report.operators[0]).address)
    start = w3.eth.block_number + 1
    for staker in (claimer, pushed):
        amount = withdrawn[staker.address.lower()]
        for call, value in (
            (weth.functions.deposit(), 5 * ETHER),
            (weth.functions.approve(vault.address, 5 * ETHER), 0),
            (vault.functions.delegate(operator, weth.address, 5 * ETHER), 0),
            (vault.functions.requestWithdrawal(operator, weth.address, amount), 0),
        ):
            receipt = w3.eth.wait_for_transaction_receipt(
                call.transact(TxParams({"from": staker.address, "value": Wei(value)}))
            )
            assert receipt["status"] == 1

    # The stack's follower reports the L1 events to Exocore once their block is confirmed.
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
    # Unbonding: the requests mature at an epoch start some epochs later.
    epoch_blocks = int(h.stack.manifest["exocore"]["epoch_blocks"])
    h.client.advance(4 * epoch_blocks)

    (nonce,) = [n for n, a in state.withdrawal_approvals.items() if as_address(claimer.address) in a.stakers]
    leaves = h.client.fee.DistributionLeaves(fee_query.QueryDistributionLeavesRequest(nonce=nonce)).leaves
    assert {leaf.staker: int(leaf.amount) for leaf in leaves} == withdrawn
    exocore_chain = Hash32(
        bytes.fromhex(str(h.stack.manifest["exocore"]["exocore_chain"]).removeprefix("0x"))
    )
    approval_id = distribution_id(exocore_chain, nonce)

    # The root lands; the claimer claims its own leaf before the relayer's batch (a front-run).
    h.cycle_until(lambda: vault.functions.approval(approval_id).call()[0] != bytes(32), timeout_s=120)
    tree = DistributionTree.build(
        DistributionLeaf(
            index=int(leaf.index), staker=as_address(leaf.staker), amount=Amount(int(leaf.amount))
        )
        for leaf in leaves
    )
    (mine,) = [i for i in range(len(tree)) if tree.leaf(i).staker == as_address(claimer.address)]
    proof = tree.proof(mine)
    claim = vault.functions.claim(approval_id, (mine, claimer.address, 2 * ETHER), [bytes(p) for p in proof])
    receipt = w3.eth.wait_for_transaction_receipt(claim.transact(TxParams({"from": claimer.address})))
    assert receipt["status"] == 1

    # The relayer delivers the packet, pays the leaves in a batch (the claimed one is skipped, the
    # batch does not revert) and the indexer finalizes both payments.
    approval_hex = "0x" + approval_id.hex()

    def paid() -> bool:
        return any(
            p.distribution_id == approval_hex and p.stage == PayoutStage.PAID.value for p in payout_jobs(h)
        )

    h.cycle_until(paid, timeout_s=180)
    (job,) = [r for r in jobs(h) if r.packet_nonce == nonce]
    assert (job.kind, job.stage) == (PacketKind.WITHDRAWAL_APPROVAL, JobStage.DELIVERED.value)
    events = vault.events.WithdrawalPaid.get_logs(from_block=start)
    assert sorted((e.args.staker.lower(), e.args.amount) for e in events) == sorted(withdrawn.items())
    assert {e.transactionHash for e in events if e.args.staker == claimer.address} == {
        receipt["transactionHash"]
    }
    for staker in (claimer, pushed):
        assert weth.functions.balanceOf(staker.address).call() == withdrawn[staker.address.lower()]
    with h.engine.begin() as conn:
        rows = conn.execute(
            select(
                payout_table.c.staker, payout_table.c.amount, payout_table.c.state, payout_table.c.paid_by
            ).where(payout_table.c.distribution_id == approval_hex)
        ).all()
        packet = conn.execute(select(packet_table.c.state).where(packet_table.c.nonce == nonce)).scalar_one()
    assert sorted((r.staker, int(r.amount), r.state, r.paid_by) for r in rows) == sorted(
        [
            (claimer.address.lower(), 2 * ETHER, "finalized", "staker"),
            (pushed.address.lower(), 3 * ETHER, "finalized", "relayer"),
        ]
    )
    assert packet == "finalized"
    # The query API lists them by staker / token / state, with who paid; no invariant was violated
    # (among them: per paying transaction, Σ leaves paid per token = the vault's Transfer logs).
    with TestClient(create_app(h.engine)) as api:
        mine = api.get("/v1/withdrawals", params={"staker": claimer.address.lower()}).json()["items"]
        (requested,) = [
            int(e.args.requestId)
            for e in vault.events.WithdrawalRequested.get_logs(from_block=start)
            if e.args.staker == claimer.address
        ]
        assert [
            (w["approval_id"], w["amount"], w["status"], w["paid_by"], w["request_ids"]) for w in mine
        ] == [(approval_hex, str(2 * ETHER), "finalized", "staker", [requested])]
        listed = api.get(
            "/v1/withdrawals", params={"token": weth.address.lower(), "status": "finalized"}
        ).json()
        assert sorted(w["staker"] for w in listed["items"]) == sorted(withdrawn)
        assert api.get("/v1/withdrawals", params={"status": "pending"}).json()["items"] == []
        stats = api.get("/v1/stats").json()
        assert stats["invariant_violations"] == 0
    # Every stake is an L1 deposit and the approvals are paid out of custody: the sides agree.
    assert_custody_matches(h.stack.manifest)
