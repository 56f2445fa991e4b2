"""Realistic lifecycle data for the explorer: the devnet scenario relayed end to end.

The real Exocore devnet and anvil run the standard scenario (two AVSs, one claim each, a slash with
freeze) plus a claim signed by one member only (rejected: no quorum); the real relayer then runs
until both claims are ``paid`` (every leaf paid on L1) and the slash is ``finalized``. The chains are
stopped afterwards: only the lifecycle database remains, as the indexer left it.

``python -m tests.indexer.api.explorer.lifecycle_data PATH`` writes such a database to a SQLite file (to
look at the explorer by hand: ``EXORELAY_API_DATABASE_URL=sqlite:///PATH uvicorn --factory
indexer.api.app:app_from_environment``).
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account
from sqlalchemy import Engine

from devnet.scenario import ScenarioClient
from devnet.stack import DevnetStack
from relayer.protocol.claims import PROPORTION_ONE
from relayer.service import RelayerService
from storage.db import create_db_engine
from tests.support.database import fresh_database
from tests.support.relayer_harness import (
    L1_BLOCK_TIME_S,
    SIGNER_ACCOUNT_INDEX,
    RelayerHarness,
    all_delivered_and_paid,
    relayer_config,
    run_standard_scenario,
)

RELAYED_PACKETS = 3
"""Two reward distributions and one slash (the rejected claim never gets a packet)."""
RELAY_TIMEOUT_S = 300.0
"""The relay normally takes ~5 s on two shared cores; the margin absorbs a busy machine."""
SLASH_PROPORTION = PROPORTION_ONE // 20
"""5 %: the scenario AVSs' cap."""
REJECTED_CLAIM_AMOUNT = 7 * 10**18


@dataclass(frozen=True)
class Lifecycle:
    """What the scenario produced (ids as the API spells them: lower-case 0x hex)."""

    avss: tuple[str, ...]
    paid_claims: tuple[str, ...]
    rejected_claim: str
    seconds: float
    """Wall time of chains + relay (for the report)."""


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


def relay_scenario(tmp: Path, engine: Engine) -> Lifecycle:
    """Run the scenario on fresh chains and relay it into ``engine`` (a migrated-or-empty database)."""
    started = time.monotonic()
    with DevnetStack(tmp / "chains", exocore_block_time_s=None, l1_block_time_s=L1_BLOCK_TIME_S) as stack:
        config = relayer_config(stack, str(engine.url.render_as_string(hide_password=False)))
        assert stack.anvil is not None
        signer = Account.from_key(stack.anvil.dev_accounts()[SIGNER_ACCOUNT_INDEX].private_key)
        service = RelayerService(config, signer=signer, engine=engine)
        exocore = stack.manifest["exocore"]
        try:
            with ScenarioClient.for_manifest(exocore, manifest_keystores=False, sign_reports=False) as client:
                h = RelayerHarness(stack, engine, config, signer, service, client)
                report = run_standard_scenario(h)
                committee = h.client.committee(report.avss[0])
                rejected = h.client.claim(
                    committee, [0], stack.manifest["l1"]["contracts"]["reward_token"], REJECTED_CLAIM_AMOUNT
                )
                h.client.slash(committee, 0, SLASH_PROPORTION)
                h.client.advance(2)
                h.cycle_until(
                    lambda: all_delivered_and_paid(h, packets=RELAYED_PACKETS), timeout_s=RELAY_TIMEOUT_S
                )
        finally:
            service.stop()
    return Lifecycle(
        avss=tuple(a.lower() for a in report.avss),
        paid_claims=tuple(str(c["claim_id"]).lower() for c in report.claims),
        rejected_claim=_hex(rejected.claim_id).lower(),
        seconds=time.monotonic() - started,
    )


@contextmanager
def lifecycle_database(tmp: Path) -> Iterator[tuple[Engine, Lifecycle]]:
    """A fresh database (the configured backend) holding the relayed scenario."""
    with fresh_database(tmp) as engine:
        yield engine, relay_scenario(tmp, engine)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.indexer.api.explorer.lifecycle_data OUT.sqlite", file=sys.stderr)
        return 2
    out = Path(argv[0]).resolve()
    out.unlink(missing_ok=True)
    engine = create_db_engine(f"sqlite:///{out}")
    with tempfile.TemporaryDirectory() as tmp:
        result = relay_scenario(Path(tmp), engine)
    engine.dispose()
    print(f"{out}: {result}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
