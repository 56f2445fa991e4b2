"""Cumulative payouts per client chain, end to end on two anvils (chain ids 31337 and 31338).

A cumulative AVS has stakers on both chains. One claim accrues each chain's part in that chain's
ledger, and each chain's period 1 closes into its own CUMULATIVE_ROOT, addressed to that chain: one
root per chain, each delivered to its own gateway and holding only its own chain's earners. Chain A's
root resubmitted to chain B's gateway reverts (the digest binds the chain). ``exorelay claim``
claims on the chain it is told (or each configured one) against that chain's vault; the relayer's
push stage then pushes each chain's remaining balances on that chain, with per-chain clocks, and the
indexer keys every cumulative row by its chain.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from typer.testing import CliRunner
from web3 import Web3
from web3.exceptions import ContractLogicError
from web3.types import RPCEndpoint

from devnet import scenario as sc
from devnet.l1_stake import L1Stake, L1Staker
from devnet.stack import DevnetStack
from indexer.api.app import create_app
from relayer import cli
from relayer.config import CumulativeConfig, ExorelayConfig
from relayer.l1.artifacts import ContractName, load_artifact
from relayer.protocol.cumulative import CumulativeTree
from relayer.protocol.ids import AssetId, asset_id
from relayer.protocol.kinds import PacketKind, PayoutMode
from relayer.protocol.types import Address
from relayer.service import RelayerService
from storage.job_tables import JobStage, cumulative_push_state_table, relay_job_table
from storage.l1_tables import tx_intent_table
from storage.models import cumulative_leaf_table, cumulative_payout_table, cumulative_root_table
from tests.support.database import fresh_database
from tests.support.relayer_harness import L1_BLOCK_TIME_S, SIGNER_ACCOUNT_INDEX

CHAIN_B_ID = 31338
ETHER = 10**18
CYCLE_TIMEOUT_S = 180.0
"""Generous: two pipelines share the thread, and two cores may be busy with other tests."""
CYCLE_PAUSE_S = 0.1
STAKE_WAIT_S = 60.0
CLAIM_AMOUNT = 10**21


@dataclass
class TwoChains:
    stack: DevnetStack
    engine: Engine
    config: ExorelayConfig
    signer: LocalAccount
    service: RelayerService


@pytest.fixture
def two_chains(tmp_path: Path) -> Iterator[TwoChains]:
    with (
        DevnetStack(
            tmp_path / "chains",
            exocore_block_time_s=None,
            l1_block_time_s=L1_BLOCK_TIME_S,
            other_chain_ids=(CHAIN_B_ID,),
            cumulative_every=1,
        ) as stack,
        fresh_database(tmp_path) as engine,
    ):
        assert stack.anvil is not None
        url = str(engine.url.render_as_string(hide_password=False))
        settings = stack.relayer_settings(url)
        settings["client_chains"] = [settings.pop("l1"), stack.relayer_settings(url, chain=1)["l1"]]
        config = ExorelayConfig.model_validate(settings)
        signer = Account.from_key(stack.anvil.dev_accounts()[SIGNER_ACCOUNT_INDEX].private_key)
        world = TwoChains(stack, engine, config, signer, RelayerService(config, signer=signer, engine=engine))
        try:
            yield world
        finally:
            world.service.stop()


def _w3(chain: dict[str, Any]) -> Web3:
    return Web3(Web3.HTTPProvider(chain["rpc_url"]))


def _vault(chain: dict[str, Any]) -> Any:
    w3 = _w3(chain)
    gateway = w3.eth.contract(
        address=Web3.to_checksum_address(chain["contracts"]["gateway"]),
        abi=load_artifact(ContractName.EXOCORE_GATEWAY).abi_list(),
    )
    return w3.eth.contract(
        address=Web3.to_checksum_address(gateway.functions.REWARD_VAULT().call()),
        abi=load_artifact(ContractName.REWARD_VAULT).abi_list(),
    )


def _cycle_until(service: RelayerService, done: Any, what: str) -> None:
    deadline = time.monotonic() + CYCLE_TIMEOUT_S
    while not done():
        assert time.monotonic() < deadline, f"not done: {what}\n{_intents(service.parts.engine)}"
        service.cycle()
        time.sleep(CYCLE_PAUSE_S)


def _intents(engine: Engine) -> str:
    """The transaction intents, for a failure message."""
    t = tx_intent_table
    with engine.begin() as conn:
        rows = conn.execute(
            select(t.c.chain_id, t.c.key, t.c.state, t.c.reason_code, t.c.reason).order_by(t.c.id)
        )
        return "\n".join(f"{r.chain_id} {r.key} {r.state} {r.reason_code}: {r.reason}" for r in rows)


def _delivered(engine: Engine, count: int) -> list[Any]:
    with engine.begin() as conn:
        rows = list(conn.execute(select(relay_job_table).order_by(relay_job_table.c.packet_nonce)))
    return rows if len(rows) >= count and all(r.stage == JobStage.DELIVERED for r in rows) else []


def _cli_config(path: Path, w: TwoChains) -> Path:
    """A staker's own config naming both client chains (no keystore: it prints for a wallet)."""
    lines = [
        "[exocore]",
        f'chain_id = "{w.config.exocore.chain_id}"',
        f"grpc_endpoints = {json.dumps(list(w.config.exocore.grpc_endpoints))}",
    ]
    for chain in w.config.chains:
        lines += [
            "[[client_chains]]",
            f"chain_id = {chain.chain_id}",
            f"rpc_urls = {json.dumps([str(u) for u in chain.rpc_urls])}",
            f'gateway_address = "{chain.gateway_address}"',
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def _send_as(w3: Web3, sender: str, tx: dict[str, Any]) -> None:
    """Send a printed claim from the earner (impersonated: the scenario's stakers hold no key)."""
    w3.provider.make_request(RPCEndpoint("anvil_impersonateAccount"), [sender])
    w3.provider.make_request(RPCEndpoint("anvil_setBalance"), [sender, hex(ETHER)])
    sent = w3.eth.send_transaction(
        {"from": sender, "to": Web3.to_checksum_address(tx["to"]), "data": tx["data"]}
    )
    assert w3.eth.wait_for_transaction_receipt(sent)["status"] == 1


def test_each_client_chain_gets_its_own_cumulative_root_claimed_and_pushed_there(
    two_chains: TwoChains, tmp_path: Path
) -> None:
    w = two_chains
    stack = w.stack
    chain_a, chain_b = stack.manifest["l1"], stack.manifest["client_chains"][0]
    a_id = int(chain_a["chain_id"])
    weth, reward_token = chain_a["contracts"]["weth"], chain_a["contracts"]["reward_token"]
    weth_a = asset_id(Address(bytes.fromhex(weth[2:])), a_id)
    weth_b = asset_id(Address(bytes.fromhex(weth[2:])), CHAIN_B_ID)
    for parts in w.service.parts.chains:
        parts.pipeline.relay_params()
    with sc.ScenarioClient.for_manifest(
        stack.manifest["exocore"], manifest_keystores=False, sign_reports=False, l1=chain_a
    ) as client:
        seed = client.seed
        operators = client.register_operators(2, ["0.1"])
        rules = sc.AvsRules(
            address="0x" + "5c" * 20,
            name="two-chain-cumulative-avs",
            asset_ids=(weth_a, weth_b),
            reward_tokens=((reward_token, 1),),  # MINT: each chain's vault mints what it pays
            committee_size=2,
            payout_mode=PayoutMode.CUMULATIVE,
        )
        client.register_avs(rules)
        for index in range(2):
            client.opt_in(index, rules.address)
        # Chain A: staker 1 on operator 0. Chain B: staker 2 on operator 0, staker 3 on operator 1.
        client.delegate_many([(sc.staker_address(seed, 1), weth_a, operators[0], 3 * ETHER)])
        token_b = AssetId.parse(weth_b).token
        last_b = L1Staker.for_manifest(chain_b).delegate(
            [
                L1Stake(sc.staker_address(seed, 2), operators[0].address, token_b, ETHER),
                L1Stake(sc.staker_address(seed, 3), operators[1].address, token_b, 4 * ETHER),
            ]
        )
        deadline = time.monotonic() + STAKE_WAIT_S
        while client.asset_custody(weth_b).l1_requests_applied < last_b:
            assert time.monotonic() < deadline, "Exocore did not apply chain B's deposits"
            time.sleep(0.2)
        epoch_blocks = int(stack.manifest["exocore"]["epoch_blocks"])
        height = client.advance(1)
        client.advance(epoch_blocks)
        committee = client.wait_for_committee(rules.address, (height - 1) // epoch_blocks + 2)
        client.claim(committee, range(len(committee.pubkeys)), reward_token, CLAIM_AMOUNT)
        client.advance(1)

    # One root per client chain, each its chain's period 1, with only its own chain's earners.
    grpc = w.service.parts.grpc
    trees = {
        chain: CumulativeTree.build(grpc.cumulative_leaves(1, l1_chain_id=chain))
        for chain in (a_id, CHAIN_B_ID)
    }
    earners = {chain: {leaf.earner for leaf in tree.leaves} for chain, tree in trees.items()}
    assert earners[CHAIN_B_ID] == {sc.staker_address(seed, 2), sc.staker_address(seed, 3)}
    assert sc.staker_address(seed, 1) in earners[a_id] and earners[a_id].isdisjoint(earners[CHAIN_B_ID])
    _cycle_until(w.service, lambda: bool(_delivered(w.engine, 2)), "both roots delivered")
    rows = _delivered(w.engine, 2)
    assert [int(r.kind) for r in rows] == [int(PacketKind.CUMULATIVE_ROOT)] * 2
    assert sorted(r.l1_chain_id for r in rows) == [a_id, CHAIN_B_ID]
    nonce_of = {int(r.l1_chain_id): int(r.packet_nonce) for r in rows}
    vaults = {a_id: _vault(chain_a), CHAIN_B_ID: _vault(chain_b)}
    for chain, vault in vaults.items():
        assert vault.functions.latestPeriod().call() == 1
        assert vault.functions.cumulativeRoot(1).call() == trees[chain].root

    # Chain A's root, resubmitted verbatim to chain B's gateway (same address on both), reverts.
    with w.engine.begin() as conn:
        calldata = conn.execute(
            select(tx_intent_table.c.calldata).where(tx_intent_table.c.packet_nonce == nonce_of[a_id])
        ).scalar_one()
    w3_b = _w3(chain_b)
    gateway_b = w3_b.eth.contract(
        address=Web3.to_checksum_address(chain_b["contracts"]["gateway"]),
        abi=load_artifact(ContractName.EXOCORE_GATEWAY).abi_list(),
    )
    assert gateway_b.address == Web3.to_checksum_address(chain_a["contracts"]["gateway"])
    with pytest.raises(ContractLogicError):
        w3_b.eth.call({"to": gateway_b.address, "data": calldata, "from": w.signer.address})
    assert not gateway_b.functions.nonceUsed(nonce_of[a_id]).call()

    # exorelay claim on the chain it is told: staker 1 claims on A, against A's vault.
    config_path = _cli_config(tmp_path / "staker.toml", w)
    staker_1 = Web3.to_checksum_address("0x" + sc.staker_address(seed, 1).hex())
    printed = CliRunner().invoke(
        cli.app, ["claim", staker_1, "--no-leaves", "--chain-id", str(a_id), "--config", str(config_path)]
    )
    assert printed.exit_code == 0, printed.output
    claim_a = json.loads(printed.stdout)
    assert [tx["chain_id"] for tx in claim_a["cumulative"]] == [a_id]
    assert claim_a["to"].lower() == vaults[a_id].address.lower() and claim_a["period"] == 1
    _send_as(_w3(chain_a), staker_1, claim_a)
    token = Web3.to_checksum_address(reward_token)
    token_address = Address(bytes.fromhex(reward_token[2:]))
    leaf_1 = trees[a_id].leaf(sc.staker_address(seed, 1), token_address)
    assert vaults[a_id].functions.claimed(staker_1, token).call() == leaf_1.cumulative
    # Without --chain-id, each configured chain: staker 2 has a leaf on B only, so its claim is B's.
    staker_2 = Web3.to_checksum_address("0x" + sc.staker_address(seed, 2).hex())
    each = CliRunner().invoke(cli.app, ["claim", staker_2, "--no-leaves", "--config", str(config_path)])
    assert each.exit_code == 0, each.output
    claim_b = json.loads(each.stdout)
    assert [tx["chain_id"] for tx in claim_b["cumulative"]] == [CHAIN_B_ID]
    assert claim_b["to"].lower() == vaults[CHAIN_B_ID].address.lower()

    # The relayer restarted with a policy that pushes every reward-token balance at once: each
    # chain's pipeline pushes its own chain's remaining earners on its own vault.
    w.service.stop()
    pushing = w.config.model_copy(
        update={"cumulative": CumulativeConfig(token_prices={reward_token.lower(): "1000"}, max_delay_s=0)}
    )
    w.service = RelayerService(pushing, signer=w.signer, engine=w.engine)

    def all_paid() -> bool:
        return all(
            vaults[chain].functions.claimed(Web3.to_checksum_address("0x" + leaf.earner.hex()), token).call()
            == leaf.cumulative
            for chain, tree in trees.items()
            for leaf in tree.leaves
        )

    _cycle_until(w.service, all_paid, "every earner paid on its own chain")
    paid_logs = {chain: vault.events.CumulativePaid.get_logs(from_block=0) for chain, vault in vaults.items()}
    # Staker 1 claimed itself on A: the push skipped it (paid once, by the earner).
    mine = [log for log in paid_logs[a_id] if log.args.earner == staker_1]
    assert [(log.args.amount, log.args.byEarner) for log in mine] == [(leaf_1.cumulative, True)]
    assert {log.args.earner for log in paid_logs[CHAIN_B_ID]} == {
        Web3.to_checksum_address("0x" + e.hex()) for e in earners[CHAIN_B_ID]
    }

    # The index keys every cumulative row by its chain; the push clocks of paid balances are gone.
    def indexed() -> bool:
        with w.engine.begin() as conn:
            count = len(list(conn.execute(select(cumulative_payout_table.c.id))))
        return count == sum(len(logs) for logs in paid_logs.values())

    _cycle_until(w.service, indexed, "payouts indexed")
    with w.engine.begin() as conn:
        payouts = list(conn.execute(select(cumulative_payout_table)))
        leaf_chains = {int(r.l1_chain_id) for r in conn.execute(select(cumulative_leaf_table.c.l1_chain_id))}
        roots = {(int(r.l1_chain_id), int(r.period)) for r in conn.execute(select(cumulative_root_table))}
    assert leaf_chains == {a_id, CHAIN_B_ID} and roots == {(a_id, 1), (CHAIN_B_ID, 1)}
    for chain in (a_id, CHAIN_B_ID):
        on_chain = [p for p in payouts if p.l1_chain_id == chain]
        assert sum(int(p.amount) for p in on_chain) == trees[chain].totals[token_address]
    _cycle_until(w.service, lambda: _clocks(w.engine) == set(), "push clocks cleared")
    # The API answers per chain: staker 2 earned on B only, and was paid all of it there.
    with TestClient(create_app(w.engine)) as api:
        view = api.get(f"/v1/stakers/{staker_2}/cumulative", params={"chain_id": CHAIN_B_ID}).json()
        none_on_a = api.get(f"/v1/stakers/{staker_2}/cumulative", params={"chain_id": a_id}).json()
    (row,) = view["tokens"]
    leaf_2 = trees[CHAIN_B_ID].leaf(sc.staker_address(seed, 2), token_address)
    assert (row["earned"], row["claimable"]) == (str(leaf_2.cumulative), "0")
    assert none_on_a["tokens"] == []


def _clocks(engine: Engine) -> set[tuple[int, str, str]]:
    with engine.begin() as conn:
        return {
            (int(r.l1_chain_id), r.earner, r.token) for r in conn.execute(select(cumulative_push_state_table))
        }
