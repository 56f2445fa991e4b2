"""Contract tests: one anvil per session, one deployment, each test isolated by evm_snapshot/revert."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from web3 import Web3

from devnet.anvil import AnvilConfig, AnvilNode
from devnet.l1_deploy import deploy_l1
from tests.contracts.harness import EXOCORE_CHAIN, System, ValidatorSet

GENESIS_SIZE = 6
"""Six validators of power 10: four signers hold exactly 2/3 (rejected), five hold 5/6."""


@pytest.fixture(scope="session")
def anvil() -> Iterator[AnvilNode]:
    with AnvilNode(AnvilConfig(accounts=12)) as node:
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
        guardian=accounts[1].address,
        slashing_sink=accounts[9].address,
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
    """The session deployment, rolled back after the test."""
    snapshot = deployed.node.snapshot()
    valset = deployed.valset
    try:
        yield deployed
    finally:
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
