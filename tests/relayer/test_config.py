"""Config: the example documents every key with its default; errors and warnings carry key paths."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

from relayer.cli import app
from relayer.config import ExorelayConfig, L1Config, check_config, load_config
from relayer.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "exorelay.example.toml"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("EXORELAY_") and "__" in name:
            monkeypatch.delenv(name)


LIST_OF_TABLES = {"client_chains"}
"""Top-level keys holding a list of tables (``[[name]]``) shaped like a section: documented as one key
whose example entries may use only that section's keys."""


def _all_key_paths() -> set[str]:
    paths: set[str] = set()
    for section, info in ExorelayConfig.model_fields.items():
        if section in LIST_OF_TABLES:
            paths.add(section)
            continue
        model = info.annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        paths.update(f"{section}.{key}" for key in model.model_fields)
    return paths


def _documented_key_paths(text: str) -> tuple[set[str], set[str]]:
    """The documented key paths, and the keys used inside ``[[list]]`` example entries."""
    section = ""
    found: set[str] = set()
    entry_keys: set[str] = set()
    for line in text.splitlines():
        if m := re.match(r"^\[(\w+)\]$", line):
            section = m.group(1)
        elif m := re.match(r"^# \[\[(\w+)\]\]$", line):
            section = m.group(1)
            found.add(section)
        elif m := re.match(r"^#? ?(\w+) = ", line):
            if section in LIST_OF_TABLES:
                entry_keys.add(m.group(1))
            else:
                found.add(f"{section}.{m.group(1)}")
    return found, entry_keys


def test_example_documents_every_key() -> None:
    found, entry_keys = _documented_key_paths(EXAMPLE.read_text())
    assert found == _all_key_paths()
    assert entry_keys and entry_keys <= set(L1Config.model_fields)


def test_example_values_are_the_defaults() -> None:
    assert load_config(EXAMPLE) == ExorelayConfig()


def test_every_error_is_reported_with_its_key_path(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[l1]\nconfirmations = -1\nbogus = 1\ngateway_address = "0x12"\n'
        '[exocore]\nchain_id = "nope"\ngrpc_endpoints = ["localhost"]\n'
    )
    report = check_config(bad)
    assert report.config is None
    assert {p.path for p in report.errors} == {
        "l1.confirmations",
        "l1.bogus",
        "l1.gateway_address",
        "exocore.chain_id",
        "exocore.grpc_endpoints",
    }
    assert next(p for p in report.errors if p.path == "l1.bogus").message == "unknown key"
    with pytest.raises(ConfigError, match=r"l1\.confirmations"):
        load_config(bad)


def test_environment_overrides_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXORELAY_L1__CONFIRMATIONS", "12")
    monkeypatch.setenv("EXORELAY_L1__RPC_URLS", '["http://a:8545", "http://b:8545"]')
    config = load_config(EXAMPLE)
    assert config.l1.confirmations == 12
    assert [str(u) for u in config.l1.rpc_urls] == ["http://a:8545/", "http://b:8545/"]
    report = check_config(EXAMPLE)
    assert "l1.rpc_urls" not in {w.path for w in report.warnings}


def test_bad_environment_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXORELAY_L1__CONFIRMATIONS", "many")
    report = check_config(EXAMPLE)
    assert [p.path for p in report.errors] == ["l1.confirmations"]
    assert "EXORELAY_L1__CONFIRMATIONS" in report.errors[0].message


def test_environment_value_that_is_not_json_is_an_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A list key's value must be JSON; pydantic-settings raised an exception here instead of a report.
    monkeypatch.setenv("EXORELAY_L1__RPC_URLS", "http://a:8545")
    report = check_config(EXAMPLE)
    assert [p.path for p in report.errors] == ["l1.rpc_urls"]
    assert "EXORELAY_L1__RPC_URLS is not valid JSON" in report.errors[0].message


def test_environment_overrides_one_key_and_keeps_the_rest_of_the_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "partial.toml"
    cfg.write_text('[l1]\nconfirmations = 5\nchain_id = 31337\n[logging]\nlevel = "debug"\n')
    monkeypatch.setenv("exorelay_l1__confirmations", "7")  # any case, as before
    monkeypatch.setenv("EXORELAY_API__PORT", "9000")  # a section the file does not have
    config = load_config(cfg)
    assert (config.l1.confirmations, config.l1.chain_id) == (7, 31337)
    assert (config.api.port, config.logging.level) == (9000, "debug")


def test_constructing_the_model_reads_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXORELAY_L1__CONFIRMATIONS", "12")
    assert ExorelayConfig().l1.confirmations != 12
    assert load_config(None).l1.confirmations == 12


def test_warnings_are_separate_from_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "risky.toml"
    cfg.write_text('[l1]\nconfirmations = 0\nkeystore_password = "hunter2"\n')
    monkeypatch.setenv("EXORELAY_NOSUCH__KEY", "1")
    report = check_config(cfg)
    assert report.ok
    paths = {w.path for w in report.warnings}
    assert {"l1.confirmations", "l1.keystore_password", "nosuch.key", "exocore.rpc_urls"} <= paths
    assert "hunter2" not in repr(report.config)


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    assert check_config(tmp_path / "absent.toml").errors[0].message.endswith("no such config file")
    broken = tmp_path / "broken.toml"
    broken.write_text("[l1\n")
    assert "not valid TOML" in check_config(broken).errors[0].message


def test_cli_validate_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["config", "validate", str(EXAMPLE)])
    assert ok.exit_code == 0, ok.output
    assert "valid" in ok.stdout
    assert "warning: database.url" in ok.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text("[api]\nport = 0\n")
    res = runner.invoke(app, ["config", "validate", str(bad)])
    assert res.exit_code == 1
    assert "error: api.port" in res.stderr


def test_operations_doc_lists_every_key() -> None:
    table = (ROOT / "docs" / "operations.md").read_text()
    documented = set(re.findall(r"^\| `(\w+\.\w+)` \|", table, flags=re.M))
    documented |= {key for key in re.findall(r"^\| `(\w+)` \|", table, flags=re.M) if key in LIST_OF_TABLES}
    assert documented == _all_key_paths()


def test_operator_section_is_validated(tmp_path: Path) -> None:
    bad = tmp_path / "operator.toml"
    bad.write_text(
        "[operator]\n"
        'account = "0x1234"\n'
        "metrics_port = 9480\n"
        'avs = [{ address = "0xab", keystore_path = "k.json" },'
        ' { address = "0x'
        + "cd" * 20
        + '", keystore_path = "k.json", max_amount_per_epoch = { "0x'
        + "ee" * 20
        + '" = "1e21" } }]\n'
    )
    report = check_config(bad)
    assert {p.path for p in report.errors} == {
        "operator.account",
        "operator.avs.0.address",
        "operator.avs.1.max_amount_per_epoch",
    }
    good = tmp_path / "good.toml"
    avs_a, token = "0x" + "AB" * 20, "0x" + "EE" * 20
    good.write_text(
        f'[operator]\naccount = "exo1qyqszqgpqyqszqgpqyqszqgpqyqszqgpjnp7du"\n'
        f'avs = [{{ address = "{avs_a}", keystore_path = "k.json",'
        f' max_amount_per_epoch = {{ "{token}" = "{10**30}" }} }}]\n'
    )
    config = load_config(good)
    [entry] = config.operator.avs
    assert entry.address == avs_a.lower() and entry.max_amount_per_epoch == {token.lower(): str(10**30)}
    clash = tmp_path / "clash.toml"
    clash.write_text("[operator]\nmetrics_port = 9480\n")
    assert [p.path for p in check_config(clash).errors] == ["<root>"]


GATEWAY_A = "0x" + "aa" * 20
GATEWAY_B = "0x" + "bb" * 20


def test_the_one_chain_form_is_a_one_element_list(tmp_path: Path) -> None:
    legacy = tmp_path / "legacy.toml"
    legacy.write_text(f'[l1]\nchain_id = 5\ngateway_address = "{GATEWAY_A}"\nconfirmations = 4\n')
    listed = tmp_path / "listed.toml"
    listed.write_text(
        f'[[client_chains]]\nchain_id = 5\ngateway_address = "{GATEWAY_A}"\nconfirmations = 4\n'
    )
    one, other = load_config(legacy), load_config(listed)
    assert one.chains == other.chains == (one.l1,)
    assert one.l1 == other.l1 and one.l1.confirmations == 4 and one.client_chains == ()
    assert [
        w.path for w in check_config(listed).warnings if w.path.startswith(("l1.", "client_chains."))
    ] == ["client_chains.0.rpc_urls"]
    assert load_config(EXAMPLE).chains == (L1Config(),)


def test_several_client_chains_each_with_its_own_endpoints_finality_and_keystore(tmp_path: Path) -> None:
    cfg = tmp_path / "two.toml"
    cfg.write_text(
        "[[client_chains]]\nchain_id = 1\n"
        f'gateway_address = "{GATEWAY_A.upper().replace("0X", "0x")}"\n'
        'rpc_urls = ["http://a1:8545", "http://a2:8545"]\nfinality = "finalized"\n'
        'keystore_path = "/keys/a.json"\n'
        "[[client_chains]]\nchain_id = 8453\n"
        f'gateway_address = "{GATEWAY_B}"\nrpc_urls = ["http://b1:8545"]\nconfirmations = 0\n'
        'keystore_path = "/keys/b.json"\nkeystore_password = "hunter2"\n'
    )
    report = check_config(cfg)
    assert report.config is not None, report.errors
    first, second = report.config.chains
    assert (first.chain_id, first.gateway_address, first.finality.value) == (1, GATEWAY_A, "finalized")
    assert [str(u) for u in first.rpc_urls] == ["http://a1:8545/", "http://a2:8545/"]
    assert (second.chain_id, second.confirmations, str(second.keystore_path)) == (8453, 0, "/keys/b.json")
    assert report.config.l1 == first  # one-chain commands use the first entry
    paths = {w.path for w in report.warnings}
    assert {
        "client_chains.1.rpc_urls",
        "client_chains.1.confirmations",
        "client_chains.1.keystore_password",
    } <= paths
    assert not {p for p in paths if p.startswith(("l1.", "client_chains.0."))}
    assert "hunter2" not in repr(report.config)


def test_bad_client_chain_entries_are_errors_with_their_key_paths(tmp_path: Path) -> None:
    duplicate = tmp_path / "duplicate.toml"
    duplicate.write_text(
        "[[client_chains]]\nchain_id = 7\n[[client_chains]]\nchain_id = 8\n[[client_chains]]\nchain_id = 7\n"
    )
    [problem] = check_config(duplicate).errors
    assert problem.path == "client_chains"
    assert "entry 2 repeats chain_id 7 of entry 0" in problem.message
    bad = tmp_path / "bad.toml"
    bad.write_text(
        "[[client_chains]]\nchain_id = 0\n"
        '[[client_chains]]\ngateway_address = "0x12"\nrpc_urls = []\nnope = 1\n'
    )
    assert {p.path for p in check_config(bad).errors} == {
        "client_chains.0.chain_id",
        "client_chains.1.gateway_address",
        "client_chains.1.rpc_urls",
        "client_chains.1.nope",
    }
    both = tmp_path / "both.toml"
    both.write_text("[l1]\nchain_id = 1\n[[client_chains]]\nchain_id = 2\n")
    [problem] = check_config(both).errors
    assert "both [l1] and [[client_chains]] are given" in problem.message
    with pytest.raises(ConfigError, match=r"move its keys into a \[\[client_chains\]\] entry"):
        load_config(both)


def test_an_l1_environment_override_with_client_chains_is_refused_not_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "listed.toml"
    cfg.write_text("[[client_chains]]\nchain_id = 2\n")
    monkeypatch.setenv("EXORELAY_L1__CONFIRMATIONS", "12")
    [problem] = check_config(cfg).errors
    assert "EXORELAY_L1__" in problem.message


def test_run_names_the_client_chain_without_a_gateway(tmp_path: Path) -> None:
    from relayer.service import build  # noqa: PLC0415 (web3, SQLAlchemy: only this test needs them)

    cfg = tmp_path / "two.toml"
    cfg.write_text(
        f'[[client_chains]]\nchain_id = 1\ngateway_address = "{GATEWAY_A}"\n[[client_chains]]\nchain_id = 2\n'
    )
    with pytest.raises(ConfigError, match=r"client_chains\.1\.gateway_address is required"):
        build(load_config(cfg))
