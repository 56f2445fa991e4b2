"""A devnet with one AVS of each payout mode and a cumulative period closed at every cumulative
distribution: AVS A (cumulative, the MINT reward token) gets no REWARD_DISTRIBUTION packet, its
distribution accrues and the relayer delivers the CUMULATIVE_ROOT packet (kind 5) like any packet; the
RewardVault accepts its root. AVS B (per-distribution, WETH from its vault) is paid leaf by leaf
after its own packet. The relayer rebuilds the root from the leaves Exocore serves
(``CumulativeLeaves``) before it spends gas. Nothing is paid twice: the reward token's L1 transfers
are exactly the cumulative payouts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

import pytest
from eth_account import Account
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner
from web3 import Web3
from web3.logs import DISCARD
from web3.types import RPCEndpoint

from devnet.scenario import ScenarioClient, scenario_asset_ids
from devnet.stack import DevnetStack
from indexer.api.app import create_app
from relayer import cli
from relayer.config import CumulativeConfig
from relayer.exocore.grpc_client import PacketRejection
from relayer.l1.artifacts import ContractName, load_artifact
from relayer.l1.keystore import write_keystore
from relayer.pipeline.cumulative_push import CumulativePusher
from relayer.pipeline.push_policy import policy_from_config
from relayer.protocol.cumulative import CumulativeTree
from relayer.protocol.ids import OperatorAddress
from relayer.protocol.kinds import PayoutMode
from relayer.protocol.packets import CumulativeRootPayload, PacketKind, RewardDistributionPayload
from relayer.protocol.types import as_address
from relayer.service import RelayerService
from storage.job_tables import cumulative_push_state_table
from storage.lifecycle import PacketState
from storage.models import cumulative_payout_table, packet_table
from tests.support.database import fresh_database
from tests.support.relayer_harness import (
    L1_BLOCK_TIME_S,
    SIGNER_ACCOUNT_INDEX,
    RelayerHarness,
    all_delivered_and_paid,
    gateway_contract,
    jobs,
    relayer_config,
    run_standard_scenario,
)

DISTRIBUTIONS_PER_PERIOD = 1
"""Cumulative distributions per period: the scenario has one (AVS A's claim)."""
PAYOUT_MODES: Final = (PayoutMode.CUMULATIVE, PayoutMode.PER_DISTRIBUTION)
"""AVS A's and AVS B's."""
PACKETS: Final = 2
"""AVS B's REWARD_DISTRIBUTION and the period's CUMULATIVE_ROOT (AVS A has no packet of its own)."""


@pytest.fixture
def cumulative_harness(tmp_path: Path) -> Iterator[RelayerHarness]:
    with (
        DevnetStack(
            tmp_path / "chains",
            exocore_block_time_s=None,
            l1_block_time_s=L1_BLOCK_TIME_S,
            cumulative_every=DISTRIBUTIONS_PER_PERIOD,
        ) as stack,
        fresh_database(tmp_path) as engine,
    ):
        config = relayer_config(stack, str(engine.url.render_as_string(hide_password=False)))
        assert stack.anvil is not None
        signer = Account.from_key(stack.anvil.dev_accounts()[SIGNER_ACCOUNT_INDEX].private_key)
        service = RelayerService(config, signer=signer, engine=engine)
        exocore = stack.manifest["exocore"]
        with ScenarioClient.for_manifest(exocore, manifest_keystores=False, sign_reports=False) as client:
            yield RelayerHarness(stack, engine, config, signer, service, client)
        service.stop()


def test_the_relayer_delivers_a_cumulative_root_and_the_vault_accepts_it(
    cumulative_harness: RelayerHarness,
) -> None:
    h = cumulative_harness
    run_standard_scenario(h, PAYOUT_MODES)  # A's claim accrues and closes the period; B's gets a packet
    h.cycle_until(lambda: all_delivered_and_paid(h, packets=PACKETS), timeout_s=90)
    rows = jobs(h)
    assert sorted(int(r.kind) for r in rows) == [2, 5]
    (root_job,) = [r for r in rows if int(r.kind) == PacketKind.CUMULATIVE_ROOT]
    w3, gateway = gateway_contract(h)
    assert gateway.functions.nonceUsed(root_job.packet_nonce).call()
    vault = w3.eth.contract(
        address=Web3.to_checksum_address(gateway.functions.REWARD_VAULT().call()),
        abi=load_artifact(ContractName.REWARD_VAULT).abi_list(),
    )
    (accepted,) = vault.events.CumulativeRootAccepted.get_logs(from_block=0)
    assert accepted.args.period == 1 and accepted.args.nonce == root_job.packet_nonce
    assert vault.functions.latestPeriod().call() == 1
    # The root on L1 is the one Exocore signed, and it covers AVS A's earners.
    grpc = h.service.parts.grpc
    served = grpc.packet(root_job.packet_nonce, grpc.relay_params())
    assert served is not None and not isinstance(served, PacketRejection)
    payload = served.packet.payload
    assert isinstance(payload, CumulativeRootPayload)
    assert vault.functions.cumulativeRoot(1).call() == payload.root
    assert payload.period == 1 and payload.leaf_count >= 1
    # Exocore serves the period's leaves; they rebuild the root L1 holds (what the relayer checked).
    leaves = list(grpc.cumulative_leaves(1))
    assert CumulativeTree.build(leaves).root == payload.root and len(leaves) == payload.leaf_count
    # The indexer sees the vault's CumulativeRootAccepted: the packet's lifecycle ends like any other.
    h.cycle_until(lambda: _packet_state(h, root_job.packet_nonce) == PacketState.FINALIZED.value)


def _packet_state(h: RelayerHarness, nonce: int) -> str | None:
    with h.engine.begin() as conn:
        state = conn.execute(select(packet_table.c.state).where(packet_table.c.nonce == nonce)).scalar()
    return None if state is None else str(state)


def _cumulative_payouts(h: RelayerHarness) -> list[Any]:
    with h.engine.begin() as conn:
        return list(conn.execute(select(cumulative_payout_table)))


def _cli_env(h: RelayerHarness) -> dict[str, str]:
    """The harness's endpoints as the EXORELAY_* overrides a staker's own config would carry."""
    return {
        "EXORELAY_L1__GATEWAY_ADDRESS": str(h.config.l1.gateway_address),
        "EXORELAY_L1__RPC_URLS": json.dumps([str(u) for u in h.config.l1.rpc_urls]),
        "EXORELAY_L1__CHAIN_ID": str(h.config.l1.chain_id),
        "EXORELAY_EXOCORE__GRPC_ENDPOINTS": json.dumps(list(h.config.exocore.grpc_endpoints)),
        "EXORELAY_EXOCORE__CHAIN_ID": h.config.exocore.chain_id,
    }


def test_with_the_relayer_idle_a_staker_claims_through_exorelay_claim(
    cumulative_harness: RelayerHarness,
) -> None:
    h = cumulative_harness
    run_standard_scenario(h, PAYOUT_MODES)
    h.cycle_until(lambda: all_delivered_and_paid(h, packets=PACKETS), timeout_s=90)
    # From here on the relayer does nothing (no cycle): the staker claims alone.
    w3, gateway = gateway_contract(h)
    vault = w3.eth.contract(
        address=Web3.to_checksum_address(gateway.functions.REWARD_VAULT().call()),
        abi=load_artifact(ContractName.REWARD_VAULT).abi_list(),
    )
    grpc = h.service.parts.grpc
    leaves = list(grpc.cumulative_leaves(1))
    reward_token = Web3.to_checksum_address(h.stack.manifest["l1"]["contracts"]["reward_token"])
    richest = max(
        (leaf for leaf in leaves if Web3.to_checksum_address(leaf.token) == reward_token),
        key=lambda leaf: leaf.cumulative,
    )
    earner = Web3.to_checksum_address(richest.earner)
    runner = CliRunner()
    printed = runner.invoke(cli.app, ["claim", earner, "--no-leaves"], env=_cli_env(h))
    assert printed.exit_code == 0, printed.output
    transaction = json.loads(printed.stdout)
    assert transaction["to"].lower() == vault.address.lower() and transaction["period"] == 1
    assert int(transaction["claimable"]["0x" + richest.token.hex()]) == richest.cumulative
    # The API gives the same transaction, addressed: a wallet sends either as is.
    with TestClient(create_app(h.engine)) as api:
        served = api.get(f"/v1/stakers/{earner}/cumulative/claim").json()
    assert (served["to"], served["from"], served["calldata"]) == (
        transaction["to"],
        transaction["from"],
        transaction["data"],
    )
    # The staker's wallet sends what was printed.
    w3.provider.make_request(RPCEndpoint("anvil_impersonateAccount"), [earner])
    w3.provider.make_request(RPCEndpoint("anvil_setBalance"), [earner, hex(10**18)])
    token = w3.eth.contract(address=reward_token, abi=load_artifact(ContractName.REWARD_TOKEN).abi_list())
    before = token.functions.balanceOf(earner).call()
    tx_hash = w3.eth.send_transaction({"from": earner, "to": vault.address, "data": transaction["data"]})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
    assert receipt["status"] == 1
    paid = vault.events.CumulativePaid().process_receipt(receipt, errors=DISCARD)
    assert {(p.args.token, p.args.amount, p.args.byEarner) for p in paid} >= {
        (reward_token, richest.cumulative, True)
    }
    assert token.functions.balanceOf(earner).call() == before + richest.cumulative
    assert vault.functions.claimed(earner, reward_token).call() == richest.cumulative
    # Nothing is left for that token: claiming again names only what is still unpaid, if anything.
    again = runner.invoke(cli.app, ["claim", earner, "--no-leaves"], env=_cli_env(h))
    if again.exit_code == 0:
        assert "0x" + richest.token.hex() not in json.loads(again.stdout)["claimable"]
    else:
        assert "nothing to claim" in again.output


def test_a_restarted_relayer_pushes_the_others_and_skips_what_a_staker_claimed_itself(
    cumulative_harness: RelayerHarness,
) -> None:
    h = cumulative_harness
    run_standard_scenario(h, PAYOUT_MODES)
    h.cycle_until(lambda: all_delivered_and_paid(h, packets=PACKETS), timeout_s=90)
    w3, gateway = gateway_contract(h)
    vault = w3.eth.contract(
        address=Web3.to_checksum_address(gateway.functions.REWARD_VAULT().call()),
        abi=load_artifact(ContractName.REWARD_VAULT).abi_list(),
    )
    reward_token = Web3.to_checksum_address(h.stack.manifest["l1"]["contracts"]["reward_token"])
    mine = [
        leaf
        for leaf in h.service.parts.grpc.cumulative_leaves(1)
        if Web3.to_checksum_address(leaf.token) == reward_token
    ]
    assert len(mine) >= 2
    # The relayer (which pushes nothing: no token is priced) is stopped; one staker claims alone.
    self_claimer = Web3.to_checksum_address(mine[0].earner)
    printed = CliRunner().invoke(cli.app, ["claim", self_claimer, "--no-leaves"], env=_cli_env(h))
    assert printed.exit_code == 0, printed.output
    w3.provider.make_request(RPCEndpoint("anvil_impersonateAccount"), [self_claimer])
    w3.provider.make_request(RPCEndpoint("anvil_setBalance"), [self_claimer, hex(10**18)])
    sent = w3.eth.send_transaction(
        {"from": self_claimer, "to": vault.address, "data": json.loads(printed.stdout)["data"]}
    )
    assert w3.eth.wait_for_transaction_receipt(sent)["status"] == 1
    h.service.stop()
    # Restarted with a policy that finds every reward-token balance worth a push, at once.
    pushing = h.config.model_copy(
        update={"cumulative": CumulativeConfig(token_prices={reward_token.lower(): "1000"}, max_delay_s=0)}
    )
    service = RelayerService(pushing, signer=h.signer, engine=h.engine)
    restarted = replace(h, config=pushing, service=service)
    try:
        restarted.cycle_until(
            lambda: all(
                vault.functions.claimed(Web3.to_checksum_address(leaf.earner), reward_token).call()
                == leaf.cumulative
                for leaf in mine
            ),
            timeout_s=90,
        )
        paid = vault.events.CumulativePaid.get_logs(from_block=0)
        # The indexer records every cumulative payout, self-claimed or pushed, from the vault's logs.
        restarted.cycle_until(lambda: len(_cumulative_payouts(h)) == len(paid), timeout_s=60)
    finally:
        service.stop()
    indexed = {(row.earner, row.token): row for row in _cumulative_payouts(h)}
    for event in paid:
        row = indexed[(event.args.earner.lower(), event.args.token.lower())]
        assert (int(row.amount), bool(row.by_earner)) == (event.args.amount, event.args.byEarner)
    assert bool(indexed[(self_claimer.lower(), reward_token.lower())].by_earner) is True
    # The API shows it per staker and token: self-claimed for one, pushed for the others.
    with TestClient(create_app(h.engine)) as api:
        own = api.get(f"/v1/stakers/{self_claimer}/cumulative").json()
        other = api.get(f"/v1/stakers/{Web3.to_checksum_address(mine[1].earner)}/cumulative").json()
    (own_token,) = [t for t in own["tokens"] if t["token"] == reward_token.lower()]
    assert (own_token["paid_by_earner"], own_token["paid_pushed"]) == (str(mine[0].cumulative), "0")
    (other_token,) = [t for t in other["tokens"] if t["token"] == reward_token.lower()]
    assert (other_token["paid_pushed"], other_token["paid_by_earner"]) == (str(mine[1].cumulative), "0")
    by_earner = {(p.args.earner, p.args.token): p.args.byEarner for p in paid}
    assert by_earner[(self_claimer, reward_token)] is True  # claimed by the staker, never pushed
    pushed = [p for p in paid if not p.args.byEarner and p.args.token == reward_token]
    assert {p.args.earner for p in pushed} == {Web3.to_checksum_address(leaf.earner) for leaf in mine[1:]}
    assert all(p.args.recipient == p.args.earner for p in pushed)
    assert len(pushed) == len(mine) - 1  # each paid once


def test_a_restart_mid_delay_keeps_the_delay_clock_and_the_earner_is_pushed_within_the_bound(
    cumulative_harness: RelayerHarness,
) -> None:
    """The delay clock of each unpaid balance lives in the database: a push stage built afresh (a
    restarted relayer, or the next signer-lease holder) still pushes within ``max_delay_s`` of when
    the balance first became unpaid, not of its own start. ``claimed`` comes from the indexed
    ``CumulativePaid`` records, so once the pushes are indexed nothing is queued again."""
    h = cumulative_harness
    run_standard_scenario(h, PAYOUT_MODES)
    h.cycle_until(lambda: all_delivered_and_paid(h, packets=PACKETS), timeout_s=90)
    w3, gateway = gateway_contract(h)
    vault = w3.eth.contract(
        address=Web3.to_checksum_address(gateway.functions.REWARD_VAULT().call()),
        abi=load_artifact(ContractName.REWARD_VAULT).abi_list(),
    )
    reward_token = Web3.to_checksum_address(h.stack.manifest["l1"]["contracts"]["reward_token"])
    mine = [
        leaf
        for leaf in h.service.parts.grpc.cumulative_leaves(1)
        if Web3.to_checksum_address(leaf.token) == reward_token
    ]
    assert mine
    # Every reward-token balance is worth a push; the bound is 1000 s at one period per 100 s.
    policy = policy_from_config(
        CumulativeConfig(token_prices={reward_token.lower(): "1000"}, max_delay_s=1000, period_s=100)
    )
    parts = h.service.parts
    first_seen_s = 1_000_000
    before_restart = CumulativePusher(
        h.engine,
        parts.grpc,
        parts.gateway,
        parts.txm,
        policy,
        l1_chain_id=h.config.l1.chain_id,
        clock_s=lambda: first_seen_s,
    )
    assert before_restart.run() == 0  # every balance above the threshold is held: 900 s to go
    # The restarted stage comes up 950 s later: waiting another period would breach the bound.
    after_restart = CumulativePusher(
        h.engine,
        parts.grpc,
        parts.gateway,
        parts.txm,
        policy,
        l1_chain_id=h.config.l1.chain_id,
        clock_s=lambda: first_seen_s + 950,
    )
    assert after_restart.run() >= 1
    h.cycle_until(
        lambda: all(
            vault.functions.claimed(Web3.to_checksum_address(leaf.earner), reward_token).call()
            == leaf.cumulative
            for leaf in mine
        ),
        timeout_s=90,
    )
    paid = vault.events.CumulativePaid.get_logs(from_block=0)
    h.cycle_until(lambda: len(_cumulative_payouts(h)) == len(paid), timeout_s=60)
    # Indexed as paid: another stage (yet another restart) reads `claimed` from the index and
    # queues nothing, and no delay clock is left running for a paid balance.
    again = CumulativePusher(
        h.engine,
        parts.grpc,
        parts.gateway,
        parts.txm,
        policy,
        l1_chain_id=h.config.l1.chain_id,
        clock_s=lambda: first_seen_s + 5000,
    )
    assert again.run() == 0
    with h.engine.begin() as conn:
        clocks = {(row.earner, row.token) for row in conn.execute(select(cumulative_push_state_table))}
    assert not clocks & {("0x" + leaf.earner.hex(), reward_token.lower()) for leaf in mine}


KEYED_STAKER_INDEX = 6
"""anvil dev account 6: a staker whose key the test holds (the scenario's stakers have none)."""
KEYSTORE_PASSWORD = "correct horse battery staple"


def test_a_staker_claims_with_its_own_keystore_and_the_restarted_relayer_skips_it(
    cumulative_harness: RelayerHarness, tmp_path: Path
) -> None:
    """``exorelay claim --send`` end to end: a staker with its own key earns in period 2, the relayer
    stops, the staker claims by CLI with its keystore, the indexer records the payout as the
    earner's own (``by_earner``), and the relayer, restarted with a pushing policy, pays the others
    and never that staker again."""
    h = cumulative_harness
    report = run_standard_scenario(h, PAYOUT_MODES)
    h.cycle_until(lambda: all_delivered_and_paid(h, packets=PACKETS), timeout_s=90)
    assert h.stack.anvil is not None
    keyed = Account.from_key(h.stack.anvil.dev_accounts()[KEYED_STAKER_INDEX].private_key)
    contracts, exocore = h.stack.manifest["l1"]["contracts"], h.stack.manifest["exocore"]
    weth_asset, _ = scenario_asset_ids(
        contracts["weth"], contracts["reward_token"], int(exocore["lz_chain_id"])
    )
    operator = OperatorAddress.parse(report.operators[0])
    h.client.delegate_many([(as_address(keyed.address), weth_asset, operator, 5 * 10**18)])
    # One more claim of AVS A (cumulative, the reward token) closes period 2, which has a leaf of the
    # keyed staker.
    avs_a = report.avss[0]
    committee = h.client.committee(avs_a)
    reward_token = Web3.to_checksum_address(contracts["reward_token"])
    h.client.claim(committee, range(len(committee.pubkeys)), reward_token.lower(), 1600 * 10**18)
    h.client.advance(2)
    w3, gateway = gateway_contract(h)
    vault = w3.eth.contract(
        address=Web3.to_checksum_address(gateway.functions.REWARD_VAULT().call()),
        abi=load_artifact(ContractName.REWARD_VAULT).abi_list(),
    )
    h.cycle_until(lambda: vault.functions.latestPeriod().call() == 2, timeout_s=120)
    (mine,) = [
        leaf
        for leaf in h.service.parts.grpc.cumulative_leaves(2)
        if leaf.earner == as_address(keyed.address) and Web3.to_checksum_address(leaf.token) == reward_token
    ]
    assert mine.cumulative > 0
    h.service.stop()  # the relayer is down: the staker claims alone

    keystore = tmp_path / "staker.json"
    write_keystore(keystore, keyed.key, KEYSTORE_PASSWORD, kdf="pbkdf2", iterations=1024)
    env = {
        **_cli_env(h),
        "EXORELAY_L1__KEYSTORE_PATH": str(keystore),
        "EXORELAY_L1__KEYSTORE_PASSWORD": KEYSTORE_PASSWORD,
    }
    token = w3.eth.contract(address=reward_token, abi=load_artifact(ContractName.REWARD_TOKEN).abi_list())
    before = token.functions.balanceOf(keyed.address).call()
    # Cumulative only: leaves of the per-distribution AVS are test_leaf_self_claim's.
    sent = CliRunner().invoke(cli.app, ["claim", keyed.address, "--send", "--no-leaves"], env=env)
    assert sent.exit_code == 0, sent.output
    result = json.loads(sent.stdout)
    assert result["status"] == "claimed" and result["from"].lower() == keyed.address.lower()
    assert token.functions.balanceOf(keyed.address).call() - before == mine.cumulative
    assert vault.functions.claimed(keyed.address, reward_token).call() == mine.cumulative

    pushing = h.config.model_copy(
        update={"cumulative": CumulativeConfig(token_prices={reward_token.lower(): "1000"}, max_delay_s=0)}
    )
    service = RelayerService(pushing, signer=h.signer, engine=h.engine)
    restarted = replace(h, config=pushing, service=service)
    others = [
        leaf
        for leaf in service.parts.grpc.cumulative_leaves(2)
        if Web3.to_checksum_address(leaf.token) == reward_token and leaf.earner != as_address(keyed.address)
    ]
    try:
        restarted.cycle_until(
            lambda: all(
                vault.functions.claimed(Web3.to_checksum_address(leaf.earner), reward_token).call()
                == leaf.cumulative
                for leaf in others
            ),
            timeout_s=120,
        )
        paid = vault.events.CumulativePaid.get_logs(from_block=0)
        restarted.cycle_until(lambda: len(_cumulative_payouts(h)) == len(paid), timeout_s=60)
    finally:
        service.stop()
    own = [p for p in paid if p.args.earner == keyed.address and p.args.token == reward_token]
    assert [(p.args.amount, p.args.byEarner) for p in own] == [(mine.cumulative, True)]  # never pushed
    (row,) = [
        r
        for r in _cumulative_payouts(h)
        if r.earner == keyed.address.lower() and r.token == reward_token.lower()
    ]
    assert (int(row.amount), bool(row.by_earner)) == (mine.cumulative, True)


def test_nothing_is_paid_twice_a_cumulative_avs_s_tokens_move_only_as_cumulative_payouts(
    cumulative_harness: RelayerHarness,
) -> None:
    """AVS A pays by cumulative roots: its claim ends ``accrued`` (no packet of its own) and every
    reward token that leaves the L1 funding sources after its root is a ``CumulativePaid``: the
    ``Transfer`` total equals the cumulative payouts, which equal the period's leaves. AVS B, per
    distribution, is paid leaf by leaf as before and never enters the cumulative root."""
    h = cumulative_harness
    report = run_standard_scenario(h, PAYOUT_MODES)
    h.cycle_until(lambda: all_delivered_and_paid(h, packets=PACKETS), timeout_s=90)
    (distribution_job,) = [r for r in jobs(h) if int(r.kind) == PacketKind.REWARD_DISTRIBUTION]
    grpc = h.service.parts.grpc
    served = grpc.packet(distribution_job.packet_nonce, grpc.relay_params())
    assert served is not None and not isinstance(served, PacketRejection)
    avs_a, avs_b = (Web3.to_checksum_address(avs) for avs in report.avss)
    assert isinstance(served.packet.payload, RewardDistributionPayload)
    assert Web3.to_checksum_address(served.packet.payload.avs) == avs_b  # the only distribution packet
    w3, gateway = gateway_contract(h)
    vault = w3.eth.contract(
        address=Web3.to_checksum_address(gateway.functions.REWARD_VAULT().call()),
        abi=load_artifact(ContractName.REWARD_VAULT).abi_list(),
    )
    (accepted,) = vault.events.CumulativeRootAccepted.get_logs(from_block=0)
    reward_token = Web3.to_checksum_address(h.stack.manifest["l1"]["contracts"]["reward_token"])
    leaves = list(grpc.cumulative_leaves(1))
    # Only AVS A's distribution accrued: every leaf is in its token, and the root funds only AVS A.
    assert leaves and {Web3.to_checksum_address(leaf.token) for leaf in leaves} == {reward_token}
    root_job = next(r for r in jobs(h) if int(r.kind) == PacketKind.CUMULATIVE_ROOT)
    root = grpc.packet(root_job.packet_nonce, grpc.relay_params())
    assert root is not None and not isinstance(root, PacketRejection)
    assert isinstance(root.packet.payload, CumulativeRootPayload)
    assert {Web3.to_checksum_address(e.avs) for e in root.packet.payload.entries} == {avs_a}
    h.service.stop()
    pushing = h.config.model_copy(
        update={"cumulative": CumulativeConfig(token_prices={reward_token.lower(): "1000"}, max_delay_s=0)}
    )
    service = RelayerService(pushing, signer=h.signer, engine=h.engine)
    restarted = replace(h, config=pushing, service=service)
    try:
        restarted.cycle_until(
            lambda: all(
                vault.functions.claimed(Web3.to_checksum_address(leaf.earner), reward_token).call()
                == leaf.cumulative
                for leaf in leaves
            ),
            timeout_s=90,
        )
        paid = vault.events.CumulativePaid.get_logs(from_block=0)
        restarted.cycle_until(lambda: len(_cumulative_payouts(h)) == len(paid), timeout_s=60)
    finally:
        service.stop()
    token = w3.eth.contract(address=reward_token, abi=load_artifact(ContractName.REWARD_TOKEN).abi_list())
    sources = {"0x" + "00" * 20, vault.address.lower(), gateway.address.lower()}
    moved = sum(
        int(t.args.value)
        for t in token.events.Transfer.get_logs(from_block=accepted.blockNumber)
        if str(t.args["from"]).lower() in sources
    )
    cumulative_paid = sum(int(p.args.amount) for p in paid if p.args.token == reward_token)
    assert moved == cumulative_paid == sum(int(leaf.cumulative) for leaf in leaves) > 0
    # The index: A's claim ended accrued, B's was paid; each AVS's payout mode is served.
    with TestClient(create_app(h.engine)) as api:
        claims = {c["avs"]: c["claim_id"] for c in report.claims}
        status_a = api.get(f"/v1/claims/{claims[report.avss[0]]}").json()["status"]
        page_a = api.get(f"/claims/{claims[report.avss[0]]}").text
        mode_a = api.get(f"/v1/avs/{avs_a.lower()}/funding").json()["payout_mode"]
        mode_b = api.get(f"/v1/avs/{avs_b.lower()}/funding").json()["payout_mode"]
        sources = api.get("/v1/reward-sources", params={"avs": avs_a.lower()}).json()["sources"]
    # AVS A's reward source: what accrued, was drawn for the root and paid is what L1 transferred.
    (source_a,) = sources
    assert (source_a["source_name"], source_a["payout_mode"]) == ("MINT", "cumulative")
    assert source_a["distributed"] == source_a["accrued"] == str(moved)
    assert source_a["drawn"] == source_a["paid"] == source_a["paid_cumulative"] == str(moved)
    assert status_a == "accrued"
    assert 'data-figure="accrued-note"' in page_a and "badge-accrued" in page_a
    assert (mode_a, mode_b) == ("cumulative", "per_distribution")
