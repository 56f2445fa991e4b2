"""``exorelay health-check`` against a real in-process devnet + anvil (DevnetStack), healthy and broken."""

from __future__ import annotations

import hashlib
import json
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from sqlalchemy import insert
from typer.testing import CliRunner
from web3 import Web3
from web3.types import RPCEndpoint, TxParams

from devnet import scenario as sc
from devnet.anvil import free_port
from devnet.l1_deploy import contract_at, send_transaction
from devnet.stack import DevnetStack
from relayer.cli import app
from relayer.config import ExorelayConfig
from relayer.health import (
    MIN_SIGNER_BALANCE_WEI,
    CheckLevel,
    HealthReport,
    Scrubber,
    health_check,
    redact_url,
)
from relayer.l1.artifacts import ContractName
from relayer.l1.keystore import write_keystore
from relayer.pipeline.retry import RetryReason
from relayer.protocol import bls
from storage.db import create_db_engine
from storage.job_tables import PayoutStage, payout_job_table
from storage.models import block_table, cursor_table, poisoned_block_table
from storage.store import LifecycleStore
from tests.support.database import ops_database

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PASSWORD = "correct horse battery staple"
HANG_BOUND_S = 60.0
"""Bounds a hang of the health check against a silent endpoint; not a speed requirement."""
KEYSTORE_ITERATIONS = 1024
"""pbkdf2 rounds of the test keystores: decrypting takes milliseconds instead of scrypt's second."""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevnetStack]:
    with DevnetStack(tmp_path_factory.mktemp("health-stack"), exocore_block_time_s=None) as running:
        assert running.devnet is not None
        running.devnet.node.advance(1)  # genesis state (the first valset) is committed in block 1
        yield running


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with ops_database(tmp_path_factory.mktemp("health-db")) as url:
        yield url


@pytest.fixture(scope="module")
def keystore(stack: DevnetStack, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The keystore of a funded anvil account and its password file."""
    assert stack.anvil is not None
    directory = tmp_path_factory.mktemp("keys")
    path = directory / "signer.json"
    key = stack.anvil.dev_accounts()[1].private_key
    write_keystore(path, key, PASSWORD, kdf="pbkdf2", iterations=KEYSTORE_ITERATIONS)
    password_file = directory / "password"
    password_file.write_text(PASSWORD + "\n")
    return path, password_file


def settings(stack: DevnetStack, database_url: str, keystore: tuple[Path, Path]) -> dict[str, Any]:
    values = stack.relayer_settings(database_url)
    values["l1"].pop("keystore_password", None)
    values["l1"]["keystore_path"] = str(keystore[0])
    values["l1"]["keystore_password_file"] = str(keystore[1])
    values["relayer"]["metrics_port"] = 0
    return values


@pytest.fixture
def good(stack: DevnetStack, database_url: str, keystore: tuple[Path, Path]) -> dict[str, Any]:
    return settings(stack, database_url, keystore)


def run(values: dict[str, Any], **kwargs: Any) -> HealthReport:
    return health_check(ExorelayConfig(**values), **kwargs)


def by_name(report: HealthReport) -> dict[str, Any]:
    return {check.name: check for check in report.checks}


def dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


# ------------------------------------------------------------------------------------------ healthy


def test_a_healthy_setup_passes_every_check(good: dict[str, Any], stack: DevnetStack) -> None:
    report = run(good)
    checks = by_name(report)
    assert report.ok and report.failures == () and report.warnings == (), report.checks
    exocore_rpc = good["exocore"]["rpc_urls"][0]
    gateway = stack.gateway.lower()
    assert set(checks) == {
        f"exocore rpc {exocore_rpc}",
        f"exocore grpc {good['exocore']['grpc_endpoints'][0]}",
        "exocore relay params",
        f"l1 rpc {good['l1']['rpc_urls'][0]}",
        "l1 gateway code",
        "signer keystore",
        "signer balance",
        "valset nonce",
        "database",
        "ingestion streams",
        "payouts",
        "reward tokens",
    }
    assert checks["reward tokens"].detail == "no AVS on Exocore names a reward token yet"
    assert checks[f"exocore rpc {exocore_rpc}"].detail.startswith("chain exocoredevnet_233-1, height ")
    assert checks["exocore relay params"].detail == f"L1 chain 31337, gateway {gateway}"
    assert checks["l1 gateway code"].detail == f"gateway at {gateway} bound to exocoredevnet_233-1"
    assert checks["signer keystore"].detail.startswith("decrypts; signer 0x70997970")
    assert checks["valset nonce"].detail == "gateway and Exocore at valset 1"
    assert checks["database"].detail.endswith("(newest)")
    assert PASSWORD not in json.dumps(report.to_json())


def test_cli_health_check_prints_each_check_and_exits_0(tmp_path: Path, good: dict[str, Any]) -> None:
    config = write_toml(tmp_path / "exorelay.toml", good)
    result = CliRunner().invoke(app, ["health-check", "--config", str(config)])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 13 and all(line.startswith("ok ") for line in lines[:-1])
    assert lines[-1] == "healthy (12 checks, 0 warning(s))"
    as_json = CliRunner().invoke(app, ["health-check", "--config", str(config), "--json"])
    assert as_json.exit_code == 0
    assert json.loads(as_json.stdout)["ok"] is True


# ------------------------------------------------------------------------------------------ broken


def test_dead_endpoints_fail_their_checks_and_the_cli_exits_1(tmp_path: Path, good: dict[str, Any]) -> None:
    dead_rpc, dead_l1 = dead_url(), dead_url()
    dead_grpc = f"127.0.0.1:{free_port()}"
    good["exocore"]["rpc_urls"].append(dead_rpc)
    good["exocore"]["grpc_endpoints"].append(dead_grpc)
    good["l1"]["rpc_urls"].append(dead_l1)
    config = write_toml(tmp_path / "exorelay.toml", good)
    result = CliRunner().invoke(app, ["health-check", "--config", str(config)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert f"FAIL  exocore rpc {dead_rpc}: connection refused" in lines
    assert f"FAIL  exocore grpc {dead_grpc}: connection refused" in lines
    assert f"FAIL  l1 rpc {dead_l1}: connection refused" in lines
    assert lines[-1] == "3 check(s) failed (15 checks, 0 warning(s))"
    # The live endpoints still pass; failover clients still read params and the valset.
    assert sum(line.startswith("ok ") for line in lines) == 12


def test_wrong_chain_ids(good: dict[str, Any]) -> None:
    good["l1"]["chain_id"] = 1
    good["exocore"]["chain_id"] = "otherchain_7-1"
    checks = by_name(run(good))
    exocore_rpc, grpc, l1_rpc = (
        good["exocore"]["rpc_urls"][0],
        good["exocore"]["grpc_endpoints"][0],
        good["l1"]["rpc_urls"][0],
    )
    assert checks[f"exocore rpc {exocore_rpc}"].detail == (
        "ChainMismatchError: serves chain 'exocoredevnet_233-1', not the configured 'otherchain_7-1'"
    )
    assert "not the configured 'otherchain_7-1'" in checks[f"exocore grpc {grpc}"].detail
    assert checks[f"l1 rpc {l1_rpc}"].detail == "serves chain id 31337, l1.chain_id is 1"
    assert "bound to Exocore chain 0x" in checks["l1 gateway code"].detail
    assert not any(check.ok for name, check in checks.items() if name.startswith(("exocore", "l1")))


def test_no_code_at_the_gateway_address(tmp_path: Path, good: dict[str, Any], stack: DevnetStack) -> None:
    empty = "0x" + "11" * 20
    good["l1"]["gateway_address"] = empty
    config = write_toml(tmp_path / "exorelay.toml", good)
    result = CliRunner().invoke(app, ["health-check", "--config", str(config)])
    assert result.exit_code == 1
    assert f"FAIL  l1 gateway code: no contract code at {empty} on chain 31337" in result.output.splitlines()
    assert (
        f"FAIL  exocore relay params: Exocore relays to gateway {stack.gateway.lower()}, "
        f"l1.gateway_address is {empty}"
    ) in result.output.splitlines()
    assert (
        f"FAIL  valset nonce: no gateway to read (no contract code at {empty})" in result.output.splitlines()
    )


def test_wrong_password_and_poor_signer(tmp_path: Path, good: dict[str, Any]) -> None:
    wrong = tmp_path / "wrong-password"
    wrong.write_text("not the password\n")
    good["l1"]["keystore_password_file"] = str(wrong)
    checks = by_name(run(good))
    assert not checks["signer keystore"].ok and "wrong password" in checks["signer keystore"].detail
    assert checks["signer balance"].detail == "no signer to check (the keystore check failed)"
    assert "not the password" not in json.dumps([c.detail for c in checks.values()])

    poor = tmp_path / "poor.json"
    address = write_keystore(
        poor, hashlib.sha256(b"poor").digest(), PASSWORD, kdf="pbkdf2", iterations=KEYSTORE_ITERATIONS
    )
    good["l1"]["keystore_path"] = str(poor)
    good["l1"]["keystore_password_file"] = None
    good["l1"]["keystore_password"] = PASSWORD
    checks = by_name(run(good))
    assert checks["signer keystore"].ok
    balance = checks["signer balance"]
    assert not balance.ok and balance.level is CheckLevel.ERROR
    assert balance.detail == f"{address} holds 0.0000 ETH (0 wei), below the minimum of 0.1 ETH"
    assert MIN_SIGNER_BALANCE_WEI == 10**17
    assert PASSWORD not in json.dumps([c.detail for c in checks.values()])


def test_database_missing_or_not_migrated(tmp_path: Path, good: dict[str, Any]) -> None:
    missing = tmp_path / "nowhere" / "exorelay.db"
    good["database"]["url"] = f"sqlite:///{missing}"
    detail = by_name(run(good))["database"].detail
    assert detail == f"SQLite file {missing} does not exist: run `exorelay migrate`"
    assert not missing.parent.exists()  # the check created nothing

    empty = tmp_path / "empty.db"
    create_db_engine(f"sqlite:///{empty}").connect().close()
    good["database"]["url"] = f"sqlite:///{empty}"
    detail = by_name(run(good))["database"].detail
    assert detail.startswith("sqlite at revision empty, newest is ") and "run `exorelay migrate`" in detail


def test_an_endpoint_that_never_answers_is_bounded_by_the_timeout(good: dict[str, Any]) -> None:
    with socket.socket() as silent:  # accepts connections (kernel backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/v3/APIKEY123"
        good["l1"]["rpc_urls"].append(url)
        started = time.monotonic()
        checks = by_name(run(good, timeout_s=1.0))
        elapsed = time.monotonic() - started
    shown = f"l1 rpc http://127.0.0.1:{url.split(':')[2].split('/', maxsplit=1)[0]}/***"
    assert checks[shown].detail in ("no answer in time", "no answer within 1 s")
    assert elapsed < HANG_BOUND_S  # the 1 s timeout held: no hang (how fast is not the question)
    assert "APIKEY123" not in json.dumps([(c.name, c.detail) for c in checks.values()])


def test_urls_and_secrets_are_redacted() -> None:
    assert (
        redact_url("https://user:pw@eth.example.com:8545/v2/KEY?x=1")
        == "https://***@eth.example.com:8545/***"
    )
    assert redact_url("http://127.0.0.1:26657") == "http://127.0.0.1:26657"
    assert redact_url("http://127.0.0.1:26657/") == "http://127.0.0.1:26657"
    assert redact_url("not a url") == "<url>"
    scrub = Scrubber(["https://user:pw@node.example/v2/KEY"], ["s3cret"])
    assert (
        scrub("GET https://user:pw@node.example/v2/KEY failed") == "GET https://***@node.example/*** failed"
    )
    assert scrub("Max retries exceeded with url: /v2/KEY (password s3cret)") == (
        "Max retries exceeded with url: /*** (password ***)"
    )


# ------------------------------------------------------------------------------------------ valset (last:
# it rotates the module's Exocore validator set)


def test_gateway_behind_exocores_valset_is_a_warning(
    tmp_path: Path, good: dict[str, Any], stack: DevnetStack
) -> None:
    assert stack.devnet is not None
    node = stack.devnet.node
    secret = bls.secret_key_from_seed(hashlib.sha256(b"health-rotation").digest())
    node.submit(sc.validator_msg(hashlib.sha256(b"health-validator").digest(), secret, 50))
    node.advance(3)  # the rotation happens in the next block's begin-block
    config = write_toml(tmp_path / "exorelay.toml", good)
    result = CliRunner().invoke(app, ["health-check", "--config", str(config)])
    assert result.exit_code == 0, result.output  # a pending rotation is the relayer's job, not a fault
    assert "warn  valset nonce: gateway at valset 1, Exocore at 2: 1 update(s) to relay" in result.output
    assert result.output.strip().splitlines()[-1] == "healthy (12 checks, 1 warning(s))"


# ------------------------------------------------------------------------------------------ helpers


def write_toml(path: Path, values: dict[str, Any]) -> Path:
    """The few value types a config holds (strings, numbers, booleans, lists of strings), as TOML."""

    def render(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return repr(value)
        if isinstance(value, list):
            return "[" + ", ".join(render(item) for item in value) + "]"
        return json.dumps(str(value))

    lines: list[str] = []
    for section, table in values.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {render(value)}" for key, value in table.items() if value is not None]
    path.write_text("\n".join(lines) + "\n")
    return path


# ---------------------------------------------------------------------------------- ingestion, payouts


def test_a_poisoned_block_fails_the_check_and_a_parked_payout_warns(good: dict[str, Any]) -> None:
    engine = create_db_engine(good["database"]["url"])
    store = LifecycleStore(engine)
    try:
        store.poison(
            "exocore",
            7,
            chain="exocore",
            block_hash="0x" + "ab" * 32,
            error_class="DataError(DataError)",
            error="PostgreSQL text fields cannot contain NUL (0x00) bytes",
        )
        with engine.begin() as conn:
            conn.execute(
                insert(payout_job_table).values(
                    distribution_id="0x" + "d1" * 32,
                    packet_nonce=3,
                    leaf_count=4,
                    stage=PayoutStage.PAYING.value,
                    retry_reason=RetryReason.INSUFFICIENT_DEPOSIT.value,
                    retry_detail="vault holds 1 of 0x"
                    + "c0" * 20
                    + " for AVS 0x"
                    + "a0" * 20
                    + ", batch needs 5",
                    attempts=1,
                    created_at=T0,
                    updated_at=T0,
                )
            )
        checks = by_name(run(good))
        ingestion, payouts = checks["ingestion streams"], checks["payouts"]
        assert not ingestion.ok and ingestion.level is CheckLevel.ERROR
        assert (
            "stream exocore halts at poisoned block 7 (DataError(DataError): PostgreSQL text"
            in ingestion.detail
        )
        assert "`exorelay skip-block exocore 7 --reason TEXT`" in ingestion.detail
        assert not payouts.ok and payouts.level is CheckLevel.WARNING
        assert payouts.detail.startswith(
            "1 payout job(s) parked; distribution:0x" + "d1" * 32 + ": insufficient_deposit"
        )
        # Skipped by an operator: the stream goes on, the check passes again.
        store.skip_block("exocore", 7, reason="test", by="tester")
        assert by_name(run(good))["ingestion streams"].ok
    finally:
        with engine.begin() as conn:
            for table in (payout_job_table, poisoned_block_table, cursor_table, block_table):
                conn.execute(table.delete())
        engine.dispose()


# ------------------------------------------------------------------------------------------ step 0


def set_gateway_minter(stack: DevnetStack, granted: bool) -> None:
    """The token's admin (anvil account 0 deployed it) grants or revokes the gateway's MINTER_ROLE."""
    assert stack.anvil is not None
    w3 = Web3(Web3.HTTPProvider(stack.anvil.rpc_url))
    admin = Account.from_key(stack.anvil.dev_accounts()[0].private_key)
    token = contract_at(w3, ContractName.REWARD_TOKEN, stack.manifest["l1"]["contracts"]["reward_token"])
    role, gateway = token.functions.MINTER_ROLE().call(), Web3.to_checksum_address(stack.gateway)
    call = (token.functions.grantRole if granted else token.functions.revokeRole)(role, gateway)
    send_transaction(w3, admin, call.build_transaction(TxParams({"from": admin.address})))


def test_step_0_is_checked_for_each_reward_token_an_avs_pays_in(
    good: dict[str, Any], stack: DevnetStack
) -> None:
    assert stack.devnet is not None
    contracts = stack.manifest["l1"]["contracts"]
    exor, weth = contracts["reward_token"].lower(), contracts["weth"].lower()
    avs = "0x" + hashlib.sha256(b"health-avs").digest()[:20].hex()
    rules = sc.AvsRules(
        address=avs,
        name="health-avs",
        asset_ids=sc.scenario_asset_ids(weth, exor, int(stack.manifest["exocore"]["lz_chain_id"])),
        reward_tokens=((exor, 1), (weth, 2)),
    )
    stack.devnet.node.submit(rules.msg())
    stack.devnet.node.advance(1)
    mint, vault = f"reward token {exor} (MINT) of health-avs", f"reward token {weth} (VAULT) of health-avs"
    gateway, reward_vault = stack.gateway.lower(), contracts["reward_vault"].lower()

    report = run(good)
    checks = by_name(report)
    assert "reward tokens" not in checks
    assert checks[mint].ok
    assert checks[mint].detail == f"EXOR: the gateway {gateway} holds MINTER_ROLE (it may issue)"
    # No deposit yet: payouts would park (a warning), and the check says which call funds them.
    assert not checks[vault].ok and checks[vault].level is CheckLevel.WARNING and report.ok
    assert checks[vault].detail == (
        f"WETH: the RewardVault {reward_vault} holds no deposit for the AVS: payouts park until it"
        f" calls deposit(avs, {weth}, amount) there (depositETH for WETH)"
    )

    stack.fund_avs_eth(avs, 3 * 10**18 // 2)
    checks = by_name(run(good))
    assert checks[vault].ok
    assert checks[vault].detail == (
        f"WETH: the RewardVault {reward_vault} holds a deposit of 1.5000 WETH for the AVS (it may transfer)"
    )

    set_gateway_minter(stack, granted=False)
    try:
        report = run(good)
        failed = by_name(report)[mint]
        assert not report.ok and failed in report.failures
        assert failed.detail == (
            f"EXOR does not grant the gateway {gateway} MINTER_ROLE: every payout reverts until"
            f" the token's admin calls grantRole(MINTER_ROLE, {gateway})"
        )
    finally:
        set_gateway_minter(stack, granted=True)
    assert by_name(run(good))[mint].ok


def register_avs(stack: DevnetStack, name: str, reward_tokens: tuple[tuple[str, int], ...]) -> str:
    assert stack.devnet is not None
    contracts = stack.manifest["l1"]["contracts"]
    exor, weth = contracts["reward_token"].lower(), contracts["weth"].lower()
    avs = "0x" + hashlib.sha256(name.encode()).digest()[:20].hex()
    rules = sc.AvsRules(
        address=avs,
        name=name,
        asset_ids=sc.scenario_asset_ids(weth, exor, int(stack.manifest["exocore"]["lz_chain_id"])),
        reward_tokens=reward_tokens,
    )
    stack.devnet.node.submit(rules.msg())
    stack.devnet.node.advance(1)
    return avs


def weth_balance_slot(holder: str) -> str:
    """Storage slot of ``holder``'s WrappedEther balance (OpenZeppelin ERC20: ``_balances`` is slot 0)."""
    key = bytes(12) + bytes.fromhex(holder.removeprefix("0x")) + bytes(32)
    return "0x" + Web3.keccak(key).hex().removeprefix("0x")


def test_step_0_fails_a_vault_token_the_vault_holds_less_of_than_it_credits_and_names_the_gap(
    good: dict[str, Any], stack: DevnetStack
) -> None:
    """A VAULT token whose balance in the RewardVault shrank below what the vault credits the AVS (a
    token that rebased or seized it: here the balance is lowered in anvil's state) fails step 0 with
    the amount missing, in the token's unit and in base units; restored, the check passes again."""
    assert stack.anvil is not None
    contracts = stack.manifest["l1"]["contracts"]
    weth = contracts["weth"].lower()
    avs = register_avs(stack, "short-avs", ((weth, 2),))
    stack.fund_avs_eth(avs, 2 * 10**18)
    name = f"reward token {weth} (VAULT) of short-avs"
    reward_vault = contracts["reward_vault"].lower()
    assert by_name(run(good))[name].ok
    w3 = Web3(Web3.HTTPProvider(stack.anvil.rpc_url))
    slot = weth_balance_slot(reward_vault)
    token = contract_at(w3, ContractName.WRAPPED_ETHER, contracts["weth"])
    held_before = token.functions.balanceOf(Web3.to_checksum_address(reward_vault)).call()
    short = 2 * 10**18 - 10**18 // 4  # 0.25 WETH below the AVS's 2 WETH credit
    set_storage = RPCEndpoint("anvil_setStorageAt")
    w3.provider.make_request(set_storage, [contracts["weth"], slot, "0x" + short.to_bytes(32, "big").hex()])
    try:
        report = run(good)
        failed = by_name(report)[name]
        assert not report.ok and failed in report.failures and failed.level is CheckLevel.ERROR
        assert failed.detail == (
            f"WETH: the RewardVault {reward_vault} credits the AVS 2.0000 WETH but holds only 1.7500 WETH"
            f" of the token, missing 0.2500 WETH ({10**18 // 4} base units): transfers would revert"
        )
    finally:
        w3.provider.make_request(
            set_storage, [contracts["weth"], slot, "0x" + held_before.to_bytes(32, "big").hex()]
        )
    assert by_name(run(good))[name].ok


def test_step_0_checks_a_fees_token_against_the_avs_fee_balance(
    good: dict[str, Any], stack: DevnetStack
) -> None:
    contracts = stack.manifest["l1"]["contracts"]
    weth, reward_vault = contracts["weth"].lower(), contracts["reward_vault"].lower()
    avs = register_avs(stack, "fees-avs", ((weth, 3),))
    name = f"reward token {weth} (FEES) of fees-avs"
    stack.fund_avs_eth(avs, 10**18)  # a VAULT deposit is not fees
    check = by_name(run(good))[name]
    assert not check.ok and check.level is CheckLevel.WARNING
    assert check.detail == (
        f"WETH: the RewardVault {reward_vault} holds no transaction fees for the AVS: payouts park until it"
        f" calls depositFees(avs, {weth}, amount) there"
    )
    stack.deposit_fees_eth(avs, 10**18 // 2)
    check = by_name(run(good))[name]
    assert check.ok
    assert check.detail == (
        f"WETH: the RewardVault {reward_vault} holds transaction fees of 0.5000 WETH for the AVS"
        " (it may transfer)"
    )
