"""Operator keys: an EIP-2335 keystore unlocked with a password from an environment variable or a
file; wrong or missing passwords and altered files stop the start with a typed error."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from avs.operator.errors import OperatorKeyError
from avs.operator.keys import PasswordSource, load_keystore
from relayer.protocol import bls
from relayer.protocol.keystore import Keystore, Pbkdf2Cost, ScryptCost

PASSWORD = "correct horse \u00e9 battery"  # non-ASCII: EIP-2335 normalises it (NFKD) before use
SECRET = bls.secret_key_from_seed(b"operator-keys-test".ljust(32, b"\0"))
ENV = "TEST_OPERATOR_KEYSTORE_PASSWORD"


def write_keystore(path: Path, cost: ScryptCost | Pbkdf2Cost) -> Path:
    keystore = Keystore.encrypt(
        SECRET, PASSWORD, salt=bytes(range(32)), iv=bytes(range(16)), uuid=uuid.UUID(int=7), cost=cost
    )
    path.write_text(keystore.dumps())
    return path


@pytest.mark.parametrize(
    "cost", [ScryptCost(n=2**10, r=8, p=1), Pbkdf2Cost(c=2**10)], ids=["scrypt", "pbkdf2"]
)
def test_password_from_the_environment(tmp_path: Path, cost: ScryptCost | Pbkdf2Cost) -> None:
    path = write_keystore(tmp_path / "k.json", cost)
    key = load_keystore(path, PasswordSource(ENV), {ENV: PASSWORD})
    assert key.public_key == bls.public_key_of(SECRET)
    digest = bytes(range(32))
    assert bls.verify(key.public_key, digest, key.sign(digest))


def test_password_from_a_file_wins_over_the_environment_and_loses_its_newline(tmp_path: Path) -> None:
    path = write_keystore(tmp_path / "k.json", Pbkdf2Cost(c=2**10))
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n")
    key = load_keystore(path, PasswordSource(ENV, password_file), {ENV: "not the password"})
    assert key.pubkey_bytes == bls.public_key_of(SECRET).compressed


def test_wrong_missing_password_and_bad_files_are_typed_errors(tmp_path: Path) -> None:
    path = write_keystore(tmp_path / "k.json", Pbkdf2Cost(c=2**10))
    with pytest.raises(OperatorKeyError, match="KeystorePasswordError") as wrong:
        load_keystore(path, PasswordSource(ENV), {ENV: "hunter2-not-it"})
    assert "hunter2" not in str(wrong.value)  # the error never echoes the password
    with pytest.raises(OperatorKeyError, match=f"set {ENV}"):
        load_keystore(path, PasswordSource(ENV), {})
    with pytest.raises(OperatorKeyError, match="cannot read keystore password file"):
        load_keystore(path, PasswordSource(ENV, tmp_path / "absent"), {})
    with pytest.raises(OperatorKeyError, match="cannot read keystore"):
        load_keystore(tmp_path / "absent.json", PasswordSource(ENV), {ENV: PASSWORD})
    document = json.loads(path.read_text())
    document["crypto"]["cipher"]["params"]["iv"] = "00" * 16  # not covered by the checksum
    altered = tmp_path / "altered.json"
    altered.write_text(json.dumps(document))
    with pytest.raises(OperatorKeyError, match="KeystoreKeyMismatchError"):
        load_keystore(altered, PasswordSource(ENV), {ENV: PASSWORD})
