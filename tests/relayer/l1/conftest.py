"""Tx-manager fixtures: the session's anvil + deployment (tests/support/l1_fixtures.py), each test
isolated by evm_snapshot/evm_revert; one migrated database per session, emptied before each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine

from devnet.anvil import AnvilNode
from relayer.l1.client import L1Client
from relayer.l1.txmanager import TxManager
from storage.store import LifecycleStore
from tests.support.database import empty_all_tables, migrated_database
from tests.support.l1_contracts import System
from tests.support.txmanager import (
    RELAYER_ACCOUNT,
    Harness,
    ManualClock,
    SilentServer,
)


@pytest.fixture(scope="session")
def l1_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with migrated_database(tmp_path_factory.mktemp("l1-db")) as engine:
        yield engine


@pytest.fixture
def engine(l1_database: Engine) -> Engine:
    empty_all_tables(l1_database)
    return l1_database


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(engine: Engine, clock: ManualClock) -> LifecycleStore:
    return LifecycleStore(engine, clock=clock)


@pytest.fixture
def relayer_account(anvil: AnvilNode) -> LocalAccount:
    key: LocalAccount = Account.from_key(anvil.dev_accounts()[RELAYER_ACCOUNT].private_key)
    return key


@pytest.fixture
def h(
    system: System, engine: Engine, store: LifecycleStore, clock: ManualClock, relayer_account: LocalAccount
) -> Harness:
    client = L1Client([system.node.rpc_url], chain_id=system.deployment.chain_id, timeout_s=10)
    return Harness(system, engine, store, clock, relayer_account, client)


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


MakeManager = Callable[..., TxManager]
