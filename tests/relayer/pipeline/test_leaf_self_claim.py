"""A staker pays its own per-distribution leaf while the relayer is down (real devnet + anvil): the
VAULT-funded distribution's payout job parks on the missing deposit, the relayer stops, the AVS
deposits, the staker sends the ``claim`` calldata ``GET /v1/stakers/{staker}/claims`` serves, and the
relayer, restarted, pays every other leaf and skips that one; the indexer records the self-claimed
payout as ``paid_by`` staker and the pushed ones as relayer. The same with ``exorelay claim --send``,
which finds the staker's leaves itself (Exocore gRPC and L1, no indexer) and signs with its keystore."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from eth_account import Account
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner
from web3 import Web3
from web3.types import RPCEndpoint

from devnet.scenario import run_manifest_scenario, scenario_asset_ids
from indexer.api import ReadinessPolicy, create_app
from relayer import cli
from relayer.l1.keystore import write_keystore
from relayer.pipeline.retry import RetryReason
from relayer.protocol.ids import OperatorAddress
from relayer.protocol.packets import FundingMode
from relayer.protocol.types import as_address
from relayer.service import RelayerService
from storage.job_tables import PayoutStage
from storage.models import distribution_table, payout_table
from tests.support.relayer_harness import (
    AVS_B_FUNDING_WEI,
    SCENARIO_OPERATORS,
    SCENARIO_STAKERS,
    RelayerHarness,
    gateway_contract,
    payout_jobs,
)


def _vault_distribution(h: RelayerHarness) -> Any:
    return next(iter(_vault_distributions(h)), None)


def _vault_distributions(h: RelayerHarness) -> list[Any]:
    with h.engine.connect() as conn:
        return list(
            conn.execute(
                select(distribution_table)
                .where(distribution_table.c.funding == int(FundingMode.VAULT))
                .order_by(distribution_table.c.nonce)
            )
        )


def _job(h: RelayerHarness, distribution_id: str) -> Any:
    return next((j for j in payout_jobs(h) if j.distribution_id == distribution_id), None)


def test_a_staker_claims_its_leaf_with_the_api_calldata_and_the_relayer_skips_it(
    harness: RelayerHarness,
) -> None:
    h = harness
    report = run_manifest_scenario(
        h.client, h.stack.manifest, operators=SCENARIO_OPERATORS, stakers=SCENARIO_STAKERS
    )
    h.client.advance(2)  # no deposit yet: the VAULT distribution's payouts park

    def parked() -> bool:
        dist = _vault_distribution(h)
        job = None if dist is None else _job(h, dist.distribution_id)
        return job is not None and job.retry_reason == RetryReason.INSUFFICIENT_DEPOSIT.value

    h.cycle_until(parked, timeout_s=90)
    dist = _vault_distribution(h)
    h.service.stop()  # the relayer is down from here
    h.stack.fund_avs_eth(report.avss[1], AVS_B_FUNDING_WEI, account_index=2)
    with h.engine.connect() as conn:
        rows = conn.execute(
            select(payout_table.c.staker, payout_table.c.leaf_index, payout_table.c.amount).where(
                payout_table.c.distribution_id == dist.distribution_id
            )
        ).all()
    staker, index, amount = max(rows, key=lambda r: int(r.amount))
    with TestClient(create_app(h.engine, readiness=ReadinessPolicy(max_age_s=10**9))) as api:
        served = api.get(f"/v1/stakers/{staker}/claims").json()
    (leaf,) = [x for x in served["leaves"] if x["distribution_id"] == dist.distribution_id]
    assert (leaf["leaf_index"], leaf["amount"], leaf["status"]) == (index, str(amount), "pending")
    w3, gateway = gateway_contract(h)
    sender = Web3.to_checksum_address(staker)
    w3.provider.make_request(RPCEndpoint("anvil_impersonateAccount"), [sender])
    w3.provider.make_request(RPCEndpoint("anvil_setBalance"), [sender, hex(10**18)])
    sent = w3.eth.send_transaction({"from": sender, "to": gateway.address, "data": leaf["calldata"]})
    assert w3.eth.wait_for_transaction_receipt(sent)["status"] == 1

    service = RelayerService(h.config, signer=h.signer, engine=h.engine)
    try:

        def paid() -> bool:
            job = _job(h, dist.distribution_id)
            return job is not None and job.stage == PayoutStage.PAID.value

        replace(h, service=service).cycle_until(paid, timeout_s=120)
    finally:
        service.stop()
    events = gateway.events.RewardPaid.get_logs(from_block=0)
    mine = [e for e in events if "0x" + bytes(e.args.distributionId).hex() == dist.distribution_id]
    assert sorted(int(e.args.index) for e in mine) == sorted(int(r.leaf_index) for r in rows)  # each once
    (own,) = [e for e in mine if int(e.args.index) == index]
    assert own.transactionHash == sent
    with h.engine.connect() as conn:
        paid_by = dict(
            conn.execute(
                select(payout_table.c.leaf_index, payout_table.c.paid_by).where(
                    payout_table.c.distribution_id == dist.distribution_id
                )
            ).all()
        )
    assert paid_by.pop(index) == "staker"
    assert set(paid_by.values()) == {"relayer"}
    with TestClient(create_app(h.engine, readiness=ReadinessPolicy(max_age_s=10**9))) as api:
        assert api.get(f"/v1/stakers/{staker}/claims").json()["leaves"] == []


KEYED_STAKER_INDEX = 6
"""anvil dev account 6: a staker whose key the test holds (the scenario's stakers have none)."""
KEYSTORE_PASSWORD = "correct horse battery staple"


def test_a_staker_claims_its_leaves_with_exorelay_claim_send_and_the_relayer_skips_them(
    harness: RelayerHarness, tmp_path: Path
) -> None:
    h = harness
    report = run_manifest_scenario(
        h.client, h.stack.manifest, operators=SCENARIO_OPERATORS, stakers=SCENARIO_STAKERS
    )
    # A staker with a key stakes WETH with every operator; the VAULT-funded AVS (which pays WETH)
    # claims again, so the staker has a leaf in that second VAULT distribution. No deposit yet.
    assert h.stack.anvil is not None
    keyed = Account.from_key(h.stack.anvil.dev_accounts()[KEYED_STAKER_INDEX].private_key)
    contracts, exocore = h.stack.manifest["l1"]["contracts"], h.stack.manifest["exocore"]
    weth_asset, _ = scenario_asset_ids(
        contracts["weth"], contracts["reward_token"], int(exocore["lz_chain_id"])
    )
    h.client.delegate_many(
        [
            (as_address(keyed.address), weth_asset, OperatorAddress.parse(op), 10**18)
            for op in report.operators
        ]
    )
    committee = h.client.committee(report.avss[1])
    h.client.claim(committee, range(len(committee.pubkeys)), str(contracts["weth"]).lower(), 9 * 10**20)
    h.client.advance(2)

    def parked() -> bool:
        dists = _vault_distributions(h)
        found = [_job(h, d.distribution_id) for d in dists]
        return len(found) == 2 and all(
            j is not None and j.retry_reason == RetryReason.INSUFFICIENT_DEPOSIT.value for j in found
        )

    h.cycle_until(parked, timeout_s=120)
    h.service.stop()  # the relayer is down from here
    h.stack.fund_avs_eth(report.avss[1], 2 * AVS_B_FUNDING_WEI, account_index=2)

    keystore = tmp_path / "staker.json"
    write_keystore(keystore, keyed.key, KEYSTORE_PASSWORD, kdf="pbkdf2", iterations=1024)
    env = {
        "EXORELAY_L1__GATEWAY_ADDRESS": str(h.config.l1.gateway_address),
        "EXORELAY_L1__RPC_URLS": json.dumps([str(u) for u in h.config.l1.rpc_urls]),
        "EXORELAY_L1__CHAIN_ID": str(h.config.l1.chain_id),
        "EXORELAY_EXOCORE__GRPC_ENDPOINTS": json.dumps(list(h.config.exocore.grpc_endpoints)),
        "EXORELAY_EXOCORE__CHAIN_ID": h.config.exocore.chain_id,
        "EXORELAY_L1__KEYSTORE_PATH": str(keystore),
        "EXORELAY_L1__KEYSTORE_PASSWORD": KEYSTORE_PASSWORD,
    }
    sent = CliRunner().invoke(cli.app, ["claim", keyed.address, "--send"], env=env)
    assert sent.exit_code == 0, sent.output
    claimed = json.loads(sent.stdout)["leaves"]
    assert claimed and {leaf["status"] for leaf in claimed} == {"claimed"}
    _w3, gateway = gateway_contract(h)
    assert {leaf["token"] for leaf in claimed} == {Web3.to_checksum_address(contracts["weth"]).lower()}
    ((distribution_id, own_indices),) = {
        leaf["distribution_id"]: {
            x["leaf_index"] for x in claimed if x["distribution_id"] == leaf["distribution_id"]
        }
        for leaf in claimed
    }.items()
    assert distribution_id == _vault_distributions(h)[1].distribution_id
    did = bytes.fromhex(distribution_id.removeprefix("0x"))
    assert all(gateway.functions.isPaid(did, index).call() for index in own_indices)
    # Everything paid: a second run finds nothing (the CLI skips leaves L1 marks paid).
    again = CliRunner().invoke(cli.app, ["claim", keyed.address, "--no-cumulative"], env=env)
    assert again.exit_code == 1 and "nothing to claim" in again.output

    service = RelayerService(h.config, signer=h.signer, engine=h.engine)
    try:

        def paid() -> bool:
            return all(
                (job := _job(h, d.distribution_id)) is not None and job.stage == PayoutStage.PAID.value
                for d in _vault_distributions(h)
            )

        replace(h, service=service).cycle_until(paid, timeout_s=180)
    finally:
        service.stop()
    events = gateway.events.RewardPaid.get_logs(from_block=0)
    mine = [e for e in events if "0x" + bytes(e.args.distributionId).hex() == distribution_id]
    with h.engine.connect() as conn:
        paid_by = dict(
            conn.execute(
                select(payout_table.c.leaf_index, payout_table.c.paid_by).where(
                    payout_table.c.distribution_id == distribution_id
                )
            ).all()
        )
    assert sorted(int(e.args.index) for e in mine) == sorted(paid_by)  # each leaf once
    by_tx = {leaf["leaf_index"]: leaf["tx"] for leaf in claimed}
    for event in mine:
        if int(event.args.index) in own_indices:
            assert "0x" + bytes(event.transactionHash).hex() == by_tx[int(event.args.index)]
    assert {paid_by.pop(index) for index in own_indices} == {"staker"}
    assert set(paid_by.values()) == {"relayer"}
