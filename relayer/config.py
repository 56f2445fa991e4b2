"""Configuration: one TOML file plus ``EXORELAY_*`` environment overrides.

Precedence (highest first): environment (``EXORELAY_<SECTION>__<KEY>``, e.g.
``EXORELAY_L1__RPC_URLS='["http://a:8545","http://b:8545"]'``), then the TOML file, then defaults.
Every key, its default and why it exists is documented in ``exorelay.example.toml``; a test keeps
that file and this model in step.

Validation is split in two: *errors* make the config unusable (wrong type, unknown key, bad
address); *warnings* are legal but risky choices (a single RPC endpoint, zero confirmations, a
password in the file). ``exorelay config validate FILE`` prints both, each with its key path.

Environment overrides are applied here (:func:`environment_overrides`), not by pydantic-settings: its
import alone costs ~0.3 s CPU, which ``exorelay config validate`` should not pay. Invariant: this
module imports pydantic and the standard library only (no web3, grpc, SQLAlchemy).
"""

from __future__ import annotations

import json
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    ValidationError,
    field_validator,
    model_validator,
)

from relayer.errors import ConfigError

ENV_PREFIX = "EXORELAY_"
ENV_NESTED_DELIMITER = "__"

# Defaults. Each is a named constant so operators can find the reasoning next to the number.
DEFAULT_EXOCORE_CHAIN_ID = "exocoredevnet_233-1"
# CometBFT commits every ~3 s upstream; polling at 1 s keeps discovery latency under one block.
DEFAULT_EXOCORE_POLL_INTERVAL_S = 1.0
# One slow endpoint must not stall the pipeline; 10 s is > p99 of a healthy node's block_results.
DEFAULT_RPC_TIMEOUT_S = 10.0
# L1 finality: 2 confirmations on a devnet; production configs should use the `finalized` tag.
DEFAULT_L1_CONFIRMATIONS = 2
# A tx not included after this long is re-priced (+12.5 % minimum, EIP-1559 replacement rule).
DEFAULT_FEE_BUMP_AFTER_S = 30.0
# Never pay more than this multiple of the market fee when escalating, so a fee spike cannot drain us.
DEFAULT_MAX_FEE_MULTIPLIER = 3.0
# Payout batches are sized so that one tx stays well under a 30M block gas limit.
DEFAULT_PAYOUT_GAS_BUDGET = 10_000_000
# Periodic sweep by packet nonce catches packets whose events were missed.
DEFAULT_SWEEP_INTERVAL_S = 30.0
# L1 logs are fetched in ranges of this many blocks: providers cap eth_getLogs ranges (often 2k-10k).
DEFAULT_L1_LOG_BATCH_BLOCKS = 2_000
# anvil and mainnet both make a block in <= 12 s; 1 s polling sees each block within a second.
DEFAULT_L1_POLL_INTERVAL_S = 1.0
# Work that failed for a transient reason waits base * 2^attempts, capped, before the next try.
DEFAULT_RETRY_BASE_S = 2.0
DEFAULT_RETRY_MAX_S = 300.0
# A lease (signer key, ingestion stream) lapses this long after its holder's last renewal: the bound
# on how long a killed or paused process keeps the role from the others. Renewals come every
# LEASE_TICK_S (1 s, relayer/leases.py), so 10 s survive nine lost renewals (a database failover, a
# long GC pause) without a needless handover, and a SIGKILLed holder is replaced within
# TTL + one tick (+ one cycle to resume work): ~11 s.
DEFAULT_LEASE_TTL_S = 10.0
# The shortest TTL accepted: three renewal ticks must fit in it, or one late tick loses the lease.
MIN_LEASE_TTL_S = 3.0
# /ready says "caught up" when the indexer is at most this many blocks behind each chain's head...
DEFAULT_READY_MAX_LAG_BLOCKS = 3
# ...and its last successful ingestion is younger than this.
DEFAULT_READY_MAX_AGE_S = 120.0
# ...and, served from a PostgreSQL streaming replica, the replica replays its primary's commits at
# most this many seconds late (the API's answers are that much older than the indexer's writes; a
# few seconds is a busy replica, half a minute is one that cannot keep up).
DEFAULT_READY_MAX_REPLICA_LAG_S = 30.0
DEFAULT_API_PORT = 8480
DEFAULT_METRICS_PORT = 9480
DEFAULT_DATABASE_URL = "sqlite:///.exorelay/exorelay.db"
DEFAULT_AGGREGATOR_PORT = 8490
# After the threshold is crossed, wait this long for more signatures: a larger signer set tells
# Exocore (and the reward split) who took part, and one block (~1 s upstream) costs little.
DEFAULT_AGGREGATOR_GRACE_S = 2.0
# A request still below threshold after this long is expired: the committee is not going to sign it.
DEFAULT_AGGREGATOR_REQUEST_TTL_S = 3_600.0
# Open requests at once (all AVSs): bounds memory (one verified aggregate each) and the database.
DEFAULT_AGGREGATOR_MAX_OPEN_REQUESTS = 1_000
# A signature post is ~400 bytes of JSON; a slash request with equivocation evidence a few KB.
DEFAULT_AGGREGATOR_MAX_BODY_BYTES = 64 * 1024
# Per operator: a member signs a few requests per epoch; 20/s with a burst of 100 never slows an
# honest member and caps what one claimed identity can make the aggregator verify.
DEFAULT_AGGREGATOR_RATE_PER_S = 20.0
DEFAULT_AGGREGATOR_RATE_BURST = 100
# How often the aggregator checks grace windows, expiries and submitted transactions.
DEFAULT_AGGREGATOR_TICK_S = 0.2


class BlsBackendName(StrEnum):
    FAST = "fast"
    REFERENCE = "reference"


class FinalityMode(StrEnum):
    CONFIRMATIONS = "confirmations"
    FINALIZED_TAG = "finalized"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExocoreConfig(_Section):
    chain_id: str = DEFAULT_EXOCORE_CHAIN_ID
    rpc_urls: list[HttpUrl] = Field(default_factory=lambda: [HttpUrl("http://127.0.0.1:26657")])
    grpc_endpoints: list[str] = Field(default_factory=lambda: ["127.0.0.1:9090"])
    websocket: bool = False
    poll_interval_s: float = Field(default=DEFAULT_EXOCORE_POLL_INTERVAL_S, gt=0)
    request_timeout_s: float = Field(default=DEFAULT_RPC_TIMEOUT_S, gt=0)
    start_height: int = Field(default=1, ge=1)

    @field_validator("chain_id")
    @classmethod
    def _chain_id_shape(cls, value: str) -> str:
        name, sep, rest = value.partition("_")
        number = rest.split("-", 1)[0]
        if not (name and sep and number.isdigit()):
            raise ValueError("must look like <name>_<evm chain id>[-<revision>], e.g. exocoredevnet_233-1")
        return value

    @field_validator("rpc_urls", "grpc_endpoints")
    @classmethod
    def _non_empty(cls, value: list[Any]) -> list[Any]:
        if not value:
            raise ValueError("at least one endpoint is required")
        return value

    @field_validator("grpc_endpoints")
    @classmethod
    def _host_port(cls, value: list[str]) -> list[str]:
        for endpoint in value:
            host, _, port = endpoint.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"{endpoint!r} is not host:port")
        return value


class L1Config(_Section):
    """One client chain: where its gateway lives, how to reach and trust its nodes, and the key that
    signs for it. ``[l1]`` is the one-chain form; ``[[client_chains]]`` lists several, each a table
    with these keys."""

    chain_id: int = Field(default=31337, ge=1)
    rpc_urls: list[HttpUrl] = Field(default_factory=lambda: [HttpUrl("http://127.0.0.1:8545")])
    gateway_address: str | None = None
    finality: FinalityMode = FinalityMode.CONFIRMATIONS
    confirmations: int = Field(default=DEFAULT_L1_CONFIRMATIONS, ge=0)
    request_timeout_s: float = Field(default=DEFAULT_RPC_TIMEOUT_S, gt=0)
    keystore_path: Path | None = None
    keystore_password_env: str = "EXORELAY_KEYSTORE_PASSWORD"  # noqa: S105 (a variable name, not a secret)
    keystore_password_file: Path | None = None
    keystore_password: str | None = Field(default=None, repr=False)
    fee_bump_after_s: float = Field(default=DEFAULT_FEE_BUMP_AFTER_S, gt=0)
    max_fee_multiplier: float = Field(default=DEFAULT_MAX_FEE_MULTIPLIER, ge=1.0)
    payout_gas_budget: int = Field(default=DEFAULT_PAYOUT_GAS_BUDGET, gt=100_000)
    poll_interval_s: float = Field(default=DEFAULT_L1_POLL_INTERVAL_S, gt=0)
    start_block: int = Field(default=0, ge=0)
    log_batch_blocks: int = Field(default=DEFAULT_L1_LOG_BATCH_BLOCKS, ge=1)

    @field_validator("rpc_urls")
    @classmethod
    def _non_empty(cls, value: list[HttpUrl]) -> list[HttpUrl]:
        if not value:
            raise ValueError("at least one endpoint is required")
        return value

    @field_validator("gateway_address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        body = value[2:] if value.startswith(("0x", "0X")) else ""
        if len(body) != 40 or any(c not in "0123456789abcdefABCDEF" for c in body):
            raise ValueError("must be a 0x-prefixed 20-byte hex address")
        return "0x" + body.lower()


class DatabaseConfig(_Section):
    url: str = DEFAULT_DATABASE_URL

    @field_validator("url")
    @classmethod
    def _supported(cls, value: str) -> str:
        scheme = value.split("://", 1)[0]
        if not (scheme.startswith("sqlite") or scheme.startswith("postgresql")):
            raise ValueError("only sqlite:/// and postgresql:// URLs are supported")
        return value


class ApiConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=DEFAULT_API_PORT, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    ready_max_lag_blocks: int = Field(default=DEFAULT_READY_MAX_LAG_BLOCKS, ge=0)
    ready_max_age_s: float = Field(default=DEFAULT_READY_MAX_AGE_S, gt=0)
    ready_max_replica_lag_s: float = Field(default=DEFAULT_READY_MAX_REPLICA_LAG_S, ge=0)
    database_url: str = ""
    """Where ``exorelay api`` reads (a PostgreSQL streaming replica's URL, say); empty: ``database.url``.
    The API never writes, so a read-only URL is enough."""


class RelayerConfig(_Section):
    bls_backend: BlsBackendName = BlsBackendName.FAST
    sweep_interval_s: float = Field(default=DEFAULT_SWEEP_INTERVAL_S, gt=0)
    metrics_port: int = Field(default=DEFAULT_METRICS_PORT, ge=0, le=65535)
    retry_base_s: float = Field(default=DEFAULT_RETRY_BASE_S, gt=0)
    retry_max_s: float = Field(default=DEFAULT_RETRY_MAX_S, gt=0)
    lease_ttl_s: float = Field(default=DEFAULT_LEASE_TTL_S, ge=MIN_LEASE_TTL_S)
    holder_id: str = Field(default="", max_length=128)
    """Stands for the host in this process's lease holder id (``<holder_id>:pid:random``); empty: the
    host name. The id is unique per process incarnation either way."""


class AggregatorConfig(_Section):
    """``exorelay aggregator``: the AVS-side signature collector (docs/operations.md)."""

    host: str = "127.0.0.1"
    port: int = Field(default=DEFAULT_AGGREGATOR_PORT, ge=1, le=65535)
    avs: list[str] = Field(default_factory=list)
    grace_s: float = Field(default=DEFAULT_AGGREGATOR_GRACE_S, ge=0)
    request_ttl_s: float = Field(default=DEFAULT_AGGREGATOR_REQUEST_TTL_S, gt=0)
    max_open_requests: int = Field(default=DEFAULT_AGGREGATOR_MAX_OPEN_REQUESTS, ge=1)
    max_body_bytes: int = Field(default=DEFAULT_AGGREGATOR_MAX_BODY_BYTES, ge=1024)
    rate_per_operator_per_s: float = Field(default=DEFAULT_AGGREGATOR_RATE_PER_S, gt=0)
    rate_burst: int = Field(default=DEFAULT_AGGREGATOR_RATE_BURST, ge=1)
    tick_s: float = Field(default=DEFAULT_AGGREGATOR_TICK_S, gt=0)
    open_token_env: str = "EXORELAY_AGGREGATOR_TOKEN"  # noqa: S105 (a variable name, not a secret)
    keystore_path: Path | None = None
    keystore_password_env: str = "EXORELAY_AGGREGATOR_KEYSTORE_PASSWORD"  # noqa: S105 (a variable name)
    keystore_password_file: Path | None = None
    gas_limit: int = Field(default=400_000, ge=50_000)
    gas_price_hua: int = Field(default=1, ge=0)

    @field_validator("avs")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        out = []
        for address in value:
            body = address[2:] if address.startswith(("0x", "0X")) else ""
            if len(body) != 40 or any(c not in "0123456789abcdefABCDEF" for c in body):
                raise ValueError(f"{address!r} is not a 0x-prefixed 20-byte hex address")
            out.append("0x" + body.lower())
        return out


class CumulativeConfig(_Section):
    """The cumulative push policy (``relayer.pipeline.push_policy``; docs/protocol.md section 12).

    Token maps are keyed by the token's 0x address. ``token_prices``: the price of one whole token
    (``10 ** token_decimals[token]`` base units, 18 unless listed) in ETH, as a decimal string;
    ``token_minimums``: the smallest amount pushed, in base units as a decimal string, for a token
    without a price. A token in neither is never pushed: its earners claim themselves."""

    gas_multiple: float = Field(default=10.0, ge=0)
    max_delay_s: int = Field(default=7 * 86_400, ge=0)
    period_s: int = Field(default=86_400, gt=0)
    push_batch_gas: int = Field(default=12_000_000, gt=0)
    token_prices: dict[str, str] = Field(default_factory=dict)
    token_decimals: dict[str, int] = Field(default_factory=dict)
    token_minimums: dict[str, str] = Field(default_factory=dict)

    @field_validator("token_prices", "token_minimums")
    @classmethod
    def _decimal_strings(cls, value: dict[str, str]) -> dict[str, str]:
        for token, amount in value.items():
            _token_address(token)
            try:
                number = Fraction(amount)
            except (ValueError, ZeroDivisionError) as exc:
                raise ValueError(f"{token}: {amount!r} is not a decimal number") from exc
            if number < 0:
                raise ValueError(f"{token}: {amount} is negative")
        return value

    @field_validator("token_decimals")
    @classmethod
    def _decimals(cls, value: dict[str, int]) -> dict[str, int]:
        for token, decimals in value.items():
            _token_address(token)
            if not 0 <= decimals <= MAX_TOKEN_DECIMALS:
                raise ValueError(f"{token}: decimals must be 0..{MAX_TOKEN_DECIMALS}")
        return value


MAX_TOKEN_DECIMALS: Final = 36
"""Largest token ``decimals`` the cumulative prices accept (no real token uses more)."""


def _token_address(text: str) -> bytes:
    raw = bytes.fromhex(text.removeprefix("0x")) if len(text) == 42 and text.startswith("0x") else b""
    if len(raw) != 20:
        raise ValueError(f"{text!r} is not a 0x-prefixed 20-byte token address")
    return raw


class LoggingConfig(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["json", "text"] = "json"


# `exorelay operator`: one per committee member, next to its node.
# A signature an aggregator has not received within ~2 polls still lands well inside a request's life.
DEFAULT_OPERATOR_POLL_INTERVAL_S = 2.0
# First retry of a failed post after 0.5 s, doubling up to 10 s: an aggregator restart (seconds)
# is ridden out within one poll's attempts, a long outage falls back to the next poll.
DEFAULT_OPERATOR_POST_RETRY_BASE_S = 0.5
DEFAULT_OPERATOR_POST_RETRY_MAX_S = 10.0
DEFAULT_OPERATOR_POST_MAX_ATTEMPTS = 5
DEFAULT_OPERATOR_METRICS_PORT = 9482
DEFAULT_OPERATOR_PROTECTION_DB_URL = "sqlite:///.exorelay/operator-protection.db"


def _hex_address(value: str) -> str:
    body = value[2:] if value.startswith(("0x", "0X")) else ""
    if len(body) != 40 or any(c not in "0123456789abcdefABCDEF" for c in body):
        raise ValueError(f"{value!r} is not a 0x-prefixed 20-byte hex address")
    return "0x" + body.lower()


class OperatorAvsConfig(_Section):
    """One AVS the operator signs for: its key and the local policy its claims must meet."""

    address: str
    keystore_path: Path
    keystore_password_file: Path | None = None
    # Allowed reward tokens -> the most one epoch's claim may pay, base units as a decimal string
    # (TOML integers stop at 2^63; amounts go to 2^128).
    max_amount_per_epoch: dict[str, str] = Field(default_factory=dict)
    tasks_roots_file: Path | None = None

    @field_validator("address")
    @classmethod
    def _avs_address(cls, value: str) -> str:
        return _hex_address(value)

    @field_validator("max_amount_per_epoch")
    @classmethod
    def _amounts(cls, value: dict[str, str]) -> dict[str, str]:
        checked: dict[str, str] = {}
        for token, amount in value.items():
            if not (isinstance(amount, str) and amount.isdigit() and int(amount) < 2**256):
                raise ValueError(f"amount for {token} must be a decimal string of base units")
            checked[_hex_address(token)] = str(int(amount))
        return checked


class OperatorConfig(_Section):
    account: str | None = None
    aggregator_urls: list[HttpUrl] = Field(default_factory=list)
    avs: list[OperatorAvsConfig] = Field(default_factory=list)
    keystore_password_env: str = "EXORELAY_OPERATOR_KEYSTORE_PASSWORD"  # noqa: S105 (a variable name)
    protection_db_url: str = DEFAULT_OPERATOR_PROTECTION_DB_URL
    poll_interval_s: float = Field(default=DEFAULT_OPERATOR_POLL_INTERVAL_S, gt=0)
    request_timeout_s: float = Field(default=DEFAULT_RPC_TIMEOUT_S, gt=0)
    post_retry_base_s: float = Field(default=DEFAULT_OPERATOR_POST_RETRY_BASE_S, gt=0)
    post_retry_max_s: float = Field(default=DEFAULT_OPERATOR_POST_RETRY_MAX_S, gt=0)
    post_max_attempts: int = Field(default=DEFAULT_OPERATOR_POST_MAX_ATTEMPTS, ge=1)
    metrics_port: int = Field(default=DEFAULT_OPERATOR_METRICS_PORT, ge=0, le=65535)

    @field_validator("account")
    @classmethod
    def _bech32(cls, value: str | None) -> str | None:
        if value is not None and not (value.startswith(("exo1", "im1")) and value == value.lower()):
            raise ValueError("must be the operator's bech32 account, exo1... or im1...")
        return value

    @field_validator("protection_db_url")
    @classmethod
    def _db_url(cls, value: str) -> str:
        scheme = value.split("://", 1)[0]
        if not (scheme.startswith("sqlite") or scheme.startswith("postgresql")):
            raise ValueError("only sqlite:/// and postgresql:// URLs are supported")
        return value

    @model_validator(mode="after")
    def _distinct_avs(self) -> OperatorConfig:
        addresses = [entry.address for entry in self.avs]
        if len(set(addresses)) != len(addresses):
            raise ValueError("an AVS is listed twice in operator.avs")
        if self.post_retry_max_s < self.post_retry_base_s:
            raise ValueError("post_retry_max_s must be >= post_retry_base_s")
        return self


class ExorelayConfig(BaseModel):
    """The whole configuration. Sections mirror the TOML tables. Constructing it reads no
    environment: :func:`check_config` / :func:`load_config` apply the ``EXORELAY_*`` overrides."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    exocore: ExocoreConfig = Field(default_factory=ExocoreConfig)
    l1: L1Config = Field(default_factory=L1Config)
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    relayer: RelayerConfig = Field(default_factory=RelayerConfig)
    aggregator: AggregatorConfig = Field(default_factory=AggregatorConfig)
    cumulative: CumulativeConfig = Field(default_factory=CumulativeConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    operator: OperatorConfig = Field(default_factory=OperatorConfig)
    client_chains: tuple[L1Config, ...] = ()
    """Every client chain of this deployment (``[[client_chains]]`` tables). Empty: the one chain is
    ``[l1]``. Given, ``l1`` is its first entry (the chain one-chain commands use)."""

    @field_validator("client_chains")
    @classmethod
    def _distinct_chains(cls, value: tuple[L1Config, ...]) -> tuple[L1Config, ...]:
        first_index: dict[int, int] = {}
        for index, chain in enumerate(value):
            seen = first_index.setdefault(chain.chain_id, index)
            if seen != index:
                raise ValueError(
                    f"entry {index} repeats chain_id {chain.chain_id} of entry {seen}: one entry per"
                    " client chain (list a chain's RPC endpoints in its rpc_urls)"
                )
        return value

    @model_validator(mode="before")
    @classmethod
    def _one_chain_form(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "l1" in data and data.get("client_chains"):
            raise ValueError(
                "both [l1] and [[client_chains]] are given: [l1] is the one-chain form; move its keys"
                " into a [[client_chains]] entry (and drop any EXORELAY_L1__* variable)"
            )
        return data

    @model_validator(mode="after")
    def _first_chain_is_l1(self) -> ExorelayConfig:
        if self.client_chains:
            # Frozen model: set once here, while it is being built, so `l1` and `chains` agree.
            object.__setattr__(self, "l1", self.client_chains[0])
        return self

    @property
    def chains(self) -> tuple[L1Config, ...]:
        """The client chains this deployment serves, in configured order (at least one)."""
        return self.client_chains or (self.l1,)

    def chain_key_path(self, index: int) -> str:
        """The key path of chain ``index``'s table, as errors and warnings name it."""
        return f"client_chains.{index}" if self.client_chains else "l1"

    @model_validator(mode="after")
    def _ports_distinct(self) -> ExorelayConfig:
        if self.api.port == self.relayer.metrics_port:
            raise ValueError("api.port and relayer.metrics_port must differ")
        if self.operator.metrics_port and self.operator.metrics_port in (
            self.api.port,
            self.relayer.metrics_port,
        ):
            raise ValueError("operator.metrics_port must differ from api.port and relayer.metrics_port")
        return self


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(frozen=True)
class ConfigReport:
    config: ExorelayConfig | None
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such config file") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc


def check_config(path: Path | None) -> ConfigReport:
    """Load and validate (file + ``EXORELAY_*`` environment); returns every problem instead of raising."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = read_toml(path)
        except ConfigError as exc:
            return ConfigReport(None, errors=[Problem("<file>", str(exc))])
    overrides, env_errors = environment_overrides(os.environ)
    if env_errors:
        return ConfigReport(None, errors=env_errors)
    try:
        config = ExorelayConfig.model_validate(_overlay(data, overrides))
    except ValidationError as exc:
        return ConfigReport(None, errors=[_problem(err) for err in exc.errors()])
    return ConfigReport(config, warnings=_warnings(config, data) + _unknown_env_overrides())


def load_config(path: Path | None) -> ExorelayConfig:
    """Load and validate, raising :class:`ConfigError` listing every error."""
    report = check_config(path)
    if report.config is None:
        raise ConfigError("invalid configuration:\n" + "\n".join(f"  {p}" for p in report.errors))
    return report.config


def env_var_for(path: str) -> str:
    """The environment variable that overrides a dotted key path (``l1.confirmations``)."""
    return ENV_PREFIX + path.upper().replace(".", ENV_NESTED_DELIMITER)


def _is_structured(annotation: Any) -> bool:
    """A list, table or model: its environment value is JSON (as a TOML array or table would be)."""
    origin = typing.get_origin(annotation)
    if origin in (list, dict, tuple, set, frozenset):
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_is_structured(arg) for arg in typing.get_args(annotation) if arg is not type(None))
    return isinstance(annotation, type) and issubclass(annotation, (BaseModel, list, dict))


def environment_overrides(environ: Mapping[str, str]) -> tuple[dict[str, dict[str, Any]], list[Problem]]:
    """``EXORELAY_<SECTION>__<KEY>`` variables (any case) as ``{section: {key: value}}``: scalars as
    the string (pydantic converts it as it does a TOML value), lists and tables decoded from JSON. A
    value that is not valid JSON where JSON is needed is an error naming the variable. Variables that
    name no key are left out here and reported as warnings by :func:`check_config`."""
    overrides: dict[str, dict[str, Any]] = {}
    errors: list[Problem] = []
    sections = ExorelayConfig.model_fields
    for name, value in sorted(environ.items()):
        if not name.upper().startswith(ENV_PREFIX) or ENV_NESTED_DELIMITER not in name:
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition(ENV_NESTED_DELIMITER)
        info = sections.get(section)
        model = info.annotation if info is not None else None
        if not (isinstance(model, type) and issubclass(model, BaseModel) and key in model.model_fields):
            continue
        parsed: Any = value
        if _is_structured(model.model_fields[key].annotation):
            try:
                parsed = json.loads(value)
            except ValueError as exc:
                errors.append(Problem(f"{section}.{key}", f"{name} is not valid JSON: {exc}"))
                continue
        overrides.setdefault(section, {})[key] = parsed
    return overrides, errors


def _overlay(data: Mapping[str, Any], overrides: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The file's tables with the environment's keys on top (a section that is not a table in the
    file is replaced by the overrides, as validation would reject it anyway)."""
    merged = dict(data)
    for section, keys in overrides.items():
        table = merged.get(section)
        merged[section] = {**table, **keys} if isinstance(table, Mapping) else dict(keys)
    return merged


def _problem(error: Mapping[str, Any]) -> Problem:
    path = ".".join(str(part) for part in error.get("loc", ())) or "<root>"
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    if error.get("type") == "extra_forbidden":
        message = "unknown key"
    if env_var_for(path) in os.environ:
        message += f" (from {env_var_for(path)})"
    return Problem(path, message)


def _unknown_env_overrides() -> list[Problem]:
    """EXORELAY_<SECTION>__<KEY> variables that name no key: likely typos that would be ignored."""
    problems: list[Problem] = []
    sections = ExorelayConfig.model_fields
    for name in sorted(os.environ):
        if not name.startswith(ENV_PREFIX) or ENV_NESTED_DELIMITER not in name:
            continue
        section, _, key = name.removeprefix(ENV_PREFIX).lower().partition(ENV_NESTED_DELIMITER)
        info = sections.get(section)
        model = info.annotation if info is not None else None
        known = isinstance(model, type) and issubclass(model, BaseModel) and key in model.model_fields
        if not known:
            problems.append(Problem(f"{section}.{key}", f"{name} matches no config key and is ignored"))
    return problems


def _raw_chain_tables(config: ExorelayConfig, raw: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The file's table for each of ``config.chains``, in the same order (empty where absent)."""
    tables = raw.get("client_chains") if config.client_chains else [raw.get("l1")]
    listed = list(tables) if isinstance(tables, list) else []
    listed += [{}] * (len(config.chains) - len(listed))
    return [table if isinstance(table, Mapping) else {} for table in listed]


def _warnings(config: ExorelayConfig, raw: Mapping[str, Any]) -> list[Problem]:
    warnings: list[Problem] = []
    if len(config.exocore.rpc_urls) == 1:
        warnings.append(Problem("exocore.rpc_urls", "a single endpoint gives no failover"))
    for index, (chain, table) in enumerate(zip(config.chains, _raw_chain_tables(config, raw), strict=True)):
        warnings += _chain_warnings(config.chain_key_path(index), chain, table)
    if config.database.url.startswith("sqlite"):
        warnings.append(Problem("database.url", "SQLite is embedded; use PostgreSQL in production"))
    return warnings


def _chain_warnings(path: str, chain: L1Config, table: Mapping[str, Any]) -> list[Problem]:
    warnings: list[Problem] = []
    if len(chain.rpc_urls) == 1:
        warnings.append(Problem(f"{path}.rpc_urls", "a single endpoint gives no failover"))
    if chain.finality is FinalityMode.CONFIRMATIONS and chain.confirmations == 0:
        warnings.append(
            Problem(f"{path}.confirmations", "0 confirmations treats unfinalised blocks as final")
        )
    if "keystore_password" in table:
        warnings.append(
            Problem(
                f"{path}.keystore_password", "password in the config file; prefer keystore_password_env/_file"
            )
        )
    if chain.gateway_address is None:
        warnings.append(Problem(f"{path}.gateway_address", "not set; `exorelay run` needs it"))
    return warnings
