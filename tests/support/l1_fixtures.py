"""The one anvil + contract deployment of a test session, as fixtures (registered in tests/conftest.py).

Provides ``anvil`` (12 dev accounts), ``w3``, ``genesis_set`` (6 validators of power 10), ``deployed``
(the whole L1 system deployed once: deployer account 0, guardian account 1, slashing sink account 9),
``system`` (the deployment, rolled back by evm_snapshot/evm_revert after each test, automine and the
current validator set restored) and ``module_chain`` (the same for a whole test module).
Invariant: no test sees another test's chain state, so sharing one node across directories is safe.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from web3 import Web3

from devnet.anvil import AnvilConfig, AnvilNode
from devnet.l1_deploy import deploy_l1
from tests.support.l1_contracts import EXOCORE_CHAIN, System, ValidatorSet

GENESIS_SIZE = 6
"""Six validators of power 10: four signers hold exactly 2/3 (rejected), five hold 5/6."""
DEV_ACCOUNTS = 12
"""Enough dev accounts for every role the contract and tx-manager tests give out (0..11)."""
GUARDIAN_ACCOUNT = 1
SLASHING_SINK_ACCOUNT = 9


@pytest.fixture(scope="session")
def anvil() -> Iterator[AnvilNode]:
    with AnvilNode(AnvilConfig(accounts=DEV_ACCOUNTS)) as node:
        yield node


@pytest.fixture(scope="session")
def w3(anvil: AnvilNode) -> Web3:
    return Web3(Web3.HTTPProvider(anvil.rpc_url, request_kwargs={"timeout": 60}))


@pytest.fixture(scope="session")
def genesis_set() -> ValidatorSet:
    return ValidatorSet.generate(GENESIS_SIZE, nonce=1, seed=1)


@pytest.fixture(scope="session")
def deployed(anvil: AnvilNode, w3: Web3, genesis_set: ValidatorSet) -> System:
    accounts = anvil.dev_accounts()
    deployment = deploy_l1(
        w3,
        accounts[0].private_key,
        genesis_set.genesis(),
        EXOCORE_CHAIN,
        guardian=accounts[GUARDIAN_ACCOUNT].address,
        slashing_sink=accounts[SLASHING_SINK_ACCOUNT].address,
    )
    return System(
        w3=w3,
        node=anvil,
        deployment=deployment,
        valset=genesis_set,
        accounts=tuple(Web3.to_checksum_address(a.address) for a in accounts),
    )


@pytest.fixture
def system(deployed: System) -> Iterator[System]:
    """The session deployment, rolled back after the test (automine and validator set restored)."""
    snapshot = deployed.node.snapshot()
    valset = deployed.valset
    try:
        yield deployed
    finally:
        deployed.node.rpc("evm_setAutomine", [True])
        deployed.node.revert(snapshot)
        deployed.valset = valset


@pytest.fixture(scope="module")
def module_chain(deployed: System) -> Iterator[System]:
    """Chain state private to one test module: what the module deploys is rolled back after it.

    Depends on ``deployed`` so the session deployment always exists before the snapshot is taken.
    """
    snapshot = deployed.node.snapshot()
    try:
        yield deployed
    finally:
        deployed.node.revert(snapshot)
