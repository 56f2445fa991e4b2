"""The in-process stack with a second client chain: that chain's RewardVault fee deposits reach
Exocore's FEES source too (a FEES distribution pays that chain's stakers out of that chain's vault,
so its deposits must count), and the stack deposits on the chain it is told."""

from __future__ import annotations

import time
from pathlib import Path

from web3 import Web3

from devnet.l1_deploy import contract_at
from devnet.stack import DevnetStack
from relayer.l1.artifacts import ContractName
from relayer.protocol.types import Address

SECOND_CHAIN_ID = 31338
AVS = "0x" + "5e" * 20
DEPOSIT_WEI = 3 * 10**18
FOLLOW_TIMEOUT_S = 60.0
"""The follower reads a chain one block deep every 0.5 s: seconds, with margin for a loaded machine."""
POLL_S = 0.2


def test_fee_deposits_on_a_second_client_chain_fund_the_avs_on_exocore(tmp_path: Path) -> None:
    with DevnetStack(
        tmp_path / "chains", exocore_block_time_s=0.2, l1_block_time_s=0.5, other_chain_ids=(SECOND_CHAIN_ID,)
    ) as stack:
        entry, anvil = stack.client_chain(1)
        assert entry["chain_id"] == SECOND_CHAIN_ID
        stack.deposit_fees_eth(AVS, DEPOSIT_WEI, chain=1)
        w3 = Web3(Web3.HTTPProvider(anvil.rpc_url))
        contracts = entry["contracts"]
        vault = contract_at(w3, ContractName.REWARD_VAULT, contracts["reward_vault"])
        weth = Web3.to_checksum_address(contracts["weth"])
        # Deposited on chain B only: the first chain's vault holds nothing for the AVS.
        assert vault.functions.feeBalanceOf(Web3.to_checksum_address(AVS), weth).call() == DEPOSIT_WEI
        first = stack.manifest["l1"]["contracts"]
        first_vault = contract_at(
            Web3(Web3.HTTPProvider(stack.manifest["l1"]["rpc_url"])),
            ContractName.REWARD_VAULT,
            first["reward_vault"],
        )
        assert first_vault.functions.feeBalanceOf(Web3.to_checksum_address(AVS), weth).call() == 0
        assert stack.devnet is not None
        node = stack.devnet.node
        key = (Address(bytes.fromhex(AVS[2:])), Address(bytes.fromhex(contracts["weth"][2:])))
        deadline = time.monotonic() + FOLLOW_TIMEOUT_S
        while True:
            with node.lock:
                funded = node.state.fees_available(*key, SECOND_CHAIN_ID)
            if funded == DEPOSIT_WEI:
                break
            assert time.monotonic() < deadline, f"Exocore's FEES source holds {funded}, not {DEPOSIT_WEI}"
            time.sleep(POLL_S)
