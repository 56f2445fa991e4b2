"""The standard scenario stakes through L1: every stake is a RestakingVault deposit that the devnet's
follower turns into Exocore stake, so the vault's custody equals Exocore's stake per token (and a
devnet-only delegation is refused on a devnet that follows a vault)."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from devnet import scenario as sc
from devnet.stack import DevnetStack
from tests.support.custody_invariant import assert_custody_matches

OPERATORS = 3
STAKERS = 5


def test_the_standard_scenario_stakes_through_the_l1_vault(tmp_path: Path) -> None:
    with (
        DevnetStack(tmp_path / "chains", exocore_block_time_s=None) as stack,
        sc.ScenarioClient.for_manifest(stack.manifest["exocore"]) as client,
    ):
        report = sc.run_manifest_scenario(client, stack.manifest, operators=OPERATORS, stakers=STAKERS)
        assert report.stakers == STAKERS
        contracts = stack.manifest["l1"]["contracts"]
        weth_asset, _ = sc.scenario_asset_ids(
            contracts["weth"], contracts["reward_token"], int(stack.manifest["exocore"]["lz_chain_id"])
        )
        # One L1 request per staker and one self-delegation per operator, all applied.
        assert client.asset_custody(weth_asset).l1_requests_applied == STAKERS + OPERATORS
        sides = assert_custody_matches(stack.manifest)
        # Stakers 0, 2, 4 stake WETH (1, 3, 5 ether) and the operators 0.1 + 0.2 + 0.3; 1, 3 the token.
        assert sides[contracts["weth"].lower()][0] == (1 + 3 + 5) * 10**18 + 6 * 10**17
        assert sides[contracts["reward_token"].lower()][0] == (2 + 4) * 10**18
        # Stake with no custody behind it is refused on a devnet that follows a vault.
        staker = sc.staker_address(client.seed, 0)
        operator = sc.operator_account(client.seed, 0)
        with pytest.raises(grpc.RpcError, match="L1"):
            client.send(sc.delegate_msg(staker, weth_asset, operator, 10**18))
