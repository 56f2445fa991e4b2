"""Assemble and run ``exorelay aggregator`` from the config: database, Exocore clients, the account
key, the HTTP server and the tick thread.

Invariants: the database schema must be migrated (``exorelay migrate``; the runner refuses an
outdated one instead of writing into it); the tick thread and the server stop together on
SIGTERM/SIGINT; a tick that fails (Exocore or the database down) is logged and retried at the next
tick, never fatal.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import uvicorn
from eth_account import Account

from avs.aggregator.api import create_app
from avs.aggregator.committee import GrpcCommitteeSource
from avs.aggregator.errors import AggregatorError
from avs.aggregator.service import Aggregator, AggregatorSettings
from avs.aggregator.submitter import ExocoreSubmitter
from relayer.config import AggregatorConfig, ExorelayConfig
from relayer.errors import ConfigError, ExorelayError
from relayer.exocore.cosmos_tx import CosmosTxSender
from relayer.exocore.grpc_client import ExocoreGrpcClient
from relayer.protocol.ids import ChainId
from storage import migrate
from storage.db import create_db_engine

_log = logging.getLogger(__name__)

DATABASE_POOL: Final[dict[str, Any]] = {"pool_size": 20, "max_overflow": 20, "pool_pre_ping": False}
"""PostgreSQL pool: connections for FastAPI's 40-thread pool (signature posts, on their larger pool,
use one connection per request's batch, not per post), and no ping before each checkout (a
round trip per signature batch). After a server restart the first write on a dead connection fails
as 503 ``unavailable`` (the poster retries) and SQLAlchemy replaces
the pool."""


def _password(config: AggregatorConfig) -> str:
    if config.keystore_password_file is not None:
        try:
            text = config.keystore_password_file.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ConfigError(f"cannot read aggregator.keystore_password_file: {exc.strerror}") from None
        if text:
            return text
    password = os.environ.get(config.keystore_password_env)
    if not password:
        raise ConfigError(
            f"no password for aggregator.keystore_path: set {config.keystore_password_env} "
            "or aggregator.keystore_password_file"
        )
    return password


def load_account_key(config: AggregatorConfig) -> bytes:
    """The secp256k1 secret of the aggregator's Exocore account, from its V3 keystore."""
    path: Path | None = config.keystore_path
    if path is None:
        raise ConfigError("aggregator.keystore_path is not set: the aggregator needs an account to submit")
    try:
        keystore = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read aggregator.keystore_path {path}: {exc.strerror}") from None
    try:
        return bytes(Account.decrypt(keystore, _password(config)))
    except ValueError:
        raise ConfigError(f"cannot decrypt {path}: wrong password or not a V3 keystore") from None


@dataclass
class AggregatorParts:
    aggregator: Aggregator
    grpc: ExocoreGrpcClient
    sender: CosmosTxSender


def build(config: ExorelayConfig) -> AggregatorParts:
    settings = config.aggregator
    url = config.database.url
    engine = create_db_engine(url, **({} if url.startswith("sqlite") else DATABASE_POOL))
    if migrate.current_revision(engine) != migrate.head_revision():
        raise ConfigError(f"database {engine.url.render_as_string()} is not migrated: run `exorelay migrate`")
    grpc_client = ExocoreGrpcClient.from_config(config.exocore)
    sender = CosmosTxSender(
        config.exocore.grpc_endpoints[0],
        config.exocore.chain_id,
        load_account_key(settings),
        gas_limit=settings.gas_limit,
        gas_price_hua=settings.gas_price_hua,
        timeout_s=config.exocore.request_timeout_s,
    )
    aggregator = Aggregator(
        engine,
        GrpcCommitteeSource(grpc_client),
        AggregatorSettings(
            chain_hash=ChainId.parse(config.exocore.chain_id).hash,
            avs=frozenset(settings.avs),
            grace_s=settings.grace_s,
            request_ttl_s=settings.request_ttl_s,
            max_open_requests=settings.max_open_requests,
            rate_per_operator_per_s=settings.rate_per_operator_per_s,
            rate_burst=settings.rate_burst,
            open_token=os.environ.get(settings.open_token_env) or None,
        ),
        submitter=ExocoreSubmitter(sender, grpc_client),
    )
    return AggregatorParts(aggregator, grpc_client, sender)


def tick_forever(aggregator: Aggregator, interval_s: float, stop: threading.Event) -> None:
    while not stop.wait(interval_s):
        try:
            aggregator.tick()
        except ExorelayError as exc:
            _log.warning("aggregator tick failed: %s: %s", type(exc).__name__, exc)
        except Exception:  # the tick thread must outlive any one bad tick
            _log.exception("aggregator tick failed")


def run(config: ExorelayConfig) -> int:
    """Serve until SIGTERM/SIGINT (uvicorn handles the signals); returns the exit code."""
    try:
        parts = build(config)
    except (AggregatorError, ExorelayError) as exc:
        _log.error("aggregator cannot start: %s", exc)
        return 2
    stop = threading.Event()
    ticker = threading.Thread(
        target=tick_forever,
        args=(parts.aggregator, config.aggregator.tick_s, stop),
        name="aggregator-tick",
        daemon=True,
    )
    ticker.start()
    app = create_app(parts.aggregator, max_body_bytes=config.aggregator.max_body_bytes)
    _log.info(
        "aggregator on http://%s:%d, submitting as %s",
        config.aggregator.host,
        config.aggregator.port,
        parts.sender.address,
    )
    try:
        uvicorn.run(app, host=config.aggregator.host, port=config.aggregator.port, log_level="warning")
    finally:
        stop.set()
        ticker.join()
        parts.sender.close()
        parts.grpc.close()
    return 0
