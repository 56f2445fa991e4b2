"""The story ``exorelay demo`` tells, and the parts it runs.

One process runs everything on a fresh ``--home``: two anvils (two client chains, chain ids 31337 and
:data:`SECOND_CHAIN_ID`) + the L1 contracts on each + the Exocore devnet
(:class:`~devnet.stack.DevnetStack`), the relayer and indexer (:class:`~relayer.service.RelayerService`
with both chains in ``client_chains``, on its background scheduler, SQLite file under ``--home``) and
the query API (uvicorn on a thread).
The scenario is driven the way real clients would: signed messages to the devnet's gRPC Msg service
and an ETH deposit on L1. What the terminal shows is read back from the chains (gRPC queries, L1
views and logs), from the lifecycle database or from the API; the script prints none of its own
bookkeeping as a result.

Chapters: the chains → operators, AVSs and stakers on both client chains (committees elected) → a
validator-set change →
claims collected by the AVS's aggregator from each member's own operator process (two submitted
and accepted; one member offline, a rogue post refused, a second claim in one slot left to expire) →
relay and payouts (MINT and FEES per distribution; VAULT under one cumulative root) → a committee
slash collected the same way and an equivocation slash → lifecycle tables, staker balances, API URL.
Per client chain: each claim's distribution there, paid totals next to that chain's ``Transfer`` logs
(read from its own node) and the API's per-chain totals, and the SLASH packets that landed there.

What the output promises: a table is printed whole when stdout is not a terminal (no cell cut to
fit 80 columns); each column holds one unit (amounts in the token's own symbol and decimals, voting
power in USD, shares in percent) and each time column one clock (Exocore block time, L1 block time,
the indexer's record), so each runs forward on its own; step 0 is what ``exorelay health-check``
answers; the part of a claim no leaf carries is named (Exocore's community pool); on L1 only what a
contract view answers is printed (the gateway's ``frozen(operator, AVS)``, not what it implies).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Final, TypeVar

import httpx
import uvicorn
from eth_account import Account
from eth_typing import HexStr
from eth_utils.crypto import keccak
from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from sqlalchemy import Engine, func, inspect, select, text
from sqlalchemy.engine import make_url
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import BlockNotFound

from devnet.anvil import free_port
from devnet.demo_avs import (
    AvsProcesses,
    Refusal,
    conflicting_claim,
    digest_of,
    equivocation_slash,
    member_secret,
    reward_claim,
    wait_for,
    wait_for_signature,
)
from devnet.l1_deploy import contract_at
from devnet.l1_stake import L1Stake, L1Staker
from devnet.rpc.encoding import parse_rfc3339_nano
from devnet.scenario import (
    AvsRules,
    CommitteeView,
    ScenarioClient,
    equivocation_msg,
    hex0x,
    scenario_asset_ids,
    staker_address,
    validator_msg,
)
from devnet.stack import DevnetStack
from indexer.api.app import create_app
from relayer.config import CumulativeConfig, ExorelayConfig
from relayer.errors import ExorelayError
from relayer.exocore.proto.operator.v1 import query_pb2 as operator_query
from relayer.exocore.proto.operator.v1 import query_pb2_grpc as operator_grpc
from relayer.exocore.proto.relay.v1 import query_pb2 as relay_query
from relayer.health import reward_token_report
from relayer.l1.artifacts import ContractName
from relayer.l1.keystore import write_keystore
from relayer.logs import TextFormatter
from relayer.protocol import bls
from relayer.protocol.claims import PROPORTION_ONE
from relayer.protocol.ids import AssetId, OperatorAddress
from relayer.protocol.kinds import PayoutMode
from relayer.protocol.packets import FundingMode, PacketKind
from relayer.protocol.types import Address
from relayer.protocol.units import (
    TokenUnit,
    format_amount,
    format_power,
    format_share,
    format_units,
    short_hex,
)
from relayer.service import RelayerService, install_signal_handlers
from storage.db import create_db_engine
from storage.job_tables import JobStage, relay_job_table
from storage.lifecycle import SLASH, ClaimState, PacketState, SlashState
from storage.models import (
    avs_table,
    claim_signer_table,
    claim_table,
    committee_member_table,
    committee_table,
    cumulative_leaf_table,
    cumulative_payout_table,
    cumulative_root_table,
    distribution_table,
    l1_tx_table,
    packet_table,
    payout_table,
    slash_asset_table,
    slash_table,
    transfer_table,
    transition_table,
)
from storage.schema import metadata as schema_metadata

_log = logging.getLogger("devnet.demo")
T = TypeVar("T")

EXOCORE_BLOCK_TIME_S: Final = 0.2
"""Exocore blocks every 0.2 s: a 10-block epoch (and so an election) passes in 2 s."""
L1_BLOCK_TIME_S: Final = 0.5
"""Interval mining, as a real chain: inclusion and the confirmation after it take blocks."""
SIGNER_ACCOUNT_INDEX: Final = 1
"""anvil dev account 0 deployed the contracts; the relayer signs with account 1."""
FUNDER_ACCOUNT_INDEX: Final = 2
"""The VAULT-funded AVS deposits from account 2, so it never races the relayer's nonces."""
STEP_TIMEOUT_S: Final = 180.0
"""A chapter takes seconds; past this the run is stuck (the queue is printed and the demo fails)."""
POLL_INTERVAL_S: Final = 0.25
"""Progress bars re-read the database this often (the relayer cycles every 0.2 s)."""
API_HOST: Final = "127.0.0.1"
API_START_TIMEOUT_S: Final = 30.0
"""uvicorn binds within a second; the margin covers a loaded 2-core machine."""
API_REQUEST_TIMEOUT_S: Final = 10.0
THREAD_JOIN_TIMEOUT_S: Final = 10.0
"""The API thread exits at its next loop tick after should_exit; 10 s is the relayer's stop budget too."""
HOME_MARKER: Final = ".exorelay-demo"
"""A directory is wiped only if a previous demo run left this file in it (never a user's directory)."""
DATABASE_MARK: Final = "database sha256:"
"""Marker lines naming (by hash) a --database-url the run filled: the next run may empty it again."""
MIGRATION_VERSION_TABLE: Final = "alembic_version"
LOG_FILE: Final = "demo.log"
DATABASE_FILE: Final = "exorelay.sqlite"

PAID_CLAIMS: Final = ("A", "D")
"""The claims the demo pays per distribution (one packet each): A (MINT), D (FEES)."""
ACCRUED_CLAIM: Final = "B"
"""bridge-avs's claim (VAULT): its AVS pays cumulatively, so it accrues into the earners' running
totals and is paid under one root for all of its earners, with no packet of its own."""
CUMULATIVE_EVERY: Final = 1
"""Distributions of cumulative AVSs per root period: 1 closes a period at claim B, so the demo shows
its root and payouts within the chapter (a real chain closes one a day)."""
CUMULATIVE_PUSH_MINIMUM_WEI: Final = 10**14
"""The push policy's minimum for WETH (0.0001 WETH, as ``cumulative.token_minimums``; no price, so the
threshold does not move with anvil's gas price): every staker and operator the demo creates earns far
more from claim B and is pushed; the self-claiming staker earns far less and is left to accrue."""
SELF_CLAIM_ACCOUNT_INDEX: Final = 3
"""anvil dev account 3 is the staker that claims for itself: the demo knows its key, as a user knows
their own (0 deployed, 1 is the relayer's signer, 2 funds the AVSs)."""
SELF_CLAIM_STAKE_WEI: Final = 10**12
"""What the self-claiming staker deposits per operator (0.000001 WETH): one delegation to each, so it
earns from whichever committee claim B's AVS elects, and its total stays far below the push minimum."""
SELF_CLAIM_KEYSTORE_PASSWORD: Final = "exorelay-demo-staker"  # noqa: S105 - a throwaway dev key's
SELF_CLAIM_KEYSTORE_ITERATIONS: Final = 1024
"""pbkdf2 rounds of the staker's demo keystore: a throwaway dev key, so decrypting costs nothing."""
SELF_CLAIM_TIMEOUT_S: Final = 180.0
"""``exorelay claim --send`` starts a Python process, reads Exocore and L1, and waits for its receipt:
seconds, with a loaded 2-core machine's margin."""
COMMISSIONS: Final = ("0.10", "0.05", "0")
"""Operator commission rates, cycled: the distributions then hold commission leaves of both sizes."""
CLAIM_A_UNITS: Final = 1_000 * 10**18
"""The MINT-funded claim: 1000 EXOR, minted by the gateway at payout."""
CLAIM_B_WEI: Final = 12 * 10**18
"""The VAULT-funded claim: 12 WETH, debited from the AVS's RewardVault deposit at payout."""
CLAIM_D_WEI: Final = 2 * 10**18
"""The FEES-funded claim: 2 WETH of oracle-avs's transaction fees, paid from its FEES source."""
FEES_DEPOSIT_WEI: Final = 2 * 10**18
"""oracle-avs's transaction fees deposited in the RewardVault (its FEES source) before claim D."""
FEES_RECORDED_TIMEOUT_S: Final = 60.0
"""The devnet follows the RewardVault one L1 block deep, polling every 0.5 s: seconds, with margin."""
CLAIM_C_WEI: Final = 5 * 10**18
"""Claim C: a second claim in claim B's signing slot (another amount), which no honest operator signs."""
SLASH_PROPORTION: Final = PROPORTION_ONE // 20
"""5 %: the AVSs' maximum slash proportion."""
EQUIVOCATION_TASK_ID: Final = 7
COMMITTEE_SLASH_TASK_ID: Final = 8
"""The task whose two conflicting responses are the committee slash's evidence."""
POLICY_FACTOR: Final = 10
"""Operators' local policy allows up to this many times the demo's claim per epoch (room, no limit)."""
STAKERS_SHOWN: Final = 4
"""Stakers whose final L1 balances are printed (two per asset: the WETH stakers also earn WETH)."""
UNBOUNDED_WIDTH: Final = 10_000
"""Columns a table is measured in to find its natural width (no demo table comes near it)."""
PIPED_PROGRESS_WIDTH: Final = 160
"""Columns of a progress display when stdout is not a terminal: its final render is printed once,
and at rich's 80-column default the elapsed-time column is cut ("0:00:…") behind a long status."""
VALIDATOR_KEY_MATERIAL: Final = b"exorelay-demo/new-validator/bls-key-material"
SECOND_CHAIN_ID: Final = 31338
"""The second client chain's EVM chain id (the first is anvil's default, 31337): its own anvil, its
own contracts (at the same addresses: same deployer, same nonces) and its own assets on Exocore."""
STAKE_APPLIED_TIMEOUT_S: Final = 120.0
"""The devnet applies a chain's vault deposits one L1 block deep, polling every 0.5 s; hundreds of
deposits take seconds to mine, the margin covers a loaded 2-core machine."""
TRANSFER_TOPIC: Final = Web3.keccak(text="Transfer(address,address,uint256)")
ZERO_ADDRESS: Final = "0x" + "00" * 20


TIMELINE_COLUMNS: Final = (
    "state",
    "Exocore height",
    "Exocore block time (UTC)",
    "L1 block",
    "L1 block time (UTC)",
    "recorded by the indexer (UTC)",
    "note",
)
"""A lifecycle's clocks, one column each: Exocore's blocks, L1's blocks, the indexer's own clock."""


def header_time(text: str) -> datetime:
    """CometBFT's header time (RFC 3339, nanoseconds) as a UTC datetime (microseconds)."""
    seconds, nanos = divmod(parse_rfc3339_nano(text), 10**9)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=nanos // 1000)


class DemoError(ExorelayError, RuntimeError):
    """A chapter of the demo did not complete."""


class DemoStoppedError(DemoError):
    """SIGINT/SIGTERM arrived while the scenario was still running."""


@dataclass(frozen=True)
class DemoOptions:
    home: Path
    stakers: int
    operators: int
    api_port: int
    once: bool
    database_url: str | None = None
    """None: a SQLite file under ``home`` (the embedded default); otherwise an empty database."""


@dataclass(frozen=True)
class Gauge:
    """One progress bar: ``read()`` returns (done, total, status) from the chains or the database."""

    label: str
    read: Callable[[], tuple[int, int, str]]


@dataclass(frozen=True)
class ClientChainView:
    """One client chain as the demo reads it: its own node and contracts (what the story says a chain
    holds or logged, balances, gateway views, Transfer and SlashExecuted logs, is read from here)."""

    index: int
    """0 for the manifest's ``l1``, then ``client_chains`` in order (the relayer's config order)."""
    chain_id: int
    entry: dict[str, Any]
    w3: Web3
    gateway: Contract
    reward_vault: Contract
    restaking_vault: Contract
    tokens: dict[str, Contract]
    """Lower-case token address -> ERC-20 (WETH and EXOR)."""

    @classmethod
    def of(cls, index: int, entry: dict[str, Any]) -> ClientChainView:
        w3 = Web3(Web3.HTTPProvider(entry["rpc_url"]))
        contracts = entry["contracts"]
        return cls(
            index=index,
            chain_id=int(entry["chain_id"]),
            entry=entry,
            w3=w3,
            gateway=contract_at(w3, ContractName.EXOCORE_GATEWAY, contracts["gateway"]),
            reward_vault=contract_at(w3, ContractName.REWARD_VAULT, contracts["reward_vault"]),
            restaking_vault=contract_at(w3, ContractName.RESTAKING_VAULT, contracts["restaking_vault"]),
            tokens={
                contracts["weth"].lower(): contract_at(w3, ContractName.WRAPPED_ETHER, contracts["weth"]),
                contracts["reward_token"].lower(): contract_at(
                    w3, ContractName.REWARD_TOKEN, contracts["reward_token"]
                ),
            },
        )

    @property
    def name(self) -> str:
        return f"chain {self.chain_id}"

    @property
    def deploy_block(self) -> int:
        return int(self.entry["deploy_block"])


def staker_chain(index: int, chains: int) -> int:
    """The client chain staker ``index`` deposits on: pairs alternate (0, 1 on the first chain, 2, 3
    on the second, ...) while the asset alternates per staker, so the first four stakers hold one
    (chain, asset) pair each and every operator gets stake of both assets on both chains."""
    return (index // 2) % chains


def short_operator(account: str) -> str:
    return account[:9] + "…" + account[-4:]


def weakest_first(powers: Sequence[int]) -> list[int]:
    return sorted(range(len(powers)), key=lambda i: (powers[i], i))


def enough_signers(powers: Sequence[int], threshold: tuple[int, int]) -> list[int]:
    """Every member but the weakest if they alone pass ``signed * den > total * num``, else all."""
    total, (num, den) = sum(powers), threshold
    without_weakest = weakest_first(powers)[1:]
    if without_weakest and sum(powers[i] for i in without_weakest) * den > total * num:
        return sorted(without_weakest)
    return list(range(len(powers)))


def database_fingerprint(url: str) -> str:
    """What the home marker records of a database the demo filled (a hash: the URL may hold a password)."""
    return DATABASE_MARK + hashlib.sha256(url.encode()).hexdigest()


def prepare_home(home: Path) -> frozenset[str]:
    """Fresh each run: remove what a previous demo left (only a directory it marked as its own).
    Returns the fingerprints of the databases that previous run filled (its marker lists them)."""
    filled: frozenset[str] = frozenset()
    if home.exists():
        marker = home / HOME_MARKER
        if not marker.is_file() and any(home.iterdir()):
            raise DemoError(f"{home} exists and was not made by `exorelay demo`: choose another --home")
        if marker.is_file():
            lines = marker.read_text().splitlines()
            filled = frozenset(line for line in lines if line.startswith(DATABASE_MARK))
        shutil.rmtree(home)
    home.mkdir(parents=True)
    (home / HOME_MARKER).write_text("made by `exorelay demo`; wiped on its next run\n")
    return filled


def claim_database(home: Path, url: str, filled: frozenset[str]) -> None:
    """Make the database at ``url`` empty for this run and mark it as the demo's in ``home``.

    The demo's ids are deterministic, so an earlier run's rows would collide with this run's chains:
    a database holding tables is refused, unless the previous run of this ``home`` filled it and it
    holds nothing but exorelay's own tables; then those are dropped (a second ``make demo`` with the
    same ``--database-url`` needs no cleaning by hand).
    """
    engine = create_db_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
        ours = set(schema_metadata.tables) | {MIGRATION_VERSION_TABLE}
        if tables and database_fingerprint(url) in filled and tables <= ours:
            with engine.begin() as conn:
                schema_metadata.drop_all(conn)
                if MIGRATION_VERSION_TABLE in tables:
                    conn.execute(text(f"DROP TABLE {MIGRATION_VERSION_TABLE}"))
            tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    if tables:
        raise DemoError(
            f"the database at {make_url(url).render_as_string(hide_password=True)} is not empty"
            f" ({len(tables)} tables): give the demo an empty database or schema"
        )
    with (home / HOME_MARKER).open("a") as marker:
        marker.write(database_fingerprint(url) + "\n")


def log_to_file(path: Path) -> None:
    """The terminal is the narration: the relayer's records go to ``path``."""
    handler = logging.FileHandler(path)
    handler.setFormatter(TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    for noisy in ("apscheduler", "httpx", "urllib3", "web3", "grpc", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def pick_api_port(requested: int) -> int:
    """``requested`` if it is free (0: any free port); a busy port falls back to a free one."""
    if requested == 0:
        return free_port(API_HOST)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((API_HOST, requested))
        except OSError:
            return free_port(API_HOST)
    return requested


class ApiServer:
    """``exorelay api``'s app (read-only engine on the demo's database) served from a thread."""

    def __init__(self, database_url: str, port: int) -> None:
        config = uvicorn.Config(
            create_app(database_url),
            host=API_HOST,
            port=port,
            log_config=None,  # our file handler, not uvicorn's console logging
            access_log=False,
            lifespan="off",
        )
        self.server = uvicorn.Server(config)
        self.url = f"http://{API_HOST}:{port}"
        self.thread = threading.Thread(target=self.server.run, name="exorelay-api", daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + API_START_TIMEOUT_S
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise DemoError(f"the API did not start on {self.url} (see {LOG_FILE})")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(THREAD_JOIN_TIMEOUT_S)


class Demo:
    """The running system and the story told over it."""

    def __init__(self, options: DemoOptions, console: Console, stop: threading.Event) -> None:
        self.options = options
        self.console = console
        self.stop = stop
        self.home = options.home.resolve()
        self.database_url = options.database_url or f"sqlite:///{self.home / DATABASE_FILE}"
        self.stack: DevnetStack | None = None
        self.service: RelayerService | None = None
        self.config: ExorelayConfig | None = None
        self.api: ApiServer | None = None
        self.client: ScenarioClient | None = None
        self.db: Engine | None = None
        self.http: httpx.Client | None = None
        # Set as the story goes (ids the chains answered with, the AVSs the scenario registers).
        self.avs_rules: tuple[AvsRules, AvsRules] | None = None
        self.committees: dict[str, CommitteeView] = {}
        self.claim_ids: dict[str, str] = {}
        self.slash_ids: dict[str, str] = {}
        # The AVS side (devnet.demo_avs): processes, who is offline / rogue, claims left to expire.
        self.avs_processes: AvsProcesses | None = None
        self.offline = ""
        self.rogue = ""
        self.rogue_refusal: Refusal | None = None
        self.expiring: dict[str, str] = {}
        self.valset_nonce_before = 0
        self.block_times: dict[str, dict[int, datetime]] = {"exocore": {}, "l1": {}}
        self.l1_hash_times: dict[str, datetime] = {}
        self.chains: list[ClientChainView] = []

    # ------------------------------------------------------------------ parts

    def start(self) -> None:
        self.console.print(f"[dim]home {self.home} · relayer log {self.home / LOG_FILE}[/dim]")
        with self.console.status("Starting anvil, deploying the contracts, starting the Exocore devnet…"):
            self.stack = DevnetStack(
                self.home / "chains",
                exocore_block_time_s=EXOCORE_BLOCK_TIME_S,
                l1_block_time_s=L1_BLOCK_TIME_S,
                cumulative_every=CUMULATIVE_EVERY,
                other_chain_ids=(SECOND_CHAIN_ID,),
            ).start()
        self.check_stop()
        anvil = self.require(self.stack.anvil)
        with self.console.status("Starting the relayer (migrations, start-up sweep)…"):
            # One relayer serves both client chains: one [[client_chains]] entry each, in the
            # manifest's order (the first is the one Exocore's cumulative ledger pays on).
            settings = self.stack.relayer_settings(self.database_url)
            chain_count = 1 + len(self.stack.manifest.get("client_chains", []))
            settings["client_chains"] = [
                settings.pop("l1"),
                *(
                    self.stack.relayer_settings(self.database_url, chain=index)["l1"]
                    for index in range(1, chain_count)
                ),
            ]
            config = ExorelayConfig.model_validate(settings)
            weth = self.stack.manifest["l1"]["contracts"]["weth"].lower()
            # max_delay_s=0: the push stage pays every accrued earner at once, not after a day; below
            # the WETH minimum an earner is left to accrue (and, in the demo, claims for itself).
            config = config.model_copy(
                update={
                    "cumulative": CumulativeConfig(
                        token_minimums={weth: str(CUMULATIVE_PUSH_MINIMUM_WEI)}, max_delay_s=0
                    )
                }
            )
            self.config = config
            signer = Account.from_key(anvil.dev_accounts()[SIGNER_ACCOUNT_INDEX].private_key)
            self.service = RelayerService(config, signer=signer, stop_requested=self.stop)
            self.service.start()
        self.check_stop()
        self.db = create_db_engine(self.database_url, read_only=True)
        self.api = ApiServer(self.database_url, pick_api_port(self.options.api_port))
        self.api.start()
        self.http = httpx.Client(base_url=self.api.url, timeout=API_REQUEST_TIMEOUT_S)
        exocore = self.stack.manifest["exocore"]
        # Stakes go through the L1 vault (the devnet's follower makes them Exocore stake).
        self.client = ScenarioClient.for_manifest(exocore, l1=self.stack.manifest["l1"])
        entries = [self.stack.manifest["l1"], *self.stack.manifest.get("client_chains", [])]
        self.chains = [ClientChainView.of(index, entry) for index, entry in enumerate(entries)]
        # The first chain's parts under their old names: the VAULT AVS's deposit, the cumulative
        # ledger and the relay valset narration read it.
        first = self.chains[0]
        contracts = entries[0]["contracts"]
        self.w3, self.gateway = first.w3, first.gateway
        self.reward_vault, self.restaking_vault = first.reward_vault, first.restaking_vault
        self.tokens: dict[str, Contract] = first.tokens
        self.weth = first.tokens[contracts["weth"].lower()]
        self.exor = first.tokens[contracts["reward_token"].lower()]
        # Read once from each ERC-20, as the indexer caches them for the API and the explorer.
        self.units = {
            address: TokenUnit(str(token.functions.symbol().call()), int(token.functions.decimals().call()))
            for address, token in self.tokens.items()
        }

    def close(self) -> None:
        """Stop everything this run started (each part alone: one failing does not keep the others up)."""
        steps: list[Callable[[], object]] = []
        if self.avs_processes is not None:
            steps.append(self.avs_processes.stop)
        if self.service is not None:
            steps.append(self.service.stop)
        if self.api is not None:
            steps.append(self.api.stop)
        if self.http is not None:
            steps.append(self.http.close)
        if self.client is not None:
            steps.append(self.client.close)
        if self.db is not None:
            steps.append(self.db.dispose)
        if self.stack is not None:
            steps.append(self.stack.stop)
        for step in steps:
            try:
                step()
            except Exception:
                _log.exception("demo shutdown step failed")

    @staticmethod
    def require(value: T | None) -> T:
        if value is None:
            raise DemoError("the demo is not started")
        return value

    @property
    def scenario(self) -> ScenarioClient:
        return self.require(self.client)

    @property
    def engine(self) -> Engine:
        return self.require(self.db)

    def check_stop(self) -> None:
        if self.stop.is_set():
            raise DemoStoppedError("stopped by signal")

    # ------------------------------------------------------------------ reading state

    def rows(self, statement: Any) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(statement))

    def scalar(self, statement: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(statement).scalar()

    def symbol(self, token: str) -> str:
        unit = self.units.get(token.lower())
        return short_hex(token) if unit is None else unit.symbol

    def amount(self, value: int, token: str) -> str:
        """``1,000.0000 EXOR``: the shared formatter, with the token's own symbol and decimals."""
        return format_amount(value, self.units.get(token.lower()))

    def exact(self, value: int, token: str) -> str:
        """``0.000000015000000000 WETH``: every decimal, for a dust amount four places would show as 0."""
        unit = self.units.get(token.lower())
        return format_amount(value, unit, places=unit.decimals if unit is not None else 0)

    def avs_name(self, avs: str) -> str:
        name = self.scalar(select(avs_table.c.name).where(avs_table.c.avs_address == avs.lower()))
        return str(name) if name else short_hex(avs)

    def api_get(self, path: str, **params: Any) -> Any:
        response = self.require(self.http).get(path, params=params or None)
        response.raise_for_status()
        return response.json()

    def describe_queue(self) -> str:
        """The relayer's work queue, for a chapter that did not complete."""
        lines = [
            f"job {r.packet_nonce} kind {r.kind} {r.stage} {r.retry_reason or ''} {r.retry_detail or ''}"
            for r in self.rows(select(relay_job_table).order_by(relay_job_table.c.packet_nonce))
        ]
        return "\n".join(lines) or "(no relay jobs)"

    def track(self, title: str, gauges: Sequence[Gauge], *, until: Callable[[], bool] | None = None) -> None:
        """Progress bars over ``gauges`` until each is full (and ``until()`` holds, if given)."""
        progress = self.progress()
        deadline = time.monotonic() + STEP_TIMEOUT_S
        with progress:
            tasks = [progress.add_task(g.label, total=None, status="") for g in gauges]
            while True:
                full = True
                for task, gauge in zip(tasks, gauges, strict=True):
                    done, total, status = gauge.read()
                    progress.update(task, completed=done, total=total or None, status=status)
                    full = full and total > 0 and done >= total
                if full and (until is None or until()):
                    return
                self.check_stop()
                if time.monotonic() > deadline:
                    raise DemoError(
                        f"{title}: not done after {STEP_TIMEOUT_S:.0f} s\n{self.describe_queue()}"
                    )
                self.stop.wait(POLL_INTERVAL_S)

    def progress(self) -> Progress:
        """The demo's progress bars (spinner, label, bar, count, status, elapsed time); printed whole
        when stdout is not a terminal."""
        if not self.console.is_terminal:
            self.console.width = max(self.console.width, PIPED_PROGRESS_WIDTH)
        return Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(bar_width=30),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=self.console,
        )

    def show(self, table: Table) -> None:
        """A table whole. In a terminal rich fits it to the window (folding cells); anywhere else (a
        pipe, a file, CI) there is no window, and rich's 80-column default would cut cells to
        "attes…", so the table is printed at its natural width."""
        if self.console.is_terminal:
            self.console.print(table)
            return
        options = self.console.options.update_width(UNBOUNDED_WIDTH)
        natural = Measurement.get(self.console, options, table).maximum
        saved = self.console.width
        self.console.width = max(saved, natural)
        try:
            self.console.print(table)
        finally:
            self.console.width = saved

    def chapter(self, number: int, title: str, intro: str) -> None:
        self.console.print()
        self.console.rule(f"[bold]{number}. {title}")
        self.console.print(f"[dim]{intro}[/dim]")

    # ------------------------------------------------------------------ 1. the chains

    def show_chains(self) -> None:
        stack = self.require(self.stack)
        self.chapter(
            1,
            "Exocore, two client chains, one relayer",
            "Exocore (here its devnet) decides rewards and slashes; its relay validators sign a packet for"
            " each, addressed to one client chain. Stakers restake on two L1 client chains (two anvils with"
            " different chain ids, each with its own gateway, vaults and tokens); one relayer serves both,"
            " carrying each packet to its own chain's gateway and paying every staker there.",
        )
        exocore_rpc = stack.manifest["exocore"]["rpc_url"]
        status = httpx.get(f"{exocore_rpc}/status", timeout=API_REQUEST_TIMEOUT_S)
        sync = status.json()["result"]
        service = self.require(self.service)
        signer = service.parts.txm.sender
        table = Table(box=box.SIMPLE_HEAD)
        for column in ("chain", "id", "head", "RPC", "trusted relay valset"):
            table.add_column(column)
        table.add_row(
            "Exocore devnet",
            sync["node_info"]["network"],
            f"height {sync['sync_info']['latest_block_height']}",
            exocore_rpc,
            f"#{self.current_valset().valset_nonce} (the signing set)",
        )
        for chain in self.chains:
            table.add_row(
                f"client chain {chain.index + 1} (anvil)",
                str(chain.w3.eth.chain_id),
                f"block {chain.w3.eth.block_number}",
                str(chain.entry["rpc_url"]),
                f"#{chain.gateway.functions.currentValsetNonce().call()}"
                f" ({chain.gateway.functions.valsetSize().call()} validators)"
                f" in gateway {short_hex(chain.gateway.address)}",
            )
        self.show(table)
        balances = ", ".join(
            f"{format_units(chain.w3.eth.get_balance(Web3.to_checksum_address(signer)))} ETH on {chain.name}"
            for chain in self.chains
        )
        self.console.print(
            f"relayer signer {signer} holds {balances}"
            f" · database {make_url(self.database_url).render_as_string(hide_password=True)}"
            f" · API {self.require(self.api).url}"
        )

    # ------------------------------------------------------------------ 2. operators, AVSs, stakers

    def setup(self) -> None:
        stack, client = self.require(self.stack), self.scenario
        n, stakers = self.options.operators, self.options.stakers
        self.chapter(
            2,
            "Operators, AVSs and stakers",
            "Operators register and opt into both AVSs with a BLS key each (with proof of possession);"
            " stakers deposit WETH or EXOR into the RestakingVault of either client chain and delegate it"
            " (each chain's tokens are its own assets on Exocore). At the next epoch each AVS elects its"
            " committee by its own rules. One more staker, whose key it holds itself (anvil account"
            f" {SELF_CLAIM_ACCOUNT_INDEX}), deposits a dust of WETH with every operator: it will claim"
            " for itself.",
        )
        contracts, exocore = stack.manifest["l1"]["contracts"], stack.manifest["exocore"]
        weth, exor = contracts["weth"].lower(), contracts["reward_token"].lower()
        # Per client chain, its (WETH, EXOR) asset ids: the same token addresses, told apart by the
        # chain's LayerZero id (on the devnet the first chain's is its genesis id, the others' their
        # chain id).
        chain_assets = [
            scenario_asset_ids(
                weth, exor, int(exocore["lz_chain_id"]) if chain.index == 0 else chain.chain_id
            )
            for chain in self.chains
        ]
        weth_asset = chain_assets[0][0]
        avs_a = AvsRules(
            address=hex0x(keccak(b"exorelay-demo/avs-a")[:20]),
            name="oracle-avs",
            # Both assets on every client chain: its claims pay stakers on each chain.
            asset_ids=tuple(asset for pair in chain_assets for asset in pair),
            # EXOR minted (MINT); WETH from the transaction fees it collects (FEES).
            reward_tokens=((exor, int(FundingMode.MINT)), (weth, int(FundingMode.FEES))),
            committee_size=n - 1,
            claim_threshold=(2, 3),
        )
        avs_b = AvsRules(
            address=hex0x(keccak(b"exorelay-demo/avs-b")[:20]),
            name="bridge-avs",
            asset_ids=(weth_asset,),
            # The first chain's WETH: the cumulative ledger and its roots are that chain's.
            reward_tokens=((weth, 2),),
            committee_size=n,
            claim_threshold=(4, 5),
            min_operator_stake_usd="1000",
            # Paid by cumulative roots (FEES, oracle-avs's WETH source, pays per distribution only).
            payout_mode=PayoutMode.CUMULATIVE,
        )
        self.avs_rules = (avs_a, avs_b)
        sent = {"operators": 0, "keys": 0, "delegations": 0}
        progress = self.progress()
        with progress:
            t_ops = progress.add_task("operators registered", total=n, status="")
            t_keys = progress.add_task("BLS keys registered (opt-ins)", total=2 * n, status="")
            t_del = progress.add_task("delegations committed", total=stakers + 2 * n, status="")
            accounts = []
            for index in range(n):
                self.check_stop()
                account = client.register_operator(index, COMMISSIONS[index % len(COMMISSIONS)])
                accounts.append(account)
                sent["operators"] += 1
                progress.update(t_ops, completed=sent["operators"])
            for rules in (avs_a, avs_b):
                client.register_avs(rules)
            for index in range(n):
                for rules in (avs_a, avs_b):
                    self.check_stop()
                    client.opt_in(index, rules.address)
                    sent["keys"] += 1
                    progress.update(t_keys, completed=sent["keys"])
            self.check_stop()
            per_chain: list[list[tuple[Address, str, OperatorAddress, int]]] = [[] for _ in self.chains]
            for index in range(stakers):
                chain = staker_chain(index, len(self.chains))
                per_chain[chain].append(
                    (
                        staker_address(client.seed, index),
                        chain_assets[chain][index % 2],
                        accounts[index % n],
                        (index % 7 + 1) * 10**18,
                    )
                )
            per_chain[0] += [
                (a.address, weth_asset, a, (index + 1) * 10**17) for index, a in enumerate(accounts)
            ]
            # The staker that later claims for itself: a dust deposit with every operator.
            per_chain[0] += [(self.self_claimer, weth_asset, a, SELF_CLAIM_STAKE_WEI) for a in accounts]
            for view, stakes in zip(self.chains, per_chain, strict=True):
                self.check_stop()
                # RestakingVault deposits on that chain; returns once Exocore shows every one as stake.
                self.stake_on(view, stakes)
                sent["delegations"] += len(stakes)
                progress.update(
                    t_del,
                    completed=sent["delegations"],
                    status=f"{view.name}: L1 deposits staked on Exocore",
                )
        height = client.advance(1)
        epoch = (height - 1) // stack.epoch_blocks + 2
        client.advance(stack.epoch_blocks)
        for rules in (avs_a, avs_b):
            self.committees[rules.address] = client.wait_for_committee(rules.address, epoch)
        self.track(
            "committees",
            [
                Gauge(
                    f"committee of {rules.name} (epoch {epoch}) indexed",
                    partial(self.committee_indexed, rules.address, epoch),
                )
                for rules in (avs_a, avs_b)
            ],
        )
        self.show_avss(epoch)

    def stake_on(
        self, chain: ClientChainView, stakes: Sequence[tuple[Address, str, OperatorAddress, int]]
    ) -> None:
        """``stakes`` deposited into ``chain``'s RestakingVault by each staker; returns once Exocore
        has applied every one of them (its count of that chain's L1 requests reached the last id)."""
        if not stakes:
            return
        if chain.index == 0:
            self.scenario.delegate_many(stakes)
            return
        last = L1Staker.for_manifest(chain.entry).delegate(
            [
                L1Stake(staker, operator.address, AssetId.parse(asset).token, amount)
                for staker, asset, operator, amount in stakes
            ]
        )
        deadline = time.monotonic() + STAKE_APPLIED_TIMEOUT_S
        while self.scenario.asset_custody(stakes[0][1]).l1_requests_applied < last:
            self.check_stop()
            if time.monotonic() > deadline:
                raise DemoError(f"Exocore did not apply {chain.name}'s deposits up to request {last}")
            self.stop.wait(POLL_INTERVAL_S)

    def asset_label(self, asset: str) -> str:
        """``WETH on chain 31338``: an asset id's token symbol and the client chain it lives on."""
        parsed = AssetId.parse(asset)
        token = "0x" + parsed.token.hex()
        lz = int(self.require(self.stack).manifest["exocore"]["lz_chain_id"])
        chain = self.chains[0].chain_id if parsed.lz_chain_id == lz else parsed.lz_chain_id
        return f"{self.symbol(token)} on chain {chain}"

    def committee_indexed(self, avs: str, epoch: int) -> tuple[int, int, str]:
        found = self.scalar(
            select(func.count())
            .select_from(committee_table)
            .where(committee_table.c.avs_address == avs, committee_table.c.epoch == epoch)
        )
        return int(found or 0), 1, "in the database" if found else "waiting for the election block"

    def show_avss(self, epoch: int) -> None:
        rules = self.require(self.avs_rules)
        table = Table(title="AVSs and their election rules (from the indexer)", box=box.SIMPLE_HEAD)
        for column in ("AVS", "address", "assets counted", "reward token", "claim quorum", "committee"):
            table.add_column(column)
        for avs in (r.address for r in rules):
            row = self.rows(select(avs_table).where(avs_table.c.avs_address == avs))[0]
            committee = self.rows(
                select(committee_table).where(
                    committee_table.c.avs_address == avs, committee_table.c.epoch == epoch
                )
            )[0]
            members = self.scalar(
                select(func.count())
                .select_from(committee_member_table)
                .where(committee_member_table.c.committee_id == committee.id)
            )
            assets = ", ".join(self.asset_label(a) for a in row.asset_ids)
            reward = ", ".join(
                f"{self.symbol(t['token'])} ({FundingMode(int(t['funding'])).name})"
                for t in row.reward_tokens
            )
            table.add_row(
                row.name,
                short_hex(avs, 12),
                assets,
                reward,
                f"> {row.threshold_numerator}/{row.threshold_denominator} of power",
                f"{members} elected at height {committee.elected_height}",
            )
        self.show(table)
        for avs in (r.address for r in rules):
            committee = self.rows(
                select(committee_table).where(
                    committee_table.c.avs_address == avs, committee_table.c.epoch == epoch
                )
            )[0]
            members = self.rows(
                select(committee_member_table)
                .where(committee_member_table.c.committee_id == committee.id)
                .order_by(committee_member_table.c.member_index)
            )
            table = Table(
                title=f"{self.avs_name(avs)} committee, epoch {epoch}",
                box=box.SIMPLE_HEAD,
            )
            for column in ("#", "operator", "BLS key"):
                table.add_column(column)
            for column in ("voting power (USD of counted stake)", "share"):
                table.add_column(column, justify="right")
            for member in members:
                table.add_row(
                    str(member.member_index),
                    short_operator(member.operator),
                    short_hex(member.bls_pubkey, 14),
                    format_power(int(member.power)),
                    format_share(int(member.power), int(committee.total_power)),
                )
            self.show(table)

    # ------------------------------------------------------------------ 3. validator-set change

    def change_valset(self) -> None:
        client = self.scenario
        self.chapter(
            3,
            "A validator joins Exocore's relay set",
            "Exocore hands over to a new validator set with a VALSET_UPDATE packet signed by the old set."
            " Every later packet is signed by the new set, so the relayer must install it on L1 first.",
        )
        before = self.current_valset()
        self.valset_nonce_before = int(before.valset_nonce)
        power = max(int(m.power) for m in before.members)
        secret = bls.secret_key_from_seed(VALIDATOR_KEY_MATERIAL)
        consensus_key = hashlib.sha256(VALIDATOR_KEY_MATERIAL).digest()
        client.send(validator_msg(consensus_key, secret, power))
        # The rotation happens at the next block's begin-block; packets after it carry the new nonce.
        client.advance(2)
        self.track("valset", [Gauge("VALSET_UPDATE packet created and indexed", self.valset_packet)])
        after = self.current_valset()
        packet = self.rows(select(packet_table).where(packet_table.c.kind == PacketKind.VALSET_UPDATE))[0]
        self.console.print(
            f"Exocore's relay set: valset #{before.valset_nonce} ({len(before.members)} validators, power"
            f" {before.total_power}) → valset #{after.valset_nonce} ({len(after.members)} validators, power"
            f" {after.total_power}) at height {after.created_height}.\n"
            f"VALSET_UPDATE packet #{packet.nonce} (Exocore height {packet.exocore_height}) is signed by"
            f" valset #{packet.valset_nonce}; packets after it are signed by valset #{after.valset_nonce},"
            f" which L1 (trusting valset #{self.gateway.functions.currentValsetNonce().call()} now) only"
            " accepts once the relayer has installed it."
        )

    def current_valset(self) -> Any:
        return self.scenario.relay.CurrentValset(
            relay_query.QueryCurrentValsetRequest(), timeout=API_REQUEST_TIMEOUT_S
        ).valset

    def valset_packet(self) -> tuple[int, int, str]:
        found = self.scalar(
            select(func.count())
            .select_from(packet_table)
            .where(packet_table.c.kind == PacketKind.VALSET_UPDATE)
        )
        return min(int(found or 0), 1), 1, "in the database" if found else "waiting for the rotation block"

    # ------------------------------------------------------------------ 4. claims

    def submit_claims(self) -> None:
        stack = self.require(self.stack)
        avs_a, avs_b = self.require(self.avs_rules)
        self.chapter(
            4,
            "Reward claims signed by the committees",
            "A claim needs committee signatures (one aggregate BLS signature) over more than its AVS's share"
            " of voting power. Each AVS opens its claim at the aggregator; every committee member's own"
            " `exorelay operator` process checks it and signs it; the aggregator verifies each signature,"
            " submits the aggregate once the threshold is crossed, and Exocore then splits the amount into"
            " staker and commission leaves. oracle-avs pays per distribution: each of its claims gets its"
            " own Merkle tree and REWARD_DISTRIBUTION packet. bridge-avs pays cumulatively: its claim"
            " accrues into each earner's running total (no packet of its own), and one CUMULATIVE_ROOT"
            " per period covers all of its earners, however many distributions they earned in.",
        )
        committee_a, committee_b = self.committees[avs_a.address], self.committees[avs_b.address]
        stack.fund_avs_eth(avs_b.address, CLAIM_B_WEI, account_index=FUNDER_ACCOUNT_INDEX)
        weth = self.weth.address
        deposit = self.reward_vault.functions.balanceOf(Web3.to_checksum_address(avs_b.address), weth).call()
        self.console.print(
            f"{avs_b.name} deposited ETH into the RewardVault on {self.chains[0].name}, which now holds"
            f" {self.amount(deposit, weth)} for it"
        )
        self.deposit_fees(avs_a.address)
        self.show_step_0()
        self.collect_claims(committee_a, committee_b)
        self.track(
            "claims",
            [
                Gauge(
                    f"claim {label} decided by Exocore",
                    partial(self.claim_decided, claim_id),
                )
                for label, claim_id in self.claim_ids.items()
            ],
        )
        self.show_claims()

    def deposit_fees(self, avs: str) -> None:
        """The AVS deposits transaction fees it collected on L1 into its FEES source, on each client
        chain (a FEES distribution pays each chain's stakers from that chain's RewardVault); Exocore
        learns of the deposits from L1 (the devnet's followers) before a FEES claim can be distributed."""
        stack = self.require(self.stack)
        weth = self.weth.address
        held = []
        for chain in self.chains:
            stack.deposit_fees_eth(
                avs, FEES_DEPOSIT_WEI, account_index=FUNDER_ACCOUNT_INDEX, chain=chain.index
            )
            fees = chain.reward_vault.functions.feeBalanceOf(Web3.to_checksum_address(avs), weth).call()
            held.append(f"{self.amount(fees, weth)} on {chain.name}")
        node = self.require(stack.devnet).node
        key = (Address(bytes.fromhex(avs[2:])), Address(bytes.fromhex(weth[2:])))
        deadline = time.monotonic() + FEES_RECORDED_TIMEOUT_S
        while True:
            # Exocore keeps a FEES source per client chain: each chain's leaves are paid from its vault.
            with node.lock:
                recorded = [node.state.fees_available(*key, chain.chain_id) for chain in self.chains]
            if min(recorded) >= FEES_DEPOSIT_WEI or time.monotonic() > deadline:
                break
            self.check_stop()
            time.sleep(POLL_INTERVAL_S)
        if min(recorded) < FEES_DEPOSIT_WEI:
            raise DemoError(f"Exocore never recorded {self.avs_name(avs)}'s fee deposits from L1")
        at_most = ", ".join(
            f"{self.amount(amount, weth)} on {chain.name}"
            for chain, amount in zip(self.chains, recorded, strict=True)
        )
        self.console.print(
            f"{self.avs_name(avs)} deposited {self.amount(FEES_DEPOSIT_WEI, weth)} of transaction fees into"
            f" its FEES source in the RewardVault of each of the {len(self.chains)} client chains"
            f" (depositFees; kept apart from deposits: the vaults hold {', '.join(held)} of fees for it);"
            f" Exocore learned of them from L1 and will distribute at most {at_most}"
        )

    def show_step_0(self) -> None:
        """Step 0, as ``exorelay health-check`` checks it: may the L1 contracts issue or transfer each
        reward token the AVSs on Exocore name?"""
        report = reward_token_report(self.require(self.config))
        self.console.print(
            "Step 0 (exorelay health-check): each reward token grants the L1 contracts what its funding"
            " mode needs"
        )
        for check in report.checks:
            self.console.print(f"  {check.verdict:<4}  {check.name}: {check.detail}")
        if not report.ok:
            raise DemoError("step 0 failed: " + "; ".join(check.detail for check in report.failures))

    def claim_decided(self, claim_id: str) -> tuple[int, int, str]:
        state = self.scalar(select(claim_table.c.state).where(claim_table.c.claim_id == claim_id))
        # Collecting: the indexer has the aggregator's row but not yet Exocore's decision.
        undecided = (ClaimState.COLLECTING, ClaimState.SUBMITTED, ClaimState.VERIFIED)
        decided = state is not None and state not in undecided
        return int(decided), 1, state or "not indexed yet"

    def show_claims(self) -> None:
        table = Table(title="Claims as Exocore decided them (from the indexer)", box=box.SIMPLE_HEAD)
        for column in (
            "claim",
            "id",
            "AVS",
            "amount",
            "signers",
            "signed power",
            "share",
            "needs",
            "state",
            "distribution",
        ):
            table.add_column(column)
        rejections = []
        for label, claim_id in self.claim_ids.items():
            row = self.rows(select(claim_table).where(claim_table.c.claim_id == claim_id))[0]
            signers = self.scalar(
                select(func.count())
                .select_from(claim_signer_table)
                .where(claim_signer_table.c.claim_id == claim_id)
            )
            committee = self.committees[row.avs_address]
            signed, total = int(row.signed_power or 0), int(row.total_power or 0)
            outcome = row.reason_code or "-"
            if row.distribution_id:
                outcome = ", ".join(
                    f"#{dist.nonce}: {dist.leaf_count} leaves on chain {dist.chain_id}"
                    for dist in self.distributions_of(claim_id)
                )
            elif row.state == ClaimState.ACCRUED:
                outcome = "accrued (no packet)"
            if row.state == ClaimState.REJECTED:
                rejections.append(f"claim {label} rejected by Exocore ({row.reason_code}): {row.reason}")
                if total and row.threshold_numerator is not None:
                    rejections.append(
                        f"  that is {format_power(signed)} of {format_power(total)}"
                        f" ({format_share(signed, total)}); it needs more than"
                        f" {format_share(row.threshold_numerator, row.threshold_denominator)}"
                    )
            table.add_row(
                label,
                short_hex(claim_id),
                self.avs_name(row.avs_address),
                self.amount(int(row.total_amount), row.token),
                f"{signers} of {len(committee.pubkeys)}",
                format_power(signed) if total else "-",
                format_share(signed, total),
                f"> {row.threshold_numerator}/{row.threshold_denominator}"
                if row.threshold_numerator is not None
                else "-",
                row.state,
                outcome,
            )
        self.show(table)
        for line in rejections:
            self.console.print(line)

    # ------------------------------------------------------------------ the AVS side (operators, aggregator)

    def start_avs(self) -> None:
        """The aggregator and one ``exorelay operator`` process per operator, each with its own config
        and keystores; the weakest member of the 4/5 committee is left offline (its process is never
        started), and one running member is the "rogue" of :meth:`collect_claims`."""
        stack = self.require(self.stack)
        avs_a, avs_b = self.require(self.avs_rules)
        committee_a, committee_b = self.committees[avs_a.address], self.committees[avs_b.address]
        weakest = weakest_first(committee_b.powers)[0]
        if weakest in enough_signers(committee_b.powers, avs_b.claim_threshold):
            raise DemoError(f"{avs_b.name} needs every member: no operator can be offline")
        self.offline = committee_b.operators[weakest]
        self.rogue = next(op for op in committee_a.operators[1:] if op != self.offline)
        policies = {
            avs_a.address: {
                avs_a.reward_tokens[0][0]: POLICY_FACTOR * CLAIM_A_UNITS,
                avs_a.reward_tokens[1][0]: POLICY_FACTOR * CLAIM_D_WEI,
            },
            avs_b.address: {avs_b.reward_tokens[0][0]: POLICY_FACTOR * CLAIM_B_WEI},
        }
        exocore = stack.manifest["exocore"]
        self.avs_processes = AvsProcesses(
            home=self.home,
            manifest=stack.manifest,
            database_url=self.database_url,
            keystore_dir=Path(exocore["operator_keys_dir"]),
            avs_policies=policies,
        )
        members = sorted(set(committee_a.operators) | set(committee_b.operators))
        with self.console.status("Starting the aggregator and the operators' processes…"):
            self.avs_processes.start_aggregator()
            for account in members:
                if account != self.offline:
                    self.avs_processes.start_operator(account)
            self.avs_processes.wait_ready()
        procs = self.avs_processes.processes
        self.console.print(
            f"aggregator {self.avs_processes.url} (pid {procs['aggregator'].pid}; its own Exocore account"
            f" submits the aggregates) · {len(procs) - 1} operator processes, each with its own config,"
            f" keystores and slashing-protection database · offline (never started):"
            f" {short_operator(self.offline)}"
        )

    @property
    def avs(self) -> AvsProcesses:
        return self.require(self.avs_processes)

    def collect_claims(self, committee_a: CommitteeView, committee_b: CommitteeView) -> None:
        """Claims A and B opened by their AVSs and signed by the operators' processes; a rogue post over
        a different payload in A's slot; claim C, a second claim in B's slot, left to expire."""
        avs_a, avs_b = self.require(self.avs_rules)
        chain_id = self.scenario.chain_id
        claim_a = reward_claim(
            chain_id, avs_a.address, committee_a.epoch, avs_a.reward_tokens[0][0], CLAIM_A_UNITS
        )
        claim_b = reward_claim(
            chain_id, avs_b.address, committee_b.epoch, avs_b.reward_tokens[0][0], CLAIM_B_WEI
        )
        claim_d = reward_claim(
            chain_id, avs_a.address, committee_a.epoch, avs_a.reward_tokens[1][0], CLAIM_D_WEI
        )
        for label, claim in (("A", claim_a), ("B", claim_b), ("D", claim_d)):
            self.avs.open(claim)
            self.claim_ids[label] = digest_of(claim)
        # The rogue's own process signs A honestly; then its key signs a different amount in A's slot.
        digest_a = self.claim_ids["A"]
        wait_for_signature(self.avs, digest_a, self.rogue, STEP_TIMEOUT_S)
        secret = member_secret(self.avs.keystore_dir, self.rogue, avs_a.address)
        refusal = self.avs.post_rogue(conflicting_claim(claim_a), self.rogue, secret)
        if refusal is None:
            raise DemoError("the aggregator accepted a conflicting signature")
        self.rogue_refusal = refusal
        decided = frozenset({"verified", "rejected", "expired"})
        wait_for(self.avs, self.claim_ids.values(), decided, STEP_TIMEOUT_S)
        # Opened once B is settled: every operator that signed B refuses a second digest in its slot.
        claim_c = reward_claim(
            chain_id, avs_b.address, committee_b.epoch, avs_b.reward_tokens[0][0], CLAIM_C_WEI
        )
        self.avs.open(claim_c)
        self.expiring["C"] = digest_of(claim_c)
        self.show_collections()

    def show_collections(self) -> None:
        """What the aggregator collected (its own documents, GET /v1/requests/{digest})."""
        table = Table(title="Signature collection (from the aggregator)", box=box.SIMPLE_HEAD)
        for column in (
            "claim",
            "id",
            "AVS",
            "signed by",
            "signed power",
            "needed",
            "state",
            "submitted at height",
        ):
            table.add_column(column)
        labelled = [*self.claim_ids.items(), *self.expiring.items()]
        for label, digest in labelled:
            doc = self.avs.document(digest)
            accepted = [s for s in doc["signatures"] if s["verdict"] == "accepted"]
            submission = doc["submission"] or {}
            table.add_row(
                label,
                short_hex(digest),
                self.avs_name(doc["avs"]),
                f"{len(accepted)} of {doc['committee_size']}",
                format_power(int(doc["signed_power"])),
                format_power(int(doc["threshold_power"])),
                doc["state"],
                str(submission["height"]) if submission.get("height") is not None else "-",
            )
        self.show(table)
        refusal = self.rogue_refusal
        if refusal is not None:
            self.console.print(
                f"rogue signer {short_operator(self.rogue)} (simulates a compromised key: an honest"
                " `exorelay operator` never signs two payloads in one slot) signed claim A with one more"
                f" base unit: refused by the aggregator, HTTP {refusal.status} {refusal.code}"
            )
            evidence = [e for e in self.avs.evidence_rows() if e["operator"] == self.rogue]
            self.console.print(
                f"  conflicting signatures kept as evidence by the aggregator: {len(evidence)}"
            )
        self.console.print(
            f"offline operator {short_operator(self.offline)}: no process, no signature; the others' power"
            " still crosses the thresholds"
        )

    def claim_expired(self, digest: str) -> tuple[int, int, str]:
        state = str(self.avs.document(digest)["state"])
        return int(state == "expired"), 1, state

    def show_expired_claims(self) -> None:
        """Claim C: no operator signs a second digest in claim B's slot, so it expires unsubmitted."""
        self.track(
            "claims left at the aggregator",
            [
                Gauge(f"claim {label} expired at the aggregator", partial(self.claim_expired, digest))
                for label, digest in self.expiring.items()
            ],
        )
        for label, digest in self.expiring.items():
            doc = self.avs.document(digest)
            self.console.print(
                f"claim {label} expired at the aggregator ({len(doc['signatures'])} signatures: every running"
                f" operator had signed claim B in this slot and refused it): {doc['state_reason']}"
            )

    def collect_slash(self, committee: CommitteeView, target: str) -> str:
        """A slash request against ``target`` with equivocation evidence, opened by the AVS at the
        aggregator and signed by the operators' processes once each has checked the evidence."""
        avs_a = self.require(self.avs_rules)[0]
        secret = member_secret(self.avs.keystore_dir, target, avs_a.address)
        request, evidence = equivocation_slash(
            self.scenario.chain_id,
            avs_a.address,
            committee.epoch,
            target,
            secret,
            task_id=COMMITTEE_SLASH_TASK_ID,
            proportion=SLASH_PROPORTION,
        )
        self.avs.open(request, evidence)
        digest = digest_of(request)
        (doc,) = wait_for(
            self.avs, [digest], frozenset({"verified", "rejected", "expired"}), STEP_TIMEOUT_S
        ).values()
        accepted = [s for s in doc["signatures"] if s["verdict"] == "accepted"]
        self.console.print(
            f"committee slash of {short_operator(target)} collected by the aggregator: {len(accepted)} of"
            f" {doc['committee_size']} signed, {format_power(int(doc['signed_power']))} of"
            f" {format_power(int(doc['total_power']))} (needs {format_power(int(doc['threshold_power']))});"
            f" {doc['state']} on Exocore"
        )
        return digest

    # ------------------------------------------------------------------ 5. relay and payouts

    def relay_and_pay(self) -> None:
        self.chapter(
            5,
            "Relay to L1 and payouts",
            "The relayer aggregates the validators' signatures, submits each packet to the gateway, waits for"
            " confirmation, then pays the leaves in batches with Merkle multiproofs: claim A's EXOR is minted"
            " (MINT), claim D's WETH comes out of the transaction fees its AVS deposited (FEES). Claim B"
            " accrued: the relayer relays the period's one cumulative root and pushes each earner's total"
            " from bridge-avs's RewardVault deposit (VAULT), one root for all of its stakers instead of"
            " one packet per distribution. A claim over stake on both client chains is one distribution"
            " per chain, each with only that chain's stakers, delivered to and paid by that chain's"
            " gateway. The relayer pushes only totals worth it (WETH: at least"
            f" {format_units(CUMULATIVE_PUSH_MINIMUM_WEI)}); smaller ones accrue, and the staker holding"
            " its own key claims its total itself with exorelay claim.",
        )
        paid = [self.claim_ids[label] for label in PAID_CLAIMS]
        accrued = self.claim_ids[ACCRUED_CLAIM]
        self.track(
            "relay and payouts",
            [
                Gauge("packets delivered to L1 (relay jobs)", self.jobs_delivered),
                *(
                    Gauge(
                        f"claim {label} payouts finalized on L1",
                        partial(self.payouts, self.claim_ids[label]),
                    )
                    for label in PAID_CLAIMS
                ),
                Gauge(f"claim {ACCRUED_CLAIM} earners paid under the cumulative root", self.cumulative_paid),
            ],
            until=lambda: (
                all(self.claim_state(c) == ClaimState.PAID for c in paid)
                and self.claim_state(accrued) == ClaimState.ACCRUED
                and self.cumulative_done()
            ),
        )
        self.self_claim()
        self.show_packets()
        table = Table(
            title="Distributions on L1, one per claim and client chain (each chain's gateway views)",
            box=box.SIMPLE_HEAD,
        )
        for column in (
            "claim",
            "client chain",
            "funding",
            "leaves",
            "total",
            "paid on L1",
            "payout rows finalized (DB)",
        ):
            table.add_column(column)
        for label in PAID_CLAIMS:
            for row in self.distributions_of(self.claim_ids[label]):
                chain = self.chain_by_id(row.chain_id)
                view = chain.gateway.functions.distribution(bytes.fromhex(row.distribution_id[2:])).call()
                _root, token, leaf_count, funding, _avs, _epoch, total, paid_total = view
                finalized = self.scalar(
                    select(func.count())
                    .select_from(payout_table)
                    .where(
                        payout_table.c.distribution_id == row.distribution_id,
                        payout_table.c.state == "finalized",
                    )
                )
                table.add_row(
                    label,
                    str(chain.chain_id),
                    FundingMode(funding).name,
                    str(leaf_count),
                    self.amount(total, token),
                    self.amount(paid_total, token),
                    f"{finalized} of {leaf_count}",
                )
        self.show(table)
        self.show_cumulative()
        self.show_paid_per_chain()
        self.show_community_pool()
        avs_b = self.require(self.avs_rules)[1].address
        left = self.reward_vault.functions.balanceOf(
            Web3.to_checksum_address(avs_b), self.weth.address
        ).call()
        self.console.print(
            f"RewardVault deposit of {self.avs_name(avs_b)} after its payouts:"
            f" {self.amount(left, self.weth.address)} (the part of claim B no earner's total carries stays"
            " there)"
        )
        self.show_reward_sources()

    def show_reward_sources(self) -> None:
        """Per client chain, AVS, token and source: funded, distributed, paid, held
        (GET /v1/reward-sources?chain_id=)."""
        table = Table(
            title="Reward sources per client chain (from the API: /v1/reward-sources?chain_id=)",
            box=box.SIMPLE_HEAD,
        )
        for column in (
            "client chain",
            "AVS",
            "token",
            "source",
            "funded",
            "distributed",
            "paid on L1",
            "held in the vault",
        ):
            table.add_column(column)
        rows = [
            (chain, source)
            for chain in self.chains
            for source in self.api_get("/v1/reward-sources", chain_id=chain.chain_id)["sources"]
        ]
        for chain, source in rows:
            token = source["token"]
            table.add_row(
                str(chain.chain_id),
                self.avs_name(source["avs_address"]),
                self.symbol(token),
                source["source_name"],
                "minted as paid" if source["funded"] is None else self.amount(int(source["funded"]), token),
                self.amount(int(source["distributed"]), token),
                self.amount(int(source["paid"]), token),
                "-" if source["held"] is None else self.amount(int(source["held"]), token),
            )
        self.show(table)

    def show_community_pool(self) -> None:
        """Where the part of each claim no leaf carries went (from the API's distribution)."""
        for label in PAID_CLAIMS:
            claim = self.api_get(f"/v1/claims/{self.claim_ids[label]}")
            token, claimed = claim["token"], int(claim["total_amount"])
            # One distribution per client chain: the leaves and the tax are summed over them.
            dists = [
                self.api_get(f"/v1/distributions/{row.distribution_id}")
                for row in self.distributions_of(self.claim_ids[label])
            ]
            total = sum(int(dist["total"]) for dist in dists)
            tax = sum(int(dist["community_tax"] or 0) for dist in dists)
            pool = claimed - total
            self.console.print(
                f"claim {label}: {self.amount(claimed, token)} claimed, {self.amount(total, token)} in leaves"
                f" on {len(dists)} client chain(s) ({format_share(total, claimed)}); Exocore's community"
                f" pool keeps {self.amount(pool, token)}: the community tax"
                f" {self.amount(tax, token)} ({format_share(tax, claimed)}) and {pool - tax:,} base units of"
                " rounding dust"
            )

    def cumulative_paid(self) -> tuple[int, int, str]:
        """Earners paid under the cumulative roots (indexed payouts) of the roots' earners the push
        policy pays (those owed less than the minimum are left to accrue)."""
        earners = int(self.scalar(select(func.count()).select_from(cumulative_leaf_table)) or 0)
        paid = int(self.scalar(select(func.count()).select_from(cumulative_payout_table)) or 0)
        roots = int(self.scalar(select(func.count()).select_from(cumulative_root_table)) or 0)
        if not earners:
            return paid, earners, "waiting for the root"
        below = len(self.below_push_minimum())
        return paid, earners - below, f"{roots} root(s) accepted on L1, {below} earner(s) left to accrue"

    def cumulative_done(self) -> bool:
        """Every earner the push policy pays is paid."""
        paid, pushable, _ = self.cumulative_paid()
        return pushable > 0 and paid >= pushable

    def below_push_minimum(self) -> list[Any]:
        """Cumulative leaves the relayer leaves to accrue: owed less than the push minimum."""
        return [
            leaf
            for leaf in self.rows(select(cumulative_leaf_table))
            if int(leaf.cumulative) < CUMULATIVE_PUSH_MINIMUM_WEI
        ]

    @property
    def self_claimer(self) -> Address:
        """The staker that claims for itself (its key: anvil dev account SELF_CLAIM_ACCOUNT_INDEX)."""
        anvil = self.require(self.require(self.stack).anvil)
        return Address(bytes.fromhex(anvil.dev_accounts()[SELF_CLAIM_ACCOUNT_INDEX].address[2:]))

    def self_claim(self) -> None:
        """The self-claiming staker, owed less than the push minimum, claims with its own key through
        ``exorelay claim --send`` (a child process with a config and keystore of its own, as a user runs
        it); the indexer records the payout as the earner's own and the API shows it."""
        anvil = self.require(self.require(self.stack).anvil)
        account = anvil.dev_accounts()[SELF_CLAIM_ACCOUNT_INDEX]
        earner = account.address.lower()
        below = self.below_push_minimum()
        mine = [leaf for leaf in below if leaf.earner == earner]
        if len(mine) != 1:
            raise DemoError(f"the self-claiming staker {earner} has no cumulative leaf below the minimum")
        (leaf,) = mine
        token, owed = leaf.token, int(leaf.cumulative)
        vault = self.reward_vault.functions
        checksum = Web3.to_checksum_address(earner)
        before = int(vault.claimed(checksum, Web3.to_checksum_address(token)).call())
        others = len(below) - 1
        self.console.print(
            f"staker {earner} is owed {self.exact(owed, token)} under the root, below the push minimum"
            f" {self.amount(CUMULATIVE_PUSH_MINIMUM_WEI, token)}: the relayer leaves it to accrue"
            f" ({others} other earner(s) below it too); claimed so far on L1: {self.exact(before, token)}."
            " It claims for itself with its own key: exorelay claim --send"
        )
        claim_home = self.home / "self-claim"
        claim_home.mkdir(parents=True, exist_ok=True)
        keystore = claim_home / "staker.json"
        write_keystore(
            keystore,
            bytes(account.private_key),
            SELF_CLAIM_KEYSTORE_PASSWORD,
            kdf="pbkdf2",
            iterations=SELF_CLAIM_KEYSTORE_ITERATIONS,
        )
        password = claim_home / "password"
        password.write_text(SELF_CLAIM_KEYSTORE_PASSWORD + "\n", encoding="utf-8")
        config = self.require(self.config)
        first = self.chains[0]
        chain = config.chains[0]
        config_file = claim_home / "exorelay.toml"
        # The staker's own config: where Exocore and its chain are, and its keystore (no database).
        config_file.write_text(
            "[exocore]\n"
            f"chain_id = {json.dumps(config.exocore.chain_id)}\n"
            f"rpc_urls = {json.dumps([str(u) for u in config.exocore.rpc_urls])}\n"
            f"grpc_endpoints = {json.dumps(list(config.exocore.grpc_endpoints))}\n"
            "\n[l1]\n"
            f"chain_id = {first.chain_id}\n"
            f"rpc_urls = {json.dumps([str(u) for u in chain.rpc_urls])}\n"
            f'gateway_address = "{chain.gateway_address}"\n'
            f"keystore_path = {json.dumps(str(keystore))}\n"
            f"keystore_password_file = {json.dumps(str(password))}\n",
            encoding="utf-8",
        )
        command = [
            sys.executable,
            "-m",
            "relayer",
            "claim",
            earner,
            "--send",
            "--no-leaves",
            "--chain-id",
            str(first.chain_id),
            "--config",
            str(config_file),
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("EXORELAY_")}
        with self.console.status("The staker runs exorelay claim --send…"):
            done = subprocess.run(  # noqa: S603 - our own CLI, arguments we built
                command,
                capture_output=True,
                text=True,
                env=env,
                timeout=SELF_CLAIM_TIMEOUT_S,
                check=False,
            )
        self.check_stop()
        if done.returncode != 0:
            raise DemoError(f"exorelay claim --send failed ({done.returncode}): {done.stderr.strip()}")
        result = json.loads(done.stdout)
        tx_hash = str(result["tx"])
        self.console.print(
            f"$ exorelay claim {earner} --send --no-leaves --chain-id {first.chain_id} --config"
            f" {config_file.relative_to(self.home)}"
        )
        self.console.print(
            f"  {result['status']}: transaction {tx_hash} from {str(result['from']).lower()} to the"
            f" RewardVault ({str(result['to']).lower()}), signed with the staker's own keystore"
        )
        self.track(
            "self-claim",
            [
                Gauge(
                    "the staker's own claim indexed (by_earner)", partial(self.self_claimed, earner, tx_hash)
                )
            ],
        )
        answer = self.api_get(f"/v1/stakers/{earner}/cumulative", chain_id=first.chain_id)
        (shown,) = [t for t in answer["tokens"] if t["token"] == token]
        payouts = [p for p in answer["payouts"] if p["token"] == token]
        after = int(vault.claimed(checksum, Web3.to_checksum_address(token)).call())
        self.console.print(
            f"API /v1/stakers/{earner}/cumulative: paid by the earner"
            f" {self.exact(int(shown['paid_by_earner']), token)}, pushed by the relayer"
            f" {self.exact(int(shown['paid_pushed']), token)}, claimable"
            f" {self.exact(int(shown['claimable']), token)}; payouts: "
            + ", ".join(
                f"{self.exact(int(p['amount']), token)} {'self-claimed' if p['by_earner'] else 'pushed'}"
                f" in {p['tx_hash']}"
                for p in payouts
            )
        )
        self.console.print(
            f"RewardVault claimed({earner}) on L1: {self.exact(after, token)} of"
            f" {self.exact(owed, token)}: nothing is left for the relayer to push, so it never pays the"
            " staker again"
        )

    def self_claimed(self, earner: str, tx_hash: str) -> tuple[int, int, str]:
        rows = self.rows(
            select(cumulative_payout_table).where(
                cumulative_payout_table.c.earner == earner, cumulative_payout_table.c.by_earner.is_(True)
            )
        )
        found = [r for r in rows if r.tx_hash == tx_hash]
        return len(found), 1, "indexed from the vault's CumulativePaid log" if found else "waiting"

    def show_cumulative(self) -> None:
        """Claim B's payouts: one root for every earner of the period, each earner pushed its total."""
        table = Table(title="Cumulative roots on L1, per client chain (indexed)", box=box.SIMPLE_HEAD)
        for column in ("client chain", "period", "packet", "earners", "total", "pushed on L1 (DB)"):
            table.add_column(column)
        roots = self.rows(
            select(cumulative_root_table).order_by(
                cumulative_root_table.c.l1_chain_id, cumulative_root_table.c.period
            )
        )
        for root in roots:
            # A root's leaves are its packet's; its pushes are that period's on the root's chain.
            leaves = self.rows(
                select(cumulative_leaf_table).where(cumulative_leaf_table.c.packet_nonce == root.packet_nonce)
            )
            payouts = self.rows(
                select(cumulative_payout_table).where(
                    cumulative_payout_table.c.period == root.period,
                    cumulative_payout_table.c.l1_chain_id == root.l1_chain_id,
                )
            )
            tokens = sorted({leaf.token for leaf in leaves})
            table.add_row(
                str(root.l1_chain_id),
                str(root.period),
                f"#{root.packet_nonce}",
                str(len(leaves)),
                " + ".join(
                    self.amount(sum(int(leaf.cumulative) for leaf in leaves if leaf.token == t), t)
                    for t in tokens
                ),
                f"{len(payouts)} earners, "
                + " + ".join(
                    self.amount(sum(int(p.amount) for p in payouts if p.token == t), t) for t in tokens
                ),
            )
        self.show(table)
        avs_b = self.avs_name(self.require(self.avs_rules)[1].address)
        self.console.print(
            f"claim {ACCRUED_CLAIM} ({avs_b}) accrued: one root carries every earner's total, where per"
            " distribution each claim is its own packet and tree"
        )

    def claim_state(self, claim_id: str) -> str | None:
        state = self.scalar(select(claim_table.c.state).where(claim_table.c.claim_id == claim_id))
        return None if state is None else str(state)

    def jobs_delivered(self) -> tuple[int, int, str]:
        rows = self.rows(select(relay_job_table.c.stage, relay_job_table.c.retry_reason))
        delivered = sum(1 for r in rows if r.stage == JobStage.DELIVERED)
        waiting = sorted({r.retry_reason for r in rows if r.retry_reason and r.stage != JobStage.DELIVERED})
        packets = int(self.scalar(select(func.count()).select_from(packet_table)) or 0)
        return delivered, max(packets, len(rows)), ", ".join(waiting)

    def payouts(self, claim_id: str) -> tuple[int, int, str]:
        """Finalized payouts of every distribution of the claim (one per client chain) of their leaves."""
        dists = self.distributions_of(claim_id)
        if not dists:
            return 0, 0, "waiting for the distribution"
        leaves = sum(int(d.leaf_count or 0) for d in dists)
        finalized = self.scalar(
            select(func.count())
            .select_from(payout_table)
            .where(
                payout_table.c.distribution_id.in_([d.distribution_id for d in dists]),
                payout_table.c.state == "finalized",
            )
        )
        chains = ", ".join(str(d.chain_id) for d in dists)
        return int(finalized or 0), leaves, f"claim {self.claim_state(claim_id)}, chains {chains}"

    def distributions_of(self, claim_id: str) -> list[Any]:
        """The claim's distributions (one per client chain with leaves) with the chain each packet is
        addressed to (``chain_id``), in packet order."""
        d, k = distribution_table, packet_table
        return self.rows(
            select(d, k.c.l1_chain_id.label("chain_id"))
            .join(k, k.c.nonce == d.c.nonce)
            .where(d.c.claim_id == claim_id)
            .order_by(d.c.nonce)
        )

    def chain_by_id(self, chain_id: int | None) -> ClientChainView:
        for chain in self.chains:
            if chain.chain_id == chain_id:
                return chain
        raise DemoError(f"no client chain {chain_id} in this demo")

    def payout_transfers(self, chain: ClientChainView, tx_hashes: set[str]) -> dict[str, int]:
        """Per token, Σ the ERC-20 ``Transfer`` logs out of the funding sources (a mint, or the chain's
        RewardVault) in ``tx_hashes``, read from ``chain``'s own node (its receipts, not the indexer)."""
        sources = {ZERO_ADDRESS, chain.reward_vault.address.lower()}
        moved: dict[str, int] = {}
        for tx_hash in sorted(tx_hashes):
            for log in chain.w3.eth.get_transaction_receipt(tx_hash)["logs"]:  # type: ignore[arg-type]
                token = str(log["address"]).lower()
                topics = log["topics"]
                if token not in chain.tokens or len(topics) != 3 or topics[0] != TRANSFER_TOPIC:
                    continue
                if "0x" + bytes(topics[1])[-20:].hex() not in sources:
                    continue
                moved[token] = moved.get(token, 0) + int.from_bytes(bytes(log["data"]), "big")
        return moved

    def show_paid_per_chain(self) -> None:
        """Per client chain and token: what the database says was paid there (per-distribution payouts
        and cumulative pushes), what the API totals for the chain, and the ERC-20 ``Transfer`` logs of
        those payout transactions read from that chain's node."""
        table = Table(
            title="Paid per client chain: database, API (/v1/stats paid_per_chain) and the chain's"
            " Transfer logs",
            box=box.SIMPLE_HEAD,
        )
        for column in (
            "client chain",
            "token",
            "per-distribution payouts (DB)",
            "cumulative pushes (DB)",
            "API total (per distribution)",
            "Transfer logs on the chain",
            "equal",
        ):
            table.add_column(column)
        per_chain = self.api_get("/v1/stats")["paid_per_chain"]
        for chain in self.chains:
            p, c = payout_table, cumulative_payout_table
            payouts = self.rows(
                select(p.c.token, p.c.amount, p.c.l1_tx_hash).where(
                    p.c.l1_chain_id == chain.chain_id, p.c.state == "finalized"
                )
            )
            pushes = self.rows(
                select(c.c.token, c.c.amount, c.c.tx_hash).where(c.c.l1_chain_id == chain.chain_id)
            )
            moved = self.payout_transfers(
                chain, {r.l1_tx_hash for r in payouts if r.l1_tx_hash} | {r.tx_hash for r in pushes}
            )
            for token in sorted(chain.tokens):
                # Summed here, not in SQL: SQLite keeps uint256 as text and would sum in floats.
                leaves = sum(int(r.amount) for r in payouts if r.token == token)
                pushed = sum(int(r.amount) for r in pushes if r.token == token)
                api = int(per_chain.get(str(chain.chain_id), {}).get(token, {}).get("finalized", 0))
                transferred = moved.get(token, 0)
                table.add_row(
                    str(chain.chain_id),
                    self.symbol(token),
                    self.amount(leaves, token),
                    self.amount(pushed, token),
                    self.amount(api, token),
                    self.amount(transferred, token),
                    "yes" if leaves + pushed == transferred and api == leaves else "NO",
                )
        self.show(table)

    def show_packets(self) -> None:
        packets = {r.nonce: r for r in self.rows(select(packet_table))}
        jobs = {r.packet_nonce: r for r in self.rows(select(relay_job_table))}
        # The relayer's own record of each packet's L1 transaction (mined, so it has a block).
        txs = {
            r.packet_nonce: r
            for r in self.rows(
                select(l1_tx_table).where(
                    l1_tx_table.c.packet_nonce.is_not(None),
                    l1_tx_table.c.purpose != "payout",
                    l1_tx_table.c.state.in_(("included", "finalized")),
                )
            )
        }
        table = Table(
            title="Relay packets per client chain, in L1 order (relayer's jobs and transactions)",
            box=box.SIMPLE_HEAD,
        )
        for column in (
            "packet",
            "kind",
            "client chain",
            "signed by valset",
            "Exocore height",
            "L1 block",
            "L1 tx",
            "job",
        ):
            table.add_column(column)

        def l1_order(nonce: int) -> tuple[int, bool, int, int]:
            # Each chain's packets together (block numbers are per chain), each chain in block order.
            tx = txs.get(nonce)
            return (packets[nonce].l1_chain_id or 0, tx is None, tx.block_number if tx else 0, nonce)

        for nonce in sorted(packets, key=l1_order):
            packet, tx, job = packets[nonce], txs.get(nonce), jobs.get(nonce)
            table.add_row(
                f"#{nonce}",
                PacketKind(int(packet.kind)).name,
                str(packet.l1_chain_id),
                f"#{packet.valset_nonce}",
                str(packet.exocore_height),
                "-" if tx is None else str(tx.block_number),
                "-" if tx is None else short_hex(tx.tx_hash),
                "-" if job is None else job.stage,
            )
        self.show(table)
        trusted = ", ".join(
            f"{chain.name} valset #{chain.gateway.functions.currentValsetNonce().call()}"
            f" ({chain.gateway.functions.valsetSize().call()} validators)"
            for chain in self.chains
        )
        self.console.print(f"L1 gateways now trust: {trusted}")

    # ------------------------------------------------------------------ 6. slashes

    def slash(self) -> None:
        client = self.scenario
        avs_a, avs_b = self.require(self.avs_rules)
        self.chapter(
            6,
            "Two slashes: a committee request and equivocation evidence",
            "A slash request collected from the committee's operator processes by the aggregator (with the"
            " equivocation evidence each operator checks before signing), and two conflicting task responses"
            " signed by one operator's key, sent to Exocore as evidence. Exocore freezes the operator and"
            " cuts its stake; a SLASH packet per client chain the operator has stake on (oracle-avs counts"
            " both chains' assets, bridge-avs the first chain's WETH) moves that chain's share of the"
            " restaked principal to the slashing sink on that chain.",
        )
        # The committees of the current epoch, not of the setup's: a committee slash is measured on
        # the stake snapshot of the epoch it names, and Exocore keeps only the last 64 epochs'
        # snapshots (128 s of 0.2 s blocks; a loaded machine reaches this chapter later than that).
        committee_a, committee_b = (client.committee(rules.address) for rules in (avs_a, avs_b))
        principal_before = {
            (chain.chain_id, address): chain.restaking_vault.functions.totalPrincipal(token.address).call()
            for chain in self.chains
            for address, token in chain.tokens.items()
        }
        target_a = committee_a.operators[0]
        self.slash_ids["committee"] = self.collect_slash(committee_a, target_a)
        index_b = next(i for i, op in enumerate(committee_b.operators) if op != target_a)
        operator_b = OperatorAddress.parse(committee_b.operators[index_b])
        evidence = equivocation_msg(
            chain_id=client.chain_id,
            avs_hex=avs_b.address,
            operator=operator_b,
            secret=client.secrets[committee_b.pubkeys[index_b]],
            task_id=EQUIVOCATION_TASK_ID,
        )
        response = client.send(evidence)
        self.slash_ids["equivocation"] = hex0x(response.slash_id)
        self.track(
            "slashes on Exocore",
            [
                Gauge(
                    f"{kind} slash executed on Exocore",
                    partial(self.slash_reached, slash_id, "executed_on_exocore"),
                )
                for kind, slash_id in self.slash_ids.items()
            ],
        )
        frozen_query = operator_grpc.QueryStub(client.channel)
        table = Table(
            title="Slashes on Exocore (indexer; freeze from Exocore's operator query)", box=box.SIMPLE_HEAD
        )
        for column in ("slash", "operator", "AVS", "proportion", "frozen on Exocore", "stake cut"):
            table.add_column(column)
        for kind, slash_id in self.slash_ids.items():
            row = self.rows(select(slash_table).where(slash_table.c.slash_id == slash_id))[0]
            assets = self.rows(select(slash_asset_table).where(slash_asset_table.c.slash_id == slash_id))
            frozen = frozen_query.QueryOperatorFrozen(
                operator_query.QueryOperatorFrozenRequest(operator=row.operator, avs_address=row.avs_address)
            )
            table.add_row(
                kind,
                short_operator(row.operator),
                self.avs_name(row.avs_address),
                row.slash_proportion or "-",
                f"yes, since height {frozen.frozen_height}" if frozen.frozen else "no",
                ", ".join(self.amount(int(a.amount), a.token) for a in assets) or "-",
            )
        self.show(table)
        self.track(
            "slashes on L1",
            [
                Gauge("packets delivered to L1 (relay jobs)", self.jobs_delivered),
                *(
                    Gauge(f"{kind} SLASH final on L1", partial(self.slash_reached, slash_id, "finalized"))
                    for kind, slash_id in self.slash_ids.items()
                ),
                *(
                    Gauge(f"SLASH packets final on {chain.name}", partial(self.slash_packets_final, chain))
                    for chain in self.chains
                ),
            ],
        )
        table = Table(title="SLASH packets executed on L1 (gateway logs and views)", box=box.SIMPLE_HEAD)
        # Only what the gateway itself answers: its frozen(operator, AVS) view, when its ABI has one.
        # Whether a frozen flag stops anything on L1 is up to the contracts, not to this narration.
        frozen_view = any(
            entry.get("type") == "function" and entry.get("name") == "frozen" for entry in self.gateway.abi
        )
        columns = ["slash", "client chain", "L1 block", "moved to the slashing sink"]
        if frozen_view:
            columns.append("gateway.frozen(operator, AVS)")
        for column in columns:
            table.add_column(column)
        for kind, slash_id in self.slash_ids.items():
            row = self.rows(select(slash_table).where(slash_table.c.slash_id == slash_id))[0]
            for chain in self.chains:
                # Each chain's own gateway logs, read from its node: where this slash landed.
                logs = chain.gateway.events.SlashExecuted.get_logs(from_block=chain.deploy_block)
                for log in (log for log in logs if hex0x(log.args.slashId) == slash_id):
                    moved = ", ".join(
                        self.amount(amount, token)
                        for token, amount in zip(log.args.tokens, log.args.amounts, strict=True)
                    )
                    cells = [kind, str(chain.chain_id), str(log.blockNumber), moved or "-"]
                    if frozen_view:
                        frozen_l1 = chain.gateway.functions.frozen(
                            Web3.to_checksum_address(row.operator_address),
                            Web3.to_checksum_address(row.avs_address),
                        ).call()
                        cells.append("true" if frozen_l1 else "false")
                    table.add_row(*cells)
        self.show(table)
        for chain in self.chains:
            vault = chain.restaking_vault
            principal = ", ".join(
                f"{self.amount(principal_before[(chain.chain_id, address)], address)} → "
                f"{self.amount(vault.functions.totalPrincipal(token.address).call(), address)}"
                for address, token in chain.tokens.items()
            )
            packets = self.api_get("/v1/packets", kind="slash", chain_id=chain.chain_id)["items"]
            listed = ", ".join(f"#{packet['nonce']} {packet['status']}" for packet in packets)
            self.console.print(
                f"{chain.name}: RestakingVault principal {principal}; the API lists"
                f" {len(packets)} SLASH packet(s) for it (/v1/packets?kind=slash&chain_id={chain.chain_id}):"
                f" {listed}"
            )
        self.show_cross_avs_power(
            [(target_a, avs_a.address), (str(operator_b), avs_b.address)],
            [rules.address for rules in (avs_a, avs_b)],
        )

    def show_cross_avs_power(self, slashed: Sequence[tuple[str, str]], avss: Sequence[str]) -> None:
        """Each slashed operator's voting power in every *other* AVS, in the committee before the slash
        and in the first committee elected after it: the stake is pooled, so one AVS's slash lowers
        the operator's power everywhere it serves."""
        stack, client = self.require(self.stack), self.scenario
        height = client.advance(1)
        epoch = (height - 1) // stack.epoch_blocks + 2
        client.advance(stack.epoch_blocks)
        after = {avs: client.wait_for_committee(avs, epoch) for avs in avss}
        table = Table(
            title=f"Slashed operators' power in the other AVSs (committees before → epoch {epoch})",
            box=box.SIMPLE_HEAD,
        )
        for column in ("operator", "slashed in", "power in"):
            table.add_column(column)
        for column in ("before", "after", "after / before"):
            table.add_column(column, justify="right")
        for operator, slashed_in in slashed:
            for avs in avss:
                if avs == slashed_in:
                    continue
                powers = []
                for committee in (self.committees[avs], after[avs]):
                    members = dict(zip(committee.operators, committee.powers, strict=True))
                    powers.append(members.get(operator))
                before, now = powers
                table.add_row(
                    short_operator(operator),
                    self.avs_name(slashed_in),
                    self.avs_name(avs),
                    "not elected" if before is None else format_power(before),
                    "not elected" if now is None else format_power(now),
                    format_share(now or 0, before or 0),
                )
        self.show(table)

    def slash_packets_final(self, chain: ClientChainView) -> tuple[int, int, str]:
        """The SLASH packets addressed to ``chain`` that are final on it, of all addressed to it."""
        k = packet_table
        states = [
            str(row.state)
            for row in self.rows(
                select(k.c.state).where(k.c.kind == PacketKind.SLASH, k.c.l1_chain_id == chain.chain_id)
            )
        ]
        final = sum(1 for state in states if state == PacketState.FINALIZED)
        return final, len(states), "waiting for Exocore" if not states else ", ".join(sorted(states))

    def slash_reached(self, slash_id: str, target: str) -> tuple[int, int, str]:
        state = self.scalar(select(slash_table.c.state).where(slash_table.c.slash_id == slash_id))
        if state is None:
            return 0, 1, "not indexed yet"
        if state in (SlashState.REJECTED, SlashState.FAILED, SlashState.EXCLUDED):
            raise DemoError(f"slash {slash_id} ended {state}")
        return int(SLASH.is_at_or_past(str(state), target)), 1, str(state)

    # ------------------------------------------------------------------ 7. summary

    def summary(self) -> None:
        self.chapter(
            7,
            "Lifecycles",
            "Each claim's and slash's states as the indexer recorded them. Three clocks, three columns: the"
            " Exocore block the state happened in and its time, the L1 block and its time (both read from"
            " the chains), and when the indexer recorded or decided it (its own clock; + since the first).",
        )
        claims = Table(title="Claims (from the API)", box=box.SIMPLE_HEAD)
        for column in (
            "claim",
            "id",
            "AVS",
            "amount",
            "state",
            "payouts",
            "Exocore heights",
            "L1 blocks",
            "took",
        ):
            claims.add_column(column)
        for label, claim_id in self.claim_ids.items():
            claim = self.api_get(f"/v1/claims/{claim_id}")
            payouts = "-"
            if claim["distribution_id"]:
                # Every distribution of the claim: one per client chain it paid stakers on.
                dists = [
                    self.api_get(f"/v1/distributions/{row.distribution_id}")
                    for row in self.distributions_of(claim_id)
                ]
                finalized = sum(int(dist["payouts_by_status"].get("finalized", 0)) for dist in dists)
                payouts = f"{finalized}/{sum(int(dist['leaf_count']) for dist in dists)}"
            elif claim["status"] == ClaimState.ACCRUED:
                payouts = "cumulative root"
            timeline = self.transitions("claim", claim_id)
            self.show(self.timeline_table(f"claim {label} {short_hex(claim_id)}", timeline))
            claims.add_row(
                label,
                short_hex(claim_id),
                self.avs_name(claim["avs"]),
                self.amount(int(claim["total_amount"]), claim["token"]),
                claim["status"],
                payouts,
                self.span(timeline, "exocore"),
                self.span(timeline, "l1"),
                self.took(timeline),
            )
        slashes = Table(title="Slashes (from the API)", box=box.SIMPLE_HEAD)
        for column in ("slash", "id", "AVS", "stake cut", "state", "Exocore heights", "L1 blocks", "took"):
            slashes.add_column(column, no_wrap=column == "stake cut")
        for kind, slash_id in self.slash_ids.items():
            slash = self.api_get(f"/v1/slashes/{slash_id}")
            cut = " + ".join(self.amount(int(a["amount"]), a["token"]) for a in slash["assets"])
            timeline = self.transitions("slash", slash_id)
            self.show(self.timeline_table(f"slash ({kind}) {short_hex(slash_id)}", timeline))
            slashes.add_row(
                kind,
                short_hex(slash_id),
                self.avs_name(slash["avs"]),
                cut,
                slash["status"],
                self.span(timeline, "exocore"),
                self.span(timeline, "l1"),
                self.took(timeline),
            )
        self.show(claims)
        self.show(slashes)
        self.show_balances()

    def transitions(self, kind: str, entity_id: str) -> list[Any]:
        """An object's own transitions in the order the indexer recorded them."""
        t = transition_table
        return self.rows(
            select(t).where(t.c.entity_kind == kind, t.c.entity_id == entity_id).order_by(t.c.id)
        )

    def exocore_block_time(self, height: int) -> datetime:
        """The header time of Exocore block ``height`` (CometBFT ``/block``), read once."""
        if height not in self.block_times["exocore"]:
            rpc = self.require(self.stack).manifest["exocore"]["rpc_url"]
            reply = httpx.get(f"{rpc}/block", params={"height": height}, timeout=API_REQUEST_TIMEOUT_S)
            reply.raise_for_status()
            self.block_times["exocore"][height] = header_time(
                reply.json()["result"]["block"]["header"]["time"]
            )
        return self.block_times["exocore"][height]

    def l1_block_time(self, number: int, block_hash: str | None = None) -> datetime:
        """The timestamp of L1 block ``number`` (whole seconds, as every EVM block), read once: from
        the client chain that has the block ``block_hash`` (the first chain without one)."""
        if block_hash is not None and block_hash not in self.l1_hash_times:
            for chain in self.chains:
                try:
                    block = chain.w3.eth.get_block(HexStr(block_hash))
                except BlockNotFound:
                    continue
                self.l1_hash_times[block_hash] = datetime.fromtimestamp(int(block["timestamp"]), UTC)
                break
        if block_hash is not None and block_hash in self.l1_hash_times:
            return self.l1_hash_times[block_hash]
        if number not in self.block_times["l1"]:
            timestamp = int(self.w3.eth.get_block(number)["timestamp"])
            self.block_times["l1"][number] = datetime.fromtimestamp(timestamp, UTC)
        return self.block_times["l1"][number]

    @staticmethod
    def span(timeline: Sequence[Any], chain: str) -> str:
        """The heights (blocks) of ``chain`` at which the lifecycle moved: ``26`` or ``21..24``."""
        heights = [t.height for t in timeline if t.chain == chain and t.height is not None]
        if not heights:
            return "-"
        low, high = min(heights), max(heights)
        return str(low) if low == high else f"{low}..{high}"

    @staticmethod
    def took(timeline: Sequence[Any]) -> str:
        if not timeline:
            return "-"
        return f"{(timeline[-1].recorded_at - timeline[0].recorded_at).total_seconds():.1f} s"

    def timeline_table(self, title: str, timeline: Sequence[Any]) -> Table:
        """One row per state; each time column is one clock (so each runs forward on its own)."""
        table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left")
        for column in TIMELINE_COLUMNS:
            table.add_column(column)
        first = timeline[0].recorded_at if timeline else None
        for transition in timeline:
            offset = (transition.recorded_at - first).total_seconds() if first else 0.0
            exocore = l1 = ("-", "-")
            if transition.chain == "exocore" and transition.height is not None:
                at = self.exocore_block_time(int(transition.height))
                exocore = (str(transition.height), at.strftime("%H:%M:%S.%f")[:-3])
            elif transition.chain == "l1" and transition.height is not None:
                at_l1 = self.l1_block_time(int(transition.height), transition.block_hash)
                l1 = (str(transition.height), at_l1.strftime("%H:%M:%S"))
            note = transition.reason or ""
            if transition.chain not in ("exocore", "l1"):
                note = f"by the {transition.chain}" + (f": {note}" if note else "")
            table.add_row(
                transition.to_state or "(reorged away)",
                *exocore,
                *l1,
                f"{transition.recorded_at.strftime('%H:%M:%S.%f')[:-3]} (+{offset:.1f} s)",
                note,
            )
        return table

    def show_balances(self) -> None:
        client = self.scenario
        table = Table(
            title="Stakers' L1 balances on their client chain (token contracts) and their finalized payouts"
            " there (DB)",
            box=box.SIMPLE_HEAD,
        )
        table.add_column("staker")
        table.add_column("client chain")
        for address in self.tokens:
            table.add_column(f"{self.symbol(address)} on L1")
            table.add_column(f"{self.symbol(address)} paid (DB)")
        for index in range(min(STAKERS_SHOWN, self.options.stakers)):
            staker = Web3.to_checksum_address(hex0x(staker_address(client.seed, index)))
            chain = self.chains[staker_chain(index, len(self.chains))]
            cells: list[str] = [staker, str(chain.chain_id)]
            for address, token in chain.tokens.items():
                balance = token.functions.balanceOf(staker).call()
                # Summed here, not in SQL: SQLite keeps uint256 as text and would sum in floats.
                paid = sum(
                    int(r.amount)
                    for r in self.rows(
                        select(payout_table.c.amount).where(
                            payout_table.c.staker == staker.lower(),
                            payout_table.c.token == address,
                            payout_table.c.state == "finalized",
                            payout_table.c.l1_chain_id == chain.chain_id,
                        )
                    )
                ) + sum(
                    int(r.amount)
                    for r in self.rows(
                        select(cumulative_payout_table.c.amount).where(
                            cumulative_payout_table.c.earner == staker.lower(),
                            cumulative_payout_table.c.token == address,
                            cumulative_payout_table.c.l1_chain_id == chain.chain_id,
                        )
                    )
                )
                decimals = self.units[address].decimals
                cells += [format_units(balance, decimals), format_units(paid, decimals)]
            table.add_row(*cells)
        self.show(table)
        t = transfer_table
        counts = ", ".join(
            f"{self.scalar(select(func.count()).select_from(t).where(t.c.l1_chain_id == chain.chain_id))}"
            f" on {chain.name}"
            for chain in self.chains
        )
        self.console.print(f"token transfers out of the gateway's funding sources indexed from L1: {counts}")

    def show_api(self) -> None:
        url = self.require(self.api).url
        self.console.print()
        self.console.rule("[bold]The API")
        self.console.print(
            f"API: {url}  ·  docs {url}/docs  ·  e.g. {url}/v1/claims  {url}/v1/slashes  {url}/v1/packets"
        )
        chain_b = self.chains[-1].chain_id
        self.console.print(
            f"per client chain: {url}/v1/payouts?chain_id={chain_b}  {url}/v1/packets?chain_id={chain_b}"
            f"  {url}/v1/stats (paid_per_chain)"
        )


@contextmanager
def running(demo: Demo) -> Iterator[Demo]:
    try:
        demo.start()
        yield demo
    finally:
        demo.close()


def run_demo(options: DemoOptions, console: Console | None = None) -> int:
    """Run the demo; 0 when the scenario completed (and, without ``--once``, a signal stopped it)."""
    console = console or Console(highlight=False)
    if not console.is_terminal:
        console.soft_wrap = True  # no window to wrap at: a line of text stays one line
    stop = install_signal_handlers()
    try:
        filled = prepare_home(options.home)
        if options.database_url is not None:
            claim_database(options.home, options.database_url, filled)
    except DemoError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    log_to_file(options.home / LOG_FILE)
    started = time.monotonic()
    demo = Demo(options, console, stop)
    try:
        with running(demo):
            demo.show_chains()
            demo.setup()
            demo.start_avs()
            demo.change_valset()
            demo.submit_claims()
            demo.relay_and_pay()
            demo.show_expired_claims()
            demo.slash()
            demo.summary()
            demo.show_api()
            console.print(f"[green]scenario complete in {time.monotonic() - started:.0f} s[/green]")
            if not options.once:
                console.print("running; Ctrl-C to stop")
                stop.wait()
                console.print("stopping…")
    except DemoStoppedError:
        console.print("[yellow]stopped before the scenario finished[/yellow]")
        return 130
    except Exception as exc:  # any failure ends the demo with a message; the traceback goes to the log
        _log.exception("demo failed")
        console.print(f"[red]demo failed:[/red] {type(exc).__name__}: {exc} (traceback in {LOG_FILE})")
        return 1
    console.print("stopped cleanly")
    return 0
