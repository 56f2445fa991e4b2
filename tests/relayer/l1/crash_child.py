"""Child process of the SIGKILL test: runs a TxManager until it is killed.

Usage: python -m tests.relayer.l1.crash_child DB_URL SEARCH_PATH RPC_URL KEY_HEX
(SEARCH_PATH is the PostgreSQL schema of the test database, or "-" for SQLite.)
"""

from __future__ import annotations

import sys
import time

from eth_account import Account

from relayer.config import FinalityMode
from relayer.l1.client import L1Client
from relayer.l1.txmanager import TxManager, TxSettings
from storage.db import create_db_engine
from storage.store import LifecycleStore

TICK_PAUSE_S = 0.01
"""Between ticks: long enough to let the parent's polling run, short enough to keep the child busy."""


def main() -> None:
    url, search_path, rpc_url, key_hex = sys.argv[1:5]
    connect_args = {} if search_path == "-" else {"options": f"-csearch_path={search_path}"}
    engine = create_db_engine(url, connect_args=connect_args)
    client = L1Client([rpc_url], chain_id=31337, timeout_s=10)
    settings = TxSettings(
        finality=FinalityMode.CONFIRMATIONS, confirmations=2, fee_bump_after_s=30.0, max_fee_multiplier=3.0
    )
    manager = TxManager(engine, client, Account.from_key(key_hex), settings, store=LifecycleStore(engine))
    print("ready", flush=True)
    while True:
        manager.tick()
        time.sleep(TICK_PAUSE_S)


if __name__ == "__main__":
    main()
