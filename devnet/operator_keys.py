"""Operators' per-AVS BLS keys as EIP-2335 keystore files, so ``exorelay operator`` can sign with the
very key a devnet operator opted in with.

Layout under a devnet's home (``.exorelay/operator-keys/`` by default)::

    <operator exo1…>/<avs 0x…>.keystore.json   EIP-2335 v4 keystore of the operator's key for the AVS
    <operator exo1…>/<avs 0x…>.password        its password (one line)
    index.json                                 [{"operator", "avs", "pubkey", "keystore", "password_file"}]

:func:`operator_keystore` is what the scenario client calls when an operator opts in: a keystore
already at the path (one the operator brought) is decrypted and its key is the one registered; else
the seed-derived dev key is written there with a fresh random password. Development keys for local
chains only: the KDF cost is lowered (:data:`DEV_KEYSTORE_COST`) so a scenario with dozens of
operators does not spend minutes in scrypt.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from relayer.protocol import bls
from relayer.protocol.keystore import Keystore, ScryptCost

OPERATOR_KEYS_DIR: Final = "operator-keys"
INDEX_NAME: Final = "index.json"
DEV_KEYSTORE_COST: Final = ScryptCost(n=2**12, r=8, p=1)
"""4 MiB, ~40 ms per key written or read here (the EIP's n=2^18: 256 MiB and ~0.5 s): a development
keystore; the scenarios of the pipeline and e2e tests opt in dozens of (operator, AVS) keys."""
PASSWORD_BYTES: Final = 16


@dataclass(frozen=True, slots=True)
class OperatorKeystore:
    operator: str
    avs: str
    keystore: Path
    password_file: Path
    secret: bls.SecretKey

    @property
    def pubkey(self) -> bytes:
        return bls.public_key_of(self.secret).compressed


def keystore_paths(directory: Path, operator: str, avs_hex: str) -> tuple[Path, Path]:
    folder = directory / operator
    return folder / f"{avs_hex.lower()}.keystore.json", folder / f"{avs_hex.lower()}.password"


def operator_keystore(
    directory: Path, operator: str, avs_hex: str, dev_secret: bls.SecretKey
) -> OperatorKeystore:
    """The key ``operator`` uses for ``avs_hex``: the keystore's if one is there, else ``dev_secret``
    written as a new keystore (files mode 0600), indexed in ``index.json``."""
    keystore_path, password_path = keystore_paths(directory, operator, avs_hex)
    if keystore_path.exists():
        password = password_path.read_text(encoding="utf-8").removesuffix("\n")
        secret = Keystore.loads(keystore_path.read_text(encoding="utf-8")).decrypt(password)
    else:
        secret = dev_secret
        password = secrets.token_hex(PASSWORD_BYTES)
        keystore = Keystore.encrypt(
            secret,
            password,
            salt=os.urandom(32),
            iv=os.urandom(16),
            uuid=uuid.uuid4(),
            cost=DEV_KEYSTORE_COST,
            description=f"exorelay devnet: {operator} for AVS {avs_hex.lower()}",
        )
        _write_private(password_path, password + "\n")
        _write_private(keystore_path, keystore.dumps() + "\n")
    entry = OperatorKeystore(operator, avs_hex.lower(), keystore_path, password_path, secret)
    _index(directory, entry)
    return entry


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


def read_index(directory: Path) -> list[dict[str, Any]]:
    path = directory / INDEX_NAME
    if not path.exists():
        return []
    entries: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return entries


def _index(directory: Path, entry: OperatorKeystore) -> None:
    entries = [e for e in read_index(directory) if (e["operator"], e["avs"]) != (entry.operator, entry.avs)]
    entries.append(
        {
            "operator": entry.operator,
            "avs": entry.avs,
            "pubkey": "0x" + entry.pubkey.hex(),
            "keystore": str(entry.keystore),
            "password_file": str(entry.password_file),
        }
    )
    entries.sort(key=lambda e: (e["operator"], e["avs"]))
    _write_private(directory / INDEX_NAME, json.dumps(entries, indent=2) + "\n")
