"""Regression (found by the system-level reorg test, tests/e2e/test_faults.py): an L1 reorg that
lands inside one tx-manager tick, between its read of the sender's nonce and its receipt look-ups.

Two payout-like intents are mined in one block; the block is orphaned right before the manager asks
for the second one's receipt. The manager read the nonce while both were mined (n+2), so with the
receipt gone it concludes "nonce n+1 was consumed by another transaction", re-signs that intent at
n+2 and leaves n+1 empty: the chain never mines anything of this sender again. Real anvil, real
TxManager, real database; only the moment of the reorg is chosen by the test.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Final

from eth_account import Account
from web3 import Web3

from devnet.anvil import AnvilConfig, AnvilNode
from devnet.l1_deploy import deploy_l1
from relayer.config import FinalityMode
from relayer.l1.client import L1Client, Receipt
from relayer.l1.txmanager import TxManager, TxSettings
from storage import migrate
from storage.db import create_db_engine
from storage.store import LifecycleStore
from tests.e2e.relayer_process import process_database
from tests.support.l1_contracts import EXOCORE_CHAIN, ValidatorSet

SIGNER_ACCOUNT: Final = 5
RECIPIENT_ACCOUNT: Final = 6
CONFIRMATIONS: Final = 3
"""The orphaned block is one deep: well inside the finality window, a reorg the manager must absorb."""
SETTLE_TICKS: Final = 12
FEE_BUMP_AFTER_S: Final = 0.3
"""The orphaned transactions left anvil's pool with the reverted block: a pending intent gets back
into a block by its fee bump, so the test bumps quickly (it ticks every FEE_BUMP_AFTER_S)."""


class ReorgBeforeReceipt(L1Client):
    """Reverts the chain to ``fork_point`` right before the receipt of ``target`` is read."""

    node: AnvilNode
    target: str | None = None
    fork_point: str | None = None

    def get_receipt(self, tx_hash: str) -> Receipt | None:
        if self.target is not None and self.fork_point is not None and tx_hash.lower() == self.target.lower():
            self.node.revert(self.fork_point)
            self.target = None
        return super().get_receipt(tx_hash)


def test_a_reorg_between_the_nonce_read_and_a_receipt_read_strands_no_intent(tmp_path: Path) -> None:
    with AnvilNode(AnvilConfig(accounts=8)) as node, process_database(tmp_path) as url:
        w3 = Web3(Web3.HTTPProvider(node.rpc_url))
        accounts = node.dev_accounts()
        deployment = deploy_l1(
            w3, accounts[0].private_key, ValidatorSet.generate(4, nonce=1, seed=1).genesis(), EXOCORE_CHAIN
        )
        engine = create_db_engine(url)
        migrate.upgrade(engine)
        client = ReorgBeforeReceipt([node.rpc_url], chain_id=deployment.chain_id, timeout_s=10)
        client.node = node
        signer = Account.from_key(accounts[SIGNER_ACCOUNT].private_key)
        settings = TxSettings(
            finality=FinalityMode.CONFIRMATIONS,
            confirmations=CONFIRMATIONS,
            fee_bump_after_s=FEE_BUMP_AFTER_S,
            max_fee_multiplier=3.0,
        )
        manager = TxManager(engine, client, signer, settings, store=LifecycleStore(engine))
        try:
            node.rpc("evm_setAutomine", [False])
            first_nonce = w3.eth.get_transaction_count(signer.address)
            with engine.begin() as conn:
                ids = [
                    manager.enqueue(
                        conn,
                        key=f"other:{i}",
                        purpose="other",
                        to=accounts[RECIPIENT_ACCOUNT].address,
                        calldata=b"",
                    )
                    for i in range(2)
                ]
            manager.tick()  # signs and broadcasts both
            with engine.connect() as conn:
                views = [manager.intent(conn, i) for i in ids]
            assert [v.state.value for v in views] == ["pending", "pending"]
            client.fork_point = node.snapshot()
            node.rpc("evm_mine")  # both mined in one block...
            client.target = views[1].tx_hash  # ...which is orphaned mid-tick
            manager.tick()
            for _ in range(SETTLE_TICKS):
                time.sleep(FEE_BUMP_AFTER_S)
                node.rpc("evm_mine")
                manager.tick()
                if manager.pending_count() == 0:
                    break
            with engine.connect() as conn:
                states = [manager.intent(conn, i).state.value for i in ids]
            assert states == ["finalized", "finalized"], states
            assert w3.eth.get_transaction_count(signer.address) == first_nonce + 2
        finally:
            engine.dispose()
