"""Stakers and tokens per client chain, end to end on two anvils (chain ids 31337 and 31338).

Each chain's tokens are its own assets (``<token>_<chain id hex>``; the same token address is deployed
on both chains, so only the asset id tells them apart). Every stake is a real RestakingVault deposit
on its chain, which the devnet follows. One relayer serves both chains. A reward claim over stake on
both chains becomes one REWARD_DISTRIBUTION per chain, each with only its own chain's stakers' leaves,
delivered to its own gateway and paid there (each leaf minted to its staker on that chain only); a
slash of an operator with stake on both chains becomes one SLASH per chain, each moving only that
chain's share of the principal out of that chain's vault.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from fastapi.testclient import TestClient
from sqlalchemy import select
from web3 import Web3

from devnet import scenario as sc
from devnet.l1_stake import L1Stake, L1Staker
from devnet.stack import DevnetStack
from indexer.api.app import create_app
from relayer.config import ExorelayConfig
from relayer.l1.artifacts import ContractName, load_artifact
from relayer.protocol.ids import AssetId, asset_id
from relayer.protocol.kinds import PacketKind
from relayer.protocol.types import Address
from relayer.service import RelayerService
from storage.job_tables import JobStage, relay_job_table
from tests.support.database import fresh_database
from tests.support.relayer_harness import L1_BLOCK_TIME_S, SIGNER_ACCOUNT_INDEX

CHAIN_B_ID = 31338
ETHER = 10**18
CYCLE_TIMEOUT_S = 120.0
"""Generous: two pipelines share the thread, and two cores may be busy with other tests."""
CYCLE_PAUSE_S = 0.1
STAKE_WAIT_S = 60.0
SLASH_PROPORTION = 5 * 10**16  # 5 %: the AVS's cap (AvsRules default)


def _contract(chain: dict[str, Any], name: ContractName, key: str) -> Any:
    w3 = Web3(Web3.HTTPProvider(chain["rpc_url"]))
    return w3.eth.contract(
        address=Web3.to_checksum_address(chain["contracts"][key]), abi=load_artifact(name).abi_list()
    )


def _address(text: str) -> Address:
    return Address(bytes.fromhex(text.removeprefix("0x")))


@pytest.fixture
def stack_and_relayer(tmp_path: Path) -> Iterator[tuple[DevnetStack, RelayerService]]:
    with (
        DevnetStack(
            tmp_path / "chains",
            exocore_block_time_s=None,
            l1_block_time_s=L1_BLOCK_TIME_S,
            other_chain_ids=(CHAIN_B_ID,),
        ) as stack,
        fresh_database(tmp_path) as engine,
    ):
        assert stack.anvil is not None
        url = str(engine.url.render_as_string(hide_password=False))
        settings = stack.relayer_settings(url)
        settings["client_chains"] = [settings.pop("l1"), stack.relayer_settings(url, chain=1)["l1"]]
        signer = Account.from_key(stack.anvil.dev_accounts()[SIGNER_ACCOUNT_INDEX].private_key)
        service = RelayerService(ExorelayConfig.model_validate(settings), signer=signer, engine=engine)
        try:
            yield stack, service
        finally:
            service.stop()


def _deliver_all(service: RelayerService, count: int) -> list[Any]:
    engine = service.parts.engine
    deadline = time.monotonic() + CYCLE_TIMEOUT_S
    while True:
        with engine.begin() as conn:
            rows = list(conn.execute(select(relay_job_table).order_by(relay_job_table.c.packet_nonce)))
        if len(rows) >= count and all(r.stage == JobStage.DELIVERED for r in rows):
            return rows
        assert time.monotonic() < deadline, (
            f"not delivered: {[(r.kind, r.stage, r.retry_reason) for r in rows]}"
        )
        service.cycle()
        time.sleep(CYCLE_PAUSE_S)


def test_each_chain_is_paid_and_slashed_only_for_its_own_stake(
    stack_and_relayer: tuple[DevnetStack, RelayerService],
) -> None:
    stack, service = stack_and_relayer
    chain_a, chain_b = stack.manifest["l1"], stack.manifest["client_chains"][0]
    weth, reward_token = chain_a["contracts"]["weth"], chain_a["contracts"]["reward_token"]
    assert (chain_b["contracts"]["weth"], chain_b["contracts"]["reward_token"]) == (weth, reward_token)
    weth_a = asset_id(_address(weth), chain_a["chain_id"])
    weth_b = asset_id(_address(weth), CHAIN_B_ID)
    for chain in service.parts.chains:
        chain.pipeline.relay_params()
    with sc.ScenarioClient.for_manifest(
        stack.manifest["exocore"], manifest_keystores=False, sign_reports=False, l1=chain_a
    ) as client:
        seed = client.seed
        operators = client.register_operators(2, ["0.1"])
        rules = sc.AvsRules(
            address="0x" + "5a" * 20,
            name="two-chain-avs",
            asset_ids=(weth_a, weth_b),
            reward_tokens=((reward_token, 1),),
            committee_size=2,
        )
        client.register_avs(rules)
        for index in range(2):
            client.opt_in(index, rules.address)
        # Chain A: staker 1 on operator 0. Chain B: staker 2 on operator 0, staker 3 on operator 1.
        client.delegate_many([(sc.staker_address(seed, 1), weth_a, operators[0], 3 * ETHER)])
        last_b = L1Staker.for_manifest(chain_b).delegate(
            [
                L1Stake(sc.staker_address(seed, 2), operators[0].address, AssetId.parse(weth_b).token, ETHER),
                L1Stake(
                    sc.staker_address(seed, 3), operators[1].address, AssetId.parse(weth_b).token, 4 * ETHER
                ),
            ]
        )
        deadline = time.monotonic() + STAKE_WAIT_S
        while client.asset_custody(weth_b).l1_requests_applied < last_b:
            assert time.monotonic() < deadline, "Exocore did not apply chain B's deposits"
            time.sleep(0.2)
        # Chain B's request ids 1 and 2 are its own: chain A's request 1 did not shadow them.
        assert client.asset_custody(weth_a).l1_requests_applied == 1
        epoch_blocks = int(stack.manifest["exocore"]["epoch_blocks"])
        height = client.advance(1)
        client.advance(epoch_blocks)
        committee = client.wait_for_committee(rules.address, (height - 1) // epoch_blocks + 2)
        claim = client.claim(committee, range(len(committee.pubkeys)), reward_token, 10**21)
        client.slash(committee, committee.operators.index(str(operators[0])), SLASH_PROPORTION)
        client.advance(1)

    state = stack.devnet.node.state if stack.devnet is not None else None
    assert state is not None
    distributions = [d for d in state.distributions.values() if d.claim_id == claim.claim_id]
    on_a, on_b = sorted(distributions, key=lambda d: d.nonce)
    assert sc.staker_address(seed, 1) in on_a.stakers
    assert set(on_a.stakers).isdisjoint({sc.staker_address(seed, 2), sc.staker_address(seed, 3)})
    assert set(on_b.stakers) == {sc.staker_address(seed, 2), sc.staker_address(seed, 3)}
    [slash] = state.slashes.values()

    rows = _deliver_all(service, 4)  # two distributions, two slashes
    assert sorted(r.l1_chain_id for r in rows) == sorted([chain_a["chain_id"], CHAIN_B_ID] * 2)
    gateways = {
        chain["chain_id"]: _contract(chain, ContractName.EXOCORE_GATEWAY, "gateway")
        for chain in (chain_a, chain_b)
    }
    for record, chain_id in ((on_a, chain_a["chain_id"]), (on_b, CHAIN_B_ID)):
        gateway = gateways[chain_id]
        assert gateway.functions.nonceUsed(record.nonce).call()
        root, token, leaf_count, *_rest, total, _paid = gateway.functions.distribution(
            record.distribution_id
        ).call()
        assert (root, leaf_count, total) == (record.merkle_root, len(record.stakers), sum(record.amounts))
        assert Web3.to_checksum_address(token) == Web3.to_checksum_address(reward_token)
    # Paid: each chain's gateway mints each of its own leaves to its staker, and nothing to the others.
    tokens = {
        chain["chain_id"]: _contract(chain, ContractName.REWARD_TOKEN, "reward_token")
        for chain in (chain_a, chain_b)
    }
    expected = {
        (chain_id, Web3.to_checksum_address("0x" + staker.hex())): amount
        for record, chain_id in ((on_a, chain_a["chain_id"]), (on_b, CHAIN_B_ID))
        for staker, amount in zip(record.stakers, record.amounts, strict=True)
    }
    wanted = {
        (chain_id, Web3.to_checksum_address("0x" + sc.staker_address(seed, i).hex()))
        for i in (1, 2, 3)
        for chain_id in tokens
    } | {(c, a) for _, a in expected for c in tokens}

    def balances() -> dict[tuple[int, str], int]:
        return {(c, a): int(tokens[c].functions.balanceOf(a).call()) for c, a in wanted}

    deadline = time.monotonic() + CYCLE_TIMEOUT_S
    while balances() != {key: expected.get(key, 0) for key in wanted}:
        assert time.monotonic() < deadline, f"payouts: {balances()} != {expected}"
        service.cycle()
        time.sleep(CYCLE_PAUSE_S)
    # The slash: 5 % of operator 0's stake on each chain leaves that chain's vault, and both freeze it.
    for chain, staked in ((chain_a, 3 * ETHER), (chain_b, ETHER)):
        vault = _contract(chain, ContractName.RESTAKING_VAULT, "restaking_vault")
        assert vault.functions.operatorFrozen(
            Web3.to_checksum_address("0x" + operators[0].address.hex())
        ).call()
        sink = Web3(Web3.HTTPProvider(chain["rpc_url"])).eth.contract(
            address=Web3.to_checksum_address(weth), abi=load_artifact(ContractName.WRAPPED_ETHER).abi_list()
        )
        assert sink.functions.balanceOf(Web3.to_checksum_address(chain["slashing_sink"])).call() == (
            staked * SLASH_PROPORTION // 10**18
        )
    assert slash.packet_nonce == min(r.packet_nonce for r in rows if r.kind == int(PacketKind.SLASH))

    # The indexer follows the claim through both chains' distributions: paid once both are, its
    # answer lists each with its chain, its timeline holds both chains' roots.
    claim_id = "0x" + claim.claim_id.hex()
    with TestClient(create_app(service.parts.engine)) as api:

        def answer() -> Any:
            return api.get(f"/v1/claims/{claim_id}").json()

        deadline = time.monotonic() + CYCLE_TIMEOUT_S
        while answer().get("status") != "paid":
            assert time.monotonic() < deadline, f"claim not indexed as paid: {answer()}"
            service.cycle()
            time.sleep(CYCLE_PAUSE_S)
        found = answer()
    listed = [(d["chain_id"], d["status"]) for d in found["distributions"]]
    assert listed == [(chain_a["chain_id"], "paid"), (CHAIN_B_ID, "paid")]
    roots = {d["root_on_l1"]["tx_hash"] for d in found["distributions"]}
    assert roots <= {t["entity_id"] for t in found["timeline"] if t["entity_kind"] == "l1_tx"}
