"""``exorelay replay``: run the unmodified relayer + indexer on a recorded Exocore history and an L1 fork.

What runs, in this process:

1. anvil, forking ``--l1-fork-url`` at ``--fork-block`` (default: its head), automining, with the
   fork's chain id; the signer is one of anvil's dev accounts, funded on the fork;
2. the recording served as a CometBFT JSON-RPC node and a Cosmos gRPC node
   (:mod:`devnet.replay.servers`) on free local ports;
3. :class:`relayer.service.RelayerService` configured for those endpoints (``start_height`` = the
   recording's first height, L1 finality at 0 confirmations since nothing reorgs a private fork)
   with a fresh database (a temporary SQLite file unless an engine is given), driven cycle by cycle
   from here, with the periodic sweep, until it settles:

   - ``complete``: every block of the recording indexed, every packet delivered or refused, every
     distribution paid, no transaction in flight;
   - ``stuck``: nothing changed for ``settle_s`` while nothing was in flight (packets wait for
     something the recording will never give: quorum, leaves, ...);
   - ``blocked``: everything else settled, nothing in flight, and payout jobs parked for a reason
     L1 will not drop by itself (a VAULT-funded distribution whose AVS has no deposit on the fork);
     the report's ``blocked_by`` names each with its typed reason and amounts;
   - ``timeout``: still moving after ``timeout_s``.

4. the report (:mod:`relayer.replay.report`), read from the database and the fork before anything
   is stopped.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx
from eth_account import Account
from sqlalchemy import Engine, func, select

from devnet.anvil import AnvilConfig, AnvilNode
from devnet.replay.defaults import DEFAULT_REPLAY_TIMEOUT_S, REPLAY_SIGNER_ACCOUNT_INDEX
from devnet.replay.servers import ReplayGrpcServer, ReplayRpcServer
from relayer.config import ExorelayConfig
from relayer.errors import ConfigError
from relayer.exocore.grpc_client import convert_params
from relayer.exocore.proto.relay.v1 import types_pb2 as relay_types
from relayer.pipeline.retry import PARKING_REASONS
from relayer.replay.errors import ForkSourceError
from relayer.replay.fixture import Fixture, parse_message
from relayer.replay.report import Report, build_report
from relayer.service import RelayerService
from storage.db import create_db_engine
from storage.job_tables import JobStage, PayoutStage, payout_job_table, relay_job_table
from storage.l1_tables import OPEN_INTENT_STATES, tx_intent_table

_log = logging.getLogger(__name__)

SIGNER_BALANCE_WEI: Final = 10_000 * 10**18
"""Set on the fork whatever the account held upstream: gas must never be what a replay measures."""
SETTLE_QUIET_S: Final = 3.0
"""Nothing moved for this long with nothing in flight: settled. Three retry_max periods, so every
waiting job was retried at least twice without effect."""
REPLAY_RETRY_BASE_S: Final = 0.2
REPLAY_RETRY_MAX_S: Final = 1.0
"""Waiting jobs are retried fast: the recorded chain never changes, so a wait ends at once or never."""
CYCLE_PAUSE_S: Final = 0.05
"""Between cycles: keeps the loop from spinning on an idle relayer without slowing a busy one."""
SWEEP_EVERY_S: Final = 2.0
"""The relayer's periodic sweep (``relayer.sweep_interval_s``) as the scheduler would run it."""
FORK_PROBE_TIMEOUT_S: Final = 30.0
"""The fork source answers eth_chainId / eth_blockNumber within this (remote archive nodes are slow)."""
POLL_INTERVAL_S: Final = 0.1
"""exocore/l1 poll intervals in the config (the replay drives cycles itself; these bound waits)."""


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    fork_url: str
    fork_block: int | None = None
    """None: the fork source's head when the replay starts."""
    signer_index: int = REPLAY_SIGNER_ACCOUNT_INDEX
    timeout_s: float = DEFAULT_REPLAY_TIMEOUT_S
    settle_s: float = SETTLE_QUIET_S


def _eth_call(url: str, method: str) -> Any:
    try:
        answer = httpx.post(
            url,
            json={"jsonrpc": "2.0", "id": 1, "method": method, "params": []},
            timeout=FORK_PROBE_TIMEOUT_S,
        ).json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ForkSourceError(f"{method} on the fork source failed: {type(exc).__name__}: {exc}") from exc
    if not isinstance(answer, dict) or not isinstance(answer.get("result"), str):
        raise ForkSourceError(f"{method} on the fork source answered {str(answer)[:200]}")
    return int(answer["result"], 16)


@contextmanager
def _database(engine: Engine | None) -> Iterator[Engine]:
    if engine is not None:
        yield engine
        return
    with tempfile.TemporaryDirectory(prefix="exorelay-replay-") as directory:
        created = create_db_engine(f"sqlite:///{Path(directory) / 'replay.sqlite'}")
        try:
            yield created
        finally:
            created.dispose()


def replay_config(
    fixture: Fixture,
    *,
    rpc_url: str,
    grpc_target: str,
    l1_url: str,
    l1_chain_id: int,
    gateway: str,
    start_block: int,
) -> ExorelayConfig:
    return ExorelayConfig.model_validate(
        {
            "exocore": {
                "chain_id": fixture.chain_id,
                "rpc_urls": [rpc_url],
                "grpc_endpoints": [grpc_target],
                "websocket": False,
                "poll_interval_s": POLL_INTERVAL_S,
                "start_height": fixture.from_height,
            },
            "l1": {
                "chain_id": l1_chain_id,
                "rpc_urls": [l1_url],
                "gateway_address": gateway,
                "confirmations": 0,
                "poll_interval_s": POLL_INTERVAL_S,
                "start_block": start_block,
                "keystore_password": None,
            },
            # Never used: the database is the engine the replay hands the service.
            "database": {"url": "sqlite://"},
            "relayer": {
                "sweep_interval_s": SWEEP_EVERY_S,
                "metrics_port": 0,
                "retry_base_s": REPLAY_RETRY_BASE_S,
                "retry_max_s": REPLAY_RETRY_MAX_S,
            },
        }
    )


def _indexed_height(service: RelayerService) -> int | None:
    """The indexer's Exocore cursor: the last recorded block it committed (None before the first)."""
    cursor = service.parts.store.cursor(service.parts.feed.stream)
    return None if cursor is None or cursor.height < 0 else int(cursor.height)


def _fingerprint(service: RelayerService) -> tuple[Any, ...]:
    """Everything whose change means the replay is still moving; also whether it is complete."""
    j, pj, i = relay_job_table, payout_job_table, tx_intent_table
    with service.parts.engine.begin() as conn:
        jobs = tuple(
            conn.execute(select(j.c.packet_nonce, j.c.stage, j.c.retry_reason).order_by(j.c.packet_nonce))
        )
        payouts = tuple(
            conn.execute(
                select(pj.c.distribution_id, pj.c.stage, pj.c.retry_reason).order_by(pj.c.distribution_id)
            )
        )
        intents = tuple(conn.execute(select(i.c.state, func.count()).group_by(i.c.state).order_by(i.c.state)))
    return (_indexed_height(service), jobs, payouts, intents)


def _in_flight(fingerprint: tuple[Any, ...]) -> bool:
    return any(state in {s.value for s in OPEN_INTENT_STATES} and count for state, count in fingerprint[3])


def _settled_but_payouts(fingerprint: tuple[Any, ...], last_height: int) -> bool:
    indexed, jobs, _payouts, _ = fingerprint
    return (
        indexed == last_height
        and not _in_flight(fingerprint)
        and all(stage in (JobStage.DELIVERED.value, JobStage.REFUSED.value) for _, stage, _ in jobs)
    )


def _complete(fingerprint: tuple[Any, ...], last_height: int) -> bool:
    return _settled_but_payouts(fingerprint, last_height) and all(
        stage == PayoutStage.PAID.value for _, stage, _ in fingerprint[2]
    )


def _blocked(fingerprint: tuple[Any, ...], last_height: int) -> bool:
    """Settled except for payout jobs parked on a cause L1 keeps (no deposit will appear on a fork)."""
    parking = {r.value for r in PARKING_REASONS}
    payouts = fingerprint[2]
    return (
        _settled_but_payouts(fingerprint, last_height)
        and any(reason in parking for _, _, reason in payouts)
        and all(stage == PayoutStage.PAID.value or reason in parking for _, stage, reason in payouts)
    )


def drive(service: RelayerService, fixture: Fixture, options: ReplayOptions) -> str:
    """Cycle the relayer until it settles; return ``complete``, ``blocked``, ``stuck`` or ``timeout``."""
    service.parts.pipeline.relay_params()
    service.sweep()
    started = last_sweep = last_change = time.monotonic()
    previous: tuple[Any, ...] | None = None
    while True:
        service.cycle()
        now = time.monotonic()
        if now - last_sweep >= SWEEP_EVERY_S:
            service.sweep()
            last_sweep = now
        current = _fingerprint(service)
        if _complete(current, fixture.to_height):
            return "complete"
        if _blocked(current, fixture.to_height):
            return "blocked"
        if current != previous:
            previous, last_change = current, now
        elif not _in_flight(current) and now - last_change >= options.settle_s:
            return "stuck"
        if now - started >= options.timeout_s:
            return "timeout"
        time.sleep(CYCLE_PAUSE_S)


def replay(
    fixture: Fixture,
    options: ReplayOptions,
    *,
    engine: Engine | None = None,
    progress: Callable[[str], None] = lambda _message: None,
) -> Report:
    """Replay ``fixture`` against a fork of ``options.fork_url`` (see the module docstring)."""
    params = parse_message(relay_types.Params, fixture.grpc.relay_params, "relay_params")
    relay = convert_params(params, fixture.chain_id)
    l1_chain_id = _eth_call(options.fork_url, "eth_chainId")
    if relay.l1_chain_id != l1_chain_id:
        raise ConfigError(
            f"the recorded chain relays to L1 chain {relay.l1_chain_id}; "
            f"the fork source is chain {l1_chain_id}"
        )
    fork_block = (
        options.fork_block
        if options.fork_block is not None
        else _eth_call(options.fork_url, "eth_blockNumber")
    )
    gateway = "0x" + bytes(relay.gateway).hex()
    with ExitStack() as stack:
        progress(f"forking L1 chain {l1_chain_id} at block {fork_block}")
        anvil = AnvilNode(
            AnvilConfig(
                chain_id=l1_chain_id,
                extra_args=("--fork-url", options.fork_url, "--fork-block-number", str(fork_block)),
            )
        )
        stack.enter_context(anvil)
        if anvil.rpc("eth_getCode", [gateway, "latest"]) in (None, "0x"):
            raise ConfigError(
                f"the fork has no gateway at {gateway} (block {fork_block}): fork at or after its deployment"
            )
        account = anvil.dev_accounts()[options.signer_index]
        anvil.rpc("anvil_setBalance", [account.address, hex(SIGNER_BALANCE_WEI)])
        rpc = stack.enter_context(ReplayRpcServer(fixture))
        grpc_server = stack.enter_context(ReplayGrpcServer(fixture))
        database = stack.enter_context(_database(engine))
        config = replay_config(
            fixture,
            rpc_url=rpc.url,
            grpc_target=grpc_server.target,
            l1_url=anvil.rpc_url,
            l1_chain_id=l1_chain_id,
            gateway=gateway,
            start_block=fork_block + 1,
        )
        progress(f"replaying Exocore heights {fixture.from_height}..{fixture.to_height}")
        service = RelayerService(config, signer=Account.from_key(account.private_key), engine=database)
        try:
            outcome = drive(service, fixture, options)
            progress(f"relayer settled: {outcome}")
            return build_report(
                engine=database,
                gateway=service.parts.gateway,
                l1_url=anvil.rpc_url,
                fixture_info={
                    "chain_id": fixture.chain_id,
                    "from_height": fixture.from_height,
                    "to_height": fixture.to_height,
                    "sha256": fixture.sha256,
                },
                l1_info={"chain_id": l1_chain_id, "fork_block": fork_block, "gateway": gateway},
                outcome=outcome,
                exocore_height=_indexed_height(service),
                from_l1_block=fork_block + 1,
            )
        finally:
            service.stop()
