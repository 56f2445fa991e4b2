"""Both chains for real (anvil + contracts + the Exocore devnet) and a relayer wired to them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account

from devnet.scenario import ScenarioClient
from devnet.stack import DevnetStack
from relayer.service import RelayerService
from tests.support.database import fresh_database
from tests.support.relayer_harness import (
    L1_BLOCK_TIME_S,
    SIGNER_ACCOUNT_INDEX,
    RelayerHarness,
    relayer_config,
)


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[RelayerHarness]:
    with (
        DevnetStack(tmp_path / "chains", exocore_block_time_s=None, l1_block_time_s=L1_BLOCK_TIME_S) as stack,
        fresh_database(tmp_path) as engine,
    ):
        config = relayer_config(stack, str(engine.url.render_as_string(hide_password=False)))
        assert stack.anvil is not None
        signer = Account.from_key(stack.anvil.dev_accounts()[SIGNER_ACCOUNT_INDEX].private_key)
        service = RelayerService(config, signer=signer, engine=engine)
        exocore = stack.manifest["exocore"]
        with ScenarioClient.for_manifest(exocore, manifest_keystores=False, sign_reports=False) as client:
            yield RelayerHarness(stack, engine, config, signer, service, client)
        service.stop()
