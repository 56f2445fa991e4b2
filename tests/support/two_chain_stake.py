"""A reward claim and a slash over stake on two client chains, staked through each chain's L1 vault.

One AVS accepts WETH of both chains (two assets: ``<weth>_<chain id hex>``); stakers deposit into the
RestakingVault of their own chain (the devnet follows both vaults), every operator has stakers on
both chains. One reward claim then becomes one REWARD_DISTRIBUTION per chain, each with only that
chain's stakers' leaves; one slash of operator 0 becomes one SLASH per chain. The reward token is the
MINT-funded one (the gateway mints it), so nothing has to be deposited before the payouts.
Used by the two-chain e2e test and bench/two_chains.py.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Final

from devnet import scenario as sc
from devnet.l1_stake import L1Stake, L1Staker
from devnet.stack import DevnetStack
from relayer.protocol.ids import AssetId, asset_id
from relayer.protocol.types import Address

CHAIN_B_ID: Final = 31338
"""The second client chain: anvil's default id (31337) plus one."""
STAKE_WAIT_S: Final = 300.0
"""Longest Exocore may take to apply one chain's deposits (its follower polls the vault; a busy
machine and ~1k deposits)."""
SLASH_PROPORTION: Final = 5 * 10**16
"""5 %: the AVS's cap (``AvsRules`` default)."""
REWARD_AMOUNT: Final = 10**21
AVS_ADDRESS: Final = "0x" + "5b" * 20
STAKE_WEI: Final = 10**18


@dataclass(frozen=True)
class TwoChainClaim:
    claim_id: bytes
    stakers: dict[int, int]
    """Chain id -> stakers delegating on that chain."""


def chains(stack: DevnetStack) -> tuple[dict[str, Any], dict[str, Any]]:
    """The manifest's two client chains (``l1`` and ``client_chains[0]``)."""
    return stack.manifest["l1"], stack.manifest["client_chains"][0]


def two_chain_settings(stack: DevnetStack, database_url: str) -> dict[str, Any]:
    """Config sections for a relayer serving both chains (``[[client_chains]]``)."""
    settings = stack.relayer_settings(database_url)
    settings["client_chains"] = [settings.pop("l1"), stack.relayer_settings(database_url, chain=1)["l1"]]
    return settings


def _address(text: str) -> Address:
    return Address(bytes.fromhex(text.removeprefix("0x")))


def _wait_applied(client: sc.ScenarioClient, asset: str, last_request: int) -> None:
    deadline = time.monotonic() + STAKE_WAIT_S
    while client.asset_custody(asset).l1_requests_applied < last_request:
        if time.monotonic() > deadline:
            raise AssertionError(f"Exocore did not apply {asset}'s L1 requests up to {last_request}")
        time.sleep(0.2)


def stake_claim_and_slash(stack: DevnetStack, *, stakers_per_chain: int, operators: int) -> TwoChainClaim:
    """Register the AVS and ``operators`` operators, stake ``stakers_per_chain`` stakers on each chain
    (round robin over the operators), wait for the committee, then submit one reward claim (signed by
    the whole committee) and one slash of committee member 0. Returns once both are on Exocore."""
    chain_a, chain_b = chains(stack)
    weth = chain_a["contracts"]["weth"]
    reward_token = chain_a["contracts"]["reward_token"]
    weth_a = asset_id(_address(weth), int(chain_a["chain_id"]))
    weth_b = asset_id(_address(weth), int(chain_b["chain_id"]))
    with sc.ScenarioClient.for_manifest(
        stack.manifest["exocore"], manifest_keystores=False, l1=chain_a
    ) as client:
        seed = client.seed
        accounts = client.register_operators(operators, ["0.1"])
        rules = sc.AvsRules(
            address=AVS_ADDRESS,
            name="two-chain-avs",
            asset_ids=(str(weth_a), str(weth_b)),
            reward_tokens=((reward_token, 1),),
            committee_size=operators,
        )
        client.register_avs(rules)
        for index in range(operators):
            client.opt_in(index, rules.address)
        stakes_a = [
            (sc.staker_address(seed, i), str(weth_a), accounts[i % operators], (i % 5 + 1) * STAKE_WEI)
            for i in range(stakers_per_chain)
        ]
        client.delegate_many(stakes_a)
        last_b = L1Staker.for_manifest(chain_b).delegate(
            [
                L1Stake(
                    sc.staker_address(seed, stakers_per_chain + i),
                    accounts[i % operators].address,
                    AssetId.parse(str(weth_b)).token,
                    (i % 5 + 1) * STAKE_WEI,
                )
                for i in range(stakers_per_chain)
            ]
        )
        _wait_applied(client, str(weth_b), last_b)
        epoch_blocks = int(stack.manifest["exocore"]["epoch_blocks"])
        height = client.advance(1)
        client.advance(epoch_blocks)
        committee = client.wait_for_committee(rules.address, (height - 1) // epoch_blocks + 2)
        claim = client.claim(committee, range(len(committee.pubkeys)), reward_token, REWARD_AMOUNT)
        client.slash(committee, 0, SLASH_PROPORTION)
        client.advance(1)
    per_chain = {int(chain["chain_id"]): stakers_per_chain for chain in (chain_a, chain_b)}
    return TwoChainClaim(claim.claim_id, per_chain)
