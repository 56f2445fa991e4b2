"""Keystore: round trip through the real eth_account scrypt/pbkdf2 code, password sources, errors
that never leak the secret."""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path

import pytest
from eth_account import Account

from relayer.config import L1Config
from relayer.errors import ConfigError
from relayer.l1.errors import KeystoreError
from relayer.l1.keystore import load_signer, resolve_password, write_keystore

KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
PASSWORD = "correct horse battery staple"
ENV = "EXORELAY_TEST_KEYSTORE_PASSWORD"
FAST_KDF = {"kdf": "pbkdf2", "iterations": 1000}
"""Cheap KDF for tests (the default scrypt parameters take ~1 s per decrypt)."""


@pytest.fixture
def keystore(tmp_path: Path) -> Path:
    path = tmp_path / "keys" / "relayer.json"
    write_keystore(path, KEY, PASSWORD, kdf="pbkdf2", iterations=1000)
    return path


def config(path: Path | None, **kwargs: object) -> L1Config:
    return L1Config(keystore_path=path, keystore_password_env=ENV, **kwargs)  # type: ignore[arg-type]


def test_round_trip_with_password_from_env(keystore: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, PASSWORD)
    account = load_signer(config(keystore))
    assert account.address == Account.from_key(KEY).address
    assert bytes(account.key) == KEY
    assert stat.S_IMODE(keystore.stat().st_mode) == 0o600
    assert not list(keystore.parent.glob(".*.tmp")), "temporary file left behind"
    assert KEY.hex() not in repr(account) and KEY.hex() not in str(account)


def test_write_returns_address_and_default_scrypt_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "scrypt.json"
    address = write_keystore(path, KEY, PASSWORD, kdf="scrypt", iterations=2**10)
    assert address == Account.from_key(KEY).address
    assert json.loads(path.read_text())["crypto"]["kdf"] == "scrypt"
    monkeypatch.delenv(ENV, raising=False)
    assert load_signer(config(path, keystore_password=PASSWORD)).address == address


def test_password_sources_in_order(keystore: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n")
    monkeypatch.delenv(ENV, raising=False)
    # file beats the inline value; the trailing newline is not part of the password
    cfg = config(keystore, keystore_password_file=password_file, keystore_password="wrong")
    assert resolve_password(cfg) == PASSWORD
    assert load_signer(cfg).address == Account.from_key(KEY).address
    # environment beats the file
    monkeypatch.setenv(ENV, "from-env")
    assert resolve_password(cfg) == "from-env"


def test_wrong_password_is_a_config_error_without_the_password(
    keystore: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(ENV, "hunter2-wrong")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(KeystoreError, match="wrong password") as info:
        load_signer(config(keystore))
    assert isinstance(info.value, ConfigError)
    text = str(info.value) + repr(info.value) + caplog.text
    assert "hunter2-wrong" not in text and KEY.hex() not in text
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_missing_file_no_password_and_garbage(
    tmp_path: Path, keystore: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV, raising=False)
    with pytest.raises(KeystoreError, match="does not exist"):
        load_signer(config(tmp_path / "nope.json", keystore_password=PASSWORD))
    with pytest.raises(KeystoreError, match="keystore_path is not set"):
        load_signer(config(None))
    with pytest.raises(KeystoreError, match="no keystore password"):
        load_signer(config(keystore))
    with pytest.raises(KeystoreError, match="keystore_password_file"):
        load_signer(config(keystore, keystore_password_file=tmp_path / "absent"))
    garbage = tmp_path / "garbage.json"
    garbage.write_text("not json")
    with pytest.raises(KeystoreError, match="not JSON"):
        load_signer(config(garbage, keystore_password=PASSWORD))
    garbage.write_text(json.dumps({"address": "00"}))
    with pytest.raises(KeystoreError, match="V3"):
        load_signer(config(garbage, keystore_password=PASSWORD))


def test_keystore_declaring_another_address_is_refused(
    keystore: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = json.loads(keystore.read_text())
    data["address"] = "11" * 20
    keystore.write_text(json.dumps(data))
    monkeypatch.setenv(ENV, PASSWORD)
    with pytest.raises(KeystoreError, match="another address"):
        load_signer(config(keystore))


def test_refuses_empty_password_and_bad_key(tmp_path: Path) -> None:
    with pytest.raises(KeystoreError, match="empty password"):
        write_keystore(tmp_path / "k.json", KEY, "")
    with pytest.raises(KeystoreError, match="private key"):
        write_keystore(tmp_path / "k.json", b"\x00" * 32, PASSWORD, **FAST_KDF)  # type: ignore[arg-type]
    assert not (tmp_path / "k.json").exists()
