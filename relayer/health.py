"""``exorelay health-check``: can this configuration relay? One check per endpoint and precondition.

Checks (each a :class:`Check` with a name, a verdict and a one-line detail):

- every Exocore RPC URL answers ``status`` for the configured chain id (and is not catching up);
- every gRPC endpoint answers ``GetNodeInfo`` for that chain;
- the relay module's params name the configured L1 chain id and gateway (what every packet binds);
- every L1 RPC URL answers ``eth_chainId`` with the configured chain id;
- the gateway address holds contract code, and it is the gateway of this Exocore chain;
- the signer keystore decrypts, and the signer's balance is at least :data:`MIN_SIGNER_BALANCE_WEI`;
- the gateway's ``currentValsetNonce()`` equals Exocore's latest valset nonce (behind is a warning:
  the relayer delivers the updates; ahead means the two chains do not belong together);
- the database is reachable and at the newest migration;
- no ingestion stream is halted (an invariant violation, a deep reorg, a poisoned block: each needs
  an operator, see docs/operations.md);
- no payout job is parked waiting for an L1 deposit (a warning: it resumes by itself once funded);
- step 0 of every reward token an AVS on Exocore pays in (its ``AVSInfo.reward_tokens``): a MINT
  token grants the gateway ``MINTER_ROLE`` (else every payout reverts: an error naming the grant to
  make); a VAULT token has a deposit for the AVS in the RewardVault and the vault holds at least what
  it credits (no deposit is a warning: payouts park and resume once funded; a vault holding less than
  it credits is an error). The AVS list is read once, before the checks run concurrently.

Checks run concurrently, each bounded by :data:`CHECK_TIMEOUT_S` (the clients' own timeouts are
capped to it, and a check that still has not answered is reported as timed out). Output never holds
a secret: URLs are shown as scheme://host:port (path and query hidden, as providers put API keys
there), the keystore password and database password never appear, error texts are scrubbed of both.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError
from contextlib import suppress
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from pathlib import Path
from time import monotonic
from typing import Any, Final
from urllib.parse import urlsplit

from sqlalchemy import Connection, Engine, func, select, text
from sqlalchemy.engine import make_url

from relayer.config import ExorelayConfig
from relayer.errors import ExorelayError
from relayer.exocore.grpc_client import ExocoreGrpcClient
from relayer.exocore.rpc import CometRpcClient
from relayer.l1.client import L1Client
from relayer.l1.gateway import GatewayClient
from relayer.l1.keystore import load_signer, resolve_password
from relayer.l1.tokens import MINTER_ROLE, TokenReader, client_call, vault_deposit
from relayer.protocol.ids import ChainId
from relayer.protocol.packets import FundingMode
from relayer.protocol.units import format_amount
from storage import migrate
from storage.db import create_db_engine
from storage.jobs import parked_payouts
from storage.models import cursor_table
from storage.store import open_poisoned_blocks

CHECK_TIMEOUT_S: Final = 10.0
"""Longest any one check may take: a health check is run by a human or a deploy gate, and an
endpoint that needs longer than this to answer a trivial query is not healthy. Client timeouts are
capped to it as well."""

MIN_SIGNER_BALANCE_WEI: Final = 10**17
"""0.1 ETH: one full payout batch (the default 10M gas budget) at a 10 gwei fee. Below it the next
batch may not be affordable, and delivery stalls on "insufficient funds"."""

CHECK_GRACE_S: Final = 1.0
"""A check is declared timed out this long after its clients' own timeout, so the client's precise
error (which phase timed out) wins the race and the backstop only catches a check that hangs."""

MAX_DETAIL_CHARS: Final = 300
"""A check's detail is one terminal line; long client errors are cut (the logs have the rest)."""

WEI_PER_ETH: Final = 10**18


class CheckLevel(StrEnum):
    ERROR = "error"
    """A failure makes the report fail (exit 1)."""
    WARNING = "warning"
    """A failure is reported but does not fail the report."""


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str
    level: CheckLevel = CheckLevel.ERROR

    @property
    def passed(self) -> bool:
        """True unless this check fails the report."""
        return self.ok or self.level is CheckLevel.WARNING

    @property
    def verdict(self) -> str:
        if self.ok:
            return "ok"
        return "warn" if self.level is CheckLevel.WARNING else "FAIL"


@dataclass(frozen=True, slots=True)
class HealthReport:
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(check for check in self.checks if not check.passed)

    @property
    def warnings(self) -> tuple[Check, ...]:
        return tuple(check for check in self.checks if not check.ok and check.passed)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checks": [
                {"name": c.name, "ok": c.ok, "level": c.level.value, "verdict": c.verdict, "detail": c.detail}
                for c in self.checks
            ],
        }


class CheckFailed(Exception):  # noqa: N818 - a verdict, not a fault: never escapes this module
    """Raised inside a check to fail it with a message."""

    def __init__(self, detail: str, level: CheckLevel = CheckLevel.ERROR) -> None:
        super().__init__(detail)
        self.detail = detail
        self.level = level


# ------------------------------------------------------------------------------------------ secrets


def redact_url(url: str) -> str:
    """``scheme://host:port`` with credentials, path and query hidden (API keys live there)."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        return "<url>"
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    netloc = ("***@" if parts.username or parts.password else "") + host
    if parts.port is not None:
        netloc += f":{parts.port}"
    hidden = parts.path not in ("", "/") or parts.query or parts.fragment
    return f"{parts.scheme}://{netloc}{'/***' if hidden else ''}"


class Scrubber:
    """Replaces every configured URL (and its path/query, which errors quote alone) and every secret
    in a text with a redacted form."""

    def __init__(self, urls: Iterable[str], secrets: Iterable[str]) -> None:
        replacements: dict[str, str] = {}
        for url in urls:
            redacted = redact_url(url)
            for variant in (url, url.rstrip("/")):
                replacements[variant] = redacted
            parts = urlsplit(url)
            tail = parts.path + (f"?{parts.query}" if parts.query else "")
            if tail not in ("", "/"):
                replacements[tail] = "/***"
            if parts.password:
                replacements[parts.password] = "***"
        for secret in secrets:
            if secret:
                replacements[secret] = "***"
        # Longest first, so a URL is replaced whole before its path is.
        self._pairs = sorted(replacements.items(), key=lambda pair: -len(pair[0]))

    def __call__(self, message: str) -> str:
        for secret, redacted in self._pairs:
            message = message.replace(secret, redacted)
        return message


def _one_line(message: str) -> str:
    line = " ".join(message.split())
    return line if len(line) <= MAX_DETAIL_CHARS else line[: MAX_DETAIL_CHARS - 1] + "…"


_REFUSED = re.compile(r"connection refused|errno 111|failed to connect|connect failed", re.IGNORECASE)
_TIMED_OUT = re.compile(r"timed? ?out|deadline exceeded", re.IGNORECASE)


def describe_error(exc: BaseException) -> str:
    """A short, stable description of a client error (the raw texts run to several lines)."""
    text_ = str(exc)
    if _REFUSED.search(text_):
        return "connection refused"
    if _TIMED_OUT.search(text_):
        return "no answer in time"
    # The clients' errors carry the message without the endpoint prefix (the check names it).
    reason = getattr(exc, "reason", None)
    if isinstance(exc, ExorelayError) and isinstance(reason, str) and reason:
        text_ = reason
    return f"{type(exc).__name__}: {text_}" if text_ else type(exc).__name__


# ------------------------------------------------------------------------------------------ checks


@dataclass
class _Context:
    config: ExorelayConfig
    timeout_s: float
    signer_address: Future[str] = field(default_factory=Future)


def _exocore_rpc(ctx: _Context, url: str) -> str:
    exocore = ctx.config.exocore
    with CometRpcClient([url], chain_id=exocore.chain_id, timeout_s=ctx.timeout_s) as client:
        status = client.status()
    if status.catching_up:
        raise CheckFailed(f"catching up (at height {status.latest_height})", CheckLevel.WARNING)
    return f"chain {status.chain_id}, height {status.latest_height}"


def _exocore_grpc(ctx: _Context, endpoint: str) -> str:
    exocore = ctx.config.exocore
    with ExocoreGrpcClient([endpoint], chain_id=exocore.chain_id, timeout_s=ctx.timeout_s) as client:
        info = client.node_info()
    return f"chain {info.chain_id}, {info.app_name or 'app'} {info.app_version}".rstrip()


def _grpc_client(ctx: _Context) -> ExocoreGrpcClient:
    exocore = ctx.config.exocore
    return ExocoreGrpcClient(list(exocore.grpc_endpoints), chain_id=exocore.chain_id, timeout_s=ctx.timeout_s)


def _relay_params(ctx: _Context) -> str:
    with _grpc_client(ctx) as client:
        params = client.relay_params()
    l1 = ctx.config.l1
    # Exocore may relay to several client chains; ours must be one of them (chain and gateway).
    chain = next((c for c in params.client_chains if c.l1_chain_id == l1.chain_id), params.default_chain)
    gateway = "0x" + bytes(chain.gateway).hex()
    problems = []
    if chain.l1_chain_id != l1.chain_id:
        problems.append(f"L1 chain id {chain.l1_chain_id}, l1.chain_id is {l1.chain_id}")
    if l1.gateway_address is None:
        problems.append(f"gateway {gateway}, l1.gateway_address is not set")
    elif gateway != l1.gateway_address:
        problems.append(f"gateway {gateway}, l1.gateway_address is {l1.gateway_address}")
    if problems:
        raise CheckFailed("Exocore relays to " + "; ".join(problems))
    return f"L1 chain {chain.l1_chain_id}, gateway {gateway}"


def _l1_client(ctx: _Context, urls: Sequence[str] | None = None) -> L1Client:
    l1 = ctx.config.l1
    chosen = [str(url) for url in (urls if urls is not None else l1.rpc_urls)]
    return L1Client(chosen, chain_id=l1.chain_id, timeout_s=ctx.timeout_s)


def _l1_rpc(ctx: _Context, url: str) -> str:
    client = _l1_client(ctx, [url])
    chain_id = int(str(client.request("eth_chainId")), 16)
    if chain_id != ctx.config.l1.chain_id:
        raise CheckFailed(f"serves chain id {chain_id}, l1.chain_id is {ctx.config.l1.chain_id}")
    return f"chain id {chain_id}, block {client.block_number()}"


def _gateway(ctx: _Context) -> GatewayClient:
    address = ctx.config.l1.gateway_address
    if address is None:
        raise CheckFailed("l1.gateway_address is not set")
    return GatewayClient(_l1_client(ctx), address)


def _gateway_code(ctx: _Context) -> str:
    gateway = _gateway(ctx)
    if not gateway.code_exists():
        raise CheckFailed(f"no contract code at {gateway.address} on chain {ctx.config.l1.chain_id}")
    bound = gateway.exocore_chain()
    expected = bytes(ChainId.parse(ctx.config.exocore.chain_id).hash)
    if bound != expected:
        raise CheckFailed(
            f"the contract at {gateway.address} is bound to Exocore chain 0x{bound.hex()}, "
            f"not {ctx.config.exocore.chain_id} (0x{expected.hex()})"
        )
    return f"gateway at {gateway.address} bound to {ctx.config.exocore.chain_id}"


def _keystore(ctx: _Context) -> str:
    try:
        account = load_signer(ctx.config.l1)
    except BaseException as exc:
        ctx.signer_address.set_exception(exc)
        raise
    ctx.signer_address.set_result(str(account.address))
    return f"decrypts; signer {account.address}"


def _balance(ctx: _Context) -> str:
    try:
        address = ctx.signer_address.result(timeout=ctx.timeout_s)
    except Exception as exc:
        raise CheckFailed("no signer to check (the keystore check failed)") from exc
    wei = _l1_client(ctx).balance(address)
    shown = f"{wei / WEI_PER_ETH:.4f} ETH ({wei} wei)"
    if wei < MIN_SIGNER_BALANCE_WEI:
        minimum = MIN_SIGNER_BALANCE_WEI / WEI_PER_ETH
        raise CheckFailed(f"{address} holds {shown}, below the minimum of {minimum:g} ETH")
    return f"{address} holds {shown}"


def _valset_nonce(ctx: _Context) -> str:
    gateway = _gateway(ctx)
    if not gateway.code_exists():
        raise CheckFailed(f"no gateway to read (no contract code at {gateway.address})")
    l1_nonce = gateway.current_valset_nonce()
    with _grpc_client(ctx) as client:
        valset = client.current_valset()
    if valset is None:
        raise CheckFailed("Exocore serves no current validator set")
    exocore_nonce = valset.valset_nonce
    if l1_nonce == exocore_nonce:
        return f"gateway and Exocore at valset {l1_nonce}"
    if l1_nonce < exocore_nonce:
        behind = exocore_nonce - l1_nonce
        raise CheckFailed(
            f"gateway at valset {l1_nonce}, Exocore at {exocore_nonce}: {behind} update(s) to relay",
            CheckLevel.WARNING,
        )
    raise CheckFailed(
        f"gateway at valset {l1_nonce} is ahead of Exocore's {exocore_nonce}: "
        "the gateway does not follow this chain"
    )


def _engine(ctx: _Context) -> Engine:
    url = ctx.config.database.url
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    database = parsed.database
    on_disk = backend == "sqlite" and database and database != ":memory:" and not database.startswith("file:")
    if on_disk and not Path(str(database)).expanduser().exists():
        # Connecting would create an empty file; a health check must not change anything.
        raise CheckFailed(f"SQLite file {database} does not exist: run `exorelay migrate`")
    connect_args = {"connect_timeout": max(1, int(ctx.timeout_s))} if backend == "postgresql" else {}
    return create_db_engine(url, connect_args=connect_args)


def _database(ctx: _Context) -> str:
    backend = make_url(ctx.config.database.url).get_backend_name()
    engine = _engine(ctx)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        current = migrate.current_revision(engine)
    finally:
        engine.dispose()
    head = migrate.head_revision()
    if current != head:
        raise CheckFailed(
            f"{backend} at revision {current or 'empty'}, newest is {head}: run `exorelay migrate`"
        )
    return f"{backend} at revision {head} (newest)"


def _ingestion(ctx: _Context) -> str:
    engine = _engine(ctx)
    try:
        with engine.connect() as conn:
            return _ingestion_streams(conn)
    finally:
        engine.dispose()


INGESTION_CHECK: Final = "ingestion streams"


def ingestion_check(conn: Connection) -> Check:
    """The health report's "ingestion streams" check over an open connection (the database the
    report's own engine would reach)."""
    return _run(partial(_ingestion_streams, conn), INGESTION_CHECK, Scrubber((), ()))


def _ingestion_streams(conn: Connection) -> str:
    """Fails while a stream is halted; a poisoned block is named with the commands that clear it."""
    halted = conn.execute(
        select(cursor_table.c.stream, cursor_table.c.halt_reason).where(cursor_table.c.halted.is_(True))
    ).all()
    streams = int(conn.execute(select(func.count()).select_from(cursor_table)).scalar_one())
    poisoned = open_poisoned_blocks(conn)
    if poisoned:
        block = poisoned[0]
        first_line = block.error.splitlines()[0] if block.error else ""
        commands = (
            f"fix and `exorelay resume {block.stream}`, or "
            f"`exorelay skip-block {block.stream} {block.height} --reason TEXT`"
        )
        head = f"stream {block.stream} halts at poisoned block {block.height} ({block.error_class}: "
        # The commands must survive the detail's length cap: the error text gives way instead.
        room = max(0, MAX_DETAIL_CHARS - len(head) - len(commands) - len("): "))
        error = first_line if len(first_line) <= room else first_line[: max(0, room - 1)] + "…"
        raise CheckFailed(f"{head}{error}): {commands}")
    if halted:
        raise CheckFailed("; ".join(f"stream {row.stream} is halted: {row.halt_reason}" for row in halted))
    return f"{streams} stream(s), none halted"


def _payouts(ctx: _Context) -> str:
    """Warns while payout jobs are parked waiting for an L1 deposit (they resume by themselves)."""
    engine = _engine(ctx)
    try:
        with engine.connect() as conn:
            parked = parked_payouts(conn)
    finally:
        engine.dispose()
    if parked:
        first = parked[0]
        raise CheckFailed(
            f"{len(parked)} payout job(s) parked; {first.item}: {first.retry_reason}: {first.retry_detail}",
            CheckLevel.WARNING,
        )
    return "no payout job parked"


@dataclass(frozen=True, slots=True)
class RewardTokenUse:
    """One reward token one AVS pays in, as Exocore's ``AVSInfo`` lists it."""

    avs: str
    avs_name: str
    token: str
    funding: int

    @property
    def check_name(self) -> str:
        modes = {mode.value: mode.name for mode in FundingMode}
        mode = modes.get(self.funding, f"funding {self.funding}")
        return f"reward token {self.token} ({mode}) of {self.avs_name or self.avs}"


def reward_token_uses(ctx: _Context) -> list[RewardTokenUse]:
    """Every (AVS, reward token) pair Exocore lists, in AVS order."""
    with _grpc_client(ctx) as client:
        return [
            RewardTokenUse(info.avs_address.lower(), info.name, token.token.lower(), int(token.funding))
            for info in client.avs_infos()
            for token in info.reward_tokens
        ]


def _reward_token(ctx: _Context, use: RewardTokenUse) -> str:
    """Step 0 for one token: may the L1 contracts issue (MINT) or transfer (VAULT) it for the AVS?"""
    gateway = _gateway(ctx)
    client = _l1_client(ctx)
    reader = TokenReader(client_call(client), use.token)
    if not client.get_code(use.token):
        raise CheckFailed(f"no contract code at {use.token}: Exocore names a token L1 does not have")
    unit = reader.unit()
    label = unit.symbol  # the check's name has the token's and the AVS's addresses
    if use.funding == FundingMode.MINT:
        if not reader.has_role(MINTER_ROLE, gateway.address):
            raise CheckFailed(
                f"{label} does not grant the gateway {gateway.address} MINTER_ROLE: every payout reverts "
                f"until the token's admin calls grantRole(MINTER_ROLE, {gateway.address})"
            )
        return f"{label}: the gateway {gateway.address} holds MINTER_ROLE (it may issue)"
    if use.funding in (FundingMode.VAULT, FundingMode.FEES):
        fees = use.funding == FundingMode.FEES
        vault = gateway.reward_vault()
        view, what, held_what, call = (
            ("feeBalanceOf", "transaction fees", "transaction fees", "depositFees")
            if fees
            else ("balanceOf", "deposit", "a deposit", "deposit")
        )
        credited = vault_deposit(client_call(client), vault, use.avs, use.token, view)
        held = reader.balance_of(vault)
        if credited == 0:
            raise CheckFailed(
                f"{label}: the RewardVault {vault} holds no {what} for the AVS: payouts park until it "
                f"calls {call}(avs, {use.token}, amount) there" + ("" if fees else " (depositETH for WETH)"),
                CheckLevel.WARNING,
            )
        if held < credited:
            raise CheckFailed(
                f"{label}: the RewardVault {vault} credits the AVS {format_amount(credited, unit)} but "
                f"holds only {format_amount(held, unit)} of the token, missing "
                f"{format_amount(credited - held, unit)} ({credited - held} base units): "
                "transfers would revert"
            )
        return (
            f"{label}: the RewardVault {vault} holds {held_what} of {format_amount(credited, unit)} for "
            "the AVS (it may transfer)"
        )
    raise CheckFailed(f"{label}: unknown funding mode {use.funding} (1 MINT, 2 VAULT, 3 FEES)")


def _token_plan(ctx: _Context) -> list[tuple[str, Callable[[], str]]]:
    """One check per (AVS, reward token); one ``reward tokens`` check if there are none or the list
    cannot be read."""
    try:
        uses = reward_token_uses(ctx)
    except Exception as exc:  # the listing failing is this check's verdict
        reason = describe_error(exc)

        def listing_failed() -> str:
            raise CheckFailed(f"cannot list the AVSs' reward tokens: {reason}")

        return [("reward tokens", listing_failed)]
    if not uses:
        return [("reward tokens", lambda: "no AVS on Exocore names a reward token yet")]
    return [(use.check_name, partial(_reward_token, ctx, use)) for use in uses]


# ------------------------------------------------------------------------------------------ runner


def _run(check: Callable[[], str], name: str, scrub: Scrubber) -> Check:
    try:
        detail = check()
    except CheckFailed as failed:
        return Check(name, ok=False, detail=_one_line(scrub(failed.detail)), level=failed.level)
    except Exception as exc:  # every failure of a check is its verdict, never a crash of the report
        return Check(name, ok=False, detail=_one_line(scrub(describe_error(exc))))
    return Check(name, ok=True, detail=_one_line(scrub(detail)))


def _secrets(config: ExorelayConfig) -> list[str]:
    found: list[str] = []
    with suppress(Exception):  # no password configured: nothing to scrub
        found.append(resolve_password(config.l1))
    password = make_url(config.database.url).password
    if password:
        found.append(str(password))
    return found


def _setup(config: ExorelayConfig, timeout_s: float) -> tuple[_Context, Scrubber, list[str], list[str]]:
    ctx = _Context(
        config, timeout_s=min(timeout_s, config.exocore.request_timeout_s, config.l1.request_timeout_s)
    )
    exocore_urls = [str(url).rstrip("/") for url in config.exocore.rpc_urls]
    l1_urls = [str(url) for url in config.l1.rpc_urls]
    scrub = Scrubber([*exocore_urls, *l1_urls, config.database.url], _secrets(config))
    return ctx, scrub, exocore_urls, l1_urls


def health_check(config: ExorelayConfig, *, timeout_s: float = CHECK_TIMEOUT_S) -> HealthReport:
    """Run every check (concurrently, each within ``timeout_s``); the report lists them in order."""
    ctx, scrub, exocore_urls, l1_urls = _setup(config, timeout_s)
    plan: list[tuple[str, Callable[[], str]]] = []
    for url in exocore_urls:
        plan.append((f"exocore rpc {redact_url(url)}", partial(_exocore_rpc, ctx, url)))
    for endpoint in config.exocore.grpc_endpoints:
        plan.append((f"exocore grpc {endpoint}", partial(_exocore_grpc, ctx, endpoint)))
    plan.append(("exocore relay params", partial(_relay_params, ctx)))
    for url in l1_urls:
        plan.append((f"l1 rpc {redact_url(url)}", partial(_l1_rpc, ctx, url)))
    plan += [
        ("l1 gateway code", partial(_gateway_code, ctx)),
        ("signer keystore", partial(_keystore, ctx)),
        ("signer balance", partial(_balance, ctx)),
        ("valset nonce", partial(_valset_nonce, ctx)),
        ("database", partial(_database, ctx)),
        (INGESTION_CHECK, partial(_ingestion, ctx)),
        ("payouts", partial(_payouts, ctx)),
        *_token_plan(ctx),
    ]
    return _run_plan(ctx, plan, scrub)


def reward_token_report(config: ExorelayConfig, *, timeout_s: float = CHECK_TIMEOUT_S) -> HealthReport:
    """Only step 0, the reward tokens' checks of :func:`health_check` (what the demo narrates)."""
    ctx, scrub, _exocore_urls, _l1_urls = _setup(config, timeout_s)
    return _run_plan(ctx, _token_plan(ctx), scrub)


def _run_plan(ctx: _Context, plan: Sequence[tuple[str, Callable[[], str]]], scrub: Scrubber) -> HealthReport:
    pool = ThreadPoolExecutor(max_workers=len(plan), thread_name_prefix="health-check")
    try:
        started = monotonic()
        futures = [(name, pool.submit(_run, check, name, scrub)) for name, check in plan]
        checks = []
        for name, future in futures:
            # The balance check waits for the keystore; everything else starts at once.
            budget = (2 if name == "signer balance" else 1) * (ctx.timeout_s + CHECK_GRACE_S)
            try:
                checks.append(future.result(timeout=max(0.0, started + budget - monotonic())))
            except FutureTimeoutError:
                checks.append(Check(name, ok=False, detail=f"no answer within {ctx.timeout_s:g} s"))
    finally:
        # A check that overran finishes on its own (its client timeout bounds it); do not wait.
        pool.shutdown(wait=False, cancel_futures=True)
    return HealthReport(tuple(checks))
