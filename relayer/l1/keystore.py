"""The relayer's L1 signing key, from an encrypted JSON keystore (Web3 Secret Storage, as geth writes).

The password comes from, in order: the environment variable named by ``l1.keystore_password_env``,
the file ``l1.keystore_password_file`` (one line; the trailing newline is ignored), or
``l1.keystore_password`` (discouraged; ``exorelay config validate`` warns). Errors are
:class:`~relayer.l1.errors.KeystoreError` (a ``ConfigError``) and never quote the password or key;
the returned ``LocalAccount``'s repr shows neither.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any, Final, Literal

from eth_account import Account
from eth_account.signers.local import LocalAccount

from relayer.config import L1Config
from relayer.l1.errors import KeystoreError

KEYSTORE_FILE_MODE: Final = 0o600
"""Owner read/write only: the keystore is encrypted, but offline guessing should still need access."""

MAX_KEYSTORE_BYTES: Final = 64 * 1024
"""A V3 keystore is ~0.5 KB; anything far larger is not one (refuse before parsing it)."""


def resolve_password(config: L1Config) -> str:
    """The keystore password from env / file / config, in that order."""
    from_env = os.environ.get(config.keystore_password_env)
    if from_env:
        return from_env
    if config.keystore_password_file is not None:
        path = config.keystore_password_file
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise KeystoreError(f"cannot read l1.keystore_password_file {path}: {exc.strerror}") from None
        password = text.rstrip("\r\n")
        if not password:
            raise KeystoreError(f"l1.keystore_password_file {path} is empty")
        return password
    if config.keystore_password:
        return config.keystore_password
    raise KeystoreError(
        f"no keystore password: set the environment variable {config.keystore_password_env}, "
        "l1.keystore_password_file or l1.keystore_password"
    )


def _read_keystore(path: Path) -> dict[str, Any]:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise KeystoreError(f"keystore {path} does not exist") from None
    except OSError as exc:
        raise KeystoreError(f"cannot access keystore {path}: {exc.strerror}") from None
    if size > MAX_KEYSTORE_BYTES:
        raise KeystoreError(f"keystore {path} is {size} bytes: not a JSON keystore")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise KeystoreError(f"cannot read keystore {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise KeystoreError(f"keystore {path} is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("crypto", data.get("Crypto")), dict):
        raise KeystoreError(f"keystore {path} is not a Web3 Secret Storage (V3) keystore")
    return data


def load_signer(config: L1Config) -> LocalAccount:
    """Decrypt ``l1.keystore_path`` with the configured password."""
    if config.keystore_path is None:
        raise KeystoreError("l1.keystore_path is not set")
    keystore = _read_keystore(config.keystore_path)
    password = resolve_password(config)
    try:
        key = Account.decrypt(keystore, password)
    except ValueError:
        # eth_account says "MAC mismatch" for a wrong password; never echo what was tried.
        raise KeystoreError(f"cannot decrypt keystore {config.keystore_path}: wrong password") from None
    except (KeyError, TypeError, NotImplementedError):
        raise KeystoreError(
            f"keystore {config.keystore_path} is malformed or uses an unknown cipher"
        ) from None
    account: LocalAccount = Account.from_key(key)
    declared = keystore.get("address")
    if isinstance(declared, str) and declared.lower().removeprefix("0x") != account.address[2:].lower():
        raise KeystoreError(f"keystore {config.keystore_path} decrypts to another address than it declares")
    return account


def write_keystore(
    path: Path,
    private_key: bytes,
    password: str,
    *,
    kdf: Literal["scrypt", "pbkdf2"] = "scrypt",
    iterations: int | None = None,
) -> str:
    """Encrypt ``private_key`` into a V3 keystore at ``path`` (mode 0600, written atomically); returns
    the checksummed address. For dev/demo setups; ``iterations`` lowers the KDF cost (tests)."""
    if not password:
        raise KeystoreError("refusing to write a keystore with an empty password")
    try:
        account: LocalAccount = Account.from_key(private_key)
    except (ValueError, TypeError):
        raise KeystoreError("not a valid secp256k1 private key") from None
    encrypted = Account.encrypt(private_key, password, kdf=kdf, iterations=iterations)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEYSTORE_FILE_MODE)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(encrypted, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, KEYSTORE_FILE_MODE)  # O_CREAT's mode is filtered by the umask
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return str(account.address)
